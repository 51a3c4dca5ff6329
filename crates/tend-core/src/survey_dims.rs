//! What a survey invitation remembers about its subject for the scores by brand, tag and
//! product (taken when the survey is sent, so later changes to the ticket do not move an
//! answer), and how survey marks read on a ticket's timeline. Pure.

use crate::ticket::{Change, SURVEY_EVENT_COMMENT_MAX};
use serde_json::Value;

/// The dimension names as stored (`survey_invitation_dims.dim`) and asked for (`group_by`).
pub const DIM_BRAND: &str = "brand";
pub const DIM_TAG: &str = "tag";
pub const DIM_PRODUCT: &str = "product";

/// The ticket custom field (key) whose value names the product(s) a ticket is about: a text
/// or dropdown value, or a list of them.
pub const PRODUCT_FIELD: &str = "product";
/// Most products one invitation records (the first ones, in order).
pub const PRODUCTS_MAX: usize = 20;
/// Longest product name kept (characters; longer names are cut).
pub const PRODUCT_NAME_MAX: usize = 100;

fn clean(name: &str) -> Option<String> {
    let name = name.split_whitespace().collect::<Vec<_>>().join(" ");
    if name.is_empty() {
        return None;
    }
    Some(name.chars().take(PRODUCT_NAME_MAX).collect())
}

/// The products a survey is about: the names of the order's items (a purchase or delivery
/// survey, or a ticket about an order), then the ticket's `product` field (a string or a list
/// of strings; anything else is ignored). Whitespace is collapsed, blanks dropped, each name
/// kept once (first spelling wins, compared case-insensitively), at most [`PRODUCTS_MAX`].
pub fn products<'a>(
    item_names: impl IntoIterator<Item = &'a str>,
    product_field: Option<&Value>,
) -> Vec<String> {
    let mut names: Vec<String> = item_names.into_iter().filter_map(clean).collect();
    match product_field {
        Some(Value::String(s)) => names.extend(clean(s)),
        Some(Value::Array(a)) => names.extend(a.iter().filter_map(Value::as_str).filter_map(clean)),
        _ => {}
    }
    let mut out: Vec<String> = Vec::new();
    for n in names {
        if out.len() == PRODUCTS_MAX {
            break;
        }
        if !out.iter().any(|o| o.to_lowercase() == n.to_lowercase()) {
            out.push(n);
        }
    }
    out
}

/// The tags an invitation records: the ticket's tags when the survey goes out, each once,
/// sorted.
pub fn tags(ticket_tags: &[String]) -> Vec<String> {
    let mut t: Vec<String> = ticket_tags
        .iter()
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
        .collect();
    t.sort();
    t.dedup();
    t
}

/// The highest answer of a survey's scale: NPS 10, CES 7, CSAT its points.
pub fn scale_max(kind: &str, csat_scale: Option<u8>) -> u8 {
    match kind {
        "nps" => 10,
        "ces" => 7,
        _ => csat_scale.unwrap_or(5),
    }
}

/// The `SurveyAnswered` mark of an answer (the comment cut to
/// [`SURVEY_EVENT_COMMENT_MAX`] characters, with "…" when cut).
pub fn answered_event(
    invitation_id: i64,
    kind: &str,
    csat_scale: Option<u8>,
    score: u8,
    comment: &str,
    edited: bool,
) -> Change {
    let comment = comment.trim();
    let comment = if comment.chars().count() > SURVEY_EVENT_COMMENT_MAX {
        let mut c: String = comment.chars().take(SURVEY_EVENT_COMMENT_MAX - 1).collect();
        c.push('…');
        c
    } else {
        comment.to_string()
    };
    Change::SurveyAnswered {
        invitation_id,
        survey_kind: kind.to_string(),
        score,
        max: scale_max(kind, csat_scale),
        comment,
        edited,
    }
}

fn kind_label(kind: &str) -> String {
    match kind {
        "nps" | "csat" | "ces" => kind.to_ascii_uppercase(),
        other => other.to_string(),
    }
}

/// How a survey mark reads on the timeline after the actor's name ("Tend sent the CSAT
/// survey to ann@example.com", "Ann answered the CSAT survey: 2/5 — “Too slow”"); `None`
/// for other changes.
pub fn describe(change: &Change) -> Option<String> {
    match change {
        Change::SurveySent {
            survey_kind, to, ..
        } => Some(if to.is_empty() {
            format!("sent the {} survey", kind_label(survey_kind))
        } else {
            format!("sent the {} survey to {to}", kind_label(survey_kind))
        }),
        Change::SurveyAnswered {
            survey_kind,
            score,
            max,
            comment,
            edited,
            ..
        } => {
            let verb = if *edited {
                "changed the answer to"
            } else {
                "answered"
            };
            let mut s = format!(
                "{verb} the {} survey: {score}/{max}",
                kind_label(survey_kind)
            );
            if !comment.is_empty() {
                s.push_str(&format!(" — “{comment}”"));
            }
            Some(s)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ticket::{apply, Ticket};
    use crate::{Channel, Priority, Status};
    use chrono::{TimeZone, Utc};
    use serde_json::json;

    #[test]
    fn products_come_from_the_order_then_the_field_once_each() {
        assert_eq!(
            products(
                ["Kettle", "  Tea   cup ", "kettle", ""],
                Some(&json!("Toaster"))
            ),
            vec!["Kettle", "Tea cup", "Toaster"]
        );
        assert_eq!(
            products([], Some(&json!(["A", 3, "B", "a"]))),
            vec!["A", "B"]
        );
        assert!(products([], Some(&json!(42))).is_empty());
        assert!(products([], None).is_empty());
        let many: Vec<String> = (0..30).map(|i| format!("P{i}")).collect();
        assert_eq!(
            products(many.iter().map(String::as_str), None).len(),
            PRODUCTS_MAX
        );
        let long = "x".repeat(300);
        assert_eq!(
            products([long.as_str()], None)[0].chars().count(),
            PRODUCT_NAME_MAX
        );
    }

    #[test]
    fn tags_are_sorted_once_each() {
        let t = vec![
            "vip".to_string(),
            "billing".into(),
            "vip".into(),
            " ".into(),
        ];
        assert_eq!(tags(&t), vec!["billing", "vip"]);
    }

    #[test]
    fn answered_marks_keep_a_bounded_comment_and_the_scale() {
        let long = "é".repeat(SURVEY_EVENT_COMMENT_MAX + 50);
        let Change::SurveyAnswered {
            comment,
            max,
            score,
            ..
        } = answered_event(7, "csat", Some(5), 2, &long, false)
        else {
            panic!("a SurveyAnswered mark");
        };
        assert_eq!(comment.chars().count(), SURVEY_EVENT_COMMENT_MAX);
        assert!(comment.ends_with('…'));
        assert_eq!((score, max), (2, 5));
        assert_eq!(scale_max("nps", None), 10);
        assert_eq!(scale_max("ces", None), 7);
        assert_eq!(scale_max("csat", Some(3)), 3);
    }

    #[test]
    fn marks_read_as_sentences() {
        let sent = Change::SurveySent {
            invitation_id: 1,
            survey_id: 2,
            survey_kind: "csat".into(),
            to: "ann@example.com".into(),
        };
        assert_eq!(
            describe(&sent).unwrap(),
            "sent the CSAT survey to ann@example.com"
        );
        let a = answered_event(1, "csat", Some(5), 2, "Too slow", false);
        assert_eq!(
            describe(&a).unwrap(),
            "answered the CSAT survey: 2/5 — “Too slow”"
        );
        let e = answered_event(1, "nps", None, 9, "", true);
        assert_eq!(
            describe(&e).unwrap(),
            "changed the answer to the NPS survey: 9/10"
        );
        assert_eq!(
            describe(&Change::MessageAdded {
                time_spent_seconds: None,
                message_id: 1,
                public: true
            }),
            None
        );
        assert!(sent.is_survey() && a.is_survey());
        assert_eq!(sent.kind(), "ticket.survey_sent");
        assert_eq!(a.kind(), "ticket.survey_answered");
        assert!(Change::KINDS.contains(&a.kind()));
    }

    #[test]
    fn survey_marks_do_not_make_the_ticket_updated() {
        let at = |h| Utc.with_ymd_and_hms(2026, 3, 1, h, 0, 0).unwrap();
        let created = Change::Created {
            subject: "s".into(),
            status: Status::Solved,
            priority: Priority::Normal,
            channel: Channel::Email,
            requester_id: 1,
            organization_id: None,
            assignee_id: None,
            group_id: None,
            brand_id: None,
            tags: vec![],
            fields: Default::default(),
        };
        let mut t: Ticket = created.initial(1, 3, at(2)).unwrap();
        apply(
            &mut t,
            &answered_event(1, "nps", None, 3, "x", false),
            9,
            at(5),
        );
        assert_eq!(t.updated_at, at(2));
        assert_eq!(t.last_seq, 9);
        assert_eq!(t.status, Status::Solved);
        assert_eq!(t.solved_at, Some(at(2)));
    }
}
