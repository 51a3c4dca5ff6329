//! Extractors whose every rejection is a problem+json with a message that says what to fix.

use crate::error::AppError;
use crate::AppState;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use serde::de::DeserializeOwned;
use tend_core::Viewer;

/// A JSON body. Malformed JSON → 400; a field of the wrong type, unknown or missing → 422
/// naming the field; not JSON → 415; too large → 413.
pub struct Json<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Json<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let ct = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let mime = ct
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if mime != "application/json"
            && !(mime.starts_with("application/") && mime.ends_with("+json"))
        {
            return Err(AppError::UnsupportedMediaType(
                "send the body as JSON with Content-Type: application/json".into(),
            ));
        }
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| {
                if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                    AppError::PayloadTooLarge("the request body is too large".into())
                } else {
                    AppError::BadRequest(format!("could not read the body: {}", e.body_text()))
                }
            })?;
        parse_json(&bytes).map(Json)
    }
}

/// Parses JSON with the path of the offending field in the error.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, AppError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        match inner.classify() {
            serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
                AppError::BadRequest(format!("malformed JSON: {inner}"))
            }
            _ => {
                let msg = strip_position(&inner.to_string());
                let field = if path == "." {
                    field_in(&msg).unwrap_or_else(|| "body".into())
                } else {
                    path
                };
                AppError::Invalid {
                    field,
                    message: msg,
                }
            }
        }
    })
}

fn strip_position(msg: &str) -> String {
    match msg.find(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

fn field_in(msg: &str) -> Option<String> {
    let start = msg.find('`')?;
    let len = msg[start + 1..].find('`')?;
    Some(msg[start + 1..start + 1 + len].to_string())
}

/// Query string parameters; a bad one → 400 saying which.
pub struct Query<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let q = parts.uri.query().unwrap_or("");
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(q.as_bytes()));
        serde_path_to_error::deserialize(de)
            .map(Query)
            .map_err(|e| {
                let path = e.path().to_string();
                AppError::BadRequest(format!("query parameter {path}: {}", e.into_inner()))
            })
    }
}

/// A numeric id from the path; anything else → 404 (there is no such thing).
pub struct Id(pub i64);

impl<S: Send + Sync> FromRequestParts<S> for Id {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let axum::extract::Path(raw): axum::extract::Path<String> =
            axum::extract::Path::from_request_parts(parts, state)
                .await
                .map_err(|_| AppError::NotFound("resource".into()))?;
        raw.parse::<i64>()
            .ok()
            .filter(|i| *i > 0)
            .map(Id)
            .ok_or_else(|| {
                AppError::NotFound(format!("id '{}'", tend_core::truncate_for_message(&raw)))
            })
    }
}

/// The authenticated agent behind `Authorization: Bearer <token>`.
pub struct Auth(pub Viewer);

impl FromRequestParts<AppState> for Auth {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = bearer(&parts.headers).ok_or_else(|| AppError::Unauthorized("send an API token as 'Authorization: Bearer <token>' (create one with `tend token create --email you@example.com`)".into()))?;
        let viewer = state.auth.viewer_for_token(&*state.store, token).await?;
        viewer.map(Auth).ok_or_else(|| {
            AppError::Unauthorized(
                "the token is unknown or revoked, or its agent is deactivated".into(),
            )
        })
    }
}

fn bearer(h: &HeaderMap) -> Option<&str> {
    let v = h.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
        .filter(|t| !t.is_empty())
}

/// Admins only.
pub fn require_admin(v: &Viewer) -> Result<(), AppError> {
    require_admin_for(v, "may do this")
}

/// Admins only; the 403 says what only admins do ("only admins manage brands").
pub fn require_admin_for(v: &Viewer, what: &str) -> Result<(), AppError> {
    if v.is_admin() {
        Ok(())
    } else {
        Err(AppError::Forbidden(format!("only admins {what}")))
    }
}

/// Admins and supervisors.
pub fn require_supervisor(v: &Viewer) -> Result<(), AppError> {
    if v.sees_all() {
        Ok(())
    } else {
        Err(AppError::Forbidden(
            "only admins and supervisors may do this".into(),
        ))
    }
}
