//! Escalation levels, working-hours-aware notifications and the outbound automation actions
//! (issue 5). The rules are pure in `tend_core::escalation` and `tend_core::automation`; this
//! module does their I/O.
//!
//! - [`fire_level`]: one escalation level's actions on one ticket (reassign, raise priority,
//!   notifications). The `sla.check` job calls it once per target, run and level and records
//!   what it did on the timeline.
//! - Notifications to agents are `notify.agent` jobs whose `run_at` is the start of the
//!   agent's next working period ([`tend_core::escalation::deliver_at`]) — now when they are
//!   working or have no hours. When the job runs it checks that its reason still holds (an
//!   SLA target still breached and not met), drops it otherwise, and queues the mail. If the
//!   agent's hours changed meanwhile and they are off now, it waits again.
//! - `webhook` actions are `automation.webhook` jobs: one signed POST, retried with the
//!   worker's backoff like webhook deliveries, then dead.

use serde_json::{json, Value};
use std::collections::HashMap;
use tend_core::automation::{Outbound, Recipient};
use tend_core::escalation::{deliver_at, Level};
use tend_core::sla::Calendar;
use tend_core::{Actor, Role, Ticket, Viewer};
use tend_store::escalation::{action_webhook_job, notify_job};
use tend_store::{PageRequest, Store, StoreError};

fn system() -> Viewer {
    Viewer {
        agent_id: 0,
        role: Role::Admin,
        group_ids: vec![],
    }
}

fn err(e: StoreError) -> String {
    e.to_string()
}

/// An agent's working hours, parsed (`None`: none set, or unreadable — then deliver now).
pub async fn hours_of(store: &dyn Store, agent_id: i64) -> Result<Option<Calendar>, String> {
    let Some(h) = store.agent_hours(agent_id).await.map_err(err)? else {
        return Ok(None);
    };
    match Calendar::parse(&h.calendar) {
        Ok(c) => Ok(Some(c)),
        Err(e) => {
            tracing::warn!(agent = agent_id, error = %e, "stored working hours do not parse; delivering now");
            Ok(None)
        }
    }
}

/// Queues a notification to an agent for the start of their working hours. Returns what it
/// did, for the timeline (`mailed a@x`, or `mail to a@x at … UTC (working hours)`); `None`
/// when the agent is gone or inactive.
pub async fn notify_agent(
    store: &dyn Store,
    agent_id: i64,
    ticket_id: i64,
    subject: String,
    text: String,
    reason: Value,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Option<String>, String> {
    let agent = match store.get_agent(agent_id).await {
        Ok(a) if a.active => a,
        Ok(_) | Err(StoreError::NotFound(_)) => return Ok(None),
        Err(e) => return Err(e.to_string()),
    };
    let cal = hours_of(store, agent_id).await?;
    let at = deliver_at(cal.as_ref(), now);
    let payload = json!({
        "agent_id": agent_id,
        "ticket_id": ticket_id,
        "subject": subject,
        "text": text,
        "reason": reason,
    });
    store
        .enqueue_job(notify_job(payload, at))
        .await
        .map_err(err)?;
    Ok(Some(if at > now {
        format!(
            "mail to {} at {} UTC (working hours)",
            agent.email,
            at.format("%Y-%m-%d %H:%M")
        )
    } else {
        format!("mailed {}", agent.email)
    }))
}

/// The `notify.agent` job: drops the notification if its reason has gone, waits again if the
/// agent is off now, else queues the mail.
pub async fn run_notify(
    store: &dyn Store,
    now: chrono::DateTime<chrono::Utc>,
    payload: &Value,
) -> Result<(), String> {
    let agent_id = payload["agent_id"]
        .as_i64()
        .ok_or("payload has no agent_id")?;
    let ticket_id = payload["ticket_id"]
        .as_i64()
        .ok_or("payload has no ticket_id")?;
    let agent = match store.get_agent(agent_id).await {
        Ok(a) if a.active => a,
        Ok(_) | Err(StoreError::NotFound(_)) => return Ok(()),
        Err(e) => return Err(e.to_string()),
    };
    if !reason_holds(store, ticket_id, &payload["reason"], now).await? {
        tracing::info!(
            ticket = ticket_id,
            agent = agent_id,
            "notification dropped: its reason has gone"
        );
        return Ok(());
    }
    let at = deliver_at(hours_of(store, agent_id).await?.as_ref(), now);
    if at > now {
        // The hours changed since it was queued: wait for the next working period.
        store
            .enqueue_job(notify_job(payload.clone(), at))
            .await
            .map_err(err)?;
        return Ok(());
    }
    let mail = crate::mail::OutMail {
        to: agent.email.clone(),
        subject: payload["subject"].as_str().unwrap_or("").to_string(),
        text: payload["text"].as_str().unwrap_or("").to_string(),
        html: None,
        ..Default::default()
    };
    store
        .enqueue_job(crate::mail::job(&mail, now))
        .await
        .map_err(err)?;
    Ok(())
}

/// Whether a notification's reason still holds: `{"kind": "sla", "metric", "cycle"}` while
/// that target is breached and not met; anything else while the ticket exists.
async fn reason_holds(
    store: &dyn Store,
    ticket_id: i64,
    reason: &Value,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<bool, String> {
    match store.get_ticket(ticket_id, &system()).await {
        Ok(_) => {}
        Err(StoreError::NotFound(_)) => return Ok(false),
        Err(e) => return Err(e.to_string()),
    }
    if reason["kind"] != "sla" {
        return Ok(true);
    }
    let metric = reason["metric"].as_str().unwrap_or("");
    let cycle = reason["cycle"].as_u64().unwrap_or(0) as u32;
    target_open_breach(store, ticket_id, metric, cycle, now).await
}

/// The ticket's events, oldest first.
pub async fn all_events(store: &dyn Store, id: i64) -> Result<Vec<tend_store::Event>, StoreError> {
    let mut events = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .ticket_events(
                id,
                &system(),
                PageRequest {
                    after_id: after,
                    limit: 1000,
                },
            )
            .await?;
        after = page.items.last().map(|e| e.seq);
        events.extend(page.items);
        if page.next_cursor.is_none() {
            break;
        }
    }
    Ok(events)
}

/// Whether the ticket's SLA target (`metric`, `cycle`) is breached and still not met.
async fn target_open_breach(
    store: &dyn Store,
    id: i64,
    metric: &str,
    cycle: u32,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<bool, String> {
    use tend_core::sla::SlaState;
    let Some(v) = store
        .get_setting(crate::api::sla::SETTING)
        .await
        .map_err(err)?
    else {
        return Ok(false);
    };
    let cfg: crate::api::sla::SlaConfig =
        serde_json::from_value(v).map_err(|e| format!("stored SLA config: {e}"))?;
    // The ticket's own calendar (per policy, group or brand), as the `sla.check` job uses.
    let cals = cfg
        .calendars()
        .map_err(|e| format!("stored SLA config: {e}"))?;
    let events: Vec<_> = all_events(store, id)
        .await
        .map_err(err)?
        .into_iter()
        .map(|e| (e.at, e.actor, e.change))
        .collect();
    let Some(targets) =
        tend_core::sla::evaluate_ticket_on(&events, &cals, &cfg.policies, None, now)
            .map(|e| e.targets)
    else {
        return Ok(false);
    };
    Ok(targets.iter().any(|ts| {
        metric_name(ts.metric) == metric
            && ts.cycle == cycle
            && ts.state == SlaState::Breached
            && ts.fulfilled_at.is_none()
    }))
}

/// The stored SLA configuration and its default calendar (`None`: none saved); business-hour
/// automations count in it.
pub async fn sla_config(
    store: &dyn Store,
) -> Result<Option<(crate::api::sla::SlaConfig, Calendar)>, String> {
    let Some(v) = store
        .get_setting(crate::api::sla::SETTING)
        .await
        .map_err(err)?
    else {
        return Ok(None);
    };
    let cfg: crate::api::sla::SlaConfig =
        serde_json::from_value(v).map_err(|e| format!("stored SLA config: {e}"))?;
    let cal = cfg.check().map_err(|e| format!("stored SLA config: {e}"))?;
    Ok(Some((cfg, cal)))
}

/// A metric as the events name it (`first_reply`, …).
pub fn metric_name<T: serde::Serialize>(m: T) -> String {
    serde_json::to_value(m)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// Fires one escalation level on a breached target: moves the ticket to the level's group
/// and raises its priority (one write, as the system), then notifies the assignee, the lead
/// of the ticket's (new) group and the named agent — each person once, at the start of their
/// working hours. Returns what it did, for the timeline.
#[allow(clippy::too_many_arguments)]
pub async fn fire_level(
    store: &dyn Store,
    level: &Level,
    number: u32,
    t: &Ticket,
    metric: &str,
    cycle: u32,
    why: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<String>, String> {
    use tend_core::Priority;
    let mut done = Vec::new();
    let mut patch = tend_core::ticket::Patch::default();
    let mut group = t.group_id;
    if let Some(g) = level.reassign_group.filter(|g| t.group_id != Some(*g)) {
        patch.group_id = Some(Some(g));
        group = Some(g);
    }
    if level.raise_priority {
        let up = match t.priority {
            Priority::Low => Some(Priority::Normal),
            Priority::Normal => Some(Priority::High),
            Priority::High => Some(Priority::Urgent),
            Priority::Urgent => None,
        };
        if let Some(p) = up {
            patch.priority = Some(p);
            done.push(format!("priority {} → {p}", t.priority));
        }
    }
    if !patch.is_empty() {
        match store
            .update_ticket(t.id, patch.clone(), &system(), Actor::SYSTEM, now)
            .await
        {
            Ok(_) => {
                if let Some(Some(g)) = patch.group_id {
                    let name = store.get_group(g).await.map(|g| g.name).unwrap_or_default();
                    done.insert(0, format!("moved to group {name}"));
                }
            }
            Err(e) => {
                // A group deleted since the save must not stop the notifications.
                tracing::warn!(ticket = t.id, error = %e, "escalation: ticket change failed");
                done.retain(|d| !d.starts_with("priority"));
                group = t.group_id;
            }
        }
    }
    let mut to: Vec<i64> = Vec::new();
    if level.notify_assignee {
        to.extend(t.assignee_id);
    }
    if level.notify_group_lead {
        if let Some(g) = group {
            match store.group_lead(g).await {
                Ok(lead) => to.extend(lead),
                Err(e) => {
                    tracing::warn!(ticket = t.id, error = %e, "escalation: group lead unknown");
                    done.push(format!("group lead not notified: {e}"));
                }
            }
        }
    }
    to.extend(level.notify_agent);
    let mut seen = std::collections::HashSet::new();
    to.retain(|a| seen.insert(*a));
    let what = metric.replace('_', " ");
    for a in to {
        let name = store.get_agent(a).await.map(|a| a.name).unwrap_or_default();
        let (subject, text) = if number <= 1 {
            (
                format!("SLA breached: #{} {}", t.id, t.subject),
                format!(
                    "Hello {name},\n\nthe {what} target of ticket #{} ({}) was breached.\n{why}\n",
                    t.id, t.subject
                ),
            )
        } else {
            (
                format!("SLA escalation level {number}: #{} {}", t.id, t.subject),
                format!(
                    "Hello {name},\n\nthe {what} target of ticket #{} ({}) is still breached: escalation level {number}.\n{why}\n",
                    t.id, t.subject
                ),
            )
        };
        let reason = json!({"kind": "sla", "metric": metric, "cycle": cycle, "level": number});
        // Each step is best effort and ends up in the timeline: failing here would make the
        // job retry the whole level (a second mail to those already told, priority raised
        // twice), because the level is marked as fired only after it ran.
        match notify_agent(store, a, t.id, subject, text, reason, now).await {
            Ok(Some(d)) => done.push(d),
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(ticket = t.id, agent = a, error = %e, "escalation: notification not queued");
                done.push(format!("{name} not notified: {e}"));
            }
        }
    }
    Ok(done)
}

/// Sends a firing's outbound actions (trigger `trigger_id`, or automation `automation_id`):
/// notifications at each recipient's working hours, webhook posts now. Templates are
/// rendered against `values` (the ticket placeholders). Returns what it did, one line each,
/// for the timeline (`mailed a@x`, `webhook https://host/… called`, or why nobody was
/// mailed). `AssignAutomatically` is not sent from here (the runner does it first).
pub async fn send_outbound(
    store: &dyn Store,
    t: &Ticket,
    outs: Vec<Outbound>,
    values: &HashMap<String, String>,
    source: Value,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<String>, String> {
    let mut done = Vec::new();
    for o in outs {
        match o {
            Outbound::AssignAutomatically => {}
            Outbound::Notify { to, subject, body } => {
                let render = |x: &str| tend_core::template::render(x, values);
                let (subject, text) = match (render(&subject), render(&body)) {
                    (Ok(s), Ok(b)) => (s, b),
                    (Err(e), _) | (_, Err(e)) => {
                        tracing::warn!(ticket = t.id, error = %e, "notify action template");
                        done.push(format!("not mailed: the template failed ({e})"));
                        continue;
                    }
                };
                let subject: String = subject.chars().filter(|c| !c.is_control()).collect();
                // Best effort per recipient and action: the trigger's events are already
                // claimed, so an error here would drop every action after it on a retry.
                let to_ids = match recipients(store, t, to).await {
                    Ok(to) => to,
                    Err(e) => {
                        tracing::warn!(ticket = t.id, error = %e, "notify action: recipients");
                        done.push("not mailed: the recipients could not be read (logged)".into());
                        continue;
                    }
                };
                if to_ids.is_empty() {
                    done.push(
                        match to {
                            Recipient::Assignee => "nobody mailed: the ticket has no assignee",
                            Recipient::GroupLead => "nobody mailed: the ticket's group has no lead",
                            Recipient::Agent(_) | Recipient::Group(_) => {
                                "nobody mailed: no such agent or group members"
                            }
                        }
                        .to_string(),
                    );
                }
                for a in to_ids {
                    match notify_agent(
                        store,
                        a,
                        t.id,
                        subject.clone(),
                        text.clone(),
                        json!({"kind": "automation", "source": source}),
                        now,
                    )
                    .await
                    {
                        Ok(Some(line)) => done.push(line),
                        Ok(None) => done.push(format!("agent {a} not mailed: not active")),
                        Err(e) => {
                            tracing::warn!(ticket = t.id, agent = a, error = %e, "notify action not queued");
                            done.push(format!("agent {a} not mailed: a server error (logged)"));
                        }
                    }
                }
            }
            Outbound::Webhook { url, secret } => {
                let body = json!({
                    "kind": "automation.webhook",
                    "at": now,
                    "source": source,
                    "ticket": t,
                });
                let shown = webhook_shown(&url);
                match store
                    .enqueue_job(action_webhook_job(
                        json!({"url": url, "secret": secret, "body": body}),
                        now,
                    ))
                    .await
                {
                    Ok(_) => done.push(format!("queued a call to webhook {shown}")),
                    Err(e) => {
                        tracing::warn!(ticket = t.id, error = %e, "webhook action not queued");
                        done.push(format!(
                            "webhook {shown} not called: a server error (logged)"
                        ));
                    }
                }
            }
        }
    }
    Ok(done)
}

/// A webhook URL as the timeline shows it: scheme and host only (paths and queries of chat
/// webhooks often carry their token).
fn webhook_shown(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let raw = rest.split(['/', '?', '#']).next().unwrap_or("");
            let host = raw.rsplit('@').next().unwrap_or(raw);
            let more = !matches!(&rest[raw.len()..], "/" | "");
            format!("{scheme}://{host}{}", if more { "/…" } else { "" })
        }
        None => "(bad URL)".into(),
    }
}

/// The agent ids a `notify` action mails (active ones are checked when queued).
async fn recipients(store: &dyn Store, t: &Ticket, to: Recipient) -> Result<Vec<i64>, String> {
    Ok(match to {
        Recipient::Assignee => t.assignee_id.into_iter().collect(),
        Recipient::GroupLead => match t.group_id {
            Some(g) => store
                .group_lead(g)
                .await
                .map_err(err)?
                .into_iter()
                .collect(),
            None => vec![],
        },
        Recipient::Agent(a) => vec![a],
        Recipient::Group(g) => match store.get_group(g).await {
            Ok(g) => g.member_ids,
            Err(StoreError::NotFound(_)) => vec![],
            Err(e) => return Err(e.to_string()),
        },
    })
}

/// The `automation.webhook` job: one signed POST of the payload's `body` to its `url`.
pub async fn run_webhook(
    http: &reqwest::Client,
    now: chrono::DateTime<chrono::Utc>,
    job: &tend_store::Job,
) -> Result<(), String> {
    let url = job.payload["url"].as_str().ok_or("payload has no url")?;
    let secret = job.payload["secret"].as_str().unwrap_or("");
    // Checked at save time; checked again so a hand-edited payload cannot reach elsewhere.
    let url = tend_core::parse_http_url("url", url).map_err(|e| e.to_string())?;
    let body = serde_json::to_vec(&job.payload["body"]).map_err(|e| e.to_string())?;
    let resp = http
        .post(&url)
        .header("content-type", "application/json")
        .header("tend-event", "automation.webhook")
        .header("tend-delivery", format!("{}-{}", job.id, job.attempts))
        .header(
            "tend-signature",
            crate::worker::sign(secret, now.timestamp(), &body),
        )
        .body(body)
        .send()
        .await
        .map_err(|e| format!("delivery to {url} failed: {e}"))?;
    if resp.status().is_success() {
        Ok(())
    } else {
        Err(format!("{url} answered HTTP {}", resp.status().as_u16()))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn webhook_urls_are_shown_without_path_or_credentials() {
        use super::webhook_shown;
        assert_eq!(
            webhook_shown("https://hooks.example.com/services/T0/B0/secret"),
            "https://hooks.example.com/…"
        );
        assert_eq!(
            webhook_shown("http://a:b@x.test:8080/"),
            "http://x.test:8080"
        );
        assert_eq!(webhook_shown("https://x.test"), "https://x.test");
        assert_eq!(webhook_shown("https://x.test?token=1"), "https://x.test/…");
    }
}
