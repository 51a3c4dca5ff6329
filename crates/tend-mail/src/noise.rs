//! Loop and noise classification. Rule: never send an automatic reply to a mail for which
//! [`Noise::suppress_auto_reply`] is true.

use serde::{Deserialize, Serialize};

use crate::dsn::Bounce;
use crate::inbound::Inbound;

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Noise {
    /// Sent by a machine on someone's behalf: vacation notices, out-of-office, robots.
    pub auto_reply: bool,
    /// List or bulk mail: newsletters, mailing lists, `Precedence: bulk/list/junk`.
    pub bulk: bool,
    /// A bounce: a DSN, or a mailer-daemon / null-sender mail without a readable report.
    pub bounce: Option<Bounce>,
    /// Which signals fired, for the audit log (`auto-submitted`, `list-id`, …).
    pub reasons: Vec<String>,
}

impl Noise {
    /// True when any signal fired: do not auto-reply (acknowledgements, surveys, …).
    pub fn suppress_auto_reply(&self) -> bool {
        self.auto_reply || self.bulk || self.bounce.is_some()
    }
}

fn is_daemon(local: &str) -> bool {
    let l = local.to_ascii_lowercase();
    matches!(
        l.as_str(),
        "mailer-daemon" | "postmaster" | "mail-daemon" | "maildaemon" | "mailerdaemon"
    )
}

pub fn classify(mail: &Inbound) -> Noise {
    let mut n = Noise::default();
    let h = &mail.loop_headers;
    let lower = |v: &Option<String>| v.as_deref().map(|s| s.trim().to_ascii_lowercase());

    if let Some(v) = lower(&h.auto_submitted) {
        // RFC 3834: anything but "no" (parameters after ';' ignored).
        let value = v.split(';').next().unwrap_or("").trim();
        if value != "no" {
            n.auto_reply = true;
            n.reasons.push("auto-submitted".into());
        }
    }
    if let Some(v) = lower(&h.precedence) {
        if ["bulk", "list", "junk"].contains(&v.as_str()) {
            n.bulk = true;
            n.reasons.push("precedence".into());
        } else if v == "auto_reply" {
            n.auto_reply = true;
            n.reasons.push("precedence".into());
        }
    }
    if h.x_autoreply.is_some() {
        n.auto_reply = true;
        n.reasons.push("x-autoreply".into());
    }
    if h.x_autorespond.is_some() {
        n.auto_reply = true;
        n.reasons.push("x-autorespond".into());
    }
    if let Some(v) = lower(&h.x_auto_response_suppress) {
        if v.split(',')
            .any(|t| matches!(t.trim(), "all" | "autoreply"))
        {
            n.auto_reply = true;
            n.reasons.push("x-auto-response-suppress".into());
        }
    }
    if h.list_id.as_deref().is_some_and(|v| !v.trim().is_empty()) {
        n.bulk = true;
        n.reasons.push("list-id".into());
    }
    if h.list_unsubscribe
        .as_deref()
        .is_some_and(|v| !v.trim().is_empty())
    {
        n.bulk = true;
        n.reasons.push("list-unsubscribe".into());
    }
    let null_sender = h.return_path.as_deref().is_some_and(|r| r.is_empty());
    if null_sender {
        n.reasons.push("null-return-path".into());
    }
    let daemon = [mail.from.as_ref(), mail.sender.as_ref()]
        .into_iter()
        .flatten()
        .any(|m| m.address.split('@').next().is_some_and(is_daemon));
    if daemon {
        n.reasons.push("mailer-daemon".into());
    }
    if let Some(b) = &mail.dsn {
        n.bounce = Some(b.clone());
        n.reasons.push("delivery-status-report".into());
    } else if daemon {
        n.bounce = Some(Bounce::default());
    } else if null_sender {
        // Null sender without a report: a machine (often an auto-reply), never answer it.
        n.auto_reply = true;
    }
    n
}
