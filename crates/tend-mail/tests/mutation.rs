//! Stable-Rust stand-in for the cargo-fuzz target: the same `tend_mail::fuzzing::intake` over
//! deterministically mutated corpus mails (bit flips, byte insertions and deletions, dictionary
//! tokens, chunk duplication, splicing of two mails, truncation).
//!
//! `cargo test --release -p tend-mail --test mutation -- --ignored --nocapture`
//! (`TEND_MUTATIONS=N` changes the count, default 1,000,000; `TEND_MUTATION_SEED` the seed).

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

use tend_mail::fuzzing::Outcome;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // SplitMix64
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

const DICT: &[&[u8]] = &[
    b"\r\n",
    b"\r\n\r\n",
    b"\n",
    b"--",
    b"--x\r\n",
    b"--x--\r\n",
    b"boundary=\"x\"",
    b"Content-Type: multipart/mixed; boundary=\"x\"\r\n",
    b"Content-Type: multipart/alternative; boundary=\"x\"\r\n\r\n--x\r\n",
    b"Content-Type: text/html; charset=utf-8\r\n\r\n<p>",
    b"Content-Type: message/rfc822\r\n\r\n",
    b"Content-Type: multipart/report; report-type=delivery-status; boundary=\"x\"\r\n",
    b"Content-Type: message/delivery-status\r\n\r\nFinal-Recipient: rfc822; a@b.c\r\nStatus: 5.1.1\r\n",
    b"Content-Transfer-Encoding: base64\r\n",
    b"Content-Transfer-Encoding: quoted-printable\r\n",
    b"Content-Disposition: attachment; filename*=utf-8''%E2%80%AE.svg\r\n",
    b"Content-ID: <c@x>\r\n",
    b"charset=iso-2022-jp",
    b"charset=utf-7",
    b"=?utf-8?q?=0D=0A?=",
    b"=?utf-8?b?",
    b"?=",
    b"=\r\n",
    b"=C3=A4",
    b"<a href=\"javascript:x\">",
    b"<script>",
    b"<head><title>",
    b"</head>",
    b"\r\nOn Mon, 3 Mar 2026, X <x@y.z> wrote:\r\n> ",
    b"\r\n-----Original Message-----\r\nFrom: a@b.c\r\nSent: x\r\nSubject: y\r\n",
    b"\r\n---------- Forwarded message ---------\r\nFrom: A <a@b.c>\r\n",
    b"\r\n-- \r\n",
    b"In-Reply-To: <tend.1.2.x@shop.example>\r\n",
    b"Subject: Fwd: [#1-abcdef]\r\n",
    b"To: support+t2.0123456789@shop.example\r\n",
    b"Auto-Submitted: auto-replied\r\n",
    b"Return-Path: <>\r\n",
    b"From: MAILER-DAEMON@x.y\r\n",
    b"\0",
    b"\xff\xfe",
    b"\xe2\x80\xae",
    b"\x1b$B",
];

fn mutate(rng: &mut Rng, base: &[u8], other: &[u8]) -> Vec<u8> {
    let mut d = base.to_vec();
    for _ in 0..1 + rng.below(4) {
        let len = d.len();
        match rng.below(9) {
            0 if len > 0 => {
                let i = rng.below(len);
                d[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                d[i] = rng.next() as u8;
            }
            2 => {
                let i = rng.below(len + 1);
                let n = 1 + rng.below(8);
                let bytes: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
                d.splice(i..i, bytes);
            }
            3 | 4 => {
                let i = rng.below(len + 1);
                let tok = DICT[rng.below(DICT.len())];
                d.splice(i..i, tok.iter().copied());
            }
            5 if len > 0 => {
                let i = rng.below(len);
                let n = 1 + rng.below(64.min(len - i));
                d.drain(i..i + n);
            }
            6 if len > 0 => {
                let i = rng.below(len);
                let n = 1 + rng.below(256.min(len - i));
                let chunk = d[i..i + n].to_vec();
                let at = rng.below(len + 1);
                let times = 1 + rng.below(4);
                for _ in 0..times {
                    d.splice(at..at, chunk.iter().copied());
                }
            }
            7 if !other.is_empty() => {
                let cut = rng.below(len + 1);
                let from = rng.below(other.len());
                d.truncate(cut);
                d.extend_from_slice(&other[from..]);
            }
            8 if len > 0 => d.truncate(rng.below(len)),
            _ => {}
        }
    }
    d.truncate(256 * 1024);
    d
}

#[test]
#[ignore = "long: run in release with -- --ignored"]
fn a_million_mutated_mails_do_not_crash() {
    let n: usize = std::env::var("TEND_MUTATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let seed: u64 = std::env::var("TEND_MUTATION_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x7E4D_2026);
    let mut seeds: Vec<Vec<u8>> = common::corpus()
        .into_iter()
        .map(|(_, raw)| raw)
        .filter(|r| r.len() < 64 * 1024)
        .collect();
    seeds.push(common::nested(22));
    seeds.push(common::many_parts(95));
    seeds.push(common::links(200));
    seeds.push(b"From: a@b.c\r\n\r\nx".to_vec());

    let mut rng = Rng(seed);
    let mut accepted = 0usize;
    let mut parser_panics = 0usize;
    let mut slowest = (Duration::ZERO, 0usize, 0usize);
    let start = Instant::now();
    for i in 0..n {
        let base = &seeds[rng.below(seeds.len())];
        let other = &seeds[rng.below(seeds.len())];
        let input = mutate(&mut rng, base, other);
        let t = Instant::now();
        let result = catch_unwind(AssertUnwindSafe(|| tend_mail::fuzzing::intake(&input)));
        let took = t.elapsed();
        if took > slowest.0 {
            slowest = (took, i, input.len());
        }
        match result {
            Ok(Outcome::Accepted) => accepted += 1,
            Ok(Outcome::Rejected) => {}
            Ok(Outcome::ParserPanicked) => {
                parser_panics += 1;
                if !cfg!(debug_assertions) {
                    let path =
                        std::env::temp_dir().join(format!("tend-mail-parser-panic-{seed}-{i}.eml"));
                    std::fs::write(&path, &input).unwrap();
                    panic!(
                        "mail-parser panicked on input {i} in a release build; saved to {}",
                        path.display()
                    );
                }
            }
            Err(_) => {
                let path = std::env::temp_dir().join(format!("tend-mail-crash-{seed}-{i}.eml"));
                std::fs::write(&path, &input).unwrap();
                panic!("input {i} panicked; saved to {}", path.display());
            }
        }
    }
    println!(
        "mutation run: {n} inputs (seed {seed:#x}), {accepted} accepted, {} rejected, no panic \
         escaped; {parser_panics} contained mail-parser panics (debug_assert, debug builds only); \
         {:.1}s total; slowest input #{} ({} bytes) took {:?}",
        n - accepted - parser_panics,
        start.elapsed().as_secs_f64(),
        slowest.1,
        slowest.2,
        slowest.0
    );
}
