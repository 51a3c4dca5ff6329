//! `tend-bench reports` — S7: "monthly report (volume, FRT median/p90, resolution, FCR, CSAT)
//! over 1M tickets < 50 ms warm; roll-up rebuild for 1M tickets < 60 s".
//!
//! Seeds N generated tickets (tend-datagen, 90 days before 2026-11-01, imported through
//! `Store::import` in 20,000-ticket batches) into a SQLite file (reused when it already holds
//! N tickets) or, with `--postgres URL`, into the schema `bench_reports`; adds a CSAT survey
//! with answers for 30 % of the tickets (SQLite only: rows written directly, the survey
//! roll-up triggers running); times `tend_store::metrics::rebuild` (what `tend metrics
//! rebuild` runs); then times `tend_store::metrics::run_report` — the function behind the
//! page, the CSV and `/api/v1/reports/tickets` — for October 2026 by month in UTC and in
//! Europe/Berlin, after one warm-up run. Runs are bounded by `--runs` and `--max-seconds`.
//! One JSON line per series on stdout; progress on stderr.

use anyhow::{bail, Result};
use chrono::{DateTime, Utc};
use serde_json::json;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;
use tend_core::import::ImportRecord;
use tend_core::report::{ReportParams, ReportRequest};
use tend_core::Actor;
use tend_store::Store;

const SCHEMA: &str = "bench_reports";
const BATCH: u64 = 20_000;

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-01T12:00:00Z")
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default()
}

async fn seed(store: &dyn Store, tickets: u64) -> Result<f64> {
    let have = store.stats().await?.tickets.max(0) as u64;
    if have == tickets {
        eprintln!("  reusing {have} tickets");
        return Ok(0.0);
    }
    if have != 0 {
        bail!("the store holds {have} tickets, not {tickets}: remove it first");
    }
    let g = tend_datagen::Generator::new(tend_datagen::Spec::new(tickets, now()));
    let t = Instant::now();
    let mut i = 0;
    while i < tickets {
        let end = (i + BATCH).min(tickets);
        let batch: Vec<ImportRecord> = (i..end)
            .map(|k| ImportRecord::parse_line(&g.record(k).to_string()))
            .collect::<Result<_, _>>()
            .map_err(|e| anyhow::anyhow!("generated record: {e}"))?;
        store.import(batch, now()).await?;
        i = end;
        eprint!("\r  imported {i}/{tickets}");
    }
    eprintln!();
    Ok(t.elapsed().as_secs_f64())
}

/// A CSAT survey with answers for 30 % of the tickets (SQLite: straight into the tables).
async fn seed_csat(path: &Path, store: &dyn Store, tickets: u64) -> Result<u64> {
    if !store.list_surveys().await?.is_empty() {
        return Ok(0);
    }
    let survey = store
        .create_survey(
            tend_store::survey::NewSurvey {
                name: "CSAT".into(),
                kind: tend_store::survey::SurveyKind::Csat,
                scale: Some(5),
                question: [("en".to_string(), "How satisfied were you?".to_string())].into(),
                follow_up: Default::default(),
                delay_hours: 0,
                throttle_days: 0,
                sample_rate: 1.0,
                expires_days: 14,
                active: false,
                rules: Default::default(),
                questions: vec![],
            },
            Actor::SYSTEM,
            now(),
        )
        .await?;
    let mut c = rusqlite::Connection::open(path)?;
    c.pragma_update(None, "synchronous", "OFF")?;
    let tx = c.transaction()?;
    let mut n = 0u64;
    {
        let mut inv = tx.prepare(
            "INSERT INTO survey_invitations(id, survey_id, kind, ticket_id, customer_id, agent_id, group_id, channel, send_key, token_hash, sent_at, expires_at, responded) \
             SELECT ?1, ?2, 'csat', t.id, t.requester_id, t.assignee_id, t.group_id, t.channel, 'bench-' || t.id, ?3, ?4, ?4 + 1209600000000, 1 FROM tickets t WHERE t.id = ?1",
        )?;
        let mut resp = tx.prepare(
            "INSERT INTO survey_responses(invitation_id, score, created_at, updated_at) VALUES (?1, ?2, ?3, ?3)",
        )?;
        let span_us: i64 = 90 * 86_400_000_000;
        let start = now().timestamp_micros() - span_us;
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for id in 1..=tickets as i64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            if x % 10 >= 3 {
                continue;
            }
            let at = start + (x >> 8) as i64 % span_us;
            let score = [5, 5, 5, 4, 4, 3, 2, 1][(x >> 40) as usize % 8];
            if inv.execute(rusqlite::params![
                id,
                survey.id,
                id.to_be_bytes().to_vec(),
                at
            ])? == 1
            {
                resp.execute(rusqlite::params![id, score, at])?;
                n += 1;
            }
        }
    }
    tx.commit()?;
    // As the survey bench does: without statistics SQLite counts answers of a partial day
    // through the invitations' kind index (every CSAT invitation) instead of the answers'
    // time index.
    c.execute_batch("ANALYZE")?;
    Ok(n)
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[(((p / 100.0) * (sorted.len() as f64 - 1.0)).round() as usize).min(sorted.len() - 1)]
}

async fn time_reports(store: &dyn Store, backend: &str, tickets: u64, opts: &Opts) -> Result<()> {
    let (runs, max_seconds, metrics) = (opts.runs, opts.max_seconds, opts.metrics.as_str());
    let series = [
        ("UTC", None),
        ("Europe/Berlin", None),
        ("UTC", Some("group")),
        ("Europe/Berlin", Some("group")),
        // Issue 8: the per-tag (top 20 + "(other)") and per-language roll-ups.
        ("UTC", Some("tag")),
        ("Europe/Berlin", Some("tag")),
        ("UTC", Some("language")),
    ];
    for (tz, group_by) in series {
        let params = ReportParams {
            group_by: group_by.map(str::to_string),
            from: Some("2026-10-01".into()),
            to: Some("2026-10-31".into()),
            tz: Some(tz.into()),
            interval: Some("month".into()),
            metrics: Some(
                std::env::var("S7_METRICS")
                    .unwrap_or_else(|_| "volume,frt,resolution,fcr,csat".into()),
            ),
            ..Default::default()
        };
        let req = ReportRequest::parse(&params, now())?;
        let warm = tend_store::metrics::run_report(store, &req).await?;
        let col = |k: &str| {
            warm.columns
                .iter()
                .position(|c| c.key == k)
                .and_then(|i| warm.total.values[i])
                .map(|v| v.to_string())
                .unwrap_or_default()
        };
        eprintln!(
            "  {tz} {group_by:?}: created {} solves {} frt median {} s p90 {} s full resolution median {} s fcr {} % csat {} % ({} answers)",
            col("created"),
            col("solved"),
            col("frt_median"),
            col("frt_p90"),
            col("full_resolution_median"),
            col("fcr_rate"),
            col("csat"),
            col("csat_responses")
        );
        let mut ms = Vec::new();
        let t0 = Instant::now();
        while ms.len() < runs && t0.elapsed().as_secs_f64() < max_seconds {
            let t = Instant::now();
            let r = tend_store::metrics::run_report(store, &req).await?;
            ms.push(t.elapsed().as_secs_f64() * 1000.0);
            std::hint::black_box(r);
        }
        ms.sort_by(f64::total_cmp);
        println!(
            "{}",
            json!({
                "scenario": "S7 monthly report", "metrics": metrics,
                "store": backend, "tickets": tickets, "tz": tz, "group_by": group_by, "runs": ms.len(),
                "p50_ms": (pct(&ms, 50.0) * 100.0).round() / 100.0,
                "p99_ms": (pct(&ms, 99.0) * 100.0).round() / 100.0,
                "max_ms": (ms.last().copied().unwrap_or(f64::NAN) * 100.0).round() / 100.0,
            })
        );
    }
    Ok(())
}

async fn rebuild(store: &dyn Store, backend: &str, tickets: u64) -> Result<()> {
    let t = Instant::now();
    let mut last = Instant::now();
    let mut progress = |p: tend_store::metrics::RebuildProgress| {
        if last.elapsed().as_secs_f64() > 2.0 {
            eprintln!(
                "  rebuild: {}/{} tickets, {} rows written, {:.1} s",
                p.tickets_done,
                p.tickets_total,
                p.rows_written,
                t.elapsed().as_secs_f64()
            );
            last = Instant::now();
        }
    };
    let out = tend_store::metrics::rebuild(store, now(), &mut progress).await?;
    let secs = t.elapsed().as_secs_f64();
    println!(
        "{}",
        json!({
            "scenario": "S7 roll-up rebuild", "store": backend, "tickets": out.tickets,
            "rows": out.rows, "skipped": out.skipped, "seconds": (secs * 10.0).round() / 10.0,
            "tickets_per_second": (out.tickets as f64 / secs).round(),
        })
    );
    if out.tickets != tickets {
        bail!("rebuilt {} tickets, expected {tickets}", out.tickets);
    }
    Ok(())
}

/// How the reports are timed.
pub struct Opts {
    pub runs: usize,
    pub max_seconds: f64,
    pub skip_rebuild: bool,
    /// The `metrics=` families of the timed report.
    pub metrics: String,
}

pub async fn run(tickets: u64, sqlite: &Path, postgres: Option<&str>, opts: Opts) -> Result<()> {
    let skip_rebuild = opts.skip_rebuild;
    eprintln!("SQLite: {}", sqlite.display());
    let store = tend_sqlite::SqliteStore::open(sqlite)?;
    let secs = seed(&store, tickets).await?;
    if secs > 0.0 {
        eprintln!("  imported {tickets} tickets in {secs:.1} s");
    }
    let answers = seed_csat(sqlite, &store, tickets).await?;
    if answers > 0 {
        eprintln!("  {answers} CSAT answers");
    }
    if !skip_rebuild {
        rebuild(&store, "sqlite", tickets).await?;
    }
    time_reports(&store, "sqlite", tickets, &opts).await?;
    store.close();
    if let Some(url) = postgres {
        eprintln!("PostgreSQL: {url} (schema {SCHEMA})");
        let store: Arc<dyn Store> =
            Arc::new(tend_postgres::PgStore::open(url, Some(SCHEMA), 4).await?);
        let secs = seed(store.as_ref(), tickets).await?;
        if secs > 0.0 {
            eprintln!("  imported {tickets} tickets in {secs:.1} s");
        }
        if !skip_rebuild {
            rebuild(store.as_ref(), "postgres", tickets).await?;
        }
        time_reports(store.as_ref(), "postgres", tickets, &opts).await?;
    }
    Ok(())
}
