//! Keeps the ticket index in step with a [`Store`]: tail the event sequence from the index's
//! checkpoint, reload each touched ticket, apply with the batch's last sequence number.
//!
//! Catching up is idempotent (a ticket is always re-read whole), so re-feeding events the
//! index has already seen is harmless: after a crash the caller just calls
//! [`catch_up_tickets`] again and it continues from the last commit.

use crate::{ArticleDoc, ArticleOp, Search, SearchError, TicketDoc, TicketOp};
use std::collections::BTreeSet;
use tend_core::Ticket;
use tend_store::Store;

/// Batches one [`catch_up_tickets`] call handles at most before it returns (so a busy
/// store cannot keep it from returning).
pub const MAX_ROUNDS: usize = 200;
/// Tickets read per store call during a rebuild.
pub const REBUILD_PAGE: i64 = 2_000;
/// On PostgreSQL, a rebuild's checkpoint is this many events below the last sequence number
/// it saw: a transaction that took a sequence number before the rebuild read it but
/// committed after the scan passed its ticket is re-applied by the catch-up that follows.
/// (SQLite assigns sequence numbers in commit order, so it needs no margin.)
pub const PG_REBUILD_MARGIN: i64 = 10_000;

/// The index document for a ticket and its message bodies.
pub fn ticket_doc(t: &Ticket, messages: Vec<String>) -> TicketDoc {
    TicketDoc {
        ticket_id: t.id,
        group_id: t.group_id,
        assignee_id: t.assignee_id,
        customer_id: Some(t.requester_id),
        organization_id: t.organization_id,
        status: t.status.as_str().to_string(),
        subject: t.subject.clone(),
        messages,
        tags: t.tags.clone(),
        updated_at: t.updated_at.timestamp(),
    }
}

/// Index operations for these tickets (ascending ids, no repeats), read in one store call: an
/// upsert for each ticket that exists, a delete for each that does not (any more).
async fn load_many(store: &dyn Store, ids: &[i64]) -> Result<Vec<TicketOp>, SearchError> {
    let mut ops = Vec::with_capacity(ids.len());
    let mut found = store
        .tickets_for_index_by_id(ids.to_vec())
        .await?
        .into_iter()
        .peekable();
    for &id in ids {
        match found.next_if(|(t, _)| t.id == id) {
            Some((t, messages)) => ops.push(TicketOp::Upsert(ticket_doc(&t, messages))),
            None => ops.push(TicketOp::Delete(id)),
        }
    }
    Ok(ops)
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, SearchError> + Send + 'static,
) -> Result<T, SearchError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| SearchError::Index("tickets", format!("indexing task failed: {e}")))?
}

/// Events read per store call while catching up.
pub const READ_PAGE: i64 = 2_000;
/// Tickets loaded and handed to the index writer at a time while catching up: the most
/// tickets (with their messages) a catch-up holds in memory.
pub const LOAD_CHUNK: usize = 500;

/// Applies every event after the index's checkpoint, up to `batch` events per commit (at
/// most [`MAX_ROUNDS`] commits per call); returns the number of events applied. Each commit
/// reads its events ([`READ_PAGE`] at a time) and keeps only the ids of the tickets they
/// touch, then loads those tickets [`LOAD_CHUNK`] at a time into the writer and commits
/// once: a ticket touched by many of the events is indexed once, and only one chunk of
/// tickets is in memory. A ticket that no longer exists is removed from the index.
pub async fn catch_up_tickets(
    store: &dyn Store,
    search: &Search,
    batch: usize,
) -> Result<u64, SearchError> {
    let batch = batch.max(1) as u64;
    let mut applied = 0u64;
    for _ in 0..MAX_ROUNDS {
        let mut cursor = search.tickets().checkpoint();
        let mut ids = BTreeSet::new();
        let mut events = 0u64;
        let mut drained = false;
        while events < batch {
            let want = (batch - events).min(READ_PAGE as u64) as i64;
            let page = store.events_since(cursor, want).await?;
            let Some(last) = page.last().map(|e| e.seq) else {
                drained = true;
                break;
            };
            cursor = last;
            events += page.len() as u64;
            // Survey marks change nothing the index holds.
            ids.extend(
                page.iter()
                    .filter(|e| !e.change.is_survey())
                    .map(|e| e.ticket_id),
            );
            if (page.len() as i64) < want {
                drained = true;
                break;
            }
        }
        if events == 0 {
            break;
        }
        let ix = search.tickets().clone();
        let mut staged = crate::TicketBatch::default();
        let ids: Vec<i64> = ids.into_iter().collect();
        for chunk in ids.chunks(LOAD_CHUNK) {
            let ops = load_many(store, chunk).await?;
            let ix = ix.clone();
            staged = blocking(move || ix.stage(&mut staged, ops).map(|_| staged)).await?;
        }
        blocking(move || ix.commit_batch(staged, cursor)).await?;
        applied += events;
        if drained {
            break;
        }
    }
    Ok(applied)
}

/// Rebuilds the ticket index from the store: every ticket is read in id order (in pages of
/// [`REBUILD_PAGE`], reading overlapping with indexing) and the new index replaces the old
/// one in one commit whose checkpoint is the sequence number seen before the scan; then the
/// events written meanwhile are applied. Searches see the old index until the swap.
/// `progress(done, total)` is called after each page. Returns the tickets indexed.
pub async fn reindex_tickets(
    store: &dyn Store,
    search: &Search,
    mut progress: impl FnMut(u64, u64),
) -> Result<u64, SearchError> {
    let last = store.last_seq().await?;
    let start_seq = if store.backend() == "postgres" {
        (last - PG_REBUILD_MARGIN).max(0)
    } else {
        last
    };
    let total = store.stats().await?.tickets.max(0) as u64;
    let ix = search.tickets().clone();
    let mut rb = blocking(move || ix.rebuild_begin()).await?;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<TicketDoc>>(4);
    let indexer = tokio::task::spawn_blocking(move || {
        while let Some(docs) = rx.blocking_recv() {
            rb.add(docs)?;
        }
        Ok::<_, SearchError>(rb)
    });
    let mut after = 0i64;
    let mut done = 0u64;
    let read: Result<(), SearchError> = async {
        // Each page moves `after` forward, so this ends; the bound is a guard.
        for _ in 0..=(total / REBUILD_PAGE as u64 + 1_000_000) {
            let rows = store.tickets_for_index(after, REBUILD_PAGE).await?;
            let Some(last) = rows.last().map(|r| r.0.id) else {
                break;
            };
            after = last;
            done += rows.len() as u64;
            let docs: Vec<TicketDoc> = rows.into_iter().map(|(t, m)| ticket_doc(&t, m)).collect();
            if tx.send(docs).await.is_err() {
                break; // the indexer stopped: its error is reported below
            }
            progress(done, total.max(done));
        }
        Ok(())
    }
    .await;
    drop(tx);
    let rb = indexer
        .await
        .map_err(|e| SearchError::Index("tickets", format!("indexing task failed: {e}")))??;
    read?;
    let n = blocking(move || rb.finish(start_seq)).await?;
    catch_up_tickets(store, search, 1_000).await?;
    Ok(n)
}

// --- help-center articles ------------------------------------------------------------------

/// Article changes read per store call.
pub const KB_BATCH: i64 = 500;

/// The index documents of an article: one per translation that is or will become live
/// (published, or a draft with a publish time); archived and unscheduled drafts are left out.
/// `published` means "live at some time": readers' searches re-check each hit with
/// [`tend_store::kb::KbTranslationHead::is_live`] at the time of the search, so a scheduled
/// translation shows up when its time comes without another change.
pub fn article_docs(full: &tend_store::kb::KbArticleFull) -> Vec<ArticleDoc> {
    use tend_store::kb::{KbStatus, KbVisibility};
    let a = &full.article;
    full.translations
        .iter()
        .filter(|t| match t.head.status {
            KbStatus::Archived => false,
            KbStatus::Published => true,
            KbStatus::Draft => t.head.publish_at.is_some(),
        })
        .map(|t| ArticleDoc {
            article_id: a.id,
            locale: t.head.locale.clone(),
            title: t.head.title.clone(),
            body_text: t.body_text.clone(),
            tags: a.tags.clone(),
            category_id: Some(a.category_id),
            section_id: Some(a.section_id),
            brand_id: a.brand_id,
            public: a.visibility == KbVisibility::Public,
            published: true,
        })
        .collect()
}

/// The operations that bring an article's documents up to date: remove every translation,
/// then add the current ones (in one commit; a deleted article is only removed).
async fn article_ops(store: &dyn Store, id: i64) -> Result<Vec<ArticleOp>, SearchError> {
    let mut ops = vec![ArticleOp::Delete { article_id: id }];
    if let Some(full) = store.kb_article_for_index(id).await? {
        ops.extend(article_docs(&full).into_iter().map(ArticleOp::Upsert));
    }
    Ok(ops)
}

/// Applies every article change after the help-center index's checkpoint (at most
/// [`MAX_ROUNDS`] commits of [`KB_BATCH`] changes per call); returns the changes applied.
pub async fn catch_up_articles(store: &dyn Store, search: &Search) -> Result<u64, SearchError> {
    let mut applied = 0u64;
    for _ in 0..MAX_ROUNDS {
        let after = search.kb().checkpoint();
        let changes = store.kb_changes_since(after, KB_BATCH).await?;
        let Some(upto) = changes.last().map(|c| c.0) else {
            break;
        };
        let ids: BTreeSet<i64> = changes.iter().map(|c| c.1).collect();
        let mut ops = Vec::new();
        for id in ids {
            ops.extend(article_ops(store, id).await?);
        }
        let ix = search.kb().clone();
        blocking(move || ix.apply(ops, upto)).await?;
        applied += changes.len() as u64;
        if (changes.len() as i64) < KB_BATCH {
            break;
        }
    }
    Ok(applied)
}

/// Rebuilds the help-center index from the store: the change feed's last sequence number is
/// read first, then every article in id order; the new index replaces the old one with that
/// checkpoint, and changes written meanwhile are applied by the next catch-up (re-reading an
/// article is idempotent). `progress(done, total)` after each page. Returns the articles read.
pub async fn reindex_articles(
    store: &dyn Store,
    search: &Search,
    mut progress: impl FnMut(u64, u64),
) -> Result<u64, SearchError> {
    // The feed's end: page through the sequence numbers only.
    let mut upto = 0i64;
    loop {
        let page = store.kb_changes_since(upto, 10_000).await?;
        match page.last() {
            Some(last) => upto = last.0,
            None => break,
        }
        if page.len() < 10_000 {
            break;
        }
    }
    let mut ids = Vec::new();
    let mut after = 0i64;
    loop {
        let page = store.kb_article_ids(after, 10_000).await?;
        let Some(last) = page.last().copied() else {
            break;
        };
        after = last;
        ids.extend(page);
    }
    let total = ids.len() as u64;
    let ix = search.kb().clone();
    let mut rb = blocking(move || ix.rebuild_begin()).await?;
    let mut done = 0u64;
    for chunk in ids.chunks(200) {
        let mut docs = Vec::new();
        for id in chunk {
            if let Some(full) = store.kb_article_for_index(*id).await? {
                docs.extend(article_docs(&full));
            }
        }
        rb = blocking(move || {
            rb.add(docs)?;
            Ok(rb)
        })
        .await?;
        done += chunk.len() as u64;
        progress(done, total);
    }
    blocking(move || rb.finish(upto)).await?;
    Ok(total)
}
