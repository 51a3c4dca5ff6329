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

async fn drain(w: &tend_web::worker::Worker) {
    for _ in 0..50 {
        if w.tick().await.unwrap() == 0 {
            return;
        }
    }
    panic!("jobs keep coming");
}

fn kinds(ev: &serde_json::Value) -> Vec<String> {
    ev["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_string())
        .filter(|k| k.starts_with("ticket.sla"))
        .collect()
}

#[tokio::test]
async fn warning_and_breach_fire_on_time_once_also_across_a_restart() {
    let app = TestApp::spawn().await;
    let mut cfg = config();
    cfg["warn_before_minutes"] = json!(30);
    assert_eq!(
        app.call(Method::PUT, "/api/v1/sla", app.admin_token(), Some(cfg))
            .await
            .status,
        StatusCode::OK
    );
    let (lena, _) = app.agent("lena@shop.test", Role::Agent, &[]).await;
    // Mon 10:00 Berlin; first reply due 12:00 Berlin = 11:00 UTC; warning at 10:30 UTC.
    let t = app.ticket(json!({"subject": "Help", "assignee_id": lena, "requester": {"email": "c@example.com"}, "comment": {"body": "hi"}})).await;
    let id = t["id"].as_i64().unwrap();
    let worker =
        tend_web::worker::Worker::new(app.store.clone(), std::sync::Arc::new(app.clock.clone()));
    drain(&worker).await;
    let sla_jobs: Vec<_> = app
        .store
        .list_jobs(tend_store::JobState::Queued, 50)
        .await
        .unwrap()
        .into_iter()
        .filter(|j| j.kind == "sla.check")
        .collect();
    assert_eq!(sla_jobs.len(), 1, "one scheduled check per ticket");
    assert_eq!(
        sla_jobs[0].run_at.to_rfc3339(),
        "2026-03-02T10:30:00+00:00",
        "next check at the warning time"
    );

    app.clock.set(
        chrono::DateTime::parse_from_rfc3339("2026-03-02T10:30:00Z")
            .unwrap()
            .into(),
    );
    drain(&worker).await;
    let ev = app.get(&format!("/api/v1/tickets/{id}/events")).await.body;
    assert_eq!(kinds(&ev), vec!["ticket.sla_warning"]);

    // Restart between warning and breach: a new store and a new worker pick the schedule up.
    let app = app.restart().await;
    let worker =
        tend_web::worker::Worker::new(app.store.clone(), std::sync::Arc::new(app.clock.clone()));
    app.clock.set(
        chrono::DateTime::parse_from_rfc3339("2026-03-02T10:59:59Z")
            .unwrap()
            .into(),
    );
    drain(&worker).await;
    assert_eq!(
        kinds(&app.get(&format!("/api/v1/tickets/{id}/events")).await.body),
        vec!["ticket.sla_warning"],
        "nothing before the due time"
    );
    let next = app
        .store
        .list_jobs(tend_store::JobState::Queued, 50)
        .await
        .unwrap()
        .into_iter()
        .find(|j| j.kind == "sla.check")
        .unwrap();
    let due = chrono::DateTime::parse_from_rfc3339("2026-03-02T11:00:00Z").unwrap();
    assert!(
        next.run_at >= due && next.run_at <= due + chrono::Duration::seconds(5),
        "the check runs within 5 s of the due time: {}",
        next.run_at
    );
    app.clock.set(next.run_at);
    drain(&worker).await;
    let ev = app.get(&format!("/api/v1/tickets/{id}/events")).await.body;
    assert_eq!(
        kinds(&ev),
        vec!["ticket.sla_warning", "ticket.sla_breached"]
    );
    let breach = ev["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "ticket.sla_breached")
        .unwrap()
        .clone();
    assert_eq!(
        breach["change"]["escalated"],
        json!(["priority normal → high", "mailed lena@shop.test"])
    );
    assert_eq!(
        app.get(&format!("/api/v1/tickets/{id}")).await.body["priority"],
        "high"
    );
    // The notification went out through the mail queue (no relay configured here: logged).
    let mails: Vec<_> = app
        .store
        .list_jobs(tend_store::JobState::Done, 50)
        .await
        .unwrap()
        .into_iter()
        .filter(|j| j.kind == "mail.send")
        .collect();
    assert_eq!(mails.len(), 1);
    assert!(mails[0].payload["subject"]
        .as_str()
        .unwrap()
        .starts_with("SLA breached"));

    // Exactly once: later checks and a replayed job record nothing more.
    app.clock.advance(chrono::Duration::hours(3));
    app.store
        .schedule_job(
            &tend_store::sla_job_key(id),
            tend_store::sla_job(id, app.now()),
        )
        .await
        .unwrap();
    drain(&worker).await;
    assert_eq!(
        kinds(&app.get(&format!("/api/v1/tickets/{id}/events")).await.body),
        vec!["ticket.sla_warning", "ticket.sla_breached"]
    );
    // A reply in time for the next ticket is fulfilled and never breached.
    let t2 = app.ticket(json!({"subject": "Quick", "requester": {"email": "d@example.com"}, "comment": {"body": "hi"}})).await;
    app.clock.advance(chrono::Duration::minutes(10));
    app.post(
        &format!("/api/v1/tickets/{}/messages", t2["id"]),
        json!({"body": "Answered."}),
    )
    .await;
    app.clock.advance(chrono::Duration::hours(5));
    drain(&worker).await;
    assert!(kinds(
        &app.get(&format!("/api/v1/tickets/{}/events", t2["id"]))
            .await
            .body
    )
    .iter()
    .all(|k| k != "ticket.sla_breached"));
}
