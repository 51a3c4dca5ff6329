use crate::harness::*;
use axum::http::{Method, StatusCode};
use serde_json::json;
use tend_core::Role;

pub(crate) async fn sign_in(app: &TestApp, email: &str, pw: &str) -> String {
    let body = format!(
        "email={}&password={}&next=/views/mine",
        email.replace('@', "%40"),
        pw.replace(' ', "+")
    );
    let r = app.post_form("/login", body.into_bytes(), None).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{r:?}");
    let cookie = r
        .headers
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    cookie.split(';').next().unwrap().to_string()
}

async fn page(
    app: &TestApp,
    path: &str,
    cookie: &str,
) -> (StatusCode, String, axum::http::HeaderMap) {
    let r = app.get_with_cookie(path, cookie).await;
    (
        r.status,
        String::from_utf8_lossy(&r.raw).into_owned(),
        r.headers,
    )
}

#[tokio::test]
async fn workspace_pages_need_a_session_escape_content_and_check_csrf() {
    let app = TestApp::spawn().await;
    let billing = app.group("Billing").await;
    let support = app.group("Support").await;
    app.post("/api/v1/agents", json!({"email": "lena@shop.test", "name": "Lena", "role": "agent", "password": "correct horse battery"})).await;
    let lena = app
        .store
        .agent_by_email("lena@shop.test")
        .await
        .unwrap()
        .unwrap();
    app.call(
        Method::PUT,
        &format!("/api/v1/groups/{support}/members"),
        app.admin_token(),
        Some(json!({"agent_ids": [lena.id]})),
    )
    .await;
    let mine = app.ticket(json!({"subject": "<script>alert(1)</script> printer", "group_id": support, "assignee_id": lena.id, "requester": {"email": "x@example.com", "name": "<img src=x onerror=alert(1)>"}, "comment": {"html": "<p>hi<script>evil()</script></p>"}})).await;
    let foreign = app.ticket(json!({"subject": "Billing secret", "group_id": billing, "requester": {"email": "y@example.com"}})).await;

    // Signed out: sent to sign in, with the page to come back to.
    let r = app
        .raw(Method::GET, "/views/mine", None, None, vec![], &[])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(
        r.headers.get("location").unwrap(),
        "/login?next=%2Fviews%2Fmine"
    );
    // No open redirect through ?next=.
    let r = app
        .post_form(
            "/login",
            b"email=lena%40shop.test&password=correct+horse+battery&next=%2F%2Fevil.example"
                .to_vec(),
            None,
        )
        .await;
    assert_eq!(r.headers.get("location").unwrap(), "/views/mine");

    let cookie = sign_in(&app, "lena@shop.test", "correct horse battery").await;
    let (st, html, headers) = page(&app, "/views/mine", &cookie).await;
    assert_eq!(st, StatusCode::OK);
    assert!(headers
        .get("content-security-policy")
        .unwrap()
        .to_str()
        .unwrap()
        .contains("script-src 'self'"));
    assert!(
        html.contains("alert(1)") && html.contains("printer"),
        "the ticket is listed"
    );
    assert!(!html.contains("<script>alert(1)"));
    assert!(!html.contains("Billing secret"));

    let (st, html, _) = page(&app, &format!("/tickets/{}", mine["id"]), &cookie).await;
    assert_eq!(st, StatusCode::OK);
    assert!(!html.contains("<script>evil()"), "sanitized message html");
    assert!(!html.contains("<img src=x"), "customer names are escaped");
    let (st, _, _) = page(&app, &format!("/tickets/{}", foreign["id"]), &cookie).await;
    assert_eq!(st, StatusCode::NOT_FOUND, "no peeking into other groups");

    // Forms need the session's CSRF token.
    let csrf = csrf_of(&html);
    let path = format!("/tickets/{}/reply", mine["id"]);
    let r = app
        .post_form(
            &path,
            b"csrf=forged&body=hello&kind=reply".to_vec(),
            Some(&cookie),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = app
        .post_form(
            &path,
            format!("csrf={csrf}&body=Noted+internally&kind=note&then_status=pending").into_bytes(),
            Some(&cookie),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let msgs = app
        .get(&format!("/api/v1/tickets/{}/messages", mine["id"]))
        .await;
    let last = msgs.body["items"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["body_text"], "Noted internally");
    assert_eq!(last["public"], false);
    assert_eq!(
        app.get(&format!("/api/v1/tickets/{}", mine["id"]))
            .await
            .body["status"],
        "pending"
    );

    let up = format!("/tickets/{}/update", mine["id"]);
    let r = app
        .post_form(
            &up,
            format!("csrf={csrf}&status=solved&priority=high&assignee=0&group={support}")
                .into_bytes(),
            Some(&cookie),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let t = app
        .get(&format!("/api/v1/tickets/{}", mine["id"]))
        .await
        .body;
    assert_eq!(
        (
            t["status"].as_str(),
            t["priority"].as_str(),
            t["assignee_id"].is_null()
        ),
        (Some("solved"), Some("high"), true)
    );

    // Sign-out revokes the session.
    let r = app
        .post_form(
            "/logout",
            format!("csrf={csrf}").into_bytes(),
            Some(&cookie),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let (st, _, _) = page(&app, "/views/mine", &cookie).await;
    assert_eq!(st, StatusCode::SEE_OTHER);
    let (st, _, _) = page(
        &app,
        "/views/nonsense",
        &sign_in(&app, "lena@shop.test", "correct horse battery").await,
    )
    .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let _ = Role::Agent;
}

#[tokio::test]
async fn bulk_actions_change_only_what_the_agent_may_see_and_customer_pages_show_everything() {
    let app = TestApp::spawn().await;
    let support = app.group("Support").await;
    let billing = app.group("Billing").await;
    app.post("/api/v1/agents", json!({"email": "lena@shop.test", "name": "Lena", "role": "agent", "password": "correct horse battery"})).await;
    let lena = app
        .store
        .agent_by_email("lena@shop.test")
        .await
        .unwrap()
        .unwrap();
    app.call(
        Method::PUT,
        &format!("/api/v1/groups/{support}/members"),
        app.admin_token(),
        Some(json!({"agent_ids": [lena.id]})),
    )
    .await;
    let a = app.ticket(json!({"subject": "A", "group_id": support, "requester": {"email": "c@example.com", "name": "Cleo"}})).await;
    let b = app
        .ticket(
            json!({"subject": "B", "group_id": support, "requester": {"email": "c@example.com"}}),
        )
        .await;
    let hidden = app.ticket(json!({"subject": "Hidden", "group_id": billing, "requester": {"email": "c@example.com"}})).await;
    let cookie = sign_in(&app, "lena@shop.test", "correct horse battery").await;
    let (_, html, _) = page(&app, &format!("/views/group-{support}"), &cookie).await;
    let csrf = csrf_of(&html);
    let form = format!(
        "csrf={csrf}&view=group-{support}&action=assign%3Ame&ids={}&ids={}&ids={}",
        a["id"], b["id"], hidden["id"]
    );
    let r = app
        .post_form("/bulk", form.into_bytes(), Some(&cookie))
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(
        r.headers.get("location").unwrap().to_str().unwrap(),
        format!("/views/group-{support}?done=2&skipped=1")
    );
    for t in [&a, &b] {
        assert_eq!(
            app.get(&format!("/api/v1/tickets/{}", t["id"])).await.body["assignee_id"],
            lena.id
        );
    }
    assert!(
        app.get(&format!("/api/v1/tickets/{}", hidden["id"]))
            .await
            .body["assignee_id"]
            .is_null(),
        "not visible to her: untouched"
    );
    let (_, html, _) = page(
        &app,
        &format!("/views/group-{support}?done=2&skipped=1"),
        &cookie,
    )
    .await;
    assert!(html.contains("2 ticket(s) changed; 1 skipped"));
    let r = app
        .post_form(
            "/bulk",
            format!("csrf=nope&action=assign%3Ame&ids={}", a["id"]).into_bytes(),
            Some(&cookie),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    let (st, html, _) = page(&app, &format!("/customers/{}", a["requester_id"]), &cookie).await;
    assert_eq!(st, StatusCode::OK);
    assert!(html.contains("Cleo") && html.contains("c@example.com"));
    assert!(
        html.contains(">A</a>") && html.contains(">B</a>") && !html.contains("Hidden"),
        "only tickets she may see"
    );
    assert!(
        html.contains("assigned it to Lena"),
        "timeline across tickets"
    );
}
