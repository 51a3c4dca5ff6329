//! Tickets, their messages, events and attachments.

use super::{check_limit, double_option, PageParams};
use crate::error::{ApiResult, AppError};
use crate::extract::{Auth, Id, Json, Query};
use crate::AppState;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde::Deserialize;
use std::collections::BTreeMap;
use tend_core::ticket::{Fields, Patch};
use tend_core::{
    html, limits, parse_line, parse_tag, parse_tags, Actor, Channel, Email, Priority, Status,
    Ticket, Viewer,
};
use tend_store::*;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequesterIn {
    email: Email,
    name: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttachmentIn {
    filename: String,
    #[serde(default = "octet")]
    content_type: String,
    /// The file's bytes, base64-encoded.
    data_base64: String,
}

fn octet() -> String {
    "application/octet-stream".into()
}

#[derive(Debug, Deserialize, Default, Clone, Copy, PartialEq)]
#[serde(rename_all = "snake_case")]
pub enum AuthorIn {
    #[default]
    Requester,
    Agent,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MessageIn {
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    html: Option<String>,
    #[serde(default)]
    public: Option<bool>,
    /// Only on ticket creation: who wrote the first message (default: the requester).
    #[serde(default)]
    author: Option<AuthorIn>,
    #[serde(default)]
    attachments: Vec<AttachmentIn>,
    /// Mail a public agent message to the requester (default true; false records it only).
    #[serde(default)]
    notify: Option<bool>,
    /// Time the agent spent on this reply or note, in seconds (1 ..= 86 400); agents only.
    /// Checked by hand (not typed) so that any wrong value is a 422 naming the field.
    #[serde(default)]
    time_spent_seconds: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateTicket {
    subject: String,
    status: Option<Status>,
    priority: Option<Priority>,
    channel: Option<Channel>,
    requester_id: Option<i64>,
    requester: Option<RequesterIn>,
    assignee_id: Option<i64>,
    group_id: Option<i64>,
    brand_id: Option<i64>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    fields: Fields,
    external_id: Option<String>,
    comment: Option<MessageIn>,
}

/// Checks custom field values against their definitions.
async fn check_fields(s: &AppState, fields: &Fields) -> ApiResult<()> {
    if fields.is_empty() {
        return Ok(());
    }
    let defs = s.store.list_field_defs().await?;
    for (k, v) in fields {
        let def = defs.iter().find(|d| d.key == *k).ok_or_else(|| {
            AppError::invalid(
                format!("fields.{k}"),
                "no such custom field: define it under /api/v1/field-definitions first",
            )
        })?;
        tend_core::check_field_value(k, def.field_type, &def.options, v)?;
    }
    Ok(())
}

fn message_from(m: MessageIn, default_public: bool) -> ApiResult<NewMessage> {
    let time_spent_seconds = m
        .time_spent_seconds
        .as_ref()
        .map(|v| tend_core::ticket::check_time_spent("time_spent_seconds", v))
        .transpose()?;
    let body = m.body.unwrap_or_default();
    tend_core::check_len("body", &body, limits::BODY_MAX)?;
    if let Some(h) = &m.html {
        tend_core::check_len("html", h, limits::BODY_MAX)?;
    }
    let (body_text, body_html) = match m.html {
        Some(h) => {
            let clean = html::sanitize(&h);
            let text = if body.trim().is_empty() {
                html::html_to_text(&clean)
            } else {
                body
            };
            (text, clean)
        }
        None => {
            let h = html::text_to_html(&body);
            (body, h)
        }
    };
    if body_text.trim().is_empty() && m.attachments.is_empty() {
        return Err(AppError::invalid(
            "body",
            "a message needs a body (text or html) or an attachment",
        ));
    }
    let mut attachments = Vec::with_capacity(m.attachments.len());
    for (i, a) in m.attachments.into_iter().enumerate() {
        let filename = parse_line(&format!("attachments[{i}].filename"), &a.filename, 255)?;
        if filename.contains(['/', '\\']) {
            return Err(AppError::invalid(
                format!("attachments[{i}].filename"),
                "must not contain / or \\",
            ));
        }
        let content_type = parse_line(
            &format!("attachments[{i}].content_type"),
            &a.content_type,
            200,
        )?;
        let data = base64::engine::general_purpose::STANDARD
            .decode(a.data_base64.trim())
            .map_err(|_| {
                AppError::invalid(
                    format!("attachments[{i}].data_base64"),
                    "is not valid base64",
                )
            })?;
        if data.len() > limits::ATTACHMENT_MAX {
            return Err(AppError::invalid(
                format!("attachments[{i}].data_base64"),
                format!(
                    "attachments are limited to {} MiB",
                    limits::ATTACHMENT_MAX / 1024 / 1024
                ),
            ));
        }
        attachments.push(NewAttachment {
            filename,
            content_type,
            data,
        });
    }
    let public = m.public.unwrap_or(default_public);
    Ok(NewMessage {
        time_spent_seconds,
        public,
        body_text,
        body_html,
        attachments,
        mail: None,
        notify: public && m.notify.unwrap_or(true),
    })
}

fn idempotency_key(h: &HeaderMap) -> ApiResult<Option<String>> {
    match h.get("idempotency-key") {
        None => Ok(None),
        Some(v) => {
            let s = v
                .to_str()
                .map_err(|_| {
                    AppError::BadRequest("Idempotency-Key must be printable ASCII".into())
                })?
                .trim();
            if s.is_empty() || s.len() > 200 {
                return Err(AppError::BadRequest(
                    "Idempotency-Key must be 1 to 200 characters".into(),
                ));
            }
            Ok(Some(s.to_string()))
        }
    }
}

pub async fn create(
    State(s): State<AppState>,
    Auth(v): Auth,
    headers: HeaderMap,
    Json(b): Json<CreateTicket>,
) -> ApiResult<Response> {
    let subject = parse_line("subject", &b.subject, limits::SUBJECT_MAX)?;
    let tags = parse_tags(&b.tags)?;
    check_fields(&s, &b.fields).await?;
    let requester = match (b.requester_id, b.requester) {
        (Some(id), None) => RequesterRef::Id(id),
        (None, Some(r)) => {
            let name = r
                .name
                .map(|n| parse_line("requester.name", &n, limits::NAME_MAX))
                .transpose()?;
            RequesterRef::Email {
                email: r.email.as_str().to_string(),
                name,
            }
        }
        (Some(_), Some(_)) => {
            return Err(AppError::invalid(
                "requester",
                "give either requester_id or requester, not both",
            ))
        }
        (None, None) => {
            return Err(AppError::invalid(
                "requester",
                "give requester_id or requester {email, name}",
            ))
        }
    };
    let external_id = b
        .external_id
        .map(|e| parse_line("external_id", &e, limits::EXTERNAL_ID_MAX))
        .transpose()?;
    let (message, by_requester) = match b.comment {
        Some(c) => {
            let author = c.author.unwrap_or_default();
            let mut m = message_from(c, true)?;
            if author == AuthorIn::Requester && m.time_spent_seconds.is_some() {
                return Err(AppError::invalid(
                    "comment.time_spent_seconds",
                    "only an agent's message can log time (this comment is the requester's)",
                ));
            }
            // The customer's own words are not mailed back to them.
            m.notify &= author == AuthorIn::Agent;
            (Some(m), author == AuthorIn::Requester)
        }
        None => (None, false),
    };
    if let Some(g) = b.group_id {
        if !v.sees_all() && !v.group_ids.contains(&g) && b.assignee_id != Some(v.agent_id) {
            return Err(AppError::invalid(
                "group_id",
                "you can only file tickets into your own groups",
            ));
        }
    }
    let new = NewTicket {
        subject,
        status: b.status.unwrap_or(Status::New),
        priority: b.priority.unwrap_or(Priority::Normal),
        channel: b.channel.unwrap_or(Channel::Api),
        requester,
        assignee_id: b.assignee_id,
        group_id: b.group_id,
        brand_id: b.brand_id,
        tags,
        fields: b.fields,
        external_id,
        message,
        message_by_requester: by_requester,
        idempotency_key: idempotency_key(&headers)?,
    };
    let created = s
        .store
        .create_ticket(new, Actor::agent(v.agent_id), s.now())
        .await?;
    let status = if created.replayed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    let mut resp = (status, axum::Json(&created.value)).into_response();
    if let Ok(loc) = HeaderValue::from_str(&format!("/api/v1/tickets/{}", created.value.id)) {
        resp.headers_mut().insert(header::LOCATION, loc);
    }
    if created.replayed {
        resp.headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok(resp)
}

pub async fn get(
    State(s): State<AppState>,
    Auth(v): Auth,
    Id(id): Id,
) -> ApiResult<axum::Json<Ticket>> {
    Ok(axum::Json(s.store.get_ticket(id, &v).await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    status: Option<String>,
    priority: Option<String>,
    assignee_id: Option<String>,
    group_id: Option<String>,
    requester_id: Option<i64>,
    organization_id: Option<i64>,
    channel: Option<Channel>,
    tag: Option<String>,
    updated_after: Option<String>,
    updated_before: Option<String>,
    sla_due_before: Option<String>,
    sort: Option<String>,
    limit: Option<i64>,
    cursor: Option<String>,
}

fn parse_list<T: std::str::FromStr<Err = tend_core::Invalid>>(
    name: &str,
    raw: &str,
) -> ApiResult<Vec<T>> {
    raw.split(',')
        .filter(|x| !x.trim().is_empty())
        .map(|x| {
            x.trim()
                .parse::<T>()
                .map_err(|e| AppError::BadRequest(format!("{name}: {}", e.message)))
        })
        .collect()
}

/// `me`, `none` or a number.
fn parse_ref(name: &str, raw: &str, me: i64) -> ApiResult<Option<i64>> {
    match raw {
        "none" => Ok(None),
        "me" => Ok(Some(me)),
        n => n
            .parse::<i64>()
            .map(Some)
            .map_err(|_| AppError::BadRequest(format!("{name} must be a number, 'me' or 'none'"))),
    }
}

fn parse_time(name: &str, raw: &str) -> ApiResult<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::parse_from_rfc3339(raw)
        .map(|t| t.with_timezone(&chrono::Utc))
        .map_err(|_| {
            AppError::BadRequest(format!(
                "{name} must be an RFC 3339 time such as 2026-01-31T09:00:00Z"
            ))
        })
}

pub fn ticket_query(p: ListParams, v: &Viewer) -> ApiResult<TicketQuery> {
    let sort = match &p.sort {
        None => TicketSort::default(),
        Some(x) => TicketSort::parse(x).ok_or_else(|| {
            AppError::BadRequest(format!("sort must be one of {}", TicketSort::NAMES))
        })?,
    };
    let cursor = match &p.cursor {
        None => None,
        Some(c) => Some(Cursor::decode(c, sort).ok_or_else(|| {
            AppError::BadRequest(
                "cursor is not one this list gave out for this sort: start again without it".into(),
            )
        })?),
    };
    let mut statuses = p
        .status
        .as_deref()
        .map(|s| parse_list::<Status>("status", s))
        .transpose()?
        .unwrap_or_default();
    statuses.sort();
    statuses.dedup();
    let updated_after = p
        .updated_after
        .as_deref()
        .map(|x| parse_time("updated_after", x))
        .transpose()?;
    let updated_before = p
        .updated_before
        .as_deref()
        .map(|x| parse_time("updated_before", x))
        .transpose()?;
    if let (Some(a), Some(b)) = (updated_after, updated_before) {
        if a >= b {
            return Err(AppError::BadRequest(
                "updated_after must be before updated_before".into(),
            ));
        }
    }
    Ok(TicketQuery {
        statuses,
        priorities: p
            .priority
            .as_deref()
            .map(|s| parse_list::<Priority>("priority", s))
            .transpose()?
            .unwrap_or_default(),
        assignee_id: p
            .assignee_id
            .as_deref()
            .map(|x| parse_ref("assignee_id", x, v.agent_id))
            .transpose()?,
        group_id: p
            .group_id
            .as_deref()
            .map(|x| parse_ref("group_id", x, -1))
            .transpose()?,
        requester_id: p.requester_id,
        organization_id: p.organization_id,
        channel: p.channel,
        tag: p
            .tag
            .as_deref()
            .map(|t| parse_tag(t).map_err(|e| AppError::BadRequest(format!("tag: {}", e.message))))
            .transpose()?,
        updated_after,
        updated_before,
        sla_due_before: p
            .sla_due_before
            .as_deref()
            .map(|x| parse_time("sla_due_before", x))
            .transpose()?,
        sort,
        cursor,
        limit: check_limit(p.limit)?,
    })
}

pub async fn list(
    State(s): State<AppState>,
    Auth(v): Auth,
    Query(p): Query<ListParams>,
) -> ApiResult<axum::Json<Page<Ticket>>> {
    let q = ticket_query(p, &v)?;
    Ok(axum::Json(s.store.list_tickets(&q, &v).await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateTicket {
    subject: Option<String>,
    status: Option<Status>,
    priority: Option<Priority>,
    #[serde(default, deserialize_with = "double_option")]
    assignee_id: Option<Option<i64>>,
    #[serde(default, deserialize_with = "double_option")]
    group_id: Option<Option<i64>>,
    tags: Option<Vec<String>>,
    #[serde(default)]
    add_tags: Vec<String>,
    #[serde(default)]
    remove_tags: Vec<String>,
    #[serde(default)]
    fields: BTreeMap<String, serde_json::Value>,
}

pub async fn update(
    State(s): State<AppState>,
    Auth(v): Auth,
    Id(id): Id,
    Json(b): Json<UpdateTicket>,
) -> ApiResult<axum::Json<Ticket>> {
    check_fields(&s, &b.fields).await?;
    let patch = Patch {
        subject: b
            .subject
            .map(|x| parse_line("subject", &x, limits::SUBJECT_MAX))
            .transpose()?,
        status: b.status,
        priority: b.priority,
        assignee_id: b.assignee_id,
        group_id: b.group_id,
        tags: b.tags.map(|t| parse_tags(&t)).transpose()?,
        add_tags: parse_tags(&b.add_tags)?,
        remove_tags: parse_tags(&b.remove_tags)?,
        fields: b.fields,
    };
    if patch.is_empty() {
        return Err(AppError::BadRequest("nothing to change: send at least one of subject, status, priority, assignee_id, group_id, tags, add_tags, remove_tags, fields".into()));
    }
    Ok(axum::Json(
        s.store
            .update_ticket(id, patch, &v, Actor::agent(v.agent_id), s.now())
            .await?,
    ))
}

pub async fn add_message(
    State(s): State<AppState>,
    Auth(v): Auth,
    Id(id): Id,
    Json(b): Json<MessageIn>,
) -> ApiResult<(StatusCode, axum::Json<Message>)> {
    if b.author.is_some() {
        return Err(AppError::invalid(
            "author",
            "is only for the first message of a new ticket",
        ));
    }
    let m = message_from(b, true)?;
    Ok((
        StatusCode::CREATED,
        axum::Json(
            s.store
                .add_message(id, m, &v, Actor::agent(v.agent_id), s.now())
                .await?,
        ),
    ))
}

pub async fn messages(
    State(s): State<AppState>,
    Auth(v): Auth,
    Id(id): Id,
) -> ApiResult<axum::Json<serde_json::Value>> {
    Ok(axum::Json(
        serde_json::json!({ "items": s.store.list_messages(id, &v).await? }),
    ))
}

pub async fn events(
    State(s): State<AppState>,
    Auth(v): Auth,
    Id(id): Id,
    Query(p): Query<PageParams>,
) -> ApiResult<axum::Json<Page<Event>>> {
    Ok(axum::Json(s.store.ticket_events(id, &v, p.page()?).await?))
}

pub async fn attachment(
    State(s): State<AppState>,
    Auth(v): Auth,
    Id(id): Id,
) -> ApiResult<Response> {
    let (a, data) = s.store.get_attachment(id, &v).await?;
    let safe_name: String = a
        .filename
        .chars()
        .filter(|c| c.is_ascii_graphic() && *c != '"' && *c != '\\')
        .collect();
    let disposition = format!(
        "attachment; filename=\"{}\"",
        if safe_name.is_empty() {
            "file".into()
        } else {
            safe_name
        }
    );
    let mut resp = data.into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&a.content_type)
            .unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    if let Ok(d) = HeaderValue::from_str(&disposition) {
        h.insert(header::CONTENT_DISPOSITION, d);
    }
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    Ok(resp)
}

pub async fn tags(
    State(s): State<AppState>,
    Auth(_): Auth,
) -> ApiResult<axum::Json<serde_json::Value>> {
    Ok(axum::Json(
        serde_json::json!({ "items": s.store.list_tags().await? }),
    ))
}
