//! Follow-up questions of a survey (after the main score): open text, single or multiple
//! choice, or a rating, each with its label per language; checking a definition, reading the
//! answers from a submitted form, and the time estimate shown to the customer. Pure.

use crate::Invalid;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Most follow-up questions per survey.
pub const QUESTIONS_MAX: usize = 10;
/// Most options of a choice question.
pub const OPTIONS_MAX: usize = 20;
/// Longest open-text answer kept.
pub const TEXT_MAX: usize = 2000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QuestionKind {
    Text,
    Single,
    Multiple,
    Rating,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuestionOption {
    /// Stable id stored in answers (`a-z0-9_-`, 1–32).
    pub id: String,
    /// Language tag → label.
    pub label: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Question {
    /// Stable id stored in answers (`a-z0-9_-`, 1–32).
    pub id: String,
    pub kind: QuestionKind,
    /// Language tag → question text.
    pub label: BTreeMap<String, String>,
    /// Choice questions: 2 to [`OPTIONS_MAX`] options.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<QuestionOption>,
    /// Rating questions: 1 to `max` (3 to 10, default 5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<u8>,
    #[serde(default)]
    pub required: bool,
}

/// One answer to a follow-up question.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Answer {
    Rating(u8),
    Text(String),
    Choices(Vec<String>),
}

fn bad(field: impl Into<String>, message: impl Into<String>) -> Invalid {
    Invalid {
        field: field.into(),
        message: message.into(),
    }
}

fn check_id(field: &str, id: &str) -> Result<(), Invalid> {
    let ok = (1..=32).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(bad(field, "ids are 1 to 32 of a-z, 0-9, _ and -"))
    }
}

fn check_label(field: &str, label: &BTreeMap<String, String>) -> Result<(), Invalid> {
    if label.is_empty() {
        return Err(bad(field, "give the text in at least one language"));
    }
    for (lang, text) in label {
        let tag_ok = (1..=35).contains(&lang.len())
            && lang.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        if !tag_ok {
            return Err(bad(field, format!("'{lang}' is not a language tag")));
        }
        let n = text.trim().chars().count();
        if n == 0 || n > 300 {
            return Err(bad(
                format!("{field}.{lang}"),
                "must be 1 to 300 characters",
            ));
        }
    }
    Ok(())
}

/// Checks a survey's follow-up questions.
pub fn check_questions(qs: &[Question]) -> Result<(), Invalid> {
    if qs.len() > QUESTIONS_MAX {
        return Err(bad(
            "questions",
            format!("at most {QUESTIONS_MAX} follow-up questions"),
        ));
    }
    let mut ids = std::collections::BTreeSet::new();
    for (i, q) in qs.iter().enumerate() {
        let f = format!("questions[{i}]");
        check_id(&format!("{f}.id"), &q.id)?;
        if !ids.insert(q.id.as_str()) {
            return Err(bad(format!("{f}.id"), format!("'{}' is used twice", q.id)));
        }
        check_label(&format!("{f}.label"), &q.label)?;
        match q.kind {
            QuestionKind::Single | QuestionKind::Multiple => {
                if !(2..=OPTIONS_MAX).contains(&q.options.len()) {
                    return Err(bad(
                        format!("{f}.options"),
                        format!("a choice needs 2 to {OPTIONS_MAX} options"),
                    ));
                }
                let mut oids = std::collections::BTreeSet::new();
                for (j, o) in q.options.iter().enumerate() {
                    check_id(&format!("{f}.options[{j}].id"), &o.id)?;
                    if !oids.insert(o.id.as_str()) {
                        return Err(bad(
                            format!("{f}.options[{j}].id"),
                            format!("'{}' is used twice", o.id),
                        ));
                    }
                    check_label(&format!("{f}.options[{j}].label"), &o.label)?;
                }
            }
            _ if !q.options.is_empty() => {
                return Err(bad(
                    format!("{f}.options"),
                    "only single and multiple choice questions have options",
                ));
            }
            _ => {}
        }
        match (q.kind, q.max) {
            (QuestionKind::Rating, Some(m)) if !(3..=10).contains(&m) => {
                return Err(bad(format!("{f}.max"), "a rating goes up to 3 … 10"));
            }
            (QuestionKind::Rating, _) => {}
            (_, Some(_)) => {
                return Err(bad(format!("{f}.max"), "only rating questions have a max"));
            }
            _ => {}
        }
    }
    Ok(())
}

/// The follow-up answers in a submitted form: field `q.<id>` (repeated for multiple
/// choice). Unknown fields are ignored; a value that is not one of the question's options,
/// a rating out of range or a missing required answer is an error naming the question.
pub fn read_answers(
    qs: &[Question],
    form: &[(String, String)],
) -> Result<BTreeMap<String, Answer>, Invalid> {
    let mut out = BTreeMap::new();
    for q in qs {
        let key = format!("q.{}", q.id);
        let values: Vec<&str> = form
            .iter()
            .filter(|(k, _)| *k == key)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
            .collect();
        let answer = match q.kind {
            QuestionKind::Text => values.first().map(|v| {
                let t: String = v
                    .chars()
                    .filter(|c| !c.is_control() || *c == '\n')
                    .take(TEXT_MAX)
                    .collect();
                Answer::Text(t)
            }),
            QuestionKind::Rating => match values.first() {
                None => None,
                Some(v) => {
                    let max = q.max.unwrap_or(5);
                    match v.parse::<u8>() {
                        Ok(n) if (1..=max).contains(&n) => Some(Answer::Rating(n)),
                        _ => return Err(bad(key, format!("the rating must be from 1 to {max}"))),
                    }
                }
            },
            QuestionKind::Single | QuestionKind::Multiple => {
                if values.is_empty() {
                    None
                } else {
                    if q.kind == QuestionKind::Single && values.len() > 1 {
                        return Err(bad(key, "choose one answer"));
                    }
                    let mut chosen = Vec::new();
                    for v in values {
                        if !q.options.iter().any(|o| o.id == v) {
                            return Err(bad(key, "that is not one of the answers offered"));
                        }
                        if !chosen.iter().any(|c| c == v) {
                            chosen.push(v.to_string());
                        }
                    }
                    Some(Answer::Choices(chosen))
                }
            }
        };
        match answer {
            Some(a) => {
                out.insert(q.id.clone(), a);
            }
            None if q.required => return Err(bad(key, "please answer this question")),
            None => {}
        }
    }
    Ok(out)
}

/// Seconds a customer needs: 5 for the score, 20 for a comment or open question, 5 for
/// each choice or rating.
pub fn estimate_seconds(has_comment: bool, qs: &[Question]) -> u32 {
    let mut s = 5 + if has_comment { 20 } else { 0 };
    for q in qs {
        s += match q.kind {
            QuestionKind::Text => 20,
            _ => 5,
        };
    }
    s
}

/// "about 30 seconds", "about 1 minute", "about 2 minutes".
pub fn estimate_text(seconds: u32) -> String {
    match seconds {
        0..=44 => format!("about {} seconds", seconds.div_ceil(5) * 5),
        45..=89 => "about 1 minute".into(),
        s => format!("about {} minutes", (s + 30) / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn label(t: &str) -> BTreeMap<String, String> {
        BTreeMap::from([("en".to_string(), t.to_string())])
    }

    fn choice(id: &str, kind: QuestionKind, opts: &[&str]) -> Question {
        Question {
            id: id.into(),
            kind,
            label: label("Which?"),
            options: opts
                .iter()
                .map(|o| QuestionOption {
                    id: o.to_string(),
                    label: label(o),
                })
                .collect(),
            max: None,
            required: false,
        }
    }

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn definitions_are_checked() {
        let ok = vec![
            choice("reason", QuestionKind::Single, &["price", "speed"]),
            Question {
                id: "speed".into(),
                kind: QuestionKind::Rating,
                label: label("How fast?"),
                options: vec![],
                max: Some(7),
                required: true,
            },
        ];
        assert!(check_questions(&ok).is_ok());
        let mut dup = ok.clone();
        dup[1].id = "reason".into();
        assert_eq!(check_questions(&dup).unwrap_err().field, "questions[1].id");
        let one = vec![choice("r", QuestionKind::Multiple, &["a"])];
        assert_eq!(
            check_questions(&one).unwrap_err().field,
            "questions[0].options"
        );
        let mut bad_max = ok.clone();
        bad_max[1].max = Some(11);
        assert_eq!(
            check_questions(&bad_max).unwrap_err().field,
            "questions[1].max"
        );
        let mut upper = ok.clone();
        upper[0].id = "Reason".into();
        assert!(check_questions(&upper).is_err());
        let mut no_label = ok;
        no_label[0].label.clear();
        assert_eq!(
            check_questions(&no_label).unwrap_err().field,
            "questions[0].label"
        );
        let many: Vec<Question> = (0..11)
            .map(|i| choice(&format!("q{i}"), QuestionKind::Single, &["a", "b"]))
            .collect();
        assert!(check_questions(&many).is_err());
    }

    #[test]
    fn answers_are_read_from_the_form() {
        let qs = vec![
            choice("reason", QuestionKind::Single, &["price", "speed"]),
            choice("topics", QuestionKind::Multiple, &["a", "b", "c"]),
            Question {
                id: "speed".into(),
                kind: QuestionKind::Rating,
                label: label("How fast?"),
                options: vec![],
                max: None,
                required: true,
            },
            Question {
                id: "more".into(),
                kind: QuestionKind::Text,
                label: label("Anything else?"),
                options: vec![],
                max: None,
                required: false,
            },
        ];
        let a = read_answers(
            &qs,
            &pairs(&[
                ("score", "9"),
                ("q.reason", "speed"),
                ("q.topics", "a"),
                ("q.topics", "c"),
                ("q.topics", "a"),
                ("q.speed", "4"),
                ("q.more", "  Great \u{7}job  "),
                ("q.unknown", "x"),
            ]),
        )
        .unwrap();
        assert_eq!(a["reason"], Answer::Choices(vec!["speed".into()]));
        assert_eq!(a["topics"], Answer::Choices(vec!["a".into(), "c".into()]));
        assert_eq!(a["speed"], Answer::Rating(4));
        assert_eq!(a["more"], Answer::Text("Great job".into()));
        // Errors name the question.
        let e = read_answers(&qs, &pairs(&[("q.speed", "6")])).unwrap_err();
        assert_eq!(e.field, "q.speed");
        let e = read_answers(&qs, &pairs(&[("q.reason", "free"), ("q.speed", "1")])).unwrap_err();
        assert_eq!(e.field, "q.reason");
        let e = read_answers(
            &qs,
            &pairs(&[
                ("q.reason", "price"),
                ("q.reason", "speed"),
                ("q.speed", "1"),
            ]),
        )
        .unwrap_err();
        assert_eq!(e.message, "choose one answer");
        let e = read_answers(&qs, &pairs(&[])).unwrap_err();
        assert_eq!(
            (e.field.as_str(), e.message.as_str()),
            ("q.speed", "please answer this question")
        );
        // Optional questions may stay empty; JSON keeps the answer shapes.
        let a = read_answers(&qs, &pairs(&[("q.speed", "2"), ("q.more", "   ")])).unwrap();
        assert_eq!(a.len(), 1);
        assert_eq!(serde_json::to_string(&a).unwrap(), r#"{"speed":2}"#);
    }

    #[test]
    fn the_time_estimate() {
        // Score only: 5 s; with the comment: 25 s; + text (20) + choice (5): 50 s.
        assert_eq!(estimate_seconds(false, &[]), 5);
        assert_eq!(estimate_seconds(true, &[]), 25);
        let qs = vec![
            choice("r", QuestionKind::Single, &["a", "b"]),
            Question {
                id: "t".into(),
                kind: QuestionKind::Text,
                label: label("?"),
                options: vec![],
                max: None,
                required: false,
            },
        ];
        assert_eq!(estimate_seconds(true, &qs), 50);
        assert_eq!(estimate_text(5), "about 5 seconds");
        assert_eq!(estimate_text(25), "about 25 seconds");
        assert_eq!(estimate_text(50), "about 1 minute");
        assert_eq!(estimate_text(150), "about 3 minutes");
    }
}
