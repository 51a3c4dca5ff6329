//! Does a mail belong to a ticket? Pure: what the store knows comes through [`ThreadStore`].
//!
//! Order:
//! 0. **Duplicate**: the mail's Message-ID is already stored → [`ThreadDecision::Duplicate`].
//! 1. **Token**: a verified plus-tag in To/Cc/Delivered-To (`support+t123.abcdef1234@…`), else
//!    a verified subject tag (`[#123-abcdef]`). HMAC-SHA256, constant-time compare.
//! 2. **Headers**: In-Reply-To, then References (newest first), against stored Message-IDs.
//! 3. **Forward**: a "Fwd:/Fw:/WG:/TR:/RV:/Enc:" subject *and* a forwarded-message block in the
//!    body → [`ThreadDecision::NewTicket`] with `forwarded_by` set.
//! 4. Otherwise a new ticket for the sender.
//!
//! **Non-participants never join.** The sender (From) must be one of the matched ticket's
//! participants, compared case-insensitively:
//! - matched by a valid **token** but not a participant → [`ThreadDecision::Review`]: the HMAC
//!   proves the sender saw our mail (a colleague it was forwarded to, the customer's other
//!   address), so an agent decides whether to add them;
//! - matched by **headers only** but not a participant → [`ThreadDecision::NewTicket`] for the
//!   sender: Message-IDs are not secret and cheap to forge, so the mail is neither attached to
//!   the other ticket nor allowed to queue work against it.

use serde::{Deserialize, Serialize};

use crate::address::{find_address, normalize_address, Mailbox};
use crate::inbound::Inbound;
use crate::token::{find_subject_tag, find_token_address};
use crate::TicketId;

/// What the store knows, asked by the threading rules.
pub trait ThreadStore {
    /// The ticket a stored Message-ID (without angle brackets) belongs to, and that ticket's
    /// participants' addresses.
    fn find_by_message_id(&self, message_id: &str) -> Option<(TicketId, Vec<String>)>;
    /// The participants' addresses of a ticket; `None` if there is no such ticket.
    fn participants(&self, ticket_id: TicketId) -> Option<Vec<String>>;
    /// Whether an address belongs to staff, whose forwards open tickets for the original sender.
    fn is_staff(&self, address: &str) -> bool;
}

pub struct ThreadingContext<'a> {
    /// The key for ticket tokens (see [`crate::ticket_token`]).
    pub secret: &'a [u8],
    pub store: &'a dyn ThreadStore,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JoinVia {
    ReplyToToken,
    SubjectTag,
    InReplyTo,
    References,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum ReviewReason {
    /// A valid token, but the sender is not a participant of that ticket.
    NotParticipant { via: JoinVia, sender: String },
    /// The token names a ticket the store does not know (deleted or merged).
    UnknownTicket { via: JoinVia },
    /// The mail has no usable From address.
    NoSender,
}

/// The original sender of a forwarded mail, as read from the forwarded block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForwardedFrom {
    pub original: Mailbox,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "decision")]
pub enum ThreadDecision {
    /// Add the mail to this ticket.
    Join { ticket_id: TicketId, via: JoinVia },
    /// Open a ticket. For a forward, `forwarded_by` is the person who forwarded it; the
    /// requester is the original sender if the forwarder is staff, else the forwarder.
    NewTicket {
        requester: Mailbox,
        forwarded_by: Option<Mailbox>,
    },
    /// Hold for an agent: do not add automatically.
    Review {
        ticket_id: Option<TicketId>,
        reason: ReviewReason,
    },
    /// The Message-ID is already stored on this ticket: drop the mail.
    Duplicate { ticket_id: TicketId },
}

fn is_participant(sender: &str, participants: &[String]) -> bool {
    participants.iter().any(|p| normalize_address(p) == sender)
}

pub fn thread(mail: &Inbound, ctx: &ThreadingContext<'_>) -> ThreadDecision {
    if let Some(id) = mail.message_id.as_deref() {
        if let Some((ticket_id, _)) = ctx.store.find_by_message_id(id) {
            return ThreadDecision::Duplicate { ticket_id };
        }
    }
    let Some(sender) = mail.from.clone().filter(|m| !m.address.is_empty()) else {
        return ThreadDecision::Review {
            ticket_id: None,
            reason: ReviewReason::NoSender,
        };
    };
    let sender_key = sender.key();

    // 1. Tokens.
    let by_address = mail
        .to
        .iter()
        .chain(&mail.cc)
        .map(|m| m.address.as_str())
        .chain(mail.delivered_to.iter().map(String::as_str))
        .find_map(|a| find_token_address(ctx.secret, a))
        .map(|id| (id, JoinVia::ReplyToToken));
    let token = by_address.or_else(|| {
        find_subject_tag(ctx.secret, &mail.subject).map(|id| (id, JoinVia::SubjectTag))
    });
    if let Some((ticket_id, via)) = token {
        return match ctx.store.participants(ticket_id) {
            Some(p) if is_participant(&sender_key, &p) => ThreadDecision::Join { ticket_id, via },
            Some(_) => ThreadDecision::Review {
                ticket_id: Some(ticket_id),
                reason: ReviewReason::NotParticipant {
                    via,
                    sender: sender_key,
                },
            },
            None => ThreadDecision::Review {
                ticket_id: Some(ticket_id),
                reason: ReviewReason::UnknownTicket { via },
            },
        };
    }

    // 2. In-Reply-To, then References newest first.
    let candidates = mail
        .in_reply_to
        .iter()
        .map(|id| (id, JoinVia::InReplyTo))
        .chain(
            mail.references
                .iter()
                .rev()
                .map(|id| (id, JoinVia::References)),
        );
    for (id, via) in candidates {
        if let Some((ticket_id, participants)) = ctx.store.find_by_message_id(id) {
            if is_participant(&sender_key, &participants) {
                return ThreadDecision::Join { ticket_id, via };
            }
            // Forged or foreign reference: the sender gets a ticket of their own.
            return ThreadDecision::NewTicket {
                requester: sender,
                forwarded_by: None,
            };
        }
    }

    // 3. Forwarded mail.
    if let Some(fwd) = forwarded_from(mail) {
        let requester = if ctx.store.is_staff(&sender_key) {
            fwd.original
        } else {
            sender.clone()
        };
        return ThreadDecision::NewTicket {
            requester,
            forwarded_by: Some(sender),
        };
    }

    ThreadDecision::NewTicket {
        requester: sender,
        forwarded_by: None,
    }
}

/// Subject prefixes of forwards in the common clients' languages.
fn forward_subject(subject: &str) -> bool {
    let s = subject.trim_start().to_ascii_lowercase();
    [
        "fwd:", "fw:", "wg:", "tr:", "rv:", "enc:", "i:", "doorst:", "vs:", "fwd :", "tr :",
    ]
    .iter()
    .any(|p| s.starts_with(p))
}

/// Reads the original sender of a forwarded mail: a forwarded-message block followed by a
/// "From:/Von:/De :/De:" line. Requires a forward subject prefix too.
pub fn forwarded_from(mail: &Inbound) -> Option<ForwardedFrom> {
    if !forward_subject(&mail.subject) {
        return None;
    }
    let mut in_block = false;
    for (n, line) in mail.body_text.lines().enumerate() {
        if n > 5_000 {
            break;
        }
        let t = line
            .trim_matches(|c: char| c.is_whitespace() || c == '*' || c == '>')
            .to_string();
        if !in_block {
            let lower = t.to_lowercase();
            let inner = lower.trim_matches(|c: char| c == '-' || c.is_whitespace());
            let rule = t.len() >= 8 && t.chars().all(|c| c == '_');
            in_block = rule
                || (t.starts_with("--") && FORWARD_MARKERS.contains(&inner))
                || lower == "begin forwarded message:"
                || lower == "anfang der weitergeleiteten nachricht:";
            continue;
        }
        if t.is_empty() {
            continue;
        }
        let Some((name, value)) = t.split_once(':') else {
            continue;
        };
        let name = name.trim().to_lowercase();
        if ["from", "von", "de", "da", "van"].contains(&name.as_str()) {
            let address = find_address(value)?;
            let display = value
                .split(['<', '['])
                .next()
                .map(|n| n.trim().trim_matches('"').trim())
                .filter(|n| !n.is_empty() && !n.contains('@'));
            return Some(ForwardedFrom {
                original: Mailbox::new(&address, display),
            });
        }
    }
    None
}

const FORWARD_MARKERS: [&str; 10] = [
    "forwarded message",
    "original message",
    "ursprüngliche nachricht",
    "weitergeleitete nachricht",
    "message transféré",
    "message d'origine",
    "mensaje reenviado",
    "mensaje original",
    "messaggio inoltrato",
    "forwarded",
];
