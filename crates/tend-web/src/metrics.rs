//! Prometheus metrics: request counts and latency by route and status, plus store figures.

use crate::AppState;
use axum::extract::{MatchedPath, Request, State};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Instant;

/// Upper bounds of the latency histogram, in seconds.
const BUCKETS: [f64; 10] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0];

#[derive(Default)]
struct Series {
    count: u64,
    sum: f64,
    buckets: [u64; BUCKETS.len()],
}

#[derive(Default)]
pub struct Metrics {
    http: Mutex<BTreeMap<(String, String, u16), Series>>,
}

impl Metrics {
    pub fn observe(&self, method: &str, route: &str, status: u16, secs: f64) {
        let mut m = self.http.lock().unwrap_or_else(|e| e.into_inner());
        let s = m
            .entry((method.to_string(), route.to_string(), status))
            .or_default();
        s.count += 1;
        s.sum += secs;
        for (i, b) in BUCKETS.iter().enumerate() {
            if secs <= *b {
                s.buckets[i] += 1;
            }
        }
    }
}

pub async fn track(State(s): State<AppState>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().to_string();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let mut resp = next.run(req).await;
    let took = start.elapsed().as_secs_f64();
    s.metrics
        .observe(&method, &route, resp.status().as_u16(), took);
    // The server's own time until the response headers, for the browser's developer tools
    // and bench/pages.py (https://www.w3.org/TR/server-timing/).
    if let Ok(v) = HeaderValue::from_str(&format!("app;dur={:.2}", took * 1000.0)) {
        resp.headers_mut().insert("server-timing", v);
    }
    resp
}

pub async fn render(State(s): State<AppState>) -> impl IntoResponse {
    let mut out = String::new();
    {
        out.push_str("# HELP tend_http_requests_total HTTP requests by method, route and status.\n# TYPE tend_http_requests_total counter\n");
        let m = s.metrics.http.lock().unwrap_or_else(|e| e.into_inner());
        for ((method, route, status), v) in m.iter() {
            let _ = writeln!(out, "tend_http_requests_total{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}} {}", v.count);
        }
        out.push_str("# HELP tend_http_request_duration_seconds Request latency.\n# TYPE tend_http_request_duration_seconds histogram\n");
        let mut by_route: BTreeMap<(&str, &str), (u64, f64, [u64; BUCKETS.len()])> =
            BTreeMap::new();
        for ((method, route, _), v) in m.iter() {
            let e = by_route
                .entry((method, route))
                .or_insert((0, 0.0, [0; BUCKETS.len()]));
            e.0 += v.count;
            e.1 += v.sum;
            for i in 0..BUCKETS.len() {
                e.2[i] += v.buckets[i];
            }
        }
        for ((method, route), (count, sum, buckets)) in by_route {
            for (i, b) in BUCKETS.iter().enumerate() {
                let _ = writeln!(out, "tend_http_request_duration_seconds_bucket{{method=\"{method}\",route=\"{route}\",le=\"{b}\"}} {}", buckets[i]);
            }
            let _ = writeln!(out, "tend_http_request_duration_seconds_bucket{{method=\"{method}\",route=\"{route}\",le=\"+Inf\"}} {count}");
            let _ = writeln!(out, "tend_http_request_duration_seconds_sum{{method=\"{method}\",route=\"{route}\"}} {sum}");
            let _ = writeln!(out, "tend_http_request_duration_seconds_count{{method=\"{method}\",route=\"{route}\"}} {count}");
        }
    }
    if let Ok(st) = s.store.stats().await {
        let _ = writeln!(
            out,
            "# TYPE tend_tickets gauge\ntend_tickets {}",
            st.tickets
        );
        let _ = writeln!(
            out,
            "# TYPE tend_tickets_open gauge\ntend_tickets_open {}",
            st.open_tickets
        );
        let _ = writeln!(
            out,
            "# TYPE tend_jobs_queued gauge\ntend_jobs_queued {}",
            st.jobs_queued
        );
        let _ = writeln!(
            out,
            "# TYPE tend_jobs_dead gauge\ntend_jobs_dead {}",
            st.jobs_dead
        );
        let _ = writeln!(
            out,
            "# TYPE tend_event_seq gauge\ntend_event_seq {}",
            st.last_seq
        );
    }
    if let Some(rss) = rss_bytes() {
        let _ = writeln!(
            out,
            "# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes {rss}"
        );
    }
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        out,
    )
}

/// Resident set size from /proc (Linux).
pub fn rss_bytes() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = s.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}
