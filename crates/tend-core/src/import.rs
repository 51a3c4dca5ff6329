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
        self.external_id = parse_line("external_id", &self.external_id, crate::limits::EXTERNAL_ID_MAX)?;
        self.subject = parse_line("subject", &self.subject, crate::limits::SUBJECT_MAX)?;
        self.tags = parse_tags(&self.tags)?;
        if let Some(l) = &self.requester.language {
            self.requester.language = Some(parse_language(l)?);
        }
        if let Some(n) = &self.requester.name {
            self.requester.name = Some(parse_line("requester.name", n, crate::limits::NAME_MAX)?);
        }
        for (i, m) in self.messages.iter().enumerate() {
            crate::check_len(&format!("messages[{i}].body"), &m.body, crate::limits::BODY_MAX)?;
            if m.created_at < self.created_at {
                return Err(Invalid::new(format!("messages[{i}].created_at"), "is before the ticket's created_at"));
            }
        }
        let mut last = self.created_at;
        for (i, s) in self.history.iter().enumerate() {
            if s.at < last {
                return Err(Invalid::new(format!("history[{i}].at"), "steps must be in time order, after created_at"));
            }
            last = s.at;
        }
        Ok(self)
    }

    /// The time of the last thing that happened.
    pub fn updated_at(&self) -> DateTime<Utc> {
        let m = self.messages.iter().map(|m| m.created_at).max();
        let h = self.history.last().map(|s| s.at);
        [Some(self.created_at), m, h].into_iter().flatten().max().unwrap_or(self.created_at)
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
        let e = ImportRecord::parse_line(&OK.replace("ana@example.com\",\"name", "ana\",\"name")).unwrap_err();
        assert!(e.message.contains("@"), "{e}");
        let e = ImportRecord::parse_line(&OK.replace("11:00:00Z\",\"by", "09:00:00Z\",\"by")).unwrap_err();
        assert_eq!(e.field, "history[0].at");
        assert!(ImportRecord::parse_line("{").is_err());
    }
}
