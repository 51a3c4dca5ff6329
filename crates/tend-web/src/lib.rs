#![recursion_limit = "512"]
//! Tend over HTTP: the JSON API under /api/v1, health and metrics, and the job worker.

pub mod api;
pub mod auth;
pub mod error;
pub mod extract;
pub mod metrics;
pub mod openapi;
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
        }
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
        .merge(ui::router())
        .fallback(|| async { AppError::not_found("page") })
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            metrics::track,
        ))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(state)
}

async fn readyz(State(s): State<AppState>) -> impl IntoResponse {
    match s.store.ping().await {
        Ok(()) => (StatusCode::OK, "ready").into_response(),
        Err(e) => AppError::Unavailable(e.to_string()).into_response(),
    }
}
