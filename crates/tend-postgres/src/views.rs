//! Saved ticket views.

use crate::admin::audit;
use crate::db::{execute, query, query_one, query_opt, DbExt};
use crate::PgStore;
use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use serde_json::json;
use tend_core::Actor;
use tend_store::*;
use tokio_postgres::Row;

type Now = DateTime<Utc>;

const COLS: &str = "id, owner_id, name, filters, sort, columns, created_by, created_at, updated_at";

fn row(r: &Row) -> Result<SavedView> {
    Ok(SavedView {
        id: r.get(0),
        owner_id: r.get(1),
        name: r.get(2),
        filters: r.get(3),
        sort: r.get(4),
        columns: serde_json::from_value(r.get(5))
            .map_err(|e| StoreError::Backend(format!("stored view columns: {e}")))?,
        created_by: r.get(6),
        created_at: r.get(7),
        updated_at: r.get(8),
    })
}

async fn load<C: GenericClient>(c: &C, id: i64) -> Result<SavedView> {
    match query_opt(
        c,
        &format!("SELECT {COLS} FROM saved_views WHERE id = $1"),
        &[&id],
    )
    .await?
    {
        Some(r) => row(&r),
        None => Err(StoreError::NotFound("view")),
    }
}

pub(crate) async fn create(
    s: &PgStore,
    new: NewSavedView,
    by: Actor,
    now: Now,
) -> Result<SavedView> {
    let mut c = s.conn().await?;
    let tx = c.transaction().await.db()?;
    let r = query_one(
        &tx,
        "INSERT INTO saved_views (owner_id, name, filters, sort, columns, created_by, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING id",
        &[&new.owner_id, &new.name, &new.filters, &new.sort, &json!(new.columns), &by.id, &now],
    )
    .await?;
    let id: i64 = r.get(0);
    audit(
        &tx,
        by,
        "view.created",
        format!("view:{id}"),
        json!({"name": new.name, "shared": new.owner_id.is_none()}),
        now,
    )
    .await?;
    let v = load(&tx, id).await?;
    tx.commit().await.db()?;
    Ok(v)
}

pub(crate) async fn update(
    s: &PgStore,
    id: i64,
    new: NewSavedView,
    by: Actor,
    now: Now,
) -> Result<SavedView> {
    let mut c = s.conn().await?;
    let tx = c.transaction().await.db()?;
    let n = execute(
        &tx,
        "UPDATE saved_views SET owner_id = $2, name = $3, filters = $4, sort = $5, columns = $6, updated_at = $7 WHERE id = $1",
        &[&id, &new.owner_id, &new.name, &new.filters, &new.sort, &json!(new.columns), &now],
    )
    .await?;
    if n == 0 {
        return Err(StoreError::NotFound("view"));
    }
    audit(
        &tx,
        by,
        "view.updated",
        format!("view:{id}"),
        json!({"name": new.name, "shared": new.owner_id.is_none()}),
        now,
    )
    .await?;
    let v = load(&tx, id).await?;
    tx.commit().await.db()?;
    Ok(v)
}

pub(crate) async fn delete(s: &PgStore, id: i64, by: Actor, now: Now) -> Result<()> {
    let mut c = s.conn().await?;
    let tx = c.transaction().await.db()?;
    let n = execute(&tx, "DELETE FROM saved_views WHERE id = $1", &[&id]).await?;
    if n == 0 {
        return Err(StoreError::NotFound("view"));
    }
    audit(
        &tx,
        by,
        "view.deleted",
        format!("view:{id}"),
        json!({}),
        now,
    )
    .await?;
    tx.commit().await.db()?;
    Ok(())
}

pub(crate) async fn get(s: &PgStore, id: i64) -> Result<SavedView> {
    let c = s.conn().await?;
    load(&c, id).await
}

pub(crate) async fn list(s: &PgStore, agent_id: i64) -> Result<Vec<SavedView>> {
    let c = s.conn().await?;
    let mut views = query(
        &c,
        &format!("SELECT {COLS} FROM saved_views WHERE owner_id IS NULL OR owner_id = $1"),
        &[&agent_id],
    )
    .await?
    .iter()
    .map(row)
    .collect::<Result<Vec<_>>>()?;
    sort_saved_views(&mut views);
    Ok(views)
}
