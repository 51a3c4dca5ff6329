//! /api/v1/orders: the thin order entity surveys ask about (purchase and delivery surveys).
//! An order is created or updated by its external id (the shop's order number); the first
//! report and the first `delivered_at` each queue the surveys waiting for that event, in the
//! same transaction.

use crate::error::{ApiResult, AppError};
use crate::extract::Id;
use crate::extract::{require_admin, Auth, Json};
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{json, Value};
use tend_core::Actor;
use tend_store::survey::{NewOrder, Order, OrderItem};
use tend_store::{Identity, IdentityKind, NewCustomer, StoreError};

/// Most items one order may list.
pub const ITEMS_MAX: usize = 500;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomerRef {
    id: Option<i64>,
    email: Option<String>,
    name: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderIn {
    external_id: String,
    customer: CustomerRef,
    placed_at: DateTime<Utc>,
    delivered_at: Option<DateTime<Utc>>,
    #[serde(default)]
    amount_cents: i64,
    #[serde(default)]
    currency: String,
    #[serde(default)]
    items: Vec<OrderItem>,
}

async fn customer_id(s: &AppState, c: &CustomerRef) -> Result<i64, AppError> {
    match (c.id, c.email.as_deref()) {
        (Some(id), _) => match s.store.get_customer(id).await {
            Ok(c) => Ok(c.id),
            Err(StoreError::NotFound(_)) => Err(AppError::invalid(
                "customer.id",
                format!("there is no customer {id}"),
            )),
            Err(e) => Err(e.into()),
        },
        (None, Some(email)) => {
            let email = tend_core::Email::parse(email)
                .map_err(|e| AppError::invalid("customer.email", e.message))?;
            let email = email.as_str().to_string();
            if let Some(c) = s
                .store
                .customer_by_identity(IdentityKind::Email, &email)
                .await?
            {
                return Ok(c.id);
            }
            let name = c
                .name
                .as_deref()
                .map(|n| tend_core::parse_line("customer.name", n, tend_core::limits::NAME_MAX))
                .transpose()?
                .unwrap_or_else(|| email.clone());
            let new = NewCustomer {
                name,
                identities: vec![Identity {
                    kind: IdentityKind::Email,
                    value: email.clone(),
                }],
                ..Default::default()
            };
            match s.store.create_customer(new, s.now()).await {
                Ok(c) => Ok(c.id),
                // Created meanwhile by another request: use that one.
                Err(StoreError::Conflict(_)) => s
                    .store
                    .customer_by_identity(IdentityKind::Email, &email)
                    .await?
                    .map(|c| c.id)
                    .ok_or_else(|| {
                        AppError::Conflict("the customer changed meanwhile; retry".into())
                    }),
                Err(e) => Err(e.into()),
            }
        }
        (None, None) => Err(AppError::invalid(
            "customer",
            "give the customer's id or e-mail",
        )),
    }
}

/// `POST /orders`: create or update an order by its external id.
pub async fn upsert(
    State(s): State<AppState>,
    Auth(v): Auth,
    Json(b): Json<OrderIn>,
) -> ApiResult<(StatusCode, axum::Json<Value>)> {
    require_admin(&v)?;
    let external_id = tend_core::parse_line("external_id", &b.external_id, 200)?;
    if b.items.len() > ITEMS_MAX {
        return Err(AppError::invalid(
            "items",
            format!("at most {ITEMS_MAX} items per order"),
        ));
    }
    for (i, it) in b.items.iter().enumerate() {
        if it.name.trim().is_empty()
            || it.name.chars().count() > 500
            || it.sku.chars().count() > 200
        {
            return Err(AppError::invalid(
                format!("items[{i}]"),
                "name must be 1 to 500 characters, sku at most 200",
            ));
        }
        if it.quantity < 1 || it.quantity > 1_000_000 || it.price_cents < 0 {
            return Err(AppError::invalid(
                format!("items[{i}]"),
                "quantity must be 1 to 1000000 and price_cents not negative",
            ));
        }
    }
    if b.amount_cents < 0 {
        return Err(AppError::invalid("amount_cents", "must not be negative"));
    }
    let currency = b.currency.trim().to_ascii_uppercase();
    if !(currency.is_empty()
        || (currency.len() == 3 && currency.chars().all(|c| c.is_ascii_alphabetic())))
    {
        return Err(AppError::invalid(
            "currency",
            "must be an ISO 4217 code such as EUR or USD",
        ));
    }
    if let Some(d) = b.delivered_at {
        if d < b.placed_at {
            return Err(AppError::invalid(
                "delivered_at",
                "must not be before placed_at",
            ));
        }
    }
    let customer_id = customer_id(&s, &b.customer).await?;
    let saved = s
        .store
        .upsert_order(
            NewOrder {
                external_id,
                customer_id,
                placed_at: b.placed_at,
                delivered_at: b.delivered_at,
                amount_cents: b.amount_cents,
                currency,
                items: b.items,
            },
            Actor::agent(v.agent_id),
            s.now(),
        )
        .await?;
    let status = if saved.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        axum::Json(json!({ "order": saved.order, "survey_events": saved.events })),
    ))
}

/// `GET /orders/{id}`.
pub async fn get(
    State(s): State<AppState>,
    Auth(v): Auth,
    Id(id): Id,
) -> ApiResult<axum::Json<Order>> {
    crate::extract::require_supervisor(&v)?;
    Ok(axum::Json(s.store.get_order(id).await?))
}

/// `GET /customers/{id}/orders`: newest first, at most 100.
pub async fn of_customer(
    State(s): State<AppState>,
    Auth(v): Auth,
    Id(id): Id,
) -> ApiResult<axum::Json<Value>> {
    crate::extract::require_supervisor(&v)?;
    s.store.get_customer(id).await?;
    Ok(axum::Json(
        json!({ "items": s.store.customer_orders(id, 100).await? }),
    ))
}
