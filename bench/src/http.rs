//! The HTTP load client for Tend and for the two peers (Request Tracker 5 REST2,
//! django-helpdesk 2.6): sign-in, ticket create (S1), queue first page (S2) and word search
//! (S3). The same client, the same timing and the same statistics for every system.
//!
//! Peer requests are exactly those of `../shared/peers/bench.py` (see its README): session
//! cookies from the normal web login (per-request basic auth would time password hashing),
//! RT `POST /REST/2.0/ticket` and TicketSQL searches, django-helpdesk `POST /helpdesk/api/tickets/`
//! and the staff ticket-list JSON (`/helpdesk/datatables_ticket_list/<base64>`).

use crate::mem::Sampler;
use anyhow::{bail, Context, Result};
use base64::Engine;
use reqwest::header::{HeaderMap, HeaderValue, CONTENT_TYPE, COOKIE, SET_COOKIE};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum System {
    Tend,
    Rt,
    Dh,
}

impl System {
    pub fn name(self) -> &'static str {
        match self {
            System::Tend => "tend",
            System::Rt => "rt",
            System::Dh => "dh",
        }
    }
}

/// What a GET run asks for.
#[derive(Clone, Debug)]
pub enum Query {
    /// Queue first page: 25 open tickets, newest first (Tend: the agent queue's order, last
    /// updated first, unless `Target::tend_queue` adds a `&sort=`; the peers: created).
    List,
    /// The same list narrowed by a word (full-text / keyword search).
    Search(String),
    /// A literal path (Tend: anything, e.g. a report).
    Path(String),
}

pub struct Target {
    pub system: System,
    pub base: String,
    /// Tend: API token. Peers: user name and password for the web login.
    pub token: String,
    pub user: String,
    pub password: String,
    /// Tend: extra query string for the queue (e.g. `&group_id=2`, `&sort=-created_at`).
    pub tend_queue: String,
}

fn pct_encode(s: &str) -> String {
    let mut o = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            o.push(b as char);
        } else {
            o.push_str(&format!("%{b:02X}"));
        }
    }
    o
}

fn cookies(h: &HeaderMap, jar: &mut Vec<(String, String)>) {
    for v in h.get_all(SET_COOKIE) {
        let Ok(v) = v.to_str() else { continue };
        let kv = v.split(';').next().unwrap_or("");
        if let Some((k, val)) = kv.split_once('=') {
            let k = k.trim().to_string();
            jar.retain(|(x, _)| *x != k);
            jar.push((k, val.to_string()));
        }
    }
}

fn cookie_header(jar: &[(String, String)]) -> String {
    jar.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Signs in once; the headers every later request carries.
pub async fn login(t: &Target) -> Result<HeaderMap> {
    let c = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(60))
        .build()?;
    let mut h = HeaderMap::new();
    match t.system {
        System::Tend => {
            h.insert(
                reqwest::header::AUTHORIZATION,
                HeaderValue::from_str(&format!("Bearer {}", t.token))?,
            );
        }
        System::Rt => {
            let body = format!(
                "user={}&pass={}",
                pct_encode(&t.user),
                pct_encode(&t.password)
            );
            let r = c
                .post(format!("{}/NoAuth/Login.html", t.base))
                .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(body)
                .send()
                .await
                .context("RT login")?;
            let mut jar = Vec::new();
            cookies(r.headers(), &mut jar);
            if !jar.iter().any(|(k, _)| k.starts_with("RT_SID")) {
                bail!("RT login failed (status {})", r.status());
            }
            h.insert(COOKIE, HeaderValue::from_str(&cookie_header(&jar))?);
        }
        System::Dh => {
            let r = c
                .get(format!("{}/helpdesk/login/", t.base))
                .send()
                .await
                .context("django-helpdesk login page")?;
            let mut jar = Vec::new();
            cookies(r.headers(), &mut jar);
            let page = r.text().await?;
            let marker = "name=\"csrfmiddlewaretoken\" value=\"";
            let Some(i) = page.find(marker) else {
                bail!("django-helpdesk login page has no CSRF token");
            };
            let rest = &page[i + marker.len()..];
            let token = &rest[..rest.find('"').unwrap_or(0)];
            let body = format!(
                "username={}&password={}&csrfmiddlewaretoken={}&next=%2Fhelpdesk%2F",
                pct_encode(&t.user),
                pct_encode(&t.password),
                pct_encode(token)
            );
            let r = c
                .post(format!("{}/helpdesk/login/", t.base))
                .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                .header(COOKIE, cookie_header(&jar))
                .body(body)
                .send()
                .await
                .context("django-helpdesk login")?;
            cookies(r.headers(), &mut jar);
            if !jar.iter().any(|(k, _)| k == "sessionid") {
                bail!("django-helpdesk login failed (status {})", r.status());
            }
            let csrf = jar
                .iter()
                .find(|(k, _)| k == "csrftoken")
                .map(|(_, v)| v.clone())
                .unwrap_or_default();
            h.insert(COOKIE, HeaderValue::from_str(&cookie_header(&jar))?);
            h.insert("X-CSRFToken", HeaderValue::from_str(&csrf)?);
        }
    }
    Ok(h)
}

/// The path of a GET query on this system.
pub fn path_of(t: &Target, q: &Query) -> String {
    match (t.system, q) {
        (_, Query::Path(p)) => p.clone(),
        (System::Tend, Query::List) => format!(
            "/api/v1/tickets?status=new,open,pending,on_hold&limit=25{}",
            t.tend_queue
        ),
        (System::Tend, Query::Search(w)) => {
            format!("/api/v1/search/tickets?q={}&limit=25", pct_encode(w))
        }
        (System::Rt, q) => {
            let mut tsql = "Queue = 'General' AND Status = '__Active__'".to_string();
            if let Query::Search(w) = q {
                tsql.push_str(&format!(
                    " AND ( Subject LIKE '{w}' OR Content LIKE '{w}' )"
                ));
            }
            format!(
                "/REST/2.0/tickets?query={}&per_page=25&page=1&orderby=Created&order=DESC&fields={}",
                pct_encode(&tsql),
                pct_encode("Subject,Status,Queue,Created,LastUpdated,Priority,Owner")
            )
        }
        (System::Dh, q) => {
            let word = match q {
                Query::Search(w) => w.as_str(),
                _ => "",
            };
            let j = json!({"filtering": {"queue__id__in": [1], "status__in": [1, 2]},
                "filtering_null": {}, "sorting": "created", "sortreverse": true,
                "search_string": word});
            let b64 = base64::engine::general_purpose::STANDARD.encode(j.to_string());
            format!("/helpdesk/datatables_ticket_list/{b64}?draw=1&start=0&length=25")
        }
    }
}

/// (matches, rows) of a list/search answer.
fn counts(system: System, v: &Value) -> (Option<i64>, usize) {
    let len = |k: &str| v[k].as_array().map(|a| a.len()).unwrap_or(0);
    match system {
        System::Tend => (v["total"].as_i64(), len("items").max(len("hits"))),
        System::Rt => (v["total"].as_i64(), len("items")),
        System::Dh => (v["recordsFiltered"].as_i64(), len("data")),
    }
}

fn create_request(
    c: &reqwest::Client,
    t: &Target,
    h: &HeaderMap,
    i: u64,
    client: usize,
) -> reqwest::RequestBuilder {
    let (path, body) = match t.system {
        System::Tend => (
            "/api/v1/tickets",
            json!({"subject": format!("Bench ticket {client}-{i}"), "channel": "web",
                "requester": {"email": format!("bench{}@example.com", i % 5000), "name": "Bench Customer"},
                "comment": {"body": "My parcel has not arrived yet. Order #12345. Please check."}}),
        ),
        System::Rt => (
            "/REST/2.0/ticket",
            json!({"Queue": "General", "Subject": format!("bench ticket {i}"),
                "Content": format!("Benchmark ticket {i}: printer on floor {} does not print.", i % 7),
                "ContentType": "text/plain", "Requestor": format!("bench{}@example.com", i % 50)}),
        ),
        System::Dh => (
            "/helpdesk/api/tickets/",
            json!({"queue": 1, "title": format!("bench ticket {i}"),
                "description": format!("Benchmark ticket {i}: printer on floor {} does not print.", i % 7),
                "submitter_email": format!("bench{}@example.com", i % 50), "priority": 3}),
        ),
    };
    c.post(format!("{}{path}", t.base))
        .headers(h.clone())
        .json(&body)
}

pub struct RunOpts {
    pub clients: usize,
    pub requests: u64,
    pub max_seconds: f64,
    pub warmup: u64,
    pub server_pid: Option<u32>,
    pub scenario: String,
}

pub fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((p / 100.0) * (sorted.len() as f64 - 1.0)).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn r2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// One bounded run: `query` None = creates, else GETs. Returns one JSON object.
pub async fn run(t: Arc<Target>, query: Option<Query>, o: RunOpts) -> Result<Value> {
    let headers = Arc::new(login(&t).await?);
    let path = query.as_ref().map(|q| path_of(&t, q));
    // The memory sampler's first reading (a walk over the server's memory map) comes before
    // the warm-up, so the warm-up, not the first timed request, runs after it.
    let sampler = o.server_pid.map(Sampler::start);
    if let Some(p) = path {
        return gets(&t, &p, &headers, &o, sampler).await;
    }
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .timeout(Duration::from_secs(300))
        .build()?;
    let issued = Arc::new(AtomicU64::new(0));
    let seq0 = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64 % 1_000_000_000)
        .unwrap_or(0)
        * 1000;
    let deadline = Instant::now() + Duration::from_secs_f64(o.max_seconds);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..o.clients {
        let (client, issued, t, headers) =
            (client.clone(), issued.clone(), t.clone(), headers.clone());
        let requests = o.requests;
        tasks.push(tokio::spawn(async move {
            let mut tally = Tally::default();
            loop {
                let n = issued.fetch_add(1, Ordering::Relaxed);
                if n >= requests || Instant::now() >= deadline {
                    break;
                }
                let tm = Instant::now();
                let req = create_request(&client, &t, &headers, seq0 + n, c);
                match req.send().await {
                    Ok(resp) if resp.status().is_success() => {
                        let _ = resp.bytes().await;
                        tally.ok(tm);
                    }
                    Ok(resp) => {
                        let why = match tally.first_error {
                            None => {
                                let st = resp.status();
                                let b = resp.text().await.unwrap_or_default();
                                Some(format!("{st}: {}", &b[..b.len().min(200)]))
                            }
                            Some(_) => None,
                        };
                        tally.fail(why);
                    }
                    Err(e) => tally.fail(Some(e.to_string())),
                }
            }
            tally
        }));
    }
    let tally = gather(tasks).await?;
    let secs = start.elapsed().as_secs_f64();
    let mem = sampler.map(|s| s.stop());
    Ok(summary(&t, &o, tally, secs, (None, None), mem))
}

/// What one client of a run saw: latencies of the successful requests (ms, in order), the
/// failures and the first failure's message.
#[derive(Default)]
struct Tally {
    lat: Vec<f64>,
    errors: u64,
    first_error: Option<String>,
}

impl Tally {
    fn ok(&mut self, since: Instant) {
        self.lat.push(since.elapsed().as_secs_f64() * 1000.0);
    }
    fn fail(&mut self, why: Option<String>) {
        self.errors += 1;
        if self.first_error.is_none() {
            self.first_error = why;
        }
    }
}

/// Waits for a run's clients and adds up what they saw.
async fn gather(tasks: Vec<tokio::task::JoinHandle<Tally>>) -> Result<Tally> {
    let mut all = Tally::default();
    for task in tasks {
        let t = task.await?;
        all.lat.extend(t.lat);
        all.errors += t.errors;
        if all.first_error.is_none() {
            all.first_error = t.first_error;
        }
    }
    Ok(all)
}

/// The JSON line of one run.
fn summary(
    t: &Target,
    o: &RunOpts,
    tally: Tally,
    secs: f64,
    (matches, rows): (Option<i64>, Option<usize>),
    mem: Option<Value>,
) -> Value {
    let Tally {
        mut lat,
        errors,
        first_error,
    } = tally;
    lat.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    json!({
        "scenario": o.scenario, "system": t.system.name(), "clients": o.clients,
        "ok": lat.len(), "errors": errors, "first_error": first_error,
        "seconds": (secs * 1000.0).round() / 1000.0,
        "per_second": (lat.len() as f64 / secs * 10.0).round() / 10.0,
        "p50_ms": r2(pct(&lat, 50.0)), "p95_ms": r2(pct(&lat, 95.0)), "p99_ms": r2(pct(&lat, 99.0)),
        "matches": matches, "rows": rows,
        "mem": mem,
    })
}

/// A GET run (S2, S3, S7): each client on its own plain keep-alive connection
/// ([`crate::plain`]) in a thread of its own; warm-up GETs (untimed) on the first client's
/// connection, which then carries that client's timed GETs.
async fn gets(
    t: &Target,
    path: &str,
    headers: &HeaderMap,
    o: &RunOpts,
    sampler: Option<Sampler>,
) -> Result<Value> {
    let hs: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| Ok((k.as_str().to_string(), v.to_str()?.to_string())))
        .collect::<Result<_>>()?;
    let mut conns = (0..o.clients.max(1))
        .map(|_| crate::plain::Conn::new(&t.base, &hs))
        .collect::<Result<Vec<_>>>()?;
    let mut counted = (None, None);
    for _ in 0..o.warmup.max(1) {
        let a = conns[0].get(path)?;
        if !(200..300).contains(&a.status) {
            bail!(
                "{} GET {path} -> {}: {}",
                t.system.name(),
                a.status,
                String::from_utf8_lossy(&a.body[..a.body.len().min(300)])
            );
        }
        if let Ok(v) = serde_json::from_slice::<Value>(&a.body) {
            let (m, n) = counts(t.system, &v);
            counted = (m, Some(n));
        }
    }
    let issued = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs_f64(o.max_seconds);
    let requests = o.requests;
    let start = Instant::now();
    let tasks: Vec<_> = conns
        .into_iter()
        .map(|mut conn| {
            let (issued, path) = (issued.clone(), path.to_string());
            tokio::task::spawn_blocking(move || {
                let mut tally = Tally::default();
                loop {
                    let n = issued.fetch_add(1, Ordering::Relaxed);
                    if n >= requests || Instant::now() >= deadline {
                        break;
                    }
                    let tm = Instant::now();
                    match conn.get(&path) {
                        Ok(a) if (200..300).contains(&a.status) => tally.ok(tm),
                        Ok(a) => {
                            let b = String::from_utf8_lossy(&a.body[..a.body.len().min(200)]);
                            tally.fail(Some(format!("{}: {b}", a.status)));
                        }
                        Err(e) => tally.fail(Some(e.to_string())),
                    }
                }
                tally
            })
        })
        .collect();
    let tally = gather(tasks).await?;
    let secs = start.elapsed().as_secs_f64();
    if std::env::var_os("TEND_BENCH_TRACE").is_some() {
        let ms: Vec<f64> = tally.lat.iter().map(|x| r2(*x)).collect();
        eprintln!("{ms:?}");
    }
    let mem = sampler.map(|s| s.stop());
    Ok(summary(t, o, tally, secs, counted, mem))
}
