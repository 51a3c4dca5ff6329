//! `tend import`: streams JSON Lines, validates each record (line number and field on error),
//! writes batches while the next batch is parsed, and shows progress.

use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::BufRead;
use std::sync::Arc;
use std::time::Instant;
use tend_core::import::ImportRecord;
use tend_core::Clock;
use tend_store::Store;

enum Msg {
    Batch(Vec<ImportRecord>, u64),
    Bad {
        line: usize,
        field: String,
        message: String,
    },
}

pub async fn run(
    store: Option<Arc<dyn Store>>,
    file: &str,
    batch: usize,
    clock: Arc<dyn Clock>,
) -> Result<()> {
    let (size, reader): (Option<u64>, Box<dyn BufRead + Send>) = if file == "-" {
        (
            None,
            Box::new(std::io::BufReader::with_capacity(1 << 20, std::io::stdin())),
        )
    } else {
        let f = std::fs::File::open(file).with_context(|| format!("cannot open {file}"))?;
        (
            f.metadata().ok().map(|m| m.len()),
            Box::new(std::io::BufReader::with_capacity(1 << 20, f)),
        )
    };
    let bar = match size {
        Some(n) => ProgressBar::new(n).with_style(
            ProgressStyle::with_template(
                "{spinner} importing [{bar:40}] {bytes}/{total_bytes} {msg} (eta {eta})",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        ),
        None => ProgressBar::new_spinner().with_style(
            ProgressStyle::with_template("{spinner} importing {bytes} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        ),
    };
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Msg>(2);
    let parser = tokio::task::spawn_blocking(move || -> Result<()> {
        let mut buf = Vec::with_capacity(batch);
        let mut bytes = 0u64;
        for (i, line) in reader.lines().enumerate() {
            let line = line.with_context(|| format!("reading line {}", i + 1))?;
            bytes += line.len() as u64 + 1;
            if line.trim().is_empty() {
                continue;
            }
            match ImportRecord::parse_line(&line) {
                Ok(r) => buf.push(r),
                Err(e) => {
                    let _ = tx.blocking_send(Msg::Bad {
                        line: i + 1,
                        field: e.field,
                        message: e.message,
                    });
                    return Ok(());
                }
            }
            if buf.len() >= batch {
                if tx
                    .blocking_send(Msg::Batch(std::mem::take(&mut buf), bytes))
                    .is_err()
                {
                    return Ok(());
                }
                bytes = 0;
            }
        }
        if !buf.is_empty() || bytes > 0 {
            let _ = tx.blocking_send(Msg::Batch(buf, bytes));
        }
        Ok(())
    });
    let start = Instant::now();
    let (mut created, mut skipped, mut checked) = (0u64, 0u64, 0u64);
    let mut failure = None;
    while let Some(msg) = rx.recv().await {
        match msg {
            Msg::Batch(records, bytes) => {
                checked += records.len() as u64;
                if let Some(s) = &store {
                    let o = s
                        .import(records, clock.now())
                        .await
                        .map_err(crate::store_err)?;
                    created += o.created;
                    skipped += o.skipped;
                }
                bar.inc(bytes);
                let rate = (created + skipped).max(checked) as f64
                    / start.elapsed().as_secs_f64().max(1e-9);
                bar.set_message(format!("{created} created, {skipped} skipped, {rate:.0}/s"));
            }
            Msg::Bad {
                line,
                field,
                message,
            } => failure = Some(format!("line {line}: {field}: {message}")),
        }
    }
    parser.await.context("parser stopped")??;
    bar.finish_and_clear();
    let secs = start.elapsed().as_secs_f64();
    if let Some(f) = failure {
        bail!("{f}\n{created} tickets were imported before that line; fix it and run the same command again (already imported tickets are skipped by external_id)");
    }
    if store.is_none() {
        println!("{checked} records are valid ({secs:.1} s); nothing was written (--check)");
    } else {
        println!("imported {created} tickets, skipped {skipped} already present, in {secs:.1} s ({:.0} tickets/s)", (created + skipped) as f64 / secs.max(1e-9));
    }
    Ok(())
}
