//! Triggers (issue 5): definitions as JSON rows, and the per-ticket runner cursor.

use crate::conv::{audit, json, time, us};
use crate::{db, SqliteStore};
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension, Row};
use serde_json::json;
use tend_core::automation::TriggerDef;
use tend_core::Actor;
use tend_store::triggers::{trigger_job, trigger_job_key, Trigger};
use tend_store::*;

const COLS: &str = "id, def, created_at, updated_at";

fn row(r: &Row) -> rusqlite::Result<Trigger> {
    Ok(Trigger {
        id: r.get(0)?,
        def: json(&r.get::<_, String>(1)?)?,
        created_at: time(r.get(2)?),
        updated_at: time(r.get(3)?),
    })
}

fn load(c: &Connection, id: i64) -> Result<Trigger> {
    c.prepare_cached(&format!("SELECT {COLS} FROM triggers WHERE id = ?1"))
        .map_err(db)?
        .query_row([id], row)
        .optional()
        .map_err(db)?
        .ok_or(StoreError::NotFound("trigger"))
}

fn def_json(d: &TriggerDef) -> Result<String> {
    serde_json::to_string(d).map_err(|e| StoreError::Backend(e.to_string()))
}

/// Queues the ticket's `trigger.run` job (in the write's transaction) when a trigger is
/// active. Called from `schedule_sla`, which every ticket write calls.
pub(crate) fn schedule_triggers(c: &Connection, id: i64, now: DateTime<Utc>) -> Result<()> {
    let active: bool = c
        .prepare_cached("SELECT EXISTS(SELECT 1 FROM triggers WHERE active = 1)")
        .map_err(db)?
        .query_row([], |r| r.get(0))
        .map_err(db)?;
    if active {
        // A ticket's first write while triggers are active starts its cursor before this
        // write's events (earlier history is never run through triggers).
        c.prepare_cached(
            "INSERT OR IGNORE INTO trigger_cursors(ticket_id, seq) \
             SELECT ?1, COALESCE(MAX(seq), 0) FROM events WHERE ticket_id = ?1 AND at < ?2",
        )
        .map_err(db)?
        .execute(params![id, us(now)])
        .map_err(db)?;
        crate::jobs::schedule(c, &trigger_job_key(id), &trigger_job(id, now), now)?;
    }
    Ok(())
}

/// With no trigger active, writes do not move cursors: forget them, so that activating a
/// trigger later does not run the history written in between.
fn forget_cursors(c: &Connection) -> Result<()> {
    c.execute(
        "DELETE FROM trigger_cursors WHERE NOT EXISTS (SELECT 1 FROM triggers WHERE active = 1)",
        [],
    )
    .map_err(db)?;
    Ok(())
}

impl SqliteStore {
    pub(crate) async fn list_triggers_impl(&self) -> Result<Vec<Trigger>> {
        self.read(move |c| {
            c.prepare_cached(&format!(
                "SELECT {COLS} FROM triggers ORDER BY position, id"
            ))
            .map_err(db)?
            .query_map([], row)
            .map_err(db)?
            .collect::<rusqlite::Result<_>>()
            .map_err(db)
        })
        .await
    }

    pub(crate) async fn get_trigger_impl(&self, id: i64) -> Result<Trigger> {
        self.read(move |c| load(c, id)).await
    }

    pub(crate) async fn create_trigger_impl(
        &self,
        def: TriggerDef,
        by: Actor,
        now: DateTime<Utc>,
    ) -> Result<Trigger> {
        self.write(move |c| {
            c.execute(
                "INSERT INTO triggers(name, active, position, def, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
                params![def.name, def.active, def.position, def_json(&def)?, us(now)],
            )
            .map_err(db)?;
            let id = c.last_insert_rowid();
            forget_cursors(c)?;
            audit(c, by, "trigger.created", format!("trigger:{id}"), json!({"name": def.name, "active": def.active}), now)?;
            load(c, id)
        })
        .await
    }

    pub(crate) async fn update_trigger_impl(
        &self,
        id: i64,
        def: TriggerDef,
        by: Actor,
        now: DateTime<Utc>,
    ) -> Result<Trigger> {
        self.write(move |c| {
            let n = c
                .execute(
                    "UPDATE triggers SET name = ?2, active = ?3, position = ?4, def = ?5, updated_at = ?6 WHERE id = ?1",
                    params![id, def.name, def.active, def.position, def_json(&def)?, us(now)],
                )
                .map_err(db)?;
            if n == 0 {
                return Err(StoreError::NotFound("trigger"));
            }
            forget_cursors(c)?;
            audit(c, by, "trigger.updated", format!("trigger:{id}"), json!({"name": def.name, "active": def.active}), now)?;
            load(c, id)
        })
        .await
    }

    pub(crate) async fn delete_trigger_impl(
        &self,
        id: i64,
        by: Actor,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.write(move |c| {
            let name: Option<String> = c
                .query_row("SELECT name FROM triggers WHERE id = ?1", [id], |r| {
                    r.get(0)
                })
                .optional()
                .map_err(db)?;
            let Some(name) = name else {
                return Err(StoreError::NotFound("trigger"));
            };
            c.execute("DELETE FROM triggers WHERE id = ?1", [id])
                .map_err(db)?;
            forget_cursors(c)?;
            audit(
                c,
                by,
                "trigger.deleted",
                format!("trigger:{id}"),
                json!({"name": name}),
                now,
            )
        })
        .await
    }

    pub(crate) async fn trigger_cursor_impl(&self, ticket_id: i64) -> Result<Option<i64>> {
        self.read(move |c| {
            c.prepare_cached("SELECT seq FROM trigger_cursors WHERE ticket_id = ?1")
                .map_err(db)?
                .query_row([ticket_id], |r| r.get(0))
                .optional()
                .map_err(db)
        })
        .await
    }

    pub(crate) async fn advance_trigger_cursor_impl(
        &self,
        ticket_id: i64,
        from: i64,
        to: i64,
    ) -> Result<bool> {
        // Only an existing cursor moves: a forgotten one (no trigger was active for a while)
        // is not recreated here, so a run queued before that never reads the history.
        self.write(move |c| {
            let n = c
                .prepare_cached(
                    "UPDATE trigger_cursors SET seq = ?3 WHERE ticket_id = ?1 AND seq = ?2",
                )
                .map_err(db)?
                .execute(params![ticket_id, from, to])
                .map_err(db)?;
            Ok(n == 1)
        })
        .await
    }

    pub(crate) async fn claim_automation_run_impl(
        &self,
        automation_id: i64,
        ticket_id: i64,
        period: i64,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        self.write(move |c| {
            let n = c
                .prepare_cached(
                    "INSERT OR IGNORE INTO automation_runs(automation_id, ticket_id, period, at) VALUES (?1, ?2, ?3, ?4)",
                )
                .map_err(db)?
                .execute(params![automation_id, ticket_id, period, us(now)])
                .map_err(db)?;
            Ok(n == 1)
        })
        .await
    }
}
