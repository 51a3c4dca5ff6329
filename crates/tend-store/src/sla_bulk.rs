//! SLA bulk recompute (issue 5): every open ticket's clock after a configuration change.
//!
//! A pass walks the open tickets (new, open, pending, on_hold) in id order, a page at a time
//! ([`crate::Store::sla_clock_page`]: one query for the tickets' current facts and one for
//! the few event kinds the clock reads — created, status changes and public messages),
//! evaluates each clock with the pure [`tend_core::sla::recompute_clock`] on all cores, and
//! writes the page's due times and next checks in one transaction
//! ([`crate::Store::set_sla_dues`]: one `UPDATE tickets` per ticket whose due time changed
//! or whose next check moves earlier, applied only while the ticket's `last_seq` is the one
//! the page read, so a write or a per-ticket check in between keeps its newer values). The
//! next check is a column on the ticket (`sla_check_us`, migration 0027) that the worker
//! claims through an index (see [`crate::Store::claim_sla_checks`]). It gives what the per-ticket quiet check gives: the
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
    /// The stored next check (`tickets.sla_check_us`).
    pub sla_check_at: Option<DateTime<Utc>>,
    /// The ticket's last event when the page was read: the write applies only if it has not
    /// moved since (a write or a per-ticket check in between has newer facts).
    pub last_seq: i64,
    /// Whether its history records an SLA breach (escalation levels after a recorded breach
    /// are the per-ticket check's business: see [`recompute_page`]'s `defer`).
    pub breach_recorded: bool,
}

/// What to store for one ticket: one conditional `UPDATE tickets` (skipped when the ticket's
/// `last_seq` moved since the page was read).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlaDueUpdate {
    pub ticket_id: i64,
    /// The `last_seq` the page read; the write is skipped when it differs now.
    pub last_seq: i64,
    /// The next due time (`tickets.sla_due_us`).
    pub due: Option<DateTime<Utc>>,
    /// Whether `due` differs from the stored one (otherwise the due column is not written).
    pub due_changed: bool,
    /// Moves the ticket's next check (`tickets.sla_check_us`) to then, unless one is already
    /// scheduled earlier (an earlier check stays earlier).
    pub next_check: Option<DateTime<Utc>>,
}

/// Whether scheduling a check at `next` changes a stored check at `stored`: only an earlier
/// time does (see [`SlaDueUpdate::next_check`]).
pub fn check_moves(stored: Option<DateTime<Utc>>, next: Option<DateTime<Utc>>) -> bool {
    match (stored, next) {
        (_, None) => false,
        (None, Some(_)) => true,
        (Some(s), Some(n)) => n < s,
    }
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
            last_seq: t.last_seq,
            due: r.due,
            due_changed: r.due != t.sla_due_at,
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
/// changed due time or an earlier check; a ticket whose stored values already match is not
/// written). `updates` are in the page's order.
pub fn due_writes(
    page: &[SlaClockTicket],
    updates: Vec<SlaDueUpdate>,
) -> (usize, Vec<SlaDueUpdate>) {
    let changed = updates.iter().filter(|u| u.due_changed).count();
    let writes = page
        .iter()
        .zip(updates)
        .filter(|(t, u)| u.due_changed || check_moves(t.sla_check_at, u.next_check))
        .map(|(t, mut u)| {
            if !check_moves(t.sla_check_at, u.next_check) {
                u.next_check = None;
            }
            u
        })
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

    fn t(h: u32) -> Option<DateTime<Utc>> {
        chrono::NaiveDate::from_ymd_opt(2026, 3, 2)
            .and_then(|d| d.and_hms_opt(h, 0, 0))
            .map(|d| d.and_utc())
    }

    #[test]
    fn only_an_earlier_check_moves_the_stored_one() {
        assert!(check_moves(None, t(10)));
        assert!(check_moves(t(11), t(10)));
        assert!(!check_moves(t(10), t(10)));
        assert!(!check_moves(t(9), t(10)));
        assert!(!check_moves(t(9), None));
        assert!(!check_moves(None, None));
    }

    #[test]
    fn due_writes_skip_tickets_already_right() {
        let ticket = |id: i64, due, check| SlaClockTicket {
            id,
            facts: TicketFacts {
                priority: tend_core::Priority::Normal,
                channel: tend_core::Channel::Email,
                group_id: None,
                tier: None,
                tags: vec![],
                fields: Default::default(),
                brand_id: None,
            },
            events: vec![],
            sla_due_at: due,
            sla_check_at: check,
            last_seq: id * 10,
            breach_recorded: false,
        };
        let page = vec![
            ticket(1, t(12), t(11)), // unchanged
            ticket(2, t(12), t(11)), // due moves, check later: due only
            ticket(3, t(12), t(11)), // check earlier only
            ticket(4, None, None),   // both new
        ];
        let update = |id: i64, due, due_changed, next_check| SlaDueUpdate {
            ticket_id: id,
            last_seq: id * 10,
            due,
            due_changed,
            next_check,
        };
        let updates = vec![
            update(1, t(12), false, t(11)),
            update(2, t(13), true, t(12)),
            update(3, t(12), false, t(10)),
            update(4, t(13), true, t(12)),
        ];
        let (changed, writes) = due_writes(&page, updates);
        assert_eq!(changed, 2);
        assert_eq!(
            writes,
            vec![
                update(2, t(13), true, None),
                update(3, t(12), false, t(10)),
                update(4, t(13), true, t(12)),
            ]
        );
    }

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
