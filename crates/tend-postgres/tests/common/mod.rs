//! Shared by the PgStore test files: one fresh schema per test.
//! URL: $TEND_TEST_DATABASE_URL, else postgres://postgres@127.0.0.1:5432/postgres (skipped
//! when that is not reachable).

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use tend_postgres::PgStore;

const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

pub struct TestDb {
    pub store: PgStore,
    pub url: String,
    pub schema: String,
}

impl TestDb {
    pub async fn drop_schema(self) {
        let TestDb { store, url, schema } = self;
        drop(store);
        let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(conn);
        client
            .batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
            .await
            .unwrap();
    }
}

fn random_hex() -> String {
    let mut h = RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos(),
    );
    h.write_u32(std::process::id());
    format!("{:016x}", h.finish())
}

/// A store in a fresh schema whose name starts with `prefix`.
pub async fn db_with_prefix(prefix: &str) -> Option<TestDb> {
    let env = std::env::var("TEND_TEST_DATABASE_URL").ok();
    let url = env.clone().unwrap_or_else(|| DEFAULT_URL.to_string());
    if env.is_none() {
        let probe = tokio::time::timeout(
            std::time::Duration::from_secs(3),
            tokio_postgres::connect(&url, tokio_postgres::NoTls),
        )
        .await;
        if !matches!(probe, Ok(Ok(_))) {
            println!("SKIPPED: PostgreSQL not reachable");
            return None;
        }
    }
    let schema = format!("{prefix}_{}", random_hex());
    let store = PgStore::open(&url, Some(&schema), 4)
        .await
        .expect("open store");
    Some(TestDb { store, url, schema })
}
