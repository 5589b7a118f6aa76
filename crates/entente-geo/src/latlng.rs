//! Geographic coordinates, great-circle distance and the lat/lng rectangles used to index shapes.

use crate::error::{Element, GeoError};
use crate::vec3::V3;
use crate::{EARTH_RADIUS_M, EPSILON_M};

/// A point on the sphere in degrees.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LatLng {
    pub lat: f64,
    pub lng: f64,
}

impl LatLng {
    pub const fn new(lat: f64, lng: f64) -> LatLng {
        LatLng { lat, lng }
    }

    /// The coordinate rules without the diagnosis: finite, latitude in [-90, 90], longitude in [-180, 180].
    pub(crate) fn is_valid(self) -> bool {
        (-90.0..=90.0).contains(&self.lat) && (-180.0..=180.0).contains(&self.lng)
    }

    /// Checks the coordinate rules and returns the unit vector all internal geometry works with.
    pub(crate) fn to_unit(self, element: Element) -> Result<V3, GeoError> {
        let LatLng { lat, lng } = self;
        if !lat.is_finite() {
            return Err(GeoError::NonFiniteLatitude { element, value: lat });
        }
        if !lng.is_finite() {
            return Err(GeoError::NonFiniteLongitude { element, value: lng });
        }
        if !(-90.0..=90.0).contains(&lat) {
            return Err(GeoError::LatitudeOutOfRange { element, value: lat });
        }
        if !(-180.0..=180.0).contains(&lng) {
            return Err(GeoError::LongitudeOutOfRange { element, value: lng });
        }
        Ok(V3::from_degrees(lat, lng))
    }
}

/// Great-circle distance in metres on the sphere of radius [`EARTH_RADIUS_M`]. Any coordinates are accepted (they
/// wrap around the sphere); non-finite input gives NaN.
pub fn distance_m(a: LatLng, b: LatLng) -> f64 {
    V3::from_degrees(a.lat, a.lng).angle_to(V3::from_degrees(b.lat, b.lng)) * EARTH_RADIUS_M
}

/// A closed latitude/longitude rectangle in degrees. `lng_lo <= lng_hi` always: shapes that cross the antimeridian
/// are covered by two rectangles instead.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LatLngRect {
    pub lat_lo: f64,
    pub lat_hi: f64,
    pub lng_lo: f64,
    pub lng_hi: f64,
}

impl LatLngRect {
    /// Closed-interval overlap in both coordinates, so rectangles sharing only an edge or a corner intersect.
    pub fn intersects(&self, other: &LatLngRect) -> bool {
        self.lat_lo <= other.lat_hi
            && other.lat_lo <= self.lat_hi
            && self.lng_lo <= other.lng_hi
            && other.lng_lo <= self.lng_hi
    }

    /// Whether the point lies in the closed rectangle; longitudes -180 and 180 name the same meridian and both
    /// match it.
    pub fn contains(&self, p: LatLng) -> bool {
        let lng_in = |lng: f64| self.lng_lo <= lng && lng <= self.lng_hi;
        let antimeridian = p.lng.abs() == 180.0 && (lng_in(180.0) || lng_in(-180.0));
        self.lat_lo <= p.lat && p.lat <= self.lat_hi && (lng_in(p.lng) || antimeridian)
    }
}

/// The latitude margin that pads every bounding rectangle: EPSILON plus a sliver for rounding, so that two shapes
/// within EPSILON of each other always have intersecting rectangles.
pub(crate) const RECT_PAD_RAD: f64 = EPSILON_M / EARTH_RADIUS_M + 1e-12;

/// Builds the rectangles for a latitude range and a longitude range given on an unwrapped axis (it may extend past
/// ±180, e.g. 170..190 for a shape straddling the antimeridian); `None` means every longitude. All in degrees.
pub(crate) fn rects_for(lat_lo: f64, lat_hi: f64, lng: Option<(f64, f64)>) -> Vec<LatLngRect> {
    let lat_lo = lat_lo.max(-90.0);
    let lat_hi = lat_hi.min(90.0);
    let full = vec![LatLngRect { lat_lo, lat_hi, lng_lo: -180.0, lng_hi: 180.0 }];
    let Some((lo, hi)) = lng else { return full };
    if (hi - lo).partial_cmp(&360.0) != Some(std::cmp::Ordering::Less) {
        return full;
    }
    let shift = 360.0 * ((lo + 180.0) / 360.0).floor();
    let (lo, hi) = (lo - shift, hi - shift);
    if hi <= 180.0 {
        vec![LatLngRect { lat_lo, lat_hi, lng_lo: lo, lng_hi: hi }]
    } else {
        vec![
            LatLngRect { lat_lo, lat_hi, lng_lo: lo, lng_hi: 180.0 },
            LatLngRect { lat_lo, lat_hi, lng_lo: -180.0, lng_hi: hi - 360.0 },
        ]
    }
}

/// Half-width in degrees of the longitude range covered by a cap of angular radius `radius` (radians) whose points
/// reach at most `max_abs_lat` (radians) from the equator; `None` when the cap may reach a pole, i.e. every
/// longitude. asin(sin r / cos lat) is exact for a cap, not just a small-angle estimate.
pub(crate) fn lng_half_width(radius: f64, max_abs_lat: f64) -> Option<f64> {
    let ratio = radius.sin() / max_abs_lat.cos();
    (ratio.is_finite() && (0.0..1.0).contains(&ratio) && max_abs_lat < std::f64::consts::FRAC_PI_2)
        .then(|| ratio.asin().to_degrees())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coordinate_rules() {
        let v = Element::Vertex(3);
        assert_eq!(
            LatLng::new(91.0, 0.0).to_unit(v).unwrap_err().to_string(),
            "vertex 3: latitude 91 is outside [-90, 90]"
        );
        assert_eq!(
            LatLng::new(0.0, -180.5).to_unit(v).unwrap_err().to_string(),
            "vertex 3: longitude -180.5 is outside [-180, 180]"
        );
        assert_eq!(
            LatLng::new(f64::NAN, 0.0).to_unit(v).unwrap_err().to_string(),
            "vertex 3: latitude NaN is not a finite number"
        );
        assert_eq!(
            LatLng::new(0.0, f64::NEG_INFINITY).to_unit(Element::CircleCenter).unwrap_err().to_string(),
            "circle center: longitude -inf is not a finite number"
        );
        assert!(LatLng::new(-90.0, 180.0).to_unit(v).is_ok());
        assert!(LatLng::new(-90.0, 180.0).is_valid());
        assert!(!LatLng::new(f64::NAN, 0.0).is_valid() && !LatLng::new(0.0, f64::INFINITY).is_valid());
        assert!(!LatLng::new(90.1, 0.0).is_valid() && !LatLng::new(0.0, 180.1).is_valid());
    }

    #[test]
    fn distance_matches_known_values() {
        let quarter = std::f64::consts::FRAC_PI_2 * EARTH_RADIUS_M;
        assert!((distance_m(LatLng::new(0.0, 0.0), LatLng::new(0.0, 90.0)) - quarter).abs() < 1e-6);
        assert!((distance_m(LatLng::new(0.0, 0.0), LatLng::new(90.0, 0.0)) - quarter).abs() < 1e-6);
        // The antimeridian is no obstacle: these are 2.2 m apart, not 40 000 km.
        let d = distance_m(LatLng::new(0.0, 179.99999), LatLng::new(0.0, -179.99999));
        assert!((d - 2e-5_f64.to_radians() * EARTH_RADIUS_M).abs() < 1e-6);
        assert!(distance_m(LatLng::new(f64::NAN, 0.0), LatLng::new(0.0, 0.0)).is_nan());
    }

    #[test]
    fn rect_intersection_is_closed() {
        let a = LatLngRect { lat_lo: 0.0, lat_hi: 1.0, lng_lo: 0.0, lng_hi: 1.0 };
        let touching = LatLngRect { lat_lo: 1.0, lat_hi: 2.0, lng_lo: 1.0, lng_hi: 2.0 };
        let apart = LatLngRect { lat_lo: 0.0, lat_hi: 1.0, lng_lo: 1.000_001, lng_hi: 2.0 };
        assert!(a.intersects(&touching) && touching.intersects(&a));
        assert!(!a.intersects(&apart) && !apart.intersects(&a));
    }

    #[test]
    fn rect_contains_either_name_of_the_antimeridian() {
        let east = LatLngRect { lat_lo: -1.0, lat_hi: 1.0, lng_lo: 179.0, lng_hi: 180.0 };
        assert!(east.contains(LatLng::new(0.0, -180.0)));
        assert!(east.contains(LatLng::new(0.0, 179.5)));
        assert!(!east.contains(LatLng::new(0.0, -179.5)));
        assert!(!east.contains(LatLng::new(1.5, 179.5)));
    }

    #[test]
    fn ranges_past_the_antimeridian_split() {
        let rects = rects_for(-1.0, 1.0, Some((179.0, 181.0)));
        assert_eq!(rects.len(), 2);
        assert_eq!((rects[0].lng_lo, rects[0].lng_hi), (179.0, 180.0));
        assert_eq!((rects[1].lng_lo, rects[1].lng_hi), (-180.0, -179.0));
        let rects = rects_for(-1.0, 1.0, Some((-181.0, -179.0)));
        assert_eq!(rects.len(), 2);
        assert_eq!((rects[0].lng_lo, rects[0].lng_hi), (179.0, 180.0));
        let rects = rects_for(-95.0, 1.0, Some((10.0, 11.0)));
        assert_eq!(rects, vec![LatLngRect { lat_lo: -90.0, lat_hi: 1.0, lng_lo: 10.0, lng_hi: 11.0 }]);
        assert_eq!(rects_for(0.0, 1.0, Some((0.0, 400.0)))[0].lng_hi, 180.0);
        assert_eq!(rects_for(0.0, 1.0, None).len(), 1);
    }

    #[test]
    fn cap_longitude_width() {
        assert!((lng_half_width(1f64.to_radians(), 0.0).unwrap() - 1.0).abs() < 1e-12);
        assert!((lng_half_width(1f64.to_radians(), 60f64.to_radians()).unwrap() - 2.0).abs() < 1e-3);
        assert_eq!(lng_half_width(1f64.to_radians(), 89.5f64.to_radians()), None);
        assert_eq!(lng_half_width(0.1, f64::NAN), None);
    }
}
