//! Validated spherical polygons: the construction rules, area, containment, bounds, and intersection with other
//! polygons and circles.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::f64::consts::PI;
use std::ops::ControlFlow;

use crate::arc::Edge;
use crate::circle::Circle;
use crate::error::{Element, GeoError};
use crate::grid::{self, Aabb};
use crate::latlng::{LatLng, LatLngRect, RECT_PAD_RAD, lng_half_width, rects_for};
use crate::vec3::V3;
use crate::{EARTH_RADIUS_M, EPSILON_RAD, ROUNDING_SLACK_RAD};

mod sweep;

/// Vertices closer than this are the same point, and non-adjacent edges closer than this touch. It is a thousand
/// times the rounding error of a unit vector (~1 nm) and far below anything a client means to distinguish.
const SAME_POINT_RAD: f64 = 1e-6 / EARTH_RADIUS_M;

/// Every vertex must be strictly within 90 degrees of the centre direction, by this much (a dot product, ~6 m at
/// the hemisphere's rim), so that no interior point is nearly antipodal to a vertex: the winding computation
/// would lose its precision there.
const HEMISPHERE_MIN_DOT: f64 = 1e-6;

/// A polygon whose mean width (area / perimeter) is below this is a sliver whose orientation and inside are
/// rounding noise.
const DEGENERATE_WIDTH_M: f64 = 1e-6;

/// A simple polygon on the sphere whose edges are great-circle arcs and which fits in a hemisphere; its interior is
/// the side that lies in that hemisphere (the smaller one).
#[derive(Clone, Debug)]
pub struct Polygon {
    /// As the caller gave them, for round-tripping and for error messages.
    vertices: Vec<LatLng>,
    /// In counter-clockwise order (interior on the left).
    edges: Vec<Edge>,
    /// Normalised sum of the vertices: the polygon lies in the open hemisphere around it.
    center: V3,
    /// Angle from `center` to the farthest vertex; the whole polygon, interior included, is within it.
    cap_radius: f64,
    area_m2: f64,
    rects: Vec<LatLngRect>,
}

/// Equality is on the vertices as given; everything else is derived from them.
impl PartialEq for Polygon {
    fn eq(&self, other: &Polygon) -> bool {
        self.vertices == other.vertices
    }
}

impl Polygon {
    /// Validates the ring and builds the polygon. Rules, in the order checked: at least 3 vertices; every
    /// coordinate finite and in range; all vertices strictly within 90 degrees of their normalised sum; no two
    /// vertices the same point (this includes a closing vertex repeating the first, -180 vs 180, and different
    /// longitudes at a pole); adjacent edges do not double back over each other; non-adjacent edges neither cross
    /// nor touch; the area is not ~0. The vertices may wind either way; the interior is the smaller side.
    pub fn new(vertices: Vec<LatLng>) -> Result<Polygon, GeoError> {
        let count = vertices.len();
        if count < 3 {
            return Err(GeoError::TooFewVertices { count });
        }
        let points = vertices
            .iter()
            .enumerate()
            .map(|(i, v)| v.to_unit(Element::Vertex(i)))
            .collect::<Result<Vec<_>, _>>()?;
        let center = hemisphere_center(&points)?;
        check_distinct_vertices(&points)?;
        let edges = ring_edges(&points)?;
        check_adjacent_edges(&edges)?;
        check_other_edges(&edges, center)?;

        let signed_area = edges.iter().map(|e| fan_triangle_area(center, e.a, e.b)).sum::<f64>();
        let area_m2 = signed_area.abs() * EARTH_RADIUS_M * EARTH_RADIUS_M;
        let perimeter_m = edges.iter().map(Edge::length).sum::<f64>() * EARTH_RADIUS_M;
        if area_m2.partial_cmp(&(DEGENERATE_WIDTH_M * perimeter_m)) != Some(Ordering::Greater) {
            return Err(GeoError::Degenerate { area_m2, perimeter_m });
        }

        let edges = if signed_area < 0.0 { edges.iter().rev().map(Edge::reversed).collect() } else { edges };
        let cap_radius = points.iter().map(|p| p.angle_to(center)).fold(0.0, f64::max);
        let mut polygon = Polygon { vertices, edges, center, cap_radius, area_m2, rects: Vec::new() };
        polygon.rects = polygon.compute_rects();
        Ok(polygon)
    }

    /// The vertices exactly as given to [`Polygon::new`], in the caller's order.
    pub fn vertices(&self) -> &[LatLng] {
        &self.vertices
    }

    /// Area of the interior in square metres.
    pub fn area_m2(&self) -> f64 {
        self.area_m2
    }

    /// Whether `p` is in the interior or within [`crate::EPSILON_M`] of the boundary. Invalid coordinates are never
    /// contained.
    pub fn contains(&self, p: LatLng) -> bool {
        p.is_valid() && self.contains_unit(V3::from_degrees(p.lat, p.lng))
    }

    pub(crate) fn bounding_rects(&self) -> Vec<LatLngRect> {
        self.rects.clone()
    }

    /// Centre and angular radius of a cap containing the whole polygon.
    pub(crate) fn cap(&self) -> (V3, f64) {
        (self.center, self.cap_radius)
    }

    fn contains_unit(&self, p: V3) -> bool {
        self.boundary_within(p, EPSILON_RAD) || self.winds_around(p)
    }

    /// Whether some boundary point is within `limit` (radians) of `p`.
    fn boundary_within(&self, p: V3, limit: f64) -> bool {
        if p.angle_to(self.center) > self.cap_radius + limit + ROUNDING_SLACK_RAD {
            return false;
        }
        self.edges.iter().any(|e| !e.bounding_box().is_far_from(p, limit) && e.distance_to_point(p) <= limit)
    }

    /// Edge boxes are derived when needed rather than stored: every stored intent keeps its polygon, so memory
    /// is the scarcer resource, and a box costs less to compute than the distance test it guards.
    fn edge_boxes(&self) -> Vec<Aabb> {
        self.edges.iter().map(Edge::bounding_box).collect()
    }

    /// Whether `p` is strictly inside, by the winding number of the boundary around it. Only call this for points
    /// farther than EPSILON from the boundary: then every subtended angle is well conditioned and the sum is within
    /// rounding of 0 or ±2 pi. The magnitude is tested rather than the sign, so the answer does not depend on the
    /// orientation having been determined correctly.
    fn winds_around(&self, p: V3) -> bool {
        // The interior lies within the cap, with at least EPSILON to spare for points that far from the boundary.
        // This also keeps `p` away from the antipodes of the vertices.
        if p.angle_to(self.center) > self.cap_radius {
            return false;
        }
        let total: f64 = self.edges.iter().map(|e| e.subtended_angle(p)).sum();
        total.abs() > PI
    }

    /// Within EPSILON: some pair of edges is that close, or else the boundaries are apart and the polygons
    /// intersect only if one contains the other, which any single vertex decides.
    pub(crate) fn intersects_polygon(&self, other: &Polygon) -> bool {
        let close_edges = grid::overlapping_pairs(
            &self.edge_boxes(),
            Some(&other.edge_boxes()),
            EPSILON_RAD,
            |i, j| match (self.edges.get(i), other.edges.get(j)) {
                (Some(a), Some(b))
                    if !a.clearly_farther_than(b, EPSILON_RAD)
                        && a.distance_to_edge(b).min() <= EPSILON_RAD =>
                {
                    ControlFlow::Break(())
                }
                _ => ControlFlow::Continue(()),
            },
        );
        close_edges.is_break() || self.holds_vertex_of(other) || other.holds_vertex_of(self)
    }

    /// Whether the first vertex of `other` lies inside; callers have established that it is farther than EPSILON
    /// from this boundary.
    fn holds_vertex_of(&self, other: &Polygon) -> bool {
        other.edges.first().is_some_and(|e| self.winds_around(e.a))
    }

    /// The circle is within EPSILON when its centre is within radius + EPSILON of the boundary, or else when the
    /// centre is inside.
    pub(crate) fn intersects_circle(&self, circle: &Circle) -> bool {
        let c = circle.center_unit();
        self.boundary_within(c, circle.angular_radius() + EPSILON_RAD) || self.winds_around(c)
    }

    /// Whether every point of `inner` is inside this polygon or within EPSILON of it.
    pub(crate) fn contains_polygon(&self, inner: &Polygon) -> bool {
        inner.edges.iter().all(|e| self.contains_unit(e.a) && self.contains_edge(e))
    }

    /// Between two consecutive crossings of this boundary an edge stays on one side of it, so one point of each
    /// piece decides whether the piece is inside.
    fn contains_edge(&self, e: &Edge) -> bool {
        let mut cuts: Vec<f64> = self.edges.iter().filter_map(|b| e.crossing_param(b)).collect();
        cuts.extend([0.0, 1.0]);
        cuts.sort_by(f64::total_cmp);
        cuts.windows(2).all(|w| e.point_at((w[0] + w[1]) / 2.0).is_some_and(|p| self.contains_unit(p)))
    }

    /// Whether the whole circle is inside this polygon or within EPSILON of it.
    pub(crate) fn contains_circle(&self, circle: &Circle) -> bool {
        let c = circle.center_unit();
        let clearance = circle.angular_radius() - EPSILON_RAD;
        self.contains_unit(c) && (clearance <= 0.0 || !self.boundary_within(c, clearance))
    }

    /// Whether every corner turns the same way (left, with the interior on the left), within rounding.
    pub fn is_convex(&self) -> bool {
        let n = self.edges.len();
        (0..n).all(|i| {
            let (a, b) = (self.edges[i].a, self.edges[i].b);
            let c = self.edges[(i + 1) % n].b;
            // The turn (a × b) · c, written as (a × (b − a)) · (c − b), which is equal: on unit vectors the
            // first form rounds at 1e-16 and loses the turn of a metre-sized corner (about 1e-15), while the
            // differences keep their relative precision however short the edges.
            a.cross(b - a).dot(c - b) >= -ROUNDING_SLACK_RAD * ROUNDING_SLACK_RAD
        })
    }

    /// The smallest convex polygon holding this one: the convex hull of its vertices. Great circles are
    /// straight lines in the gnomonic projection around the centre, where every vertex lies, so the plane's
    /// hull of the projected vertices is the sphere's hull; its vertices are a subset of this polygon's, as
    /// given, so nothing is rounded. A convex polygon is its own hull, borrowed.
    pub fn convex_hull(&self) -> Cow<'_, Polygon> {
        if self.is_convex() {
            return Cow::Borrowed(self);
        }
        let c = self.center;
        let Some((e1, e2)) = gnomonic_basis(c) else { return Cow::Borrowed(self) };
        let mut points: Vec<(f64, f64, usize)> = self
            .vertices
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let p = V3::from_degrees(v.lat, v.lng);
                let t = p.dot(c);
                (p.dot(e1) / t, p.dot(e2) / t, i)
            })
            .collect();
        points.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
        let turn = |o: (f64, f64, usize), a: (f64, f64, usize), b: (f64, f64, usize)| {
            (a.0 - o.0) * (b.1 - o.1) - (a.1 - o.1) * (b.0 - o.0)
        };
        // Andrew's monotone chain: the lower then the upper chain, counter-clockwise, collinear points dropped.
        let mut hull: Vec<(f64, f64, usize)> = Vec::with_capacity(points.len() + 1);
        for pass in [points.clone(), points.into_iter().rev().collect()] {
            let floor = hull.len();
            for p in pass {
                while hull.len() >= floor + 2 && turn(hull[hull.len() - 2], hull[hull.len() - 1], p) <= 0.0 {
                    hull.pop();
                }
                hull.push(p);
            }
            hull.pop();
        }
        let vertices = hull.iter().map(|&(_, _, i)| self.vertices[i]).collect();
        // A subset of valid vertices in convex position is valid; should rounding say otherwise, the
        // polygon itself is the closest sound answer.
        Polygon::new(vertices).map_or(Cow::Borrowed(self), Cow::Owned)
    }

    pub(crate) fn unit_vertices(&self) -> impl Iterator<Item = V3> + '_ {
        self.edges.iter().map(|e| e.a)
    }

    fn compute_rects(&self) -> Vec<LatLngRect> {
        let north = self.contains_unit(V3::NORTH_POLE);
        let south = self.contains_unit(V3::SOUTH_POLE);
        let mut lat_lo = self.vertices.iter().map(|v| v.lat).fold(90.0, f64::min);
        let mut lat_hi = self.vertices.iter().map(|v| v.lat).fold(-90.0, f64::max);
        for edge in &self.edges {
            let (highest, lowest) = edge.interior_latitude_extremes();
            lat_hi = highest.map_or(lat_hi, |h| lat_hi.max(h.to_degrees()));
            lat_lo = lowest.map_or(lat_lo, |l| lat_lo.min(l.to_degrees()));
        }
        let pad = RECT_PAD_RAD.to_degrees();
        lat_lo = if south { -90.0 } else { lat_lo - pad };
        lat_hi = if north { 90.0 } else { lat_hi + pad };
        let lng = if north || south {
            None
        } else {
            let max_abs_lat = lat_lo.abs().max(lat_hi.abs()).to_radians();
            match (lng_half_width(RECT_PAD_RAD, max_abs_lat), self.unwrapped_lng_span()) {
                (Some(pad), Some((lo, hi))) => Some((lo - pad, hi + pad)),
                _ => None,
            }
        };
        rects_for(lat_lo, lat_hi, lng)
    }

    /// Longitude range of the boundary on an unwrapped axis starting at vertex 0. Each edge spans less than 180
    /// degrees of longitude, monotonically, so it covers exactly the short way between its endpoints. Interior
    /// points share the boundary's range when no pole is inside. `None` if the ring winds round a pole (callers
    /// check the poles first; this guards against them disagreeing within rounding).
    fn unwrapped_lng_span(&self) -> Option<(f64, f64)> {
        let first = self.vertices.first()?.lng;
        let (mut lng, mut lo, mut hi) = (first, first, first);
        let next = self.vertices.iter().skip(1).chain(self.vertices.first());
        for (a, b) in self.vertices.iter().zip(next) {
            let step = b.lng - a.lng;
            lng += if step > 180.0 {
                step - 360.0
            } else if step < -180.0 {
                step + 360.0
            } else {
                step
            };
            lo = lo.min(lng);
            hi = hi.max(lng);
        }
        ((lng - first).abs() < 180.0).then_some((lo, hi))
    }
}

/// The normalised vertex sum, provided every vertex is strictly within 90 degrees of it.
fn hemisphere_center(points: &[V3]) -> Result<V3, GeoError> {
    let sum = points.iter().fold(V3::ZERO, |acc, p| acc + *p);
    match sum.normalized() {
        Some(c) if points.iter().all(|p| p.dot(c) > HEMISPHERE_MIN_DOT) => Ok(c),
        _ => Err(GeoError::SpansHemisphere),
    }
}

/// No two vertices may be the same point, consecutive or not (a closing vertex repeating the first included).
fn check_distinct_vertices(points: &[V3]) -> Result<(), GeoError> {
    let boxes: Vec<Aabb> = points.iter().map(|&p| Aabb::spanning(p, p)).collect();
    let mut worst: Option<(usize, usize)> = None;
    let _ = grid::overlapping_pairs::<()>(&boxes, None, SAME_POINT_RAD, |i, j| {
        if points[i].angle_to(points[j]) <= SAME_POINT_RAD {
            worst = Some(worst.map_or((i, j), |w| w.min((i, j))));
        }
        ControlFlow::Continue(())
    });
    match worst {
        Some((first, second)) => Err(GeoError::DuplicateVertices { first, second }),
        None => Ok(()),
    }
}

/// Edge `i` runs from vertex `i` to the next.
fn ring_edges(points: &[V3]) -> Result<Vec<Edge>, GeoError> {
    let n = points.len();
    (0..n)
        .map(|i| {
            let j = (i + 1) % n;
            // Distinct vertices always give an edge; this only maps the impossible case to the closest error.
            Edge::new(points[i], points[j])
                .ok_or(GeoError::DuplicateVertices { first: i.min(j), second: i.max(j) })
        })
        .collect()
}

/// Adjacent edges share a vertex and can only meet elsewhere by doubling back along the same great circle, which
/// puts the far end of one on the other.
fn check_adjacent_edges(edges: &[Edge]) -> Result<(), GeoError> {
    let n = edges.len();
    let mut worst: Option<(usize, usize)> = None;
    for (i, edge) in edges.iter().enumerate() {
        let prev_index = (i + n - 1) % n;
        let prev = &edges[prev_index];
        if edge.distance_to_point(prev.a) <= SAME_POINT_RAD
            || prev.distance_to_point(edge.b) <= SAME_POINT_RAD
        {
            let pair = (i.min(prev_index), i.max(prev_index));
            worst = Some(worst.map_or(pair, |w| w.min(pair)));
        }
    }
    match worst {
        Some((first, second)) => Err(GeoError::EdgesOverlap { first, second }),
        None => Ok(()),
    }
}

/// Non-adjacent edges must stay apart: decided by a sweep in O(n log n) (`sweep.rs`), which judges pairs by the
/// same test as every pair would be, and reports the first offending pair it meets.
fn check_other_edges(edges: &[Edge], center: V3) -> Result<(), GeoError> {
    let Some(basis) = gnomonic_basis(center) else { return Ok(()) };
    let found = sweep::find_close_pair(edges, center, basis, SAME_POINT_RAD, |i, j| {
        if edges[i].clearly_farther_than(&edges[j], SAME_POINT_RAD) {
            return None;
        }
        let gap = edges[i].distance_to_edge(&edges[j]);
        (gap.min() <= SAME_POINT_RAD).then_some(gap.at_endpoint <= SAME_POINT_RAD)
    });
    match found {
        Some((first, second, true)) => Err(GeoError::EdgesTouch { first, second }),
        Some((first, second, false)) => Err(GeoError::EdgesCross { first, second }),
        None => Ok(()),
    }
}

/// Two unit vectors spanning the plane tangent to the sphere at `c`: coordinates of the gnomonic projection around
/// it, where great circles are straight lines.
fn gnomonic_basis(c: V3) -> Option<(V3, V3)> {
    // Any axis not parallel to the centre gives a basis of the tangent plane.
    let axis = if c.z.abs() < 0.9 { V3::NORTH_POLE } else { V3::new(1.0, 0.0, 0.0) };
    let e1 = axis.cross(c).normalized()?;
    Some((e1, c.cross(e1)))
}

/// Signed area (steradians) of the triangle (c, a, b), positive when counter-clockwise, by the Van Oosterom and
/// Strackee formula tan(E/2) = det(c, a, b) / (1 + a.b + b.c + c.a). The determinant is taken of offsets from
/// `c`, which keeps it accurate for small triangles.
fn fan_triangle_area(c: V3, a: V3, b: V3) -> f64 {
    let det = c.dot((a - c).cross(b - c));
    2.0 * det.atan2(1.0 + a.dot(b) + b.dot(c) + c.dot(a))
}

#[cfg(test)]
mod tests;
