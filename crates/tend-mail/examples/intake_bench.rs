//! Parses every corpus mail N times (default 200) and the generated pathological mails a few
//! times, and prints the worst per-mail parse time. Run in release:
//! `cargo run --release -p tend-mail --example intake_bench -- 200`

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

fn time(raw: &[u8], runs: usize) -> (Duration, Duration, &'static str) {
    let mut worst = Duration::ZERO;
    let mut total = Duration::ZERO;
    let mut outcome = "accepted";
    for _ in 0..runs {
        let t = Instant::now();
        let r = tend_mail::parse(raw);
        let el = t.elapsed();
        if let Ok(m) = &r {
            std::hint::black_box(tend_mail::classify(m));
        } else {
            outcome = "rejected";
        }
        std::hint::black_box(r.is_ok());
        worst = worst.max(el);
        total += el;
    }
    (worst, total / runs as u32, outcome)
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(200);
    let mut rows: Vec<(String, usize, Duration, Duration, &str)> = Vec::new();
    for (name, raw) in common::corpus() {
        let (worst, mean, outcome) = time(&raw, n);
        rows.push((name, raw.len(), worst, mean, outcome));
    }
    rows.sort_by_key(|r| std::cmp::Reverse(r.2));
    println!(
        "corpus: {} mails x {n} runs; slowest 5 (worst / mean):",
        rows.len()
    );
    for (name, len, worst, mean, outcome) in rows.iter().take(5) {
        println!("  {name:<45} {len:>8} B  {worst:>10.2?} / {mean:>10.2?}  {outcome}");
    }
    let total_mean: Duration = rows.iter().map(|r| r.3).sum();
    println!(
        "  worst case over the corpus: {:.2?}; mean per mail {:.2?}",
        rows[0].2,
        total_mean / rows.len() as u32
    );

    let runs = (n / 40).max(3);
    let generated: Vec<(&str, Vec<u8>)> = vec![
        ("10,000 links", common::links(10_000)),
        ("10,001 links (cut)", common::links(10_001)),
        ("3 MB HTML + text", common::big_html(3 << 20, true)),
        ("3 MB HTML only", common::big_html(3 << 20, false)),
        ("nested 1,000 deep", common::nested(1000)),
        ("10,000 parts", common::many_parts(10_000)),
        ("20 MB attachment", common::big_attachment(20 << 20)),
        (
            "25 MB + 1 attachment",
            common::big_attachment((25 << 20) + 1),
        ),
        ("29 MB plain body", common::big_raw(29 << 20)),
        ("30 MB + 1 raw", common::big_raw((30 << 20) + 1)),
    ];
    println!("generated, {runs} runs each (worst / mean):");
    for (name, raw) in &generated {
        let (worst, mean, outcome) = time(raw, runs);
        println!(
            "  {name:<45} {:>8} KB  {worst:>10.2?} / {mean:>10.2?}  {outcome}",
            raw.len() / 1024
        );
    }
}
