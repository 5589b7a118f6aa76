//! Eviction: entities that ended longer ago than the retention leave memory and the store, so state does not
//! grow without bound.

use std::collections::BTreeSet;

use super::Plan;
use crate::airspace::Airspace;
use crate::model::{EntityId, Timestamp, ended_before, volume_ended};
use crate::store::Change;

/// How many entities of each kind one eviction removed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Evicted {
    pub operational_intents: usize,
    pub constraints: usize,
    pub subscriptions: usize,
    pub isas: usize,
    pub rid_subscriptions: usize,
}

impl Evicted {
    pub fn total(&self) -> usize {
        self.operational_intents + self.constraints + self.subscriptions + self.isas + self.rid_subscriptions
    }
}

impl std::ops::AddAssign for Evicted {
    fn add_assign(&mut self, other: Evicted) {
        self.operational_intents += other.operational_intents;
        self.constraints += other.constraints;
        self.subscriptions += other.subscriptions;
        self.isas += other.isas;
        self.rid_subscriptions += other.rid_subscriptions;
    }
}

/// At most `limit` entities that ended before `cutoff` (a shared store commits in bounded transactions;
/// the rest goes in the next round). A subscription goes only with every intent that depends on it, so
/// no remaining intent is left naming a missing subscription. Nobody is notified: the entities had already
/// ended, and queries, keys and fan-outs had stopped seeing them at their end.
pub(crate) fn plan(space: &Airspace, cutoff: Timestamp, limit: usize) -> Plan<Evicted> {
    let mut left = limit;
    let mut budget = |n: usize| {
        let n = n.min(left);
        left -= n;
        n
    };
    let intents: BTreeSet<EntityId> =
        space.intents.values().filter(|o| ended_before(&o.extents, cutoff)).map(|o| o.id).collect();
    let intents: BTreeSet<EntityId> = intents.iter().copied().take(budget(intents.len())).collect();
    let mut constraints: Vec<EntityId> =
        space.constraints.values().filter(|c| ended_before(&c.extents, cutoff)).map(|c| c.id).collect();
    constraints.truncate(budget(constraints.len()));
    let mut subscriptions: Vec<EntityId> = space
        .subscriptions
        .values()
        .filter(|s| {
            ended_before(&s.extents, cutoff) && space.dependents_of(s.id).all(|d| intents.contains(&d))
        })
        .map(|s| s.id)
        .collect();
    subscriptions.truncate(budget(subscriptions.len()));
    let mut isas: Vec<EntityId> =
        space.isas.values().filter(|i| volume_ended(&i.extents, cutoff)).map(|i| i.id).collect();
    isas.truncate(budget(isas.len()));
    let mut rid_subscriptions: Vec<EntityId> =
        space.rid_subscriptions.values().filter(|s| volume_ended(&s.extents, cutoff)).map(|s| s.id).collect();
    rid_subscriptions.truncate(budget(rid_subscriptions.len()));
    let evicted = Evicted {
        operational_intents: intents.len(),
        constraints: constraints.len(),
        subscriptions: subscriptions.len(),
        isas: isas.len(),
        rid_subscriptions: rid_subscriptions.len(),
    };
    // Intents first: applying their deletion unlinks them from the subscriptions deleted after them.
    let changes = intents
        .into_iter()
        .map(Change::DeleteOperationalIntent)
        .chain(constraints.into_iter().map(Change::DeleteConstraint))
        .chain(subscriptions.into_iter().map(Change::DeleteSubscription))
        .chain(isas.into_iter().map(Change::DeleteIsa))
        .chain(rid_subscriptions.into_iter().map(Change::DeleteRidSubscription))
        .collect();
    Plan { changes, output: evicted }
}
