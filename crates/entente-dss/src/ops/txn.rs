//! A write in progress: subscription edits layered over the airspace, and the notification fan-out.

use std::collections::{BTreeMap, BTreeSet};

use entente_geo::any_relevant;

use super::{Subscriber, SubscriptionState};
use crate::airspace::{Airspace, Meets};
use crate::model::{EntityId, Subscription, Timestamp, Volume, ended_before};
use crate::store::Change;

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Interest {
    Intents,
    Constraints,
}

pub(crate) struct Txn<'a> {
    pub(crate) space: &'a Airspace,
    /// `None` marks a subscription deleted by this write.
    subscriptions: BTreeMap<EntityId, Option<Subscription>>,
    /// New notification indices of every subscription this write notifies, also those it puts: a shared
    /// store counts notifications from these rather than from the subscriptions it is given.
    bumped: BTreeMap<EntityId, i32>,
    changes: Vec<Change>,
}

impl<'a> Txn<'a> {
    pub(crate) fn new(space: &'a Airspace) -> Txn<'a> {
        Txn { space, subscriptions: BTreeMap::new(), bumped: BTreeMap::new(), changes: Vec::new() }
    }

    pub(crate) fn subscription(&self, id: EntityId) -> Option<&Subscription> {
        match self.subscriptions.get(&id) {
            Some(edited) => edited.as_ref(),
            None => self.space.subscriptions.get(&id),
        }
    }

    pub(crate) fn put_subscription(&mut self, s: Subscription) {
        self.subscriptions.insert(s.id, Some(s));
    }

    pub(crate) fn delete_subscription(&mut self, id: EntityId) {
        self.subscriptions.insert(id, None);
    }

    pub(crate) fn push(&mut self, change: Change) {
        self.changes.push(change);
    }

    /// Bumps the notification index of every live subscription interested in `area`, as part of this write:
    /// those relevant to `area`, and those a live intent relevant to `area` depends on. The second kind matters
    /// because a subscription covers its intents only to within cells and not in altitude
    /// ([`super::validate::covers`]): a change next to the part of an intent outside its subscription must
    /// still reach that intent's manager.
    /// Call it once per write, after every other subscription edit.
    pub(crate) fn notify(&mut self, area: &[Volume], interest: Interest, now: Timestamp) -> Vec<Subscriber> {
        let by_dependents: BTreeSet<EntityId> = self
            .space
            .intents_in(area, now, Meets::Relevant)
            .into_iter()
            .filter_map(|o| o.subscription_id)
            .collect();
        let mut ids = self.space.subscription_candidates(area);
        ids.extend(self.subscriptions.iter().filter(|(_, s)| s.is_some()).map(|(id, _)| *id));
        ids.extend(by_dependents.iter().copied());
        ids.sort_unstable();
        ids.dedup();
        let mut by_url: BTreeMap<String, Vec<SubscriptionState>> = BTreeMap::new();
        for id in ids {
            let Some(s) = self.subscription(id) else { continue };
            let wanted = match interest {
                Interest::Intents => s.notify_for_operational_intents,
                Interest::Constraints => s.notify_for_constraints,
            };
            let relevant = by_dependents.contains(&id) || any_relevant(&s.extents, area);
            if !wanted || ended_before(&s.extents, now) || !relevant {
                continue;
            }
            let index = s.notification_index.saturating_add(1);
            by_url
                .entry(s.uss_base_url.clone())
                .or_default()
                .push(SubscriptionState { subscription_id: id, notification_index: index });
            if let Some(Some(edited)) = self.subscriptions.get_mut(&id) {
                edited.notification_index = index;
            }
            self.bumped.insert(id, index);
        }
        by_url
            .into_iter()
            .map(|(uss_base_url, subscriptions)| Subscriber { uss_base_url, subscriptions })
            .collect()
    }

    pub(crate) fn into_changes(self) -> Vec<Change> {
        let mut changes: Vec<Change> = self
            .subscriptions
            .into_iter()
            .map(|(id, s)| match s {
                Some(s) => Change::PutSubscription(s),
                None => Change::DeleteSubscription(id),
            })
            .collect();
        changes.extend(
            self.bumped
                .into_iter()
                .map(|(id, notification_index)| Change::SetNotificationIndex { id, notification_index }),
        );
        changes.extend(self.changes);
        changes
    }
}
