//! Automatic ticket assignment (issue 5): who in a group gets the next ticket.
//!
//! Pure: the caller gathers the ticket's facts, the group's mode and round-robin cursor, and
//! the group's active members with their availability, skills, capacity and load; [`choose`]
//! answers with an agent and why, or why nobody.
//!
//! # Rules
//! - **Modes**: `manual` (Tend never assigns), `round_robin` (the next eligible agent by id
//!   after the last one the group assigned to, wrapping around), `least_loaded` (the eligible
//!   agent with the fewest open tickets; ties go to the one idle longest — never
//!   auto-assigned counts as idle longest — then the lower id).
//! - **Availability**: only `online` agents get new tickets. `away` keeps their tickets;
//!   `off` keeps them too unless the group says `reassign_when_off` (see docs/routing.md).
//! - **Capacity**: an agent with capacity *n* gets a ticket only while fewer than *n* tickets
//!   in status `new` or `open` are assigned to them (in any group); no capacity = unlimited.
//! - **Skills** ([`needed_skills`]): the requester's language gives `lang:<primary subtag>`
//!   (`de-CH` → `lang:de`), a tag `skill:<x>` gives `<x>`, a tag `tier:<t>` gives `tier:<t>`.
//!   An agent qualifies only with every needed skill ([`has_skill`]: `lang:de-ch` also counts
//!   as `lang:de`). When no member of the group has the language skill at all, the language
//!   is ignored (the ticket goes to someone rather than wait for a speaker who will never
//!   come); other skills are never dropped.

use crate::Invalid;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

/// At most this many skills per agent.
pub const MAX_SKILLS: usize = 50;
/// A skill is at most this many characters.
pub const SKILL_MAX_LEN: usize = 40;
/// Capacity runs from 0 to this (none = unlimited).
pub const MAX_CAPACITY: i64 = 10_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Availability {
    Online,
    Away,
    /// The default for an agent who never said otherwise: nobody gets tickets by surprise.
    #[default]
    Off,
}

impl Availability {
    pub const ALL: [Availability; 3] =
        [Availability::Online, Availability::Away, Availability::Off];
    pub fn as_str(self) -> &'static str {
        match self {
            Availability::Online => "online",
            Availability::Away => "away",
            Availability::Off => "off",
        }
    }
    pub fn parse(raw: &str) -> Result<Availability, Invalid> {
        match raw.trim() {
            "online" => Ok(Availability::Online),
            "away" => Ok(Availability::Away),
            "off" => Ok(Availability::Off),
            other => Err(Invalid::new(
                "availability",
                format!(
                    "'{}' is not one of: online, away, off",
                    crate::truncate_for_message(other)
                ),
            )),
        }
    }
}

impl fmt::Display for Availability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    #[default]
    Manual,
    RoundRobin,
    LeastLoaded,
}

impl Mode {
    pub const ALL: [Mode; 3] = [Mode::Manual, Mode::RoundRobin, Mode::LeastLoaded];
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Manual => "manual",
            Mode::RoundRobin => "round_robin",
            Mode::LeastLoaded => "least_loaded",
        }
    }
    pub fn parse(raw: &str) -> Result<Mode, Invalid> {
        match raw.trim() {
            "manual" => Ok(Mode::Manual),
            "round_robin" => Ok(Mode::RoundRobin),
            "least_loaded" => Ok(Mode::LeastLoaded),
            other => Err(Invalid::new(
                "mode",
                format!(
                    "'{}' is not one of: manual, round_robin, least_loaded",
                    crate::truncate_for_message(other)
                ),
            )),
        }
    }
    /// Words for people: "round robin".
    pub fn label(self) -> &'static str {
        match self {
            Mode::Manual => "manual",
            Mode::RoundRobin => "round robin",
            Mode::LeastLoaded => "least loaded",
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

fn skill_ok(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= SKILL_MAX_LEN
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b":_-".contains(&b))
}

/// One skill: `[a-z0-9:_-]{1,40}` (surrounding spaces trimmed), e.g. `lang:de`, `billing`,
/// `tier:gold`.
pub fn parse_skill(raw: &str) -> Result<String, Invalid> {
    let s = raw.trim();
    if skill_ok(s) {
        Ok(s.to_string())
    } else {
        Err(Invalid::new(
            "skills",
            format!(
                "'{}' is not a skill: 1 to {SKILL_MAX_LEN} of a-z 0-9 : _ -",
                crate::truncate_for_message(s)
            ),
        ))
    }
}

/// Parses, de-duplicates and sorts an agent's skills (at most [`MAX_SKILLS`]).
pub fn parse_skills(raw: &[String]) -> Result<Vec<String>, Invalid> {
    let mut out: Vec<String> = raw
        .iter()
        .map(|s| parse_skill(s))
        .collect::<Result<_, _>>()?;
    out.sort();
    out.dedup();
    if out.len() > MAX_SKILLS {
        return Err(Invalid::new(
            "skills",
            format!("at most {MAX_SKILLS} skills per agent"),
        ));
    }
    Ok(out)
}

/// A capacity: `None` is unlimited, else 0 to [`MAX_CAPACITY`] open tickets.
pub fn check_capacity(c: Option<i64>) -> Result<Option<i64>, Invalid> {
    match c {
        Some(n) if !(0..=MAX_CAPACITY).contains(&n) => Err(Invalid::new(
            "capacity",
            format!("must be between 0 and {MAX_CAPACITY}, or null for unlimited"),
        )),
        other => Ok(other),
    }
}

/// What a ticket asks of its assignee.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Needs {
    /// `lang:<code>` from the requester's language, if known.
    pub language: Option<String>,
    /// Other skills (from `skill:` and `tier:` tags), sorted.
    pub skills: Vec<String>,
}

impl Needs {
    /// Every needed skill, the language first.
    pub fn all(&self) -> Vec<String> {
        self.language
            .iter()
            .cloned()
            .chain(self.skills.iter().cloned())
            .collect()
    }
}

/// The skills a ticket needs, from its requester's language (a BCP 47 tag) and its tags.
/// Tags that would make an invalid skill are ignored.
pub fn needed_skills(language: Option<&str>, tags: &[String]) -> Needs {
    let language = language
        .and_then(|l| l.split(['-', '_']).next())
        .map(|p| format!("lang:{}", p.trim().to_ascii_lowercase()))
        .filter(|s| s.len() > 5 && skill_ok(s));
    let mut skills: Vec<String> = tags
        .iter()
        .filter_map(|t| {
            if let Some(x) = t.strip_prefix("skill:") {
                Some(x.to_string())
            } else if t.starts_with("tier:") {
                Some(t.clone())
            } else {
                None
            }
        })
        .filter(|s| skill_ok(s))
        .collect();
    skills.sort();
    skills.dedup();
    Needs { language, skills }
}

/// Whether an agent's skills cover a needed one. A regional language skill covers its
/// language (`lang:de-ch` covers `lang:de`).
pub fn has_skill(agent_skills: &[String], need: &str) -> bool {
    agent_skills.iter().any(|s| {
        s == need
            || (need.starts_with("lang:")
                && s.len() > need.len()
                && s.starts_with(need)
                && s.as_bytes()[need.len()] == b'-')
    })
}

/// A member of the group, as the store found them (active agents only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Candidate {
    pub agent_id: i64,
    pub availability: Availability,
    pub skills: Vec<String>,
    /// `None`: unlimited.
    pub capacity: Option<i64>,
    /// Tickets in status new or open assigned to the agent.
    pub open: i64,
    /// When routing last gave them a ticket.
    pub last_assigned_at: Option<DateTime<Utc>>,
}

impl Candidate {
    pub fn has_room(&self) -> bool {
        self.capacity.is_none_or(|c| self.open < c)
    }
}

/// The agent to assign, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Choice {
    pub agent_id: i64,
    pub mode: Mode,
    /// Their open tickets before this one.
    pub open: i64,
    /// The skills that decided (the language dropped if nobody had it).
    pub skills: Vec<String>,
    /// The language skill nobody in the group has, ignored.
    pub language_ignored: Option<String>,
    /// How many online agents with room and the skills there were to choose from.
    pub eligible: usize,
}

impl Choice {
    /// One line for the ticket's timeline (after "Assigned automatically to <name>: ").
    pub fn explain(&self) -> String {
        let mut s = match self.mode {
            Mode::LeastLoaded => format!(
                "least loaded ({} open) of {} eligible",
                self.open, self.eligible
            ),
            _ => format!("{} among {} eligible", self.mode.label(), self.eligible),
        };
        if !self.skills.is_empty() {
            s.push_str(&format!("; skills {}", self.skills.join(", ")));
        }
        if let Some(l) = &self.language_ignored {
            s.push_str(&format!(
                "; nobody in the group has {l}, so the language was ignored"
            ));
        }
        s
    }
}

/// Why nobody gets the ticket (it waits, unassigned).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum NoOne {
    /// The group assigns by hand.
    Manual,
    /// The group has no active members.
    NoMembers,
    /// No member has all the needed skills; `missing` are those no member has at all
    /// (empty: each exists, but nobody has the combination).
    MissingSkills {
        needed: Vec<String>,
        missing: Vec<String>,
    },
    /// Members with the skills exist, but none is online.
    NoneOnline,
    /// Every online member with the skills is at capacity.
    AllAtCapacity,
}

impl fmt::Display for NoOne {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NoOne::Manual => f.write_str("the group assigns by hand"),
            NoOne::NoMembers => f.write_str("the group has no active members"),
            NoOne::MissingSkills { needed, missing } if missing.is_empty() => {
                write!(f, "nobody in the group has all of: {}", needed.join(", "))
            }
            NoOne::MissingSkills { missing, .. } => {
                write!(f, "nobody in the group has: {}", missing.join(", "))
            }
            NoOne::NoneOnline => f.write_str("nobody with the skills is online"),
            NoOne::AllAtCapacity => f.write_str("everyone online with the skills is at capacity"),
        }
    }
}

/// Chooses the assignee among `candidates` (the group's active members), or says why none.
/// `cursor` is the agent the group last assigned to (round robin).
pub fn choose(
    mode: Mode,
    cursor: Option<i64>,
    needs: &Needs,
    candidates: &[Candidate],
) -> Result<Choice, NoOne> {
    if mode == Mode::Manual {
        return Err(NoOne::Manual);
    }
    if candidates.is_empty() {
        return Err(NoOne::NoMembers);
    }
    let mut language_ignored = None;
    let mut needed = needs.skills.clone();
    if let Some(l) = &needs.language {
        if candidates.iter().any(|c| has_skill(&c.skills, l)) {
            needed.insert(0, l.clone());
        } else {
            language_ignored = Some(l.clone());
        }
    }
    let skilled: Vec<&Candidate> = candidates
        .iter()
        .filter(|c| needed.iter().all(|n| has_skill(&c.skills, n)))
        .collect();
    if skilled.is_empty() {
        let missing = needed
            .iter()
            .filter(|n| !candidates.iter().any(|c| has_skill(&c.skills, n)))
            .cloned()
            .collect();
        return Err(NoOne::MissingSkills { needed, missing });
    }
    let online: Vec<&Candidate> = skilled
        .into_iter()
        .filter(|c| c.availability == Availability::Online)
        .collect();
    if online.is_empty() {
        return Err(NoOne::NoneOnline);
    }
    let mut free: Vec<&Candidate> = online.into_iter().filter(|c| c.has_room()).collect();
    if free.is_empty() {
        return Err(NoOne::AllAtCapacity);
    }
    free.sort_by_key(|c| c.agent_id);
    let pick = match mode {
        Mode::RoundRobin => cursor
            .and_then(|cur| free.iter().find(|c| c.agent_id > cur))
            .unwrap_or(&free[0]),
        // Fewest open, then idle longest (never assigned first), then the lower id.
        _ => free
            .iter()
            .min_by_key(|c| {
                (
                    c.open,
                    c.last_assigned_at.is_some(),
                    c.last_assigned_at,
                    c.agent_id,
                )
            })
            .expect("free is not empty"),
    };
    Ok(Choice {
        agent_id: pick.agent_id,
        mode,
        open: pick.open,
        skills: needed,
        language_ignored,
        eligible: free.len(),
    })
}

/// Whether a ticket waits for routing: new or open, unassigned, in a group.
pub fn routable(status: crate::Status, assignee_id: Option<i64>, group_id: Option<i64>) -> bool {
    matches!(status, crate::Status::New | crate::Status::Open)
        && assignee_id.is_none()
        && group_id.is_some()
}

/// Whether an agent's tickets are handed back when their group says `reassign_when_off`.
pub fn releases(availability: Availability, active: bool) -> bool {
    !active || availability == Availability::Off
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn cand(id: i64, av: Availability, skills: &[&str], cap: Option<i64>, open: i64) -> Candidate {
        Candidate {
            agent_id: id,
            availability: av,
            skills: skills.iter().map(|s| s.to_string()).collect(),
            capacity: cap,
            open,
            last_assigned_at: None,
        }
    }
    fn on(id: i64) -> Candidate {
        cand(id, Availability::Online, &[], None, 0)
    }
    fn none() -> Needs {
        Needs::default()
    }
    fn at(h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 2, h, 0, 0).unwrap()
    }

    #[test]
    fn round_robin_rotates_by_id_after_the_cursor_and_wraps() {
        let c = vec![on(30), on(10), on(20)];
        let pick = |cur| choose(Mode::RoundRobin, cur, &none(), &c).unwrap().agent_id;
        assert_eq!(pick(None), 10);
        assert_eq!(pick(Some(10)), 20);
        assert_eq!(pick(Some(20)), 30);
        assert_eq!(pick(Some(30)), 10);
        // The cursor agent left the group: the next one after its id still follows.
        assert_eq!(pick(Some(15)), 20);
        assert_eq!(pick(Some(99)), 10);
    }

    #[test]
    fn round_robin_skips_agents_who_are_not_online_or_full() {
        let c = vec![
            on(1),
            cand(2, Availability::Away, &[], None, 0),
            cand(3, Availability::Online, &[], Some(1), 1),
            on(4),
        ];
        let r = choose(Mode::RoundRobin, Some(1), &none(), &c).unwrap();
        assert_eq!(r.agent_id, 4);
        assert_eq!(r.eligible, 2);
    }

    #[test]
    fn least_loaded_picks_fewest_open_then_longest_idle_then_lowest_id() {
        let mut a = cand(1, Availability::Online, &[], None, 3);
        let mut b = cand(2, Availability::Online, &[], None, 1);
        let mut c = cand(3, Availability::Online, &[], None, 1);
        b.last_assigned_at = Some(at(10));
        c.last_assigned_at = Some(at(9));
        let r = choose(
            Mode::LeastLoaded,
            None,
            &none(),
            &[a.clone(), b.clone(), c.clone()],
        )
        .unwrap();
        assert_eq!((r.agent_id, r.open), (3, 1), "c is idle longer than b");
        c.last_assigned_at = None;
        b.last_assigned_at = None;
        let r = choose(
            Mode::LeastLoaded,
            None,
            &none(),
            &[a.clone(), c.clone(), b.clone()],
        )
        .unwrap();
        assert_eq!(r.agent_id, 2, "both never assigned: lower id");
        a.open = 0;
        a.last_assigned_at = Some(at(11));
        let r = choose(Mode::LeastLoaded, Some(1), &none(), &[a, b, c]).unwrap();
        assert_eq!(
            r.agent_id, 1,
            "fewest open wins over idle time; cursor ignored"
        );
        assert!(r
            .explain()
            .starts_with("least loaded (0 open) of 3 eligible"));
    }

    #[test]
    fn only_online_agents_with_room_get_tickets_and_the_reason_says_why_not() {
        let away = vec![
            cand(1, Availability::Away, &[], None, 0),
            cand(2, Availability::Off, &[], None, 0),
        ];
        assert_eq!(
            choose(Mode::RoundRobin, None, &none(), &away),
            Err(NoOne::NoneOnline)
        );
        let full = vec![
            cand(1, Availability::Online, &[], Some(2), 2),
            cand(2, Availability::Online, &[], Some(0), 0),
        ];
        assert_eq!(
            choose(Mode::LeastLoaded, None, &none(), &full),
            Err(NoOne::AllAtCapacity)
        );
        assert_eq!(
            NoOne::AllAtCapacity.to_string(),
            "everyone online with the skills is at capacity"
        );
        assert_eq!(
            choose(Mode::RoundRobin, None, &none(), &[]),
            Err(NoOne::NoMembers)
        );
        assert_eq!(
            choose(Mode::Manual, None, &none(), &[on(1)]),
            Err(NoOne::Manual)
        );
        // Unlimited capacity always has room.
        assert!(cand(1, Availability::Online, &[], None, 9_999).has_room());
    }

    #[test]
    fn skills_must_all_be_present() {
        let c = vec![
            cand(1, Availability::Online, &["billing"], None, 0),
            cand(2, Availability::Online, &["billing", "tier:gold"], None, 5),
            cand(3, Availability::Online, &["tier:gold"], None, 0),
        ];
        let needs = needed_skills(None, &["skill:billing".into(), "tier:gold".into()]);
        assert_eq!(needs.skills, vec!["billing", "tier:gold"]);
        let r = choose(Mode::LeastLoaded, None, &needs, &c).unwrap();
        assert_eq!(r.agent_id, 2);
        assert_eq!(r.eligible, 1);
        assert!(r.explain().contains("skills billing, tier:gold"));
        let needs = needed_skills(None, &["skill:refunds".into(), "skill:billing".into()]);
        let e = choose(Mode::LeastLoaded, None, &needs, &c).unwrap_err();
        assert_eq!(
            e,
            NoOne::MissingSkills {
                needed: vec!["billing".into(), "refunds".into()],
                missing: vec!["refunds".into()]
            }
        );
        assert_eq!(e.to_string(), "nobody in the group has: refunds");
        // Each exists, nobody has both.
        let c2 = vec![
            cand(1, Availability::Online, &["a"], None, 0),
            cand(2, Availability::Online, &["b"], None, 0),
        ];
        let e = choose(
            Mode::RoundRobin,
            None,
            &needed_skills(None, &["skill:a".into(), "skill:b".into()]),
            &c2,
        )
        .unwrap_err();
        assert_eq!(e.to_string(), "nobody in the group has all of: a, b");
    }

    #[test]
    fn a_skilled_agent_who_is_away_makes_the_ticket_wait() {
        let c = vec![
            cand(1, Availability::Online, &[], None, 0),
            cand(2, Availability::Away, &["lang:de"], None, 0),
        ];
        let needs = needed_skills(Some("de-CH"), &[]);
        assert_eq!(needs.language.as_deref(), Some("lang:de"));
        assert_eq!(
            choose(Mode::RoundRobin, None, &needs, &c),
            Err(NoOne::NoneOnline)
        );
    }

    #[test]
    fn the_language_goes_to_a_speaker_or_is_ignored_when_nobody_speaks_it() {
        let c = vec![
            cand(1, Availability::Online, &["lang:en"], None, 0),
            cand(2, Availability::Online, &["lang:de-ch", "lang:en"], None, 4),
        ];
        let r = choose(Mode::LeastLoaded, None, &needed_skills(Some("de"), &[]), &c).unwrap();
        assert_eq!(r.agent_id, 2, "lang:de-ch covers lang:de");
        assert_eq!(r.language_ignored, None);
        let r = choose(
            Mode::LeastLoaded,
            None,
            &needed_skills(Some("fr-CA"), &[]),
            &c,
        )
        .unwrap();
        assert_eq!(r.agent_id, 1);
        assert_eq!(r.language_ignored.as_deref(), Some("lang:fr"));
        assert!(r.explain().contains("nobody in the group has lang:fr"));
        // Other skills are never dropped.
        let e = choose(
            Mode::LeastLoaded,
            None,
            &needed_skills(Some("fr"), &["skill:vip".into()]),
            &c,
        )
        .unwrap_err();
        assert_eq!(
            e,
            NoOne::MissingSkills {
                needed: vec!["vip".into()],
                missing: vec!["vip".into()]
            }
        );
    }

    #[test]
    fn has_skill_matches_exactly_or_by_region_for_languages_only() {
        let s = vec!["lang:de-ch".to_string(), "billing-eu".to_string()];
        assert!(has_skill(&s, "lang:de"));
        assert!(has_skill(&s, "lang:de-ch"));
        assert!(!has_skill(&s, "lang:d"));
        assert!(
            !has_skill(&s, "billing"),
            "only language skills have regions"
        );
        assert!(!has_skill(&["lang:dex".to_string()], "lang:de"));
    }

    #[test]
    fn needed_skills_come_from_language_and_tags() {
        let n = needed_skills(
            Some("pt_BR"),
            &[
                "skill:billing".into(),
                "vip".into(),
                "tier:gold".into(),
                "skill:".into(),
                "skill:billing".into(),
            ],
        );
        assert_eq!(n.language.as_deref(), Some("lang:pt"));
        assert_eq!(n.skills, vec!["billing", "tier:gold"]);
        assert_eq!(n.all(), vec!["lang:pt", "billing", "tier:gold"]);
        assert_eq!(needed_skills(Some(""), &[]).language, None);
        assert_eq!(
            needed_skills(None, &["skill:Bad.Tag".into()]).skills,
            Vec::<String>::new()
        );
    }

    #[test]
    fn skills_and_capacity_parse_strictly() {
        assert_eq!(
            parse_skills(&[" billing ".into(), "lang:de".into(), "billing".into()]).unwrap(),
            vec!["billing", "lang:de"]
        );
        for bad in ["", "Billing", "a b", "ü", "x.y", &"a".repeat(41)] {
            assert!(parse_skill(bad).is_err(), "{bad:?}");
        }
        assert!(parse_skill(&"a".repeat(40)).is_ok());
        let many: Vec<String> = (0..51).map(|i| format!("s{i}")).collect();
        assert_eq!(parse_skills(&many).unwrap_err().field, "skills");
        assert!(parse_skills(&many[..50]).is_ok());
        assert_eq!(check_capacity(None), Ok(None));
        assert_eq!(check_capacity(Some(0)), Ok(Some(0)));
        assert_eq!(check_capacity(Some(10_000)), Ok(Some(10_000)));
        assert!(check_capacity(Some(-1)).is_err());
        assert!(check_capacity(Some(10_001)).is_err());
        assert_eq!(Mode::parse("round_robin"), Ok(Mode::RoundRobin));
        assert_eq!(Mode::parse("fastest").unwrap_err().field, "mode");
        assert_eq!(Availability::parse("away"), Ok(Availability::Away));
        assert!(Availability::parse("busy").is_err());
    }

    #[test]
    fn routable_and_releases() {
        use crate::Status;
        assert!(routable(Status::New, None, Some(1)));
        assert!(routable(Status::Open, None, Some(1)));
        assert!(!routable(Status::Pending, None, Some(1)));
        assert!(!routable(Status::Open, Some(2), Some(1)));
        assert!(!routable(Status::Open, None, None));
        assert!(releases(Availability::Off, true));
        assert!(releases(Availability::Online, false));
        assert!(!releases(Availability::Away, true));
    }
}
