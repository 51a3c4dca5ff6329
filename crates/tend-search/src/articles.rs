//! The help-center index: one document per (article, locale), with title and body analyzed
//! by the locale's language (stemmed for en, de, fr, es, it, nl, pt; folded otherwise).

use crate::analysis::{normalize_locale, Lang};
use crate::highlight::{snippet, Highlighter};
use crate::part::{err, Part, Result};
use crate::query::{self, filter, term_i64, term_str, term_u64, Analyzed, FieldSpec, Mode};
use crate::tickets::{cut, text_options};
use crate::{page, SearchHit, SearchResults};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use tantivy::collector::{Count, TopDocs};
use tantivy::query::{BooleanQuery, Occur, Query};
use tantivy::schema::{Field, Schema, Value, FAST, INDEXED, STORED, STRING};
use tantivy::{TantivyDocument, Term};

const MAX_TITLE_BYTES: usize = 4 * 1024;
const MAX_ARTICLE_BYTES: usize = 512 * 1024;

/// One translation of an article, as the index needs it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ArticleDoc {
    pub article_id: i64,
    /// BCP 47, e.g. "en", "de-CH"; its primary subtag picks the analyzer.
    pub locale: String,
    pub title: String,
    /// Plain text (see [`crate::html_to_text`]).
    pub body_text: String,
    pub tags: Vec<String>,
    pub category_id: Option<i64>,
    pub section_id: Option<i64>,
    pub brand_id: Option<i64>,
    /// Visible without signing in (false: internal, agents only).
    pub public: bool,
    pub published: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ArticleOp {
    /// Adds or replaces the translation (article_id, locale).
    Upsert(ArticleDoc),
    /// Removes every translation of an article.
    Delete { article_id: i64 },
    /// Removes one translation.
    DeleteLocale { article_id: i64, locale: String },
}

/// A help-center search.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct KbQuery {
    pub text: String,
    /// "de" matches every German translation (de, de-CH, …); "de-CH" only that one. The
    /// query is then analyzed as that language. None: every language.
    pub locale: Option<String>,
    pub category_id: Option<i64>,
    pub section_id: Option<i64>,
    pub brand_id: Option<i64>,
    pub public_only: bool,
    pub published_only: bool,
    pub limit: usize,
    pub offset: usize,
}

impl KbQuery {
    pub fn new(text: impl Into<String>) -> KbQuery {
        KbQuery {
            text: text.into(),
            limit: 10,
            ..KbQuery::default()
        }
    }
}

struct Fields {
    key: Field,
    article_id: Field,
    locale: Field,
    lang: Field,
    title: Field,
    body: Field,
    per_lang: Vec<(Lang, Field, Field)>,
    tags: Field,
    category_id: Field,
    section_id: Field,
    brand_id: Field,
    public: Field,
    published: Field,
}

impl Fields {
    fn of(&self, lang: Lang) -> (Field, Field) {
        self.per_lang
            .iter()
            .find(|(l, _, _)| *l == lang)
            .map(|(_, t, b)| (*t, *b))
            .unwrap_or((self.per_lang[0].1, self.per_lang[0].2))
    }
}

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let key = b.add_text_field("key", STRING);
    let article_id = b.add_i64_field("article_id", INDEXED | STORED | FAST);
    let locale = b.add_text_field("locale", STRING | STORED);
    let lang = b.add_text_field("lang", STRING);
    let title = b.add_text_field("title", STORED);
    let body = b.add_text_field("body", STORED);
    let per_lang = Lang::ALL
        .iter()
        .map(|l| {
            let t = b.add_text_field(
                &format!("title_{}", l.code()),
                text_options(l.tokenizer(), false),
            );
            let x = b.add_text_field(
                &format!("body_{}", l.code()),
                text_options(l.tokenizer(), false),
            );
            (*l, t, x)
        })
        .collect();
    let f = Fields {
        key,
        article_id,
        locale,
        lang,
        title,
        body,
        per_lang,
        tags: b.add_text_field("tags", text_options(Lang::Other.tokenizer(), false)),
        category_id: b.add_i64_field("category_id", INDEXED),
        section_id: b.add_i64_field("section_id", INDEXED),
        brand_id: b.add_i64_field("brand_id", INDEXED),
        public: b.add_u64_field("public", INDEXED),
        published: b.add_u64_field("published", INDEXED),
    };
    (b.build(), f)
}

fn key(article_id: i64, locale: &str) -> String {
    format!("{article_id}:{locale}")
}

struct Inner {
    part: Part,
    f: Fields,
}

/// The help-center index. Cheap to clone; every method blocks (use `spawn_blocking`).
#[derive(Clone)]
pub struct KbIndex {
    inner: Arc<Inner>,
}

/// The primary subtag of a normalized locale ("de-ch" → "de").
fn primary(locale: &str) -> &str {
    locale.split('-').next().unwrap_or("")
}

impl KbIndex {
    pub(crate) fn open(dir: Option<&Path>, threads: usize, memory: usize) -> Result<KbIndex> {
        let (schema, f) = schema();
        let part = Part::open("kb", dir, schema, threads, memory, true)?;
        Ok(KbIndex {
            inner: Arc::new(Inner { part, f }),
        })
    }

    pub fn checkpoint(&self) -> i64 {
        self.inner.part.checkpoint()
    }

    pub fn num_docs(&self) -> u64 {
        self.inner.part.num_docs()
    }

    fn doc(&self, a: &ArticleDoc) -> TantivyDocument {
        let f = &self.inner.f;
        let locale = normalize_locale(&a.locale);
        let lang = Lang::of_locale(&locale);
        let (title_f, body_f) = f.of(lang);
        let title = cut(&a.title, MAX_TITLE_BYTES);
        let body = cut(&a.body_text, MAX_ARTICLE_BYTES);
        let mut d = TantivyDocument::default();
        d.add_text(f.key, key(a.article_id, &locale));
        d.add_i64(f.article_id, a.article_id);
        d.add_text(f.locale, &locale);
        d.add_text(f.lang, primary(&locale));
        d.add_text(f.title, title);
        d.add_text(f.body, body);
        d.add_text(title_f, title);
        d.add_text(body_f, body);
        if !a.tags.is_empty() {
            d.add_text(f.tags, a.tags.join(" "));
        }
        for (field, v) in [
            (f.category_id, a.category_id),
            (f.section_id, a.section_id),
            (f.brand_id, a.brand_id),
        ] {
            if let Some(v) = v {
                d.add_i64(field, v);
            }
        }
        d.add_u64(f.public, u64::from(a.public));
        d.add_u64(f.published, u64::from(a.published));
        d
    }

    fn run(&self, w: &tantivy::IndexWriter<TantivyDocument>, op: ArticleOp) -> Result<()> {
        let f = &self.inner.f;
        match op {
            ArticleOp::Upsert(a) => {
                let locale = normalize_locale(&a.locale);
                w.delete_term(Term::from_field_text(f.key, &key(a.article_id, &locale)));
                w.add_document(self.doc(&a)).map_err(err("kb"))?;
            }
            ArticleOp::Delete { article_id } => {
                w.delete_term(Term::from_field_i64(f.article_id, article_id));
            }
            ArticleOp::DeleteLocale { article_id, locale } => {
                let locale = normalize_locale(&locale);
                w.delete_term(Term::from_field_text(f.key, &key(article_id, &locale)));
            }
        }
        Ok(())
    }

    /// Applies `ops` in order and commits them with `upto_seq` as the checkpoint, atomically.
    pub fn apply(&self, ops: impl IntoIterator<Item = ArticleOp>, upto_seq: i64) -> Result<()> {
        self.inner.part.apply(upto_seq, |w| {
            for op in ops {
                self.run(w, op)?;
            }
            Ok(())
        })
    }

    /// Starts a full rebuild (see [`crate::TicketIndex::rebuild_begin`]).
    pub fn rebuild_begin(&self) -> Result<KbRebuild> {
        self.inner.part.rebuild_begin()?;
        Ok(KbRebuild {
            ix: self.clone(),
            done: false,
            added: 0,
        })
    }

    /// Ranked search; see [`crate::query`] for how text is read.
    pub fn search(&self, q: &KbQuery) -> Result<SearchResults> {
        let f = &self.inner.f;
        let parsed = query::parse(&q.text);
        if parsed.is_empty() {
            return Ok(SearchResults::default());
        }
        let locale = q.locale.as_deref().map(normalize_locale);
        if locale.as_deref() == Some("") {
            return Ok(SearchResults::default()); // not a locale: nothing is in it
        }
        let langs: Vec<Lang> = match &locale {
            Some(l) => vec![Lang::of_locale(l)],
            None => Lang::ALL.to_vec(),
        };
        let mut a = Analyzed::default();
        let searcher = self.inner.part.searcher();
        let mut per_lang: Vec<Box<dyn Query>> = Vec::new();
        for lang in &langs {
            let (title, body) = f.of(*lang);
            if locale.is_none() && !has_terms(&searcher, body) && !has_terms(&searcher, title) {
                continue; // no article in this language
            }
            let specs = [
                FieldSpec {
                    field: title,
                    lang: *lang,
                    boost: 2.5,
                },
                FieldSpec {
                    field: body,
                    lang: *lang,
                    boost: 1.0,
                },
                FieldSpec {
                    field: f.tags,
                    lang: Lang::Other,
                    boost: 1.5,
                },
            ];
            if let Some(q) = query::text_query(&parsed, &specs, Mode::Any, None, &mut a, &searcher)
            {
                per_lang.push(q);
            }
        }
        let text: Box<dyn Query> = match per_lang.len() {
            0 => return Ok(SearchResults::default()),
            1 => per_lang.remove(0),
            _ => Box::new(BooleanQuery::union(per_lang)),
        };
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = vec![(Occur::Must, text)];
        if let Some(l) = &locale {
            clauses.push(filter(if l.contains('-') {
                term_str(f.locale, l)
            } else {
                term_str(f.lang, l)
            }));
        }
        for (field, v) in [
            (f.category_id, q.category_id),
            (f.section_id, q.section_id),
            (f.brand_id, q.brand_id),
        ] {
            if let Some(v) = v {
                clauses.push(filter(term_i64(field, v)));
            }
        }
        if q.public_only {
            clauses.push(filter(term_u64(f.public, 1)));
        }
        if q.published_only {
            clauses.push(filter(term_u64(f.published, 1)));
        }
        let query = BooleanQuery::new(clauses);
        let Some((limit, offset)) = page(q.limit, q.offset) else {
            let total = searcher.search(&query, &Count).map_err(err("kb"))?;
            return Ok(SearchResults {
                hits: Vec::new(),
                total,
            });
        };
        let (top, total) = searcher
            .search(
                &query,
                &(
                    TopDocs::with_limit(limit)
                        .and_offset(offset)
                        .order_by_score(),
                    Count,
                ),
            )
            .map_err(err("kb"))?;
        let mut highlighters: HashMap<Lang, (Highlighter, crate::highlight::Marker)> =
            HashMap::new();
        let mut hits = Vec::with_capacity(top.len());
        for (score, addr) in top {
            let d: TantivyDocument = searcher.doc(addr).map_err(err("kb"))?;
            let s = |field| {
                d.get_first(field)
                    .and_then(|v| v.as_str())
                    .unwrap_or("")
                    .to_string()
            };
            let Some(id) = d.get_first(f.article_id).and_then(|v| v.as_i64()) else {
                continue;
            };
            let locale = s(f.locale);
            let lang = Lang::of_locale(&locale);
            let (h, an) = highlighters.entry(lang).or_insert_with(|| {
                (
                    Highlighter::new(&parsed, lang, &mut a),
                    crate::highlight::Marker::new(lang),
                )
            });
            hits.push(SearchHit {
                id,
                locale: Some(locale),
                status: None,
                score,
                title: s(f.title),
                snippet: snippet(&s(f.body), an, h),
            });
        }
        Ok(SearchResults { hits, total })
    }
}

/// Does any document have text in this field?
fn has_terms(searcher: &tantivy::Searcher, field: Field) -> bool {
    searcher.segment_readers().iter().any(|r| {
        r.inverted_index(field)
            .map(|ii| ii.terms().num_terms() > 0)
            .unwrap_or(true)
    })
}

/// A running rebuild of the help-center index (see [`KbIndex::rebuild_begin`]).
pub struct KbRebuild {
    ix: KbIndex,
    done: bool,
    added: u64,
}

impl KbRebuild {
    pub fn add(&mut self, docs: impl IntoIterator<Item = ArticleDoc>) -> Result<()> {
        let ix = self.ix.clone();
        let mut n = 0;
        ix.inner.part.rebuild_add(|w| {
            for d in docs {
                w.add_document(ix.doc(&d)).map_err(err("kb"))?;
                n += 1;
            }
            Ok(())
        })?;
        self.added += n;
        Ok(())
    }

    pub fn finish(mut self, upto_seq: i64) -> Result<u64> {
        self.done = true;
        self.ix.inner.part.rebuild_finish(upto_seq)?;
        Ok(self.added)
    }
}

impl Drop for KbRebuild {
    fn drop(&mut self) {
        if !self.done {
            self.ix.inner.part.rebuild_abort();
        }
    }
}
