//! `GET /api/v1/reports/tickets`: ticket metrics from the roll-ups, as JSON or (with
//! `format=csv`) as a streamed CSV. The reports page renders the same [`Report`] (one
//! engine: `tend_store::metrics::run_report` over `tend_core::report`), so the page, the
//! CSV and the JSON show the same numbers.

use crate::error::{ApiResult, AppError};
use crate::extract::{require_supervisor, Auth};
use crate::AppState;
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};
use tend_core::report::{
    csv_header, csv_line, Dim, Report, ReportParams, ReportRequest, ReportRow,
};

/// Reads the query string: report parameters plus `format`.
pub fn parse_query(raw: Option<&str>) -> Result<(ReportParams, Option<String>), AppError> {
    let pairs: Vec<(String, String)> = form_urlencoded::parse(raw.unwrap_or("").as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let format = pairs
        .iter()
        .find(|(k, _)| k == "format")
        .map(|(_, v)| v.trim().to_string())
        .filter(|v| !v.is_empty());
    if pairs.iter().filter(|(k, _)| k == "format").count() > 1 {
        return Err(AppError::invalid("format", "is given twice"));
    }
    let params = ReportParams::from_pairs(
        pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        &["format"],
    )?;
    Ok((params, format))
}

/// Computes a report for a supervisor or admin.
pub async fn report(s: &AppState, params: &ReportParams) -> Result<Report, AppError> {
    let req = ReportRequest::parse(params, s.now())?;
    Ok(tend_store::metrics::run_report(&*s.store, &req).await?)
}

fn group_json(dims: &[Dim], row: &ReportRow) -> Value {
    let mut m = Map::new();
    for (d, v) in dims.iter().zip(&row.group) {
        let value = match v {
            None => Value::Null,
            Some(v) if d.is_id() => v.parse::<i64>().map(Value::from).unwrap_or(Value::Null),
            Some(v) => Value::String(v.clone()),
        };
        m.insert(d.key().to_string(), value);
    }
    Value::Object(m)
}

fn values_json(r: &Report, values: &[Option<tend_core::report::Value>]) -> Value {
    let mut m = Map::new();
    for (c, v) in r.columns.iter().zip(values) {
        m.insert(
            c.key.to_string(),
            v.map_or(Value::Null, tend_core::report::Value::to_json),
        );
    }
    Value::Object(m)
}

fn row_json(r: &Report, row: &ReportRow) -> Value {
    json!({
        "period": row.period,
        "first_day": row.first_day.to_string(),
        "last_day": row.last_day.to_string(),
        "start": row.start,
        "end": row.end,
        "group": group_json(&r.request.group_by, row),
        "values": values_json(r, &row.values),
    })
}

/// The JSON form of a report.
pub fn report_json(r: &Report) -> Value {
    let q = &r.request;
    let f = &q.filters;
    json!({
        "from": q.from.to_string(),
        "to": q.to.to_string(),
        "tz": q.tz.name(),
        "interval": q.interval.as_str(),
        "group_by": q.group_by.iter().map(|d| d.as_str()).collect::<Vec<_>>(),
        "metrics": q.metrics.iter().map(|m| m.as_str()).collect::<Vec<_>>(),
        "filters": {
            "channel": f.channel, "priority": f.priority, "group_id": f.group_id,
            "brand_id": f.brand_id, "assignee_id": f.assignee_id,
        },
        "columns": r.columns.iter().map(|c| json!({
            "key": c.key, "label": c.label, "unit": c.unit.as_str(),
            "family": c.group.as_str(), "definition": c.definition,
        })).collect::<Vec<_>>(),
        "rows": r.rows.iter().map(|row| row_json(r, row)).collect::<Vec<_>>(),
        "groups": r.groups.iter().map(|row| row_json(r, row)).collect::<Vec<_>>(),
        "total": row_json(r, &r.total),
        "previous": row_json(r, &r.previous),
        "change": values_json(r, &r.change()),
        "notes": r.notes,
    })
}

/// The CSV form, as lines: the header, every row, the per-group totals (period `total`),
/// the total and the previous range (period `previous`).
pub fn csv_lines(r: &Report) -> Vec<String> {
    let mut out = Vec::with_capacity(r.rows.len() + r.groups.len() + 3);
    out.push(csv_header(r));
    out.extend(r.rows.iter().map(csv_line));
    out.extend(r.groups.iter().map(csv_line));
    out.push(csv_line(&r.total));
    out.push(csv_line(&r.previous));
    out
}

/// A streamed CSV download of a report.
pub fn csv_response(r: &Report) -> Response {
    let name = format!("tickets-{}-{}.csv", r.request.from, r.request.to);
    let chunks: Vec<Result<String, std::convert::Infallible>> =
        csv_lines(r).chunks(256).map(|c| Ok(c.concat())).collect();
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        Body::from_stream(futures::stream::iter(chunks)),
    )
        .into_response()
}

/// `GET /reports/tickets?from=&to=&tz=&interval=&group_by=&metrics=&channel=&priority=&group_id=&brand_id=&assignee_id=&format=json|csv`
pub async fn tickets(
    State(s): State<AppState>,
    Auth(v): Auth,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    require_supervisor(&v)?;
    let (params, format) = parse_query(q.as_deref())?;
    let csv = match format.as_deref() {
        None | Some("json") => false,
        Some("csv") => true,
        Some(f) => {
            return Err(AppError::invalid(
                "format",
                format!(
                    "'{}' is not one of: json, csv",
                    tend_core::truncate_for_message(f)
                ),
            ))
        }
    };
    let r = report(&s, &params).await?;
    Ok(if csv {
        csv_response(&r)
    } else {
        axum::Json(report_json(&r)).into_response()
    })
}
