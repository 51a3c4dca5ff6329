//! Per-ticket tokens: `HMAC-SHA256(secret, "tend-ticket:<id>")`, hex, truncated.
//!
//! - Reply-To plus-tag: `support+t123.abcdef1234@shop.example` (10 hex digits = 40 bits);
//! - subject tag: `[#123-abcdef]` (6 hex digits = 24 bits: a short, visible hint; a forged
//!   one still has to come from a participant to join, see [`crate::thread`]).
//!
//! Verification recomputes the MAC and compares in constant time.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::TicketId;

const ADDRESS_HEX: usize = 10;
const SUBJECT_HEX: usize = 6;

fn mac_hex(secret: &[u8], ticket_id: TicketId) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(b"tend-ticket:");
    mac.update(ticket_id.to_string().as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// The token that goes into a Reply-To plus-tag: `t<id>.<10 hex>`.
pub fn ticket_token(secret: &[u8], ticket_id: TicketId) -> String {
    format!(
        "t{ticket_id}.{}",
        &mac_hex(secret, ticket_id)[..ADDRESS_HEX]
    )
}

/// `base` with the ticket token as plus-tag: `support@shop.example` → `support+t123.abcdef1234@shop.example`.
/// A `base` without `@` is used as the local part as it is.
pub fn reply_to_address(base: &str, secret: &[u8], ticket_id: TicketId) -> String {
    let token = ticket_token(secret, ticket_id);
    match base.rsplit_once('@') {
        Some((local, domain)) => {
            let local = local.split_once('+').map_or(local, |(l, _)| l);
            format!("{local}+{token}@{domain}")
        }
        None => format!("{base}+{token}"),
    }
}

/// The subject tag: `[#123-abcdef]`.
pub fn subject_tag(secret: &[u8], ticket_id: TicketId) -> String {
    format!(
        "[#{ticket_id}-{}]",
        &mac_hex(secret, ticket_id)[..SUBJECT_HEX]
    )
}

/// Checks a hex MAC (of the address or subject length) for a ticket, in constant time.
pub fn verify_token(secret: &[u8], ticket_id: TicketId, mac: &str) -> bool {
    if mac.len() != ADDRESS_HEX && mac.len() != SUBJECT_HEX {
        return false;
    }
    let expected = mac_hex(secret, ticket_id);
    let expected = &expected.as_bytes()[..mac.len()];
    let given = mac.to_ascii_lowercase();
    expected.ct_eq(given.as_bytes()).into()
}

fn parse_id(s: &str) -> Option<TicketId> {
    if s.is_empty() || s.len() > 18 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok().filter(|id| *id > 0)
}

/// A verified ticket id from a plus-tagged address (`local+t123.abcdef1234@domain`).
pub fn find_token_address(secret: &[u8], address: &str) -> Option<TicketId> {
    let (local, _) = address.rsplit_once('@')?;
    let (_, tag) = local.split_once('+')?;
    let rest = tag.strip_prefix('t').or_else(|| tag.strip_prefix('T'))?;
    let (id, mac) = rest.split_once('.')?;
    let id = parse_id(id)?;
    (mac.len() == ADDRESS_HEX && verify_token(secret, id, mac)).then_some(id)
}

/// A verified ticket id from a `[#123-abcdef]` tag anywhere in a subject.
pub fn find_subject_tag(secret: &[u8], subject: &str) -> Option<TicketId> {
    let mut rest = subject;
    while let Some(pos) = rest.find("[#") {
        let after = &rest[pos + 2..];
        if let Some(end) = after.find(']') {
            if let Some((id, mac)) = after[..end].split_once('-') {
                if let Some(id) = parse_id(id) {
                    if mac.len() == SUBJECT_HEX && verify_token(secret, id, mac) {
                        return Some(id);
                    }
                }
            }
        }
        rest = after;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"test-secret";

    #[test]
    fn tokens_round_trip() {
        let addr = reply_to_address("support@shop.example", KEY, 123);
        assert!(addr.starts_with("support+t123."));
        assert_eq!(find_token_address(KEY, &addr), Some(123));
        assert_eq!(find_token_address(b"other", &addr), None);
        let tag = subject_tag(KEY, 123);
        assert_eq!(find_subject_tag(KEY, &format!("Re: Help {tag}")), Some(123));
        assert_eq!(find_subject_tag(KEY, "Re: [#124-abcdef]"), None);
        // another ticket's MAC does not verify
        let other = subject_tag(KEY, 124);
        let forged = other.replace("124", "123");
        assert_eq!(find_subject_tag(KEY, &forged), None);
    }

    #[test]
    fn malformed_tokens_are_ignored() {
        for a in [
            "support+t.abc@x.y",
            "support+t-1.abcdef1234@x.y",
            "support+t99999999999999999999.abcdef1234@x.y",
            "support+t1@x.y",
            "support@x.y",
        ] {
            assert_eq!(find_token_address(KEY, a), None, "{a}");
        }
        assert_eq!(find_subject_tag(KEY, "[#"), None);
        assert_eq!(find_subject_tag(KEY, "[#1-é]"), None);
    }
}
