//! What the stores take and return.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tend_core::ticket::Fields;
use tend_core::{Actor, Change, Channel, FieldType, Priority, Role, Status};

use crate::{Cursor, TicketSort};

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Agent {
    pub id: i64,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub active: bool,
    pub group_ids: Vec<i64>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct NewAgent {
    pub email: String,
    pub name: String,
    pub role: Role,
    pub password_hash: Option<String>,
    pub active: bool,
}

#[derive(Debug, Clone, Default)]
pub struct AgentUpdate {
    pub name: Option<String>,
    pub role: Option<Role>,
    pub active: Option<bool>,
    pub password_hash: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Group {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub member_ids: Vec<i64>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct NewGroup {
    pub name: String,
    pub description: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct TokenInfo {
    pub id: i64,
    pub agent_id: i64,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Organization {
    pub id: i64,
    pub name: String,
    pub domains: Vec<String>,
    pub notes: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct NewOrganization {
    pub name: String,
    pub domains: Vec<String>,
    pub notes: String,
}

#[derive(Debug, Clone, Default)]
pub struct OrganizationUpdate {
    pub name: Option<String>,
    pub domains: Option<Vec<String>>,
    pub notes: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentityKind {
    Email,
    Phone,
    Social,
}

impl IdentityKind {
    pub fn as_str(self) -> &'static str {
        match self {
            IdentityKind::Email => "email",
            IdentityKind::Phone => "phone",
            IdentityKind::Social => "social",
        }
    }
    pub fn parse(s: &str) -> IdentityKind {
        match s {
            "phone" => IdentityKind::Phone,
            "social" => IdentityKind::Social,
            _ => IdentityKind::Email,
        }
    }
}

/// One way to reach a customer: an e-mail, a phone number, a social handle (`network:handle`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    pub kind: IdentityKind,
    pub value: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Customer {
    pub id: i64,
    pub name: String,
    pub organization_id: Option<i64>,
    pub language: Option<String>,
    pub time_zone: Option<String>,
    pub notes: String,
    pub identities: Vec<Identity>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Customer {
    pub fn email(&self) -> Option<&str> {
        self.identities
            .iter()
            .find(|i| i.kind == IdentityKind::Email)
            .map(|i| i.value.as_str())
    }
}

#[derive(Debug, Clone, Default)]
pub struct NewCustomer {
    pub name: String,
    pub organization_id: Option<i64>,
    pub language: Option<String>,
    pub time_zone: Option<String>,
    pub notes: String,
    pub identities: Vec<Identity>,
}

#[derive(Debug, Clone, Default)]
pub struct CustomerUpdate {
    pub name: Option<String>,
    pub organization_id: Option<Option<i64>>,
    pub language: Option<Option<String>>,
    pub time_zone: Option<Option<String>>,
    pub notes: Option<String>,
    /// Identities to add (existing ones are kept).
    pub add_identities: Vec<Identity>,
}

#[derive(Debug, Clone, Default)]
pub struct CustomerQuery {
    /// Exact identity value (e-mail, phone, handle).
    pub identity: Option<String>,
    pub organization_id: Option<i64>,
    pub page: PageRequest,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FieldDef {
    pub id: i64,
    pub key: String,
    pub label: String,
    pub field_type: FieldType,
    pub options: Vec<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct NewFieldDef {
    pub key: String,
    pub label: String,
    pub field_type: FieldType,
    pub options: Vec<String>,
}

/// Who a new ticket is for: an existing customer, or one found or created by e-mail.
#[derive(Debug, Clone)]
pub enum RequesterRef {
    Id(i64),
    Email { email: String, name: Option<String> },
}

#[derive(Debug, Clone)]
pub struct NewTicket {
    pub subject: String,
    pub status: Status,
    pub priority: Priority,
    pub channel: Channel,
    pub requester: RequesterRef,
    pub assignee_id: Option<i64>,
    pub group_id: Option<i64>,
    pub brand_id: Option<i64>,
    pub tags: Vec<String>,
    pub fields: Fields,
    pub external_id: Option<String>,
    /// The first message. `author_is_requester` makes the requester its author (the usual
    /// case: the customer wrote it); otherwise the acting agent did.
    pub message: Option<NewMessage>,
    pub message_by_requester: bool,
    /// Scoped to the acting agent: a retry with the same key returns the same ticket.
    pub idempotency_key: Option<String>,
}

/// Whether a create made something new or found the result of an earlier identical request.
#[derive(Debug, Clone)]
pub struct Created<T> {
    pub value: T,
    pub replayed: bool,
}

#[derive(Debug, Clone, Default)]
pub struct NewMessage {
    pub public: bool,
    pub body_text: String,
    /// Already sanitized.
    pub body_html: String,
    pub attachments: Vec<NewAttachment>,
    /// The mail this message came in as (inbound mail only).
    pub mail: Option<crate::mail::MailMeta>,
    /// Mail it to the requester (a public agent reply): the store enqueues
    /// [`crate::MAIL_REPLY_JOB`] in the same transaction.
    pub notify: bool,
    /// Time an agent logged on this message, in seconds (validated by the caller: 1 s ..=
    /// 24 h, agents only); carried in the `message_added` event.
    pub time_spent_seconds: Option<u32>,
}

#[derive(Debug, Clone)]
pub struct NewAttachment {
    pub filename: String,
    pub content_type: String,
    pub data: Vec<u8>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Attachment {
    pub id: i64,
    pub message_id: i64,
    pub filename: String,
    pub content_type: String,
    pub size: i64,
    pub sha256: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Message {
    pub id: i64,
    pub ticket_id: i64,
    pub author: Actor,
    pub public: bool,
    pub body_text: String,
    pub body_html: String,
    pub created_at: DateTime<Utc>,
    pub attachments: Vec<Attachment>,
    /// The mail this message came in or went out as.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mail: Option<crate::mail::MailMeta>,
}

/// One entry of a ticket's append-only log.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Event {
    pub seq: i64,
    pub ticket_id: i64,
    pub actor: Actor,
    pub at: DateTime<Utc>,
    pub kind: String,
    pub change: Change,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct TagCount {
    pub tag: String,
    pub count: i64,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct ImportOutcome {
    pub created: u64,
    pub skipped: u64,
}

/// Filters for the ticket list. Empty vectors mean "any".
#[derive(Debug, Clone, Default)]
pub struct TicketQuery {
    pub statuses: Vec<Status>,
    pub priorities: Vec<Priority>,
    /// `Some(None)` asks for unassigned tickets.
    pub assignee_id: Option<Option<i64>>,
    pub group_id: Option<Option<i64>>,
    pub requester_id: Option<i64>,
    pub organization_id: Option<i64>,
    pub channel: Option<Channel>,
    pub tag: Option<String>,
    pub updated_after: Option<DateTime<Utc>>,
    pub updated_before: Option<DateTime<Utc>>,
    /// Only tickets with an SLA target not met that is due before this time (breached ones
    /// included): the "SLA at risk" view.
    pub sla_due_before: Option<DateTime<Utc>>,
    pub sort: TicketSort,
    pub cursor: Option<Cursor>,
    pub limit: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// Keyset pagination for lists ordered by id (newest first, except a ticket's own events,
/// which read oldest first).
#[derive(Debug, Clone)]
pub struct PageRequest {
    /// Continue after the item with this id, in the list's order.
    pub after_id: Option<i64>,
    pub limit: i64,
}

impl Default for PageRequest {
    fn default() -> Self {
        PageRequest {
            after_id: None,
            limit: 50,
        }
    }
}

impl<T> Page<T> {
    /// Builds a page from `limit + 1` fetched items: the extra one only says there is more.
    pub fn from_overfetch(
        mut items: Vec<T>,
        limit: i64,
        cursor_of: impl Fn(&T) -> String,
    ) -> Page<T> {
        let more = items.len() as i64 > limit;
        items.truncate(limit.max(0) as usize);
        let next_cursor = if more {
            items.last().map(cursor_of)
        } else {
            None
        };
        Page { items, next_cursor }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Webhook {
    pub id: i64,
    pub url: String,
    /// Event kinds it receives; `*` for all.
    pub events: Vec<String>,
    #[serde(skip_serializing)]
    pub secret: String,
    pub active: bool,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct NewWebhook {
    pub url: String,
    pub events: Vec<String>,
    pub secret: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AuditEntry {
    pub id: i64,
    pub actor: Actor,
    pub action: String,
    pub target: String,
    pub data: serde_json::Value,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    Queued,
    Done,
    Dead,
}

impl JobState {
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Done => "done",
            JobState::Dead => "dead",
        }
    }
    pub fn parse(s: &str) -> JobState {
        match s {
            "done" => JobState::Done,
            "dead" => JobState::Dead,
            _ => JobState::Queued,
        }
    }
}

#[derive(Debug, Clone)]
pub struct NewJob {
    pub kind: String,
    pub payload: serde_json::Value,
    pub run_at: DateTime<Utc>,
    pub max_attempts: i32,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Job {
    pub id: i64,
    pub kind: String,
    pub payload: serde_json::Value,
    pub state: JobState,
    pub run_at: DateTime<Utc>,
    /// Attempts started so far, including the current one.
    pub attempts: i32,
    pub max_attempts: i32,
    pub last_error: Option<String>,
}

/// Kind of the job that delivers one event to one webhook. Stores enqueue it in the same
/// transaction as the event (a transactional outbox), so no event is lost or sent twice.
pub const WEBHOOK_JOB: &str = "webhook.deliver";

/// Attempts before a webhook delivery goes to the dead letters.
pub const WEBHOOK_MAX_ATTEMPTS: i32 = 8;

pub fn webhook_job_payload(webhook_id: i64, seq: i64) -> serde_json::Value {
    serde_json::json!({ "webhook_id": webhook_id, "seq": seq })
}

/// Whether a webhook subscribed to this event kind.
pub fn webhook_wants(events: &[String], kind: &str) -> bool {
    events.iter().any(|e| e == "*" || e == kind)
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Stats {
    pub tickets: i64,
    pub open_tickets: i64,
    pub jobs_queued: i64,
    pub jobs_dead: i64,
    pub last_seq: i64,
}

/// What a macro changes besides adding its text.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct MacroActions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Status>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<Priority>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub add_tags: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_id: Option<i64>,
}

/// A canned response: text with placeholders plus field changes. `owner_id: None` is shared.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Macro {
    pub id: i64,
    pub title: String,
    pub owner_id: Option<i64>,
    pub body: String,
    pub public: bool,
    pub actions: MacroActions,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct NewMacro {
    pub title: String,
    pub owner_id: Option<i64>,
    pub body: String,
    pub public: bool,
    pub actions: MacroActions,
}

/// The kind of the per-ticket SLA check jobs before migration 0027, which moved each
/// ticket's next check onto its row (`tickets.sla_check_us`, see `Store::claim_sla_checks`).
/// No longer queued; a worker still runs one it finds (`{"ticket_id": N}`) as that check.
pub const SLA_JOB: &str = "sla.check";

/// `tickets.sla_due_us` for "no running SLA target": sorts after every real due time.
pub const NO_SLA_DUE: i64 = i64::MAX;

/// The stored next-due column (microseconds since the epoch) as a time.
pub fn sla_due_from_us(v: i64) -> Option<DateTime<Utc>> {
    if v == NO_SLA_DUE {
        None
    } else {
        DateTime::<Utc>::from_timestamp_micros(v)
    }
}

/// A next-due time as the stored column.
pub fn sla_due_to_us(t: Option<DateTime<Utc>>) -> i64 {
    t.map_or(NO_SLA_DUE, |t| t.timestamp_micros())
}

/// The name of the API tokens a web sign-in creates: a password reset ends these sessions
/// (tokens made for integrations keep working).
pub const WEB_SESSION_TOKEN: &str = "web session";

/// A saved ticket view: personal (`owner_id` = the agent) or shared with everyone
/// (`owner_id: None`). `filters` uses the list API's query syntax; `sort` is a
/// [`TicketSort`] name; `columns` names the list's columns in order.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SavedView {
    pub id: i64,
    pub owner_id: Option<i64>,
    pub name: String,
    pub filters: String,
    pub sort: String,
    pub columns: Vec<String>,
    pub created_by: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct NewSavedView {
    pub owner_id: Option<i64>,
    pub name: String,
    pub filters: String,
    pub sort: String,
    pub columns: Vec<String>,
}

/// The job that re-checks the SLA clocks of every open ticket, a page at a time, after the
/// SLA configuration changed or tickets were imported (their checks were never scheduled).
pub const SLA_RECOMPUTE_JOB: &str = "sla.recompute";
/// Its dedupe key: one pass queued at a time.
pub const SLA_RECOMPUTE_KEY: &str = "sla:recompute";

/// A recompute pass continuing after ticket `after_id` (0: from the start).
pub fn sla_recompute_job(after_id: i64, run_at: DateTime<Utc>) -> NewJob {
    NewJob {
        kind: SLA_RECOMPUTE_JOB.into(),
        payload: serde_json::json!({ "after_id": after_id }),
        run_at,
        max_attempts: 5,
    }
}

/// The order saved views are listed in, the same on every store: shared first, then by
/// name (case-insensitive, Unicode lower case), then by id.
pub fn sort_saved_views(views: &mut [SavedView]) {
    views.sort_by_cached_key(|v| (v.owner_id.is_some(), v.name.to_lowercase(), v.id));
}
