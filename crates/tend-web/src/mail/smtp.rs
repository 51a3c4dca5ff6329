//! The built-in SMTP listener (RFC 5321 receiver): accepts mail for configured mailboxes only
//! and answers `250` only after the mail is committed, so a crash before that makes the sending
//! server retry rather than lose it. Store trouble answers `451` (try again later).
//!
//! Extensions: PIPELINING, SIZE, 8BITMIME, ENHANCEDSTATUSCODES, and STARTTLS when a
//! certificate is configured. No AUTH: this is an inbound (MX-style) listener, not a relay.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tend_core::Clock;
use tend_store::mail::Mailbox;
use tend_store::Store;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::sync::{RwLock, Semaphore};

use super::intake::{ingest, mailbox_for, Envelope, IngestError};
use super::MailConfig;

/// Largest mail taken (the SIZE extension announces it).
pub const MAX_MESSAGE_BYTES: usize = 30 * 1024 * 1024;
const MAX_LINE: usize = 2048;
const MAX_RECIPIENTS: usize = 100;
const MAX_ERRORS: usize = 20;
const MAX_CONNECTIONS: usize = 512;
/// RFC 5321 §4.5.3.2: at least 5 minutes per command; 10 for the mail data.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(300);
const DATA_TIMEOUT: Duration = Duration::from_secs(600);

pub struct SmtpServer {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub mail: Arc<MailConfig>,
    /// The name in the greeting and EHLO answer.
    pub hostname: String,
    pub tls: Option<tokio_rustls::TlsAcceptor>,
    mailboxes: RwLock<Option<(Instant, Arc<Vec<Mailbox>>)>>,
    connections: Semaphore,
}

impl SmtpServer {
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        mail: Arc<MailConfig>,
        hostname: String,
        tls: Option<tokio_rustls::TlsAcceptor>,
    ) -> Arc<SmtpServer> {
        Arc::new(SmtpServer {
            store,
            clock,
            mail,
            hostname,
            tls,
            mailboxes: RwLock::new(None),
            connections: Semaphore::new(MAX_CONNECTIONS),
        })
    }

    /// The configured mailboxes, read again at most every two seconds.
    async fn mailboxes(&self) -> Result<Arc<Vec<Mailbox>>, tend_store::StoreError> {
        if let Some((at, m)) = &*self.mailboxes.read().await {
            if at.elapsed() < Duration::from_secs(2) {
                return Ok(m.clone());
            }
        }
        let fresh = Arc::new(self.store.list_mailboxes().await?);
        *self.mailboxes.write().await = Some((Instant::now(), fresh.clone()));
        Ok(fresh)
    }
}

/// Accepts connections until `stop` turns true.
pub async fn serve(
    listener: TcpListener,
    server: Arc<SmtpServer>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            accepted = listener.accept() => {
                let Ok((stream, peer)) = accepted else { continue };
                let _ = stream.set_nodelay(true);
                let server = server.clone();
                tokio::spawn(async move {
                    let Ok(_permit) = server.connections.try_acquire() else {
                        let mut s = stream;
                        let _ = s.write_all(b"421 4.3.2 Too many connections, try again later\r\n").await;
                        return;
                    };
                    if let Err(e) = session(stream, &server).await {
                        tracing::debug!(%peer, error = %e, "SMTP session ended");
                    }
                });
            }
        }
    }
}

enum End {
    Quit,
    StartTls,
}

async fn session(stream: tokio::net::TcpStream, server: &SmtpServer) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream);
    reader
        .get_mut()
        .write_all(format!("220 {} Tend ESMTP ready\r\n", server.hostname).as_bytes())
        .await?;
    match dialogue(&mut reader, server, false).await? {
        End::Quit => Ok(()),
        End::StartTls => {
            let Some(acceptor) = server.tls.clone() else {
                return Ok(());
            };
            let tls = acceptor.accept(reader.into_inner()).await?;
            let mut reader = BufReader::new(tls);
            // RFC 3207: the client starts over with EHLO; no greeting is sent.
            dialogue(&mut reader, server, true).await.map(|_| ())
        }
    }
}

#[derive(Default)]
struct Transaction {
    from: Option<String>,
    rcpt: Vec<Mailbox>,
}

async fn reply<S: AsyncWrite + Unpin>(w: &mut S, text: &str) -> std::io::Result<()> {
    w.write_all(text.as_bytes()).await?;
    w.write_all(b"\r\n").await
}

/// Reads one command line (without CRLF); `None` at end of stream. Overlong lines are read to
/// their end and reported as `Err(())`.
async fn read_line<S: AsyncRead + Unpin>(
    r: &mut BufReader<S>,
) -> std::io::Result<Option<Result<String, ()>>> {
    let mut buf = Vec::with_capacity(128);
    let n = (&mut *r)
        .take(MAX_LINE as u64)
        .read_until(b'\n', &mut buf)
        .await?;
    if n == 0 {
        return Ok(None);
    }
    if !buf.ends_with(b"\n") {
        // Too long: skip to the end of the line.
        loop {
            let mut rest = Vec::new();
            let n = (&mut *r)
                .take(MAX_LINE as u64)
                .read_until(b'\n', &mut rest)
                .await?;
            if n == 0 || rest.ends_with(b"\n") {
                break;
            }
        }
        return Ok(Some(Err(())));
    }
    while buf.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
        buf.pop();
    }
    Ok(Some(Ok(String::from_utf8_lossy(&buf).into_owned())))
}

/// The address in `FROM:<a@b> SIZE=1` / `TO:<a@b>`, and the parameters after it.
fn path_arg(arg: &str, prefix: &str) -> Option<(String, String)> {
    let rest = arg.get(..prefix.len())?;
    if !rest.eq_ignore_ascii_case(prefix) {
        return None;
    }
    let rest = arg[prefix.len()..].trim_start();
    if let Some(inner) = rest.strip_prefix('<') {
        let end = inner.find('>')?;
        Some((
            inner[..end].trim().to_string(),
            inner[end + 1..].trim().to_string(),
        ))
    } else {
        let mut it = rest.splitn(2, ' ');
        Some((it.next()?.to_string(), it.next().unwrap_or("").to_string()))
    }
}

fn size_param(params: &str) -> Option<usize> {
    params.split_whitespace().find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.eq_ignore_ascii_case("SIZE").then(|| v.parse().ok())?
    })
}

/// Reads the mail data up to the lone dot, undoing dot-stuffing. `Ok(None)` when it was larger
/// than the limit (read to its end and thrown away).
async fn read_data<S: AsyncRead + Unpin>(r: &mut BufReader<S>) -> std::io::Result<Option<Vec<u8>>> {
    let mut out = Vec::with_capacity(16 * 1024);
    let mut line = Vec::with_capacity(1024);
    let mut too_big = false;
    loop {
        line.clear();
        let n = (&mut *r)
            .take((MAX_MESSAGE_BYTES + 4096) as u64)
            .read_until(b'\n', &mut line)
            .await?;
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "connection closed in DATA",
            ));
        }
        if line == b".\r\n" || line == b".\n" {
            break;
        }
        let body = if line.starts_with(b".") {
            &line[1..]
        } else {
            &line[..]
        };
        if too_big || out.len() + body.len() > MAX_MESSAGE_BYTES {
            too_big = true;
            out = Vec::new();
            continue;
        }
        out.extend_from_slice(body);
    }
    Ok((!too_big).then_some(out))
}

async fn dialogue<S: AsyncRead + AsyncWrite + Unpin>(
    r: &mut BufReader<S>,
    server: &SmtpServer,
    secure: bool,
) -> std::io::Result<End> {
    let mut tx = Transaction::default();
    let mut greeted = false;
    let mut errors = 0usize;
    loop {
        let line = match tokio::time::timeout(COMMAND_TIMEOUT, read_line(r)).await {
            Err(_) => {
                reply(r.get_mut(), "421 4.4.2 Idle too long, closing").await?;
                return Ok(End::Quit);
            }
            Ok(res) => match res? {
                None => return Ok(End::Quit),
                Some(Err(())) => {
                    errors += 1;
                    reply(r.get_mut(), "500 5.5.2 Line too long").await?;
                    if errors > MAX_ERRORS {
                        return Ok(End::Quit);
                    }
                    continue;
                }
                Some(Ok(l)) => l,
            },
        };
        let (verb, arg) = match line.split_once(' ') {
            Some((v, a)) => (v.to_ascii_uppercase(), a.trim().to_string()),
            None => (line.trim().to_ascii_uppercase(), String::new()),
        };
        let w = r.get_mut();
        match verb.as_str() {
            "EHLO" => {
                tx = Transaction::default();
                greeted = true;
                let mut lines = vec![
                    format!(
                        "250-{} greets {}",
                        server.hostname,
                        arg.chars().take(64).collect::<String>()
                    ),
                    "250-PIPELINING".into(),
                    format!("250-SIZE {MAX_MESSAGE_BYTES}"),
                    "250-8BITMIME".into(),
                    "250-ENHANCEDSTATUSCODES".into(),
                ];
                if server.tls.is_some() && !secure {
                    lines.push("250-STARTTLS".into());
                }
                lines.push("250 SMTPUTF8".into());
                w.write_all(format!("{}\r\n", lines.join("\r\n")).as_bytes())
                    .await?;
            }
            "HELO" => {
                tx = Transaction::default();
                greeted = true;
                reply(w, &format!("250 {}", server.hostname)).await?;
            }
            "STARTTLS" if server.tls.is_some() && !secure => {
                reply(w, "220 2.0.0 Ready to start TLS").await?;
                w.flush().await?;
                return Ok(End::StartTls);
            }
            "MAIL" => {
                if !greeted {
                    reply(w, "503 5.5.1 Say EHLO first").await?;
                    continue;
                }
                if tx.from.is_some() {
                    reply(w, "503 5.5.1 Nested MAIL command").await?;
                    continue;
                }
                match path_arg(&arg, "FROM:") {
                    None => reply(w, "501 5.5.4 Syntax: MAIL FROM:<address>").await?,
                    Some((_, params))
                        if size_param(&params).is_some_and(|s| s > MAX_MESSAGE_BYTES) =>
                    {
                        reply(
                            w,
                            &format!(
                                "552 5.3.4 Message too big: the limit is {MAX_MESSAGE_BYTES} bytes"
                            ),
                        )
                        .await?
                    }
                    Some((addr, _)) => {
                        tx.from = Some(addr);
                        reply(w, "250 2.1.0 OK").await?;
                    }
                }
            }
            "RCPT" => {
                if tx.from.is_none() {
                    reply(w, "503 5.5.1 Need MAIL before RCPT").await?;
                    continue;
                }
                let Some((addr, _)) = path_arg(&arg, "TO:") else {
                    reply(w, "501 5.5.4 Syntax: RCPT TO:<address>").await?;
                    continue;
                };
                if tx.rcpt.len() >= MAX_RECIPIENTS {
                    reply(w, "452 4.5.3 Too many recipients").await?;
                    continue;
                }
                let boxes = match server.mailboxes().await {
                    Ok(b) => b,
                    Err(e) => {
                        tracing::warn!(error = %e, "SMTP: cannot read mailboxes");
                        reply(w, "451 4.3.0 Temporary failure, try again later").await?;
                        continue;
                    }
                };
                match mailbox_for(&boxes, &addr) {
                    Some(m) => {
                        if !tx.rcpt.iter().any(|x| x.id == m.id) {
                            tx.rcpt.push(m.clone());
                        }
                        reply(w, "250 2.1.5 OK").await?;
                    }
                    None => {
                        errors += 1;
                        reply(w, "550 5.1.1 No such mailbox here").await?;
                    }
                }
            }
            "DATA" => {
                if tx.rcpt.is_empty() {
                    reply(
                        w,
                        if tx.from.is_none() {
                            "503 5.5.1 Need MAIL and RCPT first"
                        } else {
                            "554 5.5.1 No valid recipients"
                        },
                    )
                    .await?;
                    continue;
                }
                reply(w, "354 End data with <CR><LF>.<CR><LF>").await?;
                w.flush().await?;
                let data = match tokio::time::timeout(DATA_TIMEOUT, read_data(r)).await {
                    Err(_) => {
                        reply(r.get_mut(), "421 4.4.2 Data took too long, closing").await?;
                        return Ok(End::Quit);
                    }
                    Ok(d) => d?,
                };
                let w = r.get_mut();
                let Some(raw) = data else {
                    tx = Transaction::default();
                    reply(
                        w,
                        &format!(
                            "552 5.3.4 Message too big: the limit is {MAX_MESSAGE_BYTES} bytes"
                        ),
                    )
                    .await?;
                    continue;
                };
                let boxes = server
                    .mailboxes()
                    .await
                    .map(|b| b.iter().map(|m| m.address.clone()).collect())
                    .unwrap_or_default();
                let mailbox = tx.rcpt.first().cloned();
                tx = Transaction::default();
                let secret = match server.mail.secret(&*server.store).await {
                    Ok(s) => s,
                    Err(e) => {
                        tracing::warn!(error = %e, "SMTP: cannot read the token key");
                        reply(w, "451 4.3.0 Temporary failure, try again later").await?;
                        continue;
                    }
                };
                let env = Envelope {
                    source: "smtp".into(),
                    mailbox,
                    our_addresses: boxes,
                    imap_uid: None,
                };
                match ingest(&*server.store, &secret, raw, env, server.clock.now()).await {
                    Ok(d) => {
                        reply(
                            w,
                            &format!(
                                "250 2.0.0 OK: stored as intake {} ({})",
                                d.intake_id, d.outcome
                            ),
                        )
                        .await?
                    }
                    Err(IngestError::Temporary(e)) => {
                        tracing::warn!(error = %e, "SMTP: mail not stored, sender will retry");
                        reply(w, "451 4.3.0 Temporary failure, try again later").await?
                    }
                }
            }
            "RSET" => {
                tx = Transaction::default();
                reply(w, "250 2.0.0 OK").await?;
            }
            "NOOP" => reply(w, "250 2.0.0 OK").await?,
            "VRFY" => reply(w, "252 2.5.2 Cannot verify, send the mail").await?,
            "HELP" => reply(w, "214 2.0.0 See RFC 5321").await?,
            "QUIT" => {
                reply(w, "221 2.0.0 Bye").await?;
                w.flush().await?;
                return Ok(End::Quit);
            }
            _ => {
                errors += 1;
                reply(w, "500 5.5.2 Command not recognised").await?;
            }
        }
        if errors > MAX_ERRORS {
            reply(r.get_mut(), "421 4.7.0 Too many errors, closing").await?;
            return Ok(End::Quit);
        }
        r.get_mut().flush().await?;
    }
}

/// Loads a PEM certificate chain and private key for STARTTLS.
pub fn tls_acceptor(cert_pem: &[u8], key_pem: &[u8]) -> Result<tokio_rustls::TlsAcceptor, String> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("certificate: {e}"))?;
    if certs.is_empty() {
        return Err("certificate: no CERTIFICATE block found".into());
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| format!("private key: {e}"))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| format!("certificate and key: {e}"))?;
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_sizes_parse() {
        assert_eq!(
            path_arg("FROM:<ann@example.com> SIZE=100", "FROM:"),
            Some(("ann@example.com".into(), "SIZE=100".into()))
        );
        assert_eq!(
            path_arg("from: <>", "FROM:"),
            Some((String::new(), String::new()))
        );
        assert_eq!(
            path_arg("TO:a@b", "TO:"),
            Some(("a@b".into(), String::new()))
        );
        assert_eq!(path_arg("TX:<a@b>", "TO:"), None);
        assert_eq!(size_param("BODY=8BITMIME SIZE=42"), Some(42));
        assert_eq!(size_param("SIZE=x"), None);
    }

    #[tokio::test]
    async fn data_is_unstuffed_and_limited() {
        let input: &[u8] = b"Subject: x\r\n\r\n..leading dot\r\nplain\r\n.\r\nNEXT";
        let mut r = BufReader::new(input);
        let d = read_data(&mut r).await.unwrap().unwrap();
        assert_eq!(d, b"Subject: x\r\n\r\n.leading dot\r\nplain\r\n");
        let mut rest = String::new();
        r.read_to_string(&mut rest).await.unwrap();
        assert_eq!(rest, "NEXT");

        let big = format!("{}\r\n.\r\n", "a".repeat(MAX_MESSAGE_BYTES + 10));
        let mut r = BufReader::new(big.as_bytes());
        assert_eq!(read_data(&mut r).await.unwrap(), None);
    }
}
