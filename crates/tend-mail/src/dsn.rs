//! Delivery status notifications (RFC 3464): `multipart/report; report-type=delivery-status`.

use mail_parser::{Message, MessageParser, MimeHeaders, PartType};
use serde::{Deserialize, Serialize};

use crate::address::clean_line;

/// What a bounce tells: who could not be reached, why, and which of our messages it was.
/// Every field is optional: a non-standard bounce (a mailer-daemon sender without a report)
/// has none.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Bounce {
    /// The failed recipient (Final-Recipient, else Original-Recipient).
    pub recipient: Option<String>,
    /// The status code, e.g. `5.1.1`.
    pub status: Option<String>,
    /// `failed`, `delayed`, `delivered`, `relayed` or `expanded`.
    pub action: Option<String>,
    /// The remote server's diagnostic, e.g. `smtp; 550 5.1.1 user unknown`.
    pub diagnostic: Option<String>,
    /// The Message-ID of the message that bounced, when the report carries it.
    pub original_message_id: Option<String>,
}

impl Bounce {
    /// A permanent failure (5.x.x or action `failed`): stop mailing that address.
    pub fn is_permanent(&self) -> bool {
        self.status.as_deref().is_some_and(|s| s.starts_with('5'))
            || self
                .action
                .as_deref()
                .is_some_and(|a| a.eq_ignore_ascii_case("failed"))
    }
}

/// Reads the report out of a `multipart/report; report-type=delivery-status` message.
pub fn from_message(message: &Message<'_>) -> Option<Bounce> {
    let root = message.parts.first()?;
    let ct = root.content_type()?;
    let is_report = ct.c_type.eq_ignore_ascii_case("multipart")
        && ct
            .c_subtype
            .as_deref()
            .is_some_and(|s| s.eq_ignore_ascii_case("report"))
        && ct
            .attribute("report-type")
            .is_some_and(|t| t.trim().eq_ignore_ascii_case("delivery-status"));
    if !is_report {
        return None;
    }
    let mut bounce = Bounce::default();
    for part in message.parts.iter().skip(1) {
        let Some(pct) = part.content_type() else {
            continue;
        };
        let sub = pct.c_subtype.as_deref().unwrap_or("").to_ascii_lowercase();
        let typ = pct.c_type.to_ascii_lowercase();
        match (typ.as_str(), sub.as_str()) {
            ("message", "delivery-status") | ("message", "global-delivery-status") => {
                read_status_fields(&String::from_utf8_lossy(part.contents()), &mut bounce);
            }
            ("message", "rfc822") | ("message", "global")
                if bounce.original_message_id.is_none() =>
            {
                bounce.original_message_id = match &part.body {
                    PartType::Message(m) => m.message_id().map(clean_id),
                    _ => headers_message_id(part.contents()),
                };
            }
            ("text", "rfc822-headers") | ("message", "rfc822-headers")
                if bounce.original_message_id.is_none() =>
            {
                bounce.original_message_id = headers_message_id(part.contents());
            }
            _ => {}
        }
    }
    Some(bounce)
}

fn clean_id(id: &str) -> String {
    clean_line(id)
        .trim_start_matches('<')
        .trim_end_matches('>')
        .to_string()
}

fn headers_message_id(bytes: &[u8]) -> Option<String> {
    MessageParser::default()
        .parse_headers(bytes)
        .and_then(|m| m.message_id().map(clean_id))
        .filter(|s| !s.is_empty())
}

/// Per-message and per-recipient fields, folded lines unfolded. The first recipient block
/// with a Final-Recipient (or Original-Recipient) wins.
fn read_status_fields(text: &str, bounce: &mut Bounce) {
    let mut fields: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        if line.starts_with([' ', '\t']) {
            if let Some((_, v)) = fields.last_mut() {
                v.push(' ');
                v.push_str(line.trim());
            }
        } else if let Some((name, value)) = line.split_once(':') {
            fields.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
        }
    }
    for (name, value) in fields {
        let value = clean_line(&value);
        match name.as_str() {
            "final-recipient" | "original-recipient" if bounce.recipient.is_none() => {
                // "rfc822; user@example.com"
                let addr = value
                    .split_once(';')
                    .map(|(_, a)| a)
                    .unwrap_or(&value)
                    .trim()
                    .trim_start_matches('<')
                    .trim_end_matches('>');
                if !addr.is_empty() {
                    bounce.recipient = Some(addr.to_string());
                }
            }
            "status" if bounce.status.is_none() => {
                let code: String = value
                    .chars()
                    .take_while(|c| c.is_ascii_digit() || *c == '.')
                    .collect();
                if !code.is_empty() {
                    bounce.status = Some(code);
                }
            }
            "action" if bounce.action.is_none() => {
                bounce.action = Some(value.to_ascii_lowercase());
            }
            "diagnostic-code" if bounce.diagnostic.is_none() => {
                bounce.diagnostic = Some(value);
            }
            _ => {}
        }
    }
}
