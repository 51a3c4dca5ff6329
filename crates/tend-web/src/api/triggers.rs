//! `/api/v1/triggers`: event → conditions → actions (issue 5). Agents read; admins write.
//! The rules live in `tend_core::automation`; the runner in `crate::triggers`.

use crate::error::{ApiResult, AppError};
use crate::extract::{require_admin, Auth, Id, Json};
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{json, Value};
use tend_core::automation::{TriggerDef, MAX_TRIGGERS};
use tend_core::{Actor, Viewer};
use tend_store::triggers::Trigger;
use tend_store::StoreError;

/// Save-time checks: the definition itself, and that the agents and groups it names exist.
async fn check(s: &AppState, def: &TriggerDef) -> ApiResult<()> {
    def.validate()?;
    check_refs(s, &def.actions, "").await
}

/// The agents and groups actions name exist (and agents are active).
async fn check_refs(
    s: &AppState,
    actions: &[tend_core::automation::Action],
    prefix: &str,
) -> ApiResult<()> {
    let (agents, groups) = tend_core::automation::referenced(actions);
    // `notify` names its agent or group in `to`; the set_* actions in `value`.
    let field = |i: usize| {
        let key = match actions.get(i) {
            Some(tend_core::automation::Action::Notify { .. }) => "to",
            _ => "value",
        };
        format!("{prefix}actions[{i}].{key}")
    };
    for (i, id) in agents {
        match s.store.get_agent(id).await {
            Ok(a) if a.active => {}
            Ok(_) => {
                return Err(AppError::invalid(
                    field(i),
                    format!("agent {id} is not active"),
                ))
            }
            Err(StoreError::NotFound(_)) => {
                return Err(AppError::invalid(field(i), format!("no agent {id}")))
            }
            Err(e) => return Err(e.into()),
        }
    }
    for (i, id) in groups {
        match s.store.get_group(id).await {
            Ok(_) => {}
            Err(StoreError::NotFound(_)) => {
                return Err(AppError::invalid(field(i), format!("no group {id}")))
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

fn out(t: &Trigger) -> Value {
    serde_json::to_value(t).unwrap_or(Value::Null)
}

/// Webhook action secrets are for admins' eyes: others see `"********"`.
fn redact(mut v: Value, viewer: &Viewer) -> Value {
    if viewer.is_admin() {
        return v;
    }
    if let Some(actions) = v["actions"].as_array_mut() {
        for a in actions {
            if a["type"] == "webhook" {
                a["secret"] = json!("********");
            }
        }
    }
    v
}

pub async fn list(State(s): State<AppState>, Auth(v): Auth) -> ApiResult<axum::Json<Value>> {
    let items: Vec<Value> = s
        .store
        .list_triggers()
        .await?
        .iter()
        .map(|t| redact(out(t), &v))
        .collect();
    Ok(axum::Json(json!({ "items": items })))
}

pub async fn get_one(
    State(s): State<AppState>,
    Auth(v): Auth,
    Id(id): Id,
) -> ApiResult<axum::Json<Value>> {
    Ok(axum::Json(redact(out(&s.store.get_trigger(id).await?), &v)))
}

fn admin(v: &Viewer) -> ApiResult<Actor> {
    require_admin(v)?;
    Ok(Actor::agent(v.agent_id))
}

pub async fn create(
    State(s): State<AppState>,
    Auth(v): Auth,
    Json(def): Json<TriggerDef>,
) -> ApiResult<(StatusCode, axum::Json<Value>)> {
    let by = admin(&v)?;
    check(&s, &def).await?;
    if s.store.list_triggers().await?.len() >= MAX_TRIGGERS {
        return Err(AppError::invalid(
            "name",
            format!("at most {MAX_TRIGGERS} triggers"),
        ));
    }
    let t = s.store.create_trigger(def, by, s.now()).await?;
    Ok((StatusCode::CREATED, axum::Json(out(&t))))
}

pub async fn replace(
    State(s): State<AppState>,
    Auth(v): Auth,
    Id(id): Id,
    Json(def): Json<TriggerDef>,
) -> ApiResult<axum::Json<Value>> {
    let by = admin(&v)?;
    check(&s, &def).await?;
    Ok(axum::Json(out(&s
        .store
        .update_trigger(id, def, by, s.now())
        .await?)))
}

pub async fn delete(State(s): State<AppState>, Auth(v): Auth, Id(id): Id) -> ApiResult<StatusCode> {
    let by = admin(&v)?;
    s.store.delete_trigger(id, by, s.now()).await?;
    Ok(StatusCode::NO_CONTENT)
}

// --- time-based automations: one settings document, replaced as a whole -----------------

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AutomationsIn {
    pub automations: Vec<tend_core::automation::AutomationDef>,
}

pub async fn get_automations(
    State(s): State<AppState>,
    Auth(v): Auth,
) -> ApiResult<axum::Json<Value>> {
    let list = crate::triggers::load_automations(&*s.store)
        .await
        .map_err(AppError::Internal)?;
    let list: Vec<Value> = list
        .iter()
        .map(|a| redact(serde_json::to_value(a).unwrap_or(Value::Null), &v))
        .collect();
    Ok(axum::Json(json!({ "automations": list })))
}

/// Replaces the automations. Entries without `id` get a new one; an `id` must be one of the
/// stored automations. Audited as `setting.changed` (key `automations`).
pub async fn put_automations(
    State(s): State<AppState>,
    Auth(v): Auth,
    Json(mut body): Json<AutomationsIn>,
) -> ApiResult<axum::Json<Value>> {
    use tend_store::triggers::{sweep_job, AUTOMATIONS_SETTING, SWEEP_KEY};
    let by = admin(&v)?;
    tend_core::automation::validate_automations(&body.automations)?;
    let stored = crate::triggers::load_automations(&*s.store)
        .await
        .map_err(AppError::Internal)?;
    let mut next = stored.iter().map(|a| a.id).max().unwrap_or(0);
    let mut seen = std::collections::HashSet::new();
    let has_calendar = s
        .store
        .get_setting(crate::api::sla::SETTING)
        .await?
        .is_some();
    for (i, a) in body.automations.iter_mut().enumerate() {
        check_refs(&s, &a.actions, &format!("automations[{i}].")).await?;
        if a.business_hours && !has_calendar {
            return Err(AppError::invalid(
                format!("automations[{i}].business_hours"),
                "business hours count in the SLA calendar; configure one first (PUT /api/v1/sla)",
            ));
        }
        if a.id == 0 {
            next += 1;
            a.id = next;
        } else if !stored.iter().any(|x| x.id == a.id) {
            return Err(AppError::invalid(
                format!("automations[{i}].id"),
                format!("no automation {}; leave id out for a new one", a.id),
            ));
        }
        if !seen.insert(a.id) {
            return Err(AppError::invalid(
                format!("automations[{i}].id"),
                "appears twice",
            ));
        }
    }
    let value = json!({ "automations": body.automations });
    s.store
        .put_setting(AUTOMATIONS_SETTING, value.clone(), by, s.now())
        .await?;
    if body.automations.iter().any(|a| a.active) {
        s.store.schedule_job(SWEEP_KEY, sweep_job(s.now())).await?;
    }
    Ok(axum::Json(value))
}
