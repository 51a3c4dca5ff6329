use crate::harness::*;
use axum::http::{Method, StatusCode};
use serde_json::json;
use tend_core::Role;

#[tokio::test]
async fn create_get_update_list_and_timeline_round_trip() {
    let app = TestApp::spawn().await;
    let g = app.group("Billing").await;
    let t = app
        .ticket(json!({
            "subject": "Charged twice",
            "priority": "high",
            "channel": "email",
            "group_id": g,
            "tags": ["Payment", "vip"],
            "requester": {"email": "Ana@Example.com", "name": "Ana Lima"},
            "comment": {"body": "My card was charged twice.\nPlease help."}
        }))
        .await;
    let id = t["id"].as_i64().unwrap();
    assert_eq!(t["status"], "new");
    assert_eq!(t["tags"], json!(["payment", "vip"]));
    assert_eq!(t["group_id"], g);

    app.clock.advance(chrono::Duration::minutes(30));
    let up = app.patch(&format!("/api/v1/tickets/{id}"), json!({"status": "open", "assignee_id": app.admin.0, "add_tags": ["refund"], "remove_tags": ["vip"]})).await;
    assert_eq!(up.status, StatusCode::OK, "{up:?}");
    assert_eq!(up.body["status"], "open");
    assert_eq!(up.body["tags"], json!(["payment", "refund"]));
    assert_eq!(up.body["updated_at"], "2026-03-02T09:30:00Z");

    let reply = app
        .post(
            &format!("/api/v1/tickets/{id}/messages"),
            json!({"body": "Refund issued.", "public": true}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
    let note = app
        .post(
            &format!("/api/v1/tickets/{id}/messages"),
            json!({"html": "<p>checked <script>x()</script>ledger</p>", "public": false}),
        )
        .await;
    assert_eq!(note.status, StatusCode::CREATED);
    assert!(!note.body["body_html"].as_str().unwrap().contains("script"));
    assert_eq!(note.body["body_text"], "checked ledger");

    let got = app.get(&format!("/api/v1/tickets/{id}")).await;
    assert_eq!(got.body["assignee_id"], app.admin.0);

    let ev = app.get(&format!("/api/v1/tickets/{id}/events")).await;
    let kinds: Vec<&str> = ev.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "ticket.created",
            "ticket.message_added",
            "ticket.status_changed",
            "ticket.assignee_changed",
            "ticket.tags_changed",
            "ticket.message_added",
            "ticket.message_added"
        ]
    );
    let seqs: Vec<i64> = ev.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["seq"].as_i64().unwrap())
        .collect();
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "sequence grows: {seqs:?}"
    );
    // The first message was written by the requester, the changes by the admin.
    assert_eq!(ev.body["items"][1]["actor"]["kind"], "customer");
    assert_eq!(
        ev.body["items"][2]["actor"],
        json!({"kind": "agent", "id": app.admin.0})
    );

    let msgs = app.get(&format!("/api/v1/tickets/{id}/messages")).await;
    assert_eq!(msgs.body["items"].as_array().unwrap().len(), 3);
    assert_eq!(
        msgs.body["items"][0]["body_html"],
        "My card was charged twice.<br>Please help."
    );

    let list = app
        .get(&format!(
            "/api/v1/tickets?status=open&group_id={g}&tag=refund"
        ))
        .await;
    assert_eq!(list.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(list.body["items"][0]["id"], id);
    let none = app.get("/api/v1/tickets?status=closed").await;
    assert_eq!(none.body["items"], json!([]));

    // An update that changes nothing writes no event.
    let same = app
        .patch(&format!("/api/v1/tickets/{id}"), json!({"status": "open"}))
        .await;
    assert_eq!(same.body["last_seq"], got.body["last_seq"]);

    // The requester was created from the e-mail, domain lower-cased.
    let cust = app.get("/api/v1/customers?email=ana@example.com").await;
    assert_eq!(cust.body["items"][0]["name"], "Ana Lima");
    assert_eq!(cust.body["items"][0]["id"], t["requester_id"]);
}

#[tokio::test]
async fn restart_keeps_everything() {
    let app = TestApp::spawn().await;
    let t = app.ticket(json!({"subject": "Survives", "requester": {"email": "r@example.com"}, "comment": {"body": "x"}})).await;
    let id = t["id"].as_i64().unwrap();
    app.patch(
        &format!("/api/v1/tickets/{id}"),
        json!({"status": "pending"}),
    )
    .await;
    let app = app.restart().await;
    let got = app.get(&format!("/api/v1/tickets/{id}")).await;
    assert_eq!(got.status, StatusCode::OK);
    assert_eq!(got.body["status"], "pending");
    let ev = app.get(&format!("/api/v1/tickets/{id}/events")).await;
    assert_eq!(ev.body["items"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn agents_see_only_their_groups_tickets() {
    let app = TestApp::spawn().await;
    let billing = app.group("Billing").await;
    let shipping = app.group("Shipping").await;
    let (lena, lena_token) = app.agent("lena@shop.test", Role::Agent, &[shipping]).await;
    let (_, sup_token) = app.agent("sam@shop.test", Role::Supervisor, &[]).await;
    let secret = app.ticket(json!({"subject": "Billing only", "group_id": billing, "requester": {"email": "c@example.com"}})).await;
    let sid = secret["id"].as_i64().unwrap();
    let mine = app.ticket(json!({"subject": "Shipping", "group_id": shipping, "requester": {"email": "c@example.com"}})).await;

    // Outside the group: 404 everywhere, as if it did not exist.
    for path in [
        format!("/api/v1/tickets/{sid}"),
        format!("/api/v1/tickets/{sid}/events"),
        format!("/api/v1/tickets/{sid}/messages"),
    ] {
        let r = app.call(Method::GET, &path, &lena_token, None).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}");
    }
    let r = app
        .call(
            Method::PATCH,
            &format!("/api/v1/tickets/{sid}"),
            &lena_token,
            Some(json!({"status": "solved"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = app
        .call(
            Method::POST,
            &format!("/api/v1/tickets/{sid}/messages"),
            &lena_token,
            Some(json!({"body": "hi"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let list = app
        .call(Method::GET, "/api/v1/tickets", &lena_token, None)
        .await;
    let ids: Vec<i64> = list.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, vec![mine["id"].as_i64().unwrap()]);
    let tl = app
        .call(
            Method::GET,
            &format!("/api/v1/customers/{}/timeline", secret["requester_id"]),
            &lena_token,
            None,
        )
        .await;
    assert!(
        tl.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["ticket_id"] != sid),
        "timeline leaks: {}",
        tl.body
    );

    // Assigned to her: visible.
    app.patch(
        &format!("/api/v1/tickets/{sid}"),
        json!({"assignee_id": lena}),
    )
    .await;
    assert_eq!(
        app.call(
            Method::GET,
            &format!("/api/v1/tickets/{sid}"),
            &lena_token,
            None
        )
        .await
        .status,
        StatusCode::OK
    );
    // Supervisors see everything.
    assert_eq!(
        app.call(
            Method::GET,
            &format!("/api/v1/tickets/{}", mine["id"]),
            &sup_token,
            None
        )
        .await
        .status,
        StatusCode::OK
    );
    // Agents may not file into foreign groups.
    let r = app.call(Method::POST, "/api/v1/tickets", &lena_token, Some(json!({"subject": "x", "group_id": billing, "requester": {"email": "c@example.com"}}))).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn no_or_bad_token_is_401() {
    let app = TestApp::spawn().await;
    let r = app
        .raw(Method::GET, "/api/v1/tickets", None, None, vec![], &[])
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = app
        .raw(
            Method::GET,
            "/api/v1/tickets",
            Some("tend_not-a-real-token"),
            None,
            vec![],
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = app
        .raw(
            Method::GET,
            "/api/v1/tickets",
            None,
            None,
            vec![],
            &[("authorization", "Basic YTpi")],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    // A deactivated agent's token stops working.
    let (id, token) = app.agent("gone@shop.test", Role::Agent, &[]).await;
    assert_eq!(
        app.call(Method::GET, "/api/v1/me", &token, None)
            .await
            .status,
        StatusCode::OK
    );
    app.patch(&format!("/api/v1/agents/{id}"), json!({"active": false}))
        .await;
    assert_eq!(
        app.call(Method::GET, "/api/v1/me", &token, None)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn idempotency_key_returns_the_same_ticket() {
    let app = TestApp::spawn().await;
    let body =
        serde_json::to_vec(&json!({"subject": "Once", "requester": {"email": "i@example.com"}}))
            .unwrap();
    let tok = app.admin_token().to_string();
    let a = app
        .raw(
            Method::POST,
            "/api/v1/tickets",
            Some(&tok),
            Some("application/json"),
            body.clone(),
            &[("idempotency-key", "k-1")],
        )
        .await;
    let b = app
        .raw(
            Method::POST,
            "/api/v1/tickets",
            Some(&tok),
            Some("application/json"),
            body.clone(),
            &[("idempotency-key", "k-1")],
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED);
    assert_eq!(b.status, StatusCode::OK);
    assert_eq!(b.headers.get("idempotent-replayed").unwrap(), "true");
    assert_eq!(a.body["id"], b.body["id"]);
    let c = app
        .raw(
            Method::POST,
            "/api/v1/tickets",
            Some(&tok),
            Some("application/json"),
            body,
            &[("idempotency-key", "k-2")],
        )
        .await;
    assert_ne!(c.body["id"], a.body["id"]);
    let all = app.get("/api/v1/tickets").await;
    assert_eq!(all.body["items"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn keyset_pagination_walks_every_ticket_once_in_order() {
    let app = TestApp::spawn().await;
    let statuses = ["new", "open", "pending", "open", "new", "solved", "open"];
    let mut ids = Vec::new();
    for (i, st) in statuses.iter().cycle().take(23).enumerate() {
        app.clock
            .advance(chrono::Duration::minutes(1 + (i as i64 % 3)));
        let t = app.ticket(json!({"subject": format!("T{i}"), "status": st, "requester": {"email": "p@example.com"}})).await;
        ids.push((t["id"].as_i64().unwrap(), *st));
    }
    for (query, want_status) in [
        ("status=open,new,pending", vec!["open", "new", "pending"]),
        ("", vec!["new", "open", "pending", "solved"]),
    ] {
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut path = format!("/api/v1/tickets?limit=4&{query}");
            if let Some(c) = &cursor {
                path.push_str(&format!("&cursor={c}"));
            }
            let r = app.get(&path).await;
            assert_eq!(r.status, StatusCode::OK, "{r:?}");
            for t in r.body["items"].as_array().unwrap() {
                seen.push((
                    t["id"].as_i64().unwrap(),
                    t["updated_at"].as_str().unwrap().to_string(),
                ));
            }
            match r.body["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_string()),
                None => break,
            }
        }
        let expected: Vec<i64> = ids
            .iter()
            .rev()
            .filter(|(_, s)| want_status.contains(s))
            .map(|(id, _)| *id)
            .collect();
        let got: Vec<i64> = seen.iter().map(|(id, _)| *id).collect();
        assert_eq!(got, expected, "query {query}");
    }
    // Ascending by id.
    let r = app.get("/api/v1/tickets?sort=id&limit=3").await;
    let got: Vec<i64> = r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_i64().unwrap())
        .collect();
    assert_eq!(got, ids.iter().take(3).map(|x| x.0).collect::<Vec<_>>());
}

#[tokio::test]
async fn attachments_are_stored_once_and_guarded() {
    let app = TestApp::spawn().await;
    let g = app.group("Returns").await;
    let data = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        b"%PDF-1.4 receipt",
    );
    let t = app
        .ticket(json!({"subject": "Receipt", "group_id": g, "requester": {"email": "a@example.com"}, "comment": {"body": "see file", "attachments": [{"filename": "receipt.pdf", "content_type": "application/pdf", "data_base64": data}]}}))
        .await;
    let msgs = app
        .get(&format!("/api/v1/tickets/{}/messages", t["id"]))
        .await;
    let att = &msgs.body["items"][0]["attachments"][0];
    assert_eq!(att["size"], 16);
    let dl = app.get(&format!("/api/v1/attachments/{}", att["id"])).await;
    assert_eq!(dl.status, StatusCode::OK);
    assert_eq!(dl.raw, b"%PDF-1.4 receipt");
    assert_eq!(
        dl.headers.get("content-disposition").unwrap(),
        "attachment; filename=\"receipt.pdf\""
    );
    let (_, outsider) = app.agent("o@shop.test", Role::Agent, &[]).await;
    let r = app
        .call(
            Method::GET,
            &format!("/api/v1/attachments/{}", att["id"]),
            &outsider,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn custom_fields_are_typed() {
    let app = TestApp::spawn().await;
    assert_eq!(
        app.post(
            "/api/v1/field-definitions",
            json!({"key": "order_no", "label": "Order", "type": "integer"})
        )
        .await
        .status,
        StatusCode::CREATED
    );
    assert_eq!(app.post("/api/v1/field-definitions", json!({"key": "reason", "label": "Reason", "type": "dropdown", "options": ["damaged", "late"]})).await.status, StatusCode::CREATED);
    assert_eq!(
        app.post(
            "/api/v1/field-definitions",
            json!({"key": "order_no", "label": "Again", "type": "text"})
        )
        .await
        .status,
        StatusCode::CONFLICT
    );
    let ok = app.ticket(json!({"subject": "F", "requester": {"email": "f@example.com"}, "fields": {"order_no": 123, "reason": "late"}})).await;
    assert_eq!(ok["fields"]["order_no"], 123);
    for (fields, field) in [
        (json!({"order_no": "123"}), "fields.order_no"),
        (json!({"reason": "lost"}), "fields.reason"),
        (json!({"nope": 1}), "fields.nope"),
    ] {
        let r = app
            .post(
                "/api/v1/tickets",
                json!({"subject": "F", "requester": {"email": "f@example.com"}, "fields": fields}),
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{r:?}");
        assert_eq!(r.body["field"], field);
    }
    let cleared = app
        .patch(
            &format!("/api/v1/tickets/{}", ok["id"]),
            json!({"fields": {"reason": null}}),
        )
        .await;
    assert_eq!(cleared.body["fields"], json!({"order_no": 123}));
}
