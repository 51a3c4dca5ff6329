//! Small helpers: error mapping, cached statements, times, parsing stored values.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use std::str::FromStr;
use tend_core::{Actor, ActorKind, Viewer};
use tend_store::{Result, StoreError};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

pub(crate) type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

/// Maps a database error: a unique violation nobody anticipated is still a conflict.
pub(crate) fn backend(e: tokio_postgres::Error) -> StoreError {
    if let Some(db) = e.as_db_error() {
        if db.code() == &SqlState::UNIQUE_VIOLATION {
            return StoreError::Conflict(match db.constraint() {
                Some(c) => format!("a value is taken ({c})"),
                None => "a value is taken".into(),
            });
        }
    }
    StoreError::Backend(e.to_string())
}

pub(crate) fn is_unique_violation(e: &tokio_postgres::Error) -> bool {
    e.code() == Some(&SqlState::UNIQUE_VIOLATION)
}

pub(crate) trait DbExt<T> {
    fn db(self) -> Result<T>;
    /// Like `db`, with a human message for a unique violation.
    fn unique(self, msg: impl FnOnce() -> String) -> Result<T>;
}

impl<T> DbExt<T> for std::result::Result<T, tokio_postgres::Error> {
    fn db(self) -> Result<T> {
        self.map_err(backend)
    }
    fn unique(self, msg: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|e| {
            if is_unique_violation(&e) {
                StoreError::Conflict(msg())
            } else {
                backend(e)
            }
        })
    }
}

pub(crate) fn pool_err(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(format!("connection pool: {e}"))
}

pub(crate) fn json_err(e: serde_json::Error) -> StoreError {
    StoreError::Backend(format!("stored JSON: {e}"))
}

// Every statement goes through the per-connection statement cache: one round trip per
// query instead of parse + execute.

pub(crate) async fn query<C: GenericClient>(
    c: &C,
    sql: &str,
    params: Params<'_>,
) -> Result<Vec<Row>> {
    let st = c.prepare_cached(sql).await.db()?;
    c.query(&st, params).await.db()
}

pub(crate) async fn query_opt<C: GenericClient>(
    c: &C,
    sql: &str,
    params: Params<'_>,
) -> Result<Option<Row>> {
    let st = c.prepare_cached(sql).await.db()?;
    c.query_opt(&st, params).await.db()
}

pub(crate) async fn query_one<C: GenericClient>(
    c: &C,
    sql: &str,
    params: Params<'_>,
) -> Result<Row> {
    let st = c.prepare_cached(sql).await.db()?;
    c.query_one(&st, params).await.db()
}

pub(crate) async fn execute<C: GenericClient>(c: &C, sql: &str, params: Params<'_>) -> Result<u64> {
    let st = c.prepare_cached(sql).await.db()?;
    c.execute(&st, params).await.db()
}

/// Like `query_one`/`execute` but keep the raw error (to recognise unique violations).
pub(crate) async fn query_one_raw<C: GenericClient>(
    c: &C,
    sql: &str,
    params: Params<'_>,
) -> std::result::Result<Row, tokio_postgres::Error> {
    let st = c.prepare_cached(sql).await?;
    c.query_one(&st, params).await
}

pub(crate) async fn query_opt_raw<C: GenericClient>(
    c: &C,
    sql: &str,
    params: Params<'_>,
) -> std::result::Result<Option<Row>, tokio_postgres::Error> {
    let st = c.prepare_cached(sql).await?;
    c.query_opt(&st, params).await
}

/// PostgreSQL keeps microseconds; everything we write (and return) is cut to that first,
/// so a value read back equals the value returned by the write.
pub(crate) fn us(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(t.timestamp_micros()).unwrap_or(t)
}

pub(crate) fn parse<T: FromStr>(what: &str, s: &str) -> Result<T> {
    s.parse()
        .map_err(|_| StoreError::Backend(format!("stored {what} '{s}' does not parse")))
}

pub(crate) fn from_json<T: serde::de::DeserializeOwned>(v: serde_json::Value) -> Result<T> {
    serde_json::from_value(v).map_err(json_err)
}

pub(crate) fn to_json<T: serde::Serialize>(v: &T) -> Result<serde_json::Value> {
    serde_json::to_value(v).map_err(|e| StoreError::Backend(format!("JSON: {e}")))
}

pub(crate) fn actor(kind: &str, id: Option<i64>) -> Actor {
    Actor {
        kind: ActorKind::parse(kind),
        id,
    }
}

/// `Viewer::can_see` on the two columns it needs.
pub(crate) fn can_see(v: &Viewer, assignee_id: Option<i64>, group_id: Option<i64>) -> bool {
    v.sees_all()
        || assignee_id == Some(v.agent_id)
        || group_id.is_some_and(|g| v.group_ids.contains(&g))
}

/// The part of an e-mail address before the @, as a default name.
pub(crate) fn local_part(email: &str) -> String {
    email.split('@').next().unwrap_or(email).to_string()
}

/// A settled watermark of a sequence: its value `L` now, once every transaction that may hold a
/// number ≤ `L` has ended (committed or rolled back). Rows with `seq ≤ L` can then be read
/// without a later-committing writer slipping in below. `None` when `L ≤ after` (nothing new)
/// or when a writer is still running after `wait`.
///
/// How (see `tickets::events_since` for why the xmin rule alone is not enough):
/// 1. read the sequence's current value `L` — every writer holding a number ≤ `L` has drawn
///    it and, since our writers change a row before they draw one, already has an xid;
/// 2. take an xid `X` of our own and roll back: xids are handed out in order, so all those
///    writers have xids below `X`;
/// 3. wait until the oldest running transaction (`pg_snapshot_xmin`) is at least `X`.
///
/// `sequence` is one of the store's own sequence names (never user input).
pub(crate) async fn settled_watermark(
    c: &deadpool_postgres::Object,
    sequence: &str,
    after: i64,
    wait: std::time::Duration,
) -> Result<Option<i64>> {
    // One round trip; the statements run in this order.
    let msgs = c
        .simple_query(&format!(
            "BEGIN; \
             SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM {sequence}; \
             SELECT pg_current_xact_id(); \
             ROLLBACK"
        ))
        .await
        .db()?;
    let values: Vec<String> = msgs
        .iter()
        .filter_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => r.get(0).map(str::to_string),
            _ => None,
        })
        .collect();
    let [watermark, xid] = values.as_slice() else {
        return Err(StoreError::Backend(format!(
            "watermark of {sequence}: unexpected answer"
        )));
    };
    let watermark: i64 = watermark
        .parse()
        .map_err(|_| StoreError::Backend(format!("watermark of {sequence}: bad sequence value")))?;
    if watermark <= after {
        return Ok(None);
    }
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let done: bool = query_one(
            c,
            "SELECT pg_snapshot_xmin(pg_current_snapshot()) >= $1::text::xid8",
            &[xid],
        )
        .await?
        .get(0);
        if done {
            return Ok(Some(watermark));
        }
        if tokio::time::Instant::now() >= deadline {
            return Ok(None);
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}
