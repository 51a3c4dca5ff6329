//! SLA configuration (a business calendar and ordered policies) and each ticket's clock,
//! computed on read from the ticket's events by the pure engine in `tend_core::sla`.

use crate::error::{ApiResult, AppError};
use crate::extract::{require_admin, Auth, Id, Json};
use crate::AppState;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tend_core::sla::{
    evaluate_ticket, validate_policies, Calendar, CalendarSpec, Policy, TargetStatus,
};
use tend_core::{Actor, Ticket, Viewer};
use tend_store::PageRequest;

pub const SETTING: &str = "sla";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlaConfig {
    pub calendar: CalendarSpec,
    #[serde(default)]
    pub policies: Vec<Policy>,
}

impl SlaConfig {
    /// The calendar, checked; policies checked too. Field names point into the document.
    pub fn check(&self) -> Result<Calendar, tend_core::Invalid> {
        let cal = Calendar::new(self.calendar.clone())
            .map_err(|e| tend_core::Invalid::new(format!("calendar.{}", e.field), e.message))?;
        validate_policies(&self.policies)?;
        Ok(cal)
    }
}

pub async fn load(s: &AppState) -> Result<Option<(SlaConfig, Calendar)>, AppError> {
    let Some(v) = s.store.get_setting(SETTING).await? else {
        return Ok(None);
    };
    let cfg: SlaConfig = serde_json::from_value(v)
        .map_err(|e| AppError::Internal(format!("stored SLA config: {e}")))?;
    let cal = cfg
        .check()
        .map_err(|e| AppError::Internal(format!("stored SLA config: {e}")))?;
    Ok(Some((cfg, cal)))
}

pub async fn get_config(State(s): State<AppState>, Auth(_): Auth) -> ApiResult<axum::Json<Value>> {
    Ok(axum::Json(match s.store.get_setting(SETTING).await? {
        Some(v) => v,
        None => json!({ "calendar": null, "policies": [] }),
    }))
}

pub async fn put_config(
    State(s): State<AppState>,
    Auth(v): Auth,
    Json(cfg): Json<SlaConfig>,
) -> ApiResult<axum::Json<Value>> {
    require_admin(&v)?;
    cfg.check()?;
    let value = serde_json::to_value(&cfg).map_err(|e| AppError::Internal(e.to_string()))?;
    s.store
        .put_setting(SETTING, value.clone(), Actor::agent(v.agent_id), s.now())
        .await?;
    Ok(axum::Json(value))
}

/// The ticket's SLA targets now: the matching policy's name and each target's status.
pub async fn for_ticket(
    s: &AppState,
    viewer: &Viewer,
    t: &Ticket,
) -> Result<Option<(String, Vec<TargetStatus>)>, AppError> {
    let Some((cfg, cal)) = load(s).await? else {
        return Ok(None);
    };
    let mut events = Vec::new();
    let mut after = None;
    loop {
        let page = s
            .store
            .ticket_events(
                t.id,
                viewer,
                PageRequest {
                    after_id: after,
                    limit: 1000,
                },
            )
            .await?;
        after = page.items.last().map(|e| e.seq);
        events.extend(page.items.into_iter().map(|e| (e.at, e.actor, e.change)));
        if page.next_cursor.is_none() {
            break;
        }
    }
    Ok(evaluate_ticket(&events, &cal, &cfg.policies, None, s.now())
        .map(|(p, targets)| (p.name.clone(), targets)))
}

pub async fn ticket_sla(
    State(s): State<AppState>,
    Auth(v): Auth,
    Id(id): Id,
) -> ApiResult<axum::Json<Value>> {
    let t = s.store.get_ticket(id, &v).await?;
    Ok(axum::Json(match for_ticket(&s, &v, &t).await? {
        Some((policy, targets)) => json!({ "policy": policy, "targets": targets }),
        None => json!({ "policy": null, "targets": [] }),
    }))
}
