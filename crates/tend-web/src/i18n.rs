//! Which language a customer-facing page or mail is in: one [`negotiate`] for the help
//! center, the portal, the contact form and the customer mails.
//!
//! Order: the customer's own `language` (when we know who it is), then the `Accept-Language`
//! header by q-value (ties in header order), then the brand's default, then English (or the
//! first available language when English is not among them). Each wish matches an available
//! language exactly, then by primary language (`de-CH` → `de`, `de` → `de-AT`). Tags that are
//! not BCP 47 language tags are ignored. The surfaces keep their own strings tables
//! (`helpcenter::strings`, `portal::strings`); this module only chooses.

use tend_store::kb::{parse_locale, primary_language};

/// The languages the portal, the contact form and the customer mails are written in.
pub const CUSTOMER_LANGUAGES: &[&str] = &["en", "de", "fr", "es"];

/// Longest Accept-Language header considered (longer ones are cut; the rest ignored).
const ACCEPT_MAX: usize = 512;

/// What is known about the reader's language.
#[derive(Debug, Clone, Copy, Default)]
pub struct Wishes<'a> {
    /// The customer's stored language (`customers.language`).
    pub customer: Option<&'a str>,
    /// The raw `Accept-Language` header.
    pub accept: Option<&'a str>,
    /// The brand's `default_locale`.
    pub brand_default: Option<&'a str>,
}

impl<'a> Wishes<'a> {
    /// Only the browser's header (e.g. the help center's `/help` redirect).
    pub fn accept(accept: Option<&'a str>) -> Wishes<'a> {
        Wishes {
            accept,
            ..Default::default()
        }
    }
}

/// The `Accept-Language` entries, best first: (q, position, normalised tag). `*`, q=0 and
/// malformed tags are dropped.
pub fn parse_accept_language(header: &str) -> Vec<String> {
    let header = match header.char_indices().nth(ACCEPT_MAX) {
        Some((i, _)) => &header[..i],
        None => header,
    };
    let mut wanted: Vec<(f32, usize, String)> = Vec::new();
    for (i, part) in header.split(',').enumerate().take(50) {
        let mut it = part.split(';');
        let tag = it.next().unwrap_or("").trim();
        let q = it
            .find_map(|p| p.trim().strip_prefix("q="))
            .map(|q| q.trim().parse::<f32>().unwrap_or(0.0))
            .unwrap_or(1.0);
        if q.is_nan() || q <= 0.0 || tag.is_empty() || tag == "*" {
            continue;
        }
        if let Ok(l) = parse_locale(tag) {
            wanted.push((q.min(1.0), i, l));
        }
    }
    wanted.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    wanted.into_iter().map(|w| w.2).collect()
}

/// The available language that matches `wish`: exact (case-insensitive), then the wish's
/// primary language, then an available language with the same primary language.
fn matching<S: AsRef<str>>(wish: &str, available: &[S]) -> Option<String> {
    let exact = available
        .iter()
        .find(|a| a.as_ref().eq_ignore_ascii_case(wish));
    let p = primary_language(wish);
    exact
        .or_else(|| {
            available
                .iter()
                .find(|a| a.as_ref().eq_ignore_ascii_case(p))
        })
        .or_else(|| {
            available
                .iter()
                .find(|a| primary_language(a.as_ref()).eq_ignore_ascii_case(p))
        })
        .map(|a| a.as_ref().to_string())
}

/// The language to use among `available`, see the module comment. Never fails: with nothing
/// available it answers `en`.
pub fn negotiate<S: AsRef<str>>(w: Wishes<'_>, available: &[S]) -> String {
    let stored = w.customer.and_then(|c| parse_locale(c).ok()).into_iter();
    let header = w
        .accept
        .map(parse_accept_language)
        .unwrap_or_default()
        .into_iter();
    let brand = w
        .brand_default
        .and_then(|b| parse_locale(b).ok())
        .into_iter();
    for wish in stored.chain(header).chain(brand) {
        if let Some(l) = matching(&wish, available) {
            return l;
        }
    }
    if available.is_empty() {
        return "en".into();
    }
    matching("en", available).unwrap_or_else(|| available[0].as_ref().to_string())
}

/// [`negotiate`] among the customer languages (a `&'static str` from [`CUSTOMER_LANGUAGES`]).
pub fn customer_language(w: Wishes<'_>) -> &'static str {
    let l = negotiate(w, CUSTOMER_LANGUAGES);
    CUSTOMER_LANGUAGES
        .iter()
        .find(|c| **c == l)
        .copied()
        .unwrap_or("en")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pick(customer: Option<&str>, accept: Option<&str>, brand: Option<&str>) -> &'static str {
        customer_language(Wishes {
            customer,
            accept,
            brand_default: brand,
        })
    }

    #[test]
    fn the_customers_language_wins_then_the_header_then_the_brand() {
        assert_eq!(pick(Some("de"), Some("fr"), Some("es")), "de");
        assert_eq!(pick(None, Some("fr-CA,fr;q=0.9"), Some("es")), "fr");
        assert_eq!(pick(None, None, Some("es-MX")), "es");
        assert_eq!(pick(None, None, None), "en");
        // An unknown or malformed stored language falls through to the next wish.
        assert_eq!(pick(Some("ja"), Some("es"), None), "es");
        assert_eq!(pick(Some("not a tag"), None, Some("de")), "de");
        assert_eq!(pick(Some("pt-BR"), Some("ja, ko;q=0.5"), None), "en");
    }

    #[test]
    fn q_values_order_the_header() {
        assert_eq!(pick(None, Some("en;q=0.2, de;q=0.8, fr;q=0.5"), None), "de");
        assert_eq!(pick(None, Some("es;q=0, fr"), None), "fr");
        assert_eq!(pick(None, Some("*, de;q=0.1"), None), "de");
        // Equal q: header order.
        assert_eq!(pick(None, Some("fr;q=0.5, es;q=0.5"), None), "fr");
        // A malformed q counts as 0 (not 1).
        assert_eq!(pick(None, Some("es;q=abc, de;q=0.3"), None), "de");
        assert_eq!(
            parse_accept_language("de-ch, en;q=0.3, xx_YY, *;q=0.1"),
            vec!["de-CH".to_string(), "en".to_string()]
        );
        // A huge header is cut, not refused.
        let long = format!("{}de", "x-y;q=0.1,".repeat(200));
        assert_eq!(pick(None, Some(&long), None), "en");
    }

    #[test]
    fn regional_tags_match_their_language_both_ways() {
        let avail = ["en", "de-AT", "pt-BR"];
        assert_eq!(negotiate(Wishes::accept(Some("de")), &avail), "de-AT");
        assert_eq!(negotiate(Wishes::accept(Some("pt-PT")), &avail), "pt-BR");
        assert_eq!(negotiate(Wishes::accept(Some("ja")), &avail), "en");
        let none: [&str; 0] = [];
        assert_eq!(negotiate(Wishes::accept(Some("de")), &none), "en");
        assert_eq!(negotiate(Wishes::accept(None), &["fr", "de"]), "fr");
    }
}
