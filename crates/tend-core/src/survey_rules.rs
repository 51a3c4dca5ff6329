//! When a survey goes out and what happens after the answer: the trigger (a solve, an order
//! placed or delivered, by hand), quiet hours in the customer's time zone, one reminder,
//! promoters (thanks, a review link) and an incentive code. Pure: checked here, applied by
//! the worker and the pages.

use crate::Invalid;
use chrono::{DateTime, Duration, LocalResult, NaiveTime, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// What sends a survey.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SurveyTrigger {
    /// `delay_hours` after a ticket is solved (not if reopened, spam or merged).
    #[default]
    TicketSolved,
    /// `delay_hours` after an order is reported through the API.
    OrderPlaced,
    /// `delay_hours` after an order is reported delivered.
    OrderDelivered,
    /// Only when sent by hand (`POST /api/v1/surveys/{id}/send`).
    Manual,
    /// Relationship NPS: every `period_days`, each customer with a ticket or an order in the
    /// last period (throttling and sampling apply).
    Relationship,
}

/// Local hours in which no survey mail goes out: from `start` (inclusive) to `end`
/// (exclusive), wrapping over midnight when `start > end` (e.g. 21 → 8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuietHours {
    pub start: u8,
    pub end: u8,
}

/// What a promoter (NPS 9–10, the top CSAT answer, CES 6–7) is offered after answering.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum PromoterAction {
    #[default]
    None,
    /// A thank-you line on the page.
    Thank,
    /// A thank-you line and a link asking for a public review.
    Review { url: String },
}

/// The sending and follow-up rules of a survey. Every field has a default, so `{}` is a
/// valid rule set: after a solve, no quiet hours, no reminder, nothing for promoters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SurveyRules {
    pub trigger: SurveyTrigger,
    /// Relationship surveys: days between rounds (7–730).
    pub period_days: Option<i64>,
    pub quiet_hours: Option<QuietHours>,
    /// The time zone for quiet hours when the customer has none (IANA name; default UTC).
    pub time_zone: Option<String>,
    /// One reminder this many hours after the mail if there is no answer yet (≥ 1).
    pub reminder_hours: Option<i64>,
    pub promoter: PromoterAction,
    /// A discount/loyalty code shown on the thank-you page: `{code}` is replaced by a code
    /// made for the answer (e.g. `THANKS-{code}`).
    pub incentive: Option<String>,
}

fn bad(field: &str, message: &str) -> Invalid {
    Invalid {
        field: field.into(),
        message: message.into(),
    }
}

impl SurveyRules {
    /// Checks the rules (`expires_days` is the survey's, for the reminder).
    pub fn check(&self, expires_days: i64) -> Result<(), Invalid> {
        match (self.trigger, self.period_days) {
            (SurveyTrigger::Relationship, Some(d)) if (7..=730).contains(&d) => {}
            (SurveyTrigger::Relationship, _) => {
                return Err(bad(
                    "rules.period_days",
                    "a relationship survey needs period_days from 7 to 730",
                ));
            }
            (_, Some(_)) => {
                return Err(bad(
                    "rules.period_days",
                    "only relationship surveys have period_days",
                ));
            }
            _ => {}
        }
        if let Some(q) = self.quiet_hours {
            if q.start > 23 || q.end > 23 {
                return Err(bad(
                    "rules.quiet_hours",
                    "start and end are hours from 0 to 23",
                ));
            }
            if q.start == q.end {
                return Err(bad(
                    "rules.quiet_hours",
                    "start and end are the same hour; leave quiet_hours out for none",
                ));
            }
        }
        if let Some(tz) = &self.time_zone {
            parse_tz(tz).ok_or_else(|| {
                bad(
                    "rules.time_zone",
                    "not an IANA time zone name (e.g. Europe/Berlin)",
                )
            })?;
        }
        if let Some(h) = self.reminder_hours {
            if h < 1 || h >= expires_days.saturating_mul(24) {
                return Err(bad(
                    "rules.reminder_hours",
                    "must be at least 1 and before the survey expires (expires_days × 24)",
                ));
            }
        }
        if let PromoterAction::Review { url } = &self.promoter {
            if !(url.starts_with("https://") || url.starts_with("http://")) || url.len() > 2000 {
                return Err(bad(
                    "rules.promoter.url",
                    "must be an http(s) address of at most 2000 characters",
                ));
            }
        }
        if let Some(t) = &self.incentive {
            if !t.contains("{code}") || t.chars().count() > 200 {
                return Err(bad(
                    "rules.incentive",
                    "must contain {code} and be at most 200 characters",
                ));
            }
        }
        Ok(())
    }

    /// When a survey due at `at` may go out for a customer in `customer_tz` (falling back to
    /// the rules' time zone, then UTC): `at` itself, or the end of the quiet hours.
    pub fn send_time(&self, at: DateTime<Utc>, customer_tz: Option<&str>) -> DateTime<Utc> {
        let Some(q) = self.quiet_hours else {
            return at;
        };
        let tz = customer_tz
            .and_then(parse_tz)
            .or_else(|| self.time_zone.as_deref().and_then(parse_tz))
            .unwrap_or(Tz::UTC);
        after_quiet_hours(at, tz, q)
    }
}

fn parse_tz(name: &str) -> Option<Tz> {
    name.parse::<Tz>().ok()
}

fn quiet(hour: u32, q: QuietHours) -> bool {
    let (s, e) = (u32::from(q.start), u32::from(q.end));
    if s < e {
        (s..e).contains(&hour)
    } else {
        hour >= s || hour < e
    }
}

/// `at`, or the first instant after it when the local hour in `tz` is `q.end` again. Across
/// a DST gap that swallows the end hour, the first valid local time after the gap.
pub fn after_quiet_hours(at: DateTime<Utc>, tz: Tz, q: QuietHours) -> DateTime<Utc> {
    let local = at.with_timezone(&tz);
    if !quiet(local.hour(), q) {
        return at;
    }
    let end = NaiveTime::from_hms_opt(u32::from(q.end), 0, 0).unwrap_or(NaiveTime::MIN);
    // Today's end if it is still ahead, else tomorrow's.
    let mut day = local.date_naive();
    if local.time() >= end {
        day = day.succ_opt().unwrap_or(day);
    }
    let wanted = day.and_time(end);
    match tz.from_local_datetime(&wanted) {
        LocalResult::Single(t) => t.with_timezone(&Utc),
        LocalResult::Ambiguous(first, _) => first.with_timezone(&Utc),
        LocalResult::None => {
            // In a spring-forward gap: step forward until the local time exists.
            let mut probe = wanted;
            for _ in 0..8 {
                probe += Duration::minutes(30);
                if let Some(t) = tz.from_local_datetime(&probe).earliest() {
                    return t.with_timezone(&Utc);
                }
            }
            at + Duration::hours(1)
        }
    }
}

/// Whether a score is a promoter's: NPS 9–10, the top answer of a CSAT scale, CES 6–7.
pub fn is_promoter(kind: &str, scale_max: u8, score: u8) -> bool {
    match kind {
        "nps" => score >= 9,
        "csat" => score == scale_max,
        "ces" => score >= 6,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    const NIGHT: QuietHours = QuietHours { start: 21, end: 8 };

    #[test]
    fn outside_quiet_hours_sends_at_once() {
        let at = t("2026-03-02T10:00:00Z");
        assert_eq!(after_quiet_hours(at, Tz::Europe__Berlin, NIGHT), at);
        let rules = SurveyRules::default();
        assert_eq!(rules.send_time(at, Some("Europe/Berlin")), at);
    }

    #[test]
    fn late_evening_waits_for_the_morning_in_the_customers_zone() {
        // 22:30 in Berlin (UTC+1 in March) → 08:00 Berlin next day = 07:00 UTC.
        let at = t("2026-03-02T21:30:00Z");
        assert_eq!(
            after_quiet_hours(at, Tz::Europe__Berlin, NIGHT),
            t("2026-03-03T07:00:00Z")
        );
        // 03:00 in New York (UTC−5) → 08:00 the same day = 13:00 UTC.
        let at = t("2026-03-02T08:00:00Z");
        assert_eq!(
            after_quiet_hours(at, Tz::America__New_York, NIGHT),
            t("2026-03-02T13:00:00Z")
        );
    }

    #[test]
    fn a_daytime_quiet_span_and_the_customer_zone_wins_over_the_default() {
        let lunch = QuietHours { start: 12, end: 14 };
        assert_eq!(
            after_quiet_hours(t("2026-06-01T12:59:00Z"), Tz::UTC, lunch),
            t("2026-06-01T14:00:00Z")
        );
        assert_eq!(
            after_quiet_hours(t("2026-06-01T14:00:00Z"), Tz::UTC, lunch),
            t("2026-06-01T14:00:00Z")
        );
        let rules = SurveyRules {
            quiet_hours: Some(NIGHT),
            time_zone: Some("Asia/Tokyo".into()),
            ..Default::default()
        };
        // 23:00 UTC is 08:00 in Tokyo (allowed) but 23:00 in London (quiet).
        let at = t("2026-01-10T23:00:00Z");
        assert_eq!(rules.send_time(at, None), at);
        assert_eq!(
            rules.send_time(at, Some("Europe/London")),
            t("2026-01-11T08:00:00Z")
        );
        // An unknown customer zone falls back to the rules' zone.
        assert_eq!(rules.send_time(at, Some("Mars/Olympus")), at);
    }

    #[test]
    fn across_dst_the_local_morning_is_kept() {
        // Europe/Berlin springs forward on 2026-03-29 (02:00 → 03:00): 08:00 CEST = 06:00 UTC.
        assert_eq!(
            after_quiet_hours(t("2026-03-28T22:00:00Z"), Tz::Europe__Berlin, NIGHT),
            t("2026-03-29T06:00:00Z")
        );
        // A quiet span ending in the gap (00:00 → 02:00 local) ends at 03:00 CEST = 01:00 UTC.
        let q = QuietHours { start: 0, end: 2 };
        assert_eq!(
            after_quiet_hours(t("2026-03-28T23:30:00Z"), Tz::Europe__Berlin, q),
            t("2026-03-29T01:00:00Z")
        );
    }

    #[test]
    fn rules_are_checked() {
        assert!(SurveyRules::default().check(14).is_ok());
        let bad_hours = SurveyRules {
            quiet_hours: Some(QuietHours { start: 24, end: 8 }),
            ..Default::default()
        };
        assert_eq!(bad_hours.check(14).unwrap_err().field, "rules.quiet_hours");
        let same = SurveyRules {
            quiet_hours: Some(QuietHours { start: 8, end: 8 }),
            ..Default::default()
        };
        assert!(same.check(14).is_err());
        let tz = SurveyRules {
            time_zone: Some("Europe/Atlantis".into()),
            ..Default::default()
        };
        assert_eq!(tz.check(14).unwrap_err().field, "rules.time_zone");
        let late = SurveyRules {
            reminder_hours: Some(14 * 24),
            ..Default::default()
        };
        assert!(late.check(14).is_err());
        assert!(SurveyRules {
            reminder_hours: Some(72),
            ..Default::default()
        }
        .check(14)
        .is_ok());
        let js = SurveyRules {
            promoter: PromoterAction::Review {
                url: "javascript:alert(1)".into(),
            },
            ..Default::default()
        };
        assert_eq!(js.check(14).unwrap_err().field, "rules.promoter.url");
        let code = SurveyRules {
            incentive: Some("THANKS".into()),
            ..Default::default()
        };
        assert!(code.check(14).is_err());
        let parsed: SurveyRules = serde_json::from_str(
            r#"{"trigger":"order_delivered","quiet_hours":{"start":21,"end":8},"promoter":{"action":"review","url":"https://reviews.test/shop"},"incentive":"THANKS-{code}"}"#,
        )
        .unwrap();
        assert_eq!(parsed.trigger, SurveyTrigger::OrderDelivered);
        assert!(parsed.check(14).is_ok());
        assert!(serde_json::from_str::<SurveyRules>(r#"{"triger":"manual"}"#).is_err());
        let rel = |p: Option<i64>| SurveyRules {
            trigger: SurveyTrigger::Relationship,
            period_days: p,
            ..Default::default()
        };
        assert!(rel(Some(90)).check(14).is_ok());
        assert_eq!(rel(None).check(14).unwrap_err().field, "rules.period_days");
        assert!(rel(Some(3)).check(14).is_err());
        let stray = SurveyRules {
            period_days: Some(90),
            ..Default::default()
        };
        assert!(stray.check(14).is_err());
    }

    #[test]
    fn promoters_per_kind() {
        assert!(is_promoter("nps", 10, 9) && !is_promoter("nps", 10, 8));
        assert!(is_promoter("csat", 5, 5) && !is_promoter("csat", 5, 4));
        assert!(is_promoter("csat", 2, 2));
        assert!(is_promoter("ces", 7, 6) && !is_promoter("ces", 7, 5));
    }
}
