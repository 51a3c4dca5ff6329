//! The public service page: an optional page per brand (`/service`, `/service/{brand slug}`)
//! that publishes figures an admin chose (e.g. median first reply this month, CSAT). Off by
//! default. The figures are report columns computed by the one report engine
//! (`tend_store::metrics::run_report`), scoped to the brand, and cached for
//! [`CACHE_SECONDS`] per page (a burst of visitors costs one report).
//!
//! Setting `service.page` (admins, `PUT /api/v1/service-page`):
//! `{"pages": [{"brand_id": null, "enabled": true, "title": "Our service", "period": "this_month",
//!   "tz": "Europe/Berlin", "figures": [{"metric": "frt_median", "label": "Median first reply"}]}]}`

use crate::error::{ApiResult, AppError};
use crate::extract::{require_admin, Auth, Json};
use crate::flight::Flight;
use crate::AppState;
use askama::Template;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tend_core::report::{metric, MetricGroup, ReportParams, ReportRequest};
use tend_core::targets::{format_value, period_range};
use tend_core::{Actor, Invalid};

pub const SETTING: &str = "service.page";
pub const CACHE_SECONDS: i64 = 60;
pub const MAX_FIGURES: usize = 12;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Figure {
    /// A report column key (`frt_median`, `csat`, `fcr_rate`, …).
    pub metric: String,
    /// Shown instead of the column's label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PageConfig {
    /// `null`: the page at `/service`; a brand: `/service/{slug}` (figures of that brand).
    #[serde(default)]
    pub brand_id: Option<i64>,
    #[serde(default)]
    pub enabled: bool,
    #[serde(default)]
    pub title: Option<String>,
    /// A named period (`this_month`, `last_30_days`, …; default `this_month`).
    #[serde(default)]
    pub period: Option<String>,
    #[serde(default)]
    pub tz: Option<String>,
    #[serde(default)]
    pub figures: Vec<Figure>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct ServiceSettings {
    #[serde(default)]
    pub pages: Vec<PageConfig>,
}

impl ServiceSettings {
    /// Checks every page (pure; brand ids are checked against the store by the handler).
    pub fn check(&self) -> Result<(), Invalid> {
        let mut seen = Vec::new();
        for (i, p) in self.pages.iter().enumerate() {
            let f = |name: &str| format!("pages[{i}].{name}");
            if seen.contains(&p.brand_id) {
                return Err(Invalid::new(f("brand_id"), "has two pages"));
            }
            seen.push(p.brand_id);
            if p.title.as_ref().is_some_and(|t| t.chars().count() > 120) {
                return Err(Invalid::new(f("title"), "is longer than 120 characters"));
            }
            if let Some(per) = &p.period {
                period_range(per, chrono::NaiveDate::default())
                    .map_err(|e| Invalid::new(f("period"), e.message))?;
            }
            if let Some(tz) = &p.tz {
                tz.parse::<Tz>()
                    .map_err(|_| Invalid::new(f("tz"), "is not an IANA time zone"))?;
            }
            if p.enabled && p.figures.is_empty() {
                return Err(Invalid::new(f("figures"), "choose at least one figure"));
            }
            if p.figures.len() > MAX_FIGURES {
                return Err(Invalid::new(
                    f("figures"),
                    format!("at most {MAX_FIGURES} figures"),
                ));
            }
            for (j, fig) in p.figures.iter().enumerate() {
                let field = f(&format!("figures[{j}].metric"));
                let def = metric(&fig.metric).ok_or_else(|| {
                    Invalid::new(
                        field.clone(),
                        format!(
                            "'{}' is not a report column (e.g. frt_median, csat, fcr_rate)",
                            tend_core::truncate_for_message(&fig.metric)
                        ),
                    )
                })?;
                if def.group.is_survey() && p.brand_id.is_some() {
                    return Err(Invalid::new(
                        field,
                        "survey scores cannot be split by brand: publish them on the page without a brand",
                    ));
                }
                if fig.label.as_ref().is_some_and(|l| l.chars().count() > 80) {
                    return Err(Invalid::new(
                        f(&format!("figures[{j}].label")),
                        "is longer than 80 characters",
                    ));
                }
            }
        }
        Ok(())
    }
}

async fn load(store: &dyn tend_store::Store) -> Result<ServiceSettings, AppError> {
    Ok(match store.get_setting(SETTING).await? {
        None => ServiceSettings::default(),
        Some(v) => serde_json::from_value(v).unwrap_or_default(),
    })
}

/// `GET /api/v1/service-page` (admins).
pub async fn get_settings(
    State(s): State<AppState>,
    Auth(v): Auth,
) -> ApiResult<axum::Json<Value>> {
    require_admin(&v)?;
    Ok(axum::Json(
        serde_json::to_value(load(&*s.store).await?).unwrap_or_default(),
    ))
}

/// `PUT /api/v1/service-page` (admins; audited as a setting change).
pub async fn put_settings(
    State(s): State<AppState>,
    Auth(v): Auth,
    Json(cfg): Json<ServiceSettings>,
) -> ApiResult<axum::Json<Value>> {
    require_admin(&v)?;
    cfg.check()?;
    for (i, p) in cfg.pages.iter().enumerate() {
        if let Some(b) = p.brand_id {
            if s.store.get_brand(b).await.is_err() {
                return Err(AppError::invalid(
                    format!("pages[{i}].brand_id"),
                    format!("there is no brand {b}"),
                ));
            }
        }
    }
    let doc = serde_json::to_value(&cfg).unwrap_or_default();
    s.store
        .put_setting(SETTING, doc.clone(), Actor::agent(v.agent_id), s.now())
        .await?;
    s.service_cache.clear();
    Ok(axum::Json(doc))
}

/// A rendered page and the instant it expires.
type Cached = (DateTime<Utc>, Arc<str>);

/// Rendered pages by brand id, with single-flight: concurrent misses of a page (a burst of
/// visitors when it expires) compute it once and share it.
#[derive(Default)]
pub struct Cache {
    pages: Flight<Option<i64>, Cached>,
    /// Pages computed (for tests and `/metrics`-style checks).
    computed: AtomicU64,
}

impl Cache {
    pub fn clear(&self) {
        self.pages.clear();
    }

    /// How many times a page was computed (not served from the cache).
    pub fn computed(&self) -> u64 {
        self.computed.load(Ordering::Relaxed)
    }
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/service", get(default_page))
        .route("/service/{slug}", get(brand_page))
}

pub struct FigureView {
    pub label: String,
    pub raw: String,
    pub text: String,
    pub definition: &'static str,
}

#[derive(Template)]
#[template(path = "service.html")]
struct ServicePage {
    title: String,
    range: String,
    figures: Vec<FigureView>,
}

/// Computes one page (the report behind it and its HTML).
async fn compute_page(
    s: &AppState,
    brand: Option<&(i64, String)>,
    key: Option<i64>,
    now: DateTime<Utc>,
) -> Result<Cached, AppError> {
    let cfg = load(&*s.store).await?;
    let Some(p) = cfg.pages.iter().find(|p| p.brand_id == key && p.enabled) else {
        return Err(AppError::not_found("page"));
    };
    let tz: Tz = p.tz.as_deref().unwrap_or("UTC").parse().unwrap_or(Tz::UTC);
    let today = now.with_timezone(&tz).date_naive();
    let (from, to) = period_range(p.period.as_deref().unwrap_or("this_month"), today)?;
    let mut fams: Vec<MetricGroup> = p
        .figures
        .iter()
        .filter_map(|f| metric(&f.metric).map(|d| d.group))
        .collect();
    fams.sort();
    fams.dedup();
    let params = ReportParams {
        from: Some(from.to_string()),
        to: Some(to.to_string()),
        tz: Some(tz.name().to_string()),
        interval: Some("month".into()),
        metrics: Some(
            fams.iter()
                .map(|g| g.as_str())
                .collect::<Vec<_>>()
                .join(","),
        ),
        brand_id: key.map(|b| b.to_string()),
        ..Default::default()
    };
    let req = ReportRequest::parse(&params, now)?;
    let r = tend_store::metrics::run_report(&*s.store, &req).await?;
    let figures = p
        .figures
        .iter()
        .filter_map(|f| {
            let i = r.columns.iter().position(|c| c.key == f.metric)?;
            let c = r.columns[i];
            let v = r.total.values[i];
            Some(FigureView {
                label: f.label.clone().unwrap_or_else(|| c.label.to_string()),
                raw: v.map(|v| v.to_string()).unwrap_or_default(),
                text: v.map_or("—".into(), |v| format_value(c.unit, v.as_f64())),
                definition: c.definition,
            })
        })
        .collect();
    let page = ServicePage {
        title: p.title.clone().unwrap_or_else(|| match brand {
            Some((_, name)) => format!("{name}: our service"),
            None => "Our service".into(),
        }),
        range: format!("{from} – {to} ({})", tz.name()),
        figures,
    };
    let html = page
        .render()
        .map_err(|e| AppError::Internal(format!("template: {e}")))?;
    s.service_cache.computed.fetch_add(1, Ordering::Relaxed);
    Ok((now + Duration::seconds(CACHE_SECONDS), Arc::from(html)))
}

async fn render_page(s: &AppState, brand: Option<(i64, String)>) -> Result<Response, AppError> {
    let now = s.now();
    let key = brand.as_ref().map(|b| b.0);
    let (_, html) = s
        .service_cache
        .pages
        .get_or_try(
            &key,
            |(exp, _)| *exp > now,
            || compute_page(s, brand.as_ref(), key, now),
        )
        .await?;
    let html = html.to_string();
    let mut resp = (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8".to_string()),
            (
                header::CACHE_CONTROL,
                format!("public, max-age={CACHE_SECONDS}"),
            ),
        ],
        html,
    )
        .into_response();
    crate::ui::page_headers(
        resp.headers_mut(),
        "default-src 'none'; style-src 'self'; img-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
        "strict-origin-when-cross-origin",
    );
    Ok(resp)
}

/// `GET /service`: the page without a brand.
pub async fn default_page(State(s): State<AppState>) -> Result<Response, AppError> {
    render_page(&s, None).await
}

/// `GET /service/{slug}`: a brand's page.
pub async fn brand_page(
    State(s): State<AppState>,
    Path(slug): Path<String>,
) -> Result<Response, AppError> {
    let b = s
        .store
        .brand_by_slug(&slug)
        .await?
        .filter(|b| b.archived_at.is_none())
        .ok_or_else(|| AppError::not_found("page"))?;
    render_page(&s, Some((b.id, b.name))).await
}
