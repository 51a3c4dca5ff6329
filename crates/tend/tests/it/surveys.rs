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
