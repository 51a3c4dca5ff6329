//! Full-text search over HTTP: who finds what, how the index follows the store, and that it
//! survives restarts (in-process) and kill -9 of the real binary.

use crate::harness::TestApp;
use axum::http::{Method, StatusCode};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;
use tend_core::Role;
use tend_search::feed::{catch_up_tickets, reindex_tickets};
use tend_search::Search;

/// Feeds the index until it has every event the store has (bounded: on PostgreSQL
/// `events_since` holds events back while any transaction in the database still runs, e.g.
/// another test's). Returns the events applied.
async fn caught_up(app: &TestApp, search: &Search, batch: usize) -> u64 {
    let mut fed = 0;
    for _ in 0..400 {
        fed += catch_up_tickets(&*app.store, search, batch).await.unwrap();
        if search.tickets().checkpoint() == app.store.last_seq().await.unwrap() {
            return fed;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the index did not catch up with the store");
}

/// The test app with search switched on (the harness app has none).
fn with_search(app: &mut TestApp, search: &Search) {
    app.router = tend_web::router(
        tend_web::AppState::new(app.store.clone(), Arc::new(app.clock.clone()))
            .with_search(Arc::new(search.clone())),
    );
}

fn ids(r: &Value) -> BTreeSet<i64> {
    r["hits"]
        .as_array()
        .unwrap_or_else(|| panic!("no hits in {r}"))
        .iter()
        .map(|h| h["id"].as_i64().unwrap())
        .collect()
}

async fn ticket(app: &TestApp, subject: &str, body: &str, group: Option<i64>) -> i64 {
    let mut b = json!({"subject": subject, "requester": {"email": "c@example.com"}, "comment": {"body": body}});
    if let Some(g) = group {
        b["group_id"] = json!(g);
    }
    app.ticket(b).await["id"].as_i64().unwrap()
}

#[tokio::test]
async fn agents_find_only_tickets_they_may_open() {
    let mut app = TestApp::spawn().await;
    let search = Search::open_in_ram().unwrap();
    with_search(&mut app, &search);
    let g1 = app.group("Billing").await;
    let g2 = app.group("Shipping").await;
    let (agent_id, agent) = app.agent("ann@shop.test", Role::Agent, &[g1]).await;
    let (_, sup) = app.agent("sue@shop.test", Role::Supervisor, &[]).await;
    let t1 = ticket(
        &app,
        "Refund please",
        "marzipan arrived <script>x</script>",
        Some(g1),
    )
    .await;
    let t2 = ticket(&app, "Refund", "marzipan again", Some(g2)).await;
    let t3 = ticket(&app, "Assigned elsewhere", "marzipan", Some(g2)).await;
    let t4 = ticket(&app, "No group", "marzipan", None).await;
    let r = app
        .patch(
            &format!("/api/v1/tickets/{t3}"),
            json!({"assignee_id": agent_id}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let fed = caught_up(&app, &search, 2).await;
    assert!(fed >= 5, "{fed}");
    assert_eq!(
        search.tickets().checkpoint(),
        app.store.last_seq().await.unwrap()
    );

    let r = app.get("/api/v1/search/tickets?q=marzipan").await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(ids(&r.body), BTreeSet::from([t1, t2, t3, t4]));
    assert_eq!(r.body["total"], 4);
    assert!(r.body["took_ms"].as_f64().is_some());
    let r = app
        .call(Method::GET, "/api/v1/search/tickets?q=marzipan", &sup, None)
        .await;
    assert_eq!(ids(&r.body).len(), 4, "supervisors see every ticket");
    // The agent: their group and their assignment, nothing else — the rule of opening one.
    let r = app
        .call(
            Method::GET,
            "/api/v1/search/tickets?q=marzipan",
            &agent,
            None,
        )
        .await;
    assert_eq!(ids(&r.body), BTreeSet::from([t1, t3]), "{:?}", r.body);
    for id in ids(&r.body) {
        let open = app
            .call(Method::GET, &format!("/api/v1/tickets/{id}"), &agent, None)
            .await;
        assert_eq!(open.status, StatusCode::OK);
    }
    for id in [t2, t4] {
        let open = app
            .call(Method::GET, &format!("/api/v1/tickets/{id}"), &agent, None)
            .await;
        assert_eq!(open.status, StatusCode::NOT_FOUND);
    }
    // Snippets are escaped HTML with marks.
    let snip = r.body["hits"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["id"] == t1)
        .unwrap()["snippet"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        snip.contains("<mark>marzipan</mark>") && snip.contains("&lt;script&gt;"),
        "{snip}"
    );

    // Moved out of the agent's group: hidden at once, before the index has caught up.
    let r = app
        .patch(&format!("/api/v1/tickets/{t1}"), json!({"group_id": g2}))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = app
        .call(
            Method::GET,
            "/api/v1/search/tickets?q=marzipan",
            &agent,
            None,
        )
        .await;
    assert_eq!(ids(&r.body), BTreeSet::from([t3]));
    caught_up(&app, &search, 100).await;
    let r = app
        .call(
            Method::GET,
            "/api/v1/search/tickets?q=marzipan",
            &agent,
            None,
        )
        .await;
    assert_eq!(
        (ids(&r.body), r.body["total"].clone()),
        (BTreeSet::from([t3]), json!(1))
    );

    // New messages (internal notes too) become searchable; filters.
    let r = app
        .post(
            &format!("/api/v1/tickets/{t2}/messages"),
            json!({"body": "internal: quokka sighting", "public": false}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    caught_up(&app, &search, 100).await;
    assert_eq!(
        ids(&app.get("/api/v1/search/tickets?q=quokka").await.body),
        BTreeSet::from([t2])
    );
    let r = app
        .get("/api/v1/search/tickets?q=marzipan&status=solved,closed")
        .await;
    assert_eq!(r.body["total"], 0);
    let r = app
        .get("/api/v1/search/tickets?q=marzipan&status=new,open&limit=2&offset=2")
        .await;
    assert_eq!((r.body["total"].clone(), ids(&r.body).len()), (json!(4), 2));

    // Bad input is a problem, hostile text is just a query.
    assert_eq!(
        app.get("/api/v1/search/tickets?q=x&status=done")
            .await
            .status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        app.get("/api/v1/search/tickets?q=x&limit=0").await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        app.get("/api/v1/search/tickets?q=x&offset=-1").await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let long = "%22".repeat(3) + &"a%20".repeat(3_000);
    for q in [
        long.as_str(),
        "%00%01%02",
        "%22%22%22",
        "***",
        "%F0%9F%A6%80",
        "",
    ] {
        let r = app.get(&format!("/api/v1/search/tickets?q={q}")).await;
        assert_eq!(r.status, StatusCode::OK, "{q}: {r:?}");
    }
    let r = app
        .raw(
            Method::GET,
            "/api/v1/search/tickets?q=x",
            None,
            None,
            vec![],
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn articles_public_for_everyone_internal_for_agents() {
    let mut app = TestApp::spawn().await;
    // Without search configured: a 503 problem.
    let r = app
        .raw(
            Method::GET,
            "/api/v1/search/articles?q=x",
            None,
            None,
            vec![],
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{r:?}");
    let r = app.get("/api/v1/search/tickets?q=x").await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{r:?}");

    let search = Search::open_in_ram().unwrap();
    with_search(&mut app, &search);
    // Articles in the store (two categories), fed through the KB change feed.
    let mut cats = Vec::new();
    for name in ["Money", "Fraud"] {
        let c = app
            .post("/api/v1/kb/categories", json!({ "name": name }))
            .await;
        let sec = app
            .post(
                "/api/v1/kb/sections",
                json!({ "category_id": c.body["id"], "name": name }),
            )
            .await;
        cats.push((
            c.body["id"].as_i64().unwrap(),
            sec.body["id"].as_i64().unwrap(),
        ));
    }
    let art = |sec: i64, title: &str, extra: Value| {
        let mut b = json!({ "section_id": sec, "title": title, "body_markdown": format!("{title}: how refunds work"), "status": "published" });
        for (k, v) in extra.as_object().unwrap() {
            b[k] = v.clone();
        }
        b
    };
    let a1 = app
        .post("/api/v1/kb/articles", art(cats[0].1, "Refunds", json!({})))
        .await
        .body["id"]
        .as_i64()
        .unwrap();
    let r = app
        .call(
            Method::PUT,
            &format!("/api/v1/kb/articles/{a1}/translations/de"),
            app.admin_token(),
            Some(json!({ "title": "Rückerstattungen", "body_markdown": "Rückerstattungen: so geht es", "status": "published" })),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    let a2 = app
        .post(
            "/api/v1/kb/articles",
            art(
                cats[1].1,
                "Refund fraud checks",
                json!({ "visibility": "internal" }),
            ),
        )
        .await
        .body["id"]
        .as_i64()
        .unwrap();
    app.post(
        "/api/v1/kb/articles",
        art(cats[0].1, "Refund draft", json!({ "status": "draft" })),
    )
    .await;
    for _ in 0..200 {
        tend_search::feed::catch_up_articles(&*app.store, &search)
            .await
            .unwrap();
        if search.kb().num_docs() >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        search.kb().num_docs(),
        3,
        "two translations of 1, one of 2; no draft"
    );
    let anon = |path: String| {
        let app = &app;
        async move { app.raw(Method::GET, &path, None, None, vec![], &[]).await }
    };
    let r = anon("/api/v1/search/articles?q=refund".into()).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(ids(&r.body), BTreeSet::from([a1]));
    let r = app.get("/api/v1/search/articles?q=refund&locale=en").await;
    assert_eq!(
        ids(&r.body),
        BTreeSet::from([a1, a2]),
        "agents also see internal articles"
    );
    let r = anon("/api/v1/search/articles?q=R%C3%BCckerstattung&locale=de-CH".into()).await;
    assert_eq!(r.body["total"], 0, "de-CH has no translation");
    let r = anon("/api/v1/search/articles?q=R%C3%BCckerstattung&locale=de".into()).await;
    assert_eq!(r.body["hits"][0]["locale"], "de");
    let r = app
        .get(&format!(
            "/api/v1/search/articles?q=refund&category={}",
            cats[0].0
        ))
        .await;
    assert_eq!(ids(&r.body), BTreeSet::from([a1]));
    let r = anon("/api/v1/search/articles?q=refund&locale=%3Cscript%3E".into()).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.body["field"], "locale");
    let r = app
        .raw(
            Method::GET,
            "/api/v1/search/articles?q=refund",
            Some("tend_not_a_token"),
            None,
            vec![],
            &[],
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::UNAUTHORIZED,
        "a bad token is not anonymous"
    );
    let r = anon("/api/v1/search/articles?q=refund&bogus=1".into()).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_index_survives_a_restart_and_a_rebuild() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = TestApp::spawn().await;
    let search = Search::open(dir.path()).unwrap();
    with_search(&mut app, &search);
    let mut want = BTreeSet::new();
    for i in 0..5 {
        want.insert(ticket(&app, &format!("theremin {i}"), "first batch", None).await);
    }
    caught_up(&app, &search, 3).await;
    let checkpoint = search.tickets().checkpoint();
    assert!(checkpoint > 0);
    // Stop without any shutdown step (the index commits per batch), write more, restart.
    drop(search);
    app.router = tend_web::router(tend_web::AppState::new(
        app.store.clone(),
        Arc::new(app.clock.clone()),
    ));
    for i in 0..5 {
        want.insert(ticket(&app, &format!("theremin late {i}"), "second batch", None).await);
    }
    let mut app = app.restart().await;
    let search = Search::open(dir.path()).unwrap();
    assert_eq!(
        search.tickets().checkpoint(),
        checkpoint,
        "the checkpoint is the last commit's"
    );
    with_search(&mut app, &search);
    assert_eq!(
        ids(&app
            .get("/api/v1/search/tickets?q=theremin&limit=100")
            .await
            .body)
        .len(),
        5
    );
    caught_up(&app, &search, 3).await;
    let r = app.get("/api/v1/search/tickets?q=theremin&limit=100").await;
    assert_eq!(ids(&r.body), want);
    // A full rebuild gives the same answers and the store's checkpoint.
    let mut calls = 0;
    let n = reindex_tickets(&*app.store, &search, |done, total| {
        calls += 1;
        assert!(done <= total);
    })
    .await
    .unwrap();
    assert_eq!((n, calls > 0), (10, true));
    caught_up(&app, &search, 100).await;
    let r = app.get("/api/v1/search/tickets?q=theremin&limit=100").await;
    assert_eq!(ids(&r.body), want);
}

// --- the real binary, kill -9 --------------------------------------------------------------

use crate::durability::Target;

/// Polls the search API until every id in `want` is found for `word` (at most 600 polls
/// 50 ms apart: 30 s); returns what was found last.
async fn await_found(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    word: &str,
    want: &BTreeSet<i64>,
) -> BTreeSet<i64> {
    let mut found = BTreeSet::new();
    for _ in 0..600 {
        found.clear();
        let mut offset = 0;
        // Every page (at most 10,000 / 100 pages).
        for _ in 0..100 {
            let r = client
                .get(format!(
                    "{url}/api/v1/search/tickets?q={word}&limit=100&offset={offset}"
                ))
                .bearer_auth(token)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            let v: Value = r.json().await.unwrap();
            let page = ids(&v);
            let n = page.len();
            found.extend(page);
            offset += 100;
            if n < 100 {
                break;
            }
        }
        if want.is_subset(&found) {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    found
}

#[tokio::test]
async fn search_catches_up_after_kill_9() {
    let t = Target::new().await;
    let (code, _, err) = t
        .run(
            &[
                "user",
                "add",
                "--email",
                "k@shop.test",
                "--name",
                "K",
                "--role",
                "admin",
            ],
            None,
        )
        .await;
    assert_eq!(code, 0, "{err}");
    let (_, token, _) = t
        .run(&["token", "create", "--email", "k@shop.test"], None)
        .await;
    let token = token.trim().to_string();
    let client = reqwest::Client::new();
    let create = |url: String, token: String, client: reqwest::Client, subject: String| async move {
        let r = client
            .post(format!("{url}/api/v1/tickets"))
            .bearer_auth(&token)
            .json(&json!({"subject": subject, "requester": {"email": "s@example.com"}, "comment": {"body": "the quokka escaped"}}))
            .send()
            .await
            .ok()?;
        if r.status() != 201 {
            return None;
        }
        r.json::<Value>().await.ok()?["id"].as_i64()
    };

    let (mut child, url) = t.serve().await;
    let mut want = BTreeSet::new();
    for i in 0..20 {
        let id = create(
            url.clone(),
            token.clone(),
            client.clone(),
            format!("before {i}"),
        )
        .await
        .expect("created");
        want.insert(id);
    }
    let found = await_found(&client, &url, &token, "quokka", &want).await;
    assert!(
        want.is_subset(&found),
        "searchable before the kill: {found:?}"
    );
    // A burst of creates, then kill -9 in the middle of it.
    let acked: Arc<std::sync::Mutex<BTreeSet<i64>>> = Default::default();
    let mut tasks = Vec::new();
    for c in 0..8 {
        let (url, token, client, acked) =
            (url.clone(), token.clone(), client.clone(), acked.clone());
        tasks.push(tokio::spawn(async move {
            for i in 0..100 {
                match create(
                    url.clone(),
                    token.clone(),
                    client.clone(),
                    format!("burst {c}-{i}"),
                )
                .await
                {
                    Some(id) => {
                        acked.lock().unwrap().insert(id);
                    }
                    None => return,
                }
            }
        }));
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while acked.lock().unwrap().len() < 100 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    child.start_kill().unwrap(); // SIGKILL
    let _ = child.wait().await;
    for task in tasks {
        let _ = task.await;
    }
    want.extend(acked.lock().unwrap().iter().copied());
    assert!(
        want.len() >= 120,
        "only {} creates were acknowledged",
        want.len()
    );

    // Restart: the index continues from its last commit; new tickets are indexed too.
    let (mut child, url) = t.serve().await;
    for i in 0..10 {
        let id = create(
            url.clone(),
            token.clone(),
            client.clone(),
            format!("after {i}"),
        )
        .await
        .expect("created");
        want.insert(id);
    }
    let found = await_found(&client, &url, &token, "quokka", &want).await;
    let missing: Vec<_> = want.difference(&found).collect();
    assert!(missing.is_empty(), "not found after restart: {missing:?}");
    child.start_kill().unwrap();
    let _ = child.wait().await;

    // `tend reindex` (server stopped) rebuilds the same index.
    let (code, out, err) = t.run(&["reindex"], None).await;
    assert_eq!(code, 0, "{out} {err}");
    // Every acknowledged ticket, and maybe a few whose answer the kill cut off.
    let indexed: usize = out
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        out.starts_with("indexed ") && indexed >= want.len(),
        "{out}"
    );
    eprintln!(
        "kill -9: {} acknowledged tickets all searchable after restart",
        want.len()
    );
}

/// Feeds the help-center index until `want` article ids are found for `q` (bounded).
async fn kb_found(app: &TestApp, search: &Search, q: &str) -> BTreeSet<i64> {
    let mut found = BTreeSet::new();
    for _ in 0..200 {
        tend_search::feed::catch_up_articles(&*app.store, search)
            .await
            .unwrap();
        let r = app
            .raw(
                Method::GET,
                &format!("/api/v1/search/articles?q={q}"),
                None,
                None,
                vec![],
                &[],
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{r:?}");
        found = r.body["hits"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["id"].as_i64().unwrap())
            .collect();
        if !found.is_empty() {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    found
}

#[tokio::test]
async fn the_help_center_searches_live_public_articles_from_the_kb_feed() {
    let mut app = TestApp::spawn().await;
    let search = Search::open_in_ram().unwrap();
    with_search(&mut app, &search);
    let c = app
        .post("/api/v1/kb/categories", json!({ "name": "Orders" }))
        .await;
    let s = app
        .post(
            "/api/v1/kb/sections",
            json!({ "category_id": c.body["id"], "name": "Returns" }),
        )
        .await;
    let sec = s.body["id"].as_i64().unwrap();
    let new = |title: &str, body: &str, extra: Value| {
        let mut b = json!({ "section_id": sec, "title": title, "body_markdown": body, "status": "published" });
        for (k, v) in extra.as_object().unwrap() {
            b[k] = v.clone();
        }
        b
    };
    let refunds = app
        .post(
            "/api/v1/kb/articles",
            new(
                "How refunds work",
                "We refund your payment within 5 days of receiving the parcel.",
                json!({}),
            ),
        )
        .await;
    assert_eq!(refunds.status, StatusCode::CREATED, "{refunds:?}");
    let refunds = refunds.body["id"].as_i64().unwrap();
    let r = app
        .call(
            Method::PUT,
            &format!("/api/v1/kb/articles/{refunds}/translations/de"),
            app.admin_token(),
            Some(json!({ "title": "So funktionieren Erstattungen", "body_markdown": "Wir erstatten Ihre Zahlungen innerhalb von 5 Tagen.", "status": "published" })),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    let internal = app
        .post(
            "/api/v1/kb/articles",
            new(
                "Refund override for agents",
                "Internal refund procedure.",
                json!({ "visibility": "internal" }),
            ),
        )
        .await
        .body["id"]
        .as_i64()
        .unwrap();
    let at = app.now() + chrono::Duration::hours(2);
    let scheduled = app
        .post(
            "/api/v1/kb/articles",
            new(
                "Winter refund campaign",
                "Refunds for winter orders.",
                json!({ "status": "draft", "publish_at": at }),
            ),
        )
        .await
        .body["id"]
        .as_i64()
        .unwrap();

    // The public finds the live public article (a typo too), not the internal or the
    // scheduled one; the help-center page shows it with a highlighted snippet.
    assert_eq!(
        kb_found(&app, &search, "refund").await,
        BTreeSet::from([refunds])
    );
    assert_eq!(
        kb_found(&app, &search, "refnud").await,
        BTreeSet::from([refunds])
    );
    let page = app
        .raw(
            Method::GET,
            "/help/en/search?q=refunds",
            None,
            None,
            vec![],
            &[],
        )
        .await;
    let html = String::from_utf8_lossy(&page.raw).to_string();
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        html.contains(&format!("/help/en/articles/{refunds}-")),
        "{html}"
    );
    assert!(html.contains("<mark>"), "{html}");
    assert!(
        !html.contains("Refund override") && !html.contains("Winter refund"),
        "{html}"
    );
    // A regional translation: found, and named as the store spells it ("de-CH").
    let r = app
        .call(
            Method::PUT,
            &format!("/api/v1/kb/articles/{refunds}/translations/de-CH"),
            app.admin_token(),
            Some(json!({ "title": "Rückvergütung in der Schweiz", "body_markdown": "Die Rückvergütung dauert 5 Tage.", "status": "published" })),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    let mut regional = Value::Null;
    for _ in 0..200 {
        tend_search::feed::catch_up_articles(&*app.store, &search)
            .await
            .unwrap();
        let r = app
            .raw(
                Method::GET,
                "/api/v1/search/articles?q=R%C3%BCckverg%C3%BCtung",
                None,
                None,
                vec![],
                &[],
            )
            .await;
        if !r.body["hits"].as_array().unwrap().is_empty() {
            regional = r.body["hits"][0].clone();
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(regional["id"], refunds, "{regional}");
    assert_eq!(regional["locale"], "de-CH", "{regional}");
    // German stemming: "Erstattung" finds "Erstattungen"/"erstatten".
    let page = app
        .raw(
            Method::GET,
            "/help/de/search?q=Erstattung",
            None,
            None,
            vec![],
            &[],
        )
        .await;
    assert!(String::from_utf8_lossy(&page.raw).contains("So funktionieren Erstattungen"));
    // Agents see internal articles through the API.
    let r = app.get("/api/v1/search/articles?q=override").await;
    let ids: BTreeSet<i64> = r.body["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, BTreeSet::from([internal]));

    // The scheduled article appears when its time comes, with no further change.
    app.clock.advance(chrono::Duration::hours(2));
    let found = kb_found(&app, &search, "winter").await;
    assert_eq!(found, BTreeSet::from([scheduled]));

    // A deleted article leaves the index on the next catch-up; a rebuild gives the same.
    let r = app
        .call(
            Method::DELETE,
            &format!("/api/v1/kb/articles/{refunds}"),
            app.admin_token(),
            None,
        )
        .await;
    assert!(r.status.is_success(), "{r:?}");
    let mut gone = false;
    for _ in 0..200 {
        tend_search::feed::catch_up_articles(&*app.store, &search)
            .await
            .unwrap();
        let r = app.get("/api/v1/search/articles?q=payment").await;
        if r.body["hits"].as_array().unwrap().is_empty() {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(gone, "the deleted article is no longer found");
    let n = tend_search::feed::reindex_articles(&*app.store, &search, |_, _| {})
        .await
        .unwrap();
    assert_eq!(n, 2, "two articles left");
    assert_eq!(search.kb().num_docs(), 2);
    assert_eq!(
        kb_found(&app, &search, "winter").await,
        BTreeSet::from([scheduled])
    );
}

#[tokio::test]
async fn the_workspace_search_page_shows_only_what_the_agent_may_open() {
    let mut app = TestApp::spawn().await;
    let search = Search::open_in_ram().unwrap();
    with_search(&mut app, &search);
    let billing = app.group("Billing").await;
    let support = app.group("Support").await;
    app.post("/api/v1/agents", json!({"email": "lena@shop.test", "name": "Lena", "role": "agent", "password": "correct horse battery"}))
        .await;
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
    let mine = ticket(
        &app,
        "Kettle <b>leaks</b>",
        "the kettle drips on the counter",
        Some(support),
    )
    .await;
    let hidden = ticket(
        &app,
        "Kettle invoice",
        "kettle invoice for Billing",
        Some(billing),
    )
    .await;
    caught_up(&app, &search, 100).await;
    let cookie = crate::ui::sign_in(&app, "lena@shop.test", "correct horse battery").await;
    let r = app.get_with_cookie("/search?q=kettle", &cookie).await;
    let html = String::from_utf8_lossy(&r.raw).to_string();
    assert_eq!(r.status, StatusCode::OK, "{html}");
    assert!(
        html.contains(&format!("href=\"/tickets/{mine}\"")),
        "{html}"
    );
    assert!(!html.contains(&format!("/tickets/{hidden}\"")), "{html}");
    assert!(
        html.contains("Kettle &#60;b&#62;leaks&#60;/b&#62;"),
        "the subject is escaped: {html}"
    );
    assert!(html.contains("<mark>"), "{html}");
    assert!(html.contains("1 found"), "{html}");
    // The header box is on every page; an empty query shows the form; no session → sign-in.
    let r = app.get_with_cookie("/search", &cookie).await;
    assert!(String::from_utf8_lossy(&r.raw).contains("id=\"search-q\""));
    let r = app
        .raw(Method::GET, "/search?q=kettle", None, None, vec![], &[])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let r = app.get_with_cookie("/search?q=zzzqqq", &cookie).await;
    assert!(String::from_utf8_lossy(&r.raw).contains("Nothing found"));
}
