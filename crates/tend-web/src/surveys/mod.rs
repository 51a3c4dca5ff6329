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
use axum::{Form, Router};
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
        .filter(|s| s.active)
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
    Mailed { invitation_id: i64, to: String },
    Skipped(&'static str),
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
    let ticket_id = payload["ticket_id"]
        .as_i64()
        .ok_or("payload has no ticket_id")?;
    let solved_at = payload["solved_at"]
        .as_i64()
        .ok_or("payload has no solved_at")?;
    let e = |e: StoreError| e.to_string();
    let survey = match store.get_survey(survey_id).await {
        Ok(s) => s,
        Err(StoreError::NotFound(_)) => return Ok(Sent::Skipped("survey deleted")),
        Err(err) => return Err(e(err)),
    };
    if !survey.active {
        return Ok(Sent::Skipped("survey inactive"));
    }
    let ticket = match store.get_ticket(ticket_id, &system_viewer()).await {
        Ok(t) => t,
        Err(StoreError::NotFound(_)) => return Ok(Sent::Skipped("ticket gone")),
        Err(err) => return Err(e(err)),
    };
    if ticket.status.is_open() || ticket.solved_at.map(|t| t.timestamp_micros()) != Some(solved_at)
    {
        return Ok(Sent::Skipped("reopened"));
    }
    if ticket.tags.iter().any(|t| t == "spam") {
        return Ok(Sent::Skipped("spam"));
    }
    let send_key = format!("{survey_id}:{ticket_id}:{solved_at}");
    if !sampled(&send_key, survey.sample_rate) {
        return Ok(Sent::Skipped("not sampled"));
    }
    let customer = store.get_customer(ticket.requester_id).await.map_err(e)?;
    let Some(to) = customer.email().map(str::to_string) else {
        return Ok(Sent::Skipped("no e-mail"));
    };
    let token = generate_token();
    let opened = store
        .open_survey_invitation(
            NewInvitation {
                survey_id,
                ticket_id,
                customer_id: customer.id,
                agent_id: ticket.assignee_id,
                group_id: ticket.group_id,
                channel: ticket.channel.as_str().into(),
                brand_id: ticket.brand_id,
                send_key,
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
    let m = invitation_mail(mail, &survey, &customer, &ticket, &token, &to);
    deliver(mail, &m).await?;
    Ok(Sent::Mailed {
        invitation_id: inv.id,
        to,
    })
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// The survey mail: the question and one link per score.
pub fn invitation_mail(
    cfg: &MailConfig,
    survey: &Survey,
    customer: &Customer,
    ticket: &tend_core::Ticket,
    token: &str,
    to: &str,
) -> OutMail {
    let question = localized(&survey.question, customer.language.as_deref());
    let (lo, hi) = survey.range();
    let (lo_label, hi_label) = labels(survey);
    let base = cfg.base_url.trim_end_matches('/');
    let link = |n: u8| format!("{base}/s/{token}?score={n}");
    let mut text = format!(
        "Hello {},\n\nyour request \"{}\" (#{}) was solved. {question}\n\n",
        customer.name, ticket.subject, ticket.id
    );
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
        "<p>Hello {},</p><p>your request &ldquo;{}&rdquo; (#{}) was solved. {}</p><p>{buttons}</p><p><small>{} &larr; &rarr; {}</small></p><p>One click is enough; you can add a comment on the page that opens.</p>",
        esc(&customer.name),
        esc(&ticket.subject),
        ticket.id,
        esc(question),
        esc(lo_label),
        esc(hi_label)
    );
    OutMail {
        to: to.into(),
        subject: format!("{question} (#{})", ticket.id)
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
    token: String,
    question: String,
    follow_up: String,
    scores: Vec<(u8, bool)>,
    lo_label: &'static str,
    hi_label: &'static str,
    comment: String,
    /// "You answered N earlier; you may change it once until …".
    note: Option<String>,
}

#[derive(Template)]
#[template(path = "survey_message.html")]
struct MessagePage {
    title: String,
    message: String,
}

fn message(status: StatusCode, title: &str, msg: &str) -> Response {
    let mut r = render(&MessagePage {
        title: title.into(),
        message: msg.into(),
    });
    *r.status_mut() = status;
    r
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

fn form_page(
    token: &str,
    view: &InvitationView,
    customer_language: Option<&str>,
    chosen: Option<u8>,
    comment: String,
    note: Option<String>,
) -> Response {
    let (lo, hi) = view.survey.range();
    let (lo_label, hi_label) = labels(&view.survey);
    let follow_up = localized(&view.survey.follow_up, customer_language);
    render(&FormPage {
        token: token.into(),
        question: localized(&view.survey.question, customer_language).into(),
        follow_up: if follow_up.is_empty() {
            "Anything you would like to add?".into()
        } else {
            follow_up.into()
        },
        scores: (lo..=hi).map(|n| (n, Some(n) == chosen)).collect(),
        lo_label,
        hi_label,
        comment,
        note,
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
    Query(q): Query<ScoreParam>,
) -> Result<Response, AppError> {
    let Some(view) = s
        .store
        .survey_invitation_by_token(&hash_token(&token))
        .await?
    else {
        return Ok(unknown_link());
    };
    let now = s.now();
    let lang = customer_language(&s, &view).await;
    let chosen = match parse_score(&view.survey, q.score.as_deref()) {
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
            &token,
            &view,
            lang.as_deref(),
            chosen.or(Some(r.score)),
            r.comment.clone(),
            Some(note),
        ));
    }
    if view.invitation.expires_at <= now {
        return Ok(expired_link());
    }
    Ok(form_page(
        &token,
        &view,
        lang.as_deref(),
        chosen,
        String::new(),
        None,
    ))
}

#[derive(Debug, Deserialize)]
pub struct AnswerForm {
    score: Option<String>,
    #[serde(default)]
    comment: String,
}

/// Records the answer (bound to the token in the address; no session, so no CSRF token:
/// a forged post can only answer with the victim's own secret link).
async fn answer(
    State(s): State<AppState>,
    Path(token): Path<String>,
    Form(f): Form<AnswerForm>,
) -> Result<Response, AppError> {
    let hash = hash_token(&token);
    let Some(view) = s.store.survey_invitation_by_token(&hash).await? else {
        return Ok(unknown_link());
    };
    let score = match parse_score(&view.survey, f.score.as_deref()) {
        Ok(Some(n)) => n,
        _ => return Ok(bad_score(&view.survey)),
    };
    let comment: String = f
        .comment
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
    let follow_up = if needs_follow_up(&view.survey, score) {
        Some(follow_up_ticket(&s, &view, score, &comment).await?)
    } else {
        None
    };
    let now = s.now();
    let outcome = s
        .store
        .record_survey_response(&hash, SurveyAnswer { score, comment }, follow_up, now)
        .await?;
    Ok(match outcome {
        Answered::Recorded(r) => message(
            StatusCode::OK,
            "Thank you",
            &format!(
                "Your answer ({}) is recorded. You may change it once within {EDIT_WINDOW_HOURS} hours from the link in the e-mail.",
                r.score
            ),
        ),
        Answered::Edited(r) => message(
            StatusCode::OK,
            "Thank you",
            &format!("Your answer is changed to {}.", r.score),
        ),
        Answered::AlreadyRecorded(r) => message(
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
) -> Result<NewTicket, AppError> {
    let inv = &view.invitation;
    let (_, hi) = view.survey.range();
    let kind = view.survey.kind.as_str().to_uppercase();
    let subject = s
        .store
        .get_ticket(inv.ticket_id, &system_viewer())
        .await
        .map(|t| t.subject)
        .unwrap_or_default();
    let body = format!(
        "{kind} survey answer: {score} of {hi} on ticket #{} \"{subject}\".\n\nComment: {}\n",
        inv.ticket_id,
        if comment.is_empty() {
            "(none)"
        } else {
            comment
        }
    );
    Ok(NewTicket {
        subject: format!("Survey follow-up: {kind} {score} on #{}", inv.ticket_id),
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
