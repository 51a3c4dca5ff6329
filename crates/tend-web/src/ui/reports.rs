//! /reports: ticket metrics for supervisors and admins — a period picker, the numbers with
//! their definitions, the previous period beside them, SVG charts drawn on the server (with
//! text tables), and the same report as CSV. Numbers come from the one report engine the
//! API uses (`api::reports::report`); each table cell carries the exact value the JSON and
//! CSV give (`<data value="…">`).

use super::pages::{nav, Nav};
use super::{render, Session};
use crate::api::reports::{csv_response, parse_query, report};
use crate::charts::{bar_chart, heatmap, line_chart, stacked_bar_chart, Series};
use crate::{AppError, AppState};
use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use chrono::{Datelike, Duration, NaiveDate};
use std::collections::HashMap;
use tend_core::report::{
    Dim, MetricDef, MetricGroup, Report, ReportParams, ReportRequest, ReportRow, Unit, Value,
};
use tend_core::targets::{evaluate, Evaluation, TargetDef};
use tend_store::metrics::Target;

/// The page's routes (merged into the workspace router, under its security headers).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/reports", get(page))
        .route("/reports/export.csv", get(export))
        .route("/reports/drill", get(drill_page))
        .route(
            "/assets/reports.css",
            get(|| async { super::asset("text/css", CSS) }),
        )
}

const CSS: &str = "\
.report-form{display:flex;flex-wrap:wrap;gap:.5rem 1rem;align-items:end;margin:.5rem 0 1rem}\
.report-form label{display:flex;flex-direction:column;font-size:.85rem}\
.report-form fieldset{border:1px solid #e5e7eb;padding:.25rem .5rem}\
.presets a{margin-right:.75rem}\
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(12rem,1fr));gap:.75rem;margin:1rem 0}\
.cards .card{padding:.75rem}\
.cards .value{font-size:1.6rem;font-weight:600}\
.cards .prev{font-size:.85rem;color:#4b5563}\
.cards details,.defs details{font-size:.85rem}\
.charts figure{margin:1rem 0;max-width:48rem}\
.charts figcaption{font-weight:600}\
.scroll{overflow-x:auto}\
table.report td,table.report th{padding:.25rem .5rem;text-align:right;white-space:nowrap;border-bottom:1px solid #e5e7eb}\
table.report th:first-child,table.report td:first-child{text-align:left}\
table.report tr.total td{font-weight:600}\
.notes li{color:#92400e}\
.target{font-size:.85rem;margin-top:.25rem}\
.target-on_track{color:#166534}\
.target-off_track{color:#991b1b}\
.target-no_data{color:#4b5563}";

/// The families the page shows when `metrics` is not given (the API gives all of them).
const PAGE_DEFAULT: &str = "volume,frt,resolution,fcr,csat";

/// Metrics shown as cards, if they are in the report.
const CARDS: &[&str] = &[
    "created",
    "solved",
    "backlog",
    "frt_median",
    "frt_p90",
    "full_resolution_median",
    "fcr_rate",
    "csat",
    "nps",
    "ces",
    "sla_first_reply",
    "reopen_rate",
];

pub struct Cell {
    /// The exact value (as in the CSV); empty when there is none.
    pub raw: String,
    pub text: String,
    /// Drill-down to the ticket list behind the number.
    pub link: Option<String>,
    /// A target about this number: (status key, "Target: … — on track").
    pub target: Option<(String, String)>,
}

pub struct Col {
    pub key: &'static str,
    pub label: &'static str,
    pub definition: &'static str,
}

pub struct RowView {
    pub period: String,
    pub days: String,
    /// Group values joined by `|` (ids as text, '' for none), for `data-group`.
    pub group_raw: String,
    pub group: Vec<String>,
    pub cells: Vec<Cell>,
}

pub struct CardView {
    pub key: &'static str,
    pub label: &'static str,
    pub definition: &'static str,
    pub value: Cell,
    pub previous: Cell,
    pub change: String,
    /// Targets about this total: (name, status key, "Target … : on track (improving)").
    pub targets: Vec<(String, String, String)>,
}

pub struct ChartView {
    pub caption: String,
    pub svg: String,
    pub head: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

pub struct FormView {
    pub from: String,
    pub to: String,
    pub tz: String,
    pub interval: String,
    pub group_by: String,
    pub metrics: Vec<(&'static str, bool)>,
}

#[derive(Template)]
#[template(path = "reports.html")]
struct ReportsPage {
    nav: Nav,
    form: FormView,
    dims: Vec<&'static str>,
    zones: Vec<&'static str>,
    presets: Vec<(String, String)>,
    error: Option<String>,
    report: Option<ReportView>,
}

pub struct ReportView {
    pub range: String,
    pub previous_range: String,
    pub previous_link: String,
    pub csv_link: String,
    pub api_link: String,
    pub notes: Vec<String>,
    pub cards: Vec<CardView>,
    pub group_headers: Vec<String>,
    pub columns: Vec<Col>,
    pub rows: Vec<RowView>,
    pub groups: Vec<RowView>,
    pub total: RowView,
    pub previous: RowView,
    pub charts: Vec<ChartView>,
}

fn human(unit: Unit, v: Option<Value>) -> String {
    let Some(v) = v else {
        return "—".into();
    };
    match unit {
        Unit::Seconds => tend_core::sla::format_duration(Duration::seconds(v.as_f64() as i64)),
        Unit::Percent => format!("{v} %"),
        Unit::Count | Unit::Ratio | Unit::Score => v.to_string(),
    }
}

fn cell(def: &MetricDef, v: Option<Value>) -> Cell {
    Cell {
        raw: v.map(|v| v.to_string()).unwrap_or_default(),
        text: human(def.unit, v),
        link: None,
        target: None,
    }
}

struct Names {
    groups: HashMap<i64, String>,
    agents: HashMap<i64, String>,
}

impl Names {
    fn label(&self, d: Dim, v: &Option<String>) -> String {
        let Some(v) = v else {
            return "(none)".into();
        };
        let id = v.parse::<i64>().ok();
        match (d, id) {
            (Dim::Group, Some(id)) => self
                .groups
                .get(&id)
                .cloned()
                .unwrap_or_else(|| format!("group {id}")),
            (Dim::Assignee, Some(id)) => self
                .agents
                .get(&id)
                .cloned()
                .unwrap_or_else(|| format!("agent {id}")),
            (Dim::Brand, Some(id)) => format!("brand {id}"),
            _ => v.clone(),
        }
    }
}

/// The ticket list that shows what a backlog number counts (tickets open now), when the
/// row's dimensions are ones the workspace lists can filter by.
fn backlog_link(req: &ReportRequest, row: &ReportRow) -> Option<String> {
    let f = &req.filters;
    let filtered = f.channel.is_some()
        || f.priority.is_some()
        || f.brand_id.is_some()
        || f.assignee_id.is_some()
        || f.tag.is_some()
        || f.language.is_some();
    if filtered {
        return None;
    }
    match (req.group_by.as_slice(), &row.group[..], f.group_id) {
        ([], [], None) => Some("/views/open".into()),
        ([], [], Some(g)) => Some(format!("/views/group-{g}")),
        ([Dim::Group], [Some(g)], None) => Some(format!("/views/group-{g}")),
        _ => None,
    }
}

fn row_view(r: &Report, row: &ReportRow, names: &Names, today: NaiveDate) -> RowView {
    let backlog_col = r.columns.iter().position(|c| c.key == "backlog");
    let mut cells: Vec<Cell> = r
        .columns
        .iter()
        .zip(&row.values)
        .map(|(d, v)| cell(d, *v))
        .collect();
    // Every number with a ticket list behind it links to it (same filters and period).
    for (i, c) in r.columns.iter().enumerate() {
        if cells[i].raw.is_empty() || crate::api::drill::drill_on(c.key).is_none() {
            continue;
        }
        cells[i].link = drill_link(&r.request, row, c.key);
    }
    // Only a backlog at today's end is "open now".
    if let (Some(i), true) = (backlog_col, row.last_day >= today) {
        cells[i].link = backlog_link(&r.request, row);
    }
    RowView {
        period: row.period.clone(),
        days: if row.first_day == row.last_day {
            row.first_day.to_string()
        } else {
            format!("{} – {}", row.first_day, row.last_day)
        },
        group_raw: row
            .group
            .iter()
            .map(|g| g.clone().unwrap_or_default())
            .collect::<Vec<_>>()
            .join("|"),
        group: r
            .request
            .group_by
            .iter()
            .zip(&row.group)
            .map(|(d, v)| names.label(*d, v))
            .collect(),
        cells,
    }
}

/// `/reports/drill?metric=…` for a row: its days, the report's zone and filters, and the
/// row's group values as filters (a group without a value has no list).
fn drill_link(req: &ReportRequest, row: &ReportRow, key: &str) -> Option<String> {
    let f = &req.filters;
    let mut p = ReportParams {
        from: Some(row.first_day.to_string()),
        to: Some(row.last_day.to_string()),
        tz: Some(req.tz.name().to_string()),
        channel: f.channel.map(|v| v.as_str().to_string()),
        priority: f.priority.map(|v| v.as_str().to_string()),
        group_id: f.group_id.map(|v| v.to_string()),
        brand_id: f.brand_id.map(|v| v.to_string()),
        assignee_id: f.assignee_id.map(|v| v.to_string()),
        tag: f.tag.clone(),
        language: f.language.clone(),
        ..Default::default()
    };
    let whole = (row.period == "total" || row.period == "previous")
        && row.group.iter().all(Option::is_none);
    if !whole {
        for (d, v) in req.group_by.iter().zip(&row.group) {
            let v = v.clone()?;
            match d {
                Dim::Channel => p.channel = Some(v),
                Dim::Priority => p.priority = Some(v),
                Dim::Group => p.group_id = Some(v),
                Dim::Brand => p.brand_id = Some(v),
                Dim::Assignee => p.assignee_id = Some(v),
                // The tags beyond the top ones are summed: no single list.
                Dim::Tag if v == tend_core::report::OTHER_TAGS => return None,
                Dim::Tag => p.tag = Some(v),
                Dim::Language => p.language = Some(v),
            }
        }
    }
    Some(format!("/reports/drill?metric={key}&{}", p.to_query()))
}

fn with(params: &ReportParams, from: NaiveDate, to: NaiveDate) -> String {
    let mut p = params.clone();
    p.from = Some(from.to_string());
    p.to = Some(to.to_string());
    p.to_query()
}

fn month_start(d: NaiveDate) -> NaiveDate {
    d.with_day(1).unwrap_or(d)
}

fn presets(params: &ReportParams, today: NaiveDate) -> Vec<(String, String)> {
    let this_month = month_start(today);
    let last_month_end = this_month.pred_opt().unwrap_or(this_month);
    let last_month = month_start(last_month_end);
    let year_ago = this_month
        .checked_sub_months(chrono::Months::new(11))
        .unwrap_or(this_month);
    let mut p = params.clone();
    p.interval = None;
    vec![
        (
            "Last 7 days".into(),
            with(&p, today - Duration::days(6), today),
        ),
        (
            "Last 30 days".into(),
            with(&p, today - Duration::days(29), today),
        ),
        ("This month".into(), with(&p, this_month, today)),
        ("Last month".into(), with(&p, last_month, last_month_end)),
        ("Last 12 months".into(), with(&p, year_ago, today)),
    ]
}

fn fmt_for(unit: Unit) -> impl Fn(f64) -> String {
    move |v: f64| match unit {
        Unit::Seconds => tend_core::sla::format_duration(Duration::seconds(v as i64)),
        Unit::Percent => format!("{v:.0} %"),
        _ => {
            if v.fract() == 0.0 {
                format!("{v:.0}")
            } else {
                format!("{v:.1}")
            }
        }
    }
}

fn charts(r: &Report, names: &Names, heat: Option<&[[i64; 24]; 7]>) -> Vec<ChartView> {
    let mut out = Vec::new();
    let col = |k: &str| r.columns.iter().position(|c| c.key == k);
    let mut labels: Vec<String> = Vec::new();
    for row in &r.rows {
        if labels.last() != Some(&row.period) {
            labels.push(row.period.clone());
        }
    }
    let grouped = !r.request.group_by.is_empty();
    // Created and solved per period (counts add up over groups).
    if let (Some(c), Some(s)) = (col("created"), col("solved")) {
        let sum = |i: usize| -> Vec<Option<f64>> {
            labels
                .iter()
                .map(|l| {
                    Some(
                        r.rows
                            .iter()
                            .filter(|row| &row.period == l)
                            .filter_map(|row| row.values[i].map(Value::as_f64))
                            .sum(),
                    )
                })
                .collect()
        };
        let (created, solved) = (sum(c), sum(s));
        let f = fmt_for(Unit::Count);
        out.push(ChartView {
            caption: "Tickets created and solved".into(),
            svg: line_chart(
                "ch-volume",
                "Tickets created and solved",
                &format!(
                    "Created and solves per {} from {} to {}.",
                    r.request.interval.as_str(),
                    r.request.from,
                    r.request.to
                ),
                &labels,
                &[
                    Series {
                        name: "Created".into(),
                        values: created.clone(),
                    },
                    Series {
                        name: "Solves".into(),
                        values: solved.clone(),
                    },
                ],
                &f,
            ),
            head: vec!["Period".into(), "Created".into(), "Solves".into()],
            rows: labels
                .iter()
                .enumerate()
                .map(|(i, l)| {
                    vec![
                        l.clone(),
                        f(created[i].unwrap_or(0.0)),
                        f(solved[i].unwrap_or(0.0)),
                    ]
                })
                .collect(),
        });
    }
    // First response median (and p90) per period; per group (up to 6) when grouped.
    if let Some(m) = col("frt_median") {
        let f = fmt_for(Unit::Seconds);
        let series: Vec<Series> = if grouped {
            r.groups
                .iter()
                .take(6)
                .map(|g| Series {
                    name: r
                        .request
                        .group_by
                        .iter()
                        .zip(&g.group)
                        .map(|(d, v)| names.label(*d, v))
                        .collect::<Vec<_>>()
                        .join(" / "),
                    values: labels
                        .iter()
                        .map(|l| {
                            r.rows
                                .iter()
                                .find(|row| &row.period == l && row.group == g.group)
                                .and_then(|row| row.values[m].map(Value::as_f64))
                        })
                        .collect(),
                })
                .collect()
        } else {
            let mut s = vec![Series {
                name: "Median".into(),
                values: r
                    .rows
                    .iter()
                    .map(|row| row.values[m].map(Value::as_f64))
                    .collect(),
            }];
            if let Some(p) = col("frt_p90") {
                s.push(Series {
                    name: "p90".into(),
                    values: r
                        .rows
                        .iter()
                        .map(|row| row.values[p].map(Value::as_f64))
                        .collect(),
                });
            }
            s
        };
        let mut head = vec!["Period".to_string()];
        head.extend(series.iter().map(|s| s.name.clone()));
        let rows = labels
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let mut v = vec![l.clone()];
                v.extend(series.iter().map(|s| s.values[i].map_or("—".into(), &f)));
                v
            })
            .collect();
        out.push(ChartView {
            caption: "First response time (median)".into(),
            svg: line_chart("ch-frt", "First response time", "Median first response time per period (calendar time), and the 90th percentile when not grouped.", &labels, &series, &f),
            head,
            rows,
        });
    }
    // Created per period, stacked by group (the 5 largest groups, the rest as "other").
    if let (true, Some(c)) = (grouped, col("created")) {
        let f = fmt_for(Unit::Count);
        let mut order: Vec<&ReportRow> = r.groups.iter().collect();
        order.sort_by(|a, b| {
            let v = |g: &ReportRow| g.values[c].map_or(0.0, Value::as_f64);
            v(b).total_cmp(&v(a))
        });
        let name = |g: &ReportRow| {
            r.request
                .group_by
                .iter()
                .zip(&g.group)
                .map(|(d, v)| names.label(*d, v))
                .collect::<Vec<_>>()
                .join(" / ")
        };
        let per = |keep: &dyn Fn(&ReportRow) -> bool| -> Vec<Option<f64>> {
            labels
                .iter()
                .map(|l| {
                    Some(
                        r.rows
                            .iter()
                            .filter(|row| &row.period == l && keep(row))
                            .filter_map(|row| row.values[c].map(Value::as_f64))
                            .sum(),
                    )
                })
                .collect()
        };
        let top: Vec<&ReportRow> = order.iter().take(5).copied().collect();
        let mut series: Vec<Series> = top
            .iter()
            .map(|g| Series {
                name: name(g),
                values: per(&|row: &ReportRow| row.group == g.group),
            })
            .collect();
        if order.len() > 5 {
            series.push(Series {
                name: "other".into(),
                values: per(&|row: &ReportRow| !top.iter().any(|g| g.group == row.group)),
            });
        }
        let mut head = vec!["Period".to_string()];
        head.extend(series.iter().map(|s| s.name.clone()));
        let rows = labels
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let mut v = vec![l.clone()];
                v.extend(series.iter().map(|s| f(s.values[i].unwrap_or(0.0))));
                v
            })
            .collect();
        out.push(ChartView {
            caption: "Created per period by group".into(),
            svg: stacked_bar_chart(
                "ch-stacked",
                "Tickets created per period by group",
                "Tickets created in each period, one stacked segment per group (the five largest; the rest as other).",
                &labels,
                &series,
                &f,
            ),
            head,
            rows,
        });
    }
    // Created per group over the whole range.
    if let (true, Some(c)) = (grouped, col("created")) {
        let f = fmt_for(Unit::Count);
        let labels: Vec<String> = r
            .groups
            .iter()
            .map(|g| {
                r.request
                    .group_by
                    .iter()
                    .zip(&g.group)
                    .map(|(d, v)| names.label(*d, v))
                    .collect::<Vec<_>>()
                    .join(" / ")
            })
            .collect();
        let values: Vec<f64> = r
            .groups
            .iter()
            .map(|g| g.values[c].map_or(0.0, Value::as_f64))
            .collect();
        out.push(ChartView {
            caption: "Created per group".into(),
            svg: bar_chart(
                "ch-groups",
                "Tickets created per group",
                "Tickets created over the whole range, one bar per group.",
                &labels,
                &values,
                &f,
            ),
            head: vec!["Group".into(), "Created".into()],
            rows: labels
                .iter()
                .zip(&values)
                .map(|(l, v)| vec![l.clone(), f(*v)])
                .collect(),
        });
    }
    if let Some(m) = heat {
        const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
        let mut head = vec!["Day".to_string()];
        head.extend((0..24).map(|h| format!("{h:02}")));
        out.push(ChartView {
            caption: "Tickets created by weekday and hour".into(),
            svg: heatmap("ch-heat", "Tickets created by weekday and hour", &format!("Created tickets (every channel and group) by local weekday and hour in {}, over the last {} days of the range at most.", r.request.tz.name(), tend_core::report::HEATMAP_MAX_DAYS), m),
            head,
            rows: m.iter().enumerate().map(|(d, row)| {
                let mut v = vec![DAYS[d].to_string()];
                v.extend(row.iter().map(|n| n.to_string()));
                v
            }).collect(),
        });
    }
    out
}

const ZONES: &[&str] = &[
    "UTC",
    "Europe/London",
    "Europe/Berlin",
    "Europe/Paris",
    "Europe/Madrid",
    "Europe/Amsterdam",
    "America/New_York",
    "America/Chicago",
    "America/Los_Angeles",
    "Asia/Tokyo",
    "Australia/Sydney",
];

fn form_view(p: &ReportParams, req: Option<&ReportRequest>) -> FormView {
    let chosen: Vec<MetricGroup> = req.map(|r| r.metrics.clone()).unwrap_or_default();
    FormView {
        from: req
            .map(|r| r.from.to_string())
            .or(p.from.clone())
            .unwrap_or_default(),
        to: req
            .map(|r| r.to.to_string())
            .or(p.to.clone())
            .unwrap_or_default(),
        tz: p.tz.clone().unwrap_or_else(|| "UTC".into()),
        interval: p.interval.clone().unwrap_or_default(),
        group_by: p.group_by.clone().unwrap_or_default(),
        metrics: MetricGroup::ALL
            .iter()
            .map(|g| (g.as_str(), chosen.contains(g)))
            .collect(),
    }
}

fn page_params(raw: Option<&str>) -> Result<ReportParams, AppError> {
    let (mut p, _) = parse_query(raw)?;
    if p.metrics.is_none() {
        p.metrics = Some(PAGE_DEFAULT.into());
    }
    Ok(p)
}

pub async fn page(
    State(s): State<AppState>,
    sess: Session,
    RawQuery(q): RawQuery,
) -> Result<Response, AppError> {
    if !sess.viewer.sees_all() {
        return Err(AppError::Forbidden(
            "reports are for supervisors and admins".into(),
        ));
    }
    let nav = nav(&s, &sess, "/reports").await?;
    let dims: Vec<&'static str> = Dim::ALL.iter().map(|d| d.as_str()).collect();
    let params = match page_params(q.as_deref()) {
        Ok(p) => p,
        Err(e) => {
            let page = ReportsPage {
                nav,
                form: form_view(&ReportParams::default(), None),
                dims,
                zones: ZONES.to_vec(),
                presets: vec![],
                error: Some(e.to_string()),
                report: None,
            };
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)).into_response());
        }
    };
    let req = ReportRequest::parse(&params, s.now());
    let today = match &req {
        Ok(r) => s.now().with_timezone(&r.tz).date_naive(),
        Err(_) => s.now().date_naive(),
    };
    let result = match &req {
        Ok(_) => report(&s, &params).await,
        Err(e) => Err(AppError::from(e.clone())),
    };
    let r = match result {
        Ok(r) => r,
        Err(e @ (AppError::Invalid { .. } | AppError::BadRequest(_))) => {
            let page = ReportsPage {
                nav,
                form: form_view(&params, None),
                dims,
                zones: ZONES.to_vec(),
                presets: presets(&params, today),
                error: Some(e.to_string()),
                report: None,
            };
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)).into_response());
        }
        Err(e) => return Err(e),
    };
    let names = Names {
        groups: s
            .store
            .list_groups()
            .await?
            .into_iter()
            .map(|g| (g.id, g.name))
            .collect(),
        agents: s
            .store
            .list_agents()
            .await?
            .into_iter()
            .map(|a| (a.id, a.name))
            .collect(),
    };
    let heat = match (
        r.request.heatmap_range(),
        r.columns.iter().any(|c| c.key == "created"),
    ) {
        (Ok((a, b)), true) => {
            let hours = s.store.metric_created_by_hour(a, b).await?;
            Some(tend_core::report::heatmap(r.request.tz, &hours))
        }
        _ => None,
    };
    let targets: Vec<Target> = s
        .store
        .list_targets()
        .await?
        .into_iter()
        .filter(|t| t.def.active)
        .collect();
    let change = r.change();
    let cards = CARDS
        .iter()
        .filter_map(|k| r.columns.iter().position(|c| c.key == *k))
        .map(|i| {
            let d = r.columns[i];
            let mut value = cell(d, r.total.values[i]);
            if d.key == "backlog" && r.total.last_day >= today {
                value.link = backlog_link(&r.request, &r.total);
            }
            if value.link.is_none()
                && !value.raw.is_empty()
                && crate::api::drill::drill_on(d.key).is_some()
            {
                value.link = drill_link(&r.request, &r.total, d.key);
            }
            CardView {
                key: d.key,
                label: d.label,
                definition: d.definition,
                value,
                previous: cell(d, r.previous.values[i]),
                targets: targets
                    .iter()
                    .filter(|t| t.def.column().key == d.key && t.def.scope.is(&r.request.filters))
                    .map(|t| {
                        let e = evaluate(&t.def, r.total.values[i], r.previous.values[i]);
                        (
                            t.def.name.clone(),
                            e.status.as_str().to_string(),
                            badge(&t.def, &e),
                        )
                    })
                    .collect(),
                change: match change[i] {
                    None => String::new(),
                    Some(c) => {
                        let sign = if c.as_f64() > 0.0 { "+" } else { "" };
                        match d.unit {
                            Unit::Seconds => format!("{sign}{}", human(d.unit, Some(c))),
                            Unit::Percent => format!("{sign}{c} pts"),
                            _ => format!("{sign}{c}"),
                        }
                    }
                },
            }
        })
        .collect();
    let (pf, pt) = r
        .request
        .previous()
        .unwrap_or((r.request.from, r.request.to));
    let mut api_params = params.clone();
    let api_link = format!("/api/v1/reports/tickets?{}", api_params.to_query());
    api_params.from = Some(r.request.from.to_string());
    api_params.to = Some(r.request.to.to_string());
    let view = ReportView {
        range: format!(
            "{} – {} ({}, by {})",
            r.request.from,
            r.request.to,
            r.request.tz.name(),
            r.request.interval.as_str()
        ),
        previous_range: format!("{pf} – {pt}"),
        previous_link: format!("/reports?{}", with(&params, pf, pt)),
        csv_link: format!("/reports/export.csv?{}", api_params.to_query()),
        api_link,
        notes: r.notes.clone(),
        cards,
        group_headers: r
            .request
            .group_by
            .iter()
            .map(|d| d.as_str().to_string())
            .collect(),
        columns: r
            .columns
            .iter()
            .map(|c| Col {
                key: c.key,
                label: c.label,
                definition: c.definition,
            })
            .collect(),
        rows: r
            .rows
            .iter()
            .map(|row| row_view(&r, row, &names, today))
            .collect(),
        groups: r
            .groups
            .iter()
            .map(|row| {
                let mut v = row_view(&r, row, &names, today);
                group_targets(&r, row, &targets, &mut v);
                v
            })
            .collect(),
        total: row_view(&r, &r.total, &names, today),
        previous: row_view(&r, &r.previous, &names, today),
        charts: charts(&r, &names, heat.as_ref()),
    };
    let page = ReportsPage {
        nav,
        form: form_view(&params, Some(&r.request)),
        dims,
        zones: ZONES.to_vec(),
        presets: presets(&params, today),
        error: None,
        report: Some(view),
    };
    Ok(render(&page))
}

/// "Target First response median < 1 h: on track (improving)".
fn badge(def: &TargetDef, e: &Evaluation) -> String {
    let mut s = format!("Target {}: {}", def.describe(), e.status.label());
    if let Some(t) = e.trend {
        s.push_str(&format!(" ({} vs the previous period)", t.as_str()));
    }
    s
}

/// Marks the per-group totals that a target's scope names (reports grouped by exactly the
/// scope's dimensions, without filters): the same number the target status API reads.
fn group_targets(r: &Report, row: &ReportRow, targets: &[Target], v: &mut RowView) {
    if !r.request.filters.is_empty() {
        return;
    }
    for t in targets {
        if t.def.scope.dims() != r.request.group_by || t.def.scope.key() != row.group {
            continue;
        }
        if let Some(i) = r.columns.iter().position(|c| c.key == t.def.column().key) {
            let e = evaluate(&t.def, row.values[i], None);
            v.cells[i].target = Some((
                e.status.as_str().to_string(),
                format!("{} — {}", t.def.name, badge(&t.def, &e)),
            ));
        }
    }
}

#[derive(Template)]
#[template(path = "reports_drill.html")]
struct DrillPage {
    nav: Nav,
    metric: String,
    label: String,
    range: String,
    rows: Vec<(i64, String, String, String)>,
    next: Option<String>,
}

/// `/reports/drill`: the tickets behind a number (same query as `GET /api/v1/reports/drill`).
pub async fn drill_page(
    State(s): State<AppState>,
    sess: Session,
    RawQuery(q): RawQuery,
) -> Result<Response, AppError> {
    let d = crate::api::drill::drill(&s, &sess.viewer, q.as_deref()).await?;
    let label =
        tend_core::report::metric(&d.metric).map_or(d.metric.clone(), |m| m.label.to_string());
    let next = d.next_cursor.as_ref().map(|c| {
        format!(
            "/reports/drill?metric={}&cursor={}&{}",
            form_urlencoded::byte_serialize(d.metric.as_bytes()).collect::<String>(),
            form_urlencoded::byte_serialize(c.as_bytes()).collect::<String>(),
            d.params.to_query()
        )
    });
    let page = DrillPage {
        nav: nav(&s, &sess, "/reports").await?,
        label,
        range: format!(
            "{} – {} ({})",
            d.params.from.clone().unwrap_or_default(),
            d.params.to.clone().unwrap_or_default(),
            d.params.tz.clone().unwrap_or_else(|| "UTC".into())
        ),
        metric: d.metric,
        rows: d
            .tickets
            .iter()
            .map(|(t, at)| {
                (
                    t.id,
                    t.subject.clone(),
                    t.status.as_str().to_string(),
                    at.format("%Y-%m-%d %H:%M UTC").to_string(),
                )
            })
            .collect(),
        next,
    };
    Ok(render(&page))
}

/// The page's CSV download (same engine and query as `GET /api/v1/reports/tickets?format=csv`).
pub async fn export(
    State(s): State<AppState>,
    sess: Session,
    RawQuery(q): RawQuery,
) -> Result<Response, AppError> {
    if !sess.viewer.sees_all() {
        return Err(AppError::Forbidden(
            "reports are for supervisors and admins".into(),
        ));
    }
    let params = page_params(q.as_deref())?;
    let r = report(&s, &params).await?;
    Ok(csv_response(&r))
}
