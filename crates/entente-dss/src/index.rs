//! A bounding-rectangle R-tree that finds candidate entities for the exact 4D test.

use entente_geo::LatLngRect;
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{AABB, RTree};

use crate::model::{EntityId, Volume};

type Entry = GeomWithData<Rectangle<[f64; 2]>, EntityId>;

/// Candidates only: a hit here says "maybe", the exact test in `entente-geo` decides.
///
/// It stores no copy of the rectangles per entity: removal recomputes them from the entity's extents,
/// which is deterministic, so the index costs one tree entry per rectangle and nothing more.
#[derive(Default)]
pub(crate) struct SpatialIndex {
    tree: RTree<Entry>,
}

fn rect(r: &LatLngRect) -> Rectangle<[f64; 2]> {
    Rectangle::from_corners([r.lng_lo, r.lat_lo], [r.lng_hi, r.lat_hi])
}

/// Rectangles of the convex hulls, which hold the outlines: one index serves both the exact test and relevance.
pub(crate) fn rects_of(extents: &[Volume]) -> Vec<LatLngRect> {
    extents.iter().flat_map(|v| v.outline.convex_hull().bounding_rects()).collect()
}

fn entries(id: EntityId, extents: &[Volume]) -> impl Iterator<Item = Entry> {
    rects_of(extents).into_iter().map(move |r| GeomWithData::new(rect(&r), id))
}

impl SpatialIndex {
    pub(crate) fn bulk<'a>(items: impl Iterator<Item = (EntityId, &'a [Volume])>) -> SpatialIndex {
        SpatialIndex {
            tree: RTree::bulk_load(items.flat_map(|(id, extents)| entries(id, extents)).collect()),
        }
    }

    pub(crate) fn insert(&mut self, id: EntityId, extents: &[Volume]) {
        for e in entries(id, extents) {
            self.tree.insert(e);
        }
    }

    /// `extents` must be those the entity was inserted with.
    pub(crate) fn remove(&mut self, id: EntityId, extents: &[Volume]) {
        for e in entries(id, extents) {
            self.tree.remove(&e);
        }
    }

    /// Ids whose rectangles meet any of `area`'s, each once.
    pub(crate) fn candidates(&self, area: &[LatLngRect]) -> Vec<EntityId> {
        let mut ids: Vec<EntityId> = area
            .iter()
            .flat_map(|r| {
                let envelope = AABB::from_corners([r.lng_lo, r.lat_lo], [r.lng_hi, r.lat_hi]);
                self.tree.locate_in_envelope_intersecting(&envelope).map(|e| e.data)
            })
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }
}
