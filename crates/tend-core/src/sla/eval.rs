//! The SLA clock: a pure function of a ticket's events, a calendar, a policy and `now`.

use super::calendar::{Calendar, MIN_US};
use super::policy::{select_policy, Metric, Policy, Target, TicketFacts};
use super::Event;
use crate::{ActorKind, Change, Status};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use std::sync::LazyLock;

static ALWAYS: LazyLock<Calendar> = LazyLock::new(Calendar::always);

/// Where a target stands at `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SlaState {
    /// The clock runs; `due_at` is when it runs out.
    Active,
    /// The clock stands still (a pausing status, or a solved ticket a customer wrote to).
    Paused,
    /// Met in time.
    Fulfilled,
    /// Not met by `due_at` (whether or not it was met later).
    Breached,
}

/// What ended a clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FulfilledBy {
    /// A public agent message.
    Reply,
    /// The ticket was solved or closed.
    Solved,
}

/// A stretch in which the clock stood still.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PausedSpan {
    pub from: DateTime<Utc>,
    /// `None`: still paused at `now`.
    pub until: Option<DateTime<Utc>>,
    pub status: Status,
    /// The business (or calendar) time the span kept off the clock.
    #[serde(with = "secs")]
    pub business: Duration,
}

/// One target of one clock run. Durations serialise as whole seconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetStatus {
    pub metric: Metric,
    /// 1 for first reply and resolution; the n-th run for next reply and periodic update.
    pub cycle: u32,
    pub business_hours: bool,
    #[serde(with = "secs")]
    pub target: Duration,
    pub started_at: DateTime<Utc>,
    /// When the clock runs (ran) out. `None` while paused (it moves on resume), or when the
    /// calendar has no open time for it within its horizon. For a target met early, the due
    /// time it had when it was met.
    pub due_at: Option<DateTime<Utc>>,
    /// Time on the clock: business (or calendar) time in which it ran.
    #[serde(with = "secs")]
    pub elapsed: Duration,
    /// `target - elapsed`, never negative.
    #[serde(with = "secs")]
    pub remaining: Duration,
    pub paused: Vec<PausedSpan>,
    pub state: SlaState,
    pub fulfilled_at: Option<DateTime<Utc>>,
    pub fulfilled_by: Option<FulfilledBy>,
    pub breached_at: Option<DateTime<Utc>>,
    /// Clock time past the target (business time for business-hours targets; zero when the
    /// due time passed outside business hours and nothing more has counted).
    #[serde(with = "opt_secs", default)]
    pub breached_by: Option<Duration>,
    /// For people, e.g. "first reply within 1 h business time: due Tue 31 Mar 10:00
    /// Europe/Berlin; paused 15 min in pending; first reply Tue 31 Mar 11:27 → breached by 1 h 12 min".
    pub explanation: String,
}

mod secs {
    use chrono::Duration;
    use serde::{Deserialize, Deserializer, Serializer};
    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i64(d.num_seconds())
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::seconds(
            i64::deserialize(d)?.clamp(-(1 << 40), 1 << 40),
        ))
    }
}

mod opt_secs {
    use chrono::Duration;
    use serde::{Deserialize, Deserializer, Serializer};
    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_some(&d.num_seconds()),
            None => s.serialize_none(),
        }
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        Ok(Option::<i64>::deserialize(d)?.map(|s| Duration::seconds(s.clamp(-(1 << 40), 1 << 40))))
    }
}

#[derive(Debug, Clone, Copy)]
struct Run {
    start: i64,
    end: Option<(i64, FulfilledBy)>,
}

/// The ticket's history reduced to what the clocks need.
struct Timeline {
    /// Status from each instant on; the first entry is the creation.
    statuses: Vec<(i64, Status)>,
    first: Run,
    next: Vec<Run>,
    periodic: Vec<Run>,
    resolution: Run,
}

fn open_run(runs: &[Run]) -> bool {
    runs.last().is_some_and(|r| r.end.is_none())
}

fn end_open(runs: &mut [Run], t: i64, by: FulfilledBy) {
    if let Some(r) = runs.last_mut() {
        if r.end.is_none() {
            r.end = Some((t, by));
        }
    }
}

/// What the clock reads of one event: the few kinds that move it. A history reduced to
/// these (e.g. by a store that reads only those event kinds) evaluates exactly like the full
/// history as long as event times do not go backwards (they never do in a store: each event
/// is stamped with the time of its write).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClockStep {
    /// `Created` with its status.
    Created(Status),
    /// `StatusChanged` to this status.
    Status(Status),
    /// A public message by this kind of author (internal notes do not touch the clock).
    PublicMessage(ActorKind),
    /// Anything else: counts only as a point in time.
    Other,
}

/// One event as the clock sees it: microseconds since the epoch and the step.
pub type ClockEvent = (i64, ClockStep);

impl ClockStep {
    pub fn of(actor: &crate::Actor, change: &Change) -> ClockStep {
        match change {
            Change::Created { status, .. } => ClockStep::Created(*status),
            Change::StatusChanged { to, .. } => ClockStep::Status(*to),
            Change::MessageAdded { public: true, .. } => ClockStep::PublicMessage(actor.kind),
            _ => ClockStep::Other,
        }
    }
}

/// The clock's view of a history.
pub fn clock_events(events: &[Event]) -> Vec<ClockEvent> {
    events
        .iter()
        .map(|(t, a, c)| (t.timestamp_micros(), ClockStep::of(a, c)))
        .collect()
}

impl Timeline {
    /// Replays the events at or before `now` (times forced non-decreasing); `None` if there
    /// are none. A missing `Created` event is read as a ticket created `new` at the first event.
    fn build(events: &[ClockEvent], now: i64) -> Option<Timeline> {
        let mut it = events.iter().filter(|e| e.0 <= now);
        let &(created, first_step) = it.next()?;
        let status = match first_step {
            ClockStep::Created(status) => status,
            _ => Status::New,
        };
        let mut tl = Timeline {
            statuses: vec![(created, status)],
            first: Run {
                start: created,
                end: None,
            },
            next: Vec::new(),
            periodic: Vec::new(),
            resolution: Run {
                start: created,
                end: None,
            },
        };
        let mut status = status;
        let mut last_solve = created;
        if !status.is_open() {
            tl.solve(created);
        }
        let mut last_t = created;
        let first = (created, first_step);
        let head = std::iter::once(&first).filter(|(_, c)| !matches!(c, ClockStep::Created(_)));
        for &(t, step) in head.chain(it) {
            let t = t.max(last_t);
            last_t = t;
            match step {
                ClockStep::Status(to) => {
                    let was = status;
                    status = to;
                    tl.statuses.push((t, status));
                    if was.is_open() && !status.is_open() {
                        tl.solve(t);
                        last_solve = t;
                    }
                }
                ClockStep::PublicMessage(kind) => match kind {
                    ActorKind::Agent => tl.agent_reply(t, status),
                    ActorKind::Customer => tl.customer_message(t),
                    ActorKind::System => {}
                },
                ClockStep::Created(_) | ClockStep::Other => {}
            }
        }
        if !status.is_open() {
            tl.resolution.end = Some((last_solve, FulfilledBy::Solved));
        }
        Some(tl)
    }

    /// Solving fulfils every reply clock that is running; a periodic run begun by a reply at
    /// the same instant is dropped (reply-and-solve starts no update clock).
    fn solve(&mut self, t: i64) {
        if self.first.end.is_none() {
            self.first.end = Some((t, FulfilledBy::Solved));
        }
        end_open(&mut self.next, t, FulfilledBy::Solved);
        if self
            .periodic
            .last()
            .is_some_and(|r| r.end.is_none() && r.start == t)
        {
            self.periodic.pop();
        }
        end_open(&mut self.periodic, t, FulfilledBy::Solved);
    }

    fn agent_reply(&mut self, t: i64, status: Status) {
        if self.first.end.is_none() {
            self.first.end = Some((t, FulfilledBy::Reply));
        }
        end_open(&mut self.next, t, FulfilledBy::Reply);
        end_open(&mut self.periodic, t, FulfilledBy::Reply);
        if status.is_open() {
            self.periodic.push(Run {
                start: t,
                end: None,
            });
        }
    }

    fn customer_message(&mut self, t: i64) {
        if self.first.end.is_some() && !open_run(&self.next) {
            self.next.push(Run {
                start: t,
                end: None,
            });
        }
    }

    fn runs(&self, m: Metric) -> &[Run] {
        match m {
            Metric::FirstReply => std::slice::from_ref(&self.first),
            Metric::NextReply => &self.next,
            Metric::PeriodicUpdate => &self.periodic,
            Metric::Resolution => std::slice::from_ref(&self.resolution),
        }
    }
}

/// The status of every target of `policy` for the ticket whose history is `events`, as of
/// `now`. Events after `now` are ignored. Next-reply and periodic-update targets give one
/// entry per run, oldest first (the last is the current one); others give one entry.
///
/// Never fails and never loops without bound: validate calendars and policies when they are
/// saved. A target of zero or negative length (which `Policy::validate` rejects) is due at
/// its start.
pub fn evaluate(
    events: &[Event],
    calendar: &Calendar,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Vec<TargetStatus> {
    let mut out = evaluate_brief(events, calendar, policy, now);
    for st in &mut out {
        st.explanation = st.explain(calendar);
    }
    out
}

/// [`evaluate`] without the explanations (`explanation` is left empty), for bulk
/// recomputation: writing them is about 40% of the cost. [`TargetStatus::explain`] writes
/// one when someone looks.
pub fn evaluate_brief(
    events: &[Event],
    calendar: &Calendar,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Vec<TargetStatus> {
    evaluate_steps(&clock_events(events), calendar, policy, now)
}

/// [`evaluate_brief`] on the clock's view of a history ([`clock_events`]): what the bulk
/// recompute runs on the few event kinds it reads.
pub fn evaluate_steps(
    events: &[ClockEvent],
    calendar: &Calendar,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Vec<TargetStatus> {
    let now_us = now.timestamp_micros();
    let Some(tl) = Timeline::build(events, now_us) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for target in &policy.targets {
        for (i, run) in tl.runs(target.metric).iter().enumerate() {
            out.push(run_status(&tl, run, i as u32 + 1, target, calendar, now_us));
        }
    }
    out
}

/// Picks the policy that matches the ticket's facts as of `now` and evaluates the whole
/// history with it: after a policy change the new policy applies from the ticket's start.
pub fn evaluate_ticket<'a>(
    events: &[Event],
    calendar: &Calendar,
    policies: &'a [Policy],
    tier: Option<&str>,
    now: DateTime<Utc>,
) -> Option<(&'a Policy, Vec<TargetStatus>)> {
    let facts = TicketFacts::from_events(events, tier, Some(now))?;
    let policy = select_policy(policies, &facts)?;
    Some((policy, evaluate(events, calendar, policy, now)))
}

fn run_status(
    tl: &Timeline,
    run: &Run,
    cycle: u32,
    target: &Target,
    zone_cal: &Calendar,
    now: i64,
) -> TargetStatus {
    let cal: &Calendar = if target.business_hours {
        zone_cal
    } else {
        &ALWAYS
    };
    let stop = run.end.map_or(now, |e| e.0).max(run.start);
    let target_us = target.minutes.saturating_mul(MIN_US);

    // Split [start, stop) by status into running and paused stretches.
    let mut active: Vec<(i64, i64)> = Vec::new();
    let mut paused: Vec<(i64, i64, Status)> = Vec::new();
    for (i, &(t, s)) in tl.statuses.iter().enumerate() {
        let seg_end = tl.statuses.get(i + 1).map_or(i64::MAX, |n| n.0);
        let (lo, hi) = (t.max(run.start), seg_end.min(stop));
        if hi <= lo {
            continue;
        }
        if target.pauses_in(s) {
            match paused.last_mut() {
                Some(p) if p.1 == lo && p.2 == s => p.1 = hi,
                _ => paused.push((lo, hi, s)),
            }
        } else {
            match active.last_mut() {
                Some(a) if a.1 == lo => a.1 = hi,
                _ => active.push((lo, hi)),
            }
        }
    }
    let status_now = tl.statuses.last().map_or(Status::New, |s| s.1);
    let paused_now = run.end.is_none() && target.pauses_in(status_now);
    if paused_now && paused.last().is_none_or(|p| p.1 < now || p.2 != status_now) {
        // Paused from this very instant: an empty span still says since when and why.
        paused.push((now, now, status_now));
    }

    let mut elapsed = 0i64;
    let mut due = (target_us <= 0).then_some(run.start);
    for &(a, b) in &active {
        let d = cal.business_us(a, b);
        if due.is_none() && elapsed + d >= target_us {
            due = cal.add_us(a, target_us - elapsed);
        }
        elapsed += d;
    }
    let remaining = (target_us - elapsed).max(0);

    let (state, due_at, breached_at) = match (run.end, due) {
        (Some((f, _)), Some(d)) if d < f => (SlaState::Breached, Some(d), Some(d)),
        (Some((f, _)), d) => (
            SlaState::Fulfilled,
            d.or_else(|| cal.add_us(f, remaining)),
            None,
        ),
        (None, Some(d)) if d < now => (SlaState::Breached, Some(d), Some(d)),
        (None, _) if paused_now => (SlaState::Paused, None, None),
        (None, d) => (
            SlaState::Active,
            d.or_else(|| cal.add_us(now, remaining)),
            None,
        ),
    };
    let breached_by = breached_at.map(|_| (elapsed - target_us).max(0));

    let last = paused.len().wrapping_sub(1);
    let paused: Vec<PausedSpan> = paused
        .into_iter()
        .enumerate()
        .map(|(i, (a, b, status))| PausedSpan {
            from: at(a),
            until: (!(paused_now && i == last)).then(|| at(b)),
            status,
            business: Duration::microseconds(cal.business_us(a, b)),
        })
        .collect();

    TargetStatus {
        metric: target.metric,
        cycle,
        business_hours: target.business_hours,
        target: Duration::microseconds(target_us),
        started_at: at(run.start),
        due_at: due_at.map(at),
        elapsed: Duration::microseconds(elapsed),
        remaining: Duration::microseconds(remaining),
        paused,
        state,
        fulfilled_at: run.end.map(|e| at(e.0)),
        fulfilled_by: run.end.map(|e| e.1),
        breached_at: breached_at.map(at),
        breached_by: breached_by.map(Duration::microseconds),
        explanation: String::new(),
    }
}

fn at(us: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(us).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// `Tue 31 Mar 10:00` (what `%a %d %b %H:%M` gives, without parsing a format each time).
fn local_time(t: chrono::NaiveDateTime) -> String {
    use chrono::{Datelike, Timelike};
    const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{} {:02} {} {:02}:{:02}",
        DAYS[t.weekday().num_days_from_monday() as usize],
        t.day(),
        MONTHS[t.month0() as usize],
        t.hour(),
        t.minute()
    )
}

/// `1 h 12 min`, `45 min`, `3 h`, `20 s`; whole minutes, rounded down.
pub fn format_duration(d: Duration) -> String {
    let secs = d.num_seconds();
    if secs < 0 {
        return format!("-{}", format_duration(-d));
    }
    if secs > 0 && secs < 60 {
        return format!("{secs} s");
    }
    let (h, m) = (secs / 3600, (secs % 3600) / 60);
    match (h, m) {
        (0, m) => format!("{m} min"),
        (h, 0) => format!("{h} h"),
        (h, m) => format!("{h} h {m} min"),
    }
}

/// The earliest due time among targets not met yet: running ones, and breached ones nobody
/// has met since (their due time lies in the past, so they sort first). Paused targets have
/// no due time and met ones are done. What the "SLA at risk" view and the sort by next due
/// order by.
pub fn next_due(targets: &[TargetStatus]) -> Option<DateTime<Utc>> {
    targets
        .iter()
        .filter(|t| match t.state {
            SlaState::Active => true,
            SlaState::Breached => t.fulfilled_at.is_none(),
            SlaState::Paused | SlaState::Fulfilled => false,
        })
        .filter_map(|t| t.due_at)
        .min()
}

impl TargetStatus {
    /// The status the clock is paused in at `now`, if it is.
    pub fn paused_in(&self) -> Option<Status> {
        self.paused
            .last()
            .filter(|p| p.until.is_none())
            .map(|p| p.status)
    }

    /// What [`evaluate`] puts in `explanation`, with times in the calendar's zone.
    pub fn explain(&self, calendar: &Calendar) -> String {
        explain(self, calendar, None)
    }

    /// [`TargetStatus::explain`] naming the calendar: "… business time (calendar berlin): …".
    pub fn explain_named(&self, calendar: &Calendar, name: &str) -> String {
        explain(self, calendar, Some(name))
    }
}

fn explain(st: &TargetStatus, cal: &Calendar, name: Option<&str>) -> String {
    let tz = cal.time_zone();
    let local = |t: DateTime<Utc>| local_time(t.with_timezone(&tz).naive_local());
    let what = match st.metric {
        Metric::FirstReply | Metric::Resolution => st.metric.label().to_string(),
        m => format!("{} #{}", m.label(), st.cycle),
    };
    let kind = if st.business_hours {
        "business"
    } else {
        "calendar"
    };
    let named = name.map(|n| format!(" (calendar {n})")).unwrap_or_default();
    let mut parts = vec![format!(
        "{what} within {} {kind} time{named}",
        format_duration(st.target)
    )];
    let mut head = match (st.due_at, st.state) {
        (Some(d), _) => format!("due {} {}", local(d), tz.name()),
        (None, SlaState::Paused) => match st.paused.last() {
            Some(p) => format!(
                "paused in {} since {} {}",
                p.status,
                local(p.from),
                tz.name()
            ),
            None => "paused".to_string(),
        },
        (None, _) => format!(
            "no due time: the calendar has no open hours for it within {} years",
            super::calendar::HORIZON_DAYS / 366
        ),
    };
    if let Some(first) = parts.pop() {
        head = format!("{first}: {head}");
    }
    parts.push(head);

    // Paused business time by status, in order of first appearance.
    let mut by_status: Vec<(Status, Duration)> = Vec::new();
    for p in &st.paused {
        match by_status.iter_mut().find(|(s, _)| *s == p.status) {
            Some((_, d)) => *d += p.business,
            None => by_status.push((p.status, p.business)),
        }
    }
    let paused: Vec<String> = by_status
        .iter()
        .filter(|(_, d)| *d > Duration::zero())
        .map(|(s, d)| format!("{} in {s}", format_duration(*d)))
        .collect();
    if !paused.is_empty() {
        parts.push(format!("paused {}", paused.join(", ")));
    }

    let done_word = |by: FulfilledBy| match (by, st.metric) {
        (FulfilledBy::Solved, _) | (_, Metric::Resolution) => "solved",
        (FulfilledBy::Reply, Metric::FirstReply) => "first reply",
        (FulfilledBy::Reply, Metric::NextReply) => "replied",
        (FulfilledBy::Reply, Metric::PeriodicUpdate) => "updated",
    };
    let not_yet = match st.metric {
        Metric::FirstReply | Metric::NextReply => "no reply yet",
        Metric::PeriodicUpdate => "no update yet",
        Metric::Resolution => "not solved yet",
    };
    let by = st.breached_by.map(format_duration).unwrap_or_default();
    parts.push(match (st.state, st.fulfilled_at, st.fulfilled_by) {
        (SlaState::Fulfilled, Some(f), Some(b)) if st.remaining > Duration::zero() => {
            format!(
                "{} {} → met with {} to spare",
                done_word(b),
                local(f),
                format_duration(st.remaining)
            )
        }
        (SlaState::Fulfilled, Some(f), Some(b)) => {
            format!("{} {} → met just in time", done_word(b), local(f))
        }
        (SlaState::Breached, Some(f), Some(b)) => {
            format!("{} {} → breached by {by}", done_word(b), local(f))
        }
        (SlaState::Breached, ..) if st.paused_in().is_some_and(|s| s.is_open()) => {
            let s = st.paused_in().unwrap_or(Status::Pending);
            format!("{not_yet} (paused in {s}) → breached by {by} so far")
        }
        (SlaState::Breached, ..) => format!("{not_yet} → breached by {by} so far"),
        (SlaState::Paused, ..) => format!(
            "{} of {} left; the due time moves on when the clock resumes",
            format_duration(st.remaining),
            format_duration(st.target)
        ),
        _ => format!(
            "{} of {} left",
            format_duration(st.remaining),
            format_duration(st.target)
        ),
    });
    parts.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(state: SlaState, due: Option<i64>, fulfilled: Option<i64>) -> TargetStatus {
        let t = |h: i64| DateTime::<Utc>::from_timestamp(1_774_940_400 + h * 3600, 0).unwrap();
        TargetStatus {
            metric: Metric::FirstReply,
            cycle: 1,
            business_hours: false,
            target: Duration::hours(1),
            started_at: t(0),
            due_at: due.map(t),
            elapsed: Duration::zero(),
            remaining: Duration::zero(),
            paused: vec![],
            state,
            fulfilled_at: fulfilled.map(t),
            fulfilled_by: None,
            breached_at: None,
            breached_by: None,
            explanation: String::new(),
        }
    }

    #[test]
    fn next_due_is_the_earliest_target_not_met() {
        assert_eq!(next_due(&[]), None);
        // Met and paused targets never count, whatever their due time.
        let done = [
            target(SlaState::Fulfilled, Some(1), Some(0)),
            target(SlaState::Paused, None, None),
        ];
        assert_eq!(next_due(&done), None);
        // A running target due at +5 h and one due at +3 h: +3 h.
        let running = [
            target(SlaState::Active, Some(5), None),
            target(SlaState::Active, Some(3), None),
            target(SlaState::Fulfilled, Some(1), Some(0)),
        ];
        assert_eq!(next_due(&running), running[1].due_at);
        // A breach nobody has answered yet (due +1 h) comes before a running target (+3 h);
        // a breach that was met late (due +0 h, met +2 h) no longer counts.
        let breached = [
            target(SlaState::Active, Some(3), None),
            target(SlaState::Breached, Some(1), None),
            target(SlaState::Breached, Some(0), Some(2)),
        ];
        assert_eq!(next_due(&breached), breached[1].due_at);
    }
}
