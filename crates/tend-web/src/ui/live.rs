//! Live updates: one task per node tails the event sequence and broadcasts which tickets
//! changed; each open ticket page listens over Server-Sent Events and reloads its timeline.
//! Presence (who else is viewing or typing) is kept per node in memory.

use super::Session;
use crate::{AppError, AppState};
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::Form;
use chrono::{DateTime, Duration, Utc};
use futures::Stream;
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::broadcast;

/// A ticket changed: its id and the event's sequence number.
#[derive(Debug, Clone, Copy)]
pub struct Changed {
    pub ticket_id: i64,
    pub seq: i64,
}

#[derive(Default)]
struct Viewer {
    name: String,
    seen: Option<DateTime<Utc>>,
    typing_until: Option<DateTime<Utc>>,
}

/// The live-update hub of one node.
pub struct Live {
    tx: broadcast::Sender<Changed>,
    presence: Mutex<HashMap<i64, HashMap<i64, Viewer>>>,
    closed: tokio::sync::watch::Sender<bool>,
}

impl Default for Live {
    fn default() -> Self {
        Live {
            tx: broadcast::channel(1024).0,
            presence: Mutex::default(),
            closed: tokio::sync::watch::channel(false).0,
        }
    }
}

impl Live {
    /// Ends every open stream (on shutdown, so connections can drain).
    pub fn close(&self) {
        let _ = self.closed.send(true);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Changed> {
        self.tx.subscribe()
    }

    pub fn publish(&self, c: Changed) {
        let _ = self.tx.send(c);
    }

    /// Tails the event log from its current end and publishes every change, until `stop`.
    pub async fn tail(
        self: Arc<Self>,
        store: Arc<dyn tend_store::Store>,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) {
        let mut after = store.last_seq().await.unwrap_or(0);
        loop {
            // Nobody has a ticket page open on this node: just keep up with the end of the log.
            if self.tx.receiver_count() == 0 {
                if let Ok(seq) = store.last_seq().await {
                    after = seq;
                }
            } else {
                match store.events_since(after, 500).await {
                    Ok(events) => {
                        for e in &events {
                            self.publish(Changed {
                                ticket_id: e.ticket_id,
                                seq: e.seq,
                            });
                            after = after.max(e.seq);
                        }
                        if events.len() == 500 {
                            continue;
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "live tail failed"),
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(std::time::Duration::from_millis(300)) => {}
                _ = stop.changed() => {}
            }
            if *stop.borrow() {
                break;
            }
        }
    }

    /// Records that an agent is on a ticket page (and maybe typing).
    pub fn heartbeat(&self, ticket: i64, agent: i64, name: &str, typing: bool, now: DateTime<Utc>) {
        let mut p = self.presence.lock().unwrap_or_else(|e| e.into_inner());
        let v = p.entry(ticket).or_default().entry(agent).or_default();
        v.name = name.to_string();
        v.seen = Some(now);
        if typing {
            v.typing_until = Some(now + Duration::seconds(8));
        }
    }

    /// Agents connected to this node's live pages (a ticket page, or the operations page
    /// under ticket key 0) within the last 60 s.
    pub fn online_agents(&self, now: DateTime<Utc>) -> usize {
        let p = self.presence.lock().unwrap_or_else(|e| e.into_inner());
        let mut ids: Vec<i64> = p
            .values()
            .flat_map(|m| m.iter())
            .filter(|(_, v)| v.seen.is_some_and(|s| s > now - Duration::seconds(60)))
            .map(|(id, _)| *id)
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids.len()
    }

    pub fn leave(&self, ticket: i64, agent: i64) {
        let mut p = self.presence.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(m) = p.get_mut(&ticket) {
            m.remove(&agent);
        }
    }

    /// Others on the ticket within the last 30 s: "Marc (typing…)".
    pub fn others(&self, ticket: i64, me: i64, now: DateTime<Utc>) -> Vec<String> {
        let mut p = self.presence.lock().unwrap_or_else(|e| e.into_inner());
        let Some(m) = p.get_mut(&ticket) else {
            return vec![];
        };
        m.retain(|_, v| v.seen.is_some_and(|s| s > now - Duration::seconds(30)));
        let mut out: Vec<String> = m
            .iter()
            .filter(|(id, _)| **id != me)
            .map(|(_, v)| {
                if v.typing_until.is_some_and(|t| t > now) {
                    format!("{} (typing…)", v.name)
                } else {
                    v.name.clone()
                }
            })
            .collect();
        out.sort();
        out
    }
}

/// GET /tickets/{id}/live: `update` when the ticket changes, `presence` when others come and go.
pub async fn stream(
    State(s): State<AppState>,
    sess: Session,
    crate::extract::Id(id): crate::extract::Id,
) -> Result<Sse<impl Stream<Item = Result<Event, std::convert::Infallible>>>, AppError> {
    s.store.get_ticket(id, &sess.viewer).await?; // 404 unless visible
    let me = s.store.get_agent(sess.viewer.agent_id).await?;
    let live = s.live.clone();
    let clock = s.clock.clone();
    live.heartbeat(id, me.id, &me.name, false, clock.now());
    let mut rx = live.subscribe();
    let mut closed = live.closed.subscribe();
    let stream = async_stream(move |tx: tokio::sync::mpsc::Sender<Event>| async move {
        let mut last_presence = String::new();
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(2));
        loop {
            tokio::select! {
                msg = rx.recv() => match msg {
                    Ok(c) if c.ticket_id == id => {
                        if tx.send(Event::default().event("update").data(c.seq.to_string())).await.is_err() { break; }
                    }
                    Ok(_) => {}
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        if tx.send(Event::default().event("update").data("0")).await.is_err() { break; }
                    }
                    Err(broadcast::error::RecvError::Closed) => break,
                },
                _ = closed.changed() => break,
                _ = tick.tick() => {
                    let now = clock.now();
                    live.heartbeat(id, me.id, &me.name, false, now);
                    let others = live.others(id, me.id, now).join(", ");
                    if others != last_presence {
                        last_presence = others.clone();
                        if tx.send(Event::default().event("presence").data(others)).await.is_err() { break; }
                    }
                }
            }
        }
        live.leave(id, me.id);
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

/// Runs `f` as a task feeding a channel, and returns the channel as a stream.
fn async_stream<F, Fut>(f: F) -> impl Stream<Item = Result<Event, std::convert::Infallible>>
where
    F: FnOnce(tokio::sync::mpsc::Sender<Event>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    tokio::spawn(f(tx));
    futures::stream::unfold(
        rx,
        |mut rx| async move { rx.recv().await.map(|e| (Ok(e), rx)) },
    )
}

#[derive(Deserialize)]
pub struct Typing {
    csrf: String,
}

/// POST /tickets/{id}/typing: the agent is typing a reply (shown to others for 8 s).
pub async fn typing(
    State(s): State<AppState>,
    sess: Session,
    crate::extract::Id(id): crate::extract::Id,
    Form(f): Form<Typing>,
) -> Result<axum::http::StatusCode, AppError> {
    if !super::csrf_ok(&sess.token, &f.csrf) {
        return Err(AppError::Forbidden("bad CSRF token".into()));
    }
    s.store.get_ticket(id, &sess.viewer).await?;
    let me = s.store.get_agent(sess.viewer.agent_id).await?;
    s.live.heartbeat(id, me.id, &me.name, true, s.now());
    Ok(axum::http::StatusCode::NO_CONTENT)
}
