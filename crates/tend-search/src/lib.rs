//! Tend's full-text search: two derived tantivy indexes (help-center articles and tickets)
//! under one directory, each tailing a sequence and keeping its checkpoint in its commits.
//!
//! - [`Search::open`] opens (or creates) `<dir>/kb` and `<dir>/tickets`;
//!   [`Search::open_in_ram`] is the same in memory (tests).
//! - [`KbIndex`] / [`TicketIndex`]: `checkpoint()`, `apply(ops, upto_seq)` (upserts and deletes
//!   committed atomically with the new checkpoint), `rebuild_begin()` for a full rebuild that
//!   swaps in at its end, and `search(&query)`.
//! - [`feed`] keeps the ticket index in step with a [`tend_store::Store`].
//!
//! **Every call here blocks** (disk, CPU): from async code call it inside
//! `tokio::task::spawn_blocking`. A [`Search`] is `Send + Sync` and cheap to clone.
//!
//! Queries are built from tokens, never parsed as syntax: see [`query`] for the rules
//! (at most [`query::MAX_QUERY_CHARS`] characters and [`query::MAX_TERMS`] words are used,
//! phrases in quotes, typo tolerance, prefix on the last word). Any input gives a result or
//! an empty result; only index failures (disk) are errors.

pub mod analysis;
mod articles;
pub mod feed;
pub mod highlight;
mod part;
pub mod query;
mod synonyms;
mod text;
mod tickets;

pub use articles::{ArticleDoc, ArticleOp, KbIndex, KbQuery, KbRebuild};
pub use text::html_to_text;
pub use tickets::{
    TicketBatch, TicketDoc, TicketIndex, TicketOp, TicketQuery, TicketRebuild, MAX_BODY_BYTES,
};

use serde::Serialize;
use std::path::Path;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error("search index {0}: {1}")]
    Index(&'static str, String),
    #[error("the {0} search index is in use by another process (is `tend serve` running on this data directory?)")]
    Locked(&'static str),
    #[error("a rebuild of the {0} search index is running")]
    Rebuilding(&'static str),
    #[error("search index files: {0}")]
    Io(String),
    #[error("search feed: {0}")]
    Store(#[from] tend_store::StoreError),
}

pub type Result<T, E = SearchError> = std::result::Result<T, E>;

/// Largest page of hits.
pub const MAX_LIMIT: usize = 100;
/// Deepest offset served (deeper pages are empty): ranked search is for the first pages.
pub const MAX_OFFSET: usize = 10_000;

/// One hit: an article translation or a ticket.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SearchHit {
    /// Article id or ticket id.
    pub id: i64,
    /// The article translation's locale (articles only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    /// The ticket's status when indexed (tickets only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    pub score: f32,
    /// Article title or ticket subject, plain text (escape it for HTML).
    pub title: String,
    /// HTML-safe excerpt with `<mark>` around hits.
    pub snippet: String,
}

#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct SearchResults {
    pub hits: Vec<SearchHit>,
    /// Every match, not just this page.
    pub total: usize,
}

/// Writer settings. Tantivy indexes with `writer_threads` threads that share
/// `writer_memory` bytes (at least 20 MB each) before flushing a segment.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    pub writer_threads: usize,
    pub writer_memory: usize,
}

impl Default for Options {
    /// Two threads, 256 MB for the ticket index (a 1M-ticket rebuild flushes a few dozen
    /// segments); the help-center index uses one thread and 32 MB.
    fn default() -> Self {
        Options {
            writer_threads: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
                .min(2),
            writer_memory: 256 * 1024 * 1024,
        }
    }
}

impl Options {
    /// For `tend serve`: one writer thread and 32 MB. The server indexes tickets a few at a
    /// time as they change; the rebuild budget (256 MB) only made the server's memory grow
    /// towards it (measured: 38 → ~240 MiB PSS under a create load, bench/RESULTS.md).
    pub fn serving() -> Self {
        Options {
            writer_threads: 1,
            writer_memory: 32 * 1024 * 1024,
        }
    }
}

/// The two indexes; clone freely (an `Arc` inside).
#[derive(Clone)]
pub struct Search {
    kb: KbIndex,
    tickets: TicketIndex,
}

impl Search {
    /// Opens or creates the indexes under `dir` (`dir/kb`, `dir/tickets`). An index written by
    /// an incompatible version is recreated empty (checkpoint 0: rebuild it).
    pub fn open(dir: impl AsRef<Path>) -> Result<Search> {
        Self::open_with(dir, Options::default())
    }

    pub fn open_with(dir: impl AsRef<Path>, opts: Options) -> Result<Search> {
        let dir = dir.as_ref();
        Ok(Search {
            kb: KbIndex::open(Some(&dir.join("kb")), 1, 32_000_000)?,
            tickets: TicketIndex::open(
                Some(&dir.join("tickets")),
                opts.writer_threads,
                opts.writer_memory,
            )?,
        })
    }

    /// Both indexes in memory (tests).
    pub fn open_in_ram() -> Result<Search> {
        Ok(Search {
            kb: KbIndex::open(None, 1, 20_000_000)?,
            tickets: TicketIndex::open(None, 1, 20_000_000)?,
        })
    }

    pub fn kb(&self) -> &KbIndex {
        &self.kb
    }

    pub fn tickets(&self) -> &TicketIndex {
        &self.tickets
    }
}

/// Clamps a page request to what is served.
pub(crate) fn page(limit: usize, offset: usize) -> Option<(usize, usize)> {
    let limit = limit.min(MAX_LIMIT);
    if limit == 0 || offset >= MAX_OFFSET {
        None
    } else {
        Some((limit, offset))
    }
}

#[allow(dead_code)]
fn _assert_send_sync() {
    fn is<T: Send + Sync + Clone + 'static>() {}
    is::<Search>();
    is::<Arc<Search>>();
}
