use crate::harness::*;
use axum::http::{HeaderMap, StatusCode};
use chrono::Duration;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use tend_store::{JobState, NewJob};
use tend_web::worker::Worker;

type Deliveries = Arc<Mutex<Vec<(HeaderMap, Vec<u8>)>>>;

/// A real HTTP receiver on loopback that records deliveries and answers with `status`.
struct Receiver {
    url: String,
    got: Deliveries,
    status: Arc<AtomicU16>,
}

async fn receiver() -> Receiver {
    let got: Deliveries = Arc::default();
    let status = Arc::new(AtomicU16::new(200));
    let (g, s) = (got.clone(), status.clone());
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |h: HeaderMap, body: axum::body::Bytes| {
            let (g, s) = (g.clone(), s.clone());
            async move {
                g.lock().unwrap().push((h, body.to_vec()));
                StatusCode::from_u16(s.load(Ordering::SeqCst)).unwrap()
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.ok() });
    Receiver {
        url: format!("http://{addr}/hook"),
        got,
        status,
    }
}

/// Runs every due job (bounded).
async fn drain(w: &Worker) {
    for _ in 0..100 {
        if w.tick().await.unwrap() == 0 {
            return;
        }
    }
    panic!("jobs keep coming");
}

async fn webhook_jobs(app: &TestApp, state: JobState) -> Vec<tend_store::Job> {
    app.store
        .list_jobs(state, 100)
        .await
        .unwrap()
        .into_iter()
        .filter(|j| j.kind == tend_store::WEBHOOK_JOB)
        .collect()
}

#[tokio::test]
async fn webhooks_are_signed_delivered_once_and_retried() {
    let app = TestApp::spawn().await;
    let rx = receiver().await;
    let hook = app
        .post(
            "/api/v1/webhooks",
            json!({"url": rx.url, "events": ["ticket.created", "ticket.status_changed"]}),
        )
        .await;
    let secret = hook.body["secret"].as_str().unwrap().to_string();
    let worker = Worker::new(app.store.clone(), Arc::new(app.clock.clone()));

    let t = app.ticket(json!({"subject": "Hook me", "requester": {"email": "h@example.com"}, "comment": {"body": "x"}})).await;
    drain(&worker).await;
    drain(&worker).await;
    {
        let got = rx.got.lock().unwrap();
        assert_eq!(
            got.len(),
            1,
            "one subscribed event (message_added is not), delivered once"
        );
        let (h, body) = &got[0];
        let sig = h.get("tend-signature").unwrap().to_str().unwrap();
        assert!(
            tend_web::worker::verify(&secret, sig, body),
            "signature verifies with the secret"
        );
        assert!(!tend_web::worker::verify("another-secret-value", sig, body));
        let v: Value = serde_json::from_slice(body).unwrap();
        assert_eq!(v["kind"], "ticket.created");
        assert_eq!(v["ticket"]["id"], t["id"]);
        assert_eq!(h.get("tend-event").unwrap(), "ticket.created");
    }

    // The receiver fails: retried with backoff, then dead after the last attempt.
    rx.status.store(500, Ordering::SeqCst);
    app.patch(
        &format!("/api/v1/tickets/{}", t["id"]),
        json!({"status": "open"}),
    )
    .await;
    drain(&worker).await;
    assert_eq!(rx.got.lock().unwrap().len(), 2);
    drain(&worker).await;
    assert_eq!(
        rx.got.lock().unwrap().len(),
        2,
        "not due again before its backoff"
    );
    let queued = webhook_jobs(&app, JobState::Queued).await;
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0].attempts, 1);
    assert!(queued[0]
        .last_error
        .as_deref()
        .unwrap()
        .contains("HTTP 500"));
    for i in 1..tend_store::WEBHOOK_MAX_ATTEMPTS {
        app.clock.advance(Duration::hours(7));
        drain(&worker).await;
        assert_eq!(rx.got.lock().unwrap().len(), 2 + i as usize);
    }
    app.clock.advance(Duration::hours(7));
    drain(&worker).await;
    let dead = app.get("/api/v1/jobs?state=dead").await;
    assert_eq!(
        dead.body["items"].as_array().unwrap().len(),
        1,
        "{:?}",
        dead
    );
    assert_eq!(
        rx.got.lock().unwrap().len(),
        tend_store::WEBHOOK_MAX_ATTEMPTS as usize + 1
    );

    // Recovered receiver gets new events again.
    rx.status.store(204, Ordering::SeqCst);
    app.patch(
        &format!("/api/v1/tickets/{}", t["id"]),
        json!({"status": "pending"}),
    )
    .await;
    drain(&worker).await;
    assert!(webhook_jobs(&app, JobState::Queued).await.is_empty());
    assert_eq!(
        rx.got.lock().unwrap().len(),
        tend_store::WEBHOOK_MAX_ATTEMPTS as usize + 2
    );
}

#[tokio::test]
async fn a_job_whose_worker_died_is_leased_again_after_its_lease() {
    let app = TestApp::spawn().await;
    let now = app.now();
    let id = app
        .store
        .enqueue_job(NewJob {
            kind: "test.noop".into(),
            payload: json!({"n": 1}),
            run_at: now,
            max_attempts: 3,
        })
        .await
        .unwrap();
    let a = app
        .store
        .lease_jobs("worker-a", now, Duration::seconds(60), 10)
        .await
        .unwrap();
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].id, id);
    assert!(
        app.store
            .lease_jobs(
                "worker-b",
                now + Duration::seconds(30),
                Duration::seconds(60),
                10
            )
            .await
            .unwrap()
            .is_empty(),
        "leased: not given twice"
    );
    let b = app
        .store
        .lease_jobs(
            "worker-b",
            now + Duration::seconds(61),
            Duration::seconds(60),
            10,
        )
        .await
        .unwrap();
    assert_eq!(b.len(), 1, "worker-a died; its lease ran out");
    assert_eq!(b[0].attempts, 2);
    assert!(
        app.store.complete_job(id, "worker-a").await.is_err(),
        "the old lease holder cannot complete it"
    );
    app.store.complete_job(id, "worker-b").await.unwrap();
    assert!(app
        .store
        .lease_jobs(
            "worker-c",
            now + Duration::hours(1),
            Duration::seconds(60),
            10
        )
        .await
        .unwrap()
        .is_empty());

    // A job that exhausts its attempts through expired leases goes to the dead letters.
    let id2 = app
        .store
        .enqueue_job(NewJob {
            kind: "test.noop".into(),
            payload: json!({}),
            run_at: now,
            max_attempts: 1,
        })
        .await
        .unwrap();
    assert_eq!(
        app.store
            .lease_jobs("w", now, Duration::seconds(10), 10)
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(app
        .store
        .lease_jobs("w", now + Duration::seconds(11), Duration::seconds(10), 10)
        .await
        .unwrap()
        .is_empty());
    let dead = app.store.list_jobs(JobState::Dead, 10).await.unwrap();
    assert_eq!(dead[0].id, id2);

    // Unknown kinds fail loudly into the dead letters via the worker.
    let worker = Worker::new(app.store.clone(), Arc::new(app.clock.clone()));
    app.store
        .enqueue_job(NewJob {
            kind: "no.such.kind".into(),
            payload: json!({}),
            run_at: now,
            max_attempts: 1,
        })
        .await
        .unwrap();
    assert_eq!(worker.tick().await.unwrap(), 1);
    assert!(app
        .store
        .list_jobs(JobState::Dead, 10)
        .await
        .unwrap()
        .iter()
        .any(|j| j.last_error.as_deref().unwrap_or("").contains("no handler")));
}

#[tokio::test]
async fn events_since_tails_the_log_in_order() {
    let app = TestApp::spawn().await;
    for i in 0..5 {
        app.ticket(json!({"subject": format!("e{i}"), "requester": {"email": "e@example.com"}}))
            .await;
    }
    let all = app.store.events_since(0, 100).await.unwrap();
    assert_eq!(all.len(), 5);
    let after = app.store.events_since(all[1].seq, 2).await.unwrap();
    assert_eq!(
        after.iter().map(|e| e.seq).collect::<Vec<_>>(),
        vec![all[2].seq, all[3].seq]
    );
}
