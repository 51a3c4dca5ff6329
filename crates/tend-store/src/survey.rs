//! What the stores take and return for satisfaction surveys: definitions (NPS, CSAT, CES),
//! invitations (one per surveyed solve, with the ticket's agent/group/channel as they were
//! when it was sent and the SHA-256 of its one-click token), and responses (one per
//! invitation, never counted twice, editable once within [`EDIT_WINDOW_HOURS`]).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::records::{NewJob, NewTicket};
pub use tend_core::survey_form::{Answer, Question, QuestionKind, QuestionOption};
pub use tend_core::survey_rules::{PromoterAction, QuietHours, SurveyRules, SurveyTrigger};

/// The job that sends one survey for one solve (payload `{"survey_id", "ticket_id",
/// "solved_at"}`), scheduled `delay_hours` after the ticket was solved.
pub const SURVEY_SEND_JOB: &str = "survey.send";
/// Plans the survey sends of an order event (queued in the order's transaction).
pub const SURVEY_ORDER_JOB: &str = "survey.order";
/// One round of a relationship survey (a page of customers, then the next round).
pub const SURVEY_ROUND_JOB: &str = "survey.round";
/// Customers per `survey.round` job.
pub const ROUND_PAGE: i64 = 500;
/// Sends the one reminder of an invitation.
pub const SURVEY_REMIND_JOB: &str = "survey.remind";
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
    /// When it goes out, quiet hours, the reminder, promoters, the incentive.
    pub rules: SurveyRules,
    /// Follow-up questions after the score (and the comment).
    pub questions: Vec<Question>,
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
    pub rules: SurveyRules,
    pub questions: Vec<Question>,
}

/// One survey sent for one solve, with the ticket as it was at send time.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SurveyInvitation {
    pub id: i64,
    pub survey_id: i64,
    pub kind: SurveyKind,
    /// The surveyed ticket; `None` for surveys after an order or sent by hand.
    pub ticket_id: Option<i64>,
    /// The order a purchase/delivery survey asks about.
    pub order_id: Option<i64>,
    pub customer_id: i64,
    pub agent_id: Option<i64>,
    pub group_id: Option<i64>,
    pub channel: String,
    pub brand_id: Option<i64>,
    pub sent_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub responded: bool,
    pub reminded_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone)]
pub struct NewInvitation {
    pub survey_id: i64,
    pub ticket_id: Option<i64>,
    pub order_id: Option<i64>,
    pub customer_id: i64,
    pub agent_id: Option<i64>,
    pub group_id: Option<i64>,
    pub channel: String,
    pub brand_id: Option<i64>,
    /// The ticket's tags when the survey goes out (`tend_core::survey_dims::tags`).
    pub tags: Vec<String>,
    /// The products it is about: the order's items, the ticket's `product` field
    /// (`tend_core::survey_dims::products`).
    pub products: Vec<String>,
    /// The address the mail goes to (for the ticket's `SurveySent` timeline mark).
    pub recipient: String,
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
    /// The incentive code shown on the thank-you page, if the survey offers one.
    pub incentive_code: Option<String>,
    /// Answers to the follow-up questions, by question id.
    pub answers: BTreeMap<String, Answer>,
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
    /// Kept with a first answer (not with an edit).
    pub incentive_code: Option<String>,
    /// Answers to the follow-up questions (replaced by an edit).
    pub answers: BTreeMap<String, Answer>,
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
    /// By the ticket's brand when the survey was sent.
    Brand,
    /// By each of the ticket's tags when the survey was sent: an answer about a ticket with
    /// three tags counts once under each (so the buckets add up to more than the total).
    Tag,
    /// By each product the survey was about (the order's items, the ticket's `product`
    /// field), counted once under each like tags.
    Product,
}

impl ScoreGroup {
    /// What `group_by` names it.
    pub fn as_str(self) -> &'static str {
        match self {
            ScoreGroup::All => "all",
            ScoreGroup::Month => "month",
            ScoreGroup::Group => "group",
            ScoreGroup::Agent => "agent",
            ScoreGroup::Channel => "channel",
            ScoreGroup::Brand => "brand",
            ScoreGroup::Tag => "tag",
            ScoreGroup::Product => "product",
        }
    }

    pub const ALL: [ScoreGroup; 8] = [
        ScoreGroup::All,
        ScoreGroup::Month,
        ScoreGroup::Group,
        ScoreGroup::Agent,
        ScoreGroup::Channel,
        ScoreGroup::Brand,
        ScoreGroup::Tag,
        ScoreGroup::Product,
    ];

    /// `all`, `month`, `group`, `agent`, `channel`, `brand`, `tag` or `product`.
    pub fn parse(s: &str) -> Option<ScoreGroup> {
        ScoreGroup::ALL.into_iter().find(|g| g.as_str() == s)
    }

    /// The snapshot dimension (`survey_invitation_dims.dim`) it reads, for brand, tag and
    /// product.
    pub fn dim(self) -> Option<&'static str> {
        use tend_core::survey_dims::{DIM_BRAND, DIM_PRODUCT, DIM_TAG};
        match self {
            ScoreGroup::Brand => Some(DIM_BRAND),
            ScoreGroup::Tag => Some(DIM_TAG),
            ScoreGroup::Product => Some(DIM_PRODUCT),
            _ => None,
        }
    }
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

/// How many answers had `score`, in one bucket (month, group/agent/brand id as text, channel,
/// tag or product; `None` for "none" and for `ScoreGroup::All`), on one CSAT scale.
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
    /// Origins (`https://host[:port]`) whose pages may frame the kiosk page (a web embed);
    /// empty: no framing.
    pub embed_origins: Vec<String>,
    #[serde(skip)]
    pub token_hash: Vec<u8>,
}

#[derive(Debug, Clone)]
pub struct NewKiosk {
    pub survey_id: i64,
    pub name: String,
    pub group_id: Option<i64>,
    pub embed_origins: Vec<String>,
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

/// Which invitation an answer is for: the SHA-256 of a link token (mail links), or its id
/// (the portal, after checking that it is the signed-in customer's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InvitationKey {
    TokenHash(Vec<u8>),
    Id(i64),
}

/// Whose answers to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponsesOf {
    Survey(i64),
    Customer(i64),
}

impl ResponsesOf {
    /// The invitation column and the id to match.
    pub fn column(self) -> (&'static str, i64) {
        match self {
            ResponsesOf::Survey(id) => ("survey_id", id),
            ResponsesOf::Customer(id) => ("customer_id", id),
        }
    }
}

/// An answer with the invitation it answers (ticket, customer, agent, group, channel, order
/// as they were when the survey was sent).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ResponseWithInvitation {
    pub response: SurveyResponse,
    pub invitation: SurveyInvitation,
}

/// An order: a thin record of a purchase that surveys can ask about.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Order {
    pub id: i64,
    pub external_id: String,
    pub customer_id: i64,
    pub placed_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub amount_cents: i64,
    pub currency: String,
    pub items: Vec<OrderItem>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct OrderItem {
    #[serde(default)]
    pub sku: String,
    pub name: String,
    #[serde(default = "one")]
    pub quantity: i64,
    #[serde(default)]
    pub price_cents: i64,
}

fn one() -> i64 {
    1
}

/// An order reported through the API: created, or updated by its external id.
#[derive(Debug, Clone)]
pub struct NewOrder {
    pub external_id: String,
    pub customer_id: i64,
    pub placed_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub amount_cents: i64,
    pub currency: String,
    pub items: Vec<OrderItem>,
}

/// What `upsert_order` did.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderSaved {
    pub order: Order,
    pub created: bool,
    /// A `survey.order` job was queued for these events ("placed", "delivered").
    pub events: Vec<&'static str>,
}

/// A customer whose answers say they may leave: recent low scores, or low-score follow-up
/// tickets still open.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AtRiskCustomer {
    pub customer_id: i64,
    pub name: String,
    pub email: Option<String>,
    /// Low answers (detractor, CSAT ≤ 2, CES ≤ 3) since the query's start.
    pub low_answers: u64,
    pub last_low_at: Option<DateTime<Utc>>,
    pub last_kind: Option<SurveyKind>,
    pub last_score: Option<u8>,
    /// Open tickets tagged `survey-follow-up` or `complaint`.
    pub open_complaints: u64,
}

/// Which table a piece of a score query reads: the per-month, per-day or per-hour roll-ups,
/// or every answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CountSource {
    Months,
    Days,
    Hours,
    Rows,
}

/// One piece of a score query: a time range and the table that answers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CountPiece {
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub source: CountSource,
}

fn next_hour(t: DateTime<Utc>) -> DateTime<Utc> {
    let h = t.timestamp().div_euclid(3_600);
    DateTime::from_timestamp((h + 1) * 3_600, 0).unwrap_or(t)
}

fn hour_start(t: DateTime<Utc>) -> DateTime<Utc> {
    let h = t.timestamp().div_euclid(3_600);
    DateTime::from_timestamp(h * 3_600, 0).unwrap_or(t)
}

fn next_midnight(t: DateTime<Utc>) -> DateTime<Utc> {
    let day = t.timestamp().div_euclid(86_400);
    DateTime::from_timestamp((day + 1) * 86_400, 0).unwrap_or(t)
}

fn midnight(t: DateTime<Utc>) -> DateTime<Utc> {
    let day = t.timestamp().div_euclid(86_400);
    DateTime::from_timestamp(day * 86_400, 0).unwrap_or(t)
}

fn month_start(t: DateTime<Utc>) -> DateTime<Utc> {
    use chrono::{Datelike, TimeZone};
    Utc.with_ymd_and_hms(t.year(), t.month(), 1, 0, 0, 0)
        .single()
        .unwrap_or(t)
}

fn next_month_start(t: DateTime<Utc>) -> DateTime<Utc> {
    use chrono::{Datelike, TimeZone};
    let (y, m) = if t.month() == 12 {
        (t.year() + 1, 1)
    } else {
        (t.year(), t.month() + 1)
    };
    Utc.with_ymd_and_hms(y, m, 1, 0, 0, 0).single().unwrap_or(t)
}

/// Splits `[from, to)` so that each part reads the coarsest table that answers it exactly:
/// the partial hours at the edges from the answers themselves, the partial days from the
/// per-hour roll-ups, the partial months from the per-day roll-ups, the whole months in
/// between from the per-month roll-ups. A year is then at most two partial hours of rows,
/// ≤ 46 hour rows, ≤ 60 day rows and 12 month rows per group and score, whatever the
/// range's alignment; a range between whole hours (a month in Europe/Berlin) reads no
/// answer rows at all. `None` is open-ended. An empty or inverted range gives no pieces.
pub fn count_pieces(from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>) -> Vec<CountPiece> {
    let mut pieces = Vec::new();
    let (mut f, mut t) = (from, to);
    let empty = |f: Option<DateTime<Utc>>, t: Option<DateTime<Utc>>| matches!((f, t), (Some(f), Some(t)) if f >= t);
    if empty(f, t) {
        return pieces;
    }
    let min = |a: DateTime<Utc>, b: Option<DateTime<Utc>>| b.map_or(a, |b| a.min(b));
    let max = |a: DateTime<Utc>, b: Option<DateTime<Utc>>| b.map_or(a, |b| a.max(b));
    // Finest first: (start of the unit, start of the next one, what answers a partial unit).
    type Floor = fn(DateTime<Utc>) -> DateTime<Utc>;
    const LEVELS: [(Floor, Floor, CountSource); 3] = [
        (hour_start, next_hour, CountSource::Rows),
        (midnight, next_midnight, CountSource::Hours),
        (month_start, next_month_start, CountSource::Days),
    ];
    for (floor, next, source) in LEVELS {
        // The partial unit at each edge.
        if let Some(x) = f.filter(|x| floor(*x) != *x) {
            let end = min(next(x), t);
            pieces.push(CountPiece {
                from: Some(x),
                to: Some(end),
                source,
            });
            f = Some(end);
        }
        if empty(f, t) {
            return pieces;
        }
        if let Some(x) = t.filter(|x| floor(*x) != *x) {
            let start = max(floor(x), f);
            pieces.push(CountPiece {
                from: Some(start),
                to: Some(x),
                source,
            });
            t = Some(start);
        }
        if empty(f, t) {
            return pieces;
        }
    }
    pieces.push(CountPiece {
        from: f,
        to: t,
        source: CountSource::Months,
    });
    pieces
}

impl SurveyCounts {
    /// The counts of disjoint pieces of one query, added up per bucket (and scale and score),
    /// in bucket order, without zero rows.
    pub fn sum(parts: impl IntoIterator<Item = SurveyCounts>) -> SurveyCounts {
        let mut answers: BTreeMap<(Option<String>, Option<u8>, u8), u64> = BTreeMap::new();
        let mut sent: BTreeMap<Option<String>, (u64, u64)> = BTreeMap::new();
        for p in parts {
            for a in p.answers {
                *answers.entry((a.bucket, a.scale, a.score)).or_default() += a.count;
            }
            for s in p.sent {
                let e = sent.entry(s.bucket).or_default();
                e.0 += s.sent;
                e.1 += s.answered;
            }
        }
        SurveyCounts {
            answers: answers
                .into_iter()
                .filter(|(_, n)| *n != 0)
                .map(|((bucket, scale, score), count)| ScoreCount {
                    bucket,
                    scale,
                    score,
                    count,
                })
                .collect(),
            sent: sent
                .into_iter()
                .filter(|(_, (s, _))| *s != 0)
                .map(|(bucket, (sent, answered))| SentCount {
                    bucket,
                    sent,
                    answered,
                })
                .collect(),
        }
    }
}

/// "kind:score" (the latest low answer, as the at-risk queries return it) → its parts.
pub fn parse_last(s: Option<&str>) -> (Option<SurveyKind>, Option<u8>) {
    let Some((k, n)) = s.and_then(|s| s.split_once(':')) else {
        return (None, None);
    };
    (SurveyKind::parse(k), n.parse().ok())
}

/// The events an order report brings: "placed" when the order is new, "delivered" when
/// `delivered_at` is set for the first time.
pub fn order_events(old: Option<&Order>, new: &Order) -> Vec<&'static str> {
    let mut events = Vec::new();
    if old.is_none() {
        events.push("placed");
    }
    if new.delivered_at.is_some() && old.is_none_or(|o| o.delivered_at.is_none()) {
        events.push("delivered");
    }
    events
}

/// The `survey.order` job of an order event, under its key (queued once per order and
/// event): the worker then plans the sends of the surveys that wait for that event.
pub fn order_event_job(order: &Order, event: &str) -> (String, NewJob) {
    let at = if event == "delivered" {
        order.delivered_at.unwrap_or(order.updated_at)
    } else {
        order.placed_at
    };
    (
        format!("survey-order:{}:{event}", order.id),
        NewJob {
            kind: SURVEY_ORDER_JOB.into(),
            payload: serde_json::json!({ "order_id": order.id, "event": event, "at": at.timestamp_micros() }),
            run_at: order.updated_at,
            max_attempts: 10,
        },
    )
}

/// Relationship survey candidates (`?1` after id, `?2` since, `?3` limit; the PostgreSQL
/// backend numbers them `$n`).
pub const RELATIONSHIP_SQL: &str = "SELECT c.id FROM customers c WHERE c.id > ?1 \
    AND EXISTS (SELECT 1 FROM customer_identities ci WHERE ci.customer_id = c.id AND ci.kind = 'email') \
    AND (EXISTS (SELECT 1 FROM tickets t WHERE t.requester_id = c.id AND t.updated_at >= ?2) \
         OR EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = c.id AND o.placed_at >= ?2)) \
    ORDER BY c.id LIMIT ?3";

/// Low answers in SQL over `survey_responses r`, `survey_invitations i`, `surveys s`:
/// detractors, CSAT ≤ 2 on the 5-point scale or the lowest answer on the others, CES ≤ 3 —
/// the rule that opens a follow-up ticket.
pub const LOW_ANSWER_SQL: &str = "((i.kind = 'nps' AND r.score <= 6) OR (i.kind = 'csat' AND ((s.scale = 5 AND r.score <= 2) OR (s.scale <> 5 AND r.score = 1))) OR (i.kind = 'ces' AND r.score <= 3))";

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Option<DateTime<Utc>> {
        Some(DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc))
    }

    fn piece(from: &str, to: &str, source: CountSource) -> CountPiece {
        CountPiece {
            from: t(from),
            to: t(to),
            source,
        }
    }

    #[test]
    fn aligned_and_open_ranges_read_months_only() {
        assert_eq!(
            count_pieces(None, None),
            vec![CountPiece {
                from: None,
                to: None,
                source: CountSource::Months
            }]
        );
        assert_eq!(
            count_pieces(t("2026-01-01T00:00:00Z"), t("2027-01-01T00:00:00Z")),
            vec![piece(
                "2026-01-01T00:00:00Z",
                "2027-01-01T00:00:00Z",
                CountSource::Months
            )]
        );
    }

    #[test]
    fn a_year_from_mid_month_reads_edge_days_and_whole_months() {
        assert_eq!(
            count_pieces(t("2025-11-24T00:00:00Z"), t("2026-11-24T00:00:00Z")),
            vec![
                piece(
                    "2025-11-24T00:00:00Z",
                    "2025-12-01T00:00:00Z",
                    CountSource::Days
                ),
                piece(
                    "2026-11-01T00:00:00Z",
                    "2026-11-24T00:00:00Z",
                    CountSource::Days
                ),
                piece(
                    "2025-12-01T00:00:00Z",
                    "2026-11-01T00:00:00Z",
                    CountSource::Months
                ),
            ]
        );
    }

    #[test]
    fn unaligned_instants_read_rows_only_for_their_partial_hours() {
        assert_eq!(
            count_pieces(t("2026-03-01T00:00:01Z"), None),
            vec![
                piece(
                    "2026-03-01T00:00:01Z",
                    "2026-03-01T01:00:00Z",
                    CountSource::Rows
                ),
                piece(
                    "2026-03-01T01:00:00Z",
                    "2026-03-02T00:00:00Z",
                    CountSource::Hours
                ),
                piece(
                    "2026-03-02T00:00:00Z",
                    "2026-04-01T00:00:00Z",
                    CountSource::Days
                ),
                CountPiece {
                    from: t("2026-04-01T00:00:00Z"),
                    to: None,
                    source: CountSource::Months
                },
            ]
        );
        // Within one day: whole hours from the hours, the last half hour from the rows.
        assert_eq!(
            count_pieces(t("2026-03-05T08:00:00Z"), t("2026-03-05T17:30:00Z")),
            vec![
                piece(
                    "2026-03-05T17:00:00Z",
                    "2026-03-05T17:30:00Z",
                    CountSource::Rows
                ),
                piece(
                    "2026-03-05T08:00:00Z",
                    "2026-03-05T17:00:00Z",
                    CountSource::Hours
                ),
            ]
        );
        // Within one hour: rows only.
        assert_eq!(
            count_pieces(t("2026-03-05T08:10:00Z"), t("2026-03-05T08:50:00Z")),
            vec![piece(
                "2026-03-05T08:10:00Z",
                "2026-03-05T08:50:00Z",
                CountSource::Rows
            )]
        );
        // Across midnight within a month: two partial days of hours, no rows.
        assert_eq!(
            count_pieces(t("2026-03-05T20:00:00Z"), t("2026-03-06T04:00:00Z")),
            vec![
                piece(
                    "2026-03-05T20:00:00Z",
                    "2026-03-06T00:00:00Z",
                    CountSource::Hours
                ),
                piece(
                    "2026-03-06T00:00:00Z",
                    "2026-03-06T04:00:00Z",
                    CountSource::Hours
                ),
            ]
        );
        // December rolls into the next year.
        assert_eq!(
            count_pieces(t("2026-12-15T00:00:00Z"), t("2027-02-01T00:00:00Z")),
            vec![
                piece(
                    "2026-12-15T00:00:00Z",
                    "2027-01-01T00:00:00Z",
                    CountSource::Days
                ),
                piece(
                    "2027-01-01T00:00:00Z",
                    "2027-02-01T00:00:00Z",
                    CountSource::Months
                ),
            ]
        );
    }

    #[test]
    fn a_month_in_berlin_reads_hours_days_and_no_rows() {
        // October 2026 in Europe/Berlin: 2026-09-30T22:00Z .. 2026-10-31T23:00Z.
        let ps = count_pieces(t("2026-09-30T22:00:00Z"), t("2026-10-31T23:00:00Z"));
        assert!(ps.iter().all(|p| p.source != CountSource::Rows), "{ps:?}");
        assert_eq!(
            ps,
            vec![
                piece(
                    "2026-09-30T22:00:00Z",
                    "2026-10-01T00:00:00Z",
                    CountSource::Hours
                ),
                piece(
                    "2026-10-31T00:00:00Z",
                    "2026-10-31T23:00:00Z",
                    CountSource::Hours
                ),
                piece(
                    "2026-10-01T00:00:00Z",
                    "2026-10-31T00:00:00Z",
                    CountSource::Days
                ),
            ]
        );
    }

    #[test]
    fn score_groups_parse_their_names() {
        for g in ScoreGroup::ALL {
            assert_eq!(ScoreGroup::parse(g.as_str()), Some(g));
        }
        assert_eq!(ScoreGroup::parse("week"), None);
        assert_eq!(ScoreGroup::Tag.dim(), Some("tag"));
        assert_eq!(ScoreGroup::Group.dim(), None);
    }

    #[test]
    fn empty_and_inverted_ranges_have_no_pieces() {
        assert!(count_pieces(t("2026-03-05T00:00:00Z"), t("2026-03-05T00:00:00Z")).is_empty());
        assert!(count_pieces(t("2026-03-06T00:00:00Z"), t("2026-03-05T00:00:00Z")).is_empty());
    }

    #[test]
    fn the_pieces_tile_the_range() {
        let cases = [
            (t("2026-01-31T23:59:59Z"), t("2026-03-01T00:00:01Z")),
            (None, t("2026-02-10T12:00:00Z")),
            (t("2024-02-29T06:00:00Z"), t("2026-02-28T00:00:00Z")),
            (t("2026-03-29T00:30:00Z"), t("2026-10-25T01:59:59Z")),
            (t("2026-03-05T08:10:00Z"), None),
        ];
        for (from, to) in cases {
            let mut ps = count_pieces(from, to);
            ps.sort_by_key(|p| p.from);
            assert_eq!(ps.first().unwrap().from, from);
            assert_eq!(ps.last().unwrap().to, to);
            for w in ps.windows(2) {
                assert_eq!(w[0].to, w[1].from, "{ps:?}");
            }
        }
    }

    #[test]
    fn sums_add_up_per_bucket_and_drop_zeros() {
        let a = SurveyCounts {
            answers: vec![
                ScoreCount {
                    bucket: Some("1".into()),
                    scale: None,
                    score: 9,
                    count: 2,
                },
                ScoreCount {
                    bucket: None,
                    scale: None,
                    score: 3,
                    count: 1,
                },
            ],
            sent: vec![SentCount {
                bucket: Some("1".into()),
                sent: 4,
                answered: 2,
            }],
        };
        let b = SurveyCounts {
            answers: vec![ScoreCount {
                bucket: Some("1".into()),
                scale: None,
                score: 9,
                count: 1,
            }],
            sent: vec![
                SentCount {
                    bucket: Some("1".into()),
                    sent: 1,
                    answered: 1,
                },
                SentCount {
                    bucket: Some("2".into()),
                    sent: 0,
                    answered: 0,
                },
            ],
        };
        let s = SurveyCounts::sum([a, b]);
        assert_eq!(
            s.answers,
            vec![
                ScoreCount {
                    bucket: None,
                    scale: None,
                    score: 3,
                    count: 1
                },
                ScoreCount {
                    bucket: Some("1".into()),
                    scale: None,
                    score: 9,
                    count: 3
                },
            ]
        );
        assert_eq!(
            s.sent,
            vec![SentCount {
                bucket: Some("1".into()),
                sent: 5,
                answered: 3
            }]
        );
    }
}
