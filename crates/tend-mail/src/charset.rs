//! Repairs text whose charset label is wrong or missing: UTF-8 bytes labelled US-ASCII or
//! Latin-1 (common with old scripts), and Windows-1252 bytes labelled UTF-8 or left unlabelled.

use mail_parser::decoders::base64::base64_decode;
use mail_parser::decoders::charsets::map::charset_decoder;
use mail_parser::decoders::quoted_printable::quoted_printable_decode;
use mail_parser::{Encoding, MessagePart, MimeHeaders};

enum Label {
    Utf8,
    /// US-ASCII, Latin-1 or Windows-1252: labels that are often put on UTF-8 by mistake.
    Western,
    /// No label, or one no decoder knows.
    Unknown,
    /// Any other known charset: trusted as labelled.
    Other,
}

fn label(part: &MessagePart<'_>) -> Label {
    let Some(cs) = part.content_type().and_then(|ct| ct.attribute("charset")) else {
        return Label::Unknown;
    };
    let cs = cs.trim().trim_matches('"').to_ascii_lowercase();
    match cs.as_str() {
        "utf-8" | "utf8" => Label::Utf8,
        "us-ascii" | "ascii" | "iso-8859-1" | "latin1" | "iso8859-1" | "iso_8859-1"
        | "windows-1252" | "cp1252" | "iso-8859-15" => Label::Western,
        _ if charset_decoder(cs.as_bytes()).is_none() => Label::Unknown,
        _ => Label::Other,
    }
}

/// A part's body with the transfer encoding undone but the charset untouched: the bytes of a
/// text attachment as the sender's file had them. `None` when it does not decode.
pub fn decoded_body(part: &MessagePart<'_>, raw: &[u8]) -> Option<Vec<u8>> {
    if part.is_encoding_problem {
        return None;
    }
    let body = raw.get(part.offset_body as usize..part.offset_end as usize)?;
    match part.encoding {
        Encoding::Base64 => base64_decode(body),
        Encoding::QuotedPrintable => quoted_printable_decode(body),
        Encoding::None => Some(body.to_vec()),
    }
}

/// The part's text decoded again when its label looks wrong; `None` to keep mail-parser's.
pub fn repair(part: &MessagePart<'_>, raw: &[u8], current: &str) -> Option<String> {
    if part.is_encoding_problem {
        return None;
    }
    let label = label(part);
    if matches!(label, Label::Other) {
        return None;
    }
    if matches!(label, Label::Utf8) && !current.contains('\u{FFFD}') {
        return None;
    }
    if current.is_ascii() {
        return None;
    }
    let bytes = decoded_body(part, raw)?;
    if bytes.is_ascii() {
        return None;
    }
    match (std::str::from_utf8(&bytes), label) {
        (Ok(_), Label::Utf8) => None,
        (Ok(s), _) => Some(s.to_string()),
        (Err(_), Label::Western) => None,
        (Err(_), _) => charset_decoder(b"windows-1252").map(|d| d(&bytes)),
    }
}
