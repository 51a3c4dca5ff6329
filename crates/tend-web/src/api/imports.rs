//! POST /api/v1/imports: tickets with their history as JSON Lines (application/x-ndjson).
//! Every line is validated first; one bad line rejects the request with every error found
//! (line, field, message) and nothing is written. Records already imported are skipped.

use crate::error::{ApiResult, AppError};
use crate::extract::{require_admin, Auth};
use crate::AppState;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use tend_core::import::ImportRecord;

pub const BATCH: usize = 2000;

#[derive(Debug, Serialize)]
pub struct LineError {
    pub line: usize,
    pub field: String,
    pub message: String,
}

/// Parses every line; returns the records or up to 100 errors.
pub fn parse_lines(text: &str) -> Result<Vec<ImportRecord>, Vec<LineError>> {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match ImportRecord::parse_line(line) {
            Ok(r) => out.push(r),
            Err(e) => {
                errors.push(LineError {
                    line: i + 1,
                    field: e.field,
                    message: e.message,
                });
                if errors.len() >= 100 {
                    break;
                }
            }
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

pub async fn import(
    State(s): State<AppState>,
    Auth(v): Auth,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    require_admin(&v)?;
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !ct.starts_with("application/x-ndjson") && !ct.starts_with("application/jsonl") {
        return Err(AppError::UnsupportedMediaType(
            "send JSON Lines with Content-Type: application/x-ndjson (one ticket per line)".into(),
        ));
    }
    let text = std::str::from_utf8(&body).map_err(|e| {
        AppError::BadRequest(format!("the body is not UTF-8 (byte {})", e.valid_up_to()))
    })?;
    let records = match parse_lines(text) {
        Ok(r) => r,
        Err(errors) => {
            let first = &errors[0];
            let body = serde_json::json!({
                "type": "https://tend.dev/problems/invalid-import",
                "title": "Unprocessable Entity",
                "status": 422,
                "detail": format!("line {}: {}: {} ({} bad line(s) shown; nothing was imported)", first.line, first.field, first.message, errors.len()),
                "errors": errors,
            });
            let mut resp = (StatusCode::UNPROCESSABLE_ENTITY, axum::Json(body)).into_response();
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/problem+json"),
            );
            return Ok(resp);
        }
    };
    let mut total = tend_store::ImportOutcome::default();
    let mut iter = records.into_iter().peekable();
    while iter.peek().is_some() {
        let batch: Vec<ImportRecord> = iter.by_ref().take(BATCH).collect();
        let o = s.store.import(batch, s.now()).await?;
        total.created += o.created;
        total.skipped += o.skipped;
    }
    Ok((StatusCode::OK, axum::Json(total)).into_response())
}
