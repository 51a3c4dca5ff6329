use crate::harness::*;
use crate::smtp_sink::link_in;
use axum::http::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn customers_sign_in_by_magic_link_and_see_only_their_own_tickets() {
    let (app, sink, worker) = spawn_with_mail().await;

    let mine = app.ticket(json!({"subject": "My parcel", "requester": {"email": "ana@example.com", "name": "Ana"}, "comment": {"body": "Where is it?"}})).await;
    app.post(
        &format!("/api/v1/tickets/{}/messages", mine["id"]),
        json!({"body": "secret internal remark", "public": false}),
    )
    .await;
    app.post(
        &format!("/api/v1/tickets/{}/messages", mine["id"]),
        json!({"body": "It ships tomorrow."}),
    )
    .await;
    app.patch(
        &format!("/api/v1/tickets/{}", mine["id"]),
        json!({"status": "pending"}),
    )
    .await;
    let theirs = app
        .ticket(json!({"subject": "Someone else's", "requester": {"email": "bo@example.com"}}))
        .await;

    // Unknown and known addresses get the same answer; only the known one gets mail.
    for email in ["nobody@example.com", "ana@example.com"] {
        let r = app
            .post_form("/portal/login", form(&[("email", email)]), None)
            .await;
        assert_eq!(r.status, StatusCode::OK);
        assert!(String::from_utf8_lossy(&r.raw).contains("If we know this address"));
    }
    while worker.tick().await.unwrap() > 0 {}
    // The agent's public answer went to Ana by mail; the sign-in link only to her, once.
    let all = sink.messages();
    assert!(all.iter().any(|m| m.data.contains("It ships tomorrow.")));
    let sent: Vec<_> = all
        .into_iter()
        .filter(|m| m.data.contains("sign-in link"))
        .collect();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].to, vec!["ana@example.com"]);
    assert!(
        sent[0].from.contains("support@shop.test"),
        "{}",
        sent[0].from
    );
    assert!(sent[0].data.contains("Subject: Your sign-in link"));
    let link = link_in(&sent[0].data, "/portal/auth?token=").expect("a sign-in link");
    let path = link.strip_prefix("http://tend.test").unwrap().to_string();

    let r = app.raw(Method::GET, &path, None, None, vec![], &[]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
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
    // The link works once.
    let again = app.raw(Method::GET, &path, None, None, vec![], &[]).await;
    assert!(String::from_utf8_lossy(&again.raw).contains("expired or was used"));

    let home = app.get_with_cookie("/portal", &cookie).await;
    let html = String::from_utf8_lossy(&home.raw).to_string();
    assert!(
        html.contains("My parcel") && !html.contains("Someone else"),
        "{html}"
    );
    let other = app
        .get_with_cookie(&format!("/portal/tickets/{}", theirs["id"]), &cookie)
        .await;
    assert_eq!(other.status, StatusCode::NOT_FOUND);
    let page = app
        .get_with_cookie(&format!("/portal/tickets/{}", mine["id"]), &cookie)
        .await;
    let html = String::from_utf8_lossy(&page.raw).to_string();
    assert!(
        html.contains("It ships tomorrow.") && !html.contains("secret internal remark"),
        "public messages only"
    );
    let csrf = csrf_of(&html);

    // Replying reopens a pending ticket, as the customer.
    let r = app
        .post_form(
            &format!("/portal/tickets/{}/reply", mine["id"]),
            form(&[("csrf", &csrf), ("body", "Thanks, still waiting")]),
            Some(&cookie),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let t = app
        .get(&format!("/api/v1/tickets/{}", mine["id"]))
        .await
        .body;
    assert_eq!(t["status"], "open");
    let ev = app
        .get(&format!("/api/v1/tickets/{}/events", mine["id"]))
        .await
        .body;
    let last = ev["items"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        last["actor"],
        json!({"kind": "customer", "id": mine["requester_id"]})
    );
    let forged = app
        .post_form(
            &format!("/portal/tickets/{}/solve", theirs["id"]),
            form(&[("csrf", &csrf)]),
            Some(&cookie),
        )
        .await;
    assert_eq!(
        forged.status,
        StatusCode::NOT_FOUND,
        "cannot solve someone else's ticket"
    );
    let r = app
        .post_form(
            &format!("/portal/tickets/{}/solve", mine["id"]),
            form(&[("csrf", &csrf)]),
            Some(&cookie),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(
        app.get(&format!("/api/v1/tickets/{}", mine["id"]))
            .await
            .body["status"],
        "solved"
    );
    // An expired link does not work: move the clock.
    app.post_form("/portal/login", form(&[("email", "ana@example.com")]), None)
        .await;
    while worker.tick().await.unwrap() > 0 {}
    let link = link_in(&sink.messages()[1].data, "/portal/auth?token=").unwrap();
    app.clock.advance(chrono::Duration::minutes(31));
    let late = app
        .raw(
            Method::GET,
            link.strip_prefix("http://tend.test").unwrap(),
            None,
            None,
            vec![],
            &[],
        )
        .await;
    assert!(String::from_utf8_lossy(&late.raw).contains("expired"));
}

#[tokio::test]
async fn the_contact_form_files_tickets_and_drops_bots() {
    let app = TestApp::spawn().await;
    let ok = app
        .post_form(
            "/contact",
            form(&[
                ("name", "Rosa Weber"),
                ("email", "rosa@example.com"),
                ("subject", "Wrong size"),
                ("message", "The shoes are too small <b>sadly</b>."),
            ]),
            None,
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK);
    assert!(String::from_utf8_lossy(&ok.raw).contains("We have your request (#1)"));
    let t = app.get("/api/v1/tickets/1").await.body;
    assert_eq!(
        (t["channel"].as_str(), t["subject"].as_str()),
        (Some("web"), Some("Wrong size"))
    );
    assert_eq!(t["tags"], json!(["contact-form"]));
    let m = app.get("/api/v1/tickets/1/messages").await.body;
    assert_eq!(
        m["items"][0]["body_html"],
        "The shoes are too small &lt;b&gt;sadly&lt;/b&gt;."
    );
    let bot = app
        .post_form(
            "/contact",
            form(&[
                ("name", "Bot"),
                ("email", "bot@example.com"),
                ("subject", "Buy"),
                ("message", "spam"),
                ("website", "http://spam.example"),
            ]),
            None,
        )
        .await;
    assert!(String::from_utf8_lossy(&bot.raw).contains("Thank you"));
    assert_eq!(
        app.get("/api/v1/tickets").await.body["items"]
            .as_array()
            .unwrap()
            .len(),
        1,
        "the honeypot dropped the bot"
    );
    let bad = app
        .post_form(
            "/contact",
            form(&[
                ("name", "X"),
                ("email", "nope"),
                ("subject", "s"),
                ("message", "m"),
            ]),
            None,
        )
        .await;
    assert!(String::from_utf8_lossy(&bad.raw).contains("valid e-mail"));
    // Throttled after a burst from one client.
    for i in 0..5 {
        app.raw(
            Method::POST,
            "/contact",
            None,
            Some("application/x-www-form-urlencoded"),
            form(&[
                ("name", "Rosa"),
                ("email", &format!("r{i}@example.com")),
                ("subject", "s"),
                ("message", "m"),
            ]),
            &[],
        )
        .await;
    }
    let r = app
        .post_form(
            "/contact",
            form(&[
                ("name", "Rosa"),
                ("email", "late@example.com"),
                ("subject", "s"),
                ("message", "m"),
            ]),
            None,
        )
        .await;
    assert!(String::from_utf8_lossy(&r.raw).contains("several requests"));
}
