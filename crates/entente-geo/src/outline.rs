//! The horizontal extent of a volume, either a polygon or a circle, and the exact intersection test between any
//! two of them.

use std::borrow::Cow;

use crate::circle::Circle;
use crate::latlng::{LatLng, LatLngRect};
use crate::polygon::Polygon;
use crate::vec3::V3;
use crate::{EPSILON_RAD, ROUNDING_SLACK_RAD};

#[derive(Clone, Debug, PartialEq)]
pub enum Outline {
    Polygon(Polygon),
    Circle(Circle),
}

impl Outline {
    pub fn area_m2(&self) -> f64 {
        match self {
            Outline::Polygon(p) => p.area_m2(),
            Outline::Circle(c) => c.area_m2(),
        }
    }

    /// Conservative lat/lng rectangles, padded by EPSILON: one, or two when the shape crosses the antimeridian.
    /// They contain every point of the shape, including the poleward bulge of great-circle edges; a shape
    /// reaching a pole gets the full longitude range. Two shapes within EPSILON of each other always have
    /// intersecting rectangles, which makes them a sound index key.
    pub fn bounding_rects(&self) -> Vec<LatLngRect> {
        match self {
            Outline::Polygon(p) => p.bounding_rects(),
            Outline::Circle(c) => c.bounding_rects(),
        }
    }

    /// Whether `p` is inside or within EPSILON of the shape; invalid coordinates are never contained.
    pub fn contains(&self, p: LatLng) -> bool {
        match self {
            Outline::Polygon(poly) => poly.contains(p),
            Outline::Circle(c) => c.contains(p),
        }
    }

    /// True iff the two closed shapes are within [`crate::EPSILON_M`] of each other: overlapping, one containing
    /// the other, touching, or separated by at most EPSILON. Symmetric.
    pub fn intersects(&self, other: &Outline) -> bool {
        let (ca, ra) = self.cap();
        let (cb, rb) = other.cap();
        if ca.angle_to(cb) > ra + rb + EPSILON_RAD + ROUNDING_SLACK_RAD {
            return false;
        }
        match (self, other) {
            (Outline::Polygon(a), Outline::Polygon(b)) => a.intersects_polygon(b),
            (Outline::Polygon(p), Outline::Circle(c)) | (Outline::Circle(c), Outline::Polygon(p)) => {
                p.intersects_circle(c)
            }
            (Outline::Circle(a), Outline::Circle(b)) => a.intersects_circle(b),
        }
    }

    /// Whether every point of `inner` lies in this shape or within [`crate::EPSILON_M`] of it (a subscription
    /// covering an intent, for example).
    pub fn contains_outline(&self, inner: &Outline) -> bool {
        match (self, inner) {
            (Outline::Circle(o), Outline::Circle(i)) => o.contains_circle(i),
            (Outline::Circle(o), Outline::Polygon(i)) => o.contains_polygon(i),
            (Outline::Polygon(o), Outline::Polygon(i)) => o.contains_polygon(i),
            (Outline::Polygon(o), Outline::Circle(i)) => o.contains_circle(i),
        }
    }

    /// The smallest convex shape holding this one: circles are convex, polygons give their convex hull.
    /// Operations whose hulls meet are *relevant* to each other even when their outlines do not intersect.
    pub fn convex_hull(&self) -> Cow<'_, Outline> {
        match self {
            Outline::Polygon(p) => match p.convex_hull() {
                Cow::Owned(hull) => Cow::Owned(Outline::Polygon(hull)),
                Cow::Borrowed(_) => Cow::Borrowed(self),
            },
            Outline::Circle(_) => Cow::Borrowed(self),
        }
    }

    /// A cap containing the whole shape, for the cheap rejection of distant pairs.
    fn cap(&self) -> (V3, f64) {
        match self {
            Outline::Polygon(p) => p.cap(),
            Outline::Circle(c) => (c.center_unit(), c.angular_radius()),
        }
    }
}

impl From<Polygon> for Outline {
    fn from(p: Polygon) -> Outline {
        Outline::Polygon(p)
    }
}

impl From<Circle> for Outline {
    fn from(c: Circle) -> Outline {
        Outline::Circle(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn poly(points: &[(f64, f64)]) -> Outline {
        let vertices = points.iter().map(|&(lat, lng)| LatLng::new(lat, lng)).collect();
        Outline::Polygon(Polygon::new(vertices).expect("valid test polygon"))
    }

    fn square(lat: f64, lng: f64, half: f64) -> Outline {
        poly(&[
            (lat - half, lng - half),
            (lat - half, lng + half),
            (lat + half, lng + half),
            (lat + half, lng - half),
        ])
    }

    fn circle(lat: f64, lng: f64, radius_m: f64) -> Outline {
        Outline::Circle(Circle::new(LatLng::new(lat, lng), radius_m).expect("valid test circle"))
    }

    #[test]
    fn polygons_contain_themselves_and_smaller_polygons_only() {
        let big = square(47.0, 8.0, 0.01);
        assert!(big.contains_outline(&big));
        assert!(big.contains_outline(&square(47.0, 8.0, 0.005)));
        assert!(!square(47.0, 8.0, 0.005).contains_outline(&big));
        // Overlapping but sticking out.
        assert!(!big.contains_outline(&square(47.009, 8.0, 0.002)));
    }

    #[test]
    fn an_edge_leaving_through_a_notch_is_not_contained() {
        // A U shape: its arms hold every vertex of the bar, but the bar's edges cross the notch between them.
        let u = poly(&[
            (0.0, 0.0),
            (0.0, 0.03),
            (0.03, 0.03),
            (0.03, 0.02),
            (0.01, 0.02),
            (0.01, 0.01),
            (0.03, 0.01),
            (0.03, 0.0),
        ]);
        let bar = poly(&[(0.02, 0.005), (0.02, 0.025), (0.025, 0.025), (0.025, 0.005)]);
        assert!(bar.bounding_rects().iter().all(|r| u.bounding_rects().iter().any(|o| o.intersects(r))));
        assert!(!u.contains_outline(&bar));
        let in_one_arm = poly(&[(0.02, 0.002), (0.02, 0.008), (0.025, 0.008), (0.025, 0.002)]);
        assert!(u.contains_outline(&in_one_arm));
    }

    #[test]
    fn circles_and_polygons_contain_each_other_by_clearance() {
        // 0.01 degree of latitude is about 1112 m.
        let sq = square(47.0, 8.0, 0.01);
        assert!(sq.contains_outline(&circle(47.0, 8.0, 700.0)));
        assert!(!sq.contains_outline(&circle(47.0, 8.0, 1200.0)));
        assert!(circle(47.0, 8.0, 2000.0).contains_outline(&sq));
        assert!(!circle(47.0, 8.0, 1000.0).contains_outline(&sq));
        assert!(circle(47.0, 8.0, 1000.0).contains_outline(&circle(47.0, 8.001, 500.0)));
        assert!(!circle(47.0, 8.0, 1000.0).contains_outline(&circle(47.0, 8.01, 500.0)));
    }
}
