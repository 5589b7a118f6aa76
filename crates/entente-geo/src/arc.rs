//! Great-circle arcs (polygon edges): distances to points and to other arcs, the angle an arc subtends at a
//! point, and the bounds of an arc. All angles are radians on the unit sphere.

use crate::grid::{Aabb, BOX_SLACK};
use crate::vec3::V3;

/// The minor great-circle arc from `a` to `b`, with the vectors the distance computations need cached.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Edge {
    pub(crate) a: V3,
    pub(crate) b: V3,
    /// Unit normal of the arc's plane.
    n: V3,
}

/// The two ways two arcs can come close: at an endpoint of one, or where one crosses the other's great circle.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct ArcGap {
    pub(crate) at_endpoint: f64,
    pub(crate) at_crossing: f64,
}

impl ArcGap {
    pub(crate) fn min(self) -> f64 {
        self.at_endpoint.min(self.at_crossing)
    }
}

impl Edge {
    /// `None` when `a` and `b` are numerically equal. Callers never pass antipodal points (polygons fit in a
    /// hemisphere), where the arc would be undefined.
    pub(crate) fn new(a: V3, b: V3) -> Option<Edge> {
        // (b + a) x (b - a) = 2 (a x b), but its error scales with |b - a|, so the normal stays accurate to full
        // precision even for millimetre-long edges, where a x b itself would have a direction error of metres.
        let n = (b + a).cross(b - a).normalized()?;
        Some(Edge { a, b, n })
    }

    /// The same arc traversed from `b` to `a`; exact, so no validity check is needed again.
    pub(crate) fn reversed(&self) -> Edge {
        Edge { a: self.b, b: self.a, n: -self.n }
    }

    pub(crate) fn length(&self) -> f64 {
        self.a.angle_to(self.b)
    }

    /// Whether the nearest point of the arc's great circle to `p` lies on the arc itself.
    ///
    /// `n x a` is the tangent at `a` pointing along the arc and `b x n` the tangent at `b` pointing back along it:
    /// the foot lies on the arc exactly when `p` is on the inner side of both. They are computed here rather than
    /// stored because every stored intent keeps its edges, and memory is the scarcer resource.
    fn projects_inside(&self, p: V3) -> bool {
        p.dot(self.n.cross(self.a)) >= 0.0 && p.dot(self.b.cross(self.n)) >= 0.0
    }

    pub(crate) fn distance_to_point(&self, p: V3) -> f64 {
        if self.projects_inside(p) {
            p.dot(self.n).abs().min(1.0).asin()
        } else {
            // Chord length orders the endpoints like angle does, and saves an atan2.
            let nearer = if (p - self.a).norm() <= (p - self.b).norm() { self.a } else { self.b };
            p.angle_to(nearer)
        }
    }

    /// Distance between two arcs. Two disjoint minor arcs are closest at an endpoint of one of them, so the only
    /// other case is a crossing, found where each arc meets the other's great circle. Both crossings are tried, so
    /// that the result is symmetric in its arguments.
    pub(crate) fn distance_to_edge(&self, other: &Edge) -> ArcGap {
        let at_endpoint = self
            .distance_to_point(other.a)
            .min(self.distance_to_point(other.b))
            .min(other.distance_to_point(self.a))
            .min(other.distance_to_point(self.b));
        let at_crossing = self.crossing_gap(other).min(other.crossing_gap(self));
        ArcGap { at_endpoint, at_crossing }
    }

    /// A cheap sufficient test that the arcs are more than `limit` apart: one arc lies wholly on one side of the
    /// other's great circle, farther than `limit` from it. (Along an arc that does not cross a great circle, the
    /// distance to it is smallest at an endpoint.) Symmetric, so that callers stay symmetric.
    pub(crate) fn clearly_farther_than(&self, other: &Edge, limit: f64) -> bool {
        // |n . p| is the sine of the distance to the great circle, so exceeding `limit` is conservative.
        let margin = limit + 1e-15;
        let beyond = |n: V3, p: V3, q: V3| {
            let (sp, sq) = (n.dot(p), n.dot(q));
            (sp > margin && sq > margin) || (sp < -margin && sq < -margin)
        };
        beyond(self.n, other.a, other.b) || beyond(other.n, self.a, self.b)
    }

    /// Distance from `other` to the point where `self` meets `other`'s great circle (infinite if it does not).
    /// The point is a genuine point of `self`, so this never understates the true distance, and for a real
    /// crossing it is ~0; when the signs are too close to zero to trust, an endpoint lies on the other great
    /// circle and the endpoint distances cover the case.
    fn crossing_gap(&self, other: &Edge) -> f64 {
        let sa = other.n.dot(self.a);
        let sb = other.n.dot(self.b);
        if sa == sb || (sa > 0.0 && sb > 0.0) || (sa < 0.0 && sb < 0.0) {
            return f64::INFINITY;
        }
        let t = sa / (sa - sb);
        match (self.a + (self.b - self.a) * t).normalized() {
            Some(x) => other.distance_to_point(x),
            None => f64::INFINITY,
        }
    }

    /// Where `self` crosses `other` (not just its great circle), as the chord parameter in [0, 1] from `a` to `b`.
    pub(crate) fn crossing_param(&self, other: &Edge) -> Option<f64> {
        let sa = other.n.dot(self.a);
        let sb = other.n.dot(self.b);
        if sa == sb || (sa > 0.0 && sb > 0.0) || (sa < 0.0 && sb < 0.0) {
            return None;
        }
        let t = sa / (sa - sb);
        let x = self.point_at(t)?;
        (other.distance_to_point(x) <= 1e-12).then_some(t)
    }

    /// The arc's point at chord parameter `t` (0 at `a`, 1 at `b`).
    pub(crate) fn point_at(&self, t: f64) -> Option<V3> {
        (self.a + (self.b - self.a) * t).normalized()
    }

    /// Box containing the whole arc: the endpoints' box grown by how far the arc bulges outward from its chord.
    pub(crate) fn bounding_box(&self) -> Aabb {
        let half_chord = (self.b - self.a).norm() / 2.0;
        // 1 - cos(theta / 2), written to avoid cancellation.
        let sagitta = half_chord * half_chord / (1.0 + (1.0 - half_chord * half_chord).max(0.0).sqrt());
        Aabb::spanning(self.a, self.b).padded(sagitta + BOX_SLACK)
    }

    /// Highest and lowest latitudes reached strictly inside the arc, when they are not at an endpoint: a
    /// great-circle edge bulges poleward of both its endpoints.
    pub(crate) fn interior_latitude_extremes(&self) -> (Option<f64>, Option<f64>) {
        // The great circle's northernmost point is the pole direction with the normal component removed.
        let top = V3::NORTH_POLE - self.n * self.n.z;
        if top.norm() < 1e-300 {
            return (None, None);
        }
        let peak = self.n.x.hypot(self.n.y).atan2(self.n.z.abs());
        let highest = self.projects_inside(top).then_some(peak);
        let lowest = self.projects_inside(-top).then_some(-peak);
        (highest, lowest)
    }

    /// Signed angle subtended at `p` by the arc, positive when it turns counter-clockwise around `p`; summing it
    /// round a ring gives the winding number times 2 pi. `p` must not be on the arc.
    pub(crate) fn subtended_angle(&self, p: V3) -> f64 {
        // Working with offsets from `p` keeps both atan2 arguments accurate when the arc is tiny and near `p`;
        // p . ((a - p) x (b - p)) = det(p, a, b) and (p x (a - p)) . (p x (b - p)) is the cosine part.
        let da = self.a - p;
        let db = self.b - p;
        let sin_part = p.dot(da.cross(db));
        let cos_part = p.cross(da).dot(p.cross(db));
        sin_part.atan2(cos_part)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{EARTH_RADIUS_M, EPSILON_M};
    use std::f64::consts::PI;

    fn p(lat: f64, lng: f64) -> V3 {
        V3::from_degrees(lat, lng)
    }

    fn edge(a: (f64, f64), b: (f64, f64)) -> Edge {
        Edge::new(p(a.0, a.1), p(b.0, b.1)).unwrap()
    }

    fn metres(angle: f64) -> f64 {
        angle * EARTH_RADIUS_M
    }

    #[test]
    fn undefined_arcs_are_refused() {
        assert!(Edge::new(p(1.0, 2.0), p(1.0, 2.0)).is_none());
    }

    #[test]
    fn reversal_is_the_same_arc() {
        let e = edge((10.0, 20.0), (11.0, 22.0));
        let r = e.reversed();
        assert_eq!(r, Edge::new(e.b, e.a).unwrap());
        let q = p(10.7, 21.0);
        assert_eq!(e.distance_to_point(q), r.distance_to_point(q));
        assert_eq!(e.subtended_angle(q), -r.subtended_angle(q));
    }

    #[test]
    fn point_distance_uses_the_foot_or_the_nearest_endpoint() {
        let e = edge((0.0, 0.0), (0.0, 1.0));
        assert!((e.distance_to_point(p(0.5, 0.5)) - 0.5f64.to_radians()).abs() < 1e-12);
        assert!((e.distance_to_point(p(0.0, 2.0)) - 1f64.to_radians()).abs() < 1e-12);
        assert!((e.distance_to_point(p(0.0, -0.5)) - 0.5f64.to_radians()).abs() < 1e-12);
        // The antipodal side of the arc's great circle is not near the arc.
        assert!((e.distance_to_point(p(0.0, 180.5)) - 179.5f64.to_radians()).abs() < 1e-12);
        assert!(e.length() > 0.0 && (e.length() - 1f64.to_radians()).abs() < 1e-15);
    }

    #[test]
    fn millimetre_arcs_keep_millimetre_accuracy() {
        let step = (0.001 / EARTH_RADIUS_M).to_degrees();
        let e = edge((45.0, 10.0), (45.0 + step, 10.0));
        let off = (0.004 / EARTH_RADIUS_M).to_degrees() / 45f64.to_radians().cos();
        let d = metres(e.distance_to_point(p(45.0 + step / 2.0, 10.0 + off)));
        assert!((d - 0.004).abs() < 1e-7, "{d}");
    }

    #[test]
    fn crossing_arcs_have_zero_distance() {
        let a = edge((-1.0, 0.0), (1.0, 0.0));
        let b = edge((0.0, -1.0), (0.0, 1.0));
        assert!(a.distance_to_edge(&b).at_crossing < 1e-15);
        assert!(a.distance_to_edge(&b).at_endpoint > 0.01);
        assert_eq!(a.distance_to_edge(&b).min(), b.distance_to_edge(&a).min());
    }

    #[test]
    fn quick_rejection_is_sound() {
        let a = edge((0.0, 0.0), (0.0, 1.0));
        let parallel = edge((0.001, 0.0), (0.001, 1.0));
        let gap = a.distance_to_edge(&parallel).min();
        assert!(
            a.clearly_farther_than(&parallel, gap * 0.99) && parallel.clearly_farther_than(&a, gap * 0.99)
        );
        assert!(!a.clearly_farther_than(&parallel, gap * 1.01));
        // Beside the great circle but far along it: not decided cheaply, though far apart.
        let beyond = edge((0.0, 2.0), (0.0, 3.0));
        assert!(!a.clearly_farther_than(&beyond, 1e-9));
        let crossing = edge((-1.0, 0.5), (1.0, 0.5));
        assert!(!a.clearly_farther_than(&crossing, 1e-9));
    }

    #[test]
    fn arcs_on_antipodal_great_circle_segments_do_not_cross() {
        let a = edge((-1.0, 0.0), (1.0, 0.0));
        let b = edge((0.0, 179.0), (0.0, -179.0));
        assert!(metres(a.distance_to_edge(&b).min()) > 1e6);
    }

    #[test]
    fn collinear_disjoint_arcs_are_apart() {
        // Same meridian, where every orientation sign is rounding noise.
        let a = edge((0.0, 10.0), (1.0, 10.0));
        let b = edge((2.0, 10.0), (3.0, 10.0));
        assert!((a.distance_to_edge(&b).min() - 1f64.to_radians()).abs() < 1e-12);
        let c = edge((1.0 + 1e-9, 10.0), (3.0, 10.0));
        assert!(metres(a.distance_to_edge(&c).min()) < EPSILON_M);
    }

    #[test]
    fn bulge_of_an_east_west_arc() {
        let e = edge((60.0, -30.0), (60.0, 30.0));
        let (hi, lo) = e.interior_latitude_extremes();
        let mid = (e.a + e.b).normalized().unwrap().latitude();
        assert!((hi.unwrap() - mid).abs() < 1e-12 && mid > 60f64.to_radians());
        assert_eq!(lo, None);
        let south = edge((-60.0, 30.0), (-60.0, -30.0));
        assert_eq!(south.interior_latitude_extremes().0, None);
        assert!(south.interior_latitude_extremes().1.unwrap() < -60f64.to_radians());
        let meridian = edge((10.0, 5.0), (20.0, 5.0));
        assert_eq!(meridian.interior_latitude_extremes(), (None, None));
        let equator = edge((0.0, 5.0), (0.0, 20.0));
        assert_eq!(equator.interior_latitude_extremes(), (None, None));
    }

    #[test]
    fn box_contains_the_arc() {
        let e = edge((10.0, -50.0), (40.0, 60.0));
        let bx = e.bounding_box();
        for k in 0..=100 {
            let t = k as f64 / 100.0;
            let q = (e.a * (1.0 - t) + e.b * t).normalized().unwrap();
            assert!(!bx.is_far_from(q, 0.0));
        }
    }

    #[test]
    fn subtended_angles_sum_to_the_winding_number() {
        let ring = [p(0.0, 0.0), p(0.0, 1.0), p(1.0, 1.0), p(1.0, 0.0)];
        let total = |q: V3| -> f64 {
            (0..4).map(|i| Edge::new(ring[i], ring[(i + 1) % 4]).unwrap().subtended_angle(q)).sum()
        };
        // East, north, west: counter-clockwise seen from above, so the ring winds once positively.
        assert!((total(p(0.5, 0.5)) - 2.0 * PI).abs() < 1e-9);
        assert!(total(p(1.5, 0.5)).abs() < 1e-9);
        assert!(total(p(-0.5, 179.0)).abs() < 1e-9);
    }
}
