//! Targets: "FRT p90 < 1 business hour for group Billing", "CSAT ≥ 90 %".
//!
//! A target names a report column (a metric, and for times a statistic and calendar or
//! business hours), a comparator, a threshold in the column's unit (seconds, percent,
//! count…) and a scope (channel, priority, group, brand or assignee). Its status over a
//! period is read from a [`Report`] computed by the one report engine
//! ([`crate::report::build`]): **no second computation** — this module only picks the number
//! out of the report and compares it.
//!
//! - **on track**: the period's value satisfies `value <comparator> threshold`;
//! - **off track**: it does not;
//! - **no data**: the report has no value (no first response in the period, no CSAT answer…).
//!
//! The trend compares the value with the same target's value over the previous period of
//! the same length ([`ReportRequest::previous`]): `improving` when it moved towards the good
//! side of the comparator, `worsening` when it moved away, `steady` when equal.
//!
//! A scoped target is evaluated with the report grouped by its scope dimensions (not
//! filtered): the survey roll-ups can split by group, channel or assignee but cannot be
//! filtered, so "CSAT ≥ 90 % for group Billing" has a value. For roll-up metrics a group's
//! row equals the filtered total (both sum the same roll-up rows).

use crate::report::{
    metric, Dim, Filters, GroupKey, MetricDef, MetricGroup, Report, ReportParams, Stat, Unit, Value,
};
use crate::{Channel, Invalid, Priority};
use chrono::{Datelike, Duration, NaiveDate};
use serde::{Deserialize, Serialize};

/// How a value is compared with the threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Comparator {
    #[serde(rename = "<")]
    Lt,
    #[serde(rename = "<=")]
    Le,
    #[serde(rename = ">")]
    Gt,
    #[serde(rename = ">=")]
    Ge,
}

impl Comparator {
    pub const ALL: [Comparator; 4] = [
        Comparator::Lt,
        Comparator::Le,
        Comparator::Gt,
        Comparator::Ge,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Comparator::Lt => "<",
            Comparator::Le => "<=",
            Comparator::Gt => ">",
            Comparator::Ge => ">=",
        }
    }

    /// `<`, `<=`, `>`, `>=` (also `lt`, `le`, `gt`, `ge`, `≤`, `≥`).
    pub fn parse(s: &str) -> Result<Comparator, Invalid> {
        Ok(match s.trim() {
            "<" | "lt" => Comparator::Lt,
            "<=" | "le" | "≤" => Comparator::Le,
            ">" | "gt" => Comparator::Gt,
            ">=" | "ge" | "≥" => Comparator::Ge,
            other => {
                return Err(Invalid::new(
                    "comparator",
                    format!(
                        "'{}' is not one of: <, <=, >, >=",
                        crate::truncate_for_message(other)
                    ),
                ))
            }
        })
    }

    /// Whether lower values are better.
    pub fn lower_is_better(self) -> bool {
        matches!(self, Comparator::Lt | Comparator::Le)
    }

    pub fn holds(self, value: f64, threshold: f64) -> bool {
        match self {
            Comparator::Lt => value < threshold,
            Comparator::Le => value <= threshold,
            Comparator::Gt => value > threshold,
            Comparator::Ge => value >= threshold,
        }
    }
}

/// The time metrics that take a statistic (`frt` + `p90` + business hours → `frt_bh_p90`).
pub const TIME_METRICS: [&str; 4] = ["frt", "nrt", "first_resolution", "full_resolution"];

fn stat_name(s: Stat) -> &'static str {
    match s {
        Stat::Median => "median",
        Stat::P90 => "p90",
        Stat::Mean => "mean",
    }
}

/// A target's scope: which tickets its number is about (all of them when empty).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scope {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<Channel>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<Priority>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub brand_id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignee_id: Option<i64>,
}

impl Scope {
    pub fn is_empty(&self) -> bool {
        *self == Scope::default()
    }

    /// The dimensions it names, in report order.
    pub fn dims(&self) -> Vec<Dim> {
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
        v
    }

    /// The report group key of the scope (values of [`Scope::dims`], as report text).
    pub fn key(&self) -> GroupKey {
        self.dims()
            .into_iter()
            .map(|d| match d {
                Dim::Channel => self.channel.map(|c| c.as_str().to_string()),
                Dim::Priority => self.priority.map(|p| p.as_str().to_string()),
                Dim::Group => self.group_id.map(|v| v.to_string()),
                Dim::Brand => self.brand_id.map(|v| v.to_string()),
                Dim::Assignee => self.assignee_id.map(|v| v.to_string()),
                // Target scopes have no tag or language (issue 8: tag/language roll-ups).
                Dim::Tag | Dim::Language => None,
            })
            .collect()
    }

    /// The same scope as report filters.
    pub fn filters(&self) -> Filters {
        Filters {
            channel: self.channel,
            priority: self.priority,
            group_id: self.group_id,
            brand_id: self.brand_id,
            assignee_id: self.assignee_id,
            ..Filters::default()
        }
    }

    /// Whether report filters select exactly this scope.
    pub fn is(&self, f: &Filters) -> bool {
        self.filters() == *f
    }
}

/// A target as an admin writes it (API body), before validation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetInput {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub metric: Option<String>,
    #[serde(default)]
    pub statistic: Option<String>,
    #[serde(default)]
    pub business_hours: Option<bool>,
    #[serde(default)]
    pub comparator: Option<String>,
    #[serde(default)]
    pub threshold: Option<f64>,
    #[serde(default)]
    pub scope: Option<Scope>,
    #[serde(default)]
    pub active: Option<bool>,
}

/// A validated target definition (what the stores keep).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetDef {
    pub name: String,
    /// `frt`, `nrt`, `first_resolution`, `full_resolution`, or a report column key
    /// (`csat`, `fcr_rate`, `created`, `backlog`, `sla_first_reply`, …).
    pub metric: String,
    /// `median`, `p90` or `mean` for the time metrics; `None` otherwise.
    pub statistic: Option<String>,
    /// Business hours of the SLA calendar instead of calendar time (time metrics only).
    pub business_hours: bool,
    pub comparator: Comparator,
    /// In the column's unit: seconds, percent (0–100), count, ratio or NPS points.
    pub threshold: f64,
    pub scope: Scope,
    pub active: bool,
}

pub const MAX_NAME: usize = 120;

fn all_metric_names() -> String {
    let mut v: Vec<&str> = TIME_METRICS.to_vec();
    v.extend(
        crate::report::METRICS
            .iter()
            .filter(|m| !matches!(m.source, crate::report::Source::Time(..)))
            .map(|m| m.key),
    );
    v.join(", ")
}

impl TargetDef {
    /// Validates a full definition (create), or `patch` applied over `base` (update).
    pub fn validate(input: &TargetInput, base: Option<&TargetDef>) -> Result<TargetDef, Invalid> {
        let name = match (&input.name, base) {
            (Some(n), _) => n.trim().to_string(),
            (None, Some(b)) => b.name.clone(),
            (None, None) => return Err(Invalid::new("name", "is required")),
        };
        if name.is_empty() {
            return Err(Invalid::new("name", "must not be empty"));
        }
        if name.chars().count() > MAX_NAME {
            return Err(Invalid::new(
                "name",
                format!("is longer than {MAX_NAME} characters"),
            ));
        }
        let metric_changed = input.metric.is_some();
        let metric = match (&input.metric, base) {
            (Some(m), _) => m.trim().to_string(),
            (None, Some(b)) => b.metric.clone(),
            (None, None) => {
                return Err(Invalid::new(
                    "metric",
                    format!("is required; one of: {}", all_metric_names()),
                ))
            }
        };
        let is_time = TIME_METRICS.contains(&metric.as_str());
        // A new metric does not inherit the old statistic.
        let statistic = match (&input.statistic, base) {
            (Some(s), _) => Some(s.trim().to_string()).filter(|s| !s.is_empty()),
            (None, Some(b)) if !metric_changed => b.statistic.clone(),
            _ => None,
        };
        let business_hours = match (input.business_hours, base) {
            (Some(v), _) => v,
            (None, Some(b)) if !metric_changed => b.business_hours,
            _ => false,
        };
        if is_time {
            match statistic.as_deref() {
                Some("median" | "p90" | "mean") => {}
                Some(s) => {
                    return Err(Invalid::new(
                        "statistic",
                        format!(
                            "'{}' is not one of: median, p90, mean",
                            crate::truncate_for_message(s)
                        ),
                    ))
                }
                None => {
                    return Err(Invalid::new(
                        "statistic",
                        format!("is required for {metric}: median, p90 or mean"),
                    ))
                }
            }
        } else {
            let def = crate::report::metric(&metric)
                .filter(|d| !matches!(d.source, crate::report::Source::Time(..)))
                .ok_or_else(|| {
                    Invalid::new(
                        "metric",
                        format!(
                            "'{}' is not a metric; use: {}",
                            crate::truncate_for_message(&metric),
                            all_metric_names()
                        ),
                    )
                })?;
            if statistic.is_some() {
                return Err(Invalid::new(
                    "statistic",
                    format!(
                        "only time metrics ({}) take a statistic; {} does not",
                        TIME_METRICS.join(", "),
                        def.key
                    ),
                ));
            }
            if business_hours {
                return Err(Invalid::new(
                    "business_hours",
                    format!(
                        "only time metrics take business hours; {} does not",
                        def.key
                    ),
                ));
            }
        }
        let comparator = match (&input.comparator, base) {
            (Some(c), _) => Comparator::parse(c)?,
            (None, Some(b)) => b.comparator,
            (None, None) => return Err(Invalid::new("comparator", "is required: <, <=, > or >=")),
        };
        let threshold = match (input.threshold, base) {
            (Some(t), _) => t,
            (None, Some(b)) => b.threshold,
            (None, None) => return Err(Invalid::new("threshold", "is required")),
        };
        let scope = match (&input.scope, base) {
            (Some(s), _) => s.clone(),
            (None, Some(b)) => b.scope.clone(),
            (None, None) => Scope::default(),
        };
        let active = input.active.or(base.map(|b| b.active)).unwrap_or(true);
        let def = TargetDef {
            name,
            metric,
            statistic,
            business_hours,
            comparator,
            threshold,
            scope,
            active,
        };
        let col = def.column();
        if !threshold.is_finite() {
            return Err(Invalid::new("threshold", "must be a finite number"));
        }
        match col.unit {
            Unit::Percent if !(0.0..=100.0).contains(&threshold) => {
                return Err(Invalid::new(
                    "threshold",
                    format!("{} is a percentage: use 0 to 100", col.key),
                ))
            }
            Unit::Score if !(-100.0..=100.0).contains(&threshold) => {
                return Err(Invalid::new(
                    "threshold",
                    format!("{} is a score from -100 to 100", col.key),
                ))
            }
            Unit::Seconds | Unit::Count | Unit::Ratio if threshold < 0.0 => {
                return Err(Invalid::new(
                    "threshold",
                    format!(
                        "must not be negative ({} is in {})",
                        col.key,
                        col.unit.as_str()
                    ),
                ))
            }
            // A year of seconds, a billion tickets: beyond that a target means nothing.
            Unit::Seconds if threshold > THRESHOLD_SECONDS_MAX => {
                return Err(Invalid::new(
                    "threshold",
                    format!(
                        "{} is in seconds: at most {THRESHOLD_SECONDS_MAX} (366 days)",
                        col.key
                    ),
                ))
            }
            Unit::Count | Unit::Ratio if threshold > THRESHOLD_COUNT_MAX => {
                return Err(Invalid::new(
                    "threshold",
                    format!("must be at most {THRESHOLD_COUNT_MAX}"),
                ))
            }
            _ => {}
        }
        for (field, id) in [
            ("scope.group_id", def.scope.group_id),
            ("scope.brand_id", def.scope.brand_id),
            ("scope.assignee_id", def.scope.assignee_id),
        ] {
            if id.is_some_and(|v| v <= 0) {
                return Err(Invalid::new(field, "must be a positive id"));
            }
        }
        let dims = def.scope.dims();
        if dims.contains(&Dim::Assignee) && dims.len() > 1 {
            return Err(Invalid::new(
                "scope",
                "assignee_id cannot be combined with channel, priority, group or brand: agent figures are kept per agent only",
            ));
        }
        if col.group.is_survey()
            && !(dims.is_empty()
                || matches!(dims.as_slice(), [Dim::Group | Dim::Channel | Dim::Assignee]))
        {
            return Err(Invalid::new(
                "scope",
                format!("{} (a survey score) can be scoped by one of group, channel or assignee only: the survey roll-ups keep no other split", col.key),
            ));
        }
        Ok(def)
    }

    /// The report column this target reads.
    pub fn column(&self) -> &'static MetricDef {
        let key = match &self.statistic {
            Some(s) if TIME_METRICS.contains(&self.metric.as_str()) => format!(
                "{}{}_{}",
                self.metric,
                if self.business_hours { "_bh" } else { "" },
                s
            ),
            _ => self.metric.clone(),
        };
        // Validation guarantees the key; fall back to `created` rather than panic.
        metric(&key).unwrap_or_else(|| &crate::report::METRICS[0])
    }

    /// The report family it needs.
    pub fn family(&self) -> MetricGroup {
        self.column().group
    }

    /// "FRT p90 (business hours) < 1 h" in words.
    pub fn describe(&self) -> String {
        let col = self.column();
        format!(
            "{} {} {}",
            col.label,
            self.comparator.as_str(),
            format_value(col.unit, self.threshold)
        )
    }

    /// Its value in a report grouped by [`Scope::dims`] (the total when unscoped). A scope
    /// group with no roll-up rows has count 0 and no other value.
    pub fn value_in(&self, r: &Report) -> Option<Value> {
        let col = r.columns.iter().position(|c| c.key == self.column().key)?;
        if r.request.group_by != self.scope.dims() {
            return None;
        }
        if self.scope.is_empty() {
            return r.total.values[col];
        }
        let key = self.scope.key();
        match r.groups.iter().find(|g| g.group == key) {
            Some(g) => g.values[col],
            None => (self.column().unit == Unit::Count).then_some(Value::Int(0)),
        }
    }

    /// The report parameters that compute it over `from..=to` (zone `tz`).
    pub fn report_params(
        dims: &[Dim],
        families: &[MetricGroup],
        from: NaiveDate,
        to: NaiveDate,
        tz: &str,
    ) -> ReportParams {
        ReportParams {
            from: Some(from.to_string()),
            to: Some(to.to_string()),
            tz: Some(tz.to_string()),
            // One period for a month or less: the totals are all a target reads.
            interval: Some("month".into()),
            group_by: (!dims.is_empty()).then(|| {
                dims.iter()
                    .map(|d| d.as_str())
                    .collect::<Vec<_>>()
                    .join(",")
            }),
            metrics: Some(
                families
                    .iter()
                    .map(|f| f.as_str())
                    .collect::<Vec<_>>()
                    .join(","),
            ),
            ..Default::default()
        }
    }
}

/// The statistic name of a report column (for display).
pub fn statistic_of(def: &MetricDef) -> Option<&'static str> {
    match def.source {
        crate::report::Source::Time(_, s) => Some(stat_name(s)),
        _ => None,
    }
}

/// The largest time threshold: 366 days in seconds.
pub const THRESHOLD_SECONDS_MAX: f64 = 366.0 * 86_400.0;
/// The largest count or ratio threshold.
pub const THRESHOLD_COUNT_MAX: f64 = 1e9;

/// A number in its unit, for people: `1 h`, `90 %`, `12`. Never panics: a time beyond
/// chrono's range is shown as a number of seconds.
pub fn format_value(unit: Unit, v: f64) -> String {
    match unit {
        Unit::Seconds => match Duration::try_seconds(v.round() as i64) {
            Some(d) => crate::sla::format_duration(d),
            None => format!("{v} s"),
        },
        Unit::Percent => format!("{v} %"),
        _ => format!("{v}"),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    OnTrack,
    OffTrack,
    NoData,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::OnTrack => "on_track",
            Status::OffTrack => "off_track",
            Status::NoData => "no_data",
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            Status::OnTrack => "on track",
            Status::OffTrack => "off track",
            Status::NoData => "no data",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trend {
    Improving,
    Worsening,
    Steady,
}

impl Trend {
    pub fn as_str(self) -> &'static str {
        match self {
            Trend::Improving => "improving",
            Trend::Worsening => "worsening",
            Trend::Steady => "steady",
        }
    }
}

/// A target's status over a period.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    pub status: Status,
    pub value: Option<Value>,
    pub previous: Option<Value>,
    /// `value − previous` (rounded like the report's change).
    pub change: Option<f64>,
    /// `None` when either period has no value.
    pub trend: Option<Trend>,
    /// Was the previous period on track?
    pub previous_status: Status,
}

fn status_of(c: Comparator, threshold: f64, v: Option<Value>) -> Status {
    match v {
        None => Status::NoData,
        Some(v) if c.holds(v.as_f64(), threshold) => Status::OnTrack,
        Some(_) => Status::OffTrack,
    }
}

/// Compares the period's value (and the previous period's) with the target. Pure.
pub fn evaluate(def: &TargetDef, value: Option<Value>, previous: Option<Value>) -> Evaluation {
    let status = status_of(def.comparator, def.threshold, value);
    let previous_status = status_of(def.comparator, def.threshold, previous);
    let (change, trend) = match (value, previous) {
        (Some(a), Some(b)) => {
            let d = ((a.as_f64() - b.as_f64()) * 100.0).round() / 100.0;
            let t = if d == 0.0 {
                Trend::Steady
            } else if (d < 0.0) == def.comparator.lower_is_better() {
                Trend::Improving
            } else {
                Trend::Worsening
            };
            (Some(d), Some(t))
        }
        _ => (None, None),
    };
    Evaluation {
        status,
        value,
        previous,
        change,
        trend,
        previous_status,
    }
}

/// Named periods of the status API (`period=`), as local days `from..=to` given today.
pub const PERIODS: [&str; 8] = [
    "today",
    "yesterday",
    "this_week",
    "last_week",
    "this_month",
    "last_month",
    "last_7_days",
    "last_30_days",
];

fn month_start(d: NaiveDate) -> NaiveDate {
    d.with_day(1).unwrap_or(d)
}

/// The local days of a named period (ISO weeks start on Monday).
pub fn period_range(period: &str, today: NaiveDate) -> Result<(NaiveDate, NaiveDate), Invalid> {
    let monday = today - Duration::days(i64::from(today.weekday().num_days_from_monday()));
    let this_month = month_start(today);
    let last_month_end = this_month.pred_opt().unwrap_or(this_month);
    Ok(match period {
        "today" => (today, today),
        "yesterday" => {
            let y = today.pred_opt().unwrap_or(today);
            (y, y)
        }
        "this_week" => (monday, today),
        "last_week" => (monday - Duration::days(7), monday - Duration::days(1)),
        "this_month" => (this_month, today),
        "last_month" => (month_start(last_month_end), last_month_end),
        "last_7_days" => (today - Duration::days(6), today),
        "last_30_days" => (today - Duration::days(29), today),
        other => {
            return Err(Invalid::new(
                "period",
                format!(
                    "'{}' is not one of: {}",
                    crate::truncate_for_message(other),
                    PERIODS.join(", ")
                ),
            ))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(metric: &str, stat: Option<&str>, cmp: &str, t: f64) -> TargetInput {
        TargetInput {
            name: Some("t".into()),
            metric: Some(metric.into()),
            statistic: stat.map(Into::into),
            comparator: Some(cmp.into()),
            threshold: Some(t),
            ..Default::default()
        }
    }

    #[test]
    fn resolves_columns() {
        let mut i = input("frt", Some("p90"), "<", 3600.0);
        i.business_hours = Some(true);
        i.scope = Some(Scope {
            group_id: Some(7),
            ..Default::default()
        });
        let d = TargetDef::validate(&i, None).unwrap();
        assert_eq!(d.column().key, "frt_bh_p90");
        assert_eq!(d.family(), MetricGroup::Frt);
        assert_eq!(d.scope.dims(), vec![Dim::Group]);
        assert_eq!(d.scope.key(), vec![Some("7".to_string())]);
        assert_eq!(d.describe(), "First response p90 (business hours) < 1 h");
        let c = TargetDef::validate(&input("csat", None, ">=", 90.0), None).unwrap();
        assert_eq!(c.column().key, "csat");
        assert!(c.active);
    }

    #[test]
    fn rejects_bad_definitions() {
        let field = |i: TargetInput| TargetDef::validate(&i, None).unwrap_err().field;
        assert_eq!(field(input("frt", None, "<", 1.0)), "statistic");
        assert_eq!(field(input("frt", Some("p99"), "<", 1.0)), "statistic");
        assert_eq!(field(input("csat", Some("p90"), ">", 1.0)), "statistic");
        assert_eq!(field(input("nope", None, ">", 1.0)), "metric");
        assert_eq!(field(input("frt_p90", None, ">", 1.0)), "metric");
        assert_eq!(field(input("csat", None, "=>", 1.0)), "comparator");
        assert_eq!(field(input("csat", None, ">", 101.0)), "threshold");
        assert_eq!(field(input("created", None, ">", -1.0)), "threshold");
        assert_eq!(field(input("created", None, ">", f64::NAN)), "threshold");
        assert_eq!(field(input("nps", None, ">", -101.0)), "threshold");
        // Huge numbers are refused at save (a time of 1e16 s once panicked on display).
        assert_eq!(field(input("frt", Some("p90"), "<", 1e16)), "threshold");
        assert_eq!(field(input("created", None, ">", 1e12)), "threshold");
        assert!(
            TargetDef::validate(&input("frt", Some("p90"), "<", 366.0 * 86_400.0), None).is_ok()
        );
        assert_eq!(format_value(Unit::Seconds, 1e16), "10000000000000000 s");
        assert_eq!(format_value(Unit::Seconds, 5400.0), "1 h 30 min");
        let mut i = input("csat", None, ">", 1.0);
        i.scope = Some(Scope {
            brand_id: Some(1),
            ..Default::default()
        });
        assert_eq!(field(i), "scope");
        let mut i = input("created", None, ">", 1.0);
        i.scope = Some(Scope {
            group_id: Some(1),
            assignee_id: Some(2),
            ..Default::default()
        });
        assert_eq!(field(i), "scope");
        let mut i = input("created", None, ">", 1.0);
        i.scope = Some(Scope {
            group_id: Some(0),
            ..Default::default()
        });
        assert_eq!(field(i), "scope.group_id");
        let mut i = input("created", None, ">", 1.0);
        i.name = Some("  ".into());
        assert_eq!(field(i), "name");
        let mut i = input("created", None, ">", 1.0);
        i.business_hours = Some(true);
        assert_eq!(field(i), "business_hours");
    }

    #[test]
    fn patches_keep_the_rest() {
        let base = TargetDef::validate(&input("frt", Some("median"), "<", 600.0), None).unwrap();
        let up = TargetDef::validate(
            &TargetInput {
                threshold: Some(300.0),
                ..Default::default()
            },
            Some(&base),
        )
        .unwrap();
        assert_eq!(up.threshold, 300.0);
        assert_eq!(up.column().key, "frt_median");
        // A new metric drops the old statistic: csat takes none.
        let up = TargetDef::validate(
            &TargetInput {
                metric: Some("csat".into()),
                threshold: Some(90.0),
                comparator: Some(">=".into()),
                ..Default::default()
            },
            Some(&base),
        )
        .unwrap();
        assert_eq!(up.statistic, None);
        assert_eq!(up.column().key, "csat");
    }

    #[test]
    fn evaluates_status_and_trend() {
        // FRT p90 < 3600 s: 3000 now (on track), 4000 before (off track) → improving by −1000.
        let frt = TargetDef::validate(&input("frt", Some("p90"), "<", 3600.0), None).unwrap();
        let e = evaluate(&frt, Some(Value::Int(3000)), Some(Value::Int(4000)));
        assert_eq!(e.status, Status::OnTrack);
        assert_eq!(e.previous_status, Status::OffTrack);
        assert_eq!(e.change, Some(-1000.0));
        assert_eq!(e.trend, Some(Trend::Improving));
        // Exactly at the threshold: < fails, <= holds.
        assert_eq!(
            evaluate(&frt, Some(Value::Int(3600)), None).status,
            Status::OffTrack
        );
        let mut le = frt.clone();
        le.comparator = Comparator::Le;
        let e = evaluate(&le, Some(Value::Int(3600)), None);
        assert_eq!(e.status, Status::OnTrack);
        assert_eq!(e.trend, None);
        // CSAT >= 90: 88.9 now, 92.3 before → off track, worsening by 3.4 points.
        let csat = TargetDef::validate(&input("csat", None, ">=", 90.0), None).unwrap();
        let e = evaluate(&csat, Some(Value::Dec(88.9)), Some(Value::Dec(92.3)));
        assert_eq!(e.status, Status::OffTrack);
        assert_eq!(e.change, Some(-3.4));
        assert_eq!(e.trend, Some(Trend::Worsening));
        // No answers: no data.
        let e = evaluate(&csat, None, Some(Value::Dec(92.3)));
        assert_eq!(e.status, Status::NoData);
        assert_eq!(e.trend, None);
        assert_eq!(
            evaluate(&csat, Some(Value::Dec(90.0)), Some(Value::Dec(90.0))).trend,
            Some(Trend::Steady)
        );
    }

    #[test]
    fn named_periods() {
        // Tue 24 Nov 2026.
        let d = NaiveDate::from_ymd_opt(2026, 11, 24).unwrap();
        let ymd = |y, m, dd| NaiveDate::from_ymd_opt(y, m, dd).unwrap();
        assert_eq!(period_range("today", d).unwrap(), (d, d));
        assert_eq!(
            period_range("this_week", d).unwrap(),
            (ymd(2026, 11, 23), d)
        );
        assert_eq!(
            period_range("last_week", d).unwrap(),
            (ymd(2026, 11, 16), ymd(2026, 11, 22))
        );
        assert_eq!(
            period_range("this_month", d).unwrap(),
            (ymd(2026, 11, 1), d)
        );
        assert_eq!(
            period_range("last_month", d).unwrap(),
            (ymd(2026, 10, 1), ymd(2026, 10, 31))
        );
        assert_eq!(
            period_range("last_7_days", d).unwrap(),
            (ymd(2026, 11, 18), d)
        );
        assert_eq!(period_range("fortnight", d).unwrap_err().field, "period");
    }
}
