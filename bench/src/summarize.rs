//! `tend-bench summarize FILE`: the results table of one `bench/run` from its JSON lines.
//!
//! Rows are grouped by (scenario, system); each figure is the median of the runs' figures
//! (p50 and p99 are per run). For every scenario measured on Tend and on a peer the last
//! column says how many times better Tend is: creates/s Tend ÷ peer (S1), p99 peer ÷ Tend
//! (queries), PSS peer ÷ Tend (S6). S6 is the largest PSS/RSS of the server's process tree
//! sampled during any of the system's runs.

use anyhow::{Context, Result};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

fn median(mut xs: Vec<f64>) -> Option<f64> {
    xs.retain(|x| x.is_finite());
    if xs.is_empty() {
        return None;
    }
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    Some(if n % 2 == 1 {
        xs[n / 2]
    } else {
        (xs[n / 2 - 1] + xs[n / 2]) / 2.0
    })
}

fn fmt(x: Option<f64>) -> String {
    match x {
        None => "–".into(),
        Some(x) if x >= 1000.0 => {
            let s = format!("{:.0}", x);
            let mut o = String::new();
            for (i, c) in s.chars().enumerate() {
                if i > 0 && (s.len() - i) % 3 == 0 {
                    o.push(',');
                }
                o.push(c);
            }
            o
        }
        Some(x) if x >= 100.0 => format!("{x:.0}"),
        Some(x) if x >= 10.0 => format!("{x:.1}"),
        Some(x) => format!("{x:.2}"),
    }
}

fn sys_name(s: &str) -> &str {
    match s {
        "tend" => "Tend",
        "rt" => "RT 5.0.3",
        "dh" => "django-helpdesk 2.6.1",
        "tend-search-off" => "Tend, TEND_SEARCH=off",
        x => x,
    }
}

#[derive(Default)]
struct Group {
    per_second: Vec<f64>,
    p50: Vec<f64>,
    p95: Vec<f64>,
    p99: Vec<f64>,
    seconds: Vec<f64>,
    matches: Option<i64>,
    errors: u64,
    ok: u64,
    runs: usize,
}

pub fn run(file: &Path) -> Result<()> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let mut order: Vec<(String, String)> = Vec::new();
    let mut groups: BTreeMap<(String, String), Group> = BTreeMap::new();
    // system -> (peak pss, peak rss, end pss)
    let mut mem: BTreeMap<String, (f64, f64)> = BTreeMap::new();
    let mut header = Vec::new();
    for line in text.lines() {
        let Ok(v) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        if let Some(m) = v.get("machine") {
            header.push(format!("machine: {}", m.as_str().unwrap_or("")));
            for k in [
                "commit",
                "started",
                "load_before",
                "load_after",
                "pinning",
                "note",
            ] {
                if let Some(x) = v.get(k).and_then(|x| x.as_str()) {
                    header.push(format!("{k}: {x}"));
                }
            }
            continue;
        }
        if let Some(x) = v.get("load_after").and_then(|x| x.as_str()) {
            header.push(format!("load_after: {x}"));
            continue;
        }
        let Some(scenario) = v["scenario"].as_str() else {
            continue;
        };
        let system = v["system"].as_str().unwrap_or("tend").to_string();
        if let Some(m) = v.get("mem").filter(|m| m.is_object()) {
            let e = mem.entry(system.clone()).or_insert((0.0, 0.0));
            e.0 = e.0.max(m["peak_pss_mib"].as_f64().unwrap_or(0.0));
            e.1 = e.1.max(m["peak_rss_mib"].as_f64().unwrap_or(0.0));
        }
        if scenario.starts_with("S6") {
            continue; // memory only
        }
        let key = (scenario.to_string(), system.clone());
        if !groups.contains_key(&key) {
            order.push(key.clone());
        }
        let g = groups.entry(key).or_default();
        g.runs += 1;
        let f = |k: &str| v.get(k).and_then(|x| x.as_f64());
        if let Some(x) = f("per_second") {
            g.per_second.push(x);
        }
        if let Some(x) = f("p50_ms") {
            g.p50.push(x);
        }
        if let Some(x) = f("p95_ms") {
            g.p95.push(x);
        }
        if let Some(x) = f("p99_ms") {
            g.p99.push(x);
        }
        if let Some(x) = f("seconds") {
            g.seconds.push(x);
        }
        if let Some(m) = v.get("matches").and_then(|x| x.as_i64()) {
            g.matches = Some(m);
        }
        g.errors += v["errors"].as_u64().unwrap_or(0);
        g.ok += v["ok"].as_u64().unwrap_or(0);
    }
    for h in &header {
        println!("{h}  ");
    }
    println!();
    println!("| scenario | system | runs | per second | p50 ms | p95 ms | p99 ms | matches | errors | Tend vs this peer |");
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    let tend_of = |scenario: &str| groups.get(&(scenario.to_string(), "tend".to_string()));
    for key in &order {
        let g = &groups[key];
        let (scenario, system) = key;
        let ratio = if system.starts_with("tend") {
            String::new()
        } else if let Some(t) = tend_of(scenario) {
            if scenario.starts_with("S1") || scenario.starts_with("S5") {
                match (median(t.per_second.clone()), median(g.per_second.clone())) {
                    (Some(a), Some(b)) if b > 0.0 => format!("{}× the creates/s", fmt(Some(a / b))),
                    _ => "–".into(),
                }
            } else {
                match (median(t.p99.clone()), median(g.p99.clone())) {
                    (Some(a), Some(b)) if a > 0.0 => format!("{}× faster (p99)", fmt(Some(b / a))),
                    _ => "–".into(),
                }
            }
        } else {
            String::new()
        };
        println!(
            "| {scenario} | {} | {} | {} | {} | {} | {} | {} | {} | {ratio} |",
            sys_name(system),
            g.runs,
            fmt(median(g.per_second.clone())),
            fmt(median(g.p50.clone())),
            fmt(median(g.p95.clone())),
            fmt(median(g.p99.clone())),
            g.matches
                .map(|m| m.to_string())
                .unwrap_or_else(|| "".into()),
            g.errors,
        );
    }
    if !mem.is_empty() {
        println!();
        println!("| S6 server memory (peak over its runs) | PSS MiB | RSS sum MiB | Tend PSS as % of this |");
        println!("|---|---:|---:|---:|");
        let tend = mem.get("tend").map(|x| x.0);
        for (sys, (pss, rss)) in &mem {
            let pct = match (sys.as_str(), tend) {
                (s, _) if s.starts_with("tend") => String::new(),
                (_, None) => String::new(),
                (_, Some(t)) if *pss > 0.0 => format!("{:.1} %", t / pss * 100.0),
                _ => "–".into(),
            };
            println!(
                "| {} | {} | {} | {pct} |",
                sys_name(sys),
                fmt(Some(*pss)),
                fmt(Some(*rss))
            );
        }
    }
    Ok(())
}
