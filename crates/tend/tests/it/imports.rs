use crate::harness::*;
use axum::http::{Method, StatusCode};
use serde_json::json;

fn line(ext: &str, subject: &str) -> String {
    json!({
        "external_id": ext, "subject": subject, "status": "closed", "channel": "email",
        "requester": {"email": "imp@example.com", "name": "Imp Orter", "language": "de"},
        "organization": "Importers AG", "group": "Legacy", "tags": ["migrated"],
        "created_at": "2025-12-01T08:00:00Z",
        "messages": [
            {"author": "imp@example.com", "body": "Hallo, wo ist mein Paket?", "created_at": "2025-12-01T08:00:00Z"},
            {"author": "old.agent@shop.test", "author_is_agent": true, "body": "Ist unterwegs.", "created_at": "2025-12-01T10:00:00Z"}
        ],
        "history": [
            {"at": "2025-12-01T09:00:00Z", "by": "old.agent@shop.test", "status": "open", "assignee": "old.agent@shop.test"},
            {"at": "2025-12-01T10:00:00Z", "by": "old.agent@shop.test", "status": "solved"}
        ]
    })
    .to_string()
}

#[tokio::test]
async fn import_keeps_history_and_is_idempotent() {
    let app = TestApp::spawn().await;
    let body = format!("{}\n\n{}\n", line("zd-1", "Paket"), line("zd-2", "Paket 2"));
    let tok = app.admin_token().to_string();
    let r = app
        .raw(
            Method::POST,
            "/api/v1/imports",
            Some(&tok),
            Some("application/x-ndjson"),
            body.clone().into_bytes(),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(r.body, json!({"created": 2, "skipped": 0}));
    let again = app
        .raw(
            Method::POST,
            "/api/v1/imports",
            Some(&tok),
            Some("application/x-ndjson"),
            body.into_bytes(),
            &[],
        )
        .await;
    assert_eq!(again.body, json!({"created": 0, "skipped": 2}));

    let list = app.get("/api/v1/tickets?sort=id").await;
    let t = &list.body["items"][0];
    assert_eq!(t["external_id"], "zd-1");
    assert_eq!(t["status"], "closed");
    assert_eq!(t["created_at"], "2025-12-01T08:00:00Z");
    assert_eq!(t["solved_at"], "2025-12-01T10:00:00Z");
    let ev = app
        .get(&format!("/api/v1/tickets/{}/events", t["id"]))
        .await;
    let kinds: Vec<(&str, &str)> = ev.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["kind"].as_str().unwrap(), e["at"].as_str().unwrap()))
        .collect();
    assert_eq!(
        kinds,
        vec![
            ("ticket.created", "2025-12-01T08:00:00Z"),
            ("ticket.message_added", "2025-12-01T08:00:00Z"),
            ("ticket.status_changed", "2025-12-01T09:00:00Z"),
            ("ticket.assignee_changed", "2025-12-01T09:00:00Z"),
            ("ticket.message_added", "2025-12-01T10:00:00Z"),
            ("ticket.status_changed", "2025-12-01T10:00:00Z"),
            ("ticket.status_changed", "2025-12-01T10:00:00Z"),
        ]
    );
    let agent = app
        .get(&format!(
            "/api/v1/agents/{}",
            ev.body["items"][2]["actor"]["id"]
        ))
        .await;
    assert_eq!(agent.body["email"], "old.agent@shop.test");
    assert_eq!(
        agent.body["active"], false,
        "imported agents cannot sign in until activated"
    );
    let cust = app
        .get(&format!("/api/v1/customers/{}", t["requester_id"]))
        .await;
    assert_eq!(cust.body["language"], "de");
    assert!(cust.body["organization_id"].is_i64());
}

#[tokio::test]
async fn a_bad_line_rejects_the_import_with_line_and_field() {
    let app = TestApp::spawn().await;
    let body = format!(
        "{}\n{}\n{}\n",
        line("a", "ok"),
        line("b", "ok").replace("\"closed\"", "\"finished\""),
        "{\"external_id\": 1}"
    );
    let tok = app.admin_token().to_string();
    let r = app
        .raw(
            Method::POST,
            "/api/v1/imports",
            Some(&tok),
            Some("application/x-ndjson"),
            body.into_bytes(),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{r:?}");
    assert_eq!(r.body["errors"][0]["line"], 2);
    assert!(
        r.body["detail"].as_str().unwrap().starts_with("line 2:"),
        "{}",
        r.body["detail"]
    );
    assert_eq!(r.body["errors"][1]["line"], 3);
    assert_eq!(
        app.get("/api/v1/tickets").await.body["items"],
        json!([]),
        "nothing imported"
    );
    let wrong = app
        .raw(
            Method::POST,
            "/api/v1/imports",
            Some(&tok),
            Some("application/json"),
            b"{}".to_vec(),
            &[],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

#[tokio::test]
async fn generated_data_imports_completely() {
    let app = TestApp::spawn().await;
    let g = tend_datagen::Generator::new(tend_datagen::Spec::new(300, t0()));
    let recs: Vec<_> = (0..300)
        .map(|i| tend_core::import::ImportRecord::parse_line(&g.record(i).to_string()).unwrap())
        .collect();
    let o = app.store.import(recs, t0()).await.unwrap();
    assert_eq!(o.created, 300);
    let stats = app.store.stats().await.unwrap();
    assert_eq!(stats.tickets, 300);
    let open = app
        .get("/api/v1/tickets?status=new,open,pending,on_hold&limit=100")
        .await;
    assert!(!open.body["items"].as_array().unwrap().is_empty());
}
