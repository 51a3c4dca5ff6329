//! /admin/brands: the brands customers see — list, create, edit (name, slug, host, colours,
//! language, archive) and the logo upload. Admins only; every form is CSRF-checked; the same
//! checks as the API (`api::brands`), whose messages are shown beside the form.

use super::pages::{nav, short_time, Nav};
use super::{csrf_ok, forbidden_csrf, render, Session};
use crate::api::brands::{check_new, check_patch, check_upload, BrandIn, BrandPatch};
use crate::{AppError, AppState};
use askama::Template;
use axum::extract::{Multipart, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;
use tend_core::brand::{DEFAULT_ACCENT, DEFAULT_PRIMARY, LOGO_MAX_BYTES};
use tend_core::Actor;
use tend_store::brands::Brand;

/// What the form shows (as entered, so a refused form keeps its values).
pub struct FormValues {
    pub name: String,
    pub slug: String,
    pub host: String,
    pub primary_color: String,
    pub accent_color: String,
    pub default_locale: String,
}

impl FormValues {
    fn empty() -> FormValues {
        FormValues {
            name: String::new(),
            slug: String::new(),
            host: String::new(),
            primary_color: DEFAULT_PRIMARY.into(),
            accent_color: DEFAULT_ACCENT.into(),
            default_locale: "en".into(),
        }
    }
    fn of(b: &Brand) -> FormValues {
        FormValues {
            name: b.name.clone(),
            slug: b.slug.clone(),
            host: b.host.clone().unwrap_or_default(),
            primary_color: b.primary_color.clone(),
            accent_color: b.accent_color.clone(),
            default_locale: b.default_locale.clone(),
        }
    }
}

pub struct Row {
    pub id: i64,
    pub name: String,
    pub slug: String,
    pub host: String,
    pub primary_color: String,
    pub accent_color: String,
    pub default_locale: String,
    pub logo_url: Option<String>,
    pub archived: bool,
    /// The first active brand: pages without a better match show it.
    pub is_default: bool,
}

#[derive(Template)]
#[template(path = "admin_brands.html")]
struct ListPage {
    nav: Nav,
    rows: Vec<Row>,
    form: FormValues,
    error: Option<String>,
    error_field: String,
}

#[derive(Template)]
#[template(path = "admin_brand.html")]
struct EditPage {
    nav: Nav,
    id: i64,
    form: FormValues,
    logo_url: Option<String>,
    logo_info: String,
    archived: bool,
    is_default: bool,
    updated: String,
    notice: Option<String>,
    error: Option<String>,
    error_field: String,
    max_kb: usize,
}

/// The message and field of a refused change, for the page.
fn explain(e: &AppError) -> (String, String) {
    match e {
        AppError::Invalid { field, message } => (message.clone(), field.clone()),
        AppError::Internal(_) | AppError::Unavailable(_) => (
            "Something went wrong on our side; it has been logged. Please try again.".into(),
            String::new(),
        ),
        e => (e.to_string(), String::new()),
    }
}

async fn list_page(
    s: &AppState,
    sess: &Session,
    form: FormValues,
    error: Option<(String, String)>,
) -> Result<Response, AppError> {
    let all = s.store.list_brands(true).await?;
    let default_id = all.iter().find(|b| b.active()).map(|b| b.id);
    let rows = all
        .into_iter()
        .map(|b| Row {
            is_default: Some(b.id) == default_id,
            logo_url: crate::brands::PageBrand::of(&b).logo_url,
            id: b.id,
            archived: b.archived_at.is_some(),
            name: b.name,
            slug: b.slug,
            host: b.host.unwrap_or_default(),
            primary_color: b.primary_color,
            accent_color: b.accent_color,
            default_locale: b.default_locale,
        })
        .collect();
    let (error, error_field) = match error {
        Some((m, f)) => (Some(m), f),
        None => (None, String::new()),
    };
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let mut r = render(&ListPage {
        nav: nav(s, sess, "/admin/brands").await?,
        rows,
        form,
        error,
        error_field,
    });
    *r.status_mut() = status;
    Ok(r)
}

/// GET /admin/brands
pub async fn page(State(s): State<AppState>, sess: Session) -> Result<Response, AppError> {
    crate::extract::require_admin_for(&sess.viewer, "manage brands")?;
    list_page(&s, &sess, FormValues::empty(), None).await
}

#[derive(Deserialize)]
pub struct BrandForm {
    csrf: String,
    name: String,
    slug: String,
    #[serde(default)]
    host: String,
    primary_color: String,
    accent_color: String,
    default_locale: String,
    /// Edit form only: "on" when the box is ticked.
    #[serde(default)]
    archived: Option<String>,
}

impl BrandForm {
    fn values(&self) -> FormValues {
        FormValues {
            name: self.name.clone(),
            slug: self.slug.clone(),
            host: self.host.clone(),
            primary_color: self.primary_color.clone(),
            accent_color: self.accent_color.clone(),
            default_locale: self.default_locale.clone(),
        }
    }
}

/// POST /admin/brands: create, then open the new brand's page.
pub async fn create(
    State(s): State<AppState>,
    sess: Session,
    Form(f): Form<BrandForm>,
) -> Result<Response, AppError> {
    crate::extract::require_admin_for(&sess.viewer, "manage brands")?;
    if !csrf_ok(&sess.token, &f.csrf) {
        return Ok(forbidden_csrf());
    }
    let values = f.values();
    let input = BrandIn {
        name: f.name,
        slug: f.slug,
        host: Some(f.host),
        primary_color: Some(f.primary_color),
        accent_color: Some(f.accent_color),
        default_locale: Some(f.default_locale),
    };
    let res = match check_new(input) {
        Ok(new) => s
            .store
            .create_brand(new, Actor::agent(sess.viewer.agent_id), s.now())
            .await
            .map_err(AppError::from),
        Err(e) => Err(e),
    };
    match res {
        Ok(b) => {
            Ok(Redirect::to(&format!("/admin/brands/{}?notice=created", b.id)).into_response())
        }
        Err(e @ (AppError::Internal(_) | AppError::Unavailable(_))) => Err(e),
        Err(e) => list_page(&s, &sess, values, Some(explain(&e))).await,
    }
}

#[derive(Deserialize)]
pub struct EditParams {
    /// A code the server put in its own redirect, mapped to fixed text (anything else shows
    /// nothing). There is no `?error=`: a refused POST re-renders the form with its message.
    notice: Option<String>,
}

async fn edit_page(
    s: &AppState,
    sess: &Session,
    b: &Brand,
    form: FormValues,
    notice: Option<String>,
    error: Option<(String, String)>,
) -> Result<Response, AppError> {
    let is_default = s
        .store
        .list_brands(false)
        .await?
        .first()
        .is_some_and(|d| d.id == b.id);
    let (error, error_field) = match error {
        Some((m, f)) => (Some(m), f),
        None => (None, String::new()),
    };
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let mut r = render(&EditPage {
        nav: nav(s, sess, "/admin/brands").await?,
        id: b.id,
        form,
        logo_url: crate::brands::PageBrand::of(b).logo_url,
        logo_info: match (&b.logo_content_type, b.logo_size) {
            (Some(ct), Some(n)) => format!("{ct}, {:.1} KB", n as f64 / 1024.0),
            _ => String::new(),
        },
        archived: b.archived_at.is_some(),
        is_default,
        updated: short_time(b.updated_at),
        notice: notice
            .map(|n| match n.as_str() {
                "created" => "The brand is created.".to_string(),
                "saved" => "Saved.".to_string(),
                "logo" => "The logo is saved.".to_string(),
                "logo-removed" => "The logo is removed.".to_string(),
                _ => String::new(),
            })
            .filter(|n| !n.is_empty()),
        error,
        error_field,
        max_kb: LOGO_MAX_BYTES / 1024,
    });
    *r.status_mut() = status;
    Ok(r)
}

/// GET /admin/brands/{id}
pub async fn edit(
    State(s): State<AppState>,
    sess: Session,
    crate::extract::Id(id): crate::extract::Id,
    Query(p): Query<EditParams>,
) -> Result<Response, AppError> {
    crate::extract::require_admin_for(&sess.viewer, "manage brands")?;
    let b = s.store.get_brand(id).await?;
    edit_page(&s, &sess, &b, FormValues::of(&b), p.notice, None).await
}

/// POST /admin/brands/{id}: save the form.
pub async fn update(
    State(s): State<AppState>,
    sess: Session,
    crate::extract::Id(id): crate::extract::Id,
    Form(f): Form<BrandForm>,
) -> Result<Response, AppError> {
    crate::extract::require_admin_for(&sess.viewer, "manage brands")?;
    if !csrf_ok(&sess.token, &f.csrf) {
        return Ok(forbidden_csrf());
    }
    let b = s.store.get_brand(id).await?;
    let values = f.values();
    let patch = BrandPatch {
        name: Some(f.name),
        slug: Some(f.slug),
        host: Some(Some(f.host)),
        primary_color: Some(f.primary_color),
        accent_color: Some(f.accent_color),
        default_locale: Some(f.default_locale),
        archived: Some(f.archived.is_some()),
    };
    let res = match check_patch(patch) {
        Ok(up) => s
            .store
            .update_brand(id, up, Actor::agent(sess.viewer.agent_id), s.now())
            .await
            .map_err(AppError::from),
        Err(e) => Err(e),
    };
    match res {
        Ok(_) => Ok(Redirect::to(&format!("/admin/brands/{id}?notice=saved")).into_response()),
        Err(e @ (AppError::Internal(_) | AppError::Unavailable(_))) => Err(e),
        Err(e) => edit_page(&s, &sess, &b, values, None, Some(explain(&e))).await,
    }
}

/// A refused logo upload: the edit page again (422) with the server's own message beside
/// the logo field, not a redirect carrying text in its URL.
async fn logo_refused(
    s: &AppState,
    sess: &Session,
    id: i64,
    e: &AppError,
) -> Result<Response, AppError> {
    let b = s.store.get_brand(id).await?;
    let (msg, _) = explain(e);
    edit_page(
        s,
        sess,
        &b,
        FormValues::of(&b),
        None,
        Some((msg, "logo".into())),
    )
    .await
}

/// POST /admin/brands/{id}/logo: a multipart form with `csrf` first, then the file `logo`.
pub async fn upload_logo(
    State(s): State<AppState>,
    sess: Session,
    crate::extract::Id(id): crate::extract::Id,
    mut form: Multipart,
) -> Result<Response, AppError> {
    crate::extract::require_admin_for(&sess.viewer, "manage brands")?;
    let mut csrf_seen = false;
    let mut file: Option<(String, Vec<u8>)> = None;
    loop {
        let field = match form.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(_) => {
                return logo_refused(
                    &s,
                    &sess,
                    id,
                    &AppError::BadRequest(
                        "The upload did not arrive whole. Please try again.".into(),
                    ),
                )
                .await
            }
        };
        match field.name() {
            Some("csrf") => {
                let v = field.text().await.unwrap_or_default();
                if !csrf_ok(&sess.token, &v) {
                    return Ok(forbidden_csrf());
                }
                csrf_seen = true;
            }
            Some("logo") if csrf_seen => {
                let ct = field.content_type().unwrap_or("").to_string();
                let mut field = field;
                let mut bytes = Vec::new();
                while let Ok(Some(chunk)) = field.chunk().await {
                    bytes.extend_from_slice(&chunk);
                    if bytes.len() > LOGO_MAX_BYTES {
                        break;
                    }
                }
                file = Some((ct, bytes));
            }
            _ => {}
        }
    }
    if !csrf_seen {
        return Ok(forbidden_csrf());
    }
    let Some((ct, bytes)) = file.filter(|(_, b)| !b.is_empty()) else {
        return logo_refused(
            &s,
            &sess,
            id,
            &AppError::invalid("logo", "choose an image file to upload"),
        )
        .await;
    };
    let logo = match check_upload(&ct, bytes) {
        Ok(l) => l,
        Err(e) => return logo_refused(&s, &sess, id, &e).await,
    };
    s.store
        .set_brand_logo(id, Some(logo), Actor::agent(sess.viewer.agent_id), s.now())
        .await?;
    Ok(Redirect::to(&format!("/admin/brands/{id}?notice=logo")).into_response())
}

#[derive(Deserialize)]
pub struct CsrfForm {
    csrf: String,
}

/// POST /admin/brands/{id}/logo/remove
pub async fn remove_logo(
    State(s): State<AppState>,
    sess: Session,
    crate::extract::Id(id): crate::extract::Id,
    Form(f): Form<CsrfForm>,
) -> Result<Response, AppError> {
    crate::extract::require_admin_for(&sess.viewer, "manage brands")?;
    if !csrf_ok(&sess.token, &f.csrf) {
        return Ok(forbidden_csrf());
    }
    s.store
        .set_brand_logo(id, None, Actor::agent(sess.viewer.agent_id), s.now())
        .await?;
    Ok(Redirect::to(&format!("/admin/brands/{id}?notice=logo-removed")).into_response())
}
