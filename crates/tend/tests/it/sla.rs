use crate::harness::*;
use axum::http::{Method, StatusCode};
use serde_json::json;
use tend_core::Role;

fn config() -> serde_json::Value {
    json!({
        "calendar": {"time_zone": "Europe/Berlin", "hours": [
            {"day": "mon", "start": "09:00", "end": "17:00"}, {"day": "tue", "start": "09:00", "end": "17:00"},
            {"day": "wed", "start": "09:00", "end": "17:00"}, {"day": "thu", "start": "09:00", "end": "17:00"},
            {"day": "fri", "start": "09:00", "end": "17:00"}]},
        "policies": [
            {"name": "Urgent", "conditions": {"priority": ["urgent"]}, "targets": [{"metric": "first_reply", "minutes": 30}]},
            {"name": "Standard", "targets": [{"metric": "first_reply", "minutes": 120}, {"metric": "resolution", "minutes": 960}]}
        ]
    })
}

#[tokio::test]
async fn sla_config_is_checked_and_each_ticket_explains_its_clock() {
    let app = TestApp::spawn().await;
    let mut bad = config();
    bad["calendar"]["hours"]
        .as_array_mut()
        .unwrap()
        .push(json!({"day": "mon", "start": "16:00", "end": "18:00"}));
    let r = app
        .call(Method::PUT, "/api/v1/sla", app.admin_token(), Some(bad))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{r:?}");
    assert!(
        r.body["field"]
            .as_str()
            .unwrap()
            .starts_with("calendar.hours"),
        "{r:?}"
    );
    let mut bad = config();
    bad["policies"][1]["targets"][0]["minutes"] = json!(0);
    let r = app
        .call(Method::PUT, "/api/v1/sla", app.admin_token(), Some(bad))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{r:?}");
    assert!(
        r.body["field"].as_str().unwrap().starts_with("policies[1]"),
        "{r:?}"
    );
    let (_, agent) = app.agent("a@shop.test", Role::Agent, &[]).await;
    assert_eq!(
        app.call(Method::PUT, "/api/v1/sla", &agent, Some(config()))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.call(
            Method::PUT,
            "/api/v1/sla",
            app.admin_token(),
            Some(config())
        )
        .await
        .status,
        StatusCode::OK
    );
    assert_eq!(
        app.get("/api/v1/sla").await.body["policies"][0]["name"],
        "Urgent"
    );

    // Monday 2026-03-02 09:00 UTC = 10:00 Berlin. Standard policy: first reply within 2 business hours.
    let t = app.ticket(json!({"subject": "Help", "requester": {"email": "c@example.com"}, "comment": {"body": "hi"}})).await;
    let path = format!("/api/v1/tickets/{}/sla", t["id"]);
    let s = app.get(&path).await.body;
    assert_eq!(s["policy"], "Standard");
    assert_eq!(s["targets"][0]["metric"], "first_reply");
    assert_eq!(s["targets"][0]["state"], "active");
    assert_eq!(s["targets"][0]["due_at"], "2026-03-02T11:00:00Z");
    // An internal note is not a reply; 3 hours later the target is breached.
    app.clock.advance(chrono::Duration::minutes(30));
    app.post(
        &format!("/api/v1/tickets/{}/messages", t["id"]),
        json!({"body": "looking", "public": false}),
    )
    .await;
    app.clock.advance(chrono::Duration::minutes(150));
    app.post(
        &format!("/api/v1/tickets/{}/messages", t["id"]),
        json!({"body": "Here is the answer."}),
    )
    .await;
    let s = app.get(&path).await.body;
    let fr = &s["targets"][0];
    assert_eq!(fr["state"], "breached", "{s}");
    let why = fr["explanation"].as_str().unwrap();
    assert!(
        why.contains("Europe/Berlin") && why.contains("breached by 1 h"),
        "{why}"
    );
    // Raising the priority switches the policy (evaluated from the ticket's start).
    app.patch(
        &format!("/api/v1/tickets/{}", t["id"]),
        json!({"priority": "urgent"}),
    )
    .await;
    assert_eq!(app.get(&path).await.body["policy"], "Urgent");
}

async fn drain(w: &tend_web::worker::Worker) {
    for _ in 0..50 {
        if w.tick().await.unwrap() == 0 {
            return;
        }
    }
    panic!("jobs keep coming");
}

fn kinds(ev: &serde_json::Value) -> Vec<String> {
    ev["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_string())
        .filter(|k| k.starts_with("ticket.sla"))
        .collect()
}

#[tokio::test]
async fn warning_and_breach_fire_on_time_once_also_across_a_restart() {
    let app = TestApp::spawn().await;
    let mut cfg = config();
    cfg["warn_before_minutes"] = json!(30);
    assert_eq!(
        app.call(Method::PUT, "/api/v1/sla", app.admin_token(), Some(cfg))
            .await
            .status,
        StatusCode::OK
    );
    let (lena, _) = app.agent("lena@shop.test", Role::Agent, &[]).await;
    // Mon 10:00 Berlin; first reply due 12:00 Berlin = 11:00 UTC; warning at 10:30 UTC.
    let t = app.ticket(json!({"subject": "Help", "assignee_id": lena, "requester": {"email": "c@example.com"}, "comment": {"body": "hi"}})).await;
    let id = t["id"].as_i64().unwrap();
    let worker =
        tend_web::worker::Worker::new(app.store.clone(), std::sync::Arc::new(app.clock.clone()));
    drain(&worker).await;
    // The next check is on the ticket row (migration 0027), not a job per ticket.
    assert!(
        app.store
            .list_jobs(tend_store::JobState::Queued, 50)
            .await
            .unwrap()
            .iter()
            .all(|j| j.kind != "sla.check"),
        "no per-ticket check jobs"
    );
    assert_eq!(
        app.store
            .sla_check_at(id)
            .await
            .unwrap()
            .map(|t| t.to_rfc3339()),
        Some("2026-03-02T10:30:00+00:00".to_string()),
        "next check at the warning time"
    );

    app.clock.set(
        chrono::DateTime::parse_from_rfc3339("2026-03-02T10:30:00Z")
            .unwrap()
            .into(),
    );
    drain(&worker).await;
    let ev = app.get(&format!("/api/v1/tickets/{id}/events")).await.body;
    assert_eq!(kinds(&ev), vec!["ticket.sla_warning"]);

    // Restart between warning and breach: a new store and a new worker pick the schedule up.
    let app = app.restart().await;
    let worker =
        tend_web::worker::Worker::new(app.store.clone(), std::sync::Arc::new(app.clock.clone()));
    app.clock.set(
        chrono::DateTime::parse_from_rfc3339("2026-03-02T10:59:59Z")
            .unwrap()
            .into(),
    );
    drain(&worker).await;
    assert_eq!(
        kinds(&app.get(&format!("/api/v1/tickets/{id}/events")).await.body),
        vec!["ticket.sla_warning"],
        "nothing before the due time"
    );
    let next = app.store.sla_check_at(id).await.unwrap().unwrap();
    let due = chrono::DateTime::parse_from_rfc3339("2026-03-02T11:00:00Z").unwrap();
    assert!(
        next >= due && next <= due + chrono::Duration::seconds(5),
        "the check runs within 5 s of the due time: {next}"
    );
    app.clock.set(next);
    drain(&worker).await;
    let ev = app.get(&format!("/api/v1/tickets/{id}/events")).await.body;
    assert_eq!(
        kinds(&ev),
        vec!["ticket.sla_warning", "ticket.sla_breached"]
    );
    let breach = ev["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "ticket.sla_breached")
        .unwrap()
        .clone();
    assert_eq!(
        breach["change"]["escalated"],
        json!(["priority normal → high", "mailed lena@shop.test"])
    );
    assert_eq!(
        app.get(&format!("/api/v1/tickets/{id}")).await.body["priority"],
        "high"
    );
    // The notification went out through the mail queue (no relay configured here: logged).
    let mails: Vec<_> = app
        .store
        .list_jobs(tend_store::JobState::Done, 50)
        .await
        .unwrap()
        .into_iter()
        .filter(|j| j.kind == "mail.send")
        .collect();
    assert_eq!(mails.len(), 1);
    assert!(mails[0].payload["subject"]
        .as_str()
        .unwrap()
        .starts_with("SLA breached"));

    // Exactly once: later checks and a replayed job record nothing more.
    app.clock.advance(chrono::Duration::hours(3));
    app.store.schedule_sla_check(id, app.now()).await.unwrap();
    drain(&worker).await;
    assert_eq!(
        kinds(&app.get(&format!("/api/v1/tickets/{id}/events")).await.body),
        vec!["ticket.sla_warning", "ticket.sla_breached"]
    );
    // A reply in time for the next ticket is fulfilled and never breached.
    let t2 = app.ticket(json!({"subject": "Quick", "requester": {"email": "d@example.com"}, "comment": {"body": "hi"}})).await;
    app.clock.advance(chrono::Duration::minutes(10));
    app.post(
        &format!("/api/v1/tickets/{}/messages", t2["id"]),
        json!({"body": "Answered."}),
    )
    .await;
    app.clock.advance(chrono::Duration::hours(5));
    drain(&worker).await;
    assert!(kinds(
        &app.get(&format!("/api/v1/tickets/{}/events", t2["id"]))
            .await
            .body
    )
    .iter()
    .all(|k| k != "ticket.sla_breached"));
}

/// The next SLA due time is kept on the ticket by the `sla.check` job: the API shows it, sorts
/// and filters by it, and the "SLA at risk" view and the view counters use it, each only
/// with the tickets the agent may see.
#[tokio::test]
async fn next_due_time_orders_lists_and_fills_the_at_risk_view() {
    let app = TestApp::spawn().await;
    let mut cfg = config();
    cfg["warn_before_minutes"] = json!(30);
    let r = app
        .call(Method::PUT, "/api/v1/sla", app.admin_token(), Some(cfg))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let support = app.group("Support").await;
    app.post("/api/v1/agents", json!({"email": "lena@shop.test", "name": "Lena", "role": "agent", "password": "correct horse battery"})).await;
    app.post("/api/v1/agents", json!({"email": "otto@shop.test", "name": "Otto", "role": "agent", "password": "correct horse battery"})).await;
    let lena = app
        .store
        .agent_by_email("lena@shop.test")
        .await
        .unwrap()
        .unwrap();
    app.call(
        Method::PUT,
        &format!("/api/v1/groups/{support}/members"),
        app.admin_token(),
        Some(json!({"agent_ids": [lena.id]})),
    )
    .await;
    // Mon 2 Mar 2026 10:00 Berlin (09:00 UTC). Urgent: first reply in 30 business minutes →
    // due 09:30 UTC. Standard: first reply in 120 → 11:00 UTC.
    let id = |v: serde_json::Value| v["id"].as_i64().unwrap();
    let urgent = id(app.ticket(json!({"subject": "Down", "priority": "urgent", "group_id": support, "requester": {"email": "a@example.com"}, "comment": {"body": "hi"}})).await);
    let standard = id(app.ticket(json!({"subject": "Question", "group_id": support, "requester": {"email": "b@example.com"}, "comment": {"body": "hi"}})).await);
    // Answered at once: its first reply is met, so resolution (960 business minutes: Mon
    // 10–17, Tue 9–17, Wed 9–10 Berlin) is next: Wed 4 Mar 09:00 UTC.
    let answered = id(app.ticket(json!({"subject": "Answered", "group_id": support, "requester": {"email": "c@example.com"}, "comment": {"body": "hi"}})).await);
    app.post(
        &format!("/api/v1/tickets/{answered}/messages"),
        json!({"body": "Here you go."}),
    )
    .await;
    // Solved: nothing runs.
    let solved = id(app.ticket(json!({"subject": "Done", "group_id": support, "requester": {"email": "d@example.com"}, "comment": {"body": "hi"}})).await);
    app.patch(
        &format!("/api/v1/tickets/{solved}"),
        json!({"status": "solved"}),
    )
    .await;
    let worker =
        tend_web::worker::Worker::new(app.store.clone(), std::sync::Arc::new(app.clock.clone()));
    drain(&worker).await;

    let due = |v: &serde_json::Value| v["sla_due_at"].as_str().map(str::to_string);
    let t = app.get(&format!("/api/v1/tickets/{urgent}")).await.body;
    assert_eq!(due(&t).as_deref(), Some("2026-03-02T09:30:00Z"));
    let t = app.get(&format!("/api/v1/tickets/{answered}")).await.body;
    assert_eq!(due(&t).as_deref(), Some("2026-03-04T09:00:00Z"));
    assert_eq!(
        app.get(&format!("/api/v1/tickets/{solved}")).await.body["sla_due_at"],
        json!(null)
    );

    // Sorted by next due, tickets without a running target last; keyset pages keep the order.
    let ids = |b: &serde_json::Value| -> Vec<i64> {
        b["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["id"].as_i64().unwrap())
            .collect()
    };
    let p1 = app
        .get("/api/v1/tickets?sort=sla_due_at&limit=2")
        .await
        .body;
    assert_eq!(ids(&p1), vec![urgent, standard]);
    let cur = p1["next_cursor"].as_str().unwrap();
    let p2 = app
        .get(&format!(
            "/api/v1/tickets?sort=sla_due_at&limit=2&cursor={cur}"
        ))
        .await
        .body;
    assert_eq!(ids(&p2), vec![answered, solved]);
    let soon = app
        .get("/api/v1/tickets?sla_due_before=2026-03-02T10:00:00Z")
        .await
        .body;
    assert_eq!(ids(&soon), vec![urgent]);
    let r = app.get("/api/v1/tickets?sla_due_before=tomorrow").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        r.body["detail"]
            .as_str()
            .unwrap()
            .contains("sla_due_before"),
        "{r:?}"
    );

    // The view: due within an hour (the 30-minute warning time, at least an hour) or overdue.
    let lena_cookie = crate::ui::sign_in(&app, "lena@shop.test", "correct horse battery").await;
    let r = app.get_with_cookie("/views/at-risk", &lena_cookie).await;
    assert_eq!(r.status, StatusCode::OK);
    let html = String::from_utf8_lossy(&r.raw).into_owned();
    assert!(
        html.contains("Down") && html.contains("in 30 min"),
        "{html}"
    );
    assert!(!html.contains("Question"), "due at 11:00, outside the hour");
    // 90 minutes on: the urgent one is overdue and the standard one is within the hour.
    app.clock.advance(chrono::Duration::minutes(90));
    drain(&worker).await;
    let html = String::from_utf8_lossy(
        &app.get_with_cookie("/views/at-risk", &lena_cookie)
            .await
            .raw,
    )
    .into_owned();
    let (down, question) = (html.find("Down").unwrap(), html.find("Question").unwrap());
    assert!(down < question, "most urgent first");
    assert!(
        html.contains("overdue 1 h") && html.contains("in 30 min"),
        "{html}"
    );
    // Any view can be ordered by next due.
    let html = String::from_utf8_lossy(
        &app.get_with_cookie("/views/open?sort=due", &lena_cookie)
            .await
            .raw,
    )
    .into_owned();
    assert!(html.find("Down").unwrap() < html.find("Answered").unwrap());
    assert_eq!(
        app.get_with_cookie("/views/open?sort=nonsense", &lena_cookie)
            .await
            .status,
        StatusCode::BAD_REQUEST
    );

    // Counters: Lena sees the group's tickets; Otto (no group, nothing assigned) sees none.
    let counts: serde_json::Value =
        serde_json::from_slice(&app.get_with_cookie("/views/counts", &lena_cookie).await.raw)
            .unwrap();
    assert_eq!(counts["at-risk"], 2, "{counts}");
    assert_eq!(counts["open"], 3, "{counts}");
    assert_eq!(counts["mine"], 0, "{counts}");
    assert_eq!(counts[format!("group-{support}")], 3, "{counts}");
    let otto_cookie = crate::ui::sign_in(&app, "otto@shop.test", "correct horse battery").await;
    let counts: serde_json::Value =
        serde_json::from_slice(&app.get_with_cookie("/views/counts", &otto_cookie).await.raw)
            .unwrap();
    assert_eq!(counts["at-risk"], 0, "{counts}");
    assert_eq!(counts["open"], 0, "{counts}");
}

/// A changed SLA configuration and imported tickets reach every open ticket's clock through
/// one paged `sla.recompute` pass.
#[tokio::test]
async fn a_config_change_and_an_import_recompute_open_tickets() {
    let app = TestApp::spawn().await;
    let put = |cfg: serde_json::Value| {
        let app = &app;
        async move {
            let r = app
                .call(Method::PUT, "/api/v1/sla", app.admin_token(), Some(cfg))
                .await;
            assert_eq!(r.status, StatusCode::OK, "{r:?}");
        }
    };
    put(config()).await;
    let worker =
        tend_web::worker::Worker::new(app.store.clone(), std::sync::Arc::new(app.clock.clone()));
    // Mon 10:00 Berlin; Standard first reply 120 business minutes → 11:00 UTC.
    let t = app.ticket(json!({"subject": "Help", "requester": {"email": "c@example.com"}, "comment": {"body": "hi"}})).await;
    let id = t["id"].as_i64().unwrap();
    drain(&worker).await;
    let path = format!("/api/v1/tickets/{id}");
    assert_eq!(
        app.get(&path).await.body["sla_due_at"],
        "2026-03-02T11:00:00Z"
    );
    // Standard first reply now 30 minutes: the ticket follows without being touched.
    let mut cfg = config();
    cfg["policies"][1]["targets"][0]["minutes"] = json!(30);
    put(cfg).await;
    let queued: Vec<_> = app
        .store
        .list_jobs(tend_store::JobState::Queued, 50)
        .await
        .unwrap()
        .into_iter()
        .filter(|j| j.kind == "sla.recompute")
        .collect();
    assert_eq!(queued.len(), 1, "one pass, queued with the change");
    drain(&worker).await;
    assert_eq!(
        app.get(&path).await.body["sla_due_at"],
        "2026-03-02T09:30:00Z"
    );

    // Imported open tickets get their clocks from the pass the import queues. History is
    // not escalated afresh: a target long overdue is shown breached, not mailed about now.
    let line = |ext: &str, subject: &str, at: &str| {
        json!({"external_id": ext, "subject": subject, "status": "open", "channel": "email",
            "requester": {"email": "imp@example.com"}, "created_at": at,
            "messages": [{"author": "imp@example.com", "body": "Hallo", "created_at": at}]})
        .to_string()
    };
    let body = format!(
        "{}\n{}\n",
        line("zd-8", "Old", "2026-02-26T08:00:00Z"),
        line("zd-9", "Imported", "2026-03-02T08:30:00Z")
    );
    let tok = app.admin_token().to_string();
    let r = app
        .raw(
            Method::POST,
            "/api/v1/imports",
            Some(&tok),
            Some("application/x-ndjson"),
            body.into_bytes(),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    drain(&worker).await;
    let list = app.get("/api/v1/tickets?sort=sla_due_at").await.body;
    let (old, imported) = (&list["items"][0], &list["items"][1]);
    assert_eq!(old["subject"], "Old");
    // Thu 26 Feb 09:00 Berlin + 30 business minutes = 09:30 Berlin = 08:30 UTC.
    assert_eq!(old["sla_due_at"], "2026-02-26T08:30:00Z", "{old}");
    assert_eq!(imported["subject"], "Imported");
    // Created 09:30 Berlin, first reply in 30 business minutes → 10:00 Berlin = 09:00 UTC.
    assert_eq!(imported["sla_due_at"], "2026-03-02T09:00:00Z", "{imported}");
    let old_events = app
        .get(&format!("/api/v1/tickets/{}/events", old["id"]))
        .await
        .body;
    assert!(kinds(&old_events).is_empty(), "{old_events}");
    assert_eq!(old["priority"], "normal", "not escalated");
    // What falls due after the pass is handled as always.
    app.clock.advance(chrono::Duration::minutes(5));
    drain(&worker).await;
    let ev = app
        .get(&format!("/api/v1/tickets/{}/events", imported["id"]))
        .await
        .body;
    assert_eq!(kinds(&ev), vec!["ticket.sla_breached"]);
}
