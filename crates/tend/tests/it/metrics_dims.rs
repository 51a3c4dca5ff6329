//! Metrics (issue 8): volume by tag and by language — the per-tag and per-language roll-ups
//! (migration 0025), their bounds (top tags + "(other)"), filters, drill-down, and the same
//! numbers on the page, in the CSV and in the API.

use crate::harness::TestApp;
use crate::reports::{csv_numbers, html_numbers, json_numbers, tail};
use axum::http::StatusCode;
use chrono::Duration;
use serde_json::{json, Value};

const RANGE: &str =
    "from=2026-03-01&to=2026-03-07&tz=UTC&interval=day&metrics=volume,frt,resolution,fcr";

async fn customer(app: &TestApp, name: &str, email: &str, language: Option<&str>) -> i64 {
    let mut body = json!({"name": name, "emails": [email]});
    if let Some(l) = language {
        body["language"] = json!(l);
    }
    let r = app.post("/api/v1/customers", body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    r.body["id"].as_i64().unwrap()
}

/// The groups of a report by one dimension: value ("" for none) → created, backlog.
fn groups(body: &Value, key: &str) -> Vec<(String, i64, i64)> {
    body["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["group"][key].as_str().unwrap_or("").to_string(),
                g["values"]["created"].as_i64().unwrap(),
                g["values"]["backlog"].as_i64().unwrap(),
            )
        })
        .collect()
}

/// The page, the CSV export and the API give the same numbers for `q`.
async fn same_everywhere(app: &TestApp, q: &str) -> Value {
    let api = app.get(&format!("/api/v1/reports/tickets?{q}")).await;
    assert_eq!(api.status, StatusCode::OK, "{api:?}");
    let csv = app
        .get(&format!("/api/v1/reports/tickets?{q}&format=csv"))
        .await;
    assert_eq!(csv.status, StatusCode::OK);
    let csv_text = String::from_utf8(csv.raw.clone()).unwrap();
    let cookie = format!("tend_session={}", app.admin_token());
    let page = app.get_with_cookie(&format!("/reports?{q}"), &cookie).await;
    assert_eq!(page.status, StatusCode::OK);
    let html = String::from_utf8(page.raw.clone()).unwrap();
    let export = app
        .get_with_cookie(&format!("/reports/export.csv?{q}"), &cookie)
        .await;
    assert_eq!(String::from_utf8(export.raw).unwrap(), csv_text);
    let from_api = json_numbers(&api.body);
    assert!(!from_api.is_empty());
    let n_dims = usize::from(q.contains("by="));
    assert_eq!(
        from_api,
        csv_numbers(&csv_text, n_dims),
        "JSON and CSV: {q}"
    );
    assert_eq!(from_api, html_numbers(&html), "JSON and the page: {q}");
    api.body
}

#[tokio::test]
async fn volume_by_tag_and_language() {
    let app = TestApp::spawn().await;
    let anna = customer(&app, "Anna", "anna@example.de", Some("de")).await;
    let bob = customer(&app, "Bob", "bob@example.com", Some("en")).await;
    let carl = customer(&app, "Carl", "carl@example.com", None).await;
    let at = |id: &Value, path: &str| format!("/api/v1/tickets/{}{path}", id["id"]);
    // A (de): billing + vip, solved; a tag added after the solve does not move it.
    let a = app.ticket(json!({"subject": "Invoice", "requester_id": anna, "tags": ["billing", "vip"], "comment": {"body": "Rechnung"}})).await;
    app.clock.advance(Duration::minutes(30));
    app.post(
        &at(&a, "/messages"),
        json!({"body": "Here.", "public": true}),
    )
    .await;
    let r = app.patch(&at(&a, ""), json!({"status": "solved"})).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let r = app.patch(&at(&a, ""), json!({"add_tags": ["late"]})).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    // B (en): billing at creation, urgent added while open → counted with both.
    let b = app.ticket(json!({"subject": "Card", "requester_id": bob, "tags": ["billing"], "comment": {"body": "card declined"}})).await;
    app.patch(&at(&b, ""), json!({"add_tags": ["urgent"]}))
        .await;
    // C: no language, no tags.
    app.ticket(json!({"subject": "Hello", "requester_id": carl, "comment": {"body": "hi"}}))
        .await;
    tail(&app).await;

    let body = same_everywhere(&app, &format!("{RANGE}&group_by=tag")).await;
    let mut g = groups(&body, "tag");
    g.sort();
    assert_eq!(
        g,
        vec![
            ("".into(), 1, 1),
            ("billing".into(), 2, 1),
            ("urgent".into(), 1, 1),
            ("vip".into(), 1, 0),
        ],
        "tags at the solve for A (not 'late'), current ones for open B"
    );
    assert_eq!(body["total"]["values"]["created"], 5, "ticket–tag pairs");
    assert!(body["notes"].to_string().contains("ticket–tag pairs"));
    // `by` is `group_by`; filters by tag and language.
    let by = app
        .get(&format!("/api/v1/reports/tickets?{RANGE}&by=tag"))
        .await;
    assert_eq!(json_numbers(&by.body), json_numbers(&body));
    let billing = same_everywhere(&app, &format!("{RANGE}&tag=billing")).await;
    assert_eq!(billing["total"]["values"]["created"], 2);
    assert_eq!(billing["total"]["values"]["backlog"], 1);

    let body = same_everywhere(&app, &format!("{RANGE}&by=language")).await;
    let mut g = groups(&body, "language");
    g.sort();
    assert_eq!(
        g,
        vec![("".into(), 1, 1), ("de".into(), 1, 0), ("en".into(), 1, 1)]
    );
    assert_eq!(body["total"]["values"]["created"], 3, "one language each");
    let de = same_everywhere(&app, &format!("{RANGE}&language=de")).await;
    assert_eq!(de["total"]["values"]["created"], 1);
    assert_eq!(de["total"]["values"]["solved"], 1);

    // Drill-down: the tickets behind a tag's number.
    let d = app
        .get("/api/v1/reports/drill?metric=created&from=2026-03-01&to=2026-03-07&tag=billing")
        .await;
    assert_eq!(d.status, StatusCode::OK, "{d:?}");
    let mut ids: Vec<i64> = d.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["ticket_id"].as_i64().unwrap())
        .collect();
    ids.sort();
    assert_eq!(
        ids,
        vec![a["id"].as_i64().unwrap(), b["id"].as_i64().unwrap()]
    );
    let d = app
        .get("/api/v1/reports/drill?metric=created&from=2026-03-01&to=2026-03-07&language=en")
        .await;
    assert_eq!(d.body["items"].as_array().unwrap().len(), 1, "{d:?}");

    // The language is the one at creation: Anna switching to French later moves nothing,
    // not even after a rebuild.
    let r = app
        .patch(
            &format!("/api/v1/customers/{anna}"),
            json!({"language": "fr"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    app.patch(&at(&a, ""), json!({"status": "open"})).await;
    tail(&app).await;
    let mut progress = |_p: tend_store::metrics::RebuildProgress| {};
    tend_store::metrics::rebuild(&*app.store, app.now(), &mut progress)
        .await
        .unwrap();
    let body = same_everywhere(&app, &format!("{RANGE}&by=language")).await;
    let mut g = groups(&body, "language");
    g.sort();
    assert_eq!(
        g,
        vec![("".into(), 1, 1), ("de".into(), 1, 1), ("en".into(), 1, 1)],
        "A reopened: open again, still German"
    );
    // Reopened A is counted with its current tags (late included) after the rebuild too.
    let body = same_everywhere(&app, &format!("{RANGE}&by=tag")).await;
    let mut g = groups(&body, "tag");
    g.sort();
    assert!(g.contains(&("late".into(), 1, 1)), "{g:?}");
    // The drill-down works after the rebuild (which drops its indexes and makes them again).
    let d = app
        .get("/api/v1/reports/drill?metric=created&from=2026-03-01&to=2026-03-07&tag=billing")
        .await;
    assert_eq!(d.status, StatusCode::OK, "{d:?}");
    assert_eq!(d.body["items"].as_array().unwrap().len(), 2, "{d:?}");

    // Tag and language are kept alone: no mixing with other dimensions or each other.
    for q in [
        "group_by=tag&channel=email",
        "group_by=language,tag",
        "group_by=group&language=de",
        "group_by=assignee&tag=vip",
        "tag=Not%20a%20tag",
        "language=klingon-is-not-bcp47",
    ] {
        let r = app.get(&format!("/api/v1/reports/tickets?{q}")).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{q}: {r:?}");
    }
}

#[tokio::test]
async fn tag_reports_show_the_top_tags_and_other() {
    let app = TestApp::spawn().await;
    let n = tend_core::report::TOP_TAGS + 2;
    for i in 0..n {
        let tags = if i == 0 {
            vec!["t00".to_string()]
        } else {
            vec![format!("t{i:02}")]
        };
        app.ticket(json!({"subject": format!("T{i}"), "requester": {"email": format!("c{i}@example.com")}, "tags": tags})).await;
    }
    // t21 is the largest: it must be shown; the two smallest by name go to "(other)".
    app.ticket(json!({"subject": "again", "requester": {"email": "x@example.com"}, "tags": [format!("t{:02}", n - 1)]})).await;
    tail(&app).await;
    let body = same_everywhere(&app, &format!("{RANGE}&by=tag")).await;
    let g = groups(&body, "tag");
    assert_eq!(g.len(), tend_core::report::TOP_TAGS + 1, "{g:?}");
    let other: Vec<_> = g.iter().filter(|x| x.0 == "(other)").collect();
    assert_eq!(other, vec![&("(other)".to_string(), 2, 2)], "{g:?}");
    assert!(g
        .iter()
        .any(|x| x.0 == format!("t{:02}", n - 1) && x.1 == 2));
    assert!(!g.iter().any(|x| x.0 == format!("t{:02}", n - 2)), "{g:?}");
    assert_eq!(body["total"]["values"]["created"], n as i64 + 1);
}

/// Moving the weekly digest to another weekday or time moves the queued job — also to a
/// later time — and turning it off removes it.
#[tokio::test]
async fn moving_the_digest_moves_its_queued_job() {
    use tend_store::JobState;
    let app = TestApp::spawn().await;
    let queued = |app: &TestApp| {
        let store = app.store.clone();
        async move {
            store
                .list_jobs(JobState::Queued, 100)
                .await
                .unwrap()
                .into_iter()
                .filter(|j| j.kind == tend_web::digest::DIGEST_JOB)
                .map(|j| j.run_at.to_rfc3339())
                .collect::<Vec<_>>()
        }
    };
    let put = |weekday: &str, hour: u32, tz: &str, enabled: bool| json!({"enabled": enabled, "recipients": ["boss@shop.test"], "weekday": weekday, "hour": hour, "tz": tz});
    // Now: Mon 2 Mar 2026 09:00 UTC.
    let r = app
        .call(
            axum::http::Method::PUT,
            "/api/v1/reports/digest",
            app.admin_token(),
            Some(put("mon", 8, "UTC", true)),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(queued(&app).await, vec!["2026-03-09T08:00:00+00:00"]);
    // Later in the week than the queued Monday job: moved, not kept at the earlier time.
    app.call(
        axum::http::Method::PUT,
        "/api/v1/reports/digest",
        app.admin_token(),
        Some(put("fri", 17, "Europe/Berlin", true)),
    )
    .await;
    assert_eq!(queued(&app).await, vec!["2026-03-06T16:00:00+00:00"]);
    // Earlier.
    app.call(
        axum::http::Method::PUT,
        "/api/v1/reports/digest",
        app.admin_token(),
        Some(put("tue", 6, "UTC", true)),
    )
    .await;
    assert_eq!(queued(&app).await, vec!["2026-03-03T06:00:00+00:00"]);
    // Off: nothing queued.
    app.call(
        axum::http::Method::PUT,
        "/api/v1/reports/digest",
        app.admin_token(),
        Some(put("tue", 6, "UTC", false)),
    )
    .await;
    assert!(queued(&app).await.is_empty());
}

/// A burst of visitors on an expired public service page computes it once.
#[tokio::test]
async fn service_page_misses_compute_once() {
    use tower::ServiceExt;
    let app = TestApp::spawn().await;
    let cfg = json!({"pages": [{"enabled": true, "title": "Our service", "period": "this_month",
        "figures": [{"metric": "created"}]}]});
    let r = app
        .call(
            axum::http::Method::PUT,
            "/api/v1/service-page",
            app.admin_token(),
            Some(cfg),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let state = tend_web::AppState::new(app.store.clone(), std::sync::Arc::new(app.clock.clone()));
    let router = tend_web::router(state.clone());
    let get = || {
        let router = router.clone();
        async move {
            let r = router
                .oneshot(
                    axum::http::Request::get("/service")
                        .body(axum::body::Body::empty())
                        .unwrap(),
                )
                .await
                .unwrap();
            r.status()
        }
    };
    let all = futures::future::join_all((0..12).map(|_| get())).await;
    assert!(all.iter().all(|s| *s == StatusCode::OK), "{all:?}");
    assert_eq!(state.service_cache.computed(), 1);
    // Expired: the next burst computes it once more.
    app.clock
        .advance(Duration::seconds(tend_web::service::CACHE_SECONDS + 1));
    futures::future::join_all((0..12).map(|_| get())).await;
    assert_eq!(state.service_cache.computed(), 2);
}

/// Every viewer of the operations dashboard shares one snapshot per interval.
#[tokio::test]
async fn ops_viewers_share_one_snapshot() {
    use tend_web::ui::ops::{snapshot, OpsScope};
    let app = TestApp::spawn().await;
    app.ticket(json!({"subject": "Open", "requester": {"email": "o@example.com"}}))
        .await;
    let state = tend_web::AppState::new(app.store.clone(), std::sync::Arc::new(app.clock.clone()));
    let since = std::time::Instant::now();
    let snaps = futures::future::join_all(
        (0..20).map(|_| snapshot(&state, OpsScope::All, "UTC".parse().unwrap(), since)),
    )
    .await;
    for s in &snaps {
        assert_eq!(s.as_ref().unwrap().numbers.counts.open, 1);
    }
    assert_eq!(
        state.ops_snapshots.computed(),
        1,
        "one computation for 20 viewers"
    );
    // A viewer told of a change after that snapshot started gets a new one, computed once.
    app.ticket(json!({"subject": "Second", "requester": {"email": "p@example.com"}}))
        .await;
    let changed = std::time::Instant::now();
    let snaps = futures::future::join_all(
        (0..20).map(|_| snapshot(&state, OpsScope::All, "UTC".parse().unwrap(), changed)),
    )
    .await;
    assert!(snaps
        .iter()
        .all(|s| s.as_ref().unwrap().numbers.counts.open == 2));
    assert_eq!(state.ops_snapshots.computed(), 2);
    // Another zone is another snapshot.
    snapshot(
        &state,
        OpsScope::All,
        "Europe/Berlin".parse().unwrap(),
        since,
    )
    .await
    .unwrap();
    assert_eq!(state.ops_snapshots.computed(), 3);
}
