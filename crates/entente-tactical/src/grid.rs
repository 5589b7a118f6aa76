//! Broad phase: each aircraft gets a latitude/longitude box around the path it can fly within the look-ahead, and
//! only aircraft whose boxes share a grid cell are handed to the narrow phase. The cost follows the number of
//! nearby pairs instead of all N² pairs.
//!
//! The boxes are exact over-approximations of the narrow phase's own geometry (see `cpa.rs`), never of some other
//! projection, so the broad phase cannot lose a pair the narrow phase would flag: if two aircraft come within the
//! protected radius in the pair's flat frame, each one's position lies in its box and the two positions are less
//! than the two paddings apart.

use entente_geo::EARTH_RADIUS_M;

use crate::cpa::Kin;
use crate::detector::Config;

/// Added to every padding (metres) so that rounding in the box bounds can never drop a pair at the boundary.
const SLACK_M: f64 = 0.01;

/// A box in degrees; longitudes may run past ±180, the cells wrap them.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Sweep {
    lat_lo: f64,
    lat_hi: f64,
    lon_lo: f64,
    lon_hi: f64,
}

impl Sweep {
    /// The box holding every position `k` takes in `[k.t, k.t + duration_s]`, padded by half the protected radius.
    ///
    /// `reach_m` bounds how far north or south any aircraft in conflict with `k` can be: the protected radius plus
    /// the distance two aircraft at the fastest speed cover in `duration_s`. It bounds the pair's mid latitude, and
    /// with it how many degrees of longitude one metre east is in the pair's frame.
    pub(crate) fn of(k: &Kin, duration_s: f64, reach_m: f64, config: &Config) -> Sweep {
        let deg_per_m = (1.0 / EARTH_RADIUS_M).to_degrees();
        let pad_m = config.horizontal_m * 0.5 + SLACK_M;
        let north = k.v * duration_s * deg_per_m;
        let lat_pad = pad_m * deg_per_m;
        let lat_lo = k.lat + north.min(0.0) - lat_pad;
        let lat_hi = k.lat + north.max(0.0) + lat_pad;
        let widest = (k.lat.abs() + reach_m * deg_per_m).min(90.0);
        let cos_bound = widest.to_radians().cos();
        let (lon_lo, lon_hi) = if cos_bound <= f64::EPSILON {
            (f64::NEG_INFINITY, f64::INFINITY)
        } else {
            let east = k.u * duration_s * deg_per_m / cos_bound;
            let lon_pad = pad_m * deg_per_m / cos_bound;
            (k.lon + east.min(0.0) - lon_pad, k.lon + east.max(0.0) + lon_pad)
        };
        Sweep { lat_lo, lat_hi, lon_lo, lon_hi }
    }

    /// Whether the boxes meet, longitudes compared modulo 360 as the narrow phase compares them. A cell holds boxes
    /// that only share the cell, so this cheap test spares most narrow-phase calls.
    pub(crate) fn meets(&self, o: &Sweep) -> bool {
        self.lat_lo <= o.lat_hi
            && o.lat_lo <= self.lat_hi
            && [-360.0, 0.0, 360.0]
                .iter()
                .any(|shift| self.lon_lo <= o.lon_hi + shift && o.lon_lo + shift <= self.lon_hi)
    }
}

/// The broad phase's sizes for traffic no faster than `fastest_mps`, with boxes swept over `duration_s`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Plan {
    /// How far apart two such aircraft can start and still conflict: [`Sweep::of`]'s `reach_m`.
    pub(crate) reach_m: f64,
    pub(crate) cells: Cells,
}

impl Plan {
    pub(crate) fn new(config: &Config, fastest_mps: f64, duration_s: f64, ref_lat: f64) -> Plan {
        Plan {
            reach_m: config.horizontal_m + 2.0 * fastest_mps * duration_s,
            // About as large as a typical box, so that most boxes touch one to four cells.
            cells: Cells::new(config.horizontal_m + 0.5 * fastest_mps * duration_s, ref_lat),
        }
    }
}

/// Sorts (cell key, aircraft) entries by cell with a least-significant-digit radix sort: a scan sorts tens of
/// thousands of entries, where this is several times faster than a comparison sort. Order within a cell is
/// unspecified.
pub(crate) fn sort_by_cell(entries: &mut Vec<(i64, u32)>) {
    const BITS: u32 = 11;
    let Some(min) = entries.iter().map(|e| e.0).min() else { return };
    let max = entries.iter().map(|e| e.0).max().unwrap_or(min);
    let range = max.abs_diff(min);
    let mut scratch = vec![(0i64, 0u32); entries.len()];
    let mut shift = 0;
    while shift < u64::BITS && range >> shift != 0 {
        let digit = |e: &(i64, u32)| ((e.0.abs_diff(min) >> shift) & ((1 << BITS) - 1)) as usize;
        let mut starts = [0usize; 1 << BITS];
        for e in entries.iter() {
            starts[digit(e)] += 1;
        }
        let mut total = 0;
        for s in starts.iter_mut() {
            (*s, total) = (total, total + *s);
        }
        for e in entries.iter() {
            let d = digit(e);
            scratch[starts[d]] = *e;
            starts[d] += 1;
        }
        std::mem::swap(entries, &mut scratch);
        shift += BITS;
    }
}

/// A grid of roughly square cells over the whole globe; columns wrap at the antimeridian.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Cells {
    lat_deg: f64,
    lon_deg: f64,
    cols: i64,
}

impl Cells {
    /// Cells `side_m` high, and as wide at latitude `ref_lat`. The size only trades work against memory;
    /// correctness holds for any size.
    pub(crate) fn new(side_m: f64, ref_lat: f64) -> Cells {
        let lat_deg = (side_m / EARTH_RADIUS_M).to_degrees();
        let width = lat_deg / ref_lat.to_radians().cos().max(0.01);
        let cols = (360.0 / width).ceil().max(1.0) as i64;
        Cells { lat_deg, lon_deg: 360.0 / cols as f64, cols }
    }

    /// Calls `f` once with the key of every cell the box touches.
    pub(crate) fn keys(&self, s: &Sweep, mut f: impl FnMut(i64)) {
        let row_lo = (s.lat_lo / self.lat_deg).floor() as i64;
        let row_hi = (s.lat_hi / self.lat_deg).floor() as i64;
        let col_lo = ((s.lon_lo + 180.0) / self.lon_deg).floor();
        let col_hi = ((s.lon_hi + 180.0) / self.lon_deg).floor();
        let (col_lo, col_hi) = if col_hi - col_lo + 1.0 >= self.cols as f64 {
            (0, self.cols - 1)
        } else {
            (col_lo as i64, col_hi as i64)
        };
        for row in row_lo..=row_hi {
            for col in col_lo..=col_hi {
                f(row * self.cols + col.rem_euclid(self.cols));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: Config = Config { horizontal_m: 50.0, vertical_m: 15.0, lookahead_s: 60.0 };

    fn kin(lat: f64, lon: f64, u: f64, v: f64) -> Kin {
        Kin { lat, lon, alt: 60.0, u, v, vs: 0.0, t: 0.0 }
    }

    fn keys(cells: &Cells, s: &Sweep) -> Vec<i64> {
        let mut out = Vec::new();
        cells.keys(s, |k| out.push(k));
        out
    }

    #[test]
    fn box_follows_the_path_and_pads_by_half_the_zone() {
        let s = Sweep::of(&kin(0.0, 0.0, 10.0, -5.0), 60.0, 0.0, &CONFIG);
        let m = |deg: f64| deg.to_radians() * EARTH_RADIUS_M;
        assert!((m(s.lon_hi) - 625.01).abs() < 1e-6, "east edge {} m", m(s.lon_hi));
        assert!((m(s.lon_lo) + 25.01).abs() < 1e-6);
        assert!((m(s.lat_lo) + 325.01).abs() < 1e-6);
        assert!((m(s.lat_hi) - 25.01).abs() < 1e-6);
    }

    #[test]
    fn boxes_widen_in_longitude_towards_the_poles() {
        let low = Sweep::of(&kin(10.0, 0.0, 10.0, 0.0), 60.0, 3000.0, &CONFIG);
        let high = Sweep::of(&kin(70.0, 0.0, 10.0, 0.0), 60.0, 3000.0, &CONFIG);
        assert!(high.lon_hi - high.lon_lo > 2.0 * (low.lon_hi - low.lon_lo));
        let pole = Sweep::of(&kin(89.99, 0.0, 10.0, 0.0), 60.0, 3000.0, &CONFIG);
        let cells = Cells::new(1000.0, 0.0);
        assert_eq!(keys(&cells, &pole).len() as i64 % cells.cols, 0, "whole rows near the pole");
    }

    #[test]
    fn radix_sort_groups_every_cell() {
        let mut seed = 12345u64;
        let mut entries: Vec<(i64, u32)> = (0..5000u32)
            .map(|i| {
                seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                ((seed >> 20) as i64 % 3_000_000_000 - 1_500_000_000, i)
            })
            .collect();
        let mut expected = entries.clone();
        expected.sort_unstable();
        sort_by_cell(&mut entries);
        assert_eq!(
            entries.iter().map(|e| e.0).collect::<Vec<_>>(),
            expected.iter().map(|e| e.0).collect::<Vec<_>>()
        );
        entries.sort_unstable();
        assert_eq!(entries, expected, "the same entries");
        let mut one = vec![(7, 1), (7, 0)];
        sort_by_cell(&mut one);
        assert_eq!(one.len(), 2);
    }

    #[test]
    fn boxes_meet_across_the_antimeridian() {
        let west = Sweep::of(&kin(0.0, 179.9999, 10.0, 0.0), 60.0, 0.0, &CONFIG);
        let east = Sweep::of(&kin(0.0, -179.9999, -10.0, 0.0), 60.0, 0.0, &CONFIG);
        assert!(west.meets(&east) && east.meets(&west));
        let north = Sweep::of(&kin(0.1, -179.9999, -10.0, 0.0), 60.0, 0.0, &CONFIG);
        assert!(!west.meets(&north), "11 km apart in latitude");
        let far = Sweep::of(&kin(0.0, 0.0, -10.0, 0.0), 60.0, 0.0, &CONFIG);
        assert!(!west.meets(&far));
    }

    #[test]
    fn columns_wrap_at_the_antimeridian() {
        let cells = Cells::new(1000.0, 0.0);
        let west = keys(&cells, &Sweep::of(&kin(0.0, 179.9999, 10.0, 0.0), 60.0, 0.0, &CONFIG));
        let east = keys(&cells, &Sweep::of(&kin(0.0, -179.9999, -10.0, 0.0), 60.0, 0.0, &CONFIG));
        assert!(west.iter().any(|k| east.contains(k)), "{west:?} {east:?}");
    }
}
