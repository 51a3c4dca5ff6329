use crate::harness::*;
use axum::http::{Method, StatusCode};
use serde_json::json;
use tend_core::Role;

#[tokio::test]
async fn admins_manage_agents_and_groups_and_every_change_is_audited() {
    let app = TestApp::spawn().await;
    let a = app.post("/api/v1/agents", json!({"email": "lena@shop.test", "name": "Lena", "role": "agent", "password": "long enough pw"})).await;
    assert_eq!(a.status, StatusCode::CREATED, "{a:?}");
    assert!(a.body.get("password_hash").is_none());
    assert_eq!(
        app.post(
            "/api/v1/agents",
            json!({"email": "LENA@shop.test", "name": "L2", "role": "agent"})
        )
        .await
        .status,
        StatusCode::CONFLICT
    );
    assert_eq!(
        app.post(
            "/api/v1/agents",
            json!({"email": "x@shop.test", "name": "X", "role": "agent", "password": "short"})
        )
        .await
        .status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        app.post(
            "/api/v1/agents",
            json!({"email": "x@shop.test", "name": "X", "role": "boss"})
        )
        .await
        .status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let g = app.post("/api/v1/groups", json!({"name": "Billing"})).await;
    assert_eq!(g.status, StatusCode::CREATED);
    assert_eq!(
        app.post("/api/v1/groups", json!({"name": "billing"}))
            .await
            .status,
        StatusCode::CONFLICT
    );
    let m = app
        .call(
            Method::PUT,
            &format!("/api/v1/groups/{}/members", g.body["id"]),
            app.admin_token(),
            Some(json!({"agent_ids": [a.body["id"], app.admin.0]})),
        )
        .await;
    assert_eq!(m.status, StatusCode::OK, "{m:?}");
    let bad = app
        .call(
            Method::PUT,
            &format!("/api/v1/groups/{}/members", g.body["id"]),
            app.admin_token(),
            Some(json!({"agent_ids": [9999]})),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    let agent = app.get(&format!("/api/v1/agents/{}", a.body["id"])).await;
    assert_eq!(agent.body["group_ids"], json!([g.body["id"]]));
    let hook = app
        .post(
            "/api/v1/webhooks",
            json!({"url": "https://hooks.example/tend", "events": ["ticket.created"]}),
        )
        .await;
    assert_eq!(hook.status, StatusCode::CREATED, "{hook:?}");
    assert!(hook.body["secret"].as_str().unwrap().len() > 20);
    assert!(
        app.get("/api/v1/webhooks").await.body["items"][0]
            .get("secret")
            .is_none(),
        "secrets are shown once only"
    );

    let audit = app.get("/api/v1/audit-log").await;
    let actions: Vec<&str> = audit.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for want in [
        "agent.created",
        "group.created",
        "group.members_set",
        "webhook.created",
        "token.created",
    ] {
        assert!(actions.contains(&want), "audit lacks {want}: {actions:?}");
    }
    let text = audit.body.to_string();
    assert!(
        !text.contains("argon2") && !text.contains(hook.body["secret"].as_str().unwrap()),
        "audit leaks secrets"
    );
    assert_eq!(
        audit.body["items"][0]["actor"],
        json!({"kind": "agent", "id": app.admin.0})
    );

    // Plain agents may read but not administer.
    let (_, tok) = app.agent("plain@shop.test", Role::Agent, &[]).await;
    for (method, path, body) in [
        (
            Method::POST,
            "/api/v1/agents",
            Some(json!({"email": "y@shop.test", "name": "Y", "role": "admin"})),
        ),
        (
            Method::POST,
            "/api/v1/groups",
            Some(json!({"name": "Mine"})),
        ),
        (Method::GET, "/api/v1/webhooks", None),
        (Method::GET, "/api/v1/audit-log", None),
        (Method::GET, "/api/v1/jobs", None),
        (
            Method::POST,
            "/api/v1/field-definitions",
            Some(json!({"key": "k", "label": "K", "type": "text"})),
        ),
    ] {
        let r = app.call(method.clone(), path, &tok, body).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{method} {path}: {r:?}");
    }
    assert_eq!(
        app.call(Method::GET, "/api/v1/agents", &tok, None)
            .await
            .status,
        StatusCode::OK
    );
    let own = app
        .call(
            Method::PATCH,
            &format!("/api/v1/agents/{}", a.body["id"]),
            &tok,
            Some(json!({"role": "admin"})),
        )
        .await;
    assert_eq!(own.status, StatusCode::FORBIDDEN);
    let me = app
        .patch(
            &format!("/api/v1/agents/{}", app.admin.0),
            json!({"active": false}),
        )
        .await;
    assert_eq!(
        me.status,
        StatusCode::BAD_REQUEST,
        "an admin cannot lock themselves out"
    );
}

#[tokio::test]
async fn sign_in_gives_a_token_and_is_throttled() {
    let app = TestApp::spawn().await;
    app.post("/api/v1/agents", json!({"email": "lena@shop.test", "name": "Lena", "role": "agent", "password": "correct horse battery"})).await;
    let login = |pw: &'static str| {
        let body = serde_json::to_vec(&json!({"email": "lena@shop.test", "password": pw})).unwrap();
        let app = &app;
        async move {
            app.raw(
                Method::POST,
                "/api/v1/sessions",
                None,
                Some("application/json"),
                body,
                &[],
            )
            .await
        }
    };
    let ok = login("correct horse battery").await;
    assert_eq!(ok.status, StatusCode::CREATED, "{ok:?}");
    let token = ok.body["token"].as_str().unwrap().to_string();
    assert_eq!(
        app.call(Method::GET, "/api/v1/me", &token, None).await.body["email"],
        "lena@shop.test"
    );
    for _ in 0..5 {
        assert_eq!(login("wrong").await.status, StatusCode::UNAUTHORIZED);
    }
    let blocked = login("correct horse battery").await;
    assert_eq!(blocked.status, StatusCode::TOO_MANY_REQUESTS, "{blocked:?}");
    assert!(blocked.headers.get("retry-after").is_some());
    app.clock.advance(chrono::Duration::minutes(16));
    assert_eq!(
        login("correct horse battery").await.status,
        StatusCode::CREATED
    );
    // Unknown accounts answer like wrong passwords.
    let body = serde_json::to_vec(&json!({"email": "nobody@shop.test", "password": "whatever-pw"}))
        .unwrap();
    let r = app
        .raw(
            Method::POST,
            "/api/v1/sessions",
            None,
            Some("application/json"),
            body,
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.body["detail"], "wrong e-mail or password");
}
