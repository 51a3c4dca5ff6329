//! Mail about a ticket, rendered when its job runs: an agent's public reply (`mail.reply`) and
//! the acknowledgement of a ticket opened by mail (`mail.ack`). The Message-ID is derived from
//! the message and its time, so a retried job sends the same Message-ID and the recipient's
//! client sees one mail.

use serde::Deserialize;
use tend_core::template::render;
use tend_core::{Role, Viewer};
use tend_mail::{outbound_headers, OutboundKind, ReplyContext};
use tend_store::mail::{MailMeta, OutboundContext};
use tend_store::Store;

use super::{deliver, MailConfig, OutAttachment, OutMail};

/// The setting holding admin-edited templates (`{"ack_subject": …, "ack_body": …}`).
pub const TEMPLATES_SETTING: &str = "mail.templates";

/// What acknowledgement templates may use.
pub const ACK_PLACEHOLDERS: &[&str] = &[
    "ticket.id",
    "ticket.subject",
    "ticket.status",
    "ticket.url",
    "customer.name",
    "customer.first_name",
    "customer.email",
];

pub const DEFAULT_ACK_SUBJECT: &str = "We received your request: {{ticket.subject}}";
pub const DEFAULT_ACK_BODY: &str = "Hello {{customer.first_name}},\n\nthank you for writing to us. Your request #{{ticket.id}} \"{{ticket.subject}}\" is with our team; we will answer as soon as we can.\n\nTo add something, simply reply to this mail.\n";

#[derive(Deserialize)]
struct Job {
    ticket_id: i64,
    message_id: Option<i64>,
}

fn system() -> Viewer {
    Viewer {
        agent_id: 0,
        role: Role::Admin,
        group_ids: vec![],
    }
}

/// Recipients: the requester's newest working address, and the CCs that do not bounce.
fn recipients(ctx: &OutboundContext) -> Option<(String, Vec<String>)> {
    let ok = |a: &String| !ctx.bounced.contains(&a.to_lowercase());
    let to = ctx.requester_emails.iter().rev().find(|a| ok(a))?.clone();
    let cc = ctx.cc.iter().filter(|a| ok(a)).cloned().collect();
    Some((to, cc))
}

fn support_address(cfg: &MailConfig, ctx: &OutboundContext) -> (String, String) {
    match &ctx.mailbox {
        Some(m) => {
            let from = if m.name.trim().is_empty() {
                m.address.clone()
            } else {
                format!("{} <{}>", m.name.replace(['<', '>', '"'], ""), m.address)
            };
            (m.address.clone(), from)
        }
        None => {
            let addr = cfg
                .from
                .rsplit_once('<')
                .map(|(_, a)| a.trim_end_matches('>').to_string())
                .unwrap_or_else(|| cfg.from.clone());
            (addr, cfg.from.clone())
        }
    }
}

/// Who a ticket's mail comes from, and the key of its tokens.
struct Sender {
    secret: Vec<u8>,
    /// The bare support address (Reply-To tokens are built on it).
    support: String,
    /// The From header.
    from: String,
    /// Right-hand side of our Message-IDs.
    domain: String,
}

async fn sender(
    store: &dyn Store,
    cfg: &MailConfig,
    ctx: &OutboundContext,
) -> Result<Sender, String> {
    let secret = cfg.secret(store).await.map_err(|e| e.to_string())?;
    let (support, from) = support_address(cfg, ctx);
    let domain = support
        .rsplit_once('@')
        .map(|(_, d)| d)
        .unwrap_or("localhost")
        .to_string();
    Ok(Sender {
        secret,
        support,
        from,
        domain,
    })
}

/// Records the Message-ID we are about to send (and the chain it continues), so answers to it
/// thread; returns it without brackets.
async fn record_sent(
    store: &dyn Store,
    ctx: &OutboundContext,
    message_id: &str,
    message_row: Option<i64>,
    meta: impl FnOnce(&str) -> Option<MailMeta>,
) -> Result<String, String> {
    let bare_id = message_id
        .trim_matches(|c| c == '<' || c == '>')
        .to_string();
    let mut refs = ctx.parent_references.clone();
    refs.extend(ctx.parent_message_id.clone());
    store
        .record_outbound_mail(ctx.ticket_id, message_row, &bare_id, &refs, meta(&bare_id))
        .await
        .map_err(|e| e.to_string())?;
    Ok(bare_id)
}

/// Runs a `mail.reply` job: mails an agent's public message to the requester (and CCs).
pub async fn send_reply(
    store: &dyn Store,
    cfg: &MailConfig,
    payload: &serde_json::Value,
) -> Result<(), String> {
    let job: Job = serde_json::from_value(payload.clone()).map_err(|e| format!("bad job: {e}"))?;
    let message_id = job.message_id.ok_or("bad job: no message_id")?;
    let ctx = store
        .outbound_context(job.ticket_id)
        .await
        .map_err(|e| e.to_string())?;
    let Some((to, cc)) = recipients(&ctx) else {
        tracing::info!(
            ticket = job.ticket_id,
            "reply not mailed: the requester has no working e-mail address"
        );
        return Ok(());
    };
    let msg = store
        .message_for_mail(job.ticket_id, message_id)
        .await
        .map_err(|e| e.to_string())?;
    let Sender {
        secret,
        support,
        from,
        domain,
    } = sender(store, cfg, &ctx).await?;
    let unique = format!("m{}", msg.id);
    let headers = outbound_headers(&ReplyContext {
        ticket_id: job.ticket_id,
        secret: &secret,
        support_address: &support,
        domain: &domain,
        unique: &unique,
        now: msg.created_at,
        subject: &ctx.subject,
        parent_message_id: ctx.parent_message_id.as_deref(),
        parent_references: &ctx.parent_references,
        kind: OutboundKind::AgentReply,
    });
    let mut attachments = Vec::new();
    for a in &msg.attachments {
        let (meta, data) = store
            .get_attachment(a.id, &system())
            .await
            .map_err(|e| e.to_string())?;
        attachments.push(OutAttachment {
            filename: meta.filename,
            content_type: meta.content_type,
            data,
        });
    }
    record_sent(store, &ctx, &headers.message_id, Some(msg.id), |id| {
        Some(MailMeta {
            direction: "out".into(),
            from: from.clone(),
            to: vec![to.clone()],
            cc: cc.clone(),
            subject: headers.subject.clone(),
            message_id: Some(id.to_string()),
            in_reply_to: ctx.parent_message_id.iter().cloned().collect(),
            ..Default::default()
        })
    })
    .await?;
    let mail = OutMail {
        to,
        cc,
        from: Some(from),
        subject: headers.subject.clone(),
        text: msg.body_text.clone(),
        html: Some(msg.body_html.clone()),
        headers: Some(headers),
        attachments,
    };
    deliver(cfg, &mail).await
}

/// Runs a `mail.ack` job: the acknowledgement of a ticket opened by mail, from the admin's
/// template. Never sent to automatic mail (intake does not queue it then).
pub async fn send_ack(
    store: &dyn Store,
    cfg: &MailConfig,
    payload: &serde_json::Value,
) -> Result<(), String> {
    let job: Job = serde_json::from_value(payload.clone()).map_err(|e| format!("bad job: {e}"))?;
    let ctx = store
        .outbound_context(job.ticket_id)
        .await
        .map_err(|e| e.to_string())?;
    let Some((to, _)) = recipients(&ctx) else {
        return Ok(());
    };
    let templates = store
        .get_setting(TEMPLATES_SETTING)
        .await
        .map_err(|e| e.to_string())?
        .unwrap_or_default();
    // Issue 4: without an admin's template, the default in the customer's language.
    let words = crate::portal::ticket_words(store, job.ticket_id).await;
    let subject_t = templates
        .get("ack_subject")
        .and_then(|v| v.as_str())
        .unwrap_or(words.ack_subject);
    let body_t = templates
        .get("ack_body")
        .and_then(|v| v.as_str())
        .unwrap_or(words.ack_body);
    let vars: std::collections::HashMap<String, String> = ack_vars(&ctx, cfg)
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    // Templates are checked when saved; a broken one falls back to the default.
    let subject = render(subject_t, &vars)
        .or_else(|_| render(DEFAULT_ACK_SUBJECT, &vars))
        .map_err(|e| e.to_string())?;
    let body = render(body_t, &vars)
        .or_else(|_| render(DEFAULT_ACK_BODY, &vars))
        .map_err(|e| e.to_string())?;
    let Sender {
        secret,
        support,
        from,
        domain,
    } = sender(store, cfg, &ctx).await?;
    let created = match job.message_id {
        Some(m) => store
            .message_for_mail(job.ticket_id, m)
            .await
            .map(|m| m.created_at)
            .unwrap_or_else(|_| chrono::Utc::now()),
        None => chrono::Utc::now(),
    };
    let headers = outbound_headers(&ReplyContext {
        ticket_id: job.ticket_id,
        secret: &secret,
        support_address: &support,
        domain: &domain,
        unique: "ack",
        now: created,
        subject: &subject,
        parent_message_id: ctx.parent_message_id.as_deref(),
        parent_references: &ctx.parent_references,
        kind: OutboundKind::AutoReply,
    });
    record_sent(store, &ctx, &headers.message_id, None, |_| None).await?;
    let mail = OutMail {
        to,
        from: Some(from),
        subject: headers.subject.clone(),
        text: body,
        headers: Some(headers),
        ..Default::default()
    };
    deliver(cfg, &mail).await
}

fn ack_vars(ctx: &OutboundContext, cfg: &MailConfig) -> Vec<(&'static str, String)> {
    vec![
        ("ticket.id", ctx.ticket_id.to_string()),
        ("ticket.subject", ctx.subject.clone()),
        ("ticket.status", ctx.status.to_string()),
        (
            "ticket.url",
            format!("{}/portal", cfg.base_url.trim_end_matches('/')),
        ),
        ("customer.name", ctx.requester_name.clone()),
        (
            "customer.first_name",
            tend_core::template::first_name(&ctx.requester_name),
        ),
        (
            "customer.email",
            ctx.requester_emails.last().cloned().unwrap_or_default(),
        ),
    ]
}

/// Sends an automatic mail about a ticket to its requester (the knowledge-base auto-reply),
/// threaded and marked like the acknowledgement (`Auto-Submitted`, a Message-ID derived from
/// the ticket, so a retried job sends the same Message-ID).
pub(crate) async fn send_auto_reply(
    store: &dyn Store,
    cfg: &MailConfig,
    ticket_id: i64,
    created: chrono::DateTime<chrono::Utc>,
    subject: &str,
    text: &str,
) -> Result<(), String> {
    let ctx = store
        .outbound_context(ticket_id)
        .await
        .map_err(|e| e.to_string())?;
    let Some((to, _)) = recipients(&ctx) else {
        return Ok(());
    };
    let Sender {
        secret,
        support,
        from,
        domain,
    } = sender(store, cfg, &ctx).await?;
    let headers = outbound_headers(&ReplyContext {
        ticket_id,
        secret: &secret,
        support_address: &support,
        domain: &domain,
        unique: "kb-auto-reply",
        now: created,
        subject,
        parent_message_id: ctx.parent_message_id.as_deref(),
        parent_references: &ctx.parent_references,
        kind: OutboundKind::AutoReply,
    });
    record_sent(store, &ctx, &headers.message_id, None, |_| None).await?;
    let mail = OutMail {
        to,
        from: Some(from),
        subject: headers.subject.clone(),
        text: text.to_string(),
        headers: Some(headers),
        ..Default::default()
    };
    deliver(cfg, &mail).await
}
