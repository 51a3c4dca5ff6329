//! Password reset by e-mail for agents: "forgot your password?" sends a single-use link
//! (random token, stored by its SHA-256, valid 30 minutes, a newer link replaces older ones);
//! opening it shows a form and only the form's POST uses the token, so a mail scanner that
//! follows links changes nothing. The answer to the request never says whether the address
//! belongs to an agent, and takes the same time either way: the request only queues a
//! [`RESET_JOB`]; the job looks the address up and mails only an active agent. Setting the
//! password ends the agent's web sessions.

use super::render;
use crate::auth::{check_password, generate_token, hash_password, hash_token};
use crate::mail::{job, MailConfig, OutMail};
use crate::{AppError, AppState};
use askama::Template;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;
use tend_core::Email;
use tend_store::{NewJob, Store};

/// The job behind "forgot your password?" (payload `{"email"}`): queued for every
/// well-formed request; it mails a link only to an active agent with that address.
pub const RESET_JOB: &str = "password.reset_link";

/// How long a reset link works.
const VALID_MINUTES: i64 = 30;

pub enum PasswordForm {
    Ask,
    Choose(String),
    None,
}

#[derive(Template)]
#[template(path = "password.html")]
struct PasswordPage {
    title: &'static str,
    form: PasswordForm,
    error: Option<String>,
    message: Option<String>,
    show_ask_link: bool,
}

fn page(p: PasswordPage) -> Response {
    let mut r = render(&p);
    // The reset page's URL carries the token: never send it on as a referrer.
    r.headers_mut().insert(
        header::REFERRER_POLICY,
        header::HeaderValue::from_static("no-referrer"),
    );
    r
}

fn ask(error: Option<String>, message: Option<String>) -> Response {
    page(PasswordPage {
        title: "Reset your password",
        form: if message.is_some() {
            PasswordForm::None
        } else {
            PasswordForm::Ask
        },
        error,
        message,
        show_ask_link: false,
    })
}

fn dead_link() -> Response {
    page(PasswordPage {
        title: "Choose a new password",
        form: PasswordForm::None,
        error: Some("This link has expired or was already used.".into()),
        message: None,
        show_ask_link: true,
    })
}

/// Why a set-password link goes out.
pub enum LinkKind {
    /// The agent asked ("forgot your password?"): valid 30 minutes.
    Reset,
    /// An admin added the agent or asked for a link for them: valid 3 days.
    Welcome,
}

/// Mails an agent a single-use link to choose a password (a newer link replaces older ones).
pub async fn send_link(
    s: &AppState,
    agent: &tend_store::Agent,
    kind: LinkKind,
) -> Result<(), AppError> {
    mail_link(&*s.store, &s.mail, s.now(), agent, kind).await
}

async fn mail_link(
    store: &dyn Store,
    cfg: &MailConfig,
    now: chrono::DateTime<chrono::Utc>,
    agent: &tend_store::Agent,
    kind: LinkKind,
) -> Result<(), AppError> {
    let (valid, valid_text) = match kind {
        LinkKind::Reset => (
            chrono::Duration::minutes(VALID_MINUTES),
            format!("{VALID_MINUTES} minutes"),
        ),
        LinkKind::Welcome => (chrono::Duration::days(3), "3 days".to_string()),
    };
    let token = generate_token();
    store
        .create_password_reset(agent.id, hash_token(&token), now + valid, now)
        .await?;
    let link = format!(
        "{}/password/reset?token={token}",
        cfg.base_url.trim_end_matches('/')
    );
    let (subject, text) = match kind {
        LinkKind::Reset => (
            "Choose a new Tend password",
            format!(
                "Hello {},\n\nsomeone (we hope you) asked to reset your Tend password. Open this link to choose a new one (it works once, for {valid_text}):\n{link}\n\nIf you did not ask for it, ignore this mail: your password stays as it is.\n",
                agent.name
            ),
        ),
        LinkKind::Welcome => (
            "Choose your Tend password",
            format!(
                "Hello {},\n\nyou have an agent account in Tend. Open this link to choose your password (it works once, for {valid_text}):\n{link}\n\nThen sign in with {} and that password.\n",
                agent.name, agent.email
            ),
        ),
    };
    let mail = OutMail {
        to: agent.email.clone(),
        subject: subject.into(),
        text,
        html: None,
        ..Default::default()
    };
    store.enqueue_job(job(&mail, now)).await?;
    Ok(())
}

/// Runs a [`RESET_JOB`]: a reset link for an active agent with the address; nothing else.
pub async fn run_reset_job(
    store: &dyn Store,
    cfg: &MailConfig,
    now: chrono::DateTime<chrono::Utc>,
    payload: &serde_json::Value,
) -> Result<(), String> {
    let email = payload
        .get("email")
        .and_then(|e| e.as_str())
        .ok_or("bad job: no email")?;
    let agent = store
        .agent_by_email(email)
        .await
        .map_err(|e| e.to_string())?
        .filter(|a| a.active);
    if let Some(agent) = agent {
        mail_link(store, cfg, now, &agent, LinkKind::Reset)
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

pub async fn forgot_form() -> Response {
    ask(None, None)
}

#[derive(Deserialize)]
pub struct ForgotForm {
    email: String,
}

pub async fn forgot(
    State(s): State<AppState>,
    axum::Extension(ip): axum::Extension<crate::ClientIp>,
    Form(f): Form<ForgotForm>,
) -> Result<Response, AppError> {
    let now = s.now();
    let Ok(email) = Email::parse(&f.email) else {
        return Ok(ask(
            Some("Please enter a valid e-mail address, like name@example.com.".into()),
            None,
        ));
    };
    let keys = [
        format!("reset:{}", email.as_str().to_lowercase()),
        format!("reset-ip:{}", ip.0),
    ];
    let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
    if s.login_limiter.check(&keys, now).is_err() {
        return Ok(ask(
            Some("Too many reset links were asked for. Please try again in 15 minutes.".into()),
            None,
        ));
    }
    // Every request counts: a link is mail we send on someone's word.
    s.login_limiter.fail(&keys, now);
    // The same work for every address: the job decides whether there is an agent to mail.
    s.store
        .enqueue_job(NewJob {
            kind: RESET_JOB.into(),
            payload: serde_json::json!({ "email": email.as_str() }),
            run_at: now,
            max_attempts: 5,
        })
        .await?;
    Ok(ask(
        None,
        Some(format!(
            "If {} belongs to an agent, a link to choose a new password is on its way. It works once, for {VALID_MINUTES} minutes.",
            email.as_str()
        )),
    ))
}

#[derive(Deserialize)]
pub struct TokenParam {
    token: Option<String>,
}

/// Opening the link only shows the form: the token is used by the form's POST.
pub async fn reset_form(
    State(s): State<AppState>,
    Query(q): Query<TokenParam>,
) -> Result<Response, AppError> {
    let Some(token) = q.token.filter(|t| !t.is_empty() && t.len() < 200) else {
        return Ok(dead_link());
    };
    if s.store
        .password_reset_agent(&hash_token(&token), s.now())
        .await?
        .is_none()
    {
        return Ok(dead_link());
    }
    Ok(page(PasswordPage {
        title: "Choose a new password",
        form: PasswordForm::Choose(token),
        error: None,
        message: None,
        show_ask_link: false,
    }))
}

#[derive(Deserialize)]
pub struct ResetForm {
    token: String,
    password: String,
    confirm: String,
}

pub async fn reset(
    State(s): State<AppState>,
    axum::Extension(ip): axum::Extension<crate::ClientIp>,
    Form(f): Form<ResetForm>,
) -> Result<Response, AppError> {
    let now = s.now();
    let key = format!("reset-post-ip:{}", ip.0);
    if s.login_limiter.check(&[key.as_str()], now).is_err() {
        return Ok(page(PasswordPage {
            title: "Choose a new password",
            form: PasswordForm::None,
            error: Some(
                "Too many tries with links that do not work. Please wait 15 minutes.".into(),
            ),
            message: None,
            show_ask_link: true,
        }));
    }
    // The token first: hashing a password (argon2, slow on purpose) only for a live link.
    if f.token.is_empty()
        || f.token.len() >= 200
        || s.store
            .password_reset_agent(&hash_token(&f.token), now)
            .await?
            .is_none()
    {
        s.login_limiter.fail(&[key.as_str()], now);
        return Ok(dead_link());
    }
    let again = |error: String| {
        page(PasswordPage {
            title: "Choose a new password",
            form: PasswordForm::Choose(f.token.clone()),
            error: Some(error),
            message: None,
            show_ask_link: false,
        })
    };
    if f.password != f.confirm {
        return Ok(again(
            "The two passwords differ. Type the same password twice.".into(),
        ));
    }
    if let Err(e) = check_password(&f.password) {
        let why = match e {
            AppError::Invalid { message, .. } => message,
            other => other.to_string(),
        };
        return Ok(again(format!("The password {why}.")));
    }
    let pw = f.password.clone();
    let hash = tokio::task::spawn_blocking(move || hash_password(&pw))
        .await
        .map_err(|e| AppError::Internal(format!("hashing: {e}")))??;
    match s
        .store
        .redeem_password_reset(&hash_token(&f.token), hash, now)
        .await?
    {
        Some(_) => Ok(Redirect::to("/login?reset=done").into_response()),
        None => Ok(dead_link()),
    }
}
