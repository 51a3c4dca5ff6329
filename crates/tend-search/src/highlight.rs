//! Snippets: the best window of a text around the query's words, HTML-escaped, with
//! `<mark>…</mark>` around hits. Safe to put into HTML as it is: every character of the
//! text goes through [`escape_into`]; the only tags are the marks this module writes.

use crate::analysis::Lang;
use crate::query::{fuzzy_distance, Analyzed, Parsed};
use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, OnceLock};
use tantivy::tokenizer::TextAnalyzer;

/// Bytes of a text scanned for hits (longer texts are highlighted in their first part).
const SCAN_BYTES: usize = 256 * 1024;
/// Length of a snippet in bytes of source text (about two lines).
const WINDOW_BYTES: usize = 220;
/// Context kept before the first hit of the window.
const LEAD_BYTES: usize = 50;

/// What counts as a hit for one analyzer.
pub struct Highlighter {
    exact: HashSet<String>,
    fuzzy: Vec<(Vec<char>, u8)>,
    prefixes: Vec<String>,
}

impl Highlighter {
    pub fn new(p: &Parsed, lang: Lang, a: &mut Analyzed) -> Highlighter {
        let mut h = Highlighter {
            exact: HashSet::new(),
            fuzzy: Vec::new(),
            prefixes: Vec::new(),
        };
        let all_stop = p.phrases.is_empty() && p.words.iter().all(|w| lang.is_stop_word(&w.raw));
        for w in &p.words {
            if !all_stop && lang.is_stop_word(&w.raw) {
                continue;
            }
            if let Some(t) = a.word(lang, &w.raw) {
                let d = fuzzy_distance(&t);
                if d > 0 {
                    h.fuzzy.push((t.chars().collect(), d));
                }
                h.exact.insert(t);
            }
            if w.prefix {
                if let Some(t) = a.folded(&w.raw) {
                    h.prefixes.push(t);
                }
            }
        }
        for phrase in &p.phrases {
            for w in phrase {
                if let Some(t) = a.word(lang, w) {
                    h.exact.insert(t);
                }
            }
        }
        h
    }

    fn matches(&self, token: &str) -> bool {
        if self.exact.contains(token) || self.prefixes.iter().any(|p| token.starts_with(p.as_str()))
        {
            return true;
        }
        if self.fuzzy.is_empty() {
            return false;
        }
        let t: Vec<char> = token.chars().collect();
        self.fuzzy
            .iter()
            .any(|(q, d)| within_distance(q, &t, *d as usize))
    }
}

/// Optimal-string-alignment distance (a transposition costs 1) is at most `max`.
pub fn within_distance(a: &[char], b: &[char], max: usize) -> bool {
    if a.len().abs_diff(b.len()) > max {
        return false;
    }
    let n = b.len();
    let mut prev2 = vec![0usize; n + 1];
    let mut prev: Vec<usize> = (0..=n).collect();
    let mut cur = vec![0usize; n + 1];
    for i in 1..=a.len() {
        cur[0] = i;
        let mut row_min = cur[0];
        for j in 1..=n {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(prev2[j - 2] + 1);
            }
            cur[j] = v;
            row_min = row_min.min(v);
        }
        if row_min > max {
            return false;
        }
        std::mem::swap(&mut prev2, &mut prev);
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[n] <= max
}

fn floor_char(s: &str, mut i: usize) -> usize {
    i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn ceil_char(s: &str, mut i: usize) -> usize {
    i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i += 1;
    }
    i
}

/// Appends `s` HTML-escaped, with every run of whitespace as one space.
pub fn escape_into(out: &mut String, s: &str) {
    let mut space = false;
    for c in s.chars() {
        if c.is_whitespace() || c.is_control() {
            if !space {
                out.push(' ');
            }
            space = true;
            continue;
        }
        space = false;
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

/// Finds hits in texts of one language the way its analyzer reads them, remembering what
/// each distinct word analyzed to and whether it is a hit: the words of a page of results
/// repeat, and stemming and the typo check are most of a snippet's cost.
pub struct Marker {
    lang: Lang,
    split: TextAnalyzer,
    finish: TextAnalyzer,
    /// lowercased word → its analyzed form when it is a hit
    seen: HashMap<String, Option<String>>,
}

/// Distinct words a marker remembers (a bound for very long or varied texts).
const MARKER_MEMORY: usize = 50_000;

impl Marker {
    pub fn new(lang: Lang) -> Marker {
        Marker {
            lang,
            split: lang.split_analyzer(),
            finish: lang.finish_analyzer(),
            seen: HashMap::new(),
        }
    }

    fn hit(&mut self, word: &str, h: &Highlighter) -> Option<String> {
        if let Some(known) = self.seen.get(word) {
            return known.clone();
        }
        let analyzed = analyzed_form(self.lang, &mut self.finish, word);
        let hit = analyzed.filter(|t| h.matches(t));
        if self.seen.len() < MARKER_MEMORY {
            self.seen.insert(word.to_string(), hit.clone());
        }
        hit
    }
}

/// Words analyzed per process, by language: a word's analyzed form does not depend on the
/// query, and the words of a help desk's texts repeat from search to search, so every search
/// after the first few skips most of the stemming and folding (S3: a snippet for each of 25
/// hits was ~28 % of a search's CPU time, nearly all of it analyzing words seen before).
/// Bounded: once full, further words are analyzed each time and not kept.
type Forms = Mutex<HashMap<Box<str>, Option<Box<str>>>>;
static FORMS: OnceLock<Vec<Forms>> = OnceLock::new();
/// Words kept per language (a few MiB at most).
const FORMS_MAX: usize = 20_000;

fn analyzed_form(lang: Lang, finish: &mut TextAnalyzer, word: &str) -> Option<String> {
    let all = FORMS.get_or_init(|| Lang::ALL.iter().map(|_| Mutex::default()).collect());
    let slot = Lang::ALL.iter().position(|l| *l == lang).unwrap_or(0);
    let forms = &all[slot];
    if let Some(known) = forms.lock().unwrap_or_else(|e| e.into_inner()).get(word) {
        return known.as_deref().map(str::to_string);
    }
    let analyzed = crate::analysis::analyze_word(finish, word);
    let mut f = forms.lock().unwrap_or_else(|e| e.into_inner());
    if f.len() < FORMS_MAX {
        f.insert(word.into(), analyzed.as_deref().map(Box::from));
    }
    analyzed
}

/// The snippet of `text` for the hits `h` finds, reading `text` as `marker`'s language.
pub fn snippet(text: &str, marker: &mut Marker, h: &Highlighter) -> String {
    let scan = &text[..floor_char(text, SCAN_BYTES)];
    let mut hits: Vec<(usize, usize, String)> = Vec::new();
    {
        let mut split = marker.split.clone();
        let mut stream = split.token_stream(scan);
        while stream.advance() {
            let t = stream.token();
            if let Some(analyzed) = marker.hit(&t.text, h) {
                hits.push((t.offset_from, t.offset_to, analyzed));
            }
        }
    }
    // The window with the most distinct words (then the most hits), earliest first.
    let mut best = (0usize, 0usize, 0usize); // (distinct, count, start index)
    for i in 0..hits.len() {
        let end = hits[i].0 + WINDOW_BYTES;
        let mut seen: HashSet<&str> = HashSet::new();
        let mut count = 0;
        for hit in hits[i..].iter().take_while(|x| x.1 <= end) {
            seen.insert(&hit.2);
            count += 1;
        }
        if (seen.len(), count) > (best.0, best.1) {
            best = (seen.len(), count, i);
        }
    }
    let (start, end) = if hits.is_empty() {
        (0, floor_char(scan, WINDOW_BYTES))
    } else {
        let first = hits[best.2].0;
        let mut s = floor_char(scan, first.saturating_sub(LEAD_BYTES));
        if s > 0 {
            // Start at a word boundary.
            if let Some(sp) = scan[s..first].find(char::is_whitespace) {
                s = ceil_char(scan, s + sp + 1);
            }
        }
        let e = floor_char(scan, s + WINDOW_BYTES).max(hits[best.2].1);
        (s, e)
    };
    let mut end = end;
    if end < scan.len() {
        if let Some(sp) = scan[start..end].rfind(char::is_whitespace) {
            let cut = start + sp;
            if cut > start && hits.iter().all(|x| x.0 >= cut || x.1 <= cut) {
                end = cut;
            }
        }
    }
    let mut out = String::with_capacity(end - start + 64);
    if start > 0 {
        out.push('…');
    }
    let mut pos = start;
    for (from, to, _) in hits.iter().filter(|x| x.0 >= start && x.1 <= end) {
        if *from < pos {
            continue;
        }
        escape_into(&mut out, &scan[pos..*from]);
        out.push_str("<mark>");
        escape_into(&mut out, &scan[*from..*to]);
        out.push_str("</mark>");
        pos = *to;
    }
    escape_into(&mut out, &scan[pos..end]);
    let trimmed_len = out.trim_end().len();
    out.truncate(trimmed_len);
    if end < text.len() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::parse;

    fn snip(q: &str, text: &str, lang: Lang) -> String {
        let mut a = Analyzed::default();
        let h = Highlighter::new(&parse(q), lang, &mut a);
        let s = snippet(text, &mut Marker::new(lang), &h);
        // The same as running the field's whole analyzer over the text.
        let mut plain = lang.analyzer();
        let mut hits = Vec::new();
        let mut stream = plain.token_stream(text);
        while stream.advance() {
            let t = stream.token();
            if h.matches(&t.text) {
                hits.push(t.text.clone());
            }
        }
        let mut m = Marker::new(lang);
        let mut split = lang.split_analyzer();
        let mut stream = split.token_stream(text);
        let mut via_marker = Vec::new();
        while stream.advance() {
            if let Some(x) = m.hit(&stream.token().text, &h) {
                via_marker.push(x);
            }
        }
        assert_eq!(hits, via_marker, "{q:?} in {text:?}");
        s
    }

    #[test]
    fn kept_word_forms_are_per_language_and_the_same_on_every_read() {
        for word in ["bestellungen", "remboursé", "running", "niños", "größe"] {
            for lang in Lang::ALL {
                let fresh = crate::analysis::analyze_word(&mut lang.finish_analyzer(), word);
                for _ in 0..2 {
                    let kept = analyzed_form(lang, &mut lang.finish_analyzer(), word);
                    assert_eq!(kept, fresh, "{word} in {lang:?}");
                }
            }
        }
    }

    #[test]
    fn split_then_finish_is_the_analyzer() {
        let text = "Remboursé les Bestellungen, ÉTÉ running runs happily façade \
                    Größe naïve CAFÉ Devoluciones niños";
        for lang in Lang::ALL {
            let mut whole = lang.analyzer();
            let mut a = Vec::new();
            let mut s = whole.token_stream(text);
            while s.advance() {
                a.push(s.token().text.clone());
            }
            let mut split = lang.split_analyzer();
            let mut finish = lang.finish_analyzer();
            let mut b = Vec::new();
            let mut s = split.token_stream(text);
            while s.advance() {
                if let Some(t) = crate::analysis::analyze_word(&mut finish, &s.token().text) {
                    b.push(t);
                }
            }
            assert_eq!(a, b, "{lang:?}");
        }
    }

    #[test]
    fn marks_hits_and_escapes_everything_else() {
        let s = snip(
            "refund",
            "<script>alert('x')</script> Your refunds & returns",
            Lang::En,
        );
        assert_eq!(
            s,
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; Your <mark>refunds</mark> &amp; returns"
        );
        let s = snip("script", "<script>alert(1)</script>", Lang::En);
        assert!(s.contains("&lt;<mark>script</mark>&gt;"), "{s}");
        assert!(!s.replace("<mark>", "").replace("</mark>", "").contains('<'));
    }

    #[test]
    fn typos_prefixes_and_windows() {
        assert!(snip("refnud", "we refund you", Lang::En).contains("<mark>refund</mark>"));
        assert!(
            snip("passw", "reset your password here", Lang::En).contains("<mark>password</mark>")
        );
        let long = format!(
            "{} the tracking number {}",
            "intro ".repeat(100),
            "tail ".repeat(100)
        );
        let s = snip("tracking", &long, Lang::En);
        assert!(s.starts_with('…') && s.ends_with('…'), "{s}");
        assert!(s.contains("<mark>tracking</mark>"));
        assert!(s.len() < 400);
        let s = snip("nothing", "short text", Lang::En);
        assert_eq!(s, "short text");
        let s = snip("zzz", &"ü".repeat(500), Lang::En);
        assert!(s.ends_with('…'));
    }

    #[test]
    fn distance() {
        let c = |s: &str| s.chars().collect::<Vec<_>>();
        assert!(within_distance(&c("refnud"), &c("refund"), 1));
        assert!(within_distance(&c("pasword"), &c("password"), 1));
        assert!(!within_distance(&c("abcdef"), &c("uvwxyz"), 2));
        assert!(within_distance(&c("garantie"), &c("garanty"), 2));
    }
}
