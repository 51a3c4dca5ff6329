//! Operations dashboard math: today's ticket volume against the same weekday of the last
//! weeks, from hourly created counts (the report roll-ups). Pure.
//!
//! "So far" compares whole local hours: today's hours up to and including the current one
//! with the same local hours of each earlier weekday; "whole day" is each earlier weekday's
//! full local day.

use crate::report::local_midnight;
use chrono::{DateTime, Duration, NaiveDate, Timelike, Utc};
use chrono_tz::Tz;

/// How many earlier same weekdays are compared.
pub const WEEKS: i64 = 4;

#[derive(Debug, Clone, PartialEq)]
pub struct SameWeekday {
    pub day: NaiveDate,
    /// Created up to the same local hour (included).
    pub so_far: i64,
    pub whole_day: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TodayVolume {
    pub day: NaiveDate,
    /// Created today up to now.
    pub today: i64,
    /// Oldest first.
    pub weeks: Vec<SameWeekday>,
    /// Mean of `so_far` over the earlier weekdays (one decimal).
    pub typical_so_far: Option<f64>,
    /// Mean of `whole_day` (one decimal).
    pub typical_whole_day: Option<f64>,
    /// `100 · (today − typical_so_far) / typical_so_far` (one decimal); `None` when the
    /// typical value is 0 or unknown.
    pub change_pct: Option<f64>,
}

/// The UTC range of hourly counts [`today_volume`] needs: from the first compared day's
/// local midnight to the end of today.
pub fn hours_needed(tz: Tz, now: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
    let today = now.with_timezone(&tz).date_naive();
    let first = today - Duration::days(7 * WEEKS);
    let start = local_midnight(tz, first).unwrap_or(now - Duration::days(7 * WEEKS + 1));
    let end = today
        .succ_opt()
        .and_then(|d| local_midnight(tz, d).ok())
        .unwrap_or(now + Duration::days(1));
    (start, end)
}

fn round1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

/// Today's volume against the last [`WEEKS`] same weekdays, from `(UTC hour, created)`.
pub fn today_volume(tz: Tz, now: DateTime<Utc>, hours: &[(DateTime<Utc>, i64)]) -> TodayVolume {
    let local_now = now.with_timezone(&tz);
    let today = local_now.date_naive();
    let hour = local_now.hour();
    let mut today_n = 0;
    let mut weeks: Vec<SameWeekday> = (1..=WEEKS)
        .rev()
        .map(|w| SameWeekday {
            day: today - Duration::days(7 * w),
            so_far: 0,
            whole_day: 0,
        })
        .collect();
    for (t, n) in hours {
        let l = t.with_timezone(&tz);
        let d = l.date_naive();
        if d == today {
            if *t <= now {
                today_n += n;
            }
        } else if let Some(w) = weeks.iter_mut().find(|w| w.day == d) {
            w.whole_day += n;
            if l.hour() <= hour {
                w.so_far += n;
            }
        }
    }
    let k = weeks.len() as f64;
    let typical_so_far =
        (k > 0.0).then(|| round1(weeks.iter().map(|w| w.so_far).sum::<i64>() as f64 / k));
    let typical_whole_day =
        (k > 0.0).then(|| round1(weeks.iter().map(|w| w.whole_day).sum::<i64>() as f64 / k));
    let change_pct = typical_so_far
        .filter(|t| *t > 0.0)
        .map(|t| round1(100.0 * (today_n as f64 - t) / t));
    TodayVolume {
        day: today,
        today: today_n,
        weeks,
        typical_so_far,
        typical_whole_day,
        change_pct,
    }
}

/// The first instant after `after` that is `hour`:00 local time on `weekday` in `tz` (a
/// skipped local hour moves to the first valid instant after it).
pub fn next_weekly(
    weekday: chrono::Weekday,
    hour: u32,
    tz: Tz,
    after: DateTime<Utc>,
) -> DateTime<Utc> {
    use chrono::{Datelike, LocalResult, TimeZone};
    let mut d = after.with_timezone(&tz).date_naive();
    for _ in 0..15 {
        if d.weekday() == weekday {
            let local = d.and_hms_opt(hour.min(23), 0, 0).unwrap_or_default();
            let t = match tz.from_local_datetime(&local) {
                LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => t.with_timezone(&Utc),
                LocalResult::None => {
                    local_midnight(tz, d).unwrap_or(after) + Duration::hours(i64::from(hour) + 1)
                }
            };
            if t > after {
                return t;
            }
        }
        d = d.succ_opt().unwrap_or(d);
    }
    after + Duration::days(7)
}

/// The local days a weekly digest sent at `run_at` reports: the 7 days before its day.
pub fn digest_days(tz: Tz, run_at: DateTime<Utc>) -> (NaiveDate, NaiveDate) {
    let day = run_at.with_timezone(&tz).date_naive();
    (day - Duration::days(7), day - Duration::days(1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn compares_with_the_same_weekday() {
        // Tue 24 Nov 2026 14:30 Berlin (13:30 UTC).
        let tz: Tz = "Europe/Berlin".parse().unwrap();
        let now = Utc.with_ymd_and_hms(2026, 11, 24, 13, 30, 0).unwrap();
        let h = |d: u32, hh: u32| Utc.with_ymd_and_hms(2026, 11, d, hh, 0, 0).unwrap();
        let hours = vec![
            // Today: 09:00 and 14:00 Berlin (08, 13 UTC) → 5 + 1.
            (h(24, 8), 5),
            (h(24, 13), 1),
            // Tue 17 Nov: 10 at 10:00 Berlin, 4 at 15:00 Berlin (after 14:xx: whole day only).
            (h(17, 9), 10),
            (h(17, 14), 4),
            // Tue 10 Nov: 2 at 14:00 Berlin (same hour: counts so far).
            (h(10, 13), 2),
            // Wed 18 Nov: not a Tuesday, ignored.
            (h(18, 9), 100),
            // Tue 3 Nov: 23:00 UTC is 00:00 Wed 4 Nov Berlin: ignored.
            (h(3, 23), 50),
        ];
        let v = today_volume(tz, now, &hours);
        assert_eq!(v.today, 6);
        let days: Vec<String> = v.weeks.iter().map(|w| w.day.to_string()).collect();
        assert_eq!(
            days,
            ["2026-10-27", "2026-11-03", "2026-11-10", "2026-11-17"]
        );
        assert_eq!(
            v.weeks
                .iter()
                .map(|w| (w.so_far, w.whole_day))
                .collect::<Vec<_>>(),
            vec![(0, 0), (0, 0), (2, 2), (10, 14)]
        );
        // Typical so far: (0 + 0 + 2 + 10) / 4 = 3; whole day (0 + 0 + 2 + 14) / 4 = 4.
        assert_eq!(v.typical_so_far, Some(3.0));
        assert_eq!(v.typical_whole_day, Some(4.0));
        // (6 − 3) / 3 = +100 %.
        assert_eq!(v.change_pct, Some(100.0));
        let (a, b) = hours_needed(tz, now);
        assert_eq!(a, Utc.with_ymd_and_hms(2026, 10, 26, 23, 0, 0).unwrap());
        assert_eq!(b, Utc.with_ymd_and_hms(2026, 11, 24, 23, 0, 0).unwrap());
    }

    #[test]
    fn weekly_schedule() {
        let tz: Tz = "Europe/Berlin".parse().unwrap();
        // Tue 24 Nov 2026 13:30 UTC → Mon 30 Nov 08:00 Berlin = 07:00 UTC.
        let now = Utc.with_ymd_and_hms(2026, 11, 24, 13, 30, 0).unwrap();
        let next = next_weekly(chrono::Weekday::Mon, 8, tz, now);
        assert_eq!(next, Utc.with_ymd_and_hms(2026, 11, 30, 7, 0, 0).unwrap());
        // At the instant itself: the week after.
        assert_eq!(
            next_weekly(chrono::Weekday::Mon, 8, tz, next),
            Utc.with_ymd_and_hms(2026, 12, 7, 7, 0, 0).unwrap()
        );
        // Later the same day: still today.
        assert_eq!(
            next_weekly(chrono::Weekday::Tue, 20, tz, now),
            Utc.with_ymd_and_hms(2026, 11, 24, 19, 0, 0).unwrap()
        );
        let (a, b) = digest_days(tz, next);
        assert_eq!(
            (a.to_string(), b.to_string()),
            ("2026-11-23".into(), "2026-11-29".into())
        );
    }

    #[test]
    fn nothing_before_means_no_change() {
        let now = Utc.with_ymd_and_hms(2026, 11, 24, 10, 0, 0).unwrap();
        let v = today_volume(Tz::UTC, now, &[(now, 3)]);
        assert_eq!(v.today, 3);
        assert_eq!(v.typical_so_far, Some(0.0));
        assert_eq!(v.change_pct, None);
    }
}
