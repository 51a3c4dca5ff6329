//! Group leads and agents' working hours (issue 5), and the save-time checks of SLA
//! escalation levels.
//!
//! - `GET /groups/{id}/lead` (any agent), `PUT /groups/{id}/lead` `{"agent_id": 3 | null}`
//!   (admins; audited `group.lead_set`).
//! - `GET/PUT /agents/{id}/hours` `{"calendar": "zone Europe/Berlin\nmon-fri 09:00-17:00" |
//!   null}` (the agent themself or an admin; audited `agent.hours_set`). Notifications to an
//!   agent outside their hours wait for the next working period.

use crate::error::{ApiResult, AppError};
use crate::extract::{require_admin, Auth, Id, Json};
use crate::AppState;
use axum::extract::State;
use serde::Deserialize;
use serde_json::{json, Value};
use tend_core::escalation::Escalation;
use tend_core::{Actor, Viewer};
use tend_store::StoreError;

/// Save-time checks of escalation levels: order, count, and that the agents they notify are
/// active and the groups they move tickets to exist (422 naming the field).
pub async fn check_escalation(s: &AppState, e: &Escalation) -> ApiResult<()> {
    e.validate()?;
    let (agents, groups) = e.referenced();
    for (field, id) in agents {
        // An agent deactivated since is skipped when the level fires; requiring them to be
        // active here would block every later SLA save of calendars and policies (the admin
        // page lists such an agent as "deactivated: not mailed" until the level is changed).
        check_agent(s, &field, id, false).await?;
    }
    for (field, id) in groups {
        match s.store.get_group(id).await {
            Ok(_) => {}
            Err(StoreError::NotFound(_)) => {
                return Err(AppError::invalid(field, format!("no group {id}")))
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

async fn check_agent(s: &AppState, field: &str, id: i64, require_active: bool) -> ApiResult<()> {
    match s.store.get_agent(id).await {
        Ok(a) if a.active || !require_active => Ok(()),
        Ok(_) => Err(AppError::invalid(
            field,
            format!("agent {id} is not active"),
        )),
        Err(StoreError::NotFound(_)) => Err(AppError::invalid(field, format!("no agent {id}"))),
        Err(e) => Err(e.into()),
    }
}

pub async fn get_lead(
    State(s): State<AppState>,
    Auth(_): Auth,
    Id(id): Id,
) -> ApiResult<axum::Json<Value>> {
    s.store.get_group(id).await?;
    let lead = s.store.group_lead(id).await?;
    Ok(axum::Json(json!({ "group_id": id, "agent_id": lead })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeadIn {
    agent_id: Option<i64>,
}

pub async fn put_lead(
    State(s): State<AppState>,
    Auth(v): Auth,
    Id(id): Id,
    Json(b): Json<LeadIn>,
) -> ApiResult<axum::Json<Value>> {
    set_lead_checked(&s, &v, id, b.agent_id).await?;
    Ok(axum::Json(
        json!({ "group_id": id, "agent_id": b.agent_id }),
    ))
}

/// Sets or clears (`None`) a group's lead as `v` (an admin): the group must exist and the
/// lead be an active agent (422 `agent_id`). Audited `group.lead_set` by the store. The API
/// and `/admin/routing` both call this.
pub async fn set_lead_checked(
    s: &AppState,
    v: &Viewer,
    group_id: i64,
    agent_id: Option<i64>,
) -> ApiResult<()> {
    require_admin(v)?;
    s.store.get_group(group_id).await?;
    if let Some(a) = agent_id {
        check_agent(s, "agent_id", a, true).await?;
    }
    s.store
        .set_group_lead(group_id, agent_id, Actor::agent(v.agent_id), s.now())
        .await?;
    Ok(())
}

/// The agent themself or an admin.
fn self_or_admin(v: &Viewer, agent_id: i64) -> ApiResult<()> {
    if v.agent_id == agent_id {
        Ok(())
    } else {
        require_admin(v)
    }
}

fn hours_out(agent_id: i64, h: Option<tend_store::escalation::AgentHours>) -> Value {
    match h {
        Some(h) => {
            json!({ "agent_id": agent_id, "calendar": h.calendar, "updated_at": h.updated_at })
        }
        None => json!({ "agent_id": agent_id, "calendar": null }),
    }
}

pub async fn get_hours(
    State(s): State<AppState>,
    Auth(v): Auth,
    Id(id): Id,
) -> ApiResult<axum::Json<Value>> {
    self_or_admin(&v, id)?;
    s.store.get_agent(id).await?;
    Ok(axum::Json(hours_out(id, s.store.agent_hours(id).await?)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HoursIn {
    calendar: Option<String>,
}

pub async fn put_hours(
    State(s): State<AppState>,
    Auth(v): Auth,
    Id(id): Id,
    Json(b): Json<HoursIn>,
) -> ApiResult<axum::Json<Value>> {
    let h = set_hours_checked(&s, &v, id, b.calendar).await?;
    Ok(axum::Json(hours_out(id, h)))
}

/// Sets or clears (`None` or blank) an agent's working hours as `v` (the agent themself or an
/// admin). The text is the calendar line format (`CalendarSpec::parse`), checked like an SLA
/// calendar: 422 `calendar` with `line N: …`. Audited `agent.hours_set` by the store. The API
/// and the admin agent page both call this.
pub async fn set_hours_checked(
    s: &AppState,
    v: &Viewer,
    agent_id: i64,
    calendar: Option<String>,
) -> ApiResult<Option<tend_store::escalation::AgentHours>> {
    self_or_admin(v, agent_id)?;
    s.store.get_agent(agent_id).await?;
    let calendar = match calendar {
        Some(text) if !text.trim().is_empty() => {
            if text.len() > 64 * 1024 {
                return Err(AppError::invalid("calendar", "must be at most 64 KiB"));
            }
            tend_core::sla::Calendar::parse(&text)
                .map_err(|e| AppError::invalid("calendar", e.to_string()))?;
            Some(text)
        }
        _ => None,
    };
    Ok(s.store
        .set_agent_hours(agent_id, calendar, Actor::agent(v.agent_id), s.now())
        .await?)
}

/// The OpenAPI paths and schemas of triggers, automations, group leads and working hours.
pub fn openapi(doc: &mut Value) {
    // Local twins of crate::openapi's private helpers.
    let r = |name: &str| json!({ "$ref": format!("#/components/schemas/{name}") });
    let ok = |schema: Value| json!({ "description": "OK", "content": { "application/json": { "schema": schema } } });
    let items = |name: &str| json!({ "type": "object", "properties": { "items": { "type": "array", "items": r(name) } } });
    let id = || json!([{ "name": "id", "in": "path", "required": true, "schema": { "type": "integer", "minimum": 1 } }]);
    let op = |summary: &str, params: Value, body: Option<Value>, status: &str, resp: Value| {
        let problem = json!({ "description": "problem", "content": { "application/problem+json": { "schema": { "$ref": "#/components/schemas/Problem" } } } });
        let mut responses =
            json!({ "401": problem, "403": problem, "404": problem, "422": problem });
        responses[status] = resp;
        let mut o = json!({ "summary": summary, "parameters": params, "responses": responses });
        if let Some(b) = body {
            o["requestBody"] =
                json!({ "required": true, "content": { "application/json": { "schema": b } } });
        }
        o
    };
    let p = &mut doc["paths"];
    let recipient = json!({ "oneOf": [
        { "enum": ["assignee", "group_lead"] },
        { "type": "object", "required": ["agent"], "properties": { "agent": { "type": "integer" } }, "additionalProperties": false },
        { "type": "object", "required": ["group"], "properties": { "group": { "type": "integer" }, "description": "every member" }, "additionalProperties": false }
    ] });
    p["/triggers"] = json!({
        "get": op("Every trigger, by position then id (agents; webhook secrets only for admins)", json!([]), None, "200", ok(items("Trigger"))),
        "post": op("Create a trigger (admin; audited); errors name the field, e.g. actions[1].body", json!([]), Some(r("TriggerDef")), "201", ok(r("Trigger")))
    });
    p["/triggers/{id}"] = json!({
        "get": op("Get a trigger", id(), None, "200", ok(r("Trigger"))),
        "put": op("Replace a trigger (admin; audited)", id(), Some(r("TriggerDef")), "200", ok(r("Trigger"))),
        "delete": op("Delete a trigger (admin; audited)", id(), None, "204", json!({ "description": "deleted" }))
    });
    p["/automations"] = json!({
        "get": op("The time-based automations (agents)", json!([]), None, "200", ok(json!({ "type": "object", "properties": { "automations": { "type": "array", "items": r("Automation") } } }))),
        "put": op("Replace the automations (admin; audited as setting.changed); entries without id get one", json!([]), Some(json!({ "type": "object", "required": ["automations"], "properties": { "automations": { "type": "array", "maxItems": 100, "items": r("Automation") } } })), "200", ok(json!({ "type": "object" })))
    });
    p["/groups/{id}/lead"] = json!({
        "get": op("A group's lead (agents)", id(), None, "200", ok(r("GroupLead"))),
        "put": op("Set or clear (null) a group's lead (admin; audited group.lead_set)", id(), Some(json!({ "type": "object", "required": ["agent_id"], "additionalProperties": false, "properties": { "agent_id": { "type": ["integer", "null"] } } })), "200", ok(r("GroupLead")))
    });
    p["/agents/{id}/hours"] = json!({
        "get": op("An agent's working hours (the agent or an admin)", id(), None, "200", ok(r("AgentHours"))),
        "put": op("Set or clear (null) an agent's working hours (the agent or an admin; audited agent.hours_set); notifications outside them wait for the next working period", id(), Some(json!({ "type": "object", "required": ["calendar"], "additionalProperties": false, "properties": { "calendar": { "type": ["string", "null"], "description": "calendar text format, e.g. \"zone Europe/Berlin\\nmon-fri 09:00-17:00\"" } } })), "200", ok(r("AgentHours")))
    });
    let s = &mut doc["components"]["schemas"];
    let condition = json!({ "type": "object", "required": ["type"], "properties": { "type": { "enum": ["status_is", "status_is_not", "priority_is", "channel_is", "group_is", "brand_is", "assignee_set", "assignee_unset", "tag_present", "tag_absent", "subject_contains", "body_contains"] }, "value": {} } });
    let conditions = json!({ "type": "object", "properties": { "all": { "type": "array", "items": condition }, "any": { "type": "array", "items": condition } } });
    s["TriggerAction"] = json!({ "type": "object", "required": ["type"], "description": "set_status/set_priority/set_group/set_assignee/add_tags/remove_tags take value; reply/note take body (a template); notify takes to, subject, body (templates; mail at each recipient's working hours); webhook takes url (http/https) and secret (16–200 characters; deliveries carry Tend-Signature); assign_automatically takes nothing (routes the ticket in its group; in a manual group to the least loaded eligible member; not with set_assignee). Mail sent, webhooks called and failed assignments are recorded as a ticket.automation_acted event", "properties": {
        "type": { "enum": ["set_status", "set_priority", "set_group", "set_assignee", "add_tags", "remove_tags", "reply", "note", "notify", "webhook", "assign_automatically"] },
        "value": {}, "body": { "type": "string" }, "subject": { "type": "string" }, "to": recipient,
        "url": { "type": "string" }, "secret": { "type": "string" } } });
    s["TriggerDef"] = json!({ "type": "object", "required": ["name", "on", "actions"], "properties": {
        "name": { "type": "string" }, "active": { "type": "boolean", "default": true }, "position": { "type": "integer" },
        "on": { "type": "array", "items": { "enum": ["created", "updated", "customer_replied", "agent_replied"] } },
        "conditions": conditions, "actions": { "type": "array", "items": r("TriggerAction"), "maxItems": 20 } } });
    s["Trigger"] = json!({ "allOf": [r("TriggerDef"), { "type": "object", "properties": { "id": { "type": "integer" }, "created_at": { "type": "string", "format": "date-time" }, "updated_at": { "type": "string", "format": "date-time" } } }] });
    s["Automation"] = json!({ "type": "object", "required": ["name", "since", "hours", "actions"], "properties": {
        "id": { "type": "integer" }, "name": { "type": "string" }, "active": { "type": "boolean", "default": true },
        "since": { "enum": ["status_changed", "created", "customer_message"] }, "hours": { "type": "integer", "minimum": 1, "maximum": 8784 },
        "business_hours": { "type": "boolean", "default": false, "description": "count hours in the open time of the ticket's own SLA calendar (policy, group, brand, else default)" },
        "conditions": conditions, "actions": { "type": "array", "items": r("TriggerAction") } } });
    s["GroupLead"] = json!({ "type": "object", "properties": { "group_id": { "type": "integer" }, "agent_id": { "type": ["integer", "null"] } } });
    s["AgentHours"] = json!({ "type": "object", "properties": { "agent_id": { "type": "integer" }, "calendar": { "type": ["string", "null"] }, "updated_at": { "type": "string", "format": "date-time" } } });
    s["EscalationLevel"] = json!({ "type": "object", "additionalProperties": false, "description": "one level of the SLA config's escalation.levels (ascending after_minutes, at most 10); fires once per target and run while the target is breached and not met", "properties": {
        "after_minutes": { "type": "integer", "minimum": 0, "maximum": 43200, "description": "after the breach (0: at it)" },
        "notify_assignee": { "type": "boolean" }, "notify_group_lead": { "type": "boolean" },
        "notify_agent": { "type": "integer" }, "reassign_group": { "type": "integer" }, "raise_priority": { "type": "boolean" } } });
}
