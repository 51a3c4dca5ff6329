//! /admin/mail: the mailboxes and the intake log — what became of every received mail, with
//! the review queue one click away. Admins only.

use super::pages::{nav, short_time, Nav};
use super::{csrf_ok, forbidden_csrf, render, Session};
use crate::{AppError, AppState};
use askama::Template;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;
use tend_store::{decode_id_cursor, PageRequest};

pub struct Row {
    pub id: i64,
    pub at: String,
    pub outcome: String,
    pub sender: String,
    pub subject: String,
    pub reason: String,
    pub ticket_id: Option<i64>,
    pub size: String,
}

#[derive(Template)]
#[template(path = "admin_mail.html")]
struct MailPage {
    nav: Nav,
    mailboxes: Vec<(String, String, String, String)>,
    rows: Vec<Row>,
    outcome: String,
    outcomes: Vec<&'static str>,
    next: Option<String>,
    error: Option<String>,
}

#[derive(Deserialize)]
pub struct Params {
    outcome: Option<String>,
    cursor: Option<String>,
    error: Option<String>,
}

const OUTCOMES: &[&str] = &[
    "created",
    "appended",
    "review",
    "bounce",
    "duplicate",
    "rejected",
];

fn size(n: i64) -> String {
    if n >= 1024 * 1024 {
        format!("{:.1} MB", n as f64 / 1024.0 / 1024.0)
    } else if n >= 1024 {
        format!("{} KB", n / 1024)
    } else {
        format!("{n} B")
    }
}

pub async fn page(
    State(s): State<AppState>,
    sess: Session,
    Query(p): Query<Params>,
) -> Result<Response, AppError> {
    if !sess.viewer.is_admin() {
        return Err(AppError::Forbidden(
            "only admins see the mail intake".into(),
        ));
    }
    let outcome = p.outcome.filter(|o| OUTCOMES.contains(&o.as_str()));
    let after_id = p.cursor.as_deref().and_then(decode_id_cursor);
    let log = s
        .store
        .list_mail_intake(
            outcome.clone(),
            PageRequest {
                after_id,
                limit: 50,
            },
        )
        .await?;
    let mailboxes = s
        .store
        .list_mailboxes()
        .await?
        .into_iter()
        .map(|m| {
            (
                m.address.clone(),
                m.name.clone(),
                m.closed_policy.as_str().replace('_', " "),
                m.imap
                    .as_ref()
                    .map(|i| format!("IMAP {}:{}/{}", i.host, i.port, i.folder))
                    .unwrap_or_else(|| "SMTP / pipe".into()),
            )
        })
        .collect();
    let rows = log
        .items
        .into_iter()
        .map(|e| Row {
            id: e.id,
            at: short_time(e.received_at),
            outcome: e.outcome,
            sender: e.sender.unwrap_or_default(),
            subject: e.subject,
            reason: e.reason,
            ticket_id: e.ticket_id,
            size: size(e.size),
        })
        .collect();
    Ok(render(&MailPage {
        nav: nav(&s, &sess, "/admin/mail").await?,
        mailboxes,
        rows,
        outcome: outcome.unwrap_or_default(),
        outcomes: OUTCOMES.to_vec(),
        next: log.next_cursor,
        error: p.error.map(|e| e.chars().take(300).collect()),
    }))
}

#[derive(Deserialize)]
pub struct Decide {
    csrf: String,
    /// `new`, `ticket` (into the ticket the mail named) or `discard`.
    action: String,
    ticket_id: Option<i64>,
}

/// POST /admin/mail/{id}: settle a mail held for review.
pub async fn decide(
    State(s): State<AppState>,
    sess: Session,
    crate::extract::Id(id): crate::extract::Id,
    Form(f): Form<Decide>,
) -> Result<Response, AppError> {
    if !sess.viewer.is_admin() {
        return Err(AppError::Forbidden(
            "only admins settle the review queue".into(),
        ));
    }
    if !csrf_ok(&sess.token, &f.csrf) {
        return Ok(forbidden_csrf());
    }
    let me = tend_core::Actor::agent(sess.viewer.agent_id);
    let res = match f.action.as_str() {
        "discard" => s
            .store
            .resolve_intake(id, "discarded", "discarded by an agent", None, me, s.now())
            .await
            .map(|_| None),
        "new" | "ticket" => {
            let target = if f.action == "ticket" {
                f.ticket_id
            } else {
                None
            };
            crate::mail::intake::accept_review(&*s.store, id, target, me, s.now())
                .await
                .map(|d| d.ticket_id)
        }
        _ => {
            return Err(AppError::invalid(
                "action",
                "must be new, ticket or discard",
            ))
        }
    };
    Ok(match res {
        Ok(Some(t)) => Redirect::to(&format!("/tickets/{t}")).into_response(),
        Ok(None) => Redirect::to("/admin/mail?outcome=review").into_response(),
        Err(e) => {
            let msg: String = form_urlencoded::byte_serialize(e.to_string().as_bytes()).collect();
            Redirect::to(&format!("/admin/mail?outcome=review&error={msg}")).into_response()
        }
    })
}
