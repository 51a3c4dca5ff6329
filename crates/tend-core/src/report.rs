//! Reports: one engine behind the reports page, the CSV export and the JSON API.
//!
//! ```text
//! ReportParams::from_pairs(query)      →  ReportParams   (unknown or repeated names rejected)
//! ReportRequest::parse(&params, now)   →  ReportRequest  (dates, zone, interval, dimensions)
//! request.plan() / previous_plan()     →  Plan           (periods; hourly and daily row ranges)
//! build(&request, &plan, &prev, inputs) →  Report         (rows, totals, previous, notes)
//! ```
//!
//! A report reads roll-up rows only (never events): whole UTC days inside a period from the
//! daily rows, the rest from the hourly rows. So periods can be days, ISO weeks or months of
//! any IANA time zone whose offset is a whole number of hours; other zones (e.g. UTC+05:30)
//! are refused with a clear message rather than answered approximately.
//!
//! Every number has one definition, in [`METRICS`] (shown next to each number in the UI and
//! written out in docs/metrics.md), and one rounding ([`Value`]): the page, the CSV and the
//! JSON print the same values.

use crate::metrics::{counter, sketch, Dimensions, Grain, RollupAcc, StoredRollup};
use crate::survey::{CesCounts, CsatCounts, NpsCounts};
use crate::{Channel, Invalid, Priority};
use chrono::{DateTime, Datelike, Duration, LocalResult, NaiveDate, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use std::collections::{BTreeMap, BTreeSet};

/// Longest range a report covers: 3 years (1,096 days) at any interval.
pub const MAX_DAYS: i64 = 1096;
/// Most dimensions one report groups by.
pub const MAX_GROUP_BY: usize = 3;
/// Most rows (periods × groups) one report returns.
pub const MAX_ROWS: usize = 20_000;
/// The weekday × hour heat map covers at most this many days (the end of the range).
pub const HEATMAP_MAX_DAYS: i64 = 92;

// ---------------------------------------------------------------------------------------
// Parameters
// ---------------------------------------------------------------------------------------

/// A report's query parameters as received (all text; parsed by [`ReportRequest::parse`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReportParams {
    pub from: Option<String>,
    pub to: Option<String>,
    pub tz: Option<String>,
    pub interval: Option<String>,
    pub group_by: Option<String>,
    pub metrics: Option<String>,
    pub channel: Option<String>,
    pub priority: Option<String>,
    pub group_id: Option<String>,
    pub brand_id: Option<String>,
    pub assignee_id: Option<String>,
    pub tag: Option<String>,
    pub language: Option<String>,
}

impl ReportParams {
    pub const NAMES: &'static [&'static str] = &[
        "from",
        "to",
        "tz",
        "interval",
        "group_by",
        "metrics",
        "channel",
        "priority",
        "group_id",
        "brand_id",
        "assignee_id",
        "tag",
        "language",
    ];

    /// Reads `name=value` pairs; names in `extra` (e.g. `format`) are left to the caller.
    /// An unknown or repeated name is an error: a typo must not silently widen a report.
    pub fn from_pairs<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
        extra: &[&str],
    ) -> Result<ReportParams, Invalid> {
        let mut p = ReportParams::default();
        let mut seen = BTreeSet::new();
        for (k, v) in pairs {
            if extra.contains(&k) {
                continue;
            }
            // `by` is a short alias of `group_by` (`by=tag`).
            let k = if k == "by" { "group_by" } else { k };
            let slot = match k {
                "from" => &mut p.from,
                "to" => &mut p.to,
                "tz" => &mut p.tz,
                "interval" => &mut p.interval,
                "group_by" => &mut p.group_by,
                "metrics" => &mut p.metrics,
                "channel" => &mut p.channel,
                "priority" => &mut p.priority,
                "group_id" => &mut p.group_id,
                "brand_id" => &mut p.brand_id,
                "assignee_id" => &mut p.assignee_id,
                "tag" => &mut p.tag,
                "language" => &mut p.language,
                _ => {
                    return Err(Invalid::new(
                        crate::truncate_for_message(k),
                        format!(
                            "is not a report parameter; use: {}",
                            Self::NAMES
                                .iter()
                                .chain(extra)
                                .copied()
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    ))
                }
            };
            let v = v.trim();
            // Lists may be given as repeated names (`metrics=frt&metrics=fcr`, as HTML
            // forms send checkboxes); anything else only once.
            let list = matches!(k, "group_by" | "metrics");
            if !seen.insert(k.to_string()) && !list {
                return Err(Invalid::new(k, "is given twice"));
            }
            if !v.is_empty() {
                *slot = Some(match slot.take() {
                    Some(prev) if list => format!("{prev},{v}"),
                    _ => v.to_string(),
                });
            }
        }
        Ok(p)
    }

    /// The parameters as a query string (for links: drill-down, CSV, previous period).
    pub fn to_query(&self) -> String {
        let vals = [
            &self.from,
            &self.to,
            &self.tz,
            &self.interval,
            &self.group_by,
            &self.metrics,
            &self.channel,
            &self.priority,
            &self.group_id,
            &self.brand_id,
            &self.assignee_id,
            &self.tag,
            &self.language,
        ];
        Self::NAMES
            .iter()
            .zip(vals)
            .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={}", encode(v))))
            .collect::<Vec<_>>()
            .join("&")
    }
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Interval {
    Day,
    /// ISO weeks, Monday to Sunday.
    Week,
    Month,
}

impl Interval {
    pub fn as_str(self) -> &'static str {
        match self {
            Interval::Day => "day",
            Interval::Week => "week",
            Interval::Month => "month",
        }
    }
}

/// What a report can be grouped and filtered by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dim {
    Channel,
    Priority,
    Group,
    Brand,
    Assignee,
    Tag,
    Language,
}

/// Which roll-up rows a report reads: the channel × priority × group × brand cube, or the
/// per-assignee, per-tag or per-language rows. A report's dimensions (grouped or
/// filtered) all belong to one family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    Cube,
    Agent,
    Tag,
    Language,
}

impl Family {
    /// The hourly and daily grains of the family.
    pub fn grains(self) -> (Grain, Grain) {
        match self {
            Family::Cube => (Grain::Hour, Grain::Day),
            Family::Agent => (Grain::AgentHour, Grain::AgentDay),
            Family::Tag => (Grain::TagHour, Grain::TagDay),
            Family::Language => (Grain::LanguageHour, Grain::LanguageDay),
        }
    }

    pub fn of(grain: Grain) -> Family {
        match grain.hourly() {
            Grain::AgentHour => Family::Agent,
            Grain::TagHour => Family::Tag,
            Grain::LanguageHour => Family::Language,
            _ => Family::Cube,
        }
    }
}

/// Most tag groups a report shows: the tags with the most created tickets over the range
/// (ties by name), the rest summed under [`OTHER_TAGS`].
pub const TOP_TAGS: usize = 20;
/// The group of the tags beyond [`TOP_TAGS`] (not a valid tag, so it cannot collide).
pub const OTHER_TAGS: &str = "(other)";

impl Dim {
    pub const ALL: [Dim; 7] = [
        Dim::Channel,
        Dim::Priority,
        Dim::Group,
        Dim::Brand,
        Dim::Assignee,
        Dim::Tag,
        Dim::Language,
    ];

    /// The roll-up rows that keep this dimension.
    pub fn family(self) -> Family {
        match self {
            Dim::Assignee => Family::Agent,
            Dim::Tag => Family::Tag,
            Dim::Language => Family::Language,
            _ => Family::Cube,
        }
    }

    /// The name in `group_by`.
    pub fn as_str(self) -> &'static str {
        match self {
            Dim::Channel => "channel",
            Dim::Priority => "priority",
            Dim::Group => "group",
            Dim::Brand => "brand",
            Dim::Assignee => "assignee",
            Dim::Tag => "tag",
            Dim::Language => "language",
        }
    }

    /// The column / key name of its value in rows: `channel`, `group_id`, …
    pub fn key(self) -> &'static str {
        match self {
            Dim::Channel => "channel",
            Dim::Priority => "priority",
            Dim::Group => "group_id",
            Dim::Brand => "brand_id",
            Dim::Assignee => "assignee_id",
            Dim::Tag => "tag",
            Dim::Language => "language",
        }
    }

    /// Whether its values are ids (numbers in JSON).
    pub fn is_id(self) -> bool {
        matches!(self, Dim::Group | Dim::Brand | Dim::Assignee)
    }

    /// The value of this dimension in a roll-up row's dimensions, as text.
    pub fn value(self, d: &Dimensions) -> Option<String> {
        match self {
            Dim::Channel => d.channel.map(|c| c.as_str().to_string()),
            Dim::Priority => d.priority.map(|p| p.as_str().to_string()),
            Dim::Group => d.group_id.map(|v| v.to_string()),
            Dim::Brand => d.brand_id.map(|v| v.to_string()),
            Dim::Assignee => d.assignee_id.map(|v| v.to_string()),
            Dim::Tag => d.tags.first().cloned(),
            Dim::Language => d.language.clone(),
        }
    }
}

/// Keep only rows whose dimensions match (a `Some(None)` filter would mean "not set"; the
/// parameters only ask for values).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filters {
    pub channel: Option<Channel>,
    pub priority: Option<Priority>,
    pub group_id: Option<i64>,
    pub brand_id: Option<i64>,
    pub assignee_id: Option<i64>,
    /// Tickets counted with this tag (see [`crate::metrics::TicketFacts::dimensions`]).
    pub tag: Option<String>,
    pub language: Option<String>,
}

impl Filters {
    pub fn is_empty(&self) -> bool {
        *self == Filters::default()
    }

    pub fn matches(&self, d: &Dimensions) -> bool {
        self.channel.is_none_or(|c| d.channel == Some(c))
            && self.priority.is_none_or(|p| d.priority == Some(p))
            && self.group_id.is_none_or(|g| d.group_id == Some(g))
            && self.brand_id.is_none_or(|b| d.brand_id == Some(b))
            && self.assignee_id.is_none_or(|a| d.assignee_id == Some(a))
            && self.tag.as_ref().is_none_or(|t| d.tags.contains(t))
            && self
                .language
                .as_ref()
                .is_none_or(|l| d.language.as_ref() == Some(l))
    }

    fn dims(&self) -> Vec<Dim> {
        let mut v = Vec::new();
        if self.channel.is_some() {
            v.push(Dim::Channel);
        }
        if self.priority.is_some() {
            v.push(Dim::Priority);
        }
        if self.group_id.is_some() {
            v.push(Dim::Group);
        }
        if self.brand_id.is_some() {
            v.push(Dim::Brand);
        }
        if self.assignee_id.is_some() {
            v.push(Dim::Assignee);
        }
        if self.tag.is_some() {
            v.push(Dim::Tag);
        }
        if self.language.is_some() {
            v.push(Dim::Language);
        }
        v
    }
}

/// Families of report columns, as named in `metrics=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MetricGroup {
    Volume,
    Frt,
    Nrt,
    Resolution,
    Fcr,
    OneTouch,
    Reopens,
    Replies,
    HandleTime,
    Sla,
    Csat,
    Nps,
    Ces,
}

impl MetricGroup {
    pub const ALL: [MetricGroup; 13] = [
        MetricGroup::Volume,
        MetricGroup::Frt,
        MetricGroup::Nrt,
        MetricGroup::Resolution,
        MetricGroup::Fcr,
        MetricGroup::OneTouch,
        MetricGroup::Reopens,
        MetricGroup::Replies,
        MetricGroup::HandleTime,
        MetricGroup::Sla,
        MetricGroup::Csat,
        MetricGroup::Nps,
        MetricGroup::Ces,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            MetricGroup::Volume => "volume",
            MetricGroup::Frt => "frt",
            MetricGroup::Nrt => "nrt",
            MetricGroup::Resolution => "resolution",
            MetricGroup::Fcr => "fcr",
            MetricGroup::OneTouch => "one_touch",
            MetricGroup::Reopens => "reopens",
            MetricGroup::Replies => "replies",
            MetricGroup::HandleTime => "handle_time",
            MetricGroup::Sla => "sla",
            MetricGroup::Csat => "csat",
            MetricGroup::Nps => "nps",
            MetricGroup::Ces => "ces",
        }
    }

    pub fn is_survey(self) -> bool {
        matches!(
            self,
            MetricGroup::Csat | MetricGroup::Nps | MetricGroup::Ces
        )
    }
}

/// A parsed, validated report query.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportRequest {
    /// First local day included.
    pub from: NaiveDate,
    /// Last local day included.
    pub to: NaiveDate,
    pub tz: Tz,
    pub interval: Interval,
    pub group_by: Vec<Dim>,
    pub metrics: Vec<MetricGroup>,
    pub filters: Filters,
}

fn parse_date(field: &str, raw: &str) -> Result<NaiveDate, Invalid> {
    NaiveDate::parse_from_str(raw, "%Y-%m-%d").map_err(|_| {
        Invalid::new(
            field,
            format!(
                "'{}' is not a date: use YYYY-MM-DD (a day in the report's time zone)",
                crate::truncate_for_message(raw)
            ),
        )
    })
}

fn parse_id(field: &str, raw: &str) -> Result<i64, Invalid> {
    raw.parse::<i64>()
        .ok()
        .filter(|v| *v > 0)
        .ok_or_else(|| Invalid::new(field, "must be a positive id"))
}

fn names<T: Copy>(all: &[T], f: fn(T) -> &'static str) -> String {
    all.iter().map(|x| f(*x)).collect::<Vec<_>>().join(", ")
}

impl ReportRequest {
    /// Validates parameters. Defaults: `tz` UTC; `to` today and `from` 29 days earlier
    /// (30 days); `interval` day up to 92 days, week up to 366, else month; every metric.
    pub fn parse(p: &ReportParams, now: DateTime<Utc>) -> Result<ReportRequest, Invalid> {
        let tz: Tz = match &p.tz {
            None => Tz::UTC,
            Some(raw) => raw.parse().map_err(|_| {
                Invalid::new(
                    "tz",
                    format!(
                        "'{}' is not an IANA time zone (e.g. Europe/Berlin, America/New_York, UTC)",
                        crate::truncate_for_message(raw)
                    ),
                )
            })?,
        };
        let today = now.with_timezone(&tz).date_naive();
        let to = match &p.to {
            Some(raw) => parse_date("to", raw)?,
            None => today,
        };
        if !(1970..=9000).contains(&to.year()) {
            return Err(Invalid::new("to", "dates must lie between 1970 and 9000"));
        }
        let from = match &p.from {
            Some(raw) => parse_date("from", raw)?,
            None => to
                .checked_sub_signed(Duration::days(29))
                .ok_or_else(|| Invalid::new("to", "dates must lie between 1970 and 9000"))?,
        };
        if from > to {
            return Err(Invalid::new(
                "from",
                format!("{from} is after to ({to}): the range is inverted"),
            ));
        }
        let days = (to - from).num_days() + 1;
        if days > MAX_DAYS {
            return Err(Invalid::new(
                "to",
                format!(
                    "the range is {days} days; a report covers at most {MAX_DAYS} days (3 years)"
                ),
            ));
        }
        if from.year() < 1970 || to.year() > 9000 {
            return Err(Invalid::new("from", "dates must lie between 1970 and 9000"));
        }
        let interval = match p.interval.as_deref() {
            None => {
                if days <= 92 {
                    Interval::Day
                } else if days <= 366 {
                    Interval::Week
                } else {
                    Interval::Month
                }
            }
            Some("day") => Interval::Day,
            Some("week") => Interval::Week,
            Some("month") => Interval::Month,
            Some(x) => {
                return Err(Invalid::new(
                    "interval",
                    format!(
                        "'{}' is not one of: day, week, month",
                        crate::truncate_for_message(x)
                    ),
                ))
            }
        };
        let mut group_by = Vec::new();
        if let Some(raw) = &p.group_by {
            let parts: Vec<&str> = raw
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .collect();
            if parts.len() > MAX_GROUP_BY {
                return Err(Invalid::new(
                    "group_by",
                    format!(
                        "{} dimensions given; a report groups by at most {MAX_GROUP_BY}",
                        parts.len()
                    ),
                ));
            }
            for part in parts {
                let d = Dim::ALL
                    .into_iter()
                    .find(|d| d.as_str() == part)
                    .ok_or_else(|| {
                        Invalid::new(
                            "group_by",
                            format!(
                                "'{}' is not a dimension; use: {}",
                                crate::truncate_for_message(part),
                                names(&Dim::ALL, Dim::as_str)
                            ),
                        )
                    })?;
                if group_by.contains(&d) {
                    return Err(Invalid::new("group_by", format!("'{part}' is given twice")));
                }
                group_by.push(d);
            }
        }
        let filters = Filters {
            channel: p.channel.as_deref().map(str::parse).transpose()?,
            priority: p.priority.as_deref().map(str::parse).transpose()?,
            group_id: p
                .group_id
                .as_deref()
                .map(|v| parse_id("group_id", v))
                .transpose()?,
            brand_id: p
                .brand_id
                .as_deref()
                .map(|v| parse_id("brand_id", v))
                .transpose()?,
            assignee_id: p
                .assignee_id
                .as_deref()
                .map(|v| parse_id("assignee_id", v))
                .transpose()?,
            tag: p
                .tag
                .as_deref()
                .map(|v| crate::parse_tag(v).map_err(|e| Invalid::new("tag", e.to_string())))
                .transpose()?,
            language: p
                .language
                .as_deref()
                .map(crate::parse_language)
                .transpose()?,
        };
        let mut families: Vec<Family> = group_by
            .iter()
            .chain(&filters.dims())
            .map(|d| d.family())
            .collect();
        families.sort();
        families.dedup();
        if families.len() > 1 {
            return Err(Invalid::new(
                "group_by",
                "assignee, tag and language (in group_by or as a filter) cannot be combined with each other or with channel, priority, group or brand: those figures are kept per agent, per tag and per language only",
            ));
        }
        let metrics = match &p.metrics {
            None => MetricGroup::ALL.to_vec(),
            Some(raw) => {
                let mut out = Vec::new();
                for part in raw.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                    if part == "all" {
                        out = MetricGroup::ALL.to_vec();
                        break;
                    }
                    let g = MetricGroup::ALL
                        .into_iter()
                        .find(|g| g.as_str() == part)
                        .ok_or_else(|| {
                            Invalid::new(
                                "metrics",
                                format!(
                                    "'{}' is not a metric family; use: all, {}",
                                    crate::truncate_for_message(part),
                                    names(&MetricGroup::ALL, MetricGroup::as_str)
                                ),
                            )
                        })?;
                    if !out.contains(&g) {
                        out.push(g);
                    }
                }
                if out.is_empty() {
                    return Err(Invalid::new("metrics", "names no metric family"));
                }
                out.sort();
                out
            }
        };
        Ok(ReportRequest {
            from,
            to,
            tz,
            interval,
            group_by,
            metrics,
            filters,
        })
    }

    /// Whether the report reads the per-agent roll-ups: when it groups or filters by
    /// assignee, and also when it groups and filters by nothing — every ticket is in the
    /// per-agent rows once (under its assignee or none), and there are far fewer of them
    /// than cube rows, so the totals come out the same from less reading.
    pub fn agent(&self) -> bool {
        self.family() == Family::Agent
    }

    /// The roll-up rows this report reads (see [`agent`](Self::agent) for the ungrouped,
    /// unfiltered case).
    pub fn family(&self) -> Family {
        self.group_by
            .iter()
            .chain(&self.filters.dims())
            .map(|d| d.family())
            .next()
            .unwrap_or(Family::Agent)
    }

    /// The metric columns this report shows, in catalog order.
    pub fn columns(&self) -> Vec<&'static MetricDef> {
        METRICS
            .iter()
            .filter(|m| self.metrics.contains(&m.group))
            .collect()
    }

    /// The instant a local day starts (the first valid instant if midnight is skipped).
    fn day_start(&self, d: NaiveDate) -> Result<DateTime<Utc>, Invalid> {
        local_midnight(self.tz, d)
    }

    /// Periods and the roll-up rows they read.
    pub fn plan(&self) -> Result<Plan, Invalid> {
        let mut bounds = vec![self.from];
        let end = self
            .to
            .succ_opt()
            .ok_or_else(|| Invalid::new("to", "is too late"))?;
        let mut d = self.from;
        loop {
            let next = match self.interval {
                Interval::Day => d.succ_opt(),
                Interval::Week => d.checked_add_signed(Duration::days(
                    7 - i64::from(d.weekday().num_days_from_monday()),
                )),
                Interval::Month => NaiveDate::from_ymd_opt(
                    if d.month() == 12 {
                        d.year() + 1
                    } else {
                        d.year()
                    },
                    if d.month() == 12 { 1 } else { d.month() + 1 },
                    1,
                ),
            }
            .ok_or_else(|| Invalid::new("to", "is too late"))?;
            if next >= end {
                bounds.push(end);
                break;
            }
            bounds.push(next);
            d = next;
        }
        let mut periods = Vec::with_capacity(bounds.len());
        for w in bounds.windows(2) {
            periods.push(Period {
                label: label(self.interval, w[0]),
                first_day: w[0],
                last_day: w[1].pred_opt().unwrap_or(w[1]),
                start: self.day_start(w[0])?,
                end: self.day_start(w[1])?,
            });
        }
        Plan::new(periods, self.family(), self.tz)
    }

    /// The range just before this one: the same number of whole months when the range is
    /// whole months, else the same number of days.
    pub fn previous(&self) -> Result<(NaiveDate, NaiveDate), Invalid> {
        let end = self
            .to
            .succ_opt()
            .ok_or_else(|| Invalid::new("to", "is too late"))?;
        let whole_months = self.from.day() == 1 && end.day() == 1;
        let too_early = || Invalid::new("from", "has no previous period");
        if whole_months {
            let months = (end.year() - self.from.year()) * 12 + end.month() as i32
                - self.from.month() as i32;
            let from = self
                .from
                .checked_sub_months(chrono::Months::new(months as u32))
                .ok_or_else(too_early)?;
            Ok((from, self.from.pred_opt().ok_or_else(too_early)?))
        } else {
            let days = (end - self.from).num_days();
            Ok((
                self.from
                    .checked_sub_signed(Duration::days(days))
                    .ok_or_else(too_early)?,
                self.from.pred_opt().ok_or_else(too_early)?,
            ))
        }
    }

    /// The previous range as one period.
    pub fn previous_plan(&self) -> Result<Plan, Invalid> {
        let (from, to) = self.previous()?;
        let end = to
            .succ_opt()
            .ok_or_else(|| Invalid::new("to", "is too late"))?;
        let p = Period {
            label: "previous".into(),
            first_day: from,
            last_day: to,
            start: self.day_start(from)?,
            end: self.day_start(end)?,
        };
        Plan::new(vec![p], self.family(), self.tz)
    }

    /// The hours of the weekday × hour heat map: the last [`HEATMAP_MAX_DAYS`] days of the
    /// range at most.
    pub fn heatmap_range(&self) -> Result<(DateTime<Utc>, DateTime<Utc>), Invalid> {
        let first = self
            .from
            .max(self.to - Duration::days(HEATMAP_MAX_DAYS - 1));
        let end = self
            .to
            .succ_opt()
            .ok_or_else(|| Invalid::new("to", "is too late"))?;
        Ok((self.day_start(first)?, self.day_start(end)?))
    }
}

/// The first instant of local day `d` in `tz`.
pub fn local_midnight(tz: Tz, d: NaiveDate) -> Result<DateTime<Utc>, Invalid> {
    let midnight = d.and_hms_opt(0, 0, 0).unwrap_or_default();
    // A skipped midnight (DST at 00:00) starts the day when the clock jumps: try each
    // quarter hour of the first two hours.
    for q in 0..=8 {
        match tz.from_local_datetime(&(midnight + Duration::minutes(15 * q))) {
            LocalResult::Single(t) => return Ok(t.with_timezone(&Utc)),
            LocalResult::Ambiguous(a, _) => return Ok(a.with_timezone(&Utc)),
            LocalResult::None => {}
        }
    }
    Err(Invalid::new(
        "tz",
        format!("{d} has no start in {}", tz.name()),
    ))
}

fn label(interval: Interval, d: NaiveDate) -> String {
    match interval {
        Interval::Day => d.format("%Y-%m-%d").to_string(),
        Interval::Week => {
            let w = d.iso_week();
            format!("{}-W{:02}", w.year(), w.week())
        }
        Interval::Month => d.format("%Y-%m").to_string(),
    }
}

/// One period of a report: local days `first_day..=last_day`, i.e. `[start, end)` in UTC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Period {
    pub label: String,
    pub first_day: NaiveDate,
    pub last_day: NaiveDate,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

/// What a report reads: its periods, and the roll-up rows that cover them — whole UTC days
/// inside a period from the daily rows, every other hour from the hourly rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub periods: Vec<Period>,
    /// Per-agent rows instead of the channel/priority/group/brand cube.
    pub agent: bool,
    /// The roll-up rows read.
    pub family: Family,
    /// Ranges `[from, to)` of hourly rows.
    pub hours: Vec<(DateTime<Utc>, DateTime<Utc>)>,
    /// Ranges `[from, to)` of daily rows.
    pub days: Vec<(DateTime<Utc>, DateTime<Utc>)>,
}

fn push_range(v: &mut Vec<(DateTime<Utc>, DateTime<Utc>)>, a: DateTime<Utc>, b: DateTime<Utc>) {
    if a >= b {
        return;
    }
    match v.last_mut() {
        Some(last) if last.1 == a => last.1 = b,
        _ => v.push((a, b)),
    }
}

impl Plan {
    fn new(periods: Vec<Period>, family: Family, tz: Tz) -> Result<Plan, Invalid> {
        for p in &periods {
            for t in [p.start, p.end] {
                if t.minute() != 0 || t.second() != 0 {
                    let off = t.with_timezone(&tz).format("%:z");
                    return Err(Invalid::new(
                        "tz",
                        format!(
                            "{} is at UTC{off} on {}: reports are kept by whole UTC hours, so only time zones with whole-hour offsets are supported",
                            tz.name(),
                            t.with_timezone(&tz).date_naive()
                        ),
                    ));
                }
            }
        }
        let mut hours = Vec::new();
        let mut days = Vec::new();
        for p in &periods {
            let first =
                crate::metrics::day_start(p.start - Duration::seconds(1)) + Duration::days(1);
            let last = crate::metrics::day_start(p.end);
            if first < last {
                push_range(&mut hours, p.start, first);
                push_range(&mut days, first, last);
                push_range(&mut hours, last, p.end);
            } else {
                push_range(&mut hours, p.start, p.end);
            }
        }
        Ok(Plan {
            periods,
            agent: family == Family::Agent,
            family,
            hours,
            days,
        })
    }

    pub fn start(&self) -> DateTime<Utc> {
        self.periods
            .first()
            .map_or(DateTime::UNIX_EPOCH, |p| p.start)
    }

    pub fn end(&self) -> DateTime<Utc> {
        self.periods.last().map_or(DateTime::UNIX_EPOCH, |p| p.end)
    }

    /// The hourly and daily grains this plan reads.
    pub fn grains(&self) -> (Grain, Grain) {
        self.family.grains()
    }

    /// The period a row belongs to, if the plan asked for it (rows of the wrong grain or
    /// outside the plan's ranges are ignored, so a store may return more).
    fn period_of(&self, row: &StoredRollup) -> Option<usize> {
        let (hour, day) = self.grains();
        let ranges = if row.grain == day {
            &self.days
        } else if row.grain == hour {
            &self.hours
        } else {
            return None;
        };
        let r = ranges
            .partition_point(|(a, _)| *a <= row.period_start)
            .checked_sub(1)?;
        if row.period_start >= ranges[r].1 {
            return None;
        }
        let i = self
            .periods
            .partition_point(|p| p.start <= row.period_start)
            .checked_sub(1)?;
        let span = if row.grain.is_daily() {
            Duration::days(1)
        } else {
            Duration::hours(1)
        };
        (row.period_start + span <= self.periods[i].end).then_some(i)
    }
}

// ---------------------------------------------------------------------------------------
// Metrics: definitions and values
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Count,
    /// Whole seconds.
    Seconds,
    /// 0–100, one decimal.
    Percent,
    /// Two decimals.
    Ratio,
    /// One decimal (NPS points).
    Score,
}

impl Unit {
    pub fn as_str(self) -> &'static str {
        match self {
            Unit::Count => "count",
            Unit::Seconds => "seconds",
            Unit::Percent => "percent",
            Unit::Ratio => "ratio",
            Unit::Score => "score",
        }
    }
}

/// How a number is computed from roll-ups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Counter(usize),
    /// Open at the end of the period.
    Backlog,
    /// A sketch (index into [`crate::metrics::SKETCHES`]) and what of it.
    Time(usize, Stat),
    /// `100 · a / b`.
    Share(usize, usize),
    /// `a / b`.
    PerTicket(usize, usize),
    /// `a / b` seconds, rounded to whole seconds.
    MeanSeconds(usize, usize),
    /// `100 · met / (met + breached)` for an SLA metric index.
    Sla(usize),
    /// `met + breached` for an SLA metric index.
    SlaTargets(usize),
    Csat,
    CsatResponses,
    Nps,
    NpsResponses,
    Ces,
    CesResponses,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stat {
    Median,
    P90,
    Mean,
}

/// One report column.
#[derive(Debug)]
pub struct MetricDef {
    pub key: &'static str,
    pub group: MetricGroup,
    pub label: &'static str,
    pub unit: Unit,
    pub source: Source,
    /// The definition, shown next to the number and in docs/metrics.md.
    pub definition: &'static str,
}

macro_rules! time_metrics {
    ($g:expr, $base:literal, $label:literal, $sk:expr, $def:literal) => {
        [
            MetricDef {
                key: concat!($base, "_median"),
                group: $g,
                label: concat!($label, " median"),
                unit: Unit::Seconds,
                source: Source::Time($sk, Stat::Median),
                definition: concat!($def, " Median (nearest rank) in calendar time, within 1 %."),
            },
            MetricDef {
                key: concat!($base, "_p90"),
                group: $g,
                label: concat!($label, " p90"),
                unit: Unit::Seconds,
                source: Source::Time($sk, Stat::P90),
                definition: concat!(
                    $def,
                    " 90th percentile (nearest rank) in calendar time, within 1 %."
                ),
            },
            MetricDef {
                key: concat!($base, "_mean"),
                group: $g,
                label: concat!($label, " mean"),
                unit: Unit::Seconds,
                source: Source::Time($sk, Stat::Mean),
                definition: concat!($def, " Mean in calendar time (exact to the second)."),
            },
            MetricDef {
                key: concat!($base, "_bh_median"),
                group: $g,
                label: concat!($label, " median (business hours)"),
                unit: Unit::Seconds,
                source: Source::Time($sk + sketch::BUSINESS, Stat::Median),
                definition: concat!(
                    $def,
                    " Median in business hours of the SLA calendar, within 1 %."
                ),
            },
            MetricDef {
                key: concat!($base, "_bh_p90"),
                group: $g,
                label: concat!($label, " p90 (business hours)"),
                unit: Unit::Seconds,
                source: Source::Time($sk + sketch::BUSINESS, Stat::P90),
                definition: concat!(
                    $def,
                    " 90th percentile in business hours of the SLA calendar, within 1 %."
                ),
            },
            MetricDef {
                key: concat!($base, "_bh_mean"),
                group: $g,
                label: concat!($label, " mean (business hours)"),
                unit: Unit::Seconds,
                source: Source::Time($sk + sketch::BUSINESS, Stat::Mean),
                definition: concat!($def, " Mean in business hours of the SLA calendar."),
            },
        ]
    };
}

const FRT: [MetricDef; 6] = time_metrics!(
    MetricGroup::Frt,
    "frt",
    "First response",
    sketch::FIRST_RESPONSE,
    "First response time: from the ticket's creation to the first public reply by an agent (internal notes, automatic and customer messages are not replies; the opening message of a ticket an agent created for a customer is the request, not a reply). Counted in the period of the reply."
);
const NRT: [MetricDef; 6] = time_metrics!(
    MetricGroup::Nrt,
    "nrt",
    "Next response",
    sketch::NEXT_RESPONSE,
    "Next response time: after the first reply, from a customer's public message (the first one not yet answered) to the agent's next public reply. Counted in the period of the reply."
);
const FIRST_RES: [MetricDef; 6] = time_metrics!(
    MetricGroup::Resolution,
    "first_resolution",
    "First resolution",
    sketch::FIRST_RESOLUTION,
    "First resolution time: from creation to the first solve, kept even if the ticket was reopened later; merged tickets excluded. Pending and on-hold time is included. Counted in the period of the first solve."
);
const FULL_RES: [MetricDef; 6] = time_metrics!(
    MetricGroup::Resolution,
    "full_resolution",
    "Full resolution",
    sketch::FULL_RESOLUTION,
    "Full resolution time: from creation to the last solve, for tickets solved now (a reopened ticket counts again when it is solved again, with the whole time since creation); merged tickets excluded. Counted in the period of the last solve."
);

const OTHER: [MetricDef; 27] = [
    MetricDef { key: "created", group: MetricGroup::Volume, label: "Created", unit: Unit::Count, source: Source::Counter(counter::CREATED), definition: "Tickets created in the period (by any channel, including tickets agents created for customers)." },
    MetricDef { key: "solved", group: MetricGroup::Volume, label: "Solves", unit: Unit::Count, source: Source::Counter(counter::SOLVES), definition: "Changes from an open status (new, open, pending, on-hold) to solved or closed in the period; a ticket created solved counts at creation. Solved → closed is not a new solve; a reopened ticket solved again counts again." },
    MetricDef { key: "reopened", group: MetricGroup::Volume, label: "Reopens", unit: Unit::Count, source: Source::Counter(counter::REOPENS), definition: "Changes from solved or closed back to an open status in the period." },
    MetricDef { key: "backlog", group: MetricGroup::Volume, label: "Backlog at end", unit: Unit::Count, source: Source::Backlog, definition: "Tickets open (new, open, pending or on-hold) at the end of the period: created at or before that instant, not solved or closed then (a reopened ticket is open again from its reopen)." },
    MetricDef { key: "fcr_rate", group: MetricGroup::Fcr, label: "First-contact resolution", unit: Unit::Percent, source: Source::Share(counter::FCR_RESOLVED, counter::FCR_TICKETS), definition: "Of the tickets whose last solve fell in the period and that are solved now (merged tickets excluded), the share solved with exactly one public agent reply and never reopened. A ticket solved without any reply is not first-contact resolved." },
    MetricDef { key: "one_touch_rate", group: MetricGroup::OneTouch, label: "One-touch", unit: Unit::Percent, source: Source::Share(counter::ONE_TOUCH_RESOLVED, counter::ONE_TOUCH_TICKETS), definition: "Like first-contact resolution, but over every solved ticket, merged ones included: solved with exactly one public agent reply and never reopened." },
    MetricDef { key: "reopen_rate", group: MetricGroup::Reopens, label: "Reopen rate", unit: Unit::Percent, source: Source::Share(counter::REOPENED_SOLVED, counter::ONE_TOUCH_TICKETS), definition: "Of the tickets whose last solve fell in the period and that are solved now, the share that was reopened at least once." },
    MetricDef { key: "replies_per_ticket", group: MetricGroup::Replies, label: "Agent replies per solved ticket", unit: Unit::Ratio, source: Source::PerTicket(counter::SOLVED_REPLIES, counter::ONE_TOUCH_TICKETS), definition: "Public agent replies (internal notes excluded) per ticket, over the tickets whose last solve fell in the period and that are solved now." },
    MetricDef { key: "handle_time_mean", group: MetricGroup::HandleTime, label: "Handle time per ticket", unit: Unit::Seconds, source: Source::MeanSeconds(counter::HANDLE_SECONDS, counter::HANDLED_TICKETS), definition: "Mean handle time of the tickets whose last solve fell in the period, that are solved now and have time logged: a ticket's handle time is the sum of the time agents logged on its replies and internal notes (customers' messages never carry time). Tickets without logged time are left out, not counted as zero." },
    MetricDef { key: "handle_time", group: MetricGroup::HandleTime, label: "Handle time (total)", unit: Unit::Seconds, source: Source::Counter(counter::HANDLE_SECONDS), definition: "Sum of the handle time of the tickets whose last solve fell in the period, that are solved now and have time logged." },
    MetricDef { key: "handled_tickets", group: MetricGroup::HandleTime, label: "Tickets with logged time", unit: Unit::Count, source: Source::Counter(counter::HANDLED_TICKETS), definition: "Tickets whose last solve fell in the period, that are solved now and have time logged: the base of handle time per ticket." },
    MetricDef { key: "agent_replies", group: MetricGroup::Replies, label: "Agent replies", unit: Unit::Count, source: Source::Counter(counter::AGENT_REPLIES), definition: "Public agent replies posted in the period (internal notes and the opening message of an agent-created ticket excluded)." },
    MetricDef { key: "sla_first_reply", group: MetricGroup::Sla, label: "SLA first reply met", unit: Unit::Percent, source: Source::Sla(0), definition: "Of the first-reply targets that were met (counted when met) or breached (counted at their due time) in the period, the share met. Targets come from the SLA policy that matches each ticket; running and paused clocks are not counted." },
    MetricDef { key: "sla_next_reply", group: MetricGroup::Sla, label: "SLA next reply met", unit: Unit::Percent, source: Source::Sla(1), definition: "The same share for next-reply targets (each run counts once)." },
    MetricDef { key: "sla_periodic_update", group: MetricGroup::Sla, label: "SLA periodic update met", unit: Unit::Percent, source: Source::Sla(2), definition: "The same share for periodic-update targets (each run counts once)." },
    MetricDef { key: "sla_resolution", group: MetricGroup::Sla, label: "SLA resolution met", unit: Unit::Percent, source: Source::Sla(3), definition: "The same share for resolution targets (a reopened ticket's resolution clock resumes, so a target met at the first solve can be breached later)." },
    MetricDef { key: "sla_first_reply_n", group: MetricGroup::Sla, label: "SLA first reply targets", unit: Unit::Count, source: Source::SlaTargets(0), definition: "First-reply targets met or breached in the period." },
    MetricDef { key: "sla_resolution_n", group: MetricGroup::Sla, label: "SLA resolution targets", unit: Unit::Count, source: Source::SlaTargets(3), definition: "Resolution targets met or breached in the period." },
    MetricDef { key: "csat", group: MetricGroup::Csat, label: "CSAT", unit: Unit::Percent, source: Source::Csat, definition: "Share of satisfied CSAT answers given in the period (4–5 of 5, 3 of 3, 2 of 2), from the survey roll-ups." },
    MetricDef { key: "csat_responses", group: MetricGroup::Csat, label: "CSAT answers", unit: Unit::Count, source: Source::CsatResponses, definition: "CSAT answers given in the period." },
    MetricDef { key: "nps", group: MetricGroup::Nps, label: "NPS", unit: Unit::Score, source: Source::Nps, definition: "Net Promoter Score of the answers given in the period: % promoters (9–10) − % detractors (0–6), −100..100." },
    MetricDef { key: "nps_responses", group: MetricGroup::Nps, label: "NPS answers", unit: Unit::Count, source: Source::NpsResponses, definition: "NPS answers given in the period." },
    MetricDef { key: "ces", group: MetricGroup::Ces, label: "CES mean", unit: Unit::Ratio, source: Source::Ces, definition: "Mean customer-effort answer in the period, 1 (strongly disagree that it was easy) to 7 (strongly agree)." },
    MetricDef { key: "ces_responses", group: MetricGroup::Ces, label: "CES answers", unit: Unit::Count, source: Source::CesResponses, definition: "CES answers given in the period." },
    MetricDef { key: "solved_tickets", group: MetricGroup::Fcr, label: "Solved tickets", unit: Unit::Count, source: Source::Counter(counter::ONE_TOUCH_TICKETS), definition: "Tickets whose last solve fell in the period and that are solved now (merged included): the base of one-touch, reopen rate and replies per ticket." },
    MetricDef { key: "fcr_tickets", group: MetricGroup::Fcr, label: "FCR base", unit: Unit::Count, source: Source::Counter(counter::FCR_TICKETS), definition: "The first-contact-resolution base: solved tickets without merged ones." },
    MetricDef { key: "fcr_resolved", group: MetricGroup::Fcr, label: "FCR tickets", unit: Unit::Count, source: Source::Counter(counter::FCR_RESOLVED), definition: "Tickets resolved at first contact." },
];

/// Every report column, in display order.
pub static METRICS: std::sync::LazyLock<Vec<MetricDef>> = std::sync::LazyLock::new(|| {
    let mut v: Vec<MetricDef> = Vec::new();
    let mut other: Vec<MetricDef> = OTHER.into_iter().collect();
    let take = |v: &mut Vec<MetricDef>, other: &mut Vec<MetricDef>, g: MetricGroup| {
        let (mine, rest): (Vec<_>, Vec<_>) = std::mem::take(other)
            .into_iter()
            .partition(|m| m.group == g);
        v.extend(mine);
        *other = rest;
    };
    take(&mut v, &mut other, MetricGroup::Volume);
    v.extend(FRT);
    v.extend(NRT);
    v.extend(FIRST_RES);
    v.extend(FULL_RES);
    for g in MetricGroup::ALL {
        take(&mut v, &mut other, g);
    }
    v
});

/// A metric's key → its definition.
pub fn metric(key: &str) -> Option<&'static MetricDef> {
    METRICS.iter().find(|m| m.key == key)
}

/// A report number, rounded once for every output.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value {
    Int(i64),
    Dec(f64),
}

impl Value {
    pub fn as_f64(self) -> f64 {
        match self {
            Value::Int(v) => v as f64,
            Value::Dec(v) => v,
        }
    }

    pub fn to_json(self) -> serde_json::Value {
        match self {
            Value::Int(v) => v.into(),
            Value::Dec(v) => {
                serde_json::Number::from_f64(v).map_or(serde_json::Value::Null, Into::into)
            }
        }
    }
}

impl std::fmt::Display for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::Int(v) => write!(f, "{v}"),
            Value::Dec(v) => write!(f, "{v}"),
        }
    }
}

fn round(v: f64, decimals: i32) -> f64 {
    let m = 10f64.powi(decimals);
    (v * m).round() / m
}

fn share(a: i64, b: i64) -> Option<Value> {
    (b > 0).then(|| Value::Dec(round(100.0 * a as f64 / b as f64, 1)))
}

/// Survey answers in one report cell, from the survey roll-ups.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SurveyCell {
    pub nps: NpsCounts,
    /// CSAT answers per scale (points → counts).
    pub csat: BTreeMap<u8, CsatCounts>,
    pub ces: CesCounts,
}

impl SurveyCell {
    pub fn merge(&mut self, other: &SurveyCell) {
        self.nps.merge(&other.nps);
        for (scale, c) in &other.csat {
            match self.csat.get_mut(scale) {
                Some(mine) => {
                    // Same scale by construction: cannot fail.
                    let _ = mine.merge(c);
                }
                None => {
                    self.csat.insert(*scale, *c);
                }
            }
        }
        self.ces.merge(&other.ces);
    }

    fn csat_n(&self) -> u64 {
        self.csat.values().map(|c| c.n()).sum()
    }
}

fn value(
    def: &MetricDef,
    acc: &RollupAcc,
    backlog: Option<i64>,
    survey: Option<&SurveyCell>,
) -> Option<Value> {
    let c = |i: usize| acc.counts[i];
    match def.source {
        Source::SlaTargets(i) => Some(Value::Int(
            c(counter::SLA_MET + i) + c(counter::SLA_BREACHED + i),
        )),
        Source::Counter(i) => Some(Value::Int(c(i))),
        Source::Backlog => backlog.map(Value::Int),
        Source::Time(i, stat) => {
            let s = acc.sketch(i);
            let d = match stat {
                Stat::Median => s.median(),
                Stat::P90 => s.p90(),
                Stat::Mean => s.mean(),
            }?;
            let ms = d.num_milliseconds();
            Some(Value::Int((ms + 500).div_euclid(1000)))
        }
        Source::Share(a, b) => share(c(a), c(b)),
        Source::PerTicket(a, b) => {
            (c(b) > 0).then(|| Value::Dec(round(c(a) as f64 / c(b) as f64, 2)))
        }
        Source::MeanSeconds(a, b) => {
            (c(b) > 0).then(|| Value::Int((c(a) as f64 / c(b) as f64).round() as i64))
        }
        Source::Sla(i) => {
            let met = c(counter::SLA_MET + i);
            share(met, met + c(counter::SLA_BREACHED + i))
        }
        Source::Csat => {
            let s = survey?;
            let n = s.csat_n();
            let sat: u64 = s.csat.values().map(|c| c.satisfied()).sum();
            share(sat as i64, n as i64)
        }
        Source::CsatResponses => survey.map(|s| Value::Int(s.csat_n() as i64)),
        Source::Nps => survey?.nps.summary().map(|n| Value::Dec(round(n.score, 1))),
        Source::NpsResponses => survey.map(|s| Value::Int(s.nps.n() as i64)),
        Source::Ces => survey?.ces.summary().map(|c| Value::Dec(round(c.mean, 2))),
        Source::CesResponses => survey.map(|s| Value::Int(s.ces.n() as i64)),
    }
}

// ---------------------------------------------------------------------------------------
// The engine
// ---------------------------------------------------------------------------------------

/// A group's values of the `group_by` dimensions (text; `None` = not set).
pub type GroupKey = Vec<Option<String>>;

/// Survey answers for a report, as far as they can be split like the report.
#[derive(Debug, Clone, Default)]
pub struct SurveyInput {
    /// Per period, per group key.
    pub periods: Vec<BTreeMap<GroupKey, SurveyCell>>,
    /// Over the whole range, per group key.
    pub groups: BTreeMap<GroupKey, SurveyCell>,
    /// Over the whole range.
    pub total: SurveyCell,
    /// Over the previous range.
    pub previous: SurveyCell,
}

/// How the survey roll-ups can split a report: by nothing, or by the one dimension they
/// keep (group, channel or assignee), and only without filters.
pub fn survey_split(req: &ReportRequest) -> Option<Option<Dim>> {
    if !req.filters.is_empty() {
        return None;
    }
    match req.group_by.as_slice() {
        [] => Some(None),
        [d @ (Dim::Group | Dim::Channel | Dim::Assignee)] => Some(Some(*d)),
        _ => None,
    }
}

/// What the stores gave for a report.
#[derive(Debug, Clone, Default)]
pub struct ReportInputs {
    /// Rows of the plan's ranges (both grains).
    pub rows: Vec<StoredRollup>,
    /// Rows of the previous plan's ranges.
    pub previous_rows: Vec<StoredRollup>,
    /// Per dimensions (of the plan's grain): created − solves + reopens before the plan's
    /// start, i.e. tickets open at that instant.
    pub open_before: Vec<(Dimensions, i64)>,
    /// `None` when no survey metric was asked for.
    pub surveys: Option<SurveyInput>,
    /// Things the reader should know (no calendar, no SLA, …).
    pub notes: Vec<String>,
}

/// One line of a report.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportRow {
    /// Period label (`2026-03-02`, `2026-W10`, `2026-03`), or `total` / `previous`.
    pub period: String,
    pub first_day: NaiveDate,
    pub last_day: NaiveDate,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub group: GroupKey,
    /// One per column.
    pub values: Vec<Option<Value>>,
}

/// A computed report.
#[derive(Debug, Clone)]
pub struct Report {
    pub request: ReportRequest,
    pub columns: Vec<&'static MetricDef>,
    /// Period × group, by period then group.
    pub rows: Vec<ReportRow>,
    /// Per group over the whole range (empty without `group_by`).
    pub groups: Vec<ReportRow>,
    /// The whole range, every group.
    pub total: ReportRow,
    /// The previous range of the same length, every group.
    pub previous: ReportRow,
    pub notes: Vec<String>,
}

impl Report {
    /// The change from the previous range, per column: `total − previous`.
    pub fn change(&self) -> Vec<Option<Value>> {
        self.total
            .values
            .iter()
            .zip(&self.previous.values)
            .zip(&self.columns)
            .map(|((a, b), def)| match (a, b) {
                (Some(Value::Int(a)), Some(Value::Int(b))) => Some(Value::Int(a - b)),
                (Some(a), Some(b)) => Some(Value::Dec(round(
                    a.as_f64() - b.as_f64(),
                    if def.unit == Unit::Ratio { 2 } else { 1 },
                ))),
                _ => None,
            })
            .collect()
    }
}

fn key_of(group_by: &[Dim], d: &Dimensions) -> GroupKey {
    group_by.iter().map(|g| g.value(d)).collect()
}

/// For a report grouped by tag: the tags shown as their own group when there are more than
/// [`TOP_TAGS`] — those with the most created tickets in the range (then by name); `None`
/// when every tag is shown. "No tag" is always shown on its own.
fn top_tags(req: &ReportRequest, plan: &Plan, inputs: &ReportInputs) -> Option<BTreeSet<String>> {
    if !req.group_by.contains(&Dim::Tag) {
        return None;
    }
    let mut created: BTreeMap<String, i64> = BTreeMap::new();
    for row in &inputs.rows {
        if Family::of(row.grain) != plan.family
            || !req.filters.matches(&row.dimensions)
            || plan.period_of(row).is_none()
        {
            continue;
        }
        if let Some(t) = row.dimensions.tags.first() {
            *created.entry(t.clone()).or_default() += row.counts[counter::CREATED];
        }
    }
    for (d, _) in &inputs.open_before {
        if let Some(t) = d.tags.first() {
            created.entry(t.clone()).or_default();
        }
    }
    if created.len() <= TOP_TAGS {
        return None;
    }
    let mut ranked: Vec<(String, i64)> = created.into_iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    Some(ranked.into_iter().take(TOP_TAGS).map(|(t, _)| t).collect())
}

/// The group key of a row, with tags beyond the top ones as [`OTHER_TAGS`].
fn group_key(group_by: &[Dim], top: Option<&BTreeSet<String>>, d: &Dimensions) -> GroupKey {
    let mut k = key_of(group_by, d);
    if let Some(top) = top {
        for (dim, v) in group_by.iter().zip(k.iter_mut()) {
            if *dim == Dim::Tag && v.as_ref().is_some_and(|t| !top.contains(t)) {
                *v = Some(OTHER_TAGS.to_string());
            }
        }
    }
    k
}

fn net_open(acc: &RollupAcc) -> i64 {
    acc.counts[counter::CREATED] - acc.counts[counter::SOLVES] + acc.counts[counter::REOPENS]
}

/// Turns roll-up rows into a report. Pure: the same inputs give the same numbers to every
/// caller (page, CSV, API).
pub fn build(
    req: &ReportRequest,
    plan: &Plan,
    previous_plan: &Plan,
    inputs: &ReportInputs,
) -> Result<Report, Invalid> {
    let columns = req.columns();
    let n = plan.periods.len();
    let mut cells: Vec<BTreeMap<GroupKey, RollupAcc>> = vec![BTreeMap::new(); n];
    let mut keys: BTreeSet<GroupKey> = BTreeSet::new();
    let top = top_tags(req, plan, inputs);
    for row in &inputs.rows {
        if Family::of(row.grain) != plan.family || !req.filters.matches(&row.dimensions) {
            continue;
        }
        let Some(i) = plan.period_of(row) else {
            continue;
        };
        let k = group_key(&req.group_by, top.as_ref(), &row.dimensions);
        if !keys.contains(&k) {
            keys.insert(k.clone());
        }
        cells[i]
            .entry(k)
            .or_default()
            .add_stored(&row.counts, &row.sketches)?;
    }
    let mut base: BTreeMap<GroupKey, i64> = BTreeMap::new();
    for (d, v) in &inputs.open_before {
        if req.filters.matches(d) {
            *base
                .entry(group_key(&req.group_by, top.as_ref(), d))
                .or_default() += v;
        }
    }
    for (k, v) in &base {
        if *v != 0 {
            keys.insert(k.clone());
        }
    }
    if keys.is_empty() {
        // An empty report still has its (empty) group: the grid is periods × groups.
        keys.insert(vec![None; req.group_by.len()]);
    }
    if n.saturating_mul(keys.len()) > MAX_ROWS {
        return Err(Invalid::new(
            "group_by",
            format!(
                "this report would have {} rows ({n} periods × {} groups); at most {MAX_ROWS}: use a longer interval, a shorter range or fewer dimensions",
                n.saturating_mul(keys.len()),
                keys.len()
            ),
        ));
    }
    let empty = RollupAcc::default();
    let empty_survey = SurveyCell::default();
    let mut rows = Vec::with_capacity(n * keys.len());
    let mut running: BTreeMap<GroupKey, i64> = base.clone();
    let mut group_acc: BTreeMap<GroupKey, RollupAcc> = BTreeMap::new();
    let mut total_acc = RollupAcc::default();
    let surveys = inputs.surveys.as_ref();
    for (i, p) in plan.periods.iter().enumerate() {
        for k in &keys {
            let acc = cells[i].get(k).unwrap_or(&empty);
            let open = running.entry(k.clone()).or_default();
            *open += net_open(acc);
            let backlog = Some(*open);
            let survey = surveys
                .and_then(|s| s.periods.get(i))
                .and_then(|m| m.get(k));
            // Blank (not 0) when the periods were not counted one by one (too many).
            let counted = surveys.is_some_and(|s| !s.periods.is_empty());
            let survey = survey
                .or(counted.then_some(&empty_survey))
                .filter(|_| survey_split(req).is_some());
            rows.push(ReportRow {
                period: p.label.clone(),
                first_day: p.first_day,
                last_day: p.last_day,
                start: p.start,
                end: p.end,
                group: k.clone(),
                values: columns
                    .iter()
                    .map(|d| value(d, acc, backlog, survey))
                    .collect(),
            });
            group_acc.entry(k.clone()).or_default().merge(acc);
            total_acc.merge(acc);
        }
    }
    let (start, end) = (plan.start(), plan.end());
    let whole = |label: &str, group: GroupKey, values| ReportRow {
        period: label.to_string(),
        first_day: req.from,
        last_day: req.to,
        start,
        end,
        group,
        values,
    };
    let splits = survey_split(req).is_some();
    let groups = if req.group_by.is_empty() {
        Vec::new()
    } else {
        keys.iter()
            .map(|k| {
                let acc = group_acc.get(k).unwrap_or(&empty);
                let backlog = running.get(k).copied();
                let survey = surveys
                    .map(|s| s.groups.get(k).unwrap_or(&empty_survey))
                    .filter(|_| splits);
                whole(
                    "total",
                    k.clone(),
                    columns
                        .iter()
                        .map(|d| value(d, acc, backlog, survey))
                        .collect(),
                )
            })
            .collect()
    };
    let unsplit_ok = req.filters.is_empty();
    let total_backlog: i64 = running.values().sum();
    let total_survey = surveys.map(|s| &s.total).filter(|_| unsplit_ok);
    let total = whole(
        "total",
        vec![None; req.group_by.len()],
        columns
            .iter()
            .map(|d| value(d, &total_acc, Some(total_backlog), total_survey))
            .collect(),
    );
    let mut prev_acc = RollupAcc::default();
    for row in &inputs.previous_rows {
        if Family::of(row.grain) != previous_plan.family || !req.filters.matches(&row.dimensions) {
            continue;
        }
        if previous_plan.period_of(row).is_some() {
            prev_acc.add_stored(&row.counts, &row.sketches)?;
        }
    }
    let prev_backlog: i64 = base.values().sum();
    let prev_survey = surveys.map(|s| &s.previous).filter(|_| unsplit_ok);
    let pp = previous_plan.periods.first();
    let previous = ReportRow {
        period: "previous".into(),
        first_day: pp.map_or(req.from, |p| p.first_day),
        last_day: pp.map_or(req.from, |p| p.last_day),
        start: previous_plan.start(),
        end: previous_plan.end(),
        group: vec![None; req.group_by.len()],
        values: columns
            .iter()
            .map(|d| value(d, &prev_acc, Some(prev_backlog), prev_survey))
            .collect(),
    };
    let mut notes = inputs.notes.clone();
    if req.metrics.iter().any(|m| m.is_survey()) && survey_split(req).is_none() {
        notes.push(if unsplit_ok {
            "Survey scores (CSAT, NPS, CES) can be split by group, channel or assignee only: they are shown in the totals, not per row.".to_string()
        } else {
            "Survey scores (CSAT, NPS, CES) cannot be filtered by channel, priority, group, brand, assignee, tag or language: they are left out.".to_string()
        });
    }
    if req.group_by.contains(&Dim::Tag) {
        notes.push(format!("A ticket counts once under each tag it is counted with (its tags at its last solve; open tickets: their tags now): the total and the previous period sum the tags (ticket–tag pairs), not tickets. At most {TOP_TAGS} tags are shown, the rest as {OTHER_TAGS}."));
    }
    Ok(Report {
        request: req.clone(),
        columns,
        rows,
        groups,
        total,
        previous,
        notes,
    })
}

/// Created tickets by local weekday (Monday = 0) × local hour, from hourly created counts.
pub fn heatmap(tz: Tz, hours: &[(DateTime<Utc>, i64)]) -> [[i64; 24]; 7] {
    let mut m = [[0i64; 24]; 7];
    for (t, n) in hours {
        let l = t.with_timezone(&tz);
        m[l.weekday().num_days_from_monday() as usize][l.hour() as usize] += n;
    }
    m
}

// ---------------------------------------------------------------------------------------
// CSV
// ---------------------------------------------------------------------------------------

/// One CSV cell: quoted when it holds a comma, quote or line break; a cell a spreadsheet
/// would take as a formula (starting with `=`, `+`, `-`, `@`, a tab or a carriage return)
/// is neutralised with a leading apostrophe. Numbers are written by the report itself and
/// never pass through here, so negative numbers stay numbers.
pub fn csv_cell(s: &str) -> String {
    let risky = s.starts_with(['=', '+', '-', '@', '\t', '\r']);
    let s = if risky {
        format!("'{s}")
    } else {
        s.to_string()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

/// The CSV header line of a report (with its line break).
pub fn csv_header(r: &Report) -> String {
    let mut cols: Vec<String> = vec!["period".into(), "first_day".into(), "last_day".into()];
    cols.extend(r.request.group_by.iter().map(|d| d.key().to_string()));
    cols.extend(r.columns.iter().map(|c| c.key.to_string()));
    let mut s = cols
        .iter()
        .map(|c| csv_cell(c))
        .collect::<Vec<_>>()
        .join(",");
    s.push_str("\r\n");
    s
}

/// One CSV line of a report row (dimension values as ids / names, as in the JSON).
pub fn csv_line(row: &ReportRow) -> String {
    let mut cells: Vec<String> = vec![
        csv_cell(&row.period),
        row.first_day.to_string(),
        row.last_day.to_string(),
    ];
    cells.extend(
        row.group
            .iter()
            .map(|g| csv_cell(g.as_deref().unwrap_or(""))),
    );
    cells.extend(
        row.values
            .iter()
            .map(|v| v.map(|v| v.to_string()).unwrap_or_default()),
    );
    let mut s = cells.join(",");
    s.push_str("\r\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{spread_contribution, ticket_contribution, RowKey, TicketFacts};
    use crate::ticket::Fields;
    use crate::{Actor, Change, Status};
    use std::collections::HashMap;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 20, 12, 0, 0).unwrap()
    }

    fn params(q: &str) -> ReportParams {
        let pairs: Vec<(String, String)> = q
            .split('&')
            .filter(|s| !s.is_empty())
            .map(|kv| {
                let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                (k.to_string(), v.to_string())
            })
            .collect();
        ReportParams::from_pairs(
            pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            &["format"],
        )
        .unwrap()
    }

    fn req(q: &str) -> Result<ReportRequest, Invalid> {
        ReportRequest::parse(&params(q), now())
    }

    #[test]
    fn bad_input_is_refused_with_the_field_named() {
        let e = req("from=2026-03-10&to=2026-03-01").unwrap_err();
        assert_eq!(e.field, "from");
        assert!(e.message.contains("inverted"), "{e}");
        let e = req("from=2020-01-01&to=2026-03-01").unwrap_err();
        assert_eq!(e.field, "to");
        assert!(e.message.contains("at most 1096"), "{e}");
        assert_eq!(req("tz=Mars/Olympus").unwrap_err().field, "tz");
        // Far-away years are refused before any date arithmetic (no overflow panic).
        assert_eq!(req("to=-262143-01-05").unwrap_err().field, "to");
        assert_eq!(req("to=+262142-12-31").unwrap_err().field, "to");
        assert_eq!(
            req("from=1969-12-31&to=1970-01-05").unwrap_err().field,
            "from"
        );
        assert_eq!(req("from=yesterday").unwrap_err().field, "from");
        assert_eq!(req("interval=hour").unwrap_err().field, "interval");
        let e = req("group_by=channel,priority,group,brand").unwrap_err();
        assert!(e.message.contains("at most 3"), "{e}");
        let many: Vec<String> = (0..100).map(|i| format!("d{i}")).collect();
        assert_eq!(
            req(&format!("group_by={}", many.join(",")))
                .unwrap_err()
                .field,
            "group_by"
        );
        assert!(req("group_by=colour")
            .unwrap_err()
            .message
            .contains("not a dimension"));
        assert!(req("group_by=channel,channel").is_err());
        assert!(req("group_by=assignee,channel").is_err());
        assert!(req("group_by=group&assignee_id=3").is_err());
        assert_eq!(req("metrics=speed").unwrap_err().field, "metrics");
        assert_eq!(req("channel=pigeon").unwrap_err().field, "channel");
        assert_eq!(req("group_id=-1").unwrap_err().field, "group_id");
        let e = ReportParams::from_pairs([("form", "2026-01-01")], &[]).unwrap_err();
        assert!(e.message.contains("not a report parameter"), "{e}");
        assert!(ReportParams::from_pairs([("tz", "UTC"), ("tz", "UTC")], &[]).is_err());
        let p = ReportParams::from_pairs([("metrics", "frt"), ("metrics", "fcr")], &[]).unwrap();
        assert_eq!(p.metrics.as_deref(), Some("frt,fcr"));
        // Half-hour zones cannot be cut from hourly roll-ups.
        let e = req("tz=Asia/Kolkata").unwrap().plan().unwrap_err();
        assert_eq!(e.field, "tz");
        assert!(e.message.contains("+05:30"), "{e}");
    }

    #[test]
    fn defaults_and_periods() {
        let r = req("").unwrap();
        assert_eq!(r.to, NaiveDate::from_ymd_opt(2026, 3, 20).unwrap());
        assert_eq!((r.to - r.from).num_days(), 29);
        assert_eq!(r.interval, Interval::Day);
        assert_eq!(r.metrics.len(), MetricGroup::ALL.len());
        // Berlin, March 2026 by week: DST starts Sun 29 Mar. Weeks are clipped to the range.
        let r = req("from=2026-03-01&to=2026-03-31&tz=Europe/Berlin&interval=week").unwrap();
        let p = r.plan().unwrap();
        let labels: Vec<&str> = p.periods.iter().map(|p| p.label.as_str()).collect();
        assert_eq!(
            labels,
            ["2026-W09", "2026-W10", "2026-W11", "2026-W12", "2026-W13", "2026-W14"]
        );
        assert_eq!(
            p.periods[0].start,
            Utc.with_ymd_and_hms(2026, 2, 28, 23, 0, 0).unwrap()
        );
        assert_eq!(
            p.periods[0].end,
            Utc.with_ymd_and_hms(2026, 3, 1, 23, 0, 0).unwrap()
        );
        assert_eq!(
            p.end(),
            Utc.with_ymd_and_hms(2026, 3, 31, 22, 0, 0).unwrap()
        );
        // Whole UTC days come from daily rows; the rest from hourly rows, which tile the
        // range exactly once.
        let mut covered = Duration::zero();
        for (a, b) in p.hours.iter().chain(&p.days) {
            covered += *b - *a;
        }
        assert_eq!(covered, p.end() - p.start());
        assert!(p.days.iter().all(|(a, b)| a.hour() == 0 && b.hour() == 0));
        assert!(p.days.len() >= 5 && p.hours.len() >= 6, "{p:?}");
        // In UTC a month is one daily range and no hours.
        let p = req("from=2026-03-01&to=2026-03-31&interval=month")
            .unwrap()
            .plan()
            .unwrap();
        assert_eq!(p.hours, vec![]);
        assert_eq!(p.days.len(), 1);
        // Previous: whole months → the month before; else as many days before.
        let r = req("from=2026-03-01&to=2026-03-31").unwrap();
        assert_eq!(
            r.previous().unwrap(),
            (
                NaiveDate::from_ymd_opt(2026, 2, 1).unwrap(),
                NaiveDate::from_ymd_opt(2026, 2, 28).unwrap()
            )
        );
        let r = req("from=2026-03-10&to=2026-03-16").unwrap();
        assert_eq!(
            r.previous().unwrap(),
            (
                NaiveDate::from_ymd_opt(2026, 3, 3).unwrap(),
                NaiveDate::from_ymd_opt(2026, 3, 9).unwrap()
            )
        );
    }

    fn ticket(
        created: &str,
        group: i64,
        extra: Vec<(&str, Actor, Change)>,
    ) -> Vec<crate::metrics::Event> {
        let t = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        let mut ev = vec![(
            t(created),
            Actor::customer(7),
            Change::Created {
                subject: "s".into(),
                status: Status::New,
                priority: Priority::Normal,
                channel: Channel::Email,
                requester_id: 7,
                organization_id: None,
                assignee_id: Some(1),
                group_id: Some(group),
                brand_id: None,
                tags: vec![],
                fields: Fields::new(),
            },
        )];
        ev.extend(extra.into_iter().map(|(at, a, c)| (t(at), a, c)));
        ev
    }

    fn reply(at: &str) -> (&str, Actor, Change) {
        (
            at,
            Actor::agent(1),
            Change::MessageAdded {
                time_spent_seconds: None,
                message_id: 0,
                public: true,
            },
        )
    }

    fn solve(at: &str) -> (&str, Actor, Change) {
        (
            at,
            Actor::agent(1),
            Change::StatusChanged {
                from: Status::Open,
                to: Status::Solved,
            },
        )
    }

    /// Builds stored rows from ticket histories the way the stores do.
    fn rows(tickets: &[Vec<crate::metrics::Event>]) -> Vec<StoredRollup> {
        let with_none: Vec<_> = tickets.iter().map(|ev| (ev.clone(), None)).collect();
        rows_with_language(&with_none)
    }

    fn get(r: &Report, row: &ReportRow, key: &str) -> Option<f64> {
        let i = r.columns.iter().position(|c| c.key == key).unwrap();
        row.values[i].map(Value::as_f64)
    }

    fn tagged(at: &str, tags: &[&str]) -> Vec<crate::metrics::Event> {
        let mut ev = ticket(at, 1, vec![]);
        if let Change::Created { tags: t, .. } = &mut ev[0].2 {
            *t = tags.iter().map(|s| s.to_string()).collect();
        }
        ev
    }

    fn rows_with_language(
        tickets: &[(Vec<crate::metrics::Event>, Option<&str>)],
    ) -> Vec<StoredRollup> {
        let mut all: HashMap<RowKey, crate::metrics::RollupCell> = HashMap::new();
        for (ev, lang) in tickets {
            let mut f = TicketFacts::from_events(ev, false).unwrap();
            f.dimensions.language = lang.map(str::to_string);
            let c = ticket_contribution(&f, None, &[]);
            spread_contribution(&mut all, &f.dimensions, &c, 1);
        }
        all.into_iter()
            .map(|(k, c)| StoredRollup {
                grain: k.grain,
                period_start: k.period_start,
                dimensions: k.dimensions,
                counts: c.counts,
                sketches: c.encode_sketches(),
            })
            .collect()
    }

    #[test]
    fn tag_and_language_parameters_and_families() {
        assert_eq!(req("by=tag").unwrap().group_by, vec![Dim::Tag]);
        assert_eq!(req("by=tag").unwrap().family(), Family::Tag);
        assert_eq!(
            req("language=pt_br").unwrap().filters.language.as_deref(),
            Some("pt-BR")
        );
        assert_eq!(req("language=de").unwrap().family(), Family::Language);
        assert_eq!(req("tag=VIP").unwrap().filters.tag.as_deref(), Some("vip"));
        assert_eq!(req("").unwrap().family(), Family::Agent);
        assert_eq!(req("group_by=group").unwrap().family(), Family::Cube);
        for q in [
            "group_by=tag,language",
            "by=tag&channel=email",
            "group_by=assignee&language=de",
            "tag=a%20b",
            "tag=no spaces",
            "language=klingon-is-not-bcp47",
        ] {
            assert!(req(q).is_err(), "{q}");
        }
        assert_eq!(req("tag=no spaces").unwrap_err().field, "tag");
        assert_eq!(req("by=tag&channel=email").unwrap_err().field, "group_by");
        let p = params("by=language&tag=vip");
        assert_eq!(p.to_query(), "group_by=language&tag=vip");
    }

    #[test]
    fn a_report_by_tag_shows_the_top_tags_and_sums_the_rest() {
        // 22 tags; "t21" on three tickets, "t00" on two, the others on one each.
        let mut tickets = Vec::new();
        for i in 0..TOP_TAGS + 2 {
            tickets.push((tagged("2026-03-02T10:00:00Z", &[&format!("t{i:02}")]), None));
        }
        for _ in 0..2 {
            tickets.push((tagged("2026-03-03T10:00:00Z", &["t21"]), Some("de")));
        }
        tickets.push((tagged("2026-03-03T10:00:00Z", &["t00"]), None));
        tickets.push((tagged("2026-03-03T11:00:00Z", &[]), Some("en")));
        let stored = rows_with_language(&tickets);
        let run = |q: &str| {
            let r = req(q).unwrap();
            let plan = r.plan().unwrap();
            let prev = r.previous_plan().unwrap();
            let inputs = ReportInputs {
                rows: stored.clone(),
                previous_rows: vec![],
                open_before: vec![],
                surveys: None,
                notes: vec![],
            };
            build(&r, &plan, &prev, &inputs).unwrap()
        };
        let r = run("from=2026-03-01&to=2026-03-07&by=tag&metrics=volume");
        let groups: Vec<(Option<String>, f64)> = r
            .groups
            .iter()
            .map(|g| (g.group[0].clone(), get(&r, g, "created").unwrap()))
            .collect();
        assert_eq!(
            groups.len(),
            TOP_TAGS + 2,
            "20 tags, (other), no tag: {groups:?}"
        );
        assert!(groups.contains(&(Some("t21".into()), 3.0)));
        assert!(groups.contains(&(Some("t00".into()), 2.0)));
        // Ranked t21, t00, then by name t01…t18: t19 and t20 are summed.
        assert!(
            groups.contains(&(Some(OTHER_TAGS.into()), 2.0)),
            "{groups:?}"
        );
        assert!(!groups.iter().any(|g| g.0.as_deref() == Some("t19")));
        assert!(groups.contains(&(None, 1.0)));
        assert_eq!(get(&r, &r.total, "created"), Some(26.0));
        assert!(r.notes.iter().any(|n| n.contains("ticket–tag pairs")));
        // Filtered by a tag: that tag's tickets.
        let r = run("from=2026-03-01&to=2026-03-07&tag=t21&metrics=volume");
        assert_eq!(get(&r, &r.total, "created"), Some(3.0));
        // By language: one row per language, each ticket once.
        let r = run("from=2026-03-01&to=2026-03-07&by=language&metrics=volume");
        let mut langs: Vec<(Option<String>, f64)> = r
            .groups
            .iter()
            .map(|g| (g.group[0].clone(), get(&r, g, "created").unwrap()))
            .collect();
        langs.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(
            langs,
            vec![
                (None, 23.0),
                (Some("de".into()), 2.0),
                (Some("en".into()), 1.0)
            ]
        );
        assert_eq!(get(&r, &r.total, "created"), Some(26.0));
    }

    #[test]
    fn a_report_by_day_and_group_with_backlog_and_previous_period() {
        // Berlin (UTC+1 in March). Ticket A (group 1): created Mon 2 Mar 23:30 UTC = Tue
        // 00:30 local, replied 3 Mar 00:10 UTC (40 min), solved 3 Mar 09:00 UTC.
        // Ticket B (group 2): created Tue 3 Mar 10:00 UTC, replied 12:00 (2 h), open.
        // Ticket C (group 1): created 24 Feb (previous week), solved 25 Feb.
        let a = ticket(
            "2026-03-02T23:30:00Z",
            1,
            vec![reply("2026-03-03T00:10:00Z"), solve("2026-03-03T09:00:00Z")],
        );
        let b = ticket(
            "2026-03-03T10:00:00Z",
            2,
            vec![reply("2026-03-03T12:00:00Z")],
        );
        let c = ticket(
            "2026-02-24T10:00:00Z",
            1,
            vec![solve("2026-02-25T10:00:00Z")],
        );
        // D (group 2): created 1 Feb, still open: backlog before the range.
        let d = ticket("2026-02-01T10:00:00Z", 2, vec![]);
        let stored = rows(&[a, b, c, d]);
        let r = req(
            "from=2026-03-02&to=2026-03-08&tz=Europe/Berlin&group_by=group&metrics=volume,frt,fcr",
        )
        .unwrap();
        let plan = r.plan().unwrap();
        let prev = r.previous_plan().unwrap();
        let before = plan.start();
        let open_before: Vec<(Dimensions, i64)> = stored
            .iter()
            .filter(|s| s.grain == Grain::Hour && s.period_start < before)
            .map(|s| {
                (
                    s.dimensions.clone(),
                    s.counts[counter::CREATED] - s.counts[counter::SOLVES]
                        + s.counts[counter::REOPENS],
                )
            })
            .collect();
        let inputs = ReportInputs {
            rows: stored.clone(),
            previous_rows: stored.clone(),
            open_before,
            surveys: None,
            notes: vec![],
        };
        let rep = build(&r, &plan, &prev, &inputs).unwrap();
        assert_eq!(rep.rows.len(), 7 * 2, "7 days × 2 groups");
        let row = |day: &str, g: &str| {
            rep.rows
                .iter()
                .find(|x| x.period == day && x.group == vec![Some(g.to_string())])
                .unwrap()
        };
        // A is created on local Tuesday 3 Mar, not Monday.
        assert_eq!(get(&rep, row("2026-03-02", "1"), "created"), Some(0.0));
        assert_eq!(get(&rep, row("2026-03-03", "1"), "created"), Some(1.0));
        assert_eq!(get(&rep, row("2026-03-03", "1"), "solved"), Some(1.0));
        assert_eq!(get(&rep, row("2026-03-03", "1"), "fcr_rate"), Some(100.0));
        let frt = get(&rep, row("2026-03-03", "1"), "frt_median").unwrap();
        assert!((frt - 2400.0).abs() <= 24.0, "40 min within 1 %: {frt}");
        assert_eq!(
            get(&rep, row("2026-03-03", "1"), "frt_bh_median"),
            None,
            "no calendar"
        );
        // Backlog: group 2 had D open before; B makes 2 from Tuesday on; group 1 is 0.
        assert_eq!(get(&rep, row("2026-03-02", "2"), "backlog"), Some(1.0));
        assert_eq!(get(&rep, row("2026-03-08", "2"), "backlog"), Some(2.0));
        assert_eq!(get(&rep, row("2026-03-08", "1"), "backlog"), Some(0.0));
        assert_eq!(get(&rep, &rep.total, "created"), Some(2.0));
        assert_eq!(get(&rep, &rep.total, "backlog"), Some(2.0));
        assert_eq!(rep.groups.len(), 2);
        // Previous week: C created and solved; backlog at its end = before the range.
        assert_eq!(get(&rep, &rep.previous, "created"), Some(1.0));
        assert_eq!(get(&rep, &rep.previous, "backlog"), Some(1.0));
        assert_eq!(
            get(&rep, &rep.previous, "fcr_rate"),
            Some(0.0),
            "solved without a reply"
        );
        assert_eq!(rep.change()[0], Some(Value::Int(1)));
        // The total's median merges sketches; it is not a mean of daily medians.
        let f = get(&rep, &rep.total, "frt_median").unwrap();
        assert!((f - 2400.0).abs() <= 24.0, "{f}");
        // CSV: header and lines have as many cells as columns.
        let h = csv_header(&rep);
        assert!(h.starts_with("period,first_day,last_day,group_id,created,solved"));
        let line = csv_line(row("2026-03-03", "1"));
        assert_eq!(line.split(',').count(), h.split(',').count());
        // Without grouping the report reads the per-agent rows: the same totals.
        let r3 =
            req("from=2026-03-02&to=2026-03-08&tz=Europe/Berlin&metrics=volume,frt,fcr").unwrap();
        assert!(r3.agent() && !r.agent());
        let rep3 = build(
            &r3,
            &r3.plan().unwrap(),
            &r3.previous_plan().unwrap(),
            &inputs,
        )
        .unwrap();
        for k in [
            "created",
            "solved",
            "backlog",
            "frt_median",
            "frt_mean",
            "fcr_rate",
        ] {
            assert_eq!(get(&rep3, &rep3.total, k), get(&rep, &rep.total, k), "{k}");
            assert_eq!(
                get(&rep3, &rep3.previous, k),
                get(&rep, &rep.previous, k),
                "{k}"
            );
        }
        // Filters: group 2 only.
        let r2 = req("from=2026-03-02&to=2026-03-08&tz=Europe/Berlin&group_id=2&metrics=volume")
            .unwrap();
        let rep2 = build(
            &r2,
            &r2.plan().unwrap(),
            &r2.previous_plan().unwrap(),
            &inputs,
        )
        .unwrap();
        assert_eq!(get(&rep2, &rep2.total, "created"), Some(1.0));
        assert_eq!(get(&rep2, &rep2.total, "backlog"), Some(2.0));
    }

    #[test]
    fn too_many_rows_is_an_error_not_a_huge_answer() {
        let many: Vec<Vec<crate::metrics::Event>> = (1..=40)
            .map(|g| ticket("2026-03-02T10:00:00Z", g, vec![]))
            .collect();
        let stored = rows(&many);
        let r = req("from=2024-01-01&to=2026-03-19&interval=day&group_by=group&metrics=volume")
            .unwrap();
        let inputs = ReportInputs {
            rows: stored,
            ..Default::default()
        };
        let Err(e) = build(&r, &r.plan().unwrap(), &r.previous_plan().unwrap(), &inputs) else {
            panic!("a report of too many rows must be refused");
        };
        assert!(e.message.contains("rows"), "{e}");
    }

    #[test]
    fn csv_cells_cannot_become_formulas() {
        assert_eq!(csv_cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_cell("+1"), "'+1");
        assert_eq!(csv_cell("-2"), "'-2");
        assert_eq!(csv_cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(csv_cell("\tx"), "'\tx");
        assert_eq!(csv_cell("\rx"), "\"'\rx\"");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("email"), "email");
    }

    #[test]
    fn every_metric_has_a_unique_key_and_a_definition() {
        let mut keys = BTreeSet::new();
        for m in METRICS.iter() {
            assert!(keys.insert(m.key), "duplicate {}", m.key);
            assert!(m.definition.len() > 20, "{}", m.key);
        }
        assert_eq!(METRICS.len(), 51);
        for g in MetricGroup::ALL {
            assert!(METRICS.iter().any(|m| m.group == g), "{g:?}");
        }
        let q = params("from=2026-03-01&tz=Europe/Berlin&group_by=group,channel").to_query();
        assert_eq!(
            q,
            "from=2026-03-01&tz=Europe%2FBerlin&group_by=group%2Cchannel"
        );
    }

    #[test]
    fn heatmap_uses_local_weekday_and_hour() {
        let tz: Tz = "Europe/Berlin".parse().unwrap();
        // Mon 2 Mar 23:30 UTC is Tue 00:xx in Berlin.
        let m = heatmap(
            tz,
            &[(Utc.with_ymd_and_hms(2026, 3, 2, 23, 0, 0).unwrap(), 3)],
        );
        assert_eq!(m[1][0], 3);
    }
}
