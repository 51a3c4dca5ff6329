//! Knowledge base storage: categories, sections, articles and their translations, revisions,
//! feedback, attachments, and the change feed (`kb_changes`) a search index tails.
//!
//! Every change to an article (its row, a translation, its section's category) appends to
//! `kb_changes` in the same write; the single writer hands out `seq` in commit order, so a
//! reader that continues after the last seq it saw never misses one.

use crate::conv::{actor, audit, json, placeholders, time, to_json, unique_or, us};
use crate::{db, SqliteStore};
use chrono::{DateTime, Utc};
use rusqlite::{params, params_from_iter, Connection, OptionalExtension, Row};
use serde_json::json as j;
use tend_core::Actor;
use tend_store::kb::*;
use tend_store::*;

const CAT_COLS: &str =
    "id, brand_id, position, name, description, translations, created_at, updated_at";
const SEC_COLS: &str =
    "id, category_id, brand_id, position, name, description, translations, created_at, updated_at";
const ART_COLS: &str = "a.id, a.section_id, s.category_id, a.brand_id, a.position, a.source_locale, a.visibility, a.tags, a.related_ids, a.author_id, a.view_count, a.helpful_yes, a.helpful_no, a.created_at, a.updated_at";
const HEAD_COLS: &str = "locale, title, status, outdated, publish_at, created_at, updated_at";
const TR_COLS: &str = "article_id, locale, title, status, outdated, publish_at, created_at, updated_at, body_html, body_text, updated_by_kind, updated_by_id";
const REV_COLS: &str =
    "id, article_id, locale, author_kind, author_id, at, title, status, publish_at";
const ATT_COLS: &str = "id, article_id, filename, content_type, size, sha256, created_at";
/// The visibility rule of `KbTranslationHead::is_live` on table alias `t`, `?N` = now.
const LIVE: &str = "((t.status = 'published' AND t.publish_at IS NULL) OR (t.status <> 'archived' AND t.publish_at <= {now}))";

fn live(now_param: &str) -> String {
    LIVE.replace("{now}", now_param)
}

fn bad(col: usize, what: &str) -> rusqlite::Error {
    rusqlite::Error::InvalidColumnType(col, format!("bad {what}"), rusqlite::types::Type::Text)
}

fn status(col: usize, s: String) -> rusqlite::Result<KbStatus> {
    KbStatus::parse(&s).ok_or_else(|| bad(col, "kb status"))
}

fn cat_row(r: &Row) -> rusqlite::Result<KbCategory> {
    Ok(KbCategory {
        id: r.get(0)?,
        brand_id: r.get(1)?,
        position: r.get(2)?,
        name: r.get(3)?,
        description: r.get(4)?,
        translations: json(&r.get::<_, String>(5)?)?,
        created_at: time(r.get(6)?),
        updated_at: time(r.get(7)?),
    })
}

fn sec_row(r: &Row) -> rusqlite::Result<KbSection> {
    Ok(KbSection {
        id: r.get(0)?,
        category_id: r.get(1)?,
        brand_id: r.get(2)?,
        position: r.get(3)?,
        name: r.get(4)?,
        description: r.get(5)?,
        translations: json(&r.get::<_, String>(6)?)?,
        created_at: time(r.get(7)?),
        updated_at: time(r.get(8)?),
    })
}

fn art_row(r: &Row) -> rusqlite::Result<KbArticle> {
    let vis: String = r.get(6)?;
    Ok(KbArticle {
        id: r.get(0)?,
        section_id: r.get(1)?,
        category_id: r.get(2)?,
        brand_id: r.get(3)?,
        position: r.get(4)?,
        source_locale: r.get(5)?,
        visibility: KbVisibility::parse(&vis).ok_or_else(|| bad(6, "kb visibility"))?,
        tags: json(&r.get::<_, String>(7)?)?,
        related_ids: json(&r.get::<_, String>(8)?)?,
        author_id: r.get(9)?,
        view_count: r.get(10)?,
        helpful_yes: r.get(11)?,
        helpful_no: r.get(12)?,
        created_at: time(r.get(13)?),
        updated_at: time(r.get(14)?),
        translations: vec![],
    })
}

/// A head from `HEAD_COLS` starting at column `o`.
fn head_at(r: &Row, o: usize) -> rusqlite::Result<KbTranslationHead> {
    Ok(KbTranslationHead {
        locale: r.get(o)?,
        title: r.get(o + 1)?,
        status: status(o + 2, r.get(o + 2)?)?,
        outdated: r.get(o + 3)?,
        publish_at: r.get::<_, Option<i64>>(o + 4)?.map(time),
        created_at: time(r.get(o + 5)?),
        updated_at: time(r.get(o + 6)?),
    })
}

fn tr_row(r: &Row) -> rusqlite::Result<KbTranslation> {
    Ok(KbTranslation {
        article_id: r.get(0)?,
        head: head_at(r, 1)?,
        body_html: r.get(8)?,
        body_text: r.get(9)?,
        updated_by: actor(r.get(10)?, r.get(11)?),
    })
}

fn rev_row(r: &Row) -> rusqlite::Result<KbRevision> {
    Ok(KbRevision {
        id: r.get(0)?,
        article_id: r.get(1)?,
        locale: r.get(2)?,
        author: actor(r.get(3)?, r.get(4)?),
        at: time(r.get(5)?),
        title: r.get(6)?,
        status: status(7, r.get(7)?)?,
        publish_at: r.get::<_, Option<i64>>(8)?.map(time),
        body_html: None,
    })
}

fn att_row(r: &Row) -> rusqlite::Result<KbAttachment> {
    Ok(KbAttachment {
        id: r.get(0)?,
        article_id: r.get(1)?,
        filename: r.get(2)?,
        content_type: r.get(3)?,
        size: r.get(4)?,
        sha256: r.get(5)?,
        created_at: time(r.get(6)?),
    })
}

fn fb_row(r: &Row) -> rusqlite::Result<KbFeedback> {
    Ok(KbFeedback {
        id: r.get(0)?,
        article_id: r.get(1)?,
        locale: r.get(2)?,
        helpful: r.get(3)?,
        comment: r.get(4)?,
        at: time(r.get(5)?),
    })
}

fn exists(c: &Connection, sql: &str, id: i64) -> Result<bool> {
    c.prepare_cached(sql)
        .map_err(db)?
        .query_row([id], |r| r.get(0))
        .map_err(db)
}

/// Appends to the change feed (same transaction as the change).
fn change(c: &Connection, article_id: i64, now: DateTime<Utc>) -> Result<()> {
    c.prepare_cached("INSERT INTO kb_changes(article_id, at) VALUES (?1, ?2)")
        .map_err(db)?
        .execute(params![article_id, us(now)])
        .map_err(db)?;
    Ok(())
}

fn load_category(c: &Connection, id: i64) -> Result<KbCategory> {
    c.prepare_cached(&format!(
        "SELECT {CAT_COLS} FROM kb_categories WHERE id = ?1"
    ))
    .map_err(db)?
    .query_row([id], cat_row)
    .optional()
    .map_err(db)?
    .ok_or(StoreError::NotFound("category"))
}

fn load_section(c: &Connection, id: i64) -> Result<KbSection> {
    c.prepare_cached(&format!("SELECT {SEC_COLS} FROM kb_sections WHERE id = ?1"))
        .map_err(db)?
        .query_row([id], sec_row)
        .optional()
        .map_err(db)?
        .ok_or(StoreError::NotFound("section"))
}

fn heads(c: &Connection, article_id: i64) -> Result<Vec<KbTranslationHead>> {
    c.prepare_cached(&format!(
        "SELECT {HEAD_COLS} FROM kb_translations WHERE article_id = ?1 ORDER BY locale"
    ))
    .map_err(db)?
    .query_map([article_id], |r| head_at(r, 0))
    .map_err(db)?
    .collect::<rusqlite::Result<_>>()
    .map_err(db)
}

fn load_article(c: &Connection, id: i64) -> Result<Option<KbArticle>> {
    let a = c
        .prepare_cached(&format!(
            "SELECT {ART_COLS} FROM kb_articles a JOIN kb_sections s ON s.id = a.section_id WHERE a.id = ?1"
        ))
        .map_err(db)?
        .query_row([id], art_row)
        .optional()
        .map_err(db)?;
    match a {
        None => Ok(None),
        Some(mut a) => {
            a.translations = heads(c, id)?;
            Ok(Some(a))
        }
    }
}

fn article(c: &Connection, id: i64) -> Result<KbArticle> {
    load_article(c, id)?.ok_or(StoreError::NotFound("article"))
}

fn load_translation(c: &Connection, id: i64, locale: &str) -> Result<Option<KbTranslation>> {
    c.prepare_cached(&format!(
        "SELECT {TR_COLS} FROM kb_translations WHERE article_id = ?1 AND locale = ?2"
    ))
    .map_err(db)?
    .query_row(params![id, locale], tr_row)
    .optional()
    .map_err(db)
}

fn load_full(c: &Connection, id: i64) -> Result<Option<KbArticleFull>> {
    let Some(article) = load_article(c, id)? else {
        return Ok(None);
    };
    let translations = c
        .prepare_cached(&format!(
            "SELECT {TR_COLS} FROM kb_translations WHERE article_id = ?1 ORDER BY locale"
        ))
        .map_err(db)?
        .query_map([id], tr_row)
        .map_err(db)?
        .collect::<rusqlite::Result<_>>()
        .map_err(db)?;
    Ok(Some(KbArticleFull {
        article,
        translations,
    }))
}

fn check_related(c: &Connection, own: Option<i64>, ids: &[i64]) -> Result<()> {
    for id in ids {
        if Some(*id) == own {
            return Err(StoreError::invalid(
                "related_ids",
                "an article cannot be related to itself",
            ));
        }
        if !exists(
            c,
            "SELECT EXISTS(SELECT 1 FROM kb_articles WHERE id = ?1)",
            *id,
        )? {
            return Err(StoreError::invalid(
                "related_ids",
                format!("no article {id}"),
            ));
        }
    }
    Ok(())
}

fn check_section(c: &Connection, id: i64) -> Result<()> {
    if exists(
        c,
        "SELECT EXISTS(SELECT 1 FROM kb_sections WHERE id = ?1)",
        id,
    )? {
        Ok(())
    } else {
        Err(StoreError::invalid(
            "section_id",
            format!("no section {id}"),
        ))
    }
}

/// Saves one translation and writes its revision; a changed source body marks the other
/// translations outdated.
fn save_translation(
    c: &Connection,
    article_id: i64,
    locale: &str,
    input: &KbTranslationInput,
    who: Actor,
    now: DateTime<Utc>,
) -> Result<KbTranslation> {
    let source: String = c
        .prepare_cached("SELECT source_locale FROM kb_articles WHERE id = ?1")
        .map_err(db)?
        .query_row([article_id], |r| r.get(0))
        .optional()
        .map_err(db)?
        .ok_or(StoreError::NotFound("article"))?;
    let is_source = source == locale;
    let outdated = !is_source && input.outdated.unwrap_or(false);
    let old_body: Option<String> = c
        .prepare_cached(
            "SELECT body_html FROM kb_translations WHERE article_id = ?1 AND locale = ?2",
        )
        .map_err(db)?
        .query_row(params![article_id, locale], |r| r.get(0))
        .optional()
        .map_err(db)?;
    let publish_at = input.publish_at.map(us);
    if old_body.is_some() {
        c.prepare_cached("UPDATE kb_translations SET title = ?3, body_html = ?4, body_text = ?5, status = ?6, outdated = ?7, publish_at = ?8, updated_at = ?9, updated_by_kind = ?10, updated_by_id = ?11 WHERE article_id = ?1 AND locale = ?2")
            .map_err(db)?
            .execute(params![article_id, locale, input.title, input.body_html, input.body_text, input.status.as_str(), outdated, publish_at, us(now), who.kind.as_str(), who.id])
            .map_err(db)?;
    } else {
        c.prepare_cached("INSERT INTO kb_translations(article_id, locale, title, body_html, body_text, status, outdated, publish_at, created_at, updated_at, updated_by_kind, updated_by_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9, ?10, ?11)")
            .map_err(db)?
            .execute(params![article_id, locale, input.title, input.body_html, input.body_text, input.status.as_str(), outdated, publish_at, us(now), who.kind.as_str(), who.id])
            .map_err(db)?;
    }
    if is_source && old_body.as_deref().is_some_and(|b| b != input.body_html) {
        c.prepare_cached(
            "UPDATE kb_translations SET outdated = 1 WHERE article_id = ?1 AND locale <> ?2",
        )
        .map_err(db)?
        .execute(params![article_id, locale])
        .map_err(db)?;
    }
    c.prepare_cached("INSERT INTO kb_revisions(article_id, locale, author_kind, author_id, at, title, body_html, body_text, status, publish_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)")
        .map_err(db)?
        .execute(params![article_id, locale, who.kind.as_str(), who.id, us(now), input.title, input.body_html, input.body_text, input.status.as_str(), publish_at])
        .map_err(db)?;
    let revision = c.last_insert_rowid();
    c.prepare_cached("UPDATE kb_articles SET updated_at = ?2 WHERE id = ?1")
        .map_err(db)?
        .execute(params![article_id, us(now)])
        .map_err(db)?;
    change(c, article_id, now)?;
    audit(
        c,
        who,
        "kb.translation.saved",
        format!("kb_article:{article_id}"),
        j!({ "locale": locale, "title": input.title, "status": input.status.as_str(), "revision": revision }),
        now,
    )?;
    load_translation(c, article_id, locale)?.ok_or(StoreError::NotFound("translation"))
}

impl SqliteStore {
    pub(crate) async fn kb_create_category_impl(
        &self,
        new: NewKbCategory,
        who: Actor,
        now: DateTime<Utc>,
    ) -> Result<KbCategory> {
        self.write(move |c| {
            c.execute(
                "INSERT INTO kb_categories(brand_id, position, name, description, translations, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
                params![new.brand_id, new.position, new.name, new.description, to_json(&new.translations), us(now)],
            )
            .map_err(db)?;
            let id = c.last_insert_rowid();
            audit(c, who, "kb.category.created", format!("kb_category:{id}"), j!({ "name": new.name }), now)?;
            load_category(c, id)
        })
        .await
    }

    pub(crate) async fn kb_update_category_impl(
        &self,
        id: i64,
        up: KbGroupUpdate,
        who: Actor,
        now: DateTime<Utc>,
    ) -> Result<KbCategory> {
        self.write(move |c| {
            let mut cat = load_category(c, id)?;
            if let Some(b) = up.brand_id {
                cat.brand_id = b;
            }
            if let Some(p) = up.position {
                cat.position = p;
            }
            if let Some(n) = up.name {
                cat.name = n;
            }
            if let Some(d) = up.description {
                cat.description = d;
            }
            if let Some(t) = up.translations {
                cat.translations = t;
            }
            c.execute(
                "UPDATE kb_categories SET brand_id = ?2, position = ?3, name = ?4, description = ?5, translations = ?6, updated_at = ?7 WHERE id = ?1",
                params![id, cat.brand_id, cat.position, cat.name, cat.description, to_json(&cat.translations), us(now)],
            )
            .map_err(db)?;
            audit(c, who, "kb.category.updated", format!("kb_category:{id}"), j!({ "name": cat.name }), now)?;
            load_category(c, id)
        })
        .await
    }

    pub(crate) async fn kb_delete_category_impl(
        &self,
        id: i64,
        who: Actor,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.write(move |c| {
            let cat = load_category(c, id)?;
            if exists(
                c,
                "SELECT EXISTS(SELECT 1 FROM kb_sections WHERE category_id = ?1)",
                id,
            )? {
                return Err(StoreError::Conflict(
                    "the category still has sections: move or delete them first".into(),
                ));
            }
            c.execute("DELETE FROM kb_categories WHERE id = ?1", [id])
                .map_err(db)?;
            audit(
                c,
                who,
                "kb.category.deleted",
                format!("kb_category:{id}"),
                j!({ "name": cat.name }),
                now,
            )
        })
        .await
    }

    pub(crate) async fn kb_get_category_impl(&self, id: i64) -> Result<KbCategory> {
        self.read(move |c| load_category(c, id)).await
    }

    pub(crate) async fn kb_list_categories_impl(&self) -> Result<Vec<KbCategory>> {
        self.read(|c| {
            c.prepare_cached(&format!(
                "SELECT {CAT_COLS} FROM kb_categories ORDER BY position, id LIMIT 1000"
            ))
            .map_err(db)?
            .query_map([], cat_row)
            .map_err(db)?
            .collect::<rusqlite::Result<_>>()
            .map_err(db)
        })
        .await
    }

    pub(crate) async fn kb_create_section_impl(
        &self,
        new: NewKbSection,
        who: Actor,
        now: DateTime<Utc>,
    ) -> Result<KbSection> {
        self.write(move |c| {
            if !exists(c, "SELECT EXISTS(SELECT 1 FROM kb_categories WHERE id = ?1)", new.category_id)? {
                return Err(StoreError::invalid("category_id", format!("no category {}", new.category_id)));
            }
            c.execute(
                "INSERT INTO kb_sections(category_id, brand_id, position, name, description, translations, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
                params![new.category_id, new.brand_id, new.position, new.name, new.description, to_json(&new.translations), us(now)],
            )
            .map_err(db)?;
            let id = c.last_insert_rowid();
            audit(c, who, "kb.section.created", format!("kb_section:{id}"), j!({ "name": new.name, "category_id": new.category_id }), now)?;
            load_section(c, id)
        })
        .await
    }

    pub(crate) async fn kb_update_section_impl(
        &self,
        id: i64,
        up: KbGroupUpdate,
        who: Actor,
        now: DateTime<Utc>,
    ) -> Result<KbSection> {
        self.write(move |c| {
            let mut sec = load_section(c, id)?;
            let moved = up.category_id.is_some_and(|to| to != sec.category_id);
            if let Some(to) = up.category_id {
                if !exists(c, "SELECT EXISTS(SELECT 1 FROM kb_categories WHERE id = ?1)", to)? {
                    return Err(StoreError::invalid("category_id", format!("no category {to}")));
                }
                sec.category_id = to;
            }
            if let Some(b) = up.brand_id {
                sec.brand_id = b;
            }
            if let Some(p) = up.position {
                sec.position = p;
            }
            if let Some(n) = up.name {
                sec.name = n;
            }
            if let Some(d) = up.description {
                sec.description = d;
            }
            if let Some(t) = up.translations {
                sec.translations = t;
            }
            c.execute(
                "UPDATE kb_sections SET category_id = ?2, brand_id = ?3, position = ?4, name = ?5, description = ?6, translations = ?7, updated_at = ?8 WHERE id = ?1",
                params![id, sec.category_id, sec.brand_id, sec.position, sec.name, sec.description, to_json(&sec.translations), us(now)],
            )
            .map_err(db)?;
            if moved {
                // The articles' category changed: the index must hear of each.
                let ids: Vec<i64> = c
                    .prepare_cached("SELECT id FROM kb_articles WHERE section_id = ?1 ORDER BY id")
                    .map_err(db)?
                    .query_map([id], |r| r.get(0))
                    .map_err(db)?
                    .collect::<rusqlite::Result<_>>()
                    .map_err(db)?;
                for a in ids {
                    change(c, a, now)?;
                }
            }
            audit(c, who, "kb.section.updated", format!("kb_section:{id}"), j!({ "name": sec.name, "category_id": sec.category_id }), now)?;
            load_section(c, id)
        })
        .await
    }

    pub(crate) async fn kb_delete_section_impl(
        &self,
        id: i64,
        who: Actor,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.write(move |c| {
            let sec = load_section(c, id)?;
            if exists(
                c,
                "SELECT EXISTS(SELECT 1 FROM kb_articles WHERE section_id = ?1)",
                id,
            )? {
                return Err(StoreError::Conflict(
                    "the section still has articles: move or delete them first".into(),
                ));
            }
            c.execute("DELETE FROM kb_sections WHERE id = ?1", [id])
                .map_err(db)?;
            audit(
                c,
                who,
                "kb.section.deleted",
                format!("kb_section:{id}"),
                j!({ "name": sec.name }),
                now,
            )
        })
        .await
    }

    pub(crate) async fn kb_get_section_impl(&self, id: i64) -> Result<KbSection> {
        self.read(move |c| load_section(c, id)).await
    }

    pub(crate) async fn kb_list_sections_impl(
        &self,
        category_id: Option<i64>,
    ) -> Result<Vec<KbSection>> {
        self.read(move |c| {
            c.prepare_cached(&format!(
                "SELECT {SEC_COLS} FROM kb_sections WHERE (?1 IS NULL OR category_id = ?1) ORDER BY position, id LIMIT 5000"
            ))
            .map_err(db)?
            .query_map([category_id], sec_row)
            .map_err(db)?
            .collect::<rusqlite::Result<_>>()
            .map_err(db)
        })
        .await
    }

    pub(crate) async fn kb_create_article_impl(
        &self,
        new: NewKbArticle,
        who: Actor,
        now: DateTime<Utc>,
    ) -> Result<KbArticleFull> {
        self.write(move |c| {
            check_section(c, new.section_id)?;
            check_related(c, None, &new.related_ids)?;
            c.execute(
                "INSERT INTO kb_articles(section_id, brand_id, position, source_locale, visibility, tags, related_ids, author_id, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9)",
                params![new.section_id, new.brand_id, new.position, new.source_locale, new.visibility.as_str(), to_json(&new.tags), to_json(&new.related_ids), who.id, us(now)],
            )
            .map_err(db)?;
            let id = c.last_insert_rowid();
            audit(c, who, "kb.article.created", format!("kb_article:{id}"), j!({ "section_id": new.section_id, "title": new.translation.title }), now)?;
            save_translation(c, id, &new.source_locale, &new.translation, who, now)?;
            load_full(c, id)?.ok_or(StoreError::NotFound("article"))
        })
        .await
    }

    pub(crate) async fn kb_update_article_impl(
        &self,
        id: i64,
        up: KbArticleUpdate,
        who: Actor,
        now: DateTime<Utc>,
    ) -> Result<KbArticle> {
        self.write(move |c| {
            let mut a = article(c, id)?;
            let mut changed = Vec::new();
            if let Some(s) = up.section_id {
                check_section(c, s)?;
                a.section_id = s;
                changed.push("section_id");
            }
            if let Some(b) = up.brand_id {
                a.brand_id = b;
                changed.push("brand_id");
            }
            if let Some(p) = up.position {
                a.position = p;
                changed.push("position");
            }
            if let Some(l) = up.source_locale {
                if !a.translations.iter().any(|t| t.locale == l) {
                    return Err(StoreError::invalid(
                        "source_locale",
                        format!("the article has no '{l}' translation"),
                    ));
                }
                a.source_locale = l;
                changed.push("source_locale");
            }
            if let Some(v) = up.visibility {
                a.visibility = v;
                changed.push("visibility");
            }
            if let Some(t) = up.tags {
                a.tags = t;
                changed.push("tags");
            }
            if let Some(r) = up.related_ids {
                check_related(c, Some(id), &r)?;
                a.related_ids = r;
                changed.push("related_ids");
            }
            c.execute(
                "UPDATE kb_articles SET section_id = ?2, brand_id = ?3, position = ?4, source_locale = ?5, visibility = ?6, tags = ?7, related_ids = ?8, updated_at = ?9 WHERE id = ?1",
                params![id, a.section_id, a.brand_id, a.position, a.source_locale, a.visibility.as_str(), to_json(&a.tags), to_json(&a.related_ids), us(now)],
            )
            .map_err(db)?;
            change(c, id, now)?;
            audit(c, who, "kb.article.updated", format!("kb_article:{id}"), j!({ "changed": changed }), now)?;
            article(c, id)
        })
        .await
    }

    pub(crate) async fn kb_delete_article_impl(
        &self,
        id: i64,
        who: Actor,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.write(move |c| {
            let a = article(c, id)?;
            // Translations, revisions, feedback and attachment rows go with it (ON DELETE CASCADE).
            c.execute("DELETE FROM kb_articles WHERE id = ?1", [id])
                .map_err(db)?;
            change(c, id, now)?;
            let titles: Vec<&str> = a.translations.iter().map(|t| t.title.as_str()).collect();
            audit(
                c,
                who,
                "kb.article.deleted",
                format!("kb_article:{id}"),
                j!({ "titles": titles }),
                now,
            )
        })
        .await
    }

    pub(crate) async fn kb_get_article_impl(&self, id: i64) -> Result<KbArticleFull> {
        self.read(move |c| load_full(c, id)?.ok_or(StoreError::NotFound("article")))
            .await
    }

    pub(crate) async fn kb_article_for_index_impl(&self, id: i64) -> Result<Option<KbArticleFull>> {
        self.read(move |c| load_full(c, id)).await
    }

    pub(crate) async fn kb_list_articles_impl(&self, q: KbArticleQuery) -> Result<Page<KbArticle>> {
        self.read(move |c| {
            let limit = q.limit.clamp(0, 1000);
            let now = q.live_at.map(us);
            let live_filter = live("?6");
            let sql = format!(
                "SELECT {ART_COLS} FROM kb_articles a JOIN kb_sections s ON s.id = a.section_id \
                 WHERE (?1 IS NULL OR a.section_id = ?1) AND (?2 IS NULL OR s.category_id = ?2) \
                 AND (?3 IS NULL OR a.brand_id = ?3) AND a.id > ?4 \
                 AND (?6 IS NULL OR (a.visibility = 'public' AND EXISTS (SELECT 1 FROM kb_translations t WHERE t.article_id = a.id AND {live_filter}))) \
                 ORDER BY a.id LIMIT ?5"
            );
            let mut items: Vec<KbArticle> = c
                .prepare_cached(&sql)
                .map_err(db)?
                .query_map(
                    params![q.section_id, q.category_id, q.brand_id, q.after_id.unwrap_or(0), limit + 1, now],
                    art_row,
                )
                .map_err(db)?
                .collect::<rusqlite::Result<_>>()
                .map_err(db)?;
            if !items.is_empty() {
                let ids: Vec<i64> = items.iter().map(|a| a.id).collect();
                let mut sql = format!(
                    "SELECT t.article_id, {} FROM kb_translations t WHERE t.article_id IN ({})",
                    HEAD_COLS.split(", ").map(|col| format!("t.{col}")).collect::<Vec<_>>().join(", "),
                    placeholders(ids.len())
                );
                if now.is_some() {
                    sql.push_str(&format!(" AND {}", live(&format!("?{}", ids.len() + 1))));
                }
                sql.push_str(" ORDER BY t.article_id, t.locale");
                let mut binds: Vec<i64> = ids.clone();
                binds.extend(now);
                let mut st = c.prepare(&sql).map_err(db)?;
                let rows = st
                    .query_map(params_from_iter(binds.iter()), |r| Ok((r.get::<_, i64>(0)?, head_at(r, 1)?)))
                    .map_err(db)?;
                let mut by: std::collections::HashMap<i64, Vec<KbTranslationHead>> = Default::default();
                for row in rows {
                    let (aid, h) = row.map_err(db)?;
                    by.entry(aid).or_default().push(h);
                }
                for a in &mut items {
                    a.translations = by.remove(&a.id).unwrap_or_default();
                }
            }
            Ok(Page::from_overfetch(items, limit, |a| encode_id_cursor(a.id)))
        })
        .await
    }

    pub(crate) async fn kb_save_translation_impl(
        &self,
        article_id: i64,
        locale: String,
        input: KbTranslationInput,
        who: Actor,
        now: DateTime<Utc>,
    ) -> Result<KbTranslation> {
        self.write(move |c| save_translation(c, article_id, &locale, &input, who, now))
            .await
    }

    pub(crate) async fn kb_delete_translation_impl(
        &self,
        article_id: i64,
        locale: String,
        who: Actor,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.write(move |c| {
            let a = article(c, article_id)?;
            if a.source_locale == locale {
                return Err(StoreError::Conflict(
                    "this is the article's source translation: make another one the source first, or delete the article".into(),
                ));
            }
            let n = c
                .execute(
                    "DELETE FROM kb_translations WHERE article_id = ?1 AND locale = ?2",
                    params![article_id, locale],
                )
                .map_err(db)?;
            if n == 0 {
                return Err(StoreError::NotFound("translation"));
            }
            c.execute(
                "UPDATE kb_articles SET updated_at = ?2 WHERE id = ?1",
                params![article_id, us(now)],
            )
            .map_err(db)?;
            change(c, article_id, now)?;
            audit(
                c,
                who,
                "kb.translation.deleted",
                format!("kb_article:{article_id}"),
                j!({ "locale": locale }),
                now,
            )
        })
        .await
    }

    pub(crate) async fn kb_revisions_impl(
        &self,
        article_id: i64,
        locale: String,
    ) -> Result<Vec<KbRevision>> {
        self.read(move |c| {
            if !exists(c, "SELECT EXISTS(SELECT 1 FROM kb_articles WHERE id = ?1)", article_id)? {
                return Err(StoreError::NotFound("article"));
            }
            c.prepare_cached(&format!(
                "SELECT {REV_COLS} FROM kb_revisions WHERE article_id = ?1 AND locale = ?2 ORDER BY id DESC LIMIT 1000"
            ))
            .map_err(db)?
            .query_map(params![article_id, locale], rev_row)
            .map_err(db)?
            .collect::<rusqlite::Result<_>>()
            .map_err(db)
        })
        .await
    }

    pub(crate) async fn kb_revision_impl(
        &self,
        article_id: i64,
        revision_id: i64,
    ) -> Result<KbRevision> {
        self.read(move |c| revision(c, article_id, revision_id))
            .await
    }

    pub(crate) async fn kb_restore_revision_impl(
        &self,
        article_id: i64,
        revision_id: i64,
        who: Actor,
        now: DateTime<Utc>,
    ) -> Result<KbTranslation> {
        self.write(move |c| {
            let rev = revision(c, article_id, revision_id)?;
            let body_html = rev.body_html.unwrap_or_default();
            let body_text: String = c
                .query_row(
                    "SELECT body_text FROM kb_revisions WHERE id = ?1",
                    [rev.id],
                    |r| r.get(0),
                )
                .map_err(db)?;
            // The content comes back; the publication state stays as it is now.
            let (status, publish_at) = match load_translation(c, article_id, &rev.locale)? {
                Some(t) => (t.head.status, t.head.publish_at),
                None => (KbStatus::Draft, None),
            };
            let input = KbTranslationInput {
                title: rev.title,
                body_text,
                body_html,
                status,
                publish_at,
                outdated: None,
            };
            save_translation(c, article_id, &rev.locale, &input, who, now)
        })
        .await
    }

    pub(crate) async fn kb_add_feedback_impl(
        &self,
        new: NewKbFeedback,
        now: DateTime<Utc>,
    ) -> Result<KbFeedback> {
        self.write(move |c| {
            let col = if new.helpful { "helpful_yes" } else { "helpful_no" };
            let n = c
                .execute(&format!("UPDATE kb_articles SET {col} = {col} + 1 WHERE id = ?1"), [new.article_id])
                .map_err(db)?;
            if n == 0 {
                return Err(StoreError::NotFound("article"));
            }
            c.execute(
                "INSERT INTO kb_feedback(article_id, locale, helpful, comment, at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![new.article_id, new.locale, new.helpful, new.comment, us(now)],
            )
            .map_err(db)?;
            let id = c.last_insert_rowid();
            c.query_row("SELECT id, article_id, locale, helpful, comment, at FROM kb_feedback WHERE id = ?1", [id], fb_row)
                .map_err(db)
        })
        .await
    }

    pub(crate) async fn kb_list_feedback_impl(
        &self,
        article_id: i64,
        page: PageRequest,
    ) -> Result<Page<KbFeedback>> {
        self.read(move |c| {
            if !exists(c, "SELECT EXISTS(SELECT 1 FROM kb_articles WHERE id = ?1)", article_id)? {
                return Err(StoreError::NotFound("article"));
            }
            let limit = page.limit.clamp(0, 1000);
            let items = c
                .prepare_cached("SELECT id, article_id, locale, helpful, comment, at FROM kb_feedback WHERE article_id = ?1 AND id < ?2 ORDER BY id DESC LIMIT ?3")
                .map_err(db)?
                .query_map(params![article_id, page.after_id.unwrap_or(i64::MAX), limit + 1], fb_row)
                .map_err(db)?
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(db)?;
            Ok(Page::from_overfetch(items, limit, |f| encode_id_cursor(f.id)))
        })
        .await
    }

    pub(crate) async fn kb_record_view_impl(&self, article_id: i64) -> Result<()> {
        self.write(move |c| {
            c.prepare_cached("UPDATE kb_articles SET view_count = view_count + 1 WHERE id = ?1")
                .map_err(db)?
                .execute([article_id])
                .map_err(db)?;
            Ok(())
        })
        .await
    }

    pub(crate) async fn kb_add_attachment_impl(
        &self,
        article_id: i64,
        file: NewAttachment,
        who: Actor,
        now: DateTime<Utc>,
    ) -> Result<KbAttachment> {
        self.write(move |c| {
            if !exists(c, "SELECT EXISTS(SELECT 1 FROM kb_articles WHERE id = ?1)", article_id)? {
                return Err(StoreError::NotFound("article"));
            }
            let sha = sha256_hex(&file.data);
            c.prepare_cached("INSERT OR IGNORE INTO blobs(sha256, data) VALUES (?1, ?2)")
                .map_err(db)?
                .execute(params![sha, file.data])
                .map_err(db)?;
            c.execute(
                "INSERT INTO kb_attachments(article_id, filename, content_type, size, sha256, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![article_id, file.filename, file.content_type, file.data.len() as i64, sha, us(now)],
            )
            .map_err(unique_or(|| "attachment exists".into()))?;
            let id = c.last_insert_rowid();
            change(c, article_id, now)?;
            audit(c, who, "kb.attachment.added", format!("kb_article:{article_id}"), j!({ "attachment_id": id, "filename": file.filename }), now)?;
            c.query_row(&format!("SELECT {ATT_COLS} FROM kb_attachments WHERE id = ?1"), [id], att_row)
                .map_err(db)
        })
        .await
    }

    pub(crate) async fn kb_attachments_impl(&self, article_id: i64) -> Result<Vec<KbAttachment>> {
        self.read(move |c| {
            c.prepare_cached(&format!(
                "SELECT {ATT_COLS} FROM kb_attachments WHERE article_id = ?1 ORDER BY id"
            ))
            .map_err(db)?
            .query_map([article_id], att_row)
            .map_err(db)?
            .collect::<rusqlite::Result<_>>()
            .map_err(db)
        })
        .await
    }

    pub(crate) async fn kb_attachment_impl(&self, id: i64) -> Result<(KbAttachment, Vec<u8>)> {
        self.read(move |c| {
            c.prepare_cached("SELECT x.id, x.article_id, x.filename, x.content_type, x.size, x.sha256, x.created_at, b.data FROM kb_attachments x JOIN blobs b ON b.sha256 = x.sha256 WHERE x.id = ?1")
                .map_err(db)?
                .query_row([id], |r| Ok((att_row(r)?, r.get::<_, Vec<u8>>(7)?)))
                .optional()
                .map_err(db)?
                .ok_or(StoreError::NotFound("attachment"))
        })
        .await
    }

    pub(crate) async fn kb_live_counts_impl(&self, now: DateTime<Utc>) -> Result<Vec<KbLiveCount>> {
        self.read(move |c| {
            let sql = format!(
                "SELECT a.section_id, t.locale, COUNT(*) FROM kb_articles a JOIN kb_translations t ON t.article_id = a.id \
                 WHERE a.visibility = 'public' AND {} GROUP BY a.section_id, t.locale ORDER BY a.section_id, t.locale",
                live("?1")
            );
            c.prepare_cached(&sql)
                .map_err(db)?
                .query_map([us(now)], |r| Ok(KbLiveCount { section_id: r.get(0)?, locale: r.get(1)?, articles: r.get(2)? }))
                .map_err(db)?
                .collect::<rusqlite::Result<_>>()
                .map_err(db)
        })
        .await
    }

    pub(crate) async fn kb_changes_since_impl(
        &self,
        after_seq: i64,
        limit: i64,
    ) -> Result<Vec<(i64, i64)>> {
        self.read(move |c| {
            c.prepare_cached(
                "SELECT seq, article_id FROM kb_changes WHERE seq > ?1 ORDER BY seq LIMIT ?2",
            )
            .map_err(db)?
            .query_map(params![after_seq, limit.max(0)], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .map_err(db)?
            .collect::<rusqlite::Result<_>>()
            .map_err(db)
        })
        .await
    }

    pub(crate) async fn kb_article_ids_impl(&self, after_id: i64, limit: i64) -> Result<Vec<i64>> {
        self.read(move |c| {
            c.prepare_cached("SELECT id FROM kb_articles WHERE id > ?1 ORDER BY id LIMIT ?2")
                .map_err(db)?
                .query_map(params![after_id, limit.max(0)], |r| r.get(0))
                .map_err(db)?
                .collect::<rusqlite::Result<_>>()
                .map_err(db)
        })
        .await
    }
}

fn revision(c: &Connection, article_id: i64, revision_id: i64) -> Result<KbRevision> {
    c.prepare_cached(&format!(
        "SELECT {REV_COLS}, body_html FROM kb_revisions WHERE id = ?1 AND article_id = ?2"
    ))
    .map_err(db)?
    .query_row(params![revision_id, article_id], |r| {
        let mut rev = rev_row(r)?;
        rev.body_html = Some(r.get(9)?);
        Ok(rev)
    })
    .optional()
    .map_err(db)?
    .ok_or(StoreError::NotFound("revision"))
}
