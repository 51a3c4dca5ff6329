//! Stored triggers (migration 0020) and the `trigger.run` job that runs them.

use chrono::{DateTime, Utc};
use serde::Serialize;
use tend_core::automation::TriggerDef;

/// The job that runs the active triggers over a ticket's new events; queued (keyed per
/// ticket) in the transaction of every ticket write while a trigger is active.
pub const TRIGGER_JOB: &str = "trigger.run";

pub fn trigger_job_key(ticket_id: i64) -> String {
    format!("trigger:{ticket_id}")
}

pub fn trigger_job(ticket_id: i64, run_at: DateTime<Utc>) -> crate::NewJob {
    crate::NewJob {
        kind: TRIGGER_JOB.into(),
        payload: serde_json::json!({ "ticket_id": ticket_id }),
        run_at,
        max_attempts: 5,
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Trigger {
    pub id: i64,
    #[serde(flatten)]
    pub def: TriggerDef,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The settings key of the time-based automations (`{"automations": [...]}`).
pub const AUTOMATIONS_SETTING: &str = "automations";

/// The periodic job that applies time-based automations; it re-queues itself every
/// [`SWEEP_EVERY_MINUTES`] while an automation is active.
pub const SWEEP_JOB: &str = "automation.sweep";
pub const SWEEP_KEY: &str = "automation:sweep";
pub const SWEEP_EVERY_MINUTES: i64 = 15;

pub fn sweep_job(run_at: DateTime<Utc>) -> crate::NewJob {
    crate::NewJob {
        kind: SWEEP_JOB.into(),
        payload: serde_json::json!({}),
        run_at,
        max_attempts: 5,
    }
}
