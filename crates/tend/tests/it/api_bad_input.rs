use crate::harness::*;
use axum::http::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn bad_input_gets_the_right_4xx_and_says_what_to_fix() {
    let app = TestApp::spawn().await;
    let tok = app.admin_token().to_string();
    type Case<'a> = (&'a str, Option<&'a str>, Vec<u8>, StatusCode, &'a str);
    let cases: Vec<Case> = vec![
        ("malformed JSON", Some("application/json"), b"{\"subject\": ".to_vec(), StatusCode::BAD_REQUEST, "malformed JSON"),
        ("not JSON at all", Some("application/json"), b"hello".to_vec(), StatusCode::BAD_REQUEST, "malformed JSON"),
        ("wrong content type", Some("text/plain"), b"{}".to_vec(), StatusCode::UNSUPPORTED_MEDIA_TYPE, "Content-Type: application/json"),
        ("no content type", None, b"{}".to_vec(), StatusCode::UNSUPPORTED_MEDIA_TYPE, "application/json"),
        ("unknown field", Some("application/json"), br#"{"subject":"x","requester":{"email":"a@example.com"},"colour":"red"}"#.to_vec(), StatusCode::UNPROCESSABLE_ENTITY, "unknown field `colour`"),
        ("wrong type", Some("application/json"), br#"{"subject":42,"requester":{"email":"a@example.com"}}"#.to_vec(), StatusCode::UNPROCESSABLE_ENTITY, "subject"),
        ("missing field", Some("application/json"), br#"{"requester":{"email":"a@example.com"}}"#.to_vec(), StatusCode::UNPROCESSABLE_ENTITY, "missing field `subject`"),
        ("bad enum", Some("application/json"), br#"{"subject":"x","status":"done","requester":{"email":"a@example.com"}}"#.to_vec(), StatusCode::UNPROCESSABLE_ENTITY, "status"),
        ("invalid email", Some("application/json"), br#"{"subject":"x","requester":{"email":"not-an-email"}}"#.to_vec(), StatusCode::UNPROCESSABLE_ENTITY, "requester.email"),
        ("empty subject", Some("application/json"), br#"{"subject":"   ","requester":{"email":"a@example.com"}}"#.to_vec(), StatusCode::UNPROCESSABLE_ENTITY, "subject: must not be empty"),
        ("over-long subject", Some("application/json"), format!(r#"{{"subject":"{}","requester":{{"email":"a@example.com"}}}}"#, "x".repeat(501)).into_bytes(), StatusCode::UNPROCESSABLE_ENTITY, "longer than 500"),
        ("no requester", Some("application/json"), br#"{"subject":"x"}"#.to_vec(), StatusCode::UNPROCESSABLE_ENTITY, "requester"),
        ("unknown group", Some("application/json"), br#"{"subject":"x","group_id":999,"requester":{"email":"a@example.com"}}"#.to_vec(), StatusCode::UNPROCESSABLE_ENTITY, "no group 999"),
        ("unknown assignee", Some("application/json"), br#"{"subject":"x","assignee_id":999,"requester":{"email":"a@example.com"}}"#.to_vec(), StatusCode::UNPROCESSABLE_ENTITY, "no active agent 999"),
        ("unknown requester", Some("application/json"), br#"{"subject":"x","requester_id":999}"#.to_vec(), StatusCode::UNPROCESSABLE_ENTITY, "no customer 999"),
        ("bad tag", Some("application/json"), br#"{"subject":"x","tags":["a b"],"requester":{"email":"a@example.com"}}"#.to_vec(), StatusCode::UNPROCESSABLE_ENTITY, "tag"),
        ("bad base64", Some("application/json"), br#"{"subject":"x","requester":{"email":"a@example.com"},"comment":{"body":"b","attachments":[{"filename":"a","data_base64":"***"}]}}"#.to_vec(), StatusCode::UNPROCESSABLE_ENTITY, "base64"),
        ("too large", Some("application/json"), vec![b' '; tend_web::BODY_LIMIT + 10], StatusCode::PAYLOAD_TOO_LARGE, "too large"),
    ];
    for (name, ct, body, status, needle) in cases {
        let r = app
            .raw(Method::POST, "/api/v1/tickets", Some(&tok), ct, body, &[])
            .await;
        assert_eq!(r.status, status, "{name}: {r:?}");
        assert!(
            r.body["detail"].as_str().unwrap().contains(needle),
            "{name}: detail {:?} lacks {needle:?}",
            r.body["detail"]
        );
    }
    // Nothing was half-written by any of them.
    assert_eq!(app.get("/api/v1/tickets").await.body["items"], json!([]));
    assert_eq!(app.get("/api/v1/customers").await.body["items"], json!([]));

    for (path, status) in [
        ("/api/v1/tickets/999", StatusCode::NOT_FOUND),
        ("/api/v1/tickets/abc", StatusCode::NOT_FOUND),
        ("/api/v1/tickets/-1", StatusCode::NOT_FOUND),
        ("/api/v1/nothing-here", StatusCode::NOT_FOUND),
        ("/api/v1/tickets?cursor=garbage", StatusCode::BAD_REQUEST),
        ("/api/v1/tickets?limit=0", StatusCode::BAD_REQUEST),
        ("/api/v1/tickets?limit=1000", StatusCode::BAD_REQUEST),
        ("/api/v1/tickets?limit=ten", StatusCode::BAD_REQUEST),
        ("/api/v1/tickets?status=done", StatusCode::BAD_REQUEST),
        ("/api/v1/tickets?sort=subject", StatusCode::BAD_REQUEST),
        ("/api/v1/tickets?updated_after=yesterday", StatusCode::BAD_REQUEST),
        ("/api/v1/tickets?updated_after=2026-02-01T00:00:00Z&updated_before=2026-01-01T00:00:00Z", StatusCode::BAD_REQUEST),
        ("/api/v1/tickets?whatever=1", StatusCode::BAD_REQUEST),
        ("/api/v1/customers/12345", StatusCode::NOT_FOUND),
        ("/api/v1/customers?email=nope", StatusCode::BAD_REQUEST),
        ("/api/v1/tickets/1/events?cursor=zz", StatusCode::BAD_REQUEST),
    ] {
        let r = app.get(path).await;
        assert_eq!(r.status, status, "{path}: {r:?}");
    }
    // A cursor made for one sort is refused by another.
    for i in 0..3 {
        app.ticket(json!({"subject": format!("c{i}"), "requester": {"email": "a@example.com"}}))
            .await;
    }
    let c = app.get("/api/v1/tickets?limit=1").await.body["next_cursor"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        app.get(&format!("/api/v1/tickets?limit=1&sort=id&cursor={c}"))
            .await
            .status,
        StatusCode::BAD_REQUEST
    );

    let r = app.patch("/api/v1/tickets/1", json!({})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body["detail"]
        .as_str()
        .unwrap()
        .contains("nothing to change"));
    let r = app
        .patch("/api/v1/tickets/1", json!({"assignee_id": "me"}))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.body["field"], "assignee_id");
    let r = app
        .post("/api/v1/tickets/1/messages", json!({"body": "  "}))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn health_metrics_and_openapi() {
    let app = TestApp::spawn().await;
    assert_eq!(
        app.raw(Method::GET, "/healthz", None, None, vec![], &[])
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        app.raw(Method::GET, "/readyz", None, None, vec![], &[])
            .await
            .status,
        StatusCode::OK
    );
    app.ticket(json!({"subject": "m", "requester": {"email": "m@example.com"}}))
        .await;
    let m = app
        .raw(Method::GET, "/metrics", None, None, vec![], &[])
        .await;
    let text = String::from_utf8(m.raw).unwrap();
    assert!(
        text.contains(
            "tend_http_requests_total{method=\"POST\",route=\"/api/v1/tickets\",status=\"201\"} 1"
        ),
        "{text}"
    );
    assert!(text.contains("tend_tickets 1"));
    let doc = app
        .raw(Method::GET, "/api/v1/openapi.json", None, None, vec![], &[])
        .await;
    assert_eq!(doc.body["openapi"], "3.1.0");
    for p in [
        "/tickets",
        "/tickets/{id}",
        "/tickets/{id}/events",
        "/customers/{id}/timeline",
        "/webhooks",
        "/imports",
        "/audit-log",
        "/mailboxes",
        "/mail/intake",
        "/mail/intake/{id}/accept",
        "/surveys/scores",
        "/surveys/at-risk",
        "/surveys/{id}/send",
        "/surveys/{id}/kiosks",
        "/surveys/{id}/kiosks/{kiosk_id}",
        "/orders",
        "/orders/{id}",
        "/customers/{id}/orders",
        "/search/tickets",
        "/search/articles",
    ] {
        assert!(doc.body["paths"].get(p).is_some(), "openapi lacks {p}");
    }
}
