//! Broad phase: finds the pairs of boxes that overlap without testing every pair, so that validating and
//! intersecting polygons with thousands of edges stays close to linear instead of quadratic.

use std::ops::ControlFlow;

use crate::vec3::V3;

/// Rounding slack added to every box: unit vectors carry errors of a few ulps, and a box must never be a hair too
/// small, or a touching pair could be skipped.
pub(crate) const BOX_SLACK: f64 = 1e-14;

/// Axis-aligned box in the 3D space the unit sphere lives in.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Aabb {
    lo: [f64; 3],
    hi: [f64; 3],
}

impl Aabb {
    pub(crate) fn spanning(a: V3, b: V3) -> Aabb {
        let (a, b) = (a.coords(), b.coords());
        Aabb { lo: [0, 1, 2].map(|k| a[k].min(b[k])), hi: [0, 1, 2].map(|k| a[k].max(b[k])) }
    }

    pub(crate) fn padded(self, pad: f64) -> Aabb {
        Aabb { lo: self.lo.map(|v| v - pad), hi: self.hi.map(|v| v + pad) }
    }

    fn overlaps(&self, o: &Aabb) -> bool {
        (0..3).all(|k| self.lo[k] <= o.hi[k] && o.lo[k] <= self.hi[k])
    }

    /// True when `p` is farther than `pad` (in chord length, hence also in angle) from everything in the box, which
    /// lets callers skip the exact distance computation.
    pub(crate) fn is_far_from(&self, p: V3, pad: f64) -> bool {
        let p = p.coords();
        (0..3).any(|k| p[k] < self.lo[k] - pad || p[k] > self.hi[k] + pad)
    }

    fn union(self, o: Aabb) -> Aabb {
        Aabb {
            lo: [0, 1, 2].map(|k| self.lo[k].min(o.lo[k])),
            hi: [0, 1, 2].map(|k| self.hi[k].max(o.hi[k])),
        }
    }

    fn intersection(self, o: Aabb) -> Option<Aabb> {
        let lo = [0, 1, 2].map(|k| self.lo[k].max(o.lo[k]));
        let hi = [0, 1, 2].map(|k| self.hi[k].min(o.hi[k]));
        (0..3).all(|k| lo[k] <= hi[k]).then_some(Aabb { lo, hi })
    }
}

fn hull(boxes: &[Aabb]) -> Option<Aabb> {
    boxes.iter().copied().reduce(Aabb::union)
}

/// A box taking part in the search, with the cell range it covers.
struct Item {
    from_right: bool,
    index: usize,
    bx: Aabb,
    cells_lo: [u64; 3],
    cells_hi: [u64; 3],
}

/// Cell coordinates are packed into one key, 21 bits per axis.
const AXIS_BITS: u32 = 21;
const AXIS_CELLS: f64 = (1u64 << AXIS_BITS) as f64;

/// Calls `visit(i, j)` once for every pair of boxes that overlap after each is padded by `pad`, stopping early when
/// `visit` breaks. Without `right`, pairs are `i < j` within `left`; with it, `i` indexes `left` and `j` `right`.
pub(crate) fn overlapping_pairs<B>(
    left: &[Aabb],
    right: Option<&[Aabb]>,
    pad: f64,
    mut visit: impl FnMut(usize, usize) -> ControlFlow<B>,
) -> ControlFlow<B> {
    let left: Vec<Aabb> = left.iter().map(|b| b.padded(pad)).collect();
    let cross = right.is_some();
    let right: Vec<Aabb> = right.unwrap_or_default().iter().map(|b| b.padded(pad)).collect();
    let pairs = if cross { left.len() * right.len() } else { left.len() * left.len() / 2 };
    if pairs <= BRUTE_FORCE_PAIRS {
        return every_pair(&left, cross.then_some(right.as_slice()), visit);
    }
    let Some(mut region) = hull(&left) else { return ControlFlow::Continue(()) };
    if cross {
        // Only the part of space both sides occupy can hold a pair, so the grid covers just that.
        let Some(shared) = hull(&right).and_then(|r| region.intersection(r)) else {
            return ControlFlow::Continue(());
        };
        region = shared;
    }
    let mut items: Vec<Item> = left
        .iter()
        .enumerate()
        .map(|(i, bx)| (false, i, bx))
        .chain(right.iter().enumerate().map(|(i, bx)| (true, i, bx)))
        .filter(|(_, _, bx)| bx.overlaps(&region))
        .map(|(from_right, index, bx)| Item {
            from_right,
            index,
            bx: *bx,
            cells_lo: [0; 3],
            cells_hi: [0; 3],
        })
        .collect();
    if items.len() < 2 {
        return ControlFlow::Continue(());
    }

    // (cell key, item) for every cell an item covers, sorted so that each cell's items are contiguous and, within a
    // cell, left items come before right ones.
    let mut entries = Grid::fit(region, &mut items);
    entries.sort_unstable();
    for group in entries.chunk_by(|a, b| a.0 == b.0) {
        for (k, &(cell, p)) in group.iter().enumerate() {
            for &(_, q) in &group[k + 1..] {
                let (a, b) = (&items[p], &items[q]);
                if a.from_right == b.from_right && cross {
                    continue;
                }
                // A pair shares many cells; handling it only in the first one they share (per axis, the larger of
                // their lowest cells) reports it exactly once without a hash set.
                if Grid::key([0, 1, 2].map(|k| a.cells_lo[k].max(b.cells_lo[k]))) != cell
                    || !a.bx.overlaps(&b.bx)
                {
                    continue;
                }
                let (i, j) =
                    if cross { (a.index, b.index) } else { (a.index.min(b.index), a.index.max(b.index)) };
                visit(i, j)?;
            }
        }
    }
    ControlFlow::Continue(())
}

/// Below this many candidate pairs (polygons of a handful of vertices, the common case), testing every pair
/// costs less than building a grid.
const BRUTE_FORCE_PAIRS: usize = 64;

fn every_pair<B>(
    left: &[Aabb],
    right: Option<&[Aabb]>,
    mut visit: impl FnMut(usize, usize) -> ControlFlow<B>,
) -> ControlFlow<B> {
    for (i, a) in left.iter().enumerate() {
        match right {
            Some(right) => {
                for (j, b) in right.iter().enumerate() {
                    if a.overlaps(b) {
                        visit(i, j)?;
                    }
                }
            }
            None => {
                for (j, b) in left.iter().enumerate().skip(i + 1) {
                    if a.overlaps(b) {
                        visit(i, j)?;
                    }
                }
            }
        }
    }
    ControlFlow::Continue(())
}

struct Grid {
    origin: [f64; 3],
    cell: f64,
}

impl Grid {
    /// Chooses the cell size, fills in every item's cell range and returns the (cell, item) entries. Cells about
    /// the size of a typical box keep both the number of cells per box and the number of boxes per cell small;
    /// the size is coarsened while long boxes would be registered in too many cells.
    fn fit(region: Aabb, items: &mut [Item]) -> Vec<(u64, usize)> {
        let mut sizes: Vec<f64> =
            items.iter().map(|it| (0..3).map(|k| it.bx.hi[k] - it.bx.lo[k]).fold(0.0, f64::max)).collect();
        let middle = sizes.len() / 2;
        let typical = *sizes.select_nth_unstable_by(middle, f64::total_cmp).1;
        let span = (0..3).map(|k| region.hi[k] - region.lo[k]).fold(0.0, f64::max);
        // Cell coordinates must fit their bits.
        let finest = span / (AXIS_CELLS - 2.0);
        let mut cell = typical.max(finest);
        if !(cell > 0.0 && cell.is_finite()) {
            cell = 1.0;
        }
        let budget = 16 * items.len() + 1024;
        loop {
            let grid = Grid { origin: region.lo, cell };
            let mut total = 0usize;
            for item in items.iter_mut() {
                item.cells_lo = [0, 1, 2].map(|k| grid.cell_of(item.bx.lo[k], k));
                item.cells_hi = [0, 1, 2].map(|k| grid.cell_of(item.bx.hi[k], k));
                total = total.saturating_add(
                    (0..3).map(|k| (item.cells_hi[k] - item.cells_lo[k] + 1) as usize).product(),
                );
            }
            // Once every box fits in a couple of cells per axis the budget is met, so this terminates.
            if total <= budget {
                let mut entries = Vec::with_capacity(total);
                for (id, item) in items.iter().enumerate() {
                    for z in item.cells_lo[2]..=item.cells_hi[2] {
                        for y in item.cells_lo[1]..=item.cells_hi[1] {
                            for x in item.cells_lo[0]..=item.cells_hi[0] {
                                entries.push((Grid::key([x, y, z]), id));
                            }
                        }
                    }
                }
                return entries;
            }
            cell *= 2.0;
        }
    }

    fn cell_of(&self, v: f64, axis: usize) -> u64 {
        // `as u64` saturates (NaN becomes 0) and the clamp keeps boxes poking out of the region within the bits.
        ((v - self.origin[axis]) / self.cell).floor().clamp(0.0, AXIS_CELLS - 1.0) as u64
    }

    fn key(cell: [u64; 3]) -> u64 {
        (cell[2] << (2 * AXIS_BITS)) | (cell[1] << AXIS_BITS) | cell[0]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bx(lo: [f64; 3], hi: [f64; 3]) -> Aabb {
        Aabb { lo, hi }
    }

    fn collect(left: &[Aabb], right: Option<&[Aabb]>, pad: f64) -> Vec<(usize, usize)> {
        let mut pairs = Vec::new();
        let _ = overlapping_pairs::<()>(left, right, pad, |i, j| {
            pairs.push((i, j));
            ControlFlow::Continue(())
        });
        pairs.sort_unstable();
        pairs
    }

    fn brute(left: &[Aabb], right: Option<&[Aabb]>, pad: f64) -> Vec<(usize, usize)> {
        let mut pairs = Vec::new();
        match right {
            None => {
                for i in 0..left.len() {
                    for j in i + 1..left.len() {
                        if left[i].padded(pad).overlaps(&left[j].padded(pad)) {
                            pairs.push((i, j));
                        }
                    }
                }
            }
            Some(right) => {
                for (i, a) in left.iter().enumerate() {
                    for (j, b) in right.iter().enumerate() {
                        if a.padded(pad).overlaps(&b.padded(pad)) {
                            pairs.push((i, j));
                        }
                    }
                }
            }
        }
        pairs
    }

    /// Deterministic pseudo-random boxes of mixed sizes, including long thin ones that span many cells.
    fn boxes(seed: u64, n: usize) -> Vec<Aabb> {
        let mut s = seed;
        let mut next = move || {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (s >> 11) as f64 / (1u64 << 53) as f64
        };
        (0..n)
            .map(|_| {
                let lo = [next(), next(), next() * 0.01];
                let long = next() < 0.1;
                let size = [0, 1, 2].map(|_| if long { next() * 0.8 } else { next() * 0.02 });
                bx(lo, [0, 1, 2].map(|k| lo[k] + size[k]))
            })
            .collect()
    }

    #[test]
    fn self_pairs_match_brute_force() {
        for seed in 0..5 {
            let b = boxes(seed, 300);
            assert_eq!(collect(&b, None, 0.001), brute(&b, None, 0.001));
        }
    }

    #[test]
    fn cross_pairs_match_brute_force() {
        for seed in 0..5 {
            let a = boxes(seed, 200);
            let b = boxes(seed + 100, 150);
            assert_eq!(collect(&a, Some(&b), 0.0), brute(&a, Some(&b), 0.0));
            assert_eq!(collect(&b, Some(&a), 0.0005), brute(&b, Some(&a), 0.0005));
        }
    }

    /// Both sides of the size threshold, so the small-input shortcut and the grid agree.
    #[test]
    fn every_size_matches_brute_force() {
        for n in [0, 1, 2, 5, 11, 12, 13, 40] {
            let a = boxes(n as u64, n);
            let b = boxes(n as u64 + 7, n / 2 + 1);
            assert_eq!(collect(&a, None, 0.001), brute(&a, None, 0.001), "self pairs of {n}");
            assert_eq!(collect(&a, Some(&b), 0.001), brute(&a, Some(&b), 0.001), "cross pairs of {n}");
        }
    }

    #[test]
    fn touching_boxes_pair_and_padding_bridges_gaps() {
        let a = [bx([0.0; 3], [1.0; 3])];
        let b = [bx([1.0, 0.0, 0.0], [2.0, 1.0, 1.0]), bx([1.5, 0.0, 0.0], [2.0, 1.0, 1.0])];
        assert_eq!(collect(&a, Some(&b), 0.0), vec![(0, 0)]);
        assert_eq!(collect(&a, Some(&b), 0.25), vec![(0, 0), (0, 1)]);
        assert_eq!(collect(&a, Some(&[]), 1.0), vec![]);
    }

    #[test]
    fn early_exit_and_degenerate_input() {
        let same = vec![bx([0.5; 3], [0.5; 3]); 10];
        assert_eq!(collect(&same, None, 0.0).len(), 45);
        let flow = overlapping_pairs(&same, None, 0.0, |i, j| ControlFlow::Break((i, j)));
        assert!(flow.is_break());
        let nan = [bx([f64::NAN; 3], [f64::NAN; 3]), bx([0.0; 3], [1.0; 3])];
        let _ = collect(&nan, None, 0.0);
    }

    #[test]
    fn far_test_is_conservative() {
        let b = bx([0.0; 3], [1.0; 3]);
        assert!(!b.is_far_from(V3::new(1.1, 0.5, 0.5), 0.1));
        assert!(b.is_far_from(V3::new(1.1, 0.5, 0.5), 0.09));
    }
}
