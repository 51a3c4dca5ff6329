//! Knowledge base: categories, sections, articles and their translations, revisions (list,
//! diff, restore), feedback and attachments.
//!
//! Who may do what: every active agent (admin, supervisor, agent) may create and edit; only
//! admins and supervisors may delete. Without a token (customers, the public) only published
//! public content is visible: a draft, archived, internal or not-yet-scheduled article answers
//! 404 exactly like a missing one. Feedback may be posted without a token (throttled per
//! client). A token that is sent must be valid, or the answer is 401.
//!
//! Bodies arrive as Markdown (`body_markdown`, converted with pulldown-cmark) or HTML
//! (`body_html`); either way the HTML is sanitized (`tend_core::html::sanitize`) before it is
//! stored. A body over [`KB_BODY_MAX`] is refused with 413.

use super::{double_option, PageParams};
use crate::error::{ApiResult, AppError};
use crate::extract::{Auth, Id, Json, Query};
use crate::AppState;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use base64::Engine;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashSet};
use tend_core::{html, parse_line, parse_tags, Actor, Viewer};
use tend_store::kb::*;
use tend_store::{NewAttachment, Page};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/kb/categories", get(list_categories).post(create_category))
        .route(
            "/kb/categories/{id}",
            get(get_category)
                .patch(update_category)
                .delete(delete_category),
        )
        .route("/kb/sections", get(list_sections).post(create_section))
        .route(
            "/kb/sections/{id}",
            get(get_section)
                .patch(update_section)
                .delete(delete_section),
        )
        .route("/kb/articles", get(list_articles).post(create_article))
        .route(
            "/kb/articles/{id}",
            get(get_article)
                .patch(update_article)
                .delete(delete_article),
        )
        .route(
            "/kb/articles/{id}/translations/{locale}",
            get(get_translation)
                .put(put_translation)
                .delete(delete_translation),
        )
        .route(
            "/kb/articles/{id}/translations/{locale}/revisions",
            get(list_revisions),
        )
        .route("/kb/articles/{id}/revisions/{rev}", get(get_revision))
        .route(
            "/kb/articles/{id}/revisions/{rev}/restore",
            post(restore_revision),
        )
        .route("/kb/articles/{id}/diff", get(diff))
        .route(
            "/kb/articles/{id}/feedback",
            get(list_feedback).post(add_feedback),
        )
        .route(
            "/kb/articles/{id}/attachments",
            get(list_attachments).post(add_attachment),
        )
        .route("/kb/attachments/{id}", get(attachment))
}

// --- who is asking ------------------------------------------------------------------------

/// The agent behind a bearer token, or nobody (the public). A token that is sent must be valid.
pub struct Reader(pub Option<Viewer>);

impl FromRequestParts<AppState> for Reader {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, s: &AppState) -> Result<Self, AppError> {
        if parts.headers.get(header::AUTHORIZATION).is_none() {
            return Ok(Reader(None));
        }
        let Auth(v) = Auth::from_request_parts(parts, s).await?;
        Ok(Reader(Some(v)))
    }
}

/// Every agent may edit the knowledge base.
fn editor(v: &Viewer) -> Actor {
    Actor::agent(v.agent_id)
}

/// Deleting is for admins and supervisors.
fn deleter(v: &Viewer) -> ApiResult<Actor> {
    crate::extract::require_supervisor(v)?;
    Ok(Actor::agent(v.agent_id))
}

/// An article id and a second path segment (a locale or a revision id); anything malformed
/// is a 404 like a missing thing.
pub struct IdAnd(pub i64, pub String);

impl<S: Send + Sync> FromRequestParts<S> for IdAnd {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        let axum::extract::Path((id, second)): axum::extract::Path<(String, String)> =
            axum::extract::Path::from_request_parts(parts, state)
                .await
                .map_err(|_| AppError::not_found("resource"))?;
        let id = id
            .parse::<i64>()
            .ok()
            .filter(|i| *i > 0)
            .ok_or_else(|| AppError::not_found("article"))?;
        Ok(IdAnd(id, second))
    }
}

fn rev_id(raw: &str) -> ApiResult<i64> {
    raw.parse::<i64>()
        .ok()
        .filter(|i| *i > 0)
        .ok_or_else(|| AppError::not_found("revision"))
}

// --- bodies ------------------------------------------------------------------------------

/// Markdown → HTML (CommonMark with tables, strikethrough, task lists), not yet sanitized.
pub fn markdown_to_html(md: &str) -> String {
    use pulldown_cmark::{Options, Parser};
    let opts = Options::ENABLE_TABLES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_TASKLISTS
        | Options::ENABLE_FOOTNOTES;
    let mut out = String::with_capacity(md.len() + md.len() / 4);
    pulldown_cmark::html::push_html(&mut out, Parser::new_ext(md, opts));
    out
}

/// A body as stored: sanitized HTML and its plain text. Exactly one of the two inputs.
pub fn render_body(markdown: Option<&str>, raw_html: Option<&str>) -> ApiResult<(String, String)> {
    let dirty = match (markdown, raw_html) {
        (Some(_), Some(_)) => {
            return Err(AppError::invalid(
                "body_markdown",
                "send body_markdown or body_html, not both",
            ))
        }
        (None, None) => {
            return Err(AppError::invalid(
                "body_markdown",
                "an article needs a body: send body_markdown or body_html",
            ))
        }
        (Some(md), None) => {
            check_body_size(md)?;
            markdown_to_html(md)
        }
        (None, Some(h)) => {
            check_body_size(h)?;
            h.to_string()
        }
    };
    let clean = html::sanitize(&dirty);
    let text = html_text(&clean);
    Ok((clean, text))
}

/// The plain text of sanitized HTML, for search and page descriptions: block elements end
/// lines, table cells are separated by spaces (so "Country" and "Standard" in two cells do
/// not run together), entities are decoded, and blank runs are folded.
pub fn html_text(html: &str) -> String {
    const BLOCKS: &[&str] = &[
        "p",
        "div",
        "br",
        "li",
        "ul",
        "ol",
        "tr",
        "table",
        "thead",
        "tbody",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "pre",
        "blockquote",
        "hr",
        "dt",
        "dd",
        "figcaption",
    ];
    let mut raw = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(start) = rest.find('<') {
        raw.push_str(&rest[..start]);
        let Some(len) = rest[start..].find('>') else {
            rest = "";
            break;
        };
        let tag = rest[start + 1..start + len].trim_start_matches('/');
        let name = tag
            .split(|c: char| c.is_whitespace() || c == '/')
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        if BLOCKS.contains(&name.as_str()) {
            raw.push('\n');
        } else if name == "td" || name == "th" {
            raw.push(' ');
        }
        rest = &rest[start + len + 1..];
    }
    raw.push_str(rest);
    let decoded = raw
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&nbsp;", " ")
        .replace("&amp;", "&");
    let mut out = String::with_capacity(decoded.len());
    for line in decoded.lines() {
        let folded = line.split_whitespace().collect::<Vec<_>>().join(" ");
        if !folded.is_empty() {
            if !out.is_empty() {
                out.push('\n');
            }
            out.push_str(&folded);
        }
    }
    out
}

fn check_body_size(body: &str) -> ApiResult<()> {
    if body.len() > KB_BODY_MAX {
        return Err(AppError::PayloadTooLarge(format!(
            "an article body may be at most {} MiB ({} bytes); this one has {} bytes: split it into several articles",
            KB_BODY_MAX / 1024 / 1024,
            KB_BODY_MAX,
            body.len()
        )));
    }
    Ok(())
}

fn locale(raw: &str) -> ApiResult<String> {
    Ok(parse_locale(raw)?)
}

fn title(raw: &str) -> ApiResult<String> {
    Ok(parse_line("title", raw, KB_TITLE_MAX)?)
}

/// A publishing time both stores can keep (PostgreSQL has no year before 4713 BC): 1970–9999.
fn publish_time(t: Option<DateTime<Utc>>) -> ApiResult<Option<DateTime<Utc>>> {
    use chrono::Datelike;
    match t {
        Some(t) if !(1970..=9999).contains(&t.year()) => Err(AppError::invalid(
            "publish_at",
            "must be a time between 1970 and 9999, e.g. 2026-12-01T09:00:00Z",
        )),
        t => Ok(t),
    }
}

/// Free text from readers or agents without control characters (newlines and tabs kept):
/// PostgreSQL refuses NUL in text, and nothing else in the C0 range belongs in a comment.
fn clean_text(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_control() || *c == '\n' || *c == '\t')
        .collect()
}

fn related(ids: Vec<i64>) -> ApiResult<Vec<i64>> {
    if ids.len() > KB_RELATED_MAX {
        return Err(AppError::invalid(
            "related_ids",
            format!("at most {KB_RELATED_MAX} related articles"),
        ));
    }
    let mut seen = HashSet::new();
    Ok(ids.into_iter().filter(|i| seen.insert(*i)).collect())
}

fn labels(raw: BTreeMap<String, KbLabel>) -> ApiResult<BTreeMap<String, KbLabel>> {
    let mut out = BTreeMap::new();
    for (k, v) in raw {
        let l = parse_locale(&k).map_err(|e| {
            AppError::invalid(
                format!("translations.{}", tend_core::truncate_for_message(&k)),
                e.message,
            )
        })?;
        let name = parse_line(&format!("translations.{l}.name"), &v.name, KB_NAME_MAX)?;
        tend_core::check_len(
            &format!("translations.{l}.description"),
            &v.description,
            KB_DESCRIPTION_MAX,
        )?;
        out.insert(
            l,
            KbLabel {
                name,
                description: clean_text(v.description.trim()),
            },
        );
    }
    Ok(out)
}

// --- what is visible to whom ---------------------------------------------------------------

/// An article the reader may see: agents see every article; the public only public ones with
/// a live translation. Everything else is the same 404 as a missing id.
async fn visible_article(s: &AppState, reader: &Reader, id: i64) -> ApiResult<KbArticleFull> {
    let full = s.store.kb_get_article(id).await?;
    if reader.0.is_none() && !full.is_public_at(s.now()) {
        return Err(AppError::not_found("article"));
    }
    Ok(full)
}

fn translation_json(h: &KbTranslationHead, now: DateTime<Utc>) -> Value {
    let mut v = serde_json::to_value(h).unwrap_or(Value::Null);
    v["effective_status"] = json!(h.effective_status(now));
    v
}

/// An article as the API shows it. The public sees only live translations and no author.
fn article_json(
    a: &KbArticle,
    bodies: Option<&[KbTranslation]>,
    now: DateTime<Utc>,
    agent: bool,
) -> Value {
    let mut v = serde_json::to_value(a).unwrap_or(Value::Null);
    if !agent {
        // The ids could name internal or unpublished articles; the help-center page shows
        // the related articles a reader may open.
        if let Some(o) = v.as_object_mut() {
            o.remove("related_ids");
        }
    }
    let translations: Vec<Value> = match bodies {
        Some(ts) => ts
            .iter()
            .filter(|t| agent || t.head.is_live(now))
            .map(|t| {
                let mut j = translation_json(&t.head, now);
                j["body_html"] = json!(t.body_html);
                if agent {
                    j["updated_by"] = json!(t.updated_by);
                }
                j
            })
            .collect(),
        None => a
            .translations
            .iter()
            .filter(|t| agent || t.is_live(now))
            .map(|t| translation_json(t, now))
            .collect(),
    };
    v["translations"] = Value::Array(translations);
    let shown: Vec<&KbTranslationHead> = a
        .translations
        .iter()
        .filter(|t| agent || t.is_live(now))
        .collect();
    if let Some(first) = shown.first() {
        let t = shown
            .iter()
            .find(|t| t.locale == a.source_locale)
            .unwrap_or(first);
        v["slug"] = json!(slugify(&t.title));
    }
    if !agent {
        if let Some(o) = v.as_object_mut() {
            o.remove("author_id");
        }
    }
    v
}

/// Sections (and so categories) the public may see: those with a live public article.
async fn public_sections(s: &AppState) -> ApiResult<HashSet<i64>> {
    Ok(s.store
        .kb_live_counts(s.now())
        .await?
        .into_iter()
        .map(|c| c.section_id)
        .collect())
}

// --- categories ----------------------------------------------------------------------------

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupIn {
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    position: i64,
    brand_id: Option<i64>,
    #[serde(default)]
    translations: BTreeMap<String, KbLabel>,
    /// Sections only.
    category_id: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupPatch {
    name: Option<String>,
    description: Option<String>,
    position: Option<i64>,
    #[serde(default, deserialize_with = "double_option")]
    brand_id: Option<Option<i64>>,
    translations: Option<BTreeMap<String, KbLabel>>,
    /// Sections only: move to another category.
    category_id: Option<i64>,
}

/// A category's (or section's) brand must be an active brand: 422 otherwise. A category with a
/// brand shows only in that brand's help center; one without shows in every help center.
async fn check_brand(s: &AppState, brand_id: Option<i64>) -> ApiResult<()> {
    let Some(id) = brand_id else { return Ok(()) };
    match s.store.get_brand(id).await {
        Ok(b) if b.active() => Ok(()),
        Ok(_) => Err(AppError::invalid(
            "brand_id",
            format!("brand {id} is archived; choose an active brand or none"),
        )),
        Err(tend_store::StoreError::NotFound(_)) => Err(AppError::invalid(
            "brand_id",
            format!("there is no brand {id}; see GET /api/v1/brands"),
        )),
        Err(e) => Err(e.into()),
    }
}

fn group_update(b: GroupPatch) -> ApiResult<KbGroupUpdate> {
    Ok(KbGroupUpdate {
        brand_id: b.brand_id,
        position: b.position,
        name: b
            .name
            .map(|n| parse_line("name", &n, KB_NAME_MAX))
            .transpose()?,
        description: b
            .description
            .map(|d| {
                tend_core::check_len("description", &d, KB_DESCRIPTION_MAX)
                    .map(|_| clean_text(d.trim()))
            })
            .transpose()?,
        translations: b.translations.map(labels).transpose()?,
        category_id: b.category_id,
    })
}

async fn list_categories(
    State(s): State<AppState>,
    reader: Reader,
) -> ApiResult<axum::Json<Value>> {
    let mut cats = s.store.kb_list_categories().await?;
    if reader.0.is_none() {
        let visible = public_sections(&s).await?;
        let sections = s.store.kb_list_sections(None).await?;
        let cats_visible: HashSet<i64> = sections
            .iter()
            .filter(|x| visible.contains(&x.id))
            .map(|x| x.category_id)
            .collect();
        cats.retain(|c| cats_visible.contains(&c.id));
    }
    Ok(axum::Json(json!({ "items": cats })))
}

async fn create_category(
    State(s): State<AppState>,
    Auth(v): Auth,
    Json(b): Json<GroupIn>,
) -> ApiResult<(StatusCode, axum::Json<KbCategory>)> {
    if b.category_id.is_some() {
        return Err(AppError::invalid(
            "category_id",
            "categories do not belong to a category",
        ));
    }
    check_brand(&s, b.brand_id).await?;
    let new = NewKbCategory {
        brand_id: b.brand_id,
        position: b.position,
        name: parse_line("name", &b.name, KB_NAME_MAX)?,
        description: {
            tend_core::check_len("description", &b.description, KB_DESCRIPTION_MAX)?;
            clean_text(b.description.trim())
        },
        translations: labels(b.translations)?,
    };
    let c = s.store.kb_create_category(new, editor(&v), s.now()).await?;
    Ok((StatusCode::CREATED, axum::Json(c)))
}

async fn get_category(
    State(s): State<AppState>,
    reader: Reader,
    Id(id): Id,
) -> ApiResult<axum::Json<KbCategory>> {
    let c = s.store.kb_get_category(id).await?;
    if reader.0.is_none() {
        let visible = public_sections(&s).await?;
        let any = s
            .store
            .kb_list_sections(Some(id))
            .await?
            .iter()
            .any(|x| visible.contains(&x.id));
        if !any {
            return Err(AppError::not_found("category"));
        }
    }
    Ok(axum::Json(c))
}

async fn update_category(
    State(s): State<AppState>,
    Auth(v): Auth,
    Id(id): Id,
    Json(b): Json<GroupPatch>,
) -> ApiResult<axum::Json<KbCategory>> {
    if b.category_id.is_some() {
        return Err(AppError::invalid(
            "category_id",
            "categories do not belong to a category",
        ));
    }
    let up = group_update(b)?;
    // 404 for a missing category before 422 for its new brand.
    s.store.kb_get_category(id).await?;
    check_brand(&s, up.brand_id.flatten()).await?;
    Ok(axum::Json(
        s.store
            .kb_update_category(id, up, editor(&v), s.now())
            .await?,
    ))
}

async fn delete_category(
    State(s): State<AppState>,
    Auth(v): Auth,
    Id(id): Id,
) -> ApiResult<StatusCode> {
    s.store
        .kb_delete_category(id, deleter(&v)?, s.now())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

// --- sections ------------------------------------------------------------------------------

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SectionParams {
    category_id: Option<i64>,
}

async fn list_sections(
    State(s): State<AppState>,
    reader: Reader,
    Query(p): Query<SectionParams>,
) -> ApiResult<axum::Json<Value>> {
    let mut secs = s.store.kb_list_sections(p.category_id).await?;
    if reader.0.is_none() {
        let visible = public_sections(&s).await?;
        secs.retain(|x| visible.contains(&x.id));
    }
    Ok(axum::Json(json!({ "items": secs })))
}

async fn create_section(
    State(s): State<AppState>,
    Auth(v): Auth,
    Json(b): Json<GroupIn>,
) -> ApiResult<(StatusCode, axum::Json<KbSection>)> {
    let category_id = b
        .category_id
        .ok_or_else(|| AppError::invalid("category_id", "a section needs a category_id"))?;
    let new = NewKbSection {
        category_id,
        brand_id: b.brand_id,
        position: b.position,
        name: parse_line("name", &b.name, KB_NAME_MAX)?,
        description: {
            tend_core::check_len("description", &b.description, KB_DESCRIPTION_MAX)?;
            clean_text(b.description.trim())
        },
        translations: labels(b.translations)?,
    };
    let x = s.store.kb_create_section(new, editor(&v), s.now()).await?;
    Ok((StatusCode::CREATED, axum::Json(x)))
}

async fn get_section(
    State(s): State<AppState>,
    reader: Reader,
    Id(id): Id,
) -> ApiResult<axum::Json<KbSection>> {
    let x = s.store.kb_get_section(id).await?;
    if reader.0.is_none() && !public_sections(&s).await?.contains(&id) {
        return Err(AppError::not_found("section"));
    }
    Ok(axum::Json(x))
}

async fn update_section(
    State(s): State<AppState>,
    Auth(v): Auth,
    Id(id): Id,
    Json(b): Json<GroupPatch>,
) -> ApiResult<axum::Json<KbSection>> {
    let up = group_update(b)?;
    Ok(axum::Json(
        s.store
            .kb_update_section(id, up, editor(&v), s.now())
            .await?,
    ))
}

async fn delete_section(
    State(s): State<AppState>,
    Auth(v): Auth,
    Id(id): Id,
) -> ApiResult<StatusCode> {
    s.store.kb_delete_section(id, deleter(&v)?, s.now()).await?;
    Ok(StatusCode::NO_CONTENT)
}

// --- articles ------------------------------------------------------------------------------

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArticleIn {
    section_id: i64,
    #[serde(default)]
    position: i64,
    brand_id: Option<i64>,
    visibility: Option<KbVisibility>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    related_ids: Vec<i64>,
    /// The source locale and the first translation's.
    #[serde(default = "en")]
    locale: String,
    title: String,
    body_markdown: Option<String>,
    body_html: Option<String>,
    status: Option<KbStatus>,
    publish_at: Option<DateTime<Utc>>,
}

fn en() -> String {
    "en".into()
}

async fn create_article(
    State(s): State<AppState>,
    Auth(v): Auth,
    Json(b): Json<ArticleIn>,
) -> ApiResult<Response> {
    let source_locale = locale(&b.locale)?;
    let title = title(&b.title)?;
    let (body_html, body_text) = render_body(b.body_markdown.as_deref(), b.body_html.as_deref())?;
    let new = NewKbArticle {
        section_id: b.section_id,
        brand_id: b.brand_id,
        position: b.position,
        visibility: b.visibility.unwrap_or(KbVisibility::Public),
        tags: parse_tags(&b.tags)?,
        related_ids: related(b.related_ids)?,
        translation: KbTranslationInput {
            title,
            body_html,
            body_text,
            status: b.status.unwrap_or(KbStatus::Draft),
            publish_at: publish_time(b.publish_at)?,
            outdated: None,
        },
        source_locale,
    };
    let now = s.now();
    let full = s.store.kb_create_article(new, editor(&v), now).await?;
    let mut resp = (
        StatusCode::CREATED,
        axum::Json(article_json(
            &full.article,
            Some(&full.translations),
            now,
            true,
        )),
    )
        .into_response();
    if let Ok(loc) = HeaderValue::from_str(&format!("/api/v1/kb/articles/{}", full.article.id)) {
        resp.headers_mut().insert(header::LOCATION, loc);
    }
    Ok(resp)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArticleListParams {
    section_id: Option<i64>,
    category_id: Option<i64>,
    brand_id: Option<i64>,
    limit: Option<i64>,
    cursor: Option<String>,
}

async fn list_articles(
    State(s): State<AppState>,
    reader: Reader,
    Query(p): Query<ArticleListParams>,
) -> ApiResult<axum::Json<Value>> {
    let page = PageParams {
        limit: p.limit,
        cursor: p.cursor,
    }
    .page()?;
    let now = s.now();
    let agent = reader.0.is_some();
    let q = KbArticleQuery {
        section_id: p.section_id,
        category_id: p.category_id,
        brand_id: p.brand_id,
        live_at: (!agent).then_some(now),
        after_id: page.after_id,
        limit: page.limit,
    };
    let Page { items, next_cursor } = s.store.kb_list_articles(q).await?;
    let items: Vec<Value> = items
        .iter()
        .map(|a| article_json(a, None, now, agent))
        .collect();
    Ok(axum::Json(
        json!({ "items": items, "next_cursor": next_cursor }),
    ))
}

async fn get_article(
    State(s): State<AppState>,
    reader: Reader,
    Id(id): Id,
) -> ApiResult<axum::Json<Value>> {
    let full = visible_article(&s, &reader, id).await?;
    Ok(axum::Json(article_json(
        &full.article,
        Some(&full.translations),
        s.now(),
        reader.0.is_some(),
    )))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArticlePatch {
    section_id: Option<i64>,
    position: Option<i64>,
    #[serde(default, deserialize_with = "double_option")]
    brand_id: Option<Option<i64>>,
    visibility: Option<KbVisibility>,
    tags: Option<Vec<String>>,
    related_ids: Option<Vec<i64>>,
    source_locale: Option<String>,
}

async fn update_article(
    State(s): State<AppState>,
    Auth(v): Auth,
    Id(id): Id,
    Json(b): Json<ArticlePatch>,
) -> ApiResult<axum::Json<Value>> {
    let up = KbArticleUpdate {
        section_id: b.section_id,
        brand_id: b.brand_id,
        position: b.position,
        source_locale: b
            .source_locale
            .map(|l| parse_locale(&l).map_err(|e| AppError::invalid("source_locale", e.message)))
            .transpose()?,
        visibility: b.visibility,
        tags: b.tags.map(|t| parse_tags(&t)).transpose()?,
        related_ids: b.related_ids.map(related).transpose()?,
    };
    let now = s.now();
    let a = s.store.kb_update_article(id, up, editor(&v), now).await?;
    Ok(axum::Json(article_json(&a, None, now, true)))
}

async fn delete_article(
    State(s): State<AppState>,
    Auth(v): Auth,
    Id(id): Id,
) -> ApiResult<StatusCode> {
    s.store.kb_delete_article(id, deleter(&v)?, s.now()).await?;
    Ok(StatusCode::NO_CONTENT)
}

// --- translations --------------------------------------------------------------------------

async fn get_translation(
    State(s): State<AppState>,
    reader: Reader,
    IdAnd(id, raw): IdAnd,
) -> ApiResult<axum::Json<Value>> {
    let loc = locale(&raw)?;
    let full = visible_article(&s, &reader, id).await?;
    let now = s.now();
    let t = full
        .translation(&loc)
        .filter(|t| reader.0.is_some() || t.head.is_live(now))
        .ok_or_else(|| AppError::not_found("translation"))?;
    let mut j = translation_json(&t.head, now);
    j["article_id"] = json!(id);
    j["body_html"] = json!(t.body_html);
    if reader.0.is_some() {
        j["updated_by"] = json!(t.updated_by);
    }
    Ok(axum::Json(j))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TranslationIn {
    title: Option<String>,
    body_markdown: Option<String>,
    body_html: Option<String>,
    status: Option<KbStatus>,
    #[serde(default, deserialize_with = "double_option")]
    publish_at: Option<Option<DateTime<Utc>>>,
    /// Mark a translation outdated (or up to date) explicitly; saving clears it otherwise.
    outdated: Option<bool>,
}

/// PUT /kb/articles/{id}/translations/{locale}: creates the translation (title and body
/// required) or saves a new version of it (omitted fields keep their values). Each save is a
/// revision.
async fn put_translation(
    State(s): State<AppState>,
    Auth(v): Auth,
    IdAnd(id, raw): IdAnd,
    Json(b): Json<TranslationIn>,
) -> ApiResult<Response> {
    let loc = locale(&raw)?;
    let full = s.store.kb_get_article(id).await?;
    let current = full.translation(&loc);
    let title = match (&b.title, current) {
        (Some(t), _) => title(t)?,
        (None, Some(c)) => c.head.title.clone(),
        (None, None) => {
            return Err(AppError::invalid(
                "title",
                "a new translation needs a title",
            ))
        }
    };
    let (body_html, body_text) = match (&b.body_markdown, &b.body_html, current) {
        (None, None, Some(c)) => (c.body_html.clone(), c.body_text.clone()),
        (md, h, _) => render_body(md.as_deref(), h.as_deref())?,
    };
    let status = b
        .status
        .or(current.map(|c| c.head.status))
        .unwrap_or(KbStatus::Draft);
    let publish_at = match b.publish_at {
        Some(p) => publish_time(p)?,
        None => current.and_then(|c| c.head.publish_at),
    };
    let input = KbTranslationInput {
        title,
        body_html,
        body_text,
        status,
        publish_at,
        outdated: b.outdated,
    };
    let created = current.is_none();
    let now = s.now();
    let t = s
        .store
        .kb_save_translation(id, &loc, input, editor(&v), now)
        .await?;
    let mut j = translation_json(&t.head, now);
    j["article_id"] = json!(id);
    j["body_html"] = json!(t.body_html);
    j["updated_by"] = json!(t.updated_by);
    let code = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((code, axum::Json(j)).into_response())
}

async fn delete_translation(
    State(s): State<AppState>,
    Auth(v): Auth,
    IdAnd(id, raw): IdAnd,
) -> ApiResult<StatusCode> {
    let loc = locale(&raw)?;
    s.store
        .kb_delete_translation(id, &loc, deleter(&v)?, s.now())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

// --- revisions -----------------------------------------------------------------------------

async fn list_revisions(
    State(s): State<AppState>,
    Auth(_): Auth,
    IdAnd(id, raw): IdAnd,
) -> ApiResult<axum::Json<Value>> {
    let loc = locale(&raw)?;
    let revs = s.store.kb_revisions(id, &loc).await?;
    Ok(axum::Json(json!({ "items": revs })))
}

async fn get_revision(
    State(s): State<AppState>,
    Auth(_): Auth,
    IdAnd(id, raw): IdAnd,
) -> ApiResult<axum::Json<KbRevision>> {
    Ok(axum::Json(s.store.kb_revision(id, rev_id(&raw)?).await?))
}

async fn restore_revision(
    State(s): State<AppState>,
    Auth(v): Auth,
    IdAnd(id, raw): IdAnd,
) -> ApiResult<axum::Json<Value>> {
    let now = s.now();
    let t = s
        .store
        .kb_restore_revision(id, rev_id(&raw)?, editor(&v), now)
        .await?;
    let mut j = translation_json(&t.head, now);
    j["article_id"] = json!(id);
    j["body_html"] = json!(t.body_html);
    Ok(axum::Json(j))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiffParams {
    from: i64,
    to: i64,
}

/// Longest a diff may compute before it settles for a coarser answer.
const DIFF_DEADLINE: std::time::Duration = std::time::Duration::from_secs(2);

/// A line diff of two revisions' bodies (unified format, 3 lines of context).
pub fn line_diff(old: &str, new: &str, old_name: &str, new_name: &str) -> (String, usize, usize) {
    let diff = similar::TextDiff::configure()
        .algorithm(similar::Algorithm::Patience)
        .timeout(DIFF_DEADLINE)
        .diff_lines(old, new);
    let (mut ins, mut del) = (0, 0);
    for c in diff.iter_all_changes() {
        match c.tag() {
            similar::ChangeTag::Insert => ins += 1,
            similar::ChangeTag::Delete => del += 1,
            similar::ChangeTag::Equal => {}
        }
    }
    let unified = diff
        .unified_diff()
        .context_radius(3)
        .header(old_name, new_name)
        .to_string();
    (unified, ins, del)
}

async fn diff(
    State(s): State<AppState>,
    Auth(_): Auth,
    Id(id): Id,
    Query(p): Query<DiffParams>,
) -> ApiResult<axum::Json<Value>> {
    let a = s.store.kb_revision(id, p.from).await?;
    let b = s.store.kb_revision(id, p.to).await?;
    if a.locale != b.locale {
        return Err(AppError::invalid(
            "to",
            format!(
                "revision {} is {} and revision {} is {}: compare revisions of one translation",
                a.id, a.locale, b.id, b.locale
            ),
        ));
    }
    let (old, new) = (
        a.body_html.clone().unwrap_or_default(),
        b.body_html.clone().unwrap_or_default(),
    );
    let (names_a, names_b) = (format!("revision {}", a.id), format!("revision {}", b.id));
    let (unified, inserted, deleted) =
        tokio::task::spawn_blocking(move || line_diff(&old, &new, &names_a, &names_b))
            .await
            .map_err(|e| AppError::Internal(format!("diff: {e}")))?;
    let head = |r: &KbRevision| {
        let mut r = r.clone();
        r.body_html = None;
        r
    };
    Ok(axum::Json(json!({
        "article_id": id,
        "locale": a.locale,
        "from": head(&a),
        "to": head(&b),
        "title": if a.title != b.title { json!({ "from": a.title, "to": b.title }) } else { Value::Null },
        "lines_inserted": inserted,
        "lines_deleted": deleted,
        "unified": unified,
    })))
}

// --- feedback ------------------------------------------------------------------------------

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedbackIn {
    locale: String,
    helpful: bool,
    #[serde(default)]
    comment: String,
}

/// Checks and stores one "was this helpful?" answer for an article the reader may see, in a
/// locale it is shown in. Shared by the API and the help center form.
pub async fn record_feedback(
    s: &AppState,
    agent: bool,
    article_id: i64,
    raw_locale: &str,
    helpful: bool,
    comment: &str,
) -> ApiResult<KbFeedback> {
    let loc = locale(raw_locale)?;
    let comment = clean_text(comment.trim());
    let comment = comment.as_str();
    if comment.chars().count() > KB_COMMENT_MAX {
        return Err(AppError::invalid(
            "comment",
            format!("may be at most {KB_COMMENT_MAX} characters"),
        ));
    }
    let full = s.store.kb_get_article(article_id).await?;
    let now = s.now();
    if !agent && !full.is_public_at(now) {
        return Err(AppError::not_found("article"));
    }
    if !full
        .translations
        .iter()
        .any(|t| t.head.locale == loc && (agent || t.head.is_live(now)))
    {
        return Err(AppError::invalid(
            "locale",
            format!("the article is not published in '{loc}'"),
        ));
    }
    Ok(s.store
        .kb_add_feedback(
            NewKbFeedback {
                article_id,
                locale: loc,
                helpful,
                comment: comment.to_string(),
            },
            now,
        )
        .await?)
}

/// The throttle for anonymous feedback: `FEEDBACK_PER_WINDOW` answers per client per
/// 15 minutes (the login limiter's window).
pub fn feedback_throttle(s: &AppState, ip: &str) -> ApiResult<()> {
    let key = format!("kb-feedback-ip:{ip}");
    let now = s.now();
    s.login_limiter.check(&[&key], now)?;
    s.login_limiter.fail(&[&key], now);
    Ok(())
}

async fn add_feedback(
    State(s): State<AppState>,
    reader: Reader,
    axum::Extension(ip): axum::Extension<crate::ClientIp>,
    Id(id): Id,
    Json(b): Json<FeedbackIn>,
) -> ApiResult<(StatusCode, axum::Json<KbFeedback>)> {
    if reader.0.is_none() {
        feedback_throttle(&s, &ip.0)?;
    }
    let f = record_feedback(&s, reader.0.is_some(), id, &b.locale, b.helpful, &b.comment).await?;
    Ok((StatusCode::CREATED, axum::Json(f)))
}

async fn list_feedback(
    State(s): State<AppState>,
    Auth(_): Auth,
    Id(id): Id,
    Query(p): Query<PageParams>,
) -> ApiResult<axum::Json<Value>> {
    let a = s.store.kb_get_article(id).await?.article;
    let Page { items, next_cursor } = s.store.kb_list_feedback(id, p.page()?).await?;
    Ok(axum::Json(json!({
        "helpful_yes": a.helpful_yes,
        "helpful_no": a.helpful_no,
        "items": items,
        "next_cursor": next_cursor,
    })))
}

// --- attachments ---------------------------------------------------------------------------

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttachmentIn {
    filename: String,
    #[serde(default = "octet")]
    content_type: String,
    data_base64: String,
}

fn octet() -> String {
    "application/octet-stream".into()
}

fn attachment_json(a: &KbAttachment) -> Value {
    let mut v = serde_json::to_value(a).unwrap_or(Value::Null);
    v["url"] = json!(format!("/api/v1/kb/attachments/{}", a.id));
    v
}

async fn add_attachment(
    State(s): State<AppState>,
    Auth(v): Auth,
    Id(id): Id,
    Json(b): Json<AttachmentIn>,
) -> ApiResult<(StatusCode, axum::Json<Value>)> {
    let filename = parse_line("filename", &b.filename, 255)?;
    if filename.contains(['/', '\\']) {
        return Err(AppError::invalid("filename", "must not contain / or \\"));
    }
    let content_type = parse_line("content_type", &b.content_type, 200)?.to_ascii_lowercase();
    let valid_type = content_type.split_once('/').is_some_and(|(t, sub)| {
        !t.is_empty()
            && !sub.is_empty()
            && content_type
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "/+-.;= ".contains(c))
    });
    if !valid_type {
        return Err(AppError::invalid(
            "content_type",
            "must be a media type such as image/png",
        ));
    }
    let data = base64::engine::general_purpose::STANDARD
        .decode(b.data_base64.trim())
        .map_err(|_| AppError::invalid("data_base64", "is not valid base64"))?;
    if data.len() > KB_ATTACHMENT_MAX {
        return Err(AppError::PayloadTooLarge(format!(
            "attachments are limited to {} MiB",
            KB_ATTACHMENT_MAX / 1024 / 1024
        )));
    }
    let a = s
        .store
        .kb_add_attachment(
            id,
            NewAttachment {
                filename,
                content_type,
                data,
            },
            editor(&v),
            s.now(),
        )
        .await?;
    Ok((StatusCode::CREATED, axum::Json(attachment_json(&a))))
}

async fn list_attachments(
    State(s): State<AppState>,
    reader: Reader,
    Id(id): Id,
) -> ApiResult<axum::Json<Value>> {
    visible_article(&s, &reader, id).await?;
    let items: Vec<Value> = s
        .store
        .kb_attachments(id)
        .await?
        .iter()
        .map(attachment_json)
        .collect();
    Ok(axum::Json(json!({ "items": items })))
}

/// Image types a browser may show inline from here; anything else downloads.
const INLINE_TYPES: &[&str] = &["image/png", "image/jpeg", "image/gif", "image/webp"];

/// The bytes of an attachment, for readers who may see its article.
pub async fn attachment_response(s: &AppState, agent: bool, id: i64) -> ApiResult<Response> {
    let (a, data) = s.store.kb_attachment(id).await?;
    if !agent {
        let full = s.store.kb_get_article(a.article_id).await?;
        if !full.is_public_at(s.now()) {
            return Err(AppError::not_found("attachment"));
        }
    }
    let safe_name: String = a
        .filename
        .chars()
        .filter(|c| c.is_ascii_graphic() && *c != '"' && *c != '\\' && *c != ';')
        .collect();
    let inline = INLINE_TYPES.contains(&a.content_type.as_str());
    let disposition = format!(
        "{}; filename=\"{}\"",
        if inline { "inline" } else { "attachment" },
        if safe_name.is_empty() {
            "file".into()
        } else {
            safe_name
        }
    );
    let mut resp = data.into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(if inline {
            &a.content_type
        } else {
            "application/octet-stream"
        })
        .unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    if let Ok(d) = HeaderValue::from_str(&disposition) {
        h.insert(header::CONTENT_DISPOSITION, d);
    }
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(if agent {
            "private, no-store"
        } else {
            "public, max-age=300"
        }),
    );
    Ok(resp)
}

async fn attachment(State(s): State<AppState>, reader: Reader, Id(id): Id) -> ApiResult<Response> {
    attachment_response(&s, reader.0.is_some(), id).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_is_converted_and_sanitized() {
        let (h, t) = render_body(
            Some("# Title\n\nSome *text* <script>alert(1)</script> [x](javascript:alert(1))\n\n<img src=x onerror=alert(1)>"),
            None,
        )
        .unwrap();
        assert!(
            h.contains("<h1>Title</h1>") && h.contains("<em>text</em>"),
            "{h}"
        );
        assert!(
            !h.contains("<script") && !h.contains("onerror") && !h.contains("javascript:"),
            "{h}"
        );
        assert!(t.contains("Title") && t.contains("text"));
        assert!(render_body(None, None).is_err());
        assert!(render_body(Some("a"), Some("b")).is_err());
        let big = "x".repeat(KB_BODY_MAX + 1);
        assert!(matches!(
            render_body(Some(&big), None),
            Err(AppError::PayloadTooLarge(_))
        ));
    }

    #[test]
    fn text_keeps_words_apart() {
        let (h, t) = render_body(
            Some("# Times\n\n| Country | Days |\n|---|---|\n| DE | 1 &amp; 2 |\n\nSee **this** <br> and `a<b`."),
            None,
        )
        .unwrap();
        assert!(h.contains("<table>"), "{h}");
        assert_eq!(t, "Times\nCountry Days\nDE 1 & 2\nSee this\nand a<b.");
    }

    #[test]
    fn diffs_count_lines() {
        let (u, ins, del) = line_diff("a\nb\nc\n", "a\nB\nc\nd\n", "r1", "r2");
        assert_eq!((ins, del), (2, 1));
        assert!(
            u.contains("-b") && u.contains("+B") && u.contains("+d"),
            "{u}"
        );
    }
}
