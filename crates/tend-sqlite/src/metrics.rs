//! Metric roll-ups on SQLite (see `tend_store::metrics`): the tailer's batches apply in
//! one write of the group commit, with the checkpoint compared and set in it.

use crate::conv::{actor, json, time, us};
use crate::{db, SqliteStore};
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension, Row};
use std::collections::BTreeMap;
use tend_core::metrics::{
    day_start, Dimensions, Event as CoreEvent, Grain, RollupCell, RowKey, StoredRollup, COUNTERS,
    N_COUNTERS,
};
use tend_core::Change;
use tend_store::metrics::*;
use tend_store::{Result, StoreError};

/// Key columns of `metric_rollups` after grain and period (tag and language: migration 0025).
const DIM_COLS: &str = "channel, priority, group_id, brand_id, assignee_id, tag, language";
/// Dimension columns of `metric_tickets` (`tags` is a JSON array).
const TICKET_DIM_COLS: &str = "channel, priority, group_id, brand_id, assignee_id, tags, language";
/// Columns of `metric_rollups` before the counters.
const KEY_LEN: usize = 9;

/// One tag of a tag-grain key ('' = none).
fn key_tag(d: &Dimensions) -> &str {
    d.tags.first().map_or("", String::as_str)
}

fn counter_cols() -> String {
    COUNTERS.join(", ")
}

fn rollup_cols() -> String {
    format!(
        "grain, period_start, {DIM_COLS}, {}, sketches",
        counter_cols()
    )
}

#[allow(clippy::type_complexity)]
fn dims_params(d: &Dimensions) -> (&'static str, &'static str, i64, i64, i64, &str, &str) {
    (
        d.channel.map_or("", |c| c.as_str()),
        d.priority.map_or("", |p| p.as_str()),
        d.group_id.unwrap_or(0),
        d.brand_id.unwrap_or(0),
        d.assignee_id.unwrap_or(0),
        key_tag(d),
        d.language.as_deref().unwrap_or(""),
    )
}

/// Dimensions from five columns starting at `i` ('' and 0 mean not set).
fn dims_row(r: &Row, i: usize) -> rusqlite::Result<Dimensions> {
    let text = |v: String| (!v.is_empty()).then_some(v);
    let id = |v: i64| (v != 0).then_some(v);
    Ok(Dimensions {
        channel: text(r.get(i)?).and_then(|v| v.parse().ok()),
        priority: text(r.get(i + 1)?).and_then(|v| v.parse().ok()),
        group_id: id(r.get(i + 2)?),
        brand_id: id(r.get(i + 3)?),
        assignee_id: id(r.get(i + 4)?),
        tags: text(r.get(i + 5)?).into_iter().collect(),
        language: text(r.get(i + 6)?),
    })
}

/// Nullable dimension columns of `metric_tickets`.
fn ticket_dims_row(r: &Row, i: usize) -> rusqlite::Result<Dimensions> {
    Ok(Dimensions {
        channel: r.get::<_, Option<String>>(i)?.and_then(|v| v.parse().ok()),
        priority: r
            .get::<_, Option<String>>(i + 1)?
            .and_then(|v| v.parse().ok()),
        group_id: r.get(i + 2)?,
        brand_id: r.get(i + 3)?,
        assignee_id: r.get(i + 4)?,
        tags: json(&r.get::<_, String>(i + 5)?)?,
        language: r.get(i + 6)?,
    })
}

fn counts_row(r: &Row, i: usize) -> rusqlite::Result<[i64; N_COUNTERS]> {
    let mut c = [0i64; N_COUNTERS];
    for (k, v) in c.iter_mut().enumerate() {
        *v = r.get(i + k)?;
    }
    Ok(c)
}

fn rollup_row(r: &Row) -> rusqlite::Result<StoredRollup> {
    let g: i16 = r.get(0)?;
    Ok(StoredRollup {
        grain: Grain::from_code(g).ok_or_else(|| {
            rusqlite::Error::InvalidColumnType(
                0,
                format!("bad grain {g}"),
                rusqlite::types::Type::Integer,
            )
        })?,
        period_start: time(r.get(1)?),
        dimensions: dims_row(r, 2)?,
        counts: counts_row(r, KEY_LEN)?,
        sketches: r.get(KEY_LEN + N_COUNTERS)?,
    })
}

fn history_rows(
    c: &Connection,
    sql: &str,
    p: impl rusqlite::Params,
) -> Result<Vec<(i64, CoreEvent)>> {
    c.prepare_cached(sql)
        .map_err(db)?
        .query_map(p, |r| {
            let change: Change = json(&r.get::<_, String>(4)?)?;
            Ok((
                r.get::<_, i64>(0)?,
                (time(r.get(3)?), actor(r.get(1)?, r.get(2)?), change),
            ))
        })
        .map_err(db)?
        .collect::<rusqlite::Result<_>>()
        .map_err(db)
}

const HISTORY_COLS: &str = "ticket_id, actor_kind, actor_id, at, data";

/// A ticket's language dimension: kept from the first computation, else its requester's.
const LANGUAGE_ONE: &str = "SELECT COALESCE(l.language, NULLIF(c.language, '')) FROM tickets t \
     LEFT JOIN metric_ticket_languages l ON l.ticket_id = t.id \
     LEFT JOIN customers c ON c.id = t.requester_id WHERE t.id = ?1";
const LANGUAGE_RANGE: &str =
    "SELECT t.id, COALESCE(l.language, NULLIF(c.language, '')) FROM tickets t \
     LEFT JOIN metric_ticket_languages l ON l.ticket_id = t.id \
     LEFT JOIN customers c ON c.id = t.requester_id WHERE t.id > ?1 AND t.id <= ?2";

fn state(c: &Connection) -> Result<MetricState> {
    c.query_row(
        "SELECT last_seq, generation, rebuilding FROM metric_state WHERE id = 1",
        [],
        |r| {
            Ok(MetricState {
                last_seq: r.get(0)?,
                generation: r.get(1)?,
                rebuilding: r.get::<_, i64>(2)? != 0,
            })
        },
    )
    .map_err(db)
}

fn put_ticket(c: &Connection, t: &TicketMetricRow) -> Result<()> {
    write_ticket(c, t, true)
}

/// `replace`: `INSERT OR REPLACE` (the tailer), else a plain `INSERT` (a rebuild, into the
/// emptied table without its drill-down indexes: one B-tree, no statement journal).
fn write_ticket(c: &Connection, t: &TicketMetricRow, replace: bool) -> Result<()> {
    let (ch, pr, g, b, a, _, _) = dims_params(&t.dimensions);
    if let Some(l) = &t.dimensions.language {
        c.prepare_cached(
            "INSERT OR IGNORE INTO metric_ticket_languages (ticket_id, language) VALUES (?1, ?2)",
        )
        .map_err(db)?
        .execute(params![t.ticket_id, l])
        .map_err(db)?;
    }
    let tags = serde_json::to_string(&t.dimensions.tags).unwrap_or_else(|_| "[]".into());
    let sql = if replace {
        TICKET_UPSERT
    } else {
        TICKET_INSERT
    };
    c.prepare_cached(sql)
        .map_err(db)?
        .execute(params![
            t.ticket_id,
            (!ch.is_empty()).then_some(ch),
            (!pr.is_empty()).then_some(pr),
            (g != 0).then_some(g),
            (b != 0).then_some(b),
            (a != 0).then_some(a),
            t.status.as_str(),
            us(t.created_at),
            t.first_response_at.map(us),
            t.first_solved_at.map(us),
            t.solved_at.map(us),
            t.replies,
            t.reopens,
            t.merged,
            t.fcr,
            t.contribution,
            tags,
            t.dimensions.language,
        ])
        .map_err(db)?;
    Ok(())
}

const TICKET_INSERT: &str = "INSERT INTO metric_tickets (ticket_id, channel, priority, group_id, brand_id, assignee_id, status, created_at, first_response_at, first_solved_at, solved_at, replies, reopens, merged, fcr, contribution, tags, language) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)";
const TICKET_UPSERT: &str = "INSERT OR REPLACE INTO metric_tickets (ticket_id, channel, priority, group_id, brand_id, assignee_id, status, created_at, first_response_at, first_solved_at, solved_at, replies, reopens, merged, fcr, contribution, tags, language) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)";

/// `INSERT OR REPLACE INTO metric_rollups …`, built once.
fn rollup_upsert_sql() -> &'static str {
    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SQL.get_or_init(|| {
        let n = KEY_LEN + N_COUNTERS + 1;
        let marks: Vec<String> = (1..=n).map(|i| format!("?{i}")).collect();
        format!(
            "INSERT OR REPLACE INTO metric_rollups ({}) VALUES ({})",
            rollup_cols(),
            marks.join(", ")
        )
    })
}

fn put_rollup(c: &Connection, k: &RowKey, cell: &RollupCell) -> Result<()> {
    let (ch, pr, g, b, a, tag, lang) = dims_params(&k.dimensions);
    let mut st = c.prepare_cached(rollup_upsert_sql()).map_err(db)?;
    let sketches = cell.encode_sketches();
    let head: [&dyn rusqlite::ToSql; KEY_LEN] = [
        &k.grain.code(),
        &us(k.period_start),
        &ch,
        &pr,
        &g,
        &b,
        &a,
        &tag,
        &lang,
    ];
    let mut values: Vec<&dyn rusqlite::ToSql> = head.to_vec();
    values.extend(cell.counts.iter().map(|v| v as &dyn rusqlite::ToSql));
    values.push(&sketches);
    st.execute(values.as_slice()).map_err(db)?;
    Ok(())
}

fn get_rollup(c: &Connection, k: &RowKey) -> Result<Option<RollupCell>> {
    let (ch, pr, g, b, a, tag, lang) = dims_params(&k.dimensions);
    let sql = format!(
        "SELECT {} FROM metric_rollups WHERE grain = ?1 AND period_start = ?2 AND channel = ?3 AND priority = ?4 AND group_id = ?5 AND brand_id = ?6 AND assignee_id = ?7 AND tag = ?8 AND language = ?9",
        rollup_cols()
    );
    let row = c
        .prepare_cached(&sql)
        .map_err(db)?
        .query_row(
            params![
                k.grain.code(),
                us(k.period_start),
                ch,
                pr,
                g,
                b,
                a,
                tag,
                lang
            ],
            rollup_row,
        )
        .optional()
        .map_err(db)?;
    row.map(|r| {
        Ok(RollupCell {
            counts: r.counts,
            sketches: RollupCell::decode_sketches(&r.sketches)?,
        })
    })
    .transpose()
    .map_err(|e: tend_core::Invalid| StoreError::Backend(e.to_string()))
}

fn delete_rollup(c: &Connection, k: &RowKey) -> Result<()> {
    let (ch, pr, g, b, a, tag, lang) = dims_params(&k.dimensions);
    c.prepare_cached(
        "DELETE FROM metric_rollups WHERE grain = ?1 AND period_start = ?2 AND channel = ?3 AND priority = ?4 AND group_id = ?5 AND brand_id = ?6 AND assignee_id = ?7 AND tag = ?8 AND language = ?9",
    )
    .map_err(db)?
    .execute(params![k.grain.code(), us(k.period_start), ch, pr, g, b, a, tag, lang])
    .map_err(db)?;
    Ok(())
}

fn group_histories(rows: Vec<(i64, CoreEvent)>) -> Vec<MetricHistory> {
    let mut out: Vec<MetricHistory> = Vec::new();
    for (id, ev) in rows {
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
    out
}

impl SqliteStore {
    pub(crate) async fn metric_state_impl(&self) -> Result<MetricState> {
        self.read(state).await
    }

    pub(crate) async fn metric_histories_impl(&self, ids: Vec<i64>) -> Result<Vec<MetricHistory>> {
        self.read(move |c| {
            let ev_sql =
                format!("SELECT {HISTORY_COLS} FROM events WHERE ticket_id = ?1 ORDER BY seq");
            let mut out = Vec::with_capacity(ids.len());
            for id in ids {
                let rows = history_rows(c, &ev_sql, [id])?;
                let Some(mut h) = group_histories(rows).pop() else {
                    continue;
                };
                h.stored = c
                    .prepare_cached(&format!(
                        "SELECT {TICKET_DIM_COLS}, contribution FROM metric_tickets WHERE ticket_id = ?1"
                    ))
                    .map_err(db)?
                    .query_row([id], |r| {
                        Ok((ticket_dims_row(r, 0)?, r.get::<_, Vec<u8>>(7)?))
                    })
                    .optional()
                    .map_err(db)?;
                h.language = c
                    .prepare_cached(LANGUAGE_ONE)
                    .map_err(db)?
                    .query_row([id], |r| r.get(0))
                    .optional()
                    .map_err(db)?
                    .flatten();
                out.push(h);
            }
            Ok(out)
        })
        .await
    }

    pub(crate) async fn metric_histories_after_impl(
        &self,
        after: i64,
        limit: i64,
    ) -> Result<Vec<MetricHistory>> {
        self.read(move |c| {
            let last: Option<i64> = c
                .prepare_cached(
                    "SELECT MAX(id) FROM (SELECT id FROM tickets WHERE id > ?1 ORDER BY id LIMIT ?2)",
                )
                .map_err(db)?
                .query_row(params![after, limit], |r| r.get(0))
                .map_err(db)?;
            let Some(last) = last else {
                return Ok(Vec::new());
            };
            let rows = history_rows(
                c,
                &format!(
                    "SELECT {HISTORY_COLS} FROM events WHERE ticket_id > ?1 AND ticket_id <= ?2 ORDER BY ticket_id, seq"
                ),
                params![after, last],
            )?;
            let mut out = group_histories(rows);
            let langs: std::collections::HashMap<i64, String> = c
                .prepare_cached(LANGUAGE_RANGE)
                .map_err(db)?
                .query_map(params![after, last], |r| Ok((r.get(0)?, r.get(1)?)))
                .map_err(db)?
                .filter_map(|r| match r {
                    Ok((id, Some(l))) => Some(Ok((id, l))),
                    Ok((_, None)) => None,
                    Err(e) => Some(Err(e)),
                })
                .collect::<rusqlite::Result<_>>()
                .map_err(db)?;
            for h in &mut out {
                h.language = langs.get(&h.ticket_id).cloned();
            }
            Ok(out)
        })
        .await
    }

    pub(crate) async fn metric_apply_impl(&self, batch: MetricBatch) -> Result<bool> {
        self.write(move |c| {
            let moved = c
                .prepare_cached(
                    "UPDATE metric_state SET last_seq = ?1 WHERE id = 1 AND last_seq = ?2 AND generation = ?3 AND rebuilding = 0",
                )
                .map_err(db)?
                .execute(params![batch.to_seq, batch.from_seq, batch.generation])
                .map_err(db)?;
            if moved == 0 {
                return Ok(false);
            }
            for t in &batch.tickets {
                put_ticket(c, t)?;
            }
            for (k, delta) in &batch.deltas {
                let mut cell = get_rollup(c, k)?.unwrap_or_default();
                cell.add(delta, 1);
                if cell.is_zero() {
                    delete_rollup(c, k)?;
                } else if !cell.is_valid() {
                    return Err(StoreError::Backend(format!(
                        "metrics: roll-up {:?} {} would go negative; run `tend metrics rebuild`",
                        k.grain, k.period_start
                    )));
                } else {
                    put_rollup(c, k, &cell)?;
                }
            }
            Ok(true)
        })
        .await
    }

    pub(crate) async fn metric_rebuild_begin_impl(&self) -> Result<MetricState> {
        self.write(|c| {
            c.execute_batch(
                "UPDATE metric_state SET generation = generation + 1, rebuilding = 1 WHERE id = 1;",
            )
            .map_err(db)?;
            // The drill-down indexes are made again at the end (one sort each).
            for (name, _) in DRILL_INDEXES {
                c.execute_batch(&format!("DROP INDEX IF EXISTS {name}"))
                    .map_err(db)?;
            }
            c.execute_batch("DELETE FROM metric_tickets; DELETE FROM metric_rollups;")
                .map_err(db)?;
            let mut s = state(c)?;
            // One writer: everything committed up to MAX(seq) is visible to later reads.
            s.last_seq = c
                .query_row("SELECT COALESCE(MAX(seq), 0) FROM events", [], |r| r.get(0))
                .map_err(db)?;
            Ok(s)
        })
        .await
    }

    pub(crate) async fn metric_rebuild_write_impl(
        &self,
        generation: i64,
        tickets: Vec<TicketMetricRow>,
        rows: Vec<(RowKey, RollupCell)>,
    ) -> Result<()> {
        self.write(move |c| {
            let s = state(c)?;
            if s.generation != generation || !s.rebuilding {
                return Err(StoreError::Conflict(
                    "another metrics rebuild started; this one stops".into(),
                ));
            }
            for t in &tickets {
                write_ticket(c, t, false)?;
            }
            for (k, cell) in &rows {
                put_rollup(c, k, cell)?;
            }
            Ok(())
        })
        .await
    }

    pub(crate) async fn metric_rebuild_finish_impl(
        &self,
        generation: i64,
        last_seq: i64,
    ) -> Result<()> {
        self.write(move |c| {
            let n = c
                .execute(
                    "UPDATE metric_state SET last_seq = ?1, rebuilding = 0 WHERE id = 1 AND generation = ?2 AND rebuilding = 1",
                    params![last_seq, generation],
                )
                .map_err(db)?;
            if n == 0 {
                return Err(StoreError::Conflict(
                    "another metrics rebuild started; this one stops".into(),
                ));
            }
            for (name, cols) in DRILL_INDEXES {
                c.execute_batch(&format!(
                    "CREATE INDEX IF NOT EXISTS {name} ON metric_tickets({cols})"
                ))
                .map_err(db)?;
            }
            Ok(())
        })
        .await
    }

    pub(crate) async fn metric_rollups_impl(&self, q: RollupQuery) -> Result<Vec<StoredRollup>> {
        self.read(move |c| {
            let (hour, day) = q.family.grains();
            let sql = format!(
                "SELECT {} FROM metric_rollups WHERE grain = ?1 AND period_start >= ?2 AND period_start < ?3",
                rollup_cols()
            );
            let mut st = c.prepare_cached(&sql).map_err(db)?;
            let mut out = Vec::new();
            for (grain, ranges) in [(hour, &q.hours), (day, &q.days)] {
                for (a, b) in ranges {
                    let rows = st
                        .query_map(params![grain.code(), us(*a), us(*b)], rollup_row)
                        .map_err(db)?;
                    for r in rows {
                        out.push(r.map_err(db)?);
                    }
                }
            }
            Ok(out)
        })
        .await
    }

    pub(crate) async fn metric_open_before_impl(
        &self,
        family: tend_core::report::Family,
        at: DateTime<Utc>,
    ) -> Result<Vec<(Dimensions, i64)>> {
        self.read(move |c| {
            let (hour, day) = family.grains();
            let midnight = day_start(at);
            let sql = format!(
                "SELECT {DIM_COLS}, SUM(created - solves + reopens) FROM metric_rollups \
                 WHERE grain = ?1 AND period_start >= ?2 AND period_start < ?3 GROUP BY {DIM_COLS}"
            );
            let mut st = c.prepare_cached(&sql).map_err(db)?;
            let mut sums: BTreeMap<Dimensions, i64> = BTreeMap::new();
            for (grain, a, b) in [(day, i64::MIN, us(midnight)), (hour, us(midnight), us(at))] {
                let rows = st
                    .query_map(params![grain.code(), a, b], |r| {
                        Ok((dims_row(r, 0)?, r.get::<_, i64>(7)?))
                    })
                    .map_err(db)?;
                for r in rows {
                    let (d, v) = r.map_err(db)?;
                    *sums.entry(d).or_default() += v;
                }
            }
            Ok(sums.into_iter().filter(|(_, v)| *v != 0).collect())
        })
        .await
    }

    pub(crate) async fn metric_created_by_hour_impl(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<(DateTime<Utc>, i64)>> {
        self.read(move |c| {
            // The per-agent hours hold every ticket once and are far fewer than the cube's.
            c.prepare_cached(
                "SELECT period_start, SUM(created) FROM metric_rollups WHERE grain = ?1 AND period_start >= ?2 AND period_start < ?3 GROUP BY period_start HAVING SUM(created) > 0",
            )
            .map_err(db)?
            .query_map(params![Grain::AgentHour.code(), us(from), us(to)], |r| {
                Ok((time(r.get(0)?), r.get(1)?))
            })
            .map_err(db)?
            .collect::<rusqlite::Result<_>>()
            .map_err(db)
        })
        .await
    }
}

// --- targets, digests, operations counts (migration 0016) ---------------------------------

const TARGET_COLS: &str = "id, definition, created_at, updated_at";

fn target_row(r: &Row) -> rusqlite::Result<Target> {
    let def: tend_core::targets::TargetDef = json(&r.get::<_, String>(1)?)?;
    Ok(Target {
        id: r.get(0)?,
        def,
        created_at: time(r.get(2)?),
        updated_at: time(r.get(3)?),
    })
}

/// A unique violation on the target name becomes a conflict.
fn target_write_err(e: rusqlite::Error, name: &str) -> StoreError {
    match &e {
        rusqlite::Error::SqliteFailure(f, _)
            if f.code == rusqlite::ErrorCode::ConstraintViolation =>
        {
            StoreError::Conflict(format!("a target named '{name}' exists"))
        }
        _ => db(e),
    }
}

fn get_target(c: &Connection, id: i64) -> Result<Target> {
    c.query_row(
        &format!("SELECT {TARGET_COLS} FROM metric_targets WHERE id = ?1"),
        [id],
        target_row,
    )
    .optional()
    .map_err(db)?
    .ok_or(StoreError::NotFound("target"))
}

/// Open statuses, as stored.
const OPEN: &str = "('new', 'open', 'pending', 'on_hold')";

impl SqliteStore {
    pub(crate) async fn list_targets_impl(&self) -> Result<Vec<Target>> {
        self.read(|c| {
            c.prepare_cached(&format!(
                "SELECT {TARGET_COLS} FROM metric_targets ORDER BY id"
            ))
            .map_err(db)?
            .query_map([], target_row)
            .map_err(db)?
            .collect::<rusqlite::Result<_>>()
            .map_err(db)
        })
        .await
    }

    pub(crate) async fn get_target_impl(&self, id: i64) -> Result<Target> {
        self.read(move |c| get_target(c, id)).await
    }

    pub(crate) async fn save_target_impl(
        &self,
        id: Option<i64>,
        def: tend_core::targets::TargetDef,
        actor: tend_core::Actor,
        now: DateTime<Utc>,
    ) -> Result<Target> {
        self.write(move |c| {
            let doc = serde_json::to_value(&def).map_err(|e| StoreError::Backend(e.to_string()))?;
            let action = if id.is_none() {
                "target.created"
            } else {
                "target.updated"
            };
            let id = match id {
                None => {
                    c.execute(
                        "INSERT INTO metric_targets (name, definition, created_at, updated_at) VALUES (?1, ?2, ?3, ?3)",
                        params![def.name, doc.to_string(), us(now)],
                    )
                    .map_err(|e| target_write_err(e, &def.name))?;
                    c.last_insert_rowid()
                }
                Some(id) => {
                    let n = c
                        .execute(
                            "UPDATE metric_targets SET name = ?2, definition = ?3, updated_at = ?4 WHERE id = ?1",
                            params![id, def.name, doc.to_string(), us(now)],
                        )
                        .map_err(|e| target_write_err(e, &def.name))?;
                    if n == 0 {
                        return Err(StoreError::NotFound("target"));
                    }
                    id
                }
            };
            crate::conv::audit(c, actor, action, format!("target:{id}"), doc, now)?;
            get_target(c, id)
        })
        .await
    }

    pub(crate) async fn delete_target_impl(
        &self,
        id: i64,
        actor: tend_core::Actor,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.write(move |c| {
            let t = get_target(c, id)?;
            c.execute("DELETE FROM metric_targets WHERE id = ?1", [id])
                .map_err(db)?;
            let doc = serde_json::to_value(&t.def).unwrap_or_default();
            crate::conv::audit(c, actor, "target.deleted", format!("target:{id}"), doc, now)
        })
        .await
    }

    pub(crate) async fn claim_digest_impl(
        &self,
        key: String,
        jobs: Vec<tend_store::NewJob>,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        self.write(move |c| {
            let n = c
                .execute(
                    "INSERT INTO metric_digests (digest_key, claimed_at, mails) VALUES (?1, ?2, ?3) ON CONFLICT (digest_key) DO NOTHING",
                    params![key, us(now), jobs.len() as i64],
                )
                .map_err(db)?;
            if n == 0 {
                return Ok(false);
            }
            for j in &jobs {
                crate::jobs::enqueue(c, &j.kind, &j.payload, j.run_at, j.max_attempts, now)?;
            }
            Ok(true)
        })
        .await
    }

    pub(crate) async fn replace_keyed_job_impl(
        &self,
        key: String,
        job: Option<tend_store::NewJob>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.write(move |c| {
            c.prepare_cached("DELETE FROM jobs WHERE dedupe_key = ?1 AND state = 'queued'")
                .map_err(db)?
                .execute([&key])
                .map_err(db)?;
            if let Some(j) = &job {
                crate::jobs::schedule(c, &key, j, now)?;
            }
            Ok(())
        })
        .await
    }

    pub(crate) async fn ops_counts_impl(
        &self,
        now: DateTime<Utc>,
        soon: DateTime<Utc>,
    ) -> Result<OpsCounts> {
        self.read(move |c| {
            let mut o = OpsCounts::default();
            // One index range per status (tickets_status_sla_due: status, sla_due_us, id).
            let mut st = c
                .prepare_cached(&format!(
                    "SELECT status, COUNT(*), \
                       COALESCE(SUM(sla_due_us < ?1), 0), COALESCE(SUM(sla_due_us >= ?1 AND sla_due_us < ?2), 0) \
                     FROM tickets WHERE status IN {OPEN} GROUP BY status"
                ))
                .map_err(db)?;
            let rows = st
                .query_map(params![us(now), us(soon)], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, i64>(2)?,
                        r.get::<_, i64>(3)?,
                    ))
                })
                .map_err(db)?;
            for row in rows {
                let (status, n, breached, soon) = row.map_err(db)?;
                o.open += n;
                o.sla_breached += breached;
                o.sla_due_soon += soon;
                match status.as_str() {
                    "new" => o.new = n,
                    "pending" => o.pending = n,
                    "on_hold" => o.on_hold = n,
                    _ => {}
                }
            }
            // tickets_assignee_status_updated: (assignee_id, status, …).
            o.unassigned = c
                .prepare_cached(&format!(
                    "SELECT COUNT(*) FROM tickets WHERE assignee_id IS NULL AND status IN {OPEN}"
                ))
                .map_err(db)?
                .query_row([], |r| r.get(0))
                .map_err(db)?;
            Ok(o)
        })
        .await
    }
}

impl SqliteStore {
    pub(crate) async fn metric_drill_impl(&self, q: DrillQuery) -> Result<Vec<DrillRow>> {
        self.read(move |c| {
            let col = q.on.column();
            let mut sql = format!(
                "SELECT ticket_id, {col} FROM metric_tickets WHERE {col} >= ?1 AND {col} < ?2"
            );
            let mut args: Vec<rusqlite::types::Value> = vec![us(q.from).into(), us(q.to).into()];
            let f = &q.filters;
            let mut add = |cond: &str, v: rusqlite::types::Value| {
                args.push(v);
                sql.push_str(&format!(" AND {cond} = ?{}", args.len()));
            };
            if let Some(v) = f.channel {
                add("channel", v.as_str().to_string().into());
            }
            if let Some(v) = f.priority {
                add("priority", v.as_str().to_string().into());
            }
            if let Some(v) = f.group_id {
                add("group_id", v.into());
            }
            if let Some(v) = f.brand_id {
                add("brand_id", v.into());
            }
            if let Some(v) = f.assignee_id {
                add("assignee_id", v.into());
            }
            if let Some(v) = &f.language {
                add("language", v.clone().into());
            }
            if let Some(v) = &f.tag {
                args.push(v.clone().into());
                sql.push_str(&format!(
                    " AND EXISTS (SELECT 1 FROM json_each(metric_tickets.tags) WHERE json_each.value = ?{})",
                    args.len()
                ));
            }
            if q.on == DrillOn::Solved {
                sql.push_str(" AND status IN ('solved', 'closed')");
            }
            if let Some((t, id)) = q.after {
                args.push(us(t).into());
                args.push(id.into());
                let n = args.len();
                sql.push_str(&format!(" AND ({col}, ticket_id) < (?{}, ?{n})", n - 1));
            }
            args.push(q.limit.into());
            sql.push_str(&format!(
                " ORDER BY {col} DESC, ticket_id DESC LIMIT ?{}",
                args.len()
            ));
            c.prepare_cached(&sql)
                .map_err(db)?
                .query_map(rusqlite::params_from_iter(args), |r| {
                    Ok(DrillRow {
                        ticket_id: r.get(0)?,
                        at: time(r.get(1)?),
                    })
                })
                .map_err(db)?
                .collect::<rusqlite::Result<_>>()
                .map_err(db)
        })
        .await
    }
}
