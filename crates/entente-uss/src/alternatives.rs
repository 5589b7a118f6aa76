//! Conflict-free variants of a refused plan, cheapest first: the same flight later or earlier, higher or lower,
//! flown around what blocks it (a route) or moved aside (an area), alone or combined, always within the limits the
//! operator gave. Every variant offered passed the same exact 4D test as the refused plan.

use chrono::Duration;
use entente_geo::{LatLng, LatLngRect};

use crate::conflict::{Intent, PriorityPolicy};
use crate::flight::Priority;
use crate::lateral::{detour, length_m, moved};
use crate::route::{Route, route_volumes};
use crate::{Timestamp, Volume};

/// The most candidate variants one search decides, cheapest first, so a crowded airspace with nothing free costs
/// milliseconds, not seconds.
pub const MAX_CANDIDATES: usize = 5_000;
/// An area is moved sideways along at most this many rings, each in eight directions.
const MAX_RINGS: usize = 12;

/// How far and in which steps to look, and the limits every alternative must respect.
#[derive(Clone, Debug)]
pub struct SearchSpace {
    pub time_step: Duration,
    /// Later or earlier, at most this much.
    pub max_time_shift: Duration,
    pub altitude_step_m: f64,
    /// Higher or lower, at most this much.
    pub max_altitude_shift_m: f64,
    /// No shifted volume may go below or above these altitudes.
    pub altitude_floor_m: f64,
    pub altitude_ceiling_m: f64,
    /// No shifted volume may start before this (planning happens now, not in the past, nor before the operator's
    /// earliest start).
    pub not_before: Timestamp,
    /// No shifted volume may end after this (the operator's latest end), when given.
    pub not_after: Option<Timestamp>,
    /// How far sideways a flight may stray, in metres: an area moved, a route flown around what blocks it. Zero
    /// keeps the flight where it was asked for.
    pub max_lateral_m: f64,
    /// The spacing of the rings along which an area is moved; zero takes a quarter of `max_lateral_m`.
    pub lateral_step_m: f64,
    /// Whether a route may take another path; moving an area keeps its shape, a detour does not.
    pub shape_may_change: bool,
    pub weights: CostWeights,
    pub max_results: usize,
}

/// What each kind of change costs the operator, in one unit so that variants of different kinds can be ranked.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CostWeights {
    pub per_minute: f64,
    pub per_vertical_metre: f64,
    pub per_lateral_metre: f64,
}

impl Default for CostWeights {
    /// A minute late costs as much as 6 m of climb or 100 m flown sideways: five minutes, one 30 m altitude step
    /// and a 500 m detour weigh the same.
    fn default() -> Self {
        CostWeights { per_minute: 1.0, per_vertical_metre: 1.0 / 6.0, per_lateral_metre: 0.01 }
    }
}

/// How an alternative differs sideways from the refused plan.
#[derive(Clone, Debug, PartialEq)]
pub enum Lateral {
    Unchanged,
    /// Every volume moved `distance_m` along the initial bearing `bearing_deg` (degrees clockwise from north).
    Moved {
        bearing_deg: f64,
        distance_m: f64,
    },
    /// The route flown through these waypoints instead: the original ones in order, with turns between them.
    Detour {
        waypoints: Vec<LatLng>,
    },
}

/// A plan the operator can take in one call, with what changed and what it costs.
#[derive(Clone, Debug, PartialEq)]
pub struct Alternative {
    pub time_shift: Duration,
    pub altitude_shift_m: f64,
    pub lateral: Lateral,
    /// Metres sideways: how far an area moved, or how much longer the detour is than the route.
    pub lateral_m: f64,
    /// The weighted sum of the shifts (`CostWeights`), by which alternatives are ranked.
    pub cost: f64,
    pub volumes: Vec<Volume>,
}

/// One volume another intent holds, which the plan may not meet, with its rectangles for a cheap first test.
struct Blocker<'a> {
    volume: &'a Volume,
    rects: Vec<LatLngRect>,
}

/// A sideways variant of the plan before any shift in time or altitude.
struct Base {
    lateral: Lateral,
    lateral_m: f64,
    volumes: Vec<Volume>,
    rects: Vec<Vec<LatLngRect>>,
}

impl Base {
    fn new(lateral: Lateral, lateral_m: f64, volumes: Vec<Volume>) -> Base {
        let rects = volumes.iter().map(|v| v.outline.bounding_rects()).collect();
        Base { lateral, lateral_m, volumes, rects }
    }
}

/// Alternatives cheapest first (ties: time before altitude, later before earlier, higher before lower, in place
/// before sideways), at most `space.max_results`, from at most [`MAX_CANDIDATES`] decided; none goes further the
/// same ways as a cheaper one offered (a climb of 60 m after one of 30 m, or 30 m and 5 minutes late). `route` is how the plan
/// was given, when it was given as one: it may then be flown around what blocks it. Each returned plan passed the
/// same exact 4D test as the refused one against every intent in `others`, so none of them conflicts with an intent
/// it may not conflict with, and each lies within every limit of `space`.
pub fn alternatives(
    volumes: &[Volume],
    route: Option<&Route>,
    priority: Priority,
    others: &[Intent],
    policy: PriorityPolicy,
    space: &SearchSpace,
) -> Vec<Alternative> {
    let blockers: Vec<Blocker<'_>> = others
        .iter()
        .filter(|o| !policy.may_conflict(priority, o.priority))
        .flat_map(|o| &o.volumes)
        .map(|volume| Blocker { volume, rects: volume.outline.bounding_rects() })
        .collect();
    let bases = bases(volumes, route, &blockers, space);
    let time_steps = steps(space.max_time_shift.num_milliseconds(), space.time_step.num_milliseconds());
    let altitude_steps = if space.altitude_step_m > 0.0 {
        (space.max_altitude_shift_m / space.altitude_step_m).floor() as i64
    } else {
        0
    };
    let w = space.weights;
    let mut candidates = Vec::new();
    for kt in -time_steps..=time_steps {
        let dt = space.time_step * kt as i32;
        for kz in -altitude_steps..=altitude_steps {
            let dz = space.altitude_step_m * kz as f64;
            for (b, base) in bases.iter().enumerate() {
                if (kt == 0 && kz == 0 && b == 0) || !within(&base.volumes, dt, dz, space) {
                    continue;
                }
                let cost = dt.num_milliseconds().abs() as f64 / 60_000.0 * w.per_minute
                    + dz.abs() * w.per_vertical_metre
                    + base.lateral_m * w.per_lateral_metre;
                // Rounded, so that equal costs reached by different sums of floats tie.
                let rank = ((cost * 1e6).round() as i64, kz.abs(), kt < 0, kz < 0, b);
                candidates.push((rank, cost, dt, dz, b));
            }
        }
    }
    candidates.sort_by_key(|c| c.0);
    let mut found = Vec::new();
    let mut taken: Vec<(Duration, f64, usize)> = Vec::new();
    for (_, cost, dt, dz, b) in candidates.into_iter().take(MAX_CANDIDATES) {
        if found.len() >= space.max_results {
            break;
        }
        let base = &bases[b];
        // A variant that goes further the same ways as one already offered costs more for nothing.
        let dominated = taken.iter().any(|&(t, z, c)| {
            between(t.num_milliseconds(), dt.num_milliseconds())
                && between(z, dz)
                && (c == 0 || c == b || bases[c].lateral.nearer_same_way(&base.lateral))
        });
        if !dominated && clear(base, dt, dz, &blockers) {
            taken.push((dt, dz, b));
            found.push(Alternative {
                time_shift: dt,
                altitude_shift_m: dz,
                lateral: base.lateral.clone(),
                lateral_m: base.lateral_m,
                cost,
                volumes: base.volumes.iter().map(|v| shift(v, dt, dz)).collect(),
            });
        }
    }
    found
}

/// The plan in place, then its sideways variants: a route around what it meets as planned, or an area moved along
/// rings of growing radius.
fn bases(
    volumes: &[Volume],
    route: Option<&Route>,
    blockers: &[Blocker<'_>],
    space: &SearchSpace,
) -> Vec<Base> {
    let mut out = vec![Base::new(Lateral::Unchanged, 0.0, volumes.to_vec())];
    if space.max_lateral_m.is_nan() || space.max_lateral_m <= 0.0 {
        return out;
    }
    match route {
        Some(route) if space.shape_may_change => {
            let meets: Vec<_> = blockers
                .iter()
                .filter(|b| {
                    b.volume.altitude.overlaps(&route.altitude) && b.volume.time.overlaps(&route.time)
                })
                .map(|b| &b.volume.outline)
                .collect();
            if let Some(waypoints) = detour(route, &meets, space.max_lateral_m)
                && let Ok(volumes) = route_volumes(&Route { waypoints: waypoints.clone(), ..route.clone() })
            {
                let extra = (length_m(&waypoints) - length_m(&route.waypoints)).max(0.0);
                out.push(Base::new(Lateral::Detour { waypoints }, extra, volumes));
            }
        }
        // A route keeps its waypoints unless its shape may change: they are where the operator must fly.
        Some(_) => {}
        None => {
            let step =
                if space.lateral_step_m > 0.0 { space.lateral_step_m } else { space.max_lateral_m / 4.0 };
            let rings = ((space.max_lateral_m / step).floor() as usize).min(MAX_RINGS);
            for ring in 1..=rings {
                let distance_m = step * ring as f64;
                for direction in 0..8 {
                    let bearing_deg = 45.0 * direction as f64;
                    let moved: Option<Vec<Volume>> =
                        volumes.iter().map(|v| moved(v, bearing_deg, distance_m)).collect();
                    if let Some(volumes) = moved {
                        out.push(Base::new(Lateral::Moved { bearing_deg, distance_m }, distance_m, volumes));
                    }
                }
            }
        }
    }
    out
}

/// Whether `base` shifted by `dt` and `dz` meets no blocker: rectangles, altitudes and times first, then the exact
/// test.
fn clear(base: &Base, dt: Duration, dz: f64, blockers: &[Blocker<'_>]) -> bool {
    base.volumes.iter().zip(&base.rects).all(|(v, rects)| {
        let v = shift(v, dt, dz);
        blockers.iter().all(|b| {
            !(v.time.overlaps(&b.volume.time)
                && v.altitude.overlaps(&b.volume.altitude)
                && rects.iter().any(|r| b.rects.iter().any(|s| r.intersects(s)))
                && v.intersects(b.volume))
        })
    })
}

/// Whether `part` lies between zero and `whole` (both included): a shift no further, the same way.
fn between<T: Default + PartialOrd + Copy>(part: T, whole: T) -> bool {
    let zero = T::default();
    if whole >= zero { zero <= part && part <= whole } else { whole <= part && part <= zero }
}

impl Lateral {
    /// Whether this move goes the same way as `other`, no further.
    fn nearer_same_way(&self, other: &Lateral) -> bool {
        match (self, other) {
            (
                Lateral::Moved { bearing_deg: a, distance_m: d },
                Lateral::Moved { bearing_deg: b, distance_m: e },
            ) => a == b && d <= e,
            _ => false,
        }
    }
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

/// Whether `volumes` shifted by `dt` and `dz` keep every limit of time and altitude (moving sideways changes
/// neither).
fn within(volumes: &[Volume], dt: Duration, dz: f64, space: &SearchSpace) -> bool {
    volumes.iter().all(|v| {
        v.time.lo.is_none_or(|t| t + dt >= space.not_before)
            && space.not_after.is_none_or(|end| v.time.hi.is_some_and(|t| t + dt <= end))
            && v.altitude.lo.is_none_or(|a| a + dz >= space.altitude_floor_m)
            && v.altitude.hi.is_none_or(|a| a + dz <= space.altitude_ceiling_m)
    })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::conflict::blocking_intents;
    use crate::conflict::tests::{at, cylinder};
    use crate::lateral::length_m;

    fn space() -> SearchSpace {
        SearchSpace {
            time_step: Duration::minutes(5),
            max_time_shift: Duration::minutes(60),
            altitude_step_m: 50.0,
            max_altitude_shift_m: 300.0,
            altitude_floor_m: 0.0,
            altitude_ceiling_m: 500.0,
            not_before: at(0),
            not_after: None,
            max_lateral_m: 0.0,
            lateral_step_m: 0.0,
            shape_may_change: false,
            // One 5-minute step weighs as much as one 50 m step, so the ranking counts steps.
            weights: CostWeights { per_minute: 1.0, per_vertical_metre: 0.1, per_lateral_metre: 0.01 },
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
        let found = alternatives(&mine, None, Priority(0), &others, PriorityPolicy::default(), &space());
        let shifts: Vec<(i64, f64)> =
            found.iter().map(|a| (a.time_shift.num_minutes(), a.altitude_shift_m)).collect();
        // Up to two steps every shift still overlaps or touches the peer (closed intervals) or leaves the space;
        // shifts further the same ways, later or higher or both, are no better, and earlier is before the start.
        assert_eq!(shifts, [(15, 0.0), (0, 150.0)]);
        for a in &found {
            assert!(blocking_intents(&a.volumes, Priority(0), &others, PriorityPolicy::default()).is_empty());
        }
    }

    #[test]
    fn no_room_means_no_alternative() {
        let mine = [cylinder(6.6, (0.0, 100.0), (10, 20))];
        let others = [blocker(cylinder(6.6, (0.0, 1000.0), (0, 200)))];
        assert!(
            alternatives(&mine, None, Priority(0), &others, PriorityPolicy::default(), &space()).is_empty()
        );
        assert_eq!(
            alternatives(&mine, None, Priority(1), &others, PriorityPolicy::default(), &space()).len(),
            3
        );
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
            for a in alternatives(&mine, None, Priority(mine_priority), &others, policy, &space()) {
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
            prop_assume!(within(&free, Duration::zero(), 0.0, &s));
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
            let found = alternatives(&mine, None, Priority(0), &others, PriorityPolicy::default(), &s);
            prop_assert!(!found.is_empty(), "the free slot ({}, {}) was not found", kt, kz);
            // The slot, or a shift the same way no further, which makes the slot no better.
            let is_slot = |a: &Alternative| {
                between(a.time_shift.num_milliseconds(), dt.num_milliseconds()) && between(a.altitude_shift_m, dz)
            };
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
                prop_assert!(within(&a.volumes, Duration::zero(), 0.0, &s));
                for o in &others {
                    prop_assert!(a.volumes.iter().all(|v| o.volumes.iter().all(|w| !v.intersects(w))));
                }
            }
        }
    }

    /// A route east along 46.5° N, 2 km long, 0-100 m, minutes 10-40, 20 m either side.
    fn route_east() -> Route {
        Route {
            waypoints: vec![LatLng::new(46.5, 6.6), LatLng::new(46.5, 6.626)],
            buffer_m: 20.0,
            altitude: entente_geo::Interval { lo: Some(0.0), hi: Some(100.0) },
            time: entente_geo::Interval { lo: Some(at(10)), hi: Some(at(40)) },
        }
    }

    fn disc_at(lat: f64, lng: f64, r: f64, alt: (f64, f64), minutes: (i64, i64)) -> Volume {
        Volume {
            outline: entente_geo::Outline::Circle(
                entente_geo::Circle::new(LatLng::new(lat, lng), r).unwrap(),
            ),
            altitude: entente_geo::Interval { lo: Some(alt.0), hi: Some(alt.1) },
            time: entente_geo::Interval { lo: Some(at(minutes.0)), hi: Some(at(minutes.1)) },
        }
    }

    fn flying_space() -> SearchSpace {
        SearchSpace {
            time_step: Duration::minutes(5),
            max_time_shift: Duration::hours(2),
            altitude_step_m: 30.0,
            max_altitude_shift_m: 300.0,
            altitude_floor_m: 0.0,
            altitude_ceiling_m: 3000.0,
            not_before: at(0),
            not_after: None,
            max_lateral_m: 500.0,
            lateral_step_m: 0.0,
            shape_may_change: true,
            weights: CostWeights::default(),
            max_results: 5,
        }
    }

    #[test]
    fn a_route_clipping_a_corner_is_offered_a_short_detour_before_a_climb_or_a_delay() {
        let route = route_east();
        let mine = route_volumes(&route).unwrap();
        // A peer's disc clips the route's north side half-way, over the whole flight, from the ground to 150 m.
        let lat = 46.5 + 110.0 / EARTH_M_PER_DEG;
        let others = [Intent {
            id: "peer".into(),
            priority: Priority(0),
            volumes: vec![disc_at(lat, 6.613, 100.0, (0.0, 150.0), (0, 60))],
        }];
        let found = alternatives(
            &mine,
            Some(&route),
            Priority(0),
            &others,
            PriorityPolicy::default(),
            &flying_space(),
        );
        let first = found.first().expect("an alternative");
        let Lateral::Detour { waypoints } = &first.lateral else { panic!("a detour first: {first:?}") };
        assert_eq!((first.time_shift, first.altitude_shift_m), (Duration::zero(), 0.0));
        let (before, after) = (length_m(&route.waypoints), length_m(waypoints));
        assert!(first.lateral_m > 0.0 && after < before * 1.1, "{before} m -> {after} m");
        assert!(found.windows(2).all(|w| w[0].cost <= w[1].cost), "cheapest first");
        // The same refused plan without leave to change its shape: a climb of 180 m (cost 30) beats the delay of
        // 55 minutes (55).
        let fixed = SearchSpace { shape_may_change: false, ..flying_space() };
        let found =
            alternatives(&mine, Some(&route), Priority(0), &others, PriorityPolicy::default(), &fixed);
        assert_eq!((found[0].time_shift, found[0].altitude_shift_m), (Duration::zero(), 180.0));
        assert!(found.iter().all(|a| a.lateral == Lateral::Unchanged));
    }

    #[test]
    fn an_area_hemmed_in_time_and_altitude_moves_aside() {
        let mine = [disc_at(46.5, 6.6, 150.0, (0.0, 100.0), (10, 20))];
        // The peer holds the east half of the area and everything around it for hours, up to the ceiling.
        let others = [Intent {
            id: "peer".into(),
            priority: Priority(0),
            volumes: vec![disc_at(46.5, 6.603, 200.0, (0.0, 120.0), (0, 600))],
        }];
        let space = SearchSpace { altitude_ceiling_m: 120.0, ..flying_space() };
        let found = alternatives(&mine, None, Priority(0), &others, PriorityPolicy::default(), &space);
        let first = found.first().expect("an alternative");
        let Lateral::Moved { bearing_deg, distance_m } = first.lateral else { panic!("moved: {first:?}") };
        // 125 m west leaves 355 m between the centres, more than the radii's 350.
        assert_eq!((bearing_deg, distance_m), (270.0, 125.0), "west, the nearest ring that clears the peer");
        assert!(!crate::volumes_intersect(&first.volumes, &others[0].volumes));
    }

    const EARTH_M_PER_DEG: f64 = entente_geo::EARTH_RADIUS_M * std::f64::consts::PI / 180.0;

    proptest! {
        /// Whatever the airspace and the limits, every alternative is clear of every intent it may not conflict
        /// with (exact 4D) and keeps every limit: time window, altitude band, how far sideways.
        #[test]
        fn every_alternative_is_clear_and_within_the_limits(
            peers in proptest::collection::vec(
                (-0.004f64..0.03, -0.004f64..0.004, 30.0f64..400.0, 0.0f64..200.0, 20.0f64..200.0, 0i64..90, 5i64..90),
                1..8),
            as_route in any::<bool>(),
            ceiling in 100.0f64..400.0,
            latest in 45i64..200,
            max_lateral in 0.0f64..800.0,
        ) {
            let route = route_east();
            let (volumes, given) = if as_route {
                (route_volumes(&route).unwrap(), Some(&route))
            } else {
                (vec![disc_at(46.5, 6.61, 300.0, (0.0, 100.0), (10, 40))], None)
            };
            let others: Vec<Intent> = peers.iter().map(|&(dlng, dlat, r, lo, h, t, d)| Intent {
                id: "p".into(),
                priority: Priority(0),
                volumes: vec![disc_at(46.5 + dlat, 6.6 + dlng, r, (lo, lo + h), (t, t + d))],
            }).collect();
            let space = SearchSpace {
                altitude_ceiling_m: ceiling,
                not_after: Some(at(latest)),
                max_lateral_m: max_lateral,
                ..flying_space()
            };
            let found = alternatives(&volumes, given, Priority(0), &others, PriorityPolicy::default(), &space);
            for (i, a) in found.iter().enumerate() {
                prop_assert!(
                    !found[..i].iter().any(|b| b.lateral == Lateral::Unchanged
                        && between(b.time_shift.num_milliseconds(), a.time_shift.num_milliseconds())
                        && between(b.altitude_shift_m, a.altitude_shift_m)),
                    "{:?} goes further the same ways as a cheaper one", a
                );
            }
            for a in found {
                prop_assert!(!crate::volumes_intersect(&a.volumes, &others.iter().flat_map(|o| o.volumes.clone()).collect::<Vec<_>>()));
                prop_assert!(within(&a.volumes, Duration::zero(), 0.0, &space), "outside the limits: {:?}", a);
                match &a.lateral {
                    Lateral::Unchanged => prop_assert_eq!(a.lateral_m, 0.0),
                    Lateral::Moved { distance_m, .. } => prop_assert!(*distance_m <= max_lateral && !as_route),
                    Lateral::Detour { waypoints } => {
                        prop_assert!(as_route);
                        // Every turn lies within the limit of the route (a line of latitude here).
                        for w in waypoints {
                            prop_assert!(((w.lat - 46.5) * EARTH_M_PER_DEG).abs() <= max_lateral);
                        }
                    }
                }
            }
        }

        /// Cases built with a known way out that only one dimension offers: a free altitude band under the ceiling,
        /// a free time slot before the latest end, or a corridor beside the route. One alternative at least is
        /// found.
        #[test]
        fn where_a_way_out_exists_within_the_limits_one_is_found(
            way in 0u8..3,
            band in 0i64..4,
            slot in 1i64..8,
            side in prop_oneof![Just(-1.0f64), Just(1.0f64)],
        ) {
            let route = route_east();
            let volumes = route_volumes(&route).unwrap();
            let mut space = SearchSpace { altitude_ceiling_m: 250.0, not_after: Some(at(90)), ..flying_space() };
            let wall = |alt: (f64, f64), minutes: (i64, i64)| Intent {
                id: "wall".into(),
                priority: Priority(0),
                volumes: vec![disc_at(46.5 + side * 60.0 / EARTH_M_PER_DEG, 6.613, 150.0, alt, minutes)],
            };
            let others: Vec<Intent> = match way {
                // Free from 120 + 30 k m for 100 m, under the ceiling; the rest of the sky held for hours.
                0 => {
                    space.max_lateral_m = 0.0;
                    space.altitude_ceiling_m = 400.0;
                    let free_lo = 120.0 + 30.0 * band as f64;
                    vec![wall((0.0, free_lo - 1.0), (0, 600)), wall((free_lo + 101.0, 3000.0), (0, 600))]
                }
                // Free from minute 10 + 5 k for 31 minutes, held before and after, at every altitude.
                1 => {
                    space.max_lateral_m = 0.0;
                    let free = 10 + 5 * slot;
                    vec![wall((0.0, 3000.0), (0, free - 1)), wall((0.0, 3000.0), (free + 31, 600))]
                }
                // Held at every altitude and time, but only on one side of the route and 60 m across it.
                _ => vec![wall((0.0, 3000.0), (0, 600))],
            };
            let found = alternatives(&volumes, Some(&route), Priority(0), &others, PriorityPolicy::default(), &space);
            prop_assert!(!found.is_empty(), "no way out of kind {}", way);
        }
    }
}
