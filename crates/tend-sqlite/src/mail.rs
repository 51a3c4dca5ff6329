//! The e-mail channel's storage: mailboxes, the intake log, Message-IDs, CCs, bounces, IMAP
//! progress. One received mail is one write: logged, deduplicated and applied together.

use crate::conv::{append_event, audit, is_unique, load_ticket, time, to_json, us};
use crate::people::{customer_id_by_identity, insert_customer};
use crate::tickets::{
    check_group, create_ticket_tx, insert_message, message_attachments, message_row, save_ticket,
    schedule_sla, MESSAGE_COLS,
};
use crate::{db, SqliteStore};
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension, Row};
use tend_core::ticket::apply;
use tend_core::{Actor, Change};
use tend_store::mail::*;
use tend_store::*;

const MAILBOX_COLS: &str =
    "id, address, name, group_id, brand_id, closed_policy, auto_ack, imap, active, created_at";

fn mailbox_row(r: &Row) -> rusqlite::Result<Mailbox> {
    let imap: Option<String> = r.get(7)?;
    Ok(Mailbox {
        id: r.get(0)?,
        address: r.get(1)?,
        name: r.get(2)?,
        group_id: r.get(3)?,
        brand_id: r.get(4)?,
        closed_policy: ClosedPolicy::parse(&r.get::<_, String>(5)?).unwrap_or_default(),
        auto_ack: r.get(6)?,
        imap: imap.and_then(|s| serde_json::from_str(&s).ok()),
        active: r.get(8)?,
        created_at: time(r.get(9)?),
    })
}

const INTAKE_COLS: &str = "id, received_at, mailbox_id, source, message_id, sender, subject, outcome, reason, ticket_id, message_row, size";

fn intake_row(r: &Row) -> rusqlite::Result<IntakeEntry> {
    Ok(IntakeEntry {
        id: r.get(0)?,
        received_at: time(r.get(1)?),
        mailbox_id: r.get(2)?,
        source: r.get(3)?,
        message_id: r.get(4)?,
        sender: r.get(5)?,
        subject: r.get(6)?,
        outcome: r.get(7)?,
        reason: r.get(8)?,
        ticket_id: r.get(9)?,
        message_row: r.get(10)?,
        size: r.get(11)?,
    })
}

fn ticket_of_message_id(c: &Connection, id: &str) -> Result<Option<i64>> {
    c.prepare_cached("SELECT ticket_id FROM mail_ids WHERE message_id = ?1")
        .map_err(db)?
        .query_row([id], |r| r.get(0))
        .optional()
        .map_err(db)
}

/// The requester's e-mail identities and the ticket's CCs, lower-cased.
fn participants(c: &Connection, ticket_id: i64, requester_id: i64) -> Result<Vec<String>> {
    let mut out: Vec<String> = c
        .prepare_cached("SELECT lower(value) FROM customer_identities WHERE customer_id = ?1 AND kind = 'email' ORDER BY id")
        .map_err(db)?
        .query_map([requester_id], |r| r.get(0))
        .map_err(db)?
        .collect::<rusqlite::Result<_>>()
        .map_err(db)?;
    let cc: Vec<String> = c
        .prepare_cached("SELECT lower(address) FROM ticket_participants WHERE ticket_id = ?1")
        .map_err(db)?
        .query_map([ticket_id], |r| r.get(0))
        .map_err(db)?
        .collect::<rusqlite::Result<_>>()
        .map_err(db)?;
    for a in cc {
        if !out.contains(&a) {
            out.push(a);
        }
    }
    Ok(out)
}

fn add_participants(c: &Connection, ticket_id: i64, addresses: &[String]) -> Result<()> {
    for a in addresses {
        c.prepare_cached(
            "INSERT OR IGNORE INTO ticket_participants(ticket_id, address) VALUES (?1, lower(?2))",
        )
        .map_err(db)?
        .execute(params![ticket_id, a])
        .map_err(db)?;
    }
    Ok(())
}

fn insert_mail_id(
    c: &Connection,
    message_id: &str,
    ticket_id: i64,
    message_row: Option<i64>,
    direction: &str,
    refs: &[String],
) -> Result<()> {
    c.prepare_cached("INSERT OR IGNORE INTO mail_ids(message_id, ticket_id, message_row, direction, refs) VALUES (?1, ?2, ?3, ?4, ?5)")
        .map_err(db)?
        .execute(params![message_id, ticket_id, message_row, direction, to_json(&refs)])
        .map_err(db)?;
    Ok(())
}

/// The customer who wrote a mail: found by address, else created.
fn customer_for(c: &Connection, address: &str, now: DateTime<Utc>) -> Result<i64> {
    if let Some(id) = customer_id_by_identity(c, IdentityKind::Email, address)? {
        return Ok(id);
    }
    insert_customer(
        c,
        &NewCustomer {
            name: address.split('@').next().unwrap_or(address).to_string(),
            identities: vec![Identity {
                kind: IdentityKind::Email,
                value: address.to_string(),
            }],
            ..Default::default()
        },
        now,
    )
}

fn with_intake(m: &mut NewMessage, intake_id: i64) {
    if let Some(meta) = m.mail.as_mut() {
        meta.intake_id = Some(intake_id);
    }
}

fn deliver_tx(c: &Connection, mut d: MailDelivery, now: DateTime<Utc>) -> Result<MailDelivered> {
    if let Some(mb) = d.mailbox_id {
        if let Some((validity, uid)) = d.imap_uid {
            c.prepare_cached("INSERT INTO imap_state(mailbox_id, uid_validity, last_uid) VALUES (?1, ?2, ?3) \
                ON CONFLICT(mailbox_id) DO UPDATE SET last_uid = CASE WHEN uid_validity = excluded.uid_validity THEN MAX(last_uid, excluded.last_uid) ELSE excluded.last_uid END, uid_validity = excluded.uid_validity")
                .map_err(db)?
                .execute(params![mb, validity, uid])
                .map_err(db)?;
        }
    }
    let sha = tend_store::sha256_hex(&d.raw);
    c.prepare_cached("INSERT OR IGNORE INTO blobs(sha256, data) VALUES (?1, ?2)")
        .map_err(db)?
        .execute(params![sha, d.raw])
        .map_err(db)?;
    // A Message-ID we already hold: a second delivery of the same mail.
    if let Some(mid) = d.message_id.as_deref() {
        if let Some(t) = ticket_of_message_id(c, mid)? {
            d.action = MailAction::Drop {
                outcome: "duplicate".into(),
                ticket_id: Some(t),
                reason: format!("Message-ID <{mid}> was already received"),
            };
        }
    }
    let (reason, pre_ticket) = match &d.action {
        MailAction::Review { reason, ticket_id } => (reason.clone(), *ticket_id),
        MailAction::Drop {
            reason, ticket_id, ..
        } => (reason.clone(), *ticket_id),
        MailAction::Bounce {
            address, ticket_id, ..
        } => (
            format!(
                "bounce for {}",
                address.as_deref().unwrap_or("an unknown address")
            ),
            *ticket_id,
        ),
        _ => (String::new(), None),
    };
    let outcome = d.action.outcome().to_string();
    c.prepare_cached("INSERT INTO mail_intake(received_at, mailbox_id, source, message_id, sender, subject, outcome, reason, ticket_id, raw_sha256, size) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)")
        .map_err(db)?
        .execute(params![us(now), d.mailbox_id, d.source, d.message_id, d.sender, d.subject, outcome, reason, pre_ticket, sha, d.raw.len() as i64])
        .map_err(db)?;
    let intake_id = c.last_insert_rowid();
    let refs: Vec<String> = d.meta.in_reply_to.clone();
    let (ticket_id, message_row) = match d.action {
        MailAction::NewTicket {
            mut ticket,
            participants: cc,
            follow_up_of,
            auto_ack,
        } => {
            if let Some(m) = ticket.message.as_mut() {
                with_intake(m, intake_id);
            }
            let t = create_ticket_tx(c, *ticket, Actor::SYSTEM, now)?.value;
            add_participants(c, t.id, &cc)?;
            let msg: Option<i64> = c
                .prepare_cached("SELECT MIN(id) FROM messages WHERE ticket_id = ?1")
                .map_err(db)?
                .query_row([t.id], |r| r.get(0))
                .map_err(db)?;
            if let Some(old) = follow_up_of {
                if load_ticket(c, old)?.is_some() {
                    let seq = append_event(
                        c,
                        t.id,
                        Actor::SYSTEM,
                        now,
                        &Change::Linked {
                            ticket_id: old,
                            relation: "follow_up_of".into(),
                        },
                        true,
                    )?;
                    let seq_old = append_event(
                        c,
                        old,
                        Actor::SYSTEM,
                        now,
                        &Change::Linked {
                            ticket_id: t.id,
                            relation: "followed_up_by".into(),
                        },
                        true,
                    )?;
                    for (id, s) in [(t.id, seq), (old, seq_old)] {
                        c.prepare_cached("UPDATE tickets SET last_seq = ?2 WHERE id = ?1")
                            .map_err(db)?
                            .execute(params![id, s])
                            .map_err(db)?;
                    }
                }
            }
            if auto_ack {
                crate::jobs::enqueue(
                    c,
                    MAIL_ACK_JOB,
                    &serde_json::json!({ "ticket_id": t.id, "message_id": msg, "mailbox_id": d.mailbox_id }),
                    now,
                    10,
                    now,
                )?;
            }
            (Some(t.id), msg)
        }
        MailAction::Append {
            ticket_id,
            mut message,
            reopen_to,
            participants: cc,
        } => {
            let mut t = load_ticket(c, ticket_id)?.ok_or(StoreError::NotFound("ticket"))?;
            with_intake(&mut message, intake_id);
            let author = match d.sender.as_deref() {
                Some(a) => Actor::customer(customer_for(c, a, now)?),
                None => Actor::customer(t.requester_id),
            };
            let msg = insert_message(c, ticket_id, author, &message, now)?;
            let mut seq = append_event(
                c,
                ticket_id,
                author,
                now,
                &Change::MessageAdded {
                    time_spent_seconds: None,
                    message_id: msg.id,
                    public: message.public,
                },
                true,
            )?;
            let old_tags = t.tags.clone();
            t.updated_at = now;
            t.last_seq = seq;
            if let Some(to) = reopen_to.filter(|to| *to != t.status) {
                let ch = Change::StatusChanged { from: t.status, to };
                seq = append_event(c, ticket_id, author, now, &ch, true)?;
                apply(&mut t, &ch, seq, now);
            }
            t.last_seq = seq;
            save_ticket(c, &t, &old_tags)?;
            add_participants(c, ticket_id, &cc)?;
            schedule_sla(c, ticket_id, now)?;
            (Some(ticket_id), Some(msg.id))
        }
        MailAction::Bounce {
            ticket_id,
            address,
            permanent,
            note,
        } => {
            if let Some(a) = &address {
                c.prepare_cached("INSERT INTO bounced_addresses(address, bounced_at, permanent, reason) VALUES (?1, ?2, ?3, ?4) \
                    ON CONFLICT(address) DO UPDATE SET bounced_at = excluded.bounced_at, permanent = MAX(permanent, excluded.permanent), reason = excluded.reason")
                    .map_err(db)?
                    .execute(params![a, us(now), permanent, reason])
                    .map_err(db)?;
            }
            let mut row = None;
            if let (Some(tid), Some(mut note)) = (ticket_id, note) {
                if load_ticket(c, tid)?.is_some() {
                    with_intake(&mut note, intake_id);
                    let msg = insert_message(c, tid, Actor::SYSTEM, &note, now)?;
                    let seq = append_event(
                        c,
                        tid,
                        Actor::SYSTEM,
                        now,
                        &Change::MessageAdded {
                            time_spent_seconds: None,
                            message_id: msg.id,
                            public: false,
                        },
                        true,
                    )?;
                    c.prepare_cached("UPDATE tickets SET last_seq = ?2 WHERE id = ?1")
                        .map_err(db)?
                        .execute(params![tid, seq])
                        .map_err(db)?;
                    row = Some(msg.id);
                }
            }
            (ticket_id, row)
        }
        MailAction::Review { ticket_id, .. } => (ticket_id, None),
        MailAction::Drop { ticket_id, .. } => (ticket_id, None),
    };
    if outcome == "created" || outcome == "appended" {
        if let (Some(mid), Some(t)) = (d.message_id.as_deref(), ticket_id) {
            insert_mail_id(c, mid, t, message_row, "in", &refs)?;
        }
    }
    c.prepare_cached("UPDATE mail_intake SET ticket_id = ?2, message_row = ?3 WHERE id = ?1")
        .map_err(db)?
        .execute(params![intake_id, ticket_id, message_row])
        .map_err(db)?;
    Ok(MailDelivered {
        intake_id,
        outcome,
        ticket_id,
        message_id: message_row,
    })
}

fn knowledge(c: &Connection, q: &MailQuestion) -> Result<MailKnowledge> {
    let mut k = MailKnowledge::default();
    for id in &q.message_ids {
        if let Some(t) = ticket_of_message_id(c, id)? {
            k.ticket_by_message_id.insert(id.clone(), t);
        }
    }
    let mut ids: Vec<i64> = q.ticket_ids.clone();
    ids.extend(k.ticket_by_message_id.values().copied());
    ids.sort_unstable();
    ids.dedup();
    for id in ids {
        if let Some(t) = load_ticket(c, id)? {
            k.tickets.insert(
                id,
                TicketMailInfo {
                    status: t.status,
                    participants: participants(c, id, t.requester_id)?,
                },
            );
        }
    }
    for a in &q.addresses {
        let staff: bool = c
            .prepare_cached("SELECT EXISTS(SELECT 1 FROM agents WHERE email = ?1 AND active = 1)")
            .map_err(db)?
            .query_row([a], |r| r.get(0))
            .map_err(db)?;
        if staff {
            k.staff.insert(a.to_lowercase());
        }
        let bounced: bool = c
            .prepare_cached("SELECT EXISTS(SELECT 1 FROM bounced_addresses WHERE address = ?1 AND permanent = 1)")
            .map_err(db)?
            .query_row([a], |r| r.get(0))
            .map_err(db)?;
        if bounced {
            k.bounced.insert(a.to_lowercase());
        }
    }
    if let (Some(s), Some(since)) = (&q.sender, q.since) {
        k.recent_from_sender = c
            .prepare_cached(
                "SELECT COUNT(*) FROM mail_intake WHERE sender = ?1 AND received_at >= ?2",
            )
            .map_err(db)?
            .query_row(params![s, us(since)], |r| r.get(0))
            .map_err(db)?;
    }
    Ok(k)
}

fn outbound(c: &Connection, ticket_id: i64) -> Result<OutboundContext> {
    let t = load_ticket(c, ticket_id)?.ok_or(StoreError::NotFound("ticket"))?;
    let requester_name: String = c
        .prepare_cached("SELECT name FROM customers WHERE id = ?1")
        .map_err(db)?
        .query_row([t.requester_id], |r| r.get(0))
        .map_err(db)?;
    let requester_emails: Vec<String> = c
        .prepare_cached("SELECT value FROM customer_identities WHERE customer_id = ?1 AND kind = 'email' ORDER BY id")
        .map_err(db)?
        .query_map([t.requester_id], |r| r.get(0))
        .map_err(db)?
        .collect::<rusqlite::Result<_>>()
        .map_err(db)?;
    let cc: Vec<String> = c
        .prepare_cached(
            "SELECT address FROM ticket_participants WHERE ticket_id = ?1 ORDER BY address",
        )
        .map_err(db)?
        .query_map([ticket_id], |r| r.get(0))
        .map_err(db)?
        .collect::<rusqlite::Result<Vec<String>>>()
        .map_err(db)?
        .into_iter()
        .filter(|a| !requester_emails.iter().any(|r| r.eq_ignore_ascii_case(a)))
        .collect();
    let mut bounced = std::collections::HashSet::new();
    for a in requester_emails.iter().chain(&cc) {
        let b: bool = c
            .prepare_cached("SELECT EXISTS(SELECT 1 FROM bounced_addresses WHERE address = ?1 AND permanent = 1)")
            .map_err(db)?
            .query_row([a], |r| r.get(0))
            .map_err(db)?;
        if b {
            bounced.insert(a.to_lowercase());
        }
    }
    let mailbox_id: Option<i64> = c
        .prepare_cached("SELECT mailbox_id FROM mail_intake WHERE ticket_id = ?1 AND mailbox_id IS NOT NULL ORDER BY id LIMIT 1")
        .map_err(db)?
        .query_row([ticket_id], |r| r.get(0))
        .optional()
        .map_err(db)?;
    let mailbox = match mailbox_id {
        Some(id) => c
            .prepare_cached(&format!(
                "SELECT {MAILBOX_COLS} FROM mailboxes WHERE id = ?1"
            ))
            .map_err(db)?
            .query_row([id], mailbox_row)
            .optional()
            .map_err(db)?,
        None => None,
    };
    let mailbox = match mailbox {
        Some(m) => Some(m),
        None => c
            .prepare_cached(&format!("SELECT {MAILBOX_COLS} FROM mailboxes WHERE active = 1 AND (group_id IS ?1 OR group_id IS NULL) ORDER BY group_id IS NULL, id LIMIT 1"))
            .map_err(db)?
            .query_row([t.group_id], mailbox_row)
            .optional()
            .map_err(db)?,
    };
    // Answer the customer's newest mail; else continue our own newest one.
    let parent: Option<(String, String)> = c
        .prepare_cached("SELECT message_id, refs FROM mail_ids WHERE ticket_id = ?1 ORDER BY direction = 'in' DESC, id DESC LIMIT 1")
        .map_err(db)?
        .query_row([ticket_id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()
        .map_err(db)?;
    let (parent_message_id, parent_references) = match parent {
        Some((id, refs)) => (Some(id), serde_json::from_str(&refs).unwrap_or_default()),
        None => (None, vec![]),
    };
    Ok(OutboundContext {
        ticket_id,
        subject: t.subject,
        status: t.status,
        requester_name,
        requester_emails,
        cc,
        bounced,
        mailbox,
        parent_message_id,
        parent_references,
    })
}

impl SqliteStore {
    pub(crate) async fn create_mailbox_impl(
        &self,
        new: NewMailbox,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<Mailbox> {
        self.write(move |c| {
            check_group(c, new.group_id)?;
            let address = new.address.trim().to_lowercase();
            c.execute(
                "INSERT INTO mailboxes(address, name, group_id, brand_id, closed_policy, auto_ack, imap, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![address, new.name, new.group_id, new.brand_id, new.closed_policy.as_str(), new.auto_ack, new.imap.as_ref().map(to_json), us(now)],
            )
            .map_err(|e| if is_unique(&e) { StoreError::Conflict(format!("a mailbox for {address} exists already")) } else { db(e) })?;
            let id = c.last_insert_rowid();
            audit(c, actor, "mailbox.created", format!("mailbox:{id}"), serde_json::json!({ "address": address }), now)?;
            c.query_row(&format!("SELECT {MAILBOX_COLS} FROM mailboxes WHERE id = ?1"), [id], mailbox_row).map_err(db)
        })
        .await
    }

    pub(crate) async fn update_mailbox_impl(
        &self,
        id: i64,
        up: MailboxUpdate,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<Mailbox> {
        self.write(move |c| {
            let mut m = c
                .query_row(&format!("SELECT {MAILBOX_COLS} FROM mailboxes WHERE id = ?1"), [id], mailbox_row)
                .optional()
                .map_err(db)?
                .ok_or(StoreError::NotFound("mailbox"))?;
            let changed = up.apply(&mut m)?;
            if changed.is_empty() {
                return Ok(m);
            }
            check_group(c, m.group_id)?;
            let address = m.address.clone();
            c.execute(
                "UPDATE mailboxes SET address = ?2, name = ?3, group_id = ?4, brand_id = ?5, closed_policy = ?6, auto_ack = ?7, imap = ?8, active = ?9 WHERE id = ?1",
                params![id, m.address, m.name, m.group_id, m.brand_id, m.closed_policy.as_str(), m.auto_ack, m.imap.as_ref().map(to_json), m.active],
            )
            .map_err(|e| if is_unique(&e) { StoreError::Conflict(format!("a mailbox for {address} exists already")) } else { db(e) })?;
            audit(c, actor, "mailbox.updated", format!("mailbox:{id}"), serde_json::json!({ "address": m.address, "changed": changed }), now)?;
            Ok(m)
        })
        .await
    }

    pub(crate) async fn list_mailboxes_impl(&self) -> Result<Vec<Mailbox>> {
        self.read(|c| {
            c.prepare_cached(&format!("SELECT {MAILBOX_COLS} FROM mailboxes ORDER BY id"))
                .map_err(db)?
                .query_map([], mailbox_row)
                .map_err(db)?
                .collect::<rusqlite::Result<_>>()
                .map_err(db)
        })
        .await
    }

    pub(crate) async fn mail_knowledge_impl(&self, q: MailQuestion) -> Result<MailKnowledge> {
        self.read(move |c| knowledge(c, &q)).await
    }

    pub(crate) async fn deliver_mail_impl(
        &self,
        d: MailDelivery,
        now: DateTime<Utc>,
    ) -> Result<MailDelivered> {
        self.write(move |c| deliver_tx(c, d, now)).await
    }

    pub(crate) async fn list_mail_intake_impl(
        &self,
        outcome: Option<String>,
        page: PageRequest,
    ) -> Result<Page<IntakeEntry>> {
        self.read(move |c| {
            let limit = page.limit.clamp(1, 500);
            let after = page.after_id.unwrap_or(i64::MAX);
            let items: Vec<IntakeEntry> = c
                .prepare_cached(&format!("SELECT {INTAKE_COLS} FROM mail_intake WHERE id < ?1 AND (?2 IS NULL OR outcome = ?2) ORDER BY id DESC LIMIT ?3"))
                .map_err(db)?
                .query_map(params![after, outcome, limit + 1], intake_row)
                .map_err(db)?
                .collect::<rusqlite::Result<_>>()
                .map_err(db)?;
            Ok(page_of(items, limit))
        })
        .await
    }

    pub(crate) async fn raw_mail_impl(&self, intake_id: i64) -> Result<Vec<u8>> {
        self.read(move |c| {
            c.prepare_cached("SELECT b.data FROM mail_intake i JOIN blobs b ON b.sha256 = i.raw_sha256 WHERE i.id = ?1")
                .map_err(db)?
                .query_row([intake_id], |r| r.get(0))
                .optional()
                .map_err(db)?
                .ok_or(StoreError::NotFound("mail"))
        })
        .await
    }

    pub(crate) async fn get_mail_intake_impl(&self, intake_id: i64) -> Result<IntakeEntry> {
        self.read(move |c| {
            c.prepare_cached(&format!(
                "SELECT {INTAKE_COLS} FROM mail_intake WHERE id = ?1"
            ))
            .map_err(db)?
            .query_row([intake_id], intake_row)
            .optional()
            .map_err(db)?
            .ok_or(StoreError::NotFound("mail"))
        })
        .await
    }

    pub(crate) async fn resolve_intake_impl(
        &self,
        intake_id: i64,
        outcome: String,
        reason: String,
        ticket_id: Option<i64>,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.write(move |c| {
            let n = c
                .prepare_cached("UPDATE mail_intake SET outcome = ?2, reason = ?3, ticket_id = COALESCE(?4, ticket_id) WHERE id = ?1 AND outcome = 'review'")
                .map_err(db)?
                .execute(params![intake_id, outcome, reason, ticket_id])
                .map_err(db)?;
            if n == 0 {
                let exists: bool = c.query_row("SELECT EXISTS(SELECT 1 FROM mail_intake WHERE id = ?1)", [intake_id], |r| r.get(0)).map_err(db)?;
                return Err(if exists { StoreError::Conflict("this mail is not waiting for review (anymore)".into()) } else { StoreError::NotFound("mail") });
            }
            audit(c, actor, &format!("mail.{outcome}"), format!("mail_intake:{intake_id}"), serde_json::json!({ "ticket_id": ticket_id }), now)
        })
        .await
    }

    pub(crate) async fn outbound_context_impl(&self, ticket_id: i64) -> Result<OutboundContext> {
        self.read(move |c| outbound(c, ticket_id)).await
    }

    pub(crate) async fn message_for_mail_impl(
        &self,
        ticket_id: i64,
        message_id: i64,
    ) -> Result<Message> {
        self.read(move |c| {
            let mut m = c
                .prepare_cached(&format!(
                    "SELECT {MESSAGE_COLS} FROM messages WHERE id = ?1 AND ticket_id = ?2"
                ))
                .map_err(db)?
                .query_row([message_id, ticket_id], message_row)
                .optional()
                .map_err(db)?
                .ok_or(StoreError::NotFound("message"))?;
            m.attachments = message_attachments(c, m.id)?;
            Ok(m)
        })
        .await
    }

    pub(crate) async fn record_outbound_mail_impl(
        &self,
        ticket_id: i64,
        message_row: Option<i64>,
        message_id: String,
        references: Vec<String>,
        meta: Option<MailMeta>,
    ) -> Result<()> {
        self.write(move |c| {
            insert_mail_id(c, &message_id, ticket_id, message_row, "out", &references)?;
            if let (Some(row), Some(meta)) = (message_row, meta) {
                c.prepare_cached("UPDATE messages SET mail = ?2 WHERE id = ?1 AND mail IS NULL")
                    .map_err(db)?
                    .execute(params![row, to_json(&meta)])
                    .map_err(db)?;
            }
            Ok(())
        })
        .await
    }

    pub(crate) async fn imap_state_impl(&self, mailbox_id: i64) -> Result<Option<(u32, u32)>> {
        self.read(move |c| {
            c.prepare_cached("SELECT uid_validity, last_uid FROM imap_state WHERE mailbox_id = ?1")
                .map_err(db)?
                .query_row([mailbox_id], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()
                .map_err(db)
        })
        .await
    }
}

fn page_of(mut items: Vec<IntakeEntry>, limit: i64) -> Page<IntakeEntry> {
    let more = items.len() as i64 > limit;
    items.truncate(limit as usize);
    let next_cursor = if more {
        items.last().map(|e| encode_id_cursor(e.id))
    } else {
        None
    };
    Page { items, next_cursor }
}
