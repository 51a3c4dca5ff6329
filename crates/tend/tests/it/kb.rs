//! Knowledge base: API (CRUD, roles, translations, revisions, scheduling, visibility,
//! feedback, attachments), the change feed, and the public help center pages.

use crate::harness::*;
use axum::http::{Method, StatusCode};
use base64::Engine;
use chrono::Duration;
use serde_json::{json, Value};
use tend_core::Role;

/// A category and a section to put articles in.
async fn tree(app: &TestApp) -> (i64, i64) {
    let c = app
        .post(
            "/api/v1/kb/categories",
            json!({"name": "Orders", "description": "All about orders", "translations": {"de": {"name": "Bestellungen"}}}),
        )
        .await;
    assert_eq!(c.status, StatusCode::CREATED, "{c:?}");
    let s = app
        .post(
            "/api/v1/kb/sections",
            json!({"category_id": c.body["id"], "name": "Shipping", "translations": {"de": {"name": "Versand"}}}),
        )
        .await;
    assert_eq!(s.status, StatusCode::CREATED, "{s:?}");
    (
        c.body["id"].as_i64().unwrap(),
        s.body["id"].as_i64().unwrap(),
    )
}

async fn article(app: &TestApp, section: i64, title: &str, extra: Value) -> Value {
    let mut b = json!({"section_id": section, "title": title, "body_markdown": format!("About {title}.\n\nSecond paragraph."), "status": "published"});
    for (k, v) in extra.as_object().unwrap() {
        b[k] = v.clone();
    }
    let r = app.post("/api/v1/kb/articles", b).await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    r.body
}

/// A request without a token (the public).
async fn anon(app: &TestApp, path: &str) -> Resp {
    app.raw(Method::GET, path, None, None, vec![], &[]).await
}

async fn anon_post(app: &TestApp, path: &str, body: Value) -> Resp {
    app.raw(
        Method::POST,
        path,
        None,
        Some("application/json"),
        serde_json::to_vec(&body).unwrap(),
        &[],
    )
    .await
}

fn html(r: &Resp) -> String {
    String::from_utf8_lossy(&r.raw).to_string()
}

#[tokio::test]
async fn kb_crud_roles_and_audit() {
    let app = TestApp::spawn().await;
    let (cat, sec) = tree(&app).await;
    let (_, agent) = app.agent("writer@tend.test", Role::Agent, &[]).await;
    let (_, sup) = app.agent("boss@tend.test", Role::Supervisor, &[]).await;

    // Agents write; the public cannot.
    let r = app
        .call(
            Method::POST,
            "/api/v1/kb/articles",
            &agent,
            Some(json!({"section_id": sec, "title": "Parcel lost", "body_markdown": "Tell us.", "tags": ["Shipping", "lost"]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    let id = r.body["id"].as_i64().unwrap();
    assert_eq!(r.body["category_id"], cat);
    assert_eq!(r.body["source_locale"], "en");
    assert_eq!(r.body["visibility"], "public");
    assert_eq!(r.body["tags"], json!(["lost", "shipping"]));
    assert_eq!(r.body["translations"][0]["status"], "draft");
    assert_eq!(r.body["translations"][0]["body_html"], "<p>Tell us.</p>\n");
    assert_eq!(r.body["slug"], "parcel-lost");
    let r = anon_post(
        &app,
        "/api/v1/kb/articles",
        json!({"section_id": sec, "title": "x", "body_markdown": "y"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let bad = app
        .raw(
            Method::GET,
            "/api/v1/kb/categories",
            Some("tend_nonsense"),
            None,
            vec![],
            &[],
        )
        .await;
    assert_eq!(
        bad.status,
        StatusCode::UNAUTHORIZED,
        "a bad token is not the public"
    );

    // Read, list, change.
    let r = app.get(&format!("/api/v1/kb/articles/{id}")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.body["author_id"],
        json!(
            app.store
                .agent_by_email("writer@tend.test")
                .await
                .unwrap()
                .unwrap()
                .id
        )
    );
    let other = article(&app, sec, "Second", json!({})).await;
    let r = app
        .call(
            Method::PATCH,
            &format!("/api/v1/kb/articles/{id}"),
            &agent,
            Some(json!({"visibility": "internal", "related_ids": [other["id"]], "position": 3})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(r.body["visibility"], "internal");
    assert_eq!(r.body["related_ids"], json!([other["id"]]));
    let r = app
        .patch(
            &format!("/api/v1/kb/articles/{id}"),
            json!({"related_ids": [id]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let r = app
        .patch(
            &format!("/api/v1/kb/articles/{id}"),
            json!({"section_id": 999999}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.body["field"], "section_id");
    let r = app
        .get(&format!("/api/v1/kb/articles?section_id={sec}&limit=1"))
        .await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 1);
    let next = r.body["next_cursor"].as_str().unwrap().to_string();
    let r = app
        .get(&format!(
            "/api/v1/kb/articles?section_id={sec}&limit=1&cursor={next}"
        ))
        .await;
    assert_eq!(r.body["items"][0]["id"], other["id"]);
    assert!(
        r.body["items"][0]["translations"][0]
            .get("body_html")
            .is_none(),
        "lists carry no bodies"
    );
    let r = app
        .patch(
            &format!("/api/v1/kb/categories/{cat}"),
            json!({"name": "Orders & delivery", "position": 2}),
        )
        .await;
    assert_eq!(r.body["name"], "Orders & delivery");
    assert_eq!(r.body["translations"]["de"]["name"], "Bestellungen");
    let r = app
        .post("/api/v1/kb/categories", json!({"name": "  "}))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let r = app
        .post(
            "/api/v1/kb/sections",
            json!({"name": "Orphan", "category_id": 424242}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);

    // Deleting: admins and supervisors only; non-empty parents refuse.
    let r = app
        .call(
            Method::DELETE,
            &format!("/api/v1/kb/articles/{id}"),
            &agent,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = app
        .call(
            Method::DELETE,
            &format!("/api/v1/kb/sections/{sec}"),
            &sup,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    let r = app
        .call(
            Method::DELETE,
            &format!("/api/v1/kb/categories/{cat}"),
            &sup,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    for a in [id, other["id"].as_i64().unwrap()] {
        let r = app
            .call(
                Method::DELETE,
                &format!("/api/v1/kb/articles/{a}"),
                &sup,
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{r:?}");
    }
    assert_eq!(
        app.get(&format!("/api/v1/kb/articles/{id}")).await.status,
        StatusCode::NOT_FOUND
    );
    let r = app
        .call(
            Method::DELETE,
            &format!("/api/v1/kb/sections/{sec}"),
            &sup,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = app
        .call(
            Method::DELETE,
            &format!("/api/v1/kb/categories/{cat}"),
            &sup,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.get("/api/v1/kb/categories").await.body["items"],
        json!([])
    );

    // Every write is in the audit log.
    let audit = app.get("/api/v1/audit-log?limit=100").await;
    let actions: Vec<&str> = audit.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    for want in [
        "kb.category.created",
        "kb.category.updated",
        "kb.category.deleted",
        "kb.section.created",
        "kb.section.deleted",
        "kb.article.created",
        "kb.article.updated",
        "kb.article.deleted",
        "kb.translation.saved",
    ] {
        assert!(actions.contains(&want), "{want} missing from {actions:?}");
    }

    // The OpenAPI document describes the knowledge base.
    let doc = anon(&app, "/api/v1/openapi.json").await.body;
    for p in [
        "/kb/categories",
        "/kb/articles/{id}",
        "/kb/articles/{id}/translations/{locale}",
        "/kb/articles/{id}/diff",
        "/kb/articles/{id}/revisions/{rev}/restore",
        "/kb/articles/{id}/feedback",
        "/kb/attachments/{id}",
    ] {
        assert!(doc["paths"][p].is_object(), "{p} undocumented");
    }
    assert!(doc["components"]["schemas"]["KbArticle"].is_object());
}

#[tokio::test]
async fn kb_translations_and_the_outdated_flag() {
    let app = TestApp::spawn().await;
    let (_, sec) = tree(&app).await;
    let a = article(&app, sec, "Returns", json!({})).await;
    let id = a["id"].as_i64().unwrap();
    let path = |l: &str| format!("/api/v1/kb/articles/{id}/translations/{l}");

    // A new translation needs a title and a body.
    let r = app
        .call(
            Method::PUT,
            &path("de"),
            app.admin_token(),
            Some(json!({"body_markdown": "x"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.body["field"], "title");
    let r = app
        .call(Method::PUT, &path("de"), app.admin_token(), Some(json!({"title": "Rücksendungen", "body_markdown": "Über Rücksendungen.", "status": "published"})))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    assert_eq!(r.body["outdated"], false);
    let r = app
        .call(
            Method::PUT,
            &path("FR-ca"),
            app.admin_token(),
            Some(json!({"title": "Retours", "body_html": "<p>Les retours.</p>"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(r.body["locale"], "fr-CA", "locales are normalised");

    // A title-only change of the source does not outdate; a body change does.
    let r = app
        .call(
            Method::PUT,
            &path("en"),
            app.admin_token(),
            Some(json!({"title": "Returns and exchanges"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let full = app.get(&format!("/api/v1/kb/articles/{id}")).await.body;
    assert!(
        full["translations"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["outdated"] == false),
        "{full}"
    );
    let r = app
        .call(
            Method::PUT,
            &path("en"),
            app.admin_token(),
            Some(json!({"body_markdown": "New return rules."})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.body["title"], "Returns and exchanges",
        "omitted fields keep their values"
    );
    assert_eq!(r.body["outdated"], false);
    let full = app.get(&format!("/api/v1/kb/articles/{id}")).await.body;
    let flag = |l: &str| {
        full["translations"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["locale"] == l)
            .unwrap()["outdated"]
            .clone()
    };
    assert_eq!(
        (flag("en"), flag("de"), flag("fr-CA")),
        (json!(false), json!(true), json!(true))
    );

    // Saving a translation brings it up to date; it can also be marked explicitly.
    app.call(
        Method::PUT,
        &path("de"),
        app.admin_token(),
        Some(json!({"body_markdown": "Neue Regeln."})),
    )
    .await;
    app.call(
        Method::PUT,
        &path("fr-CA"),
        app.admin_token(),
        Some(json!({"outdated": true})),
    )
    .await;
    let full = app.get(&format!("/api/v1/kb/articles/{id}")).await.body;
    let de = full["translations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["locale"] == "de")
        .unwrap()
        .clone();
    let fr = full["translations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["locale"] == "fr-CA")
        .unwrap()
        .clone();
    assert_eq!(
        (de["outdated"].clone(), fr["outdated"].clone()),
        (json!(false), json!(true))
    );

    // The source cannot be deleted; another one can. The source can move to an existing one.
    let r = app
        .call(Method::DELETE, &path("en"), app.admin_token(), None)
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    let r = app
        .call(Method::DELETE, &path("fr-CA"), app.admin_token(), None)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(app.get(&path("fr-CA")).await.status, StatusCode::NOT_FOUND);
    let r = app
        .patch(
            &format!("/api/v1/kb/articles/{id}"),
            json!({"source_locale": "it"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let r = app
        .patch(
            &format!("/api/v1/kb/articles/{id}"),
            json!({"source_locale": "de"}),
        )
        .await;
    assert_eq!(r.body["source_locale"], "de");
    // Now a change to the German body outdates English.
    app.call(
        Method::PUT,
        &path("de"),
        app.admin_token(),
        Some(json!({"body_markdown": "Ganz neue Regeln."})),
    )
    .await;
    assert_eq!(app.get(&path("en")).await.body["outdated"], true);
}

#[tokio::test]
async fn kb_revisions_diff_and_restore() {
    let app = TestApp::spawn().await;
    let (_, sec) = tree(&app).await;
    let a = article(
        &app,
        sec,
        "Passwords",
        json!({"body_markdown": "Line one\n\nLine two\n\nLine three"}),
    )
    .await;
    let id = a["id"].as_i64().unwrap();
    let tr = format!("/api/v1/kb/articles/{id}/translations/en");
    app.clock.advance(Duration::minutes(5));
    app.call(
        Method::PUT,
        &tr,
        app.admin_token(),
        Some(json!({"body_markdown": "Line one\n\nLine 2\n\nLine three\n\nLine four"})),
    )
    .await;
    app.clock.advance(Duration::minutes(5));
    let (_, agent) = app.agent("editor@tend.test", Role::Agent, &[]).await;
    app.call(
        Method::PUT,
        &tr,
        &agent,
        Some(json!({"title": "Resetting passwords"})),
    )
    .await;

    let revs = app.get(&format!("{tr}/revisions")).await;
    assert_eq!(revs.status, StatusCode::OK);
    let items = revs.body["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 3, "every save is a revision");
    assert_eq!(items[0]["title"], "Resetting passwords", "newest first");
    assert_eq!(items[0]["author"]["kind"], "agent");
    assert!(items[0].get("body_html").is_none());
    assert_eq!(items[2]["at"], json!(t0()));
    let (first, second) = (
        items[2]["id"].as_i64().unwrap(),
        items[1]["id"].as_i64().unwrap(),
    );

    let one = app
        .get(&format!("/api/v1/kb/articles/{id}/revisions/{first}"))
        .await;
    assert!(one.body["body_html"].as_str().unwrap().contains("Line two"));
    let d = app
        .get(&format!(
            "/api/v1/kb/articles/{id}/diff?from={first}&to={second}"
        ))
        .await;
    assert_eq!(d.status, StatusCode::OK, "{d:?}");
    let u = d.body["unified"].as_str().unwrap();
    assert!(
        u.contains("-<p>Line two</p>")
            && u.contains("+<p>Line 2</p>")
            && u.contains("+<p>Line four</p>"),
        "{u}"
    );
    assert_eq!(
        (
            d.body["lines_inserted"].as_i64(),
            d.body["lines_deleted"].as_i64()
        ),
        (Some(2), Some(1))
    );
    assert_eq!(d.body["title"], Value::Null);

    // Restoring the first makes a fourth revision with the first's content.
    let r = app
        .post(
            &format!("/api/v1/kb/articles/{id}/revisions/{first}/restore"),
            json!({}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(r.body["title"], "Passwords");
    assert!(r.body["body_html"].as_str().unwrap().contains("Line two"));
    assert_eq!(r.body["status"], "published", "the publication state stays");
    let revs = app.get(&format!("{tr}/revisions")).await.body["items"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(revs.len(), 4);
    let d = app
        .get(&format!(
            "/api/v1/kb/articles/{id}/diff?from={first}&to={}",
            revs[0]["id"]
        ))
        .await;
    assert_eq!(
        (
            d.body["lines_inserted"].as_i64(),
            d.body["lines_deleted"].as_i64()
        ),
        (Some(0), Some(0))
    );

    // Revisions of other articles or locales are not this article's.
    let b = article(&app, sec, "Other", json!({})).await;
    let r = app
        .get(&format!(
            "/api/v1/kb/articles/{}/revisions/{first}",
            b["id"]
        ))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    app.call(
        Method::PUT,
        &format!("/api/v1/kb/articles/{id}/translations/de"),
        app.admin_token(),
        Some(json!({"title": "Passwörter", "body_markdown": "Zeile"})),
    )
    .await;
    let de = app
        .get(&format!(
            "/api/v1/kb/articles/{id}/translations/de/revisions"
        ))
        .await
        .body["items"][0]["id"]
        .clone();
    let r = app
        .get(&format!(
            "/api/v1/kb/articles/{id}/diff?from={first}&to={de}"
        ))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    // Revisions are for agents only.
    assert_eq!(
        anon(&app, &format!("{tr}/revisions")).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn kb_scheduled_publishing_follows_the_clock() {
    let app = TestApp::spawn().await;
    let (cat, sec) = tree(&app).await;
    let at = app.now() + Duration::hours(2);
    let a = article(
        &app,
        sec,
        "Summer sale",
        json!({"status": "draft", "publish_at": at}),
    )
    .await;
    let id = a["id"].as_i64().unwrap();
    assert_eq!(a["translations"][0]["effective_status"], "scheduled");
    let page = format!("/help/en/articles/{id}-summer-sale");

    assert_eq!(
        anon(&app, &format!("/api/v1/kb/articles/{id}"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(anon(&app, &page).await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        anon(&app, &format!("/help/en/categories/{cat}"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert!(!html(&anon(&app, "/help/sitemap.xml").await).contains("summer-sale"));

    app.clock.advance(Duration::hours(2) - Duration::seconds(1));
    assert_eq!(
        anon(&app, &page).await.status,
        StatusCode::NOT_FOUND,
        "not a second early"
    );
    app.clock.advance(Duration::seconds(1));
    let r = anon(&app, &format!("/api/v1/kb/articles/{id}")).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(r.body["translations"][0]["effective_status"], "published");
    assert_eq!(
        r.body["translations"][0]["status"], "draft",
        "nothing flipped: reads compare with the clock"
    );
    let r = anon(&app, &page).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(html(&r).contains("Summer sale"));
    assert!(html(&anon(&app, &format!("/help/en/categories/{cat}")).await).contains("Summer sale"));
    assert!(html(&anon(&app, "/help/sitemap.xml").await)
        .contains(&format!("/help/en/articles/{id}-summer-sale")));

    // Archiving takes it down again; a published one with a future time waits for it.
    app.call(
        Method::PUT,
        &format!("/api/v1/kb/articles/{id}/translations/en"),
        app.admin_token(),
        Some(json!({"status": "archived"})),
    )
    .await;
    assert_eq!(anon(&app, &page).await.status, StatusCode::NOT_FOUND);
    let later = app.now() + Duration::days(1);
    app.call(
        Method::PUT,
        &format!("/api/v1/kb/articles/{id}/translations/en"),
        app.admin_token(),
        Some(json!({"status": "published", "publish_at": later})),
    )
    .await;
    assert_eq!(anon(&app, &page).await.status, StatusCode::NOT_FOUND);
    app.clock.advance(Duration::days(1));
    assert_eq!(anon(&app, &page).await.status, StatusCode::OK);
    // publish_at: null clears the schedule.
    let r = app
        .call(
            Method::PUT,
            &format!("/api/v1/kb/articles/{id}/translations/en"),
            app.admin_token(),
            Some(json!({"publish_at": null, "status": "draft"})),
        )
        .await;
    assert_eq!(r.body["publish_at"], Value::Null);
    assert_eq!(r.body["effective_status"], "draft");
}

#[tokio::test]
async fn kb_the_public_never_sees_drafts_internal_or_archived_articles() {
    let app = TestApp::spawn().await;
    let (cat, sec) = tree(&app).await;
    let public = article(&app, sec, "Public one", json!({})).await;
    let draft = article(&app, sec, "Draft one", json!({"status": "draft"})).await;
    let internal = article(&app, sec, "Internal one", json!({"visibility": "internal"})).await;
    let archived = article(&app, sec, "Archived one", json!({"status": "archived"})).await;
    // A section with only internal content stays hidden, with its category.
    let c2 = app
        .post("/api/v1/kb/categories", json!({"name": "Staff only"}))
        .await
        .body["id"]
        .clone();
    let s2 = app
        .post(
            "/api/v1/kb/sections",
            json!({"name": "Procedures", "category_id": c2}),
        )
        .await
        .body["id"]
        .as_i64()
        .unwrap();
    article(
        &app,
        s2,
        "Secret procedure",
        json!({"visibility": "internal"}),
    )
    .await;
    let img = base64::engine::general_purpose::STANDARD.encode(b"\x89PNG\r\n\x1a\nfake");
    let att = |id: &Value| format!("/api/v1/kb/articles/{id}/attachments");
    let mut files = vec![];
    for a in [&public, &draft, &internal] {
        let r = app
            .post(
                &att(&a["id"]),
                json!({"filename": "shot.png", "content_type": "image/png", "data_base64": img}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
        files.push(r.body["id"].as_i64().unwrap());
    }

    for hidden in [&draft, &internal, &archived] {
        let id = hidden["id"].as_i64().unwrap();
        for path in [
            format!("/api/v1/kb/articles/{id}"),
            format!("/api/v1/kb/articles/{id}/translations/en"),
            format!("/api/v1/kb/articles/{id}/attachments"),
            format!("/help/en/articles/{id}"),
            format!(
                "/help/en/articles/{id}-{}",
                hidden["slug"].as_str().unwrap()
            ),
        ] {
            let r = anon(&app, &path).await;
            assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}: {r:?}");
        }
        let r = anon_post(
            &app,
            &format!("/api/v1/kb/articles/{id}/feedback"),
            json!({"locale": "en", "helpful": true}),
        )
        .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        // The same answer as for an id that does not exist.
        let missing = anon(&app, "/api/v1/kb/articles/987654").await;
        assert_eq!(
            missing.body["detail"],
            anon(&app, &format!("/api/v1/kb/articles/{id}")).await.body["detail"]
        );
    }
    for (i, f) in files.iter().enumerate() {
        let r = anon(&app, &format!("/api/v1/kb/attachments/{f}")).await;
        assert_eq!(
            r.status,
            if i == 0 {
                StatusCode::OK
            } else {
                StatusCode::NOT_FOUND
            },
            "attachment {i}"
        );
        if i == 0 {
            assert_eq!(r.headers["content-type"], "image/png");
            assert_eq!(r.headers["x-content-type-options"], "nosniff");
            assert_eq!(r.raw, b"\x89PNG\r\n\x1a\nfake");
        }
        assert_eq!(
            app.get(&format!("/api/v1/kb/attachments/{f}")).await.status,
            StatusCode::OK
        );
    }

    let list = anon(&app, "/api/v1/kb/articles").await;
    let ids: Vec<Value> = list.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].clone())
        .collect();
    assert_eq!(ids, vec![public["id"].clone()]);
    assert!(list.body["items"][0].get("author_id").is_none());
    assert_eq!(
        app.get("/api/v1/kb/articles").await.body["items"]
            .as_array()
            .unwrap()
            .len(),
        5
    );
    let cats = anon(&app, "/api/v1/kb/categories").await;
    assert_eq!(cats.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(cats.body["items"][0]["id"], cat);
    assert_eq!(
        anon(&app, &format!("/api/v1/kb/categories/{c2}"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        anon(&app, &format!("/api/v1/kb/sections/{s2}"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        anon(&app, &format!("/help/en/categories/{c2}"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let secs = anon(&app, "/api/v1/kb/sections").await;
    assert_eq!(secs.body["items"].as_array().unwrap().len(), 1);
    let home = html(&anon(&app, "/help/en").await);
    assert!(
        home.contains("Orders") && !home.contains("Staff only"),
        "{home}"
    );
    let cat_page = html(&anon(&app, &format!("/help/en/categories/{cat}")).await);
    assert!(cat_page.contains("Public one"));
    for t in ["Draft one", "Internal one", "Archived one", "Secret"] {
        assert!(!cat_page.contains(t), "{t} leaked");
    }
    // A draft translation of a public article is not shown either.
    let pid = public["id"].as_i64().unwrap();
    app.call(
        Method::PUT,
        &format!("/api/v1/kb/articles/{pid}/translations/de"),
        app.admin_token(),
        Some(json!({"title": "Entwurf", "body_markdown": "geheim"})),
    )
    .await;
    let r = anon(&app, &format!("/api/v1/kb/articles/{pid}")).await;
    assert_eq!(r.body["translations"].as_array().unwrap().len(), 1);
    assert_eq!(
        anon(&app, &format!("/api/v1/kb/articles/{pid}/translations/de"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let page = html(&anon(&app, &format!("/help/de/articles/{pid}-public-one")).await);
    assert!(
        !page.contains("Entwurf") && !page.contains("geheim"),
        "{page}"
    );
}

#[tokio::test]
async fn kb_malicious_html_is_stripped_and_titles_are_escaped() {
    let app = TestApp::spawn().await;
    let (_, sec) = tree(&app).await;
    let dirty = r#"<p onclick="steal()">Hello</p><script>alert(1)</script><img src="x" onerror="alert(2)"><a href="javascript:alert(3)">click</a><iframe src="https://evil.example"></iframe><style>body{display:none}</style>"#;
    let a = article(
        &app,
        sec,
        "<script>alert('t')</script> Title",
        json!({"body_markdown": null, "body_html": dirty}),
    )
    .await;
    let body = a["translations"][0]["body_html"].as_str().unwrap();
    for bad in [
        "<script",
        "onerror",
        "onclick",
        "javascript:",
        "<iframe",
        "<style",
    ] {
        assert!(!body.contains(bad), "{bad} survived: {body}");
    }
    assert!(body.contains("Hello") && body.contains("click"));
    let md = article(&app, sec, "Markdown", json!({"body_markdown": "Hi <script>x()</script> [a](javascript:alert(1)) <img src=y onerror=z()>"})).await;
    let body = md["translations"][0]["body_html"].as_str().unwrap();
    assert!(
        !body.contains("<script") && !body.contains("javascript:") && !body.contains("onerror"),
        "{body}"
    );

    let page = anon(&app, &format!("/help/en/articles/{}", a["id"])).await;
    let page = if page.status.is_redirection() {
        anon(&app, page.headers["location"].to_str().unwrap()).await
    } else {
        page
    };
    assert_eq!(page.status, StatusCode::OK);
    let h = html(&page);
    assert!(!h.contains("<script>alert"), "title must be escaped");
    assert!(
        h.contains("&lt;script&gt;") || h.contains("&#60;script&#62;") || h.contains("&lt;script"),
        "{h}"
    );
    assert!(!h.contains("onerror") && !h.contains("javascript:"));
    assert!(!h.contains("<script"), "no script at all on help pages");
}

#[tokio::test]
async fn kb_enormous_articles_are_refused_with_413() {
    let app = TestApp::spawn().await;
    let (_, sec) = tree(&app).await;
    let huge = "lorem ipsum dolor sit amet ".repeat(200_000); // 5.4 MB
    let r = app
        .post(
            "/api/v1/kb/articles",
            json!({"section_id": sec, "title": "Huge", "body_markdown": huge}),
        )
        .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.body);
    assert!(r.body["detail"].as_str().unwrap().contains("2 MiB"));
    let a = article(&app, sec, "Fine", json!({})).await;
    let r = app
        .call(
            Method::PUT,
            &format!("/api/v1/kb/articles/{}/translations/en", a["id"]),
            app.admin_token(),
            Some(json!({"body_html": huge})),
        )
        .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    // A long article within the cap is fine.
    let long = "A paragraph of help text that goes on.\n\n".repeat(5_000); // ~200 KB
    let r = app
        .post("/api/v1/kb/articles", json!({"section_id": sec, "title": "Long", "body_markdown": long, "status": "published"}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let page = anon(&app, &format!("/help/en/articles/{}-long", r.body["id"])).await;
    assert_eq!(page.status, StatusCode::OK);
    // Nothing was stored for the refused ones.
    assert_eq!(
        app.get(&format!("/api/v1/kb/articles/{}/translations/en", a["id"]))
            .await
            .body["title"],
        "Fine"
    );
    let titles: Vec<String> = app.get("/api/v1/kb/articles").await.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["translations"][0]["title"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(titles, vec!["Fine", "Long"]);
}

#[tokio::test]
async fn kb_invalid_locales_are_refused_clearly() {
    let app = TestApp::spawn().await;
    let (_, sec) = tree(&app).await;
    for bad in ["english", "en_US", "e", "en-US-x-twain", "<b>", "12"] {
        let r = app
            .post(
                "/api/v1/kb/articles",
                json!({"section_id": sec, "locale": bad, "title": "x", "body_markdown": "y"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
        assert_eq!(r.body["field"], "locale");
        assert!(
            r.body["detail"]
                .as_str()
                .unwrap()
                .contains("language[-Region]"),
            "{}",
            r.body
        );
    }
    let a = article(&app, sec, "Ok", json!({})).await;
    let r = app
        .call(
            Method::PUT,
            &format!("/api/v1/kb/articles/{}/translations/klingon!", a["id"]),
            app.admin_token(),
            Some(json!({"title": "x", "body_markdown": "y"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let r = app
        .post(
            "/api/v1/kb/categories",
            json!({"name": "X", "translations": {"deutsch": {"name": "Y"}}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body["field"]
        .as_str()
        .unwrap()
        .starts_with("translations."));
    let r = anon_post(
        &app,
        &format!("/api/v1/kb/articles/{}/feedback", a["id"]),
        json!({"locale": "xx-", "helpful": true}),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        anon(&app, "/help/not-a-language").await.status,
        StatusCode::NOT_FOUND
    );
    // A valid tag in another case goes to its normal form.
    let r = anon(&app, "/help/DE-ch").await;
    assert!(r.status.is_redirection());
    assert_eq!(r.headers["location"], "/help/de-CH");
}

#[tokio::test]
async fn kb_feedback_from_the_api_and_the_help_center() {
    let app = TestApp::spawn().await;
    let (_, sec) = tree(&app).await;
    let a = article(&app, sec, "Helpful", json!({})).await;
    let id = a["id"].as_i64().unwrap();
    let fb = format!("/api/v1/kb/articles/{id}/feedback");

    let r = anon_post(
        &app,
        &fb,
        json!({"locale": "en", "helpful": true, "comment": "  Great <b>stuff</b> "}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    assert_eq!(r.body["comment"], "Great <b>stuff</b>");
    let r = anon_post(&app, &fb, json!({"locale": "de", "helpful": false})).await;
    assert_eq!(
        r.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "no German version"
    );
    let r = anon_post(
        &app,
        &fb,
        json!({"locale": "en", "helpful": false, "comment": "x".repeat(2001)}),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        anon(&app, &fb).await.status,
        StatusCode::UNAUTHORIZED,
        "reading feedback is for agents"
    );

    // The help center form: thanks, honeypot, cross-site refusal, throttle.
    let path = format!("/help/en/articles/{id}/feedback");
    let r = app
        .post_form(
            &path,
            form(&[
                ("helpful", "no"),
                ("comment", "Missing a picture"),
                ("locale", "en"),
            ]),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let back = r.headers["location"].to_str().unwrap().to_string();
    let back = back.split('#').next().unwrap().to_string();
    assert!(back.contains("feedback=thanks"), "{back}");
    let r = anon(&app, &back).await;
    let r = if r.status.is_redirection() {
        anon(&app, r.headers["location"].to_str().unwrap()).await
    } else {
        r
    };
    assert!(html(&r).contains("Thank you for your feedback"));
    let r = app
        .post_form(
            &path,
            form(&[
                ("helpful", "yes"),
                ("locale", "en"),
                ("website", "http://spam"),
            ]),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "bots get the same answer");
    let r = app
        .raw(
            Method::POST,
            &path,
            None,
            Some("application/x-www-form-urlencoded"),
            form(&[("helpful", "yes"), ("locale", "en")]),
            &[("origin", "https://evil.example"), ("host", "tend.test")],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = app
        .post_form(&path, form(&[("helpful", "maybe"), ("locale", "en")]), None)
        .await;
    assert!(r.headers["location"]
        .to_str()
        .unwrap()
        .contains("feedback=invalid"));

    let list = app.get(&fb).await;
    assert_eq!(list.status, StatusCode::OK);
    assert_eq!(
        (
            list.body["helpful_yes"].as_i64(),
            list.body["helpful_no"].as_i64()
        ),
        (Some(1), Some(1))
    );
    let items = list.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["comment"], "Missing a picture", "newest first");

    // Five answers per client per 15 minutes (the bad ones above counted too).
    let mut last = StatusCode::OK;
    for _ in 0..5 {
        last = anon_post(&app, &fb, json!({"locale": "en", "helpful": true}))
            .await
            .status;
    }
    assert_eq!(last, StatusCode::TOO_MANY_REQUESTS);
    let r = app
        .post_form(&path, form(&[("helpful", "yes"), ("locale", "en")]), None)
        .await;
    assert!(r.headers["location"]
        .to_str()
        .unwrap()
        .contains("feedback=busy"));
    app.clock.advance(Duration::minutes(16));
    assert_eq!(
        anon_post(&app, &fb, json!({"locale": "en", "helpful": true}))
            .await
            .status,
        StatusCode::CREATED
    );
    // Agents are not throttled.
    for _ in 0..6 {
        assert_eq!(
            app.post(&fb, json!({"locale": "en", "helpful": true}))
                .await
                .status,
            StatusCode::CREATED
        );
    }
}

#[tokio::test]
async fn kb_change_feed_lists_every_change_in_order() {
    let app = TestApp::spawn().await;
    let (cat, sec) = tree(&app).await;
    let s = &app.store;
    let start = s.kb_changes_since(0, 1000).await.unwrap();
    assert!(
        start.is_empty(),
        "categories and sections alone are not article changes"
    );
    let a = article(&app, sec, "First", json!({})).await["id"]
        .as_i64()
        .unwrap();
    let b = article(&app, sec, "Second", json!({})).await["id"]
        .as_i64()
        .unwrap();
    app.call(
        Method::PUT,
        &format!("/api/v1/kb/articles/{a}/translations/de"),
        app.admin_token(),
        Some(json!({"title": "Erster", "body_markdown": "x"})),
    )
    .await;
    app.patch(&format!("/api/v1/kb/articles/{b}"), json!({"tags": ["x"]}))
        .await;
    let c2 = app
        .post("/api/v1/kb/categories", json!({"name": "Other"}))
        .await
        .body["id"]
        .clone();
    let r = app
        .patch(
            &format!("/api/v1/kb/sections/{sec}"),
            json!({"category_id": c2}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    app.call(
        Method::DELETE,
        &format!("/api/v1/kb/articles/{a}"),
        app.admin_token(),
        None,
    )
    .await;

    let feed = s.kb_changes_since(0, 1000).await.unwrap();
    let ids: Vec<i64> = feed.iter().map(|c| c.1).collect();
    // create a, create b, a's translation, b's tags, the section move (a then b), a deleted.
    assert_eq!(ids, vec![a, b, a, b, a, b, a], "{feed:?}");
    assert!(feed.windows(2).all(|w| w[0].0 < w[1].0), "ascending seq");
    // Tailing continues after the last seq seen, in pages.
    let mut seen = vec![];
    let mut after = 0;
    loop {
        let page = s.kb_changes_since(after, 3).await.unwrap();
        if page.is_empty() {
            break;
        }
        after = page.last().unwrap().0;
        seen.extend(page);
    }
    assert_eq!(seen, feed);
    assert!(s.kb_changes_since(after, 10).await.unwrap().is_empty());

    // The index reads the article as it is now; a deleted one is None.
    assert!(s.kb_article_for_index(a).await.unwrap().is_none());
    let full = s.kb_article_for_index(b).await.unwrap().unwrap();
    assert_eq!(full.article.category_id, c2.as_i64().unwrap());
    assert_ne!(full.article.category_id, cat);
    assert_eq!(full.article.tags, vec!["x"]);
    assert_eq!(full.translations.len(), 1);
    assert!(full.translations[0].body_text.contains("About Second."));
    assert_eq!(s.kb_article_ids(0, 10).await.unwrap(), vec![b]);
    assert!(s.kb_article_ids(b, 10).await.unwrap().is_empty());
}

#[tokio::test]
async fn kb_help_center_pages_render_with_languages_and_a_sitemap() {
    let app = TestApp::spawn().await;
    let (cat, sec) = tree(&app).await;
    let a = article(&app, sec, "Where is my order?", json!({"body_markdown": "Your parcel ships within **one day**. Tracking links come by mail.", "tags": ["tracking"]})).await;
    let id = a["id"].as_i64().unwrap();
    let r = app.call(Method::PUT, &format!("/api/v1/kb/articles/{id}/translations/de"), app.admin_token(), Some(json!({"title": "Wo ist meine Bestellung?", "body_markdown": "Ihr Paket geht in **einem Tag** raus.", "status": "published"}))).await;
    assert_eq!(r.status, StatusCode::CREATED);
    let only_en = article(
        &app,
        sec,
        "Delivery <times> & costs",
        json!({"related_ids": [id]}),
    )
    .await;
    let only_en_id = only_en["id"].as_i64().unwrap();
    article(&app, sec, "Unpublished plan", json!({"status": "draft"})).await;

    // Home: categories and sections, escaped, with the page headers every Tend page has.
    let home = anon(&app, "/help/en").await;
    assert_eq!(home.status, StatusCode::OK);
    let csp = home.headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"));
    assert_eq!(home.headers["x-frame-options"], "DENY");
    assert_eq!(home.headers["x-content-type-options"], "nosniff");
    let h = html(&home);
    assert!(h.contains("<html lang=\"en\">") && h.contains("Orders") && h.contains("Shipping"));
    assert!(
        h.contains("name=\"viewport\"") && h.contains("<main id=\"main\""),
        "{h}"
    );
    let de_home = html(&anon(&app, "/help/de").await);
    assert!(
        de_home.contains("Bestellungen") && de_home.contains("Versand"),
        "localized names"
    );

    // Category page: English and the fallback note for German readers.
    let c = html(&anon(&app, &format!("/help/en/categories/{cat}")).await);
    assert!(
        c.contains("Delivery &lt;times&gt; &amp; costs")
            || c.contains("Delivery &#60;times&#62; &#38; costs"),
        "{c}"
    );
    assert!(!c.contains("Delivery <times>"));
    assert!(!c.contains("Unpublished plan"));
    let c = html(&anon(&app, &format!("/help/de/categories/{cat}")).await);
    assert!(
        c.contains("Wo ist meine Bestellung?")
            && c.contains(&format!(
                "/help/de/articles/{only_en_id}-delivery-times-costs"
            )),
        "{c}"
    );
    assert!(c.contains("(English)"));

    // Article page: hreflang alternates, canonical, description; a wrong slug redirects.
    let r = anon(&app, &format!("/help/en/articles/{id}-wrong-slug")).await;
    assert!(r.status.is_redirection());
    assert_eq!(
        r.headers["location"],
        format!("/help/en/articles/{id}-where-is-my-order")
    );
    let r = anon(&app, &format!("/help/en/articles/{id}-where-is-my-order")).await;
    assert_eq!(r.status, StatusCode::OK);
    let h = html(&r);
    assert!(h.contains(&format!("<link rel=\"canonical\" href=\"http://127.0.0.1:8080/help/en/articles/{id}-where-is-my-order\">")), "{h}");
    assert!(h.contains(&format!("<link rel=\"alternate\" hreflang=\"de\" href=\"http://127.0.0.1:8080/help/de/articles/{id}-wo-ist-meine-bestellung\">")), "{h}");
    assert!(h.contains("hreflang=\"x-default\""));
    assert!(h.contains("<meta name=\"description\" content=\"Your parcel ships within one day. Tracking links come by mail.\">"), "{h}");
    assert!(h.contains("<strong>one day</strong>"));
    assert!(h.contains("Was this article helpful?") && h.contains("name=\"website\""));
    assert!(h.contains("<label for=\"fb-comment\">"));
    let h = html(
        &anon(
            &app,
            &format!("/help/de/articles/{id}-wo-ist-meine-bestellung"),
        )
        .await,
    );
    assert!(h.contains("<html lang=\"de\">") && h.contains("<strong>einem Tag</strong>"));
    // No German version: the English one with a note, canonical to English.
    let r = anon(
        &app,
        &format!("/help/de/articles/{only_en_id}-delivery-times-costs"),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    let h = html(&r);
    assert!(
        h.contains("<html lang=\"en\">")
            && h.contains(
                "Diesen Artikel gibt es nicht auf Deutsch. Er wird auf English angezeigt."
            ),
        "{h}"
    );
    assert!(h.contains(&format!(
        "href=\"http://127.0.0.1:8080/help/en/articles/{only_en_id}-delivery-times-costs\""
    )));
    assert!(
        h.contains("Verwandte Artikel") && h.contains("Wo ist meine Bestellung?"),
        "related, in the reader's language"
    );

    // Views are counted.
    let v = app.get(&format!("/api/v1/kb/articles/{id}")).await.body["view_count"]
        .as_i64()
        .unwrap();
    assert!(v >= 2, "{v}");

    // Sitemap: published public translations only.
    let sm = anon(&app, "/help/sitemap.xml").await;
    assert_eq!(sm.status, StatusCode::OK);
    assert!(sm.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/xml"));
    let x = html(&sm);
    assert!(x.contains(&format!(
        "<loc>http://127.0.0.1:8080/help/en/articles/{id}-where-is-my-order</loc>"
    )));
    assert!(x.contains(&format!(
        "<loc>http://127.0.0.1:8080/help/de/articles/{id}-wo-ist-meine-bestellung</loc>"
    )));
    assert!(x.contains(&format!(
        "/help/en/articles/{only_en_id}-delivery-times-costs"
    )));
    assert!(x.contains("hreflang=\"de\""));
    assert!(!x.contains("unpublished"));
    assert_eq!(x.matches("<url>").count(), 3);

    // Search: the form is there; this app runs without a search index and says so.
    let r = anon(&app, "/help/en/search?q=parcel+%3Cscript%3E").await;
    assert_eq!(r.status, StatusCode::OK);
    let h = html(&r);
    assert!(h.contains("Search is switched off") && h.contains("name=\"q\""));
    assert!(!h.contains("<script>"), "the query is escaped");
    // Unknown pages are HTML 404s.
    let r = anon(&app, "/help/en/articles/99999-nope").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(html(&r).contains("Page not found"));
    assert_eq!(
        anon(&app, "/help/en/categories/abc").await.status,
        StatusCode::NOT_FOUND
    );
    // The stylesheet is served.
    let css = anon(&app, "/help/assets/help.css").await;
    assert_eq!(css.status, StatusCode::OK);
    assert!(html(&css).contains("max-width: 480px"));
}

#[tokio::test]
async fn kb_help_redirects_by_accept_language() {
    let app = TestApp::spawn().await;
    // Nothing published yet: English.
    let r = app
        .raw(
            Method::GET,
            "/help",
            None,
            None,
            vec![],
            &[("accept-language", "de-CH,de;q=0.9")],
        )
        .await;
    assert_eq!(r.headers["location"], "/help/en");
    let (_, sec) = tree(&app).await;
    let a = article(&app, sec, "Hello", json!({})).await;
    app.call(
        Method::PUT,
        &format!("/api/v1/kb/articles/{}/translations/de", a["id"]),
        app.admin_token(),
        Some(json!({"title": "Hallo", "body_markdown": "x", "status": "published"})),
    )
    .await;
    app.call(
        Method::PUT,
        &format!("/api/v1/kb/articles/{}/translations/pt-BR", a["id"]),
        app.admin_token(),
        Some(json!({"title": "Olá", "body_markdown": "x"})),
    )
    .await;
    for (accept, want) in [
        ("de-CH,de;q=0.9,en;q=0.8", "/help/de"),
        ("fr-FR,fr;q=0.9", "/help/en"),
        ("en-GB,en;q=0.9", "/help/en"),
        ("pt-BR", "/help/en"),
        ("da, de;q=0.5", "/help/de"),
        ("", "/help/en"),
        ("!!garbage!!", "/help/en"),
    ] {
        let r = app
            .raw(
                Method::GET,
                "/help",
                None,
                None,
                vec![],
                &[("accept-language", accept)],
            )
            .await;
        assert!(r.status.is_redirection(), "{accept}");
        assert_eq!(r.headers["location"], want, "{accept} (pt-BR is a draft)");
        assert_eq!(r.headers["vary"], "Accept-Language");
    }
    let r = anon(&app, "/help").await;
    assert_eq!(r.headers["location"], "/help/en");
}

/// Concurrent writers and a tailer: every change is seen exactly once, in seq order.
#[tokio::test]
async fn kb_concurrent_writers_never_make_the_feed_tailer_skip() {
    let app = TestApp::spawn().await;
    let (_, sec) = tree(&app).await;
    let ids: Vec<i64> = {
        let mut v = vec![];
        for i in 0..4 {
            v.push(
                article(&app, sec, &format!("A{i}"), json!({})).await["id"]
                    .as_i64()
                    .unwrap(),
            );
        }
        v
    };
    let base = app
        .store
        .kb_changes_since(0, 1000)
        .await
        .unwrap()
        .last()
        .unwrap()
        .0;
    let mut writers = Vec::new();
    for id in ids.clone() {
        let s = app.store.clone();
        let now = app.now();
        writers.push(tokio::spawn(async move {
            for i in 0..15 {
                let (body_html, body_text) =
                    tend_web::api::kb::render_body(Some(&format!("v{i}")), None).unwrap();
                s.kb_save_translation(
                    id,
                    "en",
                    tend_store::kb::KbTranslationInput {
                        title: format!("A{id} v{i}"),
                        body_html,
                        body_text,
                        status: tend_store::kb::KbStatus::Published,
                        publish_at: None,
                        outdated: None,
                    },
                    tend_core::Actor::SYSTEM,
                    now,
                )
                .await
                .unwrap();
            }
        }));
    }
    let mut after = base;
    let mut got = Vec::new();
    loop {
        let done = writers.iter().all(|w| w.is_finished());
        let page = app.store.kb_changes_since(after, 7).await.unwrap();
        if let Some(last) = page.last() {
            after = last.0;
        }
        got.extend(page);
        if done
            && app
                .store
                .kb_changes_since(after, 7)
                .await
                .unwrap()
                .is_empty()
        {
            break;
        }
    }
    for w in writers {
        w.await.unwrap();
    }
    assert_eq!(got.len(), 60, "every change exactly once");
    assert!(got.windows(2).all(|w| w[0].0 < w[1].0));
    for id in ids {
        assert_eq!(got.iter().filter(|c| c.1 == id).count(), 15);
    }
}

/// PostgreSQL: a transaction that drew a lower seq but commits later is never skipped.
/// B inserts a change first (lower seq), A inserts one and commits while B is open: the feed
/// must hold A's back until B is done, then give both in order.
#[tokio::test]
async fn kb_feed_holds_back_changes_behind_a_late_committing_transaction() {
    let app = TestApp::spawn().await;
    let Place::Postgres { url, schema } = &app.place else {
        eprintln!(
            "kb late-commit test: PostgreSQL only (SQLite has one writer; seq is commit order)"
        );
        return;
    };
    let (_, sec) = tree(&app).await;
    let a = article(&app, sec, "Tail me", json!({})).await["id"]
        .as_i64()
        .unwrap();
    let start = app
        .store
        .kb_changes_since(0, 100)
        .await
        .unwrap()
        .last()
        .unwrap()
        .0;
    let connect = || async {
        let (c, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(conn);
        c.batch_execute(&format!("SET search_path = {schema}"))
            .await
            .unwrap();
        c
    };
    let (ca, cb) = (connect().await, connect().await);
    // Like the store's writers: change a row first (takes an xid), then append to the feed.
    let touch = format!("UPDATE kb_articles SET updated_at = now() WHERE id = {a}");
    let insert =
        format!("INSERT INTO kb_changes (article_id, at) VALUES ({a}, now()) RETURNING seq");
    ca.batch_execute("BEGIN").await.unwrap();
    cb.batch_execute("BEGIN").await.unwrap();
    cb.batch_execute(&format!(
        "SELECT 1 FROM kb_sections WHERE id = {sec} FOR KEY SHARE"
    ))
    .await
    .unwrap();
    cb.batch_execute("SELECT pg_current_xact_id()")
        .await
        .unwrap();
    let seq_b: i64 = cb.query_one(insert.as_str(), &[]).await.unwrap().get(0);
    ca.batch_execute(&touch).await.unwrap();
    let seq_a: i64 = ca.query_one(insert.as_str(), &[]).await.unwrap().get(0);
    assert!(seq_a > seq_b);
    ca.batch_execute("COMMIT").await.unwrap();
    assert!(
        app.store
            .kb_changes_since(start, 100)
            .await
            .unwrap()
            .is_empty(),
        "nothing past B's seq while B runs"
    );
    cb.batch_execute("COMMIT").await.unwrap();
    let got: Vec<i64> = app
        .store
        .kb_changes_since(start, 100)
        .await
        .unwrap()
        .iter()
        .map(|c| c.0)
        .collect();
    assert_eq!(got, [seq_b, seq_a]);
}

#[tokio::test]
async fn kb_odd_input_gets_4xx_or_is_cleaned_on_both_stores() {
    let app = TestApp::spawn().await;
    let (_, sec) = tree(&app).await;
    let a = article(&app, sec, "Odd input", json!({})).await;
    let id = a["id"].as_i64().unwrap();
    // A NUL in a reader's comment (PostgreSQL refuses NUL in text): stored without it.
    let r = anon_post(
        &app,
        &format!("/api/v1/kb/articles/{id}/feedback"),
        json!({"locale": "en", "helpful": false, "comment": "bad\u{0}bytes\u{7}"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    assert_eq!(r.body["comment"], "badbytes");
    let r = app
        .post(
            "/api/v1/kb/categories",
            json!({"name": "Nul", "description": "a\u{0}b"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    assert_eq!(r.body["description"], "ab");
    // Publishing times both stores can keep.
    for at in ["-10000-01-01T00:00:00Z", "1900-01-01T00:00:00Z"] {
        let r = app
            .post(
                "/api/v1/kb/articles",
                json!({"section_id": sec, "title": "Old", "body_markdown": "x", "status": "draft", "publish_at": at}),
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{at}: {r:?}");
        assert_eq!(r.body["field"], "publish_at");
    }
    // A language redirect with a segment that cannot be a Location: the 404 page.
    for path in ["/help/EN/articles/1%0A", "/help/EN/categories/1%0D%0Ax"] {
        let r = anon(&app, path).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}: {r:?}");
    }
    let r = anon(&app, &format!("/help/EN/articles/{id}-odd-input")).await;
    assert_eq!(r.status, StatusCode::PERMANENT_REDIRECT);
    // The public does not see related ids (they may name internal articles).
    let r = anon(&app, &format!("/api/v1/kb/articles/{id}")).await;
    assert!(r.body.get("related_ids").is_none(), "{r:?}");
}
