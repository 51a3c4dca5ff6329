use crate::harness::*;
use axum::http::{Method, StatusCode};
use serde_json::json;
use tend_core::Role;

fn config() -> serde_json::Value {
    json!({
        "calendar": {"time_zone": "Europe/Berlin", "hours": [
            {"day": "mon", "start": "09:00", "end": "17:00"}, {"day": "tue", "start": "09:00", "end": "17:00"},
            {"day": "wed", "start": "09:00", "end": "17:00"}, {"day": "thu", "start": "09:00", "end": "17:00"},
            {"day": "fri", "start": "09:00", "end": "17:00"}]},
        "policies": [
            {"name": "Urgent", "conditions": {"priority": ["urgent"]}, "targets": [{"metric": "first_reply", "minutes": 30}]},
            {"name": "Standard", "targets": [{"metric": "first_reply", "minutes": 120}, {"metric": "resolution", "minutes": 960}]}
        ]
    })
}

#[tokio::test]
async fn sla_config_is_checked_and_each_ticket_explains_its_clock() {
    let app = TestApp::spawn().await;
    let mut bad = config();
    bad["calendar"]["hours"]
        .as_array_mut()
        .unwrap()
        .push(json!({"day": "mon", "start": "16:00", "end": "18:00"}));
    let r = app
        .call(Method::PUT, "/api/v1/sla", app.admin_token(), Some(bad))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{r:?}");
    assert!(
        r.body["field"]
            .as_str()
            .unwrap()
            .starts_with("calendar.hours"),
        "{r:?}"
    );
    let mut bad = config();
    bad["policies"][1]["targets"][0]["minutes"] = json!(0);
    let r = app
        .call(Method::PUT, "/api/v1/sla", app.admin_token(), Some(bad))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{r:?}");
    assert!(
        r.body["field"].as_str().unwrap().starts_with("policies[1]"),
        "{r:?}"
    );
    let (_, agent) = app.agent("a@shop.test", Role::Agent, &[]).await;
    assert_eq!(
        app.call(Method::PUT, "/api/v1/sla", &agent, Some(config()))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.call(
            Method::PUT,
            "/api/v1/sla",
            app.admin_token(),
            Some(config())
        )
        .await
        .status,
        StatusCode::OK
    );
    assert_eq!(
        app.get("/api/v1/sla").await.body["policies"][0]["name"],
        "Urgent"
    );

    // Monday 2026-03-02 09:00 UTC = 10:00 Berlin. Standard policy: first reply within 2 business hours.
    let t = app.ticket(json!({"subject": "Help", "requester": {"email": "c@example.com"}, "comment": {"body": "hi"}})).await;
    let path = format!("/api/v1/tickets/{}/sla", t["id"]);
    let s = app.get(&path).await.body;
    assert_eq!(s["policy"], "Standard");
    assert_eq!(s["targets"][0]["metric"], "first_reply");
    assert_eq!(s["targets"][0]["state"], "active");
    assert_eq!(s["targets"][0]["due_at"], "2026-03-02T11:00:00Z");
    // An internal note is not a reply; 3 hours later the target is breached.
    app.clock.advance(chrono::Duration::minutes(30));
    app.post(
        &format!("/api/v1/tickets/{}/messages", t["id"]),
        json!({"body": "looking", "public": false}),
    )
    .await;
    app.clock.advance(chrono::Duration::minutes(150));
    app.post(
        &format!("/api/v1/tickets/{}/messages", t["id"]),
        json!({"body": "Here is the answer."}),
    )
    .await;
    let s = app.get(&path).await.body;
    let fr = &s["targets"][0];
    assert_eq!(fr["state"], "breached", "{s}");
    let why = fr["explanation"].as_str().unwrap();
    assert!(
        why.contains("Europe/Berlin") && why.contains("breached by 1 h"),
        "{why}"
    );
    // Raising the priority switches the policy (evaluated from the ticket's start).
    app.patch(
        &format!("/api/v1/tickets/{}", t["id"]),
        json!({"priority": "urgent"}),
    )
    .await;
    assert_eq!(app.get(&path).await.body["policy"], "Urgent");
}
