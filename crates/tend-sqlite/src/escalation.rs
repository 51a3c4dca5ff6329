//! Group leads and agents' working hours (issue 5; migration 0022).

use crate::conv::{audit, time, us};
use crate::{db, SqliteStore};
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension};
use serde_json::json;
use tend_core::Actor;
use tend_store::escalation::AgentHours;
use tend_store::*;

fn exists(c: &Connection, sql: &str, id: i64, what: &'static str) -> Result<()> {
    let found: bool = c
        .prepare_cached(sql)
        .map_err(db)?
        .query_row([id], |r| r.get(0))
        .map_err(db)?;
    if found {
        Ok(())
    } else {
        Err(StoreError::NotFound(what))
    }
}

fn hours(c: &Connection, agent_id: i64) -> Result<Option<AgentHours>> {
    c.prepare_cached("SELECT calendar, updated_at FROM agent_hours WHERE agent_id = ?1")
        .map_err(db)?
        .query_row([agent_id], |r| {
            Ok(AgentHours {
                agent_id,
                calendar: r.get(0)?,
                updated_at: time(r.get(1)?),
            })
        })
        .optional()
        .map_err(db)
}

impl SqliteStore {
    pub(crate) async fn group_lead_impl(&self, group_id: i64) -> Result<Option<i64>> {
        self.read(move |c| {
            c.prepare_cached("SELECT agent_id FROM group_leads WHERE group_id = ?1")
                .map_err(db)?
                .query_row([group_id], |r| r.get(0))
                .optional()
                .map_err(db)
        })
        .await
    }

    pub(crate) async fn set_group_lead_impl(
        &self,
        group_id: i64,
        agent_id: Option<i64>,
        by: Actor,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.write(move |c| {
            exists(
                c,
                "SELECT EXISTS(SELECT 1 FROM groups WHERE id = ?1)",
                group_id,
                "group",
            )?;
            match agent_id {
                Some(a) => {
                    exists(
                        c,
                        "SELECT EXISTS(SELECT 1 FROM agents WHERE id = ?1)",
                        a,
                        "agent",
                    )?;
                    c.execute(
                        "INSERT INTO group_leads(group_id, agent_id, updated_at) VALUES (?1, ?2, ?3) \
                         ON CONFLICT(group_id) DO UPDATE SET agent_id = excluded.agent_id, updated_at = excluded.updated_at",
                        params![group_id, a, us(now)],
                    )
                    .map_err(db)?;
                }
                None => {
                    c.execute("DELETE FROM group_leads WHERE group_id = ?1", [group_id])
                        .map_err(db)?;
                }
            }
            audit(
                c,
                by,
                "group.lead_set",
                format!("group:{group_id}"),
                json!({ "agent_id": agent_id }),
                now,
            )
        })
        .await
    }

    pub(crate) async fn agent_hours_impl(&self, agent_id: i64) -> Result<Option<AgentHours>> {
        self.read(move |c| hours(c, agent_id)).await
    }

    pub(crate) async fn set_agent_hours_impl(
        &self,
        agent_id: i64,
        calendar: Option<String>,
        by: Actor,
        now: DateTime<Utc>,
    ) -> Result<Option<AgentHours>> {
        self.write(move |c| {
            exists(
                c,
                "SELECT EXISTS(SELECT 1 FROM agents WHERE id = ?1)",
                agent_id,
                "agent",
            )?;
            match &calendar {
                Some(cal) => {
                    c.execute(
                        "INSERT INTO agent_hours(agent_id, calendar, updated_at) VALUES (?1, ?2, ?3) \
                         ON CONFLICT(agent_id) DO UPDATE SET calendar = excluded.calendar, updated_at = excluded.updated_at",
                        params![agent_id, cal, us(now)],
                    )
                    .map_err(db)?;
                }
                None => {
                    c.execute("DELETE FROM agent_hours WHERE agent_id = ?1", [agent_id])
                        .map_err(db)?;
                }
            }
            audit(
                c,
                by,
                "agent.hours_set",
                format!("agent:{agent_id}"),
                json!({ "calendar": calendar }),
                now,
            )?;
            hours(c, agent_id)
        })
        .await
    }
}
