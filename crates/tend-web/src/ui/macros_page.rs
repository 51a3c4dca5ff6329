//! /macros: the macros an agent can use — shared ones and their own — with a form to add one
//! (shared only for admins and supervisors) and delete buttons where allowed. Same checks as
//! the API (`crate::api::macros`).

use super::pages::{nav, Nav};
use super::{csrf_ok, forbidden_csrf, form_error, render, Session};
use crate::api::macros::{create_checked, delete_checked, ActionsIn, MacroIn};
use crate::{AppError, AppState};
use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use std::collections::HashMap;
use tend_core::template::TICKET_PLACEHOLDERS;
use tend_core::{Priority, Status};

pub struct MacroRow {
    pub id: i64,
    pub title: String,
    pub shared: bool,
    pub public: bool,
    pub body: String,
    pub sets: String,
    pub deletable: bool,
}

#[derive(Template)]
#[template(path = "macros.html")]
struct MacrosPage {
    nav: Nav,
    rows: Vec<MacroRow>,
    groups: Vec<(i64, String)>,
    statuses: Vec<String>,
    priorities: Vec<String>,
    placeholders: String,
    may_share: bool,
    error: Option<String>,
    done: Option<String>,
    /// What the agent typed, shown again after an error: (title, body, tags).
    draft: (String, String, String),
}

#[derive(Deserialize)]
pub struct Notice {
    done: Option<String>,
}

async fn show(
    s: &AppState,
    sess: &Session,
    error: Option<String>,
    done: Option<String>,
    draft: (String, String, String),
) -> Result<Response, AppError> {
    let groups: Vec<(i64, String)> = s
        .store
        .list_groups()
        .await?
        .into_iter()
        .map(|g| (g.id, g.name))
        .collect();
    let group_name: HashMap<i64, String> = groups.iter().cloned().collect();
    let rows = s
        .store
        .list_macros(sess.viewer.agent_id)
        .await?
        .into_iter()
        .map(|m| {
            let mut sets = Vec::new();
            if let Some(st) = m.actions.status {
                sets.push(format!("status {st}"));
            }
            if let Some(p) = m.actions.priority {
                sets.push(format!("priority {p}"));
            }
            if let Some(g) = m.actions.group_id {
                sets.push(format!(
                    "group {}",
                    group_name.get(&g).cloned().unwrap_or_else(|| g.to_string())
                ));
            }
            if !m.actions.add_tags.is_empty() {
                sets.push(format!("tags +{}", m.actions.add_tags.join(" +")));
            }
            MacroRow {
                id: m.id,
                shared: m.owner_id.is_none(),
                deletable: m.owner_id == Some(sess.viewer.agent_id)
                    || (m.owner_id.is_none() && sess.viewer.sees_all()),
                title: m.title,
                public: m.public,
                body: m.body,
                sets: sets.join(", "),
            }
        })
        .collect();
    let nav = nav(s, sess, "/macros").await?;
    Ok(render(&MacrosPage {
        nav,
        rows,
        groups,
        statuses: [
            Status::Open,
            Status::Pending,
            Status::OnHold,
            Status::Solved,
        ]
        .iter()
        .map(|x| x.to_string())
        .collect(),
        priorities: [
            Priority::Low,
            Priority::Normal,
            Priority::High,
            Priority::Urgent,
        ]
        .iter()
        .map(|x| x.to_string())
        .collect(),
        placeholders: TICKET_PLACEHOLDERS
            .iter()
            .map(|p| format!("{{{{{p}}}}}"))
            .collect::<Vec<_>>()
            .join(" "),
        may_share: sess.viewer.sees_all(),
        error,
        done,
        draft,
    }))
}

pub async fn page(
    State(s): State<AppState>,
    sess: Session,
    Query(n): Query<Notice>,
) -> Result<Response, AppError> {
    let done = match n.done.as_deref() {
        Some("added") => Some("Macro added: pick it above the reply box on any ticket.".into()),
        Some("deleted") => Some("Macro deleted.".into()),
        _ => None,
    };
    show(&s, &sess, None, done, Default::default()).await
}

pub async fn create(
    State(s): State<AppState>,
    sess: Session,
    body: Bytes,
) -> Result<Response, AppError> {
    let f: HashMap<String, String> = form_urlencoded::parse(&body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let get = |k: &str| {
        f.get(k)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    if !csrf_ok(&sess.token, f.get("csrf").map(String::as_str).unwrap_or("")) {
        return Ok(forbidden_csrf());
    }
    let draft = (
        f.get("title").cloned().unwrap_or_default(),
        f.get("body").cloned().unwrap_or_default(),
        f.get("add_tags").cloned().unwrap_or_default(),
    );
    let made = async {
        let actions = ActionsIn {
            status: get("status")
                .map(|x| x.parse::<Status>())
                .transpose()
                .map_err(|e| AppError::invalid("status", e.message))?,
            priority: get("priority")
                .map(|x| x.parse::<Priority>())
                .transpose()
                .map_err(|e| AppError::invalid("priority", e.message))?,
            add_tags: get("add_tags")
                .map(|t| {
                    t.split([',', ' '])
                        .filter(|x| !x.is_empty())
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default(),
            group_id: get("group_id")
                .map(|g| g.parse::<i64>())
                .transpose()
                .map_err(|_| AppError::invalid("group_id", "pick a group from the list"))?,
        };
        create_checked(
            &s,
            &sess.viewer,
            MacroIn {
                title: draft.0.clone(),
                body: draft.1.clone(),
                public: f.contains_key("public"),
                shared: f.contains_key("shared"),
                actions,
            },
        )
        .await
    }
    .await;
    match made {
        Ok(_) => Ok(Redirect::to("/macros?done=added").into_response()),
        Err(e) => show(&s, &sess, Some(form_error(e)?), None, draft).await,
    }
}

pub async fn delete(
    State(s): State<AppState>,
    sess: Session,
    Path(id): Path<i64>,
    body: Bytes,
) -> Result<Response, AppError> {
    let csrf = form_urlencoded::parse(&body)
        .find(|(k, _)| k == "csrf")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    if !csrf_ok(&sess.token, &csrf) {
        return Ok(forbidden_csrf());
    }
    delete_checked(&s, &sess.viewer, id).await?;
    Ok(Redirect::to("/macros?done=deleted").into_response())
}
