use crate::harness::*;
use axum::http::StatusCode;
use serde_json::json;

#[tokio::test]
async fn customers_have_many_identities_and_one_timeline() {
    let app = TestApp::spawn().await;
    let org = app
        .post(
            "/api/v1/organizations",
            json!({"name": "Acme GmbH", "domains": ["ACME.example"]}),
        )
        .await;
    assert_eq!(org.status, StatusCode::CREATED, "{org:?}");
    assert_eq!(org.body["domains"], json!(["acme.example"]));
    assert_eq!(
        app.post("/api/v1/organizations", json!({"name": "acme gmbh"}))
            .await
            .status,
        StatusCode::CONFLICT
    );
    let c = app
        .post("/api/v1/customers", json!({"name": "Ana Lima", "emails": ["ana@acme.example", "ana.lima@example.com"], "phones": ["+49 30 123-4567"], "social": ["X:@ana"], "organization_id": org.body["id"], "language": "pt_br", "time_zone": "Europe/Lisbon"}))
        .await;
    assert_eq!(c.status, StatusCode::CREATED, "{c:?}");
    assert_eq!(c.body["language"], "pt-BR");
    assert_eq!(c.body["identities"].as_array().unwrap().len(), 4);
    assert_eq!(
        c.body["identities"][2],
        json!({"kind": "phone", "value": "+49301234567"})
    );
    assert_eq!(
        c.body["identities"][3],
        json!({"kind": "social", "value": "x:@ana"})
    );
    let cid = c.body["id"].as_i64().unwrap();

    let dup = app
        .post(
            "/api/v1/customers",
            json!({"name": "Other", "emails": ["ANA@acme.example"]}),
        )
        .await;
    assert_eq!(dup.status, StatusCode::CONFLICT, "{dup:?}");
    assert!(dup.body["detail"]
        .as_str()
        .unwrap()
        .contains(&format!("customer {cid}")));
    let bad = app
        .post(
            "/api/v1/customers",
            json!({"name": "Z", "time_zone": "Mars/Base"}),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad.body["field"], "time_zone");

    // Tickets by either address, or by id, all land on one customer and one timeline.
    let t1 = app.ticket(json!({"subject": "By mail", "channel": "email", "requester": {"email": "ana.lima@example.com"}, "comment": {"body": "hi"}})).await;
    app.clock.advance(chrono::Duration::hours(1));
    let t2 = app
        .ticket(json!({"subject": "By phone", "channel": "phone", "requester_id": cid}))
        .await;
    assert_eq!(t1["requester_id"], cid);
    assert_eq!(t1["organization_id"], org.body["id"]);
    app.clock.advance(chrono::Duration::hours(1));
    app.patch(
        &format!("/api/v1/tickets/{}", t1["id"]),
        json!({"status": "solved"}),
    )
    .await;
    let tl = app.get(&format!("/api/v1/customers/{cid}/timeline")).await;
    let items = tl.body["items"].as_array().unwrap();
    let pairs: Vec<(i64, &str)> = items
        .iter()
        .map(|e| {
            (
                e["ticket_id"].as_i64().unwrap(),
                e["kind"].as_str().unwrap(),
            )
        })
        .collect();
    let (a, b) = (t1["id"].as_i64().unwrap(), t2["id"].as_i64().unwrap());
    assert_eq!(
        pairs,
        vec![
            (a, "ticket.status_changed"),
            (b, "ticket.created"),
            (a, "ticket.message_added"),
            (a, "ticket.created")
        ]
    );
    let page = app
        .get(&format!("/api/v1/customers/{cid}/timeline?limit=3"))
        .await;
    let next = page.body["next_cursor"].as_str().unwrap();
    let rest = app
        .get(&format!(
            "/api/v1/customers/{cid}/timeline?limit=3&cursor={next}"
        ))
        .await;
    assert_eq!(rest.body["items"].as_array().unwrap().len(), 1);

    let up = app
        .patch(
            &format!("/api/v1/customers/{cid}"),
            json!({"notes": "prefers phone", "language": null, "add_phones": ["+351 21 000 0000"]}),
        )
        .await;
    assert_eq!(up.status, StatusCode::OK, "{up:?}");
    assert_eq!(up.body["language"], json!(null));
    assert_eq!(up.body["identities"].as_array().unwrap().len(), 5);
    let by_phone = app.get("/api/v1/customers?phone=%2B351210000000").await;
    assert_eq!(by_phone.body["items"][0]["id"], cid);
    let in_org = app
        .get(&format!(
            "/api/v1/customers?organization_id={}",
            org.body["id"]
        ))
        .await;
    assert_eq!(in_org.body["items"].as_array().unwrap().len(), 1);
    let orgs = app.get("/api/v1/organizations").await;
    assert_eq!(orgs.body["items"][0]["name"], "Acme GmbH");
}
