//! A bounding-rectangle R-tree that finds candidate entities for the exact 4D test.

use std::collections::HashMap;

use entente_geo::LatLngRect;
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{AABB, RTree};

use crate::model::{EntityId, Volume};

type Entry = GeomWithData<Rectangle<[f64; 2]>, EntityId>;

/// Candidates only: a hit here says "maybe", the exact test in `entente-geo` decides.
#[derive(Default)]
pub(crate) struct SpatialIndex {
    tree: RTree<Entry>,
    rects: HashMap<EntityId, Vec<Rectangle<[f64; 2]>>>,
}

fn rect(r: &LatLngRect) -> Rectangle<[f64; 2]> {
    Rectangle::from_corners([r.lng_lo, r.lat_lo], [r.lng_hi, r.lat_hi])
}

pub(crate) fn rects_of(extents: &[Volume]) -> Vec<LatLngRect> {
    extents.iter().flat_map(|v| v.outline.bounding_rects()).collect()
}

impl SpatialIndex {
    pub(crate) fn bulk<'a>(items: impl Iterator<Item = (EntityId, &'a [Volume])>) -> SpatialIndex {
        let mut rects = HashMap::new();
        let mut entries = Vec::new();
        for (id, extents) in items {
            let rs: Vec<_> = rects_of(extents).iter().map(rect).collect();
            entries.extend(rs.iter().map(|r| GeomWithData::new(*r, id)));
            rects.insert(id, rs);
        }
        SpatialIndex { tree: RTree::bulk_load(entries), rects }
    }

    pub(crate) fn insert(&mut self, id: EntityId, extents: &[Volume]) {
        self.remove(id);
        let rs: Vec<_> = rects_of(extents).iter().map(rect).collect();
        for r in &rs {
            self.tree.insert(GeomWithData::new(*r, id));
        }
        self.rects.insert(id, rs);
    }

    pub(crate) fn remove(&mut self, id: EntityId) {
        if let Some(rs) = self.rects.remove(&id) {
            for r in rs {
                self.tree.remove(&GeomWithData::new(r, id));
            }
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

    pub(crate) fn len(&self) -> usize {
        self.rects.len()
    }
}
