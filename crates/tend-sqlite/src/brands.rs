//! Brands: name, slug, host, colours, default language and logo; every change audited.

use crate::conv::{audit, is_unique, time, us};
use crate::{db, SqliteStore};
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension, Row};
use serde_json::json;
use tend_core::Actor;
use tend_store::brands::*;
use tend_store::{sha256_hex, Result, StoreError};

const COLS: &str = "id, name, slug, host, primary_color, accent_color, default_locale, logo_content_type, logo_sha256, length(logo), created_at, updated_at, archived_at";

fn row(r: &Row) -> rusqlite::Result<Brand> {
    Ok(Brand {
        id: r.get(0)?,
        name: r.get(1)?,
        slug: r.get(2)?,
        host: r.get(3)?,
        primary_color: r.get(4)?,
        accent_color: r.get(5)?,
        default_locale: r.get(6)?,
        logo_content_type: r.get(7)?,
        logo_sha256: r.get(8)?,
        logo_size: r.get(9)?,
        created_at: time(r.get(10)?),
        updated_at: time(r.get(11)?),
        archived_at: r.get::<_, Option<i64>>(12)?.map(time),
    })
}

fn load(c: &Connection, id: i64) -> Result<Brand> {
    c.prepare_cached(&format!("SELECT {COLS} FROM brands WHERE id = ?1"))
        .map_err(db)?
        .query_row([id], row)
        .optional()
        .map_err(db)?
        .ok_or(StoreError::NotFound("brand"))
}

/// A unique violation names the value that is taken.
fn conflict(e: rusqlite::Error, slug: &str, host: Option<&str>) -> StoreError {
    if !is_unique(&e) {
        return db(e);
    }
    let msg = e.to_string();
    if msg.contains("brands.host") {
        StoreError::Conflict(format!(
            "another brand already has the host {}",
            host.unwrap_or_default()
        ))
    } else {
        StoreError::Conflict(format!(
            "another brand already has the slug '{slug}': choose another one"
        ))
    }
}

impl SqliteStore {
    pub(crate) async fn create_brand_impl(
        &self,
        new: NewBrand,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<Brand> {
        self.write(move |c| {
            c.execute(
                "INSERT INTO brands(name, slug, host, primary_color, accent_color, default_locale, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
                params![new.name, new.slug, new.host, new.primary_color, new.accent_color, new.default_locale, us(now)],
            )
            .map_err(|e| conflict(e, &new.slug, new.host.as_deref()))?;
            let b = load(c, c.last_insert_rowid())?;
            audit(c, actor, "brand.created", format!("brand:{}", b.id), json!({
                "name": b.name, "slug": b.slug, "host": b.host, "primary_color": b.primary_color,
                "accent_color": b.accent_color, "default_locale": b.default_locale,
            }), now)?;
            Ok(b)
        })
        .await
    }

    pub(crate) async fn update_brand_impl(
        &self,
        id: i64,
        up: BrandUpdate,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<Brand> {
        self.write(move |c| {
            let old = load(c, id)?;
            let next = up.apply(&old, now);
            let changes = audit_changes(&old, &next);
            if changes.is_empty() {
                return Ok(old);
            }
            c.execute(
                "UPDATE brands SET name = ?2, slug = ?3, host = ?4, primary_color = ?5, accent_color = ?6, default_locale = ?7, archived_at = ?8, updated_at = ?9 WHERE id = ?1",
                params![id, next.name, next.slug, next.host, next.primary_color, next.accent_color, next.default_locale, next.archived_at.map(us), us(now)],
            )
            .map_err(|e| conflict(e, &next.slug, next.host.as_deref()))?;
            audit(c, actor, "brand.updated", format!("brand:{id}"), serde_json::Value::Object(changes), now)?;
            load(c, id)
        })
        .await
    }

    pub(crate) async fn get_brand_impl(&self, id: i64) -> Result<Brand> {
        self.read(move |c| load(c, id)).await
    }

    pub(crate) async fn list_brands_impl(&self, include_archived: bool) -> Result<Vec<Brand>> {
        self.read(move |c| {
            c.prepare_cached(&format!(
                "SELECT {COLS} FROM brands WHERE ?1 OR archived_at IS NULL ORDER BY id"
            ))
            .map_err(db)?
            .query_map([include_archived], row)
            .map_err(db)?
            .collect::<rusqlite::Result<_>>()
            .map_err(db)
        })
        .await
    }

    pub(crate) async fn brand_by_impl(
        &self,
        column: &'static str,
        value: String,
    ) -> Result<Option<Brand>> {
        self.read(move |c| {
            c.prepare_cached(&format!("SELECT {COLS} FROM brands WHERE {column} = ?1"))
                .map_err(db)?
                .query_row([value], row)
                .optional()
                .map_err(db)
        })
        .await
    }

    pub(crate) async fn set_brand_logo_impl(
        &self,
        id: i64,
        logo: Option<NewLogo>,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<Brand> {
        self.write(move |c| {
            load(c, id)?;
            match logo {
                Some(l) => {
                    let sha = sha256_hex(&l.bytes);
                    c.execute(
                        "UPDATE brands SET logo = ?2, logo_content_type = ?3, logo_sha256 = ?4, logo_updated_at = ?5, updated_at = ?5 WHERE id = ?1",
                        params![id, l.bytes, l.content_type, sha, us(now)],
                    )
                    .map_err(db)?;
                    audit(c, actor, "brand.logo_changed", format!("brand:{id}"), json!({
                        "content_type": l.content_type, "size": l.bytes.len(), "sha256": sha,
                    }), now)?;
                }
                None => {
                    c.execute(
                        "UPDATE brands SET logo = NULL, logo_content_type = NULL, logo_sha256 = NULL, logo_updated_at = ?2, updated_at = ?2 WHERE id = ?1",
                        params![id, us(now)],
                    )
                    .map_err(db)?;
                    audit(c, actor, "brand.logo_removed", format!("brand:{id}"), json!({}), now)?;
                }
            }
            load(c, id)
        })
        .await
    }

    pub(crate) async fn brand_logo_impl(&self, id: i64) -> Result<Option<BrandLogo>> {
        self.read(move |c| {
            // The row exists (else NotFound); the logo is there when all three are set.
            let r: Option<Option<BrandLogo>> = c
                .prepare_cached("SELECT logo, logo_content_type, logo_sha256, logo_updated_at FROM brands WHERE id = ?1")
                .map_err(db)?
                .query_row([id], |r| {
                    let bytes: Option<Vec<u8>> = r.get(0)?;
                    let ct: Option<String> = r.get(1)?;
                    let sha: Option<String> = r.get(2)?;
                    let at: Option<i64> = r.get(3)?;
                    Ok(match (bytes, ct, sha) {
                        (Some(bytes), Some(content_type), Some(sha256)) => Some(BrandLogo {
                            content_type,
                            sha256,
                            bytes,
                            updated_at: at.map(time).unwrap_or_default(),
                        }),
                        _ => None,
                    })
                })
                .optional()
                .map_err(db)?;
            r.ok_or(StoreError::NotFound("brand"))
        })
        .await
    }
}
