//! Three-dimensional vectors: every point on the sphere is handled as a unit vector so that the geometry has no
//! singularities at the poles or the antimeridian.

use std::ops::{Add, Mul, Neg, Sub};

#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct V3 {
    pub(crate) x: f64,
    pub(crate) y: f64,
    pub(crate) z: f64,
}

impl V3 {
    pub(crate) const ZERO: V3 = V3::new(0.0, 0.0, 0.0);
    pub(crate) const NORTH_POLE: V3 = V3::new(0.0, 0.0, 1.0);
    pub(crate) const SOUTH_POLE: V3 = V3::new(0.0, 0.0, -1.0);

    pub(crate) const fn new(x: f64, y: f64, z: f64) -> V3 {
        V3 { x, y, z }
    }

    /// Unit vector of a latitude/longitude given in degrees.
    pub(crate) fn from_degrees(lat: f64, lng: f64) -> V3 {
        let (sin_lat, cos_lat) = lat.to_radians().sin_cos();
        let (sin_lng, cos_lng) = lng.to_radians().sin_cos();
        V3::new(cos_lat * cos_lng, cos_lat * sin_lng, sin_lat)
    }

    pub(crate) fn dot(self, o: V3) -> f64 {
        self.x * o.x + self.y * o.y + self.z * o.z
    }

    pub(crate) fn cross(self, o: V3) -> V3 {
        V3::new(self.y * o.z - self.z * o.y, self.z * o.x - self.x * o.z, self.x * o.y - self.y * o.x)
    }

    pub(crate) fn norm(self) -> f64 {
        self.dot(self).sqrt()
    }

    /// `None` when the direction is undefined (zero or non-finite length).
    pub(crate) fn normalized(self) -> Option<V3> {
        let n = self.norm();
        (n > 0.0 && n.is_finite()).then(|| self * (1.0 / n))
    }

    /// Angle between two unit vectors in radians; atan2 keeps full precision for both tiny and near-antipodal angles,
    /// where acos(dot) would lose it.
    pub(crate) fn angle_to(self, o: V3) -> f64 {
        self.cross(o).norm().atan2(self.dot(o))
    }

    /// Latitude in radians; atan2 stays accurate near the poles, where asin(z) is ill-conditioned.
    #[cfg(test)]
    pub(crate) fn latitude(self) -> f64 {
        self.z.atan2(self.x.hypot(self.y))
    }

    pub(crate) fn coords(self) -> [f64; 3] {
        [self.x, self.y, self.z]
    }
}

impl Add for V3 {
    type Output = V3;
    fn add(self, o: V3) -> V3 {
        V3::new(self.x + o.x, self.y + o.y, self.z + o.z)
    }
}

impl Sub for V3 {
    type Output = V3;
    fn sub(self, o: V3) -> V3 {
        V3::new(self.x - o.x, self.y - o.y, self.z - o.z)
    }
}

impl Mul<f64> for V3 {
    type Output = V3;
    fn mul(self, s: f64) -> V3 {
        V3::new(self.x * s, self.y * s, self.z * s)
    }
}

impl Neg for V3 {
    type Output = V3;
    fn neg(self) -> V3 {
        V3::new(-self.x, -self.y, -self.z)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn angle_is_accurate_for_tiny_and_near_antipodal_separations() {
        let a = V3::from_degrees(10.0, 20.0);
        let b = V3::from_degrees(10.0, 20.0 + 1e-9);
        let expected = 1e-9_f64.to_radians() * 10.0_f64.to_radians().cos();
        assert!((a.angle_to(b) - expected).abs() < 1e-15);
        assert!((a.angle_to(-a) - std::f64::consts::PI).abs() < 1e-15);
    }

    #[test]
    fn latitude_round_trips_near_the_pole() {
        let p = V3::from_degrees(89.999_999_9, 45.0);
        assert!((p.latitude().to_degrees() - 89.999_999_9).abs() < 1e-12);
        assert_eq!(V3::NORTH_POLE.latitude(), std::f64::consts::FRAC_PI_2);
        assert_eq!(V3::SOUTH_POLE.latitude(), -std::f64::consts::FRAC_PI_2);
    }

    #[test]
    fn zero_vector_has_no_direction() {
        assert_eq!(V3::ZERO.normalized(), None);
        assert_eq!(V3::new(f64::NAN, 0.0, 0.0).normalized(), None);
        let u = V3::new(0.0, 3.0, 4.0).normalized().unwrap();
        assert!((u - V3::new(0.0, 0.6, 0.8)).norm() < 1e-15);
    }

    #[test]
    fn cross_follows_the_right_hand_rule() {
        let x = V3::new(1.0, 0.0, 0.0);
        let y = V3::new(0.0, 1.0, 0.0);
        assert_eq!(x.cross(y), V3::NORTH_POLE);
        assert_eq!((x + y - x) * 2.0, V3::new(0.0, 2.0, 0.0));
        assert_eq!(x.coords(), [1.0, 0.0, 0.0]);
    }
}
