//! Configuration: flags, then TEND_* environment variables, then a TOML file, then defaults.

use anyhow::{bail, Context, Result};
use serde::Deserialize;
use std::path::PathBuf;
use std::sync::Arc;
use tend_store::Store;

#[derive(clap::Args, Debug, Clone, Default)]
pub struct Flags {
    /// Where Tend keeps its SQLite database [default: ./tend-data]
    #[arg(long, global = true, env = "TEND_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Address to serve HTTP on [default: 127.0.0.1:8080]
    #[arg(long, global = true, env = "TEND_LISTEN")]
    pub listen: Option<String>,
    /// postgres://… for PostgreSQL, sqlite://PATH for another SQLite file [default: SQLite in the data dir]
    #[arg(long, global = true, env = "TEND_DATABASE_URL")]
    pub database_url: Option<String>,
    /// A TOML file with data_dir, listen, database_url, log_format, pg_pool_size.
    #[arg(long, global = true, env = "TEND_CONFIG")]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct File {
    data_dir: Option<PathBuf>,
    listen: Option<String>,
    database_url: Option<String>,
    log_format: Option<String>,
    pg_pool_size: Option<usize>,
    smtp_url: Option<String>,
    mail_from: Option<String>,
    base_url: Option<String>,
    smtp_listen: Option<String>,
    smtp_hostname: Option<String>,
    smtp_tls_cert: Option<PathBuf>,
    smtp_tls_key: Option<PathBuf>,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    pub listen: String,
    pub database_url: Option<String>,
    pub log_json: bool,
    pub pg_pool_size: usize,
    /// SMTP relay for outbound mail (TEND_SMTP_URL), e.g. smtp://127.0.0.1:25.
    pub smtp_url: Option<String>,
    pub mail_from: String,
    /// Public address for links in mails (TEND_BASE_URL); defaults to the listen address.
    pub base_url: Option<String>,
    /// Where the built-in SMTP listener accepts mail (TEND_SMTP_LISTEN), e.g. 0.0.0.0:25;
    /// off when unset.
    pub smtp_listen: Option<String>,
    /// The name the SMTP listener greets with (TEND_SMTP_HOSTNAME).
    pub smtp_hostname: String,
    /// PEM certificate chain and key for STARTTLS (TEND_SMTP_TLS_CERT, TEND_SMTP_TLS_KEY).
    pub smtp_tls: Option<(PathBuf, PathBuf)>,
}

impl Config {
    pub fn load(f: &Flags) -> Result<Config> {
        let file: File = match &f.config {
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .with_context(|| format!("cannot read config file {}", p.display()))?;
                toml::from_str(&text)
                    .with_context(|| format!("config file {} is not valid", p.display()))?
            }
            None => File::default(),
        };
        let log_format = std::env::var("TEND_LOG_FORMAT")
            .ok()
            .or(file.log_format)
            .unwrap_or_else(|| "text".into());
        if log_format != "text" && log_format != "json" {
            bail!("log_format must be text or json, not {log_format}");
        }
        Ok(Config {
            data_dir: f
                .data_dir
                .clone()
                .or(file.data_dir)
                .unwrap_or_else(|| PathBuf::from("tend-data")),
            listen: f
                .listen
                .clone()
                .or(file.listen)
                .unwrap_or_else(|| "127.0.0.1:8080".into()),
            smtp_url: std::env::var("TEND_SMTP_URL")
                .ok()
                .or(file.smtp_url)
                .filter(|u| !u.trim().is_empty()),
            mail_from: std::env::var("TEND_MAIL_FROM")
                .ok()
                .or(file.mail_from)
                .unwrap_or_else(|| "Support <support@localhost>".into()),
            smtp_listen: std::env::var("TEND_SMTP_LISTEN")
                .ok()
                .or(file.smtp_listen)
                .filter(|u| !u.trim().is_empty()),
            smtp_hostname: std::env::var("TEND_SMTP_HOSTNAME")
                .ok()
                .or(file.smtp_hostname)
                .unwrap_or_else(|| "localhost".into()),
            smtp_tls: match (
                std::env::var("TEND_SMTP_TLS_CERT")
                    .ok()
                    .map(PathBuf::from)
                    .or(file.smtp_tls_cert),
                std::env::var("TEND_SMTP_TLS_KEY")
                    .ok()
                    .map(PathBuf::from)
                    .or(file.smtp_tls_key),
            ) {
                (Some(c), Some(k)) => Some((c, k)),
                (None, None) => None,
                _ => bail!("STARTTLS needs both TEND_SMTP_TLS_CERT and TEND_SMTP_TLS_KEY"),
            },
            base_url: std::env::var("TEND_BASE_URL")
                .ok()
                .or(file.base_url)
                .filter(|u| !u.trim().is_empty()),
            database_url: f
                .database_url
                .clone()
                .or(file.database_url)
                .filter(|u| !u.trim().is_empty()),
            log_json: log_format == "json",
            pg_pool_size: std::env::var("TEND_PG_POOL_SIZE")
                .ok()
                .and_then(|v| v.parse().ok())
                .or(file.pg_pool_size)
                .unwrap_or(16)
                .clamp(1, 512),
        })
    }

    pub fn sqlite_path(&self) -> Option<PathBuf> {
        match &self.database_url {
            None => Some(self.data_dir.join("tend.db")),
            Some(u) => u
                .strip_prefix("sqlite://")
                .or_else(|| u.strip_prefix("sqlite:"))
                .map(PathBuf::from),
        }
    }

    pub fn describe_store(&self) -> String {
        match (&self.sqlite_path(), &self.database_url) {
            (Some(p), _) => format!("SQLite: {}", p.display()),
            (None, Some(u)) => format!("PostgreSQL: {}", redact(u)),
            (None, None) => "unknown".into(),
        }
    }

    /// Opens the store the URL names, running migrations.
    pub async fn open_store(&self) -> Result<Arc<dyn Store>> {
        self.open_store_with(tend_sqlite::Options::default()).await
    }

    /// Opens the store for `tend serve` (SQLite: small page caches of its own, see
    /// [`tend_sqlite::Options::serving`]).
    pub async fn open_store_serving(&self) -> Result<Arc<dyn Store>> {
        self.open_store_with(tend_sqlite::Options::serving()).await
    }

    async fn open_store_with(&self, sqlite: tend_sqlite::Options) -> Result<Arc<dyn Store>> {
        if let Some(p) = self.sqlite_path() {
            let s = tend_sqlite::SqliteStore::open_with(&p, sqlite).map_err(|e| {
                anyhow::anyhow!("cannot open the SQLite database {}: {e}", p.display())
            })?;
            return Ok(Arc::new(s));
        }
        let url = self.database_url.clone().unwrap_or_default();
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let s = tend_postgres::PgStore::open(&url, None, self.pg_pool_size)
                .await
                .map_err(|e| anyhow::anyhow!("cannot open PostgreSQL at {}: {e}", redact(&url)))?;
            return Ok(Arc::new(s));
        }
        bail!(
            "--database-url must start with postgres://, postgresql:// or sqlite:// (got {})",
            redact(&url)
        )
    }
}

/// Hides a password in a URL.
fn redact(u: &str) -> String {
    match (u.find("://"), u.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &u[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{}:***{}", &u[..s + 3], user, &u[at..]),
                None => u.to_string(),
            }
        }
        _ => u.to_string(),
    }
}

pub fn init_logging(cfg: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("TEND_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,tokio_postgres=warn"));
    let b = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if cfg.log_json {
        b.json().try_init()
    } else {
        b.try_init()
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(redact("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact("postgres://h/db"), "postgres://h/db");
    }

    #[test]
    fn store_url_picks_the_backend() {
        let c = Config::load(&Flags {
            database_url: Some("sqlite:///tmp/x.db".into()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(c.sqlite_path(), Some(PathBuf::from("/tmp/x.db")));
        let c = Config::load(&Flags {
            data_dir: Some("d".into()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(c.sqlite_path(), Some(PathBuf::from("d/tend.db")));
        let c = Config::load(&Flags {
            database_url: Some("postgres://h/db".into()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(c.sqlite_path(), None);
    }
}
