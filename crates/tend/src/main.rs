//! `tend`: the one binary. Serves the API and workers; admin commands for people, tokens,
//! migrations, imports and demo data.

mod config;
mod demo;
mod demo_kb;
mod import;
mod mailcmd;
mod metricscmd;
mod reindex;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use config::Config;
use std::io::Read;
use std::sync::Arc;
use tend_core::{Actor, Clock, Email, Role, SystemClock};
use tend_store::NewAgent;

#[derive(Parser)]
#[command(
    name = "tend",
    version,
    about = "Tend: self-hosted customer service",
    propagate_version = true
)]
struct Cli {
    #[command(flatten)]
    global: config::Flags,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the server: API, workers (and, later, the agent UI and portal).
    Serve {
        /// Fill an empty database with a demo shop (agents, customers, tickets over 90 days).
        #[arg(long)]
        demo: bool,
    },
    /// Create or upgrade the database schema, then exit.
    Migrate,
    /// Manage agents.
    User {
        #[command(subcommand)]
        cmd: UserCmd,
    },
    /// Manage API tokens.
    Token {
        #[command(subcommand)]
        cmd: TokenCmd,
    },
    /// Import tickets with their history from JSON Lines (a file, or - for stdin).
    Import {
        file: String,
        /// Only validate; write nothing.
        #[arg(long)]
        check: bool,
        /// Records per transaction (larger batches write each index page fewer times).
        #[arg(long, default_value_t = 20_000)]
        batch: usize,
    },
    /// Load the demo data set into the database (as `serve --demo` does).
    Demo {
        /// Number of tickets.
        #[arg(long, default_value_t = 400)]
        tickets: u64,
    },
    /// The e-mail channel: take a mail in from a pipe, manage mailboxes.
    Mail {
        #[command(subcommand)]
        cmd: mailcmd::MailCmd,
    },
    /// Ticket metrics: rebuild the roll-ups from the events.
    Metrics {
        #[command(subcommand)]
        cmd: metricscmd::MetricsCmd,
    },
    /// Write generated tickets as JSON Lines to stdout (for imports and benchmarks).
    Generate {
        #[arg(long, default_value_t = 10_000)]
        tickets: u64,
        #[arg(long, default_value_t = 42)]
        seed: u64,
    },
    /// Rebuild the full-text search index from the database (stop `tend serve` first).
    Reindex,
}

#[derive(Subcommand)]
enum UserCmd {
    /// Add an agent.
    Add {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        #[arg(long, value_parser = ["admin", "supervisor", "agent"])]
        role: String,
        /// Read the password from standard input (first line).
        #[arg(long)]
        password_stdin: bool,
    },
}

#[derive(Subcommand)]
enum TokenCmd {
    /// Create an API token for an agent and print it on stdout.
    Create {
        #[arg(long)]
        email: String,
        #[arg(long, default_value = "cli")]
        name: String,
    },
}

/// glibc's allocator gives every thread that allocates its own arena (up to 8 per core) and
/// keeps freed memory in them: the search index's indexing and merge threads left the server
/// at ~200 MiB after a create load, of which ~70 % was free memory the process still held
/// (bench/RESULTS.md, S6). Two arenas and giving back free space above 1 MiB keep it near
/// 50–70 MiB at the same creates/s. `MALLOC_ARENA_MAX` / `MALLOC_TRIM_THRESHOLD_` in the
/// environment still win.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn tune_allocator() {
    // SAFETY: mallopt only sets allocator parameters; called before any thread starts.
    unsafe {
        if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
            libc::mallopt(libc::M_ARENA_MAX, 2);
        }
        if std::env::var_os("MALLOC_TRIM_THRESHOLD_").is_none() {
            libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 20);
        }
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn tune_allocator() {}

fn main() {
    tune_allocator();
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            std::process::exit(1);
        }
    };
    if let Err(e) = rt.block_on(run(cli)) {
        eprintln!("error: {e:#}");
        let code = e.downcast_ref::<mailcmd::Exit>().map(|x| x.0).unwrap_or(1);
        std::process::exit(code);
    }
}

async fn run(cli: Cli) -> Result<()> {
    let cfg = Config::load(&cli.global)?;
    config::init_logging(&cfg);
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    match cli.cmd {
        Cmd::Serve { demo } => serve(cfg, clock, demo).await,
        Cmd::Migrate => {
            let store = cfg.open_store().await?;
            println!("database is up to date ({})", cfg.describe_store());
            drop(store);
            Ok(())
        }
        Cmd::User {
            cmd:
                UserCmd::Add {
                    email,
                    name,
                    role,
                    password_stdin,
                },
        } => {
            let email =
                Email::parse(&email).map_err(|e| anyhow::anyhow!("--email: {}", e.message))?;
            let name = tend_core::parse_line("name", &name, tend_core::limits::NAME_MAX)
                .map_err(|e| anyhow::anyhow!("--name: {}", e.message))?;
            let role: Role = role
                .parse()
                .map_err(|e: tend_core::Invalid| anyhow::anyhow!("--role: {}", e.message))?;
            let password_hash = if password_stdin {
                let mut s = String::new();
                std::io::stdin()
                    .read_to_string(&mut s)
                    .context("reading the password from stdin")?;
                let pw = s.lines().next().unwrap_or("").to_string();
                tend_web::auth::check_password(&pw).map_err(|e| {
                    anyhow::anyhow!("{e}: {}", "choose a password of 10 to 1,000 characters")
                })?;
                Some(tend_web::auth::hash_password(&pw).map_err(|e| anyhow::anyhow!("{e}"))?)
            } else {
                None
            };
            let store = cfg.open_store().await?;
            let a = store
                .create_agent(
                    NewAgent {
                        email: email.as_str().into(),
                        name,
                        role,
                        password_hash,
                        active: true,
                    },
                    Actor::SYSTEM,
                    clock.now(),
                )
                .await
                .map_err(store_err)?;
            println!(
                "added {} agent {} <{}> (id {})",
                a.role, a.name, a.email, a.id
            );
            if !password_stdin {
                eprintln!(
                    "no password set: create a token with `tend token create --email {}`",
                    a.email
                );
            }
            Ok(())
        }
        Cmd::Token {
            cmd: TokenCmd::Create { email, name },
        } => {
            let store = cfg.open_store().await?;
            let agent = store
                .agent_by_email(email.trim())
                .await
                .map_err(store_err)?
                .with_context(|| {
                    format!("no agent with e-mail {email}: add one with `tend user add`")
                })?;
            if !agent.active {
                bail!("agent {email} is deactivated");
            }
            let token = tend_web::auth::generate_token();
            store
                .create_token(
                    agent.id,
                    name,
                    tend_web::auth::hash_token(&token),
                    Actor::SYSTEM,
                    clock.now(),
                )
                .await
                .map_err(store_err)?;
            println!("{token}");
            Ok(())
        }
        Cmd::Import { file, check, batch } => {
            let store = if check {
                None
            } else {
                Some(cfg.open_store().await?)
            };
            import::run(store, &file, batch.clamp(1, 50_000), clock).await
        }
        Cmd::Demo { tickets } => {
            let store = cfg.open_store().await?;
            demo::load(&*store, tickets, clock.now(), true).await
        }
        Cmd::Mail { cmd } => mailcmd::run(cfg, clock, cmd).await,
        Cmd::Metrics { cmd } => metricscmd::run(cfg, clock, cmd).await,
        Cmd::Reindex => reindex::run(&cfg).await,
        Cmd::Generate { tickets, seed } => {
            use std::io::Write;
            let mut spec = tend_datagen::Spec::new(tickets, clock.now());
            spec.seed = seed;
            let g = tend_datagen::Generator::new(spec);
            let out = std::io::stdout();
            let mut w = std::io::BufWriter::with_capacity(1 << 20, out.lock());
            for i in 0..g.len() {
                if writeln!(w, "{}", g.record(i)).is_err() {
                    break; // reader went away (e.g. `| head`)
                }
            }
            let _ = w.flush();
            Ok(())
        }
    }
}

pub fn store_err(e: tend_store::StoreError) -> anyhow::Error {
    anyhow::anyhow!("{e}")
}

async fn serve(cfg: Config, clock: Arc<dyn Clock>, demo: bool) -> Result<()> {
    let store = cfg.open_store_serving().await?;
    if demo {
        demo::load(&*store, 400, clock.now(), false).await?;
    }
    let listener = tokio::net::TcpListener::bind(&cfg.listen).await.with_context(|| format!("cannot listen on {}: is another server running there? choose another with --listen", cfg.listen))?;
    let addr = listener.local_addr()?;
    let mail = std::sync::Arc::new(tend_web::mail::MailConfig::new(
        cfg.smtp_url.clone(),
        cfg.mail_from.clone(),
        cfg.base_url
            .clone()
            .unwrap_or_else(|| format!("http://{addr}")),
    ));
    let mut state = tend_web::AppState::new(store.clone(), clock.clone());
    state.mail = mail.clone();
    if let Some(search) = reindex::open_for_serve(&cfg) {
        state = state.with_search(search);
    }
    let search_state = state.clone();
    let worker_search = state.search.clone();
    let live = state.live.clone();
    let app = tend_web::router(state);
    let live_for_shutdown = live.clone();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let worker = tokio::spawn(
        tend_web::worker::Worker::new(store.clone(), clock.clone())
            .with_mail(mail.clone())
            .with_search(worker_search)
            .run(stop_rx.clone()),
    );
    let smtp = match &cfg.smtp_listen {
        None => None,
        Some(a) => {
            let l = tokio::net::TcpListener::bind(a).await.with_context(|| {
                format!("cannot open the SMTP listener on {a}: is a mail server running there? set another TEND_SMTP_LISTEN")
            })?;
            let tls = match &cfg.smtp_tls {
                None => None,
                Some((c, k)) => {
                    let cert =
                        std::fs::read(c).with_context(|| format!("cannot read {}", c.display()))?;
                    let key =
                        std::fs::read(k).with_context(|| format!("cannot read {}", k.display()))?;
                    Some(
                        tend_web::mail::smtp::tls_acceptor(&cert, &key)
                            .map_err(|e| anyhow::anyhow!("STARTTLS: {e}"))?,
                    )
                }
            };
            let starttls = tls.is_some();
            let server = tend_web::mail::smtp::SmtpServer::new(
                store.clone(),
                clock.clone(),
                mail.clone(),
                cfg.smtp_hostname.clone(),
                tls,
            );
            println!(
                "SMTP listener on {}{}",
                l.local_addr()?,
                if starttls { " (STARTTLS)" } else { "" }
            );
            Some(tokio::spawn(tend_web::mail::smtp::serve(
                l,
                server,
                stop_rx.clone(),
            )))
        }
    };
    let imap = tokio::spawn(tend_web::mail::imap::run(
        store.clone(),
        clock.clone(),
        mail.clone(),
        stop_rx.clone(),
    ));
    // Live updates: tail the event sequence and tell open ticket pages what changed.
    // Full-text search: keep the index in step with the event sequence.
    let search_tail = tokio::spawn(tend_web::search_tail::run_search_tailer(
        search_state,
        stop_rx.clone(),
    ));
    let tail = tokio::spawn(live.tail(store.clone(), stop_rx));
    tracing::info!(%addr, store = %cfg.describe_store(), "tend is serving");
    println!(
        "Tend is running at http://{addr} ({})",
        cfg.describe_store()
    );
    if store.list_agents().await.map_err(store_err)?.is_empty() {
        println!("No agents yet. Create an admin and a token:\n  tend user add --email you@example.com --name \"Your Name\" --role admin --password-stdin\n  tend token create --email you@example.com\n(or start with --demo for a ready-made shop)");
    }
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        shutdown_signal().await;
        live_for_shutdown.close();
    })
    .await
    .context("server failed")?;
    let _ = stop_tx.send(true);
    let _ = worker.await;
    let _ = tail.await;
    let _ = search_tail.await;
    let _ = imap.await;
    if let Some(smtp) = smtp {
        let _ = smtp.await;
    }
    drop(store);
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down");
}
