//! SLA bulk recompute (issue 5) on SQLite: a page of open tickets with the events the clock
//! reads, and a page of due times in one write.

use crate::conv::{json, parse};
use crate::{db, jobs, SqliteStore};
use rusqlite::params;
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
                    "SELECT id, priority, channel, group_id, brand_id, tags, fields, sla_due_us FROM tickets \
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
            let mut due = c
                .prepare_cached(
                    "UPDATE tickets SET sla_due_us = ?2 WHERE id = ?1 AND sla_due_us <> ?2",
                )
                .map_err(db)?;
            for u in &updates {
                due.execute(params![u.ticket_id, tend_store::sla_due_to_us(u.due)])
                    .map_err(db)?;
                if let Some(at) = u.next_check {
                    jobs::schedule(
                        c,
                        &tend_store::sla_job_key(u.ticket_id),
                        &tend_store::sla_job(u.ticket_id, at),
                        at,
                    )?;
                }
            }
            Ok(())
        })
        .await
    }
}
