//! S6: memory of a server's process tree (the process and all its descendants) from /proc:
//! the sum of RSS (counts pages shared between forked workers once per worker), the sum of
//! PSS (shared pages divided among their sharers: the honest total) and the largest single
//! process VmHWM. Sampled every 250 ms in a thread while a run goes; peaks reported.

use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The pid and all its descendants.
pub fn tree(root: u32) -> Vec<u32> {
    let mut kids: HashMap<u32, Vec<u32>> = HashMap::new();
    if let Ok(rd) = std::fs::read_dir("/proc") {
        for e in rd.flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                continue;
            };
            // "pid (comm) state ppid ..." — comm may hold spaces and parentheses.
            let Some(rest) = stat.rfind(')').map(|i| &stat[i + 2..]) else {
                continue;
            };
            if let Some(ppid) = rest.split_whitespace().nth(1).and_then(|x| x.parse().ok()) {
                kids.entry(ppid).or_default().push(pid);
            }
        }
    }
    let mut out = Vec::new();
    let mut todo = vec![root];
    while let Some(p) = todo.pop() {
        out.push(p);
        if let Some(k) = kids.get(&p) {
            todo.extend(k);
        }
    }
    out
}

fn kb_field(text: &str, key: &str) -> u64 {
    text.lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|x| x.parse().ok())
        .unwrap_or(0)
}

/// (rss_kb, pss_kb, max_hwm_kb, processes) of the tree now.
pub fn snapshot(root: u32) -> (u64, u64, u64, usize) {
    let pids = tree(root);
    let (mut rss, mut pss, mut hwm) = (0, 0, 0);
    let mut n = 0;
    for p in &pids {
        let Ok(st) = std::fs::read_to_string(format!("/proc/{p}/status")) else {
            continue;
        };
        n += 1;
        rss += kb_field(&st, "VmRSS:");
        hwm = hwm.max(kb_field(&st, "VmHWM:"));
        if let Ok(sm) = std::fs::read_to_string(format!("/proc/{p}/smaps_rollup")) {
            pss += kb_field(&sm, "Pss:");
        }
    }
    (rss, pss, hwm, n)
}

pub fn mib(kb: u64) -> f64 {
    (kb as f64 / 1024.0 * 10.0).round() / 10.0
}

pub struct Sampler {
    stop: Arc<AtomicBool>,
    handle: std::thread::JoinHandle<(u64, u64, u64, usize)>,
    root: u32,
}

impl Sampler {
    pub fn start(root: u32) -> Sampler {
        // The first reading is taken here, before the caller starts timing: reading a
        // process's smaps holds its memory-map lock and takes a core for a moment, and when
        // that reading ran beside the first timed GET it put a ~1 ms outlier into two of three
        // 20-GET runs (the p99 of S2 and S3; bench/RESULTS.md, run of 20261124T200644Z).
        let first = snapshot(root);
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let handle = std::thread::spawn(move || {
            let mut peak = first;
            loop {
                std::thread::sleep(Duration::from_millis(250));
                if s.load(Ordering::Relaxed) {
                    return peak;
                }
                let (r, p, h, n) = snapshot(root);
                peak = (peak.0.max(r), peak.1.max(p), peak.2.max(h), peak.3.max(n));
            }
        });
        Sampler { stop, handle, root }
    }

    /// Peaks over the run, and the tree's figures at the end.
    pub fn stop(self) -> Value {
        self.stop.store(true, Ordering::Relaxed);
        let (r, p, h, n) = self.handle.join().unwrap_or((0, 0, 0, 0));
        let (er, ep, _, _) = snapshot(self.root);
        json!({"peak_rss_mib": mib(r), "peak_pss_mib": mib(p), "max_process_hwm_mib": mib(h),
            "processes": n, "end_rss_mib": mib(er), "end_pss_mib": mib(ep)})
    }
}
