//! One received mail, from raw bytes to a stored outcome. The SMTP listener, the IMAP poller,
//! `tend mail ingest` and the API all come through [`ingest`].
//!
//! parse (tend-mail) → ask the store what it knows (one read) → thread (tend-mail, pure) →
//! [`plan`] (pure) → `deliver_mail` (one write: logged with its raw bytes, deduplicated by
//! Message-ID, applied). Nothing is dropped silently: rejected, duplicate, automatic and
//! held mail is in the intake log with the reason.

use std::collections::HashSet;

use chrono::{DateTime, Duration, Utc};
use tend_core::ticket::Fields;
use tend_core::{Channel, Priority, Status};
use tend_mail::{
    classify, find_subject_tag, find_token_address, forwarded_from, parse_with, thread, Inbound,
    Limits, Noise, ReviewReason, ThreadDecision, ThreadStore, ThreadingContext,
};
use tend_store::mail::{
    unique_ids, ClosedPolicy, MailAction, MailDelivered, MailDelivery, MailKnowledge, MailMeta,
    MailQuestion, Mailbox,
};
use tend_store::{NewAttachment, NewMessage, NewTicket, RequesterRef, Store, StoreError};

/// Mails one sender may send per hour before the rest wait in the review queue.
pub const SENDER_LIMIT_PER_HOUR: i64 = 60;

/// Why a mail could not be taken in now. Only store failures are temporary: the sending
/// server (or the IMAP poller) tries again later, so nothing is lost.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("temporary failure, try again later: {0}")]
    Temporary(String),
}

impl From<StoreError> for IngestError {
    fn from(e: StoreError) -> Self {
        IngestError::Temporary(e.to_string())
    }
}

/// Where a mail came from and for which mailbox.
#[derive(Debug, Clone)]
pub struct Envelope {
    /// `smtp`, `imap`, `pipe` or `api`.
    pub source: String,
    /// The mailbox it was delivered to, if known (SMTP: from RCPT TO; IMAP: the polled one).
    pub mailbox: Option<Mailbox>,
    /// Every configured mailbox address (never made participants, never auto-replied to).
    pub our_addresses: Vec<String>,
    pub imap_uid: Option<(u32, u32)>,
}

/// The local part without a `+tag`, lower-cased: `Support+t1.ab@X` → `support@x`.
pub fn base_address(address: &str) -> String {
    let a = address
        .trim()
        .trim_matches(|c| c == '<' || c == '>')
        .to_lowercase();
    match a.split_once('@') {
        Some((local, domain)) => {
            let local = local.split('+').next().unwrap_or(local);
            format!("{local}@{domain}")
        }
        None => a,
    }
}

/// The mailbox an address belongs to (plus-tags allowed).
pub fn mailbox_for<'a>(mailboxes: &'a [Mailbox], address: &str) -> Option<&'a Mailbox> {
    let base = base_address(address);
    mailboxes.iter().find(|m| m.active && m.address == base)
}

struct Known<'a>(&'a MailKnowledge);

impl ThreadStore for Known<'_> {
    fn find_by_message_id(&self, message_id: &str) -> Option<(i64, Vec<String>)> {
        let t = *self.0.ticket_by_message_id.get(message_id)?;
        let p = self
            .0
            .tickets
            .get(&t)
            .map(|i| i.participants.clone())
            .unwrap_or_default();
        Some((t, p))
    }
    fn participants(&self, ticket_id: i64) -> Option<Vec<String>> {
        self.0
            .tickets
            .get(&ticket_id)
            .map(|i| i.participants.clone())
    }
    fn is_staff(&self, address: &str) -> bool {
        self.0.staff.contains(&address.to_lowercase())
    }
}

/// What to ask the store about a mail.
pub fn question(mail: &Inbound, secret: &[u8], now: DateTime<Utc>) -> MailQuestion {
    let mut ids: Vec<String> = mail.message_id.iter().cloned().collect();
    ids.extend(mail.in_reply_to.iter().cloned());
    ids.extend(mail.references.iter().cloned());
    if let Some(b) = &mail.dsn {
        ids.extend(b.original_message_id.iter().cloned());
    }
    let mut tickets: Vec<i64> = mail
        .to
        .iter()
        .chain(&mail.cc)
        .map(|m| m.address.as_str())
        .chain(mail.delivered_to.iter().map(String::as_str))
        .filter_map(|a| find_token_address(secret, a))
        .collect();
    tickets.extend(find_subject_tag(secret, &mail.subject));
    let sender = mail.sender_key();
    let mut addresses: Vec<String> = sender.iter().cloned().collect();
    if let Some(f) = forwarded_from(mail) {
        addresses.push(f.original.key());
    }
    MailQuestion {
        message_ids: unique_ids(ids),
        ticket_ids: tickets,
        addresses,
        sender,
        since: Some(now - Duration::hours(1)),
    }
}

fn meta_of(mail: &Inbound) -> MailMeta {
    MailMeta {
        direction: "in".into(),
        from: mail
            .from
            .as_ref()
            .map(|m| match &m.name {
                Some(n) if !n.is_empty() => format!("{n} <{}>", m.address),
                _ => m.address.clone(),
            })
            .unwrap_or_default(),
        to: mail.to.iter().map(|m| m.address.clone()).collect(),
        cc: mail.cc.iter().map(|m| m.address.clone()).collect(),
        subject: mail.subject.clone(),
        message_id: mail.message_id.clone(),
        // The thread this mail continues, oldest first: References, then In-Reply-To.
        in_reply_to: unique_ids(mail.references.iter().chain(&mail.in_reply_to).cloned()),
        quote_start: mail.quote.quote_start,
        signature_start: mail.quote.signature_start,
        intake_id: None,
        notes: mail
            .truncations
            .iter()
            .map(|t| format!("{t:?}"))
            .chain(mail.damaged.then(|| {
                "part of the mail could not be decoded as declared; kept as well as possible"
                    .to_string()
            }))
            .collect(),
    }
}

fn message_of(mail: &Inbound, public: bool) -> NewMessage {
    let body_html = mail
        .body_html
        .clone()
        .unwrap_or_else(|| tend_core::html::text_to_html(&mail.body_text));
    NewMessage {
        time_spent_seconds: None,
        public,
        body_text: mail.body_text.clone(),
        body_html,
        attachments: mail
            .attachments
            .iter()
            .enumerate()
            .map(|(n, a)| NewAttachment {
                filename: a
                    .filename
                    .clone()
                    .filter(|f| !f.trim().is_empty())
                    .unwrap_or_else(|| format!("attachment-{}", n + 1)),
                content_type: a.content_type.clone(),
                data: a.data.clone(),
            })
            .collect(),
        mail: Some(meta_of(mail)),
        notify: false,
    }
}

/// CC'd people who become participants: everyone on To/Cc except our own addresses and the
/// requester.
fn cc_participants(mail: &Inbound, requester: &str, ours: &HashSet<String>) -> Vec<String> {
    let mut out = Vec::new();
    for m in mail.to.iter().chain(&mail.cc) {
        let k = m.key();
        if k.is_empty() || k == requester || ours.contains(&base_address(&k)) || out.contains(&k) {
            continue;
        }
        out.push(k);
    }
    out.truncate(20);
    out
}

fn note(text: String) -> NewMessage {
    NewMessage {
        public: false,
        body_html: tend_core::html::text_to_html(&text),
        body_text: text,
        ..Default::default()
    }
}

/// NUL characters become spaces (PostgreSQL text cannot hold them; one byte keeps the quote
/// offsets valid), in every text that is stored.
pub fn scrub(mail: &mut Inbound) {
    fn s(x: &mut String) {
        if x.contains('\0') {
            *x = x.replace('\0', " ");
        }
    }
    s(&mut mail.subject);
    s(&mut mail.body_text);
    s(&mut mail.body_text_visible);
    if let Some(h) = mail.body_html.as_mut() {
        s(h);
    }
    for m in mail
        .from
        .iter_mut()
        .chain(mail.sender.iter_mut())
        .chain(&mut mail.to)
        .chain(&mut mail.cc)
        .chain(&mut mail.reply_to)
    {
        s(&mut m.address);
        if let Some(n) = m.name.as_mut() {
            s(n);
        }
    }
    for id in mail
        .message_id
        .iter_mut()
        .chain(&mut mail.in_reply_to)
        .chain(&mut mail.references)
        .chain(&mut mail.delivered_to)
    {
        s(id);
    }
    for a in &mut mail.attachments {
        if let Some(f) = a.filename.as_mut() {
            s(f);
        }
        s(&mut a.content_type);
    }
}

/// Decides what a parsed mail does. Pure.
pub fn plan(
    mail: &Inbound,
    noise: &Noise,
    decision: ThreadDecision,
    known: &MailKnowledge,
    mailbox: Option<&Mailbox>,
    our_addresses: &[String],
) -> MailAction {
    let ours: HashSet<String> = our_addresses.iter().map(|a| base_address(a)).collect();
    let sender = mail.sender_key().unwrap_or_default();

    // Bounces: attach to the ticket of the mail that bounced, flag the address.
    if let Some(b) = &noise.bounce {
        let ticket_id = b
            .original_message_id
            .as_ref()
            .and_then(|id| known.ticket_by_message_id.get(id).copied())
            .or(match &decision {
                ThreadDecision::Join { ticket_id, .. } => Some(*ticket_id),
                _ => None,
            });
        let address = b.recipient.clone();
        let text = format!(
            "Mail to {} could not be delivered{}{}.",
            address.as_deref().unwrap_or("the customer"),
            b.status
                .as_deref()
                .map(|s| format!(" (status {s})"))
                .unwrap_or_default(),
            b.diagnostic
                .as_deref()
                .map(|d| format!(": {d}"))
                .unwrap_or_default(),
        );
        return MailAction::Bounce {
            ticket_id,
            address,
            permanent: b.is_permanent(),
            note: Some(note(text)),
        };
    }
    if !sender.is_empty() && ours.contains(&base_address(&sender)) {
        return MailAction::Drop {
            outcome: "rejected".into(),
            ticket_id: None,
            reason: format!("sent from our own address {sender}: a mail loop"),
        };
    }
    let automatic = noise.auto_reply || noise.bulk;
    if known.recent_from_sender >= SENDER_LIMIT_PER_HOUR {
        return MailAction::Review {
            ticket_id: None,
            reason: format!(
                "{sender} sent {} mails in the last hour (limit {SENDER_LIMIT_PER_HOUR})",
                known.recent_from_sender
            ),
        };
    }
    match decision {
        ThreadDecision::Duplicate { ticket_id } => MailAction::Drop {
            outcome: "duplicate".into(),
            ticket_id: Some(ticket_id),
            reason: "Message-ID was already received".into(),
        },
        ThreadDecision::Review { ticket_id, reason } => MailAction::Review {
            ticket_id,
            reason: match reason {
                ReviewReason::NotParticipant { sender, .. } => format!(
                    "{sender} answered with a valid ticket token but is not a participant of the ticket"
                ),
                ReviewReason::UnknownTicket { .. } => {
                    "the ticket token names a ticket that does not exist".into()
                }
                ReviewReason::NoSender => "the mail has no sender address".into(),
            },
        },
        ThreadDecision::Join { ticket_id, .. } => {
            let status = known.tickets.get(&ticket_id).map(|t| t.status);
            if automatic {
                // An out-of-office on a ticket: keep it as a note, change nothing.
                return MailAction::Append {
                    ticket_id,
                    message: message_of(mail, false),
                    reopen_to: None,
                    participants: vec![],
                };
            }
            let closed_policy = mailbox.map(|m| m.closed_policy).unwrap_or_default();
            if status == Some(Status::Closed) && closed_policy == ClosedPolicy::FollowUp {
                let name = mail.from.as_ref().and_then(|m| m.name.clone());
                return new_ticket_for(
                    mail,
                    noise,
                    &sender,
                    name,
                    false,
                    mailbox,
                    &ours,
                    known,
                    Some(ticket_id),
                );
            }
            let reopen_to = match status {
                Some(Status::Pending | Status::Solved | Status::Closed) => Some(Status::Open),
                _ => None,
            };
            MailAction::Append {
                ticket_id,
                message: message_of(mail, true),
                reopen_to,
                participants: cc_participants(mail, &sender, &ours),
            }
        }
        ThreadDecision::NewTicket {
            requester,
            forwarded_by,
        } => {
            if automatic {
                return MailAction::Review {
                    ticket_id: None,
                    reason: format!("automatic mail ({})", noise.reasons.join(", ")),
                };
            }
            let requester_key = requester.key();
            let name = requester.name.clone().filter(|n| !n.trim().is_empty());
            new_ticket_for(
                mail,
                noise,
                &requester_key,
                name,
                forwarded_by.is_some(),
                mailbox,
                &ours,
                known,
                None,
            )
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn new_ticket_for(
    mail: &Inbound,
    noise: &Noise,
    requester: &str,
    name: Option<String>,
    forwarded: bool,
    mailbox: Option<&Mailbox>,
    ours: &HashSet<String>,
    known: &MailKnowledge,
    follow_up_of: Option<i64>,
) -> MailAction {
    let subject = if mail.subject.trim().is_empty() {
        "(no subject)".to_string()
    } else {
        mail.subject.chars().take(250).collect()
    };
    let mut tags = Vec::new();
    if forwarded {
        tags.push("forwarded".to_string());
    }
    if follow_up_of.is_some() {
        tags.push("follow_up".to_string());
    }
    let participants = cc_participants(mail, requester, ours);
    MailAction::NewTicket {
        ticket: Box::new(NewTicket {
            subject,
            status: Status::New,
            priority: Priority::Normal,
            channel: Channel::Email,
            requester: RequesterRef::Email {
                email: requester.to_string(),
                name,
            },
            assignee_id: None,
            group_id: mailbox.and_then(|m| m.group_id),
            brand_id: mailbox.and_then(|m| m.brand_id),
            tags,
            fields: Fields::default(),
            external_id: None,
            message: Some(message_of(mail, true)),
            message_by_requester: true,
            idempotency_key: None,
        }),
        participants,
        follow_up_of,
        auto_ack: mailbox.is_some_and(|m| m.auto_ack)
            && !noise.suppress_auto_reply()
            && !known.bounced.contains(requester),
    }
}

/// Parses on a blocking thread: a big mail takes a few hundred milliseconds of CPU, and the
/// async threads keep serving other sessions meanwhile. Gives the bytes back with the result.
async fn parse_off_thread(
    raw: Vec<u8>,
) -> Result<(Vec<u8>, Result<Inbound, tend_mail::Rejected>), String> {
    tokio::task::spawn_blocking(move || {
        let parsed = parse_with(&raw, &Limits::default());
        (raw, parsed)
    })
    .await
    .map_err(|e| format!("parser task: {e}"))
}

/// Takes one raw mail in. `Ok` means it is stored (as a ticket, a reply, in review, or logged
/// as rejected/duplicate) and the sender may forget it; `Err` means try again later.
pub async fn ingest(
    store: &dyn Store,
    secret: &[u8],
    raw: Vec<u8>,
    env: Envelope,
    now: DateTime<Utc>,
) -> Result<MailDelivered, IngestError> {
    let (raw, parsed) = parse_off_thread(raw)
        .await
        .map_err(IngestError::Temporary)?;
    let mailbox_id = env.mailbox.as_ref().map(|m| m.id);
    let mut mail = match parsed {
        Ok(m) => m,
        Err(rej) => {
            let d = MailDelivery {
                mailbox_id,
                source: env.source,
                message_id: None,
                sender: None,
                subject: String::new(),
                meta: MailMeta::default(),
                action: MailAction::Drop {
                    outcome: "rejected".into(),
                    ticket_id: None,
                    reason: rej.reason.to_string(),
                },
                imap_uid: env.imap_uid,
                raw,
            };
            return Ok(store.deliver_mail(d, now).await?);
        }
    };
    scrub(&mut mail);
    let noise = classify(&mail);
    let known = store.mail_knowledge(question(&mail, secret, now)).await?;
    let decision = thread(
        &mail,
        &ThreadingContext {
            secret,
            store: &Known(&known),
        },
    );
    let mailbox = env.mailbox.as_ref();
    // Knowledge-base auto-reply (issue 6): only to people, never to automatic or bouncing mail.
    let from_a_person = !noise.suppress_auto_reply()
        && mail
            .sender_key()
            .is_some_and(|s| !known.bounced.contains(&s));
    let action = plan(&mail, &noise, decision, &known, mailbox, &env.our_addresses);
    let d = MailDelivery {
        mailbox_id,
        source: env.source,
        message_id: mail.message_id.clone(),
        sender: mail.sender_key(),
        subject: mail.subject.chars().take(250).collect(),
        meta: meta_of(&mail),
        action,
        imap_uid: env.imap_uid,
        raw,
    };
    let delivered = store.deliver_mail(d, now).await?;
    if let ("created", Some(ticket_id)) = (delivered.outcome.as_str(), delivered.ticket_id) {
        crate::helpcenter::deflect::after_mail_ticket(store, ticket_id, from_a_person, now).await;
    }
    Ok(delivered)
}

/// An agent takes a mail out of the review queue: into `ticket_id` (its sender becomes a
/// participant, so later mail joins by itself), or as a new ticket for its sender. The mail is
/// delivered like any other (and deduplicated by Message-ID), then the review entry is settled.
pub async fn accept_review(
    store: &dyn Store,
    intake_id: i64,
    ticket_id: Option<i64>,
    actor: tend_core::Actor,
    now: DateTime<Utc>,
) -> Result<MailDelivered, StoreError> {
    let entry = store.get_mail_intake(intake_id).await?;
    if entry.outcome != "review" {
        return Err(StoreError::Conflict(format!(
            "this mail is not waiting for review: it was {}",
            entry.outcome
        )));
    }
    let raw = store.raw_mail(intake_id).await?;
    let (raw, parsed) = parse_off_thread(raw).await.map_err(StoreError::Backend)?;
    let mut mail = parsed.map_err(|r| StoreError::invalid("mail", r.reason.to_string()))?;
    scrub(&mut mail);
    let sender = mail
        .sender_key()
        .ok_or_else(|| StoreError::invalid("mail", "the mail has no sender address to answer"))?;
    let mailbox = match entry.mailbox_id {
        Some(id) => store
            .list_mailboxes()
            .await?
            .into_iter()
            .find(|m| m.id == id),
        None => None,
    };
    let system = tend_core::Viewer {
        agent_id: 0,
        role: tend_core::Role::Admin,
        group_ids: vec![],
    };
    let action = match ticket_id {
        Some(t) => {
            let ticket = store.get_ticket(t, &system).await?;
            MailAction::Append {
                ticket_id: t,
                message: message_of(&mail, true),
                reopen_to: (!ticket.status.is_open() || ticket.status == Status::Pending)
                    .then_some(Status::Open),
                participants: vec![sender.clone()],
            }
        }
        None => new_ticket_for(
            &mail,
            &Noise::default(),
            &sender,
            mail.from.as_ref().and_then(|m| m.name.clone()),
            false,
            mailbox.as_ref(),
            &HashSet::new(),
            &MailKnowledge::default(),
            None,
        ),
    };
    let d = MailDelivery {
        mailbox_id: entry.mailbox_id,
        source: "review".into(),
        message_id: mail.message_id.clone(),
        sender: Some(sender),
        subject: mail.subject.chars().take(250).collect(),
        meta: meta_of(&mail),
        action,
        imap_uid: None,
        raw,
    };
    let delivered = store.deliver_mail(d, now).await?;
    let reason = match delivered.ticket_id {
        Some(t) => format!("accepted into #{t} (intake {})", delivered.intake_id),
        None => format!("accepted (intake {})", delivered.intake_id),
    };
    store
        .resolve_intake(
            intake_id,
            "accepted",
            &reason,
            delivered.ticket_id,
            actor,
            now,
        )
        .await?;
    Ok(delivered)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use tend_store::mail::TicketMailInfo;

    fn mailbox(policy: ClosedPolicy) -> Mailbox {
        Mailbox {
            id: 1,
            address: "support@shop.example".into(),
            name: "Support".into(),
            group_id: Some(7),
            brand_id: None,
            closed_policy: policy,
            auto_ack: true,
            imap: None,
            active: true,
            created_at: chrono::Utc::now(),
        }
    }

    fn mail(extra_headers: &str, body: &str) -> Inbound {
        let raw = format!(
            "From: Ann Buyer <ann@example.com>\r\nTo: support@shop.example\r\nCc: bob@example.com, support@shop.example\r\nSubject: Where is my order?\r\nMessage-ID: <m1@example.com>\r\n{extra_headers}\r\n{body}\r\n"
        );
        tend_mail::parse(raw.as_bytes()).unwrap()
    }

    fn known_ticket(id: i64, status: Status) -> MailKnowledge {
        let mut k = MailKnowledge::default();
        k.tickets.insert(
            id,
            TicketMailInfo {
                status,
                participants: vec!["ann@example.com".into()],
            },
        );
        k.ticket_by_message_id = HashMap::from([("out1@shop.example".to_string(), id)]);
        k
    }

    const OURS: &[&str] = &["support@shop.example"];

    fn ours() -> Vec<String> {
        OURS.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_new_mail_opens_a_ticket_in_the_mailbox_group_with_ccs() {
        let m = mail("", "Hello");
        let n = classify(&m);
        let k = MailKnowledge::default();
        let d = thread(
            &m,
            &ThreadingContext {
                secret: b"s",
                store: &Known(&k),
            },
        );
        let mb = mailbox(ClosedPolicy::FollowUp);
        match plan(&m, &n, d, &k, Some(&mb), &ours()) {
            MailAction::NewTicket {
                ticket,
                participants,
                auto_ack,
                follow_up_of,
            } => {
                assert_eq!(ticket.group_id, Some(7));
                assert_eq!(ticket.channel, Channel::Email);
                assert_eq!(participants, vec!["bob@example.com".to_string()]);
                assert!(auto_ack);
                assert_eq!(follow_up_of, None);
                match ticket.requester {
                    RequesterRef::Email { email, name } => {
                        assert_eq!(email, "ann@example.com");
                        assert_eq!(name.as_deref(), Some("Ann Buyer"));
                    }
                    other => panic!("{other:?}"),
                }
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_reply_reopens_a_solved_ticket_and_follows_up_a_closed_one() {
        let m = mail("In-Reply-To: <out1@shop.example>\r\n", "Thanks, but");
        let n = classify(&m);
        for (status, policy, expect_new) in [
            (Status::Solved, ClosedPolicy::FollowUp, false),
            (Status::Closed, ClosedPolicy::Reopen, false),
            (Status::Closed, ClosedPolicy::FollowUp, true),
        ] {
            let k = known_ticket(5, status);
            let d = thread(
                &m,
                &ThreadingContext {
                    secret: b"s",
                    store: &Known(&k),
                },
            );
            let mb = mailbox(policy);
            match plan(&m, &n, d, &k, Some(&mb), &ours()) {
                MailAction::Append {
                    ticket_id,
                    reopen_to,
                    ..
                } => {
                    assert!(!expect_new);
                    assert_eq!(ticket_id, 5);
                    assert_eq!(reopen_to, Some(Status::Open));
                }
                MailAction::NewTicket { follow_up_of, .. } => {
                    assert!(expect_new);
                    assert_eq!(follow_up_of, Some(5));
                }
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn automatic_mail_never_opens_tickets_nor_reopens_them() {
        let m = mail("Auto-Submitted: auto-replied\r\n", "I am away");
        let n = classify(&m);
        let k = MailKnowledge::default();
        let d = thread(
            &m,
            &ThreadingContext {
                secret: b"s",
                store: &Known(&k),
            },
        );
        assert!(matches!(
            plan(&m, &n, d, &k, None, &ours()),
            MailAction::Review { .. }
        ));

        let m = mail(
            "Auto-Submitted: auto-replied\r\nIn-Reply-To: <out1@shop.example>\r\n",
            "I am away",
        );
        let k = known_ticket(5, Status::Pending);
        let d = thread(
            &m,
            &ThreadingContext {
                secret: b"s",
                store: &Known(&k),
            },
        );
        match plan(&m, &classify(&m), d, &k, None, &ours()) {
            MailAction::Append {
                message, reopen_to, ..
            } => {
                assert!(!message.public);
                assert_eq!(reopen_to, None);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_flooding_sender_waits_in_review_and_our_own_address_is_a_loop() {
        let m = mail("", "spam");
        let k = MailKnowledge {
            recent_from_sender: SENDER_LIMIT_PER_HOUR,
            ..Default::default()
        };
        let d = thread(
            &m,
            &ThreadingContext {
                secret: b"s",
                store: &Known(&k),
            },
        );
        assert!(matches!(
            plan(&m, &classify(&m), d, &k, None, &ours()),
            MailAction::Review { .. }
        ));

        let raw =
            "From: support+x@shop.example\r\nTo: support@shop.example\r\nSubject: x\r\n\r\nx\r\n";
        let m = tend_mail::parse(raw.as_bytes()).unwrap();
        let k = MailKnowledge::default();
        let d = thread(
            &m,
            &ThreadingContext {
                secret: b"s",
                store: &Known(&k),
            },
        );
        assert!(matches!(
            plan(&m, &classify(&m), d, &k, None, &ours()),
            MailAction::Drop { ref outcome, .. } if outcome == "rejected"
        ));
    }

    #[test]
    fn nul_bytes_become_spaces_and_quote_offsets_stay_valid() {
        let mut m = mail("", "new\0text\r\n\r\nOn Mon, Ann wrote:\r\n> old");
        let q = m.quote.quote_start.unwrap();
        scrub(&mut m);
        assert!(!m.body_text.contains('\0'));
        assert!(m.body_text[q..].starts_with("On Mon"));
    }

    #[test]
    fn the_question_names_every_id_and_token_once() {
        let secret = b"k";
        let tag = tend_mail::subject_tag(secret, 42);
        let m = mail(
            &format!("In-Reply-To: <a@x>\r\nReferences: <r@x> <a@x>\r\nX-Subject-Tag: {tag}\r\n"),
            "hi",
        );
        let q = question(&m, secret, chrono::Utc::now());
        assert_eq!(q.message_ids, vec!["m1@example.com", "a@x", "r@x"]);
        assert_eq!(q.sender.as_deref(), Some("ann@example.com"));
        assert!(q.ticket_ids.is_empty());
        let raw = format!("From: ann@example.com\r\nTo: support@shop.example\r\nSubject: Re: hello {tag}\r\n\r\nx\r\n");
        let m = tend_mail::parse(raw.as_bytes()).unwrap();
        assert_eq!(
            question(&m, secret, chrono::Utc::now()).ticket_ids,
            vec![42]
        );
    }

    #[test]
    fn base_addresses_drop_plus_tags() {
        assert_eq!(
            base_address("Support+t1.abc@Shop.Example"),
            "support@shop.example"
        );
        assert_eq!(base_address("<a@b>"), "a@b");
    }
}
