//! Snippets: the best window of a text around the query's words, HTML-escaped, with
//! `<mark>…</mark>` around hits. Safe to put into HTML as it is: every character of the
//! text goes through [`escape_into`]; the only tags are the marks this module writes.

use crate::analysis::Lang;
use crate::query::{fuzzy_distance, Analyzed, Parsed};
use std::collections::HashSet;
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

/// The snippet of `text` for the hits `h` finds with `analyzer` (the field's own).
pub fn snippet(text: &str, analyzer: &mut TextAnalyzer, h: &Highlighter) -> String {
    let scan = &text[..floor_char(text, SCAN_BYTES)];
    let mut hits: Vec<(usize, usize, String)> = Vec::new();
    {
        let mut stream = analyzer.token_stream(scan);
        while stream.advance() {
            let t = stream.token();
            if h.matches(&t.text) {
                hits.push((t.offset_from, t.offset_to, t.text.clone()));
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
        snippet(text, &mut lang.analyzer(), &h)
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
