//! Raw bytes → [`Inbound`].

use chrono::{DateTime, FixedOffset, TimeZone};
use mail_parser::{
    Address, HeaderName, HeaderValue, Message, MessageParser, MessagePart, MimeHeaders, PartType,
};
use serde::{Deserialize, Serialize};
use tend_core::html::{html_to_text, sanitize, text_to_html};

use crate::address::{clean_line, Mailbox};
use crate::charset;
use crate::dsn::{self, Bounce};
use crate::quote::{split_quote, QuoteSplit};

/// The limits [`parse`] enforces. Crossing one rejects the mail, except the HTML size and link
/// count, which truncate the display HTML (recorded in [`Inbound::truncations`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_raw_bytes: usize,
    pub max_parts: usize,
    pub max_depth: usize,
    pub max_attachment_bytes: usize,
    pub max_html_bytes: usize,
    pub max_links: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_raw_bytes: 30 * 1024 * 1024,
            max_parts: 100,
            max_depth: 20,
            max_attachment_bytes: 25 * 1024 * 1024,
            max_html_bytes: 2 * 1024 * 1024,
            max_links: 10_000,
        }
    }
}

/// A mail that is not taken in, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("mail rejected: {reason}")]
pub struct Rejected {
    pub reason: RejectReason,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum RejectReason {
    #[error("the mail is {size} bytes, over the limit of {limit}")]
    TooLarge { size: usize, limit: usize },
    #[error("the mail has {count} MIME parts, over the limit of {limit}")]
    TooManyParts { count: usize, limit: usize },
    #[error("MIME parts are nested {depth} deep, over the limit of {limit}")]
    TooDeep { depth: usize, limit: usize },
    #[error("an attachment is {size} bytes, over the limit of {limit}")]
    AttachmentTooLarge { size: usize, limit: usize },
    #[error("no header could be read")]
    NotAMessage,
    /// mail-parser panicked (only seen with debug assertions on); the panic was contained.
    #[error("the MIME parser failed")]
    ParserFailed,
}

impl From<RejectReason> for Rejected {
    fn from(reason: RejectReason) -> Self {
        Rejected { reason }
    }
}

/// Something cut short for display; the mail itself was taken in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Truncation {
    /// The HTML was longer than the limit; the display HTML holds its first `kept` bytes.
    Html { original_bytes: usize, kept: usize },
    /// The HTML had more links than the limit; the display HTML stops before link `limit + 1`.
    Links { count: usize, limit: usize },
}

/// One attachment or inline part (images referenced as `cid:` from the HTML).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    pub filename: Option<String>,
    /// `type/subtype`, lower-cased, as the mail declared it (`application/octet-stream` if none).
    pub content_type: String,
    /// Without the angle brackets.
    pub content_id: Option<String>,
    /// Shown inside the message (a `cid:` image) rather than listed. Never true for SVG, which
    /// can carry script: it is always listed as a download.
    pub inline: bool,
    pub data: Vec<u8>,
}

/// The loop and list headers, trimmed and unfolded, as they came.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoopHeaders {
    pub auto_submitted: Option<String>,
    pub precedence: Option<String>,
    pub x_autoreply: Option<String>,
    pub x_autorespond: Option<String>,
    pub x_auto_response_suppress: Option<String>,
    pub list_id: Option<String>,
    pub list_unsubscribe: Option<String>,
    /// `Some("")` for `Return-Path: <>` (the null sender of bounces and auto-replies).
    pub return_path: Option<String>,
}

/// A parsed mail, owned, ready to be stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inbound {
    pub from: Option<Mailbox>,
    /// The Sender header, when it differs from From (mailing lists, delegates).
    pub sender: Option<Mailbox>,
    pub to: Vec<Mailbox>,
    pub cc: Vec<Mailbox>,
    pub reply_to: Vec<Mailbox>,
    /// Addresses the mail was delivered to (Delivered-To, X-Original-To), for plus-tag tokens.
    pub delivered_to: Vec<String>,
    /// Decoded, on one line: CR, LF and other control characters removed.
    pub subject: String,
    /// Without angle brackets.
    pub message_id: Option<String>,
    pub in_reply_to: Vec<String>,
    pub references: Vec<String>,
    pub date: Option<DateTime<FixedOffset>>,
    pub loop_headers: LoopHeaders,
    /// The full plain text: from text/plain, else derived from the HTML. Line ends are `\n`.
    pub body_text: String,
    /// `body_text` without quoted history and signature.
    pub body_text_visible: String,
    pub quote: QuoteSplit,
    /// Sanitized HTML for display, if the mail had HTML.
    pub body_html: Option<String>,
    pub attachments: Vec<Attachment>,
    /// The delivery status report, if the mail is a DSN (`multipart/report`).
    pub dsn: Option<Bounce>,
    pub truncations: Vec<Truncation>,
    /// Some part could not be decoded as declared (bad base64, truncated MIME, …) and was kept
    /// as best it could.
    pub damaged: bool,
    pub part_count: usize,
    pub max_depth: usize,
}

impl Inbound {
    pub fn has_html(&self) -> bool {
        self.body_html.is_some()
    }
    /// From's address, lower-cased.
    pub fn sender_key(&self) -> Option<String> {
        self.from
            .as_ref()
            .map(Mailbox::key)
            .filter(|k| !k.is_empty())
    }
}

/// Parses with the default [`Limits`].
pub fn parse(raw: &[u8]) -> Result<Inbound, Rejected> {
    parse_with(raw, &Limits::default())
}

pub fn parse_with(raw: &[u8], limits: &Limits) -> Result<Inbound, Rejected> {
    if raw.len() > limits.max_raw_bytes {
        return Err(RejectReason::TooLarge {
            size: raw.len(),
            limit: limits.max_raw_bytes,
        }
        .into());
    }
    // mail-parser promises never to panic, but 0.11.9 has `debug_assert!`s that crafted input
    // reaches (found by fuzzing, see tests/regressions). Builds with debug assertions would
    // panic there; with the default panic=unwind that becomes a rejection, not a dead worker.
    let parsed = std::panic::catch_unwind(|| MessageParser::default().parse(raw))
        .map_err(|_| Rejected::from(RejectReason::ParserFailed))?;
    let message = parsed.ok_or(RejectReason::NotAMessage)?;
    // At least one header that RFC 5322 or MIME defines: random bytes with colons are not mail.
    let known_header = message.parts.first().is_some_and(|p| {
        p.headers
            .iter()
            .any(|h| !matches!(h.name, HeaderName::Other(_)))
    });
    if !known_header {
        return Err(RejectReason::NotAMessage.into());
    }

    let (part_count, max_depth, damaged) = shape(&message);
    if max_depth > limits.max_depth {
        return Err(RejectReason::TooDeep {
            depth: max_depth,
            limit: limits.max_depth,
        }
        .into());
    }
    if part_count > limits.max_parts {
        return Err(RejectReason::TooManyParts {
            count: part_count,
            limit: limits.max_parts,
        }
        .into());
    }

    let attachments = attachments(&message, limits)?;
    let mut truncations = Vec::new();
    let (body_text, body_html) = bodies(&message, limits, &mut truncations);
    let quote = split_quote(&body_text);
    let body_text_visible = body_text[..quote.visible_end].to_string();

    Ok(Inbound {
        from: first_mailbox(message.from()),
        sender: first_mailbox(message.sender()),
        to: mailboxes(message.to()),
        cc: mailboxes(message.cc()),
        reply_to: mailboxes(message.reply_to()),
        delivered_to: delivered_to(&message),
        subject: message.subject().map(clean_line).unwrap_or_default(),
        message_id: message.message_id().and_then(clean_id),
        in_reply_to: ids(message.in_reply_to()),
        references: ids(message.references()),
        date: message.date().and_then(|d| {
            let offset = (d.tz_hour as i32 * 3600 + d.tz_minute as i32 * 60)
                * if d.tz_before_gmt { -1 } else { 1 };
            let tz = FixedOffset::east_opt(offset)?;
            tz.timestamp_opt(d.to_timestamp(), 0).single()
        }),
        loop_headers: loop_headers(&message),
        body_text,
        body_text_visible,
        quote,
        body_html,
        attachments,
        dsn: dsn::from_message(&message),
        truncations,
        damaged,
        part_count,
        max_depth,
    })
}

/// Counts parts (nested messages included) and the deepest nesting, without recursion.
fn shape(message: &Message<'_>) -> (usize, usize, bool) {
    let mut count = 0;
    let mut deepest = 0;
    let mut damaged = false;
    let mut stack: Vec<(&Message<'_>, u32, usize)> = vec![(message, 0, 0)];
    while let Some((msg, id, depth)) = stack.pop() {
        let Some(part) = msg.parts.get(id as usize) else {
            continue;
        };
        count += 1;
        deepest = deepest.max(depth);
        damaged |= part.is_encoding_problem;
        if count > 100_000 {
            break;
        }
        match &part.body {
            PartType::Multipart(children) => {
                for child in children {
                    // Guard against a malformed tree pointing at itself.
                    if *child != id {
                        stack.push((msg, *child, depth + 1));
                    }
                }
            }
            PartType::Message(inner) => stack.push((inner, 0, depth + 1)),
            _ => {}
        }
    }
    (count, deepest, damaged)
}

fn clean_id(id: &str) -> Option<String> {
    let id = clean_line(id);
    let id = id.trim_start_matches('<').trim_end_matches('>').trim();
    (!id.is_empty()).then(|| id.chars().take(998).collect())
}

fn ids(value: &HeaderValue<'_>) -> Vec<String> {
    match value {
        HeaderValue::Text(t) => clean_id(t).into_iter().collect(),
        HeaderValue::TextList(list) => list.iter().filter_map(|t| clean_id(t)).take(200).collect(),
        _ => Vec::new(),
    }
}

fn first_mailbox(addr: Option<&Address<'_>>) -> Option<Mailbox> {
    mailboxes(addr).into_iter().next()
}

fn mailboxes(addr: Option<&Address<'_>>) -> Vec<Mailbox> {
    let Some(addr) = addr else {
        return Vec::new();
    };
    addr.iter()
        .filter_map(|a| {
            let address = a.address.as_deref()?;
            let mb = Mailbox::new(address, a.name.as_deref());
            (!mb.address.is_empty()).then_some(mb)
        })
        .take(500)
        .collect()
}

fn raw_header(message: &Message<'_>, name: &str) -> Option<String> {
    let part = message.parts.first()?;
    let header = part
        .headers
        .iter()
        .find(|h| h.name.as_str().eq_ignore_ascii_case(name))?;
    let bytes = message
        .raw_message
        .get(header.offset_start as usize..header.offset_end as usize)?;
    Some(clean_line(&String::from_utf8_lossy(bytes)))
}

fn delivered_to(message: &Message<'_>) -> Vec<String> {
    let Some(part) = message.parts.first() else {
        return Vec::new();
    };
    part.headers
        .iter()
        .filter(|h| {
            let n = h.name.as_str();
            n.eq_ignore_ascii_case("Delivered-To")
                || n.eq_ignore_ascii_case("X-Original-To")
                || n.eq_ignore_ascii_case("Envelope-To")
        })
        .filter_map(|h| {
            message
                .raw_message
                .get(h.offset_start as usize..h.offset_end as usize)
        })
        .map(|b| {
            clean_line(&String::from_utf8_lossy(b))
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_string()
        })
        .filter(|s| !s.is_empty())
        .take(20)
        .collect()
}

fn loop_headers(message: &Message<'_>) -> LoopHeaders {
    LoopHeaders {
        auto_submitted: raw_header(message, "Auto-Submitted"),
        precedence: raw_header(message, "Precedence"),
        x_autoreply: raw_header(message, "X-Autoreply"),
        x_autorespond: raw_header(message, "X-Autorespond"),
        x_auto_response_suppress: raw_header(message, "X-Auto-Response-Suppress"),
        list_id: raw_header(message, "List-Id"),
        list_unsubscribe: raw_header(message, "List-Unsubscribe"),
        return_path: raw_header(message, "Return-Path").map(|r| {
            r.trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .trim()
                .to_string()
        }),
    }
}

fn mime_type(part: &MessagePart<'_>) -> String {
    match part.content_type() {
        Some(ct) => {
            let t = clean_line(&ct.c_type).to_ascii_lowercase();
            match ct.c_subtype.as_deref() {
                Some(st) => format!("{t}/{}", clean_line(st).to_ascii_lowercase()),
                None => t,
            }
        }
        None => "application/octet-stream".to_string(),
    }
}

fn attachments(message: &Message<'_>, limits: &Limits) -> Result<Vec<Attachment>, Rejected> {
    let mut out = Vec::new();
    for id in &message.attachments {
        let Some(part) = message.parts.get(*id as usize) else {
            continue;
        };
        let data: Vec<u8> = match &part.body {
            PartType::Binary(b) | PartType::InlineBinary(b) => b.to_vec(),
            PartType::Text(t) | PartType::Html(t) => {
                charset::decoded_body(part, &message.raw_message)
                    .unwrap_or_else(|| t.as_bytes().to_vec())
            }
            PartType::Message(m) => m.raw_message.to_vec(),
            PartType::Multipart(_) => continue,
        };
        if data.len() > limits.max_attachment_bytes {
            return Err(RejectReason::AttachmentTooLarge {
                size: data.len(),
                limit: limits.max_attachment_bytes,
            }
            .into());
        }
        let content_type = mime_type(part);
        let content_id = part.content_id().and_then(clean_id);
        let disposition_inline = part
            .content_disposition()
            .is_some_and(|d| d.c_type.eq_ignore_ascii_case("inline"));
        let disposition_attachment = part
            .content_disposition()
            .is_some_and(|d| d.c_type.eq_ignore_ascii_case("attachment"));
        let is_svg = content_type.contains("svg")
            || part
                .attachment_name()
                .is_some_and(|n| n.to_ascii_lowercase().trim_end().ends_with(".svg"));
        let is_image = content_type.starts_with("image/");
        let inline = !is_svg
            && is_image
            && !disposition_attachment
            && (disposition_inline
                || content_id.is_some()
                || matches!(part.body, PartType::InlineBinary(_)));
        let filename = part.attachment_name().and_then(clean_filename);
        if *id == 0 && root_fallback_text(message).is_some() {
            continue;
        }
        out.push(Attachment {
            filename,
            content_type,
            content_id,
            inline,
            data,
        });
    }
    Ok(out)
}

/// At most one empty line in a row: HTML layouts leave many.
fn collapse_blank_lines(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank = 0;
    for line in text.split('\n') {
        let line = line.trim_end();
        if line.is_empty() {
            blank += 1;
            if blank > 1 {
                continue;
            }
        } else {
            blank = 0;
        }
        out.push_str(line);
        out.push('\n');
    }
    out.trim_end().to_string()
}

/// The root part's content when mail-parser put it among the attachments although it is the
/// only body: text of an unknown subtype, or a multipart whose boundary is missing.
fn root_fallback_text(message: &Message<'_>) -> Option<String> {
    if !message.text_body.is_empty() || !message.html_body.is_empty() {
        return None;
    }
    let root = message.parts.first()?;
    if root.attachment_name().is_some() {
        return None;
    }
    let mime = mime_type(root);
    if !(mime.starts_with("text/") || mime.starts_with("multipart/")) {
        return None;
    }
    match &root.body {
        PartType::Text(t) => Some(part_text(message, root, t)),
        PartType::Binary(b) => Some(String::from_utf8_lossy(b).into_owned()),
        _ => None,
    }
}

/// The last path component, on one line: `..\\..\\etc/passwd` → `passwd`.
fn clean_filename(name: &str) -> Option<String> {
    let line = clean_line(name);
    let last = line.rsplit(['/', '\\']).next().unwrap_or("").trim();
    let last = last.trim_start_matches('.').trim();
    (!last.is_empty()).then(|| last.chars().take(255).collect())
}

/// Drops `<head>…</head>` (title, meta, styles): its text is not part of the message.
fn strip_head(html: &str) -> std::borrow::Cow<'_, str> {
    let lower_prefix: String = html
        .chars()
        .take(64 * 1024)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    let Some(start) = lower_prefix
        .match_indices("<head")
        .map(|(i, _)| i)
        .find(|&i| {
            lower_prefix[i + 5..]
                .chars()
                .next()
                .is_some_and(|c| c == '>' || c.is_ascii_whitespace())
        })
    else {
        return html.into();
    };
    let Some(end) = lower_prefix[start..].find("</head>") else {
        return html.into();
    };
    let end = start + end + "</head>".len();
    // ASCII lower-casing keeps byte offsets, so they are valid in `html` too.
    format!("{}{}", &html[..start], &html[end..]).into()
}

fn part_text(message: &Message<'_>, part: &MessagePart<'_>, text: &str) -> String {
    let repaired = charset::repair(part, &message.raw_message, text);
    repaired.unwrap_or_else(|| text.to_string())
}

fn bodies(
    message: &Message<'_>,
    limits: &Limits,
    truncations: &mut Vec<Truncation>,
) -> (String, Option<String>) {
    let mut html = String::new();
    let mut has_html = false;
    for id in &message.html_body {
        let Some(part) = message.parts.get(*id as usize) else {
            continue;
        };
        match &part.body {
            PartType::Html(t) => {
                has_html = true;
                html.push_str(&part_text(message, part, t));
            }
            PartType::Text(t) => html.push_str(&text_to_html(&part_text(message, part, t))),
            _ => {}
        }
    }
    let mut text = String::new();
    let mut text_from_plain = false;
    for id in &message.text_body {
        let Some(part) = message.parts.get(*id as usize) else {
            continue;
        };
        match &part.body {
            PartType::Text(t) => {
                text_from_plain = true;
                if !text.is_empty() && !text.ends_with('\n') {
                    text.push('\n');
                }
                text.push_str(&part_text(message, part, t));
            }
            PartType::Html(t) if !has_html => {
                text.push_str(&html_to_text(&strip_head(&part_text(message, part, t))));
            }
            _ => {}
        }
    }
    if !text_from_plain && has_html {
        text = collapse_blank_lines(&html_to_text(&strip_head(&html)));
    }
    if text.is_empty() && !has_html {
        if let Some(t) = root_fallback_text(message) {
            text = t;
        }
    }
    let text = text.replace("\r\n", "\n").replace('\r', "\n");
    let text = text.trim_matches('\n').to_string();

    if !has_html {
        return (text, None);
    }
    let mut display = html.as_str();
    if display.len() > limits.max_html_bytes {
        let mut cut = limits.max_html_bytes;
        while !display.is_char_boundary(cut) {
            cut -= 1;
        }
        truncations.push(Truncation::Html {
            original_bytes: html.len(),
            kept: cut,
        });
        display = &display[..cut];
    }
    let (count, cut) = count_links(display, limits.max_links);
    if let Some(cut) = cut {
        truncations.push(Truncation::Links {
            count,
            limit: limits.max_links,
        });
        display = &display[..cut];
    }
    (text, Some(sanitize(&strip_head(display))))
}

/// Counts `<a ` tags; returns the offset of the first one past `limit`, if any.
fn count_links(html: &str, limit: usize) -> (usize, Option<usize>) {
    let bytes = html.as_bytes();
    let mut count = 0;
    let mut cut = None;
    let mut i = 0;
    while let Some(pos) = memchr_lt(&bytes[i..]) {
        let at = i + pos;
        let next = bytes.get(at + 1).copied().unwrap_or(0);
        let after = bytes.get(at + 2).copied().unwrap_or(0);
        if (next == b'a' || next == b'A') && (after.is_ascii_whitespace() || after == b'>') {
            count += 1;
            if count == limit + 1 {
                cut = Some(at);
            }
        }
        i = at + 1;
    }
    (count, cut)
}

fn memchr_lt(bytes: &[u8]) -> Option<usize> {
    bytes.iter().position(|b| *b == b'<')
}
