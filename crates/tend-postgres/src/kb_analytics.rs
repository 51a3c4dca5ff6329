//! Knowledge-base self-service storage: raw events with daily roll-ups (upserted in the same
//! transaction), deflection sessions, auto-reply tokens, and the analytics counts (roll-ups
//! by day range; sessions and auto-replies by their indexed day). See tend-store's
//! `kb_analytics` for what each piece means.
//!
//! Concurrency: roll-up rows are bumped with `INSERT … ON CONFLICT DO UPDATE`, so two
//! servers counting the same day never lose a count; using an auto-reply token is a
//! compare-and-set on `used_at IS NULL` with the ticket row locked, so two clicks solve once.

use crate::db::{execute, query, query_opt, us, DbExt};
use crate::tickets::{enqueue_webhooks, insert_events, load_ticket, save_ticket, schedule_sla};
use crate::PgStore;
use chrono::{DateTime, Duration, Utc};
use deadpool_postgres::GenericClient;
use tend_core::kb_analytics::{day_of, SESSION_IDLE_MINUTES};
use tend_core::ticket::{apply, diff, Patch};
use tend_core::{Actor, Change, Status};
use tend_store::kb_analytics::*;
use tend_store::{Result, StoreError};
use tokio_postgres::Row;

type Now = DateTime<Utc>;

async fn bump<C: GenericClient>(
    c: &C,
    day: i64,
    metric: &str,
    source: &str,
    article: i64,
) -> Result<()> {
    execute(
        c,
        "INSERT INTO kb_daily (day, metric, source, article_id, n) VALUES ($1, $2, $3, $4, 1) \
         ON CONFLICT (day, metric, source, article_id) DO UPDATE SET n = kb_daily.n + 1",
        &[&day, &metric, &source, &article],
    )
    .await?;
    Ok(())
}

async fn event<C: GenericClient>(c: &C, ev: &KbTrack, now: Now) -> Result<()> {
    let query_text = (!ev.query.is_empty()).then_some(ev.query.as_str());
    execute(
        c,
        "INSERT INTO kb_events (at, kind, source, article_id, query, hits) VALUES ($1, $2, $3, $4, $5, $6)",
        &[&us(now), &ev.kind, &ev.source, &ev.article_id, &query_text, &ev.hits],
    )
    .await?;
    let day = day_of(now);
    bump(c, day, ev.kind, ev.source, 0).await?;
    if let Some(a) = ev.article_id {
        bump(c, day, ev.kind, ev.source, a).await?;
    }
    if ev.kind == "search" && ev.hits == Some(0) {
        bump(c, day, "zero", ev.source, 0).await?;
        if !ev.query.is_empty() {
            execute(
                c,
                "INSERT INTO kb_gaps (day, query, n) VALUES ($1, $2, 1) \
                 ON CONFLICT (day, query) DO UPDATE SET n = kb_gaps.n + 1",
                &[&day, &ev.query],
            )
            .await?;
        }
    }
    Ok(())
}

fn session_row(r: &Row) -> DeflectSession {
    DeflectSession {
        session: r.get(0),
        source: r.get(1),
        started_at: r.get(2),
        last_at: r.get(3),
        query: r.get(4),
        hits: r.get(5),
        asked: r.get(6),
        clicks: r.get(7),
        ticket_id: r.get(8),
    }
}

fn auto_row(r: &Row) -> AutoReply {
    let ids: String = r.get(1);
    AutoReply {
        ticket_id: r.get(0),
        article_ids: serde_json::from_str(&ids).unwrap_or_default(),
        sent_at: r.get(2),
        used_at: r.get(3),
    }
}

pub(crate) async fn track(s: &PgStore, ev: KbTrack, now: Now) -> Result<()> {
    let mut c = s.conn().await?;
    let tx = c.transaction().await.db()?;
    event(&tx, &ev, now).await?;
    tx.commit().await.db()
}

pub(crate) async fn suggested(s: &PgStore, seen: SuggestSeen, now: Now) -> Result<()> {
    if !valid_session(&seen.session) {
        return Err(StoreError::invalid("session", "not a session id"));
    }
    let c = s.conn().await?;
    execute(
        &c,
        "INSERT INTO kb_deflect_sessions (session, source, day, started_at, last_at, query, hits) \
         VALUES ($1, $2, $3, $4, $4, $5, $6) \
         ON CONFLICT (session) DO UPDATE SET last_at = excluded.last_at, query = excluded.query, \
         hits = excluded.hits, asked = kb_deflect_sessions.asked + 1",
        &[
            &seen.session,
            &seen.source,
            &day_of(now),
            &us(now),
            &seen.query,
            &seen.hits,
        ],
    )
    .await?;
    Ok(())
}

pub(crate) async fn clicked(s: &PgStore, session: &str, article_id: i64, now: Now) -> Result<bool> {
    let mut c = s.conn().await?;
    let tx = c.transaction().await.db()?;
    let n = execute(
        &tx,
        "UPDATE kb_deflect_sessions SET clicks = clicks + 1, last_at = $2 WHERE session = $1",
        &[&session, &us(now)],
    )
    .await?;
    if n == 0 {
        return Ok(false);
    }
    event(&tx, &KbTrack::article("click", "suggest", article_id), now).await?;
    tx.commit().await.db()?;
    Ok(true)
}

pub(crate) async fn customer_ticket(
    s: &PgStore,
    source: &'static str,
    session: Option<String>,
    ticket_id: i64,
    now: Now,
) -> Result<()> {
    let mut c = s.conn().await?;
    let tx = c.transaction().await.db()?;
    event(&tx, &KbTrack::ticket(source), now).await?;
    if let Some(sess) = session {
        execute(
            &tx,
            "UPDATE kb_deflect_sessions SET ticket_id = $2, last_at = $3 WHERE session = $1 AND ticket_id IS NULL",
            &[&sess, &ticket_id, &us(now)],
        )
        .await?;
    }
    tx.commit().await.db()
}

pub(crate) async fn session(s: &PgStore, session: &str) -> Result<Option<DeflectSession>> {
    let c = s.conn().await?;
    Ok(query_opt(
        &c,
        "SELECT session, source, started_at, last_at, query, hits, asked, clicks, ticket_id \
         FROM kb_deflect_sessions WHERE session = $1",
        &[&session],
    )
    .await?
    .as_ref()
    .map(session_row))
}

pub(crate) async fn auto_reply_issue(
    s: &PgStore,
    ticket_id: i64,
    token_hash: Vec<u8>,
    article_ids: Vec<i64>,
    now: Now,
) -> Result<bool> {
    let ids = serde_json::to_string(&article_ids).unwrap_or_else(|_| "[]".into());
    let c = s.conn().await?;
    // Insert, or replace the token of an unused one; a used one stays as it is.
    let n = execute(
        &c,
        "INSERT INTO kb_auto_replies (ticket_id, token_hash, article_ids, sent_at, sent_day) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (ticket_id) DO UPDATE SET token_hash = excluded.token_hash, article_ids = excluded.article_ids \
         WHERE kb_auto_replies.used_at IS NULL",
        &[&ticket_id, &token_hash, &ids, &us(now), &day_of(now)],
    )
    .await?;
    Ok(n > 0)
}

pub(crate) async fn auto_reply_by_token(
    s: &PgStore,
    token_hash: &[u8],
) -> Result<Option<AutoReply>> {
    let c = s.conn().await?;
    Ok(query_opt(
        &c,
        "SELECT ticket_id, article_ids, sent_at, used_at FROM kb_auto_replies WHERE token_hash = $1",
        &[&token_hash],
    )
    .await?
    .as_ref()
    .map(auto_row))
}

pub(crate) async fn auto_reply_solve(
    s: &PgStore,
    token_hash: &[u8],
    now: Now,
) -> Result<AutoReplySolve> {
    let now = us(now);
    let mut c = s.conn().await?;
    let tx = c.transaction().await.db()?;
    let Some(a) = query_opt(
        &tx,
        "SELECT ticket_id, article_ids, sent_at, used_at FROM kb_auto_replies WHERE token_hash = $1 FOR UPDATE",
        &[&token_hash],
    )
    .await?
    .as_ref()
    .map(auto_row) else {
        return Ok(AutoReplySolve::Unknown);
    };
    if let Some(at) = a.used_at {
        return Ok(AutoReplySolve::AlreadyUsed {
            ticket_id: a.ticket_id,
            at,
        });
    }
    let loaded = load_ticket(&tx, a.ticket_id, true).await;
    // Never reopen or re-solve a ticket that is already done.
    if let Ok(t) = &loaded {
        if matches!(t.status, Status::Solved | Status::Closed) {
            return Ok(AutoReplySolve::AlreadyClosed {
                ticket_id: a.ticket_id,
            });
        }
    }
    execute(
        &tx,
        "UPDATE kb_auto_replies SET used_at = $2, used_day = $3 WHERE ticket_id = $1",
        &[&a.ticket_id, &now, &day_of(now)],
    )
    .await?;
    let mut t = match loaded {
        Ok(t) => t,
        Err(StoreError::NotFound(_)) => {
            // The ticket is gone: the token is spent, nothing to solve.
            tx.commit().await.db()?;
            return Ok(AutoReplySolve::AlreadyUsed {
                ticket_id: a.ticket_id,
                at: now,
            });
        }
        Err(e) => return Err(e),
    };
    let changes = diff(
        &t,
        &Patch {
            status: Some(Status::Solved),
            ..Default::default()
        },
    );
    if !changes.is_empty() {
        let who = Actor::customer(t.requester_id);
        let events: Vec<(Actor, Change, Now)> =
            changes.into_iter().map(|c| (who, c, now)).collect();
        let seqs = insert_events(&tx, t.id, &events).await?;
        for ((_, change, at), seq) in events.iter().zip(&seqs) {
            apply(&mut t, change, *seq, *at);
        }
        save_ticket(&tx, &t).await?;
        let kinds: Vec<(i64, &str)> = seqs
            .iter()
            .zip(&events)
            .map(|(seq, (_, c, _))| (*seq, c.kind()))
            .collect();
        enqueue_webhooks(&tx, &kinds, now).await?;
        schedule_sla(&tx, t.id, now).await?;
    }
    tx.commit().await.db()?;
    Ok(AutoReplySolve::Solved {
        ticket_id: a.ticket_id,
    })
}

pub(crate) async fn analytics(s: &PgStore, q: KbAnalyticsQuery) -> Result<KbAnalyticsData> {
    let c = s.conn().await?;
    let mut f = Fold::default();
    let (from, to) = (q.from_day, q.to_day);
    for r in query(
        &c,
        "SELECT day, metric, source, SUM(n)::BIGINT FROM kb_daily WHERE day BETWEEN $1 AND $2 AND article_id = 0 GROUP BY day, metric, source",
        &[&from, &to],
    )
    .await?
    {
        f.daily(r.get(0), r.get(1), r.get(2), r.get(3));
    }
    for r in query(
        &c,
        "SELECT article_id, metric, SUM(n)::BIGINT FROM kb_daily WHERE day BETWEEN $1 AND $2 AND article_id > 0 GROUP BY article_id, metric",
        &[&from, &to],
    )
    .await?
    {
        f.article(r.get(0), r.get(1), r.get(2));
    }
    let start = DateTime::<Utc>::UNIX_EPOCH + Duration::days(from);
    let end = DateTime::<Utc>::UNIX_EPOCH + Duration::days(to + 1);
    for r in query(
        &c,
        "SELECT article_id, helpful, count(*) FROM kb_feedback WHERE at >= $1 AND at < $2 GROUP BY article_id, helpful",
        &[&start, &end],
    )
    .await?
    {
        f.feedback(r.get(0), r.get(1), r.get(2));
    }
    let cut = us(q.now) - Duration::minutes(SESSION_IDLE_MINUTES);
    for r in query(
        &c,
        "SELECT day, clicks > 0, ticket_id IS NOT NULL, hits = 0, last_at <= $3, count(*) FROM kb_deflect_sessions \
         WHERE day BETWEEN $1 AND $2 GROUP BY 1, 2, 3, 4, 5",
        &[&from, &to, &cut],
    )
    .await?
    {
        f.sessions(r.get(0), r.get(1), r.get(2), r.get(3), r.get(4), r.get(5));
    }
    for r in query(
        &c,
        "SELECT sent_day, count(*) FROM kb_auto_replies WHERE sent_day BETWEEN $1 AND $2 GROUP BY 1",
        &[&from, &to],
    )
    .await?
    {
        f.auto_replies_sent(r.get(0), r.get(1));
    }
    for r in query(
        &c,
        "SELECT used_day, count(*) FROM kb_auto_replies WHERE used_day BETWEEN $1 AND $2 GROUP BY 1",
        &[&from, &to],
    )
    .await?
    {
        f.auto_replies_solved(r.get(0), r.get(1));
    }
    for sql in [
        "SELECT query, SUM(n)::BIGINT FROM kb_gaps WHERE day BETWEEN $1 AND $2 GROUP BY query ORDER BY 2 DESC LIMIT $3",
        "SELECT query, count(*) FROM kb_deflect_sessions WHERE day BETWEEN $1 AND $2 AND hits = 0 AND query <> '' GROUP BY query ORDER BY 2 DESC LIMIT $3",
    ] {
        for r in query(&c, sql, &[&from, &to, &GAP_READ_MAX]).await? {
            f.gap(r.get(0), r.get(1));
        }
    }
    Ok(f.finish(q.top))
}
