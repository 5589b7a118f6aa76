//! A read-only picture of the whole live airspace for an operator's display: every live entity, the volumes
//! it occupies (optionally only at one instant), and which operational intents intersect in 4D.

use std::collections::HashMap;
use std::sync::Arc;

use entente_geo::Interval;

use super::Airspace;
use crate::index::rects_of;
use crate::model::{
    Constraint, EntityId, IdentificationServiceArea, OperationalIntent, Subscription, Timestamp, Volume,
    any_intersect, ended_before,
};

/// One entity and the volumes of it the picture shows: all of its extents, or those in force at the
/// picture's instant.
#[derive(Clone, Debug, PartialEq)]
pub struct Shown<T> {
    pub entity: T,
    pub volumes: Vec<Volume>,
}

/// Entities are sorted by id; OVNs are inside the entities but a display must not reveal them, since they
/// are what proves a USS knows an intent.
#[derive(Clone, Debug, PartialEq)]
pub struct Picture {
    /// The DSS clock when the picture was taken: entities that ended before it are left out.
    pub taken_at: Timestamp,
    /// The instant the picture is restricted to, if any.
    pub at: Option<Timestamp>,
    pub operational_intents: Vec<Shown<Arc<OperationalIntent>>>,
    pub constraints: Vec<Shown<Arc<Constraint>>>,
    /// F3548 subscriptions, explicit and implicit.
    pub subscriptions: Vec<Shown<Subscription>>,
    pub isas: Vec<Shown<IdentificationServiceArea>>,
    /// Pairs of shown intents whose shown volumes intersect in 4D, the lower id first, sorted.
    pub conflicts: Vec<(EntityId, EntityId)>,
}

impl Airspace {
    pub(crate) fn picture(&self, now: Timestamp, at: Option<Timestamp>) -> Picture {
        let operational_intents =
            shown(self.intents.values().map(|o| (o.id, o.clone(), o.extents.as_slice())), now, at);
        let constraints =
            shown(self.constraints.values().map(|c| (c.id, c.clone(), c.extents.as_slice())), now, at);
        let subscriptions =
            shown(self.subscriptions.values().map(|s| (s.id, s.clone(), s.extents.as_slice())), now, at);
        let isas =
            shown(self.isas.values().map(|i| (i.id, i.clone(), std::slice::from_ref(&i.extents))), now, at);
        let conflicts = self.conflicts(&operational_intents);
        Picture { taken_at: now, at, operational_intents, constraints, subscriptions, isas, conflicts }
    }

    /// The spatial index narrows each intent's partners to candidates; the exact 4D test decides.
    fn conflicts(&self, intents: &[Shown<Arc<OperationalIntent>>]) -> Vec<(EntityId, EntityId)> {
        let by_id: HashMap<EntityId, &[Volume]> =
            intents.iter().map(|s| (s.entity.id, s.volumes.as_slice())).collect();
        let mut pairs = Vec::new();
        for s in intents {
            let a = s.entity.id;
            for b in self.intent_index.candidates(&rects_of(&s.volumes)) {
                if a < b && by_id.get(&b).is_some_and(|other| any_intersect(&s.volumes, other)) {
                    pairs.push((a, b));
                }
            }
        }
        pairs.sort();
        pairs
    }
}

/// Entities still live at `now` with the volumes in force at `at` (all without one), sorted by id; an entity
/// with no volume in force at `at` is left out.
fn shown<'a, T>(
    entities: impl Iterator<Item = (EntityId, T, &'a [Volume])>,
    now: Timestamp,
    at: Option<Timestamp>,
) -> Vec<Shown<T>> {
    let instant = at.map(|t| Interval { lo: Some(t), hi: Some(t) });
    let mut found: Vec<(EntityId, Shown<T>)> = entities
        .filter(|(_, _, extents)| !ended_before(extents, now))
        .filter_map(|(id, entity, extents)| {
            let volumes: Vec<Volume> =
                extents.iter().filter(|v| instant.is_none_or(|i| v.time.overlaps(&i))).cloned().collect();
            (!volumes.is_empty()).then_some((id, Shown { entity, volumes }))
        })
        .collect();
    found.sort_by_key(|(id, _)| *id);
    found.into_iter().map(|(_, s)| s).collect()
}
