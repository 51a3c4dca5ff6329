//! `tend metrics …`: rebuild the metric roll-ups from the events, or bring them up to date.

use anyhow::Result;
use clap::Subcommand;
use indicatif::{ProgressBar, ProgressStyle};
use std::sync::Arc;
use std::time::Instant;
use tend_core::Clock;

use crate::config::Config;

#[derive(Subcommand)]
pub enum MetricsCmd {
    /// Recompute every ticket's metrics and every roll-up from the events (after an upgrade
    /// or a change of the business calendar). Servers keep running; their tailers stand
    /// aside until it finishes and then continue from where it ended.
    Rebuild,
    /// Apply the events the roll-ups have not seen yet (what the server's worker does).
    CatchUp,
}

pub async fn run(cfg: Config, clock: Arc<dyn Clock>, cmd: MetricsCmd) -> Result<()> {
    let store = cfg.open_store().await?;
    match cmd {
        MetricsCmd::Rebuild => {
            let bar = ProgressBar::new(0).with_style(
                ProgressStyle::with_template(
                    "{spinner} rebuilding metrics [{bar:40}] {pos}/{len} tickets {msg} (eta {eta})",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            let started = Instant::now();
            let b = bar.clone();
            let mut progress = move |p: tend_store::metrics::RebuildProgress| {
                b.set_length(p.tickets_total.max(p.tickets_done));
                b.set_position(p.tickets_done);
                if p.rows_written > 0 {
                    b.set_message(format!("· {} roll-up rows written", p.rows_written));
                }
            };
            let out = tend_store::metrics::rebuild(&*store, clock.now(), &mut progress)
                .await
                .map_err(crate::store_err)?;
            bar.finish_and_clear();
            println!(
                "rebuilt metrics of {} tickets ({} roll-up rows, {} histories skipped) up to event {} in {:.1} s",
                out.tickets,
                out.rows,
                out.skipped,
                out.last_seq,
                started.elapsed().as_secs_f64()
            );
        }
        MetricsCmd::CatchUp => {
            let started = Instant::now();
            let mut events = 0;
            // Bounded: at most 10,000 batches per run.
            for _ in 0..10_000 {
                let o = tend_store::metrics::tail(&*store, clock.now(), 1)
                    .await
                    .map_err(crate::store_err)?;
                events += o.events;
                if o.events == 0 {
                    println!(
                        "metrics are up to date at event {} ({events} events applied in {:.1} s)",
                        o.last_seq,
                        started.elapsed().as_secs_f64()
                    );
                    return Ok(());
                }
            }
            println!("{events} events applied; run it again to continue");
        }
    }
    Ok(())
}
