//! The whole intake on arbitrary bytes, for the fuzz target (`fuzz/fuzz_targets/intake.rs`) and
//! the stable-Rust mutation test (`tests/mutation.rs`). Not part of the API.

use crate::{
    classify, outbound_headers, parse, split_quote, thread, OutboundKind, ReplyContext,
    ThreadStore, ThreadingContext, TicketId,
};

/// A store that knows a few ids and tickets, so every threading branch can be reached.
struct Store;

impl ThreadStore for Store {
    fn find_by_message_id(&self, id: &str) -> Option<(TicketId, Vec<String>)> {
        match id.len() % 3 {
            0 => None,
            1 => Some((7, vec!["a@b.c".to_string()])),
            _ => Some((id.len() as TicketId, vec![id.to_string()])),
        }
    }
    fn participants(&self, ticket_id: TicketId) -> Option<Vec<String>> {
        (ticket_id % 2 == 0).then(|| vec!["a@b.c".to_string()])
    }
    fn is_staff(&self, address: &str) -> bool {
        address.ends_with(".example")
    }
}

/// What [`intake`] did with an input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Accepted,
    Rejected,
    /// mail-parser panicked and `parse` contained it. With debug assertions this includes
    /// mail-parser's own `debug_assert!`s; in a release build it is a real bug upstream.
    ParserPanicked,
}

/// Parses, classifies, threads, and builds reply headers; must never panic or stall.
pub fn intake(data: &[u8]) -> Outcome {
    let mail = match parse(data) {
        Ok(mail) => mail,
        Err(e) if e.reason == crate::RejectReason::ParserFailed => return Outcome::ParserPanicked,
        Err(_) => return Outcome::Rejected,
    };
    let noise = classify(&mail);
    let ctx = ThreadingContext {
        secret: b"fuzz",
        store: &Store,
    };
    let decision = thread(&mail, &ctx);
    let _ = crate::forwarded_from(&mail);
    let _ = split_quote(&mail.body_text_visible);
    let headers = outbound_headers(&ReplyContext {
        ticket_id: 1,
        secret: b"fuzz",
        support_address: "support@shop.example",
        domain: "shop.example",
        unique: mail.message_id.as_deref().unwrap_or("x"),
        now: chrono::DateTime::from_timestamp(0, 0).unwrap_or_default(),
        subject: &mail.subject,
        parent_message_id: mail.message_id.as_deref(),
        parent_references: &mail.references,
        kind: OutboundKind::AgentReply,
    });
    for h in [&headers.subject, &headers.reply_to, &headers.message_id] {
        assert!(!h.contains(['\r', '\n']), "header line break in {h:?}");
    }
    assert!(!mail.subject.contains(['\r', '\n']));
    assert!(mail.body_text_visible.len() <= mail.body_text.len());
    std::hint::black_box((noise, decision));
    Outcome::Accepted
}
