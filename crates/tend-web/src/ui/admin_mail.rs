//! /admin/mail: the mailboxes and the intake log — what became of every received mail, with
//! the review queue one click away. Admins only.

use super::pages::{nav, short_time, Nav};
use super::{render, Session};
use crate::{AppError, AppState};
use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
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
}

#[derive(Deserialize)]
pub struct Params {
    outcome: Option<String>,
    cursor: Option<String>,
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
    }))
}
