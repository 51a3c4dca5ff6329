//! The weekly report digest for supervisors: a setting (`reports.digest`: recipients,
//! weekday and hour in a time zone), a durable keyed job (`reports.digest`) that mails the
//! past week's report — the same engine as the reports page — with the target statuses.
//!
//! Exactly once per week: the job claims `weekly:<first day>` and queues the mails in ONE
//! transaction (`Store::claim_digest`); a second run (a retry, a restart, another server)
//! finds the claim and sends nothing. It then schedules itself for the next week.

use crate::error::{ApiResult, AppError};
use crate::extract::{require_admin, require_supervisor, Auth, Json};
use crate::AppState;
use axum::extract::State;
use chrono::{DateTime, Utc, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tend_core::report::{ReportParams, ReportRequest};
use tend_core::Actor;
use tend_store::{NewJob, Store};

pub const DIGEST_JOB: &str = "reports.digest";
pub const SETTING: &str = "reports.digest";
const JOB_KEY: &str = "reports.digest";
pub const MAX_RECIPIENTS: usize = 50;

/// The digest setting.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DigestSettings {
    #[serde(default)]
    pub enabled: bool,
    #[serde(default)]
    pub recipients: Vec<String>,
    /// `mon` … `sun`.
    #[serde(default = "monday")]
    pub weekday: String,
    /// 0–23, local.
    #[serde(default = "eight")]
    pub hour: u32,
    #[serde(default = "utc")]
    pub tz: String,
}

fn monday() -> String {
    "mon".into()
}
fn eight() -> u32 {
    8
}
fn utc() -> String {
    "UTC".into()
}

impl Default for DigestSettings {
    fn default() -> Self {
        DigestSettings {
            enabled: false,
            recipients: vec![],
            weekday: monday(),
            hour: eight(),
            tz: utc(),
        }
    }
}

impl DigestSettings {
    /// Checks every field; returns the weekday and zone.
    pub fn check(&self) -> Result<(Weekday, Tz), tend_core::Invalid> {
        use tend_core::Invalid;
        let wd = match self.weekday.as_str() {
            "mon" => Weekday::Mon,
            "tue" => Weekday::Tue,
            "wed" => Weekday::Wed,
            "thu" => Weekday::Thu,
            "fri" => Weekday::Fri,
            "sat" => Weekday::Sat,
            "sun" => Weekday::Sun,
            _ => {
                return Err(Invalid::new(
                    "weekday",
                    "is not one of: mon, tue, wed, thu, fri, sat, sun",
                ))
            }
        };
        if self.hour > 23 {
            return Err(Invalid::new("hour", "must be 0 to 23 (local time)"));
        }
        let tz: Tz = self.tz.parse().map_err(|_| {
            Invalid::new(
                "tz",
                format!(
                    "'{}' is not an IANA time zone",
                    tend_core::truncate_for_message(&self.tz)
                ),
            )
        })?;
        if self.recipients.len() > MAX_RECIPIENTS {
            return Err(Invalid::new(
                "recipients",
                format!("at most {MAX_RECIPIENTS} addresses"),
            ));
        }
        if self.enabled && self.recipients.is_empty() {
            return Err(Invalid::new(
                "recipients",
                "name at least one address to enable the digest",
            ));
        }
        for r in &self.recipients {
            tend_core::Email::parse(r).map_err(|_| {
                Invalid::new(
                    "recipients",
                    format!(
                        "'{}' is not an e-mail address",
                        tend_core::truncate_for_message(r)
                    ),
                )
            })?;
        }
        Ok((wd, tz))
    }
}

async fn load(store: &dyn Store) -> Result<DigestSettings, String> {
    match store
        .get_setting(SETTING)
        .await
        .map_err(|e| e.to_string())?
    {
        None => Ok(DigestSettings::default()),
        Some(v) => serde_json::from_value(v).map_err(|e| format!("digest setting: {e}")),
    }
}

/// The next digest job after `after`; `None` when the digest is off (or the setting is
/// not valid).
pub fn next_job(cfg: &DigestSettings, after: DateTime<Utc>) -> Option<NewJob> {
    let (wd, tz) = cfg.check().ok()?;
    if !cfg.enabled {
        return None;
    }
    let at = tend_core::ops::next_weekly(wd, cfg.hour, tz, after);
    Some(NewJob {
        kind: DIGEST_JOB.into(),
        payload: json!({ "at": at }),
        run_at: at,
        max_attempts: 10,
    })
}

/// Queues the next digest job (from the running job: it holds no key while leased).
async fn schedule_next(
    store: &dyn Store,
    cfg: &DigestSettings,
    after: DateTime<Utc>,
) -> Result<(), tend_store::StoreError> {
    match next_job(cfg, after) {
        Some(job) => store.schedule_job(JOB_KEY, job).await,
        None => Ok(()),
    }
}

/// `GET /reports/digest` (supervisors and admins).
pub async fn get_settings(
    State(s): State<AppState>,
    Auth(v): Auth,
) -> ApiResult<axum::Json<Value>> {
    require_supervisor(&v)?;
    let cfg = load(&*s.store).await.map_err(AppError::Internal)?;
    Ok(axum::Json(serde_json::to_value(cfg).unwrap_or_default()))
}

/// `PUT /reports/digest` (admins): stores the setting (audited) and schedules the next run.
pub async fn put_settings(
    State(s): State<AppState>,
    Auth(v): Auth,
    Json(cfg): Json<DigestSettings>,
) -> ApiResult<axum::Json<Value>> {
    require_admin(&v)?;
    cfg.check()?;
    let doc = serde_json::to_value(&cfg).unwrap_or_default();
    s.store
        .put_setting(SETTING, doc.clone(), Actor::agent(v.agent_id), s.now())
        .await?;
    // A new weekday or time moves the queued job (also to a later time); turning the digest
    // off removes it.
    s.store
        .replace_keyed_job(JOB_KEY, next_job(&cfg, s.now()), s.now())
        .await?;
    Ok(axum::Json(doc))
}

/// The figures of the digest, in order.
const FIGURES: &[&str] = &[
    "created",
    "solved",
    "backlog",
    "frt_median",
    "frt_p90",
    "full_resolution_median",
    "fcr_rate",
    "sla_first_reply",
    "csat",
];

/// Runs the digest job: the past week's report and target statuses, mailed once per week.
pub async fn run(
    store: &dyn Store,
    mail: &crate::mail::MailConfig,
    now: DateTime<Utc>,
    payload: &Value,
) -> Result<(), String> {
    let cfg = load(store).await?;
    let Ok((_, tz)) = cfg.check() else {
        return Ok(());
    };
    if !cfg.enabled {
        return Ok(());
    }
    // Next week's digest is queued first: a week that fails for good (retries spent) does
    // not end the series.
    schedule_next(store, &cfg, now)
        .await
        .map_err(|e| e.to_string())?;
    // The week is the one before the scheduled instant (a retry the next day still sends
    // the same week, under the same claim).
    let due: DateTime<Utc> = payload["at"]
        .as_str()
        .and_then(|v| DateTime::parse_from_rfc3339(v).ok())
        .map_or(now, |t| t.with_timezone(&Utc));
    let (from, to) = tend_core::ops::digest_days(tz, due);
    let key = format!("weekly:{from}");
    let params = ReportParams {
        from: Some(from.to_string()),
        to: Some(to.to_string()),
        tz: Some(tz.name().to_string()),
        interval: Some("week".into()),
        metrics: Some("volume,frt,resolution,fcr,sla,csat".into()),
        ..Default::default()
    };
    let req = ReportRequest::parse(&params, now).map_err(|e| e.message)?;
    let r = tend_store::metrics::run_report(store, &req)
        .await
        .map_err(|e| e.to_string())?;
    let targets: Vec<_> = store
        .list_targets()
        .await
        .map_err(|e| e.to_string())?
        .into_iter()
        .filter(|t| t.def.active)
        .collect();
    let period = crate::api::targets::StatusPeriod {
        name: "custom".into(),
        from,
        to,
        tz,
    };
    let st = crate::api::targets::statuses(store, targets, &period, now)
        .await
        .map_err(|e| e.to_string())?;
    let mut text = format!(
        "Weekly report {from} to {to} ({})\n\nCompared with {} to {}.\n\n",
        tz.name(),
        st.previous.0,
        st.previous.1
    );
    for key in FIGURES {
        let Some(i) = r.columns.iter().position(|c| c.key == *key) else {
            continue;
        };
        let c = r.columns[i];
        let fmt = |v: Option<tend_core::report::Value>| {
            v.map_or("-".to_string(), |v| {
                tend_core::targets::format_value(c.unit, v.as_f64())
            })
        };
        text.push_str(&format!(
            "{}: {} (previous {})\n",
            c.label,
            fmt(r.total.values[i]),
            fmt(r.previous.values[i])
        ));
    }
    if !st.items.is_empty() {
        text.push_str("\nTargets\n");
        for (t, e) in &st.items {
            let col = t.def.column();
            let v = e.value.map_or("-".to_string(), |v| {
                tend_core::targets::format_value(col.unit, v.as_f64())
            });
            text.push_str(&format!(
                "- {} ({}): {} - {}{}\n",
                t.def.name,
                t.def.describe(),
                v,
                e.status.label(),
                e.trend
                    .map(|t| format!(", {}", t.as_str()))
                    .unwrap_or_default()
            ));
        }
    }
    for n in &r.notes {
        text.push_str(&format!("\nNote: {n}\n"));
    }
    text.push_str(&format!(
        "\nThe whole report: {}/reports?from={from}&to={to}&tz={}\n",
        mail.base_url.trim_end_matches('/'),
        form_urlencoded::byte_serialize(tz.name().as_bytes()).collect::<String>()
    ));
    let jobs: Vec<NewJob> = cfg
        .recipients
        .iter()
        .map(|to_addr| {
            crate::mail::job(
                &crate::mail::OutMail {
                    to: to_addr.clone(),
                    subject: format!("Weekly report {from} to {to}"),
                    text: text.clone(),
                    ..Default::default()
                },
                now,
            )
        })
        .collect();
    let sent = store
        .claim_digest(&key, jobs, now)
        .await
        .map_err(|e| e.to_string())?;
    tracing::info!(digest = %key, queued = sent, "weekly report digest");
    Ok(())
}
