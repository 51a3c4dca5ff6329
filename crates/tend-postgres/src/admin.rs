//! Agents, groups, tokens, organizations, customers, custom fields, webhooks, audit.

use crate::db::{
    execute, parse, query, query_one, query_one_raw, query_opt, query_opt_raw, to_json, us, DbExt,
};
use crate::rows::{
    self, AGENT_COLS, AUDIT_COLS, CUSTOMER_COLS, EVENT_COLS, FIELD_COLS, GROUP_COLS, ORG_COLS,
    WEBHOOK_COLS,
};
use crate::PgStore;
use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use serde_json::json;
use tend_core::{Actor, Viewer};
use tend_store::*;
use tokio_postgres::types::ToSql;

type Now = DateTime<Utc>;

/// Writes one audit entry in the caller's transaction. `data` never holds secrets.
pub(crate) async fn audit<C: GenericClient>(
    c: &C,
    actor: Actor,
    action: &str,
    target: String,
    data: serde_json::Value,
    now: Now,
) -> Result<()> {
    execute(
        c,
        "INSERT INTO audit_log (actor_kind, actor_id, action, target, data, at) VALUES ($1, $2, $3, $4, $5, $6)",
        &[&actor.kind.as_str(), &actor.id, &action, &target, &data, &now],
    )
    .await?;
    Ok(())
}

/// A page of an id-ordered list, newest first: `after_id` continues below that id.
pub(crate) fn page_limit(p: &PageRequest) -> i64 {
    p.limit.max(0)
}

// --- agents ----------------------------------------------------------------------------

pub(crate) async fn create_agent(
    s: &PgStore,
    new: NewAgent,
    actor: Actor,
    now: Now,
) -> Result<Agent> {
    let now = us(now);
    let mut c = s.conn().await?;
    let tx = c.transaction().await.db()?;
    let row = query_one_raw(
        &tx,
        "INSERT INTO agents (email, name, role, password_hash, active, created_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        &[&new.email, &new.name, &new.role.as_str(), &new.password_hash, &new.active, &now],
    )
    .await
    .unique(|| format!("an agent with e-mail {} exists", new.email))?;
    let id: i64 = row.get(0);
    let data =
        json!({ "email": new.email, "name": new.name, "role": new.role, "active": new.active });
    audit(
        &tx,
        actor,
        "agent.created",
        format!("agent:{id}"),
        data,
        now,
    )
    .await?;
    tx.commit().await.db()?;
    Ok(Agent {
        id,
        email: new.email,
        name: new.name,
        role: new.role,
        active: new.active,
        group_ids: vec![],
        created_at: now,
    })
}

pub(crate) async fn update_agent(
    s: &PgStore,
    id: i64,
    up: AgentUpdate,
    actor: Actor,
    now: Now,
) -> Result<Agent> {
    let now = us(now);
    let mut c = s.conn().await?;
    let tx = c.transaction().await.db()?;
    let n = execute(
        &tx,
        "UPDATE agents SET name = COALESCE($2, name), role = COALESCE($3, role), active = COALESCE($4, active), \
         password_hash = COALESCE($5, password_hash) WHERE id = $1",
        &[&id, &up.name, &up.role.map(|r| r.as_str()), &up.active, &up.password_hash],
    )
    .await?;
    if n == 0 {
        return Err(StoreError::NotFound("agent"));
    }
    if up.active == Some(false) {
        crate::routing::agent_deactivated(&tx, id, now).await?; // routing (issue 5)
    }
    // The same shape as the SQLite store's entry; never the hash itself.
    let data = json!({
        "name": up.name,
        "role": up.role,
        "active": up.active,
        "password_changed": up.password_hash.is_some(),
    });
    audit(
        &tx,
        actor,
        "agent.updated",
        format!("agent:{id}"),
        data,
        now,
    )
    .await?;
    let agent = get_agent_on(&tx, id).await?;
    tx.commit().await.db()?;
    Ok(agent)
}

async fn get_agent_on<C: GenericClient>(c: &C, id: i64) -> Result<Agent> {
    let row = query_opt(
        c,
        &format!("SELECT {AGENT_COLS} FROM agents a WHERE a.id = $1"),
        &[&id],
    )
    .await?;
    rows::agent(&row.ok_or(StoreError::NotFound("agent"))?)
}

pub(crate) async fn get_agent(s: &PgStore, id: i64) -> Result<Agent> {
    get_agent_on(&s.conn().await?, id).await
}

pub(crate) async fn agent_by_email(s: &PgStore, email: &str) -> Result<Option<Agent>> {
    let c = s.conn().await?;
    let row = query_opt(
        &c,
        &format!("SELECT {AGENT_COLS} FROM agents a WHERE lower(a.email) = lower($1)"),
        &[&email.trim()],
    )
    .await?;
    row.as_ref().map(rows::agent).transpose()
}

pub(crate) async fn agent_password_hash(s: &PgStore, agent_id: i64) -> Result<Option<String>> {
    let c = s.conn().await?;
    let row = query_opt(
        &c,
        "SELECT password_hash FROM agents WHERE id = $1",
        &[&agent_id],
    )
    .await?;
    Ok(row.and_then(|r| r.get(0)))
}

pub(crate) async fn list_agents(s: &PgStore) -> Result<Vec<Agent>> {
    let c = s.conn().await?;
    query(
        &c,
        &format!("SELECT {AGENT_COLS} FROM agents a ORDER BY a.id"),
        &[],
    )
    .await?
    .iter()
    .map(rows::agent)
    .collect()
}

// --- groups ----------------------------------------------------------------------------

pub(crate) async fn create_group(
    s: &PgStore,
    new: NewGroup,
    actor: Actor,
    now: Now,
) -> Result<Group> {
    let now = us(now);
    let mut c = s.conn().await?;
    let tx = c.transaction().await.db()?;
    let row = query_one_raw(
        &tx,
        "INSERT INTO groups (name, description, created_at) VALUES ($1, $2, $3) RETURNING id",
        &[&new.name, &new.description, &now],
    )
    .await
    .unique(|| format!("a group named {} exists", new.name))?;
    let id: i64 = row.get(0);
    let data = json!({ "name": new.name });
    audit(
        &tx,
        actor,
        "group.created",
        format!("group:{id}"),
        data,
        now,
    )
    .await?;
    tx.commit().await.db()?;
    Ok(Group {
        id,
        name: new.name,
        description: new.description,
        member_ids: vec![],
        created_at: now,
    })
}

async fn get_group_on<C: GenericClient>(c: &C, id: i64) -> Result<Group> {
    let row = query_opt(
        c,
        &format!("SELECT {GROUP_COLS} FROM groups g WHERE g.id = $1"),
        &[&id],
    )
    .await?;
    Ok(rows::group(&row.ok_or(StoreError::NotFound("group"))?))
}

pub(crate) async fn get_group(s: &PgStore, id: i64) -> Result<Group> {
    get_group_on(&s.conn().await?, id).await
}

pub(crate) async fn list_groups(s: &PgStore) -> Result<Vec<Group>> {
    let c = s.conn().await?;
    Ok(query(
        &c,
        &format!("SELECT {GROUP_COLS} FROM groups g ORDER BY lower(g.name), g.id"),
        &[],
    )
    .await?
    .iter()
    .map(rows::group)
    .collect())
}

pub(crate) async fn set_group_members(
    s: &PgStore,
    group_id: i64,
    agent_ids: Vec<i64>,
    actor: Actor,
    now: Now,
) -> Result<Group> {
    let now = us(now);
    let mut ids = agent_ids;
    ids.sort_unstable();
    ids.dedup();
    let mut c = s.conn().await?;
    let tx = c.transaction().await.db()?;
    if query_opt(
        &tx,
        "SELECT id FROM groups WHERE id = $1 FOR UPDATE",
        &[&group_id],
    )
    .await?
    .is_none()
    {
        return Err(StoreError::NotFound("group"));
    }
    let found: Vec<i64> = query(&tx, "SELECT id FROM agents WHERE id = ANY($1)", &[&ids])
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    if let Some(missing) = ids.iter().find(|i| !found.contains(i)) {
        return Err(StoreError::invalid(
            "agent_ids",
            format!("no agent {missing}"),
        ));
    }
    execute(
        &tx,
        "DELETE FROM group_members WHERE group_id = $1",
        &[&group_id],
    )
    .await?;
    execute(
        &tx,
        "INSERT INTO group_members (group_id, agent_id) SELECT $1, unnest($2::bigint[])",
        &[&group_id, &ids],
    )
    .await?;
    audit(
        &tx,
        actor,
        "group.members_set",
        format!("group:{group_id}"),
        json!({ "agent_ids": ids }),
        now,
    )
    .await?;
    let group = get_group_on(&tx, group_id).await?;
    tx.commit().await.db()?;
    Ok(group)
}

// --- tokens and viewers ----------------------------------------------------------------

pub(crate) async fn create_token(
    s: &PgStore,
    agent_id: i64,
    name: String,
    token_hash: Vec<u8>,
    actor: Actor,
    now: Now,
) -> Result<TokenInfo> {
    let now = us(now);
    let mut c = s.conn().await?;
    let tx = c.transaction().await.db()?;
    if query_opt(&tx, "SELECT id FROM agents WHERE id = $1", &[&agent_id])
        .await?
        .is_none()
    {
        return Err(StoreError::NotFound("agent"));
    }
    let row = query_one_raw(
        &tx,
        "INSERT INTO api_tokens (agent_id, name, token_hash, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
        &[&agent_id, &name, &token_hash, &now],
    )
    .await
    .unique(|| "a token with this secret exists".to_string())?;
    let id: i64 = row.get(0);
    audit(
        &tx,
        actor,
        "token.created",
        format!("token:{id}"),
        json!({ "agent_id": agent_id, "name": name }),
        now,
    )
    .await?;
    tx.commit().await.db()?;
    Ok(TokenInfo {
        id,
        agent_id,
        name,
        created_at: now,
    })
}

const VIEWER_COLS: &str = "a.id, a.role, \
    COALESCE((SELECT array_agg(gm.group_id ORDER BY gm.group_id) FROM group_members gm WHERE gm.agent_id = a.id), '{}')";

fn viewer_row(r: &tokio_postgres::Row) -> Result<Viewer> {
    Ok(Viewer {
        agent_id: r.get(0),
        role: parse("role", r.get(1))?,
        group_ids: r.get(2),
    })
}

pub(crate) async fn viewer_by_token(s: &PgStore, token_hash: &[u8]) -> Result<Option<Viewer>> {
    let c = s.conn().await?;
    let sql = format!("SELECT {VIEWER_COLS} FROM api_tokens t JOIN agents a ON a.id = t.agent_id WHERE t.token_hash = $1 AND a.active");
    query_opt(&c, &sql, &[&token_hash])
        .await?
        .as_ref()
        .map(viewer_row)
        .transpose()
}

pub(crate) async fn viewer(s: &PgStore, agent_id: i64) -> Result<Viewer> {
    let c = s.conn().await?;
    let row = query_opt(
        &c,
        &format!("SELECT {VIEWER_COLS} FROM agents a WHERE a.id = $1"),
        &[&agent_id],
    )
    .await?;
    viewer_row(&row.ok_or(StoreError::NotFound("agent"))?)
}

// --- organizations ---------------------------------------------------------------------

pub(crate) async fn create_organization(
    s: &PgStore,
    new: NewOrganization,
    now: Now,
) -> Result<Organization> {
    let now = us(now);
    let c = s.conn().await?;
    let domains = to_json(&new.domains)?;
    let row = query_one_raw(
        &c,
        "INSERT INTO organizations (name, domains, notes, created_at, updated_at) VALUES ($1, $2, $3, $4, $4) RETURNING id",
        &[&new.name, &domains, &new.notes, &now],
    )
    .await
    .unique(|| format!("an organization named {} exists", new.name))?;
    Ok(Organization {
        id: row.get(0),
        name: new.name,
        domains: new.domains,
        notes: new.notes,
        created_at: now,
        updated_at: now,
    })
}

pub(crate) async fn update_organization(
    s: &PgStore,
    id: i64,
    up: OrganizationUpdate,
    now: Now,
) -> Result<Organization> {
    let now = us(now);
    let c = s.conn().await?;
    let domains = up.domains.as_ref().map(to_json).transpose()?;
    let sql = format!(
        "UPDATE organizations o SET name = COALESCE($2, o.name), domains = COALESCE($3, o.domains), \
         notes = COALESCE($4, o.notes), updated_at = $5 WHERE o.id = $1 RETURNING {ORG_COLS}"
    );
    let row = query_opt_raw(&c, &sql, &[&id, &up.name, &domains, &up.notes, &now])
        .await
        .unique(|| {
            format!(
                "an organization named {} exists",
                up.name.clone().unwrap_or_default()
            )
        })?;
    rows::organization(&row.ok_or(StoreError::NotFound("organization"))?)
}

pub(crate) async fn get_organization(s: &PgStore, id: i64) -> Result<Organization> {
    let c = s.conn().await?;
    let row = query_opt(
        &c,
        &format!("SELECT {ORG_COLS} FROM organizations o WHERE o.id = $1"),
        &[&id],
    )
    .await?;
    rows::organization(&row.ok_or(StoreError::NotFound("organization"))?)
}

pub(crate) async fn list_organizations(
    s: &PgStore,
    page: PageRequest,
) -> Result<Page<Organization>> {
    let c = s.conn().await?;
    let limit = page_limit(&page);
    let fetch = limit.saturating_add(1);
    let rows = match page.after_id {
        Some(after) => {
            let sql = format!("SELECT {ORG_COLS} FROM organizations o WHERE o.id < $1 ORDER BY o.id DESC LIMIT $2");
            query(&c, &sql, &[&after, &fetch]).await?
        }
        None => {
            query(
                &c,
                &format!("SELECT {ORG_COLS} FROM organizations o ORDER BY o.id DESC LIMIT $1"),
                &[&fetch],
            )
            .await?
        }
    };
    let items = rows
        .iter()
        .map(rows::organization)
        .collect::<Result<Vec<_>>>()?;
    Ok(Page::from_overfetch(items, limit, |o| {
        encode_id_cursor(o.id)
    }))
}

// --- customers -------------------------------------------------------------------------

async fn check_organization<C: GenericClient>(c: &C, org: Option<i64>) -> Result<()> {
    if let Some(org) = org {
        if query_opt(c, "SELECT id FROM organizations WHERE id = $1", &[&org])
            .await?
            .is_none()
        {
            return Err(StoreError::invalid(
                "organization_id",
                format!("no organization {org}"),
            ));
        }
    }
    Ok(())
}

/// Adds identities to a customer; one that belongs to someone else is a conflict, one the
/// customer has already is skipped.
async fn add_identities<C: GenericClient>(
    c: &C,
    customer_id: i64,
    identities: &[Identity],
) -> Result<()> {
    for ident in identities {
        let kind = ident.kind.as_str();
        let value = ident.value.trim();
        let owner = query_opt(
            c,
            "SELECT customer_id FROM customer_identities WHERE kind = $1 AND lower(value) = lower($2)",
            &[&kind, &value],
        )
        .await?;
        if let Some(owner) = owner {
            let owner: i64 = owner.get(0);
            if owner == customer_id {
                continue;
            }
            return Err(StoreError::Conflict(format!(
                "identity {kind}:{value} belongs to customer {owner}"
            )));
        }
        query_one_raw(
            c,
            "INSERT INTO customer_identities (customer_id, kind, value) VALUES ($1, $2, $3) RETURNING id",
            &[&customer_id, &kind, &value],
        )
        .await
        .unique(|| format!("identity {kind}:{value} exists"))?;
    }
    Ok(())
}

async fn get_customer_on<C: GenericClient>(c: &C, id: i64) -> Result<Customer> {
    let row = query_opt(
        c,
        &format!("SELECT {CUSTOMER_COLS} FROM customers c WHERE c.id = $1"),
        &[&id],
    )
    .await?;
    rows::customer(&row.ok_or(StoreError::NotFound("customer"))?)
}

pub(crate) async fn create_customer(s: &PgStore, new: NewCustomer, now: Now) -> Result<Customer> {
    let now = us(now);
    let mut c = s.conn().await?;
    let tx = c.transaction().await.db()?;
    check_organization(&tx, new.organization_id).await?;
    let row = query_one(
        &tx,
        "INSERT INTO customers (name, organization_id, language, time_zone, notes, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id",
        &[&new.name, &new.organization_id, &new.language, &new.time_zone, &new.notes, &now],
    )
    .await?;
    let id: i64 = row.get(0);
    add_identities(&tx, id, &new.identities).await?;
    let customer = get_customer_on(&tx, id).await?;
    tx.commit().await.db()?;
    Ok(customer)
}

pub(crate) async fn update_customer(
    s: &PgStore,
    id: i64,
    up: CustomerUpdate,
    now: Now,
) -> Result<Customer> {
    let now = us(now);
    let mut c = s.conn().await?;
    let tx = c.transaction().await.db()?;
    if query_opt(
        &tx,
        "SELECT id FROM customers WHERE id = $1 FOR UPDATE",
        &[&id],
    )
    .await?
    .is_none()
    {
        return Err(StoreError::NotFound("customer"));
    }
    check_organization(&tx, up.organization_id.flatten()).await?;
    let (set_org, org) = (up.organization_id.is_some(), up.organization_id.flatten());
    let (set_lang, lang) = (up.language.is_some(), up.language.clone().flatten());
    let (set_tz, tz) = (up.time_zone.is_some(), up.time_zone.clone().flatten());
    execute(
        &tx,
        "UPDATE customers SET name = COALESCE($2, name), \
         organization_id = CASE WHEN $3::bool THEN $4::bigint ELSE organization_id END, \
         language = CASE WHEN $5::bool THEN $6::text ELSE language END, \
         time_zone = CASE WHEN $7::bool THEN $8::text ELSE time_zone END, \
         notes = COALESCE($9, notes), updated_at = $10 WHERE id = $1",
        &[
            &id, &up.name, &set_org, &org, &set_lang, &lang, &set_tz, &tz, &up.notes, &now,
        ],
    )
    .await?;
    add_identities(&tx, id, &up.add_identities).await?;
    let customer = get_customer_on(&tx, id).await?;
    tx.commit().await.db()?;
    Ok(customer)
}

pub(crate) async fn get_customer(s: &PgStore, id: i64) -> Result<Customer> {
    get_customer_on(&s.conn().await?, id).await
}

pub(crate) async fn customer_by_identity(
    s: &PgStore,
    kind: IdentityKind,
    value: &str,
) -> Result<Option<Customer>> {
    let c = s.conn().await?;
    let sql = format!(
        "SELECT {CUSTOMER_COLS} FROM customers c WHERE c.id = \
         (SELECT customer_id FROM customer_identities WHERE kind = $1 AND lower(value) = lower($2))"
    );
    query_opt(&c, &sql, &[&kind.as_str(), &value.trim()])
        .await?
        .as_ref()
        .map(rows::customer)
        .transpose()
}

pub(crate) async fn list_customers(s: &PgStore, q: CustomerQuery) -> Result<Page<Customer>> {
    let c = s.conn().await?;
    let limit = page_limit(&q.page);
    let fetch = limit.saturating_add(1);
    let mut sql = format!("SELECT {CUSTOMER_COLS} FROM customers c WHERE TRUE");
    let mut params: Vec<&(dyn ToSql + Sync)> = Vec::new();
    let identity = q.identity.as_deref().map(str::trim);
    if let Some(v) = &identity {
        params.push(v);
        sql += &format!(
            " AND EXISTS (SELECT 1 FROM customer_identities ci WHERE ci.customer_id = c.id AND lower(ci.value) = lower(${}))",
            params.len()
        );
    }
    if let Some(org) = &q.organization_id {
        params.push(org);
        sql += &format!(" AND c.organization_id = ${}", params.len());
    }
    if let Some(after) = &q.page.after_id {
        params.push(after);
        sql += &format!(" AND c.id < ${}", params.len());
    }
    params.push(&fetch);
    sql += &format!(" ORDER BY c.id DESC LIMIT ${}", params.len());
    let items = query(&c, &sql, &params)
        .await?
        .iter()
        .map(rows::customer)
        .collect::<Result<Vec<_>>>()?;
    Ok(Page::from_overfetch(items, limit, |c| {
        encode_id_cursor(c.id)
    }))
}

pub(crate) async fn customer_timeline(
    s: &PgStore,
    customer_id: i64,
    viewer: &Viewer,
    page: PageRequest,
) -> Result<Page<Event>> {
    let c = s.conn().await?;
    if query_opt(
        &c,
        "SELECT id FROM customers WHERE id = $1",
        &[&customer_id],
    )
    .await?
    .is_none()
    {
        return Err(StoreError::NotFound("customer"));
    }
    let limit = page_limit(&page);
    let fetch = limit.saturating_add(1);
    let mut sql = format!("SELECT {EVENT_COLS} FROM events e JOIN tickets t ON t.id = e.ticket_id WHERE t.requester_id = $1");
    let mut params: Vec<&(dyn ToSql + Sync)> = vec![&customer_id];
    if !viewer.sees_all() {
        params.push(&viewer.agent_id);
        params.push(&viewer.group_ids);
        sql += &format!(
            " AND (t.assignee_id = ${} OR t.group_id = ANY(${}))",
            params.len() - 1,
            params.len()
        );
    }
    if let Some(after) = &page.after_id {
        params.push(after);
        sql += &format!(" AND e.seq < ${}", params.len());
    }
    params.push(&fetch);
    sql += &format!(" ORDER BY e.seq DESC LIMIT ${}", params.len());
    let items = query(&c, &sql, &params)
        .await?
        .iter()
        .map(rows::event)
        .collect::<Result<Vec<_>>>()?;
    Ok(Page::from_overfetch(items, limit, |e| {
        encode_id_cursor(e.seq)
    }))
}

// --- custom fields ---------------------------------------------------------------------

pub(crate) async fn create_field_def(
    s: &PgStore,
    new: NewFieldDef,
    actor: Actor,
    now: Now,
) -> Result<FieldDef> {
    let now = us(now);
    let mut c = s.conn().await?;
    let tx = c.transaction().await.db()?;
    let options = to_json(&new.options)?;
    let row = query_one_raw(
        &tx,
        "INSERT INTO field_defs (key, label, field_type, options, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
        &[&new.key, &new.label, &new.field_type.as_str(), &options, &now],
    )
    .await
    .unique(|| format!("a field with key {} exists", new.key))?;
    let id: i64 = row.get(0);
    let data = json!({ "key": new.key, "type": new.field_type });
    audit(
        &tx,
        actor,
        "field.created",
        format!("field:{id}"),
        data,
        now,
    )
    .await?;
    tx.commit().await.db()?;
    Ok(FieldDef {
        id,
        key: new.key,
        label: new.label,
        field_type: new.field_type,
        options: new.options,
        created_at: now,
    })
}

pub(crate) async fn list_field_defs(s: &PgStore) -> Result<Vec<FieldDef>> {
    let c = s.conn().await?;
    query(
        &c,
        &format!("SELECT {FIELD_COLS} FROM field_defs f ORDER BY f.id"),
        &[],
    )
    .await?
    .iter()
    .map(rows::field_def)
    .collect()
}

// --- webhooks and audit ----------------------------------------------------------------

pub(crate) async fn create_webhook(
    s: &PgStore,
    new: NewWebhook,
    actor: Actor,
    now: Now,
) -> Result<Webhook> {
    let now = us(now);
    let mut c = s.conn().await?;
    let tx = c.transaction().await.db()?;
    let events = to_json(&new.events)?;
    let row = query_one(
        &tx,
        "INSERT INTO webhooks (url, events, secret, active, created_at) VALUES ($1, $2, $3, TRUE, $4) RETURNING id",
        &[&new.url, &events, &new.secret, &now],
    )
    .await?;
    let id: i64 = row.get(0);
    audit(
        &tx,
        actor,
        "webhook.created",
        format!("webhook:{id}"),
        json!({ "url": new.url, "events": new.events }),
        now,
    )
    .await?;
    tx.commit().await.db()?;
    Ok(Webhook {
        id,
        url: new.url,
        events: new.events,
        secret: new.secret,
        active: true,
        created_at: now,
    })
}

pub(crate) async fn list_webhooks(s: &PgStore) -> Result<Vec<Webhook>> {
    let c = s.conn().await?;
    query(
        &c,
        &format!("SELECT {WEBHOOK_COLS} FROM webhooks w ORDER BY w.id"),
        &[],
    )
    .await?
    .iter()
    .map(rows::webhook)
    .collect()
}

pub(crate) async fn get_webhook(s: &PgStore, id: i64) -> Result<Webhook> {
    let c = s.conn().await?;
    let row = query_opt(
        &c,
        &format!("SELECT {WEBHOOK_COLS} FROM webhooks w WHERE w.id = $1"),
        &[&id],
    )
    .await?;
    rows::webhook(&row.ok_or(StoreError::NotFound("webhook"))?)
}

pub(crate) async fn delete_webhook(s: &PgStore, id: i64, actor: Actor, now: Now) -> Result<()> {
    let now = us(now);
    let mut c = s.conn().await?;
    let tx = c.transaction().await.db()?;
    let row = query_opt(
        &tx,
        "DELETE FROM webhooks WHERE id = $1 RETURNING url",
        &[&id],
    )
    .await?;
    let url: String = row.ok_or(StoreError::NotFound("webhook"))?.get(0);
    audit(
        &tx,
        actor,
        "webhook.deleted",
        format!("webhook:{id}"),
        json!({ "url": url }),
        now,
    )
    .await?;
    tx.commit().await.db()
}

pub(crate) async fn list_audit(s: &PgStore, page: PageRequest) -> Result<Page<AuditEntry>> {
    let c = s.conn().await?;
    let limit = page_limit(&page);
    let fetch = limit.saturating_add(1);
    let rows = match page.after_id {
        Some(after) => {
            let sql = format!(
                "SELECT {AUDIT_COLS} FROM audit_log l WHERE l.id < $1 ORDER BY l.id DESC LIMIT $2"
            );
            query(&c, &sql, &[&after, &fetch]).await?
        }
        None => {
            query(
                &c,
                &format!("SELECT {AUDIT_COLS} FROM audit_log l ORDER BY l.id DESC LIMIT $1"),
                &[&fetch],
            )
            .await?
        }
    };
    let items: Vec<AuditEntry> = rows.iter().map(rows::audit).collect();
    Ok(Page::from_overfetch(items, limit, |a| {
        encode_id_cursor(a.id)
    }))
}

pub(crate) async fn create_password_reset(
    s: &PgStore,
    agent_id: i64,
    token_hash: Vec<u8>,
    expires_at: Now,
    now: Now,
) -> Result<()> {
    let mut c = s.conn().await?;
    let tx = c.transaction().await.db()?;
    execute(
        &tx,
        "UPDATE password_resets SET used_at = $2 WHERE agent_id = $1 AND used_at IS NULL",
        &[&agent_id, &now],
    )
    .await?;
    execute(
        &tx,
        "INSERT INTO password_resets (token_hash, agent_id, expires_at, created_at) VALUES ($1, $2, $3, $4)",
        &[&token_hash, &agent_id, &expires_at, &now],
    )
    .await?;
    tx.commit().await.db()?;
    Ok(())
}

pub(crate) async fn password_reset_agent(
    s: &PgStore,
    token_hash: &[u8],
    now: Now,
) -> Result<Option<i64>> {
    let c = s.conn().await?;
    let row = query_opt(
        &c,
        "SELECT r.agent_id FROM password_resets r JOIN agents a ON a.id = r.agent_id \
         WHERE r.token_hash = $1 AND r.used_at IS NULL AND r.expires_at > $2 AND a.active",
        &[&token_hash, &now],
    )
    .await?;
    Ok(row.map(|r| r.get(0)))
}

pub(crate) async fn redeem_password_reset(
    s: &PgStore,
    token_hash: &[u8],
    password_hash: String,
    now: Now,
) -> Result<Option<i64>> {
    let mut c = s.conn().await?;
    let tx = c.transaction().await.db()?;
    let row = query_opt(
        &tx,
        "UPDATE password_resets SET used_at = $2 WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2 \
         AND agent_id IN (SELECT id FROM agents WHERE active) RETURNING agent_id",
        &[&token_hash, &now],
    )
    .await?;
    let Some(id) = row.map(|r| r.get::<_, i64>(0)) else {
        return Ok(None);
    };
    execute(
        &tx,
        "UPDATE agents SET password_hash = $2 WHERE id = $1",
        &[&id, &password_hash],
    )
    .await?;
    let sessions = execute(
        &tx,
        "DELETE FROM api_tokens WHERE agent_id = $1 AND name = $2",
        &[&id, &WEB_SESSION_TOKEN],
    )
    .await?;
    audit(
        &tx,
        Actor::agent(id),
        "agent.password_reset",
        format!("agent:{id}"),
        json!({ "web_sessions_ended": sessions }),
        now,
    )
    .await?;
    tx.commit().await.db()?;
    Ok(Some(id))
}
