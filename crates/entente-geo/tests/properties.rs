//! Property tests of the safety rule: the intersection test never misses a conflict (no false negatives), never
//! reports shapes clearly more than EPSILON apart, is symmetric and independent of winding, and the bounding
//! rectangles contain every point of a shape; convex hulls (relevance) hold their shapes and match a planar hull.
//!
//! The oracles do not share code with the crate. A gnomonic projection maps great circles to straight lines, so
//! polygon questions become exact planar ones (and, for the small shapes used here, planar distances equal
//! spherical ones to ~1e-8 m); a gnomonic projection centred on a circle's centre maps the circle to a planar
//! circle; circle-circle questions use the haversine formula.

use std::f64::consts::{PI, TAU};

use entente_geo::{Circle, EARTH_RADIUS_M, EPSILON_M, LatLng, Outline, Polygon};
use proptest::prelude::*;

const R: f64 = EARTH_RADIUS_M;

/// Width of the band around EPSILON where nothing is asserted, far wider than the oracles' error.
const BAND_M: f64 = 1e-4;

type P3 = [f64; 3];
type P2 = (f64, f64);

fn add(a: P3, b: P3) -> P3 {
    [a[0] + b[0], a[1] + b[1], a[2] + b[2]]
}

fn scale(a: P3, s: f64) -> P3 {
    [a[0] * s, a[1] * s, a[2] * s]
}

fn dot(a: P3, b: P3) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

fn cross(a: P3, b: P3) -> P3 {
    [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]]
}

fn normalize(a: P3) -> P3 {
    scale(a, 1.0 / dot(a, a).sqrt())
}

fn unit(p: LatLng) -> P3 {
    let (lat, lng) = (p.lat.to_radians(), p.lng.to_radians());
    [lat.cos() * lng.cos(), lat.cos() * lng.sin(), lat.sin()]
}

fn latlng(p: P3) -> LatLng {
    LatLng::new(p[2].atan2(p[0].hypot(p[1])).to_degrees(), p[1].atan2(p[0]).to_degrees())
}

fn haversine_m(a: LatLng, b: LatLng) -> f64 {
    let (la, lb) = (a.lat.to_radians(), b.lat.to_radians());
    let h = ((lb - la) / 2.0).sin().powi(2)
        + la.cos() * lb.cos() * ((b.lng - a.lng).to_radians() / 2.0).sin().powi(2);
    2.0 * R * h.sqrt().min(1.0).asin()
}

/// Gnomonic projection centred on `c`, with plane coordinates in metres (east, north) at the tangent point.
struct Frame {
    c: P3,
    e: P3,
    n: P3,
}

impl Frame {
    fn at(c: P3) -> Frame {
        let east = cross([0.0, 0.0, 1.0], c);
        let e = if dot(east, east) > 1e-20 { normalize(east) } else { [0.0, 1.0, 0.0] };
        Frame { c, e, n: cross(c, e) }
    }

    fn to_sphere(&self, (x, y): P2) -> LatLng {
        latlng(normalize(add(self.c, add(scale(self.e, x / R), scale(self.n, y / R)))))
    }

    fn to_plane(&self, p: LatLng) -> P2 {
        let u = unit(p);
        let w = dot(u, self.c);
        (dot(u, self.e) / w * R, dot(u, self.n) / w * R)
    }
}

fn sub2(a: P2, b: P2) -> P2 {
    (a.0 - b.0, a.1 - b.1)
}

fn cross2(a: P2, b: P2) -> f64 {
    a.0 * b.1 - a.1 * b.0
}

fn segment_point_distance(p: P2, a: P2, b: P2) -> f64 {
    let (ab, ap) = (sub2(b, a), sub2(p, a));
    let len2 = ab.0 * ab.0 + ab.1 * ab.1;
    let t = if len2 > 0.0 { ((ap.0 * ab.0 + ap.1 * ab.1) / len2).clamp(0.0, 1.0) } else { 0.0 };
    (ap.0 - t * ab.0).hypot(ap.1 - t * ab.1)
}

fn segments_intersect(a: P2, b: P2, c: P2, d: P2) -> bool {
    let side = |p: P2, q: P2, r: P2| cross2(sub2(q, p), sub2(r, p)).signum();
    side(a, b, c) * side(a, b, d) <= 0.0 && side(c, d, a) * side(c, d, b) <= 0.0
}

fn edges(poly: &[P2]) -> impl Iterator<Item = (P2, P2)> + '_ {
    poly.iter().zip(poly.iter().cycle().skip(1)).map(|(&a, &b)| (a, b))
}

fn point_in_polygon(p: P2, poly: &[P2]) -> bool {
    let mut inside = false;
    for (a, b) in edges(poly) {
        if (a.1 > p.1) != (b.1 > p.1) && p.0 < a.0 + (p.1 - a.1) / (b.1 - a.1) * (b.0 - a.0) {
            inside = !inside;
        }
    }
    inside
}

fn point_polygon_distance(p: P2, poly: &[P2]) -> f64 {
    if point_in_polygon(p, poly) {
        return 0.0;
    }
    edges(poly).map(|(a, b)| segment_point_distance(p, a, b)).fold(f64::INFINITY, f64::min)
}

fn polygon_polygon_distance(p: &[P2], q: &[P2]) -> f64 {
    if point_in_polygon(p[0], q) || point_in_polygon(q[0], p) {
        return 0.0;
    }
    let mut best = f64::INFINITY;
    for (a, b) in edges(p) {
        for (c, d) in edges(q) {
            if segments_intersect(a, b, c, d) {
                return 0.0;
            }
            best = best
                .min(segment_point_distance(a, c, d))
                .min(segment_point_distance(b, c, d))
                .min(segment_point_distance(c, a, b))
                .min(segment_point_distance(d, a, b));
        }
    }
    best
}

/// A shape relative to its own centre, in metres of the gnomonic plane.
#[derive(Clone, Debug)]
enum ShapeSpec {
    /// Star-shaped around the centre with angular gaps below pi, hence simple.
    Polygon(Vec<P2>),
    Circle(f64),
}

impl ShapeSpec {
    fn reach(&self) -> f64 {
        match self {
            ShapeSpec::Polygon(offsets) => offsets.iter().map(|o| o.0.hypot(o.1)).fold(0.0, f64::max),
            ShapeSpec::Circle(r) => *r,
        }
    }
}

/// A placed shape: what the crate sees, plus what the oracles need.
#[derive(Clone, Debug)]
enum Placed {
    Polygon { vertices: Vec<LatLng>, plane: Vec<P2> },
    Circle { center: LatLng, radius: f64 },
}

impl Placed {
    fn new(spec: &ShapeSpec, frame: &Frame, at: P2) -> Placed {
        match spec {
            ShapeSpec::Polygon(offsets) => {
                let vertices: Vec<LatLng> =
                    offsets.iter().map(|o| frame.to_sphere((at.0 + o.0, at.1 + o.1))).collect();
                // Re-projected from the coordinates the crate receives, so both see the very same polygon.
                let plane = vertices.iter().map(|&v| frame.to_plane(v)).collect();
                Placed::Polygon { vertices, plane }
            }
            ShapeSpec::Circle(radius) => Placed::Circle { center: frame.to_sphere(at), radius: *radius },
        }
    }

    fn outline(&self) -> Outline {
        match self {
            Placed::Polygon { vertices, .. } => Outline::Polygon(Polygon::new(vertices.clone()).unwrap()),
            Placed::Circle { center, radius } => Outline::Circle(Circle::new(*center, *radius).unwrap()),
        }
    }

    /// Independent membership test; polygons are judged in `frame`, the one they were placed with.
    fn holds(&self, frame: &Frame, p: LatLng) -> bool {
        match self {
            Placed::Polygon { plane, .. } => point_in_polygon(frame.to_plane(p), plane),
            Placed::Circle { center, radius } => haversine_m(*center, p) <= *radius,
        }
    }

    /// Random points inside (with the shape's own boundary samples) and points on the boundary.
    fn samples(&self, frame: &Frame, rng: &mut Rng) -> (Vec<LatLng>, Vec<LatLng>) {
        match self {
            Placed::Polygon { plane, .. } => {
                let n = plane.len();
                let centroid =
                    plane.iter().fold((0.0, 0.0), |s, p| (s.0 + p.0 / n as f64, s.1 + p.1 / n as f64));
                // The shapes are star-shaped around their generating centre; the fan from the vertex centroid is
                // not guaranteed to be inside, so only points the planar test confirms are kept.
                let inside = (0..64)
                    .map(|_| {
                        let (a, b) = edges(plane).nth(rng.below(n)).unwrap_or((centroid, centroid));
                        let (mut u, mut v) = (rng.unit(), rng.unit());
                        if u + v > 1.0 {
                            (u, v) = (1.0 - u, 1.0 - v);
                        }
                        let w = 1.0 - u - v;
                        (w * centroid.0 + u * a.0 + v * b.0, w * centroid.1 + u * a.1 + v * b.1)
                    })
                    .filter(|&p| point_in_polygon(p, plane))
                    .map(|p| frame.to_sphere(p))
                    .collect();
                let boundary = edges(plane)
                    .flat_map(|(a, b)| {
                        (0..16).map(move |k| {
                            let t = k as f64 / 16.0;
                            (a.0 + t * (b.0 - a.0), a.1 + t * (b.1 - a.1))
                        })
                    })
                    .map(|p| frame.to_sphere(p))
                    .collect();
                (inside, boundary)
            }
            Placed::Circle { center, radius } => {
                let own = Frame::at(unit(*center));
                // Gnomonic radius of the circle, shrunk by a hair so rounding keeps samples inside.
                let rho = R * (radius / R).tan() * (1.0 - 1e-12);
                let inside = (0..64)
                    .map(|_| {
                        let (r, a) = (rho * rng.unit().sqrt(), rng.unit() * TAU);
                        own.to_sphere((r * a.cos(), r * a.sin()))
                    })
                    .collect();
                let boundary = (0..128)
                    .map(|k| k as f64 / 128.0 * TAU)
                    .map(|a| own.to_sphere((rho * a.cos(), rho * a.sin())));
                (inside, boundary.collect())
            }
        }
    }
}

/// Distance between two placed shapes in metres, from the oracles.
fn oracle_distance(a: &Placed, b: &Placed) -> f64 {
    match (a, b) {
        (Placed::Polygon { plane: p, .. }, Placed::Polygon { plane: q, .. }) => {
            polygon_polygon_distance(p, q)
        }
        (Placed::Polygon { vertices, .. }, Placed::Circle { center, radius })
        | (Placed::Circle { center, radius }, Placed::Polygon { vertices, .. }) => {
            let own = Frame::at(unit(*center));
            let plane: Vec<P2> = vertices.iter().map(|&v| own.to_plane(v)).collect();
            let rho = point_polygon_distance((0.0, 0.0), &plane);
            (R * (rho / R).atan() - radius).max(0.0)
        }
        (Placed::Circle { center: c1, radius: r1 }, Placed::Circle { center: c2, radius: r2 }) => {
            (haversine_m(*c1, *c2) - r1 - r2).max(0.0)
        }
    }
}

/// Whether vertex `i` is a corner of the planar convex hull: no triangle of three other vertices holds it.
/// Quartic, written for obviousness rather than speed.
fn planar_extreme(i: usize, plane: &[P2]) -> bool {
    let p = plane[i];
    let others: Vec<P2> = plane.iter().enumerate().filter(|&(j, _)| j != i).map(|(_, q)| *q).collect();
    let n = others.len();
    for a in 0..n {
        for b in a + 1..n {
            for c in b + 1..n {
                let (x, y, z) = (others[a], others[b], others[c]);
                let sides = [
                    cross2(sub2(y, x), sub2(p, x)),
                    cross2(sub2(z, y), sub2(p, y)),
                    cross2(sub2(x, z), sub2(p, z)),
                ];
                if sides.iter().all(|s| *s >= 0.0) || sides.iter().all(|s| *s <= 0.0) {
                    return false;
                }
            }
        }
    }
    true
}

/// splitmix64: samples need many random numbers, which would make proptest strategies unwieldy.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn region() -> impl Strategy<Value = LatLng> {
    let anywhere = (-80.0..80.0, -180.0..180.0);
    let near_antimeridian = (-80.0..80.0, prop_oneof![179.97..180.0, -180.0..-179.97]);
    prop_oneof![
        anywhere.prop_map(|(lat, lng)| LatLng::new(lat, lng)),
        near_antimeridian.prop_map(|(lat, lng)| LatLng::new(lat, lng)),
        (80.0..89.99, -180.0..180.0).prop_map(|(lat, lng)| LatLng::new(lat, lng)),
        (-89.99..-80.0, -180.0..180.0).prop_map(|(lat, lng)| LatLng::new(lat, lng)),
        // Within a few km of a pole, so that shapes often contain it.
        (89.97..=90.0, -180.0..180.0).prop_map(|(lat, lng)| LatLng::new(lat, lng)),
        (-90.0..=-89.97, -180.0..180.0).prop_map(|(lat, lng)| LatLng::new(lat, lng)),
    ]
}

fn shape() -> impl Strategy<Value = ShapeSpec> {
    // Log-uniform sizes from 1 m to 3 km.
    let size = (0.0..8.0f64).prop_map(f64::exp);
    let polygon = (size.clone(), 3usize..12)
        .prop_flat_map(|(size, n)| {
            (Just(size), prop::collection::vec((1.0..1.9f64, 0.3..1.0f64), n), 0.0..TAU)
        })
        .prop_map(|(size, parts, turn)| {
            // Gaps of weight 1..1.9 keep every angular gap below pi, so the star polygon is simple.
            let total: f64 = parts.iter().map(|p| p.0).sum();
            let mut angle = turn;
            let offsets = parts
                .iter()
                .map(|&(gap, radius)| {
                    angle += gap / total * TAU;
                    (size * radius * angle.cos(), size * radius * angle.sin())
                })
                .collect();
            ShapeSpec::Polygon(offsets)
        });
    prop_oneof![polygon, size.prop_map(ShapeSpec::Circle)]
}

/// How far apart to place the second shape.
#[derive(Clone, Debug)]
enum Gap {
    /// Overlapping: this fraction of the touching offset.
    Overlap(f64),
    /// Separated by this many metres (by the oracle).
    Apart(f64),
}

fn gap() -> impl Strategy<Value = Gap> {
    prop_oneof![
        (0.0..1.0).prop_map(Gap::Overlap),
        Just(Gap::Apart(0.0)),
        (0.0..0.03).prop_map(Gap::Apart),
        (0.0..0.03).prop_map(Gap::Apart),
        (0.03..300.0).prop_map(Gap::Apart),
    ]
}

/// Places `b` along `direction` from `a`'s centre so that the oracle distance is the gap asked for.
fn place_pair(
    center: LatLng,
    a: &ShapeSpec,
    b: &ShapeSpec,
    direction: f64,
    gap: &Gap,
) -> (Frame, Placed, Placed) {
    let frame = Frame::at(unit(center));
    let placed_a = Placed::new(a, &frame, (0.0, 0.0));
    let at = |t: f64| (t * direction.cos(), t * direction.sin());
    let distance_at = |t: f64| oracle_distance(&placed_a, &Placed::new(b, &frame, at(t)));
    // At t = 0 both shapes contain the common centre, so the distance is 0; bisect for the target.
    let target = match gap {
        Gap::Overlap(_) => 0.0,
        Gap::Apart(g) => *g,
    };
    let mut hi = a.reach() + b.reach() + target + 1.0;
    while distance_at(hi) <= target {
        hi *= 2.0;
    }
    let mut lo = 0.0;
    for _ in 0..80 {
        let mid = (lo + hi) / 2.0;
        if distance_at(mid) <= target {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    let t = match gap {
        Gap::Overlap(fraction) => hi * fraction,
        Gap::Apart(_) => hi,
    };
    let placed_b = Placed::new(b, &frame, at(t));
    (frame, placed_a, placed_b)
}

fn reversed(outline: &Outline) -> Outline {
    match outline {
        Outline::Polygon(p) => {
            Outline::Polygon(Polygon::new(p.vertices().iter().rev().copied().collect()).unwrap())
        }
        Outline::Circle(c) => Outline::Circle(*c),
    }
}

/// Whether a rect holds the point, checking the rect invariants on the way.
fn in_rects(outline: &Outline, p: LatLng) -> bool {
    let rects = outline.bounding_rects();
    assert!(matches!(rects.len(), 1 | 2), "{rects:?}");
    for r in &rects {
        assert!(-90.0 <= r.lat_lo && r.lat_lo <= r.lat_hi && r.lat_hi <= 90.0, "{r:?}");
        assert!(-180.0 <= r.lng_lo && r.lng_lo <= r.lng_hi && r.lng_hi <= 180.0, "{r:?}");
    }
    rects.iter().any(|r| r.contains(p))
}

/// The convex hull property, shared by the random cases and the fixed ones that once failed.
fn check_hulls(
    center: LatLng,
    a: &ShapeSpec,
    b: &ShapeSpec,
    direction: f64,
    gap: &Gap,
    seed: u64,
) -> Result<(), TestCaseError> {
    let (frame, placed_a, placed_b) = place_pair(center, a, b, direction, gap);
    let (oa, ob) = (placed_a.outline(), placed_b.outline());
    let (ha, hb) = (oa.convex_hull(), ob.convex_hull());
    if let (Placed::Polygon { vertices, plane }, Outline::Polygon(hull)) = (&placed_a, ha.as_ref()) {
        let mut expected: Vec<LatLng> =
            (0..plane.len()).filter(|&i| planar_extreme(i, plane)).map(|i| vertices[i]).collect();
        let mut got = hull.vertices().to_vec();
        let key = |p: &LatLng| (p.lat.to_bits(), p.lng.to_bits());
        expected.sort_by_key(key);
        got.sort_by_key(key);
        prop_assert_eq!(got, expected, "hull vertices differ from the planar oracle's");
        prop_assert!(hull.is_convex());
    }
    prop_assert!(ha.contains_outline(&oa), "the hull does not hold its polygon");
    if oa.intersects(&ob) {
        prop_assert!(ha.intersects(&hb), "intersecting shapes with disjoint hulls");
    }
    let mut rng = Rng(seed);
    let (inside, boundary) = placed_a.samples(&frame, &mut rng);
    for p in inside.iter().chain(&boundary) {
        prop_assert!(ha.contains(*p), "{:?} is outside the hull", p);
        prop_assert!(in_rects(&ha, *p), "{:?} is outside the hull's rects", p);
    }
    Ok(())
}

/// A sub-metre polygon whose hull, though the planar oracle's, was judged not convex: the triple product of
/// unit vertices loses the turn of a 0.7 m polygon in rounding, so convexity must be tested on edge differences.
#[test]
fn the_hull_of_a_sub_metre_polygon_is_convex() {
    let a = ShapeSpec::Polygon(vec![
        (-0.5010479396864913, -0.044067435518760606),
        (-0.15968418260936892, -0.25397039556684103),
        (0.19083814044041625, -0.23147527762861403),
        (0.29694690668454476, 0.042691153773121084),
        (0.350101959507713, 0.7508792422286729),
        (-0.17144553447523775, 0.26436497362263256),
    ]);
    let b = ShapeSpec::Polygon(vec![
        (-96.84600689435356, -140.070091334681),
        (92.36238670179908, -127.17890942620993),
        (142.28319247619294, 179.8320961029852),
        (-153.2858704502494, 78.62343330944685),
    ]);
    let center = LatLng::new(16.595424120284136, -122.61017228468101);
    check_hulls(center, &a, &b, 1.7880801051412554, &Gap::Overlap(0.7355997731413076), 4297150905865646882)
        .unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn intersection_matches_the_oracles(
        center in region(),
        a in shape(),
        b in shape(),
        direction in 0.0..TAU,
        gap in gap(),
        seed in any::<u64>(),
    ) {
        let (frame, placed_a, placed_b) = place_pair(center, &a, &b, direction, &gap);
        let (oa, ob) = (placed_a.outline(), placed_b.outline());
        let hit = oa.intersects(&ob);
        prop_assert_eq!(hit, ob.intersects(&oa), "not symmetric");
        prop_assert_eq!(hit, reversed(&oa).intersects(&ob), "depends on the winding of a");
        prop_assert_eq!(hit, oa.intersects(&reversed(&ob)), "depends on the winding of b");

        let distance = oracle_distance(&placed_a, &placed_b);
        if distance <= EPSILON_M - BAND_M {
            prop_assert!(hit, "false negative: shapes {} m apart", distance);
        }
        if distance >= EPSILON_M + BAND_M {
            prop_assert!(!hit, "false positive: shapes {} m apart", distance);
        }

        let mut rng = Rng(seed);
        let (inside_a, boundary_a) = placed_a.samples(&frame, &mut rng);
        let (inside_b, boundary_b) = placed_b.samples(&frame, &mut rng);
        for (outline, other, other_outline, points) in [
            (&oa, &placed_b, &ob, inside_a.iter().chain(&boundary_a)),
            (&ob, &placed_a, &oa, inside_b.iter().chain(&boundary_b)),
        ] {
            for &p in points {
                prop_assert!(in_rects(outline, p), "{:?} is outside the bounding rects {:?}", p, outline.bounding_rects());
                prop_assert!(outline.contains(p), "{:?} should be contained", p);
                if other.holds(&frame, p) {
                    prop_assert!(hit, "{:?} is in both shapes, yet they do not intersect", p);
                    prop_assert!(other_outline.contains(p));
                }
            }
        }
        if !hit {
            let closest = boundary_a
                .iter()
                .flat_map(|&p| boundary_b.iter().map(move |&q| haversine_m(p, q)))
                .fold(f64::INFINITY, f64::min);
            prop_assert!(closest > EPSILON_M - BAND_M, "boundaries come within {} m, yet no intersection", closest);
        }
    }

    /// The convex hull, on which relevance rests: it is the planar hull of the vertices in the gnomonic plane,
    /// holds every point of its shape, and so two shapes that intersect always have hulls that intersect.
    #[test]
    fn convex_hulls_match_the_planar_oracle_and_hold_their_shapes(
        center in region(),
        a in shape(),
        b in shape(),
        direction in 0.0..TAU,
        gap in gap(),
        seed in any::<u64>(),
    ) {
        check_hulls(center, &a, &b, direction, &gap, seed)?;
    }

    #[test]
    fn large_triangles_contain_their_points_and_have_girards_area(
        center in region(),
        corners in prop::collection::vec((0.0..TAU, 50_000.0..3_000_000.0f64), 3),
        weights in prop::collection::vec((0.0..1.0f64, 0.0..1.0f64, 0.0..1.0f64), 32),
    ) {
        // Corners by bearing and distance from the centre, sorted by bearing so the triangle is simple.
        let mut corners = corners;
        corners.sort_by(|x, y| x.0.total_cmp(&y.0));
        let c = unit(center);
        let frame = Frame::at(c);
        let points: Vec<P3> = corners
            .iter()
            .map(|&(bearing, d)| {
                let dir = add(scale(frame.e, bearing.sin()), scale(frame.n, bearing.cos()));
                add(scale(c, (d / R).cos()), scale(dir, (d / R).sin()))
            })
            .collect();
        let vertices: Vec<LatLng> = points.iter().map(|&p| latlng(p)).collect();
        let polygon = Polygon::new(vertices.clone());
        // Nearly collinear corners are legitimately refused.
        prop_assume!(polygon.is_ok());
        let polygon = polygon.unwrap();
        let points: Vec<P3> = vertices.iter().map(|&v| unit(v)).collect();
        let outline = Outline::Polygon(polygon.clone());

        let angle_at = |k: usize| {
            let (p, q, r) = (points[k], points[(k + 1) % 3], points[(k + 2) % 3]);
            let tq = add(q, scale(p, -dot(p, q)));
            let tr = add(r, scale(p, -dot(p, r)));
            cross(tq, tr).iter().map(|v| v * v).sum::<f64>().sqrt().atan2(dot(tq, tr))
        };
        let excess = angle_at(0) + angle_at(1) + angle_at(2) - PI;
        let girard = excess * R * R;
        prop_assert!((polygon.area_m2() - girard).abs() <= girard * 1e-7, "{} vs {}", polygon.area_m2(), girard);

        for &(u, v, w) in &weights {
            let inside = latlng(normalize(add(scale(points[0], u), add(scale(points[1], v), scale(points[2], w)))));
            prop_assert!(polygon.contains(inside), "{:?} is inside", inside);
            prop_assert!(in_rects(&outline, inside), "{:?} is outside the bounding rects", inside);
        }
        for k in 0..3 {
            for step in 0..=64 {
                let t = step as f64 / 64.0;
                let on_edge = latlng(normalize(add(scale(points[k], 1.0 - t), scale(points[(k + 1) % 3], t))));
                prop_assert!(in_rects(&outline, on_edge), "{:?} on edge {} is outside the bounding rects", on_edge, k);
            }
        }
        let away = latlng(scale(c, -1.0));
        prop_assert!(!polygon.contains(away));
    }
}

fn any_coordinate() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>(),
        -180.0..180.0,
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(90.0),
        Just(-90.0),
        Just(180.0),
        Just(-180.0),
        Just(0.0),
    ]
}

fn any_point() -> impl Strategy<Value = LatLng> {
    (any_coordinate(), any_coordinate()).prop_map(|(lat, lng)| LatLng::new(lat, lng))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Whatever the input, construction returns an error or a shape, and every query answers without panicking.
    #[test]
    fn arbitrary_input_never_panics(
        first in prop::collection::vec(any_point(), 0..8),
        second in prop::collection::vec(any_point(), 0..8),
        radius in prop_oneof![any::<f64>(), 0.0..1e7],
        probe in any_point(),
    ) {
        let mut outlines = Vec::new();
        for vertices in [first.clone(), second] {
            if let Ok(polygon) = Polygon::new(vertices) {
                prop_assert!(polygon.area_m2() > 0.0 && polygon.area_m2().is_finite());
                outlines.push(Outline::Polygon(polygon));
            }
        }
        if let Some(&center) = first.first()
            && let Ok(circle) = Circle::new(center, radius)
        {
            outlines.push(Outline::Circle(circle));
        }
        for a in &outlines {
            let _ = a.contains(probe);
            let _ = in_rects(a, LatLng::new(0.0, 0.0));
            for b in &outlines {
                prop_assert_eq!(a.intersects(b), b.intersects(a));
            }
            prop_assert!(a.intersects(a));
        }
        let _ = entente_geo::distance_m(probe, LatLng::new(1.0, 2.0));
    }
}
