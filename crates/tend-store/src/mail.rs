//! What the stores take and return for the e-mail channel: mailboxes, the intake log (every
//! received mail, with its raw bytes and what became of it), Message-IDs for threading, and the
//! state of IMAP polling.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tend_core::Status;

use crate::records::{NewMessage, NewTicket};

/// The job that mails a public agent message to the ticket's requester (payload
/// `{"ticket_id", "message_id"}`); enqueued in the transaction that adds the message.
pub const MAIL_REPLY_JOB: &str = "mail.reply";
/// The job that sends the automatic acknowledgement of a new ticket opened by mail
/// (payload `{"ticket_id", "message_id", "mailbox_id"}`).
pub const MAIL_ACK_JOB: &str = "mail.ack";

/// What a reply to a closed ticket does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ClosedPolicy {
    /// The closed ticket opens again.
    Reopen,
    /// A new ticket, linked to the closed one (`follow_up_of`).
    #[default]
    FollowUp,
}

impl ClosedPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            ClosedPolicy::Reopen => "reopen",
            ClosedPolicy::FollowUp => "follow_up",
        }
    }
    pub fn parse(s: &str) -> Option<ClosedPolicy> {
        match s {
            "reopen" => Some(ClosedPolicy::Reopen),
            "follow_up" => Some(ClosedPolicy::FollowUp),
            _ => None,
        }
    }
}

/// Where an IMAP poller reads a mailbox's mail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImapSource {
    pub host: String,
    pub port: u16,
    /// `none` (plain, for a server on loopback), `tls` (implicit TLS, port 993).
    #[serde(default = "default_security")]
    pub security: String,
    pub username: String,
    pub password: String,
    #[serde(default = "default_folder")]
    pub folder: String,
    /// After import: `none`, `seen` (set \Seen), or `move:<folder>`.
    #[serde(default = "default_after")]
    pub after_import: String,
}

fn default_security() -> String {
    "none".into()
}
fn default_folder() -> String {
    "INBOX".into()
}
fn default_after() -> String {
    "none".into()
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Mailbox {
    pub id: i64,
    /// The address customers write to, e.g. `support@shop.example` (lower-cased).
    pub address: String,
    pub name: String,
    /// New tickets from this mailbox go to this group.
    pub group_id: Option<i64>,
    pub brand_id: Option<i64>,
    pub closed_policy: ClosedPolicy,
    /// Send the acknowledgement template when a mail opens a ticket.
    pub auto_ack: bool,
    /// The IMAP account to poll, if any (the password is never serialized).
    #[serde(skip_serializing)]
    pub imap: Option<ImapSource>,
    pub active: bool,
    pub created_at: DateTime<Utc>,
}

impl Mailbox {
    /// The IMAP account without its password, for display.
    pub fn imap_public(&self) -> Option<serde_json::Value> {
        self.imap.as_ref().map(|i| {
            serde_json::json!({"host": i.host, "port": i.port, "security": i.security,
                "username": i.username, "folder": i.folder, "after_import": i.after_import})
        })
    }
}

#[derive(Debug, Clone)]
pub struct NewMailbox {
    pub address: String,
    pub name: String,
    pub group_id: Option<i64>,
    pub brand_id: Option<i64>,
    pub closed_policy: ClosedPolicy,
    pub auto_ack: bool,
    pub imap: Option<ImapSource>,
}

/// A change to a mailbox (issue 4: the admin UI and `PATCH /api/v1/mailboxes/{id}`); `None`
/// leaves a field as it is. The IMAP password is write-only: an `imap` whose password is
/// empty keeps the stored one ([`MailboxUpdate::apply`]).
#[derive(Debug, Clone, Default)]
pub struct MailboxUpdate {
    pub address: Option<String>,
    pub name: Option<String>,
    pub group_id: Option<Option<i64>>,
    pub brand_id: Option<Option<i64>>,
    pub closed_policy: Option<ClosedPolicy>,
    pub auto_ack: Option<bool>,
    /// `Some(None)`: stop polling IMAP.
    pub imap: Option<Option<ImapSource>>,
    pub active: Option<bool>,
}

impl MailboxUpdate {
    /// Applies the change to `m` and names the fields that changed (for the audit log; the
    /// password only as `imap.password`, never its value).
    ///
    /// An empty password keeps the stored one only while the server, port, security and user
    /// name stay the same: the write-only password is never handed to a different server.
    pub fn apply(self, m: &mut Mailbox) -> Result<Vec<&'static str>, crate::StoreError> {
        let mut changed = Vec::new();
        if let Some(a) = self.address {
            let a = a.trim().to_lowercase();
            if a != m.address {
                m.address = a;
                changed.push("address");
            }
        }
        macro_rules! set {
            ($field:ident) => {
                if let Some(v) = self.$field {
                    if v != m.$field {
                        m.$field = v;
                        changed.push(stringify!($field));
                    }
                }
            };
        }
        set!(name);
        set!(group_id);
        set!(brand_id);
        set!(closed_policy);
        set!(auto_ack);
        set!(active);
        if let Some(imap) = self.imap {
            let imap = match (imap, &m.imap) {
                (Some(mut new), Some(old)) if new.password.is_empty() => {
                    if (&new.host, new.port, &new.security, &new.username)
                        != (&old.host, old.port, &old.security, &old.username)
                    {
                        return Err(crate::StoreError::invalid(
                            "imap.password",
                            "enter the password again: the server, port, security or user name changed",
                        ));
                    }
                    new.password = old.password.clone();
                    Some(new)
                }
                (new, _) => new,
            };
            let old_pw = m.imap.as_ref().map(|i| i.password.clone());
            if imap != m.imap {
                if imap.as_ref().map(|i| i.password.clone()) != old_pw && imap.is_some() {
                    changed.push("imap.password");
                }
                changed.push("imap");
                m.imap = imap;
            }
        }
        Ok(changed)
    }
}

/// Headers of a mail a message came in as or went out as; shown in the timeline.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailMeta {
    /// `in` or `out`.
    pub direction: String,
    pub from: String,
    #[serde(default)]
    pub to: Vec<String>,
    #[serde(default)]
    pub cc: Vec<String>,
    pub subject: String,
    /// Without angle brackets.
    pub message_id: Option<String>,
    #[serde(default)]
    pub in_reply_to: Vec<String>,
    /// Where the quoted history starts in `body_text` (the UI folds it).
    pub quote_start: Option<usize>,
    /// Where the signature starts in `body_text`.
    pub signature_start: Option<usize>,
    /// The intake log entry holding the raw mail.
    pub intake_id: Option<i64>,
    /// Why parts were cut or could not be decoded (size limits, damaged MIME).
    #[serde(default)]
    pub notes: Vec<String>,
}

/// The questions threading asks the store, answered in one read.
#[derive(Debug, Clone, Default)]
pub struct MailQuestion {
    /// The mail's own Message-ID plus In-Reply-To and References.
    pub message_ids: Vec<String>,
    /// Tickets named by tokens in the mail.
    pub ticket_ids: Vec<i64>,
    /// Addresses to check for staff membership and bounce flags (sender, forward origin).
    pub addresses: Vec<String>,
    /// Count this sender's mails since this time (per-sender rate limit).
    pub sender: Option<String>,
    pub since: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TicketMailInfo {
    pub status: Status,
    /// Lower-cased addresses: the requester's e-mail identities and the ticket's CCs.
    pub participants: Vec<String>,
}

/// What the store knows about a mail's context.
#[derive(Debug, Clone, Default)]
pub struct MailKnowledge {
    pub ticket_by_message_id: HashMap<String, i64>,
    pub tickets: HashMap<i64, TicketMailInfo>,
    /// Lower-cased agent addresses among the asked ones.
    pub staff: HashSet<String>,
    /// Lower-cased addresses among the asked ones flagged as bouncing.
    pub bounced: HashSet<String>,
    /// The sender's mails logged since `MailQuestion::since`.
    pub recent_from_sender: i64,
}

/// What a received mail does to the tickets. Every outcome logs the mail and keeps its raw
/// bytes; only `NewTicket` and `Append` touch tickets.
#[derive(Debug, Clone)]
pub enum MailAction {
    NewTicket {
        ticket: Box<NewTicket>,
        /// CC'd addresses that become participants of the ticket.
        participants: Vec<String>,
        /// A closed ticket this one follows up.
        follow_up_of: Option<i64>,
        /// Enqueue the acknowledgement mail.
        auto_ack: bool,
    },
    Append {
        ticket_id: i64,
        message: NewMessage,
        /// The status the ticket moves to (a customer answer reopens pending or solved tickets).
        reopen_to: Option<Status>,
        participants: Vec<String>,
    },
    /// Hold for an agent (the review queue); `ticket_id` is the ticket it would have joined.
    Review {
        ticket_id: Option<i64>,
        reason: String,
    },
    /// A bounce: the address is flagged; with a ticket, a private note records it there.
    Bounce {
        ticket_id: Option<i64>,
        address: Option<String>,
        permanent: bool,
        note: Option<NewMessage>,
    },
    /// Logged only: a duplicate delivery, a rejected mail.
    Drop {
        outcome: String,
        ticket_id: Option<i64>,
        reason: String,
    },
}

impl MailAction {
    /// The word the intake log records.
    pub fn outcome(&self) -> &str {
        match self {
            MailAction::NewTicket { .. } => "created",
            MailAction::Append { .. } => "appended",
            MailAction::Review { .. } => "review",
            MailAction::Bounce { .. } => "bounce",
            MailAction::Drop { outcome, .. } => outcome,
        }
    }
}

/// One received mail, ready to be stored.
#[derive(Debug, Clone)]
pub struct MailDelivery {
    pub mailbox_id: Option<i64>,
    /// `smtp`, `imap`, `pipe` (`tend mail ingest`) or `api`.
    pub source: String,
    pub raw: Vec<u8>,
    /// Without brackets. A second delivery with a stored Message-ID is logged as a duplicate.
    pub message_id: Option<String>,
    pub sender: Option<String>,
    pub subject: String,
    pub meta: MailMeta,
    pub action: MailAction,
    /// For IMAP: the mailbox's UIDVALIDITY and this mail's UID, saved in the same transaction
    /// so a restart neither fetches it again nor skips it.
    pub imap_uid: Option<(u32, u32)>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MailDelivered {
    pub intake_id: i64,
    /// `created`, `appended`, `review`, `bounce`, `duplicate`, `rejected`, …
    pub outcome: String,
    pub ticket_id: Option<i64>,
    pub message_id: Option<i64>,
}

/// One line of the intake log.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IntakeEntry {
    pub id: i64,
    pub received_at: DateTime<Utc>,
    pub mailbox_id: Option<i64>,
    pub source: String,
    pub message_id: Option<String>,
    pub sender: Option<String>,
    pub subject: String,
    pub outcome: String,
    pub reason: String,
    pub ticket_id: Option<i64>,
    pub message_row: Option<i64>,
    pub size: i64,
}

/// What the worker needs to mail a message of a ticket.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboundContext {
    pub ticket_id: i64,
    pub subject: String,
    pub status: Status,
    pub requester_name: String,
    /// The requester's e-mail addresses, newest identity last; empty if none.
    pub requester_emails: Vec<String>,
    /// CC participants.
    pub cc: Vec<String>,
    pub bounced: HashSet<String>,
    /// The mailbox the ticket came in through (else the first mailbox).
    pub mailbox: Option<Mailbox>,
    /// The newest inbound mail on the ticket: its Message-ID and References.
    pub parent_message_id: Option<String>,
    pub parent_references: Vec<String>,
}

/// Every Message-ID in a list, lower-cased keys not needed: Message-IDs compare exactly.
pub fn unique_ids(ids: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut seen = HashSet::new();
    ids.into_iter()
        .filter(|i| !i.is_empty() && seen.insert(i.clone()))
        .collect()
}

#[cfg(test)]
mod mailbox_update_tests {
    use super::*;

    fn imap(password: &str) -> ImapSource {
        ImapSource {
            host: "imap.example".into(),
            port: 993,
            security: "tls".into(),
            username: "support".into(),
            password: password.into(),
            folder: "INBOX".into(),
            after_import: "seen".into(),
        }
    }

    #[test]
    fn an_empty_password_keeps_the_stored_one_and_changes_are_named() {
        let mut m = Mailbox {
            id: 1,
            address: "help@shop.test".into(),
            name: String::new(),
            group_id: None,
            brand_id: None,
            closed_policy: ClosedPolicy::FollowUp,
            auto_ack: true,
            imap: Some(imap("secret")),
            active: true,
            created_at: chrono::DateTime::UNIX_EPOCH,
        };
        let mut other = imap("");
        other.folder = "Support".into();
        let changed = MailboxUpdate {
            address: Some(" Help@Shop.test ".into()),
            imap: Some(Some(other)),
            active: Some(false),
            ..Default::default()
        }
        .apply(&mut m)
        .unwrap();
        assert_eq!(changed, vec!["active", "imap"]);
        let i = m.imap.clone().unwrap();
        assert_eq!(
            (i.folder.as_str(), i.password.as_str()),
            ("Support", "secret")
        );
        // Another server: the stored password is not carried over to it.
        let mut elsewhere = imap("");
        elsewhere.host = "imap.attacker.example".into();
        let refused = MailboxUpdate {
            imap: Some(Some(elsewhere)),
            ..Default::default()
        }
        .apply(&mut m)
        .unwrap_err();
        assert!(refused.to_string().contains("password"), "{refused}");
        assert_eq!(m.imap.as_ref().unwrap().host, "imap.example");
        let changed = MailboxUpdate {
            imap: Some(Some(imap("new"))),
            ..Default::default()
        }
        .apply(&mut m)
        .unwrap();
        assert_eq!(changed, vec!["imap.password", "imap"]);
        assert!(MailboxUpdate::default().apply(&mut m).unwrap().is_empty());
        let changed = MailboxUpdate {
            imap: Some(None),
            ..Default::default()
        }
        .apply(&mut m)
        .unwrap();
        assert_eq!((changed, m.imap.is_none()), (vec!["imap"], true));
    }
}
