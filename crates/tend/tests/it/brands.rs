//! Brands end to end: the API (CRUD, validation problems, who may change them, audit), the
//! logo (type by magic bytes, size, caching), the per-brand stylesheet, the admin pages, and
//! the brand on the portal, contact form, help center, survey and kiosk pages (by host,
//! `?brand=`, the ticket's or invitation's brand, else the first brand).

use crate::harness::*;
use axum::http::{Method, StatusCode};
use serde_json::{json, Value};
use tend_core::{Actor, Role};

/// A real 1×1 PNG.
const PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4,
    0x89, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0xf8, 0xcf, 0xc0, 0xf0,
    0x1f, 0x00, 0x05, 0x00, 0x01, 0xff, 0x89, 0x99, 0x3d, 0x1d, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45,
    0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
];
const JPEG: &[u8] = &[
    0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0, 1,
];

async fn brand(app: &TestApp, body: Value) -> Value {
    let r = app.post("/api/v1/brands", body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    r.body
}

async fn put_logo(app: &TestApp, id: i64, token: &str, ct: &str, bytes: &[u8]) -> Resp {
    app.raw(
        Method::PUT,
        &format!("/api/v1/brands/{id}/logo"),
        Some(token),
        Some(ct),
        bytes.to_vec(),
        &[],
    )
    .await
}

/// A public page as a browser asks for it, with extra headers (Host, cookies).
async fn page(app: &TestApp, path: &str, headers: &[(&str, &str)]) -> (StatusCode, String) {
    let r = app
        .raw(Method::GET, path, None, None, vec![], headers)
        .await;
    (r.status, String::from_utf8_lossy(&r.raw).into_owned())
}

fn audit_actions(entries: &Value, target: &str) -> Vec<String> {
    entries["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["target"] == target)
        .map(|e| e["action"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn brands_are_created_changed_and_archived_by_admins_with_clear_problems() {
    let app = TestApp::spawn().await;
    let (_, agent) = app.agent("ann@shop.test", Role::Agent, &[]).await;

    let b = brand(
        &app,
        json!({ "name": "Kettle & Co", "slug": "kettle", "host": "HTTPS://Help.Kettle.Example/" }),
    )
    .await;
    let id = b["id"].as_i64().unwrap();
    assert_eq!(b["host"], "help.kettle.example");
    assert_eq!(b["primary_color"], "#17324d", "today's colours by default");
    assert_eq!(b["accent_color"], "#0b5cad");
    assert_eq!(b["default_locale"], "en");
    assert_eq!(b["logo_url"], Value::Null);
    assert!(b["theme_url"]
        .as_str()
        .unwrap()
        .starts_with("/brands/kettle/theme.css?v="));

    // Taken slug and host: 409 saying which.
    let r = app
        .post(
            "/api/v1/brands",
            json!({ "name": "Other", "slug": "kettle" }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{r:?}");
    assert!(r.body["detail"].as_str().unwrap().contains("slug"), "{r:?}");
    let r = app
        .post(
            "/api/v1/brands",
            json!({ "name": "Other", "slug": "other", "host": "help.kettle.example" }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{r:?}");
    assert!(r.body["detail"].as_str().unwrap().contains("host"), "{r:?}");

    // Bad values: 422 naming the field, with what to do.
    for (body, field, says) in [
        (
            json!({ "name": "X", "slug": "Big Shop" }),
            "slug",
            "a-z, 0-9",
        ),
        (json!({ "name": "", "slug": "x" }), "name", "empty"),
        (
            json!({ "name": "X", "slug": "x", "primary_color": "blue" }),
            "primary_color",
            "six hex digits",
        ),
        // #777777 with white text: 4.47:1, below AA.
        (
            json!({ "name": "X", "slug": "x", "primary_color": "#777777" }),
            "primary_color",
            "4.47:1",
        ),
        (
            json!({ "name": "X", "slug": "x", "accent_color": "#ffcc00" }),
            "accent_color",
            "darker shade",
        ),
        (
            json!({ "name": "X", "slug": "x", "host": "shop.example:8080" }),
            "host",
            "port",
        ),
        (
            json!({ "name": "X", "slug": "x", "default_locale": "english!" }),
            "default_locale",
            "BCP 47",
        ),
        (
            json!({ "name": "X", "slug": "x", "colour": "#000000" }),
            "colour",
            "unknown field",
        ),
    ] {
        let r = app.post("/api/v1/brands", body.clone()).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{body} {r:?}");
        assert_eq!(r.body["field"], field, "{body} {r:?}");
        assert!(
            r.body["detail"].as_str().unwrap().contains(says),
            "{body} {r:?}"
        );
    }
    let r = app
        .post(
            "/api/v1/brands",
            json!({ "name": "X", "slug": "x", "primary_color": "#777777" }),
        )
        .await;
    assert!(
        r.body["detail"].as_str().unwrap().contains("4.5:1"),
        "{r:?}"
    );

    // Agents may read, not change.
    let r = app.call(Method::GET, "/api/v1/brands", &agent, None).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(r.body["items"].as_array().unwrap().len(), 1);
    let r = app
        .call(Method::GET, &format!("/api/v1/brands/{id}"), &agent, None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    for (m, path, body) in [
        (
            Method::POST,
            "/api/v1/brands".to_string(),
            Some(json!({ "name": "Y", "slug": "y" })),
        ),
        (
            Method::PATCH,
            format!("/api/v1/brands/{id}"),
            Some(json!({ "name": "Mine" })),
        ),
        (Method::DELETE, format!("/api/v1/brands/{id}"), None),
    ] {
        let r = app.call(m.clone(), &path, &agent, body).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{m} {path} {r:?}");
    }
    let r = put_logo(&app, id, &agent, "image/png", PNG).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{r:?}");
    let r = app
        .raw(Method::GET, "/api/v1/brands", None, None, vec![], &[])
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);

    // Changes: only the given fields; null removes the host.
    let r = app
        .patch(
            &format!("/api/v1/brands/{id}"),
            json!({ "name": "Kettle and Co", "primary_color": "#0B3D2E", "host": null }),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(r.body["name"], "Kettle and Co");
    assert_eq!(r.body["primary_color"], "#0b3d2e");
    assert_eq!(r.body["host"], Value::Null);
    assert_eq!(r.body["slug"], "kettle");
    let r = app
        .patch(
            &format!("/api/v1/brands/{id}"),
            json!({ "accent_color": "#aaaaaa" }),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{r:?}");
    let r = app
        .patch("/api/v1/brands/999", json!({ "name": "Nope" }))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{r:?}");

    // A second brand; archiving the first makes the second the default.
    let second = brand(&app, json!({ "name": "Teapot Ltd", "slug": "teapot" })).await;
    let r = app
        .call(
            Method::DELETE,
            &format!("/api/v1/brands/{id}"),
            app.admin_token(),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{r:?}");
    let r = app.get("/api/v1/brands").await;
    let items = r.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["id"], second["id"]);
    let r = app.get("/api/v1/brands?include_archived=true").await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 2);
    assert_eq!(r.body["items"][0]["archived"], true);
    // The archived slug stays taken.
    let r = app
        .post(
            "/api/v1/brands",
            json!({ "name": "Again", "slug": "kettle" }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{r:?}");
    let r = app
        .patch(
            &format!("/api/v1/brands/{id}"),
            json!({ "archived": false }),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(r.body["archived_at"], Value::Null);

    // Every change is in the audit log, with what changed.
    let log = app.get("/api/v1/audit-log?limit=100").await;
    assert_eq!(log.status, StatusCode::OK, "{log:?}");
    let mut actions = audit_actions(&log.body, &format!("brand:{id}"));
    actions.sort();
    assert_eq!(
        actions,
        [
            "brand.created",
            "brand.updated",
            "brand.updated",
            "brand.updated"
        ],
        "{}",
        log.body
    );
    let entry = log.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["target"] == format!("brand:{id}") && e["data"]["name"].is_object())
        .expect("the rename");
    assert_eq!(entry["data"]["name"]["from"], "Kettle & Co");
    assert_eq!(entry["data"]["name"]["to"], "Kettle and Co");
    assert_eq!(entry["actor"]["id"], app.admin.0);
    // Nothing changed, nothing written.
    app.patch(
        &format!("/api/v1/brands/{id}"),
        json!({ "name": "Kettle and Co" }),
    )
    .await;
    let log = app.get("/api/v1/audit-log?limit=100").await;
    assert_eq!(audit_actions(&log.body, &format!("brand:{id}")).len(), 4);
}

#[tokio::test]
async fn logos_are_checked_by_type_and_size_and_served_with_caching() {
    let app = TestApp::spawn().await;
    let b = brand(&app, json!({ "name": "Kettle", "slug": "kettle" })).await;
    let id = b["id"].as_i64().unwrap();
    let admin = app.admin_token().to_string();

    // Not a logo: SVG (script risk), other types, bytes that are not what they claim, too big.
    let r = put_logo(
        &app,
        id,
        &admin,
        "image/svg+xml",
        b"<svg onload=\"alert(1)\"/>",
    )
    .await;
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{r:?}");
    assert!(r.body["detail"].as_str().unwrap().contains("SVG"), "{r:?}");
    let r = put_logo(&app, id, &admin, "text/html", PNG).await;
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{r:?}");
    let r = put_logo(&app, id, &admin, "image/png", JPEG).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{r:?}");
    assert_eq!(r.body["field"], "logo");
    assert!(
        r.body["detail"].as_str().unwrap().contains("image/jpeg"),
        "{r:?}"
    );
    let r = put_logo(&app, id, &admin, "image/png", b"<html><script>x</script>").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{r:?}");
    let mut big = PNG.to_vec();
    big.resize(256 * 1024 + 1, 0);
    let r = put_logo(&app, id, &admin, "image/png", &big).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{r:?}");
    let r = app
        .raw(Method::GET, "/brands/kettle/logo", None, None, vec![], &[])
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "nothing stored: {r:?}");

    // Exactly 256 KB is fine; then the real PNG.
    big.truncate(256 * 1024);
    let r = put_logo(&app, id, &admin, "image/png", &big).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(r.body["logo_size"], 256 * 1024);
    let r = put_logo(&app, id, &admin, "image/png; charset=binary", PNG).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(r.body["logo_content_type"], "image/png");
    let url = r.body["logo_url"].as_str().unwrap().to_string();
    assert!(url.starts_with("/brands/kettle/logo?v="), "{url}");

    let r = app.raw(Method::GET, &url, None, None, vec![], &[]).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(r.raw, PNG);
    assert_eq!(r.headers["content-type"], "image/png");
    assert_eq!(r.headers["x-content-type-options"], "nosniff");
    assert!(r.headers["cache-control"]
        .to_str()
        .unwrap()
        .contains("max-age="));
    let etag = r.headers["etag"].to_str().unwrap().to_string();
    assert_eq!(etag, format!("\"{}\"", tend_store::sha256_hex(PNG)));
    let r = app
        .raw(
            Method::GET,
            &url,
            None,
            None,
            vec![],
            &[("if-none-match", &etag)],
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_MODIFIED);
    assert!(r.raw.is_empty());

    // Removing it.
    let r = app
        .call(
            Method::DELETE,
            &format!("/api/v1/brands/{id}/logo"),
            &admin,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(r.body["logo_url"], Value::Null);
    let r = app.raw(Method::GET, &url, None, None, vec![], &[]).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = put_logo(&app, 999, &admin, "image/png", PNG).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{r:?}");

    let log = app.get("/api/v1/audit-log?limit=100").await;
    let actions = audit_actions(&log.body, &format!("brand:{id}"));
    assert_eq!(
        actions
            .iter()
            .filter(|a| *a == "brand.logo_changed")
            .count(),
        2,
        "{actions:?}"
    );
    assert!(actions.contains(&"brand.logo_removed".to_string()));
}

#[tokio::test]
async fn the_theme_stylesheet_sets_the_brand_colours() {
    let app = TestApp::spawn().await;
    let b = brand(
        &app,
        json!({ "name": "Kettle", "slug": "kettle", "primary_color": "#0b3d2e", "accent_color": "#7a1f5c" }),
    )
    .await;
    let r = app
        .raw(
            Method::GET,
            "/brands/kettle/theme.css",
            None,
            None,
            vec![],
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/css"));
    let css = String::from_utf8(r.raw).unwrap();
    assert!(css.contains("--brand-primary: #0b3d2e;"), "{css}");
    assert!(css.contains("--accent: #7a1f5c;"), "{css}");
    assert!(!css.contains('<'));
    // app.css reads the same properties, with today's colours as defaults.
    let r = app
        .raw(Method::GET, "/assets/app.css", None, None, vec![], &[])
        .await;
    let app_css = String::from_utf8(r.raw).unwrap();
    assert!(
        app_css.contains("--brand-primary:#17324d"),
        "default header colour"
    );
    assert!(app_css.contains("background:var(--brand-primary)"));

    for path in ["/brands/nope/theme.css", "/brands/Bad%20Slug/theme.css"] {
        let r = app.raw(Method::GET, path, None, None, vec![], &[]).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}");
    }
    app.call(
        Method::DELETE,
        &format!("/api/v1/brands/{}", b["id"]),
        app.admin_token(),
        None,
    )
    .await;
    let r = app
        .raw(
            Method::GET,
            "/brands/kettle/theme.css",
            None,
            None,
            vec![],
            &[],
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::NOT_FOUND,
        "archived brands have no theme"
    );
}

#[tokio::test]
async fn customer_pages_show_the_brand_of_the_host_the_ticket_or_the_invitation() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().to_string();

    // No brands: today's look.
    let (st, html) = page(&app, "/portal", &[]).await;
    assert_eq!(st, StatusCode::OK);
    assert!(html.contains(">Support<"), "{html}");
    assert!(!html.contains("theme.css"), "{html}");

    let kettle = brand(&app, json!({ "name": "Kettle & Co", "slug": "kettle" })).await;
    let teapot = brand(
        &app,
        json!({ "name": "Teapot Ltd", "slug": "teapot", "host": "help.teapot.example", "primary_color": "#0b3d2e" }),
    )
    .await;
    let teapot_id = teapot["id"].as_i64().unwrap();
    let r = put_logo(&app, teapot_id, &admin, "image/png", PNG).await;
    let teapot_logo = r.body["logo_url"].as_str().unwrap().to_string();

    // The first brand is the default; the name is escaped.
    let (_, html) = page(&app, "/portal", &[]).await;
    assert!(
        html.contains("Kettle &#38; Co") || html.contains("Kettle &amp; Co"),
        "{html}"
    );
    assert!(
        html.contains("href=\"/brands/kettle/theme.css?v="),
        "{html}"
    );
    // The host picks its brand (port and case do not matter); then ?brand=.
    let (_, html) = page(&app, "/portal", &[("host", "Help.Teapot.Example:8443")]).await;
    assert!(html.contains("Teapot Ltd"), "{html}");
    assert!(
        html.contains(&format!("<img class=\"brand-logo\" src=\"{teapot_logo}\"")),
        "{html}"
    );
    assert!(
        html.contains("href=\"/brands/teapot/theme.css?v="),
        "{html}"
    );
    let (_, html) = page(&app, "/contact?brand=teapot", &[]).await;
    assert!(html.contains("Teapot Ltd"), "{html}");
    // The form posts back with the brand, so the ticket gets it.
    assert!(html.contains("action=\"/contact?brand=teapot\""), "{html}");
    let (_, html) = page(&app, "/contact?brand=no-such", &[]).await;
    assert!(
        html.contains("Kettle"),
        "unknown slugs fall back to the default: {html}"
    );
    // The help center too.
    let (_, html) = page(&app, "/help/en?brand=teapot", &[]).await;
    assert!(html.contains("/brands/teapot/theme.css"), "{html}");
    assert!(html.contains(&teapot_logo), "{html}");

    // A ticket from the contact form gets the page's brand.
    let r = app
        .raw(
            Method::POST,
            "/contact",
            None,
            Some("application/x-www-form-urlencoded"),
            form(&[
                ("name", "Ann"),
                ("email", "ann@example.com"),
                ("subject", "Lid"),
                ("message", "The lid is loose."),
            ]),
            &[("host", "help.teapot.example")],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let list = app.get("/api/v1/tickets?limit=10").await;
    assert_eq!(
        list.body["items"][0]["brand_id"], teapot_id,
        "{}",
        list.body
    );

    // A portal ticket page shows the ticket's brand, whatever the host says.
    let t = app
        .ticket(json!({ "subject": "Whistle broken", "brand_id": teapot_id, "requester": { "email": "bo@example.com", "name": "Bo" } }))
        .await;
    let customer = t["requester_id"].as_i64().unwrap();
    let token = tend_web::auth::generate_token();
    app.store
        .create_customer_token(
            customer,
            true,
            tend_web::auth::hash_token(&token),
            app.now() + chrono::Duration::days(1),
            app.now(),
        )
        .await
        .unwrap();
    let cookie = format!("tend_portal={token}");
    let (st, html) = page(
        &app,
        &format!("/portal/tickets/{}", t["id"]),
        &[("cookie", &cookie), ("host", "support.example")],
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{html}");
    assert!(html.contains("Teapot Ltd"), "{html}");
    assert!(html.contains(&teapot_logo), "{html}");
    // The sign-in mail asked for on a brand's host carries the brand's name.
    let r = app
        .raw(
            Method::POST,
            "/portal/login",
            None,
            Some("application/x-www-form-urlencoded"),
            form(&[("email", "bo@example.com")]),
            &[("host", "help.teapot.example")],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    // The request queues the look-up (issue 4: same work for every address); the job mails.
    let jobs = app.get("/api/v1/jobs?state=queued&limit=100").await;
    let lookup = jobs.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["kind"] == tend_web::portal::MAGIC_LINK_JOB)
        .expect("the sign-in look-up is queued")
        .clone();
    tend_web::portal::send_magic_link(
        &*app.store,
        &tend_web::mail::MailConfig::default(),
        app.now(),
        &lookup["payload"],
    )
    .await
    .unwrap();
    let jobs = app.get("/api/v1/jobs?state=queued&limit=100").await;
    assert!(
        jobs.body
            .to_string()
            .contains("Your sign-in link · Teapot Ltd"),
        "{}",
        jobs.body
    );
    // The home page of the same customer, on no brand's host: the default brand.
    let (_, html) = page(&app, "/portal", &[("cookie", &cookie)]).await;
    assert!(html.contains("Kettle"), "{html}");

    // A survey page shows the invitation's brand.
    let survey = app
        .post(
            "/api/v1/surveys",
            json!({ "name": "After support", "kind": "csat", "scale": 5, "question": { "en": "How satisfied were you?" } }),
        )
        .await;
    assert_eq!(survey.status, StatusCode::CREATED, "{survey:?}");
    let link = tend_web::auth::generate_token();
    let opened = app
        .store
        .open_survey_invitation(
            tend_store::survey::NewInvitation {
                survey_id: survey.body["id"].as_i64().unwrap(),
                ticket_id: Some(t["id"].as_i64().unwrap()),
                order_id: None,
                customer_id: customer,
                agent_id: None,
                group_id: None,
                channel: "email".into(),
                brand_id: Some(teapot_id),
                tags: vec![],
                products: vec![],
                recipient: "bo@example.com".into(),
                send_key: "brand-test".into(),
                token_hash: tend_web::auth::hash_token(&link),
                expires_at: app.now() + chrono::Duration::days(7),
            },
            app.now(),
        )
        .await
        .unwrap();
    assert!(matches!(
        opened,
        tend_store::survey::InvitationOpened::Created(_)
    ));
    let (st, html) = page(&app, &format!("/s/{link}?score=5"), &[]).await;
    assert_eq!(st, StatusCode::OK, "{html}");
    assert!(html.contains("How satisfied were you?"), "{html}");
    assert!(html.contains("Teapot Ltd"), "{html}");
    assert!(html.contains(&teapot_logo), "{html}");
    assert!(html.contains("/brands/teapot/theme.css"), "{html}");
    // Unknown links: the default brand's chrome.
    let (st, html) = page(&app, "/s/not-a-token", &[]).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    assert!(html.contains("Kettle"), "{html}");

    // A kiosk: brand by ?brand=, assets under /kiosk/ for the offline cache.
    let r = app
        .post(
            &format!("/api/v1/surveys/{}/kiosks", survey.body["id"]),
            json!({ "name": "Counter" }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    let path = r.body["path"].as_str().unwrap().to_string();
    let (st, html) = page(&app, &format!("{path}?brand=teapot"), &[]).await;
    assert_eq!(st, StatusCode::OK, "{html}");
    assert!(
        html.contains("href=\"/kiosk/brands/teapot/theme.css?v="),
        "{html}"
    );
    assert!(html.contains(&format!("/kiosk{teapot_logo}")), "{html}");
    assert!(
        html.contains("<meta name=\"theme-color\" content=\"#0b3d2e\">"),
        "{html}"
    );
    let r = app
        .raw(
            Method::GET,
            &format!("/kiosk{teapot_logo}"),
            None,
            None,
            vec![],
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.raw, PNG);

    // An archived brand's host falls back to the default brand.
    app.patch(
        &format!("/api/v1/brands/{teapot_id}"),
        json!({ "archived": true }),
    )
    .await;
    let (_, html) = page(&app, "/portal", &[("host", "help.teapot.example")]).await;
    assert!(html.contains("Kettle"), "{html}");
    assert!(!html.contains("Teapot"), "{html}");
    let _ = kettle;
}

#[tokio::test]
async fn the_admin_pages_create_edit_and_upload_with_csrf() {
    let app = TestApp::spawn().await;
    let cookie = format!("tend_session={}", app.admin_token());
    let r = app.get_with_cookie("/admin/brands", &cookie).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let html = String::from_utf8_lossy(&r.raw).into_owned();
    assert!(html.contains("No brands yet"), "{html}");
    assert!(html.contains("href=\"/admin/brands\""), "nav link: {html}");
    let csrf = csrf_of(&html);

    let fields = |slug: &'static str, primary: &'static str| {
        vec![
            ("csrf", csrf.clone()),
            ("name", "Kettle".to_string()),
            ("slug", slug.to_string()),
            ("host", "help.kettle.example".to_string()),
            ("primary_color", primary.to_string()),
            ("accent_color", "#0b5cad".to_string()),
            ("default_locale", "de".to_string()),
        ]
    };
    let body = |pairs: &[(&str, String)]| {
        form(
            &pairs
                .iter()
                .map(|(k, v)| (*k, v.as_str()))
                .collect::<Vec<_>>(),
        )
    };
    // A colour without contrast: the form again, with the reason and what was typed.
    let r = app
        .post_form(
            "/admin/brands",
            body(&fields("kettle", "#ffcc00")),
            Some(&cookie),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{r:?}");
    let html = String::from_utf8_lossy(&r.raw).into_owned();
    assert!(html.contains("contrast ratio of"), "{html}");
    assert!(html.contains("value=\"help.kettle.example\""), "{html}");
    assert!(app.store.list_brands(true).await.unwrap().is_empty());
    // No CSRF token: refused.
    let mut no_csrf = fields("kettle", "#17324d");
    no_csrf[0].1 = "0".repeat(64);
    let r = app
        .post_form("/admin/brands", body(&no_csrf), Some(&cookie))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{r:?}");
    // Created.
    let r = app
        .post_form(
            "/admin/brands",
            body(&fields("kettle", "#17324d")),
            Some(&cookie),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{r:?}");
    let b = app.store.brand_by_slug("kettle").await.unwrap().unwrap();
    assert_eq!(b.default_locale, "de");
    assert_eq!(b.host.as_deref(), Some("help.kettle.example"));
    let edit = format!("/admin/brands/{}", b.id);
    let r = app.get_with_cookie(&edit, &cookie).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");

    // Edit: rename and archive.
    let mut changed = fields("kettle", "#17324d");
    changed[1].1 = "Kettle & Co".into();
    changed.push(("archived", "on".into()));
    let r = app.post_form(&edit, body(&changed), Some(&cookie)).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{r:?}");
    let b = app.store.get_brand(b.id).await.unwrap();
    assert_eq!(b.name, "Kettle & Co");
    assert!(b.archived_at.is_some());

    // Logo upload as a browser sends it (multipart, CSRF first).
    let multipart = |csrf: &str, ct: &str, bytes: &[u8]| {
        let mut v = Vec::new();
        v.extend_from_slice(b"--XyZ\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n");
        v.extend_from_slice(csrf.as_bytes());
        v.extend_from_slice(b"\r\n--XyZ\r\nContent-Disposition: form-data; name=\"logo\"; filename=\"logo\"\r\nContent-Type: ");
        v.extend_from_slice(ct.as_bytes());
        v.extend_from_slice(b"\r\n\r\n");
        v.extend_from_slice(bytes);
        v.extend_from_slice(b"\r\n--XyZ--\r\n");
        v
    };
    let upload = |bytes: Vec<u8>| {
        let cookie = cookie.clone();
        let path = format!("{edit}/logo");
        let app = &app;
        async move {
            app.raw(
                Method::POST,
                &path,
                None,
                Some("multipart/form-data; boundary=XyZ"),
                bytes,
                &[("cookie", &cookie)],
            )
            .await
        }
    };
    // A refused upload re-renders the form with the server's message (issue 4: no `?error=`
    // text from the URL on an admin page).
    let r = upload(multipart(&csrf, "image/svg+xml", b"<svg/>")).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{r:?}");
    let html = String::from_utf8_lossy(&r.raw).into_owned();
    assert!(html.contains("SVG logos are not accepted"), "{html}");
    let planted = app
        .get_with_cookie(&format!("{edit}?error=Call+us+at+0900-SCAM"), &cookie)
        .await;
    assert_eq!(planted.status, StatusCode::OK);
    assert!(!String::from_utf8_lossy(&planted.raw).contains("0900-SCAM"));
    assert!(app.store.brand_logo(b.id).await.unwrap().is_none());
    let r = upload(multipart(&"0".repeat(64), "image/png", PNG)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{r:?}");
    let r = upload(multipart(&csrf, "image/png", PNG)).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{r:?}");
    assert!(r.headers["location"]
        .to_str()
        .unwrap()
        .ends_with("notice=logo"));
    assert_eq!(
        app.store.brand_logo(b.id).await.unwrap().unwrap().bytes,
        PNG
    );

    // Not for agents.
    let (_, agent) = app.agent("ann@shop.test", Role::Agent, &[]).await;
    let r = app
        .get_with_cookie("/admin/brands", &format!("tend_session={agent}"))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{r:?}");
    let r = app
        .post_form(
            "/admin/brands",
            body(&fields("other", "#17324d")),
            Some(&format!("tend_session={agent}")),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{r:?}");
    assert_eq!(app.store.list_brands(true).await.unwrap().len(), 1);
    let _ = Actor::SYSTEM;
}
