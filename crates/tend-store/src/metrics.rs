//! Metric roll-ups kept from the event sequence, and the reports read from them.
//!
//! Per ticket the stores keep a row (`metric_tickets`): the ticket's current facts (status,
//! dimensions, first response, solves, replies, FCR…) and its **contribution** — the cells
//! it adds to the hourly roll-ups ([`tend_core::metrics::ticket_contribution`], encoded).
//! Roll-up rows (`metric_rollups`) hold counters and stored sketches per grain (UTC hour /
//! UTC day, by channel × priority × group × brand, or by assignee), period and dimensions.
//!
//! **The tailer** ([`tail`]) reads `events_since(checkpoint)`, loads the full history of
//! every ticket those events touch, recomputes its facts and contribution, and in ONE
//! transaction ([`Store::metric_apply`](crate::Store::metric_apply)) subtracts each ticket's
//! stored contribution from the roll-up rows, adds the new one, replaces the ticket row and
//! moves the checkpoint — only if the checkpoint is still where it was read (compare and
//! set), so two servers never apply a batch twice and a crash (kill -9) leaves either the
//! whole batch or nothing. Because a ticket's contribution is recomputed from its whole
//! history and replaces the old one, applying it is idempotent.
//!
//! **Rebuild** ([`rebuild`]) marks the state `rebuilding` (tailers stand aside), empties the
//! tables, recomputes every ticket in id order, writes the roll-ups, and sets the
//! checkpoint to the sequence number every event up to which it was certain to see.
//!
//! Business-hour times use the SLA calendar (settings key `sla`) when one is configured;
//! SLA compliance uses its policies. A ticket's numbers are computed with the configuration
//! of the moment it was last computed; after changing the calendar, rebuild.

use crate::survey::{ScoreCount, ScoreGroup, ScoreQuery, SurveyKind};
use crate::{Result, Store, StoreError};
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, HashMap};
use tend_core::metrics::{
    decode_contribution, encode_contribution, spread_contribution, ticket_contribution,
    Contribution, Dimensions, Event as CoreEvent, RebuildRows, RollupCell, RowKey, TicketFacts,
};
use tend_core::report::{
    build, survey_split, Dim, GroupKey, MetricGroup, Report, ReportInputs, ReportRequest,
    SurveyCell, SurveyInput,
};
use tend_core::sla::{evaluate_ticket, Calendar, CalendarSpec, Policy};
use tend_core::survey::{nps_category, CsatCounts, CsatScale, NpsCategory};
use tend_core::Status;

/// Events read per tailer batch.
pub const TAIL_BATCH: i64 = 2_000;
/// Tickets read per rebuild step.
pub const REBUILD_BATCH: i64 = 10_000;
/// Roll-up rows written per rebuild transaction.
pub const REBUILD_WRITE_ROWS: usize = 20_000;

/// The drill-down indexes of `metric_tickets` (migration 0016): a rebuild drops them when it
/// starts and creates them again when it finishes (one sort each instead of a million
/// scattered index inserts); a rebuild that dies leaves them missing until the next one,
/// which the report notes ask for anyway.
pub const DRILL_INDEXES: [(&str, &str); 4] = [
    ("metric_tickets_created", "created_at, ticket_id"),
    (
        "metric_tickets_first_response",
        "first_response_at, ticket_id",
    ),
    ("metric_tickets_first_solved", "first_solved_at, ticket_id"),
    ("metric_tickets_solved", "solved_at, ticket_id"),
];

/// Where the metric tailer stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricState {
    /// Every event up to this sequence number is in the roll-ups.
    pub last_seq: i64,
    /// Bumped by every rebuild: a batch computed before it cannot be applied after it.
    pub generation: i64,
    /// A rebuild is running (or died): tailers stand aside until it finishes.
    pub rebuilding: bool,
}

/// One ticket's history for the metrics, with what it contributes now (if anything).
#[derive(Debug, Clone)]
pub struct MetricHistory {
    pub ticket_id: i64,
    /// Oldest first.
    pub events: Vec<CoreEvent>,
    /// The ticket's stored dimensions and encoded contribution.
    pub stored: Option<(Dimensions, Vec<u8>)>,
    /// The requester's language when the metrics first saw the ticket (kept in
    /// `metric_ticket_languages`, which rebuilds do not empty), else the requester's language
    /// now: the ticket's `language` dimension.
    pub language: Option<String>,
}

/// A ticket's row in the metric tables: its facts now and its contribution.
#[derive(Debug, Clone, PartialEq)]
pub struct TicketMetricRow {
    pub ticket_id: i64,
    pub dimensions: Dimensions,
    pub status: Status,
    pub created_at: DateTime<Utc>,
    pub first_response_at: Option<DateTime<Utc>>,
    pub first_solved_at: Option<DateTime<Utc>>,
    /// The last solve, if solved now.
    pub solved_at: Option<DateTime<Utc>>,
    pub replies: i64,
    pub reopens: i64,
    pub merged: bool,
    pub fcr: Option<bool>,
    /// [`tend_core::metrics::encode_contribution`] bytes.
    pub contribution: Vec<u8>,
}

/// What one tailer batch writes, in one transaction, if the state is still
/// (`from_seq`, `generation`, not rebuilding).
#[derive(Debug, Clone)]
pub struct MetricBatch {
    pub from_seq: i64,
    pub to_seq: i64,
    pub generation: i64,
    pub tickets: Vec<TicketMetricRow>,
    /// Changes to roll-up rows (added to the stored cell; a row that becomes zero is removed).
    pub deltas: Vec<(RowKey, RollupCell)>,
}

/// Which roll-up rows a report reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RollupQuery {
    /// Which rows: the cube, or the per-agent, per-tag or per-language ones.
    pub family: tend_core::report::Family,
    /// `[from, to)` ranges of hourly rows.
    pub hours: Vec<(DateTime<Utc>, DateTime<Utc>)>,
    /// `[from, to)` ranges of daily rows.
    pub days: Vec<(DateTime<Utc>, DateTime<Utc>)>,
}

/// What the metrics use from the settings.
#[derive(Default)]
pub struct MetricConfig {
    /// The SLA calendar, for business-hour times.
    pub calendar: Option<Calendar>,
    pub policies: Vec<Policy>,
}

impl MetricConfig {
    /// Reads the `sla` settings document (calendar and policies); a document that does not
    /// parse is treated as absent (the SLA API validates what it stores).
    pub async fn load(store: &dyn Store) -> Result<MetricConfig> {
        let Some(v) = store.get_setting("sla").await? else {
            return Ok(MetricConfig::default());
        };
        let calendar = serde_json::from_value::<CalendarSpec>(v["calendar"].clone())
            .ok()
            .and_then(|spec| Calendar::new(spec).ok());
        let policies =
            serde_json::from_value::<Vec<Policy>>(v["policies"].clone()).unwrap_or_default();
        Ok(MetricConfig { calendar, policies })
    }
}

/// Facts and contribution of one ticket from its history; `language` is its language
/// dimension ([`MetricHistory::language`]).
pub fn compute_ticket(
    ticket_id: i64,
    events: &[CoreEvent],
    language: Option<&str>,
    cfg: &MetricConfig,
    now: DateTime<Utc>,
) -> std::result::Result<(TicketMetricRow, Contribution), tend_core::Invalid> {
    let mut facts = TicketFacts::from_events(events, false)?;
    facts.dimensions.language = language.map(str::to_string);
    let sla = match (&cfg.calendar, cfg.policies.is_empty()) {
        (Some(cal), false) => evaluate_ticket(events, cal, &cfg.policies, None, now)
            .map(|(_, st)| st)
            .unwrap_or_default(),
        _ => Vec::new(),
    };
    let business = cfg
        .calendar
        .as_ref()
        .map(|c| move |a: DateTime<Utc>, b: DateTime<Utc>| c.business_duration(a, b));
    let contribution = match &business {
        Some(f) => ticket_contribution(&facts, Some(f), &sla),
        None => ticket_contribution(&facts, None, &sla),
    };
    let row = TicketMetricRow {
        ticket_id,
        dimensions: facts.dimensions.clone(),
        status: facts.status,
        created_at: facts.created_at,
        first_response_at: facts.first_response_at,
        first_solved_at: facts.first_solved_at(),
        solved_at: facts.last_solved_at(),
        replies: facts.agent_replies.len() as i64,
        reopens: facts.reopens.len() as i64,
        merged: facts.merged,
        fcr: facts.first_contact_resolution(),
        contribution: encode_contribution(&contribution),
    };
    Ok((row, contribution))
}

/// A target with its id (definition in [`tend_core::targets::TargetDef`]).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Target {
    pub id: i64,
    #[serde(flatten)]
    pub def: tend_core::targets::TargetDef,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Live counts for the operations dashboard, each from an index.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct OpsCounts {
    /// Tickets in new, open, pending or on-hold.
    pub open: i64,
    pub new: i64,
    pub pending: i64,
    pub on_hold: i64,
    /// Open (new, open, pending, on-hold) with no assignee.
    pub unassigned: i64,
    /// Open with a running SLA clock whose due time has passed (`tickets.sla_due_us`).
    pub sla_breached: i64,
    /// Open with a running SLA clock due within the window (not yet passed).
    pub sla_due_soon: i64,
}

/// Which instant of a ticket's metric row a drill-down lists by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DrillOn {
    /// Created in the period (`created`).
    Created,
    /// First reply in the period (`frt_*`).
    FirstResponse,
    /// First solve in the period (`first_resolution_*`).
    FirstSolved,
    /// Last solve in the period and solved now (`solved_tickets`, FCR, one-touch, reopen
    /// rate, replies per ticket, `full_resolution_*`).
    Solved,
}

impl DrillOn {
    /// The `metric_tickets` column.
    pub fn column(self) -> &'static str {
        match self {
            DrillOn::Created => "created_at",
            DrillOn::FirstResponse => "first_response_at",
            DrillOn::FirstSolved => "first_solved_at",
            DrillOn::Solved => "solved_at",
        }
    }
}

/// The tickets behind a report number: `on` in `[from, to)`, with the report's filters,
/// newest first, after a keyset cursor.
#[derive(Debug, Clone)]
pub struct DrillQuery {
    pub on: DrillOn,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub filters: tend_core::report::Filters,
    /// Continue after (time, ticket id).
    pub after: Option<(DateTime<Utc>, i64)>,
    pub limit: i64,
}

/// A ticket of a drill-down with the instant it was listed by.
#[derive(Debug, Clone, PartialEq)]
pub struct DrillRow {
    pub ticket_id: i64,
    pub at: DateTime<Utc>,
}

/// What one call of [`tail`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TailOutcome {
    pub events: usize,
    pub tickets: usize,
    /// Histories that could not be read as a ticket (no Created event).
    pub skipped: usize,
    pub last_seq: i64,
}

/// Applies up to `max_batches` batches of new events to the roll-ups; stops early when
/// caught up, when a rebuild is running, or when another server applied the batch first.
pub async fn tail(
    store: &dyn Store,
    now: DateTime<Utc>,
    max_batches: usize,
) -> Result<TailOutcome> {
    let mut out = TailOutcome::default();
    let mut cfg: Option<MetricConfig> = None;
    for _ in 0..max_batches {
        let state = store.metric_state().await?;
        out.last_seq = state.last_seq;
        if state.rebuilding {
            break;
        }
        let events = store.events_since(state.last_seq, TAIL_BATCH).await?;
        let Some(to_seq) = events.last().map(|e| e.seq) else {
            break;
        };
        // Survey marks change nothing a metric reads.
        let mut ids: Vec<i64> = events
            .iter()
            .filter(|e| !e.change.is_survey())
            .map(|e| e.ticket_id)
            .collect();
        ids.sort_unstable();
        ids.dedup();
        if cfg.is_none() {
            cfg = Some(MetricConfig::load(store).await?);
        }
        let cfg = cfg.as_ref().unwrap_or_else(|| unreachable!());
        let histories = store.metric_histories(ids).await?;
        let mut deltas: HashMap<RowKey, RollupCell> = HashMap::new();
        let mut tickets = Vec::with_capacity(histories.len());
        for h in histories {
            let (row, new) =
                match compute_ticket(h.ticket_id, &h.events, h.language.as_deref(), cfg, now) {
                    Ok(r) => r,
                    Err(_) => {
                        // A history without its Created event (cannot happen through the
                        // stores): counted, left out.
                        out.skipped += 1;
                        continue;
                    }
                };
            if let Some((dims, bytes)) = &h.stored {
                if *bytes == row.contribution && *dims == row.dimensions {
                    tickets.push(row);
                    continue;
                }
                let old = decode_contribution(bytes).map_err(|e| {
                    StoreError::Backend(format!(
                        "metrics: ticket {}: {e}; run `tend metrics rebuild`",
                        h.ticket_id
                    ))
                })?;
                spread_contribution(&mut deltas, dims, &old, -1);
            }
            spread_contribution(&mut deltas, &row.dimensions, &new, 1);
            tickets.push(row);
        }
        let n_tickets = tickets.len();
        let batch = MetricBatch {
            from_seq: state.last_seq,
            to_seq,
            generation: state.generation,
            tickets,
            deltas: deltas.into_iter().filter(|(_, c)| !c.is_zero()).collect(),
        };
        if !store.metric_apply(batch).await? {
            break;
        }
        out.events += events.len();
        out.tickets += n_tickets;
        out.last_seq = to_seq;
        if (events.len() as i64) < TAIL_BATCH {
            break;
        }
    }
    Ok(out)
}

/// Progress of a rebuild, for a progress bar.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RebuildProgress {
    pub tickets_done: u64,
    pub tickets_total: u64,
    pub rows_written: u64,
}

/// What a rebuild did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RebuildOutcome {
    pub tickets: u64,
    pub skipped: u64,
    pub rows: u64,
    pub last_seq: i64,
}

/// Runs `f` on a thread of its own and awaits its result (the rebuild's computing, beside
/// the store's reader and writer).
async fn on_thread<R: Send + 'static>(f: impl FnOnce() -> R + Send + 'static) -> Result<R> {
    let (tx, rx) = futures::channel::oneshot::channel();
    std::thread::Builder::new()
        .name("tend-metrics-rebuild".into())
        .spawn(move || {
            let _ = tx.send(f());
        })
        .map_err(|e| StoreError::Backend(format!("metrics rebuild: {e}")))?;
    rx.await
        .map_err(|_| StoreError::Backend("metrics rebuild: the computing thread panicked".into()))
}

/// Computes a batch of histories into `rows`: the ticket rows to write and how many were
/// skipped (no Created event).
fn compute_batch(
    histories: Vec<MetricHistory>,
    rows: &mut RebuildRows,
    cfg: &MetricConfig,
    now: DateTime<Utc>,
) -> (Vec<TicketMetricRow>, u64) {
    let mut tickets = Vec::with_capacity(histories.len());
    let mut skipped = 0;
    for h in &histories {
        match compute_ticket(h.ticket_id, &h.events, h.language.as_deref(), cfg, now) {
            Ok((row, c)) => {
                rows.add_ticket(&row.dimensions, &c);
                tickets.push(row);
            }
            Err(_) => skipped += 1,
        }
    }
    (tickets, skipped)
}

/// Recomputes every ticket's facts and every roll-up row from the events.
///
/// Three stages run at the same time, batch by batch: the store reads batch n+1, a thread
/// computes batch n (facts, contribution, and the sums of the hourly roll-up rows in
/// memory), and the store writes the ticket rows of batch n−1. The roll-up rows are
/// written once at the end, hourly and daily, in key order.
pub async fn rebuild(
    store: &dyn Store,
    now: DateTime<Utc>,
    progress: &mut (dyn FnMut(RebuildProgress) + Send),
) -> Result<RebuildOutcome> {
    let total = store.stats().await?.tickets.max(0) as u64;
    let state = store.metric_rebuild_begin().await?;
    let cfg = std::sync::Arc::new(MetricConfig::load(store).await?);
    let mut p = RebuildProgress {
        tickets_total: total,
        ..Default::default()
    };
    progress(p);
    let mut rows = RebuildRows::default();
    let mut out = RebuildOutcome::default();
    let mut histories = store.metric_histories_after(0, REBUILD_BATCH).await?;
    let mut to_write: Vec<TicketMetricRow> = Vec::new();
    loop {
        let after = histories.last().map(|h| h.ticket_id);
        if after.is_none() && to_write.is_empty() {
            break;
        }
        let n = histories.len() as u64;
        let batch = std::mem::take(&mut histories);
        let acc = std::mem::take(&mut rows);
        let cfg2 = cfg.clone();
        let compute = on_thread(move || {
            let mut acc = acc;
            let (tickets, skipped) = compute_batch(batch, &mut acc, &cfg2, now);
            (acc, tickets, skipped)
        });
        let write = async {
            if to_write.is_empty() {
                return Ok(());
            }
            let tickets = std::mem::take(&mut to_write);
            store
                .metric_rebuild_write(state.generation, tickets, Vec::new())
                .await
        };
        let read = async {
            match after {
                Some(a) => store.metric_histories_after(a, REBUILD_BATCH).await,
                None => Ok(Vec::new()),
            }
        };
        let (computed, written, next) = futures::join!(compute, write, read);
        written?;
        let (acc, tickets, skipped) = computed?;
        rows = acc;
        out.skipped += skipped;
        out.tickets += tickets.len() as u64;
        to_write = tickets;
        histories = next?;
        p.tickets_done += n;
        progress(p);
    }
    let mut all = on_thread(move || rows.into_rows()).await?.into_iter();
    loop {
        let chunk: Vec<(RowKey, RollupCell)> = all.by_ref().take(REBUILD_WRITE_ROWS).collect();
        if chunk.is_empty() {
            break;
        }
        p.rows_written += chunk.len() as u64;
        store
            .metric_rebuild_write(state.generation, Vec::new(), chunk)
            .await?;
        progress(p);
    }
    out.rows = p.rows_written;
    store
        .metric_rebuild_finish(state.generation, state.last_seq)
        .await?;
    out.last_seq = state.last_seq;
    Ok(out)
}

// ---------------------------------------------------------------------------------------
// Reports
// ---------------------------------------------------------------------------------------

/// Survey per-period values are fetched for at most this many periods (one count query per
/// period and kind); longer series show survey scores in the totals only.
pub const SURVEY_MAX_PERIODS: usize = 400;

fn survey_cell(kind: SurveyKind, counts: &[ScoreCount]) -> BTreeMap<Option<String>, SurveyCell> {
    let mut out: BTreeMap<Option<String>, SurveyCell> = BTreeMap::new();
    for c in counts {
        let cell = out.entry(c.bucket.clone()).or_default();
        match kind {
            SurveyKind::Nps => match nps_category(c.score) {
                Ok(NpsCategory::Detractor) => cell.nps.detractors += c.count,
                Ok(NpsCategory::Passive) => cell.nps.passives += c.count,
                Ok(NpsCategory::Promoter) => cell.nps.promoters += c.count,
                Err(_) => {}
            },
            SurveyKind::Csat => {
                let points = c.scale.unwrap_or(5);
                let scale = match points {
                    2 => CsatScale::TwoPoint,
                    3 => CsatScale::ThreePoint,
                    _ => CsatScale::FivePoint,
                };
                if scale.check(c.score).is_ok() {
                    cell.csat
                        .entry(points)
                        .or_insert_with(|| CsatCounts::new(scale))
                        .counts[usize::from(c.score - 1)] += c.count;
                }
            }
            SurveyKind::Ces => {
                if (1..=7).contains(&c.score) {
                    cell.ces.counts[usize::from(c.score - 1)] += c.count;
                }
            }
        }
    }
    out
}

async fn survey_counts(
    store: &dyn Store,
    kinds: &[SurveyKind],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    split: Option<Dim>,
) -> Result<BTreeMap<GroupKey, SurveyCell>> {
    let group_by = match split {
        None => ScoreGroup::All,
        Some(Dim::Group) => ScoreGroup::Group,
        Some(Dim::Channel) => ScoreGroup::Channel,
        Some(_) => ScoreGroup::Agent,
    };
    let mut out: BTreeMap<GroupKey, SurveyCell> = BTreeMap::new();
    for kind in kinds {
        let counts = store
            .survey_counts(ScoreQuery {
                kind: *kind,
                from: Some(from),
                to: Some(to),
                group_by,
            })
            .await?;
        for (bucket, cell) in survey_cell(*kind, &counts.answers) {
            let key = if split.is_some() {
                vec![bucket]
            } else {
                vec![]
            };
            out.entry(key).or_default().merge(&cell);
        }
    }
    Ok(out)
}

/// A report with everything it needs from the store: roll-up rows of the range and of the
/// previous range, the tickets open before it, and survey counts. Never reads events.
pub async fn run_report(store: &dyn Store, req: &ReportRequest) -> Result<Report> {
    let plan = req.plan()?;
    let prev = req.previous_plan()?;
    // The roll-up reads and the survey counts are independent: run them side by side.
    let rollups = async {
        let q = |p: &tend_core::report::Plan| RollupQuery {
            family: p.family,
            hours: p.hours.clone(),
            days: p.days.clone(),
        };
        let (rows, previous_rows, open_before) = futures::try_join!(
            store.metric_rollups(q(&plan)),
            store.metric_rollups(q(&prev)),
            store.metric_open_before(plan.family, plan.start()),
        )?;
        Ok::<_, StoreError>((rows, previous_rows, open_before))
    };
    let (rollups, surveys) = futures::join!(rollups, report_surveys(store, req, &plan, &prev));
    let (rows, previous_rows, open_before) = rollups?;
    let (surveys, survey_notes) = surveys?;
    let mut notes = Vec::new();
    let state = store.metric_state().await?;
    if state.rebuilding {
        notes.push("The metrics are being rebuilt: numbers are incomplete until `tend metrics rebuild` finishes (if it stopped, run it again).".to_string());
    }
    let cfg = MetricConfig::load(store).await?;
    let wants = |g: MetricGroup| req.metrics.contains(&g);
    let times = [MetricGroup::Frt, MetricGroup::Nrt, MetricGroup::Resolution];
    if cfg.calendar.is_none() && times.iter().any(|g| wants(*g)) {
        notes.push(
            "No business calendar is configured (SLA settings): business-hour times are empty."
                .to_string(),
        );
    }
    if cfg.policies.is_empty() && wants(MetricGroup::Sla) {
        notes.push("No SLA policies are configured: SLA compliance is empty.".to_string());
    }
    notes.extend(survey_notes);
    let inputs = ReportInputs {
        rows,
        previous_rows,
        open_before,
        surveys,
        notes,
    };
    Ok(build(req, &plan, &prev, &inputs)?)
}

/// Survey counts for a report (`None` when no survey metric is asked for), and notes.
async fn report_surveys(
    store: &dyn Store,
    req: &ReportRequest,
    plan: &tend_core::report::Plan,
    prev: &tend_core::report::Plan,
) -> Result<(Option<SurveyInput>, Vec<String>)> {
    let mut notes = Vec::new();
    let wants = |g: MetricGroup| req.metrics.contains(&g);
    let kinds: Vec<SurveyKind> = [
        (MetricGroup::Csat, SurveyKind::Csat),
        (MetricGroup::Nps, SurveyKind::Nps),
        (MetricGroup::Ces, SurveyKind::Ces),
    ]
    .into_iter()
    .filter(|(g, _)| wants(*g))
    .map(|(_, k)| k)
    .collect();
    let surveys = if kinds.is_empty() {
        None
    } else {
        // Only kinds that have a survey are counted.
        let defined: Vec<SurveyKind> = store.list_surveys().await?.iter().map(|s| s.kind).collect();
        let kinds: Vec<SurveyKind> = kinds.into_iter().filter(|k| defined.contains(k)).collect();
        let mut input = SurveyInput::default();
        let (start, end) = (plan.start(), plan.end());
        // Answer counts add up over disjoint ranges: the groups and the total are sums of
        // the periods (one count per period and kind), unless there are too many periods.
        let split = survey_split(req);
        let per_period = split.is_some() && plan.periods.len() <= SURVEY_MAX_PERIODS;
        let kinds = &kinds;
        let previous = async {
            if req.filters.is_empty() {
                survey_counts(store, kinds, prev.start(), prev.end(), None).await
            } else {
                Ok(BTreeMap::new())
            }
        };
        let current = async {
            match (split, per_period) {
                (Some(split), true) => {
                    // Four counts at a time.
                    let ranges: Vec<(DateTime<Utc>, DateTime<Utc>)> =
                        plan.periods.iter().map(|p| (p.start, p.end)).collect();
                    let mut periods = Vec::with_capacity(ranges.len());
                    for chunk in ranges.chunks(4) {
                        let mut counts = Vec::with_capacity(chunk.len());
                        for (a, b) in chunk {
                            counts.push(survey_counts(store, kinds, *a, *b, split));
                        }
                        periods.extend(futures::future::try_join_all(counts).await?);
                    }
                    Ok::<_, StoreError>((periods, None, None))
                }
                _ => {
                    let groups = match split {
                        Some(split) => Some(survey_counts(store, kinds, start, end, split).await?),
                        None => None,
                    };
                    let total = if req.filters.is_empty() {
                        Some(survey_counts(store, kinds, start, end, None).await?)
                    } else {
                        None
                    };
                    Ok((Vec::new(), groups, total))
                }
            }
        };
        let (previous, current) = futures::join!(previous, current);
        for c in previous?.values() {
            input.previous.merge(c);
        }
        let (periods, groups, total) = current?;
        for cells in &periods {
            for (k, c) in cells {
                input.groups.entry(k.clone()).or_default().merge(c);
                input.total.merge(c);
            }
        }
        input.periods = periods;
        if let Some(g) = groups {
            notes.push(format!("Survey scores per period are shown for up to {SURVEY_MAX_PERIODS} periods; this report has {}: see the totals.", plan.periods.len()));
            input.groups = g;
        }
        if let Some(t) = total {
            for c in t.values() {
                input.total.merge(c);
            }
        }
        Some(input)
    };
    Ok((surveys, notes))
}
