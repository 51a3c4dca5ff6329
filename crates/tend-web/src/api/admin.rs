//! Agents, groups, tokens and sign-in, custom field definitions, webhooks, audit log, jobs.

use super::{check_limit, PageParams};
use crate::auth::{check_password, generate_token, hash_password, hash_token, verify_password};
use crate::error::{ApiResult, AppError};
use crate::extract::{require_admin, require_supervisor, Auth, Id, Json, Query};
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{json, Value};
use tend_core::{
    limits, parse_field_key, parse_http_url, parse_line, Actor, Change, Email, FieldType, Role,
    Viewer,
};
use tend_store::*;

pub async fn me(State(s): State<AppState>, Auth(v): Auth) -> ApiResult<axum::Json<Agent>> {
    Ok(axum::Json(s.store.get_agent(v.agent_id).await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Login {
    email: String,
    password: String,
}

/// Exchanges an e-mail and password for a new API token. Throttled per e-mail and client.
pub async fn login(
    State(s): State<AppState>,
    axum::Extension(ip): axum::Extension<crate::ClientIp>,
    Json(b): Json<Login>,
) -> ApiResult<(StatusCode, axum::Json<Value>)> {
    let now = s.now();
    let email_key = format!("email:{}", b.email.trim().to_lowercase());
    let ip_key = format!("ip:{}", ip.0);
    let keys = [email_key.as_str(), ip_key.as_str()];
    s.login_limiter.check(&keys, now)?;
    let agent = s.store.agent_by_email(b.email.trim()).await?;
    let hash = match &agent {
        Some(a) if a.active => s.store.agent_password_hash(a.id).await?,
        _ => None,
    };
    // Verify against a throwaway hash when there is no agent, so timing does not reveal accounts.
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let pw = b.password.clone();
    let h = match &hash {
        Some(h) => h.clone(),
        None => DUMMY
            .get_or_init(|| hash_password("not a real password").unwrap_or_default())
            .clone(),
    };
    let ok = tokio::task::spawn_blocking(move || verify_password(&pw, &h))
        .await
        .unwrap_or(false)
        && hash.is_some();
    let Some(agent) = agent.filter(|_| ok) else {
        s.login_limiter.fail(&keys, now);
        return Err(AppError::Unauthorized("wrong e-mail or password".into()));
    };
    s.login_limiter.succeed(&[email_key.as_str()]);
    let token = generate_token();
    let info = s
        .store
        .create_token(
            agent.id,
            format!("sign-in {}", now.format("%Y-%m-%d %H:%M")),
            hash_token(&token),
            Actor::agent(agent.id),
            now,
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(json!({ "token": token, "token_id": info.id, "agent": agent })),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenIn {
    name: String,
}

pub async fn create_own_token(
    State(s): State<AppState>,
    Auth(v): Auth,
    Json(b): Json<TokenIn>,
) -> ApiResult<(StatusCode, axum::Json<Value>)> {
    let name = parse_line("name", &b.name, limits::NAME_MAX)?;
    let token = generate_token();
    let info = s
        .store
        .create_token(
            v.agent_id,
            name,
            hash_token(&token),
            Actor::agent(v.agent_id),
            s.now(),
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(
            json!({ "token": token, "token_id": info.id, "name": info.name, "note": "store the token now: it is shown only once" }),
        ),
    ))
}

/// Checks a new password and hashes it off the async runtime (argon2 is slow on purpose).
async fn new_password_hash(p: String) -> Result<String, AppError> {
    check_password(&p)?;
    tokio::task::spawn_blocking(move || hash_password(&p))
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?
}

pub async fn list_agents(State(s): State<AppState>, Auth(_): Auth) -> ApiResult<axum::Json<Value>> {
    Ok(axum::Json(json!({ "items": s.store.list_agents().await? })))
}

pub async fn get_agent(
    State(s): State<AppState>,
    Auth(_): Auth,
    Id(id): Id,
) -> ApiResult<axum::Json<Agent>> {
    Ok(axum::Json(s.store.get_agent(id).await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateAgent {
    pub email: Email,
    pub name: String,
    pub role: Role,
    pub password: Option<String>,
}

pub async fn create_agent(
    State(s): State<AppState>,
    Auth(v): Auth,
    Json(b): Json<CreateAgent>,
) -> ApiResult<(StatusCode, axum::Json<Agent>)> {
    Ok((
        StatusCode::CREATED,
        axum::Json(create_agent_checked(&s, &v, b).await?),
    ))
}

/// Creates an agent after the checks (admins only); the API and the team page call it.
pub async fn create_agent_checked(s: &AppState, v: &Viewer, b: CreateAgent) -> ApiResult<Agent> {
    require_admin(v)?;
    let password_hash = match b.password {
        Some(p) => Some(new_password_hash(p).await?),
        None => None,
    };
    let new = NewAgent {
        email: b.email.as_str().into(),
        name: parse_line("name", &b.name, limits::NAME_MAX)?,
        role: b.role,
        password_hash,
        active: true,
    };
    Ok(s.store
        .create_agent(new, Actor::agent(v.agent_id), s.now())
        .await?)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateAgent {
    pub name: Option<String>,
    pub role: Option<Role>,
    pub active: Option<bool>,
    pub password: Option<String>,
}

pub async fn update_agent(
    State(s): State<AppState>,
    Auth(v): Auth,
    Id(id): Id,
    Json(b): Json<UpdateAgent>,
) -> ApiResult<axum::Json<Agent>> {
    Ok(axum::Json(update_agent_checked(&s, &v, id, b).await?))
}

/// Changes an agent after the checks: admins change anyone (not demote or deactivate
/// themselves); an agent may change only their own password.
pub async fn update_agent_checked(
    s: &AppState,
    v: &Viewer,
    id: i64,
    b: UpdateAgent,
) -> ApiResult<Agent> {
    let own_password_only =
        id == v.agent_id && b.name.is_none() && b.role.is_none() && b.active.is_none();
    if !own_password_only {
        require_admin(v)?;
    }
    if id == v.agent_id && (b.active == Some(false) || b.role.is_some_and(|r| r != Role::Admin)) {
        return Err(AppError::BadRequest(
            "you cannot deactivate or demote yourself; ask another admin".into(),
        ));
    }
    let password_hash = match b.password {
        Some(p) => Some(new_password_hash(p).await?),
        None => None,
    };
    let up = AgentUpdate {
        name: b
            .name
            .map(|n| parse_line("name", &n, limits::NAME_MAX))
            .transpose()?,
        role: b.role,
        active: b.active,
        password_hash,
    };
    Ok(s.store
        .update_agent(id, up, Actor::agent(v.agent_id), s.now())
        .await?)
}

pub async fn list_groups(State(s): State<AppState>, Auth(_): Auth) -> ApiResult<axum::Json<Value>> {
    Ok(axum::Json(json!({ "items": s.store.list_groups().await? })))
}

pub async fn get_group(
    State(s): State<AppState>,
    Auth(_): Auth,
    Id(id): Id,
) -> ApiResult<axum::Json<Group>> {
    Ok(axum::Json(s.store.get_group(id).await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateGroup {
    pub name: String,
    #[serde(default)]
    pub description: String,
}

pub async fn create_group(
    State(s): State<AppState>,
    Auth(v): Auth,
    Json(b): Json<CreateGroup>,
) -> ApiResult<(StatusCode, axum::Json<Group>)> {
    Ok((
        StatusCode::CREATED,
        axum::Json(create_group_checked(&s, &v, b).await?),
    ))
}

/// Creates a group after the checks (admins only).
pub async fn create_group_checked(s: &AppState, v: &Viewer, b: CreateGroup) -> ApiResult<Group> {
    require_admin(v)?;
    tend_core::check_len("description", &b.description, limits::NOTES_MAX)?;
    let new = NewGroup {
        name: parse_line("name", &b.name, limits::NAME_MAX)?,
        description: b.description,
    };
    Ok(s.store
        .create_group(new, Actor::agent(v.agent_id), s.now())
        .await?)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Members {
    agent_ids: Vec<i64>,
}

pub async fn set_members(
    State(s): State<AppState>,
    Auth(v): Auth,
    Id(id): Id,
    Json(b): Json<Members>,
) -> ApiResult<axum::Json<Group>> {
    Ok(axum::Json(
        set_members_checked(&s, &v, id, b.agent_ids).await?,
    ))
}

/// Replaces a group's members after the checks (admins only).
pub async fn set_members_checked(
    s: &AppState,
    v: &Viewer,
    group_id: i64,
    agent_ids: Vec<i64>,
) -> ApiResult<Group> {
    require_admin(v)?;
    if agent_ids.len() > 10_000 {
        return Err(AppError::invalid("agent_ids", "at most 10,000 members"));
    }
    Ok(s.store
        .set_group_members(group_id, agent_ids, Actor::agent(v.agent_id), s.now())
        .await?)
}

pub async fn list_fields(State(s): State<AppState>, Auth(_): Auth) -> ApiResult<axum::Json<Value>> {
    Ok(axum::Json(
        json!({ "items": s.store.list_field_defs().await? }),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateField {
    pub key: String,
    pub label: String,
    #[serde(rename = "type")]
    pub field_type: FieldType,
    #[serde(default)]
    pub options: Vec<String>,
}

pub async fn create_field(
    State(s): State<AppState>,
    Auth(v): Auth,
    Json(b): Json<CreateField>,
) -> ApiResult<(StatusCode, axum::Json<FieldDef>)> {
    Ok((
        StatusCode::CREATED,
        axum::Json(create_field_checked(&s, &v, b).await?),
    ))
}

/// Creates a custom field definition after the checks (admins only).
pub async fn create_field_checked(s: &AppState, v: &Viewer, b: CreateField) -> ApiResult<FieldDef> {
    require_admin(v)?;
    let key = parse_field_key(&b.key)?;
    let label = parse_line("label", &b.label, limits::NAME_MAX)?;
    let options = b
        .options
        .iter()
        .map(|o| parse_line("options", o, limits::NAME_MAX))
        .collect::<Result<Vec<_>, _>>()?;
    match (b.field_type, options.is_empty()) {
        (FieldType::Dropdown, true) => {
            return Err(AppError::invalid(
                "options",
                "a dropdown needs at least one option",
            ))
        }
        (FieldType::Dropdown, false) => {}
        (_, false) => {
            return Err(AppError::invalid(
                "options",
                "only dropdown fields have options",
            ))
        }
        _ => {}
    }
    let new = NewFieldDef {
        key,
        label,
        field_type: b.field_type,
        options,
    };
    Ok(s.store
        .create_field_def(new, Actor::agent(v.agent_id), s.now())
        .await?)
}

pub async fn list_webhooks(
    State(s): State<AppState>,
    Auth(v): Auth,
) -> ApiResult<axum::Json<Value>> {
    require_admin(&v)?;
    Ok(axum::Json(
        json!({ "items": s.store.list_webhooks().await? }),
    ))
}

pub async fn get_webhook(
    State(s): State<AppState>,
    Auth(v): Auth,
    Id(id): Id,
) -> ApiResult<axum::Json<Webhook>> {
    require_admin(&v)?;
    Ok(axum::Json(s.store.get_webhook(id).await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhook {
    url: String,
    events: Vec<String>,
    secret: Option<String>,
}

pub async fn create_webhook(
    State(s): State<AppState>,
    Auth(v): Auth,
    Json(b): Json<CreateWebhook>,
) -> ApiResult<(StatusCode, axum::Json<Value>)> {
    require_admin(&v)?;
    let url = parse_http_url("url", &b.url)?;
    if b.events.is_empty() {
        return Err(AppError::invalid(
            "events",
            format!(
                "list the event kinds to receive, or \"*\" for all: {}",
                Change::KINDS.join(", ")
            ),
        ));
    }
    for e in &b.events {
        if e != "*" && !Change::KINDS.contains(&e.as_str()) {
            return Err(AppError::invalid(
                "events",
                format!(
                    "unknown event kind '{}'; known: {}",
                    tend_core::truncate_for_message(e),
                    Change::KINDS.join(", ")
                ),
            ));
        }
    }
    let secret = match b.secret {
        Some(x) if x.len() >= 16 && x.len() <= 200 => x,
        Some(_) => {
            return Err(AppError::invalid(
                "secret",
                "must be 16 to 200 characters (or leave it out and one is made for you)",
            ))
        }
        None => generate_token(),
    };
    let hook = s
        .store
        .create_webhook(
            NewWebhook {
                url,
                events: b.events,
                secret: secret.clone(),
            },
            Actor::agent(v.agent_id),
            s.now(),
        )
        .await?;
    let mut out = serde_json::to_value(&hook).map_err(|e| AppError::Internal(e.to_string()))?;
    out["secret"] = json!(secret);
    out["note"] = json!("deliveries carry Tend-Signature: t=<unix>,v1=<hex HMAC-SHA256 of \"<t>.<body>\" with this secret>; it is shown only now");
    Ok((StatusCode::CREATED, axum::Json(out)))
}

pub async fn delete_webhook(
    State(s): State<AppState>,
    Auth(v): Auth,
    Id(id): Id,
) -> ApiResult<StatusCode> {
    require_admin(&v)?;
    s.store
        .delete_webhook(id, Actor::agent(v.agent_id), s.now())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn audit(
    State(s): State<AppState>,
    Auth(v): Auth,
    Query(p): Query<PageParams>,
) -> ApiResult<axum::Json<Page<AuditEntry>>> {
    require_supervisor(&v)?;
    Ok(axum::Json(s.store.list_audit(p.page()?).await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobParams {
    state: Option<JobState>,
    limit: Option<i64>,
}

pub async fn jobs(
    State(s): State<AppState>,
    Auth(v): Auth,
    Query(p): Query<JobParams>,
) -> ApiResult<axum::Json<Value>> {
    require_admin(&v)?;
    let jobs = s
        .store
        .list_jobs(p.state.unwrap_or(JobState::Dead), check_limit(p.limit)?)
        .await?;
    Ok(axum::Json(json!({ "items": jobs })))
}
