//! What the stores take and return for knowledge-base self-service (issue 6): compact raw
//! events with daily roll-ups (searches, views, clicks, customer tickets), deflection
//! sessions (suggestions shown → article opened → form sent or abandoned), the auto-reply's
//! one-click "this solved my problem" tokens, and the counts the analytics report is built
//! from (`tend_core::kb_analytics` does the math; docs/kb.md defines every number).
//!
//! Nothing personal is kept: searches are stored normalised and cut to
//! `tend_core::kb_analytics::QUERY_STORED_MAX` characters, sessions are random ids with no
//! client address, auto-reply tokens are stored as SHA-256.

use chrono::{DateTime, Utc};
use serde::Serialize;

/// The job that mails the auto-reply with article suggestions (payload `{"ticket_id"}`).
pub const KB_AUTO_REPLY_JOB: &str = "kb.auto_reply";
/// The setting that switches the auto-reply on (`{"enabled": true}`); off when missing.
pub const KB_AUTO_REPLY_SETTING: &str = "kb.auto_reply";

/// One tracked thing. `kind` / `source` pairs written:
/// - `search` / `help`: a help-center search page with a query (`query`, `hits`);
/// - `view` / `help`: an article page shown (`article_id`);
/// - `click` / `help`: an article opened from a help-center search result (`article_id`);
/// - `ticket` / `form` or `email`: a customer opened a ticket through the contact form or by
///   mail (the self-service ratio's tickets).
#[derive(Debug, Clone, PartialEq)]
pub struct KbTrack {
    pub kind: &'static str,
    pub source: &'static str,
    pub article_id: Option<i64>,
    /// Normalised search text (searches only; empty = none).
    pub query: String,
    pub hits: Option<i64>,
}

impl KbTrack {
    pub fn search(source: &'static str, query: String, hits: i64) -> KbTrack {
        KbTrack {
            kind: "search",
            source,
            article_id: None,
            query,
            hits: Some(hits),
        }
    }
    pub fn article(kind: &'static str, source: &'static str, article_id: i64) -> KbTrack {
        KbTrack {
            kind,
            source,
            article_id: Some(article_id),
            query: String::new(),
            hits: None,
        }
    }
    pub fn ticket(source: &'static str) -> KbTrack {
        KbTrack {
            kind: "ticket",
            source,
            article_id: None,
            query: String::new(),
            hits: None,
        }
    }
}

/// Suggestions were asked for in a deflection session.
#[derive(Debug, Clone, PartialEq)]
pub struct SuggestSeen {
    /// The session id the form page was given (random, 32 hex digits).
    pub session: String,
    /// `contact` (the contact form) or `portal` (signed-in customers).
    pub source: String,
    /// Normalised text typed so far.
    pub query: String,
    /// Suggestions shown for it.
    pub hits: i64,
}

/// One deflection session as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeflectSession {
    pub session: String,
    pub source: String,
    pub started_at: DateTime<Utc>,
    pub last_at: DateTime<Utc>,
    /// The latest text typed (normalised).
    pub query: String,
    /// Suggestions shown for it.
    pub hits: i64,
    /// Times suggestions were asked for.
    pub asked: i64,
    pub clicks: i64,
    pub ticket_id: Option<i64>,
}

/// What the auto-reply offered for a ticket (found by its token's hash).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AutoReply {
    pub ticket_id: i64,
    pub article_ids: Vec<i64>,
    pub sent_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
}

/// What a "this solved my problem" POST did.
#[derive(Debug, Clone, PartialEq)]
pub enum AutoReplySolve {
    /// The ticket was solved now (and a deflection recorded), in one transaction.
    Solved { ticket_id: i64 },
    /// The link was used before (nothing changed).
    AlreadyUsed { ticket_id: i64, at: DateTime<Utc> },
    /// The ticket is solved or closed already (by an agent, or its customer some other way):
    /// nothing changed and the link stays unused.
    AlreadyClosed { ticket_id: i64 },
    /// No such token.
    Unknown,
}

/// The report's time range: whole UTC days `from_day..=to_day` (days since 1970-01-01), and
/// `now` for deciding which sessions are over.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KbAnalyticsQuery {
    pub from_day: i64,
    pub to_day: i64,
    pub now: DateTime<Utc>,
    /// Most content gaps and top articles returned.
    pub top: i64,
}

/// Counts of one day (or of the whole range).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct KbDayCounts {
    /// Help-center searches with a query.
    pub help_searches: i64,
    /// … of which found nothing.
    pub help_zero: i64,
    /// Help-center search result opened.
    pub help_clicks: i64,
    pub views: i64,
    /// Tickets opened by customers (contact form, mail).
    pub tickets: i64,
    /// Deflection sessions started that asked for suggestions.
    pub sessions: i64,
    /// … whose last text found nothing.
    pub sessions_zero: i64,
    /// … in which an article was opened.
    pub sessions_clicked: i64,
    /// … that ended in a ticket.
    pub sessions_submitted: i64,
    /// … that ended in a ticket after an article was opened.
    pub sessions_submitted_after_click: i64,
    /// … deflected (opened an article, no ticket, quiet for the idle time).
    pub sessions_deflected: i64,
    /// … left without opening anything (quiet for the idle time).
    pub sessions_abandoned: i64,
    /// Auto-replies sent.
    pub auto_replies: i64,
    /// Tickets solved by the auto-reply's link.
    pub auto_reply_solved: i64,
}

impl KbDayCounts {
    pub fn add(&mut self, o: &KbDayCounts) {
        self.help_searches += o.help_searches;
        self.help_zero += o.help_zero;
        self.help_clicks += o.help_clicks;
        self.views += o.views;
        self.tickets += o.tickets;
        self.sessions += o.sessions;
        self.sessions_zero += o.sessions_zero;
        self.sessions_clicked += o.sessions_clicked;
        self.sessions_submitted += o.sessions_submitted;
        self.sessions_submitted_after_click += o.sessions_submitted_after_click;
        self.sessions_deflected += o.sessions_deflected;
        self.sessions_abandoned += o.sessions_abandoned;
        self.auto_replies += o.auto_replies;
        self.auto_reply_solved += o.auto_reply_solved;
    }
}

/// A search that found nothing, grouped by its normalised text.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ContentGap {
    pub query: String,
    pub searches: i64,
}

/// An article's numbers in the range.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ArticleCounts {
    pub article_id: i64,
    pub views: i64,
    /// Opened from a help-center search result or a suggestion.
    pub clicks: i64,
    pub helpful_yes: i64,
    pub helpful_no: i64,
}

/// What the stores count for a range; the report is computed from it.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct KbAnalyticsData {
    /// Per day with anything counted, ascending.
    pub days: Vec<(i64, KbDayCounts)>,
    /// Zero-result searches (help center and suggestions) by text, most first.
    pub gaps: Vec<ContentGap>,
    /// Most viewed articles first.
    pub articles: Vec<ArticleCounts>,
    /// Feedback given in the range.
    pub helpful_yes: i64,
    pub helpful_no: i64,
}

// --- folding what the backends read (shared, so both count the same way) -----------------

/// Days and per-article sums being folded into [`KbAnalyticsData`].
#[derive(Debug, Default)]
pub struct Fold {
    pub days: std::collections::BTreeMap<i64, KbDayCounts>,
    pub articles: std::collections::HashMap<i64, ArticleCounts>,
    pub gaps: std::collections::HashMap<String, i64>,
    pub helpful_yes: i64,
    pub helpful_no: i64,
}

impl Fold {
    /// A roll-up sum: `metric` (`search`, `zero`, `view`, `click`, `ticket`) from `source`.
    pub fn daily(&mut self, day: i64, metric: &str, source: &str, n: i64) {
        let d = self.days.entry(day).or_default();
        match (metric, source) {
            ("search", "help") => d.help_searches += n,
            ("zero", "help") => d.help_zero += n,
            ("click", "help") => d.help_clicks += n,
            ("view", _) => d.views += n,
            ("ticket", _) => d.tickets += n,
            _ => {}
        }
    }

    /// A roll-up sum of one article (`view` or `click`).
    pub fn article(&mut self, article_id: i64, metric: &str, n: i64) {
        let a = self.article_entry(article_id);
        match metric {
            "view" => a.views += n,
            "click" => a.clicks += n,
            _ => {}
        }
    }

    /// Feedback on one article.
    pub fn feedback(&mut self, article_id: i64, helpful: bool, n: i64) {
        let a = self.article_entry(article_id);
        if helpful {
            a.helpful_yes += n;
            self.helpful_yes += n;
        } else {
            a.helpful_no += n;
            self.helpful_no += n;
        }
    }

    fn article_entry(&mut self, article_id: i64) -> &mut ArticleCounts {
        self.articles
            .entry(article_id)
            .or_insert_with(|| ArticleCounts {
                article_id,
                views: 0,
                clicks: 0,
                helpful_yes: 0,
                helpful_no: 0,
            })
    }

    /// `n` deflection sessions started on `day` with these properties; `idle`: quiet for the
    /// idle time at the report's `now` (see `tend_core::kb_analytics::SessionOutcome`).
    pub fn sessions(
        &mut self,
        day: i64,
        clicked: bool,
        ticket: bool,
        zero: bool,
        idle: bool,
        n: i64,
    ) {
        use tend_core::kb_analytics::SessionOutcome;
        let d = self.days.entry(day).or_default();
        d.sessions += n;
        if zero {
            d.sessions_zero += n;
        }
        if clicked {
            d.sessions_clicked += n;
        }
        // The pure rule, on a representative session of the group.
        let now = DateTime::<Utc>::UNIX_EPOCH
            + chrono::Duration::minutes(tend_core::kb_analytics::SESSION_IDLE_MINUTES);
        let last = if idle {
            DateTime::<Utc>::UNIX_EPOCH
        } else {
            now
        };
        match SessionOutcome::classify(i64::from(clicked), ticket, last, now) {
            SessionOutcome::Submitted => {
                d.sessions_submitted += n;
                if clicked {
                    d.sessions_submitted_after_click += n;
                }
            }
            SessionOutcome::Deflected => d.sessions_deflected += n,
            SessionOutcome::Abandoned => d.sessions_abandoned += n,
            SessionOutcome::Open => {}
        }
    }

    pub fn auto_replies_sent(&mut self, day: i64, n: i64) {
        self.days.entry(day).or_default().auto_replies += n;
    }

    pub fn auto_replies_solved(&mut self, day: i64, n: i64) {
        self.days.entry(day).or_default().auto_reply_solved += n;
    }

    /// Zero-result searches of one text (help center and suggestions add up).
    pub fn gap(&mut self, query: String, n: i64) {
        if !query.is_empty() {
            *self.gaps.entry(query).or_default() += n;
        }
    }

    pub fn finish(self, top: i64) -> KbAnalyticsData {
        let top = top.clamp(0, 1_000) as usize;
        let mut gaps: Vec<ContentGap> = self
            .gaps
            .into_iter()
            .map(|(query, searches)| ContentGap { query, searches })
            .collect();
        gaps.sort_by(|a, b| b.searches.cmp(&a.searches).then(a.query.cmp(&b.query)));
        gaps.truncate(top);
        let mut articles: Vec<ArticleCounts> = self.articles.into_values().collect();
        articles.sort_by(|a, b| {
            (b.views, b.clicks)
                .cmp(&(a.views, a.clicks))
                .then(a.article_id.cmp(&b.article_id))
        });
        articles.truncate(top);
        KbAnalyticsData {
            days: self.days.into_iter().collect(),
            gaps,
            articles,
            helpful_yes: self.helpful_yes,
            helpful_no: self.helpful_no,
        }
    }
}

/// Most distinct texts read per source before merging content gaps (the top of each list is
/// exact; a text below this rank in both sources may be undercounted).
pub const GAP_READ_MAX: i64 = 1_000;

/// Checks a deflection session id: 32 lower-case hex digits (what the pages hand out).
pub fn valid_session(s: &str) -> bool {
    s.len() == 32
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_counts_sessions_gaps_and_articles_once() {
        let mut f = Fold::default();
        f.daily(10, "search", "help", 4);
        f.daily(10, "zero", "help", 1);
        f.daily(10, "ticket", "form", 2);
        f.daily(10, "ticket", "email", 1);
        f.daily(10, "unknown", "help", 99);
        // clicked, ticket, zero, idle, n
        f.sessions(10, true, true, false, true, 1); // submitted after a click
        f.sessions(10, true, false, false, true, 2); // deflected
        f.sessions(10, false, false, true, true, 3); // abandoned (nothing found)
        f.sessions(11, true, false, false, false, 1); // still open
        f.gap("refund".into(), 2);
        f.gap("refund".into(), 1);
        f.gap("parcel".into(), 3);
        f.gap(String::new(), 5);
        f.article(7, "view", 5);
        f.article(8, "view", 9);
        f.article(7, "click", 2);
        f.feedback(7, true, 2);
        f.feedback(7, false, 1);
        let d = f.finish(1);
        let day = d.days[0].1;
        assert_eq!((day.help_searches, day.help_zero, day.tickets), (4, 1, 3));
        assert_eq!(day.sessions, 6);
        assert_eq!(day.sessions_zero, 3);
        assert_eq!(day.sessions_clicked, 3);
        assert_eq!(day.sessions_submitted, 1);
        assert_eq!(day.sessions_submitted_after_click, 1);
        assert_eq!(day.sessions_deflected, 2);
        assert_eq!(day.sessions_abandoned, 3);
        let next = d.days[1].1;
        assert_eq!((next.sessions, next.sessions_deflected), (1, 0));
        // Ties are broken by text; the top is cut at 1.
        assert_eq!(
            d.gaps,
            vec![ContentGap {
                query: "parcel".into(),
                searches: 3
            }]
        );
        assert_eq!(d.articles.len(), 1);
        assert_eq!(d.articles[0].article_id, 8);
        assert_eq!((d.helpful_yes, d.helpful_no), (2, 1));
    }

    #[test]
    fn session_ids_are_32_lower_hex() {
        assert!(valid_session("0123456789abcdef0123456789abcdef"));
        assert!(!valid_session("0123456789ABCDEF0123456789abcdef"));
        assert!(!valid_session("0123456789abcdef"));
        assert!(!valid_session("../../etc/passwd/aaaaaaaaaaaaaaa"));
    }
}
