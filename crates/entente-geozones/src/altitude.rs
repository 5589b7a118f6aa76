//! Vertical limits on the WGS 84 ellipsoid, the reference F3548 volumes use: AMSL through the EGM96 geoid (as
//! U-space specifies), AGL through a terrain model when there is one, and otherwise the widest band AGL could
//! mean, flagged so.

use entente_geo::{EARTH_RADIUS_M, Interval, LatLng, Outline};

use crate::model::{Level, VerticalReference, ZoneVolume};

/// The lowest ground on land, metres above mean sea level: the Dead Sea shore, about 430 m below the sea.
pub const LOWEST_GROUND_AMSL_M: f64 = -430.0;
/// The highest ground, metres above mean sea level: Mount Everest's summit, 8848.86 m.
pub const HIGHEST_GROUND_AMSL_M: f64 = 8_849.0;

/// The steepest slope of the EGM96 geoid, metres per metre, with room to spare: its deflections of the
/// vertical stay within an arcminute (2.9e-4 rad). It bounds how far the geoid between sample points may go
/// beyond what the samples saw.
const GEOID_SLOPE_MAX: f64 = 3e-4;

/// The widest cell of the grid laid over a shape to find its geoid extremes, sampled at its centre: the geoid
/// cannot stray more than about a metre (the slope bound times half the cell's diagonal) within such a cell.
const GEOID_SPACING_M: f64 = 5_000.0;

/// At most this many cells per side (so at most 32 x 32 evaluations of the model per rectangle); shapes over
/// about 160 km across get wider cells and a wider margin rather than more evaluations.
const GEOID_MAX_SIDE: usize = 32;

/// The EGM96 geoid's height above the WGS 84 ellipsoid at `p`, in metres (the undulation N).
pub fn undulation(p: LatLng) -> f64 {
    egm96::egm96_compute_altitude_offset(p.lat, p.lng)
}

/// A height above mean sea level (the EGM96 geoid) as a height above the WGS 84 ellipsoid.
pub fn amsl_to_w84(p: LatLng, amsl_m: f64) -> f64 {
    amsl_m + undulation(p)
}

/// A height above the WGS 84 ellipsoid as a height above mean sea level (the EGM96 geoid).
pub fn w84_to_amsl(p: LatLng, w84_m: f64) -> f64 {
    w84_m - undulation(p)
}

/// Ground elevations, for turning AGL limits into heights. Shared by every request of a USS, hence `Send + Sync`.
pub trait Terrain: Send + Sync + std::fmt::Debug {
    /// The lowest and highest ground under `outline`, metres above mean sea level, or `None` where this model
    /// has no data.
    fn ground_amsl(&self, outline: &Outline) -> Option<(f64, f64)>;
}

/// No terrain model: every AGL limit is taken at its widest.
#[derive(Debug)]
pub struct NoTerrain;

impl Terrain for NoTerrain {
    fn ground_amsl(&self, _: &Outline) -> Option<(f64, f64)> {
        None
    }
}

/// A volume's vertical extent on the WGS 84 ellipsoid, in metres.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct W84Band {
    /// `lo: None`: no lower limit; `hi: None`: unlimited.
    pub altitude: Interval<f64>,
    /// An AGL limit met no terrain data, so it was taken from the lowest ground on earth (lower limit) or the
    /// highest (upper limit): the band holds every height the limit could mean, and more.
    pub ground_unknown: bool,
}

/// The W84 band of a volume over its whole outline: each limit taken where it is lowest (lower) or highest
/// (upper), so the band holds every height the zone covers anywhere in it.
pub fn w84_band(volume: &ZoneVolume, terrain: &dyn Terrain) -> W84Band {
    let needs_geoid =
        [volume.lower, volume.upper].iter().flatten().any(|l| l.reference != VerticalReference::W84);
    let geoid = if needs_geoid { geoid_range(&volume.outline) } else { (0.0, 0.0) };
    let mut ground = None;
    let mut ground_unknown = false;
    let mut convert = |level: Option<Level>, low: bool| -> Option<f64> {
        let Level { value, reference } = level?;
        let metres = value * volume.unit.metres();
        let (n_lo, n_hi) = geoid;
        Some(match reference {
            VerticalReference::W84 => metres,
            VerticalReference::Amsl => metres + if low { n_lo } else { n_hi },
            VerticalReference::Agl => {
                let (g_lo, g_hi) = *ground.get_or_insert_with(|| {
                    terrain.ground_amsl(&volume.outline).unwrap_or_else(|| {
                        ground_unknown = true;
                        (LOWEST_GROUND_AMSL_M, HIGHEST_GROUND_AMSL_M)
                    })
                });
                metres + if low { g_lo + n_lo } else { g_hi + n_hi }
            }
        })
    };
    let lo = convert(volume.lower, true);
    let hi = convert(volume.upper, false);
    W84Band { altitude: Interval { lo, hi }, ground_unknown }
}

/// The lowest and highest undulation over the outline: sampled at the centres of a grid's cells over each of
/// its bounding rectangles (which hold the whole shape), widened by how far the geoid can go within a cell. A
/// zone a few kilometres across costs one evaluation of the model.
fn geoid_range(outline: &Outline) -> (f64, f64) {
    let mut points = Vec::new();
    let mut margin: f64 = 0.0;
    for r in outline.bounding_rects() {
        let (lat_lo, lat_hi) = (r.lat_lo.max(-90.0), r.lat_hi.min(90.0));
        let (lng_lo, lng_hi) = (r.lng_lo.max(-180.0), r.lng_hi.min(180.0));
        // Cells are widest at the latitude nearest the equator.
        let widest = if lat_lo <= 0.0 && lat_hi >= 0.0 { 0.0 } else { lat_lo.abs().min(lat_hi.abs()) };
        let metres_per_degree = EARTH_RADIUS_M.to_radians();
        let height_m = (lat_hi - lat_lo) * metres_per_degree;
        let width_m = (lng_hi - lng_lo) * metres_per_degree * widest.to_radians().cos();
        let side = |m: f64| ((m / GEOID_SPACING_M).ceil() as usize).clamp(1, GEOID_MAX_SIDE);
        let (n_lat, n_lng) = (side(height_m), side(width_m));
        let (d_lat, d_lng) = ((lat_hi - lat_lo) / n_lat as f64, (lng_hi - lng_lo) / n_lng as f64);
        // Every point of a cell is within half the cell's diagonal of its centre.
        let diagonal_m =
            entente_geo::distance_m(LatLng::new(widest, 0.0), LatLng::new(widest + d_lat, d_lng))
                .max(entente_geo::distance_m(LatLng::new(widest, 0.0), LatLng::new(widest - d_lat, d_lng)));
        margin = margin.max(GEOID_SLOPE_MAX * diagonal_m / 2.0);
        for i in 0..n_lat {
            for j in 0..n_lng {
                points
                    .push(LatLng::new(lat_lo + d_lat * (i as f64 + 0.5), lng_lo + d_lng * (j as f64 + 0.5)));
            }
        }
    }
    let (lo, hi) = points
        .iter()
        .map(|p| undulation(*p))
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), n| (lo.min(n), hi.max(n)));
    (lo - margin, hi + margin)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Unit;
    use entente_geo::{Circle, Polygon};
    use proptest::prelude::*;

    /// The test values NGA publishes with its EGM96 undulation program (`outintpt.dat` for `INPUT.DAT`):
    /// latitude, longitude (east, 0-360) and undulation in metres, given to the millimetre.
    const NGA_REFERENCE: [(f64, f64, f64); 6] = [
        (38.628155, 269.779155, -31.628),
        (-14.621217, 305.021114, -2.969),
        (46.874319, 102.448729, -43.575),
        (-23.617446, 133.874712, 15.871),
        (38.625473, 359.999500, 50.066),
        (-0.466744, 0.002300, 17.329),
    ];

    #[test]
    fn undulation_matches_the_published_reference_values() {
        for (lat, lng, expected) in NGA_REFERENCE {
            let lng = if lng > 180.0 { lng - 360.0 } else { lng };
            let n = undulation(LatLng::new(lat, lng));
            assert!((n - expected).abs() < 0.01, "N at {lat},{lng} = {n}, expected {expected}");
        }
    }

    fn circle(lat: f64, lng: f64, r: f64) -> Outline {
        Outline::Circle(Circle::new(LatLng::new(lat, lng), r).unwrap())
    }

    fn volume(
        outline: Outline,
        lower: Option<(f64, VerticalReference)>,
        upper: Option<(f64, VerticalReference)>,
        unit: Unit,
    ) -> ZoneVolume {
        let level =
            |l: Option<(f64, VerticalReference)>| l.map(|(value, reference)| Level { value, reference });
        ZoneVolume { outline, lower: level(lower), upper: level(upper), unit }
    }

    #[derive(Debug)]
    struct Flat(f64);
    impl Terrain for Flat {
        fn ground_amsl(&self, _: &Outline) -> Option<(f64, f64)> {
            Some((self.0, self.0))
        }
    }

    #[test]
    fn agl_without_terrain_is_the_widest_band_and_says_so() {
        use VerticalReference::*;
        let lausanne = circle(46.5453, 6.6169, 2000.0);
        let n = undulation(LatLng::new(46.5453, 6.6169));
        let v = volume(lausanne.clone(), Some((0.0, Agl)), Some((500.0, Agl)), Unit::Feet);
        let band = w84_band(&v, &NoTerrain);
        assert!(band.ground_unknown);
        // Each limit holds the height at the centre and is within the geoid margin (about a metre) of it.
        let holds = |band: W84Band, lo: f64, hi: f64| {
            let (l, h) = (band.altitude.lo.unwrap(), band.altitude.hi.unwrap());
            assert!(l <= lo && lo - l < 1.5, "lower {l} for {lo}");
            assert!(h >= hi && h - hi < 1.5, "upper {h} for {hi}");
        };
        holds(band, LOWEST_GROUND_AMSL_M + n, HIGHEST_GROUND_AMSL_M + 152.4 + n);
        // With the ground known (Lausanne-Blécherette lies at about 622 m), the band is the ground's.
        let band = w84_band(&v, &Flat(622.0));
        assert!(!band.ground_unknown);
        holds(band, 622.0 + n, 622.0 + 152.4 + n);
        // AMSL and W84 limits need no terrain.
        let v = volume(lausanne, Some((600.0, Amsl)), Some((1000.0, W84)), Unit::Metres);
        let band = w84_band(&v, &NoTerrain);
        assert!(!band.ground_unknown);
        let l = band.altitude.lo.unwrap();
        assert!(l <= 600.0 + n && 600.0 + n - l < 1.5, "{l}");
        assert_eq!(band.altitude.hi, Some(1000.0));
        let open = volume(circle(0.0, 0.0, 100.0), None, None, Unit::Metres);
        assert_eq!(
            w84_band(&open, &NoTerrain),
            W84Band { altitude: Interval { lo: None, hi: None }, ground_unknown: false }
        );
    }

    /// A zone's W84 band holds the limit's height at every point inside it, not only where it was sampled, and
    /// is no more than a few metres wider than the heights found there: a region of about 55 km by 55 km over
    /// the Alps and a town-sized circle on the equator (where grid cells are widest). Few probes: each is an
    /// evaluation of the geoid model.
    #[test]
    fn amsl_band_holds_every_point_of_a_zone_and_little_more() {
        let ring = [(46.2, 7.0), (46.2, 7.7), (46.7, 7.7), (46.7, 7.0)];
        let region = Polygon::new(ring.iter().map(|&(lat, lng)| LatLng::new(lat, lng)).collect()).unwrap();
        let probes_region = (0..=8).flat_map(|i| {
            (0..=8).map(move |j| LatLng::new(46.2 + 0.5 * i as f64 / 8.0, 7.0 + 0.7 * j as f64 / 8.0))
        });
        let town = Circle::new(LatLng::new(-0.02, 100.0), 12_000.0).unwrap();
        let probes_town = (0..=8).flat_map(|i| {
            (0..=8).map(move |j| {
                LatLng::new(-0.02 + 0.14 * (i as f64 / 8.0 - 0.5), 100.0 + 0.14 * (j as f64 / 8.0 - 0.5))
            })
        });
        let cases: [(Outline, Vec<LatLng>); 2] = [
            (Outline::Polygon(region), probes_region.collect()),
            (Outline::Circle(town), probes_town.filter(|p| town.contains(*p)).collect()),
        ];
        for (outline, probes) in cases {
            let amsl = Some((100.0, VerticalReference::Amsl));
            let band = w84_band(&volume(outline, amsl, amsl, Unit::Metres), &NoTerrain);
            let (lo, hi) = (band.altitude.lo.unwrap(), band.altitude.hi.unwrap());
            let heights: Vec<f64> = probes.iter().map(|p| amsl_to_w84(*p, 100.0)).collect();
            for (p, h) in probes.iter().zip(&heights) {
                assert!(lo <= *h && *h <= hi, "{p:?}: {h} outside {lo}..{hi}");
            }
            let seen = heights.iter().fold(f64::NEG_INFINITY, |a, b| a.max(*b))
                - heights.iter().fold(f64::INFINITY, |a, b| a.min(*b));
            assert!(hi - lo <= seen + 5.0, "band {lo}..{hi} is much wider than the {seen} m seen");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(16))]
        #[test]
        fn amsl_and_w84_round_trip(lat in -89.0..89.0f64, lng in -180.0..180.0f64, h in -500.0..10_000.0f64) {
            let p = LatLng::new(lat, lng);
            let there = amsl_to_w84(p, h);
            prop_assert!((there - h).abs() < 110.0, "undulation within the geoid's ±110 m");
            prop_assert!((w84_to_amsl(p, there) - h).abs() < 1e-9);
        }
    }
}
