//! Keeps the ticket search index in step with the store on this node.
//!
//! On start: an empty index (checkpoint 0) over a large store is rebuilt in bulk
//! (`tend_search::feed::reindex_tickets`); otherwise, and from then on, the index catches up
//! from its checkpoint (`catch_up_tickets`) whenever the live-update hub reports a change and
//! at least every second, at most one commit per [`MIN_COMMIT_GAP`]. Each catch-up commits the index together with its new checkpoint,
//! so after a crash (kill -9 included) the next start continues from the last commit.
//! The help-center index catches up the same way from the KB change feed
//! (`Store::kb_changes_since`, `catch_up_articles`).

use crate::AppState;
use std::time::Duration;
use tend_search::feed::{catch_up_articles, catch_up_tickets, reindex_tickets};
use tend_search::SearchError;
use tokio::sync::broadcast::error::TryRecvError;
use tokio::sync::watch;

/// Events per index commit while catching up (their tickets are loaded and indexed
/// `tend_search::feed::LOAD_CHUNK` at a time, so this bounds the segment, not how many tickets
/// are in memory). Bigger batches mean fewer commits (segment files, fsyncs, reader reload,
/// later merges) but bigger in-memory segments and merges: on one core, 10,000 and 20,000
/// gave 3–10 % more creates/s than 2,000 and 5–20 MiB more peak PSS (S1 at 8 and 64 clients,
/// 2026-11-24 and -25), which the memory target (bench S6) cannot afford.
pub const BATCH: usize = 2_000;
/// An empty index over more events than this is rebuilt in bulk instead of replayed.
pub const BULK_REBUILD_ABOVE: i64 = 20_000;
/// The longest the index waits for a change it was not told about.
pub const POLL: Duration = Duration::from_secs(1);
/// After a catch-up that committed something, the tailer waits this long before the next
/// one: a change after a quiet spell is searchable at once, and under a steady write load
/// (thousands of tickets a second) the changes of this span share one index commit instead
/// of one commit (segment files, fsync, reader reload, later merges) per handful of tickets.
pub const MIN_COMMIT_GAP: Duration = Duration::from_millis(250);

/// Runs until `shutdown` turns true. Does nothing when search is not configured.
pub async fn run_search_tailer(state: AppState, mut shutdown: watch::Receiver<bool>) {
    let Some(search) = state.search.clone() else {
        return;
    };
    let store = state.store.clone();
    let mut changes = state.live.subscribe();
    let mut live = true;
    if search.tickets().checkpoint() == 0 {
        let events = store.last_seq().await.unwrap_or(0);
        if events > BULK_REBUILD_ABOVE {
            tracing::info!(
                events,
                "search index is empty: rebuilding it from the store"
            );
            let started = std::time::Instant::now();
            let mut next_log = 0u64;
            let rebuild = reindex_tickets(&*store, &search, |done, total| {
                if done >= next_log {
                    tracing::info!(done, total, "search index rebuild");
                    next_log = done + (total / 10).max(10_000);
                }
            });
            tokio::select! {
                r = rebuild => match r {
                    Ok(n) => tracing::info!(tickets = n, seconds = started.elapsed().as_secs_f64(), "search index rebuilt"),
                    Err(e) => tracing::warn!(error = %e, "search index rebuild failed; catching up event by event instead"),
                },
                _ = shutdown.changed() => return,
            }
        }
    }
    loop {
        // A long catch-up (a big import) must not hold up shutdown: dropping it mid-way is
        // safe, every commit carries its own checkpoint.
        let mut committed = false;
        tokio::select! {
            r = catch_up_tickets(&*store, &search, BATCH) => match r {
                Ok(0) => {}
                Ok(n) => {
                    committed = true;
                    tracing::debug!(events = n, "search index caught up")
                }
                Err(SearchError::Rebuilding(_)) => {}
                Err(e) => tracing::warn!(error = %e, "search index catch-up failed; retrying"),
            },
            _ = shutdown.changed() => {}
        }
        tokio::select! {
            r = catch_up_articles(&*store, &search) => match r {
                Ok(0) => {}
                Ok(n) => tracing::debug!(changes = n, "help-center index caught up"),
                Err(SearchError::Rebuilding(_)) => {}
                Err(e) => tracing::warn!(error = %e, "help-center index catch-up failed; retrying"),
            },
            _ = shutdown.changed() => {}
        }
        if *shutdown.borrow() {
            break;
        }
        if committed {
            tokio::select! {
                _ = tokio::time::sleep(MIN_COMMIT_GAP) => {}
                _ = shutdown.changed() => break,
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(POLL) => {}
            r = changes.recv(), if live => {
                if r.is_err() && matches!(changes.try_recv(), Err(TryRecvError::Closed)) {
                    live = false;
                }
                // Drain what else is queued: one catch-up covers it all.
                while changes.try_recv().is_ok() {}
            }
            _ = shutdown.changed() => {}
        }
        if *shutdown.borrow() {
            break;
        }
    }
}
