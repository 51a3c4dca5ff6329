//! Ticket metrics: one engine behind every number. [`TicketFacts::from_events`] reads one
//! ticket's ordered history once; every response/resolution time, count and roll-up comes
//! from those facts.
//!
//! Times come in two variants: calendar time ([`TicketFacts::calendar_times`]) and any
//! other measure of elapsed time the caller supplies, typically business hours
//! ([`TicketFacts::times`] takes `&dyn Fn(from, to) -> Duration`), so this module does not
//! depend on calendars. Nothing here reads the clock: an open wait has no duration yet.
//!
//! Pauses (pending, on-hold) do not stop these clocks; SLAs are a separate concern.

use crate::sla::{Metric as SlaMetric, SlaState, TargetStatus};
use crate::{Actor, ActorKind, Change, Channel, Invalid, Priority, Status};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One event of a ticket's history: when, who, what.
pub type Event = (DateTime<Utc>, Actor, Change);

/// The `Linked` relation that marks a ticket as merged into another.
pub const MERGED_INTO: &str = "merged_into";

/// Elapsed time from the first instant to the second, as the caller measures it
/// (e.g. business hours).
pub type DurationFn<'a> = &'a dyn Fn(DateTime<Utc>, DateTime<Utc>) -> Duration;

/// Plain calendar time: `to − from`.
pub fn calendar_duration(from: DateTime<Utc>, to: DateTime<Utc>) -> Duration {
    to - from
}

/// An interval measured with `measure`; zero when `to` is not after `from` (histories
/// with clock skew), without calling `measure`.
fn measured(measure: DurationFn<'_>, from: DateTime<Utc>, to: DateTime<Utc>) -> Duration {
    if to > from {
        measure(from, to)
    } else {
        Duration::zero()
    }
}

/// The reporting dimensions of a ticket. `None` means "not set" on a ticket, and "all"
/// in a roll-up key that drops the dimension.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Dimensions {
    pub channel: Option<Channel>,
    pub priority: Option<Priority>,
    pub group_id: Option<i64>,
    pub assignee_id: Option<i64>,
    pub brand_id: Option<i64>,
    /// Tags, sorted. On a ticket: the tag set it is counted under (see
    /// [`TicketFacts::dimensions`]); in a roll-up key of the tag grains: one tag, or none for
    /// the untagged tickets.
    #[serde(default)]
    pub tags: Vec<String>,
    /// The requester's language (BCP 47) when the ticket was created; the stores supply it
    /// (events do not carry it).
    #[serde(default)]
    pub language: Option<String>,
}

/// A customer waiting for an agent's public reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Wait {
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
}

/// What one ticket's history says, for metrics.
///
/// Rules:
/// - **Replies** are public messages by an agent. Internal notes, system messages
///   (automations, auto-responders) and customer messages are not replies.
/// - **Opening message**: the first `MessageAdded` at the creation instant authored by the
///   ticket's creator is the request itself, not a reply. This matters when an agent creates
///   a ticket on behalf of a customer: the agent's opening message does not answer the
///   ticket; the clock starts at creation and the next public agent message is the first
///   response.
/// - **First response**: from creation to the first reply.
/// - **Next responses**: after the first reply, each public customer message starts a wait
///   (unless one is already running) that the next reply ends.
/// - **Solve**: every transition from an open status (new, open, pending, on-hold) to solved
///   or closed; a ticket created solved or closed is solved at creation. Solved → closed is
///   not a new solve.
/// - **Reopen**: every transition from solved or closed to an open status.
/// - Events are taken in the given order; timestamps that go backwards give zero-length
///   intervals rather than negative ones.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TicketFacts {
    pub created_at: DateTime<Utc>,
    pub created_by: Actor,
    /// Status after the last event.
    pub status: Status,
    /// Dimensions after the last event. `tags`: the tag set at the last solve for a ticket
    /// solved now (tags changed after the solve do not move it), else the current tag set.
    /// `language` is left `None`: the caller sets it (it is not in the events).
    pub dimensions: Dimensions,
    /// Closed as merged into another ticket: given by the caller, or a `Linked` event with
    /// the relation `merged_into` in the history.
    pub merged: bool,
    pub first_response_at: Option<DateTime<Utc>>,
    /// Answered waits after the first reply, in order.
    pub next_response_waits: Vec<Wait>,
    /// A customer message after the first reply that no reply has answered yet.
    pub awaiting_reply_since: Option<DateTime<Utc>>,
    /// When each reply (public agent message, opening message excluded) was posted.
    pub agent_replies: Vec<DateTime<Utc>>,
    /// When each solve happened.
    pub solves: Vec<DateTime<Utc>>,
    /// When each reopen happened.
    pub reopens: Vec<DateTime<Utc>>,
    /// Time logged on the agents' messages (public replies and internal notes, the opening
    /// message of an agent-created ticket included), in order. Customers' and system
    /// messages never count, even if an event carried time.
    #[serde(default)]
    pub logged: Vec<LoggedTime>,
}

/// Time an agent logged on one of a ticket's messages (`time_spent_seconds` of a
/// `MessageAdded` by an agent).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoggedTime {
    pub at: DateTime<Utc>,
    pub agent_id: Option<i64>,
    pub seconds: u32,
}

/// Response and resolution times of one ticket, in one measure of time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseTimes {
    pub first_response: Option<Duration>,
    pub next_responses: Vec<Duration>,
    /// Creation to the first solve. `None` if never solved or merged.
    pub first_resolution: Option<Duration>,
    /// Creation to the last solve, for tickets solved now. `None` if open or merged.
    pub full_resolution: Option<Duration>,
}

fn bad_history(message: &str) -> Invalid {
    Invalid::new("events", message)
}

impl TicketFacts {
    /// Reads a ticket's history, oldest first; it must start with its one `Created` event.
    /// `merged`: the ticket was closed as merged into another (excluded from resolution
    /// times and first-contact resolution).
    pub fn from_events(events: &[Event], merged: bool) -> Result<TicketFacts, Invalid> {
        let ((created_at, created_by, first), rest) = events
            .split_first()
            .ok_or_else(|| bad_history("a ticket's history starts with its Created event"))?;
        let Change::Created {
            status,
            priority,
            channel,
            assignee_id,
            group_id,
            brand_id,
            tags,
            ..
        } = first
        else {
            return Err(bad_history(
                "a ticket's history starts with its Created event",
            ));
        };
        let mut f = TicketFacts {
            created_at: *created_at,
            created_by: *created_by,
            status: *status,
            dimensions: Dimensions {
                channel: Some(*channel),
                priority: Some(*priority),
                group_id: *group_id,
                assignee_id: *assignee_id,
                brand_id: *brand_id,
                tags: Vec::new(),
                language: None,
            },
            merged,
            first_response_at: None,
            next_response_waits: Vec::new(),
            awaiting_reply_since: None,
            agent_replies: Vec::new(),
            solves: Vec::new(),
            reopens: Vec::new(),
            logged: Vec::new(),
        };
        let mut tags: std::collections::BTreeSet<String> = tags.iter().cloned().collect();
        // The tag set at the last solve (a ticket created solved: at creation).
        let mut tags_at_solve = (!status.is_open()).then(|| tags.clone());
        if !status.is_open() {
            f.solves.push(*created_at);
        }
        let mut opening_seen = false;
        for (at, actor, change) in rest {
            match change {
                Change::Created { .. } => {
                    return Err(bad_history("a ticket's history has one Created event"))
                }
                Change::MessageAdded {
                    public,
                    time_spent_seconds,
                    ..
                } => {
                    if let (ActorKind::Agent, Some(secs)) = (actor.kind, time_spent_seconds) {
                        if *secs > 0 {
                            f.logged.push(LoggedTime {
                                at: *at,
                                agent_id: actor.id,
                                seconds: *secs,
                            });
                        }
                    }
                    if !opening_seen && *at == f.created_at && *actor == f.created_by {
                        opening_seen = true;
                        continue;
                    }
                    match (actor.kind, *public) {
                        (ActorKind::Agent, true) => {
                            f.agent_replies.push(*at);
                            if f.first_response_at.is_none() {
                                f.first_response_at = Some(*at);
                            } else if let Some(since) = f.awaiting_reply_since.take() {
                                f.next_response_waits.push(Wait { since, until: *at });
                            }
                        }
                        // The wait runs from the first unanswered customer message.
                        (ActorKind::Customer, true) if f.first_response_at.is_some() => {
                            f.awaiting_reply_since.get_or_insert(*at);
                        }
                        _ => {}
                    }
                }
                Change::StatusChanged { to, .. } => {
                    match (f.status.is_open(), to.is_open()) {
                        (true, false) => {
                            f.solves.push(*at);
                            tags_at_solve = Some(tags.clone());
                        }
                        (false, true) => f.reopens.push(*at),
                        _ => {}
                    }
                    f.status = *to;
                }
                Change::PriorityChanged { to, .. } => f.dimensions.priority = Some(*to),
                Change::AssigneeChanged { to, .. } => f.dimensions.assignee_id = *to,
                Change::GroupChanged { to, .. } => f.dimensions.group_id = *to,
                Change::Linked { relation, .. } if relation == MERGED_INTO => f.merged = true,
                Change::TagsChanged { added, removed } => {
                    for t in removed {
                        tags.remove(t);
                    }
                    tags.extend(added.iter().cloned());
                }
                Change::SubjectChanged { .. }
                | Change::FieldChanged { .. }
                | Change::SlaWarning { .. }
                | Change::SlaBreached { .. }
                | Change::SlaEscalated { .. }
                | Change::AutomationActed { .. }
                | Change::Linked { .. }
                | Change::SurveySent { .. }
                | Change::SurveyAnswered { .. } => {}
            }
        }
        let counted = match tags_at_solve {
            Some(at_solve) if f.is_solved() => at_solve,
            _ => tags,
        };
        f.dimensions.tags = counted.into_iter().collect();
        Ok(f)
    }

    /// Handle time: the time logged on the ticket's agent messages, in seconds (0 if none).
    pub fn handle_seconds(&self) -> u64 {
        self.logged.iter().map(|l| u64::from(l.seconds)).sum()
    }

    /// Handle time per agent who logged it (`None`: an agent actor without an id).
    pub fn handle_seconds_by_agent(&self) -> BTreeMap<Option<i64>, u64> {
        let mut out = BTreeMap::new();
        for l in &self.logged {
            *out.entry(l.agent_id).or_default() += u64::from(l.seconds);
        }
        out
    }

    /// Solved or closed now.
    pub fn is_solved(&self) -> bool {
        !self.status.is_open()
    }

    pub fn agent_public_replies(&self) -> usize {
        self.agent_replies.len()
    }

    pub fn reopen_count(&self) -> usize {
        self.reopens.len()
    }

    /// The first solve; kept even if the ticket was reopened since.
    pub fn first_solved_at(&self) -> Option<DateTime<Utc>> {
        self.solves.first().copied()
    }

    /// The last solve, if the ticket is solved now.
    pub fn last_solved_at(&self) -> Option<DateTime<Utc>> {
        self.solves.last().copied().filter(|_| self.is_solved())
    }

    /// One-touch: for every ticket solved now (merged ones included), whether it was solved
    /// with exactly one reply (public agent message) and never reopened. `None` while the
    /// ticket is open.
    pub fn one_touch(&self) -> Option<bool> {
        self.is_solved()
            .then_some(self.agent_replies.len() == 1 && self.reopens.is_empty())
    }

    /// First-contact resolution: the ticket is solved now with exactly one reply (public
    /// agent message) and was never reopened. Same rule as [`one_touch`](Self::one_touch),
    /// but merged tickets are excluded (`None`), as are open ones. A ticket solved without
    /// any reply is not an FCR.
    pub fn first_contact_resolution(&self) -> Option<bool> {
        if self.merged {
            None
        } else {
            self.one_touch()
        }
    }

    /// Response and resolution times measured with `measure` (e.g. business hours).
    pub fn times(&self, measure: DurationFn<'_>) -> ResponseTimes {
        let since_created = |to: DateTime<Utc>| measured(measure, self.created_at, to);
        let resolved = |at: Option<DateTime<Utc>>| {
            if self.merged {
                None
            } else {
                at.map(since_created)
            }
        };
        ResponseTimes {
            first_response: self.first_response_at.map(since_created),
            next_responses: self
                .next_response_waits
                .iter()
                .map(|w| measured(measure, w.since, w.until))
                .collect(),
            first_resolution: resolved(self.first_solved_at()),
            full_resolution: resolved(self.last_solved_at()),
        }
    }

    /// Response and resolution times in calendar time.
    pub fn calendar_times(&self) -> ResponseTimes {
        self.times(&calendar_duration)
    }
}

// ---------------------------------------------------------------------------------------
// Exact aggregation
// ---------------------------------------------------------------------------------------

/// The 1-based nearest rank of percentile `pct` among `n` sorted values:
/// `ceil(pct/100 · n)`. `None` for `n = 0` or `pct` outside 1..=100.
fn nearest_rank(n: u64, pct: u8) -> Option<u64> {
    if n == 0 || !(1..=100).contains(&pct) {
        return None;
    }
    Some((u64::from(pct) * n).div_ceil(100))
}

/// The `pct`-th percentile by the **nearest-rank** method: the smallest value such that at
/// least `pct` % of the values are less than or equal to it, i.e. the value at 1-based
/// rank `ceil(pct/100 · n)` in sorted order. Always one of the values (no interpolation).
/// `None` when `values` is empty or `pct` is not in 1..=100.
///
/// Example: of 15, 20, 35, 40, 50 the 30th percentile has rank ⌈1.5⌉ = 2 → 20; the median
/// (50th) rank ⌈2.5⌉ = 3 → 35; the 90th rank ⌈4.5⌉ = 5 → 50.
pub fn percentile<T: Ord + Clone>(values: &[T], pct: u8) -> Option<T> {
    let rank = nearest_rank(values.len() as u64, pct)?;
    let mut v = values.to_vec();
    let (_, x, _) = v.select_nth_unstable(rank as usize - 1);
    Some(x.clone())
}

/// Nearest-rank median: for an even count, the lower of the two middle values.
pub fn median<T: Ord + Clone>(values: &[T]) -> Option<T> {
    percentile(values, 50)
}

/// Nearest-rank 90th percentile.
pub fn p90<T: Ord + Clone>(values: &[T]) -> Option<T> {
    percentile(values, 90)
}

pub fn mean(values: &[f64]) -> Option<f64> {
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}

/// The mean, to the millisecond (rounded toward zero).
pub fn mean_duration(values: &[Duration]) -> Option<Duration> {
    if values.is_empty() {
        return None;
    }
    let total: i128 = values
        .iter()
        .map(|d| i128::from(d.num_milliseconds()))
        .sum();
    Some(Duration::milliseconds(
        (total / values.len() as i128) as i64,
    ))
}

// ---------------------------------------------------------------------------------------
// Mergeable sketch
// ---------------------------------------------------------------------------------------

/// A mergeable histogram of durations with fixed logarithmic buckets, for percentiles of
/// roll-ups (hours merged into days, months, …).
///
/// Durations are recorded in whole milliseconds (negative ones as 0). Zero has its own
/// exact bucket; a value `v ≥ 1` ms goes to bucket `i = ⌈log_γ v⌉`, which covers
/// `(γ^(i−1), γ^i]`, with `γ = (1 + α)/(1 − α)` and `α` = [`Self::RELATIVE_ERROR`] = 1 %.
/// A bucket reports `2γ^i/(γ + 1)`, which is within a factor `1 ± α` of every value in the
/// bucket. Percentiles use nearest rank over the counts, so the reported value lies in the
/// same bucket as the exact nearest-rank percentile of the recorded values:
///
/// **`|estimate − exact| ≤ α · exact`** (1 %, plus float rounding of about 1e-12), and 0 is
/// exact. Estimates are also clamped to the exact minimum and maximum seen, when known: a
/// sketch read back from its stored form ([`SketchCell`]) has no extremes, because stored
/// roll-ups must be able to take a ticket's old contribution out again.
///
/// Merging adds counts bucket by bucket and is exact: merging the sketches of two sets of
/// values gives the sketch of their union, in any order. Count, mean, min and max are
/// exact. Buckets are stored sparsely: about 2 200 cover everything up to `i64::MAX` ms,
/// and a month of response times from one team typically fills a few hundred.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DurationSketch {
    count: u64,
    /// Saturating sum, for the mean.
    sum_ms: i64,
    min_ms: Option<i64>,
    max_ms: Option<i64>,
    zeros: u64,
    buckets: BTreeMap<u32, u64>,
}

impl DurationSketch {
    /// α: the bound on the relative error of percentiles.
    pub const RELATIVE_ERROR: f64 = 0.01;

    fn gamma() -> f64 {
        (1.0 + Self::RELATIVE_ERROR) / (1.0 - Self::RELATIVE_ERROR)
    }

    fn bucket(ms: i64) -> u32 {
        ((ms as f64).ln() / Self::gamma().ln()).ceil().max(0.0) as u32
    }

    fn estimate_ms(bucket: u32) -> f64 {
        let g = Self::gamma();
        2.0 * g.powi(bucket as i32) / (g + 1.0)
    }

    pub fn new() -> DurationSketch {
        DurationSketch::default()
    }

    pub fn from_durations(values: &[Duration]) -> DurationSketch {
        let mut s = DurationSketch::new();
        for v in values {
            s.insert(*v);
        }
        s
    }

    pub fn insert(&mut self, d: Duration) {
        let ms = d.num_milliseconds().max(0);
        self.count += 1;
        self.sum_ms = self.sum_ms.saturating_add(ms);
        self.min_ms = Some(self.min_ms.map_or(ms, |m| m.min(ms)));
        self.max_ms = Some(self.max_ms.map_or(ms, |m| m.max(ms)));
        if ms == 0 {
            self.zeros += 1;
        } else {
            *self.buckets.entry(Self::bucket(ms)).or_default() += 1;
        }
    }

    pub fn merge(&mut self, other: &DurationSketch) {
        self.count += other.count;
        self.sum_ms = self.sum_ms.saturating_add(other.sum_ms);
        self.min_ms = match (self.min_ms, other.min_ms) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.max_ms = match (self.max_ms, other.max_ms) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        self.zeros += other.zeros;
        for (b, c) in &other.buckets {
            *self.buckets.entry(*b).or_default() += c;
        }
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The smallest value; `None` when empty or unknown (read back from storage).
    pub fn min(&self) -> Option<Duration> {
        self.min_ms.map(Duration::milliseconds)
    }

    /// The largest value; `None` when empty or unknown (read back from storage).
    pub fn max(&self) -> Option<Duration> {
        self.max_ms.map(Duration::milliseconds)
    }

    /// Exact mean, to the millisecond (rounded toward zero).
    pub fn mean(&self) -> Option<Duration> {
        (self.count > 0).then(|| Duration::milliseconds(self.sum_ms / self.count as i64))
    }

    /// Nearest-rank percentile (see [`percentile`]), within the relative error bound.
    /// `None` when empty or `pct` is not in 1..=100.
    pub fn percentile(&self, pct: u8) -> Option<Duration> {
        let rank = nearest_rank(self.count, pct)?;
        if rank <= self.zeros {
            return Some(Duration::zero());
        }
        let mut seen = self.zeros;
        let bucket = self.buckets.iter().find_map(|(b, c)| {
            seen += c;
            (seen >= rank).then_some(*b)
        })?;
        let ms = Self::estimate_ms(bucket);
        // Nanoseconds keep the estimate's precision; beyond ~285 years fall back to ms.
        // Sketches read back from storage do not know their extremes: no clamping then.
        Some(if self.min_ms.is_some_and(|lo| ms <= lo as f64) {
            Duration::milliseconds(self.min_ms.unwrap_or_default())
        } else if self.max_ms.is_some_and(|hi| ms >= hi as f64) {
            Duration::milliseconds(self.max_ms.unwrap_or_default())
        } else if ms < 9.0e12 {
            Duration::nanoseconds((ms * 1e6).round() as i64)
        } else {
            Duration::milliseconds(ms.round() as i64)
        })
    }

    pub fn median(&self) -> Option<Duration> {
        self.percentile(50)
    }

    pub fn p90(&self) -> Option<Duration> {
        self.percentile(90)
    }
}

// ---------------------------------------------------------------------------------------
// Roll-ups
// ---------------------------------------------------------------------------------------

/// The start of the UTC hour holding `t`.
pub fn hour_start(t: DateTime<Utc>) -> DateTime<Utc> {
    let s = t.timestamp();
    DateTime::from_timestamp(s - s.rem_euclid(3600), 0).unwrap_or(t)
}

/// What a roll-up is keyed by: the start of a period (an hour for hourly roll-ups) and
/// the dimensions.
///
/// Hourly keys use UTC hours. Hours merge exactly into days and months of any time zone
/// whose offset is a whole number of hours; for offsets like +05:30 a local day boundary
/// falls inside a UTC hour.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct RollupKey {
    pub period_start: DateTime<Utc>,
    pub dimensions: Dimensions,
}

impl RollupKey {
    pub fn hourly(at: DateTime<Utc>, dimensions: Dimensions) -> RollupKey {
        RollupKey {
            period_start: hour_start(at),
            dimensions,
        }
    }
}

/// Distributions of one kind of time (calendar or business).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeSketches {
    pub first_response: DurationSketch,
    pub next_response: DurationSketch,
    pub first_resolution: DurationSketch,
    pub full_resolution: DurationSketch,
}

impl TimeSketches {
    pub fn merge(&mut self, other: &TimeSketches) {
        self.first_response.merge(&other.first_response);
        self.next_response.merge(&other.next_response);
        self.first_resolution.merge(&other.first_resolution);
        self.full_resolution.merge(&other.full_resolution);
    }
}

/// Counts and distributions for one roll-up key; sums with [`Rollup::merge`].
///
/// Each fact is counted in the period it happened in: `created` at creation, `solves`,
/// `reopens` and `agent_replies` at each event, first response at the first reply, each
/// next response at its reply, first resolution at the first solve, and full resolution,
/// FCR, one-touch, replies per solved ticket, "was reopened" and handle time (tickets with
/// time logged only) at the last solve of a ticket solved now. SLA targets count when met (fulfilled) or at their due time (breached).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rollup {
    pub created: u64,
    pub solves: u64,
    pub reopens: u64,
    pub agent_replies: u64,
    /// Solved, non-merged tickets: the FCR denominator.
    pub fcr_tickets: u64,
    pub fcr_resolved: u64,
    /// Solved tickets (merged included): the one-touch denominator.
    pub one_touch_tickets: u64,
    pub one_touch_resolved: u64,
    /// Replies of the tickets counted in `one_touch_tickets` (for replies per solved ticket).
    pub solved_replies: u64,
    /// Of the tickets counted in `one_touch_tickets`, those reopened at least once.
    pub reopened_solved: u64,
    /// Handle time (seconds logged on agent messages) of the tickets counted in
    /// `handled_tickets`.
    pub handle_seconds: u64,
    /// Of the tickets counted in `one_touch_tickets`, those with time logged.
    pub handled_tickets: u64,
    /// SLA targets met, per [`SlaMetric::ALL`] index, counted when they were fulfilled.
    pub sla_met: [u64; 4],
    /// SLA targets breached, per [`SlaMetric::ALL`] index, counted at their due time.
    pub sla_breached: [u64; 4],
    pub calendar: TimeSketches,
    /// Measured with the caller's business-duration function; empty if none was given.
    pub business: TimeSketches,
}

impl Rollup {
    pub fn merge(&mut self, other: &Rollup) {
        self.created += other.created;
        self.solves += other.solves;
        self.reopens += other.reopens;
        self.agent_replies += other.agent_replies;
        self.fcr_tickets += other.fcr_tickets;
        self.fcr_resolved += other.fcr_resolved;
        self.one_touch_tickets += other.one_touch_tickets;
        self.one_touch_resolved += other.one_touch_resolved;
        self.solved_replies += other.solved_replies;
        self.reopened_solved += other.reopened_solved;
        self.handle_seconds += other.handle_seconds;
        self.handled_tickets += other.handled_tickets;
        for i in 0..4 {
            self.sla_met[i] += other.sla_met[i];
            self.sla_breached[i] += other.sla_breached[i];
        }
        self.calendar.merge(&other.calendar);
        self.business.merge(&other.business);
    }

    pub fn fcr_pct(&self) -> Option<f64> {
        (self.fcr_tickets > 0).then(|| 100.0 * self.fcr_resolved as f64 / self.fcr_tickets as f64)
    }

    pub fn one_touch_pct(&self) -> Option<f64> {
        (self.one_touch_tickets > 0)
            .then(|| 100.0 * self.one_touch_resolved as f64 / self.one_touch_tickets as f64)
    }
}

fn add_times(
    out: &mut BTreeMap<RollupKey, Rollup>,
    facts: &TicketFacts,
    key: &dyn Fn(DateTime<Utc>) -> RollupKey,
    measure: DurationFn<'_>,
    pick: fn(&mut Rollup) -> &mut TimeSketches,
) {
    let times = facts.times(measure);
    if let (Some(at), Some(d)) = (facts.first_response_at, times.first_response) {
        pick(out.entry(key(at)).or_default())
            .first_response
            .insert(d);
    }
    for (w, d) in facts.next_response_waits.iter().zip(&times.next_responses) {
        pick(out.entry(key(w.until)).or_default())
            .next_response
            .insert(*d);
    }
    if let (Some(at), Some(d)) = (facts.first_solved_at(), times.first_resolution) {
        pick(out.entry(key(at)).or_default())
            .first_resolution
            .insert(d);
    }
    if let (Some(at), Some(d)) = (facts.last_solved_at(), times.full_resolution) {
        pick(out.entry(key(at)).or_default())
            .full_resolution
            .insert(d);
    }
}

/// One ticket's contributions to hourly roll-ups under `dimensions` (often
/// `facts.dimensions`, or fewer). Business-time sketches are filled when `business` is
/// given. Add them into a store with [`merge_rollups`]; when a ticket changes, its old
/// contributions have to be recomputed (sketches cannot be subtracted from exactly for
/// min/max, so rebuild the affected hours).
pub fn contributions(
    facts: &TicketFacts,
    dimensions: &Dimensions,
    business: Option<DurationFn<'_>>,
) -> BTreeMap<RollupKey, Rollup> {
    let key = |at: DateTime<Utc>| RollupKey::hourly(at, dimensions.clone());
    let mut out: BTreeMap<RollupKey, Rollup> = BTreeMap::new();
    out.entry(key(facts.created_at)).or_default().created += 1;
    for at in &facts.solves {
        out.entry(key(*at)).or_default().solves += 1;
    }
    for at in &facts.reopens {
        out.entry(key(*at)).or_default().reopens += 1;
    }
    for at in &facts.agent_replies {
        out.entry(key(*at)).or_default().agent_replies += 1;
    }
    if let Some(at) = facts.last_solved_at() {
        let r = out.entry(key(at)).or_default();
        if let Some(fcr) = facts.first_contact_resolution() {
            r.fcr_tickets += 1;
            r.fcr_resolved += u64::from(fcr);
        }
        if let Some(one) = facts.one_touch() {
            r.one_touch_tickets += 1;
            r.one_touch_resolved += u64::from(one);
            r.solved_replies += facts.agent_replies.len() as u64;
            r.reopened_solved += u64::from(!facts.reopens.is_empty());
        }
        // Handle time: at the last solve, only tickets with time logged (a ticket without
        // logged time is not a zero).
        let handle = facts.handle_seconds();
        if handle > 0 {
            r.handle_seconds += handle;
            r.handled_tickets += 1;
        }
    }
    add_times(&mut out, facts, &key, &calendar_duration, |r| {
        &mut r.calendar
    });
    if let Some(b) = business {
        add_times(&mut out, facts, &key, b, |r| &mut r.business);
    }
    out
}

/// Adds roll-ups into `into`, key by key.
pub fn merge_rollups(
    into: &mut BTreeMap<RollupKey, Rollup>,
    from: impl IntoIterator<Item = (RollupKey, Rollup)>,
) {
    for (k, r) in from {
        into.entry(k).or_default().merge(&r);
    }
}

/// Re-keys roll-ups and sums those that land on the same key: hours into days or months
/// (`period_start` mapped to the period's start), or dimensions dropped (set to `None`).
pub fn regroup<'a>(
    rollups: impl IntoIterator<Item = (&'a RollupKey, &'a Rollup)>,
    rekey: impl Fn(&RollupKey) -> RollupKey,
) -> BTreeMap<RollupKey, Rollup> {
    let mut out: BTreeMap<RollupKey, Rollup> = BTreeMap::new();
    for (k, r) in rollups {
        out.entry(rekey(k)).or_default().merge(r);
    }
    out
}

// ---------------------------------------------------------------------------------------
// SLA compliance
// ---------------------------------------------------------------------------------------

/// The index of an SLA metric in [`Rollup::sla_met`] / [`Rollup::sla_breached`].
pub fn sla_index(metric: SlaMetric) -> usize {
    SlaMetric::ALL
        .iter()
        .position(|m| *m == metric)
        .unwrap_or(0)
}

/// A ticket's SLA outcomes as roll-up contributions, from the clock's statuses
/// ([`crate::sla::evaluate`]): a run that was met counts in `sla_met` in the hour it was
/// fulfilled; a breached run counts in `sla_breached` in the hour it fell due (whether or
/// not it was met later). Running and paused clocks count nowhere yet.
pub fn sla_contributions(
    statuses: &[TargetStatus],
    dimensions: &Dimensions,
) -> BTreeMap<RollupKey, Rollup> {
    let mut out: BTreeMap<RollupKey, Rollup> = BTreeMap::new();
    for st in statuses {
        let i = sla_index(st.metric);
        match st.state {
            SlaState::Fulfilled => {
                let at = st.fulfilled_at.unwrap_or(st.started_at);
                out.entry(RollupKey::hourly(at, dimensions.clone()))
                    .or_default()
                    .sla_met[i] += 1;
            }
            SlaState::Breached => {
                let at = st.due_at.or(st.breached_at).unwrap_or(st.started_at);
                out.entry(RollupKey::hourly(at, dimensions.clone()))
                    .or_default()
                    .sla_breached[i] += 1;
            }
            SlaState::Active | SlaState::Paused => {}
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// Stored roll-ups: cells that add and subtract exactly
// ---------------------------------------------------------------------------------------

/// The counters of a roll-up in stored order: the column names of the stores' roll-up
/// tables and the order of [`RollupCell::counts`].
pub const COUNTERS: [&str; 20] = [
    "created",
    "solves",
    "reopens",
    "agent_replies",
    "fcr_tickets",
    "fcr_resolved",
    "one_touch_tickets",
    "one_touch_resolved",
    "solved_replies",
    "reopened_solved",
    "sla_first_reply_met",
    "sla_next_reply_met",
    "sla_periodic_update_met",
    "sla_resolution_met",
    "sla_first_reply_breached",
    "sla_next_reply_breached",
    "sla_periodic_update_breached",
    "sla_resolution_breached",
    "handle_seconds",
    "handled_tickets",
];
pub const N_COUNTERS: usize = COUNTERS.len();

/// Indexes into [`COUNTERS`].
pub mod counter {
    pub const CREATED: usize = 0;
    pub const SOLVES: usize = 1;
    pub const REOPENS: usize = 2;
    pub const AGENT_REPLIES: usize = 3;
    pub const FCR_TICKETS: usize = 4;
    pub const FCR_RESOLVED: usize = 5;
    pub const ONE_TOUCH_TICKETS: usize = 6;
    pub const ONE_TOUCH_RESOLVED: usize = 7;
    pub const SOLVED_REPLIES: usize = 8;
    pub const REOPENED_SOLVED: usize = 9;
    /// `SLA_MET + sla_index(metric)`.
    pub const SLA_MET: usize = 10;
    /// `SLA_BREACHED + sla_index(metric)`.
    pub const SLA_BREACHED: usize = 14;
    pub const HANDLE_SECONDS: usize = 18;
    pub const HANDLED_TICKETS: usize = 19;
}

/// The distributions of a roll-up in stored order: calendar time, then business time; in
/// each, first response, next response, first resolution, full resolution.
pub const SKETCHES: [&str; 8] = [
    "first_response",
    "next_response",
    "first_resolution",
    "full_resolution",
    "first_response_bh",
    "next_response_bh",
    "first_resolution_bh",
    "full_resolution_bh",
];
pub const N_SKETCHES: usize = SKETCHES.len();

/// Indexes into [`SKETCHES`] (add [`sketch::BUSINESS`] for business time).
pub mod sketch {
    pub const FIRST_RESPONSE: usize = 0;
    pub const NEXT_RESPONSE: usize = 1;
    pub const FIRST_RESOLUTION: usize = 2;
    pub const FULL_RESOLUTION: usize = 3;
    pub const BUSINESS: usize = 4;
}

/// The stored form of a [`DurationSketch`]: counts and the (wrapping) sum only, no
/// extremes, so that taking a ticket's old contribution out of a roll-up row and adding
/// its new one is exact. Values may be negative in a difference of cells.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SketchCell {
    pub count: i64,
    /// Wrapping sum of milliseconds: adding and subtracting again gives back the same.
    pub sum_ms: i64,
    pub zeros: i64,
    /// (bucket, count) by bucket; no zero counts.
    pub buckets: Vec<(u32, i64)>,
}

impl SketchCell {
    pub fn of(s: &DurationSketch) -> SketchCell {
        SketchCell {
            count: s.count as i64,
            sum_ms: s.sum_ms,
            zeros: s.zeros as i64,
            buckets: s.buckets.iter().map(|(b, c)| (*b, *c as i64)).collect(),
        }
    }

    pub fn is_zero(&self) -> bool {
        self.count == 0 && self.sum_ms == 0 && self.zeros == 0 && self.buckets.is_empty()
    }

    /// Adds `sign` (±1) times `other`.
    pub fn add(&mut self, other: &SketchCell, sign: i64) {
        if other.is_zero() {
            return;
        }
        self.count += sign * other.count;
        self.sum_ms = self.sum_ms.wrapping_add(other.sum_ms.wrapping_mul(sign));
        self.zeros += sign * other.zeros;
        if other.buckets.is_empty() {
            return;
        }
        // A ticket's cell holds a value or two per sketch: add them in place (no new Vec).
        if other.buckets.len() <= 4 {
            for &(b, c) in &other.buckets {
                match self.buckets.binary_search_by_key(&b, |e| e.0) {
                    Ok(i) => {
                        self.buckets[i].1 += sign * c;
                        if self.buckets[i].1 == 0 {
                            self.buckets.remove(i);
                        }
                    }
                    Err(i) if c != 0 => self.buckets.insert(i, (b, sign * c)),
                    Err(_) => {}
                }
            }
            return;
        }
        let (x, y) = (&self.buckets, &other.buckets);
        let mut out = Vec::with_capacity(x.len() + y.len());
        let (mut i, mut j) = (0, 0);
        while i < x.len() || j < y.len() {
            let next = if j == y.len() || (i < x.len() && x[i].0 < y[j].0) {
                i += 1;
                x[i - 1]
            } else if i == x.len() || y[j].0 < x[i].0 {
                j += 1;
                (y[j - 1].0, sign * y[j - 1].1)
            } else {
                i += 1;
                j += 1;
                (x[i - 1].0, x[i - 1].1 + sign * y[j - 1].1)
            };
            if next.1 != 0 {
                out.push(next);
            }
        }
        self.buckets = out;
    }

    fn is_valid(&self) -> bool {
        self.count >= 0
            && self.zeros >= 0
            && self.buckets.iter().all(|(_, c)| *c > 0)
            && self.zeros + self.buckets.iter().map(|(_, c)| c).sum::<i64>() == self.count
    }

    /// The sketch these counts describe (without extremes); `None` for an inconsistent
    /// cell (negative counts: a difference, not a roll-up).
    pub fn to_sketch(&self) -> Option<DurationSketch> {
        self.is_valid().then(|| DurationSketch {
            count: self.count as u64,
            sum_ms: self.sum_ms,
            min_ms: None,
            max_ms: None,
            zeros: self.zeros as u64,
            buckets: self.buckets.iter().map(|(b, c)| (*b, *c as u64)).collect(),
        })
    }
}

/// The stored form of a [`Rollup`]: [`COUNTERS`] and [`SKETCHES`] as signed numbers that
/// add and subtract exactly. A roll-up row of a store is a cell; a ticket's contribution is
/// one cell per hour; when the ticket changes, its old cells are subtracted and its new
/// ones added.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RollupCell {
    pub counts: [i64; N_COUNTERS],
    pub sketches: [SketchCell; N_SKETCHES],
}

impl RollupCell {
    pub fn of(r: &Rollup) -> RollupCell {
        let mut counts = [0i64; N_COUNTERS];
        counts[counter::CREATED] = r.created as i64;
        counts[counter::SOLVES] = r.solves as i64;
        counts[counter::REOPENS] = r.reopens as i64;
        counts[counter::AGENT_REPLIES] = r.agent_replies as i64;
        counts[counter::FCR_TICKETS] = r.fcr_tickets as i64;
        counts[counter::FCR_RESOLVED] = r.fcr_resolved as i64;
        counts[counter::ONE_TOUCH_TICKETS] = r.one_touch_tickets as i64;
        counts[counter::ONE_TOUCH_RESOLVED] = r.one_touch_resolved as i64;
        counts[counter::SOLVED_REPLIES] = r.solved_replies as i64;
        counts[counter::REOPENED_SOLVED] = r.reopened_solved as i64;
        counts[counter::HANDLE_SECONDS] = r.handle_seconds as i64;
        counts[counter::HANDLED_TICKETS] = r.handled_tickets as i64;
        for i in 0..4 {
            counts[counter::SLA_MET + i] = r.sla_met[i] as i64;
            counts[counter::SLA_BREACHED + i] = r.sla_breached[i] as i64;
        }
        let t = |s: &TimeSketches| {
            [
                SketchCell::of(&s.first_response),
                SketchCell::of(&s.next_response),
                SketchCell::of(&s.first_resolution),
                SketchCell::of(&s.full_resolution),
            ]
        };
        let [a, b, c, d] = t(&r.calendar);
        let [e, f, g, h] = t(&r.business);
        RollupCell {
            counts,
            sketches: [a, b, c, d, e, f, g, h],
        }
    }

    /// Adds `sign` (±1) times `other`.
    pub fn add(&mut self, other: &RollupCell, sign: i64) {
        for (a, b) in self.counts.iter_mut().zip(other.counts) {
            *a += sign * b;
        }
        for (a, b) in self.sketches.iter_mut().zip(&other.sketches) {
            a.add(b, sign);
        }
    }

    pub fn is_zero(&self) -> bool {
        self.counts.iter().all(|c| *c == 0) && self.sketches.iter().all(SketchCell::is_zero)
    }

    /// No negative counts and every sketch consistent: what a stored row must be.
    pub fn is_valid(&self) -> bool {
        self.counts.iter().all(|c| *c >= 0) && self.sketches.iter().all(SketchCell::is_valid)
    }

    /// The roll-up this cell stores (sketches without extremes).
    pub fn to_rollup(&self) -> Result<Rollup, Invalid> {
        let bad = || Invalid::new("rollup", "a stored roll-up has negative counts");
        if !self.is_valid() {
            return Err(bad());
        }
        let c = |i: usize| self.counts[i] as u64;
        let s = |i: usize| self.sketches[i].to_sketch().ok_or_else(bad);
        let times = |base: usize| -> Result<TimeSketches, Invalid> {
            Ok(TimeSketches {
                first_response: s(base + sketch::FIRST_RESPONSE)?,
                next_response: s(base + sketch::NEXT_RESPONSE)?,
                first_resolution: s(base + sketch::FIRST_RESOLUTION)?,
                full_resolution: s(base + sketch::FULL_RESOLUTION)?,
            })
        };
        let mut sla_met = [0u64; 4];
        let mut sla_breached = [0u64; 4];
        for i in 0..4 {
            sla_met[i] = c(counter::SLA_MET + i);
            sla_breached[i] = c(counter::SLA_BREACHED + i);
        }
        Ok(Rollup {
            created: c(counter::CREATED),
            solves: c(counter::SOLVES),
            reopens: c(counter::REOPENS),
            agent_replies: c(counter::AGENT_REPLIES),
            fcr_tickets: c(counter::FCR_TICKETS),
            fcr_resolved: c(counter::FCR_RESOLVED),
            one_touch_tickets: c(counter::ONE_TOUCH_TICKETS),
            one_touch_resolved: c(counter::ONE_TOUCH_RESOLVED),
            solved_replies: c(counter::SOLVED_REPLIES),
            reopened_solved: c(counter::REOPENED_SOLVED),
            handle_seconds: c(counter::HANDLE_SECONDS),
            handled_tickets: c(counter::HANDLED_TICKETS),
            sla_met,
            sla_breached,
            calendar: times(0)?,
            business: times(sketch::BUSINESS)?,
        })
    }

    /// The sketches as bytes (the counters are stored as columns beside them).
    pub fn encode_sketches(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(16);
        out.push(CODEC_VERSION);
        for s in &self.sketches {
            encode_sketch(&mut out, s);
        }
        out
    }

    /// Reads [`encode_sketches`](Self::encode_sketches) back.
    pub fn decode_sketches(bytes: &[u8]) -> Result<[SketchCell; N_SKETCHES], Invalid> {
        let mut out: [SketchCell; N_SKETCHES] = Default::default();
        let mut r = Reader::new(bytes);
        r.version()?;
        read_cells(&mut r, &mut out)?;
        r.end()?;
        Ok(out)
    }
}

/// The roll-up tables' grains: by UTC hour or UTC day, keyed by channel, priority, group
/// and brand (the "cube"), by assignee alone (agent performance), by tag alone (a ticket
/// counts once under each tag it is counted with, untagged tickets under no tag), or by
/// language alone. Tags and languages are kept out of the cube: tags are many-valued, and a
/// language column would multiply the cube's rows (and the grouped reports' reading time)
/// by the number of languages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Grain {
    Hour,
    Day,
    AgentHour,
    AgentDay,
    TagHour,
    TagDay,
    LanguageHour,
    LanguageDay,
}

impl Grain {
    pub const ALL: [Grain; 8] = [
        Grain::Hour,
        Grain::Day,
        Grain::AgentHour,
        Grain::AgentDay,
        Grain::TagHour,
        Grain::TagDay,
        Grain::LanguageHour,
        Grain::LanguageDay,
    ];

    /// The stored code.
    pub fn code(self) -> i16 {
        match self {
            Grain::Hour => 0,
            Grain::Day => 1,
            Grain::AgentHour => 2,
            Grain::AgentDay => 3,
            Grain::TagHour => 4,
            Grain::TagDay => 5,
            Grain::LanguageHour => 6,
            Grain::LanguageDay => 7,
        }
    }

    pub fn from_code(c: i16) -> Option<Grain> {
        Grain::ALL.into_iter().find(|g| g.code() == c)
    }

    pub fn is_daily(self) -> bool {
        matches!(
            self,
            Grain::Day | Grain::AgentDay | Grain::TagDay | Grain::LanguageDay
        )
    }

    pub fn is_agent(self) -> bool {
        matches!(self, Grain::AgentHour | Grain::AgentDay)
    }

    /// The hourly grain of the same family.
    pub fn hourly(self) -> Grain {
        match self {
            Grain::Day => Grain::Hour,
            Grain::AgentDay => Grain::AgentHour,
            Grain::TagDay => Grain::TagHour,
            Grain::LanguageDay => Grain::LanguageHour,
            g => g,
        }
    }

    /// The daily grain of the same family.
    pub fn daily(self) -> Grain {
        match self {
            Grain::Hour => Grain::Day,
            Grain::AgentHour => Grain::AgentDay,
            Grain::TagHour => Grain::TagDay,
            Grain::LanguageHour => Grain::LanguageDay,
            g => g,
        }
    }

    /// The start of the period of this grain holding `t`.
    pub fn period_start(self, t: DateTime<Utc>) -> DateTime<Utc> {
        if self.is_daily() {
            day_start(t)
        } else {
            hour_start(t)
        }
    }

    /// The keys a ticket with dimensions `d` has in this grain: one, except in the tag
    /// grains (one per tag; none → the "no tag" key).
    pub fn keys(self, d: &Dimensions) -> Vec<Dimensions> {
        match self.hourly() {
            Grain::AgentHour => vec![Dimensions {
                assignee_id: d.assignee_id,
                ..Dimensions::default()
            }],
            Grain::TagHour if d.tags.is_empty() => vec![Dimensions::default()],
            Grain::TagHour => d
                .tags
                .iter()
                .map(|t| Dimensions {
                    tags: vec![t.clone()],
                    ..Dimensions::default()
                })
                .collect(),
            Grain::LanguageHour => vec![Dimensions {
                language: d.language.clone(),
                ..Dimensions::default()
            }],
            _ => vec![Dimensions {
                assignee_id: None,
                tags: Vec::new(),
                language: None,
                ..d.clone()
            }],
        }
    }
}

/// The start of the UTC day holding `t`.
pub fn day_start(t: DateTime<Utc>) -> DateTime<Utc> {
    let s = t.timestamp();
    DateTime::from_timestamp(s - s.rem_euclid(86_400), 0).unwrap_or(t)
}

/// One roll-up row as a store returns it: the sketches still encoded
/// ([`RollupCell::encode_sketches`]); [`RollupAcc::add_stored`] sums rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRollup {
    pub grain: Grain,
    pub period_start: DateTime<Utc>,
    pub dimensions: Dimensions,
    pub counts: [i64; N_COUNTERS],
    pub sketches: Vec<u8>,
}

/// One ticket's contribution to the hourly roll-ups: a cell per UTC hour (the ticket's
/// dimensions are kept beside it).
pub type Contribution = Vec<(DateTime<Utc>, RollupCell)>;

/// What one ticket adds to the hourly roll-ups: [`contributions`] (with business time if
/// `business` is given) and [`sla_contributions`], one cell per hour.
pub fn ticket_contribution(
    facts: &TicketFacts,
    business: Option<DurationFn<'_>>,
    sla: &[TargetStatus],
) -> Contribution {
    let none = Dimensions::default();
    let mut all = contributions(facts, &none, business);
    merge_rollups(&mut all, sla_contributions(sla, &none));
    all.into_iter()
        .map(|(k, r)| (k.period_start, RollupCell::of(&r)))
        .collect()
}

/// Where a roll-up row lives: its grain, period and (grain-keyed) dimensions.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RowKey {
    pub grain: Grain,
    pub period_start: DateTime<Utc>,
    pub dimensions: Dimensions,
}

/// Adds `sign` (±1) times a ticket's contribution (under its dimensions `dims`) to roll-up
/// rows of every grain. Subtracting a ticket's stored contribution and adding its new one
/// leaves every row exactly as if it had been built from scratch.
pub fn spread_contribution(
    out: &mut std::collections::HashMap<RowKey, RollupCell>,
    dims: &Dimensions,
    contribution: &[(DateTime<Utc>, RollupCell)],
    sign: i64,
) {
    for grain in Grain::ALL {
        for d in grain.keys(dims) {
            for (hour, cell) in contribution {
                let key = RowKey {
                    grain,
                    period_start: grain.period_start(*hour),
                    dimensions: d.clone(),
                };
                out.entry(key).or_default().add(cell, sign);
            }
        }
    }
}

/// Like [`spread_contribution`], into the hourly grains only; [`add_daily_rows`] then
/// derives the daily rows from them (a rebuild: half the work per ticket).
pub fn spread_contribution_hourly(
    out: &mut std::collections::HashMap<RowKey, RollupCell>,
    dims: &Dimensions,
    contribution: &[(DateTime<Utc>, RollupCell)],
) {
    for grain in Grain::ALL.into_iter().filter(|g| !g.is_daily()) {
        for d in grain.keys(dims) {
            for (hour, cell) in contribution {
                let key = RowKey {
                    grain,
                    period_start: grain.period_start(*hour),
                    dimensions: d.clone(),
                };
                out.entry(key).or_default().add(cell, 1);
            }
        }
    }
}

/// FxHash (rustc's hasher) for the small integer keys of [`RebuildRows`]: far cheaper than
/// SipHash, and the keys are not attacker-chosen.
#[derive(Default, Clone, Copy)]
pub struct FxHasher(u64);

impl FxHasher {
    #[inline]
    fn mix(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl std::hash::Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut b = [0u8; 8];
            b[..chunk.len()].copy_from_slice(chunk);
            self.mix(u64::from_le_bytes(b));
        }
    }
    fn write_u8(&mut self, i: u8) {
        self.mix(u64::from(i));
    }
    fn write_u32(&mut self, i: u32) {
        self.mix(u64::from(i));
    }
    fn write_u64(&mut self, i: u64) {
        self.mix(i);
    }
    fn write_i64(&mut self, i: i64) {
        self.mix(i as u64);
    }
    fn write_isize(&mut self, i: isize) {
        self.mix(i as u64);
    }
    fn write_usize(&mut self, i: usize) {
        self.mix(i as u64);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

type FxBuild = std::hash::BuildHasherDefault<FxHasher>;

/// The roll-up rows of a rebuild, summed ticket by ticket: the same rows as
/// [`spread_contribution_hourly`] followed by [`add_daily_rows`] (unit-tested), with each
/// grain key's dimensions interned once, so the per-cell work is an integer-keyed lookup
/// and an in-place add instead of cloning and hashing dimensions for every hour.
#[derive(Default)]
pub struct RebuildRows {
    ids: std::collections::HashMap<Dimensions, u32>,
    dims: Vec<Dimensions>,
    /// (hourly grain code, hour in seconds, dimensions id) → cell.
    cells: std::collections::HashMap<(i16, i64, u32), RollupCell, FxBuild>,
}

impl RebuildRows {
    fn intern(&mut self, d: Dimensions) -> u32 {
        if let Some(id) = self.ids.get(&d) {
            return *id;
        }
        let id = self.dims.len() as u32;
        self.dims.push(d.clone());
        self.ids.insert(d, id);
        id
    }

    /// Adds a ticket's contribution (under its dimensions `dims`) to the hourly rows.
    pub fn add_ticket(&mut self, dims: &Dimensions, contribution: &[(DateTime<Utc>, RollupCell)]) {
        for grain in Grain::ALL.into_iter().filter(|g| !g.is_daily()) {
            for d in grain.keys(dims) {
                let id = self.intern(d);
                for (hour, cell) in contribution {
                    let at = grain.period_start(*hour).timestamp();
                    self.cells
                        .entry((grain.code(), at, id))
                        .or_default()
                        .add(cell, 1);
                }
            }
        }
    }

    /// Hourly rows so far.
    pub fn len(&self) -> usize {
        self.cells.len()
    }

    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }

    /// Every row, the daily ones summed from the hourly ones, ordered by [`RowKey`].
    pub fn into_rows(self) -> Vec<(RowKey, RollupCell)> {
        let RebuildRows {
            dims, mut cells, ..
        } = self;
        let mut daily: std::collections::HashMap<(i16, i64, u32), RollupCell, FxBuild> =
            std::collections::HashMap::default();
        for ((g, at, id), c) in &cells {
            let day = Grain::from_code(*g).unwrap_or(Grain::Hour).daily();
            daily
                .entry((day.code(), at - at.rem_euclid(86_400), *id))
                .or_default()
                .add(c, 1);
        }
        cells.extend(daily);
        // RowKey order: grain (declaration order), period, dimensions.
        let mut rank = vec![0u32; dims.len()];
        let mut by_dims: Vec<u32> = (0..dims.len() as u32).collect();
        by_dims.sort_by(|a, b| dims[*a as usize].cmp(&dims[*b as usize]));
        for (r, id) in by_dims.iter().enumerate() {
            rank[*id as usize] = r as u32;
        }
        let grain_of = |g: i16| Grain::from_code(g).unwrap_or(Grain::Hour);
        let mut keys: Vec<(i16, i64, u32)> = cells.keys().copied().collect();
        // Grain codes follow the declaration order (a unit test checks the whole order).
        keys.sort_unstable_by_key(|(g, at, id)| (*g, *at, rank[*id as usize]));
        keys.into_iter()
            .filter_map(|k| {
                let cell = cells.remove(&k)?;
                let key = RowKey {
                    grain: grain_of(k.0),
                    period_start: DateTime::from_timestamp(k.1, 0)?,
                    dimensions: dims[k.2 as usize].clone(),
                };
                Some((key, cell))
            })
            .collect()
    }
}

/// Adds to `rows` (hourly rows only) the daily rows they sum to.
pub fn add_daily_rows(rows: &mut std::collections::HashMap<RowKey, RollupCell>) {
    let mut daily: std::collections::HashMap<RowKey, RollupCell> = std::collections::HashMap::new();
    for (k, c) in rows.iter().filter(|(k, _)| !k.grain.is_daily()) {
        let day = k.grain.daily();
        daily
            .entry(RowKey {
                grain: day,
                period_start: day.period_start(k.period_start),
                dimensions: k.dimensions.clone(),
            })
            .or_default()
            .add(c, 1);
    }
    for (k, c) in daily {
        rows.entry(k).or_default().add(&c, 1);
    }
}

const CODEC_VERSION: u8 = 1;

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_signed(out: &mut Vec<u8>, v: i64) {
    put_varint(out, ((v << 1) ^ (v >> 63)) as u64);
}

fn encode_sketch(out: &mut Vec<u8>, s: &SketchCell) {
    if s.is_zero() {
        out.push(0);
        return;
    }
    put_varint(out, s.buckets.len() as u64 + 1);
    put_signed(out, s.count);
    put_signed(out, s.sum_ms);
    put_signed(out, s.zeros);
    let mut prev = 0u32;
    for (b, c) in &s.buckets {
        put_varint(out, u64::from(b - prev));
        put_signed(out, *c);
        prev = *b;
    }
}

/// Largest bucket index a stored sketch may name (`i64::MAX` ms is bucket ~2 200).
const MAX_BUCKET: u64 = 4096;

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes, pos: 0 }
    }
    fn bad() -> Invalid {
        Invalid::new("rollup", "a stored roll-up is damaged")
    }
    fn version(&mut self) -> Result<(), Invalid> {
        match self.bytes.get(self.pos) {
            Some(&CODEC_VERSION) => {
                self.pos += 1;
                Ok(())
            }
            _ => Err(Self::bad()),
        }
    }
    fn varint(&mut self) -> Result<u64, Invalid> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = *self.bytes.get(self.pos).ok_or_else(Self::bad)?;
            self.pos += 1;
            v |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return Ok(v);
            }
        }
        Err(Self::bad())
    }
    fn signed(&mut self) -> Result<i64, Invalid> {
        let v = self.varint()?;
        Ok(((v >> 1) as i64) ^ -((v & 1) as i64))
    }
    fn end(&self) -> Result<(), Invalid> {
        if self.pos == self.bytes.len() {
            Ok(())
        } else {
            Err(Self::bad())
        }
    }
}

/// Reads [`N_SKETCHES`] encoded sketches, calling `head(i, count, sum_ms, zeros)` for each
/// non-empty one and `bucket(i, bucket, count)` for its buckets.
fn read_sketches(
    r: &mut Reader<'_>,
    mut head: impl FnMut(usize, i64, i64, i64),
    mut bucket: impl FnMut(usize, u32, i64),
) -> Result<(), Invalid> {
    for i in 0..N_SKETCHES {
        let n = r.varint()?;
        if n == 0 {
            continue;
        }
        let (count, sum, zeros) = (r.signed()?, r.signed()?, r.signed()?);
        head(i, count, sum, zeros);
        let mut b = 0u64;
        for k in 1..n {
            let step = r.varint()?;
            if k > 1 && step == 0 {
                return Err(Reader::bad());
            }
            b += step;
            if b > MAX_BUCKET {
                return Err(Reader::bad());
            }
            bucket(i, b as u32, r.signed()?);
        }
    }
    Ok(())
}

/// Reads encoded sketches into cells.
fn read_cells(r: &mut Reader<'_>, out: &mut [SketchCell; N_SKETCHES]) -> Result<(), Invalid> {
    let mut heads = [(0i64, 0i64, 0i64); N_SKETCHES];
    let mut buckets: Vec<(usize, u32, i64)> = Vec::new();
    read_sketches(
        r,
        |i, c, s, z| heads[i] = (c, s, z),
        |i, b, n| buckets.push((i, b, n)),
    )?;
    for (cell, (c, s, z)) in out.iter_mut().zip(heads) {
        cell.count = c;
        cell.sum_ms = s;
        cell.zeros = z;
    }
    for (i, b, n) in buckets {
        out[i].buckets.push((b, n));
    }
    Ok(())
}

/// A contribution as bytes: hours as deltas, non-zero counters by bitmap, then sketches.
pub fn encode_contribution(c: &[(DateTime<Utc>, RollupCell)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + 24 * c.len());
    out.push(CODEC_VERSION);
    put_varint(&mut out, c.len() as u64);
    let mut prev = 0i64;
    for (hour, cell) in c {
        let h = hour.timestamp().div_euclid(3600);
        put_signed(&mut out, h - prev);
        prev = h;
        let mask = cell
            .counts
            .iter()
            .enumerate()
            .filter(|(_, v)| **v != 0)
            .fold(0u64, |m, (i, _)| m | (1 << i));
        put_varint(&mut out, mask);
        for v in cell.counts.iter().filter(|v| **v != 0) {
            put_signed(&mut out, *v);
        }
        for s in &cell.sketches {
            encode_sketch(&mut out, s);
        }
    }
    out
}

/// Reads [`encode_contribution`] back.
pub fn decode_contribution(bytes: &[u8]) -> Result<Contribution, Invalid> {
    let mut r = Reader::new(bytes);
    r.version()?;
    let n = r.varint()?;
    if n > 1 << 20 {
        return Err(Reader::bad());
    }
    let mut out = Vec::with_capacity(n as usize);
    let mut h = 0i64;
    for _ in 0..n {
        h = h.checked_add(r.signed()?).ok_or_else(Reader::bad)?;
        let hour = h
            .checked_mul(3600)
            .and_then(|s| DateTime::from_timestamp(s, 0))
            .ok_or_else(Reader::bad)?;
        let mask = r.varint()?;
        if mask >> N_COUNTERS != 0 {
            return Err(Reader::bad());
        }
        let mut cell = RollupCell::default();
        for i in 0..N_COUNTERS {
            if mask & (1 << i) != 0 {
                cell.counts[i] = r.signed()?;
            }
        }
        read_cells(&mut r, &mut cell.sketches)?;
        out.push((hour, cell));
    }
    r.end()?;
    Ok(out)
}

/// A sketch accumulator with dense buckets, for merging many stored rows fast (reports).
#[derive(Debug, Clone, Default)]
pub struct DenseSketch {
    count: i64,
    sum_ms: i64,
    zeros: i64,
    /// Bucket index of `counts[0]`.
    lo: u32,
    counts: Vec<i64>,
}

impl DenseSketch {
    fn add_bucket(&mut self, b: u32, n: i64) {
        if self.counts.is_empty() {
            self.lo = b;
        } else if b < self.lo {
            let grow = (self.lo - b) as usize;
            self.counts.splice(0..0, std::iter::repeat_n(0, grow));
            self.lo = b;
        }
        let i = (b - self.lo) as usize;
        if i >= self.counts.len() {
            self.counts.resize(i + 1, 0);
        }
        self.counts[i] += n;
    }

    fn add_head(&mut self, count: i64, sum: i64, zeros: i64) {
        self.count += count;
        self.sum_ms = self.sum_ms.wrapping_add(sum);
        self.zeros += zeros;
    }

    pub fn merge(&mut self, other: &DenseSketch) {
        self.add_head(other.count, other.sum_ms, other.zeros);
        for (i, n) in other.counts.iter().enumerate() {
            if *n != 0 {
                self.add_bucket(other.lo + i as u32, *n);
            }
        }
    }

    pub fn count(&self) -> u64 {
        self.count.max(0) as u64
    }

    /// The merged sketch (no extremes); empty if the counts are inconsistent.
    pub fn to_sketch(&self) -> DurationSketch {
        SketchCell {
            count: self.count,
            sum_ms: self.sum_ms,
            zeros: self.zeros,
            buckets: self
                .counts
                .iter()
                .enumerate()
                .filter(|(_, n)| **n != 0)
                .map(|(i, n)| (self.lo + i as u32, *n))
                .collect(),
        }
        .to_sketch()
        .unwrap_or_default()
    }
}

/// Sums stored roll-up rows (counters and encoded sketches) for a report cell.
#[derive(Debug, Clone, Default)]
pub struct RollupAcc {
    pub counts: [i64; N_COUNTERS],
    pub sketches: [DenseSketch; N_SKETCHES],
}

impl RollupAcc {
    /// Adds one stored row: its counters and its [`RollupCell::encode_sketches`] bytes.
    pub fn add_stored(
        &mut self,
        counts: &[i64; N_COUNTERS],
        sketches: &[u8],
    ) -> Result<(), Invalid> {
        for (a, b) in self.counts.iter_mut().zip(counts) {
            *a += b;
        }
        let mut r = Reader::new(sketches);
        r.version()?;
        let dense = &mut self.sketches;
        let mut heads = [(0i64, 0i64, 0i64); N_SKETCHES];
        read_sketches(
            &mut r,
            |i, c, s, z| heads[i] = (c, s, z),
            |i, b, n| dense[i].add_bucket(b, n),
        )?;
        for (d, (c, s, z)) in self.sketches.iter_mut().zip(heads) {
            d.add_head(c, s, z);
        }
        r.end()
    }

    pub fn add_cell(&mut self, cell: &RollupCell) {
        for (a, b) in self.counts.iter_mut().zip(cell.counts) {
            *a += b;
        }
        for (d, s) in self.sketches.iter_mut().zip(&cell.sketches) {
            d.add_head(s.count, s.sum_ms, s.zeros);
            for (b, n) in &s.buckets {
                d.add_bucket(*b, *n);
            }
        }
    }

    pub fn merge(&mut self, other: &RollupAcc) {
        for (a, b) in self.counts.iter_mut().zip(other.counts) {
            *a += b;
        }
        for (a, b) in self.sketches.iter_mut().zip(&other.sketches) {
            a.merge(b);
        }
    }

    pub fn count(&self, counter: usize) -> i64 {
        self.counts[counter]
    }

    pub fn sketch(&self, i: usize) -> DurationSketch {
        self.sketches[i].to_sketch()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ticket::Fields;
    use chrono::{Datelike, TimeZone, Timelike};

    /// "D HH:MM" → 2026-03-D HH:MM UTC (2026-03-02 is a Monday).
    fn t(s: &str) -> DateTime<Utc> {
        let (d, hm) = s.split_once(' ').unwrap();
        let (h, m) = hm.split_once(':').unwrap();
        Utc.with_ymd_and_hms(
            2026,
            3,
            d.parse().unwrap(),
            h.parse().unwrap(),
            m.parse().unwrap(),
            0,
        )
        .unwrap()
    }

    fn mins(m: i64) -> Duration {
        Duration::minutes(m)
    }

    const CUSTOMER: i64 = 7;

    fn created(at: &str, by: Actor, status: Status) -> Event {
        (
            t(at),
            by,
            Change::Created {
                subject: "Parcel never arrived".into(),
                status,
                priority: Priority::Normal,
                channel: Channel::Email,
                requester_id: CUSTOMER,
                organization_id: None,
                assignee_id: None,
                group_id: Some(1),
                brand_id: None,
                tags: vec![],
                fields: Fields::new(),
            },
        )
    }

    fn msg(at: &str, by: Actor, public: bool) -> Event {
        (
            t(at),
            by,
            Change::MessageAdded {
                time_spent_seconds: None,
                message_id: 0,
                public,
            },
        )
    }

    fn status(at: &str, from: Status, to: Status) -> Event {
        (t(at), Actor::agent(1), Change::StatusChanged { from, to })
    }

    /// A customer writes in: Created + the customer's opening message.
    fn customer_opens(at: &str) -> Vec<Event> {
        vec![
            created(at, Actor::customer(CUSTOMER), Status::New),
            msg(at, Actor::customer(CUSTOMER), true),
        ]
    }

    fn facts(events: &[Event]) -> TicketFacts {
        TicketFacts::from_events(events, false).unwrap()
    }

    fn tags(at: &str, added: &[&str], removed: &[&str]) -> Event {
        (
            t(at),
            Actor::agent(1),
            Change::TagsChanged {
                added: added.iter().map(|s| s.to_string()).collect(),
                removed: removed.iter().map(|s| s.to_string()).collect(),
            },
        )
    }

    #[test]
    fn tags_are_counted_as_at_the_last_solve_and_current_while_open() {
        // Tagged while open, solved, then tagged again: counted with the tags at the solve.
        let mut ev = customer_opens("2 09:00");
        ev.push(tags("2 09:10", &["billing", "vip"], &[]));
        ev.push(tags("2 09:20", &["refund"], &["vip"]));
        ev.push(status("2 10:00", Status::New, Status::Solved));
        ev.push(tags("2 11:00", &["survey-sent"], &[]));
        assert_eq!(facts(&ev).dimensions.tags, vec!["billing", "refund"]);
        // Reopened: open again, so the tags now count (the later tag included)…
        ev.push(status("3 09:00", Status::Solved, Status::Open));
        assert_eq!(
            facts(&ev).dimensions.tags,
            vec!["billing", "refund", "survey-sent"]
        );
        // …and after the next solve, those at that solve.
        ev.push(tags("3 09:30", &[], &["refund"]));
        ev.push(status("3 10:00", Status::Open, Status::Solved));
        ev.push(tags("3 10:30", &["late"], &[]));
        assert_eq!(facts(&ev).dimensions.tags, vec!["billing", "survey-sent"]);
        // A ticket created solved counts with its tags at creation.
        let mut c = created("2 09:00", Actor::agent(1), Status::Solved);
        if let Change::Created { tags, .. } = &mut c.2 {
            *tags = vec!["phone".into()];
        }
        let ev = vec![c, tags("2 09:05", &["later"], &[])];
        assert_eq!(facts(&ev).dimensions.tags, vec!["phone"]);
    }

    #[test]
    fn a_ticket_counts_once_under_each_tag_and_once_per_language() {
        let mut ev = customer_opens("2 09:00");
        ev.push(tags("2 09:10", &["billing", "vip"], &[]));
        let mut f = facts(&ev);
        f.dimensions.language = Some("de".into());
        let c = ticket_contribution(&f, None, &[]);
        let mut rows = std::collections::HashMap::new();
        spread_contribution(&mut rows, &f.dimensions, &c, 1);
        type Rows = std::collections::HashMap<RowKey, RollupCell>;
        let created = |rows: &Rows, g: Grain| -> Vec<(Dimensions, i64)> {
            let mut v: Vec<(Dimensions, i64)> = rows
                .iter()
                .filter(|(k, _)| k.grain == g)
                .map(|(k, c)| (k.dimensions.clone(), c.counts[counter::CREATED]))
                .collect();
            v.sort();
            v
        };
        let tag = |t: &str| Dimensions {
            tags: vec![t.to_string()],
            ..Dimensions::default()
        };
        assert_eq!(
            created(&rows, Grain::TagDay),
            vec![(tag("billing"), 1), (tag("vip"), 1)]
        );
        assert_eq!(
            created(&rows, Grain::LanguageHour),
            vec![(
                Dimensions {
                    language: Some("de".into()),
                    ..Dimensions::default()
                },
                1
            )]
        );
        // The cube and the agent rows keep neither tags nor language.
        for g in [Grain::Hour, Grain::Day, Grain::AgentHour, Grain::AgentDay] {
            let v = created(&rows, g);
            assert_eq!(v.len(), 1, "{g:?}");
            assert!(v[0].0.tags.is_empty() && v[0].0.language.is_none());
        }
        // Untagged: one row under no tag. Taking the contribution out empties every row.
        let plain = facts(&customer_opens("2 09:00"));
        let c2 = ticket_contribution(&plain, None, &[]);
        spread_contribution(&mut rows, &plain.dimensions, &c2, 1);
        assert!(created(&rows, Grain::TagHour).contains(&(Dimensions::default(), 1)));
        // A rebuild's way (hourly rows, then the days from them) gives the same rows.
        let mut hourly = std::collections::HashMap::new();
        spread_contribution_hourly(&mut hourly, &f.dimensions, &c);
        spread_contribution_hourly(&mut hourly, &plain.dimensions, &c2);
        add_daily_rows(&mut hourly);
        assert_eq!(hourly, rows);
        // The rebuild accumulator gives the same rows, in RowKey order.
        let mut acc = RebuildRows::default();
        acc.add_ticket(&f.dimensions, &c);
        acc.add_ticket(&plain.dimensions, &c2);
        let got = acc.into_rows();
        let mut want: Vec<(RowKey, RollupCell)> = hourly.clone().into_iter().collect();
        want.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(got, want);
        spread_contribution(&mut rows, &plain.dimensions, &c2, -1);
        spread_contribution(&mut rows, &f.dimensions, &c, -1);
        assert!(rows.values().all(RollupCell::is_zero));
        for g in Grain::ALL {
            assert_eq!(Grain::from_code(g.code()), Some(g));
        }
    }

    fn timed(at: &str, by: Actor, public: bool, secs: u32) -> Event {
        (
            t(at),
            by,
            Change::MessageAdded {
                message_id: 0,
                public,
                time_spent_seconds: Some(secs),
            },
        )
    }

    fn handle_counts(c: &Contribution) -> Vec<(DateTime<Utc>, i64, i64)> {
        c.iter()
            .map(|(h, cell)| {
                (
                    *h,
                    cell.counts[counter::HANDLE_SECONDS],
                    cell.counts[counter::HANDLED_TICKETS],
                )
            })
            .filter(|(_, s, n)| *s != 0 || *n != 0)
            .collect()
    }

    #[test]
    fn handle_time_sums_agent_replies_and_notes_per_agent() {
        let mut ev = customer_opens("2 09:00");
        // A customer's message never counts, even if its event carried time.
        ev.push(timed("2 09:05", Actor::customer(CUSTOMER), true, 600));
        // Time on an internal note counts; so does time on a reply.
        ev.push(timed("2 09:10", Actor::agent(1), false, 300));
        ev.push(timed("2 09:30", Actor::agent(2), true, 120));
        ev.push(timed("2 09:40", Actor::agent(1), true, 60));
        // A system message does not count either.
        ev.push(timed("2 09:45", Actor::SYSTEM, false, 900));
        let f = facts(&ev);
        assert_eq!(f.handle_seconds(), 480);
        assert_eq!(
            f.handle_seconds_by_agent().into_iter().collect::<Vec<_>>(),
            vec![(Some(1), 360), (Some(2), 120)]
        );
        // Open: not counted yet.
        assert!(handle_counts(&ticket_contribution(&f, None, &[])).is_empty());
        // Solved: the whole sum and one ticket, in the hour of the (last) solve.
        ev.push(status("2 10:05", Status::New, Status::Solved));
        let c = ticket_contribution(&facts(&ev), None, &[]);
        assert_eq!(handle_counts(&c), vec![(t("2 10:00"), 480, 1)]);
        let r = c[c.len() - 1].1.to_rollup().unwrap();
        assert_eq!((r.handle_seconds, r.handled_tickets), (480, 1));
    }

    #[test]
    fn handle_time_survives_a_reopen_and_skips_tickets_without_time() {
        let mut ev = customer_opens("2 09:00");
        ev.push(timed("2 09:10", Actor::agent(1), true, 300));
        ev.push(status("2 10:00", Status::New, Status::Solved));
        ev.push(status("3 09:00", Status::Solved, Status::Open));
        // Reopened: no longer solved, so nothing counts…
        assert!(handle_counts(&ticket_contribution(&facts(&ev), None, &[])).is_empty());
        ev.push(timed("3 09:20", Actor::agent(2), false, 200));
        ev.push(status("3 11:30", Status::Open, Status::Solved));
        // …and solved again it counts with the whole sum, before and after the reopen.
        let f = facts(&ev);
        assert_eq!(f.handle_seconds(), 500);
        assert_eq!(
            handle_counts(&ticket_contribution(&f, None, &[])),
            vec![(t("3 11:00"), 500, 1)]
        );
        // A solved ticket without logged time is not a zero: it is not in the base.
        let mut plain = customer_opens("2 09:00");
        plain.push(msg("2 09:10", Actor::agent(1), true));
        plain.push(status("2 10:00", Status::New, Status::Solved));
        let c = ticket_contribution(&facts(&plain), None, &[]);
        assert!(handle_counts(&c).is_empty());
        // Summed with the timed ticket: mean over tickets with time only (500 s, not 250).
        let mut acc = RollupCell::default();
        for (_, cell) in ticket_contribution(&f, None, &[]).iter().chain(&c) {
            acc.add(cell, 1);
        }
        let r = acc.to_rollup().unwrap();
        assert_eq!(
            (r.handle_seconds, r.handled_tickets, r.one_touch_tickets),
            (500, 1, 2)
        );
    }

    #[test]
    fn handle_time_rebuild_equals_incremental() {
        // The tail's way: the ticket's old contribution out, the new one in, at each change;
        // the rebuild's way: the final contribution once. Both give the same rows.
        let mut ev = customer_opens("2 09:00");
        let steps: Vec<Event> = vec![
            timed("2 09:10", Actor::agent(1), false, 300),
            status("2 10:00", Status::New, Status::Solved),
            status("3 09:00", Status::Solved, Status::Open),
            timed("3 09:20", Actor::agent(2), true, 200),
            (
                t("3 09:25"),
                Actor::agent(1),
                Change::AssigneeChanged {
                    from: None,
                    to: Some(2),
                },
            ),
            status("3 11:30", Status::Open, Status::Solved),
        ];
        let mut rows = std::collections::HashMap::new();
        let mut old: Option<(Dimensions, Contribution)> = None;
        for e in steps {
            ev.push(e);
            let f = facts(&ev);
            let c = ticket_contribution(&f, None, &[]);
            if let Some((d, oc)) = old.take() {
                spread_contribution(&mut rows, &d, &oc, -1);
            }
            spread_contribution(&mut rows, &f.dimensions, &c, 1);
            old = Some((f.dimensions.clone(), c));
        }
        rows.retain(|_, c| !c.is_zero());
        let (d, c) = old.unwrap();
        let mut acc = RebuildRows::default();
        acc.add_ticket(&d, &c);
        let rebuilt: std::collections::HashMap<RowKey, RollupCell> =
            acc.into_rows().into_iter().collect();
        assert_eq!(rebuilt, rows);
        // The agent rows carry the handle time under the ticket's assignee.
        let agent: Vec<_> = rows
            .iter()
            .filter(|(k, _)| k.grain == Grain::AgentDay)
            .map(|(k, c)| (k.dimensions.assignee_id, c.counts[counter::HANDLE_SECONDS]))
            .filter(|(_, s)| *s > 0)
            .collect();
        assert_eq!(agent, vec![(Some(2), 500)]);
        // The stored form keeps the new counters.
        assert_eq!(decode_contribution(&encode_contribution(&c)).unwrap(), c);
    }

    #[test]
    fn sketch_cells_add_in_place_like_a_merge() {
        let cell = |v: &[(u32, i64)]| SketchCell {
            count: v.iter().map(|(_, c)| c).sum(),
            sum_ms: 7,
            zeros: 0,
            buckets: v.to_vec(),
        };
        let big = cell(&[(1, 2), (5, 1), (9, 4), (12, 1), (40, 3), (41, 1)]);
        for small in [
            cell(&[(5, 1)]),
            cell(&[(0, 1)]),
            cell(&[(99, 2)]),
            cell(&[(1, 2), (9, 1)]),
            cell(&[(2, 1), (40, 3), (50, 1)]),
        ] {
            for sign in [1, -1] {
                let mut a = big.clone();
                a.add(&small, sign);
                // The general path: merge `small` as one of more than four buckets.
                let mut padded = small.clone();
                padded
                    .buckets
                    .extend([(1000, 1), (1001, 1), (1002, 1), (1003, 1)]);
                let mut b = big.clone();
                b.add(&padded, sign);
                b.add(&cell(&[(1000, 1), (1001, 1), (1002, 1), (1003, 1)]), -sign);
                b.count = a.count;
                b.sum_ms = a.sum_ms;
                assert_eq!(a.buckets, b.buckets, "{small:?} {sign}");
                assert!(a.buckets.windows(2).all(|w| w[0].0 < w[1].0));
                assert!(a.buckets.iter().all(|(_, c)| *c != 0));
            }
        }
        let mut z = SketchCell::default();
        z.add(&cell(&[(3, 1)]), 1);
        z.add(&cell(&[(3, 1)]), -1);
        assert!(z.buckets.is_empty());
    }

    #[test]
    fn first_and_next_responses_and_resolution() {
        // 09:00 customer writes; 09:10 internal note; 09:30 agent replies (FRT 30 min);
        // 10:00 and 10:05 the customer writes; 11:00 agent replies (next response 60 min,
        // counted from the first unanswered message); 11:05 solved (resolution 2 h 05).
        let mut ev = customer_opens("2 09:00");
        ev.extend([
            msg("2 09:10", Actor::agent(1), false),
            msg("2 09:30", Actor::agent(1), true),
            msg("2 10:00", Actor::customer(CUSTOMER), true),
            msg("2 10:05", Actor::customer(CUSTOMER), true),
            msg("2 11:00", Actor::agent(1), true),
            status("2 11:05", Status::Open, Status::Solved),
        ]);
        let f = facts(&ev);
        assert_eq!(f.created_at, t("2 09:00"));
        assert_eq!(f.agent_public_replies(), 2);
        assert_eq!(f.reopen_count(), 0);
        assert_eq!(f.awaiting_reply_since, None);
        let c = f.calendar_times();
        assert_eq!(c.first_response, Some(mins(30)));
        assert_eq!(c.next_responses, vec![mins(60)]);
        assert_eq!(c.first_resolution, Some(mins(125)));
        assert_eq!(c.full_resolution, Some(mins(125)));
        assert_eq!(f.first_contact_resolution(), Some(false), "two replies");
        assert_eq!(f.one_touch(), Some(false));
    }

    #[test]
    fn an_internal_note_is_not_a_reply() {
        // 09:00 customer writes; 09:05 internal note; 09:50 public reply → FRT 50 min.
        let mut ev = customer_opens("2 09:00");
        ev.push(msg("2 09:05", Actor::agent(1), false));
        let f = facts(&ev);
        assert_eq!(f.first_response_at, None);
        assert_eq!(f.agent_public_replies(), 0);
        ev.push(msg("2 09:50", Actor::agent(1), true));
        let f = facts(&ev);
        assert_eq!(f.calendar_times().first_response, Some(mins(50)));
        assert_eq!(f.agent_public_replies(), 1);
        // System messages (auto-responders) are not replies either.
        let mut ev = customer_opens("2 09:00");
        ev.push(msg("2 09:00", Actor::SYSTEM, true));
        assert_eq!(facts(&ev).first_response_at, None);
    }

    #[test]
    fn a_ticket_an_agent_opens_for_a_customer() {
        // Agent 5 logs a phone call at 09:00: Created + agent 5's opening message at 09:00
        // (the request, not a reply). Agent 5 answers publicly at 09:45 → FRT 45 min, one
        // reply; solved 10:00 → FCR.
        let ev = vec![
            created("2 09:00", Actor::agent(5), Status::Open),
            msg("2 09:00", Actor::agent(5), true),
            msg("2 09:45", Actor::agent(5), true),
            status("2 10:00", Status::Open, Status::Solved),
        ];
        let f = facts(&ev);
        assert_eq!(f.created_by, Actor::agent(5));
        assert_eq!(f.agent_replies, vec![t("2 09:45")]);
        assert_eq!(f.calendar_times().first_response, Some(mins(45)));
        assert_eq!(f.first_contact_resolution(), Some(true));
        // Another agent's message at the creation instant is a reply (FRT 0).
        let ev = vec![
            created("2 09:00", Actor::agent(5), Status::Open),
            msg("2 09:00", Actor::agent(5), true),
            msg("2 09:00", Actor::agent(6), true),
        ];
        assert_eq!(facts(&ev).calendar_times().first_response, Some(mins(0)));
    }

    #[test]
    fn reopen_and_re_solve() {
        // 09:00 customer writes; 09:20 reply (FRT 20); 09:30 solved (first resolution 30);
        // 10:00 customer writes back and the ticket reopens; 10:30 reply (next response 30);
        // 11:00 solved (full resolution 120); 12:00 closed (not a new solve).
        let mut ev = customer_opens("2 09:00");
        ev.extend([
            msg("2 09:20", Actor::agent(1), true),
            status("2 09:30", Status::Open, Status::Solved),
            msg("2 10:00", Actor::customer(CUSTOMER), true),
            (
                t("2 10:00"),
                Actor::SYSTEM,
                Change::StatusChanged {
                    from: Status::Solved,
                    to: Status::Open,
                },
            ),
        ]);
        let f = facts(&ev);
        assert_eq!(f.reopen_count(), 1);
        assert_eq!(f.first_solved_at(), Some(t("2 09:30")));
        assert_eq!(f.last_solved_at(), None, "open again");
        let c = f.calendar_times();
        assert_eq!(c.first_resolution, Some(mins(30)));
        assert_eq!(c.full_resolution, None);
        assert_eq!(f.first_contact_resolution(), None);
        assert_eq!(f.awaiting_reply_since, Some(t("2 10:00")));
        ev.extend([
            msg("2 10:30", Actor::agent(1), true),
            status("2 11:00", Status::Open, Status::Solved),
            status("2 12:00", Status::Solved, Status::Closed),
        ]);
        let f = facts(&ev);
        assert_eq!(f.solves, vec![t("2 09:30"), t("2 11:00")]);
        let c = f.calendar_times();
        assert_eq!(c.first_response, Some(mins(20)));
        assert_eq!(c.next_responses, vec![mins(30)]);
        assert_eq!(c.first_resolution, Some(mins(30)));
        assert_eq!(c.full_resolution, Some(mins(120)));
        assert_eq!(f.first_contact_resolution(), Some(false));

        // One reply but reopened (closed → open counts too): not FCR.
        let mut ev = customer_opens("2 09:00");
        ev.extend([
            msg("2 09:20", Actor::agent(1), true),
            status("2 09:30", Status::Open, Status::Closed),
            status("2 09:40", Status::Closed, Status::Pending),
            status("2 09:50", Status::Pending, Status::Solved),
        ]);
        let f = facts(&ev);
        assert_eq!((f.agent_public_replies(), f.reopen_count()), (1, 1));
        assert_eq!(f.first_contact_resolution(), Some(false));
        assert_eq!(f.one_touch(), Some(false));
    }

    #[test]
    fn pauses_do_not_stop_the_clocks() {
        // Pending and on-hold are open statuses: moving between them neither solves nor
        // reopens, and the resolution clock keeps running: 09:00 → 13:00 = 240 min.
        let mut ev = customer_opens("2 09:00");
        ev.extend([
            msg("2 09:10", Actor::agent(1), true),
            status("2 09:20", Status::New, Status::Pending),
            status("2 11:00", Status::Pending, Status::OnHold),
            status("2 12:00", Status::OnHold, Status::Open),
            status("2 13:00", Status::Open, Status::Solved),
        ]);
        let f = facts(&ev);
        assert_eq!(f.reopen_count(), 0);
        assert_eq!(f.calendar_times().full_resolution, Some(mins(240)));
        assert_eq!(f.first_contact_resolution(), Some(true));
    }

    /// A fake calendar: business hours are 09:00–17:00 UTC every day, counted by minute.
    fn nine_to_five(from: DateTime<Utc>, to: DateTime<Utc>) -> Duration {
        let mut n = 0;
        let mut m = from;
        while m < to {
            if (9..17).contains(&m.hour()) {
                n += 1;
            }
            m += mins(1);
        }
        mins(n)
    }

    #[test]
    fn business_hours_come_from_the_callers_function() {
        // Customer writes Mon 16:00; reply Tue 10:00: calendar 18 h, business 1 h + 1 h = 2 h.
        // Customer writes Tue 16:30; reply Wed 09:15: business 30 + 15 = 45 min.
        // Solved Wed 11:00: calendar 43 h, business 1 + 8 + 2 = 11 h.
        let mut ev = customer_opens("2 16:00");
        ev.extend([
            msg("3 10:00", Actor::agent(1), true),
            msg("3 16:30", Actor::customer(CUSTOMER), true),
            msg("4 09:15", Actor::agent(1), true),
            status("4 11:00", Status::Open, Status::Solved),
        ]);
        let f = facts(&ev);
        let b = f.times(&nine_to_five);
        assert_eq!(b.first_response, Some(mins(120)));
        assert_eq!(b.next_responses, vec![mins(45)]);
        assert_eq!(b.full_resolution, Some(mins(11 * 60)));
        let c = f.calendar_times();
        assert_eq!(c.first_response, Some(mins(18 * 60)));
        assert_eq!(c.full_resolution, Some(mins(43 * 60)));
    }

    #[test]
    fn merged_tickets_have_no_resolution_or_fcr() {
        let mut ev = customer_opens("2 09:00");
        ev.extend([
            msg("2 09:20", Actor::agent(1), true),
            status("2 09:30", Status::Open, Status::Closed),
        ]);
        let f = TicketFacts::from_events(&ev, true).unwrap();
        let c = f.calendar_times();
        assert_eq!((c.first_resolution, c.full_resolution), (None, None));
        assert_eq!(c.first_response, Some(mins(20)));
        assert_eq!(f.first_contact_resolution(), None);
        assert_eq!(
            f.one_touch(),
            Some(true),
            "one-touch counts every solved ticket"
        );
    }

    #[test]
    fn created_solved_and_malformed_histories() {
        // A ticket created solved is solved at creation, with no reply: not FCR.
        let f = facts(&[created("2 09:00", Actor::agent(5), Status::Solved)]);
        assert_eq!(f.calendar_times().full_resolution, Some(mins(0)));
        assert_eq!(f.first_contact_resolution(), Some(false));
        assert!(TicketFacts::from_events(&[], false).is_err());
        let e = TicketFacts::from_events(&[msg("2 09:00", Actor::SYSTEM, true)], false);
        assert_eq!(e.unwrap_err().field, "events");
        let twice = [
            created("2 09:00", Actor::SYSTEM, Status::New),
            created("2 09:01", Actor::SYSTEM, Status::New),
        ];
        assert!(TicketFacts::from_events(&twice, false).is_err());
        // Clock skew: a reply stamped before creation gives zero, not a negative time.
        let ev = vec![
            created("2 09:00", Actor::customer(CUSTOMER), Status::New),
            msg("2 08:59", Actor::agent(1), true),
        ];
        assert_eq!(facts(&ev).calendar_times().first_response, Some(mins(0)));
    }

    #[test]
    fn dimensions_follow_the_history() {
        let mut ev = customer_opens("2 09:00");
        ev.extend([
            (
                t("2 09:01"),
                Actor::agent(1),
                Change::GroupChanged {
                    from: Some(1),
                    to: Some(2),
                },
            ),
            (
                t("2 09:02"),
                Actor::agent(1),
                Change::AssigneeChanged {
                    from: None,
                    to: Some(3),
                },
            ),
            (
                t("2 09:03"),
                Actor::agent(1),
                Change::PriorityChanged {
                    from: Priority::Normal,
                    to: Priority::High,
                },
            ),
        ]);
        let d = facts(&ev).dimensions;
        assert_eq!(
            d,
            Dimensions {
                channel: Some(Channel::Email),
                priority: Some(Priority::High),
                group_id: Some(2),
                assignee_id: Some(3),
                brand_id: None,
                tags: vec![],
                language: None,
            }
        );
    }

    #[test]
    fn nearest_rank_percentiles_and_means() {
        let v = [50, 15, 40, 20, 35];
        assert_eq!(percentile(&v, 5), Some(15)); // rank ⌈0.25⌉ = 1
        assert_eq!(percentile(&v, 30), Some(20)); // ⌈1.5⌉ = 2
        assert_eq!(percentile(&v, 40), Some(20)); // ⌈2.0⌉ = 2
        assert_eq!(median(&v), Some(35)); // ⌈2.5⌉ = 3
        assert_eq!(p90(&v), Some(50)); // ⌈4.5⌉ = 5
        assert_eq!(percentile(&v, 100), Some(50));
        assert_eq!(percentile(&v, 0), None);
        assert_eq!(percentile(&v, 101), None);
        assert_eq!(median::<i32>(&[]), None);
        assert_eq!(median(&[1, 2, 3, 4]), Some(2), "lower middle value");
        // p90 of 1..=10 is rank 9 → 9; of 1..=20, rank 18 → 18.
        let ten: Vec<i32> = (1..=10).collect();
        assert_eq!(p90(&ten), Some(9));
        let twenty: Vec<i32> = (1..=20).collect();
        assert_eq!(p90(&twenty), Some(18));
        assert_eq!(mean(&[1.0, 2.0, 6.0]), Some(3.0));
        assert_eq!(mean(&[]), None);
        assert_eq!(
            mean_duration(&[mins(10), mins(20), mins(40)]),
            Some(Duration::seconds(70 * 60 / 3))
        );
        assert_eq!(mean_duration(&[]), None);
    }

    /// Deterministic pseudo-random durations, log-uniform from 1 ms to ~115 days.
    fn durations(seed: u64, n: usize) -> Vec<Duration> {
        let mut x = seed | 1;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let u = (x >> 11) as f64 / (1u64 << 53) as f64;
                Duration::milliseconds((u * 23.0).exp() as i64)
            })
            .collect()
    }

    #[test]
    fn sketch_percentiles_stay_within_the_error_bound() {
        let bound = DurationSketch::RELATIVE_ERROR + 1e-9;
        for seed in 1..=20 {
            let values = durations(seed, 1 + (seed as usize * 37) % 500);
            let s = DurationSketch::from_durations(&values);
            for pct in 1..=100 {
                let exact = percentile(&values, pct).unwrap().num_nanoseconds().unwrap() as f64;
                let got = s.percentile(pct).unwrap().num_nanoseconds().unwrap() as f64;
                assert!(
                    (got - exact).abs() <= bound * exact,
                    "seed {seed} p{pct}: {got} vs {exact}"
                );
            }
        }
        // Every single value, from 1 ms up: within 1 %.
        for ms in (1..2000).chain([86_400_000, 1 << 40, i64::MAX / 2]) {
            let s = DurationSketch::from_durations(&[Duration::milliseconds(ms)]);
            // One value: the estimate is clamped to it, so check the raw bucket estimate.
            let est = DurationSketch::estimate_ms(DurationSketch::bucket(ms));
            assert!(
                (est - ms as f64).abs() <= bound * ms as f64,
                "{ms} ms → {est}"
            );
            assert_eq!(s.median(), Some(Duration::milliseconds(ms)));
        }
        // Zero is exact; negative durations count as zero; empty has nothing.
        let s = DurationSketch::from_durations(&[mins(0), mins(-5), mins(10)]);
        assert_eq!(s.median(), Some(mins(0)));
        assert_eq!(s.min(), Some(mins(0)));
        assert_eq!(s.p90(), Some(mins(10)));
        assert_eq!(DurationSketch::new().median(), None);
        assert_eq!(DurationSketch::new().mean(), None);
        assert_eq!(s.percentile(0), None);
    }

    #[test]
    fn sketches_merge_exactly() {
        let a = durations(3, 300);
        let b = durations(4, 200);
        let mut merged = DurationSketch::from_durations(&a);
        merged.merge(&DurationSketch::from_durations(&b));
        let mut other_way = DurationSketch::from_durations(&b);
        other_way.merge(&DurationSketch::from_durations(&a));
        let all: Vec<Duration> = a.iter().chain(&b).copied().collect();
        let whole = DurationSketch::from_durations(&all);
        assert_eq!(merged, whole);
        assert_eq!(other_way, whole);
        assert_eq!(whole.count(), 500);
        assert_eq!(whole.mean(), mean_duration(&all));
        assert_eq!(whole.max(), all.iter().max().copied());
        // Round-trips through JSON for storage.
        let json = serde_json::to_string(&whole).unwrap();
        assert_eq!(
            serde_json::from_str::<DurationSketch>(&json).unwrap(),
            whole
        );
        let mut empty = DurationSketch::new();
        empty.merge(&DurationSketch::new());
        assert!(empty.is_empty());
    }

    #[test]
    fn hourly_rollups_merge_into_a_month() {
        // Ticket A: created 2 09:00, replied 09:30, solved 10:15 with one reply → FCR.
        let mut a = customer_opens("2 09:00");
        a.extend([
            msg("2 09:30", Actor::agent(1), true),
            status("2 10:15", Status::Open, Status::Solved),
        ]);
        // Ticket B: created 3 16:00, replied 4 10:00, customer 4 10:10, reply 4 10:40,
        // solved 4 11:00 → two replies, not FCR.
        let mut b = customer_opens("3 16:00");
        b.extend([
            msg("4 10:00", Actor::agent(2), true),
            msg("4 10:10", Actor::customer(CUSTOMER), true),
            msg("4 10:40", Actor::agent(2), true),
            status("4 11:00", Status::Open, Status::Solved),
        ]);
        let mut hourly = BTreeMap::new();
        for ev in [&a, &b] {
            let f = facts(ev);
            merge_rollups(
                &mut hourly,
                contributions(&f, &f.dimensions, Some(&nine_to_five)),
            );
        }
        let dims = facts(&a).dimensions;
        let a_reply_hour = &hourly[&RollupKey::hourly(t("2 09:30"), dims.clone())];
        assert_eq!(
            a_reply_hour.created, 1,
            "created 09:00 and replied 09:30: same hour"
        );
        assert_eq!(a_reply_hour.agent_replies, 1);
        assert_eq!(
            a_reply_hour.calendar.first_response.median(),
            Some(mins(30))
        );
        let a_solve_hour = &hourly[&RollupKey::hourly(t("2 10:15"), dims.clone())];
        assert_eq!(a_solve_hour.fcr_pct(), Some(100.0));
        assert_eq!(hourly.len(), 5, "hours 2 09, 2 10, 3 16, 4 10, 4 11");

        // Months: re-key every hour to the start of its UTC month, all dimensions dropped.
        let month = regroup(&hourly, |k| RollupKey {
            period_start: Utc
                .with_ymd_and_hms(k.period_start.year(), k.period_start.month(), 1, 0, 0, 0)
                .unwrap(),
            dimensions: Dimensions::default(),
        });
        assert_eq!(month.len(), 1);
        let m = month.values().next().unwrap();
        assert_eq!(
            (m.created, m.solves, m.reopens, m.agent_replies),
            (2, 2, 0, 3)
        );
        assert_eq!((m.fcr_tickets, m.fcr_resolved), (2, 1));
        assert_eq!(m.fcr_pct(), Some(50.0));
        assert_eq!(m.one_touch_pct(), Some(50.0));
        // First responses: A 30 min, B 18 h calendar / 2 h business. Nearest-rank median
        // of two values is the lower one.
        assert_eq!(m.calendar.first_response.count(), 2);
        let median = m.calendar.first_response.median().unwrap();
        assert!(
            (median - mins(30)).abs() <= Duration::seconds(18),
            "within 1 %: {median}"
        );
        assert_eq!(m.calendar.first_response.p90(), Some(mins(18 * 60)));
        assert_eq!(m.business.first_response.p90(), Some(mins(120)));
        assert_eq!(m.calendar.next_response.median(), Some(mins(30)));
        // Full resolution: A 75 min, B 19 h; mean (75 + 1140)/2 = 607.5 min.
        assert_eq!(
            m.calendar.full_resolution.mean(),
            Some(Duration::seconds(6075 * 6))
        );
        // Without a business function the business sketches stay empty.
        let f = facts(&a);
        let c = contributions(&f, &Dimensions::default(), None);
        assert!(c.values().all(|r| r.business == TimeSketches::default()));
        assert_eq!(hour_start(t("2 09:59")), t("2 09:00"));
    }

    fn link(at: &str, relation: &str) -> Event {
        (
            t(at),
            Actor::agent(1),
            Change::Linked {
                ticket_id: 99,
                relation: relation.into(),
            },
        )
    }

    #[test]
    fn a_merge_event_marks_the_ticket_merged() {
        // Closed as merged into #99: no resolution time, no FCR, but one-touch counts it.
        let mut ev = customer_opens("2 09:00");
        ev.extend([
            msg("2 09:20", Actor::agent(1), true),
            link("2 09:30", MERGED_INTO),
            status("2 09:30", Status::Open, Status::Closed),
        ]);
        let f = facts(&ev);
        assert!(f.merged);
        assert_eq!(f.calendar_times().full_resolution, None);
        assert_eq!(f.first_contact_resolution(), None);
        assert_eq!(f.one_touch(), Some(true));
        // Other links (follow-ups) do not.
        let mut ev = customer_opens("2 09:00");
        ev.push(link("2 09:30", "follow_up_of"));
        assert!(!facts(&ev).merged);
        let c = ticket_contribution(&f, None, &[]);
        let solve_hour = &c.iter().find(|(h, _)| *h == t("2 09:00")).unwrap().1;
        assert_eq!(solve_hour.counts[counter::FCR_TICKETS], 0);
        assert_eq!(solve_hour.counts[counter::ONE_TOUCH_TICKETS], 1);
        assert!(solve_hour.sketches[sketch::FULL_RESOLUTION].is_zero());
    }

    #[test]
    fn business_hours_with_a_real_calendar_and_pending_pauses() {
        // Berlin, Mon–Fri 09–17. Customer writes Fri 6 Mar 16:00 (15:00 UTC); pending from
        // Fri 16:30 to Mon 10:00 (the resolution clock of a report does not pause); reply
        // Mon 9 Mar 09:30 local; solved Mon 11:00 local.
        // Calendar: FRT 65 h 30 min, resolution 67 h. Business: FRT 1 h + 30 min = 1 h 30,
        // resolution 1 h + 2 h = 3 h.
        let cal = crate::sla::Calendar::parse("zone Europe/Berlin\nmon-fri 09:00-17:00").unwrap();
        let utc = |d: u32, h: u32, m: u32| Utc.with_ymd_and_hms(2026, 3, d, h, m, 0).unwrap();
        let ev = vec![
            (
                utc(6, 15, 0),
                Actor::customer(CUSTOMER),
                created_change(Status::New),
            ),
            (
                utc(6, 15, 0),
                Actor::customer(CUSTOMER),
                Change::MessageAdded {
                    time_spent_seconds: None,
                    message_id: 1,
                    public: true,
                },
            ),
            (
                utc(6, 15, 30),
                Actor::agent(1),
                Change::StatusChanged {
                    from: Status::New,
                    to: Status::Pending,
                },
            ),
            (
                utc(9, 8, 30),
                Actor::agent(1),
                Change::MessageAdded {
                    time_spent_seconds: None,
                    message_id: 2,
                    public: true,
                },
            ),
            (
                utc(9, 9, 0),
                Actor::agent(1),
                Change::StatusChanged {
                    from: Status::Pending,
                    to: Status::Open,
                },
            ),
            (
                utc(9, 10, 0),
                Actor::agent(1),
                Change::StatusChanged {
                    from: Status::Open,
                    to: Status::Solved,
                },
            ),
        ];
        let f = facts(&ev);
        let bh = |a, b| cal.business_duration(a, b);
        let b = f.times(&bh);
        assert_eq!(b.first_response, Some(mins(90)));
        assert_eq!(b.full_resolution, Some(mins(180)));
        let c = f.calendar_times();
        assert_eq!(c.first_response, Some(mins(65 * 60 + 30)));
        assert_eq!(c.full_resolution, Some(mins(67 * 60)));
        // Both land in the stored cells: calendar and business sketches side by side.
        let contrib = ticket_contribution(&f, Some(&bh), &[]);
        let mut acc = RollupAcc::default();
        for (_, cell) in &contrib {
            acc.add_cell(cell);
        }
        assert_eq!(
            acc.sketch(sketch::FIRST_RESPONSE + sketch::BUSINESS).mean(),
            Some(mins(90))
        );
        assert_eq!(
            acc.sketch(sketch::FULL_RESOLUTION).mean(),
            Some(mins(67 * 60))
        );
        assert_eq!(acc.count(counter::FCR_RESOLVED), 1);
    }

    fn created_change(status: Status) -> Change {
        created("2 09:00", Actor::customer(CUSTOMER), status).2
    }

    #[test]
    fn sla_outcomes_count_when_met_or_due() {
        use crate::sla::{evaluate, Calendar, Metric, Policy, Target};
        let policy = Policy {
            name: "all".into(),
            conditions: Default::default(),
            targets: vec![
                Target::new(Metric::FirstReply, 30, false),
                Target::new(Metric::Resolution, 60, false),
            ],
            calendar: None,
        };
        // Reply after 20 min (met at 09:20); solved after 2 h (breached, due 10:00).
        let mut ev = customer_opens("2 09:00");
        ev.extend([
            msg("2 09:20", Actor::agent(1), true),
            status("2 11:00", Status::Open, Status::Solved),
        ]);
        let st = evaluate(&ev, &Calendar::always(), &policy, t("2 12:00"));
        let c = sla_contributions(&st, &Dimensions::default());
        let at = |s: &str| &c[&RollupKey::hourly(t(s), Dimensions::default())];
        assert_eq!(at("2 09:20").sla_met[sla_index(Metric::FirstReply)], 1);
        assert_eq!(at("2 10:00").sla_breached[sla_index(Metric::Resolution)], 1);
        assert_eq!(
            c.values()
                .map(|r| r.sla_met.iter().sum::<u64>() + r.sla_breached.iter().sum::<u64>())
                .sum::<u64>(),
            2
        );
        // Still running at 09:10: nothing counted yet.
        let st = evaluate(&ev[..2], &Calendar::always(), &policy, t("2 09:10"));
        assert!(sla_contributions(&st, &Dimensions::default()).is_empty());
    }

    #[test]
    fn stored_cells_round_trip_and_subtract_exactly() {
        // Two tickets spread into rows; then ticket A changes (reopened, solved again,
        // moved to group 2): subtracting its old contribution and adding the new one gives
        // exactly the rows built from scratch.
        let mut a = customer_opens("2 09:00");
        a.extend([
            msg("2 09:30", Actor::agent(1), true),
            status("2 10:15", Status::Open, Status::Solved),
        ]);
        let mut b = customer_opens("3 16:00");
        b.extend([
            msg("4 10:00", Actor::agent(2), true),
            msg("4 10:10", Actor::customer(CUSTOMER), true),
            msg("4 10:40", Actor::agent(2), true),
            status("4 11:00", Status::Open, Status::Solved),
        ]);
        let contrib = |ev: &[Event]| {
            let f = facts(ev);
            let c = ticket_contribution(&f, Some(&nine_to_five), &[]);
            // The stored form round-trips.
            assert_eq!(decode_contribution(&encode_contribution(&c)).unwrap(), c);
            (f.dimensions, c)
        };
        let mut rows = std::collections::HashMap::new();
        let (da, ca) = contrib(&a);
        let (db, cb) = contrib(&b);
        spread_contribution(&mut rows, &da, &ca, 1);
        spread_contribution(&mut rows, &db, &cb, 1);
        let mut a2 = a.clone();
        a2.extend([
            status("5 09:00", Status::Solved, Status::Open),
            (
                t("5 09:01"),
                Actor::agent(1),
                Change::GroupChanged {
                    from: Some(1),
                    to: Some(2),
                },
            ),
            msg("5 09:30", Actor::agent(1), true),
            status("5 10:00", Status::Open, Status::Solved),
        ]);
        let (da2, ca2) = contrib(&a2);
        spread_contribution(&mut rows, &da, &ca, -1);
        spread_contribution(&mut rows, &da2, &ca2, 1);
        rows.retain(|_, c| !c.is_zero());
        let mut fresh = std::collections::HashMap::new();
        spread_contribution(&mut fresh, &da2, &ca2, 1);
        spread_contribution(&mut fresh, &db, &cb, 1);
        assert_eq!(rows, fresh);
        assert!(rows.values().all(RollupCell::is_valid));
        // Each row's sketches survive encoding, and sum like the rollups they store.
        let mut acc = RollupAcc::default();
        let mut month = Rollup::default();
        for (k, cell) in &rows {
            let enc = cell.encode_sketches();
            assert_eq!(RollupCell::decode_sketches(&enc).unwrap(), cell.sketches);
            if k.grain == Grain::Hour {
                acc.add_stored(&cell.counts, &enc).unwrap();
                month.merge(&cell.to_rollup().unwrap());
            }
        }
        assert_eq!(acc.count(counter::CREATED), 2);
        assert_eq!(acc.count(counter::REOPENED_SOLVED), 1);
        assert_eq!(acc.count(counter::SOLVED_REPLIES), 4);
        assert_eq!(
            acc.sketch(sketch::FULL_RESOLUTION),
            month.calendar.full_resolution
        );
        assert_eq!(
            acc.sketch(sketch::FIRST_RESPONSE + sketch::BUSINESS),
            month.business.first_response
        );
        // Grains: the day rows hold what the hour rows hold.
        let day_created: i64 = rows
            .iter()
            .filter(|(k, _)| k.grain == Grain::Day)
            .map(|(_, c)| c.counts[counter::CREATED])
            .sum();
        assert_eq!(day_created, 2);
        assert!(rows
            .keys()
            .filter(|k| k.grain.is_agent())
            .all(|k| k.dimensions.group_id.is_none()));
        // Damaged bytes are an error, not a panic.
        assert!(RollupCell::decode_sketches(&[9, 9]).is_err());
        assert!(RollupCell::decode_sketches(&[]).is_err());
        assert!(decode_contribution(&[1, 200]).is_err());
        let mut enc = encode_contribution(&ca);
        enc.push(0);
        assert!(decode_contribution(&enc).is_err());
    }

    #[test]
    fn stored_sketches_lose_only_their_extremes() {
        // One value of 30 min: in memory the median is clamped to it exactly; read back from
        // storage it is the bucket's estimate, still within 1 %.
        let s = DurationSketch::from_durations(&[mins(30)]);
        let back = SketchCell::of(&s).to_sketch().unwrap();
        assert_eq!(s.median(), Some(mins(30)));
        assert_eq!(back.min(), None);
        let m = back.median().unwrap().num_milliseconds() as f64;
        assert!((m - 1_800_000.0).abs() <= 0.01 * 1_800_000.0, "{m}");
        assert_eq!(back.mean(), Some(mins(30)));
        // A cell with negative counts is a difference, not a sketch.
        let mut d = SketchCell::default();
        d.add(&SketchCell::of(&s), -1);
        assert_eq!(d.to_sketch(), None);
        d.add(&SketchCell::of(&s), 1);
        assert!(d.is_zero());
    }
}
