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

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use entente_geo::{Circle, Interval, LatLng, Outline};

    use super::*;
    use crate::model::{OirState, OperationalIntent, Subscription, Volume};
    use crate::store::Snapshot;

    fn ended_at(minute: i64) -> Vec<Volume> {
        let t = |m: i64| Utc.timestamp_opt(1_900_000_000 + m * 60, 0).single();
        vec![Volume {
            outline: Outline::Circle(Circle::new(LatLng::new(47.0, 8.0), 100.0).expect("a valid circle")),
            altitude: Interval { lo: Some(0.0), hi: Some(100.0) },
            time: Interval { lo: t(minute - 10), hi: t(minute) },
        }]
    }

    fn intent(subscription_id: Option<EntityId>) -> OperationalIntent {
        OperationalIntent {
            id: EntityId::random(),
            manager: "uss1".into(),
            version: 1,
            state: OirState::Accepted,
            ovn: "ovn-of-a-test-intent".into(),
            extents: ended_at(0),
            uss_base_url: "https://uss1.example".into(),
            subscription_id,
            updated_at: Utc.timestamp_opt(0, 0).single().unwrap_or_default(),
        }
    }

    #[test]
    fn a_limited_round_takes_at_most_the_limit_and_a_subscription_only_with_all_its_dependents() {
        let sid = EntityId::random();
        let subscription = Subscription {
            id: sid,
            manager: "uss1".into(),
            version: "v1".into(),
            notification_index: 0,
            extents: ended_at(0),
            uss_base_url: "https://uss1.example".into(),
            notify_for_operational_intents: true,
            notify_for_constraints: false,
            implicit: true,
            updated_at: Utc.timestamp_opt(0, 0).single().unwrap_or_default(),
        };
        let dependents: Vec<OperationalIntent> = (0..3).map(|_| intent(Some(sid))).collect();
        let space = Airspace::from_snapshot(Snapshot {
            operational_intents: dependents.clone(),
            subscriptions: vec![subscription],
            ..Snapshot::default()
        });
        let cutoff = Utc.timestamp_opt(1_900_000_000 + 3600, 0).single().unwrap_or_default();

        let round = plan(&space, cutoff, 2);
        assert_eq!(round.output, Evicted { operational_intents: 2, ..Evicted::default() });
        assert_eq!(round.changes.len(), 2);
        assert!(round.changes.iter().all(|c| matches!(c, Change::DeleteOperationalIntent(_))));

        let all = plan(&space, cutoff, 4);
        assert_eq!(all.output, Evicted { operational_intents: 3, subscriptions: 1, ..Evicted::default() });
        assert_eq!(all.changes.last(), Some(&Change::DeleteSubscription(sid)));
        assert_eq!(plan(&space, cutoff, 0).changes, Vec::new());
    }
}
