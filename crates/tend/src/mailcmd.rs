//! `tend mail …`: take a mail in from a mail server's pipe, manage mailboxes, read the intake log.

use anyhow::{bail, Context, Result};
use clap::Subcommand;
use std::io::Read;
use std::sync::Arc;
use tend_core::{Actor, Clock};
use tend_store::mail::{ClosedPolicy, ImapSource, NewMailbox};
use tend_store::PageRequest;
use tend_web::mail::intake::{ingest, mailbox_for, Envelope, IngestError};

use crate::config::Config;

/// sysexits.h codes that Postfix, Exim and Sendmail understand.
pub const EX_NOUSER: i32 = 67;
pub const EX_TEMPFAIL: i32 = 75;

/// An error with the exit code a mail server acts on.
#[derive(Debug)]
pub struct Exit(pub i32, pub String);

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.1)
    }
}
impl std::error::Error for Exit {}

#[derive(Subcommand)]
pub enum MailCmd {
    /// Read one RFC 5322 message on stdin and take it in (for Postfix/Exim pipe transports).
    /// Exit 0: stored (as a ticket, a reply, for review, or logged as rejected/duplicate);
    /// 75: temporary failure, the mail server keeps the mail and retries; 67: no such mailbox.
    Ingest {
        /// The envelope recipient (Postfix: ${recipient}); picks the mailbox. Without it, the
        /// mail's own To/Cc/Delivered-To are matched against the mailboxes.
        #[arg(long)]
        recipient: Option<String>,
    },
    /// Add a mailbox (an address customers write to).
    AddMailbox {
        #[arg(long)]
        address: String,
        #[arg(long, default_value = "")]
        name: String,
        /// New tickets from this mailbox go to this group (id).
        #[arg(long)]
        group_id: Option<i64>,
        /// What a reply to a closed ticket does.
        #[arg(long, value_parser = ["reopen", "follow_up"], default_value = "follow_up")]
        closed: String,
        /// Do not acknowledge new tickets by mail.
        #[arg(long)]
        no_ack: bool,
        /// Poll this IMAP server (host:port, plain on loopback) for the mailbox's mail.
        #[arg(long)]
        imap: Option<String>,
        #[arg(long, requires = "imap")]
        imap_user: Option<String>,
        /// Implicit TLS (port 993); the server certificate is checked against the system CAs
        /// (or SSL_CERT_FILE).
        #[arg(long, requires = "imap")]
        imap_tls: bool,
        /// Read the IMAP password from this environment variable.
        #[arg(long, requires = "imap", default_value = "TEND_IMAP_PASSWORD")]
        imap_password_env: String,
        #[arg(long, requires = "imap", default_value = "INBOX")]
        imap_folder: String,
        /// After import: none, seen, or move:<folder>.
        #[arg(long, requires = "imap", default_value = "none")]
        imap_after: String,
    },
    /// List the mailboxes.
    Mailboxes,
    /// Show the newest entries of the intake log (what became of each received mail).
    Log {
        /// Only this outcome: created, appended, review, bounce, duplicate, rejected.
        #[arg(long)]
        outcome: Option<String>,
        #[arg(long, default_value_t = 20)]
        limit: i64,
    },
}

pub async fn run(cfg: Config, clock: Arc<dyn Clock>, cmd: MailCmd) -> Result<()> {
    match cmd {
        MailCmd::Ingest { recipient } => {
            let mut raw = Vec::new();
            std::io::stdin()
                .take((tend_web::mail::smtp::MAX_MESSAGE_BYTES + 1) as u64)
                .read_to_end(&mut raw)
                .map_err(|e| Exit(EX_TEMPFAIL, format!("cannot read the mail from stdin: {e}")))?;
            if raw.len() > tend_web::mail::smtp::MAX_MESSAGE_BYTES {
                // Stored as rejected by intake would need the whole mail; refuse it instead.
                bail!(Exit(
                    65,
                    format!(
                        "the mail is larger than {} bytes",
                        tend_web::mail::smtp::MAX_MESSAGE_BYTES
                    )
                ));
            }
            let store = cfg
                .open_store()
                .await
                .map_err(|e| Exit(EX_TEMPFAIL, format!("{e:#}")))?;
            let temp = |e: tend_store::StoreError| Exit(EX_TEMPFAIL, e.to_string());
            let boxes = store.list_mailboxes().await.map_err(temp)?;
            let mailbox = match &recipient {
                Some(r) => match mailbox_for(&boxes, r) {
                    Some(m) => Some(m.clone()),
                    None => bail!(Exit(
                        EX_NOUSER,
                        format!("no mailbox for {r}: add one with `tend mail add-mailbox --address {r}`")
                    )),
                },
                None => guess_mailbox(&boxes, &raw),
            };
            let mail = tend_web::mail::MailConfig::new(None, cfg.mail_from.clone(), String::new());
            let secret = mail.secret(&*store).await.map_err(temp)?;
            let env = Envelope {
                source: "pipe".into(),
                mailbox,
                our_addresses: boxes.iter().map(|m| m.address.clone()).collect(),
                imap_uid: None,
            };
            match ingest(&*store, &secret, raw, env, clock.now()).await {
                Ok(d) => {
                    println!(
                        "stored as intake {}: {}{}",
                        d.intake_id,
                        d.outcome,
                        d.ticket_id
                            .map(|t| format!(" (ticket #{t})"))
                            .unwrap_or_default()
                    );
                    Ok(())
                }
                Err(IngestError::Temporary(e)) => bail!(Exit(EX_TEMPFAIL, e)),
            }
        }
        MailCmd::AddMailbox {
            address,
            name,
            group_id,
            closed,
            no_ack,
            imap,
            imap_user,
            imap_tls,
            imap_password_env,
            imap_folder,
            imap_after,
        } => {
            let a = tend_core::Email::parse(&address)
                .map_err(|e| anyhow::anyhow!("--address: {}", e.message))?;
            let imap = match imap {
                None => None,
                Some(hp) => {
                    let (host, port) = hp
                        .rsplit_once(':')
                        .context("--imap: write host:port, e.g. 127.0.0.1:143")?;
                    let port: u16 = port.parse().context("--imap: the port is not a number")?;
                    let password = std::env::var(&imap_password_env).with_context(|| {
                        format!(
                            "set the IMAP password in the environment variable {imap_password_env}"
                        )
                    })?;
                    if !(imap_after == "none"
                        || imap_after == "seen"
                        || imap_after.starts_with("move:"))
                    {
                        bail!("--imap-after: none, seen or move:<folder>");
                    }
                    Some(ImapSource {
                        host: host.to_string(),
                        port,
                        security: if imap_tls { "tls" } else { "none" }.into(),
                        username: imap_user.context("--imap-user is required with --imap")?,
                        password,
                        folder: imap_folder,
                        after_import: imap_after,
                    })
                }
            };
            let store = cfg.open_store().await?;
            let m = store
                .create_mailbox(
                    NewMailbox {
                        address: a.as_str().to_string(),
                        name,
                        group_id,
                        brand_id: None,
                        closed_policy: ClosedPolicy::parse(&closed).unwrap_or_default(),
                        auto_ack: !no_ack,
                        imap,
                    },
                    Actor::SYSTEM,
                    clock.now(),
                )
                .await
                .map_err(crate::store_err)?;
            println!("mailbox {} added ({})", m.address, m.id);
            Ok(())
        }
        MailCmd::Mailboxes => {
            let store = cfg.open_store().await?;
            let boxes = store.list_mailboxes().await.map_err(crate::store_err)?;
            if boxes.is_empty() {
                println!("No mailboxes yet. Add one: tend mail add-mailbox --address support@your-shop.example");
            }
            for m in boxes {
                println!(
                    "{:>4}  {:<32} group {:<6} closed→{:<9} ack {:<3} {}",
                    m.id,
                    m.address,
                    m.group_id
                        .map(|g| g.to_string())
                        .unwrap_or_else(|| "-".into()),
                    m.closed_policy.as_str(),
                    if m.auto_ack { "yes" } else { "no" },
                    m.imap
                        .as_ref()
                        .map(|i| format!("imap {}:{}/{}", i.host, i.port, i.folder))
                        .unwrap_or_default()
                );
            }
            Ok(())
        }
        MailCmd::Log { outcome, limit } => {
            let store = cfg.open_store().await?;
            let page = store
                .list_mail_intake(
                    outcome,
                    PageRequest {
                        after_id: None,
                        limit: limit.clamp(1, 500),
                    },
                )
                .await
                .map_err(crate::store_err)?;
            for e in page.items {
                println!(
                    "{:>6}  {}  {:<9} {:<28} {}{}{}",
                    e.id,
                    e.received_at.format("%Y-%m-%d %H:%M:%S"),
                    e.outcome,
                    e.sender.unwrap_or_default(),
                    e.subject,
                    e.ticket_id.map(|t| format!("  → #{t}")).unwrap_or_default(),
                    if e.reason.is_empty() {
                        String::new()
                    } else {
                        format!("  ({})", e.reason)
                    }
                );
            }
            Ok(())
        }
    }
}

/// Without an envelope recipient: the first mailbox named in Delivered-To, To or Cc.
fn guess_mailbox(
    boxes: &[tend_store::mail::Mailbox],
    raw: &[u8],
) -> Option<tend_store::mail::Mailbox> {
    let mail = tend_mail::parse(raw).ok()?;
    mail.delivered_to
        .iter()
        .cloned()
        .chain(mail.to.iter().chain(&mail.cc).map(|m| m.address.clone()))
        .find_map(|a| mailbox_for(boxes, &a).cloned())
}
