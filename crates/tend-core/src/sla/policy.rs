//! SLA policies: which tickets they apply to and what they promise.

use super::Event;
use crate::ticket::{apply, Fields};
use crate::{Channel, Invalid, Priority, Status, Ticket};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// The longest target: a year of (business or calendar) time.
pub const MAX_TARGET_MINUTES: i64 = 366 * 24 * 60;

/// What a target measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Creation → the first public agent message.
    FirstReply,
    /// Each public customer message after an agent reply → the next public agent message.
    NextReply,
    /// Each public agent message → the next one, while the ticket stays open.
    PeriodicUpdate,
    /// Creation → solved (reopening resumes the clock).
    Resolution,
}

impl Metric {
    pub const ALL: &'static [Metric] = &[
        Metric::FirstReply,
        Metric::NextReply,
        Metric::PeriodicUpdate,
        Metric::Resolution,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Metric::FirstReply => "first_reply",
            Metric::NextReply => "next_reply",
            Metric::PeriodicUpdate => "periodic_update",
            Metric::Resolution => "resolution",
        }
    }
    /// Words for explanations: "first reply".
    pub fn label(self) -> &'static str {
        match self {
            Metric::FirstReply => "first reply",
            Metric::NextReply => "next reply",
            Metric::PeriodicUpdate => "periodic update",
            Metric::Resolution => "resolution",
        }
    }
    /// Statuses that pause this clock when a target does not say: `pending` and `on_hold`
    /// pause resolution and periodic updates (the ticket waits for someone else); reply
    /// clocks never pause. `solved` and `closed` stop every clock regardless.
    pub fn default_pause(self) -> &'static [Status] {
        match self {
            Metric::Resolution | Metric::PeriodicUpdate => &[Status::Pending, Status::OnHold],
            Metric::FirstReply | Metric::NextReply => &[],
        }
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

fn yes() -> bool {
    true
}

/// One promise: `metric` within `minutes` of business time (or calendar time when
/// `business_hours` is false).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    pub metric: Metric,
    pub minutes: i64,
    #[serde(default = "yes")]
    pub business_hours: bool,
    /// Statuses in which this clock does not run; `None` means [`Metric::default_pause`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pause_on: Option<Vec<Status>>,
}

impl Target {
    pub fn new(metric: Metric, minutes: i64, business_hours: bool) -> Target {
        Target {
            metric,
            minutes,
            business_hours,
            pause_on: None,
        }
    }
    /// Whether the clock stands still in `s` (`solved` and `closed` always stop it).
    pub fn pauses_in(&self, s: Status) -> bool {
        !s.is_open()
            || match &self.pause_on {
                Some(p) => p.contains(&s),
                None => self.metric.default_pause().contains(&s),
            }
    }
}

/// Which tickets a policy applies to. Every listed condition must hold; an empty list holds
/// for every ticket, so `Conditions::default()` matches all.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Conditions {
    /// Any of these priorities.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub priority: Vec<Priority>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub channel: Vec<Channel>,
    /// Any of these groups.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub group_id: Vec<i64>,
    /// Any of these organization or customer tiers (`TicketFacts::tier`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tier: Vec<String>,
    /// The ticket carries all of these tags.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags_all: Vec<String>,
    /// The ticket carries at least one of these tags.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags_any: Vec<String>,
    /// The ticket carries none of these tags.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags_none: Vec<String>,
    /// Custom fields equal to these values (`null`: the field is not set).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub fields: BTreeMap<String, serde_json::Value>,
}

impl Conditions {
    pub fn is_catch_all(&self) -> bool {
        *self == Conditions::default()
    }

    pub fn matches(&self, f: &TicketFacts) -> bool {
        let any = |list: &[String], t: &str| list.iter().any(|x| x == t);
        (self.priority.is_empty() || self.priority.contains(&f.priority))
            && (self.channel.is_empty() || self.channel.contains(&f.channel))
            && (self.group_id.is_empty() || f.group_id.is_some_and(|g| self.group_id.contains(&g)))
            && (self.tier.is_empty() || f.tier.as_deref().is_some_and(|t| any(&self.tier, t)))
            && self.tags_all.iter().all(|t| any(&f.tags, t))
            && (self.tags_any.is_empty() || self.tags_any.iter().any(|t| any(&f.tags, t)))
            && !self.tags_none.iter().any(|t| any(&f.tags, t))
            && self.fields.iter().all(|(k, v)| match f.fields.get(k) {
                Some(have) => have == v,
                None => v.is_null(),
            })
    }

    fn validate(&self) -> Result<(), Invalid> {
        for (name, list) in [
            ("tags_all", &self.tags_all),
            ("tags_any", &self.tags_any),
            ("tags_none", &self.tags_none),
        ] {
            for t in list {
                let norm = crate::parse_tag(t).map_err(|e| Invalid::new(name, e.message))?;
                if norm != *t {
                    return Err(Invalid::new(
                        name,
                        format!("write tag '{}' as '{norm}'", crate::truncate_for_message(t)),
                    ));
                }
            }
        }
        if let Some(t) = self.tags_all.iter().find(|t| self.tags_none.contains(t)) {
            return Err(Invalid::new(
                "tags_none",
                format!("tag '{t}' is both required and excluded: the policy matches no ticket"),
            ));
        }
        if !self.tags_any.is_empty() && self.tags_any.iter().all(|t| self.tags_none.contains(t)) {
            return Err(Invalid::new(
                "tags_any",
                "every tag in tags_any is also in tags_none: the policy matches no ticket",
            ));
        }
        for t in &self.tier {
            if t.trim().is_empty() || *t != t.trim() {
                return Err(Invalid::new(
                    "tier",
                    format!("'{t}' must be non-empty without surrounding spaces"),
                ));
            }
        }
        for k in self.fields.keys() {
            crate::parse_field_key(k).map_err(|e| Invalid::new("fields", e.message))?;
        }
        Ok(())
    }
}

/// A service-level policy. Policies are kept in order; the first whose conditions match a
/// ticket applies to it ([`select_policy`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Policy {
    pub name: String,
    #[serde(default)]
    pub conditions: Conditions,
    pub targets: Vec<Target>,
    /// The name of the calendar this policy's clocks run on (see [`super::select`]); `None`:
    /// the ticket's group's calendar, else its brand's, else the default one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calendar: Option<String>,
}

fn prefixed(prefix: &str, e: Invalid) -> Invalid {
    Invalid::new(format!("{prefix}.{}", e.field), e.message)
}

impl Policy {
    pub fn matches(&self, facts: &TicketFacts) -> bool {
        self.conditions.matches(facts)
    }

    pub fn target(&self, metric: Metric) -> Option<&Target> {
        self.targets.iter().find(|t| t.metric == metric)
    }

    /// A name; conditions that can match some ticket and are written normalised; at least
    /// one target, each metric at most once, each 1 to [`MAX_TARGET_MINUTES`] long; pause
    /// lists that name only open statuses and leave the clock some status to run in.
    pub fn validate(&self) -> Result<(), Invalid> {
        crate::parse_line("name", &self.name, crate::limits::NAME_MAX)?;
        self.conditions
            .validate()
            .map_err(|e| prefixed("conditions", e))?;
        if self.targets.is_empty() {
            return Err(Invalid::new(
                "targets",
                "no targets: add e.g. first_reply within 60 minutes",
            ));
        }
        for (i, t) in self.targets.iter().enumerate() {
            let f = |k: &str| format!("targets[{i}].{k}");
            if self.targets[..i].iter().any(|o| o.metric == t.metric) {
                return Err(Invalid::new(
                    f("metric"),
                    format!("{} appears twice", t.metric),
                ));
            }
            if t.minutes <= 0 {
                return Err(Invalid::new(
                    f("minutes"),
                    format!("must be greater than 0, not {}", t.minutes),
                ));
            }
            if t.minutes > MAX_TARGET_MINUTES {
                return Err(Invalid::new(
                    f("minutes"),
                    format!("at most {MAX_TARGET_MINUTES} (a year), not {}", t.minutes),
                ));
            }
            if let Some(p) = &t.pause_on {
                if let Some(s) = p.iter().find(|s| !s.is_open()) {
                    return Err(Invalid::new(
                        f("pause_on"),
                        format!(
                            "{s} always stops the clock; list only new, open, pending or on_hold"
                        ),
                    ));
                }
                if [Status::New, Status::Open, Status::Pending, Status::OnHold]
                    .iter()
                    .all(|s| p.contains(s))
                {
                    return Err(Invalid::new(
                        f("pause_on"),
                        "pauses in every open status: the clock could never run",
                    ));
                }
            }
        }
        Ok(())
    }
}

/// Validates an ordered policy list: each policy, unique names, and no policy hidden behind
/// an earlier one that matches every ticket.
pub fn validate_policies(policies: &[Policy]) -> Result<(), Invalid> {
    for (i, p) in policies.iter().enumerate() {
        p.validate()
            .map_err(|e| prefixed(&format!("policies[{i}]"), e))?;
        if let Some(j) = policies[..i]
            .iter()
            .position(|o| o.name.trim() == p.name.trim())
        {
            return Err(Invalid::new(
                format!("policies[{i}].name"),
                format!("'{}' is also the name of policies[{j}]", p.name),
            ));
        }
        if let Some(j) = policies[..i]
            .iter()
            .position(|o| o.conditions.is_catch_all())
        {
            return Err(Invalid::new(
                format!("policies[{i}]"),
                format!(
                    "'{}' can never apply: policies[{j}] ('{}') before it matches every ticket; move the catch-all last",
                    p.name, policies[j].name
                ),
            ));
        }
    }
    Ok(())
}

/// The first policy, in order, whose conditions match.
pub fn select_policy<'a>(policies: &'a [Policy], facts: &TicketFacts) -> Option<&'a Policy> {
    policies.iter().find(|p| p.matches(facts))
}

/// What policy conditions look at.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TicketFacts {
    pub priority: Priority,
    pub channel: Channel,
    pub group_id: Option<i64>,
    /// The organization's or customer's tier, e.g. `gold`; the caller looks it up.
    pub tier: Option<String>,
    pub tags: Vec<String>,
    pub fields: Fields,
    /// Not a policy condition: picks the brand's calendar (see [`super::select`]).
    #[serde(default)]
    pub brand_id: Option<i64>,
}

impl TicketFacts {
    pub fn of_ticket(t: &Ticket, tier: Option<&str>) -> TicketFacts {
        TicketFacts {
            brand_id: t.brand_id,
            priority: t.priority,
            channel: t.channel,
            group_id: t.group_id,
            tier: tier.map(str::to_string),
            tags: t.tags.clone(),
            fields: t.fields.clone(),
        }
    }

    /// The facts after replaying `events` (those at or before `now` when given); `None`
    /// without a `Created` event.
    pub fn from_events(
        events: &[Event],
        tier: Option<&str>,
        now: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Option<TicketFacts> {
        let mut ticket: Option<Ticket> = None;
        for (seq, (at, _, change)) in events.iter().enumerate() {
            if now.is_some_and(|n| *at > n) {
                continue;
            }
            match &mut ticket {
                None => ticket = change.initial(0, seq as i64, *at),
                Some(t) => apply(t, change, seq as i64, *at),
            }
        }
        ticket.map(|t| TicketFacts::of_ticket(&t, tier))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(name: &str, conditions: Conditions) -> Policy {
        Policy {
            name: name.into(),
            conditions,
            targets: vec![Target::new(Metric::FirstReply, 60, true)],
            calendar: None,
        }
    }

    fn facts() -> TicketFacts {
        TicketFacts {
            priority: Priority::High,
            channel: Channel::Email,
            group_id: Some(3),
            tier: Some("gold".into()),
            tags: vec!["billing".into(), "vip".into()],
            fields: Fields::new(),
            brand_id: None,
        }
    }

    #[test]
    fn first_match_in_order() {
        let urgent = policy(
            "urgent",
            Conditions {
                priority: vec![Priority::Urgent],
                ..Default::default()
            },
        );
        let gold = policy(
            "gold",
            Conditions {
                tier: vec!["gold".into()],
                tags_all: vec!["vip".into()],
                ..Default::default()
            },
        );
        let all = policy("default", Conditions::default());
        let ps = vec![urgent, gold, all];
        validate_policies(&ps).unwrap();
        assert_eq!(select_policy(&ps, &facts()).unwrap().name, "gold");
        let mut f = facts();
        f.tier = None;
        assert_eq!(select_policy(&ps, &f).unwrap().name, "default");
        f.priority = Priority::Urgent;
        assert_eq!(select_policy(&ps, &f).unwrap().name, "urgent");
        assert!(select_policy(
            &ps[..2],
            &TicketFacts {
                tier: None,
                ..facts()
            }
        )
        .is_none());
    }

    #[test]
    fn conditions_on_fields_and_tags() {
        let mut c = Conditions {
            tags_none: vec!["spam".into()],
            ..Default::default()
        };
        c.fields.insert("plan".into(), serde_json::json!("pro"));
        let mut f = facts();
        assert!(!c.matches(&f));
        f.fields.insert("plan".into(), serde_json::json!("pro"));
        assert!(c.matches(&f));
        f.tags.push("spam".into());
        assert!(!c.matches(&f));
        let unset = Conditions {
            fields: [("x".to_string(), serde_json::Value::Null)].into(),
            ..Default::default()
        };
        assert!(unset.matches(&facts()));
    }

    #[test]
    fn bad_policies_say_what_to_fix() {
        let mut p = policy("p", Conditions::default());
        p.targets[0].minutes = 0;
        assert_eq!(p.validate().unwrap_err().field, "targets[0].minutes");
        p.targets[0].minutes = -5;
        assert!(p.validate().is_err());
        p.targets[0].minutes = 30;
        p.targets.push(Target::new(Metric::FirstReply, 10, false));
        assert_eq!(p.validate().unwrap_err().field, "targets[1].metric");
        p.targets.pop();
        p.targets[0].pause_on = Some(vec![Status::Solved]);
        assert_eq!(p.validate().unwrap_err().field, "targets[0].pause_on");
        p.targets[0].pause_on = Some(vec![
            Status::New,
            Status::Open,
            Status::Pending,
            Status::OnHold,
        ]);
        assert!(p.validate().is_err());
        p.targets[0].pause_on = None;
        p.targets.clear();
        assert_eq!(p.validate().unwrap_err().field, "targets");

        let never = policy(
            "never",
            Conditions {
                tags_all: vec!["a".into()],
                tags_none: vec!["a".into()],
                ..Default::default()
            },
        );
        let e = validate_policies(&[never]).unwrap_err();
        assert_eq!(e.field, "policies[0].conditions.tags_none");
        assert!(e.message.contains("matches no ticket"));
        let upper = policy(
            "upper",
            Conditions {
                tags_any: vec!["VIP".into()],
                ..Default::default()
            },
        );
        assert!(upper.validate().unwrap_err().message.contains("'vip'"));

        let shadowed = vec![
            policy("all", Conditions::default()),
            policy(
                "late",
                Conditions {
                    priority: vec![Priority::Low],
                    ..Default::default()
                },
            ),
        ];
        let e = validate_policies(&shadowed).unwrap_err();
        assert_eq!(e.field, "policies[1]");
        assert!(e.message.contains("never apply"));
        let dup = vec![
            policy(
                "a",
                Conditions {
                    priority: vec![Priority::Low],
                    ..Default::default()
                },
            ),
            policy("a", Conditions::default()),
        ];
        assert_eq!(
            validate_policies(&dup).unwrap_err().field,
            "policies[1].name"
        );
    }

    #[test]
    fn policies_are_json() {
        let json = r#"{"name":"VIP","conditions":{"tier":["gold"],"priority":["urgent","high"]},
            "targets":[{"metric":"first_reply","minutes":60},
                       {"metric":"resolution","minutes":480,"business_hours":false,"pause_on":["pending"]}]}"#;
        let p: Policy = serde_json::from_str(json).unwrap();
        p.validate().unwrap();
        assert!(p.targets[0].business_hours);
        assert!(p.targets[1].pauses_in(Status::Pending));
        assert!(!p.targets[1].pauses_in(Status::OnHold));
        assert!(p.targets[1].pauses_in(Status::Solved));
        assert!(p.matches(&facts()));
        let back: Policy = serde_json::from_str(&serde_json::to_string(&p).unwrap()).unwrap();
        assert_eq!(back, p);
    }
}
