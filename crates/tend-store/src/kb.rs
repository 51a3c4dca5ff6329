//! What the stores take and return for the knowledge base: categories → sections → articles,
//! an article's translations (one per BCP 47 locale, each with its own status and revision
//! history), feedback, attachments, and the change feed a search index tails.
//!
//! Visibility is decided here once ([`KbTranslationHead::is_live`]): stores apply the same
//! rule in SQL for lists. Bodies arrive sanitized (the web layer converts Markdown and runs
//! `tend_core::html::sanitize`); stores keep what they are given.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tend_core::{truncate_for_message, Actor, Invalid};

/// Longest article title, in characters.
pub const KB_TITLE_MAX: usize = 300;
/// Largest article body accepted (Markdown or HTML as sent), in bytes: 2 MiB.
pub const KB_BODY_MAX: usize = 2 * 1024 * 1024;
/// Longest category/section name, in characters.
pub const KB_NAME_MAX: usize = 200;
/// Longest category/section description, in characters.
pub const KB_DESCRIPTION_MAX: usize = 2_000;
/// Longest feedback comment, in characters.
pub const KB_COMMENT_MAX: usize = 2_000;
/// Most related articles per article.
pub const KB_RELATED_MAX: usize = 50;
/// Largest attachment (bytes).
pub const KB_ATTACHMENT_MAX: usize = tend_core::limits::ATTACHMENT_MAX;

/// Where a translation stands. What readers see also depends on `publish_at`
/// (see [`KbTranslationHead::is_live`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KbStatus {
    Draft,
    Published,
    Archived,
}

impl KbStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            KbStatus::Draft => "draft",
            KbStatus::Published => "published",
            KbStatus::Archived => "archived",
        }
    }
    pub fn parse(s: &str) -> Option<KbStatus> {
        match s {
            "draft" => Some(KbStatus::Draft),
            "published" => Some(KbStatus::Published),
            "archived" => Some(KbStatus::Archived),
            _ => None,
        }
    }
}

/// Who may read an article: everyone (`public`) or agents only (`internal`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KbVisibility {
    Public,
    Internal,
}

impl KbVisibility {
    pub fn as_str(self) -> &'static str {
        match self {
            KbVisibility::Public => "public",
            KbVisibility::Internal => "internal",
        }
    }
    pub fn parse(s: &str) -> Option<KbVisibility> {
        match s {
            "public" => Some(KbVisibility::Public),
            "internal" => Some(KbVisibility::Internal),
            _ => None,
        }
    }
}

/// A locale as the knowledge base keeps it: `language[-Script][-Region]` (BCP 47), e.g. `en`,
/// `de-CH`, `pt-BR`, `zh-Hant-TW`; normalised to the usual case (`de-ch` → `de-CH`).
/// Anything else (variants, extensions, `_`, garbage) is refused with a message that says so.
pub fn parse_locale(raw: &str) -> Result<String, Invalid> {
    let s = raw.trim();
    let bad = || {
        Invalid::new(
            "locale",
            format!(
                "'{}' is not a language tag of the form language[-Region] such as en, de-CH or pt-BR",
                truncate_for_message(s)
            ),
        )
    };
    if s.is_empty() || s.len() > 16 {
        return Err(bad());
    }
    let mut parts = s.split('-');
    let lang = parts.next().ok_or_else(bad)?;
    if !(2..=3).contains(&lang.len()) || !lang.bytes().all(|b| b.is_ascii_alphabetic()) {
        return Err(bad());
    }
    let mut out = lang.to_ascii_lowercase();
    let mut seen_script = false;
    let mut seen_region = false;
    for p in parts {
        let alpha = p.bytes().all(|b| b.is_ascii_alphabetic());
        let digits = p.bytes().all(|b| b.is_ascii_digit());
        if p.len() == 4 && alpha && !seen_script && !seen_region {
            seen_script = true;
            out.push('-');
            out.push_str(&p[..1].to_ascii_uppercase());
            out.push_str(&p[1..].to_ascii_lowercase());
        } else if ((p.len() == 2 && alpha) || (p.len() == 3 && digits)) && !seen_region {
            seen_region = true;
            out.push('-');
            out.push_str(&p.to_ascii_uppercase());
        } else {
            return Err(bad());
        }
    }
    Ok(out)
}

/// The primary language of a locale: `de-CH` → `de`.
pub fn primary_language(locale: &str) -> &str {
    locale.split('-').next().unwrap_or(locale)
}

/// A URL slug for a title: lower-case letters and digits joined by `-`, at most 80 bytes;
/// `article` when nothing is left.
pub fn slugify(title: &str) -> String {
    let mut out = String::new();
    let mut dash = false;
    for c in title.chars().flat_map(char::to_lowercase) {
        if c.is_alphanumeric() {
            if dash && !out.is_empty() {
                out.push('-');
            }
            dash = false;
            if out.len() + c.len_utf8() > 80 {
                break;
            }
            out.push(c);
        } else {
            dash = true;
        }
    }
    if out.is_empty() {
        "article".into()
    } else {
        out
    }
}

/// A category's or section's name and description in another language.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct KbLabel {
    pub name: String,
    #[serde(default)]
    pub description: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct KbCategory {
    pub id: i64,
    pub brand_id: Option<i64>,
    pub position: i64,
    pub name: String,
    pub description: String,
    /// Names in other languages (locale → label); `name` is the fallback.
    pub translations: BTreeMap<String, KbLabel>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl KbCategory {
    /// Whether the help center of `brand` (none: a request without a brand) shows this
    /// category: one without a brand shows everywhere, one with a brand only on that brand's.
    pub fn shown_on(&self, brand: Option<i64>) -> bool {
        self.brand_id.is_none() || self.brand_id == brand
    }

    /// Name and description for a locale: exact, then its primary language, then the default.
    pub fn label(&self, locale: &str) -> (&str, &str) {
        label_for(&self.translations, locale, &self.name, &self.description)
    }
}

fn label_for<'a>(
    t: &'a BTreeMap<String, KbLabel>,
    locale: &str,
    name: &'a str,
    description: &'a str,
) -> (&'a str, &'a str) {
    t.get(locale)
        .or_else(|| t.get(primary_language(locale)))
        .map(|l| (l.name.as_str(), l.description.as_str()))
        .unwrap_or((name, description))
}

#[derive(Debug, Clone, Default)]
pub struct NewKbCategory {
    pub brand_id: Option<i64>,
    pub position: i64,
    pub name: String,
    pub description: String,
    pub translations: BTreeMap<String, KbLabel>,
}

/// A change to a category or section: `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct KbGroupUpdate {
    pub brand_id: Option<Option<i64>>,
    pub position: Option<i64>,
    pub name: Option<String>,
    pub description: Option<String>,
    pub translations: Option<BTreeMap<String, KbLabel>>,
    /// Sections only: move to another category (every article in it is re-announced on the
    /// change feed).
    pub category_id: Option<i64>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct KbSection {
    pub id: i64,
    pub category_id: i64,
    pub brand_id: Option<i64>,
    pub position: i64,
    pub name: String,
    pub description: String,
    pub translations: BTreeMap<String, KbLabel>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl KbSection {
    pub fn label(&self, locale: &str) -> (&str, &str) {
        label_for(&self.translations, locale, &self.name, &self.description)
    }
}

#[derive(Debug, Clone, Default)]
pub struct NewKbSection {
    pub category_id: i64,
    pub brand_id: Option<i64>,
    pub position: i64,
    pub name: String,
    pub description: String,
    pub translations: BTreeMap<String, KbLabel>,
}

/// A translation without its body (what lists carry).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct KbTranslationHead {
    pub locale: String,
    pub title: String,
    pub status: KbStatus,
    /// The source-language body changed since this translation was last saved.
    pub outdated: bool,
    /// Scheduled publishing; see [`KbTranslationHead::is_live`].
    pub publish_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl KbTranslationHead {
    /// Whether readers see this translation at `now`:
    /// - `archived`: never;
    /// - `published`: from `publish_at` if set, else at once;
    /// - `draft`: from `publish_at` if set (scheduled publishing), else never.
    ///
    /// Stores apply the same rule in SQL:
    /// `(status = 'published' AND publish_at IS NULL) OR (status <> 'archived' AND publish_at <= now)`.
    /// Nothing flips the status when the time comes: readers compare against their clock, so a
    /// search index must keep `status` and `publish_at` and filter with the same rule.
    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        is_live(self.status, self.publish_at, now)
    }

    /// `published`, `scheduled`, `draft` or `archived`, as a reader at `now` would say.
    pub fn effective_status(&self, now: DateTime<Utc>) -> &'static str {
        match self.status {
            KbStatus::Archived => "archived",
            _ if self.is_live(now) => "published",
            _ if self.publish_at.is_some() => "scheduled",
            KbStatus::Draft => "draft",
            KbStatus::Published => "scheduled",
        }
    }
}

/// The visibility rule on its parts (see [`KbTranslationHead::is_live`]).
pub fn is_live(status: KbStatus, publish_at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
    match (status, publish_at) {
        (KbStatus::Archived, _) => false,
        (KbStatus::Published, None) => true,
        (KbStatus::Draft, None) => false,
        (_, Some(t)) => t <= now,
    }
}

/// One translation with its body.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct KbTranslation {
    pub article_id: i64,
    #[serde(flatten)]
    pub head: KbTranslationHead,
    /// Sanitized HTML.
    pub body_html: String,
    /// Plain text of the body (for search and descriptions).
    pub body_text: String,
    /// Who saved it last.
    pub updated_by: Actor,
}

/// What a save of a translation writes (a new revision each time).
#[derive(Debug, Clone)]
pub struct KbTranslationInput {
    pub title: String,
    /// Sanitized HTML.
    pub body_html: String,
    pub body_text: String,
    pub status: KbStatus,
    pub publish_at: Option<DateTime<Utc>>,
    /// Set or clear the outdated flag; `None`: saving clears it.
    pub outdated: Option<bool>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct KbArticle {
    pub id: i64,
    pub section_id: i64,
    pub category_id: i64,
    pub brand_id: Option<i64>,
    pub position: i64,
    /// The locale translations are made from; a change to its body marks the others outdated.
    pub source_locale: String,
    pub visibility: KbVisibility,
    pub tags: Vec<String>,
    pub related_ids: Vec<i64>,
    pub author_id: Option<i64>,
    pub view_count: i64,
    pub helpful_yes: i64,
    pub helpful_no: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Every translation, without bodies, by locale. In lists filtered by `live_at`, only the
    /// translations live at that time.
    pub translations: Vec<KbTranslationHead>,
}

/// An article with every translation and its body: what a search index needs.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct KbArticleFull {
    pub article: KbArticle,
    pub translations: Vec<KbTranslation>,
}

impl KbArticleFull {
    pub fn translation(&self, locale: &str) -> Option<&KbTranslation> {
        self.translations.iter().find(|t| t.head.locale == locale)
    }
    /// Whether anonymous readers may see it at `now` in some language.
    pub fn is_public_at(&self, now: DateTime<Utc>) -> bool {
        self.article.visibility == KbVisibility::Public
            && self.translations.iter().any(|t| t.head.is_live(now))
    }
}

#[derive(Debug, Clone)]
pub struct NewKbArticle {
    pub section_id: i64,
    pub brand_id: Option<i64>,
    pub position: i64,
    pub source_locale: String,
    pub visibility: KbVisibility,
    pub tags: Vec<String>,
    pub related_ids: Vec<i64>,
    /// The first translation, in `source_locale`.
    pub translation: KbTranslationInput,
}

#[derive(Debug, Clone, Default)]
pub struct KbArticleUpdate {
    pub section_id: Option<i64>,
    pub brand_id: Option<Option<i64>>,
    pub position: Option<i64>,
    /// Must name an existing translation.
    pub source_locale: Option<String>,
    pub visibility: Option<KbVisibility>,
    pub tags: Option<Vec<String>>,
    pub related_ids: Option<Vec<i64>>,
}

/// Lists of articles, ordered by id, keyset-paged (`after_id`).
#[derive(Debug, Clone, Default)]
pub struct KbArticleQuery {
    pub section_id: Option<i64>,
    pub category_id: Option<i64>,
    pub brand_id: Option<i64>,
    /// Only public articles with a translation live at this time (and only those
    /// translations): what anonymous readers see.
    pub live_at: Option<DateTime<Utc>>,
    pub after_id: Option<i64>,
    pub limit: i64,
}

/// One saved state of a translation.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct KbRevision {
    pub id: i64,
    pub article_id: i64,
    pub locale: String,
    pub author: Actor,
    pub at: DateTime<Utc>,
    pub title: String,
    pub status: KbStatus,
    pub publish_at: Option<DateTime<Utc>>,
    /// Present when one revision is asked for; lists leave it out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body_html: Option<String>,
}

#[derive(Debug, Clone)]
pub struct NewKbFeedback {
    pub article_id: i64,
    pub locale: String,
    pub helpful: bool,
    pub comment: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct KbFeedback {
    pub id: i64,
    pub article_id: i64,
    pub locale: String,
    pub helpful: bool,
    pub comment: String,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct KbAttachment {
    pub id: i64,
    pub article_id: i64,
    pub filename: String,
    pub content_type: String,
    pub size: i64,
    pub sha256: String,
    pub created_at: DateTime<Utc>,
}

/// How many public articles are live in a section in a locale (help center navigation).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct KbLiveCount {
    pub section_id: i64,
    pub locale: String,
    pub articles: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locales_parse_and_normalise() {
        assert_eq!(parse_locale("en").unwrap(), "en");
        assert_eq!(parse_locale(" de-ch ").unwrap(), "de-CH");
        assert_eq!(parse_locale("PT-br").unwrap(), "pt-BR");
        assert_eq!(parse_locale("zh-hant-tw").unwrap(), "zh-Hant-TW");
        assert_eq!(parse_locale("es-419").unwrap(), "es-419");
        for bad in [
            "",
            "e",
            "english",
            "en_US",
            "en-",
            "en-US-US",
            "en-US-x-private",
            "<script>",
            "12",
            "de-CH-1901",
            "en--US",
        ] {
            let e = parse_locale(bad).unwrap_err();
            assert_eq!(e.field, "locale", "{bad}");
        }
    }

    #[test]
    fn slugs_are_url_safe() {
        assert_eq!(
            slugify("How do I reset my password?"),
            "how-do-i-reset-my-password"
        );
        assert_eq!(slugify("  Größe & Passform  "), "größe-passform");
        assert_eq!(slugify("<script>"), "script");
        assert_eq!(slugify("!!!"), "article");
        assert!(slugify(&"a".repeat(500)).len() <= 80);
    }

    #[test]
    fn scheduled_drafts_go_live_at_their_time() {
        let now = DateTime::parse_from_rfc3339("2026-03-02T09:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let later = now + chrono::Duration::hours(1);
        assert!(is_live(KbStatus::Published, None, now));
        assert!(!is_live(KbStatus::Draft, None, now));
        assert!(!is_live(KbStatus::Draft, Some(later), now));
        assert!(is_live(KbStatus::Draft, Some(later), later));
        assert!(!is_live(KbStatus::Published, Some(later), now));
        assert!(!is_live(KbStatus::Archived, None, now));
        assert!(!is_live(KbStatus::Archived, Some(now), later));
    }
}
