//! /admin/sla (issue 5): the SLA configuration as forms — the default and named business
//! calendars in the line format of `CalendarSpec::parse` (errors shown beside the calendar
//! with their line number), iCalendar holiday import, policies (conditions, a target per
//! metric in business or calendar time, pause statuses), warning minutes — and a preview of
//! what a ticket's clock would say under the configuration in the form, before saving.
//! The escalation levels after a breach are edited in the same form: one row per level
//! (minutes after the breach; notify the assignee, the group's lead or a named agent; move to
//! another group; raise the priority), kept in ascending order of minutes, a refused level's
//! error shown beside its field.
//! Admins only; every form is CSRF-checked; saving goes through `api::sla::save` (the same
//! checks and audit as `PUT /api/v1/sla`).

use super::pages::{nav, Nav};
use super::{csrf_ok, forbidden_csrf, render, Session};
use crate::api::sla::{self, SlaConfig};
use crate::{AppError, AppState};
use askama::Template;
use axum::body::Bytes;
use axum::extract::{Multipart, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use std::collections::BTreeMap;
use tend_core::escalation::{Escalation, Level};
use tend_core::sla::calendar::SpecLines;
use tend_core::sla::{CalendarSpec, Conditions, Metric, NamedCalendar, Policy, Target};
use tend_core::{Channel, Invalid, Priority, Status, Viewer};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/sla", get(page).post(submit))
        .route("/admin/sla/holidays", post(import_holidays))
}

pub struct Opt {
    pub value: String,
    pub label: String,
    pub checked: bool,
}

pub struct CalRow {
    pub idx: usize,
    pub name: String,
    pub text: String,
    pub error: Option<String>,
    pub groups: Vec<Opt>,
    pub brands: Vec<Opt>,
}

pub struct TargetRow {
    pub metric: &'static str,
    pub label: &'static str,
    pub minutes: String,
    pub calendar_time: bool,
    pub pauses: Vec<Opt>,
}

pub struct PolicyRow {
    pub idx: usize,
    pub name: String,
    pub calendars: Vec<Opt>,
    pub priorities: Vec<Opt>,
    pub channels: Vec<Opt>,
    pub groups: Vec<Opt>,
    pub tags_all: String,
    pub tags_any: String,
    pub tags_none: String,
    /// Conditions the form does not edit (tier, fields), kept as JSON.
    pub extra: String,
    pub targets: Vec<TargetRow>,
}

/// One escalation level as the form shows it (the last row is blank, for a new level).
pub struct LevelRow {
    pub idx: usize,
    /// Its number (1-based), as the timeline names it.
    pub number: usize,
    pub after: String,
    pub notify_assignee: bool,
    pub notify_group_lead: bool,
    pub raise_priority: bool,
    /// "nobody" first, then the agents.
    pub agents: Vec<Opt>,
    /// "stay in its group" first, then the groups.
    pub groups: Vec<Opt>,
    pub blank: bool,
    /// The refused input (`after`, `agent`, `group` or `level` for the whole row) and why.
    pub error: Option<(&'static str, String)>,
}

impl LevelRow {
    /// The error of one input of this row (`after`, `agent`, `group`, `level`).
    pub fn error_of(&self, input: &str) -> Option<&str> {
        self.error
            .as_ref()
            .filter(|(f, _)| *f == input)
            .map(|(_, m)| m.as_str())
    }
}

pub struct Preview {
    pub ticket_id: i64,
    pub policy: String,
    pub calendar: String,
    pub lines: Vec<String>,
}

#[derive(Template)]
#[template(path = "admin_sla.html")]
struct Page {
    nav: Nav,
    default_text: String,
    default_error: Option<String>,
    calendars: Vec<CalRow>,
    policies: Vec<PolicyRow>,
    warn: String,
    error: Option<String>,
    notice: Option<String>,
    ticket: String,
    preview: Option<Preview>,
    preview_note: Option<String>,
    calendar_names: Vec<String>,
    ical_error: Option<String>,
    levels: Vec<LevelRow>,
    escalation_error: Option<String>,
}

fn opts<T: Copy + PartialEq>(all: &[T], name: impl Fn(T) -> String, on: &[T]) -> Vec<Opt> {
    all.iter()
        .map(|&x| Opt {
            value: name(x),
            label: name(x).replace('_', " "),
            checked: on.contains(&x),
        })
        .collect()
}

/// What the page shows, from a configuration (stored or as submitted).
struct Shown {
    cfg: SlaConfig,
    /// Texts as typed (when re-showing a refused form): default first, then named.
    texts: Option<Vec<String>>,
    /// The escalation levels' minutes as typed (when re-showing a refused form).
    afters: Option<Vec<String>>,
}

async fn render_page(
    s: &AppState,
    v: &Viewer,
    sess: &Session,
    shown: Shown,
    errors: PageErrors,
    preview: Option<Preview>,
    ticket: String,
) -> Result<Response, AppError> {
    let groups = s.store.list_groups().await?;
    let brands = s.store.list_brands(true).await?;
    let cfg = &shown.cfg;
    let text = |i: usize, spec: &CalendarSpec| {
        shown
            .texts
            .as_ref()
            .and_then(|t| t.get(i).cloned())
            .unwrap_or_else(|| spec.to_text())
    };
    let group_opts = |on: &[i64]| -> Vec<Opt> {
        groups
            .iter()
            .map(|g| Opt {
                value: g.id.to_string(),
                label: g.name.clone(),
                checked: on.contains(&g.id),
            })
            .collect()
    };
    let mut calendars: Vec<CalRow> = cfg
        .calendars
        .iter()
        .enumerate()
        .map(|(i, c)| CalRow {
            idx: i,
            name: c.name.clone(),
            text: text(i + 1, &c.spec),
            error: errors.calendars.get(&i).cloned(),
            groups: group_opts(&c.group_ids),
            brands: brands
                .iter()
                .map(|b| Opt {
                    value: b.id.to_string(),
                    label: b.name.clone(),
                    checked: c.brand_ids.contains(&b.id),
                })
                .collect(),
        })
        .collect();
    let blank = calendars.len();
    calendars.push(CalRow {
        idx: blank,
        name: String::new(),
        text: String::new(),
        error: errors.calendars.get(&blank).cloned(),
        groups: group_opts(&[]),
        brands: brands
            .iter()
            .map(|b| Opt {
                value: b.id.to_string(),
                label: b.name.clone(),
                checked: false,
            })
            .collect(),
    });
    let mut names = vec!["default".to_string()];
    names.extend(cfg.calendars.iter().map(|c| c.name.clone()));
    let mut rows: Vec<PolicyRow> = cfg
        .policies
        .iter()
        .cloned()
        .chain(std::iter::once(Policy {
            name: String::new(),
            conditions: Conditions::default(),
            targets: vec![],
            calendar: None,
        }))
        .enumerate()
        .map(|(i, p)| policy_row(i, &p, &names, &group_opts(&p.conditions.group_id)))
        .collect();
    if let Some(last) = rows.last_mut() {
        // The blank row starts with a first-reply target so the form shows how targets look.
        last.targets[0].minutes.clear();
    }
    let agents = s.store.list_agents().await?;
    let levels = level_rows(
        &cfg.escalation,
        shown.afters.as_deref(),
        &errors.levels,
        &agents,
        &groups,
    );
    let default_spec = &cfg.calendar;
    let page = Page {
        nav: nav(s, sess, "/admin/sla").await?,
        default_text: text(0, default_spec),
        default_error: errors.default,
        calendars,
        policies: rows,
        warn: cfg.warn_before_minutes.to_string(),
        error: errors.general,
        notice: errors.notice,
        ticket,
        preview,
        preview_note: errors.preview,
        calendar_names: names,
        ical_error: errors.ical,
        levels,
        escalation_error: errors.escalation,
    };
    let _ = v;
    Ok(render(&page))
}

fn policy_row(i: usize, p: &Policy, names: &[String], groups: &[Opt]) -> PolicyRow {
    let c = &p.conditions;
    let extra = serde_json::json!({"tier": c.tier, "fields": c.fields});
    let mut cal_opts = vec![Opt {
        value: String::new(),
        label: "group’s, brand’s or default".into(),
        checked: p.calendar.is_none(),
    }];
    cal_opts.extend(names.iter().map(|n| {
        Opt {
            value: n.clone(),
            label: n.clone(),
            checked: p
                .calendar
                .as_deref()
                .is_some_and(|c| c.eq_ignore_ascii_case(n)),
        }
    }));
    PolicyRow {
        idx: i,
        name: p.name.clone(),
        calendars: cal_opts,
        priorities: opts(Priority::ALL, |x| x.to_string(), &c.priority),
        channels: opts(Channel::ALL, |x| x.to_string(), &c.channel),
        groups: groups
            .iter()
            .map(|g| Opt {
                value: g.value.clone(),
                label: g.label.clone(),
                checked: g.checked,
            })
            .collect(),
        tags_all: c.tags_all.join(" "),
        tags_any: c.tags_any.join(" "),
        tags_none: c.tags_none.join(" "),
        extra: extra.to_string(),
        targets: Metric::ALL
            .iter()
            .map(|&m| {
                let t = p.target(m);
                let pause: Vec<Status> = match t.and_then(|t| t.pause_on.clone()) {
                    Some(list) => list,
                    None => m.default_pause().to_vec(),
                };
                TargetRow {
                    metric: m.as_str(),
                    label: m.label(),
                    minutes: t.map(|t| t.minutes.to_string()).unwrap_or_default(),
                    calendar_time: t.is_some_and(|t| !t.business_hours),
                    pauses: opts(
                        &[Status::New, Status::Open, Status::Pending, Status::OnHold],
                        |x| x.to_string(),
                        &pause,
                    ),
                }
            })
            .collect(),
    }
}

/// The rows of the escalation section: the levels, then a blank one (unless at the limit).
fn level_rows(
    e: &Escalation,
    afters: Option<&[String]>,
    errors: &BTreeMap<usize, (&'static str, String)>,
    agents: &[tend_store::Agent],
    groups: &[tend_store::Group],
) -> Vec<LevelRow> {
    let blank = Level::default();
    let n = e.levels.len();
    let with_blank = n < tend_core::escalation::MAX_LEVELS;
    e.levels
        .iter()
        .chain(with_blank.then_some(&blank))
        .enumerate()
        .map(|(i, l)| {
            let is_blank = i == n;
            let mut agent_opts = vec![Opt {
                value: String::new(),
                label: "nobody else".into(),
                checked: l.notify_agent.is_none(),
            }];
            agent_opts.extend(
                agents
                    .iter()
                    .filter(|a| a.id > 0 && (a.active || l.notify_agent == Some(a.id)))
                    .map(|a| Opt {
                        value: a.id.to_string(),
                        label: if a.active {
                            format!("{} <{}>", a.name, a.email)
                        } else {
                            format!("{} <{}> (deactivated: not mailed)", a.name, a.email)
                        },
                        checked: l.notify_agent == Some(a.id),
                    }),
            );
            let mut group_opts = vec![Opt {
                value: String::new(),
                label: "stay in its group".into(),
                checked: l.reassign_group.is_none(),
            }];
            group_opts.extend(groups.iter().map(|g| Opt {
                value: g.id.to_string(),
                label: g.name.clone(),
                checked: l.reassign_group == Some(g.id),
            }));
            LevelRow {
                idx: i,
                number: i + 1,
                after: afters.and_then(|a| a.get(i).cloned()).unwrap_or_else(|| {
                    if is_blank {
                        String::new()
                    } else {
                        l.after_minutes.to_string()
                    }
                }),
                notify_assignee: l.notify_assignee,
                notify_group_lead: l.notify_group_lead,
                raise_priority: l.raise_priority,
                agents: agent_opts,
                groups: group_opts,
                blank: is_blank,
                error: errors.get(&i).cloned(),
            }
        })
        .collect()
}

#[derive(Default)]
struct PageErrors {
    default: Option<String>,
    calendars: BTreeMap<usize, String>,
    general: Option<String>,
    notice: Option<String>,
    preview: Option<String>,
    ical: Option<String>,
    /// Escalation errors per level row: (input, message).
    levels: BTreeMap<usize, (&'static str, String)>,
    /// An error of the escalation list as a whole (too many levels).
    escalation: Option<String>,
}

impl PageErrors {
    /// Whether a calendar or a level was refused before validation.
    fn any_marked(&self) -> bool {
        self.default.is_some() || !self.calendars.is_empty() || !self.levels.is_empty()
    }
}

async fn stored(s: &AppState) -> Result<SlaConfig, AppError> {
    Ok(match sla::load(s).await? {
        Some((cfg, _)) => cfg,
        None => SlaConfig {
            calendar: CalendarSpec::parse("zone UTC\nmon-fri 09:00-17:00")
                .map(|(c, _)| c)
                .map_err(|e| AppError::Internal(e.to_string()))?,
            calendars: vec![],
            policies: vec![],
            warn_before_minutes: 30,
            escalation: Default::default(),
        },
    })
}

#[derive(Deserialize)]
pub struct PageQuery {
    notice: Option<String>,
}

/// GET /admin/sla
pub async fn page(
    State(s): State<AppState>,
    sess: Session,
    Query(q): Query<PageQuery>,
) -> Result<Response, AppError> {
    crate::extract::require_admin_for(&sess.viewer, "configure SLAs")?;
    let cfg = stored(&s).await?;
    let errors = PageErrors {
        notice: match q.notice.as_deref() {
            Some("saved") => Some("Saved. Open tickets' clocks are being recomputed.".into()),
            Some("holidays") => Some("Holidays imported and saved.".into()),
            _ => None,
        },
        ..Default::default()
    };
    let v = sess.viewer.clone();
    render_page(
        &s,
        &v,
        &sess,
        Shown {
            cfg,
            texts: None,
            afters: None,
        },
        errors,
        None,
        String::new(),
    )
    .await
}

/// The submitted form: every value of every key, in order.
struct FormData(Vec<(String, String)>);

impl FormData {
    fn get(&self, k: &str) -> Option<&str> {
        self.0.iter().find(|(a, _)| a == k).map(|(_, v)| v.as_str())
    }
    fn text(&self, k: &str) -> String {
        self.get(k).unwrap_or("").to_string()
    }
    fn all(&self, k: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(a, _)| a == k)
            .map(|(_, v)| v.as_str())
            .collect()
    }
    /// Indexes `i` of keys `{prefix}{i}.…`, sorted.
    fn indexes(&self, prefix: &str) -> Vec<usize> {
        let mut out: Vec<usize> = self
            .0
            .iter()
            .filter_map(|(k, _)| k.strip_prefix(prefix)?.split('.').next()?.parse().ok())
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }
}

fn words(s: &str) -> Vec<String> {
    s.split(|c: char| c.is_whitespace() || c == ',')
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

fn ids(list: Vec<&str>) -> Vec<i64> {
    list.iter().filter_map(|v| v.parse().ok()).collect()
}

/// Reads the escalation rows (`lvl{i}.…`) into levels in ascending order of minutes, with
/// the minutes as typed. A row left blank is skipped; minutes that are not a whole number
/// are refused on their field (then the rows stay in the order typed).
fn read_levels(f: &FormData, errors: &mut PageErrors) -> (Escalation, Vec<String>) {
    let mut rows: Vec<(Level, String)> = Vec::new();
    let mut bad: BTreeMap<usize, (&'static str, String)> = BTreeMap::new();
    for i in f.indexes("lvl") {
        let k = |x: &str| format!("lvl{i}.{x}");
        let after = f.text(&k("after")).trim().to_string();
        let id = |x: &str| f.get(&k(x)).and_then(|v| v.parse::<i64>().ok());
        let level = Level {
            after_minutes: 0,
            notify_assignee: f.get(&k("assignee")).is_some(),
            notify_group_lead: f.get(&k("lead")).is_some(),
            notify_agent: id("agent"),
            reassign_group: id("group"),
            raise_priority: f.get(&k("priority")).is_some(),
        };
        let acts = level != Level::default();
        if f.get(&k("delete")).is_some() || (after.is_empty() && !acts) {
            continue;
        }
        let row = rows.len();
        let after_minutes = match after.parse::<i64>() {
            Ok(m) => m,
            Err(_) => {
                let msg = if after.is_empty() {
                    "enter the minutes after the breach (0: at the breach)".to_string()
                } else {
                    format!(
                        "'{}' is not a whole number of minutes",
                        tend_core::truncate_for_message(&after)
                    )
                };
                bad.insert(row, ("after", msg));
                0
            }
        };
        rows.push((
            Level {
                after_minutes,
                ..level
            },
            after,
        ));
    }
    if bad.is_empty() {
        // Stable: equal minutes keep their order and are refused by the validation.
        rows.sort_by_key(|(l, _)| l.after_minutes);
    }
    errors.levels.extend(bad);
    let (levels, afters) = rows.into_iter().unzip();
    (Escalation { levels }, afters)
}

/// Reads the form into a configuration. Calendar texts that do not parse give an error on
/// their field; `lines` maps validation errors to lines.
fn read_form(
    f: &FormData,
    base: &SlaConfig,
    errors: &mut PageErrors,
) -> (SlaConfig, Vec<String>, Vec<SpecLines>, Vec<String>) {
    let mut texts = vec![f.text("calendar")];
    let mut lines = Vec::new();
    let parse = |text: &str| CalendarSpec::parse(text);
    let default = match parse(&texts[0]) {
        Ok((spec, l)) => {
            lines.push(l);
            spec
        }
        Err(e) => {
            errors.default = Some(e.to_string());
            lines.push(SpecLines::default());
            base.calendar.clone()
        }
    };
    let mut calendars = Vec::new();
    for i in f.indexes("c") {
        let k = |x: &str| format!("c{i}.{x}");
        let name = f.text(&k("name")).trim().to_string();
        let text = f.text(&k("text"));
        if f.get(&k("delete")).is_some() || (name.is_empty() && text.trim().is_empty()) {
            continue;
        }
        let row = calendars.len();
        texts.push(text.clone());
        let spec = match parse(&text) {
            Ok((spec, l)) => {
                lines.push(l);
                spec
            }
            Err(e) => {
                errors.calendars.insert(row, e.to_string());
                lines.push(SpecLines::default());
                CalendarSpec {
                    time_zone: "UTC".into(),
                    hours: vec![],
                    holidays: vec![],
                }
            }
        };
        calendars.push(NamedCalendar {
            name,
            spec,
            group_ids: ids(f.all(&k("group"))),
            brand_ids: ids(f.all(&k("brand"))),
        });
    }
    let mut policies = Vec::new();
    for i in f.indexes("p") {
        let k = |x: &str| format!("p{i}.{x}");
        let name = f.text(&k("name")).trim().to_string();
        if f.get(&k("delete")).is_some() || name.is_empty() {
            continue;
        }
        let extra: serde_json::Value =
            serde_json::from_str(&f.text(&k("extra"))).unwrap_or_default();
        let conditions = Conditions {
            priority: f
                .all(&k("priority"))
                .iter()
                .filter_map(|v| v.parse().ok())
                .collect(),
            channel: f
                .all(&k("channel"))
                .iter()
                .filter_map(|v| v.parse().ok())
                .collect(),
            group_id: ids(f.all(&k("group"))),
            tier: serde_json::from_value(extra["tier"].clone()).unwrap_or_default(),
            tags_all: words(&f.text(&k("tags_all"))),
            tags_any: words(&f.text(&k("tags_any"))),
            tags_none: words(&f.text(&k("tags_none"))),
            fields: serde_json::from_value(extra["fields"].clone()).unwrap_or_default(),
        };
        let mut targets = Vec::new();
        for &m in Metric::ALL {
            let mk = |x: &str| k(&format!("{}.{x}", m.as_str()));
            let minutes = f.text(&mk("minutes"));
            if minutes.trim().is_empty() {
                continue;
            }
            let minutes = minutes.trim().parse::<i64>().unwrap_or(0);
            let pause: Vec<Status> = f
                .all(&mk("pause"))
                .iter()
                .filter_map(|v| v.parse().ok())
                .collect();
            let mut default_pause = m.default_pause().to_vec();
            default_pause.sort_by_key(|s| s.to_string());
            let mut sorted = pause.clone();
            sorted.sort_by_key(|s| s.to_string());
            targets.push(Target {
                metric: m,
                minutes,
                business_hours: f.get(&mk("time")) != Some("calendar"),
                pause_on: (sorted != default_pause).then_some(pause),
            });
        }
        let calendar = f.text(&k("calendar"));
        policies.push(Policy {
            name,
            conditions,
            targets,
            calendar: (!calendar.is_empty()).then_some(calendar),
        });
    }
    // A form from before the escalation section (no `lvl…` keys at all) keeps the stored
    // levels; otherwise the rows are the levels (none ticked: no escalation).
    let (escalation, afters) = if f.get("escalation") == Some("1") {
        read_levels(f, errors)
    } else {
        let e = base.escalation.clone();
        let afters = e
            .levels
            .iter()
            .map(|l| l.after_minutes.to_string())
            .collect();
        (e, afters)
    };
    let cfg = SlaConfig {
        calendar: default,
        calendars,
        policies,
        warn_before_minutes: f.text("warn").trim().parse().unwrap_or(-1),
        escalation,
    };
    (cfg, texts, lines, afters)
}

/// Puts a validation error beside its calendar (with the line number) or at the top.
fn place(e: Invalid, lines: &[SpecLines], errors: &mut PageErrors) {
    if let Some(rest) = e.field.strip_prefix("escalation.levels") {
        // `escalation.levels[2].after_minutes` → row 2's minutes; `escalation.levels` → the
        // section.
        let row = rest
            .strip_prefix('[')
            .and_then(|r| r.split_once(']'))
            .and_then(|(i, tail)| Some((i.parse::<usize>().ok()?, tail)));
        match row {
            Some((i, tail)) => {
                let input = match tail.trim_start_matches('.') {
                    "after_minutes" => "after",
                    "notify_agent" => "agent",
                    "reassign_group" => "group",
                    _ => "level",
                };
                errors.levels.insert(i, (input, e.message));
            }
            None => errors.escalation = Some(e.message),
        }
        return;
    }
    let at_line = |rest: &str, l: &SpecLines| {
        let e = l.locate(Invalid::new(rest.to_string(), e.message.clone()));
        format!("{}: {}", e.field, e.message)
    };
    if let Some(rest) = e.field.strip_prefix("calendar.") {
        errors.default = Some(at_line(rest, &lines[0]));
        return;
    }
    if let Some(rest) = e.field.strip_prefix("calendars[") {
        if let Some((i, tail)) = rest.split_once(']') {
            if let Ok(i) = i.parse::<usize>() {
                let msg = match tail.strip_prefix(".spec.") {
                    Some(f) => at_line(f, lines.get(i + 1).unwrap_or(&SpecLines::default())),
                    None => format!("{}: {}", tail.trim_start_matches('.'), e.message),
                };
                errors.calendars.insert(i, msg);
                return;
            }
        }
    }
    errors.general = Some(format!("{}: {}", e.field, e.message));
}

/// A unit enum's JSON name (`active`, `group`).
fn word<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// POST /admin/sla: save, or preview a ticket's clock under the submitted configuration.
pub async fn submit(
    State(s): State<AppState>,
    sess: Session,
    body: Bytes,
) -> Result<Response, AppError> {
    crate::extract::require_admin_for(&sess.viewer, "configure SLAs")?;
    let f = FormData(
        form_urlencoded::parse(&body)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect(),
    );
    if !csrf_ok(&sess.token, f.get("csrf").unwrap_or("")) {
        return Ok(forbidden_csrf());
    }
    let base = stored(&s).await?;
    let mut errors = PageErrors::default();
    let (cfg, texts, lines, afters) = read_form(&f, &base, &mut errors);
    let ticket = f.text("ticket").trim().to_string();
    let v = sess.viewer.clone();
    let parse_failed = errors.any_marked();
    let checked = if parse_failed {
        None
    } else {
        match sla::validate(&s, &cfg).await {
            Ok(c) => Some(c),
            Err(AppError::Invalid { field, message }) => {
                place(Invalid::new(field, message), &lines, &mut errors);
                None
            }
            Err(e) => return Err(e),
        }
    };
    let shown = |cfg| Shown {
        cfg,
        texts: Some(texts.clone()),
        afters: Some(afters.clone()),
    };
    let Some(cals) = checked else {
        if errors.general.is_none() {
            errors.general = Some(not_saved(&errors).into());
        }
        return render_page(&s, &v, &sess, shown(cfg), errors, None, ticket).await;
    };
    if f.get("action") == Some("preview") {
        let mut preview = None;
        match ticket.parse::<i64>() {
            Ok(id) => match s.store.get_ticket(id, &v).await {
                Ok(t) => match sla::clock_of(&s, &v, &t, &cfg, &cals, s.now()).await? {
                    Some(c) => {
                        preview = Some(Preview {
                            ticket_id: id,
                            policy: c.policy,
                            calendar: format!("{} (by {})", c.calendar, word(&c.calendar_by)),
                            lines: c
                                .targets
                                .iter()
                                .map(|t| format!("{}: {}", word(&t.state), t.explanation))
                                .collect(),
                        })
                    }
                    None => errors.preview = Some(format!("No policy applies to ticket #{id}.")),
                },
                Err(tend_store::StoreError::NotFound(_)) => {
                    errors.preview = Some(format!("There is no ticket #{id}."))
                }
                Err(e) => return Err(e.into()),
            },
            Err(_) => errors.preview = Some("Enter a ticket number to preview.".into()),
        }
        return render_page(&s, &v, &sess, shown(cfg), errors, preview, ticket).await;
    }
    match sla::save(&s, &v, cfg.clone()).await {
        Ok(_) => Ok(Redirect::to("/admin/sla?notice=saved").into_response()),
        Err(AppError::Invalid { field, message }) => {
            place(Invalid::new(field, message), &lines, &mut errors);
            if errors.general.is_none() {
                errors.general = Some(not_saved(&errors).into());
            }
            render_page(&s, &v, &sess, shown(cfg), errors, None, ticket).await
        }
        Err(e) => Err(e),
    }
}

/// The line at the top of a refused form.
fn not_saved(errors: &PageErrors) -> &'static str {
    if !errors.levels.is_empty() || errors.escalation.is_some() {
        "Not saved: fix the marked escalation level."
    } else {
        "Not saved: fix the marked calendar."
    }
}

/// POST /admin/sla/holidays (multipart: csrf, calendar name, ics file): adds the file's
/// all-day events as holidays to that calendar and saves (same checks as the API).
pub async fn import_holidays(
    State(s): State<AppState>,
    sess: Session,
    mut form: Multipart,
) -> Result<Response, AppError> {
    crate::extract::require_admin_for(&sess.viewer, "configure SLAs")?;
    let mut csrf_seen = false;
    let mut target = String::from("default");
    let mut ics: Option<String> = None;
    while let Some(field) = form
        .next_field()
        .await
        .map_err(|e| AppError::BadRequest(format!("upload: {e}")))?
    {
        match field.name() {
            Some("csrf") => {
                let v = field.text().await.unwrap_or_default();
                if !csrf_ok(&sess.token, &v) {
                    return Ok(forbidden_csrf());
                }
                csrf_seen = true;
            }
            Some("calendar") => target = field.text().await.unwrap_or_default(),
            Some("ics") if csrf_seen => {
                let bytes = field
                    .bytes()
                    .await
                    .map_err(|e| AppError::BadRequest(format!("upload: {e}")))?;
                ics = Some(String::from_utf8_lossy(&bytes).into_owned());
            }
            _ => {}
        }
    }
    if !csrf_seen {
        return Ok(forbidden_csrf());
    }
    let mut cfg = stored(&s).await?;
    let v = sess.viewer.clone();
    let result = (|| -> Result<usize, String> {
        let ics = ics
            .as_deref()
            .filter(|t| !t.trim().is_empty())
            .ok_or("choose an .ics file")?;
        let spec = if target == "default" {
            &mut cfg.calendar
        } else {
            &mut cfg
                .calendars
                .iter_mut()
                .find(|c| c.name == target)
                .ok_or(format!("no calendar named '{target}'"))?
                .spec
        };
        spec.import_ical(ics)
            .map_err(|e| format!("{}: {}", e.field, e.message))
    })();
    let fail = |msg: String| PageErrors {
        ical: Some(msg),
        ..Default::default()
    };
    match result {
        Ok(_) => match sla::save(&s, &v, cfg.clone()).await {
            Ok(_) => Ok(Redirect::to("/admin/sla?notice=holidays").into_response()),
            Err(AppError::Invalid { field, message }) => {
                let cfg = stored(&s).await?;
                render_page(
                    &s,
                    &v,
                    &sess,
                    Shown {
                        cfg,
                        texts: None,
                        afters: None,
                    },
                    fail(format!("{field}: {message}")),
                    None,
                    String::new(),
                )
                .await
            }
            Err(e) => Err(e),
        },
        Err(msg) => {
            let cfg = stored(&s).await?;
            render_page(
                &s,
                &v,
                &sess,
                Shown {
                    cfg,
                    texts: None,
                    afters: None,
                },
                fail(msg),
                None,
                String::new(),
            )
            .await
        }
    }
}
