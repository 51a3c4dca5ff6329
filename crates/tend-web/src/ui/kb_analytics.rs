//! /kb/analytics: the knowledge base's self-service numbers for agents (every agent has
//! knowledge-base rights): a date range, the numbers with their definitions, a daily chart
//! (SVG drawn on the server, with a table of the same numbers), content gaps and the most
//! viewed articles. Numbers come from the same report as `GET /api/v1/kb/analytics`.

use super::pages::{nav, Nav};
use super::{render, Session};
use crate::api::kb_analytics::{range, report, KbReport, RangeParams};
use crate::charts::{line_chart, Series};
use crate::{AppError, AppState};
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

pub fn router() -> Router<AppState> {
    Router::new().route("/kb/analytics", get(page))
}

#[derive(Template)]
#[template(path = "kb_analytics.html")]
struct Page {
    nav: Nav,
    from: String,
    to: String,
    error: Option<String>,
    r: Option<KbReport>,
    chart: String,
    defs: Vec<(String, String)>,
}

fn pct(v: Option<f64>) -> String {
    v.map(|x| format!("{:.1} %", x * 100.0))
        .unwrap_or_else(|| "—".into())
}

impl Page {
    fn pct(&self, v: &Option<f64>) -> String {
        pct(*v)
    }
}

async fn page(
    State(s): State<AppState>,
    sess: Session,
    crate::extract::Query(p): crate::extract::Query<RangeParams>,
) -> Result<Response, AppError> {
    let nav = nav(&s, &sess, "").await?;
    let (from_s, to_s) = (
        p.from.clone().unwrap_or_default(),
        p.to.clone().unwrap_or_default(),
    );
    let (from, to) = match range(&s, &p) {
        Ok(r) => r,
        Err(e) => {
            let mut resp = render(&Page {
                nav,
                from: from_s,
                to: to_s,
                error: Some(e.to_string()),
                r: None,
                chart: String::new(),
                defs: vec![],
            });
            *resp.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            return Ok(resp);
        }
    };
    let r = report(&s, from, to).await?;
    let labels: Vec<String> = r.daily.iter().map(|d| d.date[5..].to_string()).collect();
    let series = vec![
        Series {
            name: "Searches".into(),
            values: r.daily.iter().map(|d| Some(d.searches as f64)).collect(),
        },
        Series {
            name: "Zero results".into(),
            values: r
                .daily
                .iter()
                .map(|d| Some(d.zero_result_searches as f64))
                .collect(),
        },
        Series {
            name: "Tickets".into(),
            values: r.daily.iter().map(|d| Some(d.tickets as f64)).collect(),
        },
        Series {
            name: "Deflected".into(),
            values: r.daily.iter().map(|d| Some(d.deflected as f64)).collect(),
        },
    ];
    let chart = line_chart(
        "kb-daily",
        "Self-service per day",
        "Searches, zero-result searches, customer tickets and deflected requests per UTC day",
        &labels,
        &series,
        &|v: f64| format!("{v:.0}"),
    );
    let defs = r
        .definitions
        .as_object()
        .map(|o| {
            o.iter()
                .map(|(k, v)| (k.replace('_', " "), v.as_str().unwrap_or("").to_string()))
                .collect()
        })
        .unwrap_or_default();
    Ok(render(&Page {
        nav,
        from: from.to_string(),
        to: to.to_string(),
        error: None,
        chart,
        defs,
        r: Some(r),
    })
    .into_response())
}
