//! Bulk import: one transaction per batch. Names and e-mails are resolved with a few
//! set-based statements, the records are planned (`tend_core::import::plan`) off the async
//! runtime, ids are drawn from the sequences in bulk, and tickets, tags, messages and events
//! go in with binary COPY.

use crate::db::{execute, query, query_one, us, DbExt};
use crate::migrate::LOCK_NS;
use crate::PgStore;
use chrono::{DateTime, Utc};
use deadpool_postgres::Transaction;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use tend_core::html::{sanitize, text_to_html};
use tend_core::import::{plan, ImportRecord, Plan, Resolve, Step};
use tend_core::ticket::apply;
use tend_core::{Actor, Change, Email, Ticket};
use tend_store::{ImportOutcome, Result, StoreError};
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{Json, ToSql, Type};

type Now = DateTime<Utc>;

/// Ids for the names and e-mails of a batch, keyed by the exact strings the records use.
#[derive(Default)]
struct Maps {
    orgs: HashMap<String, i64>,
    groups: HashMap<String, i64>,
    agents: HashMap<String, i64>,
    /// E-mail → (customer id, their organization).
    customers: HashMap<String, (i64, Option<i64>)>,
}

struct Resolver<'a> {
    requester: i64,
    organization: Option<i64>,
    maps: &'a Maps,
}

impl Resolve for Resolver<'_> {
    fn requester(&self) -> i64 {
        self.requester
    }
    fn organization(&self) -> Option<i64> {
        self.organization
    }
    fn agent(&self, email: &Email) -> i64 {
        self.maps
            .agents
            .get(email.as_str())
            .copied()
            .unwrap_or_default()
    }
    fn customer(&self, email: &Email) -> i64 {
        self.maps
            .customers
            .get(email.as_str())
            .map(|c| c.0)
            .unwrap_or_default()
    }
    fn group(&self, name: &str) -> i64 {
        self.maps.groups.get(name).copied().unwrap_or_default()
    }
}

/// A customer the batch may have to create.
#[derive(Default)]
struct NewPerson {
    name: Option<String>,
    language: Option<String>,
    /// Organization name, as the record spells it.
    organization: Option<String>,
}

struct Planned {
    rec: ImportRecord,
    plan: Plan,
    /// Sanitized HTML per message index.
    html: Vec<String>,
}

struct MessageRow {
    id: i64,
    ticket_id: i64,
    author: Actor,
    public: bool,
    body_text: String,
    body_html: String,
    created_at: Now,
}

struct EventRow {
    seq: i64,
    ticket_id: i64,
    actor: Actor,
    change: Change,
    at: Now,
}

#[derive(Default)]
struct Rows {
    tickets: Vec<Ticket>,
    tags: Vec<(String, i64)>,
    messages: Vec<MessageRow>,
    events: Vec<EventRow>,
}

pub(crate) async fn import(
    s: &PgStore,
    batch: Vec<ImportRecord>,
    now: Now,
) -> Result<ImportOutcome> {
    if batch.is_empty() {
        return Ok(ImportOutcome::default());
    }
    let now = us(now);
    let total = batch.len() as u64;
    let mut c = s.conn().await?;
    let tx = c.transaction().await.db()?;
    // Imports of one schema run one at a time, so "does this external id exist" holds until
    // commit. pg_current_xact_id() gives the transaction its xid before it draws event seqs
    // (see events_since).
    query_one(
        &tx,
        "SELECT pg_advisory_xact_lock($1, hashtext(current_schema())), pg_current_xact_id()::text",
        &[&(LOCK_NS + 1)],
    )
    .await?;

    // 1. Skip records whose external id exists, or came earlier in this batch.
    let ext_ids: Vec<&str> = batch.iter().map(|r| r.external_id.as_str()).collect();
    let existing: HashSet<String> = query(
        &tx,
        "SELECT external_id FROM tickets WHERE external_id = ANY($1)",
        &[&ext_ids],
    )
    .await?
    .iter()
    .map(|r| r.get(0))
    .collect();
    let mut seen = HashSet::new();
    let records: Vec<ImportRecord> = batch
        .into_iter()
        .filter(|r| !existing.contains(&r.external_id) && seen.insert(r.external_id.clone()))
        .collect();
    let created = records.len() as u64;
    if records.is_empty() {
        tx.commit().await.db()?;
        return Ok(ImportOutcome {
            created: 0,
            skipped: total,
        });
    }

    // 2. Resolve (and create) organizations, groups, agents, customers.
    let maps = resolve(&tx, &records, now).await?;

    // 3. Plan every record, off the async runtime (sanitizing HTML is the costly part).
    let (planned, maps) = tokio::task::spawn_blocking(move || {
        let planned: Vec<Planned> = records
            .into_iter()
            .map(|rec| plan_one(rec, &maps))
            .collect();
        (planned, maps)
    })
    .await
    .map_err(|e| StoreError::Backend(format!("import planner: {e}")))?;
    drop(maps);

    // 4. Draw all ids at once.
    let n_tickets = planned.len() as i64;
    let n_messages: i64 = planned.iter().map(|p| p.rec.messages.len() as i64).sum();
    let n_events: i64 = planned.iter().map(|p| 1 + p.plan.steps.len() as i64).sum();
    let ids = query_one(
        &tx,
        "SELECT ARRAY(SELECT nextval('tickets_id_seq') FROM generate_series(1, $1::bigint)), \
                ARRAY(SELECT nextval('messages_id_seq') FROM generate_series(1, $2::bigint)), \
                ARRAY(SELECT nextval('events_seq_seq') FROM generate_series(1, $3::bigint))",
        &[&n_tickets, &n_messages, &n_events],
    )
    .await?;
    let mut ticket_ids: Vec<i64> = ids.get(0);
    let mut message_ids: Vec<i64> = ids.get(1);
    let mut seqs: Vec<i64> = ids.get(2);
    ticket_ids.sort_unstable();
    message_ids.sort_unstable();
    seqs.sort_unstable();

    // 5. Build the rows: the projection of each ticket is its events folded in order.
    let rows =
        tokio::task::spawn_blocking(move || build_rows(planned, ticket_ids, message_ids, seqs))
            .await
            .map_err(|e| StoreError::Backend(format!("import builder: {e}")))??;

    // 6. COPY them in, parents first.
    copy_rows(&tx, &rows).await?;
    // Imported tickets had no SLA checks scheduled: one recompute pass covers them.
    if created > 0
        && crate::db::query_opt(&tx, "SELECT 1 FROM settings WHERE key = 'sla'", &[])
            .await?
            .is_some()
    {
        crate::jobs::schedule(
            &tx,
            tend_store::SLA_RECOMPUTE_KEY,
            &tend_store::sla_recompute_job(0, now),
        )
        .await?;
    }
    tx.commit().await.db()?;
    Ok(ImportOutcome {
        created,
        skipped: total - created,
    })
}

fn plan_one(mut rec: ImportRecord, maps: &Maps) -> Planned {
    // Cut times to what PostgreSQL keeps, before planning, so stored values are exact.
    rec.created_at = us(rec.created_at);
    for m in &mut rec.messages {
        m.created_at = us(m.created_at);
    }
    for h in &mut rec.history {
        h.at = us(h.at);
    }
    let (requester, requester_org) = maps
        .customers
        .get(rec.requester.email.as_str())
        .copied()
        .unwrap_or_default();
    // As in create_ticket, the ticket's organization is its requester's: a customer this
    // batch created got the record's organization; an existing one keeps theirs.
    let organization = requester_org;
    let p = plan(
        &rec,
        &Resolver {
            requester,
            organization,
            maps,
        },
    );
    let html = rec
        .messages
        .iter()
        .map(|m| match &m.html {
            Some(h) => sanitize(h),
            None => text_to_html(&m.body),
        })
        .collect();
    Planned { rec, plan: p, html }
}

fn build_rows(
    planned: Vec<Planned>,
    ticket_ids: Vec<i64>,
    message_ids: Vec<i64>,
    seqs: Vec<i64>,
) -> Result<Rows> {
    let mut rows = Rows::default();
    let mut message_ids = message_ids.into_iter();
    let mut seqs = seqs.into_iter();
    let short = || StoreError::Backend("import: too few ids drawn".into());
    for (p, id) in planned.into_iter().zip(ticket_ids) {
        let Planned {
            mut rec,
            plan,
            mut html,
        } = p;
        let at = rec.created_at;
        let seq = seqs.next().ok_or_else(short)?;
        let mut t = plan
            .created
            .initial(id, seq, at)
            .ok_or_else(|| StoreError::Backend("import: plan without Created".into()))?;
        t.external_id = Some(std::mem::take(&mut rec.external_id));
        rows.events.push(EventRow {
            seq,
            ticket_id: id,
            actor: plan.created_by,
            change: plan.created,
            at,
        });
        for (at, actor, step) in plan.steps {
            let seq = seqs.next().ok_or_else(short)?;
            let change = match step {
                Step::Message {
                    index,
                    author,
                    public,
                } => {
                    let mid = message_ids.next().ok_or_else(short)?;
                    let m = &mut rec.messages[index];
                    rows.messages.push(MessageRow {
                        id: mid,
                        ticket_id: id,
                        author,
                        public,
                        body_text: std::mem::take(&mut m.body),
                        body_html: std::mem::take(&mut html[index]),
                        created_at: m.created_at,
                    });
                    Change::MessageAdded {
                        time_spent_seconds: None,
                        message_id: mid,
                        public,
                    }
                }
                Step::Change(c) => c,
            };
            apply(&mut t, &change, seq, at);
            rows.events.push(EventRow {
                seq,
                ticket_id: id,
                actor,
                change,
                at,
            });
        }
        rows.tags.extend(t.tags.iter().map(|tag| (tag.clone(), id)));
        rows.tickets.push(t);
    }
    Ok(rows)
}

async fn copy_rows(tx: &Transaction<'_>, rows: &Rows) -> Result<()> {
    let sink = tx
        .copy_in(
            "COPY tickets (id, subject, status, priority, channel, requester_id, organization_id, assignee_id, group_id, \
             brand_id, tags, fields, external_id, created_at, updated_at, solved_at, last_seq) FROM STDIN (FORMAT binary)",
        )
        .await
        .db()?;
    let types = [
        Type::INT8,
        Type::TEXT,
        Type::TEXT,
        Type::TEXT,
        Type::TEXT,
        Type::INT8,
        Type::INT8,
        Type::INT8,
        Type::INT8,
        Type::INT8,
        Type::TEXT_ARRAY,
        Type::JSONB,
        Type::TEXT,
        Type::TIMESTAMPTZ,
        Type::TIMESTAMPTZ,
        Type::TIMESTAMPTZ,
        Type::INT8,
    ];
    let w = BinaryCopyInWriter::new(sink, &types);
    futures::pin_mut!(w);
    for t in &rows.tickets {
        let fields = Json(&t.fields);
        let row: [&(dyn ToSql + Sync); 17] = [
            &t.id,
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
            &t.created_at,
            &t.updated_at,
            &t.solved_at,
            &t.last_seq,
        ];
        w.as_mut().write(&row).await.db()?;
    }
    w.finish().await.db()?;

    if !rows.tags.is_empty() {
        let sink = tx
            .copy_in("COPY ticket_tags (tag, ticket_id) FROM STDIN (FORMAT binary)")
            .await
            .db()?;
        let w = BinaryCopyInWriter::new(sink, &[Type::TEXT, Type::INT8]);
        futures::pin_mut!(w);
        for (tag, id) in &rows.tags {
            w.as_mut().write(&[tag, id]).await.db()?;
        }
        w.finish().await.db()?;
    }

    if !rows.messages.is_empty() {
        let sink = tx
            .copy_in(
                "COPY messages (id, ticket_id, author_kind, author_id, public, body_text, body_html, created_at) \
                 FROM STDIN (FORMAT binary)",
            )
            .await
            .db()?;
        let types = [
            Type::INT8,
            Type::INT8,
            Type::TEXT,
            Type::INT8,
            Type::BOOL,
            Type::TEXT,
            Type::TEXT,
            Type::TIMESTAMPTZ,
        ];
        let w = BinaryCopyInWriter::new(sink, &types);
        futures::pin_mut!(w);
        for m in &rows.messages {
            let kind = m.author.kind.as_str();
            w.as_mut()
                .write(&[
                    &m.id,
                    &m.ticket_id,
                    &kind,
                    &m.author.id,
                    &m.public,
                    &m.body_text,
                    &m.body_html,
                    &m.created_at,
                ])
                .await
                .db()?;
        }
        w.finish().await.db()?;
    }

    // txid is left to its default, pg_current_xact_id().
    let sink = tx
        .copy_in("COPY events (seq, ticket_id, kind, actor_kind, actor_id, data, at) FROM STDIN (FORMAT binary)")
        .await
        .db()?;
    let types = [
        Type::INT8,
        Type::INT8,
        Type::TEXT,
        Type::TEXT,
        Type::INT8,
        Type::JSONB,
        Type::TIMESTAMPTZ,
    ];
    let w = BinaryCopyInWriter::new(sink, &types);
    futures::pin_mut!(w);
    for e in &rows.events {
        let (kind, actor_kind, data) = (e.change.kind(), e.actor.kind.as_str(), Json(&e.change));
        w.as_mut()
            .write(&[
                &e.seq,
                &e.ticket_id,
                &kind,
                &actor_kind,
                &e.actor.id,
                &data,
                &e.at,
            ])
            .await
            .db()?;
    }
    w.finish().await.db()?;
    Ok(())
}

/// Finds or creates everything the records name. Inserts skip names that exist (no
/// sequence values burnt) and `ON CONFLICT DO NOTHING` covers a concurrent creator;
/// lookups then map each exact string the records use to its id.
async fn resolve(tx: &Transaction<'_>, records: &[ImportRecord], now: Now) -> Result<Maps> {
    let mut orgs = BTreeSet::new();
    let mut groups = BTreeSet::new();
    let mut agents = BTreeSet::new();
    // E-mail → details; requesters first, so their details win.
    let mut customers: BTreeMap<String, NewPerson> = BTreeMap::new();
    for r in records {
        if let Some(o) = &r.organization {
            orgs.insert(o.clone());
        }
        groups.extend(r.group.iter().cloned());
        agents.extend(r.assignee.iter().map(|e| e.as_str().to_string()));
        for h in &r.history {
            groups.extend(h.group.iter().cloned());
            agents.extend(
                h.by.iter()
                    .chain(h.assignee.iter())
                    .map(|e| e.as_str().to_string()),
            );
        }
        customers
            .entry(r.requester.email.as_str().to_string())
            .or_insert_with(|| NewPerson {
                name: r.requester.name.clone(),
                language: r.requester.language.clone(),
                organization: r.organization.clone(),
            });
    }
    for r in records {
        for m in &r.messages {
            if m.author_is_agent {
                agents.insert(m.author.as_str().to_string());
            } else {
                customers.entry(m.author.as_str().to_string()).or_default();
            }
        }
    }
    let mut maps = Maps::default();

    let orgs: Vec<String> = orgs.into_iter().collect();
    if !orgs.is_empty() {
        execute(
            tx,
            "INSERT INTO organizations (name, domains, notes, created_at, updated_at) \
             SELECT btrim(n), '[]'::jsonb, '', $2, $2 FROM unnest($1::text[]) AS n \
             WHERE NOT EXISTS (SELECT 1 FROM organizations o WHERE lower(o.name) = lower(btrim(n))) \
             ON CONFLICT ((lower(name))) DO NOTHING",
            &[&orgs, &now],
        )
        .await?;
        let rows = query(
            tx,
            "SELECT n, o.id FROM unnest($1::text[]) AS n JOIN organizations o ON lower(o.name) = lower(btrim(n))",
            &[&orgs],
        )
        .await?;
        maps.orgs = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    }

    let groups: Vec<String> = groups.into_iter().collect();
    if !groups.is_empty() {
        execute(
            tx,
            "INSERT INTO groups (name, description, created_at) \
             SELECT btrim(n), '', $2 FROM unnest($1::text[]) AS n \
             WHERE NOT EXISTS (SELECT 1 FROM groups g WHERE lower(g.name) = lower(btrim(n))) \
             ON CONFLICT ((lower(name))) DO NOTHING",
            &[&groups, &now],
        )
        .await?;
        let rows =
            query(tx, "SELECT n, g.id FROM unnest($1::text[]) AS n JOIN groups g ON lower(g.name) = lower(btrim(n))", &[&groups])
                .await?;
        maps.groups = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    }

    let agents: Vec<String> = agents.into_iter().collect();
    if !agents.is_empty() {
        // Agents we only know from history: inactive, no password, role agent.
        execute(
            tx,
            "INSERT INTO agents (email, name, role, password_hash, active, created_at) \
             SELECT e, split_part(e, '@', 1), 'agent', NULL, FALSE, $2 FROM unnest($1::text[]) AS e \
             WHERE NOT EXISTS (SELECT 1 FROM agents a WHERE lower(a.email) = lower(e)) \
             ON CONFLICT ((lower(email))) DO NOTHING",
            &[&agents, &now],
        )
        .await?;
        let rows =
            query(tx, "SELECT e, a.id FROM unnest($1::text[]) AS e JOIN agents a ON lower(a.email) = lower(e)", &[&agents]).await?;
        maps.agents = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    }

    let emails: Vec<String> = customers.keys().cloned().collect();
    const FIND: &str = "SELECT e, c.id, c.organization_id FROM unnest($1::text[]) AS e \
                        JOIN customer_identities ci ON ci.kind = 'email' AND lower(ci.value) = lower(e) \
                        JOIN customers c ON c.id = ci.customer_id";
    for r in query(tx, FIND, &[&emails]).await? {
        maps.customers.insert(r.get(0), (r.get(1), r.get(2)));
    }
    // Create the missing ones, one per lower-cased address.
    let mut lower_seen = HashSet::new();
    let missing: Vec<&String> = emails
        .iter()
        .filter(|e| !maps.customers.contains_key(*e) && lower_seen.insert(e.to_lowercase()))
        .collect();
    if !missing.is_empty() {
        let n = missing.len() as i64;
        let ids: Vec<i64> = query_one(
            tx,
            "SELECT ARRAY(SELECT nextval('customers_id_seq') FROM generate_series(1, $1::bigint))",
            &[&n],
        )
        .await?
        .get(0);
        let mut names = Vec::with_capacity(missing.len());
        let mut langs = Vec::with_capacity(missing.len());
        let mut org_ids = Vec::with_capacity(missing.len());
        for e in &missing {
            let p = &customers[*e];
            names.push(p.name.clone().unwrap_or_else(|| crate::db::local_part(e)));
            langs.push(p.language.clone());
            org_ids.push(
                p.organization
                    .as_ref()
                    .and_then(|o| maps.orgs.get(o).copied()),
            );
        }
        execute(
            tx,
            "INSERT INTO customers (id, name, organization_id, language, notes, created_at, updated_at) \
             SELECT u.id, u.name, u.org, u.lang, '', $5, $5 \
             FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::text[]) AS u(id, name, org, lang)",
            &[&ids, &names, &org_ids, &langs, &now],
        )
        .await?;
        let claimed: HashSet<i64> = query(
            tx,
            "INSERT INTO customer_identities (customer_id, kind, value) \
             SELECT u.id, 'email', u.e FROM unnest($1::bigint[], $2::text[]) AS u(id, e) \
             ON CONFLICT DO NOTHING RETURNING customer_id",
            &[&ids, &missing],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
        let lost: Vec<i64> = ids
            .iter()
            .copied()
            .filter(|id| !claimed.contains(id))
            .collect();
        if !lost.is_empty() {
            // Someone else holds that address (a concurrent writer, or a case variant
            // inside this batch): drop our customer and use theirs.
            execute(tx, "DELETE FROM customers WHERE id = ANY($1)", &[&lost]).await?;
        }
        // Map every address (including case variants) to the customer that now holds it.
        let rest: Vec<&String> = emails
            .iter()
            .filter(|e| !maps.customers.contains_key(*e))
            .collect();
        for r in query(tx, FIND, &[&rest]).await? {
            maps.customers.insert(r.get(0), (r.get(1), r.get(2)));
        }
    }
    Ok(maps)
}
