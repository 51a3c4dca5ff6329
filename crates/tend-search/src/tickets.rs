//! The ticket index: one document per ticket (subject, every message body including
//! internal notes, tags), searched by agents within what they may open.

use crate::analysis::Lang;
use crate::highlight::{snippet, Highlighter};
use crate::part::{err, Part, Result};
use crate::query::{self, any_i64, any_str, filter, term_i64, Analyzed, FieldSpec, Mode};
use crate::{page, SearchHit, SearchResults};
use std::path::Path;
use std::sync::Arc;
use tantivy::collector::{Count, TopDocs};
use tantivy::query::{BooleanQuery, Occur, Query};
use tantivy::schema::{
    Field, IndexRecordOption, Schema, TextFieldIndexing, TextOptions, Value, FAST, INDEXED, STORED,
    STRING,
};
use tantivy::{TantivyDocument, Term};
use tend_core::Viewer;

/// Message text indexed (and stored for snippets) per ticket; the rest is ignored.
pub const MAX_BODY_BYTES: usize = 256 * 1024;
const MAX_SUBJECT_BYTES: usize = 4 * 1024;

/// What the index knows of a ticket. Texts are plain (no HTML).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TicketDoc {
    pub ticket_id: i64,
    pub group_id: Option<i64>,
    /// Agents also see tickets assigned to them (the rule of `Viewer::can_see`).
    pub assignee_id: Option<i64>,
    pub customer_id: Option<i64>,
    pub organization_id: Option<i64>,
    pub status: String,
    pub subject: String,
    /// Message bodies, oldest first, internal notes included.
    pub messages: Vec<String>,
    pub tags: Vec<String>,
    /// Unix seconds.
    pub updated_at: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub enum TicketOp {
    Upsert(TicketDoc),
    Delete(i64),
}

/// A ticket search. `allowed_groups: None` means every ticket (admins, supervisors);
/// `Some(groups)` limits hits to tickets in those groups or assigned to `assigned_to`.
#[derive(Debug, Clone, PartialEq)]
pub struct TicketQuery {
    pub text: String,
    pub allowed_groups: Option<Vec<i64>>,
    pub assigned_to: Option<i64>,
    /// Only these statuses (empty: all).
    pub statuses: Vec<String>,
    pub customer_id: Option<i64>,
    pub limit: usize,
    pub offset: usize,
}

impl TicketQuery {
    pub fn new(text: impl Into<String>) -> TicketQuery {
        TicketQuery {
            text: text.into(),
            allowed_groups: None,
            assigned_to: None,
            statuses: Vec::new(),
            customer_id: None,
            limit: 25,
            offset: 0,
        }
    }

    /// Limits the search to what `v` may open (the rule of [`Viewer::can_see`]: everything
    /// for admins and supervisors; an agent's groups and their own assignments otherwise).
    pub fn visible_to(mut self, v: &Viewer) -> TicketQuery {
        if v.sees_all() {
            self.allowed_groups = None;
            self.assigned_to = None;
        } else {
            self.allowed_groups = Some(v.group_ids.clone());
            self.assigned_to = Some(v.agent_id);
        }
        self
    }
}

struct Fields {
    ticket_id: Field,
    group_id: Field,
    assignee_id: Field,
    customer_id: Field,
    organization_id: Field,
    status: Field,
    updated_at: Field,
    subject: Field,
    body: Field,
    tags: Field,
}

pub(crate) fn text_options(tokenizer: &str, stored: bool) -> TextOptions {
    let o = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(tokenizer)
            .set_index_option(IndexRecordOption::WithFreqsAndPositions),
    );
    if stored {
        o.set_stored()
    } else {
        o
    }
}

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let f = Fields {
        ticket_id: b.add_i64_field("ticket_id", INDEXED | STORED | FAST),
        group_id: b.add_i64_field("group_id", INDEXED),
        assignee_id: b.add_i64_field("assignee_id", INDEXED),
        customer_id: b.add_i64_field("customer_id", INDEXED),
        organization_id: b.add_i64_field("organization_id", INDEXED),
        status: b.add_text_field("status", STRING | STORED),
        updated_at: b.add_i64_field("updated_at", STORED | FAST),
        subject: b.add_text_field("subject", text_options(Lang::En.tokenizer(), true)),
        body: b.add_text_field("body", text_options(Lang::En.tokenizer(), true)),
        tags: b.add_text_field("tags", text_options(Lang::Other.tokenizer(), false)),
    };
    (b.build(), f)
}

pub(crate) fn cut(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut i = max;
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    &s[..i]
}

struct Inner {
    part: Part,
    f: Fields,
}

/// The ticket index. Cheap to clone; every method blocks (use `spawn_blocking`).
#[derive(Clone)]
pub struct TicketIndex {
    inner: Arc<Inner>,
}

impl TicketIndex {
    pub(crate) fn open(dir: Option<&Path>, threads: usize, memory: usize) -> Result<TicketIndex> {
        let (schema, f) = schema();
        let part = Part::open("tickets", dir, schema, threads, memory, false)?;
        Ok(TicketIndex {
            inner: Arc::new(Inner { part, f }),
        })
    }

    /// The last sequence number applied (0: empty or needs a rebuild).
    pub fn checkpoint(&self) -> i64 {
        self.inner.part.checkpoint()
    }

    /// Documents in the index (committed).
    pub fn num_docs(&self) -> u64 {
        self.inner.part.num_docs()
    }

    fn doc(&self, t: &TicketDoc) -> TantivyDocument {
        let f = &self.inner.f;
        let mut d = TantivyDocument::default();
        d.add_i64(f.ticket_id, t.ticket_id);
        for (field, v) in [
            (f.group_id, t.group_id),
            (f.assignee_id, t.assignee_id),
            (f.customer_id, t.customer_id),
            (f.organization_id, t.organization_id),
        ] {
            if let Some(v) = v {
                d.add_i64(field, v);
            }
        }
        d.add_text(f.status, &t.status);
        d.add_i64(f.updated_at, t.updated_at);
        d.add_text(f.subject, cut(&t.subject, MAX_SUBJECT_BYTES));
        let mut body = String::new();
        for m in &t.messages {
            if body.len() >= MAX_BODY_BYTES {
                break;
            }
            if !body.is_empty() {
                body.push_str("\n\n");
            }
            body.push_str(cut(m, MAX_BODY_BYTES - body.len().min(MAX_BODY_BYTES)));
        }
        d.add_text(f.body, cut(&body, MAX_BODY_BYTES));
        if !t.tags.is_empty() {
            d.add_text(f.tags, t.tags.join(" "));
        }
        d
    }

    fn run(&self, w: &tantivy::IndexWriter<TantivyDocument>, op: TicketOp) -> Result<()> {
        let f = &self.inner.f;
        match op {
            TicketOp::Upsert(t) => {
                w.delete_term(Term::from_field_i64(f.ticket_id, t.ticket_id));
                w.add_document(self.doc(&t)).map_err(err("tickets"))?;
            }
            TicketOp::Delete(id) => {
                w.delete_term(Term::from_field_i64(f.ticket_id, id));
            }
        }
        Ok(())
    }

    /// Applies `ops` in order and commits them with `upto_seq` as the checkpoint, atomically:
    /// after a crash the index has all of them or none. A search right after sees them.
    pub fn apply(&self, ops: impl IntoIterator<Item = TicketOp>, upto_seq: i64) -> Result<()> {
        self.inner.part.apply(upto_seq, |w| {
            for op in ops {
                self.run(w, op)?;
            }
            Ok(())
        })
    }

    /// Adds `ops` to `batch` without committing them: a catch-up that spans many store reads
    /// loads and adds its tickets a chunk at a time and commits once
    /// ([`TicketIndex::commit_batch`]), so the tickets of only one chunk are in memory and
    /// the index gets one segment per catch-up instead of one per chunk. Nothing is
    /// searchable or durable before the commit. Fails with `Rebuilding` (the batch is then
    /// void: start over from the checkpoint) when a rebuild or an `apply` came in between.
    pub fn stage(
        &self,
        batch: &mut TicketBatch,
        ops: impl IntoIterator<Item = TicketOp>,
    ) -> Result<()> {
        self.inner.part.stage(&mut batch.0, |w| {
            for op in ops {
                self.run(w, op)?;
            }
            Ok(())
        })
    }

    /// Commits what `batch` staged, all or nothing, with `upto_seq` as the checkpoint.
    pub fn commit_batch(&self, batch: TicketBatch, upto_seq: i64) -> Result<()> {
        self.inner.part.commit_staged(batch.0, upto_seq)
    }

    /// Starts a full rebuild: the index is emptied and refilled through the returned handle;
    /// searches see the old contents until [`TicketRebuild::finish`] commits the new ones.
    /// Dropping the handle unfinished rolls everything back. `apply` fails meanwhile.
    pub fn rebuild_begin(&self) -> Result<TicketRebuild> {
        self.inner.part.rebuild_begin()?;
        Ok(TicketRebuild {
            ix: self.clone(),
            done: false,
            added: 0,
        })
    }

    /// Ranked search; see [`crate::query`] for how text is read.
    pub fn search(&self, q: &TicketQuery) -> Result<SearchResults> {
        let f = &self.inner.f;
        let parsed = query::parse(&q.text);
        if parsed.is_empty() {
            return Ok(SearchResults::default());
        }
        let mut a = Analyzed::default();
        let searcher = self.inner.part.searcher();
        let specs = [
            FieldSpec {
                field: f.subject,
                lang: Lang::En,
                boost: 2.0,
            },
            FieldSpec {
                field: f.body,
                lang: Lang::En,
                boost: 1.0,
            },
            FieldSpec {
                field: f.tags,
                lang: Lang::Other,
                boost: 1.5,
            },
        ];
        let Some(text) = query::text_query(
            &parsed,
            &specs,
            Mode::All,
            Some(query::TICKET_VARIANTS_BELOW),
            &mut a,
            &searcher,
        ) else {
            return Ok(SearchResults::default());
        };
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = vec![(Occur::Must, text)];
        if let Some(groups) = &q.allowed_groups {
            let mut allowed: Vec<Box<dyn Query>> = Vec::new();
            if !groups.is_empty() {
                allowed.push(any_i64(f.group_id, groups));
            }
            if let Some(agent) = q.assigned_to {
                allowed.push(term_i64(f.assignee_id, agent));
            }
            match allowed.len() {
                0 => return Ok(SearchResults::default()),
                1 => clauses.push(filter(allowed.remove(0))),
                _ => clauses.push(filter(Box::new(BooleanQuery::union(allowed)))),
            }
        }
        if !q.statuses.is_empty() {
            clauses.push(filter(any_str(f.status, &q.statuses)));
        }
        if let Some(c) = q.customer_id {
            clauses.push(filter(term_i64(f.customer_id, c)));
        }
        let query = BooleanQuery::new(clauses);
        let Some((limit, offset)) = page(q.limit, q.offset) else {
            let total = searcher.search(&query, &Count).map_err(err("tickets"))?;
            return Ok(SearchResults {
                hits: Vec::new(),
                total,
            });
        };
        // Two passes are faster than one: the top-k pass can skip blocks that cannot make
        // the page (block-max WAND), and the count pass needs no scores.
        let top = searcher
            .search(
                &query,
                &TopDocs::with_limit(limit)
                    .and_offset(offset)
                    .order_by_score(),
            )
            .map_err(err("tickets"))?;
        let total = searcher.search(&query, &Count).map_err(err("tickets"))?;
        let h = Highlighter::new(&parsed, Lang::En, &mut a);
        let mut marker = crate::highlight::Marker::new(Lang::En);
        let mut hits = Vec::with_capacity(top.len());
        for (score, addr) in top {
            let d: TantivyDocument = searcher.doc(addr).map_err(err("tickets"))?;
            let s = |field| {
                d.get_first(field)
                    .and_then(|v| v.as_str())
                    .unwrap_or("")
                    .to_string()
            };
            let Some(id) = d.get_first(f.ticket_id).and_then(|v| v.as_i64()) else {
                continue;
            };
            hits.push(SearchHit {
                id,
                locale: None,
                status: Some(s(f.status)),
                score,
                title: s(f.subject),
                snippet: snippet(&s(f.body), &mut marker, &h),
            });
        }
        Ok(SearchResults { hits, total })
    }
}

/// Operations staged for one commit ([`TicketIndex::stage`]).
#[derive(Debug, Default)]
pub struct TicketBatch(crate::part::Staged);

/// A running rebuild of the ticket index (see [`TicketIndex::rebuild_begin`]).
pub struct TicketRebuild {
    ix: TicketIndex,
    done: bool,
    added: u64,
}

impl TicketRebuild {
    /// Adds documents (not visible until `finish`). Tantivy flushes segments to disk when
    /// the writer's memory budget fills, so memory stays bounded.
    pub fn add(&mut self, docs: impl IntoIterator<Item = TicketDoc>) -> Result<()> {
        let ix = self.ix.clone();
        let mut n = 0;
        ix.inner.part.rebuild_add(|w| {
            for d in docs {
                w.add_document(ix.doc(&d)).map_err(err("tickets"))?;
                n += 1;
            }
            Ok(())
        })?;
        self.added += n;
        Ok(())
    }

    /// Commits the rebuilt index with `upto_seq` as its checkpoint; returns documents added.
    pub fn finish(mut self, upto_seq: i64) -> Result<u64> {
        self.done = true;
        self.ix.inner.part.rebuild_finish(upto_seq)?;
        Ok(self.added)
    }
}

impl Drop for TicketRebuild {
    fn drop(&mut self) {
        if !self.done {
            self.ix.inner.part.rebuild_abort();
        }
    }
}
