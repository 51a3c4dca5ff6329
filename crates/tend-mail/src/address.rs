use serde::{Deserialize, Serialize};

/// One address with its display name, both cleaned of control characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mailbox {
    pub address: String,
    pub name: Option<String>,
}

impl Mailbox {
    pub fn new(address: &str, name: Option<&str>) -> Mailbox {
        let name = name.map(clean_line).filter(|n| !n.is_empty());
        Mailbox {
            address: clean_address(address),
            name,
        }
    }

    /// The address lower-cased, for comparisons (participants, duplicates).
    pub fn key(&self) -> String {
        normalize_address(&self.address)
    }
}

/// Lower-cases and trims an address for comparison.
pub fn normalize_address(address: &str) -> String {
    address
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .trim()
        .to_lowercase()
}

fn clean_address(address: &str) -> String {
    address
        .chars()
        .filter(|c| !c.is_control() && !c.is_whitespace() && *c != '<' && *c != '>')
        .collect()
}

/// A single display line: control characters (CR, LF, NUL, …) become spaces, runs of white space
/// collapse, and the ends are trimmed. This defeats header injection through decoded
/// encoded-words (`=?utf-8?q?x=0D=0ABcc:_y?=`) or raw bytes.
pub fn clean_line(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut space = false;
    for c in s.chars() {
        let c = if c.is_control() || c.is_whitespace() || is_bidi_control(c) {
            ' '
        } else {
            c
        };
        if c == ' ' {
            space = true;
        } else {
            if space && !out.is_empty() {
                out.push(' ');
            }
            space = false;
            out.push(c);
        }
    }
    out
}

fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}')
}

/// Finds the first thing shaped like an e-mail address in free text: inside `<…>` or `[mailto:…]`
/// first, else a bare `local@domain` word.
pub fn find_address(text: &str) -> Option<String> {
    if let Some(start) = text.find("mailto:") {
        let rest = &text[start + 7..];
        let end = rest
            .find(|c: char| c == ']' || c == '>' || c == ')' || c.is_whitespace())
            .unwrap_or(rest.len());
        if let Some(a) = plausible(&rest[..end]) {
            return Some(a);
        }
    }
    let mut rest = text;
    while let Some(open) = rest.find('<') {
        let after = &rest[open + 1..];
        if let Some(close) = after.find('>') {
            if let Some(a) = plausible(&after[..close]) {
                return Some(a);
            }
            rest = &after[close + 1..];
        } else {
            break;
        }
    }
    text.split(|c: char| c.is_whitespace() || "<>()[],;:\"'".contains(c))
        .find_map(plausible)
}

fn plausible(word: &str) -> Option<String> {
    let w = word.trim().trim_end_matches('.');
    let (local, domain) = w.rsplit_once('@')?;
    if local.is_empty()
        || local.len() > 64
        || domain.len() < 3
        || !domain.contains('.')
        || domain.starts_with('.')
        || domain.ends_with('.')
        || w.len() > 254
    {
        return None;
    }
    let ok_local = local
        .chars()
        .all(|c| c.is_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c));
    let ok_domain = domain
        .chars()
        .all(|c| c.is_alphanumeric() || c == '-' || c == '.');
    (ok_local && ok_domain).then(|| w.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_lose_control_characters() {
        assert_eq!(clean_line("Hello\r\nBcc: x@y.z"), "Hello Bcc: x@y.z");
        assert_eq!(clean_line("  a \t b\u{0}c "), "a b c");
        assert_eq!(clean_line("evil\u{202E}txt.exe"), "evil txt.exe");
    }

    #[test]
    fn addresses_are_found_in_text() {
        assert_eq!(
            find_address("From: Anna Berg <anna@example.com>").as_deref(),
            Some("anna@example.com")
        );
        assert_eq!(
            find_address("From: Anna Berg [mailto:anna@example.com]").as_deref(),
            Some("anna@example.com")
        );
        assert_eq!(
            find_address("Von: anna@example.com").as_deref(),
            Some("anna@example.com")
        );
        assert_eq!(find_address("From: nobody"), None);
    }
}
