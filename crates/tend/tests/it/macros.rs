use crate::harness::*;
use axum::http::{Method, StatusCode};
use serde_json::json;
use tend_core::Role;

#[tokio::test]
async fn macros_validate_placeholders_respect_ownership_and_apply_fields() {
    let app = TestApp::spawn().await;
    let g = app.group("Support").await;
    let bad = app
        .post(
            "/api/v1/macros",
            json!({"title": "Oops", "body": "Hi {{customer.nmae}}", "shared": true}),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.body["detail"]
        .as_str()
        .unwrap()
        .contains("unknown placeholder {{customer.nmae}}"));
    let shared = app.post("/api/v1/macros", json!({"title": "Refund", "body": "Hi {{customer.first_name}}, refund for #{{ticket.id}}. {{agent.name}}", "shared": true, "actions": {"status": "solved", "add_tags": ["Refund"], "group_id": g}})).await;
    assert_eq!(shared.status, StatusCode::CREATED, "{shared:?}");
    assert_eq!(shared.body["actions"]["add_tags"], json!(["refund"]));
    let (lena, lena_tok) = app.agent("lena@shop.test", Role::Agent, &[g]).await;
    let denied = app
        .call(
            Method::POST,
            "/api/v1/macros",
            &lena_tok,
            Some(json!({"title": "Mine", "body": "x", "shared": true})),
        )
        .await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);
    let own = app
        .call(
            Method::POST,
            "/api/v1/macros",
            &lena_tok,
            Some(json!({"title": "Mine", "body": "Hello {{customer.name}}"})),
        )
        .await;
    assert_eq!(own.status, StatusCode::CREATED);
    assert_eq!(own.body["owner_id"], lena);
    let lena_list = app
        .call(Method::GET, "/api/v1/macros", &lena_tok, None)
        .await;
    assert_eq!(lena_list.body["items"].as_array().unwrap().len(), 2);
    let admin_list = app.get("/api/v1/macros").await;
    assert_eq!(
        admin_list.body["items"].as_array().unwrap().len(),
        1,
        "personal macros stay personal"
    );
    assert_eq!(
        app.call(
            Method::DELETE,
            &format!("/api/v1/macros/{}", shared.body["id"]),
            &lena_tok,
            None
        )
        .await
        .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.call(
            Method::DELETE,
            &format!("/api/v1/macros/{}", own.body["id"]),
            app.admin_token(),
            None
        )
        .await
        .status,
        StatusCode::NOT_FOUND,
        "someone else's personal macro is invisible"
    );

    // Applied in the workspace: the text is rendered for the ticket, the fields change on send.
    let t = app.ticket(json!({"subject": "Broken", "requester": {"email": "ana@example.com", "name": "Ana Lima"}, "assignee_id": lena})).await;
    app.patch(
        &format!("/api/v1/agents/{lena}"),
        json!({"password": "correct horse battery"}),
    )
    .await;
    let r = app
        .post_form(
            "/login",
            b"email=lena%40shop.test&password=correct+horse+battery".to_vec(),
            None,
        )
        .await;
    let cookie = r
        .headers
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let page = app
        .get_with_cookie(
            &format!("/tickets/{}?macro={}", t["id"], shared.body["id"]),
            &cookie,
        )
        .await;
    let html = String::from_utf8_lossy(&page.raw).to_string();
    assert!(
        html.contains(&format!("Hi Ana, refund for #{}. lena@shop.test", t["id"])),
        "rendered macro text in the reply box"
    );
    assert!(html.contains("status → solved"));
    let csrf = csrf_of(&html);
    let form = format!(
        "csrf={csrf}&kind=reply&macro_id={}&body=Hi+Ana%2C+refund+done.",
        shared.body["id"]
    );
    let r = app
        .post_form(
            &format!("/tickets/{}/reply", t["id"]),
            form.into_bytes(),
            Some(&cookie),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let after = app.get(&format!("/api/v1/tickets/{}", t["id"])).await.body;
    assert_eq!(after["status"], "solved");
    assert_eq!(after["tags"], json!(["refund"]));
    assert_eq!(after["group_id"], g);
}
