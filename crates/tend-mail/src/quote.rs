//! Splits a reply's own words from the quoted history and the signature.
//!
//! Recognised (first match wins, the signature only when it comes before the history):
//! - attribution lines, possibly wrapped over up to three lines: "On … wrote:",
//!   "Am … schrieb …:", "Le … a écrit :", "El … escribió:", "Op … schreef …:", "Il … ha scritto:";
//! - Outlook header blocks: "From:/Von:/De :/De:" followed within a few lines by
//!   "Sent:/Gesendet:/Envoyé :/Enviado:/Date:" and "Subject:/Betreff:/Objet :/Asunto:",
//!   with a preceding `_____` rule (Outlook on the web) included;
//! - separator lines: "-----Original Message-----" and its German, French and Spanish forms,
//!   "---------- Forwarded message ---------", "Begin forwarded message:", Thunderbird's
//!   "-------- Original Message --------" / "-------- Forwarded Message --------";
//! - lines starting with `>`; when answers are written between quoted lines (interleaved
//!   quoting), nothing is cut off and the kind is [`QuoteKind::Interleaved`];
//! - the "-- " signature delimiter (also a bare "--") and phone signatures
//!   ("Sent from my iPhone", "Von meinem iPhone gesendet", …).

use serde::{Deserialize, Serialize};

/// What marked the start of the quoted history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QuoteKind {
    /// "On … wrote:" and its translations.
    Attribution,
    /// Outlook's "From: … Sent: … To: … Subject:" block or an "Original Message" rule.
    Outlook,
    /// A forwarded-message block.
    Forward,
    /// Lines starting with ">".
    Angle,
    /// Answers written between quoted lines: the whole text stays visible.
    Interleaved,
}

/// Byte offsets into the text that was split.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuoteSplit {
    /// The visible part is `text[..visible_end]` (trailing blank space already excluded).
    pub visible_end: usize,
    /// Where the quoted history starts, if any.
    pub quote_start: Option<usize>,
    /// Where the signature starts, if one comes before the history.
    pub signature_start: Option<usize>,
    pub kind: Option<QuoteKind>,
}

struct Line<'a> {
    start: usize,
    text: &'a str,
}

fn lines(text: &str) -> Vec<Line<'_>> {
    let mut out = Vec::new();
    let mut start = 0;
    for raw in text.split('\n') {
        out.push(Line {
            start,
            text: raw.strip_suffix('\r').unwrap_or(raw),
        });
        start += raw.len() + 1;
    }
    out
}

fn trim(s: &str) -> &str {
    s.trim_matches(|c: char| c.is_whitespace() || c == '\u{a0}' || c == '*')
}

/// Splits `text` (a plain-text body) into visible part, history and signature.
pub fn split_quote(text: &str) -> QuoteSplit {
    let lines = lines(text);
    let mut signature: Option<usize> = None;
    let mut found: Option<(usize, QuoteKind)> = None;
    for i in 0..lines.len() {
        let line = lines[i].text;
        if signature.is_none() && is_signature_line(line) {
            signature = Some(i);
        }
        if let Some(kind) = quote_start_at(&lines, i) {
            let start = if kind == QuoteKind::Outlook {
                rule_before(&lines, i).unwrap_or(i)
            } else {
                i
            };
            if matches!(kind, QuoteKind::Attribution | QuoteKind::Angle) && interleaved(&lines, i) {
                found = Some((usize::MAX, QuoteKind::Interleaved));
                if signature.is_none() {
                    signature = (i..lines.len()).find(|&j| is_signature_line(lines[j].text));
                }
            } else {
                found = Some((start, kind));
            }
            break;
        }
    }
    let end_line = |idx: usize| lines.get(idx).map_or(text.len(), |l| l.start);
    let trimmed_end = |end: usize| text[..end].trim_end().len();
    match found {
        Some((_, QuoteKind::Interleaved)) => {
            let end = signature.map_or(text.len(), end_line);
            QuoteSplit {
                visible_end: trimmed_end(end),
                quote_start: None,
                signature_start: signature.map(end_line),
                kind: Some(QuoteKind::Interleaved),
            }
        }
        Some((q, kind)) => {
            let q_off = end_line(q);
            let sig = signature.filter(|s| *s < q);
            let mut end = sig.map_or(q_off, end_line);
            if kind == QuoteKind::Forward && text[..end].trim().is_empty() {
                // A bare forward: the forwarded mail is what there is to read.
                end = text.len();
            }
            QuoteSplit {
                visible_end: trimmed_end(end),
                quote_start: Some(q_off),
                signature_start: sig.map(end_line),
                kind: Some(kind),
            }
        }
        None => {
            let end = signature.map_or(text.len(), end_line);
            QuoteSplit {
                visible_end: trimmed_end(end),
                quote_start: None,
                signature_start: signature.map(end_line),
                kind: None,
            }
        }
    }
}

fn is_signature_line(line: &str) -> bool {
    if line == "-- " || line == "--" || line == "-- \u{a0}" {
        return true;
    }
    let t = trim(line).to_lowercase();
    const PHONE: [&str; 10] = [
        "sent from my iphone",
        "sent from my ipad",
        "sent from my android",
        "sent from my mobile",
        "get outlook for ios",
        "get outlook for android",
        "von meinem iphone gesendet",
        "envoyé de mon iphone",
        "enviado desde mi iphone",
        "sent from mail for windows",
    ];
    PHONE
        .iter()
        .any(|p| t.starts_with(p) && t.len() < p.len() + 24)
}

fn quote_start_at(lines: &[Line<'_>], i: usize) -> Option<QuoteKind> {
    let line = lines[i].text;
    if line.starts_with('>') {
        return Some(QuoteKind::Angle);
    }
    let t = trim(line);
    if t.is_empty() {
        return None;
    }
    if let Some(kind) = separator(t) {
        return Some(kind);
    }
    if is_attribution(lines, i) {
        return Some(QuoteKind::Attribution);
    }
    if is_outlook_block(lines, i) {
        return Some(QuoteKind::Outlook);
    }
    None
}

fn separator(t: &str) -> Option<QuoteKind> {
    let lower = t.to_lowercase();
    const FORWARD_PLAIN: [&str; 4] = [
        "begin forwarded message:",
        "anfang der weitergeleiteten nachricht:",
        "début du message réexpédié :",
        "comienzo del mensaje reenviado:",
    ];
    if FORWARD_PLAIN.contains(&lower.as_str()) {
        return Some(QuoteKind::Forward);
    }
    if !(t.starts_with("--") && t.ends_with("--")) {
        return None;
    }
    let inner = lower.trim_matches(|c: char| c == '-' || c.is_whitespace());
    const ORIGINAL: [&str; 6] = [
        "original message",
        "ursprüngliche nachricht",
        "originalnachricht",
        "message d'origine",
        "mensaje original",
        "messaggio originale",
    ];
    const FORWARD: [&str; 6] = [
        "forwarded message",
        "weitergeleitete nachricht",
        "message transféré",
        "mensaje reenviado",
        "messaggio inoltrato",
        "forwarded",
    ];
    if ORIGINAL.contains(&inner) {
        Some(QuoteKind::Outlook)
    } else if FORWARD.contains(&inner) {
        Some(QuoteKind::Forward)
    } else {
        None
    }
}

/// "On … wrote:" and friends, wrapped over up to three lines.
fn is_attribution(lines: &[Line<'_>], i: usize) -> bool {
    let first = trim(lines[i].text);
    const STARTS: [&str; 6] = ["On ", "Am ", "Le ", "El ", "Op ", "Il "];
    let starts = STARTS.iter().any(|s| first.starts_with(s));
    let mut joined = String::new();
    for line in lines.iter().skip(i).take(3) {
        let t = trim(line.text);
        if t.is_empty() {
            break;
        }
        if !joined.is_empty() {
            joined.push(' ');
        }
        joined.push_str(t);
        if joined.len() > 400 {
            return false;
        }
        if joined.ends_with(':') {
            let j = joined.replace('\u{a0}', " ");
            return (starts && attribution_end(&j)) || (j.ends_with(" wrote:") && j.contains('@'));
        }
    }
    false
}

fn attribution_end(j: &str) -> bool {
    j.ends_with("wrote:")
        || (j.starts_with("Am ") && j.contains(" schrieb"))
        || j.ends_with("a écrit :")
        || j.ends_with("a écrit:")
        || j.ends_with("escribió:")
        || (j.starts_with("Op ") && j.contains(" schreef"))
        || j.ends_with("ha scritto:")
}

fn field_name(line: &str) -> Option<String> {
    let t = trim(line);
    let (name, _) = t.split_once(':')?;
    let name = name.trim_end_matches(['*', ' ', '\u{a0}']);
    if name.is_empty() || name.len() > 16 {
        return None;
    }
    Some(name.to_lowercase())
}

fn is_outlook_block(lines: &[Line<'_>], i: usize) -> bool {
    const FROM: [&str; 4] = ["from", "von", "de", "da"];
    const SENT: [&str; 9] = [
        "sent", "gesendet", "envoyé", "enviado", "date", "datum", "inviato", "fecha", "data",
    ];
    const SUBJECT: [&str; 6] = [
        "subject",
        "betreff",
        "objet",
        "asunto",
        "oggetto",
        "onderwerp",
    ];
    if !field_name(lines[i].text).is_some_and(|n| FROM.contains(&n.as_str())) {
        return false;
    }
    let window = lines.iter().skip(i + 1).take(6);
    let mut sent = false;
    let mut subject = false;
    for l in window {
        if let Some(n) = field_name(l.text) {
            sent |= SENT.contains(&n.as_str());
            subject |= SUBJECT.contains(&n.as_str());
        }
    }
    sent && subject
}

/// An underscore or dash rule just above an Outlook block (blank lines between allowed).
fn rule_before(lines: &[Line<'_>], i: usize) -> Option<usize> {
    let mut j = i;
    while j > 0 {
        j -= 1;
        let t = trim(lines[j].text);
        if t.is_empty() {
            continue;
        }
        let rule = t.len() >= 8 && t.chars().all(|c| c == '_' || c == '-' || c == '—');
        return rule.then_some(j);
    }
    None
}

/// Non-quoted text after a `>` block (before any signature): answers written between quotes.
fn interleaved(lines: &[Line<'_>], i: usize) -> bool {
    let mut seen_quote = false;
    let mut answered_after = false;
    for l in lines.iter().skip(i) {
        if l.text.starts_with('>') {
            if answered_after {
                return true;
            }
            seen_quote = true;
            continue;
        }
        let t = trim(l.text);
        if t.is_empty() {
            continue;
        }
        if is_signature_line(l.text) {
            break;
        }
        if seen_quote {
            answered_after = true;
        }
    }
    answered_after
}

#[cfg(test)]
mod tests {
    use super::*;

    fn visible(text: &str) -> &str {
        &text[..split_quote(text).visible_end]
    }

    #[test]
    fn gmail_wrapped_attribution() {
        let t = "Thanks!\n\nOn Mon, 3 Mar 2026 at 10:00, Anna Berg <\nanna@example.com> wrote:\n\n> hi\n";
        let s = split_quote(t);
        assert_eq!(visible(t), "Thanks!");
        assert_eq!(s.kind, Some(QuoteKind::Attribution));
    }

    #[test]
    fn outlook_block_with_rule() {
        let t = "Yes.\n\n________________________________\nFrom: A <a@b.c>\nSent: Monday\nTo: x\nSubject: y\n\nold";
        let s = split_quote(t);
        assert_eq!(visible(t), "Yes.");
        assert_eq!(s.kind, Some(QuoteKind::Outlook));
        assert_eq!(
            &t[s.quote_start.unwrap()..s.quote_start.unwrap() + 4],
            "____"
        );
    }

    #[test]
    fn signature_and_interleaving() {
        let t = "Hi\n-- \nAnna\n";
        assert_eq!(visible(t), "Hi");
        let t = "> question one?\nanswer one\n> question two?\nanswer two\n";
        let s = split_quote(t);
        assert_eq!(s.kind, Some(QuoteKind::Interleaved));
        assert_eq!(visible(t), t.trim_end());
    }

    #[test]
    fn bare_forward_stays_visible() {
        let t = "---------- Forwarded message ---------\nFrom: A <a@b.c>\n\nbody";
        assert_eq!(visible(t), t);
    }

    #[test]
    fn plain_text_is_untouched() {
        let t = "On Monday the parcel came.\nIt was broken: see photo.";
        assert_eq!(split_quote(t).kind, None);
        assert_eq!(visible(t), t);
    }
}
