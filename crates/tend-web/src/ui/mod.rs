//! The agent workspace: server-rendered pages (askama), assets embedded in the binary,
//! session cookies with CSRF protection, a strict Content-Security-Policy, keyboard shortcuts.
//!
//! A session is an API token kept in an HttpOnly, SameSite=Strict cookie; sign-out revokes it.
//! Every form carries a CSRF token derived from the session (HMAC), checked in constant time.

mod admin_brands;
mod admin_mail;
mod admin_routing;
mod admin_sla;
mod admin_team;
mod kb_analytics;
pub mod live;
mod macros_page;
pub mod ops;
mod org;
mod pages;
pub(crate) mod password;
mod reports;
mod satisfaction;
mod search;
mod views;

use crate::auth::{generate_token, hash_token};
use crate::AppState;
use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use tend_core::Viewer;

pub const COOKIE: &str = "tend_session";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/views/mine") }))
        .route("/login", get(pages::login_form).post(pages::login))
        .route("/logout", post(pages::logout))
        .route(
            "/password/forgot",
            get(password::forgot_form).post(password::forgot),
        )
        .route(
            "/password/reset",
            get(password::reset_form).post(password::reset),
        )
        .route("/views/counts", get(views::view_counts))
        .route("/views/new", get(views::new_form).post(views::create))
        .route(
            "/views/{key}/edit",
            get(views::edit_form).post(views::update),
        )
        .route("/views/{key}/delete", post(views::delete))
        .route("/views/{key}", get(views::view))
        .route("/tickets/{id}", get(pages::ticket))
        .route("/tickets/{id}/reply", post(pages::reply))
        .route("/tickets/{id}/update", post(pages::update))
        .route("/tickets/{id}/timeline", get(pages::timeline))
        .route("/customers/{id}", get(pages::customer))
        .route("/organizations/{id}", get(org::page))
        .route("/macros", get(macros_page::page).post(macros_page::create))
        .route("/macros/{id}/delete", post(macros_page::delete))
        .route("/search", get(search::page))
        .route("/admin/mail", get(admin_mail::page))
        .route("/admin/team", get(admin_team::page))
        .route(
            "/admin/fields",
            get(admin_team::fields_admin).post(admin_team::add_field),
        )
        .route("/admin/team/agents", post(admin_team::add_agent))
        .route("/admin/team/groups", post(admin_team::add_group))
        .route(
            "/admin/team/agents/{id}",
            get(admin_team::agent).post(admin_team::save_agent),
        )
        .route(
            "/admin/team/agents/{id}/password-link",
            post(admin_team::password_link),
        )
        // issue 5: an agent's working hours
        .route(
            "/admin/team/agents/{id}/hours",
            post(admin_team::save_hours),
        )
        .route("/admin/mail/{id}", post(admin_mail::decide))
        // issue 4: mailbox admin
        .route("/admin/mailboxes", post(admin_mail::create_mailbox))
        .route("/admin/mailboxes/new", get(admin_mail::new_mailbox))
        .route(
            "/admin/mailboxes/{id}",
            get(admin_mail::edit_mailbox).post(admin_mail::save_mailbox),
        )
        .route("/admin/mailboxes/{id}/test", post(admin_mail::test_mailbox))
        .route(
            "/admin/brands",
            get(admin_brands::page).post(admin_brands::create),
        )
        .route(
            "/admin/brands/{id}",
            get(admin_brands::edit).post(admin_brands::update),
        )
        .route("/admin/brands/{id}/logo", post(admin_brands::upload_logo))
        .route(
            "/admin/brands/{id}/logo/remove",
            post(admin_brands::remove_logo),
        )
        .route("/bulk", post(pages::bulk))
        .route("/tickets/{id}/live", get(live::stream))
        .route("/tickets/{id}/typing", post(live::typing))
        .route(
            "/assets/app.css",
            get(|| async { asset("text/css", include_str!("../../assets/app.css")) }),
        )
        .route(
            "/assets/app.js",
            get(|| async { asset("text/javascript", include_str!("../../assets/app.js")) }),
        )
        .merge(admin_sla::router()) // issue 5: /admin/sla
        .merge(reports::router())
        .merge(ops::router())
        .merge(kb_analytics::router())
        .merge(admin_routing::router())
        .layer(axum::middleware::from_fn(security_headers))
}

fn asset(ct: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, ct),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
        .into_response()
}

/// The headers every HTML page of Tend carries: its Content-Security-Policy, no sniffing, no
/// framing, and a referrer policy. One place for the agent pages, surveys and the kiosk.
pub fn page_headers(h: &mut HeaderMap, csp: &'static str, referrer: &'static str) {
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(csp),
    );
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    h.insert("referrer-policy", HeaderValue::from_static(referrer));
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
}

/// Strict CSP: no inline script or style, nothing from elsewhere, no framing.
async fn security_headers(req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    // A page may ask for a stricter referrer policy (the password-reset page's URL holds a
    // token); it keeps it.
    let own_referrer = resp.headers().get(header::REFERRER_POLICY).cloned();
    page_headers(
        resp.headers_mut(),
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; connect-src 'self'",
        "same-origin",
    );
    if let Some(v) = own_referrer {
        resp.headers_mut().insert(header::REFERRER_POLICY, v);
    }
    resp
}

/// What a form page says when a change is refused: the text of a 4xx the agent can act on
/// (a field's problem, a conflict, a permission); any other error stays an error.
pub(crate) fn form_error(e: crate::AppError) -> Result<String, crate::AppError> {
    use crate::AppError;
    match e {
        AppError::Invalid { field, message } => Ok(format!("{field}: {message}")),
        AppError::BadRequest(m) | AppError::Conflict(m) | AppError::Forbidden(m) => Ok(m),
        other => Err(other),
    }
}

/// The CSRF token for a session: HMAC(session token, "csrf").
pub fn csrf_for(session: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(session.as_bytes()).expect("hmac takes any key");
    mac.update(b"tend csrf v1");
    hex::encode(mac.finalize().into_bytes())
}

pub fn csrf_ok(session: &str, sent: &str) -> bool {
    use subtle::ConstantTimeEq;
    let want = csrf_for(session);
    want.len() == sent.len() && bool::from(want.as_bytes().ct_eq(sent.as_bytes()))
}

fn cookie_value<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|kv| {
            let (k, v) = kv.trim().split_once('=')?;
            (k == name).then_some(v)
        })
}

/// A signed-in agent with their session token and CSRF token.
pub struct Session {
    pub viewer: Viewer,
    pub token: String,
    pub csrf: String,
}

/// Redirect to sign-in when there is no valid session.
pub enum NeedLogin {
    Redirect(String),
    Error(crate::AppError),
}

impl IntoResponse for NeedLogin {
    fn into_response(self) -> Response {
        match self {
            NeedLogin::Redirect(next) => Redirect::to(&format!(
                "/login?next={}",
                form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
            ))
            .into_response(),
            NeedLogin::Error(e) => e.into_response(),
        }
    }
}

impl axum::extract::FromRequestParts<AppState> for Session {
    type Rejection = NeedLogin;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        s: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let next = parts
            .uri
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_else(|| "/".into());
        let token = cookie_value(&parts.headers, COOKIE)
            .ok_or_else(|| NeedLogin::Redirect(next.clone()))?
            .to_string();
        let viewer = s
            .auth
            .viewer_for_token(&*s.store, &token)
            .await
            .map_err(NeedLogin::Error)?
            .ok_or(NeedLogin::Redirect(next))?;
        let csrf = csrf_for(&token);
        Ok(Session {
            viewer,
            token,
            csrf,
        })
    }
}

pub fn session_cookie(token: &str, secure: bool) -> HeaderValue {
    let s = format!(
        "{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age=43200{}",
        if secure { "; Secure" } else { "" }
    );
    HeaderValue::from_str(&s).unwrap_or(HeaderValue::from_static(""))
}

pub fn clear_cookie() -> HeaderValue {
    HeaderValue::from_static("tend_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0")
}

pub fn new_session_token() -> (String, Vec<u8>) {
    let t = generate_token();
    let h = hash_token(&t);
    (t, h)
}

pub fn render<T: askama::Template>(t: &T) -> Response {
    // Customer-facing pages get their brand as the runtime value `brand` (crate::brands).
    let brand = crate::brands::current();
    let rendered = match &brand {
        Some(b) => {
            let v: (&str, &dyn std::any::Any) = ("brand", b);
            t.render_with_values(&v)
        }
        None => t.render(),
    };
    match rendered {
        Ok(html) => Html(html).into_response(),
        Err(e) => crate::AppError::Internal(format!("template: {e}")).into_response(),
    }
}

pub fn forbidden_csrf() -> Response {
    (
        StatusCode::FORBIDDEN,
        Html("<h1>This form expired</h1><p>Go back, reload the page and send it again.</p>"),
    )
        .into_response()
}
