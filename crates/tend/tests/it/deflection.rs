//! Self-service (issue 6): article suggestions while a customer types on the contact form
//! (session: shown → clicked → submitted or abandoned), suggestions for agents on the ticket
//! page, the auto-reply with a one-click "this solved my problem" link (GET changes nothing,
//! POST solves once), and the analytics numbers, checked by hand; bad input and who may see
//! what. Runs on SQLite and PostgreSQL like the rest of the suite.

use crate::harness::*;
use crate::smtp_sink::{link_in, SmtpSink};
use axum::http::{Method, StatusCode};
use chrono::Duration;
use serde_json::{json, Value};
use std::sync::Arc;
use tend_core::Role;
use tend_search::Search;
use tend_store::mail::{ClosedPolicy, NewMailbox};

/// The app with search switched on (the harness app has none).
fn with_search(app: &mut TestApp, search: &Search, base_url: &str) {
    let mut state = tend_web::AppState::new(app.store.clone(), Arc::new(app.clock.clone()))
        .with_search(Arc::new(search.clone()));
    state.mail = Arc::new(tend_web::mail::MailConfig::new(
        None,
        "Shop Support <support@shop.test>".into(),
        base_url.into(),
    ));
    app.router = tend_web::router(state);
}

/// Published public articles "Track your parcel" and "Refund to PayPal", an internal
/// "Parcel fraud checks" and a draft "Parcel draft"; the index caught up.
async fn articles(app: &TestApp, search: &Search) -> (i64, i64, i64) {
    let c = app
        .post("/api/v1/kb/categories", json!({"name": "Orders"}))
        .await;
    let s = app
        .post(
            "/api/v1/kb/sections",
            json!({"category_id": c.body["id"], "name": "Shipping"}),
        )
        .await;
    let sec = s.body["id"].as_i64().unwrap();
    let mk = |title: &'static str, body: &'static str, extra: Value| {
        let mut b = json!({"section_id": sec, "title": title, "body_markdown": body, "status": "published"});
        for (k, v) in extra.as_object().unwrap() {
            b[k] = v.clone();
        }
        b
    };
    let parcel = app
        .post(
            "/api/v1/kb/articles",
            mk(
                "Track your parcel",
                "Where is my parcel? Follow the tracking link in your shipping mail.",
                json!({}),
            ),
        )
        .await;
    assert_eq!(parcel.status, StatusCode::CREATED, "{parcel:?}");
    let refund = app
        .post(
            "/api/v1/kb/articles",
            mk(
                "Refund to PayPal",
                "Refunds go back to your PayPal account within 5 days.",
                json!({}),
            ),
        )
        .await;
    let internal = app
        .post(
            "/api/v1/kb/articles",
            mk(
                "Parcel fraud checks",
                "Internal: parcel fraud checks for agents.",
                json!({"visibility": "internal"}),
            ),
        )
        .await;
    app.post(
        "/api/v1/kb/articles",
        mk(
            "Parcel draft",
            "A parcel draft nobody may see.",
            json!({"status": "draft"}),
        ),
    )
    .await;
    // On PostgreSQL the change feed holds back while any transaction in the cluster that
    // started before the last change is still running (other tests' included): ask again,
    // a bounded number of times, as the search tailer does every second.
    for _ in 0..50 {
        tend_search::feed::catch_up_articles(&*app.store, search)
            .await
            .unwrap();
        if search.kb().num_docs() >= 3 {
            break;
        }
    }
    assert_eq!(search.kb().num_docs(), 3, "three live articles indexed");
    (
        parcel.body["id"].as_i64().unwrap(),
        refund.body["id"].as_i64().unwrap(),
        internal.body["id"].as_i64().unwrap(),
    )
}

async fn anon(app: &TestApp, path: &str) -> Resp {
    app.raw(Method::GET, path, None, None, vec![], &[]).await
}

fn page_text(r: &Resp) -> String {
    String::from_utf8_lossy(&r.raw).into_owned()
}

fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// A contact-form page's deflection session id.
async fn form_session(app: &TestApp) -> String {
    let r = anon(app, "/contact").await;
    assert_eq!(r.status, StatusCode::OK);
    let html = page_text(&r);
    assert!(
        html.contains(r#"<script src="/self-service/deflect.js" defer></script>"#),
        "the script is an asset"
    );
    assert!(!html.contains("<script>"), "no inline script");
    let i = html.find("data-deflect=\"").expect("a deflection session") + 14;
    let s = html[i..i + 32].to_string();
    assert!(html.contains(&format!(r#"name="deflect" value="{s}""#)));
    s
}

async fn suggest(app: &TestApp, q: &str, session: Option<&str>) -> Resp {
    let mut path = format!("/api/v1/kb/suggestions?q={}", enc(q));
    if let Some(s) = session {
        path.push_str(&format!("&session={s}"));
    }
    anon(app, &path).await
}

fn titles(r: &Resp) -> Vec<String> {
    r.body["suggestions"]
        .as_array()
        .unwrap_or_else(|| panic!("no suggestions in {r:?}"))
        .iter()
        .map(|h| h["title"].as_str().unwrap().to_string())
        .collect()
}

async fn analytics(app: &TestApp) -> Value {
    let day = app.now().date_naive().to_string();
    let r = app
        .get(&format!("/api/v1/kb/analytics?from={day}&to={day}"))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    r.body
}

async fn contact(app: &TestApp, session: &str, subject: &str) -> Resp {
    app.post_form(
        "/contact",
        form(&[
            ("name", "Ann Example"),
            ("email", "ann@example.com"),
            ("subject", subject),
            ("message", "It has not arrived yet."),
            ("deflect", session),
        ]),
        None,
    )
    .await
}

#[tokio::test]
async fn deflection_sessions_suggest_count_clicks_link_tickets_and_add_up() {
    let mut app = TestApp::spawn().await;
    let search = Search::open_in_ram().unwrap();
    with_search(&mut app, &search, "http://tend.test");
    let (parcel, refund, internal) = articles(&app, &search).await;

    let js = anon(&app, "/self-service/deflect.js").await;
    assert_eq!(js.status, StatusCode::OK);
    assert_eq!(js.headers["content-type"], "text/javascript");

    // Session 1: types, sees the parcel article (never the internal one or the draft),
    // opens it, then still sends the form.
    let s1 = form_session(&app).await;
    let r = suggest(&app, "Where is my parcel", Some(&s1)).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(titles(&r), vec!["Track your parcel"]);
    let url = r.body["suggestions"][0]["url"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(url, format!("/self-service/open/{parcel}?s={s1}&l=en"));
    let open = anon(&app, &url).await;
    assert_eq!(open.status, StatusCode::SEE_OTHER);
    assert_eq!(
        open.headers["location"],
        format!("/help/en/articles/{parcel}").as_str()
    );
    // An internal article's id through the same door: redirected (the help center will say
    // 404), not counted.
    let r = anon(&app, &format!("/self-service/open/{internal}?s={s1}&l=en")).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let sess = app.store.kb_deflect_session(&s1).await.unwrap().unwrap();
    assert_eq!((sess.clicks, sess.hits, sess.ticket_id), (1, 1, None));
    assert_eq!(sess.query, "where is my parcel");
    let r = contact(&app, &s1, "Parcel missing").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(page_text(&r).contains("We have your request"));
    let tickets = app.get("/api/v1/tickets?limit=10").await;
    let ticket_id = tickets.body["items"][0]["id"].as_i64().unwrap();
    let sess = app.store.kb_deflect_session(&s1).await.unwrap().unwrap();
    assert_eq!(sess.ticket_id, Some(ticket_id), "the ticket is linked");
    // Sending the form again with the same session does not move the link.
    contact(&app, &s1, "Parcel missing again").await;
    let again = app.store.kb_deflect_session(&s1).await.unwrap().unwrap();
    assert_eq!(again.ticket_id, Some(ticket_id));

    // Session 2: sees and opens the refund article, never sends the form.
    let s2 = form_session(&app).await;
    assert_ne!(s1, s2);
    let r = suggest(&app, "refund paypal", Some(&s2)).await;
    assert_eq!(titles(&r), vec!["Refund to PayPal"]);
    anon(&app, &format!("/self-service/open/{refund}?s={s2}&l=en")).await;

    // Session 3: finds nothing, leaves.
    let s3 = form_session(&app).await;
    let r = suggest(&app, "Xylophone lessons??", Some(&s3)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(titles(&r).is_empty());

    // Help center: one search with results, one without; a result opened; feedback.
    let r = anon(&app, "/help/en/search?q=parcel").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(page_text(&r).contains(&format!("{parcel}-track-your-parcel?from=search")));
    anon(&app, "/help/en/search?q=Qwertz+keyboard%21").await;
    let r = anon(
        &app,
        &format!("/help/en/articles/{parcel}-track-your-parcel?from=search"),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    for helpful in [true, false] {
        let r = app
            .raw(
                Method::POST,
                &format!("/api/v1/kb/articles/{parcel}/feedback"),
                None,
                Some("application/json"),
                serde_json::to_vec(&json!({"helpful": helpful, "locale": "en"})).unwrap(),
                &[],
            )
            .await;
        assert!(r.status.is_success(), "{r:?}");
    }

    // Within 30 minutes sessions 2 and 3 are still open: nothing deflected yet.
    let a = analytics(&app).await;
    assert_eq!(a["sessions"]["open"], 2, "{a}");
    assert_eq!(a["deflected"], 0);
    // Half an hour later: session 2 (opened an article, no ticket) is deflected; session 3
    // (opened nothing) abandoned, not deflected.
    app.clock.advance(Duration::minutes(31));
    let a = analytics(&app).await;
    // Searches: 2 help-center + 3 sessions; zero results: "qwertz keyboard" + session 3.
    assert_eq!(a["help_center_searches"], 2, "{a}");
    assert_eq!(a["suggestion_searches"], 3);
    assert_eq!(a["searches"], 5);
    assert_eq!(a["zero_result_searches"], 2);
    // Clicks: 1 help-center result + 2 sessions that opened an article, of 3 searches with
    // results.
    assert_eq!(a["clicks"], 3);
    assert_eq!(a["click_through_rate"], 1.0);
    assert_eq!(a["article_views"], 1);
    assert_eq!(
        (a["helpful_yes"].clone(), a["helpful_no"].clone()),
        (json!(1), json!(1))
    );
    assert_eq!(a["helpful_rate"], 0.5);
    // Two contact-form tickets (the second send made a second ticket); one came after an
    // article was opened.
    assert_eq!(a["tickets"], 2);
    assert_eq!(a["tickets_after_article_view"], 1);
    assert_eq!(
        a["sessions"],
        json!({"shown": 3, "clicked": 2, "submitted": 1, "deflected": 1, "abandoned": 1, "open": 0})
    );
    assert_eq!(a["deflected"], 1);
    // 1 / (1 + 2)
    assert_eq!(a["self_service_ratio"], 0.3333);
    let gaps: Vec<(String, i64)> = a["content_gaps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["query"].as_str().unwrap().into(),
                g["searches"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        gaps,
        vec![
            ("qwertz keyboard".into(), 1),
            ("xylophone lessons".into(), 1)
        ]
    );
    assert_eq!(a["top_articles"][0]["id"], parcel);
    assert_eq!(a["top_articles"][0]["views"], 1);
    // Clicks on the parcel article: the help-center result and session 1's suggestion.
    assert_eq!(a["top_articles"][0]["clicks"], 2);
    assert_eq!(a["daily"].as_array().unwrap().len(), 1);
    assert_eq!(a["daily"][0]["deflected"], 1);
    assert!(a["definitions"]["self_service_ratio"].is_string());

    // A range without anything: zeros and no rates (not 0 %).
    let r = app
        .get("/api/v1/kb/analytics?from=2020-01-01&to=2020-01-31")
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["searches"], 0);
    assert_eq!(r.body["click_through_rate"], Value::Null);
    assert_eq!(r.body["daily"].as_array().unwrap().len(), 31);
}

#[tokio::test]
async fn suggestions_take_any_text_and_refuse_bad_parameters_clearly() {
    let mut app = TestApp::spawn().await;
    let search = Search::open_in_ram().unwrap();
    with_search(&mut app, &search, "http://tend.test");
    let (parcel, _, _) = articles(&app, &search).await;
    // A 10,000-character paste, punctuation only, query syntax, control characters, nothing.
    let long = "parcel ".repeat(1_500);
    for q in [
        long.as_str(),
        "?!?!.,;:---",
        "title:x AND (y \"",
        "\u{0}\u{7}parcel\u{1b}",
        "",
        "ab",
    ] {
        let r = suggest(&app, q, None).await;
        assert_eq!(r.status, StatusCode::OK, "{q:.40}: {r:?}");
        assert!(r.body["suggestions"].is_array());
    }
    let r = suggest(&app, &long, None).await;
    assert_eq!(r.body["suggestions"][0]["id"], parcel);
    // Without a session the link goes straight to the article.
    assert_eq!(
        r.body["suggestions"][0]["url"],
        format!("/help/en/articles/{parcel}-track-your-parcel").as_str()
    );
    let r = anon(
        &app,
        "/api/v1/kb/suggestions?q=parcel&session=not-a-session",
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.body["field"], "session");
    let r = anon(&app, "/api/v1/kb/suggestions?q=parcel&locale=english").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.body["field"], "locale");
    // A session id nobody handed out records nothing when clicked.
    let ghost = "0123456789abcdef0123456789abcdef";
    anon(&app, &format!("/self-service/open/{parcel}?s={ghost}")).await;
    assert!(app.store.kb_deflect_session(ghost).await.unwrap().is_none());
    let r = anon(&app, "/self-service/open/abc?s=zzz&l=%3Cscript%3E").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.headers["location"], "/help/en");

    // Throttled per client: 60 a minute, clicks on suggestion links included (this test has
    // asked 9 times and clicked once so far).
    let mut limited = None;
    for i in 0..60 {
        let r = suggest(&app, "x", None).await;
        if r.status == StatusCode::TOO_MANY_REQUESTS {
            limited = Some(i);
            break;
        }
    }
    assert_eq!(limited, Some(50), "the 61st request in a minute is refused");
    app.clock.advance(Duration::minutes(2));
    assert_eq!(suggest(&app, "x", None).await.status, StatusCode::OK);
}

#[tokio::test]
async fn analytics_need_an_agent_and_a_sane_range() {
    let app = TestApp::spawn().await;
    let (_, agent) = app.agent("kim@shop.test", Role::Agent, &[]).await;
    let r = anon(&app, "/api/v1/kb/analytics").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = app
        .call(
            Method::GET,
            "/api/v1/kb/analytics",
            "tend_not_a_token",
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    // Every agent has knowledge-base rights; the default range is the last 30 days.
    let r = app
        .call(Method::GET, "/api/v1/kb/analytics", &agent, None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(r.body["daily"].as_array().unwrap().len(), 30);
    assert_eq!(r.body["to"], app.now().date_naive().to_string().as_str());
    for (q, field) in [
        ("from=2026-13-01", "from"),
        ("from=yesterday", "from"),
        ("to=2026-02-30", "to"),
        ("from=2026-11-02&to=2026-11-01", "from"),
        ("from=2020-01-01&to=2026-01-01", "from"),
    ] {
        let r = app.get(&format!("/api/v1/kb/analytics?{q}")).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{q}: {r:?}");
        assert_eq!(r.body["field"], field, "{q}");
    }
    // Without search (this app has none) suggestions are an empty list and nothing is
    // recorded.
    let sess = "00112233445566778899aabbccddeeff";
    let r = suggest(&app, "where is my parcel", Some(sess)).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(r.body, json!({"suggestions": []}));
    assert!(app.store.kb_deflect_session(sess).await.unwrap().is_none());
    let r = app.get("/api/v1/kb/analytics?since=2026-01-01").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    // The auto-reply switch: off by default; only admins change it.
    let r = app.get("/api/v1/kb/auto-reply").await;
    assert_eq!(r.body, json!({"enabled": false}));
    let r = app
        .call(
            Method::PUT,
            "/api/v1/kb/auto-reply",
            &agent,
            Some(json!({"enabled": true})),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = app
        .call(
            Method::PUT,
            "/api/v1/kb/auto-reply",
            app.admin_token(),
            Some(json!({"enabled": "yes"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn agents_get_article_suggestions_on_the_ticket_page_and_an_analytics_page() {
    let mut app = TestApp::spawn().await;
    let search = Search::open_in_ram().unwrap();
    with_search(&mut app, &search, "http://tend.test");
    let (parcel, _, _) = articles(&app, &search).await;
    app.post("/api/v1/agents", json!({"email": "lena@shop.test", "name": "Lena", "role": "agent", "password": "correct horse battery"})).await;
    let lena = app
        .store
        .agent_by_email("lena@shop.test")
        .await
        .unwrap()
        .unwrap();
    let t = app
        .ticket(json!({"subject": "My parcel never came", "assignee_id": lena.id,
                       "requester": {"email": "c@example.com"}, "comment": {"body": "Where is my parcel?"}}))
        .await;
    let cookie = crate::ui::sign_in(&app, "lena@shop.test", "correct horse battery").await;
    let r = app
        .get_with_cookie(&format!("/tickets/{}", t["id"]), &cookie)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let html = page_text(&r);
    let url = format!("http://tend.test/help/en/articles/{parcel}-track-your-parcel");
    assert!(html.contains(r#"id="kb-suggestions""#), "{html}");
    assert!(html.contains(&format!(r#"data-kb-insert="{url}""#)));
    assert!(
        !html.contains("Parcel fraud checks"),
        "internal articles are not linked for customers"
    );
    assert!(html.contains(r#"<script src="/self-service/agent.js" defer></script>"#));
    let js = anon(&app, "/self-service/agent.js").await;
    assert_eq!(js.status, StatusCode::OK);
    assert!(page_text(&js).contains("data-kb-insert"));

    let r = app.get_with_cookie("/kb/analytics", &cookie).await;
    assert_eq!(r.status, StatusCode::OK);
    let html = page_text(&r);
    assert!(
        html.contains("<svg") && html.contains("Content gaps"),
        "{html}"
    );
    assert!(r.headers["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("script-src 'self'"));
    let r = app
        .get_with_cookie("/kb/analytics?from=2026-11-30&to=2026-11-01", &cookie)
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page_text(&r).contains("must be on or before"));
    let r = anon(&app, "/kb/analytics").await;
    assert_eq!(
        r.status,
        StatusCode::SEE_OTHER,
        "signed out: to the sign-in page"
    );
}

struct AutoReplyApp {
    app: TestApp,
    sink: SmtpSink,
    worker: tend_web::worker::Worker,
}

async fn auto_reply_app() -> (AutoReplyApp, Search) {
    let mut app = TestApp::spawn().await;
    let search = Search::open_in_ram().unwrap();
    with_search(&mut app, &search, "http://tend.test");
    let sink = SmtpSink::start().await;
    let cfg = Arc::new(tend_web::mail::MailConfig::new(
        Some(sink.url.clone()),
        "Shop Support <support@shop.test>".into(),
        "http://tend.test".into(),
    ));
    app.store
        .create_mailbox(
            NewMailbox {
                address: "support@shop.test".into(),
                name: "Shop Support".into(),
                group_id: None,
                brand_id: None,
                closed_policy: ClosedPolicy::Reopen,
                auto_ack: false,
                imap: None,
            },
            tend_core::Actor::SYSTEM,
            app.now(),
        )
        .await
        .unwrap();
    let worker = tend_web::worker::Worker::new(app.store.clone(), Arc::new(app.clock.clone()))
        .with_mail(cfg)
        .with_search(Some(Arc::new(search.clone())));
    (AutoReplyApp { app, sink, worker }, search)
}

async fn mail_in(app: &TestApp, id: &str, extra: &str, subject: &str, body: &str) -> i64 {
    let raw = format!(
        "From: Ann Example <ann@example.com>\r\nTo: support@shop.test\r\nSubject: {subject}\r\nMessage-ID: <{id}@example.com>\r\n{extra}Date: Tue, 24 Nov 2026 09:00:00 +0000\r\n\r\n{body}\r\n"
    );
    let r = app
        .raw(
            Method::POST,
            "/api/v1/mail/inbound?recipient=support@shop.test",
            Some(app.admin_token()),
            Some("message/rfc822"),
            raw.into_bytes(),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    assert_eq!(r.body["outcome"], "created", "{r:?}");
    r.body["ticket_id"].as_i64().unwrap()
}

async fn status_of(app: &TestApp, id: i64) -> String {
    app.get(&format!("/api/v1/tickets/{id}")).await.body["status"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn the_auto_reply_mails_articles_and_its_link_solves_once_by_post_only() {
    let (x, search) = auto_reply_app().await;
    let app = &x.app;
    let (parcel, _, _) = articles(app, &search).await;

    // Off by default: a new mail ticket gets no auto-reply.
    let quiet = mail_in(app, "m1", "", "Where is my parcel?", "It did not arrive.").await;
    x.worker.tick().await.unwrap();
    assert!(
        x.sink.messages().is_empty(),
        "nothing sent while switched off"
    );
    assert_eq!(status_of(app, quiet).await, "new");

    let r = app
        .call(
            Method::PUT,
            "/api/v1/kb/auto-reply",
            app.admin_token(),
            Some(json!({"enabled": true})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    // Automatic mail never gets one (intake does not even open a ticket for it).
    let raw = "From: robot@example.com\r\nTo: support@shop.test\r\nSubject: Parcel delivery report\r\nMessage-ID: <m2@example.com>\r\nAuto-Submitted: auto-generated\r\n\r\nYour parcel was delivered.\r\n";
    let r = app
        .raw(
            Method::POST,
            "/api/v1/mail/inbound?recipient=support@shop.test",
            Some(app.admin_token()),
            Some("message/rfc822"),
            raw.as_bytes().to_vec(),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    assert_ne!(r.body["outcome"], "created");
    x.worker.tick().await.unwrap();
    assert!(
        x.sink.messages().is_empty(),
        "no auto-reply to automatic mail"
    );

    let id = mail_in(
        app,
        "m3",
        "",
        "Where is my parcel?",
        "Tracking shows nothing.",
    )
    .await;
    x.worker.tick().await.unwrap();
    let sent = x.sink.messages();
    assert_eq!(sent.len(), 1, "one auto-reply");
    assert_eq!(sent[0].to, vec!["ann@example.com".to_string()]);
    let data = &sent[0].data;
    assert!(data.contains("Auto-Submitted: auto-replied"), "{data}");
    let article = link_in(data, "/help/en/articles/").expect("an article link");
    assert_eq!(
        article,
        format!("http://tend.test/help/en/articles/{parcel}-track-your-parcel")
    );
    let link = link_in(data, "/self-service/solved?t=").expect("the solve link");
    let path = link.trim_start_matches("http://tend.test").to_string();
    let token = path.split("t=").nth(1).unwrap().to_string();

    // A GET (a link scanner, or the customer) shows a confirmation and changes nothing.
    for _ in 0..2 {
        let r = anon(app, &path).await;
        assert_eq!(r.status, StatusCode::OK);
        let html = page_text(&r);
        assert!(
            html.contains(r#"method="post" action="/self-service/solved""#),
            "{html}"
        );
        assert!(html.contains("Where is my parcel?"));
        assert!(!html.contains("<script"));
        assert!(r.headers["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("default-src 'none'"));
    }
    assert_eq!(status_of(app, id).await, "new");

    // From another site: refused.
    let r = app
        .raw(
            Method::POST,
            "/self-service/solved",
            None,
            Some("application/x-www-form-urlencoded"),
            form(&[("t", &token)]),
            &[("origin", "http://evil.example"), ("host", "tend.test")],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(status_of(app, id).await, "new");
    // A wrong token: a clear 404 page, nothing solved.
    let r = app
        .post_form("/self-service/solved", form(&[("t", "tend_wrong")]), None)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(page_text(&r).contains("not valid"));

    // The POST solves the ticket, as its requester, once.
    let r = app
        .post_form("/self-service/solved", form(&[("t", &token)]), None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert!(page_text(&r).contains("We closed your request"));
    assert_eq!(status_of(app, id).await, "solved");
    let events = app.get(&format!("/api/v1/tickets/{id}/events")).await;
    let last = events.body["items"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["actor"]["kind"], "customer", "{last}");
    // Replayed: a clear message, nothing changes.
    let r = app
        .post_form("/self-service/solved", form(&[("t", &token)]), None)
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(page_text(&r).contains("was used already"));
    let r = anon(app, &path).await;
    assert!(page_text(&r).contains("was used already"));
    // The job running again (a retry) sends nothing new for a used link.
    app.store
        .schedule_job(
            &format!("kb-auto-reply:{id}"),
            tend_store::NewJob {
                kind: tend_store::kb_analytics::KB_AUTO_REPLY_JOB.into(),
                payload: json!({"ticket_id": id}),
                run_at: app.now(),
                max_attempts: 1,
            },
        )
        .await
        .unwrap();
    x.worker.tick().await.unwrap();
    assert_eq!(x.sink.messages().len(), 1);

    // Two clicks at once (a double submit): one solves, the other is told it was used.
    let id2 = mail_in(
        app,
        "m4",
        "",
        "Refund to PayPal missing",
        "Where is my refund?",
    )
    .await;
    x.worker.tick().await.unwrap();
    let sent = x.sink.messages();
    assert_eq!(sent.len(), 2);
    assert!(sent[1].data.contains("Refund to PayPal"));
    let link2 = link_in(&sent[1].data, "/self-service/solved?t=").unwrap();
    let token2 = link2.split("t=").nth(1).unwrap().to_string();
    assert_ne!(token, token2);
    let body = form(&[("t", &token2)]);
    let (r1, r2) = tokio::join!(
        app.post_form("/self-service/solved", body.clone(), None),
        app.post_form("/self-service/solved", body.clone(), None)
    );
    let mut codes = vec![r1.status.as_u16(), r2.status.as_u16()];
    codes.sort();
    assert_eq!(codes, vec![200, 409]);
    assert_eq!(status_of(app, id2).await, "solved");
    let solves = app.get(&format!("/api/v1/tickets/{id2}/events")).await.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e.to_string().contains("solved"))
        .count();
    assert_eq!(solves, 1, "solved once");

    // Three mail tickets, two solved by the auto-reply: 2 deflected against 1 other ticket.
    let a = analytics(app).await;
    assert_eq!(a["tickets"], 3, "{a}");
    assert_eq!(a["auto_replies_sent"], 2);
    assert_eq!(a["auto_reply_solved"], 2);
    assert_eq!(a["deflected"], 2);
    assert_eq!(a["self_service_ratio"], 0.6667);
    let doc = anon(app, "/api/v1/openapi.json").await.body;
    for p in ["/kb/suggestions", "/kb/analytics", "/kb/auto-reply"] {
        assert!(doc["paths"].get(p).is_some(), "openapi lacks {p}");
    }
}
