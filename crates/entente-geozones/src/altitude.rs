//! Vertical limits on the WGS 84 ellipsoid, the reference F3548 volumes use: AMSL through the EGM96 geoid (as
//! U-space specifies), AGL through a terrain model when there is one, and otherwise the widest band AGL could
//! mean, flagged so.

use entente_geo::{Interval, LatLng, Outline};

use crate::model::{Level, Unit, VerticalReference, ZoneVolume};

/// The lowest ground on land, metres above mean sea level: the Dead Sea shore, about 430 m below the sea.
pub const LOWEST_GROUND_AMSL_M: f64 = -430.0;
/// The highest ground, metres above mean sea level: Mount Everest's summit, 8848.86 m.
pub const HIGHEST_GROUND_AMSL_M: f64 = 8_849.0;

/// The steepest slope of the EGM96 geoid, metres per metre, with room to spare: its deflections of the
/// vertical stay within an arcminute (2.9e-4 rad). It bounds how far the geoid between sample points may go
/// beyond what the samples saw.
const GEOID_SLOPE_MAX: f64 = 3e-4;

/// Sample points per side of the grid laid over a shape's bounding rectangle to find its geoid extremes.
const GEOID_GRID: usize = 4;

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

/// Ground elevations, for turning AGL limits into heights.
pub trait Terrain {
    /// The lowest and highest ground under `outline`, metres above mean sea level, or `None` where this model
    /// has no data.
    fn ground_amsl(&self, outline: &Outline) -> Option<(f64, f64)>;
}

/// No terrain model: every AGL limit is taken at its widest.
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

/// The lowest and highest undulation over the outline: sampled at its vertices (or its circle's centre and
/// rim) and on a grid over its bounding rectangles, widened by how far the geoid can go between samples.
fn geoid_range(outline: &Outline) -> (f64, f64) {
    let mut points: Vec<LatLng> = match outline {
        Outline::Polygon(p) => p.vertices().to_vec(),
        Outline::Circle(c) => vec![c.center()],
    };
    let mut spacing_m: f64 = 0.0;
    for r in outline.bounding_rects() {
        let (lat_lo, lat_hi) = (r.lat_lo.max(-90.0), r.lat_hi.min(90.0));
        let (lng_lo, lng_hi) = (r.lng_lo.max(-180.0), r.lng_hi.min(180.0));
        let step = |lo: f64, hi: f64| (hi - lo) / (GEOID_GRID - 1) as f64;
        let (d_lat, d_lng) = (step(lat_lo, lat_hi), step(lng_lo, lng_hi));
        // A grid cell's half diagonal, in metres, bounds the distance from any point to a sample.
        let cell =
            entente_geo::distance_m(LatLng::new(lat_lo, lng_lo), LatLng::new(lat_lo + d_lat, lng_lo + d_lng))
                .max(entente_geo::distance_m(
                    LatLng::new(lat_hi, lng_lo),
                    LatLng::new(lat_hi - d_lat, lng_lo + d_lng),
                ));
        spacing_m = spacing_m.max(cell);
        for i in 0..GEOID_GRID {
            for j in 0..GEOID_GRID {
                points.push(LatLng::new(lat_lo + d_lat * i as f64, lng_lo + d_lng * j as f64));
            }
        }
    }
    let margin = GEOID_SLOPE_MAX * spacing_m / 2.0;
    let (lo, hi) = points
        .iter()
        .map(|p| undulation(*p))
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), n| (lo.min(n), hi.max(n)));
    (lo - margin, hi + margin)
}

impl Unit {
    /// A length in metres expressed in this unit.
    pub fn from_metres(self, metres: f64) -> f64 {
        metres / self.metres()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
        let (lo, hi) = (band.altitude.lo.unwrap(), band.altitude.hi.unwrap());
        assert!((lo - (LOWEST_GROUND_AMSL_M + n)).abs() < 0.5, "{lo}");
        assert!((hi - (HIGHEST_GROUND_AMSL_M + 152.4 + n)).abs() < 0.5, "{hi}");
        // With the ground known (Lausanne-Blécherette lies at about 622 m), the band is the ground's.
        let band = w84_band(&v, &Flat(622.0));
        assert!(!band.ground_unknown);
        assert!((band.altitude.lo.unwrap() - (622.0 + n)).abs() < 0.5);
        assert!((band.altitude.hi.unwrap() - (622.0 + 152.4 + n)).abs() < 0.5);
        // AMSL and W84 limits need no terrain.
        let v = volume(lausanne, Some((600.0, Amsl)), Some((1000.0, W84)), Unit::Metres);
        let band = w84_band(&v, &NoTerrain);
        assert!(!band.ground_unknown);
        assert!(band.altitude.lo.unwrap() <= 600.0 + n && band.altitude.lo.unwrap() > 600.0 + n - 0.5);
        assert_eq!(band.altitude.hi, Some(1000.0));
        let open = volume(circle(0.0, 0.0, 100.0), None, None, Unit::Metres);
        assert_eq!(
            w84_band(&open, &NoTerrain),
            W84Band { altitude: Interval { lo: None, hi: None }, ground_unknown: false }
        );
    }

    /// A zone's W84 band holds the limit's height at every point inside it, not only where it was sampled.
    #[test]
    fn amsl_band_holds_every_point_of_a_large_zone() {
        let ring = [(45.8, 5.9), (45.9, 10.4), (47.8, 10.5), (47.7, 6.0)];
        let poly = Polygon::new(ring.iter().map(|&(lat, lng)| LatLng::new(lat, lng)).collect()).unwrap();
        let v = volume(
            Outline::Polygon(poly),
            Some((100.0, VerticalReference::Amsl)),
            Some((100.0, VerticalReference::Amsl)),
            Unit::Metres,
        );
        let band = w84_band(&v, &NoTerrain);
        for i in 0..=12 {
            for j in 0..=12 {
                let p = LatLng::new(45.9 + 1.8 * i as f64 / 12.0, 6.1 + 4.2 * j as f64 / 12.0);
                let h = amsl_to_w84(p, 100.0);
                assert!(
                    band.altitude.lo.unwrap() <= h && h <= band.altitude.hi.unwrap(),
                    "{p:?}: {h} outside {band:?}"
                );
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn amsl_and_w84_round_trip(lat in -89.0..89.0f64, lng in -180.0..180.0f64, h in -500.0..10_000.0f64) {
            let p = LatLng::new(lat, lng);
            let there = amsl_to_w84(p, h);
            prop_assert!((there - h).abs() < 110.0, "undulation within the geoid's ±110 m");
            prop_assert!((w84_to_amsl(p, there) - h).abs() < 1e-9);
        }
    }
}
