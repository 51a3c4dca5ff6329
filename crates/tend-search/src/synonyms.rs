//! Query-time synonyms for help-center search (not used for tickets, where agents search for
//! exact words). A small built-in English table of shop vocabulary: customers say "money
//! back" where articles say "refund". A synonym match adds its alternatives as optional
//! words at a lower weight; it never removes a hit.
//!
//! Patterns are one word or two words (the second may follow after one other word:
//! "send *it* back"); alternatives are one or two words (two: matched as a phrase).

use crate::analysis::Lang;

/// Shop and account vocabulary in English (lowercase, as typed).
const EN: &[(&str, &[&str])] = &[
    ("package", &["parcel", "shipment"]),
    ("parcel", &["package", "shipment"]),
    ("shipment", &["parcel", "delivery"]),
    ("shipping", &["delivery"]),
    ("delivery", &["shipping"]),
    ("deliver", &["ship"]),
    ("money back", &["refund"]),
    ("reimbursement", &["refund"]),
    ("reimburse", &["refund"]),
    ("send back", &["return"]),
    ("bring back", &["return"]),
    ("log in", &["sign in", "login"]),
    ("login", &["sign in", "log in"]),
    ("sign in", &["log in", "login"]),
    ("signin", &["sign in"]),
    ("coupon", &["voucher", "discount code"]),
    ("promo code", &["discount code", "voucher"]),
    ("promo", &["discount"]),
    ("promotion", &["discount"]),
    ("discount code", &["voucher", "coupon"]),
    ("receipt", &["invoice"]),
    ("bill", &["invoice"]),
    ("broken", &["damaged", "defect", "faulty"]),
    ("damaged", &["broken"]),
    ("defective", &["defect", "faulty", "broken"]),
    ("faulty", &["defect", "broken"]),
    ("stopped working", &["defect", "fault", "repair"]),
    ("guarantee", &["warranty"]),
    ("2fa", &["two factor"]),
    ("mfa", &["two factor"]),
    ("two step", &["two factor"]),
    ("unsubscribe", &["opt out"]),
    ("opt out", &["unsubscribe"]),
    ("installments", &["instalments"]),
    ("instalments", &["installments"]),
    ("installment", &["instalment"]),
    ("color", &["colour"]),
    ("colour", &["color"]),
    ("sold out", &["out of stock"]),
    ("out of stock", &["sold out"]),
    ("unavailable", &["out of stock"]),
    ("restock", &["back in stock"]),
    ("swap", &["exchange"]),
    ("replace", &["exchange", "replacement"]),
    ("pickup", &["pick up", "collect"]),
    ("pick up", &["pickup"]),
    ("collection point", &["pickup point"]),
    ("cancellation", &["cancel"]),
    ("customs", &["import duties"]),
    ("duties", &["customs"]),
    ("tax", &["vat"]),
    ("e mail", &["email"]),
    ("telephone", &["phone"]),
    ("gdpr", &["privacy", "personal data"]),
    ("incorrect", &["wrong"]),
    ("cost", &["price"]),
    ("fee", &["costs", "charge"]),
];

/// Alternatives (each one or two words) for the words of a query in sequence (`(position,
/// word)`, stop words included).
pub fn expansions(lang: Lang, seq: &[(usize, String)]) -> Vec<Vec<&'static str>> {
    let table = match lang {
        Lang::En => EN,
        _ => return Vec::new(),
    };
    let mut out: Vec<Vec<&'static str>> = Vec::new();
    for (pattern, alts) in table {
        let parts: Vec<&str> = pattern.split(' ').collect();
        let hit = match parts.as_slice() {
            [one] => seq.iter().any(|(_, w)| w == one),
            [a, b] => seq.iter().enumerate().any(|(i, (p, w))| {
                w == a
                    && seq[i + 1..]
                        .iter()
                        .take(2)
                        .any(|(q, x)| x == b && *q <= p + 2)
            }),
            _ => false,
        };
        if hit {
            for alt in *alts {
                let words: Vec<&'static str> = alt.split(' ').collect();
                if !out.contains(&words) {
                    out.push(words);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seq(s: &str) -> Vec<(usize, String)> {
        s.split(' ')
            .enumerate()
            .map(|(i, w)| (i, w.to_string()))
            .collect()
    }

    #[test]
    fn one_and_two_word_patterns() {
        assert_eq!(
            expansions(Lang::En, &seq("my money back")),
            vec![vec!["refund"]]
        );
        assert_eq!(
            expansions(Lang::En, &seq("send it back")),
            vec![vec!["return"]]
        );
        assert!(expansions(Lang::En, &seq("send a parcel to me back")).contains(&vec!["package"]));
        assert!(!expansions(Lang::En, &seq("send a parcel to me back")).contains(&vec!["return"]));
        assert_eq!(
            expansions(Lang::En, &seq("2fa")),
            vec![vec!["two", "factor"]]
        );
        assert!(expansions(Lang::De, &seq("money back")).is_empty());
    }
}
