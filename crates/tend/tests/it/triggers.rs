//! Triggers (issue 5): save-time checks, running from the job queue, loop safety, audit.

use crate::harness::*;
use axum::http::{Method, StatusCode};
use serde_json::{json, Value};
use tend_core::Role;

async fn drain(w: &tend_web::worker::Worker) {
    for _ in 0..50 {
        if w.tick().await.unwrap() == 0 {
            return;
        }
    }
    panic!("jobs keep coming");
}

fn worker(app: &TestApp) -> tend_web::worker::Worker {
    tend_web::worker::Worker::new(app.store.clone(), std::sync::Arc::new(app.clock.clone()))
}

async fn save(app: &TestApp, body: Value) -> i64 {
    let r = app
        .call(
            Method::POST,
            "/api/v1/triggers",
            app.admin_token(),
            Some(body),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    r.body["id"].as_i64().unwrap()
}

async fn events(app: &TestApp, id: i64) -> Vec<Value> {
    app.get(&format!("/api/v1/tickets/{id}/events?limit=100"))
        .await
        .body["items"]
        .as_array()
        .unwrap()
        .clone()
}

#[tokio::test]
async fn a_trigger_tags_and_assigns_urgent_mail_and_acknowledges() {
    let app = TestApp::spawn().await;
    let (lena, lena_token) = app.agent("lena@shop.test", Role::Agent, &[]).await;
    // A ticket from before the triggers: its history is never run through them.
    let old_one = app
        .ticket(json!({"subject": "URGENT too", "channel": "email",
        "requester": {"email": "old@example.com"}, "comment": {"body": "x"}}))
        .await;
    let old_one = old_one["id"].as_i64().unwrap();
    app.clock.advance(chrono::Duration::minutes(1));
    let urgent = save(
        &app,
        json!({
        "name": "Urgent mail to Lena", "on": ["created"],
        "conditions": {"all": [{"type": "channel_is", "value": ["email"]},
                               {"type": "subject_contains", "value": "urgent"}]},
        "actions": [{"type": "add_tags", "value": ["urgent"]},
                    {"type": "set_assignee", "value": lena},
                    {"type": "set_priority", "value": "urgent"}]}),
    )
    .await;
    let ack = save(&app, json!({
        "name": "Acknowledge", "position": 5, "on": ["created"],
        "actions": [{"type": "reply", "body": "Hello {{customer.first_name}}, we got #{{ticket.id}} \"{{ticket.subject}}\"; {{agent.name}} is on it."}]})).await;
    // Agents read triggers.
    let r = app
        .call(Method::GET, "/api/v1/triggers", &lena_token, None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(r.body["items"].as_array().unwrap().len(), 2);
    let r = app
        .call(
            Method::GET,
            &format!("/api/v1/triggers/{ack}"),
            &lena_token,
            None,
        )
        .await;
    assert_eq!(r.body["name"], "Acknowledge");

    let hot = app.ticket(json!({"subject": "URGENT: parcel lost", "channel": "email",
        "requester": {"email": "ana@example.com", "name": "Ana Lima"}, "comment": {"body": "Where is it?"}})).await;
    let calm = app
        .ticket(json!({"subject": "A question", "channel": "web",
        "requester": {"email": "bo@example.com", "name": "Bo"}, "comment": {"body": "Hi"}}))
        .await;
    let (hot, calm) = (hot["id"].as_i64().unwrap(), calm["id"].as_i64().unwrap());
    drain(&worker(&app)).await;

    let t = app.get(&format!("/api/v1/tickets/{hot}")).await.body;
    assert_eq!(t["tags"], json!(["urgent"]));
    assert_eq!(t["assignee_id"], lena);
    assert_eq!(t["priority"], "urgent");
    let t = app.get(&format!("/api/v1/tickets/{calm}")).await.body;
    assert_eq!(t["tags"], json!([]));
    assert_eq!(t["assignee_id"], Value::Null);

    // The acknowledgement went to both, rendered, as a public reply by the trigger.
    let msgs = app
        .get(&format!("/api/v1/tickets/{hot}/messages"))
        .await
        .body;
    let msgs = msgs["items"].as_array().unwrap().clone();
    assert_eq!(msgs.len(), 2, "{msgs:?}");
    assert_eq!(
        msgs[1]["body_text"],
        format!("Hello Ana, we got #{hot} \"URGENT: parcel lost\"; lena@shop.test is on it.")
    );
    assert_eq!(msgs[1]["public"], true);
    assert_eq!(msgs[1]["author"], json!({"kind": "system", "id": ack}));
    // Changes are recorded with the trigger as the actor.
    let ev = events(&app, hot).await;
    let by_trigger: Vec<&Value> = ev
        .iter()
        .filter(|e| e["actor"] == json!({"kind": "system", "id": urgent}))
        .collect();
    assert_eq!(by_trigger.len(), 3, "{ev:?}");
    let calm_msgs = app
        .get(&format!("/api/v1/tickets/{calm}/messages"))
        .await
        .body
        .to_string();
    assert!(calm_msgs.contains("Hello Bo, we got"), "{calm_msgs}");

    let r = app
        .patch(
            &format!("/api/v1/tickets/{old_one}"),
            json!({"priority": "low"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    drain(&worker(&app)).await;
    let t = app.get(&format!("/api/v1/tickets/{old_one}")).await.body;
    assert_eq!(t["tags"], json!([]), "an update is not a creation");
    assert_eq!(messages(&app, old_one).await.len(), 1);
    // Running the queue again changes nothing: each event chain runs once.
    let n = ev.len();
    drain(&worker(&app)).await;
    assert_eq!(events(&app, hot).await.len(), n);
    // A later customer reply is not "created": nothing more fires.
    let r = app
        .post(
            &format!("/api/v1/tickets/{hot}/messages"),
            json!({"body": "more"}),
        )
        .await;
    assert!(r.status.is_success(), "{r:?}");
    drain(&worker(&app)).await;
    assert_eq!(events(&app, hot).await.len(), n + 1);
}

#[tokio::test]
async fn bad_triggers_are_refused_at_save_naming_the_field() {
    let app = TestApp::spawn().await;
    let cases = [
        (
            json!({"name": "x", "on": ["created"], "actions": [{"type": "reply", "body": "Hi {{customer.nmae}}"}]}),
            "actions[0].body",
            "unknown placeholder {{customer.nmae}}",
        ),
        (
            json!({"name": "x", "on": ["created"], "actions": []}),
            "actions",
            "at least one action",
        ),
        (
            json!({"name": "x", "on": [], "actions": [{"type": "set_status", "value": "open"}]}),
            "on",
            "at least one",
        ),
        (
            json!({"name": " ", "on": ["created"], "actions": [{"type": "set_status", "value": "open"}]}),
            "name",
            "1 to 200",
        ),
        (
            json!({"name": "x", "on": ["created"], "actions": [{"type": "set_assignee", "value": 999999}]}),
            "actions[0].value",
            "no agent 999999",
        ),
        (
            json!({"name": "x", "on": ["created"], "actions": [{"type": "add_tags", "value": ["a"]}, {"type": "remove_tags", "value": ["a"]}]}),
            "actions[1].value",
            "both added and removed",
        ),
    ];
    for (body, field, msg) in cases {
        let r = app
            .call(
                Method::POST,
                "/api/v1/triggers",
                app.admin_token(),
                Some(body),
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{r:?}");
        assert_eq!(r.body["field"], field, "{r:?}");
        assert!(r.body["detail"].as_str().unwrap().contains(msg), "{r:?}");
    }
    // An unknown action is refused too (the body does not parse).
    let r = app
        .call(
            Method::POST,
            "/api/v1/triggers",
            app.admin_token(),
            Some(json!({"name": "x", "on": ["created"], "actions": [{"type": "explode"}]})),
        )
        .await;
    assert!(r.status.is_client_error(), "{r:?}");
    assert!(
        app.store.list_triggers().await.unwrap().is_empty(),
        "nothing was saved"
    );
    let r = app.call(Method::PUT, "/api/v1/triggers/424242", app.admin_token(),
        Some(json!({"name": "x", "on": ["created"], "actions": [{"type": "set_status", "value": "open"}]}))).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{r:?}");
}

#[tokio::test]
async fn triggers_that_undo_each_other_stop_after_one_round() {
    let app = TestApp::spawn().await;
    save(&app, json!({"name": "ping", "on": ["updated"],
        "conditions": {"all": [{"type": "tag_absent", "value": "ping"}]},
        "actions": [{"type": "add_tags", "value": ["ping"]}, {"type": "remove_tags", "value": ["pong"]}]})).await;
    save(&app, json!({"name": "pong", "on": ["updated"],
        "conditions": {"all": [{"type": "tag_absent", "value": "pong"}]},
        "actions": [{"type": "add_tags", "value": ["pong"]}, {"type": "remove_tags", "value": ["ping"]}]})).await;
    let t = app
        .ticket(json!({"subject": "Loop", "requester": {"email": "c@example.com"}}))
        .await;
    let id = t["id"].as_i64().unwrap();
    let w = worker(&app);
    drain(&w).await;
    let before = events(&app, id).await.len();
    let r = app
        .patch(
            &format!("/api/v1/tickets/{id}"),
            json!({"priority": "high"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    drain(&w).await;
    let ev = events(&app, id).await;
    // The agent's change, then ping and pong once each: three events, then quiet.
    assert_eq!(ev.len(), before + 3, "{ev:?}");
    assert_eq!(
        app.get(&format!("/api/v1/tickets/{id}")).await.body["tags"],
        json!(["pong"])
    );
    drain(&w).await;
    assert_eq!(events(&app, id).await.len(), before + 3);
    let queued = app
        .store
        .list_jobs(tend_store::JobState::Queued, 50)
        .await
        .unwrap();
    assert!(queued.iter().all(|j| j.kind != "trigger.run"), "{queued:?}");
    let dead = app
        .store
        .list_jobs(tend_store::JobState::Dead, 50)
        .await
        .unwrap();
    assert!(dead.is_empty(), "{dead:?}");
}

#[tokio::test]
async fn only_admins_change_triggers_and_changes_are_audited() {
    let app = TestApp::spawn().await;
    let (_, agent) = app.agent("otto@shop.test", Role::Agent, &[]).await;
    let (_, sup) = app.agent("sue@shop.test", Role::Supervisor, &[]).await;
    let def = json!({"name": "Tag VIP", "on": ["created"], "conditions": {"any": [{"type": "body_contains", "value": "vip"}]},
        "actions": [{"type": "add_tags", "value": ["vip"]}]});
    for token in [&agent, &sup] {
        let r = app
            .call(Method::POST, "/api/v1/triggers", token, Some(def.clone()))
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{r:?}");
        assert_eq!(
            r.headers.get("content-type").unwrap(),
            "application/problem+json"
        );
    }
    let id = save(&app, def.clone()).await;
    let mut changed = def.clone();
    changed["active"] = json!(false);
    for (m, body) in [(Method::PUT, Some(changed.clone())), (Method::DELETE, None)] {
        let r = app
            .call(m, &format!("/api/v1/triggers/{id}"), &agent, body)
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{r:?}");
    }
    let r = app
        .call(
            Method::PUT,
            &format!("/api/v1/triggers/{id}"),
            app.admin_token(),
            Some(changed),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(r.body["active"], false);
    // Inactive: a ticket that would match is left alone, and no job is even queued.
    let t = app.ticket(json!({"subject": "x", "requester": {"email": "v@example.com"}, "comment": {"body": "I am VIP"}})).await;
    let jobs = app
        .store
        .list_jobs(tend_store::JobState::Queued, 50)
        .await
        .unwrap();
    assert!(jobs.iter().all(|j| j.kind != "trigger.run"));
    drain(&worker(&app)).await;
    assert_eq!(
        app.get(&format!("/api/v1/tickets/{}", t["id"])).await.body["tags"],
        json!([])
    );
    let r = app
        .call(
            Method::DELETE,
            &format!("/api/v1/triggers/{id}"),
            app.admin_token(),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{r:?}");
    let r = app
        .call(Method::GET, &format!("/api/v1/triggers/{id}"), &agent, None)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{r:?}");
    let audit = app.get("/api/v1/audit-log").await.body.to_string();
    for a in ["trigger.created", "trigger.updated", "trigger.deleted"] {
        assert!(audit.contains(a), "{a}");
    }
}

async fn messages(app: &TestApp, id: i64) -> Vec<Value> {
    app.get(&format!("/api/v1/tickets/{id}/messages"))
        .await
        .body["items"]
        .as_array()
        .unwrap()
        .clone()
}

#[tokio::test]
async fn automations_remind_then_solve_pending_tickets_once_per_status_period() {
    let app = TestApp::spawn().await;
    let (_, agent) = app.agent("otto@shop.test", Role::Agent, &[]).await;
    let autos = json!({"automations": [
        {"name": "Remind after 3 days", "since": "status_changed", "hours": 72,
         "conditions": {"all": [{"type": "status_is", "value": ["pending"]}]},
         "actions": [{"type": "reply", "body": "Hello {{customer.first_name}}, do you still need help with #{{ticket.id}}?"}]},
        {"name": "Solve after 7 days", "since": "status_changed", "hours": 168,
         "conditions": {"all": [{"type": "status_is", "value": ["pending"]}]},
         "actions": [{"type": "set_status", "value": "solved"}, {"type": "note", "body": "Solved after 7 days pending."}]}]});
    // Bad input is refused at save, naming the field; agents may read but not write.
    let mut bad = autos.clone();
    bad["automations"][1]["hours"] = json!(0);
    let r = app
        .call(
            Method::PUT,
            "/api/v1/automations",
            app.admin_token(),
            Some(bad),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{r:?}");
    assert_eq!(r.body["field"], "automations[1].hours");
    let mut bad = autos.clone();
    bad["automations"][0]["actions"][0]["body"] = json!("Hi {{customer.nmae}}");
    let r = app
        .call(
            Method::PUT,
            "/api/v1/automations",
            app.admin_token(),
            Some(bad),
        )
        .await;
    assert_eq!(r.body["field"], "automations[0].actions[0].body", "{r:?}");
    let r = app
        .call(
            Method::PUT,
            "/api/v1/automations",
            &agent,
            Some(autos.clone()),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{r:?}");
    let r = app
        .call(
            Method::PUT,
            "/api/v1/automations",
            app.admin_token(),
            Some(autos),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(r.body["automations"][1]["id"], 2);
    let r = app
        .call(Method::GET, "/api/v1/automations", &agent, None)
        .await;
    assert_eq!(r.body["automations"][0]["name"], "Remind after 3 days");
    assert!(app
        .get("/api/v1/audit-log")
        .await
        .body
        .to_string()
        .contains("setting.changed"));

    let t = app.ticket(json!({"subject": "Size?", "requester": {"email": "ana@example.com", "name": "Ana Lima"}, "comment": {"body": "Which size?"}})).await;
    let id = t["id"].as_i64().unwrap();
    let other = app.ticket(json!({"subject": "Open one", "requester": {"email": "bo@example.com"}, "comment": {"body": "x"}})).await;
    let r = app
        .patch(
            &format!("/api/v1/tickets/{id}"),
            json!({"status": "pending"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let w = worker(&app);
    drain(&w).await;
    let hours = |h: i64| chrono::Duration::hours(h);
    app.clock.advance(hours(71));
    drain(&w).await;
    assert_eq!(messages(&app, id).await.len(), 1, "not due yet");
    app.clock.advance(hours(2));
    drain(&w).await;
    let m = messages(&app, id).await;
    assert_eq!(m.len(), 2, "{m:?}");
    assert_eq!(
        m[1]["body_text"],
        format!("Hello Ana, do you still need help with #{id}?")
    );
    assert_eq!(m[1]["public"], true);
    // Once per status period: later sweeps do not remind again.
    app.clock.advance(hours(1));
    drain(&w).await;
    assert_eq!(messages(&app, id).await.len(), 2);
    // A new pending period (open, then pending again) gets its own reminder, 72 h later.
    app.patch(&format!("/api/v1/tickets/{id}"), json!({"status": "open"}))
        .await;
    app.patch(
        &format!("/api/v1/tickets/{id}"),
        json!({"status": "pending"}),
    )
    .await;
    app.clock.advance(hours(73));
    drain(&w).await;
    assert_eq!(messages(&app, id).await.len(), 3);
    let t = app.get(&format!("/api/v1/tickets/{id}")).await.body;
    assert_eq!(
        t["status"], "pending",
        "168 h of this period have not passed"
    );
    app.clock.advance(hours(96));
    drain(&w).await;
    let t = app.get(&format!("/api/v1/tickets/{id}")).await.body;
    assert_eq!(t["status"], "solved");
    let m = messages(&app, id).await;
    assert_eq!(m.len(), 4);
    assert_eq!(m[3]["public"], false);
    // The open ticket was never touched.
    assert_eq!(messages(&app, other["id"].as_i64().unwrap()).await.len(), 1);
    // Solved: nothing more happens.
    app.clock.advance(hours(500));
    drain(&w).await;
    assert_eq!(messages(&app, id).await.len(), 4);
}
