//! The public API as a USS uses it: encounters anywhere on the globe, and replayed traffic through the scan and
//! the monitor.

use entente_geo::EARTH_RADIUS_M;
use entente_tactical::{Config, Conflict, Detector, Monitor, Position, Replay, State, Velocity, to_csv};
use proptest::prelude::*;

const CONFIG: Config = Config { horizontal_m: 50.0, vertical_m: 15.0, lookahead_s: 60.0 };

/// The point `dist_m` from (lat, lon) along bearing `brg` on the local flat earth.
fn offset(lat: f64, lon: f64, brg: f64, dist_m: f64) -> (f64, f64) {
    let (s, c) = brg.to_radians().sin_cos();
    let dlat = (dist_m * c / EARTH_RADIUS_M).to_degrees();
    let dlon = (dist_m * s / (EARTH_RADIUS_M * lat.to_radians().cos())).to_degrees();
    (lat + dlat, (lon + dlon + 180.0).rem_euclid(360.0) - 180.0)
}

fn state(id: &str, (lat, lon): (f64, f64), alt_m: f64, gs: f64, trk: f64) -> State {
    State::new(id, Position { lat, lon, alt_m }, Velocity { gs_mps: gs, trk_deg: trk, vs_mps: 0.0 }, 0.0)
        .expect("valid state")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    /// Two drones flying at each other from anywhere outside the polar caps are flagged before they lose
    /// separation, with the loss predicted when it will happen.
    #[test]
    fn head_on_pair_is_detected_before_the_loss(
        lat in -80.0..80.0f64, lon in -180.0..180.0f64, trk in 0.0..360.0f64,
        gs_a in 5.0..25.0f64, gs_b in 5.0..25.0f64, time_to_cpa in 5.0..55.0f64,
    ) {
        let gap = (gs_a + gs_b) * time_to_cpa;
        let a = state("a", (lat, lon), 60.0, gs_a, trk);
        let b = state("b", offset(lat, lon, trk, gap), 65.0, gs_b, (trk + 180.0) % 360.0);
        let detector = Detector::new(CONFIG).unwrap();
        let conflicts = detector.scan(&[a, b]);
        prop_assert_eq!(conflicts.len(), 1);
        let c = &conflicts[0];
        let expected_in = time_to_cpa - CONFIG.horizontal_m / (gs_a + gs_b);
        prop_assert!(c.t_in > 0.0, "already lost: {:?}", c);
        prop_assert!((c.t_in - expected_in).abs() < 0.05, "t_in {} expected {}", c.t_in, expected_in);
        prop_assert!((c.t_cpa - time_to_cpa).abs() < 0.05 && c.d_cpa_m < 1.0, "{:?}", c);
    }

    /// Drones side by side on the same track and speed never close: clear, however near, if outside the zone.
    #[test]
    fn parallel_pair_outside_the_zone_is_clear(
        lat in -80.0..80.0f64, lon in -180.0..180.0f64, trk in 0.0..360.0f64,
        gs in 0.0..25.0f64, lateral in 50.5..500.0f64, along in -2000.0..2000.0f64,
    ) {
        let a = state("a", (lat, lon), 60.0, gs, trk);
        let beside = offset(lat, lon, trk + 90.0, lateral);
        let b = state("b", offset(beside.0, beside.1, trk, along), 60.0, gs, trk);
        let detector = Detector::new(CONFIG).unwrap();
        prop_assert_eq!(detector.scan(&[a, b]), Vec::<Conflict>::new());
    }
}

#[test]
fn crossing_traffic_is_flagged_only_when_both_zones_meet() -> anyhow::Result<()> {
    let detector = Detector::new(CONFIG)?;
    let origin = (47.0, 8.0);
    // Both reach the origin at t = 40 s, one from the south, one from the west.
    let north = state("north", offset(origin.0, origin.1, 180.0, 400.0), 60.0, 10.0, 0.0);
    let east = state("east", offset(origin.0, origin.1, 270.0, 800.0), 70.0, 20.0, 90.0);
    let above = state("above", offset(origin.0, origin.1, 270.0, 800.0), 90.0, 20.0, 90.0);
    let conflicts = detector.scan(&[north.clone(), east, above]);
    let pairs: Vec<(&str, &str)> = conflicts.iter().map(|c| (c.a.as_ref(), c.b.as_ref())).collect();
    assert_eq!(
        pairs,
        [("east", "north")],
        "above flies 20 m over east and 30 m over north, outside the 15 m half-height"
    );
    let c = &conflicts[0];
    assert!((c.t_cpa - 40.0).abs() < 0.01 && c.d_cpa_m < 0.1, "{c:?}");
    Ok(())
}

/// Replay CSV for drones converging on one point from every side, and some far away.
fn converging_csv() -> String {
    let mut states = Vec::new();
    for i in 0..12u32 {
        let brg = f64::from(i) * 30.0;
        let start = offset(47.0, 8.0, brg, 500.0 + 20.0 * f64::from(i));
        states.push(state(
            &format!("ring{i}"),
            start,
            60.0 + f64::from(i % 3) * 5.0,
            12.0,
            (brg + 180.0) % 360.0,
        ));
        let far = offset(47.5, 8.5, brg, 5_000.0);
        states.push(state(&format!("far{i}"), far, 100.0, 12.0, brg));
    }
    to_csv(&states)
}

#[test]
fn replayed_traffic_gives_the_same_conflicts_to_the_scan_and_the_monitor() -> anyhow::Result<()> {
    let replay = Replay::parse(&converging_csv())?;
    let detector = Detector::new(CONFIG)?;
    let snapshot = replay.snapshot(0.0);
    assert_eq!(snapshot.len(), 24);
    let mut scanned: Vec<(String, String)> =
        detector.scan(&snapshot).iter().map(|c| (c.a.to_string(), c.b.to_string())).collect();
    assert!(!scanned.is_empty(), "the ring converges");
    assert!(scanned.iter().all(|(a, b)| a.starts_with("ring") && b.starts_with("ring")), "{scanned:?}");

    let mut monitor = Monitor::new(detector, 5.0)?;
    let mut raised = Vec::new();
    for s in replay.samples() {
        raised
            .extend(monitor.update(s.clone()).raised.into_iter().map(|c| (c.a.to_string(), c.b.to_string())));
    }
    let mut live: Vec<(String, String)> =
        monitor.conflicts().map(|c| (c.a.to_string(), c.b.to_string())).collect();
    scanned.sort();
    live.sort();
    raised.sort();
    assert_eq!(live, scanned);
    assert_eq!(raised, scanned, "each pair raised once");
    Ok(())
}
