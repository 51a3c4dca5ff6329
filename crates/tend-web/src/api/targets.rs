//! `/api/v1/targets`: metric targets (admins write, every agent reads) and their status over
//! a period, computed by the one report engine (`tend_store::metrics::run_report`) — the
//! numbers are the reports page's and `GET /api/v1/reports/tickets`' numbers.

use crate::error::{ApiResult, AppError};
use crate::extract::{require_admin, Auth, Id, Json};
use crate::AppState;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use chrono::NaiveDate;
use chrono_tz::Tz;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use tend_core::report::{Dim, MetricGroup, Report, ReportRequest};
use tend_core::targets::{evaluate, period_range, Evaluation, TargetDef, TargetInput};
use tend_core::Actor;
use tend_store::metrics::Target;
use tend_store::Store;

/// The JSON form of a target.
pub fn target_json(t: &Target) -> Value {
    let col = t.def.column();
    let mut v = serde_json::to_value(&t.def).unwrap_or_default();
    if let Value::Object(m) = &mut v {
        m.insert("id".into(), t.id.into());
        m.insert("comparator".into(), t.def.comparator.as_str().into());
        m.insert("column".into(), col.key.into());
        m.insert("label".into(), col.label.into());
        m.insert("unit".into(), col.unit.as_str().into());
        m.insert("description".into(), t.def.describe().into());
        m.insert("definition".into(), col.definition.into());
        m.insert("created_at".into(), json!(t.created_at));
        m.insert("updated_at".into(), json!(t.updated_at));
    }
    v
}

/// `GET /targets`: every target (any agent).
pub async fn list(State(s): State<AppState>, Auth(_v): Auth) -> ApiResult<axum::Json<Value>> {
    let items: Vec<Value> = s
        .store
        .list_targets()
        .await?
        .iter()
        .map(target_json)
        .collect();
    Ok(axum::Json(json!({ "items": items })))
}

/// `GET /targets/{id}` (any agent).
pub async fn get(
    State(s): State<AppState>,
    Auth(_v): Auth,
    Id(id): Id,
) -> ApiResult<axum::Json<Value>> {
    Ok(axum::Json(target_json(&s.store.get_target(id).await?)))
}

/// `POST /targets` (admins).
pub async fn create(
    State(s): State<AppState>,
    Auth(v): Auth,
    Json(input): Json<TargetInput>,
) -> ApiResult<impl IntoResponse> {
    require_admin(&v)?;
    let def = TargetDef::validate(&input, None)?;
    let t = s
        .store
        .create_target(def, Actor::agent(v.agent_id), s.now())
        .await?;
    Ok((StatusCode::CREATED, axum::Json(target_json(&t))))
}

/// `PATCH /targets/{id}` (admins): the fields given replace the stored ones.
pub async fn update(
    State(s): State<AppState>,
    Auth(v): Auth,
    Id(id): Id,
    Json(input): Json<TargetInput>,
) -> ApiResult<axum::Json<Value>> {
    require_admin(&v)?;
    let old = s.store.get_target(id).await?;
    let def = TargetDef::validate(&input, Some(&old.def))?;
    let t = s
        .store
        .update_target(id, def, Actor::agent(v.agent_id), s.now())
        .await?;
    Ok(axum::Json(target_json(&t)))
}

/// `DELETE /targets/{id}` (admins).
pub async fn delete(State(s): State<AppState>, Auth(v): Auth, Id(id): Id) -> ApiResult<StatusCode> {
    require_admin(&v)?;
    s.store
        .delete_target(id, Actor::agent(v.agent_id), s.now())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The days and zone a status is computed for.
#[derive(Debug, Clone)]
pub struct StatusPeriod {
    /// A named period (`this_month`, …) or `custom`.
    pub name: String,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub tz: Tz,
}

impl StatusPeriod {
    /// `period` (default `this_month`) or `from` + `to`, in `tz` (default UTC).
    pub fn parse(
        period: Option<&str>,
        from: Option<&str>,
        to: Option<&str>,
        tz: Option<&str>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<StatusPeriod, AppError> {
        let tz: Tz = match tz {
            None => Tz::UTC,
            Some(raw) => raw.parse().map_err(|_| {
                AppError::invalid(
                    "tz",
                    format!(
                        "'{}' is not an IANA time zone (e.g. Europe/Berlin, UTC)",
                        tend_core::truncate_for_message(raw)
                    ),
                )
            })?,
        };
        let today = now.with_timezone(&tz).date_naive();
        let day = |field: &str, raw: &str| {
            NaiveDate::parse_from_str(raw, "%Y-%m-%d").map_err(|_| {
                AppError::invalid(field, "is not a date: use YYYY-MM-DD (a day in tz)")
            })
        };
        match (period, from, to) {
            (Some(_), Some(_), _) | (Some(_), _, Some(_)) => Err(AppError::invalid(
                "period",
                "give either period or from and to, not both",
            )),
            (_, Some(f), Some(t)) => Ok(StatusPeriod {
                name: "custom".into(),
                from: day("from", f)?,
                to: day("to", t)?,
                tz,
            }),
            (_, Some(_), None) => Err(AppError::invalid("to", "is required with from")),
            (_, None, Some(_)) => Err(AppError::invalid("from", "is required with to")),
            (p, None, None) => {
                let name = p.unwrap_or("this_month").to_string();
                let (from, to) = period_range(&name, today)?;
                Ok(StatusPeriod { name, from, to, tz })
            }
        }
    }
}

/// Targets with their evaluation over a period, and the previous period's days.
pub struct Statuses {
    pub period: StatusPeriod,
    pub previous: (NaiveDate, NaiveDate),
    pub items: Vec<(Target, Evaluation)>,
}

/// Computes the status of `targets` over `period`: for each scope shape one report over
/// the period and one over the previous period of the same length, by the report engine.
pub async fn statuses(
    store: &dyn Store,
    targets: Vec<Target>,
    period: &StatusPeriod,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Statuses, AppError> {
    let mut shapes: BTreeMap<Vec<Dim>, Vec<MetricGroup>> = BTreeMap::new();
    for t in &targets {
        let fams = shapes.entry(t.def.scope.dims()).or_default();
        if !fams.contains(&t.def.family()) {
            fams.push(t.def.family());
        }
    }
    let tz = period.tz.name();
    // The period itself is checked (and its previous period found) even without targets.
    let base = TargetDef::report_params(&[], &[MetricGroup::Volume], period.from, period.to, tz);
    let previous = ReportRequest::parse(&base, now)?.previous()?;
    let mut reports: BTreeMap<Vec<Dim>, (Report, Report)> = BTreeMap::new();
    for (dims, mut fams) in shapes {
        fams.sort();
        let p = TargetDef::report_params(&dims, &fams, period.from, period.to, tz);
        let req = ReportRequest::parse(&p, now)?;
        let (pf, pt) = req.previous()?;
        let pp = TargetDef::report_params(&dims, &fams, pf, pt, tz);
        let preq = ReportRequest::parse(&pp, now)?;
        let (cur, prev) = futures::try_join!(
            tend_store::metrics::run_report(store, &req),
            tend_store::metrics::run_report(store, &preq),
        )?;
        reports.insert(dims, (cur, prev));
    }
    let items = targets
        .into_iter()
        .map(|t| {
            let e = match reports.get(&t.def.scope.dims()) {
                Some((cur, prev)) => evaluate(&t.def, t.def.value_in(cur), t.def.value_in(prev)),
                None => evaluate(&t.def, None, None),
            };
            (t, e)
        })
        .collect();
    Ok(Statuses {
        period: period.clone(),
        previous,
        items,
    })
}

/// The JSON of one evaluation.
pub fn evaluation_json(t: &Target, e: &Evaluation) -> Value {
    let mut v = target_json(t);
    if let Value::Object(m) = &mut v {
        let num = |x: Option<tend_core::report::Value>| x.map_or(Value::Null, |x| x.to_json());
        m.insert("status".into(), e.status.as_str().into());
        m.insert("value".into(), num(e.value));
        m.insert("previous_value".into(), num(e.previous));
        m.insert("previous_status".into(), e.previous_status.as_str().into());
        m.insert("change".into(), json!(e.change));
        m.insert("trend".into(), json!(e.trend.map(|t| t.as_str())));
    }
    v
}

fn query_pairs(raw: Option<&str>, allowed: &[&str]) -> Result<BTreeMap<String, String>, AppError> {
    let mut out = BTreeMap::new();
    for (k, v) in form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
        if !allowed.contains(&k.as_ref()) {
            return Err(AppError::invalid(
                tend_core::truncate_for_message(&k),
                format!("is not a parameter here; use: {}", allowed.join(", ")),
            ));
        }
        if out.insert(k.to_string(), v.trim().to_string()).is_some() {
            return Err(AppError::invalid(k.to_string(), "is given twice"));
        }
    }
    Ok(out)
}

/// `GET /targets/status?period=this_month|…&tz=` or `?from=&to=&tz=` (any agent).
pub async fn status(
    State(s): State<AppState>,
    Auth(_v): Auth,
    RawQuery(q): RawQuery,
) -> ApiResult<axum::Json<Value>> {
    let p = query_pairs(q.as_deref(), &["period", "from", "to", "tz"])?;
    let g = |k: &str| p.get(k).map(String::as_str).filter(|v| !v.is_empty());
    let period = StatusPeriod::parse(g("period"), g("from"), g("to"), g("tz"), s.now())?;
    let targets: Vec<Target> = s
        .store
        .list_targets()
        .await?
        .into_iter()
        .filter(|t| t.def.active)
        .collect();
    let st = statuses(&*s.store, targets, &period, s.now()).await?;
    Ok(axum::Json(json!({
        "period": st.period.name,
        "from": st.period.from.to_string(),
        "to": st.period.to.to_string(),
        "tz": st.period.tz.name(),
        "previous_from": st.previous.0.to_string(),
        "previous_to": st.previous.1.to_string(),
        "items": st.items.iter().map(|(t, e)| evaluation_json(t, e)).collect::<Vec<_>>(),
    })))
}
