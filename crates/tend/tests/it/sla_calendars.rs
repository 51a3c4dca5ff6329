//! Several business calendars (issue 5): group/policy calendars, old configurations, the bulk
//! recompute against the per-ticket path, and the /admin/sla page.

use crate::harness::*;
use axum::http::{Method, StatusCode};
use serde_json::{json, Value};
use tend_core::ticket::Patch;
use tend_core::{Actor, Priority, Role, Status, Viewer};
use tend_store::NewMessage;

fn weekdays(zone: &str, start: &str, end: &str) -> Value {
    let hours: Vec<Value> = ["mon", "tue", "wed", "thu", "fri"]
        .iter()
        .map(|d| json!({"day": d, "start": start, "end": end}))
        .collect();
    json!({"time_zone": zone, "hours": hours})
}

/// Default Berlin 09–17; `tokyo` (09–18 JST) for `group`; urgent tickets pinned to default.
fn config(group: i64) -> Value {
    json!({
        "calendar": weekdays("Europe/Berlin", "09:00", "17:00"),
        "calendars": [
            {"name": "tokyo", "spec": weekdays("Asia/Tokyo", "09:00", "18:00"), "group_ids": [group]},
            {"name": "new-york", "spec": weekdays("America/New_York", "08:00", "20:00")}
        ],
        "policies": [
            {"name": "Urgent", "calendar": "default", "conditions": {"priority": ["urgent"]},
             "targets": [{"metric": "first_reply", "minutes": 30}]},
            {"name": "Low", "calendar": "new-york", "conditions": {"priority": ["low"]},
             "targets": [{"metric": "first_reply", "minutes": 240}, {"metric": "resolution", "minutes": 2400, "business_hours": false}]},
            {"name": "Standard", "targets": [{"metric": "first_reply", "minutes": 120},
             {"metric": "next_reply", "minutes": 240}, {"metric": "periodic_update", "minutes": 600},
             {"metric": "resolution", "minutes": 960}]}
        ],
        "warn_before_minutes": 30
    })
}

async fn put(app: &TestApp, cfg: Value) -> Resp {
    app.call(Method::PUT, "/api/v1/sla", app.admin_token(), Some(cfg))
        .await
}

#[tokio::test]
async fn group_calendar_and_default_calendar_give_their_own_due_times() {
    let app = TestApp::spawn().await;
    let g = app.group("Japan").await;
    let r = put(&app, config(g)).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(
        app.get("/api/v1/sla").await.body["calendars"][0]["name"],
        "tokyo"
    );

    // Mon 2 Mar 2026 09:00 UTC = 10:00 Berlin = 18:00 Tokyo (closed).
    let plain = app.ticket(json!({"subject": "Help", "requester": {"email": "c@example.com"}, "comment": {"body": "hi"}})).await;
    let japan = app.ticket(json!({"subject": "Help", "group_id": g, "requester": {"email": "d@example.com"}, "comment": {"body": "hi"}})).await;
    let urgent = app.ticket(json!({"subject": "Now", "group_id": g, "priority": "urgent", "requester": {"email": "e@example.com"}, "comment": {"body": "hi"}})).await;
    let sla = |t: &Value| format!("/api/v1/tickets/{}/sla", t["id"]);

    let s = app.get(&sla(&plain)).await.body;
    assert_eq!(s["calendar"], "default", "{s}");
    assert_eq!(s["calendar_by"], "default");
    // Berlin: 10:00 + 2 business hours = 12:00 CET = 11:00 UTC.
    assert_eq!(s["targets"][0]["due_at"], "2026-03-02T11:00:00Z");

    let s = app.get(&sla(&japan)).await.body;
    assert_eq!(s["calendar"], "tokyo", "{s}");
    assert_eq!(s["calendar_by"], "group");
    // Tokyo opens Tue 09:00 JST = Mon 24:00 UTC; + 2 h = Tue 02:00 UTC.
    assert_eq!(s["targets"][0]["due_at"], "2026-03-03T02:00:00Z");
    let why = s["targets"][0]["explanation"].as_str().unwrap();
    assert!(
        why.contains("(calendar tokyo)") && why.contains("Asia/Tokyo"),
        "{why}"
    );

    // The urgent policy names the default calendar: it wins over the group's.
    let s = app.get(&sla(&urgent)).await.body;
    assert_eq!(
        (s["policy"].as_str(), s["calendar"].as_str()),
        (Some("Urgent"), Some("default"))
    );
    assert_eq!(s["calendar_by"], "policy");
    assert_eq!(s["targets"][0]["due_at"], "2026-03-02T09:30:00Z");

    // Moving the ticket out of the group moves it to the default calendar.
    app.patch(
        &format!("/api/v1/tickets/{}", japan["id"]),
        json!({"group_id": null}),
    )
    .await;
    let s = app.get(&sla(&japan)).await.body;
    assert_eq!(s["calendar"], "default");
    assert_eq!(s["targets"][0]["due_at"], "2026-03-02T11:00:00Z");
}

#[tokio::test]
async fn calendar_mistakes_are_refused_naming_the_field() {
    let app = TestApp::spawn().await;
    let g = app.group("Japan").await;
    let cases: Vec<(Value, &str)> = vec![
        (
            {
                let mut c = config(g);
                c["policies"][1]["calendar"] = json!("paris");
                c
            },
            "policies[1].calendar",
        ),
        (
            {
                let mut c = config(g);
                c["calendars"][1]["name"] = json!("Tokyo");
                c
            },
            "calendars[1].name",
        ),
        (
            {
                let mut c = config(g);
                c["calendars"][1]["group_ids"] = json!([g]);
                c
            },
            "calendars[1].group_ids",
        ),
        (
            {
                let mut c = config(g);
                c["calendars"][0]["spec"]["time_zone"] = json!("Asia/Atlantis");
                c
            },
            "calendars[0].spec.time_zone",
        ),
        (
            {
                let mut c = config(g);
                c["calendars"] = Value::Array(
                (0..51)
                    .map(|i| json!({"name": format!("c{i}"), "spec": weekdays("UTC", "09:00", "17:00")}))
                    .collect(),
            );
                c["policies"][1]["calendar"] = json!("c1");
                c
            },
            "calendars",
        ),
    ];
    for (cfg, field) in cases {
        let r = put(&app, cfg).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{field}: {r:?}");
        assert_eq!(r.body["field"], field, "{r:?}");
    }
    assert_eq!(app.get("/api/v1/sla").await.body["calendar"], Value::Null);
}

#[tokio::test]
async fn a_configuration_from_before_named_calendars_still_loads() {
    let app = TestApp::spawn().await;
    // Stored as the single-calendar version wrote it (and the old escalation flags).
    let old = json!({
        "calendar": weekdays("Europe/Berlin", "09:00", "17:00"),
        "policies": [{"name": "Standard", "targets": [{"metric": "first_reply", "minutes": 120}]}],
        "warn_before_minutes": 30,
        "escalation": {"raise_priority": true, "notify_assignee": false}
    });
    app.store
        .put_setting("sla", old.clone(), Actor::SYSTEM, app.now())
        .await
        .unwrap();
    let t = app.ticket(json!({"subject": "Help", "requester": {"email": "c@example.com"}, "comment": {"body": "hi"}})).await;
    let s = app
        .get(&format!("/api/v1/tickets/{}/sla", t["id"]))
        .await
        .body;
    assert_eq!(s["policy"], "Standard", "{s}");
    assert_eq!(s["calendar"], "default");
    assert_eq!(s["targets"][0]["due_at"], "2026-03-02T11:00:00Z");
    let why = s["targets"][0]["explanation"].as_str().unwrap();
    assert!(!why.contains("(calendar"), "one calendar: not named: {why}");
    // The recompute pass and a save of the same document work too.
    let n = tend_web::api::sla::recompute(&*app.store, app.now(), &json!({"after_id": 0}))
        .await
        .unwrap();
    assert_eq!(n, 1);
    let id = t["id"].as_i64().unwrap();
    let v = Viewer {
        agent_id: app.admin.0,
        role: Role::Admin,
        group_ids: vec![],
    };
    assert_eq!(
        app.store
            .get_ticket(id, &v)
            .await
            .unwrap()
            .sla_due_at
            .map(|d| d.to_rfc3339()),
        Some("2026-03-02T11:00:00+00:00".to_string())
    );
    assert_eq!(put(&app, old).await.status, StatusCode::OK);
}

/// A small deterministic generator.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// The same ~varied history on any app: tickets in and out of groups, priorities, replies,
/// customer messages, internal notes, pauses, solves and reopens over a few days.
async fn varied_history(app: &TestApp, tickets: usize) -> (i64, Vec<i64>) {
    let g = app.group("Japan").await;
    let other = app.group("Billing").await;
    let admin = Viewer {
        agent_id: app.admin.0,
        role: Role::Admin,
        group_ids: vec![],
    };
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let mut ids = Vec::new();
    let mut requesters = Vec::new();
    for i in 0..tickets {
        app.clock
            .advance(chrono::Duration::minutes(rng.below(20) as i64 + 1));
        let group = [Value::Null, json!(g), json!(other)][rng.below(3) as usize].clone();
        let prio = ["low", "normal", "normal", "high", "urgent"][rng.below(5) as usize];
        let t = app
            .ticket(
                json!({"subject": format!("T{i}"), "group_id": group, "priority": prio,
            "requester": {"email": format!("c{}@example.com", i % 40)}, "comment": {"body": "hi"}}),
            )
            .await;
        ids.push(t["id"].as_i64().unwrap());
        requesters.push(t["requester_id"].as_i64().unwrap());
    }
    for _ in 0..tickets * 3 {
        app.clock
            .advance(chrono::Duration::minutes(rng.below(10) as i64 + 1));
        let k = rng.below(ids.len() as u64) as usize;
        let id = ids[k];
        let msg = |public: bool| NewMessage {
            time_spent_seconds: None,
            public,
            body_text: "x".into(),
            body_html: "<p>x</p>".into(),
            attachments: vec![],
            mail: None,
            notify: false,
        };
        let now = app.now();
        let r = match rng.below(9) {
            0 | 1 => app
                .store
                .add_message(id, msg(true), &admin, Actor::agent(app.admin.0), now)
                .await
                .map(|_| ()),
            2 | 3 => app
                .store
                .add_message(id, msg(true), &admin, Actor::customer(requesters[k]), now)
                .await
                .map(|_| ()),
            4 => app
                .store
                .add_message(id, msg(false), &admin, Actor::agent(app.admin.0), now)
                .await
                .map(|_| ()),
            5 | 6 => {
                let status = [
                    Status::Open,
                    Status::Pending,
                    Status::OnHold,
                    Status::Solved,
                ][rng.below(4) as usize];
                let p = Patch {
                    status: Some(status),
                    ..Default::default()
                };
                app.store
                    .update_ticket(id, p, &admin, Actor::agent(app.admin.0), now)
                    .await
                    .map(|_| ())
            }
            7 => {
                let p = Patch {
                    priority: Some(
                        [
                            Priority::Low,
                            Priority::Normal,
                            Priority::High,
                            Priority::Urgent,
                        ][rng.below(4) as usize],
                    ),
                    ..Default::default()
                };
                app.store
                    .update_ticket(id, p, &admin, Actor::agent(app.admin.0), now)
                    .await
                    .map(|_| ())
            }
            _ => {
                let p = Patch {
                    group_id: Some([None, Some(g), Some(other)][rng.below(3) as usize]),
                    ..Default::default()
                };
                app.store
                    .update_ticket(id, p, &admin, Actor::agent(app.admin.0), now)
                    .await
                    .map(|_| ())
            }
        };
        r.unwrap();
    }
    (g, ids)
}

/// Each ticket's stored due time and next check.
async fn outcome(app: &TestApp, ids: &[i64]) -> Vec<(i64, Option<String>, Option<String>)> {
    let admin = Viewer {
        agent_id: app.admin.0,
        role: Role::Admin,
        group_ids: vec![],
    };
    let mut out = Vec::new();
    for &id in ids {
        let t = app.store.get_ticket(id, &admin).await.unwrap();
        let check = app
            .store
            .sla_check_at(id)
            .await
            .unwrap()
            .map(|t| t.to_rfc3339());
        out.push((id, t.sla_due_at.map(|d| d.to_rfc3339()), check));
    }
    out
}

#[tokio::test]
async fn bulk_recompute_gives_what_the_per_ticket_check_gives() {
    const N: usize = 200;
    let bulk = TestApp::spawn().await;
    let per = TestApp::spawn().await;
    let (g1, ids) = varied_history(&bulk, N).await;
    let (g2, ids2) = varied_history(&per, N).await;
    assert_eq!((g1, &ids), (g2, &ids2), "the same history on both");
    // The configuration arrives after the history (as after an import); the new calendar
    // then applies to every open ticket.
    for app in [&bulk, &per] {
        let r = put(app, config(g1)).await;
        assert_eq!(r.status, StatusCode::OK, "{r:?}");
        app.clock.advance(chrono::Duration::minutes(7));
    }
    let n = tend_web::api::sla::recompute(&*bulk.store, bulk.now(), &json!({"after_id": 0}))
        .await
        .unwrap();
    let mut after = 0;
    while let Some(last) = tend_web::api::sla::recompute_per_ticket(
        &*per.store,
        per.now(),
        &json!({"after_id": after}),
    )
    .await
    .unwrap()
    {
        after = last;
    }
    let a = outcome(&bulk, &ids).await;
    let b = outcome(&per, &ids).await;
    let open = a.iter().filter(|x| x.1.is_some()).count();
    assert!(
        n > N / 4 && open > N / 5,
        "a varied set: {n} open, {open} with a due time"
    );
    let checks = a.iter().filter(|x| x.2.is_some()).count();
    assert!(checks > N / 10, "{checks} tickets with a check ahead");
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x, y, "ticket {}", x.0);
    }

    // And the page reads only what the clock needs, in order.
    let page = bulk.store.sla_clock_page(0, 10).await.unwrap();
    assert!(page.len() <= 10 && page.windows(2).all(|w| w[0].id < w[1].id));
    assert!(page.iter().all(|t| matches!(
        t.events.first(),
        Some((_, tend_core::sla::ClockStep::Created(_)))
    )));
}

#[tokio::test]
async fn the_admin_page_saves_and_refuses_a_bad_calendar_with_its_line() {
    let app = TestApp::spawn().await;
    let g = app.group("Japan").await;
    let cookie = format!("tend_session={}", app.admin_token());
    let r = app.get_with_cookie("/admin/sla", &cookie).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let html = String::from_utf8_lossy(&r.raw).into_owned();
    assert!(html.contains("<label for=\"cal-default\">") && !html.contains("<script>"));
    let csrf = csrf_of(&html);
    let berlin = "zone Europe/Berlin\nmon-fri 09:00-17:00\n";
    let group = g.to_string();
    let base = |default: &str, named: &str| -> Vec<(String, String)> {
        [
            ("csrf", csrf.as_str()),
            ("calendar", default),
            ("c0.name", "tokyo"),
            ("c0.text", named),
            ("c0.group", group.as_str()),
            ("p0.name", "Standard"),
            ("p0.first_reply.minutes", "120"),
            ("p0.first_reply.time", "business"),
            ("p0.resolution.minutes", "960"),
            ("p0.resolution.time", "calendar"),
            ("p0.resolution.pause", "pending"),
            ("warn", "30"),
            ("action", "save"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    };
    let post = |pairs: Vec<(String, String)>| {
        let body: Vec<(&str, &str)> = pairs
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        form(&body)
    };
    // An overlapping shift on line 3 of the named calendar: refused, nothing stored.
    let bad = base(
        berlin,
        "zone Asia/Tokyo\nmon-fri 09:00-18:00\nmon 17:00-19:00\n",
    );
    let r = app.post_form("/admin/sla", post(bad), Some(&cookie)).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let html = String::from_utf8_lossy(&r.raw).into_owned();
    assert!(html.contains("id=\"c0-error\">line 3:"), "{html}");
    assert!(html.contains("mon 17:00-19:00"), "the text as typed stays");
    // A line that does not parse, in the default calendar.
    let bad = base(
        "zone Europe/Berlin\nmonday-ish 9-5\n",
        "zone Asia/Tokyo\nmon-fri 09:00-18:00\n",
    );
    let r = app.post_form("/admin/sla", post(bad), Some(&cookie)).await;
    let html = String::from_utf8_lossy(&r.raw).into_owned();
    assert!(html.contains("id=\"cal-default-error\">line 2:"), "{html}");
    assert_eq!(app.get("/api/v1/sla").await.body["calendar"], Value::Null);
    // Without the CSRF token: refused.
    let mut no_csrf = base(berlin, "zone Asia/Tokyo\nmon-fri 09:00-18:00\n");
    no_csrf[0].1 = "x".repeat(64);
    let r = app
        .post_form("/admin/sla", post(no_csrf), Some(&cookie))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    // A good one saves (through the API's checks), is audited and is what the API serves.
    let good = base(
        berlin,
        "zone Asia/Tokyo\nmon-fri 09:00-18:00\nholiday 2026-03-20 Vernal Equinox\n",
    );
    let r = app
        .post_form("/admin/sla", post(good.clone()), Some(&cookie))
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{r:?}");
    let cfg = app.get("/api/v1/sla").await.body;
    assert_eq!(cfg["calendars"][0]["name"], "tokyo", "{cfg}");
    assert_eq!(cfg["calendars"][0]["group_ids"], json!([g]));
    assert_eq!(
        cfg["calendars"][0]["spec"]["holidays"][0]["date"],
        "2026-03-20"
    );
    assert_eq!(cfg["policies"][0]["targets"][1]["business_hours"], false);
    assert_eq!(
        cfg["policies"][0]["targets"][1]["pause_on"],
        json!(["pending"])
    );
    assert!(
        cfg["policies"][0]["targets"][0].get("pause_on").is_none(),
        "{cfg}"
    );
    let audit = app.get("/api/v1/audit-log?limit=20").await.body.to_string();
    assert!(audit.contains("setting.changed"), "{audit}");
    let html =
        String::from_utf8_lossy(&app.get_with_cookie("/admin/sla", &cookie).await.raw).into_owned();
    assert!(
        html.contains("holiday 2026-03-20 Vernal Equinox"),
        "shown in the line format"
    );

    // The preview evaluates the form's settings for a ticket without saving them.
    let t = app.ticket(json!({"subject": "Help", "group_id": g, "requester": {"email": "c@example.com"}, "comment": {"body": "hi"}})).await;
    let mut preview = base(berlin, "zone Asia/Tokyo\nmon-fri 10:00-18:00\n");
    preview.retain(|(k, _)| k != "action");
    preview.push(("action".into(), "preview".into()));
    preview.push(("ticket".into(), t["id"].to_string()));
    let r = app
        .post_form("/admin/sla", post(preview), Some(&cookie))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let html = String::from_utf8_lossy(&r.raw).into_owned();
    assert!(html.contains("id=\"sla-preview\""), "{html}");
    assert!(
        html.contains("calendar <strong>tokyo (by group)</strong>"),
        "{html}"
    );
    // Tokyo opens Tue 10:00 JST = Tue 01:00 UTC; + 2 h = 03:00 UTC = 12:00 JST.
    assert!(html.contains("due Tue 03 Mar 12:00 Asia/Tokyo"), "{html}");
    assert!(
        app.get("/api/v1/sla").await.body["calendars"][0]["spec"]["hours"][0]["start"] == "09:00"
    );

    // Agents do not get the page.
    let (_, agent) = app.agent("a@shop.test", Role::Agent, &[]).await;
    let r = app
        .get_with_cookie("/admin/sla", &format!("tend_session={agent}"))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}
