//! `tend-bench search`: the full-text search engine (tend-search) in-process.
//!
//! 1. Help center: N generated articles (default 10,000; five languages), then customer
//!    questions (typos, prefixes, phrases, filters) — p50/p99 per query, snippets included.
//! 2. Tickets: a SQLite store with N generated tickets (`tend-datagen`, seeded once into
//!    `<dir>/tickets.db` and reused), a full reindex through `feed::reindex_tickets` (timed),
//!    then a rare, a medium and a very common word as admin (all tickets) and as an agent
//!    (two of four groups) — p50/p95/p99 with the hit counts.
//!
//! Every series is bounded by `--queries` and `--max-seconds`. One JSON line per series on
//! stdout; progress on stderr.

use anyhow::{Context, Result};
use serde_json::json;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;
use tend_core::{Role, Viewer};
use tend_search::{ArticleDoc, KbQuery, Options, Search, TicketQuery};
use tend_store::Store;

fn pct(sorted: &[f64], p: f64) -> f64 {
    crate::pct(sorted, p)
}

fn round(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// Runs `f` until `queries` runs or `max_seconds`; latencies in ms, sorted.
fn series(
    queries: usize,
    max_seconds: f64,
    mut f: impl FnMut(usize) -> Result<()>,
) -> Result<Vec<f64>> {
    let deadline = Instant::now() + std::time::Duration::from_secs_f64(max_seconds);
    let mut lat = Vec::with_capacity(queries);
    for i in 0..queries {
        if Instant::now() >= deadline {
            break;
        }
        let t = Instant::now();
        f(i)?;
        lat.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    lat.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    Ok(lat)
}

const TOPICS: &[(&str, &str)] = &[
    ("Shipping times", "Standard delivery takes 2 to 4 working days and express delivery arrives the next working day."),
    ("Track your order", "Use the tracking number in the shipping email to follow your parcel on the carrier website."),
    ("Returns", "You can return items within 30 days with the free return label from your account."),
    ("Refunds", "Refunds are paid to the original payment method within 5 business days after we receive the return."),
    ("Reset your password", "Click forgot password and we send a reset link to your email address."),
    ("Invoices", "Download the invoice as a PDF from the order page in your account."),
    ("Payment methods", "We accept credit card, PayPal, Apple Pay and bank transfer."),
    ("Gift cards", "Redeem the gift card code at checkout; the remaining balance stays on the card."),
    ("Warranty", "Products have a two year warranty; contact us with a photo of the defect for a repair."),
    ("Damaged parcel", "Send us photos of the damaged item and the packaging and we will replace it."),
    ("Cancel an order", "Orders can be cancelled until they are packed in our warehouse."),
    ("Discount codes", "Only one discount code per order; codes cannot be combined with sale prices."),
];
const PRODUCTS: &[&str] = &[
    "rain jacket",
    "running shoes",
    "desk lamp",
    "coffee grinder",
    "backpack",
    "headphones",
    "wool sweater",
    "phone case",
    "garden chair",
    "yoga mat",
    "kettle",
    "sunglasses",
];
const LOCALES: &[&str] = &["en", "en", "en", "de", "fr", "es", "nl"];
const FILLER: &[&str] = &[
    "Our customer service team is happy to help.",
    "This applies to all orders placed in the online shop.",
    "Please have your order number ready when you contact us.",
    "Some brands have their own conditions, listed on the product page.",
    "Business customers can find further details in their account.",
];

fn article(i: u64) -> ArticleDoc {
    let mut r = tend_datagen::Rng::new(i);
    let (title, body) = TOPICS[r.below(TOPICS.len() as u64) as usize];
    let product = PRODUCTS[r.below(PRODUCTS.len() as u64) as usize];
    let mut text = format!("{body} This also applies to the {product}.");
    for _ in 0..(2 + r.below(5)) {
        text.push(' ');
        text.push_str(FILLER[r.below(FILLER.len() as u64) as usize]);
    }
    ArticleDoc {
        article_id: i as i64 + 1,
        locale: LOCALES[r.below(LOCALES.len() as u64) as usize].to_string(),
        title: format!("{title}: {product} ({i})"),
        body_text: text,
        tags: vec![title.to_lowercase()],
        category_id: Some(r.below(12) as i64),
        section_id: Some(r.below(60) as i64),
        brand_id: None,
        public: r.below(10) > 0,
        published: r.below(20) > 0,
    }
}

const QUESTIONS: &[&str] = &[
    "where is my order",
    "refund",
    "how do I return my running shoes",
    "refnud not received",
    "forgot pasword",
    "passw",
    "invoice pdf download",
    "\"gift card\" balance",
    "my headphones are broken warranty",
    "can I pay with paypal",
    "cancel order",
    "discount code not working",
    "damaged parcel photos",
    "track",
    "express delivery next day",
    "rain jacket",
];

async fn seed(store: &dyn Store, tickets: u64) -> Result<()> {
    let have = store
        .stats()
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .tickets as u64;
    if have >= tickets {
        eprintln!("  store already has {have} tickets");
        return Ok(());
    }
    anyhow::ensure!(
        have == 0,
        "the bench store has {have} tickets, not {tickets}: delete it"
    );
    let now =
        chrono::DateTime::parse_from_rfc3339("2026-11-01T12:00:00Z")?.with_timezone(&chrono::Utc);
    let g = tend_datagen::Generator::new(tend_datagen::Spec::new(tickets, now));
    let started = Instant::now();
    let mut batch = Vec::with_capacity(20_000);
    for i in 0..tickets {
        let line = g.record(i).to_string();
        batch.push(
            tend_core::import::ImportRecord::parse_line(&line)
                .map_err(|e| anyhow::anyhow!("record {i}: {}", e.message))?,
        );
        if batch.len() == 20_000 || i + 1 == tickets {
            store
                .import(std::mem::take(&mut batch), now)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            eprint!("\r  seeding: {}/{tickets} tickets", i + 1);
            let _ = std::io::stderr().flush();
        }
    }
    eprintln!(" ({:.1} s)", started.elapsed().as_secs_f64());
    Ok(())
}

pub async fn run(
    tickets: u64,
    articles: u64,
    dir: &Path,
    queries: usize,
    max_seconds: f64,
) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("{}", dir.display()))?;
    // --- help center ----------------------------------------------------------------------
    let kb_dir = dir.join("kb-index");
    let _ = std::fs::remove_dir_all(&kb_dir);
    let search = Search::open_with(&kb_dir, Options::default())?;
    let started = Instant::now();
    let mut rb = search.kb().rebuild_begin()?;
    rb.add((0..articles).map(article))?;
    rb.finish(1)?;
    eprintln!(
        "  indexed {articles} articles in {:.2} s",
        started.elapsed().as_secs_f64()
    );
    let mut hits = 0usize;
    for (name, locale, public) in [
        ("kb any language", None, false),
        ("kb en, public", Some("en"), true),
    ] {
        let lat = series(queries, max_seconds, |i| {
            let q = KbQuery {
                locale: locale.map(String::from),
                public_only: public,
                published_only: true,
                limit: 10,
                ..KbQuery::new(QUESTIONS[i % QUESTIONS.len()])
            };
            hits += search.kb().search(&q)?.hits.len();
            Ok(())
        })?;
        println!(
            "{}",
            json!({"scenario": format!("search: {name}"), "articles": articles, "queries": lat.len(), "p50_ms": round(pct(&lat, 50.0)), "p95_ms": round(pct(&lat, 95.0)), "p99_ms": round(pct(&lat, 99.0)), "max_ms": round(pct(&lat, 100.0))})
        );
    }
    anyhow::ensure!(hits > 0, "the help-center queries found nothing");
    drop(search);

    // --- tickets --------------------------------------------------------------------------
    let db = dir.join(format!("tickets-{tickets}.db"));
    let store: Arc<dyn Store> =
        Arc::new(tend_sqlite::SqliteStore::open(&db).map_err(|e| anyhow::anyhow!("{e}"))?);
    seed(&*store, tickets).await?;
    let ix_dir = dir.join(format!("tickets-index-{tickets}"));
    let _ = std::fs::remove_dir_all(&ix_dir);
    let search = Search::open_with(&ix_dir, Options::default())?;
    let started = Instant::now();
    let mut last = Instant::now();
    let n = tend_search::feed::reindex_tickets(&*store, &search, |done, total| {
        if last.elapsed().as_secs_f64() > 1.0 || done == total {
            eprint!("\r  reindex: {done}/{total}");
            let _ = std::io::stderr().flush();
            last = Instant::now();
        }
    })
    .await?;
    let secs = started.elapsed().as_secs_f64();
    eprintln!();
    let size: u64 = std::fs::read_dir(ix_dir.join("tickets"))?
        .filter_map(|e| e.ok()?.metadata().ok())
        .map(|m| m.len())
        .sum();
    println!(
        "{}",
        json!({"scenario": "search: ticket reindex (SQLite → index)", "tickets": n, "seconds": round(secs), "tickets_per_second": (n as f64 / secs).round(), "index_mb": (size as f64 / 1e6).round()})
    );
    // Segments are still merging in the background right after a rebuild; measure the index
    // as it is then (the worst case a server sees).
    let agent = Viewer {
        agent_id: 0,
        role: Role::Agent,
        group_ids: vec![2, 3],
    };
    for word in ["zebrafish", "invoice", "order"] {
        for (who, restricted) in [("admin", false), ("agent (2 of 4 groups)", true)] {
            let mut total = 0;
            let lat = series(queries, max_seconds, |_| {
                let mut q = TicketQuery {
                    limit: 25,
                    ..TicketQuery::new(word)
                };
                if restricted {
                    q = q.visible_to(&agent);
                }
                total = search.tickets().search(&q)?.total;
                Ok(())
            })?;
            println!(
                "{}",
                json!({"scenario": format!("search: tickets {word:?} as {who}"), "tickets": n, "matches": total, "queries": lat.len(), "p50_ms": round(pct(&lat, 50.0)), "p95_ms": round(pct(&lat, 95.0)), "p99_ms": round(pct(&lat, 99.0))})
            );
        }
    }
    Ok(())
}
