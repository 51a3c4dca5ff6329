//! Macros: shared or personal canned responses with field changes.

use crate::conv::{audit, json, time, to_json, us};
use crate::{db, SqliteStore};
use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension, Row};
use tend_core::Actor;
use tend_store::*;

const COLS: &str = "id, title, owner_id, body, public, actions, created_at";

fn row(r: &Row) -> rusqlite::Result<Macro> {
    Ok(Macro {
        id: r.get(0)?,
        title: r.get(1)?,
        owner_id: r.get(2)?,
        body: r.get(3)?,
        public: r.get(4)?,
        actions: json(&r.get::<_, String>(5)?)?,
        created_at: time(r.get(6)?),
    })
}

impl SqliteStore {
    pub(crate) async fn create_macro_impl(
        &self,
        new: NewMacro,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<Macro> {
        self.write(move |c| {
            if let Some(o) = new.owner_id {
                let ok: bool = c.query_row("SELECT EXISTS(SELECT 1 FROM agents WHERE id = ?1)", [o], |r| r.get(0)).map_err(db)?;
                if !ok {
                    return Err(StoreError::invalid("owner_id", format!("no agent {o}")));
                }
            }
            c.execute(
                "INSERT INTO macros(title, owner_id, body, public, actions, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![new.title, new.owner_id, new.body, new.public, to_json(&new.actions), us(now)],
            )
            .map_err(db)?;
            let id = c.last_insert_rowid();
            if new.owner_id.is_none() {
                audit(c, actor, "macro.created", format!("macro:{id}"), serde_json::json!({ "title": new.title }), now)?;
            }
            c.query_row(&format!("SELECT {COLS} FROM macros WHERE id = ?1"), [id], row).map_err(db)
        })
        .await
    }

    pub(crate) async fn list_macros_impl(&self, agent_id: i64) -> Result<Vec<Macro>> {
        self.read(move |c| {
            c.prepare_cached(&format!("SELECT {COLS} FROM macros WHERE owner_id IS NULL OR owner_id = ?1 ORDER BY title COLLATE NOCASE, id"))
                .map_err(db)?
                .query_map([agent_id], row)
                .map_err(db)?
                .collect::<rusqlite::Result<_>>()
                .map_err(db)
        })
        .await
    }

    pub(crate) async fn get_macro_impl(&self, id: i64, agent_id: i64) -> Result<Macro> {
        self.read(move |c| {
            c.prepare_cached(&format!(
                "SELECT {COLS} FROM macros WHERE id = ?1 AND (owner_id IS NULL OR owner_id = ?2)"
            ))
            .map_err(db)?
            .query_row(params![id, agent_id], row)
            .optional()
            .map_err(db)?
            .ok_or(StoreError::NotFound("macro"))
        })
        .await
    }

    pub(crate) async fn delete_macro_impl(
        &self,
        id: i64,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.write(move |c| {
            let (title, owner): (String, Option<i64>) = c
                .query_row(
                    "SELECT title, owner_id FROM macros WHERE id = ?1",
                    [id],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()
                .map_err(db)?
                .ok_or(StoreError::NotFound("macro"))?;
            c.execute("DELETE FROM macros WHERE id = ?1", [id])
                .map_err(db)?;
            if owner.is_none() {
                audit(
                    c,
                    actor,
                    "macro.deleted",
                    format!("macro:{id}"),
                    serde_json::json!({ "title": title }),
                    now,
                )?;
            }
            Ok(())
        })
        .await
    }
}
