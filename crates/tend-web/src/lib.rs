#![recursion_limit = "512"]
//! Tend over HTTP: the JSON API under /api/v1, health and metrics, and the job worker.

pub mod api;
pub mod auth;
pub mod brands;
pub mod charts;
pub mod digest;
pub mod error;
pub mod escalation;
pub mod extract;
pub mod flight;
pub mod helpcenter;
pub mod i18n;
pub mod mail;
pub mod metrics;
pub mod openapi;
pub mod portal;
pub mod routing;
pub mod search_tail;
pub mod service;
pub mod surveys;
pub mod triggers;
pub mod ui;
pub mod worker;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use std::sync::Arc;
use tend_core::Clock;
use tend_store::Store;

pub use error::{ApiResult, AppError};

/// Largest request body accepted (imports have their own, larger limit).
pub const BODY_LIMIT: usize = 16 * 1024 * 1024;
pub const IMPORT_BODY_LIMIT: usize = 256 * 1024 * 1024;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub auth: Arc<auth::Authenticator>,
    pub login_limiter: Arc<auth::LoginLimiter>,
    pub metrics: Arc<metrics::Metrics>,
    pub live: Arc<ui::live::Live>,
    pub mail: Arc<mail::MailConfig>,
    /// Full-text search (tend-search); None when not configured (search routes answer 503).
    pub search: Option<Arc<tend_search::Search>>,
    /// Throttles the public article suggestions (per client: 60 a minute).
    pub suggest_limiter: Arc<auth::LoginLimiter>,
    /// Rendered public service pages, briefly (`service`).
    pub service_cache: Arc<service::Cache>,
    /// The operations dashboard's shared snapshots (`ui::ops`, issue 8).
    pub ops_snapshots: Arc<ui::ops::Snapshots>,
}

impl AppState {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> AppState {
        AppState {
            store,
            clock,
            auth: Arc::new(auth::Authenticator),
            login_limiter: Arc::new(auth::LoginLimiter::default()),
            metrics: Arc::new(metrics::Metrics::default()),
            live: Arc::new(ui::live::Live::default()),
            mail: Arc::new(mail::MailConfig::default()),
            search: None,
            suggest_limiter: Arc::new({
                let mut l = auth::LoginLimiter::default();
                l.max_failures = 60;
                l.window = chrono::Duration::minutes(1);
                l
            }),
            service_cache: Arc::default(),
            ops_snapshots: Arc::default(),
        }
    }
    /// Serves search from `search` (see [`search_tail::run_search_tailer`] to keep it fed).
    pub fn with_search(mut self, search: Arc<tend_search::Search>) -> AppState {
        self.search = Some(search);
        self
    }
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.now()
    }
}

/// The whole HTTP application.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics::render))
        .nest("/api/v1", api::router())
        .merge(api::routing::router())
        .merge(ui::router())
        .merge(portal::router())
        .merge(helpcenter::router())
        .merge(helpcenter::deflect::router())
        .merge(surveys::router())
        .merge(service::router())
        .merge(brands::router())
        .fallback(|| async { AppError::not_found("page") })
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            brands::page_brand,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            metrics::track,
        ))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(axum::middleware::from_fn(client_ip))
        .with_state(state)
}

async fn readyz(State(s): State<AppState>) -> impl IntoResponse {
    match s.store.ping().await {
        Ok(()) => (StatusCode::OK, "ready").into_response(),
        Err(e) => AppError::Unavailable(e.to_string()).into_response(),
    }
}

/// The client's address, for throttling: the peer address, or the first X-Forwarded-For hop
/// when the peer is a proxy on this machine (loopback). Tests without a socket get "local".
#[derive(Debug, Clone)]
pub struct ClientIp(pub String);

async fn client_ip(
    mut req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let peer = req
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip());
    let forwarded = req
        .headers()
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .map(|v| v.trim().to_string());
    let ip = match (peer, forwarded) {
        (Some(p), Some(f)) if p.is_loopback() && !f.is_empty() => f,
        (Some(p), _) => p.to_string(),
        (None, Some(f)) => f,
        (None, None) => "local".into(),
    };
    req.extensions_mut().insert(ClientIp(ip));
    next.run(req).await
}
