//! Agent password reset by e-mail: a single-use, expiring link that a mail scanner's GET
//! cannot use, the same answer for known and unknown addresses, sessions ended, audited.

use crate::harness::*;
use crate::smtp_sink::link_in;
use axum::http::StatusCode;
use serde_json::json;

fn text(r: &Resp) -> String {
    String::from_utf8_lossy(&r.raw).into_owned()
}

#[tokio::test]
async fn agents_reset_a_forgotten_password_by_mail_once() {
    let (app, sink, worker) = spawn_with_mail().await;
    app.post("/api/v1/agents", json!({"email": "lena@shop.test", "name": "Lena", "role": "agent", "password": "correct horse battery"})).await;
    let old_session = crate::ui::sign_in(&app, "lena@shop.test", "correct horse battery").await;
    assert_eq!(
        app.get_with_cookie("/views/mine", &old_session)
            .await
            .status,
        StatusCode::OK
    );

    // The sign-in page links to the reset; known and unknown addresses get the same answer.
    assert!(text(&app.get("/login").await).contains("/password/forgot"));
    for email in ["nobody@shop.test", "lena@shop.test"] {
        let r = app
            .post_form("/password/forgot", form(&[("email", email)]), None)
            .await;
        assert_eq!(r.status, StatusCode::OK);
        assert!(
            text(&r).contains("a link to choose a new password is on its way"),
            "{}",
            text(&r)
        );
    }
    let r = app
        .post_form(
            "/password/forgot",
            form(&[("email", "not an address")]),
            None,
        )
        .await;
    assert!(text(&r).contains("valid e-mail address"));
    while worker.tick().await.unwrap() > 0 {}
    let sent: Vec<_> = sink
        .messages()
        .into_iter()
        .filter(|m| m.data.contains("new Tend password"))
        .collect();
    assert_eq!(sent.len(), 1, "only the agent's address gets mail");
    assert_eq!(sent[0].to, vec!["lena@shop.test"]);
    let link = link_in(&sent[0].data, "/password/reset?token=").expect("a reset link");
    let path = link.strip_prefix("http://tend.test").unwrap().to_string();

    // Opening the link (twice, as a scanner and then Lena) only shows the form.
    for _ in 0..2 {
        let r = app.get(&path).await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.headers.get("referrer-policy").unwrap(), "no-referrer");
        assert!(text(&r).contains("Set the password"), "{}", text(&r));
    }
    let token = path.split("token=").nth(1).unwrap().to_string();
    let r = app
        .post_form(
            "/password/reset",
            form(&[
                ("token", &token),
                ("password", "new secret words"),
                ("confirm", "other words!!"),
            ]),
            None,
        )
        .await;
    assert!(text(&r).contains("The two passwords differ"));
    let r = app
        .post_form(
            "/password/reset",
            form(&[
                ("token", &token),
                ("password", "short"),
                ("confirm", "short"),
            ]),
            None,
        )
        .await;
    assert!(text(&r).contains("at least 10 characters"), "{}", text(&r));
    let r = app
        .post_form(
            "/password/reset",
            form(&[
                ("token", &token),
                ("password", "new secret words"),
                ("confirm", "new secret words"),
            ]),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.headers.get("location").unwrap(), "/login?reset=done");
    assert!(text(&app.get("/login?reset=done").await).contains("Your password is changed"));

    // Used once: the link is dead, the old session is over, only the new password works.
    let r = app
        .post_form(
            "/password/reset",
            form(&[
                ("token", &token),
                ("password", "another password"),
                ("confirm", "another password"),
            ]),
            None,
        )
        .await;
    assert!(text(&r).contains("expired or was already used"));
    assert!(text(&app.get(&path).await).contains("expired or was already used"));
    assert_eq!(
        app.get_with_cookie("/views/mine", &old_session)
            .await
            .status,
        StatusCode::SEE_OTHER
    );
    let r = app
        .post_form(
            "/login",
            form(&[
                ("email", "lena@shop.test"),
                ("password", "correct horse battery"),
                ("next", "/views/mine"),
            ]),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "the old password no longer works");
    crate::ui::sign_in(&app, "lena@shop.test", "new secret words").await;
    let audit = app.get("/api/v1/audit-log").await.body.to_string();
    assert!(audit.contains("agent.password_reset"), "{audit}");
    assert!(!audit.contains("new secret words") && !audit.contains(&token));

    // A newer link replaces the older one; a link expires after 30 minutes.
    for _ in 0..2 {
        app.post_form(
            "/password/forgot",
            form(&[("email", "lena@shop.test")]),
            None,
        )
        .await;
    }
    while worker.tick().await.unwrap() > 0 {}
    let links: Vec<String> = sink
        .messages()
        .into_iter()
        .filter(|m| m.data.contains("new Tend password"))
        .filter_map(|m| link_in(&m.data, "/password/reset?token="))
        .map(|l| l.strip_prefix("http://tend.test").unwrap().to_string())
        .collect();
    assert_eq!(links.len(), 3);
    assert!(text(&app.get(&links[1]).await).contains("expired or was already used"));
    assert!(text(&app.get(&links[2]).await).contains("Set the password"));
    app.clock.advance(chrono::Duration::minutes(31));
    assert!(text(&app.get(&links[2]).await).contains("expired or was already used"));
    // Garbage tokens are dead links, not errors.
    assert!(
        text(&app.get("/password/reset?token=nope").await).contains("expired or was already used")
    );
    assert!(text(&app.get("/password/reset").await).contains("expired or was already used"));
}
