//! The scan against the all-pairs reference on random traffic, and the detector's configuration rules.

use proptest::prelude::*;

use super::*;
use crate::state::{Position, Velocity};

const CONFIG: Config = Config { horizontal_m: 50.0, vertical_m: 15.0, lookahead_s: 60.0 };

/// Every pair tested: what the grid must reproduce exactly.
fn all_pairs(detector: &Detector, states: &[State]) -> Vec<Conflict> {
    let at = states.iter().map(State::t).fold(f64::NEG_INFINITY, f64::max);
    let mut out = Vec::new();
    for (i, a) in states.iter().enumerate() {
        for b in &states[i + 1..] {
            out.extend(detector.pair(a, b, at));
        }
    }
    out
}

/// Traffic packed into a few kilometres around `center` so that conflicts are common; `spread_s` of report age.
fn traffic(center: (f64, f64), side_m: f64, spread_s: f64) -> impl Strategy<Value = Vec<State>> {
    let aircraft = (
        0.0..1.0f64,
        0.0..1.0f64,
        30.0..120.0f64,
        0.0..25.0f64,
        0.0..360.0f64,
        -3.0..3.0f64,
        0..4u8,
        0.0..1.0f64,
    );
    prop::collection::vec(aircraft, 0..120).prop_map(move |raw| {
        raw.into_iter()
            .enumerate()
            .filter_map(|(i, (x, y, alt_m, gs, trk, vs, kind, age))| {
                let lat = (center.0 + ((y - 0.5) * side_m / entente_geo::EARTH_RADIUS_M).to_degrees())
                    .clamp(-90.0, 90.0);
                let cos = lat.to_radians().cos().max(1e-3);
                let lon = center.1 + ((x - 0.5) * side_m / (entente_geo::EARTH_RADIUS_M * cos)).to_degrees();
                let lon = (lon + 180.0).rem_euclid(360.0) - 180.0;
                // Some level flights, some hovering drones: the degenerate branches of the narrow phase.
                let (gs, vs) = match kind {
                    0 => (gs, 0.0),
                    1 => (0.0, vs),
                    _ => (gs, vs),
                };
                let velocity = Velocity { gs_mps: gs, trk_deg: trk, vs_mps: vs };
                State::new(format!("ac{i}"), Position { lat, lon, alt_m }, velocity, -age * spread_s).ok()
            })
            .collect()
    })
}

fn places() -> impl Strategy<Value = (f64, f64)> {
    prop_oneof![
        Just((47.0, 8.0)),
        Just((0.0, 180.0)),
        Just((-33.9, 151.2)),
        (-85.0..85.0f64, -180.0..180.0f64),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn grid_scan_equals_all_pairs(
        states in (places(), 200.0..8000.0f64, prop_oneof![Just(0.0), 0.0..10.0f64])
            .prop_flat_map(|(center, side_m, spread_s)| traffic(center, side_m, spread_s))
    ) {
        let detector = Detector::new(CONFIG).unwrap();
        prop_assert_eq!(detector.scan(&states), all_pairs(&detector, &states));
    }

    #[test]
    fn pairs_are_symmetric(states in traffic((47.0, 8.0), 3000.0, 0.0)) {
        let detector = Detector::new(CONFIG).unwrap();
        let mut reversed = states.clone();
        reversed.reverse();
        let key = |c: &Conflict| (c.a.clone(), c.b.clone(), c.t_in.to_bits(), c.t_out.to_bits());
        let mut forward: Vec<_> = detector.scan(&states).iter().map(key).collect();
        let mut backward: Vec<_> = detector.scan(&reversed).iter().map(key).collect();
        forward.sort();
        backward.sort();
        prop_assert_eq!(forward, backward);
    }
}

/// Deterministic traffic for the tests too large for proptest: `n` drones over `side_m` around (47, 8).
fn scatter(n: usize, side_m: f64) -> Vec<State> {
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed >> 11) as f64 / (1u64 << 53) as f64
    };
    let m_to_deg = (1.0 / entente_geo::EARTH_RADIUS_M).to_degrees();
    (0..n)
        .map(|i| {
            let lat = 47.0 + next() * side_m * m_to_deg;
            let lon = 8.0 + next() * side_m * m_to_deg / 47f64.to_radians().cos();
            let position = Position { lat, lon, alt_m: 30.0 + 90.0 * next() };
            let velocity =
                Velocity { gs_mps: 5.0 + 20.0 * next(), trk_deg: 360.0 * next(), vs_mps: 4.0 * next() - 2.0 };
            State::new(format!("ac{i}"), position, velocity, -2.0 * next()).unwrap()
        })
        .collect()
}

#[test]
fn the_parallel_scan_equals_all_pairs() {
    let states = scatter(PARALLEL_FROM + 500, 20_000.0);
    let detector = Detector::new(CONFIG).unwrap();
    let expected = all_pairs(&detector, &states);
    assert!(expected.len() > 10, "too sparse to test anything: {} conflicts", expected.len());
    assert_eq!(detector.clone().with_threads(2).scan(&states), expected);
    assert_eq!(detector.with_threads(1).scan(&states), expected);
}

#[test]
fn config_must_be_positive_and_finite() {
    let e = Detector::new(Config { horizontal_m: 0.0, ..CONFIG }).unwrap_err();
    assert_eq!(e.to_string(), "detector horizontal_m: 0 must be a positive finite number");
    assert!(Detector::new(Config { lookahead_s: f64::INFINITY, ..CONFIG }).is_err());
    assert!(Detector::new(Config { vertical_m: f64::NAN, ..CONFIG }).is_err());
}

#[test]
fn empty_and_single_scans_are_clear() {
    let detector = Detector::new(CONFIG).unwrap();
    assert!(detector.scan(&[]).is_empty());
    let one = State::new(
        "a",
        Position { lat: 47.0, lon: 8.0, alt_m: 60.0 },
        Velocity { gs_mps: 10.0, trk_deg: 0.0, vs_mps: 0.0 },
        0.0,
    )
    .unwrap();
    assert!(detector.scan(&[one]).is_empty());
}

#[test]
fn cells_split_without_cutting_a_cell() {
    let entries: Vec<(i64, u32)> =
        [1, 1, 1, 2, 2, 3, 3, 3, 3, 4].iter().enumerate().map(|(i, &k)| (k, i as u32)).collect();
    for n in 1..12 {
        let ranges = split_at_cells(&entries, n);
        assert_eq!(ranges.len(), n);
        assert_eq!(ranges.first().map(|r| r.start), Some(0));
        assert_eq!(ranges.last().map(|r| r.end), Some(entries.len()));
        for pair in ranges.windows(2) {
            assert_eq!(pair[0].end, pair[1].start, "{ranges:?}");
            let cut = pair[0].end;
            assert!(cut == 0 || cut == entries.len() || entries[cut - 1].0 != entries[cut].0, "{ranges:?}");
        }
    }
}

#[test]
fn even_ranges_cover_everything_once() {
    assert_eq!(even_ranges(10, 3), [0..3, 3..6, 6..10]);
    assert_eq!(even_ranges(1, 2), [0..0, 0..1]);
}
