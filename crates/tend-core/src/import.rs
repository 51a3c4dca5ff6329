//! The JSON Lines import format: one ticket with its whole history per line, with original
//! times and actors. Parsing and validation are here; the stores write what this returns.

use crate::ticket::Fields;
use crate::{parse_language, parse_line, parse_tags, Channel, Email, Invalid, Priority, Status};
use chrono::{DateTime, Utc};
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportRecord {
    pub external_id: String,
    pub subject: String,
    #[serde(default = "default_status")]
    pub status: Status,
    #[serde(default = "default_priority")]
    pub priority: Priority,
    #[serde(default = "default_channel")]
    pub channel: Channel,
    pub requester: ImportPerson,
    #[serde(default)]
    pub organization: Option<String>,
    #[serde(default)]
    pub group: Option<String>,
    /// E-mail of the assigned agent.
    #[serde(default)]
    pub assignee: Option<Email>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub fields: Fields,
    pub created_at: DateTime<Utc>,
    #[serde(default)]
    pub messages: Vec<ImportMessage>,
    /// Later changes, in time order: each sets some fields at a time, by someone.
    #[serde(default)]
    pub history: Vec<ImportStep>,
}

fn default_status() -> Status {
    Status::Open
}
fn default_priority() -> Priority {
    Priority::Normal
}
fn default_channel() -> Channel {
    Channel::Email
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportPerson {
    pub email: Email,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub language: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportMessage {
    /// E-mail of the author: the requester, another customer, or an agent.
    pub author: Email,
    #[serde(default)]
    pub author_is_agent: bool,
    #[serde(default = "yes")]
    pub public: bool,
    #[serde(default)]
    pub body: String,
    #[serde(default)]
    pub html: Option<String>,
    pub created_at: DateTime<Utc>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportStep {
    pub at: DateTime<Utc>,
    /// E-mail of the agent who made the change; the system if absent.
    #[serde(default)]
    pub by: Option<Email>,
    #[serde(default)]
    pub status: Option<Status>,
    #[serde(default)]
    pub priority: Option<Priority>,
    #[serde(default)]
    pub assignee: Option<Email>,
    #[serde(default)]
    pub group: Option<String>,
}

impl ImportRecord {
    /// Parses one line. The error names the field to fix.
    pub fn parse_line(line: &str) -> Result<ImportRecord, Invalid> {
        let rec: ImportRecord = serde_json::from_str(line).map_err(|e| {
            let msg = e.to_string();
            Invalid::new(field_from_serde(&msg), msg)
        })?;
        rec.validate()
    }

    /// Checks and normalises a record (tags, language, lengths, time order).
    pub fn validate(mut self) -> Result<ImportRecord, Invalid> {
        self.external_id = parse_line(
            "external_id",
            &self.external_id,
            crate::limits::EXTERNAL_ID_MAX,
        )?;
        self.subject = parse_line("subject", &self.subject, crate::limits::SUBJECT_MAX)?;
        self.tags = parse_tags(&self.tags)?;
        if let Some(l) = &self.requester.language {
            self.requester.language = Some(parse_language(l)?);
        }
        if let Some(n) = &self.requester.name {
            self.requester.name = Some(parse_line("requester.name", n, crate::limits::NAME_MAX)?);
        }
        for (i, m) in self.messages.iter().enumerate() {
            crate::check_len(
                &format!("messages[{i}].body"),
                &m.body,
                crate::limits::BODY_MAX,
            )?;
            if m.created_at < self.created_at {
                return Err(Invalid::new(
                    format!("messages[{i}].created_at"),
                    "is before the ticket's created_at",
                ));
            }
        }
        let mut last = self.created_at;
        for (i, s) in self.history.iter().enumerate() {
            if s.at < last {
                return Err(Invalid::new(
                    format!("history[{i}].at"),
                    "steps must be in time order, after created_at",
                ));
            }
            last = s.at;
        }
        Ok(self)
    }

    /// The time of the last thing that happened.
    pub fn updated_at(&self) -> DateTime<Utc> {
        let m = self.messages.iter().map(|m| m.created_at).max();
        let h = self.history.last().map(|s| s.at);
        [Some(self.created_at), m, h]
            .into_iter()
            .flatten()
            .max()
            .unwrap_or(self.created_at)
    }

    /// The status the ticket is created with: the record's final status unless the history
    /// starts it somewhere else (the first history step that sets a status gives the start as `new`).
    pub fn initial_status(&self) -> Status {
        if self.history.iter().any(|s| s.status.is_some()) {
            Status::New
        } else {
            self.status
        }
    }
}

fn field_from_serde(msg: &str) -> String {
    // serde_json says e.g. "unknown field `foo`, expected one of ..." or "missing field `subject`".
    if let Some(start) = msg.find('`') {
        if let Some(len) = msg[start + 1..].find('`') {
            return msg[start + 1..start + 1 + len].to_string();
        }
    }
    "line".into()
}

#[cfg(test)]
mod tests {
    use super::*;

    const OK: &str = r#"{"external_id":"zd-1","subject":"Where is my parcel?","status":"solved","requester":{"email":"ana@example.com","name":"Ana","language":"de"},"group":"Shipping","tags":["Shipping"],"created_at":"2026-01-02T10:00:00Z","messages":[{"author":"ana@example.com","body":"Hi","created_at":"2026-01-02T10:00:00Z"}],"history":[{"at":"2026-01-02T11:00:00Z","by":"bo@shop.example","status":"solved"}]}"#;

    #[test]
    fn a_good_line_parses_and_normalises() {
        let r = ImportRecord::parse_line(OK).unwrap();
        assert_eq!(r.tags, vec!["shipping"]);
        assert_eq!(r.initial_status(), Status::New);
        assert_eq!(r.updated_at().to_rfc3339(), "2026-01-02T11:00:00+00:00");
    }

    #[test]
    fn bad_lines_name_the_field() {
        let e = ImportRecord::parse_line(&OK.replace("\"subject\"", "\"subjekt\"")).unwrap_err();
        assert_eq!(e.field, "subjekt");
        let e = ImportRecord::parse_line(&OK.replace("ana@example.com\",\"name", "ana\",\"name"))
            .unwrap_err();
        assert!(e.message.contains("@"), "{e}");
        let e = ImportRecord::parse_line(&OK.replace("11:00:00Z\",\"by", "09:00:00Z\",\"by"))
            .unwrap_err();
        assert_eq!(e.field, "history[0].at");
        assert!(ImportRecord::parse_line("{").is_err());
    }
}

/// Ids the store resolved (or created) for the e-mails and names a record mentions.
pub trait Resolve {
    fn requester(&self) -> i64;
    fn organization(&self) -> Option<i64>;
    /// The agent with this e-mail.
    fn agent(&self, email: &Email) -> i64;
    /// The customer with this e-mail (a message author who is not an agent).
    fn customer(&self, email: &Email) -> i64;
    fn group(&self, name: &str) -> i64;
}

/// One thing to write, in order: a message (index into `messages`) or a change.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    Message {
        index: usize,
        author: crate::Actor,
        public: bool,
    },
    Change(crate::Change),
}

/// The ticket as created, and the steps after it, each with its time and actor.
#[derive(Debug, Clone)]
pub struct Plan {
    pub created: crate::Change,
    pub created_by: crate::Actor,
    pub steps: Vec<(DateTime<Utc>, crate::Actor, Step)>,
}

/// Turns a record into the events that tell its story. Pure: both stores write this plan.
/// The ticket starts as the record describes, except that values a history step sets start
/// empty (status `new`); messages and steps interleave by time; a final status that the
/// history does not reach is set by the system at the last moment.
pub fn plan(rec: &ImportRecord, ids: &dyn Resolve) -> Plan {
    use crate::{Actor, Change};
    let sets_assignee = rec.history.iter().any(|s| s.assignee.is_some());
    let sets_group = rec.history.iter().any(|s| s.group.is_some());
    let sets_priority = rec.history.iter().any(|s| s.priority.is_some());
    let requester = ids.requester();
    let created = Change::Created {
        subject: rec.subject.clone(),
        status: rec.initial_status(),
        priority: if sets_priority {
            Priority::Normal
        } else {
            rec.priority
        },
        channel: rec.channel,
        requester_id: requester,
        organization_id: ids.organization(),
        assignee_id: if sets_assignee {
            None
        } else {
            rec.assignee.as_ref().map(|e| ids.agent(e))
        },
        group_id: if sets_group {
            None
        } else {
            rec.group.as_deref().map(|g| ids.group(g))
        },
        brand_id: None,
        tags: rec.tags.clone(),
        fields: rec.fields.clone(),
    };
    let mut state = created.initial(0, 0, rec.created_at).expect("created");
    enum Item {
        Message(usize, Actor, bool),
        History(usize, Actor),
    }
    // (time, tie-break, item): a history step sorts after a message at the same instant.
    let mut timed: Vec<(DateTime<Utc>, u8, usize, Item)> = Vec::new();
    for (i, m) in rec.messages.iter().enumerate() {
        let author = if m.author_is_agent {
            Actor::agent(ids.agent(&m.author))
        } else {
            Actor::customer(ids.customer(&m.author))
        };
        timed.push((m.created_at, 0, i, Item::Message(i, author, m.public)));
    }
    for (i, s) in rec.history.iter().enumerate() {
        let actor =
            s.by.as_ref()
                .map(|e| Actor::agent(ids.agent(e)))
                .unwrap_or(Actor::SYSTEM);
        timed.push((s.at, 1, i, Item::History(i, actor)));
    }
    timed.sort_by_key(|(at, tie, i, _)| (*at, *tie, *i));
    let mut out = Vec::with_capacity(timed.len() + 1);
    for (at, _, _, item) in timed {
        match item {
            Item::Message(index, author, public) => out.push((
                at,
                author,
                Step::Message {
                    index,
                    author,
                    public,
                },
            )),
            Item::History(i, actor) => {
                let s = &rec.history[i];
                let patch = crate::ticket::Patch {
                    status: s.status,
                    priority: s.priority,
                    assignee_id: s.assignee.as_ref().map(|e| Some(ids.agent(e))),
                    group_id: s.group.as_deref().map(|g| Some(ids.group(g))),
                    ..Default::default()
                };
                for c in crate::ticket::diff(&state, &patch) {
                    crate::ticket::apply(&mut state, &c, 0, at);
                    out.push((at, actor, Step::Change(c)));
                }
            }
        }
    }
    if state.status != rec.status {
        let at = rec.updated_at();
        out.push((
            at,
            Actor::SYSTEM,
            Step::Change(Change::StatusChanged {
                from: state.status,
                to: rec.status,
            }),
        ));
    }
    Plan {
        created,
        created_by: Actor::customer(requester),
        steps: out,
    }
}

#[cfg(test)]
mod plan_tests {
    use super::*;
    use crate::{Actor, Change};

    struct Ids;
    impl Resolve for Ids {
        fn requester(&self) -> i64 {
            10
        }
        fn organization(&self) -> Option<i64> {
            None
        }
        fn agent(&self, e: &Email) -> i64 {
            if e.as_str().starts_with("bo") {
                2
            } else {
                3
            }
        }
        fn customer(&self, _: &Email) -> i64 {
            10
        }
        fn group(&self, _: &str) -> i64 {
            5
        }
    }

    #[test]
    fn plan_interleaves_messages_and_history_by_time() {
        let line = r#"{"external_id":"x","subject":"s","status":"closed","requester":{"email":"ana@example.com"},"group":"Shipping","created_at":"2026-01-02T10:00:00Z",
          "messages":[{"author":"ana@example.com","body":"help","created_at":"2026-01-02T10:00:00Z"},
                      {"author":"bo@shop.example","author_is_agent":true,"body":"done","created_at":"2026-01-02T11:00:00Z"}],
          "history":[{"at":"2026-01-02T10:30:00Z","by":"bo@shop.example","status":"open","assignee":"bo@shop.example"},
                     {"at":"2026-01-02T11:00:00Z","by":"bo@shop.example","status":"solved"}]}"#;
        let rec = ImportRecord::parse_line(&line.replace('\n', "")).unwrap();
        let p = plan(&rec, &Ids);
        let Change::Created {
            status,
            group_id,
            assignee_id,
            ..
        } = &p.created
        else {
            panic!()
        };
        assert_eq!(
            (*status, *group_id, *assignee_id),
            (Status::New, Some(5), None)
        );
        let kinds: Vec<String> = p
            .steps
            .iter()
            .map(|(_, _, s)| match s {
                Step::Message { index, .. } => format!("m{index}"),
                Step::Change(c) => c.kind().to_string(),
            })
            .collect();
        assert_eq!(
            kinds,
            [
                "m0",
                "ticket.status_changed",
                "ticket.assignee_changed",
                "m1",
                "ticket.status_changed",
                "ticket.status_changed"
            ]
        );
        assert_eq!(p.steps[3].1, Actor::agent(2));
        // The record says closed; the history stops at solved, so the system closes it.
        assert_eq!(p.steps[5].1, Actor::SYSTEM);
    }
}
