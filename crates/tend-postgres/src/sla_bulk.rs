//! SLA bulk recompute (issue 5) on PostgreSQL: a page of open tickets with the events the
//! clock reads (two queries), and a page of due times and next checks in one set-based
//! statement; each ticket's next check on its row (migration 0027), claimed by workers with
//! `FOR UPDATE SKIP LOCKED`.

use crate::db::{execute, from_json, parse, query, query_opt};
use crate::PgStore;
use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
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
        "SELECT id, priority, channel, group_id, brand_id, tags, fields, sla_due_us, \
           CASE WHEN sla_lease_us IS NULL THEN sla_check_us END, last_seq FROM tickets \
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
            sla_check_at: r
                .get::<_, Option<i64>>(8)
                .and_then(DateTime::<Utc>::from_timestamp_micros),
            last_seq: r.get(9),
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
    let n = updates.len();
    let (mut ids, mut seqs, mut dues, mut checks) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    for u in &updates {
        ids.push(u.ticket_id);
        seqs.push(u.last_seq);
        // NULL: keep the stored due time (PostgreSQL skips index work for unchanged values
        // anyway; NULL keeps a due time a check wrote since out of reach too).
        dues.push(u.due_changed.then(|| tend_store::sla_due_to_us(u.due)));
        checks.push(u.next_check.map(|t| t.timestamp_micros()));
    }
    let c = s.conn().await?;
    // One statement (one implicit transaction); each ticket only while its last_seq is the
    // one the page read.
    execute(
        &c,
        "UPDATE tickets t SET sla_due_us = COALESCE(u.due, t.sla_due_us), \
           sla_check_us = CASE WHEN u.chk IS NOT NULL AND (t.sla_check_us IS NULL OR t.sla_check_us > \
                                 (CASE WHEN t.sla_lease_us IS NOT NULL AND u.chk >= t.sla_lease_us THEN t.sla_lease_us - 1 ELSE u.chk END)) \
                               THEN (CASE WHEN t.sla_lease_us IS NOT NULL AND u.chk >= t.sla_lease_us THEN t.sla_lease_us - 1 ELSE u.chk END) \
                               ELSE t.sla_check_us END \
         FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[]) AS u(id, seq, due, chk) \
         WHERE t.id = u.id AND t.last_seq = u.seq",
        &[&ids, &seqs, &dues, &checks],
    )
    .await?;
    Ok(())
}

/// Schedules the ticket's SLA check at `at` unless one is already due earlier (in the
/// caller's transaction: every ticket write does this when SLAs are configured).
pub(crate) async fn schedule_check<C: GenericClient>(
    c: &C,
    id: i64,
    at: DateTime<Utc>,
) -> Result<()> {
    execute(
        c,
        // While a check is claimed, a time at or after its lease's end is stored as one
        // microsecond before that end (docs/sla.md, "How checks are scheduled").
        "UPDATE tickets SET sla_check_us = \
           CASE WHEN sla_lease_us IS NOT NULL AND $2::bigint >= sla_lease_us THEN sla_lease_us - 1 ELSE $2::bigint END \
         WHERE id = $1 AND (sla_check_us IS NULL OR sla_check_us > \
           CASE WHEN sla_lease_us IS NOT NULL AND $2::bigint >= sla_lease_us THEN sla_lease_us - 1 ELSE $2::bigint END)",
        &[&id, &at.timestamp_micros()],
    )
    .await?;
    Ok(())
}

pub(crate) async fn schedule_sla_check(s: &PgStore, id: i64, at: DateTime<Utc>) -> Result<()> {
    let c = s.conn().await?;
    schedule_check(&c, id, at).await
}

pub(crate) async fn sla_check_at(s: &PgStore, id: i64) -> Result<Option<DateTime<Utc>>> {
    let c = s.conn().await?;
    Ok(
        query_opt(&c, "SELECT sla_check_us FROM tickets WHERE id = $1", &[&id])
            .await?
            .and_then(|r| r.get::<_, Option<i64>>(0))
            .and_then(DateTime::<Utc>::from_timestamp_micros),
    )
}

/// Due checks no other worker holds, in time order, through the partial index; rows another
/// transaction has locked (a worker claiming them, a ticket write) are skipped, and a held
/// lease (a check still running) keeps its ticket out until it ends.
pub(crate) async fn claim_sla_checks(
    s: &PgStore,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    max: i64,
) -> Result<Vec<i64>> {
    if max <= 0 {
        return Ok(Vec::new());
    }
    let c = s.conn().await?;
    let rows = query(
        &c,
        "UPDATE tickets t SET sla_check_us = $2, sla_lease_us = $2 \
         FROM (SELECT id FROM tickets \
               WHERE sla_check_us <= $1 AND (sla_lease_us IS NULL OR sla_lease_us <= $1) \
               ORDER BY sla_check_us LIMIT $3 FOR UPDATE SKIP LOCKED) AS due \
         WHERE t.id = due.id RETURNING t.id",
        &[
            &now.timestamp_micros(),
            &lease_until.timestamp_micros(),
            &max,
        ],
    )
    .await?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// Ends a claimed check: `sla_check_us` still at the lease's end means nothing was scheduled
/// meanwhile (the next check is `next`); otherwise the earlier of the two stays.
pub(crate) async fn finish_sla_check(
    s: &PgStore,
    id: i64,
    lease_until: DateTime<Utc>,
    next: Option<DateTime<Utc>>,
) -> Result<()> {
    let c = s.conn().await?;
    execute(
        &c,
        "UPDATE tickets SET sla_lease_us = NULL, sla_check_us = CASE \
           WHEN sla_check_us = $2 THEN $3 \
           WHEN $3::bigint IS NOT NULL AND $3 < sla_check_us THEN $3 \
           ELSE sla_check_us END \
         WHERE id = $1 AND sla_lease_us = $2",
        &[
            &id,
            &lease_until.timestamp_micros(),
            &next.map(|t| t.timestamp_micros()),
        ],
    )
    .await?;
    Ok(())
}
