//! Issue 4: mailboxes managed in the admin UI (/admin/mailboxes) and by
//! `PATCH /api/v1/mailboxes/{id}`: the API's checks, a write-only IMAP password, disabling,
//! CSRF, admins only, audited; "test connection" against a small IMAP server on loopback.

use crate::harness::*;
use axum::http::StatusCode;
use serde_json::json;
use tend_core::Role;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

fn text(r: &Resp) -> String {
    String::from_utf8_lossy(&r.raw).into_owned()
}

/// An IMAP server that accepts one password ("right") for any user, has an INBOX with
/// UIDVALIDITY 42, and says why it refuses anything else. Serves connections until the test
/// ends.
async fn fake_imap() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (r, mut w) = sock.into_split();
                let mut lines = BufReader::new(r).lines();
                w.write_all(b"* OK [CAPABILITY IMAP4rev1] fake IMAP ready\r\n")
                    .await
                    .unwrap();
                while let Ok(Some(line)) = lines.next_line().await {
                    let mut parts = line.splitn(3, ' ');
                    let tag = parts.next().unwrap_or("*").to_string();
                    let cmd = parts.next().unwrap_or("").to_ascii_uppercase();
                    let rest = parts.next().unwrap_or("");
                    let answer = match cmd.as_str() {
                        "LOGIN" if rest.contains("right") => format!("{tag} OK LOGIN completed\r\n"),
                        "LOGIN" => format!(
                            "{tag} NO [AUTHENTICATIONFAILED] Invalid credentials (fake server)\r\n"
                        ),
                        "CAPABILITY" => {
                            format!("* CAPABILITY IMAP4rev1 IDLE\r\n{tag} OK CAPABILITY completed\r\n")
                        }
                        "SELECT" | "EXAMINE" => format!(
                            "* 0 EXISTS\r\n* 0 RECENT\r\n* OK [UIDVALIDITY 42] UIDs valid\r\n* OK [UIDNEXT 1] next\r\n{tag} OK [READ-WRITE] SELECT completed\r\n"
                        ),
                        "LOGOUT" => format!("* BYE bye\r\n{tag} OK LOGOUT completed\r\n"),
                        _ => format!("{tag} OK done\r\n"),
                    };
                    if w.write_all(answer.as_bytes()).await.is_err() || cmd == "LOGOUT" {
                        break;
                    }
                }
            });
        }
    });
    port
}

#[allow(clippy::too_many_arguments)]
fn fields<'a>(
    csrf: &'a str,
    address: &'a str,
    host: &'a str,
    port: &'a str,
    password: &'a str,
    active: bool,
) -> Vec<(&'a str, &'a str)> {
    let mut f = vec![
        ("csrf", csrf),
        ("address", address),
        ("name", "Shop Support"),
        ("group_id", ""),
        ("brand_id", ""),
        ("closed_policy", "reopen"),
        ("auto_ack", "1"),
        ("imap", "1"),
        ("imap_host", host),
        ("imap_port", port),
        ("imap_security", "none"),
        ("imap_username", "support"),
        ("imap_password", password),
        ("imap_folder", "INBOX"),
        ("imap_after", "seen"),
    ];
    if active {
        f.push(("active", "1"));
    }
    f
}

#[tokio::test]
async fn mailbox_admin_adds_edits_disables_and_tests_a_mailbox() {
    let app = TestApp::spawn().await;
    let port = fake_imap().await;
    let port_s = port.to_string();
    let cookie = format!("tend_session={}", app.admin_token());
    let r = app.get_with_cookie("/admin/mail", &cookie).await;
    assert!(
        text(&r).contains("href=\"/admin/mailboxes/new\""),
        "{}",
        text(&r)
    );
    let r = app.get_with_cookie("/admin/mailboxes/new", &cookie).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let csrf = csrf_of(&text(&r));

    // The API's checks, with the API's words; the form keeps what was typed.
    let r = app
        .post_form(
            "/admin/mailboxes",
            form(&fields(&csrf, "help@shop.test", "", &port_s, "right", true)),
            Some(&cookie),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{r:?}");
    assert!(
        text(&r).contains("host and username are required"),
        "{}",
        text(&r)
    );
    assert!(text(&r).contains("value=\"help@shop.test\""));
    let api = app
        .post(
            "/api/v1/mailboxes",
            json!({"address": "help@shop.test", "imap": {"host": "", "port": port, "username": "support", "password": "x"}}),
        )
        .await;
    assert_eq!(api.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(api.body["detail"]
        .as_str()
        .unwrap()
        .contains("host and username are required"));
    let r = app
        .post_form(
            "/admin/mailboxes",
            form(&fields(
                &csrf,
                "help@shop.test",
                "127.0.0.1",
                "99999",
                "right",
                true,
            )),
            Some(&cookie),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{r:?}");
    assert!(text(&r).contains("between 1 and 65535"));
    // No CSRF token, or not an admin: refused.
    let r = app
        .post_form(
            "/admin/mailboxes",
            form(&fields(
                &"0".repeat(64),
                "help@shop.test",
                "127.0.0.1",
                &port_s,
                "right",
                true,
            )),
            Some(&cookie),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let (_, agent) = app.agent("ann@shop.test", Role::Agent, &[]).await;
    let r = app
        .get_with_cookie("/admin/mailboxes/new", &format!("tend_session={agent}"))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(app.store.list_mailboxes().await.unwrap().is_empty());

    // Added, with a wrong password first.
    let r = app
        .post_form(
            "/admin/mailboxes",
            form(&fields(
                &csrf,
                "Help@Shop.test",
                "127.0.0.1",
                &port_s,
                "wrong-pass",
                true,
            )),
            Some(&cookie),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{r:?}");
    let m = app.store.list_mailboxes().await.unwrap().remove(0);
    assert_eq!(m.address, "help@shop.test");
    assert_eq!(m.imap.as_ref().unwrap().password, "wrong-pass");
    let edit = format!("/admin/mailboxes/{}", m.id);
    assert_eq!(
        r.headers["location"],
        format!("{edit}?notice=created").as_str()
    );
    let page = text(
        &app.get_with_cookie(&format!("{edit}?notice=created"), &cookie)
            .await,
    );
    assert!(!page.contains("wrong-pass"), "the password is never shown");
    assert!(page.contains("stored; leave empty to keep it"), "{page}");
    assert!(page.contains("The mailbox is added."));

    // Test connection: the server's refusal, then (new password saved) its welcome.
    let r = app
        .post_form(
            &format!("{edit}/test"),
            form(&[("csrf", &csrf)]),
            Some(&cookie),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let html = text(&r);
    assert!(html.contains("The IMAP test failed"), "{html}");
    assert!(html.contains("Invalid credentials (fake server)"), "{html}");
    let r = app
        .post_form(
            &format!("{edit}/test"),
            form(&[("csrf", "nope")]),
            Some(&cookie),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = app
        .post_form(
            &edit,
            form(&fields(
                &csrf,
                "help@shop.test",
                "127.0.0.1",
                &port_s,
                "right",
                true,
            )),
            Some(&cookie),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{r:?}");
    let r = app
        .post_form(
            &format!("{edit}/test"),
            form(&[("csrf", &csrf)]),
            Some(&cookie),
        )
        .await;
    let html = text(&r);
    assert!(html.contains("The IMAP login works"), "{html}");
    assert!(html.contains("UIDVALIDITY 42"), "{html}");

    // Saving with an empty password keeps it; unticking "active" disables the mailbox.
    let r = app
        .post_form(
            &edit,
            form(&fields(
                &csrf,
                "help@shop.test",
                "127.0.0.1",
                &port_s,
                "",
                false,
            )),
            Some(&cookie),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{r:?}");
    let m = app.store.list_mailboxes().await.unwrap().remove(0);
    assert!(!m.active);
    assert_eq!(m.imap.as_ref().unwrap().password, "right");
    let list = text(&app.get_with_cookie("/admin/mail", &cookie).await);
    assert!(list.contains("disabled"), "{list}");

    // The API: brand checked, address conflicts refused, password never returned.
    let other = app
        .post("/api/v1/mailboxes", json!({"address": "sales@shop.test"}))
        .await;
    assert_eq!(other.status, StatusCode::CREATED, "{other:?}");
    let r = app
        .patch(
            &format!("/api/v1/mailboxes/{}", m.id),
            json!({"brand_id": 777}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{r:?}");
    let r = app
        .patch(
            &format!("/api/v1/mailboxes/{}", m.id),
            json!({"address": "sales@shop.test"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{r:?}");
    let r = app
        .patch(
            &format!("/api/v1/mailboxes/{}", m.id),
            json!({"active": true, "name": "Help"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(
        (r.body["active"].as_bool(), r.body["name"].as_str()),
        (Some(true), Some("Help"))
    );
    assert!(!r.raw.windows(5).any(|w| w == b"right"), "{r:?}");
    let r = app
        .patch("/api/v1/mailboxes/9999", json!({"name": "x"}))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    // Audited, without the password.
    let log = app.get("/api/v1/audit-log?limit=100").await;
    let target = format!("mailbox:{}", m.id);
    let entries: Vec<&serde_json::Value> = log.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["target"] == target.as_str())
        .collect();
    let actions: Vec<&str> = entries
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(
        actions.contains(&"mailbox.created") && actions.contains(&"mailbox.updated"),
        "{actions:?}"
    );
    assert!(entries.iter().any(|e| e["data"]["changed"]
        .as_array()
        .is_some_and(|c| c.contains(&json!("imap.password")))));
    assert!(!log.raw.windows(5).any(|w| w == b"right") && !text(&log).contains("wrong-pass"));
}

#[tokio::test]
async fn mailbox_admin_review_errors_are_shown_without_url_text() {
    let app = TestApp::spawn().await;
    let cookie = format!("tend_session={}", app.admin_token());
    // `?error=` is not read any more: attacker-chosen text never reaches the page.
    let r = app
        .get_with_cookie("/admin/mail?error=Call+0900-SCAM", &cookie)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(!text(&r).contains("0900-SCAM"));
    let csrf = csrf_of(&text(&r));
    // Settling an unknown mail shows the server's message on the page itself.
    let r = app
        .post_form(
            "/admin/mail/4242",
            form(&[("csrf", &csrf), ("action", "discard")]),
            Some(&cookie),
        )
        .await;
    assert_ne!(r.status, StatusCode::SEE_OTHER, "{r:?}");
}
