//! Tend's embedded store: one SQLite file in WAL mode.
//!
//! All writes go through one writer thread. It takes every write request that is waiting,
//! runs each in its own SAVEPOINT inside one transaction, commits once (one fsync), and only
//! then answers the callers: concurrent requests share a commit (group commit) and every
//! acknowledged write is durable (`synchronous=FULL`). A failing request rolls back only its
//! own savepoint. Reads use a small pool of read-only connections.

mod brands;
mod conv;
mod escalation;
mod imports;
mod jobs;
mod kb;
mod kb_analytics;
mod macros;
mod mail;
mod metrics;
mod people;
mod routing;
mod sla_bulk;
mod survey;
mod tickets;
mod triggers;
mod views;

use rusqlite::{Connection, OpenFlags};
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc, Mutex};
use tend_store::{Result, StoreError};
use tokio::sync::{oneshot, Semaphore};

type Reply = Box<dyn FnOnce(Result<()>) + Send>;
/// A write request: run it on the connection (`Some`), or just get its reply (`None`, when the
/// batch could not start).
type WriteJob = Box<dyn FnOnce(Option<&Connection>) -> (bool, Reply) + Send>;

const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../migrations/0001_init.sql")),
    (2, include_str!("../migrations/0002_customer_tokens.sql")),
    (3, include_str!("../migrations/0003_macros.sql")),
    (4, include_str!("../migrations/0004_settings.sql")),
    (5, include_str!("../migrations/0005_job_keys.sql")),
    (6, include_str!("../migrations/0006_mail.sql")),
    (7, include_str!("../migrations/0007_surveys.sql")),
    (8, include_str!("../migrations/0008_survey_kiosks.sql")),
    (9, include_str!("../migrations/0009_survey_rules.sql")),
    (10, include_str!("../migrations/0010_kb.sql")),
    (11, include_str!("../migrations/0011_metrics.sql")),
    (12, include_str!("../migrations/0012_kiosk_embeds.sql")),
    (13, include_str!("../migrations/0013_brands.sql")),
    (14, include_str!("../migrations/0014_survey_dims.sql")),
    (15, include_str!("../migrations/0015_kb_analytics.sql")),
    (16, include_str!("../migrations/0016_metric_targets.sql")),
    (17, include_str!("../migrations/0017_sla_due.sql")),
    (18, include_str!("../migrations/0018_password_resets.sql")),
    (19, include_str!("../migrations/0019_saved_views.sql")),
    (20, include_str!("../migrations/0020_triggers.sql")),
    (21, include_str!("../migrations/0021_routing.sql")),
    (22, include_str!("../migrations/0022_escalation.sql")),
    (24, include_str!("../migrations/0024_kb_category_brand.sql")),
    (
        25,
        include_str!("../migrations/0025_metric_tags_languages.sql"),
    ),
    (26, include_str!("../migrations/0026_org_indexes.sql")),
    (27, include_str!("../migrations/0027_sla_check_column.sql")),
    (29, include_str!("../migrations/0029_handle_time.sql")),
];

/// Largest number of write requests folded into one commit.
const MAX_BATCH: usize = 1024;

#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    writer: Mutex<Option<mpsc::Sender<WriteJob>>>,
    writer_thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    readers: Mutex<Vec<Connection>>,
    permits: Semaphore,
    path: PathBuf,
}

fn db(e: rusqlite::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

/// Page-cache sizes of the store's connections (SQLite's `cache_size`, per connection).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// The writer's page cache, in KiB.
    pub writer_cache_kib: u32,
    /// Each of the four readers' page caches, in KiB.
    pub reader_cache_kib: u32,
}

impl Default for Options {
    /// For commands (import, rebuilds, recomputes): large caches for large writes.
    fn default() -> Self {
        Options {
            writer_cache_kib: 32_000,
            reader_cache_kib: 8_000,
        }
    }
}

impl Options {
    /// For `tend serve`: a request writes a few rows at the right-hand edge of each B-tree
    /// and reads a page of results, and the kernel's page cache holds the file anyway, so
    /// the server keeps small caches of its own (measured: the 32 MB writer cache filled up
    /// under a create load and was a quarter of the server's memory, bench/RESULTS.md S6).
    pub fn serving() -> Self {
        Options {
            writer_cache_kib: 4_000,
            reader_cache_kib: 2_000,
        }
    }
}

fn open_conn(path: &Path, read_only: bool, cache_kib: u32) -> Result<Connection> {
    let flags = if read_only {
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX
    } else {
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
    };
    let c = Connection::open_with_flags(path, flags).map_err(db)?;
    c.busy_timeout(std::time::Duration::from_secs(10))
        .map_err(db)?;
    c.execute_batch(if read_only {
        "PRAGMA foreign_keys=ON; PRAGMA temp_store=MEMORY;"
    } else {
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; PRAGMA temp_store=MEMORY; PRAGMA wal_autocheckpoint=4000;"
    })
    .map_err(db)?;
    c.execute_batch(&format!("PRAGMA cache_size=-{cache_kib};"))
        .map_err(db)?;
    // Plans never depend on bound values. Without this, SQLite looks at a bound `LIMIT ?`
    // or a value compared with a partial index's condition while planning and then compiles
    // the statement again whenever a new value is bound: a cached statement was re-parsed at
    // every execution (a fifth of the agent queue page's time).
    c.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )
    .map_err(db)?;
    c.set_prepared_statement_cache_capacity(64);
    Ok(c)
}

fn migrate(c: &mut Connection) -> Result<()> {
    c.execute_batch("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)").map_err(db)?;
    let tx = c
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(db)?;
    for (version, sql) in MIGRATIONS {
        let done: bool = tx
            .query_row(
                "SELECT EXISTS(SELECT 1 FROM schema_migrations WHERE version = ?1)",
                [version],
                |r| r.get(0),
            )
            .map_err(db)?;
        if !done {
            tx.execute_batch(sql).map_err(db)?;
            tx.execute(
                "INSERT INTO schema_migrations(version, applied_at) VALUES (?1, ?2)",
                rusqlite::params![version, chrono::Utc::now().timestamp_micros()],
            )
            .map_err(db)?;
        }
    }
    tx.commit().map_err(db)
}

impl SqliteStore {
    /// Opens (creating if needed) the database file, migrates it and starts the writer.
    pub fn open(path: impl AsRef<Path>) -> Result<SqliteStore> {
        Self::open_with(path, Options::default())
    }

    /// [`SqliteStore::open`] with these cache sizes.
    pub fn open_with(path: impl AsRef<Path>, opts: Options) -> Result<SqliteStore> {
        let path = path.as_ref().to_path_buf();
        if let Some(dir) = path.parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir).map_err(|e| {
                    StoreError::Backend(format!("cannot create {}: {e}", dir.display()))
                })?;
            }
        }
        let mut w = open_conn(&path, false, opts.writer_cache_kib)?;
        migrate(&mut w)?;
        let readers_n = 4;
        let readers = (0..readers_n)
            .map(|_| open_conn(&path, true, opts.reader_cache_kib))
            .collect::<Result<Vec<_>>>()?;
        let (tx, rx) = mpsc::channel::<WriteJob>();
        let handle = std::thread::Builder::new()
            .name("tend-sqlite-writer".into())
            .spawn(move || writer_loop(w, rx))
            .map_err(|e| StoreError::Backend(e.to_string()))?;
        Ok(SqliteStore {
            inner: Arc::new(Inner {
                writer: Mutex::new(Some(tx)),
                writer_thread: Mutex::new(Some(handle)),
                readers: Mutex::new(readers),
                permits: Semaphore::new(readers_n),
                path,
            }),
        })
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Stops accepting writes and waits for the writer to finish what it has.
    pub fn close(&self) {
        self.inner
            .writer
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(h) = self
            .inner
            .writer_thread
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            let _ = h.join();
        }
    }

    /// Runs `f` in the next group commit; returns once that commit is durable.
    pub(crate) async fn write<R: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<R> + Send + 'static,
    ) -> Result<R> {
        let (tx, rx) = oneshot::channel::<Result<R>>();
        let job: WriteJob = Box::new(move |conn| {
            let res = match conn {
                None => Err(StoreError::Backend("could not start a transaction".into())),
                Some(conn) => match std::panic::catch_unwind(AssertUnwindSafe(|| f(conn))) {
                    Ok(r) => r,
                    Err(_) => Err(StoreError::Backend(
                        "a write panicked; it was rolled back".into(),
                    )),
                },
            };
            let ok = res.is_ok();
            let reply: Reply = Box::new(move |commit: Result<()>| {
                let _ = tx.send(commit.and(res));
            });
            (ok, reply)
        });
        {
            let guard = self.inner.writer.lock().unwrap_or_else(|e| e.into_inner());
            let sender = guard
                .as_ref()
                .ok_or_else(|| StoreError::Backend("store is closed".into()))?;
            sender
                .send(job)
                .map_err(|_| StoreError::Backend("writer stopped".into()))?;
        }
        rx.await
            .map_err(|_| StoreError::Backend("writer stopped".into()))?
    }

    /// Runs a point read (a few index probes into small, hot tables, such as the token lookup
    /// every API request makes) on the calling thread when a reader is free at once, and like
    /// [`Self::read`] otherwise. Handing such a read to a blocking thread and back cost more
    /// than the read: two thread switches per request, a tenth of the server's time under a
    /// create load on one core (bench/RESULTS.md, S1). Only for reads of tens of microseconds:
    /// the calling async worker waits for it.
    pub(crate) async fn read_point<R: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<R> + Send + 'static,
    ) -> Result<R> {
        let permit = match self.inner.permits.try_acquire() {
            Ok(p) => p,
            Err(tokio::sync::TryAcquireError::NoPermits) => return self.read(f).await,
            Err(tokio::sync::TryAcquireError::Closed) => {
                return Err(StoreError::Backend("store is closed".into()))
            }
        };
        let res = self.inner.with_reader(f);
        drop(permit);
        res
    }

    /// Runs `f` on a pooled read-only connection.
    pub(crate) async fn read<R: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<R> + Send + 'static,
    ) -> Result<R> {
        let _permit = self
            .inner
            .permits
            .acquire()
            .await
            .map_err(|_| StoreError::Backend("store is closed".into()))?;
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || inner.with_reader(f))
            .await
            .map_err(|e| StoreError::Backend(e.to_string()))?
    }
}

impl Inner {
    /// Runs `f` on a pooled reader (the caller holds a permit, so one is free) and puts the
    /// reader back, also when `f` panicked.
    fn with_reader<R>(&self, f: impl FnOnce(&Connection) -> Result<R>) -> Result<R> {
        let conn = self
            .readers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop()
            .ok_or_else(|| StoreError::Backend("no reader".into()))?;
        let res = std::panic::catch_unwind(AssertUnwindSafe(|| f(&conn)))
            .unwrap_or_else(|_| Err(StoreError::Backend("a read panicked".into())));
        self.readers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(conn);
        res
    }
}

/// Runs one of the writer's transaction-control statements from the statement cache:
/// `execute_batch` parsed and planned each of them again, up to two per write and two per
/// batch, a noticeable share of a small write's cost.
fn control(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(|_| ())
}

fn writer_loop(conn: Connection, rx: mpsc::Receiver<WriteJob>) {
    let mut batch: Vec<WriteJob> = Vec::with_capacity(MAX_BATCH);
    let mut replies: Vec<Reply> = Vec::with_capacity(MAX_BATCH);
    while let Ok(first) = rx.recv() {
        batch.push(first);
        // Before starting, let the threads that are about to send their writes run: on a busy
        // core this turns many one-write commits into one commit of several. Yield again as
        // long as a yield brought more work; an idle machine pays one yield.
        let mut before_yield = 0;
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(j) => batch.push(j),
                Err(mpsc::TryRecvError::Empty) if batch.len() > before_yield => {
                    before_yield = batch.len();
                    std::thread::yield_now();
                }
                Err(_) => break,
            }
        }
        let began = control(&conn, "BEGIN IMMEDIATE").map_err(db);
        if let Err(e) = began {
            tracing::error!(error = %e, "BEGIN failed");
            for job in batch.drain(..) {
                let (_, reply) = job(None);
                reply(Err(StoreError::Backend(e.to_string())));
            }
            let _ = control(&conn, "ROLLBACK");
            continue;
        }
        // A batch of one needs no savepoint: a failing job rolls the transaction back. This
        // matters for big writes (a roll-up rebuild, an import batch): under an open savepoint
        // every page a statement first touches goes to the in-memory sub-journal, and each
        // statement's end walks that journal, so one large write grew quadratically (a 1M
        // ticket `tend metrics rebuild` spent 90 % of its time there).
        if batch.len() == 1 {
            let job = batch.pop().expect("one job");
            let (ok, reply) = job(Some(&conn));
            let done = if ok {
                control(&conn, "COMMIT").map_err(db)
            } else {
                let _ = control(&conn, "ROLLBACK");
                Ok(())
            };
            if let Err(e) = &done {
                tracing::error!(error = %e, "COMMIT failed");
                let _ = control(&conn, "ROLLBACK");
            }
            reply(done.map_err(|e| StoreError::Backend(format!("commit failed: {e}"))));
            continue;
        }
        for job in batch.drain(..) {
            if let Err(e) = control(&conn, "SAVEPOINT w") {
                let (_, reply) = job(None);
                reply(Err(db(e)));
                continue;
            }
            let (ok, reply) = job(Some(&conn));
            if !ok {
                let _ = control(&conn, "ROLLBACK TO w");
            }
            let _ = control(&conn, "RELEASE w");
            replies.push(reply);
        }
        let committed = control(&conn, "COMMIT").map_err(db);
        if let Err(e) = &committed {
            tracing::error!(error = %e, "COMMIT failed");
            let _ = control(&conn, "ROLLBACK");
        }
        for reply in replies.drain(..) {
            reply(match &committed {
                Ok(()) => Ok(()),
                Err(e) => Err(StoreError::Backend(format!("commit failed: {e}"))),
            });
        }
    }
}

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tend_core::import::ImportRecord;
use tend_core::ticket::Patch;
use tend_core::{Actor, Ticket, Viewer};
use tend_store::*;

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }
    async fn ping(&self) -> Result<()> {
        self.read(|c| c.query_row("SELECT 1", [], |_| Ok(())).map_err(db))
            .await
    }
    async fn create_agent(&self, new: NewAgent, actor: Actor, now: DateTime<Utc>) -> Result<Agent> {
        self.create_agent_impl(new, actor, now).await
    }
    async fn update_agent(
        &self,
        id: i64,
        up: AgentUpdate,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<Agent> {
        self.update_agent_impl(id, up, actor, now).await
    }
    async fn get_agent(&self, id: i64) -> Result<Agent> {
        self.get_agent_impl(id).await
    }
    async fn agent_by_email(&self, email: &str) -> Result<Option<Agent>> {
        self.agent_by_email_impl(email.to_string()).await
    }
    async fn agent_password_hash(&self, agent_id: i64) -> Result<Option<String>> {
        self.agent_password_hash_impl(agent_id).await
    }
    async fn list_agents(&self) -> Result<Vec<Agent>> {
        self.list_agents_impl().await
    }
    async fn create_group(&self, new: NewGroup, actor: Actor, now: DateTime<Utc>) -> Result<Group> {
        self.create_group_impl(new, actor, now).await
    }
    async fn get_group(&self, id: i64) -> Result<Group> {
        self.get_group_impl(id).await
    }
    async fn list_groups(&self) -> Result<Vec<Group>> {
        self.list_groups_impl().await
    }
    async fn set_group_members(
        &self,
        group_id: i64,
        agent_ids: Vec<i64>,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<Group> {
        self.set_group_members_impl(group_id, agent_ids, actor, now)
            .await
    }
    async fn create_token(
        &self,
        agent_id: i64,
        name: String,
        token_hash: Vec<u8>,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<TokenInfo> {
        self.create_token_impl(agent_id, name, token_hash, actor, now)
            .await
    }
    async fn viewer_by_token(&self, token_hash: &[u8]) -> Result<Option<Viewer>> {
        self.viewer_by_token_impl(token_hash.to_vec()).await
    }
    async fn create_saved_view(
        &self,
        new: NewSavedView,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<SavedView> {
        self.create_saved_view_impl(new, actor, now).await
    }
    async fn update_saved_view(
        &self,
        id: i64,
        new: NewSavedView,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<SavedView> {
        self.update_saved_view_impl(id, new, actor, now).await
    }
    async fn delete_saved_view(&self, id: i64, actor: Actor, now: DateTime<Utc>) -> Result<()> {
        self.delete_saved_view_impl(id, actor, now).await
    }
    async fn get_saved_view(&self, id: i64) -> Result<SavedView> {
        self.get_saved_view_impl(id).await
    }
    async fn list_saved_views(&self, agent_id: i64) -> Result<Vec<SavedView>> {
        self.list_saved_views_impl(agent_id).await
    }
    async fn create_password_reset(
        &self,
        agent_id: i64,
        token_hash: Vec<u8>,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.create_password_reset_impl(agent_id, token_hash, expires_at, now)
            .await
    }
    async fn password_reset_agent(
        &self,
        token_hash: &[u8],
        now: DateTime<Utc>,
    ) -> Result<Option<i64>> {
        self.password_reset_agent_impl(token_hash.to_vec(), now)
            .await
    }
    async fn redeem_password_reset(
        &self,
        token_hash: &[u8],
        password_hash: String,
        now: DateTime<Utc>,
    ) -> Result<Option<i64>> {
        self.redeem_password_reset_impl(token_hash.to_vec(), password_hash, now)
            .await
    }
    async fn create_customer_token(
        &self,
        customer_id: i64,
        session: bool,
        token_hash: Vec<u8>,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.write(move |c| {
            c.execute(
                "INSERT INTO customer_tokens(customer_id, kind, token_hash, expires_at, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                rusqlite::params![customer_id, if session { "session" } else { "magic" }, token_hash, expires_at.timestamp_micros(), now.timestamp_micros()],
            )
            .map(|_| ())
            .map_err(db)
        })
        .await
    }
    async fn redeem_magic_token(
        &self,
        token_hash: &[u8],
        now: DateTime<Utc>,
    ) -> Result<Option<i64>> {
        let h = token_hash.to_vec();
        self.write(move |c| {
            use rusqlite::OptionalExtension;
            c.query_row(
                "UPDATE customer_tokens SET used_at = ?2 WHERE token_hash = ?1 AND kind = 'magic' AND used_at IS NULL AND expires_at > ?2 RETURNING customer_id",
                rusqlite::params![h, now.timestamp_micros()],
                |r| r.get(0),
            )
            .optional()
            .map_err(db)
        })
        .await
    }
    async fn customer_by_session(
        &self,
        token_hash: &[u8],
        now: DateTime<Utc>,
    ) -> Result<Option<i64>> {
        let h = token_hash.to_vec();
        self.read(move |c| {
            use rusqlite::OptionalExtension;
            c.prepare_cached("SELECT customer_id FROM customer_tokens WHERE token_hash = ?1 AND kind = 'session' AND expires_at > ?2")
                .map_err(db)?
                .query_row(rusqlite::params![h, now.timestamp_micros()], |r| r.get(0))
                .optional()
                .map_err(db)
        })
        .await
    }
    async fn revoke_customer_token(&self, token_hash: &[u8]) -> Result<()> {
        let h = token_hash.to_vec();
        self.write(move |c| {
            c.execute("DELETE FROM customer_tokens WHERE token_hash = ?1", [h])
                .map(|_| ())
                .map_err(db)
        })
        .await
    }
    async fn get_setting(&self, key: &str) -> Result<Option<serde_json::Value>> {
        let key = key.to_string();
        self.read(move |c| {
            use rusqlite::OptionalExtension;
            let v: Option<String> = c
                .query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| {
                    r.get(0)
                })
                .optional()
                .map_err(db)?;
            v.map(|s| serde_json::from_str(&s).map_err(|e| StoreError::Backend(e.to_string())))
                .transpose()
        })
        .await
    }
    async fn put_setting(
        &self,
        key: &str,
        value: serde_json::Value,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let key = key.to_string();
        self.write(move |c| {
            c.execute(
                "INSERT INTO settings(key, value, updated_at) VALUES (?1, ?2, ?3) ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                rusqlite::params![key, value.to_string(), now.timestamp_micros()],
            )
            .map_err(db)?;
            if key == "sla" {
                // Every open ticket's clocks follow the new calendar and policies.
                jobs::schedule_restart(c, SLA_RECOMPUTE_KEY, &sla_recompute_job(0, now), now)?;
            }
            conv::audit(c, actor, "setting.changed", format!("setting:{key}"), value, now)
        })
        .await
    }
    async fn schedule_job(&self, key: &str, job: NewJob) -> Result<()> {
        self.schedule_job_impl(key.to_string(), job).await
    }
    async fn record_event(
        &self,
        ticket_id: i64,
        change: tend_core::Change,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<Event> {
        self.record_event_impl(ticket_id, change, actor, now).await
    }
    async fn create_macro(&self, new: NewMacro, actor: Actor, now: DateTime<Utc>) -> Result<Macro> {
        self.create_macro_impl(new, actor, now).await
    }
    async fn create_mailbox(
        &self,
        new: tend_store::mail::NewMailbox,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<tend_store::mail::Mailbox> {
        self.create_mailbox_impl(new, actor, now).await
    }
    async fn list_mailboxes(&self) -> Result<Vec<tend_store::mail::Mailbox>> {
        self.list_mailboxes_impl().await
    }
    // issue 4: mailbox admin
    async fn update_mailbox(
        &self,
        id: i64,
        up: tend_store::mail::MailboxUpdate,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<tend_store::mail::Mailbox> {
        self.update_mailbox_impl(id, up, actor, now).await
    }
    async fn mail_knowledge(
        &self,
        q: tend_store::mail::MailQuestion,
    ) -> Result<tend_store::mail::MailKnowledge> {
        self.mail_knowledge_impl(q).await
    }
    async fn deliver_mail(
        &self,
        d: tend_store::mail::MailDelivery,
        now: DateTime<Utc>,
    ) -> Result<tend_store::mail::MailDelivered> {
        self.deliver_mail_impl(d, now).await
    }
    async fn list_mail_intake(
        &self,
        outcome: Option<String>,
        page: PageRequest,
    ) -> Result<Page<tend_store::mail::IntakeEntry>> {
        self.list_mail_intake_impl(outcome, page).await
    }
    async fn raw_mail(&self, intake_id: i64) -> Result<Vec<u8>> {
        self.raw_mail_impl(intake_id).await
    }
    async fn get_mail_intake(&self, intake_id: i64) -> Result<tend_store::mail::IntakeEntry> {
        self.get_mail_intake_impl(intake_id).await
    }
    async fn resolve_intake(
        &self,
        intake_id: i64,
        outcome: &str,
        reason: &str,
        ticket_id: Option<i64>,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.resolve_intake_impl(
            intake_id,
            outcome.to_string(),
            reason.to_string(),
            ticket_id,
            actor,
            now,
        )
        .await
    }
    async fn outbound_context(&self, ticket_id: i64) -> Result<tend_store::mail::OutboundContext> {
        self.outbound_context_impl(ticket_id).await
    }
    async fn message_for_mail(&self, ticket_id: i64, message_id: i64) -> Result<Message> {
        self.message_for_mail_impl(ticket_id, message_id).await
    }
    async fn record_outbound_mail(
        &self,
        ticket_id: i64,
        message_row: Option<i64>,
        message_id: &str,
        references: &[String],
        meta: Option<tend_store::mail::MailMeta>,
    ) -> Result<()> {
        self.record_outbound_mail_impl(
            ticket_id,
            message_row,
            message_id.to_string(),
            references.to_vec(),
            meta,
        )
        .await
    }
    async fn imap_state(&self, mailbox_id: i64) -> Result<Option<(u32, u32)>> {
        self.imap_state_impl(mailbox_id).await
    }
    async fn create_survey(
        &self,
        new: tend_store::survey::NewSurvey,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<tend_store::survey::Survey> {
        self.create_survey_impl(new, actor, now).await
    }
    async fn list_surveys(&self) -> Result<Vec<tend_store::survey::Survey>> {
        self.list_surveys_impl().await
    }
    async fn get_survey(&self, id: i64) -> Result<tend_store::survey::Survey> {
        self.get_survey_impl(id).await
    }
    async fn survey_scan_cursor(&self) -> Result<Option<i64>> {
        self.survey_scan_cursor_impl().await
    }
    async fn advance_survey_scan(
        &self,
        from: i64,
        to: i64,
        sends: Vec<tend_store::survey::ScheduledSend>,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        self.advance_survey_scan_impl(from, to, sends, now).await
    }
    async fn open_survey_invitation(
        &self,
        new: tend_store::survey::NewInvitation,
        now: DateTime<Utc>,
    ) -> Result<tend_store::survey::InvitationOpened> {
        self.open_survey_invitation_impl(new, now).await
    }
    async fn survey_invitation_by_token(
        &self,
        token_hash: &[u8],
    ) -> Result<Option<tend_store::survey::InvitationView>> {
        self.survey_invitation_by_token_impl(token_hash.to_vec())
            .await
    }
    async fn record_survey_response(
        &self,
        key: tend_store::survey::InvitationKey,
        answer: tend_store::survey::SurveyAnswer,
        follow_up: Option<tend_store::survey::FollowUp>,
        now: DateTime<Utc>,
    ) -> Result<tend_store::survey::Answered> {
        self.record_survey_response_impl(key, answer, follow_up, now)
            .await
    }
    async fn relationship_candidates(
        &self,
        since: DateTime<Utc>,
        after_id: i64,
        limit: i64,
    ) -> Result<Vec<i64>> {
        self.relationship_candidates_impl(since, after_id, limit)
            .await
    }
    async fn customer_open_invitations(
        &self,
        customer_id: i64,
        now: DateTime<Utc>,
    ) -> Result<Vec<tend_store::survey::InvitationView>> {
        self.customer_open_invitations_impl(customer_id, now).await
    }
    async fn upsert_order(
        &self,
        new: tend_store::survey::NewOrder,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<tend_store::survey::OrderSaved> {
        self.upsert_order_impl(new, actor, now).await
    }
    async fn get_order(&self, id: i64) -> Result<tend_store::survey::Order> {
        self.get_order_impl(id).await
    }
    async fn customer_orders(
        &self,
        customer_id: i64,
        limit: i64,
    ) -> Result<Vec<tend_store::survey::Order>> {
        self.customer_orders_impl(customer_id, limit).await
    }
    async fn survey_invitation(
        &self,
        id: i64,
    ) -> Result<Option<tend_store::survey::InvitationView>> {
        self.survey_invitation_impl(id).await
    }
    async fn remind_survey_invitation(
        &self,
        id: i64,
        token_hash: Vec<u8>,
        now: DateTime<Utc>,
    ) -> Result<Option<tend_store::survey::InvitationView>> {
        self.remind_survey_invitation_impl(id, token_hash, now)
            .await
    }
    async fn survey_responses(
        &self,
        of: tend_store::survey::ResponsesOf,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<tend_store::survey::ResponseWithInvitation>> {
        self.survey_responses_impl(of, before, limit).await
    }
    async fn survey_at_risk(
        &self,
        since: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<tend_store::survey::AtRiskCustomer>> {
        self.survey_at_risk_impl(since, limit).await
    }
    async fn survey_counts(
        &self,
        q: tend_store::survey::ScoreQuery,
    ) -> Result<tend_store::survey::SurveyCounts> {
        self.survey_counts_impl(q).await
    }
    async fn create_survey_kiosk(
        &self,
        new: tend_store::survey::NewKiosk,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<tend_store::survey::SurveyKiosk> {
        self.create_survey_kiosk_impl(new, actor, now).await
    }
    async fn survey_kiosks(&self, survey_id: i64) -> Result<Vec<tend_store::survey::SurveyKiosk>> {
        self.survey_kiosks_impl(survey_id).await
    }
    async fn revoke_survey_kiosk(
        &self,
        survey_id: i64,
        kiosk_id: i64,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<tend_store::survey::SurveyKiosk> {
        self.revoke_survey_kiosk_impl(survey_id, kiosk_id, actor, now)
            .await
    }
    async fn survey_kiosk(&self, kiosk_id: i64) -> Result<Option<tend_store::survey::KioskView>> {
        self.survey_kiosk_impl(kiosk_id).await
    }
    async fn record_kiosk_answers(
        &self,
        kiosk_id: i64,
        answers: Vec<tend_store::survey::KioskAnswer>,
        now: DateTime<Utc>,
    ) -> Result<tend_store::survey::KioskBatch> {
        self.record_kiosk_answers_impl(kiosk_id, answers, now).await
    }
    async fn list_macros(&self, agent_id: i64) -> Result<Vec<Macro>> {
        self.list_macros_impl(agent_id).await
    }
    async fn get_macro(&self, id: i64, agent_id: i64) -> Result<Macro> {
        self.get_macro_impl(id, agent_id).await
    }
    async fn delete_macro(&self, id: i64, actor: Actor, now: DateTime<Utc>) -> Result<()> {
        self.delete_macro_impl(id, actor, now).await
    }
    async fn create_brand(
        &self,
        new: tend_store::brands::NewBrand,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<tend_store::brands::Brand> {
        self.create_brand_impl(new, actor, now).await
    }
    async fn update_brand(
        &self,
        id: i64,
        up: tend_store::brands::BrandUpdate,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<tend_store::brands::Brand> {
        self.update_brand_impl(id, up, actor, now).await
    }
    async fn get_brand(&self, id: i64) -> Result<tend_store::brands::Brand> {
        self.get_brand_impl(id).await
    }
    async fn list_brands(&self, include_archived: bool) -> Result<Vec<tend_store::brands::Brand>> {
        self.list_brands_impl(include_archived).await
    }
    async fn brand_by_slug(&self, slug: &str) -> Result<Option<tend_store::brands::Brand>> {
        self.brand_by_impl("slug", slug.to_string()).await
    }
    async fn brand_by_host(&self, host: &str) -> Result<Option<tend_store::brands::Brand>> {
        self.brand_by_impl("host", host.to_string()).await
    }
    async fn set_brand_logo(
        &self,
        id: i64,
        logo: Option<tend_store::brands::NewLogo>,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<tend_store::brands::Brand> {
        self.set_brand_logo_impl(id, logo, actor, now).await
    }
    async fn brand_logo(&self, id: i64) -> Result<Option<tend_store::brands::BrandLogo>> {
        self.brand_logo_impl(id).await
    }
    async fn revoke_token(&self, token_hash: &[u8]) -> Result<()> {
        let h = token_hash.to_vec();
        self.write(move |c| {
            c.execute("DELETE FROM api_tokens WHERE token_hash = ?1", [h])
                .map(|_| ())
                .map_err(db)
        })
        .await
    }
    async fn viewer(&self, agent_id: i64) -> Result<Viewer> {
        self.viewer_impl(agent_id).await
    }
    async fn create_organization(
        &self,
        new: NewOrganization,
        now: DateTime<Utc>,
    ) -> Result<Organization> {
        self.create_organization_impl(new, now).await
    }
    async fn update_organization(
        &self,
        id: i64,
        up: OrganizationUpdate,
        now: DateTime<Utc>,
    ) -> Result<Organization> {
        self.update_organization_impl(id, up, now).await
    }
    async fn get_organization(&self, id: i64) -> Result<Organization> {
        self.get_organization_impl(id).await
    }
    async fn list_organizations(&self, page: PageRequest) -> Result<Page<Organization>> {
        self.list_organizations_impl(page).await
    }
    async fn create_customer(&self, new: NewCustomer, now: DateTime<Utc>) -> Result<Customer> {
        self.create_customer_impl(new, now).await
    }
    async fn update_customer(
        &self,
        id: i64,
        up: CustomerUpdate,
        now: DateTime<Utc>,
    ) -> Result<Customer> {
        self.update_customer_impl(id, up, now).await
    }
    async fn get_customer(&self, id: i64) -> Result<Customer> {
        self.get_customer_impl(id).await
    }
    async fn customer_by_identity(
        &self,
        kind: IdentityKind,
        value: &str,
    ) -> Result<Option<Customer>> {
        self.customer_by_identity_impl(kind, value.to_string())
            .await
    }
    async fn list_customers(&self, q: CustomerQuery) -> Result<Page<Customer>> {
        self.list_customers_impl(q).await
    }
    async fn customer_timeline(
        &self,
        customer_id: i64,
        viewer: &Viewer,
        page: PageRequest,
    ) -> Result<Page<Event>> {
        self.customer_timeline_impl(customer_id, viewer.clone(), page)
            .await
    }
    async fn create_field_def(
        &self,
        new: NewFieldDef,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<FieldDef> {
        self.create_field_def_impl(new, actor, now).await
    }
    async fn list_field_defs(&self) -> Result<Vec<FieldDef>> {
        self.list_field_defs_impl().await
    }
    async fn create_ticket(
        &self,
        new: NewTicket,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<Created<Ticket>> {
        self.create_ticket_impl(new, actor, now).await
    }
    async fn get_ticket(&self, id: i64, viewer: &Viewer) -> Result<Ticket> {
        self.get_ticket_impl(id, viewer.clone()).await
    }
    async fn list_tickets(&self, q: &TicketQuery, viewer: &Viewer) -> Result<Page<Ticket>> {
        self.list_tickets_impl(q.clone(), viewer.clone()).await
    }
    async fn count_tickets(
        &self,
        q: &TicketQuery,
        viewer: &Viewer,
        at_most: Option<i64>,
    ) -> Result<i64> {
        self.count_tickets_impl(q.clone(), viewer.clone(), at_most)
            .await
    }
    async fn set_sla_due(&self, ticket_id: i64, due: Option<DateTime<Utc>>) -> Result<()> {
        self.set_sla_due_impl(ticket_id, due).await
    }
    // SLA bulk (issue 5): sla_bulk.rs
    async fn sla_clock_page(
        &self,
        after_id: i64,
        limit: i64,
    ) -> Result<Vec<tend_store::sla_bulk::SlaClockTicket>> {
        self.sla_clock_page_impl(after_id, limit).await
    }
    async fn set_sla_dues(&self, updates: Vec<tend_store::sla_bulk::SlaDueUpdate>) -> Result<()> {
        self.set_sla_dues_impl(updates).await
    }
    async fn schedule_sla_check(&self, ticket_id: i64, at: DateTime<Utc>) -> Result<()> {
        self.schedule_sla_check_impl(ticket_id, at).await
    }
    async fn sla_check_at(&self, ticket_id: i64) -> Result<Option<DateTime<Utc>>> {
        self.sla_check_at_impl(ticket_id).await
    }
    async fn claim_sla_checks(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        max: i64,
    ) -> Result<Vec<i64>> {
        self.claim_sla_checks_impl(now, lease_until, max).await
    }
    async fn finish_sla_check(
        &self,
        ticket_id: i64,
        lease_until: DateTime<Utc>,
        next: Option<DateTime<Utc>>,
    ) -> Result<()> {
        self.finish_sla_check_impl(ticket_id, lease_until, next)
            .await
    }
    async fn update_ticket(
        &self,
        id: i64,
        patch: Patch,
        viewer: &Viewer,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<Ticket> {
        self.update_ticket_impl(id, patch, viewer.clone(), actor, now)
            .await
    }
    async fn add_message(
        &self,
        ticket_id: i64,
        new: NewMessage,
        viewer: &Viewer,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<Message> {
        self.add_message_impl(ticket_id, new, viewer.clone(), actor, now)
            .await
    }
    async fn list_messages(&self, ticket_id: i64, viewer: &Viewer) -> Result<Vec<Message>> {
        self.list_messages_impl(ticket_id, viewer.clone()).await
    }
    async fn ticket_events(
        &self,
        ticket_id: i64,
        viewer: &Viewer,
        page: PageRequest,
    ) -> Result<Page<Event>> {
        self.ticket_events_impl(ticket_id, viewer.clone(), page)
            .await
    }
    async fn get_attachment(&self, id: i64, viewer: &Viewer) -> Result<(Attachment, Vec<u8>)> {
        self.get_attachment_impl(id, viewer.clone()).await
    }
    async fn list_tags(&self) -> Result<Vec<TagCount>> {
        self.list_tags_impl().await
    }
    async fn last_seq(&self) -> Result<i64> {
        self.read(|c| {
            c.query_row("SELECT COALESCE(MAX(seq), 0) FROM events", [], |r| r.get(0))
                .map_err(db)
        })
        .await
    }
    async fn events_since(&self, after: i64, limit: i64) -> Result<Vec<Event>> {
        self.events_since_impl(after, limit).await
    }
    async fn import(&self, batch: Vec<ImportRecord>, now: DateTime<Utc>) -> Result<ImportOutcome> {
        self.import_impl(batch, now).await
    }
    async fn create_webhook(
        &self,
        new: NewWebhook,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<Webhook> {
        self.create_webhook_impl(new, actor, now).await
    }
    async fn list_webhooks(&self) -> Result<Vec<Webhook>> {
        self.list_webhooks_impl().await
    }
    async fn get_webhook(&self, id: i64) -> Result<Webhook> {
        self.get_webhook_impl(id).await
    }
    async fn delete_webhook(&self, id: i64, actor: Actor, now: DateTime<Utc>) -> Result<()> {
        self.delete_webhook_impl(id, actor, now).await
    }
    async fn list_audit(&self, page: PageRequest) -> Result<Page<AuditEntry>> {
        self.list_audit_impl(page).await
    }
    async fn enqueue_job(&self, job: NewJob) -> Result<i64> {
        self.enqueue_job_impl(job).await
    }
    async fn lease_jobs(
        &self,
        worker: &str,
        now: DateTime<Utc>,
        lease: chrono::Duration,
        max: i64,
    ) -> Result<Vec<Job>> {
        self.lease_jobs_impl(worker.to_string(), now, lease, max)
            .await
    }
    async fn complete_job(&self, id: i64, worker: &str) -> Result<()> {
        self.complete_job_impl(id, worker.to_string()).await
    }
    async fn fail_job(
        &self,
        id: i64,
        worker: &str,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
    ) -> Result<()> {
        self.fail_job_impl(id, worker.to_string(), error.to_string(), retry_at)
            .await
    }
    async fn list_jobs(&self, state: JobState, limit: i64) -> Result<Vec<Job>> {
        self.list_jobs_impl(state, limit).await
    }
    async fn stats(&self) -> Result<Stats> {
        self.stats_impl().await
    }
    // --- metrics
    async fn metric_state(&self) -> Result<tend_store::metrics::MetricState> {
        self.metric_state_impl().await
    }
    async fn metric_histories(
        &self,
        ticket_ids: Vec<i64>,
    ) -> Result<Vec<tend_store::metrics::MetricHistory>> {
        self.metric_histories_impl(ticket_ids).await
    }
    async fn metric_histories_after(
        &self,
        after_id: i64,
        limit: i64,
    ) -> Result<Vec<tend_store::metrics::MetricHistory>> {
        self.metric_histories_after_impl(after_id, limit).await
    }
    async fn metric_apply(&self, batch: tend_store::metrics::MetricBatch) -> Result<bool> {
        self.metric_apply_impl(batch).await
    }
    async fn metric_rebuild_begin(&self) -> Result<tend_store::metrics::MetricState> {
        self.metric_rebuild_begin_impl().await
    }
    async fn metric_rebuild_write(
        &self,
        generation: i64,
        tickets: Vec<tend_store::metrics::TicketMetricRow>,
        rows: Vec<(tend_core::metrics::RowKey, tend_core::metrics::RollupCell)>,
    ) -> Result<()> {
        self.metric_rebuild_write_impl(generation, tickets, rows)
            .await
    }
    async fn metric_rebuild_finish(&self, generation: i64, last_seq: i64) -> Result<()> {
        self.metric_rebuild_finish_impl(generation, last_seq).await
    }
    async fn metric_rollups(
        &self,
        q: tend_store::metrics::RollupQuery,
    ) -> Result<Vec<tend_core::metrics::StoredRollup>> {
        self.metric_rollups_impl(q).await
    }
    async fn metric_open_before(
        &self,
        family: tend_core::report::Family,
        at: DateTime<Utc>,
    ) -> Result<Vec<(tend_core::metrics::Dimensions, i64)>> {
        self.metric_open_before_impl(family, at).await
    }
    async fn metric_created_by_hour(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<(DateTime<Utc>, i64)>> {
        self.metric_created_by_hour_impl(from, to).await
    }
    async fn list_targets(&self) -> Result<Vec<tend_store::metrics::Target>> {
        self.list_targets_impl().await
    }
    async fn get_target(&self, id: i64) -> Result<tend_store::metrics::Target> {
        self.get_target_impl(id).await
    }
    async fn create_target(
        &self,
        def: tend_core::targets::TargetDef,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<tend_store::metrics::Target> {
        self.save_target_impl(None, def, actor, now).await
    }
    async fn update_target(
        &self,
        id: i64,
        def: tend_core::targets::TargetDef,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<tend_store::metrics::Target> {
        self.save_target_impl(Some(id), def, actor, now).await
    }
    async fn delete_target(&self, id: i64, actor: Actor, now: DateTime<Utc>) -> Result<()> {
        self.delete_target_impl(id, actor, now).await
    }
    async fn list_triggers(&self) -> Result<Vec<tend_store::triggers::Trigger>> {
        self.list_triggers_impl().await
    }
    async fn get_trigger(&self, id: i64) -> Result<tend_store::triggers::Trigger> {
        self.get_trigger_impl(id).await
    }
    async fn create_trigger(
        &self,
        def: tend_core::automation::TriggerDef,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<tend_store::triggers::Trigger> {
        self.create_trigger_impl(def, actor, now).await
    }
    async fn update_trigger(
        &self,
        id: i64,
        def: tend_core::automation::TriggerDef,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<tend_store::triggers::Trigger> {
        self.update_trigger_impl(id, def, actor, now).await
    }
    async fn delete_trigger(&self, id: i64, actor: Actor, now: DateTime<Utc>) -> Result<()> {
        self.delete_trigger_impl(id, actor, now).await
    }
    async fn trigger_cursor(&self, ticket_id: i64) -> Result<Option<i64>> {
        self.trigger_cursor_impl(ticket_id).await
    }
    async fn advance_trigger_cursor(&self, ticket_id: i64, from: i64, to: i64) -> Result<bool> {
        self.advance_trigger_cursor_impl(ticket_id, from, to).await
    }
    async fn claim_automation_run(
        &self,
        automation_id: i64,
        ticket_id: i64,
        period: i64,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        self.claim_automation_run_impl(automation_id, ticket_id, period, now)
            .await
    }
    // --- escalation (issue 5; migration 0022)
    async fn group_lead(&self, group_id: i64) -> Result<Option<i64>> {
        self.group_lead_impl(group_id).await
    }
    async fn set_group_lead(
        &self,
        group_id: i64,
        agent_id: Option<i64>,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.set_group_lead_impl(group_id, agent_id, actor, now)
            .await
    }
    async fn agent_hours(
        &self,
        agent_id: i64,
    ) -> Result<Option<tend_store::escalation::AgentHours>> {
        self.agent_hours_impl(agent_id).await
    }
    async fn set_agent_hours(
        &self,
        agent_id: i64,
        calendar: Option<String>,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<Option<tend_store::escalation::AgentHours>> {
        self.set_agent_hours_impl(agent_id, calendar, actor, now)
            .await
    }
    async fn claim_digest(&self, key: &str, jobs: Vec<NewJob>, now: DateTime<Utc>) -> Result<bool> {
        self.claim_digest_impl(key.to_string(), jobs, now).await
    }
    async fn replace_keyed_job(
        &self,
        key: &str,
        job: Option<NewJob>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.replace_keyed_job_impl(key.to_string(), job, now).await
    }
    async fn metric_drill(
        &self,
        q: tend_store::metrics::DrillQuery,
    ) -> Result<Vec<tend_store::metrics::DrillRow>> {
        self.metric_drill_impl(q).await
    }
    async fn ops_counts(
        &self,
        now: DateTime<Utc>,
        soon: DateTime<Utc>,
    ) -> Result<tend_store::metrics::OpsCounts> {
        self.ops_counts_impl(now, soon).await
    }
    // --- knowledge base -------------------------------------------------------------------
    async fn kb_create_category(
        &self,
        new: tend_store::kb::NewKbCategory,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<tend_store::kb::KbCategory> {
        self.kb_create_category_impl(new, actor, now).await
    }
    async fn kb_update_category(
        &self,
        id: i64,
        up: tend_store::kb::KbGroupUpdate,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<tend_store::kb::KbCategory> {
        self.kb_update_category_impl(id, up, actor, now).await
    }
    async fn kb_delete_category(&self, id: i64, actor: Actor, now: DateTime<Utc>) -> Result<()> {
        self.kb_delete_category_impl(id, actor, now).await
    }
    async fn kb_get_category(&self, id: i64) -> Result<tend_store::kb::KbCategory> {
        self.kb_get_category_impl(id).await
    }
    async fn kb_list_categories(&self) -> Result<Vec<tend_store::kb::KbCategory>> {
        self.kb_list_categories_impl().await
    }
    async fn kb_create_section(
        &self,
        new: tend_store::kb::NewKbSection,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<tend_store::kb::KbSection> {
        self.kb_create_section_impl(new, actor, now).await
    }
    async fn kb_update_section(
        &self,
        id: i64,
        up: tend_store::kb::KbGroupUpdate,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<tend_store::kb::KbSection> {
        self.kb_update_section_impl(id, up, actor, now).await
    }
    async fn kb_delete_section(&self, id: i64, actor: Actor, now: DateTime<Utc>) -> Result<()> {
        self.kb_delete_section_impl(id, actor, now).await
    }
    async fn kb_get_section(&self, id: i64) -> Result<tend_store::kb::KbSection> {
        self.kb_get_section_impl(id).await
    }
    async fn kb_list_sections(
        &self,
        category_id: Option<i64>,
    ) -> Result<Vec<tend_store::kb::KbSection>> {
        self.kb_list_sections_impl(category_id).await
    }
    async fn kb_create_article(
        &self,
        new: tend_store::kb::NewKbArticle,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<tend_store::kb::KbArticleFull> {
        self.kb_create_article_impl(new, actor, now).await
    }
    async fn kb_update_article(
        &self,
        id: i64,
        up: tend_store::kb::KbArticleUpdate,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<tend_store::kb::KbArticle> {
        self.kb_update_article_impl(id, up, actor, now).await
    }
    async fn kb_delete_article(&self, id: i64, actor: Actor, now: DateTime<Utc>) -> Result<()> {
        self.kb_delete_article_impl(id, actor, now).await
    }
    async fn kb_get_article(&self, id: i64) -> Result<tend_store::kb::KbArticleFull> {
        self.kb_get_article_impl(id).await
    }
    async fn kb_list_articles(
        &self,
        q: tend_store::kb::KbArticleQuery,
    ) -> Result<Page<tend_store::kb::KbArticle>> {
        self.kb_list_articles_impl(q).await
    }
    async fn kb_save_translation(
        &self,
        article_id: i64,
        locale: &str,
        input: tend_store::kb::KbTranslationInput,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<tend_store::kb::KbTranslation> {
        self.kb_save_translation_impl(article_id, locale.to_string(), input, actor, now)
            .await
    }
    async fn kb_delete_translation(
        &self,
        article_id: i64,
        locale: &str,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.kb_delete_translation_impl(article_id, locale.to_string(), actor, now)
            .await
    }
    async fn kb_revisions(
        &self,
        article_id: i64,
        locale: &str,
    ) -> Result<Vec<tend_store::kb::KbRevision>> {
        self.kb_revisions_impl(article_id, locale.to_string()).await
    }
    async fn kb_revision(
        &self,
        article_id: i64,
        revision_id: i64,
    ) -> Result<tend_store::kb::KbRevision> {
        self.kb_revision_impl(article_id, revision_id).await
    }
    async fn kb_restore_revision(
        &self,
        article_id: i64,
        revision_id: i64,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<tend_store::kb::KbTranslation> {
        self.kb_restore_revision_impl(article_id, revision_id, actor, now)
            .await
    }
    async fn kb_add_feedback(
        &self,
        new: tend_store::kb::NewKbFeedback,
        now: DateTime<Utc>,
    ) -> Result<tend_store::kb::KbFeedback> {
        self.kb_add_feedback_impl(new, now).await
    }
    async fn kb_list_feedback(
        &self,
        article_id: i64,
        page: PageRequest,
    ) -> Result<Page<tend_store::kb::KbFeedback>> {
        self.kb_list_feedback_impl(article_id, page).await
    }
    async fn kb_record_view(&self, article_id: i64) -> Result<()> {
        self.kb_record_view_impl(article_id).await
    }
    async fn kb_add_attachment(
        &self,
        article_id: i64,
        file: NewAttachment,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<tend_store::kb::KbAttachment> {
        self.kb_add_attachment_impl(article_id, file, actor, now)
            .await
    }
    async fn kb_attachments(&self, article_id: i64) -> Result<Vec<tend_store::kb::KbAttachment>> {
        self.kb_attachments_impl(article_id).await
    }
    async fn kb_attachment(&self, id: i64) -> Result<(tend_store::kb::KbAttachment, Vec<u8>)> {
        self.kb_attachment_impl(id).await
    }
    async fn kb_live_counts(&self, now: DateTime<Utc>) -> Result<Vec<tend_store::kb::KbLiveCount>> {
        self.kb_live_counts_impl(now).await
    }
    async fn kb_changes_since(&self, after_seq: i64, limit: i64) -> Result<Vec<(i64, i64)>> {
        self.kb_changes_since_impl(after_seq, limit).await
    }
    async fn kb_article_for_index(
        &self,
        article_id: i64,
    ) -> Result<Option<tend_store::kb::KbArticleFull>> {
        self.kb_article_for_index_impl(article_id).await
    }
    async fn kb_article_ids(&self, after_id: i64, limit: i64) -> Result<Vec<i64>> {
        self.kb_article_ids_impl(after_id, limit).await
    }
    async fn kb_track(
        &self,
        ev: tend_store::kb_analytics::KbTrack,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.kb_track_impl(ev, now).await
    }
    async fn kb_deflect_suggested(
        &self,
        seen: tend_store::kb_analytics::SuggestSeen,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.kb_deflect_suggested_impl(seen, now).await
    }
    async fn kb_deflect_clicked(
        &self,
        session: &str,
        article_id: i64,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        self.kb_deflect_clicked_impl(session.to_string(), article_id, now)
            .await
    }
    async fn kb_customer_ticket(
        &self,
        source: &'static str,
        session: Option<String>,
        ticket_id: i64,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.kb_customer_ticket_impl(source, session, ticket_id, now)
            .await
    }
    async fn kb_deflect_session(
        &self,
        session: &str,
    ) -> Result<Option<tend_store::kb_analytics::DeflectSession>> {
        self.kb_deflect_session_impl(session.to_string()).await
    }
    async fn kb_auto_reply_issue(
        &self,
        ticket_id: i64,
        token_hash: Vec<u8>,
        article_ids: Vec<i64>,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        self.kb_auto_reply_issue_impl(ticket_id, token_hash, article_ids, now)
            .await
    }
    async fn kb_auto_reply_by_token(
        &self,
        token_hash: &[u8],
    ) -> Result<Option<tend_store::kb_analytics::AutoReply>> {
        self.kb_auto_reply_by_token_impl(token_hash.to_vec()).await
    }
    async fn kb_auto_reply_solve(
        &self,
        token_hash: &[u8],
        now: DateTime<Utc>,
    ) -> Result<tend_store::kb_analytics::AutoReplySolve> {
        self.kb_auto_reply_solve_impl(token_hash.to_vec(), now)
            .await
    }
    async fn kb_analytics(
        &self,
        q: tend_store::kb_analytics::KbAnalyticsQuery,
    ) -> Result<tend_store::kb_analytics::KbAnalyticsData> {
        self.kb_analytics_impl(q).await
    }
    // --- search feed
    // --- routing (issue 5; migration 0021)
    async fn agent_routing(&self, agent_id: i64) -> Result<tend_store::routing::AgentRouting> {
        self.agent_routing_impl(agent_id).await
    }
    async fn list_agent_routing(&self) -> Result<Vec<tend_store::routing::AgentRouting>> {
        self.list_agent_routing_impl().await
    }
    async fn set_agent_routing(
        &self,
        agent_id: i64,
        up: tend_store::routing::AgentRoutingUpdate,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<tend_store::routing::AgentRouting> {
        self.set_agent_routing_impl(agent_id, up, actor, now).await
    }
    async fn group_routing(&self, group_id: i64) -> Result<tend_store::routing::GroupRouting> {
        self.group_routing_impl(group_id).await
    }
    async fn list_group_routing(&self) -> Result<Vec<tend_store::routing::GroupRouting>> {
        self.list_group_routing_impl().await
    }
    async fn set_group_routing(
        &self,
        group_id: i64,
        up: tend_store::routing::GroupRoutingUpdate,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<tend_store::routing::GroupRouting> {
        self.set_group_routing_impl(group_id, up, actor, now).await
    }
    async fn routing_context(
        &self,
        ticket_id: i64,
    ) -> Result<Option<tend_store::routing::RoutingContext>> {
        self.routing_context_impl(ticket_id).await
    }
    async fn routing_waiting(&self, after_id: i64, limit: i64) -> Result<Vec<i64>> {
        self.routing_waiting_impl(after_id, limit).await
    }
    async fn routing_assign(
        &self,
        a: tend_store::routing::Assign,
        now: DateTime<Utc>,
    ) -> Result<tend_store::routing::Assigned> {
        self.routing_assign_impl(a, now).await
    }
    async fn routing_release(
        &self,
        agent_id: i64,
        limit: i64,
        now: DateTime<Utc>,
    ) -> Result<tend_store::routing::Released> {
        self.routing_release_impl(agent_id, limit, now).await
    }
    async fn tickets_for_index(
        &self,
        after_id: i64,
        limit: i64,
    ) -> Result<Vec<(Ticket, Vec<String>)>> {
        self.tickets_for_index_impl(after_id, limit).await
    }
    async fn tickets_for_index_by_id(&self, ids: Vec<i64>) -> Result<Vec<(Ticket, Vec<String>)>> {
        self.tickets_for_index_by_id_impl(ids).await
    }
}
