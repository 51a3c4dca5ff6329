//! /admin/team: agents and groups for admins — add an agent (they get a mail with a link to
//! choose their password), change name, role, active and groups, send a new password link,
//! add a group, set an agent's working hours (issue 5: escalation and automation mail waits
//! for them; the calendar line format of /admin/sla, errors beside the text with their line).
//! Every change goes through the same checked functions as the API and is audited there.

use super::pages::{nav, Nav};
use super::password::{send_link, LinkKind};
use super::{csrf_ok, forbidden_csrf, form_error, render, Session};
use crate::api::admin::{
    create_agent_checked, create_field_checked, create_group_checked, set_members_checked,
    update_agent_checked, CreateAgent, CreateField, CreateGroup, UpdateAgent,
};
use crate::{AppError, AppState};
use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use std::collections::HashMap;
use tend_core::{Email, Role};
use tend_store::{Agent, Group};

pub struct AgentRow {
    pub id: i64,
    pub name: String,
    pub email: String,
    pub role: String,
    pub active: bool,
    pub groups: String,
}

#[derive(Template)]
#[template(path = "admin_team.html")]
struct TeamPage {
    nav: Nav,
    agents: Vec<AgentRow>,
    groups: Vec<Group>,
    roles: Vec<&'static str>,
    error: Option<String>,
    done: Option<String>,
}

#[derive(Template)]
#[template(path = "admin_agent.html")]
struct AgentPage {
    nav: Nav,
    agent: Agent,
    role: String,
    roles: Vec<&'static str>,
    /// (id, name, member)
    groups: Vec<(i64, String, bool)>,
    error: Option<String>,
    done: Option<String>,
    /// The working hours in the calendar line format (as typed after an error).
    hours: String,
    hours_error: Option<String>,
    /// The groups this agent leads.
    leads: Vec<String>,
}

const ROLES: [&str; 3] = ["agent", "supervisor", "admin"];

#[derive(Deserialize)]
pub struct Notice {
    done: Option<String>,
}

fn notice(code: Option<&str>) -> Option<String> {
    Some(
        match code? {
            "agent" => "Agent added. They got a mail with a link to choose their password.",
            "group" => "Group added.",
            "saved" => "Saved.",
            "link" => "A new link to choose a password is on its way (valid 3 days).",
            "hours" => "Working hours saved.",
            _ => return None,
        }
        .to_string(),
    )
}

async fn team_page(
    s: &AppState,
    sess: &Session,
    error: Option<String>,
    done: Option<String>,
) -> Result<Response, AppError> {
    let groups = s.store.list_groups().await?;
    let mut of: HashMap<i64, Vec<String>> = HashMap::new();
    for g in &groups {
        for m in &g.member_ids {
            of.entry(*m).or_default().push(g.name.clone());
        }
    }
    let agents = s
        .store
        .list_agents()
        .await?
        .into_iter()
        .filter(|a| a.id > 0)
        .map(|a| AgentRow {
            groups: of.get(&a.id).map(|g| g.join(", ")).unwrap_or_default(),
            id: a.id,
            name: a.name,
            email: a.email,
            role: a.role.to_string(),
            active: a.active,
        })
        .collect();
    let nav = nav(s, sess, "/admin/team").await?;
    Ok(render(&TeamPage {
        nav,
        agents,
        groups,
        roles: ROLES.to_vec(),
        error,
        done,
    }))
}

pub async fn page(
    State(s): State<AppState>,
    sess: Session,
    Query(n): Query<Notice>,
) -> Result<Response, AppError> {
    crate::extract::require_admin_for(&sess.viewer, "manage agents and groups")?;
    team_page(&s, &sess, None, notice(n.done.as_deref())).await
}

/// Form fields, repeated ones (group checkboxes) kept.
fn fields(body: &[u8]) -> (HashMap<String, String>, Vec<i64>) {
    let mut one = HashMap::new();
    let mut groups = Vec::new();
    for (k, v) in form_urlencoded::parse(body) {
        if k == "group" {
            if let Ok(g) = v.parse() {
                groups.push(g);
            }
        } else {
            one.insert(k.into_owned(), v.into_owned());
        }
    }
    (one, groups)
}

fn role_of(raw: Option<&String>) -> Result<Role, AppError> {
    raw.map(|r| r.as_str())
        .unwrap_or("agent")
        .parse::<Role>()
        .map_err(|e| AppError::invalid("role", e.message))
}

/// Puts the agent in exactly the ticked groups (one audited change per group that differs).
async fn set_groups(
    s: &AppState,
    sess: &Session,
    agent_id: i64,
    want: &[i64],
) -> Result<(), AppError> {
    for g in s.store.list_groups().await? {
        let member = g.member_ids.contains(&agent_id);
        let wanted = want.contains(&g.id);
        if member != wanted {
            let mut ids: Vec<i64> = g
                .member_ids
                .into_iter()
                .filter(|m| *m != agent_id)
                .collect();
            if wanted {
                ids.push(agent_id);
            }
            set_members_checked(s, &sess.viewer, g.id, ids).await?;
        }
    }
    Ok(())
}

pub async fn add_agent(
    State(s): State<AppState>,
    sess: Session,
    body: Bytes,
) -> Result<Response, AppError> {
    let (f, groups) = fields(&body);
    if !csrf_ok(&sess.token, f.get("csrf").map(String::as_str).unwrap_or("")) {
        return Ok(forbidden_csrf());
    }
    crate::extract::require_admin_for(&sess.viewer, "manage agents and groups")?;
    let made = async {
        let email = Email::parse(f.get("email").map(String::as_str).unwrap_or(""))
            .map_err(|e| AppError::invalid("email", e.message))?;
        let agent = create_agent_checked(
            &s,
            &sess.viewer,
            CreateAgent {
                email,
                name: f.get("name").cloned().unwrap_or_default(),
                role: role_of(f.get("role"))?,
                password: None,
            },
        )
        .await?;
        // The link first: an agent without one could not sign in.
        send_link(&s, &agent, LinkKind::Welcome).await?;
        set_groups(&s, &sess, agent.id, &groups).await?;
        Ok::<_, AppError>(agent)
    }
    .await;
    match made {
        Ok(_) => Ok(Redirect::to("/admin/team?done=agent").into_response()),
        Err(e) => team_page(&s, &sess, Some(form_error(e)?), None).await,
    }
}

pub async fn add_group(
    State(s): State<AppState>,
    sess: Session,
    body: Bytes,
) -> Result<Response, AppError> {
    let (f, _) = fields(&body);
    if !csrf_ok(&sess.token, f.get("csrf").map(String::as_str).unwrap_or("")) {
        return Ok(forbidden_csrf());
    }
    crate::extract::require_admin_for(&sess.viewer, "manage agents and groups")?;
    let made = create_group_checked(
        &s,
        &sess.viewer,
        CreateGroup {
            name: f.get("name").cloned().unwrap_or_default(),
            description: f.get("description").cloned().unwrap_or_default(),
        },
    )
    .await;
    match made {
        Ok(_) => Ok(Redirect::to("/admin/team?done=group").into_response()),
        Err(e) => team_page(&s, &sess, Some(form_error(e)?), None).await,
    }
}

/// The hours form as typed and its error, when re-showing a refused one.
#[derive(Default)]
struct HoursForm {
    text: Option<String>,
    error: Option<String>,
}

async fn agent_page(
    s: &AppState,
    sess: &Session,
    id: i64,
    error: Option<String>,
    done: Option<String>,
) -> Result<Response, AppError> {
    agent_page_with(s, sess, id, error, done, HoursForm::default()).await
}

async fn agent_page_with(
    s: &AppState,
    sess: &Session,
    id: i64,
    error: Option<String>,
    done: Option<String>,
    hours: HoursForm,
) -> Result<Response, AppError> {
    let agent = s.store.get_agent(id).await?;
    let all = s.store.list_groups().await?;
    let mut leads = Vec::new();
    for g in &all {
        if s.store.group_lead(g.id).await? == Some(id) {
            leads.push(g.name.clone());
        }
    }
    let groups = all
        .into_iter()
        .map(|g| (g.id, g.name, g.member_ids.contains(&id)))
        .collect();
    let text = match hours.text {
        Some(t) => t,
        None => s
            .store
            .agent_hours(id)
            .await?
            .map(|h| h.calendar)
            .unwrap_or_default(),
    };
    let nav = nav(s, sess, "/admin/team").await?;
    Ok(render(&AgentPage {
        nav,
        role: agent.role.to_string(),
        agent,
        roles: ROLES.to_vec(),
        groups,
        error,
        done,
        hours: text,
        hours_error: hours.error,
        leads,
    }))
}

/// `POST /admin/team/agents/{id}/hours`: sets (or, left empty, clears) the agent's working
/// hours through `api::escalation::set_hours_checked` — the checks and audit of
/// `PUT /api/v1/agents/{id}/hours`; a refused text is shown again with its error beside it.
pub async fn save_hours(
    State(s): State<AppState>,
    sess: Session,
    Path(id): Path<i64>,
    body: Bytes,
) -> Result<Response, AppError> {
    let (f, _) = fields(&body);
    if !csrf_ok(&sess.token, f.get("csrf").map(String::as_str).unwrap_or("")) {
        return Ok(forbidden_csrf());
    }
    crate::extract::require_admin_for(&sess.viewer, "manage agents and groups")?;
    let text = f.get("hours").cloned().unwrap_or_default();
    match crate::api::escalation::set_hours_checked(&s, &sess.viewer, id, Some(text.clone())).await
    {
        Ok(_) => Ok(Redirect::to(&format!("/admin/team/agents/{id}?done=hours")).into_response()),
        Err(AppError::Invalid { field, message }) => {
            let error = if field == "calendar" {
                message
            } else {
                format!("{field}: {message}")
            };
            let hours = HoursForm {
                text: Some(text),
                error: Some(error),
            };
            agent_page_with(&s, &sess, id, None, None, hours).await
        }
        Err(e) => Err(e),
    }
}

pub async fn agent(
    State(s): State<AppState>,
    sess: Session,
    Path(id): Path<i64>,
    Query(n): Query<Notice>,
) -> Result<Response, AppError> {
    crate::extract::require_admin_for(&sess.viewer, "manage agents and groups")?;
    agent_page(&s, &sess, id, None, notice(n.done.as_deref())).await
}

pub async fn save_agent(
    State(s): State<AppState>,
    sess: Session,
    Path(id): Path<i64>,
    body: Bytes,
) -> Result<Response, AppError> {
    let (f, groups) = fields(&body);
    if !csrf_ok(&sess.token, f.get("csrf").map(String::as_str).unwrap_or("")) {
        return Ok(forbidden_csrf());
    }
    crate::extract::require_admin_for(&sess.viewer, "manage agents and groups")?;
    let saved = async {
        update_agent_checked(
            &s,
            &sess.viewer,
            id,
            UpdateAgent {
                name: f.get("name").cloned(),
                role: Some(role_of(f.get("role"))?),
                active: Some(f.contains_key("active")),
                password: None,
            },
        )
        .await?;
        set_groups(&s, &sess, id, &groups).await
    }
    .await;
    match saved {
        Ok(()) => Ok(Redirect::to(&format!("/admin/team/agents/{id}?done=saved")).into_response()),
        Err(AppError::NotFound(m)) => Err(AppError::NotFound(m)),
        Err(e) => agent_page(&s, &sess, id, Some(form_error(e)?), None).await,
    }
}

pub async fn password_link(
    State(s): State<AppState>,
    sess: Session,
    Path(id): Path<i64>,
    body: Bytes,
) -> Result<Response, AppError> {
    let (f, _) = fields(&body);
    if !csrf_ok(&sess.token, f.get("csrf").map(String::as_str).unwrap_or("")) {
        return Ok(forbidden_csrf());
    }
    crate::extract::require_admin_for(&sess.viewer, "manage agents and groups")?;
    let agent = s.store.get_agent(id).await?;
    if !agent.active {
        return agent_page(
            &s,
            &sess,
            id,
            Some("This agent is deactivated: activate them first.".into()),
            None,
        )
        .await;
    }
    send_link(&s, &agent, LinkKind::Welcome).await?;
    Ok(Redirect::to(&format!("/admin/team/agents/{id}?done=link")).into_response())
}

// --- custom fields ---------------------------------------------------------------------

#[derive(Template)]
#[template(path = "admin_fields.html")]
struct FieldsPage {
    nav: Nav,
    fields: Vec<tend_store::FieldDef>,
    types: Vec<&'static str>,
    error: Option<String>,
    done: Option<String>,
    /// What the admin typed, shown again after an error: (key, label, type, options).
    draft: (String, String, String, String),
}

async fn fields_page(
    s: &AppState,
    sess: &Session,
    error: Option<String>,
    done: Option<String>,
    draft: (String, String, String, String),
) -> Result<Response, AppError> {
    let nav = nav(s, sess, "/admin/fields").await?;
    Ok(render(&FieldsPage {
        nav,
        fields: s.store.list_field_defs().await?,
        types: tend_core::FieldType::ALL
            .iter()
            .map(|t| t.as_str())
            .collect(),
        error,
        done,
        draft,
    }))
}

/// `GET /admin/fields`: the ticket fields beyond the built-in ones, and a form to add one.
pub async fn fields_admin(
    State(s): State<AppState>,
    sess: Session,
    Query(n): Query<Notice>,
) -> Result<Response, AppError> {
    crate::extract::require_admin_for(&sess.viewer, "manage agents and groups")?;
    let done = (n.done.as_deref() == Some("field"))
        .then(|| "Field added: set it on tickets via the API or the ticket page's fields.".into());
    fields_page(&s, &sess, None, done, Default::default()).await
}

pub async fn add_field(
    State(s): State<AppState>,
    sess: Session,
    body: Bytes,
) -> Result<Response, AppError> {
    let (f, _) = fields(&body);
    if !csrf_ok(&sess.token, f.get("csrf").map(String::as_str).unwrap_or("")) {
        return Ok(forbidden_csrf());
    }
    crate::extract::require_admin_for(&sess.viewer, "manage agents and groups")?;
    let text = |k: &str| f.get(k).cloned().unwrap_or_default();
    let draft = (text("key"), text("label"), text("type"), text("options"));
    let made = async {
        let field_type = draft
            .2
            .parse::<tend_core::FieldType>()
            .map_err(|e| AppError::invalid("type", e.message))?;
        let options = draft
            .3
            .lines()
            .map(str::trim)
            .filter(|o| !o.is_empty())
            .map(str::to_string)
            .collect();
        create_field_checked(
            &s,
            &sess.viewer,
            CreateField {
                key: draft.0.clone(),
                label: draft.1.clone(),
                field_type,
                options,
            },
        )
        .await
    }
    .await;
    match made {
        Ok(_) => Ok(Redirect::to("/admin/fields?done=field").into_response()),
        Err(e) => fields_page(&s, &sess, Some(form_error(e)?), None, draft).await,
    }
}
