//! Agents, groups, tokens, organizations, customers, field definitions, webhooks, audit.

use crate::conv::{actor, audit, json, parse, time, to_json, unique_or, us};
use crate::{db, SqliteStore};
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension, Row};
use serde_json::json;
use tend_core::{Actor, Viewer};
use tend_store::*;

const AGENT_COLS: &str = "id, email, name, role, active, created_at";

fn agent_row(r: &Row) -> rusqlite::Result<Agent> {
    Ok(Agent {
        id: r.get(0)?,
        email: r.get(1)?,
        name: r.get(2)?,
        role: parse(r.get(3)?, "role")?,
        active: r.get(4)?,
        group_ids: vec![],
        created_at: time(r.get(5)?),
    })
}

fn agent_groups(c: &Connection, id: i64) -> Result<Vec<i64>> {
    c.prepare_cached("SELECT group_id FROM group_members WHERE agent_id = ?1 ORDER BY group_id")
        .map_err(db)?
        .query_map([id], |r| r.get(0))
        .map_err(db)?
        .collect::<rusqlite::Result<_>>()
        .map_err(db)
}

pub fn load_agent(c: &Connection, id: i64) -> Result<Agent> {
    let mut a = c
        .prepare_cached(&format!("SELECT {AGENT_COLS} FROM agents WHERE id = ?1"))
        .map_err(db)?
        .query_row([id], agent_row)
        .optional()
        .map_err(db)?
        .ok_or(StoreError::NotFound("agent"))?;
    a.group_ids = agent_groups(c, id)?;
    Ok(a)
}

fn load_group(c: &Connection, id: i64) -> Result<Group> {
    let mut g = c
        .prepare_cached("SELECT id, name, description, created_at FROM groups WHERE id = ?1")
        .map_err(db)?
        .query_row([id], |r| {
            Ok(Group {
                id: r.get(0)?,
                name: r.get(1)?,
                description: r.get(2)?,
                member_ids: vec![],
                created_at: time(r.get(3)?),
            })
        })
        .optional()
        .map_err(db)?
        .ok_or(StoreError::NotFound("group"))?;
    g.member_ids = c
        .prepare_cached("SELECT agent_id FROM group_members WHERE group_id = ?1 ORDER BY agent_id")
        .map_err(db)?
        .query_map([id], |r| r.get(0))
        .map_err(db)?
        .collect::<rusqlite::Result<_>>()
        .map_err(db)?;
    Ok(g)
}

pub fn insert_agent(c: &Connection, new: &NewAgent, now: DateTime<Utc>) -> Result<i64> {
    c.prepare_cached("INSERT INTO agents(email, name, role, password_hash, active, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")
        .map_err(db)?
        .execute(params![new.email, new.name, new.role.as_str(), new.password_hash, new.active, us(now)])
        .map_err(unique_or(|| format!("an agent with e-mail {} exists", new.email)))?;
    Ok(c.last_insert_rowid())
}

pub fn insert_group(
    c: &Connection,
    name: &str,
    description: &str,
    now: DateTime<Utc>,
) -> Result<i64> {
    c.prepare_cached("INSERT INTO groups(name, description, created_at) VALUES (?1, ?2, ?3)")
        .map_err(db)?
        .execute(params![name, description, us(now)])
        .map_err(unique_or(|| format!("a group named {name} exists")))?;
    Ok(c.last_insert_rowid())
}

pub fn insert_organization(
    c: &Connection,
    new: &NewOrganization,
    now: DateTime<Utc>,
) -> Result<i64> {
    c.prepare_cached("INSERT INTO organizations(name, domains, notes, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?4)")
        .map_err(db)?
        .execute(params![new.name, to_json(&new.domains), new.notes, us(now)])
        .map_err(unique_or(|| format!("an organization named {} exists", new.name)))?;
    Ok(c.last_insert_rowid())
}

fn org_row(r: &Row) -> rusqlite::Result<Organization> {
    Ok(Organization {
        id: r.get(0)?,
        name: r.get(1)?,
        domains: json(&r.get::<_, String>(2)?)?,
        notes: r.get(3)?,
        created_at: time(r.get(4)?),
        updated_at: time(r.get(5)?),
    })
}

fn load_org(c: &Connection, id: i64) -> Result<Organization> {
    c.prepare_cached(
        "SELECT id, name, domains, notes, created_at, updated_at FROM organizations WHERE id = ?1",
    )
    .map_err(db)?
    .query_row([id], org_row)
    .optional()
    .map_err(db)?
    .ok_or(StoreError::NotFound("organization"))
}

pub fn check_org(c: &Connection, id: Option<i64>) -> Result<()> {
    if let Some(id) = id {
        let n: i64 = c
            .prepare_cached("SELECT COUNT(*) FROM organizations WHERE id = ?1")
            .map_err(db)?
            .query_row([id], |r| r.get(0))
            .map_err(db)?;
        if n == 0 {
            return Err(StoreError::invalid(
                "organization_id",
                format!("no organization {id}"),
            ));
        }
    }
    Ok(())
}

pub fn add_identity(c: &Connection, customer_id: i64, idt: &Identity) -> Result<()> {
    let owner: Option<i64> = c
        .prepare_cached(
            "SELECT customer_id FROM customer_identities WHERE kind = ?1 AND value = ?2",
        )
        .map_err(db)?
        .query_row(params![idt.kind.as_str(), idt.value], |r| r.get(0))
        .optional()
        .map_err(db)?;
    match owner {
        Some(o) if o == customer_id => Ok(()),
        Some(o) => Err(StoreError::Conflict(format!(
            "identity {}:{} belongs to customer {o}",
            idt.kind.as_str(),
            idt.value
        ))),
        None => {
            c.prepare_cached(
                "INSERT INTO customer_identities(customer_id, kind, value) VALUES (?1, ?2, ?3)",
            )
            .map_err(db)?
            .execute(params![customer_id, idt.kind.as_str(), idt.value])
            .map_err(db)?;
            Ok(())
        }
    }
}

pub fn insert_customer(c: &Connection, new: &NewCustomer, now: DateTime<Utc>) -> Result<i64> {
    check_org(c, new.organization_id)?;
    c.prepare_cached("INSERT INTO customers(name, organization_id, language, time_zone, notes, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)")
        .map_err(db)?
        .execute(params![new.name, new.organization_id, new.language, new.time_zone, new.notes, us(now)])
        .map_err(db)?;
    let id = c.last_insert_rowid();
    for idt in &new.identities {
        add_identity(c, id, idt)?;
    }
    Ok(id)
}

pub fn customer_id_by_identity(
    c: &Connection,
    kind: IdentityKind,
    value: &str,
) -> Result<Option<i64>> {
    c.prepare_cached("SELECT customer_id FROM customer_identities WHERE kind = ?1 AND value = ?2")
        .map_err(db)?
        .query_row(params![kind.as_str(), value], |r| r.get(0))
        .optional()
        .map_err(db)
}

const CUSTOMER_COLS: &str =
    "id, name, organization_id, language, time_zone, notes, created_at, updated_at";

fn customer_row(r: &Row) -> rusqlite::Result<Customer> {
    Ok(Customer {
        id: r.get(0)?,
        name: r.get(1)?,
        organization_id: r.get(2)?,
        language: r.get(3)?,
        time_zone: r.get(4)?,
        notes: r.get(5)?,
        identities: vec![],
        created_at: time(r.get(6)?),
        updated_at: time(r.get(7)?),
    })
}

fn with_identities(c: &Connection, mut cu: Customer) -> Result<Customer> {
    cu.identities = c
        .prepare_cached(
            "SELECT kind, value FROM customer_identities WHERE customer_id = ?1 ORDER BY id",
        )
        .map_err(db)?
        .query_map([cu.id], |r| {
            Ok(Identity {
                kind: IdentityKind::parse(&r.get::<_, String>(0)?),
                value: r.get(1)?,
            })
        })
        .map_err(db)?
        .collect::<rusqlite::Result<_>>()
        .map_err(db)?;
    Ok(cu)
}

pub fn load_customer(c: &Connection, id: i64) -> Result<Customer> {
    let cu = c
        .prepare_cached(&format!(
            "SELECT {CUSTOMER_COLS} FROM customers WHERE id = ?1"
        ))
        .map_err(db)?
        .query_row([id], customer_row)
        .optional()
        .map_err(db)?
        .ok_or(StoreError::NotFound("customer"))?;
    with_identities(c, cu)
}

fn field_row(r: &Row) -> rusqlite::Result<FieldDef> {
    Ok(FieldDef {
        id: r.get(0)?,
        key: r.get(1)?,
        label: r.get(2)?,
        field_type: parse(r.get(3)?, "field type")?,
        options: json(&r.get::<_, String>(4)?)?,
        created_at: time(r.get(5)?),
    })
}

fn webhook_row(r: &Row) -> rusqlite::Result<Webhook> {
    Ok(Webhook {
        id: r.get(0)?,
        url: r.get(1)?,
        events: json(&r.get::<_, String>(2)?)?,
        secret: r.get(3)?,
        active: r.get(4)?,
        created_at: time(r.get(5)?),
    })
}

fn load_webhook(c: &Connection, id: i64) -> Result<Webhook> {
    c.prepare_cached(
        "SELECT id, url, events, secret, active, created_at FROM webhooks WHERE id = ?1",
    )
    .map_err(db)?
    .query_row([id], webhook_row)
    .optional()
    .map_err(db)?
    .ok_or(StoreError::NotFound("webhook"))
}

fn page_by_id<T>(items: Vec<T>, limit: i64, id: impl Fn(&T) -> i64) -> Page<T> {
    Page::from_overfetch(items, limit, |t| encode_id_cursor(id(t)))
}

impl SqliteStore {
    pub(crate) async fn create_agent_impl(
        &self,
        new: NewAgent,
        by: Actor,
        now: DateTime<Utc>,
    ) -> Result<Agent> {
        self.write(move |c| {
            let id = insert_agent(c, &new, now)?;
            audit(
                c,
                by,
                "agent.created",
                format!("agent:{id}"),
                json!({"email": new.email, "name": new.name, "role": new.role}),
                now,
            )?;
            load_agent(c, id)
        })
        .await
    }

    pub(crate) async fn update_agent_impl(
        &self,
        id: i64,
        up: AgentUpdate,
        by: Actor,
        now: DateTime<Utc>,
    ) -> Result<Agent> {
        self.write(move |c| {
            load_agent(c, id)?;
            if let Some(n) = &up.name {
                c.execute("UPDATE agents SET name = ?2 WHERE id = ?1", params![id, n]).map_err(db)?;
            }
            if let Some(r) = up.role {
                c.execute("UPDATE agents SET role = ?2 WHERE id = ?1", params![id, r.as_str()]).map_err(db)?;
            }
            if let Some(a) = up.active {
                c.execute("UPDATE agents SET active = ?2 WHERE id = ?1", params![id, a]).map_err(db)?;
                if !a {
                    crate::routing::agent_deactivated(c, id, now)?; // routing (issue 5)
                }
            }
            if let Some(h) = &up.password_hash {
                c.execute("UPDATE agents SET password_hash = ?2 WHERE id = ?1", params![id, h]).map_err(db)?;
            }
            audit(c, by, "agent.updated", format!("agent:{id}"), json!({"name": up.name, "role": up.role, "active": up.active, "password_changed": up.password_hash.is_some()}), now)?;
            load_agent(c, id)
        })
        .await
    }

    pub(crate) async fn get_agent_impl(&self, id: i64) -> Result<Agent> {
        self.read(move |c| load_agent(c, id)).await
    }

    pub(crate) async fn agent_by_email_impl(&self, email: String) -> Result<Option<Agent>> {
        self.read(move |c| {
            let id: Option<i64> = c
                .prepare_cached("SELECT id FROM agents WHERE email = ?1")
                .map_err(db)?
                .query_row([&email], |r| r.get(0))
                .optional()
                .map_err(db)?;
            id.map(|id| load_agent(c, id)).transpose()
        })
        .await
    }

    pub(crate) async fn agent_password_hash_impl(&self, id: i64) -> Result<Option<String>> {
        self.read(move |c| {
            c.prepare_cached("SELECT password_hash FROM agents WHERE id = ?1")
                .map_err(db)?
                .query_row([id], |r| r.get::<_, Option<String>>(0))
                .optional()
                .map_err(db)
                .map(Option::flatten)
        })
        .await
    }

    pub(crate) async fn list_agents_impl(&self) -> Result<Vec<Agent>> {
        self.read(|c| {
            let ids: Vec<i64> = c
                .prepare_cached("SELECT id FROM agents ORDER BY id")
                .map_err(db)?
                .query_map([], |r| r.get(0))
                .map_err(db)?
                .collect::<rusqlite::Result<_>>()
                .map_err(db)?;
            ids.into_iter().map(|id| load_agent(c, id)).collect()
        })
        .await
    }

    pub(crate) async fn create_group_impl(
        &self,
        new: NewGroup,
        by: Actor,
        now: DateTime<Utc>,
    ) -> Result<Group> {
        self.write(move |c| {
            let id = insert_group(c, &new.name, &new.description, now)?;
            audit(
                c,
                by,
                "group.created",
                format!("group:{id}"),
                json!({"name": new.name}),
                now,
            )?;
            load_group(c, id)
        })
        .await
    }

    pub(crate) async fn get_group_impl(&self, id: i64) -> Result<Group> {
        self.read(move |c| load_group(c, id)).await
    }

    pub(crate) async fn list_groups_impl(&self) -> Result<Vec<Group>> {
        self.read(|c| {
            let ids: Vec<i64> = c
                .prepare_cached("SELECT id FROM groups ORDER BY name")
                .map_err(db)?
                .query_map([], |r| r.get(0))
                .map_err(db)?
                .collect::<rusqlite::Result<_>>()
                .map_err(db)?;
            ids.into_iter().map(|id| load_group(c, id)).collect()
        })
        .await
    }

    pub(crate) async fn set_group_members_impl(
        &self,
        group_id: i64,
        mut agent_ids: Vec<i64>,
        by: Actor,
        now: DateTime<Utc>,
    ) -> Result<Group> {
        self.write(move |c| {
            load_group(c, group_id)?;
            agent_ids.sort();
            agent_ids.dedup();
            for a in &agent_ids {
                if load_agent(c, *a).is_err() {
                    return Err(StoreError::invalid("agent_ids", format!("no agent {a}")));
                }
            }
            c.execute("DELETE FROM group_members WHERE group_id = ?1", [group_id])
                .map_err(db)?;
            for a in &agent_ids {
                c.execute(
                    "INSERT INTO group_members(group_id, agent_id) VALUES (?1, ?2)",
                    params![group_id, a],
                )
                .map_err(db)?;
            }
            audit(
                c,
                by,
                "group.members_set",
                format!("group:{group_id}"),
                json!({"agent_ids": agent_ids}),
                now,
            )?;
            load_group(c, group_id)
        })
        .await
    }

    pub(crate) async fn create_token_impl(
        &self,
        agent_id: i64,
        name: String,
        hash: Vec<u8>,
        by: Actor,
        now: DateTime<Utc>,
    ) -> Result<TokenInfo> {
        self.write(move |c| {
            load_agent(c, agent_id)?;
            c.execute("INSERT INTO api_tokens(agent_id, name, token_hash, created_at) VALUES (?1, ?2, ?3, ?4)", params![agent_id, name, hash, us(now)]).map_err(db)?;
            let id = c.last_insert_rowid();
            audit(c, by, "token.created", format!("token:{id}"), json!({"agent_id": agent_id, "name": name}), now)?;
            Ok(TokenInfo { id, agent_id, name, created_at: now })
        })
        .await
    }

    pub(crate) async fn viewer_by_token_impl(&self, hash: Vec<u8>) -> Result<Option<Viewer>> {
        self.read_point(move |c| {
            let row: Option<(i64, String)> = c
                .prepare_cached("SELECT a.id, a.role FROM api_tokens t JOIN agents a ON a.id = t.agent_id WHERE t.token_hash = ?1 AND a.active = 1")
                .map_err(db)?
                .query_row([hash], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()
                .map_err(db)?;
            match row {
                None => Ok(None),
                Some((id, role)) => Ok(Some(Viewer { agent_id: id, role: role.parse().map_err(|_| StoreError::Backend(format!("bad role {role}")))?, group_ids: agent_groups(c, id)? })),
            }
        })
        .await
    }

    pub(crate) async fn viewer_impl(&self, agent_id: i64) -> Result<Viewer> {
        self.read(move |c| {
            let a = load_agent(c, agent_id)?;
            Ok(Viewer {
                agent_id,
                role: a.role,
                group_ids: a.group_ids,
            })
        })
        .await
    }

    pub(crate) async fn create_organization_impl(
        &self,
        new: NewOrganization,
        now: DateTime<Utc>,
    ) -> Result<Organization> {
        self.write(move |c| {
            let id = insert_organization(c, &new, now)?;
            load_org(c, id)
        })
        .await
    }

    pub(crate) async fn update_organization_impl(
        &self,
        id: i64,
        up: OrganizationUpdate,
        now: DateTime<Utc>,
    ) -> Result<Organization> {
        self.write(move |c| {
            let cur = load_org(c, id)?;
            let name = up.name.unwrap_or(cur.name);
            c.execute(
                "UPDATE organizations SET name = ?2, domains = ?3, notes = ?4, updated_at = ?5 WHERE id = ?1",
                params![id, name, to_json(&up.domains.unwrap_or(cur.domains)), up.notes.unwrap_or(cur.notes), us(now)],
            )
            .map_err(unique_or(|| format!("an organization named {name} exists")))?;
            load_org(c, id)
        })
        .await
    }

    pub(crate) async fn get_organization_impl(&self, id: i64) -> Result<Organization> {
        self.read(move |c| load_org(c, id)).await
    }

    pub(crate) async fn list_organizations_impl(
        &self,
        page: PageRequest,
    ) -> Result<Page<Organization>> {
        self.read(move |c| {
            let items = c
                .prepare_cached("SELECT id, name, domains, notes, created_at, updated_at FROM organizations WHERE id < ?1 ORDER BY id DESC LIMIT ?2")
                .map_err(db)?
                .query_map(params![page.after_id.unwrap_or(i64::MAX), page.limit + 1], org_row)
                .map_err(db)?
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(db)?;
            Ok(page_by_id(items, page.limit, |o| o.id))
        })
        .await
    }

    pub(crate) async fn create_customer_impl(
        &self,
        new: NewCustomer,
        now: DateTime<Utc>,
    ) -> Result<Customer> {
        self.write(move |c| {
            let id = insert_customer(c, &new, now)?;
            load_customer(c, id)
        })
        .await
    }

    pub(crate) async fn update_customer_impl(
        &self,
        id: i64,
        up: CustomerUpdate,
        now: DateTime<Utc>,
    ) -> Result<Customer> {
        self.write(move |c| {
            let cur = load_customer(c, id)?;
            let org = up.organization_id.unwrap_or(cur.organization_id);
            check_org(c, org)?;
            c.execute(
                "UPDATE customers SET name = ?2, organization_id = ?3, language = ?4, time_zone = ?5, notes = ?6, updated_at = ?7 WHERE id = ?1",
                params![id, up.name.unwrap_or(cur.name), org, up.language.unwrap_or(cur.language), up.time_zone.unwrap_or(cur.time_zone), up.notes.unwrap_or(cur.notes), us(now)],
            )
            .map_err(db)?;
            for idt in &up.add_identities {
                add_identity(c, id, idt)?;
            }
            load_customer(c, id)
        })
        .await
    }

    pub(crate) async fn get_customer_impl(&self, id: i64) -> Result<Customer> {
        self.read(move |c| load_customer(c, id)).await
    }

    pub(crate) async fn customer_by_identity_impl(
        &self,
        kind: IdentityKind,
        value: String,
    ) -> Result<Option<Customer>> {
        self.read(move |c| {
            customer_id_by_identity(c, kind, &value)?
                .map(|id| load_customer(c, id))
                .transpose()
        })
        .await
    }

    pub(crate) async fn list_customers_impl(&self, q: CustomerQuery) -> Result<Page<Customer>> {
        self.read(move |c| {
            let after = q.page.after_id.unwrap_or(i64::MAX);
            let rows: Vec<Customer> = if let Some(v) = &q.identity {
                c.prepare_cached(&format!("SELECT {CUSTOMER_COLS} FROM customers WHERE id IN (SELECT customer_id FROM customer_identities WHERE value = ?1) AND id < ?2 ORDER BY id DESC LIMIT ?3"))
                    .map_err(db)?
                    .query_map(params![v, after, q.page.limit + 1], customer_row)
                    .map_err(db)?
                    .collect::<rusqlite::Result<_>>()
            } else if let Some(o) = q.organization_id {
                c.prepare_cached(&format!("SELECT {CUSTOMER_COLS} FROM customers WHERE organization_id = ?1 AND id < ?2 ORDER BY id DESC LIMIT ?3"))
                    .map_err(db)?
                    .query_map(params![o, after, q.page.limit + 1], customer_row)
                    .map_err(db)?
                    .collect::<rusqlite::Result<_>>()
            } else {
                c.prepare_cached(&format!("SELECT {CUSTOMER_COLS} FROM customers WHERE id < ?1 ORDER BY id DESC LIMIT ?2"))
                    .map_err(db)?
                    .query_map(params![after, q.page.limit + 1], customer_row)
                    .map_err(db)?
                    .collect::<rusqlite::Result<_>>()
            }
            .map_err(db)?;
            let rows = rows.into_iter().map(|cu| with_identities(c, cu)).collect::<Result<Vec<_>>>()?;
            Ok(page_by_id(rows, q.page.limit, |cu| cu.id))
        })
        .await
    }

    pub(crate) async fn create_field_def_impl(
        &self,
        new: NewFieldDef,
        by: Actor,
        now: DateTime<Utc>,
    ) -> Result<FieldDef> {
        self.write(move |c| {
            c.execute(
                "INSERT INTO field_defs(key, label, field_type, options, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![new.key, new.label, new.field_type.as_str(), to_json(&new.options), us(now)],
            )
            .map_err(unique_or(|| format!("a field with key {} exists", new.key)))?;
            let id = c.last_insert_rowid();
            audit(c, by, "field.created", format!("field:{id}"), json!({"key": new.key, "type": new.field_type}), now)?;
            Ok(FieldDef { id, key: new.key, label: new.label, field_type: new.field_type, options: new.options, created_at: now })
        })
        .await
    }

    pub(crate) async fn list_field_defs_impl(&self) -> Result<Vec<FieldDef>> {
        self.read(|c| {
            c.prepare_cached("SELECT id, key, label, field_type, options, created_at FROM field_defs ORDER BY id")
                .map_err(db)?
                .query_map([], field_row)
                .map_err(db)?
                .collect::<rusqlite::Result<_>>()
                .map_err(db)
        })
        .await
    }

    pub(crate) async fn create_webhook_impl(
        &self,
        new: NewWebhook,
        by: Actor,
        now: DateTime<Utc>,
    ) -> Result<Webhook> {
        self.write(move |c| {
            c.execute("INSERT INTO webhooks(url, events, secret, active, created_at) VALUES (?1, ?2, ?3, 1, ?4)", params![new.url, to_json(&new.events), new.secret, us(now)]).map_err(db)?;
            let id = c.last_insert_rowid();
            audit(c, by, "webhook.created", format!("webhook:{id}"), json!({"url": new.url, "events": new.events}), now)?;
            load_webhook(c, id)
        })
        .await
    }

    pub(crate) async fn list_webhooks_impl(&self) -> Result<Vec<Webhook>> {
        self.read(|c| {
            c.prepare_cached(
                "SELECT id, url, events, secret, active, created_at FROM webhooks ORDER BY id",
            )
            .map_err(db)?
            .query_map([], webhook_row)
            .map_err(db)?
            .collect::<rusqlite::Result<_>>()
            .map_err(db)
        })
        .await
    }

    pub(crate) async fn get_webhook_impl(&self, id: i64) -> Result<Webhook> {
        self.read(move |c| load_webhook(c, id)).await
    }

    pub(crate) async fn delete_webhook_impl(
        &self,
        id: i64,
        by: Actor,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.write(move |c| {
            let w = load_webhook(c, id)?;
            c.execute("DELETE FROM webhooks WHERE id = ?1", [id])
                .map_err(db)?;
            audit(
                c,
                by,
                "webhook.deleted",
                format!("webhook:{id}"),
                json!({"url": w.url}),
                now,
            )
        })
        .await
    }

    pub(crate) async fn list_audit_impl(&self, page: PageRequest) -> Result<Page<AuditEntry>> {
        self.read(move |c| {
            let items = c
                .prepare_cached("SELECT id, actor_kind, actor_id, action, target, data, at FROM audit_log WHERE id < ?1 ORDER BY id DESC LIMIT ?2")
                .map_err(db)?
                .query_map(params![page.after_id.unwrap_or(i64::MAX), page.limit + 1], |r| {
                    Ok(AuditEntry { id: r.get(0)?, actor: actor(r.get(1)?, r.get(2)?), action: r.get(3)?, target: r.get(4)?, data: json(&r.get::<_, String>(5)?)?, at: time(r.get(6)?) })
                })
                .map_err(db)?
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(db)?;
            Ok(page_by_id(items, page.limit, |a| a.id))
        })
        .await
    }
}

impl SqliteStore {
    pub(crate) async fn create_password_reset_impl(
        &self,
        agent_id: i64,
        token_hash: Vec<u8>,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.write(move |c| {
            c.execute(
                "UPDATE password_resets SET used_at = ?2 WHERE agent_id = ?1 AND used_at IS NULL",
                params![agent_id, us(now)],
            )
            .map_err(db)?;
            c.execute(
                "INSERT INTO password_resets(token_hash, agent_id, expires_at, created_at) VALUES (?1, ?2, ?3, ?4)",
                params![token_hash, agent_id, us(expires_at), us(now)],
            )
            .map_err(db)?;
            Ok(())
        })
        .await
    }

    pub(crate) async fn password_reset_agent_impl(
        &self,
        token_hash: Vec<u8>,
        now: DateTime<Utc>,
    ) -> Result<Option<i64>> {
        self.read(move |c| {
            c.query_row(
                "SELECT r.agent_id FROM password_resets r JOIN agents a ON a.id = r.agent_id \
                 WHERE r.token_hash = ?1 AND r.used_at IS NULL AND r.expires_at > ?2 AND a.active",
                params![token_hash, us(now)],
                |r| r.get(0),
            )
            .optional()
            .map_err(db)
        })
        .await
    }

    pub(crate) async fn redeem_password_reset_impl(
        &self,
        token_hash: Vec<u8>,
        password_hash: String,
        now: DateTime<Utc>,
    ) -> Result<Option<i64>> {
        self.write(move |c| {
            let agent: Option<i64> = c
                .query_row(
                    "UPDATE password_resets SET used_at = ?2 WHERE token_hash = ?1 AND used_at IS NULL AND expires_at > ?2 \
                     AND agent_id IN (SELECT id FROM agents WHERE active) RETURNING agent_id",
                    params![token_hash, us(now)],
                    |r| r.get(0),
                )
                .optional()
                .map_err(db)?;
            let Some(id) = agent else { return Ok(None) };
            c.execute(
                "UPDATE agents SET password_hash = ?2 WHERE id = ?1",
                params![id, password_hash],
            )
            .map_err(db)?;
            let sessions = c
                .execute(
                    "DELETE FROM api_tokens WHERE agent_id = ?1 AND name = ?2",
                    params![id, WEB_SESSION_TOKEN],
                )
                .map_err(db)?;
            audit(
                c,
                Actor::agent(id),
                "agent.password_reset",
                format!("agent:{id}"),
                json!({ "web_sessions_ended": sessions }),
                now,
            )?;
            Ok(Some(id))
        })
        .await
    }
}
