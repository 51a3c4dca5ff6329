//! Knowledge-base self-service storage: raw events with daily roll-ups (written in the same
//! transaction), deflection sessions, auto-reply tokens, and the analytics counts (roll-ups
//! by day range; sessions and auto-replies by their indexed day). See tend-store's
//! `kb_analytics` for what each piece means.

use crate::conv::{time, to_json, us};
use crate::{db, SqliteStore};
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension};
use tend_core::kb_analytics::{day_of, SESSION_IDLE_MINUTES};
use tend_core::ticket::Patch;
use tend_core::{Actor, Role, Status, Viewer};
use tend_store::kb_analytics::*;
use tend_store::{Result, StoreError};

const DAY_US: i64 = 86_400_000_000;

fn bump(c: &Connection, day: i64, metric: &str, source: &str, article: i64, n: i64) -> Result<()> {
    c.prepare_cached(
        "INSERT INTO kb_daily(day, metric, source, article_id, n) VALUES (?1, ?2, ?3, ?4, ?5) \
         ON CONFLICT(day, metric, source, article_id) DO UPDATE SET n = n + excluded.n",
    )
    .map_err(db)?
    .execute(params![day, metric, source, article, n])
    .map_err(db)?;
    Ok(())
}

fn event(c: &Connection, ev: &KbTrack, now: DateTime<Utc>) -> Result<()> {
    let query = (!ev.query.is_empty()).then_some(ev.query.as_str());
    c.prepare_cached(
        "INSERT INTO kb_events(at, kind, source, article_id, query, hits) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )
    .map_err(db)?
    .execute(params![us(now), ev.kind, ev.source, ev.article_id, query, ev.hits])
    .map_err(db)?;
    let day = day_of(now);
    bump(c, day, ev.kind, ev.source, 0, 1)?;
    if let Some(a) = ev.article_id {
        bump(c, day, ev.kind, ev.source, a, 1)?;
    }
    if ev.kind == "search" && ev.hits == Some(0) {
        bump(c, day, "zero", ev.source, 0, 1)?;
        if !ev.query.is_empty() {
            c.prepare_cached(
                "INSERT INTO kb_gaps(day, query, n) VALUES (?1, ?2, 1) \
                 ON CONFLICT(day, query) DO UPDATE SET n = n + 1",
            )
            .map_err(db)?
            .execute(params![day, ev.query])
            .map_err(db)?;
        }
    }
    Ok(())
}

fn session_row(r: &rusqlite::Row) -> rusqlite::Result<DeflectSession> {
    Ok(DeflectSession {
        session: r.get(0)?,
        source: r.get(1)?,
        started_at: time(r.get(2)?),
        last_at: time(r.get(3)?),
        query: r.get(4)?,
        hits: r.get(5)?,
        asked: r.get(6)?,
        clicks: r.get(7)?,
        ticket_id: r.get(8)?,
    })
}

fn auto_row(r: &rusqlite::Row) -> rusqlite::Result<AutoReply> {
    let ids: String = r.get(1)?;
    Ok(AutoReply {
        ticket_id: r.get(0)?,
        article_ids: serde_json::from_str(&ids).unwrap_or_default(),
        sent_at: time(r.get(2)?),
        used_at: r.get::<_, Option<i64>>(3)?.map(time),
    })
}

impl SqliteStore {
    pub(crate) async fn kb_track_impl(&self, ev: KbTrack, now: DateTime<Utc>) -> Result<()> {
        self.write(move |c| event(c, &ev, now)).await
    }

    pub(crate) async fn kb_deflect_suggested_impl(
        &self,
        seen: SuggestSeen,
        now: DateTime<Utc>,
    ) -> Result<()> {
        if !valid_session(&seen.session) {
            return Err(StoreError::invalid("session", "not a session id"));
        }
        self.write(move |c| {
            c.prepare_cached(
                "INSERT INTO kb_deflect_sessions(session, source, day, started_at, last_at, query, hits) \
                 VALUES (?1, ?2, ?3, ?4, ?4, ?5, ?6) \
                 ON CONFLICT(session) DO UPDATE SET last_at = excluded.last_at, query = excluded.query, \
                 hits = excluded.hits, asked = asked + 1",
            )
            .map_err(db)?
            .execute(params![seen.session, seen.source, day_of(now), us(now), seen.query, seen.hits])
            .map_err(db)?;
            Ok(())
        })
        .await
    }

    pub(crate) async fn kb_deflect_clicked_impl(
        &self,
        session: String,
        article_id: i64,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        self.write(move |c| {
            let n = c
                .prepare_cached(
                    "UPDATE kb_deflect_sessions SET clicks = clicks + 1, last_at = ?2 WHERE session = ?1",
                )
                .map_err(db)?
                .execute(params![session, us(now)])
                .map_err(db)?;
            if n == 0 {
                return Ok(false);
            }
            event(c, &KbTrack::article("click", "suggest", article_id), now)?;
            Ok(true)
        })
        .await
    }

    pub(crate) async fn kb_customer_ticket_impl(
        &self,
        source: &'static str,
        session: Option<String>,
        ticket_id: i64,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.write(move |c| {
            event(c, &KbTrack::ticket(source), now)?;
            if let Some(s) = session {
                c.prepare_cached(
                    "UPDATE kb_deflect_sessions SET ticket_id = ?2, last_at = ?3 WHERE session = ?1 AND ticket_id IS NULL",
                )
                .map_err(db)?
                .execute(params![s, ticket_id, us(now)])
                .map_err(db)?;
            }
            Ok(())
        })
        .await
    }

    pub(crate) async fn kb_deflect_session_impl(
        &self,
        session: String,
    ) -> Result<Option<DeflectSession>> {
        self.read(move |c| {
            c.prepare_cached(
                "SELECT session, source, started_at, last_at, query, hits, asked, clicks, ticket_id \
                 FROM kb_deflect_sessions WHERE session = ?1",
            )
            .map_err(db)?
            .query_row([session], session_row)
            .optional()
            .map_err(db)
        })
        .await
    }

    pub(crate) async fn kb_auto_reply_issue_impl(
        &self,
        ticket_id: i64,
        token_hash: Vec<u8>,
        article_ids: Vec<i64>,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        self.write(move |c| {
            let used: Option<Option<i64>> = c
                .prepare_cached("SELECT used_at FROM kb_auto_replies WHERE ticket_id = ?1")
                .map_err(db)?
                .query_row([ticket_id], |r| r.get(0))
                .optional()
                .map_err(db)?;
            match used {
                Some(Some(_)) => Ok(false),
                Some(None) => {
                    c.execute(
                        "UPDATE kb_auto_replies SET token_hash = ?2, article_ids = ?3 WHERE ticket_id = ?1",
                        params![ticket_id, token_hash, to_json(&article_ids)],
                    )
                    .map_err(db)?;
                    Ok(true)
                }
                None => {
                    c.execute(
                        "INSERT INTO kb_auto_replies(ticket_id, token_hash, article_ids, sent_at, sent_day) VALUES (?1, ?2, ?3, ?4, ?5)",
                        params![ticket_id, token_hash, to_json(&article_ids), us(now), day_of(now)],
                    )
                    .map_err(db)?;
                    Ok(true)
                }
            }
        })
        .await
    }

    pub(crate) async fn kb_auto_reply_by_token_impl(
        &self,
        token_hash: Vec<u8>,
    ) -> Result<Option<AutoReply>> {
        self.read(move |c| {
            c.prepare_cached(
                "SELECT ticket_id, article_ids, sent_at, used_at FROM kb_auto_replies WHERE token_hash = ?1",
            )
            .map_err(db)?
            .query_row([token_hash], auto_row)
            .optional()
            .map_err(db)
        })
        .await
    }

    pub(crate) async fn kb_auto_reply_solve_impl(
        &self,
        token_hash: Vec<u8>,
        now: DateTime<Utc>,
    ) -> Result<AutoReplySolve> {
        self.write(move |c| {
            let found = c
                .prepare_cached(
                    "SELECT ticket_id, article_ids, sent_at, used_at FROM kb_auto_replies WHERE token_hash = ?1",
                )
                .map_err(db)?
                .query_row([&token_hash], auto_row)
                .optional()
                .map_err(db)?;
            let Some(a) = found else {
                return Ok(AutoReplySolve::Unknown);
            };
            if let Some(at) = a.used_at {
                return Ok(AutoReplySolve::AlreadyUsed {
                    ticket_id: a.ticket_id,
                    at,
                });
            }
            let ticket: Option<(i64, String)> = c
                .prepare_cached("SELECT requester_id, status FROM tickets WHERE id = ?1")
                .map_err(db)?
                .query_row([a.ticket_id], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()
                .map_err(db)?;
            // Never reopen or re-solve a ticket that is already done.
            if ticket
                .as_ref()
                .is_some_and(|(_, st)| st == "solved" || st == "closed")
            {
                return Ok(AutoReplySolve::AlreadyClosed {
                    ticket_id: a.ticket_id,
                });
            }
            c.execute(
                "UPDATE kb_auto_replies SET used_at = ?2, used_day = ?3 WHERE ticket_id = ?1 AND used_at IS NULL",
                params![a.ticket_id, us(now), day_of(now)],
            )
            .map_err(db)?;
            let system = Viewer {
                agent_id: 0,
                role: Role::Admin,
                group_ids: vec![],
            };
            let Some((requester, _)) = ticket else {
                // The ticket is gone (deleted or merged away): the token is spent, nothing
                // to solve.
                return Ok(AutoReplySolve::AlreadyUsed {
                    ticket_id: a.ticket_id,
                    at: now,
                });
            };
            crate::tickets::update_ticket_tx(
                c,
                a.ticket_id,
                Patch {
                    status: Some(Status::Solved),
                    ..Default::default()
                },
                &system,
                Actor::customer(requester),
                now,
            )?;
            Ok(AutoReplySolve::Solved {
                ticket_id: a.ticket_id,
            })
        })
        .await
    }

    pub(crate) async fn kb_analytics_impl(&self, q: KbAnalyticsQuery) -> Result<KbAnalyticsData> {
        self.read(move |c| {
            let mut f = Fold::default();
            let (from, to) = (q.from_day, q.to_day);
            let mut st = c
                .prepare_cached(
                    "SELECT day, metric, source, SUM(n) FROM kb_daily WHERE day BETWEEN ?1 AND ?2 AND article_id = 0 GROUP BY day, metric, source",
                )
                .map_err(db)?;
            let mut rows = st.query(params![from, to]).map_err(db)?;
            while let Some(r) = rows.next().map_err(db)? {
                let (day, metric, source, n): (i64, String, String, i64) =
                    (r.get(0).map_err(db)?, r.get(1).map_err(db)?, r.get(2).map_err(db)?, r.get(3).map_err(db)?);
                f.daily(day, &metric, &source, n);
            }
            let mut st = c
                .prepare_cached(
                    "SELECT article_id, metric, SUM(n) FROM kb_daily WHERE day BETWEEN ?1 AND ?2 AND article_id > 0 GROUP BY article_id, metric",
                )
                .map_err(db)?;
            let mut rows = st.query(params![from, to]).map_err(db)?;
            while let Some(r) = rows.next().map_err(db)? {
                let (a, metric, n): (i64, String, i64) =
                    (r.get(0).map_err(db)?, r.get(1).map_err(db)?, r.get(2).map_err(db)?);
                f.article(a, &metric, n);
            }
            let mut st = c
                .prepare_cached(
                    "SELECT article_id, helpful, COUNT(*) FROM kb_feedback WHERE at >= ?1 AND at < ?2 GROUP BY article_id, helpful",
                )
                .map_err(db)?;
            let mut rows = st.query(params![from * DAY_US, (to + 1) * DAY_US]).map_err(db)?;
            while let Some(r) = rows.next().map_err(db)? {
                f.feedback(r.get(0).map_err(db)?, r.get(1).map_err(db)?, r.get(2).map_err(db)?);
            }
            let cut = us(q.now) - SESSION_IDLE_MINUTES * 60_000_000;
            let mut st = c
                .prepare_cached(
                    "SELECT day, clicks > 0, ticket_id IS NOT NULL, hits = 0, last_at <= ?3, COUNT(*) FROM kb_deflect_sessions \
                     WHERE day BETWEEN ?1 AND ?2 GROUP BY 1, 2, 3, 4, 5",
                )
                .map_err(db)?;
            let mut rows = st.query(params![from, to, cut]).map_err(db)?;
            while let Some(r) = rows.next().map_err(db)? {
                f.sessions(
                    r.get(0).map_err(db)?,
                    r.get(1).map_err(db)?,
                    r.get(2).map_err(db)?,
                    r.get(3).map_err(db)?,
                    r.get(4).map_err(db)?,
                    r.get(5).map_err(db)?,
                );
            }
            for (sql, sent) in [
                ("SELECT sent_day, COUNT(*) FROM kb_auto_replies WHERE sent_day BETWEEN ?1 AND ?2 GROUP BY 1", true),
                ("SELECT used_day, COUNT(*) FROM kb_auto_replies WHERE used_day BETWEEN ?1 AND ?2 GROUP BY 1", false),
            ] {
                let mut st = c.prepare_cached(sql).map_err(db)?;
                let mut rows = st.query(params![from, to]).map_err(db)?;
                while let Some(r) = rows.next().map_err(db)? {
                    let (day, n): (i64, i64) = (r.get(0).map_err(db)?, r.get(1).map_err(db)?);
                    if sent {
                        f.auto_replies_sent(day, n);
                    } else {
                        f.auto_replies_solved(day, n);
                    }
                }
            }
            for sql in [
                "SELECT query, SUM(n) FROM kb_gaps WHERE day BETWEEN ?1 AND ?2 GROUP BY query ORDER BY 2 DESC LIMIT ?3",
                "SELECT query, COUNT(*) FROM kb_deflect_sessions WHERE day BETWEEN ?1 AND ?2 AND hits = 0 AND query <> '' GROUP BY query ORDER BY 2 DESC LIMIT ?3",
            ] {
                let mut st = c.prepare_cached(sql).map_err(db)?;
                let mut rows = st.query(params![from, to, GAP_READ_MAX]).map_err(db)?;
                while let Some(r) = rows.next().map_err(db)? {
                    f.gap(r.get(0).map_err(db)?, r.get(1).map_err(db)?);
                }
            }
            Ok(f.finish(q.top))
        })
        .await
    }
}
