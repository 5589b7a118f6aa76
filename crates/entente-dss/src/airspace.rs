//! The in-memory state of one DSS instance: every live entity plus spatial indexes over them.

mod picture;

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use crate::index::{SpatialIndex, rects_of};
use crate::model::{
    Availability, AvailabilityRecord, Constraint, EntityId, IdentificationServiceArea, OperationalIntent,
    RidSubscription, Subscription, Timestamp, Volume, any_intersect, ended_before,
};
use crate::store::{Change, Footprint, Snapshot};

pub use picture::{Picture, Shown};

/// How an entity must meet an area to be found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Meets {
    /// Intersecting in 4D: what the key check demands, because only these can conflict.
    Intersecting,
    /// Relevant (intersecting convex hulls, overlapping altitude and time): what queries report and
    /// notifications reach, so a USS also hears of close neighbours. Over-reporting costs a details request;
    /// missing a neighbour would cost awareness.
    Relevant,
}

impl Meets {
    pub(crate) fn holds(self, a: &[Volume], b: &[Volume]) -> bool {
        match self {
            Meets::Intersecting => any_intersect(a, b),
            Meets::Relevant => entente_geo::any_relevant(a, b),
        }
    }
}

/// Invariant: the indexes and `dependents` always describe exactly the entities in the maps.
#[derive(Default)]
pub struct Airspace {
    pub(crate) intents: HashMap<EntityId, Arc<OperationalIntent>>,
    pub(crate) constraints: HashMap<EntityId, Arc<Constraint>>,
    pub(crate) subscriptions: HashMap<EntityId, Subscription>,
    pub(crate) availability: HashMap<String, AvailabilityRecord>,
    intent_index: SpatialIndex,
    constraint_index: SpatialIndex,
    subscription_index: SpatialIndex,
    /// Subscription id to the intents that name it.
    dependents: HashMap<EntityId, BTreeSet<EntityId>>,
    /// F3411: identification service areas and RID subscriptions, separate from the F3548 entities.
    pub(crate) isas: HashMap<EntityId, IdentificationServiceArea>,
    pub(crate) rid_subscriptions: HashMap<EntityId, RidSubscription>,
    isa_index: SpatialIndex,
    rid_subscription_index: SpatialIndex,
}

impl Airspace {
    pub fn from_snapshot(snapshot: Snapshot) -> Airspace {
        let intent_index =
            SpatialIndex::bulk(snapshot.operational_intents.iter().map(|o| (o.id, o.extents.as_slice())));
        let constraint_index =
            SpatialIndex::bulk(snapshot.constraints.iter().map(|c| (c.id, c.extents.as_slice())));
        let subscription_index =
            SpatialIndex::bulk(snapshot.subscriptions.iter().map(|s| (s.id, s.extents.as_slice())));
        let mut dependents: HashMap<EntityId, BTreeSet<EntityId>> = HashMap::new();
        for o in &snapshot.operational_intents {
            if let Some(sid) = o.subscription_id {
                dependents.entry(sid).or_default().insert(o.id);
            }
        }
        let isa_index =
            SpatialIndex::bulk(snapshot.isas.iter().map(|i| (i.id, std::slice::from_ref(&i.extents))));
        let rid_subscription_index = SpatialIndex::bulk(
            snapshot.rid_subscriptions.iter().map(|s| (s.id, std::slice::from_ref(&s.extents))),
        );
        Airspace {
            intents: snapshot.operational_intents.into_iter().map(|o| (o.id, Arc::new(o))).collect(),
            constraints: snapshot.constraints.into_iter().map(|c| (c.id, Arc::new(c))).collect(),
            subscriptions: snapshot.subscriptions.into_iter().map(|s| (s.id, s)).collect(),
            availability: snapshot.availability.into_iter().map(|a| (a.uss.clone(), a)).collect(),
            intent_index,
            constraint_index,
            subscription_index,
            dependents,
            isas: snapshot.isas.into_iter().map(|i| (i.id, i)).collect(),
            rid_subscriptions: snapshot.rid_subscriptions.into_iter().map(|s| (s.id, s)).collect(),
            isa_index,
            rid_subscription_index,
        }
    }

    pub fn apply(&mut self, change: &Change) {
        match change {
            Change::PutOperationalIntent(o) => {
                self.unlink(o.id);
                if let Some(old) = self.intents.get(&o.id) {
                    self.intent_index.remove(o.id, &old.extents);
                }
                if let Some(sid) = o.subscription_id {
                    self.dependents.entry(sid).or_default().insert(o.id);
                }
                self.intent_index.insert(o.id, &o.extents);
                self.intents.insert(o.id, o.clone());
            }
            Change::DeleteOperationalIntent(id) => {
                self.unlink(*id);
                if let Some(old) = self.intents.remove(id) {
                    self.intent_index.remove(*id, &old.extents);
                }
            }
            Change::PutConstraint(c) => {
                if let Some(old) = self.constraints.get(&c.id) {
                    self.constraint_index.remove(c.id, &old.extents);
                }
                self.constraint_index.insert(c.id, &c.extents);
                self.constraints.insert(c.id, c.clone());
            }
            Change::DeleteConstraint(id) => {
                if let Some(old) = self.constraints.remove(id) {
                    self.constraint_index.remove(*id, &old.extents);
                }
            }
            Change::PutSubscription(s) => {
                match self.subscriptions.get(&s.id) {
                    Some(old) if old.extents == s.extents => {}
                    Some(old) => {
                        self.subscription_index.remove(s.id, &old.extents);
                        self.subscription_index.insert(s.id, &s.extents);
                    }
                    None => self.subscription_index.insert(s.id, &s.extents),
                }
                self.subscriptions.insert(s.id, s.clone());
            }
            Change::SetNotificationIndex { id, notification_index } => {
                if let Some(s) = self.subscriptions.get_mut(id) {
                    s.notification_index = *notification_index;
                } else if let Some(s) = self.rid_subscriptions.get_mut(id) {
                    s.notification_index = *notification_index;
                }
            }
            Change::DeleteSubscription(id) => {
                if let Some(old) = self.subscriptions.remove(id) {
                    self.subscription_index.remove(*id, &old.extents);
                }
            }
            Change::PutAvailability(a) => {
                self.availability.insert(a.uss.clone(), a.clone());
            }
            Change::PutReport(_) => {}
            Change::PutIsa(i) => {
                match self.isas.get(&i.id) {
                    Some(old) if old.extents.outline == i.extents.outline => {}
                    Some(old) => {
                        self.isa_index.remove(i.id, std::slice::from_ref(&old.extents));
                        self.isa_index.insert(i.id, std::slice::from_ref(&i.extents));
                    }
                    None => self.isa_index.insert(i.id, std::slice::from_ref(&i.extents)),
                }
                self.isas.insert(i.id, i.clone());
            }
            Change::DeleteIsa(id) => {
                if let Some(old) = self.isas.remove(id) {
                    self.isa_index.remove(*id, std::slice::from_ref(&old.extents));
                }
            }
            Change::PutRidSubscription(s) => {
                match self.rid_subscriptions.get(&s.id) {
                    Some(old) if old.extents.outline == s.extents.outline => {}
                    Some(old) => {
                        self.rid_subscription_index.remove(s.id, std::slice::from_ref(&old.extents));
                        self.rid_subscription_index.insert(s.id, std::slice::from_ref(&s.extents));
                    }
                    None => self.rid_subscription_index.insert(s.id, std::slice::from_ref(&s.extents)),
                }
                self.rid_subscriptions.insert(s.id, s.clone());
            }
            Change::DeleteRidSubscription(id) => {
                if let Some(old) = self.rid_subscriptions.remove(id) {
                    self.rid_subscription_index.remove(*id, std::slice::from_ref(&old.extents));
                }
            }
        }
    }

    /// Where `changes` act, as seen before they apply: the old and new extents of everything they put or
    /// delete, and everywhere for availability, which any key check may read.
    pub fn footprint(&self, changes: &[Change]) -> Footprint {
        let mut footprint = Footprint::default();
        let mut add = |extents: Option<&[Volume]>| {
            if let Some(extents) = extents {
                footprint.rects.extend(rects_of(extents));
            }
        };
        for change in changes {
            match change {
                Change::PutOperationalIntent(o) => {
                    add(Some(&o.extents));
                    add(self.intents.get(&o.id).map(|old| old.extents.as_slice()));
                }
                Change::DeleteOperationalIntent(id) => {
                    add(self.intents.get(id).map(|o| o.extents.as_slice()))
                }
                Change::PutConstraint(c) => {
                    add(Some(&c.extents));
                    add(self.constraints.get(&c.id).map(|old| old.extents.as_slice()));
                }
                Change::DeleteConstraint(id) => add(self.constraints.get(id).map(|c| c.extents.as_slice())),
                Change::PutSubscription(s) => {
                    add(Some(&s.extents));
                    add(self.subscriptions.get(&s.id).map(|old| old.extents.as_slice()));
                    // Changes relevant to its dependent intents notify it too (`ops::txn::Txn::notify`), and
                    // a write deciding such a notification must see this one.
                    for d in self.dependents_of(s.id) {
                        add(self.intents.get(&d).map(|o| o.extents.as_slice()));
                    }
                }
                Change::DeleteSubscription(id) => {
                    add(self.subscriptions.get(id).map(|s| s.extents.as_slice()));
                }
                Change::PutIsa(i) => {
                    add(Some(std::slice::from_ref(&i.extents)));
                    add(self.isas.get(&i.id).map(|old| std::slice::from_ref(&old.extents)));
                }
                Change::DeleteIsa(id) => add(self.isas.get(id).map(|i| std::slice::from_ref(&i.extents))),
                Change::PutRidSubscription(s) => {
                    add(Some(std::slice::from_ref(&s.extents)));
                    add(self.rid_subscriptions.get(&s.id).map(|old| std::slice::from_ref(&old.extents)));
                }
                Change::DeleteRidSubscription(id) => {
                    add(self.rid_subscriptions.get(id).map(|s| std::slice::from_ref(&s.extents)));
                }
                Change::PutAvailability(_) => footprint.everywhere = true,
                Change::SetNotificationIndex { .. } | Change::PutReport(_) => {}
            }
        }
        footprint
    }

    fn unlink(&mut self, intent: EntityId) {
        let Some(sid) = self.intents.get(&intent).and_then(|o| o.subscription_id) else {
            return;
        };
        if let Some(set) = self.dependents.get_mut(&sid) {
            set.remove(&intent);
            if set.is_empty() {
                self.dependents.remove(&sid);
            }
        }
    }

    pub fn availability_of(&self, uss: &str) -> Availability {
        self.availability.get(uss).map(|a| a.availability).unwrap_or_default()
    }

    pub fn dependents_of(&self, subscription: EntityId) -> impl Iterator<Item = EntityId> + '_ {
        self.dependents.get(&subscription).into_iter().flatten().copied()
    }

    /// Live intents meeting `area` by `test` (those that ended before `now` are gone).
    pub(crate) fn intents_in(
        &self,
        area: &[Volume],
        now: Timestamp,
        test: Meets,
    ) -> Vec<&Arc<OperationalIntent>> {
        let mut found: Vec<&Arc<OperationalIntent>> = self
            .intent_index
            .candidates(&rects_of(area))
            .into_iter()
            .filter_map(|id| self.intents.get(&id))
            .filter(|o| !ended_before(&o.extents, now) && test.holds(&o.extents, area))
            .collect();
        found.sort_by_key(|o| o.id);
        found
    }

    pub(crate) fn constraints_in(
        &self,
        area: &[Volume],
        now: Timestamp,
        test: Meets,
    ) -> Vec<&Arc<Constraint>> {
        let mut found: Vec<&Arc<Constraint>> = self
            .constraint_index
            .candidates(&rects_of(area))
            .into_iter()
            .filter_map(|id| self.constraints.get(&id))
            .filter(|c| !ended_before(&c.extents, now) && test.holds(&c.extents, area))
            .collect();
        found.sort_by_key(|c| c.id);
        found
    }

    /// Candidate subscriptions for `area`; callers apply the exact test on their own view of them.
    pub(crate) fn subscription_candidates(&self, area: &[Volume]) -> Vec<EntityId> {
        self.subscription_index.candidates(&rects_of(area))
    }

    /// Candidate ISAs for `area` (bounding rectangles only); the caller applies the exact test.
    pub(crate) fn isa_candidates(&self, area: &Volume) -> Vec<EntityId> {
        self.isa_index.candidates(&rects_of(std::slice::from_ref(area)))
    }

    /// Candidate RID subscriptions for `area` (bounding rectangles only).
    pub(crate) fn rid_subscription_candidates(&self, area: &Volume) -> Vec<EntityId> {
        self.rid_subscription_index.candidates(&rects_of(std::slice::from_ref(area)))
    }

    /// Counts of stored ISAs and RID subscriptions (expired ones included until evicted).
    pub fn rid_counts(&self) -> (usize, usize) {
        (self.isas.len(), self.rid_subscriptions.len())
    }

    pub fn counts(&self) -> (usize, usize, usize) {
        (self.intents.len(), self.constraints.len(), self.subscriptions.len())
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use entente_geo::{Interval, LatLng, Outline, Polygon};

    use super::*;
    use crate::model::{OirState, new_token};

    fn square(lat: f64, lng: f64) -> Volume {
        let h = 0.001;
        let v = |a: f64, b: f64| LatLng::new(lat + a, lng + b);
        let t = Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).single().expect("a valid date");
        Volume {
            outline: Outline::Polygon(
                Polygon::new(vec![v(-h, -h), v(-h, h), v(h, h), v(h, -h)]).expect("valid"),
            ),
            altitude: Interval { lo: Some(0.0), hi: Some(100.0) },
            time: Interval { lo: Some(t), hi: Some(t + chrono::Duration::hours(1)) },
        }
    }

    /// A subscription is notified of changes relevant to its dependents, wherever they stick out of it, so a
    /// write to it must meet, in a pool, every write that might notify it.
    #[test]
    fn a_subscription_footprint_holds_its_dependents() {
        let t = Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).single().expect("a valid date");
        let s = Subscription {
            id: EntityId::random(),
            manager: "uss1".into(),
            version: new_token(),
            notification_index: 0,
            extents: vec![square(47.0, 8.0)],
            uss_base_url: "https://uss1.example".into(),
            notify_for_operational_intents: true,
            notify_for_constraints: false,
            implicit: false,
            updated_at: t,
        };
        let dependent = square(47.0, 8.01);
        let o = OperationalIntent {
            id: EntityId::random(),
            manager: "uss1".into(),
            version: 1,
            state: OirState::Accepted,
            ovn: new_token(),
            extents: vec![dependent.clone()],
            uss_base_url: "https://uss1.example".into(),
            subscription_id: Some(s.id),
            updated_at: t,
        };
        let space = Airspace::from_snapshot(Snapshot {
            operational_intents: vec![o],
            subscriptions: vec![s.clone()],
            ..Snapshot::default()
        });
        let footprint = space.footprint(&[Change::PutSubscription(s)]);
        let reached = rects_of(std::slice::from_ref(&dependent));
        assert!(
            reached.iter().all(|r| footprint.rects.iter().any(|f| f.intersects(r))),
            "{:?} misses the dependent {reached:?}",
            footprint.rects
        );
    }
}
