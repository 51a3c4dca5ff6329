//! The durable job queue: leases with expiry, retries, dead letters.

use crate::conv::{time, us};
use crate::{db, SqliteStore};
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, Row};
use tend_store::{Job, JobState, NewJob, Result, Stats, StoreError};

pub fn enqueue(
    c: &Connection,
    kind: &str,
    payload: &serde_json::Value,
    run_at: DateTime<Utc>,
    max_attempts: i32,
    now: DateTime<Utc>,
) -> Result<i64> {
    c.prepare_cached("INSERT INTO jobs(kind, payload, state, run_at, max_attempts, updated_at) VALUES (?1, ?2, 'queued', ?3, ?4, ?5)")
        .map_err(db)?
        .execute(params![kind, payload.to_string(), us(run_at), max_attempts, us(now)])
        .map_err(db)?;
    Ok(c.last_insert_rowid())
}

/// Queues `job` under `key`, or moves the queued job with that key to the earlier time.
pub fn schedule(c: &Connection, key: &str, job: &NewJob, now: DateTime<Utc>) -> Result<()> {
    upsert_keyed(c, key, job, now, false)
}

/// Like [`schedule`], but a job already queued under the key starts over with this payload:
/// a pass that was half-way (e.g. an SLA recompute at ticket 500,000) restarts from the
/// beginning when what it computes changed again.
pub fn schedule_restart(c: &Connection, key: &str, job: &NewJob, now: DateTime<Utc>) -> Result<()> {
    upsert_keyed(c, key, job, now, true)
}

fn upsert_keyed(
    c: &Connection,
    key: &str,
    job: &NewJob,
    now: DateTime<Utc>,
    restart: bool,
) -> Result<()> {
    let on_conflict = if restart {
        "run_at = MIN(run_at, excluded.run_at), payload = excluded.payload"
    } else {
        "run_at = MIN(run_at, excluded.run_at)"
    };
    c.prepare_cached(&format!(
        "INSERT INTO jobs(kind, payload, state, run_at, max_attempts, updated_at, dedupe_key) VALUES (?1, ?2, 'queued', ?3, ?4, ?5, ?6) \
         ON CONFLICT(dedupe_key) WHERE state = 'queued' AND dedupe_key IS NOT NULL DO UPDATE SET {on_conflict}",
    ))
    .map_err(db)?
    .execute(params![job.kind, job.payload.to_string(), us(job.run_at), job.max_attempts, us(now), key])
    .map_err(db)?;
    Ok(())
}

const JOB_COLS: &str = "id, kind, payload, state, run_at, attempts, max_attempts, last_error";

fn job_row(r: &Row) -> rusqlite::Result<Job> {
    Ok(Job {
        id: r.get(0)?,
        kind: r.get(1)?,
        payload: crate::conv::json(&r.get::<_, String>(2)?)?,
        state: JobState::parse(&r.get::<_, String>(3)?),
        run_at: time(r.get(4)?),
        attempts: r.get(5)?,
        max_attempts: r.get(6)?,
        last_error: r.get(7)?,
    })
}

impl SqliteStore {
    pub(crate) async fn enqueue_job_impl(&self, job: NewJob) -> Result<i64> {
        self.write(move |c| {
            enqueue(
                c,
                &job.kind,
                &job.payload,
                job.run_at,
                job.max_attempts,
                job.run_at,
            )
        })
        .await
    }

    pub(crate) async fn schedule_job_impl(&self, key: String, job: NewJob) -> Result<()> {
        self.write(move |c| schedule(c, &key, &job, job.run_at))
            .await
    }

    pub(crate) async fn lease_jobs_impl(
        &self,
        worker: String,
        now: DateTime<Utc>,
        lease: chrono::Duration,
        max: i64,
    ) -> Result<Vec<Job>> {
        self.write(move |c| {
            let due: Vec<Job> = c
                .prepare_cached(&format!("SELECT {JOB_COLS} FROM jobs WHERE state = 'queued' AND run_at <= ?1 AND (locked_until IS NULL OR locked_until <= ?1) ORDER BY run_at, id LIMIT ?2"))
                .map_err(db)?
                .query_map(params![us(now), max], job_row)
                .map_err(db)?
                .collect::<rusqlite::Result<_>>()
                .map_err(db)?;
            let mut out = Vec::with_capacity(due.len());
            for mut j in due {
                if j.attempts >= j.max_attempts {
                    c.prepare_cached("UPDATE jobs SET state = 'dead', last_error = 'lease expired after the last attempt', locked_by = NULL, locked_until = NULL, updated_at = ?2 WHERE id = ?1")
                        .map_err(db)?
                        .execute(params![j.id, us(now)])
                        .map_err(db)?;
                    continue;
                }
                c.prepare_cached("UPDATE jobs SET attempts = attempts + 1, locked_by = ?2, locked_until = ?3, updated_at = ?4, dedupe_key = NULL WHERE id = ?1")
                    .map_err(db)?
                    .execute(params![j.id, worker, us(now + lease), us(now)])
                    .map_err(db)?;
                j.attempts += 1;
                out.push(j);
            }
            Ok(out)
        })
        .await
    }

    pub(crate) async fn complete_job_impl(&self, id: i64, worker: String) -> Result<()> {
        self.write(move |c| {
            let n = c
                .prepare_cached("UPDATE jobs SET state = 'done', locked_by = NULL, locked_until = NULL WHERE id = ?1 AND locked_by = ?2 AND state = 'queued'")
                .map_err(db)?
                .execute(params![id, worker])
                .map_err(db)?;
            if n == 0 {
                return Err(StoreError::NotFound("job"));
            }
            Ok(())
        })
        .await
    }

    pub(crate) async fn fail_job_impl(
        &self,
        id: i64,
        worker: String,
        error: String,
        retry_at: Option<DateTime<Utc>>,
    ) -> Result<()> {
        self.write(move |c| {
            let error: String = error.chars().take(2000).collect();
            let n = match retry_at {
                Some(at) => c
                    .prepare_cached("UPDATE jobs SET run_at = ?3, locked_by = NULL, locked_until = NULL, last_error = ?4 WHERE id = ?1 AND locked_by = ?2 AND state = 'queued'")
                    .map_err(db)?
                    .execute(params![id, worker, us(at), error]),
                None => c
                    .prepare_cached("UPDATE jobs SET state = 'dead', locked_by = NULL, locked_until = NULL, last_error = ?3 WHERE id = ?1 AND locked_by = ?2 AND state = 'queued'")
                    .map_err(db)?
                    .execute(params![id, worker, error]),
            }
            .map_err(db)?;
            if n == 0 {
                return Err(StoreError::NotFound("job"));
            }
            Ok(())
        })
        .await
    }

    pub(crate) async fn list_jobs_impl(&self, state: JobState, limit: i64) -> Result<Vec<Job>> {
        self.read(move |c| {
            c.prepare_cached(&format!(
                "SELECT {JOB_COLS} FROM jobs WHERE state = ?1 ORDER BY id DESC LIMIT ?2"
            ))
            .map_err(db)?
            .query_map(params![state.as_str(), limit], job_row)
            .map_err(db)?
            .collect::<rusqlite::Result<_>>()
            .map_err(db)
        })
        .await
    }

    pub(crate) async fn stats_impl(&self) -> Result<Stats> {
        self.read(|c| {
            let one = |sql: &str| -> Result<i64> { c.prepare_cached(sql).map_err(db)?.query_row([], |r| r.get(0)).map_err(db) };
            Ok(Stats {
                tickets: one("SELECT COUNT(*) FROM tickets")?,
                open_tickets: one("SELECT (SELECT COUNT(*) FROM tickets WHERE status = 'new') + (SELECT COUNT(*) FROM tickets WHERE status = 'open') + (SELECT COUNT(*) FROM tickets WHERE status = 'pending') + (SELECT COUNT(*) FROM tickets WHERE status = 'on_hold')")?,
                jobs_queued: one("SELECT COUNT(*) FROM jobs WHERE state = 'queued'")?,
                jobs_dead: one("SELECT COUNT(*) FROM jobs WHERE state = 'dead'")?,
                last_seq: one("SELECT COALESCE(MAX(seq), 0) FROM events")?,
            })
        })
        .await
    }
}
