//! /api/v1/brands: the brands customers see (name, slug, host, colours, default language,
//! logo). Agents may read them; only admins change them. Every change is audited by the store.

use crate::error::{ApiResult, AppError};
use crate::extract::{require_admin, Auth, Id, Json, Query};
use crate::AppState;
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::Value;
use tend_core::brand::{self as rules, LogoProblem};
use tend_core::Actor;
use tend_store::brands::*;

/// A brand as the API shows it: the stored fields plus where its logo and theme are.
pub fn brand_json(b: &Brand) -> Value {
    let mut v = serde_json::to_value(b).unwrap_or_default();
    let page = crate::brands::PageBrand::of(b);
    v["theme_url"] = Value::from(page.theme_url);
    v["logo_url"] = page.logo_url.map(Value::from).unwrap_or(Value::Null);
    v["archived"] = Value::from(b.archived_at.is_some());
    v
}

#[derive(Debug, Deserialize, Default)]
pub struct ListParams {
    #[serde(default)]
    include_archived: bool,
}

/// GET /brands: every active brand by id (the first is the default); `include_archived=true`
/// adds the archived ones.
pub async fn list(
    State(s): State<AppState>,
    Auth(_): Auth,
    Query(p): Query<ListParams>,
) -> ApiResult<axum::Json<Value>> {
    let items: Vec<Value> = s
        .store
        .list_brands(p.include_archived)
        .await?
        .iter()
        .map(brand_json)
        .collect();
    Ok(axum::Json(serde_json::json!({ "items": items })))
}

pub async fn get(
    State(s): State<AppState>,
    Auth(_): Auth,
    Id(id): Id,
) -> ApiResult<axum::Json<Value>> {
    Ok(axum::Json(brand_json(&s.store.get_brand(id).await?)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BrandIn {
    pub name: String,
    pub slug: String,
    #[serde(default)]
    pub host: Option<String>,
    #[serde(default)]
    pub primary_color: Option<String>,
    #[serde(default)]
    pub accent_color: Option<String>,
    #[serde(default)]
    pub default_locale: Option<String>,
}

/// Checks a new brand's fields (tend_core::brand); colours and language have defaults.
pub fn check_new(b: BrandIn) -> Result<NewBrand, AppError> {
    Ok(NewBrand {
        name: rules::parse_name(&b.name)?,
        slug: rules::parse_slug(&b.slug)?,
        host: match b.host.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(h) => Some(rules::normalize_host(h)?),
        },
        primary_color: rules::parse_primary_color(
            b.primary_color.as_deref().unwrap_or(rules::DEFAULT_PRIMARY),
        )?,
        accent_color: rules::parse_accent_color(
            b.accent_color.as_deref().unwrap_or(rules::DEFAULT_ACCENT),
        )?,
        default_locale: rules::parse_locale(b.default_locale.as_deref().unwrap_or("en"))?,
    })
}

/// POST /brands (admins).
pub async fn create(
    State(s): State<AppState>,
    Auth(v): Auth,
    Json(b): Json<BrandIn>,
) -> ApiResult<(StatusCode, HeaderMap, axum::Json<Value>)> {
    require_admin(&v)?;
    let new = check_new(b)?;
    let b = s
        .store
        .create_brand(new, Actor::agent(v.agent_id), s.now())
        .await?;
    let mut h = HeaderMap::new();
    if let Ok(loc) = format!("/api/v1/brands/{}", b.id).parse() {
        h.insert(header::LOCATION, loc);
    }
    Ok((StatusCode::CREATED, h, axum::Json(brand_json(&b))))
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct BrandPatch {
    pub name: Option<String>,
    pub slug: Option<String>,
    /// `null` or `""` removes the host.
    #[serde(default, deserialize_with = "super::double_option")]
    pub host: Option<Option<String>>,
    pub primary_color: Option<String>,
    pub accent_color: Option<String>,
    pub default_locale: Option<String>,
    pub archived: Option<bool>,
}

/// Checks a change's fields.
pub fn check_patch(p: BrandPatch) -> Result<BrandUpdate, AppError> {
    Ok(BrandUpdate {
        name: p.name.as_deref().map(rules::parse_name).transpose()?,
        slug: p.slug.as_deref().map(rules::parse_slug).transpose()?,
        host: match p.host {
            None => None,
            Some(None) => Some(None),
            Some(Some(h)) if h.trim().is_empty() => Some(None),
            Some(Some(h)) => Some(Some(rules::normalize_host(&h)?)),
        },
        primary_color: p
            .primary_color
            .as_deref()
            .map(rules::parse_primary_color)
            .transpose()?,
        accent_color: p
            .accent_color
            .as_deref()
            .map(rules::parse_accent_color)
            .transpose()?,
        default_locale: p
            .default_locale
            .as_deref()
            .map(rules::parse_locale)
            .transpose()?,
        archived: p.archived,
    })
}

/// PATCH /brands/{id} (admins).
pub async fn update(
    State(s): State<AppState>,
    Auth(v): Auth,
    Id(id): Id,
    Json(p): Json<BrandPatch>,
) -> ApiResult<axum::Json<Value>> {
    require_admin(&v)?;
    let up = check_patch(p)?;
    let b = s
        .store
        .update_brand(id, up, Actor::agent(v.agent_id), s.now())
        .await?;
    Ok(axum::Json(brand_json(&b)))
}

/// DELETE /brands/{id} (admins): archives the brand. Tickets and mailboxes keep its id; its
/// pages, theme and logo are gone; `PATCH {"archived": false}` brings it back.
pub async fn archive(
    State(s): State<AppState>,
    Auth(v): Auth,
    Id(id): Id,
) -> ApiResult<StatusCode> {
    require_admin(&v)?;
    s.store
        .update_brand(
            id,
            BrandUpdate {
                archived: Some(true),
                ..Default::default()
            },
            Actor::agent(v.agent_id),
            s.now(),
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Checks an uploaded logo: declared type, magic bytes, size.
pub fn check_upload(content_type: &str, bytes: Vec<u8>) -> Result<NewLogo, AppError> {
    match rules::check_logo(content_type, &bytes) {
        Ok(t) => Ok(NewLogo {
            content_type: t.content_type().into(),
            bytes,
        }),
        Err(LogoProblem::TooLarge(m)) => Err(AppError::PayloadTooLarge(m)),
        Err(LogoProblem::UnsupportedType(m)) => Err(AppError::UnsupportedMediaType(m)),
        Err(LogoProblem::Invalid(e)) => Err(e.into()),
    }
}

/// Reads at most one byte more than a logo may have (so "too large" can be told).
pub async fn read_logo_body(body: Body) -> Result<Vec<u8>, AppError> {
    match axum::body::to_bytes(body, rules::LOGO_MAX_BYTES + 1).await {
        Ok(b) => Ok(b.to_vec()),
        Err(_) => Err(AppError::PayloadTooLarge(format!(
            "the logo is larger than {} KB (262144 bytes): scale it down (about 400 px wide is \
             plenty for a page header)",
            rules::LOGO_MAX_BYTES / 1024
        ))),
    }
}

/// PUT /brands/{id}/logo (admins): the image itself as the body, with its Content-Type
/// (image/png, image/jpeg or image/webp; ≤ 256 KB).
pub async fn put_logo(
    State(s): State<AppState>,
    Auth(v): Auth,
    Id(id): Id,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<axum::Json<Value>> {
    require_admin(&v)?;
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let bytes = read_logo_body(body).await?;
    let logo = check_upload(&ct, bytes)?;
    let b = s
        .store
        .set_brand_logo(id, Some(logo), Actor::agent(v.agent_id), s.now())
        .await?;
    Ok(axum::Json(brand_json(&b)))
}

/// DELETE /brands/{id}/logo (admins).
pub async fn delete_logo(
    State(s): State<AppState>,
    Auth(v): Auth,
    Id(id): Id,
) -> ApiResult<axum::Json<Value>> {
    require_admin(&v)?;
    let b = s
        .store
        .set_brand_logo(id, None, Actor::agent(v.agent_id), s.now())
        .await?;
    Ok(axum::Json(brand_json(&b)))
}
