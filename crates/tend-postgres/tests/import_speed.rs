//! Import throughput: `cargo test -p tend-postgres --release --test import_speed -- --ignored --nocapture`.

use chrono::Utc;
use tend_core::import::ImportRecord;
use tend_postgres::PgStore;
use tend_store::Store;

fn line(i: usize) -> String {
    format!(
        r#"{{"external_id":"b-{i}","subject":"Parcel {i}","status":"solved","requester":{{"email":"c{c}@example.com","name":"C {c}"}},"organization":"Org {o}","group":"G{g}","tags":["t{g}","bulk"],"created_at":"2025-01-02T10:00:00Z","messages":[{{"author":"c{c}@example.com","body":"Hello, where is my parcel {i}?","created_at":"2025-01-02T10:00:00Z"}},{{"author":"agent{a}@shop.example","author_is_agent":true,"body":"On its way.\nRegards","created_at":"2025-01-02T11:00:00Z"}}],"history":[{{"at":"2025-01-02T10:30:00Z","by":"agent{a}@shop.example","assignee":"agent{a}@shop.example","status":"open"}}]}}"#,
        c = i % 5000,
        o = i % 300,
        g = i % 12,
        a = i % 40
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn import_speed() {
    let url = std::env::var("TEND_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let schema = format!("bench_{}", std::process::id());
    let s = PgStore::open(&url, Some(&schema), 2).await.unwrap();
    let total: usize = std::env::var("N")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(20_000);
    let batch: usize = std::env::var("BATCH")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(2_000);
    let recs: Vec<ImportRecord> = (0..total)
        .map(|i| ImportRecord::parse_line(&line(i)).unwrap())
        .collect();
    let start = std::time::Instant::now();
    let mut created = 0;
    for chunk in recs.chunks(batch) {
        created += s.import(chunk.to_vec(), Utc::now()).await.unwrap().created;
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "imported {created} tickets in {secs:.2}s: {:.0} tickets/s (batch {batch})",
        created as f64 / secs
    );
    let st = s.stats().await.unwrap();
    println!("{st:?}");
    drop(s);
    let (c, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    c.batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
        .await
        .unwrap();
}
