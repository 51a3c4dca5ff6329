//! SLA bulk recompute (issue 5) on PostgreSQL: a page of open tickets with the events the
//! clock reads (two queries), and a page of due times and next checks in one transaction of
//! two set-based statements.

use crate::db::{execute, from_json, parse, query, DbExt};
use crate::PgStore;
use chrono::{DateTime, Utc};
use tend_core::sla::TicketFacts;
use tend_store::sla_bulk::{attach_events, clock_step, PageStep, SlaClockTicket, SlaDueUpdate};
use tend_store::Result;

pub(crate) async fn sla_clock_page(
    s: &PgStore,
    after_id: i64,
    limit: i64,
) -> Result<Vec<SlaClockTicket>> {
    let c = s.conn().await?;
    let rows = query(
        &c,
        "SELECT id, priority, channel, group_id, brand_id, tags, fields, sla_due_us FROM tickets \
         WHERE id > $1 AND status IN ('new','open','pending','on_hold') ORDER BY id LIMIT $2",
        &[&after_id.max(0), &limit.max(0)],
    )
    .await?;
    let mut tickets = Vec::with_capacity(rows.len());
    for r in &rows {
        tickets.push(SlaClockTicket {
            id: r.get(0),
            facts: TicketFacts {
                priority: parse("priority", r.get(1))?,
                channel: parse("channel", r.get(2))?,
                group_id: r.get(3),
                brand_id: r.get(4),
                tier: None,
                tags: r.get(5),
                fields: from_json(r.get(6))?,
            },
            events: Vec::new(),
            sla_due_at: tend_store::sla_due_from_us(r.get(7)),
            breach_recorded: false,
        });
    }
    let ids: Vec<i64> = tickets.iter().map(|t| t.id).collect();
    if ids.is_empty() {
        return Ok(tickets);
    }
    let rows = query(
        &c,
        "SELECT e.ticket_id, e.at, e.kind, e.actor_kind, \
           CASE e.kind WHEN 'ticket.message_added' THEN e.data->>'public' \
                       WHEN 'ticket.status_changed' THEN e.data->>'to' \
                       ELSE e.data->>'status' END \
         FROM events e \
         WHERE e.ticket_id = ANY($1) \
           AND e.kind IN ('ticket.created', 'ticket.status_changed', 'ticket.message_added', 'ticket.sla_breached') \
         ORDER BY e.ticket_id, e.seq",
        &[&ids],
    )
    .await?;
    let mut steps: Vec<(i64, i64, PageStep)> = Vec::with_capacity(rows.len());
    for r in &rows {
        let at: DateTime<Utc> = r.get(1);
        let kind: &str = r.get(2);
        let actor: &str = r.get(3);
        let value: Option<&str> = r.get(4);
        if let Some(step) = clock_step(kind, actor, value) {
            steps.push((r.get(0), at.timestamp_micros(), step));
        }
    }
    attach_events(&mut tickets, steps);
    Ok(tickets)
}

pub(crate) async fn set_sla_dues(s: &PgStore, updates: Vec<SlaDueUpdate>) -> Result<()> {
    let ids: Vec<i64> = updates.iter().map(|u| u.ticket_id).collect();
    let dues: Vec<i64> = updates
        .iter()
        .map(|u| tend_store::sla_due_to_us(u.due))
        .collect();
    let (check_ids, check_at): (Vec<i64>, Vec<DateTime<Utc>>) = updates
        .iter()
        .filter_map(|u| u.next_check.map(|at| (u.ticket_id, crate::db::us(at))))
        .unzip();
    let mut c = s.conn().await?;
    let tx = c.transaction().await.db()?;
    execute(
        &tx,
        "UPDATE tickets t SET sla_due_us = u.due FROM unnest($1::bigint[], $2::bigint[]) AS u(id, due) \
         WHERE t.id = u.id AND t.sla_due_us <> u.due",
        &[&ids, &dues],
    )
    .await?;
    if !check_ids.is_empty() {
        execute(
            &tx,
            "INSERT INTO jobs (kind, payload, state, run_at, attempts, max_attempts, dedupe_key) \
             SELECT $1, jsonb_build_object('ticket_id', u.id), 'queued', u.at, 0, 5, 'sla:' || u.id \
             FROM unnest($2::bigint[], $3::timestamptz[]) AS u(id, at) \
             ON CONFLICT (dedupe_key) WHERE state = 'queued' AND dedupe_key IS NOT NULL \
             DO UPDATE SET run_at = LEAST(jobs.run_at, excluded.run_at)",
            &[&tend_store::SLA_JOB, &check_ids, &check_at],
        )
        .await?;
    }
    tx.commit().await.db()
}
