//! Knowledge-base self-service numbers (issue 6): how searches are normalised before they
//! are stored, when a deflection session counts as deflected, and the rates of the analytics
//! report. Pure: no I/O, unit-tested here. Definitions are written out in docs/kb.md.

use chrono::{DateTime, Duration, NaiveDate, Utc};

/// Longest search text stored (after normalising), in characters. Longer queries are cut.
pub const QUERY_STORED_MAX: usize = 100;

/// How long a deflection session must be quiet (no suggestions asked, no article opened)
/// before it can count as abandoned, i.e. deflected when an article was opened.
pub const SESSION_IDLE_MINUTES: i64 = 30;

/// A search as it is stored and grouped for content gaps: lower-case, every run of
/// punctuation and white space one space, trimmed, at most [`QUERY_STORED_MAX`] characters.
/// Punctuation-only input becomes the empty string (stored as no query).
pub fn normalize_query(raw: &str) -> String {
    let mut out = String::new();
    let mut count = 0usize;
    let mut space = false;
    for c in raw.chars().take(4 * QUERY_STORED_MAX) {
        if c.is_alphanumeric() {
            if space && !out.is_empty() {
                if count + 1 >= QUERY_STORED_MAX {
                    break;
                }
                out.push(' ');
                count += 1;
            }
            space = false;
            for l in c.to_lowercase() {
                out.push(l);
            }
            count += 1;
            if count >= QUERY_STORED_MAX {
                break;
            }
        } else {
            space = true;
        }
    }
    out
}

/// Days since 1970-01-01 (UTC) of an instant: the key of the daily roll-ups.
pub fn day_of(t: DateTime<Utc>) -> i64 {
    t.timestamp().div_euclid(86_400)
}

/// The calendar date of a roll-up day.
pub fn date_of_day(day: i64) -> NaiveDate {
    DateTime::from_timestamp(day * 86_400, 0)
        .unwrap_or_default()
        .date_naive()
}

/// The roll-up day of a date.
pub fn day_of_date(d: NaiveDate) -> i64 {
    day_of(d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc())
}

/// Where a deflection session stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionOutcome {
    /// The form was sent: a ticket is linked.
    Submitted,
    /// Suggestions were shown, an article was opened, no ticket followed, and the session
    /// has been quiet for [`SESSION_IDLE_MINUTES`]: self-service.
    Deflected,
    /// Suggestions were shown, nothing was opened, no ticket followed, quiet since: the
    /// customer left without reading (not counted as deflected).
    Abandoned,
    /// Still in progress (active within the idle time).
    Open,
}

impl SessionOutcome {
    pub fn classify(
        clicks: i64,
        has_ticket: bool,
        last_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> SessionOutcome {
        if has_ticket {
            SessionOutcome::Submitted
        } else if now - last_at < Duration::minutes(SESSION_IDLE_MINUTES) {
            SessionOutcome::Open
        } else if clicks > 0 {
            SessionOutcome::Deflected
        } else {
            SessionOutcome::Abandoned
        }
    }
}

/// `part / whole`, or `None` when nothing was counted (a rate of nothing is not 0 %).
pub fn rate(part: i64, whole: i64) -> Option<f64> {
    (whole > 0).then(|| ((part as f64 / whole as f64) * 10_000.0).round() / 10_000.0)
}

/// Self-service ratio: deflected / (deflected + tickets). Tickets closed by the auto-reply's
/// "this solved my problem" are already in `deflected`, so they are taken out of `tickets`.
pub fn self_service_ratio(deflected: i64, tickets: i64, solved_by_auto_reply: i64) -> Option<f64> {
    let tickets = (tickets - solved_by_auto_reply).max(0);
    rate(deflected, deflected + tickets)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn queries_are_normalised_and_capped() {
        assert_eq!(
            normalize_query("  Where is   MY Parcel?? "),
            "where is my parcel"
        );
        assert_eq!(normalize_query("refund—PayPal!"), "refund paypal");
        assert_eq!(normalize_query("?!.,;:"), "");
        assert_eq!(normalize_query(""), "");
        assert_eq!(normalize_query("Rückerstattung"), "rückerstattung");
        let long = "a".repeat(10_000);
        assert_eq!(normalize_query(&long).chars().count(), QUERY_STORED_MAX);
        let words = "ab ".repeat(5_000);
        let n = normalize_query(&words);
        assert!(n.chars().count() <= QUERY_STORED_MAX, "{}", n.len());
        assert!(!n.ends_with(' '));
        assert_eq!(
            normalize_query("<script>alert(1)</script>"),
            "script alert 1 script"
        );
    }

    #[test]
    fn sessions_are_classified_after_the_idle_time() {
        let t = at("2026-11-24T10:00:00Z");
        let later = t + Duration::minutes(SESSION_IDLE_MINUTES);
        assert_eq!(
            SessionOutcome::classify(1, true, t, later),
            SessionOutcome::Submitted
        );
        assert_eq!(
            SessionOutcome::classify(2, false, t, t + Duration::minutes(29)),
            SessionOutcome::Open
        );
        assert_eq!(
            SessionOutcome::classify(1, false, t, later),
            SessionOutcome::Deflected
        );
        assert_eq!(
            SessionOutcome::classify(0, false, t, later),
            SessionOutcome::Abandoned
        );
    }

    #[test]
    fn rates_and_ratio() {
        assert_eq!(rate(1, 3), Some(0.3333));
        assert_eq!(rate(0, 0), None);
        assert_eq!(self_service_ratio(3, 1, 0), Some(0.75));
        // One of two tickets was closed by the auto-reply link: 2 deflected (1 session + 1
        // auto-reply) against 1 ticket.
        assert_eq!(self_service_ratio(2, 2, 1), Some(0.6667));
        assert_eq!(self_service_ratio(0, 0, 0), None);
    }

    #[test]
    fn days_round_trip() {
        let d = NaiveDate::from_ymd_opt(2026, 11, 24).unwrap();
        assert_eq!(date_of_day(day_of_date(d)), d);
        assert_eq!(day_of(at("2026-11-24T23:59:59Z")), day_of_date(d));
        assert_eq!(day_of(at("1969-12-31T23:00:00Z")), -1);
    }
}
