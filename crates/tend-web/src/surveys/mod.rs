//! Satisfaction surveys (NPS, CSAT, CES): when they go out, the one-click rating pages, and
//! closing the loop on low scores.
//!
//! - **When**: the worker scans the event log for solves ([`scan`]) and schedules one
//!   `survey.send` job per active survey, `delay_hours` after the solve, on the durable queue.
//! - **Send** ([`send`]): skipped if the ticket was reopened (or solved again later), is tagged
//!   `spam`, sampling left it out, or the requester has no e-mail; the store then skips a
//!   customer surveyed within `throttle_days`. Otherwise an invitation with a fresh random
//!   token (256 bits; only its SHA-256 is stored) and a mail with one link per score.
//! - **Pages**: `GET /s/{token}?score=N` shows the form with N chosen and records nothing
//!   (mail link scanners follow links); `POST /s/{token}` records. The token is looked up by
//!   its SHA-256: a lookup by the hash of a high-entropy secret leaks nothing through timing
//!   (the attacker controls the hash input, not the stored value), as for API tokens.
//!   A response is stored once per invitation; the same answer again (a double click, a
//!   replayed form) says "already recorded"; one change is allowed within 24 hours.
//! - **Closing the loop**: an NPS detractor (0–6), a CSAT of 2 or less (5-point scale; the
//!   lowest answer on the 2- and 3-point scales) or a CES of 3 or less opens a follow-up
//!   ticket tagged `survey-follow-up` in the surveyed ticket's group, in the response's
//!   transaction, linked both ways (`survey_follow_up_of` / `survey_followed_up_by`).

pub mod api;
pub mod kiosk;
pub mod orders;

use crate::auth::hash_token;
use crate::mail::{deliver, MailConfig, OutMail};
use crate::ui::render;
use crate::{AppError, AppState};
use askama::Template;
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use rand::RngCore;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use tend_core::{Change, Channel, Priority, Role, Status, Viewer};
use tend_store::survey::*;
use tend_store::*;

/// The tag of tickets opened by a low score.
pub const FOLLOW_UP_TAG: &str = "survey-follow-up";
/// Longest comment kept.
pub const COMMENT_MAX: usize = 5000;
/// Events looked at per scan.
const SCAN_BATCH: i64 = 500;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/s/{token}", get(page).post(answer))
        .layer(axum::middleware::from_fn(security_headers))
        .merge(kiosk::router())
}

/// Same policy as the agent and portal pages: no inline script or style, no framing.
async fn security_headers(req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    crate::ui::page_headers(
        h,
        "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        "no-referrer",
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

fn system_viewer() -> Viewer {
    Viewer {
        agent_id: 0,
        role: Role::Admin,
        group_ids: vec![],
    }
}

/// A new random link token (256 bits, URL-safe).
pub fn generate_token() -> String {
    let mut b = [0u8; 32];
    rand::rng().fill_bytes(&mut b);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

/// Whether a score asks for a follow-up ticket.
pub fn needs_follow_up(survey: &Survey, score: u8) -> bool {
    match survey.kind {
        SurveyKind::Nps => score <= 6,
        SurveyKind::Csat => match survey.scale.unwrap_or(5) {
            5 => score <= 2,
            _ => score <= 1,
        },
        SurveyKind::Ces => score <= 3,
    }
}

/// Whether a solve is in the sample: a stable function of the send key, so a retried job
/// decides the same way.
pub fn sampled(send_key: &str, rate: f64) -> bool {
    if rate >= 1.0 {
        return true;
    }
    let h = Sha256::digest(send_key.as_bytes());
    let x = u64::from_be_bytes(h[..8].try_into().expect("8 bytes"));
    (x as f64 / u64::MAX as f64) < rate
}

/// The text for a language: exact tag, then its primary subtag, then English, then any.
pub fn localized<'a>(texts: &'a BTreeMap<String, String>, lang: Option<&str>) -> &'a str {
    let lang = lang.unwrap_or("en").to_ascii_lowercase();
    let primary = lang.split(['-', '_']).next().unwrap_or("en").to_string();
    texts
        .iter()
        .find(|(k, _)| k.to_ascii_lowercase() == lang)
        .or_else(|| {
            texts
                .iter()
                .find(|(k, _)| k.to_ascii_lowercase() == primary)
        })
        .or_else(|| texts.get_key_value("en"))
        .or_else(|| texts.iter().next())
        .map(|(_, v)| v.as_str())
        .unwrap_or("")
}

fn labels(survey: &Survey) -> (&'static str, &'static str) {
    match survey.kind {
        SurveyKind::Nps => ("Not at all likely", "Extremely likely"),
        SurveyKind::Csat => ("Very dissatisfied", "Very satisfied"),
        SurveyKind::Ces => ("Strongly disagree", "Strongly agree"),
    }
}

// --- scheduling ------------------------------------------------------------------------

/// Looks at the events since the last scan and schedules a send job per active survey for
/// every solve. Cheap when no survey is active (one read). Returns the sends scheduled.
pub async fn scan(store: &dyn Store, now: DateTime<Utc>) -> Result<usize, StoreError> {
    let Some(cursor) = store.survey_scan_cursor().await? else {
        return Ok(0);
    };
    let events = store.events_since(cursor, SCAN_BATCH).await?;
    let Some(last) = events.last().map(|e| e.seq) else {
        return Ok(0);
    };
    let surveys: Vec<Survey> = store
        .list_surveys()
        .await?
        .into_iter()
        .filter(|s| s.active && s.rules.trigger == SurveyTrigger::TicketSolved)
        .collect();
    let mut sends = Vec::new();
    for e in &events {
        if !matches!(
            e.change,
            Change::StatusChanged {
                to: Status::Solved,
                ..
            }
        ) {
            continue;
        }
        for s in &surveys {
            sends.push(ScheduledSend {
                key: format!("survey:{}:{}:{}", s.id, e.ticket_id, e.seq),
                job: NewJob {
                    kind: SURVEY_SEND_JOB.into(),
                    payload: serde_json::json!({
                        "survey_id": s.id,
                        "ticket_id": e.ticket_id,
                        "solved_at": e.at.timestamp_micros(),
                    }),
                    run_at: e.at + Duration::hours(s.delay_hours),
                    max_attempts: 10,
                },
            });
        }
    }
    let n = sends.len();
    Ok(
        if store.advance_survey_scan(cursor, last, sends, now).await? {
            n
        } else {
            0
        },
    )
}

// --- sending -----------------------------------------------------------------------------

/// What a send job did (for logs and tests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sent {
    Mailed {
        invitation_id: i64,
        to: String,
    },
    /// In the customer's quiet hours: queued again for the end of them.
    Deferred(DateTime<Utc>),
    Skipped(&'static str),
}

/// What a survey asks about: a solved ticket, an order, or a customer asked by hand.
struct Subject {
    customer_id: i64,
    ticket: Option<tend_core::Ticket>,
    order: Option<Order>,
    send_key: String,
}

/// Reads a send job's payload: `ticket_id` + `solved_at` (after a solve), `order_id` +
/// `event` (after an order event) or `customer_id` (+ optional `ticket_id`) + `requested_at`
/// (sent by hand). `Err(Ok(reason))` skips the send; `Err(Err(e))` is retried.
async fn subject(
    store: &dyn Store,
    survey_id: i64,
    payload: &serde_json::Value,
) -> Result<Subject, Result<&'static str, String>> {
    let e = |e: StoreError| Err(e.to_string());
    let ticket = |id: i64| async move {
        match store.get_ticket(id, &system_viewer()).await {
            Ok(t) => Ok(t),
            Err(StoreError::NotFound(_)) => Err(Ok("ticket gone")),
            Err(err) => Err(e(err)),
        }
    };
    if let Some(order_id) = payload["order_id"].as_i64() {
        let event = payload["event"].as_str().unwrap_or("placed");
        let order = match store.get_order(order_id).await {
            Ok(o) => o,
            Err(StoreError::NotFound(_)) => return Err(Ok("order gone")),
            Err(err) => return Err(e(err)),
        };
        return Ok(Subject {
            customer_id: order.customer_id,
            ticket: None,
            send_key: format!("{survey_id}:order:{order_id}:{event}"),
            order: Some(order),
        });
    }
    if let Some(customer_id) = payload["customer_id"].as_i64() {
        let requested = payload["requested_at"].as_i64().unwrap_or_default();
        let t = match payload["ticket_id"].as_i64() {
            Some(id) => Some(ticket(id).await?),
            None => None,
        };
        return Ok(Subject {
            customer_id,
            send_key: format!("{survey_id}:manual:{customer_id}:{requested}"),
            ticket: t,
            order: None,
        });
    }
    let ticket_id = payload["ticket_id"].as_i64().ok_or(Err(
        "payload has no ticket_id, order_id or customer_id".to_string(),
    ))?;
    let solved_at = payload["solved_at"]
        .as_i64()
        .ok_or(Err("payload has no solved_at".to_string()))?;
    let t = ticket(ticket_id).await?;
    if t.status.is_open() || t.solved_at.map(|t| t.timestamp_micros()) != Some(solved_at) {
        return Err(Ok("reopened"));
    }
    if t.tags.iter().any(|t| t == "spam") {
        return Err(Ok("spam"));
    }
    Ok(Subject {
        customer_id: t.requester_id,
        send_key: format!("{survey_id}:{ticket_id}:{solved_at}"),
        ticket: Some(t),
        order: None,
    })
}

/// Runs one `survey.send` job. Errors (store or SMTP) are retried by the worker; a retry
/// replaces the token of the same invitation, so only the last mail's links work.
pub async fn send(
    store: &dyn Store,
    mail: &MailConfig,
    now: DateTime<Utc>,
    payload: &serde_json::Value,
) -> Result<Sent, String> {
    let survey_id = payload["survey_id"]
        .as_i64()
        .ok_or("payload has no survey_id")?;
    let e = |e: StoreError| e.to_string();
    let survey = match store.get_survey(survey_id).await {
        Ok(s) => s,
        Err(StoreError::NotFound(_)) => return Ok(Sent::Skipped("survey deleted")),
        Err(err) => return Err(e(err)),
    };
    if !survey.active {
        return Ok(Sent::Skipped("survey inactive"));
    }
    let subject = match subject(store, survey_id, payload).await {
        Ok(s) => s,
        Err(Ok(reason)) => return Ok(Sent::Skipped(reason)),
        Err(Err(err)) => return Err(err),
    };
    if !sampled(&subject.send_key, survey.sample_rate) {
        return Ok(Sent::Skipped("not sampled"));
    }
    let customer = match store.get_customer(subject.customer_id).await {
        Ok(c) => c,
        Err(StoreError::NotFound(_)) => return Ok(Sent::Skipped("customer gone")),
        Err(err) => return Err(e(err)),
    };
    let Some(to) = customer.email().map(str::to_string) else {
        return Ok(Sent::Skipped("no e-mail"));
    };
    let at = survey.rules.send_time(now, customer.time_zone.as_deref());
    if at > now {
        defer(store, SURVEY_SEND_JOB, &subject.send_key, payload, at).await?;
        return Ok(Sent::Deferred(at));
    }
    let token = generate_token();
    let t = subject.ticket.as_ref();
    let opened = store
        .open_survey_invitation(
            NewInvitation {
                survey_id,
                ticket_id: t.map(|t| t.id),
                order_id: subject.order.as_ref().map(|o| o.id),
                customer_id: customer.id,
                agent_id: t.and_then(|t| t.assignee_id),
                group_id: t.and_then(|t| t.group_id),
                channel: t
                    .map_or(
                        if subject.order.is_some() {
                            "order"
                        } else {
                            "direct"
                        },
                        |t| t.channel.as_str(),
                    )
                    .into(),
                brand_id: t.and_then(|t| t.brand_id),
                // As they are now, when the survey goes out (scores by tag and product).
                tags: t
                    .map(|t| tend_core::survey_dims::tags(&t.tags))
                    .unwrap_or_default(),
                products: tend_core::survey_dims::products(
                    subject
                        .order
                        .iter()
                        .flat_map(|o| o.items.iter().map(|i| i.name.as_str())),
                    t.and_then(|t| t.fields.get(tend_core::survey_dims::PRODUCT_FIELD)),
                ),
                recipient: to.clone(),
                send_key: subject.send_key.clone(),
                token_hash: hash_token(&token),
                expires_at: now + Duration::days(survey.expires_days),
            },
            now,
        )
        .await
        .map_err(e)?;
    let inv = match opened {
        InvitationOpened::Created(inv) => inv,
        InvitationOpened::Throttled => return Ok(Sent::Skipped("throttled")),
        InvitationOpened::AlreadyAnswered => return Ok(Sent::Skipped("already answered")),
    };
    let about = About::of(&subject);
    let m = invitation_mail(mail, &survey, &customer, &about, &token, &to, false);
    deliver(mail, &m).await?;
    if let Some(h) = survey.rules.reminder_hours {
        store
            .schedule_job(
                &format!("survey-remind:{}", inv.id),
                NewJob {
                    kind: SURVEY_REMIND_JOB.into(),
                    payload: serde_json::json!({ "invitation_id": inv.id }),
                    run_at: now + Duration::hours(h),
                    max_attempts: 10,
                },
            )
            .await
            .map_err(e)?;
    }
    Ok(Sent::Mailed {
        invitation_id: inv.id,
        to,
    })
}

/// Queues a job again for the end of the quiet hours (same payload, keyed).
async fn defer(
    store: &dyn Store,
    kind: &str,
    key: &str,
    payload: &serde_json::Value,
    at: DateTime<Utc>,
) -> Result<(), String> {
    store
        .schedule_job(
            &format!("survey-quiet:{kind}:{key}"),
            NewJob {
                kind: kind.into(),
                payload: payload.clone(),
                run_at: at,
                max_attempts: 10,
            },
        )
        .await
        .map_err(|e| e.to_string())
}

/// Runs one `survey.remind` job: one reminder with a second link, only while the
/// invitation is unanswered and unexpired, outside the customer's quiet hours. The
/// reminder's token is stored before the mail goes out; if that mail then fails for good,
/// there is no second reminder (at most one, as promised).
pub async fn remind(
    store: &dyn Store,
    mail: &MailConfig,
    now: DateTime<Utc>,
    payload: &serde_json::Value,
) -> Result<Sent, String> {
    let id = payload["invitation_id"]
        .as_i64()
        .ok_or("payload has no invitation_id")?;
    let e = |e: StoreError| e.to_string();
    let Some(view) = store.survey_invitation(id).await.map_err(e)? else {
        return Ok(Sent::Skipped("invitation gone"));
    };
    let inv = &view.invitation;
    if inv.responded || view.response.is_some() {
        return Ok(Sent::Skipped("already answered"));
    }
    if inv.reminded_at.is_some() {
        return Ok(Sent::Skipped("already reminded"));
    }
    if inv.expires_at <= now {
        return Ok(Sent::Skipped("expired"));
    }
    let customer = store.get_customer(inv.customer_id).await.map_err(e)?;
    let Some(to) = customer.email().map(str::to_string) else {
        return Ok(Sent::Skipped("no e-mail"));
    };
    let at = view
        .survey
        .rules
        .send_time(now, customer.time_zone.as_deref());
    if at > now {
        defer(store, SURVEY_REMIND_JOB, &id.to_string(), payload, at).await?;
        return Ok(Sent::Deferred(at));
    }
    let token = generate_token();
    let Some(view) = store
        .remind_survey_invitation(id, hash_token(&token), now)
        .await
        .map_err(e)?
    else {
        return Ok(Sent::Skipped("answered or reminded meanwhile"));
    };
    let ticket = match view.invitation.ticket_id {
        Some(t) => store.get_ticket(t, &system_viewer()).await.ok(),
        None => None,
    };
    let order = match view.invitation.order_id {
        Some(o) => store.get_order(o).await.ok(),
        None => None,
    };
    let about = About::of(&Subject {
        customer_id: customer.id,
        ticket,
        order,
        send_key: String::new(),
    });
    let m = invitation_mail(mail, &view.survey, &customer, &about, &token, &to, true);
    deliver(mail, &m).await?;
    Ok(Sent::Mailed {
        invitation_id: id,
        to,
    })
}

/// Runs one `survey.order` job: schedules a send per active survey waiting for this order
/// event, `delay_hours` after it.
pub async fn plan_order_sends(
    store: &dyn Store,
    payload: &serde_json::Value,
) -> Result<usize, String> {
    let order_id = payload["order_id"]
        .as_i64()
        .ok_or("payload has no order_id")?;
    let event = payload["event"].as_str().ok_or("payload has no event")?;
    let at = payload["at"]
        .as_i64()
        .and_then(DateTime::<Utc>::from_timestamp_micros)
        .ok_or("payload has no at")?;
    let trigger = match event {
        "placed" => SurveyTrigger::OrderPlaced,
        "delivered" => SurveyTrigger::OrderDelivered,
        _ => return Err(format!("unknown order event {event}")),
    };
    let surveys = store.list_surveys().await.map_err(|e| e.to_string())?;
    let mut n = 0;
    for s in surveys
        .iter()
        .filter(|s| s.active && s.rules.trigger == trigger)
    {
        store
            .schedule_job(
                &format!("survey:{}:order:{order_id}:{event}", s.id),
                NewJob {
                    kind: SURVEY_SEND_JOB.into(),
                    payload: serde_json::json!({ "survey_id": s.id, "order_id": order_id, "event": event }),
                    run_at: at + Duration::hours(s.delay_hours),
                    max_attempts: 10,
                },
            )
            .await
            .map_err(|e| e.to_string())?;
        n += 1;
    }
    Ok(n)
}

/// The first round of a relationship survey, `delay_hours` after it is created.
pub fn first_round(survey: &Survey) -> Option<(String, NewJob)> {
    (survey.rules.trigger == SurveyTrigger::Relationship).then(|| {
        round_job(
            survey.id,
            survey.created_at + Duration::hours(survey.delay_hours),
            0,
        )
    })
}

fn round_job(survey_id: i64, round_at: DateTime<Utc>, after: i64) -> (String, NewJob) {
    let at = round_at.timestamp_micros();
    (
        format!("survey-round:{survey_id}:{at}:{after}"),
        NewJob {
            kind: SURVEY_ROUND_JOB.into(),
            payload: serde_json::json!({ "survey_id": survey_id, "round_at": at, "after": after }),
            run_at: round_at,
            max_attempts: 10,
        },
    )
}

/// Runs one `survey.round` job of a relationship survey: schedules a send for up to
/// [`ROUND_PAGE`] customers active in the last period (a ticket updated or an order placed),
/// then queues the next page, or the next round `period_days` later. Each send is keyed by
/// round and customer, so a retried page sends nothing twice.
pub async fn round(store: &dyn Store, payload: &serde_json::Value) -> Result<usize, String> {
    let survey_id = payload["survey_id"]
        .as_i64()
        .ok_or("payload has no survey_id")?;
    let round_at = payload["round_at"]
        .as_i64()
        .and_then(DateTime::<Utc>::from_timestamp_micros)
        .ok_or("payload has no round_at")?;
    let after = payload["after"].as_i64().unwrap_or(0);
    let e = |e: StoreError| e.to_string();
    let survey = match store.get_survey(survey_id).await {
        Ok(s) => s,
        Err(StoreError::NotFound(_)) => return Ok(0),
        Err(err) => return Err(e(err)),
    };
    let (SurveyTrigger::Relationship, Some(period)) =
        (survey.rules.trigger, survey.rules.period_days)
    else {
        return Ok(0);
    };
    if !survey.active {
        return Ok(0);
    }
    let ids = store
        .relationship_candidates(round_at - Duration::days(period), after, ROUND_PAGE)
        .await
        .map_err(e)?;
    let at = round_at.timestamp_micros();
    for c in &ids {
        store
            .schedule_job(
                &format!("survey:{survey_id}:round:{at}:{c}"),
                NewJob {
                    kind: SURVEY_SEND_JOB.into(),
                    payload: serde_json::json!({ "survey_id": survey_id, "customer_id": c, "requested_at": at }),
                    run_at: round_at,
                    max_attempts: 10,
                },
            )
            .await
            .map_err(e)?;
    }
    let (key, job) = match ids.last() {
        Some(last) if ids.len() as i64 == ROUND_PAGE => round_job(survey_id, round_at, *last),
        _ => round_job(survey_id, round_at + Duration::days(period), 0),
    };
    store.schedule_job(&key, job).await.map_err(e)?;
    Ok(ids.len())
}

/// What the mail says the survey is about.
pub enum About {
    Ticket { id: i64, subject: String },
    Order { external_id: String },
    Nothing,
}

impl About {
    fn of(s: &Subject) -> About {
        match (&s.ticket, &s.order) {
            (Some(t), _) => About::Ticket {
                id: t.id,
                subject: t.subject.clone(),
            },
            (None, Some(o)) => About::Order {
                external_id: o.external_id.clone(),
            },
            (None, None) => About::Nothing,
        }
    }
}

pub(crate) fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// The survey mail: the question and one link per score (`reminder`: the one reminder).
pub fn invitation_mail(
    cfg: &MailConfig,
    survey: &Survey,
    customer: &Customer,
    about: &About,
    token: &str,
    to: &str,
    reminder: bool,
) -> OutMail {
    let question = localized(&survey.question, customer.language.as_deref());
    let (lo, hi) = survey.range();
    let (lo_label, hi_label) = labels(survey);
    let base = cfg.base_url.trim_end_matches('/');
    let link = |n: u8| format!("{base}/s/{token}?score={n}");
    let (intro, ref_) = match about {
        About::Ticket { id, subject } => (
            format!("your request \"{subject}\" (#{id}) was solved."),
            format!(" (#{id})"),
        ),
        About::Order { external_id } => (
            format!("thank you for your order {external_id}."),
            format!(" (order {external_id})"),
        ),
        About::Nothing => ("we would like to hear from you.".to_string(), String::new()),
    };
    let again = if reminder {
        "A short reminder: we have not heard from you yet. "
    } else {
        ""
    };
    let mut text = format!("Hello {},\n\n{again}{intro} {question}\n\n", customer.name);
    for n in lo..=hi {
        let note = if n == lo {
            format!(" ({lo_label})")
        } else if n == hi {
            format!(" ({hi_label})")
        } else {
            String::new()
        };
        text.push_str(&format!("{n}{note}: {}\n", link(n)));
    }
    text.push_str("\nOne click is enough; you can add a comment on the page that opens.\n");
    let mut buttons = String::new();
    for n in lo..=hi {
        buttons.push_str(&format!(
            "<a href=\"{}\" style=\"display:inline-block;min-width:2em;padding:.4em .6em;margin:2px;border:1px solid #888;border-radius:4px;text-align:center;text-decoration:none\">{n}</a>",
            esc(&link(n))
        ));
    }
    let html = format!(
        "<p>Hello {},</p><p>{}{} {}</p><p>{buttons}</p><p><small>{} &larr; &rarr; {}</small></p><p>One click is enough; you can add a comment on the page that opens.</p>",
        esc(&customer.name),
        esc(again),
        esc(&intro),
        esc(question),
        esc(lo_label),
        esc(hi_label)
    );
    let prefix = if reminder { "Reminder: " } else { "" };
    OutMail {
        to: to.into(),
        subject: format!("{prefix}{question}{ref_}")
            .chars()
            .take(200)
            .collect(),
        text,
        html: Some(html),
        ..Default::default()
    }
}

// --- pages -------------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "survey_form.html")]
struct FormPage {
    /// Where the form posts: `/s/{token}` or `/portal/surveys/{id}`.
    action: String,
    /// The portal session's CSRF token (portal only).
    csrf: Option<String>,
    question: String,
    follow_up: String,
    scores: Vec<(u8, bool)>,
    lo_label: &'static str,
    hi_label: &'static str,
    comment: String,
    /// "You answered N earlier; you may change it once until …".
    note: Option<String>,
    questions: Vec<QuestionView>,
    /// "about 30 seconds".
    estimate: String,
    /// What was wrong with the last submission.
    error: Option<String>,
}

/// A follow-up question as the form shows it, with what was answered before.
struct QuestionView {
    field: String,
    kind: &'static str,
    label: String,
    required: bool,
    /// Choice: (option id, label, chosen); rating: (n, n, chosen).
    options: Vec<(String, String, bool)>,
    text: String,
}

fn question_views(
    survey: &Survey,
    lang: Option<&str>,
    answers: &BTreeMap<String, Answer>,
) -> Vec<QuestionView> {
    survey
        .questions
        .iter()
        .map(|q| {
            let given = answers.get(&q.id);
            let chosen =
                |id: &str| matches!(given, Some(Answer::Choices(c)) if c.iter().any(|c| c == id));
            let options = match q.kind {
                QuestionKind::Rating => (1..=q.max.unwrap_or(5))
                    .map(|n| {
                        (
                            n.to_string(),
                            n.to_string(),
                            matches!(given, Some(Answer::Rating(r)) if *r == n),
                        )
                    })
                    .collect(),
                QuestionKind::Single | QuestionKind::Multiple => q
                    .options
                    .iter()
                    .map(|o| {
                        (
                            o.id.clone(),
                            localized(&o.label, lang).to_string(),
                            chosen(&o.id),
                        )
                    })
                    .collect(),
                QuestionKind::Text => vec![],
            };
            QuestionView {
                field: format!("q.{}", q.id),
                kind: match q.kind {
                    QuestionKind::Text => "text",
                    QuestionKind::Single => "single",
                    QuestionKind::Multiple => "multiple",
                    QuestionKind::Rating => "rating",
                },
                label: localized(&q.label, lang).to_string(),
                required: q.required,
                options,
                text: match given {
                    Some(Answer::Text(t)) => t.clone(),
                    _ => String::new(),
                },
            }
        })
        .collect()
}

#[derive(Template)]
#[template(path = "survey_answered.html")]
struct MessagePage {
    title: String,
    message: String,
    /// Extra lines after an answer: thanks, a review link, an incentive code.
    extra: Extra,
}

/// What the thank-you page adds for this answer.
#[derive(Default)]
struct Extra {
    thanks: Option<String>,
    review_url: Option<String>,
    code: Option<String>,
}

impl Extra {
    fn of(survey: &Survey, r: &SurveyResponse) -> Extra {
        let (_, hi) = survey.range();
        let promoter = tend_core::survey_rules::is_promoter(survey.kind.as_str(), hi, r.score);
        let mut x = Extra {
            code: r.incentive_code.clone(),
            ..Default::default()
        };
        if promoter {
            match &survey.rules.promoter {
                PromoterAction::None => {}
                PromoterAction::Thank => {
                    x.thanks = Some("We are glad we could help. Thank you for your trust!".into())
                }
                PromoterAction::Review { url } => {
                    x.thanks = Some(
                        "We are glad we could help. Would you tell others about it in a short review?"
                            .into(),
                    );
                    x.review_url = Some(url.clone());
                }
            }
        }
        x
    }
}

fn message(status: StatusCode, title: &str, msg: &str) -> Response {
    message_with(status, title, msg, Extra::default())
}

fn message_with(status: StatusCode, title: &str, msg: &str, extra: Extra) -> Response {
    let mut r = render(&MessagePage {
        title: title.into(),
        message: msg.into(),
        extra,
    });
    *r.status_mut() = status;
    r
}

/// An incentive code for a new answer, from the survey's template (`{code}` → 8 random
/// letters and digits without look-alikes).
pub fn incentive_code(survey: &Survey) -> Option<String> {
    let template = survey.rules.incentive.as_ref()?;
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut b = [0u8; 8];
    rand::rng().fill_bytes(&mut b);
    let code: String = b
        .iter()
        .map(|x| ALPHABET[usize::from(*x) % ALPHABET.len()] as char)
        .collect();
    Some(template.replace("{code}", &code))
}

fn unknown_link() -> Response {
    message(
        StatusCode::NOT_FOUND,
        "This link does not work",
        "We could not find this survey. Please use the link from the e-mail exactly as it is.",
    )
}

fn expired_link() -> Response {
    message(
        StatusCode::GONE,
        "This survey has closed",
        "This survey link has expired. Thank you all the same.",
    )
}

fn bad_score(survey: &Survey) -> Response {
    let (lo, hi) = survey.range();
    message(
        StatusCode::BAD_REQUEST,
        "Please choose a score",
        &format!("The score must be a whole number from {lo} to {hi}."),
    )
}

fn parse_score(survey: &Survey, raw: Option<&str>) -> Result<Option<u8>, ()> {
    let Some(raw) = raw.map(str::trim).filter(|r| !r.is_empty()) else {
        return Ok(None);
    };
    let (lo, hi) = survey.range();
    match raw.parse::<u8>() {
        Ok(n) if (lo..=hi).contains(&n) => Ok(Some(n)),
        _ => Err(()),
    }
}

fn when(t: DateTime<Utc>) -> String {
    t.format("%a %-d %b %Y %H:%M UTC").to_string()
}

/// What the form shows filled in: the score, the comment, the follow-up answers.
struct Filled {
    score: Option<u8>,
    comment: String,
    answers: BTreeMap<String, Answer>,
}

/// How the customer reached the form: a mail link (the token is the authorization) or the
/// portal (the signed-in customer's own invitation, with the session's CSRF token).
pub(crate) enum Via {
    Link(String),
    Portal { id: i64, csrf: String },
}

impl Via {
    fn action(&self) -> String {
        match self {
            Via::Link(token) => format!("/s/{token}"),
            Via::Portal { id, .. } => format!("/portal/surveys/{id}"),
        }
    }
    fn key(&self) -> InvitationKey {
        match self {
            Via::Link(token) => InvitationKey::TokenHash(hash_token(token)),
            Via::Portal { id, .. } => InvitationKey::Id(*id),
        }
    }
}

fn form_page(
    via: &Via,
    view: &InvitationView,
    customer_language: Option<&str>,
    filled: Filled,
    note: Option<String>,
    error: Option<String>,
) -> Response {
    let chosen = filled.score;
    let (lo, hi) = view.survey.range();
    let (lo_label, hi_label) = labels(&view.survey);
    let follow_up = localized(&view.survey.follow_up, customer_language);
    render(&FormPage {
        action: via.action(),
        csrf: match via {
            Via::Portal { csrf, .. } => Some(csrf.clone()),
            Via::Link(_) => None,
        },
        question: localized(&view.survey.question, customer_language).into(),
        follow_up: if follow_up.is_empty() {
            "Anything you would like to add?".into()
        } else {
            follow_up.into()
        },
        scores: (lo..=hi).map(|n| (n, Some(n) == chosen)).collect(),
        lo_label,
        hi_label,
        comment: filled.comment,
        note,
        questions: question_views(&view.survey, customer_language, &filled.answers),
        estimate: tend_core::survey_form::estimate_text(tend_core::survey_form::estimate_seconds(
            true,
            &view.survey.questions,
        )),
        error,
    })
}

#[derive(Debug, Deserialize)]
pub struct ScoreParam {
    score: Option<String>,
}

async fn customer_language(s: &AppState, view: &InvitationView) -> Option<String> {
    s.store
        .get_customer(view.invitation.customer_id)
        .await
        .ok()
        .and_then(|c| c.language)
}

/// The one-click landing page: shows the form with the score chosen. Records nothing.
async fn page(
    State(s): State<AppState>,
    Path(token): Path<String>,
    axum::Extension(ip): axum::Extension<crate::ClientIp>,
    Query(q): Query<ScoreParam>,
) -> Result<Response, AppError> {
    let now = s.now();
    let keys = link_keys(&ip);
    let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
    if s.login_limiter.check(&keys, now).is_err() {
        return Ok(too_many());
    }
    let Some(view) = s
        .store
        .survey_invitation_by_token(&hash_token(&token))
        .await?
    else {
        s.login_limiter.fail(&keys, now);
        return Ok(unknown_link());
    };
    show_form(&s, &view, &Via::Link(token), q.score.as_deref()).await
}

/// The form for an invitation: pre-filled with `score` (from a mail link) or the earlier
/// answer while it may still be changed; a message once it is final or expired.
pub(crate) async fn show_form(
    s: &AppState,
    view: &InvitationView,
    via: &Via,
    score: Option<&str>,
) -> Result<Response, AppError> {
    crate::brands::use_brand(s, view.invitation.brand_id).await;
    let now = s.now();
    let lang = customer_language(s, view).await;
    let chosen = match parse_score(&view.survey, score) {
        Ok(c) => c,
        Err(()) => return Ok(bad_score(&view.survey)),
    };
    if let Some(r) = &view.response {
        if !r.editable(now) {
            return Ok(message(
                StatusCode::OK,
                "Thank you",
                &format!("Your answer ({}) is recorded. Thank you!", r.score),
            ));
        }
        let note = format!(
            "Your answer ({}) is recorded. You may change it once, until {}.",
            r.score,
            when(r.created_at + Duration::hours(EDIT_WINDOW_HOURS))
        );
        return Ok(form_page(
            via,
            view,
            lang.as_deref(),
            Filled {
                score: chosen.or(Some(r.score)),
                comment: r.comment.clone(),
                answers: r.answers.clone(),
            },
            Some(note),
            None,
        ));
    }
    if view.invitation.expires_at <= now {
        return Ok(expired_link());
    }
    Ok(form_page(
        via,
        view,
        lang.as_deref(),
        Filled {
            score: chosen,
            comment: String::new(),
            answers: BTreeMap::new(),
        },
        None,
        None,
    ))
}

/// Unknown links one address may try per 15 minutes before it gets 429 (tokens have 256
/// bits: nobody finds one by guessing, but nobody should be able to try).
fn link_keys(ip: &crate::ClientIp) -> [String; 1] {
    [format!("survey-link-ip:{}", ip.0)]
}

fn too_many() -> Response {
    message(
        StatusCode::TOO_MANY_REQUESTS,
        "Too many attempts",
        "This address has opened several unknown survey links. Please wait 15 minutes and use the link from your e-mail.",
    )
}

/// Records the answer (bound to the token in the address; no session, so no CSRF token:
/// a forged post can only answer with the victim's own secret link). The body is read as
/// pairs so that multiple-choice questions can repeat their field.
async fn answer(
    State(s): State<AppState>,
    Path(token): Path<String>,
    axum::Extension(ip): axum::Extension<crate::ClientIp>,
    body: axum::body::Bytes,
) -> Result<Response, AppError> {
    let now = s.now();
    let keys = link_keys(&ip);
    let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
    if s.login_limiter.check(&keys, now).is_err() {
        return Ok(too_many());
    }
    let Some(view) = s
        .store
        .survey_invitation_by_token(&hash_token(&token))
        .await?
    else {
        s.login_limiter.fail(&keys, now);
        return Ok(unknown_link());
    };
    let form: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
    record(&s, &view, &Via::Link(token), &form).await
}

/// Checks a submitted form and records it (the caller has checked who may answer).
pub(crate) async fn record(
    s: &AppState,
    view: &InvitationView,
    via: &Via,
    form: &[(String, String)],
) -> Result<Response, AppError> {
    crate::brands::use_brand(s, view.invitation.brand_id).await;
    let now = s.now();
    let field = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let score = match parse_score(&view.survey, field("score")) {
        Ok(Some(n)) => n,
        _ => return Ok(bad_score(&view.survey)),
    };
    let comment: String = field("comment")
        .unwrap_or_default()
        .trim()
        .chars()
        .filter(|c| !c.is_control() || *c == '\n')
        .collect();
    if comment.chars().count() > COMMENT_MAX {
        return Ok(message(
            StatusCode::BAD_REQUEST,
            "Your comment is too long",
            &format!("Please keep it under {COMMENT_MAX} characters."),
        ));
    }
    let answers = match tend_core::survey_form::read_answers(&view.survey.questions, form) {
        Ok(a) => a,
        Err(e) => {
            let lang = customer_language(s, view).await;
            let optional: Vec<Question> = view
                .survey
                .questions
                .iter()
                .cloned()
                .map(|mut q| {
                    q.required = false;
                    q
                })
                .collect();
            let mut r = form_page(
                via,
                view,
                lang.as_deref(),
                Filled {
                    score: Some(score),
                    comment,
                    answers: tend_core::survey_form::read_answers(&optional, form)
                        .unwrap_or_default(),
                },
                None,
                Some(e.message),
            );
            *r.status_mut() = StatusCode::BAD_REQUEST;
            return Ok(r);
        }
    };
    let follow_up = if needs_follow_up(&view.survey, score) {
        Some(follow_up_ticket(s, view, score, &comment, &answers).await?)
    } else {
        None
    };
    let outcome = s
        .store
        .record_survey_response(
            via.key(),
            SurveyAnswer {
                score,
                comment,
                incentive_code: incentive_code(&view.survey),
                answers,
            },
            follow_up,
            now,
        )
        .await?;
    let from = match via {
        Via::Link(_) => "from the link in the e-mail",
        Via::Portal { .. } => "here",
    };
    Ok(match outcome {
        Answered::Recorded(r) => message_with(
            StatusCode::OK,
            "Thank you",
            &format!(
                "Your answer ({}) is recorded. You may change it once within {EDIT_WINDOW_HOURS} hours {from}.",
                r.score
            ),
            Extra::of(&view.survey, &r),
        ),
        Answered::Edited(r) => message_with(
            StatusCode::OK,
            "Thank you",
            &format!("Your answer is changed to {}.", r.score),
            Extra::of(&view.survey, &r),
        ),
        Answered::AlreadyRecorded(r) => message_with(
            StatusCode::OK,
            "Already recorded",
            &format!(
                "Your answer ({}) was already recorded; it is counted once.{}",
                r.score,
                if r.editable(now) {
                    ""
                } else {
                    " It can no longer be changed."
                }
            ),
            Extra::of(&view.survey, &r),
        ),
        Answered::Expired => expired_link(),
        Answered::Unknown => unknown_link(),
    })
}

async fn follow_up_ticket(
    s: &AppState,
    view: &InvitationView,
    score: u8,
    comment: &str,
    answers: &BTreeMap<String, Answer>,
) -> Result<NewTicket, AppError> {
    let inv = &view.invitation;
    let (_, hi) = view.survey.range();
    let kind = view.survey.kind.as_str().to_uppercase();
    let about = match (inv.ticket_id, inv.order_id) {
        (Some(id), _) => {
            let subject = s
                .store
                .get_ticket(id, &system_viewer())
                .await
                .map(|t| t.subject)
                .unwrap_or_default();
            (format!("ticket #{id} \"{subject}\""), format!("#{id}"))
        }
        (None, Some(id)) => {
            let ext = s
                .store
                .get_order(id)
                .await
                .map(|o| o.external_id)
                .unwrap_or_default();
            (format!("order {ext}"), format!("order {ext}"))
        }
        (None, None) => ("no ticket".to_string(), "a direct survey".to_string()),
    };
    let mut body = format!(
        "{kind} survey answer: {score} of {hi} on {}.\n\nComment: {}\n",
        about.0,
        if comment.is_empty() {
            "(none)"
        } else {
            comment
        }
    );
    for q in &view.survey.questions {
        let Some(a) = answers.get(&q.id) else {
            continue;
        };
        let value = match a {
            Answer::Rating(n) => format!("{n} of {}", q.max.unwrap_or(5)),
            Answer::Text(t) => t.clone(),
            Answer::Choices(c) => c
                .iter()
                .map(|id| {
                    q.options
                        .iter()
                        .find(|o| &o.id == id)
                        .map_or(id.as_str(), |o| localized(&o.label, Some("en")))
                })
                .collect::<Vec<_>>()
                .join(", "),
        };
        body.push_str(&format!("{}: {value}\n", localized(&q.label, Some("en"))));
    }
    Ok(NewTicket {
        subject: format!("Survey follow-up: {kind} {score} on {}", about.1),
        status: Status::Open,
        priority: Priority::Normal,
        channel: Channel::Web,
        requester: RequesterRef::Id(inv.customer_id),
        assignee_id: None,
        group_id: inv.group_id,
        brand_id: inv.brand_id,
        tags: vec![FOLLOW_UP_TAG.into()],
        fields: Default::default(),
        external_id: None,
        message: Some(NewMessage {
            public: false,
            body_text: body,
            ..Default::default()
        }),
        message_by_requester: false,
        idempotency_key: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn survey(kind: SurveyKind, scale: Option<u8>) -> Survey {
        Survey {
            id: 1,
            name: "s".into(),
            kind,
            scale,
            question: BTreeMap::new(),
            follow_up: BTreeMap::new(),
            delay_hours: 24,
            throttle_days: 30,
            sample_rate: 1.0,
            expires_days: 14,
            active: true,
            rules: Default::default(),
            questions: vec![],
            created_at: Utc::now(),
        }
    }

    #[test]
    fn low_scores_open_follow_ups() {
        let nps = survey(SurveyKind::Nps, None);
        assert!(needs_follow_up(&nps, 0) && needs_follow_up(&nps, 6));
        assert!(!needs_follow_up(&nps, 7));
        let csat = survey(SurveyKind::Csat, Some(5));
        assert!(needs_follow_up(&csat, 2) && !needs_follow_up(&csat, 3));
        let csat3 = survey(SurveyKind::Csat, Some(3));
        assert!(needs_follow_up(&csat3, 1) && !needs_follow_up(&csat3, 2));
        let ces = survey(SurveyKind::Ces, None);
        assert!(needs_follow_up(&ces, 3) && !needs_follow_up(&ces, 4));
    }

    #[test]
    fn sampling_is_stable_and_respects_the_rate() {
        assert!(sampled("k", 1.0));
        assert!(!sampled("k", 0.0));
        assert_eq!(sampled("a:1:2", 0.5), sampled("a:1:2", 0.5));
        let hits = (0..10_000)
            .filter(|i| sampled(&format!("1:{i}:0"), 0.3))
            .count();
        assert!((2700..3300).contains(&hits), "{hits}");
    }

    #[test]
    fn questions_fall_back_by_language() {
        let mut q = BTreeMap::new();
        q.insert("en".to_string(), "Recommend us?".to_string());
        q.insert("de".to_string(), "Empfehlen?".to_string());
        assert_eq!(localized(&q, Some("de-AT")), "Empfehlen?");
        assert_eq!(localized(&q, Some("fr")), "Recommend us?");
        assert_eq!(localized(&q, None), "Recommend us?");
        assert_eq!(localized(&BTreeMap::new(), Some("fr")), "");
    }
}
