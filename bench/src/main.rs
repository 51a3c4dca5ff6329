//! Load client for Tend's benchmark scenarios. Bounded in count and time, loopback only.
//! Prints one JSON object per run on stdout.

use anyhow::{bail, Result};
use clap::{Parser, Subcommand};
use serde_json::json;

mod generate;
mod http;
mod mem;
mod plain;
mod reports;
mod search;
mod sla_recompute;
mod smtp;
mod summarize;
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
    /// S1: create tickets over HTTP with N concurrent clients (Tend or a peer).
    Create {
        #[command(flatten)]
        t: TargetArgs,
        #[arg(long, default_value_t = 1)]
        clients: usize,
        #[arg(long, default_value_t = 2000)]
        requests: u64,
        #[arg(long, default_value_t = 30.0)]
        max_seconds: f64,
    },
    /// Deterministic data set as JSON Lines: Tend import records (`tend import FILE`) or the
    /// same tickets in the flat form the peers' loaders read (`--format peers`).
    Generate {
        #[arg(long, default_value_t = 10_000)]
        tickets: u64,
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// "Now" of the data set (RFC 3339); default: today 00:00 UTC.
        #[arg(long)]
        now: Option<String>,
        /// Put this word into every `--every`-th ticket (the peers' loaders use `zebrafish`
        /// in 1 %).
        #[arg(long)]
        marker: Option<String>,
        #[arg(long, default_value_t = 100)]
        every: u64,
        #[arg(long, value_parser = ["tend", "peers"], default_value = "tend")]
        format: String,
        /// Output file (default stdout).
        #[arg(long)]
        out: Option<std::path::PathBuf>,
    },
    /// S6: RSS and PSS of a process tree now (one JSON line).
    Mem {
        #[arg(long)]
        pid: u32,
        #[arg(long, default_value = "S6 memory")]
        scenario: String,
        #[arg(long, default_value = "tend")]
        system: String,
    },
    /// Reads the JSON lines of a run and prints the results table (medians, ratios).
    Summarize { file: std::path::PathBuf },
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
    /// Issue 5: seeds N open tickets, changes the SLA calendars and times the full recompute.
    SlaRecompute {
        #[arg(long, default_value_t = 100_000)]
        tickets: u64,
        #[arg(long, default_value = "target/bench-sla.db")]
        sqlite: std::path::PathBuf,
        /// A PostgreSQL URL on loopback (schema `bench_sla`).
        #[arg(long)]
        postgres: Option<String>,
        /// Tickets per page (one read and one write transaction each; the `sla.recompute`
        /// job's `RECOMPUTE_PAGE`).
        #[arg(long, default_value_t = 50_000)]
        page: i64,
    },
    /// GET a queue page, a search or any path repeatedly (S2, S3, S7) and report latencies.
    Get {
        #[command(flatten)]
        t: TargetArgs,
        /// A literal path (Tend). Without it: `--query`.
        #[arg(long)]
        path: Option<String>,
        /// `list`: queue first page (25 open tickets, newest first); `search`: with `--word`.
        #[arg(long, value_parser = ["list", "search"], default_value = "list")]
        query: String,
        #[arg(long, default_value = "zebrafish")]
        word: String,
        #[arg(long, default_value_t = 1)]
        clients: usize,
        #[arg(long, default_value_t = 200)]
        requests: u64,
        #[arg(long, default_value_t = 30.0)]
        max_seconds: f64,
        /// Untimed requests first (every system gets the same). On an otherwise idle core
        /// the first requests after a pause run slower while caches warm up (the first
        /// after one warm-up took ~1.5× the median of the rest; bench/README.md).
        #[arg(long, default_value_t = 3)]
        warmup: u64,
    },
}

#[derive(clap::Args)]
struct TargetArgs {
    #[arg(long, value_enum, default_value = "tend")]
    system: http::System,
    /// Scenario label in the output.
    #[arg(long)]
    scenario: Option<String>,
    /// Peers: web login.
    #[arg(long)]
    user: Option<String>,
    #[arg(long, default_value = "password")]
    password: String,
    /// Sample this process tree's RSS/PSS during the run (S6).
    #[arg(long)]
    server_pid: Option<u32>,
    /// Tend: appended to the queue query (e.g. `&group_id=2`).
    #[arg(long, default_value = "")]
    tend_queue: String,
}

fn loopback(url: &str) -> bool {
    let rest = url.strip_prefix("http://").unwrap_or("");
    let host = rest.split(['/', ':']).next().unwrap_or("");
    host == "localhost" || host.starts_with("127.") || rest.starts_with("[::1]")
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    http::pct(sorted, p)
}

/// Output piped into a reader that stops early (`| head`) ends this process quietly, as it
/// ends any Unix filter, instead of a panic in `println!` (Rust ignores SIGPIPE by default).
/// Sockets are unaffected: the standard library sends on them with `MSG_NOSIGNAL`.
#[cfg(unix)]
fn default_sigpipe() {
    // SAFETY: restores the default disposition of one signal before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

#[cfg(not(unix))]
fn default_sigpipe() {}

fn main() -> Result<()> {
    default_sigpipe();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run())
}

async fn run() -> Result<()> {
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
    if let Cmd::SlaRecompute {
        tickets,
        sqlite,
        postgres,
        page,
    } = &cli.cmd
    {
        if let Some(url) = postgres {
            let host = url.rsplit('@').next().unwrap_or("");
            if !(host.starts_with("127.") || host.starts_with("localhost")) {
                bail!("refusing to use {url}: benchmarks only target loopback addresses");
            }
        }
        return sla_recompute::run(*tickets, sqlite, postgres.as_deref(), *page).await;
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
    if let Cmd::Generate {
        tickets,
        seed,
        now,
        marker,
        every,
        format,
        out,
    } = &cli.cmd
    {
        return generate::run(
            *tickets,
            *seed,
            now.as_deref(),
            marker.clone(),
            *every,
            format == "peers",
            out.as_deref(),
        );
    }
    if let Cmd::Mem {
        pid,
        scenario,
        system,
    } = &cli.cmd
    {
        let (r, p, h, n) = mem::snapshot(*pid);
        anyhow::ensure!(n > 0, "no process {pid}");
        println!(
            "{}",
            json!({"scenario": scenario, "system": system, "mem": {"peak_rss_mib": mem::mib(r), "peak_pss_mib": mem::mib(p), "max_process_hwm_mib": mem::mib(h), "processes": n, "end_rss_mib": mem::mib(r), "end_pss_mib": mem::mib(p)}})
        );
        return Ok(());
    }
    if let Cmd::Summarize { file } = &cli.cmd {
        return summarize::run(file);
    }
    let (t, query, o) = match cli.cmd {
        Cmd::Create {
            t,
            clients,
            requests,
            max_seconds,
        } => (
            t,
            None,
            (
                clients,
                requests,
                max_seconds,
                0,
                format!("S1 create c={clients}"),
            ),
        ),
        Cmd::Get {
            t,
            path,
            query,
            word,
            clients,
            requests,
            max_seconds,
            warmup,
        } => {
            let q = match (path, query.as_str()) {
                (Some(p), _) => http::Query::Path(p),
                (None, "search") => http::Query::Search(word),
                _ => http::Query::List,
            };
            let name = match &q {
                http::Query::Path(p) => format!("GET {p}"),
                http::Query::Search(w) => format!("S3 search {w}"),
                http::Query::List => "S2 queue first page".to_string(),
            };
            (t, Some(q), (clients, requests, max_seconds, warmup, name))
        }
        _ => unreachable!("handled above"),
    };
    let (clients, requests, max_seconds, warmup, default_name) = o;
    let target = std::sync::Arc::new(http::Target {
        system: t.system,
        base: cli.url.trim_end_matches('/').to_string(),
        token: cli.token.clone(),
        user: t.user.unwrap_or_else(|| {
            match t.system {
                http::System::Rt => "root",
                _ => "admin",
            }
            .to_string()
        }),
        password: t.password,
        tend_queue: t.tend_queue,
    });
    let out = http::run(
        target,
        query,
        http::RunOpts {
            clients,
            requests,
            max_seconds,
            warmup,
            server_pid: t.server_pid,
            scenario: t.scenario.unwrap_or(default_name),
        },
    )
    .await?;
    println!("{out}");
    Ok(())
}
