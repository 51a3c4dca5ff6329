//! Routing in the workspace (issue 5; docs/routing.md): the signed-in agent's availability
//! switch in the header (`POST /me/availability`), and `/admin/routing` for admins — each
//! group's mode and lead (issue 5: the agent escalation levels and `notify` actions mail as
//! "the group's lead"), each agent's availability, skills and capacity. Every change goes
//! through the same checked functions as the API (`crate::api::routing`,
//! `crate::api::escalation::set_lead_checked`) and is audited there.

use super::pages::{nav, Nav};
use super::{csrf_ok, forbidden_csrf, form_error, render, Session};
use crate::api::escalation::set_lead_checked;
use crate::api::routing::{set_agent_checked, set_group_checked, AgentRoutingIn, GroupRoutingIn};
use crate::{AppError, AppState};
use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use std::collections::HashMap;
use tend_core::routing::{Availability, Mode};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/me/availability", post(set_mine))
        .route("/admin/routing", get(page))
        .route("/admin/routing/groups/{id}", post(save_group))
        .route("/admin/routing/agents/{id}", post(save_agent))
}

/// The signed-in agent's availability, for the header switch.
pub(crate) async fn my_availability(s: &AppState, agent_id: i64) -> String {
    s.store
        .agent_routing(agent_id)
        .await
        .map(|r| r.availability.as_str().to_string())
        .unwrap_or_else(|_| Availability::Off.as_str().to_string())
}

/// The choices of the header switch: (value, label).
pub(crate) const AVAILABILITY_CHOICES: [(&str, &str); 3] =
    [("online", "Online"), ("away", "Away"), ("off", "Off")];

pub struct GroupRow {
    pub id: i64,
    pub name: String,
    pub mode: String,
    pub reassign_when_off: bool,
    pub members: usize,
    /// (agent id, label, selected): "no lead" first, then the active agents.
    pub leads: Vec<(String, String, bool)>,
}

pub struct AgentRow {
    pub id: i64,
    pub name: String,
    pub availability: String,
    pub skills: String,
    pub capacity: String,
    pub open: i64,
}

#[derive(Template)]
#[template(path = "admin_routing.html")]
struct RoutingPage {
    nav: Nav,
    groups: Vec<GroupRow>,
    agents: Vec<AgentRow>,
    modes: Vec<(&'static str, &'static str)>,
    availabilities: Vec<(&'static str, &'static str)>,
    error: Option<String>,
    done: Option<String>,
}

#[derive(Deserialize)]
pub struct Notice {
    done: Option<String>,
}

async fn routing_page(
    s: &AppState,
    sess: &Session,
    error: Option<String>,
    done: Option<String>,
) -> Result<Response, AppError> {
    let settings: HashMap<i64, _> = s
        .store
        .list_group_routing()
        .await?
        .into_iter()
        .map(|g| (g.group_id, g))
        .collect();
    let all_agents = s.store.list_agents().await?;
    let mut groups = Vec::new();
    for g in s.store.list_groups().await? {
        let r = settings.get(&g.id);
        let lead = s.store.group_lead(g.id).await?;
        let mut leads = vec![(String::new(), "no lead".to_string(), lead.is_none())];
        leads.extend(
            all_agents
                .iter()
                .filter(|a| a.id > 0 && (a.active || lead == Some(a.id)))
                .map(|a| {
                    let label = if a.active {
                        a.name.clone()
                    } else {
                        format!("{} (deactivated)", a.name)
                    };
                    (a.id.to_string(), label, lead == Some(a.id))
                }),
        );
        groups.push(GroupRow {
            id: g.id,
            name: g.name,
            mode: r.map(|r| r.mode).unwrap_or_default().as_str().to_string(),
            reassign_when_off: r.is_some_and(|r| r.reassign_when_off),
            members: g.member_ids.len(),
            leads,
        });
    }
    let routing: HashMap<i64, _> = s
        .store
        .list_agent_routing()
        .await?
        .into_iter()
        .map(|r| (r.agent_id, r))
        .collect();
    let agents = all_agents
        .into_iter()
        .filter(|a| a.id > 0 && a.active)
        .map(|a| {
            let r = routing.get(&a.id);
            AgentRow {
                id: a.id,
                name: a.name,
                availability: r
                    .map(|r| r.availability)
                    .unwrap_or_default()
                    .as_str()
                    .to_string(),
                skills: r.map(|r| r.skills.join(" ")).unwrap_or_default(),
                capacity: r
                    .and_then(|r| r.capacity)
                    .map(|c| c.to_string())
                    .unwrap_or_default(),
                open: r.map(|r| r.open_tickets).unwrap_or(0),
            }
        })
        .collect();
    let nav = nav(s, sess, "/admin/routing").await?;
    Ok(render(&RoutingPage {
        nav,
        groups,
        agents,
        modes: Mode::ALL.iter().map(|m| (m.as_str(), m.label())).collect(),
        availabilities: AVAILABILITY_CHOICES.to_vec(),
        error,
        done,
    }))
}

pub async fn page(
    State(s): State<AppState>,
    sess: Session,
    Query(n): Query<Notice>,
) -> Result<Response, AppError> {
    crate::extract::require_admin_for(&sess.viewer, "manage routing")?;
    let done = n.done.as_deref().and_then(|d| match d {
        "group" => Some("Group saved.".to_string()),
        "agent" => Some("Agent saved.".to_string()),
        _ => None,
    });
    routing_page(&s, &sess, None, done).await
}

fn fields(body: &[u8]) -> HashMap<String, String> {
    form_urlencoded::parse(body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

pub async fn save_group(
    State(s): State<AppState>,
    sess: Session,
    Path(id): Path<i64>,
    body: Bytes,
) -> Result<Response, AppError> {
    let f = fields(&body);
    if !csrf_ok(&sess.token, f.get("csrf").map(String::as_str).unwrap_or("")) {
        return Ok(forbidden_csrf());
    }
    crate::extract::require_admin_for(&sess.viewer, "manage routing")?;
    let input = GroupRoutingIn {
        mode: Some(f.get("mode").cloned().unwrap_or_default()),
        reassign_when_off: Some(f.contains_key("reassign_when_off")),
    };
    let result = async {
        // The lead first (a form without the field leaves it alone; an unchanged one is not
        // written, so the audit log shows only real changes): a refused lead (an agent
        // deactivated meanwhile) then leaves the mode unsaved too.
        if let Some(raw) = f.get("lead") {
            let lead = match raw.trim() {
                "" => None,
                x => Some(
                    x.parse::<i64>()
                        .map_err(|_| AppError::invalid("lead", "choose an agent"))?,
                ),
            };
            if s.store.group_lead(id).await? != lead {
                set_lead_checked(&s, &sess.viewer, id, lead).await?;
            }
        }
        set_group_checked(&s, &sess.viewer, id, input).await?;
        Ok::<_, AppError>(())
    }
    .await;
    match result {
        Ok(_) => Ok(Redirect::to("/admin/routing?done=group").into_response()),
        Err(e) => routing_page(&s, &sess, Some(form_error(e)?), None).await,
    }
}

pub async fn save_agent(
    State(s): State<AppState>,
    sess: Session,
    Path(id): Path<i64>,
    body: Bytes,
) -> Result<Response, AppError> {
    let f = fields(&body);
    if !csrf_ok(&sess.token, f.get("csrf").map(String::as_str).unwrap_or("")) {
        return Ok(forbidden_csrf());
    }
    crate::extract::require_admin_for(&sess.viewer, "manage routing")?;
    let capacity = match f.get("capacity").map(|c| c.trim()).unwrap_or("") {
        "" => None,
        c => Some(c.parse::<i64>().map_err(|_| {
            AppError::invalid(
                "capacity",
                "a whole number from 0 to 10000, or empty for unlimited",
            )
        })),
    };
    let result = async {
        let input = AgentRoutingIn {
            availability: Some(f.get("availability").cloned().unwrap_or_default()),
            skills: Some(
                f.get("skills")
                    .map(|s| {
                        s.split([' ', ',', '\n', '\r', '\t'])
                            .filter(|x| !x.is_empty())
                            .map(str::to_string)
                            .collect()
                    })
                    .unwrap_or_default(),
            ),
            capacity: Some(capacity.transpose()?),
        };
        set_agent_checked(&s, &sess.viewer, id, input).await
    }
    .await;
    match result {
        Ok(_) => Ok(Redirect::to("/admin/routing?done=agent").into_response()),
        Err(e) => routing_page(&s, &sess, Some(form_error(e)?), None).await,
    }
}

/// Back to the page the switch was on (same-site paths only), else the agent's queue.
fn back(h: &HeaderMap) -> String {
    let r = h
        .get(header::REFERER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let path = match r.find("://") {
        Some(i) => {
            let rest = &r[i + 3..];
            rest.find('/').map(|j| &rest[j..]).unwrap_or("/")
        }
        None => r,
    };
    if path.starts_with('/') && !path.starts_with("//") && !path.contains('\\') {
        path.to_string()
    } else {
        "/views/mine".to_string()
    }
}

/// The header switch: sets the signed-in agent's own availability.
pub async fn set_mine(
    State(s): State<AppState>,
    sess: Session,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    let f = fields(&body);
    if !csrf_ok(&sess.token, f.get("csrf").map(String::as_str).unwrap_or("")) {
        return Ok(forbidden_csrf());
    }
    let input = AgentRoutingIn {
        availability: Some(f.get("availability").cloned().unwrap_or_default()),
        ..Default::default()
    };
    set_agent_checked(&s, &sess.viewer, sess.viewer.agent_id, input).await?;
    Ok(Redirect::to(&back(&headers)).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn back_goes_to_local_paths_only() {
        let h = |v: &str| {
            let mut m = HeaderMap::new();
            m.insert(header::REFERER, v.parse().unwrap());
            m
        };
        assert_eq!(back(&h("http://tend.test/tickets/4?x=1")), "/tickets/4?x=1");
        assert_eq!(back(&h("/views/unassigned")), "/views/unassigned");
        assert_eq!(back(&h("//evil.test/x")), "/views/mine");
        assert_eq!(back(&h("javascript:alert(1)")), "/views/mine");
        assert_eq!(back(&HeaderMap::new()), "/views/mine");
        assert_eq!(back(&h("http://tend.test")), "/");
    }
}
