//! Issue 5: SLA escalation levels, working hours for notifications, notify and webhook
//! actions, business-hour automations, and the trigger cursor race.

use crate::harness::*;
use axum::http::{HeaderMap, Method, StatusCode};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use tend_core::Role;
use tend_store::JobState;
use tend_web::worker::Worker;

fn at(s: &str) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(s).unwrap().into()
}

/// Mon–Fri 09:00–17:00 Berlin; first reply within 2 business hours. Mon 2026-03-02 09:00 UTC
/// (10:00 Berlin): due 11:00 UTC.
fn config(levels: Value) -> Value {
    json!({
        "calendar": {"time_zone": "Europe/Berlin", "hours": [
            {"day": "mon", "start": "09:00", "end": "17:00"}, {"day": "tue", "start": "09:00", "end": "17:00"},
            {"day": "wed", "start": "09:00", "end": "17:00"}, {"day": "thu", "start": "09:00", "end": "17:00"},
            {"day": "fri", "start": "09:00", "end": "17:00"}]},
        "policies": [{"name": "Standard", "targets": [{"metric": "first_reply", "minutes": 120}]}],
        "warn_before_minutes": 0,
        "escalation": {"levels": levels}
    })
}

async fn drain(w: &Worker) {
    for _ in 0..100 {
        if w.tick().await.unwrap() == 0 {
            return;
        }
    }
    panic!("jobs keep coming");
}

fn worker(app: &TestApp) -> Worker {
    Worker::new(app.store.clone(), Arc::new(app.clock.clone()))
}

/// The `(kind, change)` of the ticket's SLA events.
async fn sla_events(app: &TestApp, id: i64) -> Vec<(String, Value)> {
    app.get(&format!("/api/v1/tickets/{id}/events")).await.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"].as_str().unwrap().starts_with("ticket.sla"))
        .map(|e| (e["kind"].as_str().unwrap().to_string(), e["change"].clone()))
        .collect()
}

/// Mail jobs (done) to this address.
async fn mails_to(app: &TestApp, to: &str) -> Vec<tend_store::Job> {
    app.store
        .list_jobs(JobState::Done, 500)
        .await
        .unwrap()
        .into_iter()
        .filter(|j| j.kind == "mail.send" && j.payload["to"] == to)
        .collect()
}

async fn queued(app: &TestApp, kind: &str) -> Vec<tend_store::Job> {
    app.store
        .list_jobs(JobState::Queued, 500)
        .await
        .unwrap()
        .into_iter()
        .filter(|j| j.kind == kind)
        .collect()
}

async fn put_sla(app: &TestApp, cfg: Value) -> Resp {
    app.call(Method::PUT, "/api/v1/sla", app.admin_token(), Some(cfg))
        .await
}

/// Lena (assignee), a senior group led by Sam; returns (lena, senior, sam).
async fn team(app: &TestApp) -> (i64, i64, i64) {
    let (lena, _) = app.agent("lena@shop.test", Role::Agent, &[]).await;
    let senior = app.group("Senior").await;
    let (sam, _) = app.agent("sam@shop.test", Role::Agent, &[senior]).await;
    let r = app
        .call(
            Method::PUT,
            &format!("/api/v1/groups/{senior}/lead"),
            app.admin_token(),
            Some(json!({"agent_id": sam})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    (lena, senior, sam)
}

fn two_levels(senior: i64) -> Value {
    json!([
        {"after_minutes": 0, "notify_assignee": true, "raise_priority": true},
        {"after_minutes": 60, "notify_group_lead": true, "reassign_group": senior, "raise_priority": true}
    ])
}

#[tokio::test]
async fn escalation_level_two_fires_once_at_its_time_after_a_restart() {
    let app = TestApp::spawn().await;
    let (lena, senior, _) = team(&app).await;
    let r = put_sla(&app, config(two_levels(senior))).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let t = app.ticket(json!({"subject": "Help", "assignee_id": lena, "requester": {"email": "c@example.com"}, "comment": {"body": "hi"}})).await;
    let id = t["id"].as_i64().unwrap();
    let w = worker(&app);
    drain(&w).await;
    app.clock.set(at("2026-03-02T11:00:01Z"));
    drain(&w).await;
    let ev = sla_events(&app, id).await;
    assert_eq!(ev.len(), 1, "{ev:?}");
    assert_eq!(ev[0].0, "ticket.sla_breached");
    assert_eq!(
        ev[0].1["escalated"],
        json!(["priority normal → high", "mailed lena@shop.test"])
    );
    assert_eq!(mails_to(&app, "lena@shop.test").await.len(), 1);
    // Level 2 is scheduled on the ticket row at its exact time: due + 60 min.
    assert!(queued(&app, "sla.check").await.is_empty());
    assert_eq!(
        app.store.sla_check_at(id).await.unwrap(),
        Some(at("2026-03-02T12:00:00Z"))
    );

    // A restart: a new store and a new worker pick the schedule up.
    let app = app.restart().await;
    let w = worker(&app);
    app.clock.set(at("2026-03-02T11:59:59Z"));
    drain(&w).await;
    assert_eq!(
        sla_events(&app, id).await.len(),
        1,
        "nothing before its time"
    );
    app.clock.set(at("2026-03-02T12:00:00Z"));
    drain(&w).await;
    let ev = sla_events(&app, id).await;
    assert_eq!(ev.len(), 2, "{ev:?}");
    assert_eq!(ev[1].0, "ticket.sla_escalated");
    assert_eq!(ev[1].1["level"], 2);
    assert_eq!(
        ev[1].1["escalated"],
        json!([
            "moved to group Senior",
            "priority high → urgent",
            "mailed sam@shop.test"
        ])
    );
    let tk = app.get(&format!("/api/v1/tickets/{id}")).await.body;
    assert_eq!(tk["group_id"], senior);
    assert_eq!(tk["priority"], "urgent");
    let sam_mail = mails_to(&app, "sam@shop.test").await;
    assert_eq!(sam_mail.len(), 1);
    assert!(sam_mail[0].payload["subject"]
        .as_str()
        .unwrap()
        .starts_with("SLA escalation level 2"));

    // Exactly once: a replayed check, later checks, record nothing more.
    app.store.schedule_sla_check(id, app.now()).await.unwrap();
    drain(&w).await;
    app.clock.advance(chrono::Duration::hours(5));
    app.store.schedule_sla_check(id, app.now()).await.unwrap();
    drain(&w).await;
    assert_eq!(sla_events(&app, id).await.len(), 2);
    assert_eq!(mails_to(&app, "sam@shop.test").await.len(), 1);
    assert_eq!(mails_to(&app, "lena@shop.test").await.len(), 1);
}

#[tokio::test]
async fn a_reply_before_a_level_skips_it() {
    let app = TestApp::spawn().await;
    let (lena, senior, _) = team(&app).await;
    assert_eq!(
        put_sla(&app, config(two_levels(senior))).await.status,
        StatusCode::OK
    );
    let t = app.ticket(json!({"subject": "Help", "assignee_id": lena, "requester": {"email": "c@example.com"}, "comment": {"body": "hi"}})).await;
    let id = t["id"].as_i64().unwrap();
    let w = worker(&app);
    drain(&w).await;
    app.clock.set(at("2026-03-02T11:00:01Z"));
    drain(&w).await;
    // The reply comes (late) before level 2: the target is met, level 2 never fires.
    app.clock.set(at("2026-03-02T11:30:00Z"));
    let r = app
        .post(
            &format!("/api/v1/tickets/{id}/messages"),
            json!({"body": "Here you go."}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    drain(&w).await;
    app.clock.set(at("2026-03-02T12:00:00Z"));
    app.store.schedule_sla_check(id, app.now()).await.unwrap();
    drain(&w).await;
    let ev = sla_events(&app, id).await;
    assert_eq!(
        ev.iter().map(|e| e.0.as_str()).collect::<Vec<_>>(),
        vec!["ticket.sla_breached"]
    );
    assert!(mails_to(&app, "sam@shop.test").await.is_empty());
    assert_ne!(
        app.get(&format!("/api/v1/tickets/{id}")).await.body["group_id"],
        senior
    );
}

#[tokio::test]
async fn notifications_outside_working_hours_wait_for_the_next_opening() {
    let app = TestApp::spawn().await;
    let (lena, senior, sam) = team(&app).await;
    // Sam works 15:00–18:00 Berlin (14:00–17:00 UTC in March).
    let r = app
        .call(
            Method::PUT,
            &format!("/api/v1/agents/{sam}/hours"),
            app.admin_token(),
            Some(json!({"calendar": "zone Europe/Berlin\nmon-fri 15:00-18:00\n"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(
        put_sla(&app, config(two_levels(senior))).await.status,
        StatusCode::OK
    );
    let new = |subject: &str| json!({"subject": subject, "assignee_id": lena, "requester": {"email": "c@example.com"}, "comment": {"body": "hi"}});
    let kept = app.ticket(new("Kept")).await["id"].as_i64().unwrap();
    let met = app.ticket(new("Met")).await["id"].as_i64().unwrap();
    let w = worker(&app);
    drain(&w).await;
    app.clock.set(at("2026-03-02T12:00:00Z"));
    drain(&w).await;
    let ev = sla_events(&app, kept).await;
    assert_eq!(
        ev[1].1["escalated"][2],
        "mail to sam@shop.test at 2026-03-02 14:00 UTC (working hours)"
    );
    let waiting = queued(&app, "notify.agent").await;
    assert_eq!(waiting.len(), 2, "{waiting:?}");
    assert!(waiting
        .iter()
        .all(|j| j.run_at == at("2026-03-02T14:00:00Z")));
    // One of the two tickets gets its reply meanwhile: that notification is dropped.
    app.clock.set(at("2026-03-02T13:00:00Z"));
    app.post(
        &format!("/api/v1/tickets/{met}/messages"),
        json!({"body": "Solved it."}),
    )
    .await;
    drain(&w).await;
    app.clock.set(at("2026-03-02T13:59:59Z"));
    drain(&w).await;
    assert!(mails_to(&app, "sam@shop.test").await.is_empty());
    app.clock.set(at("2026-03-02T14:00:00Z"));
    drain(&w).await;
    let mails = mails_to(&app, "sam@shop.test").await;
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert!(mails[0].payload["subject"]
        .as_str()
        .unwrap()
        .contains("Kept"));
    // Once: nothing more later.
    app.clock.advance(chrono::Duration::days(1));
    drain(&w).await;
    assert_eq!(mails_to(&app, "sam@shop.test").await.len(), 1);
    assert!(queued(&app, "notify.agent").await.is_empty());
}

#[tokio::test]
async fn escalation_config_is_checked_and_the_old_shape_still_loads() {
    let app = TestApp::spawn().await;
    let (lena, senior, sam) = team(&app).await;
    let bad = |levels: Value| config(levels);
    let r = put_sla(
        &app,
        bad(json!([{"after_minutes": 60, "notify_assignee": true}, {"after_minutes": 30, "raise_priority": true}])),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{r:?}");
    assert_eq!(r.body["field"], "escalation.levels[1].after_minutes");
    let r = put_sla(
        &app,
        bad(json!([{"after_minutes": 0, "reassign_group": 9999}])),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{r:?}");
    assert_eq!(r.body["field"], "escalation.levels[0].reassign_group");
    let r = put_sla(
        &app,
        bad(json!([{"after_minutes": 0, "notify_agent": 9999}])),
    )
    .await;
    assert_eq!(r.body["field"], "escalation.levels[0].notify_agent");
    let many: Vec<Value> = (0..11)
        .map(|i| json!({"after_minutes": i * 10, "notify_assignee": true}))
        .collect();
    let r = put_sla(&app, bad(json!(many))).await;
    assert_eq!(r.body["field"], "escalation.levels");

    // Leads and hours: admins set leads; agents set their own hours only.
    let (_, lena_token) = (lena, app.agent("ann@shop.test", Role::Agent, &[]).await.1);
    let r = app
        .call(
            Method::PUT,
            &format!("/api/v1/groups/{senior}/lead"),
            &lena_token,
            Some(json!({"agent_id": null})),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = app
        .call(
            Method::PUT,
            &format!("/api/v1/agents/{sam}/hours"),
            &lena_token,
            Some(json!({"calendar": "zone UTC\nmon 09:00-17:00"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let ann = app
        .store
        .agent_by_email("ann@shop.test")
        .await
        .unwrap()
        .unwrap()
        .id;
    let r = app
        .call(
            Method::PUT,
            &format!("/api/v1/agents/{ann}/hours"),
            &lena_token,
            Some(json!({"calendar": "zone Mars/Olympus\nmon 09:00-17:00"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{r:?}");
    assert_eq!(r.body["field"], "calendar");
    let r = app
        .call(
            Method::PUT,
            &format!("/api/v1/agents/{ann}/hours"),
            &lena_token,
            Some(json!({"calendar": "zone UTC\nmon-fri 09:00-17:00"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let r = app
        .call(
            Method::GET,
            &format!("/api/v1/agents/{ann}/hours"),
            &lena_token,
            None,
        )
        .await;
    assert_eq!(r.body["calendar"], "zone UTC\nmon-fri 09:00-17:00");
    assert_eq!(
        app.get(&format!("/api/v1/groups/{senior}/lead")).await.body["agent_id"],
        sam
    );

    // Both changes are audited.
    let audit = app
        .store
        .list_audit(tend_store::PageRequest {
            after_id: None,
            limit: 100,
        })
        .await
        .unwrap();
    let actions: Vec<&str> = audit.items.iter().map(|a| a.action.as_str()).collect();
    assert!(actions.contains(&"group.lead_set"), "{actions:?}");
    assert!(actions.contains(&"agent.hours_set"), "{actions:?}");

    // A configuration stored in the old shape still loads and escalates as before.
    let mut old = config(json!([]));
    old["escalation"] = json!({"raise_priority": false, "notify_assignee": true});
    app.store
        .put_setting("sla", old, tend_core::Actor::SYSTEM, app.now())
        .await
        .unwrap();
    assert_eq!(app.get("/api/v1/sla").await.status, StatusCode::OK);
    let t = app.ticket(json!({"subject": "Old", "assignee_id": lena, "requester": {"email": "c@example.com"}, "comment": {"body": "hi"}})).await;
    let id = t["id"].as_i64().unwrap();
    let w = worker(&app);
    drain(&w).await;
    app.clock.set(at("2026-03-02T11:00:01Z"));
    drain(&w).await;
    let ev = sla_events(&app, id).await;
    assert_eq!(ev[0].1["escalated"], json!(["mailed lena@shop.test"]));
    assert_eq!(
        app.get(&format!("/api/v1/tickets/{id}")).await.body["priority"],
        "normal"
    );
}

type Deliveries = Arc<Mutex<Vec<(HeaderMap, Vec<u8>)>>>;

/// A loopback HTTP receiver that records what it gets and answers 200.
async fn receiver() -> (String, Deliveries) {
    let got: Deliveries = Arc::default();
    let g = got.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |h: HeaderMap, body: axum::body::Bytes| {
            let g = g.clone();
            async move {
                g.lock().unwrap().push((h, body.to_vec()));
                StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.ok() });
    (format!("http://{addr}/hook"), got)
}

#[tokio::test]
async fn notify_and_webhook_actions_respect_hours_and_are_signed() {
    let app = TestApp::spawn().await;
    let (url, got) = receiver().await;
    let team_g = app.group("Billing").await;
    let (early, _) = app.agent("early@shop.test", Role::Agent, &[team_g]).await;
    let (_late, late_token) = app.agent("late@shop.test", Role::Agent, &[team_g]).await;
    let late = app
        .store
        .agent_by_email("late@shop.test")
        .await
        .unwrap()
        .unwrap()
        .id;
    // Late works from 14:00 UTC; it is 09:00 UTC now. Early has no hours (always).
    let r = app
        .call(
            Method::PUT,
            &format!("/api/v1/agents/{late}/hours"),
            &late_token,
            Some(json!({"calendar": "zone UTC\nmon-fri 14:00-22:00"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let secret = "a-webhook-secret-0123";
    let trig =
        |actions: Value| json!({"name": "Tell billing", "on": ["created"], "actions": actions});
    // Save-time checks name the field.
    let r = app
        .post(
            "/api/v1/triggers",
            trig(json!([{"type": "notify", "to": "assignee", "subject": "Hi {{ticket.sbject}}", "body": "b"}])),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{r:?}");
    assert_eq!(r.body["field"], "actions[0].subject");
    let r = app
        .post(
            "/api/v1/triggers",
            trig(json!([{"type": "webhook", "url": "gopher://x", "secret": secret}])),
        )
        .await;
    assert_eq!(r.body["field"], "actions[0].url");
    let r = app
        .post(
            "/api/v1/triggers",
            trig(json!([{"type": "notify", "to": {"group": 9999}, "subject": "s", "body": "b"}])),
        )
        .await;
    assert_eq!(r.body["field"], "actions[0].to");
    let r = app
        .post(
            "/api/v1/triggers",
            trig(json!([
                {"type": "notify", "to": {"group": team_g}, "subject": "New: {{ticket.subject}}", "body": "Ticket #{{ticket.id}} from {{customer.name}}"},
                {"type": "webhook", "url": url, "secret": secret}
            ])),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    let tid = r.body["id"].as_i64().unwrap();
    // Agents read triggers without the secret.
    let r = app
        .call(
            Method::GET,
            &format!("/api/v1/triggers/{tid}"),
            &late_token,
            None,
        )
        .await;
    assert_eq!(r.body["actions"][1]["secret"], "********");
    assert_eq!(
        app.get(&format!("/api/v1/triggers/{tid}")).await.body["actions"][1]["secret"],
        secret
    );

    let t = app.ticket(json!({"subject": "Invoice", "requester": {"email": "c@example.com", "name": "Cleo"}, "comment": {"body": "hi"}})).await;
    let id = t["id"].as_i64().unwrap();
    let w = worker(&app);
    drain(&w).await;
    let early_mail = mails_to(&app, "early@shop.test").await;
    assert_eq!(early_mail.len(), 1);
    assert_eq!(early_mail[0].payload["subject"], "New: Invoice");
    assert_eq!(
        early_mail[0].payload["text"],
        format!("Ticket #{id} from Cleo")
    );
    assert!(mails_to(&app, "late@shop.test").await.is_empty());
    let waiting = queued(&app, "notify.agent").await;
    assert_eq!(waiting.len(), 1);
    assert_eq!(waiting[0].run_at, at("2026-03-02T14:00:00Z"));
    // The webhook: one signed POST with the ticket.
    {
        let got = got.lock().unwrap();
        assert_eq!(got.len(), 1);
        let (h, body) = &got[0];
        let sig = h.get("tend-signature").unwrap().to_str().unwrap();
        assert!(tend_web::worker::verify(secret, sig, body));
        let v: Value = serde_json::from_slice(body).unwrap();
        assert_eq!(v["ticket"]["id"], id);
        assert_eq!(v["source"]["trigger_id"], tid);
        assert_eq!(h.get("tend-event").unwrap(), "automation.webhook");
    }
    app.clock.set(at("2026-03-02T14:00:00Z"));
    drain(&w).await;
    assert_eq!(mails_to(&app, "late@shop.test").await.len(), 1);
    assert_eq!(mails_to(&app, "early@shop.test").await.len(), 1);
    assert_eq!(got.lock().unwrap().len(), 1);
    let _ = early;
}

#[tokio::test]
async fn business_hour_automations_need_an_sla_calendar() {
    let app = TestApp::spawn().await;
    let body = json!({"automations": [{"name": "Chase", "since": "status_changed", "hours": 24,
        "business_hours": true, "actions": [{"type": "note", "body": "3 business days"}]}]});
    let r = app
        .call(
            Method::PUT,
            "/api/v1/automations",
            app.admin_token(),
            Some(body.clone()),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{r:?}");
    assert_eq!(r.body["field"], "automations[0].business_hours");
    assert_eq!(
        put_sla(&app, config(json!([]))).await.status,
        StatusCode::OK
    );
    let r = app
        .call(
            Method::PUT,
            "/api/v1/automations",
            app.admin_token(),
            Some(body),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(r.body["automations"][0]["business_hours"], true);
}

#[tokio::test]
async fn a_trigger_run_without_a_cursor_reads_no_history() {
    let app = TestApp::spawn().await;
    let def = json!({"name": "Tag new", "on": ["created", "updated"],
        "actions": [{"type": "add_tags", "value": ["seen"]}]});
    let r = app.post("/api/v1/triggers", def.clone()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    let tid = r.body["id"].as_i64().unwrap();
    // A ticket written while the trigger is active queues its trigger.run job …
    let t = app.ticket(json!({"subject": "Hello", "requester": {"email": "c@example.com"}, "comment": {"body": "hi"}})).await;
    let id = t["id"].as_i64().unwrap();
    assert_eq!(queued(&app, "trigger.run").await.len(), 1);
    // … then every trigger is deactivated (cursors forgotten) and reactivated before it runs.
    let mut off = def.clone();
    off["active"] = json!(false);
    let r = app
        .call(
            Method::PUT,
            &format!("/api/v1/triggers/{tid}"),
            app.admin_token(),
            Some(off),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let r = app
        .call(
            Method::PUT,
            &format!("/api/v1/triggers/{tid}"),
            app.admin_token(),
            Some(def),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let w = worker(&app);
    drain(&w).await;
    assert_eq!(
        app.get(&format!("/api/v1/tickets/{id}")).await.body["tags"],
        json!([]),
        "the stale run did not read the ticket's history"
    );
    // The next write starts a fresh cursor and the trigger runs on it only.
    app.patch(
        &format!("/api/v1/tickets/{id}"),
        json!({"priority": "high"}),
    )
    .await;
    drain(&w).await;
    assert_eq!(
        app.get(&format!("/api/v1/tickets/{id}")).await.body["tags"],
        json!(["seen"])
    );
}
