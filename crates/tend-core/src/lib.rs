//! Tend's domain: types that parse, the ticket event model and its projection, the clock,
//! access rules. Everything here is pure: no I/O, no database, no network.

pub mod access;
pub mod automation;
pub mod brand;
pub mod clock;
pub mod escalation;
pub mod html;
pub mod import;
pub mod kb_analytics;
pub mod metrics;
pub mod ops;
pub mod report;
pub mod routing;
pub mod sla;
pub mod survey;
pub mod survey_dims;
pub mod survey_form;
pub mod survey_rules;
pub mod targets;
pub mod template;
pub mod ticket;
pub mod types;

pub use access::Viewer;
pub use clock::{Clock, ManualClock, SystemClock};
pub use ticket::{Actor, ActorKind, Change, Ticket};
pub use types::*;

/// A value a client sent that does not parse. `field` names what to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct Invalid {
    pub field: String,
    pub message: String,
}

impl Invalid {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Invalid {
            field: field.into(),
            message: message.into(),
        }
    }
}
