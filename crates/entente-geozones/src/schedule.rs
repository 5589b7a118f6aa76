//! When a zone applies: its time periods and weekly schedules turned into the windows of a given interval.
//!
//! ED-269 and ED-318 write each time of day with a UTC offset (`17:00:00Z`, `08:00+01:00`), not with a time zone,
//! so a schedule is on fixed offsets and a daylight saving change does not move it: a zone published as
//! `08:00+01:00` opens at 07:00 UTC in summer too. An authority that means local time publishes the summer and
//! winter offsets as separate periods, which this reads as given.

use chrono::{DateTime, Datelike, Days, NaiveDate, TimeZone, Utc};

use crate::error::GeozoneError;
use crate::model::{DailyPeriod, TimePeriod};

/// The longest interval whose windows are listed: ten years of daily windows is a few thousand, listed in
/// well under a second, while an unbounded interval would never end.
pub const MAX_INTERVAL_DAYS: i64 = 3_660;

/// How many days before an instant a daily window that holds it may have started.
const LOOK_BACK_DAYS: u64 = 3;

/// A window in which a zone applies, from `start` (included) to `end` (excluded).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

/// The windows in which a zone with this applicability applies within `[start, end)`: sorted, disjoint and
/// not touching (touching windows are one), each inside the interval and not empty.
pub fn windows(
    applicability: &[TimePeriod],
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Result<Vec<Window>, GeozoneError> {
    if end <= start {
        return Err(GeozoneError::EmptyInterval { start: start.to_rfc3339(), end: end.to_rfc3339() });
    }
    if (end - start).num_days() > MAX_INTERVAL_DAYS {
        return Err(GeozoneError::IntervalTooLong {
            start: start.to_rfc3339(),
            end: end.to_rfc3339(),
            max_days: MAX_INTERVAL_DAYS,
        });
    }
    if applicability.is_empty() {
        return Ok(vec![Window { start, end }]);
    }
    let mut raw = Vec::new();
    for period in applicability {
        let lo = period.start.map_or(start, |s| s.max(start));
        let hi = period.end.map_or(end, |e| e.min(end));
        if lo >= hi {
            continue;
        }
        if period.schedule.is_empty() {
            raw.push(Window { start: lo, end: hi });
            continue;
        }
        for daily in &period.schedule {
            let offset = daily.start.offset;
            // A window starting before `lo`'s date may still be open at `lo`, but not one that starts three
            // days before it: a window lasts at most 24 hours plus the difference of its two offsets (under 26).
            // Dates at chrono's ends (years -262143 and 262142) are the only ones without neighbours.
            let first = lo.with_timezone(&offset).date_naive();
            let mut date = first.checked_sub_days(Days::new(LOOK_BACK_DAYS)).unwrap_or(first);
            let last = hi.with_timezone(&offset).date_naive();
            while date <= last {
                if let Some(w) = window_on(daily, date) {
                    let clipped = Window { start: w.start.max(lo), end: w.end.min(hi) };
                    if clipped.start < clipped.end {
                        raw.push(clipped);
                    }
                }
                let Some(next) = date.checked_add_days(Days::new(1)) else { break };
                date = next;
            }
        }
    }
    raw.sort_by_key(|w| w.start);
    let mut merged: Vec<Window> = Vec::with_capacity(raw.len());
    for w in raw {
        match merged.last_mut() {
            Some(last) if w.start <= last.end => last.end = last.end.max(w.end),
            _ => merged.push(w),
        }
    }
    Ok(merged)
}

/// Whether a zone with this applicability applies at `t`.
pub fn applies_at(applicability: &[TimePeriod], t: DateTime<Utc>) -> bool {
    applicability.is_empty()
        || applicability.iter().any(|p| {
            p.start.is_none_or(|s| s <= t)
                && p.end.is_none_or(|e| t < e)
                && (p.schedule.is_empty()
                    || p.schedule.iter().any(|d| {
                        let today = t.with_timezone(&d.start.offset).date_naive();
                        (0..=LOOK_BACK_DAYS).any(|back| {
                            today
                                .checked_sub_days(Days::new(back))
                                .and_then(|day| window_on(d, day))
                                .is_some_and(|w| w.start <= t && t < w.end)
                        })
                    }))
        })
}

/// The window a daily period opens on `date` (a date in its start time's offset), if that is one of its days.
/// An end at or before the start is on the following day.
fn window_on(daily: &DailyPeriod, date: NaiveDate) -> Option<Window> {
    if !daily.days.contains(&date.weekday()) {
        return None;
    }
    let at = |t: crate::model::TimeOfDay, date: NaiveDate| {
        t.offset.from_local_datetime(&date.and_time(t.time)).single().map(|t| t.with_timezone(&Utc))
    };
    let start = at(daily.start, date)?;
    let mut end_date = date;
    let mut end = at(daily.end, end_date)?;
    while end <= start {
        end_date = end_date.checked_add_days(Days::new(1))?;
        end = at(daily.end, end_date)?;
    }
    Some(Window { start, end })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::TimeOfDay;
    use chrono::{FixedOffset, NaiveTime, Weekday};
    use proptest::prelude::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn tod(h: u32, m: u32, offset_min: i32) -> TimeOfDay {
        TimeOfDay {
            time: NaiveTime::from_hms_opt(h, m, 0).unwrap(),
            offset: FixedOffset::east_opt(offset_min * 60).unwrap(),
        }
    }

    fn w(s: &str, e: &str) -> Window {
        Window { start: at(s), end: at(e) }
    }

    /// InterUSS's Montreux concert area: weekends 17:00Z to 23:59:59Z within a year.
    #[test]
    fn weekend_evenings() {
        let period = TimePeriod {
            start: Some(at("2022-06-15T09:00:00Z")),
            end: Some(at("2023-06-15T09:00:00Z")),
            schedule: vec![DailyPeriod {
                days: vec![Weekday::Sat, Weekday::Sun],
                start: tod(17, 0, 0),
                end: TimeOfDay {
                    time: NaiveTime::from_hms_opt(23, 59, 59).unwrap(),
                    offset: FixedOffset::east_opt(0).unwrap(),
                },
            }],
        };
        // Friday 2022-07-01 to Tuesday 2022-07-05.
        let got = windows(&[period], at("2022-07-01T00:00:00Z"), at("2022-07-05T00:00:00Z")).unwrap();
        assert_eq!(
            got,
            vec![
                w("2022-07-02T17:00:00Z", "2022-07-02T23:59:59Z"),
                w("2022-07-03T17:00:00Z", "2022-07-03T23:59:59Z"),
            ]
        );
    }

    /// A night window crosses midnight, and one already open when the interval starts is clipped to it.
    #[test]
    fn overnight_windows_are_clipped_to_the_interval() {
        let period = TimePeriod {
            schedule: vec![DailyPeriod { days: vec![Weekday::Fri], start: tod(22, 0, 0), end: tod(6, 0, 0) }],
            ..TimePeriod::default()
        };
        let got = windows(&[period], at("2024-05-04T01:00:00Z"), at("2024-05-11T03:00:00Z")).unwrap();
        assert_eq!(
            got,
            vec![
                w("2024-05-04T01:00:00Z", "2024-05-04T06:00:00Z"),
                w("2024-05-10T22:00:00Z", "2024-05-11T03:00:00Z")
            ]
        );
    }

    /// Offsets are fixed: a schedule published at +01:00 keeps 07:00 UTC across the change to summer time in
    /// Europe (Sunday 31 March 2024), since the formats carry no time zone to follow.
    #[test]
    fn fixed_offsets_ignore_daylight_saving() {
        let all = vec![
            Weekday::Mon,
            Weekday::Tue,
            Weekday::Wed,
            Weekday::Thu,
            Weekday::Fri,
            Weekday::Sat,
            Weekday::Sun,
        ];
        let period = TimePeriod {
            schedule: vec![DailyPeriod { days: all, start: tod(8, 0, 60), end: tod(9, 0, 60) }],
            ..TimePeriod::default()
        };
        let got = windows(&[period], at("2024-03-30T00:00:00Z"), at("2024-04-01T00:00:00Z")).unwrap();
        assert_eq!(
            got,
            vec![
                w("2024-03-30T07:00:00Z", "2024-03-30T08:00:00Z"),
                w("2024-03-31T07:00:00Z", "2024-03-31T08:00:00Z")
            ]
        );
    }

    /// The day is the start time's own: Monday 00:30 at +02:00 is Sunday 22:30 UTC.
    #[test]
    fn days_are_those_of_the_offset() {
        let period = TimePeriod {
            schedule: vec![DailyPeriod {
                days: vec![Weekday::Mon],
                start: tod(0, 30, 120),
                end: tod(1, 30, 120),
            }],
            ..TimePeriod::default()
        };
        let got = windows(&[period], at("2024-05-05T00:00:00Z"), at("2024-05-07T00:00:00Z")).unwrap();
        assert_eq!(got, vec![w("2024-05-05T22:30:00Z", "2024-05-05T23:30:00Z")]);
    }

    #[test]
    fn permanent_and_empty() {
        let (s, e) = (at("2024-01-01T00:00:00Z"), at("2024-01-02T00:00:00Z"));
        assert_eq!(windows(&[], s, e).unwrap(), vec![Window { start: s, end: e }]);
        assert_eq!(windows(&[TimePeriod::default()], s, e).unwrap(), vec![Window { start: s, end: e }]);
        let over = TimePeriod { end: Some(s), ..TimePeriod::default() };
        assert_eq!(windows(&[over], s, e).unwrap(), vec![]);
        assert!(matches!(windows(&[], e, s), Err(GeozoneError::EmptyInterval { .. })));
    }

    /// The ends of time neither panic nor run for ever: an interval over ten years is refused, and a schedule
    /// at chrono's first and last dates lists what fits.
    #[test]
    fn extreme_intervals() {
        let weekly = TimePeriod {
            schedule: vec![DailyPeriod {
                days: vec![Weekday::Mon, Weekday::Sun],
                start: tod(22, 0, 0),
                end: tod(6, 0, 840),
            }],
            ..TimePeriod::default()
        };
        let (min, max) = (DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MAX_UTC);
        let e = windows(std::slice::from_ref(&weekly), min, max).unwrap_err();
        assert!(matches!(e, GeozoneError::IntervalTooLong { max_days: MAX_INTERVAL_DAYS, .. }), "{e}");
        let day = chrono::Duration::days(20);
        for (s, e) in [(min, min + day), (max - day, max)] {
            let got = windows(std::slice::from_ref(&weekly), s, e).unwrap();
            assert!(!got.is_empty() && got.iter().all(|w| s <= w.start && w.end <= e));
            assert!(got.iter().all(|w| applies_at(std::slice::from_ref(&weekly), w.start)));
        }
        for t in [min, max] {
            // Either answer may be right at the ends of time; it must come without a panic.
            let _ = applies_at(std::slice::from_ref(&weekly), t);
        }
    }

    const BASE: i64 = 1_711_670_400; // 2024-03-29T00:00:00Z

    /// Coarse on purpose: whole and half hours and a few offsets (one far east, one with minutes), so that
    /// windows of different periods and days often meet or touch and the merging is exercised.
    fn arb_tod() -> impl Strategy<Value = TimeOfDay> {
        (0u32..24, prop::sample::select(vec![0u32, 30]), prop::sample::select(vec![-120, 0, 0, 60, 345, 840]))
            .prop_map(|(h, m, offset_min)| tod(h, m, offset_min))
    }

    fn arb_daily() -> impl Strategy<Value = DailyPeriod> {
        (prop::collection::btree_set(0u8..7, 1..=7), arb_tod(), arb_tod()).prop_map(|(days, start, end)| {
            DailyPeriod {
                days: days.into_iter().map(|d| Weekday::try_from(d).unwrap()).collect(),
                start,
                end,
            }
        })
    }

    fn arb_instant(span_h: i64) -> impl Strategy<Value = DateTime<Utc>> {
        (0..span_h * 2).prop_map(|q| DateTime::from_timestamp(BASE + q * 1800, 0).unwrap())
    }

    fn arb_period() -> impl Strategy<Value = TimePeriod> {
        (
            prop::option::of(arb_instant(24 * 20)),
            prop::option::of(arb_instant(24 * 20)),
            prop::collection::vec(arb_daily(), 0..3),
        )
            .prop_filter("end after start", |(s, e, _)| match (s, e) {
                (Some(s), Some(e)) => s < e,
                _ => true,
            })
            .prop_map(|(start, end, schedule)| TimePeriod { start, end, schedule })
    }

    proptest! {
        /// Windows are sorted, disjoint, inside the interval, and hold exactly the instants at which the zone
        /// applies (checked at random instants and at every window's edges).
        #[test]
        fn windows_are_exactly_when_the_zone_applies(
            periods in prop::collection::vec(arb_period(), 0..3),
            from in arb_instant(24 * 20),
            hours in 1i64..24 * 10,
            probes in prop::collection::vec(0i64..24 * 10 * 60, 40),
        ) {
            let to = from + chrono::Duration::hours(hours);
            let got = windows(&periods, from, to).unwrap();
            for pair in got.windows(2) {
                prop_assert!(pair[0].end < pair[1].start, "sorted and disjoint: {pair:?}");
            }
            for w in &got {
                prop_assert!(from <= w.start && w.start < w.end && w.end <= to, "inside: {w:?}");
                prop_assert!(applies_at(&periods, w.start));
                if w.end < to {
                    prop_assert!(!applies_at(&periods, w.end), "a window ends where the zone stops applying: {w:?}");
                }
            }
            for minute in probes {
                let t = from + chrono::Duration::minutes(minute % (hours * 60));
                let inside = got.iter().any(|w| w.start <= t && t < w.end);
                prop_assert_eq!(inside, applies_at(&periods, t), "at {}", t);
            }
        }
    }
}
