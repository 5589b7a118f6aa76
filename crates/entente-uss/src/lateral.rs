//! Sideways alternatives: a route flown around what blocks it (the shortest path through a visibility graph of the
//! blockers' inflated hulls) and an area moved as a whole. Both are found on a local flat projection, which is only
//! a search aid: every candidate is decided by the exact spherical 4D test before it is offered.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use entente_geo::{Circle, EARTH_RADIUS_M, LatLng, Outline, Polygon};

use crate::route::{Route, destination, padded, route_volumes};
use crate::{UssError, Volume};

/// A point of the local projection, in metres east and north of its origin.
#[derive(Clone, Copy, Debug, PartialEq)]
struct P {
    x: f64,
    y: f64,
}

impl P {
    fn sub(self, o: P) -> P {
        P { x: self.x - o.x, y: self.y - o.y }
    }
    fn add(self, o: P) -> P {
        P { x: self.x + o.x, y: self.y + o.y }
    }
    fn scale(self, k: f64) -> P {
        P { x: self.x * k, y: self.y * k }
    }
    fn dot(self, o: P) -> f64 {
        self.x * o.x + self.y * o.y
    }
    fn cross(self, o: P) -> f64 {
        self.x * o.y - self.y * o.x
    }
    /// The length of the vector. Plane coordinates are metres within tens of kilometres, far from where the
    /// square could overflow, so the plain root serves; `hypot`'s care costs several times as much in the search.
    fn norm(self) -> f64 {
        self.dot(self).sqrt()
    }
}

/// Equirectangular projection around `origin`: distances within a few tens of kilometres are right to a few parts
/// in a thousand, which the clearance margin absorbs.
struct Plane {
    origin: LatLng,
    kx: f64,
    ky: f64,
}

impl Plane {
    fn new(origin: LatLng) -> Plane {
        let ky = EARTH_RADIUS_M.to_radians();
        Plane { origin, kx: ky * origin.lat.to_radians().cos(), ky }
    }
    fn to_plane(&self, p: LatLng) -> P {
        let mut dl = p.lng - self.origin.lng;
        if dl > 180.0 {
            dl -= 360.0;
        } else if dl < -180.0 {
            dl += 360.0;
        }
        P { x: dl * self.kx, y: (p.lat - self.origin.lat) * self.ky }
    }
    fn to_sphere(&self, p: P) -> LatLng {
        let lng = (self.origin.lng + p.x / self.kx + 540.0).rem_euclid(360.0) - 180.0;
        LatLng::new(self.origin.lat + p.y / self.ky, lng)
    }
}

/// Convex hull (Andrew's monotone chain), counter-clockwise, without collinear points.
fn hull(mut points: Vec<P>) -> Vec<P> {
    points.sort_by(|a, b| a.x.total_cmp(&b.x).then(a.y.total_cmp(&b.y)));
    points.dedup();
    if points.len() < 3 {
        return points;
    }
    let mut lower: Vec<P> = Vec::new();
    for &p in &points {
        while lower.len() >= 2
            && lower[lower.len() - 1].sub(lower[lower.len() - 2]).cross(p.sub(lower[lower.len() - 2])) <= 0.0
        {
            lower.pop();
        }
        lower.push(p);
    }
    let mut upper: Vec<P> = Vec::new();
    for &p in points.iter().rev() {
        while upper.len() >= 2
            && upper[upper.len() - 1].sub(upper[upper.len() - 2]).cross(p.sub(upper[upper.len() - 2])) <= 0.0
        {
            upper.pop();
        }
        upper.push(p);
    }
    lower.pop();
    upper.pop();
    lower.extend(upper);
    lower
}

/// A blocker's outline on the plane, grown by `clearance` in every direction and made convex: a path that stays
/// outside it keeps that clearance from the outline (up to the projection's error).
fn inflated(outline: &Outline, clearance: f64, plane: &Plane) -> Vec<P> {
    // A regular n-gon of circumradius r / cos(pi / n) contains the circle of radius r.
    let ring = |centre: P, r: f64, n: usize| -> Vec<P> {
        let r = r / (std::f64::consts::PI / n as f64).cos();
        (0..n)
            .map(|k| {
                let a = std::f64::consts::TAU * k as f64 / n as f64;
                centre.add(P { x: r * a.cos(), y: r * a.sin() })
            })
            .collect()
    };
    match outline {
        Outline::Circle(c) => ring(plane.to_plane(c.center()), c.radius_m() + clearance, 12),
        Outline::Polygon(p) => {
            let corners: Vec<P> = p.vertices().iter().map(|v| plane.to_plane(*v)).collect();
            hull(hull(corners).into_iter().flat_map(|c| ring(c, clearance, 8)).collect())
        }
    }
}

/// A convex counter-clockwise obstacle with what every crossing test needs computed once: the search asks
/// whether each candidate leg crosses each obstacle, so most of those questions are answered by the bounding box
/// alone, and the rest do not recompute the edges.
struct Obstacle {
    /// Per edge: its start, its direction, and the margin (a millimetre times its length) by which a point must be
    /// left of it to count as inside.
    edges: Vec<(P, P, f64)>,
    min: P,
    max: P,
}

impl Obstacle {
    fn new(poly: Vec<P>) -> Obstacle {
        let edges = (0..poly.len())
            .map(|i| {
                let (u, v) = (poly[i], poly[(i + 1) % poly.len()]);
                let edge = v.sub(u);
                (u, edge, 1e-3 * edge.norm())
            })
            .collect();
        let min = poly
            .iter()
            .fold(P { x: f64::INFINITY, y: f64::INFINITY }, |m, p| P { x: m.x.min(p.x), y: m.y.min(p.y) });
        let max = poly.iter().fold(P { x: f64::NEG_INFINITY, y: f64::NEG_INFINITY }, |m, p| P {
            x: m.x.max(p.x),
            y: m.y.max(p.y),
        });
        Obstacle { edges, min, max }
    }

    fn vertices(&self) -> impl Iterator<Item = P> + '_ {
        self.edges.iter().map(|(u, _, _)| *u)
    }

    /// Whether the segment `a`-`b` passes through the interior (touching the boundary is allowed): Cyrus-Beck
    /// clipping against the open half-planes of the edges. The interior lies inside the bounding box, so a segment
    /// whose own box misses it cannot.
    fn crossed_by(&self, a: P, b: P) -> bool {
        // Fewer than three corners enclose nothing.
        if self.edges.len() < 3
            || a.x.max(b.x) <= self.min.x
            || a.x.min(b.x) >= self.max.x
            || a.y.max(b.y) <= self.min.y
            || a.y.min(b.y) >= self.max.y
        {
            return false;
        }
        let d = b.sub(a);
        let (mut t0, mut t1) = (0.0f64, 1.0f64);
        for &(u, edge, margin) in &self.edges {
            // Inside means strictly left of every edge, by more than a millimetre.
            let num = edge.cross(a.sub(u)) - margin;
            let den = edge.cross(d);
            if den.abs() < 1e-12 {
                if num <= 0.0 {
                    return false;
                }
            } else {
                let t = -num / den;
                if den > 0.0 {
                    t0 = t0.max(t);
                } else {
                    t1 = t1.min(t);
                }
                if t0 >= t1 {
                    return false;
                }
            }
        }
        t1 - t0 > 1e-9
    }

    fn contains(&self, p: P) -> bool {
        self.edges.len() >= 3
            && p.x > self.min.x
            && p.x < self.max.x
            && p.y > self.min.y
            && p.y < self.max.y
            && self.edges.iter().all(|&(u, edge, margin)| edge.cross(p.sub(u)) > margin)
    }
}

fn distance_to_segment(p: P, a: P, b: P) -> f64 {
    let d = b.sub(a);
    let len2 = d.dot(d);
    let t = if len2 == 0.0 { 0.0 } else { (p.sub(a).dot(d) / len2).clamp(0.0, 1.0) };
    p.sub(a.add(d.scale(t))).norm()
}

fn distance_to_path(p: P, path: &[P]) -> f64 {
    match path {
        [only] => p.sub(*only).norm(),
        _ => path.windows(2).map(|w| distance_to_segment(p, w[0], w[1])).fold(f64::INFINITY, f64::min),
    }
}

/// The farthest any point of `path` strays from `original`, bounded from above: sampled every `STEP` metres, and
/// the distance to a fixed path changes by at most the distance moved, so half a step covers what lies between.
fn deviation(path: &[P], original: &[P]) -> f64 {
    const STEP: f64 = 5.0;
    let mut worst: f64 = 0.0;
    for w in path.windows(2) {
        let n = (w[1].sub(w[0]).norm() / STEP).ceil().max(1.0) as usize;
        for k in 0..=n {
            let p = w[0].add(w[1].sub(w[0]).scale(k as f64 / n as f64));
            worst = worst.max(distance_to_path(p, original));
        }
    }
    worst + STEP / 2.0
}

#[derive(PartialEq)]
struct Open {
    estimate: f64,
    node: usize,
}

impl Eq for Open {}

impl Ord for Open {
    fn cmp(&self, other: &Open) -> Ordering {
        other.estimate.total_cmp(&self.estimate).then(other.node.cmp(&self.node))
    }
}

impl PartialOrd for Open {
    fn partial_cmp(&self, other: &Open) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// The shortest path from `nodes[from]` to `nodes[to]` whose legs cross no obstacle (A* with the straight-line
/// distance, legs checked as they are considered), as node indices.
fn shortest(nodes: &[P], from: usize, to: usize, obstacles: &[Obstacle]) -> Option<Vec<usize>> {
    let mut best = vec![f64::INFINITY; nodes.len()];
    let mut previous = vec![usize::MAX; nodes.len()];
    let mut done = vec![false; nodes.len()];
    let mut open = BinaryHeap::new();
    best[from] = 0.0;
    open.push(Open { estimate: nodes[from].sub(nodes[to]).norm(), node: from });
    while let Some(Open { node, .. }) = open.pop() {
        if done[node] {
            continue;
        }
        if node == to {
            let mut path = vec![to];
            while *path.last()? != from {
                path.push(previous[*path.last()?]);
            }
            path.reverse();
            return Some(path);
        }
        done[node] = true;
        for next in 0..nodes.len() {
            if done[next] || next == node {
                continue;
            }
            let g = best[node] + nodes[node].sub(nodes[next]).norm();
            if g >= best[next] || obstacles.iter().any(|o| o.crossed_by(nodes[node], nodes[next])) {
                continue;
            }
            best[next] = g;
            previous[next] = node;
            open.push(Open { estimate: g + nodes[next].sub(nodes[to]).norm(), node: next });
        }
    }
    None
}

/// The shortest route through `route`'s waypoints, in order, that keeps the route's buffer (plus a margin for the
/// projection) away from every `blocker` outline and strays at most `max_lateral_m` from the route; `None` when
/// there is none or it is the route itself. Outlines farther than that reach are ignored.
pub(crate) fn detour(route: &Route, blockers: &[&Outline], max_lateral_m: f64) -> Option<Vec<LatLng>> {
    if route.waypoints.len() < 2 || max_lateral_m.is_nan() || max_lateral_m <= 0.0 {
        return None;
    }
    let plane = Plane::new(route.waypoints[0]);
    let original: Vec<P> = route.waypoints.iter().map(|w| plane.to_plane(*w)).collect();
    let reach = max_lateral_m + padded(route.buffer_m);
    let mut obstacles = Vec::new();
    for outline in blockers {
        let hull: Vec<P> = match outline.convex_hull().as_ref() {
            Outline::Circle(c) => vec![plane.to_plane(c.center())],
            Outline::Polygon(p) => p.vertices().iter().map(|v| plane.to_plane(*v)).collect(),
        };
        let radius = match outline {
            Outline::Circle(c) => c.radius_m(),
            Outline::Polygon(_) => 0.0,
        };
        // A polygon's hull meets the reach only if the polygon can; its corners are far when its edges are.
        let near = hull.iter().any(|p| distance_to_path(*p, &original) - radius <= reach)
            || (0..hull.len()).any(|i| {
                let (a, b) = (hull[i], hull[(i + 1) % hull.len()]);
                original.iter().any(|o| distance_to_segment(*o, a, b) <= reach)
            });
        if !near {
            continue;
        }
        let far = hull.iter().map(|p| p.norm()).fold(0.0, f64::max);
        // Clearance: the route's buffer as its volumes are built, plus 2 m and 0.5% of the distance from the origin
        // for the projection's error.
        obstacles.push(Obstacle::new(inflated(outline, padded(route.buffer_m) + 2.0 + far * 0.005, &plane)));
    }
    if original.iter().any(|w| obstacles.iter().any(|o| o.contains(*w))) {
        return None;
    }
    let mut nodes = original.clone();
    nodes.extend(
        obstacles
            .iter()
            .flat_map(Obstacle::vertices)
            .filter(|p| distance_to_path(*p, &original) <= max_lateral_m)
            .filter(|p| !obstacles.iter().any(|o| o.contains(*p))),
    );
    let mut path: Vec<usize> = vec![0];
    for leg in 0..original.len() - 1 {
        let found = shortest(&nodes, leg, leg + 1, &obstacles)?;
        path.extend(&found[1..]);
    }
    let points: Vec<P> = path.iter().map(|i| nodes[*i]).collect();
    if points == original || deviation(&points, &original) > max_lateral_m {
        return None;
    }
    Some(
        path.iter()
            .map(
                |i| if *i < route.waypoints.len() { route.waypoints[*i] } else { plane.to_sphere(nodes[*i]) },
            )
            .collect(),
    )
}

/// Volumes holding everything [`detour`] can take into account for `route` within `max_lateral_m`: every point of
/// a detour's volumes and every blocker outline near enough to shape it. A detour strays at most `max_lateral_m`
/// on the plane, its volumes reach `padded(buffer)` past its path (times the square root of two at a corner) and
/// outlines count within `max_lateral_m + padded(buffer)`; the route widened by that, twice the padded buffer and a
/// hundredth of its length for the projection's error (a few parts in a thousand), holds them all. What lies
/// outside can neither block a detour nor change which one is found, so only this much needs to be learned.
pub(crate) fn detour_reach(route: &Route, max_lateral_m: f64) -> Result<Vec<Volume>, UssError> {
    let margin = 2.0 * padded(route.buffer_m) + 0.01 * length_m(&route.waypoints) + 10.0;
    route_volumes(&Route { buffer_m: max_lateral_m + margin, ..route.clone() })
}

/// The length of a path along great circles, in metres.
pub(crate) fn length_m(waypoints: &[LatLng]) -> f64 {
    waypoints.windows(2).map(|w| entente_geo::distance_m(w[0], w[1])).sum()
}

/// `volume` moved `distance_m` along `bearing_deg`: every vertex (or the centre) travels the same great-circle
/// distance in the same initial direction. `None` if the moved outline is not a valid shape.
pub(crate) fn moved(volume: &Volume, bearing_deg: f64, distance_m: f64) -> Option<Volume> {
    let outline = match &volume.outline {
        Outline::Circle(c) => {
            Outline::Circle(Circle::new(destination(c.center(), bearing_deg, distance_m), c.radius_m()).ok()?)
        }
        Outline::Polygon(p) => Outline::Polygon(
            Polygon::new(p.vertices().iter().map(|v| destination(*v, bearing_deg, distance_m)).collect())
                .ok()?,
        ),
    };
    Some(Volume { outline, altitude: volume.altitude, time: volume.time })
}

#[cfg(test)]
mod tests {
    use entente_geo::{Interval, distance_m};
    use proptest::prelude::*;

    use super::*;
    use crate::conflict::tests::at;
    use crate::volumes_intersect;

    fn straight(buffer_m: f64) -> Route {
        Route {
            waypoints: vec![LatLng::new(46.5, 6.6), LatLng::new(46.5, 6.626)],
            buffer_m,
            altitude: Interval { lo: Some(0.0), hi: Some(120.0) },
            time: Interval { lo: Some(at(0)), hi: Some(at(30)) },
        }
    }

    fn disc(lat: f64, lng: f64, r: f64) -> Outline {
        Outline::Circle(Circle::new(LatLng::new(lat, lng), r).unwrap())
    }

    fn clear_of(route: &Route, waypoints: Vec<LatLng>, blockers: &[Outline]) -> bool {
        let volumes = route_volumes(&Route { waypoints, ..route.clone() }).unwrap();
        blockers.iter().all(|b| volumes.iter().all(|v| !v.outline.intersects(b)))
    }

    #[test]
    fn a_route_goes_around_a_disc_across_it_and_little_longer() {
        let route = straight(20.0);
        let blocker = disc(46.5005, 6.613, 150.0);
        let path = detour(&route, &[&blocker], 600.0).expect("a detour");
        assert!(clear_of(&route, path.clone(), std::slice::from_ref(&blocker)));
        let (before, after) = (length_m(&route.waypoints), length_m(&path));
        assert!(after > before && after < before * 1.1, "{before} -> {after}");
        assert_eq!((path[0], *path.last().unwrap()), (route.waypoints[0], route.waypoints[1]));
    }

    #[test]
    fn no_detour_past_the_lateral_limit_or_from_inside_a_blocker() {
        let route = straight(20.0);
        // A wall 2 km long across the route: going around means straying about 1 km.
        let wall = Outline::Polygon(
            Polygon::new(vec![
                LatLng::new(46.491, 6.612),
                LatLng::new(46.491, 6.614),
                LatLng::new(46.509, 6.614),
                LatLng::new(46.509, 6.612),
            ])
            .unwrap(),
        );
        assert!(detour(&route, &[&wall], 500.0).is_none());
        let path = detour(&route, &[&wall], 1500.0).expect("around the wall's end");
        assert!(clear_of(&route, path, std::slice::from_ref(&wall)));
        let on_start = disc(46.5, 6.6, 50.0);
        assert!(detour(&route, &[&on_start], 1500.0).is_none());
    }

    #[test]
    fn moving_keeps_the_shape() {
        let v = Volume {
            outline: disc(46.5, 6.6, 100.0),
            altitude: Interval { lo: Some(0.0), hi: Some(50.0) },
            time: Interval { lo: Some(at(0)), hi: Some(at(10)) },
        };
        let m = moved(&v, 90.0, 300.0).unwrap();
        let Outline::Circle(c) = &m.outline else { panic!("a circle") };
        assert!((distance_m(c.center(), LatLng::new(46.5, 6.6)) - 300.0).abs() < 0.01);
        assert!(!volumes_intersect(&[v], &[m]));
    }

    proptest! {
        /// Discs that all reach the route from its north side, leaving the south side free within the limit: a
        /// detour exists, so one must be found, and it must be clear of every disc by the exact test and within
        /// the limit.
        #[test]
        fn a_free_side_is_found_and_every_detour_is_clear_and_within_the_limit(
            discs in proptest::collection::vec((0.0f64..1.0, 20.0f64..250.0, 0.0f64..0.9), 1..6),
            buffer in 5.0f64..40.0,
        ) {
            let route = straight(buffer);
            let plane = Plane::new(route.waypoints[0]);
            let length = plane.to_plane(route.waypoints[1]).x;
            // Each disc lies between the ends (clear of them by 80 m) and crosses the route's centre line from the
            // north, reaching at most 250 m south of it.
            let blockers: Vec<Outline> = discs
                .iter()
                .map(|&(u, r, f)| {
                    let centre = plane.to_sphere(P { x: r + 80.0 + u * (length - 2.0 * r - 160.0), y: r * f });
                    disc(centre.lat, centre.lng, r)
                })
                .collect();
            let limit = 700.0;
            let refs: Vec<&Outline> = blockers.iter().collect();
            let path = detour(&route, &refs, limit);
            prop_assert!(path.is_some(), "no detour south of {:?}", discs);
            let path = path.unwrap();
            prop_assert!(clear_of(&route, path.clone(), &blockers));
            let original: Vec<P> = route.waypoints.iter().map(|w| plane.to_plane(*w)).collect();
            let points: Vec<P> = path.iter().map(|w| plane.to_plane(*w)).collect();
            prop_assert!(deviation(&points, &original) <= limit);
            // What the planner learns for the route holds the detour's volumes: their corners lie inside it, and
            // it is convex around this straight route.
            let reach = detour_reach(&route, limit).unwrap();
            let flown = route_volumes(&Route { waypoints: path, ..route.clone() }).unwrap();
            for v in &flown {
                let Outline::Polygon(p) = &v.outline else { panic!("a segment's rectangle") };
                for corner in p.vertices() {
                    prop_assert!(reach.iter().any(|r| r.outline.contains(*corner)), "{corner:?} outside the reach");
                }
            }
        }

        #[test]
        fn crossing_agrees_with_sampling(
            ax in -50.0f64..50.0, ay in -50.0f64..50.0, bx in -50.0f64..50.0, by in -50.0f64..50.0,
            r in 5.0f64..30.0,
        ) {
            let square = hull(vec![P { x: -r, y: -r }, P { x: r, y: -r }, P { x: r, y: r }, P { x: -r, y: r }]);
            let (a, b) = (P { x: ax, y: ay }, P { x: bx, y: by });
            let sampled = (1..1000).any(|k| {
                let p = a.add(b.sub(a).scale(k as f64 / 1000.0));
                p.x.abs() < r - 0.01 && p.y.abs() < r - 0.01
            });
            if sampled {
                prop_assert!(Obstacle::new(square.clone()).crossed_by(a, b));
            }
        }
    }
}
