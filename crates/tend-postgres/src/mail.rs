//! The e-mail channel's storage: mailboxes, the intake log, Message-IDs, CCs, bounces, IMAP
//! progress. One received mail is one transaction: logged, deduplicated and applied together.
//!
//! Concurrency: two app servers may receive the same mail at once (an SMTP retry, two IMAP
//! pollers). `deliver_mail` takes a transaction-scoped advisory lock keyed by the Message-ID
//! (`pg_advisory_xact_lock(MAIL_LOCK_NS, hashtext(message_id))`) *before* it looks the
//! Message-ID up in `mail_ids`: the second delivery waits until the first commits, and its
//! lookup (a new statement, so a new snapshot under READ COMMITTED) then sees the first one's
//! row and logs a `duplicate`. A hash collision only makes two unrelated mails wait for each
//! other. The unique index on `mail_ids.message_id` stays as the backstop.

use crate::admin::audit;
use crate::db::{execute, query, query_one, query_one_raw, query_opt, to_json, us, DbExt};
use crate::rows::{self, ATTACHMENT_COLS, MESSAGE_COLS, TICKET_COLS};
use crate::tickets::{
    check_group, create_ticket_tx, enqueue_webhooks, insert_events, insert_message, load_ticket,
    resolve_requester, save_ticket, schedule_sla,
};
use crate::PgStore;
use chrono::{DateTime, Utc};
use deadpool_postgres::{GenericClient, Transaction};
use sha2::{Digest, Sha256};
use std::collections::HashSet;
use tend_core::ticket::apply;
use tend_core::{Actor, Change};
use tend_store::mail::*;
use tend_store::*;
use tokio_postgres::Row;

type Now = DateTime<Utc>;

/// First key of the advisory locks that serialise deliveries of one Message-ID ("mail").
const MAIL_LOCK_NS: i32 = 0x6d61_696c;

const MAILBOX_COLS: &str = "b.id, b.address, b.name, b.group_id, b.brand_id, b.closed_policy, \
    b.auto_ack, b.imap, b.active, b.created_at";

fn mailbox_row(r: &Row) -> Mailbox {
    let imap: Option<serde_json::Value> = r.get(7);
    Mailbox {
        id: r.get(0),
        address: r.get(1),
        name: r.get(2),
        group_id: r.get(3),
        brand_id: r.get(4),
        closed_policy: ClosedPolicy::parse(r.get(5)).unwrap_or_default(),
        auto_ack: r.get(6),
        imap: imap.and_then(|v| serde_json::from_value(v).ok()),
        active: r.get(8),
        created_at: r.get(9),
    }
}

const INTAKE_COLS: &str = "i.id, i.received_at, i.mailbox_id, i.source, i.message_id, i.sender, \
    i.subject, i.outcome, i.reason, i.ticket_id, i.message_row, i.size";

fn intake_row(r: &Row) -> IntakeEntry {
    IntakeEntry {
        id: r.get(0),
        received_at: r.get(1),
        mailbox_id: r.get(2),
        source: r.get(3),
        message_id: r.get(4),
        sender: r.get(5),
        subject: r.get(6),
        outcome: r.get(7),
        reason: r.get(8),
        ticket_id: r.get(9),
        message_row: r.get(10),
        size: r.get(11),
    }
}

fn lower_all(addresses: &[String]) -> Vec<String> {
    addresses.iter().map(|a| a.to_lowercase()).collect()
}

async fn ticket_of_message_id<C: GenericClient>(c: &C, id: &str) -> Result<Option<i64>> {
    Ok(query_opt(
        c,
        "SELECT ticket_id FROM mail_ids WHERE message_id = $1",
        &[&id],
    )
    .await?
    .map(|r| r.get(0)))
}

/// The requester's e-mail identities and the ticket's CCs, lower-cased.
async fn participants<C: GenericClient>(
    c: &C,
    ticket_id: i64,
    requester_id: i64,
) -> Result<Vec<String>> {
    let mut out: Vec<String> = query(
        c,
        "SELECT lower(value) FROM customer_identities WHERE customer_id = $1 AND kind = 'email' ORDER BY id",
        &[&requester_id],
    )
    .await?
    .iter()
    .map(|r| r.get(0))
    .collect();
    let cc = query(
        c,
        "SELECT address FROM ticket_participants WHERE ticket_id = $1 ORDER BY address",
        &[&ticket_id],
    )
    .await?;
    for r in cc {
        let a: String = r.get(0);
        if !out.contains(&a) {
            out.push(a);
        }
    }
    Ok(out)
}

async fn add_participants<C: GenericClient>(
    c: &C,
    ticket_id: i64,
    addresses: &[String],
) -> Result<()> {
    if !addresses.is_empty() {
        execute(
            c,
            "INSERT INTO ticket_participants (ticket_id, address) SELECT $1, lower(a) FROM unnest($2::text[]) a \
             ON CONFLICT DO NOTHING",
            &[&ticket_id, &addresses],
        )
        .await?;
    }
    Ok(())
}

async fn insert_mail_id<C: GenericClient>(
    c: &C,
    message_id: &str,
    ticket_id: i64,
    message_row: Option<i64>,
    direction: &str,
    refs: &[String],
) -> Result<()> {
    let refs = to_json(&refs)?;
    execute(
        c,
        "INSERT INTO mail_ids (message_id, ticket_id, message_row, direction, refs) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (message_id) DO NOTHING",
        &[&message_id, &ticket_id, &message_row, &direction, &refs],
    )
    .await?;
    Ok(())
}

/// Those of `addresses` (lower-cased) that `sql` finds: it takes the candidates as `$1` and
/// returns the matching ones.
async fn matching<C: GenericClient>(
    c: &C,
    sql: &str,
    addresses: &[String],
) -> Result<HashSet<String>> {
    if addresses.is_empty() {
        return Ok(HashSet::new());
    }
    let lowered = lower_all(addresses);
    Ok(query(c, sql, &[&lowered])
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect())
}

/// Permanently bouncing addresses among `addresses`, lower-cased.
async fn bounced_among<C: GenericClient>(c: &C, addresses: &[String]) -> Result<HashSet<String>> {
    matching(
        c,
        "SELECT a FROM unnest($1::text[]) a WHERE EXISTS \
         (SELECT 1 FROM bounced_addresses b WHERE b.permanent AND lower(b.address) = lower(a))",
        addresses,
    )
    .await
}

fn with_intake(m: &mut NewMessage, intake_id: i64) {
    if let Some(meta) = m.mail.as_mut() {
        meta.intake_id = Some(intake_id);
    }
}

/// Appends events to one ticket, queues their webhook jobs, moves `last_seq` only.
async fn append_marks(
    tx: &Transaction<'_>,
    ticket_id: i64,
    changes: Vec<Change>,
    now: Now,
) -> Result<()> {
    let events: Vec<(Actor, Change, Now)> = changes
        .into_iter()
        .map(|c| (Actor::SYSTEM, c, now))
        .collect();
    let seqs = insert_events(tx, ticket_id, &events).await?;
    if let Some(last) = seqs.last() {
        execute(
            tx,
            "UPDATE tickets SET last_seq = $2 WHERE id = $1",
            &[&ticket_id, last],
        )
        .await?;
    }
    let kinds: Vec<(i64, &str)> = seqs
        .iter()
        .zip(&events)
        .map(|(seq, (_, c, _))| (*seq, c.kind()))
        .collect();
    enqueue_webhooks(tx, &kinds, now).await
}

async fn deliver_tx(tx: &Transaction<'_>, mut d: MailDelivery, now: Now) -> Result<MailDelivered> {
    // A Message-ID we already hold: a second delivery of the same mail. The lock (see the
    // module comment) makes a concurrent delivery of it wait for this transaction.
    if let Some(mid) = d.message_id.as_deref() {
        execute(
            tx,
            "SELECT pg_advisory_xact_lock($1, hashtext($2))",
            &[&MAIL_LOCK_NS, &mid],
        )
        .await?;
        if let Some(t) = ticket_of_message_id(tx, mid).await? {
            d.action = MailAction::Drop {
                outcome: "duplicate".into(),
                ticket_id: Some(t),
                reason: format!("Message-ID <{mid}> was already received"),
            };
        }
    }
    let sha = Sha256::digest(&d.raw).to_vec();
    execute(
        tx,
        "INSERT INTO blobs (sha256, data) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        &[&sha, &d.raw],
    )
    .await?;
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
    let size = d.raw.len() as i64;
    let intake_id: i64 = query_one(
        tx,
        "INSERT INTO mail_intake (received_at, mailbox_id, source, message_id, sender, subject, outcome, reason, \
         ticket_id, raw_sha256, size) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
        &[
            &now,
            &d.mailbox_id,
            &d.source,
            &d.message_id,
            &d.sender,
            &d.subject,
            &outcome,
            &reason,
            &pre_ticket,
            &sha,
            &size,
        ],
    )
    .await?
    .get(0);
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
            let t = create_ticket_tx(tx, *ticket, Actor::SYSTEM, now)
                .await?
                .value;
            add_participants(tx, t.id, &cc).await?;
            let msg: Option<i64> = query_one(
                tx,
                "SELECT min(id) FROM messages WHERE ticket_id = $1",
                &[&t.id],
            )
            .await?
            .get(0);
            if let Some(old) = follow_up_of {
                let exists = query_opt(
                    tx,
                    "SELECT id FROM tickets WHERE id = $1 FOR UPDATE",
                    &[&old],
                )
                .await?
                .is_some();
                if exists {
                    let link = |ticket_id, relation: &str| Change::Linked {
                        ticket_id,
                        relation: relation.into(),
                    };
                    append_marks(tx, t.id, vec![link(old, "follow_up_of")], now).await?;
                    append_marks(tx, old, vec![link(t.id, "followed_up_by")], now).await?;
                }
            }
            if auto_ack {
                crate::jobs::enqueue_on(
                    tx,
                    MAIL_ACK_JOB,
                    &serde_json::json!({ "ticket_id": t.id, "message_id": msg, "mailbox_id": d.mailbox_id }),
                    now,
                    10,
                )
                .await?;
            }
            (Some(t.id), msg)
        }
        MailAction::Append {
            ticket_id,
            mut message,
            reopen_to,
            participants: cc,
        } => {
            let mut t = load_ticket(tx, ticket_id, true).await?;
            with_intake(&mut message, intake_id);
            let author = match d.sender.as_deref().map(str::trim).filter(|a| !a.is_empty()) {
                Some(a) => {
                    let by = RequesterRef::Email {
                        email: a.to_string(),
                        name: None,
                    };
                    Actor::customer(resolve_requester(tx, &by, now).await?.0)
                }
                None => Actor::customer(t.requester_id),
            };
            let msg = insert_message(tx, ticket_id, author, &message, now).await?;
            let mut events = vec![(
                author,
                Change::MessageAdded {
                    time_spent_seconds: None,
                    message_id: msg.id,
                    public: message.public,
                },
                now,
            )];
            if let Some(to) = reopen_to.filter(|to| *to != t.status) {
                events.push((author, Change::StatusChanged { from: t.status, to }, now));
            }
            let seqs = insert_events(tx, ticket_id, &events).await?;
            for ((_, change, at), seq) in events.iter().zip(&seqs) {
                apply(&mut t, change, *seq, *at);
            }
            save_ticket(tx, &t).await?;
            let kinds: Vec<(i64, &str)> = seqs
                .iter()
                .zip(&events)
                .map(|(seq, (_, c, _))| (*seq, c.kind()))
                .collect();
            enqueue_webhooks(tx, &kinds, now).await?;
            add_participants(tx, ticket_id, &cc).await?;
            schedule_sla(tx, ticket_id, now).await?;
            (Some(ticket_id), Some(msg.id))
        }
        MailAction::Bounce {
            ticket_id,
            address,
            permanent,
            note,
        } => {
            if let Some(a) = &address {
                execute(
                    tx,
                    "INSERT INTO bounced_addresses (address, bounced_at, permanent, reason) VALUES (lower($1), $2, $3, $4) \
                     ON CONFLICT (lower(address)) DO UPDATE SET bounced_at = excluded.bounced_at, \
                     permanent = bounced_addresses.permanent OR excluded.permanent, reason = excluded.reason",
                    &[&a, &now, &permanent, &reason],
                )
                .await?;
            }
            let mut row = None;
            if let (Some(tid), Some(mut note)) = (ticket_id, note) {
                let exists = query_opt(
                    tx,
                    "SELECT id FROM tickets WHERE id = $1 FOR UPDATE",
                    &[&tid],
                )
                .await?
                .is_some();
                if exists {
                    with_intake(&mut note, intake_id);
                    let msg = insert_message(tx, tid, Actor::SYSTEM, &note, now).await?;
                    let added = Change::MessageAdded {
                        time_spent_seconds: None,
                        message_id: msg.id,
                        public: false,
                    };
                    append_marks(tx, tid, vec![added], now).await?;
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
            insert_mail_id(tx, mid, t, message_row, "in", &refs).await?;
        }
    }
    execute(
        tx,
        "UPDATE mail_intake SET ticket_id = $2, message_row = $3 WHERE id = $1",
        &[&intake_id, &ticket_id, &message_row],
    )
    .await?;
    // Last, so the mailbox's row is locked for as short a time as possible.
    if let (Some(mb), Some((validity, uid))) = (d.mailbox_id, d.imap_uid) {
        execute(
            tx,
            "INSERT INTO imap_state (mailbox_id, uid_validity, last_uid) VALUES ($1, $2, $3) \
             ON CONFLICT (mailbox_id) DO UPDATE SET last_uid = CASE WHEN imap_state.uid_validity = excluded.uid_validity \
             THEN GREATEST(imap_state.last_uid, excluded.last_uid) ELSE excluded.last_uid END, \
             uid_validity = excluded.uid_validity",
            &[&mb, &i64::from(validity), &i64::from(uid)],
        )
        .await?;
    }
    Ok(MailDelivered {
        intake_id,
        outcome,
        ticket_id,
        message_id: message_row,
    })
}

async fn knowledge<C: GenericClient>(c: &C, q: &MailQuestion) -> Result<MailKnowledge> {
    let mut k = MailKnowledge::default();
    if !q.message_ids.is_empty() {
        for r in query(
            c,
            "SELECT message_id, ticket_id FROM mail_ids WHERE message_id = ANY($1)",
            &[&q.message_ids],
        )
        .await?
        {
            k.ticket_by_message_id.insert(r.get(0), r.get(1));
        }
    }
    let mut ids: Vec<i64> = q.ticket_ids.clone();
    ids.extend(k.ticket_by_message_id.values().copied());
    ids.sort_unstable();
    ids.dedup();
    if !ids.is_empty() {
        let sql = format!("SELECT {TICKET_COLS} FROM tickets t WHERE t.id = ANY($1)");
        for r in query(c, &sql, &[&ids]).await? {
            let t = rows::ticket(&r)?;
            let participants = participants(c, t.id, t.requester_id).await?;
            k.tickets.insert(
                t.id,
                TicketMailInfo {
                    status: t.status,
                    participants,
                },
            );
        }
    }
    if !q.addresses.is_empty() {
        k.staff = matching(
            c,
            "SELECT a FROM unnest($1::text[]) a WHERE EXISTS \
             (SELECT 1 FROM agents g WHERE g.active AND lower(g.email) = lower(a))",
            &q.addresses,
        )
        .await?;
        k.bounced = bounced_among(c, &q.addresses).await?;
    }
    if let (Some(s), Some(since)) = (&q.sender, q.since) {
        k.recent_from_sender = query_one(
            c,
            "SELECT count(*) FROM mail_intake WHERE lower(sender) = lower($1) AND received_at >= $2",
            &[s, &us(since)],
        )
        .await?
        .get(0);
    }
    Ok(k)
}

async fn outbound<C: GenericClient>(c: &C, ticket_id: i64) -> Result<OutboundContext> {
    let t = load_ticket(c, ticket_id, false).await?;
    let requester_name: String = query_one(
        c,
        "SELECT name FROM customers WHERE id = $1",
        &[&t.requester_id],
    )
    .await?
    .get(0);
    let requester_emails: Vec<String> = query(
        c,
        "SELECT value FROM customer_identities WHERE customer_id = $1 AND kind = 'email' ORDER BY id",
        &[&t.requester_id],
    )
    .await?
    .iter()
    .map(|r| r.get(0))
    .collect();
    let cc: Vec<String> = query(
        c,
        "SELECT address FROM ticket_participants WHERE ticket_id = $1 ORDER BY address",
        &[&ticket_id],
    )
    .await?
    .iter()
    .map(|r| r.get::<_, String>(0))
    .filter(|a| !requester_emails.iter().any(|r| r.eq_ignore_ascii_case(a)))
    .collect();
    let everyone: Vec<String> = requester_emails.iter().chain(&cc).cloned().collect();
    let bounced = bounced_among(c, &everyone).await?;
    // The mailbox the ticket came in through; else the group's, else one for any group.
    let sql = format!(
        "SELECT {MAILBOX_COLS} FROM mailboxes b WHERE b.id = \
         (SELECT mailbox_id FROM mail_intake WHERE ticket_id = $1 AND mailbox_id IS NOT NULL ORDER BY id LIMIT 1)"
    );
    let mailbox = match query_opt(c, &sql, &[&ticket_id]).await? {
        Some(r) => Some(mailbox_row(&r)),
        None => {
            let sql = format!(
                "SELECT {MAILBOX_COLS} FROM mailboxes b WHERE b.active \
                 AND (b.group_id IS NOT DISTINCT FROM $1 OR b.group_id IS NULL) \
                 ORDER BY b.group_id IS NULL, b.id LIMIT 1"
            );
            query_opt(c, &sql, &[&t.group_id])
                .await?
                .map(|r| mailbox_row(&r))
        }
    };
    // Answer the customer's newest mail; else continue our own newest one.
    let parent = query_opt(
        c,
        "SELECT message_id, refs FROM mail_ids WHERE ticket_id = $1 ORDER BY direction = 'in' DESC, id DESC LIMIT 1",
        &[&ticket_id],
    )
    .await?;
    let (parent_message_id, parent_references) = match parent {
        Some(r) => (
            Some(r.get::<_, String>(0)),
            serde_json::from_value(r.get(1)).unwrap_or_default(),
        ),
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

fn u32_of(what: &str, v: i64) -> Result<u32> {
    u32::try_from(v).map_err(|_| StoreError::Backend(format!("stored {what} {v} is not a u32")))
}

// --- the Store methods -------------------------------------------------------------------

pub(crate) async fn create_mailbox(
    s: &PgStore,
    new: NewMailbox,
    actor: Actor,
    now: Now,
) -> Result<Mailbox> {
    let now = us(now);
    let mut c = s.conn().await?;
    let tx = c.transaction().await.db()?;
    if let Some(g) = new.group_id {
        check_group(&tx, g).await?;
    }
    let address = new.address.trim().to_lowercase();
    let imap = new.imap.as_ref().map(to_json).transpose()?;
    let sql = format!(
        "INSERT INTO mailboxes AS b (address, name, group_id, brand_id, closed_policy, auto_ack, imap, active, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, TRUE, $8) RETURNING {MAILBOX_COLS}"
    );
    let row = query_one_raw(
        &tx,
        &sql,
        &[
            &address,
            &new.name,
            &new.group_id,
            &new.brand_id,
            &new.closed_policy.as_str(),
            &new.auto_ack,
            &imap,
            &now,
        ],
    )
    .await
    .unique(|| format!("a mailbox for {address} exists already"))?;
    let mailbox = mailbox_row(&row);
    audit(
        &tx,
        actor,
        "mailbox.created",
        format!("mailbox:{}", mailbox.id),
        serde_json::json!({ "address": address }),
        now,
    )
    .await?;
    tx.commit().await.db()?;
    Ok(mailbox)
}

pub(crate) async fn update_mailbox(
    s: &PgStore,
    id: i64,
    up: MailboxUpdate,
    actor: Actor,
    now: Now,
) -> Result<Mailbox> {
    let now = us(now);
    let mut c = s.conn().await?;
    let tx = c.transaction().await.db()?;
    let row = query_opt(
        &tx,
        &format!("SELECT {MAILBOX_COLS} FROM mailboxes b WHERE b.id = $1 FOR UPDATE"),
        &[&id],
    )
    .await?
    .ok_or(StoreError::NotFound("mailbox"))?;
    let mut m = mailbox_row(&row);
    let changed = up.apply(&mut m)?;
    if changed.is_empty() {
        return Ok(m);
    }
    if let Some(g) = m.group_id {
        check_group(&tx, g).await?;
    }
    let imap = m.imap.as_ref().map(to_json).transpose()?;
    let address = m.address.clone();
    query_one_raw(
        &tx,
        "UPDATE mailboxes SET address = $2, name = $3, group_id = $4, brand_id = $5, \
         closed_policy = $6, auto_ack = $7, imap = $8, active = $9 WHERE id = $1 RETURNING id",
        &[
            &id,
            &m.address,
            &m.name,
            &m.group_id,
            &m.brand_id,
            &m.closed_policy.as_str(),
            &m.auto_ack,
            &imap,
            &m.active,
        ],
    )
    .await
    .unique(|| format!("a mailbox for {address} exists already"))?;
    audit(
        &tx,
        actor,
        "mailbox.updated",
        format!("mailbox:{id}"),
        serde_json::json!({ "address": m.address, "changed": changed }),
        now,
    )
    .await?;
    tx.commit().await.db()?;
    Ok(m)
}

pub(crate) async fn list_mailboxes(s: &PgStore) -> Result<Vec<Mailbox>> {
    let c = s.conn().await?;
    let sql = format!("SELECT {MAILBOX_COLS} FROM mailboxes b ORDER BY b.id");
    Ok(query(&c, &sql, &[])
        .await?
        .iter()
        .map(mailbox_row)
        .collect())
}

pub(crate) async fn mail_knowledge(s: &PgStore, q: MailQuestion) -> Result<MailKnowledge> {
    let mut c = s.conn().await?;
    // One consistent snapshot for all the answers, like the SQLite store's single read.
    let tx = c
        .build_transaction()
        .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await
        .db()?;
    let k = knowledge(&tx, &q).await?;
    tx.commit().await.db()?;
    Ok(k)
}

pub(crate) async fn deliver_mail(s: &PgStore, d: MailDelivery, now: Now) -> Result<MailDelivered> {
    let now = us(now);
    let mut c = s.conn().await?;
    let tx = c.transaction().await.db()?;
    let delivered = deliver_tx(&tx, d, now).await?;
    tx.commit().await.db()?;
    Ok(delivered)
}

pub(crate) async fn list_mail_intake(
    s: &PgStore,
    outcome: Option<String>,
    page: PageRequest,
) -> Result<Page<IntakeEntry>> {
    let c = s.conn().await?;
    let limit = page.limit.clamp(1, 500);
    let after = page.after_id.unwrap_or(i64::MAX);
    let sql = format!(
        "SELECT {INTAKE_COLS} FROM mail_intake i WHERE i.id < $1 AND ($2::text IS NULL OR i.outcome = $2) \
         ORDER BY i.id DESC LIMIT $3"
    );
    let items: Vec<IntakeEntry> = query(&c, &sql, &[&after, &outcome, &(limit + 1)])
        .await?
        .iter()
        .map(intake_row)
        .collect();
    Ok(Page::from_overfetch(items, limit, |e| {
        encode_id_cursor(e.id)
    }))
}

pub(crate) async fn raw_mail(s: &PgStore, intake_id: i64) -> Result<Vec<u8>> {
    let c = s.conn().await?;
    Ok(query_opt(
        &c,
        "SELECT b.data FROM mail_intake i JOIN blobs b ON b.sha256 = i.raw_sha256 WHERE i.id = $1",
        &[&intake_id],
    )
    .await?
    .ok_or(StoreError::NotFound("mail"))?
    .get(0))
}

pub(crate) async fn outbound_context(s: &PgStore, ticket_id: i64) -> Result<OutboundContext> {
    let mut c = s.conn().await?;
    let tx = c
        .build_transaction()
        .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await
        .db()?;
    let out = outbound(&tx, ticket_id).await?;
    tx.commit().await.db()?;
    Ok(out)
}

pub(crate) async fn message_for_mail(
    s: &PgStore,
    ticket_id: i64,
    message_id: i64,
) -> Result<Message> {
    let c = s.conn().await?;
    let sql = format!("SELECT {MESSAGE_COLS} FROM messages m WHERE m.id = $1 AND m.ticket_id = $2");
    let mut m = rows::message(
        &query_opt(&c, &sql, &[&message_id, &ticket_id])
            .await?
            .ok_or(StoreError::NotFound("message"))?,
    );
    let sql = format!(
        "SELECT {ATTACHMENT_COLS} FROM attachments x WHERE x.message_id = $1 ORDER BY x.id"
    );
    m.attachments = query(&c, &sql, &[&message_id])
        .await?
        .iter()
        .map(rows::attachment)
        .collect();
    Ok(m)
}

pub(crate) async fn record_outbound_mail(
    s: &PgStore,
    ticket_id: i64,
    message_row: Option<i64>,
    message_id: &str,
    references: &[String],
    meta: Option<MailMeta>,
) -> Result<()> {
    let mut c = s.conn().await?;
    let tx = c.transaction().await.db()?;
    insert_mail_id(&tx, message_id, ticket_id, message_row, "out", references).await?;
    if let (Some(row), Some(meta)) = (message_row, meta) {
        let meta = to_json(&meta)?;
        execute(
            &tx,
            "UPDATE messages SET mail = $2 WHERE id = $1 AND mail IS NULL",
            &[&row, &meta],
        )
        .await?;
    }
    tx.commit().await.db()
}

pub(crate) async fn imap_state(s: &PgStore, mailbox_id: i64) -> Result<Option<(u32, u32)>> {
    let c = s.conn().await?;
    match query_opt(
        &c,
        "SELECT uid_validity, last_uid FROM imap_state WHERE mailbox_id = $1",
        &[&mailbox_id],
    )
    .await?
    {
        Some(r) => Ok(Some((
            u32_of("UIDVALIDITY", r.get(0))?,
            u32_of("UID", r.get(1))?,
        ))),
        None => Ok(None),
    }
}

pub(crate) async fn get_mail_intake(s: &PgStore, intake_id: i64) -> Result<IntakeEntry> {
    let c = s.conn().await?;
    let sql = format!("SELECT {INTAKE_COLS} FROM mail_intake i WHERE i.id = $1");
    Ok(intake_row(
        &query_opt(&c, &sql, &[&intake_id])
            .await?
            .ok_or(StoreError::NotFound("mail"))?,
    ))
}

pub(crate) async fn resolve_intake(
    s: &PgStore,
    intake_id: i64,
    outcome: &str,
    reason: &str,
    ticket_id: Option<i64>,
    actor: Actor,
    now: Now,
) -> Result<()> {
    let now = us(now);
    let mut c = s.conn().await?;
    let tx = c.transaction().await.db()?;
    let n = execute(
        &tx,
        "UPDATE mail_intake SET outcome = $2, reason = $3, ticket_id = COALESCE($4, ticket_id) \
         WHERE id = $1 AND outcome = 'review'",
        &[&intake_id, &outcome, &reason, &ticket_id],
    )
    .await?;
    if n == 0 {
        let exists = query_opt(
            &tx,
            "SELECT 1 FROM mail_intake WHERE id = $1",
            &[&intake_id],
        )
        .await?
        .is_some();
        return Err(if exists {
            StoreError::Conflict("this mail is not waiting for review (anymore)".into())
        } else {
            StoreError::NotFound("mail")
        });
    }
    audit(
        &tx,
        actor,
        &format!("mail.{outcome}"),
        format!("mail_intake:{intake_id}"),
        serde_json::json!({ "ticket_id": ticket_id }),
        now,
    )
    .await?;
    tx.commit().await.db()?;
    Ok(())
}
