//! Knowledge base storage: categories, sections, articles and their translations, revisions,
//! feedback, attachments, and the change feed (`kb_changes`) a search index tails.
//!
//! Concurrency: writes to an article lock its row first (`FOR UPDATE`), so two saves of its
//! translations are applied one after the other (the outdated flags stay right). Creating a
//! section or article takes a key-share lock on its parent, and deleting a parent locks it
//! and then checks for children, so a delete never races a child insert into a foreign-key
//! error. Every writer changes a row before it inserts into `kb_changes`, so it holds an xid
//! before it draws a seq: [`changes_since`] relies on that.

use crate::admin::audit;
use crate::db::{execute, from_json, query, query_one, query_opt, to_json, us, DbExt};
use crate::PgStore;
use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use serde_json::json as j;
use sha2::{Digest, Sha256};
use std::time::Duration;
use tend_core::Actor;
use tend_store::kb::*;
use tend_store::*;
use tokio_postgres::Row;

type Now = DateTime<Utc>;

const CAT_COLS: &str =
    "id, brand_id, position, name, description, translations, created_at, updated_at";
const SEC_COLS: &str =
    "id, category_id, brand_id, position, name, description, translations, created_at, updated_at";
const ART_COLS: &str = "a.id, a.section_id, s.category_id, a.brand_id, a.position, a.source_locale, a.visibility, a.tags, a.related_ids, a.author_id, a.view_count, a.helpful_yes, a.helpful_no, a.created_at, a.updated_at";
const HEAD_COLS: &str =
    "t.locale, t.title, t.status, t.outdated, t.publish_at, t.created_at, t.updated_at";
const TR_COLS: &str = "t.article_id, t.locale, t.title, t.status, t.outdated, t.publish_at, t.created_at, t.updated_at, t.body_html, t.body_text, t.updated_by_kind, t.updated_by_id";
const REV_COLS: &str =
    "id, article_id, locale, author_kind, author_id, at, title, status, publish_at";
const ATT_COLS: &str = "id, article_id, filename, content_type, size, sha256, created_at";

/// The visibility rule of `KbTranslationHead::is_live` on alias `t`, with `now` as `$N`.
fn live(now_param: &str) -> String {
    format!("((t.status = 'published' AND t.publish_at IS NULL) OR (t.status <> 'archived' AND t.publish_at <= {now_param}))")
}

fn status(s: &str) -> Result<KbStatus> {
    KbStatus::parse(s).ok_or_else(|| StoreError::Backend(format!("stored kb status '{s}'")))
}

fn cat_row(r: &Row) -> Result<KbCategory> {
    Ok(KbCategory {
        id: r.get(0),
        brand_id: r.get(1),
        position: r.get(2),
        name: r.get(3),
        description: r.get(4),
        translations: from_json(r.get(5))?,
        created_at: r.get(6),
        updated_at: r.get(7),
    })
}

fn sec_row(r: &Row) -> Result<KbSection> {
    Ok(KbSection {
        id: r.get(0),
        category_id: r.get(1),
        brand_id: r.get(2),
        position: r.get(3),
        name: r.get(4),
        description: r.get(5),
        translations: from_json(r.get(6))?,
        created_at: r.get(7),
        updated_at: r.get(8),
    })
}

fn art_row(r: &Row) -> Result<KbArticle> {
    let vis: &str = r.get(6);
    Ok(KbArticle {
        id: r.get(0),
        section_id: r.get(1),
        category_id: r.get(2),
        brand_id: r.get(3),
        position: r.get(4),
        source_locale: r.get(5),
        visibility: KbVisibility::parse(vis)
            .ok_or_else(|| StoreError::Backend(format!("stored kb visibility '{vis}'")))?,
        tags: from_json(r.get(7))?,
        related_ids: from_json(r.get(8))?,
        author_id: r.get(9),
        view_count: r.get(10),
        helpful_yes: r.get(11),
        helpful_no: r.get(12),
        created_at: r.get(13),
        updated_at: r.get(14),
        translations: vec![],
    })
}

fn head_at(r: &Row, o: usize) -> Result<KbTranslationHead> {
    Ok(KbTranslationHead {
        locale: r.get(o),
        title: r.get(o + 1),
        status: status(r.get(o + 2))?,
        outdated: r.get(o + 3),
        publish_at: r.get(o + 4),
        created_at: r.get(o + 5),
        updated_at: r.get(o + 6),
    })
}

fn tr_row(r: &Row) -> Result<KbTranslation> {
    Ok(KbTranslation {
        article_id: r.get(0),
        head: head_at(r, 1)?,
        body_html: r.get(8),
        body_text: r.get(9),
        updated_by: crate::db::actor(r.get(10), r.get(11)),
    })
}

fn rev_row(r: &Row) -> Result<KbRevision> {
    Ok(KbRevision {
        id: r.get(0),
        article_id: r.get(1),
        locale: r.get(2),
        author: crate::db::actor(r.get(3), r.get(4)),
        at: r.get(5),
        title: r.get(6),
        status: status(r.get(7))?,
        publish_at: r.get(8),
        body_html: None,
    })
}

fn att_row(r: &Row) -> KbAttachment {
    let sha: Vec<u8> = r.get(5);
    KbAttachment {
        id: r.get(0),
        article_id: r.get(1),
        filename: r.get(2),
        content_type: r.get(3),
        size: r.get(4),
        sha256: hex::encode(sha),
        created_at: r.get(6),
    }
}

fn fb_row(r: &Row) -> KbFeedback {
    KbFeedback {
        id: r.get(0),
        article_id: r.get(1),
        locale: r.get(2),
        helpful: r.get(3),
        comment: r.get(4),
        at: r.get(5),
    }
}

/// Appends to the change feed (same transaction as the change, after it).
async fn change<C: GenericClient>(c: &C, article_id: i64, now: Now) -> Result<()> {
    execute(
        c,
        "INSERT INTO kb_changes (article_id, at) VALUES ($1, $2)",
        &[&article_id, &now],
    )
    .await?;
    Ok(())
}

async fn load_category<C: GenericClient>(c: &C, id: i64, lock: &str) -> Result<KbCategory> {
    let r = query_opt(
        c,
        &format!("SELECT {CAT_COLS} FROM kb_categories WHERE id = $1 {lock}"),
        &[&id],
    )
    .await?
    .ok_or(StoreError::NotFound("category"))?;
    cat_row(&r)
}

async fn load_section<C: GenericClient>(c: &C, id: i64, lock: &str) -> Result<KbSection> {
    let r = query_opt(
        c,
        &format!("SELECT {SEC_COLS} FROM kb_sections WHERE id = $1 {lock}"),
        &[&id],
    )
    .await?
    .ok_or(StoreError::NotFound("section"))?;
    sec_row(&r)
}

async fn heads<C: GenericClient>(c: &C, article_id: i64) -> Result<Vec<KbTranslationHead>> {
    query(
        c,
        &format!(
            "SELECT {HEAD_COLS} FROM kb_translations t WHERE t.article_id = $1 ORDER BY t.locale"
        ),
        &[&article_id],
    )
    .await?
    .iter()
    .map(|r| head_at(r, 0))
    .collect()
}

async fn load_article<C: GenericClient>(c: &C, id: i64) -> Result<Option<KbArticle>> {
    let Some(r) = query_opt(
        c,
        &format!(
            "SELECT {ART_COLS} FROM kb_articles a JOIN kb_sections s ON s.id = a.section_id WHERE a.id = $1"
        ),
        &[&id],
    )
    .await?
    else {
        return Ok(None);
    };
    let mut a = art_row(&r)?;
    a.translations = heads(c, id).await?;
    Ok(Some(a))
}

async fn article<C: GenericClient>(c: &C, id: i64) -> Result<KbArticle> {
    load_article(c, id)
        .await?
        .ok_or(StoreError::NotFound("article"))
}

/// Locks an article's row for this transaction; NotFound if there is none.
async fn lock_article<C: GenericClient>(c: &C, id: i64) -> Result<String> {
    let r = query_opt(
        c,
        "SELECT source_locale FROM kb_articles WHERE id = $1 FOR UPDATE",
        &[&id],
    )
    .await?
    .ok_or(StoreError::NotFound("article"))?;
    Ok(r.get(0))
}

async fn load_translation<C: GenericClient>(
    c: &C,
    id: i64,
    locale: &str,
) -> Result<Option<KbTranslation>> {
    query_opt(
        c,
        &format!(
            "SELECT {TR_COLS} FROM kb_translations t WHERE t.article_id = $1 AND t.locale = $2"
        ),
        &[&id, &locale],
    )
    .await?
    .map(|r| tr_row(&r))
    .transpose()
}

async fn load_full<C: GenericClient>(c: &C, id: i64) -> Result<Option<KbArticleFull>> {
    let Some(article) = load_article(c, id).await? else {
        return Ok(None);
    };
    let translations = query(
        c,
        &format!(
            "SELECT {TR_COLS} FROM kb_translations t WHERE t.article_id = $1 ORDER BY t.locale"
        ),
        &[&id],
    )
    .await?
    .iter()
    .map(tr_row)
    .collect::<Result<_>>()?;
    Ok(Some(KbArticleFull {
        article,
        translations,
    }))
}

async fn check_related<C: GenericClient>(c: &C, own: Option<i64>, ids: &[i64]) -> Result<()> {
    if own.is_some_and(|o| ids.contains(&o)) {
        return Err(StoreError::invalid(
            "related_ids",
            "an article cannot be related to itself",
        ));
    }
    let found: Vec<i64> = query(
        c,
        "SELECT id FROM kb_articles WHERE id = ANY($1)",
        &[&ids.to_vec()],
    )
    .await?
    .iter()
    .map(|r| r.get(0))
    .collect();
    if let Some(missing) = ids.iter().find(|i| !found.contains(i)) {
        return Err(StoreError::invalid(
            "related_ids",
            format!("no article {missing}"),
        ));
    }
    Ok(())
}

/// Key-share lock on a section (it cannot be deleted until we commit); Invalid if missing.
async fn hold_section<C: GenericClient>(c: &C, id: i64) -> Result<()> {
    match query_opt(
        c,
        "SELECT 1 FROM kb_sections WHERE id = $1 FOR KEY SHARE",
        &[&id],
    )
    .await?
    {
        Some(_) => Ok(()),
        None => Err(StoreError::invalid(
            "section_id",
            format!("no section {id}"),
        )),
    }
}

async fn hold_category<C: GenericClient>(c: &C, id: i64) -> Result<()> {
    match query_opt(
        c,
        "SELECT 1 FROM kb_categories WHERE id = $1 FOR KEY SHARE",
        &[&id],
    )
    .await?
    {
        Some(_) => Ok(()),
        None => Err(StoreError::invalid(
            "category_id",
            format!("no category {id}"),
        )),
    }
}

/// Saves one translation and writes its revision; a changed source body marks the other
/// translations outdated. The caller holds the article's row lock.
async fn save_translation<C: GenericClient>(
    c: &C,
    article_id: i64,
    source: &str,
    locale: &str,
    input: &KbTranslationInput,
    who: Actor,
    now: Now,
) -> Result<KbTranslation> {
    let is_source = source == locale;
    let outdated = !is_source && input.outdated.unwrap_or(false);
    let publish_at = input.publish_at.map(us);
    let old_body: Option<String> = query_opt(
        c,
        "SELECT body_html FROM kb_translations WHERE article_id = $1 AND locale = $2",
        &[&article_id, &locale],
    )
    .await?
    .map(|r| r.get(0));
    let status = input.status.as_str();
    execute(
        c,
        "INSERT INTO kb_translations (article_id, locale, title, body_html, body_text, status, outdated, publish_at, created_at, updated_at, updated_by_kind, updated_by_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10, $11) \
         ON CONFLICT (article_id, locale) DO UPDATE SET title = excluded.title, body_html = excluded.body_html, body_text = excluded.body_text, status = excluded.status, \
         outdated = excluded.outdated, publish_at = excluded.publish_at, updated_at = excluded.updated_at, updated_by_kind = excluded.updated_by_kind, updated_by_id = excluded.updated_by_id",
        &[&article_id, &locale, &input.title, &input.body_html, &input.body_text, &status, &outdated, &publish_at, &now, &who.kind.as_str(), &who.id],
    )
    .await?;
    if is_source && old_body.as_deref().is_some_and(|b| b != input.body_html) {
        execute(
            c,
            "UPDATE kb_translations SET outdated = TRUE WHERE article_id = $1 AND locale <> $2",
            &[&article_id, &locale],
        )
        .await?;
    }
    let revision: i64 = query_one(
        c,
        "INSERT INTO kb_revisions (article_id, locale, author_kind, author_id, at, title, body_html, body_text, status, publish_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
        &[&article_id, &locale, &who.kind.as_str(), &who.id, &now, &input.title, &input.body_html, &input.body_text, &status, &publish_at],
    )
    .await?
    .get(0);
    execute(
        c,
        "UPDATE kb_articles SET updated_at = $2 WHERE id = $1",
        &[&article_id, &now],
    )
    .await?;
    change(c, article_id, now).await?;
    audit(
        c,
        who,
        "kb.translation.saved",
        format!("kb_article:{article_id}"),
        j!({ "locale": locale, "title": input.title, "status": status, "revision": revision }),
        now,
    )
    .await?;
    load_translation(c, article_id, locale)
        .await?
        .ok_or(StoreError::NotFound("translation"))
}

pub(crate) async fn create_category(
    s: &PgStore,
    new: NewKbCategory,
    who: Actor,
    now: Now,
) -> Result<KbCategory> {
    let now = us(now);
    let mut c = s.conn().await?;
    let tx = c.transaction().await.db()?;
    let r = query_one(
        &tx,
        &format!("INSERT INTO kb_categories (brand_id, position, name, description, translations, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING {CAT_COLS}"),
        &[&new.brand_id, &new.position, &new.name, &new.description, &to_json(&new.translations)?, &now],
    )
    .await?;
    let cat = cat_row(&r)?;
    audit(
        &tx,
        who,
        "kb.category.created",
        format!("kb_category:{}", cat.id),
        j!({ "name": cat.name }),
        now,
    )
    .await?;
    tx.commit().await.db()?;
    Ok(cat)
}

pub(crate) async fn update_category(
    s: &PgStore,
    id: i64,
    up: KbGroupUpdate,
    who: Actor,
    now: Now,
) -> Result<KbCategory> {
    let now = us(now);
    let mut c = s.conn().await?;
    let tx = c.transaction().await.db()?;
    let mut cat = load_category(&tx, id, "FOR NO KEY UPDATE").await?;
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
    let r = query_one(
        &tx,
        &format!("UPDATE kb_categories SET brand_id = $2, position = $3, name = $4, description = $5, translations = $6, updated_at = $7 WHERE id = $1 RETURNING {CAT_COLS}"),
        &[&id, &cat.brand_id, &cat.position, &cat.name, &cat.description, &to_json(&cat.translations)?, &now],
    )
    .await?;
    let cat = cat_row(&r)?;
    audit(
        &tx,
        who,
        "kb.category.updated",
        format!("kb_category:{id}"),
        j!({ "name": cat.name }),
        now,
    )
    .await?;
    tx.commit().await.db()?;
    Ok(cat)
}

pub(crate) async fn delete_category(s: &PgStore, id: i64, who: Actor, now: Now) -> Result<()> {
    let now = us(now);
    let mut c = s.conn().await?;
    let tx = c.transaction().await.db()?;
    let cat = load_category(&tx, id, "FOR UPDATE").await?;
    if query_opt(
        &tx,
        "SELECT 1 FROM kb_sections WHERE category_id = $1 LIMIT 1",
        &[&id],
    )
    .await?
    .is_some()
    {
        return Err(StoreError::Conflict(
            "the category still has sections: move or delete them first".into(),
        ));
    }
    execute(&tx, "DELETE FROM kb_categories WHERE id = $1", &[&id]).await?;
    audit(
        &tx,
        who,
        "kb.category.deleted",
        format!("kb_category:{id}"),
        j!({ "name": cat.name }),
        now,
    )
    .await?;
    tx.commit().await.db()
}

pub(crate) async fn get_category(s: &PgStore, id: i64) -> Result<KbCategory> {
    let c = s.conn().await?;
    load_category(&c, id, "").await
}

pub(crate) async fn list_categories(s: &PgStore) -> Result<Vec<KbCategory>> {
    let c = s.conn().await?;
    query(
        &c,
        &format!("SELECT {CAT_COLS} FROM kb_categories ORDER BY position, id LIMIT 1000"),
        &[],
    )
    .await?
    .iter()
    .map(cat_row)
    .collect()
}

pub(crate) async fn create_section(
    s: &PgStore,
    new: NewKbSection,
    who: Actor,
    now: Now,
) -> Result<KbSection> {
    let now = us(now);
    let mut c = s.conn().await?;
    let tx = c.transaction().await.db()?;
    hold_category(&tx, new.category_id).await?;
    let r = query_one(
        &tx,
        &format!("INSERT INTO kb_sections (category_id, brand_id, position, name, description, translations, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING {SEC_COLS}"),
        &[&new.category_id, &new.brand_id, &new.position, &new.name, &new.description, &to_json(&new.translations)?, &now],
    )
    .await?;
    let sec = sec_row(&r)?;
    audit(
        &tx,
        who,
        "kb.section.created",
        format!("kb_section:{}", sec.id),
        j!({ "name": sec.name, "category_id": sec.category_id }),
        now,
    )
    .await?;
    tx.commit().await.db()?;
    Ok(sec)
}

pub(crate) async fn update_section(
    s: &PgStore,
    id: i64,
    up: KbGroupUpdate,
    who: Actor,
    now: Now,
) -> Result<KbSection> {
    let now = us(now);
    let mut c = s.conn().await?;
    let tx = c.transaction().await.db()?;
    let mut sec = load_section(&tx, id, "FOR NO KEY UPDATE").await?;
    let moved = up.category_id.is_some_and(|to| to != sec.category_id);
    if let Some(to) = up.category_id {
        hold_category(&tx, to).await?;
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
    let r = query_one(
        &tx,
        &format!("UPDATE kb_sections SET category_id = $2, brand_id = $3, position = $4, name = $5, description = $6, translations = $7, updated_at = $8 WHERE id = $1 RETURNING {SEC_COLS}"),
        &[&id, &sec.category_id, &sec.brand_id, &sec.position, &sec.name, &sec.description, &to_json(&sec.translations)?, &now],
    )
    .await?;
    let sec = sec_row(&r)?;
    if moved {
        // The articles' category changed: the index must hear of each.
        execute(
            &tx,
            "INSERT INTO kb_changes (article_id, at) SELECT id, $2 FROM kb_articles WHERE section_id = $1 ORDER BY id",
            &[&id, &now],
        )
        .await?;
    }
    audit(
        &tx,
        who,
        "kb.section.updated",
        format!("kb_section:{id}"),
        j!({ "name": sec.name, "category_id": sec.category_id }),
        now,
    )
    .await?;
    tx.commit().await.db()?;
    Ok(sec)
}

pub(crate) async fn delete_section(s: &PgStore, id: i64, who: Actor, now: Now) -> Result<()> {
    let now = us(now);
    let mut c = s.conn().await?;
    let tx = c.transaction().await.db()?;
    let sec = load_section(&tx, id, "FOR UPDATE").await?;
    if query_opt(
        &tx,
        "SELECT 1 FROM kb_articles WHERE section_id = $1 LIMIT 1",
        &[&id],
    )
    .await?
    .is_some()
    {
        return Err(StoreError::Conflict(
            "the section still has articles: move or delete them first".into(),
        ));
    }
    execute(&tx, "DELETE FROM kb_sections WHERE id = $1", &[&id]).await?;
    audit(
        &tx,
        who,
        "kb.section.deleted",
        format!("kb_section:{id}"),
        j!({ "name": sec.name }),
        now,
    )
    .await?;
    tx.commit().await.db()
}

pub(crate) async fn get_section(s: &PgStore, id: i64) -> Result<KbSection> {
    let c = s.conn().await?;
    load_section(&c, id, "").await
}

pub(crate) async fn list_sections(s: &PgStore, category_id: Option<i64>) -> Result<Vec<KbSection>> {
    let c = s.conn().await?;
    query(
        &c,
        &format!("SELECT {SEC_COLS} FROM kb_sections WHERE ($1::bigint IS NULL OR category_id = $1) ORDER BY position, id LIMIT 5000"),
        &[&category_id],
    )
    .await?
    .iter()
    .map(sec_row)
    .collect()
}

pub(crate) async fn create_article(
    s: &PgStore,
    new: NewKbArticle,
    who: Actor,
    now: Now,
) -> Result<KbArticleFull> {
    let now = us(now);
    let mut c = s.conn().await?;
    let tx = c.transaction().await.db()?;
    hold_section(&tx, new.section_id).await?;
    check_related(&tx, None, &new.related_ids).await?;
    let id: i64 = query_one(
        &tx,
        "INSERT INTO kb_articles (section_id, brand_id, position, source_locale, visibility, tags, related_ids, author_id, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) RETURNING id",
        &[&new.section_id, &new.brand_id, &new.position, &new.source_locale, &new.visibility.as_str(), &to_json(&new.tags)?, &to_json(&new.related_ids)?, &who.id, &now],
    )
    .await?
    .get(0);
    audit(
        &tx,
        who,
        "kb.article.created",
        format!("kb_article:{id}"),
        j!({ "section_id": new.section_id, "title": new.translation.title }),
        now,
    )
    .await?;
    save_translation(
        &tx,
        id,
        &new.source_locale,
        &new.source_locale,
        &new.translation,
        who,
        now,
    )
    .await?;
    let full = load_full(&tx, id)
        .await?
        .ok_or(StoreError::NotFound("article"))?;
    tx.commit().await.db()?;
    Ok(full)
}

pub(crate) async fn update_article(
    s: &PgStore,
    id: i64,
    up: KbArticleUpdate,
    who: Actor,
    now: Now,
) -> Result<KbArticle> {
    let now = us(now);
    let mut c = s.conn().await?;
    let tx = c.transaction().await.db()?;
    lock_article(&tx, id).await?;
    let mut a = article(&tx, id).await?;
    let mut changed = Vec::new();
    if let Some(sid) = up.section_id {
        hold_section(&tx, sid).await?;
        a.section_id = sid;
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
        check_related(&tx, Some(id), &r).await?;
        a.related_ids = r;
        changed.push("related_ids");
    }
    execute(
        &tx,
        "UPDATE kb_articles SET section_id = $2, brand_id = $3, position = $4, source_locale = $5, visibility = $6, tags = $7, related_ids = $8, updated_at = $9 WHERE id = $1",
        &[&id, &a.section_id, &a.brand_id, &a.position, &a.source_locale, &a.visibility.as_str(), &to_json(&a.tags)?, &to_json(&a.related_ids)?, &now],
    )
    .await?;
    change(&tx, id, now).await?;
    audit(
        &tx,
        who,
        "kb.article.updated",
        format!("kb_article:{id}"),
        j!({ "changed": changed }),
        now,
    )
    .await?;
    let a = article(&tx, id).await?;
    tx.commit().await.db()?;
    Ok(a)
}

pub(crate) async fn delete_article(s: &PgStore, id: i64, who: Actor, now: Now) -> Result<()> {
    let now = us(now);
    let mut c = s.conn().await?;
    let tx = c.transaction().await.db()?;
    lock_article(&tx, id).await?;
    let a = article(&tx, id).await?;
    // Translations, revisions, feedback and attachment rows go with it (ON DELETE CASCADE).
    execute(&tx, "DELETE FROM kb_articles WHERE id = $1", &[&id]).await?;
    change(&tx, id, now).await?;
    let titles: Vec<&str> = a.translations.iter().map(|t| t.title.as_str()).collect();
    audit(
        &tx,
        who,
        "kb.article.deleted",
        format!("kb_article:{id}"),
        j!({ "titles": titles }),
        now,
    )
    .await?;
    tx.commit().await.db()
}

pub(crate) async fn get_article(s: &PgStore, id: i64) -> Result<KbArticleFull> {
    article_for_index(s, id)
        .await?
        .ok_or(StoreError::NotFound("article"))
}

pub(crate) async fn article_for_index(s: &PgStore, id: i64) -> Result<Option<KbArticleFull>> {
    let mut c = s.conn().await?;
    // One snapshot for the article and its translations.
    let tx = c
        .build_transaction()
        .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await
        .db()?;
    let full = load_full(&tx, id).await?;
    tx.commit().await.db()?;
    Ok(full)
}

pub(crate) async fn list_articles(s: &PgStore, q: KbArticleQuery) -> Result<Page<KbArticle>> {
    let c = s.conn().await?;
    let limit = q.limit.clamp(0, 1000);
    let now = q.live_at.map(us);
    let sql = format!(
        "SELECT {ART_COLS} FROM kb_articles a JOIN kb_sections s ON s.id = a.section_id \
         WHERE ($1::bigint IS NULL OR a.section_id = $1) AND ($2::bigint IS NULL OR s.category_id = $2) \
         AND ($3::bigint IS NULL OR a.brand_id = $3) AND a.id > $4 \
         AND ($6::timestamptz IS NULL OR (a.visibility = 'public' AND EXISTS (SELECT 1 FROM kb_translations t WHERE t.article_id = a.id AND {}))) \
         ORDER BY a.id LIMIT $5",
        live("$6")
    );
    let overfetch = limit + 1;
    let mut items: Vec<KbArticle> = query(
        &c,
        &sql,
        &[
            &q.section_id,
            &q.category_id,
            &q.brand_id,
            &q.after_id.unwrap_or(0),
            &overfetch,
            &now,
        ],
    )
    .await?
    .iter()
    .map(art_row)
    .collect::<Result<_>>()?;
    if !items.is_empty() {
        let ids: Vec<i64> = items.iter().map(|a| a.id).collect();
        let sql = format!(
            "SELECT t.article_id, {HEAD_COLS} FROM kb_translations t WHERE t.article_id = ANY($1) \
             AND ($2::timestamptz IS NULL OR {}) ORDER BY t.article_id, t.locale",
            live("$2")
        );
        let mut by: std::collections::HashMap<i64, Vec<KbTranslationHead>> = Default::default();
        for r in query(&c, &sql, &[&ids, &now]).await? {
            by.entry(r.get(0)).or_default().push(head_at(&r, 1)?);
        }
        for a in &mut items {
            a.translations = by.remove(&a.id).unwrap_or_default();
        }
    }
    Ok(Page::from_overfetch(items, limit, |a| {
        encode_id_cursor(a.id)
    }))
}

pub(crate) async fn save_translation_for(
    s: &PgStore,
    article_id: i64,
    locale: &str,
    input: KbTranslationInput,
    who: Actor,
    now: Now,
) -> Result<KbTranslation> {
    let now = us(now);
    let mut c = s.conn().await?;
    let tx = c.transaction().await.db()?;
    let source = lock_article(&tx, article_id).await?;
    let t = save_translation(&tx, article_id, &source, locale, &input, who, now).await?;
    tx.commit().await.db()?;
    Ok(t)
}

pub(crate) async fn delete_translation(
    s: &PgStore,
    article_id: i64,
    locale: &str,
    who: Actor,
    now: Now,
) -> Result<()> {
    let now = us(now);
    let mut c = s.conn().await?;
    let tx = c.transaction().await.db()?;
    let source = lock_article(&tx, article_id).await?;
    if source == locale {
        return Err(StoreError::Conflict(
            "this is the article's source translation: make another one the source first, or delete the article".into(),
        ));
    }
    let n = execute(
        &tx,
        "DELETE FROM kb_translations WHERE article_id = $1 AND locale = $2",
        &[&article_id, &locale],
    )
    .await?;
    if n == 0 {
        return Err(StoreError::NotFound("translation"));
    }
    execute(
        &tx,
        "UPDATE kb_articles SET updated_at = $2 WHERE id = $1",
        &[&article_id, &now],
    )
    .await?;
    change(&tx, article_id, now).await?;
    audit(
        &tx,
        who,
        "kb.translation.deleted",
        format!("kb_article:{article_id}"),
        j!({ "locale": locale }),
        now,
    )
    .await?;
    tx.commit().await.db()
}

pub(crate) async fn revisions(
    s: &PgStore,
    article_id: i64,
    locale: &str,
) -> Result<Vec<KbRevision>> {
    let c = s.conn().await?;
    if query_opt(
        &c,
        "SELECT 1 FROM kb_articles WHERE id = $1",
        &[&article_id],
    )
    .await?
    .is_none()
    {
        return Err(StoreError::NotFound("article"));
    }
    query(
        &c,
        &format!("SELECT {REV_COLS} FROM kb_revisions WHERE article_id = $1 AND locale = $2 ORDER BY id DESC LIMIT 1000"),
        &[&article_id, &locale],
    )
    .await?
    .iter()
    .map(rev_row)
    .collect()
}

async fn load_revision<C: GenericClient>(
    c: &C,
    article_id: i64,
    revision_id: i64,
) -> Result<KbRevision> {
    let r = query_opt(
        c,
        &format!(
            "SELECT {REV_COLS}, body_html FROM kb_revisions WHERE id = $1 AND article_id = $2"
        ),
        &[&revision_id, &article_id],
    )
    .await?
    .ok_or(StoreError::NotFound("revision"))?;
    let mut rev = rev_row(&r)?;
    rev.body_html = Some(r.get(9));
    Ok(rev)
}

pub(crate) async fn revision(s: &PgStore, article_id: i64, revision_id: i64) -> Result<KbRevision> {
    let c = s.conn().await?;
    load_revision(&c, article_id, revision_id).await
}

pub(crate) async fn restore_revision(
    s: &PgStore,
    article_id: i64,
    revision_id: i64,
    who: Actor,
    now: Now,
) -> Result<KbTranslation> {
    let now = us(now);
    let mut c = s.conn().await?;
    let tx = c.transaction().await.db()?;
    let source = lock_article(&tx, article_id).await?;
    let rev = load_revision(&tx, article_id, revision_id).await?;
    let body_html = rev.body_html.unwrap_or_default();
    let body_text: String = query_one(
        &tx,
        "SELECT body_text FROM kb_revisions WHERE id = $1",
        &[&rev.id],
    )
    .await?
    .get(0);
    // The content comes back; the publication state stays as it is now.
    let (status, publish_at) = match load_translation(&tx, article_id, &rev.locale).await? {
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
    let t = save_translation(&tx, article_id, &source, &rev.locale, &input, who, now).await?;
    tx.commit().await.db()?;
    Ok(t)
}

pub(crate) async fn add_feedback(s: &PgStore, new: NewKbFeedback, now: Now) -> Result<KbFeedback> {
    let now = us(now);
    let mut c = s.conn().await?;
    let tx = c.transaction().await.db()?;
    let sql = if new.helpful {
        "UPDATE kb_articles SET helpful_yes = helpful_yes + 1 WHERE id = $1"
    } else {
        "UPDATE kb_articles SET helpful_no = helpful_no + 1 WHERE id = $1"
    };
    if execute(&tx, sql, &[&new.article_id]).await? == 0 {
        return Err(StoreError::NotFound("article"));
    }
    let r = query_one(
        &tx,
        "INSERT INTO kb_feedback (article_id, locale, helpful, comment, at) VALUES ($1, $2, $3, $4, $5) \
         RETURNING id, article_id, locale, helpful, comment, at",
        &[&new.article_id, &new.locale, &new.helpful, &new.comment, &now],
    )
    .await?;
    tx.commit().await.db()?;
    Ok(fb_row(&r))
}

pub(crate) async fn list_feedback(
    s: &PgStore,
    article_id: i64,
    page: PageRequest,
) -> Result<Page<KbFeedback>> {
    let c = s.conn().await?;
    if query_opt(
        &c,
        "SELECT 1 FROM kb_articles WHERE id = $1",
        &[&article_id],
    )
    .await?
    .is_none()
    {
        return Err(StoreError::NotFound("article"));
    }
    let limit = page.limit.clamp(0, 1000);
    let items: Vec<KbFeedback> = query(
        &c,
        "SELECT id, article_id, locale, helpful, comment, at FROM kb_feedback WHERE article_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3",
        &[&article_id, &page.after_id.unwrap_or(i64::MAX), &(limit + 1)],
    )
    .await?
    .iter()
    .map(fb_row)
    .collect();
    Ok(Page::from_overfetch(items, limit, |f| {
        encode_id_cursor(f.id)
    }))
}

pub(crate) async fn record_view(s: &PgStore, article_id: i64) -> Result<()> {
    let c = s.conn().await?;
    execute(
        &c,
        "UPDATE kb_articles SET view_count = view_count + 1 WHERE id = $1",
        &[&article_id],
    )
    .await?;
    Ok(())
}

pub(crate) async fn add_attachment(
    s: &PgStore,
    article_id: i64,
    file: NewAttachment,
    who: Actor,
    now: Now,
) -> Result<KbAttachment> {
    let now = us(now);
    let mut c = s.conn().await?;
    let tx = c.transaction().await.db()?;
    lock_article(&tx, article_id).await?;
    let sha = Sha256::digest(&file.data).to_vec();
    execute(
        &tx,
        "INSERT INTO blobs (sha256, data) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        &[&sha, &file.data],
    )
    .await?;
    let size = file.data.len() as i64;
    let r = query_one(
        &tx,
        &format!("INSERT INTO kb_attachments (article_id, filename, content_type, size, sha256, created_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING {ATT_COLS}"),
        &[&article_id, &file.filename, &file.content_type, &size, &sha, &now],
    )
    .await?;
    let att = att_row(&r);
    change(&tx, article_id, now).await?;
    audit(
        &tx,
        who,
        "kb.attachment.added",
        format!("kb_article:{article_id}"),
        j!({ "attachment_id": att.id, "filename": att.filename }),
        now,
    )
    .await?;
    tx.commit().await.db()?;
    Ok(att)
}

pub(crate) async fn attachments(s: &PgStore, article_id: i64) -> Result<Vec<KbAttachment>> {
    let c = s.conn().await?;
    Ok(query(
        &c,
        &format!("SELECT {ATT_COLS} FROM kb_attachments WHERE article_id = $1 ORDER BY id"),
        &[&article_id],
    )
    .await?
    .iter()
    .map(att_row)
    .collect())
}

pub(crate) async fn attachment(s: &PgStore, id: i64) -> Result<(KbAttachment, Vec<u8>)> {
    let c = s.conn().await?;
    let r = query_opt(
        &c,
        "SELECT x.id, x.article_id, x.filename, x.content_type, x.size, x.sha256, x.created_at, b.data \
         FROM kb_attachments x JOIN blobs b ON b.sha256 = x.sha256 WHERE x.id = $1",
        &[&id],
    )
    .await?
    .ok_or(StoreError::NotFound("attachment"))?;
    Ok((att_row(&r), r.get(7)))
}

pub(crate) async fn live_counts(s: &PgStore, now: Now) -> Result<Vec<KbLiveCount>> {
    let c = s.conn().await?;
    let now = us(now);
    let sql = format!(
        "SELECT a.section_id, t.locale, count(*) FROM kb_articles a JOIN kb_translations t ON t.article_id = a.id \
         WHERE a.visibility = 'public' AND {} GROUP BY a.section_id, t.locale ORDER BY a.section_id, t.locale",
        live("$1")
    );
    Ok(query(&c, &sql, &[&now])
        .await?
        .iter()
        .map(|r| KbLiveCount {
            section_id: r.get(0),
            locale: r.get(1),
            articles: r.get(2),
        })
        .collect())
}

pub(crate) async fn article_ids(s: &PgStore, after_id: i64, limit: i64) -> Result<Vec<i64>> {
    let c = s.conn().await?;
    Ok(query(
        &c,
        "SELECT id FROM kb_articles WHERE id > $1 ORDER BY id LIMIT $2",
        &[&after_id, &limit.max(0)],
    )
    .await?
    .iter()
    .map(|r| r.get(0))
    .collect())
}

/// How long `changes_since` waits for in-flight writers before answering "nothing yet".
const TAIL_WAIT: Duration = Duration::from_secs(1);

/// Tailing `kb_changes` safely, the way `tickets::events_since` tails `events`: a seq is
/// drawn when a transaction inserts its row, not when it commits, so seq 11 may be visible
/// while seq 10 is still in flight. Rows are read only up to the sequence's settled watermark
/// (`db::settled_watermark`), so a reader continuing after the last seq it got never skips
/// one. While a writer runs longer than `TAIL_WAIT`, this returns nothing and the reader
/// asks again.
pub(crate) async fn changes_since(s: &PgStore, after: i64, limit: i64) -> Result<Vec<(i64, i64)>> {
    if limit <= 0 {
        return Ok(Vec::new());
    }
    let c = s.conn().await?;
    let Some(watermark) =
        crate::db::settled_watermark(&c, "kb_changes_seq_seq", after, TAIL_WAIT).await?
    else {
        return Ok(Vec::new());
    };
    Ok(query(
        &c,
        "SELECT seq, article_id FROM kb_changes WHERE seq > $1 AND seq <= $2 \
         AND txid < pg_snapshot_xmin(pg_current_snapshot()) ORDER BY seq LIMIT $3",
        &[&after, &watermark, &limit],
    )
    .await?
    .iter()
    .map(|r| (r.get(0), r.get(1)))
    .collect())
}
