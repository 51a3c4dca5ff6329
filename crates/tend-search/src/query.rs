//! User text → tantivy queries, built from tokens (user text never reaches tantivy's query
//! parser, so no input is syntax).
//!
//! Rules (also in docs/search.md):
//! - At most [`MAX_QUERY_CHARS`] characters are read; control characters are spaces.
//! - Words are runs of letters and digits; at most [`MAX_TERMS`] words are used (phrase
//!   words included), the rest is ignored.
//! - `"…"` is a phrase (its words in order, all required). An unbalanced quote is ignored.
//!   Typographic quotes (“ ” „ « ») count as quotes.
//! - A word of 5–8 characters (after stemming) also matches at edit distance 1, one of 9 or
//!   more at distance 2 (a transposition costs 1); a 4-character word only when it occurs in
//!   no document; words with digits match exactly. Typo matches score below exact ones
//!   (unless the word occurs nowhere: then it is surely a typo).
//! - The last word, when the text does not end with a space or punctuation, also matches as a
//!   prefix (search-as-you-type), if it has at least [`MIN_PREFIX_CHARS`] characters.
//! - A word found in more than 1 % of the documents (and at least 1,000) gets neither typo
//!   nor prefix variants: it is neither a typo nor unfinished, and expanding a word in most
//!   of a million tickets costs more than it finds.
//! - A word found nowhere that is two indexed words run together ("giftcard") also matches
//!   documents with both halves.
//! - Stop words ("the", "how", "und", …) are left out unless the query has nothing else.
//! - Ticket search (agents looking for a case they know) adds typo and prefix variants only
//!   for a word found in fewer than [`TICKET_VARIANTS_BELOW`] tickets: a word that already
//!   fills pages is what was meant, and building its typo automata was most of the cost of
//!   a search for a long, rare word (bench S3). The help center always adds them.

use crate::analysis::{analyze_word, Lang, SIMPLE};
use std::collections::HashMap;
use tantivy::query::{
    BooleanQuery, BoostQuery, ConstScoreQuery, FuzzyTermQuery, Occur, PhraseQuery, Query,
    TermQuery, TermSetQuery,
};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::tokenizer::TextAnalyzer;
use tantivy::{Searcher, Term};

/// Characters of query text read; the rest is ignored.
pub const MAX_QUERY_CHARS: usize = 1_000;
/// Words (free and in phrases) used from a query; the rest are ignored.
pub const MAX_TERMS: usize = 32;
/// The shortest last word that is also matched as a prefix.
pub const MIN_PREFIX_CHARS: usize = 3;

/// Typo matches score this fraction of the field's boost (a constant, below a BM25 hit).
const FUZZY_WEIGHT: f32 = 0.25;
/// ... and this much when the word itself is in no document (then it is surely a typo).
const FUZZY_WEIGHT_UNKNOWN: f32 = 0.8;
/// Both halves of an unknown word that is two known words run together.
const BREAK_WEIGHT: f32 = 0.8;
/// The bonus for documents that have most of the words (help-center mode).
const COORD_WEIGHT: f32 = 1.0;
/// The bonus for two query words next to each other in the text (help-center mode).
const PAIR_WEIGHT: f32 = 0.5;
/// Synonyms score this fraction of what the word itself would.
const SYNONYM_WEIGHT: f32 = 0.7;
/// Word pairs scored per query.
const MAX_PAIRS: usize = 8;
/// Shortest half of a word split in two.
const MIN_BREAK_PART: usize = 3;
/// Prefix matches score this fraction of the field's boost.
const PREFIX_WEIGHT: f32 = 0.5;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word {
    /// Lowercased, as typed.
    pub raw: String,
    /// The last word of a query still being typed.
    pub prefix: bool,
}

/// A query as words and phrases.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Parsed {
    /// Free words, each once, in order of first appearance.
    pub words: Vec<Word>,
    pub phrases: Vec<Vec<String>>,
    /// Free words as typed (repeats kept) with their positions; phrases leave a gap.
    pub seq: Vec<(usize, String)>,
}

impl Parsed {
    pub fn is_empty(&self) -> bool {
        self.words.is_empty() && self.phrases.is_empty()
    }
}

fn is_quote(c: char) -> bool {
    matches!(c, '"' | '“' | '”' | '„' | '«' | '»' | '＂')
}

fn split_words(s: &str) -> impl Iterator<Item = &str> {
    s.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
}

/// Parses user text; never fails (anything unusable is ignored).
pub fn parse(text: &str) -> Parsed {
    let text: String = text
        .chars()
        .take(MAX_QUERY_CHARS)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let quotes = text.chars().filter(|c| is_quote(*c)).count();
    // With an odd number of quotes the last one is unbalanced: what follows it is free text.
    let paired = quotes - quotes % 2;
    let mut segments: Vec<(bool, String)> = Vec::new();
    let mut cur = String::new();
    let mut in_phrase = false;
    let mut seen = 0;
    for c in text.chars() {
        if is_quote(c) {
            seen += 1;
            if seen <= paired {
                segments.push((in_phrase, std::mem::take(&mut cur)));
                in_phrase = !in_phrase;
            } else {
                cur.push(' ');
            }
        } else {
            cur.push(c);
        }
    }
    segments.push((in_phrase, cur));
    let open_end = text.chars().last().is_some_and(|c| c.is_alphanumeric());
    let mut out = Parsed::default();
    let mut budget = MAX_TERMS;
    let mut pos = 0usize;
    let last = segments.len() - 1;
    for (i, (phrase, seg)) in segments.iter().enumerate() {
        if budget == 0 {
            break;
        }
        let all: Vec<&str> = split_words(seg).collect();
        let truncated = all.len() > budget;
        let words: Vec<String> = all
            .into_iter()
            .take(budget)
            .map(|w| w.to_lowercase())
            .collect();
        budget -= words.len();
        if *phrase {
            if !words.is_empty() {
                out.phrases.push(words);
            }
            pos += 10;
            continue;
        }
        let n = words.len();
        for (j, w) in words.into_iter().enumerate() {
            out.seq.push((pos, w.clone()));
            pos += 1;
            let prefix = i == last
                && j + 1 == n
                && open_end
                && !truncated
                && w.chars().count() >= MIN_PREFIX_CHARS;
            if let Some(existing) = out.words.iter_mut().find(|x| x.raw == w) {
                existing.prefix |= prefix;
            } else {
                out.words.push(Word { raw: w, prefix });
            }
        }
    }
    out
}

/// How free words combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Every word must match (tickets: agents narrow down).
    All,
    /// Any word may match, more matches rank higher (help center questions).
    Any,
}

/// One searchable field: its analyzer and boost.
#[derive(Debug, Clone, Copy)]
pub struct FieldSpec {
    pub field: Field,
    pub lang: Lang,
    pub boost: f32,
}

/// The typo distance allowed for an analyzed word.
pub fn fuzzy_distance(analyzed: &str) -> u8 {
    if analyzed.chars().any(|c| c.is_ascii_digit()) {
        return 0;
    }
    match analyzed.chars().count() {
        0..=4 => 0,
        5..=8 => 1,
        _ => 2,
    }
}

/// Analyzes words per language once per query.
#[derive(Default)]
pub struct Analyzed {
    analyzers: HashMap<&'static str, TextAnalyzer>,
    cache: HashMap<(&'static str, String), Option<String>>,
}

impl Analyzed {
    fn analyzer(&mut self, name: &'static str) -> &mut TextAnalyzer {
        self.analyzers.entry(name).or_insert_with(|| {
            if name == SIMPLE {
                crate::analysis::simple_analyzer()
            } else {
                Lang::ALL
                    .into_iter()
                    .find(|l| l.tokenizer() == name)
                    .unwrap_or(Lang::Other)
                    .analyzer()
            }
        })
    }
    /// The word as the language's analyzer indexes it.
    pub fn word(&mut self, lang: Lang, raw: &str) -> Option<String> {
        self.with(lang.tokenizer(), raw)
    }
    /// The word lowercased and folded, unstemmed (what a prefix is matched with).
    pub fn folded(&mut self, raw: &str) -> Option<String> {
        self.with(SIMPLE, raw)
    }
    fn with(&mut self, name: &'static str, raw: &str) -> Option<String> {
        if let Some(v) = self.cache.get(&(name, raw.to_string())) {
            return v.clone();
        }
        let v = analyze_word(self.analyzer(name), raw);
        self.cache.insert((name, raw.to_string()), v.clone());
        v
    }
}

fn boosted(q: Box<dyn Query>, boost: f32) -> Box<dyn Query> {
    if (boost - 1.0).abs() < f32::EPSILON {
        q
    } else {
        Box::new(BoostQuery::new(q, boost))
    }
}

fn union(mut qs: Vec<Box<dyn Query>>) -> Option<Box<dyn Query>> {
    match qs.len() {
        0 => None,
        1 => qs.pop(),
        _ => Some(Box::new(BooleanQuery::union(qs))),
    }
}

/// The words a query keeps for a language: without stop words, unless only stop words.
fn kept_words(p: &Parsed, lang: Lang) -> Vec<&Word> {
    let kept: Vec<&Word> = p
        .words
        .iter()
        .filter(|w| !lang.is_stop_word(&w.raw))
        .collect();
    if kept.is_empty() && p.phrases.is_empty() {
        p.words.iter().collect()
    } else {
        kept
    }
}

/// Does the word (as each field analyzes it) occur in any of the fields?
fn occurs(fields: &[FieldSpec], raw: &str, a: &mut Analyzed, searcher: &Searcher) -> bool {
    doc_freq(fields, raw, a, searcher) > 0
}

/// In how many documents the word occurs (the most of any one field).
fn doc_freq(fields: &[FieldSpec], raw: &str, a: &mut Analyzed, searcher: &Searcher) -> u64 {
    fields
        .iter()
        .filter_map(|f| {
            let t = a.word(f.lang, raw)?;
            searcher.doc_freq(&Term::from_field_text(f.field, &t)).ok()
        })
        .max()
        .unwrap_or(0)
}

/// Ticket search: a word found in at least this many tickets gets no typo or prefix variants.
pub const TICKET_VARIANTS_BELOW: u64 = 50;

/// A word in more documents than this is not a typo and not unfinished: its typo and
/// prefix variants are skipped (they would add little at a large cost on a big index).
fn common_above(searcher: &Searcher) -> u64 {
    (searcher.num_docs() / 100).max(1_000)
}

/// The word as a term in any of the fields (BM25), or None if no field can hold it.
fn any_field_term(fields: &[FieldSpec], raw: &str, a: &mut Analyzed) -> Option<Box<dyn Query>> {
    let mut qs: Vec<Box<dyn Query>> = Vec::new();
    for f in fields {
        if let Some(t) = a.word(f.lang, raw) {
            qs.push(boosted(
                Box::new(TermQuery::new(
                    Term::from_field_text(f.field, &t),
                    IndexRecordOption::WithFreqs,
                )),
                f.boost,
            ));
        }
    }
    union(qs)
}

/// A word missing from the index that is two indexed words run together ("giftcard",
/// "Ratenzahlung"): both halves required. At most two splits are tried per word.
fn word_breaks(
    fields: &[FieldSpec],
    raw: &str,
    a: &mut Analyzed,
    searcher: &Searcher,
) -> Vec<Box<dyn Query>> {
    let chars: Vec<(usize, char)> = raw.char_indices().collect();
    let mut out = Vec::new();
    if chars.len() < 2 * MIN_BREAK_PART || chars.len() > 40 {
        return out;
    }
    let splits = chars.len() - 2 * MIN_BREAK_PART + 1;
    for (at, _) in chars.iter().skip(MIN_BREAK_PART).take(splits) {
        let (left, right) = raw.split_at(*at);
        if occurs(fields, left, a, searcher) && occurs(fields, right, a, searcher) {
            if let (Some(l), Some(r)) = (
                any_field_term(fields, left, a),
                any_field_term(fields, right, a),
            ) {
                out.push(Box::new(BooleanQuery::intersection(vec![l, r])) as Box<dyn Query>);
                if out.len() == 2 {
                    break;
                }
            }
        }
    }
    out
}

/// The text query over one group of fields (all analyzed per their own language), or None
/// when nothing in the text can match them. `searcher` answers "is this word in the
/// index?" for typo and word-break decisions.
pub fn text_query(
    p: &Parsed,
    fields: &[FieldSpec],
    mode: Mode,
    variants_below: Option<u64>,
    a: &mut Analyzed,
    searcher: &Searcher,
) -> Option<Box<dyn Query>> {
    let lang = fields.first()?.lang;
    let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
    let mut word_clauses: Vec<Box<dyn Query>> = Vec::new();
    let kept = kept_words(p, lang);
    for w in &kept {
        let freq = doc_freq(fields, &w.raw, a, searcher);
        let absent = freq == 0;
        let common = freq > common_above(searcher) || variants_below.is_some_and(|b| freq >= b);
        let mut variants: Vec<Box<dyn Query>> = Vec::new();
        for f in fields {
            if let Some(t) = a.word(f.lang, &w.raw) {
                let term = Term::from_field_text(f.field, &t);
                variants.push(boosted(
                    Box::new(TermQuery::new(term.clone(), IndexRecordOption::WithFreqs)),
                    f.boost,
                ));
                let mut d = fuzzy_distance(&t);
                if d == 0
                    && absent
                    && t.chars().count() == 4
                    && !t.chars().any(|c| c.is_ascii_digit())
                {
                    d = 1; // a short word the index does not know: most likely a typo
                }
                if d > 0 && !common {
                    let weight = if absent {
                        FUZZY_WEIGHT_UNKNOWN
                    } else {
                        FUZZY_WEIGHT
                    };
                    variants.push(Box::new(BoostQuery::new(
                        Box::new(FuzzyTermQuery::new(term, d, true)),
                        f.boost * weight,
                    )));
                }
            }
            if w.prefix && !common {
                if let Some(t) = a.folded(&w.raw) {
                    let term = Term::from_field_text(f.field, &t);
                    variants.push(Box::new(BoostQuery::new(
                        Box::new(FuzzyTermQuery::new_prefix(term, 0, true)),
                        f.boost * PREFIX_WEIGHT,
                    )));
                }
            }
        }
        if absent {
            for q in word_breaks(fields, &w.raw, a, searcher) {
                variants.push(Box::new(BoostQuery::new(q, BREAK_WEIGHT)));
            }
        }
        if let Some(q) = union(variants) {
            let occur = match mode {
                Mode::All => Occur::Must,
                Mode::Any => Occur::Should,
            };
            word_clauses.push(q.box_clone());
            clauses.push((occur, q));
        } else if mode == Mode::All && !w.prefix {
            // A word no field can hold (e.g. longer than any indexed token): nothing matches
            // all words. An unfinished last word is just left out.
            return None;
        }
    }
    if mode == Mode::Any {
        // Documents with most of the words rank above those with many repeats of one.
        let n = word_clauses.len();
        if n >= 2 {
            let min = (2 * n).div_ceil(3).max(2);
            clauses.push((
                Occur::Should,
                Box::new(BoostQuery::new(
                    Box::new(BooleanQuery::union_with_minimum_required_clauses(
                        word_clauses,
                        min,
                    )),
                    COORD_WEIGHT,
                )),
            ));
        }
        // Shop vocabulary: "money back" also looks for "refund".
        for alt in crate::synonyms::expansions(lang, &p.seq) {
            let q = match alt.as_slice() {
                [one] => any_field_term(fields, one, a),
                words => {
                    let mut per_field: Vec<Box<dyn Query>> = Vec::new();
                    for f in fields.iter().filter(|f| f.lang == lang) {
                        let terms: Option<Vec<(usize, Term)>> = words
                            .iter()
                            .enumerate()
                            .map(|(i, w)| {
                                a.word(f.lang, w)
                                    .map(|t| (i, Term::from_field_text(f.field, &t)))
                            })
                            .collect();
                        if let Some(terms) = terms.filter(|t| t.len() > 1) {
                            per_field.push(boosted(
                                Box::new(PhraseQuery::new_with_offset(terms)),
                                f.boost,
                            ));
                        }
                    }
                    union(per_field)
                }
            };
            if let Some(q) = q {
                clauses.push((Occur::Should, Box::new(BoostQuery::new(q, SYNONYM_WEIGHT))));
            }
        }
        // Words next to each other in the query and in the text ("cash on delivery").
        let kept_seq: Vec<&(usize, String)> = p
            .seq
            .iter()
            .filter(|(_, w)| kept.iter().any(|k| &k.raw == w))
            .collect();
        let mut pairs = 0;
        for pair in kept_seq.windows(2) {
            let ((p0, w0), (p1, w1)) = (pair[0], pair[1]);
            if p1 <= p0 || p1 - p0 > 3 || pairs >= MAX_PAIRS {
                continue;
            }
            let mut per_field: Vec<Box<dyn Query>> = Vec::new();
            for f in fields.iter().filter(|f| f.lang == lang) {
                if let (Some(t0), Some(t1)) = (a.word(f.lang, w0), a.word(f.lang, w1)) {
                    let mut q = PhraseQuery::new_with_offset(vec![
                        (0, Term::from_field_text(f.field, &t0)),
                        (p1 - p0, Term::from_field_text(f.field, &t1)),
                    ]);
                    q.set_slop(1);
                    per_field.push(boosted(Box::new(q), f.boost));
                }
            }
            if let Some(q) = union(per_field) {
                pairs += 1;
                clauses.push((Occur::Should, Box::new(BoostQuery::new(q, PAIR_WEIGHT))));
            }
        }
    }
    for phrase in &p.phrases {
        let mut per_field: Vec<Box<dyn Query>> = Vec::new();
        for f in fields {
            let terms: Vec<(usize, Term)> = phrase
                .iter()
                .enumerate()
                .filter_map(|(i, w)| {
                    a.word(f.lang, w)
                        .map(|t| (i, Term::from_field_text(f.field, &t)))
                })
                .collect();
            let q: Box<dyn Query> = match terms.len() {
                0 => continue,
                1 => Box::new(TermQuery::new(
                    terms[0].1.clone(),
                    IndexRecordOption::WithFreqs,
                )),
                _ => Box::new(PhraseQuery::new_with_offset(terms)),
            };
            per_field.push(boosted(q, f.boost));
        }
        clauses.push((Occur::Must, union(per_field)?));
    }
    if clauses.is_empty() {
        return None;
    }
    Some(Box::new(BooleanQuery::new(clauses)))
}

/// A filter that does not change scores.
pub fn filter(q: Box<dyn Query>) -> (Occur, Box<dyn Query>) {
    (Occur::Must, Box::new(ConstScoreQuery::new(q, 0.0)))
}

pub fn term_i64(field: Field, v: i64) -> Box<dyn Query> {
    Box::new(TermQuery::new(
        Term::from_field_i64(field, v),
        IndexRecordOption::Basic,
    ))
}

pub fn term_u64(field: Field, v: u64) -> Box<dyn Query> {
    Box::new(TermQuery::new(
        Term::from_field_u64(field, v),
        IndexRecordOption::Basic,
    ))
}

pub fn term_str(field: Field, v: &str) -> Box<dyn Query> {
    Box::new(TermQuery::new(
        Term::from_field_text(field, v),
        IndexRecordOption::Basic,
    ))
}

/// One of the values. A few values are a union of posting lists (lazy, skips along an
/// intersection); many become a term set (one bitset).
pub fn any_i64(field: Field, vs: &[i64]) -> Box<dyn Query> {
    if vs.len() <= 16 {
        let terms: Vec<Box<dyn Query>> = vs.iter().map(|v| term_i64(field, *v)).collect();
        if let Some(q) = union(terms) {
            return q;
        }
    }
    Box::new(TermSetQuery::new(
        vs.iter().map(|v| Term::from_field_i64(field, *v)),
    ))
}

pub fn any_str(field: Field, vs: &[String]) -> Box<dyn Query> {
    Box::new(TermSetQuery::new(
        vs.iter().map(|v| Term::from_field_text(field, v)),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(raw: &str, prefix: bool) -> Word {
        Word {
            raw: raw.into(),
            prefix,
        }
    }

    #[test]
    fn words_phrases_and_the_open_last_word() {
        let p = parse("Refund \"credit card\" passw");
        assert_eq!(p.words, vec![w("refund", false), w("passw", true)]);
        assert_eq!(p.phrases, vec![vec!["credit".to_string(), "card".into()]]);
        let p = parse("refund ");
        assert_eq!(p.words, vec![w("refund", false)]);
        let p = parse("re");
        assert_eq!(p.words, vec![w("re", false)]);
    }

    #[test]
    fn unbalanced_quotes_and_junk() {
        let p = parse("\"credit card");
        assert!(p.phrases.is_empty());
        assert_eq!(p.words.len(), 2);
        assert!(parse("!!! ??? ... \"\" '' ((").is_empty());
        assert!(parse("").is_empty());
        let p = parse("a\u{0}b\u{7}c\r\nd");
        assert_eq!(p.words.len(), 4);
        let p = parse("“lost parcel” „Paket“");
        assert_eq!(p.phrases.len(), 2);
    }

    #[test]
    fn long_queries_are_capped() {
        let long = "word ".repeat(5_000);
        let p = parse(&long);
        assert_eq!(p.words.len(), 1, "duplicates collapse");
        let many: String = (0..100).map(|i| format!("w{i} ")).collect();
        assert_eq!(parse(&many).words.len(), MAX_TERMS);
        let huge = "x".repeat(10_000);
        let p = parse(&huge);
        assert_eq!(p.words[0].raw.len(), MAX_QUERY_CHARS);
    }

    #[test]
    fn typo_distance_by_length() {
        assert_eq!(fuzzy_distance("card"), 0);
        assert_eq!(fuzzy_distance("refund"), 1);
        assert_eq!(fuzzy_distance("warranty"), 1);
        assert_eq!(fuzzy_distance("unsubscribe"), 2);
        assert_eq!(fuzzy_distance("order12345"), 0);
    }
}
