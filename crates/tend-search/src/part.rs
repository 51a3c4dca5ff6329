//! One tantivy index with its writer, its reader and its checkpoint.
//!
//! The checkpoint (the last applied sequence number) lives in the commit payload, so it is
//! exactly as durable as the documents: tantivy writes `meta.json` atomically on commit, and
//! after a kill -9 the index is at its last commit with that commit's checkpoint.

use crate::SearchError;
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Mutex, MutexGuard};
use tantivy::directory::MmapDirectory;
use tantivy::schema::Schema;
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, Searcher, TantivyDocument};

/// Bumped when analyzers or field meanings change without a schema change: an index
/// written by another version reads as checkpoint 0 (rebuild).
pub(crate) const FORMAT_VERSION: u32 = 1;

#[derive(Serialize, Deserialize)]
struct Payload {
    seq: i64,
    v: u32,
}

struct WriterState {
    /// Opened at the first write when the part is lazy (see [`Part::open`]).
    writer: Option<IndexWriter<TantivyDocument>>,
    rebuilding: bool,
    /// The number of the staged batch whose operations are in the writer, not yet committed.
    /// Cleared when they are dropped (rolled back), so that the batch's owner finds out before
    /// it commits the rest under a checkpoint that would skip what was dropped.
    live: Option<u64>,
    /// The last batch number handed out.
    batches: u64,
}

/// A batch of operations added over several calls and committed once
/// ([`Part::stage`], [`Part::commit_staged`]).
#[derive(Debug, Default)]
pub(crate) struct Staged {
    number: Option<u64>,
}

pub(crate) struct Part {
    pub name: &'static str,
    index: Index,
    threads: usize,
    memory: usize,
    reader: IndexReader,
    state: Mutex<WriterState>,
    checkpoint: AtomicI64,
}

pub(crate) type Result<T> = std::result::Result<T, SearchError>;

pub(crate) fn err(name: &'static str) -> impl Fn(tantivy::TantivyError) -> SearchError {
    move |e| match e {
        tantivy::TantivyError::LockFailure(_, _) => SearchError::Locked(name),
        e => SearchError::Index(name, e.to_string()),
    }
}

fn open_index(name: &'static str, dir: Option<&Path>, schema: &Schema) -> Result<Index> {
    let Some(dir) = dir else {
        return Ok(Index::create_in_ram(schema.clone()));
    };
    std::fs::create_dir_all(dir).map_err(|e| SearchError::Io(format!("{}: {e}", dir.display())))?;
    let open = || -> tantivy::Result<Index> {
        let d = MmapDirectory::open(dir)?;
        Index::open_or_create(d, schema.clone())
    };
    match open() {
        Ok(i) => Ok(i),
        Err(e) if dir.join("meta.json").exists() => {
            // A derived index from another version (or damaged): start it over; the caller
            // sees checkpoint 0 and rebuilds it from the store.
            tracing::warn!(index = name, dir = %dir.display(), error = %e, "search index unusable; recreating it empty");
            std::fs::remove_dir_all(dir)
                .and_then(|_| std::fs::create_dir_all(dir))
                .map_err(|e| SearchError::Io(format!("{}: {e}", dir.display())))?;
            let d = MmapDirectory::open(dir).map_err(|e| SearchError::Io(e.to_string()))?;
            Index::open_or_create(d, schema.clone()).map_err(err(name))
        }
        Err(e) => Err(err(name)(e)),
    }
}

fn new_writer(
    name: &'static str,
    index: &Index,
    threads: usize,
    memory: usize,
) -> Result<IndexWriter<TantivyDocument>> {
    // As many merge threads as indexing threads (tantivy's default is four): every thread
    // keeps a stack and, with glibc, memory it freed (bench/RESULTS.md, S6).
    index
        .writer_with_options(
            tantivy::indexer::IndexWriterOptions::builder()
                .num_worker_threads(threads)
                .memory_budget_per_thread(memory / threads)
                .num_merge_threads(threads)
                .build(),
        )
        .map_err(err(name))
}

impl Part {
    /// Opens the index. Its writer (which takes the directory's write lock, two threads and
    /// ~2.5 MB for tantivy's document queue even when idle) opens here, or with `lazy` at the
    /// first write: the help-center index of a server whose articles do not change never
    /// needs one.
    pub fn open(
        name: &'static str,
        dir: Option<&Path>,
        schema: Schema,
        threads: usize,
        memory: usize,
        lazy: bool,
    ) -> Result<Part> {
        let index = open_index(name, dir, &schema)?;
        crate::analysis::register(index.tokenizers());
        let threads = threads.clamp(1, 8);
        let memory = memory.max(threads * 20_000_000);
        let writer = if lazy {
            None
        } else {
            Some(new_writer(name, &index, threads, memory)?)
        };
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .map_err(err(name))?;
        let payload = index.load_metas().map_err(err(name))?.payload;
        let checkpoint = payload
            .as_deref()
            .and_then(|p| serde_json::from_str::<Payload>(p).ok())
            .filter(|p| p.v == FORMAT_VERSION)
            .map(|p| p.seq)
            .unwrap_or(0);
        Ok(Part {
            name,
            index,
            threads,
            memory,
            reader,
            state: Mutex::new(WriterState {
                writer,
                rebuilding: false,
                live: None,
                batches: 0,
            }),
            checkpoint: AtomicI64::new(checkpoint),
        })
    }

    /// The writer, opened now if it is not yet.
    fn writer<'a>(&self, st: &'a mut WriterState) -> Result<&'a mut IndexWriter<TantivyDocument>> {
        let w = match st.writer.take() {
            Some(w) => w,
            None => new_writer(self.name, &self.index, self.threads, self.memory)?,
        };
        Ok(st.writer.insert(w))
    }

    fn rollback(st: &mut WriterState) {
        if let Some(w) = st.writer.as_mut() {
            let _ = w.rollback();
        }
    }

    fn lock(&self) -> MutexGuard<'_, WriterState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn checkpoint(&self) -> i64 {
        self.checkpoint.load(Ordering::SeqCst)
    }

    pub fn searcher(&self) -> Searcher {
        self.reader.searcher()
    }

    fn commit(&self, st: &mut WriterState, upto_seq: i64) -> Result<()> {
        let payload = serde_json::to_string(&Payload {
            seq: upto_seq,
            v: FORMAT_VERSION,
        })
        .unwrap_or_default();
        let res = self.writer(st)?.prepare_commit().and_then(|mut pc| {
            pc.set_payload(&payload);
            pc.commit()
        });
        if let Err(e) = res {
            Self::rollback(st);
            return Err(err(self.name)(e));
        }
        self.checkpoint.store(upto_seq, Ordering::SeqCst);
        self.reader.reload().map_err(err(self.name))
    }

    /// Drops uncommitted staged operations, if any (their owner's commit will fail).
    fn drop_staged(st: &mut WriterState) {
        if st.live.take().is_some() {
            Self::rollback(st);
        }
    }

    /// Fails with `Rebuilding` unless `batch`, if started, is the live one.
    fn check_live(&self, st: &WriterState, batch: &Staged) -> Result<()> {
        match batch.number {
            Some(n) if st.live != Some(n) => Err(SearchError::Rebuilding(self.name)),
            _ => Ok(()),
        }
    }

    /// Runs `ops` on the writer and commits them with `upto_seq` as the new checkpoint, all or
    /// nothing. Fails with `Rebuilding` while a rebuild holds the index.
    pub fn apply(
        &self,
        upto_seq: i64,
        ops: impl FnOnce(&IndexWriter<TantivyDocument>) -> Result<()>,
    ) -> Result<()> {
        let mut st = self.lock();
        if st.rebuilding {
            return Err(SearchError::Rebuilding(self.name));
        }
        Self::drop_staged(&mut st);
        if let Err(e) = ops(self.writer(&mut st)?) {
            Self::rollback(&mut st);
            return Err(e);
        }
        self.commit(&mut st, upto_seq)
    }

    /// Adds `ops` to the staged batch `batch` without committing (the first call starts the
    /// batch, dropping whatever another, abandoned batch left). Nothing is searchable or
    /// durable before [`Part::commit_staged`]. Fails with `Rebuilding` — and the batch is
    /// void — when a rebuild began or an operation failed since the batch started.
    pub fn stage(
        &self,
        batch: &mut Staged,
        ops: impl FnOnce(&IndexWriter<TantivyDocument>) -> Result<()>,
    ) -> Result<()> {
        let mut st = self.lock();
        if st.rebuilding {
            return Err(SearchError::Rebuilding(self.name));
        }
        self.check_live(&st, batch)?;
        if batch.number.is_none() {
            Self::drop_staged(&mut st);
            st.batches += 1;
            st.live = Some(st.batches);
            batch.number = st.live;
        }
        if let Err(e) = ops(self.writer(&mut st)?) {
            Self::drop_staged(&mut st);
            return Err(e);
        }
        Ok(())
    }

    /// Commits the staged batch with `upto_seq` as the new checkpoint (a batch with nothing
    /// staged commits just the checkpoint). Fails with `Rebuilding` when the batch is void.
    pub fn commit_staged(&self, batch: Staged, upto_seq: i64) -> Result<()> {
        let mut st = self.lock();
        if st.rebuilding {
            return Err(SearchError::Rebuilding(self.name));
        }
        self.check_live(&st, &batch)?;
        if batch.number.is_none() {
            Self::drop_staged(&mut st);
        }
        st.live = None;
        self.commit(&mut st, upto_seq)
    }

    /// Starts a rebuild: every document is deleted (not yet committed: searches keep seeing
    /// the old index until `rebuild_finish`).
    pub fn rebuild_begin(&self) -> Result<()> {
        let mut st = self.lock();
        if st.rebuilding {
            return Err(SearchError::Rebuilding(self.name));
        }
        Self::drop_staged(&mut st);
        self.writer(&mut st)?
            .delete_all_documents()
            .map_err(err(self.name))?;
        st.rebuilding = true;
        Ok(())
    }

    pub fn rebuild_add(
        &self,
        ops: impl FnOnce(&IndexWriter<TantivyDocument>) -> Result<()>,
    ) -> Result<()> {
        let mut st = self.lock();
        if !st.rebuilding {
            return Err(SearchError::Index(
                self.name,
                "no rebuild is running".into(),
            ));
        }
        ops(self.writer(&mut st)?)
    }

    pub fn rebuild_finish(&self, upto_seq: i64) -> Result<()> {
        let mut st = self.lock();
        if !st.rebuilding {
            return Err(SearchError::Index(
                self.name,
                "no rebuild is running".into(),
            ));
        }
        st.rebuilding = false;
        self.commit(&mut st, upto_seq)
    }

    pub fn rebuild_abort(&self) {
        let mut st = self.lock();
        if st.rebuilding {
            Self::rollback(&mut st);
            st.rebuilding = false;
        }
    }

    pub fn num_docs(&self) -> u64 {
        self.searcher().num_docs()
    }
}
