//! Issue 5: each ticket's next SLA check on its row (migration 0027) — the worker's claim,
//! leases across workers, and the bulk recompute's write that yields to newer facts.

use crate::harness::*;
use axum::http::{Method, StatusCode};
use chrono::Duration;
use serde_json::json;
use std::sync::Arc;
use tend_core::{Role, Viewer};
use tend_web::worker::Worker;

/// Berlin Mon–Fri 09:00–17:00; first reply within 2 business hours, no warnings. A ticket
/// made at the test clock's start (Mon 2026-03-02 09:00 UTC) is due at 11:00 UTC.
fn config() -> serde_json::Value {
    json!({
        "calendar": {"time_zone": "Europe/Berlin", "hours": [
            {"day": "mon", "start": "09:00", "end": "17:00"}, {"day": "tue", "start": "09:00", "end": "17:00"},
            {"day": "wed", "start": "09:00", "end": "17:00"}, {"day": "thu", "start": "09:00", "end": "17:00"},
            {"day": "fri", "start": "09:00", "end": "17:00"}]},
        "policies": [{"name": "Standard", "targets": [{"metric": "first_reply", "minutes": 120}]}],
        "warn_before_minutes": 0
    })
}

fn at(s: &str) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(s).unwrap().into()
}

async fn drain(w: &Worker) {
    for _ in 0..50 {
        if w.tick().await.unwrap() == 0 {
            return;
        }
    }
    panic!("work keeps coming");
}

async fn setup(app: &TestApp) {
    let r = app
        .call(
            Method::PUT,
            "/api/v1/sla",
            app.admin_token(),
            Some(config()),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
}

async fn new_ticket(app: &TestApp, n: usize) -> i64 {
    app.ticket(json!({"subject": format!("Help {n}"), "requester": {"email": format!("c{n}@example.com")}, "comment": {"body": "hi"}}))
        .await["id"]
        .as_i64()
        .unwrap()
}

fn breaches(ev: &serde_json::Value) -> usize {
    ev["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "ticket.sla_breached")
        .count()
}

#[tokio::test]
async fn a_claimed_check_is_held_by_one_worker_and_runs_again_after_its_worker_died() {
    let app = TestApp::spawn().await;
    setup(&app).await;
    let id = new_ticket(&app, 1).await;
    let w = Worker::new(app.store.clone(), Arc::new(app.clock.clone()));
    drain(&w).await;
    // The check after the write ran and put the next one a second after the due time.
    let next = app.store.sla_check_at(id).await.unwrap().unwrap();
    assert_eq!(next, at("2026-03-02T11:00:01Z"));
    assert!(app
        .store
        .claim_sla_checks(next - Duration::seconds(1), next, 10)
        .await
        .unwrap()
        .is_empty());

    // Worker A claims it; nobody else gets it while A holds it, not even after a write
    // schedules a check for now.
    app.clock.set(next);
    let lease = next + Duration::seconds(60);
    assert_eq!(
        app.store.claim_sla_checks(next, lease, 10).await.unwrap(),
        vec![id]
    );
    assert_eq!(app.store.sla_check_at(id).await.unwrap(), Some(lease));
    assert!(app
        .store
        .claim_sla_checks(next, next + Duration::seconds(60), 10)
        .await
        .unwrap()
        .is_empty());
    app.post(
        &format!("/api/v1/tickets/{id}/messages"),
        json!({"body": "internal", "public": false}),
    )
    .await;
    assert_eq!(app.store.sla_check_at(id).await.unwrap(), Some(next));
    assert!(app
        .store
        .claim_sla_checks(next, next + Duration::seconds(60), 10)
        .await
        .unwrap()
        .is_empty());
    // A finishes with nothing ahead: the check the write asked for stays.
    app.store.finish_sla_check(id, lease, None).await.unwrap();
    assert_eq!(app.store.sla_check_at(id).await.unwrap(), Some(next));

    // Worker B claims it and dies: nobody runs it until the lease ends, then it runs again
    // (once) and records the breach once.
    let lease_b = next + Duration::seconds(60);
    assert_eq!(
        app.store.claim_sla_checks(next, lease_b, 10).await.unwrap(),
        vec![id]
    );
    app.clock.set(next + Duration::seconds(59));
    drain(&w).await;
    let ev = app.get(&format!("/api/v1/tickets/{id}/events")).await.body;
    assert_eq!(breaches(&ev), 0, "held by B until its lease ends");
    app.clock.set(lease_b);
    drain(&w).await;
    let ev = app.get(&format!("/api/v1/tickets/{id}/events")).await.body;
    assert_eq!(breaches(&ev), 1);
    // B's late finish changes nothing: it lost its lease.
    app.store
        .finish_sla_check(id, lease_b, Some(next))
        .await
        .unwrap();
    assert_eq!(app.store.sla_check_at(id).await.unwrap(), None);
    app.clock.advance(Duration::hours(2));
    drain(&w).await;
    let ev = app.get(&format!("/api/v1/tickets/{id}/events")).await.body;
    assert_eq!(breaches(&ev), 1, "exactly once");
}

#[tokio::test]
async fn concurrent_claims_never_hand_a_ticket_to_two_workers() {
    let app = TestApp::spawn().await;
    setup(&app).await;
    let mut ids = Vec::new();
    for n in 0..40 {
        ids.push(new_ticket(&app, n).await);
    }
    // Every write scheduled a check for now; eight workers claim at once, round after round
    // (a claim skips rows another one has locked) until nothing is left.
    let now = app.now();
    let lease = now + Duration::seconds(60);
    let mut all: Vec<i64> = Vec::new();
    for _ in 0..10 {
        let claims = futures::future::join_all((0..8).map(|_| {
            let store = app.store.clone();
            async move { store.claim_sla_checks(now, lease, 4).await.unwrap() }
        }))
        .await;
        let round: Vec<i64> = claims.into_iter().flatten().collect();
        if round.is_empty() {
            break;
        }
        all.extend(round);
    }
    let n = all.len();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), n, "a ticket claimed twice");
    assert_eq!(all, ids, "every due check claimed once");
}

#[tokio::test]
async fn the_bulk_write_leaves_a_ticket_that_changed_since_its_page_was_read() {
    let app = TestApp::spawn().await;
    let mut ids = Vec::new();
    for n in 0..3 {
        ids.push(new_ticket(&app, n).await);
    }
    // The configuration comes after the tickets (as after an import): nothing stored yet.
    setup(&app).await;
    let cfg: tend_web::api::sla::SlaConfig = serde_json::from_value(config()).unwrap();
    let cals = cfg.calendars().unwrap();
    let page = app.store.sla_clock_page(0, 100).await.unwrap();
    assert_eq!(page.iter().map(|t| t.id).collect::<Vec<_>>(), ids);
    let updates = tend_store::sla_bulk::evaluate_page(&page, &cals, &cfg.policies, 0, app.now(), 1);
    let (changed, writes) = tend_store::sla_bulk::due_writes(&page, updates);
    assert_eq!((changed, writes.len()), (3, 3));
    // Meanwhile ticket 2 is answered and its per-ticket check stores what it computed from
    // the newer events (no running target).
    app.clock.advance(Duration::minutes(5));
    let r = app
        .post(
            &format!("/api/v1/tickets/{}/messages", ids[1]),
            json!({"body": "Answered."}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    // Only the checks run (the recompute job the configuration queued stays queued).
    let ran = tend_web::api::sla::run_due_checks(&*app.store, app.now(), 10)
        .await
        .unwrap();
    assert_eq!(ran, 1, "only the answered ticket has a check due");
    let admin = Viewer {
        agent_id: app.admin.0,
        role: Role::Admin,
        group_ids: vec![],
    };
    assert_eq!(
        app.store
            .get_ticket(ids[1], &admin)
            .await
            .unwrap()
            .sla_due_at,
        None
    );
    // The stale page's write keeps its hands off ticket 2 and stores the other two.
    app.store.set_sla_dues(writes).await.unwrap();
    let due = |i: usize| {
        let (store, admin, id) = (app.store.clone(), admin.clone(), ids[i]);
        async move { store.get_ticket(id, &admin).await.unwrap().sla_due_at }
    };
    assert_eq!(due(1).await, None, "the newer due time stays");
    assert_eq!(due(0).await, Some(at("2026-03-02T11:00:00Z")));
    assert_eq!(due(2).await, Some(at("2026-03-02T11:00:00Z")));
    assert_eq!(
        app.store.sla_check_at(ids[0]).await.unwrap(),
        Some(at("2026-03-02T11:00:01Z"))
    );
    // A settled page writes nothing.
    let page = app.store.sla_clock_page(0, 100).await.unwrap();
    let updates = tend_store::sla_bulk::evaluate_page(&page, &cals, &cfg.policies, 0, app.now(), 1);
    let (changed, writes) = tend_store::sla_bulk::due_writes(&page, updates);
    assert_eq!((changed, writes.len()), (0, 0), "{writes:?}");
}

#[tokio::test]
async fn a_schedule_during_a_claimed_check_is_never_replaced_by_the_checks_own_next() {
    let app = TestApp::spawn().await;
    setup(&app).await;
    let id = new_ticket(&app, 1).await;
    let w = Worker::new(app.store.clone(), Arc::new(app.clock.clone()));
    drain(&w).await;
    let next = app.store.sla_check_at(id).await.unwrap().unwrap();
    let lease = next + Duration::seconds(60);
    assert_eq!(
        app.store.claim_sla_checks(next, lease, 10).await.unwrap(),
        vec![id]
    );
    // While the check runs: a schedule after the lease's end (a recompute under a new
    // configuration, a write after the lease ran out) …
    app.store
        .schedule_sla_check(id, lease + Duration::minutes(10))
        .await
        .unwrap();
    // … and the check, which worked from older facts, finds nothing more to do.
    app.store.finish_sla_check(id, lease, None).await.unwrap();
    let kept = app.store.sla_check_at(id).await.unwrap();
    assert!(
        kept.is_some_and(|t| t < lease),
        "the ticket is checked again, not left without a check: {kept:?}"
    );
    // Without a schedule meanwhile, the check's own next time is what stays.
    let again = kept.unwrap();
    let lease2 = again + Duration::seconds(60);
    assert_eq!(
        app.store.claim_sla_checks(again, lease2, 10).await.unwrap(),
        vec![id]
    );
    let later = lease2 + Duration::hours(1);
    app.store
        .finish_sla_check(id, lease2, Some(later))
        .await
        .unwrap();
    assert_eq!(app.store.sla_check_at(id).await.unwrap(), Some(later));
}
