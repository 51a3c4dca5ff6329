//! Issue 4: the portal, the contact form and the sign-in mail in the customer's language
//! (customer → Accept-Language → brand default → English); sign-in and reset requests that
//! answer known and unknown addresses alike; help-center categories per brand.

use crate::harness::*;
use crate::smtp_sink::link_in;
use axum::http::{Method, StatusCode};
use serde_json::{json, Value};
use std::sync::Arc;
use tend_search::Search;

fn text(r: &Resp) -> String {
    String::from_utf8_lossy(&r.raw).into_owned()
}

async fn public(app: &TestApp, path: &str, headers: &[(&str, &str)]) -> Resp {
    app.raw(Method::GET, path, None, None, vec![], headers)
        .await
}

async fn post_public(app: &TestApp, path: &str, body: Vec<u8>, headers: &[(&str, &str)]) -> Resp {
    app.raw(
        Method::POST,
        path,
        None,
        Some("application/x-www-form-urlencoded"),
        body,
        headers,
    )
    .await
}

#[tokio::test]
async fn portal_a_german_customer_sees_german_pages_and_gets_a_german_sign_in_mail() {
    let (app, sink, worker) = spawn_with_mail().await;
    let t = app
        .ticket(json!({"subject": "Paket fehlt", "requester": {"email": "jonas@example.de", "name": "Jonas"}, "comment": {"body": "Wo ist es?"}}))
        .await;
    let r = app
        .patch(
            &format!("/api/v1/customers/{}", t["requester_id"]),
            json!({"language": "de"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");

    // The browser says English; the link mail follows the customer's stored language.
    let r = post_public(
        &app,
        "/portal/login",
        form(&[("email", "jonas@example.de")]),
        &[("accept-language", "en-US,en;q=0.9")],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(text(&r).contains("If we know this address"), "{}", text(&r));
    while worker.tick().await.unwrap() > 0 {}
    let mails = sink.messages();
    let mail = mails
        .iter()
        .find(|m| m.to == vec!["jonas@example.de"] && m.data.contains("/portal/auth?token="))
        .expect("a sign-in mail");
    assert!(
        mail.data.contains("Subject: Ihr Anmeldelink"),
        "{}",
        mail.data
    );
    assert!(mail.data.contains("Hallo Jonas"), "{}", mail.data);
    let link = link_in(&mail.data, "/portal/auth?token=").unwrap();
    let r = public(&app, link.strip_prefix("http://tend.test").unwrap(), &[]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let cookie = r.headers["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();

    // Signed in, the customer's language wins over the header.
    let home = public(
        &app,
        "/portal",
        &[("cookie", &cookie), ("accept-language", "fr")],
    )
    .await;
    let html = text(&home);
    assert!(html.contains("<html lang=\"de\">"), "{html}");
    assert!(html.contains("Hallo Jonas"), "{html}");
    assert!(
        html.contains("Ihre Anfragen") && html.contains("Abmelden"),
        "{html}"
    );
    assert!(
        html.contains(">neu<") || html.contains(">offen<"),
        "state in German: {html}"
    );
    assert!(html.contains("Paket fehlt"));
    let page = public(
        &app,
        &format!("/portal/tickets/{}", t["id"]),
        &[("cookie", &cookie)],
    )
    .await;
    let html = text(&page);
    assert!(
        html.contains("Antwort hinzufügen") && html.contains("Mein Problem ist gelöst"),
        "{html}"
    );
    assert!(html.contains("Alle Ihre Anfragen"), "{html}");
}

#[tokio::test]
async fn portal_accept_language_picks_the_contact_forms_language() {
    let app = TestApp::spawn().await;
    // French by q-value, with a regional tag.
    let r = public(
        &app,
        "/contact",
        &[("accept-language", "de;q=0.3, fr-CH, en;q=0.8")],
    )
    .await;
    let html = text(&r);
    assert!(html.contains("<html lang=\"fr\">"), "{html}");
    assert!(
        html.contains("Nous contacter") && html.contains("Votre adresse e-mail"),
        "{html}"
    );
    assert!(
        html.contains("data-lang=\"fr\""),
        "suggestions in French too: {html}"
    );
    assert_eq!(r.headers["vary"], "Accept-Language, Cookie");
    // A refused form answers in French; a filed one thanks in French.
    let bad = post_public(
        &app,
        "/contact",
        form(&[
            ("name", "Anne"),
            ("email", "pas une adresse"),
            ("subject", "Taille"),
            ("message", "Trop petit"),
        ]),
        &[("accept-language", "fr")],
    )
    .await;
    assert!(
        text(&bad).contains("Veuillez saisir une adresse e-mail valide"),
        "{}",
        text(&bad)
    );
    let ok = post_public(
        &app,
        "/contact",
        form(&[
            ("name", "Anne"),
            ("email", "anne@example.fr"),
            ("subject", "Taille"),
            ("message", "Trop petit"),
        ]),
        &[("accept-language", "fr")],
    )
    .await;
    assert!(
        text(&ok).contains("Nous avons bien reçu votre demande (#1)"),
        "{}",
        text(&ok)
    );
    // Spanish wins by q; an unknown language falls back to English; so does no header.
    let es = public(
        &app,
        "/contact",
        &[("accept-language", "en;q=0.1, es;q=0.8")],
    )
    .await;
    assert!(text(&es).contains("<html lang=\"es\">"));
    for h in [&[("accept-language", "ja, zh;q=0.9")][..], &[][..]] {
        let en = public(&app, "/contact", h).await;
        assert!(text(&en).contains("<html lang=\"en\">"));
        assert!(text(&en).contains("Contact us"));
    }
    // Without a header, the brand's default language.
    let b = app
        .post(
            "/api/v1/brands",
            json!({"name": "Tienda", "slug": "tienda", "default_locale": "es-MX"}),
        )
        .await;
    assert_eq!(b.status, StatusCode::CREATED, "{b:?}");
    let r = public(&app, "/contact?brand=tienda", &[]).await;
    assert!(text(&r).contains("<html lang=\"es\">"), "{}", text(&r));
    assert!(text(&r).contains("data-brand=\"tienda\""));
    let r = public(&app, "/portal?brand=tienda", &[("accept-language", "de")]).await;
    assert!(
        text(&r).contains("Ihre Anfragen ansehen"),
        "the header beats the brand"
    );
}

#[tokio::test]
async fn portal_sign_in_and_password_requests_answer_everyone_alike_and_mail_only_the_known() {
    let (app, sink, worker) = spawn_with_mail().await;
    app.ticket(
        json!({"subject": "Hi", "requester": {"email": "known@example.com", "name": "Kim"}}),
    )
    .await;
    app.post("/api/v1/agents", json!({"email": "lena@shop.test", "name": "Lena", "role": "agent", "password": "correct horse battery"})).await;

    let ask = |path: &'static str, email: &'static str| {
        let app = &app;
        async move { post_public(app, path, form(&[("email", email)]), &[]).await }
    };
    let known = ask("/portal/login", "known@example.com").await;
    let unknown = ask("/portal/login", "stranger@example.com").await;
    assert_eq!(known.status, unknown.status);
    assert_eq!(known.raw, unknown.raw, "the same page for both");
    let known = ask("/password/forgot", "lena@shop.test").await;
    let unknown = ask("/password/forgot", "nobody@shop.test").await;
    assert_eq!(known.status, unknown.status);
    assert_eq!(
        text(&known).replace("lena@shop.test", "X"),
        text(&unknown).replace("nobody@shop.test", "X"),
        "the same page for both, but for the address typed"
    );
    // The lookups ran as jobs; only the known addresses got a link.
    while worker.tick().await.unwrap() > 0 {}
    let to: Vec<Vec<String>> = sink
        .messages()
        .into_iter()
        .filter(|m| {
            m.data.contains("/portal/auth?token=") || m.data.contains("/password/reset?token=")
        })
        .map(|m| m.to)
        .collect();
    assert_eq!(to.len(), 2, "{to:?}");
    assert!(to.contains(&vec!["known@example.com".to_string()]));
    assert!(to.contains(&vec!["lena@shop.test".to_string()]));
}

// --- help-center categories per brand -------------------------------------------------------

fn with_search(app: &mut TestApp, search: &Search) {
    let state = tend_web::AppState::new(app.store.clone(), Arc::new(app.clock.clone()))
        .with_search(Arc::new(search.clone()));
    app.router = tend_web::router(state);
}

async fn category(app: &TestApp, name: &str, brand: Option<i64>) -> (i64, i64) {
    let c = app
        .post(
            "/api/v1/kb/categories",
            json!({"name": name, "brand_id": brand}),
        )
        .await;
    assert_eq!(c.status, StatusCode::CREATED, "{c:?}");
    assert_eq!(c.body["brand_id"], json!(brand));
    let s = app
        .post(
            "/api/v1/kb/sections",
            json!({"category_id": c.body["id"], "name": format!("{name} basics")}),
        )
        .await;
    (
        c.body["id"].as_i64().unwrap(),
        s.body["id"].as_i64().unwrap(),
    )
}

async fn publish(app: &TestApp, section: i64, title: &str) -> i64 {
    let r = app
        .post(
            "/api/v1/kb/articles",
            json!({"section_id": section, "title": title, "body_markdown": format!("{title}: how the kettle descaling works."), "status": "published"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    r.body["id"].as_i64().unwrap()
}

#[tokio::test]
async fn portal_help_center_categories_belong_to_a_brand_or_to_all() {
    let mut app = TestApp::spawn().await;
    let search = Search::open_in_ram().unwrap();
    with_search(&mut app, &search);
    let brand = |slug: &'static str| {
        let app = &app;
        async move {
            let b = app
                .post("/api/v1/brands", json!({"name": slug, "slug": slug}))
                .await;
            assert_eq!(b.status, StatusCode::CREATED, "{b:?}");
            b.body["id"].as_i64().unwrap()
        }
    };
    let kettle = brand("kettle").await;
    let teapot = brand("teapot").await;

    // brand_id is checked: unknown → 422; on update, a missing category → 404 first.
    let r = app
        .post(
            "/api/v1/kb/categories",
            json!({"name": "X", "brand_id": 999}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{r:?}");
    assert!(
        r.body["detail"].as_str().unwrap().contains("brand"),
        "{r:?}"
    );
    let r = app
        .patch("/api/v1/kb/categories/999", json!({"brand_id": kettle}))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{r:?}");

    let (_, shared) = category(&app, "Shared", None).await;
    let (kettle_cat, kettle_sec) = category(&app, "Kettles", Some(kettle)).await;
    let (_, teapot_sec) = category(&app, "Teapots", Some(teapot)).await;
    let shared_art = publish(&app, shared, "Shared descaling").await;
    let kettle_art = publish(&app, kettle_sec, "Kettle descaling").await;
    let teapot_art = publish(&app, teapot_sec, "Teapot descaling").await;
    tend_search::feed::catch_up_articles(&*app.store, &search)
        .await
        .unwrap();

    let home = |slug: &'static str| {
        let app = &app;
        async move { text(&public(app, &format!("/help/en?brand={slug}"), &[]).await) }
    };
    let k = home("kettle").await;
    assert!(
        k.contains("Shared") && k.contains("Kettles") && !k.contains("Teapots"),
        "{k}"
    );
    let t = home("teapot").await;
    assert!(
        t.contains("Shared") && t.contains("Teapots") && !t.contains("Kettles"),
        "{t}"
    );
    // Another brand's category and article: 404 there, shown on its own brand.
    let r = public(
        &app,
        &format!("/help/en/categories/{kettle_cat}?brand=teapot"),
        &[],
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = public(
        &app,
        &format!("/help/en/articles/{kettle_art}?brand=teapot"),
        &[],
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = public(
        &app,
        &format!("/help/en/articles/{kettle_art}?brand=kettle"),
        &[],
    )
    .await;
    assert_ne!(r.status, StatusCode::NOT_FOUND);

    // Search and suggestions: the brand's own and the shared articles only.
    let s = text(&public(&app, "/help/en/search?q=descaling&brand=teapot", &[]).await);
    assert!(
        s.contains("Teapot descaling") && s.contains("Shared descaling"),
        "{s}"
    );
    assert!(!s.contains("Kettle descaling"), "{s}");
    let ids = |v: &Value| -> Vec<i64> {
        v["suggestions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["id"].as_i64().unwrap())
            .collect()
    };
    let r = public(
        &app,
        "/api/v1/kb/suggestions?q=kettle+descaling&brand=kettle",
        &[],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let got = ids(&r.body);
    assert!(
        got.contains(&kettle_art) && !got.contains(&teapot_art),
        "{got:?}"
    );
    let r = public(
        &app,
        "/api/v1/kb/suggestions?q=teapot+descaling&brand=kettle",
        &[],
    )
    .await;
    assert!(!ids(&r.body).contains(&teapot_art));
    assert!(ids(&r.body)
        .iter()
        .all(|i| [shared_art, kettle_art].contains(i)));

    // Moving the category to no brand shows it everywhere.
    let r = app
        .patch(
            &format!("/api/v1/kb/categories/{kettle_cat}"),
            json!({"brand_id": null}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert!(home("teapot").await.contains("Kettles"));
}

#[tokio::test]
async fn portal_the_acknowledgement_mail_is_in_the_customers_language() {
    let (app, sink, worker) = spawn_with_mail().await;
    let r = app
        .post(
            "/api/v1/mailboxes",
            json!({"address": "support@shop.test", "name": "Shop"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    let r = app
        .post(
            "/api/v1/customers",
            json!({"name": "Élise Martin", "emails": ["elise@example.fr"], "language": "fr"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    for (who, id) in [("elise@example.fr", "fr1"), ("ann@example.com", "en1")] {
        let raw = format!(
            "From: {who}\r\nTo: support@shop.test\r\nSubject: Colis\r\nMessage-ID: <{id}@example.com>\r\nDate: Tue, 24 Nov 2026 09:00:00 +0000\r\n\r\nO\u{f9} est mon colis ?\r\n"
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
        assert_eq!(r.body["outcome"], "created", "{r:?}");
    }
    while worker.tick().await.unwrap() > 0 {}
    let mails = sink.messages();
    let to = |a: &str| {
        mails
            .iter()
            .find(|m| m.to == vec![a.to_string()])
            .unwrap_or_else(|| panic!("no mail to {a}"))
            .data
            .clone()
    };
    let fr = to("elise@example.fr");
    assert!(
        fr.contains("merci de nous avoir") || fr.contains("merci=20de"),
        "{fr}"
    );
    let en = to("ann@example.com");
    assert!(en.contains("thank you for writing to us"), "{en}");
}
