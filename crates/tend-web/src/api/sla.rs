//! SLA configuration (a business calendar and ordered policies) and each ticket's clock,
//! computed on read from the ticket's events by the pure engine in `tend_core::sla`.

use crate::error::{ApiResult, AppError};
use crate::extract::{require_admin, Auth, Id, Json};
use crate::AppState;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tend_core::sla::{
    evaluate_ticket_on, validate_policies, CalendarSpec, Calendars, NamedCalendar, Policy,
    TargetStatus,
};
use tend_core::{Actor, Ticket, Viewer};
use tend_store::PageRequest;

pub const SETTING: &str = "sla";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlaConfig {
    /// The default calendar.
    pub calendar: CalendarSpec,
    /// Named calendars (issue 5), chosen per policy, group or brand (`tend_core::sla::select`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub calendars: Vec<NamedCalendar>,
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

/// What happens after a breach: ordered escalation levels (issue 5; see
/// `tend_core::escalation`). The old `{raise_priority, notify_assignee}` shape still reads.
pub use tend_core::escalation::Escalation;

impl SlaConfig {
    /// The default calendar after [`SlaConfig::calendars`]' checks (for code that predates
    /// named calendars; clocks should use `calendars()` and `evaluate_ticket_on`).
    pub fn check(&self) -> Result<tend_core::sla::Calendar, tend_core::Invalid> {
        Ok(self.calendars()?.default_calendar().clone())
    }

    /// The calendars, checked; policies checked too. Field names point into the document.
    pub fn calendars(&self) -> Result<Calendars, tend_core::Invalid> {
        let cal = Calendars::new(&self.calendar, &self.calendars, &self.policies)?;
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

pub async fn load(s: &AppState) -> Result<Option<(SlaConfig, Calendars)>, AppError> {
    let Some(v) = s.store.get_setting(SETTING).await? else {
        return Ok(None);
    };
    let cfg: SlaConfig = serde_json::from_value(v)
        .map_err(|e| AppError::Internal(format!("stored SLA config: {e}")))?;
    let cal = cfg
        .calendars()
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
    Ok(axum::Json(save(&s, &v, cfg).await?))
}

/// Every check a configuration passes before it is stored (the API and the admin page).
pub async fn validate(s: &AppState, cfg: &SlaConfig) -> Result<Calendars, AppError> {
    let cals = cfg.calendars()?;
    crate::api::escalation::check_escalation(s, &cfg.escalation).await?;
    Ok(cals)
}

/// Validates and stores a configuration as `viewer` (an admin; audited by the store, which
/// also queues the recompute pass). Returns the stored document.
pub async fn save(s: &AppState, viewer: &Viewer, cfg: SlaConfig) -> Result<Value, AppError> {
    require_admin(viewer)?;
    validate(s, &cfg).await?;
    let value = serde_json::to_value(&cfg).map_err(|e| AppError::Internal(e.to_string()))?;
    s.store
        .put_setting(
            SETTING,
            value.clone(),
            Actor::agent(viewer.agent_id),
            s.now(),
        )
        .await?;
    Ok(value)
}

/// The ticket's SLA targets now: the matching policy's name and each target's status.
pub async fn for_ticket(
    s: &AppState,
    viewer: &Viewer,
    t: &Ticket,
) -> Result<Option<(String, Vec<TargetStatus>)>, AppError> {
    Ok(for_ticket_on(s, viewer, t)
        .await?
        .map(|c| (c.policy, c.targets)))
}

/// A ticket's clocks with the calendar they run on.
#[derive(Debug, Clone, Serialize)]
pub struct TicketClock {
    pub policy: String,
    /// The calendar's name (`default` for the default one).
    pub calendar: String,
    /// Why that calendar: `policy`, `group`, `brand` or `default`.
    pub calendar_by: tend_core::sla::ChosenBy,
    pub targets: Vec<TargetStatus>,
}

/// [`for_ticket`] naming the calendar.
pub async fn for_ticket_on(
    s: &AppState,
    viewer: &Viewer,
    t: &Ticket,
) -> Result<Option<TicketClock>, AppError> {
    let Some((cfg, cal)) = load(s).await? else {
        return Ok(None);
    };
    clock_of(s, viewer, t, &cfg, &cal, s.now()).await
}

/// A ticket's clocks under a given configuration (the admin page previews unsaved ones).
pub async fn clock_of(
    s: &AppState,
    viewer: &Viewer,
    t: &Ticket,
    cfg: &SlaConfig,
    cal: &Calendars,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Option<TicketClock>, AppError> {
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
    Ok(
        evaluate_ticket_on(&events, cal, &cfg.policies, None, now).map(|e| TicketClock {
            policy: e.policy.name.clone(),
            calendar: e.calendar.to_string(),
            calendar_by: e.calendar_by,
            targets: e.targets,
        }),
    )
}

pub async fn ticket_sla(
    State(s): State<AppState>,
    Auth(v): Auth,
    Id(id): Id,
) -> ApiResult<axum::Json<Value>> {
    let t = s.store.get_ticket(id, &v).await?;
    Ok(axum::Json(match for_ticket_on(&s, &v, &t).await? {
        Some(c) => json!(c),
        None => json!({ "policy": null, "calendar": null, "targets": [] }),
    }))
}

/// An `sla.check` job queued before migration 0027 (which moved each ticket's next check onto
/// its row): runs that ticket's check like [`run_due_checks`] does.
pub async fn check_ticket(
    store: &dyn tend_store::Store,
    now: chrono::DateTime<chrono::Utc>,
    payload: &Value,
) -> Result<(), String> {
    let id = payload["ticket_id"]
        .as_i64()
        .ok_or("payload has no ticket_id")?;
    check_and_schedule(store, now, id, false).await
}

/// How long a worker holds a ticket's check (a dead worker's check runs again after it).
pub const CHECK_LEASE_SECONDS: i64 = 60;
/// When a check failed, the next try (the check is safe to repeat).
pub const CHECK_RETRY_MINUTES: i64 = 5;

/// The worker's SLA checks (issue 5): claims up to `max` tickets whose next check
/// (`tickets.sla_check_us`) is due at `now` and no other worker holds
/// (`Store::claim_sla_checks`), runs each one's check — records warnings and breaches (each
/// once per target and run), escalates breaches — and stores its next check, the next moment
/// something can happen (`Store::finish_sla_check`; a check a write scheduled meanwhile stays
/// when earlier). A failed check is logged and tried again [`CHECK_RETRY_MINUTES`] later.
/// Safe to run twice: marks already in the ticket's history are not written again. Returns
/// how many checks ran.
pub async fn run_due_checks(
    store: &dyn tend_store::Store,
    now: chrono::DateTime<chrono::Utc>,
    max: i64,
) -> Result<usize, tend_store::StoreError> {
    let lease_until = now + chrono::Duration::seconds(CHECK_LEASE_SECONDS);
    let ids = store.claim_sla_checks(now, lease_until, max).await?;
    let started = std::time::Instant::now();
    for &id in &ids {
        // The earlier checks of this tick may have taken long (a stalled writer): past half
        // the lease, the rest are handed back due at the claim's time, for the next tick to
        // claim afresh, instead of running on a lease that may end mid-check. (The checks
        // themselves use the claim's time: the clock is the caller's, a test's moved one too.)
        if started.elapsed() > std::time::Duration::from_secs(CHECK_LEASE_SECONDS as u64 / 2) {
            store.finish_sla_check(id, lease_until, Some(now)).await?;
            continue;
        }
        // A check that panics fails like one that returns an error; it never takes the
        // worker down.
        let result = match futures::FutureExt::catch_unwind(std::panic::AssertUnwindSafe(check(
            store, now, id, false,
        )))
        .await
        {
            Ok(r) => r,
            Err(_) => Err("the check panicked".to_string()),
        };
        let next = match result {
            Ok(next) => next,
            Err(e) => {
                tracing::warn!(ticket = id, error = %e, "SLA check failed; trying again later");
                Some(now + chrono::Duration::minutes(CHECK_RETRY_MINUTES))
            }
        };
        store.finish_sla_check(id, lease_until, next).await?;
    }
    Ok(ids.len())
}

/// One ticket's check outside the worker's claim (the recompute pass's deferred tickets, the
/// per-ticket reference pass, an old queued job): runs it and schedules its next check (an
/// earlier scheduled one stays).
async fn check_and_schedule(
    store: &dyn tend_store::Store,
    now: chrono::DateTime<chrono::Utc>,
    id: i64,
    quiet: bool,
) -> Result<(), String> {
    if let Some(at) = check(store, now, id, quiet).await? {
        store
            .schedule_sla_check(id, at)
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// One ticket's check; returns when the next one should run (`None`: nothing ahead).
/// `quiet` (the recompute pass after a configuration change or an import): warnings and
/// breaches whose time had already come are not recorded or escalated now — the clock still
/// shows them breached — and only what is still ahead is scheduled.
async fn check(
    store: &dyn tend_store::Store,
    now: chrono::DateTime<chrono::Utc>,
    id: i64,
    quiet: bool,
) -> Result<Option<chrono::DateTime<chrono::Utc>>, String> {
    use std::collections::HashSet;
    use tend_core::sla::SlaState;
    use tend_core::Change;
    let Some(v) = store
        .get_setting(SETTING)
        .await
        .map_err(|e| e.to_string())?
    else {
        return Ok(None);
    };
    let cfg: SlaConfig =
        serde_json::from_value(v).map_err(|e| format!("stored SLA config: {e}"))?;
    let cal = cfg
        .calendars()
        .map_err(|e| format!("stored SLA config: {e}"))?;
    let system = Viewer {
        agent_id: 0,
        role: tend_core::Role::Admin,
        group_ids: vec![],
    };
    let t = match store.get_ticket(id, &system).await {
        Ok(t) => t,
        Err(tend_store::StoreError::NotFound(_)) => return Ok(None),
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
    let Some(targets) =
        evaluate_ticket_on(&events, &cal, &cfg.policies, None, now).map(|e| e.targets)
    else {
        if t.sla_due_at.is_some() {
            store
                .set_sla_due(id, None)
                .await
                .map_err(|e| e.to_string())?;
        }
        return Ok(None);
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
            SlaState::Breached => {
                // Escalation levels (issue 5): each fires once per target, run and level, only
                // after the breach is on record and only while the target is not met; the
                // first level at 0 minutes fires with the breach and is recorded in it.
                let recorded = marks.contains(&(true, metric.clone(), ts.cycle));
                if quiet && !recorded {
                    continue;
                }
                let open = ts.fulfilled_at.is_none();
                let levels = &cfg.escalation.levels;
                if !recorded {
                    let escalated = match levels.first() {
                        Some(l) if open && l.after_minutes == 0 => {
                            crate::escalation::fire_level(
                                store,
                                l,
                                1,
                                &t,
                                &metric,
                                ts.cycle,
                                &ts.explanation,
                                now,
                            )
                            .await?
                        }
                        _ => vec![],
                    };
                    let change = Change::SlaBreached {
                        metric: metric.clone(),
                        cycle: ts.cycle,
                        due_at: due,
                        escalated,
                    };
                    store
                        .record_event(id, change, Actor::SYSTEM, now)
                        .await
                        .map_err(|e| e.to_string())?;
                }
                if !open {
                    continue;
                }
                let mut t = t.clone();
                for (i, l) in levels
                    .iter()
                    .enumerate()
                    .filter(|(_, l)| l.after_minutes > 0)
                {
                    let number = i as u32 + 1;
                    let fired = events.iter().any(|(_, _, c)| {
                        matches!(c, Change::SlaEscalated { metric: m, cycle, level, .. }
                            if *m == metric && *cycle == ts.cycle && *level == number)
                    });
                    if fired {
                        continue;
                    }
                    let at = l.fires_at(due);
                    if now < at {
                        soon(at);
                        break;
                    }
                    if quiet {
                        continue; // the recompute pass only schedules what is ahead
                    }
                    let escalated = crate::escalation::fire_level(
                        store,
                        l,
                        number,
                        &t,
                        &metric,
                        ts.cycle,
                        &ts.explanation,
                        now,
                    )
                    .await?;
                    let change = Change::SlaEscalated {
                        metric: metric.clone(),
                        cycle: ts.cycle,
                        level: number,
                        escalated,
                    };
                    store
                        .record_event(id, change, Actor::SYSTEM, now)
                        .await
                        .map_err(|e| e.to_string())?;
                    // A later level due now too sees this one's changes (group, priority).
                    if let Ok(x) = store.get_ticket(id, &system).await {
                        t = x;
                    }
                }
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
    Ok(next)
}

/// Open tickets per bulk page (one read, one write transaction). Large pages make the write
/// cheap: each transaction rewrites every due-time index page its tickets touch, so at 1M
/// tickets the write took 31.7 s in pages of 5,000, 12–13 s in pages of 25,000 and 10 s in
/// pages of 50,000 (bench/README.md, `sla-recompute`). A 50,000-ticket write holds the SQLite
/// writer for about 0.5 s (other writes wait that long; reads do not).
pub const RECOMPUTE_PAGE: i64 = 50_000;
/// Bulk pages per `sla.recompute` run (then other jobs get a turn).
pub const RECOMPUTE_PAGES_PER_RUN: usize = 1;

/// The `sla.recompute` job: checks every open ticket (new, open, pending, on-hold) in id
/// order, [`RECOMPUTE_PAGES_PER_RUN`] bulk pages of [`RECOMPUTE_PAGE`] per run, then queues
/// itself for the next run, so a restart resumes where it stopped and other jobs get their
/// turn. Each page is read in two queries (`Store::sla_clock_page`), evaluated on all cores
/// and written in one transaction (`Store::set_sla_dues`): the next due time and the next
/// check, as the per-ticket quiet check would store them, one `UPDATE tickets` per ticket
/// whose values change and only while its `last_seq` is the one the page read (a ticket
/// written meanwhile keeps what its own check stores). A change applies from now on:
/// targets already overdue when the pass runs are shown breached by the clock but not
/// recorded or escalated afresh (no burst of escalation mail for imported history). Tickets
/// with a recorded breach, when escalation levels fire later than the breach, go through the
/// per-ticket check (their levels are its business). Returns how many tickets this run checked.
pub async fn recompute(
    store: &dyn tend_store::Store,
    now: chrono::DateTime<chrono::Utc>,
    payload: &Value,
) -> Result<usize, String> {
    let mut after = payload["after_id"].as_i64().unwrap_or(0).max(0);
    let Some(v) = store
        .get_setting(SETTING)
        .await
        .map_err(|e| e.to_string())?
    else {
        return Ok(0);
    };
    let cfg: SlaConfig =
        serde_json::from_value(v).map_err(|e| format!("stored SLA config: {e}"))?;
    let cals = cfg
        .calendars()
        .map_err(|e| format!("stored SLA config: {e}"))?;
    let late_levels = cfg.escalation.levels.iter().any(|l| l.after_minutes > 0);
    let defer = move |t: &tend_store::sla_bulk::SlaClockTicket| late_levels && t.breach_recorded;
    let threads = tend_store::sla_bulk::cores();
    let mut checked = 0;
    for _ in 0..RECOMPUTE_PAGES_PER_RUN {
        let page = tend_store::sla_bulk::recompute_page(
            store,
            &cals,
            &cfg.policies,
            cfg.warn_before_minutes,
            now,
            after,
            RECOMPUTE_PAGE,
            threads,
            &defer,
        )
        .await
        .map_err(|e| e.to_string())?;
        for id in &page.deferred {
            check_and_schedule(store, now, *id, true).await?;
        }
        checked += page.checked;
        let Some(last) = page.last_id else {
            return Ok(checked);
        };
        after = last;
        if !page.more {
            return Ok(checked);
        }
    }
    store
        .schedule_job(
            tend_store::SLA_RECOMPUTE_KEY,
            tend_store::sla_recompute_job(after, now),
        )
        .await
        .map_err(|e| e.to_string())?;
    Ok(checked)
}

/// The per-ticket recompute (one `check` per open ticket, a page of 500): the reference the
/// bulk pass is tested against. Does not queue a next page; returns the last id checked.
pub async fn recompute_per_ticket(
    store: &dyn tend_store::Store,
    now: chrono::DateTime<chrono::Utc>,
    payload: &Value,
) -> Result<Option<i64>, String> {
    const RECOMPUTE_PAGE: i64 = 500;
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
        check_and_schedule(store, now, t.id, true).await?;
    }
    Ok(page
        .next_cursor
        .as_ref()
        .and(page.items.last())
        .map(|t| t.id))
}
