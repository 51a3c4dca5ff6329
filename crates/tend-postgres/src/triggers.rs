//! Triggers (issue 5): definitions as JSON rows, and the per-ticket runner cursor.

use crate::admin::audit;
use crate::db::{execute, query, query_one, query_opt, DbExt};
use crate::PgStore;
use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use serde_json::json;
use tend_core::automation::TriggerDef;
use tend_core::Actor;
use tend_store::triggers::{trigger_job, trigger_job_key, Trigger};
use tend_store::*;
use tokio_postgres::Row;

type Now = DateTime<Utc>;

const COLS: &str = "id, def, created_at, updated_at";

fn row(r: &Row) -> Result<Trigger> {
    Ok(Trigger {
        id: r.get(0),
        def: serde_json::from_value(r.get(1))
            .map_err(|e| StoreError::Backend(format!("stored trigger: {e}")))?,
        created_at: r.get(2),
        updated_at: r.get(3),
    })
}

async fn load<C: GenericClient>(c: &C, id: i64) -> Result<Trigger> {
    match query_opt(
        c,
        &format!("SELECT {COLS} FROM triggers WHERE id = $1"),
        &[&id],
    )
    .await?
    {
        Some(r) => row(&r),
        None => Err(StoreError::NotFound("trigger")),
    }
}

fn def_json(d: &TriggerDef) -> Result<serde_json::Value> {
    serde_json::to_value(d).map_err(|e| StoreError::Backend(e.to_string()))
}

/// Queues the ticket's `trigger.run` job (in the write's transaction) when a trigger is
/// active. Called from `schedule_sla`, which every ticket write calls.
pub(crate) async fn schedule_triggers<C: GenericClient>(c: &C, id: i64, now: Now) -> Result<()> {
    if query_opt(c, "SELECT 1 FROM triggers WHERE active LIMIT 1", &[])
        .await?
        .is_some()
    {
        // A ticket's first write while triggers are active starts its cursor before this
        // write's events (earlier history is never run through triggers).
        execute(
            c,
            "INSERT INTO trigger_cursors (ticket_id, seq) \
             SELECT $1, COALESCE(MAX(seq), 0) FROM events WHERE ticket_id = $1 AND at < $2 \
             ON CONFLICT (ticket_id) DO NOTHING",
            &[&id, &now],
        )
        .await?;
        crate::jobs::schedule(c, &trigger_job_key(id), &trigger_job(id, now)).await?;
    }
    Ok(())
}

/// With no trigger active, writes do not move cursors: forget them, so that activating a
/// trigger later does not run the history written in between.
async fn forget_cursors<C: GenericClient>(c: &C) -> Result<()> {
    execute(
        c,
        "DELETE FROM trigger_cursors WHERE NOT EXISTS (SELECT 1 FROM triggers WHERE active)",
        &[],
    )
    .await?;
    Ok(())
}

pub(crate) async fn list(s: &PgStore) -> Result<Vec<Trigger>> {
    let c = s.conn().await?;
    query(
        &c,
        &format!("SELECT {COLS} FROM triggers ORDER BY position, id"),
        &[],
    )
    .await?
    .iter()
    .map(row)
    .collect()
}

pub(crate) async fn get(s: &PgStore, id: i64) -> Result<Trigger> {
    let c = s.conn().await?;
    load(&c, id).await
}

pub(crate) async fn create(s: &PgStore, def: TriggerDef, by: Actor, now: Now) -> Result<Trigger> {
    let mut c = s.conn().await?;
    let tx = c.transaction().await.db()?;
    let r = query_one(
        &tx,
        "INSERT INTO triggers (name, active, position, def, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $5) RETURNING id",
        &[
            &def.name,
            &def.active,
            &def.position,
            &def_json(&def)?,
            &now,
        ],
    )
    .await?;
    let id: i64 = r.get(0);
    forget_cursors(&tx).await?;
    audit(
        &tx,
        by,
        "trigger.created",
        format!("trigger:{id}"),
        json!({"name": def.name, "active": def.active}),
        now,
    )
    .await?;
    let t = load(&tx, id).await?;
    tx.commit().await.db()?;
    Ok(t)
}

pub(crate) async fn update(
    s: &PgStore,
    id: i64,
    def: TriggerDef,
    by: Actor,
    now: Now,
) -> Result<Trigger> {
    let mut c = s.conn().await?;
    let tx = c.transaction().await.db()?;
    let n = execute(
        &tx,
        "UPDATE triggers SET name = $2, active = $3, position = $4, def = $5, updated_at = $6 WHERE id = $1",
        &[&id, &def.name, &def.active, &def.position, &def_json(&def)?, &now],
    )
    .await?;
    if n == 0 {
        return Err(StoreError::NotFound("trigger"));
    }
    forget_cursors(&tx).await?;
    audit(
        &tx,
        by,
        "trigger.updated",
        format!("trigger:{id}"),
        json!({"name": def.name, "active": def.active}),
        now,
    )
    .await?;
    let t = load(&tx, id).await?;
    tx.commit().await.db()?;
    Ok(t)
}

pub(crate) async fn delete(s: &PgStore, id: i64, by: Actor, now: Now) -> Result<()> {
    let mut c = s.conn().await?;
    let tx = c.transaction().await.db()?;
    let Some(r) = query_opt(
        &tx,
        "DELETE FROM triggers WHERE id = $1 RETURNING name",
        &[&id],
    )
    .await?
    else {
        return Err(StoreError::NotFound("trigger"));
    };
    let name: String = r.get(0);
    forget_cursors(&tx).await?;
    audit(
        &tx,
        by,
        "trigger.deleted",
        format!("trigger:{id}"),
        json!({"name": name}),
        now,
    )
    .await?;
    tx.commit().await.db()?;
    Ok(())
}

pub(crate) async fn cursor(s: &PgStore, ticket_id: i64) -> Result<Option<i64>> {
    let c = s.conn().await?;
    Ok(query_opt(
        &c,
        "SELECT seq FROM trigger_cursors WHERE ticket_id = $1",
        &[&ticket_id],
    )
    .await?
    .map(|r| r.get::<_, i64>(0)))
}

/// Compare-and-set: only one of two concurrent runs moves the cursor from `from`. Only an
/// existing cursor moves: a forgotten one is not recreated here.
pub(crate) async fn advance(s: &PgStore, ticket_id: i64, from: i64, to: i64) -> Result<bool> {
    let c = s.conn().await?;
    let n = execute(
        &c,
        "UPDATE trigger_cursors SET seq = $3 WHERE ticket_id = $1 AND seq = $2",
        &[&ticket_id, &from, &to],
    )
    .await?;
    Ok(n == 1)
}

pub(crate) async fn claim_automation_run(
    s: &PgStore,
    automation_id: i64,
    ticket_id: i64,
    period: i64,
    now: Now,
) -> Result<bool> {
    let c = s.conn().await?;
    let n = execute(
        &c,
        "INSERT INTO automation_runs (automation_id, ticket_id, period, at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT DO NOTHING",
        &[&automation_id, &ticket_id, &period, &now],
    )
    .await?;
    Ok(n == 1)
}
