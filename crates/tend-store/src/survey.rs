//! What the stores take and return for satisfaction surveys: definitions (NPS, CSAT, CES),
//! invitations (one per surveyed solve, with the ticket's agent/group/channel as they were
//! when it was sent and the SHA-256 of its one-click token), and responses (one per
//! invitation, never counted twice, editable once within [`EDIT_WINDOW_HOURS`]).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::records::{NewJob, NewTicket};

/// The job that sends one survey for one solve (payload `{"survey_id", "ticket_id",
/// "solved_at"}`), scheduled `delay_hours` after the ticket was solved.
pub const SURVEY_SEND_JOB: &str = "survey.send";
/// How long after the first answer a customer may change it (once).
pub const EDIT_WINDOW_HOURS: i64 = 24;

/// The question a survey asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SurveyKind {
    /// "How likely are you to recommend us?" 0–10.
    Nps,
    /// "How satisfied were you?" 1–5, 1–3 or 1–2.
    Csat,
    /// "It was easy to get my issue handled" 1–7 (strongly disagree … strongly agree).
    Ces,
}

impl SurveyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SurveyKind::Nps => "nps",
            SurveyKind::Csat => "csat",
            SurveyKind::Ces => "ces",
        }
    }
    pub fn parse(s: &str) -> Option<SurveyKind> {
        match s {
            "nps" => Some(SurveyKind::Nps),
            "csat" => Some(SurveyKind::Csat),
            "ces" => Some(SurveyKind::Ces),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Survey {
    pub id: i64,
    pub name: String,
    pub kind: SurveyKind,
    /// CSAT only: 5, 3 or 2 points.
    pub scale: Option<u8>,
    /// The question per language (BCP 47 tag → text); `en` is the fallback.
    pub question: BTreeMap<String, String>,
    /// The open follow-up question per language (may be empty).
    pub follow_up: BTreeMap<String, String>,
    /// Hours after the solve before the survey goes out.
    pub delay_hours: i64,
    /// At most one survey of this kind per customer within this many days.
    pub throttle_days: i64,
    /// Share of solves that get a survey, 0..=1.
    pub sample_rate: f64,
    /// Days a rating link stays valid.
    pub expires_days: i64,
    pub active: bool,
    pub created_at: DateTime<Utc>,
}

impl Survey {
    /// The lowest and highest valid answer.
    pub fn range(&self) -> (u8, u8) {
        match self.kind {
            SurveyKind::Nps => (0, 10),
            SurveyKind::Csat => (1, self.scale.unwrap_or(5)),
            SurveyKind::Ces => (1, 7),
        }
    }
}

#[derive(Debug, Clone)]
pub struct NewSurvey {
    pub name: String,
    pub kind: SurveyKind,
    pub scale: Option<u8>,
    pub question: BTreeMap<String, String>,
    pub follow_up: BTreeMap<String, String>,
    pub delay_hours: i64,
    pub throttle_days: i64,
    pub sample_rate: f64,
    pub expires_days: i64,
    pub active: bool,
}

/// One survey sent for one solve, with the ticket as it was at send time.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SurveyInvitation {
    pub id: i64,
    pub survey_id: i64,
    pub kind: SurveyKind,
    pub ticket_id: i64,
    pub customer_id: i64,
    pub agent_id: Option<i64>,
    pub group_id: Option<i64>,
    pub channel: String,
    pub brand_id: Option<i64>,
    pub sent_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub responded: bool,
}

#[derive(Debug, Clone)]
pub struct NewInvitation {
    pub survey_id: i64,
    pub ticket_id: i64,
    pub customer_id: i64,
    pub agent_id: Option<i64>,
    pub group_id: Option<i64>,
    pub channel: String,
    pub brand_id: Option<i64>,
    /// One per solve (e.g. `"{survey}:{ticket}:{solved_at}"`): a retried send job finds its
    /// own invitation again instead of being throttled by it.
    pub send_key: String,
    /// SHA-256 of the token in the mailed links.
    pub token_hash: Vec<u8>,
    pub expires_at: DateTime<Utc>,
}

/// What `open_survey_invitation` did.
#[derive(Debug, Clone, PartialEq)]
pub enum InvitationOpened {
    /// A new invitation, or (a retried send) the same one with the new token.
    Created(SurveyInvitation),
    /// The customer got a survey of this kind within the survey's `throttle_days`.
    Throttled,
    /// This solve's survey was sent and answered already.
    AlreadyAnswered,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SurveyResponse {
    pub id: i64,
    pub invitation_id: i64,
    pub score: u8,
    pub comment: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// How often the answer was changed (at most once).
    pub edits: i32,
    /// The ticket a low score opened.
    pub follow_up_ticket_id: Option<i64>,
}

impl SurveyResponse {
    /// Whether the customer may still change this answer at `now`.
    pub fn editable(&self, now: DateTime<Utc>) -> bool {
        self.edits < 1 && now < self.created_at + chrono::Duration::hours(EDIT_WINDOW_HOURS)
    }
}

/// An invitation found by its token, with its survey and answer.
#[derive(Debug, Clone, PartialEq)]
pub struct InvitationView {
    pub invitation: SurveyInvitation,
    pub survey: Survey,
    pub response: Option<SurveyResponse>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SurveyAnswer {
    pub score: u8,
    pub comment: String,
}

/// What `record_survey_response` did.
#[derive(Debug, Clone, PartialEq)]
pub enum Answered {
    /// The first answer; `follow_up_ticket_id` is set when a follow-up ticket was opened.
    Recorded(SurveyResponse),
    /// The one change allowed within the edit window.
    Edited(SurveyResponse),
    /// Nothing changed: the same answer again (a double submit, a replay), or a change after
    /// the edit window or the one edit.
    AlreadyRecorded(SurveyResponse),
    /// Not answered and past `expires_at`.
    Expired,
    /// No invitation has this token.
    Unknown,
}

/// How scores are split.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScoreGroup {
    All,
    /// By the month (UTC, `YYYY-MM`) of the answer.
    Month,
    /// By the ticket's group when the survey was sent.
    Group,
    /// By the ticket's assignee when the survey was sent.
    Agent,
    /// By the channel (`email`, `web`, … as the ticket's channel when the survey was sent;
    /// [`KIOSK_CHANNEL`] for kiosk answers).
    Channel,
}

#[derive(Debug, Clone)]
pub struct ScoreQuery {
    pub kind: SurveyKind,
    /// Answers given at or after this time.
    pub from: Option<DateTime<Utc>>,
    /// Answers given before this time.
    pub to: Option<DateTime<Utc>>,
    pub group_by: ScoreGroup,
}

/// How many answers had `score`, in one bucket (month, group id or agent id as text; `None`
/// for "no group"/"no agent" and for `ScoreGroup::All`), on one CSAT scale.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScoreCount {
    pub bucket: Option<String>,
    pub scale: Option<u8>,
    pub score: u8,
    pub count: u64,
}

/// Invitations sent per bucket (for the response rate).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SentCount {
    pub bucket: Option<String>,
    pub sent: u64,
    /// Of those, how many were answered.
    pub answered: u64,
}

/// Send jobs found by one pass over new events (see `advance_survey_scan`).
#[derive(Debug, Clone)]
pub struct ScheduledSend {
    pub key: String,
    pub job: NewJob,
}

/// The follow-up ticket a low score opens (built by the caller, created by the store in the
/// response's transaction).
pub type FollowUp = NewTicket;

/// Answer counts and invitations sent, per bucket.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SurveyCounts {
    pub answers: Vec<ScoreCount>,
    /// Invitations sent within the query's time range (by `sent_at`), per bucket.
    pub sent: Vec<SentCount>,
}

/// The channel of answers given at a kiosk.
pub const KIOSK_CHANNEL: &str = "kiosk";
/// Most answers one kiosk sync request may carry.
pub const KIOSK_BATCH_MAX: usize = 500;

/// A kiosk: a shop-counter tablet answering one survey, reached by a secret URL. Only the
/// SHA-256 of its token's secret is stored.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SurveyKiosk {
    pub id: i64,
    pub survey_id: i64,
    pub name: String,
    /// Answers count for this group (e.g. the shop's team); `None` for "no group".
    pub group_id: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    #[serde(skip)]
    pub token_hash: Vec<u8>,
}

#[derive(Debug, Clone)]
pub struct NewKiosk {
    pub survey_id: i64,
    pub name: String,
    pub group_id: Option<i64>,
    pub token_hash: Vec<u8>,
}

/// A kiosk with its survey.
#[derive(Debug, Clone, PartialEq)]
pub struct KioskView {
    pub kiosk: SurveyKiosk,
    pub survey: Survey,
}

/// One answer from a kiosk's local queue (checked by the caller: score in range, client id
/// a UUID, time clamped).
#[derive(Debug, Clone, PartialEq)]
pub struct KioskAnswer {
    /// The UUID the kiosk page gave the answer: stored once per kiosk.
    pub client_id: String,
    pub score: u8,
    pub comment: String,
    /// When it was answered (counted in that day and month).
    pub answered_at: DateTime<Utc>,
}

/// What `record_kiosk_answers` did with a batch.
#[derive(Debug, Clone, PartialEq)]
pub enum KioskBatch {
    /// One flag per answer, in order: `true` stored now, `false` stored before (a replay).
    Stored(Vec<bool>),
    /// The kiosk is revoked or unknown: nothing stored.
    Revoked,
}

/// Whether a time is midnight UTC, so a score query from or to it can read the per-day
/// roll-up tables instead of every answer.
pub fn day_aligned(t: Option<DateTime<Utc>>) -> bool {
    t.is_none_or(|t| t.timestamp_micros().rem_euclid(86_400_000_000) == 0)
}

/// Whether a time is the first of a month at midnight UTC, so a score query from or to it
/// can read the per-month roll-up tables.
pub fn month_aligned(t: Option<DateTime<Utc>>) -> bool {
    use chrono::Datelike;
    day_aligned(t) && t.is_none_or(|t| t.day() == 1)
}

/// Which table a score query reads: the per-month or per-day roll-ups, or every answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CountSource {
    Months,
    Days,
    Rows,
}

impl CountSource {
    pub fn of(q: &ScoreQuery) -> CountSource {
        if month_aligned(q.from) && month_aligned(q.to) {
            CountSource::Months
        } else if day_aligned(q.from) && day_aligned(q.to) {
            CountSource::Days
        } else {
            CountSource::Rows
        }
    }
}
