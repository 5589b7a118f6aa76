//! Cells of the S2 cube projection at one level, for the coarse "covers" that F3548 DSSs use between a
//! subscription and an operational intent: InterUSS decides it by level-13 cells (about 1 km across), and a DSS
//! stricter than that refuses flights every other DSS accepts.
//!
//! The sphere is projected onto the six faces of a cube; each face is cut into a grid of cells, finer towards
//! the face centre by S2's quadratic spacing. Cell edges are great-circle arcs, so a cell is an ordinary
//! [`Polygon`] and meets other shapes by the exact test every other decision uses.

use std::collections::{HashSet, VecDeque};

use crate::latlng::LatLng;
use crate::outline::Outline;
use crate::polygon::Polygon;
use crate::vec3::V3;

/// The S2 level at which coverage is decided, as InterUSS's DSS covers areas.
pub const COVER_CELL_LEVEL: u32 = 13;

/// Cells along one side of a cube face at [`COVER_CELL_LEVEL`].
const CELLS_PER_SIDE: i64 = 1 << COVER_CELL_LEVEL;

/// One cell: a cube face (0..6, S2's numbering) and its column and row on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Cell {
    face: u8,
    i: i64,
    j: i64,
}

impl Cell {
    /// The cell holding `p` (a unit vector); a point on a cell border belongs to one of its cells.
    pub(crate) fn of(p: V3) -> Cell {
        let (face, u, v) = face_uv(p);
        let index =
            |uv: f64| ((st_from_uv(uv) * CELLS_PER_SIDE as f64).floor() as i64).clamp(0, CELLS_PER_SIDE - 1);
        Cell { face, i: index(u), j: index(v) }
    }

    /// The cell as a polygon; `None` only if rounding made it invalid, which a caller must treat as unknown.
    pub(crate) fn outline(self) -> Option<Outline> {
        let corner = |di: i64, dj: i64| {
            let p =
                face_uv_to_xyz(self.face, uv_from_st(self.st(self.i + di)), uv_from_st(self.st(self.j + dj)));
            LatLng::new(p.z.atan2(p.x.hypot(p.y)).to_degrees(), p.y.atan2(p.x).to_degrees())
        };
        Polygon::new(vec![corner(0, 0), corner(1, 0), corner(1, 1), corner(0, 1)]).ok().map(Outline::Polygon)
    }

    fn st(self, k: i64) -> f64 {
        k as f64 / CELLS_PER_SIDE as f64
    }

    /// The eight cells around this one. Past a face's edge, the centre of the would-be cell is projected
    /// through the extended face plane onto the sphere and lands in the neighbouring face's cell.
    fn neighbours(self) -> impl Iterator<Item = Cell> {
        let inside = 0..CELLS_PER_SIDE;
        [(-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1)].into_iter().filter_map(
            move |(di, dj)| {
                let (i, j) = (self.i + di, self.j + dj);
                if inside.contains(&i) && inside.contains(&j) {
                    return Some(Cell { face: self.face, i, j });
                }
                let centre = |k: i64| uv_from_st((k as f64 + 0.5) / CELLS_PER_SIDE as f64);
                let p = face_uv_to_xyz(self.face, centre(i), centre(j));
                let n = Cell::of(p);
                (n != self).then_some(n)
            },
        )
    }
}

/// The level-[`COVER_CELL_LEVEL`] cell holding `p`, as a polygon (`None` for invalid coordinates).
pub fn cover_cell_at(p: LatLng) -> Option<Outline> {
    p.is_valid().then(|| Cell::of(V3::from_degrees(p.lat, p.lng)).outline()).flatten()
}

/// Whether every cell that `inner` meets also meets one of `outer`: the area rule InterUSS applies between a
/// subscription (`outer`) and an operational intent (`inner`). `inner` may stick out of `outer` by up to a
/// cell's width (level 13: about 1 to 1.9 km) as long as it stays in cells `outer` reaches. A cell that cannot be
/// built counts as not covered, so doubt refuses.
///
/// Each cell costs exact tests against every vertex of both sides, so the work is bounded by
/// [`COVER_WORK_BUDGET`]: past it the answer is "not covered" (doubt refuses again), which keeps a crafted
/// request to milliseconds. Within the budget fit, for instance, an intent of a few hundred vertices over tens
/// of cells, or a 4-vertex one over thousands.
pub fn cells_cover(outer: &[&Outline], inner: &Outline) -> bool {
    let vertices = |o: &Outline| match o {
        Outline::Polygon(p) => p.vertices().len(),
        Outline::Circle(_) => 1,
    };
    let per_cell = vertices(inner) + outer.iter().map(|o| vertices(o)).sum::<usize>() + 4;
    let mut budget = COVER_WORK_BUDGET;
    let seed = match inner {
        Outline::Polygon(p) => p.vertices()[0],
        Outline::Circle(c) => c.center(),
    };
    let seed = Cell::of(V3::from_degrees(seed.lat, seed.lng));
    let mut seen = HashSet::from([seed]);
    let mut queue = VecDeque::from([seed]);
    while let Some(cell) = queue.pop_front() {
        let Some(rest) = budget.checked_sub(per_cell) else { return false };
        budget = rest;
        let Some(shape) = cell.outline() else { return false };
        if !inner.intersects(&shape) {
            continue;
        }
        if !outer.iter().any(|o| o.intersects(&shape)) {
            return false;
        }
        queue.extend(cell.neighbours().filter(|n| seen.insert(*n)));
    }
    true
}

/// The most vertex-against-cell tests one [`cells_cover`] may make (cells visited times the vertices of both
/// sides); measured at about 30 ms in a release build on a 2-core machine.
pub const COVER_WORK_BUDGET: usize = 100_000;

/// The cube face of `p` (the axis of its largest coordinate, 3..6 for negative ones) and its (u, v) on it.
fn face_uv(p: V3) -> (u8, f64, f64) {
    let (ax, ay, az) = (p.x.abs(), p.y.abs(), p.z.abs());
    let (axis, value) = if ax >= ay && ax >= az {
        (0, p.x)
    } else if ay >= az {
        (1, p.y)
    } else {
        (2, p.z)
    };
    let face = if value < 0.0 { axis + 3 } else { axis };
    let (u, v) = match face {
        0 => (p.y / p.x, p.z / p.x),
        1 => (-p.x / p.y, p.z / p.y),
        2 => (-p.x / p.z, -p.y / p.z),
        3 => (p.z / p.x, p.y / p.x),
        4 => (p.z / p.y, -p.x / p.y),
        _ => (-p.y / p.z, -p.x / p.z),
    };
    (face, u, v)
}

/// The unit vector of (u, v) on `face`; (u, v) past ±1 lie on the extended face plane.
fn face_uv_to_xyz(face: u8, u: f64, v: f64) -> V3 {
    let p = match face {
        0 => V3::new(1.0, u, v),
        1 => V3::new(-u, 1.0, v),
        2 => V3::new(-u, -v, 1.0),
        3 => V3::new(-1.0, -v, -u),
        4 => V3::new(v, -1.0, -u),
        _ => V3::new(v, u, -1.0),
    };
    p * (1.0 / p.norm())
}

/// S2's quadratic spacing: cells are nearly equal in area across a face.
fn st_from_uv(u: f64) -> f64 {
    if u >= 0.0 { 0.5 * (1.0 + 3.0 * u).sqrt() } else { 1.0 - 0.5 * (1.0 - 3.0 * u).sqrt() }
}

fn uv_from_st(s: f64) -> f64 {
    if s >= 0.5 { (4.0 * s * s - 1.0) / 3.0 } else { (1.0 - 4.0 * (1.0 - s) * (1.0 - s)) / 3.0 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Circle;

    fn square(lat: f64, lng: f64, half_deg: f64) -> Outline {
        let v = |dlat: f64, dlng: f64| LatLng::new(lat + dlat, lng + dlng);
        let h = half_deg;
        Outline::Polygon(Polygon::new(vec![v(-h, -h), v(-h, h), v(h, h), v(h, -h)]).unwrap())
    }

    /// Face, column and row of the level-13 cells holding these points, and the corners of the first, as the
    /// S2 library numbers and places them.
    #[test]
    fn cells_are_s2_cells() {
        let expected = [
            ((34.0, -118.0), (4, 760, 1593)),
            ((47.0, 8.0), (2, 238, 3364)),
            ((-33.9, 151.2), (3, 7441, 1525)),
            ((0.0001, 44.9999), (0, 8191, 4096)),
            ((89.9, 0.0), (2, 4085, 4096)),
            ((-45.0, -100.0), (5, 46, 3140)),
        ];
        for ((lat, lng), (face, i, j)) in expected {
            assert_eq!(Cell::of(V3::from_degrees(lat, lng)), Cell { face, i, j }, "({lat}, {lng})");
        }
        let Some(Outline::Polygon(p)) = Cell::of(V3::from_degrees(34.0, -118.0)).outline() else {
            panic!("a cell is a polygon")
        };
        let corners = [
            (33.993313312, -118.006897867),
            (33.996200103, -117.995186216),
            (34.006467895, -117.995186216),
            (34.003580686, -118.006897867),
        ];
        for (lat, lng) in corners {
            let near = |v: &LatLng| (v.lat - lat).abs() < 1e-8 && (v.lng - lng).abs() < 1e-8;
            assert!(p.vertices().iter().any(near), "no corner at ({lat}, {lng}): {:?}", p.vertices());
        }
    }

    #[test]
    fn projection_round_trips_on_every_face() {
        for (lat, lng) in
            [(0.0, 0.0), (0.0, 90.0), (89.0, 10.0), (0.0, 180.0), (0.0, -90.0), (-89.0, 3.0), (34.0, -118.0)]
        {
            let p = V3::from_degrees(lat, lng);
            let (face, u, v) = face_uv(p);
            assert!(u.abs() <= 1.0 && v.abs() <= 1.0);
            let back = face_uv_to_xyz(face, uv_from_st(st_from_uv(u)), uv_from_st(st_from_uv(v)));
            assert!(back.angle_to(p) < 1e-12, "({lat}, {lng})");
        }
    }

    #[test]
    fn a_cell_holds_its_point_and_is_about_a_square_kilometre() {
        for (lat, lng) in [(34.0, -118.0), (47.0, 8.0), (-33.9, 151.2), (0.0, 0.0), (45.0, 45.0), (89.9, 0.0)]
        {
            let cell = Cell::of(V3::from_degrees(lat, lng));
            let shape = cell.outline().unwrap();
            assert!(shape.contains(LatLng::new(lat, lng)), "({lat}, {lng})");
            // Level 13 cells range from about 0.6 to 1.6 km².
            let km2 = shape.area_m2() / 1e6;
            assert!((0.5..1.7).contains(&km2), "({lat}, {lng}): {km2} km²");
            for n in cell.neighbours() {
                assert!(
                    n.outline().unwrap().intersects(&shape),
                    "neighbour {n:?} of {cell:?} does not touch it"
                );
            }
        }
    }

    #[test]
    fn neighbours_across_a_face_edge_touch() {
        // Longitude 45 is the border between faces 0 and 1 on the equator.
        let cell = Cell::of(V3::from_degrees(0.0001, 44.9999));
        let shape = cell.outline().unwrap();
        let across: Vec<Cell> = cell.neighbours().filter(|n| n.face != cell.face).collect();
        assert!(!across.is_empty());
        assert!(across.iter().all(|n| n.outline().unwrap().intersects(&shape)));
    }

    #[test]
    fn sticking_out_within_the_cells_is_covered_and_beyond_them_is_not() {
        // A 2 m square subscription; an intent 0.5 m wider on every side stays in the same cell(s).
        let sub = square(34.0, -118.0, 0.00001);
        let wider = square(34.0, -118.0, 0.0000145);
        assert!(!sub.contains_outline(&wider));
        assert!(cells_cover(&[&sub], &wider));
        // Three kilometres away is in other cells.
        assert!(!cells_cover(&[&sub], &square(34.03, -118.0, 0.00001)));
        // A circle and a polygon are covered by cells alike.
        let circle = Outline::Circle(Circle::new(LatLng::new(34.0, -118.0), 3.0).unwrap());
        assert!(cells_cover(&[&sub], &circle));
        assert!(!cells_cover(&[&sub], &square(34.0, -118.0, 0.02)));
    }

    /// A ring of `n` vertices around (46, 8), `r_deg` of latitude across.
    fn ring(r_deg: f64, n: usize) -> Outline {
        let v = (0..n)
            .map(|i| {
                let a = i as f64 / n as f64 * std::f64::consts::TAU;
                LatLng::new(46.0 + r_deg * a.sin(), 8.0 + r_deg * a.cos() / 0.69)
            })
            .collect();
        Outline::Polygon(Polygon::new(v).unwrap())
    }

    #[test]
    fn the_cell_walk_stops_at_its_budget_and_refuses() {
        // The same 20 km area, covered cell for cell: with 8 vertices a side the walk fits the budget; with 2000
        // it would cost hundreds of cells times 4000 vertices (seconds in a release build), so it stops and
        // refuses.
        for (n, covered) in [(8, true), (2000, false)] {
            let (intent, subscription) = (ring(0.1, n), ring(0.105, n));
            assert_eq!(cells_cover(&[&subscription], &intent), covered, "{n} vertices");
        }
    }
}
