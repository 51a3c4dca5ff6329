//! Text analysis: one analyzer per language group, chosen from a locale's primary subtag.
//!
//! Every analyzer splits on anything that is not a letter or digit, lowercases, drops tokens
//! longer than [`MAX_TOKEN_CHARS`], stems (for the stemmed languages) and then folds accents
//! to ASCII. Stemming runs before folding because the French and Spanish stemmers use accents.
//! The query side runs the same analyzer, so `Remboursé` and `rembourse` meet at `rembours`.

use std::collections::HashMap;
use std::sync::OnceLock;
use tantivy::tokenizer::{
    AsciiFoldingFilter, Language, LowerCaser, RemoveLongFilter, SimpleTokenizer, Stemmer,
    StopWordFilter, TextAnalyzer, TokenizerManager,
};

/// Tokens longer than this (in bytes) are not indexed (ids, hashes, base64 junk).
pub const MAX_TOKEN_CHARS: usize = 48;

/// The language groups that get their own fields and analyzer. `Other` covers every other
/// language: lowercased and folded, not stemmed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Lang {
    En,
    De,
    Fr,
    Es,
    It,
    Nl,
    Pt,
    Other,
}

impl Lang {
    pub const ALL: [Lang; 8] = [
        Lang::En,
        Lang::De,
        Lang::Fr,
        Lang::Es,
        Lang::It,
        Lang::Nl,
        Lang::Pt,
        Lang::Other,
    ];

    /// The language group for a BCP 47 tag ("de-CH" → German); unknown or malformed → Other.
    pub fn of_locale(locale: &str) -> Lang {
        let primary = locale
            .split(['-', '_'])
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        match primary.as_str() {
            "en" => Lang::En,
            "de" | "gsw" => Lang::De,
            "fr" => Lang::Fr,
            "es" => Lang::Es,
            "it" => Lang::It,
            "nl" => Lang::Nl,
            "pt" => Lang::Pt,
            _ => Lang::Other,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::De => "de",
            Lang::Fr => "fr",
            Lang::Es => "es",
            Lang::It => "it",
            Lang::Nl => "nl",
            Lang::Pt => "pt",
            Lang::Other => "other",
        }
    }

    fn stemmer(self) -> Option<Language> {
        Some(match self {
            Lang::En => Language::English,
            Lang::De => Language::German,
            Lang::Fr => Language::French,
            Lang::Es => Language::Spanish,
            Lang::It => Language::Italian,
            Lang::Nl => Language::Dutch,
            Lang::Pt => Language::Portuguese,
            Lang::Other => return None,
        })
    }

    /// The tokenizer name registered for this group.
    pub fn tokenizer(self) -> &'static str {
        match self {
            Lang::En => "tend_en",
            Lang::De => "tend_de",
            Lang::Fr => "tend_fr",
            Lang::Es => "tend_es",
            Lang::It => "tend_it",
            Lang::Nl => "tend_nl",
            Lang::Pt => "tend_pt",
            Lang::Other => SIMPLE,
        }
    }

    pub fn analyzer(self) -> TextAnalyzer {
        match self.stemmer() {
            Some(l) => TextAnalyzer::builder(SimpleTokenizer::default())
                .filter(RemoveLongFilter::limit(MAX_TOKEN_CHARS))
                .filter(LowerCaser)
                .filter(Stemmer::new(l))
                .filter(AsciiFoldingFilter)
                .build(),
            None => simple_analyzer(),
        }
    }

    /// The first half of [`Lang::analyzer`]: split, drop long tokens, lowercase. With
    /// [`Lang::finish_analyzer`] run on each of its tokens it gives what `analyzer` gives (the
    /// remaining filters look at one token at a time), so a caller can finish each distinct
    /// word once (snippets: stemming every word of every hit's text was a third of a search).
    pub fn split_analyzer(self) -> TextAnalyzer {
        TextAnalyzer::builder(SimpleTokenizer::default())
            .filter(RemoveLongFilter::limit(MAX_TOKEN_CHARS))
            .filter(LowerCaser)
            .build()
    }

    /// The second half of [`Lang::analyzer`] for one lowercased word: stem (stemmed
    /// languages), then fold accents.
    pub fn finish_analyzer(self) -> TextAnalyzer {
        let raw = TextAnalyzer::builder(tantivy::tokenizer::RawTokenizer::default());
        match self.stemmer() {
            Some(l) => raw
                .filter(Stemmer::new(l))
                .filter(AsciiFoldingFilter)
                .build(),
            None => raw.filter(AsciiFoldingFilter).build(),
        }
    }

    /// Is `word` (lowercased, as typed) a stop word of this language? Stop words are still
    /// indexed (phrases need them) but a query leaves them out unless it has nothing else.
    pub fn is_stop_word(self, word: &str) -> bool {
        if EXTRA_STOP
            .iter()
            .any(|(l, ws)| *l == self && ws.contains(&word))
        {
            return true;
        }
        static FILTERS: OnceLock<HashMap<Lang, TextAnalyzer>> = OnceLock::new();
        let filters = FILTERS.get_or_init(|| {
            Lang::ALL
                .iter()
                .filter_map(|l| {
                    let f = StopWordFilter::new(l.stemmer()?)?;
                    let a = TextAnalyzer::builder(tantivy::tokenizer::RawTokenizer::default())
                        .filter(f)
                        .build();
                    Some((*l, a))
                })
                .collect()
        });
        let Some(a) = filters.get(&self) else {
            return false;
        };
        let mut a = a.clone();
        let mut s = a.token_stream(word);
        !s.advance()
    }
}

/// Question words and pronouns that the stock (Lucene/Snowball) English list keeps but that
/// carry nothing in a help-center question ("how do I …", "where is my …").
const EXTRA_STOP: &[(Lang, &[&str])] = &[(
    Lang::En,
    &[
        "i", "me", "my", "mine", "you", "your", "we", "our", "us", "he", "she", "his", "her",
        "them", "how", "what", "when", "where", "why", "which", "who", "do", "does", "did", "can",
        "could", "would", "should", "am", "have", "has", "had", "been", "from", "so", "please",
        "hi", "hello", "thanks", "any", "there", "get", "got",
    ],
)];

/// Lowercase + ASCII folding, no stemming: the `Other` group, tags, and prefix matching.
pub const SIMPLE: &str = "tend_simple";

pub fn simple_analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(MAX_TOKEN_CHARS))
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .build()
}

/// Registers every analyzer on an index's tokenizer manager (not persisted by tantivy).
pub fn register(m: &TokenizerManager) {
    for l in Lang::ALL {
        m.register(l.tokenizer(), l.analyzer());
    }
    m.register(SIMPLE, simple_analyzer());
}

/// Analyzes one word (already split on non-alphanumerics) to its single token, if any.
pub fn analyze_word(a: &mut TextAnalyzer, word: &str) -> Option<String> {
    let mut s = a.token_stream(word);
    let mut out = None;
    while s.advance() {
        if out.is_none() {
            out = Some(s.token().text.clone());
        }
    }
    out.filter(|t: &String| !t.is_empty())
}

/// A locale as stored: trimmed, lowercased, `_` → `-` ("de_CH" → "de-ch"); at most 35 bytes
/// of ASCII letters, digits and dashes (BCP 47's longest sensible tag), else empty.
pub fn normalize_locale(locale: &str) -> String {
    let l = locale.trim().replace('_', "-").to_ascii_lowercase();
    if l.is_empty() || l.len() > 35 || !l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        return String::new();
    }
    l
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stem(l: Lang, w: &str) -> String {
        analyze_word(&mut l.analyzer(), w).unwrap()
    }

    #[test]
    fn locales_pick_their_language_group() {
        assert_eq!(Lang::of_locale("de-CH"), Lang::De);
        assert_eq!(Lang::of_locale("pt_BR"), Lang::Pt);
        assert_eq!(Lang::of_locale("EN"), Lang::En);
        assert_eq!(Lang::of_locale("ja"), Lang::Other);
        assert_eq!(Lang::of_locale(""), Lang::Other);
        assert_eq!(Lang::of_locale("\u{0}--"), Lang::Other);
        assert_eq!(normalize_locale(" de_CH "), "de-ch");
        assert_eq!(normalize_locale("x\"><script>"), "");
    }

    #[test]
    fn stemming_meets_in_the_middle() {
        assert_eq!(stem(Lang::En, "payments"), stem(Lang::En, "payment"));
        assert_eq!(stem(Lang::De, "Rechnungen"), stem(Lang::De, "Rechnung"));
        assert_eq!(
            stem(Lang::Fr, "remboursements"),
            stem(Lang::Fr, "remboursement")
        );
        assert_eq!(stem(Lang::Es, "devoluciones"), stem(Lang::Es, "devolución"));
        assert_eq!(stem(Lang::Nl, "bestellingen"), stem(Lang::Nl, "bestelling"));
        assert_eq!(stem(Lang::It, "ordini"), stem(Lang::It, "ordine"));
        assert_eq!(stem(Lang::Pt, "encomendas"), stem(Lang::Pt, "encomenda"));
        assert_eq!(stem(Lang::Other, "Ärger"), "arger");
    }

    #[test]
    fn stop_words() {
        assert!(Lang::En.is_stop_word("the"));
        assert!(Lang::En.is_stop_word("how"));
        assert!(!Lang::En.is_stop_word("refund"));
        assert!(Lang::De.is_stop_word("und"));
        assert!(Lang::Fr.is_stop_word("le"));
        assert!(!Lang::Other.is_stop_word("the"));
    }
}
