//! Service-level agreements: business calendars, policies and the SLA clock. Pure: time is
//! passed in, nothing is read or written.
//!
//! ```text
//! Calendar::parse / Calendar::new(CalendarSpec) / serde   →  Calendar   (validated)
//! Policy (serde) + Policy::validate / validate_policies    →  ordered policies
//! select_policy(&policies, &TicketFacts)                   →  the first that matches
//! evaluate(&events, &calendar, &policy, now)               →  Vec<TargetStatus>
//! evaluate_ticket(&events, &calendar, &policies, tier, now) does the last two in one go.
//! Calendars::new(default, named, policies).select(policy, group, brand)  →  the calendar
//! evaluate_ticket_on(&events, &calendars, &policies, tier, now)  →  policy, calendar, targets
//! recompute_clock(&clock_events, &facts, …)  →  next due + next check (bulk recompute)
//! ```
//!
//! # Semantics
//! - **Clocks and runs.** Each target measures runs of a clock, in business time of the
//!   calendar (or calendar time when `business_hours` is false):
//!   - *first reply*: from creation to the first **public agent** message. Internal notes,
//!     customer and system messages do not count.
//!   - *next reply*: once the first-reply clock has ended, a public customer message starts a
//!     run unless one is already running (later messages do not restart it: the customer has
//!     waited since the first unanswered one); the next public agent message ends it. Each run
//!     is a separate [`TargetStatus`] with `cycle` 1, 2, …
//!   - *periodic update*: every public agent message on an open ticket starts a run that the
//!     next public agent message ends: agents must post an update at least every N minutes.
//!   - *resolution*: from creation to solved/closed.
//! - **Pauses.** A target's `pause_on` statuses stop its clock (default: `pending` and
//!   `on_hold` pause resolution and periodic update; reply clocks do not pause). `solved` and
//!   `closed` stop every clock. Paused time never counts; it is listed in `paused`.
//! - **Solving** fulfils every running reply/update clock (nobody owes a reply on a solved
//!   ticket) and the resolution clock.
//! - **Reopen** (solved → open) is not a fresh ticket: the resolution clock resumes from where
//!   it stopped (the solved stretch shows as a pause in `solved`), so a resolution met at the
//!   first solve can still be breached after a reopen; it stays fulfilled only at the last
//!   solve. First reply stays as it was. The customer's reopening message starts a next-reply
//!   run. This is the one case in which a fulfilled target can later be breached.
//! - **Policy change** (the ticket's priority, tags, … now match another policy): the clocks
//!   are a function of the whole history and one policy, so the new policy's targets are
//!   evaluated from the ticket's start, as if it had applied all along. Raising a ticket to
//!   urgent therefore can make it breached at once; that is the honest answer to "was this
//!   urgent ticket answered within the urgent target?". Store the result if you need history.
//! - **Due and breach.** `due_at` is the earliest instant at which the clock reaches its target
//!   (e.g. 17:00 when the calendar closes at 17:00). A target is met if fulfilled at or
//!   before `due_at`, breached once wall time passes `due_at`. `breached_by` is clock time
//!   after the target, so it is 0 between closing time and the next opening.
//! - **Events** at or before `now` are used, in the given order; a time earlier than the
//!   previous event's is taken as the previous one's. A history without `Created` starts at
//!   its first event as `new`.
//! - **DST**: see [`calendar`]: shifts last what the wall clock says.
//! - **Explanations** are written in the calendar's zone, also for calendar-time targets.
//!
//! # Performance
//! Business-time arithmetic walks days (one tz lookup per ordinary day) and adds whole
//! weeks at once (see [`calendar`]); nothing iterates minute by minute. Measured with
//! `clock_micro_benchmark` in `tests/sla_cases.rs` (release, one thread, on a shared
//! 2-core machine at load ≈ 4): a typical ticket (8 events over 4 days, 4 targets, 7 runs)
//! takes ≈ 11 µs with [`evaluate`] and ≈ 7 µs with [`evaluate_brief`] (no explanation
//! strings); a ticket open for 12 weeks ≈ 10 µs / 7 µs. So 1M clocks take ≈ 7–11 s on one
//! core.
//!

pub mod calendar;
pub mod eval;
pub mod policy;
pub mod select;

pub use calendar::{holidays_from_ical, Calendar, CalendarSpec, HolidaySpec, ShiftSpec};
pub use eval::{
    clock_events, evaluate, evaluate_brief, evaluate_steps, evaluate_ticket, format_duration,
    next_due, ClockEvent, ClockStep, FulfilledBy, PausedSpan, SlaState, TargetStatus,
};
pub use policy::{
    select_policy, validate_policies, Conditions, Metric, Policy, Target, TicketFacts,
};
pub use select::{
    evaluate_ticket_on, next_check, recompute_clock, Calendars, Chosen, ChosenBy, Evaluation,
    NamedCalendar, Recomputed, DEFAULT_CALENDAR, MAX_CALENDARS,
};

/// One event of a ticket's history: when, who, what.
pub type Event = (chrono::DateTime<chrono::Utc>, crate::Actor, crate::Change);
