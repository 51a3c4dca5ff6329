//! Row mapping and small shared writes (events, audit, webhook outbox).

use crate::db;
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension, Row};
use tend_core::{Actor, ActorKind, Change, Ticket};
use tend_store::{Event, Result, StoreError};

pub fn us(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

pub fn time(v: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(v).unwrap_or_default()
}

pub fn parse<T: std::str::FromStr>(s: String, what: &str) -> rusqlite::Result<T> {
    s.parse::<T>().map_err(|_| {
        rusqlite::Error::InvalidColumnType(
            0,
            format!("bad {what}: {s}"),
            rusqlite::types::Type::Text,
        )
    })
}

pub fn json<T: serde::de::DeserializeOwned>(s: &str) -> rusqlite::Result<T> {
    serde_json::from_str(s).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
    })
}

pub fn to_json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".into())
}

/// Whether an error is a UNIQUE (or PRIMARY KEY) constraint violation.
pub fn is_unique(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE || f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY)
}

/// Maps a unique violation to `Conflict(msg)`, anything else to a backend error.
pub fn unique_or(msg: impl FnOnce() -> String) -> impl FnOnce(rusqlite::Error) -> StoreError {
    move |e| {
        if is_unique(&e) {
            StoreError::Conflict(msg())
        } else {
            db(e)
        }
    }
}

pub const TICKET_COLS: &str = "id, subject, status, priority, channel, requester_id, organization_id, assignee_id, group_id, brand_id, tags, fields, external_id, created_at, updated_at, solved_at, last_seq, sla_due_us";

pub fn ticket_row(r: &Row) -> rusqlite::Result<Ticket> {
    Ok(Ticket {
        id: r.get(0)?,
        subject: r.get(1)?,
        status: parse(r.get(2)?, "status")?,
        priority: parse(r.get(3)?, "priority")?,
        channel: parse(r.get(4)?, "channel")?,
        requester_id: r.get(5)?,
        organization_id: r.get(6)?,
        assignee_id: r.get(7)?,
        group_id: r.get(8)?,
        brand_id: r.get(9)?,
        tags: json(&r.get::<_, String>(10)?)?,
        fields: json(&r.get::<_, String>(11)?)?,
        external_id: r.get(12)?,
        created_at: time(r.get(13)?),
        updated_at: time(r.get(14)?),
        solved_at: r.get::<_, Option<i64>>(15)?.map(time),
        last_seq: r.get(16)?,
        sla_due_at: tend_store::sla_due_from_us(r.get(17)?),
    })
}

pub fn load_ticket(c: &Connection, id: i64) -> Result<Option<Ticket>> {
    c.prepare_cached(&format!("SELECT {TICKET_COLS} FROM tickets WHERE id = ?1"))
        .map_err(db)?
        .query_row([id], ticket_row)
        .optional()
        .map_err(db)
}

pub fn actor(kind: String, id: Option<i64>) -> Actor {
    Actor {
        kind: ActorKind::parse(&kind),
        id,
    }
}

pub const EVENT_COLS: &str = "seq, ticket_id, actor_kind, actor_id, at, data";

pub fn event_row(r: &Row) -> rusqlite::Result<Event> {
    let change: Change = json(&r.get::<_, String>(5)?)?;
    Ok(Event {
        seq: r.get(0)?,
        ticket_id: r.get(1)?,
        actor: actor(r.get(2)?, r.get(3)?),
        at: time(r.get(4)?),
        kind: change.kind().to_string(),
        change,
    })
}

/// Appends an event and queues its webhook deliveries in the same transaction.
pub fn append_event(
    c: &Connection,
    ticket_id: i64,
    who: Actor,
    at: DateTime<Utc>,
    change: &Change,
    outbox: bool,
) -> Result<i64> {
    c.prepare_cached("INSERT INTO events(ticket_id, kind, actor_kind, actor_id, data, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")
        .map_err(db)?
        .execute(params![ticket_id, change.kind(), who.kind.as_str(), who.id, to_json(change), us(at)])
        .map_err(db)?;
    let seq = c.last_insert_rowid();
    if outbox {
        let hooks: Vec<(i64, String)> = c
            .prepare_cached("SELECT id, events FROM webhooks WHERE active = 1")
            .map_err(db)?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(db)?
            .collect::<rusqlite::Result<_>>()
            .map_err(db)?;
        for (hook, events) in hooks {
            let events: Vec<String> = serde_json::from_str(&events).unwrap_or_default();
            if tend_store::webhook_wants(&events, change.kind()) {
                crate::jobs::enqueue(
                    c,
                    tend_store::WEBHOOK_JOB,
                    &tend_store::webhook_job_payload(hook, seq),
                    at,
                    tend_store::WEBHOOK_MAX_ATTEMPTS,
                    at,
                )?;
            }
        }
    }
    Ok(seq)
}

pub fn audit(
    c: &Connection,
    who: Actor,
    action: &str,
    target: String,
    data: serde_json::Value,
    at: DateTime<Utc>,
) -> Result<()> {
    c.prepare_cached("INSERT INTO audit_log(actor_kind, actor_id, action, target, data, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")
        .map_err(db)?
        .execute(params![who.kind.as_str(), who.id, action, target, data.to_string(), us(at)])
        .map_err(db)?;
    Ok(())
}

/// Binds a list of values as `?,?,?` placeholders.
pub fn placeholders(n: usize) -> String {
    vec!["?"; n].join(",")
}
