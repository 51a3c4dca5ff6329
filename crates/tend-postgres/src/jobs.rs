//! Durable jobs: leased with `FOR UPDATE SKIP LOCKED`, so many workers on many app servers
//! share one queue without handing a job to two of them.

use crate::db::{execute, query, query_one, us, DbExt};
use crate::rows::{self, JOB_COLS};
use crate::PgStore;
use chrono::{DateTime, Utc};
use tend_store::{Job, JobState, NewJob, Result, StoreError};

pub(crate) async fn enqueue_job(s: &PgStore, job: NewJob) -> Result<i64> {
    let c = s.conn().await?;
    let row = query_one(
        &c,
        "INSERT INTO jobs (kind, payload, state, run_at, attempts, max_attempts) VALUES ($1, $2, 'queued', $3, 0, $4) RETURNING id",
        &[&job.kind, &job.payload, &us(job.run_at), &job.max_attempts],
    )
    .await?;
    Ok(row.get(0))
}

/// Queues a job in the caller's transaction (jobs that must exist iff the write commits).
pub(crate) async fn enqueue_on<C: deadpool_postgres::GenericClient>(
    c: &C,
    kind: &str,
    payload: &serde_json::Value,
    run_at: DateTime<Utc>,
    max_attempts: i32,
) -> Result<i64> {
    let row = query_one(
        c,
        "INSERT INTO jobs (kind, payload, state, run_at, attempts, max_attempts) VALUES ($1, $2, 'queued', $3, 0, $4) RETURNING id",
        &[&kind, payload, &us(run_at), &max_attempts],
    )
    .await?;
    Ok(row.get(0))
}

pub(crate) async fn lease_jobs(
    s: &PgStore,
    worker: &str,
    now: DateTime<Utc>,
    lease: chrono::Duration,
    max: i64,
) -> Result<Vec<Job>> {
    if max <= 0 {
        return Ok(Vec::new());
    }
    let now = us(now);
    let until = us(now + lease);
    let mut c = s.conn().await?;
    let tx = c.transaction().await.db()?;
    // One statement: pick due jobs no other worker holds, bury those out of attempts, lease
    // the rest. (A data-modifying CTE always runs, whether or not the query reads it.)
    let sql = format!(
        "WITH picked AS ( \
            SELECT id, attempts >= max_attempts AS spent FROM jobs \
            WHERE state = 'queued' AND run_at <= $1 AND (locked_until IS NULL OR locked_until <= $1) \
            ORDER BY run_at, id LIMIT $2 FOR UPDATE SKIP LOCKED), \
         buried AS ( \
            UPDATE jobs j SET state = 'dead', last_error = 'lease expired after the last attempt', \
                   locked_by = NULL, locked_until = NULL \
            FROM picked p WHERE j.id = p.id AND p.spent RETURNING j.id), \
         leased AS ( \
            UPDATE jobs j SET attempts = j.attempts + 1, locked_by = $3, locked_until = $4, dedupe_key = NULL \
            FROM picked p WHERE j.id = p.id AND NOT p.spent RETURNING j.*) \
         SELECT {JOB_COLS} FROM leased j ORDER BY j.run_at, j.id"
    );
    let jobs = query(&tx, &sql, &[&now, &max, &worker, &until])
        .await?
        .iter()
        .map(rows::job)
        .collect();
    tx.commit().await.db()?;
    Ok(jobs)
}

pub(crate) async fn complete_job(s: &PgStore, id: i64, worker: &str) -> Result<()> {
    let c = s.conn().await?;
    let n = execute(
        &c,
        "UPDATE jobs SET state = 'done', locked_until = NULL WHERE id = $1 AND locked_by = $2 AND state = 'queued'",
        &[&id, &worker],
    )
    .await?;
    if n == 0 {
        return Err(StoreError::NotFound("job"));
    }
    Ok(())
}

pub(crate) async fn fail_job(
    s: &PgStore,
    id: i64,
    worker: &str,
    error: &str,
    retry_at: Option<DateTime<Utc>>,
) -> Result<()> {
    let c = s.conn().await?;
    let n = match retry_at {
        Some(at) => {
            execute(
                &c,
                "UPDATE jobs SET run_at = $3, locked_by = NULL, locked_until = NULL, last_error = $4 \
                 WHERE id = $1 AND locked_by = $2 AND state = 'queued'",
                &[&id, &worker, &us(at), &error],
            )
            .await?
        }
        None => {
            execute(
                &c,
                "UPDATE jobs SET state = 'dead', locked_by = NULL, locked_until = NULL, last_error = $3 \
                 WHERE id = $1 AND locked_by = $2 AND state = 'queued'",
                &[&id, &worker, &error],
            )
            .await?
        }
    };
    if n == 0 {
        return Err(StoreError::NotFound("job"));
    }
    Ok(())
}

pub(crate) async fn list_jobs(s: &PgStore, state: JobState, limit: i64) -> Result<Vec<Job>> {
    let c = s.conn().await?;
    let sql =
        format!("SELECT {JOB_COLS} FROM jobs j WHERE j.state = $1 ORDER BY j.id DESC LIMIT $2");
    Ok(query(&c, &sql, &[&state.as_str(), &limit.max(0)])
        .await?
        .iter()
        .map(rows::job)
        .collect())
}

/// Queues `job` under `key`, or moves the queued job with that key to the earlier time.
/// Like [`schedule`], but a job already queued under the key starts over with this payload
/// (a half-way SLA recompute restarts when the configuration changes again).
pub(crate) async fn schedule_restart<C: deadpool_postgres::GenericClient>(
    c: &C,
    key: &str,
    job: &NewJob,
) -> Result<()> {
    upsert_keyed(c, key, job, true).await
}

pub(crate) async fn schedule<C: deadpool_postgres::GenericClient>(
    c: &C,
    key: &str,
    job: &NewJob,
) -> Result<()> {
    upsert_keyed(c, key, job, false).await
}

async fn upsert_keyed<C: deadpool_postgres::GenericClient>(
    c: &C,
    key: &str,
    job: &NewJob,
    restart: bool,
) -> Result<()> {
    let on_conflict = if restart {
        "run_at = LEAST(jobs.run_at, excluded.run_at), payload = excluded.payload"
    } else {
        "run_at = LEAST(jobs.run_at, excluded.run_at)"
    };
    crate::db::execute(
        c,
        &format!(
            "INSERT INTO jobs (kind, payload, state, run_at, attempts, max_attempts, dedupe_key) VALUES ($1, $2, 'queued', $3, 0, $4, $5) \
             ON CONFLICT (dedupe_key) WHERE state = 'queued' AND dedupe_key IS NOT NULL DO UPDATE SET {on_conflict}"
        ),
        &[&job.kind, &job.payload, &us(job.run_at), &job.max_attempts, &key],
    )
    .await?;
    Ok(())
}
