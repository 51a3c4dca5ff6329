//! Metric targets, the operations dashboard, the public service page and the weekly digest:
//! hand-built histories with a moved clock, the metric tailer run, and the numbers compared
//! with `GET /api/v1/reports/tickets` (one engine).

use crate::harness::*;
use crate::smtp_sink::SmtpSink;
use axum::http::{Method, StatusCode};
use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};
use std::sync::Arc;
use tend_core::Role;

/// Applies every event to the roll-ups. On PostgreSQL `events_since` holds back events
/// newer than the oldest transaction still running (another test's, on the same server):
/// try again until the checkpoint reaches the last event.
async fn tail(app: &TestApp) {
    let last = app.store.last_seq().await.unwrap();
    for _ in 0..100_000 {
        let o = tend_store::metrics::tail(&*app.store, app.now(), 100)
            .await
            .unwrap();
        assert_eq!(o.skipped, 0);
        if o.last_seq >= last {
            return;
        }
        tokio::task::yield_now().await;
    }
    panic!("the metric tailer did not reach seq {last}");
}

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// A ticket in `group` created now, answered publicly after `reply` minutes.
async fn answered(app: &TestApp, group: i64, email: &str, reply: i64) -> i64 {
    let t = app
        .ticket(json!({"subject": "Help", "group_id": group, "requester": {"email": email}, "comment": {"body": "help"}}))
        .await;
    let id = t["id"].as_i64().unwrap();
    app.clock.advance(Duration::minutes(reply));
    let r = app
        .post(
            &format!("/api/v1/tickets/{id}/messages"),
            json!({"body": "Answer", "public": true}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    id
}

fn item<'a>(body: &'a Value, name: &str) -> &'a Value {
    body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == name)
        .unwrap_or_else(|| panic!("{name} in {body}"))
}

#[tokio::test]
async fn target_status_matches_the_reports_api() {
    let app = TestApp::spawn().await;
    let billing = app.group("Billing").await;
    let support = app.group("Support").await;
    // Previous week (Mon 23 Feb): Billing answered after 3 h.
    app.clock.set(at("2026-02-23T09:00:00Z"));
    answered(&app, billing, "d@example.com", 180).await;
    // This week (Mon 2 Mar): Billing after 30 min and 40 min, Support after 2 h.
    app.clock.set(at("2026-03-02T09:00:00Z"));
    answered(&app, billing, "a@example.com", 30).await;
    answered(&app, billing, "b@example.com", 40).await;
    answered(&app, support, "c@example.com", 120).await;
    tail(&app).await;

    let mk = |body: Value| {
        let app = &app;
        async move {
            let r = app.post("/api/v1/targets", body).await;
            assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
            r.body
        }
    };
    let t1 = mk(json!({"name": "Billing FRT median", "metric": "frt", "statistic": "median", "comparator": "<", "threshold": 3600, "scope": {"group_id": billing}})).await;
    assert_eq!(t1["column"], "frt_median");
    mk(json!({"name": "FRT p90", "metric": "frt", "statistic": "p90", "comparator": "<=", "threshold": 3600})).await;
    mk(json!({"name": "Support volume", "metric": "created", "comparator": ">=", "threshold": 2, "scope": {"group_id": support}})).await;
    mk(json!({"name": "CSAT", "metric": "csat", "comparator": ">=", "threshold": 90})).await;
    mk(json!({"name": "Off", "metric": "created", "comparator": ">", "threshold": 0, "active": false})).await;

    let st = app
        .get("/api/v1/targets/status?from=2026-03-01&to=2026-03-07&tz=UTC")
        .await;
    assert_eq!(st.status, StatusCode::OK, "{st:?}");
    assert_eq!(st.body["previous_from"], "2026-02-22");
    assert_eq!(st.body["previous_to"], "2026-02-28");
    assert_eq!(
        st.body["items"].as_array().unwrap().len(),
        4,
        "inactive left out"
    );

    // The same numbers as the reports API, filtered the same way.
    let rep = app
        .get(&format!("/api/v1/reports/tickets?from=2026-03-01&to=2026-03-07&tz=UTC&metrics=frt,volume&group_id={billing}"))
        .await;
    assert_eq!(rep.status, StatusCode::OK, "{rep:?}");
    let b = item(&st.body, "Billing FRT median");
    assert_eq!(b["value"], rep.body["total"]["values"]["frt_median"]);
    assert_eq!(
        b["previous_value"],
        rep.body["previous"]["values"]["frt_median"]
    );
    // Hand-computed: median of 30 and 40 min (nearest rank: 30 min) within 1 %; before 3 h.
    let v = b["value"]
        .as_f64()
        .unwrap_or_else(|| panic!("{}\n{}", st.body, rep.body));
    assert!((v - 1800.0).abs() <= 18.0, "{v}");
    assert_eq!(b["status"], "on_track");
    assert_eq!(b["previous_status"], "off_track");
    assert_eq!(b["trend"], "improving");

    let all = app
        .get("/api/v1/reports/tickets?from=2026-03-01&to=2026-03-07&tz=UTC&metrics=frt")
        .await;
    let p = item(&st.body, "FRT p90");
    assert_eq!(p["value"], all.body["total"]["values"]["frt_p90"]);
    // p90 of 30, 40, 120 min is 2 h: above 1 h.
    assert_eq!(p["status"], "off_track");
    assert_eq!(p["trend"], "improving", "3 h before");

    let s = item(&st.body, "Support volume");
    assert_eq!(s["value"], 1);
    assert_eq!(s["previous_value"], 0);
    assert_eq!(s["status"], "off_track");
    assert_eq!(
        s["trend"], "improving",
        "more tickets, and more is the target"
    );

    let c = item(&st.body, "CSAT");
    assert_eq!(c["status"], "no_data");
    assert!(c["trend"].is_null());

    // The reports page shows the status next to the number it is about.
    let cookie = format!("tend_session={}", app.admin_token());
    let r = app
        .get_with_cookie(
            &format!(
                "/reports?from=2026-03-01&to=2026-03-07&tz=UTC&metrics=frt&group_id={billing}"
            ),
            &cookie,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let page = String::from_utf8_lossy(&r.raw).into_owned();
    assert!(page.contains("data-target-status=\"on_track\""), "{page}");
    assert!(page.contains("Billing FRT median"), "{page}");

    // Each number links to the tickets behind it; the list has the same filters and period.
    assert!(
        page.contains(&format!("/reports/drill?metric=frt_median&#38;from=2026-03-01&#38;to=2026-03-07&#38;tz=UTC&#38;group_id={billing}")),
        "{page}"
    );
    let q = format!("metric=frt_median&from=2026-03-01&to=2026-03-07&tz=UTC&group_id={billing}");
    let d = app.get(&format!("/api/v1/reports/drill?{q}")).await;
    assert_eq!(d.status, StatusCode::OK, "{d:?}");
    assert_eq!(d.body["items"].as_array().unwrap().len(), 2, "{}", d.body);
    let d1 = app.get(&format!("/api/v1/reports/drill?{q}&limit=1")).await;
    let items = d1.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    let cur = d1.body["next_cursor"].as_str().unwrap().to_string();
    let d2 = app
        .get(&format!("/api/v1/reports/drill?{q}&limit=1&cursor={cur}"))
        .await;
    assert_eq!(d2.body["items"].as_array().unwrap().len(), 1);
    assert_ne!(d2.body["items"][0]["ticket_id"], items[0]["ticket_id"]);
    assert!(d2.body["next_cursor"].is_null());
    let r = app.get("/api/v1/reports/drill?metric=backlog").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{r:?}");
    let (_, agent) = app.agent("agent@tend.test", Role::Agent, &[billing]).await;
    let r = app
        .call(
            Method::GET,
            &format!("/api/v1/reports/drill?{q}"),
            &agent,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{r:?}");
    let r = app
        .get_with_cookie(&format!("/reports/drill?{q}"), &cookie)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        String::from_utf8_lossy(&r.raw)
            .matches("data-ticket=")
            .count(),
        2
    );

    // Named periods and bad input.
    let r = app.get("/api/v1/targets/status?period=fortnight").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{r:?}");
    assert_eq!(r.body["field"], "period");
    let r = app
        .get("/api/v1/targets/status?period=last_week&from=2026-03-01")
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{r:?}");
    let r = app.get("/api/v1/targets/status?bogus=1").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{r:?}");
    let r = app
        .get("/api/v1/targets/status?period=last_week&tz=UTC")
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(r.body["from"], "2026-02-23");
}

#[tokio::test]
async fn targets_crud_validation_audit_and_authorization() {
    let app = TestApp::spawn().await;
    let g = app.group("Billing").await;
    let (_, agent) = app.agent("agent@tend.test", Role::Agent, &[g]).await;
    let (_, sup) = app.agent("sup@tend.test", Role::Supervisor, &[]).await;
    let body = json!({"name": "CSAT", "metric": "csat", "comparator": ">=", "threshold": 90});
    // Only admins write.
    for tok in [&agent, &sup] {
        let r = app
            .call(Method::POST, "/api/v1/targets", tok, Some(body.clone()))
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{r:?}");
    }
    let r = app.post("/api/v1/targets", body.clone()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    let id = r.body["id"].as_i64().unwrap();
    assert_eq!(r.body["description"], "CSAT >= 90 %");
    // Same name twice: conflict.
    let r = app.post("/api/v1/targets", body.clone()).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{r:?}");
    // Validation problems name the field.
    for (bad, field) in [
        (
            json!({"name": "x", "metric": "frt", "comparator": "<", "threshold": 60}),
            "statistic",
        ),
        (
            json!({"name": "x", "metric": "speed", "comparator": "<", "threshold": 60}),
            "metric",
        ),
        (
            json!({"name": "x", "metric": "csat", "comparator": "=", "threshold": 60}),
            "comparator",
        ),
        (
            json!({"name": "x", "metric": "csat", "comparator": ">", "threshold": 160}),
            "threshold",
        ),
        (
            json!({"name": "x", "metric": "csat", "comparator": ">", "threshold": 60, "scope": {"brand_id": 1}}),
            "scope",
        ),
        (
            json!({"name": "", "metric": "csat", "comparator": ">", "threshold": 60}),
            "name",
        ),
    ] {
        let r = app.post("/api/v1/targets", bad).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{r:?}");
        assert_eq!(r.body["field"], field, "{r:?}");
        assert!(r.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/problem+json"));
    }
    let r = app
        .post(
            "/api/v1/targets",
            json!({"name": "x", "metric": "csat", "nope": 1}),
        )
        .await;
    assert!(r.status.is_client_error(), "{r:?}");
    // Agents read.
    let r = app.call(Method::GET, "/api/v1/targets", &agent, None).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(r.body["items"].as_array().unwrap().len(), 1);
    let r = app
        .call(Method::GET, "/api/v1/targets/status", &agent, None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let r = app
        .call(
            Method::PATCH,
            &format!("/api/v1/targets/{id}"),
            &agent,
            Some(json!({"threshold": 80})),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{r:?}");
    let r = app
        .call(Method::DELETE, &format!("/api/v1/targets/{id}"), &sup, None)
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{r:?}");
    // Admins change and delete; every change is audited.
    let r = app
        .patch(&format!("/api/v1/targets/{id}"), json!({"threshold": 85}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(r.body["threshold"], 85.0);
    assert_eq!(r.body["metric"], "csat");
    let r = app
        .patch(
            &format!("/api/v1/targets/{id}"),
            json!({"statistic": "p90"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{r:?}");
    let r = app
        .call(
            Method::DELETE,
            &format!("/api/v1/targets/{id}"),
            app.admin_token(),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{r:?}");
    let r = app.get(&format!("/api/v1/targets/{id}")).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{r:?}");
    let r = app
        .patch(&format!("/api/v1/targets/{id}"), json!({"threshold": 1}))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{r:?}");
    let doc = app.get("/api/v1/openapi.json").await.body;
    for p in [
        "/targets",
        "/targets/{id}",
        "/targets/status",
        "/reports/drill",
        "/reports/digest",
        "/service-page",
    ] {
        assert!(doc["paths"].get(p).is_some(), "openapi lacks {p}");
    }
    let audit = app
        .get("/api/v1/audit-log?limit=100")
        .await
        .body
        .to_string();
    for a in ["target.created", "target.updated", "target.deleted"] {
        assert!(audit.contains(a), "{a} in {audit}");
    }
}

#[tokio::test]
async fn ops_counts_open_unassigned_and_sla_risk() {
    let app = TestApp::spawn().await;
    let g = app.group("Billing").await;
    let (me, agent) = app.agent("agent@tend.test", Role::Agent, &[g]).await;
    // An SLA: first reply within 2 h calendar time.
    let r = app
        .call(Method::PUT, "/api/v1/sla", app.admin_token(), Some(json!({
            "calendar": {"time_zone": "UTC", "hours": [{"day": "mon", "start": "00:00", "end": "23:59"}]},
            "policies": [{"name": "All", "targets": [{"metric": "first_reply", "minutes": 120, "business_hours": false}]}]
        })))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let worker = tend_web::worker::Worker::new(app.store.clone(), Arc::new(app.clock.clone()));
    let a = app.ticket(json!({"subject": "A", "group_id": g, "requester": {"email": "a@example.com"}, "comment": {"body": "x"}})).await;
    app.ticket(json!({"subject": "B", "group_id": g, "assignee_id": me, "requester": {"email": "b@example.com"}, "comment": {"body": "x"}})).await;
    let c = app.ticket(json!({"subject": "C", "requester": {"email": "c@example.com"}, "comment": {"body": "x"}})).await;
    app.patch(
        &format!("/api/v1/tickets/{}", c["id"]),
        json!({"status": "solved"}),
    )
    .await;
    let _ = a;
    worker.tick().await.unwrap();
    // 90 minutes on: two first replies are due within the hour.
    app.clock.advance(Duration::minutes(90));
    worker.tick().await.unwrap();
    tail(&app).await;
    let cookie = format!("tend_session={}", app.admin_token());
    let r = app.get_with_cookie("/ops/data?tz=UTC", &cookie).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(r.body["open"], 2, "{}", r.body);
    assert_eq!(r.body["unassigned"], 1);
    assert_eq!(r.body["sla_due_soon"], 2, "{}", r.body);
    assert_eq!(r.body["sla_breached"], 0);
    assert_eq!(r.body["today"]["created"], 3);
    // 40 minutes later both are overdue.
    app.clock.advance(Duration::minutes(40));
    worker.tick().await.unwrap();
    let r = app.get_with_cookie("/ops/data?tz=UTC", &cookie).await;
    assert_eq!(r.body["sla_breached"], 2, "{}", r.body);
    assert_eq!(r.body["sla_due_soon"], 0);
    // The page renders with the same numbers; agents may not see it.
    let r = app.get_with_cookie("/ops?tz=UTC", &cookie).await;
    assert_eq!(r.status, StatusCode::OK);
    let html = String::from_utf8_lossy(&r.raw).into_owned();
    assert!(
        html.contains("data-ops=\"unassigned\" value=\"1\""),
        "{html}"
    );
    assert!(html.contains("/assets/ops.js"));
    let r = app
        .get_with_cookie("/ops/data", &format!("tend_session={agent}"))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{r:?}");
}

/// The weekly digest goes out once per week even when its job runs twice.
#[tokio::test]
async fn weekly_digest_reaches_the_sink_once() {
    let app = TestApp::spawn().await;
    let sink = SmtpSink::start().await;
    let cfg = Arc::new(tend_web::mail::MailConfig::new(
        Some(sink.url.clone()),
        "Shop Support <support@shop.test>".into(),
        "http://tend.test".into(),
    ));
    let worker = tend_web::worker::Worker::new(app.store.clone(), Arc::new(app.clock.clone()))
        .with_mail(cfg);
    let g = app.group("Billing").await;
    answered(&app, g, "a@example.com", 30).await;
    let r = app
        .post("/api/v1/targets", json!({"name": "FRT", "metric": "frt", "statistic": "median", "comparator": "<", "threshold": 3600}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    // Bad settings are refused.
    let r = app
        .call(Method::PUT, "/api/v1/reports/digest", app.admin_token(), Some(json!({"enabled": true, "recipients": ["not-an-address"], "weekday": "mon", "hour": 8, "tz": "UTC"})))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{r:?}");
    let r = app
        .call(Method::PUT, "/api/v1/reports/digest", app.admin_token(), Some(json!({"enabled": true, "recipients": ["boss@shop.test"], "weekday": "mon", "hour": 25, "tz": "UTC"})))
        .await;
    assert_eq!(r.body["field"], "hour", "{r:?}");
    let (_, sup) = app.agent("sup@tend.test", Role::Supervisor, &[]).await;
    let r = app
        .call(Method::PUT, "/api/v1/reports/digest", &sup, Some(json!({"enabled": true, "recipients": ["boss@shop.test"], "weekday": "mon", "hour": 8, "tz": "UTC"})))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{r:?}");
    let r = app
        .call(Method::PUT, "/api/v1/reports/digest", app.admin_token(), Some(json!({"enabled": true, "recipients": ["boss@shop.test"], "weekday": "mon", "hour": 8, "tz": "UTC"})))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    // Now is Mon 2 Mar 09:30: the next digest is due Mon 9 Mar 08:00 and reports 2–8 Mar.
    app.clock.set(at("2026-03-09T08:00:00Z"));
    tail(&app).await;
    for _ in 0..3 {
        worker.tick().await.unwrap();
    }
    // The job runs again (a retry, another server): nothing new is sent.
    let payload = json!({"week": "2026-W11"});
    tend_web::digest::run(
        &*app.store,
        &tend_web::mail::MailConfig::default(),
        app.now(),
        &payload,
    )
    .await
    .unwrap();
    for _ in 0..3 {
        worker.tick().await.unwrap();
    }
    let msgs = sink.messages();
    let digests: Vec<_> = msgs
        .iter()
        .filter(|m| m.data.contains("Weekly report"))
        .collect();
    assert_eq!(
        digests.len(),
        1,
        "{:?}",
        msgs.iter().map(|m| &m.data).collect::<Vec<_>>()
    );
    let d = &digests[0].data;
    assert!(d.contains("2026-03-02"), "{d}");
    assert!(d.contains("Created: 1"), "{d}");
    assert!(d.contains("FRT"), "{d}");
    assert!(d.contains("on track"), "{d}");
    // A week later the next one goes out.
    app.clock.set(at("2026-03-16T08:00:00Z"));
    for _ in 0..3 {
        worker.tick().await.unwrap();
    }
    let n = sink
        .messages()
        .iter()
        .filter(|m| m.data.contains("Weekly report"))
        .count();
    assert_eq!(n, 2);
}

#[tokio::test]
async fn public_service_page_is_off_by_default_and_shows_only_chosen_figures() {
    let app = TestApp::spawn().await;
    let g = app.group("Billing").await;
    answered(&app, g, "a@example.com", 30).await;
    tail(&app).await;
    let r = app.get("/service").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{r:?}");
    let (_, sup) = app.agent("sup@tend.test", Role::Supervisor, &[]).await;
    let cfg = json!({"pages": [{"enabled": true, "title": "Our service", "period": "this_month",
        "figures": [{"metric": "frt_median", "label": "Median first reply"}]}]});
    let r = app
        .call(Method::PUT, "/api/v1/service-page", &sup, Some(cfg.clone()))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{r:?}");
    let r = app
        .call(
            Method::PUT,
            "/api/v1/service-page",
            app.admin_token(),
            Some(json!({"pages": [{"enabled": true, "figures": [{"metric": "nope"}]}]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{r:?}");
    let r = app
        .call(
            Method::PUT,
            "/api/v1/service-page",
            app.admin_token(),
            Some(cfg),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let r = app.get("/service").await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let html = String::from_utf8_lossy(&r.raw).into_owned();
    assert!(html.contains("Our service"), "{html}");
    assert!(html.contains("Median first reply"), "{html}");
    assert!(html.contains("30 min"), "{html}");
    assert!(!html.contains("Created"), "only the chosen figures: {html}");
    assert!(r.headers["cache-control"]
        .to_str()
        .unwrap()
        .contains("max-age"));
    // A brand's page shows the brand's tickets only, at /service/{slug}.
    let b = app
        .post(
            "/api/v1/brands",
            json!({"name": "Kettle Co", "slug": "kettle"}),
        )
        .await;
    assert_eq!(b.status, StatusCode::CREATED, "{b:?}");
    let brand = b.body["id"].as_i64().unwrap();
    assert_eq!(
        app.get("/service/kettle").await.status,
        StatusCode::NOT_FOUND
    );
    let t = app
        .ticket(json!({"subject": "Lid", "brand_id": brand, "requester": {"email": "k@example.com"}, "comment": {"body": "x"}}))
        .await;
    app.clock.advance(Duration::minutes(10));
    app.post(
        &format!("/api/v1/tickets/{}/messages", t["id"]),
        json!({"body": "Answer", "public": true}),
    )
    .await;
    tail(&app).await;
    let r = app
        .call(Method::PUT, "/api/v1/service-page", app.admin_token(), Some(json!({"pages": [
            {"enabled": true, "title": "Our service", "period": "this_month", "figures": [{"metric": "frt_median", "label": "Median first reply"}]},
            {"brand_id": brand, "enabled": true, "figures": [{"metric": "frt_median"}, {"metric": "created"}]}]})))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let r = app
        .call(
            Method::PUT,
            "/api/v1/service-page",
            app.admin_token(),
            Some(json!({"pages": [
            {"brand_id": brand, "enabled": true, "figures": [{"metric": "csat"}]}]})),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "survey scores have no brand split: {r:?}"
    );
    let html = String::from_utf8_lossy(&app.get("/service/kettle").await.raw).into_owned();
    assert!(html.contains("Kettle Co"), "{html}");
    assert!(html.contains("10 min"), "the brand's ticket only: {html}");
    assert!(
        html.contains("<data value=\"1\">1</data>"),
        "one ticket created: {html}"
    );
    assert_eq!(app.get("/service/nope").await.status, StatusCode::NOT_FOUND);
    // The number is the report's.
    let rep = app
        .get("/api/v1/reports/tickets?metrics=frt&from=2026-03-01&to=2026-03-02")
        .await;
    let v = rep.body["total"]["values"]["frt_median"].as_i64().unwrap();
    assert!(html.contains(&format!("value=\"{v}\"")), "{v} in {html}");
}
