//! S4: mail through the SMTP listener into stored tickets. N connections, each sending mails
//! one after another (MAIL, RCPT, DATA; the 250 after DATA means "committed"). A realistic
//! mix: 70 % new tickets from many senders, 30 % replies (In-Reply-To an earlier mail of the
//! same sender). `--pathological DIR` instead sends every file of DIR (the mail corpus) plus
//! generated monsters one at a time and reports the slowest.

use anyhow::{bail, Context, Result};
use serde_json::json;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

struct Conn {
    r: BufReader<tokio::net::tcp::OwnedReadHalf>,
    w: tokio::net::tcp::OwnedWriteHalf,
}

impl Conn {
    async fn open(addr: &str) -> Result<Conn> {
        let s = TcpStream::connect(addr).await.context("connect")?;
        s.set_nodelay(true)?;
        let (r, w) = s.into_split();
        let mut c = Conn {
            r: BufReader::new(r),
            w,
        };
        c.expect("220").await?;
        c.w.write_all(b"EHLO bench.test\r\n").await?;
        c.expect("250").await?;
        Ok(c)
    }

    async fn reply(&mut self) -> Result<String> {
        let mut all = String::new();
        loop {
            let mut l = String::new();
            if self.r.read_line(&mut l).await? == 0 {
                bail!("connection closed");
            }
            let more = l.as_bytes().get(3) == Some(&b'-');
            all.push_str(&l);
            if !more {
                return Ok(all);
            }
        }
    }

    async fn expect(&mut self, code: &str) -> Result<String> {
        let r = self.reply().await?;
        if !r.starts_with(code) {
            bail!("expected {code}, got {}", r.trim());
        }
        Ok(r)
    }

    /// One mail; the data is already dot-stuffed and CRLF-terminated.
    async fn send(&mut self, from: &str, to: &str, data: &[u8]) -> Result<String> {
        // PIPELINING: MAIL, RCPT and DATA in one write.
        self.w
            .write_all(format!("MAIL FROM:<{from}>\r\nRCPT TO:<{to}>\r\nDATA\r\n").as_bytes())
            .await?;
        self.expect("250").await?;
        self.expect("250").await?;
        self.expect("354").await?;
        self.w.write_all(data).await?;
        self.w.write_all(b".\r\n").await?;
        self.reply().await
    }
}

fn stuff(raw: &str) -> Vec<u8> {
    let mut out = String::with_capacity(raw.len() + 64);
    for line in raw.replace("\r\n", "\n").split('\n') {
        if line.starts_with('.') {
            out.push('.');
        }
        out.push_str(line);
        out.push_str("\r\n");
    }
    out.into_bytes()
}

fn sender(k: u64) -> String {
    format!("customer{}@buyers.test", k % 20_000)
}

fn mail(n: u64, run: &str) -> String {
    // Replies answer mail n-997, which is never itself a reply (its n % 10 is 3..=5).
    let reply = n % 10 < 3 && n >= 1000;
    let p = n.saturating_sub(997);
    let from = sender(if reply { p } else { n });
    let mut h = format!(
        "From: Customer {k} <{from}>\r\nTo: Support <support@shop.test>\r\nMessage-ID: <bench-{run}-{n}@buyers.test>\r\nDate: Mon, 2 Mar 2026 09:00:00 +0000\r\nMIME-Version: 1.0\r\n",
        k = n % 20_000
    );
    if reply {
        h.push_str(&format!(
            "Subject: Re: Order {o} has not arrived\r\nIn-Reply-To: <bench-{run}-{p}@buyers.test>\r\nReferences: <bench-{run}-{p}@buyers.test>\r\n",
            o = p,
        ));
    } else {
        h.push_str(&format!("Subject: Order {n} has not arrived\r\n"));
    }
    h.push_str("Content-Type: multipart/alternative; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHello,\r\n\r\nmy order has not arrived yet. The tracking page has said \"in transit\" for six days.\r\nCould you check with the carrier, please?\r\n\r\nThanks,\r\nA customer\r\n\r\nOn Sun, 1 Mar 2026, Support <support@shop.test> wrote:\r\n> Thank you for your order.\r\n--b1\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<div><p>Hello,</p><p>my order has not arrived yet. The tracking page has said &quot;in transit&quot; for six days.</p><p>Could you check with the carrier, please?</p><p>Thanks,<br>A customer</p></div><blockquote>Thank you for your order.</blockquote>\r\n--b1--\r\n");
    h
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((p / 100.0) * (sorted.len() as f64 - 1.0)).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

pub async fn load(addr: &str, connections: usize, messages: u64, max_seconds: f64) -> Result<()> {
    let run = format!(
        "{:x}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_millis()
    );
    let issued = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs_f64(max_seconds);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let (issued, addr, run) = (issued.clone(), addr.to_string(), run.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut errors = 0u64;
            let mut outcomes = std::collections::BTreeMap::<String, u64>::new();
            let Ok(mut c) = Conn::open(&addr).await else {
                return (lat, 1, outcomes);
            };
            loop {
                let n = issued.fetch_add(1, Ordering::Relaxed);
                if n >= messages || Instant::now() >= deadline {
                    break;
                }
                let data = stuff(&mail(n, &run));
                let t = Instant::now();
                match c.send(&sender(n), "support@shop.test", &data).await {
                    Ok(r) if r.starts_with("250") => {
                        lat.push(t.elapsed().as_secs_f64() * 1000.0);
                        let o = r
                            .trim_end()
                            .rsplit('(')
                            .next()
                            .unwrap_or("")
                            .trim_end_matches(')')
                            .to_string();
                        *outcomes.entry(o).or_default() += 1;
                    }
                    _ => {
                        errors += 1;
                        match Conn::open(&addr).await {
                            Ok(fresh) => c = fresh,
                            Err(_) => break,
                        }
                    }
                }
            }
            (lat, errors, outcomes)
        }));
    }
    let mut lat = Vec::new();
    let mut errors = 0;
    let mut outcomes = std::collections::BTreeMap::<String, u64>::new();
    for t in tasks {
        let (l, e, o) = t.await?;
        lat.extend(l);
        errors += e;
        for (k, v) in o {
            *outcomes.entry(k).or_default() += v;
        }
    }
    let secs = start.elapsed().as_secs_f64();
    lat.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    println!(
        "{}",
        json!({
            "scenario": "S4 smtp", "connections": connections, "ok": lat.len(), "errors": errors,
            "seconds": (secs * 1000.0).round() / 1000.0,
            "per_second": (lat.len() as f64 / secs * 10.0).round() / 10.0,
            "p50_ms": (pct(&lat, 50.0) * 100.0).round() / 100.0, "p99_ms": (pct(&lat, 99.0) * 100.0).round() / 100.0,
            "max_ms": (lat.last().copied().unwrap_or(f64::NAN) * 100.0).round() / 100.0,
            "outcomes": outcomes,
        })
    );
    Ok(())
}

/// Generated worst cases: a 25 MB attachment, 10,000 links, 90 nested multiparts, a mail
/// that is one 5 MB header line, 100,000 quoted lines.
fn monsters() -> Vec<(String, String)> {
    let mut v = Vec::new();
    let big = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo=\r\n".repeat(25 * 1024 * 1024 / 38);
    v.push(("25 MB attachment".into(), format!("From: a@buyers.test\r\nTo: support@shop.test\r\nSubject: big\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"x\"\r\n\r\n--x\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n--x\r\nContent-Type: application/octet-stream; name=\"big.bin\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{big}--x--\r\n")));
    let links: String = (0..10_000)
        .map(|i| format!("<a href=\"https://example.com/{i}\">link {i}</a> "))
        .collect();
    v.push(("10,000 links".into(), format!("From: b@buyers.test\r\nTo: support@shop.test\r\nSubject: links\r\nMIME-Version: 1.0\r\nContent-Type: text/html\r\n\r\n<p>{links}</p>\r\n")));
    let mut nested = String::from("From: c@buyers.test\r\nTo: support@shop.test\r\nSubject: nested\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b0\"\r\n\r\n");
    for d in 0..90 {
        nested.push_str(&format!(
            "--b{d}\r\nContent-Type: multipart/mixed; boundary=\"b{}\"\r\n\r\n",
            d + 1
        ));
    }
    nested.push_str("--b90\r\nContent-Type: text/plain\r\n\r\ndeep\r\n");
    for d in (0..=90).rev() {
        nested.push_str(&format!("--b{d}--\r\n"));
    }
    v.push(("90 nested multiparts".into(), nested));
    v.push((
        "5 MB header".into(),
        format!(
            "From: d@buyers.test\r\nTo: support@shop.test\r\nSubject: {}\r\n\r\nbody\r\n",
            "x".repeat(5 * 1024 * 1024)
        ),
    ));
    let quoted: String = (0..100_000)
        .map(|i| format!("> quoted line {i}\r\n"))
        .collect();
    v.push(("100,000 quoted lines".into(), format!("From: e@buyers.test\r\nTo: support@shop.test\r\nSubject: quotes\r\n\r\nnew text\r\n\r\nOn Mon, X wrote:\r\n{quoted}")));
    v
}

pub async fn pathological(addr: &str, corpus: &std::path::Path) -> Result<()> {
    let mut items: Vec<(String, String)> = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir(corpus)
        .with_context(|| format!("reading {}", corpus.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "eml"))
        .collect();
    files.sort();
    for f in files {
        let raw = std::fs::read(&f)?;
        items.push((
            f.file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned(),
            String::from_utf8_lossy(&raw).into_owned(),
        ));
    }
    items.extend(monsters());
    let mut c = Conn::open(addr).await?;
    let mut worst: Vec<(f64, String, String)> = Vec::new();
    let mut errors = 0;
    for (name, raw) in &items {
        let data = stuff(raw);
        let t = Instant::now();
        let r = c
            .send("bench@buyers.test", "support@shop.test", &data)
            .await;
        let ms = t.elapsed().as_secs_f64() * 1000.0;
        match r {
            Ok(r) => worst.push((ms, name.clone(), r.trim().chars().take(80).collect())),
            Err(e) => {
                errors += 1;
                worst.push((ms, name.clone(), format!("error: {e}")));
                c = Conn::open(addr).await?;
            }
        }
    }
    worst.sort_by(|a, b| b.0.partial_cmp(&a.0).unwrap_or(std::cmp::Ordering::Equal));
    let top: Vec<_> = worst
        .iter()
        .take(8)
        .map(|(ms, n, r)| json!({"mail": n, "ms": (ms * 10.0).round() / 10.0, "reply": r}))
        .collect();
    println!(
        "{}",
        json!({"scenario": "S4 pathological", "mails": items.len(), "errors": errors, "slowest": top})
    );
    Ok(())
}
