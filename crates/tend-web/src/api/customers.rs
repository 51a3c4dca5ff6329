//! Customers (with many e-mails, phones and social handles) and organizations.

use super::{double_option, PageParams};
use crate::error::{ApiResult, AppError};
use crate::extract::{Auth, Id, Json, Query};
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use tend_core::{limits, parse_language, parse_line, parse_time_zone, Email};
use tend_store::*;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateCustomer {
    name: String,
    #[serde(default)]
    emails: Vec<Email>,
    #[serde(default)]
    phones: Vec<String>,
    /// Social handles as `network:handle`, e.g. `x:@ana`.
    #[serde(default)]
    social: Vec<String>,
    organization_id: Option<i64>,
    language: Option<String>,
    time_zone: Option<String>,
    #[serde(default)]
    notes: String,
}

fn phone(raw: &str) -> ApiResult<String> {
    let p: String = raw
        .chars()
        .filter(|c| !c.is_whitespace() && !"-().".contains(*c))
        .collect();
    let digits = p.strip_prefix('+').unwrap_or(&p);
    if digits.len() < 4 || digits.len() > 20 || !digits.chars().all(|c| c.is_ascii_digit()) {
        return Err(AppError::invalid(
            "phones",
            format!(
                "'{}' is not a phone number such as +49 30 1234567",
                tend_core::truncate_for_message(raw)
            ),
        ));
    }
    Ok(p)
}

fn social(raw: &str) -> ApiResult<String> {
    let s = raw.trim();
    match s.split_once(':') {
        Some((net, handle))
            if !net.is_empty()
                && !handle.is_empty()
                && s.len() <= 200
                && net.chars().all(|c| c.is_ascii_alphanumeric())
                && !s.chars().any(char::is_whitespace) =>
        {
            Ok(format!("{}:{handle}", net.to_ascii_lowercase()))
        }
        _ => Err(AppError::invalid(
            "social",
            format!(
                "'{}' must look like network:handle, e.g. x:@ana",
                tend_core::truncate_for_message(s)
            ),
        )),
    }
}

fn identities(
    emails: Vec<Email>,
    phones: Vec<String>,
    socials: Vec<String>,
) -> ApiResult<Vec<Identity>> {
    let mut out: Vec<Identity> = emails
        .into_iter()
        .map(|e| Identity {
            kind: IdentityKind::Email,
            value: e.as_str().to_string(),
        })
        .collect();
    for p in phones {
        out.push(Identity {
            kind: IdentityKind::Phone,
            value: phone(&p)?,
        });
    }
    for s in socials {
        out.push(Identity {
            kind: IdentityKind::Social,
            value: social(&s)?,
        });
    }
    if out.len() > 50 {
        return Err(AppError::invalid(
            "emails",
            "at most 50 identities per customer",
        ));
    }
    Ok(out)
}

pub async fn create(
    State(s): State<AppState>,
    Auth(_): Auth,
    Json(b): Json<CreateCustomer>,
) -> ApiResult<(StatusCode, axum::Json<Customer>)> {
    tend_core::check_len("notes", &b.notes, limits::NOTES_MAX)?;
    let new = NewCustomer {
        name: parse_line("name", &b.name, limits::NAME_MAX)?,
        organization_id: b.organization_id,
        language: b.language.as_deref().map(parse_language).transpose()?,
        time_zone: b.time_zone.as_deref().map(parse_time_zone).transpose()?,
        notes: b.notes,
        identities: identities(b.emails, b.phones, b.social)?,
    };
    Ok((
        StatusCode::CREATED,
        axum::Json(s.store.create_customer(new, s.now()).await?),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateCustomer {
    name: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    organization_id: Option<Option<i64>>,
    #[serde(default, deserialize_with = "double_option")]
    language: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    time_zone: Option<Option<String>>,
    notes: Option<String>,
    #[serde(default)]
    add_emails: Vec<Email>,
    #[serde(default)]
    add_phones: Vec<String>,
    #[serde(default)]
    add_social: Vec<String>,
}

pub async fn update(
    State(s): State<AppState>,
    Auth(_): Auth,
    Id(id): Id,
    Json(b): Json<UpdateCustomer>,
) -> ApiResult<axum::Json<Customer>> {
    if let Some(n) = &b.notes {
        tend_core::check_len("notes", n, limits::NOTES_MAX)?;
    }
    let up = CustomerUpdate {
        name: b
            .name
            .map(|n| parse_line("name", &n, limits::NAME_MAX))
            .transpose()?,
        organization_id: b.organization_id,
        language: b
            .language
            .map(|l| l.as_deref().map(parse_language).transpose())
            .transpose()?,
        time_zone: b
            .time_zone
            .map(|l| l.as_deref().map(parse_time_zone).transpose())
            .transpose()?,
        notes: b.notes,
        add_identities: identities(b.add_emails, b.add_phones, b.add_social)?,
    };
    Ok(axum::Json(s.store.update_customer(id, up, s.now()).await?))
}

pub async fn get(
    State(s): State<AppState>,
    Auth(_): Auth,
    Id(id): Id,
) -> ApiResult<axum::Json<Customer>> {
    Ok(axum::Json(s.store.get_customer(id).await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomerListParams {
    email: Option<String>,
    phone: Option<String>,
    organization_id: Option<i64>,
    limit: Option<i64>,
    cursor: Option<String>,
}

pub async fn list(
    State(s): State<AppState>,
    Auth(_): Auth,
    Query(p): Query<CustomerListParams>,
) -> ApiResult<axum::Json<Page<Customer>>> {
    let identity = match (&p.email, &p.phone) {
        (Some(e), _) => Some(
            Email::parse(e)
                .map_err(|e| AppError::BadRequest(format!("email: {}", e.message)))?
                .as_str()
                .to_string(),
        ),
        (None, Some(ph)) => Some(phone(ph).map_err(|e| AppError::BadRequest(e.to_string()))?),
        _ => None,
    };
    let page = PageParams {
        limit: p.limit,
        cursor: p.cursor,
    }
    .page()?;
    Ok(axum::Json(
        s.store
            .list_customers(CustomerQuery {
                identity,
                organization_id: p.organization_id,
                page,
            })
            .await?,
    ))
}

pub async fn timeline(
    State(s): State<AppState>,
    Auth(v): Auth,
    Id(id): Id,
    Query(p): Query<PageParams>,
) -> ApiResult<axum::Json<Page<Event>>> {
    Ok(axum::Json(
        s.store.customer_timeline(id, &v, p.page()?).await?,
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrgIn {
    name: Option<String>,
    domains: Option<Vec<String>>,
    notes: Option<String>,
}

fn domains(raw: Vec<String>) -> ApiResult<Vec<String>> {
    let mut out = Vec::new();
    for d in raw {
        let e = Email::parse(&format!("x@{}", d.trim())).map_err(|_| {
            AppError::invalid(
                "domains",
                format!(
                    "'{}' is not a domain such as example.com",
                    tend_core::truncate_for_message(&d)
                ),
            )
        })?;
        out.push(e.domain().to_string());
    }
    out.sort();
    out.dedup();
    Ok(out)
}

pub async fn create_org(
    State(s): State<AppState>,
    Auth(_): Auth,
    Json(b): Json<OrgIn>,
) -> ApiResult<(StatusCode, axum::Json<Organization>)> {
    let name = parse_line("name", b.name.as_deref().unwrap_or(""), limits::NAME_MAX)?;
    let notes = b.notes.unwrap_or_default();
    tend_core::check_len("notes", &notes, limits::NOTES_MAX)?;
    let new = NewOrganization {
        name,
        domains: domains(b.domains.unwrap_or_default())?,
        notes,
    };
    Ok((
        StatusCode::CREATED,
        axum::Json(s.store.create_organization(new, s.now()).await?),
    ))
}

pub async fn update_org(
    State(s): State<AppState>,
    Auth(_): Auth,
    Id(id): Id,
    Json(b): Json<OrgIn>,
) -> ApiResult<axum::Json<Organization>> {
    if let Some(n) = &b.notes {
        tend_core::check_len("notes", n, limits::NOTES_MAX)?;
    }
    let up = OrganizationUpdate {
        name: b
            .name
            .map(|n| parse_line("name", &n, limits::NAME_MAX))
            .transpose()?,
        domains: b.domains.map(domains).transpose()?,
        notes: b.notes,
    };
    Ok(axum::Json(
        s.store.update_organization(id, up, s.now()).await?,
    ))
}

pub async fn get_org(
    State(s): State<AppState>,
    Auth(_): Auth,
    Id(id): Id,
) -> ApiResult<axum::Json<Organization>> {
    Ok(axum::Json(s.store.get_organization(id).await?))
}

pub async fn list_orgs(
    State(s): State<AppState>,
    Auth(_): Auth,
    Query(p): Query<PageParams>,
) -> ApiResult<axum::Json<Page<Organization>>> {
    Ok(axum::Json(s.store.list_organizations(p.page()?).await?))
}
