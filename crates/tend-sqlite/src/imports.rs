//! Bulk import of JSON Lines records: one transaction per batch, prepared statements,
//! sequence numbers assigned in memory (this is the only writer), one row write per ticket.

use crate::conv::{to_json, us};
use crate::people::{
    customer_id_by_identity, insert_agent, insert_customer, insert_group, insert_organization,
};
use crate::tickets::{insert_message, insert_ticket_row};
use crate::{db, SqliteStore};
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension};
use std::collections::{HashMap, HashSet};
use tend_core::import::{plan, ImportRecord, Resolve, Step};
use tend_core::ticket::apply;
use tend_core::{Email, Role};
use tend_store::*;

#[derive(Default)]
struct Ids {
    requester: i64,
    organization: Option<i64>,
    agents: HashMap<String, i64>,
    customers: HashMap<String, i64>,
    groups: HashMap<String, i64>,
}

impl Resolve for Ids {
    fn requester(&self) -> i64 {
        self.requester
    }
    fn organization(&self) -> Option<i64> {
        self.organization
    }
    fn agent(&self, e: &Email) -> i64 {
        self.agents[&e.as_str().to_lowercase()]
    }
    fn customer(&self, e: &Email) -> i64 {
        self.customers[&e.as_str().to_lowercase()]
    }
    fn group(&self, n: &str) -> i64 {
        self.groups[&n.to_lowercase()]
    }
}

/// Finds or creates what records refer to; remembers across the batch.
struct Cache<'c> {
    c: &'c Connection,
    now: DateTime<Utc>,
    ids: Ids,
    orgs: HashMap<String, i64>,
    customer_orgs: HashMap<i64, Option<i64>>,
}

fn ticket_exists(c: &Connection, external_id: &str) -> Result<bool> {
    c.prepare_cached("SELECT EXISTS(SELECT 1 FROM tickets WHERE external_id = ?1)")
        .map_err(db)?
        .query_row([external_id], |r| r.get(0))
        .map_err(db)
}

impl Cache<'_> {
    fn customer_org(&mut self, id: i64) -> Result<Option<i64>> {
        if let Some(o) = self.customer_orgs.get(&id) {
            return Ok(*o);
        }
        let o: Option<i64> = self
            .c
            .prepare_cached("SELECT organization_id FROM customers WHERE id = ?1")
            .map_err(db)?
            .query_row([id], |r| r.get(0))
            .map_err(db)?;
        self.customer_orgs.insert(id, o);
        Ok(o)
    }

    fn agent(&mut self, e: &Email) -> Result<i64> {
        let k = e.as_str().to_lowercase();
        if let Some(id) = self.ids.agents.get(&k) {
            return Ok(*id);
        }
        let found: Option<i64> = self
            .c
            .prepare_cached("SELECT id FROM agents WHERE email = ?1")
            .map_err(db)?
            .query_row([e.as_str()], |r| r.get(0))
            .optional()
            .map_err(db)?;
        let id = match found {
            Some(id) => id,
            None => {
                let name = e.as_str().split('@').next().unwrap_or("agent").to_string();
                insert_agent(
                    self.c,
                    &NewAgent {
                        email: e.as_str().into(),
                        name,
                        role: Role::Agent,
                        password_hash: None,
                        active: false,
                    },
                    self.now,
                )?
            }
        };
        self.ids.agents.insert(k, id);
        Ok(id)
    }

    fn customer(
        &mut self,
        e: &Email,
        name: Option<&str>,
        language: Option<&str>,
        org: Option<i64>,
    ) -> Result<i64> {
        let k = e.as_str().to_lowercase();
        if let Some(id) = self.ids.customers.get(&k) {
            return Ok(*id);
        }
        let id = match customer_id_by_identity(self.c, IdentityKind::Email, e.as_str())? {
            Some(id) => id,
            None => {
                let name = name.map(str::to_string).unwrap_or_else(|| {
                    e.as_str()
                        .split('@')
                        .next()
                        .unwrap_or("customer")
                        .to_string()
                });
                let new = NewCustomer {
                    name,
                    organization_id: org,
                    language: language.map(str::to_string),
                    identities: vec![Identity {
                        kind: IdentityKind::Email,
                        value: e.as_str().into(),
                    }],
                    ..Default::default()
                };
                insert_customer(self.c, &new, self.now)?
            }
        };
        self.ids.customers.insert(k, id);
        Ok(id)
    }

    fn group(&mut self, name: &str) -> Result<i64> {
        let k = name.to_lowercase();
        if let Some(id) = self.ids.groups.get(&k) {
            return Ok(*id);
        }
        let found: Option<i64> = self
            .c
            .prepare_cached("SELECT id FROM groups WHERE name = ?1")
            .map_err(db)?
            .query_row([name], |r| r.get(0))
            .optional()
            .map_err(db)?;
        let id = match found {
            Some(id) => id,
            None => insert_group(self.c, name, "", self.now)?,
        };
        self.ids.groups.insert(k, id);
        Ok(id)
    }

    fn organization(&mut self, name: &str) -> Result<i64> {
        let k = name.to_lowercase();
        if let Some(id) = self.orgs.get(&k) {
            return Ok(*id);
        }
        let found: Option<i64> = self
            .c
            .prepare_cached("SELECT id FROM organizations WHERE name = ?1")
            .map_err(db)?
            .query_row([name], |r| r.get(0))
            .optional()
            .map_err(db)?;
        let id = match found {
            Some(id) => id,
            None => insert_organization(
                self.c,
                &NewOrganization {
                    name: name.into(),
                    domains: vec![],
                    notes: String::new(),
                },
                self.now,
            )?,
        };
        self.orgs.insert(k, id);
        Ok(id)
    }
}

fn import_tx(
    c: &Connection,
    batch: Vec<ImportRecord>,
    now: DateTime<Utc>,
) -> Result<ImportOutcome> {
    let mut out = ImportOutcome::default();
    let mut cache = Cache {
        c,
        now,
        ids: Ids::default(),
        orgs: HashMap::new(),
        customer_orgs: HashMap::new(),
    };
    let mut seen: HashSet<String> = HashSet::new();
    let mut seq: i64 = c
        .query_row("SELECT COALESCE(MAX(seq), 0) FROM events", [], |r| r.get(0))
        .map_err(db)?;
    for rec in batch {
        if !seen.insert(rec.external_id.clone()) || ticket_exists(c, &rec.external_id)? {
            out.skipped += 1;
            continue;
        }
        let org = rec
            .organization
            .as_deref()
            .map(|o| cache.organization(o))
            .transpose()?;
        cache.ids.organization = org;
        cache.ids.requester = cache.customer(
            &rec.requester.email,
            rec.requester.name.as_deref(),
            rec.requester.language.as_deref(),
            org,
        )?;
        // The ticket's organization is its requester's (an existing customer may have another).
        cache.ids.organization = cache.customer_org(cache.ids.requester)?;
        for e in rec.assignee.iter().chain(
            rec.history
                .iter()
                .flat_map(|s| s.by.iter().chain(s.assignee.iter())),
        ) {
            cache.agent(e)?;
        }
        for m in &rec.messages {
            if m.author_is_agent {
                cache.agent(&m.author)?;
            } else {
                cache.customer(&m.author, None, None, None)?;
            }
        }
        for g in rec
            .group
            .iter()
            .chain(rec.history.iter().flat_map(|s| s.group.iter()))
        {
            cache.group(g)?;
        }
        let p = plan(&rec, &cache.ids);
        seq += 1;
        let created_seq = seq;
        let mut t = p.created.initial(0, seq, rec.created_at).expect("created");
        t.external_id = Some(rec.external_id.clone());
        // Final state first, so the row is written once.
        let mut step_seqs = Vec::with_capacity(p.steps.len());
        for (at, _, step) in &p.steps {
            seq += 1;
            step_seqs.push(seq);
            match step {
                Step::Change(ch) => apply(&mut t, ch, seq, *at),
                Step::Message { .. } => {
                    t.updated_at = *at;
                    t.last_seq = seq;
                }
            }
        }
        let id = insert_ticket_row(c, &t)?;
        insert_event(c, created_seq, id, p.created_by, rec.created_at, &p.created)?;
        for ((at, who, step), s) in p.steps.iter().zip(step_seqs) {
            match step {
                Step::Change(ch) => insert_event(c, s, id, *who, *at, ch)?,
                Step::Message {
                    index,
                    author,
                    public,
                } => {
                    let m = &rec.messages[*index];
                    let html = m
                        .html
                        .as_deref()
                        .map(tend_core::html::sanitize)
                        .unwrap_or_else(|| tend_core::html::text_to_html(&m.body));
                    let msg = insert_message(
                        c,
                        id,
                        *author,
                        &NewMessage {
                            public: *public,
                            body_text: m.body.clone(),
                            body_html: html,
                            attachments: vec![],
                            ..Default::default()
                        },
                        *at,
                    )?;
                    insert_event(
                        c,
                        s,
                        id,
                        *author,
                        *at,
                        &tend_core::Change::MessageAdded {
                            time_spent_seconds: None,
                            message_id: msg.id,
                            public: *public,
                        },
                    )?;
                }
            }
        }
        out.created += 1;
    }
    // Imported tickets had no SLA checks scheduled: one recompute pass covers them.
    if out.created > 0 {
        let sla: bool = c
            .prepare_cached("SELECT EXISTS(SELECT 1 FROM settings WHERE key = 'sla')")
            .map_err(db)?
            .query_row([], |r| r.get(0))
            .map_err(db)?;
        if sla {
            crate::jobs::schedule(
                c,
                tend_store::SLA_RECOMPUTE_KEY,
                &tend_store::sla_recompute_job(0, now),
                now,
            )?;
        }
    }
    Ok(out)
}

fn insert_event(
    c: &Connection,
    seq: i64,
    ticket_id: i64,
    who: tend_core::Actor,
    at: DateTime<Utc>,
    ch: &tend_core::Change,
) -> Result<()> {
    c.prepare_cached("INSERT INTO events(seq, ticket_id, kind, actor_kind, actor_id, data, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)")
        .map_err(db)?
        .execute(params![seq, ticket_id, ch.kind(), who.kind.as_str(), who.id, to_json(ch), us(at)])
        .map_err(db)?;
    Ok(())
}

impl SqliteStore {
    pub(crate) async fn import_impl(
        &self,
        batch: Vec<ImportRecord>,
        now: DateTime<Utc>,
    ) -> Result<ImportOutcome> {
        self.write(move |c| import_tx(c, batch, now)).await
    }
}
