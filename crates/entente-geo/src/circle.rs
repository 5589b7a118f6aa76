//! Validated circles: spherical caps given by a centre and a radius measured along the surface.

use std::f64::consts::PI;

use crate::error::{Element, GeoError};
use crate::latlng::{LatLng, LatLngRect, RECT_PAD_RAD, lng_half_width, rects_for};
use crate::polygon::Polygon;
use crate::vec3::V3;
use crate::{EARTH_RADIUS_M, EPSILON_RAD};

/// Beyond a quarter of the circumference a cap is more than a hemisphere, and "circle" stops meaning anything
/// sensible for airspace.
const MAX_RADIUS_M: f64 = PI / 2.0 * EARTH_RADIUS_M;

/// All points within `radius_m` (great-circle distance) of `center`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Circle {
    center: LatLng,
    radius_m: f64,
}

impl Circle {
    /// The centre follows the vertex rules; the radius must be finite, positive and less than a quarter of the
    /// earth's circumference.
    pub fn new(center: LatLng, radius_m: f64) -> Result<Circle, GeoError> {
        center.to_unit(Element::CircleCenter)?;
        if !radius_m.is_finite() {
            return Err(GeoError::NonFiniteRadius { radius_m });
        }
        if radius_m <= 0.0 {
            return Err(GeoError::NonPositiveRadius { radius_m });
        }
        if radius_m >= MAX_RADIUS_M {
            return Err(GeoError::RadiusTooLarge { radius_m, max_m: MAX_RADIUS_M });
        }
        Ok(Circle { center, radius_m })
    }

    pub fn center(&self) -> LatLng {
        self.center
    }

    pub fn radius_m(&self) -> f64 {
        self.radius_m
    }

    /// Spherical cap area 2 pi R^2 (1 - cos(r / R)), computed as 4 pi R^2 sin^2(r / 2R) to stay exact for small r.
    pub fn area_m2(&self) -> f64 {
        let s = (self.angular_radius() / 2.0).sin();
        4.0 * PI * EARTH_RADIUS_M * EARTH_RADIUS_M * s * s
    }

    /// Whether `p` is within the radius plus [`crate::EPSILON_M`]. Invalid coordinates are never contained.
    pub fn contains(&self, p: LatLng) -> bool {
        p.is_valid()
            && self.center_unit().angle_to(V3::from_degrees(p.lat, p.lng))
                <= self.angular_radius() + EPSILON_RAD
    }

    pub(crate) fn center_unit(&self) -> V3 {
        V3::from_degrees(self.center.lat, self.center.lng)
    }

    pub(crate) fn angular_radius(&self) -> f64 {
        self.radius_m / EARTH_RADIUS_M
    }

    /// Caps are geodesic balls, so two are within EPSILON exactly when their centres are within the radii plus
    /// EPSILON.
    pub(crate) fn intersects_circle(&self, other: &Circle) -> bool {
        self.center_unit().angle_to(other.center_unit())
            <= self.angular_radius() + other.angular_radius() + EPSILON_RAD
    }

    /// Whether every point of `inner` is in this circle or within EPSILON of it.
    pub(crate) fn contains_circle(&self, inner: &Circle) -> bool {
        self.center_unit().angle_to(inner.center_unit()) + inner.angular_radius()
            <= self.angular_radius() + EPSILON_RAD
    }

    /// Caps smaller than a hemisphere are convex, so holding every vertex means holding the polygon.
    pub(crate) fn contains_polygon(&self, inner: &Polygon) -> bool {
        let c = self.center_unit();
        inner.unit_vertices().all(|v| c.angle_to(v) <= self.angular_radius() + EPSILON_RAD)
    }

    pub(crate) fn bounding_rects(&self) -> Vec<LatLngRect> {
        let radius = self.angular_radius() + RECT_PAD_RAD;
        let lat = self.center.lat.to_radians();
        let (lat_lo, lat_hi) = ((lat - radius).to_degrees(), (lat + radius).to_degrees());
        // A cap reaching a pole covers every longitude; otherwise its widest point is off the centre's parallel.
        let lng = lng_half_width(radius, lat.abs())
            .filter(|_| lat_hi < 90.0 && lat_lo > -90.0)
            .map(|half| (self.center.lng - half, self.center.lng + half));
        rects_for(lat_lo, lat_hi, lng)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::EPSILON_M;
    use crate::latlng::distance_m;

    fn circle(lat: f64, lng: f64, r: f64) -> Circle {
        Circle::new(LatLng::new(lat, lng), r).unwrap()
    }

    #[test]
    fn radius_rules() {
        let c = LatLng::new(0.0, 0.0);
        assert_eq!(
            Circle::new(c, f64::NAN).unwrap_err().to_string(),
            "circle radius NaN m is not a finite number"
        );
        assert_eq!(Circle::new(c, 0.0).unwrap_err().to_string(), "circle radius 0 m must be greater than 0");
        assert_eq!(
            Circle::new(c, -5.0).unwrap_err().to_string(),
            "circle radius -5 m must be greater than 0"
        );
        assert!(Circle::new(c, 2e7).unwrap_err().to_string().starts_with(
            "circle radius 20000000 m must be less than a quarter of the earth's circumference ("
        ));
        assert_eq!(
            Circle::new(LatLng::new(0.0, 200.0), 1.0).unwrap_err().to_string(),
            "circle center: longitude 200 is outside [-180, 180]"
        );
        assert!(Circle::new(c, MAX_RADIUS_M * 0.999).is_ok());
    }

    #[test]
    fn accessors_and_area() {
        let c = circle(10.0, 20.0, 1000.0);
        assert_eq!((c.center(), c.radius_m()), (LatLng::new(10.0, 20.0), 1000.0));
        let planar = PI * 1000.0 * 1000.0;
        assert!((c.area_m2() - planar).abs() / planar < 1e-7);
        let hemisphere = circle(0.0, 0.0, MAX_RADIUS_M * (1.0 - 1e-12));
        assert!((hemisphere.area_m2() / (2.0 * PI * EARTH_RADIUS_M * EARTH_RADIUS_M) - 1.0).abs() < 1e-9);
    }

    #[test]
    fn tangent_circles() {
        let a = circle(0.0, 0.0, 100.0);
        let offset = |gap_m: f64| {
            let lng = ((200.0 + gap_m) / EARTH_RADIUS_M).to_degrees();
            circle(0.0, lng, 100.0)
        };
        assert!(a.intersects_circle(&offset(0.0)));
        assert!(a.intersects_circle(&offset(0.005)));
        assert!(offset(0.005).intersects_circle(&a));
        assert!(!a.intersects_circle(&offset(0.02)));
        assert!(!offset(0.02).intersects_circle(&a));
    }

    #[test]
    fn containment_is_padded_by_epsilon() {
        let c = circle(45.0, 45.0, 50.0);
        let at = |d: f64| LatLng::new(45.0 + (d / EARTH_RADIUS_M).to_degrees(), 45.0);
        assert!(c.contains(at(50.0 + EPSILON_M * 0.5)));
        assert!(!c.contains(at(50.0 + EPSILON_M * 2.0)));
        assert!(!c.contains(LatLng::new(f64::NAN, 45.0)));
    }

    #[test]
    fn rects_cover_the_cap() {
        let c = circle(60.0, 100.0, 50_000.0);
        let rects = c.bounding_rects();
        assert_eq!(rects.len(), 1);
        for k in 0..360 {
            let bearing = (k as f64).to_radians();
            let p = destination(c.center(), bearing, 50_000.0);
            assert!((distance_m(c.center(), p) - 50_000.0).abs() < 1e-6);
            assert!(rects[0].contains(p), "{p:?} not in {:?}", rects[0]);
        }
    }

    #[test]
    fn rects_split_at_the_antimeridian_and_open_at_the_poles() {
        let c = circle(0.0, 179.999, 1000.0);
        let rects = c.bounding_rects();
        assert_eq!(rects.len(), 2);
        assert!(rects.iter().any(|r| r.contains(LatLng::new(0.0, -179.995))));
        let polar = circle(89.99, 0.0, 2000.0);
        let rects = polar.bounding_rects();
        assert_eq!(rects.len(), 1);
        assert_eq!((rects[0].lng_lo, rects[0].lng_hi, rects[0].lat_hi), (-180.0, 180.0, 90.0));
        assert!(rects[0].lat_lo < 89.99 - (2000.0 / EARTH_RADIUS_M).to_degrees());
        let south = circle(-89.9, 0.0, 5.0).bounding_rects();
        assert!(south[0].lng_lo > -180.0, "a small cap near the pole still has a finite longitude range");
    }

    /// The point `distance` metres from `from` along initial `bearing` (radians from north).
    fn destination(from: LatLng, bearing: f64, distance: f64) -> LatLng {
        let (lat1, lng1) = (from.lat.to_radians(), from.lng.to_radians());
        let d = distance / EARTH_RADIUS_M;
        let lat2 = (lat1.sin() * d.cos() + lat1.cos() * d.sin() * bearing.cos()).asin();
        let lng2 = lng1 + (bearing.sin() * d.sin() * lat1.cos()).atan2(d.cos() - lat1.sin() * lat2.sin());
        LatLng::new(lat2.to_degrees(), lng2.to_degrees())
    }
}
