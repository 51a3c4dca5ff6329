//! The IMAP poller: reads the IMAP folder of every active mailbox that has an IMAP account and
//! takes each mail in through [`intake::ingest`](super::intake::ingest), exactly once.
//!
//! Exactly once, also across a crash: a mail's intake row and the mailbox's IMAP state
//! (UIDVALIDITY, last UID) are written in one transaction, and mails are taken in strictly in
//! UID order. After a restart the poller asks the store for the last UID and fetches from the
//! next one, so nothing is taken twice and nothing is skipped. When the folder's UIDVALIDITY
//! changed (the server renumbered it), the whole folder is read again and Message-ID
//! deduplication keeps the mails that are already in from opening tickets twice. A temporary
//! store failure stops the batch at that mail; the poller tries again later from there.
//!
//! One task per mailbox: connect (plain TCP for `security = "none"`, implicit TLS for
//! `"tls"`, trusting the system's CA bundle or `SSL_CERT_FILE`), LOGIN, SELECT, then import in
//! batches (at most [`BATCH`] mails and [`BATCH_BYTES`] bytes each), apply `after_import`
//! (`seen`: set `\Seen`; `move:<folder>`: UID MOVE, or COPY + `\Deleted` + UID EXPUNGE), and
//! wait for new mail with IDLE (renewed every 25 minutes) or, without IDLE, poll every 30 s.
//! Errors reconnect with an exponential backoff. The list of mailboxes is read again every
//! minute, so new or changed mailboxes start polling without a restart.
//!
//! `after_import` runs after the import is durable and is best effort: a crash between the
//! two leaves the mail where it was (`move:` catches up on the next connection).
//!
//! Mails are fetched with `BODY.PEEK[]` (the same bytes as `RFC822`, but without setting
//! `\Seen`, so `after_import = "none"` leaves the folder as it was). Mails larger than
//! [`MAX_MESSAGE_BYTES`] are not downloaded: their header is logged as `rejected`.
//!
//! The client is the `async-imap` crate (tokio runtime, no default features): it speaks the
//! protocol fully (literals, untagged and unsolicited responses, IDLE) through `imap-proto`'s
//! parser, returns errors rather than panicking on odd server input, and builds on stable
//! Rust. Every command it runs here is bounded by a timeout, so a silent server cannot hang a
//! mailbox's task.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_imap::types::Fetch;
use futures::{Stream, StreamExt};
use tend_core::Clock;
use tend_store::mail::{ImapSource, MailAction, MailDelivery, MailMeta, Mailbox};
use tend_store::Store;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::intake::{ingest, Envelope, IngestError};
use super::smtp::MAX_MESSAGE_BYTES;
use super::MailConfig;

/// Mails per batch.
pub const BATCH: usize = 50;
/// Bytes per batch (by the sizes the server reports); a single larger mail is its own batch.
pub const BATCH_BYTES: u64 = 64 * 1024 * 1024;
/// An IDLE is ended and started again after this long (RFC 2177: at most 29 minutes).
const IDLE_RENEW: Duration = Duration::from_secs(25 * 60);
/// Without IDLE: how often the folder is checked.
const POLL_EVERY: Duration = Duration::from_secs(30);
/// How often the list of mailboxes is read again.
const REFRESH_EVERY: Duration = Duration::from_secs(60);
/// Connecting (TCP and TLS).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);
/// One command's answer, or one response of a long answer.
const IO_TIMEOUT: Duration = Duration::from_secs(120);
const BACKOFF_MIN: Duration = Duration::from_secs(2);
const BACKOFF_MAX: Duration = Duration::from_secs(300);
/// How long a stopping mailbox task may take to finish the mail it is at.
const STOP_GRACE: Duration = Duration::from_secs(15);
/// UIDs per command when catching up on `move:` for mails imported before a crash.
const CATCH_UP_CHUNK: usize = 500;

trait Io: AsyncRead + AsyncWrite + Unpin + Send + fmt::Debug {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + fmt::Debug> Io for T {}

type Session = async_imap::Session<Box<dyn Io>>;

/// A logged-in connection with the folder selected.
struct Conn {
    session: Session,
    uid_validity: u32,
    idle: bool,
    move_ext: bool,
    uidplus: bool,
}

fn err(e: impl fmt::Display) -> String {
    e.to_string()
}

/// Runs one IMAP command (or connection step) with [`IO_TIMEOUT`].
async fn timed<T, E: fmt::Display>(
    what: &str,
    f: impl Future<Output = Result<T, E>>,
) -> Result<T, String> {
    match tokio::time::timeout(IO_TIMEOUT, f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(format!("{what}: {e}")),
        Err(_) => Err(format!(
            "{what}: no answer from the IMAP server within {} s",
            IO_TIMEOUT.as_secs()
        )),
    }
}

/// Reads a response stream to its end, each response within [`IO_TIMEOUT`]. Returns what
/// arrived and the error that ended it, if any (the responses before an error are kept).
async fn drain<T, E: fmt::Display>(
    what: &str,
    s: impl Stream<Item = Result<T, E>>,
) -> (Vec<T>, Option<String>) {
    let mut s = std::pin::pin!(s);
    let mut out = Vec::new();
    loop {
        match tokio::time::timeout(IO_TIMEOUT, s.next()).await {
            Ok(None) => return (out, None),
            Ok(Some(Ok(v))) => out.push(v),
            Ok(Some(Err(e))) => return (out, Some(format!("{what}: {e}"))),
            Err(_) => {
                return (
                    out,
                    Some(format!(
                        "{what}: no answer from the IMAP server within {} s",
                        IO_TIMEOUT.as_secs()
                    )),
                )
            }
        }
    }
}

/// The CA certificates of the system (or of `SSL_CERT_FILE`).
fn root_store() -> Result<rustls::RootCertStore, String> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::CertificateDer;
    let mut candidates: Vec<std::path::PathBuf> = Vec::new();
    if let Some(f) = std::env::var_os("SSL_CERT_FILE") {
        candidates.push(f.into());
    }
    for p in [
        "/etc/ssl/certs/ca-certificates.crt",
        "/etc/pki/tls/certs/ca-bundle.crt",
        "/etc/ssl/ca-bundle.pem",
        "/etc/ssl/cert.pem",
    ] {
        candidates.push(p.into());
    }
    for path in candidates {
        let Ok(pem) = std::fs::read(&path) else {
            continue;
        };
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(&pem).flatten() {
            let _ = roots.add(cert);
        }
        if !roots.is_empty() {
            return Ok(roots);
        }
    }
    Err("no CA certificates found to check the IMAP server's certificate: install ca-certificates or set SSL_CERT_FILE".into())
}

async fn tls_connect(
    tcp: tokio::net::TcpStream,
    host: &str,
) -> Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(err)?
        .with_root_certificates(root_store()?)
        .with_no_client_auth();
    let name = rustls_pki_types::ServerName::try_from(host.to_string())
        .map_err(|e| format!("IMAP host {host:?}: {e}"))?;
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    match tokio::time::timeout(CONNECT_TIMEOUT, connector.connect(name, tcp)).await {
        Ok(Ok(s)) => Ok(s),
        Ok(Err(e)) => Err(format!("TLS with {host}: {e}")),
        Err(_) => Err(format!("TLS with {host}: timed out")),
    }
}

/// Connects, logs in and selects the folder.
async fn connect(src: &ImapSource) -> Result<Conn, String> {
    let addr = format!("{}:{}", src.host, src.port);
    let tcp = match tokio::time::timeout(
        CONNECT_TIMEOUT,
        tokio::net::TcpStream::connect((src.host.as_str(), src.port)),
    )
    .await
    {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return Err(format!("cannot connect to {addr}: {e}")),
        Err(_) => return Err(format!("connecting to {addr} timed out")),
    };
    let _ = tcp.set_nodelay(true);
    let io: Box<dyn Io> = match src.security.as_str() {
        "none" | "" => Box::new(tcp),
        "tls" => Box::new(tls_connect(tcp, &src.host).await?),
        other => {
            return Err(format!(
                "IMAP security {other:?} is not known (none or tls)"
            ))
        }
    };
    let mut client = async_imap::Client::new(io);
    match timed("greeting", client.read_response()).await? {
        Some(_) => {}
        None => return Err(format!("{addr} closed the connection before greeting")),
    }
    let mut session =
        match tokio::time::timeout(IO_TIMEOUT, client.login(&src.username, &src.password)).await {
            Ok(Ok(s)) => s,
            Ok(Err((e, _))) => return Err(format!("LOGIN as {} at {addr}: {e}", src.username)),
            Err(_) => return Err(format!("LOGIN at {addr}: no answer")),
        };
    let caps = timed("CAPABILITY", session.capabilities()).await?;
    let (idle, move_ext, uidplus) = (
        caps.has_str("IDLE"),
        caps.has_str("MOVE"),
        caps.has_str("UIDPLUS"),
    );
    let mb = timed(
        &format!("SELECT {}", src.folder),
        session.select(&src.folder),
    )
    .await?;
    let uid_validity = mb
        .uid_validity
        .ok_or_else(|| format!("the IMAP server sent no UIDVALIDITY for {}", src.folder))?;
    Ok(Conn {
        session,
        uid_validity,
        idle,
        move_ext,
        uidplus,
    })
}

/// `1:3,5,7:9` for sorted UIDs.
fn uid_set(uids: &[u32]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < uids.len() {
        let start = uids[i];
        let mut end = start;
        while i + 1 < uids.len() && uids[i + 1] == end.wrapping_add(1) {
            i += 1;
            end = uids[i];
        }
        if !out.is_empty() {
            out.push(',');
        }
        if start == end {
            out.push_str(&start.to_string());
        } else {
            out.push_str(&format!("{start}:{end}"));
        }
        i += 1;
    }
    out
}

/// What a batch did: how many mails were stored, and whether more are waiting.
struct Batch {
    stored: usize,
    more: bool,
}

/// The last UID taken in for this UIDVALIDITY (0: none, or the folder was renumbered).
async fn last_uid(store: &dyn Store, mailbox_id: i64, validity: u32) -> Result<u32, String> {
    match store.imap_state(mailbox_id).await {
        Ok(Some((v, last))) if v == validity => Ok(last),
        Ok(_) => Ok(0),
        Err(e) => Err(format!("reading the IMAP state: {e}")),
    }
}

/// Logs a mail too large to download as rejected, with its header only.
async fn reject_oversized(
    store: &dyn Store,
    now: chrono::DateTime<chrono::Utc>,
    mailbox: &Mailbox,
    imap_uid: (u32, u32),
    size: u32,
    header: Vec<u8>,
) -> Result<(), String> {
    let parsed = tend_mail::parse(&header).ok();
    let d = MailDelivery {
        mailbox_id: Some(mailbox.id),
        source: "imap".into(),
        message_id: None,
        sender: parsed.as_ref().and_then(|m| m.sender_key()),
        subject: parsed
            .as_ref()
            .map(|m| m.subject.chars().take(250).collect())
            .unwrap_or_default(),
        meta: MailMeta::default(),
        action: MailAction::Drop {
            outcome: "rejected".into(),
            ticket_id: None,
            reason: format!(
                "the mail is {size} bytes, larger than the {MAX_MESSAGE_BYTES} bytes Tend takes; only its header is kept here, the mail is still on the IMAP server (UID {})",
                imap_uid.1
            ),
        },
        imap_uid: Some(imap_uid),
        raw: header,
    };
    store
        .deliver_mail(d, now)
        .await
        .map(|_| ())
        .map_err(|e| format!("storing UID {}: {e}", imap_uid.1))
}

/// Imports the next batch of at most `want` mails after the stored last UID, in UID order.
async fn import_batch(
    store: &dyn Store,
    clock: &dyn Clock,
    secret: &[u8],
    mailbox: &Mailbox,
    conn: &mut Conn,
    want: usize,
    stop: Option<&watch::Receiver<bool>>,
) -> Result<Batch, String> {
    let validity = conn.uid_validity;
    let last = last_uid(store, mailbox.id, validity).await?;
    if last == u32::MAX {
        return Ok(Batch {
            stored: 0,
            more: false,
        });
    }
    // `n:*` also names the highest UID when that is below n: keep only UIDs after `last`.
    let found = timed(
        "UID SEARCH",
        conn.session.uid_search(format!("UID {}:*", last + 1)),
    )
    .await?;
    let mut uids: Vec<u32> = found.into_iter().filter(|u| *u > last).collect();
    uids.sort_unstable();
    uids.dedup();
    let mut more = uids.len() > want;
    uids.truncate(want.max(1));
    if uids.is_empty() {
        return Ok(Batch {
            stored: 0,
            more: false,
        });
    }

    // Sizes first: the batch is cut to BATCH_BYTES, mails over the limit are not downloaded.
    let (fetched, error) = {
        let s = timed(
            "UID FETCH sizes",
            conn.session.uid_fetch(uid_set(&uids), "(UID RFC822.SIZE)"),
        )
        .await?;
        drain("UID FETCH sizes", s).await
    };
    if let Some(e) = error {
        return Err(e);
    }
    let sizes: HashMap<u32, u32> = fetched
        .iter()
        .filter_map(|f: &Fetch| Some((f.uid?, f.size?)))
        .collect();
    // A UID without a size was expunged since the search: nothing to take in.
    uids.retain(|u| sizes.contains_key(u));
    let mut total: u64 = 0;
    let mut cut = uids.len();
    for (i, u) in uids.iter().enumerate() {
        let size = sizes[u] as usize;
        if size > MAX_MESSAGE_BYTES {
            continue;
        }
        if i > 0 && total + size as u64 > BATCH_BYTES {
            cut = i;
            break;
        }
        total += size as u64;
    }
    if cut < uids.len() {
        uids.truncate(cut);
        more = true;
    }
    let (small, big): (Vec<u32>, Vec<u32>) = uids
        .iter()
        .partition(|u| sizes[*u] as usize <= MAX_MESSAGE_BYTES);

    let mut headers: HashMap<u32, Vec<u8>> = HashMap::new();
    if !big.is_empty() {
        let s = timed(
            "UID FETCH header",
            conn.session
                .uid_fetch(uid_set(&big), "(UID BODY.PEEK[HEADER])"),
        )
        .await?;
        let (fetched, error) = drain("UID FETCH header", s).await;
        for f in &fetched {
            if let (Some(uid), Some(h)) = (f.uid, f.header()) {
                headers.insert(uid, h.iter().copied().take(256 * 1024).collect());
            }
        }
        if let Some(e) = error {
            tracing::warn!(mailbox = %mailbox.address, error = %e, "IMAP: fetching headers of oversized mails");
        }
    }
    let mut bodies: HashMap<u32, Vec<u8>> = HashMap::new();
    let mut fetch_error = None;
    if !small.is_empty() {
        let s = timed(
            "UID FETCH",
            conn.session.uid_fetch(uid_set(&small), "(UID BODY.PEEK[])"),
        )
        .await?;
        let (fetched, error) = drain("UID FETCH", s).await;
        for f in fetched {
            if let (Some(uid), Some(b)) = (f.uid, f.body()) {
                bodies.insert(uid, b.to_vec());
            }
        }
        fetch_error = error;
    }

    let mut ours: Vec<String> = Vec::new();
    match store.list_mailboxes().await {
        Ok(boxes) => ours.extend(boxes.into_iter().map(|m| m.address)),
        Err(e) => return Err(format!("listing the mailboxes: {e}")),
    }
    let mut done: Vec<u32> = Vec::new();
    let mut failure: Option<String> = None;
    for uid in &uids {
        if stop.is_some_and(|s| *s.borrow()) {
            more = true;
            break;
        }
        let uid = *uid;
        let now = clock.now();
        if let Some(size) = sizes
            .get(&uid)
            .copied()
            .filter(|s| *s as usize > MAX_MESSAGE_BYTES)
        {
            let header = headers.remove(&uid).unwrap_or_default();
            if let Err(e) =
                reject_oversized(store, now, mailbox, (validity, uid), size, header).await
            {
                failure = Some(e);
                break;
            }
            tracing::warn!(mailbox = %mailbox.address, uid, size, "IMAP: mail too large, logged as rejected");
            done.push(uid);
            continue;
        }
        // Never skip a UID: a mail the server did not send now is tried again later.
        let Some(raw) = bodies.remove(&uid) else {
            failure = Some(format!(
                "the IMAP server sent no content for UID {uid}{}",
                fetch_error
                    .as_deref()
                    .map(|e| format!(" ({e})"))
                    .unwrap_or_default()
            ));
            break;
        };
        let env = Envelope {
            source: "imap".into(),
            mailbox: Some(mailbox.clone()),
            our_addresses: ours.clone(),
            imap_uid: Some((validity, uid)),
        };
        match ingest(store, secret, raw, env, now).await {
            Ok(d) => {
                tracing::debug!(mailbox = %mailbox.address, uid, outcome = %d.outcome, intake = d.intake_id, "IMAP: mail taken in");
                done.push(uid);
            }
            Err(IngestError::Temporary(e)) => {
                failure = Some(format!("storing UID {uid}: {e}"));
                break;
            }
        }
    }
    if !done.is_empty() {
        after_import(mailbox, conn, &done).await;
    }
    match failure {
        Some(e) => Err(if done.is_empty() {
            e
        } else {
            format!(
                "{e} ({} mails of the batch were taken in before)",
                done.len()
            )
        }),
        None => Ok(Batch {
            stored: done.len(),
            more,
        }),
    }
}

/// Marks or moves mails that are taken in. Best effort: failures are logged, the import stands.
async fn after_import(mailbox: &Mailbox, conn: &mut Conn, uids: &[u32]) {
    let Some(src) = mailbox.imap.as_ref() else {
        return;
    };
    let r = match src.after_import.as_str() {
        "seen" => store_flags(conn, uids, "+FLAGS.SILENT (\\Seen)").await,
        a => match a.strip_prefix("move:") {
            Some(folder) if !folder.trim().is_empty() => move_to(conn, uids, folder.trim()).await,
            _ => Ok(()),
        },
    };
    if let Err(e) = r {
        tracing::warn!(mailbox = %mailbox.address, after_import = %src.after_import, error = %e, "IMAP: the mails are taken in, but marking them on the server failed");
    }
}

async fn store_flags(conn: &mut Conn, uids: &[u32], flags: &str) -> Result<(), String> {
    let s = timed("UID STORE", conn.session.uid_store(uid_set(uids), flags)).await?;
    match drain("UID STORE", s).await {
        (_, Some(e)) => Err(e),
        _ => Ok(()),
    }
}

async fn move_to(conn: &mut Conn, uids: &[u32], folder: &str) -> Result<(), String> {
    let set = uid_set(uids);
    let mut created = false;
    loop {
        let r = if conn.move_ext {
            timed("UID MOVE", conn.session.uid_mv(&set, folder)).await
        } else {
            timed("UID COPY", conn.session.uid_copy(&set, folder)).await
        };
        match r {
            Ok(()) => break,
            // Most likely the folder does not exist yet ([TRYCREATE]): make it once.
            Err(e) if !created && e.contains("no response") => {
                created = true;
                if let Err(c) = timed("CREATE", conn.session.create(folder)).await {
                    return Err(format!("{e}; {c}"));
                }
            }
            Err(e) => return Err(e),
        }
    }
    if conn.move_ext {
        return Ok(());
    }
    store_flags(conn, uids, "+FLAGS.SILENT (\\Deleted)").await?;
    if conn.uidplus {
        let s = timed("UID EXPUNGE", conn.session.uid_expunge(&set)).await?;
        if let (_, Some(e)) = drain("UID EXPUNGE", s).await {
            return Err(e);
        }
    } else {
        tracing::warn!("IMAP: the server has neither MOVE nor UIDPLUS; copied mails are flagged \\Deleted and left for the next EXPUNGE");
    }
    Ok(())
}

/// `move:` after a crash between import and move: mails at or below the last UID still in the
/// folder are moved now.
async fn catch_up_moves(store: &dyn Store, mailbox: &Mailbox, conn: &mut Conn) {
    let Some(src) = mailbox.imap.as_ref() else {
        return;
    };
    if !src.after_import.starts_with("move:") {
        return;
    }
    let last = match last_uid(store, mailbox.id, conn.uid_validity).await {
        Ok(l) if l > 0 => l,
        _ => return,
    };
    let left = match timed(
        "UID SEARCH",
        conn.session.uid_search(format!("UID 1:{last}")),
    )
    .await
    {
        Ok(f) => f,
        Err(e) => {
            tracing::warn!(mailbox = %mailbox.address, error = %e, "IMAP: looking for imported mails still in the folder");
            return;
        }
    };
    let mut left: Vec<u32> = left.into_iter().filter(|u| *u <= last).collect();
    left.sort_unstable();
    for chunk in left.chunks(CATCH_UP_CHUNK) {
        after_import(mailbox, conn, chunk).await;
    }
}

/// Imports up to `max` mails on an open connection, batch after batch.
async fn import(
    store: &dyn Store,
    clock: &dyn Clock,
    mail: &MailConfig,
    mailbox: &Mailbox,
    conn: &mut Conn,
    max: usize,
    stop: Option<&watch::Receiver<bool>>,
) -> Result<usize, String> {
    let secret = mail
        .secret(store)
        .await
        .map_err(|e| format!("reading the token key: {e}"))?;
    let mut stored = 0;
    while stored < max {
        if stop.is_some_and(|s| *s.borrow()) {
            break;
        }
        let want = BATCH.min(max - stored);
        let b = import_batch(store, clock, &secret, mailbox, conn, want, stop).await?;
        stored += b.stored;
        if b.stored > 0 {
            tracing::info!(mailbox = %mailbox.address, count = b.stored, "IMAP: mails taken in");
        }
        if !b.more || b.stored == 0 {
            break;
        }
    }
    Ok(stored)
}

/// Connects once, imports up to `max` new mails of the mailbox's IMAP folder and logs out.
/// Returns how many mails were taken in (whatever became of them: tickets, replies,
/// duplicates…).
pub async fn poll_once(
    store: &dyn Store,
    clock: &dyn Clock,
    mail: &MailConfig,
    mailbox: &Mailbox,
    max: usize,
) -> Result<usize, String> {
    let src = mailbox
        .imap
        .as_ref()
        .ok_or_else(|| format!("mailbox {} has no IMAP account", mailbox.address))?;
    let mut conn = connect(src).await?;
    let r = import(store, clock, mail, mailbox, &mut conn, max, None).await;
    let _ = tokio::time::timeout(Duration::from_secs(5), conn.session.logout()).await;
    r
}

/// Resolves once `stop` is true (or its sender is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// Waits for new mail: IDLE when the server has it, else [`POLL_EVERY`]. `Ok(None)`: stop.
async fn wait_for_mail(
    mut conn: Conn,
    stop: &mut watch::Receiver<bool>,
) -> Result<Option<Conn>, String> {
    if !conn.idle {
        tokio::select! {
            _ = tokio::time::sleep(POLL_EVERY) => return Ok(Some(conn)),
            _ = stopped(stop) => return Ok(None),
        }
    }
    let mut handle = conn.session.idle();
    timed("IDLE", handle.init()).await?;
    let stop_now = {
        let (wait, _interrupt) = handle.wait_with_timeout(IDLE_RENEW);
        tokio::select! {
            r = wait => {
                r.map_err(|e| format!("IDLE: {e}"))?;
                false
            }
            _ = tokio::time::sleep(IDLE_RENEW) => false,
            _ = stopped(stop) => true,
        }
    };
    conn.session = timed("DONE", handle.done()).await?;
    if stop_now {
        let _ = tokio::time::timeout(Duration::from_secs(5), conn.session.logout()).await;
        return Ok(None);
    }
    Ok(Some(conn))
}

/// One connection's life: connect, import, wait, import… `Ok` when stopped.
async fn session(
    store: &dyn Store,
    clock: &dyn Clock,
    mail: &MailConfig,
    mailbox: &Mailbox,
    src: &ImapSource,
    stop: &mut watch::Receiver<bool>,
    backoff: &mut Duration,
) -> Result<(), String> {
    let mut conn = tokio::select! {
        c = connect(src) => c?,
        _ = stopped(stop) => return Ok(()),
    };
    tracing::info!(mailbox = %mailbox.address, server = %format!("{}:{}", src.host, src.port), folder = %src.folder, idle = conn.idle, "IMAP: connected");
    catch_up_moves(store, mailbox, &mut conn).await;
    loop {
        import(
            store,
            clock,
            mail,
            mailbox,
            &mut conn,
            usize::MAX,
            Some(stop),
        )
        .await?;
        *backoff = BACKOFF_MIN;
        if *stop.borrow() {
            let _ = tokio::time::timeout(Duration::from_secs(5), conn.session.logout()).await;
            return Ok(());
        }
        conn = match wait_for_mail(conn, stop).await? {
            Some(c) => c,
            None => return Ok(()),
        };
    }
}

/// Polls one mailbox until `stop`, reconnecting with backoff.
async fn watch_mailbox(
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    mail: Arc<MailConfig>,
    mailbox: Mailbox,
    mut stop: watch::Receiver<bool>,
) {
    let Some(src) = mailbox.imap.clone() else {
        return;
    };
    let mut backoff = BACKOFF_MIN;
    loop {
        let r = session(
            &*store,
            &*clock,
            &mail,
            &mailbox,
            &src,
            &mut stop,
            &mut backoff,
        )
        .await;
        let e = match r {
            Ok(()) => return,
            Err(e) => e,
        };
        tracing::warn!(mailbox = %mailbox.address, server = %format!("{}:{}", src.host, src.port), error = %e, retry_in_s = backoff.as_secs(), "IMAP polling failed; trying again");
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = stopped(&mut stop) => return,
        }
        backoff = (backoff * 2).min(BACKOFF_MAX);
    }
}

struct Running {
    mailbox: Mailbox,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

async fn halt(r: Running) {
    let _ = r.stop.send(true);
    let mut task = r.task;
    if tokio::time::timeout(STOP_GRACE, &mut task).await.is_err() {
        task.abort();
        let _ = task.await;
    }
}

/// Polls until `stop` turns true: one task per active mailbox with an IMAP account, the list
/// read again every minute.
pub async fn run(
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    mail: Arc<MailConfig>,
    mut stop: watch::Receiver<bool>,
) {
    let mut running: HashMap<i64, Running> = HashMap::new();
    loop {
        match store.list_mailboxes().await {
            Ok(boxes) => {
                let wanted: HashMap<i64, Mailbox> = boxes
                    .into_iter()
                    .filter(|m| m.active && m.imap.is_some())
                    .map(|m| (m.id, m))
                    .collect();
                // Stop tasks of removed or changed mailboxes, and tasks that ended.
                let stale: Vec<i64> = running
                    .iter()
                    .filter(|(id, r)| r.task.is_finished() || wanted.get(id) != Some(&r.mailbox))
                    .map(|(id, _)| *id)
                    .collect();
                for id in stale {
                    if let Some(r) = running.remove(&id) {
                        halt(r).await;
                    }
                }
                let mut new_ids: Vec<i64> = wanted
                    .keys()
                    .filter(|id| !running.contains_key(id))
                    .copied()
                    .collect();
                new_ids.sort_unstable();
                for id in new_ids {
                    let Some(m) = wanted.get(&id) else { continue };
                    let (tx, rx) = watch::channel(false);
                    tracing::info!(mailbox = %m.address, "IMAP: polling starts");
                    let task = tokio::spawn(watch_mailbox(
                        store.clone(),
                        clock.clone(),
                        mail.clone(),
                        m.clone(),
                        rx,
                    ));
                    running.insert(
                        id,
                        Running {
                            mailbox: m.clone(),
                            stop: tx,
                            task,
                        },
                    );
                }
            }
            Err(e) => tracing::warn!(error = %e, "IMAP: cannot read the mailboxes; trying again"),
        }
        tokio::select! {
            _ = tokio::time::sleep(REFRESH_EVERY) => {}
            _ = stopped(&mut stop) => break,
        }
    }
    for r in running.values() {
        let _ = r.stop.send(true);
    }
    let all: Vec<Running> = running.into_values().collect();
    futures::future::join_all(all.into_iter().map(halt)).await;
}

/// Issue 4 (the admin's "test connection" button): connects, logs in and selects the folder
/// of `src`, all within `limit`, then logs out. The answer, or the server's refusal, is text
/// for the admin (it may quote the server).
pub async fn test_login(src: &ImapSource, limit: Duration) -> Result<String, String> {
    match tokio::time::timeout(limit, connect(src)).await {
        Err(_) => Err(format!(
            "no answer from {}:{} within {} seconds",
            src.host,
            src.port,
            limit.as_secs()
        )),
        Ok(Err(e)) => Err(e),
        Ok(Ok(mut conn)) => {
            let _ = tokio::time::timeout(Duration::from_secs(5), conn.session.logout()).await;
            Ok(format!(
                "Signed in as {} and opened {} (UIDVALIDITY {}; IDLE {}, MOVE {}).",
                src.username,
                src.folder,
                conn.uid_validity,
                if conn.idle { "yes" } else { "no" },
                if conn.move_ext { "yes" } else { "no" },
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::uid_set;

    #[test]
    fn uid_sets_are_compressed_into_ranges() {
        assert_eq!(uid_set(&[1, 2, 3, 5, 7, 8, 9]), "1:3,5,7:9");
        assert_eq!(uid_set(&[4]), "4");
        assert_eq!(uid_set(&[]), "");
        assert_eq!(uid_set(&[u32::MAX - 1, u32::MAX]), "4294967294:4294967295");
    }
}
