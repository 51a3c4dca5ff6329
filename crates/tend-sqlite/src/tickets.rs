//! Tickets: the projection row, its events, messages and attachments.

use crate::conv::{
    actor, append_event, event_row, load_ticket, placeholders, ticket_row, time, to_json,
    unique_or, us, EVENT_COLS, TICKET_COLS,
};
use crate::people::{customer_id_by_identity, insert_customer, load_customer};
use crate::{db, SqliteStore};
use chrono::{DateTime, Utc};
use rusqlite::types::Value;
use rusqlite::{params, params_from_iter, Connection, OptionalExtension};
use tend_core::ticket::{apply, diff, Patch};
use tend_core::{Actor, Change, Status, Ticket, Viewer};
use tend_store::*;

fn hidden() -> StoreError {
    StoreError::NotFound("ticket")
}

/// The ticket if it exists and the viewer may see it; otherwise NotFound (no IDOR).
pub fn visible_ticket(c: &Connection, id: i64, viewer: &Viewer) -> Result<Ticket> {
    let t = load_ticket(c, id)?.ok_or_else(hidden)?;
    if viewer.can_see(&t) {
        Ok(t)
    } else {
        Err(hidden())
    }
}

pub fn check_assignee(c: &Connection, id: Option<i64>) -> Result<()> {
    if let Some(id) = id {
        let ok: bool = c
            .prepare_cached("SELECT EXISTS(SELECT 1 FROM agents WHERE id = ?1 AND active = 1)")
            .map_err(db)?
            .query_row([id], |r| r.get(0))
            .map_err(db)?;
        if !ok {
            return Err(StoreError::invalid(
                "assignee_id",
                format!("no active agent {id}"),
            ));
        }
    }
    Ok(())
}

pub fn check_group(c: &Connection, id: Option<i64>) -> Result<()> {
    if let Some(id) = id {
        let ok: bool = c
            .prepare_cached("SELECT EXISTS(SELECT 1 FROM groups WHERE id = ?1)")
            .map_err(db)?
            .query_row([id], |r| r.get(0))
            .map_err(db)?;
        if !ok {
            return Err(StoreError::invalid("group_id", format!("no group {id}")));
        }
    }
    Ok(())
}

pub fn insert_ticket_row(c: &Connection, t: &Ticket) -> Result<i64> {
    c.prepare_cached(
        "INSERT INTO tickets(subject, status, priority, channel, requester_id, organization_id, assignee_id, group_id, brand_id, tags, fields, external_id, created_at, updated_at, solved_at, last_seq) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
    )
    .map_err(db)?
    .execute(params![
        t.subject,
        t.status.as_str(),
        t.priority.as_str(),
        t.channel.as_str(),
        t.requester_id,
        t.organization_id,
        t.assignee_id,
        t.group_id,
        t.brand_id,
        to_json(&t.tags),
        to_json(&t.fields),
        t.external_id,
        us(t.created_at),
        us(t.updated_at),
        t.solved_at.map(us),
        t.last_seq
    ])
    .map_err(unique_or(|| format!("a ticket with external_id {} exists", t.external_id.clone().unwrap_or_default())))?;
    let id = c.last_insert_rowid();
    for tag in &t.tags {
        c.prepare_cached("INSERT INTO ticket_tags(tag, ticket_id) VALUES (?1, ?2)")
            .map_err(db)?
            .execute(params![tag, id])
            .map_err(db)?;
    }
    Ok(id)
}

pub fn save_ticket(c: &Connection, t: &Ticket, old_tags: &[String]) -> Result<()> {
    c.prepare_cached(
        "UPDATE tickets SET subject = ?2, status = ?3, priority = ?4, assignee_id = ?5, group_id = ?6, tags = ?7, fields = ?8, updated_at = ?9, solved_at = ?10, last_seq = ?11 WHERE id = ?1",
    )
    .map_err(db)?
    .execute(params![t.id, t.subject, t.status.as_str(), t.priority.as_str(), t.assignee_id, t.group_id, to_json(&t.tags), to_json(&t.fields), us(t.updated_at), t.solved_at.map(us), t.last_seq])
    .map_err(db)?;
    for gone in old_tags.iter().filter(|x| !t.tags.contains(x)) {
        c.prepare_cached("DELETE FROM ticket_tags WHERE tag = ?1 AND ticket_id = ?2")
            .map_err(db)?
            .execute(params![gone, t.id])
            .map_err(db)?;
    }
    for new in t.tags.iter().filter(|x| !old_tags.contains(x)) {
        c.prepare_cached("INSERT OR IGNORE INTO ticket_tags(tag, ticket_id) VALUES (?1, ?2)")
            .map_err(db)?
            .execute(params![new, t.id])
            .map_err(db)?;
    }
    Ok(())
}

/// Inserts a message and its attachments (bytes stored once per content hash).
pub fn insert_message(
    c: &Connection,
    ticket_id: i64,
    author: Actor,
    m: &NewMessage,
    at: DateTime<Utc>,
) -> Result<Message> {
    c.prepare_cached("INSERT INTO messages(ticket_id, author_kind, author_id, public, body_text, body_html, created_at, mail) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)")
        .map_err(db)?
        .execute(params![ticket_id, author.kind.as_str(), author.id, m.public, m.body_text, m.body_html, us(at), m.mail.as_ref().map(to_json)])
        .map_err(db)?;
    let id = c.last_insert_rowid();
    if m.notify {
        crate::jobs::enqueue(
            c,
            tend_store::MAIL_REPLY_JOB,
            &serde_json::json!({ "ticket_id": ticket_id, "message_id": id }),
            at,
            10,
            at,
        )?;
    }
    let mut attachments = Vec::with_capacity(m.attachments.len());
    for a in &m.attachments {
        let sha = sha256_hex(&a.data);
        c.prepare_cached("INSERT OR IGNORE INTO blobs(sha256, data) VALUES (?1, ?2)")
            .map_err(db)?
            .execute(params![sha, a.data])
            .map_err(db)?;
        c.prepare_cached("INSERT INTO attachments(message_id, ticket_id, filename, content_type, size, sha256) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")
            .map_err(db)?
            .execute(params![id, ticket_id, a.filename, a.content_type, a.data.len() as i64, sha])
            .map_err(db)?;
        attachments.push(Attachment {
            id: c.last_insert_rowid(),
            message_id: id,
            filename: a.filename.clone(),
            content_type: a.content_type.clone(),
            size: a.data.len() as i64,
            sha256: sha,
        });
    }
    Ok(Message {
        id,
        ticket_id,
        author,
        public: m.public,
        body_text: m.body_text.clone(),
        body_html: m.body_html.clone(),
        created_at: at,
        attachments,
        mail: m.mail.clone(),
    })
}

pub const MESSAGE_COLS: &str =
    "id, ticket_id, author_kind, author_id, public, body_text, body_html, created_at, mail";

/// A message row (without its attachments) from [`MESSAGE_COLS`].
pub fn message_row(r: &rusqlite::Row) -> rusqlite::Result<Message> {
    let mail: Option<String> = r.get(8)?;
    Ok(Message {
        id: r.get(0)?,
        ticket_id: r.get(1)?,
        author: actor(r.get(2)?, r.get(3)?),
        public: r.get(4)?,
        body_text: r.get(5)?,
        body_html: r.get(6)?,
        created_at: time(r.get(7)?),
        attachments: vec![],
        mail: mail.and_then(|m| serde_json::from_str(&m).ok()),
    })
}

pub fn message_attachments(c: &Connection, message_id: i64) -> Result<Vec<Attachment>> {
    attachments_of(c, message_id)
}

fn sha256_hex(data: &[u8]) -> String {
    tend_store::sha256_hex(data)
}

fn attachments_of(c: &Connection, message_id: i64) -> Result<Vec<Attachment>> {
    c.prepare_cached("SELECT id, message_id, filename, content_type, size, sha256 FROM attachments WHERE message_id = ?1 ORDER BY id")
        .map_err(db)?
        .query_map([message_id], |r| Ok(Attachment { id: r.get(0)?, message_id: r.get(1)?, filename: r.get(2)?, content_type: r.get(3)?, size: r.get(4)?, sha256: r.get(5)? }))
        .map_err(db)?
        .collect::<rusqlite::Result<_>>()
        .map_err(db)
}

pub(crate) fn create_ticket_tx(
    c: &Connection,
    new: NewTicket,
    by: Actor,
    now: DateTime<Utc>,
) -> Result<Created<Ticket>> {
    let agent_key = match (by.id, &new.idempotency_key) {
        (Some(agent), Some(key)) if by.kind == tend_core::ActorKind::Agent => {
            Some((agent, key.clone()))
        }
        _ => None,
    };
    if let Some((agent, key)) = &agent_key {
        let seen: Option<i64> = c
            .prepare_cached(
                "SELECT ticket_id FROM idempotency_keys WHERE agent_id = ?1 AND key = ?2",
            )
            .map_err(db)?
            .query_row(params![agent, key], |r| r.get(0))
            .optional()
            .map_err(db)?;
        if let Some(id) = seen {
            let t = load_ticket(c, id)?.ok_or_else(hidden)?;
            return Ok(Created {
                value: t,
                replayed: true,
            });
        }
    }
    let requester_id = match &new.requester {
        RequesterRef::Id(id) => {
            load_customer(c, *id)
                .map_err(|_| StoreError::invalid("requester_id", format!("no customer {id}")))?;
            *id
        }
        RequesterRef::Email { email, name } => {
            match customer_id_by_identity(c, IdentityKind::Email, email)? {
                Some(id) => id,
                None => {
                    let name = name
                        .clone()
                        .unwrap_or_else(|| email.split('@').next().unwrap_or(email).to_string());
                    insert_customer(
                        c,
                        &NewCustomer {
                            name,
                            identities: vec![Identity {
                                kind: IdentityKind::Email,
                                value: email.clone(),
                            }],
                            ..Default::default()
                        },
                        now,
                    )?
                }
            }
        }
    };
    let organization_id: Option<i64> = c
        .prepare_cached("SELECT organization_id FROM customers WHERE id = ?1")
        .map_err(db)?
        .query_row([requester_id], |r| r.get(0))
        .map_err(db)?;
    check_assignee(c, new.assignee_id)?;
    check_group(c, new.group_id)?;
    let created = Change::Created {
        subject: new.subject,
        status: new.status,
        priority: new.priority,
        channel: new.channel,
        requester_id,
        organization_id,
        assignee_id: new.assignee_id,
        group_id: new.group_id,
        brand_id: new.brand_id,
        tags: new.tags,
        fields: new.fields,
    };
    let mut t = created.initial(0, 0, now).expect("created change");
    t.external_id = new.external_id;
    let id = insert_ticket_row(c, &t)?;
    t.id = id;
    t.last_seq = append_event(c, id, by, now, &created, true)?;
    if let Some(m) = &new.message {
        let author = if new.message_by_requester {
            Actor::customer(requester_id)
        } else {
            by
        };
        let msg = insert_message(c, id, author, m, now)?;
        t.last_seq = append_event(
            c,
            id,
            author,
            now,
            &Change::MessageAdded {
                message_id: msg.id,
                public: m.public,
                time_spent_seconds: agent_time(author, m),
            },
            true,
        )?;
    }
    c.prepare_cached("UPDATE tickets SET last_seq = ?2 WHERE id = ?1")
        .map_err(db)?
        .execute(params![id, t.last_seq])
        .map_err(db)?;
    schedule_sla(c, id, now)?;
    if let Some((agent, key)) = agent_key {
        c.prepare_cached("INSERT INTO idempotency_keys(agent_id, key, ticket_id, created_at) VALUES (?1, ?2, ?3, ?4)").map_err(db)?.execute(params![agent, key, id, us(now)]).map_err(db)?;
    }
    Ok(Created {
        value: t,
        replayed: false,
    })
}

pub(crate) fn update_ticket_tx(
    c: &Connection,
    id: i64,
    patch: Patch,
    viewer: &Viewer,
    by: Actor,
    now: DateTime<Utc>,
) -> Result<Ticket> {
    let mut t = visible_ticket(c, id, viewer)?;
    if let Some(a) = patch.assignee_id {
        check_assignee(c, a)?;
    }
    if let Some(g) = patch.group_id {
        check_group(c, g)?;
    }
    let changes = diff(&t, &patch);
    if changes.is_empty() {
        return Ok(t);
    }
    let old_tags = t.tags.clone();
    for ch in &changes {
        let seq = append_event(c, id, by, now, ch, true)?;
        apply(&mut t, ch, seq, now);
    }
    save_ticket(c, &t, &old_tags)?;
    schedule_sla(c, id, now)?;
    Ok(t)
}

/// Logged time is kept on agents' messages only (customers' messages never carry it).
fn agent_time(author: Actor, m: &NewMessage) -> Option<u32> {
    m.time_spent_seconds
        .filter(|_| author.kind == tend_core::ActorKind::Agent)
}

fn add_message_tx(
    c: &Connection,
    id: i64,
    m: NewMessage,
    viewer: &Viewer,
    by: Actor,
    now: DateTime<Utc>,
) -> Result<Message> {
    let t = visible_ticket(c, id, viewer)?;
    let msg = insert_message(c, id, by, &m, now)?;
    let seq = append_event(
        c,
        id,
        by,
        now,
        &Change::MessageAdded {
            message_id: msg.id,
            public: m.public,
            time_spent_seconds: agent_time(by, &m),
        },
        true,
    )?;
    c.prepare_cached("UPDATE tickets SET updated_at = ?2, last_seq = ?3 WHERE id = ?1")
        .map_err(db)?
        .execute(params![t.id, us(now), seq])
        .map_err(db)?;
    schedule_sla(c, id, now)?;
    Ok(msg)
}

/// SQL condition for what a viewer may see, with its bound values.
fn visibility_sql(viewer: &Viewer, col_prefix: &str, args: &mut Vec<Value>) -> Option<String> {
    if viewer.sees_all() {
        return None;
    }
    args.push(Value::Integer(viewer.agent_id));
    let mut cond = format!("({col_prefix}assignee_id = ?");
    if !viewer.group_ids.is_empty() {
        cond.push_str(&format!(
            " OR {col_prefix}group_id IN ({})",
            placeholders(viewer.group_ids.len())
        ));
        args.extend(viewer.group_ids.iter().map(|g| Value::Integer(*g)));
    }
    cond.push(')');
    Some(cond)
}

/// The WHERE conditions of a ticket query (all but its statuses, sort and cursor), shared by
/// the list and the count.
fn query_conds(q: &TicketQuery, viewer: &Viewer) -> (Vec<String>, Vec<Value>) {
    let mut conds: Vec<String> = Vec::new();
    let mut args: Vec<Value> = Vec::new();
    if !q.priorities.is_empty() {
        conds.push(format!(
            "priority IN ({})",
            placeholders(q.priorities.len())
        ));
        args.extend(q.priorities.iter().map(|p| Value::Text(p.as_str().into())));
    }
    match q.assignee_id {
        Some(Some(a)) => {
            conds.push("assignee_id = ?".into());
            args.push(Value::Integer(a));
        }
        Some(None) => conds.push("assignee_id IS NULL".into()),
        None => {}
    }
    match q.group_id {
        Some(Some(g)) => {
            conds.push("group_id = ?".into());
            args.push(Value::Integer(g));
        }
        Some(None) => conds.push("group_id IS NULL".into()),
        None => {}
    }
    if let Some(r) = q.requester_id {
        conds.push("requester_id = ?".into());
        args.push(Value::Integer(r));
    }
    if let Some(o) = q.organization_id {
        conds.push("organization_id = ?".into());
        args.push(Value::Integer(o));
    }
    if let Some(ch) = q.channel {
        conds.push("channel = ?".into());
        args.push(Value::Text(ch.as_str().into()));
    }
    if let Some(tag) = &q.tag {
        conds.push("id IN (SELECT ticket_id FROM ticket_tags WHERE tag = ?)".into());
        args.push(Value::Text(tag.clone()));
    }
    if let Some(a) = q.updated_after {
        conds.push("updated_at >= ?".into());
        args.push(Value::Integer(us(a)));
    }
    if let Some(b) = q.updated_before {
        conds.push("updated_at < ?".into());
        args.push(Value::Integer(us(b)));
    }
    if let Some(b) = q.sla_due_before {
        conds.push("sla_due_us < ?".into());
        args.push(Value::Integer(tend_store::sla_due_to_us(Some(b))));
    }
    if let Some(v) = visibility_sql(viewer, "", &mut args) {
        conds.push(v);
    }
    (conds, args)
}

/// How many tickets match a query (statuses included; sort, cursor and limit ignored).
fn count_matching(
    c: &Connection,
    q: &TicketQuery,
    viewer: &Viewer,
    at_most: Option<i64>,
) -> Result<i64> {
    let (mut conds, mut args) = query_conds(q, viewer);
    if !q.statuses.is_empty() {
        let list: Vec<String> = q
            .statuses
            .iter()
            .map(|s| format!("'{}'", s.as_str()))
            .collect();
        conds.push(format!("status IN ({})", list.join(",")));
    }
    let where_sql = if conds.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", conds.join(" AND "))
    };
    let sql = match at_most {
        Some(n) => {
            args.push(Value::Integer(n.max(0)));
            format!("SELECT COUNT(*) FROM (SELECT 1 FROM tickets {where_sql} LIMIT ?)")
        }
        None => format!("SELECT COUNT(*) FROM tickets {where_sql}"),
    };
    c.prepare_cached(&sql)
        .map_err(db)?
        .query_row(params_from_iter(args), |r| r.get(0))
        .map_err(db)
}

/// `status = '<status>'`: statuses are a closed set of lower-case words (see
/// [`Status::as_str`]), so the literal is safe, and it keeps the statement's plan fixed.
fn status_literal(s: Status) -> String {
    format!("status = '{}'", s.as_str())
}

/// The statement of one status's part of a ticket list: `cols` of the matching tickets in
/// the query's order, cut by its cursor, at most `limit + 1`.
fn list_sql(
    q: &TicketQuery,
    status: Option<Status>,
    viewer: &Viewer,
    cols: &str,
) -> (String, Vec<Value>) {
    let (mut conds, mut args) = query_conds(q, viewer);
    if let Some(s) = status {
        // A literal, not a bound value, so the planner sees it (partial indexes).
        conds.push(status_literal(s));
    }
    let col = sort_column(q);
    let (cmp, dir) = if q.sort.descending() {
        ("<", "DESC")
    } else {
        (">", "ASC")
    };
    if let Some(cur) = q.cursor {
        if col == "id" {
            conds.push(format!("id {cmp} ?"));
            args.push(Value::Integer(cur.id));
        } else {
            conds.push(format!("({col} {cmp} ? OR ({col} = ? AND id {cmp} ?))"));
            args.extend([
                Value::Integer(cur.key),
                Value::Integer(cur.key),
                Value::Integer(cur.id),
            ]);
        }
    }
    let where_sql = if conds.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", conds.join(" AND "))
    };
    let order = if col == "id" {
        format!("id {dir}")
    } else {
        format!("{col} {dir}, id {dir}")
    };
    args.push(Value::Integer(q.limit + 1));
    (
        format!("SELECT {cols} FROM tickets {where_sql} ORDER BY {order} LIMIT ?"),
        args,
    )
}

/// The (integer, never NULL) column a list is ordered by.
fn sort_column(q: &TicketQuery) -> &'static str {
    match q.sort.key() {
        SortKey::Updated => "updated_at",
        SortKey::Created => "created_at",
        SortKey::Id => "id",
        SortKey::SlaDue => "sla_due_us",
    }
}

fn list_one(
    c: &Connection,
    q: &TicketQuery,
    status: Option<Status>,
    viewer: &Viewer,
) -> Result<Vec<Ticket>> {
    let (sql, args) = list_sql(q, status, viewer, TICKET_COLS);
    c.prepare_cached(&sql)
        .map_err(db)?
        .query_map(params_from_iter(args), ticket_row)
        .map_err(db)?
        .collect::<rusqlite::Result<_>>()
        .map_err(db)
}

/// A list over several statuses: each status's part is read as (sort key, id) from its
/// index, the parts are merged, and only the page's tickets are read whole (four parts of
/// 26 rows each were read whole and three quarters thrown away). One read transaction, so
/// the rows are those the keys were taken from.
fn list_merged(c: &Connection, q: &TicketQuery, viewer: &Viewer) -> Result<Page<Ticket>> {
    let tx = c.unchecked_transaction().map_err(db)?;
    let col = sort_column(q);
    let mut keys: Vec<(i64, i64)> = Vec::new();
    for s in &q.statuses {
        let (sql, args) = list_sql(q, Some(*s), viewer, &format!("{col}, id"));
        let part = tx
            .prepare_cached(&sql)
            .map_err(db)?
            .query_map(params_from_iter(args), |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(db)?
            .collect::<rusqlite::Result<Vec<(i64, i64)>>>()
            .map_err(db)?;
        keys.extend(part);
    }
    if q.sort.descending() {
        keys.sort_unstable_by_key(|k| std::cmp::Reverse(*k));
    } else {
        keys.sort_unstable();
    }
    keys.truncate(q.limit.max(0) as usize + 1);
    let mut tickets = Vec::with_capacity(keys.len());
    for (_, id) in keys {
        if let Some(t) = load_ticket(&tx, id)? {
            tickets.push(t);
        }
    }
    Ok(merge_pages(vec![tickets], q.sort, q.limit))
}

impl SqliteStore {
    pub(crate) async fn create_ticket_impl(
        &self,
        new: NewTicket,
        by: Actor,
        now: DateTime<Utc>,
    ) -> Result<Created<Ticket>> {
        self.write(move |c| create_ticket_tx(c, new, by, now)).await
    }

    pub(crate) async fn get_ticket_impl(&self, id: i64, viewer: Viewer) -> Result<Ticket> {
        self.read(move |c| visible_ticket(c, id, &viewer)).await
    }

    pub(crate) async fn list_tickets_impl(
        &self,
        q: TicketQuery,
        viewer: Viewer,
    ) -> Result<Page<Ticket>> {
        self.read(move |c| {
            // One ordered index scan per status, merged: cheaper than sorting every match.
            match q.statuses.as_slice() {
                [] => Ok(merge_pages(
                    vec![list_one(c, &q, None, &viewer)?],
                    q.sort,
                    q.limit,
                )),
                [one] => Ok(merge_pages(
                    vec![list_one(c, &q, Some(*one), &viewer)?],
                    q.sort,
                    q.limit,
                )),
                _ => list_merged(c, &q, &viewer),
            }
        })
        .await
    }

    pub(crate) async fn count_tickets_impl(
        &self,
        q: TicketQuery,
        viewer: Viewer,
        at_most: Option<i64>,
    ) -> Result<i64> {
        self.read(move |c| count_matching(c, &q, &viewer, at_most))
            .await
    }

    pub(crate) async fn set_sla_due_impl(&self, id: i64, due: Option<DateTime<Utc>>) -> Result<()> {
        self.write(move |c| {
            c.prepare_cached("UPDATE tickets SET sla_due_us = ?2 WHERE id = ?1")
                .map_err(db)?
                .execute(params![id, tend_store::sla_due_to_us(due)])
                .map_err(db)?;
            Ok(())
        })
        .await
    }

    pub(crate) async fn update_ticket_impl(
        &self,
        id: i64,
        patch: Patch,
        viewer: Viewer,
        by: Actor,
        now: DateTime<Utc>,
    ) -> Result<Ticket> {
        self.write(move |c| update_ticket_tx(c, id, patch, &viewer, by, now))
            .await
    }

    pub(crate) async fn add_message_impl(
        &self,
        id: i64,
        m: NewMessage,
        viewer: Viewer,
        by: Actor,
        now: DateTime<Utc>,
    ) -> Result<Message> {
        self.write(move |c| add_message_tx(c, id, m, &viewer, by, now))
            .await
    }

    pub(crate) async fn list_messages_impl(&self, id: i64, viewer: Viewer) -> Result<Vec<Message>> {
        self.read(move |c| {
            visible_ticket(c, id, &viewer)?;
            let rows: Vec<Message> = c
                .prepare_cached(&format!(
                    "SELECT {MESSAGE_COLS} FROM messages WHERE ticket_id = ?1 ORDER BY id"
                ))
                .map_err(db)?
                .query_map([id], message_row)
                .map_err(db)?
                .collect::<rusqlite::Result<_>>()
                .map_err(db)?;
            rows.into_iter()
                .map(|mut m| {
                    m.attachments = attachments_of(c, m.id)?;
                    Ok(m)
                })
                .collect()
        })
        .await
    }

    pub(crate) async fn ticket_events_impl(
        &self,
        id: i64,
        viewer: Viewer,
        page: PageRequest,
    ) -> Result<Page<Event>> {
        self.read(move |c| {
            visible_ticket(c, id, &viewer)?;
            let items = c
                .prepare_cached(&format!("SELECT {EVENT_COLS} FROM events WHERE ticket_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3"))
                .map_err(db)?
                .query_map(params![id, page.after_id.unwrap_or(0), page.limit + 1], event_row)
                .map_err(db)?
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(db)?;
            Ok(Page::from_overfetch(items, page.limit, |e| encode_id_cursor(e.seq)))
        })
        .await
    }

    pub(crate) async fn customer_timeline_impl(
        &self,
        customer_id: i64,
        viewer: Viewer,
        page: PageRequest,
    ) -> Result<Page<Event>> {
        self.read(move |c| {
            load_customer(c, customer_id)?;
            let mut args: Vec<Value> = vec![Value::Integer(customer_id), Value::Integer(page.after_id.unwrap_or(i64::MAX))];
            let vis = visibility_sql(&viewer, "t.", &mut args).map(|v| format!("AND {v}")).unwrap_or_default();
            args.push(Value::Integer(page.limit + 1));
            let sql = format!(
                "SELECT e.seq, e.ticket_id, e.actor_kind, e.actor_id, e.at, e.data FROM events e JOIN tickets t ON t.id = e.ticket_id \
                 WHERE t.requester_id = ? AND e.seq < ? {vis} ORDER BY e.seq DESC LIMIT ?"
            );
            let items = c.prepare_cached(&sql).map_err(db)?.query_map(params_from_iter(args), event_row).map_err(db)?.collect::<rusqlite::Result<Vec<_>>>().map_err(db)?;
            Ok(Page::from_overfetch(items, page.limit, |e| encode_id_cursor(e.seq)))
        })
        .await
    }

    pub(crate) async fn get_attachment_impl(
        &self,
        id: i64,
        viewer: Viewer,
    ) -> Result<(Attachment, Vec<u8>)> {
        self.read(move |c| {
            let row = c
                .prepare_cached("SELECT a.id, a.message_id, a.filename, a.content_type, a.size, a.sha256, a.ticket_id, b.data FROM attachments a JOIN blobs b ON b.sha256 = a.sha256 WHERE a.id = ?1")
                .map_err(db)?
                .query_row([id], |r| Ok((Attachment { id: r.get(0)?, message_id: r.get(1)?, filename: r.get(2)?, content_type: r.get(3)?, size: r.get(4)?, sha256: r.get(5)? }, r.get::<_, i64>(6)?, r.get::<_, Vec<u8>>(7)?)))
                .optional()
                .map_err(db)?
                .ok_or(StoreError::NotFound("attachment"))?;
            visible_ticket(c, row.1, &viewer).map_err(|_| StoreError::NotFound("attachment"))?;
            Ok((row.0, row.2))
        })
        .await
    }

    pub(crate) async fn list_tags_impl(&self) -> Result<Vec<TagCount>> {
        self.read(|c| {
            c.prepare_cached("SELECT tag, COUNT(*) AS n FROM ticket_tags GROUP BY tag ORDER BY n DESC, tag LIMIT 1000")
                .map_err(db)?
                .query_map([], |r| Ok(TagCount { tag: r.get(0)?, count: r.get(1)? }))
                .map_err(db)?
                .collect::<rusqlite::Result<_>>()
                .map_err(db)
        })
        .await
    }

    pub(crate) async fn events_since_impl(&self, after: i64, limit: i64) -> Result<Vec<Event>> {
        // One writer assigns seq in commit order, so anything committed is safe to read.
        self.read(move |c| {
            c.prepare_cached(&format!(
                "SELECT {EVENT_COLS} FROM events WHERE seq > ?1 ORDER BY seq LIMIT ?2"
            ))
            .map_err(db)?
            .query_map(params![after, limit], event_row)
            .map_err(db)?
            .collect::<rusqlite::Result<_>>()
            .map_err(db)
        })
        .await
    }
}

fn record_event_tx(
    c: &Connection,
    id: i64,
    change: Change,
    actor: Actor,
    now: DateTime<Utc>,
) -> Result<Event> {
    load_ticket(c, id)?.ok_or_else(hidden)?;
    let seq = append_event(c, id, actor, now, &change, true)?;
    c.prepare_cached("UPDATE tickets SET last_seq = ?2 WHERE id = ?1")
        .map_err(db)?
        .execute(params![id, seq])
        .map_err(db)?;
    Ok(Event {
        seq,
        ticket_id: id,
        actor,
        at: now,
        kind: change.kind().to_string(),
        change,
    })
}

impl SqliteStore {
    pub(crate) async fn record_event_impl(
        &self,
        id: i64,
        change: Change,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<Event> {
        self.write(move |c| record_event_tx(c, id, change, actor, now))
            .await
    }
}

/// Schedules the ticket's SLA check (in the write's transaction) when SLAs are configured.
pub(crate) fn schedule_sla(c: &Connection, id: i64, now: DateTime<Utc>) -> Result<()> {
    let enabled: bool = c
        .prepare_cached("SELECT EXISTS(SELECT 1 FROM settings WHERE key = 'sla')")
        .map_err(db)?
        .query_row([], |r| r.get(0))
        .map_err(db)?;
    if enabled {
        // Issue 5: the next check is a column on the ticket (migration 0027).
        crate::sla_bulk::schedule_check(c, id, now)?;
    }
    // Triggers (issue 5) run after every ticket write, from the same transaction's job.
    crate::triggers::schedule_triggers(c, id, now)?;
    // Automatic assignment (issue 5; docs/routing.md).
    crate::routing::schedule_routing(c, id, now)?;
    Ok(())
}

// --- search feed -------------------------------------------------------------------------

impl SqliteStore {
    /// Tickets after `after_id` with their message bodies, for the search index: two range
    /// scans (tickets by id, messages by `messages_ticket`) in one read transaction.
    pub(crate) async fn tickets_for_index_impl(
        &self,
        after_id: i64,
        limit: i64,
    ) -> Result<Vec<(Ticket, Vec<String>)>> {
        let limit = limit.clamp(0, 10_000);
        self.read(move |c| {
            let tx = c.unchecked_transaction().map_err(db)?;
            let tickets: Vec<Ticket> = tx
                .prepare_cached(&format!(
                    "SELECT {TICKET_COLS} FROM tickets WHERE id > ?1 ORDER BY id LIMIT ?2"
                ))
                .map_err(db)?
                .query_map(params![after_id, limit], ticket_row)
                .map_err(db)?
                .collect::<rusqlite::Result<_>>()
                .map_err(db)?;
            let Some(last) = tickets.last().map(|t| t.id) else {
                return Ok(Vec::new());
            };
            let mut out: Vec<(Ticket, Vec<String>)> =
                tickets.into_iter().map(|t| (t, Vec::new())).collect();
            let mut st = tx
                .prepare_cached(
                    "SELECT ticket_id, body_text FROM messages \
                     WHERE ticket_id > ?1 AND ticket_id <= ?2 ORDER BY ticket_id, id",
                )
                .map_err(db)?;
            let mut rows = st.query(params![after_id, last]).map_err(db)?;
            let mut i = 0;
            while let Some(r) = rows.next().map_err(db)? {
                let tid: i64 = r.get(0).map_err(db)?;
                while i < out.len() && out[i].0.id < tid {
                    i += 1;
                }
                if i < out.len() && out[i].0.id == tid {
                    out[i].1.push(r.get(1).map_err(db)?);
                }
            }
            Ok(out)
        })
        .await
    }

    pub(crate) async fn tickets_for_index_by_id_impl(
        &self,
        mut ids: Vec<i64>,
    ) -> Result<Vec<(Ticket, Vec<String>)>> {
        ids.sort_unstable();
        ids.dedup();
        ids.truncate(10_000);
        self.read(move |c| {
            let tx = c.unchecked_transaction().map_err(db)?;
            let mut one = tx
                .prepare_cached(&format!("SELECT {TICKET_COLS} FROM tickets WHERE id = ?1"))
                .map_err(db)?;
            let mut bodies = tx
                .prepare_cached("SELECT body_text FROM messages WHERE ticket_id = ?1 ORDER BY id")
                .map_err(db)?;
            let mut out = Vec::with_capacity(ids.len());
            for id in ids {
                let Some(t) = one.query_row([id], ticket_row).optional().map_err(db)? else {
                    continue;
                };
                let messages = bodies
                    .query_map([id], |r| r.get::<_, String>(0))
                    .map_err(db)?
                    .collect::<rusqlite::Result<Vec<_>>>()
                    .map_err(db)?;
                out.push((t, messages));
            }
            Ok(out)
        })
        .await
    }
}
