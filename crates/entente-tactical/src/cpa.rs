//! Narrow phase: the exact closest point of approach of one pair and its loss-of-separation window.
//!
//! The geometry is BlueSky's state-based detection (`statebased.py` with `kwikqdrdist_matrix`), so that both
//! flag the same pairs: the pair is put on a flat earth around its mid latitude (equirectangular, error far below
//! a millimetre at the few kilometres a look-ahead spans), both move in straight lines at constant velocity, a
//! horizontal conflict is a closest approach inside the protected radius, and a conflict needs the horizontal and
//! vertical loss windows to overlap inside `[0, look-ahead)`. Every step negates exactly when the two aircraft are
//! swapped, so the verdict for (a, b) and (b, a) is bit-for-bit the same.

use entente_geo::EARTH_RADIUS_M;

use crate::detector::Config;
use crate::state::State;

/// Below this relative speed (m/s, squared for horizontal) the pair is treated as not closing at all, as BlueSky
/// does; dividing by it would only turn rounding noise into times.
const MIN_RATE: f64 = 1e-6;

/// A state in the form the narrow phase consumes: degrees, metres, east/north velocity.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Kin {
    pub(crate) lat: f64,
    pub(crate) lon: f64,
    pub(crate) alt: f64,
    pub(crate) u: f64,
    pub(crate) v: f64,
    pub(crate) vs: f64,
    pub(crate) t: f64,
}

impl Kin {
    pub(crate) fn of(s: &State) -> Kin {
        let p = s.position();
        let velocity = s.velocity();
        let (u, v) = velocity.east_north();
        Kin { lat: p.lat, lon: p.lon, alt: p.alt_m, u, v, vs: velocity.vs_mps, t: s.t() }
    }
}

/// A predicted loss of separation, times in seconds after the epoch the pair was evaluated at.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Encounter {
    pub(crate) t_cpa: f64,
    pub(crate) d_cpa_m: f64,
    pub(crate) t_in: f64,
    pub(crate) t_out: f64,
}

/// Longitude difference in (-180, 180] except at exactly ±180, written so that swapping the operands negates the
/// result exactly (BlueSky's `(d + 180) % 360 - 180` rounds differently for d and -d).
fn wrap_lon(d: f64) -> f64 {
    if d > 180.0 {
        d - 360.0
    } else if d < -180.0 {
        d + 360.0
    } else {
        d
    }
}

/// The pair's conflict, if any, with both aircraft dead-reckoned to `epoch` (seconds on the states' clock).
pub(crate) fn encounter(a: &Kin, b: &Kin, epoch: f64, config: &Config) -> Option<Encounter> {
    let (da, db) = (epoch - a.t, epoch - b.t);
    let dz = (b.alt - a.alt) + (b.vs * db - a.vs * da);
    let dvs = b.vs - a.vs;
    let h = config.vertical_m;
    let (tin_v, tout_v) = if dvs.abs() < MIN_RATE {
        if dz.abs() >= h {
            return None;
        }
        (f64::NEG_INFINITY, f64::INFINITY)
    } else {
        let hi = (dz + h) / -dvs;
        let lo = (dz - h) / -dvs;
        (hi.min(lo), hi.max(lo))
    };
    let lookahead = config.lookahead_s;
    if tout_v <= 0.0 || tin_v >= lookahead {
        return None;
    }

    let cos_mid = ((a.lat + b.lat).to_radians() * 0.5).cos();
    let dx = EARTH_RADIUS_M * wrap_lon(b.lon - a.lon).to_radians() * cos_mid + (b.u * db - a.u * da);
    let dy = EARTH_RADIUS_M * (b.lat - a.lat).to_radians() + (b.v * db - a.v * da);
    let (du, dv) = (b.u - a.u, b.v - a.v);
    let r2 = config.horizontal_m * config.horizontal_m;
    let v2 = du * du + dv * dv;
    let (t_cpa, d_cpa2, tin_h, tout_h) = if v2 < MIN_RATE {
        let d2 = dx * dx + dy * dy;
        if d2 >= r2 {
            return None;
        }
        (0.0, d2, f64::NEG_INFINITY, f64::INFINITY)
    } else {
        let t_cpa = -(du * dx + dv * dy) / v2;
        let cross = dx * dv - dy * du;
        let d_cpa2 = cross * cross / v2;
        if d_cpa2 >= r2 {
            return None;
        }
        let half = ((r2 - d_cpa2) / v2).sqrt();
        (t_cpa, d_cpa2, t_cpa - half, t_cpa + half)
    };
    let t_in = tin_v.max(tin_h);
    let t_out = tout_v.min(tout_h);
    (t_in <= t_out && t_out > 0.0 && t_in < lookahead).then(|| Encounter {
        t_cpa,
        d_cpa_m: d_cpa2.sqrt(),
        t_in,
        t_out,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: Config = Config { horizontal_m: 50.0, vertical_m: 15.0, lookahead_s: 60.0 };

    /// An aircraft `east_m`/`north_m` from (47, 8) at 60 m, flying `trk` at `gs`.
    fn kin(east_m: f64, north_m: f64, gs: f64, trk: f64, alt: f64, vs: f64) -> Kin {
        let lat = 47.0 + (north_m / EARTH_RADIUS_M).to_degrees();
        let lon = 8.0 + (east_m / (EARTH_RADIUS_M * 47f64.to_radians().cos())).to_degrees();
        let (s, c) = trk.to_radians().sin_cos();
        Kin { lat, lon, alt, u: gs * s, v: gs * c, vs, t: 0.0 }
    }

    #[test]
    fn head_on_pair_is_detected_before_the_loss() {
        let a = kin(0.0, 0.0, 10.0, 90.0, 60.0, 0.0);
        let b = kin(1000.0, 0.0, 10.0, 270.0, 60.0, 0.0);
        let e = encounter(&a, &b, 0.0, &CONFIG).expect("head-on pair 1 km apart closing at 20 m/s");
        assert!((e.t_cpa - 50.0).abs() < 1e-3, "t_cpa {}", e.t_cpa);
        assert!(e.d_cpa_m < 0.1, "d_cpa {}", e.d_cpa_m);
        assert!((e.t_in - 47.5).abs() < 1e-3 && (e.t_out - 52.5).abs() < 1e-3, "{e:?}");
    }

    #[test]
    fn parallel_pair_is_clear() {
        let a = kin(0.0, 0.0, 20.0, 0.0, 60.0, 0.0);
        let b = kin(60.0, 0.0, 20.0, 0.0, 60.0, 0.0);
        assert_eq!(encounter(&a, &b, 0.0, &CONFIG), None);
        let closer = kin(40.0, 0.0, 20.0, 0.0, 60.0, 0.0);
        let e = encounter(&a, &closer, 0.0, &CONFIG).expect("formation flight inside the zone");
        assert!(e.t_in < 0.0 && e.t_out > CONFIG.lookahead_s);
    }

    #[test]
    fn loss_beyond_the_lookahead_is_not_a_conflict() {
        let a = kin(0.0, 0.0, 10.0, 90.0, 60.0, 0.0);
        let b = kin(1300.0, 0.0, 10.0, 270.0, 60.0, 0.0);
        assert_eq!(encounter(&a, &b, 0.0, &CONFIG), None, "loss starts at 62.5 s");
        assert!(encounter(&a, &b, 0.0, &Config { lookahead_s: 63.0, ..CONFIG }).is_some());
    }

    #[test]
    fn vertical_window_must_overlap_the_horizontal_one() {
        let a = kin(0.0, 0.0, 10.0, 90.0, 60.0, 0.0);
        let b = kin(1000.0, 0.0, 10.0, 270.0, 100.0, 0.0);
        assert_eq!(encounter(&a, &b, 0.0, &CONFIG), None, "40 m above, level");
        // Descending at 1 m/s, b is within 15 m from t = 25 s to 55 s, which covers the horizontal loss at 50 s.
        let descending = kin(1000.0, 0.0, 10.0, 270.0, 100.0, -1.0);
        let e = encounter(&a, &descending, 0.0, &CONFIG).expect("descends into a");
        assert!((e.t_in - 47.5).abs() < 1e-3 && (e.t_out - 52.5).abs() < 1e-3, "{e:?}");
        // Descending at 2 m/s it passes through a's level from t = 12.5 s to 27.5 s, before the horizontal loss.
        let early = kin(1000.0, 0.0, 10.0, 270.0, 100.0, -2.0);
        assert_eq!(encounter(&a, &early, 0.0, &CONFIG), None);
    }

    #[test]
    fn diverging_pair_already_past_is_clear() {
        let a = kin(0.0, 0.0, 10.0, 270.0, 60.0, 0.0);
        let b = kin(200.0, 0.0, 10.0, 90.0, 60.0, 0.0);
        assert_eq!(encounter(&a, &b, 0.0, &CONFIG), None);
    }

    #[test]
    fn stale_states_are_dead_reckoned_to_the_epoch() {
        let a = kin(0.0, 0.0, 10.0, 90.0, 60.0, 0.0);
        // b reported 30 s ago from 1300 m away: by the epoch it is 1000 m away, like the head-on case.
        let mut b = kin(1300.0, 0.0, 10.0, 270.0, 60.0, 0.0);
        b.t = -30.0;
        let e = encounter(&a, &b, 0.0, &CONFIG).expect("head-on pair after dead reckoning");
        assert!((e.t_cpa - 50.0).abs() < 1e-3, "t_cpa {}", e.t_cpa);
    }

    #[test]
    fn pairs_across_the_antimeridian_meet() {
        let mut a = kin(0.0, 0.0, 10.0, 90.0, 60.0, 0.0);
        let mut b = kin(0.0, 0.0, 10.0, 270.0, 60.0, 0.0);
        a.lon = 179.999;
        b.lon = -179.999;
        let e = encounter(&a, &b, 0.0, &CONFIG).expect("2 x 0.001 deg apart, closing");
        assert!(e.t_cpa > 0.0 && e.t_cpa < 20.0, "t_cpa {}", e.t_cpa);
        assert_eq!(encounter(&b, &a, 0.0, &CONFIG).map(|e| e.t_cpa), Some(e.t_cpa));
    }
}
