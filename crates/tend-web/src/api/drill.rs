//! Drill-down: the tickets behind a report number. `GET /api/v1/reports/drill?metric=&from=&to=&tz=&channel=&priority=&group_id=&brand_id=&assignee_id=&limit=&cursor=`
//! (supervisors and admins, like the reports) and the page `/reports/drill` list the
//! tickets whose metric row puts them in the number: created in the period (`created`),
//! first reply in it (`frt_*`), first solve (`first_resolution_*`), or last solve and solved
//! now (`solved_tickets`, FCR, one-touch, reopen rate, replies per ticket,
//! `full_resolution_*`). Dimensions are the ticket's current ones, as in the reports.
//! Newest first, keyset pagination on (time, id).

use crate::error::{ApiResult, AppError};
use crate::extract::{require_supervisor, Auth};
use crate::AppState;
use axum::extract::{RawQuery, State};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use tend_core::report::{ReportParams, ReportRequest};
use tend_core::{Ticket, Viewer};
use tend_store::metrics::{DrillOn, DrillQuery};

/// Which rows list a report column, if any (only columns the report engine knows).
pub fn drill_on(key: &str) -> Option<DrillOn> {
    tend_core::report::metric(key)?;
    Some(match key {
        "created" => DrillOn::Created,
        k if k.starts_with("frt_") => DrillOn::FirstResponse,
        k if k.starts_with("first_resolution_") => DrillOn::FirstSolved,
        k if k.starts_with("full_resolution_") => DrillOn::Solved,
        "solved_tickets" | "fcr_rate" | "fcr_tickets" | "fcr_resolved" | "one_touch_rate"
        | "reopen_rate" | "replies_per_ticket" => DrillOn::Solved,
        _ => return None,
    })
}

pub struct Drill {
    pub metric: String,
    pub params: ReportParams,
    pub tickets: Vec<(Ticket, DateTime<Utc>)>,
    pub next_cursor: Option<String>,
}

fn cursor(raw: &str) -> Result<(DateTime<Utc>, i64), AppError> {
    let bad = || AppError::invalid("cursor", "is not one this list gave out");
    let (t, id) = raw.split_once('.').ok_or_else(bad)?;
    let t = DateTime::from_timestamp_micros(t.parse().map_err(|_| bad())?).ok_or_else(bad)?;
    Ok((t, id.parse().map_err(|_| bad())?))
}

/// Reads the query and lists one page.
pub async fn drill(s: &AppState, viewer: &Viewer, raw: Option<&str>) -> Result<Drill, AppError> {
    require_supervisor(viewer)?;
    let pairs: Vec<(String, String)> = form_urlencoded::parse(raw.unwrap_or("").as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let one = |name: &str| -> Result<Option<String>, AppError> {
        let mut it = pairs.iter().filter(|(k, _)| k == name);
        let v = it.next().map(|(_, v)| v.trim().to_string());
        if it.next().is_some() {
            return Err(AppError::invalid(name, "is given twice"));
        }
        Ok(v.filter(|v| !v.is_empty()))
    };
    let metric = one("metric")?.ok_or_else(|| AppError::invalid("metric", "is required"))?;
    let on = drill_on(&metric).ok_or_else(|| {
        AppError::invalid(
            "metric",
            format!(
                "'{}' has no ticket list; use created, frt_*, first_resolution_*, full_resolution_*, solved_tickets, fcr_rate, one_touch_rate, reopen_rate or replies_per_ticket",
                tend_core::truncate_for_message(&metric)
            ),
        )
    })?;
    let limit = crate::api::check_limit(
        one("limit")?
            .map(|l| l.parse::<i64>())
            .transpose()
            .map_err(|_| AppError::invalid("limit", "is not a number"))?,
    )?;
    let after = one("cursor")?.map(|c| cursor(&c)).transpose()?;
    let params = ReportParams::from_pairs(
        pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        &["metric", "limit", "cursor"],
    )?;
    let mut p = params.clone();
    p.metrics = Some("volume".into());
    p.group_by = None;
    p.interval = None;
    let req = ReportRequest::parse(&p, s.now())?;
    let plan = req.plan()?;
    let rows = s
        .store
        .metric_drill(DrillQuery {
            on,
            from: plan.start(),
            to: plan.end(),
            filters: req.filters.clone(),
            after,
            limit: limit + 1,
        })
        .await?;
    let more = rows.len() as i64 > limit;
    let rows: Vec<_> = rows.into_iter().take(limit as usize).collect();
    let next_cursor = more
        .then(|| rows.last())
        .flatten()
        .map(|r| format!("{}.{}", r.at.timestamp_micros(), r.ticket_id));
    let mut tickets = Vec::with_capacity(rows.len());
    for r in rows {
        match s.store.get_ticket(r.ticket_id, viewer).await {
            Ok(t) => tickets.push((t, r.at)),
            Err(tend_store::StoreError::NotFound(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(Drill {
        metric,
        params,
        tickets,
        next_cursor,
    })
}

/// `GET /reports/drill` (JSON).
pub async fn list(
    State(s): State<AppState>,
    Auth(v): Auth,
    RawQuery(q): RawQuery,
) -> ApiResult<axum::Json<Value>> {
    let d = drill(&s, &v, q.as_deref()).await?;
    Ok(axum::Json(json!({
        "metric": d.metric,
        "items": d.tickets.iter().map(|(t, at)| json!({
            "ticket_id": t.id, "at": at, "subject": t.subject, "status": t.status,
            "priority": t.priority, "channel": t.channel, "group_id": t.group_id,
            "assignee_id": t.assignee_id, "brand_id": t.brand_id,
        })).collect::<Vec<_>>(),
        "next_cursor": d.next_cursor,
    })))
}
