//! `tend-bench generate`: the benchmark data set (tend-datagen) as JSON Lines, for
//! `tend import` or — the same tickets, flat — for the peers' loaders. Deterministic for a
//! seed and a "now"; progress on stderr.

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use std::io::Write;
use std::path::Path;
use std::time::Instant;

pub fn run(
    tickets: u64,
    seed: u64,
    now: Option<&str>,
    marker: Option<String>,
    every: u64,
    peers: bool,
    out: Option<&Path>,
) -> Result<()> {
    let now: DateTime<Utc> = match now {
        Some(s) => DateTime::parse_from_rfc3339(s)
            .with_context(|| format!("--now {s}: not RFC 3339"))?
            .with_timezone(&Utc),
        None => Utc::now()
            .date_naive()
            .and_hms_opt(0, 0, 0)
            .unwrap_or_default()
            .and_utc(),
    };
    let mut spec = tend_datagen::Spec::new(tickets, now);
    spec.seed = seed;
    spec.marker = marker.map(|word| tend_datagen::Marker { word, every });
    let g = tend_datagen::Generator::new(spec);
    let sink: Box<dyn Write> = match out {
        Some(p) => Box::new(
            std::fs::File::create(p).with_context(|| format!("cannot create {}", p.display()))?,
        ),
        None => Box::new(std::io::stdout().lock()),
    };
    let mut w = std::io::BufWriter::with_capacity(1 << 20, sink);
    let started = Instant::now();
    let mut last = Instant::now();
    for i in 0..g.len() {
        let rec = g.record(i);
        let line = if peers {
            tend_datagen::peer_record(i + 1, &rec)
        } else {
            rec
        };
        if writeln!(w, "{line}").is_err() {
            break; // reader went away
        }
        if last.elapsed().as_millis() > 500 || i + 1 == g.len() {
            eprint!("\r  generating: {}/{tickets}", i + 1);
            last = Instant::now();
        }
    }
    w.flush()?;
    eprintln!(" ({:.1} s)", started.elapsed().as_secs_f64());
    Ok(())
}
