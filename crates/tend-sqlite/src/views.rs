//! Saved ticket views.

use crate::conv::{audit, json, time, us};
use crate::{db, SqliteStore};
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension, Row};
use serde_json::json;
use tend_core::Actor;
use tend_store::*;

const COLS: &str = "id, owner_id, name, filters, sort, columns, created_by, created_at, updated_at";

fn row(r: &Row) -> rusqlite::Result<SavedView> {
    Ok(SavedView {
        id: r.get(0)?,
        owner_id: r.get(1)?,
        name: r.get(2)?,
        filters: r.get(3)?,
        sort: r.get(4)?,
        columns: json(&r.get::<_, String>(5)?)?,
        created_by: r.get(6)?,
        created_at: time(r.get(7)?),
        updated_at: time(r.get(8)?),
    })
}

fn load(c: &Connection, id: i64) -> Result<SavedView> {
    c.prepare_cached(&format!("SELECT {COLS} FROM saved_views WHERE id = ?1"))
        .map_err(db)?
        .query_row([id], row)
        .optional()
        .map_err(db)?
        .ok_or(StoreError::NotFound("view"))
}

fn columns_json(v: &[String]) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "[]".into())
}

impl SqliteStore {
    pub(crate) async fn create_saved_view_impl(
        &self,
        new: NewSavedView,
        by: Actor,
        now: DateTime<Utc>,
    ) -> Result<SavedView> {
        self.write(move |c| {
            c.execute(
                "INSERT INTO saved_views(owner_id, name, filters, sort, columns, created_by, created_at, updated_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
                params![new.owner_id, new.name, new.filters, new.sort, columns_json(&new.columns), by.id, us(now)],
            )
            .map_err(db)?;
            let id = c.last_insert_rowid();
            audit(c, by, "view.created", format!("view:{id}"), json!({"name": new.name, "shared": new.owner_id.is_none()}), now)?;
            load(c, id)
        })
        .await
    }

    pub(crate) async fn update_saved_view_impl(
        &self,
        id: i64,
        new: NewSavedView,
        by: Actor,
        now: DateTime<Utc>,
    ) -> Result<SavedView> {
        self.write(move |c| {
            let n = c
                .execute(
                    "UPDATE saved_views SET owner_id = ?2, name = ?3, filters = ?4, sort = ?5, columns = ?6, updated_at = ?7 WHERE id = ?1",
                    params![id, new.owner_id, new.name, new.filters, new.sort, columns_json(&new.columns), us(now)],
                )
                .map_err(db)?;
            if n == 0 {
                return Err(StoreError::NotFound("view"));
            }
            audit(c, by, "view.updated", format!("view:{id}"), json!({"name": new.name, "shared": new.owner_id.is_none()}), now)?;
            load(c, id)
        })
        .await
    }

    pub(crate) async fn delete_saved_view_impl(
        &self,
        id: i64,
        by: Actor,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.write(move |c| {
            let n = c
                .execute("DELETE FROM saved_views WHERE id = ?1", [id])
                .map_err(db)?;
            if n == 0 {
                return Err(StoreError::NotFound("view"));
            }
            audit(c, by, "view.deleted", format!("view:{id}"), json!({}), now)
        })
        .await
    }

    pub(crate) async fn get_saved_view_impl(&self, id: i64) -> Result<SavedView> {
        self.read(move |c| load(c, id)).await
    }

    pub(crate) async fn list_saved_views_impl(&self, agent_id: i64) -> Result<Vec<SavedView>> {
        let mut views: Vec<SavedView> = self
            .read(move |c| {
                c.prepare_cached(&format!(
                    "SELECT {COLS} FROM saved_views WHERE owner_id IS NULL OR owner_id = ?1"
                ))
                .map_err(db)?
                .query_map([agent_id], row)
                .map_err(db)?
                .collect::<rusqlite::Result<_>>()
                .map_err(db)
            })
            .await?;
        sort_saved_views(&mut views);
        Ok(views)
    }
}
