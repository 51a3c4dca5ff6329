//! Tickets, messages, attachments, events, webhook outbox.

use crate::db::{can_see, execute, query, query_one, query_one_raw, query_opt, to_json, us, DbExt};
use crate::rows::{self, ATTACHMENT_COLS, EVENT_COLS, MESSAGE_COLS, TICKET_COLS};
use crate::PgStore;
use chrono::{DateTime, Utc};
use deadpool_postgres::{GenericClient, Transaction};
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::time::Duration;
use tend_core::ticket::{apply, diff, Patch};
use tend_core::{Actor, ActorKind, Change, Ticket, Viewer};
use tend_store::*;
use tokio_postgres::types::ToSql;

type Now = DateTime<Utc>;

// --- shared write steps ----------------------------------------------------------------

/// The ticket, locked for the rest of the transaction when `lock`.
pub(crate) async fn load_ticket<C: GenericClient>(c: &C, id: i64, lock: bool) -> Result<Ticket> {
    let sql = if lock {
        format!("SELECT {TICKET_COLS} FROM tickets t WHERE t.id = $1 FOR UPDATE")
    } else {
        format!("SELECT {TICKET_COLS} FROM tickets t WHERE t.id = $1")
    };
    let row = query_opt(c, &sql, &[&id]).await?;
    rows::ticket(&row.ok_or(StoreError::NotFound("ticket"))?)
}

/// NotFound("ticket") unless the ticket exists and the viewer may see it; `lock` takes the
/// row lock that serialises writers of one ticket.
async fn check_visible<C: GenericClient>(
    c: &C,
    id: i64,
    viewer: &Viewer,
    lock: bool,
) -> Result<()> {
    let sql = if lock {
        "SELECT assignee_id, group_id FROM tickets WHERE id = $1 FOR UPDATE"
    } else {
        "SELECT assignee_id, group_id FROM tickets WHERE id = $1"
    };
    match query_opt(c, sql, &[&id]).await? {
        Some(r) if can_see(viewer, r.get(0), r.get(1)) => Ok(()),
        _ => Err(StoreError::NotFound("ticket")),
    }
}

pub(crate) async fn check_assignee<C: GenericClient>(c: &C, id: i64) -> Result<()> {
    match query_opt(c, "SELECT active FROM agents WHERE id = $1", &[&id]).await? {
        Some(r) if r.get::<_, bool>(0) => Ok(()),
        _ => Err(StoreError::invalid(
            "assignee_id",
            format!("no active agent {id}"),
        )),
    }
}

pub(crate) async fn check_group<C: GenericClient>(c: &C, id: i64) -> Result<()> {
    match query_opt(c, "SELECT id FROM groups WHERE id = $1", &[&id]).await? {
        Some(_) => Ok(()),
        None => Err(StoreError::invalid("group_id", format!("no group {id}"))),
    }
}

/// Appends events to a ticket's log in one statement and returns their seqs, in order.
/// Rows are inserted in ordinality order, so the sequence hands out ascending numbers in
/// that order.
pub(crate) async fn insert_events<C: GenericClient>(
    c: &C,
    ticket_id: i64,
    events: &[(Actor, Change, Now)],
) -> Result<Vec<i64>> {
    let kinds: Vec<&str> = events.iter().map(|(_, ch, _)| ch.kind()).collect();
    let actor_kinds: Vec<&str> = events.iter().map(|(a, _, _)| a.kind.as_str()).collect();
    let actor_ids: Vec<Option<i64>> = events.iter().map(|(a, _, _)| a.id).collect();
    let data = events
        .iter()
        .map(|(_, ch, _)| to_json(ch))
        .collect::<Result<Vec<_>>>()?;
    let ats: Vec<Now> = events.iter().map(|(_, _, at)| *at).collect();
    let rows = query(
        c,
        "INSERT INTO events (ticket_id, kind, actor_kind, actor_id, data, at) \
         SELECT $1, u.kind, u.actor_kind, u.actor_id, u.data, u.at \
         FROM unnest($2::text[], $3::text[], $4::bigint[], $5::jsonb[], $6::timestamptz[]) \
              WITH ORDINALITY AS u(kind, actor_kind, actor_id, data, at, n) \
         ORDER BY u.n RETURNING seq",
        &[&ticket_id, &kinds, &actor_kinds, &actor_ids, &data, &ats],
    )
    .await?;
    let mut seqs: Vec<i64> = rows.iter().map(|r| r.get(0)).collect();
    seqs.sort_unstable();
    Ok(seqs)
}

/// The transactional outbox: one delivery job per (event, subscribed active webhook), in
/// the transaction that writes the events.
pub(crate) async fn enqueue_webhooks<C: GenericClient>(
    c: &C,
    events: &[(i64, &str)],
    now: Now,
) -> Result<()> {
    if events.is_empty() {
        return Ok(());
    }
    let hooks = query(
        c,
        "SELECT id, events FROM webhooks WHERE active ORDER BY id",
        &[],
    )
    .await?;
    if hooks.is_empty() {
        return Ok(());
    }
    let hooks: Vec<(i64, Vec<String>)> = hooks
        .iter()
        .map(|r| Ok((r.get(0), crate::db::from_json(r.get(1))?)))
        .collect::<Result<_>>()?;
    let mut payloads = Vec::new();
    for (seq, kind) in events {
        for (id, wants) in &hooks {
            if webhook_wants(wants, kind) {
                payloads.push(webhook_job_payload(*id, *seq));
            }
        }
    }
    if payloads.is_empty() {
        return Ok(());
    }
    execute(
        c,
        "INSERT INTO jobs (kind, payload, state, run_at, attempts, max_attempts) \
         SELECT $1, u.p, 'queued', $3, 0, $4 FROM unnest($2::jsonb[]) WITH ORDINALITY AS u(p, n) ORDER BY u.n",
        &[&WEBHOOK_JOB, &payloads, &now, &WEBHOOK_MAX_ATTEMPTS],
    )
    .await?;
    Ok(())
}

/// A message and its attachments (bytes stored once per SHA-256). With `notify`, the job that
/// mails it to the requester is queued in the same transaction.
pub(crate) async fn insert_message<C: GenericClient>(
    c: &C,
    ticket_id: i64,
    author: Actor,
    m: &NewMessage,
    now: Now,
) -> Result<Message> {
    let mail = m.mail.as_ref().map(to_json).transpose()?;
    let row = query_one(
        c,
        "INSERT INTO messages (ticket_id, author_kind, author_id, public, body_text, body_html, created_at, mail) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        &[&ticket_id, &author.kind.as_str(), &author.id, &m.public, &m.body_text, &m.body_html, &now, &mail],
    )
    .await?;
    let id: i64 = row.get(0);
    if m.notify {
        crate::jobs::enqueue_on(
            c,
            MAIL_REPLY_JOB,
            &serde_json::json!({ "ticket_id": ticket_id, "message_id": id }),
            now,
            10,
        )
        .await?;
    }
    let mut attachments = Vec::with_capacity(m.attachments.len());
    for a in &m.attachments {
        let sha = Sha256::digest(&a.data).to_vec();
        execute(
            c,
            "INSERT INTO blobs (sha256, data) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            &[&sha, &a.data],
        )
        .await?;
        let size = a.data.len() as i64;
        let row = query_one(
            c,
            "INSERT INTO attachments (message_id, ticket_id, filename, content_type, size, sha256) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            &[&id, &ticket_id, &a.filename, &a.content_type, &size, &sha],
        )
        .await?;
        attachments.push(Attachment {
            id: row.get(0),
            message_id: id,
            filename: a.filename.clone(),
            content_type: a.content_type.clone(),
            size,
            sha256: hex::encode(&sha),
        });
    }
    Ok(Message {
        id,
        ticket_id,
        author,
        public: m.public,
        body_text: m.body_text.clone(),
        body_html: m.body_html.clone(),
        created_at: now,
        attachments,
        mail: m.mail.clone(),
    })
}

async fn add_tags<C: GenericClient>(c: &C, ticket_id: i64, tags: &[String]) -> Result<()> {
    if !tags.is_empty() {
        execute(
            c,
            "INSERT INTO ticket_tags (tag, ticket_id) SELECT unnest($2::text[]), $1 ON CONFLICT DO NOTHING",
            &[&ticket_id, &tags],
        )
        .await?;
    }
    Ok(())
}

/// Finds the requester, or creates a customer for an unknown e-mail. Returns (id, organization).
pub(crate) async fn resolve_requester(
    tx: &Transaction<'_>,
    r: &RequesterRef,
    now: Now,
) -> Result<(i64, Option<i64>)> {
    const BY_EMAIL: &str = "SELECT c.id, c.organization_id FROM customer_identities i JOIN customers c ON c.id = i.customer_id \
                            WHERE i.kind = 'email' AND lower(i.value) = lower($1)";
    match r {
        RequesterRef::Id(id) => match query_opt(
            tx,
            "SELECT organization_id FROM customers WHERE id = $1",
            &[id],
        )
        .await?
        {
            Some(row) => Ok((*id, row.get(0))),
            None => Err(StoreError::invalid(
                "requester_id",
                format!("no customer {id}"),
            )),
        },
        RequesterRef::Email { email, name } => {
            let email = email.trim();
            if let Some(row) = query_opt(tx, BY_EMAIL, &[&email]).await? {
                return Ok((row.get(0), row.get(1)));
            }
            let name = name
                .as_deref()
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .map(str::to_string);
            let name = name.unwrap_or_else(|| crate::db::local_part(email));
            let id: i64 = query_one(
                tx,
                "INSERT INTO customers (name, notes, created_at, updated_at) VALUES ($1, '', $2, $2) RETURNING id",
                &[&name, &now],
            )
            .await?
            .get(0);
            let claimed = query_opt(
                tx,
                "INSERT INTO customer_identities (customer_id, kind, value) VALUES ($1, 'email', $2) \
                 ON CONFLICT DO NOTHING RETURNING id",
                &[&id, &email],
            )
            .await?;
            if claimed.is_some() {
                return Ok((id, None));
            }
            // A concurrent request created this customer first (ON CONFLICT waited for it to
            // commit): drop ours and use theirs.
            execute(tx, "DELETE FROM customers WHERE id = $1", &[&id]).await?;
            let row = query_opt(tx, BY_EMAIL, &[&email]).await?.ok_or_else(|| {
                StoreError::Conflict(format!("identity email:{email} is being created"))
            })?;
            Ok((row.get(0), row.get(1)))
        }
    }
}

/// Writes a ticket's row (its tags column too; `ticket_tags` is the caller's business).
pub(crate) async fn save_ticket<C: GenericClient>(c: &C, t: &Ticket) -> Result<()> {
    let fields = to_json(&t.fields)?;
    execute(
        c,
        "UPDATE tickets SET subject = $2, status = $3, priority = $4, assignee_id = $5, group_id = $6, tags = $7, \
         fields = $8, updated_at = $9, solved_at = $10, last_seq = $11 WHERE id = $1",
        &[
            &t.id,
            &t.subject,
            &t.status.as_str(),
            &t.priority.as_str(),
            &t.assignee_id,
            &t.group_id,
            &t.tags,
            &fields,
            &t.updated_at,
            &t.solved_at,
            &t.last_seq,
        ],
    )
    .await?;
    Ok(())
}

// --- tickets ---------------------------------------------------------------------------

pub(crate) async fn create_ticket(
    s: &PgStore,
    new: NewTicket,
    actor: Actor,
    now: Now,
) -> Result<Created<Ticket>> {
    let now = us(now);
    let mut c = s.conn().await?;
    let tx = c.transaction().await.db()?;
    let created = create_ticket_tx(&tx, new, actor, now).await?;
    tx.commit().await.db()?;
    Ok(created)
}

/// Creates a ticket (its requester if new, its first message, events, webhook jobs, SLA
/// check) in the caller's transaction; `now` is already cut to microseconds.
pub(crate) async fn create_ticket_tx(
    tx: &Transaction<'_>,
    new: NewTicket,
    actor: Actor,
    now: Now,
) -> Result<Created<Ticket>> {
    let idem = match (&new.idempotency_key, actor.kind, actor.id) {
        (Some(key), ActorKind::Agent, Some(agent)) => Some((agent, key.as_str())),
        _ => None,
    };
    if let Some((agent, key)) = idem {
        // Same agent + key: the second request waits for the first to commit, then replays it.
        execute(
            tx,
            "SELECT pg_advisory_xact_lock(hashtextextended($1, $2))",
            &[&key, &agent],
        )
        .await?;
        let row = query_opt(
            tx,
            "SELECT ticket_id FROM idempotency_keys WHERE agent_id = $1 AND key = $2",
            &[&agent, &key],
        )
        .await?;
        if let Some(row) = row {
            let ticket = load_ticket(tx, row.get(0), false).await?;
            return Ok(Created {
                value: ticket,
                replayed: true,
            });
        }
    }
    let (requester_id, organization_id) = resolve_requester(tx, &new.requester, now).await?;
    if let Some(a) = new.assignee_id {
        check_assignee(tx, a).await?;
    }
    if let Some(g) = new.group_id {
        check_group(tx, g).await?;
    }
    let mut tags = new.tags.clone();
    tags.sort();
    tags.dedup();
    let created = Change::Created {
        subject: new.subject.clone(),
        status: new.status,
        priority: new.priority,
        channel: new.channel,
        requester_id,
        organization_id,
        assignee_id: new.assignee_id,
        group_id: new.group_id,
        brand_id: new.brand_id,
        tags,
        fields: new.fields.clone(),
    };
    let mut t = created
        .initial(0, 0, now)
        .ok_or_else(|| StoreError::Backend("not a Created change".into()))?;
    t.external_id = new.external_id.clone();
    let fields = to_json(&t.fields)?;
    let row = query_one_raw(
        tx,
        "INSERT INTO tickets (subject, status, priority, channel, requester_id, organization_id, assignee_id, group_id, \
         brand_id, tags, fields, external_id, created_at, updated_at, solved_at, last_seq) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13, $14, 0) RETURNING id",
        &[
            &t.subject,
            &t.status.as_str(),
            &t.priority.as_str(),
            &t.channel.as_str(),
            &t.requester_id,
            &t.organization_id,
            &t.assignee_id,
            &t.group_id,
            &t.brand_id,
            &t.tags,
            &fields,
            &t.external_id,
            &now,
            &t.solved_at,
        ],
    )
    .await
    .unique(|| format!("a ticket with external_id {} exists", new.external_id.clone().unwrap_or_default()))?;
    t.id = row.get(0);
    add_tags(tx, t.id, &t.tags).await?;
    let mut events = vec![(actor, created, now)];
    if let Some(m) = &new.message {
        let author = if new.message_by_requester {
            Actor::customer(requester_id)
        } else {
            actor
        };
        let msg = insert_message(tx, t.id, author, m, now).await?;
        events.push((
            author,
            Change::MessageAdded {
                message_id: msg.id,
                public: m.public,
                time_spent_seconds: agent_time(author, m),
            },
            now,
        ));
    }
    let seqs = insert_events(tx, t.id, &events).await?;
    for ((_, change, at), seq) in events.iter().zip(&seqs) {
        apply(&mut t, change, *seq, *at);
    }
    execute(
        tx,
        "UPDATE tickets SET last_seq = $2, updated_at = $3 WHERE id = $1",
        &[&t.id, &t.last_seq, &t.updated_at],
    )
    .await?;
    let kinds: Vec<(i64, &str)> = seqs
        .iter()
        .zip(&events)
        .map(|(seq, (_, c, _))| (*seq, c.kind()))
        .collect();
    enqueue_webhooks(tx, &kinds, now).await?;
    if let Some((agent, key)) = idem {
        execute(
            tx,
            "INSERT INTO idempotency_keys (agent_id, key, ticket_id, created_at) VALUES ($1, $2, $3, $4)",
            &[&agent, &key, &t.id, &now],
        )
        .await?;
    }
    schedule_sla(tx, t.id, now).await?;
    Ok(Created {
        value: t,
        replayed: false,
    })
}

pub(crate) async fn get_ticket(s: &PgStore, id: i64, viewer: &Viewer) -> Result<Ticket> {
    let c = s.conn().await?;
    let t = load_ticket(&c, id, false).await?;
    if viewer.can_see(&t) {
        Ok(t)
    } else {
        Err(StoreError::NotFound("ticket"))
    }
}

type Param = Box<dyn ToSql + Sync + Send>;

/// Every condition of a ticket query but its statuses, sort and cursor, shared by the list
/// and the count; `p` numbers the parameters.
fn query_filter(q: &TicketQuery, viewer: &Viewer, p: &mut impl FnMut(Param) -> String) -> String {
    let mut filter = String::from("TRUE");
    if !viewer.sees_all() {
        let a = p(Box::new(viewer.agent_id));
        let g = p(Box::new(viewer.group_ids.clone()));
        filter += &format!(" AND (t.assignee_id = {a} OR t.group_id = ANY({g}))");
    }
    if !q.priorities.is_empty() {
        let v: Vec<String> = q
            .priorities
            .iter()
            .map(|s| s.as_str().to_string())
            .collect();
        filter += &format!(" AND t.priority = ANY({})", p(Box::new(v)));
    }
    match q.assignee_id {
        Some(None) => filter += " AND t.assignee_id IS NULL",
        Some(Some(a)) => filter += &format!(" AND t.assignee_id = {}", p(Box::new(a))),
        None => {}
    }
    match q.group_id {
        Some(None) => filter += " AND t.group_id IS NULL",
        Some(Some(g)) => filter += &format!(" AND t.group_id = {}", p(Box::new(g))),
        None => {}
    }
    if let Some(r) = q.requester_id {
        filter += &format!(" AND t.requester_id = {}", p(Box::new(r)));
    }
    if let Some(o) = q.organization_id {
        filter += &format!(" AND t.organization_id = {}", p(Box::new(o)));
    }
    if let Some(ch) = q.channel {
        filter += &format!(" AND t.channel = {}", p(Box::new(ch.as_str())));
    }
    if let Some(tag) = &q.tag {
        filter += &format!(
            " AND EXISTS (SELECT 1 FROM ticket_tags tt WHERE tt.ticket_id = t.id AND tt.tag = {})",
            p(Box::new(tag.clone()))
        );
    }
    // A half-open window: updated_after <= updated_at < updated_before.
    if let Some(after) = q.updated_after {
        filter += &format!(" AND t.updated_at >= {}", p(Box::new(us(after))));
    }
    if let Some(before) = q.updated_before {
        filter += &format!(" AND t.updated_at < {}", p(Box::new(us(before))));
    }
    if let Some(before) = q.sla_due_before {
        filter += &format!(
            " AND t.sla_due_us < {}",
            p(Box::new(tend_store::sla_due_to_us(Some(before))))
        );
    }
    filter
}

/// How many tickets match a query (statuses included; sort, cursor and limit ignored).
pub(crate) async fn count_tickets(
    s: &PgStore,
    q: &TicketQuery,
    viewer: &Viewer,
    at_most: Option<i64>,
) -> Result<i64> {
    let mut params: Vec<Param> = Vec::new();
    let mut p = |v: Param| {
        params.push(v);
        format!("${}", params.len())
    };
    let mut filter = query_filter(q, viewer, &mut p);
    if !q.statuses.is_empty() {
        let v: Vec<String> = q.statuses.iter().map(|s| s.as_str().to_string()).collect();
        filter += &format!(" AND t.status = ANY({})", p(Box::new(v)));
    }
    let refs: Vec<&(dyn ToSql + Sync)> = params
        .iter()
        .map(|b| b.as_ref() as &(dyn ToSql + Sync))
        .collect();
    let sql = match at_most {
        Some(n) => format!(
            "SELECT count(*) FROM (SELECT 1 FROM tickets t WHERE {filter} LIMIT {}) capped",
            n.max(0)
        ),
        None => format!("SELECT count(*) FROM tickets t WHERE {filter}"),
    };
    let c = s.conn().await?;
    let row = query_one(&c, &sql, &refs).await?;
    Ok(row.get(0))
}

pub(crate) async fn set_sla_due(s: &PgStore, id: i64, due: Option<DateTime<Utc>>) -> Result<()> {
    let c = s.conn().await?;
    execute(
        &c,
        "UPDATE tickets SET sla_due_us = $2 WHERE id = $1",
        &[&id, &tend_store::sla_due_to_us(due)],
    )
    .await?;
    Ok(())
}

pub(crate) async fn list_tickets(
    s: &PgStore,
    q: &TicketQuery,
    viewer: &Viewer,
) -> Result<Page<Ticket>> {
    let mut params: Vec<Param> = Vec::new();
    let mut p = |v: Param| {
        params.push(v);
        format!("${}", params.len())
    };
    let mut filter = query_filter(q, viewer, &mut p);
    let (col, dir, cmp) = match (q.sort.key(), q.sort.descending()) {
        (SortKey::Updated, true) => ("t.updated_at", "DESC", "<"),
        (SortKey::Updated, false) => ("t.updated_at", "ASC", ">"),
        (SortKey::Created, true) => ("t.created_at", "DESC", "<"),
        (SortKey::Created, false) => ("t.created_at", "ASC", ">"),
        (SortKey::Id, true) => ("t.id", "DESC", "<"),
        (SortKey::Id, false) => ("t.id", "ASC", ">"),
        (SortKey::SlaDue, _) => ("t.sla_due_us", "ASC", ">"),
    };
    if let Some(cur) = q.cursor.filter(|c| c.sort == q.sort as u8) {
        if q.sort.key() == SortKey::Id {
            filter += &format!(" AND t.id {cmp} {}", p(Box::new(cur.id)));
        } else if q.sort.key() == SortKey::SlaDue {
            // The column holds microseconds, so the cursor's key is compared as it is.
            let k = p(Box::new(cur.key));
            let i = p(Box::new(cur.id));
            filter += &format!(" AND ({col}, t.id) {cmp} ({k}, {i})");
        } else {
            let key = DateTime::from_timestamp_micros(cur.key)
                .ok_or_else(|| StoreError::invalid("cursor", "is not valid"))?;
            // Row comparison: (key < k) OR (key = k AND id < i), and it uses the index.
            let k = p(Box::new(key));
            let i = p(Box::new(cur.id));
            filter += &format!(" AND ({col}, t.id) {cmp} ({k}, {i})");
        }
    }
    let order = if q.sort.key() == SortKey::Id {
        format!("t.id {dir}")
    } else {
        format!("{col} {dir}, t.id {dir}")
    };
    let limit = q.limit.max(0);
    let lim = p(Box::new(limit.saturating_add(1)));
    let statuses: BTreeSet<&str> = q.statuses.iter().map(|s| s.as_str()).collect();
    let sql = match statuses.len() {
        0 => format!(
            "SELECT {TICKET_COLS} FROM tickets t WHERE {filter} ORDER BY {order} LIMIT {lim}"
        ),
        1 => {
            let st = p(Box::new(statuses.first().copied().unwrap_or_default()));
            format!("SELECT {TICKET_COLS} FROM tickets t WHERE {filter} AND t.status = {st} ORDER BY {order} LIMIT {lim}")
        }
        // An agent queue asks for several statuses. One ordered index scan per status, merged
        // (Merge Append), reads at most limit+1 rows of each instead of sorting every match.
        _ => {
            let parts: Vec<String> = statuses
                .iter()
                .map(|st| {
                    let st = p(Box::new(*st));
                    format!("(SELECT {TICKET_COLS} FROM tickets t WHERE {filter} AND t.status = {st} ORDER BY {order} LIMIT {lim})")
                })
                .collect();
            format!(
                "SELECT {TICKET_COLS} FROM ({}) t ORDER BY {order} LIMIT {lim}",
                parts.join(" UNION ALL ")
            )
        }
    };
    let refs: Vec<&(dyn ToSql + Sync)> = params
        .iter()
        .map(|b| b.as_ref() as &(dyn ToSql + Sync))
        .collect();
    let c = s.conn().await?;
    let items = query(&c, &sql, &refs)
        .await?
        .iter()
        .map(rows::ticket)
        .collect::<Result<Vec<_>>>()?;
    let sort = q.sort;
    Ok(Page::from_overfetch(items, limit, |t| {
        Cursor::of(sort, t).encode()
    }))
}

pub(crate) async fn update_ticket(
    s: &PgStore,
    id: i64,
    patch: Patch,
    viewer: &Viewer,
    actor: Actor,
    now: Now,
) -> Result<Ticket> {
    let now = us(now);
    let mut c = s.conn().await?;
    let tx = c.transaction().await.db()?;
    let mut t = load_ticket(&tx, id, true).await?;
    if !viewer.can_see(&t) {
        return Err(StoreError::NotFound("ticket"));
    }
    if let Some(Some(a)) = patch.assignee_id {
        check_assignee(&tx, a).await?;
    }
    if let Some(Some(g)) = patch.group_id {
        check_group(&tx, g).await?;
    }
    let changes = diff(&t, &patch);
    if changes.is_empty() {
        return Ok(t);
    }
    let events: Vec<(Actor, Change, Now)> = changes.into_iter().map(|c| (actor, c, now)).collect();
    let seqs = insert_events(&tx, id, &events).await?;
    for ((_, change, at), seq) in events.iter().zip(&seqs) {
        apply(&mut t, change, *seq, *at);
        if let Change::TagsChanged { added, removed } = change {
            if !removed.is_empty() {
                execute(
                    &tx,
                    "DELETE FROM ticket_tags WHERE ticket_id = $1 AND tag = ANY($2)",
                    &[&id, removed],
                )
                .await?;
            }
            add_tags(&tx, id, added).await?;
        }
    }
    save_ticket(&tx, &t).await?;
    let kinds: Vec<(i64, &str)> = seqs
        .iter()
        .zip(&events)
        .map(|(seq, (_, c, _))| (*seq, c.kind()))
        .collect();
    enqueue_webhooks(&tx, &kinds, now).await?;
    schedule_sla(&tx, id, now).await?;
    tx.commit().await.db()?;
    Ok(t)
}

/// Logged time is kept on agents' messages only (customers' messages never carry it).
fn agent_time(author: Actor, m: &NewMessage) -> Option<u32> {
    m.time_spent_seconds
        .filter(|_| author.kind == tend_core::ActorKind::Agent)
}

pub(crate) async fn add_message(
    s: &PgStore,
    ticket_id: i64,
    new: NewMessage,
    viewer: &Viewer,
    actor: Actor,
    now: Now,
) -> Result<Message> {
    let now = us(now);
    let mut c = s.conn().await?;
    let tx = c.transaction().await.db()?;
    check_visible(&tx, ticket_id, viewer, true).await?;
    let msg = insert_message(&tx, ticket_id, actor, &new, now).await?;
    let change = Change::MessageAdded {
        message_id: msg.id,
        public: new.public,
        time_spent_seconds: agent_time(actor, &new),
    };
    let kind = change.kind();
    let seqs = insert_events(&tx, ticket_id, &[(actor, change, now)]).await?;
    let seq = seqs[0];
    execute(
        &tx,
        "UPDATE tickets SET updated_at = $2, last_seq = $3 WHERE id = $1",
        &[&ticket_id, &now, &seq],
    )
    .await?;
    enqueue_webhooks(&tx, &[(seq, kind)], now).await?;
    schedule_sla(&tx, ticket_id, now).await?;
    tx.commit().await.db()?;
    Ok(msg)
}

/// Appends a system event (an SLA mark) with its webhooks; moves `last_seq` only.
pub(crate) async fn record_event(
    s: &PgStore,
    ticket_id: i64,
    change: Change,
    actor: Actor,
    now: Now,
) -> Result<Event> {
    let now = us(now);
    let mut c = s.conn().await?;
    let tx = c.transaction().await.db()?;
    load_ticket(&tx, ticket_id, true).await?;
    let kind = change.kind();
    let seqs = insert_events(&tx, ticket_id, &[(actor, change.clone(), now)]).await?;
    let seq = seqs[0];
    execute(
        &tx,
        "UPDATE tickets SET last_seq = $2 WHERE id = $1",
        &[&ticket_id, &seq],
    )
    .await?;
    enqueue_webhooks(&tx, &[(seq, kind)], now).await?;
    tx.commit().await.db()?;
    Ok(Event {
        seq,
        ticket_id,
        actor,
        at: now,
        kind: kind.to_string(),
        change,
    })
}

pub(crate) async fn list_messages(
    s: &PgStore,
    ticket_id: i64,
    viewer: &Viewer,
) -> Result<Vec<Message>> {
    let c = s.conn().await?;
    check_visible(&c, ticket_id, viewer, false).await?;
    let msg_sql =
        format!("SELECT {MESSAGE_COLS} FROM messages m WHERE m.ticket_id = $1 ORDER BY m.id");
    let att_sql =
        format!("SELECT {ATTACHMENT_COLS} FROM attachments x WHERE x.ticket_id = $1 ORDER BY x.id");
    let params: [&(dyn ToSql + Sync); 1] = [&ticket_id];
    let (msgs, atts) =
        tokio::try_join!(query(&c, &msg_sql, &params), query(&c, &att_sql, &params))?;
    let mut out: Vec<Message> = msgs.iter().map(rows::message).collect();
    for a in atts.iter().map(rows::attachment) {
        if let Ok(i) = out.binary_search_by_key(&a.message_id, |m| m.id) {
            out[i].attachments.push(a);
        }
    }
    Ok(out)
}

pub(crate) async fn ticket_events(
    s: &PgStore,
    ticket_id: i64,
    viewer: &Viewer,
    page: PageRequest,
) -> Result<Page<Event>> {
    let c = s.conn().await?;
    check_visible(&c, ticket_id, viewer, false).await?;
    let limit = page.limit.max(0);
    let after = page.after_id.unwrap_or(0);
    let sql = format!("SELECT {EVENT_COLS} FROM events e WHERE e.ticket_id = $1 AND e.seq > $2 ORDER BY e.seq LIMIT $3");
    let items = query(&c, &sql, &[&ticket_id, &after, &limit.saturating_add(1)])
        .await?
        .iter()
        .map(rows::event)
        .collect::<Result<Vec<_>>>()?;
    Ok(Page::from_overfetch(items, limit, |e| {
        encode_id_cursor(e.seq)
    }))
}

pub(crate) async fn get_attachment(
    s: &PgStore,
    id: i64,
    viewer: &Viewer,
) -> Result<(Attachment, Vec<u8>)> {
    let c = s.conn().await?;
    let sql = format!(
        "SELECT {ATTACHMENT_COLS}, t.assignee_id, t.group_id FROM attachments x JOIN tickets t ON t.id = x.ticket_id WHERE x.id = $1"
    );
    let row = query_opt(&c, &sql, &[&id])
        .await?
        .ok_or(StoreError::NotFound("attachment"))?;
    if !can_see(viewer, row.get(6), row.get(7)) {
        // Same answer as a missing attachment: its existence is not revealed.
        return Err(StoreError::NotFound("attachment"));
    }
    let att = rows::attachment(&row);
    let sha: Vec<u8> = row.get(5);
    let data = query_opt(&c, "SELECT data FROM blobs WHERE sha256 = $1", &[&sha])
        .await?
        .ok_or(StoreError::NotFound("attachment"))?
        .get(0);
    Ok((att, data))
}

pub(crate) async fn list_tags(s: &PgStore) -> Result<Vec<TagCount>> {
    let c = s.conn().await?;
    let rows = query(
        &c,
        "SELECT tag, count(*) FROM ticket_tags GROUP BY tag ORDER BY count(*) DESC, tag LIMIT 1000",
        &[],
    )
    .await?;
    Ok(rows
        .iter()
        .map(|r| TagCount {
            tag: r.get(0),
            count: r.get(1),
        })
        .collect())
}

/// How long `events_since` waits for in-flight writers before answering "nothing yet".
const TAIL_WAIT: Duration = Duration::from_secs(1);

/// Tailing the log safely.
///
/// `seq` comes from a sequence, so it is handed out when a transaction inserts the event,
/// not when it commits: transaction A may take seq 10, transaction B seq 11, and B commit
/// first. A reader that returned 11 and moved its cursor past it would never see 10.
///
/// The rule `txid < pg_snapshot_xmin(pg_current_snapshot())` (only events of transactions
/// older than every transaction still running) is applied, but alone it is not enough:
/// xids are assigned at a transaction's first write, seqs at its event insert, so a
/// transaction with an older xid can take a *higher* seq than one with a newer xid that is
/// still running (tests/store.rs `an_older_transaction_with_a_higher_seq_is_held_back`).
/// So the answer is also cut at a seq watermark:
///
/// 1. read the sequence's current value `L`: every transaction holding a seq ≤ L has drawn
///    it already and, since all our writers write a row (or lock one) before they insert
///    events, already has an xid;
/// 2. then take an xid `X` of our own and roll back: xids are handed out in order, so all
///    those writers have xids below `X`. (`pg_snapshot_xmax` would not do: it is the latest
///    *completed* xid + 1, and newer transactions may be running.)
/// 3. wait until `pg_snapshot_xmin` of a fresh snapshot reaches `X`: every transaction
///    below `X`, so every writer holding a seq ≤ L, has committed or rolled back. Write
///    transactions are short, so this is normally at once;
/// 4. return events with `after < seq ≤ L` (the xmin rule is by then a no-op).
///
/// Nothing at or below the watermark can appear later, so a consumer that continues after
/// the last seq it got never skips one. While a transaction runs longer than `TAIL_WAIT`
/// (say a big import), this returns no events and the consumer asks again.
pub(crate) async fn events_since(s: &PgStore, after: i64, limit: i64) -> Result<Vec<Event>> {
    if limit <= 0 {
        return Ok(Vec::new());
    }
    let c = s.conn().await?;
    let Some(watermark) =
        crate::db::settled_watermark(&c, "events_seq_seq", after, TAIL_WAIT).await?
    else {
        return Ok(Vec::new());
    };
    let sql = format!(
        "SELECT {EVENT_COLS} FROM events e WHERE e.seq > $1 AND e.seq <= $2 \
         AND e.txid < pg_snapshot_xmin(pg_current_snapshot()) ORDER BY e.seq LIMIT $3"
    );
    query(&c, &sql, &[&after, &watermark, &limit])
        .await?
        .iter()
        .map(rows::event)
        .collect()
}

pub(crate) async fn stats(s: &PgStore) -> Result<Stats> {
    let c = s.conn().await?;
    let r = query_one(
        &c,
        "SELECT (SELECT count(*) FROM tickets), \
                (SELECT count(*) FROM tickets WHERE status NOT IN ('solved', 'closed')), \
                (SELECT count(*) FROM jobs WHERE state = 'queued'), \
                (SELECT count(*) FROM jobs WHERE state = 'dead'), \
                COALESCE((SELECT max(seq) FROM events), 0)",
        &[],
    )
    .await?;
    Ok(Stats {
        tickets: r.get(0),
        open_tickets: r.get(1),
        jobs_queued: r.get(2),
        jobs_dead: r.get(3),
        last_seq: r.get(4),
    })
}

/// Schedules the ticket's SLA check (in the write's transaction) when SLAs are configured.
pub(crate) async fn schedule_sla<C: GenericClient>(c: &C, id: i64, now: Now) -> Result<()> {
    if query_opt(c, "SELECT 1 FROM settings WHERE key = 'sla'", &[])
        .await?
        .is_some()
    {
        // Issue 5: the next check is a column on the ticket (migration 0027).
        crate::sla_bulk::schedule_check(c, id, now).await?;
    }
    // Triggers (issue 5) run after every ticket write, from the same transaction's job.
    crate::triggers::schedule_triggers(c, id, now).await?;
    // Automatic assignment (issue 5; docs/routing.md).
    crate::routing::schedule_routing(c, id, now).await?;
    Ok(())
}

// --- search feed -------------------------------------------------------------------------

/// The tickets with these ids with their message bodies, for the search index's catch-up:
/// two lookups (`id = ANY`, `messages_ticket`) in one snapshot; ids without a ticket are left out.
pub(crate) async fn tickets_for_index_by_id(
    s: &PgStore,
    mut ids: Vec<i64>,
) -> Result<Vec<(Ticket, Vec<String>)>> {
    ids.sort_unstable();
    ids.dedup();
    ids.truncate(10_000);
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    index_snapshot(
        s,
        &format!("SELECT {TICKET_COLS} FROM tickets t WHERE t.id = ANY($1) ORDER BY t.id"),
        &[&ids],
        |_| {
            (
                "SELECT ticket_id, body_text FROM messages WHERE ticket_id = ANY($1) ORDER BY ticket_id, id",
                vec![Box::new(ids.clone())],
            )
        },
    )
    .await
}

/// Tickets after `after_id` with their message bodies, for the search index: two range
/// scans (tickets by primary key, messages by `messages_ticket`) in one snapshot.
pub(crate) async fn tickets_for_index(
    s: &PgStore,
    after_id: i64,
    limit: i64,
) -> Result<Vec<(Ticket, Vec<String>)>> {
    let limit = limit.clamp(0, 10_000);
    index_snapshot(
        s,
        &format!("SELECT {TICKET_COLS} FROM tickets t WHERE t.id > $1 ORDER BY t.id LIMIT $2"),
        &[&after_id, &limit],
        |last| {
            (
                "SELECT ticket_id, body_text FROM messages \
                 WHERE ticket_id > $1 AND ticket_id <= $2 ORDER BY ticket_id, id",
                vec![Box::new(after_id), Box::new(last)],
            )
        },
    )
    .await
}

type BoxedParam = Box<dyn tokio_postgres::types::ToSql + Sync + Send>;

/// Reads tickets (in id order) and then their messages' bodies (`messages(last ticket id)`
/// gives the query, ordered by ticket id and message id) in one read-only snapshot.
async fn index_snapshot(
    s: &PgStore,
    tickets_sql: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    messages: impl FnOnce(i64) -> (&'static str, Vec<BoxedParam>),
) -> Result<Vec<(Ticket, Vec<String>)>> {
    let mut c = s.conn().await?;
    let tx = c
        .build_transaction()
        .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await
        .db()?;
    let tickets: Vec<Ticket> = query(&tx, tickets_sql, params)
        .await?
        .iter()
        .map(rows::ticket)
        .collect::<Result<_>>()?;
    let Some(last) = tickets.last().map(|t| t.id) else {
        return Ok(Vec::new());
    };
    let (sql, args) = messages(last);
    let refs: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = args
        .iter()
        .map(|a| a.as_ref() as &(dyn tokio_postgres::types::ToSql + Sync))
        .collect();
    let msgs = query(&tx, sql, &refs).await?;
    tx.commit().await.db()?;
    let mut out: Vec<(Ticket, Vec<String>)> =
        tickets.into_iter().map(|t| (t, Vec::new())).collect();
    let mut i = 0;
    for r in &msgs {
        let tid: i64 = r.get(0);
        while i < out.len() && out[i].0.id < tid {
            i += 1;
        }
        if i < out.len() && out[i].0.id == tid {
            out[i].1.push(r.get(1));
        }
    }
    Ok(out)
}
