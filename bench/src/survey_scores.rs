//! `tend-bench survey-scores`: "scores for 1M responses by month × group < 100 ms".
//!
//! Seeds N survey responses (default 1,000,000; NPS, 12 months of 2025, 8 groups of 5
//! agents, e-mail and web channels, 4 brands and "none", 0–3 of 12 tags and one of 30
//! products per invitation, 80 % response rate so 1.25 N invitations, a realistic score mix)
//! into a fresh SQLite file and, with `--postgres URL`, a fresh PostgreSQL schema
//! `bench_surveys`; then times `Store::survey_counts` (what `/api/v1/surveys/scores` reads)
//! grouped by month, group, brand, tag and product, for an open range, a year between two
//! mid-month days and a year between two arbitrary instants (whole months from the month
//! roll-ups, partial months from the day roll-ups, partial days from the hour roll-ups,
//! partial hours from the rows).
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
    /// 0: no brand.
    brand: i64,
    tags: Vec<&'static str>,
    product: &'static str,
    sent_us: i64,
    answered: Option<(i16, i64)>,
}

const TAGS: [&str; 12] = [
    "billing",
    "shipping",
    "refund",
    "vip",
    "damaged",
    "late",
    "exchange",
    "warranty",
    "invoice",
    "account",
    "complaint",
    "gift",
];
const PRODUCTS: [&str; 30] = [
    "Kettle", "Toaster", "Teapot", "Mug", "Grinder", "Scale", "Blender", "Juicer", "Pan", "Pot",
    "Knife", "Board", "Whisk", "Sieve", "Bowl", "Plate", "Cup", "Spoon", "Fork", "Tray", "Jar",
    "Lid", "Mat", "Towel", "Apron", "Timer", "Peeler", "Grater", "Ladle", "Tongs",
];

impl Row {
    /// The snapshot rows (dim, value) of the invitation, as the store writes them.
    fn dims(&self) -> Vec<(&'static str, String)> {
        let mut d = vec![(
            "brand",
            if self.brand == 0 {
                String::new()
            } else {
                self.brand.to_string()
            },
        )];
        if self.tags.is_empty() {
            d.push(("tag", String::new()));
        }
        d.extend(self.tags.iter().map(|t| ("tag", t.to_string())));
        d.push(("product", self.product.to_string()));
        d
    }
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
fn rows(responses: u64, each: impl FnMut(&[Row]) -> Result<()>) -> Result<()> {
    rows_with(responses, each, true)
}

/// The same rows, without the progress line.
fn rows_quiet(responses: u64, each: impl FnMut(&[Row]) -> Result<()>) -> Result<()> {
    rows_with(responses, each, false)
}

fn rows_with(responses: u64, mut each: impl FnMut(&[Row]) -> Result<()>, show: bool) -> Result<()> {
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
        let channel = if rng.below(10) < 7 { "email" } else { "web" };
        let brand = rng.below(5) as i64;
        let mut tags: Vec<&'static str> = (0..rng.below(4))
            .map(|_| TAGS[rng.below(TAGS.len() as u64) as usize])
            .collect();
        tags.sort_unstable();
        tags.dedup();
        let product = PRODUCTS[rng.below(PRODUCTS.len() as u64) as usize];
        chunk.push(Row {
            id: i as i64 + 1,
            group_id: group as i64,
            agent_id: agent as i64,
            channel,
            brand,
            tags,
            product,
            sent_us,
            answered: answered_row,
        });
        if chunk.len() == chunk.capacity() {
            each(&chunk)?;
            chunk.clear();
            if show {
                progress(i + 1, invitations);
            }
        }
    }
    if !chunk.is_empty() {
        each(&chunk)?;
    }
    if show {
        progress(invitations, invitations);
        eprintln!();
    }
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

/// The roll-ups rebuilt from the rows in one pass per table (what the migrations' backfills
/// do), for a store seeded with the triggers off.
const SQLITE_REBUILD: &str = "
    DELETE FROM survey_sent_days; DELETE FROM survey_score_days; DELETE FROM survey_agent_score_days;
    DELETE FROM survey_sent_months; DELETE FROM survey_score_months; DELETE FROM survey_agent_score_months;
    DELETE FROM survey_sent_hours; DELETE FROM survey_score_hours; DELETE FROM survey_agent_score_hours;
    DELETE FROM survey_dim_sent_hours; DELETE FROM survey_dim_score_hours;
    DELETE FROM survey_dim_sent_days; DELETE FROM survey_dim_score_days;
    DELETE FROM survey_dim_sent_months; DELETE FROM survey_dim_score_months;
    CREATE TEMP TABLE a AS
      SELECT i.kind AS kind, r.created_at AS at, COALESCE(s.scale, 0) AS scale, COALESCE(i.group_id, 0) AS g,
             COALESCE(i.agent_id, 0) AS ag, i.channel AS ch, r.score AS score, i.id AS inv
      FROM survey_responses r JOIN survey_invitations i ON i.id = r.invitation_id JOIN surveys s ON s.id = i.survey_id;
    INSERT INTO survey_sent_hours SELECT kind, sent_at / 3600000000, COALESCE(group_id, 0), COALESCE(agent_id, 0), channel, COUNT(*), SUM(responded) FROM survey_invitations GROUP BY 1, 2, 3, 4, 5;
    INSERT INTO survey_sent_days SELECT kind, hour / 24, group_id, agent_id, channel, SUM(sent), SUM(answered) FROM survey_sent_hours GROUP BY 1, 2, 3, 4, 5;
    INSERT INTO survey_sent_months SELECT kind, CAST(strftime('%Y%m', day * 86400, 'unixepoch') AS INTEGER), group_id, agent_id, channel, SUM(sent), SUM(answered) FROM survey_sent_days GROUP BY 1, 2, 3, 4, 5;
    INSERT INTO survey_score_hours SELECT kind, at / 3600000000, scale, g, ch, score, COUNT(*) FROM temp.a GROUP BY 1, 2, 3, 4, 5, 6;
    INSERT INTO survey_score_days SELECT kind, hour / 24, scale, group_id, channel, score, SUM(n) FROM survey_score_hours GROUP BY 1, 2, 3, 4, 5, 6;
    INSERT INTO survey_score_months SELECT kind, CAST(strftime('%Y%m', day * 86400, 'unixepoch') AS INTEGER), scale, group_id, channel, score, SUM(n) FROM survey_score_days GROUP BY 1, 2, 3, 4, 5, 6;
    INSERT INTO survey_agent_score_hours SELECT kind, at / 3600000000, scale, ag, score, COUNT(*) FROM temp.a GROUP BY 1, 2, 3, 4, 5;
    INSERT INTO survey_agent_score_days SELECT kind, hour / 24, scale, agent_id, score, SUM(n) FROM survey_agent_score_hours GROUP BY 1, 2, 3, 4, 5;
    INSERT INTO survey_agent_score_months SELECT kind, CAST(strftime('%Y%m', day * 86400, 'unixepoch') AS INTEGER), scale, agent_id, score, SUM(n) FROM survey_agent_score_days GROUP BY 1, 2, 3, 4, 5;
    INSERT INTO survey_dim_sent_hours SELECT i.kind, d.dim, i.sent_at / 3600000000, d.value, COUNT(*), SUM(i.responded) FROM survey_invitation_dims d JOIN survey_invitations i ON i.id = d.invitation_id GROUP BY 1, 2, 3, 4;
    INSERT INTO survey_dim_sent_days SELECT kind, dim, hour / 24, value, SUM(sent), SUM(answered) FROM survey_dim_sent_hours GROUP BY 1, 2, 3, 4;
    INSERT INTO survey_dim_sent_months SELECT kind, dim, CAST(strftime('%Y%m', day * 86400, 'unixepoch') AS INTEGER), value, SUM(sent), SUM(answered) FROM survey_dim_sent_days GROUP BY 1, 2, 3, 4;
    INSERT INTO survey_dim_score_hours SELECT a.kind, d.dim, a.at / 3600000000, d.value, a.scale, a.score, COUNT(*) FROM temp.a a JOIN survey_invitation_dims d ON d.invitation_id = a.inv GROUP BY 1, 2, 3, 4, 5, 6;
    INSERT INTO survey_dim_score_days SELECT kind, dim, hour / 24, value, scale, score, SUM(n) FROM survey_dim_score_hours GROUP BY 1, 2, 3, 4, 5, 6;
    INSERT INTO survey_dim_score_months SELECT kind, dim, CAST(strftime('%Y%m', day * 86400, 'unixepoch') AS INTEGER), value, scale, score, SUM(n) FROM survey_dim_score_days GROUP BY 1, 2, 3, 4, 5, 6;
    DROP TABLE temp.a;
";

/// SQLite: one transaction, prepared statements, with the roll-up triggers dropped while
/// the rows go in (then the roll-ups are rebuilt in one pass and the triggers put back).
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
    // The survey triggers, to put back after the bulk insert.
    let triggers: Vec<(String, String)> = tx
        .prepare("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name LIKE 'survey%'")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    for (name, _) in &triggers {
        tx.execute_batch(&format!("DROP TRIGGER {name}"))?;
    }
    {
        let mut dim = tx.prepare(
            "INSERT INTO survey_invitation_dims(invitation_id, dim, value) VALUES (?1, ?2, ?3)",
        )?;
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
                for (d, v) in r.dims() {
                    dim.execute(rusqlite::params![r.id, d, v])?;
                }
                if let Some((score, at)) = r.answered {
                    resp.execute(rusqlite::params![r.id, score, at])?;
                }
            }
            Ok(())
        })?;
    }
    eprintln!("  rebuilding the roll-ups");
    tx.execute_batch(SQLITE_REBUILD)?;
    for (_, sql) in &triggers {
        tx.execute_batch(sql)?;
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
    let dims = c
        .prepare(
            "INSERT INTO survey_invitation_dims (invitation_id, dim, value) \
             SELECT i, d, v FROM unnest($1::bigint[], $2::text[], $3::text[]) AS t(i, d, v)",
        )
        .await?;
    let to_time = |us: i64| Utc.timestamp_micros(us).unwrap();
    let mut chunks: Vec<InvitationColumns> = Vec::new();
    let mut answers: Vec<ResponseColumns> = Vec::new();
    let mut dim_rows: Vec<DimColumns> = Vec::new();
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
        let mut d: DimColumns = (Vec::new(), Vec::new(), Vec::new());
        for r in chunk {
            for (dim, v) in r.dims() {
                d.0.push(r.id);
                d.1.push(dim);
                d.2.push(v);
            }
        }
        dim_rows.push(d);
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
        let d = &dim_rows[k];
        c.execute(&dims, &[&d.0, &d.1, &d.2]).await?;
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
         DELETE FROM survey_sent_hours; DELETE FROM survey_score_hours; DELETE FROM survey_agent_score_hours;
         DELETE FROM survey_dim_sent_hours; DELETE FROM survey_dim_score_hours;
         DELETE FROM survey_dim_sent_days; DELETE FROM survey_dim_score_days;
         DELETE FROM survey_dim_sent_months; DELETE FROM survey_dim_score_months;
         INSERT INTO survey_sent_hours SELECT kind, survey_hour(sent_at), COALESCE(group_id, 0), COALESCE(agent_id, 0), channel,
                COUNT(*), COUNT(*) FILTER (WHERE responded) FROM survey_invitations GROUP BY 1, 2, 3, 4, 5;
         INSERT INTO survey_score_hours SELECT i.kind, survey_hour(r.created_at), COALESCE(s.scale, 0), COALESCE(i.group_id, 0), i.channel, r.score, COUNT(*)
         FROM survey_responses r JOIN survey_invitations i ON i.id = r.invitation_id JOIN surveys s ON s.id = i.survey_id GROUP BY 1, 2, 3, 4, 5, 6;
         INSERT INTO survey_agent_score_hours SELECT i.kind, survey_hour(r.created_at), COALESCE(s.scale, 0), COALESCE(i.agent_id, 0), r.score, COUNT(*)
         FROM survey_responses r JOIN survey_invitations i ON i.id = r.invitation_id JOIN surveys s ON s.id = i.survey_id GROUP BY 1, 2, 3, 4, 5;
         INSERT INTO survey_dim_sent_hours SELECT i.kind, d.dim, survey_hour(i.sent_at), d.value, COUNT(*), COUNT(*) FILTER (WHERE i.responded)
         FROM survey_invitation_dims d JOIN survey_invitations i ON i.id = d.invitation_id GROUP BY 1, 2, 3, 4;
         INSERT INTO survey_dim_sent_days SELECT kind, dim, (to_timestamp(hour * 3600) AT TIME ZONE 'UTC')::date, value, SUM(sent), SUM(answered)
         FROM survey_dim_sent_hours GROUP BY 1, 2, 3, 4;
         INSERT INTO survey_dim_sent_months SELECT kind, dim, date_trunc('month', day)::date, value, SUM(sent), SUM(answered)
         FROM survey_dim_sent_days GROUP BY 1, 2, 3, 4;
         INSERT INTO survey_dim_score_hours SELECT i.kind, d.dim, survey_hour(r.created_at), d.value, COALESCE(s.scale, 0), r.score, COUNT(*)
         FROM survey_responses r JOIN survey_invitations i ON i.id = r.invitation_id JOIN surveys s ON s.id = i.survey_id
         JOIN survey_invitation_dims d ON d.invitation_id = i.id GROUP BY 1, 2, 3, 4, 5, 6;
         INSERT INTO survey_dim_score_days SELECT kind, dim, (to_timestamp(hour * 3600) AT TIME ZONE 'UTC')::date, value, scale, score, SUM(n)
         FROM survey_dim_score_hours GROUP BY 1, 2, 3, 4, 5, 6;
         INSERT INTO survey_dim_score_months SELECT kind, dim, date_trunc('month', day)::date, value, scale, score, SUM(n)
         FROM survey_dim_score_days GROUP BY 1, 2, 3, 4, 5, 6;
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
        "survey_invitation_dims",
        "survey_score_hours",
        "survey_agent_score_hours",
        "survey_sent_hours",
        "survey_dim_score_hours",
        "survey_dim_sent_hours",
        "survey_dim_score_days",
        "survey_dim_sent_days",
        "survey_dim_score_months",
        "survey_dim_sent_months",
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
/// One chunk of snapshot rows as columns: invitation id, dim, value.
type DimColumns = (Vec<i64>, Vec<&'static str>, Vec<String>);

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
    // Answers counted by tag: one per tag of each answered invitation ("none" counts once).
    let mut tag_answers = 0u64;
    rows_quiet(responses, |chunk| {
        for r in chunk.iter().filter(|r| r.answered.is_some()) {
            tag_answers += r.tags.len().max(1) as u64;
        }
        Ok(())
    })?;
    // Every answer lies in 2025-01-01 .. 2026-01-03: each range below covers all of them,
    // so each warm-up run can check the count (by brand; by tag and product an answer counts
    // once per tag or product, so the check is the sum over the snapshot rows). The store
    // splits a range into whole months (month roll-ups), partial months (day roll-ups),
    // partial days (hour roll-ups) and partial hours (rows).
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
        for (name, g) in [
            ("month", ScoreGroup::Month),
            ("group", ScoreGroup::Group),
            ("brand", ScoreGroup::Brand),
            ("tag", ScoreGroup::Tag),
            ("product", ScoreGroup::Product),
        ] {
            let q = ScoreQuery {
                kind: SurveyKind::Nps,
                from,
                to,
                group_by: g,
            };
            let warm = store.survey_counts(q.clone()).await?;
            let counted: u64 = warm.answers.iter().map(|c| c.count).sum();
            let want = match g {
                ScoreGroup::Tag => tag_answers,
                _ => responses,
            };
            anyhow::ensure!(
                counted == want,
                "{label} {path} by {name}: counted {counted} answers, expected {want}"
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
