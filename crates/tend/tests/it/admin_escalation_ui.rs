//! Issue 5 in the admin UI: escalation levels on /admin/sla, group leads on /admin/routing,
//! agents' working hours on /admin/team/agents/{id} — each through the API's checked save
//! function (one validation, its 422 shown beside the field, audited); the triggers'
//! "assign automatically" action; the timeline event of notify and webhook actions.

use crate::harness::*;
use axum::http::{Method, StatusCode};
use serde_json::{json, Value};
use tend_core::Role;

async fn drain(w: &tend_web::worker::Worker) {
    for _ in 0..100 {
        if w.tick().await.unwrap() == 0 {
            return;
        }
    }
    panic!("jobs keep coming");
}

fn worker(app: &TestApp) -> tend_web::worker::Worker {
    tend_web::worker::Worker::new(app.store.clone(), std::sync::Arc::new(app.clock.clone()))
}

fn html(r: &Resp) -> String {
    String::from_utf8_lossy(&r.raw).into_owned()
}

fn body(pairs: &[(String, String)]) -> Vec<u8> {
    let b: Vec<(&str, &str)> = pairs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    form(&b)
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

async fn audit(app: &TestApp) -> String {
    app.get("/api/v1/audit-log?limit=50").await.body.to_string()
}

async fn events(app: &TestApp, id: i64) -> Vec<Value> {
    app.get(&format!("/api/v1/tickets/{id}/events?limit=100"))
        .await
        .body["items"]
        .as_array()
        .unwrap()
        .clone()
}

/// The SLA form as the page posts it: a Berlin calendar, one policy, and the given levels.
fn sla_form(csrf: &str, levels: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut p = pairs(&[
        ("csrf", csrf),
        ("calendar", "zone Europe/Berlin\nmon-fri 09:00-17:00\n"),
        ("p0.name", "Standard"),
        ("p0.first_reply.minutes", "120"),
        ("p0.first_reply.time", "business"),
        ("warn", "0"),
        ("escalation", "1"),
        ("action", "save"),
    ]);
    p.extend(pairs(levels));
    p
}

#[tokio::test]
async fn escalation_levels_round_trip_through_the_admin_sla_page() {
    let app = TestApp::spawn().await;
    let senior = app.group("Senior").await;
    let (sam, _) = app.agent("sam@shop.test", Role::Agent, &[senior]).await;
    let cookie = format!("tend_session={}", app.admin_token());
    let r = app.get_with_cookie("/admin/sla", &cookie).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let page = html(&r);
    // No configuration yet: the default escalation (one level at the breach) and a blank row.
    assert!(page.contains("<label for=\"lvl0-after\">"), "{page}");
    assert!(
        page.contains("id=\"lvl1-after\""),
        "a blank row for a new level"
    );
    assert!(page.contains("name=\"escalation\" value=\"1\""));
    let csrf = csrf_of(&page);
    let (sam_s, senior_s) = (sam.to_string(), senior.to_string());

    // Three levels typed out of order: stored in ascending order of minutes.
    let good = sla_form(
        &csrf,
        &[
            ("lvl0.after", "60"),
            ("lvl0.lead", "1"),
            ("lvl0.group", &senior_s),
            ("lvl0.priority", "1"),
            ("lvl1.after", "0"),
            ("lvl1.assignee", "1"),
            ("lvl1.agent", ""),
            ("lvl1.group", ""),
            ("lvl2.after", "240"),
            ("lvl2.agent", &sam_s),
            ("lvl3.after", ""),
            ("lvl3.agent", ""),
            ("lvl3.group", ""),
        ],
    );
    let r = app
        .post_form("/admin/sla", body(&good), Some(&cookie))
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", html(&r));
    let cfg = app.get("/api/v1/sla").await.body;
    assert_eq!(
        cfg["escalation"]["levels"],
        json!([
            {"after_minutes": 0, "notify_assignee": true, "notify_group_lead": false, "raise_priority": false},
            {"after_minutes": 60, "notify_assignee": false, "notify_group_lead": true, "reassign_group": senior, "raise_priority": true},
            {"after_minutes": 240, "notify_assignee": false, "notify_group_lead": false, "notify_agent": sam, "raise_priority": false}
        ]),
        "{cfg}"
    );
    assert!(audit(&app).await.contains("setting.changed"));
    // The page shows them back, in order, with the choices selected.
    let page = html(&app.get_with_cookie("/admin/sla", &cookie).await);
    assert!(page.contains("<legend>Level 3</legend>"), "{page}");
    assert!(page.contains(&format!("<option value=\"{sam}\" selected>")));
    assert!(page.contains(&format!(
        "<option value=\"{senior}\" selected>Senior</option>"
    )));
    assert!(page.contains("name=\"lvl1.after\" value=\"60\""));

    // Two levels at the same minute: the API's 422, shown beside the second one's minutes;
    // nothing stored.
    let bad = sla_form(
        &csrf,
        &[
            ("lvl0.after", "30"),
            ("lvl0.assignee", "1"),
            ("lvl1.after", "30"),
            ("lvl1.priority", "1"),
        ],
    );
    let r = app.post_form("/admin/sla", body(&bad), Some(&cookie)).await;
    assert_eq!(r.status, StatusCode::OK);
    let page = html(&r);
    assert!(
        page.contains("id=\"lvl1-after-error\">levels must be in ascending order"),
        "{page}"
    );
    assert!(page.contains("aria-describedby=\"lvl1-after-error\""));
    assert!(page.contains("Not saved: fix the marked escalation level."));
    assert_eq!(app.get("/api/v1/sla").await.body, cfg, "nothing stored");
    // Minutes that are not a number, as typed; an unknown agent; a level doing nothing.
    let r = app
        .post_form(
            "/admin/sla",
            body(&sla_form(
                &csrf,
                &[("lvl0.after", "soon"), ("lvl0.assignee", "1")],
            )),
            Some(&cookie),
        )
        .await;
    let page = html(&r);
    let err = page
        .split("id=\"lvl0-after-error\">")
        .nth(1)
        .unwrap_or_else(|| panic!("{page}"));
    assert!(err.contains("soon") && err.contains("is not a whole number of minutes"));
    assert!(page.contains("name=\"lvl0.after\" value=\"soon\""));
    let r = app
        .post_form(
            "/admin/sla",
            body(&sla_form(
                &csrf,
                &[("lvl0.after", "0"), ("lvl0.agent", "99999")],
            )),
            Some(&cookie),
        )
        .await;
    assert!(
        html(&r).contains("id=\"lvl0-agent-error\">no agent 99999"),
        "{}",
        html(&r)
    );
    let r = app
        .post_form(
            "/admin/sla",
            body(&sla_form(&csrf, &[("lvl0.after", "15")])),
            Some(&cookie),
        )
        .await;
    assert!(
        html(&r).contains("id=\"lvl0-level-error\">a level must do something"),
        "{}",
        html(&r)
    );
    assert_eq!(app.get("/api/v1/sla").await.body, cfg);

    // Removing every level: no escalation.
    let r = app
        .post_form(
            "/admin/sla",
            body(&sla_form(
                &csrf,
                &[
                    ("lvl0.after", "0"),
                    ("lvl0.assignee", "1"),
                    ("lvl0.delete", "1"),
                ],
            )),
            Some(&cookie),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(
        app.get("/api/v1/sla").await.body["escalation"]["levels"],
        json!([])
    );

    // Without the CSRF token, and for non-admins: refused.
    let mut no_csrf = good.clone();
    no_csrf[0].1 = "x".repeat(64);
    let r = app
        .post_form("/admin/sla", body(&no_csrf), Some(&cookie))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let (_, agent) = app.agent("a@shop.test", Role::Agent, &[]).await;
    let agent_cookie = format!("tend_session={agent}");
    let r = app.get_with_cookie("/admin/sla", &agent_cookie).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = app
        .post_form("/admin/sla", body(&good), Some(&agent_cookie))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(
        app.get("/api/v1/sla").await.body["escalation"]["levels"],
        json!([])
    );
}

#[tokio::test]
async fn group_leads_and_working_hours_are_edited_in_the_admin_pages() {
    let app = TestApp::spawn().await;
    let g = app.group("Billing").await;
    let (sam, sam_token) = app.agent("sam@shop.test", Role::Agent, &[g]).await;
    let cookie = format!("tend_session={}", app.admin_token());

    // The lead on /admin/routing, in the group's form.
    let page = html(&app.get_with_cookie("/admin/routing", &cookie).await);
    assert!(
        page.contains(&format!("<label for=\"lead-{g}\">Lead</label>")),
        "{page}"
    );
    let csrf = csrf_of(&page);
    let path = format!("/admin/routing/groups/{g}");
    let post = |lead: String| {
        form(&[
            ("csrf", csrf.as_str()),
            ("mode", "manual"),
            ("lead", lead.as_str()),
        ])
    };
    let r = app
        .post_form(&path, post(sam.to_string()), Some(&cookie))
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", html(&r));
    let lead = app.get(&format!("/api/v1/groups/{g}/lead")).await.body;
    assert_eq!(lead["agent_id"], sam);
    assert!(audit(&app).await.contains("group.lead_set"));
    let page = html(&app.get_with_cookie("/admin/routing", &cookie).await);
    assert!(
        page.contains(&format!("<option value=\"{sam}\" selected>")),
        "{page}"
    );
    // The API's check: an unknown agent is refused, shown on the page; the lead stays.
    let r = app
        .post_form(&path, post("99999".into()), Some(&cookie))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        html(&r).contains("agent_id: no agent 99999"),
        "{}",
        html(&r)
    );
    assert_eq!(
        app.get(&format!("/api/v1/groups/{g}/lead")).await.body["agent_id"],
        sam
    );
    // Empty clears it.
    let r = app
        .post_form(&path, post(String::new()), Some(&cookie))
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(
        app.get(&format!("/api/v1/groups/{g}/lead")).await.body["agent_id"],
        Value::Null
    );

    // Working hours on the agent's admin page, in the calendar line format.
    let agent_page = format!("/admin/team/agents/{sam}");
    let page = html(&app.get_with_cookie(&agent_page, &cookie).await);
    assert!(page.contains("<label for=\"hours\">"), "{page}");
    let hours_path = format!("/admin/team/agents/{sam}/hours");
    let bad = "zone Europe/Berlin\nmon-fri 09:00-17:00\nmon 16:00-18:00\n";
    let r = app
        .post_form(
            &hours_path,
            form(&[("csrf", &csrf), ("hours", bad)]),
            Some(&cookie),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let page = html(&r);
    assert!(
        page.contains("id=\"hours-error\" role=\"alert\">line 3:"),
        "{page}"
    );
    assert!(page.contains("mon 16:00-18:00"), "the text as typed stays");
    assert_eq!(
        app.get(&format!("/api/v1/agents/{sam}/hours")).await.body["calendar"],
        Value::Null
    );
    let good = "zone Europe/Berlin\nmon-fri 09:00-17:00\n";
    let r = app
        .post_form(
            &hours_path,
            form(&[("csrf", &csrf), ("hours", good)]),
            Some(&cookie),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", html(&r));
    assert_eq!(
        app.get(&format!("/api/v1/agents/{sam}/hours")).await.body["calendar"],
        good
    );
    assert!(audit(&app).await.contains("agent.hours_set"));
    let page = html(&app.get_with_cookie(&agent_page, &cookie).await);
    assert!(
        page.contains("zone Europe/Berlin\nmon-fri 09:00-17:00"),
        "{page}"
    );

    // Agents get neither form (not even for their own hours: they use the API).
    let sam_cookie = format!("tend_session={sam_token}");
    let sam_csrf = tend_web::ui::csrf_for(&sam_token);
    let r = app
        .post_form(
            &hours_path,
            form(&[("csrf", &sam_csrf), ("hours", "")]),
            Some(&sam_cookie),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = app
        .post_form(
            &path,
            form(&[("csrf", &sam_csrf), ("mode", "manual"), ("lead", "")]),
            Some(&sam_cookie),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(
        app.get(&format!("/api/v1/agents/{sam}/hours")).await.body["calendar"],
        good
    );
}

#[tokio::test]
async fn assign_automatically_routes_and_notifications_leave_a_timeline_event() {
    let app = TestApp::spawn().await;
    let g = app.group("Support").await; // manual: the default mode
    let (ada, ada_token) = app.agent("ada@shop.test", Role::Agent, &[g]).await;
    let (bo, bo_token) = app.agent("bo@shop.test", Role::Agent, &[g]).await;
    for t in [&ada_token, &bo_token] {
        let r = app
            .call(
                Method::PUT,
                "/api/v1/me/availability",
                t,
                Some(json!({"availability": "online"})),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{r:?}");
    }
    let trig = |actions: Value| json!({"name": "Route it", "on": ["created"], "actions": actions});
    // Save-time checks: not with set_assignee, not with a set_group that clears the group.
    for (actions, field) in [
        (
            json!([{"type": "assign_automatically"}, {"type": "set_assignee", "value": ada}]),
            "actions[1].type",
        ),
        (
            json!([{"type": "set_assignee", "value": ada}, {"type": "assign_automatically"}]),
            "actions[1].type",
        ),
        (
            json!([{"type": "set_group", "value": null}, {"type": "assign_automatically"}]),
            "actions[1].type",
        ),
        (
            json!([{"type": "assign_automatically"}, {"type": "assign_automatically"}]),
            "actions[1]",
        ),
    ] {
        let r = app.post("/api/v1/triggers", trig(actions)).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{r:?}");
        assert_eq!(r.body["field"], field, "{r:?}");
    }
    let r = app
        .post(
            "/api/v1/triggers",
            trig(json!([
                {"type": "assign_automatically"},
                {"type": "notify", "to": "assignee", "subject": "Yours: {{ticket.subject}}", "body": "#{{ticket.id}} is yours, {{agent.first_name}}"},
                {"type": "webhook", "url": "http://127.0.0.1:9/services/T0/secret-token", "secret": "a-webhook-secret-0123"}
            ])),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    let tid = r.body["id"].as_i64().unwrap();

    // A ticket in the manual group: the least loaded eligible member (both have none open;
    // neither was ever routed to: the lower id), as the trigger.
    let t = app
        .ticket(json!({"subject": "Refund", "group_id": g,
            "requester": {"email": "c@example.com", "name": "Cleo"}, "comment": {"body": "hi"}}))
        .await;
    let id = t["id"].as_i64().unwrap();
    let w = worker(&app);
    drain(&w).await;
    let t = app.get(&format!("/api/v1/tickets/{id}")).await.body;
    assert_eq!(t["assignee_id"], ada.min(bo), "{t}");
    let ev = events(&app, id).await;
    let by_trigger = json!({"kind": "system", "id": tid});
    assert!(
        ev.iter()
            .any(|e| e["kind"] == "ticket.assignee_changed" && e["actor"] == by_trigger),
        "{ev:?}"
    );
    let notes = app
        .get(&format!("/api/v1/tickets/{id}/messages"))
        .await
        .body;
    assert!(
        notes.to_string().contains("the group assigns by hand"),
        "{notes}"
    );
    // The notification went to the new assignee, and the timeline says so and names the
    // webhook by its host only.
    let acted: Vec<&Value> = ev
        .iter()
        .filter(|e| e["kind"] == "ticket.automation_acted")
        .collect();
    assert_eq!(acted.len(), 1, "{ev:?}");
    let first = if ada < bo { "ada" } else { "bo" };
    assert_eq!(
        acted[0]["change"],
        json!({"type": "automation_acted", "trigger_id": tid, "name": "Route it",
               "done": [format!("mailed {first}@shop.test"), "queued a call to webhook http://127.0.0.1:9/…"]}),
        "{ev:?}"
    );
    assert_eq!(acted[0]["actor"], by_trigger);
    let page = html(
        &app.get_with_cookie(
            &format!("/tickets/{id}"),
            &format!("tend_session={}", app.admin_token()),
        )
        .await,
    );
    assert!(
        page.contains(&format!(
            "trigger “Route it” (#{tid}): mailed {first}@shop.test"
        )),
        "{page}"
    );

    // Without a group: nobody assigned and nobody mailed, and the timeline says why.
    let t = app
        .ticket(json!({"subject": "Lost", "requester": {"email": "d@example.com"}, "comment": {"body": "hi"}}))
        .await;
    let id = t["id"].as_i64().unwrap();
    drain(&w).await;
    assert_eq!(
        app.get(&format!("/api/v1/tickets/{id}")).await.body["assignee_id"],
        Value::Null
    );
    let ev = events(&app, id).await;
    let acted = ev
        .iter()
        .find(|e| e["kind"] == "ticket.automation_acted")
        .unwrap_or_else(|| panic!("{ev:?}"));
    assert_eq!(
        acted["change"]["done"],
        json!([
            "not assigned automatically: it has no group",
            "nobody mailed: the ticket has no assignee",
            "queued a call to webhook http://127.0.0.1:9/…"
        ])
    );
}

#[tokio::test]
async fn business_hour_automations_count_in_the_tickets_own_calendar() {
    let app = TestApp::spawn().await; // Mon 2026-03-02 09:00 UTC
    let night = app.group("Night shift").await;
    let day = |start: &str, end: &str| {
        json!(["mon", "tue", "wed", "thu", "fri"]
            .iter()
            .map(|d| json!({"day": d, "start": start, "end": end}))
            .collect::<Vec<_>>())
    };
    let cfg = json!({
        "calendar": {"time_zone": "UTC", "hours": day("09:00", "17:00")},
        "calendars": [{"name": "night", "spec": {"time_zone": "UTC", "hours": day("17:00", "23:00")},
                       "group_ids": [night]}],
        "policies": [], "warn_before_minutes": 0
    });
    let r = app
        .call(Method::PUT, "/api/v1/sla", app.admin_token(), Some(cfg))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let r = app
        .call(
            Method::PUT,
            "/api/v1/automations",
            app.admin_token(),
            Some(
                json!({"automations": [{"name": "Chase", "since": "created", "hours": 2,
                "business_hours": true, "actions": [{"type": "note", "body": "chased"}]}]}),
            ),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let ticket = |group: Value| {
        json!({"subject": "Help", "group_id": group,
               "requester": {"email": "c@example.com"}, "comment": {"body": "hi"}})
    };
    let in_night = app.ticket(ticket(json!(night))).await["id"]
        .as_i64()
        .unwrap();
    let plain = app.ticket(ticket(Value::Null)).await["id"]
        .as_i64()
        .unwrap();
    let chased = |id: i64| {
        let app = &app;
        async move {
            app.get(&format!("/api/v1/tickets/{id}/messages"))
                .await
                .body
                .to_string()
                .contains("chased")
        }
    };
    let w = worker(&app);
    drain(&w).await;
    // 11:05: two hours of the default calendar have passed; the night calendar has not opened.
    app.clock.advance(chrono::Duration::minutes(125));
    drain(&w).await;
    assert!(chased(plain).await);
    assert!(!chased(in_night).await, "counted in the group's calendar");
    // 19:05: the night calendar opened at 17:00.
    app.clock.advance(chrono::Duration::hours(8));
    drain(&w).await;
    assert!(chased(in_night).await);
}
