//! The routing jobs (issue 5; docs/routing.md): `routing.assign` (one ticket),
//! `routing.drain` (tickets waiting in routed groups) and `routing.release` (an agent who went
//! off hands their tickets back).
//!
//! A run re-reads the ticket and its group's candidates, asks
//! `tend_core::routing::choose`, and assigns with `Store::routing_assign`: a compare-and-set
//! through the ordinary ticket-update path as `Actor::SYSTEM`, with an internal note saying
//! why. If the world moved in between (the agent filled up or went away, another server
//! moved the round-robin cursor) it chooses again; if the ticket was assigned meanwhile it
//! stops. Running a job twice therefore assigns once.

use chrono::{DateTime, Utc};
use std::collections::HashSet;
use tend_core::routing::{choose, needed_skills, routable, Availability, Choice, Mode, NoOne};
use tend_store::routing::{release_job, release_job_key, Assign, Assigned, BATCH};
use tend_store::{Store, StoreError};

/// How a ticket's routing went.
#[derive(Debug, Clone, PartialEq)]
pub enum Routed {
    /// Assigned to this agent.
    Assigned { agent_id: i64, why: String },
    /// Nobody now; it waits (a drain retries when capacity frees or someone comes online).
    Waiting(NoOne),
    /// Not for routing (assigned, solved, pending, no group, manual group, or gone).
    NotRoutable,
}

/// Choices made again after a lost compare-and-set, at most.
const RETRIES: usize = 5;

/// Routes one ticket now (the `routing.assign` job). Idempotent: an assigned ticket is left
/// alone.
pub async fn assign_ticket(
    store: &dyn Store,
    ticket_id: i64,
    now: DateTime<Utc>,
) -> Result<Routed, StoreError> {
    assign_ticket_as(store, ticket_id, now, tend_core::Actor::SYSTEM, false).await
}

/// [`assign_ticket`] as `actor`. `manual_fallback` (the "assign automatically" action of
/// triggers and automations): in a group whose mode is manual, choose the least loaded among
/// the eligible members (online, with room and the skills) instead of leaving the ticket.
pub async fn assign_ticket_as(
    store: &dyn Store,
    ticket_id: i64,
    now: DateTime<Utc>,
    actor: tend_core::Actor,
    manual_fallback: bool,
) -> Result<Routed, StoreError> {
    for _ in 0..RETRIES {
        let Some(ctx) = store.routing_context(ticket_id).await? else {
            return Ok(Routed::NotRoutable);
        };
        let t = &ctx.ticket;
        let Some(group) = ctx.group.as_ref() else {
            return Ok(Routed::NotRoutable);
        };
        if !routable(t.status, t.assignee_id, t.group_id) {
            return Ok(Routed::NotRoutable);
        }
        let needs = needed_skills(ctx.language.as_deref(), &t.tags);
        let mode = match group.mode {
            Mode::Manual if manual_fallback => Mode::LeastLoaded,
            m => m,
        };
        let choice = match choose(mode, group.last_agent_id, &needs, &ctx.candidates) {
            Ok(c) => c,
            Err(NoOne::Manual) => return Ok(Routed::NotRoutable),
            Err(why) => return Ok(Routed::Waiting(why)),
        };
        let name = match store.get_agent(choice.agent_id).await {
            Ok(a) => a.name,
            Err(StoreError::NotFound(_)) => continue,
            Err(e) => return Err(e),
        };
        let group_name = store
            .get_group(group.group_id)
            .await
            .map(|g| g.name)
            .unwrap_or_else(|_| format!("group {}", group.group_id));
        let mut why = why(&choice, &group_name);
        if group.mode == Mode::Manual {
            why.push_str(" (the group assigns by hand; the automation chose the least loaded)");
        }
        let a = Assign {
            ticket_id,
            group_id: group.group_id,
            agent_id: choice.agent_id,
            cursor: (choice.mode == Mode::RoundRobin).then_some(group.last_agent_id),
            note: format!("Assigned automatically to {name}: {why}."),
            actor,
            manual_ok: manual_fallback,
        };
        match store.routing_assign(a, now).await? {
            Assigned::Assigned(_) => {
                return Ok(Routed::Assigned {
                    agent_id: choice.agent_id,
                    why,
                })
            }
            Assigned::Stale => return Ok(Routed::NotRoutable),
            Assigned::AgentBusy | Assigned::CursorMoved => continue,
        }
    }
    // Lost every race: leave it to the next drain (a job retry would race again).
    Ok(Routed::Waiting(NoOne::AllAtCapacity))
}

fn why(c: &Choice, group: &str) -> String {
    format!("{} in {group}", c.explain())
}

/// The `routing.assign` job: `{"ticket_id": …}`.
pub async fn assign(
    store: &dyn Store,
    now: DateTime<Utc>,
    payload: &serde_json::Value,
) -> Result<(), String> {
    let id = payload["ticket_id"]
        .as_i64()
        .ok_or("payload has no ticket_id")?;
    let r = assign_ticket(store, id, now)
        .await
        .map_err(|e| e.to_string())?;
    match &r {
        Routed::Waiting(why) => tracing::info!(ticket = id, reason = %why, "routing: ticket waits"),
        Routed::Assigned { agent_id, why } => {
            tracing::debug!(ticket = id, agent = agent_id, why = %why, "routing: assigned")
        }
        Routed::NotRoutable => {}
    }
    Ok(())
}

/// Waiting tickets a drain looks at in one run at most (those it cannot place, e.g. for a
/// skill nobody has, do not count against the [`BATCH`] of assignments).
const DRAIN_SCAN: usize = 2_000;

/// The `routing.drain` job: routes waiting tickets oldest first, at most [`BATCH`]
/// assignments and [`DRAIN_SCAN`] tickets looked at per run (the rest wait for the next
/// drain). A group in which nobody can take anything (nobody online with room) is skipped
/// after its first ticket. Tickets nobody fits (a missing skill) are passed over, so fifty
/// of them cannot stop the queue behind them.
pub async fn drain(store: &dyn Store, now: DateTime<Utc>) -> Result<(), String> {
    let e = |e: StoreError| e.to_string();
    let mut after = 0;
    let mut tried = 0;
    let mut scanned = 0;
    let mut blocked: HashSet<i64> = HashSet::new();
    'pages: while tried < BATCH && scanned < DRAIN_SCAN {
        let ids = store.routing_waiting(after, BATCH).await.map_err(e)?;
        let Some(last) = ids.last().copied() else {
            break;
        };
        after = last;
        for id in ids {
            if tried >= BATCH || scanned >= DRAIN_SCAN {
                break 'pages;
            }
            scanned += 1;
            let Some(ctx) = store.routing_context(id).await.map_err(e)? else {
                continue;
            };
            let g = ctx.ticket.group_id.unwrap_or(0);
            if blocked.contains(&g) {
                continue;
            }
            let open_door = ctx
                .candidates
                .iter()
                .any(|c| c.availability == Availability::Online && c.has_room());
            if !open_door {
                blocked.insert(g);
                continue;
            }
            if let Routed::Assigned { .. } = assign_ticket(store, id, now).await.map_err(e)? {
                tried += 1;
            }
        }
    }
    Ok(())
}

/// The `routing.release` job: `{"agent_id": …}`; one batch, then itself again while more
/// remain.
pub async fn release(
    store: &dyn Store,
    now: DateTime<Utc>,
    payload: &serde_json::Value,
) -> Result<(), String> {
    let id = payload["agent_id"]
        .as_i64()
        .ok_or("payload has no agent_id")?;
    let r = store
        .routing_release(id, BATCH, now)
        .await
        .map_err(|e| e.to_string())?;
    if r.released > 0 {
        tracing::info!(
            agent = id,
            released = r.released,
            "routing: tickets handed back"
        );
    }
    if r.more {
        store
            .schedule_job(&release_job_key(id), release_job(id, now))
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}
