//! Kiosk mode: a full-screen survey page for a shop counter or tablet that keeps working
//! offline.
//!
//! - **Admin**: `POST /api/v1/surveys/{id}/kiosks` makes a kiosk and answers its URL
//!   `/kiosk/{id}.{secret}` once (256 random bits; only the SHA-256 of the secret is stored,
//!   found by the kiosk id and compared in constant time). `GET` lists a survey's kiosks,
//!   `DELETE …/kiosks/{kiosk_id}` revokes one: its page and sync answer 410 from then on.
//! - **Page** `GET /kiosk/{token}`: the question as big buttons (keyboard: Tab/arrows and
//!   Enter), then a thank-you screen that resets after a few seconds. `kiosk.js` registers the
//!   service worker `/kiosk/sw.js` (scope `/kiosk/`, allowed by `Service-Worker-Allowed`), which
//!   serves the page and its assets from its cache when the network fails.
//! - **Answers** go into a local queue (localStorage), each with a UUID made on the page, and are
//!   sent by `POST /kiosk/{token}/answers` in batches of at most [`KIOSK_BATCH_MAX`] on load,
//!   on the `online` event, after each answer and on a backoff timer. The store keeps one
//!   answer per (kiosk, UUID): a replayed or overlapping batch stores nothing twice. Each item
//!   gets its own outcome (`stored`, `duplicate`, or `rejected` with a reason, e.g. a score out
//!   of range) and the valid rest of the batch is stored.

use super::{labels, localized, COMMENT_MAX};
use crate::error::{ApiResult, AppError};
use crate::extract::{require_admin, Auth, Id, Json};
use crate::ui::render;
use crate::AppState;
use askama::Template;
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::Router;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tend_core::Actor;
use tend_store::survey::*;
use tend_store::StoreError;

const SW_JS: &str = include_str!("kiosk_sw.js");
const KIOSK_JS: &str = include_str!("kiosk.js");
const KIOSK_CSS: &str = include_str!("kiosk.css");

pub fn router() -> Router<AppState> {
    let pages = Router::new()
        .route("/kiosk/sw.js", get(service_worker))
        .route("/kiosk/assets/kiosk.js", get(script))
        .route("/kiosk/assets/kiosk.css", get(style))
        .route("/kiosk/{token}", get(page))
        .route("/kiosk/{token}/answers", post(answers))
        .layer(axum::middleware::from_fn(kiosk_headers));
    Router::new()
        .route(
            "/api/v1/surveys/{id}/kiosks",
            get(list_kiosks).post(create_kiosk),
        )
        .route(
            "/api/v1/surveys/{id}/kiosks/{kiosk_id}",
            delete(revoke_kiosk),
        )
        .merge(pages)
}

/// Like the other customer pages, but scripts from this origin may run, fetch and install
/// the service worker. No inline script or style; no framing.
async fn kiosk_headers(req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    crate::ui::page_headers(
        h,
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; worker-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'",
        "no-referrer",
    );
    // An embedded kiosk's page may be framed by the sites it was made for (and only them).
    if let Some(FrameAncestors(list)) = resp.extensions().get::<FrameAncestors>().cloned() {
        let csp = format!("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; worker-src 'self'; form-action 'none'; frame-ancestors {list}; base-uri 'none'");
        let h = resp.headers_mut();
        if let Ok(v) = HeaderValue::from_str(&csp) {
            h.insert(header::CONTENT_SECURITY_POLICY, v);
            h.remove("x-frame-options");
        }
    }
    let h = resp.headers_mut();
    // Revalidate every time; offline, the service worker's cache answers.
    h.entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-cache"));
    resp
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}

async fn service_worker() -> Response {
    let mut r = asset("text/javascript; charset=utf-8", SW_JS);
    r.headers_mut().insert(
        "service-worker-allowed",
        HeaderValue::from_static("/kiosk/"),
    );
    r
}

async fn script() -> Response {
    asset("text/javascript; charset=utf-8", KIOSK_JS)
}

async fn style() -> Response {
    asset("text/css; charset=utf-8", KIOSK_CSS)
}

// --- tokens ------------------------------------------------------------------------------

/// A new kiosk secret (256 bits, URL-safe) and its SHA-256.
pub fn new_secret() -> (String, Vec<u8>) {
    let secret = super::generate_token();
    let hash = Sha256::digest(secret.as_bytes()).to_vec();
    (secret, hash)
}

/// The kiosk a `{id}.{secret}` token opens, if the secret's SHA-256 matches (compared in
/// constant time). Revoked kiosks are returned too; the caller says "revoked".
async fn kiosk_by_token(s: &AppState, token: &str) -> Result<Option<KioskView>, AppError> {
    let Some((id, secret)) = token.split_once('.') else {
        return Ok(None);
    };
    let Ok(id) = id.parse::<i64>() else {
        return Ok(None);
    };
    if secret.is_empty() || secret.len() > 100 {
        return Ok(None);
    }
    let Some(view) = s.store.survey_kiosk(id).await? else {
        return Ok(None);
    };
    let hash = Sha256::digest(secret.as_bytes());
    let same: bool = view
        .kiosk
        .token_hash
        .as_slice()
        .ct_eq(hash.as_slice())
        .into();
    Ok(same.then_some(view))
}

// --- admin API -----------------------------------------------------------------------------

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KioskIn {
    name: String,
    /// The group the answers count for (e.g. the shop's team).
    group_id: Option<i64>,
    /// Sites that may show the kiosk page in an iframe (a web embed): `https://host[:port]`.
    #[serde(default)]
    embed_origins: Vec<String>,
}

/// Most origins one kiosk may be embedded in.
pub const EMBED_ORIGINS_MAX: usize = 10;

/// An origin for `frame-ancestors`: `http(s)://host[:port]`, lower-cased, nothing after it
/// (no path, query, user or wildcard). `Err` says what is wrong.
pub fn parse_origin(raw: &str) -> Result<String, String> {
    let s = raw.trim().trim_end_matches('/').to_ascii_lowercase();
    let rest = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))
        .ok_or("must start with https:// (or http://)")?;
    let (host, port) = match rest.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (rest, None),
    };
    let host_ok = !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    if !host_ok {
        return Err("must be a scheme and a host name, e.g. https://shop.example (no path)".into());
    }
    if let Some(p) = port {
        if p.parse::<u16>().map_or(true, |n| n == 0) {
            return Err("the port must be a number from 1 to 65535".into());
        }
    }
    Ok(s)
}

fn kiosk_json(k: &SurveyKiosk) -> Value {
    json!({
        "id": k.id,
        "survey_id": k.survey_id,
        "name": k.name,
        "group_id": k.group_id,
        "embed_origins": k.embed_origins,
        "created_at": k.created_at,
        "revoked_at": k.revoked_at,
    })
}

/// The `frame-ancestors` a kiosk page allows, set by the page and read by the headers layer.
#[derive(Clone)]
struct FrameAncestors(String);

async fn survey_exists(s: &AppState, id: i64) -> Result<Survey, AppError> {
    match s.store.get_survey(id).await {
        Ok(v) => Ok(v),
        Err(StoreError::NotFound(_)) => Err(AppError::not_found("survey")),
        Err(e) => Err(e.into()),
    }
}

/// `POST /api/v1/surveys/{id}/kiosks {"name", "group_id"?}` → the kiosk and its URL (shown once).
pub async fn create_kiosk(
    State(s): State<AppState>,
    Auth(v): Auth,
    Id(id): Id,
    Json(b): Json<KioskIn>,
) -> ApiResult<(StatusCode, axum::Json<Value>)> {
    require_admin(&v)?;
    survey_exists(&s, id).await?;
    let name = tend_core::parse_line("name", &b.name, tend_core::limits::NAME_MAX)?;
    if let Some(g) = b.group_id {
        if !s.store.list_groups().await?.iter().any(|x| x.id == g) {
            return Err(AppError::invalid("group_id", format!("no group {g}")));
        }
    }
    if b.embed_origins.len() > EMBED_ORIGINS_MAX {
        return Err(AppError::invalid(
            "embed_origins",
            format!("at most {EMBED_ORIGINS_MAX} sites"),
        ));
    }
    let mut embed_origins = Vec::new();
    for (i, o) in b.embed_origins.iter().enumerate() {
        let o = parse_origin(o).map_err(|m| AppError::invalid(format!("embed_origins[{i}]"), m))?;
        if !embed_origins.contains(&o) {
            embed_origins.push(o);
        }
    }
    let (secret, token_hash) = new_secret();
    let kiosk = s
        .store
        .create_survey_kiosk(
            NewKiosk {
                survey_id: id,
                name,
                group_id: b.group_id,
                embed_origins,
                token_hash,
            },
            Actor::agent(v.agent_id),
            s.now(),
        )
        .await?;
    let path = format!("/kiosk/{}.{secret}", kiosk.id);
    let mut out = kiosk_json(&kiosk);
    out["path"] = json!(path);
    let url = format!("{}{path}", s.mail.base_url.trim_end_matches('/'));
    if !kiosk.embed_origins.is_empty() {
        out["embed_html"] = json!(format!(
            "<iframe src=\"{url}\" title=\"{}\" style=\"width:100%;height:480px;border:0\" loading=\"lazy\"></iframe>",
            super::esc(&kiosk.name)
        ));
    }
    out["url"] = json!(url);
    Ok((StatusCode::CREATED, axum::Json(out)))
}

/// `GET /api/v1/surveys/{id}/kiosks` (without their secrets).
pub async fn list_kiosks(
    State(s): State<AppState>,
    Auth(v): Auth,
    Id(id): Id,
) -> ApiResult<axum::Json<Value>> {
    require_admin(&v)?;
    survey_exists(&s, id).await?;
    let items: Vec<Value> = s
        .store
        .survey_kiosks(id)
        .await?
        .iter()
        .map(kiosk_json)
        .collect();
    Ok(axum::Json(json!({ "items": items })))
}

/// `DELETE /api/v1/surveys/{id}/kiosks/{kiosk_id}`: revokes (idempotent).
pub async fn revoke_kiosk(
    State(s): State<AppState>,
    Auth(v): Auth,
    Path((id, kiosk_id)): Path<(String, String)>,
) -> ApiResult<axum::Json<Value>> {
    require_admin(&v)?;
    // Non-numeric ids name nothing: 404 like an unknown one.
    let (Ok(id), Ok(kiosk_id)) = (id.parse::<i64>(), kiosk_id.parse::<i64>()) else {
        return Err(AppError::not_found("kiosk"));
    };
    let k = match s
        .store
        .revoke_survey_kiosk(id, kiosk_id, Actor::agent(v.agent_id), s.now())
        .await
    {
        Ok(k) => k,
        Err(StoreError::NotFound(_)) => return Err(AppError::not_found("kiosk")),
        Err(e) => return Err(e.into()),
    };
    Ok(axum::Json(kiosk_json(&k)))
}

// --- the page ------------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "survey_kiosk.html")]
struct KioskPage {
    token: String,
    name: String,
    question: String,
    scores: Vec<u8>,
    lo_label: &'static str,
    hi_label: &'static str,
}

#[derive(Template)]
#[template(path = "survey_message.html")]
struct KioskMessage {
    title: String,
    message: String,
}

fn gone(revoked: bool) -> Response {
    let (status, message) = if revoked {
        (
            StatusCode::GONE,
            "This kiosk was switched off by an administrator.",
        )
    } else {
        (
            StatusCode::NOT_FOUND,
            "This kiosk link is not valid. Ask an administrator for a new one.",
        )
    };
    let mut r = render(&KioskMessage {
        title: "Kiosk not available".into(),
        message: message.into(),
    });
    *r.status_mut() = status;
    r
}

async fn page(State(s): State<AppState>, Path(token): Path<String>) -> Result<Response, AppError> {
    let Some(view) = kiosk_by_token(&s, &token).await? else {
        return Ok(gone(false));
    };
    if view.kiosk.revoked_at.is_some() {
        return Ok(gone(true));
    }
    let (lo, hi) = view.survey.range();
    let (lo_label, hi_label) = labels(&view.survey);
    let origins = view.kiosk.embed_origins.clone();
    let mut page = render(&KioskPage {
        token,
        name: view.kiosk.name.clone(),
        question: localized(&view.survey.question, None).to_string(),
        scores: (lo..=hi).collect(),
        lo_label,
        hi_label,
    });
    if !origins.is_empty() {
        page.extensions_mut()
            .insert(FrameAncestors(origins.join(" ")));
    }
    Ok(page)
}

// --- sync ----------------------------------------------------------------------------------

#[derive(Debug, Deserialize)]
pub struct Batch {
    answers: Vec<Value>,
}

/// A UUID in its text form (any version), lower-cased.
fn uuid(v: &Value) -> Option<String> {
    let s = v.as_str()?;
    let ok = s.len() == 36
        && s.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        });
    ok.then(|| s.to_ascii_lowercase())
}

/// Checks one queued answer: `Err(reason)` rejects it.
fn check_item(
    item: &Value,
    survey: &Survey,
    created: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<KioskAnswer, String> {
    if !item.is_object() {
        return Err("an answer must be an object".into());
    }
    let client_id = uuid(&item["client_id"])
        .ok_or("client_id must be a UUID (e.g. from crypto.randomUUID())")?;
    let (lo, hi) = survey.range();
    let score = item["score"]
        .as_i64()
        .ok_or(format!("score must be a whole number from {lo} to {hi}"))?;
    if !(i64::from(lo)..=i64::from(hi)).contains(&score) {
        return Err(format!("score {score} is out of range: {lo} to {hi}"));
    }
    let comment = match &item["comment"] {
        Value::Null => String::new(),
        Value::String(c) if c.chars().count() <= COMMENT_MAX => c.trim().to_string(),
        Value::String(_) => return Err(format!("comment is longer than {COMMENT_MAX} characters")),
        _ => return Err("comment must be text".into()),
    };
    let at = match &item["answered_at"] {
        Value::Null => now,
        Value::String(t) => DateTime::parse_from_rfc3339(t)
            .map_err(|_| "answered_at must be an RFC 3339 time".to_string())?
            .with_timezone(&Utc),
        _ => return Err("answered_at must be an RFC 3339 time".into()),
    };
    // A tablet's clock may be off: counted no earlier than the kiosk existed, and no later
    // than now.
    let answered_at = at.min(now).max(created.min(now));
    Ok(KioskAnswer {
        client_id,
        score: score as u8,
        comment,
        answered_at,
    })
}

fn sync_error(status: StatusCode, error: &str, detail: &str) -> Response {
    (
        status,
        axum::Json(json!({ "error": error, "detail": detail })),
    )
        .into_response()
}

/// `POST /kiosk/{token}/answers {"answers": [{"client_id", "score", "answered_at"?, "comment"?}]}`
/// → one outcome per answer, in order.
async fn answers(
    State(s): State<AppState>,
    Path(token): Path<String>,
    Json(b): Json<Batch>,
) -> Result<Response, AppError> {
    let Some(view) = kiosk_by_token(&s, &token).await? else {
        return Ok(sync_error(
            StatusCode::NOT_FOUND,
            "unknown_kiosk",
            "This kiosk link is not valid.",
        ));
    };
    if view.kiosk.revoked_at.is_some() {
        return Ok(sync_error(
            StatusCode::GONE,
            "revoked",
            "This kiosk was switched off; nothing was stored.",
        ));
    }
    if b.answers.len() > KIOSK_BATCH_MAX {
        return Ok(sync_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "batch_too_large",
            &format!(
                "send at most {KIOSK_BATCH_MAX} answers per request (got {})",
                b.answers.len()
            ),
        ));
    }
    let now = s.now();
    let mut results: Vec<Value> = Vec::with_capacity(b.answers.len());
    let mut valid = Vec::new();
    let mut slots = Vec::new();
    for item in &b.answers {
        match check_item(item, &view.survey, view.kiosk.created_at, now) {
            Ok(a) => {
                slots.push(results.len());
                results.push(json!({ "client_id": a.client_id }));
                valid.push(a);
            }
            Err(reason) => results.push(json!({
                "client_id": item.get("client_id").cloned().unwrap_or(Value::Null),
                "status": "rejected",
                "reason": reason,
            })),
        }
    }
    let stored = if valid.is_empty() {
        vec![]
    } else {
        match s
            .store
            .record_kiosk_answers(view.kiosk.id, valid, now)
            .await?
        {
            KioskBatch::Stored(v) => v,
            KioskBatch::Revoked => {
                return Ok(sync_error(
                    StatusCode::GONE,
                    "revoked",
                    "This kiosk was switched off; nothing was stored.",
                ));
            }
        }
    };
    let (mut n_stored, mut n_dup) = (0, 0);
    for (slot, new) in slots.into_iter().zip(stored) {
        let status = if new {
            n_stored += 1;
            "stored"
        } else {
            n_dup += 1;
            "duplicate"
        };
        results[slot]["status"] = json!(status);
    }
    let rejected = results.len() - n_stored - n_dup;
    Ok(axum::Json(json!({
        "stored": n_stored,
        "duplicates": n_dup,
        "rejected": rejected,
        "results": results,
    }))
    .into_response())
}

#[cfg(test)]
mod tests {

    #[test]
    fn embed_origins_are_scheme_host_and_port_only() {
        assert_eq!(
            super::parse_origin(" https://Shop.Example/ ").unwrap(),
            "https://shop.example"
        );
        assert_eq!(
            super::parse_origin("http://localhost:8081").unwrap(),
            "http://localhost:8081"
        );
        for bad in [
            "shop.example",
            "https://",
            "https://shop.example/page",
            "https://*.example",
            "https://user@shop.example",
            "https://shop.example:0",
            "https://shop.example:99999",
            "javascript:alert(1)",
            "https://shop.example?x=1",
            "https://shop..example",
            "https://shop.example 'unsafe-inline'",
        ] {
            assert!(super::parse_origin(bad).is_err(), "{bad}");
        }
    }

    use super::*;

    #[test]
    fn uuids_are_checked_and_lower_cased() {
        assert_eq!(
            uuid(&json!("0F8FAD5B-D9CB-469F-A165-70867728950E")).as_deref(),
            Some("0f8fad5b-d9cb-469f-a165-70867728950e")
        );
        assert!(uuid(&json!("0f8fad5b-d9cb-469f-a165-70867728950")).is_none());
        assert!(uuid(&json!("0f8fad5bxd9cb-469f-a165-70867728950e")).is_none());
        assert!(uuid(&json!(12)).is_none());
    }
}
