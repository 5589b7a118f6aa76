//! The monitor against the full scan, and its alerts as reports arrive, change and expire.

use proptest::prelude::*;

use super::*;
use crate::detector::Config;
use crate::state::{Position, Velocity};

const CONFIG: Config = Config { horizontal_m: 50.0, vertical_m: 15.0, lookahead_s: 60.0 };

fn monitor() -> Monitor {
    Monitor::new(Detector::new(CONFIG).unwrap(), 10.0).unwrap()
}

/// An aircraft `east_m` east of (47, 8) at 60 m, flying `trk` at `gs`, reported at `t`.
fn at(id: &str, east_m: f64, gs: f64, trk: f64, t: f64) -> State {
    let lon = 8.0 + (east_m / (entente_geo::EARTH_RADIUS_M * 47f64.to_radians().cos())).to_degrees();
    State::new(
        id,
        Position { lat: 47.0, lon, alt_m: 60.0 },
        Velocity { gs_mps: gs, trk_deg: trk, vs_mps: 0.0 },
        t,
    )
    .unwrap()
}

fn pairs(m: &Monitor) -> Vec<(String, String)> {
    let mut p: Vec<_> = m.conflicts().map(|c| (c.a.to_string(), c.b.to_string())).collect();
    p.sort();
    p
}

#[test]
fn a_head_on_pair_is_raised_then_cleared_when_one_turns_away() {
    let mut m = monitor();
    assert_eq!(m.update(at("a", 0.0, 10.0, 90.0, 0.0)), Update::default());
    let u = m.update(at("b", 1000.0, 10.0, 270.0, 0.0));
    assert_eq!(u.raised.len(), 1);
    let c = &u.raised[0];
    assert_eq!((c.a.as_ref(), c.b.as_ref()), ("a", "b"));
    assert!((c.t_in - 47.5).abs() < 1e-3, "{c:?}");
    // b's next report: still closing, so still in conflict but nothing new to raise.
    let u = m.update(at("b", 990.0, 10.0, 270.0, 1.0));
    assert_eq!(u, Update::default());
    assert_eq!(pairs(&m), [("a".into(), "b".into())]);
    // Where each is, as last reported.
    assert_eq!(m.latest("b").map(State::t), Some(1.0));
    assert_eq!(m.latest("a").map(|s| s.position()), Some(at("a", 0.0, 10.0, 90.0, 0.0).position()));
    assert!(m.latest("c").is_none());
    assert_eq!(m.conflicts().next().map(|c| c.at), Some(1.0));
    // b turns back east: the pair opens.
    let u = m.update(at("b", 980.0, 10.0, 90.0, 2.0));
    assert_eq!(u.cleared, [("a".into(), "b".into())]);
    assert!(u.raised.is_empty() && pairs(&m).is_empty());
}

#[test]
fn silent_tracks_expire_with_their_conflicts() {
    let mut m = monitor();
    m.update(at("a", 0.0, 10.0, 90.0, 0.0));
    m.update(at("b", 1000.0, 10.0, 270.0, 0.0));
    m.update(at("c", 50_000.0, 10.0, 0.0, 10.0));
    assert_eq!(m.len(), 3, "10 s old is still within max_age");
    let u = m.update(at("c", 50_100.0, 10.0, 0.0, 10.5));
    assert_eq!(u.cleared, [("a".into(), "b".into())]);
    assert_eq!(m.len(), 1);
}

#[test]
fn outdated_reports_change_nothing() {
    let mut m = monitor();
    m.update(at("a", 0.0, 10.0, 90.0, 5.0));
    assert_eq!(m.update(at("b", 1000.0, 10.0, 270.0, -6.0)), Update::default(), "older than max_age");
    assert_eq!(m.len(), 1);
    m.update(at("b", 1000.0, 10.0, 270.0, 5.0));
    assert_eq!(
        m.update(at("b", 5000.0, 10.0, 90.0, 4.0)),
        Update::default(),
        "older than b's current report"
    );
    assert_eq!(pairs(&m), [("a".into(), "b".into())]);
}

#[test]
fn removal_clears_the_pairs() {
    let mut m = monitor();
    m.update(at("a", 0.0, 10.0, 90.0, 0.0));
    m.update(at("b", 1000.0, 10.0, 270.0, 0.0));
    assert_eq!(m.remove("a").cleared, [("a".into(), "b".into())]);
    assert!(m.conflicts().next().is_none());
    assert_eq!(m.remove("a"), Update::default());
    assert_eq!(m.len(), 1);
}

#[test]
fn max_age_must_be_finite_and_not_negative() {
    let detector = Detector::new(CONFIG).unwrap();
    assert!(Monitor::new(detector.clone(), -1.0).is_err());
    assert!(Monitor::new(detector, f64::NAN).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Reports at one instant, in any order and with speeds that force re-sizing midway, end in exactly the
    /// conflicts of a full scan.
    #[test]
    fn reports_one_by_one_end_as_the_full_scan(
        raw in prop::collection::vec((0.0..3000.0f64, 0.0..3000.0f64, 30.0..120.0f64, 0.0..40.0f64, 0.0..360.0f64, -2.0..2.0f64), 0..80),
        updates in prop::collection::vec((0..80usize, 0.0..360.0f64), 0..20),
    ) {
        let m_to_deg = (1.0 / entente_geo::EARTH_RADIUS_M).to_degrees();
        let make = |i: usize, (x, y, alt_m, gs, trk, vs): (f64, f64, f64, f64, f64, f64)| {
            let position = Position { lat: 47.0 + y * m_to_deg, lon: 8.0 + x * m_to_deg / 47f64.to_radians().cos(), alt_m };
            State::new(format!("ac{i}"), position, Velocity { gs_mps: gs, trk_deg: trk, vs_mps: vs }, 0.0).unwrap()
        };
        let mut states: Vec<State> = raw.iter().enumerate().map(|(i, &r)| make(i, r)).collect();
        let mut m = monitor();
        for s in &states {
            m.update(s.clone());
        }
        // Turn some aircraft: their pairs must follow.
        for (i, trk) in updates {
            if let Some(&(x, y, alt, gs, _, vs)) = raw.get(i) {
                states[i] = make(i, (x, y, alt, gs, trk, vs));
                m.update(states[i].clone());
            }
        }
        let detector = Detector::new(CONFIG).unwrap();
        let mut expected = detector.scan(&states);
        let mut got: Vec<Conflict> = m.conflicts().cloned().collect();
        let key = |c: &Conflict| (c.a.clone(), c.b.clone());
        expected.sort_by_key(key);
        got.sort_by_key(key);
        prop_assert_eq!(got, expected);
    }
}
