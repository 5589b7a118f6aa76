//! Whether any two non-adjacent edges of a ring come within a distance, in O(n log n): the Shamos–Hoey line sweep
//! over the ring seen in the gnomonic projection around its centre, where every edge is a straight segment.
//!
//! Pairs are only ever judged by the caller's exact test on the sphere; the plane only decides which pairs to
//! judge. The sweep keeps the edges that cross its line in their vertical order and judges each pair that becomes
//! adjacent in that order. Were two edges close, then either they are adjacent at some moment, or what lies between
//! them is closer still to one of them, and the innermost such pair is adjacent; so no close pair goes unjudged
//! unless another close one is found first. Two edges that do not overlap in x can still be close when the ring
//! turns back at a vertex (both its edges on one side of it): a short horizontal whisker standing for that vertex
//! extends it, so that what lies just beyond it is judged against the vertex's edges.

use std::cmp::Ordering;
use std::hash::{BuildHasher, RandomState};

use crate::arc::Edge;
use crate::vec3::V3;

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

/// Something the sweep orders: an edge, or a vertex's whisker. `edges` are the ring edges it stands for.
#[derive(Clone, Copy, Debug)]
struct Piece {
    left: P2,
    right: P2,
    edges: [usize; 2],
    count: usize,
}

impl Piece {
    fn edges(&self) -> &[usize] {
        &self.edges[..self.count]
    }

    /// Whether this piece, entering the sweep at its left end, lies below `other`, which the sweep line already
    /// crosses there. Decided at that end, and by the far end when the near end is on `other`'s line (the two
    /// then start together or touch, and the caller judges them); the index only settles exact ties.
    fn enters_below(&self, other: &Piece, self_id: usize, other_id: usize) -> bool {
        let side = orient(other.left, other.right, self.left);
        let side = if side == 0.0 { orient(other.left, other.right, self.right) } else { side };
        if side == 0.0 { self_id < other_id } else { side < 0.0 }
    }
}

/// Finds a pair of non-adjacent edges that `close` judges close, or `None` when there is none. `close(i, j)` is
/// called with `i < j`, never for edges sharing a vertex, and answers `Some(payload)` for a close pair.
pub(super) fn find_close_pair<T>(
    edges: &[Edge],
    center: V3,
    (e1, e2): (V3, V3),
    whisker: impl Fn(V3) -> f64,
    mut close: impl FnMut(usize, usize) -> Option<T>,
) -> Option<(usize, usize, T)> {
    let n = edges.len();
    // An edge shorter than the rule bridges its two neighbours, which need not both cross any sweep line (they may
    // not overlap in x at all): each pair of edges one apart along the ring is judged directly, n pairs in all.
    if n >= 4 {
        for i in 0..if n == 4 { 2 } else { n } {
            let j = (i + 2) % n;
            let (i, j) = (i.min(j), i.max(j));
            if let Some(found) = close(i, j) {
                return Some((i, j, found));
            }
        }
    }
    // Every vertex is strictly within 90 degrees of the centre, so `t` is positive and the projection finite.
    let project = |p: V3| {
        let t = p.dot(center);
        P2 { x: p.dot(e1) / t, y: p.dot(e2) / t }
    };
    let vertices: Vec<P2> = edges.iter().map(|e| project(e.a)).collect();
    let mut pieces: Vec<Piece> = Vec::with_capacity(n + n / 2);
    for i in 0..n {
        let (a, b) = (vertices[i], vertices[(i + 1) % n]);
        let (left, right) = if a.cmp(b) == Ordering::Greater { (b, a) } else { (a, b) };
        pieces.push(Piece { left, right, edges: [i, i], count: 1 });
    }
    for v in 0..n {
        let (before, after) = ((v + n - 1) % n, v);
        let here = vertices[v];
        let (prev, next) = (vertices[(v + n - 1) % n], vertices[(v + 1) % n]);
        let width = whisker(edges[v].a);
        let pair = [before, after];
        match (prev.cmp(here), next.cmp(here)) {
            (Ordering::Less, Ordering::Less) => {
                let right = P2 { x: here.x + width, y: here.y };
                pieces.push(Piece { left: here, right, edges: pair, count: 2 });
            }
            (Ordering::Greater, Ordering::Greater) => {
                let left = P2 { x: here.x - width, y: here.y };
                pieces.push(Piece { left, right: here, edges: pair, count: 2 });
            }
            _ => {}
        }
    }

    // Each piece enters at its left end and leaves at its right end; at one point, leaving comes first.
    let mut events: Vec<(P2, bool, usize)> = Vec::with_capacity(2 * pieces.len());
    for (id, piece) in pieces.iter().enumerate() {
        events.push((piece.left, true, id));
        events.push((piece.right, false, id));
    }
    events.sort_unstable_by(|a, b| a.0.cmp(b.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));

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

    // A whisker stands for its vertex, not for a piece of the ring: an edge may cross it without being close to
    // the vertex's edges, and the whisker then lies on the wrong side of that edge in the order, hiding from it what
    // lies beyond. So a piece is judged against its neighbour and, past whiskers, the pieces beyond them, up to
    // MAX_HOPS whiskers on each side (a bound, so that stacked whiskers cannot make the sweep quadratic).
    let is_whisker = |id: usize| pieces[id].count == 2;
    let side = |order: &Treap, from: Option<usize>, step: fn(&Treap, usize) -> Option<usize>| {
        let mut chain = Vec::with_capacity(MAX_HOPS + 1);
        let mut next = from;
        while let Some(piece) = next {
            chain.push(piece);
            if !is_whisker(piece) || chain.len() > MAX_HOPS {
                break;
            }
            next = step(order, piece);
        }
        chain
    };
    let mut order = Treap::new(pieces.len());
    for (_, enters, id) in events {
        if enters {
            order.insert(id, |a, b| pieces[a].enters_below(&pieces[b], a, b));
            let below = side(&order, order.before(id), Treap::before);
            let above = side(&order, order.after(id), Treap::after);
            for other in below.into_iter().chain(above) {
                if let Some(found) = judge(id, other) {
                    return Some(found);
                }
            }
        } else if let Some((below, above)) = order.remove(id) {
            let below = side(&order, Some(below), Treap::before);
            let above = side(&order, Some(above), Treap::after);
            for &b in &below {
                for &a in &above {
                    if let Some(found) = judge(b, a) {
                        return Some(found);
                    }
                }
            }
        }
    }
    None
}

/// How many whiskers in a row a piece is judged past.
const MAX_HOPS: usize = 3;

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
