//! Outbound mail: messages are queued as durable jobs and sent by the worker through an SMTP
//! relay (lettre), retried with backoff like every job. Without a relay configured, a message
//! is written to the log instead (so a developer can still follow a sign-in link).

use chrono::{DateTime, Utc};
use lettre::message::{header::ContentType, Mailbox, MultiPart, SinglePart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde::{Deserialize, Serialize};
use tend_store::NewJob;

pub const MAIL_JOB: &str = "mail.send";

#[derive(Debug, Clone)]
pub struct MailConfig {
    /// `smtp://host:port` (plain, e.g. a local relay), `smtp://host:587?tls=required`, or `smtps://host:465`.
    pub smtp_url: Option<String>,
    pub from: String,
    /// Where Tend is reachable, for links in mails (e.g. https://support.example.com).
    pub base_url: String,
}

impl Default for MailConfig {
    fn default() -> Self {
        MailConfig {
            smtp_url: None,
            from: "Tend <support@localhost>".into(),
            base_url: "http://127.0.0.1:8080".into(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct OutMail {
    pub to: String,
    pub subject: String,
    pub text: String,
    #[serde(default)]
    pub html: Option<String>,
}

/// The job that sends `m` now.
pub fn job(m: &OutMail, now: DateTime<Utc>) -> NewJob {
    NewJob {
        kind: MAIL_JOB.into(),
        payload: serde_json::to_value(m).unwrap_or_default(),
        run_at: now,
        max_attempts: 10,
    }
}

/// Sends one queued mail. Errors are retried by the worker.
pub async fn send(cfg: &MailConfig, payload: &serde_json::Value) -> Result<(), String> {
    let m: OutMail =
        serde_json::from_value(payload.clone()).map_err(|e| format!("bad mail job: {e}"))?;
    let Some(url) = &cfg.smtp_url else {
        tracing::warn!(to = %m.to, subject = %m.subject, body = %m.text, "no SMTP relay configured (set TEND_SMTP_URL); mail written to the log instead");
        return Ok(());
    };
    let from: Mailbox = cfg
        .from
        .parse()
        .map_err(|e| format!("mail_from {:?}: {e}", cfg.from))?;
    let to: Mailbox =
        m.to.parse()
            .map_err(|e| format!("recipient {:?}: {e}", m.to))?;
    let subject: String = m.subject.chars().filter(|c| !c.is_control()).collect();
    let builder = Message::builder().from(from).to(to).subject(subject);
    let msg = match &m.html {
        Some(h) => builder.multipart(
            MultiPart::alternative()
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_PLAIN)
                        .body(m.text.clone()),
                )
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_HTML)
                        .body(h.clone()),
                ),
        ),
        None => builder.header(ContentType::TEXT_PLAIN).body(m.text.clone()),
    }
    .map_err(|e| format!("building the mail: {e}"))?;
    let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
        .map_err(|e| format!("TEND_SMTP_URL: {e}"))?
        .timeout(Some(std::time::Duration::from_secs(20)))
        .build();
    transport
        .send(msg)
        .await
        .map_err(|e| format!("SMTP: {e}"))?;
    Ok(())
}
