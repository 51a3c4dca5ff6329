//! Automatic assignment (issue 5; migration 0021): settings rows, the per-write scheduling
//! hook, and the compare-and-set assignment and release writes. See docs/routing.md.

use crate::conv::{append_event, audit, json, load_ticket, time, to_json, us};
use crate::{db, SqliteStore};
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension};
use serde_json::json;
use tend_core::routing::{releases, routable, Availability, Candidate, Mode};
use tend_core::ticket::Patch;
use tend_core::{Actor, Change, Role, Viewer};
use tend_store::routing::*;
use tend_store::*;

const OPEN: &str = "status IN ('new','open')";

fn system() -> Viewer {
    Viewer {
        agent_id: 0,
        role: Role::Admin,
        group_ids: vec![],
    }
}

fn availability(s: Option<String>) -> Availability {
    s.and_then(|s| Availability::parse(&s).ok())
        .unwrap_or_default()
}

fn mode(s: Option<String>) -> Mode {
    s.and_then(|s| Mode::parse(&s).ok()).unwrap_or_default()
}

fn skills(s: Option<String>) -> rusqlite::Result<Vec<String>> {
    match s {
        Some(s) => json(&s),
        None => Ok(Vec::new()),
    }
}

const AGENT_SQL: &str =
    "SELECT a.id, r.availability, r.skills, r.capacity, r.last_assigned_at, r.updated_at, \
     (SELECT COUNT(*) FROM tickets t WHERE t.assignee_id = a.id AND t.status IN ('new','open')) \
     FROM agents a LEFT JOIN agent_routing r ON r.agent_id = a.id";

fn agent_row(r: &rusqlite::Row) -> rusqlite::Result<AgentRouting> {
    Ok(AgentRouting {
        agent_id: r.get(0)?,
        availability: availability(r.get(1)?),
        skills: skills(r.get(2)?)?,
        capacity: r.get(3)?,
        last_assigned_at: r.get::<_, Option<i64>>(4)?.map(time),
        updated_at: r.get::<_, Option<i64>>(5)?.map(time),
        open_tickets: r.get(6)?,
    })
}

fn load_agent(c: &Connection, id: i64) -> Result<AgentRouting> {
    c.prepare_cached(&format!("{AGENT_SQL} WHERE a.id = ?1"))
        .map_err(db)?
        .query_row([id], agent_row)
        .optional()
        .map_err(db)?
        .ok_or(StoreError::NotFound("agent"))
}

const GROUP_SQL: &str = "SELECT g.id, r.mode, r.reassign_when_off, r.last_agent_id, r.updated_at \
     FROM groups g LEFT JOIN group_routing r ON r.group_id = g.id";

fn group_row(r: &rusqlite::Row) -> rusqlite::Result<GroupRouting> {
    Ok(GroupRouting {
        group_id: r.get(0)?,
        mode: mode(r.get(1)?),
        reassign_when_off: r.get::<_, Option<bool>>(2)?.unwrap_or(false),
        last_agent_id: r.get(3)?,
        updated_at: r.get::<_, Option<i64>>(4)?.map(time),
    })
}

fn load_group(c: &Connection, id: i64) -> Result<GroupRouting> {
    c.prepare_cached(&format!("{GROUP_SQL} WHERE g.id = ?1"))
        .map_err(db)?
        .query_row([id], group_row)
        .optional()
        .map_err(db)?
        .ok_or(StoreError::NotFound("group"))
}

fn any_routed(c: &Connection) -> Result<bool> {
    c.prepare_cached("SELECT EXISTS(SELECT 1 FROM group_routing WHERE mode <> 'manual')")
        .map_err(db)?
        .query_row([], |r| r.get(0))
        .map_err(db)
}

fn schedule_drain(c: &Connection, now: DateTime<Utc>) -> Result<()> {
    crate::jobs::schedule(c, DRAIN_KEY, &drain_job(now), now)
}

/// Called from `schedule_sla` (every ticket write, in its transaction): queues the ticket's
/// `routing.assign` job when it waits for routing, and a drain when this write changed a
/// status, assignee or group (capacity may have freed). One cheap read when no group routes.
pub(crate) fn schedule_routing(c: &Connection, id: i64, now: DateTime<Utc>) -> Result<()> {
    if !any_routed(c)? {
        return Ok(());
    }
    // (status, assignee, group, group mode)
    type Row = (String, Option<i64>, Option<i64>, Option<String>);
    let row: Option<Row> = c
        .prepare_cached(
            "SELECT t.status, t.assignee_id, t.group_id, r.mode FROM tickets t \
             LEFT JOIN group_routing r ON r.group_id = t.group_id WHERE t.id = ?1",
        )
        .map_err(db)?
        .query_row([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .optional()
        .map_err(db)?;
    let Some((status, assignee, group, m)) = row else {
        return Ok(());
    };
    let waits =
        status.parse().is_ok_and(|s| routable(s, assignee, group)) && mode(m) != Mode::Manual;
    if waits {
        crate::jobs::schedule(c, &assign_job_key(id), &assign_job(id, now), now)?;
    }
    let changed: bool = c
        .prepare_cached(
            "SELECT EXISTS(SELECT 1 FROM (SELECT kind, at FROM events WHERE ticket_id = ?1 ORDER BY seq DESC LIMIT 16) \
             WHERE at = ?2 AND kind IN ('ticket.status_changed','ticket.assignee_changed','ticket.group_changed'))",
        )
        .map_err(db)?
        .query_row(params![id, us(now)], |r| r.get(0))
        .map_err(db)?;
    if changed {
        schedule_drain(c, now)?;
    }
    Ok(())
}

/// Called when an agent is deactivated (in that write): their tickets go back to routing.
pub(crate) fn agent_deactivated(c: &Connection, agent_id: i64, now: DateTime<Utc>) -> Result<()> {
    if any_routed(c)? {
        crate::jobs::schedule(
            c,
            &release_job_key(agent_id),
            &release_job(agent_id, now),
            now,
        )?;
    }
    Ok(())
}

/// Appends a system internal note to a ticket (the "why" of an assignment).
fn note(c: &Connection, ticket_id: i64, text: &str, by: Actor, now: DateTime<Utc>) -> Result<()> {
    let msg = crate::tickets::insert_message(
        c,
        ticket_id,
        by,
        &NewMessage {
            time_spent_seconds: None,
            public: false,
            body_text: text.to_string(),
            body_html: tend_core::html::text_to_html(text),
            attachments: vec![],
            mail: None,
            notify: false,
        },
        now,
    )?;
    let seq = append_event(
        c,
        ticket_id,
        by,
        now,
        &Change::MessageAdded {
            time_spent_seconds: None,
            message_id: msg.id,
            public: false,
        },
        true,
    )?;
    c.prepare_cached("UPDATE tickets SET updated_at = ?2, last_seq = ?3 WHERE id = ?1")
        .map_err(db)?
        .execute(params![ticket_id, us(now), seq])
        .map_err(db)?;
    Ok(())
}

fn assign_tx(c: &Connection, a: &Assign, now: DateTime<Utc>) -> Result<Assigned> {
    let Some(t) = load_ticket(c, a.ticket_id)? else {
        return Ok(Assigned::Stale);
    };
    if !routable(t.status, t.assignee_id, t.group_id) || t.group_id != Some(a.group_id) {
        return Ok(Assigned::Stale);
    }
    let g = load_group(c, a.group_id)?;
    if g.mode == Mode::Manual && !a.manual_ok {
        return Ok(Assigned::Stale);
    }
    if let Some(expected) = a.cursor {
        if g.last_agent_id != expected {
            return Ok(Assigned::CursorMoved);
        }
    }
    let ok: bool = c
        .prepare_cached(
            "SELECT EXISTS(SELECT 1 FROM agents ag JOIN agent_routing r ON r.agent_id = ag.id \
             JOIN group_members m ON m.agent_id = ag.id AND m.group_id = ?2 \
             WHERE ag.id = ?1 AND ag.active = 1 AND r.availability = 'online' AND (r.capacity IS NULL OR \
             r.capacity > (SELECT COUNT(*) FROM tickets t WHERE t.assignee_id = ?1 AND t.status IN ('new','open'))))",
        )
        .map_err(db)?
        .query_row(params![a.agent_id, a.group_id], |r| r.get(0))
        .map_err(db)?;
    if !ok {
        return Ok(Assigned::AgentBusy);
    }
    crate::tickets::update_ticket_tx(
        c,
        a.ticket_id,
        Patch {
            assignee_id: Some(Some(a.agent_id)),
            ..Default::default()
        },
        &system(),
        a.actor,
        now,
    )?;
    note(c, a.ticket_id, &a.note, a.actor, now)?;
    c.prepare_cached("UPDATE agent_routing SET last_assigned_at = ?2 WHERE agent_id = ?1")
        .map_err(db)?
        .execute(params![a.agent_id, us(now)])
        .map_err(db)?;
    if a.cursor.is_some() {
        c.prepare_cached("UPDATE group_routing SET last_agent_id = ?2 WHERE group_id = ?1")
            .map_err(db)?
            .execute(params![a.group_id, a.agent_id])
            .map_err(db)?;
    }
    let t = load_ticket(c, a.ticket_id)?.ok_or(StoreError::NotFound("ticket"))?;
    Ok(Assigned::Assigned(Box::new(t)))
}

fn release_tx(c: &Connection, agent_id: i64, limit: i64, now: DateTime<Utc>) -> Result<Released> {
    let who: Option<(bool, Option<String>, String)> = c
        .prepare_cached(
            "SELECT a.active, r.availability, a.name FROM agents a \
             LEFT JOIN agent_routing r ON r.agent_id = a.id WHERE a.id = ?1",
        )
        .map_err(db)?
        .query_row([agent_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()
        .map_err(db)?;
    let Some((active, av, name)) = who else {
        return Ok(Released::default());
    };
    if !releases(availability(av), active) {
        return Ok(Released::default());
    }
    let ids: Vec<i64> = c
        .prepare_cached(&format!(
            "SELECT t.id FROM tickets t JOIN group_routing g ON g.group_id = t.group_id \
             WHERE t.assignee_id = ?1 AND t.{OPEN} AND g.reassign_when_off = 1 AND g.mode <> 'manual' \
             ORDER BY t.id LIMIT ?2"
        ))
        .map_err(db)?
        .query_map(params![agent_id, limit + 1], |r| r.get(0))
        .map_err(db)?
        .collect::<rusqlite::Result<_>>()
        .map_err(db)?;
    let more = ids.len() as i64 > limit;
    let why = if active { "is off" } else { "was deactivated" };
    let text = format!("Unassigned automatically: {name} {why}; the ticket goes back to routing.");
    let mut released = 0;
    for id in ids.into_iter().take(limit.max(0) as usize) {
        crate::tickets::update_ticket_tx(
            c,
            id,
            Patch {
                assignee_id: Some(None),
                ..Default::default()
            },
            &system(),
            Actor::SYSTEM,
            now,
        )?;
        note(c, id, &text, Actor::SYSTEM, now)?;
        released += 1;
    }
    Ok(Released { released, more })
}

impl SqliteStore {
    pub(crate) async fn agent_routing_impl(&self, agent_id: i64) -> Result<AgentRouting> {
        self.read(move |c| load_agent(c, agent_id)).await
    }

    pub(crate) async fn list_agent_routing_impl(&self) -> Result<Vec<AgentRouting>> {
        self.read(move |c| {
            c.prepare_cached(&format!("{AGENT_SQL} ORDER BY a.id"))
                .map_err(db)?
                .query_map([], agent_row)
                .map_err(db)?
                .collect::<rusqlite::Result<_>>()
                .map_err(db)
        })
        .await
    }

    pub(crate) async fn set_agent_routing_impl(
        &self,
        agent_id: i64,
        up: AgentRoutingUpdate,
        by: Actor,
        now: DateTime<Utc>,
    ) -> Result<AgentRouting> {
        self.write(move |c| {
            let cur = load_agent(c, agent_id)?;
            let av = up.availability.unwrap_or(cur.availability);
            let skills = up.skills.clone().unwrap_or_else(|| cur.skills.clone());
            let capacity = up.capacity.unwrap_or(cur.capacity);
            c.prepare_cached(
                "INSERT INTO agent_routing(agent_id, availability, skills, capacity, updated_at) VALUES (?1, ?2, ?3, ?4, ?5) \
                 ON CONFLICT(agent_id) DO UPDATE SET availability = excluded.availability, skills = excluded.skills, \
                 capacity = excluded.capacity, updated_at = excluded.updated_at",
            )
            .map_err(db)?
            .execute(params![agent_id, av.as_str(), to_json(&skills), capacity, us(now)])
            .map_err(db)?;
            audit(
                c,
                by,
                "agent.routing_changed",
                format!("agent:{agent_id}"),
                json!({
                    "availability": av, "skills": skills, "capacity": capacity,
                    "from": {"availability": cur.availability, "skills": cur.skills, "capacity": cur.capacity},
                }),
                now,
            )?;
            if any_routed(c)? {
                if av == Availability::Off && cur.availability != Availability::Off {
                    crate::jobs::schedule(c, &release_job_key(agent_id), &release_job(agent_id, now), now)?;
                }
                schedule_drain(c, now)?;
            }
            load_agent(c, agent_id)
        })
        .await
    }

    pub(crate) async fn group_routing_impl(&self, group_id: i64) -> Result<GroupRouting> {
        self.read(move |c| load_group(c, group_id)).await
    }

    pub(crate) async fn list_group_routing_impl(&self) -> Result<Vec<GroupRouting>> {
        self.read(move |c| {
            c.prepare_cached(&format!("{GROUP_SQL} ORDER BY g.id"))
                .map_err(db)?
                .query_map([], group_row)
                .map_err(db)?
                .collect::<rusqlite::Result<_>>()
                .map_err(db)
        })
        .await
    }

    pub(crate) async fn set_group_routing_impl(
        &self,
        group_id: i64,
        up: GroupRoutingUpdate,
        by: Actor,
        now: DateTime<Utc>,
    ) -> Result<GroupRouting> {
        self.write(move |c| {
            let cur = load_group(c, group_id)?;
            let m = up.mode.unwrap_or(cur.mode);
            let reassign = up.reassign_when_off.unwrap_or(cur.reassign_when_off);
            c.prepare_cached(
                "INSERT INTO group_routing(group_id, mode, reassign_when_off, updated_at) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT(group_id) DO UPDATE SET mode = excluded.mode, \
                 reassign_when_off = excluded.reassign_when_off, updated_at = excluded.updated_at",
            )
            .map_err(db)?
            .execute(params![group_id, m.as_str(), reassign, us(now)])
            .map_err(db)?;
            audit(
                c,
                by,
                "group.routing_changed",
                format!("group:{group_id}"),
                json!({"mode": m, "reassign_when_off": reassign,
                       "from": {"mode": cur.mode, "reassign_when_off": cur.reassign_when_off}}),
                now,
            )?;
            if m != Mode::Manual {
                schedule_drain(c, now)?;
            }
            load_group(c, group_id)
        })
        .await
    }

    pub(crate) async fn routing_context_impl(
        &self,
        ticket_id: i64,
    ) -> Result<Option<RoutingContext>> {
        self.read(move |c| {
            let tx = c.unchecked_transaction().map_err(db)?;
            let Some(ticket) = load_ticket(&tx, ticket_id)? else {
                return Ok(None);
            };
            let language: Option<String> = tx
                .prepare_cached("SELECT language FROM customers WHERE id = ?1")
                .map_err(db)?
                .query_row([ticket.requester_id], |r| r.get(0))
                .optional()
                .map_err(db)?
                .flatten();
            let group = ticket.group_id.map(|g| load_group(&tx, g)).transpose()?;
            // Manual groups too: a trigger's "assign automatically" routes there.
            let candidates = match &group {
                Some(g) => tx
                    .prepare_cached(
                        "SELECT a.id, r.availability, r.skills, r.capacity, r.last_assigned_at, \
                         (SELECT COUNT(*) FROM tickets t WHERE t.assignee_id = a.id AND t.status IN ('new','open')) \
                         FROM group_members m JOIN agents a ON a.id = m.agent_id AND a.active = 1 \
                         LEFT JOIN agent_routing r ON r.agent_id = a.id WHERE m.group_id = ?1 ORDER BY a.id",
                    )
                    .map_err(db)?
                    .query_map([g.group_id], |r| {
                        Ok(Candidate {
                            agent_id: r.get(0)?,
                            availability: availability(r.get(1)?),
                            skills: skills(r.get(2)?)?,
                            capacity: r.get(3)?,
                            last_assigned_at: r.get::<_, Option<i64>>(4)?.map(time),
                            open: r.get(5)?,
                        })
                    })
                    .map_err(db)?
                    .collect::<rusqlite::Result<_>>()
                    .map_err(db)?,
                _ => Vec::new(),
            };
            Ok(Some(RoutingContext {
                ticket,
                language,
                group,
                candidates,
            }))
        })
        .await
    }

    pub(crate) async fn routing_waiting_impl(&self, after_id: i64, limit: i64) -> Result<Vec<i64>> {
        self.read(move |c| {
            c.prepare_cached(&format!(
                "SELECT t.id FROM tickets t JOIN group_routing g ON g.group_id = t.group_id \
                 WHERE g.mode <> 'manual' AND t.assignee_id IS NULL AND t.{OPEN} AND t.id > ?1 \
                 ORDER BY t.id LIMIT ?2"
            ))
            .map_err(db)?
            .query_map(params![after_id, limit.clamp(0, 1000)], |r| r.get(0))
            .map_err(db)?
            .collect::<rusqlite::Result<_>>()
            .map_err(db)
        })
        .await
    }

    pub(crate) async fn routing_assign_impl(
        &self,
        a: Assign,
        now: DateTime<Utc>,
    ) -> Result<Assigned> {
        self.write(move |c| assign_tx(c, &a, now)).await
    }

    pub(crate) async fn routing_release_impl(
        &self,
        agent_id: i64,
        limit: i64,
        now: DateTime<Utc>,
    ) -> Result<Released> {
        self.write(move |c| release_tx(c, agent_id, limit.clamp(1, 1000), now))
            .await
    }
}
