//! SLA engine: hand-computed table cases and property tests.
//!
//! Every table row carries a one-line comment saying how its expected value was worked out.
//! 2026 facts used below: Europe/Berlin springs forward Sun 29 Mar 02:00 CET→03:00 CEST
//! (01:00Z) and falls back Sun 25 Oct 03:00 CEST→02:00 CET (01:00Z); America/New_York
//! springs forward Sun 8 Mar 02:00 EST→03:00 EDT (07:00Z) and falls back Sun 1 Nov
//! 02:00 EDT→01:00 EST (06:00Z). 31 Mar 2026 is a Tuesday.

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use proptest::prelude::*;
use std::collections::BTreeMap;
use tend_core::sla::*;
use tend_core::{Actor, Change, Channel, Priority, Status};

// ---- calendars ---------------------------------------------------------------------------

fn calendar(name: &str) -> Calendar {
    let text = match name {
        "berlin" => "zone Europe/Berlin\nmon-fri 09:00-17:00",
        "ny" => "zone America/New_York\nmon-fri 09:00-17:00",
        "berlin_sat_night" => "zone Europe/Berlin\nsat 22:00-06:00",
        "ny_sat_night" => "zone America/New_York\nsat 22:00-06:00",
        "berlin_sun_early" => "zone Europe/Berlin\nsun 00:00-06:00",
        "berlin_holidays" => {
            "zone Europe/Berlin\nmon-fri 09:00-17:00\nholiday 2026-04-03 Good Friday\n\
             holiday 2026-04-06 Easter Monday\nyearly 12-25 Christmas\nyearly 12-26 Boxing Day"
        }
        "fri_night_off_may1" => {
            "zone Europe/Berlin\nfri 22:00-06:00\nholiday 2026-05-01 Labour Day"
        }
        "fri_night_off_may9" => {
            "zone Europe/Berlin\nfri 22:00-06:00\nholiday 2026-05-09 A Saturday"
        }
        "split" => "zone Europe/Berlin\nmon-fri 08:00-12:00 13:00-17:00\nfri 22:00-06:00",
        "ny_24h" => "zone America/New_York\ndaily 00:00-24:00",
        "ny_24h_july4" => "zone America/New_York\ndaily 00:00-24:00\nyearly 07-04 Independence Day",
        "fri_night" => "zone Europe/Berlin\nfri 22:00-06:00",
        "always" => return Calendar::always(),
        other => panic!("no calendar {other}"),
    };
    Calendar::parse(text).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// `2026-03-27 16:00` or `03-27 16:00` (2026) in `tz`, `HH:MM` on the day of `prev`, or an
/// RFC 3339 instant ending in `Z`.
fn when(tz: Tz, s: &str, prev: Option<NaiveDate>) -> DateTime<Utc> {
    let s = s.trim();
    if s.ends_with('Z') {
        return DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
    }
    let naive = if s.len() == 5 {
        let t = chrono::NaiveTime::parse_from_str(s, "%H:%M").unwrap();
        NaiveDateTime::new(prev.expect("a date first"), t)
    } else if s.len() == 11 {
        NaiveDateTime::parse_from_str(&format!("2026-{s}"), "%Y-%m-%d %H:%M").unwrap()
    } else {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap()
    };
    tz.from_local_datetime(&naive)
        .earliest()
        .unwrap_or_else(|| panic!("{s} does not exist in {tz}"))
        .with_timezone(&Utc)
}

fn local(tz: Tz, t: DateTime<Utc>) -> String {
    t.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string()
}

fn full(s: &str) -> String {
    if s.len() == 11 {
        format!("2026-{s}")
    } else {
        s.to_string()
    }
}

// ---- business time: hand-computed table ---------------------------------------------------

/// (calendar, from, to, expected business minutes)
const DURATIONS: &[(&str, &str, &str, i64)] = &[
    // Tue 10:00–15:30 inside 09–17.
    ("berlin", "2026-03-24 10:00", "2026-03-24 15:30", 330),
    // Fri 16–17 (1 h) + Mon 09–10 (1 h); the DST weekend does not touch 09–17 wall hours.
    ("berlin", "2026-03-27 16:00", "2026-03-30 10:00", 120),
    // A weekend, including the spring-forward Sunday: no hours.
    ("berlin", "2026-03-28 12:00", "2026-03-29 23:00", 0),
    // Mon 23 → Mon 30 Mar 08:00: five 8 h days = 40 h, across the spring change.
    ("berlin", "2026-03-23 08:00", "2026-03-30 08:00", 2400),
    // Mon 19 Oct 09:00 → Mon 26 Oct 17:00: 5×8 h + 8 h = 48 h, across the autumn change.
    ("berlin", "2026-10-19 09:00", "2026-10-26 17:00", 2880),
    // New York: Fri 16–17 + Mon 09–10 around the 8 Mar change.
    ("ny", "2026-03-06 16:00", "2026-03-09 10:00", 120),
    // New York: Fri 16:30–17:00 (30) + Mon 09:00–09:15 (15) around the 1 Nov change.
    ("ny", "2026-10-30 16:30", "2026-11-02 09:15", 45),
    // Sat 22:00 CET (21:00Z) → Sun 06:00 CEST (04:00Z): the spring night is 7 h.
    (
        "berlin_sat_night",
        "2026-03-28 20:00",
        "2026-03-29 12:00",
        420,
    ),
    // Sat 22:00 CEST (20:00Z) → Sun 06:00 CET (05:00Z): the autumn night is 9 h.
    (
        "berlin_sat_night",
        "2026-10-24 20:00",
        "2026-10-25 12:00",
        540,
    ),
    // An ordinary Saturday night: 22:00 → 06:00 = 8 h.
    (
        "berlin_sat_night",
        "2026-03-21 20:00",
        "2026-03-22 12:00",
        480,
    ),
    // New York Sat 22:00 EST (03:00Z) → Sun 06:00 EDT (10:00Z) = 7 h.
    ("ny_sat_night", "2026-03-07 20:00", "2026-03-08 12:00", 420),
    // New York Sat 22:00 EDT (02:00Z) → Sun 06:00 EST (11:00Z) = 9 h.
    ("ny_sat_night", "2026-10-31 20:00", "2026-11-01 12:00", 540),
    // Sun 00:00 CET (23:00Z Sat) → 06:00 CEST (04:00Z): the shift holding the gap is 5 h.
    (
        "berlin_sun_early",
        "2026-03-29 00:00",
        "2026-03-29 12:00",
        300,
    ),
    // Sun 00:00 CEST (22:00Z Sat) → 06:00 CET (05:00Z): the shift holding the repeat is 7 h.
    (
        "berlin_sun_early",
        "2026-10-25 00:00",
        "2026-10-25 12:00",
        420,
    ),
    // 02:30 CEST (00:30Z) → 02:30 CET (01:30Z): one real hour between the two 02:30s.
    (
        "berlin_sun_early",
        "2026-10-25T00:30:00Z",
        "2026-10-25T01:30:00Z",
        60,
    ),
    // 01:30 CET (00:30Z) → 03:30 CEST (01:30Z): one real hour across the skipped hour.
    (
        "berlin_sun_early",
        "2026-03-29T00:30:00Z",
        "2026-03-29T01:30:00Z",
        60,
    ),
    // Thu 16–17 (1 h); Good Friday and Easter Monday are holidays; Tue 09–10 (1 h).
    (
        "berlin_holidays",
        "2026-04-02 16:00",
        "2026-04-07 10:00",
        120,
    ),
    // Thu 24 Dec 16–17 (1 h); Fri 25 Dec yearly holiday; Mon 28 Dec 09–10 (1 h).
    (
        "berlin_holidays",
        "2026-12-24 16:00",
        "2026-12-28 10:00",
        120,
    ),
    // 2028: 25/26 Dec are Mon/Tue (yearly holidays); Fri 22 16–17 + Wed 27 09–10.
    (
        "berlin_holidays",
        "2028-12-22 16:00",
        "2028-12-27 10:00",
        120,
    ),
    // The Fri 1 May overnight shift starts on a holiday, so it is cancelled whole.
    (
        "fri_night_off_may1",
        "2026-05-01 20:00",
        "2026-05-02 08:00",
        0,
    ),
    // A holiday on Sat 9 May does not cut Friday's overnight shift: 22:00→06:00 = 8 h.
    (
        "fri_night_off_may9",
        "2026-05-08 20:00",
        "2026-05-09 08:00",
        480,
    ),
    // Split shift: 11–12 (60) + 13–14 (60); lunch does not count.
    ("split", "2026-06-01 11:00", "2026-06-01 14:00", 120),
    // Split shift Fri 16–17 (60) + overnight 22:00–06:00 (480).
    ("split", "2026-06-05 16:00", "2026-06-06 08:00", 540),
    // 364 days = 52 weeks of 40 h = 2080 h (taken a week at a time).
    ("berlin", "2026-01-05 09:00", "2027-01-04 09:00", 124_800),
    // 24/7: Berlin's spring Sunday, 23:00Z → 22:00Z, is 23 h of calendar time.
    (
        "always",
        "2026-03-28T23:00:00Z",
        "2026-03-29T22:00:00Z",
        1380,
    ),
    // A 24/7 New York calendar: Sun 8 Mar local day 05:00Z → 04:00Z = 23 h.
    ("ny_24h", "2026-03-08 00:00", "2026-03-09 00:00", 1380),
    // 24/7 with a holiday (the slow path): Sun 1 Nov local day 04:00Z → 05:00Z = 25 h.
    ("ny_24h_july4", "2026-11-01 00:00", "2026-11-02 00:00", 1500),
    // Fri 3 Jul 12–24 (12 h) + Sat 4 Jul holiday (0) + Sun 5 Jul 00–12 (12 h).
    ("ny_24h_july4", "2026-07-03 12:00", "2026-07-05 12:00", 1440),
];

/// (calendar, from, business minutes, expected due in the calendar's zone)
const DUES: &[(&str, &str, i64, &str)] = &[
    // Fri 16:00 + 1 h → 17:00, + 1 h Mon → Mon 10:00 CEST (08:00Z, not 09:00Z).
    ("berlin", "2026-03-27 16:00", 120, "2026-03-30 10:00"),
    // Exactly a day's hours: due at closing time, not the next morning.
    ("berlin", "2026-03-23 09:00", 480, "2026-03-23 17:00"),
    // Starting on a Saturday: the clock starts Monday 09:00.
    ("berlin", "2026-03-28 10:00", 60, "2026-03-30 10:00"),
    // New York: Fri 16–17 + Mon 09–10 EST across the autumn change.
    ("ny", "2026-10-30 16:00", 120, "2026-11-02 10:00"),
    // The 7 h spring night leaves 1 h for the next Saturday: 22:00 + 1 h.
    (
        "berlin_sat_night",
        "2026-03-28 21:00",
        480,
        "2026-04-04 23:00",
    ),
    // Thu 16–17 (1 h), Fri/Mon holidays, Tue 09:00 + 3 h.
    (
        "berlin_holidays",
        "2026-04-02 16:00",
        240,
        "2026-04-07 12:00",
    ),
    // 52 weeks of 40 h end at the close of the 52nd week's Friday, 1 Jan 2027.
    ("berlin", "2026-01-05 09:00", 124_800, "2027-01-01 17:00"),
    // New York autumn night from 23:00 EDT (03:00Z) + 8 h = 11:00Z = 06:00 EST, shift end.
    ("ny_sat_night", "2026-10-31 23:00", 480, "2026-11-01 06:00"),
    // The 5 h gap-night shift is used up at its end, 06:00 CEST.
    (
        "berlin_sun_early",
        "2026-03-29 00:00",
        300,
        "2026-03-29 06:00",
    ),
];

#[test]
fn business_durations_by_hand() {
    for (i, &(cal_name, from, to, minutes)) in DURATIONS.iter().enumerate() {
        let cal = calendar(cal_name);
        let tz = cal.time_zone();
        let (a, b) = (when(tz, from, None), when(tz, to, None));
        let got = cal.business_duration(a, b);
        assert_eq!(
            got,
            Duration::minutes(minutes),
            "durations[{i}] {cal_name} {from} → {to}: got {} min",
            got.num_minutes()
        );
    }
}

#[test]
fn due_times_by_hand() {
    for (i, &(cal_name, from, minutes, due)) in DUES.iter().enumerate() {
        let cal = calendar(cal_name);
        let tz = cal.time_zone();
        let a = when(tz, from, None);
        let got = cal
            .add_business(a, Duration::minutes(minutes))
            .expect("a due time");
        assert_eq!(
            local(tz, got),
            due,
            "dues[{i}] {cal_name} {from} + {minutes} min"
        );
        assert_eq!(
            cal.business_duration(a, got),
            Duration::minutes(minutes),
            "dues[{i}] round trip"
        );
    }
}

// ---- the clock: hand-computed scenarios ---------------------------------------------------

/// Default policy: first reply 1 h, next reply 30 min, periodic update 2 h, resolution 8 h,
/// all in business time with the default pauses.
const P: &str = "first_reply=60 next_reply=30 periodic_update=120 resolution=480";

struct Scenario {
    name: &'static str,
    cal: &'static str,
    policy: &'static str,
    script: &'static str,
    now: &'static str,
    expect: &'static [&'static str],
}

const fn sc(
    name: &'static str,
    cal: &'static str,
    policy: &'static str,
    script: &'static str,
    now: &'static str,
    expect: &'static [&'static str],
) -> Scenario {
    Scenario {
        name,
        cal,
        policy,
        script,
        now,
        expect,
    }
}

/// Expectations: `metric#cycle state [due=MM-DD HH:MM] [elapsed=min] [by=min] [paused=min]`,
/// `metric count=N`, `policy=name`. Times are local to the calendar, year 2026.
const SCENARIOS: &[Scenario] = &[
    // Tue 09:00 + 1 h = 10:00; the reply at 09:40 came after 40 min.
    sc("first reply met", "berlin", P, "03-31 09:00 create; 09:40 agent", "03-31 12:00",
       &["first_reply#1 fulfilled due=03-31 10:00 elapsed=40"]),
    // Due 10:00; reply 11:12 is 132 min after 09:00, 72 past the target.
    sc("first reply breached", "berlin", P, "03-31 09:00 create; 11:12 agent", "03-31 12:00",
       &["first_reply#1 breached due=03-31 10:00 elapsed=132 by=72"]),
    // An internal note is no reply: 50 min on the clock at 09:50, still due 10:00.
    sc("note is not a reply", "berlin", P, "03-31 09:00 create; 09:10 note", "03-31 09:50",
       &["first_reply#1 active due=03-31 10:00 elapsed=50"]),
    // Created 18:30 after hours: the clock starts Wed 09:00, reply 09:30 = 30 min.
    sc("created after hours", "berlin", P, "03-31 18:30 create; 04-01 09:30 agent", "04-01 12:00",
       &["first_reply#1 fulfilled due=04-01 10:00 elapsed=30"]),
    // Fri 16:30–17:00 (30) + Mon 09:00–09:45 (45) = 75 > 60: due Mon 09:30, 15 over.
    sc("breach over the DST weekend", "berlin", P, "03-27 16:30 create", "03-30 09:45",
       &["first_reply#1 breached due=03-30 09:30 elapsed=75 by=15"]),
    // Resolution: 09–10 (60) + 12:05–13:05 (60); pending 10:00–12:05 (125) paused; 360 left
    // from 13:05 = 235 today + 125 Wed → Wed 11:05. Next reply from 12:05: 60 > 30.
    sc("pending pauses resolution", "berlin", P,
       "03-31 09:00 create; 09:30 agent; 10:00 pending; 12:05 customer; 12:05 open", "03-31 13:05",
       &["resolution#1 active due=04-01 11:05 elapsed=120 paused=125",
         "next_reply#1 breached due=03-31 12:35 elapsed=60 by=30"]),
    // Pending does not pause reply clocks by default: 09:00→10:30 = 90, 30 over.
    sc("pending does not pause first reply", "berlin", P,
       "03-31 09:00 create; 09:10 pending; 10:30 agent", "03-31 11:00",
       &["first_reply#1 breached due=03-31 10:00 elapsed=90 by=30"]),
    // pause_on pending: 09:00–09:20 (20) + 09:50–10:20 (30) = 50; 10 left at 10:20 → 10:30.
    sc("custom pause on first reply", "berlin", "first_reply=60/pending",
       "03-31 09:00 create; 09:20 pending; 09:50 open; 10:20 agent", "03-31 11:00",
       &["first_reply#1 fulfilled due=03-31 10:30 elapsed=50 paused=30"]),
    // Next reply runs: #1 10:00→10:20 (20, second message does not restart it);
    // #2 11:00→11:45 (45, due 11:30); #3 from 12:00, 10 min at 12:10, due 12:30.
    sc("next reply chain", "berlin", P,
       "03-31 09:00 create; 09:10 agent; 10:00 customer; 10:05 customer; 10:20 agent; 11:00 customer; 11:45 agent; 12:00 customer",
       "03-31 12:10",
       &["next_reply#1 fulfilled due=03-31 10:30 elapsed=20",
         "next_reply#2 breached due=03-31 11:30 elapsed=45 by=15",
         "next_reply#3 active due=03-31 12:30 elapsed=10", "next_reply count=3"]),
    // Next reply across closing: 16:50–17:00 (10) + Wed 09:00–09:15 (15) = 25; due 09:20.
    sc("next reply across the night", "berlin", P,
       "03-31 09:00 create; 09:10 agent; 16:50 customer; 04-01 09:15 agent", "04-01 10:00",
       &["next_reply#1 fulfilled due=04-01 09:20 elapsed=25"]),
    // A customer message before the first reply is covered by first reply: no next reply.
    sc("no next reply before the first", "berlin", P,
       "03-31 09:00 create; 09:05 customer; 09:30 agent", "03-31 10:00",
       &["next_reply count=0", "first_reply#1 fulfilled elapsed=30"]),
    // Updates: #1 09:30→11:00 (90, 30 to spare → 11:30); #2 from 11:00 due 13:00, 30 over at 13:30.
    sc("periodic updates", "berlin", P, "03-31 09:00 create; 09:30 agent; 11:00 agent", "03-31 13:30",
       &["periodic_update#1 fulfilled due=03-31 11:30 elapsed=90",
         "periodic_update#2 breached due=03-31 13:00 elapsed=150 by=30"]),
    // Update clock 09:30–10:00 (30) + 14:00–15:00 (60) = 90; pending 10–14 paused (240); due 15:30.
    sc("periodic update paused in pending", "berlin", P,
       "03-31 09:00 create; 09:30 agent; 10:00 pending; 14:00 open", "03-31 15:00",
       &["periodic_update#1 active due=03-31 15:30 elapsed=90 paused=240"]),
    // Solving at 09:20 fulfils first reply (20 min); resolution 20 min, 460 left → 17:00.
    sc("solving fulfils reply clocks", "berlin", P, "03-31 09:00 create; 09:20 solved", "03-31 10:00",
       &["first_reply#1 fulfilled elapsed=20", "resolution#1 fulfilled due=03-31 17:00 elapsed=20"]),
    // Reopen: resolution 09–12 (180) + Wed 10–11 (60) = 240; solved Tue 12–17 + Wed 09–10
    // = 360 paused; 240 left from 11:00 → 15:00. Customer's reopening message: next reply
    // from 10:00, 60 > 30. Update #1 09:30→12:00 solved = 150 > 120, due 11:30.
    sc("reopen resumes resolution", "berlin", P,
       "03-31 09:00 create; 09:30 agent; 12:00 solved; 04-01 10:00 customer; 10:00 open", "04-01 11:00",
       &["resolution#1 active due=04-01 15:00 elapsed=240 paused=360",
         "next_reply#1 breached due=04-01 10:30 elapsed=60 by=30",
         "periodic_update#1 breached due=03-31 11:30 elapsed=150 by=30"]),
    // Before the reopen: solved at 16:00 after 420 min, 60 to spare → projected due 17:00.
    sc("resolution met at solve", "berlin", P,
       "03-31 09:00 create; 09:10 agent; 16:00 solved; 04-01 09:00 customer; 09:00 open", "04-01 08:00",
       &["resolution#1 fulfilled due=03-31 17:00 elapsed=420"]),
    // Same ticket after the reopen: 420 + Wed 09:00–10:30 (90) = 510 > 480: due Wed 10:00.
    sc("reopen can breach resolution", "berlin", P,
       "03-31 09:00 create; 09:10 agent; 16:00 solved; 04-01 09:00 customer; 09:00 open", "04-01 10:30",
       &["resolution#1 breached due=04-01 10:00 elapsed=510 by=30"]),
    // On hold Tue 10:00 → Wed 10:00 = 7 h + 1 h = 480 paused; 60 run; 420 left → Wed 17:00.
    sc("on hold pauses resolution", "berlin", P,
       "03-31 09:00 create; 10:00 on_hold; 04-01 10:00 open", "04-01 10:00",
       &["resolution#1 active due=04-01 17:00 elapsed=60 paused=480"]),
    // Pending since 11:00: resolution paused after 120 min, no due time while paused.
    sc("still paused", "berlin", P, "03-31 09:00 create; 11:00 pending", "03-31 15:00",
       &["resolution#1 paused elapsed=120 paused=240"]),
    // Policy change: urgent (30 min) now applies from the start: due 09:30, 50 min at 09:50.
    sc("policy change re-evaluates from the start", "berlin",
       "urgent: priority=urgent first_reply=30 | default: first_reply=240",
       "03-31 09:00 create; 09:45 prio urgent", "03-31 09:50",
       &["policy=urgent", "first_reply#1 breached due=03-31 09:30 elapsed=50 by=20"]),
    // Before the change (09:40): the default 4 h policy, due 13:00.
    sc("policy before the change", "berlin",
       "urgent: priority=urgent first_reply=30 | default: first_reply=240",
       "03-31 09:00 create; 09:45 prio urgent", "03-31 09:40",
       &["policy=default", "first_reply#1 active due=03-31 13:00 elapsed=40"]),
    // Calendar time: Fri 16:30 + 60 = 17:30; reply 17:45 is 75 min, 15 over.
    sc("calendar-time target", "berlin", "first_reply=60c", "03-27 16:30 create; 17:45 agent", "03-27 18:00",
       &["first_reply#1 breached due=03-27 17:30 elapsed=75 by=15"]),
    // 24 h of calendar time from Sat 12:00 CET (11:00Z) = Sun 11:00Z = 13:00 CEST.
    sc("calendar day over spring DST", "berlin", "resolution=1440c", "03-28 12:00 create", "03-28 13:00",
       &["resolution#1 active due=03-29 13:00 elapsed=60"]),
    // 24 h from Sat 12:00 EDT (16:00Z) = Sun 16:00Z = 11:00 EST.
    sc("calendar day over autumn DST", "ny", "resolution=1440c", "10-31 12:00 create", "10-31 13:00",
       &["resolution#1 active due=11-01 11:00 elapsed=60"]),
    // New York: Fri 16–17 (60) + Mon 09:00–10:30 EDT (90) = 150 > 120, due Mon 10:00.
    sc("business hours over NY spring DST", "ny", "first_reply=120", "03-06 16:00 create; 03-09 10:30 agent", "03-09 11:00",
       &["first_reply#1 breached due=03-09 10:00 elapsed=150 by=30"]),
    // New York: Fri 16:30–17:00 (30) + Mon 09–10 EST (60) = 90; 30 to spare → 10:30.
    sc("business hours over NY autumn DST", "ny", "first_reply=120", "10-30 16:30 create; 11-02 10:00 agent", "11-02 11:00",
       &["first_reply#1 fulfilled due=11-02 10:30 elapsed=90"]),
    // Berlin: Fri 16:45–17:00 (15) + Mon 09:00–09:50 (50) = 65 > 60, due Mon 09:45.
    sc("business hours over Berlin autumn DST", "berlin", "first_reply=60", "10-23 16:45 create", "10-26 09:50",
       &["first_reply#1 breached due=10-26 09:45 elapsed=65 by=5"]),
    // Overnight shift: created Fri 21:00, clock from 22:00; at 23:00 60 min; 60 left → 00:00.
    sc("overnight shift", "fri_night", "first_reply=120", "03-27 21:00 create", "03-27 23:00",
       &["first_reply#1 active due=03-28 00:00 elapsed=60"]),
    // Spring night shift is 7 h (420); 60 left → next Saturday 22:00 + 1 h.
    sc("overnight shift over spring DST", "berlin_sat_night", "resolution=480", "03-28 21:00 create", "03-29 12:00",
       &["resolution#1 active due=04-04 23:00 elapsed=420"]),
    // Holidays: Thu 15–17 (120) + Tue 09:00–10:30 (90) = 210 of 240; due 11:00.
    sc("holidays skipped", "berlin_holidays", "first_reply=240", "04-02 15:00 create; 04-07 10:30 agent", "04-07 12:00",
       &["first_reply#1 fulfilled due=04-07 11:00 elapsed=210"]),
    // Yearly holiday: Thu 24 Dec 16–17 (60) + Mon 28 Dec 09:00–09:30 (30); 30 left → 10:00.
    sc("yearly holiday", "berlin_holidays", "first_reply=120", "12-24 16:00 create", "12-28 09:30",
       &["first_reply#1 active due=12-28 10:00 elapsed=90"]),
    // Imported already solved: every clock fulfilled at once with nothing elapsed.
    sc("created solved", "berlin", P, "03-31 09:00 create solved", "03-31 10:00",
       &["first_reply#1 fulfilled elapsed=0", "resolution#1 fulfilled elapsed=0"]),
    // Solved at 11:00 without a reply: first reply was due 10:00, 60 over; solving does not undo it.
    sc("solved after the breach", "berlin", P, "03-31 09:00 create; 11:00 solved", "03-31 12:00",
       &["first_reply#1 breached due=03-31 10:00 elapsed=120 by=60"]),
    // Reply and solve together start no update clock.
    sc("reply and solve", "berlin", P, "03-31 09:00 create; 09:30 agent; 09:30 solved", "03-31 10:00",
       &["periodic_update count=0", "first_reply#1 fulfilled elapsed=30", "resolution#1 fulfilled elapsed=30"]),
    // A customer writes on a solved ticket that stays solved: next reply waits, paused.
    sc("message on a solved ticket", "berlin", P,
       "03-31 09:00 create; 09:10 agent; 09:20 solved; 10:00 customer", "03-31 11:00",
       &["next_reply#1 paused elapsed=0"]),
    // A system autoreply is no reply: 30 min on the first-reply clock at 09:30, due 10:00.
    sc("system message is no reply", "berlin", P, "03-31 09:00 create; 09:05 system; 09:30 customer", "03-31 09:30",
       &["first_reply#1 active due=03-31 10:00 elapsed=30", "next_reply count=0"]),
    // pause_on on_hold only: pending does not pause, 09:00–12:00 = 180; 300 left → 17:00.
    sc("custom pause list", "berlin", "resolution=480/on_hold",
       "03-31 09:00 create; 10:00 pending; 11:00 open", "03-31 12:00",
       &["resolution#1 active due=03-31 17:00 elapsed=180"]),
    // Split shift: 11–12 (60) + 13:00–14:30 (90) = 150 > 120; due 14:00 (lunch skipped).
    sc("split shift", "split", "first_reply=120", "06-01 11:00 create; 14:30 agent", "06-01 15:00",
       &["first_reply#1 breached due=06-01 14:00 elapsed=150 by=30"]),
    // Due 17:00 (closing), checked at 20:00: breached, but no business time past due yet.
    sc("breach after closing", "berlin", "first_reply=60", "03-31 16:00 create", "03-31 20:00",
       &["first_reply#1 breached due=03-31 17:00 elapsed=60 by=0"]),
];

fn policies(spec: &str) -> Vec<Policy> {
    spec.split('|')
        .map(|seg| {
            let seg = seg.trim();
            let (name, rest) = match seg.split_once(": ") {
                Some((n, r)) => (n.to_string(), r),
                None => ("policy".to_string(), seg),
            };
            let mut p = Policy {
                name,
                conditions: Conditions::default(),
                targets: Vec::new(),
                calendar: None,
            };
            for tok in rest.split_whitespace() {
                let (k, v) = tok.split_once('=').unwrap();
                if k == "priority" {
                    p.conditions.priority.push(v.parse().unwrap());
                    continue;
                }
                let metric: Metric = serde_json::from_value(serde_json::json!(k)).unwrap();
                let (v, pause) = match v.split_once('/') {
                    Some((v, p)) => (
                        v,
                        Some(p.split(',').map(|s| s.parse::<Status>().unwrap()).collect()),
                    ),
                    None => (v, None),
                };
                let (v, business_hours) = match v.strip_suffix('c') {
                    Some(v) => (v, false),
                    None => (v, true),
                };
                p.targets.push(Target {
                    metric,
                    minutes: v.parse().unwrap(),
                    business_hours,
                    pause_on: pause,
                });
            }
            p
        })
        .collect()
}

fn created(status: Status, priority: Priority) -> Change {
    Change::Created {
        subject: "s".into(),
        status,
        priority,
        channel: Channel::Email,
        requester_id: 1,
        organization_id: None,
        assignee_id: None,
        group_id: None,
        brand_id: None,
        tags: Vec::new(),
        fields: BTreeMap::new(),
    }
}

fn script(tz: Tz, text: &str) -> Vec<Event> {
    let mut out = Vec::new();
    let mut date = None;
    let mut status = Status::New;
    let mut priority = Priority::Normal;
    for (i, step) in text.split(';').enumerate() {
        let step = step.trim();
        let mut words = step.split_whitespace().collect::<Vec<_>>();
        let time = if words[0].contains('-') {
            let t = format!("{} {}", words[0], words[1]);
            words.drain(..2);
            t
        } else {
            words.remove(0).to_string()
        };
        let at = when(tz, &time, date);
        date = Some(at.with_timezone(&tz).date_naive());
        let msg = |public| Change::MessageAdded {
            time_spent_seconds: None,
            message_id: i as i64,
            public,
        };
        let (actor, change) = match words[0] {
            "create" => {
                if let Some(s) = words.get(1) {
                    status = s.parse().unwrap();
                }
                (Actor::customer(1), created(status, priority))
            }
            "agent" => (Actor::agent(7), msg(true)),
            "note" => (Actor::agent(7), msg(false)),
            "customer" => (Actor::customer(1), msg(true)),
            "system" => (Actor::SYSTEM, msg(true)),
            "prio" => {
                let to: Priority = words[1].parse().unwrap();
                let from = std::mem::replace(&mut priority, to);
                (Actor::agent(7), Change::PriorityChanged { from, to })
            }
            s => {
                let to: Status = s.parse().unwrap_or_else(|_| panic!("unknown step {step}"));
                let from = std::mem::replace(&mut status, to);
                (Actor::agent(7), Change::StatusChanged { from, to })
            }
        };
        out.push((at, actor, change));
    }
    out
}

#[test]
fn clock_scenarios_by_hand() {
    for sc in SCENARIOS {
        let cal = calendar(sc.cal);
        let tz = cal.time_zone();
        let events = script(tz, sc.script);
        let ps = policies(sc.policy);
        tend_core::sla::validate_policies(&ps).unwrap();
        let now = when(tz, sc.now, None);
        let (policy, statuses) = evaluate_ticket(&events, &cal, &ps, None, now).expect("a policy");
        let ctx = || {
            statuses
                .iter()
                .map(|s| {
                    format!(
                        "  {}#{} {:?}: {}",
                        s.metric, s.cycle, s.state, s.explanation
                    )
                })
                .collect::<Vec<_>>()
                .join("\n")
        };
        for exp in sc.expect {
            let mut words = exp.split_whitespace();
            let head = words.next().unwrap();
            if let Some(name) = head.strip_prefix("policy=") {
                assert_eq!(policy.name, name, "{}", sc.name);
                continue;
            }
            let (metric, cycle) = head.split_once('#').unwrap_or((head, "0"));
            let metric: Metric = serde_json::from_value(serde_json::json!(metric)).unwrap();
            let runs: Vec<&TargetStatus> = statuses.iter().filter(|s| s.metric == metric).collect();
            let second = words.next().unwrap();
            if let Some(n) = second.strip_prefix("count=") {
                assert_eq!(
                    runs.len(),
                    n.parse::<usize>().unwrap(),
                    "{}: {exp}\n{}",
                    sc.name,
                    ctx()
                );
                continue;
            }
            let cycle: u32 = cycle.parse().unwrap();
            let st = runs
                .iter()
                .find(|s| s.cycle == cycle)
                .unwrap_or_else(|| panic!("{}: no {head}\n{}", sc.name, ctx()));
            let state: SlaState = serde_json::from_value(serde_json::json!(second)).unwrap();
            assert_eq!(st.state, state, "{}: {exp}\n{}", sc.name, ctx());
            let mins = |d: Duration| d.num_minutes().to_string();
            let fail = || format!("{}: {exp}\n{}", sc.name, ctx());
            while let Some(kv) = words.next() {
                let (k, v) = kv
                    .split_once('=')
                    .unwrap_or_else(|| panic!("bad expectation {exp}"));
                match k {
                    // `due=MM-DD HH:MM`: the time is the next word.
                    "due" => {
                        let due = full(&format!("{v} {}", words.next().unwrap()));
                        assert_eq!(st.due_at.map(|d| local(tz, d)), Some(due), "{}", fail());
                    }
                    "elapsed" => assert_eq!(mins(st.elapsed), v, "{}", fail()),
                    "by" => assert_eq!(st.breached_by.map(mins).as_deref(), Some(v), "{}", fail()),
                    "paused" => {
                        let total: Duration = st.paused.iter().map(|p| p.business).sum();
                        assert_eq!(mins(total), v, "{}", fail());
                    }
                    other => panic!("unknown expectation {other}"),
                }
            }
            if state == SlaState::Paused {
                assert!(st.due_at.is_none(), "{}: paused has no due time", sc.name);
            }
        }
    }
}

#[test]
fn there_are_at_least_forty_hand_computed_cases() {
    assert!(DURATIONS.len() + DUES.len() + SCENARIOS.len() >= 40);
}

#[test]
fn explanation_reads_like_the_issue() {
    let cal = calendar("berlin");
    let tz = cal.time_zone();
    let events = script(
        tz,
        "03-31 09:00 create; 09:10 pending; 09:25 open; 11:27 agent",
    );
    let p = &policies("first_reply=60/pending")[0];
    let st = evaluate(&events, &cal, p, when(tz, "03-31 12:00", None));
    assert_eq!(
        st[0].explanation,
        "first reply within 1 h business time: due Tue 31 Mar 10:15 Europe/Berlin; \
         paused 15 min in pending; first reply Tue 31 Mar 11:27 → breached by 1 h 12 min"
    );
    let active = evaluate(&events, &cal, p, when(tz, "03-31 09:40", None));
    assert_eq!(
        active[0].explanation,
        "first reply within 1 h business time: due Tue 31 Mar 10:15 Europe/Berlin; paused 15 min in pending; 35 min of 1 h left"
    );
    let json = serde_json::to_value(&st[0]).unwrap();
    assert_eq!(json["state"], "breached");
    assert_eq!(json["breached_by"], 72 * 60);
}

#[test]
fn evaluation_of_odd_input_does_not_panic() {
    let cal = calendar("berlin");
    let now = when(cal.time_zone(), "03-31 12:00", None);
    let bad = Policy {
        name: "bad".into(),
        conditions: Conditions::default(),
        targets: vec![
            Target::new(Metric::FirstReply, 0, true),
            Target::new(Metric::Resolution, -10, false),
        ],
        calendar: None,
    };
    assert!(bad.validate().is_err());
    assert!(evaluate(&[], &cal, &bad, now).is_empty());
    // No Created event, events out of order, events after now.
    let events = vec![
        (
            now - Duration::hours(1),
            Actor::customer(1),
            Change::MessageAdded {
                time_spent_seconds: None,
                message_id: 1,
                public: true,
            },
        ),
        (
            now - Duration::hours(3),
            Actor::agent(1),
            Change::MessageAdded {
                time_spent_seconds: None,
                message_id: 2,
                public: true,
            },
        ),
        (
            now + Duration::hours(3),
            Actor::agent(1),
            Change::StatusChanged {
                from: Status::Open,
                to: Status::Solved,
            },
        ),
    ];
    let st = evaluate(&events, &cal, &bad, now);
    assert_eq!(st.len(), 2);
    assert_eq!(st[0].state, SlaState::Fulfilled); // a 0-minute target met at once
    assert_eq!(st[1].state, SlaState::Breached); // due at its start
                                                 // A calendar whose only hours are cancelled by holidays for a long time still answers.
    let sparse = Calendar::parse("zone UTC\nmon 09:00-10:00\nholiday 2026-04-06").unwrap();
    // 30 days of 1 h Mondays is 720 weeks away; 366 days (8784 weeks) is past the horizon.
    let far = sparse.add_business(now, Duration::days(30));
    assert!(far.is_some_and(|d| d > now + Duration::days(719 * 7)));
    assert_eq!(sparse.add_business(now, Duration::days(366)), None);
}

// ---- property tests ---------------------------------------------------------------------

const ZONES: &[&str] = &[
    "Europe/Berlin",
    "America/New_York",
    "Australia/Sydney",
    "Asia/Tokyo",
    "UTC",
    "Asia/Kolkata",
    "America/Santiago",
    "Australia/Lord_Howe",
    "Asia/Kathmandu",
];

/// Shifts as (weekday, start minute, end minute up to 2880), the calendar built from them.
#[derive(Debug, Clone)]
struct Cal {
    cal: Calendar,
    shifts: Vec<(u32, u32, u32)>,
}

fn hhmm(m: u32) -> String {
    format!("{:02}:{:02}", m / 60, m % 60)
}

/// Random calendars; with `plain` only zones and shift ends at which the wall clock is never
/// ambiguous, so that a minute-by-minute reference agrees exactly.
fn arb_cal(plain: bool) -> impl Strategy<Value = Cal> {
    let zones: Vec<&str> = if plain {
        vec![
            "Europe/Berlin",
            "America/New_York",
            "Australia/Sydney",
            "Asia/Tokyo",
            "UTC",
            "Asia/Kolkata",
        ]
    } else {
        ZONES.to_vec()
    };
    (
        proptest::sample::select(zones),
        proptest::collection::vec((0..7u32, 0..96u32, 1..=64u32), 1..10),
        proptest::collection::vec(0..800u64, 0..6),
        proptest::collection::vec((1..=12u32, 1..=28u32), 0..3),
    )
        .prop_map(move |(zone, cands, once, yearly)| {
            let mut spec = CalendarSpec {
                time_zone: zone.into(),
                hours: Vec::new(),
                holidays: Vec::new(),
            };
            let mut shifts = Vec::new();
            for (day, q, len) in cands {
                let s = q * 15;
                let e = s + len * 15;
                let end_tod = e % 1440;
                if plain && ([1, 2].contains(&(s / 60)) || [1, 2].contains(&(end_tod / 60))) {
                    continue;
                }
                let end = if e == 1440 {
                    "24:00".to_string()
                } else {
                    hhmm(end_tod)
                };
                let day_name = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"][day as usize];
                spec.hours.push(ShiftSpec {
                    day: day_name.into(),
                    start: hhmm(s),
                    end,
                });
                if spec.validate().is_ok() {
                    shifts.push((day, s, e));
                } else {
                    spec.hours.pop();
                }
            }
            if spec.hours.is_empty() {
                spec.hours.push(ShiftSpec {
                    day: "wed".into(),
                    start: "09:00".into(),
                    end: "17:00".into(),
                });
                shifts.push((2, 540, 1020));
            }
            let base = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
            for d in once {
                spec.holidays
                    .push(HolidaySpec::once(base + chrono::Days::new(d), "h"));
            }
            for (m, d) in yearly {
                spec.holidays.push(HolidaySpec::yearly(m, d, "y"));
            }
            Cal {
                cal: Calendar::new(spec).unwrap(),
                shifts,
            }
        })
}

/// Instants in 2026–2027, often near a DST change.
fn arb_instant() -> impl Strategy<Value = DateTime<Utc>> {
    let anchors = [
        "2026-03-08T07:00:00Z", // New York spring
        "2026-03-29T01:00:00Z", // Berlin spring
        "2026-04-05T02:00:00Z", // Sydney/Santiago autumn
        "2026-10-04T16:00:00Z", // Sydney spring
        "2026-10-25T01:00:00Z", // Berlin autumn
        "2026-11-01T06:00:00Z", // New York autumn
        "2026-01-01T00:00:00Z",
    ];
    let anchors: Vec<DateTime<Utc>> = anchors
        .iter()
        .map(|s| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc))
        .collect();
    prop_oneof![
        (proptest::sample::select(anchors), -4000i64..4000)
            .prop_map(|(a, m)| a + Duration::minutes(m)),
        (0i64..(2 * 365 * 1440)).prop_map(|m| {
            DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
                .unwrap()
                .with_timezone(&Utc)
                + Duration::minutes(m)
        }),
    ]
}

/// Minute-by-minute: open iff the wall time lies in a shift of its day or the day before.
fn reference_minutes(c: &Cal, a: DateTime<Utc>, b: DateTime<Utc>) -> i64 {
    use chrono::Datelike;
    let tz = c.cal.time_zone();
    let mut n = 0;
    let mut t = a;
    while t < b {
        let l = t.with_timezone(&tz).naive_local();
        let open = [l.date(), l.date().pred_opt().unwrap()].iter().any(|&d| {
            !c.cal.is_holiday(d)
                && c.shifts.iter().any(|&(day, s, e)| {
                    day == d.weekday().num_days_from_monday() && {
                        let m0 = NaiveDateTime::new(d, chrono::NaiveTime::MIN);
                        m0 + Duration::minutes(s as i64) <= l
                            && l < m0 + Duration::minutes(e as i64)
                    }
                })
        });
        if open {
            n += 1;
        }
        t += Duration::minutes(1);
    }
    n
}

#[derive(Debug, Clone)]
struct Ticket {
    events: Vec<Event>,
    end: DateTime<Utc>,
}

fn arb_ticket() -> impl Strategy<Value = Ticket> {
    (
        arb_instant(),
        proptest::collection::vec((0i64..3000, 0..9u8), 0..25),
    )
        .prop_map(|(t0, steps)| {
            let mut events = vec![(
                t0,
                Actor::customer(1),
                created(Status::New, Priority::Normal),
            )];
            let mut t = t0;
            let mut status = Status::New;
            for (i, (gap, what)) in steps.into_iter().enumerate() {
                t += Duration::minutes(gap);
                let msg = |public| Change::MessageAdded {
                    time_spent_seconds: None,
                    message_id: i as i64,
                    public,
                };
                let (actor, change) = match what {
                    0 => (Actor::customer(1), msg(true)),
                    1 => (Actor::agent(2), msg(true)),
                    2 => (Actor::agent(2), msg(false)),
                    7 => (Actor::SYSTEM, msg(true)),
                    k => {
                        let to = [
                            Status::Pending,
                            Status::OnHold,
                            Status::Open,
                            Status::Solved,
                            Status::Closed,
                        ][(k - 3) as usize % 5];
                        let from = std::mem::replace(&mut status, to);
                        (Actor::agent(2), Change::StatusChanged { from, to })
                    }
                };
                events.push((t, actor, change));
            }
            Ticket {
                events,
                end: t + Duration::minutes(3000),
            }
        })
}

fn arb_policy() -> impl Strategy<Value = Policy> {
    let target = |m: Metric| {
        (
            1i64..2000,
            any::<bool>(),
            proptest::option::of(proptest::sample::subsequence(
                vec![Status::New, Status::Pending, Status::OnHold],
                0..=2,
            )),
        )
            .prop_map(move |(minutes, business_hours, pause_on)| Target {
                metric: m,
                minutes,
                business_hours,
                pause_on,
            })
    };
    (
        target(Metric::FirstReply),
        target(Metric::NextReply),
        target(Metric::PeriodicUpdate),
        target(Metric::Resolution),
    )
        .prop_map(|(a, b, c, d)| Policy {
            name: "p".into(),
            conditions: Conditions::default(),
            targets: vec![a, b, c, d],
            calendar: None,
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// Business time is additive: a|b + b|c == a|c.
    #[test]
    fn business_time_is_additive(c in arb_cal(false), x in arb_instant(), y in arb_instant(), z in arb_instant()) {
        let mut v = [x, y, z];
        v.sort();
        let [a, b, cc] = v;
        let cal = &c.cal;
        let whole = cal.business_duration(a, cc);
        prop_assert_eq!(cal.business_duration(a, b) + cal.business_duration(b, cc), whole);
        // Six-day pieces never skip a week: the week totals agree with walking days.
        let mut sum = Duration::zero();
        let mut t = a;
        while t < cc {
            let u = (t + Duration::days(6)).min(cc);
            sum += cal.business_duration(t, u);
            t = u;
        }
        prop_assert_eq!(sum, whole);
    }

    /// Adding business time and measuring it back agree; the due time is the earliest one.
    #[test]
    fn add_business_inverts_business_duration(c in arb_cal(false), a in arb_instant(), mins in 1i64..20_000, b in arb_instant()) {
        let cal = &c.cal;
        let d = Duration::minutes(mins);
        let due = cal.add_business(a, d).unwrap();
        prop_assert_eq!(cal.business_duration(a, due), d);
        prop_assert!(cal.business_duration(a, due - Duration::seconds(1)) < d);
        if b > a {
            let back = cal.add_business(a, cal.business_duration(a, b)).unwrap();
            prop_assert!(back <= b);
            prop_assert_eq!(cal.business_duration(back, b), Duration::zero());
        }
        let open = cal.next_open(a).unwrap();
        prop_assert!(open >= a && cal.is_open(open));
        prop_assert_eq!(cal.business_duration(a, open), Duration::zero());
    }

    /// Agrees with counting open minutes one by one (wall clocks that are never ambiguous).
    #[test]
    fn business_time_matches_minute_by_minute(c in arb_cal(true), a in arb_instant(), len in 0i64..(6 * 1440)) {
        let b = a + Duration::minutes(len);
        prop_assert_eq!(c.cal.business_duration(a, b).num_minutes(), reference_minutes(&c, a, b));
    }

    /// Elapsed time never decreases as `now` grows; a met target stays met (except a
    /// resolution reopened in between); pauses never count; states are consistent.
    #[test]
    fn clock_properties(c in arb_cal(false), t in arb_ticket(), p in arb_policy(), f1 in 0.0f64..1.0, f2 in 0.0f64..1.0) {
        let t0 = t.events[0].0;
        let span = (t.end - t0).num_minutes() as f64;
        let (f1, f2) = if f1 <= f2 { (f1, f2) } else { (f2, f1) };
        let now1 = t0 + Duration::minutes((span * f1) as i64);
        let now2 = t0 + Duration::minutes((span * f2) as i64);
        let s1 = evaluate(&t.events, &c.cal, &p, now1);
        let s2 = evaluate(&t.events, &c.cal, &p, now2);
        let always = Calendar::always();
        for (st, now) in s1.iter().map(|s| (s, now1)).chain(s2.iter().map(|s| (s, now2))) {
            let cal = if st.business_hours { &c.cal } else { &always };
            let stop = st.fulfilled_at.unwrap_or(now);
            let paused: Duration = st.paused.iter().map(|p| p.business).sum();
            prop_assert_eq!(st.elapsed + paused, cal.business_duration(st.started_at, stop), "pauses never count: {}", st.explanation);
            prop_assert!(st.remaining >= Duration::zero());
            match st.state {
                SlaState::Active => prop_assert!(st.due_at.is_some_and(|d| d >= now), "{}", st.explanation),
                SlaState::Paused => prop_assert!(st.due_at.is_none()),
                SlaState::Fulfilled => prop_assert!(st.fulfilled_at.is_some_and(|f| f <= now && st.due_at.is_none_or(|d| d >= f))),
                SlaState::Breached => {
                    prop_assert!(st.breached_at.is_some_and(|b| b < stop));
                    prop_assert!(st.elapsed >= st.target);
                }
            }
        }
        for a in &s1 {
            let b = s2.iter().find(|b| b.metric == a.metric && b.cycle == a.cycle);
            let b = b.expect("a run seen earlier is still there later");
            prop_assert_eq!(a.started_at, b.started_at);
            prop_assert!(b.elapsed >= a.elapsed, "monotone: {} then {}", a.explanation, b.explanation);
            if a.state == SlaState::Fulfilled && b.state != SlaState::Fulfilled {
                let reopened = t.events.iter().any(|(at, _, ch)| {
                    *at > now1 && *at <= now2 && matches!(ch, Change::StatusChanged { from, to } if !from.is_open() && to.is_open())
                });
                prop_assert!(a.metric == Metric::Resolution && reopened, "met then {:?}: {}", b.state, b.explanation);
            }
            if a.state == SlaState::Breached {
                prop_assert_eq!(b.state, SlaState::Breached);
                prop_assert_eq!(a.breached_at, b.breached_at);
            }
        }
    }

    /// A paused stretch holds the clock: adding a pending span to an open ticket lowers the
    /// resolution clock by exactly that span's business time.
    #[test]
    fn a_pause_removes_exactly_its_business_time(c in arb_cal(false), t0 in arb_instant(), a in 0i64..5000, len in 0i64..5000, after in 0i64..5000) {
        let p = &policies("resolution=100000")[0];
        let start = t0;
        let pause_from = start + Duration::minutes(a);
        let pause_to = pause_from + Duration::minutes(len);
        let now = pause_to + Duration::minutes(after);
        let base = vec![(start, Actor::customer(1), created(Status::Open, Priority::Normal))];
        let mut paused = base.clone();
        paused.push((pause_from, Actor::agent(1), Change::StatusChanged { from: Status::Open, to: Status::Pending }));
        paused.push((pause_to, Actor::agent(1), Change::StatusChanged { from: Status::Pending, to: Status::Open }));
        let e0 = evaluate(&base, &c.cal, p, now)[0].elapsed;
        let e1 = evaluate(&paused, &c.cal, p, now)[0].elapsed;
        prop_assert_eq!(e0 - e1, c.cal.business_duration(pause_from, pause_to));
    }
}

// ---- micro-benchmark --------------------------------------------------------------------

/// `cargo test --release -p tend-core --test sla_cases -- --ignored --nocapture`
#[test]
#[ignore]
fn clock_micro_benchmark() {
    let cal = Calendar::parse(
        "zone Europe/Berlin\nmon-fri 08:00-12:00 13:00-18:00\nyearly 12-25\nyearly 01-01",
    )
    .unwrap();
    let tz = cal.time_zone();
    let p = &policies(P)[0];
    let typical = script(
        tz,
        "03-26 16:00 create; 03-27 09:10 agent; 10:00 pending; 03-30 11:00 customer; 11:00 open; 11:20 agent; 14:00 note; 03-31 10:00 customer",
    );
    let old = script(
        tz,
        "01-05 09:00 create; 01-06 09:10 agent; 02-10 10:00 customer",
    );
    let now = when(tz, "03-31 15:00", None);
    type Eval = fn(&[Event], &Calendar, &Policy, DateTime<Utc>) -> Vec<TargetStatus>;
    for (name, events, f) in [
        (
            "typical ticket (8 events over 4 days), evaluate",
            &typical,
            evaluate as Eval,
        ),
        (
            "typical ticket, evaluate_brief",
            &typical,
            evaluate_brief as Eval,
        ),
        ("open 12 weeks, evaluate", &old, evaluate as Eval),
        (
            "open 12 weeks, evaluate_brief",
            &old,
            evaluate_brief as Eval,
        ),
    ] {
        let n = 1_000_000;
        let start = std::time::Instant::now();
        let mut sink = 0i64;
        for i in 0..n {
            let st = f(events, &cal, p, now + Duration::seconds(i % 3600));
            sink += st.len() as i64 + st[0].elapsed.num_seconds();
        }
        let el = start.elapsed();
        println!(
            "{name}: {n} in {el:?} ({:.2} µs each) [{sink}]",
            el.as_secs_f64() * 1e6 / n as f64
        );
    }
}
