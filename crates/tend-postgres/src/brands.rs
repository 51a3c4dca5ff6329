//! Brands: name, slug, host, colours, default language and logo; every change audited.

use crate::admin::audit;
use crate::db::{query, query_opt, query_opt_raw, us, DbExt};
use crate::PgStore;
use chrono::{DateTime, Utc};
use serde_json::json;
use tend_core::Actor;
use tend_store::brands::*;
use tend_store::{sha256_hex, Result, StoreError};
use tokio_postgres::error::SqlState;
use tokio_postgres::Row;

const COLS: &str = "id, name, slug, host, primary_color, accent_color, default_locale, logo_content_type, logo_sha256, octet_length(logo)::BIGINT, created_at, updated_at, archived_at";

fn row(r: &Row) -> Brand {
    Brand {
        id: r.get(0),
        name: r.get(1),
        slug: r.get(2),
        host: r.get(3),
        primary_color: r.get(4),
        accent_color: r.get(5),
        default_locale: r.get(6),
        logo_content_type: r.get(7),
        logo_sha256: r.get(8),
        logo_size: r.get(9),
        created_at: r.get(10),
        updated_at: r.get(11),
        archived_at: r.get(12),
    }
}

async fn load<C: deadpool_postgres::GenericClient>(c: &C, id: i64, lock: bool) -> Result<Brand> {
    let sql = format!(
        "SELECT {COLS} FROM brands WHERE id = $1{}",
        if lock { " FOR UPDATE" } else { "" }
    );
    query_opt(c, &sql, &[&id])
        .await?
        .map(|r| row(&r))
        .ok_or(StoreError::NotFound("brand"))
}

/// A unique violation names the value that is taken.
fn conflict(e: tokio_postgres::Error, slug: &str, host: Option<&str>) -> StoreError {
    match e.as_db_error() {
        Some(d) if d.code() == &SqlState::UNIQUE_VIOLATION => {
            if d.constraint() == Some("brands_host_key") {
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
        _ => crate::db::backend(e),
    }
}

pub(crate) async fn create(
    s: &PgStore,
    new: NewBrand,
    actor: Actor,
    now: DateTime<Utc>,
) -> Result<Brand> {
    let now = us(now);
    let mut c = s.conn().await?;
    let tx = c.transaction().await.db()?;
    let r = query_opt_raw(
        &tx,
        &format!("INSERT INTO brands (name, slug, host, primary_color, accent_color, default_locale, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING {COLS}"),
        &[&new.name, &new.slug, &new.host, &new.primary_color, &new.accent_color, &new.default_locale, &now],
    )
    .await
    .map_err(|e| conflict(e, &new.slug, new.host.as_deref()))?
    .ok_or_else(|| StoreError::Backend("insert returned nothing".into()))?;
    let b = row(&r);
    audit(
        &tx,
        actor,
        "brand.created",
        format!("brand:{}", b.id),
        json!({
            "name": b.name, "slug": b.slug, "host": b.host, "primary_color": b.primary_color,
            "accent_color": b.accent_color, "default_locale": b.default_locale,
        }),
        now,
    )
    .await?;
    tx.commit().await.db()?;
    Ok(b)
}

pub(crate) async fn update(
    s: &PgStore,
    id: i64,
    up: BrandUpdate,
    actor: Actor,
    now: DateTime<Utc>,
) -> Result<Brand> {
    let now = us(now);
    let mut c = s.conn().await?;
    let tx = c.transaction().await.db()?;
    let old = load(&tx, id, true).await?;
    let next = up.apply(&old, now);
    let changes = audit_changes(&old, &next);
    if changes.is_empty() {
        return Ok(old);
    }
    let r = query_opt_raw(
        &tx,
        &format!("UPDATE brands SET name = $2, slug = $3, host = $4, primary_color = $5, accent_color = $6, default_locale = $7, archived_at = $8, updated_at = $9 WHERE id = $1 RETURNING {COLS}"),
        &[&id, &next.name, &next.slug, &next.host, &next.primary_color, &next.accent_color, &next.default_locale, &next.archived_at, &now],
    )
    .await
    .map_err(|e| conflict(e, &next.slug, next.host.as_deref()))?
    .ok_or(StoreError::NotFound("brand"))?;
    audit(
        &tx,
        actor,
        "brand.updated",
        format!("brand:{id}"),
        serde_json::Value::Object(changes),
        now,
    )
    .await?;
    tx.commit().await.db()?;
    Ok(row(&r))
}

pub(crate) async fn get(s: &PgStore, id: i64) -> Result<Brand> {
    let c = s.conn().await?;
    load(&c, id, false).await
}

pub(crate) async fn list(s: &PgStore, include_archived: bool) -> Result<Vec<Brand>> {
    let c = s.conn().await?;
    Ok(query(
        &c,
        &format!("SELECT {COLS} FROM brands WHERE $1 OR archived_at IS NULL ORDER BY id"),
        &[&include_archived],
    )
    .await?
    .iter()
    .map(row)
    .collect())
}

pub(crate) async fn by(s: &PgStore, column: &'static str, value: &str) -> Result<Option<Brand>> {
    let c = s.conn().await?;
    Ok(query_opt(
        &c,
        &format!("SELECT {COLS} FROM brands WHERE {column} = $1"),
        &[&value],
    )
    .await?
    .map(|r| row(&r)))
}

pub(crate) async fn set_logo(
    s: &PgStore,
    id: i64,
    logo: Option<NewLogo>,
    actor: Actor,
    now: DateTime<Utc>,
) -> Result<Brand> {
    let now = us(now);
    let mut c = s.conn().await?;
    let tx = c.transaction().await.db()?;
    load(&tx, id, true).await?;
    let r = match &logo {
        Some(l) => {
            let sha = sha256_hex(&l.bytes);
            let r = query_opt(
                &tx,
                &format!("UPDATE brands SET logo = $2, logo_content_type = $3, logo_sha256 = $4, logo_updated_at = $5, updated_at = $5 WHERE id = $1 RETURNING {COLS}"),
                &[&id, &l.bytes, &l.content_type, &sha, &now],
            )
            .await?;
            audit(
                &tx,
                actor,
                "brand.logo_changed",
                format!("brand:{id}"),
                json!({"content_type": l.content_type, "size": l.bytes.len(), "sha256": sha}),
                now,
            )
            .await?;
            r
        }
        None => {
            let r = query_opt(
                &tx,
                &format!("UPDATE brands SET logo = NULL, logo_content_type = NULL, logo_sha256 = NULL, logo_updated_at = $2, updated_at = $2 WHERE id = $1 RETURNING {COLS}"),
                &[&id, &now],
            )
            .await?;
            audit(
                &tx,
                actor,
                "brand.logo_removed",
                format!("brand:{id}"),
                json!({}),
                now,
            )
            .await?;
            r
        }
    };
    let b = row(&r.ok_or(StoreError::NotFound("brand"))?);
    tx.commit().await.db()?;
    Ok(b)
}

pub(crate) async fn logo(s: &PgStore, id: i64) -> Result<Option<BrandLogo>> {
    let c = s.conn().await?;
    let r = query_opt(
        &c,
        "SELECT logo, logo_content_type, logo_sha256, logo_updated_at FROM brands WHERE id = $1",
        &[&id],
    )
    .await?
    .ok_or(StoreError::NotFound("brand"))?;
    let bytes: Option<Vec<u8>> = r.get(0);
    let ct: Option<String> = r.get(1);
    let sha: Option<String> = r.get(2);
    let at: Option<DateTime<Utc>> = r.get(3);
    Ok(match (bytes, ct, sha) {
        (Some(bytes), Some(content_type), Some(sha256)) => Some(BrandLogo {
            content_type,
            sha256,
            bytes,
            updated_at: at.unwrap_or_default(),
        }),
        _ => None,
    })
}
