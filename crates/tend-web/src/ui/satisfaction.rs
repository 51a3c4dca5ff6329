//! A customer's satisfaction history — their survey answers, newest first — for the ticket
//! sidebar and the customer page.

use crate::{AppError, AppState};
use std::collections::HashMap;
use tend_store::survey::{ResponsesOf, SurveyKind};

/// How many answers the sidebar shows.
const SHOWN: i64 = 10;

/// One answer as the page shows it.
pub struct Answer {
    /// "CSAT", "NPS", "CES".
    pub kind: &'static str,
    /// "2/5", "9/10", "6/7".
    pub score: String,
    /// Low: a detractor, CSAT ≤ 2 or CES ≤ 3 (the follow-up rule).
    pub low: bool,
    pub at: String,
    pub comment: String,
    pub ticket_id: Option<i64>,
}

pub async fn history(s: &AppState, customer_id: i64) -> Result<Vec<Answer>, AppError> {
    let rows = s
        .store
        .survey_responses(ResponsesOf::Customer(customer_id), None, SHOWN)
        .await?;
    let mut surveys: HashMap<i64, Option<tend_store::survey::Survey>> = HashMap::new();
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let sid = r.invitation.survey_id;
        if let std::collections::hash_map::Entry::Vacant(e) = surveys.entry(sid) {
            e.insert(s.store.get_survey(sid).await.ok());
        }
        let survey = surveys[&sid].as_ref();
        let (kind, max) = match r.invitation.kind {
            SurveyKind::Nps => ("NPS", 10),
            SurveyKind::Ces => ("CES", 7),
            SurveyKind::Csat => ("CSAT", survey.and_then(|x| x.scale).unwrap_or(5)),
        };
        let score = r.response.score;
        // The same rule that opens a follow-up ticket.
        let low = survey.is_some_and(|x| crate::surveys::needs_follow_up(x, score));
        out.push(Answer {
            kind,
            score: format!("{score}/{max}"),
            low,
            at: super::pages::short_time(r.response.created_at),
            comment: r.response.comment.chars().take(200).collect(),
            ticket_id: r.invitation.ticket_id,
        });
    }
    Ok(out)
}
