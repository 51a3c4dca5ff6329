//! Automatic assignment (issue 5; migration 0021): settings rows, the per-write scheduling
//! hook, and the compare-and-set assignment and release writes. See docs/routing.md.
//!
//! Concurrency: an assignment locks the ticket row (as every ticket writer does), then the
//! agent's routing row, so two servers assigning to one agent count their open tickets one
//! after the other (capacity holds); the round-robin cursor moves by compare-and-set.

use crate::admin::audit;
use crate::db::{execute, from_json, query, query_one, query_opt, to_json, us, DbExt};
use crate::tickets::{enqueue_webhooks, insert_events, insert_message, load_ticket, save_ticket};
use crate::PgStore;
use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use serde_json::json;
use tend_core::routing::{releases, routable, Availability, Candidate, Mode};
use tend_core::ticket::{apply, diff, Patch};
use tend_core::{Actor, Change, Ticket};
use tend_store::routing::*;
use tend_store::*;
use tokio_postgres::Row;

type Now = DateTime<Utc>;

fn availability(s: Option<String>) -> Availability {
    s.and_then(|s| Availability::parse(&s).ok())
        .unwrap_or_default()
}

fn mode(s: Option<String>) -> Mode {
    s.and_then(|s| Mode::parse(&s).ok()).unwrap_or_default()
}

fn skills(v: Option<serde_json::Value>) -> Result<Vec<String>> {
    match v {
        Some(v) => from_json(v),
        None => Ok(Vec::new()),
    }
}

const AGENT_SQL: &str =
    "SELECT a.id, r.availability, r.skills, r.capacity, r.last_assigned_at, r.updated_at, \
     (SELECT count(*) FROM tickets t WHERE t.assignee_id = a.id AND t.status IN ('new','open')) \
     FROM agents a LEFT JOIN agent_routing r ON r.agent_id = a.id";

fn agent_row(r: &Row) -> Result<AgentRouting> {
    Ok(AgentRouting {
        agent_id: r.get(0),
        availability: availability(r.get(1)),
        skills: skills(r.get(2))?,
        capacity: r.get(3),
        last_assigned_at: r.get(4),
        updated_at: r.get(5),
        open_tickets: r.get(6),
    })
}

async fn load_agent<C: GenericClient>(c: &C, id: i64) -> Result<AgentRouting> {
    match query_opt(c, &format!("{AGENT_SQL} WHERE a.id = $1"), &[&id]).await? {
        Some(r) => agent_row(&r),
        None => Err(StoreError::NotFound("agent")),
    }
}

const GROUP_SQL: &str = "SELECT g.id, r.mode, r.reassign_when_off, r.last_agent_id, r.updated_at \
     FROM groups g LEFT JOIN group_routing r ON r.group_id = g.id";

fn group_row(r: &Row) -> GroupRouting {
    GroupRouting {
        group_id: r.get(0),
        mode: mode(r.get(1)),
        reassign_when_off: r.get::<_, Option<bool>>(2).unwrap_or(false),
        last_agent_id: r.get(3),
        updated_at: r.get(4),
    }
}

async fn load_group<C: GenericClient>(c: &C, id: i64) -> Result<GroupRouting> {
    match query_opt(c, &format!("{GROUP_SQL} WHERE g.id = $1"), &[&id]).await? {
        Some(r) => Ok(group_row(&r)),
        None => Err(StoreError::NotFound("group")),
    }
}

async fn any_routed<C: GenericClient>(c: &C) -> Result<bool> {
    Ok(query_opt(
        c,
        "SELECT 1 FROM group_routing WHERE mode <> 'manual' LIMIT 1",
        &[],
    )
    .await?
    .is_some())
}

async fn schedule_drain<C: GenericClient>(c: &C, now: Now) -> Result<()> {
    crate::jobs::schedule(c, DRAIN_KEY, &drain_job(now)).await
}

/// Called from `schedule_sla` (every ticket write, in its transaction): queues the ticket's
/// `routing.assign` job when it waits for routing, and a drain when this write changed a
/// status, assignee or group (capacity may have freed). One cheap read when no group routes.
pub(crate) async fn schedule_routing<C: GenericClient>(c: &C, id: i64, now: Now) -> Result<()> {
    if !any_routed(c).await? {
        return Ok(());
    }
    let Some(r) = query_opt(
        c,
        "SELECT t.status, t.assignee_id, t.group_id, r.mode FROM tickets t \
         LEFT JOIN group_routing r ON r.group_id = t.group_id WHERE t.id = $1",
        &[&id],
    )
    .await?
    else {
        return Ok(());
    };
    let status: String = r.get(0);
    let waits = status
        .parse()
        .is_ok_and(|s| routable(s, r.get(1), r.get(2)))
        && mode(r.get(3)) != Mode::Manual;
    if waits {
        crate::jobs::schedule(c, &assign_job_key(id), &assign_job(id, now)).await?;
    }
    let changed = query_opt(
        c,
        "SELECT 1 FROM (SELECT kind, at FROM events WHERE ticket_id = $1 ORDER BY seq DESC LIMIT 16) e \
         WHERE e.at = $2 AND e.kind IN ('ticket.status_changed','ticket.assignee_changed','ticket.group_changed') LIMIT 1",
        &[&id, &us(now)],
    )
    .await?
    .is_some();
    if changed {
        schedule_drain(c, now).await?;
    }
    Ok(())
}

/// Called when an agent is deactivated (in that write): their tickets go back to routing.
pub(crate) async fn agent_deactivated<C: GenericClient>(
    c: &C,
    agent_id: i64,
    now: Now,
) -> Result<()> {
    if any_routed(c).await? {
        crate::jobs::schedule(c, &release_job_key(agent_id), &release_job(agent_id, now)).await?;
    }
    Ok(())
}

/// The ordinary update steps (events, projection, webhooks, scheduled jobs) for an assignee
/// change by `by` (the system, or a trigger), on a ticket already locked, plus its internal note.
async fn set_assignee<C: GenericClient>(
    c: &C,
    mut t: Ticket,
    to: Option<i64>,
    note: &str,
    by: Actor,
    now: Now,
) -> Result<Ticket> {
    let patch = Patch {
        assignee_id: Some(to),
        ..Default::default()
    };
    let mut events: Vec<(Actor, Change, Now)> = diff(&t, &patch)
        .into_iter()
        .map(|ch| (by, ch, now))
        .collect();
    let msg = insert_message(
        c,
        t.id,
        by,
        &NewMessage {
            time_spent_seconds: None,
            public: false,
            body_text: note.to_string(),
            body_html: tend_core::html::text_to_html(note),
            attachments: vec![],
            mail: None,
            notify: false,
        },
        now,
    )
    .await?;
    events.push((
        by,
        Change::MessageAdded {
            time_spent_seconds: None,
            message_id: msg.id,
            public: false,
        },
        now,
    ));
    let seqs = insert_events(c, t.id, &events).await?;
    for ((_, change, at), seq) in events.iter().zip(&seqs) {
        apply(&mut t, change, *seq, *at);
    }
    save_ticket(c, &t).await?;
    let kinds: Vec<(i64, &str)> = seqs
        .iter()
        .zip(&events)
        .map(|(seq, (_, ch, _))| (*seq, ch.kind()))
        .collect();
    enqueue_webhooks(c, &kinds, now).await?;
    crate::tickets::schedule_sla(c, t.id, now).await?;
    Ok(t)
}

async fn assign_tx<C: GenericClient>(c: &C, a: &Assign, now: Now) -> Result<Assigned> {
    let t = match load_ticket(c, a.ticket_id, true).await {
        Ok(t) => t,
        Err(StoreError::NotFound(_)) => return Ok(Assigned::Stale),
        Err(e) => return Err(e),
    };
    if !routable(t.status, t.assignee_id, t.group_id) || t.group_id != Some(a.group_id) {
        return Ok(Assigned::Stale);
    }
    if a.cursor.is_some() {
        // One cursor move at a time: the read below then sees the latest.
        execute(
            c,
            "SELECT 1 FROM group_routing WHERE group_id = $1 FOR UPDATE",
            &[&a.group_id],
        )
        .await?;
    }
    let g = load_group(c, a.group_id).await?;
    if g.mode == Mode::Manual && !a.manual_ok {
        return Ok(Assigned::Stale);
    }
    if let Some(expected) = a.cursor {
        if g.last_agent_id != expected {
            return Ok(Assigned::CursorMoved);
        }
    }
    // The agent's routing row lock serialises assignments to them: the count below then
    // sees every earlier one.
    let Some(r) = query_opt(
        c,
        "SELECT r.availability, r.capacity, ag.active, \
         EXISTS(SELECT 1 FROM group_members m WHERE m.agent_id = ag.id AND m.group_id = $2) \
         FROM agent_routing r JOIN agents ag ON ag.id = r.agent_id WHERE r.agent_id = $1 FOR UPDATE OF r",
        &[&a.agent_id, &a.group_id],
    )
    .await?
    else {
        return Ok(Assigned::AgentBusy);
    };
    let (av, capacity, active, member): (String, Option<i64>, bool, bool) =
        (r.get(0), r.get(1), r.get(2), r.get(3));
    if av != "online" || !active || !member {
        return Ok(Assigned::AgentBusy);
    }
    if let Some(cap) = capacity {
        let open: i64 = query_one(
            c,
            "SELECT count(*) FROM tickets WHERE assignee_id = $1 AND status IN ('new','open')",
            &[&a.agent_id],
        )
        .await?
        .get(0);
        if open >= cap {
            return Ok(Assigned::AgentBusy);
        }
    }
    let now = us(now);
    let t = set_assignee(c, t, Some(a.agent_id), &a.note, a.actor, now).await?;
    execute(
        c,
        "UPDATE agent_routing SET last_assigned_at = $2 WHERE agent_id = $1",
        &[&a.agent_id, &now],
    )
    .await?;
    if a.cursor.is_some() {
        execute(
            c,
            "UPDATE group_routing SET last_agent_id = $2 WHERE group_id = $1",
            &[&a.group_id, &a.agent_id],
        )
        .await?;
    }
    Ok(Assigned::Assigned(Box::new(t)))
}

async fn release_tx<C: GenericClient>(
    c: &C,
    agent_id: i64,
    limit: i64,
    now: Now,
) -> Result<Released> {
    let Some(r) = query_opt(
        c,
        "SELECT a.active, r.availability, a.name FROM agents a \
         LEFT JOIN agent_routing r ON r.agent_id = a.id WHERE a.id = $1",
        &[&agent_id],
    )
    .await?
    else {
        return Ok(Released::default());
    };
    let (active, av, name): (bool, Option<String>, String) = (r.get(0), r.get(1), r.get(2));
    if !releases(availability(av), active) {
        return Ok(Released::default());
    }
    let ids: Vec<i64> = query(
        c,
        "SELECT t.id FROM tickets t JOIN group_routing g ON g.group_id = t.group_id \
         WHERE t.assignee_id = $1 AND t.status IN ('new','open') AND g.reassign_when_off AND g.mode <> 'manual' \
         ORDER BY t.id LIMIT $2",
        &[&agent_id, &(limit + 1)],
    )
    .await?
    .iter()
    .map(|r| r.get(0))
    .collect();
    let more = ids.len() as i64 > limit;
    let why = if active { "is off" } else { "was deactivated" };
    let text = format!("Unassigned automatically: {name} {why}; the ticket goes back to routing.");
    let now = us(now);
    let mut released = 0;
    for id in ids.into_iter().take(limit.max(0) as usize) {
        let t = load_ticket(c, id, true).await?;
        // Checked again under the row lock: someone may have taken it over meanwhile.
        if t.assignee_id != Some(agent_id) || !t.status.is_open() {
            continue;
        }
        set_assignee(c, t, None, &text, Actor::SYSTEM, now).await?;
        released += 1;
    }
    Ok(Released { released, more })
}

pub(crate) async fn agent(s: &PgStore, agent_id: i64) -> Result<AgentRouting> {
    let c = s.conn().await?;
    load_agent(&c, agent_id).await
}

pub(crate) async fn list_agents(s: &PgStore) -> Result<Vec<AgentRouting>> {
    let c = s.conn().await?;
    query(&c, &format!("{AGENT_SQL} ORDER BY a.id"), &[])
        .await?
        .iter()
        .map(agent_row)
        .collect()
}

pub(crate) async fn set_agent(
    s: &PgStore,
    agent_id: i64,
    up: AgentRoutingUpdate,
    by: Actor,
    now: Now,
) -> Result<AgentRouting> {
    let now = us(now);
    let mut c = s.conn().await?;
    let tx = c.transaction().await.db()?;
    // Lock the agent row: concurrent changes of one agent's settings apply one by one.
    if query_opt(
        &tx,
        "SELECT 1 FROM agents WHERE id = $1 FOR UPDATE",
        &[&agent_id],
    )
    .await?
    .is_none()
    {
        tx.rollback().await.db()?;
        return Err(StoreError::NotFound("agent"));
    }
    let cur = load_agent(&tx, agent_id).await?;
    let av = up.availability.unwrap_or(cur.availability);
    let skills = up.skills.clone().unwrap_or_else(|| cur.skills.clone());
    let capacity = up.capacity.unwrap_or(cur.capacity);
    execute(
        &tx,
        "INSERT INTO agent_routing (agent_id, availability, skills, capacity, updated_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (agent_id) DO UPDATE SET availability = excluded.availability, skills = excluded.skills, \
         capacity = excluded.capacity, updated_at = excluded.updated_at",
        &[&agent_id, &av.as_str(), &to_json(&skills)?, &capacity, &now],
    )
    .await?;
    audit(
        &tx,
        by,
        "agent.routing_changed",
        format!("agent:{agent_id}"),
        json!({
            "availability": av, "skills": skills, "capacity": capacity,
            "from": {"availability": cur.availability, "skills": cur.skills, "capacity": cur.capacity},
        }),
        now,
    )
    .await?;
    if any_routed(&tx).await? {
        if av == Availability::Off && cur.availability != Availability::Off {
            crate::jobs::schedule(&tx, &release_job_key(agent_id), &release_job(agent_id, now))
                .await?;
        }
        schedule_drain(&tx, now).await?;
    }
    let out = load_agent(&tx, agent_id).await?;
    tx.commit().await.db()?;
    Ok(out)
}

pub(crate) async fn group(s: &PgStore, group_id: i64) -> Result<GroupRouting> {
    let c = s.conn().await?;
    load_group(&c, group_id).await
}

pub(crate) async fn list_groups(s: &PgStore) -> Result<Vec<GroupRouting>> {
    let c = s.conn().await?;
    Ok(query(&c, &format!("{GROUP_SQL} ORDER BY g.id"), &[])
        .await?
        .iter()
        .map(group_row)
        .collect())
}

pub(crate) async fn set_group(
    s: &PgStore,
    group_id: i64,
    up: GroupRoutingUpdate,
    by: Actor,
    now: Now,
) -> Result<GroupRouting> {
    let now = us(now);
    let mut c = s.conn().await?;
    let tx = c.transaction().await.db()?;
    if query_opt(
        &tx,
        "SELECT 1 FROM groups WHERE id = $1 FOR UPDATE",
        &[&group_id],
    )
    .await?
    .is_none()
    {
        tx.rollback().await.db()?;
        return Err(StoreError::NotFound("group"));
    }
    let cur = load_group(&tx, group_id).await?;
    let m = up.mode.unwrap_or(cur.mode);
    let reassign = up.reassign_when_off.unwrap_or(cur.reassign_when_off);
    execute(
        &tx,
        "INSERT INTO group_routing (group_id, mode, reassign_when_off, updated_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (group_id) DO UPDATE SET mode = excluded.mode, \
         reassign_when_off = excluded.reassign_when_off, updated_at = excluded.updated_at",
        &[&group_id, &m.as_str(), &reassign, &now],
    )
    .await?;
    audit(
        &tx,
        by,
        "group.routing_changed",
        format!("group:{group_id}"),
        json!({"mode": m, "reassign_when_off": reassign,
               "from": {"mode": cur.mode, "reassign_when_off": cur.reassign_when_off}}),
        now,
    )
    .await?;
    if m != Mode::Manual {
        schedule_drain(&tx, now).await?;
    }
    let out = load_group(&tx, group_id).await?;
    tx.commit().await.db()?;
    Ok(out)
}

pub(crate) async fn context(s: &PgStore, ticket_id: i64) -> Result<Option<RoutingContext>> {
    let mut c = s.conn().await?;
    let tx = c
        .build_transaction()
        .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await
        .db()?;
    let ticket = match load_ticket(&tx, ticket_id, false).await {
        Ok(t) => t,
        Err(StoreError::NotFound(_)) => {
            tx.commit().await.db()?;
            return Ok(None);
        }
        Err(e) => return Err(e),
    };
    let language: Option<String> = query_opt(
        &tx,
        "SELECT language FROM customers WHERE id = $1",
        &[&ticket.requester_id],
    )
    .await?
    .and_then(|r| r.get(0));
    let group = match ticket.group_id {
        Some(g) => Some(load_group(&tx, g).await?),
        None => None,
    };
    // Manual groups too: a trigger's "assign automatically" routes there.
    let candidates = match &group {
        Some(g) => query(
            &tx,
            "SELECT a.id, r.availability, r.skills, r.capacity, r.last_assigned_at, \
             (SELECT count(*) FROM tickets t WHERE t.assignee_id = a.id AND t.status IN ('new','open')) \
             FROM group_members m JOIN agents a ON a.id = m.agent_id AND a.active \
             LEFT JOIN agent_routing r ON r.agent_id = a.id WHERE m.group_id = $1 ORDER BY a.id",
            &[&g.group_id],
        )
        .await?
        .iter()
        .map(|r| {
            Ok(Candidate {
                agent_id: r.get(0),
                availability: availability(r.get(1)),
                skills: skills(r.get(2))?,
                capacity: r.get(3),
                last_assigned_at: r.get(4),
                open: r.get(5),
            })
        })
        .collect::<Result<_>>()?,
        _ => Vec::new(),
    };
    tx.commit().await.db()?;
    Ok(Some(RoutingContext {
        ticket,
        language,
        group,
        candidates,
    }))
}

pub(crate) async fn waiting(s: &PgStore, after_id: i64, limit: i64) -> Result<Vec<i64>> {
    let c = s.conn().await?;
    Ok(query(
        &c,
        "SELECT t.id FROM tickets t JOIN group_routing g ON g.group_id = t.group_id \
         WHERE g.mode <> 'manual' AND t.assignee_id IS NULL AND t.status IN ('new','open') AND t.id > $1 \
         ORDER BY t.id LIMIT $2",
        &[&after_id, &limit.clamp(0, 1000)],
    )
    .await?
    .iter()
    .map(|r| r.get(0))
    .collect())
}

pub(crate) async fn assign(s: &PgStore, a: Assign, now: Now) -> Result<Assigned> {
    let mut c = s.conn().await?;
    let tx = c.transaction().await.db()?;
    let out = assign_tx(&tx, &a, now).await?;
    if matches!(out, Assigned::Assigned(_)) {
        tx.commit().await.db()?;
    } else {
        // Nothing was written; release the row locks now rather than when the pooled
        // connection next runs something.
        tx.rollback().await.db()?;
    }
    Ok(out)
}

pub(crate) async fn release(s: &PgStore, agent_id: i64, limit: i64, now: Now) -> Result<Released> {
    let mut c = s.conn().await?;
    let tx = c.transaction().await.db()?;
    let out = release_tx(&tx, agent_id, limit.clamp(1, 1000), now).await?;
    tx.commit().await.db()?;
    Ok(out)
}
