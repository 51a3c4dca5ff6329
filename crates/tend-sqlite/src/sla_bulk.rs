//! SLA bulk recompute (issue 5) on SQLite: a page of open tickets with the events the clock
//! reads, and a page of due times in one write.

use crate::conv::{json, parse, time, us};
use crate::{db, SqliteStore};
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension};
use tend_core::sla::TicketFacts;
use tend_store::sla_bulk::{attach_events, clock_step, PageStep, SlaClockTicket, SlaDueUpdate};
use tend_store::Result;

const OPEN: &str = "'new','open','pending','on_hold'";

impl SqliteStore {
    pub(crate) async fn sla_clock_page_impl(
        &self,
        after_id: i64,
        limit: i64,
    ) -> Result<Vec<SlaClockTicket>> {
        self.read(move |c| {
            let mut tickets: Vec<SlaClockTicket> = c
                .prepare_cached(&format!(
                    "SELECT id, priority, channel, group_id, brand_id, tags, fields, sla_due_us, \
                       CASE WHEN sla_lease_us IS NULL THEN sla_check_us END, last_seq FROM tickets \
                     WHERE id > ?1 AND +status IN ({OPEN}) ORDER BY id LIMIT ?2"
                ))
                .map_err(db)?
                .query_map(params![after_id.max(0), limit.max(0)], |r| {
                    Ok(SlaClockTicket {
                        id: r.get(0)?,
                        facts: TicketFacts {
                            priority: parse(r.get(1)?, "priority")?,
                            channel: parse(r.get(2)?, "channel")?,
                            group_id: r.get(3)?,
                            brand_id: r.get(4)?,
                            tier: None,
                            tags: json(&r.get::<_, String>(5)?)?,
                            fields: json(&r.get::<_, String>(6)?)?,
                        },
                        events: Vec::new(),
                        sla_due_at: tend_store::sla_due_from_us(r.get(7)?),
                        sla_check_at: r.get::<_, Option<i64>>(8)?.map(time),
                        last_seq: r.get(9)?,
                        breach_recorded: false,
                    })
                })
                .map_err(db)?
                .collect::<rusqlite::Result<_>>()
                .map_err(db)?;
            let (Some(first), Some(last)) = (tickets.first(), tickets.last()) else {
                return Ok(tickets);
            };
            // One range scan of the events index over the page's ids, joined to the page's
            // open tickets; only the kinds the clock reads (and breach marks), and only the one
            // JSON value each needs. `CROSS JOIN` and `+status` keep SQLite on the id ranges:
            // through the status index it would visit every open ticket for each page.
            let rows: Vec<(i64, i64, PageStep)> = c
                .prepare_cached(&format!(
                    "SELECT e.ticket_id, e.at, e.kind, e.actor_kind, \
                       CASE e.kind WHEN 'ticket.message_added' THEN json_extract(e.data, '$.public') \
                                   WHEN 'ticket.status_changed' THEN json_extract(e.data, '$.to') \
                                   ELSE json_extract(e.data, '$.status') END \
                     FROM events e CROSS JOIN tickets t ON t.id = e.ticket_id \
                     WHERE e.ticket_id BETWEEN ?1 AND ?2 AND +t.status IN ({OPEN}) \
                       AND e.kind IN ('ticket.created', 'ticket.status_changed', 'ticket.message_added', 'ticket.sla_breached') \
                     ORDER BY e.ticket_id, e.seq"
                ))
                .map_err(db)?
                .query_map(params![first.id, last.id], |r| {
                    let value: rusqlite::types::Value = r.get(4)?;
                    let value = match value {
                        rusqlite::types::Value::Text(s) => Some(s),
                        rusqlite::types::Value::Integer(i) => Some(i.to_string()),
                        _ => None,
                    };
                    let kind: String = r.get(2)?;
                    let actor: String = r.get(3)?;
                    Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, clock_step(&kind, &actor, value.as_deref())))
                })
                .map_err(db)?
                .filter_map(|r| match r {
                    Ok((t, at, Some(step))) => Some(Ok((t, at, step))),
                    Ok(_) => None,
                    Err(e) => Some(Err(e)),
                })
                .collect::<rusqlite::Result<_>>()
                .map_err(db)?;
            attach_events(&mut tickets, rows);
            Ok(tickets)
        })
        .await
    }

    pub(crate) async fn set_sla_dues_impl(&self, updates: Vec<SlaDueUpdate>) -> Result<()> {
        self.write(move |c| {
            // Three statements so that a column that does not change is not in the SET list
            // (SQLite then leaves its indexes alone). Each applies only while the ticket's
            // last_seq is the one the page read.
            let mut both = c
                .prepare_cached(&format!(
                    "UPDATE tickets SET sla_due_us = ?3, sla_check_us = {} \
                     WHERE id = ?1 AND last_seq = ?2",
                    earlier()
                ))
                .map_err(db)?;
            let mut due = c
                .prepare_cached(
                    "UPDATE tickets SET sla_due_us = ?3 WHERE id = ?1 AND last_seq = ?2",
                )
                .map_err(db)?;
            let mut check = c
                .prepare_cached(&format!(
                    "UPDATE tickets SET sla_check_us = {} WHERE id = ?1 AND last_seq = ?2",
                    earlier()
                ))
                .map_err(db)?;
            for u in &updates {
                let d = tend_store::sla_due_to_us(u.due);
                match (u.due_changed, u.next_check) {
                    (true, Some(at)) => both.execute(params![u.ticket_id, u.last_seq, d, us(at)]),
                    (true, None) => due.execute(params![u.ticket_id, u.last_seq, d]),
                    (false, Some(at)) => check.execute(params![u.ticket_id, u.last_seq, d, us(at)]),
                    (false, None) => continue,
                }
                .map_err(db)?;
            }
            Ok(())
        })
        .await
    }

    pub(crate) async fn schedule_sla_check_impl(&self, id: i64, at: DateTime<Utc>) -> Result<()> {
        self.write(move |c| schedule_check(c, id, at)).await
    }

    pub(crate) async fn sla_check_at_impl(&self, id: i64) -> Result<Option<DateTime<Utc>>> {
        self.read(move |c| {
            let v: Option<Option<i64>> = c
                .prepare_cached("SELECT sla_check_us FROM tickets WHERE id = ?1")
                .map_err(db)?
                .query_row(params![id], |r| r.get(0))
                .optional()
                .map_err(db)?;
            Ok(v.flatten().map(time))
        })
        .await
    }

    pub(crate) async fn claim_sla_checks_impl(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        max: i64,
    ) -> Result<Vec<i64>> {
        self.write(move |c| {
            // The partial index gives the due checks in time order; a held lease (a check
            // still running) is skipped until it ends.
            c.prepare_cached(
                "UPDATE tickets SET sla_check_us = ?2, sla_lease_us = ?2 WHERE id IN ( \
                   SELECT id FROM tickets INDEXED BY tickets_sla_check \
                   WHERE sla_check_us <= ?1 AND (sla_lease_us IS NULL OR sla_lease_us <= ?1) \
                   ORDER BY sla_check_us LIMIT ?3) \
                 RETURNING id",
            )
            .map_err(db)?
            .query_map(params![us(now), us(lease_until), max.max(0)], |r| r.get(0))
            .map_err(db)?
            .collect::<rusqlite::Result<Vec<i64>>>()
            .map_err(db)
        })
        .await
    }

    pub(crate) async fn finish_sla_check_impl(
        &self,
        id: i64,
        lease_until: DateTime<Utc>,
        next: Option<DateTime<Utc>>,
    ) -> Result<()> {
        self.write(move |c| {
            // sla_check_us still at the lease's end: nothing was scheduled meanwhile, so the
            // next check is `next`; otherwise a write scheduled one during the check, and the
            // earlier of the two stays.
            c.prepare_cached(
                "UPDATE tickets SET sla_lease_us = NULL, sla_check_us = CASE \
                   WHEN sla_check_us = ?2 THEN ?3 \
                   WHEN ?3 IS NOT NULL AND ?3 < sla_check_us THEN ?3 \
                   ELSE sla_check_us END \
                 WHERE id = ?1 AND sla_lease_us = ?2",
            )
            .map_err(db)?
            .execute(params![id, us(lease_until), next.map(us)])
            .map_err(db)?;
            Ok(())
        })
        .await
    }
}

/// The check time a schedule for `at` stores (docs/sla.md, "How checks are scheduled"): `at`,
/// or, while a check is claimed and `at` is not before its lease's end, one microsecond
/// before that end — which differs from the value the claim set, so the finishing check
/// knows something was scheduled meanwhile and does not replace it with its own (older) next.
fn target(at: &str) -> String {
    format!("(CASE WHEN sla_lease_us IS NOT NULL AND {at} >= sla_lease_us THEN sla_lease_us - 1 ELSE {at} END)")
}

/// `sla_check_us` moved to the check time `?4` unless it is already earlier.
fn earlier() -> String {
    let t = target("?4");
    format!("CASE WHEN sla_check_us IS NULL OR sla_check_us > {t} THEN {t} ELSE sla_check_us END")
}

/// Schedules the ticket's SLA check at `at` unless one is already due earlier (in the
/// caller's transaction: every ticket write does this when SLAs are configured).
pub(crate) fn schedule_check(c: &Connection, id: i64, at: DateTime<Utc>) -> Result<()> {
    let t = target("?2");
    c.prepare_cached(&format!(
        "UPDATE tickets SET sla_check_us = {t} WHERE id = ?1 AND (sla_check_us IS NULL OR sla_check_us > {t})"
    ))
    .map_err(db)?
    .execute(params![id, us(at)])
    .map_err(db)?;
    Ok(())
}
