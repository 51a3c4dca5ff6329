//! Branding of the customer-facing pages (portal, contact form, help center, survey and kiosk
//! pages): which brand a request shows, the per-brand stylesheet and the logo.
//!
//! **Which brand.** [`page_brand`] (a layer on the whole app, active only for the public page
//! paths) picks, in order: the brand whose `host` is the request's `Host`; the brand named by
//! `?brand=slug`; the first active brand; none (today's look). A handler that knows better —
//! a portal ticket or a survey invitation carries a `brand_id` — calls [`use_brand`]. The
//! choice lives in a task-local for the request, and [`crate::ui::render`] hands it to every
//! template as the runtime value `brand` ([`PageBrand`]); templates without it look as
//! before.
//!
//! **No inline style.** Pages link `/brands/{slug}/theme.css`, a few CSS custom properties
//! (`tend_core::brand::theme_css`); app.css and kiosk.css read them with today's colours as
//! defaults. The logo is an `<img>` from `/brands/{slug}/logo`: PNG, JPEG or WebP checked by
//! magic bytes on upload, served with its stored type, `nosniff` and a sandboxing CSP. Kiosks
//! get the same two under `/kiosk/brands/…` so their service worker keeps them offline.

use crate::{AppError, AppState};
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use std::cell::RefCell;
use tend_store::brands::Brand;

/// What a page shows of its brand.
#[derive(Debug, Clone, PartialEq)]
pub struct PageBrand {
    pub id: i64,
    pub name: String,
    pub slug: String,
    /// `/brands/{slug}/theme.css?v=…` (or under `/kiosk/` on kiosk pages).
    pub theme_url: String,
    /// `/brands/{slug}/logo?v=…` when the brand has a logo.
    pub logo_url: Option<String>,
    pub default_locale: String,
    pub primary_color: String,
}

impl PageBrand {
    pub fn of(b: &Brand) -> PageBrand {
        let version = b.updated_at.timestamp_micros();
        PageBrand {
            id: b.id,
            name: b.name.clone(),
            slug: b.slug.clone(),
            theme_url: format!("/brands/{}/theme.css?v={version}", b.slug),
            logo_url: b
                .logo_sha256
                .as_ref()
                .map(|sha| format!("/brands/{}/logo?v={}", b.slug, sha.get(..12).unwrap_or(sha))),
            default_locale: b.default_locale.clone(),
            primary_color: b.primary_color.clone(),
        }
    }
    /// The same brand with its assets under `/kiosk/` (kept by the kiosk's service worker).
    pub fn for_kiosk(mut self) -> PageBrand {
        self.theme_url = format!("/kiosk{}", self.theme_url);
        self.logo_url = self.logo_url.map(|u| format!("/kiosk{u}"));
        self
    }
}

tokio::task_local! {
    static PAGE: RefCell<Option<PageBrand>>;
}

/// The brand of the page being rendered, if the request has one.
pub fn current() -> Option<PageBrand> {
    PAGE.try_with(|c| c.borrow().clone()).ok().flatten()
}

/// The id of the current page's brand (e.g. for a ticket filed from the contact form).
pub fn current_id() -> Option<i64> {
    current().map(|b| b.id)
}

fn set(b: PageBrand) {
    let _ = PAGE.try_with(|c| {
        let kiosk = c
            .borrow()
            .as_ref()
            .is_some_and(|x| x.theme_url.starts_with("/kiosk/"));
        *c.borrow_mut() = Some(if kiosk { b.for_kiosk() } else { b });
    });
}

/// Shows this brand on the page (a ticket's or invitation's `brand_id`); an unknown or
/// archived brand, or `None`, leaves the request's brand as it is.
pub async fn use_brand(s: &AppState, brand_id: Option<i64>) {
    let Some(id) = brand_id else { return };
    if let Ok(b) = s.store.get_brand(id).await {
        if b.active() {
            set(PageBrand::of(&b));
        }
    }
}

/// Paths whose pages are branded (the customer-facing ones).
fn branded_path(path: &str) -> bool {
    ["/portal", "/contact", "/help", "/s", "/kiosk", "/service"]
        .iter()
        .any(|p| {
            path.strip_prefix(p)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
        })
}

/// The brand for a request: `Host`, then `?brand=slug`, then the first active brand.
pub async fn resolve(s: &AppState, headers: &HeaderMap, query: Option<&str>) -> Option<Brand> {
    if let Some(host) = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .and_then(tend_core::brand::request_host)
    {
        if let Ok(Some(b)) = s.store.brand_by_host(&host).await {
            if b.active() {
                return Some(b);
            }
        }
    }
    let wanted = query.and_then(|q| {
        form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == "brand")
            .map(|(_, v)| v.into_owned())
    });
    if let Some(slug) = wanted.filter(|w| tend_core::brand::parse_slug(w).is_ok()) {
        if let Ok(Some(b)) = s.store.brand_by_slug(&slug).await {
            if b.active() {
                return Some(b);
            }
        }
    }
    s.store
        .list_brands(false)
        .await
        .ok()
        .and_then(|l| l.into_iter().next())
}

/// Layer: resolves the brand of a customer-facing page and keeps it for the request.
pub async fn page_brand(State(s): State<AppState>, req: Request, next: Next) -> Response {
    let path = req.uri().path();
    if !branded_path(path) || path.starts_with("/kiosk/brands/") {
        return next.run(req).await;
    }
    let kiosk = path.starts_with("/kiosk/");
    let brand = resolve(&s, req.headers(), req.uri().query())
        .await
        .map(|b| PageBrand::of(&b))
        .map(|b| if kiosk { b.for_kiosk() } else { b });
    PAGE.scope(RefCell::new(brand), next.run(req)).await
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/brands/{slug}/theme.css", get(theme))
        .route("/brands/{slug}/logo", get(logo))
        .route("/kiosk/brands/{slug}/theme.css", get(theme))
        .route("/kiosk/brands/{slug}/logo", get(logo))
}

async fn active_by_slug(s: &AppState, slug: &str) -> Result<Brand, AppError> {
    if tend_core::brand::parse_slug(slug).is_err() {
        return Err(AppError::not_found("brand"));
    }
    s.store
        .brand_by_slug(slug)
        .await?
        .filter(Brand::active)
        .ok_or_else(|| AppError::not_found("brand"))
}

/// GET /brands/{slug}/theme.css: the brand's colours as CSS custom properties.
async fn theme(State(s): State<AppState>, Path(slug): Path<String>) -> Result<Response, AppError> {
    let b = active_by_slug(&s, &slug).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            // Pages link it with ?v=<updated_at>: a change shows at once, an hour is safe.
            (header::CACHE_CONTROL, "public, max-age=3600"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        tend_core::brand::theme_css(&b.primary_color, &b.accent_color),
    )
        .into_response())
}

/// GET /brands/{slug}/logo: the logo with its stored type, an ETag (its SHA-256) and a day
/// of caching; `If-None-Match` answers 304.
async fn logo(
    State(s): State<AppState>,
    Path(slug): Path<String>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let b = active_by_slug(&s, &slug).await?;
    let Some(l) = s.store.brand_logo(b.id).await? else {
        return Err(AppError::not_found("logo"));
    };
    let etag = format!("\"{}\"", l.sha256);
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let mut resp = if matches {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut r = l.bytes.into_response();
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_str(&l.content_type)
                .unwrap_or(HeaderValue::from_static("application/octet-stream")),
        );
        r
    };
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=86400"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn branded_paths() {
        for p in [
            "/portal",
            "/portal/tickets/1",
            "/contact",
            "/help",
            "/help/en",
            "/s/abc",
            "/kiosk/1.x",
        ] {
            assert!(branded_path(p), "{p}");
        }
        for p in [
            "/",
            "/views/mine",
            "/api/v1/brands",
            "/assets/app.css",
            "/helpdesk",
            "/search",
        ] {
            assert!(!branded_path(p), "{p}");
        }
    }
}
