//! Self-service (issue 6): article suggestions while a customer types a request, for agents
//! on the ticket page, and in an optional auto-reply to new e-mail tickets with a one-click
//! "this solved my problem" link.
//!
//! - `GET /api/v1/kb/suggestions?q=&session=&locale=` (public, throttled per client): up to 5
//!   published public articles for the text typed so far. The contact form's script
//!   (`/self-service/deflect.js`, no inline script; without script the form works and shows
//!   nothing) calls it debounced. With a `session` (the random id the form page was given)
//!   the session is recorded: suggestions shown → article opened (the links go through
//!   `/self-service/open/{id}?s=…`, which counts and redirects) → form sent (the ticket is
//!   linked to the session) or abandoned (deflected, when an article was opened).
//! - The auto-reply (setting `kb.auto_reply`, off by default): a new ticket by mail queues a
//!   `kb.auto_reply` job; the worker finds the top 3 articles for the subject and first
//!   message and mails them with a link `/self-service/solved?t=…`. The token is random
//!   (256 bits), stored as SHA-256, single use. A GET only shows a confirmation form (link
//!   scanners open links); the POST solves the ticket as its requester and counts a
//!   deflection, once.

use crate::auth::{generate_token, hash_token};
use crate::error::ApiResult;
use crate::extract::Query;
use crate::ui::render;
use crate::{AppError, AppState};
use askama::Template;
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Form, Router};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;
use tend_core::kb_analytics::normalize_query;
use tend_core::{Role, Ticket, Viewer};
use tend_store::kb::{parse_locale, primary_language, KbVisibility};
use tend_store::kb_analytics::*;
use tend_store::{NewJob, Store, StoreError};

/// Most suggestions shown while typing.
pub const SUGGESTIONS_MAX: usize = 5;
/// Articles in the auto-reply.
pub const AUTO_REPLY_ARTICLES: usize = 3;
/// Characters of typed text searched (the engine reads 1,000 at most anyway).
const TYPED_MAX: usize = 1_000;
/// Fewer letters and digits than this: no suggestions (and nothing recorded).
const TYPED_MIN: usize = 3;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/self-service/deflect.js",
            get(|| async { script(include_str!("../../assets/deflect.js")) }),
        )
        .route(
            "/self-service/agent.js",
            get(|| async { script(include_str!("../../assets/kb-agent.js")) }),
        )
        .route("/self-service/open/{id}", get(open_article))
        .route("/self-service/solved", get(solved_page).post(solved_post))
        .layer(axum::middleware::from_fn(security_headers))
}

fn script(body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
        .into_response()
}

/// No script on these pages, styles and forms from here only.
async fn security_headers(req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    crate::ui::page_headers(
        resp.headers_mut(),
        "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        "no-referrer",
    );
    resp
}

/// A fresh deflection session id for a form page: 128 random bits as 32 hex digits.
pub fn new_session() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

/// A published public article suggested for some text.
#[derive(Debug, Clone)]
pub struct Suggestion {
    pub id: i64,
    pub locale: String,
    pub title: String,
    pub snippet: String,
}

/// Up to `n` published public articles for `text` (the customer's language first, then any),
/// each checked live in the store. Empty when search is off or the text has too few letters.
pub async fn suggest(
    store: &dyn Store,
    search: Option<&Arc<tend_search::Search>>,
    scope: &super::BrandScope,
    now: DateTime<Utc>,
    locale: &str,
    text: &str,
    n: usize,
) -> Vec<Suggestion> {
    let Some(search) = search.cloned() else {
        return vec![];
    };
    let text: String = text.chars().take(TYPED_MAX).collect();
    if text.chars().filter(|c| c.is_alphanumeric()).count() < TYPED_MIN {
        return vec![];
    }
    let q = tend_search::KbQuery {
        public_only: true,
        published_only: true,
        limit: 10,
        ..tend_search::KbQuery::new(text)
    };
    let own = tend_search::KbQuery {
        locale: Some(primary_language(locale).to_string()),
        ..q.clone()
    };
    let found = tokio::task::spawn_blocking(move || {
        let mut hits = search.kb().search(&own)?.hits;
        if hits.len() < 5 {
            for h in search.kb().search(&q)?.hits {
                if !hits.iter().any(|x| x.id == h.id) {
                    hits.push(h);
                }
            }
        }
        Ok::<_, tend_search::SearchError>(hits)
    })
    .await;
    let hits = match found {
        Ok(Ok(h)) => h,
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "suggestion search failed");
            return vec![];
        }
        Err(e) => {
            tracing::warn!(error = %e, "suggestion search task failed");
            return vec![];
        }
    };
    let mut out: Vec<Suggestion> = Vec::new();
    for h in hits {
        if out.len() >= n {
            break;
        }
        let (Some(loc), false) = (h.locale.as_deref(), out.iter().any(|x| x.id == h.id)) else {
            continue;
        };
        // The index lags and holds scheduled translations early: check the store.
        let Ok(Some(full)) = store.kb_article_for_index(h.id).await else {
            continue;
        };
        if full.article.visibility != KbVisibility::Public
            || !scope.shows_category(full.article.category_id)
        {
            continue;
        }
        let Some(t) = full
            .translations
            .iter()
            .find(|t| t.head.locale.eq_ignore_ascii_case(loc))
            .filter(|t| t.head.is_live(now))
        else {
            continue;
        };
        out.push(Suggestion {
            id: h.id,
            locale: t.head.locale.clone(),
            title: t.head.title.clone(),
            snippet: h.snippet,
        });
    }
    out
}

fn base_url(s: &AppState) -> String {
    s.mail.base_url.trim_end_matches('/').to_string()
}

// --- suggestions while typing ---------------------------------------------------------------

#[derive(Debug, Deserialize)]
pub struct SuggestParams {
    q: Option<String>,
    session: Option<String>,
    locale: Option<String>,
    /// The slug of the form page's brand (else the request's `Host` decides, as for pages):
    /// only that brand's and unbranded categories are suggested.
    brand: Option<String>,
}

/// `GET /api/v1/kb/suggestions?q=&session=&locale=`: `{"suggestions": [{id, title, url,
/// snippet, locale}]}`. Public; 60 requests a minute per client (429 beyond).
pub async fn suggestions(
    State(s): State<AppState>,
    axum::Extension(ip): axum::Extension<crate::ClientIp>,
    headers: HeaderMap,
    Query(p): Query<SuggestParams>,
) -> ApiResult<axum::Json<Value>> {
    let now = s.now();
    let key = format!("suggest:{}", ip.0);
    s.suggest_limiter.check(&[key.as_str()], now)?;
    s.suggest_limiter.fail(&[key.as_str()], now);
    let locale = match p.locale.as_deref().map(str::trim).filter(|l| !l.is_empty()) {
        None => "en".to_string(),
        Some(l) => parse_locale(l)?,
    };
    let session = match p.session.as_deref().filter(|x| !x.is_empty()) {
        None => None,
        Some(x) if valid_session(x) => Some(x.to_string()),
        Some(_) => {
            return Err(AppError::invalid(
                "session",
                "must be the session id the form page gave (32 hex digits)",
            ))
        }
    };
    let raw: String = p.q.unwrap_or_default().chars().take(TYPED_MAX).collect();
    let brand_query = p.brand.as_deref().map(|b| {
        form_urlencoded::Serializer::new(String::new())
            .append_pair("brand", b)
            .finish()
    });
    let brand = crate::brands::resolve(&s, &headers, brand_query.as_deref()).await;
    let scope = super::BrandScope::load(&*s.store, brand.map(|b| b.id)).await?;
    let found = suggest(
        &*s.store,
        s.search.as_ref(),
        &scope,
        now,
        &locale,
        &raw,
        SUGGESTIONS_MAX,
    )
    .await;
    let query = normalize_query(&raw);
    // Nothing is recorded without search (no suggestions could be shown) or for text too
    // short to search.
    let searched = s.search.is_some() && query.chars().count() >= TYPED_MIN;
    if let (Some(session), true) = (&session, searched) {
        let seen = SuggestSeen {
            session: session.clone(),
            source: "contact".into(),
            query,
            hits: found.len() as i64,
        };
        if let Err(e) = s.store.kb_deflect_suggested(seen, now).await {
            tracing::warn!(error = %e, "could not record a deflection session");
        }
    }
    let lang = primary_language(&locale).to_string();
    let items: Vec<Value> = found
        .into_iter()
        .map(|h| {
            let url = match &session {
                Some(sess) => format!("/self-service/open/{}?s={sess}&l={lang}", h.id),
                None => super::article_path(&lang, h.id, &h.title),
            };
            json!({ "id": h.id, "title": h.title, "locale": h.locale, "snippet": h.snippet, "url": url })
        })
        .collect();
    Ok(axum::Json(json!({ "suggestions": items })))
}

#[derive(Debug, Deserialize)]
struct OpenParams {
    s: Option<String>,
    l: Option<String>,
}

/// `GET /self-service/open/{id}?s=&l=`: counts the click in the session and redirects to the
/// article (the help center answers 404 for anything not public and live).
async fn open_article(
    State(s): State<AppState>,
    axum::Extension(ip): axum::Extension<crate::ClientIp>,
    Path(raw): Path<String>,
    Query(p): Query<OpenParams>,
) -> Response {
    let lang =
        p.l.as_deref()
            .and_then(|l| parse_locale(l).ok())
            .unwrap_or_else(|| "en".into());
    let Some(id) = raw.parse::<i64>().ok().filter(|i| *i > 0) else {
        return Redirect::to(&format!("/help/{lang}")).into_response();
    };
    let now = s.now();
    // Clicks share the suggestions' per-client budget: past it the reader still gets the
    // article, but nothing is counted (no inflating the figures by replaying links).
    let key = format!("suggest:{}", ip.0);
    let counted = s.suggest_limiter.check(&[key.as_str()], now).is_ok();
    if counted {
        s.suggest_limiter.fail(&[key.as_str()], now);
    }
    if let Some(sess) = p.s.as_deref().filter(|x| counted && valid_session(x)) {
        let public = matches!(s.store.kb_get_article(id).await, Ok(a) if a.is_public_at(now));
        if public {
            if let Err(e) = s.store.kb_deflect_clicked(sess, id, now).await {
                tracing::warn!(error = %e, "could not record a suggestion click");
            }
        }
    }
    Redirect::to(&format!("/help/{lang}/articles/{id}")).into_response()
}

/// After the contact form filed a ticket: counts it and links it to the form's session.
pub async fn form_ticket(s: &AppState, session: &str, ticket_id: i64) {
    let session = valid_session(session).then(|| session.to_string());
    if let Err(e) = s
        .store
        .kb_customer_ticket("form", session, ticket_id, s.now())
        .await
    {
        tracing::warn!(error = %e, ticket = ticket_id, "could not record a form ticket");
    }
}

// --- agents ---------------------------------------------------------------------------------

/// An article an agent may link in a reply.
pub struct AgentSuggestion {
    pub title: String,
    /// Absolute URL of the article in the help center.
    pub url: String,
}

/// Suggestions for a ticket page, from the ticket's subject and first message (public
/// articles only: the customer must be able to open the link).
pub async fn for_ticket(s: &AppState, viewer: &Viewer, t: &Ticket) -> Vec<AgentSuggestion> {
    let first = match s.store.list_messages(t.id, viewer).await {
        Ok(m) => m
            .into_iter()
            .next()
            .map(|m| m.body_text)
            .unwrap_or_default(),
        Err(_) => String::new(),
    };
    let locale = match s.store.get_customer(t.requester_id).await {
        Ok(c) => c
            .language
            .as_deref()
            .and_then(|l| parse_locale(l).ok())
            .unwrap_or_else(|| "en".into()),
        Err(_) => "en".into(),
    };
    let text: String = format!("{} {}", t.subject, first)
        .chars()
        .take(TYPED_MAX)
        .collect();
    let lang = primary_language(&locale).to_string();
    let base = base_url(s);
    suggest(
        &*s.store,
        s.search.as_ref(),
        &super::BrandScope::everything(),
        s.now(),
        &locale,
        &text,
        SUGGESTIONS_MAX,
    )
    .await
    .into_iter()
    .map(|h| AgentSuggestion {
        url: format!("{base}{}", super::article_path(&lang, h.id, &h.title)),
        title: h.title,
    })
    .collect()
}

// --- auto-reply -----------------------------------------------------------------------------

/// Whether the auto-reply is switched on (`{"enabled": true}` under `kb.auto_reply`).
pub async fn auto_reply_enabled(store: &dyn Store) -> Result<bool, StoreError> {
    Ok(store
        .get_setting(KB_AUTO_REPLY_SETTING)
        .await?
        .and_then(|v| v.get("enabled").and_then(Value::as_bool))
        .unwrap_or(false))
}

/// After intake opened a ticket from a mail: counts the customer ticket and, with the
/// auto-reply on and a mail from a person (not automatic, not bouncing), queues the
/// auto-reply (keyed by ticket: queued once). Failures are logged: the mail is stored.
pub async fn after_mail_ticket(
    store: &dyn Store,
    ticket_id: i64,
    from_a_person: bool,
    now: DateTime<Utc>,
) {
    // Automatic and bulk mail are not customers asking: neither counted nor answered.
    if !from_a_person {
        return;
    }
    if let Err(e) = store
        .kb_customer_ticket("email", None, ticket_id, now)
        .await
    {
        tracing::warn!(error = %e, ticket = ticket_id, "could not count a mail ticket");
    }
    match auto_reply_enabled(store).await {
        Ok(true) => {
            let job = NewJob {
                kind: KB_AUTO_REPLY_JOB.into(),
                payload: json!({ "ticket_id": ticket_id }),
                run_at: now,
                max_attempts: 5,
            };
            if let Err(e) = store
                .schedule_job(&format!("kb-auto-reply:{ticket_id}"), job)
                .await
            {
                tracing::warn!(error = %e, ticket = ticket_id, "could not queue the auto-reply");
            }
        }
        Ok(false) => {}
        Err(e) => tracing::warn!(error = %e, "could not read the auto-reply setting"),
    }
}

/// What a `kb.auto_reply` job did.
#[derive(Debug, Clone, PartialEq)]
pub enum AutoReplied {
    Sent { articles: usize },
    Skipped(&'static str),
}

fn system() -> Viewer {
    Viewer {
        agent_id: 0,
        role: Role::Admin,
        group_ids: vec![],
    }
}

/// Runs a `kb.auto_reply` job: top articles for the ticket's subject and first message, a
/// fresh single-use token (a retried job replaces an unused one), and the mail, threaded
/// into the ticket like the acknowledgement.
pub async fn send_auto_reply(
    store: &dyn Store,
    mail: &crate::mail::MailConfig,
    search: Option<&Arc<tend_search::Search>>,
    now: DateTime<Utc>,
    payload: &Value,
) -> Result<AutoReplied, String> {
    let ticket_id = payload["ticket_id"]
        .as_i64()
        .ok_or("payload has no ticket_id")?;
    let e = |e: StoreError| e.to_string();
    if !auto_reply_enabled(store).await.map_err(e)? {
        return Ok(AutoReplied::Skipped("auto-reply switched off"));
    }
    if search.is_none() {
        return Ok(AutoReplied::Skipped("search is off"));
    }
    let t = match store.get_ticket(ticket_id, &system()).await {
        Ok(t) => t,
        Err(StoreError::NotFound(_)) => return Ok(AutoReplied::Skipped("ticket gone")),
        Err(err) => return Err(e(err)),
    };
    if !t.status.is_open() {
        return Ok(AutoReplied::Skipped("ticket no longer open"));
    }
    let first = store
        .list_messages(ticket_id, &system())
        .await
        .map_err(e)?
        .into_iter()
        .find(|m| m.public)
        .map(|m| m.body_text)
        .unwrap_or_default();
    let customer = store.get_customer(t.requester_id).await.map_err(e)?;
    let locale = customer
        .language
        .as_deref()
        .and_then(|l| parse_locale(l).ok())
        .unwrap_or_else(|| "en".into());
    let text = format!("{} {}", t.subject, first);
    // Only articles the ticket's brand's help center shows.
    let scope = super::BrandScope::load(store, t.brand_id)
        .await
        .map_err(e)?;
    let found = suggest(
        store,
        search,
        &scope,
        now,
        &locale,
        &text,
        AUTO_REPLY_ARTICLES,
    )
    .await;
    if found.is_empty() {
        return Ok(AutoReplied::Skipped("no matching article"));
    }
    let token = generate_token();
    let ids: Vec<i64> = found.iter().map(|f| f.id).collect();
    if !store
        .kb_auto_reply_issue(ticket_id, hash_token(&token), ids, now)
        .await
        .map_err(e)?
    {
        return Ok(AutoReplied::Skipped("already solved by its link"));
    }
    let base = mail.base_url.trim_end_matches('/');
    let lang = primary_language(&locale);
    let mut list = String::new();
    for (i, a) in found.iter().enumerate() {
        list.push_str(&format!(
            "{}. {}\n   {base}{}\n",
            i + 1,
            a.title,
            super::article_path(lang, a.id, &a.title)
        ));
    }
    let first_name = customer
        .name
        .split_whitespace()
        .next()
        .unwrap_or("")
        .to_string();
    let body = format!(
        "Hello{},\n\nthank you for your request #{ticket_id} \"{}\". While our team looks at it, these articles may already answer it:\n\n{list}\nIf one of them solved your problem, tell us here and we will close your request:\n{base}/self-service/solved?t={token}\n\nOtherwise there is nothing to do: we will answer you as soon as we can.\n",
        if first_name.is_empty() { String::new() } else { format!(" {first_name}") },
        t.subject
    );
    let subject = format!("Re: {} — articles that may help", t.subject);
    crate::mail::outbound::send_auto_reply(store, mail, ticket_id, t.created_at, &subject, &body)
        .await?;
    Ok(AutoReplied::Sent {
        articles: found.len(),
    })
}

#[derive(Template)]
#[template(path = "self_service_solved.html")]
struct SolvedPage {
    /// The portal frame's words (this page's own text is English only, for now).
    t: &'static crate::portal::strings::Portal,
    /// `confirm`, `solved`, `used`, `invalid`.
    state: &'static str,
    token: String,
    ticket_id: i64,
    subject: String,
    titles: Vec<String>,
    at: String,
}

#[derive(Deserialize)]
struct TokenParam {
    t: Option<String>,
}

fn page(status: StatusCode, p: SolvedPage) -> Response {
    let mut r = render(&p);
    *r.status_mut() = status;
    r.headers_mut()
        .insert("x-robots-tag", HeaderValue::from_static("noindex"));
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn invalid() -> Response {
    page(
        StatusCode::NOT_FOUND,
        SolvedPage {
            t: &crate::portal::strings::EN,
            state: "invalid",
            token: String::new(),
            ticket_id: 0,
            subject: String::new(),
            titles: vec![],
            at: String::new(),
        },
    )
}

fn token_ok(t: &str) -> bool {
    !t.is_empty() && t.len() <= 200
}

/// `GET /self-service/solved?t=`: shows what the link would do and a button (nothing changes
/// on a GET: mail scanners open links).
async fn solved_page(State(s): State<AppState>, Query(p): Query<TokenParam>) -> Response {
    let Some(token) = p.t.filter(|t| token_ok(t)) else {
        return invalid();
    };
    let Ok(Some(a)) = s.store.kb_auto_reply_by_token(&hash_token(&token)).await else {
        return invalid();
    };
    let subject = match s.store.get_ticket(a.ticket_id, &system()).await {
        Ok(t) => t.subject,
        Err(_) => return invalid(),
    };
    if let Some(at) = a.used_at {
        return page(
            StatusCode::OK,
            SolvedPage {
                t: &crate::portal::strings::EN,
                state: "used",
                token: String::new(),
                ticket_id: a.ticket_id,
                subject,
                titles: vec![],
                at: at.format("%Y-%m-%d %H:%M UTC").to_string(),
            },
        );
    }
    let mut titles = Vec::new();
    for id in &a.article_ids {
        if let Ok(full) = s.store.kb_get_article(*id).await {
            if let Some(t) = full.translations.first() {
                titles.push(t.head.title.clone());
            }
        }
    }
    page(
        StatusCode::OK,
        SolvedPage {
            t: &crate::portal::strings::EN,
            state: "confirm",
            token,
            ticket_id: a.ticket_id,
            subject,
            titles,
            at: String::new(),
        },
    )
}

#[derive(Deserialize)]
struct SolvedForm {
    #[serde(default)]
    t: String,
}

/// `POST /self-service/solved` (form field `t`): solves the ticket once.
async fn solved_post(
    State(s): State<AppState>,
    headers: HeaderMap,
    Form(f): Form<SolvedForm>,
) -> Response {
    if super::cross_site(&headers) {
        return crate::ui::forbidden_csrf();
    }
    if !token_ok(&f.t) {
        return invalid();
    }
    let outcome = match s
        .store
        .kb_auto_reply_solve(&hash_token(&f.t), s.now())
        .await
    {
        Ok(o) => o,
        Err(e) => return AppError::from(e).into_response(),
    };
    let subject = |id: i64| {
        let s = s.clone();
        async move {
            s.store
                .get_ticket(id, &system())
                .await
                .map(|t| t.subject)
                .unwrap_or_default()
        }
    };
    match outcome {
        AutoReplySolve::Unknown => invalid(),
        AutoReplySolve::Solved { ticket_id } => page(
            StatusCode::OK,
            SolvedPage {
                t: &crate::portal::strings::EN,
                state: "solved",
                token: String::new(),
                ticket_id,
                subject: subject(ticket_id).await,
                titles: vec![],
                at: String::new(),
            },
        ),
        AutoReplySolve::AlreadyClosed { ticket_id } => page(
            StatusCode::OK,
            SolvedPage {
                t: &crate::portal::strings::EN,
                state: "closed",
                token: String::new(),
                ticket_id,
                subject: subject(ticket_id).await,
                titles: vec![],
                at: String::new(),
            },
        ),
        AutoReplySolve::AlreadyUsed { ticket_id, at } => page(
            StatusCode::CONFLICT,
            SolvedPage {
                t: &crate::portal::strings::EN,
                state: "used",
                token: String::new(),
                ticket_id,
                subject: subject(ticket_id).await,
                titles: vec![],
                at: at.format("%Y-%m-%d %H:%M UTC").to_string(),
            },
        ),
    }
}
