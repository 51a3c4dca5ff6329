//! The e-mail channel.
//!
//! - [`intake`]: one received mail → stored outcome (used by the SMTP listener, the IMAP
//!   poller, `tend mail ingest`).
//! - [`smtp`]: the built-in SMTP listener.
//! - [`imap`]: the IMAP poller.
//! - [`outbound`]: agent replies and acknowledgements, rendered when their job runs.
//! - here: queued mail (`mail.send` jobs) and the one function that sends through the SMTP relay
//!   (lettre), retried with backoff like every job. Without a relay configured, a message is
//!   written to the log instead (so a developer can still follow a sign-in link).

pub mod imap;
pub mod intake;
pub mod outbound;
pub mod smtp;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde::{Deserialize, Serialize};
use tend_core::Actor;
use tend_mail::OutboundHeaders;
use tend_store::{NewJob, Store};

pub const MAIL_JOB: &str = "mail.send";
/// The setting that holds the key of ticket tokens (hex), made on first use.
pub const SECRET_SETTING: &str = "mail.secret";

#[derive(Debug, Clone)]
pub struct MailConfig {
    /// `smtp://host:port` (plain, e.g. a local relay), `smtp://host:587?tls=required`, or `smtps://host:465`.
    pub smtp_url: Option<String>,
    pub from: String,
    /// Where Tend is reachable, for links in mails (e.g. https://support.example.com).
    pub base_url: String,
    secret: Arc<tokio::sync::OnceCell<Vec<u8>>>,
}

impl Default for MailConfig {
    fn default() -> Self {
        MailConfig::new(
            None,
            "Tend <support@localhost>".into(),
            "http://127.0.0.1:8080".into(),
        )
    }
}

impl MailConfig {
    pub fn new(smtp_url: Option<String>, from: String, base_url: String) -> MailConfig {
        MailConfig {
            smtp_url,
            from,
            base_url,
            secret: Arc::new(tokio::sync::OnceCell::new()),
        }
    }

    /// The key of ticket tokens: read from the settings, made (32 random bytes) if missing.
    pub async fn secret(&self, store: &dyn Store) -> Result<Vec<u8>, tend_store::StoreError> {
        self.secret
            .get_or_try_init(|| async {
                if let Some(v) = store.get_setting(SECRET_SETTING).await? {
                    if let Some(b) = v.as_str().and_then(|h| hex::decode(h).ok()) {
                        return Ok(b);
                    }
                }
                let fresh: [u8; 32] = rand::random();
                store
                    .put_setting(
                        SECRET_SETTING,
                        serde_json::Value::String(hex::encode(fresh)),
                        Actor::SYSTEM,
                        Utc::now(),
                    )
                    .await?;
                // Another server may have written first: use what is stored.
                let v = store.get_setting(SECRET_SETTING).await?;
                Ok(v.and_then(|v| v.as_str().and_then(|h| hex::decode(h).ok()))
                    .unwrap_or(fresh.to_vec()))
            })
            .await
            .cloned()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct OutAttachment {
    pub filename: String,
    pub content_type: String,
    pub data: Vec<u8>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct OutMail {
    pub to: String,
    #[serde(default)]
    pub cc: Vec<String>,
    /// Sender; the configured `from` when absent.
    #[serde(default)]
    pub from: Option<String>,
    pub subject: String,
    pub text: String,
    #[serde(default)]
    pub html: Option<String>,
    /// Threading and loop headers; the subject in them wins over `subject`.
    #[serde(default)]
    pub headers: Option<OutboundHeaders>,
    #[serde(skip)]
    pub attachments: Vec<OutAttachment>,
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

/// Sends one queued `mail.send` job. Errors are retried by the worker.
pub async fn send(cfg: &MailConfig, payload: &serde_json::Value) -> Result<(), String> {
    let m: OutMail =
        serde_json::from_value(payload.clone()).map_err(|e| format!("bad mail job: {e}"))?;
    deliver(cfg, &m).await
}

fn one_line(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).collect()
}

fn raw_header(name: &'static str, value: &str) -> HeaderValue {
    HeaderValue::new(HeaderName::new_from_ascii_str(name), one_line(value))
}

/// The RFC 5322 message for `m`.
pub fn build(cfg: &MailConfig, m: &OutMail) -> Result<Message, String> {
    let from = m.from.as_deref().unwrap_or(&cfg.from);
    let from: Mailbox = from.parse().map_err(|e| format!("sender {from:?}: {e}"))?;
    let to: Mailbox =
        m.to.parse()
            .map_err(|e| format!("recipient {:?}: {e}", m.to))?;
    let mut b = Message::builder().from(from).to(to);
    for cc in &m.cc {
        if let Ok(mb) = cc.parse::<Mailbox>() {
            b = b.cc(mb);
        }
    }
    let subject = m
        .headers
        .as_ref()
        .map(|h| h.subject.as_str())
        .unwrap_or(&m.subject);
    b = b.subject(one_line(subject));
    if let Some(h) = &m.headers {
        b = b.message_id(Some(one_line(&h.message_id)));
        if let Some(v) = &h.in_reply_to {
            b = b.in_reply_to(one_line(v));
        }
        if let Some(v) = &h.references {
            b = b.references(one_line(v));
        }
        if let Ok(r) = h.reply_to.parse::<Mailbox>() {
            b = b.reply_to(r);
        }
        if let Ok(d) = chrono::DateTime::parse_from_rfc2822(&h.date) {
            b = b.date(std::time::SystemTime::from(d.with_timezone(&Utc)));
        }
        for (name, v) in [
            ("Auto-Submitted", &h.auto_submitted),
            ("List-Unsubscribe", &h.list_unsubscribe),
            ("List-Unsubscribe-Post", &h.list_unsubscribe_post),
            ("X-Auto-Response-Suppress", &h.x_auto_response_suppress),
        ] {
            if let Some(v) = v {
                b = b.raw_header(raw_header(name, v));
            }
        }
    }
    let text = SinglePart::builder()
        .header(ContentType::TEXT_PLAIN)
        .body(m.text.clone());
    let body = match &m.html {
        Some(h) => MultiPart::alternative().singlepart(text).singlepart(
            SinglePart::builder()
                .header(ContentType::TEXT_HTML)
                .body(h.clone()),
        ),
        None => MultiPart::mixed().singlepart(text),
    };
    let msg = if m.attachments.is_empty() {
        match &m.html {
            Some(_) => b.multipart(body),
            None => b.header(ContentType::TEXT_PLAIN).body(m.text.clone()),
        }
    } else {
        let mut mixed = MultiPart::mixed().multipart(body);
        for a in &m.attachments {
            let ct = ContentType::parse(&a.content_type)
                .unwrap_or(ContentType::parse("application/octet-stream").expect("static"));
            mixed =
                mixed.singlepart(Attachment::new(one_line(&a.filename)).body(a.data.clone(), ct));
        }
        b.multipart(mixed)
    };
    msg.map_err(|e| format!("building the mail: {e}"))
}

/// Sends one mail through the relay (or logs it when none is configured).
pub async fn deliver(cfg: &MailConfig, m: &OutMail) -> Result<(), String> {
    let Some(url) = &cfg.smtp_url else {
        tracing::warn!(to = %m.to, subject = %m.subject, body = %m.text, "no SMTP relay configured (set TEND_SMTP_URL); mail written to the log instead");
        return Ok(());
    };
    let msg = build(cfg, m)?;
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
