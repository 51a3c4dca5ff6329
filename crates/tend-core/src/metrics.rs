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

use crate::{Actor, ActorKind, Change, Channel, Invalid, Priority, Status};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One event of a ticket's history: when, who, what.
pub type Event = (DateTime<Utc>, Actor, Change);

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
    /// Dimensions after the last event.
    pub dimensions: Dimensions,
    /// Closed as merged into another ticket (given by the caller; there is no merge event).
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
            },
            merged,
            first_response_at: None,
            next_response_waits: Vec::new(),
            awaiting_reply_since: None,
            agent_replies: Vec::new(),
            solves: Vec::new(),
            reopens: Vec::new(),
        };
        if !status.is_open() {
            f.solves.push(*created_at);
        }
        let mut opening_seen = false;
        for (at, actor, change) in rest {
            match change {
                Change::Created { .. } => {
                    return Err(bad_history("a ticket's history has one Created event"))
                }
                Change::MessageAdded { public, .. } => {
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
                        (true, false) => f.solves.push(*at),
                        (false, true) => f.reopens.push(*at),
                        _ => {}
                    }
                    f.status = *to;
                }
                Change::PriorityChanged { to, .. } => f.dimensions.priority = Some(*to),
                Change::AssigneeChanged { to, .. } => f.dimensions.assignee_id = *to,
                Change::GroupChanged { to, .. } => f.dimensions.group_id = *to,
                Change::SubjectChanged { .. }
                | Change::TagsChanged { .. }
                | Change::FieldChanged { .. }
                | Change::SlaWarning { .. }
                | Change::SlaBreached { .. }
                | Change::Linked { .. } => {}
            }
        }
        Ok(f)
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
/// exact. Estimates are also clamped to the exact minimum and maximum seen.
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

    pub fn min(&self) -> Option<Duration> {
        self.min_ms.map(Duration::milliseconds)
    }

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
        let (lo, hi) = (self.min_ms?, self.max_ms?);
        let ms = Self::estimate_ms(bucket);
        // Nanoseconds keep the estimate's precision; beyond ~285 years fall back to ms.
        Some(if ms <= lo as f64 {
            Duration::milliseconds(lo)
        } else if ms >= hi as f64 {
            Duration::milliseconds(hi)
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
/// FCR and one-touch at the last solve of a ticket solved now.
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
}
