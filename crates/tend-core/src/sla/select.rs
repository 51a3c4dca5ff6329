//! Several business calendars and which one a ticket's clocks run on.
//!
//! An SLA configuration has a default calendar and up to [`MAX_CALENDARS`] named ones. A
//! ticket's clocks run on, in this order:
//! 1. the calendar its policy names (`"calendar": "berlin"` on the policy);
//! 2. else the calendar that lists the ticket's group in `group_ids`;
//! 3. else the calendar that lists the ticket's brand in `brand_ids`;
//! 4. else the default calendar (called [`DEFAULT_CALENDAR`]).
//!
//! The group and brand are the ticket's current ones (like the policy, the calendar is
//! chosen from the facts as of `now` and applies to the whole history). Calendar-time
//! targets (`business_hours: false`) ignore the hours but their explanations still use the
//! chosen calendar's zone.

use super::calendar::{Calendar, CalendarSpec};
use super::eval::{evaluate_steps, next_due, ClockEvent, SlaState, TargetStatus};
use super::policy::{select_policy, Policy, TicketFacts};
use super::Event;
use crate::Invalid;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// At most this many named calendars (the default one not counted).
pub const MAX_CALENDARS: usize = 50;
/// The name of the default calendar; a policy may name it to skip group and brand calendars.
pub const DEFAULT_CALENDAR: &str = "default";
const NAME_MAX: usize = 64;

/// A named calendar as a configuration writes it.
///
/// ```json
/// {"name": "berlin", "spec": {"time_zone": "Europe/Berlin", "hours": [...]},
///  "group_ids": [3], "brand_ids": [1]}
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NamedCalendar {
    pub name: String,
    pub spec: CalendarSpec,
    /// Tickets of these groups use this calendar (unless their policy names one).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub group_ids: Vec<i64>,
    /// Tickets of these brands use this calendar (unless their policy or group picks one).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub brand_ids: Vec<i64>,
}

/// Why a calendar was chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChosenBy {
    Policy,
    Group,
    Brand,
    Default,
}

/// The calendar a ticket's clocks run on.
#[derive(Debug, Clone, Copy)]
pub struct Chosen<'a> {
    pub name: &'a str,
    pub calendar: &'a Calendar,
    pub by: ChosenBy,
}

/// The validated calendars of a configuration.
#[derive(Debug, Clone)]
pub struct Calendars {
    default: Calendar,
    named: Vec<(String, Calendar)>,
    by_name: HashMap<String, usize>,
    by_group: HashMap<i64, usize>,
    by_brand: HashMap<i64, usize>,
}

fn prefixed(prefix: &str, e: Invalid) -> Invalid {
    Invalid::new(format!("{prefix}.{}", e.field), e.message)
}

impl Calendars {
    /// Only a default calendar (a configuration from before named calendars).
    pub fn single(default: Calendar) -> Calendars {
        Calendars {
            default,
            named: Vec::new(),
            by_name: HashMap::new(),
            by_group: HashMap::new(),
            by_brand: HashMap::new(),
        }
    }

    /// Checks the default calendar (`calendar.…`), the named ones (`calendars[i].…`: at most
    /// [`MAX_CALENDARS`], unique names, each group and brand in one calendar at most) and
    /// that every policy's `calendar` names one of them (`policies[i].calendar`).
    pub fn new(
        default: &CalendarSpec,
        named: &[NamedCalendar],
        policies: &[Policy],
    ) -> Result<Calendars, Invalid> {
        let default = Calendar::new(default.clone()).map_err(|e| prefixed("calendar", e))?;
        let mut out = Calendars::single(default);
        if named.len() > MAX_CALENDARS {
            return Err(Invalid::new(
                "calendars",
                format!(
                    "at most {MAX_CALENDARS} calendars, not {}: share a calendar between groups",
                    named.len()
                ),
            ));
        }
        for (i, n) in named.iter().enumerate() {
            let field = |k: &str| format!("calendars[{i}].{k}");
            let name = crate::parse_line(&field("name"), &n.name, NAME_MAX)?;
            if name != n.name {
                return Err(Invalid::new(
                    field("name"),
                    "remove the spaces around the name",
                ));
            }
            let key = name.to_lowercase();
            if key == DEFAULT_CALENDAR {
                return Err(Invalid::new(
                    field("name"),
                    "'default' is the name of the default calendar; choose another",
                ));
            }
            if let Some(&j) = out.by_name.get(&key) {
                return Err(Invalid::new(
                    field("name"),
                    format!("'{name}' is also the name of calendars[{j}]"),
                ));
            }
            let cal = Calendar::new(n.spec.clone()).map_err(|e| prefixed(&field("spec"), e))?;
            for (list, map, what) in [
                (&n.group_ids, &mut out.by_group, "group_ids"),
                (&n.brand_ids, &mut out.by_brand, "brand_ids"),
            ] {
                for &id in list {
                    if let Some(&j) = map.get(&id) {
                        let whose = if j == i {
                            "this calendar".to_string()
                        } else {
                            format!("calendars[{j}] ('{}')", named[j].name)
                        };
                        return Err(Invalid::new(
                            field(what),
                            format!(
                                "{id} is also listed by {whose}: a {} has one calendar",
                                &what[..5]
                            ),
                        ));
                    }
                    map.insert(id, i);
                }
            }
            out.by_name.insert(key, i);
            out.named.push((name, cal));
        }
        for (i, p) in policies.iter().enumerate() {
            if let Some(c) = &p.calendar {
                if out.get(c).is_none() {
                    let mut names = vec![DEFAULT_CALENDAR.to_string()];
                    names.extend(out.named.iter().map(|(n, _)| n.clone()));
                    return Err(Invalid::new(
                        format!("policies[{i}].calendar"),
                        format!(
                            "no calendar named '{}'; the calendars are: {}",
                            crate::truncate_for_message(c),
                            names.join(", ")
                        ),
                    ));
                }
            }
        }
        Ok(out)
    }

    pub fn default_calendar(&self) -> &Calendar {
        &self.default
    }

    /// Whether there are named calendars (explanations then name the calendar).
    pub fn has_named(&self) -> bool {
        !self.named.is_empty()
    }

    /// The calendar called `name` (case-insensitive; `default` is the default one).
    pub fn get(&self, name: &str) -> Option<(&str, &Calendar)> {
        let key = name.to_lowercase();
        if key == DEFAULT_CALENDAR {
            return Some((DEFAULT_CALENDAR, &self.default));
        }
        let &i = self.by_name.get(&key)?;
        let (n, c) = &self.named[i];
        Some((n, c))
    }

    /// The calendar for a ticket under `policy` (see the module documentation).
    pub fn select(
        &self,
        policy: &Policy,
        group_id: Option<i64>,
        brand_id: Option<i64>,
    ) -> Chosen<'_> {
        let pick = |i: usize, by| Chosen {
            name: &self.named[i].0,
            calendar: &self.named[i].1,
            by,
        };
        if let Some((name, calendar)) = policy.calendar.as_deref().and_then(|c| self.get(c)) {
            return Chosen {
                name,
                calendar,
                by: ChosenBy::Policy,
            };
        }
        if let Some(&i) = group_id.and_then(|g| self.by_group.get(&g)) {
            return pick(i, ChosenBy::Group);
        }
        if let Some(&i) = brand_id.and_then(|b| self.by_brand.get(&b)) {
            return pick(i, ChosenBy::Brand);
        }
        Chosen {
            name: DEFAULT_CALENDAR,
            calendar: &self.default,
            by: ChosenBy::Default,
        }
    }
}

/// A ticket's clocks: the policy, the calendar and each target's status.
#[derive(Debug, Clone)]
pub struct Evaluation<'a> {
    pub policy: &'a Policy,
    pub calendar: &'a str,
    pub calendar_by: ChosenBy,
    pub targets: Vec<TargetStatus>,
}

/// Like [`super::evaluate_ticket`] with several calendars: picks the policy and then the
/// calendar from the ticket's facts as of `now`, and evaluates the whole history on them.
/// Explanations name the calendar when there are named calendars.
pub fn evaluate_ticket_on<'a>(
    events: &[Event],
    calendars: &'a Calendars,
    policies: &'a [Policy],
    tier: Option<&str>,
    now: DateTime<Utc>,
) -> Option<Evaluation<'a>> {
    let facts = TicketFacts::from_events(events, tier, Some(now))?;
    let policy = select_policy(policies, &facts)?;
    let chosen = calendars.select(policy, facts.group_id, facts.brand_id);
    let mut targets = evaluate_steps(
        &super::eval::clock_events(events),
        chosen.calendar,
        policy,
        now,
    );
    for t in &mut targets {
        t.explanation = if calendars.has_named() {
            t.explain_named(chosen.calendar, chosen.name)
        } else {
            t.explain(chosen.calendar)
        };
    }
    Some(Evaluation {
        policy,
        calendar: chosen.name,
        calendar_by: chosen.by,
        targets,
    })
}

/// What a recompute stores and schedules for one ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recomputed {
    /// The next due time ([`next_due`]); `None` when nothing runs or no policy applies.
    pub due: Option<DateTime<Utc>>,
    /// When the ticket's `sla.check` should run next: the next warning or a second after the
    /// next due time of an active target; `None`: nothing ahead.
    pub next_check: Option<DateTime<Utc>>,
}

/// When a quiet check (the recompute pass) schedules the next check: for each active
/// target its warning time (when warnings are on and it is still ahead) and a second after
/// its due time; the earliest of these.
pub fn next_check(
    targets: &[TargetStatus],
    warn_before_minutes: i64,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let warn = Duration::minutes(warn_before_minutes);
    let mut next: Option<DateTime<Utc>> = None;
    let mut soon = |at: DateTime<Utc>| next = Some(next.map_or(at, |n| n.min(at)));
    for ts in targets {
        let Some(due) = ts.due_at else { continue };
        if ts.state == SlaState::Active {
            let warn_at = due - warn;
            if warn_before_minutes > 0 && now < warn_at {
                soon(warn_at);
            }
            soon(due + Duration::seconds(1));
        }
    }
    next
}

/// The bulk recompute of one ticket from its current facts (the ticket row) and the clock's
/// view of its history ([`ClockEvent`]s, e.g. only the event kinds the clock reads). Gives
/// what the per-ticket quiet check gives for the same ticket.
pub fn recompute_clock(
    events: &[ClockEvent],
    facts: &TicketFacts,
    calendars: &Calendars,
    policies: &[Policy],
    warn_before_minutes: i64,
    now: DateTime<Utc>,
) -> Recomputed {
    let none = Recomputed {
        due: None,
        next_check: None,
    };
    if !events
        .iter()
        .any(|e| matches!(e.1, super::eval::ClockStep::Created(_)))
    {
        return none;
    }
    let Some(policy) = select_policy(policies, facts) else {
        return none;
    };
    let chosen = calendars.select(policy, facts.group_id, facts.brand_id);
    let targets = evaluate_steps(events, chosen.calendar, policy, now);
    Recomputed {
        due: next_due(&targets),
        next_check: next_check(&targets, warn_before_minutes, now),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sla::{Conditions, Metric, Target};
    use crate::{Actor, Change, Channel, Priority, Status};

    fn spec(text: &str) -> CalendarSpec {
        CalendarSpec::parse(text).unwrap().0
    }

    fn named(name: &str, text: &str, groups: &[i64], brands: &[i64]) -> NamedCalendar {
        NamedCalendar {
            name: name.into(),
            spec: spec(text),
            group_ids: groups.to_vec(),
            brand_ids: brands.to_vec(),
        }
    }

    fn policy(name: &str, calendar: Option<&str>, prio: Option<Priority>) -> Policy {
        Policy {
            name: name.into(),
            conditions: Conditions {
                priority: prio.into_iter().collect(),
                ..Default::default()
            },
            targets: vec![Target::new(Metric::FirstReply, 60, true)],
            calendar: calendar.map(str::to_string),
        }
    }

    fn set(policies: &[Policy]) -> Calendars {
        Calendars::new(
            &spec("zone UTC\nmon-fri 09:00-17:00"),
            &[
                named(
                    "berlin",
                    "zone Europe/Berlin\nmon-fri 09:00-17:00",
                    &[1, 2],
                    &[],
                ),
                named("tokyo", "zone Asia/Tokyo\nmon-fri 09:00-18:00", &[3], &[7]),
            ],
            policies,
        )
        .unwrap()
    }

    #[test]
    fn policy_then_group_then_brand_then_default() {
        let plain = policy("plain", None, None);
        let pinned = policy("pinned", Some("Tokyo"), None);
        let dflt = policy("dflt", Some("default"), None);
        let cals = set(&[]);
        let c = cals.select(&pinned, Some(1), Some(7));
        assert_eq!((c.name, c.by), ("tokyo", ChosenBy::Policy));
        let c = cals.select(&dflt, Some(1), None);
        assert_eq!((c.name, c.by), ("default", ChosenBy::Policy));
        let c = cals.select(&plain, Some(1), Some(7));
        assert_eq!((c.name, c.by), ("berlin", ChosenBy::Group));
        let c = cals.select(&plain, Some(9), Some(7));
        assert_eq!((c.name, c.by), ("tokyo", ChosenBy::Brand));
        let c = cals.select(&plain, None, Some(8));
        assert_eq!((c.name, c.by), ("default", ChosenBy::Default));
        assert_eq!(c.calendar.time_zone().name(), "UTC");
    }

    #[test]
    fn bad_calendar_sets_name_the_field() {
        let base = spec("zone UTC\nmon-fri 09:00-17:00");
        let ok = named("a", "zone UTC\ndaily 00:00-24:00", &[], &[]);
        let e = Calendars::new(&base, &[ok.clone(), ok.clone()], &[]).unwrap_err();
        assert_eq!(e.field, "calendars[1].name");
        let e = Calendars::new(&base, &[named("Default", "zone UTC", &[], &[])], &[]).unwrap_err();
        assert_eq!(e.field, "calendars[0].name");
        let mut bad = ok.clone();
        bad.spec.time_zone = "Mars/Olympus".into();
        let e = Calendars::new(&base, &[bad], &[]).unwrap_err();
        assert_eq!(e.field, "calendars[0].spec.time_zone");
        let many: Vec<_> = (0..51)
            .map(|i| named(&format!("c{i}"), "zone UTC\nmon 09:00-17:00", &[], &[]))
            .collect();
        assert_eq!(
            Calendars::new(&base, &many, &[]).unwrap_err().field,
            "calendars"
        );
        assert!(Calendars::new(&base, &many[..50], &[]).is_ok());
        let e = Calendars::new(
            &base,
            &[
                named("a", "zone UTC\nmon 09:00-17:00", &[4], &[]),
                named("b", "zone UTC\nmon 09:00-17:00", &[4], &[]),
            ],
            &[],
        )
        .unwrap_err();
        assert_eq!(e.field, "calendars[1].group_ids");
        let e = Calendars::new(
            &base,
            &[ok],
            &[
                policy("p", None, Some(Priority::Low)),
                policy("q", Some("nope"), None),
            ],
        )
        .unwrap_err();
        assert_eq!(e.field, "policies[1].calendar");
        assert!(e.message.contains("default, a"), "{}", e.message);
        let e = Calendars::new(&spec("zone Nowhere/Else"), &[], &[]).unwrap_err();
        assert_eq!(e.field, "calendar.time_zone");
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn created(group: Option<i64>, brand: Option<i64>) -> Change {
        Change::Created {
            subject: "s".into(),
            status: Status::New,
            priority: Priority::Normal,
            channel: Channel::Email,
            requester_id: 1,
            organization_id: None,
            assignee_id: None,
            group_id: group,
            brand_id: brand,
            tags: vec![],
            fields: Default::default(),
        }
    }

    #[test]
    fn group_calendar_moves_the_due_time_and_bulk_agrees() {
        // Mon 2 Mar 2026 07:30 UTC: Berlin (08:30 CET) opens at 09:00 CET = 08:00 UTC, so a
        // 1 h first reply is due 09:00 UTC; on the UTC default calendar it is due 10:00 UTC.
        let ps = vec![policy("all", None, None)];
        let cals = set(&ps);
        let now = at("2026-03-02T07:45:00Z");
        for (group, due, name) in [
            (Some(1), "2026-03-02T09:00:00Z", "berlin"),
            (None, "2026-03-02T10:00:00Z", "default"),
        ] {
            let events = vec![(
                at("2026-03-02T07:30:00Z"),
                Actor::SYSTEM,
                created(group, None),
            )];
            let ev = evaluate_ticket_on(&events, &cals, &ps, None, now).unwrap();
            assert_eq!(ev.calendar, name);
            assert_eq!(ev.targets[0].due_at, Some(at(due)));
            assert!(ev.targets[0]
                .explanation
                .contains(&format!("(calendar {name})")));
            let facts = TicketFacts::from_events(&events, None, Some(now)).unwrap();
            let r = recompute_clock(
                &crate::sla::eval::clock_events(&events),
                &facts,
                &cals,
                &ps,
                30,
                now,
            );
            assert_eq!(r.due, Some(at(due)));
            assert_eq!(r.next_check, Some(at(due) - Duration::minutes(30)));
        }
    }

    #[test]
    fn named_calendars_are_json() {
        let j =
            r#"{"name":"berlin","spec":{"time_zone":"Europe/Berlin","hours":[]},"group_ids":[3]}"#;
        let n: NamedCalendar = serde_json::from_str(j).unwrap();
        assert_eq!(n.group_ids, vec![3]);
        assert!(n.brand_ids.is_empty());
        assert!(serde_json::from_str::<NamedCalendar>(
            r#"{"name":"x","spec":{"time_zone":"UTC"},"groups":[1]}"#
        )
        .is_err());
    }
}
