//! The public help center: server-rendered pages of the knowledge base for everyone (no
//! sign-in), in the languages that have published content.
//!
//! Only public articles with a translation live now are shown (`KbArticleFull::is_public_at`);
//! anything else answers the same 404 page as a missing id. Article bodies were sanitized when
//! they were stored; everything else is escaped by askama. Pages carry the same strict
//! Content-Security-Policy as the rest of Tend (no script at all here) and work without one.
//!
//! URLs: `/help` (redirects by Accept-Language), `/help/{lang}`,
//! `/help/{lang}/categories/{id}`, `/help/{lang}/articles/{id}-{slug}`,
//! `/help/{lang}/search?q=`, `/help/sitemap.xml`. The feedback form posts to
//! `/help/{lang}/articles/{id}/feedback`: a public form with no session to ride on, so it is
//! protected by a same-origin check (Origin / Sec-Fetch-Site), a honeypot field and the
//! per-client throttle the contact form uses.

pub mod deflect;
mod strings;

use crate::api::kb::{feedback_throttle, record_feedback};
use crate::ui::render;
use crate::{AppError, AppState};
use askama::Template;
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use std::collections::{BTreeSet, HashSet};
use strings::{ui, Ui};
use tend_store::kb::*;

/// Most URLs in the sitemap (the protocol's limit per file).
const SITEMAP_MAX: usize = 50_000;
/// Longest meta description, in characters.
const DESCRIPTION_MAX: usize = 160;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/help", get(pick_language))
        .route("/help/", get(pick_language))
        .route("/help/sitemap.xml", get(sitemap))
        .route("/help/assets/help.css", get(style))
        .route("/help/{lang}", get(home))
        .route("/help/{lang}/categories/{id}", get(category))
        .route("/help/{lang}/articles/{article}", get(article))
        .route("/help/{lang}/articles/{id}/feedback", post(feedback))
        .route("/help/{lang}/search", get(search))
        .layer(axum::middleware::from_fn(security_headers))
}

/// No script, styles from here, images from here (article attachments), forms to here.
async fn security_headers(req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    crate::ui::page_headers(
        h,
        "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        "strict-origin-when-cross-origin",
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    }
    resp
}

async fn style() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../../assets/help.css"),
    )
        .into_response()
}

// --- search (wired by the search work of issue 6) -----------------------------------------

/// One search result.
#[derive(Debug, Clone)]
pub struct SearchHit {
    pub article_id: i64,
    pub locale: String,
    pub title: String,
    /// HTML from the search engine: escaped text with `<mark>` around the hits.
    pub snippet: String,
}

/// Which categories one brand's help center shows (issue 4): those without a brand and the
/// brand's own ([`KbCategory::shown_on`]). Pages, search, suggestions and the sitemap of a
/// brand leave out the rest, articles included.
#[derive(Debug, Clone, Default)]
pub struct BrandScope {
    hidden_categories: HashSet<i64>,
    hidden_sections: HashSet<i64>,
}

impl BrandScope {
    /// The scope of `brand` (`None`: a request without a brand sees unbranded categories).
    pub async fn load(
        store: &dyn tend_store::Store,
        brand: Option<i64>,
    ) -> Result<BrandScope, tend_store::StoreError> {
        let hidden_categories: HashSet<i64> = store
            .kb_list_categories()
            .await?
            .iter()
            .filter(|c| !c.shown_on(brand))
            .map(|c| c.id)
            .collect();
        let hidden_sections = if hidden_categories.is_empty() {
            HashSet::new()
        } else {
            store
                .kb_list_sections(None)
                .await?
                .iter()
                .filter(|x| hidden_categories.contains(&x.category_id))
                .map(|x| x.id)
                .collect()
        };
        Ok(BrandScope {
            hidden_categories,
            hidden_sections,
        })
    }
    /// The scope of the brand of the page being served (crate::brands).
    pub async fn of_page(s: &AppState) -> Result<BrandScope, tend_store::StoreError> {
        BrandScope::load(&*s.store, crate::brands::current_id()).await
    }
    /// No restriction (agents' views).
    pub fn everything() -> BrandScope {
        BrandScope::default()
    }
    pub fn shows_category(&self, id: i64) -> bool {
        !self.hidden_categories.contains(&id)
    }
    pub fn shows_section(&self, id: i64) -> bool {
        !self.hidden_sections.contains(&id)
    }
}

/// The article hits whose translation is live now in the store (and public, with
/// `public_only`), one per article, in the engine's order. The index lags the store by up to
/// a second and holds scheduled translations before their time, so every reader-facing
/// article search passes through here.
pub(crate) async fn live_hits(
    s: &AppState,
    hits: Vec<tend_search::SearchHit>,
    public_only: bool,
) -> Vec<tend_search::SearchHit> {
    live_hits_in(s, hits, public_only, &BrandScope::everything()).await
}

/// [`live_hits`] within a brand's categories.
pub(crate) async fn live_hits_in(
    s: &AppState,
    hits: Vec<tend_search::SearchHit>,
    public_only: bool,
    scope: &BrandScope,
) -> Vec<tend_search::SearchHit> {
    let now = s.now();
    let mut out: Vec<tend_search::SearchHit> = Vec::new();
    for h in hits {
        let Some(locale) = h.locale.as_deref() else {
            continue;
        };
        let Ok(Some(full)) = s.store.kb_article_for_index(h.id).await else {
            continue;
        };
        let visible = (!public_only
            || full.article.visibility == tend_store::kb::KbVisibility::Public)
            && scope.shows_category(full.article.category_id);
        // The index keeps locales lowercased ("de-ch"); the store as written ("de-CH").
        let Some(t) = full
            .translations
            .iter()
            .find(|t| t.head.locale.eq_ignore_ascii_case(locale))
        else {
            continue;
        };
        if visible && t.head.is_live(now) && !out.iter().any(|x| x.id == h.id) {
            let locale = t.head.locale.clone();
            out.push(tend_search::SearchHit {
                locale: Some(locale),
                ..h
            });
        }
    }
    out
}

/// Whether a decoded path segment may go back into a redirect's `Location` as it is (ids and
/// slugs are letters, digits and `-`; anything else names no page).
fn path_safe(seg: &str) -> bool {
    !seg.is_empty()
        && seg.len() <= 300
        && seg
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// What a help-center search gives.
#[derive(Debug, Clone)]
pub enum SearchOutcome {
    /// Search cannot answer; the message is shown to the reader.
    Unavailable(String),
    Hits(Vec<SearchHit>),
}

/// Searches the published public articles in `locale` for `query`.
///
/// Searches the help-center index (public articles; this language first, then any), and
/// keeps only the hits live now in the store (the index may lag a second, and scheduled
/// translations are indexed before their time: [`tend_search::feed::article_docs`]).
pub async fn search_articles(
    s: &AppState,
    scope: &BrandScope,
    locale: &str,
    query: &str,
) -> SearchOutcome {
    let Some(search) = s.search.clone() else {
        return SearchOutcome::Unavailable(
            "Search is switched off on this server. Please browse the categories instead.".into(),
        );
    };
    let q = tend_search::KbQuery {
        public_only: true,
        published_only: true,
        limit: 20,
        ..tend_search::KbQuery::new(query)
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
            tracing::warn!(error = %e, "help-center search failed");
            return SearchOutcome::Unavailable(
                "Search is not available right now. Please browse the categories instead.".into(),
            );
        }
        Err(_) => {
            return SearchOutcome::Unavailable(
                "Search is not available right now. Please browse the categories instead.".into(),
            )
        }
    };
    let out = live_hits_in(s, hits, true, scope)
        .await
        .into_iter()
        .take(10)
        .filter_map(|h| {
            Some(SearchHit {
                article_id: h.id,
                locale: h.locale?,
                title: h.title,
                snippet: h.snippet,
            })
        })
        .collect();
    SearchOutcome::Hits(out)
}

// --- languages ----------------------------------------------------------------------------

/// A language's own name for the switcher; the tag itself when we do not know it.
pub fn language_name(locale: &str) -> String {
    let name = match locale {
        "pt-BR" => "Português (Brasil)",
        "pt-PT" => "Português (Portugal)",
        "zh-Hans" | "zh-CN" => "简体中文",
        "zh-Hant" | "zh-TW" => "繁體中文",
        "en-GB" => "English (UK)",
        "en-US" => "English (US)",
        "de-CH" => "Deutsch (Schweiz)",
        "de-AT" => "Deutsch (Österreich)",
        "fr-CA" => "Français (Canada)",
        "es-419" => "Español (Latinoamérica)",
        _ => match primary_language(locale) {
            "en" => "English",
            "de" => "Deutsch",
            "fr" => "Français",
            "es" => "Español",
            "it" => "Italiano",
            "nl" => "Nederlands",
            "pt" => "Português",
            "pl" => "Polski",
            "sv" => "Svenska",
            "da" => "Dansk",
            "nb" | "no" => "Norsk",
            "fi" => "Suomi",
            "cs" => "Čeština",
            "tr" => "Türkçe",
            "ru" => "Русский",
            "uk" => "Українська",
            "ja" => "日本語",
            "ko" => "한국어",
            "zh" => "中文",
            "ar" => "العربية",
            "he" => "עברית",
            _ => return locale.to_string(),
        },
    };
    name.to_string()
}

/// The best of `available` for an Accept-Language header ([`crate::i18n::negotiate`]: by
/// q-value, an exact tag first, then the same primary language; `en` or the first available
/// language when nothing matches).
pub fn best_language(accept: Option<&str>, available: &BTreeSet<String>) -> String {
    let available: Vec<&str> = available.iter().map(String::as_str).collect();
    crate::i18n::negotiate(crate::i18n::Wishes::accept(accept), &available)
}

/// The translation to show for `lang` among the live ones: exact, same primary language,
/// the source locale, then any.
fn pick<'a>(
    live: &[&'a KbTranslationHead],
    lang: &str,
    source: &str,
) -> Option<&'a KbTranslationHead> {
    live.iter()
        .find(|t| t.locale == lang)
        .or_else(|| live.iter().find(|t| t.locale == primary_language(lang)))
        .or_else(|| {
            live.iter()
                .find(|t| primary_language(&t.locale) == primary_language(lang))
        })
        .or_else(|| live.iter().find(|t| t.locale == source))
        .or_else(|| live.first())
        .copied()
}

pub(crate) fn article_path(lang: &str, id: i64, title: &str) -> String {
    format!("/help/{lang}/articles/{id}-{}", slugify(title))
}

fn base_url(s: &AppState) -> String {
    s.mail.base_url.trim_end_matches('/').to_string()
}

/// A meta description: the body's text, whitespace folded, cut at a word.
fn describe(text: &str) -> String {
    let folded: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if folded.chars().count() <= DESCRIPTION_MAX {
        return folded;
    }
    let cut: String = folded.chars().take(DESCRIPTION_MAX - 1).collect();
    let cut = match cut.rfind(' ') {
        Some(i) if i > DESCRIPTION_MAX / 2 => cut[..i].to_string(),
        _ => cut,
    };
    format!("{cut}…")
}

// --- page chrome --------------------------------------------------------------------------

pub struct LangLink {
    pub code: String,
    pub name: String,
    pub href: String,
    pub current: bool,
}

pub struct Link {
    pub href: String,
    pub label: String,
}

/// What every help-center page shows around its content.
pub struct Chrome {
    /// The language of the page's content (`<html lang>`).
    pub lang: String,
    /// The language of the URL (where links and the search go).
    pub url_lang: String,
    /// The help center's own words, in the URL's language (or English).
    pub ui: &'static Ui,
    /// Where Tend is reachable (for canonical URLs).
    pub base: String,
    pub brand: String,
    pub languages: Vec<LangLink>,
    pub crumbs: Vec<Link>,
}

/// The help center's state for one request: what is live, in which languages.
struct Live {
    now: DateTime<Utc>,
    /// Only sections in categories the page's brand shows.
    counts: Vec<KbLiveCount>,
    scope: BrandScope,
}

impl Live {
    async fn load(s: &AppState) -> Result<Live, AppError> {
        let now = s.now();
        let scope = BrandScope::of_page(s).await?;
        let mut counts = s.store.kb_live_counts(now).await?;
        counts.retain(|c| scope.shows_section(c.section_id));
        Ok(Live { now, counts, scope })
    }
    fn languages(&self) -> BTreeSet<String> {
        self.counts.iter().map(|c| c.locale.clone()).collect()
    }
    fn sections(&self) -> HashSet<i64> {
        self.counts.iter().map(|c| c.section_id).collect()
    }
}

fn chrome(
    s: &AppState,
    lang: &str,
    langs: &BTreeSet<String>,
    href_for: impl Fn(&str) -> String,
) -> Chrome {
    let ui = ui(lang);
    Chrome {
        lang: lang.to_string(),
        url_lang: lang.to_string(),
        ui,
        base: base_url(s),
        brand: ui.brand.into(),
        languages: langs
            .iter()
            .map(|l| LangLink {
                code: l.clone(),
                name: language_name(l),
                href: href_for(l),
                current: l == lang,
            })
            .collect(),
        crumbs: vec![],
    }
}

/// A language segment from the URL: valid and in its normal form, or a redirect to it, or 404.
enum LangSeg {
    Ok(String),
    Redirect(String),
    Invalid,
}

fn lang_segment(raw: &str) -> LangSeg {
    match parse_locale(raw) {
        Ok(l) if l == raw => LangSeg::Ok(l),
        Ok(l) => LangSeg::Redirect(l),
        Err(_) => LangSeg::Invalid,
    }
}

const DEFAULT_LANG: &str = "en";

#[derive(Template)]
#[template(path = "help_message.html")]
struct MessagePage {
    c: Chrome,
    heading: String,
    text: String,
}

fn not_found_page(s: &AppState, lang: &str) -> Response {
    let mut c = chrome(s, lang, &BTreeSet::new(), |l| format!("/help/{l}"));
    c.crumbs = home_crumb(&c);
    let mut r = render(&MessagePage {
        heading: c.ui.not_found_heading.into(),
        text: c.ui.not_found_text.into(),
        c,
    });
    *r.status_mut() = StatusCode::NOT_FOUND;
    r
}

fn home_crumb(c: &Chrome) -> Vec<Link> {
    vec![Link {
        href: format!("/help/{}", c.url_lang),
        label: c.brand.clone(),
    }]
}

/// Pages answer a missing or hidden thing with the HTML 404 page; other failures as usual.
fn page_error(s: &AppState, lang: &str, e: AppError) -> Response {
    match e {
        AppError::NotFound(_) => not_found_page(s, lang),
        e => e.into_response(),
    }
}

// --- /help ----------------------------------------------------------------------------------

async fn pick_language(State(s): State<AppState>, headers: HeaderMap) -> Response {
    let live = match Live::load(&s).await {
        Ok(l) => l,
        Err(e) => return e.into_response(),
    };
    let accept = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok());
    // Then the brand's default language (crate::i18n).
    let brand_default = crate::brands::current().map(|b| b.default_locale);
    let available: Vec<String> = live.languages().into_iter().collect();
    let lang = crate::i18n::negotiate(
        crate::i18n::Wishes {
            customer: None,
            accept,
            brand_default: brand_default.as_deref(),
        },
        &available,
    );
    let mut r = Redirect::to(&format!("/help/{lang}")).into_response();
    r.headers_mut()
        .insert(header::VARY, HeaderValue::from_static("Accept-Language"));
    r
}

// --- /help/{lang} ---------------------------------------------------------------------------

pub struct SectionCard {
    pub id: i64,
    pub name: String,
    pub href: String,
}

pub struct CategoryCard {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub href: String,
    pub sections: Vec<SectionCard>,
}

#[derive(Template)]
#[template(path = "help_home.html")]
struct HomePage {
    c: Chrome,
    categories: Vec<CategoryCard>,
}

async fn home(State(s): State<AppState>, Path(raw): Path<String>) -> Response {
    let lang = match lang_segment(&raw) {
        LangSeg::Ok(l) => l,
        LangSeg::Redirect(l) => return Redirect::permanent(&format!("/help/{l}")).into_response(),
        LangSeg::Invalid => return not_found_page(&s, DEFAULT_LANG),
    };
    match home_page(&s, &lang).await {
        Ok(r) => r,
        Err(e) => page_error(&s, &lang, e),
    }
}

async fn home_page(s: &AppState, lang: &str) -> Result<Response, AppError> {
    let live = Live::load(s).await?;
    let visible = live.sections();
    let sections = s.store.kb_list_sections(None).await?;
    let categories = s
        .store
        .kb_list_categories()
        .await?
        .into_iter()
        .filter_map(|cat| {
            let secs: Vec<SectionCard> = sections
                .iter()
                .filter(|x| x.category_id == cat.id && visible.contains(&x.id))
                .map(|x| SectionCard {
                    id: x.id,
                    name: x.label(lang).0.to_string(),
                    href: format!("/help/{lang}/categories/{}#section-{}", cat.id, x.id),
                })
                .collect();
            if secs.is_empty() {
                return None;
            }
            let (name, description) = cat.label(lang);
            Some(CategoryCard {
                id: cat.id,
                name: name.to_string(),
                description: description.to_string(),
                href: format!("/help/{lang}/categories/{}", cat.id),
                sections: secs,
            })
        })
        .collect();
    let c = chrome(s, lang, &live.languages(), |l| format!("/help/{l}"));
    Ok(render(&HomePage { c, categories }))
}

// --- /help/{lang}/categories/{id} --------------------------------------------------------------

pub struct ArticleLink {
    pub href: String,
    pub title: String,
    /// The language shown when it is not the page's.
    pub other_lang: Option<String>,
    pub other_lang_name: String,
}

pub struct SectionBlock {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub articles: Vec<ArticleLink>,
}

#[derive(Template)]
#[template(path = "help_category.html")]
struct CategoryPage {
    c: Chrome,
    id: i64,
    name: String,
    description: String,
    sections: Vec<SectionBlock>,
}

async fn category(State(s): State<AppState>, Path((raw, id)): Path<(String, String)>) -> Response {
    let lang = match lang_segment(&raw) {
        LangSeg::Ok(l) => l,
        LangSeg::Redirect(l) => {
            if !path_safe(&id) {
                return not_found_page(&s, &l);
            }
            return Redirect::permanent(&format!("/help/{l}/categories/{id}")).into_response();
        }
        LangSeg::Invalid => return not_found_page(&s, DEFAULT_LANG),
    };
    let Some(id) = id.parse::<i64>().ok().filter(|i| *i > 0) else {
        return not_found_page(&s, &lang);
    };
    match category_page(&s, &lang, id).await {
        Ok(r) => r,
        Err(e) => page_error(&s, &lang, e),
    }
}

/// The live public articles of a section, by position, as links in `lang`.
async fn section_articles(
    s: &AppState,
    lang: &str,
    section_id: i64,
    now: DateTime<Utc>,
) -> Result<Vec<ArticleLink>, AppError> {
    let mut arts = s
        .store
        .kb_list_articles(KbArticleQuery {
            section_id: Some(section_id),
            live_at: Some(now),
            limit: 1000,
            ..Default::default()
        })
        .await?
        .items;
    arts.sort_by_key(|a| (a.position, a.id));
    Ok(arts
        .iter()
        .filter_map(|a| {
            let live: Vec<&KbTranslationHead> = a.translations.iter().collect();
            let t = pick(&live, lang, &a.source_locale)?;
            let other = (t.locale != lang).then(|| t.locale.clone());
            Some(ArticleLink {
                href: article_path(lang, a.id, &t.title),
                title: t.title.clone(),
                other_lang_name: other.as_deref().map(language_name).unwrap_or_default(),
                other_lang: other,
            })
        })
        .collect())
}

async fn category_page(s: &AppState, lang: &str, id: i64) -> Result<Response, AppError> {
    let live = Live::load(s).await?;
    let visible = live.sections();
    let cat = s.store.kb_get_category(id).await?;
    let mut sections = Vec::new();
    for x in s.store.kb_list_sections(Some(id)).await? {
        if !visible.contains(&x.id) {
            continue;
        }
        let articles = section_articles(s, lang, x.id, live.now).await?;
        if articles.is_empty() {
            continue;
        }
        let (name, description) = x.label(lang);
        sections.push(SectionBlock {
            id: x.id,
            name: name.to_string(),
            description: description.to_string(),
            articles,
        });
    }
    if sections.is_empty() {
        return Err(AppError::not_found("category"));
    }
    let (name, description) = cat.label(lang);
    let mut c = chrome(s, lang, &live.languages(), |l| {
        format!("/help/{l}/categories/{id}")
    });
    c.crumbs = home_crumb(&c);
    c.crumbs.extend([Link {
        href: format!("/help/{lang}/categories/{id}"),
        label: name.to_string(),
    }]);
    Ok(render(&CategoryPage {
        c,
        id,
        name: name.to_string(),
        description: description.to_string(),
        sections,
    }))
}

// --- /help/{lang}/articles/{id}-{slug} --------------------------------------------------------

pub struct Alternate {
    pub hreflang: String,
    pub href: String,
}

pub struct FeedbackBox {
    pub action: String,
    pub locale: String,
    pub thanks: bool,
    pub error: Option<String>,
}

#[derive(Template)]
#[template(path = "help_article.html")]
struct ArticlePage {
    c: Chrome,
    title: String,
    description: String,
    canonical: String,
    alternates: Vec<Alternate>,
    note: Option<String>,
    body: String,
    updated: String,
    updated_iso: String,
    related: Vec<ArticleLink>,
    files: Vec<Link>,
    feedback: FeedbackBox,
}

#[derive(Deserialize)]
struct ArticleParams {
    feedback: Option<String>,
    /// `search`: opened from a help-center search result (counted as a click).
    from: Option<String>,
}

async fn article(
    State(s): State<AppState>,
    Path((raw, seg)): Path<(String, String)>,
    Query(p): Query<ArticleParams>,
) -> Response {
    let lang = match lang_segment(&raw) {
        LangSeg::Ok(l) => l,
        LangSeg::Redirect(l) => {
            if !path_safe(&seg) {
                return not_found_page(&s, &l);
            }
            return Redirect::permanent(&format!("/help/{l}/articles/{seg}")).into_response();
        }
        LangSeg::Invalid => return not_found_page(&s, DEFAULT_LANG),
    };
    let digits: String = seg.chars().take_while(|c| c.is_ascii_digit()).collect();
    let rest = &seg[digits.len()..];
    let Some(id) = digits.parse::<i64>().ok().filter(|i| *i > 0) else {
        return not_found_page(&s, &lang);
    };
    if !(rest.is_empty() || rest.starts_with('-')) {
        return not_found_page(&s, &lang);
    }
    match article_page(&s, &lang, id, &seg, p.feedback.as_deref()).await {
        Ok(r) => {
            if r.status() == StatusCode::OK {
                track_view(&s, id, p.from.as_deref() == Some("search")).await;
            }
            r
        }
        Err(e) => page_error(&s, &lang, e),
    }
}

async fn article_page(
    s: &AppState,
    lang: &str,
    id: i64,
    seg: &str,
    feedback: Option<&str>,
) -> Result<Response, AppError> {
    let live = Live::load(s).await?;
    let now = live.now;
    let full = s.store.kb_get_article(id).await?;
    if !full.is_public_at(now) || !live.scope.shows_category(full.article.category_id) {
        return Err(AppError::not_found("article"));
    }
    let a = &full.article;
    let heads: Vec<&KbTranslationHead> = full
        .translations
        .iter()
        .map(|t| &t.head)
        .filter(|h| h.is_live(now))
        .collect();
    let shown =
        pick(&heads, lang, &a.source_locale).ok_or_else(|| AppError::not_found("article"))?;
    let t = full
        .translation(&shown.locale)
        .ok_or_else(|| AppError::not_found("article"))?;
    // One address per article and language: a wrong or missing slug redirects to it.
    let here = article_path(lang, id, &t.head.title);
    if format!("/help/{lang}/articles/{seg}") != here {
        let to = match feedback {
            Some(f @ ("thanks" | "busy" | "invalid")) => format!("{here}?feedback={f}"),
            _ => here,
        };
        return Ok(Redirect::to(&to).into_response());
    }
    let base = base_url(s);
    let mut alternates: Vec<Alternate> = heads
        .iter()
        .map(|h| Alternate {
            hreflang: h.locale.clone(),
            href: format!("{base}{}", article_path(&h.locale, id, &h.title)),
        })
        .collect();
    if let Some(src) = heads.iter().find(|h| h.locale == a.source_locale) {
        alternates.push(Alternate {
            hreflang: "x-default".into(),
            href: format!("{base}{}", article_path(&src.locale, id, &src.title)),
        });
    }
    let canonical = format!("{base}{}", article_path(&t.head.locale, id, &t.head.title));
    let words = ui(lang);
    let note = (t.head.locale != lang).then(|| {
        words
            .not_available
            .replace("{lang}", &language_name(lang))
            .replace("{shown}", &language_name(&t.head.locale))
    });
    // Related articles the public may see, titled in this language.
    let mut related = Vec::new();
    for rid in a.related_ids.iter().take(KB_RELATED_MAX) {
        let Ok(r) = s.store.kb_get_article(*rid).await else {
            continue;
        };
        if !r.is_public_at(now) || !live.scope.shows_category(r.article.category_id) {
            continue;
        }
        let rl: Vec<&KbTranslationHead> = r
            .translations
            .iter()
            .map(|t| &t.head)
            .filter(|h| h.is_live(now))
            .collect();
        if let Some(rt) = pick(&rl, lang, &r.article.source_locale) {
            let other = (rt.locale != lang).then(|| rt.locale.clone());
            related.push(ArticleLink {
                href: article_path(lang, *rid, &rt.title),
                title: rt.title.clone(),
                other_lang_name: other.as_deref().map(language_name).unwrap_or_default(),
                other_lang: other,
            });
        }
    }
    let files = s
        .store
        .kb_attachments(id)
        .await?
        .into_iter()
        .map(|f| Link {
            href: format!("/api/v1/kb/attachments/{}", f.id),
            label: f.filename,
        })
        .collect();
    let mut c = chrome(s, lang, &live.languages(), |l| format!("/help/{l}"));
    c.lang = t.head.locale.clone();
    // The switcher offers this article's other translations.
    c.languages = heads
        .iter()
        .map(|h| LangLink {
            code: h.locale.clone(),
            name: language_name(&h.locale),
            href: article_path(&h.locale, id, &h.title),
            current: h.locale == lang,
        })
        .collect();
    let cat = s.store.kb_get_category(a.category_id).await?;
    let sec = s.store.kb_get_section(a.section_id).await?;
    c.crumbs = home_crumb(&c);
    c.crumbs.extend([
        Link {
            href: format!("/help/{lang}/categories/{}", cat.id),
            label: cat.label(lang).0.to_string(),
        },
        Link {
            href: format!("/help/{lang}/categories/{}#section-{}", cat.id, sec.id),
            label: sec.label(lang).0.to_string(),
        },
    ]);
    let error = match feedback {
        Some("busy") => Some(words.busy.to_string()),
        Some("invalid") => Some(words.invalid.to_string()),
        _ => None,
    };
    if let Err(e) = s.store.kb_record_view(id).await {
        tracing::warn!(error = %e, article = id, "could not count a view");
    }
    Ok(render(&ArticlePage {
        title: t.head.title.clone(),
        description: describe(&t.body_text),
        canonical,
        alternates,
        note,
        body: t.body_html.clone(),
        updated: t.head.updated_at.format("%Y-%m-%d").to_string(),
        updated_iso: t.head.updated_at.to_rfc3339(),
        related,
        files,
        feedback: FeedbackBox {
            action: format!("/help/{lang}/articles/{id}/feedback"),
            locale: t.head.locale.clone(),
            thanks: feedback == Some("thanks"),
            error,
        },
        c,
    }))
}

// --- feedback ---------------------------------------------------------------------------------

#[derive(Deserialize)]
struct FeedbackForm {
    #[serde(default)]
    helpful: String,
    #[serde(default)]
    comment: String,
    #[serde(default)]
    locale: String,
    /// Honeypot: hidden from people; bots fill it in.
    #[serde(default)]
    website: String,
}

/// A form post from another site (by Origin or Sec-Fetch-Site) is refused: the form has no
/// session to protect, but nobody else's page should post answers in a reader's name.
fn cross_site(h: &HeaderMap) -> bool {
    if h.get("sec-fetch-site").and_then(|v| v.to_str().ok()) == Some("cross-site") {
        return true;
    }
    let host = h.get(header::HOST).and_then(|v| v.to_str().ok());
    match (h.get(header::ORIGIN).and_then(|v| v.to_str().ok()), host) {
        (Some("null"), _) => true,
        (Some(origin), Some(host)) => {
            let o = origin
                .split_once("://")
                .map(|(_, rest)| rest)
                .unwrap_or(origin);
            !o.eq_ignore_ascii_case(host)
        }
        _ => false,
    }
}

async fn feedback(
    State(s): State<AppState>,
    axum::Extension(ip): axum::Extension<crate::ClientIp>,
    headers: HeaderMap,
    Path((raw, id)): Path<(String, String)>,
    Form(f): Form<FeedbackForm>,
) -> Response {
    let Ok(lang) = parse_locale(&raw) else {
        return not_found_page(&s, DEFAULT_LANG);
    };
    let Some(id) = id.parse::<i64>().ok().filter(|i| *i > 0) else {
        return not_found_page(&s, &lang);
    };
    if cross_site(&headers) {
        return crate::ui::forbidden_csrf();
    }
    let back = |outcome: &str| {
        Redirect::to(&format!(
            "/help/{lang}/articles/{id}?feedback={outcome}#feedback"
        ))
        .into_response()
    };
    if !f.website.is_empty() {
        tracing::info!("help center feedback honeypot filled; dropped");
        return back("thanks");
    }
    let helpful = match f.helpful.as_str() {
        "yes" => true,
        "no" => false,
        _ => return back("invalid"),
    };
    if feedback_throttle(&s, &ip.0).is_err() {
        return back("busy");
    }
    match record_feedback(&s, false, id, &f.locale, helpful, &f.comment).await {
        Ok(_) => back("thanks"),
        Err(AppError::NotFound(_)) => not_found_page(&s, &lang),
        Err(AppError::Invalid { .. }) => back("invalid"),
        Err(e) => e.into_response(),
    }
}

// --- search -----------------------------------------------------------------------------------

#[derive(Deserialize)]
struct SearchParams {
    q: Option<String>,
}

#[derive(Template)]
#[template(path = "help_search.html")]
struct SearchPage {
    c: Chrome,
    q: String,
    message: Option<String>,
    hits: Vec<(ArticleLink, String)>,
    searched: bool,
}

async fn search(
    State(s): State<AppState>,
    Path(raw): Path<String>,
    Query(p): Query<SearchParams>,
) -> Response {
    let lang = match lang_segment(&raw) {
        LangSeg::Ok(l) => l,
        LangSeg::Redirect(l) => {
            return Redirect::permanent(&format!("/help/{l}/search")).into_response()
        }
        LangSeg::Invalid => return not_found_page(&s, DEFAULT_LANG),
    };
    let q: String = p.q.unwrap_or_default().trim().chars().take(200).collect();
    let live = match Live::load(&s).await {
        Ok(l) => l,
        Err(e) => return e.into_response(),
    };
    let (message, hits) = if q.is_empty() {
        (None, vec![])
    } else {
        match search_articles(&s, &live.scope, &lang, &q).await {
            SearchOutcome::Unavailable(m) => (Some(m), vec![]),
            SearchOutcome::Hits(h) => {
                track_search(&s, &q, h.len()).await;
                let hits: Vec<(ArticleLink, String)> = h
                    .into_iter()
                    .map(|h| {
                        let other = (h.locale != lang).then(|| h.locale.clone());
                        (
                            ArticleLink {
                                // `from=search`: the article page counts a result click.
                                href: format!(
                                    "{}?from=search",
                                    article_path(&lang, h.article_id, &h.title)
                                ),
                                title: h.title,
                                other_lang_name: other
                                    .as_deref()
                                    .map(language_name)
                                    .unwrap_or_default(),
                                other_lang: other,
                            },
                            h.snippet,
                        )
                    })
                    .collect();
                let m = hits.is_empty().then(|| ui(&lang).no_match.to_string());
                (m, hits)
            }
        }
    };
    let mut c = chrome(&s, &lang, &live.languages(), |l| {
        format!("/help/{l}/search")
    });
    c.crumbs = home_crumb(&c);
    let mut r = render(&SearchPage {
        c,
        searched: !q.is_empty(),
        q,
        message,
        hits,
    });
    r.headers_mut()
        .insert("x-robots-tag", HeaderValue::from_static("noindex"));
    r
}

/// Counts a help-center search (issue 6 analytics); failures are logged, the page is shown.
async fn track_search(s: &AppState, q: &str, hits: usize) {
    let query = tend_core::kb_analytics::normalize_query(q);
    if query.is_empty() {
        return;
    }
    let ev = tend_store::kb_analytics::KbTrack::search("help", query, hits as i64);
    if let Err(e) = s.store.kb_track(ev, s.now()).await {
        tracing::warn!(error = %e, "could not count a search");
    }
}

/// Counts an article view, and a search-result click when it came from a search page.
async fn track_view(s: &AppState, id: i64, from_search: bool) {
    use tend_store::kb_analytics::KbTrack;
    let mut evs = vec![KbTrack::article("view", "help", id)];
    if from_search {
        evs.push(KbTrack::article("click", "help", id));
    }
    for ev in evs {
        if let Err(e) = s.store.kb_track(ev, s.now()).await {
            tracing::warn!(error = %e, article = id, "could not count an article view");
        }
    }
}

// --- sitemap ----------------------------------------------------------------------------------

fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// Every live translation of every public article, with its other languages as alternates.
async fn sitemap(State(s): State<AppState>) -> Result<Response, AppError> {
    let now = s.now();
    let scope = BrandScope::of_page(&s).await?;
    let base = base_url(&s);
    let mut xml = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\" xmlns:xhtml=\"http://www.w3.org/1999/xhtml\">\n",
    );
    let mut urls = 0usize;
    let mut after = None;
    'pages: loop {
        let page = s
            .store
            .kb_list_articles(KbArticleQuery {
                live_at: Some(now),
                after_id: after,
                limit: 1000,
                ..Default::default()
            })
            .await?;
        for a in page
            .items
            .iter()
            .filter(|a| scope.shows_category(a.category_id))
        {
            let links: Vec<(String, String)> = a
                .translations
                .iter()
                .map(|t| {
                    (
                        t.locale.clone(),
                        format!("{base}{}", article_path(&t.locale, a.id, &t.title)),
                    )
                })
                .collect();
            for (t, (_, loc)) in a.translations.iter().zip(&links) {
                if urls >= SITEMAP_MAX {
                    break 'pages;
                }
                urls += 1;
                xml.push_str("  <url>\n    <loc>");
                xml.push_str(&xml_escape(loc));
                xml.push_str("</loc>\n    <lastmod>");
                xml.push_str(&t.updated_at.format("%Y-%m-%d").to_string());
                xml.push_str("</lastmod>\n");
                if links.len() > 1 {
                    for (hl, href) in &links {
                        xml.push_str(&format!(
                            "    <xhtml:link rel=\"alternate\" hreflang=\"{}\" href=\"{}\"/>\n",
                            xml_escape(hl),
                            xml_escape(href)
                        ));
                    }
                }
                xml.push_str("  </url>\n");
            }
            after = Some(a.id);
        }
        if page.next_cursor.is_none() {
            break;
        }
    }
    xml.push_str("</urlset>\n");
    Ok((
        [
            (header::CONTENT_TYPE, "application/xml; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        xml,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(v: &[&str]) -> BTreeSet<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn accept_language_picks_among_languages_with_content() {
        let avail = set(&["de", "en", "fr-CA"]);
        assert_eq!(best_language(Some("de-CH,de;q=0.9,en;q=0.8"), &avail), "de");
        assert_eq!(best_language(Some("fr-FR, en;q=0.5"), &avail), "fr-CA");
        assert_eq!(best_language(Some("en;q=0.2, de;q=0.9"), &avail), "de");
        assert_eq!(best_language(Some("ja"), &avail), "en");
        assert_eq!(best_language(Some("garbage;;;,*"), &avail), "en");
        assert_eq!(best_language(None, &set(&["fr"])), "fr");
        assert_eq!(best_language(Some("de;q=0"), &set(&["de", "fr"])), "de");
        assert_eq!(best_language(None, &set(&[])), "en");
    }

    #[test]
    fn descriptions_are_short_and_cut_at_a_word() {
        assert_eq!(describe("  a \n b  "), "a b");
        let long = "word ".repeat(100);
        let d = describe(&long);
        assert!(
            d.chars().count() <= DESCRIPTION_MAX && d.ends_with('…'),
            "{d}"
        );
    }

    #[test]
    fn cross_site_posts_are_recognised() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_static("help.example.com"));
        assert!(!cross_site(&h));
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("https://help.example.com"),
        );
        assert!(!cross_site(&h));
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("https://evil.example"),
        );
        assert!(cross_site(&h));
        h.remove(header::ORIGIN);
        h.insert("sec-fetch-site", HeaderValue::from_static("cross-site"));
        assert!(cross_site(&h));
    }
}
