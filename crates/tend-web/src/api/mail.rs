//! Mail administration: mailboxes, the intake log (and the raw mails in it), the review queue,
//! acknowledgement templates, and an HTTP door for raw mail (`POST /mail/inbound`).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::{json, Value};
use tend_core::Actor;
use tend_store::mail::{ClosedPolicy, ImapSource, MailboxUpdate, NewMailbox};

use super::PageParams;
use crate::error::AppError;
use crate::extract::{require_admin, Auth, Id, Json, Query};
use crate::mail::intake::{accept_review, ingest, mailbox_for, Envelope, IngestError};
use crate::mail::outbound::{DEFAULT_ACK_BODY, DEFAULT_ACK_SUBJECT, TEMPLATES_SETTING};
use crate::{ApiResult, AppState};

fn mailbox_json(m: &tend_store::mail::Mailbox) -> Value {
    let mut v = serde_json::to_value(m).unwrap_or_default();
    v["imap"] = m.imap_public().unwrap_or(Value::Null);
    v
}

pub async fn list_mailboxes(
    State(s): State<AppState>,
    Auth(v): Auth,
) -> ApiResult<axum::Json<Value>> {
    require_admin(&v)?;
    let items: Vec<Value> = s
        .store
        .list_mailboxes()
        .await?
        .iter()
        .map(mailbox_json)
        .collect();
    Ok(axum::Json(json!({ "items": items })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateMailbox {
    address: String,
    #[serde(default)]
    name: String,
    group_id: Option<i64>,
    brand_id: Option<i64>,
    closed_policy: Option<String>,
    auto_ack: Option<bool>,
    imap: Option<ImapSource>,
}

/// A mailbox as sent by the API or the admin form (`/admin/mailboxes`), before checking;
/// `None` leaves a field as it is. Both go through [`check_mailbox`]: one set of rules.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailboxPatch {
    pub address: Option<String>,
    pub name: Option<String>,
    #[serde(default, deserialize_with = "crate::api::double_option")]
    pub group_id: Option<Option<i64>>,
    #[serde(default, deserialize_with = "crate::api::double_option")]
    pub brand_id: Option<Option<i64>>,
    pub closed_policy: Option<String>,
    pub auto_ack: Option<bool>,
    /// `null` stops IMAP polling; an empty `password` keeps the stored one.
    #[serde(default, deserialize_with = "crate::api::double_option")]
    pub imap: Option<Option<ImapSource>>,
    pub active: Option<bool>,
}

/// The rules for a mailbox's fields, for creating and changing, from the API and the admin
/// UI alike: a valid address, a one-line name, a known closed policy, an active brand, and a
/// complete IMAP account. (The group is checked by the store, in the write's transaction.)
pub async fn check_mailbox(s: &AppState, b: MailboxPatch) -> ApiResult<MailboxUpdate> {
    let address = match &b.address {
        Some(a) => Some(tend_core::Email::parse(a)?.as_str().to_string()),
        None => None,
    };
    let name = match &b.name {
        Some(n) if n.trim().is_empty() => Some(String::new()),
        Some(n) => Some(tend_core::parse_line(
            "name",
            n,
            tend_core::limits::NAME_MAX,
        )?),
        None => None,
    };
    let closed_policy = match b.closed_policy.as_deref() {
        None => None,
        Some(p) => Some(
            ClosedPolicy::parse(p)
                .ok_or_else(|| AppError::invalid("closed_policy", "must be reopen or follow_up"))?,
        ),
    };
    if let Some(Some(id)) = b.brand_id {
        match s.store.get_brand(id).await {
            Ok(br) if br.active() => {}
            Ok(_) => {
                return Err(AppError::invalid(
                    "brand_id",
                    format!("brand {id} is archived"),
                ))
            }
            Err(tend_store::StoreError::NotFound(_)) => {
                return Err(AppError::invalid(
                    "brand_id",
                    format!("there is no brand {id}"),
                ))
            }
            Err(e) => return Err(e.into()),
        }
    }
    if let Some(Some(i)) = &b.imap {
        if i.host.trim().is_empty() || i.username.is_empty() {
            return Err(AppError::invalid("imap", "host and username are required"));
        }
        if i.host.len() > 253 || i.host.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(AppError::invalid(
                "imap.host",
                "must be a host name or an IP address",
            ));
        }
        if i.port == 0 {
            return Err(AppError::invalid(
                "imap.port",
                "must be between 1 and 65535",
            ));
        }
        if !(i.security == "none" || i.security == "tls") {
            return Err(AppError::invalid("imap.security", "must be none or tls"));
        }
        if i.folder.trim().is_empty() {
            return Err(AppError::invalid(
                "imap.folder",
                "name the folder to read, such as INBOX",
            ));
        }
        if !(i.after_import == "none"
            || i.after_import == "seen"
            || i.after_import.starts_with("move:"))
        {
            return Err(AppError::invalid(
                "imap.after_import",
                "must be none, seen or move:<folder>",
            ));
        }
    }
    Ok(MailboxUpdate {
        address,
        name,
        group_id: b.group_id,
        brand_id: b.brand_id,
        closed_policy,
        auto_ack: b.auto_ack,
        imap: b.imap,
        active: b.active,
    })
}

/// Creates a mailbox from checked fields (shared by the API and the admin form).
pub async fn create_checked(
    s: &AppState,
    up: MailboxUpdate,
    actor: Actor,
) -> ApiResult<tend_store::mail::Mailbox> {
    let address = up
        .address
        .ok_or_else(|| AppError::invalid("address", "a mailbox needs an address"))?;
    Ok(s.store
        .create_mailbox(
            NewMailbox {
                address,
                name: up.name.unwrap_or_default(),
                group_id: up.group_id.flatten(),
                brand_id: up.brand_id.flatten(),
                closed_policy: up.closed_policy.unwrap_or_default(),
                auto_ack: up.auto_ack.unwrap_or(true),
                imap: up.imap.flatten(),
            },
            actor,
            s.now(),
        )
        .await?)
}

pub async fn create_mailbox(
    State(s): State<AppState>,
    Auth(v): Auth,
    Json(b): Json<CreateMailbox>,
) -> ApiResult<(StatusCode, axum::Json<Value>)> {
    require_admin(&v)?;
    let up = check_mailbox(
        &s,
        MailboxPatch {
            address: Some(b.address),
            name: Some(b.name),
            group_id: Some(b.group_id),
            brand_id: Some(b.brand_id),
            closed_policy: b.closed_policy,
            auto_ack: b.auto_ack,
            imap: Some(b.imap),
            active: None,
        },
    )
    .await?;
    let m = create_checked(&s, up, Actor::agent(v.agent_id)).await?;
    Ok((StatusCode::CREATED, axum::Json(mailbox_json(&m))))
}

/// `PATCH /api/v1/mailboxes/{id}`: change or disable (`"active": false`) a mailbox. Admins.
pub async fn update_mailbox(
    State(s): State<AppState>,
    Auth(v): Auth,
    Id(id): Id,
    Json(b): Json<MailboxPatch>,
) -> ApiResult<axum::Json<Value>> {
    require_admin(&v)?;
    let up = check_mailbox(&s, b).await?;
    let m = s
        .store
        .update_mailbox(id, up, Actor::agent(v.agent_id), s.now())
        .await?;
    Ok(axum::Json(mailbox_json(&m)))
}

#[derive(Debug, Deserialize)]
pub struct IntakeParams {
    outcome: Option<String>,
    #[serde(flatten)]
    page: PageParams,
}

const OUTCOMES: &[&str] = &[
    "created",
    "appended",
    "review",
    "bounce",
    "duplicate",
    "rejected",
];

pub async fn intake(
    State(s): State<AppState>,
    Auth(v): Auth,
    Query(q): Query<IntakeParams>,
) -> ApiResult<axum::Json<Value>> {
    require_admin(&v)?;
    if let Some(o) = &q.outcome {
        if !OUTCOMES.contains(&o.as_str()) {
            return Err(AppError::invalid(
                "outcome",
                format!("must be one of: {}", OUTCOMES.join(", ")),
            ));
        }
    }
    let page = s.store.list_mail_intake(q.outcome, q.page.page()?).await?;
    Ok(axum::Json(
        json!({ "items": page.items, "next_cursor": page.next_cursor }),
    ))
}

/// The raw mail, as received; `message/rfc822` so browsers download rather than render it.
pub async fn raw(
    State(s): State<AppState>,
    Auth(v): Auth,
    Id(id): Id,
) -> ApiResult<impl IntoResponse> {
    require_admin(&v)?;
    let data = s.store.raw_mail(id).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "message/rfc822".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"intake-{id}.eml\""),
            ),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_string()),
        ],
        data,
    ))
}

#[derive(Debug, Deserialize)]
pub struct InboundParams {
    /// The mailbox address the mail was sent to.
    recipient: Option<String>,
}

/// Takes one raw RFC 5322 mail in (for gateways that post mail over HTTP). Admins only.
pub async fn inbound(
    State(s): State<AppState>,
    Auth(v): Auth,
    Query(q): Query<InboundParams>,
    body: Bytes,
) -> ApiResult<(StatusCode, axum::Json<Value>)> {
    require_admin(&v)?;
    if body.is_empty() {
        return Err(AppError::BadRequest(
            "send the raw mail (RFC 5322) as the request body".into(),
        ));
    }
    let boxes = s.store.list_mailboxes().await?;
    let mailbox = match &q.recipient {
        Some(r) => Some(mailbox_for(&boxes, r).cloned().ok_or_else(|| {
            AppError::invalid(
                "recipient",
                format!(
                    "no mailbox for {}; add it under /api/v1/mailboxes",
                    tend_core::truncate_for_message(r)
                ),
            )
        })?),
        None => None,
    };
    let secret = s.mail.secret(&*s.store).await?;
    let env = Envelope {
        source: "api".into(),
        mailbox,
        our_addresses: boxes.iter().map(|m| m.address.clone()).collect(),
        imap_uid: None,
    };
    match ingest(&*s.store, &secret, body.to_vec(), env, s.now()).await {
        Ok(d) => Ok((
            StatusCode::CREATED,
            axum::Json(serde_json::to_value(d).unwrap_or_default()),
        )),
        Err(IngestError::Temporary(e)) => Err(AppError::Unavailable(e)),
    }
}

pub async fn get_templates(
    State(s): State<AppState>,
    Auth(v): Auth,
) -> ApiResult<axum::Json<Value>> {
    require_admin(&v)?;
    let t = s
        .store
        .get_setting(TEMPLATES_SETTING)
        .await?
        .unwrap_or_default();
    Ok(axum::Json(json!({
        "ack_subject": t.get("ack_subject").and_then(Value::as_str).unwrap_or(DEFAULT_ACK_SUBJECT),
        "ack_body": t.get("ack_body").and_then(Value::as_str).unwrap_or(DEFAULT_ACK_BODY),
        "placeholders": crate::mail::outbound::ACK_PLACEHOLDERS,
    })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Templates {
    ack_subject: String,
    ack_body: String,
}

pub async fn put_templates(
    State(s): State<AppState>,
    Auth(v): Auth,
    Json(b): Json<Templates>,
) -> ApiResult<axum::Json<Value>> {
    require_admin(&v)?;
    for (field, t) in [("ack_subject", &b.ack_subject), ("ack_body", &b.ack_body)] {
        tend_core::template::validate_template(t, crate::mail::outbound::ACK_PLACEHOLDERS)
            .map_err(|e| {
                AppError::invalid(
                    field,
                    format!(
                        "{e}; known placeholders: {}",
                        crate::mail::outbound::ACK_PLACEHOLDERS.join(", ")
                    ),
                )
            })?;
    }
    let value = json!({ "ack_subject": b.ack_subject, "ack_body": b.ack_body });
    s.store
        .put_setting(
            TEMPLATES_SETTING,
            value.clone(),
            Actor::agent(v.agent_id),
            s.now(),
        )
        .await?;
    Ok(axum::Json(value))
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Accept {
    /// Add the mail to this ticket; without it, the mail opens a ticket for its sender.
    ticket_id: Option<i64>,
}

/// Takes a mail out of the review queue into a ticket. Admins.
pub async fn accept(
    State(s): State<AppState>,
    Auth(v): Auth,
    Id(id): Id,
    Json(b): Json<Accept>,
) -> ApiResult<axum::Json<Value>> {
    require_admin(&v)?;
    let d = accept_review(
        &*s.store,
        id,
        b.ticket_id,
        Actor::agent(v.agent_id),
        s.now(),
    )
    .await?;
    Ok(axum::Json(serde_json::to_value(d).unwrap_or_default()))
}

/// Drops a mail from the review queue (it stays in the log, with its raw bytes). Admins.
pub async fn discard(
    State(s): State<AppState>,
    Auth(v): Auth,
    Id(id): Id,
) -> ApiResult<StatusCode> {
    require_admin(&v)?;
    s.store
        .resolve_intake(
            id,
            "discarded",
            "discarded by an agent",
            None,
            Actor::agent(v.agent_id),
            s.now(),
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
