//! Where the pool keeps things in etcd: entity keys, notification counters, and the cell markers whose
//! revisions reveal concurrent writes in the same part of the map.

use std::collections::BTreeSet;

use entente_dss::{EntityId, Footprint};

/// Entity kinds and their key segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Intent,
    Constraint,
    Subscription,
    Availability,
    Report,
    Isa,
    RidSubscription,
}

impl Kind {
    const ALL: [Kind; 7] = [
        Kind::Intent,
        Kind::Constraint,
        Kind::Subscription,
        Kind::Availability,
        Kind::Report,
        Kind::Isa,
        Kind::RidSubscription,
    ];

    fn segment(self) -> &'static str {
        match self {
            Kind::Intent => "oi",
            Kind::Constraint => "cn",
            Kind::Subscription => "su",
            Kind::Availability => "av",
            Kind::Report => "rp",
            Kind::Isa => "is",
            Kind::RidSubscription => "rs",
        }
    }
}

/// Counter keys one transaction puts or deletes at most; a write notifying more subscriptions counts the rest
/// in follow-up transactions.
pub(crate) const COUNTER_BUDGET: usize = 56;

/// The cell markers one write may compare (own cells twice, ancestors once); with the counters and the
/// entity keys this keeps every transaction under etcd's default limit of 128 operations.
pub(crate) const CELL_BUDGET: usize = 40;

/// Levels of the nested grid: level `k` cells are 8^k by 8^k level-0 cells of 1/64 degree (1/64°, 1/8°, 1°,
/// 8°, 64°); level 5 is the world. Few levels keep the ancestors a write bumps, hence its keys, few.
const LEVELS: u32 = 6;
const SHIFT_PER_LEVEL: u32 = 3;
const FINE_PER_DEGREE: f64 = 64.0;
const FINE_LAT_MAX: i64 = 180 * 64 - 1;
const FINE_LNG_MAX: i64 = 360 * 64 - 1;

pub(crate) struct Layout {
    prefix: String,
}

/// One cell of the grid: level and indices counted from (-90, -180).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Cell {
    level: u32,
    i: i64,
    j: i64,
}

impl Cell {
    const WORLD: Cell = Cell { level: LEVELS - 1, i: 0, j: 0 };

    /// The coarser cells containing this one, up to the world.
    fn ancestors(self) -> impl Iterator<Item = Cell> {
        std::iter::successors(Some(self), |c| {
            (c.level + 1 < LEVELS).then(|| Cell {
                level: c.level + 1,
                i: c.i >> SHIFT_PER_LEVEL,
                j: c.j >> SHIFT_PER_LEVEL,
            })
        })
        .skip(1)
    }
}

fn ancestors_of(cells: &BTreeSet<Cell>) -> BTreeSet<Cell> {
    cells.iter().flat_map(|c| c.ancestors()).collect()
}

/// The markers a write compares and the ones it bumps. A write covering cells at level `k` bumps their
/// `x` markers and the `ix` markers of their ancestors; it compares the `x` and `ix` markers of its cells
/// and the `x` markers of their ancestors. Two writes whose rectangles meet share a point, hence nested
/// cells containing it: at the coarser of their two levels one bumps what the other compares, whichever
/// commits first, while writes in different places only share ancestors' `ix`, which nobody compares
/// but a write covering the whole ancestor.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Markers {
    pub(crate) compare: Vec<Vec<u8>>,
    /// The `x` markers of the write's own cells.
    pub(crate) bump: Vec<Vec<u8>>,
    /// The `ix` markers of their ancestors: many writes bump the same ones, and bumping one needlessly only
    /// costs a coarse write a retry, so a batch of commits may bump each once for all.
    pub(crate) shared: Vec<Vec<u8>>,
}

impl Layout {
    pub(crate) fn new(prefix: &str) -> Layout {
        Layout { prefix: prefix.trim_end_matches('/').to_owned() }
    }

    pub(crate) fn entity(&self, kind: Kind, name: &str) -> Vec<u8> {
        format!("{}/e/{}/{name}", self.prefix, kind.segment()).into_bytes()
    }

    pub(crate) fn id(&self, kind: Kind, id: EntityId) -> Vec<u8> {
        self.entity(kind, &id.to_string())
    }

    /// The kind and name of an entity key.
    pub(crate) fn parse_entity<'a>(&self, key: &'a [u8]) -> Option<(Kind, &'a str)> {
        let key = std::str::from_utf8(key).ok()?;
        let rest = key.strip_prefix(self.prefix.as_str())?.strip_prefix("/e/")?;
        let (segment, name) = rest.split_once('/')?;
        Kind::ALL.into_iter().find(|k| k.segment() == segment).map(|k| (k, name))
    }

    /// A subscription's notification counter: its etcd `version`, one more with every put, is the index.
    /// Puts need no compare, so instances notifying one subscription at once never refuse each other.
    pub(crate) fn counter(&self, id: EntityId) -> Vec<u8> {
        format!("{}/n/{id}", self.prefix).into_bytes()
    }

    /// The subscription of a counter key.
    pub(crate) fn counter_id(&self, key: &[u8]) -> Option<EntityId> {
        let key = std::str::from_utf8(key).ok()?;
        EntityId::parse(key.strip_prefix(self.prefix.as_str())?.strip_prefix("/n/")?)
    }

    /// A record of notifications a committed write still has to count, outside the replicated range.
    pub(crate) fn later(&self, name: &str) -> Vec<u8> {
        format!("{}/p/{name}", self.prefix).into_bytes()
    }

    /// `[start, end)` of the records of notifications still to count.
    pub(crate) fn laters(&self) -> (Vec<u8>, Vec<u8>) {
        (format!("{}/p/", self.prefix).into_bytes(), format!("{}/p0", self.prefix).into_bytes())
    }

    /// Slot `n` of an instance: written by each of its transactions, so that one whose answer was lost can be
    /// told from one that never applied. Outside the replicated range.
    pub(crate) fn slot(&self, instance: &str, n: usize) -> Vec<u8> {
        format!("{}/r/{instance}/{n}", self.prefix).into_bytes()
    }

    /// The mark decision `k` of a batch sent on `slot` puts when it commits.
    pub(crate) fn mark(&self, slot: &[u8], k: usize) -> Vec<u8> {
        let mut key = slot.to_vec();
        key.extend_from_slice(format!("/{k}").as_bytes());
        key
    }

    /// `[start, end)` of the marks of `slot`.
    pub(crate) fn marks(&self, slot: &[u8]) -> (Vec<u8>, Vec<u8>) {
        let (mut start, mut end) = (slot.to_vec(), slot.to_vec());
        start.push(b'/');
        end.push(b'/' + 1);
        (start, end)
    }

    /// The member key of the instance holding `lease`, attached to that lease, inside the replicated range so that
    /// every feed delivers joins, departures and acknowledgements in revision order with the commits. Lease ids
    /// are unique in the cluster, so a key is never reused by a later membership.
    pub(crate) fn member(&self, lease: i64) -> Vec<u8> {
        format!("{}/m/{lease:016x}", self.prefix).into_bytes()
    }

    /// `[start, end)` of the member keys.
    pub(crate) fn members(&self) -> (Vec<u8>, Vec<u8>) {
        (format!("{}/m/", self.prefix).into_bytes(), format!("{}/m0", self.prefix).into_bytes())
    }

    pub(crate) fn is_member(&self, key: &[u8]) -> bool {
        let (start, end) = self.members();
        key >= start.as_slice() && key < end.as_slice()
    }

    /// The pool's secret, which authenticates what members tell each other directly (`peers`). Outside the
    /// replicated range: it never changes once made.
    pub(crate) fn secret(&self) -> Vec<u8> {
        format!("{}/s", self.prefix).into_bytes()
    }

    /// Bumped by every write, so its revision is the newest commit of the pool.
    pub(crate) fn head(&self) -> Vec<u8> {
        format!("{}/head", self.prefix).into_bytes()
    }

    /// `[start, end)` of everything an instance replicates: entities, `head`, member keys and counters, but no
    /// markers and no records of notifications still to count.
    pub(crate) fn replicated(&self) -> (Vec<u8>, Vec<u8>) {
        (format!("{}/e/", self.prefix).into_bytes(), format!("{}/o", self.prefix).into_bytes())
    }

    fn marker(&self, kind: &str, c: Cell) -> Vec<u8> {
        format!("{}/c/{kind}/{}/{}/{}", self.prefix, c.level, c.i, c.j).into_bytes()
    }

    pub(crate) fn markers(&self, footprint: &Footprint) -> Markers {
        let cells = covering(footprint);
        let ancestors = ancestors_of(&cells);
        let mut markers = Markers::default();
        for &c in &cells {
            markers.compare.push(self.marker("x", c));
            markers.compare.push(self.marker("ix", c));
            markers.bump.push(self.marker("x", c));
        }
        for &a in &ancestors {
            markers.compare.push(self.marker("x", a));
            markers.shared.push(self.marker("ix", a));
        }
        markers
    }
}

fn fine(degrees_from_origin: f64, max: i64) -> i64 {
    // Saturating float-to-int conversion; the clamp keeps the poles and the antimeridian in range.
    ((degrees_from_origin * FINE_PER_DEGREE).floor() as i64).clamp(0, max)
}

/// The cells of the finest level at which the footprint's rectangles, with their ancestors, fit in the
/// budget.
fn covering(footprint: &Footprint) -> BTreeSet<Cell> {
    if footprint.everywhere {
        return BTreeSet::from([Cell::WORLD]);
    }
    if footprint.rects.is_empty() {
        return BTreeSet::new();
    }
    let mut spans: Vec<(i64, i64, i64, i64)> = Vec::new();
    for r in &footprint.rects {
        let (i0, i1) = (fine(r.lat_lo + 90.0, FINE_LAT_MAX), fine(r.lat_hi + 90.0, FINE_LAT_MAX));
        let (mut j0, mut j1) = (fine(r.lng_lo + 180.0, FINE_LNG_MAX), fine(r.lng_hi + 180.0, FINE_LNG_MAX));
        // Every meridian meets at a pole: a rectangle touching one covers that row of cells entirely.
        if r.lat_hi >= 90.0 || r.lat_lo <= -90.0 {
            (j0, j1) = (0, FINE_LNG_MAX);
        }
        spans.push((i0, i1, j0, j1));
        // -180 and 180 are one meridian: touching it on one side covers the first column on the other.
        if r.lng_hi >= 180.0 {
            spans.push((i0, i1, 0, 0));
        }
        if r.lng_lo <= -180.0 {
            spans.push((i0, i1, FINE_LNG_MAX, FINE_LNG_MAX));
        }
    }
    for level in 0..LEVELS {
        let shift = SHIFT_PER_LEVEL * level;
        let upper_bound: i64 = spans
            .iter()
            .map(|&(i0, i1, j0, j1)| {
                ((i1 >> shift) - (i0 >> shift) + 1) * ((j1 >> shift) - (j0 >> shift) + 1)
            })
            .sum();
        if upper_bound as usize > CELL_BUDGET {
            continue;
        }
        let cells: BTreeSet<Cell> = spans
            .iter()
            .flat_map(|&(i0, i1, j0, j1)| {
                ((i0 >> shift)..=(i1 >> shift))
                    .flat_map(move |i| ((j0 >> shift)..=(j1 >> shift)).map(move |j| Cell { level, i, j }))
            })
            .collect();
        if 2 * cells.len() + ancestors_of(&cells).len() <= CELL_BUDGET {
            return cells;
        }
    }
    BTreeSet::from([Cell::WORLD])
}

#[cfg(test)]
mod tests {
    use entente_geo::LatLngRect;

    use super::*;

    fn rect(lat_lo: f64, lat_hi: f64, lng_lo: f64, lng_hi: f64) -> LatLngRect {
        LatLngRect { lat_lo, lat_hi, lng_lo, lng_hi }
    }

    fn all_bumps(m: &Markers) -> impl Iterator<Item = &Vec<u8>> {
        m.bump.iter().chain(&m.shared)
    }

    fn footprint(rects: Vec<LatLngRect>) -> Footprint {
        Footprint { rects, everywhere: false }
    }

    /// Two writes conflict when one bumps a marker the other compares.
    fn conflict(a: &Footprint, b: &Footprint) -> bool {
        let layout = Layout::new("/p");
        let (ma, mb) = (layout.markers(a), layout.markers(b));
        all_bumps(&ma).any(|k| mb.compare.contains(k)) && all_bumps(&mb).any(|k| ma.compare.contains(k))
    }

    #[test]
    fn the_largest_allowed_area_fits_the_budget() {
        // 2500 km² as a 50 km square, and as a 1000 km x 2.5 km strip.
        for f in [
            footprint(vec![rect(47.0, 47.45, 8.0, 8.66)]),
            footprint(vec![rect(47.0, 47.0225, -4.0, 9.3)]),
            footprint(vec![rect(-89.9, 89.9, -179.9, 179.9)]),
        ] {
            let m = Layout::new("/p").markers(&f);
            assert!(m.compare.len() <= CELL_BUDGET, "{} compares for {f:?}", m.compare.len());
            assert!(m.bump.len() + m.shared.len() <= CELL_BUDGET);
            assert!(!m.bump.is_empty());
        }
    }

    #[test]
    fn a_small_area_uses_fine_cells_so_neighbours_do_not_conflict() {
        let a = footprint(vec![rect(47.0, 47.005, 8.0, 8.005)]);
        let b = footprint(vec![rect(47.1, 47.105, 8.0, 8.005)]);
        assert!(!conflict(&a, &b));
        assert!(conflict(&a, &a));
    }

    #[test]
    fn writes_at_different_levels_that_meet_conflict() {
        let small = footprint(vec![rect(47.2, 47.201, 8.3, 8.301)]);
        let large = footprint(vec![rect(46.9, 47.5, 7.9, 8.6)]);
        let elsewhere = footprint(vec![rect(10.0, 10.5, 8.0, 8.5)]);
        assert!(conflict(&small, &large));
        assert!(conflict(&large, &small));
        assert!(!conflict(&small, &elsewhere));
        assert!(!conflict(&large, &elsewhere));
    }

    #[test]
    fn everywhere_conflicts_with_everything_and_nothing_with_nothing() {
        let everywhere = Footprint { rects: Vec::new(), everywhere: true };
        let small = footprint(vec![rect(-33.9, -33.89, 151.2, 151.21)]);
        assert!(conflict(&everywhere, &small));
        assert!(conflict(&small, &everywhere));
        assert_eq!(Layout::new("/p").markers(&Footprint::default()), Markers::default());
    }

    fn arb_rect() -> impl proptest::strategy::Strategy<Value = LatLngRect> {
        use proptest::prelude::*;
        // Sizes from metres to thousands of kilometres, anywhere including the poles and the antimeridian;
        // a third of them with corners on the grid of a level, where touching rectangles meet exactly on a
        // cell border.
        (-90.0..90.0f64, -180.0..180.0f64, -6.0..1.5f64, -6.0..1.5f64, 0..(3 * LEVELS)).prop_map(
            |(lat, lng, h, w, snap)| {
                let (mut lat, mut lng, mut h, mut w) = (lat, lng, 10f64.powf(h), 10f64.powf(w));
                if snap < LEVELS {
                    let step = f64::from(1u32 << (SHIFT_PER_LEVEL * snap)) / FINE_PER_DEGREE;
                    let on_grid = |x: f64| (x / step).round() * step;
                    (lat, lng, h, w) =
                        (on_grid(lat), on_grid(lng), on_grid(h).max(step), on_grid(w).max(step));
                }
                // Snapping can round a corner past the poles or the antimeridian (to 192 degrees at 64-degree
                // steps): clamped, every rectangle keeps `lo <= hi`, as `LatLngRect` promises.
                let (lat_lo, lng_lo) = (lat.clamp(-90.0, 90.0), lng.clamp(-180.0, 180.0));
                rect(lat_lo, (lat + h).clamp(lat_lo, 90.0), lng_lo, (lng + w).clamp(lng_lo, 180.0))
            },
        )
    }

    /// How a generated pair's second rectangle sits against the first.
    #[derive(Clone, Copy, Debug)]
    enum Placement {
        /// Its south-west corner at fractions of the first's height and width: they overlap.
        Inside(f64, f64),
        /// Its south edge on the first's north edge, starting at a fraction of its width.
        OnTheNorthEdge(f64),
        /// Its south-west corner on the first's north-east corner.
        OnTheCorner,
        /// East of the first by a gap of 10^x degrees: a near miss, from nanometres to a kilometre.
        EastBy(f64),
    }

    /// Pairs that meet most of the time (overlapping, sharing an edge or a corner), and near misses.
    fn arb_pair() -> impl proptest::strategy::Strategy<Value = (LatLngRect, LatLngRect)> {
        use proptest::prelude::*;
        let placement = prop_oneof![
            (0.0..=1.0f64, 0.0..=1.0f64).prop_map(|(f, g)| Placement::Inside(f, g)),
            (0.0..=1.0f64).prop_map(Placement::OnTheNorthEdge),
            Just(Placement::OnTheCorner),
            (-14.0..-2.0f64).prop_map(Placement::EastBy),
        ];
        (arb_rect(), arb_rect(), placement).prop_map(|(a, size, placement)| {
            let (h, w) = (size.lat_hi - size.lat_lo, size.lng_hi - size.lng_lo);
            let (lat, lng) = match placement {
                Placement::Inside(f, g) => {
                    (a.lat_lo + f * (a.lat_hi - a.lat_lo), a.lng_lo + g * (a.lng_hi - a.lng_lo))
                }
                Placement::OnTheNorthEdge(g) => (a.lat_hi, a.lng_lo + g * (a.lng_hi - a.lng_lo)),
                Placement::OnTheCorner => (a.lat_hi, a.lng_hi),
                Placement::EastBy(x) => (a.lat_lo, a.lng_hi + 10f64.powf(x)),
            };
            (a, rect(lat, (lat + h).min(90.0), lng.min(180.0), (lng + w).min(180.0)))
        })
    }

    proptest::proptest! {
        /// The rule the pool's safety rests on: two writes whose rectangles meet always conflict, whichever
        /// commits first, and no write needs more markers than the budget.
        #[test]
        fn meeting_footprints_always_conflict((a, b) in arb_pair(), c in arb_rect()) {
            let fa = footprint(vec![c, a]);
            let fb = footprint(vec![b]);
            let meet = [a, c].iter().any(|r| r.intersects(&b));
            if meet {
                proptest::prop_assert!(conflict(&fa, &fb), "{fa:?} and {fb:?} meet but do not conflict");
            }
            for f in [&fa, &fb] {
                let m = Layout::new("/p").markers(f);
                proptest::prop_assert!(m.compare.len() <= CELL_BUDGET && all_bumps(&m).count() <= CELL_BUDGET);
            }
        }
    }

    proptest::proptest! {
        /// Generated rectangles are ones the product can hold: a rectangle with `lng_lo > lng_hi` once made the
        /// property above report markers that "meet" only by the generator's mistake.
        #[test]
        fn generated_rectangles_keep_lo_below_hi((a, b) in arb_pair(), c in arb_rect()) {
            for r in [a, b, c] {
                proptest::prop_assert!(r.lat_lo <= r.lat_hi && r.lng_lo <= r.lng_hi, "{r:?}");
                proptest::prop_assert!(r.lat_lo >= -90.0 && r.lat_hi <= 90.0 && r.lng_lo >= -180.0 && r.lng_hi <= 180.0);
            }
        }
    }

    /// The property above is only as good as its pairs: most must meet, for its assertion to run.
    #[test]
    fn most_generated_pairs_meet() {
        use proptest::strategy::{Strategy, ValueTree};
        let mut runner = proptest::test_runner::TestRunner::deterministic();
        let strategy = arb_pair();
        let meeting = (0..1000)
            .filter(|_| {
                let (a, b) = strategy.new_tree(&mut runner).expect("a pair").current();
                a.intersects(&b)
            })
            .count();
        assert!(meeting >= 600, "only {meeting} of 1000 pairs meet");
    }

    #[test]
    fn the_antimeridian_and_the_poles_join_what_they_touch() {
        let east = footprint(vec![rect(10.0, 10.1, 179.95, 180.0)]);
        let west = footprint(vec![rect(10.05, 10.2, -180.0, -179.9)]);
        assert!(conflict(&east, &west));
        let north_a = footprint(vec![rect(89.99, 90.0, 10.0, 10.1)]);
        let north_b = footprint(vec![rect(89.995, 90.0, -100.0, -99.9)]);
        assert!(conflict(&north_a, &north_b));
    }

    #[test]
    fn entity_keys_parse_back() {
        let layout = Layout::new("/pool/");
        let id = EntityId::random();
        assert_eq!(
            layout.parse_entity(&layout.id(Kind::Isa, id)),
            Some((Kind::Isa, id.to_string().as_str()))
        );
        assert_eq!(
            layout.parse_entity(&layout.entity(Kind::Availability, "a/b")),
            Some((Kind::Availability, "a/b"))
        );
        assert_eq!(layout.parse_entity(&layout.head()), None);
        let (start, end) = layout.replicated();
        assert_eq!(layout.counter_id(&layout.counter(id)), Some(id));
        assert_eq!(layout.counter_id(&layout.head()), None);
        assert_eq!(layout.counter_id(&layout.id(Kind::Subscription, id)), None);
        for key in [layout.id(Kind::Intent, id), layout.head(), layout.counter(id)] {
            assert!(start <= key && key < end);
        }
        let (later_start, later_end) = layout.laters();
        let later = layout.later("x");
        assert!(later_start <= later && later < later_end && later >= end);
        let markers = layout.markers(&footprint(vec![rect(0.0, 0.1, 0.0, 0.1)]));
        assert!(all_bumps(&markers).all(|k| *k < start));
    }
}
