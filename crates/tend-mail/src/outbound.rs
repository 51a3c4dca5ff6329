//! Headers for mail we send on a ticket. Pure: the caller passes the time and a unique part.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::address::clean_line;
use crate::token::{reply_to_address, subject_tag};
use crate::TicketId;

/// How many References are kept: the first (thread root) and the newest ones, as RFC 5322
/// suggests trimming long chains.
pub const MAX_REFERENCES: usize = 20;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutboundKind {
    /// An agent's reply: personal, no List-Unsubscribe.
    AgentReply,
    /// An automatic acknowledgement or auto-reply: `Auto-Submitted: auto-replied`.
    AutoReply,
    /// A notification or survey the recipient can opt out of: `Auto-Submitted: auto-generated`,
    /// List-Unsubscribe (and one-click List-Unsubscribe-Post for an https URL, RFC 8058).
    Notification {
        unsubscribe_url: Option<String>,
        unsubscribe_mailto: Option<String>,
    },
}

pub struct ReplyContext<'a> {
    pub ticket_id: TicketId,
    pub secret: &'a [u8],
    /// The support address replies should go to, e.g. `support@shop.example`.
    pub support_address: &'a str,
    /// Right-hand side of generated Message-IDs, e.g. `shop.example`.
    pub domain: &'a str,
    /// Something unique to this outgoing message (an event id, a random string).
    pub unique: &'a str,
    pub now: DateTime<Utc>,
    /// The ticket's subject (or the mail being answered).
    pub subject: &'a str,
    /// Message-ID of the mail being answered (without brackets), if any.
    pub parent_message_id: Option<&'a str>,
    /// That mail's References (without brackets), oldest first.
    pub parent_references: &'a [String],
    pub kind: OutboundKind,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboundHeaders {
    /// With angle brackets, ready for the header.
    pub message_id: String,
    pub in_reply_to: Option<String>,
    /// Space-separated, with brackets.
    pub references: Option<String>,
    pub reply_to: String,
    pub subject: String,
    pub date: String,
    pub auto_submitted: Option<String>,
    pub list_unsubscribe: Option<String>,
    pub list_unsubscribe_post: Option<String>,
    /// Ask Exchange not to send out-of-office replies to notifications.
    pub x_auto_response_suppress: Option<String>,
}

fn id_part(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_alphanumeric() || "-._".contains(*c))
        .take(64)
        .collect()
}

fn bracket(id: &str) -> Option<String> {
    let id: String = clean_line(id)
        .trim_start_matches('<')
        .trim_end_matches('>')
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '<' && *c != '>')
        .collect();
    (!id.is_empty()).then(|| format!("<{id}>"))
}

fn has_reply_prefix(subject: &str) -> bool {
    let s = subject.trim_start().to_ascii_lowercase();
    ["re:", "aw:", "sv:", "antw:", "réf:", "ref:", "rif:"]
        .iter()
        .any(|p| s.starts_with(p))
}

pub fn outbound_headers(ctx: &ReplyContext<'_>) -> OutboundHeaders {
    let domain = {
        let d: String = ctx
            .domain
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || "-.".contains(*c))
            .collect();
        if d.is_empty() {
            "localhost".to_string()
        } else {
            d
        }
    };
    let message_id = format!(
        "<tend.{}.{}.{}@{domain}>",
        ctx.ticket_id,
        ctx.now.timestamp_millis(),
        id_part(ctx.unique)
    );

    let parent = ctx.parent_message_id.and_then(bracket);
    let mut chain: Vec<String> = ctx
        .parent_references
        .iter()
        .filter_map(|r| bracket(r))
        .collect();
    if let Some(p) = &parent {
        if chain.last() != Some(p) {
            chain.push(p.clone());
        }
    }
    if chain.len() > MAX_REFERENCES {
        let tail = chain.split_off(chain.len() - (MAX_REFERENCES - 1));
        chain.truncate(1);
        chain.extend(tail);
    }

    let tag = subject_tag(ctx.secret, ctx.ticket_id);
    let mut subject = clean_line(ctx.subject);
    if parent.is_some() && !has_reply_prefix(&subject) {
        subject = format!("Re: {subject}");
    }
    if !subject.contains(&tag) {
        subject = format!("{subject} {tag}").trim().to_string();
    }

    let (auto_submitted, list_unsubscribe, list_unsubscribe_post, suppress) = match &ctx.kind {
        OutboundKind::AgentReply => (None, None, None, None),
        OutboundKind::AutoReply => (
            Some("auto-replied".to_string()),
            None,
            None,
            Some("All".to_string()),
        ),
        OutboundKind::Notification {
            unsubscribe_url,
            unsubscribe_mailto,
        } => {
            let mut parts = Vec::new();
            if let Some(u) = unsubscribe_url.as_deref().map(clean_line) {
                parts.push(format!("<{u}>"));
            }
            if let Some(m) = unsubscribe_mailto.as_deref().map(clean_line) {
                let m = m.trim_start_matches("mailto:");
                parts.push(format!("<mailto:{m}>"));
            }
            let one_click = unsubscribe_url
                .as_deref()
                .is_some_and(|u| u.starts_with("https://"));
            (
                Some("auto-generated".to_string()),
                (!parts.is_empty()).then(|| parts.join(", ")),
                one_click.then(|| "List-Unsubscribe=One-Click".to_string()),
                Some("All".to_string()),
            )
        }
    };

    OutboundHeaders {
        message_id,
        in_reply_to: parent,
        references: (!chain.is_empty()).then(|| chain.join(" ")),
        reply_to: reply_to_address(ctx.support_address, ctx.secret, ctx.ticket_id),
        subject,
        date: ctx.now.to_rfc2822(),
        auto_submitted,
        list_unsubscribe,
        list_unsubscribe_post,
        x_auto_response_suppress: suppress,
    }
}
