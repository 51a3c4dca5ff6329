//! SLA configuration (a business calendar and ordered policies) and each ticket's clock,
//! computed on read from the ticket's events by the pure engine in `tend_core::sla`.

use crate::error::{ApiResult, AppError};
use crate::extract::{require_admin, Auth, Id, Json};
use crate::AppState;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tend_core::sla::{
    evaluate_ticket, validate_policies, Calendar, CalendarSpec, Policy, TargetStatus,
};
use tend_core::{Actor, Ticket, Viewer};
use tend_store::PageRequest;

pub const SETTING: &str = "sla";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlaConfig {
    pub calendar: CalendarSpec,
    #[serde(default)]
    pub policies: Vec<Policy>,
    /// Minutes before a target runs out at which Tend records a warning (0: no warnings).
    #[serde(default = "default_warn")]
    pub warn_before_minutes: i64,
    #[serde(default)]
    pub escalation: Escalation,
}

fn default_warn() -> i64 {
    30
}

fn yes() -> bool {
    true
}

/// What happens when a target is breached (each once per target and run).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Escalation {
    /// Raise the ticket's priority one level (up to urgent).
    #[serde(default = "yes")]
    pub raise_priority: bool,
    /// E-mail the assignee.
    #[serde(default = "yes")]
    pub notify_assignee: bool,
}

impl Default for Escalation {
    fn default() -> Self {
        Escalation {
            raise_priority: true,
            notify_assignee: true,
        }
    }
}

impl SlaConfig {
    /// The calendar, checked; policies checked too. Field names point into the document.
    pub fn check(&self) -> Result<Calendar, tend_core::Invalid> {
        let cal = Calendar::new(self.calendar.clone())
            .map_err(|e| tend_core::Invalid::new(format!("calendar.{}", e.field), e.message))?;
        validate_policies(&self.policies)?;
        if !(0..=7 * 24 * 60).contains(&self.warn_before_minutes) {
            return Err(tend_core::Invalid::new(
                "warn_before_minutes",
                "must be between 0 and 10080 (a week)",
            ));
        }
        Ok(cal)
    }
}

pub async fn load(s: &AppState) -> Result<Option<(SlaConfig, Calendar)>, AppError> {
    let Some(v) = s.store.get_setting(SETTING).await? else {
        return Ok(None);
    };
    let cfg: SlaConfig = serde_json::from_value(v)
        .map_err(|e| AppError::Internal(format!("stored SLA config: {e}")))?;
    let cal = cfg
        .check()
        .map_err(|e| AppError::Internal(format!("stored SLA config: {e}")))?;
    Ok(Some((cfg, cal)))
}

pub async fn get_config(State(s): State<AppState>, Auth(_): Auth) -> ApiResult<axum::Json<Value>> {
    Ok(axum::Json(match s.store.get_setting(SETTING).await? {
        Some(v) => v,
        None => json!({ "calendar": null, "policies": [] }),
    }))
}

pub async fn put_config(
    State(s): State<AppState>,
    Auth(v): Auth,
    Json(cfg): Json<SlaConfig>,
) -> ApiResult<axum::Json<Value>> {
    require_admin(&v)?;
    cfg.check()?;
    let value = serde_json::to_value(&cfg).map_err(|e| AppError::Internal(e.to_string()))?;
    s.store
        .put_setting(SETTING, value.clone(), Actor::agent(v.agent_id), s.now())
        .await?;
    Ok(axum::Json(value))
}

/// The ticket's SLA targets now: the matching policy's name and each target's status.
pub async fn for_ticket(
    s: &AppState,
    viewer: &Viewer,
    t: &Ticket,
) -> Result<Option<(String, Vec<TargetStatus>)>, AppError> {
    let Some((cfg, cal)) = load(s).await? else {
        return Ok(None);
    };
    let mut events = Vec::new();
    let mut after = None;
    loop {
        let page = s
            .store
            .ticket_events(
                t.id,
                viewer,
                PageRequest {
                    after_id: after,
                    limit: 1000,
                },
            )
            .await?;
        after = page.items.last().map(|e| e.seq);
        events.extend(page.items.into_iter().map(|e| (e.at, e.actor, e.change)));
        if page.next_cursor.is_none() {
            break;
        }
    }
    Ok(evaluate_ticket(&events, &cal, &cfg.policies, None, s.now())
        .map(|(p, targets)| (p.name.clone(), targets)))
}

pub async fn ticket_sla(
    State(s): State<AppState>,
    Auth(v): Auth,
    Id(id): Id,
) -> ApiResult<axum::Json<Value>> {
    let t = s.store.get_ticket(id, &v).await?;
    Ok(axum::Json(match for_ticket(&s, &v, &t).await? {
        Some((policy, targets)) => json!({ "policy": policy, "targets": targets }),
        None => json!({ "policy": null, "targets": [] }),
    }))
}

/// The `sla.check` job: records warnings and breaches (each once per target and run),
/// escalates breaches, and schedules itself for the next moment something can happen.
/// Safe to run twice: marks already in the ticket's history are not written again.
pub async fn check_ticket(
    store: &dyn tend_store::Store,
    now: chrono::DateTime<chrono::Utc>,
    payload: &Value,
) -> Result<(), String> {
    let id = payload["ticket_id"]
        .as_i64()
        .ok_or("payload has no ticket_id")?;
    check(store, now, id, false).await
}

/// One ticket's check. `quiet` (the recompute pass after a configuration change or an
/// import): warnings and breaches whose time had already come are not recorded or escalated
/// now — the clock still shows them breached — and only what is still ahead is scheduled.
async fn check(
    store: &dyn tend_store::Store,
    now: chrono::DateTime<chrono::Utc>,
    id: i64,
    quiet: bool,
) -> Result<(), String> {
    use std::collections::HashSet;
    use tend_core::sla::SlaState;
    use tend_core::Change;
    let Some(v) = store
        .get_setting(SETTING)
        .await
        .map_err(|e| e.to_string())?
    else {
        return Ok(());
    };
    let cfg: SlaConfig =
        serde_json::from_value(v).map_err(|e| format!("stored SLA config: {e}"))?;
    let cal = cfg.check().map_err(|e| format!("stored SLA config: {e}"))?;
    let system = Viewer {
        agent_id: 0,
        role: tend_core::Role::Admin,
        group_ids: vec![],
    };
    let t = match store.get_ticket(id, &system).await {
        Ok(t) => t,
        Err(tend_store::StoreError::NotFound(_)) => return Ok(()),
        Err(e) => return Err(e.to_string()),
    };
    let mut events = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .ticket_events(
                id,
                &system,
                PageRequest {
                    after_id: after,
                    limit: 1000,
                },
            )
            .await
            .map_err(|e| e.to_string())?;
        after = page.items.last().map(|e| e.seq);
        events.extend(page.items.into_iter().map(|e| (e.at, e.actor, e.change)));
        if page.next_cursor.is_none() {
            break;
        }
    }
    let mut marks: HashSet<(bool, String, u32)> = HashSet::new();
    for (_, _, c) in &events {
        match c {
            Change::SlaWarning { metric, cycle, .. } => {
                marks.insert((false, metric.clone(), *cycle));
            }
            Change::SlaBreached { metric, cycle, .. } => {
                marks.insert((true, metric.clone(), *cycle));
            }
            _ => {}
        }
    }
    let Some((_, targets)) = evaluate_ticket(&events, &cal, &cfg.policies, None, now) else {
        if t.sla_due_at.is_some() {
            store
                .set_sla_due(id, None)
                .await
                .map_err(|e| e.to_string())?;
        }
        return Ok(());
    };
    let due = tend_core::sla::next_due(&targets);
    if due != t.sla_due_at {
        store
            .set_sla_due(id, due)
            .await
            .map_err(|e| e.to_string())?;
    }
    let warn = chrono::Duration::minutes(cfg.warn_before_minutes);
    let mut next: Option<chrono::DateTime<chrono::Utc>> = None;
    let mut soon = |at: chrono::DateTime<chrono::Utc>| {
        next = Some(next.map_or(at, |n: chrono::DateTime<chrono::Utc>| n.min(at)))
    };
    for ts in targets {
        let metric = serde_json::to_value(ts.metric)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        let Some(due) = ts.due_at else { continue };
        match ts.state {
            SlaState::Breached if !quiet && !marks.contains(&(true, metric.clone(), ts.cycle)) => {
                let escalated =
                    escalate(store, &cfg.escalation, &t, &metric, &ts.explanation, now).await?;
                let change = Change::SlaBreached {
                    metric,
                    cycle: ts.cycle,
                    due_at: due,
                    escalated,
                };
                store
                    .record_event(id, change, Actor::SYSTEM, now)
                    .await
                    .map_err(|e| e.to_string())?;
            }
            SlaState::Active => {
                let warn_at = due - warn;
                if cfg.warn_before_minutes > 0
                    && now >= warn_at
                    && !quiet
                    && !marks.contains(&(false, metric.clone(), ts.cycle))
                {
                    let change = Change::SlaWarning {
                        metric,
                        cycle: ts.cycle,
                        due_at: due,
                    };
                    store
                        .record_event(id, change, Actor::SYSTEM, now)
                        .await
                        .map_err(|e| e.to_string())?;
                } else if cfg.warn_before_minutes > 0 && now < warn_at {
                    soon(warn_at);
                }
                // Breached once wall time passes the due time: look a second after it.
                soon(due + chrono::Duration::seconds(1));
            }
            _ => {}
        }
    }
    if let Some(at) = next {
        store
            .schedule_job(&tend_store::sla_job_key(id), tend_store::sla_job(id, at))
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Open tickets per `sla.recompute` page.
const RECOMPUTE_PAGE: i64 = 500;

/// The `sla.recompute` job: checks every open ticket (new, open, pending, on-hold), a page of
/// 500 in id order per run, then queues itself for the next page, so a restart resumes where
/// it stopped and the queue stays responsive. Each ticket gets its next due time stored and
/// its next check scheduled; a change applies from now on: targets already overdue when the
/// pass runs are shown breached by the clock but not recorded or escalated afresh (no burst
/// of escalation mail for imported history). Returns how many tickets this page checked.
pub async fn recompute(
    store: &dyn tend_store::Store,
    now: chrono::DateTime<chrono::Utc>,
    payload: &Value,
) -> Result<usize, String> {
    use tend_core::Status;
    let after = payload["after_id"].as_i64().unwrap_or(0).max(0);
    let system = Viewer {
        agent_id: 0,
        role: tend_core::Role::Admin,
        group_ids: vec![],
    };
    let sort = tend_store::TicketSort::IdAsc;
    let q = tend_store::TicketQuery {
        statuses: vec![Status::New, Status::Open, Status::Pending, Status::OnHold],
        sort,
        cursor: (after > 0).then(|| tend_store::Cursor::new(sort, after, after)),
        limit: RECOMPUTE_PAGE,
        ..Default::default()
    };
    let page = store
        .list_tickets(&q, &system)
        .await
        .map_err(|e| e.to_string())?;
    for t in &page.items {
        check(store, now, t.id, true).await?;
    }
    if let (Some(_), Some(last)) = (&page.next_cursor, page.items.last()) {
        store
            .schedule_job(
                tend_store::SLA_RECOMPUTE_KEY,
                tend_store::sla_recompute_job(last.id, now),
            )
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(page.items.len())
}

async fn escalate(
    store: &dyn tend_store::Store,
    e: &Escalation,
    t: &Ticket,
    metric: &str,
    why: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<String>, String> {
    use tend_core::Priority;
    let mut done = Vec::new();
    let system = Viewer {
        agent_id: 0,
        role: tend_core::Role::Admin,
        group_ids: vec![],
    };
    if e.raise_priority {
        let up = match t.priority {
            Priority::Low => Some(Priority::Normal),
            Priority::Normal => Some(Priority::High),
            Priority::High => Some(Priority::Urgent),
            Priority::Urgent => None,
        };
        if let Some(p) = up {
            let patch = tend_core::ticket::Patch {
                priority: Some(p),
                ..Default::default()
            };
            store
                .update_ticket(t.id, patch, &system, Actor::SYSTEM, now)
                .await
                .map_err(|e| e.to_string())?;
            done.push(format!("priority {} → {p}", t.priority));
        }
    }
    if e.notify_assignee {
        if let Some(a) = t.assignee_id {
            let agent = store.get_agent(a).await.map_err(|e| e.to_string())?;
            let mail = crate::mail::OutMail {
                to: agent.email.clone(),
                subject: format!("SLA breached: #{} {}", t.id, t.subject),
                text: format!(
                    "Hello {},\n\nthe {} target of ticket #{} ({}) was breached.\n{}\n",
                    agent.name,
                    metric.replace('_', " "),
                    t.id,
                    t.subject,
                    why
                ),
                html: None,
                ..Default::default()
            };
            store
                .enqueue_job(crate::mail::job(&mail, now))
                .await
                .map_err(|e| e.to_string())?;
            done.push(format!("mailed {}", agent.email));
        }
    }
    Ok(done)
}
