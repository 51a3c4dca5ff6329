//! /api/v1: one module per resource; handlers are thin (parse, authorize, call the store).

pub mod admin;
pub mod brands;
mod customers;
pub mod drill;
pub mod escalation;
mod imports;
pub mod kb;
pub mod kb_analytics;
pub mod macros;
pub(crate) mod mail;
pub mod reports;
pub mod routing;
pub(crate) mod search;
pub mod sla;
pub mod targets;
mod tickets;
pub mod triggers;
pub mod views;

use crate::error::AppError;
use crate::AppState;
use axum::routing::{get, post, put};
use axum::Router;
use serde::{Deserialize, Deserializer};
use tend_store::{decode_id_cursor, PageRequest};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/openapi.json", get(crate::openapi::serve))
        .route("/me", get(admin::me))
        .route("/sessions", post(admin::login))
        .route("/tokens", post(admin::create_own_token))
        .route("/tickets", get(tickets::list).post(tickets::create))
        .route("/tickets/{id}", get(tickets::get).patch(tickets::update))
        .route(
            "/tickets/{id}/messages",
            get(tickets::messages).post(tickets::add_message),
        )
        .route("/tickets/{id}/events", get(tickets::events))
        .route("/attachments/{id}", get(tickets::attachment))
        .route("/tags", get(tickets::tags))
        .route("/search/tickets", get(search::tickets))
        .route("/search/articles", get(search::articles))
        .route("/customers", get(customers::list).post(customers::create))
        .route(
            "/customers/{id}",
            get(customers::get).patch(customers::update),
        )
        .route("/customers/{id}/timeline", get(customers::timeline))
        .route(
            "/organizations",
            get(customers::list_orgs).post(customers::create_org),
        )
        .route(
            "/organizations/{id}",
            get(customers::get_org).patch(customers::update_org),
        )
        .route("/agents", get(admin::list_agents).post(admin::create_agent))
        .route(
            "/agents/{id}",
            get(admin::get_agent).patch(admin::update_agent),
        )
        .route("/groups", get(admin::list_groups).post(admin::create_group))
        .route("/groups/{id}", get(admin::get_group))
        .route("/groups/{id}/members", put(admin::set_members))
        // Issue 5: group leads and working hours.
        .route(
            "/groups/{id}/lead",
            get(escalation::get_lead).put(escalation::put_lead),
        )
        .route(
            "/agents/{id}/hours",
            get(escalation::get_hours).put(escalation::put_hours),
        )
        .route(
            "/field-definitions",
            get(admin::list_fields).post(admin::create_field),
        )
        .route(
            "/webhooks",
            get(admin::list_webhooks).post(admin::create_webhook),
        )
        .route(
            "/webhooks/{id}",
            get(admin::get_webhook).delete(admin::delete_webhook),
        )
        .route("/brands", get(brands::list).post(brands::create))
        .route(
            "/brands/{id}",
            get(brands::get)
                .patch(brands::update)
                .delete(brands::archive),
        )
        .route(
            "/brands/{id}/logo",
            put(brands::put_logo).delete(brands::delete_logo),
        )
        .route("/audit-log", get(admin::audit))
        .route("/views", get(views::list).post(views::create))
        .route(
            "/views/{id}",
            get(views::get_one)
                .put(views::replace)
                .delete(views::delete),
        )
        .route("/views/{id}/tickets", get(views::tickets))
        .route("/macros", get(macros::list).post(macros::create))
        .route("/sla", get(sla::get_config).put(sla::put_config))
        .route("/triggers", get(triggers::list).post(triggers::create))
        .route(
            "/automations",
            get(triggers::get_automations).put(triggers::put_automations),
        )
        .route(
            "/triggers/{id}",
            get(triggers::get_one)
                .put(triggers::replace)
                .delete(triggers::delete),
        )
        .route("/tickets/{id}/sla", get(sla::ticket_sla))
        .route("/macros/{id}", axum::routing::delete(macros::delete))
        .route("/jobs", get(admin::jobs))
        .route(
            "/surveys",
            get(crate::surveys::api::list).post(crate::surveys::api::create),
        )
        .route("/surveys/scores", get(crate::surveys::api::scores))
        .route("/reports/tickets", get(reports::tickets))
        .route("/reports/drill", get(drill::list))
        .route("/targets", get(targets::list).post(targets::create))
        .route("/targets/status", get(targets::status))
        .route(
            "/reports/digest",
            get(crate::digest::get_settings).put(crate::digest::put_settings),
        )
        .route(
            "/service-page",
            get(crate::service::get_settings).put(crate::service::put_settings),
        )
        .route(
            "/targets/{id}",
            get(targets::get)
                .patch(targets::update)
                .delete(targets::delete),
        )
        .route("/surveys/at-risk", get(crate::surveys::api::at_risk))
        .route("/surveys/scores/compare", get(crate::surveys::api::compare))
        .route("/surveys/{id}/send", post(crate::surveys::api::send_now))
        .route(
            "/surveys/{id}/responses",
            get(crate::surveys::api::responses),
        )
        .route("/orders", post(crate::surveys::orders::upsert))
        .route("/orders/{id}", get(crate::surveys::orders::get))
        .route(
            "/customers/{id}/orders",
            get(crate::surveys::orders::of_customer),
        )
        .route(
            "/mailboxes",
            get(mail::list_mailboxes).post(mail::create_mailbox),
        )
        // issue 4: change or disable a mailbox
        .route(
            "/mailboxes/{id}",
            axum::routing::patch(mail::update_mailbox),
        )
        .route("/mail/intake", get(mail::intake))
        .route("/mail/intake/{id}/raw", get(mail::raw))
        .route("/mail/intake/{id}/accept", post(mail::accept))
        .route("/mail/intake/{id}/discard", post(mail::discard))
        .route(
            "/mail/inbound",
            post(mail::inbound).layer(axum::extract::DefaultBodyLimit::max(
                crate::mail::smtp::MAX_MESSAGE_BYTES,
            )),
        )
        .route(
            "/mail/templates",
            get(mail::get_templates).put(mail::put_templates),
        )
        .route(
            "/imports",
            post(imports::import).layer(axum::extract::DefaultBodyLimit::max(
                crate::IMPORT_BODY_LIMIT,
            )),
        )
        .route(
            "/kb/suggestions",
            get(crate::helpcenter::deflect::suggestions),
        )
        .route("/kb/analytics", get(kb_analytics::analytics))
        .route(
            "/kb/auto-reply",
            get(kb_analytics::get_auto_reply).put(kb_analytics::put_auto_reply),
        )
        .merge(kb::router())
}

pub const DEFAULT_LIMIT: i64 = 25;
pub const MAX_LIMIT: i64 = 100;

/// `?limit=&cursor=` for id-ordered lists.
#[derive(Debug, Deserialize, Default)]
pub struct PageParams {
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

pub fn check_limit(limit: Option<i64>) -> Result<i64, AppError> {
    let l = limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&l) {
        return Err(AppError::BadRequest(format!(
            "limit must be between 1 and {MAX_LIMIT}"
        )));
    }
    Ok(l)
}

impl PageParams {
    pub fn page(&self) -> Result<PageRequest, AppError> {
        let after_id = match &self.cursor {
            None => None,
            Some(c) => Some(decode_id_cursor(c).ok_or_else(|| {
                AppError::BadRequest(
                    "cursor is not one this list gave out: start again without it".into(),
                )
            })?),
        };
        Ok(PageRequest {
            after_id,
            limit: check_limit(self.limit)?,
        })
    }
}

/// Tells "absent" (None) from "null" (Some(None)) in a JSON body.
pub fn double_option<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}
