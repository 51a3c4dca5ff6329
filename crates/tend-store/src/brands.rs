//! What the stores take and return for brands (name, slug, host, colours, default language,
//! logo). Values arrive checked by `tend_core::brand`; the stores keep slugs and hosts unique.

use chrono::{DateTime, Utc};
use serde::Serialize;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Brand {
    pub id: i64,
    pub name: String,
    /// a-z, 0-9, `-`; unique (archived brands keep theirs).
    pub slug: String,
    /// The host name whose pages show this brand (`help.shop.example`); unique.
    pub host: Option<String>,
    /// `#rrggbb`: the header bar, white text on it.
    pub primary_color: String,
    /// `#rrggbb`: links and primary buttons.
    pub accent_color: String,
    /// BCP 47 tag of the brand's pages when the customer's language is unknown.
    pub default_locale: String,
    /// `image/png`, `image/jpeg` or `image/webp` when the brand has a logo.
    pub logo_content_type: Option<String>,
    /// Hex SHA-256 of the logo bytes (its ETag and cache-busting version).
    pub logo_sha256: Option<String>,
    pub logo_size: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Archived brands stay for the tickets that name them but show on no page.
    pub archived_at: Option<DateTime<Utc>>,
}

impl Brand {
    pub fn active(&self) -> bool {
        self.archived_at.is_none()
    }
}

#[derive(Debug, Clone)]
pub struct NewBrand {
    pub name: String,
    pub slug: String,
    pub host: Option<String>,
    pub primary_color: String,
    pub accent_color: String,
    pub default_locale: String,
}

/// A partial change: `None` leaves a field as it is; `host: Some(None)` clears the host.
#[derive(Debug, Clone, Default)]
pub struct BrandUpdate {
    pub name: Option<String>,
    pub slug: Option<String>,
    pub host: Option<Option<String>>,
    pub primary_color: Option<String>,
    pub accent_color: Option<String>,
    pub default_locale: Option<String>,
    /// `Some(true)` archives, `Some(false)` brings an archived brand back.
    pub archived: Option<bool>,
}

/// A checked logo (`tend_core::brand::check_logo`).
#[derive(Debug, Clone)]
pub struct NewLogo {
    pub content_type: String,
    pub bytes: Vec<u8>,
}

/// A logo as stored.
#[derive(Debug, Clone)]
pub struct BrandLogo {
    pub content_type: String,
    pub sha256: String,
    pub bytes: Vec<u8>,
    pub updated_at: DateTime<Utc>,
}

impl BrandUpdate {
    /// The brand after this update (archiving keeps the first archive time).
    pub fn apply(&self, old: &Brand, now: DateTime<Utc>) -> Brand {
        let mut b = old.clone();
        if let Some(v) = &self.name {
            b.name = v.clone();
        }
        if let Some(v) = &self.slug {
            b.slug = v.clone();
        }
        if let Some(v) = &self.host {
            b.host = v.clone();
        }
        if let Some(v) = &self.primary_color {
            b.primary_color = v.clone();
        }
        if let Some(v) = &self.accent_color {
            b.accent_color = v.clone();
        }
        if let Some(v) = &self.default_locale {
            b.default_locale = v.clone();
        }
        match self.archived {
            Some(true) if old.archived_at.is_none() => b.archived_at = Some(now),
            Some(false) => b.archived_at = None,
            _ => {}
        }
        b
    }
}

/// What an update changes, for the audit log: `{"field": {"from": …, "to": …}}`; empty when
/// nothing changes (then nothing is written).
pub fn audit_changes(old: &Brand, new: &Brand) -> serde_json::Map<String, serde_json::Value> {
    use serde_json::{json, Value};
    let mut m = serde_json::Map::new();
    let mut put = |k: &str, a: Value, b: Value| {
        if a != b {
            m.insert(k.into(), json!({"from": a, "to": b}));
        }
    };
    put("name", json!(old.name), json!(new.name));
    put("slug", json!(old.slug), json!(new.slug));
    put("host", json!(old.host), json!(new.host));
    put(
        "primary_color",
        json!(old.primary_color),
        json!(new.primary_color),
    );
    put(
        "accent_color",
        json!(old.accent_color),
        json!(new.accent_color),
    );
    put(
        "default_locale",
        json!(old.default_locale),
        json!(new.default_locale),
    );
    put(
        "archived",
        json!(old.archived_at.is_some()),
        json!(new.archived_at.is_some()),
    );
    m
}
