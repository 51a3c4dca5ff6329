//! Automatic assignment (issue 5; migration 0021): per-agent availability, skills and
//! capacity, per-group mode, and the jobs that route tickets. See docs/routing.md.

use chrono::{DateTime, Utc};
use serde::Serialize;
use tend_core::routing::{Availability, Candidate, Mode};
use tend_core::Ticket;

/// Routes one ticket: queued (keyed per ticket) in the transaction of every write that leaves
/// a ticket new/open, unassigned, in a group whose mode is not manual.
pub const ASSIGN_JOB: &str = "routing.assign";
/// Routes the tickets waiting in routed groups, oldest first, in bounded batches: queued when
/// capacity may have freed (a ticket's status, assignee or group changed; an agent came
/// online; capacity or a group's mode changed).
pub const DRAIN_JOB: &str = "routing.drain";
pub const DRAIN_KEY: &str = "routing:drain";
/// Hands an agent's open tickets back to routing (agent went off or was deactivated), in
/// bounded batches; re-queues itself while more remain.
pub const RELEASE_JOB: &str = "routing.release";
/// Tickets per drain or release batch.
pub const BATCH: i64 = 50;

pub fn assign_job_key(ticket_id: i64) -> String {
    format!("routing:{ticket_id}")
}

pub fn assign_job(ticket_id: i64, run_at: DateTime<Utc>) -> crate::NewJob {
    crate::NewJob {
        kind: ASSIGN_JOB.into(),
        payload: serde_json::json!({ "ticket_id": ticket_id }),
        run_at,
        max_attempts: 5,
    }
}

pub fn drain_job(run_at: DateTime<Utc>) -> crate::NewJob {
    crate::NewJob {
        kind: DRAIN_JOB.into(),
        payload: serde_json::json!({}),
        run_at,
        max_attempts: 5,
    }
}

pub fn release_job_key(agent_id: i64) -> String {
    format!("routing:release:{agent_id}")
}

pub fn release_job(agent_id: i64, run_at: DateTime<Utc>) -> crate::NewJob {
    crate::NewJob {
        kind: RELEASE_JOB.into(),
        payload: serde_json::json!({ "agent_id": agent_id }),
        run_at,
        max_attempts: 5,
    }
}

/// An agent's routing settings (defaults for an agent who never had any: off, no skills,
/// unlimited).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AgentRouting {
    pub agent_id: i64,
    pub availability: Availability,
    pub skills: Vec<String>,
    /// `None`: unlimited.
    pub capacity: Option<i64>,
    /// Tickets in status new or open assigned to them now.
    pub open_tickets: i64,
    pub last_assigned_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
}

/// A change of an agent's routing settings; `None` leaves a value as it is. Values are
/// checked by the caller (`tend_core::routing::parse_skills`, `check_capacity`).
#[derive(Debug, Clone, Default)]
pub struct AgentRoutingUpdate {
    pub availability: Option<Availability>,
    pub skills: Option<Vec<String>>,
    /// `Some(None)`: unlimited.
    pub capacity: Option<Option<i64>>,
}

/// A group's routing settings (default: manual).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct GroupRouting {
    pub group_id: i64,
    pub mode: Mode,
    /// Hand the open tickets of a member who goes off (or is deactivated) back to routing.
    pub reassign_when_off: bool,
    /// The agent round robin assigned to last.
    pub last_agent_id: Option<i64>,
    pub updated_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Default)]
pub struct GroupRoutingUpdate {
    pub mode: Option<Mode>,
    pub reassign_when_off: Option<bool>,
}

/// What routing one ticket needs to know, read in one snapshot.
#[derive(Debug, Clone)]
pub struct RoutingContext {
    pub ticket: Ticket,
    /// The requester's language (BCP 47), if known.
    pub language: Option<String>,
    /// The ticket's group's settings (`None` without a group).
    pub group: Option<GroupRouting>,
    /// The group's active members.
    pub candidates: Vec<Candidate>,
}

/// An assignment to make if the world is still as the chooser saw it.
#[derive(Debug, Clone)]
pub struct Assign {
    pub ticket_id: i64,
    /// The group the ticket must still be in (and the agent a member of).
    pub group_id: i64,
    pub agent_id: i64,
    /// Round robin: the cursor the choice was made from; the assignment happens only if it
    /// has not moved since, and moves it to `agent_id`.
    pub cursor: Option<Option<i64>>,
    /// The internal note written with the assignment (the "why" on the timeline).
    pub note: String,
    /// Who assigns: `Actor::SYSTEM` for the routing jobs, the trigger's actor for a trigger's
    /// "assign automatically" action (so the change belongs to that trigger's chain).
    pub actor: tend_core::Actor,
    /// Assign even if the group's mode is manual (a trigger's or automation's "assign
    /// automatically": least loaded among the eligible members). Routing jobs leave it false.
    pub manual_ok: bool,
}

/// How an [`Assign`] went. Anything but `Assigned` wrote nothing.
#[derive(Debug, Clone, PartialEq)]
pub enum Assigned {
    Assigned(Box<Ticket>),
    /// The ticket is no longer routable (assigned meanwhile, solved, moved, gone).
    Stale,
    /// The agent is no longer online, active, in the group, or has no room: choose again.
    AgentBusy,
    /// Another assignment in the group moved the round-robin cursor: choose again.
    CursorMoved,
}

/// What a release batch did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Released {
    pub released: usize,
    /// More tickets remain (run again).
    pub more: bool,
}
