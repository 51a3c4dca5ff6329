//! Escalation levels, group leads, agents' working hours and deferred notifications
//! (issue 5; migration 0022).

use chrono::{DateTime, Utc};
use serde::Serialize;

/// An agent's working hours: a calendar in the text format of
/// `tend_core::sla::CalendarSpec::parse` (checked when saved).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AgentHours {
    pub agent_id: i64,
    pub calendar: String,
    pub updated_at: DateTime<Utc>,
}

/// The job that mails one agent about one ticket, at the start of their working hours. Its
/// payload says why (`reason`); a notification whose reason has gone when it runs (an SLA
/// target met meanwhile) is dropped.
pub const NOTIFY_JOB: &str = "notify.agent";

/// The job that POSTs one automation `webhook` action (signed, retried like webhooks).
pub const ACTION_WEBHOOK_JOB: &str = "automation.webhook";

pub fn notify_job(payload: serde_json::Value, run_at: DateTime<Utc>) -> crate::NewJob {
    crate::NewJob {
        kind: NOTIFY_JOB.into(),
        payload,
        run_at,
        max_attempts: 5,
    }
}

pub fn action_webhook_job(payload: serde_json::Value, run_at: DateTime<Utc>) -> crate::NewJob {
    crate::NewJob {
        kind: ACTION_WEBHOOK_JOB.into(),
        payload,
        run_at,
        max_attempts: crate::WEBHOOK_MAX_ATTEMPTS,
    }
}
