//! Metric roll-ups on PostgreSQL (see `tend_store::metrics`). A tailer batch is one
//! transaction: the checkpoint is compared and set first (its row lock makes a second
//! server's batch wait, then find the checkpoint moved and write nothing), then ticket rows
//! and roll-up rows change with one statement each (`unnest` arrays).

use crate::db::{execute, query, query_one, DbExt};
use crate::PgStore;
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;
use tend_core::metrics::{
    day_start, Dimensions, Event as CoreEvent, Grain, RollupCell, RowKey, StoredRollup, COUNTERS,
    N_COUNTERS,
};
use tend_core::Change;
use tend_store::metrics::*;
use tend_store::{Result, StoreError};
use tokio_postgres::Row;

/// Key columns of `metric_rollups` after grain and period (tag and language: migration 0025).
const DIM_COLS: &str = "channel, priority, group_id, brand_id, assignee_id, tag, language";
/// Columns of `metric_rollups` before the counters.
const KEY_LEN: usize = 9;
/// How long a rebuild waits for transactions that were running when it started.
const HORIZON_WAIT: Duration = Duration::from_secs(30);

fn rollup_cols() -> String {
    format!(
        "grain, period_start, {DIM_COLS}, {}, sketches",
        COUNTERS.join(", ")
    )
}

fn dims_of(r: &Row, i: usize) -> Dimensions {
    let text = |v: String| (!v.is_empty()).then_some(v);
    let id = |v: i64| (v != 0).then_some(v);
    Dimensions {
        channel: text(r.get(i)).and_then(|v| v.parse().ok()),
        priority: text(r.get(i + 1)).and_then(|v| v.parse().ok()),
        group_id: id(r.get(i + 2)),
        brand_id: id(r.get(i + 3)),
        assignee_id: id(r.get(i + 4)),
        tags: text(r.get(i + 5)).into_iter().collect(),
        language: text(r.get(i + 6)),
    }
}

fn rollup_of(r: &Row) -> Result<StoredRollup> {
    let g: i16 = r.get(0);
    let mut counts = [0i64; N_COUNTERS];
    for (k, v) in counts.iter_mut().enumerate() {
        *v = r.get(KEY_LEN + k);
    }
    Ok(StoredRollup {
        grain: Grain::from_code(g)
            .ok_or_else(|| StoreError::Backend(format!("metrics: grain {g}")))?,
        period_start: r.get(1),
        dimensions: dims_of(r, 2),
        counts,
        sketches: r.get(KEY_LEN + N_COUNTERS),
    })
}

/// Column arrays of roll-up keys (and, for writes, cells), for `unnest`.
#[derive(Default)]
struct RollupArrays {
    grain: Vec<i16>,
    period: Vec<DateTime<Utc>>,
    channel: Vec<String>,
    priority: Vec<String>,
    group: Vec<i64>,
    brand: Vec<i64>,
    assignee: Vec<i64>,
    tag: Vec<String>,
    language: Vec<String>,
    counts: Vec<Vec<i64>>,
    sketches: Vec<Vec<u8>>,
}

impl RollupArrays {
    fn with_counters() -> Self {
        RollupArrays {
            counts: vec![Vec::new(); N_COUNTERS],
            ..Default::default()
        }
    }
    fn key(&mut self, k: &RowKey) {
        let d = &k.dimensions;
        self.grain.push(k.grain.code());
        self.period.push(k.period_start);
        self.channel
            .push(d.channel.map_or("", |c| c.as_str()).to_string());
        self.priority
            .push(d.priority.map_or("", |p| p.as_str()).to_string());
        self.group.push(d.group_id.unwrap_or(0));
        self.brand.push(d.brand_id.unwrap_or(0));
        self.assignee.push(d.assignee_id.unwrap_or(0));
        self.tag.push(d.tags.first().cloned().unwrap_or_default());
        self.language.push(d.language.clone().unwrap_or_default());
    }
    fn row(&mut self, k: &RowKey, cell: &RollupCell) {
        self.key(k);
        for (col, v) in self.counts.iter_mut().zip(cell.counts) {
            col.push(v);
        }
        self.sketches.push(cell.encode_sketches());
    }
    fn is_empty(&self) -> bool {
        self.grain.is_empty()
    }
    fn key_params(&self) -> Vec<&(dyn tokio_postgres::types::ToSql + Sync)> {
        vec![
            &self.grain,
            &self.period,
            &self.channel,
            &self.priority,
            &self.group,
            &self.brand,
            &self.assignee,
            &self.tag,
            &self.language,
        ]
    }
    fn row_params(&self) -> Vec<&(dyn tokio_postgres::types::ToSql + Sync)> {
        let mut p = self.key_params();
        for c in &self.counts {
            p.push(c);
        }
        p.push(&self.sketches);
        p
    }
}

const KEY_UNNEST: &str = "unnest($1::int2[], $2::timestamptz[], $3::text[], $4::text[], $5::int8[], $6::int8[], $7::int8[], $8::text[], $9::text[]) AS k(grain, period_start, channel, priority, group_id, brand_id, assignee_id, tag, language)";

fn insert_rollups_sql(upsert: bool) -> String {
    let mut casts: Vec<String> = [
        "$1::int2[]",
        "$2::timestamptz[]",
        "$3::text[]",
        "$4::text[]",
        "$5::int8[]",
        "$6::int8[]",
        "$7::int8[]",
        "$8::text[]",
        "$9::text[]",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for i in 0..N_COUNTERS {
        casts.push(format!("${}::int8[]", KEY_LEN + 1 + i));
    }
    casts.push(format!("${}::bytea[]", KEY_LEN + 1 + N_COUNTERS));
    let mut sql = format!(
        "INSERT INTO metric_rollups ({}) SELECT * FROM unnest({})",
        rollup_cols(),
        casts.join(", ")
    );
    if upsert {
        let sets: Vec<String> = COUNTERS
            .iter()
            .chain(["sketches"].iter())
            .map(|c| format!("{c} = excluded.{c}"))
            .collect();
        sql.push_str(&format!(
            " ON CONFLICT (grain, period_start, {DIM_COLS}) DO UPDATE SET {}",
            sets.join(", ")
        ));
    }
    sql
}

async fn put_tickets<C: deadpool_postgres::GenericClient>(
    c: &C,
    tickets: &[TicketMetricRow],
) -> Result<()> {
    if tickets.is_empty() {
        return Ok(());
    }
    let id: Vec<i64> = tickets.iter().map(|t| t.ticket_id).collect();
    let channel: Vec<Option<&str>> = tickets
        .iter()
        .map(|t| t.dimensions.channel.map(|c| c.as_str()))
        .collect();
    let priority: Vec<Option<&str>> = tickets
        .iter()
        .map(|t| t.dimensions.priority.map(|p| p.as_str()))
        .collect();
    let group: Vec<Option<i64>> = tickets.iter().map(|t| t.dimensions.group_id).collect();
    let brand: Vec<Option<i64>> = tickets.iter().map(|t| t.dimensions.brand_id).collect();
    let assignee: Vec<Option<i64>> = tickets.iter().map(|t| t.dimensions.assignee_id).collect();
    let status: Vec<&str> = tickets.iter().map(|t| t.status.as_str()).collect();
    let created: Vec<DateTime<Utc>> = tickets.iter().map(|t| t.created_at).collect();
    let first_resp: Vec<Option<DateTime<Utc>>> =
        tickets.iter().map(|t| t.first_response_at).collect();
    let first_solved: Vec<Option<DateTime<Utc>>> =
        tickets.iter().map(|t| t.first_solved_at).collect();
    let solved: Vec<Option<DateTime<Utc>>> = tickets.iter().map(|t| t.solved_at).collect();
    let replies: Vec<i32> = tickets.iter().map(|t| t.replies as i32).collect();
    let reopens: Vec<i32> = tickets.iter().map(|t| t.reopens as i32).collect();
    let merged: Vec<bool> = tickets.iter().map(|t| t.merged).collect();
    let fcr: Vec<Option<bool>> = tickets.iter().map(|t| t.fcr).collect();
    let contribution: Vec<&[u8]> = tickets.iter().map(|t| t.contribution.as_slice()).collect();
    // Tags as one JSON array per ticket (unnest cannot take an array of arrays of different
    // lengths); language as is.
    let tags: Vec<String> = tickets
        .iter()
        .map(|t| serde_json::to_string(&t.dimensions.tags).unwrap_or_else(|_| "[]".into()))
        .collect();
    let language: Vec<Option<&str>> = tickets
        .iter()
        .map(|t| t.dimensions.language.as_deref())
        .collect();
    execute(
        c,
        "INSERT INTO metric_ticket_languages (ticket_id, language) \
         SELECT id, l FROM unnest($1::int8[], $2::text[]) AS x(id, l) WHERE l IS NOT NULL \
         ON CONFLICT (ticket_id) DO NOTHING",
        &[&id, &language],
    )
    .await?;
    execute(
        c,
        "INSERT INTO metric_tickets (ticket_id, channel, priority, group_id, brand_id, assignee_id, status, created_at, first_response_at, first_solved_at, solved_at, replies, reopens, merged, fcr, contribution, tags, language) \
         SELECT i, ch, pr, g, b, a, st, cr, fr, fs, sv, rp, ro, m, f, co, ARRAY(SELECT jsonb_array_elements_text(tg::jsonb)), lg \
         FROM unnest($1::int8[], $2::text[], $3::text[], $4::int8[], $5::int8[], $6::int8[], $7::text[], $8::timestamptz[], $9::timestamptz[], $10::timestamptz[], $11::timestamptz[], $12::int4[], $13::int4[], $14::bool[], $15::bool[], $16::bytea[], $17::text[], $18::text[]) \
           AS x(i, ch, pr, g, b, a, st, cr, fr, fs, sv, rp, ro, m, f, co, tg, lg) \
         ON CONFLICT (ticket_id) DO UPDATE SET channel = excluded.channel, priority = excluded.priority, group_id = excluded.group_id, brand_id = excluded.brand_id, assignee_id = excluded.assignee_id, status = excluded.status, created_at = excluded.created_at, first_response_at = excluded.first_response_at, first_solved_at = excluded.first_solved_at, solved_at = excluded.solved_at, replies = excluded.replies, reopens = excluded.reopens, merged = excluded.merged, fcr = excluded.fcr, contribution = excluded.contribution, tags = excluded.tags, language = excluded.language",
        &[
            &id,
            &channel,
            &priority,
            &group,
            &brand,
            &assignee,
            &status,
            &created,
            &first_resp,
            &first_solved,
            &solved,
            &replies,
            &reopens,
            &merged,
            &fcr,
            &contribution,
            &tags,
            &language,
        ],
    )
    .await?;
    Ok(())
}

fn histories_of(rows: Vec<Row>) -> Result<Vec<MetricHistory>> {
    let mut out: Vec<MetricHistory> = Vec::new();
    for r in rows {
        let id: i64 = r.get(0);
        let change: Change = crate::db::from_json(r.get(4))?;
        let kind: &str = r.get(1);
        let ev: CoreEvent = (r.get(3), crate::db::actor(kind, r.get(2)), change);
        match out.last_mut() {
            Some(h) if h.ticket_id == id => h.events.push(ev),
            _ => out.push(MetricHistory {
                ticket_id: id,
                events: vec![ev],
                stored: None,
                language: None,
            }),
        }
    }
    Ok(out)
}

fn state_of(r: &Row) -> MetricState {
    MetricState {
        last_seq: r.get(0),
        generation: r.get(1),
        rebuilding: r.get(2),
    }
}

/// A sequence number up to which every event is committed: the sequence's value now, once
/// every transaction that was running has ended (the same wait as `events_since`).
async fn horizon(s: &PgStore) -> Result<i64> {
    let c = s.conn().await?;
    crate::db::settled_watermark(&c, "events_seq_seq", -1, HORIZON_WAIT)
        .await?
        .ok_or_else(|| {
            StoreError::Backend(
                "metrics: a transaction has been running for 30 s; try the rebuild again".into(),
            )
        })
}

/// Each ticket's language dimension: kept from its first computation, else its requester's.
async fn languages<C: deadpool_postgres::GenericClient>(
    c: &C,
    out: &mut [MetricHistory],
) -> Result<()> {
    let ids: Vec<i64> = out.iter().map(|h| h.ticket_id).collect();
    let langs: HashMap<i64, String> = query(
        c,
        "SELECT t.id, COALESCE(l.language, NULLIF(c.language, '')) FROM tickets t \
         LEFT JOIN metric_ticket_languages l ON l.ticket_id = t.id \
         LEFT JOIN customers c ON c.id = t.requester_id WHERE t.id = ANY($1)",
        &[&ids],
    )
    .await?
    .iter()
    .filter_map(|r| r.get::<_, Option<String>>(1).map(|l| (r.get(0), l)))
    .collect();
    for h in out {
        h.language = langs.get(&h.ticket_id).cloned();
    }
    Ok(())
}

const HISTORY_COLS: &str = "ticket_id, actor_kind, actor_id, at, data";

pub(crate) async fn metric_state(s: &PgStore) -> Result<MetricState> {
    let c = s.conn().await?;
    let r = query_one(
        &c,
        "SELECT last_seq, generation, rebuilding FROM metric_state WHERE id = 1",
        &[],
    )
    .await?;
    Ok(state_of(&r))
}

pub(crate) async fn metric_histories(s: &PgStore, ids: Vec<i64>) -> Result<Vec<MetricHistory>> {
    let c = s.conn().await?;
    let rows = query(
        &c,
        &format!(
            "SELECT {HISTORY_COLS} FROM events WHERE ticket_id = ANY($1) ORDER BY ticket_id, seq"
        ),
        &[&ids],
    )
    .await?;
    let mut out = histories_of(rows)?;
    let stored: HashMap<i64, (Dimensions, Vec<u8>)> = query(
        &c,
        "SELECT ticket_id, COALESCE(channel, ''), COALESCE(priority, ''), COALESCE(group_id, 0), COALESCE(brand_id, 0), COALESCE(assignee_id, 0), '', COALESCE(language, ''), contribution, tags FROM metric_tickets WHERE ticket_id = ANY($1)",
        &[&ids],
    )
    .await?
    .iter()
    .map(|r| {
        let mut d = dims_of(r, 1);
        d.tags = r.get(9);
        (r.get(0), (d, r.get(8)))
    })
    .collect();
    for h in &mut out {
        h.stored = stored.get(&h.ticket_id).cloned();
    }
    languages(&c, &mut out).await?;
    Ok(out)
}

pub(crate) async fn metric_histories_after(
    s: &PgStore,
    after: i64,
    limit: i64,
) -> Result<Vec<MetricHistory>> {
    let c = s.conn().await?;
    let last: Option<i64> = query_one(
        &c,
        "SELECT MAX(id) FROM (SELECT id FROM tickets WHERE id > $1 ORDER BY id LIMIT $2) t",
        &[&after, &limit],
    )
    .await?
    .get(0);
    let Some(last) = last else {
        return Ok(Vec::new());
    };
    let rows = query(
        &c,
        &format!(
            "SELECT {HISTORY_COLS} FROM events WHERE ticket_id > $1 AND ticket_id <= $2 ORDER BY ticket_id, seq"
        ),
        &[&after, &last],
    )
    .await?;
    let mut out = histories_of(rows)?;
    languages(&c, &mut out).await?;
    Ok(out)
}

pub(crate) async fn metric_apply(s: &PgStore, batch: MetricBatch) -> Result<bool> {
    let mut c = s.conn().await?;
    let tx = c.transaction().await.db()?;
    let moved = execute(
        &tx,
        "UPDATE metric_state SET last_seq = $1 WHERE id = 1 AND last_seq = $2 AND generation = $3 AND NOT rebuilding",
        &[&batch.to_seq, &batch.from_seq, &batch.generation],
    )
    .await?;
    if moved == 0 {
        return Ok(false);
    }
    put_tickets(&tx, &batch.tickets).await?;
    if !batch.deltas.is_empty() {
        let mut keys = RollupArrays::default();
        for (k, _) in &batch.deltas {
            keys.key(k);
        }
        let existing = query(
            &tx,
            &format!(
                "SELECT {} FROM metric_rollups r JOIN {KEY_UNNEST} USING (grain, period_start, {DIM_COLS}) FOR UPDATE OF r",
                rollup_cols().split(", ").map(|c| format!("r.{c}")).collect::<Vec<_>>().join(", ")
            ),
            &keys.key_params(),
        )
        .await?;
        let mut cells: HashMap<RowKey, RollupCell> = HashMap::new();
        for r in &existing {
            let row = rollup_of(r)?;
            let sketches = RollupCell::decode_sketches(&row.sketches)
                .map_err(|e| StoreError::Backend(e.to_string()))?;
            cells.insert(
                RowKey {
                    grain: row.grain,
                    period_start: row.period_start,
                    dimensions: row.dimensions,
                },
                RollupCell {
                    counts: row.counts,
                    sketches,
                },
            );
        }
        let mut upserts = RollupArrays::with_counters();
        let mut deletes = RollupArrays::default();
        for (k, delta) in &batch.deltas {
            let mut cell = cells.remove(k).unwrap_or_default();
            cell.add(delta, 1);
            if cell.is_zero() {
                deletes.key(k);
            } else if !cell.is_valid() {
                return Err(StoreError::Backend(format!(
                    "metrics: roll-up {:?} {} would go negative; run `tend metrics rebuild`",
                    k.grain, k.period_start
                )));
            } else {
                upserts.row(k, &cell);
            }
        }
        if !upserts.is_empty() {
            execute(&tx, &insert_rollups_sql(true), &upserts.row_params()).await?;
        }
        if !deletes.is_empty() {
            execute(
                &tx,
                &format!(
                    "DELETE FROM metric_rollups r USING {KEY_UNNEST} WHERE r.grain = k.grain AND r.period_start = k.period_start AND r.channel = k.channel AND r.priority = k.priority AND r.group_id = k.group_id AND r.brand_id = k.brand_id AND r.assignee_id = k.assignee_id AND r.tag = k.tag AND r.language = k.language"
                ),
                &deletes.key_params(),
            )
            .await?;
        }
    }
    tx.commit().await.db()?;
    Ok(true)
}

pub(crate) async fn metric_rebuild_begin(s: &PgStore) -> Result<MetricState> {
    let seq = horizon(s).await?;
    let mut c = s.conn().await?;
    let tx = c.transaction().await.db()?;
    let r = query_one(
        &tx,
        "UPDATE metric_state SET generation = generation + 1, rebuilding = true WHERE id = 1 RETURNING last_seq, generation, rebuilding",
        &[],
    )
    .await?;
    tx.batch_execute("TRUNCATE metric_tickets, metric_rollups")
        .await
        .db()?;
    // The drill-down indexes are made again when the rebuild finishes (one sort each).
    for (name, _) in DRILL_INDEXES {
        tx.batch_execute(&format!("DROP INDEX IF EXISTS {name}"))
            .await
            .db()?;
    }
    tx.commit().await.db()?;
    let mut st = state_of(&r);
    st.last_seq = seq;
    Ok(st)
}

async fn check_generation<C: deadpool_postgres::GenericClient>(
    c: &C,
    generation: i64,
) -> Result<()> {
    let r = query_one(
        c,
        "SELECT last_seq, generation, rebuilding FROM metric_state WHERE id = 1 FOR SHARE",
        &[],
    )
    .await?;
    let st = state_of(&r);
    if st.generation != generation || !st.rebuilding {
        return Err(StoreError::Conflict(
            "another metrics rebuild started; this one stops".into(),
        ));
    }
    Ok(())
}

pub(crate) async fn metric_rebuild_write(
    s: &PgStore,
    generation: i64,
    tickets: Vec<TicketMetricRow>,
    rows: Vec<(RowKey, RollupCell)>,
) -> Result<()> {
    let mut c = s.conn().await?;
    let tx = c.transaction().await.db()?;
    check_generation(&tx, generation).await?;
    for chunk in tickets.chunks(5_000) {
        put_tickets(&tx, chunk).await?;
    }
    for chunk in rows.chunks(5_000) {
        let mut a = RollupArrays::with_counters();
        for (k, cell) in chunk {
            a.row(k, cell);
        }
        execute(&tx, &insert_rollups_sql(false), &a.row_params()).await?;
    }
    tx.commit().await.db()
}

pub(crate) async fn metric_rebuild_finish(
    s: &PgStore,
    generation: i64,
    last_seq: i64,
) -> Result<()> {
    // The drill-down indexes and the end of the rebuild in one transaction (PostgreSQL DDL is
    // transactional): a failure or a crash in between never leaves "rebuilt" without them.
    let mut c = s.conn().await?;
    let tx = c.transaction().await.db()?;
    for (name, cols) in DRILL_INDEXES {
        tx.batch_execute(&format!(
            "CREATE INDEX IF NOT EXISTS {name} ON metric_tickets({cols})"
        ))
        .await
        .db()?;
    }
    let n = execute(
        &tx,
        "UPDATE metric_state SET last_seq = $1, rebuilding = false WHERE id = 1 AND generation = $2 AND rebuilding",
        &[&last_seq, &generation],
    )
    .await?;
    if n == 0 {
        return Err(StoreError::Conflict(
            "another metrics rebuild started; this one stops".into(),
        ));
    }
    tx.commit().await.db()
}

pub(crate) async fn metric_rollups(s: &PgStore, q: RollupQuery) -> Result<Vec<StoredRollup>> {
    let c = s.conn().await?;
    let (hour, day) = q.family.grains();
    let sql = format!(
        "SELECT {} FROM metric_rollups WHERE grain = $1 AND period_start >= $2 AND period_start < $3",
        rollup_cols()
    );
    let mut out = Vec::new();
    for (grain, ranges) in [(hour, &q.hours), (day, &q.days)] {
        for (a, b) in ranges {
            for r in query(&c, &sql, &[&grain.code(), a, b]).await? {
                out.push(rollup_of(&r)?);
            }
        }
    }
    Ok(out)
}

pub(crate) async fn metric_open_before(
    s: &PgStore,
    family: tend_core::report::Family,
    at: DateTime<Utc>,
) -> Result<Vec<(Dimensions, i64)>> {
    let c = s.conn().await?;
    let (hour, day) = family.grains();
    let midnight = day_start(at);
    let sum =
        format!("SELECT {DIM_COLS}, SUM(created - solves + reopens)::int8 FROM metric_rollups");
    let days = format!("{sum} WHERE grain = $1 AND period_start < $2 GROUP BY {DIM_COLS}");
    let hours = format!(
        "{sum} WHERE grain = $1 AND period_start >= $2 AND period_start < $3 GROUP BY {DIM_COLS}"
    );
    let mut rows = query(&c, &days, &[&day.code(), &midnight]).await?;
    rows.extend(query(&c, &hours, &[&hour.code(), &midnight, &at]).await?);
    let mut sums: BTreeMap<Dimensions, i64> = BTreeMap::new();
    for r in &rows {
        *sums.entry(dims_of(r, 0)).or_default() += r.get::<_, i64>(7);
    }
    Ok(sums.into_iter().filter(|(_, v)| *v != 0).collect())
}

pub(crate) async fn metric_created_by_hour(
    s: &PgStore,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<(DateTime<Utc>, i64)>> {
    let c = s.conn().await?;
    Ok(query(
        &c,
        "SELECT period_start, SUM(created)::int8 FROM metric_rollups WHERE grain = $1 AND period_start >= $2 AND period_start < $3 GROUP BY period_start HAVING SUM(created) > 0 ORDER BY period_start",
        &[&Grain::AgentHour.code(), &from, &to],
    )
    .await?
    .iter()
    .map(|r| (r.get(0), r.get(1)))
    .collect())
}

// --- targets, digests, operations counts (migration 0016) ---------------------------------

const TARGET_COLS: &str = "id, definition, created_at, updated_at";

fn target_row(r: &Row) -> Result<Target> {
    Ok(Target {
        id: r.get(0),
        def: crate::db::from_json(r.get(1))?,
        created_at: r.get(2),
        updated_at: r.get(3),
    })
}

pub(crate) async fn list_targets(s: &PgStore) -> Result<Vec<Target>> {
    let c = s.conn().await?;
    query(
        &c,
        &format!("SELECT {TARGET_COLS} FROM metric_targets ORDER BY id"),
        &[],
    )
    .await?
    .iter()
    .map(target_row)
    .collect()
}

async fn get_target_on<C: deadpool_postgres::GenericClient>(c: &C, id: i64) -> Result<Target> {
    let row = crate::db::query_opt(
        c,
        &format!("SELECT {TARGET_COLS} FROM metric_targets WHERE id = $1"),
        &[&id],
    )
    .await?
    .ok_or(StoreError::NotFound("target"))?;
    target_row(&row)
}

pub(crate) async fn get_target(s: &PgStore, id: i64) -> Result<Target> {
    let c = s.conn().await?;
    get_target_on(&c, id).await
}

pub(crate) async fn save_target(
    s: &PgStore,
    id: Option<i64>,
    def: tend_core::targets::TargetDef,
    actor: tend_core::Actor,
    now: DateTime<Utc>,
) -> Result<Target> {
    let now = crate::db::us(now);
    let doc = crate::db::to_json(&def)?;
    let mut c = s.conn().await?;
    let tx = c.transaction().await.db()?;
    let taken = || format!("a target named '{}' exists", def.name);
    let (id, action) = match id {
        None => {
            let st = tx
                .prepare_cached("INSERT INTO metric_targets (name, definition, created_at, updated_at) VALUES ($1, $2, $3, $3) RETURNING id")
                .await
                .db()?;
            let row = tx
                .query_one(&st, &[&def.name, &doc, &now])
                .await
                .unique(taken)?;
            (row.get::<_, i64>(0), "target.created")
        }
        Some(id) => {
            let st = tx
                .prepare_cached("UPDATE metric_targets SET name = $2, definition = $3, updated_at = $4 WHERE id = $1")
                .await
                .db()?;
            let n = tx
                .execute(&st, &[&id, &def.name, &doc, &now])
                .await
                .unique(taken)?;
            if n == 0 {
                return Err(StoreError::NotFound("target"));
            }
            (id, "target.updated")
        }
    };
    crate::admin::audit(&tx, actor, action, format!("target:{id}"), doc, now).await?;
    let t = get_target_on(&tx, id).await?;
    tx.commit().await.db()?;
    Ok(t)
}

pub(crate) async fn delete_target(
    s: &PgStore,
    id: i64,
    actor: tend_core::Actor,
    now: DateTime<Utc>,
) -> Result<()> {
    let now = crate::db::us(now);
    let mut c = s.conn().await?;
    let tx = c.transaction().await.db()?;
    let t = get_target_on(&tx, id).await?;
    execute(&tx, "DELETE FROM metric_targets WHERE id = $1", &[&id]).await?;
    let doc = crate::db::to_json(&t.def)?;
    crate::admin::audit(
        &tx,
        actor,
        "target.deleted",
        format!("target:{id}"),
        doc,
        now,
    )
    .await?;
    tx.commit().await.db()
}

pub(crate) async fn claim_digest(
    s: &PgStore,
    key: &str,
    jobs: Vec<tend_store::NewJob>,
    now: DateTime<Utc>,
) -> Result<bool> {
    let now = crate::db::us(now);
    let mut c = s.conn().await?;
    let tx = c.transaction().await.db()?;
    let n = execute(
        &tx,
        "INSERT INTO metric_digests (digest_key, claimed_at, mails) VALUES ($1, $2, $3) ON CONFLICT (digest_key) DO NOTHING",
        &[&key, &now, &(jobs.len() as i32)],
    )
    .await?;
    if n == 0 {
        return Ok(false);
    }
    for j in &jobs {
        crate::jobs::enqueue_on(&tx, &j.kind, &j.payload, j.run_at, j.max_attempts).await?;
    }
    tx.commit().await.db()?;
    Ok(true)
}

pub(crate) async fn replace_keyed_job(
    s: &PgStore,
    key: &str,
    job: Option<tend_store::NewJob>,
) -> Result<()> {
    let mut c = s.conn().await?;
    let tx = c.transaction().await.db()?;
    execute(
        &tx,
        "DELETE FROM jobs WHERE dedupe_key = $1 AND state = 'queued'",
        &[&key],
    )
    .await?;
    if let Some(j) = &job {
        crate::jobs::schedule(&tx, key, j).await?;
    }
    tx.commit().await.db()?;
    Ok(())
}

pub(crate) async fn ops_counts(
    s: &PgStore,
    now: DateTime<Utc>,
    soon: DateTime<Utc>,
) -> Result<OpsCounts> {
    let c = s.conn().await?;
    let (now, soon) = (now.timestamp_micros(), soon.timestamp_micros());
    let mut o = OpsCounts::default();
    // Index ranges of tickets_status_sla_due (status, sla_due_us, id), one per status.
    let rows = query(
        &c,
        "SELECT status, COUNT(*), COUNT(*) FILTER (WHERE sla_due_us < $1), COUNT(*) FILTER (WHERE sla_due_us >= $1 AND sla_due_us < $2) \
         FROM tickets WHERE status IN ('new', 'open', 'pending', 'on_hold') GROUP BY status",
        &[&now, &soon],
    )
    .await?;
    for r in rows {
        let status: &str = r.get(0);
        let n: i64 = r.get(1);
        o.open += n;
        o.sla_breached += r.get::<_, i64>(2);
        o.sla_due_soon += r.get::<_, i64>(3);
        match status {
            "new" => o.new = n,
            "pending" => o.pending = n,
            "on_hold" => o.on_hold = n,
            _ => {}
        }
    }
    o.unassigned = query_one(
        &c,
        "SELECT COUNT(*) FROM tickets WHERE assignee_id IS NULL AND status IN ('new', 'open', 'pending', 'on_hold')",
        &[],
    )
    .await?
    .get(0);
    Ok(o)
}

pub(crate) async fn metric_drill(s: &PgStore, q: DrillQuery) -> Result<Vec<DrillRow>> {
    let c = s.conn().await?;
    let col = q.on.column();
    let mut sql =
        format!("SELECT ticket_id, {col} FROM metric_tickets WHERE {col} >= $1 AND {col} < $2");
    let from = crate::db::us(q.from);
    let to = crate::db::us(q.to);
    let f = &q.filters;
    let channel = f.channel.map(|v| v.as_str().to_string());
    let priority = f.priority.map(|v| v.as_str().to_string());
    let after_t = q.after.map(|a| crate::db::us(a.0));
    let after_id = q.after.map(|a| a.1);
    let mut args: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = vec![&from, &to];
    let mut add = |cond: &str, v: &'static str, args: &mut Vec<_>| {
        let _ = v;
        sql.push_str(&format!(" AND {cond} = ${}", args.len()));
    };
    if let Some(v) = &channel {
        args.push(v);
        add("channel", "", &mut args);
    }
    if let Some(v) = &priority {
        args.push(v);
        add("priority", "", &mut args);
    }
    if let Some(v) = &f.group_id {
        args.push(v);
        add("group_id", "", &mut args);
    }
    if let Some(v) = &f.brand_id {
        args.push(v);
        add("brand_id", "", &mut args);
    }
    if let Some(v) = &f.assignee_id {
        args.push(v);
        add("assignee_id", "", &mut args);
    }
    if let Some(v) = &f.language {
        args.push(v);
        add("language", "", &mut args);
    }
    if let Some(v) = &f.tag {
        args.push(v);
        sql.push_str(&format!(" AND ${} = ANY(tags)", args.len()));
    }
    if q.on == DrillOn::Solved {
        sql.push_str(" AND status IN ('solved', 'closed')");
    }
    if let (Some(t), Some(id)) = (&after_t, &after_id) {
        args.push(t);
        args.push(id);
        let n = args.len();
        sql.push_str(&format!(" AND ({col}, ticket_id) < (${}, ${n})", n - 1));
    }
    args.push(&q.limit);
    sql.push_str(&format!(
        " ORDER BY {col} DESC, ticket_id DESC LIMIT ${}",
        args.len()
    ));
    Ok(query(&c, &sql, &args)
        .await?
        .iter()
        .map(|r| DrillRow {
            ticket_id: r.get(0),
            at: r.get(1),
        })
        .collect())
}
