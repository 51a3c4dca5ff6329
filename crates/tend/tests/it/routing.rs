//! Automatic assignment (issue 5; docs/routing.md): round robin, least loaded, capacity,
//! skills, availability, release on going off, idempotency, authorization and audit.

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

async fn put(app: &TestApp, path: &str, token: &str, body: Value) -> Resp {
    app.call(Method::PUT, path, token, Some(body)).await
}

async fn mode(app: &TestApp, group: i64, body: Value) {
    let r = put(
        app,
        &format!("/api/v1/groups/{group}/routing"),
        app.admin_token(),
        body,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
}

async fn online(app: &TestApp, token: &str) {
    let r = put(
        app,
        "/api/v1/me/availability",
        token,
        json!({"availability": "online"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(r.body["availability"], "online");
}

async fn set(app: &TestApp, agent: i64, body: Value) {
    let r = put(
        app,
        &format!("/api/v1/agents/{agent}/routing"),
        app.admin_token(),
        body,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
}

async fn new_ticket(app: &TestApp, group: i64, extra: Value) -> i64 {
    let mut body = json!({"subject": "Help", "group_id": group,
        "requester": {"email": "ann@example.com"}, "comment": {"body": "Hi"}});
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            b.insert(k.clone(), v.clone());
        }
    }
    app.ticket(body).await["id"].as_i64().unwrap()
}

async fn assignee(app: &TestApp, id: i64) -> Value {
    app.get(&format!("/api/v1/tickets/{id}")).await.body["assignee_id"].clone()
}

async fn events(app: &TestApp, id: i64) -> Vec<Value> {
    app.get(&format!("/api/v1/tickets/{id}/events?limit=100"))
        .await
        .body["items"]
        .as_array()
        .unwrap()
        .clone()
}

async fn notes(app: &TestApp, id: i64) -> Vec<String> {
    app.get(&format!("/api/v1/tickets/{id}/messages"))
        .await
        .body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["public"] == false)
        .map(|m| m["body_text"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn round_robin_rotates_over_three_online_agents_and_a_repeated_job_changes_nothing() {
    let app = TestApp::spawn().await;
    let g = app.group("Support").await;
    let mut agents = Vec::new();
    for name in ["ada", "bo", "cy"] {
        let (id, token) = app
            .agent(&format!("{name}@shop.test"), Role::Agent, &[g])
            .await;
        online(&app, &token).await;
        agents.push(id);
    }
    // An agent who is away gets nothing.
    let (_, away) = app.agent("dee@shop.test", Role::Agent, &[g]).await;
    let r = put(
        &app,
        "/api/v1/me/availability",
        &away,
        json!({"availability": "away"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    // Manual (the default): nothing is assigned.
    let manual = new_ticket(&app, g, json!({})).await;
    drain(&worker(&app)).await;
    assert_eq!(assignee(&app, manual).await, Value::Null);

    mode(&app, g, json!({"mode": "round_robin"})).await;
    let mut tickets = Vec::new();
    for _ in 0..6 {
        tickets.push(new_ticket(&app, g, json!({})).await);
    }
    drain(&worker(&app)).await;
    // The ticket waiting from before the switch went first.
    assert_eq!(assignee(&app, manual).await, agents[0]);
    let got: Vec<Value> = {
        let mut v = Vec::new();
        for t in &tickets {
            v.push(assignee(&app, *t).await);
        }
        v
    };
    let want: Vec<Value> = [1, 2, 0, 1, 2, 0]
        .iter()
        .map(|i| json!(agents[*i]))
        .collect();
    assert_eq!(got, want);

    // The timeline says who and why.
    let ev = events(&app, tickets[0]).await;
    let by_routing: Vec<&Value> = ev
        .iter()
        .filter(|e| e["kind"] == "ticket.assignee_changed")
        .collect();
    assert_eq!(by_routing.len(), 1, "{ev:?}");
    assert_eq!(
        by_routing[0]["actor"],
        json!({"kind": "system", "id": null})
    );
    let n = notes(&app, tickets[0]).await;
    assert_eq!(n.len(), 1, "{n:?}");
    assert!(
        n[0].starts_with(
            "Assigned automatically to bo@shop.test: round robin among 3 eligible in Support"
        ),
        "{n:?}"
    );

    // The same job again (a retry, a second server): nothing changes.
    let before = ev.len();
    for t in &tickets {
        app.store
            .enqueue_job(tend_store::routing::assign_job(*t, app.now()))
            .await
            .unwrap();
    }
    app.store
        .enqueue_job(tend_store::routing::drain_job(app.now()))
        .await
        .unwrap();
    drain(&worker(&app)).await;
    assert_eq!(events(&app, tickets[0]).await.len(), before);
    assert_eq!(assignee(&app, tickets[0]).await, agents[1]);
    let g_now = app.get(&format!("/api/v1/groups/{g}/routing")).await.body;
    assert_eq!(g_now["last_agent_id"], agents[0]);
}

#[tokio::test]
async fn least_loaded_picks_fewest_open_then_longest_idle() {
    let app = TestApp::spawn().await;
    let g = app.group("Billing").await;
    let mut ids = Vec::new();
    for name in ["ada", "bo", "cy"] {
        let (id, token) = app
            .agent(&format!("{name}@shop.test"), Role::Agent, &[g])
            .await;
        online(&app, &token).await;
        ids.push(id);
    }
    let (a, b, c) = (ids[0], ids[1], ids[2]);
    // Ada holds two open tickets, Bo one; a pending one does not count.
    for who in [a, a, b] {
        new_ticket(&app, g, json!({"assignee_id": who})).await;
    }
    new_ticket(&app, g, json!({"assignee_id": c, "status": "pending"})).await;
    mode(&app, g, json!({"mode": "least_loaded"})).await;
    let r = app.get(&format!("/api/v1/agents/{a}/routing")).await;
    assert_eq!(r.body["open_tickets"], 2, "{r:?}");

    let t1 = new_ticket(&app, g, json!({})).await;
    drain(&worker(&app)).await;
    assert_eq!(assignee(&app, t1).await, c, "fewest open");
    let t2 = new_ticket(&app, g, json!({})).await;
    drain(&worker(&app)).await;
    assert_eq!(
        assignee(&app, t2).await,
        b,
        "Bo and Cy hold one each; Bo was never auto-assigned"
    );
    app.clock.advance(chrono::Duration::minutes(5));
    let t3 = new_ticket(&app, g, json!({})).await;
    drain(&worker(&app)).await;
    assert_eq!(assignee(&app, t3).await, c);
    assert!(notes(&app, t3).await[0].contains("least loaded (1 open) of 3 eligible in Billing"));
}

#[tokio::test]
async fn a_full_agent_gets_nothing_until_a_ticket_is_solved() {
    let app = TestApp::spawn().await;
    let g = app.group("Support").await;
    let (a, token) = app.agent("ada@shop.test", Role::Agent, &[g]).await;
    online(&app, &token).await;
    set(&app, a, json!({"capacity": 1})).await;
    mode(&app, g, json!({"mode": "round_robin"})).await;
    let t1 = new_ticket(&app, g, json!({})).await;
    let t2 = new_ticket(&app, g, json!({})).await;
    drain(&worker(&app)).await;
    assert_eq!(assignee(&app, t1).await, a);
    assert_eq!(assignee(&app, t2).await, Value::Null, "at capacity");
    // Time passes, jobs run: still waiting.
    app.clock.advance(chrono::Duration::hours(1));
    drain(&worker(&app)).await;
    assert_eq!(assignee(&app, t2).await, Value::Null);
    // Capacity frees: the waiting ticket goes to Ada.
    let r = app
        .patch(
            &format!("/api/v1/tickets/{t1}"),
            json!({"status": "solved"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    drain(&worker(&app)).await;
    assert_eq!(assignee(&app, t2).await, a);
    // Raising the capacity lets the next one through at once.
    let t3 = new_ticket(&app, g, json!({})).await;
    drain(&worker(&app)).await;
    assert_eq!(assignee(&app, t3).await, Value::Null);
    set(&app, a, json!({"capacity": null})).await;
    drain(&worker(&app)).await;
    assert_eq!(assignee(&app, t3).await, a);
}

#[tokio::test]
async fn a_german_ticket_goes_to_a_german_speaker_and_skills_from_tags_must_match() {
    let app = TestApp::spawn().await;
    let g = app.group("Support").await;
    let (en, en_t) = app.agent("en@shop.test", Role::Agent, &[g]).await;
    let (de, de_t) = app.agent("de@shop.test", Role::Agent, &[g]).await;
    online(&app, &en_t).await;
    online(&app, &de_t).await;
    set(&app, en, json!({"skills": ["lang:en", "billing"]})).await;
    set(&app, de, json!({"skills": ["lang:de"]})).await;
    mode(&app, g, json!({"mode": "round_robin"})).await;
    let r = app
        .post(
            "/api/v1/customers",
            json!({"name": "Jörg", "emails": ["joerg@example.de"], "language": "de-AT"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    let joerg = r.body["id"].as_i64().unwrap();
    let r = app
        .post(
            "/api/v1/customers",
            json!({"name": "Jean", "emails": ["jean@example.fr"], "language": "fr"}),
        )
        .await;
    let jean = r.body["id"].as_i64().unwrap();
    // Round robin would start with `en` (lower id): the language decides.
    let german = new_ticket(&app, g, json!({"requester_id": joerg, "requester": null})).await;
    drain(&worker(&app)).await;
    assert_eq!(assignee(&app, german).await, de);
    assert!(notes(&app, german).await[0].contains("skills lang:de"));
    // Nobody speaks French: the language is ignored, and said so.
    let french = new_ticket(&app, g, json!({"requester_id": jean, "requester": null})).await;
    drain(&worker(&app)).await;
    assert!(!assignee(&app, french).await.is_null());
    assert!(notes(&app, french).await[0].contains("nobody in the group has lang:fr"));
    // A skill tag: only `en` has billing.
    let billing = new_ticket(&app, g, json!({"tags": ["skill:billing"]})).await;
    drain(&worker(&app)).await;
    assert_eq!(assignee(&app, billing).await, en);
    // Nobody has the skill: it waits.
    let vip = new_ticket(&app, g, json!({"tags": ["skill:vip"]})).await;
    drain(&worker(&app)).await;
    assert_eq!(assignee(&app, vip).await, Value::Null);
}

#[tokio::test]
async fn going_off_hands_tickets_back_and_they_are_routed_again() {
    let app = TestApp::spawn().await;
    let g = app.group("Support").await;
    let other = app.group("Sales").await;
    let (a, a_t) = app.agent("ada@shop.test", Role::Agent, &[g, other]).await;
    let (b, b_t) = app.agent("bo@shop.test", Role::Agent, &[g]).await;
    online(&app, &a_t).await;
    online(&app, &b_t).await;
    mode(
        &app,
        g,
        json!({"mode": "round_robin", "reassign_when_off": true}),
    )
    .await;
    // Sales routes too but keeps tickets of agents who go off.
    mode(&app, other, json!({"mode": "round_robin"})).await;
    let t1 = new_ticket(&app, g, json!({})).await;
    let t2 = new_ticket(&app, g, json!({})).await;
    let kept = new_ticket(&app, other, json!({})).await;
    drain(&worker(&app)).await;
    assert_eq!(assignee(&app, t1).await, a);
    assert_eq!(assignee(&app, t2).await, b);
    assert_eq!(assignee(&app, kept).await, a);

    // Away keeps tickets.
    let r = put(
        &app,
        "/api/v1/me/availability",
        &a_t,
        json!({"availability": "away"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    drain(&worker(&app)).await;
    assert_eq!(assignee(&app, t1).await, a);

    let r = put(
        &app,
        "/api/v1/me/availability",
        &a_t,
        json!({"availability": "off"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    drain(&worker(&app)).await;
    assert_eq!(assignee(&app, t1).await, b, "handed back and routed to Bo");
    assert_eq!(assignee(&app, kept).await, a, "Sales does not reassign");
    let n = notes(&app, t1).await;
    assert!(
        n.iter()
            .any(|x| x.starts_with("Unassigned automatically: ada@shop.test is off")),
        "{n:?}"
    );

    // Deactivating Bo hands his tickets back too; nobody else is online: they wait.
    let r = app
        .patch(&format!("/api/v1/agents/{b}"), json!({"active": false}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    drain(&worker(&app)).await;
    assert_eq!(assignee(&app, t1).await, Value::Null);
    assert_eq!(assignee(&app, t2).await, Value::Null);
    // Ada comes back: the waiting tickets are routed to her.
    online(&app, &a_t).await;
    drain(&worker(&app)).await;
    assert_eq!(assignee(&app, t1).await, a);
    assert_eq!(assignee(&app, t2).await, a);
}

#[tokio::test]
async fn only_admins_change_others_skills_and_groups_bad_input_is_refused_and_changes_are_audited()
{
    let app = TestApp::spawn().await;
    let g = app.group("Support").await;
    let (a, a_t) = app.agent("ada@shop.test", Role::Agent, &[g]).await;
    let (b, _) = app.agent("bo@shop.test", Role::Agent, &[g]).await;
    let (_, sup_t) = app.agent("sue@shop.test", Role::Supervisor, &[]).await;
    // An agent cannot set another's availability, nor their own skills or capacity.
    for (path, token, body) in [
        (
            format!("/api/v1/agents/{b}/routing"),
            &a_t,
            json!({"availability": "online"}),
        ),
        (
            format!("/api/v1/agents/{a}/routing"),
            &a_t,
            json!({"skills": ["billing"]}),
        ),
        (
            format!("/api/v1/agents/{a}/routing"),
            &a_t,
            json!({"capacity": 3}),
        ),
        (
            format!("/api/v1/agents/{b}/routing"),
            &sup_t,
            json!({"availability": "off"}),
        ),
        (
            format!("/api/v1/groups/{g}/routing"),
            &a_t,
            json!({"mode": "round_robin"}),
        ),
        (
            format!("/api/v1/groups/{g}/routing"),
            &sup_t,
            json!({"mode": "round_robin"}),
        ),
    ] {
        let r = put(&app, &path, token, body).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{path}: {r:?}");
    }
    let r = put(
        &app,
        &format!("/api/v1/agents/{a}/routing"),
        &a_t,
        json!({"availability": "online"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    // Anyone reads.
    let r = app
        .call(
            Method::GET,
            &format!("/api/v1/agents/{b}/routing"),
            &a_t,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(
        r.body,
        json!({"agent_id": b, "availability": "off", "skills": [], "capacity": null,
        "open_tickets": 0, "last_assigned_at": null, "updated_at": null})
    );
    let r = app
        .call(
            Method::GET,
            &format!("/api/v1/groups/{g}/routing"),
            &a_t,
            None,
        )
        .await;
    assert_eq!(r.body["mode"], "manual", "{r:?}");

    let many: Vec<String> = (0..51).map(|i| format!("s{i}")).collect();
    let agent_path = format!("/api/v1/agents/{b}/routing");
    let group_path = format!("/api/v1/groups/{g}/routing");
    for (path, body, field) in [
        (&agent_path, json!({"capacity": -1}), "capacity"),
        (&agent_path, json!({"capacity": 10001}), "capacity"),
        (&agent_path, json!({"skills": ["Bad Skill"]}), "skills"),
        (&agent_path, json!({"skills": [""]}), "skills"),
        (&agent_path, json!({"skills": many}), "skills"),
        (&agent_path, json!({"availability": "busy"}), "availability"),
        (&agent_path, json!({}), "availability"),
        (&group_path, json!({"mode": "fastest"}), "mode"),
    ] {
        let r = put(&app, path, app.admin_token(), body.clone()).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {r:?}");
        assert_eq!(r.body["field"], field, "{body}: {r:?}");
    }
    let r = put(&app, &agent_path, app.admin_token(), json!({"speed": 3})).await;
    assert!(r.status.is_client_error(), "{r:?}");
    for path in [
        "/api/v1/agents/999999/routing".to_string(),
        "/api/v1/groups/999999/routing".to_string(),
    ] {
        let r = app.get(&path).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{r:?}");
        let r = put(&app, &path, app.admin_token(), json!({"mode": "manual"})).await;
        assert!(
            r.status == StatusCode::NOT_FOUND || r.status == StatusCode::UNPROCESSABLE_ENTITY,
            "{r:?}"
        );
    }
    let r = put(
        &app,
        "/api/v1/agents/999999/routing",
        app.admin_token(),
        json!({"availability": "online"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{r:?}");
    let r = put(
        &app,
        "/api/v1/groups/999999/routing",
        app.admin_token(),
        json!({"mode": "manual"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{r:?}");

    // Admins set anything; each change is audited.
    set(
        &app,
        b,
        json!({"availability": "online", "skills": ["lang:de", "billing"], "capacity": 4}),
    )
    .await;
    mode(
        &app,
        g,
        json!({"mode": "least_loaded", "reassign_when_off": true}),
    )
    .await;
    let r = app.get(&agent_path).await;
    assert_eq!(r.body["skills"], json!(["billing", "lang:de"]));
    assert_eq!(r.body["capacity"], 4);
    let audit = app.get("/api/v1/audit-log?limit=100").await.body;
    let actions: Vec<(String, String)> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap().to_string(),
                e["target"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(
        actions.contains(&("agent.routing_changed".into(), format!("agent:{a}"))),
        "{actions:?}"
    );
    assert!(
        actions.contains(&("agent.routing_changed".into(), format!("agent:{b}"))),
        "{actions:?}"
    );
    assert!(
        actions.contains(&("group.routing_changed".into(), format!("group:{g}"))),
        "{actions:?}"
    );
    // The OpenAPI document lists the routes.
    let doc = app.get("/api/v1/openapi.json").await.body;
    for p in [
        "/agents/{id}/routing",
        "/me/availability",
        "/groups/{id}/routing",
    ] {
        assert!(doc["paths"][p].is_object(), "{p}");
    }
}

#[tokio::test]
async fn two_servers_racing_assign_once_and_respect_capacity() {
    use tend_store::routing::{Assign, Assigned};
    let app = TestApp::spawn().await;
    let g = app.group("Support").await;
    let (a, a_t) = app.agent("ada@shop.test", Role::Agent, &[g]).await;
    let (b, b_t) = app.agent("bo@shop.test", Role::Agent, &[g]).await;
    online(&app, &a_t).await;
    online(&app, &b_t).await;
    set(&app, a, json!({"capacity": 1})).await;
    mode(&app, g, json!({"mode": "least_loaded"})).await;
    let t1 = new_ticket(&app, g, json!({})).await;
    let t2 = new_ticket(&app, g, json!({})).await;
    let now = app.now();
    let assign = |ticket: i64, agent: i64| {
        let store = app.store.clone();
        async move {
            store
                .routing_assign(
                    Assign {
                        ticket_id: ticket,
                        group_id: g,
                        agent_id: agent,
                        cursor: None,
                        note: "race".into(),
                        actor: tend_core::Actor::SYSTEM,
                        manual_ok: false,
                    },
                    now,
                )
                .await
                .unwrap()
        }
    };
    // One ticket, two agents at once: exactly one assignment.
    let (x, y) = tokio::join!(assign(t1, a), assign(t1, b));
    let won = [&x, &y]
        .iter()
        .filter(|r| matches!(r, Assigned::Assigned(_)))
        .count();
    assert_eq!(won, 1, "{x:?} {y:?}");
    assert!(matches!(x, Assigned::Stale) || matches!(y, Assigned::Stale));
    // Ada (capacity 1) offered two tickets at once: she gets at most one.
    let t3 = new_ticket(&app, g, json!({})).await;
    let holder = assignee(&app, t1).await;
    let (x, y) = tokio::join!(assign(t2, a), assign(t3, a));
    let got = [&x, &y]
        .iter()
        .filter(|r| matches!(r, Assigned::Assigned(_)))
        .count();
    let open_before = if holder == json!(a) { 1 } else { 0 };
    assert_eq!(got, 1 - open_before, "{x:?} {y:?}");
    let r = app.get(&format!("/api/v1/agents/{a}/routing")).await;
    assert_eq!(r.body["open_tickets"], 1, "{r:?}");
    // A round-robin cursor that moved makes the assignment choose again.
    mode(&app, g, json!({"mode": "round_robin"})).await;
    let t4 = new_ticket(&app, g, json!({})).await;
    let r = app
        .store
        .routing_assign(
            Assign {
                ticket_id: t4,
                group_id: g,
                agent_id: b,
                cursor: Some(Some(12345)),
                note: "stale cursor".into(),
                actor: tend_core::Actor::SYSTEM,
                manual_ok: false,
            },
            now,
        )
        .await
        .unwrap();
    assert_eq!(r, Assigned::CursorMoved);
}

#[tokio::test]
async fn the_header_switch_sets_my_availability_and_admins_manage_routing_in_the_workspace() {
    let app = TestApp::spawn().await;
    let g = app.group("Support").await;
    for (email, role) in [("lena@shop.test", "agent"), ("boss@shop.test", "admin")] {
        let r = app.post("/api/v1/agents", json!({"email": email, "name": email, "role": role, "password": "correct horse battery"})).await;
        assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    }
    let lena = app
        .store
        .agent_by_email("lena@shop.test")
        .await
        .unwrap()
        .unwrap()
        .id;
    let cookie = crate::ui::sign_in(&app, "lena@shop.test", "correct horse battery").await;
    let r = app.get_with_cookie("/views/mine", &cookie).await;
    let html = String::from_utf8_lossy(&r.raw).into_owned();
    assert!(html.contains("action=\"/me/availability\""), "{html}");
    assert!(html.contains("<option value=\"off\" selected>"), "{html}");
    assert!(!html.contains("/admin/routing"), "agents see no admin link");
    let csrf = csrf_of(&html);
    // Without a valid CSRF token nothing changes.
    let r = app
        .post_form(
            "/me/availability",
            form(&[("csrf", "x"), ("availability", "online")]),
            Some(&cookie),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = app
        .raw(
            Method::POST,
            "/me/availability",
            None,
            Some("application/x-www-form-urlencoded"),
            form(&[("csrf", &csrf), ("availability", "online")]),
            &[
                ("cookie", &cookie),
                ("referer", "http://tend.test/tickets/7"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{r:?}");
    assert_eq!(r.headers.get("location").unwrap(), "/tickets/7");
    let r = app.get(&format!("/api/v1/agents/{lena}/routing")).await;
    assert_eq!(r.body["availability"], "online");
    let html = String::from_utf8_lossy(&app.get_with_cookie("/views/mine", &cookie).await.raw)
        .into_owned();
    assert!(html.contains("<option value=\"online\" selected>"));
    // The admin page is for admins.
    let r = app.get_with_cookie("/admin/routing", &cookie).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    let boss = crate::ui::sign_in(&app, "boss@shop.test", "correct horse battery").await;
    let r = app.get_with_cookie("/admin/routing", &boss).await;
    assert_eq!(r.status, StatusCode::OK);
    let html = String::from_utf8_lossy(&r.raw).into_owned();
    assert!(
        html.contains("Support") && html.contains("lena@shop.test"),
        "{html}"
    );
    assert!(html.contains("for=\"skills-"), "labelled inputs");
    let csrf = csrf_of(&html);
    let r = app
        .post_form(
            &format!("/admin/routing/groups/{g}"),
            form(&[
                ("csrf", &csrf),
                ("mode", "least_loaded"),
                ("reassign_when_off", "1"),
            ]),
            Some(&boss),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{r:?}");
    let r = app
        .post_form(
            &format!("/admin/routing/agents/{lena}"),
            form(&[
                ("csrf", &csrf),
                ("availability", "away"),
                ("skills", "lang:de, billing"),
                ("capacity", "3"),
            ]),
            Some(&boss),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{r:?}");
    let r = app.get(&format!("/api/v1/agents/{lena}/routing")).await;
    assert_eq!(r.body["skills"], json!(["billing", "lang:de"]));
    assert_eq!(r.body["capacity"], 3);
    assert_eq!(r.body["availability"], "away");
    let r = app.get(&format!("/api/v1/groups/{g}/routing")).await;
    assert_eq!(r.body["mode"], "least_loaded");
    assert_eq!(r.body["reassign_when_off"], true);
    // A bad value comes back on the page, not as an error page.
    let r = app
        .post_form(
            &format!("/admin/routing/agents/{lena}"),
            form(&[
                ("csrf", &csrf),
                ("availability", "away"),
                ("skills", "Bad!"),
                ("capacity", ""),
            ]),
            Some(&boss),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(String::from_utf8_lossy(&r.raw).contains("is not a skill"));
}
