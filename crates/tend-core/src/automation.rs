//! Triggers: event → conditions → actions. Pure: the caller passes the ticket state after an
//! event and what happened; [`run_chain`] answers which triggers fire and what they change.
//!
//! # Semantics
//! - A trigger has `on` (one or more of `created`, `updated`, `customer_replied`,
//!   `agent_replied`), conditions (`all` must hold, and at least one of `any` if it is not
//!   empty) and an ordered list of actions (set status, priority, group, assignee; add or
//!   remove tags; a public reply or an internal note from a template).
//! - **What happened** ([`Happened::from_changes`]) is read from the events of one write:
//!   `Created` → created (the first message belongs to the creation); a public message by a
//!   customer → customer replied, by an agent → agent replied; any other change of the ticket
//!   (status, priority, tags, an internal note, …) → updated. SLA, link and survey marks are
//!   not changes. Events written by a trigger ([`trigger_actor`]) are never an origin: they
//!   belong to the chain that made them.
//! - **Order**: active triggers by `position`, then id. A chain walks them in order; each
//!   trigger that matches the ticket *as the earlier firings left it* fires, and after a pass
//!   in which something fired the walk starts again from the top, so an earlier trigger can
//!   react to a later one's change. The origin's kinds stay the same for the whole chain.
//! - **Loop safety**: a trigger fires at most once per chain (per originating write), and a
//!   chain fires at most [`MAX_CHAIN`] triggers; the rest is reported as `capped`. Trigger
//!   changes are written with [`trigger_actor`] (a system actor carrying the trigger id), so
//!   they do not start a new chain. Two triggers that undo each other therefore fire once
//!   each and stop.
//! - **Save-time checks** ([`TriggerDef::validate`]): a name, at least one `on` kind, at least
//!   one action, templates whose placeholders are all known ([`crate::template`]), no action
//!   that contradicts another (adding and removing one tag, setting one value twice).
//!
//! # Time-based automations
//! [`AutomationDef`]: "`hours` after `since` (status change, creation, last customer message),
//! if the conditions hold, do the actions". [`automation_due`] answers for one ticket and a
//! time; it returns the status period (its start) under which the caller records the run, so
//! an automation acts at most once per ticket per status period. Hours are calendar hours,
//! or business hours of the SLA calendar with `"business_hours": true`. Solved and closed
//! tickets are never due.
//!
//! # Outbound actions
//! `notify` (mail to the assignee, the group's lead, an agent or a group's members) and
//! `webhook` (a signed POST) change nothing on the ticket; [`outbound`] lists them and the
//! runner sends them after the ticket changes of the same firing, and records what it sent
//! on the ticket's timeline (`Change::AutomationActed`: "mailed a@x", "webhook … queued").
//!
//! # Assign automatically
//! `{"type": "assign_automatically"}` routes the ticket like the routing jobs do
//! (`tend_web::routing::assign_ticket_as`): an online member of its group with room and the
//! skills, by the group's mode — and in a group whose mode is manual, the least loaded of
//! them. It runs right after the firing's ticket changes (so a `set_group` of the same
//! trigger picks the group) and before its messages and mail (so `{{agent.name}}` and
//! `notify assignee` see the new assignee). Only new or open, unassigned tickets in a group
//! are assigned; otherwise, or when nobody fits, the timeline says why. Later triggers of
//! the chain do not see the assignment (it is made at run time, not simulated). At save
//! time: not together with `set_assignee`, nor with a `set_group` that clears the group.

use crate::template::{validate_template, TICKET_PLACEHOLDERS};
use crate::ticket::{apply, diff, Patch};
use crate::{Actor, ActorKind, Change, Channel, Invalid, Priority, Status, Ticket};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;

/// At most this many firings per chain.
pub const MAX_CHAIN: usize = 10;
/// At most this many triggers (each a row; all are read per run).
pub const MAX_TRIGGERS: usize = 500;

/// The actor of changes a trigger makes: a system actor with the trigger's id.
pub fn trigger_actor(trigger_id: i64) -> Actor {
    Actor {
        kind: ActorKind::System,
        id: Some(trigger_id),
    }
}

/// The trigger behind an actor, if it is a trigger actor.
pub fn trigger_of(a: &Actor) -> Option<i64> {
    match a.kind {
        ActorKind::System => a.id,
        _ => None,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum On {
    Created,
    Updated,
    CustomerReplied,
    AgentReplied,
}

/// What one write did to a ticket (origin events only).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Happened {
    pub created: bool,
    pub updated: bool,
    pub customer_replied: bool,
    pub agent_replied: bool,
    /// The message ids added by the origin events, oldest first.
    pub message_ids: Vec<i64>,
}

impl Happened {
    pub fn from_changes<'a>(events: impl IntoIterator<Item = (&'a Actor, &'a Change)>) -> Happened {
        let mut h = Happened::default();
        for (a, c) in events {
            if trigger_of(a).is_some() {
                continue;
            }
            match c {
                Change::Created { .. } => h.created = true,
                Change::MessageAdded {
                    message_id, public, ..
                } => {
                    h.message_ids.push(*message_id);
                    match (public, a.kind) {
                        (true, ActorKind::Customer) => h.customer_replied = true,
                        (true, ActorKind::Agent) => h.agent_replied = true,
                        _ => h.updated = true,
                    }
                }
                Change::SlaWarning { .. }
                | Change::SlaBreached { .. }
                | Change::SlaEscalated { .. }
                | Change::AutomationActed { .. }
                | Change::Linked { .. }
                | Change::SurveySent { .. }
                | Change::SurveyAnswered { .. } => {}
                _ => h.updated = true,
            }
        }
        if h.created {
            // The first message and initial values belong to the creation.
            h.updated = false;
            h.customer_replied = false;
            h.agent_replied = false;
        }
        h
    }

    pub fn is_empty(&self) -> bool {
        !(self.created || self.updated || self.customer_replied || self.agent_replied)
    }

    pub fn has(&self, on: On) -> bool {
        match on {
            On::Created => self.created,
            On::Updated => self.updated,
            On::CustomerReplied => self.customer_replied,
            On::AgentReplied => self.agent_replied,
        }
    }
}

/// One condition on the ticket (and the text of the message the event added).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Condition {
    /// The status is one of these.
    StatusIs {
        value: Vec<Status>,
    },
    StatusIsNot {
        value: Vec<Status>,
    },
    PriorityIs {
        value: Vec<Priority>,
    },
    ChannelIs {
        value: Vec<Channel>,
    },
    /// The group is this one (`null`: no group).
    GroupIs {
        value: Option<i64>,
    },
    BrandIs {
        value: Option<i64>,
    },
    AssigneeSet,
    AssigneeUnset,
    TagPresent {
        value: String,
    },
    TagAbsent {
        value: String,
    },
    /// Case-insensitive substring of the subject.
    SubjectContains {
        value: String,
    },
    /// Case-insensitive substring of the message the event added (none: false).
    BodyContains {
        value: String,
    },
}

impl Condition {
    pub fn matches(&self, t: &Ticket, body: Option<&str>) -> bool {
        let has = |hay: &str, needle: &str| hay.to_lowercase().contains(&needle.to_lowercase());
        match self {
            Condition::StatusIs { value } => value.contains(&t.status),
            Condition::StatusIsNot { value } => !value.contains(&t.status),
            Condition::PriorityIs { value } => value.contains(&t.priority),
            Condition::ChannelIs { value } => value.contains(&t.channel),
            Condition::GroupIs { value } => t.group_id == *value,
            Condition::BrandIs { value } => t.brand_id == *value,
            Condition::AssigneeSet => t.assignee_id.is_some(),
            Condition::AssigneeUnset => t.assignee_id.is_none(),
            Condition::TagPresent { value } => t.tags.iter().any(|x| x == value),
            Condition::TagAbsent { value } => !t.tags.iter().any(|x| x == value),
            Condition::SubjectContains { value } => has(&t.subject, value),
            Condition::BodyContains { value } => body.is_some_and(|b| has(b, value)),
        }
    }

    fn validate(&self, field: &str) -> Result<(), Invalid> {
        let list_empty = match self {
            Condition::StatusIs { value } | Condition::StatusIsNot { value } => value.is_empty(),
            Condition::PriorityIs { value } => value.is_empty(),
            Condition::ChannelIs { value } => value.is_empty(),
            _ => false,
        };
        if list_empty {
            return Err(Invalid::new(
                format!("{field}.value"),
                "list at least one value",
            ));
        }
        match self {
            Condition::TagPresent { value } | Condition::TagAbsent { value } => {
                check_tag(value, &format!("{field}.value"))
            }
            Condition::SubjectContains { value } | Condition::BodyContains { value } => {
                if value.trim().is_empty() || value.chars().count() > 200 {
                    Err(Invalid::new(
                        format!("{field}.value"),
                        "must be 1 to 200 characters",
                    ))
                } else {
                    Ok(())
                }
            }
            _ => Ok(()),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Conditions {
    #[serde(default)]
    pub all: Vec<Condition>,
    #[serde(default)]
    pub any: Vec<Condition>,
}

impl Conditions {
    pub fn matches(&self, t: &Ticket, body: Option<&str>) -> bool {
        self.all.iter().all(|c| c.matches(t, body))
            && (self.any.is_empty() || self.any.iter().any(|c| c.matches(t, body)))
    }
}

/// One thing a trigger does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Action {
    SetStatus {
        value: Status,
    },
    SetPriority {
        value: Priority,
    },
    /// `null` clears.
    SetGroup {
        value: Option<i64>,
    },
    /// `null` clears.
    SetAssignee {
        value: Option<i64>,
    },
    AddTags {
        value: Vec<String>,
    },
    RemoveTags {
        value: Vec<String>,
    },
    /// A public reply to the requester from a template (mailed like an agent reply).
    Reply {
        body: String,
    },
    /// An internal note from a template.
    Note {
        body: String,
    },
    /// Mail to agents from a subject and body template (the ticket placeholders). Sent at the
    /// start of each recipient's working hours when they have some and are off now.
    Notify {
        to: Recipient,
        subject: String,
        body: String,
    },
    /// POST the ticket as JSON to an http(s) URL, signed with `secret` like webhook
    /// deliveries (`Tend-Signature`) and retried the same way.
    Webhook {
        url: String,
        secret: String,
    },
    /// Route the ticket to a member of its group (see the module documentation). Takes no
    /// value: `{"type": "assign_automatically"}` (a struct variant so that other keys are
    /// refused like everywhere else).
    AssignAutomatically {},
}

/// Who a `notify` action mails: `"assignee"`, `"group_lead"` (the lead of the ticket's
/// group), `{"agent": id}` or `{"group": id}` (its members).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Recipient {
    Assignee,
    GroupLead,
    Agent(i64),
    Group(i64),
}

/// What a firing does through other paths than its ticket patch: mail to agents, webhook
/// posts, automatic assignment.
#[derive(Debug, Clone, PartialEq)]
pub enum Outbound {
    /// Route the ticket (done first, right after the patch).
    AssignAutomatically,
    Notify {
        to: Recipient,
        subject: String,
        body: String,
    },
    Webhook {
        url: String,
        secret: String,
    },
}

/// A message a firing adds: public reply or internal note, template not yet rendered.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedMessage {
    pub public: bool,
    pub template: String,
}

/// What one trigger definition says (as stored and sent over the API).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TriggerDef {
    pub name: String,
    #[serde(default = "yes")]
    pub active: bool,
    #[serde(default)]
    pub position: i64,
    pub on: Vec<On>,
    #[serde(default)]
    pub conditions: Conditions,
    pub actions: Vec<Action>,
}

fn yes() -> bool {
    true
}

fn check_tag(t: &str, field: &str) -> Result<(), Invalid> {
    if t.is_empty() || t.chars().count() > 100 || t.chars().any(|c| c.is_whitespace() || c == ',') {
        return Err(Invalid::new(
            field,
            format!("tag {t:?} must be 1 to 100 characters without spaces or commas"),
        ));
    }
    Ok(())
}

impl TriggerDef {
    /// Save-time checks; the error names the field (`actions[1].body`, …).
    pub fn validate(&self) -> Result<(), Invalid> {
        let name = self.name.trim();
        if name.is_empty() || name.chars().count() > 200 {
            return Err(Invalid::new("name", "must be 1 to 200 characters"));
        }
        if self.on.is_empty() {
            return Err(Invalid::new(
                "on",
                "list at least one of created, updated, customer_replied, agent_replied",
            ));
        }
        validate_conditions(&self.conditions, "")?;
        validate_actions(&self.actions, "")
    }

    /// The ticket changes and messages of this trigger's actions.
    pub fn effects(&self) -> (Patch, Vec<PlannedMessage>) {
        effects(&self.actions)
    }

    /// Agent and group ids the actions refer to (for existence checks at save time).
    pub fn referenced(&self) -> (Refs, Refs) {
        referenced(&self.actions)
    }
}

/// Save-time checks of conditions; fields are `{prefix}conditions.all[i]…`.
pub fn validate_conditions(c: &Conditions, prefix: &str) -> Result<(), Invalid> {
    if c.all.len() + c.any.len() > 50 {
        return Err(Invalid::new(
            format!("{prefix}conditions"),
            "at most 50 conditions",
        ));
    }
    for (i, x) in c.all.iter().enumerate() {
        x.validate(&format!("{prefix}conditions.all[{i}]"))?;
    }
    for (i, x) in c.any.iter().enumerate() {
        x.validate(&format!("{prefix}conditions.any[{i}]"))?;
    }
    Ok(())
}

/// Save-time checks of an action list; fields are `{prefix}actions[i]…`.
pub fn validate_actions(actions: &[Action], prefix: &str) -> Result<(), Invalid> {
    if actions.is_empty() {
        return Err(Invalid::new(
            format!("{prefix}actions"),
            "a trigger needs at least one action",
        ));
    }
    if actions.len() > 20 {
        return Err(Invalid::new(
            format!("{prefix}actions"),
            "at most 20 actions",
        ));
    }
    let mut set: HashSet<&'static str> = HashSet::new();
    let mut added: HashSet<&str> = HashSet::new();
    let mut removed: HashSet<&str> = HashSet::new();
    for (i, a) in actions.iter().enumerate() {
        let field = format!("{prefix}actions[{i}]");
        let once = match a {
            Action::SetStatus { .. } => Some("set_status"),
            Action::SetPriority { .. } => Some("set_priority"),
            Action::SetGroup { .. } => Some("set_group"),
            Action::SetAssignee { .. } => Some("set_assignee"),
            Action::AssignAutomatically {} => Some("assign_automatically"),
            _ => None,
        };
        if let Some(k) = once {
            if !set.insert(k) {
                return Err(Invalid::new(field, format!("{k} appears twice")));
            }
        }
        match a {
            Action::AddTags { value } | Action::RemoveTags { value } => {
                if value.is_empty() {
                    return Err(Invalid::new(
                        format!("{field}.value"),
                        "list at least one tag",
                    ));
                }
                let adding = matches!(a, Action::AddTags { .. });
                for t in value {
                    check_tag(t, &format!("{field}.value"))?;
                    let (mine, other) = if adding {
                        (&mut added, &removed)
                    } else {
                        (&mut removed, &added)
                    };
                    if other.contains(t.as_str()) {
                        return Err(Invalid::new(
                            format!("{field}.value"),
                            format!("tag {t:?} is both added and removed"),
                        ));
                    }
                    mine.insert(t.as_str());
                }
            }
            Action::Reply { body } | Action::Note { body } => {
                check_template(body, 64 * 1024, &format!("{field}.body"))?;
            }
            Action::Notify { subject, body, .. } => {
                if subject.chars().count() > 200 || subject.contains(['\r', '\n']) {
                    return Err(Invalid::new(
                        format!("{field}.subject"),
                        "must be one line of at most 200 characters",
                    ));
                }
                check_template(subject, 1024, &format!("{field}.subject"))?;
                check_template(body, 64 * 1024, &format!("{field}.body"))?;
            }
            Action::AssignAutomatically {} => {
                if set.contains("set_assignee") {
                    return Err(Invalid::new(
                        format!("{field}.type"),
                        "assign_automatically and set_assignee both choose the assignee; keep one",
                    ));
                }
                if actions
                    .iter()
                    .any(|a| matches!(a, Action::SetGroup { value: None }))
                {
                    return Err(Invalid::new(
                        format!("{field}.type"),
                        "assign_automatically assigns within the ticket's group, and a set_group action here clears the group",
                    ));
                }
            }
            Action::SetAssignee { .. } if set.contains("assign_automatically") => {
                return Err(Invalid::new(
                    format!("{field}.type"),
                    "assign_automatically and set_assignee both choose the assignee; keep one",
                ));
            }
            Action::Webhook { url, secret } => {
                crate::parse_http_url(&format!("{field}.url"), url)?;
                if !(16..=200).contains(&secret.len()) {
                    return Err(Invalid::new(
                        format!("{field}.secret"),
                        "must be 16 to 200 characters",
                    ));
                }
            }
            _ => {}
        }
    }
    Ok(())
}

fn check_template(t: &str, max: usize, field: &str) -> Result<(), Invalid> {
    if t.trim().is_empty() || t.len() > max {
        return Err(Invalid::new(
            field,
            format!("must be 1 character to {} KiB", max / 1024),
        ));
    }
    validate_template(t, TICKET_PLACEHOLDERS).map_err(|e| {
        let mut inv = Invalid::from(e);
        inv.field = field.to_string();
        inv
    })
}

/// The mail and webhook posts of an action list, in order.
pub fn outbound(actions: &[Action]) -> Vec<Outbound> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Notify { to, subject, body } => Some(Outbound::Notify {
                to: *to,
                subject: subject.clone(),
                body: body.clone(),
            }),
            Action::Webhook { url, secret } => Some(Outbound::Webhook {
                url: url.clone(),
                secret: secret.clone(),
            }),
            Action::AssignAutomatically {} => Some(Outbound::AssignAutomatically),
            _ => None,
        })
        .collect()
}

/// The ticket changes and messages of an action list.
pub fn effects(actions: &[Action]) -> (Patch, Vec<PlannedMessage>) {
    let mut p = Patch::default();
    let mut msgs = Vec::new();
    for a in actions {
        match a {
            Action::SetStatus { value } => p.status = Some(*value),
            Action::SetPriority { value } => p.priority = Some(*value),
            Action::SetGroup { value } => p.group_id = Some(*value),
            Action::SetAssignee { value } => p.assignee_id = Some(*value),
            Action::AddTags { value } => p.add_tags.extend(value.iter().cloned()),
            Action::RemoveTags { value } => p.remove_tags.extend(value.iter().cloned()),
            Action::Reply { body } => msgs.push(PlannedMessage {
                public: true,
                template: body.clone(),
            }),
            Action::Note { body } => msgs.push(PlannedMessage {
                public: false,
                template: body.clone(),
            }),
            Action::Notify { .. } | Action::Webhook { .. } | Action::AssignAutomatically {} => {}
        }
    }
    (p, msgs)
}

/// Agent and group ids an action list refers to, with the action's index.
pub fn referenced(actions: &[Action]) -> (Refs, Refs) {
    let mut agents = Vec::new();
    let mut groups = Vec::new();
    for (i, a) in actions.iter().enumerate() {
        match a {
            Action::SetAssignee { value: Some(id) } => agents.push((i, *id)),
            Action::SetGroup { value: Some(id) } => groups.push((i, *id)),
            Action::Notify {
                to: Recipient::Agent(id),
                ..
            } => agents.push((i, *id)),
            Action::Notify {
                to: Recipient::Group(id),
                ..
            } => groups.push((i, *id)),
            _ => {}
        }
    }
    (agents, groups)
}

/// `(action index, id)` pairs.
pub type Refs = Vec<(usize, i64)>;

/// One trigger firing: its changes and messages, in chain order.
#[derive(Debug, Clone, PartialEq)]
pub struct Firing {
    pub trigger_id: i64,
    pub patch: Patch,
    pub messages: Vec<PlannedMessage>,
    /// Mail to agents and webhook posts (sent after the ticket changes).
    pub outbound: Vec<Outbound>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Chain {
    pub firings: Vec<Firing>,
    /// More triggers matched after [`MAX_CHAIN`] firings; they did not fire.
    pub capped: bool,
    /// The ticket as the firings leave it (simulated).
    pub ticket: Option<Ticket>,
}

/// Which triggers fire for `happened` on ticket `t` (its state after the write), in order,
/// and what each changes. `triggers`: `(id, def)`; inactive ones are skipped; order is by
/// `position`, then id. `body`: the text of the message the write added, if any.
pub fn run_chain(
    triggers: &[(i64, TriggerDef)],
    t: &Ticket,
    happened: &Happened,
    body: Option<&str>,
) -> Chain {
    let mut order: Vec<&(i64, TriggerDef)> = triggers.iter().filter(|(_, d)| d.active).collect();
    order.sort_by_key(|(id, d)| (d.position, *id));
    let mut t = t.clone();
    let mut fired: HashSet<i64> = HashSet::new();
    let mut chain = Chain::default();
    if happened.is_empty() {
        chain.ticket = Some(t);
        return chain;
    }
    'passes: loop {
        let mut any = false;
        for (id, d) in &order {
            if fired.contains(id)
                || !d.on.iter().any(|o| happened.has(*o))
                || !d.conditions.matches(&t, body)
            {
                continue;
            }
            if chain.firings.len() >= MAX_CHAIN {
                chain.capped = true;
                break 'passes;
            }
            fired.insert(*id);
            any = true;
            let (patch, messages) = d.effects();
            for (i, c) in diff(&t, &patch).iter().enumerate() {
                let (seq, at) = (t.last_seq + 1 + i as i64, t.updated_at);
                apply(&mut t, c, seq, at);
            }
            chain.firings.push(Firing {
                trigger_id: *id,
                patch,
                messages,
                outbound: outbound(&d.actions),
            });
        }
        if !any {
            break;
        }
    }
    chain.ticket = Some(t);
    chain
}

// --- time-based automations ------------------------------------------------------------------

/// What an automation's hours count from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Since {
    /// The last status change (or creation, if the status never changed).
    StatusChanged,
    Created,
    /// The last public customer message (never: the automation does not apply).
    CustomerMessage,
}

/// A time-based automation: "`hours` after `since`, if the conditions hold, do the actions".
/// Checked by the periodic `automation.sweep` job on open tickets (new, open, pending, on
/// hold); applies at most once per ticket per status period ([`automation_due`]). Hours are
/// calendar hours.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AutomationDef {
    /// Given by the server; kept across saves.
    #[serde(default)]
    pub id: i64,
    pub name: String,
    #[serde(default = "yes")]
    pub active: bool,
    pub since: Since,
    pub hours: i64,
    /// Count `hours` as business hours of the SLA calendar (its open time only), so 24 with
    /// an 8-hour day is "3 business days". Without an SLA calendar: calendar hours.
    #[serde(default, skip_serializing_if = "is_false")]
    pub business_hours: bool,
    #[serde(default)]
    pub conditions: Conditions,
    pub actions: Vec<Action>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// At most this many automations.
pub const MAX_AUTOMATIONS: usize = 100;

/// Save-time checks of the whole list (`automations[2].hours`, …).
pub fn validate_automations(list: &[AutomationDef]) -> Result<(), Invalid> {
    if list.len() > MAX_AUTOMATIONS {
        return Err(Invalid::new(
            "automations",
            format!("at most {MAX_AUTOMATIONS} automations"),
        ));
    }
    for (i, a) in list.iter().enumerate() {
        let p = format!("automations[{i}].");
        let name = a.name.trim();
        if name.is_empty() || name.chars().count() > 200 {
            return Err(Invalid::new(
                format!("{p}name"),
                "must be 1 to 200 characters",
            ));
        }
        if !(1..=24 * 366).contains(&a.hours) {
            return Err(Invalid::new(
                format!("{p}hours"),
                "must be between 1 and 8784 (a year)",
            ));
        }
        validate_conditions(&a.conditions, &p)?;
        validate_actions(&a.actions, &p)?;
    }
    Ok(())
}

/// What the sweep needs to know about a ticket's history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeFacts {
    pub created_at: DateTime<Utc>,
    /// When the current status began (creation if it never changed).
    pub status_since: DateTime<Utc>,
    pub last_customer_message: Option<DateTime<Utc>>,
}

impl TimeFacts {
    /// From a ticket's events, oldest first.
    pub fn from_events<'a>(
        created_at: DateTime<Utc>,
        events: impl IntoIterator<Item = (DateTime<Utc>, &'a Actor, &'a Change)>,
    ) -> TimeFacts {
        let mut f = TimeFacts {
            created_at,
            status_since: created_at,
            last_customer_message: None,
        };
        for (at, a, c) in events {
            match c {
                Change::StatusChanged { .. } => f.status_since = at,
                Change::MessageAdded { public: true, .. } if a.kind == ActorKind::Customer => {
                    f.last_customer_message = Some(at)
                }
                _ => {}
            }
        }
        f
    }
}

/// Whether automation `a` is due for ticket `t` now. `Some(period)` when it is: the status
/// period (its start, in microseconds) under which the caller records that it ran, so it runs
/// at most once per ticket per status period. `None` when the ticket is solved or closed, the
/// time has not come, or a condition does not hold. `calendar`: the business calendar that
/// `business_hours` automations count in (`None`: they count calendar hours).
pub fn automation_due(
    a: &AutomationDef,
    t: &Ticket,
    f: &TimeFacts,
    now: DateTime<Utc>,
    calendar: Option<&crate::sla::Calendar>,
) -> Option<i64> {
    if !a.active || !t.status.is_open() {
        return None;
    }
    let from = match a.since {
        Since::StatusChanged => f.status_since,
        Since::Created => f.created_at,
        Since::CustomerMessage => f.last_customer_message?,
    };
    let need = chrono::Duration::hours(a.hours);
    let elapsed = match calendar {
        Some(c) if a.business_hours => c.business_duration(from, now),
        _ => now - from,
    };
    if elapsed < need || !a.conditions.matches(t, None) {
        return None;
    }
    Some(f.status_since.timestamp_micros())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ticket::Fields;

    fn ticket() -> Ticket {
        Change::Created {
            subject: "URGENT: parcel lost".into(),
            status: Status::New,
            priority: Priority::Normal,
            channel: Channel::Email,
            requester_id: 7,
            organization_id: None,
            assignee_id: None,
            group_id: None,
            brand_id: None,
            tags: vec![],
            fields: Fields::new(),
        }
        .initial(1, 1, chrono::Utc::now())
        .unwrap()
    }

    fn def(json: serde_json::Value) -> TriggerDef {
        serde_json::from_value(json).unwrap()
    }

    fn created() -> Happened {
        Happened {
            created: true,
            ..Default::default()
        }
    }

    #[test]
    fn matching_trigger_tags_and_assigns() {
        let d = def(serde_json::json!({
            "name": "Urgent mail", "on": ["created"],
            "conditions": {"all": [{"type": "channel_is", "value": ["email"]},
                                   {"type": "subject_contains", "value": "urgent"}]},
            "actions": [{"type": "add_tags", "value": ["urgent"]},
                        {"type": "set_assignee", "value": 3},
                        {"type": "set_priority", "value": "urgent"}]}));
        d.validate().unwrap();
        let ch = run_chain(&[(1, d.clone())], &ticket(), &created(), None);
        assert_eq!(ch.firings.len(), 1);
        let t = ch.ticket.unwrap();
        assert_eq!(t.tags, vec!["urgent".to_string()]);
        assert_eq!(t.assignee_id, Some(3));
        assert_eq!(t.priority, Priority::Urgent);
        // Not on an update, and not when the subject does not say so.
        let upd = Happened {
            updated: true,
            ..Default::default()
        };
        assert!(run_chain(&[(1, d.clone())], &ticket(), &upd, None)
            .firings
            .is_empty());
        let mut calm = ticket();
        calm.subject = "Question".into();
        assert!(run_chain(&[(1, d)], &calm, &created(), None)
            .firings
            .is_empty());
    }

    #[test]
    fn triggers_that_undo_each_other_fire_once_each() {
        let ping = def(serde_json::json!({"name": "ping", "on": ["updated"],
            "conditions": {"all": [{"type": "tag_absent", "value": "ping"}]},
            "actions": [{"type": "add_tags", "value": ["ping"]}, {"type": "remove_tags", "value": ["pong"]}]}));
        let pong = def(serde_json::json!({"name": "pong", "on": ["updated"],
            "conditions": {"all": [{"type": "tag_absent", "value": "pong"}]},
            "actions": [{"type": "add_tags", "value": ["pong"]}, {"type": "remove_tags", "value": ["ping"]}]}));
        let upd = Happened {
            updated: true,
            ..Default::default()
        };
        let ch = run_chain(&[(1, ping), (2, pong)], &ticket(), &upd, None);
        assert_eq!(
            ch.firings.iter().map(|f| f.trigger_id).collect::<Vec<_>>(),
            vec![1, 2]
        );
        assert!(!ch.capped);
        assert_eq!(ch.ticket.unwrap().tags, vec!["pong".to_string()]);
    }

    #[test]
    fn a_chain_is_capped_and_later_passes_see_earlier_changes() {
        // Trigger k fires when tag t{k-1} is present and adds t{k}; listed in reverse order
        // so each needs a new pass. 15 of them: only MAX_CHAIN fire.
        let mut ts = Vec::new();
        for k in 1..=15i64 {
            let mut cond = vec![];
            if k > 1 {
                cond.push(
                    serde_json::json!({"type": "tag_present", "value": format!("t{}", k - 1)}),
                );
            }
            ts.push((
                k,
                def(serde_json::json!({"name": format!("k{k}"), "position": 100 - k, "on": ["created"],
                "conditions": {"all": cond},
                "actions": [{"type": "add_tags", "value": [format!("t{k}")]}]})),
            ));
        }
        let ch = run_chain(&ts, &ticket(), &created(), None);
        assert_eq!(ch.firings.len(), MAX_CHAIN);
        assert!(ch.capped);
        assert_eq!(ch.firings[0].trigger_id, 1);
        assert_eq!(ch.firings[9].trigger_id, 10);
    }

    #[test]
    fn inactive_and_order_and_any() {
        let mut a = def(
            serde_json::json!({"name": "a", "position": 2, "on": ["created"],
            "actions": [{"type": "set_status", "value": "open"}]}),
        );
        let b = def(
            serde_json::json!({"name": "b", "position": 1, "on": ["created"],
            "conditions": {"any": [{"type": "priority_is", "value": ["high"]}, {"type": "status_is", "value": ["new"]}]},
            "actions": [{"type": "note", "body": "Seen {{ticket.id}}"}]}),
        );
        let ch = run_chain(
            &[(1, a.clone()), (2, b.clone())],
            &ticket(),
            &created(),
            None,
        );
        assert_eq!(
            ch.firings.iter().map(|f| f.trigger_id).collect::<Vec<_>>(),
            vec![2, 1]
        );
        assert!(!ch.firings[0].messages[0].public);
        a.active = false;
        let ch = run_chain(&[(1, a), (2, b)], &ticket(), &created(), None);
        assert_eq!(ch.firings.len(), 1);
    }

    #[test]
    fn save_time_errors_name_the_field() {
        let bad = def(serde_json::json!({"name": "x", "on": ["created"],
            "actions": [{"type": "set_status", "value": "open"}, {"type": "reply", "body": "Hi {{customer.nmae}}"}]}));
        let e = bad.validate().unwrap_err();
        assert_eq!(e.field, "actions[1].body");
        assert!(
            e.message.contains("unknown placeholder {{customer.nmae}}"),
            "{e}"
        );
        let e = def(serde_json::json!({"name": "x", "on": ["created"], "actions": []}))
            .validate()
            .unwrap_err();
        assert_eq!(e.field, "actions");
        let e = def(serde_json::json!({"name": "x", "on": [], "actions": [{"type": "set_status", "value": "open"}]}))
            .validate()
            .unwrap_err();
        assert_eq!(e.field, "on");
        let e = def(serde_json::json!({"name": "x", "on": ["created"],
            "actions": [{"type": "add_tags", "value": ["a"]}, {"type": "remove_tags", "value": ["a"]}]}))
        .validate()
        .unwrap_err();
        assert_eq!(e.field, "actions[1].value");
        assert!(serde_json::from_value::<TriggerDef>(
            serde_json::json!({"name": "x", "on": ["created"],
            "actions": [{"type": "explode"}]})
        )
        .is_err());
        assert!(serde_json::from_value::<TriggerDef>(
            serde_json::json!({"name": "x", "on": ["created"],
            "actions": [{"type": "set_status", "value": "open", "extra": 1}]})
        )
        .is_err());
    }

    #[test]
    fn what_happened_skips_trigger_events() {
        let cust = Actor::customer(7);
        let agent = Actor::agent(1);
        let msg = Change::MessageAdded {
            time_spent_seconds: None,
            message_id: 5,
            public: true,
        };
        let h = Happened::from_changes([(&cust, &msg)]);
        assert!(h.customer_replied && !h.updated);
        assert_eq!(h.message_ids, vec![5]);
        let h = Happened::from_changes([(&agent, &msg)]);
        assert!(h.agent_replied);
        let trig = trigger_actor(4);
        assert!(Happened::from_changes([(&trig, &msg)]).is_empty());
        assert_eq!(trigger_of(&trig), Some(4));
        assert_eq!(trigger_of(&Actor::SYSTEM), None);
        let st = Change::StatusChanged {
            from: Status::New,
            to: Status::Open,
        };
        assert!(Happened::from_changes([(&agent, &st)]).updated);
    }

    #[test]
    fn automations_are_due_once_per_status_period() {
        let a: AutomationDef = serde_json::from_value(serde_json::json!({
            "name": "Remind", "since": "status_changed", "hours": 72,
            "conditions": {"all": [{"type": "status_is", "value": ["pending"]}]},
            "actions": [{"type": "reply", "body": "Hi {{customer.first_name}}, any news?"}]}))
        .unwrap();
        validate_automations(std::slice::from_ref(&a)).unwrap();
        let mut t = ticket();
        let t0 = t.created_at;
        let agent = Actor::agent(1);
        let pend = Change::StatusChanged {
            from: Status::New,
            to: Status::Pending,
        };
        let at = t0 + chrono::Duration::hours(1);
        let f = TimeFacts::from_events(t0, [(at, &agent, &pend)]);
        assert_eq!(f.status_since, at);
        t.status = Status::Pending;
        assert_eq!(
            automation_due(&a, &t, &f, at + chrono::Duration::hours(71), None),
            None
        );
        let p = automation_due(&a, &t, &f, at + chrono::Duration::hours(72), None);
        assert_eq!(p, Some(at.timestamp_micros()));
        // Solved: never; another status: conditions fail.
        t.status = Status::Solved;
        assert_eq!(
            automation_due(&a, &t, &f, at + chrono::Duration::hours(99), None),
            None
        );
        t.status = Status::Open;
        assert_eq!(
            automation_due(&a, &t, &f, at + chrono::Duration::hours(99), None),
            None
        );
        let mut bad = a.clone();
        bad.hours = 0;
        assert_eq!(
            validate_automations(&[a.clone(), bad]).unwrap_err().field,
            "automations[1].hours"
        );
        let mut bad = a;
        bad.actions = vec![Action::Note {
            body: "{{nope}}".into(),
        }];
        assert_eq!(
            validate_automations(&[bad]).unwrap_err().field,
            "automations[0].actions[0].body"
        );
    }

    #[test]
    fn business_hour_automations_count_only_open_time() {
        let cal = crate::sla::Calendar::parse("zone UTC\nmon-fri 09:00-17:00\n").unwrap();
        let mut a: AutomationDef = serde_json::from_value(serde_json::json!({
            "name": "Chase", "since": "status_changed", "hours": 24, "business_hours": true,
            "conditions": {"all": [{"type": "status_is", "value": ["pending"]}]},
            "actions": [{"type": "note", "body": "3 business days pending"}]}))
        .unwrap();
        validate_automations(std::slice::from_ref(&a)).unwrap();
        let mut t = ticket();
        t.status = Status::Pending;
        // Pending since Fri 2026-03-06 09:00 UTC: 8 h Friday, 8 h Monday, 8 h Tuesday.
        let from = DateTime::parse_from_rfc3339("2026-03-06T09:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let f = TimeFacts {
            created_at: from,
            status_since: from,
            last_customer_message: None,
        };
        let tue_1659 = DateTime::parse_from_rfc3339("2026-03-10T16:59:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(automation_due(&a, &t, &f, tue_1659, Some(&cal)), None);
        let tue_17 = tue_1659 + chrono::Duration::minutes(1);
        assert_eq!(
            automation_due(&a, &t, &f, tue_17, Some(&cal)),
            Some(from.timestamp_micros())
        );
        // The weekend does not count; calendar hours would have fired on Saturday.
        let sat = DateTime::parse_from_rfc3339("2026-03-07T09:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(automation_due(&a, &t, &f, sat, Some(&cal)), None);
        a.business_hours = false;
        assert!(automation_due(&a, &t, &f, sat, Some(&cal)).is_some());
        // Without a calendar business_hours counts calendar hours.
        a.business_hours = true;
        assert!(automation_due(&a, &t, &f, sat, None).is_some());
        // The flag is left out of the JSON when off.
        a.business_hours = false;
        assert!(serde_json::to_value(&a)
            .unwrap()
            .get("business_hours")
            .is_none());
    }

    #[test]
    fn notify_and_webhook_actions_validate_and_go_out() {
        let d = def(serde_json::json!({"name": "tell", "on": ["created"],
            "actions": [
                {"type": "notify", "to": "assignee", "subject": "New: {{ticket.subject}}", "body": "Ticket #{{ticket.id}}"},
                {"type": "notify", "to": {"group": 4}, "subject": "x", "body": "y"},
                {"type": "notify", "to": {"agent": 9}, "subject": "x", "body": "y"},
                {"type": "webhook", "url": "https://example.com/hook", "secret": "0123456789abcdef"}]}));
        d.validate().unwrap();
        let (agents, groups) = d.referenced();
        assert_eq!(agents, vec![(2, 9)]);
        assert_eq!(groups, vec![(1, 4)]);
        let ch = run_chain(&[(1, d)], &ticket(), &created(), None);
        assert_eq!(ch.firings[0].outbound.len(), 4);
        assert!(ch.firings[0].patch.is_empty());
        assert!(matches!(
            &ch.firings[0].outbound[3],
            Outbound::Webhook { url, .. } if url == "https://example.com/hook"
        ));
        let field = |v: serde_json::Value| {
            def(serde_json::json!({"name": "x", "on": ["created"], "actions": [v]}))
                .validate()
                .unwrap_err()
                .field
        };
        assert_eq!(
            field(
                serde_json::json!({"type": "notify", "to": "group_lead", "subject": "{{ticket.nope}}", "body": "b"})
            ),
            "actions[0].subject"
        );
        assert_eq!(
            field(
                serde_json::json!({"type": "notify", "to": "group_lead", "subject": "s", "body": "{{agent.nmae}}"})
            ),
            "actions[0].body"
        );
        assert_eq!(
            field(
                serde_json::json!({"type": "webhook", "url": "ftp://example.com", "secret": "0123456789abcdef"})
            ),
            "actions[0].url"
        );
        assert_eq!(
            field(
                serde_json::json!({"type": "webhook", "url": "https://example.com", "secret": "short"})
            ),
            "actions[0].secret"
        );
        assert!(serde_json::from_value::<TriggerDef>(
            serde_json::json!({"name": "x", "on": ["created"],
            "actions": [{"type": "notify", "to": "everyone", "subject": "s", "body": "b"}]})
        )
        .is_err());
    }

    #[test]
    fn assign_automatically_is_checked_at_save_and_runs_as_an_outbound_step() {
        let d = |actions: serde_json::Value| {
            def(serde_json::json!({"name": "x", "on": ["created"], "actions": actions}))
        };
        let ok = d(
            serde_json::json!([{"type": "set_group", "value": 3}, {"type": "assign_automatically"}]),
        );
        ok.validate().unwrap();
        assert_eq!(
            outbound(&ok.actions),
            vec![Outbound::AssignAutomatically],
            "not a ticket patch"
        );
        assert!(ok.effects().0.assignee_id.is_none());
        for (actions, field) in [
            (
                serde_json::json!([{"type": "assign_automatically"}, {"type": "set_assignee", "value": 2}]),
                "actions[1].type",
            ),
            (
                serde_json::json!([{"type": "set_assignee", "value": null}, {"type": "assign_automatically"}]),
                "actions[1].type",
            ),
            (
                serde_json::json!([{"type": "assign_automatically"}, {"type": "set_group", "value": null}]),
                "actions[0].type",
            ),
            (
                serde_json::json!([{"type": "assign_automatically"}, {"type": "assign_automatically"}]),
                "actions[1]",
            ),
        ] {
            let e = d(actions).validate().unwrap_err();
            assert_eq!(e.field, field, "{e}");
        }
        // Its JSON has no other keys.
        assert!(serde_json::from_value::<Action>(
            serde_json::json!({"type": "assign_automatically", "value": 1})
        )
        .is_err());
    }
}
