//! A ticket is the projection of its events. `Change` is what an event says happened;
//! `apply` folds a change into the ticket, `diff` turns a requested update into changes.

use crate::{Channel, Priority, Status};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub type Fields = BTreeMap<String, serde_json::Value>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActorKind {
    Agent,
    Customer,
    System,
}

impl ActorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ActorKind::Agent => "agent",
            ActorKind::Customer => "customer",
            ActorKind::System => "system",
        }
    }
    pub fn parse(s: &str) -> ActorKind {
        match s {
            "agent" => ActorKind::Agent,
            "customer" => ActorKind::Customer,
            _ => ActorKind::System,
        }
    }
}

/// Who did something. `id` is an agent or customer id; `None` for the system.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    pub kind: ActorKind,
    pub id: Option<i64>,
}

impl Actor {
    pub const SYSTEM: Actor = Actor {
        kind: ActorKind::System,
        id: None,
    };
    pub fn agent(id: i64) -> Actor {
        Actor {
            kind: ActorKind::Agent,
            id: Some(id),
        }
    }
    pub fn customer(id: i64) -> Actor {
        Actor {
            kind: ActorKind::Customer,
            id: Some(id),
        }
    }
}

/// The current state of a ticket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ticket {
    pub id: i64,
    pub subject: String,
    pub status: Status,
    pub priority: Priority,
    pub channel: Channel,
    pub requester_id: i64,
    pub organization_id: Option<i64>,
    pub assignee_id: Option<i64>,
    pub group_id: Option<i64>,
    pub brand_id: Option<i64>,
    pub tags: Vec<String>,
    pub fields: Fields,
    pub external_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub solved_at: Option<DateTime<Utc>>,
    /// Sequence number of the last event applied.
    pub last_seq: i64,
    /// The earliest due time of the ticket's SLA targets not yet met (active or breached),
    /// as the last `sla.check` job computed it; `None` when no target is running. Derived,
    /// not folded from events: the stores keep it beside the projection.
    #[serde(default)]
    pub sla_due_at: Option<DateTime<Utc>>,
}

/// What one event says happened to a ticket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Change {
    Created {
        subject: String,
        status: Status,
        priority: Priority,
        channel: Channel,
        requester_id: i64,
        organization_id: Option<i64>,
        assignee_id: Option<i64>,
        group_id: Option<i64>,
        brand_id: Option<i64>,
        tags: Vec<String>,
        fields: Fields,
    },
    MessageAdded {
        message_id: i64,
        public: bool,
        /// Time the agent logged on this reply or note (like Zendesk's time tracking), in
        /// seconds, 1 s ..= 24 h; agents' messages only. Absent in old events.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        time_spent_seconds: Option<u32>,
    },
    SubjectChanged {
        from: String,
        to: String,
    },
    StatusChanged {
        from: Status,
        to: Status,
    },
    PriorityChanged {
        from: Priority,
        to: Priority,
    },
    AssigneeChanged {
        from: Option<i64>,
        to: Option<i64>,
    },
    GroupChanged {
        from: Option<i64>,
        to: Option<i64>,
    },
    TagsChanged {
        added: Vec<String>,
        removed: Vec<String>,
    },
    FieldChanged {
        key: String,
        from: serde_json::Value,
        to: serde_json::Value,
    },
    /// A relation to another ticket: `follow_up_of` (this ticket continues a closed one),
    /// `followed_up_by` (the other side), `merged_into`, … Written on both tickets.
    Linked {
        ticket_id: i64,
        relation: String,
    },
    /// An SLA target is about to run out (recorded once per target and run).
    SlaWarning {
        metric: String,
        cycle: u32,
        due_at: DateTime<Utc>,
    },
    /// An SLA target ran out; `escalated` says what Tend did about it.
    SlaBreached {
        metric: String,
        cycle: u32,
        due_at: DateTime<Utc>,
        escalated: Vec<String>,
    },
    /// An escalation level after the breach fired (issue 5): `level` is its number (1-based,
    /// in the configured order); `escalated` says what Tend did. Recorded once per target,
    /// run and level.
    SlaEscalated {
        metric: String,
        cycle: u32,
        level: u32,
        escalated: Vec<String>,
    },
    /// What a trigger (`trigger_id`) or time-based automation (`automation_id`) did that leaves
    /// no other event (issue 5): whom it mailed (`mailed a@x`, `mail to a@x at … (working
    /// hours)`), which webhook it called, why it could not assign. `name` is the trigger's or
    /// automation's name when it ran. A mark on the timeline, like the SLA marks.
    AutomationActed {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        trigger_id: Option<i64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        automation_id: Option<i64>,
        name: String,
        done: Vec<String>,
    },
    /// A satisfaction survey about this ticket went out (written with the invitation, in its
    /// transaction). A mark on the timeline, not a change of the ticket: metrics, search and
    /// SLA clocks ignore it ([`Change::is_survey`]).
    SurveySent {
        invitation_id: i64,
        survey_id: i64,
        /// `nps`, `csat` or `ces`.
        survey_kind: String,
        /// The address the mail went to.
        to: String,
    },
    /// The customer answered a survey about this ticket (`edited`: changed their answer).
    SurveyAnswered {
        invitation_id: i64,
        survey_kind: String,
        score: u8,
        /// The highest answer of the scale (10 for NPS, 7 for CES, 5/3/2 for CSAT).
        max: u8,
        /// The comment (at most [`SURVEY_EVENT_COMMENT_MAX`] characters of it).
        comment: String,
        edited: bool,
    },
}

/// How much of a survey comment a `SurveyAnswered` event keeps (the whole answer is in
/// `/api/v1/surveys/{id}/responses`).
pub const SURVEY_EVENT_COMMENT_MAX: usize = 1000;

/// The most time one message may log: 24 hours.
pub const MAX_TIME_SPENT_SECONDS: u32 = 86_400;

/// Checks time logged on a message (`field` names it in the error): a whole number of
/// seconds, 1 s ..= 24 h.
pub fn check_time_spent(field: &str, v: &serde_json::Value) -> Result<u32, crate::Invalid> {
    let bad = || {
        crate::Invalid::new(
            field,
            format!(
                "must be a whole number of seconds from 1 to {MAX_TIME_SPENT_SECONDS} (24 hours)"
            ),
        )
    };
    let n = v.as_i64().ok_or_else(bad)?;
    u32::try_from(n)
        .ok()
        .filter(|n| (1..=MAX_TIME_SPENT_SECONDS).contains(n))
        .ok_or_else(bad)
}

impl Change {
    /// The event kind, as webhooks subscribe to it: `ticket.created`, `ticket.status_changed`, …
    pub fn kind(&self) -> &'static str {
        match self {
            Change::Created { .. } => "ticket.created",
            Change::MessageAdded { .. } => "ticket.message_added",
            Change::SubjectChanged { .. } => "ticket.subject_changed",
            Change::StatusChanged { .. } => "ticket.status_changed",
            Change::PriorityChanged { .. } => "ticket.priority_changed",
            Change::AssigneeChanged { .. } => "ticket.assignee_changed",
            Change::GroupChanged { .. } => "ticket.group_changed",
            Change::TagsChanged { .. } => "ticket.tags_changed",
            Change::FieldChanged { .. } => "ticket.field_changed",
            Change::Linked { .. } => "ticket.linked",
            Change::SlaWarning { .. } => "ticket.sla_warning",
            Change::SlaBreached { .. } => "ticket.sla_breached",
            Change::SlaEscalated { .. } => "ticket.sla_escalated",
            Change::AutomationActed { .. } => "ticket.automation_acted",
            Change::SurveySent { .. } => "ticket.survey_sent",
            Change::SurveyAnswered { .. } => "ticket.survey_answered",
        }
    }

    /// Survey marks (`SurveySent`, `SurveyAnswered`): on the timeline, but not a change of
    /// the ticket — they do not move `updated_at`, and the metric roll-ups, the search index
    /// and the SLA clocks skip them.
    pub fn is_survey(&self) -> bool {
        matches!(
            self,
            Change::SurveySent { .. } | Change::SurveyAnswered { .. }
        )
    }

    pub const KINDS: &'static [&'static str] = &[
        "ticket.created",
        "ticket.message_added",
        "ticket.subject_changed",
        "ticket.status_changed",
        "ticket.priority_changed",
        "ticket.assignee_changed",
        "ticket.group_changed",
        "ticket.tags_changed",
        "ticket.field_changed",
        "ticket.linked",
        "ticket.sla_warning",
        "ticket.sla_breached",
        "ticket.sla_escalated",
        "ticket.automation_acted",
        "ticket.survey_sent",
        "ticket.survey_answered",
    ];

    /// The state a ticket is in right after its `Created` event.
    pub fn initial(&self, id: i64, seq: i64, at: DateTime<Utc>) -> Option<Ticket> {
        match self.clone() {
            Change::Created {
                subject,
                status,
                priority,
                channel,
                requester_id,
                organization_id,
                assignee_id,
                group_id,
                brand_id,
                tags,
                fields,
            } => Some(Ticket {
                id,
                subject,
                status,
                priority,
                channel,
                requester_id,
                organization_id,
                assignee_id,
                group_id,
                brand_id,
                tags,
                fields,
                external_id: None,
                created_at: at,
                updated_at: at,
                solved_at: if status.is_open() { None } else { Some(at) },
                last_seq: seq,
                sla_due_at: None,
            }),
            _ => None,
        }
    }
}

/// Folds one change into the ticket. Pure; used by both stores to keep the projection.
pub fn apply(t: &mut Ticket, change: &Change, seq: i64, at: DateTime<Utc>) {
    match change {
        Change::Created { .. } => {}
        Change::MessageAdded { .. } => {}
        // SLA marks record what the clock did; they do not make the ticket "updated".
        Change::SlaWarning { .. }
        | Change::SlaBreached { .. }
        | Change::SlaEscalated { .. }
        | Change::AutomationActed { .. }
        | Change::Linked { .. }
        | Change::SurveySent { .. }
        | Change::SurveyAnswered { .. } => {
            t.last_seq = seq;
            return;
        }
        Change::SubjectChanged { to, .. } => t.subject = to.clone(),
        Change::StatusChanged { to, .. } => {
            t.status = *to;
            if to.is_open() {
                t.solved_at = None;
            } else if t.solved_at.is_none() {
                t.solved_at = Some(at);
            }
        }
        Change::PriorityChanged { to, .. } => t.priority = *to,
        Change::AssigneeChanged { to, .. } => t.assignee_id = *to,
        Change::GroupChanged { to, .. } => t.group_id = *to,
        Change::TagsChanged { added, removed } => {
            t.tags.retain(|x| !removed.contains(x));
            for a in added {
                if !t.tags.contains(a) {
                    t.tags.push(a.clone());
                }
            }
            t.tags.sort();
        }
        Change::FieldChanged { key, to, .. } => {
            if to.is_null() {
                t.fields.remove(key);
            } else {
                t.fields.insert(key.clone(), to.clone());
            }
        }
    }
    t.updated_at = at;
    t.last_seq = seq;
}

/// A requested update; `None` leaves a value alone. For optional references the inner
/// `None` clears them (JSON `null`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Patch {
    pub subject: Option<String>,
    pub status: Option<Status>,
    pub priority: Option<Priority>,
    pub assignee_id: Option<Option<i64>>,
    pub group_id: Option<Option<i64>>,
    /// Replace the tag set.
    pub tags: Option<Vec<String>>,
    pub add_tags: Vec<String>,
    pub remove_tags: Vec<String>,
    pub fields: Fields,
}

impl Patch {
    pub fn is_empty(&self) -> bool {
        *self == Patch::default()
    }
}

/// The changes that take `t` to what `p` asks for; nothing for values already so.
pub fn diff(t: &Ticket, p: &Patch) -> Vec<Change> {
    let mut out = Vec::new();
    if let Some(s) = &p.subject {
        if *s != t.subject {
            out.push(Change::SubjectChanged {
                from: t.subject.clone(),
                to: s.clone(),
            });
        }
    }
    if let Some(s) = p.status {
        if s != t.status {
            out.push(Change::StatusChanged {
                from: t.status,
                to: s,
            });
        }
    }
    if let Some(x) = p.priority {
        if x != t.priority {
            out.push(Change::PriorityChanged {
                from: t.priority,
                to: x,
            });
        }
    }
    if let Some(a) = p.assignee_id {
        if a != t.assignee_id {
            out.push(Change::AssigneeChanged {
                from: t.assignee_id,
                to: a,
            });
        }
    }
    if let Some(g) = p.group_id {
        if g != t.group_id {
            out.push(Change::GroupChanged {
                from: t.group_id,
                to: g,
            });
        }
    }
    let mut want: Vec<String> = p.tags.clone().unwrap_or_else(|| t.tags.clone());
    want.retain(|x| !p.remove_tags.contains(x));
    for a in &p.add_tags {
        if !want.contains(a) {
            want.push(a.clone());
        }
    }
    let added: Vec<String> = want
        .iter()
        .filter(|x| !t.tags.contains(x))
        .cloned()
        .collect();
    let removed: Vec<String> = t
        .tags
        .iter()
        .filter(|x| !want.contains(x))
        .cloned()
        .collect();
    if !added.is_empty() || !removed.is_empty() {
        let (mut added, mut removed) = (added, removed);
        added.sort();
        added.dedup();
        removed.sort();
        out.push(Change::TagsChanged { added, removed });
    }
    for (k, v) in &p.fields {
        let cur = t.fields.get(k).cloned().unwrap_or(serde_json::Value::Null);
        if cur != *v {
            out.push(Change::FieldChanged {
                key: k.clone(),
                from: cur,
                to: v.clone(),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(h: u32) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(&format!("2026-03-01T{h:02}:00:00Z"))
            .unwrap()
            .with_timezone(&Utc)
    }

    fn created() -> Change {
        Change::Created {
            subject: "Parcel never arrived".into(),
            status: Status::New,
            priority: Priority::Normal,
            channel: Channel::Email,
            requester_id: 7,
            organization_id: None,
            assignee_id: None,
            group_id: Some(1),
            brand_id: None,
            tags: vec!["shipping".into()],
            fields: Fields::new(),
        }
    }

    #[test]
    fn replaying_the_diff_reaches_the_patch() {
        let mut t = created().initial(1, 1, at(9)).unwrap();
        let mut p = Patch {
            status: Some(Status::Solved),
            assignee_id: Some(Some(3)),
            add_tags: vec!["vip".into()],
            remove_tags: vec!["shipping".into()],
            ..Patch::default()
        };
        p.fields.insert("order".into(), serde_json::json!("A-1"));
        let changes = diff(&t, &p);
        assert_eq!(changes.len(), 4);
        for (i, c) in changes.iter().enumerate() {
            apply(&mut t, c, 2 + i as i64, at(10));
        }
        assert_eq!(t.status, Status::Solved);
        assert_eq!(t.solved_at, Some(at(10)));
        assert_eq!(t.assignee_id, Some(3));
        assert_eq!(t.tags, vec!["vip".to_string()]);
        assert_eq!(t.fields["order"], serde_json::json!("A-1"));
        assert_eq!(t.last_seq, 5);
        assert!(
            diff(&t, &p).is_empty(),
            "a second identical patch changes nothing"
        );
    }

    #[test]
    fn reopening_clears_solved_at_and_clearing_a_field_removes_it() {
        let mut t = created().initial(1, 1, at(9)).unwrap();
        apply(
            &mut t,
            &Change::StatusChanged {
                from: Status::New,
                to: Status::Solved,
            },
            2,
            at(10),
        );
        apply(
            &mut t,
            &Change::StatusChanged {
                from: Status::Solved,
                to: Status::Open,
            },
            3,
            at(11),
        );
        assert_eq!(t.solved_at, None);
        t.fields.insert("x".into(), serde_json::json!(1));
        let mut p = Patch::default();
        p.fields.insert("x".into(), serde_json::Value::Null);
        let ch = diff(&t, &p);
        apply(&mut t, &ch[0], 4, at(12));
        assert!(t.fields.is_empty());
    }

    #[test]
    fn time_spent_is_1_s_to_24_h_in_whole_seconds() {
        use serde_json::json;
        assert_eq!(check_time_spent("t", &json!(1)).unwrap(), 1);
        assert_eq!(check_time_spent("t", &json!(86_400)).unwrap(), 86_400);
        for bad in [
            json!(0),
            json!(-5),
            json!(86_401),
            json!(1.5),
            json!("60"),
            json!(null),
        ] {
            let e = check_time_spent("t", &bad).unwrap_err();
            assert_eq!(e.field, "t", "{bad}");
        }
        // Old events without the field still read; None is not written.
        let old: Change =
            serde_json::from_str(r#"{"type":"message_added","message_id":3,"public":false}"#)
                .unwrap();
        assert_eq!(
            old,
            Change::MessageAdded {
                message_id: 3,
                public: false,
                time_spent_seconds: None
            }
        );
        assert!(!serde_json::to_string(&old).unwrap().contains("time_spent"));
    }

    #[test]
    fn change_kinds_are_listed() {
        for c in [
            created(),
            Change::MessageAdded {
                message_id: 1,
                public: true,
                time_spent_seconds: None,
            },
        ] {
            assert!(Change::KINDS.contains(&c.kind()));
        }
        let json = serde_json::to_value(Change::StatusChanged {
            from: Status::Open,
            to: Status::Pending,
        })
        .unwrap();
        assert_eq!(json["type"], "status_changed");
        assert_eq!(json["to"], "pending");
    }
}
