//! `tend-bench sla-recompute` — issue 5: "recomputing every clock of 1M open tickets after a
//! calendar change < 30 s".
//!
//! Seeds N open tickets (tend-datagen's records with their status forced open — new, open,
//! pending or on_hold — and their solve dropped from the history; imported through
//! `Store::import` in 20,000-ticket batches) into a SQLite file (reused when it holds N
//! tickets) or, with `--postgres URL`, into the schema `bench_sla`. Stores an SLA
//! configuration (Berlin hours, four policies) and runs one full pass to settle the stored
//! due times and checks; then changes the calendars (other default hours, a named calendar
//! for two groups, a holiday) and times the full pass again: what the `sla.recompute` job
//! runs (`tend_store::sla_bulk::recompute_page`: pages of `--page` tickets, two reads and one
//! write transaction each, evaluation on all cores). One JSON line per pass on stdout
//! (`seconds`, its read / evaluate / write split, tickets, changed due times, rows written,
//! load average before and after); progress on stderr.

use anyhow::{bail, Result};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;
use tend_core::import::ImportRecord;
use tend_core::sla::{CalendarSpec, Calendars, NamedCalendar, Policy};
use tend_core::Actor;
use tend_store::Store;

const SCHEMA: &str = "bench_sla";
const BATCH: u64 = 20_000;

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-02T10:00:00Z")
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default()
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// A generated record with an open status and no solve in its history.
fn open_record(g: &tend_datagen::Generator, k: u64) -> Value {
    let mut rec = g.record(k);
    let status = rec["status"].as_str().unwrap_or("open").to_string();
    if matches!(status.as_str(), "solved" | "closed") {
        rec["status"] = json!(["open", "pending", "open", "on_hold", "new"][(k % 5) as usize]);
        if let Some(h) = rec["history"].as_array_mut() {
            h.retain(|e| !matches!(e["status"].as_str(), Some("solved" | "closed")));
        }
    }
    rec
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
    // Days: the tickets are open, so keep them recent (a month).
    let mut spec = tend_datagen::Spec::new(tickets, now());
    spec.days = 30;
    let g = tend_datagen::Generator::new(spec);
    let t = Instant::now();
    let mut i = 0;
    while i < tickets {
        let end = (i + BATCH).min(tickets);
        let batch: Vec<ImportRecord> = (i..end)
            .map(|k| ImportRecord::parse_line(&open_record(&g, k).to_string()))
            .collect::<Result<_, _>>()
            .map_err(|e| anyhow::anyhow!("generated record: {e}"))?;
        store.import(batch, now()).await?;
        i = end;
        eprint!("\r  imported {i}/{tickets}");
    }
    eprintln!();
    Ok(t.elapsed().as_secs_f64())
}

fn config(changed: bool) -> Value {
    let spec = |text: &str| -> Value {
        serde_json::to_value(
            CalendarSpec::parse(text)
                .map(|(s, _)| s)
                .unwrap_or_else(|_| CalendarSpec {
                    time_zone: "UTC".into(),
                    hours: vec![],
                    holidays: vec![],
                }),
        )
        .unwrap_or_default()
    };
    let (default, calendars) = if changed {
        (
            spec("zone Europe/Berlin\nmon-fri 08:00-18:00\nsat 10:00-14:00\nholiday 2026-11-03 Bench holiday\nyearly 12-25 Christmas"),
            json!([
                {"name": "new-york", "spec": spec("zone America/New_York\nmon-fri 09:00-17:00"), "group_ids": [1, 2]},
                {"name": "tokyo", "spec": spec("zone Asia/Tokyo\nmon-fri 09:00-18:00"), "brand_ids": [1]}
            ]),
        )
    } else {
        (spec("zone Europe/Berlin\nmon-fri 09:00-17:00"), json!([]))
    };
    json!({
        "calendar": default,
        "calendars": calendars,
        "policies": [
            {"name": "Urgent", "conditions": {"priority": ["urgent"]},
             "targets": [{"metric": "first_reply", "minutes": 30}, {"metric": "resolution", "minutes": 480}]},
            {"name": "VIP", "conditions": {"tags_any": ["vip"]},
             "targets": [{"metric": "first_reply", "minutes": 60}, {"metric": "next_reply", "minutes": 120}]},
            {"name": "Chat", "conditions": {"channel": ["chat", "phone"]},
             "targets": [{"metric": "first_reply", "minutes": 15, "business_hours": false}]},
            {"name": "Standard", "targets": [{"metric": "first_reply", "minutes": 240},
             {"metric": "next_reply", "minutes": 480}, {"metric": "periodic_update", "minutes": 1440},
             {"metric": "resolution", "minutes": 4800}]}
        ],
        "warn_before_minutes": 30
    })
}

/// Parses a configuration the way the SLA API does (default + named calendars, policies).
fn parsed(cfg: &Value) -> Result<(Calendars, Vec<Policy>, i64)> {
    let default: CalendarSpec = serde_json::from_value(cfg["calendar"].clone())?;
    let named: Vec<NamedCalendar> = serde_json::from_value(cfg["calendars"].clone())?;
    let policies: Vec<Policy> = serde_json::from_value(cfg["policies"].clone())?;
    tend_core::sla::validate_policies(&policies).map_err(|e| anyhow::anyhow!("{e}"))?;
    let cals = Calendars::new(&default, &named, &policies).map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok((
        cals,
        policies,
        cfg["warn_before_minutes"].as_i64().unwrap_or(30),
    ))
}

/// What one full pass took.
struct Pass {
    seconds: f64,
    checked: usize,
    changed: usize,
    written: usize,
    pages: usize,
    read: f64,
    eval: f64,
    write: f64,
}

impl Pass {
    fn split(&self) -> Value {
        json!({"read": round(self.read), "evaluate": round(self.eval), "write": round(self.write)})
    }
}

fn round(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// One full pass.
async fn pass(store: &dyn Store, cfg: &Value, page: i64, label: &str) -> Result<Pass> {
    store
        .put_setting("sla", cfg.clone(), Actor::SYSTEM, now())
        .await?;
    let (cals, policies, warn) = parsed(cfg)?;
    let threads = tend_store::sla_bulk::cores();
    let t = Instant::now();
    let (mut after, mut checked, mut changed, mut pages) = (0i64, 0usize, 0usize, 0usize);
    let mut written = 0usize;
    let (mut read, mut eval, mut write) = (0f64, 0f64, 0f64);
    // The steps of `tend_store::sla_bulk::recompute_page`, timed one by one.
    loop {
        let t0 = Instant::now();
        let tickets = store.sla_clock_page(after, page).await?;
        let t1 = Instant::now();
        let updates =
            tend_store::sla_bulk::evaluate_page(&tickets, &cals, &policies, warn, now(), threads);
        let t2 = Instant::now();
        let (n, writes) = tend_store::sla_bulk::due_writes(&tickets, updates);
        changed += n;
        written += writes.len();
        if !writes.is_empty() {
            store.set_sla_dues(writes).await?;
        }
        read += (t1 - t0).as_secs_f64();
        eval += (t2 - t1).as_secs_f64();
        write += t2.elapsed().as_secs_f64();
        checked += tickets.len();
        pages += 1;
        eprint!(
            "\r  {label}: {checked} tickets, {changed} new due times, {:.1} s (read {read:.1}, evaluate {eval:.1}, write {write:.1})",
            t.elapsed().as_secs_f64()
        );
        match tickets.last() {
            Some(last) if tickets.len() as i64 >= page => after = last.id,
            _ => break,
        }
    }
    eprintln!();
    Ok(Pass {
        seconds: t.elapsed().as_secs_f64(),
        checked,
        changed,
        written,
        pages,
        read,
        eval,
        write,
    })
}

async fn bench(store: &dyn Store, backend: &str, tickets: u64, page: i64) -> Result<()> {
    let load_before = loadavg();
    let p = pass(store, &config(false), page, "settle").await?;
    println!(
        "{}",
        json!({"scenario": "SLA recompute (first pass, settles due times and checks)", "system": "tend",
               "backend": backend, "tickets": tickets, "open_checked": p.checked, "changed": p.changed,
               "rows_written": p.written, "seconds": p.seconds, "split_seconds": p.split(),
               "page": page, "cores": tend_store::sla_bulk::cores(),
               "load_before": load_before, "load_after": loadavg()})
    );
    let load_before = loadavg();
    let p = pass(store, &config(true), page, "after calendar change").await?;
    println!(
        "{}",
        json!({"scenario": "SLA recompute after a calendar change", "system": "tend",
               "backend": backend, "tickets": tickets, "open_checked": p.checked, "changed": p.changed,
               "rows_written": p.written, "seconds": p.seconds, "split_seconds": p.split(),
               "tickets_per_second": (p.checked as f64 / p.seconds).round(), "pages": p.pages,
               "page": page, "cores": tend_store::sla_bulk::cores(),
               "load_before": load_before, "load_after": loadavg()})
    );
    Ok(())
}

pub async fn run(tickets: u64, sqlite: &Path, postgres: Option<&str>, page: i64) -> Result<()> {
    eprintln!("SQLite: {}", sqlite.display());
    let store = tend_sqlite::SqliteStore::open(sqlite)?;
    let secs = seed(&store, tickets).await?;
    if secs > 0.0 {
        eprintln!("  imported {tickets} tickets in {secs:.1} s");
    }
    bench(&store, "sqlite", tickets, page).await?;
    store.close();
    if let Some(url) = postgres {
        eprintln!("PostgreSQL: {url} (schema {SCHEMA})");
        let store: Arc<dyn Store> =
            Arc::new(tend_postgres::PgStore::open(url, Some(SCHEMA), 4).await?);
        let secs = seed(store.as_ref(), tickets).await?;
        if secs > 0.0 {
            eprintln!("  imported {tickets} tickets in {secs:.1} s");
        }
        bench(store.as_ref(), "postgres", tickets, page).await?;
    }
    Ok(())
}
