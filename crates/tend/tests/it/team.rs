//! /admin/team: admins add agents (who choose their password from a mailed link) and groups,
//! and change roles, groups and access — through the API's checks, audited.

use crate::harness::*;
use crate::smtp_sink::link_in;
use axum::http::{Method, StatusCode};
use serde_json::json;

fn text(r: &Resp) -> String {
    String::from_utf8_lossy(&r.raw).into_owned()
}

#[tokio::test]
async fn admins_add_agents_and_groups_and_change_them() {
    let (app, sink, worker) = spawn_with_mail().await;
    app.post("/api/v1/agents", json!({"email": "boss@shop.test", "name": "Boss", "role": "admin", "password": "correct horse battery"})).await;
    app.post("/api/v1/agents", json!({"email": "lena@shop.test", "name": "Lena", "role": "agent", "password": "correct horse battery"})).await;
    let boss = crate::ui::sign_in(&app, "boss@shop.test", "correct horse battery").await;
    let lena = crate::ui::sign_in(&app, "lena@shop.test", "correct horse battery").await;
    assert_eq!(
        app.get_with_cookie("/admin/team", &lena).await.status,
        StatusCode::FORBIDDEN
    );
    let r = app.get_with_cookie("/admin/team", &boss).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(text(&r).contains("lena@shop.test"));
    let csrf = csrf_of(&text(&r));

    // A group, then an agent in it; bad input is explained on the page.
    let r = app
        .post_form(
            "/admin/team/groups",
            form(&[("name", "Billing")]),
            Some(&boss),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "no CSRF token");
    let r = app
        .post_form(
            "/admin/team/groups",
            form(&[
                ("csrf", &csrf),
                ("name", "Billing"),
                ("description", "Money matters"),
            ]),
            Some(&boss),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let billing = app
        .store
        .list_groups()
        .await
        .unwrap()
        .into_iter()
        .find(|g| g.name == "Billing")
        .unwrap();
    let r = app
        .post_form(
            "/admin/team/agents",
            form(&[("csrf", &csrf), ("email", "not-mail"), ("name", "Max")]),
            Some(&boss),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(text(&r).contains("email:"), "{}", text(&r));
    let r = app
        .post_form(
            "/admin/team/agents",
            form(&[
                ("csrf", &csrf),
                ("email", "max@shop.test"),
                ("name", "Max"),
                ("role", "agent"),
                ("group", &billing.id.to_string()),
            ]),
            Some(&boss),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", text(&r));
    let max = app
        .store
        .agent_by_email("max@shop.test")
        .await
        .unwrap()
        .unwrap();
    assert!(app
        .store
        .get_group(billing.id)
        .await
        .unwrap()
        .member_ids
        .contains(&max.id));

    // Max chooses a password from the welcome mail and signs in.
    while worker.tick().await.unwrap() > 0 {}
    let welcome: Vec<_> = sink
        .messages()
        .into_iter()
        .filter(|m| m.data.contains("Choose your Tend password"))
        .collect();
    assert_eq!(welcome.len(), 1);
    assert_eq!(welcome[0].to, vec!["max@shop.test"]);
    let link = link_in(&welcome[0].data, "/password/reset?token=").unwrap();
    let token = link.split("token=").nth(1).unwrap().to_string();
    let r = app
        .post_form(
            "/password/reset",
            form(&[
                ("token", &token),
                ("password", "max's own secret"),
                ("confirm", "max's own secret"),
            ]),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let max_cookie = crate::ui::sign_in(&app, "max@shop.test", "max's own secret").await;
    assert!(
        text(&app.get_with_cookie("/views/mine", &max_cookie).await).contains("Billing"),
        "his group's queue"
    );

    // Make Max a supervisor outside every group; then deactivate him: he is signed out.
    let page = format!("/admin/team/agents/{}", max.id);
    let r = app.get_with_cookie(&page, &boss).await;
    assert!(text(&r).contains("value=\"Max\""));
    let r = app
        .post_form(
            &page,
            form(&[
                ("csrf", &csrf),
                ("name", "Max Mustermann"),
                ("role", "supervisor"),
                ("active", "on"),
            ]),
            Some(&boss),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let max_now = app.store.get_agent(max.id).await.unwrap();
    assert_eq!(
        (max_now.name.as_str(), max_now.role),
        ("Max Mustermann", tend_core::Role::Supervisor)
    );
    assert!(!app
        .store
        .get_group(billing.id)
        .await
        .unwrap()
        .member_ids
        .contains(&max.id));
    let r = app
        .post_form(
            &page,
            form(&[
                ("csrf", &csrf),
                ("name", "Max Mustermann"),
                ("role", "supervisor"),
            ]),
            Some(&boss),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(!app.store.get_agent(max.id).await.unwrap().active);
    assert_eq!(
        app.get_with_cookie("/views/mine", &max_cookie).await.status,
        StatusCode::SEE_OTHER
    );
    // A deactivated agent gets no password link.
    let r = app
        .post_form(
            &format!("{page}/password-link"),
            form(&[("csrf", &csrf)]),
            Some(&boss),
        )
        .await;
    assert!(text(&r).contains("deactivated"));

    // Admins cannot demote themselves here either.
    let boss_id = app
        .store
        .agent_by_email("boss@shop.test")
        .await
        .unwrap()
        .unwrap()
        .id;
    let r = app
        .post_form(
            &format!("/admin/team/agents/{boss_id}"),
            form(&[
                ("csrf", &csrf),
                ("name", "Boss"),
                ("role", "agent"),
                ("active", "on"),
            ]),
            Some(&boss),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        text(&r).contains("cannot deactivate or demote yourself"),
        "{}",
        text(&r)
    );
    let audit = app
        .call(Method::GET, "/api/v1/audit-log", app.admin_token(), None)
        .await
        .body
        .to_string();
    for a in [
        "group.created",
        "agent.created",
        "agent.updated",
        "agent.password_reset",
    ] {
        assert!(audit.contains(a), "{a}");
    }

    // Ticket fields: a dropdown with its options; a bad key is explained; agents may not.
    assert_eq!(
        app.get_with_cookie("/admin/fields", &lena).await.status,
        StatusCode::FORBIDDEN
    );
    let r = app
        .post_form(
            "/admin/fields",
            form(&[
                ("csrf", &csrf),
                ("key", "Order No"),
                ("label", "Order"),
                ("type", "text"),
            ]),
            Some(&boss),
        )
        .await;
    assert!(text(&r).contains("key:"), "{}", text(&r));
    assert!(
        text(&r).contains("value=\"Order No\""),
        "what was typed stays"
    );
    let r = app
        .post_form(
            "/admin/fields",
            form(&[
                ("csrf", &csrf),
                ("key", "product"),
                ("label", "Product"),
                ("type", "dropdown"),
                ("options", "Printer\nScanner\n"),
            ]),
            Some(&boss),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", text(&r));
    let html = text(&app.get_with_cookie("/admin/fields?done=field", &boss).await);
    assert!(
        html.contains("<code>product</code>") && html.contains("Printer, Scanner"),
        "{html}"
    );
    let defs = app
        .call(
            Method::GET,
            "/api/v1/field-definitions",
            app.admin_token(),
            None,
        )
        .await
        .body;
    assert_eq!(defs["items"][0]["options"], json!(["Printer", "Scanner"]));
}
