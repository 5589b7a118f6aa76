//! The nearest conflict-free variants of a refused plan: the same volumes shifted in time or in altitude.

use chrono::Duration;

use crate::conflict::{Intent, PriorityPolicy, blocking_intents};
use crate::flight::Priority;
use crate::{Timestamp, Volume};

/// How far and in which steps to look, and what every alternative must respect.
#[derive(Clone, Debug)]
pub struct SearchSpace {
    pub time_step: Duration,
    pub max_time_shift: Duration,
    pub altitude_step_m: f64,
    pub max_altitude_shift_m: f64,
    /// No shifted volume may go below or above these altitudes.
    pub altitude_floor_m: f64,
    pub altitude_ceiling_m: f64,
    /// No shifted volume may start before this (planning happens now, not in the past).
    pub not_before: Timestamp,
    pub max_results: usize,
}

/// A plan the operator can take in one call, with the shift that made it.
#[derive(Clone, Debug, PartialEq)]
pub struct Alternative {
    pub time_shift: Duration,
    pub altitude_shift_m: f64,
    pub volumes: Vec<Volume>,
}

/// Alternatives nearest first: one step of time counts as much as one step of altitude, later before earlier and
/// higher before lower at equal distance. Each returned plan passed the same exact 4D test as the refused one
/// against every intent in `others`, so none of them conflicts with an intent it may not conflict with.
pub fn alternatives(
    volumes: &[Volume],
    priority: Priority,
    others: &[Intent],
    policy: PriorityPolicy,
    space: &SearchSpace,
) -> Vec<Alternative> {
    let time_steps = steps(space.max_time_shift.num_milliseconds(), space.time_step.num_milliseconds());
    let altitude_steps = if space.altitude_step_m > 0.0 {
        (space.max_altitude_shift_m / space.altitude_step_m).floor() as i64
    } else {
        0
    };
    let mut found = Vec::new();
    for k in 1..=time_steps.max(altitude_steps) {
        let mut shifts = Vec::with_capacity(4);
        if k <= time_steps {
            shifts.push((space.time_step * k as i32, 0.0));
            shifts.push((-(space.time_step * k as i32), 0.0));
        }
        if k <= altitude_steps {
            shifts.push((Duration::zero(), space.altitude_step_m * k as f64));
            shifts.push((Duration::zero(), -space.altitude_step_m * k as f64));
        }
        for (dt, dz) in shifts {
            if found.len() >= space.max_results {
                return found;
            }
            let shifted: Vec<Volume> = volumes.iter().map(|v| shift(v, dt, dz)).collect();
            if within(&shifted, space) && blocking_intents(&shifted, priority, others, policy).is_empty() {
                found.push(Alternative { time_shift: dt, altitude_shift_m: dz, volumes: shifted });
            }
        }
    }
    found
}

fn steps(max: i64, step: i64) -> i64 {
    if step > 0 { max / step } else { 0 }
}

fn shift(v: &Volume, dt: Duration, dz: f64) -> Volume {
    let mut out = v.clone();
    out.time.lo = v.time.lo.map(|t| t + dt);
    out.time.hi = v.time.hi.map(|t| t + dt);
    out.altitude.lo = v.altitude.lo.map(|a| a + dz);
    out.altitude.hi = v.altitude.hi.map(|a| a + dz);
    out
}

fn within(volumes: &[Volume], space: &SearchSpace) -> bool {
    volumes.iter().all(|v| {
        v.time.lo.is_none_or(|t| t >= space.not_before)
            && v.altitude.lo.is_none_or(|a| a >= space.altitude_floor_m)
            && v.altitude.hi.is_none_or(|a| a <= space.altitude_ceiling_m)
    })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::conflict::tests::{at, cylinder};

    fn space() -> SearchSpace {
        SearchSpace {
            time_step: Duration::minutes(5),
            max_time_shift: Duration::minutes(60),
            altitude_step_m: 50.0,
            max_altitude_shift_m: 300.0,
            altitude_floor_m: 0.0,
            altitude_ceiling_m: 500.0,
            not_before: at(0),
            max_results: 3,
        }
    }

    fn blocker(volume: Volume) -> Intent {
        Intent { id: "peer".into(), priority: Priority(0), volumes: vec![volume] }
    }

    #[test]
    fn nearest_first_and_each_clear() {
        // Mine: 0..100 m, minutes 10..20; the peer holds 0..120 m over minutes 5..22.
        let mine = [cylinder(6.6, (0.0, 100.0), (10, 20))];
        let others = [blocker(cylinder(6.6, (0.0, 120.0), (5, 22)))];
        let found = alternatives(&mine, Priority(0), &others, PriorityPolicy::default(), &space());
        let shifts: Vec<(i64, f64)> =
            found.iter().map(|a| (a.time_shift.num_minutes(), a.altitude_shift_m)).collect();
        // Up to two steps every shift still overlaps or touches the peer (closed intervals) or leaves the space.
        assert_eq!(shifts, [(15, 0.0), (0, 150.0), (20, 0.0)]);
        for a in &found {
            assert!(blocking_intents(&a.volumes, Priority(0), &others, PriorityPolicy::default()).is_empty());
        }
    }

    #[test]
    fn no_room_means_no_alternative() {
        let mine = [cylinder(6.6, (0.0, 100.0), (10, 20))];
        let others = [blocker(cylinder(6.6, (0.0, 1000.0), (0, 200)))];
        assert!(alternatives(&mine, Priority(0), &others, PriorityPolicy::default(), &space()).is_empty());
        assert_eq!(alternatives(&mine, Priority(1), &others, PriorityPolicy::default(), &space()).len(), 3);
    }

    proptest! {
        #[test]
        fn an_alternative_never_intersects_a_volume_it_must_avoid(
            peers in proptest::collection::vec(
                (6.598f64..6.602, 0.0f64..400.0, 10.0f64..200.0, 0i64..100, 1i64..60, -1i32..2), 1..6),
            alt in 0.0f64..300.0,
            start in 0i64..60,
            mine_priority in -1i32..2,
        ) {
            let others: Vec<Intent> = peers.iter().map(|&(lng, lo, h, t, d, p)| Intent {
                id: "p".into(), priority: Priority(p), volumes: vec![cylinder(lng, (lo, lo + h), (t, t + d))],
            }).collect();
            let mine = [cylinder(6.6, (alt, alt + 50.0), (start, start + 15))];
            let policy = PriorityPolicy::default();
            for a in alternatives(&mine, Priority(mine_priority), &others, policy, &space()) {
                for o in others.iter().filter(|o| !policy.may_conflict(Priority(mine_priority), o.priority)) {
                    for v in &a.volumes {
                        prop_assert!(o.volumes.iter().all(|w| !v.intersects(w)));
                    }
                }
                prop_assert!(a.volumes.iter().all(|v| v.time.lo.unwrap() >= at(0)));
            }
        }
    }

    /// A shift the search may take, in steps: of time, or of altitude.
    fn arb_slot() -> impl Strategy<Value = (i64, i64)> {
        prop_oneof![
            (-12i64..=12).prop_filter("a shift", |k| *k != 0).prop_map(|k| (k, 0)),
            (-6i64..=6).prop_filter("a shift", |k| *k != 0).prop_map(|k| (0, k)),
        ]
    }

    proptest! {
        /// A case built around a known free slot: peers of equal priority (which may not be conflicted with)
        /// hold random places and, where `walls` says so (in many cases everywhere), every other shift the
        /// search looks at, but never the slot. An alternative must be found, the slot itself unless
        /// `max_results` nearer ones were, nearest first, and each clear of every peer and inside the search space.
        #[test]
        fn where_a_free_slot_exists_an_alternative_is_found_and_each_is_clear(
            peers in proptest::collection::vec(
                (6.598f64..6.602, 0.0f64..400.0, 10.0f64..200.0, 0i64..100, 1i64..60), 0..6),
            walls in prop_oneof![any::<u64>(), Just(u64::MAX)],
            alt in 0.0f64..300.0,
            start in 0i64..60,
            (kt, kz) in arb_slot(),
        ) {
            let s = space();
            let mine = [cylinder(6.6, (alt, alt + 50.0), (start, start + 15))];
            let (dt, dz) = (s.time_step * kt as i32, s.altitude_step_m * kz as f64);
            let free: Vec<Volume> = mine.iter().map(|v| shift(v, dt, dz)).collect();
            prop_assume!(within(&free, &s));
            let meets_free = |w: &Volume| free.iter().any(|v| v.intersects(w));
            let shifts =
                (1..=12i64).flat_map(|k| [(k, 0), (-k, 0)]).chain((1..=6i64).flat_map(|k| [(0, k), (0, -k)]));
            let walled = shifts.enumerate().filter(|(i, _)| walls >> i & 1 == 1).map(|(_, (t, z))| {
                shift(&mine[0], s.time_step * t as i32, s.altitude_step_m * z as f64)
            });
            let scattered = peers.iter().map(|&(lng, lo, h, t, d)| cylinder(lng, (lo, lo + h), (t, t + d)));
            let others: Vec<Intent> = walled
                .chain(scattered)
                .chain(mine.iter().cloned())
                .filter(|w| !meets_free(w))
                .map(|w| Intent { id: "peer".into(), priority: Priority(0), volumes: vec![w] })
                .collect();
            let found = alternatives(&mine, Priority(0), &others, PriorityPolicy::default(), &s);
            prop_assert!(!found.is_empty(), "the free slot ({}, {}) was not found", kt, kz);
            let is_slot = |a: &Alternative| a.time_shift == dt && a.altitude_shift_m == dz;
            prop_assert!(
                found.len() == s.max_results || found.iter().any(is_slot),
                "the free slot ({}, {}) was missed",
                kt,
                kz
            );
            let distance = |a: &Alternative| {
                (a.time_shift.num_minutes() / 5).abs() + (a.altitude_shift_m / s.altitude_step_m).abs() as i64
            };
            prop_assert!(found.windows(2).all(|w| distance(&w[0]) <= distance(&w[1])), "not nearest first");
            // Missing the slot is right only when `max_results` alternatives at most as far were found first.
            if !found.iter().any(is_slot) {
                let slot_distance = kt.abs() + kz.abs();
                prop_assert!(
                    found.iter().all(|a| distance(a) <= slot_distance),
                    "the slot lost to a farther alternative"
                );
            }
            for a in &found {
                prop_assert!(within(&a.volumes, &s));
                for o in &others {
                    prop_assert!(a.volumes.iter().all(|v| o.volumes.iter().all(|w| !v.intersects(w))));
                }
            }
        }
    }
}
