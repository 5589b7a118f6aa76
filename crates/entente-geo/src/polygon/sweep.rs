//! Whether any two non-adjacent edges of a ring come within a distance, in O(n log n): a Bentley–Ottmann line sweep
//! over the ring seen in the gnomonic projection around its centre, where every edge is a straight segment.
//!
//! Pairs are only ever judged by the caller's exact test on the sphere; the plane only decides which pairs to judge.
//! The sweep keeps the pieces that cross its line in their vertical order: the edges, and one whisker per vertex,
//! the short great-circle arc through the vertex perpendicular (on the sphere) to the sweep line there, reaching
//! `H` = 17/16 of the rule distance `r` on either side. A whisker stands for its vertex's two edges, so judging it
//! judges them. The sweep judges every two pieces with at most `MAX_HOPS` whiskers between them in the order, when
//! they come to be so (at an insertion, a removal or an exchange), and exchanges two unrelated neighbours (not
//! sharing a vertex) at the point where they cross when the pair is not close.
//!
//! Why no close pair goes unjudged, in exact arithmetic; rounding (nanometres) and the sphere's curvature over a few
//! micrometres are far smaller than the whiskers' 1/16 of margin, and a whisker crossed at about `r` from its vertex
//! is either judged close or exchanged, so the rule's own rounding does no harm. Suppose the sweep stops at no pair.
//! 1. The order is always the true vertical order: two unrelated pieces are neighbours just before they cross, are
//!    judged when they become neighbours, and are exchanged where they cross (Bentley–Ottmann). Hence no two
//!    non-adjacent edges cross, and no edge crosses a whisker within `r` of its vertex: either would be a close pair
//!    (an edge within `r` of a vertex it does not end at is within `r` of one of the vertex's edges not adjacent to
//!    it), judged before the crossing.
//! 2. Still, say some pair is within `r`. Then a vertex is within `r` of an edge it does not end at; take such a
//!    vertex `v` and edge `s` at the least distance `d <= r`, and `q` the nearest point of `s` to `v`. `q` is inside
//!    `s` (vertices are farther than `r` apart, a rule checked before), and no edge crosses the arc `vq` (it would be
//!    nearer `v`, or cross `s`). Say `q` lies right of `v`'s sweep line (mirror otherwise), and let `p` be where `v`'s
//!    whisker meets `q`'s sweep line: as the whisker is perpendicular to the sweep lines, `p` is the point of that
//!    line nearest `v`, so `|vp| <= d <= H` and the whisker reaches it. An edge crossing the segment `pq` enters the
//!    triangle `vpq`, every point of which is within `d` of `v`; it cannot leave through `vq`, nor through the
//!    whisker (1), so it ends inside (a vertex within `r` of `v`, refused before) or is one of `v`'s edges. So on
//!    `q`'s sweep line only whiskers lie between `s` and the nearest of `v`'s pieces (its whisker or an edge), and
//!    each belongs to a vertex lying (along its whisker) within `H` of `pq`: in a box `2H` wide and `d` high, more
//!    than `r` apart from one another, so at most six (a 3 x 2 grid of cells of diameter under `r` covers the box).
//!    With `MAX_HOPS` = 6, that piece of `v` and `s` are judged: a close pair of edges (or one a step apart along
//!    the ring, judged first).
//!
//! So the sweep refuses exactly the rings that testing every pair refuses. Cost: each event judges at most
//! (`MAX_HOPS` + 1)^2 pairs. A whisker and an edge are exchanged only where the edge passes farther than `r` but
//! within `H` of the vertex; on a ring with no close pair, two non-adjacent edges crossing the same outer sixteenth
//! of a whisker would be close, so few edges cross each whisker. Two whiskers cross only when their vertices are
//! within `2H`, a few per vertex. So accepting a ring takes O(n log n); a refused ring stops at the first close pair
//! judged (docs/benchmarks.md times both).

use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, HashSet};
use std::hash::{BuildHasher, RandomState};

use crate::arc::Edge;
use crate::vec3::V3;

/// How far a whisker reaches on either side of its vertex, as a multiple of the rule distance: beyond the rule, so
/// that rounding cannot leave a pair just within it unjudged, and short enough that the box argument above holds.
const WHISKER_REACH: f64 = 17.0 / 16.0;

/// How many whiskers in a row a piece is judged past: the most that can stand between a vertex's whisker and the
/// nearest edge within the rule of it (see the module's documentation).
const MAX_HOPS: usize = 6;

/// A point of the gnomonic projection.
#[derive(Clone, Copy, Debug, PartialEq)]
struct P2 {
    x: f64,
    y: f64,
}

impl P2 {
    /// Sweep order: by x, then by y (a vertical segment is swept from its lower end).
    fn cmp(self, o: P2) -> Ordering {
        self.x.total_cmp(&o.x).then(self.y.total_cmp(&o.y))
    }
}

/// Twice the signed area of (a, b, c): positive when c lies to the left of the line from a to b.
fn orient(a: P2, b: P2, c: P2) -> f64 {
    (b.x - a.x) * (c.y - a.y) - (b.y - a.y) * (c.x - a.x)
}

/// Something the sweep orders: an edge, or a vertex's whisker. `edges` are the ring edges it stands for, `ends` the
/// ring vertices it touches, `left_vertex` the one at its left end (an edge's).
#[derive(Clone, Copy, Debug)]
struct Piece {
    left: P2,
    right: P2,
    edges: [usize; 2],
    count: usize,
    ends: [usize; 2],
    left_vertex: Option<usize>,
}

impl Piece {
    fn edges(&self) -> &[usize] {
        &self.edges[..self.count]
    }

    fn is_whisker(&self) -> bool {
        self.count == 2
    }

    /// Whether the two share a vertex: then they meet only there, and never need exchanging.
    fn related(&self, other: &Piece) -> bool {
        self.ends.iter().any(|v| other.ends.contains(v))
    }

    /// Whether this piece, entering the sweep at its left end, lies below `other`, which the sweep line already
    /// crosses there. Decided at that end, and by the far end when the near end is on `other`'s line (the two
    /// then start together or touch, and the caller judges them) or is a vertex `other` passes through (a whisker
    /// passes through its vertex only within rounding); the index only settles exact ties.
    fn enters_below(&self, other: &Piece, self_id: usize, other_id: usize) -> bool {
        let shared = self.left_vertex.is_some_and(|v| other.ends.contains(&v));
        let side = if shared { 0.0 } else { orient(other.left, other.right, self.left) };
        let side = if side == 0.0 { orient(other.left, other.right, self.right) } else { side };
        if side == 0.0 { self_id < other_id } else { side < 0.0 }
    }

    /// Where this piece and `above`, its neighbour above, cross properly (each strictly changing side of the other),
    /// if they do.
    fn crossing(&self, above: &Piece) -> Option<P2> {
        let (a, b) = (orient(self.left, self.right, above.left), orient(self.left, self.right, above.right));
        let (c, d) =
            (orient(above.left, above.right, self.left), orient(above.left, above.right, self.right));
        if !(a * b < 0.0 && c * d < 0.0) {
            return None;
        }
        let t = c / (c - d);
        Some(P2 {
            x: self.left.x + t * (self.right.x - self.left.x),
            y: self.left.y + t * (self.right.y - self.left.y),
        })
    }
}

/// Two neighbours to exchange where they cross: `lower` lies below `upper` until `at`.
#[derive(Clone, Copy, Debug)]
struct Exchange {
    at: P2,
    lower: usize,
    upper: usize,
}

impl PartialEq for Exchange {
    fn eq(&self, other: &Exchange) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Exchange {}

impl PartialOrd for Exchange {
    fn partial_cmp(&self, other: &Exchange) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Exchange {
    fn cmp(&self, other: &Exchange) -> Ordering {
        self.at.cmp(other.at).then(self.lower.cmp(&other.lower)).then(self.upper.cmp(&other.upper))
    }
}

/// Finds a pair of non-adjacent edges that `close` judges close, or `None` when there is none. `rule` is the
/// distance (radians) `close` judges by. `close(i, j)` is called with `i < j`, never for edges sharing a vertex, and
/// answers `Some(payload)` for a close pair.
pub(super) fn find_close_pair<T>(
    edges: &[Edge],
    center: V3,
    (e1, e2): (V3, V3),
    rule: f64,
    mut close: impl FnMut(usize, usize) -> Option<T>,
) -> Option<(usize, usize, T)> {
    let n = edges.len();
    if n < 4 {
        return None;
    }
    // Judged first, so that the pair reported for a ring refused on several counts does not depend on the sweep.
    for i in 0..if n == 4 { 2 } else { n } {
        let j = (i + 2) % n;
        let (i, j) = (i.min(j), i.max(j));
        if let Some(found) = close(i, j) {
            return Some((i, j, found));
        }
    }
    // Every vertex is strictly within 90 degrees of the centre, so `t` is positive and the projection finite.
    let project = |p: V3| {
        let t = p.dot(center);
        P2 { x: p.dot(e1) / t, y: p.dot(e2) / t }
    };
    let vertices: Vec<P2> = edges.iter().map(|e| project(e.a)).collect();
    let mut pieces: Vec<Piece> = Vec::with_capacity(2 * n);
    for i in 0..n {
        let (a, b) = (vertices[i], vertices[(i + 1) % n]);
        let (left, right, left_vertex) =
            if a.cmp(b) == Ordering::Greater { (b, a, (i + 1) % n) } else { (a, b, i) };
        let ends = [i, (i + 1) % n];
        pieces.push(Piece { left, right, edges: [i, i], count: 1, ends, left_vertex: Some(left_vertex) });
    }
    for (v, &P2 { x, y }) in vertices.iter().enumerate() {
        // With rho^2 = 1 + x^2 + y^2, the sphere's length element here is ((1 + y^2) dx^2 - 2xy dx dy + (1 + x^2)
        // dy^2) / rho^4. The direction (1 + x^2, xy) is perpendicular to the sweep line (0, 1) in it, and a step
        // lambda along it is lambda sqrt(1 + x^2) / rho long on the sphere.
        let lambda = WHISKER_REACH * rule * (1.0 + x * x + y * y).sqrt() / (1.0 + x * x).sqrt();
        let (dx, dy) = (lambda * (1.0 + x * x), lambda * x * y);
        let (left, right) = (P2 { x: x - dx, y: y - dy }, P2 { x: x + dx, y: y + dy });
        pieces.push(Piece {
            left,
            right,
            edges: [(v + n - 1) % n, v],
            count: 2,
            ends: [v, v],
            left_vertex: None,
        });
    }

    // Each piece enters at its left end and leaves at its right end; at one point, leaving comes first, then
    // exchanges, then entering.
    let mut ends: Vec<(P2, bool, usize)> = Vec::with_capacity(2 * pieces.len());
    for (id, piece) in pieces.iter().enumerate() {
        ends.push((piece.left, true, id));
        ends.push((piece.right, false, id));
    }
    ends.sort_unstable_by(|a, b| a.0.cmp(b.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
    let mut exchanges: BinaryHeap<Reverse<Exchange>> = BinaryHeap::new();

    let adjacent = |i: usize, j: usize| i == j || (i + 1) % n == j || (j + 1) % n == i;
    let mut judge = |a: usize, b: usize| -> Option<(usize, usize, T)> {
        for &i in pieces[a].edges() {
            for &j in pieces[b].edges() {
                if !adjacent(i, j) {
                    let (i, j) = (i.min(j), i.max(j));
                    if let Some(found) = close(i, j) {
                        return Some((i, j, found));
                    }
                }
            }
        }
        None
    };
    // The pieces from `from` on, past whiskers, up to MAX_HOPS of them and the piece beyond.
    let side = |order: &Treap, from: Option<usize>, step: fn(&Treap, usize) -> Option<usize>| {
        let mut chain = Vec::with_capacity(MAX_HOPS + 1);
        let mut next = from;
        while let Some(piece) = next {
            chain.push(piece);
            if !pieces[piece].is_whisker() || chain.len() > MAX_HOPS {
                break;
            }
            next = step(order, piece);
        }
        chain
    };
    // Neighbours `lower` and `upper` (just above it) that cross are exchanged where they do, at most once (two
    // segments cross once); a crossing computed a hair behind the sweep, by rounding, is exchanged at once.
    let mut exchanged: HashSet<(usize, usize)> = HashSet::new();
    let schedule = |exchanges: &mut BinaryHeap<Reverse<Exchange>>,
                    exchanged: &HashSet<(usize, usize)>,
                    now: P2,
                    lower: Option<usize>,
                    upper: Option<usize>| {
        let (Some(lower), Some(upper)) = (lower, upper) else { return };
        if pieces[lower].related(&pieces[upper]) || exchanged.contains(&(lower.min(upper), lower.max(upper)))
        {
            return;
        }
        if let Some(at) = pieces[lower].crossing(&pieces[upper]) {
            let at = if at.cmp(now) == Ordering::Less { now } else { at };
            exchanges.push(Reverse(Exchange { at, lower, upper }));
        }
    };

    let mut order = Treap::new(pieces.len());
    let mut next_end = 0;
    loop {
        // Leaving (rank 0) before exchanging (1) before entering (2) at one point.
        let exchange_first = match (ends.get(next_end), exchanges.peek()) {
            (None, None) => break,
            (Some(_), None) => false,
            (None, Some(_)) => true,
            (Some(&(at, enters, _)), Some(Reverse(x))) => {
                x.at.cmp(at).then(1.cmp(&if enters { 2 } else { 0 })) == Ordering::Less
            }
        };
        if exchange_first {
            let Some(Reverse(Exchange { at, lower, upper })) = exchanges.pop() else { break };
            // Stale when they stopped being neighbours since; they are scheduled again if they become so.
            if !order.present[lower] || order.after(lower) != Some(upper) {
                continue;
            }
            exchanged.insert((lower.min(upper), lower.max(upper)));
            order.remove(lower);
            order.insert_after(upper, lower);
            let below = side(&order, order.before(upper), Treap::before);
            let above = side(&order, order.after(lower), Treap::after);
            for (id, chain) in [(upper, below), (lower, above)] {
                for other in chain {
                    if let Some(found) = judge(id, other) {
                        return Some(found);
                    }
                }
            }
            schedule(&mut exchanges, &exchanged, at, order.before(upper), Some(upper));
            schedule(&mut exchanges, &exchanged, at, Some(lower), order.after(lower));
            continue;
        }
        let (at, enters, id) = ends[next_end];
        next_end += 1;
        if enters {
            order.insert(id, |a, b| pieces[a].enters_below(&pieces[b], a, b));
            let below = side(&order, order.before(id), Treap::before);
            let above = side(&order, order.after(id), Treap::after);
            for other in below.into_iter().chain(above) {
                if let Some(found) = judge(id, other) {
                    return Some(found);
                }
            }
            schedule(&mut exchanges, &exchanged, at, order.before(id), Some(id));
            schedule(&mut exchanges, &exchanged, at, Some(id), order.after(id));
        } else if let Some((below, above)) = order.remove(id) {
            let below_side = side(&order, Some(below), Treap::before);
            let above_side = side(&order, Some(above), Treap::after);
            for &b in &below_side {
                for &a in &above_side {
                    if let Some(found) = judge(b, a) {
                        return Some(found);
                    }
                }
            }
            schedule(&mut exchanges, &exchanged, at, Some(below), Some(above));
        }
    }
    None
}

const NIL: usize = usize::MAX;

/// The pieces the sweep line crosses, in vertical order: a treap over piece ids with parent links, so that a piece
/// is removed and its neighbours found without comparing anything. Its priorities are drawn afresh for every ring
/// (std's randomly keyed hasher), so no input can be crafted to unbalance it.
struct Treap {
    left: Vec<usize>,
    right: Vec<usize>,
    parent: Vec<usize>,
    priority: Vec<u64>,
    present: Vec<bool>,
    root: usize,
}

impl Treap {
    fn new(size: usize) -> Treap {
        let keys = RandomState::new();
        Treap {
            left: vec![NIL; size],
            right: vec![NIL; size],
            parent: vec![NIL; size],
            priority: (0..size).map(|i| keys.hash_one(i)).collect(),
            present: vec![false; size],
            root: NIL,
        }
    }

    /// Inserts `id` where `below(id, node)` leads it.
    fn insert(&mut self, id: usize, below: impl Fn(usize, usize) -> bool) {
        let (mut parent, mut node, mut went_left) = (NIL, self.root, false);
        while node != NIL {
            parent = node;
            went_left = below(id, node);
            node = if went_left { self.left[node] } else { self.right[node] };
        }
        self.attach(id, parent, went_left);
    }

    /// Inserts `id` just after `anchor` in the order, comparing nothing.
    fn insert_after(&mut self, anchor: usize, id: usize) {
        let mut node = self.right[anchor];
        if node == NIL {
            self.attach(id, anchor, false);
            return;
        }
        while self.left[node] != NIL {
            node = self.left[node];
        }
        self.attach(id, node, true);
    }

    /// Hangs `id` as a leaf under `parent` (on its left when `went_left`), then restores the heap order.
    fn attach(&mut self, id: usize, parent: usize, went_left: bool) {
        self.parent[id] = parent;
        if parent == NIL {
            self.root = id;
        } else if went_left {
            self.left[parent] = id;
        } else {
            self.right[parent] = id;
        }
        self.present[id] = true;
        while self.parent[id] != NIL && self.priority[id] > self.priority[self.parent[id]] {
            self.rotate_up(id);
        }
    }

    /// Removes `id`, answering the neighbours that become adjacent, if it had one on each side.
    fn remove(&mut self, id: usize) -> Option<(usize, usize)> {
        if !self.present[id] {
            return None;
        }
        let neighbours = self.before(id).zip(self.after(id));
        loop {
            let child = match (self.left[id], self.right[id]) {
                (NIL, NIL) => break,
                (NIL, r) => r,
                (l, NIL) => l,
                (l, r) => {
                    if self.priority[l] > self.priority[r] {
                        l
                    } else {
                        r
                    }
                }
            };
            self.rotate_up(child);
        }
        let parent = self.parent[id];
        if parent == NIL {
            self.root = NIL;
        } else if self.left[parent] == id {
            self.left[parent] = NIL;
        } else {
            self.right[parent] = NIL;
        }
        self.parent[id] = NIL;
        self.present[id] = false;
        neighbours
    }

    /// Lifts `x` above its parent, keeping the in-order sequence.
    fn rotate_up(&mut self, x: usize) {
        let p = self.parent[x];
        let g = self.parent[p];
        if self.left[p] == x {
            let moved = self.right[x];
            self.left[p] = moved;
            if moved != NIL {
                self.parent[moved] = p;
            }
            self.right[x] = p;
        } else {
            let moved = self.left[x];
            self.right[p] = moved;
            if moved != NIL {
                self.parent[moved] = p;
            }
            self.left[x] = p;
        }
        self.parent[p] = x;
        self.parent[x] = g;
        if g == NIL {
            self.root = x;
        } else if self.left[g] == p {
            self.left[g] = x;
        } else {
            self.right[g] = x;
        }
    }

    /// The piece just below `id`.
    fn before(&self, id: usize) -> Option<usize> {
        self.neighbour(id, &self.left, &self.right)
    }

    /// The piece just above `id`.
    fn after(&self, id: usize) -> Option<usize> {
        self.neighbour(id, &self.right, &self.left)
    }

    /// In-order neighbour on the `toward` side: the extreme `away` node of that subtree, or else the nearest
    /// ancestor reached from its `away` side.
    fn neighbour(&self, id: usize, toward: &[usize], away: &[usize]) -> Option<usize> {
        let mut node = toward[id];
        if node != NIL {
            while away[node] != NIL {
                node = away[node];
            }
            return Some(node);
        }
        let mut child = id;
        node = self.parent[id];
        while node != NIL && toward[node] == child {
            child = node;
            node = self.parent[node];
        }
        (node != NIL).then_some(node)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Random insertions and removals keep the treap's in-order sequence that of a sorted list, and neighbours
    /// match the list's.
    #[test]
    fn treap_keeps_order_and_neighbours() {
        let keys: Vec<u64> = (0..500u64).map(|i| (i * 7919) % 1009).collect();
        let mut treap = Treap::new(keys.len());
        let mut list: Vec<usize> = Vec::new();
        let mut s = 12345u64;
        for step in 0..3000 {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let id = (s >> 33) as usize % keys.len();
            if list.contains(&id) {
                let at = list.iter().position(|&x| x == id).unwrap();
                let expected = (at > 0 && at + 1 < list.len()).then(|| (list[at - 1], list[at + 1]));
                assert_eq!(treap.remove(id), expected, "step {step}");
                list.remove(at);
            } else {
                treap.insert(id, |a, b| (keys[a], a) < (keys[b], b));
                let at = list.partition_point(|&x| (keys[x], x) < (keys[id], id));
                list.insert(at, id);
                assert_eq!(treap.before(id), at.checked_sub(1).map(|k| list[k]), "step {step}");
                assert_eq!(treap.after(id), list.get(at + 1).copied(), "step {step}");
            }
        }
        assert_eq!(treap.remove(list[0]), None, "the lowest has nothing below");
    }
}
