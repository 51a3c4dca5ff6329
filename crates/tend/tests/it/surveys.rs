//! Satisfaction surveys end to end: a solve schedules a survey on the job queue, the clock
//! moves, the worker mails one-click rating links through SMTP to a sink, a GET of a link
//! records nothing, the POST records once, a detractor opens a follow-up ticket; bad tokens,
//! expiry, out-of-range scores, double submits, throttling, sampling and reopened tickets.

use crate::harness::*;
use crate::smtp_sink::{link_in, SmtpSink};
use axum::http::{Method, StatusCode};
use chrono::Duration;
use serde_json::{json, Value};
use std::sync::Arc;
use tend_core::Role;

struct Surveys {
    app: TestApp,
    sink: SmtpSink,
    worker: tend_web::worker::Worker,
}

async fn survey_app() -> Surveys {
    let app = TestApp::spawn().await;
    let sink = SmtpSink::start().await;
    let cfg = Arc::new(tend_web::mail::MailConfig::new(
        Some(sink.url.clone()),
        "Shop Support <support@shop.test>".into(),
        "http://tend.test".into(),
    ));
    let worker = tend_web::worker::Worker::new(app.store.clone(), Arc::new(app.clock.clone()))
        .with_mail(cfg);
    Surveys { app, sink, worker }
}

fn form(pairs: &[(&str, &str)]) -> Vec<u8> {
    pairs
        .iter()
        .map(|(k, v)| {
            format!(
                "{k}={}",
                form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>()
            )
        })
        .collect::<Vec<_>>()
        .join("&")
        .into_bytes()
}

impl Surveys {
    async fn survey(&self, body: Value) -> Value {
        let r = self.app.post("/api/v1/surveys", body).await;
        assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
        r.body
    }

    /// A ticket from `email`, solved now.
    async fn solved_ticket(&self, email: &str, group: Option<i64>) -> i64 {
        let t = self
            .app
            .ticket(json!({ "subject": format!("Refund for {email}"), "requester": { "email": email, "name": "Ann Example" },
                            "group_id": group, "comment": { "body": "Where is my refund?", "author": "requester" } }))
            .await;
        let id = t["id"].as_i64().unwrap();
        self.status(id, "solved").await;
        id
    }

    async fn status(&self, id: i64, status: &str) {
        let r = self
            .app
            .patch(
                &format!("/api/v1/tickets/{id}"),
                json!({ "status": status }),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{r:?}");
    }

    /// Moves the clock and runs the worker (twice: the scan, then what it scheduled).
    async fn after(&self, d: Duration) {
        self.app.clock.advance(d);
        self.worker.tick().await.unwrap();
        self.worker.tick().await.unwrap();
    }

    async fn page(&self, path: &str) -> (StatusCode, String) {
        let r = self
            .app
            .raw(Method::GET, path, None, None, vec![], &[])
            .await;
        (r.status, String::from_utf8_lossy(&r.raw).into_owned())
    }

    async fn answer(&self, token: &str, pairs: &[(&str, &str)]) -> (StatusCode, String) {
        let r = self
            .app
            .post_form(&format!("/s/{token}"), form(pairs), None)
            .await;
        (r.status, String::from_utf8_lossy(&r.raw).into_owned())
    }

    async fn scores(&self, query: &str) -> Value {
        let r = self
            .app
            .get(&format!("/api/v1/surveys/scores?{query}"))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{r:?}");
        r.body
    }

    async fn follow_ups(&self) -> Vec<Value> {
        let r = self.app.get("/api/v1/tickets?tag=survey-follow-up").await;
        assert_eq!(r.status, StatusCode::OK, "{r:?}");
        r.body["items"].as_array().unwrap().clone()
    }
}

/// The token of the rating link for `score` in a received mail.
fn token_in(data: &str, score: u8) -> String {
    let link = link_in(data, &format!("score={score}")).expect("a rating link");
    let path = link
        .strip_prefix("http://tend.test/s/")
        .expect("our base URL");
    let (token, q) = path.split_once('?').unwrap();
    assert_eq!(q, format!("score={score}"));
    token.to_string()
}

#[tokio::test]
async fn a_solved_ticket_is_surveyed_by_mail_and_a_detractor_opens_a_follow_up() {
    let s = survey_app().await;
    let returns = s.app.group("Returns").await;
    let survey = s
        .survey(json!({ "name": "NPS after solve", "kind": "nps", "delay_hours": 24,
                        "question": { "en": "How likely are you to recommend Shop to a friend?", "de": "Wie wahrscheinlich empfehlen Sie uns?" },
                        "follow_up": { "en": "What should we do better?" } }))
        .await;
    assert_eq!(survey["kind"], "nps");
    assert_eq!(survey["scale"], Value::Null);
    let ticket = s.solved_ticket("ann@example.com", Some(returns)).await;

    // Solved: the worker schedules the survey for 24 hours later; nothing goes out before.
    s.after(Duration::hours(1)).await;
    let queued = s.app.get("/api/v1/jobs?state=queued").await;
    assert!(
        queued.raw.windows(11).any(|w| w == b"survey.send"),
        "{queued:?}"
    );
    s.after(Duration::hours(22)).await;
    assert!(s.sink.messages().is_empty());
    s.after(Duration::hours(2)).await;
    let mails = s.sink.messages();
    assert_eq!(mails.len(), 1, "one survey mail");
    assert_eq!(mails[0].to, vec!["ann@example.com".to_string()]);
    let data = &mails[0].data;
    assert!(
        data.contains("How likely are you to recommend Shop"),
        "{data}"
    );
    for n in 0..=10u8 {
        assert!(
            link_in(data, &format!("score={n}")).is_some(),
            "link for {n}"
        );
    }
    let token = token_in(data, 3);
    assert_eq!(token, token_in(data, 10), "one token per mail");

    // A link scanner's GET shows the form with the score chosen and records nothing.
    let (status, html) = s.page(&format!("/s/{token}?score=3")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(r#"value="3" required checked"#), "{html}");
    assert!(html.contains("What should we do better?"));
    let (status, _) = s.page(&format!("/s/{token}?score=3")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(s.scores("kind=nps").await["total"]["responses"], 0);
    assert!(s.follow_ups().await.is_empty());

    // The browser posts the form: recorded once, and the detractor opens a follow-up ticket.
    let (status, html) = s
        .answer(
            &token,
            &[("score", "3"), ("comment", "The refund took weeks.")],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("Thank you"), "{html}");
    let scores = s.scores("kind=nps").await;
    assert_eq!(scores["total"]["responses"], 1);
    assert_eq!(scores["total"]["nps"]["score"], -100.0);
    assert_eq!(scores["total"]["sent"], 1);
    assert_eq!(scores["total"]["response_rate_pct"], 100.0);
    let follow = s.follow_ups().await;
    assert_eq!(follow.len(), 1);
    assert_eq!(follow[0]["group_id"], returns);
    assert_eq!(
        follow[0]["requester_id"],
        s.app.get(&format!("/api/v1/tickets/{ticket}")).await.body["requester_id"]
    );
    let fid = follow[0]["id"].as_i64().unwrap();
    let events = s
        .app
        .get(&format!("/api/v1/tickets/{fid}/events"))
        .await
        .body;
    assert!(
        events["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["change"]["relation"] == "survey_follow_up_of"
                && e["change"]["ticket_id"] == ticket),
        "{events}"
    );
    let messages = s
        .app
        .get(&format!("/api/v1/tickets/{fid}/messages"))
        .await
        .body;
    assert!(messages.to_string().contains("The refund took weeks."));

    // A double click or a replayed form: "already recorded", counted once, no second ticket.
    let (status, html) = s
        .answer(
            &token,
            &[("score", "3"), ("comment", "The refund took weeks.")],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("already recorded"), "{html}");
    assert_eq!(s.scores("kind=nps").await["total"]["responses"], 1);
    assert_eq!(s.follow_ups().await.len(), 1);

    // The link again: the answer is shown and may be changed once within 24 hours.
    let (status, html) = s.page(&format!("/s/{token}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("You may change it once"), "{html}");
    s.app.clock.advance(Duration::hours(2));
    let (status, html) = s.answer(&token, &[("score", "9")]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("changed to 9"), "{html}");
    let (_, html) = s.answer(&token, &[("score", "5")]).await;
    assert!(html.contains("can no longer be changed"), "{html}");
    let scores = s.scores("kind=nps").await;
    assert_eq!(scores["total"]["responses"], 1);
    assert_eq!(scores["total"]["nps"]["score"], 100.0);
    assert_eq!(
        s.follow_ups().await.len(),
        1,
        "the edit opens no second ticket"
    );

    // Tampered and unknown tokens; scores out of range.
    let mut bad = token.clone();
    let last = bad.pop().unwrap();
    bad.push(if last == 'A' { 'B' } else { 'A' });
    assert_eq!(
        s.page(&format!("/s/{bad}?score=3")).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        s.answer(&bad, &[("score", "3")]).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(s.page("/s/nonsense").await.0, StatusCode::NOT_FOUND);
    assert_eq!(
        s.page(&format!("/s/{token}?score=11")).await.0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        s.page(&format!("/s/{token}?score=-1")).await.0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        s.answer(&token, &[("score", "11")]).await.0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        s.answer(&token, &[("score", "x")]).await.0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        s.answer(&token, &[("comment", "no score")]).await.0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(s.scores("kind=nps").await["total"]["responses"], 1);

    // Scores split by month, group and agent (as the ticket was when the survey went out).
    let by_group = s.scores("kind=nps&group_by=group").await;
    assert_eq!(by_group["buckets"][0]["key"], returns.to_string());
    let by_month = s.scores("kind=nps&group_by=month").await;
    assert_eq!(by_month["buckets"][0]["key"], "2026-03");
    let by_agent = s.scores("kind=nps&group_by=agent").await;
    assert_eq!(by_agent["buckets"][0]["key"], Value::Null);
    let before = s.scores("kind=nps&to=2026-03-01T00:00:00Z").await;
    assert_eq!(before["total"]["responses"], 0);
    // After the answer and its edit, the roll-ups (months, days) and the rows agree, sent
    // counts included.
    for g in ["all", "month", "group", "agent", "channel"] {
        let open = s.scores(&format!("kind=nps&group_by={g}")).await;
        for range in [
            "from=2026-03-01T00:00:00Z",
            "from=2026-03-02T00:00:00Z",
            "from=2026-03-01T00:00:01Z",
        ] {
            let r = s.scores(&format!("kind=nps&group_by={g}&{range}")).await;
            assert_eq!(
                (&r["total"], &r["buckets"]),
                (&open["total"], &open["buckets"]),
                "{g} {range}"
            );
        }
    }
    assert_eq!(
        s.app
            .get("/api/v1/jobs")
            .await
            .body
            .to_string()
            .matches("survey")
            .count(),
        0,
        "no dead survey jobs"
    );
}

#[tokio::test]
async fn expired_links_are_gone_and_answers_after_expiry_are_refused() {
    let s = survey_app().await;
    s.survey(
        json!({ "name": "CSAT", "kind": "csat", "scale": 5, "delay_hours": 0, "expires_days": 1,
                     "question": { "en": "How satisfied were you?" } }),
    )
    .await;
    s.solved_ticket("bo@example.com", None).await;
    s.after(Duration::minutes(1)).await;
    let mails = s.sink.messages();
    assert_eq!(mails.len(), 1);
    for n in 1..=5u8 {
        assert!(link_in(&mails[0].data, &format!("score={n}")).is_some());
    }
    assert!(link_in(&mails[0].data, "score=6").is_none());
    let token = token_in(&mails[0].data, 2);
    assert_eq!(
        s.page(&format!("/s/{token}?score=6")).await.0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        s.page(&format!("/s/{token}?score=0")).await.0,
        StatusCode::BAD_REQUEST
    );
    s.app
        .clock
        .advance(Duration::days(1) + Duration::minutes(1));
    let (status, html) = s.page(&format!("/s/{token}?score=2")).await;
    assert_eq!(status, StatusCode::GONE);
    assert!(html.contains("expired"), "{html}");
    assert_eq!(
        s.answer(&token, &[("score", "2")]).await.0,
        StatusCode::GONE
    );
    assert_eq!(s.scores("kind=csat").await["total"]["responses"], 0);
    assert!(s.follow_ups().await.is_empty());
}

#[tokio::test]
async fn throttling_sampling_reopens_and_missing_addresses_skip_the_survey() {
    let s = survey_app().await;
    s.survey(
        json!({ "name": "NPS", "kind": "nps", "delay_hours": 1, "throttle_days": 30,
                     "question": { "en": "Recommend us?" } }),
    )
    .await;
    // Sampled out entirely: never sends.
    s.survey(
        json!({ "name": "CES", "kind": "ces", "delay_hours": 1, "sample_rate": 0.0,
                     "question": { "en": "It was easy to get my issue handled." } }),
    )
    .await;

    s.solved_ticket("cy@example.com", None).await;
    s.after(Duration::hours(2)).await;
    assert_eq!(s.sink.messages().len(), 1, "first survey");

    // The same customer again within 30 days: throttled.
    s.solved_ticket("cy@example.com", None).await;
    s.after(Duration::hours(2)).await;
    assert_eq!(s.sink.messages().len(), 1, "throttled");

    // Reopened before the survey was due: not sent; solved again: sent for the new solve.
    let t = s.solved_ticket("di@example.com", None).await;
    s.after(Duration::minutes(30)).await;
    s.status(t, "open").await;
    s.after(Duration::hours(2)).await;
    assert_eq!(s.sink.messages().len(), 1, "reopened");
    s.status(t, "solved").await;
    s.after(Duration::hours(2)).await;
    assert_eq!(s.sink.messages().len(), 2, "solved again");
    assert!(s.sink.messages()[1]
        .to
        .contains(&"di@example.com".to_string()));

    // A requester with no e-mail address.
    let c = s
        .app
        .post(
            "/api/v1/customers",
            json!({ "name": "Phone Only", "phones": ["+49 30 1234567"] }),
        )
        .await;
    assert_eq!(c.status, StatusCode::CREATED, "{c:?}");
    let t = s
        .app
        .ticket(json!({ "subject": "Call me", "requester_id": c.body["id"] }))
        .await;
    s.status(t["id"].as_i64().unwrap(), "solved").await;
    s.after(Duration::hours(2)).await;
    assert_eq!(s.sink.messages().len(), 2, "no e-mail address");

    // After the throttle window the first customer is asked again.
    s.app.clock.advance(Duration::days(31));
    s.solved_ticket("cy@example.com", None).await;
    s.after(Duration::hours(2)).await;
    assert_eq!(s.sink.messages().len(), 3, "throttle window over");
    assert_eq!(s.scores("kind=nps").await["total"]["sent"], 3);
    assert_eq!(s.scores("kind=ces").await["total"]["sent"], 0);
    assert_eq!(
        s.app
            .get("/api/v1/jobs")
            .await
            .body
            .to_string()
            .matches("survey")
            .count(),
        0,
        "no dead survey jobs"
    );
}

#[tokio::test]
async fn survey_definitions_are_checked_and_admin_only() {
    let s = survey_app().await;
    let bad = [
        json!({ "name": "x", "kind": "nps", "question": {} }),
        json!({ "name": "x", "kind": "nps", "scale": 5, "question": { "en": "q" } }),
        json!({ "name": "x", "kind": "csat", "scale": 4, "question": { "en": "q" } }),
        json!({ "name": "x", "kind": "ces", "sample_rate": 1.5, "question": { "en": "q" } }),
        json!({ "name": "x", "kind": "ces", "question": { "not a tag": "q" } }),
        json!({ "name": "x", "kind": "ces", "delay_hours": -1, "question": { "en": "q" } }),
    ];
    for b in bad {
        let r = s.app.post("/api/v1/surveys", b.clone()).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{b} → {r:?}");
    }
    let r = s
        .app
        .post(
            "/api/v1/surveys",
            json!({ "name": "x", "kind": "stars", "question": { "en": "q" } }),
        )
        .await;
    assert!(r.status.is_client_error(), "{r:?}");
    let csat = s
        .survey(json!({ "name": "CSAT", "kind": "csat", "question": { "en": "Happy?" } }))
        .await;
    assert_eq!(csat["scale"], 5);
    assert_eq!(csat["delay_hours"], 24);
    let list = s.app.get("/api/v1/surveys").await;
    assert_eq!(list.body["items"].as_array().unwrap().len(), 1);

    let (_, agent) = s.app.agent("agent@tend.test", Role::Agent, &[]).await;
    let r = s
        .app
        .call(Method::GET, "/api/v1/surveys", &agent, None)
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = s
        .app
        .call(Method::GET, "/api/v1/surveys/scores?kind=nps", &agent, None)
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    for q in [
        "kind=stars",
        "group_by=week",
        "from=yesterday",
        "from=2026-03-02T00:00:00Z&to=2026-03-01T00:00:00Z",
    ] {
        let r = s.app.get(&format!("/api/v1/surveys/scores?{q}")).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{q} → {r:?}");
    }
    let doc = s
        .app
        .raw(Method::GET, "/api/v1/openapi.json", None, None, vec![], &[])
        .await;
    assert!(doc.body["paths"]["/surveys/scores"].is_object());
}

#[tokio::test]
async fn a_double_click_arriving_at_once_is_counted_once() {
    let s = survey_app().await;
    s.survey(json!({ "name": "CES", "kind": "ces", "delay_hours": 0,
                     "question": { "en": "It was easy to get my issue handled." } }))
        .await;
    s.solved_ticket("ed@example.com", None).await;
    s.after(Duration::minutes(1)).await;
    let mails = s.sink.messages();
    assert_eq!(mails.len(), 1);
    for n in 1..=7u8 {
        assert!(link_in(&mails[0].data, &format!("score={n}")).is_some());
    }
    let token = token_in(&mails[0].data, 2);
    let answers: Vec<_> = (0..8)
        .map(|_| s.answer(&token, &[("score", "2"), ("comment", "Too many forms")]))
        .collect();
    let results = futures::future::join_all(answers).await;
    assert!(
        results.iter().all(|(st, _)| *st == StatusCode::OK),
        "{results:?}"
    );
    let recorded = results
        .iter()
        .filter(|(_, h)| h.contains("is recorded. You may change it once"))
        .count();
    assert_eq!(recorded, 1, "{results:?}");
    let scores = s.scores("kind=ces").await;
    assert_eq!(scores["total"]["responses"], 1);
    assert_eq!(scores["total"]["ces"]["mean"], 2.0);
    assert_eq!(s.follow_ups().await.len(), 1, "CES ≤ 3 opens one follow-up");
}

// --- kiosk mode ------------------------------------------------------------------------------

/// A UUID-shaped client id from a number (what the page makes with crypto.randomUUID()).
fn cid(n: u64) -> String {
    format!("00000000-0000-4000-8000-{n:012x}")
}

fn answer_item(n: u64, score: i64) -> Value {
    json!({ "client_id": cid(n), "score": score, "answered_at": "2026-03-02T10:00:00Z" })
}

impl Surveys {
    /// A kiosk for a survey: its id and the path of its page.
    async fn kiosk(&self, survey: i64, group: Option<i64>) -> (i64, String) {
        let r = self
            .app
            .post(
                &format!("/api/v1/surveys/{survey}/kiosks"),
                json!({ "name": "Counter, Berlin shop", "group_id": group }),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
        assert!(r.body.get("token_hash").is_none(), "{r:?}");
        let path = r.body["path"].as_str().unwrap().to_string();
        assert_eq!(r.body["url"], format!("http://127.0.0.1:8080{path}"));
        (r.body["id"].as_i64().unwrap(), path)
    }

    /// Posts a sync batch the way the kiosk page does (no credentials).
    async fn sync(&self, page: &str, answers: Vec<Value>) -> (StatusCode, Value) {
        let body = serde_json::to_vec(&json!({ "answers": answers })).unwrap();
        let r = self
            .app
            .raw(
                Method::POST,
                &format!("{page}/answers"),
                None,
                Some("application/json"),
                body,
                &[],
            )
            .await;
        (r.status, r.body)
    }
}

fn statuses(out: &Value) -> Vec<String> {
    out["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn kiosk_answers_sync_once_per_client_id_and_bad_items_are_rejected_alone() {
    let s = survey_app().await;
    let shop = s.app.group("Berlin shop").await;
    let survey = s
        .survey(json!({ "name": "Counter NPS", "kind": "nps", "question": { "en": "Would you recommend us?" } }))
        .await;
    let survey = survey["id"].as_i64().unwrap();
    let (_, page) = s.kiosk(survey, Some(shop)).await;

    // The page: full screen, scripts from this origin only, a service worker for /kiosk/.
    let r = s.app.raw(Method::GET, &page, None, None, vec![], &[]).await;
    assert_eq!(r.status, StatusCode::OK);
    let html = String::from_utf8_lossy(&r.raw).into_owned();
    assert!(html.contains("Would you recommend us?") && html.contains("data-score=\"10\""));
    assert!(!html.contains("<script>"), "no inline script");
    let csp = r.headers["content-security-policy"].to_str().unwrap();
    for part in [
        "script-src 'self'",
        "connect-src 'self'",
        "worker-src 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(part), "{csp}");
    }
    let sw = s
        .app
        .raw(Method::GET, "/kiosk/sw.js", None, None, vec![], &[])
        .await;
    assert_eq!(sw.status, StatusCode::OK);
    assert_eq!(sw.headers["service-worker-allowed"], "/kiosk/");
    assert!(sw.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/javascript"));
    for asset in ["/kiosk/assets/kiosk.js", "/kiosk/assets/kiosk.css"] {
        let a = s.app.raw(Method::GET, asset, None, None, vec![], &[]).await;
        assert_eq!(a.status, StatusCode::OK, "{asset}");
    }

    // Three answers; the same batch again (a replay) stores nothing.
    let batch: Vec<Value> = (1..=3).map(|n| answer_item(n, 9)).collect();
    let (st, out) = s.sync(&page, batch.clone()).await;
    assert_eq!(st, StatusCode::OK, "{out}");
    assert_eq!(
        (out["stored"].clone(), out["duplicates"].clone()),
        (json!(3), json!(0))
    );
    let (_, out) = s.sync(&page, batch).await;
    assert_eq!(
        (out["stored"].clone(), out["duplicates"].clone()),
        (json!(0), json!(3))
    );
    assert_eq!(statuses(&out), ["duplicate"; 3]);

    // An overlapping batch (two known, two new; one new twice) stores the two new ones once.
    let overlap = vec![
        answer_item(2, 9),
        answer_item(3, 9),
        answer_item(4, 0),
        answer_item(5, 7),
        answer_item(5, 7),
    ];
    let (_, out) = s.sync(&page, overlap).await;
    assert_eq!(
        statuses(&out),
        ["duplicate", "duplicate", "stored", "stored", "duplicate"]
    );

    // Bad items are rejected one by one with a reason; the good one in the batch is stored.
    let bad = vec![
        answer_item(6, 11),
        answer_item(7, -1),
        json!({ "client_id": cid(8), "score": "ten" }),
        json!({ "client_id": "not-a-uuid", "score": 5 }),
        json!({ "client_id": cid(9), "score": 5, "answered_at": "yesterday" }),
        json!("just text"),
        answer_item(10, 10),
    ];
    let (st, out) = s.sync(&page, bad).await;
    assert_eq!(st, StatusCode::OK, "{out}");
    assert_eq!(
        statuses(&out),
        ["rejected", "rejected", "rejected", "rejected", "rejected", "rejected", "stored"]
    );
    let reasons: Vec<&str> = out["results"].as_array().unwrap()[..6]
        .iter()
        .map(|r| r["reason"].as_str().unwrap())
        .collect();
    assert_eq!(reasons[0], "score 11 is out of range: 0 to 10");
    assert_eq!(reasons[1], "score -1 is out of range: 0 to 10");
    assert!(
        reasons[2].starts_with("score must be a whole number"),
        "{}",
        reasons[2]
    );
    assert!(
        reasons[3].starts_with("client_id must be a UUID"),
        "{}",
        reasons[3]
    );
    assert!(reasons[4].contains("RFC 3339"), "{}", reasons[4]);
    assert_eq!(out["rejected"], 6);

    // Too many in one request: refused whole, nothing stored.
    let (st, out) = s
        .sync(&page, (100..601).map(|n| answer_item(n, 9)).collect())
        .await;
    assert_eq!(st, StatusCode::PAYLOAD_TOO_LARGE, "{out}");
    assert!(out["detail"].as_str().unwrap().contains("at most 500"));

    // Wrong secret, unknown kiosk, no secret: not found, nothing stored.
    let (id_part, _) = page.trim_start_matches("/kiosk/").split_once('.').unwrap();
    for bad_page in [
        format!("/kiosk/{id_part}.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
        "/kiosk/999.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".to_string(),
        format!("/kiosk/{id_part}"),
    ] {
        let (st, _) = s.sync(&bad_page, vec![answer_item(50, 9)]).await;
        assert_eq!(st, StatusCode::NOT_FOUND, "{bad_page}");
        let r = s
            .app
            .raw(Method::GET, &bad_page, None, None, vec![], &[])
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{bad_page}");
    }

    // Counted once each: 9, 9, 9, 0, 7, 10 → 4 promoters, 1 passive, 1 detractor: NPS 50.
    let scores = s.scores("kind=nps").await;
    assert_eq!(scores["total"]["responses"], 6, "{scores}");
    assert_eq!(scores["total"]["nps"]["score"], 50.0, "{scores}");
    let by_channel = s.scores("kind=nps&group_by=channel").await;
    assert_eq!(by_channel["buckets"][0]["key"], "kiosk", "{by_channel}");
    assert_eq!(by_channel["buckets"][0]["responses"], 6);
    let by_group = s.scores("kind=nps&group_by=group").await;
    assert_eq!(
        by_group["buckets"][0]["key"],
        shop.to_string(),
        "{by_group}"
    );
    // The per-month roll-up (open range), the per-day roll-up (whole days) and a count over
    // every answer (any other range) agree.
    for range in [
        "from=2026-03-02T00:00:00Z&to=2026-03-03T00:00:00Z",
        "from=2026-03-01T00:00:01Z",
    ] {
        for g in ["channel", "month", "group", "agent"] {
            let a = s.scores(&format!("kind=nps&{range}&group_by={g}")).await;
            let b = s.scores(&format!("kind=nps&group_by={g}")).await;
            assert_eq!(a["buckets"], b["buckets"], "{range} by {g}");
        }
    }
    let by_agent = s.scores("kind=nps&group_by=agent").await;
    assert_eq!(by_agent["buckets"][0]["key"], Value::Null, "{by_agent}");
    assert_eq!(by_agent["buckets"][0]["responses"], 6);

    // An answer queued offline counts in the month it was given, not when it arrived; a
    // tablet clock in the future counts now.
    s.app.clock.advance(Duration::days(40));
    let (_, out) = s
        .sync(
            &page,
            vec![
                json!({ "client_id": cid(20), "score": 3, "answered_at": "2026-03-20T12:00:00Z" }),
                json!({ "client_id": cid(21), "score": 10, "answered_at": "2030-01-01T00:00:00Z" }),
            ],
        )
        .await;
    assert_eq!(out["stored"], 2, "{out}");
    let by_month = s.scores("kind=nps&group_by=month").await;
    let months: Vec<(String, u64)> = by_month["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["key"].as_str().unwrap().to_string(),
                b["responses"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        months,
        [("2026-03".to_string(), 7), ("2026-04".to_string(), 1)]
    );
}

#[tokio::test]
async fn a_revoked_kiosk_stores_nothing_and_kiosks_are_admin_only() {
    let s = survey_app().await;
    let survey = s
        .survey(json!({ "name": "Counter CSAT", "kind": "csat", "scale": 3, "question": { "en": "Happy?" } }))
        .await;
    let survey = survey["id"].as_i64().unwrap();
    let (kiosk, page) = s.kiosk(survey, None).await;
    let (_, out) = s.sync(&page, vec![answer_item(1, 3)]).await;
    assert_eq!(out["stored"], 1);
    let (_, out) = s.sync(&page, vec![answer_item(2, 4)]).await;
    assert_eq!(
        out["results"][0]["reason"],
        "score 4 is out of range: 1 to 3"
    );

    // Agents may not make or revoke kiosks; unknown surveys and kiosks are 404.
    let (_, agent) = s.app.agent("ag@tend.test", Role::Agent, &[]).await;
    let r = s
        .app
        .call(
            Method::POST,
            &format!("/api/v1/surveys/{survey}/kiosks"),
            &agent,
            Some(json!({ "name": "x" })),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = s
        .app
        .call(
            Method::DELETE,
            &format!("/api/v1/surveys/{survey}/kiosks/{kiosk}"),
            &agent,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = s
        .app
        .post("/api/v1/surveys/999/kiosks", json!({ "name": "x" }))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = s
        .app
        .post(
            &format!("/api/v1/surveys/{survey}/kiosks"),
            json!({ "name": "x", "group_id": 999 }),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let admin = s.app.admin_token().to_string();
    let r = s
        .app
        .call(
            Method::DELETE,
            &format!("/api/v1/surveys/999/kiosks/{kiosk}"),
            &admin,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    // Revoked: the page and sync answer 410 and nothing more is stored; revoking is idempotent.
    let r = s
        .app
        .call(
            Method::DELETE,
            &format!("/api/v1/surveys/{survey}/kiosks/{kiosk}"),
            &admin,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let revoked_at = r.body["revoked_at"].clone();
    assert!(revoked_at.is_string());
    let r = s
        .app
        .call(
            Method::DELETE,
            &format!("/api/v1/surveys/{survey}/kiosks/{kiosk}"),
            &admin,
            None,
        )
        .await;
    assert_eq!(r.body["revoked_at"], revoked_at);
    let (st, out) = s
        .sync(&page, vec![answer_item(3, 2), answer_item(1, 3)])
        .await;
    assert_eq!(st, StatusCode::GONE, "{out}");
    assert_eq!(out["error"], "revoked");
    let r = s.app.raw(Method::GET, &page, None, None, vec![], &[]).await;
    assert_eq!(r.status, StatusCode::GONE);
    let list = s.app.get(&format!("/api/v1/surveys/{survey}/kiosks")).await;
    assert_eq!(list.body["items"][0]["revoked_at"], revoked_at, "{list:?}");
    assert_eq!(s.scores("kind=csat").await["total"]["responses"], 1);
}

#[tokio::test]
async fn a_kiosk_back_online_with_10000_queued_answers_syncs_them_in_chunks_once() {
    let s = survey_app().await;
    let survey = s
        .survey(json!({ "name": "Counter CES", "kind": "ces", "question": { "en": "Easy?" } }))
        .await;
    let (_, page) = s.kiosk(survey["id"].as_i64().unwrap(), None).await;
    let queue: Vec<Value> = (0..10_000u64)
        .map(|n| answer_item(n, (n % 7 + 1) as i64))
        .collect();
    // The page sends the first 500 of its queue until it is empty; a lost reply makes it
    // send a chunk again, and chunks may overlap: here every chunk is sent twice and the
    // second pass starts 250 answers off.
    let mut stored = 0;
    for chunk in queue.chunks(500) {
        let (st, out) = s.sync(&page, chunk.to_vec()).await;
        assert_eq!(st, StatusCode::OK, "{out}");
        stored += out["stored"].as_u64().unwrap();
    }
    assert_eq!(stored, 10_000);
    for chunk in queue[250..].chunks(500) {
        let (_, out) = s.sync(&page, chunk.to_vec()).await;
        assert_eq!(out["stored"], 0);
        assert_eq!(out["duplicates"].as_u64().unwrap(), chunk.len() as u64);
    }
    let scores = s.scores("kind=ces").await;
    assert_eq!(scores["total"]["responses"], 10_000, "{scores}");
    let month = s
        .scores("kind=ces&from=2026-03-01T00:00:00Z&to=2026-04-01T00:00:00Z")
        .await;
    assert_eq!(month["total"]["responses"], 10_000, "{month}");
    let exact = s.scores("kind=ces&from=2026-03-02T09:00:00Z").await;
    assert_eq!(exact["total"]["responses"], 10_000, "{exact}");
}

// --- rules: orders, quiet hours, reminders, by hand, promoters, at-risk ------------------

#[tokio::test]
async fn a_delivered_order_is_surveyed_after_the_quiet_hours_and_reminded_once() {
    let s = survey_app().await;
    let survey = s
        .survey(json!({ "name": "CES after delivery", "kind": "ces", "delay_hours": 2, "expires_days": 7,
                        "question": { "en": "The delivery was easy to arrange." },
                        "rules": { "trigger": "order_delivered", "quiet_hours": { "start": 21, "end": 8 },
                                   "time_zone": "Europe/Berlin", "reminder_hours": 48 } }))
        .await;
    assert_eq!(survey["rules"]["trigger"], "order_delivered");
    // A ticket solve does not send this survey.
    s.solved_ticket("cy@example.com", None).await;
    s.after(Duration::hours(3)).await;
    assert!(s.sink.messages().is_empty());

    // The order is placed (12:00 UTC): nothing yet. Reported again, it is the same order.
    let order = json!({ "external_id": "SO-1001", "customer": { "email": "Dee@Example.com", "name": "Dee" },
                        "placed_at": "2026-03-02T12:00:00Z", "amount_cents": 4990, "currency": "eur",
                        "items": [{ "sku": "K-1", "name": "Kettle", "quantity": 1, "price_cents": 4990 }] });
    let r = s.app.post("/api/v1/orders", order.clone()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    assert_eq!(r.body["survey_events"], json!(["placed"]));
    assert_eq!(r.body["order"]["currency"], "EUR");
    let order_id = r.body["order"]["id"].as_i64().unwrap();
    let r = s.app.post("/api/v1/orders", order.clone()).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(r.body["survey_events"], json!([]));

    // Delivered at 19:30 UTC (20:30 in Berlin); due 2 h later, 22:30 Berlin: quiet.
    let mut delivered = order.clone();
    delivered["delivered_at"] = json!("2026-03-02T19:30:00Z");
    let r = s.app.post("/api/v1/orders", delivered.clone()).await;
    assert_eq!(r.body["survey_events"], json!(["delivered"]));
    let r = s.app.post("/api/v1/orders", delivered).await;
    assert_eq!(r.body["survey_events"], json!([]), "delivered once");
    s.app.clock.set(
        chrono::DateTime::parse_from_rfc3339("2026-03-02T19:30:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc),
    );
    s.after(Duration::hours(3)).await; // 22:30 UTC = 23:30 Berlin: deferred
    s.after(Duration::hours(5)).await; // 03:30 UTC = 04:30 Berlin: still quiet
    assert!(s.sink.messages().is_empty(), "nothing in the quiet hours");
    s.after(Duration::hours(4)).await; // 07:30 UTC = 08:30 Berlin
    let mails = s.sink.messages();
    assert_eq!(mails.len(), 1, "one survey mail after the quiet hours");
    assert_eq!(mails[0].to, vec!["Dee@example.com".to_string()]);
    assert!(mails[0].data.contains("SO-1001"), "{}", mails[0].data);
    let first = token_in(&mails[0].data, 5);

    // No answer: one reminder 48 h later with its own link; the first link still works.
    s.after(Duration::hours(47)).await;
    assert_eq!(s.sink.messages().len(), 1);
    s.after(Duration::hours(2)).await;
    let mails = s.sink.messages();
    assert_eq!(mails.len(), 2, "one reminder");
    assert!(mails[1].data.contains("Reminder"), "{}", mails[1].data);
    let second = token_in(&mails[1].data, 2);
    assert_ne!(first, second);
    let (status, _) = s.page(&format!("/s/{first}?score=5")).await;
    assert_eq!(status, StatusCode::OK);
    let (status, html) = s.answer(&second, &[("score", "2")]).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    // The same invitation: the first link now shows the answer, counted once.
    let (_, html) = s.answer(&first, &[("score", "2")]).await;
    assert!(html.contains("already recorded"), "{html}");
    assert_eq!(s.scores("kind=ces").await["total"]["responses"], 1);
    assert_eq!(
        s.scores("kind=ces&group_by=channel").await["buckets"][0]["key"],
        "order"
    );
    // A low CES opens a follow-up about the order.
    let follow = s.follow_ups().await;
    assert_eq!(follow.len(), 1);
    assert!(
        follow[0]["subject"]
            .as_str()
            .unwrap()
            .contains("order SO-1001"),
        "{follow:?}"
    );
    s.after(Duration::days(4)).await;
    assert_eq!(s.sink.messages().len(), 2, "never a second reminder");

    // The order and the customer's orders.
    let o = s.app.get(&format!("/api/v1/orders/{order_id}")).await;
    assert_eq!(o.body["items"][0]["name"], "Kettle");
    let cust = o.body["customer_id"].as_i64().unwrap();
    let list = s.app.get(&format!("/api/v1/customers/{cust}/orders")).await;
    assert_eq!(list.body["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn orders_and_rules_reject_bad_input_with_problems() {
    let s = survey_app().await;
    for (body, field) in [
        (
            json!({ "quiet_hours": { "start": 25, "end": 8 } }),
            "rules.quiet_hours",
        ),
        (json!({ "time_zone": "Moon/Base" }), "rules.time_zone"),
        (json!({ "reminder_hours": 0 }), "rules.reminder_hours"),
        (
            json!({ "promoter": { "action": "review", "url": "javascript:alert(1)" } }),
            "rules.promoter.url",
        ),
        (json!({ "incentive": "NO-CODE" }), "rules.incentive"),
    ] {
        let r = s
            .app
            .post(
                "/api/v1/surveys",
                json!({ "name": "x", "kind": "nps", "question": { "en": "q" }, "rules": body }),
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{r:?}");
        assert_eq!(r.headers["content-type"], "application/problem+json");
        assert!(
            r.raw.windows(field.len()).any(|w| w == field.as_bytes()),
            "{r:?}"
        );
    }
    let r = s
        .app
        .post("/api/v1/surveys", json!({ "name": "x", "kind": "nps", "question": { "en": "q" }, "rules": { "trigger": "whenever" } }))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{r:?}");
    let base = json!({ "external_id": "A-1", "customer": { "email": "e@example.com" }, "placed_at": "2026-03-02T10:00:00Z" });
    for (patch, status) in [
        (
            json!({ "external_id": "" }),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (json!({ "customer": {} }), StatusCode::UNPROCESSABLE_ENTITY),
        (
            json!({ "customer": { "id": 999999 } }),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({ "customer": { "email": "not an address" } }),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({ "amount_cents": -1 }),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({ "currency": "EURO" }),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({ "delivered_at": "2026-03-01T10:00:00Z" }),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({ "items": [{ "name": "x", "quantity": 0 }] }),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({ "placed_at": "yesterday" }),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (json!({ "colour": "red" }), StatusCode::UNPROCESSABLE_ENTITY),
    ] {
        let mut b = base.clone();
        for (k, v) in patch.as_object().unwrap() {
            b[k] = v.clone();
        }
        let r = s.app.post("/api/v1/orders", b).await;
        assert!(
            r.status == status || r.status == StatusCode::BAD_REQUEST,
            "{patch}: {r:?}"
        );
        assert_eq!(
            r.headers["content-type"], "application/problem+json",
            "{patch}"
        );
    }
    assert_eq!(
        s.app.get("/api/v1/orders/424242").await.status,
        StatusCode::NOT_FOUND
    );
    for path in [
        "/api/v1/orders/abc",
        "/api/v1/surveys/abc/responses",
        "/api/v1/surveys/1x/kiosks",
        "/api/v1/customers/abc/orders",
    ] {
        let r = s.app.get(path).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}: {r:?}");
    }
    let r = s.app.get("/api/v1/surveys/scores?kind=nps&kind=ces").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{r:?}");
    // Agents may not report orders or send surveys.
    let (_, agent) = s.app.agent("ag@shop.test", Role::Agent, &[]).await;
    let r = s
        .app
        .call(Method::POST, "/api/v1/orders", &agent, Some(base))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn surveys_sent_by_hand_thank_promoters_and_list_customers_at_risk() {
    let s = survey_app().await;
    let survey = s
        .survey(json!({ "name": "Relationship NPS", "kind": "nps", "throttle_days": 90,
                        "question": { "en": "Would you recommend Shop?" },
                        "rules": { "trigger": "manual", "incentive": "THANKS-{code}",
                                   "promoter": { "action": "review", "url": "https://reviews.example/shop" } } }))
        .await;
    let id = survey["id"].as_i64().unwrap();
    let mut customers = Vec::new();
    for name in ["ann", "ben", "cat"] {
        let r = s
            .app
            .post(
                "/api/v1/customers",
                json!({ "name": name, "emails": [format!("{name}@example.com")] }),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
        customers.push(r.body["id"].as_i64().unwrap());
    }
    // Solves do not send a manual survey.
    s.solved_ticket("dan@example.com", None).await;
    s.after(Duration::hours(30)).await;
    assert!(s.sink.messages().is_empty());

    for (body, status) in [
        (json!({}), StatusCode::UNPROCESSABLE_ENTITY),
        (
            json!({ "customer_ids": (1..=1001).collect::<Vec<i64>>() }),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({ "customer_ids": [987654] }),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({ "customer_ids": customers, "ticket_id": 1 }),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    ] {
        let r = s
            .app
            .post(&format!("/api/v1/surveys/{id}/send"), body.clone())
            .await;
        assert_eq!(r.status, status, "{body}: {r:?}");
    }
    let r = s
        .app
        .post(
            &format!("/api/v1/surveys/{id}/send"),
            json!({ "customer_ids": customers }),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{r:?}");
    assert_eq!(r.body["queued"], 3);
    s.after(Duration::minutes(1)).await;
    let mails = s.sink.messages();
    assert_eq!(mails.len(), 3, "one mail per customer");
    let token_of = |who: &str| {
        let m = mails.iter().find(|m| m.to[0].starts_with(who)).unwrap();
        token_in(&m.data, 10)
    };

    // A promoter gets the review link and an incentive code, shown again on a replay.
    let (status, html) = s.answer(&token_of("ann"), &[("score", "10")]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains(r#"href="https://reviews.example/shop""#),
        "{html}"
    );
    let code = html
        .split("THANKS-")
        .nth(1)
        .map(|r| r[..8].to_string())
        .expect("an incentive code");
    assert!(code.chars().all(|c| c.is_ascii_alphanumeric()), "{code}");
    let (_, again) = s.answer(&token_of("ann"), &[("score", "10")]).await;
    assert!(
        again.contains(&format!("THANKS-{code}")),
        "the same code: {again}"
    );
    // A passive gets the code but no review request.
    let (_, html) = s.answer(&token_of("ben"), &[("score", "8")]).await;
    assert!(
        html.contains("THANKS-") && !html.contains("reviews.example"),
        "{html}"
    );
    // A detractor: follow-up ticket, and the customer is at risk.
    let (_, _) = s
        .answer(&token_of("cat"), &[("score", "2"), ("comment", "Too slow")])
        .await;
    let risk = s.app.get("/api/v1/surveys/at-risk?days=30").await;
    assert_eq!(risk.status, StatusCode::OK, "{risk:?}");
    let items = risk.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{risk:?}");
    assert_eq!(items[0]["customer_id"], customers[2]);
    assert_eq!(items[0]["email"], "cat@example.com");
    assert_eq!(items[0]["low_answers"], 1);
    assert_eq!(items[0]["last_score"], 2);
    assert_eq!(items[0]["last_kind"], "nps");
    assert_eq!(items[0]["open_complaints"], 1, "the open follow-up ticket");
    assert_eq!(
        s.app.get("/api/v1/surveys/at-risk?days=0").await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    // Outside the window, only the open follow-up keeps the customer on the list.
    s.app.clock.advance(Duration::days(40));
    let risk = s.app.get("/api/v1/surveys/at-risk?days=30").await;
    let items = risk.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["low_answers"], 0);
    // Throttled: a second round within 90 days sends nothing.
    s.app
        .post(
            &format!("/api/v1/surveys/{id}/send"),
            json!({ "customer_id": customers[0] }),
        )
        .await;
    s.after(Duration::minutes(1)).await;
    assert_eq!(s.sink.messages().len(), 3);
}

#[tokio::test]
async fn follow_up_questions_are_asked_checked_stored_and_listed() {
    let s = survey_app().await;
    let survey = s
        .survey(json!({ "name": "CSAT with reasons", "kind": "csat", "delay_hours": 0,
            "question": { "en": "How satisfied were you?" },
            "questions": [
                { "id": "reason", "kind": "single", "required": true, "label": { "en": "What mattered most?", "de": "Was war am wichtigsten?" },
                  "options": [ { "id": "speed", "label": { "en": "Speed" } }, { "id": "tone", "label": { "en": "Friendliness" } } ] },
                { "id": "channels", "kind": "multiple", "label": { "en": "How did you contact us?" },
                  "options": [ { "id": "mail", "label": { "en": "E-mail" } }, { "id": "chat", "label": { "en": "Chat" } }, { "id": "phone", "label": { "en": "Phone" } } ] },
                { "id": "effort", "kind": "rating", "max": 7, "label": { "en": "How easy was it?" } },
                { "id": "idea", "kind": "text", "label": { "en": "One thing we should change?" } }
            ] }))
        .await;
    let id = survey["id"].as_i64().unwrap();
    assert_eq!(survey["questions"][0]["options"][1]["id"], "tone");
    let bad = s
        .app
        .post("/api/v1/surveys", json!({ "name": "x", "kind": "nps", "question": { "en": "q" },
            "questions": [{ "id": "a", "kind": "single", "label": { "en": "?" }, "options": [{ "id": "o", "label": { "en": "o" } }] }] }))
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad:?}");
    assert!(
        bad.body.to_string().contains("questions[0].options"),
        "{bad:?}"
    );

    s.solved_ticket("fay@example.com", None).await;
    s.after(Duration::minutes(1)).await;
    let token = token_in(&s.sink.messages()[0].data, 1);
    let (status, html) = s.page(&format!("/s/{token}?score=1")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("What mattered most?") && html.contains(r#"name="q.channels" value="chat""#),
        "{html}"
    );
    assert!(html.contains(r#"name="q.effort" value="7""#), "{html}");
    // Score 5 s + comment 20 s + text 20 s + three choices/ratings 15 s = 60 s.
    assert!(html.contains("It takes about 1 minute."), "{html}");

    // A required question left out: 400, the form again with what was given, nothing stored.
    let (status, html) = s
        .answer(
            &token,
            &[("score", "1"), ("comment", "Slow"), ("q.channels", "chat")],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{html}");
    assert!(html.contains("please answer this question"), "{html}");
    assert!(html.contains(r#"value="chat" checked"#), "{html}");
    assert!(html.contains(">Slow</textarea>"), "{html}");
    let (status, _) = s
        .answer(&token, &[("score", "1"), ("q.reason", "price")])
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "not an offered answer");
    let (status, _) = s
        .answer(
            &token,
            &[("score", "1"), ("q.reason", "speed"), ("q.effort", "8")],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "rating out of range");
    assert_eq!(s.scores("kind=csat").await["total"]["responses"], 0);

    let (status, html) = s
        .answer(
            &token,
            &[
                ("score", "1"),
                ("comment", "Slow"),
                ("q.reason", "speed"),
                ("q.channels", "mail"),
                ("q.channels", "phone"),
                ("q.effort", "2"),
                ("q.idea", "Answer the phone"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{html}");
    let list = s.app.get(&format!("/api/v1/surveys/{id}/responses")).await;
    assert_eq!(list.status, StatusCode::OK, "{list:?}");
    let r = &list.body["items"][0];
    assert_eq!(r["response"]["score"], 1);
    assert_eq!(
        r["response"]["answers"],
        json!({ "reason": ["speed"], "channels": ["mail", "phone"], "effort": 2, "idea": "Answer the phone" })
    );
    assert_eq!(r["invitation"]["channel"], "api");
    assert_eq!(list.body["next_before"], Value::Null);
    // The follow-up ticket carries the answers.
    let fid = s.follow_ups().await[0]["id"].as_i64().unwrap();
    let messages = s
        .app
        .get(&format!("/api/v1/tickets/{fid}/messages"))
        .await
        .body
        .to_string();
    assert!(
        messages.contains("What mattered most?: Speed") && messages.contains("E-mail, Phone"),
        "{messages}"
    );
    assert_eq!(
        s.app.get("/api/v1/surveys/999/responses").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        s.app
            .get(&format!("/api/v1/surveys/{id}/responses?limit=0"))
            .await
            .status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
}

#[tokio::test]
async fn one_address_trying_unknown_links_is_slowed_down() {
    let s = survey_app().await;
    for i in 0..5 {
        assert_eq!(
            s.page(&format!("/s/guess{i}")).await.0,
            StatusCode::NOT_FOUND
        );
    }
    let (status, html) = s.answer("guess-again", &[("score", "3")]).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{html}");
    assert!(html.contains("wait 15 minutes"), "{html}");
    s.app.clock.advance(Duration::minutes(16));
    assert_eq!(s.page("/s/guess-later").await.0, StatusCode::NOT_FOUND);
}

/// A portal session cookie for a customer (a session token stored as the portal stores it).
async fn portal_cookie(app: &TestApp, customer_id: i64) -> String {
    let token = tend_web::auth::generate_token();
    app.store
        .create_customer_token(
            customer_id,
            true,
            tend_web::auth::hash_token(&token),
            app.now() + Duration::days(7),
            app.now(),
        )
        .await
        .unwrap();
    format!("tend_portal={token}")
}

#[tokio::test]
async fn customers_answer_their_own_surveys_from_the_portal_only() {
    let s = survey_app().await;
    s.survey(json!({ "name": "NPS", "kind": "nps", "delay_hours": 0,
                     "question": { "en": "Would you recommend us?", "de": "Würden Sie uns empfehlen?" } }))
        .await;
    let ticket = s.solved_ticket("gus@example.com", None).await;
    s.solved_ticket("hal@example.com", None).await;
    s.after(Duration::minutes(1)).await;
    assert_eq!(s.sink.messages().len(), 2);
    let gus = s.app.get(&format!("/api/v1/tickets/{ticket}")).await.body["requester_id"]
        .as_i64()
        .unwrap();
    let cookie = portal_cookie(&s.app, gus).await;

    // The portal home lists Gus's open survey (his only), linking to the portal form.
    let home = s.app.get_with_cookie("/portal", &cookie).await;
    let html = String::from_utf8_lossy(&home.raw).to_string();
    assert!(html.contains("We would like your feedback"), "{html}");
    let start = html.find("/portal/surveys/").expect("a survey link") + "/portal/surveys/".len();
    let id: i64 = html[start..].split('"').next().unwrap().parse().unwrap();
    assert_eq!(html.matches("/portal/surveys/").count(), 1, "{html}");
    let page = s
        .app
        .get_with_cookie(&format!("/portal/surveys/{id}"), &cookie)
        .await;
    let form_html = String::from_utf8_lossy(&page.raw).to_string();
    assert_eq!(page.status, StatusCode::OK, "{form_html}");
    assert!(
        form_html.contains(&format!(r#"action="/portal/surveys/{id}""#)),
        "{form_html}"
    );
    let csrf = csrf_of(&form_html);

    // Hal's invitation is not Gus's: 404, for the page and a post.
    for other in [id + 1, id - 1, 999_999] {
        let r = s
            .app
            .get_with_cookie(&format!("/portal/surveys/{other}"), &cookie)
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{other}");
        let r = s
            .app
            .post_form(
                &format!("/portal/surveys/{other}"),
                form(&[("csrf", &csrf), ("score", "0")]),
                Some(&cookie),
            )
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{other}");
    }
    // Without a session: to the sign-in page; without the CSRF token: refused.
    let r = s
        .app
        .post_form(
            &format!("/portal/surveys/{id}"),
            form(&[("score", "9")]),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let r = s
        .app
        .post_form(
            &format!("/portal/surveys/{id}"),
            form(&[("score", "9")]),
            Some(&cookie),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(s.scores("kind=nps").await["total"]["responses"], 0);

    let r = s
        .app
        .post_form(
            &format!("/portal/surveys/{id}"),
            form(&[("csrf", &csrf), ("score", "9")]),
            Some(&cookie),
        )
        .await;
    let html = String::from_utf8_lossy(&r.raw).to_string();
    assert_eq!(r.status, StatusCode::OK, "{html}");
    assert!(html.contains("is recorded"), "{html}");
    assert_eq!(s.scores("kind=nps").await["total"]["responses"], 1);
    // Answered: the mail link shows the same answer, and the portal no longer lists it.
    let token = token_in(
        &s.sink
            .messages()
            .iter()
            .find(|m| m.to[0] == "gus@example.com")
            .unwrap()
            .data,
        9,
    );
    let (_, html) = s.answer(&token, &[("score", "9")]).await;
    assert!(html.contains("already recorded"), "{html}");
    let home = s.app.get_with_cookie("/portal", &cookie).await;
    assert!(!String::from_utf8_lossy(&home.raw).contains("/portal/surveys/"));
}

#[tokio::test]
async fn relationship_rounds_survey_active_customers_every_period() {
    let s = survey_app().await;
    // Activity before the survey: Ivy has a ticket, Jo an order, Kim nothing.
    s.app
        .ticket(json!({ "subject": "Question", "requester": { "email": "ivy@example.com" }, "comment": { "body": "Hi" } }))
        .await;
    let r = s
        .app
        .post("/api/v1/orders", json!({ "external_id": "R-1", "customer": { "email": "jo@example.com" }, "placed_at": "2026-03-01T10:00:00Z" }))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    let r = s
        .app
        .post(
            "/api/v1/customers",
            json!({ "name": "Kim", "emails": ["kim@example.com"] }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let bad = s
        .app
        .post("/api/v1/surveys", json!({ "name": "x", "kind": "nps", "question": { "en": "q" }, "rules": { "trigger": "relationship" } }))
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    s.survey(
        json!({ "name": "Quarterly NPS", "kind": "nps", "delay_hours": 1, "throttle_days": 60,
                     "question": { "en": "How likely are you to recommend Shop?" },
                     "rules": { "trigger": "relationship", "period_days": 30 } }),
    )
    .await;
    s.after(Duration::minutes(30)).await;
    assert!(
        s.sink.messages().is_empty(),
        "the first round waits delay_hours"
    );
    s.after(Duration::hours(1)).await;
    s.after(Duration::minutes(1)).await;
    let mut to: Vec<String> = s.sink.messages().iter().map(|m| m.to[0].clone()).collect();
    to.sort();
    assert_eq!(
        to,
        vec!["ivy@example.com", "jo@example.com"],
        "active customers only"
    );

    // A new customer becomes active; the next round (30 days on) surveys only them: the
    // others had this survey within throttle_days.
    s.app.clock.advance(Duration::days(20));
    s.app
        .ticket(json!({ "subject": "Hello", "requester": { "email": "lou@example.com" }, "comment": { "body": "Hi" } }))
        .await;
    s.after(Duration::days(9)).await;
    assert_eq!(s.sink.messages().len(), 2, "not before the period is over");
    s.after(Duration::days(1)).await;
    s.after(Duration::minutes(1)).await;
    let mails = s.sink.messages();
    assert_eq!(
        mails.len(),
        3,
        "{:?}",
        mails.iter().map(|m| &m.to).collect::<Vec<_>>()
    );
    assert_eq!(mails[2].to, vec!["lou@example.com".to_string()]);
    // The round is queued again for the next period.
    let queued = s.app.get("/api/v1/jobs?state=queued").await;
    assert!(
        queued.raw.windows(12).any(|w| w == b"survey.round"),
        "{queued:?}"
    );
}

#[tokio::test]
async fn two_periods_are_compared_with_the_significance_of_the_change() {
    let s = survey_app().await;
    let survey = s
        .survey(
            json!({ "name": "Counter NPS", "kind": "nps", "question": { "en": "Recommend us?" } }),
        )
        .await;
    let (_, page) = s.kiosk(survey["id"].as_i64().unwrap(), None).await;
    let at = |n: u64, score: i64, when: &str| json!({ "client_id": cid(n), "score": score, "answered_at": when });
    // March: 10, 10, 9, 3 → 75 % promoters, 25 % detractors: NPS 50.
    let march: Vec<Value> = [10, 10, 9, 3]
        .iter()
        .enumerate()
        .map(|(i, sc)| at(i as u64, *sc, "2026-03-02T09:30:00Z"))
        .collect();
    assert_eq!(s.sync(&page, march).await.0, StatusCode::OK);
    // April: 10, 3, 3, 2 → 25 % promoters, 75 % detractors: NPS −50.
    s.app.clock.advance(Duration::days(31));
    let april: Vec<Value> = [10, 3, 3, 2]
        .iter()
        .enumerate()
        .map(|(i, sc)| at(100 + i as u64, *sc, "2026-04-02T09:30:00Z"))
        .collect();
    assert_eq!(s.sync(&page, april).await.0, StatusCode::OK);
    let q = "kind=nps&before_from=2026-03-01T00:00:00Z&before_to=2026-04-01T00:00:00Z&after_from=2026-04-01T00:00:00Z&after_to=2026-05-01T00:00:00Z";
    let r = s
        .app
        .get(&format!("/api/v1/surveys/scores/compare?{q}"))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let c = &r.body["comparison"];
    assert_eq!(c["before"], 50.0);
    assert_eq!(c["after"], -50.0);
    assert_eq!(c["delta"], -100.0);
    // SE per period: 100·sqrt((0.75 + 0.25 − 0.5²)/4) = 43.30; of the difference: 61.24;
    // z = −100/61.24 = −1.633, two-sided p = 0.102: not significant at 0.05 with n = 4.
    let z = c["z"].as_f64().unwrap();
    assert!((z + 1.633).abs() < 0.001, "{z}");
    let p = c["p_value"].as_f64().unwrap();
    assert!((p - 0.1025).abs() < 0.001, "{p}");
    assert_eq!(c["significant"], false);
    assert_eq!(r.body["before"]["responses"], 4);
    // A period without answers is not comparable; bad ranges are 400s.
    let r = s
        .app
        .get("/api/v1/surveys/scores/compare?before_from=2026-01-01T00:00:00Z&before_to=2026-02-01T00:00:00Z&after_from=2026-04-01T00:00:00Z&after_to=2026-05-01T00:00:00Z")
        .await;
    assert_eq!(r.body["comparison"], Value::Null);
    assert!(
        r.body["not_comparable"]
            .as_str()
            .unwrap()
            .contains("no responses"),
        "{r:?}"
    );
    for bad in [
        "before_from=2026-03-01T00:00:00Z",
        "before_from=2026-04-01T00:00:00Z&before_to=2026-03-01T00:00:00Z&after_from=2026-04-01T00:00:00Z&after_to=2026-05-01T00:00:00Z",
        &format!("{q}&alpha=2"),
        &format!("{q}&kind=xyz"),
    ] {
        let r = s.app.get(&format!("/api/v1/surveys/scores/compare?{bad}")).await;
        assert!(r.status.is_client_error(), "{bad}: {r:?}");
        assert_eq!(r.headers["content-type"], "application/problem+json");
    }
}

#[tokio::test]
async fn an_embedded_kiosk_may_be_framed_only_by_its_sites() {
    let s = survey_app().await;
    let survey = s
        .survey(
            json!({ "name": "Website NPS", "kind": "nps", "question": { "en": "Recommend us?" } }),
        )
        .await;
    let id = survey["id"].as_i64().unwrap();
    let r = s
        .app
        .post(
            &format!("/api/v1/surveys/{id}/kiosks"),
            json!({ "name": "Shop <footer>", "embed_origins": ["https://Shop.Example/", "https://shop.example", "http://localhost:8081"] }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    assert_eq!(
        r.body["embed_origins"],
        json!(["https://shop.example", "http://localhost:8081"])
    );
    let html = r.body["embed_html"].as_str().unwrap();
    let path = r.body["path"].as_str().unwrap().to_string();
    assert!(
        html.starts_with("<iframe src=\"http://127.0.0.1:8080/kiosk/"),
        "{html}"
    );
    assert!(html.contains("title=\"Shop &lt;footer&gt;\""), "{html}");
    let page = s.app.raw(Method::GET, &path, None, None, vec![], &[]).await;
    assert_eq!(page.status, StatusCode::OK);
    let csp = page.headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("frame-ancestors https://shop.example http://localhost:8081;"),
        "{csp}"
    );
    assert!(page.headers.get("x-frame-options").is_none());
    // A kiosk without sites stays unframeable.
    let (_, plain) = s.kiosk(id, None).await;
    let page = s
        .app
        .raw(Method::GET, &plain, None, None, vec![], &[])
        .await;
    let csp = page.headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(page.headers["x-frame-options"], "DENY");
    // Origins are checked: no paths, wildcards or CSP tricks.
    for bad in [
        "https://shop.example/page",
        "*",
        "https://shop.example 'unsafe-inline'",
    ] {
        let r = s
            .app
            .post(
                &format!("/api/v1/surveys/{id}/kiosks"),
                json!({ "name": "x", "embed_origins": [bad] }),
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {r:?}");
        assert_eq!(r.body["field"], "embed_origins[0]");
    }
}

/// Each bucket's key → (responses, sent).
fn bucket_counts(scores: &Value) -> Vec<(Value, u64, u64)> {
    scores["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["key"].clone(),
                b["responses"].as_u64().unwrap(),
                b["sent"].as_u64().unwrap(),
            )
        })
        .collect()
}

impl Surveys {
    /// A ticket solved now, with brand, tags and custom fields.
    async fn solved_with(&self, email: &str, extra: Value) -> i64 {
        let mut body = json!({ "subject": format!("Order question from {email}"),
                               "requester": { "email": email, "name": "Customer" },
                               "comment": { "body": "Help please", "author": "requester" } });
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        let t = self.app.ticket(body).await;
        let id = t["id"].as_i64().unwrap();
        self.status(id, "solved").await;
        id
    }

    /// The link token for `score` in the survey mail sent to `email`.
    fn token_for(&self, email: &str, score: u8) -> String {
        let mails = self.sink.messages();
        let m = mails
            .iter()
            .find(|m| m.to == vec![email.to_string()])
            .unwrap_or_else(|| panic!("a survey mail to {email}"));
        token_in(&m.data, score)
    }
}

#[tokio::test]
async fn scores_by_brand_tag_and_product_count_the_ticket_as_it_was_when_sent() {
    let s = survey_app().await;
    let r = s
        .app
        .post(
            "/api/v1/field-definitions",
            json!({ "key": "product", "label": "Product", "type": "text" }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    s.survey(
        json!({ "name": "CSAT", "kind": "csat", "scale": 5, "delay_hours": 0, "throttle_days": 0,
                     "question": { "en": "How satisfied were you?" } }),
    )
    .await;
    // Ann: brand 1, three tags, a product. Bob: brand 2, one tag, another product.
    // Cid: nothing. Dan: brand 1, tag vip, no answer.
    let ann = s
        .solved_with(
            "ann@example.com",
            json!({ "brand_id": 1, "tags": ["billing", "vip", "refund"], "fields": { "product": "Kettle" } }),
        )
        .await;
    s.solved_with(
        "bob@example.com",
        json!({ "brand_id": 2, "tags": ["billing"], "fields": { "product": "Toaster" } }),
    )
    .await;
    s.solved_with("cid@example.com", json!({})).await;
    s.solved_with("dan@example.com", json!({ "brand_id": 1, "tags": ["vip"] }))
        .await;
    s.after(Duration::minutes(10)).await;
    assert_eq!(s.sink.messages().len(), 4, "four survey mails");
    for (email, score) in [
        ("ann@example.com", 2u8),
        ("bob@example.com", 5),
        ("cid@example.com", 4),
    ] {
        let token = s.token_for(email, score);
        let (st, html) = s
            .answer(&token, &[("score", &score.to_string()), ("comment", "ok")])
            .await;
        assert_eq!(st, StatusCode::OK, "{html}");
    }

    let check = |scores: &Value| {
        assert_eq!(scores["total"]["responses"], 3, "{scores}");
        assert_eq!(scores["total"]["sent"], 4, "{scores}");
    };
    let expected_brand = vec![(Value::Null, 1, 1), (json!("1"), 1, 2), (json!("2"), 1, 1)];
    // A ticket with three tags counts once under each: the buckets add up to more than the
    // total.
    let expected_tag = vec![
        (Value::Null, 1, 1),
        (json!("billing"), 2, 2),
        (json!("refund"), 1, 1),
        (json!("vip"), 1, 2),
    ];
    let expected_product = vec![
        (Value::Null, 1, 2),
        (json!("Kettle"), 1, 1),
        (json!("Toaster"), 1, 1),
    ];
    let by_brand = s.scores("kind=csat&group_by=brand").await;
    check(&by_brand);
    assert_eq!(by_brand["group_by"], "brand");
    assert_eq!(bucket_counts(&by_brand), expected_brand);
    let by_tag = s.scores("kind=csat&group_by=tag").await;
    check(&by_tag);
    assert_eq!(bucket_counts(&by_tag), expected_tag);
    // billing: Ann 2 (not satisfied), Bob 5 (satisfied).
    let billing = &by_tag["buckets"][1];
    assert_eq!(billing["csat"][0]["n"], 2);
    assert_eq!(billing["csat"][0]["satisfied"], 1);
    assert_eq!(billing["csat"][0]["csat_pct"], 50.0);
    let by_product = s.scores("kind=csat&group_by=product").await;
    check(&by_product);
    assert_eq!(bucket_counts(&by_product), expected_product);
    // `by=` is short for `group_by=`.
    assert_eq!(
        bucket_counts(&s.scores("kind=csat&by=tag").await),
        expected_tag
    );

    // Ann's ticket changes afterwards: her answer stays where it was when the survey went out.
    let r = s
        .app
        .patch(
            &format!("/api/v1/tickets/{ann}"),
            json!({ "tags": ["other"], "fields": { "product": "Teapot" } }),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(
        bucket_counts(&s.scores("kind=csat&group_by=tag").await),
        expected_tag
    );
    assert_eq!(
        bucket_counts(&s.scores("kind=csat&group_by=product").await),
        expected_product
    );
    // Her one edit moves her score within the same buckets.
    s.app.clock.advance(Duration::minutes(5));
    let token = s.token_for("ann@example.com", 4);
    let (_, html) = s.answer(&token, &[("score", "4"), ("comment", "ok")]).await;
    assert!(html.contains("changed to 4"), "{html}");
    let by_tag = s.scores("kind=csat&group_by=tag").await;
    assert_eq!(bucket_counts(&by_tag), expected_tag);
    assert_eq!(by_tag["buckets"][1]["csat"][0]["satisfied"], 2);

    // Every way a range can be cut (months, days, hours, rows at mid-hour edges) agrees
    // with the open range: everything happened 2026-03-02 09:00–09:15 UTC.
    for g in [
        "brand", "tag", "product", "all", "group", "agent", "channel", "month",
    ] {
        let open = s.scores(&format!("kind=csat&group_by={g}")).await;
        for range in [
            "from=2026-03-01T00:00:00Z",
            "from=2026-03-02T09:00:00Z&to=2026-03-02T10:00:00Z",
            "from=2026-03-01T23:00:00Z&to=2026-03-31T22:00:00Z",
            "from=2026-03-02T08:59:59Z&to=2026-03-02T11:30:00Z",
            "from=2026-03-02T09:00:00.5Z&to=2026-03-02T09:45:00Z",
        ] {
            let r = s.scores(&format!("kind=csat&group_by={g}&{range}")).await;
            assert_eq!(
                (&r["total"], &r["buckets"]),
                (&open["total"], &open["buckets"]),
                "{g} {range}"
            );
        }
    }
    // And a range without them is empty.
    let none = s
        .scores("kind=csat&group_by=tag&from=2026-03-02T10:00:00Z")
        .await;
    assert_eq!(none["total"]["responses"], 0);
    assert!(none["buckets"].as_array().unwrap().is_empty());

    // Unknown splits are a 400 problem.
    for q in [
        "kind=csat&group_by=week",
        "kind=csat&by=colour",
        "kind=csat&by=tag&group_by=brand",
    ] {
        let r = s.app.get(&format!("/api/v1/surveys/scores?{q}")).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{q}: {r:?}");
        assert_eq!(
            r.headers.get("content-type").unwrap(),
            "application/problem+json",
            "{q}"
        );
        assert!(
            r.body["detail"].as_str().unwrap().contains("not one of")
                || r.body["detail"].as_str().unwrap().contains("differ"),
            "{q}: {}",
            r.body
        );
    }
}

#[tokio::test]
async fn survey_sends_and_answers_are_on_the_ticket_timeline_for_agents_only() {
    let s = survey_app().await;
    s.app.post("/api/v1/agents", json!({"email": "lena@shop.test", "name": "Lena", "role": "admin", "password": "correct horse battery"})).await;
    s.survey(
        json!({ "name": "CSAT", "kind": "csat", "scale": 5, "delay_hours": 0,
                     "question": { "en": "How satisfied were you?" } }),
    )
    .await;
    let id = s
        .solved_with("ann@example.com", json!({ "tags": ["billing"] }))
        .await;
    let before = s.app.get(&format!("/api/v1/tickets/{id}")).await.body;
    s.after(Duration::minutes(10)).await;

    let marks = |events: &Value| -> Vec<Value> {
        events["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["kind"].as_str().unwrap().starts_with("ticket.survey_"))
            .cloned()
            .collect()
    };
    let events = s.app.get(&format!("/api/v1/tickets/{id}/events")).await;
    assert_eq!(events.status, StatusCode::OK);
    let m = marks(&events.body);
    assert_eq!(m.len(), 1, "{}", events.body);
    assert_eq!(m[0]["kind"], "ticket.survey_sent");
    assert_eq!(m[0]["change"]["type"], "survey_sent");
    assert_eq!(m[0]["change"]["survey_kind"], "csat");
    assert_eq!(m[0]["change"]["to"], "ann@example.com");
    assert_eq!(m[0]["actor"]["kind"], "system");

    // The answer, then its one edit: two more marks by the customer.
    let token = s.token_for("ann@example.com", 2);
    s.answer(
        &token,
        &[("score", "2"), ("comment", "Took <b>far</b> too long")],
    )
    .await;
    s.app.clock.advance(Duration::minutes(1));
    s.answer(&token, &[("score", "3"), ("comment", "Took far too long")])
        .await;
    let events = s
        .app
        .get(&format!("/api/v1/tickets/{id}/events"))
        .await
        .body;
    let m = marks(&events);
    assert_eq!(m.len(), 3, "{events}");
    assert_eq!(m[1]["kind"], "ticket.survey_answered");
    assert_eq!(m[1]["actor"]["kind"], "customer");
    assert_eq!(m[1]["change"]["score"], 2);
    assert_eq!(m[1]["change"]["max"], 5);
    assert_eq!(m[1]["change"]["comment"], "Took <b>far</b> too long");
    assert_eq!(m[1]["change"]["edited"], false);
    assert_eq!(m[2]["change"]["score"], 3);
    assert_eq!(m[2]["change"]["edited"], true);
    // A replay of the same answer adds nothing.
    s.answer(&token, &[("score", "3"), ("comment", "Took far too long")])
        .await;
    let again = s
        .app
        .get(&format!("/api/v1/tickets/{id}/events"))
        .await
        .body;
    assert_eq!(marks(&again).len(), 3);

    // The marks are not changes of the ticket: updated_at and status stay.
    let after = s.app.get(&format!("/api/v1/tickets/{id}")).await.body;
    assert_eq!(after["updated_at"], before["updated_at"]);
    assert_eq!(after["status"], "solved");

    // The agent's ticket page shows them (escaped).
    let cookie = crate::ui::sign_in(&s.app, "lena@shop.test", "correct horse battery").await;
    let page = s
        .app
        .get_with_cookie(&format!("/tickets/{id}"), &cookie)
        .await;
    assert_eq!(page.status, StatusCode::OK);
    let html = String::from_utf8_lossy(&page.raw);
    assert!(
        html.contains("sent the CSAT survey to ann@example.com"),
        "{html}"
    );
    assert!(
        html.contains("answered the CSAT survey: 2/5 — “Took &lt;b&gt;far&lt;/b&gt; too long”")
            || html.contains(
                "answered the CSAT survey: 2/5 — “Took &#60;b&#62;far&#60;/b&#62; too long”"
            ),
        "{html}"
    );
    assert!(
        html.contains("changed the answer to the CSAT survey: 3/5"),
        "{html}"
    );
    assert!(!html.contains("<b>far</b>"));
    // The sidebar's satisfaction history shows the answer as it stands now (edited to 3/5,
    // not low any more), with its ticket.
    assert!(
        html.contains("<span class=\"badge\">CSAT 3/5</span>")
            && html.contains(&format!("<a href=\"/tickets/{id}\">#{id}</a>")),
        "{html}"
    );

    // An agent who may not see the ticket gets 404 for its events.
    let outsider_group = s.app.group("Elsewhere").await;
    let (_, outsider) = s
        .app
        .agent("out@shop.test", Role::Agent, &[outsider_group])
        .await;
    let r = s
        .app
        .call(
            Method::GET,
            &format!("/api/v1/tickets/{id}/events"),
            &outsider,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    // The customer's portal page shows the conversation, not the survey marks.
    let customer = after["requester_id"].as_i64().unwrap();
    let portal = portal_cookie(&s.app, customer).await;
    let r = s
        .app
        .get_with_cookie(&format!("/portal/tickets/{id}"), &portal)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let html = String::from_utf8_lossy(&r.raw);
    assert!(html.contains("Help please"), "{html}");
    assert!(!html.contains("Took far too long"), "{html}");
    assert!(!html.contains("CSAT"), "{html}");
}
