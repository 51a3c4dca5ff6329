//! Load client for Tend's benchmark scenarios. Bounded in count and time, loopback only.
//! Prints one JSON object per run on stdout.

use anyhow::{bail, Result};
use clap::{Parser, Subcommand};
use serde_json::json;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

mod reports;
mod search;
mod smtp;
mod survey_scores;

#[derive(Parser)]
#[command(about = "Tend benchmark load client")]
struct Cli {
    /// Base URL of the server (must be loopback).
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// API token.
    #[arg(long, env = "TEND_BENCH_TOKEN", default_value = "")]
    token: String,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// S4: mail through the SMTP listener (`--addr` must be loopback).
    Smtp {
        #[arg(long)]
        addr: String,
        #[arg(long, default_value_t = 16)]
        connections: usize,
        #[arg(long, default_value_t = 20_000)]
        messages: u64,
        #[arg(long, default_value_t = 60.0)]
        max_seconds: f64,
        /// Send the mail corpus in this folder plus generated worst cases, one by one.
        #[arg(long)]
        pathological: Option<std::path::PathBuf>,
    },
    /// S1: create tickets over HTTP with N concurrent clients.
    Create {
        #[arg(long, default_value_t = 1)]
        clients: usize,
        #[arg(long, default_value_t = 2000)]
        requests: u64,
        #[arg(long, default_value_t = 30.0)]
        max_seconds: f64,
    },
    /// Survey scores for N responses by month and by group (seeds a fresh SQLite file and,
    /// with --postgres, a fresh schema `bench_surveys`; times the store's count query).
    SurveyScores {
        #[arg(long, default_value_t = 1_000_000)]
        responses: u64,
        /// The SQLite file to (re)create.
        #[arg(long, default_value = "target/bench-surveys.db")]
        sqlite: std::path::PathBuf,
        /// A PostgreSQL URL on loopback, e.g. postgres://postgres@127.0.0.1:5432/postgres.
        #[arg(long)]
        postgres: Option<String>,
        #[arg(long, default_value_t = 20)]
        runs: usize,
        /// Bound on each series of runs.
        #[arg(long, default_value_t = 30.0)]
        max_seconds: f64,
    },
    /// S3 full-text search in-process: help-center p50/p99 over N articles, ticket reindex
    /// time and ticket search for a rare, a medium and a common word over N tickets (the
    /// SQLite store is seeded once under --dir and reused).
    Search {
        #[arg(long, default_value_t = 100_000)]
        tickets: u64,
        #[arg(long, default_value_t = 10_000)]
        articles: u64,
        #[arg(long, default_value = "target/bench-search")]
        dir: std::path::PathBuf,
        /// Queries per series.
        #[arg(long, default_value_t = 500)]
        queries: usize,
        /// Bound on each series.
        #[arg(long, default_value_t = 30.0)]
        max_seconds: f64,
    },
    /// S7 reports in-process: seeds N generated tickets (SQLite file reused when it holds N)
    /// and CSAT answers, times the metrics rebuild and the monthly report.
    Reports {
        #[arg(long, default_value_t = 1_000_000)]
        tickets: u64,
        #[arg(long, default_value = "target/bench-reports.db")]
        sqlite: std::path::PathBuf,
        /// A PostgreSQL URL on loopback (schema `bench_reports`).
        #[arg(long)]
        postgres: Option<String>,
        #[arg(long, default_value_t = 50)]
        runs: usize,
        /// Bound on each series of report runs.
        #[arg(long, default_value_t = 30.0)]
        max_seconds: f64,
        /// Time the reports only (the roll-ups exist already).
        #[arg(long)]
        skip_rebuild: bool,
        /// The report's metric families.
        #[arg(long, default_value = "volume,frt,resolution,fcr,csat")]
        metrics: String,
    },
    /// GET a path repeatedly (S2 queue page, S3 search …) and report latencies.
    Get {
        #[arg(long)]
        path: String,
        #[arg(long, default_value = "get")]
        name: String,
        #[arg(long, default_value_t = 1)]
        clients: usize,
        #[arg(long, default_value_t = 200)]
        requests: u64,
        #[arg(long, default_value_t = 30.0)]
        max_seconds: f64,
    },
}

fn loopback(url: &str) -> bool {
    let rest = url.strip_prefix("http://").unwrap_or("");
    let host = rest.split(['/', ':']).next().unwrap_or("");
    host == "localhost" || host.starts_with("127.") || rest.starts_with("[::1]")
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((p / 100.0) * (sorted.len() as f64 - 1.0)).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

#[tokio::main]
async fn main() -> Result<()> {
    let cli = Cli::parse();
    if !loopback(&cli.url) {
        bail!(
            "refusing to load {}: benchmarks only target loopback addresses",
            cli.url
        );
    }
    if let Cmd::Smtp {
        addr,
        connections,
        messages,
        max_seconds,
        pathological,
    } = &cli.cmd
    {
        if !(addr.starts_with("127.") || addr.starts_with("localhost:")) {
            bail!("refusing to load {addr}: benchmarks only target loopback addresses");
        }
        return match pathological {
            Some(dir) => smtp::pathological(addr, dir).await,
            None => smtp::load(addr, *connections, *messages, *max_seconds).await,
        };
    }
    if let Cmd::SurveyScores {
        responses,
        sqlite,
        postgres,
        runs,
        max_seconds,
    } = &cli.cmd
    {
        if let Some(url) = postgres {
            let host = url.rsplit('@').next().unwrap_or("");
            if !(host.starts_with("127.")
                || host.starts_with("localhost")
                || host.starts_with("[::1]"))
            {
                bail!("refusing to use {url}: benchmarks only target loopback addresses");
            }
        }
        return survey_scores::run(*responses, sqlite, postgres.as_deref(), *runs, *max_seconds)
            .await;
    }
    if let Cmd::Reports {
        tickets,
        sqlite,
        postgres,
        runs,
        max_seconds,
        skip_rebuild,
        metrics,
    } = &cli.cmd
    {
        if let Some(url) = postgres {
            let host = url.rsplit('@').next().unwrap_or("");
            if !(host.starts_with("127.") || host.starts_with("localhost")) {
                bail!("refusing to use {url}: benchmarks only target loopback addresses");
            }
        }
        let opts = reports::Opts {
            runs: *runs,
            max_seconds: *max_seconds,
            skip_rebuild: *skip_rebuild,
            metrics: metrics.clone(),
        };
        return reports::run(*tickets, sqlite, postgres.as_deref(), opts).await;
    }
    if let Cmd::Search {
        tickets,
        articles,
        dir,
        queries,
        max_seconds,
    } = &cli.cmd
    {
        return search::run(*tickets, *articles, dir, *queries, *max_seconds).await;
    }
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .timeout(Duration::from_secs(30))
        .build()?;
    let (name, clients, requests, max_seconds) = match &cli.cmd {
        Cmd::Create {
            clients,
            requests,
            max_seconds,
        } => ("create".to_string(), *clients, *requests, *max_seconds),
        Cmd::Get {
            name,
            clients,
            requests,
            max_seconds,
            ..
        } => (name.clone(), *clients, *requests, *max_seconds),
        Cmd::Smtp { .. } | Cmd::SurveyScores { .. } | Cmd::Search { .. } | Cmd::Reports { .. } => {
            unreachable!("handled above")
        }
    };
    // One warm-up request.
    let issued = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs_f64(max_seconds);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..clients {
        let (client, issued, url, token) = (
            client.clone(),
            issued.clone(),
            cli.url.clone(),
            cli.token.clone(),
        );
        let path = match &cli.cmd {
            Cmd::Get { path, .. } => Some(path.clone()),
            _ => None,
        };
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut errors = 0u64;
            loop {
                let n = issued.fetch_add(1, Ordering::Relaxed);
                if n >= requests || Instant::now() >= deadline {
                    break;
                }
                let t = Instant::now();
                let r = match &path {
                    None => {
                        client
                            .post(format!("{url}/api/v1/tickets"))
                            .bearer_auth(&token)
                            .json(&json!({"subject": format!("Bench ticket {c}-{n}"), "channel": "web", "requester": {"email": format!("bench{}@example.com", n % 5000), "name": "Bench Customer"}, "comment": {"body": "My parcel has not arrived yet. Order #12345. Please check."}}))
                            .send()
                            .await
                    }
                    Some(p) => client.get(format!("{url}{p}")).bearer_auth(&token).send().await,
                };
                match r {
                    Ok(resp) if resp.status().is_success() => {
                        let _ = resp.bytes().await;
                        lat.push(t.elapsed().as_secs_f64() * 1000.0);
                    }
                    _ => errors += 1,
                }
            }
            (lat, errors)
        }));
    }
    let mut lat = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (l, e) = t.await?;
        lat.extend(l);
        errors += e;
    }
    let secs = start.elapsed().as_secs_f64();
    lat.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    let out = json!({
        "scenario": name, "clients": clients, "ok": lat.len(), "errors": errors, "seconds": (secs * 1000.0).round() / 1000.0,
        "per_second": (lat.len() as f64 / secs * 10.0).round() / 10.0,
        "p50_ms": (pct(&lat, 50.0) * 100.0).round() / 100.0, "p95_ms": (pct(&lat, 95.0) * 100.0).round() / 100.0, "p99_ms": (pct(&lat, 99.0) * 100.0).round() / 100.0,
    });
    println!("{out}");
    Ok(())
}
