//! Macros: shared or personal canned responses with field changes.

use crate::admin::audit;
use crate::db::{execute, query, query_one, query_opt, us, DbExt};
use crate::PgStore;
use chrono::{DateTime, Utc};
use serde_json::json;
use tend_core::Actor;
use tend_store::*;
use tokio_postgres::Row;

const COLS: &str = "id, title, owner_id, body, public, actions, created_at";

fn row(r: &Row) -> Result<Macro> {
    let actions: serde_json::Value = r.get(5);
    Ok(Macro {
        id: r.get(0),
        title: r.get(1),
        owner_id: r.get(2),
        body: r.get(3),
        public: r.get(4),
        actions: serde_json::from_value(actions).map_err(|e| StoreError::Backend(e.to_string()))?,
        created_at: r.get(6),
    })
}

pub(crate) async fn create(
    s: &PgStore,
    new: NewMacro,
    actor: Actor,
    now: DateTime<Utc>,
) -> Result<Macro> {
    let now = us(now);
    let mut c = s.conn().await?;
    let tx = c.transaction().await.db()?;
    if let Some(o) = new.owner_id {
        if query_opt(&tx, "SELECT 1 FROM agents WHERE id = $1", &[&o])
            .await?
            .is_none()
        {
            return Err(StoreError::invalid("owner_id", format!("no agent {o}")));
        }
    }
    let actions =
        serde_json::to_value(&new.actions).map_err(|e| StoreError::Backend(e.to_string()))?;
    let r = query_one(
        &tx,
        &format!("INSERT INTO macros (title, owner_id, body, public, actions, created_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING {COLS}"),
        &[&new.title, &new.owner_id, &new.body, &new.public, &actions, &now],
    )
    .await?;
    let m = row(&r)?;
    if m.owner_id.is_none() {
        audit(
            &tx,
            actor,
            "macro.created",
            format!("macro:{}", m.id),
            json!({ "title": m.title }),
            now,
        )
        .await?;
    }
    tx.commit().await.db()?;
    Ok(m)
}

pub(crate) async fn list(s: &PgStore, agent_id: i64) -> Result<Vec<Macro>> {
    let c = s.conn().await?;
    query(&c, &format!("SELECT {COLS} FROM macros WHERE owner_id IS NULL OR owner_id = $1 ORDER BY lower(title), id"), &[&agent_id]).await?.iter().map(row).collect()
}

pub(crate) async fn get(s: &PgStore, id: i64, agent_id: i64) -> Result<Macro> {
    let c = s.conn().await?;
    let r = query_opt(
        &c,
        &format!("SELECT {COLS} FROM macros WHERE id = $1 AND (owner_id IS NULL OR owner_id = $2)"),
        &[&id, &agent_id],
    )
    .await?;
    row(&r.ok_or(StoreError::NotFound("macro"))?)
}

pub(crate) async fn delete(s: &PgStore, id: i64, actor: Actor, now: DateTime<Utc>) -> Result<()> {
    let now = us(now);
    let mut c = s.conn().await?;
    let tx = c.transaction().await.db()?;
    let r = query_opt(
        &tx,
        "SELECT title, owner_id FROM macros WHERE id = $1",
        &[&id],
    )
    .await?
    .ok_or(StoreError::NotFound("macro"))?;
    let (title, owner): (String, Option<i64>) = (r.get(0), r.get(1));
    execute(&tx, "DELETE FROM macros WHERE id = $1", &[&id]).await?;
    if owner.is_none() {
        audit(
            &tx,
            actor,
            "macro.deleted",
            format!("macro:{id}"),
            json!({ "title": title }),
            now,
        )
        .await?;
    }
    tx.commit().await.db()
}
