//! Business calendars: an IANA time zone, weekly hours and holidays, and the arithmetic of
//! business time over them.
//!
//! # What "open" means
//! A shift belongs to the local date it starts on. `fri 22:00-06:00` is an overnight shift
//! that runs into Saturday; a holiday on the Friday removes it whole, a holiday on the
//! Saturday does not touch it. Each shift becomes one interval of real (UTC) time: its start
//! is the first instant the wall clock shows the start time, its end the last instant the
//! wall clock shows the end time. So across a DST change a shift lasts what the clock on
//! the wall says: `sat 22:00-06:00` is 7 real hours in the spring night and 9 in the autumn
//! night. A wall time that does not exist (the skipped hour) maps to the instant the clock
//! jumps. Business time is real elapsed time inside those intervals.
//!
//! # Cost
//! Nothing here walks minute by minute. Days are walked one at a time with one tz lookup
//! per day (local-to-UTC conversions only on the few days around a DST change), and a run of
//! seven holiday-free days with one UTC offset is added as a precomputed week total. The
//! week check samples the offset every 3 days: in the tz database (2025b, 1970–2100, every
//! zone) two offset changes are never less than 167 h apart, so equal samples 3 days apart
//! mean no change in between.

use crate::Invalid;
use chrono::offset::LocalResult;
use chrono::{
    DateTime, Datelike, Days, Duration, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeZone, Utc,
    Weekday,
};
use chrono_tz::{GapInfo, Tz};
use serde::{Deserialize, Serialize};

pub(crate) const MIN_US: i64 = 60_000_000;
const DAY_US: i64 = 86_400_000_000;
const DAY_MIN: u32 = 1440;
const WEEK_MIN: u32 = 7 * DAY_MIN;
/// How many days [`Calendar::add_business`] and [`Calendar::next_open`] look ahead before
/// they give up (a calendar whose holidays leave no open hour, or a target longer than the
/// calendar can supply in that time).
pub const HORIZON_DAYS: u64 = 100 * 366;
/// One-off holidays must fall in these years; anything else is taken for a typo.
pub const HOLIDAY_YEARS: std::ops::RangeInclusive<i32> = 1970..=2200;
const MAX_SHIFTS: usize = 200;
const MAX_HOLIDAYS: usize = 10_000;
const DAY_NAMES: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

/// A calendar as a client writes it: plain strings, checked by [`CalendarSpec::validate`] or
/// [`Calendar::new`]. This is also the JSON form a [`Calendar`] (de)serialises to.
///
/// ```json
/// {"time_zone": "Europe/Berlin",
///  "hours": [{"day": "mon", "start": "09:00", "end": "17:00"},
///            {"day": "fri", "start": "22:00", "end": "06:00"}],
///  "holidays": [{"date": "2026-12-24", "name": "Christmas Eve"},
///               {"yearly": "12-25", "name": "Christmas Day"}]}
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CalendarSpec {
    /// IANA name such as `Europe/Berlin`.
    pub time_zone: String,
    #[serde(default)]
    pub hours: Vec<ShiftSpec>,
    #[serde(default)]
    pub holidays: Vec<HolidaySpec>,
}

/// One shift: `day` is `mon`…`sun`; `start` and `end` are `HH:MM` wall-clock times in the
/// calendar's zone. `end` may be `24:00`; an `end` before `start` ends on the next day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShiftSpec {
    pub day: String,
    pub start: String,
    pub end: String,
}

/// A closed day: either one `date` (`YYYY-MM-DD`) or a `yearly` month and day (`MM-DD`;
/// `02-29` only closes leap days). Exactly one of the two is set.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HolidaySpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub yearly: Option<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
}

impl HolidaySpec {
    pub fn once(date: NaiveDate, name: impl Into<String>) -> Self {
        HolidaySpec {
            date: Some(date.format("%Y-%m-%d").to_string()),
            yearly: None,
            name: name.into(),
        }
    }
    pub fn yearly(month: u32, day: u32, name: impl Into<String>) -> Self {
        HolidaySpec {
            date: None,
            yearly: Some(format!("{month:02}-{day:02}")),
            name: name.into(),
        }
    }
}

impl CalendarSpec {
    /// Checks everything [`Calendar::new`] checks; the error names the field to fix.
    pub fn validate(&self) -> Result<(), Invalid> {
        Calendar::new(self.clone()).map(|_| ())
    }

    /// Parses the line format (see [`Calendar::parse`]) without validating it.
    pub fn parse(text: &str) -> Result<(CalendarSpec, SpecLines), Invalid> {
        let mut spec = CalendarSpec {
            time_zone: String::new(),
            hours: Vec::new(),
            holidays: Vec::new(),
        };
        let mut lines = SpecLines::default();
        for (i, raw) in text.lines().enumerate() {
            let n = i + 1;
            let line = raw.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let field = format!("line {n}");
            let (word, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
            let rest = rest.trim();
            match word.to_ascii_lowercase().as_str() {
                "zone" | "tz" | "time_zone" => {
                    if !spec.time_zone.is_empty() {
                        return Err(Invalid::new(field, "a second time zone line"));
                    }
                    spec.time_zone = rest.to_string();
                    lines.time_zone = n;
                }
                w @ ("holiday" | "yearly") => {
                    let (when, name) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
                    if when.is_empty() {
                        return Err(Invalid::new(
                            field,
                            "write `holiday YYYY-MM-DD name` or `yearly MM-DD name`",
                        ));
                    }
                    let mut h = HolidaySpec {
                        name: name.trim().to_string(),
                        ..HolidaySpec::default()
                    };
                    if w == "holiday" {
                        h.date = Some(when.to_string());
                    } else {
                        h.yearly = Some(when.to_string());
                    }
                    spec.holidays.push(h);
                    lines.holidays.push(n);
                }
                _ => {
                    let days = parse_day_set(word).ok_or_else(|| {
                        Invalid::new(
                            &field,
                            format!(
                                "'{}' is not zone, holiday, yearly or days such as mon, mon-fri, sat,sun, daily",
                                crate::truncate_for_message(word)
                            ),
                        )
                    })?;
                    if rest.is_empty() {
                        return Err(Invalid::new(
                            field,
                            "no hours: write e.g. `mon-fri 09:00-17:00`",
                        ));
                    }
                    for range in rest.split_whitespace() {
                        let (start, end) = range.split_once('-').ok_or_else(|| {
                            Invalid::new(
                                &field,
                                format!("'{range}' is not a range such as 09:00-17:00"),
                            )
                        })?;
                        for &d in &days {
                            spec.hours.push(ShiftSpec {
                                day: DAY_NAMES[d].to_ascii_lowercase(),
                                start: start.to_string(),
                                end: end.to_string(),
                            });
                            lines.hours.push(n);
                        }
                    }
                }
            }
        }
        Ok((spec, lines))
    }

    /// The line format [`CalendarSpec::parse`] reads: `zone`, one line per set of days with
    /// the same hours (`mon,tue,wed 09:00-17:00`), then the holidays. Parsing it gives the
    /// same calendar (shifts may come in another order).
    pub fn to_text(&self) -> String {
        let mut out = format!("zone {}\n", self.time_zone);
        let mut ranges: Vec<((&str, &str), Vec<&str>)> = Vec::new();
        for h in &self.hours {
            let key = (h.start.as_str(), h.end.as_str());
            match ranges.iter_mut().find(|(k, _)| *k == key) {
                Some((_, days)) => {
                    if !days.contains(&h.day.as_str()) {
                        days.push(&h.day)
                    }
                }
                None => ranges.push((key, vec![&h.day])),
            }
        }
        for ((start, end), days) in ranges {
            out.push_str(&format!("{} {start}-{end}\n", days.join(",")));
        }
        for h in &self.holidays {
            let (word, when) = match (&h.date, &h.yearly) {
                (Some(d), _) => ("holiday", d),
                (None, Some(y)) => ("yearly", y),
                (None, None) => continue,
            };
            let name = h.name.replace('#', "");
            out.push_str(format!("{word} {when} {name}").trim_end());
            out.push('\n');
        }
        out
    }

    /// Adds the all-day events of an iCalendar file as holidays; returns how many were added.
    pub fn import_ical(&mut self, ics: &str) -> Result<usize, Invalid> {
        let hs = holidays_from_ical(ics)?;
        let n = hs.len();
        self.holidays.extend(hs);
        Ok(n)
    }
}

/// Line numbers of what [`CalendarSpec::parse`] read, so errors can point at lines.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SpecLines {
    pub time_zone: usize,
    pub hours: Vec<usize>,
    pub holidays: Vec<usize>,
}

impl SpecLines {
    /// Rewrites `hours[3].end: …` into `line 7: …`.
    pub fn locate(&self, e: Invalid) -> Invalid {
        let idx = |prefix: &str| -> Option<usize> {
            let rest = e.field.strip_prefix(prefix)?;
            rest.split(']').next()?.parse().ok()
        };
        let line = if e.field == "time_zone" {
            Some(self.time_zone).filter(|&n| n > 0)
        } else if let Some(i) = idx("hours[") {
            self.hours.get(i).copied()
        } else if let Some(i) = idx("holidays[") {
            self.holidays.get(i).copied()
        } else {
            None
        };
        match line {
            Some(n) => Invalid::new(format!("line {n}"), e.message),
            None => e,
        }
    }
}

/// A validated business calendar. Build it with [`Calendar::new`], [`Calendar::parse`],
/// [`Calendar::from_json`] or serde (which validates); [`Calendar::always`] is 24/7.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "CalendarSpec", into = "CalendarSpec")]
pub struct Calendar {
    spec: CalendarSpec,
    tz: Tz,
    /// Shifts by the weekday they start on (Mon = 0), as minutes from that day's midnight;
    /// an overnight shift ends past 1440.
    days: [Vec<(u32, u32)>; 7],
    week_us: i64,
    once: Vec<NaiveDate>,
    /// Bit `(month-1)*31 + day-1` is set for a yearly holiday.
    yearly: [u64; 6],
    always: bool,
}

impl TryFrom<CalendarSpec> for Calendar {
    type Error = Invalid;
    fn try_from(spec: CalendarSpec) -> Result<Self, Invalid> {
        Calendar::new(spec)
    }
}

impl From<Calendar> for CalendarSpec {
    fn from(c: Calendar) -> Self {
        c.spec
    }
}

fn parse_day(s: &str) -> Option<usize> {
    s.trim()
        .parse::<Weekday>()
        .ok()
        .map(|d| d.num_days_from_monday() as usize)
}

fn parse_day_set(s: &str) -> Option<Vec<usize>> {
    match s.to_ascii_lowercase().as_str() {
        "daily" | "everyday" => return Some((0..7).collect()),
        "weekdays" => return Some((0..5).collect()),
        "weekends" => return Some(vec![5, 6]),
        _ => {}
    }
    let mut out = Vec::new();
    for part in s.split(',') {
        if let Some((a, b)) = part.split_once('-') {
            let (a, b) = (parse_day(a)?, parse_day(b)?);
            let mut d = a;
            loop {
                out.push(d);
                if d == b {
                    break;
                }
                d = (d + 1) % 7;
            }
        } else {
            out.push(parse_day(part)?);
        }
    }
    out.sort_unstable();
    out.dedup();
    Some(out)
}

/// `HH:MM` to minutes after midnight; `24:00` only when `allow_24`.
fn parse_hhmm(s: &str, allow_24: bool) -> Option<u32> {
    let (h, m) = s.trim().split_once(':')?;
    if h.is_empty() || h.len() > 2 || m.len() != 2 {
        return None;
    }
    let h: u32 = h.parse().ok()?;
    let m: u32 = m.parse().ok()?;
    if m > 59 || h > 24 || (h == 24 && (m != 0 || !allow_24)) {
        return None;
    }
    Some(h * 60 + m)
}

fn hhmm(min: u32) -> String {
    format!("{:02}:{:02}", (min / 60) % 25, min % 60)
}

fn yearly_bit(month: u32, day: u32) -> usize {
    ((month - 1) * 31 + (day - 1)) as usize
}

fn parse_month_day(s: &str) -> Option<(u32, u32)> {
    let (m, d) = s.trim().split_once('-')?;
    if m.len() != 2 || d.len() != 2 {
        return None;
    }
    let (m, d): (u32, u32) = (m.parse().ok()?, d.parse().ok()?);
    // 2000 is a leap year, so 02-29 passes.
    NaiveDate::from_ymd_opt(2000, m, d).map(|_| (m, d))
}

impl Calendar {
    /// Validates a spec: a known time zone, at least one shift, shifts that parse and do not
    /// overlap (also across midnight and the week's end), holidays that are real dates in
    /// [`HOLIDAY_YEARS`].
    pub fn new(spec: CalendarSpec) -> Result<Calendar, Invalid> {
        let tz: Tz = spec.time_zone.trim().parse().map_err(|_| {
            Invalid::new(
                "time_zone",
                format!(
                    "'{}' is not an IANA time zone name such as Europe/Berlin",
                    crate::truncate_for_message(&spec.time_zone)
                ),
            )
        })?;
        if spec.hours.is_empty() {
            return Err(Invalid::new(
                "hours",
                "no working hours: add at least one shift such as mon 09:00-17:00 (or use the 24/7 calendar)",
            ));
        }
        if spec.hours.len() > MAX_SHIFTS {
            return Err(Invalid::new(
                "hours",
                format!("at most {MAX_SHIFTS} shifts"),
            ));
        }
        if spec.holidays.len() > MAX_HOLIDAYS {
            return Err(Invalid::new(
                "holidays",
                format!("at most {MAX_HOLIDAYS} holidays"),
            ));
        }
        let mut days: [Vec<(u32, u32)>; 7] = Default::default();
        // (week start minute, week end minute, shift index), overnight Sunday split in two.
        let mut week: Vec<(u32, u32, usize)> = Vec::new();
        for (i, sh) in spec.hours.iter().enumerate() {
            let f = |k: &str| format!("hours[{i}].{k}");
            let d = parse_day(&sh.day).ok_or_else(|| {
                Invalid::new(
                    f("day"),
                    format!(
                        "'{}' is not a day such as mon or tuesday",
                        crate::truncate_for_message(&sh.day)
                    ),
                )
            })?;
            let s = parse_hhmm(&sh.start, false).ok_or_else(|| {
                Invalid::new(
                    f("start"),
                    format!(
                        "'{}' is not a time from 00:00 to 23:59",
                        crate::truncate_for_message(&sh.start)
                    ),
                )
            })?;
            let e = parse_hhmm(&sh.end, true).ok_or_else(|| {
                Invalid::new(
                    f("end"),
                    format!(
                        "'{}' is not a time from 00:00 to 24:00",
                        crate::truncate_for_message(&sh.end)
                    ),
                )
            })?;
            if s == e {
                return Err(Invalid::new(
                    format!("hours[{i}]"),
                    format!(
                        "{} {}-{} has no length; for a whole day write 00:00-24:00",
                        DAY_NAMES[d],
                        hhmm(s),
                        hhmm(e)
                    ),
                ));
            }
            let e = if e < s { e + DAY_MIN } else { e };
            days[d].push((s, e));
            let (ws, we) = (d as u32 * DAY_MIN + s, d as u32 * DAY_MIN + e);
            if we > WEEK_MIN {
                week.push((ws, WEEK_MIN, i));
                week.push((0, we - WEEK_MIN, i));
            } else {
                week.push((ws, we, i));
            }
        }
        week.sort_unstable();
        let describe = |i: usize| {
            let sh = &spec.hours[i];
            format!("{} {}-{}", sh.day.trim(), sh.start.trim(), sh.end.trim())
        };
        for w in week.windows(2) {
            if w[0].1 > w[1].0 {
                let (a, b) = (w[0].2.min(w[1].2), w[0].2.max(w[1].2));
                return Err(Invalid::new(
                    format!("hours[{b}]"),
                    format!("{} overlaps hours[{a}] ({})", describe(b), describe(a)),
                ));
            }
        }
        let covered: u32 = week.iter().map(|w| w.1 - w.0).sum();
        for d in &mut days {
            d.sort_unstable();
        }
        let week_us = covered as i64 * MIN_US;

        let mut once = Vec::new();
        let mut yearly = [0u64; 6];
        for (i, h) in spec.holidays.iter().enumerate() {
            match (&h.date, &h.yearly) {
                (Some(date), None) => {
                    let d = NaiveDate::parse_from_str(date.trim(), "%Y-%m-%d").map_err(|_| {
                        Invalid::new(
                            format!("holidays[{i}].date"),
                            format!(
                                "'{}' is not a valid date written YYYY-MM-DD",
                                crate::truncate_for_message(date)
                            ),
                        )
                    })?;
                    if !HOLIDAY_YEARS.contains(&d.year()) {
                        return Err(Invalid::new(
                            format!("holidays[{i}].date"),
                            format!(
                                "{date} is in the year {}, outside {}–{}: a typo?",
                                d.year(),
                                HOLIDAY_YEARS.start(),
                                HOLIDAY_YEARS.end()
                            ),
                        ));
                    }
                    once.push(d);
                }
                (None, Some(md)) => {
                    let (m, d) = parse_month_day(md).ok_or_else(|| {
                        Invalid::new(
                            format!("holidays[{i}].yearly"),
                            format!(
                                "'{}' is not a valid month and day written MM-DD",
                                crate::truncate_for_message(md)
                            ),
                        )
                    })?;
                    let b = yearly_bit(m, d);
                    yearly[b / 64] |= 1 << (b % 64);
                }
                _ => {
                    return Err(Invalid::new(
                        format!("holidays[{i}]"),
                        "give exactly one of date (YYYY-MM-DD) or yearly (MM-DD)",
                    ))
                }
            }
            if h.name.chars().count() > crate::limits::NAME_MAX {
                return Err(Invalid::new(
                    format!("holidays[{i}].name"),
                    format!("is longer than {} characters", crate::limits::NAME_MAX),
                ));
            }
        }
        let yearly_count: u32 = yearly.iter().map(|w| w.count_ones()).sum();
        if yearly_count >= 366 {
            return Err(Invalid::new(
                "holidays",
                "the yearly holidays cover every day of the year: the calendar would never be open",
            ));
        }
        once.sort_unstable();
        once.dedup();
        let always = covered == WEEK_MIN && once.is_empty() && yearly_count == 0;
        Ok(Calendar {
            spec,
            tz,
            days,
            week_us,
            once,
            yearly,
            always,
        })
    }

    /// Parses and validates the line format:
    ///
    /// ```text
    /// # support hours
    /// zone Europe/Berlin
    /// mon-fri 09:00-12:00 13:00-17:00
    /// fri 22:00-06:00          # overnight into Saturday
    /// holiday 2026-12-24 Christmas Eve
    /// yearly 12-25 Christmas Day
    /// ```
    ///
    /// Days are `mon`…`sun`, ranges (`mon-fri`, `sat-mon`), lists (`sat,sun`), `daily`,
    /// `weekdays`, `weekends`. Errors name the line.
    pub fn parse(text: &str) -> Result<Calendar, Invalid> {
        let (spec, lines) = CalendarSpec::parse(text)?;
        Calendar::new(spec).map_err(|e| lines.locate(e))
    }

    /// Parses and validates the JSON form (see [`CalendarSpec`]).
    pub fn from_json(json: &str) -> Result<Calendar, Invalid> {
        let spec: CalendarSpec =
            serde_json::from_str(json).map_err(|e| Invalid::new("calendar", e.to_string()))?;
        Calendar::new(spec)
    }

    /// Calendar time: open around the clock every day, in UTC.
    pub fn always() -> Calendar {
        let hours = DAY_NAMES
            .iter()
            .map(|d| ShiftSpec {
                day: d.to_ascii_lowercase(),
                start: "00:00".into(),
                end: "24:00".into(),
            })
            .collect();
        let spec = CalendarSpec {
            time_zone: "UTC".into(),
            hours,
            holidays: Vec::new(),
        };
        let mut days: [Vec<(u32, u32)>; 7] = Default::default();
        for d in &mut days {
            d.push((0, DAY_MIN));
        }
        Calendar {
            spec,
            tz: Tz::UTC,
            days,
            week_us: WEEK_MIN as i64 * MIN_US,
            once: Vec::new(),
            yearly: [0; 6],
            always: true,
        }
    }

    pub fn spec(&self) -> &CalendarSpec {
        &self.spec
    }
    pub fn time_zone(&self) -> Tz {
        self.tz
    }
    /// Open around the clock with no holidays: business time is elapsed time.
    pub fn is_always(&self) -> bool {
        self.always
    }
    /// Business time in a week without holidays or DST change.
    pub fn weekly_business_time(&self) -> Duration {
        Duration::microseconds(self.week_us)
    }

    /// Whether shifts starting on this local date are cancelled.
    pub fn is_holiday(&self, date: NaiveDate) -> bool {
        let b = yearly_bit(date.month(), date.day());
        self.yearly[b / 64] & (1 << (b % 64)) != 0 || self.once.binary_search(&date).is_ok()
    }

    /// Whether `t` lies inside a shift.
    pub fn is_open(&self, t: DateTime<Utc>) -> bool {
        let t = t.timestamp_micros();
        if self.always {
            return true;
        }
        let Some(first) = self.local_date(t).pred_opt() else {
            return false;
        };
        let mut c = Cursor::new(self, first);
        let mut buf = Vec::new();
        for _ in 0..2 {
            c.intervals(&mut buf);
            if buf.iter().any(|&(a, b)| a <= t && t < b) {
                return true;
            }
            if !c.advance() {
                break;
            }
        }
        false
    }

    /// Business time between two instants (zero if `to <= from`). Spans longer than
    /// [`HORIZON_DAYS`] count their first [`HORIZON_DAYS`] only.
    pub fn business_duration(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Duration {
        Duration::microseconds(self.business_us(from.timestamp_micros(), to.timestamp_micros()))
    }

    /// The instant at which `amount` of business time after `from` has passed: the due time.
    /// A zero or negative `amount` gives `from`. `None` if the calendar cannot supply that
    /// much within [`HORIZON_DAYS`].
    pub fn add_business(&self, from: DateTime<Utc>, amount: Duration) -> Option<DateTime<Utc>> {
        let amount = amount.num_microseconds().unwrap_or(i64::MAX);
        self.add_us(from.timestamp_micros(), amount)
            .and_then(from_us)
    }

    /// The first open instant at or after `t`; `None` if none within [`HORIZON_DAYS`].
    pub fn next_open(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let t_us = t.timestamp_micros();
        if self.always {
            return Some(t);
        }
        Walker::new(self, t_us)?
            .next()
            .and_then(|(lo, _)| from_us(lo))
    }

    // ---- microsecond arithmetic -------------------------------------------------------

    pub(crate) fn business_us(&self, from: i64, to: i64) -> i64 {
        if to <= from {
            return 0;
        }
        if self.always {
            return to - from;
        }
        let Some(mut w) = Walker::new(self, from) else {
            return 0;
        };
        // Seven days from D lie inside [M_D, M_{D+8}) ⊆ [from, to) when D+8 <= date(to).
        let skip_until = self.local_date(to).checked_sub_days(Days::new(8));
        let mut total = 0i64;
        loop {
            if skip_until.is_some_and(|last| w.can_skip(last)) && w.skip_week() {
                total += self.week_us;
                continue;
            }
            match w.next() {
                Some((lo, hi)) if lo < to => total += hi.min(to) - lo,
                _ => return total,
            }
        }
    }

    pub(crate) fn add_us(&self, from: i64, amount: i64) -> Option<i64> {
        if amount <= 0 {
            return Some(from);
        }
        if self.always {
            return from.checked_add(amount);
        }
        let mut w = Walker::new(self, from)?;
        let mut remaining = amount;
        loop {
            if remaining > self.week_us && w.can_skip(NaiveDate::MAX) && w.skip_week() {
                remaining -= self.week_us;
                continue;
            }
            let (lo, hi) = w.next()?;
            if remaining <= hi - lo {
                return Some(lo + remaining);
            }
            remaining -= hi - lo;
        }
    }

    fn offset_at(&self, us: i64) -> i64 {
        match DateTime::from_timestamp_micros(us) {
            Some(t) => {
                self.tz
                    .offset_from_utc_datetime(&t.naive_utc())
                    .fix()
                    .local_minus_utc() as i64
                    * 1_000_000
            }
            None => 0,
        }
    }

    fn local_date(&self, us: i64) -> NaiveDate {
        let local = us.saturating_add(self.offset_at(us));
        DateTime::from_timestamp_micros(local)
            .map(|t| t.date_naive())
            .unwrap_or(if us < 0 {
                NaiveDate::MIN
            } else {
                NaiveDate::MAX
            })
    }

    /// The instant the wall clock shows `date` + `minute` minutes: the first such instant
    /// (`earliest`) or the last one; the jump instant if that wall time is skipped.
    fn local_to_utc(&self, date: NaiveDate, minute: u32, earliest: bool) -> i64 {
        let base = NaiveDateTime::new(date, NaiveTime::MIN);
        let naive = base
            .checked_add_signed(Duration::minutes(minute as i64))
            .unwrap_or(base);
        let pick = match self.tz.from_local_datetime(&naive) {
            LocalResult::Single(t) => Some(t),
            LocalResult::Ambiguous(a, b) => Some(if earliest { a } else { b }),
            LocalResult::None => GapInfo::new(&naive, &self.tz).and_then(|g| g.end),
        };
        match pick {
            Some(t) => t.timestamp_micros(),
            None => {
                let guess = naive.and_utc().timestamp_micros();
                guess.saturating_sub(self.offset_at(guess))
            }
        }
    }
}

/// The open stretches after an instant, in order, each clipped to start at or after it and
/// after the previous one (shifts whose ends fall in a repeated hour may overlap in UTC).
struct Walker<'a> {
    c: Cursor<'a>,
    buf: Vec<(i64, i64)>,
    idx: usize,
    /// The current day's shifts were loaded; move on before loading again.
    loaded: bool,
    from: i64,
    /// The first day whose shifts all start after `from`.
    full_from: NaiveDate,
    horizon: NaiveDate,
    last_end: i64,
    done: bool,
}

impl<'a> Walker<'a> {
    fn new(cal: &'a Calendar, from: i64) -> Option<Self> {
        let start = cal.local_date(from);
        Some(Walker {
            c: Cursor::new(cal, start.pred_opt()?),
            buf: Vec::with_capacity(4),
            idx: 0,
            loaded: false,
            from,
            full_from: start.succ_opt()?,
            horizon: start
                .checked_add_days(Days::new(HORIZON_DAYS))
                .unwrap_or(NaiveDate::MAX),
            last_end: i64::MIN,
            done: false,
        })
    }

    /// Positions the cursor at the start of a day not yet loaded; false at the end.
    fn boundary(&mut self) -> bool {
        if self.idx < self.buf.len() || self.done {
            return false;
        }
        if self.loaded {
            if !self.c.advance() {
                self.done = true;
                return false;
            }
            self.loaded = false;
            self.buf.clear();
            self.idx = 0;
        }
        if self.c.date > self.horizon {
            self.done = true;
            return false;
        }
        true
    }

    /// Whether the next seven days may be taken whole: they start after `from` and the day
    /// they start on is no later than `last`.
    fn can_skip(&mut self, last: NaiveDate) -> bool {
        self.boundary() && self.c.date >= self.full_from && self.c.date <= last
    }

    fn skip_week(&mut self) -> bool {
        self.c.skip_week()
    }

    fn next(&mut self) -> Option<(i64, i64)> {
        loop {
            while let Some(&(a, b)) = self.buf.get(self.idx) {
                self.idx += 1;
                let lo = a.max(self.from).max(self.last_end);
                self.last_end = self.last_end.max(b);
                if b > lo {
                    return Some((lo, b));
                }
            }
            if !self.boundary() {
                return None;
            }
            self.c.intervals(&mut self.buf);
            self.idx = 0;
            self.loaded = true;
        }
    }
}

fn from_us(us: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_micros(us)
}

/// Walks local dates, keeping the UTC instant of the date's local midnight and the offsets a
/// day and two days on, so that ordinary days need one tz lookup and no local conversion.
struct Cursor<'a> {
    cal: &'a Calendar,
    date: NaiveDate,
    /// UTC µs of the first instant of `date` (local midnight, or the jump if it is skipped).
    mid: i64,
    /// UTC offset (µs) at `mid`.
    off: i64,
    ahead: [Option<i64>; 2],
}

impl<'a> Cursor<'a> {
    fn new(cal: &'a Calendar, date: NaiveDate) -> Self {
        let mid = cal.local_to_utc(date, 0, true);
        Cursor {
            cal,
            date,
            mid,
            off: cal.offset_at(mid),
            ahead: [None, None],
        }
    }

    fn ahead(&mut self, k: usize) -> i64 {
        if let Some(o) = self.ahead[k] {
            return o;
        }
        let o = self
            .cal
            .offset_at(self.mid.saturating_add((k as i64 + 1) * DAY_US));
        self.ahead[k] = Some(o);
        o
    }

    fn at_midnight(&self) -> bool {
        self.mid.saturating_add(self.off).rem_euclid(DAY_US) == 0
    }

    /// No offset change from this midnight through two days on (overnight shifts end by then).
    fn regular(&mut self) -> bool {
        self.at_midnight() && self.ahead(0) == self.off && self.ahead(1) == self.off
    }

    fn intervals(&mut self, buf: &mut Vec<(i64, i64)>) {
        buf.clear();
        let cal = self.cal;
        let shifts = &cal.days[self.date.weekday().num_days_from_monday() as usize];
        if shifts.is_empty() || cal.is_holiday(self.date) {
            return;
        }
        if self.regular() {
            for &(s, e) in shifts {
                buf.push((self.mid + s as i64 * MIN_US, self.mid + e as i64 * MIN_US));
            }
        } else {
            for &(s, e) in shifts {
                let a = cal.local_to_utc(self.date, s, true);
                let b = cal.local_to_utc(self.date, e, false);
                if b > a {
                    buf.push((a, b));
                }
            }
        }
    }

    fn advance(&mut self) -> bool {
        let Some(next) = self.date.succ_opt() else {
            return false;
        };
        let fast = self.at_midnight() && self.ahead(0) == self.off;
        self.date = next;
        if fast {
            self.mid += DAY_US;
            self.ahead = [self.ahead[1], None];
        } else {
            self.mid = self.cal.local_to_utc(next, 0, true);
            self.off = self.cal.offset_at(self.mid);
            self.ahead = [None, None];
        }
        true
    }

    /// Seven days from here hold no holiday and one UTC offset through `mid + 8 days`, so
    /// their shifts add up to exactly the week total.
    fn skip_ok(&mut self) -> bool {
        if !self.at_midnight() || self.date.checked_add_days(Days::new(8)).is_none() {
            return false;
        }
        if (0..7u64).any(|k| self.cal.is_holiday(self.date + Days::new(k))) {
            return false;
        }
        [3i64, 6, 8]
            .iter()
            .all(|&k| self.cal.offset_at(self.mid.saturating_add(k * DAY_US)) == self.off)
    }

    fn skip_week(&mut self) -> bool {
        if !self.skip_ok() {
            return false;
        }
        self.date = self.date + Days::new(7);
        self.mid += 7 * DAY_US;
        self.ahead = [None, None];
        true
    }
}

/// The all-day events (`DTSTART;VALUE=DATE:20261225`) of an iCalendar file as holidays.
/// `DTEND` (exclusive) or `DURATION:PnD` spread an event over several days;
/// `RRULE:FREQ=YEARLY` makes it yearly. Timed events and other rules are errors that name
/// the line, so nothing is dropped silently.
pub fn holidays_from_ical(ics: &str) -> Result<Vec<HolidaySpec>, Invalid> {
    // Unfold: a line starting with a space or tab continues the previous one.
    let mut lines: Vec<(usize, String)> = Vec::new();
    for (i, raw) in ics.lines().enumerate() {
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        if let (Some(rest), Some(last)) = (
            raw.strip_prefix(' ').or_else(|| raw.strip_prefix('\t')),
            lines.last_mut(),
        ) {
            last.1.push_str(rest);
        } else if !raw.trim().is_empty() {
            lines.push((i + 1, raw.to_string()));
        }
    }
    let err = |n: usize, m: String| Invalid::new(format!("ical line {n}"), m);
    let parse_date = |n: usize, v: &str| {
        NaiveDate::parse_from_str(v.trim(), "%Y%m%d").map_err(|_| {
            err(
                n,
                format!(
                    "'{}' is not a date written YYYYMMDD",
                    crate::truncate_for_message(v)
                ),
            )
        })
    };
    let mut out = Vec::new();
    let mut events = 0;
    let mut in_event: Option<usize> = None;
    let (mut start, mut end, mut days, mut yearly, mut name): (
        Option<NaiveDate>,
        Option<NaiveDate>,
        Option<i64>,
        bool,
        String,
    ) = (None, None, None, false, String::new());
    for (n, line) in &lines {
        let n = *n;
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let mut parts = key.split(';');
        let prop = parts.next().unwrap_or("").to_ascii_uppercase();
        let params: Vec<String> = parts.map(|p| p.to_ascii_uppercase()).collect();
        match (prop.as_str(), in_event) {
            ("BEGIN", _) if value.trim().eq_ignore_ascii_case("VEVENT") => {
                in_event = Some(n);
                (start, end, days, yearly, name) = (None, None, None, false, String::new());
            }
            ("END", Some(begin)) if value.trim().eq_ignore_ascii_case("VEVENT") => {
                in_event = None;
                events += 1;
                let s: NaiveDate =
                    start.ok_or_else(|| err(begin, "VEVENT without DTSTART".into()))?;
                let count = match (end, days) {
                    (Some(e), _) => (e - s).num_days(),
                    (None, Some(d)) => d,
                    (None, None) => 1,
                };
                if !(1..=366).contains(&count) {
                    return Err(err(begin, format!("event '{name}' lasts {count} days; all-day holidays last 1 to 366 days")));
                }
                for k in 0..count {
                    let d = s + Days::new(k as u64);
                    out.push(if yearly {
                        HolidaySpec::yearly(d.month(), d.day(), name.clone())
                    } else {
                        HolidaySpec::once(d, name.clone())
                    });
                }
            }
            ("DTSTART" | "DTEND", Some(_)) => {
                let is_date = params.iter().any(|p| p == "VALUE=DATE")
                    || (value.trim().len() == 8 && !value.contains('T'));
                if !is_date {
                    return Err(err(n, format!(
                        "{prop} '{}' is a timed event; only all-day events (DTSTART;VALUE=DATE:YYYYMMDD) can be holidays",
                        crate::truncate_for_message(value)
                    )));
                }
                let d = parse_date(n, value)?;
                if prop == "DTSTART" {
                    start = Some(d);
                } else {
                    end = Some(d);
                }
            }
            ("DURATION", Some(_)) => {
                let v = value.trim().to_ascii_uppercase();
                let d = v
                    .strip_prefix('P')
                    .and_then(|r| r.strip_suffix('D'))
                    .and_then(|r| r.parse::<i64>().ok())
                    .ok_or_else(|| {
                        err(
                            n,
                            format!(
                                "DURATION '{}' is not whole days such as P1D",
                                crate::truncate_for_message(value)
                            ),
                        )
                    })?;
                days = Some(d);
            }
            ("RRULE", Some(_)) => {
                let v = value.trim().to_ascii_uppercase();
                if v.split(';').any(|p| p == "FREQ=YEARLY")
                    && v.split(';').all(|p| {
                        p.starts_with("FREQ=")
                            || p.starts_with("INTERVAL=1")
                            || p.starts_with("BYMONTH")
                            || p.starts_with("WKST")
                    })
                    && !v.contains("BYMONTHDAY=-")
                {
                    yearly = true;
                } else {
                    return Err(err(
                        n,
                        format!(
                            "RRULE '{}' is not supported; only FREQ=YEARLY on a fixed date",
                            crate::truncate_for_message(value)
                        ),
                    ));
                }
            }
            ("SUMMARY", Some(_)) => {
                name = value
                    .replace("\\n", " ")
                    .replace("\\N", " ")
                    .replace("\\,", ",")
                    .replace("\\;", ";")
                    .replace("\\\\", "\\")
                    .trim()
                    .chars()
                    .take(crate::limits::NAME_MAX)
                    .collect();
            }
            _ => {}
        }
    }
    if let Some(begin) = in_event {
        return Err(err(begin, "VEVENT without END:VEVENT".into()));
    }
    if events == 0 {
        return Err(Invalid::new(
            "ical",
            "no VEVENT found: is this an iCalendar (.ics) file?",
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod text_tests {
    use super::*;

    #[test]
    fn text_round_trips() {
        let text = "zone Europe/Berlin\nmon-fri 09:00-17:00\nsat 10:00-14:00\nfri 22:00-06:00\nholiday 2026-12-24 Christmas Eve\nyearly 12-25\n";
        let (spec, _) = CalendarSpec::parse(text).unwrap();
        let again = CalendarSpec::parse(&spec.to_text()).unwrap().0;
        assert_eq!(
            Calendar::new(again).unwrap(),
            Calendar::new(spec.clone()).unwrap()
        );
        assert!(spec
            .to_text()
            .starts_with("zone Europe/Berlin\nmon,tue,wed,thu,fri 09:00-17:00\n"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn overlapping_and_empty_calendars_are_rejected() {
        let e =
            Calendar::parse("zone Europe/Berlin\nmon 09:00-17:00\nmon 16:00-18:00").unwrap_err();
        assert_eq!(e.field, "line 3");
        assert!(e.message.contains("overlaps"), "{e}");
        // Sunday overnight wraps into Monday morning.
        let e = Calendar::parse("zone UTC\nsun 22:00-06:00\nmon 05:00-09:00").unwrap_err();
        assert!(e.message.contains("overlaps"), "{e}");
        assert!(Calendar::parse("zone UTC\nsun 22:00-06:00\nmon 06:00-09:00").is_ok());
        assert_eq!(Calendar::parse("zone UTC").unwrap_err().field, "hours");
        assert_eq!(
            Calendar::parse("zone Mars/Olympus\nmon 09:00-10:00")
                .unwrap_err()
                .field,
            "line 1"
        );
        assert!(Calendar::parse("zone UTC\nmon 09:00-09:00")
            .unwrap_err()
            .message
            .contains("no length"));
        assert!(Calendar::parse("zone UTC\nmon 09:00-25:00").is_err());
        assert!(Calendar::parse("zone UTC\nfunday 09:00-17:00").is_err());
    }

    #[test]
    fn holidays_are_checked() {
        let base = "zone UTC\nmon-fri 09:00-17:00\n";
        let e = Calendar::parse(&format!("{base}holiday 2026-02-30 x")).unwrap_err();
        assert_eq!(e.field, "line 3");
        let e = Calendar::parse(&format!("{base}holiday 0026-12-25 typo")).unwrap_err();
        assert!(e.message.contains("typo"), "{e}");
        assert!(Calendar::parse(&format!("{base}yearly 02-29 leap")).is_ok());
        assert!(Calendar::parse(&format!("{base}yearly 13-01 x")).is_err());
        let spec = CalendarSpec {
            time_zone: "UTC".into(),
            hours: vec![ShiftSpec {
                day: "mon".into(),
                start: "09:00".into(),
                end: "10:00".into(),
            }],
            holidays: vec![HolidaySpec {
                date: Some("2026-01-01".into()),
                yearly: Some("01-01".into()),
                name: String::new(),
            }],
        };
        assert_eq!(spec.validate().unwrap_err().field, "holidays[0]");
    }

    #[test]
    fn json_round_trip_validates() {
        let cal =
            Calendar::parse("zone Europe/Berlin\nmon-fri 09:00-17:00\nyearly 12-25 Xmas").unwrap();
        let json = serde_json::to_string(&cal).unwrap();
        let back: Calendar = serde_json::from_str(&json).unwrap();
        assert_eq!(back, cal);
        assert!(serde_json::from_str::<Calendar>(r#"{"time_zone":"Nowhere","hours":[]}"#).is_err());
        assert_eq!(
            Calendar::from_json(r#"{"time_zone":"UTC"}"#)
                .unwrap_err()
                .field,
            "hours"
        );
    }

    #[test]
    fn ical_import() {
        let ics = "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART;VALUE=DATE:20261224\r\nDTEND;VALUE=DATE:20261227\r\nSUMMARY:Christmas\\, all\r\n  of it\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nDTSTART;VALUE=DATE:20260501\r\nRRULE:FREQ=YEARLY\r\nSUMMARY:Labour Day\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
        let hs = holidays_from_ical(ics).unwrap();
        assert_eq!(hs.len(), 4);
        assert_eq!(hs[0].date.as_deref(), Some("2026-12-24"));
        assert_eq!(hs[2].date.as_deref(), Some("2026-12-26"));
        assert_eq!(hs[0].name, "Christmas, all of it");
        assert_eq!(hs[3].yearly.as_deref(), Some("05-01"));
        let timed = "BEGIN:VEVENT\nDTSTART:20261224T090000Z\nEND:VEVENT\n";
        assert_eq!(holidays_from_ical(timed).unwrap_err().field, "ical line 2");
        assert!(
            holidays_from_ical("BEGIN:VEVENT\nDTSTART;VALUE=DATE:20261332\nEND:VEVENT").is_err()
        );
        assert!(holidays_from_ical("nothing").is_err());
    }

    #[test]
    fn next_open_and_is_open() {
        let cal =
            Calendar::parse("zone Europe/Berlin\nmon-fri 09:00-17:00\nfri 22:00-06:00").unwrap();
        // Sat 2026-03-28 05:00 CET is inside Fri's overnight shift.
        assert!(cal.is_open(utc("2026-03-28T04:00:00Z")));
        assert!(!cal.is_open(utc("2026-03-28T05:00:00Z")));
        // From Sat 06:00 CET the next opening is Mon 09:00 CEST.
        assert_eq!(
            cal.next_open(utc("2026-03-28T05:00:00Z")),
            Some(utc("2026-03-30T07:00:00Z"))
        );
        assert_eq!(
            Calendar::always().next_open(utc("2026-03-28T05:00:00Z")),
            Some(utc("2026-03-28T05:00:00Z"))
        );
    }

    #[test]
    fn long_spans_skip_weeks_and_agree_with_day_walks() {
        let cal =
            Calendar::parse("zone America/New_York\nmon-fri 09:00-17:00\nsat 10:00-14:00").unwrap();
        let a = utc("2026-01-05T15:00:00Z");
        let b = utc("2027-01-05T15:00:00Z");
        let whole = cal.business_duration(a, b);
        // Same sum in 10-day pieces, each too short to skip a week.
        let mut sum = Duration::zero();
        let mut t = a;
        while t < b {
            let u = (t + Duration::days(10)).min(b);
            sum += cal.business_duration(t, u);
            t = u;
        }
        assert_eq!(whole, sum);
        assert_eq!(cal.add_business(a, whole), Some(b));
    }
}
