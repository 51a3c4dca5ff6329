//! The customer portal and the public contact form.
//!
//! Customers sign in by magic link: they give their e-mail, get a single-use link valid for
//! 30 minutes, and the link opens a portal session (cookie `tend_portal`, HttpOnly,
//! SameSite=Lax so the link from the mail works). The answer never says whether an address is
//! known, and both answers cost the same: the request only queues a job
//! ([`MAGIC_LINK_JOB`]) and the job decides whether there is someone to mail. A customer sees
//! only tickets they requested, and only public messages.
//!
//! Language: pages and the sign-in mail are in the customer's language (English, German,
//! French, Spanish; [`strings`]), chosen by [`crate::i18n::customer_language`] from the
//! customer's `language`, the `Accept-Language` header, the brand's default, else English.

pub mod strings;

use crate::auth::{generate_token, hash_token};
use crate::i18n::{customer_language, Wishes};
use crate::mail::{job, MailConfig, OutMail};
use crate::ui::{csrf_for, csrf_ok, forbidden_csrf, render};
use crate::{AppError, AppState};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use chrono::Duration;
use serde::Deserialize;
use strings::{portal, Portal};
use tend_core::ticket::Patch;
use tend_core::{html, Actor, Channel, Email, Priority, Role, Status, Ticket, Viewer};
use tend_store::*;

pub const COOKIE: &str = "tend_portal";

/// The job that mails a sign-in link (payload `{"email", "accept_language", "brand_id"}`):
/// queued for every well-formed request; it mails only a known customer.
pub const MAGIC_LINK_JOB: &str = "portal.magic_link";

/// The words for this request: the customer's language when signed in, else the browser's,
/// else the page brand's default, else English.
fn words(h: &HeaderMap, customer: Option<&Customer>) -> &'static Portal {
    let accept = h.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok());
    let brand = crate::brands::current().map(|b| b.default_locale);
    portal(customer_language(Wishes {
        customer: customer.and_then(|c| c.language.as_deref()),
        accept,
        brand_default: brand.as_deref(),
    }))
}

/// A portal page, marked as varying by language and session.
fn page<T: askama::Template>(t: &T) -> Response {
    let mut r = render(t);
    r.headers_mut().insert(
        header::VARY,
        HeaderValue::from_static("Accept-Language, Cookie"),
    );
    r
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/portal", get(home))
        .route("/portal/login", post(login))
        .route("/portal/auth", get(auth))
        .route("/portal/logout", post(logout))
        .route("/portal/tickets/{id}", get(ticket))
        .route("/portal/tickets/{id}/reply", post(reply))
        .route("/portal/tickets/{id}/solve", post(solve))
        .route("/portal/surveys/{id}", get(survey).post(survey_answer))
        .route("/contact", get(contact_form).post(contact))
}

/// The portal reads tickets on the customer's behalf after checking ownership itself.
fn system_viewer() -> Viewer {
    Viewer {
        agent_id: 0,
        role: Role::Admin,
        group_ids: vec![],
    }
}

struct PortalSession {
    customer: Customer,
    token: String,
    csrf: String,
}

fn cookie_value(h: &HeaderMap) -> Option<String> {
    h.get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|kv| {
            let (k, v) = kv.trim().split_once('=')?;
            (k == COOKIE).then(|| v.to_string())
        })
}

async fn session(s: &AppState, h: &HeaderMap) -> Result<Option<PortalSession>, AppError> {
    let Some(token) = cookie_value(h) else {
        return Ok(None);
    };
    let Some(cid) = s
        .store
        .customer_by_session(&hash_token(&token), s.now())
        .await?
    else {
        return Ok(None);
    };
    let customer = s.store.get_customer(cid).await?;
    let csrf = csrf_for(&token);
    Ok(Some(PortalSession {
        customer,
        token,
        csrf,
    }))
}

/// The customer's own ticket, or 404.
async fn own_ticket(s: &AppState, ps: &PortalSession, id: i64) -> Result<Ticket, AppError> {
    let t = s.store.get_ticket(id, &system_viewer()).await?;
    if t.requester_id != ps.customer.id {
        return Err(AppError::not_found("ticket"));
    }
    Ok(t)
}

#[derive(Template)]
#[template(path = "portal_login.html")]
struct LoginPage {
    t: &'static Portal,
    sent: bool,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "portal_home.html")]
struct HomePage {
    t: &'static Portal,
    name: String,
    csrf: String,
    tickets: Vec<Row>,
    /// Surveys waiting for an answer: (invitation id, question).
    surveys: Vec<(i64, String)>,
}

pub struct Row {
    id: i64,
    subject: String,
    /// The state's code (the badge's class).
    status: String,
    /// The state's name in the page's language.
    state: &'static str,
    updated: String,
}

async fn home(State(s): State<AppState>, headers: HeaderMap) -> Result<Response, AppError> {
    let Some(ps) = session(&s, &headers).await? else {
        return Ok(page(&LoginPage {
            t: words(&headers, None),
            sent: false,
            error: None,
        }));
    };
    let w = words(&headers, Some(&ps.customer));
    let q = TicketQuery {
        requester_id: Some(ps.customer.id),
        limit: 100,
        ..Default::default()
    };
    let tickets = s
        .store
        .list_tickets(&q, &system_viewer())
        .await?
        .items
        .into_iter()
        .map(|t| Row {
            id: t.id,
            subject: t.subject,
            status: t.status.to_string(),
            state: w.state(t.status),
            updated: t.updated_at.format("%Y-%m-%d %H:%M").to_string(),
        })
        .collect();
    let surveys = s
        .store
        .customer_open_invitations(ps.customer.id, s.now())
        .await?
        .into_iter()
        .map(|v| {
            (
                v.invitation.id,
                crate::surveys::localized(&v.survey.question, ps.customer.language.as_deref())
                    .to_string(),
            )
        })
        .collect();
    Ok(page(&HomePage {
        t: w,
        name: ps.customer.name.clone(),
        csrf: ps.csrf,
        tickets,
        surveys,
    }))
}

/// The signed-in customer's own survey invitation, or 404 (no IDOR: another customer's
/// invitation looks like none).
async fn own_invitation(
    s: &AppState,
    ps: &PortalSession,
    id: i64,
) -> Result<tend_store::survey::InvitationView, AppError> {
    s.store
        .survey_invitation(id)
        .await?
        .filter(|v| v.invitation.customer_id == ps.customer.id)
        .ok_or_else(|| AppError::not_found("survey"))
}

/// A survey from the portal: the same form as behind the mail link.
async fn survey(
    State(s): State<AppState>,
    Path(id): Path<i64>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let Some(ps) = session(&s, &headers).await? else {
        return Ok(Redirect::to("/portal").into_response());
    };
    let view = own_invitation(&s, &ps, id).await?;
    crate::surveys::show_form(
        &s,
        &view,
        &crate::surveys::Via::Portal { id, csrf: ps.csrf },
        None,
    )
    .await
}

async fn survey_answer(
    State(s): State<AppState>,
    Path(id): Path<i64>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, AppError> {
    let Some(ps) = session(&s, &headers).await? else {
        return Ok(Redirect::to("/portal").into_response());
    };
    let form: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
    let csrf = form
        .iter()
        .find(|(k, _)| k == "csrf")
        .map(|(_, v)| v.as_str())
        .unwrap_or_default();
    if !csrf_ok(&ps.token, csrf) {
        return Ok(forbidden_csrf());
    }
    let view = own_invitation(&s, &ps, id).await?;
    crate::surveys::record(
        &s,
        &view,
        &crate::surveys::Via::Portal { id, csrf: ps.csrf },
        &form,
    )
    .await
}

#[derive(Deserialize)]
struct LoginForm {
    email: String,
}

async fn login(
    State(s): State<AppState>,
    axum::Extension(ip): axum::Extension<crate::ClientIp>,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> Result<Response, AppError> {
    let now = s.now();
    let w = words(&headers, None);
    let Ok(email) = Email::parse(&f.email) else {
        return Ok(page(&LoginPage {
            t: w,
            sent: false,
            error: Some(w.bad_email.into()),
        }));
    };
    let ip = ip.0;
    let keys = [
        format!("portal:{}", email.as_str().to_lowercase()),
        format!("portal-ip:{ip}"),
    ];
    let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
    if s.login_limiter.check(&keys, now).is_err() {
        return Ok(page(&LoginPage {
            t: w,
            sent: false,
            error: Some(w.too_many_links.into()),
        }));
    }
    // Every request counts towards the limit: links are mail we send on someone's word.
    s.login_limiter.fail(&keys, now);
    // The same work for known and unknown addresses: one queued job, which looks the address
    // up (so the answer's timing says nothing about who is a customer).
    let accept: Option<String> = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.chars().take(256).collect());
    s.store
        .enqueue_job(NewJob {
            kind: MAGIC_LINK_JOB.into(),
            payload: serde_json::json!({
                "email": email.as_str(),
                "accept_language": accept,
                // The brand of the page the customer asked on names the mail (crate::brands).
                "brand_id": crate::brands::current_id(),
            }),
            run_at: now,
            max_attempts: 5,
        })
        .await?;
    Ok(page(&LoginPage {
        t: w,
        sent: true,
        error: None,
    }))
}

#[derive(Deserialize)]
struct MagicLinkJob {
    email: String,
    #[serde(default)]
    accept_language: Option<String>,
    #[serde(default)]
    brand_id: Option<i64>,
}

/// Runs a [`MAGIC_LINK_JOB`]: for a known customer, a single-use link (30 minutes) by mail in
/// their language; for an unknown address, nothing.
pub async fn send_magic_link(
    store: &dyn Store,
    cfg: &MailConfig,
    now: chrono::DateTime<chrono::Utc>,
    payload: &serde_json::Value,
) -> Result<(), String> {
    let j: MagicLinkJob =
        serde_json::from_value(payload.clone()).map_err(|e| format!("bad job: {e}"))?;
    let Some(c) = store
        .customer_by_identity(IdentityKind::Email, &j.email)
        .await
        .map_err(|e| e.to_string())?
    else {
        return Ok(());
    };
    let brand = match j.brand_id {
        Some(id) => store.get_brand(id).await.ok().filter(|b| b.active()),
        None => None,
    };
    let w = portal(customer_language(Wishes {
        customer: c.language.as_deref(),
        accept: j.accept_language.as_deref(),
        brand_default: brand.as_ref().map(|b| b.default_locale.as_str()),
    }));
    let token = generate_token();
    store
        .create_customer_token(
            c.id,
            false,
            hash_token(&token),
            now + Duration::minutes(30),
            now,
        )
        .await
        .map_err(|e| e.to_string())?;
    let link = format!(
        "{}/portal/auth?token={token}",
        cfg.base_url.trim_end_matches('/')
    );
    let (subject, text) = w.link_mail(&c.name, &link, brand.as_ref().map(|b| b.name.as_str()));
    let mail = OutMail {
        to: j.email,
        subject,
        text,
        html: None,
        ..Default::default()
    };
    store
        .enqueue_job(job(&mail, now))
        .await
        .map_err(|e| e.to_string())?;
    Ok(())
}

/// The words for mail about a ticket: the requester's language, else the ticket brand's
/// default, else English (mail has no Accept-Language). English when anything is missing.
pub async fn ticket_words(store: &dyn Store, ticket_id: i64) -> &'static Portal {
    let Ok(t) = store.get_ticket(ticket_id, &system_viewer()).await else {
        return &strings::EN;
    };
    let customer = store.get_customer(t.requester_id).await.ok();
    let brand = match t.brand_id {
        Some(b) => store.get_brand(b).await.ok(),
        None => None,
    };
    portal(customer_language(Wishes {
        customer: customer.as_ref().and_then(|c| c.language.as_deref()),
        accept: None,
        brand_default: brand.as_ref().map(|b| b.default_locale.as_str()),
    }))
}

#[derive(Deserialize)]
struct AuthParams {
    token: Option<String>,
}

async fn auth(
    State(s): State<AppState>,
    headers: HeaderMap,
    Query(p): Query<AuthParams>,
) -> Result<Response, AppError> {
    let now = s.now();
    let redeemed = match &p.token {
        Some(t) if t.len() < 200 => s.store.redeem_magic_token(&hash_token(t), now).await?,
        _ => None,
    };
    let Some(cid) = redeemed else {
        let w = words(&headers, None);
        return Ok(page(&LoginPage {
            t: w,
            sent: false,
            error: Some(w.dead_link.into()),
        }));
    };
    let token = generate_token();
    s.store
        .create_customer_token(cid, true, hash_token(&token), now + Duration::days(7), now)
        .await?;
    let secure = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        == Some("https");
    let cookie = format!(
        "{COOKIE}={token}; Path=/portal; HttpOnly; SameSite=Lax; Max-Age=604800{}",
        if secure { "; Secure" } else { "" }
    );
    let mut resp = Redirect::to("/portal").into_response();
    resp.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&cookie).map_err(|e| AppError::Internal(e.to_string()))?,
    );
    Ok(resp)
}

#[derive(Deserialize)]
struct CsrfForm {
    csrf: String,
}

async fn logout(
    State(s): State<AppState>,
    headers: HeaderMap,
    Form(f): Form<CsrfForm>,
) -> Result<Response, AppError> {
    if let Some(ps) = session(&s, &headers).await? {
        if !csrf_ok(&ps.token, &f.csrf) {
            return Ok(forbidden_csrf());
        }
        s.store
            .revoke_customer_token(&hash_token(&ps.token))
            .await?;
    }
    let mut resp = Redirect::to("/portal").into_response();
    resp.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("tend_portal=; Path=/portal; HttpOnly; SameSite=Lax; Max-Age=0"),
    );
    Ok(resp)
}

pub struct PublicMessage {
    pub who: String,
    pub at: String,
    pub html: String,
    pub mine: bool,
}

#[derive(Template)]
#[template(path = "portal_ticket.html")]
struct TicketPage {
    t: &'static Portal,
    csrf: String,
    ticket: Ticket,
    status: String,
    state: &'static str,
    messages: Vec<PublicMessage>,
    open: bool,
}

async fn ticket(
    State(s): State<AppState>,
    headers: HeaderMap,
    crate::extract::Id(id): crate::extract::Id,
) -> Result<Response, AppError> {
    let Some(ps) = session(&s, &headers).await? else {
        return Ok(Redirect::to("/portal").into_response());
    };
    let t = own_ticket(&s, &ps, id).await?;
    crate::brands::use_brand(&s, t.brand_id).await;
    let w = words(&headers, Some(&ps.customer));
    let agents: std::collections::HashMap<i64, String> = s
        .store
        .list_agents()
        .await?
        .into_iter()
        .map(|a| (a.id, a.name))
        .collect();
    let messages = s
        .store
        .list_messages(id, &system_viewer())
        .await?
        .into_iter()
        .filter(|m| m.public)
        .map(|m| {
            let mine = m.author.kind == tend_core::ActorKind::Customer
                && m.author.id == Some(ps.customer.id);
            let who = if mine {
                w.you.to_string()
            } else if m.author.kind == tend_core::ActorKind::Agent {
                m.author
                    .id
                    .and_then(|i| agents.get(&i).cloned())
                    .unwrap_or_else(|| w.support.into())
            } else {
                w.support.into()
            };
            PublicMessage {
                who,
                at: m.created_at.format("%Y-%m-%d %H:%M").to_string(),
                html: m.body_html,
                mine,
            }
        })
        .collect();
    Ok(page(&TicketPage {
        t: w,
        csrf: ps.csrf,
        status: t.status.to_string(),
        state: w.state(t.status),
        open: t.status.is_open(),
        ticket: t,
        messages,
    }))
}

#[derive(Deserialize)]
struct ReplyForm {
    csrf: String,
    body: String,
}

async fn reply(
    State(s): State<AppState>,
    headers: HeaderMap,
    crate::extract::Id(id): crate::extract::Id,
    Form(f): Form<ReplyForm>,
) -> Result<Response, AppError> {
    let Some(ps) = session(&s, &headers).await? else {
        return Ok(Redirect::to("/portal").into_response());
    };
    if !csrf_ok(&ps.token, &f.csrf) {
        return Ok(forbidden_csrf());
    }
    let t = own_ticket(&s, &ps, id).await?;
    let body = f.body.trim().to_string();
    if !body.is_empty() {
        tend_core::check_len("body", &body, tend_core::limits::BODY_MAX)?;
        let me = Actor::customer(ps.customer.id);
        let m = NewMessage {
            public: true,
            body_html: html::text_to_html(&body),
            body_text: body,
            attachments: vec![],
            ..Default::default()
        };
        s.store
            .add_message(id, m, &system_viewer(), me, s.now())
            .await?;
        // A customer's answer puts the ticket back in the agents' court.
        if matches!(t.status, Status::Pending | Status::Solved | Status::New) {
            s.store
                .update_ticket(
                    id,
                    Patch {
                        status: Some(Status::Open),
                        ..Default::default()
                    },
                    &system_viewer(),
                    me,
                    s.now(),
                )
                .await?;
        }
    }
    Ok(Redirect::to(&format!("/portal/tickets/{id}")).into_response())
}

async fn solve(
    State(s): State<AppState>,
    headers: HeaderMap,
    crate::extract::Id(id): crate::extract::Id,
    Form(f): Form<CsrfForm>,
) -> Result<Response, AppError> {
    let Some(ps) = session(&s, &headers).await? else {
        return Ok(Redirect::to("/portal").into_response());
    };
    if !csrf_ok(&ps.token, &f.csrf) {
        return Ok(forbidden_csrf());
    }
    own_ticket(&s, &ps, id).await?;
    s.store
        .update_ticket(
            id,
            Patch {
                status: Some(Status::Solved),
                ..Default::default()
            },
            &system_viewer(),
            Actor::customer(ps.customer.id),
            s.now(),
        )
        .await?;
    Ok(Redirect::to(&format!("/portal/tickets/{id}")).into_response())
}

#[derive(Template)]
#[template(path = "contact.html")]
struct ContactPage {
    t: &'static Portal,
    embed: bool,
    done: Option<i64>,
    error: Option<String>,
    name: String,
    email: String,
    subject: String,
    message: String,
    /// The deflection session of this form (article suggestions while typing; issue 6).
    deflect: String,
}

#[derive(Deserialize)]
struct EmbedParam {
    embed: Option<String>,
}

async fn contact_form(headers: HeaderMap, Query(p): Query<EmbedParam>) -> Response {
    page(&ContactPage {
        t: words(&headers, None),
        embed: p.embed.is_some(),
        done: None,
        error: None,
        name: String::new(),
        email: String::new(),
        subject: String::new(),
        message: String::new(),
        deflect: crate::helpcenter::deflect::new_session(),
    })
}

#[derive(Deserialize)]
struct ContactForm {
    name: String,
    email: String,
    subject: String,
    message: String,
    /// Honeypot: hidden from people; bots fill it in.
    #[serde(default)]
    website: String,
    #[serde(default)]
    embed: Option<String>,
    /// The form's deflection session id (see `helpcenter::deflect`).
    #[serde(default)]
    deflect: String,
}

/// POST /contact: files a ticket for the sender. Bots that fill the honeypot get the same
/// thank-you page and no ticket; senders are throttled per address and client.
async fn contact(
    State(s): State<AppState>,
    axum::Extension(ip): axum::Extension<crate::ClientIp>,
    headers: HeaderMap,
    Form(f): Form<ContactForm>,
) -> Result<Response, AppError> {
    let now = s.now();
    let w = words(&headers, None);
    let embed = f.embed.is_some();
    let again = |error: &str| ContactPage {
        t: w,
        embed,
        done: None,
        error: Some(error.to_string()),
        name: f.name.clone(),
        email: f.email.clone(),
        subject: f.subject.clone(),
        message: f.message.clone(),
        deflect: f.deflect.clone(),
    };
    if !f.website.is_empty() {
        tracing::info!("contact form honeypot filled; dropped");
        return Ok(page(&ContactPage {
            t: w,
            embed,
            done: Some(0),
            error: None,
            name: String::new(),
            email: String::new(),
            subject: String::new(),
            message: String::new(),
            deflect: String::new(),
        }));
    }
    let email = match Email::parse(&f.email) {
        Ok(e) => e,
        Err(_) => return Ok(page(&again(w.bad_email))),
    };
    let name = match tend_core::parse_line("name", &f.name, tend_core::limits::NAME_MAX) {
        Ok(n) => n,
        Err(_) => return Ok(page(&again(w.need_name))),
    };
    let subject = match tend_core::parse_line("subject", &f.subject, tend_core::limits::SUBJECT_MAX)
    {
        Ok(x) => x,
        Err(_) => return Ok(page(&again(w.need_subject))),
    };
    let body = f.message.trim().to_string();
    if body.is_empty() || body.len() > 50_000 {
        return Ok(page(&again(w.need_message)));
    }
    let keys = [
        format!("contact-ip:{}", ip.0),
        format!("contact:{}", email.as_str().to_lowercase()),
    ];
    let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
    if s.login_limiter.check(&keys, now).is_err() {
        return Ok(page(&again(w.too_many_requests)));
    }
    s.login_limiter.fail(&keys, now);
    let new = NewTicket {
        subject,
        status: Status::New,
        priority: Priority::Normal,
        channel: Channel::Web,
        requester: RequesterRef::Email {
            email: email.as_str().to_string(),
            name: Some(name),
        },
        assignee_id: None,
        group_id: None,
        brand_id: crate::brands::current_id(),
        tags: vec!["contact-form".into()],
        fields: Default::default(),
        external_id: None,
        message: Some(NewMessage {
            public: true,
            body_html: html::text_to_html(&body),
            body_text: body,
            attachments: vec![],
            ..Default::default()
        }),
        message_by_requester: true,
        idempotency_key: None,
    };
    let t = s.store.create_ticket(new, Actor::SYSTEM, now).await?.value;
    crate::helpcenter::deflect::form_ticket(&s, &f.deflect, t.id).await;
    Ok(page(&ContactPage {
        t: w,
        embed,
        done: Some(t.id),
        error: None,
        name: String::new(),
        email: String::new(),
        subject: String::new(),
        message: String::new(),
        deflect: String::new(),
    }))
}
