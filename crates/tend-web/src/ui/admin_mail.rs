//! /admin/mail: the mailboxes and the intake log — what became of every received mail, with
//! the review queue one click away. Admins only.
//!
//! /admin/mailboxes (issue 4): add, edit and disable a mailbox (address, name, brand, group,
//! closed-ticket policy, acknowledgement, IMAP account) and test its IMAP login. The form
//! goes through the API's checks (`api::mail::check_mailbox`); the IMAP password is
//! write-only (never put back into the page; empty keeps it). Every form is CSRF-checked and
//! every change audited by the store. Refused forms are shown again with the server's own
//! message: no message text travels in a URL.

use super::pages::{nav, short_time, Nav};
use super::{csrf_ok, forbidden_csrf, render, Session};
use crate::api::mail::{check_mailbox, create_checked, MailboxPatch};
use crate::{AppError, AppState};
use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;
use tend_store::mail::{ClosedPolicy, ImapSource, Mailbox};
use tend_store::{decode_id_cursor, PageRequest};

pub struct Row {
    pub id: i64,
    pub at: String,
    pub outcome: String,
    pub sender: String,
    pub subject: String,
    pub reason: String,
    pub ticket_id: Option<i64>,
    pub size: String,
}

#[derive(Template)]
#[template(path = "admin_mail.html")]
struct MailPage {
    nav: Nav,
    mailboxes: Vec<BoxRow>,
    rows: Vec<Row>,
    outcome: String,
    outcomes: Vec<&'static str>,
    next: Option<String>,
    error: Option<String>,
}

#[derive(Deserialize)]
pub struct Params {
    outcome: Option<String>,
    cursor: Option<String>,
}

/// One mailbox in the list.
pub struct BoxRow {
    pub id: i64,
    pub address: String,
    pub name: String,
    pub policy: String,
    pub inbound: String,
    pub active: bool,
}

const OUTCOMES: &[&str] = &[
    "created",
    "appended",
    "review",
    "bounce",
    "duplicate",
    "rejected",
];

fn size(n: i64) -> String {
    if n >= 1024 * 1024 {
        format!("{:.1} MB", n as f64 / 1024.0 / 1024.0)
    } else if n >= 1024 {
        format!("{} KB", n / 1024)
    } else {
        format!("{n} B")
    }
}

pub async fn page(
    State(s): State<AppState>,
    sess: Session,
    Query(p): Query<Params>,
) -> Result<Response, AppError> {
    if !sess.viewer.is_admin() {
        return Err(AppError::Forbidden(
            "only admins see the mail intake".into(),
        ));
    }
    mail_page(&s, &sess, p, None).await
}

async fn mail_page(
    s: &AppState,
    sess: &Session,
    p: Params,
    error: Option<String>,
) -> Result<Response, AppError> {
    let outcome = p.outcome.filter(|o| OUTCOMES.contains(&o.as_str()));
    let after_id = p.cursor.as_deref().and_then(decode_id_cursor);
    let log = s
        .store
        .list_mail_intake(
            outcome.clone(),
            PageRequest {
                after_id,
                limit: 50,
            },
        )
        .await?;
    let mailboxes = s
        .store
        .list_mailboxes()
        .await?
        .into_iter()
        .map(|m| BoxRow {
            id: m.id,
            address: m.address.clone(),
            name: m.name.clone(),
            policy: m.closed_policy.as_str().replace('_', " "),
            inbound: m
                .imap
                .as_ref()
                .map(|i| format!("IMAP {}:{}/{}", i.host, i.port, i.folder))
                .unwrap_or_else(|| "SMTP / pipe".into()),
            active: m.active,
        })
        .collect();
    let rows = log
        .items
        .into_iter()
        .map(|e| Row {
            id: e.id,
            at: short_time(e.received_at),
            outcome: e.outcome,
            sender: e.sender.unwrap_or_default(),
            subject: e.subject,
            reason: e.reason,
            ticket_id: e.ticket_id,
            size: size(e.size),
        })
        .collect();
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let mut r = render(&MailPage {
        nav: nav(s, sess, "/admin/mail").await?,
        mailboxes,
        rows,
        outcome: outcome.unwrap_or_default(),
        outcomes: OUTCOMES.to_vec(),
        next: log.next_cursor,
        error,
    });
    *r.status_mut() = status;
    Ok(r)
}

#[derive(Deserialize)]
pub struct Decide {
    csrf: String,
    /// `new`, `ticket` (into the ticket the mail named) or `discard`.
    action: String,
    ticket_id: Option<i64>,
}

/// POST /admin/mail/{id}: settle a mail held for review.
pub async fn decide(
    State(s): State<AppState>,
    sess: Session,
    crate::extract::Id(id): crate::extract::Id,
    Form(f): Form<Decide>,
) -> Result<Response, AppError> {
    if !sess.viewer.is_admin() {
        return Err(AppError::Forbidden(
            "only admins settle the review queue".into(),
        ));
    }
    if !csrf_ok(&sess.token, &f.csrf) {
        return Ok(forbidden_csrf());
    }
    let me = tend_core::Actor::agent(sess.viewer.agent_id);
    let res = match f.action.as_str() {
        "discard" => s
            .store
            .resolve_intake(id, "discarded", "discarded by an agent", None, me, s.now())
            .await
            .map(|_| None),
        "new" | "ticket" => {
            let target = if f.action == "ticket" {
                f.ticket_id
            } else {
                None
            };
            crate::mail::intake::accept_review(&*s.store, id, target, me, s.now())
                .await
                .map(|d| d.ticket_id)
        }
        _ => {
            return Err(AppError::invalid(
                "action",
                "must be new, ticket or discard",
            ))
        }
    };
    Ok(match res {
        Ok(Some(t)) => Redirect::to(&format!("/tickets/{t}")).into_response(),
        Ok(None) => Redirect::to("/admin/mail?outcome=review").into_response(),
        // The page again with the server's message (no text in the URL).
        Err(e) => {
            let msg = super::form_error(e.into())?;
            let p = Params {
                outcome: Some("review".into()),
                cursor: None,
            };
            return mail_page(&s, &sess, p, Some(msg)).await;
        }
    })
}

// --- /admin/mailboxes (issue 4) ---------------------------------------------------------------

/// How long "test connection" may take, in all (connect, TLS, login, select).
const TEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15);

/// What the mailbox form shows (as entered, so a refused form keeps its values). Never the
/// password.
pub struct BoxForm {
    pub address: String,
    pub name: String,
    pub group_id: Option<i64>,
    pub brand_id: Option<i64>,
    pub closed_policy: String,
    pub auto_ack: bool,
    pub imap: bool,
    pub imap_host: String,
    pub imap_port: String,
    pub imap_security: String,
    pub imap_username: String,
    pub imap_folder: String,
    pub imap_after: String,
    /// Whether a password is stored (the form says so; it never shows it).
    pub has_password: bool,
    pub active: bool,
}

impl BoxForm {
    fn empty() -> BoxForm {
        BoxForm {
            address: String::new(),
            name: String::new(),
            group_id: None,
            brand_id: None,
            closed_policy: ClosedPolicy::default().as_str().into(),
            auto_ack: true,
            imap: false,
            imap_host: String::new(),
            imap_port: "993".into(),
            imap_security: "tls".into(),
            imap_username: String::new(),
            imap_folder: "INBOX".into(),
            imap_after: "seen".into(),
            has_password: false,
            active: true,
        }
    }
    fn of(m: &Mailbox) -> BoxForm {
        let mut f = BoxForm {
            address: m.address.clone(),
            name: m.name.clone(),
            group_id: m.group_id,
            brand_id: m.brand_id,
            closed_policy: m.closed_policy.as_str().into(),
            auto_ack: m.auto_ack,
            active: m.active,
            ..BoxForm::empty()
        };
        if let Some(i) = &m.imap {
            f.imap = true;
            f.imap_host = i.host.clone();
            f.imap_port = i.port.to_string();
            f.imap_security = i.security.clone();
            f.imap_username = i.username.clone();
            f.imap_folder = i.folder.clone();
            f.imap_after = i.after_import.clone();
            f.has_password = !i.password.is_empty();
        }
        f
    }
}

#[derive(Template)]
#[template(path = "admin_mailbox.html")]
struct BoxPage {
    nav: Nav,
    /// None: the "add" form.
    id: Option<i64>,
    form: BoxForm,
    groups: Vec<Choice>,
    brands: Vec<Choice>,
    notice: Option<&'static str>,
    error: Option<String>,
    /// The IMAP test's outcome: (worked, text).
    test: Option<(bool, String)>,
}

/// One option of a select.
pub struct Choice {
    pub id: i64,
    pub name: String,
    pub selected: bool,
}

async fn box_page(
    s: &AppState,
    sess: &Session,
    id: Option<i64>,
    form: BoxForm,
    notice: Option<&'static str>,
    error: Option<String>,
    test: Option<(bool, String)>,
) -> Result<Response, AppError> {
    let groups = s
        .store
        .list_groups()
        .await?
        .into_iter()
        .map(|g| Choice {
            selected: form.group_id == Some(g.id),
            id: g.id,
            name: g.name,
        })
        .collect();
    let brands = s
        .store
        .list_brands(false)
        .await?
        .into_iter()
        .map(|b| Choice {
            selected: form.brand_id == Some(b.id),
            id: b.id,
            name: b.name,
        })
        .collect();
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let mut r = render(&BoxPage {
        nav: nav(s, sess, "/admin/mail").await?,
        id,
        form,
        groups,
        brands,
        notice,
        error,
        test,
    });
    *r.status_mut() = status;
    Ok(r)
}

async fn mailbox(s: &AppState, id: i64) -> Result<Mailbox, AppError> {
    s.store
        .list_mailboxes()
        .await?
        .into_iter()
        .find(|m| m.id == id)
        .ok_or_else(|| AppError::not_found("mailbox"))
}

/// The form as posted. Checkboxes are absent when not ticked.
#[derive(Deserialize)]
pub struct BoxFormIn {
    csrf: String,
    address: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    group_id: String,
    #[serde(default)]
    brand_id: String,
    #[serde(default)]
    closed_policy: String,
    auto_ack: Option<String>,
    imap: Option<String>,
    #[serde(default)]
    imap_host: String,
    #[serde(default)]
    imap_port: String,
    #[serde(default)]
    imap_security: String,
    #[serde(default)]
    imap_username: String,
    /// Write-only: empty keeps the stored password.
    #[serde(default)]
    imap_password: String,
    #[serde(default)]
    imap_folder: String,
    #[serde(default)]
    imap_after: String,
    active: Option<String>,
}

fn opt_id(field: &str, raw: &str) -> Result<Option<i64>, AppError> {
    match raw.trim() {
        "" => Ok(None),
        v => v
            .parse::<i64>()
            .map(Some)
            .map_err(|_| AppError::invalid(field, "choose one from the list")),
    }
}

impl BoxFormIn {
    /// What the form shows again after a refusal (never the password).
    fn values(&self, has_password: bool, editing: bool) -> BoxForm {
        BoxForm {
            address: self.address.clone(),
            name: self.name.clone(),
            group_id: self.group_id.trim().parse().ok(),
            brand_id: self.brand_id.trim().parse().ok(),
            closed_policy: self.closed_policy.clone(),
            auto_ack: self.auto_ack.is_some(),
            imap: self.imap.is_some(),
            imap_host: self.imap_host.clone(),
            imap_port: self.imap_port.clone(),
            imap_security: self.imap_security.clone(),
            imap_username: self.imap_username.clone(),
            imap_folder: self.imap_folder.clone(),
            imap_after: self.imap_after.clone(),
            has_password,
            active: !editing || self.active.is_some(),
        }
    }
    /// The form as the API's request, for the API's checks.
    fn patch(&self, editing: bool) -> Result<MailboxPatch, AppError> {
        let imap = if self.imap.is_some() {
            let port = self
                .imap_port
                .trim()
                .parse::<u16>()
                .map_err(|_| AppError::invalid("imap.port", "must be between 1 and 65535"))?;
            Some(ImapSource {
                host: self.imap_host.trim().to_string(),
                port,
                security: self.imap_security.clone(),
                username: self.imap_username.trim().to_string(),
                password: self.imap_password.clone(),
                folder: self.imap_folder.trim().to_string(),
                after_import: self.imap_after.trim().to_string(),
            })
        } else {
            None
        };
        Ok(MailboxPatch {
            address: Some(self.address.clone()),
            name: Some(self.name.clone()),
            group_id: Some(opt_id("group_id", &self.group_id)?),
            brand_id: Some(opt_id("brand_id", &self.brand_id)?),
            closed_policy: Some(self.closed_policy.clone()),
            auto_ack: Some(self.auto_ack.is_some()),
            imap: Some(imap),
            active: editing.then_some(self.active.is_some()),
        })
    }
}

/// GET /admin/mailboxes/new
pub async fn new_mailbox(State(s): State<AppState>, sess: Session) -> Result<Response, AppError> {
    crate::extract::require_admin_for(&sess.viewer, "manage mailboxes")?;
    box_page(&s, &sess, None, BoxForm::empty(), None, None, None).await
}

/// POST /admin/mailboxes: add a mailbox.
pub async fn create_mailbox(
    State(s): State<AppState>,
    sess: Session,
    Form(f): Form<BoxFormIn>,
) -> Result<Response, AppError> {
    crate::extract::require_admin_for(&sess.viewer, "manage mailboxes")?;
    if !csrf_ok(&sess.token, &f.csrf) {
        return Ok(forbidden_csrf());
    }
    let me = tend_core::Actor::agent(sess.viewer.agent_id);
    let res = match f.patch(false) {
        Ok(p) => match check_mailbox(&s, p).await {
            Ok(up) => create_checked(&s, up, me).await,
            Err(e) => Err(e),
        },
        Err(e) => Err(e),
    };
    match res {
        Ok(m) => {
            Ok(Redirect::to(&format!("/admin/mailboxes/{}?notice=created", m.id)).into_response())
        }
        Err(e) => {
            let msg = super::form_error(e)?;
            box_page(
                &s,
                &sess,
                None,
                f.values(false, false),
                None,
                Some(msg),
                None,
            )
            .await
        }
    }
}

#[derive(Deserialize)]
pub struct NoticeParam {
    notice: Option<String>,
}

fn notice_text(code: Option<&str>) -> Option<&'static str> {
    match code? {
        "created" => Some("The mailbox is added."),
        "saved" => Some("Saved."),
        _ => None,
    }
}

/// GET /admin/mailboxes/{id}
pub async fn edit_mailbox(
    State(s): State<AppState>,
    sess: Session,
    crate::extract::Id(id): crate::extract::Id,
    Query(p): Query<NoticeParam>,
) -> Result<Response, AppError> {
    crate::extract::require_admin_for(&sess.viewer, "manage mailboxes")?;
    let m = mailbox(&s, id).await?;
    let notice = notice_text(p.notice.as_deref());
    box_page(&s, &sess, Some(id), BoxForm::of(&m), notice, None, None).await
}

/// POST /admin/mailboxes/{id}: save (untick "active" to disable).
pub async fn save_mailbox(
    State(s): State<AppState>,
    sess: Session,
    crate::extract::Id(id): crate::extract::Id,
    Form(f): Form<BoxFormIn>,
) -> Result<Response, AppError> {
    crate::extract::require_admin_for(&sess.viewer, "manage mailboxes")?;
    if !csrf_ok(&sess.token, &f.csrf) {
        return Ok(forbidden_csrf());
    }
    let m = mailbox(&s, id).await?;
    let me = tend_core::Actor::agent(sess.viewer.agent_id);
    let res = match f.patch(true) {
        Ok(p) => match check_mailbox(&s, p).await {
            Ok(up) => s
                .store
                .update_mailbox(id, up, me, s.now())
                .await
                .map_err(AppError::from),
            Err(e) => Err(e),
        },
        Err(e) => Err(e),
    };
    match res {
        Ok(_) => Ok(Redirect::to(&format!("/admin/mailboxes/{id}?notice=saved")).into_response()),
        Err(e) => {
            let msg = super::form_error(e)?;
            let has_password = m.imap.as_ref().is_some_and(|i| !i.password.is_empty());
            box_page(
                &s,
                &sess,
                Some(id),
                f.values(has_password, true),
                None,
                Some(msg),
                None,
            )
            .await
        }
    }
}

#[derive(Deserialize)]
pub struct CsrfOnly {
    csrf: String,
}

/// POST /admin/mailboxes/{id}/test: tries the stored IMAP account (connect, log in, open the
/// folder) within [`TEST_TIMEOUT`] and shows what the server answered. Changes nothing.
pub async fn test_mailbox(
    State(s): State<AppState>,
    sess: Session,
    crate::extract::Id(id): crate::extract::Id,
    Form(f): Form<CsrfOnly>,
) -> Result<Response, AppError> {
    crate::extract::require_admin_for(&sess.viewer, "manage mailboxes")?;
    if !csrf_ok(&sess.token, &f.csrf) {
        return Ok(forbidden_csrf());
    }
    let m = mailbox(&s, id).await?;
    let outcome = match &m.imap {
        None => (
            false,
            "This mailbox has no IMAP account to test: it takes mail by SMTP or the pipe."
                .to_string(),
        ),
        Some(src) => match crate::mail::imap::test_login(src, TEST_TIMEOUT).await {
            Ok(t) => (true, t),
            Err(e) => (false, e.chars().take(1000).collect()),
        },
    };
    tracing::info!(mailbox = id, worked = outcome.0, "IMAP connection test");
    box_page(
        &s,
        &sess,
        Some(id),
        BoxForm::of(&m),
        None,
        None,
        Some(outcome),
    )
    .await
}
