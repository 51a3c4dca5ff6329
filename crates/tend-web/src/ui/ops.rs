//! /ops: the live operations dashboard for supervisors and admins — open and unassigned
//! tickets, SLA clocks at risk, agents online, and today's volume against the same weekday
//! of the last weeks. Rendered on the server, then kept current over Server-Sent Events
//! (`/ops/live`, a `counts` event with the JSON of `/ops/data`) by a small embedded script.
//!
//! Every count comes from an index: open / unassigned / SLA from `tickets` (status,
//! sla_due_us), volume from the hourly report roll-ups — never from the event table.

use super::pages::{nav, Nav};
use super::{render, Session};
use crate::{AppError, AppState};
use askama::Template;
use axum::extract::{Query, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use futures::Stream;
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;
use tend_core::ops::{hours_needed, today_volume, TodayVolume};
use tend_store::metrics::OpsCounts;

/// "At risk": an SLA clock due within this many minutes.
pub const AT_RISK_MINUTES: i64 = 60;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/ops", get(page))
        .route("/ops/data", get(data))
        .route("/ops/live", get(live))
        .route(
            "/assets/ops.js",
            get(|| async { super::asset("text/javascript", JS) }),
        )
}

const JS: &str = r#"(function () {
  var root = document.querySelector('[data-ops-live]');
  if (!root || !window.EventSource) return;
  var status = document.getElementById('ops-status');
  function set(key, v) {
    document.querySelectorAll('[data-ops="' + key + '"]').forEach(function (el) {
      var text = (v === null || v === undefined) ? '—' : String(v);
      el.setAttribute('value', v === null || v === undefined ? '' : String(v));
      if (el.textContent !== text) { el.textContent = text; }
    });
  }
  var es = new EventSource(root.getAttribute('data-ops-live'));
  es.addEventListener('counts', function (e) {
    var d = JSON.parse(e.data);
    Object.keys(d).forEach(function (k) { if (typeof d[k] !== 'object' || d[k] === null) set(k, d[k]); });
    if (d.today) Object.keys(d.today).forEach(function (k) { if (typeof d.today[k] !== 'object') set('today.' + k, d.today[k]); });
    if (status) status.textContent = 'Live · updated ' + new Date().toLocaleTimeString();
  });
  es.onerror = function () { if (status) status.textContent = 'Reconnecting…'; };
})();
"#;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct OpsQuery {
    tz: Option<String>,
}

/// Whose tickets a snapshot counts. The dashboard is for supervisors and admins, who may
/// open every ticket, so there is one scope; a viewer limited to some tickets would need
/// its own scope (and counts restricted to it) — never another scope's snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OpsScope {
    All,
}

/// One computation of the numbers, shared by every viewer of its scope and zone.
pub struct Snapshot {
    /// When the computation started: it reflects every change before this instant.
    pub started: Instant,
    pub numbers: OpsNumbers,
}

/// The shared snapshots: per scope and zone, computed at most once per interval however
/// many viewers are watching (single-flight: concurrent misses wait for one computation).
#[derive(Default)]
pub struct Snapshots {
    flight: crate::flight::Flight<(OpsScope, Tz), Arc<Snapshot>>,
    computed: AtomicU64,
}

impl Snapshots {
    /// How many snapshots were computed.
    pub fn computed(&self) -> u64 {
        self.computed.load(Ordering::Relaxed)
    }
}

/// How old a snapshot may be when nothing changed (a periodic refresh or a first paint).
pub const SNAPSHOT_MAX_AGE: std::time::Duration = std::time::Duration::from_secs(1);

/// The scope of a viewer allowed on the dashboard (the live stream; `/ops` and `/ops/data`
/// count on each request).
fn scope_of(sess: &Session) -> OpsScope {
    debug_assert!(sess.viewer.sees_all());
    OpsScope::All
}

/// The numbers of `scope` in `tz` from a snapshot that started at or after `not_before`
/// (computed now, once for all waiting viewers, if there is none).
pub async fn snapshot(
    s: &AppState,
    scope: OpsScope,
    tz: Tz,
    not_before: Instant,
) -> Result<Arc<Snapshot>, AppError> {
    let now = s.now();
    s.ops_snapshots
        .flight
        .get_or_try(
            &(scope, tz),
            // Started after `not_before`, and not older than a second on the app's clock
            // either (SLA clocks and "today" move with it; tests move it).
            |snap| {
                snap.started >= not_before
                    && snap.numbers.at
                        >= now - chrono::Duration::from_std(SNAPSHOT_MAX_AGE).unwrap_or_default()
            },
            || async {
                let started = Instant::now();
                let numbers = numbers(s, tz).await?;
                s.ops_snapshots.computed.fetch_add(1, Ordering::Relaxed);
                Ok(Arc::new(Snapshot { started, numbers }))
            },
        )
        .await
}

/// An instant `SNAPSHOT_MAX_AGE` ago (or the oldest one representable).
fn recent() -> Instant {
    let now = Instant::now();
    now.checked_sub(SNAPSHOT_MAX_AGE).unwrap_or(now)
}

/// The dashboard's numbers at one instant.
pub struct OpsNumbers {
    pub counts: OpsCounts,
    pub online: usize,
    pub volume: TodayVolume,
    pub tz: Tz,
    pub at: DateTime<Utc>,
}

impl OpsNumbers {
    pub fn json(&self) -> Value {
        let c = &self.counts;
        let v = &self.volume;
        json!({
            "open": c.open, "new": c.new, "pending": c.pending, "on_hold": c.on_hold,
            "unassigned": c.unassigned,
            "sla_breached": c.sla_breached, "sla_due_soon": c.sla_due_soon,
            "at_risk_minutes": AT_RISK_MINUTES,
            "agents_online": self.online,
            "today": {
                "day": v.day.to_string(),
                "created": v.today,
                "typical_so_far": v.typical_so_far,
                "typical_whole_day": v.typical_whole_day,
                "change_pct": v.change_pct,
                "weeks": v.weeks.iter().map(|w| json!({"day": w.day.to_string(), "so_far": w.so_far, "whole_day": w.whole_day})).collect::<Vec<_>>(),
            },
            "tz": self.tz.name(),
            "at": self.at,
        })
    }
}

async fn zone(s: &AppState, q: &OpsQuery) -> Result<Tz, AppError> {
    match &q.tz {
        Some(raw) if !raw.trim().is_empty() => raw.trim().parse().map_err(|_| {
            AppError::invalid(
                "tz",
                format!(
                    "'{}' is not an IANA time zone (e.g. Europe/Berlin, UTC)",
                    tend_core::truncate_for_message(raw)
                ),
            )
        }),
        _ => Ok(tend_store::metrics::MetricConfig::load(&*s.store)
            .await?
            .calendar
            .map_or(Tz::UTC, |c| c.time_zone())),
    }
}

/// Computes the numbers (indexed reads only).
pub async fn numbers(s: &AppState, tz: Tz) -> Result<OpsNumbers, AppError> {
    let now = s.now();
    let (a, b) = hours_needed(tz, now);
    let (counts, hours) = futures::try_join!(
        s.store
            .ops_counts(now, now + Duration::minutes(AT_RISK_MINUTES)),
        s.store.metric_created_by_hour(a, b),
    )?;
    Ok(OpsNumbers {
        counts,
        online: s.live.online_agents(now),
        volume: today_volume(tz, now, &hours),
        tz,
        at: now,
    })
}

fn require(sess: &Session) -> Result<(), AppError> {
    if sess.viewer.sees_all() {
        Ok(())
    } else {
        Err(AppError::Forbidden(
            "the operations dashboard is for supervisors and admins".into(),
        ))
    }
}

#[derive(Template)]
#[template(path = "ops.html")]
struct OpsPage {
    nav: Nav,
    n: OpsNumbers,
    live_url: String,
    weeks: Vec<(String, i64, i64)>,
}

impl OpsPage {
    fn opt(v: &Option<f64>) -> String {
        v.map(|v| v.to_string()).unwrap_or_default()
    }
    fn opt_text(v: &Option<f64>) -> String {
        v.map(|v| v.to_string()).unwrap_or_else(|| "—".into())
    }
}

/// `GET /ops`.
pub async fn page(
    State(s): State<AppState>,
    sess: Session,
    Query(q): Query<OpsQuery>,
) -> Result<Response, AppError> {
    require(&sess)?;
    let tz = zone(&s, &q).await?;
    let me = s.store.get_agent(sess.viewer.agent_id).await?;
    s.live.heartbeat(0, me.id, &me.name, false, s.now());
    let n = numbers(&s, tz).await?;
    let weeks = n
        .volume
        .weeks
        .iter()
        .map(|w| (w.day.to_string(), w.so_far, w.whole_day))
        .collect();
    let live_url = format!(
        "/ops/live?tz={}",
        form_urlencoded::byte_serialize(tz.name().as_bytes()).collect::<String>()
    );
    let page = OpsPage {
        nav: nav(&s, &sess, "/ops").await?,
        n,
        live_url,
        weeks,
    };
    Ok(render(&page))
}

/// `GET /ops/data`: the same numbers as JSON.
pub async fn data(
    State(s): State<AppState>,
    sess: Session,
    Query(q): Query<OpsQuery>,
) -> Result<Response, AppError> {
    require(&sess)?;
    let tz = zone(&s, &q).await?;
    // A request of its own: counted now (the shared snapshots serve the live viewers).
    Ok(axum::Json(numbers(&s, tz).await?.json()).into_response())
}

/// `GET /ops/live`: a `counts` event now, after ticket changes (at most one a second), and
/// every 15 s (SLA clocks run out and agents come and go without ticket events).
pub async fn live(
    State(s): State<AppState>,
    sess: Session,
    Query(q): Query<OpsQuery>,
) -> Result<Sse<impl Stream<Item = Result<Event, std::convert::Infallible>>>, AppError> {
    require(&sess)?;
    let tz = zone(&s, &q).await?;
    let me = s.store.get_agent(sess.viewer.agent_id).await?;
    let scope = scope_of(&sess);
    let mut rx = s.live.subscribe();
    let (tx, out) = tokio::sync::mpsc::channel::<Event>(8);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
        let mut dirty = true;
        // The first paint may use a snapshot up to a second old.
        let mut changed_at = recent();
        let mut quiet = 0u32;
        let mut last = String::new();
        loop {
            tokio::select! {
                msg = rx.recv() => match msg {
                    Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                        // The next snapshot must have started after the latest change.
                        changed_at = Instant::now();
                        dirty = true;
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                },
                _ = tick.tick() => {
                    s.live.heartbeat(0, me.id, &me.name, false, s.now());
                    quiet += 1;
                    if !(dirty || quiet >= 15) {
                        continue;
                    }
                    // After a change: a snapshot started after it (one viewer computes it,
                    // the others share it); else one at most a second old.
                    let not_before = if dirty { changed_at } else { recent() };
                    dirty = false;
                    quiet = 0;
                    let body = match snapshot(&s, scope, tz, not_before).await {
                        Ok(snap) => {
                            let mut j = snap.numbers.json();
                            // Only a change is sent: leave the instant out of the comparison.
                            j["at"] = Value::Null;
                            j.to_string()
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "ops numbers failed");
                            continue;
                        }
                    };
                    if body != last {
                        last = body.clone();
                        if tx.send(Event::default().event("counts").data(body)).await.is_err() {
                            break;
                        }
                    } else if tx.is_closed() {
                        break;
                    }
                }
            }
        }
        s.live.leave(0, me.id);
    });
    let stream =
        futures::stream::unfold(
            out,
            |mut rx| async move { rx.recv().await.map(|e| (Ok(e), rx)) },
        );
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}
