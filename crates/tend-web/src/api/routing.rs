//! Routing settings (issue 5; docs/routing.md): `/api/v1/agents/{id}/routing`,
//! `/api/v1/me/availability`, `/api/v1/groups/{id}/routing`. Any agent reads; an agent sets
//! their own availability; admins set anyone's availability, skills and capacity, and groups'
//! modes. Every change is audited by the store.

use crate::error::{ApiResult, AppError};
use crate::extract::{require_admin, Auth, Id, Json};
use crate::AppState;
use axum::extract::State;
use axum::routing::{get, put};
use axum::Router;
use serde::Deserialize;
use serde_json::{json, Value};
use tend_core::routing::{check_capacity, parse_skills, Availability, Mode};
use tend_core::{Actor, Viewer};
use tend_store::routing::{AgentRouting, AgentRoutingUpdate, GroupRouting, GroupRoutingUpdate};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/agents/{id}/routing", get(get_agent).put(put_agent))
        .route("/api/v1/me/availability", put(put_mine))
        .route("/api/v1/groups/{id}/routing", get(get_group).put(put_group))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentRoutingIn {
    pub availability: Option<String>,
    pub skills: Option<Vec<String>>,
    /// `null`: unlimited; absent: unchanged.
    #[serde(default, deserialize_with = "super::double_option")]
    pub capacity: Option<Option<i64>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupRoutingIn {
    pub mode: Option<String>,
    pub reassign_when_off: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AvailabilityIn {
    pub availability: String,
}

pub fn agent_json(r: &AgentRouting) -> Value {
    json!({
        "agent_id": r.agent_id,
        "availability": r.availability,
        "skills": r.skills,
        "capacity": r.capacity,
        "open_tickets": r.open_tickets,
        "last_assigned_at": r.last_assigned_at,
        "updated_at": r.updated_at,
    })
}

pub fn group_json(r: &GroupRouting) -> Value {
    json!({
        "group_id": r.group_id,
        "mode": r.mode,
        "reassign_when_off": r.reassign_when_off,
        "last_agent_id": r.last_agent_id,
        "updated_at": r.updated_at,
    })
}

/// Checks who may change what, parses, and stores (audited). Agents may change only their
/// own availability; admins anything.
pub async fn set_agent_checked(
    s: &AppState,
    v: &Viewer,
    agent_id: i64,
    input: AgentRoutingIn,
) -> ApiResult<AgentRouting> {
    s.store.get_agent(agent_id).await?;
    if !v.is_admin() {
        if agent_id != v.agent_id {
            return Err(AppError::Forbidden(
                "agents may set only their own availability".into(),
            ));
        }
        if input.skills.is_some() || input.capacity.is_some() {
            return Err(AppError::Forbidden(
                "only admins set skills and capacity".into(),
            ));
        }
    }
    if input.availability.is_none() && input.skills.is_none() && input.capacity.is_none() {
        return Err(AppError::invalid(
            "availability",
            "send availability, skills or capacity",
        ));
    }
    let up = AgentRoutingUpdate {
        availability: input
            .availability
            .as_deref()
            .map(Availability::parse)
            .transpose()?,
        skills: input.skills.as_deref().map(parse_skills).transpose()?,
        capacity: input.capacity.map(check_capacity).transpose()?,
    };
    Ok(s.store
        .set_agent_routing(agent_id, up, Actor::agent(v.agent_id), s.now())
        .await?)
}

/// Admins only; parses and stores (audited).
pub async fn set_group_checked(
    s: &AppState,
    v: &Viewer,
    group_id: i64,
    input: GroupRoutingIn,
) -> ApiResult<GroupRouting> {
    require_admin(v)?;
    s.store.get_group(group_id).await?;
    if input.mode.is_none() && input.reassign_when_off.is_none() {
        return Err(AppError::invalid("mode", "send mode or reassign_when_off"));
    }
    let up = GroupRoutingUpdate {
        mode: input.mode.as_deref().map(Mode::parse).transpose()?,
        reassign_when_off: input.reassign_when_off,
    };
    Ok(s.store
        .set_group_routing(group_id, up, Actor::agent(v.agent_id), s.now())
        .await?)
}

async fn get_agent(
    State(s): State<AppState>,
    Auth(_): Auth,
    Id(id): Id,
) -> ApiResult<axum::Json<Value>> {
    Ok(axum::Json(agent_json(&s.store.agent_routing(id).await?)))
}

async fn put_agent(
    State(s): State<AppState>,
    Auth(v): Auth,
    Id(id): Id,
    Json(input): Json<AgentRoutingIn>,
) -> ApiResult<axum::Json<Value>> {
    Ok(axum::Json(agent_json(
        &set_agent_checked(&s, &v, id, input).await?,
    )))
}

async fn put_mine(
    State(s): State<AppState>,
    Auth(v): Auth,
    Json(input): Json<AvailabilityIn>,
) -> ApiResult<axum::Json<Value>> {
    let id = v.agent_id;
    let input = AgentRoutingIn {
        availability: Some(input.availability),
        ..Default::default()
    };
    Ok(axum::Json(agent_json(
        &set_agent_checked(&s, &v, id, input).await?,
    )))
}

async fn get_group(
    State(s): State<AppState>,
    Auth(_): Auth,
    Id(id): Id,
) -> ApiResult<axum::Json<Value>> {
    Ok(axum::Json(group_json(&s.store.group_routing(id).await?)))
}

async fn put_group(
    State(s): State<AppState>,
    Auth(v): Auth,
    Id(id): Id,
    Json(input): Json<GroupRoutingIn>,
) -> ApiResult<axum::Json<Value>> {
    Ok(axum::Json(group_json(
        &set_group_checked(&s, &v, id, input).await?,
    )))
}

/// The OpenAPI entries of these routes (called from `crate::openapi::document`).
pub fn openapi(doc: &mut Value) {
    let errors = json!({
        "401": { "description": "no valid token" },
        "403": { "description": "not allowed" },
        "404": { "description": "no such agent or group" },
        "422": { "description": "a value does not parse (problem+json names the field)" }
    });
    let id =
        json!([{ "name": "id", "in": "path", "required": true, "schema": { "type": "integer" } }]);
    let agent = json!({ "type": "object", "properties": {
        "agent_id": { "type": "integer" },
        "availability": { "enum": ["online", "away", "off"] },
        "skills": { "type": "array", "items": { "type": "string", "pattern": "^[a-z0-9:_-]{1,40}$" }, "maxItems": 50 },
        "capacity": { "type": ["integer", "null"], "minimum": 0, "maximum": 10000, "description": "open (new/open) tickets; null = unlimited" },
        "open_tickets": { "type": "integer" },
        "last_assigned_at": { "type": ["string", "null"], "format": "date-time" },
        "updated_at": { "type": ["string", "null"], "format": "date-time" } } });
    let agent_in = json!({ "type": "object", "additionalProperties": false, "properties": {
        "availability": { "enum": ["online", "away", "off"] },
        "skills": { "type": "array", "items": { "type": "string", "pattern": "^[a-z0-9:_-]{1,40}$" }, "maxItems": 50 },
        "capacity": { "type": ["integer", "null"], "minimum": 0, "maximum": 10000 } } });
    let group = json!({ "type": "object", "properties": {
        "group_id": { "type": "integer" },
        "mode": { "enum": ["manual", "round_robin", "least_loaded"] },
        "reassign_when_off": { "type": "boolean" },
        "last_agent_id": { "type": ["integer", "null"] },
        "updated_at": { "type": ["string", "null"], "format": "date-time" } } });
    let group_in = json!({ "type": "object", "additionalProperties": false, "properties": {
        "mode": { "enum": ["manual", "round_robin", "least_loaded"] },
        "reassign_when_off": { "type": "boolean" } } });
    let op = |summary: &str, params: &Value, body: Option<&Value>, resp: &Value| {
        let mut o = json!({
            "summary": summary,
            "parameters": params,
            "responses": { "200": { "description": "OK", "content": { "application/json": { "schema": resp } } } },
        });
        if let Some(b) = body {
            o["requestBody"] =
                json!({ "required": true, "content": { "application/json": { "schema": b } } });
        }
        if let (Some(r), Some(e)) = (o["responses"].as_object_mut(), errors.as_object()) {
            for (k, v) in e {
                r.insert(k.clone(), v.clone());
            }
        }
        o
    };
    let p = &mut doc["paths"];
    p["/agents/{id}/routing"] = json!({
        "get": op("An agent's routing settings: availability, skills, capacity, open tickets (any agent)", &id, None, &agent),
        "put": op("Change an agent's routing settings (admins: anything; agents: their own availability only); audited", &id, Some(&agent_in), &agent),
    });
    p["/me/availability"] = json!({
        "put": op("Set your own availability (online gets new tickets; away keeps yours; off may hand them back); audited", &json!([]),
            Some(&json!({ "type": "object", "required": ["availability"], "additionalProperties": false, "properties": { "availability": { "enum": ["online", "away", "off"] } } })), &agent),
    });
    p["/groups/{id}/routing"] = json!({
        "get": op("A group's routing mode (any agent)", &id, None, &group),
        "put": op("Change a group's routing mode and reassign_when_off (admin); audited", &id, Some(&group_in), &group),
    });
}
