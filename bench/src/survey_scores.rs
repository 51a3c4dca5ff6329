//! `tend-bench survey-scores`: "scores for 1M responses by month × group < 100 ms".
//!
//! Seeds N survey responses (default 1,000,000; NPS, 12 months of 2025, 8 groups of 5
//! agents, e-mail and web channels, 80 % response rate so 1.25 N invitations, a realistic
//! score mix) into a fresh SQLite file and, with `--postgres URL`, a fresh PostgreSQL schema
//! `bench_surveys`; then times `Store::survey_counts` (what `/api/v1/surveys/scores` reads)
//! grouped by month and by group, for an open range, a year between two mid-month days and
//! a year between two arbitrary instants (whole months from the month roll-ups, partial
//! months from the day roll-ups, partial days from the rows).
//! Runs are bounded by `--runs` and `--max-seconds` per series. One JSON line per series on
//! stdout; progress on stderr.

use anyhow::{Context, Result};
use chrono::{DateTime, TimeZone, Utc};
use serde_json::json;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;
use tend_core::Actor;
use tend_store::survey::{NewSurvey, ScoreGroup, ScoreQuery, SurveyKind};
use tend_store::Store;

const GROUPS: u64 = 8;
const AGENTS_PER_GROUP: u64 = 5;
const DAY_US: i64 = 86_400_000_000;
const SCHEMA: &str = "bench_surveys";

/// A small deterministic generator (xorshift64*): the same data on every run and store.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// One invitation and, when answered, its response.
struct Row {
    id: i64,
    group_id: i64,
    agent_id: i64,
    channel: &'static str,
    sent_us: i64,
    answered: Option<(i16, i64)>,
}

fn year_start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap()
}

/// NPS answers as surveys see them: about 50 % promoters, 30 % passives, 20 % detractors.
fn nps_score(r: &mut Rng) -> i16 {
    let x = r.below(100);
    match x {
        0..=2 => 0,
        3..=4 => 2,
        5..=7 => 4,
        8..=11 => 5,
        12..=19 => 6,
        20..=33 => 7,
        34..=49 => 8,
        50..=74 => 9,
        _ => 10,
    }
}

/// Yields the rows in chunks (so memory stays small).
fn rows(responses: u64, mut each: impl FnMut(&[Row]) -> Result<()>) -> Result<()> {
    let invitations = responses * 5 / 4;
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let start = year_start().timestamp_micros();
    let span = 365 * DAY_US;
    let mut answered = 0u64;
    let mut chunk = Vec::with_capacity(10_000);
    for i in 0..invitations {
        let group = rng.below(GROUPS) + 1;
        let agent = (group - 1) * AGENTS_PER_GROUP + rng.below(AGENTS_PER_GROUP) + 1;
        let sent_us = start + (rng.next() % (span as u64 - 3 * DAY_US as u64)) as i64;
        // Exactly `responses` answered: the remaining ones are answered while there is room.
        let left = invitations - i;
        let need = responses - answered;
        let answer = need > 0 && (need >= left || rng.below(5) < 4);
        let answered_row = answer.then(|| {
            answered += 1;
            let delay = (rng.next() % (2 * DAY_US as u64)) as i64;
            (nps_score(&mut rng), sent_us + delay)
        });
        chunk.push(Row {
            id: i as i64 + 1,
            group_id: group as i64,
            agent_id: agent as i64,
            channel: if rng.below(10) < 7 { "email" } else { "web" },
            sent_us,
            answered: answered_row,
        });
        if chunk.len() == chunk.capacity() {
            each(&chunk)?;
            chunk.clear();
            progress(i + 1, invitations);
        }
    }
    if !chunk.is_empty() {
        each(&chunk)?;
    }
    progress(invitations, invitations);
    eprintln!();
    Ok(())
}

fn progress(done: u64, all: u64) {
    if done % 100_000 < 10_000 || done == all {
        eprint!(
            "\r  seeding: {done}/{all} invitations ({}%)",
            done * 100 / all
        );
        let _ = std::io::stderr().flush();
    }
}

fn new_survey() -> NewSurvey {
    NewSurvey {
        name: "Benchmark NPS".into(),
        kind: SurveyKind::Nps,
        scale: None,
        question: BTreeMap::from([("en".to_string(), "Recommend us?".to_string())]),
        follow_up: BTreeMap::new(),
        delay_hours: 24,
        throttle_days: 0,
        sample_rate: 1.0,
        expires_days: 14,
        active: false,
        rules: Default::default(),
        questions: vec![],
    }
}

/// SQLite: one transaction, prepared statements; the roll-up triggers run on every row.
async fn seed_sqlite(path: &Path, responses: u64) -> Result<f64> {
    for ext in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{ext}", path.display()));
    }
    let survey = {
        let store = tend_sqlite::SqliteStore::open(path)?;
        let s = store
            .create_survey(new_survey(), Actor::SYSTEM, Utc::now())
            .await?;
        store.close();
        s
    };
    let t = Instant::now();
    let mut c = rusqlite::Connection::open(path)?;
    c.pragma_update(None, "synchronous", "OFF")?;
    c.pragma_update(None, "cache_size", -262_144)?; // 256 MiB: the indexes stay in memory
    let tx = c.transaction()?;
    {
        let mut inv = tx.prepare(
            "INSERT INTO survey_invitations(id, survey_id, kind, ticket_id, customer_id, agent_id, group_id, channel, send_key, token_hash, sent_at, expires_at, responded) \
             VALUES (?1, ?2, 'nps', ?1, ?1, ?3, ?4, ?5, ?1, ?6, ?7, ?8, ?9)",
        )?;
        let mut resp = tx.prepare(
            "INSERT INTO survey_responses(invitation_id, score, created_at, updated_at) VALUES (?1, ?2, ?3, ?3)",
        )?;
        rows(responses, |chunk| {
            for r in chunk {
                inv.execute(rusqlite::params![
                    r.id,
                    survey.id,
                    r.agent_id,
                    r.group_id,
                    r.channel,
                    r.id.to_be_bytes().to_vec(),
                    r.sent_us,
                    r.sent_us + 14 * DAY_US,
                    r.answered.is_some()
                ])?;
                if let Some((score, at)) = r.answered {
                    resp.execute(rusqlite::params![r.id, score, at])?;
                }
            }
            Ok(())
        })?;
    }
    tx.commit()?;
    c.execute_batch("PRAGMA wal_checkpoint(TRUNCATE); ANALYZE;")?;
    Ok(t.elapsed().as_secs_f64())
}

/// PostgreSQL: rows go in as arrays (`unnest`, 10,000 per statement) in one transaction with
/// the roll-up triggers off (`session_replication_role = replica`), then the roll-ups are
/// rebuilt in one pass (the same statements as migration 0008's backfill).
async fn seed_postgres(url: &str, responses: u64) -> Result<f64> {
    let (c, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .context("connect to PostgreSQL")?;
    tokio::spawn(conn);
    c.batch_execute(&format!("DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
        .await?;
    let survey = {
        let store = tend_postgres::PgStore::open(url, Some(SCHEMA), 2).await?;
        store
            .create_survey(new_survey(), Actor::SYSTEM, Utc::now())
            .await?
    };
    let t = Instant::now();
    c.batch_execute(&format!(
        "SET search_path TO {SCHEMA}; SET session_replication_role = replica; BEGIN"
    ))
    .await?;
    let inv = c
        .prepare(
            "INSERT INTO survey_invitations (id, survey_id, kind, ticket_id, customer_id, agent_id, group_id, channel, send_key, token_hash, sent_at, expires_at, responded) \
             SELECT id, $1, 'nps', id, id, a, g, ch, id::text, int8send(id), s, s + interval '14 days', r \
             FROM unnest($2::bigint[], $3::bigint[], $4::bigint[], $5::text[], $6::timestamptz[], $7::bool[]) AS t(id, a, g, ch, s, r)",
        )
        .await?;
    let resp = c
        .prepare(
            "INSERT INTO survey_responses (invitation_id, score, created_at, updated_at) \
             SELECT i, sc, at, at FROM unnest($1::bigint[], $2::smallint[], $3::timestamptz[]) AS t(i, sc, at)",
        )
        .await?;
    let to_time = |us: i64| Utc.timestamp_micros(us).unwrap();
    let mut chunks: Vec<InvitationColumns> = Vec::new();
    let mut answers: Vec<ResponseColumns> = Vec::new();
    // Generate first (cheap), then send: the closure cannot await.
    rows(responses, |chunk| {
        chunks.push((
            chunk.iter().map(|r| r.id).collect(),
            chunk.iter().map(|r| r.agent_id).collect(),
            chunk.iter().map(|r| r.group_id).collect(),
            chunk.iter().map(|r| r.channel).collect(),
            chunk.iter().map(|r| to_time(r.sent_us)).collect(),
            chunk.iter().map(|r| r.answered.is_some()).collect(),
        ));
        let answered: Vec<&Row> = chunk.iter().filter(|r| r.answered.is_some()).collect();
        answers.push((
            answered.iter().map(|r| r.id).collect(),
            answered.iter().map(|r| r.answered.unwrap().0).collect(),
            answered
                .iter()
                .map(|r| to_time(r.answered.unwrap().1))
                .collect(),
        ));
        Ok(())
    })?;
    let n = chunks.len();
    for (k, (ch, an)) in chunks.iter().zip(&answers).enumerate() {
        c.execute(
            &inv,
            &[&survey.id, &ch.0, &ch.1, &ch.2, &ch.3, &ch.4, &ch.5],
        )
        .await?;
        c.execute(&resp, &[&an.0, &an.1, &an.2]).await?;
        if k % 10 == 9 || k + 1 == n {
            eprint!("\r  inserting: {}/{n} chunks", k + 1);
        }
    }
    eprintln!();
    eprintln!("  rebuilding the roll-ups");
    c.batch_execute(
        "SET session_replication_role = origin;
         DELETE FROM survey_sent_days; DELETE FROM survey_score_days; DELETE FROM survey_agent_score_days;
         DELETE FROM survey_sent_months; DELETE FROM survey_score_months; DELETE FROM survey_agent_score_months;
         INSERT INTO survey_sent_days (kind, day, group_id, agent_id, channel, sent, answered)
         SELECT kind, (sent_at AT TIME ZONE 'UTC')::date, COALESCE(group_id, 0), COALESCE(agent_id, 0), channel,
                COUNT(*), COUNT(*) FILTER (WHERE responded)
         FROM survey_invitations GROUP BY 1, 2, 3, 4, 5;
         INSERT INTO survey_score_days (kind, day, scale, group_id, channel, score, n)
         SELECT i.kind, (r.created_at AT TIME ZONE 'UTC')::date, COALESCE(s.scale, 0), COALESCE(i.group_id, 0), i.channel, r.score, COUNT(*)
         FROM survey_responses r JOIN survey_invitations i ON i.id = r.invitation_id JOIN surveys s ON s.id = i.survey_id
         GROUP BY 1, 2, 3, 4, 5, 6;
         INSERT INTO survey_agent_score_days (kind, day, scale, agent_id, score, n)
         SELECT i.kind, (r.created_at AT TIME ZONE 'UTC')::date, COALESCE(s.scale, 0), COALESCE(i.agent_id, 0), r.score, COUNT(*)
         FROM survey_responses r JOIN survey_invitations i ON i.id = r.invitation_id JOIN surveys s ON s.id = i.survey_id
         GROUP BY 1, 2, 3, 4, 5;
         SELECT setval(pg_get_serial_sequence('survey_invitations', 'id'), (SELECT MAX(id) FROM survey_invitations));
         COMMIT;",
    )
    .await?;
    for t in [
        "survey_invitations",
        "survey_responses",
        "survey_score_days",
        "survey_agent_score_days",
        "survey_sent_days",
        "survey_score_months",
        "survey_agent_score_months",
        "survey_sent_months",
    ] {
        c.batch_execute(&format!("VACUUM ANALYZE {t}")).await?;
    }
    Ok(t.elapsed().as_secs_f64())
}

/// One chunk of invitations as columns: id, agent, group, channel, sent at, answered.
type InvitationColumns<'a> = (
    Vec<i64>,
    Vec<i64>,
    Vec<i64>,
    Vec<&'a str>,
    Vec<DateTime<Utc>>,
    Vec<bool>,
);
/// One chunk of responses as columns: invitation id, score, answered at.
type ResponseColumns = (Vec<i64>, Vec<i16>, Vec<DateTime<Utc>>);

fn pct(sorted: &[f64], p: f64) -> f64 {
    let i = ((p / 100.0) * (sorted.len() as f64 - 1.0)).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

async fn time_queries(
    store: &dyn Store,
    label: &str,
    responses: u64,
    runs: usize,
    max_seconds: f64,
) -> Result<()> {
    // Every answer lies in 2025-01-01 .. 2026-01-03: each range below covers all of them,
    // so each warm-up run can check the count. The store splits a range into whole months
    // (month roll-ups), partial months (day roll-ups) and partial days (rows).
    let at = |y, m, d, h, min, sec| Utc.with_ymd_and_hms(y, m, d, h, min, sec).unwrap();
    for (path, from, to) in [
        ("open range (months)", None, None),
        (
            "mid-month days (2024-12-15 .. 2026-01-15)",
            Some(at(2024, 12, 15, 0, 0, 0)),
            Some(at(2026, 1, 15, 0, 0, 0)),
        ),
        (
            "any instants (2024-12-31 23:59:59 .. 2026-01-04 00:00:01)",
            Some(at(2024, 12, 31, 23, 59, 59)),
            Some(at(2026, 1, 4, 0, 0, 1)),
        ),
    ] {
        for (name, g) in [("month", ScoreGroup::Month), ("group", ScoreGroup::Group)] {
            let q = ScoreQuery {
                kind: SurveyKind::Nps,
                from,
                to,
                group_by: g,
            };
            let warm = store.survey_counts(q.clone()).await?;
            let counted: u64 = warm.answers.iter().map(|c| c.count).sum();
            anyhow::ensure!(
                counted == responses,
                "{label} {path} by {name}: counted {counted} answers, seeded {responses}"
            );
            let buckets = warm
                .answers
                .iter()
                .map(|c| c.bucket.clone())
                .collect::<std::collections::BTreeSet<_>>()
                .len();
            let mut ms = Vec::new();
            let started = Instant::now();
            while ms.len() < runs && started.elapsed().as_secs_f64() < max_seconds {
                let t = Instant::now();
                let out = store.survey_counts(q.clone()).await?;
                ms.push(t.elapsed().as_secs_f64() * 1000.0);
                std::hint::black_box(out);
            }
            ms.sort_by(|a, b| a.total_cmp(b));
            println!(
                "{}",
                json!({
                    "scenario": "survey-scores",
                    "store": label,
                    "path": path,
                    "group_by": name,
                    "responses": responses,
                    "buckets": buckets,
                    "runs": ms.len(),
                    "p50_ms": (pct(&ms, 50.0) * 100.0).round() / 100.0,
                    "p99_ms": (pct(&ms, 99.0) * 100.0).round() / 100.0,
                    "max_ms": (ms[ms.len() - 1] * 100.0).round() / 100.0,
                })
            );
        }
    }
    Ok(())
}

pub async fn run(
    responses: u64,
    sqlite: &Path,
    postgres: Option<&str>,
    runs: usize,
    max_seconds: f64,
) -> Result<()> {
    eprintln!("SQLite: {}", sqlite.display());
    let secs = seed_sqlite(sqlite, responses).await?;
    eprintln!(
        "  seeded {responses} responses in {secs:.1} s ({:.0}/s)",
        responses as f64 / secs
    );
    let store = tend_sqlite::SqliteStore::open(sqlite)?;
    time_queries(&store, "sqlite", responses, runs, max_seconds).await?;
    store.close();
    if let Some(url) = postgres {
        eprintln!("PostgreSQL: {url} (schema {SCHEMA})");
        let secs = seed_postgres(url, responses).await?;
        eprintln!(
            "  seeded {responses} responses in {secs:.1} s ({:.0}/s)",
            responses as f64 / secs
        );
        let store: Arc<dyn Store> =
            Arc::new(tend_postgres::PgStore::open(url, Some(SCHEMA), 2).await?);
        time_queries(store.as_ref(), "postgres", responses, runs, max_seconds).await?;
    }
    Ok(())
}
