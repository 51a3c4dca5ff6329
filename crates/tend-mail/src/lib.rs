//! Tend's e-mail intake, pure: no network, no database, no clock reads.
//!
//! - [`parse`] turns raw RFC 5322 bytes into an [`Inbound`] (sanitized HTML, plain text with the
//!   quoted history and signature split off, attachments, loop headers, DSN bounce details), or a
//!   [`Rejected`] when a limit ([`Limits`]) is crossed.
//! - [`classify`] tells auto-replies, bulk/list mail and bounces apart: never auto-reply to any.
//! - [`thread`] decides whether a mail joins a ticket, opens one, needs review, or is a duplicate.
//! - [`outbound_headers`] builds the threading headers for a reply; sending is done elsewhere.
//! - [`render`] / [`validate_template`] are a tiny, safe placeholder renderer.

mod address;
mod charset;
mod dsn;
#[doc(hidden)]
pub mod fuzzing;
mod inbound;
mod noise;
mod outbound;
mod quote;
mod threading;
mod token;

pub use address::Mailbox;
pub use dsn::Bounce;
pub use inbound::{
    parse, parse_with, Attachment, Inbound, Limits, LoopHeaders, RejectReason, Rejected, Truncation,
};
pub use noise::{classify, Noise};
pub use outbound::{outbound_headers, OutboundHeaders, OutboundKind, ReplyContext, MAX_REFERENCES};
pub use quote::{split_quote, QuoteKind, QuoteSplit};
pub use tend_core::template::{render, render_html, validate_template, TemplateError};
pub use threading::{
    forwarded_from, thread, ForwardedFrom, JoinVia, ReviewReason, ThreadDecision, ThreadStore,
    ThreadingContext,
};
pub use token::{
    find_subject_tag, find_token_address, reply_to_address, subject_tag, ticket_token, verify_token,
};

/// Ticket ids as the store keeps them.
pub type TicketId = i64;
