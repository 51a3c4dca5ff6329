//! Reports: tickets made through the API with a moved clock, the metric tailer run, and the
//! reports page, the CSV export and the JSON API compared number by number.

use crate::harness::TestApp;
use axum::http::StatusCode;
use chrono::Duration;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use tend_core::Role;

/// (period, group values joined by `|`, metric key) → value ("" = none).
pub(crate) type Numbers = BTreeMap<(String, String, String), String>;

const Q: &str = "from=2026-03-01&to=2026-03-07&tz=Europe%2FBerlin&interval=day&group_by=group&metrics=volume,frt,resolution,fcr,one_touch,reopens,replies,handle_time,csat";

fn norm(v: &str) -> String {
    // Compare numbers as numbers (JSON writes 50.0, CSV and HTML 50).
    match v.parse::<f64>() {
        Ok(x) => format!("{x}"),
        Err(_) => v.to_string(),
    }
}

pub(crate) fn json_numbers(body: &Value) -> Numbers {
    let mut out = Numbers::new();
    let mut add = |row: &Value, period: &str| {
        let group: Vec<String> = row["group"]
            .as_object()
            .unwrap()
            .values()
            .map(|v| match v {
                Value::Null => String::new(),
                Value::String(s) => s.clone(),
                v => v.to_string(),
            })
            .collect();
        for (k, v) in row["values"].as_object().unwrap() {
            let v = if v.is_null() {
                String::new()
            } else {
                norm(&v.to_string())
            };
            out.insert((period.to_string(), group.join("|"), k.clone()), v);
        }
    };
    for row in body["rows"].as_array().unwrap() {
        add(row, row["period"].as_str().unwrap());
    }
    for row in body["groups"].as_array().unwrap() {
        add(row, "total");
    }
    add(&body["total"], "total");
    add(&body["previous"], "previous");
    out
}

pub(crate) fn csv_numbers(text: &str, n_dims: usize) -> Numbers {
    let mut lines = text.split("\r\n").filter(|l| !l.is_empty());
    let head: Vec<&str> = lines.next().unwrap().split(',').collect();
    let mut out = Numbers::new();
    for line in lines {
        // Group values here are ids: no quoting needed.
        let cells: Vec<&str> = line.split(',').collect();
        assert_eq!(cells.len(), head.len(), "{line}");
        let group = cells[3..3 + n_dims].join("|");
        for (k, v) in head.iter().zip(&cells).skip(3 + n_dims) {
            out.insert(
                (cells[0].to_string(), group.clone(), k.to_string()),
                norm(v),
            );
        }
    }
    out
}

/// Reads `<tr data-period data-group>` rows and their `<td data-key><data value>` cells.
pub(crate) fn html_numbers(html: &str) -> Numbers {
    let mut out = Numbers::new();
    let attr = |s: &str, name: &str| -> String {
        let k = format!("{name}=\"");
        let i = s.find(&k).unwrap() + k.len();
        s[i..i + s[i..].find('"').unwrap()].to_string()
    };
    let table = &html[html.find("data-report").unwrap()..];
    let table = &table[..table.find("</table>").unwrap()];
    for tr in table.split("<tr ").skip(1) {
        if !tr.starts_with("class=\"total\" data-period") && !tr.starts_with("data-period") {
            continue;
        }
        let period = attr(tr, "data-period");
        let group = attr(tr, "data-group").replace("&#124;", "|");
        for td in tr.split("<td data-key=").skip(1) {
            let key = td[1..td[1..].find('"').unwrap() + 1].to_string();
            let value = attr(td, "<data value");
            out.insert((period.clone(), group.clone(), key), norm(&value));
        }
    }
    out
}

/// Applies every event to the roll-ups. On PostgreSQL `events_since` holds back events
/// newer than the oldest transaction still running (another test's, on the same server):
/// try again until the checkpoint reaches the last event.
pub(crate) async fn tail(app: &TestApp) {
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

#[tokio::test]
async fn page_csv_and_api_give_the_same_numbers() {
    let app = TestApp::spawn().await;
    let billing = app.group("Billing").await;
    let support = app.group("Support").await;
    let at = |id: &Value, path: &str| format!("/api/v1/tickets/{}{path}", id["id"]);
    // Mon 2 Mar 09:00 UTC (10:00 Berlin). A (Billing): an agent opens it for a customer
    // with the customer's words; an internal note at +10 min is not a reply; the public
    // reply at +30 min is (FRT 30 min); solved at +1 h with one reply → FCR.
    let a = app.ticket(json!({"subject": "Invoice", "group_id": billing, "channel": "phone", "requester": {"email": "a@example.com"}, "comment": {"body": "Customer asks for an invoice."}})).await;
    app.clock.advance(Duration::minutes(10));
    let r = app
        .post(
            &at(&a, "/messages"),
            json!({"body": "checked the ledger", "public": false, "time_spent_seconds": 600}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    app.clock.advance(Duration::minutes(20));
    app.post(
        &at(&a, "/messages"),
        json!({"body": "Here it is.", "public": true}),
    )
    .await;
    app.clock.advance(Duration::minutes(30));
    let r = app.patch(&at(&a, ""), json!({"status": "solved"})).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    // B (Support), created 10:00 UTC: reply after 2 h, stays open.
    let b = app.ticket(json!({"subject": "Login", "group_id": support, "requester": {"email": "b@example.com"}, "comment": {"body": "cannot log in"}})).await;
    app.clock.advance(Duration::hours(2));
    app.post(
        &at(&b, "/messages"),
        json!({"body": "Reset sent.", "public": true}),
    )
    .await;
    // C (Billing), Tue 3 Mar 09:00 UTC: reply after 1 h, solved, reopened, replied, solved.
    app.clock.set(
        chrono::DateTime::parse_from_rfc3339("2026-03-03T09:00:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc),
    );
    let c = app.ticket(json!({"subject": "Refund", "group_id": billing, "requester": {"email": "c@example.com"}, "comment": {"body": "refund please"}})).await;
    app.clock.advance(Duration::hours(1));
    app.post(
        &at(&c, "/messages"),
        json!({"body": "Refunded.", "public": true}),
    )
    .await;
    app.patch(&at(&c, ""), json!({"status": "solved"})).await;
    app.clock.advance(Duration::hours(1));
    app.patch(&at(&c, ""), json!({"status": "open"})).await;
    app.post(
        &at(&c, "/messages"),
        json!({"body": "Now really.", "public": true, "time_spent_seconds": 300}),
    )
    .await;
    app.patch(&at(&c, ""), json!({"status": "solved"})).await;
    // The report is read from roll-ups only: nothing until the tailer ran.
    let before = app.get(&format!("/api/v1/reports/tickets?{Q}")).await;
    assert_eq!(before.status, StatusCode::OK, "{before:?}");
    assert_eq!(before.body["total"]["values"]["created"], 0);
    tail(&app).await;

    let api = app.get(&format!("/api/v1/reports/tickets?{Q}")).await;
    assert_eq!(api.status, StatusCode::OK, "{api:?}");
    let t = &api.body["total"]["values"];
    assert_eq!(t["created"], 3, "{t}");
    assert_eq!(t["solved"], 3, "A once, C twice");
    assert_eq!(t["reopened"], 1);
    assert_eq!(t["backlog"], 1, "B is open");
    assert_eq!(t["fcr_rate"], 50.0, "A yes, C reopened");
    assert_eq!(t["reopen_rate"], 50.0);
    assert_eq!(
        t["replies_per_ticket"], 1.5,
        "A 1, C 2 (the note and the opening message do not count)"
    );
    // FRT: A 30 min, B 2 h, C 1 h → median 1 h (within 1 %), mean exactly 70 min.
    let median = t["frt_median"].as_f64().unwrap();
    assert!((median - 3600.0).abs() <= 36.0, "{median}");
    assert_eq!(t["frt_mean"], 4200);
    // Handle time: A 600 s (on the note), C 300 s; B (open, no time) is not counted.
    assert_eq!(t["handle_time"], 900, "{t}");
    assert_eq!(t["handled_tickets"], 2);
    assert_eq!(t["handle_time_mean"], 450);
    assert!(
        t["frt_bh_median"].is_null(),
        "no business calendar configured"
    );
    assert!(api.body["notes"].to_string().contains("business calendar"));
    let row = api.body["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["period"] == "2026-03-02" && r["group"]["group_id"] == billing)
        .unwrap();
    assert_eq!(row["values"]["created"], 1);
    assert_eq!(row["values"]["fcr_rate"], 100.0);
    assert_eq!(api.body["previous"]["values"]["created"], 0);
    assert_eq!(api.body["change"]["created"], 3);

    let csv = app
        .get(&format!("/api/v1/reports/tickets?{Q}&format=csv"))
        .await;
    assert_eq!(csv.status, StatusCode::OK);
    assert!(csv.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let csv_text = String::from_utf8(csv.raw.clone()).unwrap();
    let cookie = format!("tend_session={}", app.admin_token());
    let page = app.get_with_cookie(&format!("/reports?{Q}"), &cookie).await;
    assert_eq!(page.status, StatusCode::OK);
    let html = String::from_utf8(page.raw.clone()).unwrap();
    assert!(
        html.contains("<svg") && html.contains("role=\"img\""),
        "charts"
    );
    assert!(html.contains("<desc id="));
    let export = app
        .get_with_cookie(&format!("/reports/export.csv?{Q}"), &cookie)
        .await;
    assert_eq!(String::from_utf8(export.raw).unwrap(), csv_text);

    let from_api = json_numbers(&api.body);
    let from_csv = csv_numbers(&csv_text, 1);
    let from_page = html_numbers(&html);
    assert!(from_api.len() > 7 * 2 * 10, "{}", from_api.len());
    assert_eq!(from_api, from_csv, "JSON and CSV");
    assert_eq!(from_api, from_page, "JSON and the page");
    // The same for the per-tag and per-language roll-ups (issue 8; more in metrics_dims).
    for by in ["tag", "language", "assignee"] {
        let q = Q.replace("group_by=group", &format!("by={by}"));
        let api = app.get(&format!("/api/v1/reports/tickets?{q}")).await;
        assert_eq!(api.status, StatusCode::OK, "{api:?}");
        assert_eq!(api.body["total"]["values"]["created"], 3, "{by}");
        let csv = app
            .get(&format!("/api/v1/reports/tickets?{q}&format=csv"))
            .await;
        let page = app.get_with_cookie(&format!("/reports?{q}"), &cookie).await;
        let from_api = json_numbers(&api.body);
        assert_eq!(
            from_api,
            csv_numbers(&String::from_utf8(csv.raw).unwrap(), 1),
            "JSON and CSV by {by}"
        );
        assert_eq!(
            from_api,
            html_numbers(&String::from_utf8(page.raw).unwrap()),
            "JSON and the page by {by}"
        );
    }

    // Per agent (the per-assignee roll-ups) the total is the same.
    let by_agent = app
        .get("/api/v1/reports/tickets?from=2026-03-01&to=2026-03-07&group_by=assignee&metrics=volume")
        .await;
    assert_eq!(by_agent.status, StatusCode::OK, "{by_agent:?}");
    assert_eq!(by_agent.body["total"]["values"]["created"], 3);
    assert_eq!(by_agent.body["total"]["values"]["backlog"], 1);
    // A rebuild from the events gives the same numbers as the tailer did.
    let mut progress = |_p: tend_store::metrics::RebuildProgress| {};
    let out = tend_store::metrics::rebuild(&*app.store, app.now(), &mut progress)
        .await
        .unwrap();
    assert_eq!(out.tickets, 3);
    let again = app.get(&format!("/api/v1/reports/tickets?{Q}")).await;
    assert_eq!(json_numbers(&again.body), from_api);
    // A batch computed before the rebuild cannot be applied after it (compare and set).
    let state = app.store.metric_state().await.unwrap();
    let stale = tend_store::metrics::MetricBatch {
        from_seq: 0,
        to_seq: state.last_seq,
        generation: state.generation - 1,
        tickets: vec![],
        deltas: vec![],
    };
    assert!(!app.store.metric_apply(stale).await.unwrap());
    // The server's worker tick runs the tailer from the rebuild's checkpoint: one more
    // ticket counts once, however often it runs.
    app.ticket(
        json!({"subject": "Late", "group_id": support, "requester": {"email": "d@example.com"}}),
    )
    .await;
    let worker =
        tend_web::worker::Worker::new(app.store.clone(), std::sync::Arc::new(app.clock.clone()));
    worker.tick().await.unwrap();
    worker.tick().await.unwrap();
    tail(&app).await;
    let after = app.get(&format!("/api/v1/reports/tickets?{Q}")).await;
    assert_eq!(after.body["total"]["values"]["created"], 4);
}

#[tokio::test]
async fn bad_report_queries_are_4xx_problems() {
    let app = TestApp::spawn().await;
    for (q, field) in [
        ("from=2026-03-10&to=2026-03-01", "from"),
        ("from=2020-01-01&to=2026-03-01", "to"),
        ("tz=Mars%2FOlympus", "tz"),
        ("tz=Asia%2FKolkata", "tz"),
        ("group_by=channel,priority,group,brand", "group_by"),
        ("group_by=colour", "group_by"),
        ("metrics=speed", "metrics"),
        ("interval=fortnight", "interval"),
        ("form=2026-03-01", "form"),
        ("format=xml", "format"),
        ("from=yesterday", "from"),
    ] {
        let r = app.get(&format!("/api/v1/reports/tickets?{q}")).await;
        assert!(r.status.is_client_error(), "{q}: {r:?}");
        assert!(
            r.body["detail"].as_str().unwrap().contains(field),
            "{q}: {r:?}"
        );
    }
    let hundred: Vec<String> = (0..100).map(|i| format!("d{i}")).collect();
    let r = app
        .get(&format!(
            "/api/v1/reports/tickets?group_by={}",
            hundred.join(",")
        ))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{r:?}");
    // Agents do not see reports; the page says why.
    let (_, token) = app.agent("agent@shop.test", Role::Agent, &[]).await;
    let r = app
        .call(
            axum::http::Method::GET,
            "/api/v1/reports/tickets",
            &token,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let cookie = format!("tend_session={}", app.admin_token());
    let page = app
        .get_with_cookie("/reports?tz=Mars%2FOlympus", &cookie)
        .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(String::from_utf8(page.raw).unwrap().contains("IANA"));
}

/// Issue 8, handle time: time logged on replies and notes (API and the reply form),
/// validated, kept off customers' messages, and reported per ticket and per agent (the
/// ticket's assignee) the same in the API and the CSV.
#[tokio::test]
async fn handle_time_is_validated_logged_and_reported() {
    let app = TestApp::spawn().await;
    let (bea, bea_token) = app.agent("bea@example.com", Role::Agent, &[]).await;
    let t = app.ticket(json!({"subject": "Crash", "assignee_id": bea, "requester": {"email": "c@example.com"}, "comment": {"body": "it crashes"}})).await;
    let msgs = format!("/api/v1/tickets/{}/messages", t["id"]);
    // Not a whole number of seconds from 1 s to 24 h: 422 naming the field.
    for bad in [json!(0), json!(-60), json!(86_401), json!(1.5), json!("60")] {
        let r = app
            .post(&msgs, json!({"body": "x", "time_spent_seconds": bad}))
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {r:?}");
        assert_eq!(r.headers["content-type"], "application/problem+json");
        assert_eq!(r.body["field"], "time_spent_seconds", "{bad}");
    }
    // The requester's opening message cannot carry time.
    let r = app
        .post(
            "/api/v1/tickets",
            json!({"subject": "x", "requester": {"email": "d@example.com"}, "comment": {"body": "hi", "time_spent_seconds": 60}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{r:?}");
    assert_eq!(r.body["field"], "comment.time_spent_seconds");
    // Logged: the admin's note (10 min), Bea's reply (the full 24 h bound).
    let r = app
        .post(
            &msgs,
            json!({"body": "looked at logs", "public": false, "time_spent_seconds": 600}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    let r = app
        .call(
            axum::http::Method::POST,
            &msgs,
            &bea_token,
            Some(json!({"body": "Fixed.", "time_spent_seconds": 86_400})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    // The reply form: minutes; a bad value is shown on the page (nothing posted).
    let cookie = format!("tend_session={}", app.admin_token());
    let page = app
        .get_with_cookie(&format!("/tickets/{}", t["id"]), &cookie)
        .await;
    let html = String::from_utf8(page.raw).unwrap();
    assert!(html.contains("name=\"time_spent_min\""));
    let csrf = crate::harness::csrf_of(&html);
    let reply = format!("/tickets/{}/reply", t["id"]);
    // A note saying "more" with these extra fields.
    let note = |extra: &[(&str, &str)]| {
        let mut f: Vec<(&str, &str)> = vec![("csrf", &csrf), ("body", "more"), ("kind", "note")];
        f.extend_from_slice(extra);
        app.post_form(&reply, crate::harness::form(&f), Some(&cookie))
    };
    let r = note(&[("time_spent_min", "0")]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{r:?}");
    let html = String::from_utf8(r.raw).unwrap();
    assert!(html.contains("id=\"reply-error\""), "{html}");
    assert!(html.contains("whole number of minutes from 1 to 1440"));
    assert!(html.contains(">more</textarea>"), "what was typed is kept");
    let r = note(&[("time_spent_min", "5"), ("then_status", "solved")]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{r:?}");
    let events = app
        .get(&format!("/api/v1/tickets/{}/events", t["id"]))
        .await;
    let logged: Vec<i64> = events.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["change"]["time_spent_seconds"].as_i64())
        .collect();
    let mut sorted = logged.clone();
    sorted.sort();
    assert_eq!(sorted, vec![300, 600, 86_400], "{}", events.body);
    tail(&app).await;
    // Per agent = per assignee: all of the ticket's time under Bea.
    let q = "from=2026-03-01&to=2026-03-07&group_by=assignee&metrics=handle_time";
    let api = app.get(&format!("/api/v1/reports/tickets?{q}")).await;
    assert_eq!(api.status, StatusCode::OK, "{api:?}");
    let total = 600 + 86_400 + 300;
    assert_eq!(
        api.body["total"]["values"]["handle_time"], total,
        "{}",
        api.body
    );
    assert_eq!(api.body["total"]["values"]["handled_tickets"], 1);
    assert_eq!(api.body["total"]["values"]["handle_time_mean"], total);
    let bea_row = api.body["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["group"]["assignee_id"] == bea)
        .unwrap_or_else(|| panic!("{}", api.body));
    assert_eq!(bea_row["values"]["handle_time"], total);
    let csv = app
        .get(&format!("/api/v1/reports/tickets?{q}&format=csv"))
        .await;
    let from_csv = csv_numbers(&String::from_utf8(csv.raw).unwrap(), 1);
    assert_eq!(
        from_csv[&(
            "total".to_string(),
            bea.to_string(),
            "handle_time".to_string()
        )],
        total.to_string()
    );
    assert_eq!(json_numbers(&api.body), from_csv);
    // A rebuild gives the same numbers.
    let mut progress = |_p: tend_store::metrics::RebuildProgress| {};
    tend_store::metrics::rebuild(&*app.store, app.now(), &mut progress)
        .await
        .unwrap();
    let again = app.get(&format!("/api/v1/reports/tickets?{q}")).await;
    assert_eq!(json_numbers(&again.body), json_numbers(&api.body));
}
