//! Surveys in a real browser. (1) An emailed rating link: a ticket is solved, the clock
//! moves, the worker mails the survey through SMTP to a sink, chromium follows the link for
//! a low score (the page records nothing yet), adds a comment and sends it: the answer is
//! stored once and the detractor opens a follow-up ticket. Screenshot:
//! test-artifacts/browser/survey-link.png and survey-thanks.png.
//! (2) Kiosk mode: Debian's chromium driven through chromedriver (WebDriver)
//! against Tend's router served in this test on 127.0.0.1. The page is opened online (the
//! service worker installs and caches it), then the browser is really cut off: Tend's
//! listener is shut down (every request — page, service worker, sync — is refused) and
//! chromium is put offline through the DevTools protocol (`Network.emulateNetworkConditions`,
//! so the page also sees `navigator.onLine == false` and later the `online` event). The page
//! is reloaded from the service worker's cache, three customers answer, the listener comes
//! back on the same port, and exactly three answers are stored.
//! Screenshot: test-artifacts/browser/kiosk.png (and kiosk-offline.png).
//! Skipped (loudly) without chromedriver, unless TEND_REQUIRE_BROWSER is set.

use fantoccini::Locator;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tend_core::{Actor, SystemClock};
use tend_store::survey::{NewKiosk, NewSurvey, ScoreGroup, ScoreQuery, SurveyKind};
use tend_store::Store;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

#[path = "support/chrome.rs"]
mod chrome;
#[allow(dead_code)]
#[path = "it/harness.rs"]
mod harness;
#[allow(dead_code)]
#[path = "support/smtp_sink.rs"]
mod smtp_sink;
use chrome::{browser, chromedriver, free_port, shot};

/// Tend's router on a fixed port; `stop` shuts the listener and every connection down.
struct Server {
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

async fn serve(router: axum::Router, port: u16) -> Server {
    let mut listener = None;
    for _ in 0..100 {
        match tokio::net::TcpListener::bind(("127.0.0.1", port)).await {
            Ok(l) => {
                listener = Some(l);
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
    let listener = listener.expect("bind the kiosk server's port again");
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(async {
                let _ = rx.await;
            })
            .await
            .unwrap();
    });
    Server {
        stop: Some(tx),
        task,
    }
}

impl Server {
    async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        // Idle keep-alive connections close at once; give in-flight requests a moment.
        if tokio::time::timeout(Duration::from_secs(10), &mut self.task)
            .await
            .is_err()
        {
            self.task.abort();
        }
    }
}

/// A DevTools protocol command through chromedriver's `goog/cdp/execute`.
async fn cdp(driver_port: u16, c: &fantoccini::Client, cmd: &str, params: Value) {
    let session = c.session_id().await.unwrap().expect("a session");
    let r = reqwest::Client::new()
        .post(format!(
            "http://127.0.0.1:{driver_port}/session/{session}/goog/cdp/execute"
        ))
        .json(&json!({ "cmd": cmd, "params": params }))
        .send()
        .await
        .unwrap();
    assert!(
        r.status().is_success(),
        "{cmd}: {}",
        r.text().await.unwrap_or_default()
    );
}

async fn network(driver_port: u16, c: &fantoccini::Client, offline: bool) {
    cdp(driver_port, c, "Network.enable", json!({})).await;
    cdp(
        driver_port,
        c,
        "Network.emulateNetworkConditions",
        json!({ "offline": offline, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1 }),
    )
    .await;
}

/// Evaluates `expr` in the page until it is `want` (bounded, `secs`).
async fn wait_js(c: &fantoccini::Client, expr: &str, want: Value, secs: u64) {
    let mut last = Value::Null;
    for _ in 0..secs * 20 {
        if let Ok(v) = c.execute(&format!("return {expr};"), vec![]).await {
            if v == want {
                return;
            }
            last = v;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{expr} is not {want} after {secs} s; last seen: {last}");
}

async fn kiosk_answers(store: &dyn Store) -> u64 {
    store
        .survey_counts(ScoreQuery {
            kind: SurveyKind::Nps,
            from: None,
            to: None,
            group_by: ScoreGroup::Channel,
        })
        .await
        .unwrap()
        .answers
        .iter()
        .map(|c| {
            assert_eq!(c.bucket.as_deref(), Some("kiosk"));
            c.count
        })
        .sum()
}

async fn tap(c: &fantoccini::Client, score: u8) {
    c.find(Locator::Css(&format!(".score[data-score=\"{score}\"]")))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kiosk_keeps_working_offline_and_syncs_each_answer_once() {
    let Some((_driver, driver_port)) = chromedriver().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> =
        Arc::new(tend_sqlite::SqliteStore::open(dir.path().join("tend.db")).unwrap());
    let clock = Arc::new(SystemClock);
    let now = chrono::Utc::now();
    let survey = store
        .create_survey(
            NewSurvey {
                name: "Shop counter".into(),
                kind: SurveyKind::Nps,
                scale: None,
                question: BTreeMap::from([(
                    "en".to_string(),
                    "How likely are you to recommend our shop?".to_string(),
                )]),
                follow_up: BTreeMap::new(),
                delay_hours: 0,
                throttle_days: 0,
                sample_rate: 1.0,
                expires_days: 14,
                active: false,
                rules: Default::default(),
                questions: vec![],
            },
            Actor::SYSTEM,
            now,
        )
        .await
        .unwrap();
    let (secret, token_hash) = tend_web::surveys::kiosk::new_secret();
    let kiosk = store
        .create_survey_kiosk(
            NewKiosk {
                survey_id: survey.id,
                name: "Counter 1".into(),
                group_id: None,
                embed_origins: vec![],
                token_hash,
            },
            Actor::SYSTEM,
            now,
        )
        .await
        .unwrap();
    let router = tend_web::router(tend_web::AppState::new(store.clone(), clock));
    let port = free_port();
    let server = serve(router.clone(), port).await;
    let url = format!("http://127.0.0.1:{port}/kiosk/{}.{secret}", kiosk.id);

    // Online: the page loads, the service worker takes control and caches page and assets.
    let c = browser(driver_port, 1024).await;
    c.goto(&url).await.unwrap();
    wait_js(&c, "document.body.dataset.sw", json!("ready"), 20).await;
    wait_js(&c, "!!navigator.serviceWorker.controller", json!(true), 20).await;
    wait_js(
        &c,
        "document.getElementById('status').textContent",
        json!("All answers sent."),
        10,
    )
    .await;
    let cached = c
        .execute_async(
            "const done = arguments[0]; caches.open('tend-kiosk-v1').then((k) => Promise.all([location.pathname, '/kiosk/assets/kiosk.js', '/kiosk/assets/kiosk.css'].map((p) => k.match(p)))).then((r) => done(r.every(Boolean)));",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(cached, json!(true), "page and assets are in the cache");

    // Offline for real: the listener is gone, and chromium is told it has no network.
    server.stop().await;
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "nothing listens on the kiosk's port"
    );
    network(driver_port, &c, true).await;
    wait_js(&c, "navigator.onLine", json!(false), 10).await;
    // A reload while offline comes from the service worker's cache.
    c.goto(&url).await.unwrap();
    wait_js(
        &c,
        "document.getElementById('question').textContent",
        json!("How likely are you to recommend our shop?"),
        10,
    )
    .await;

    // Three customers answer: a tap, a tap, and the keyboard (arrows and Enter).
    tap(&c, 9).await;
    wait_js(
        &c,
        "document.getElementById('thanks').hidden",
        json!(false),
        5,
    )
    .await;
    c.find(Locator::Id("thanks"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_js(&c, "document.getElementById('ask').hidden", json!(false), 5).await;
    tap(&c, 3).await;
    // The thank-you screen resets by itself after a few seconds.
    wait_js(
        &c,
        "document.getElementById('ask').hidden",
        json!(false),
        10,
    )
    .await;
    let focused = c
        .execute("document.querySelector('.score[data-score=\"10\"]').focus(); return document.activeElement.dataset.score;", vec![])
        .await
        .unwrap();
    assert_eq!(focused, json!("10"));
    c.active_element()
        .await
        .unwrap()
        .send_keys("\u{E012}\u{E007}") // ArrowLeft, Enter → 9
        .await
        .unwrap();
    wait_js(
        &c,
        "document.getElementById('thanks').hidden",
        json!(false),
        5,
    )
    .await;
    wait_js(&c, "document.body.dataset.pending", json!("3"), 5).await;
    let queued = c
        .execute(
            "return JSON.parse(localStorage.getItem('tend-kiosk-queue:' + document.body.dataset.token)).map((a) => a.score);",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(queued, json!([9, 3, 9]));
    c.find(Locator::Id("thanks"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    shot(&c, "kiosk-offline").await;
    assert_eq!(
        kiosk_answers(store.as_ref()).await,
        0,
        "nothing reached the server"
    );

    // Back online: the same port listens again; the page syncs on the `online` event.
    let server = serve(router.clone(), port).await;
    network(driver_port, &c, false).await;
    wait_js(&c, "document.body.dataset.pending", json!("0"), 30).await;
    wait_js(
        &c,
        "document.getElementById('status').textContent",
        json!("All answers sent."),
        10,
    )
    .await;
    assert_eq!(kiosk_answers(store.as_ref()).await, 3);

    // A reload online syncs again (nothing queued) and stores nothing twice.
    c.goto(&url).await.unwrap();
    wait_js(&c, "document.body.dataset.sw", json!("ready"), 20).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        kiosk_answers(store.as_ref()).await,
        3,
        "exactly 3 answers stored"
    );
    shot(&c, "kiosk").await;
    c.close().await.unwrap();
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_emailed_rating_link_followed_in_chromium_records_once_and_opens_a_follow_up() {
    let Some((_driver, driver_port)) = chromedriver().await else {
        return;
    };
    let app = harness::TestApp::spawn().await;
    let sink = smtp_sink::SmtpSink::start().await;
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let worker = tend_web::worker::Worker::new(app.store.clone(), Arc::new(app.clock.clone()))
        .with_mail(Arc::new(tend_web::mail::MailConfig::new(
            Some(sink.url.clone()),
            "Shop Support <support@shop.test>".into(),
            base.clone(),
        )));
    let server = serve(app.router.clone(), port).await;

    let returns = app.group("Returns").await;
    let r = app
        .post(
            "/api/v1/surveys",
            json!({ "name": "CSAT after solve", "kind": "csat", "scale": 5, "delay_hours": 2,
                    "question": { "en": "How satisfied are you with our help?" },
                    "follow_up": { "en": "What went wrong?" } }),
        )
        .await;
    assert_eq!(r.status, axum::http::StatusCode::CREATED, "{r:?}");
    let ticket = app
        .ticket(json!({ "subject": "Broken kettle", "group_id": returns,
                        "requester": { "email": "bo@example.com", "name": "Bo Customer" },
                        "comment": { "body": "It leaks.", "author": "requester" } }))
        .await["id"]
        .as_i64()
        .unwrap();
    let r = app
        .patch(
            &format!("/api/v1/tickets/{ticket}"),
            json!({ "status": "solved" }),
        )
        .await;
    assert_eq!(r.status, axum::http::StatusCode::OK, "{r:?}");

    // The clock moves past the delay; the worker scans the solve, then sends.
    for _ in 0..3 {
        app.clock.advance(chrono::Duration::hours(1));
        worker.tick().await.unwrap();
        worker.tick().await.unwrap();
    }
    let mails = sink.messages();
    assert_eq!(mails.len(), 1, "one survey mail");
    assert_eq!(mails[0].to, vec!["bo@example.com".to_string()]);
    let link = smtp_sink::link_in(&mails[0].data, "score=2").expect("a rating link for 2");
    assert!(link.starts_with(&format!("{base}/s/")), "{link}");

    let responses = || async {
        app.get("/api/v1/surveys/scores?kind=csat").await.body["total"]["responses"].clone()
    };
    let follow_ups = || async {
        app.get("/api/v1/tickets?tag=survey-follow-up").await.body["items"]
            .as_array()
            .unwrap()
            .clone()
    };

    // The browser follows the link: the form shows 2 chosen, nothing is recorded yet.
    let c = browser(driver_port, 390).await;
    c.goto(&link).await.unwrap();
    wait_js(
        &c,
        "document.querySelector('input[name=score]:checked').value",
        json!("2"),
        10,
    )
    .await;
    assert_eq!(
        c.find(Locator::Id("question"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "How satisfied are you with our help?"
    );
    shot(&c, "survey-link").await;
    assert_eq!(responses().await, json!(0), "a GET records nothing");
    assert!(follow_ups().await.is_empty());

    // The customer adds a comment and sends: stored once, and a follow-up ticket opens.
    c.find(Locator::Id("comment"))
        .await
        .unwrap()
        .send_keys("The replacement never came.")
        .await
        .unwrap();
    c.find(Locator::Id("send"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_js(
        &c,
        "document.body.textContent.includes('is recorded')",
        json!(true),
        10,
    )
    .await;
    shot(&c, "survey-thanks").await;
    assert_eq!(responses().await, json!(1));
    let follow = follow_ups().await;
    assert_eq!(follow.len(), 1, "{follow:?}");
    assert_eq!(follow[0]["group_id"], returns);
    let fid = follow[0]["id"].as_i64().unwrap();
    let messages = app
        .get(&format!("/api/v1/tickets/{fid}/messages"))
        .await
        .body;
    assert!(messages.to_string().contains("The replacement never came."));

    // Back and send again (a double submit): still one answer, one follow-up.
    c.back().await.unwrap();
    c.find(Locator::Id("send"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_js(&c, "document.readyState", json!("complete"), 10).await;
    assert_eq!(responses().await, json!(1));
    assert_eq!(follow_ups().await.len(), 1);
    c.close().await.unwrap();
    server.stop().await;
}
