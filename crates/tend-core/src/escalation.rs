//! SLA escalation levels and working-hours-aware delivery (issue 5). Pure.
//!
//! # Escalation levels
//! An [`Escalation`] is an ordered list of [`Level`]s. A level fires `after_minutes` after a
//! target's breach (0: with the breach) and may notify the assignee, the ticket group's lead
//! or a named agent, move the ticket to another (senior) group and raise its priority. Each
//! level fires at most once per target and run: the level at 0 minutes is recorded in the
//! `SlaBreached` event, later ones as `SlaEscalated` events, and those marks are what the
//! `sla.check` job reads back (so a restart or a replayed job does not fire a level twice).
//! A level never fires for a target that is not breached any more or was met meanwhile.
//!
//! The old shape `{"raise_priority": bool, "notify_assignee": bool}` still reads: it is one
//! level at 0 minutes with those actions.
//!
//! # Working hours
//! [`deliver_at`]: a notification to an agent with working hours goes out now if they are
//! working, else at the start of their next working period.

use crate::sla::Calendar;
use crate::Invalid;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// At most this many levels.
pub const MAX_LEVELS: usize = 10;
/// The latest a level may fire: 30 days after the breach.
pub const MAX_AFTER_MINUTES: i64 = 30 * 24 * 60;

/// `(field, id)` pairs.
pub type FieldRefs = Vec<(String, i64)>;

/// One escalation level.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Level {
    /// Minutes after the breach (0: at the breach).
    #[serde(default)]
    pub after_minutes: i64,
    /// E-mail the assignee (if any).
    #[serde(default)]
    pub notify_assignee: bool,
    /// E-mail the lead of the ticket's group (if it has one).
    #[serde(default)]
    pub notify_group_lead: bool,
    /// E-mail this agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify_agent: Option<i64>,
    /// Move the ticket to this group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reassign_group: Option<i64>,
    /// Raise the priority one step (up to urgent).
    #[serde(default)]
    pub raise_priority: bool,
}

impl Level {
    /// The instant this level fires for a target breached at `breached_at`.
    pub fn fires_at(&self, breached_at: DateTime<Utc>) -> DateTime<Utc> {
        breached_at + Duration::minutes(self.after_minutes)
    }
}

/// What happens after a breach: ordered levels.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "serde_json::Value")]
pub struct Escalation {
    pub levels: Vec<Level>,
}

/// The current shape: `{"levels": [...]}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Levels {
    levels: Vec<Level>,
}

/// The shape before levels: flat flags, both on by default.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Legacy {
    #[serde(default = "yes")]
    raise_priority: bool,
    #[serde(default = "yes")]
    notify_assignee: bool,
}

fn yes() -> bool {
    true
}

impl TryFrom<serde_json::Value> for Escalation {
    type Error = serde_json::Error;

    /// `{"levels": …}` reads as levels (with that shape's own errors); anything else as the
    /// old flags.
    fn try_from(v: serde_json::Value) -> Result<Self, Self::Error> {
        if v.get("levels").is_some() {
            let l: Levels = serde_json::from_value(v)?;
            Ok(Escalation { levels: l.levels })
        } else {
            let l: Legacy = serde_json::from_value(v)?;
            Ok(Escalation::flat(l.raise_priority, l.notify_assignee))
        }
    }
}

impl Default for Escalation {
    /// As before levels existed: at the breach, raise the priority and mail the assignee.
    fn default() -> Self {
        Escalation::flat(true, true)
    }
}

impl Escalation {
    /// One level at the breach with these actions (none if both are off).
    pub fn flat(raise_priority: bool, notify_assignee: bool) -> Escalation {
        let levels = if raise_priority || notify_assignee {
            vec![Level {
                raise_priority,
                notify_assignee,
                ..Default::default()
            }]
        } else {
            vec![]
        };
        Escalation { levels }
    }

    /// Save-time checks (fields under `escalation.`): at most [`MAX_LEVELS`] levels, strictly
    /// ascending `after_minutes` within 0..=[`MAX_AFTER_MINUTES`], each doing something.
    pub fn validate(&self) -> Result<(), Invalid> {
        if self.levels.len() > MAX_LEVELS {
            return Err(Invalid::new(
                "escalation.levels",
                format!("at most {MAX_LEVELS} levels"),
            ));
        }
        let mut prev: Option<i64> = None;
        for (i, l) in self.levels.iter().enumerate() {
            let f = format!("escalation.levels[{i}]");
            if !(0..=MAX_AFTER_MINUTES).contains(&l.after_minutes) {
                return Err(Invalid::new(
                    format!("{f}.after_minutes"),
                    format!("must be between 0 and {MAX_AFTER_MINUTES} (30 days)"),
                ));
            }
            if prev.is_some_and(|p| l.after_minutes <= p) {
                return Err(Invalid::new(
                    format!("{f}.after_minutes"),
                    "levels must be in ascending order of after_minutes, each later than the one before",
                ));
            }
            prev = Some(l.after_minutes);
            if !(l.notify_assignee
                || l.notify_group_lead
                || l.notify_agent.is_some()
                || l.reassign_group.is_some()
                || l.raise_priority)
            {
                return Err(Invalid::new(f, "a level must do something"));
            }
        }
        Ok(())
    }

    /// Agent ids (`notify_agent`) and group ids (`reassign_group`) with their field names,
    /// for existence checks at save time.
    pub fn referenced(&self) -> (FieldRefs, FieldRefs) {
        let mut agents = vec![];
        let mut groups = vec![];
        for (i, l) in self.levels.iter().enumerate() {
            if let Some(a) = l.notify_agent {
                agents.push((format!("escalation.levels[{i}].notify_agent"), a));
            }
            if let Some(g) = l.reassign_group {
                groups.push((format!("escalation.levels[{i}].reassign_group"), g));
            }
        }
        (agents, groups)
    }
}

/// When a notification to someone working `hours` should go out, asked at `now`: `now` when
/// they are working (or have no hours), else the start of their next working period. A
/// calendar with no open time ahead (within its horizon) delivers now rather than never.
pub fn deliver_at(hours: Option<&Calendar>, now: DateTime<Utc>) -> DateTime<Utc> {
    match hours {
        Some(c) => c.next_open(now).unwrap_or(now),
        None => now,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn old_shapes_still_read() {
        let e: Escalation = serde_json::from_value(json!({})).unwrap();
        assert_eq!(e, Escalation::default());
        assert_eq!(e.levels.len(), 1);
        assert!(e.levels[0].raise_priority && e.levels[0].notify_assignee);
        let e: Escalation =
            serde_json::from_value(json!({"raise_priority": false, "notify_assignee": true}))
                .unwrap();
        assert_eq!(
            e.levels,
            vec![Level {
                notify_assignee: true,
                ..Default::default()
            }]
        );
        let e: Escalation =
            serde_json::from_value(json!({"raise_priority": false, "notify_assignee": false}))
                .unwrap();
        assert!(e.levels.is_empty());
        // The new shape round-trips.
        let e: Escalation = serde_json::from_value(json!({"levels": [
            {"after_minutes": 0, "notify_assignee": true},
            {"after_minutes": 60, "notify_group_lead": true, "reassign_group": 4, "raise_priority": true}]}))
        .unwrap();
        e.validate().unwrap();
        let back: Escalation = serde_json::from_value(serde_json::to_value(&e).unwrap()).unwrap();
        assert_eq!(back, e);
        assert_eq!(e.levels[1].reassign_group, Some(4));
        // Unknown fields are refused in both shapes.
        assert!(serde_json::from_value::<Escalation>(json!({"levels": [{"after": 1}]})).is_err());
        assert!(serde_json::from_value::<Escalation>(json!({"raise_priorty": true})).is_err());
    }

    #[test]
    fn validation_names_the_field() {
        let l = |m: i64| Level {
            after_minutes: m,
            notify_assignee: true,
            ..Default::default()
        };
        let e = Escalation {
            levels: vec![l(0), l(30), l(30)],
        };
        assert_eq!(
            e.validate().unwrap_err().field,
            "escalation.levels[2].after_minutes"
        );
        let e = Escalation {
            levels: vec![l(60), l(30)],
        };
        assert_eq!(
            e.validate().unwrap_err().field,
            "escalation.levels[1].after_minutes"
        );
        let e = Escalation {
            levels: (0..11).map(|i| l(i * 10)).collect(),
        };
        assert_eq!(e.validate().unwrap_err().field, "escalation.levels");
        let e = Escalation {
            levels: vec![l(-1)],
        };
        assert_eq!(
            e.validate().unwrap_err().field,
            "escalation.levels[0].after_minutes"
        );
        let e = Escalation {
            levels: vec![Level::default()],
        };
        assert_eq!(e.validate().unwrap_err().field, "escalation.levels[0]");
        let e = Escalation {
            levels: vec![
                l(0),
                Level {
                    after_minutes: 5,
                    notify_agent: Some(9),
                    reassign_group: Some(2),
                    ..Default::default()
                },
            ],
        };
        e.validate().unwrap();
        let (a, g) = e.referenced();
        assert_eq!(a, vec![("escalation.levels[1].notify_agent".into(), 9)]);
        assert_eq!(g, vec![("escalation.levels[1].reassign_group".into(), 2)]);
        assert_eq!(
            e.levels[1].fires_at(at("2026-03-02T10:00:00Z")),
            at("2026-03-02T10:05:00Z")
        );
    }

    #[test]
    fn delivery_waits_for_the_next_working_period() {
        let cal = Calendar::parse("zone Europe/Berlin\nmon-fri 09:00-17:00\n").unwrap();
        // Mon 2026-03-02 10:00 Berlin (09:00 UTC): working, now.
        let now = at("2026-03-02T09:00:00Z");
        assert_eq!(deliver_at(Some(&cal), now), now);
        // Mon 18:00 Berlin: Tue 09:00 Berlin = 08:00 UTC.
        assert_eq!(
            deliver_at(Some(&cal), at("2026-03-02T17:00:00Z")),
            at("2026-03-03T08:00:00Z")
        );
        // Fri evening: Monday.
        assert_eq!(
            deliver_at(Some(&cal), at("2026-03-06T20:00:00Z")),
            at("2026-03-09T08:00:00Z")
        );
        // No hours: now.
        assert_eq!(deliver_at(None, now), now);
    }

    #[test]
    fn delivery_across_dst_changes() {
        let cal = Calendar::parse("zone Europe/Berlin\nmon-fri 09:00-17:00\n").unwrap();
        // Spring forward on Sun 2026-03-29: Fri 27th evening (CET, UTC+1) → Mon 30th 09:00
        // CEST (UTC+2) = 07:00 UTC.
        assert_eq!(
            deliver_at(Some(&cal), at("2026-03-27T18:00:00Z")),
            at("2026-03-30T07:00:00Z")
        );
        // Fall back on Sun 2026-10-25: Fri 23rd evening (CEST) → Mon 26th 09:00 CET = 08:00 UTC.
        assert_eq!(
            deliver_at(Some(&cal), at("2026-10-23T16:00:00Z")),
            at("2026-10-26T08:00:00Z")
        );
        // A night shift across the spring change: sat 22:00-06:00 is open at 02:30 UTC Sun
        // (04:30 CEST) and the next opening after it ends is Sun 22:00 CEST = 20:00 UTC.
        let night =
            Calendar::parse("zone Europe/Berlin\nsat 22:00-06:00\nsun 22:00-06:00\n").unwrap();
        let t = at("2026-03-29T02:30:00Z");
        assert_eq!(deliver_at(Some(&night), t), t);
        assert_eq!(
            deliver_at(Some(&night), at("2026-03-29T05:00:00Z")),
            at("2026-03-29T20:00:00Z")
        );
    }
}
