//! `tend reindex` and where the search index lives.
//!
//! The index directory is `TEND_SEARCH_DIR` if set, else `search/` next to the SQLite file,
//! else `<data dir>/search` (PostgreSQL: each app server keeps its own index there).
//! `TEND_SEARCH=off` runs `tend serve` without search (the search API answers 503).

use crate::config::Config;
use anyhow::{anyhow, Result};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;
use tend_search::{Options, Search};

pub fn search_dir(cfg: &Config) -> PathBuf {
    if let Some(d) = std::env::var_os("TEND_SEARCH_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(d);
    }
    match cfg.sqlite_path() {
        Some(db) => db
            .parent()
            .map(|p| p.join("search"))
            .unwrap_or_else(|| PathBuf::from("search")),
        None => cfg.data_dir.join("search"),
    }
}

fn search_enabled() -> bool {
    !matches!(
        std::env::var("TEND_SEARCH").as_deref().map(str::trim),
        Ok("off" | "0" | "false" | "no")
    )
}

/// The search index for `tend serve`, or None (disabled, or it cannot be opened: the server
/// then runs without search and says why).
pub fn open_for_serve(cfg: &Config) -> Option<Arc<Search>> {
    if !search_enabled() {
        tracing::info!("full-text search is off (TEND_SEARCH=off)");
        return None;
    }
    let dir = search_dir(cfg);
    match Search::open_with(&dir, tend_search::Options::serving()) {
        Ok(s) => Some(Arc::new(s)),
        Err(e) => {
            tracing::error!(dir = %dir.display(), error = %e, "full-text search is unavailable");
            eprintln!(
                "warning: full-text search is unavailable ({e}); serving without it. Index directory: {}",
                dir.display()
            );
            None
        }
    }
}

/// Rebuilds the ticket index from the store with a progress bar.
pub async fn run(cfg: &Config) -> Result<()> {
    let store = cfg.open_store().await?;
    let dir = search_dir(cfg);
    let search = Search::open_with(&dir, Options::default())
        .map_err(|e| anyhow!("cannot open the search index in {}: {e}", dir.display()))?;
    let pb = ProgressBar::new(0).with_style(
        ProgressStyle::with_template(
            "{spinner} reindexing tickets [{bar:40}] {pos}/{len} {msg} (eta {eta})",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    let started = Instant::now();
    let n = tend_search::feed::reindex_tickets(&*store, &search, |done, total| {
        pb.set_length(total);
        pb.set_position(done);
    })
    .await
    .map_err(|e| anyhow!("reindex failed (the previous index is unchanged): {e}"))?;
    pb.finish_and_clear();
    println!(
        "indexed {n} tickets in {:.1} s into {} (checkpoint {})",
        started.elapsed().as_secs_f64(),
        dir.display(),
        search.tickets().checkpoint()
    );
    let pb = ProgressBar::new(0).with_style(
        ProgressStyle::with_template(
            "{spinner} reindexing help-center articles [{bar:40}] {pos}/{len} (eta {eta})",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    let started = Instant::now();
    let n = tend_search::feed::reindex_articles(&*store, &search, |done, total| {
        pb.set_length(total);
        pb.set_position(done);
    })
    .await
    .map_err(|e| anyhow!("article reindex failed (the previous index is unchanged): {e}"))?;
    pb.finish_and_clear();
    println!(
        "indexed {n} help-center articles ({} translations) in {:.1} s (checkpoint {})",
        search.kb().num_docs(),
        started.elapsed().as_secs_f64(),
        search.kb().checkpoint()
    );
    Ok(())
}
