//! Group leads and agents' working hours (issue 5; migration 0022).

use crate::admin::audit;
use crate::db::{execute, query_opt, DbExt};
use crate::PgStore;
use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use serde_json::json;
use tend_core::Actor;
use tend_store::escalation::AgentHours;
use tend_store::*;

type Now = DateTime<Utc>;

async fn exists<C: GenericClient>(c: &C, sql: &str, id: i64, what: &'static str) -> Result<()> {
    match query_opt(c, sql, &[&id]).await? {
        Some(_) => Ok(()),
        None => Err(StoreError::NotFound(what)),
    }
}

async fn hours<C: GenericClient>(c: &C, agent_id: i64) -> Result<Option<AgentHours>> {
    Ok(query_opt(
        c,
        "SELECT calendar, updated_at FROM agent_hours WHERE agent_id = $1",
        &[&agent_id],
    )
    .await?
    .map(|r| AgentHours {
        agent_id,
        calendar: r.get(0),
        updated_at: r.get(1),
    }))
}

pub(crate) async fn group_lead(s: &PgStore, group_id: i64) -> Result<Option<i64>> {
    let c = s.conn().await?;
    Ok(query_opt(
        &c,
        "SELECT agent_id FROM group_leads WHERE group_id = $1",
        &[&group_id],
    )
    .await?
    .map(|r| r.get::<_, i64>(0)))
}

pub(crate) async fn set_group_lead(
    s: &PgStore,
    group_id: i64,
    agent_id: Option<i64>,
    by: Actor,
    now: Now,
) -> Result<()> {
    let mut c = s.conn().await?;
    let tx = c.transaction().await.db()?;
    exists(&tx, "SELECT 1 FROM groups WHERE id = $1", group_id, "group").await?;
    match agent_id {
        Some(a) => {
            exists(&tx, "SELECT 1 FROM agents WHERE id = $1", a, "agent").await?;
            execute(
                &tx,
                "INSERT INTO group_leads (group_id, agent_id, updated_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (group_id) DO UPDATE SET agent_id = excluded.agent_id, updated_at = excluded.updated_at",
                &[&group_id, &a, &now],
            )
            .await?;
        }
        None => {
            execute(
                &tx,
                "DELETE FROM group_leads WHERE group_id = $1",
                &[&group_id],
            )
            .await?;
        }
    }
    audit(
        &tx,
        by,
        "group.lead_set",
        format!("group:{group_id}"),
        json!({ "agent_id": agent_id }),
        now,
    )
    .await?;
    tx.commit().await.db()?;
    Ok(())
}

pub(crate) async fn agent_hours(s: &PgStore, agent_id: i64) -> Result<Option<AgentHours>> {
    let c = s.conn().await?;
    hours(&c, agent_id).await
}

pub(crate) async fn set_agent_hours(
    s: &PgStore,
    agent_id: i64,
    calendar: Option<String>,
    by: Actor,
    now: Now,
) -> Result<Option<AgentHours>> {
    let mut c = s.conn().await?;
    let tx = c.transaction().await.db()?;
    exists(&tx, "SELECT 1 FROM agents WHERE id = $1", agent_id, "agent").await?;
    match &calendar {
        Some(cal) => {
            execute(
                &tx,
                "INSERT INTO agent_hours (agent_id, calendar, updated_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (agent_id) DO UPDATE SET calendar = excluded.calendar, updated_at = excluded.updated_at",
                &[&agent_id, cal, &now],
            )
            .await?;
        }
        None => {
            execute(
                &tx,
                "DELETE FROM agent_hours WHERE agent_id = $1",
                &[&agent_id],
            )
            .await?;
        }
    }
    audit(
        &tx,
        by,
        "agent.hours_set",
        format!("agent:{agent_id}"),
        json!({ "calendar": calendar }),
        now,
    )
    .await?;
    let h = hours(&tx, agent_id).await?;
    tx.commit().await.db()?;
    Ok(h)
}
