//! The background worker: leases due jobs from the durable queue and runs them.
//! A job whose worker dies is leased again when its lease runs out; failures retry with
//! exponential backoff and land in the dead letters after their last attempt.

use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;
use std::sync::Arc;
use tend_core::{Clock, Role, Viewer};
use tend_store::{Job, Store, WEBHOOK_JOB};

pub const LEASE: i64 = 60;
/// While serving, the metric roll-ups follow the event sequence at most once per this span.
/// A batch rewrites every roll-up row its tickets touch (one per grain and dimension
/// combination), so the cost lies in the number of batches more than in their size: when
/// jobs keep the worker ticking back to back (mail, triggers, SLA checks), a tail on every
/// tick would apply a handful of tickets per batch. Reports are at most this span (plus one
/// batch) behind the tickets.
pub const METRICS_TAIL_GAP: std::time::Duration = std::time::Duration::from_secs(1);

#[derive(Clone)]
pub struct Worker {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    http: reqwest::Client,
    id: String,
    mail: Arc<crate::mail::MailConfig>,
    /// Article search for the knowledge-base auto-reply (none: it is skipped).
    search: Option<Arc<tend_search::Search>>,
}

/// `Tend-Signature` header value: `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.
pub fn sign(secret: &str, t: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("hmac takes any key");
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// Checks a signature in constant time (for receivers, and our tests).
pub fn verify(secret: &str, header: &str, body: &[u8]) -> bool {
    let mut t = None;
    let mut v1 = None;
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", x)) => t = x.parse::<i64>().ok(),
            Some(("v1", x)) => v1 = hex::decode(x).ok(),
            _ => {}
        }
    }
    let (Some(t), Some(sig)) = (t, v1) else {
        return false;
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("hmac takes any key");
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.verify_slice(&sig).is_ok()
}

/// Delay before attempt `n + 1`: 10 s, 20 s, 40 s, … capped at 6 h.
pub fn backoff(attempts: i32) -> Duration {
    let secs = 10i64.saturating_mul(1i64 << attempts.clamp(0, 20).saturating_sub(1));
    Duration::seconds(secs.min(6 * 3600))
}

impl Worker {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Worker {
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .user_agent(concat!("Tend/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("http client");
        let id = format!("{}-{}", std::process::id(), rand::random::<u32>());
        Worker {
            store,
            clock,
            http,
            id,
            mail: Arc::new(crate::mail::MailConfig::default()),
            search: None,
        }
    }

    /// Sends mail through this configuration.
    pub fn with_mail(mut self, mail: Arc<crate::mail::MailConfig>) -> Worker {
        self.mail = mail;
        self
    }

    /// Finds articles for the knowledge-base auto-reply with this search.
    pub fn with_search(mut self, search: Option<Arc<tend_search::Search>>) -> Worker {
        self.search = search;
        self
    }

    /// Runs every job due now, after bringing the metric roll-ups up to date; returns how
    /// many ran.
    pub async fn tick(&self) -> Result<usize, tend_store::StoreError> {
        self.tick_with(true).await
    }

    async fn tick_with(&self, metrics: bool) -> Result<usize, tend_store::StoreError> {
        let now = self.clock.now();
        // Solves since the last tick become scheduled survey sends (one read when no survey
        // is active).
        if let Err(e) = crate::surveys::scan(&*self.store, now).await {
            tracing::error!(error = %e, "survey scan failed");
        }
        if metrics {
            self.tail_metrics(now).await;
        }
        let jobs = self
            .store
            .lease_jobs(&self.id, now, Duration::seconds(LEASE), 32)
            .await?;
        let n = jobs.len();
        for job in jobs {
            // A job that panics fails like one that returns an error (retried, then dead);
            // it never takes the worker — and every other kind of job — down with it.
            let result = match futures::FutureExt::catch_unwind(std::panic::AssertUnwindSafe(
                self.execute(&job),
            ))
            .await
            {
                Ok(r) => r,
                Err(p) => Err(format!(
                    "the job panicked: {}",
                    p.downcast_ref::<&str>()
                        .map(|s| s.to_string())
                        .or_else(|| p.downcast_ref::<String>().cloned())
                        .unwrap_or_default()
                )),
            };
            match result {
                Ok(()) => self.store.complete_job(job.id, &self.id).await?,
                Err(e) => {
                    let retry = (job.attempts < job.max_attempts)
                        .then(|| self.clock.now() + backoff(job.attempts));
                    tracing::warn!(job = job.id, kind = %job.kind, attempt = job.attempts, error = %e, dead = retry.is_none(), "job failed");
                    self.store.fail_job(job.id, &self.id, &e, retry).await?;
                }
            }
        }
        // SLA checks due now (issue 5): each ticket's next check is on its row, claimed
        // through an index on every tick, so a check runs within a poll of its time.
        let checks = crate::api::sla::run_due_checks(&*self.store, self.clock.now(), 32).await?;
        Ok(n + checks)
    }

    /// Metric roll-ups follow the event sequence (a bounded number of batches per call).
    async fn tail_metrics(&self, now: DateTime<Utc>) {
        match tend_store::metrics::tail(&*self.store, now, 8).await {
            Ok(o) if o.skipped > 0 => {
                tracing::warn!(
                    skipped = o.skipped,
                    "metrics: histories without a Created event"
                )
            }
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "metrics tail failed"),
        }
    }

    /// Ticks until `stop` resolves; idles briefly when nothing is due. The metric roll-ups
    /// are brought up to date at most once per [`METRICS_TAIL_GAP`].
    pub async fn run(self, mut stop: tokio::sync::watch::Receiver<bool>) {
        let mut last_tail: Option<std::time::Instant> = None;
        loop {
            let metrics = last_tail.is_none_or(|t| t.elapsed() >= METRICS_TAIL_GAP);
            if metrics {
                last_tail = Some(std::time::Instant::now());
            }
            let idle = match self.tick_with(metrics).await {
                Ok(0) => true,
                Ok(_) => false,
                Err(e) => {
                    tracing::error!(error = %e, "worker tick failed");
                    true
                }
            };
            if idle {
                tokio::select! {
                    _ = tokio::time::sleep(std::time::Duration::from_millis(500)) => {}
                    _ = stop.changed() => {}
                }
            }
            if *stop.borrow() {
                break;
            }
        }
    }

    async fn execute(&self, job: &Job) -> Result<(), String> {
        match job.kind.as_str() {
            WEBHOOK_JOB => self.deliver(job).await,
            crate::mail::MAIL_JOB => crate::mail::send(&self.mail, &job.payload).await,
            // Issue 4: sign-in and reset links, looked up off the request path.
            crate::portal::MAGIC_LINK_JOB => {
                let now = self.clock.now();
                crate::portal::send_magic_link(&*self.store, &self.mail, now, &job.payload).await
            }
            crate::ui::password::RESET_JOB => {
                let now = self.clock.now();
                crate::ui::password::run_reset_job(&*self.store, &self.mail, now, &job.payload)
                    .await
            }
            tend_store::MAIL_REPLY_JOB => {
                crate::mail::outbound::send_reply(&*self.store, &self.mail, &job.payload).await
            }
            tend_store::MAIL_ACK_JOB => {
                crate::mail::outbound::send_ack(&*self.store, &self.mail, &job.payload).await
            }
            // A per-ticket check queued before migration 0027 (checks are on the ticket row now).
            tend_store::SLA_JOB => {
                crate::api::sla::check_ticket(&*self.store, self.clock.now(), &job.payload).await
            }
            tend_store::SLA_RECOMPUTE_JOB => {
                let n = crate::api::sla::recompute(&*self.store, self.clock.now(), &job.payload)
                    .await?;
                tracing::info!(job = job.id, tickets = n, "SLA clocks re-checked");
                Ok(())
            }
            // Automatic assignment (issue 5; docs/routing.md).
            tend_store::routing::ASSIGN_JOB => {
                crate::routing::assign(&*self.store, self.clock.now(), &job.payload).await
            }
            tend_store::routing::DRAIN_JOB => {
                crate::routing::drain(&*self.store, self.clock.now()).await
            }
            tend_store::routing::RELEASE_JOB => {
                crate::routing::release(&*self.store, self.clock.now(), &job.payload).await
            }
            tend_store::triggers::TRIGGER_JOB => {
                crate::triggers::run(&*self.store, self.clock.now(), &job.payload).await
            }
            tend_store::triggers::SWEEP_JOB => {
                crate::triggers::sweep(&*self.store, self.clock.now()).await
            }
            // Issue 5: deferred notifications and automation webhook posts.
            tend_store::escalation::NOTIFY_JOB => {
                crate::escalation::run_notify(&*self.store, self.clock.now(), &job.payload).await
            }
            tend_store::escalation::ACTION_WEBHOOK_JOB => {
                crate::escalation::run_webhook(&self.http, self.clock.now(), job).await
            }
            tend_store::SURVEY_SEND_JOB => {
                let sent =
                    crate::surveys::send(&*self.store, &self.mail, self.clock.now(), &job.payload)
                        .await?;
                tracing::info!(job = job.id, outcome = ?sent, "survey send");
                Ok(())
            }
            tend_store::survey::SURVEY_REMIND_JOB => {
                let sent = crate::surveys::remind(
                    &*self.store,
                    &self.mail,
                    self.clock.now(),
                    &job.payload,
                )
                .await?;
                tracing::info!(job = job.id, outcome = ?sent, "survey reminder");
                Ok(())
            }
            tend_store::survey::SURVEY_ROUND_JOB => {
                let n = crate::surveys::round(&*self.store, &job.payload).await?;
                tracing::info!(job = job.id, sends = n, "relationship survey round");
                Ok(())
            }
            tend_store::survey::SURVEY_ORDER_JOB => {
                let n = crate::surveys::plan_order_sends(&*self.store, &job.payload).await?;
                tracing::info!(job = job.id, sends = n, "survey sends after an order event");
                Ok(())
            }
            tend_store::kb_analytics::KB_AUTO_REPLY_JOB => {
                let sent = crate::helpcenter::deflect::send_auto_reply(
                    &*self.store,
                    &self.mail,
                    self.search.as_ref(),
                    self.clock.now(),
                    &job.payload,
                )
                .await?;
                tracing::info!(job = job.id, outcome = ?sent, "knowledge-base auto-reply");
                Ok(())
            }
            crate::digest::DIGEST_JOB => {
                crate::digest::run(&*self.store, &self.mail, self.clock.now(), &job.payload).await
            }
            other => Err(format!("no handler for job kind {other}")),
        }
    }

    async fn deliver(&self, job: &Job) -> Result<(), String> {
        let hook_id = job.payload["webhook_id"]
            .as_i64()
            .ok_or("payload has no webhook_id")?;
        let seq = job.payload["seq"].as_i64().ok_or("payload has no seq")?;
        let hook = match self.store.get_webhook(hook_id).await {
            Ok(h) => h,
            Err(tend_store::StoreError::NotFound(_)) => return Ok(()), // deleted since: nothing to send
            Err(e) => return Err(e.to_string()),
        };
        if !hook.active {
            return Ok(());
        }
        let event = self
            .store
            .events_since(seq - 1, 1)
            .await
            .map_err(|e| e.to_string())?
            .into_iter()
            .find(|e| e.seq == seq)
            .ok_or("event not visible yet")?;
        let system = Viewer {
            agent_id: 0,
            role: Role::Admin,
            group_ids: vec![],
        };
        let ticket = self.store.get_ticket(event.ticket_id, &system).await.ok();
        let body = serde_json::to_vec(&json!({
            "id": format!("evt_{}", event.seq),
            "seq": event.seq,
            "kind": event.kind,
            "at": event.at,
            "actor": event.actor,
            "ticket_id": event.ticket_id,
            "change": event.change,
            "ticket": ticket,
        }))
        .map_err(|e| e.to_string())?;
        let now: DateTime<Utc> = self.clock.now();
        let resp = self
            .http
            .post(&hook.url)
            .header("content-type", "application/json")
            .header("tend-event", &event.kind)
            .header("tend-delivery", format!("{}-{}", job.id, job.attempts))
            .header("tend-signature", sign(&hook.secret, now.timestamp(), &body))
            .body(body)
            .send()
            .await
            .map_err(|e| format!("delivery to {} failed: {e}", hook.url))?;
        if resp.status().is_success() {
            Ok(())
        } else {
            Err(format!(
                "{} answered HTTP {}",
                hook.url,
                resp.status().as_u16()
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_verify_and_reject_tampering() {
        let s = sign("sekret-sekret-sekret", 1_700_000_000, b"{\"a\":1}");
        assert!(s.starts_with("t=1700000000,v1="));
        assert!(verify("sekret-sekret-sekret", &s, b"{\"a\":1}"));
        assert!(!verify("sekret-sekret-sekret", &s, b"{\"a\":2}"));
        assert!(!verify("other-secret-other", &s, b"{\"a\":1}"));
        assert!(!verify("sekret-sekret-sekret", "garbage", b""));
    }

    #[test]
    fn backoff_doubles_and_caps() {
        assert_eq!(backoff(1), Duration::seconds(10));
        assert_eq!(backoff(2), Duration::seconds(20));
        assert_eq!(backoff(4), Duration::seconds(80));
        assert_eq!(backoff(30), Duration::hours(6));
    }
}
