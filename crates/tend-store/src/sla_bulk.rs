//! SLA bulk recompute (issue 5): every open ticket's clock after a configuration change.
//!
//! A pass walks the open tickets (new, open, pending, on_hold) in id order, a page at a time
//! ([`crate::Store::sla_clock_page`]: one query for the tickets' current facts and one for
//! the few event kinds the clock reads — created, status changes and public messages),
//! evaluates each clock with the pure [`tend_core::sla::recompute_clock`] on all cores, and
//! writes the page's due times and next checks in one transaction
//! ([`crate::Store::set_sla_dues`]). It gives what the per-ticket quiet check gives: the
//! clock reads nothing else, and the ticket row is the projection of the same events.

use crate::{Result, Store};
use chrono::{DateTime, Utc};
use tend_core::sla::{recompute_clock, Calendars, ClockEvent, ClockStep, Policy, TicketFacts};
use tend_core::{ActorKind, Status};

/// The event kinds a page reads: what the clock reads (see [`ClockStep`]) and breach marks.
pub const CLOCK_EVENT_KINDS: [&str; 4] = [
    "ticket.created",
    "ticket.status_changed",
    "ticket.message_added",
    "ticket.sla_breached",
];

/// A stored event as a page reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageStep {
    Clock(ClockStep),
    BreachRecorded,
}

/// The statuses a recompute pass visits.
pub const OPEN_STATUSES: [Status; 4] = [Status::New, Status::Open, Status::Pending, Status::OnHold];

/// One open ticket as the clock needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct SlaClockTicket {
    pub id: i64,
    /// From the ticket row (`tier` is not set: the SLA clock does not look it up).
    pub facts: TicketFacts,
    /// Its created, status-changed and public-message events, in order.
    pub events: Vec<ClockEvent>,
    /// The stored next due time.
    pub sla_due_at: Option<DateTime<Utc>>,
    /// Whether its history records an SLA breach (escalation levels after a recorded breach
    /// are the per-ticket check's business: see [`recompute_page`]'s `defer`).
    pub breach_recorded: bool,
}

/// What to store for one ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlaDueUpdate {
    pub ticket_id: i64,
    /// The next due time (`tickets.sla_due_us`); written only when it changes.
    pub due: Option<DateTime<Utc>>,
    /// Schedules the ticket's `sla.check` job then (an earlier queued run stays earlier).
    pub next_check: Option<DateTime<Utc>>,
}

/// A stored event as a clock step: `value` is the created event's `status`, the status
/// change's `to`, or the message's `public` flag as `true`/`false`/`1`/`0`. `None`: the
/// clock skips it (internal notes, unknown kinds).
pub fn clock_step(kind: &str, actor_kind: &str, value: Option<&str>) -> Option<PageStep> {
    if kind == "ticket.sla_breached" {
        return Some(PageStep::BreachRecorded);
    }
    let step = match kind {
        "ticket.created" => Some(ClockStep::Created(
            value.and_then(|v| v.parse().ok()).unwrap_or(Status::New),
        )),
        "ticket.status_changed" => value.and_then(|v| v.parse().ok()).map(ClockStep::Status),
        "ticket.message_added" => matches!(value, Some("true" | "1"))
            .then(|| ClockStep::PublicMessage(ActorKind::parse(actor_kind))),
        _ => None,
    };
    step.map(PageStep::Clock)
}

/// Groups `(ticket_id, at_us, step)` rows (ordered by ticket, then seq) onto the tickets
/// (ordered by id).
pub fn attach_events(tickets: &mut [SlaClockTicket], rows: Vec<(i64, i64, PageStep)>) {
    let mut i = 0;
    for (tid, at, step) in rows {
        while i < tickets.len() && tickets[i].id < tid {
            i += 1;
        }
        match (tickets.get_mut(i), step) {
            (Some(t), PageStep::Clock(step)) if t.id == tid => t.events.push((at, step)),
            (Some(t), PageStep::BreachRecorded) if t.id == tid => t.breach_recorded = true,
            _ => {}
        }
    }
}

/// The result of one page.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PageOutcome {
    /// Open tickets checked.
    pub checked: usize,
    /// Of those, how many got a new due time.
    pub changed: usize,
    /// The last ticket id of the page, to continue after; `None` when the page was empty.
    pub last_id: Option<i64>,
    /// Whether the page was full (there may be more).
    pub more: bool,
    /// Tickets `defer` picked: not written; the caller checks them one by one.
    pub deferred: Vec<i64>,
}

/// Evaluates tickets on up to `threads` threads (pure work; order kept).
pub fn evaluate_page(
    tickets: &[SlaClockTicket],
    calendars: &Calendars,
    policies: &[Policy],
    warn_before_minutes: i64,
    now: DateTime<Utc>,
    threads: usize,
) -> Vec<SlaDueUpdate> {
    let one = |t: &SlaClockTicket| {
        let r = recompute_clock(
            &t.events,
            &t.facts,
            calendars,
            policies,
            warn_before_minutes,
            now,
        );
        SlaDueUpdate {
            ticket_id: t.id,
            due: r.due,
            next_check: r.next_check,
        }
    };
    let threads = threads.max(1);
    if threads == 1 || tickets.len() < 256 {
        return tickets.iter().map(one).collect();
    }
    let chunk = tickets.len().div_ceil(threads);
    std::thread::scope(|s| {
        let parts: Vec<_> = tickets
            .chunks(chunk)
            .map(|c| s.spawn(move || c.iter().map(one).collect::<Vec<_>>()))
            .collect();
        parts
            .into_iter()
            // A panicking evaluation fails the whole page (the job fails and is retried, like
            // an error) rather than dropping that chunk and misaligning the rest.
            .flat_map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    })
}

/// Of a page's evaluations: how many due times changed, and the updates worth writing (a
/// changed due time or a check to schedule). `updates` are in the page's order.
pub fn due_writes(
    page: &[SlaClockTicket],
    updates: Vec<SlaDueUpdate>,
) -> (usize, Vec<SlaDueUpdate>) {
    let changed = page
        .iter()
        .zip(&updates)
        .filter(|(t, u)| t.sla_due_at != u.due)
        .count();
    let writes = page
        .iter()
        .zip(updates)
        .filter(|(t, u)| t.sla_due_at != u.due || u.next_check.is_some())
        .map(|(_, u)| u)
        .collect();
    (changed, writes)
}

/// The available cores.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// One page of a pass: reads up to `limit` open tickets after `after_id`, evaluates them,
/// stores the due times that changed and schedules the next checks. Tickets for which
/// `defer` says yes are left out and returned in [`PageOutcome::deferred`].
#[allow(clippy::too_many_arguments)]
pub async fn recompute_page(
    store: &dyn Store,
    calendars: &Calendars,
    policies: &[Policy],
    warn_before_minutes: i64,
    now: DateTime<Utc>,
    after_id: i64,
    limit: i64,
    threads: usize,
    defer: &(dyn Fn(&SlaClockTicket) -> bool + Sync),
) -> Result<PageOutcome> {
    let mut page = store.sla_clock_page(after_id, limit).await?;
    let checked = page.len();
    let last_id = page.last().map(|t| t.id);
    let mut deferred = Vec::new();
    page.retain(|t| {
        let d = defer(t);
        if d {
            deferred.push(t.id);
        }
        !d
    });
    let updates = evaluate_page(
        &page,
        calendars,
        policies,
        warn_before_minutes,
        now,
        threads,
    );
    let (changed, writes) = due_writes(&page, updates);
    if !writes.is_empty() {
        store.set_sla_dues(writes).await?;
    }
    Ok(PageOutcome {
        checked,
        changed,
        last_id,
        more: checked as i64 >= limit && limit > 0,
        deferred,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_from_stored_values() {
        assert_eq!(
            clock_step("ticket.created", "customer", Some("open")),
            Some(PageStep::Clock(ClockStep::Created(Status::Open)))
        );
        assert_eq!(
            clock_step("ticket.status_changed", "agent", Some("solved")),
            Some(PageStep::Clock(ClockStep::Status(Status::Solved)))
        );
        assert_eq!(
            clock_step("ticket.message_added", "agent", Some("1")),
            Some(PageStep::Clock(ClockStep::PublicMessage(ActorKind::Agent)))
        );
        assert_eq!(
            clock_step("ticket.message_added", "agent", Some("false")),
            None
        );
        assert_eq!(clock_step("ticket.tags_changed", "agent", None), None);
        assert_eq!(
            clock_step("ticket.sla_breached", "system", None),
            Some(PageStep::BreachRecorded)
        );
    }
}
