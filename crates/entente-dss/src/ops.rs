//! The DSS rules as pure functions: each reads the airspace and returns the changes it implies (F3548 entities
//! here and in the sibling modules, F3411 network Remote ID in `rid`).

pub(crate) mod availability;
pub(crate) mod constraint;
pub(crate) mod evict;
pub(crate) mod intent;
pub(crate) mod rid;
pub(crate) mod subscription;
pub(crate) mod txn;
pub(crate) mod validate;
pub(crate) mod version;

use std::sync::Arc;

use crate::airspace::Airspace;
use crate::model::{Availability, Constraint, EntityId, OperationalIntent, Subscription};
use crate::store::{Assigned, Change};

/// What a write decided: the changes to commit, and the answer once they are durable.
pub(crate) struct Plan<T> {
    pub(crate) changes: Vec<Change>,
    pub(crate) output: T,
}

/// An answer that may report notification indices. In a pool the store counts notifications, so the indices
/// the decision computed are replaced by those the commit got.
pub(crate) trait Notifies {
    fn assign(&mut self, _assigned: &Assigned) {}
}

/// Sets each listed subscription's index to the one the store assigned it.
fn assign_to<'a>(states: impl Iterator<Item = &'a mut SubscriptionState>, assigned: &Assigned) {
    for state in states {
        if let Some((_, index)) = assigned.iter().find(|(id, _)| *id == state.subscription_id) {
            state.notification_index = *index;
        }
    }
}

impl Notifies for Vec<Subscriber> {
    fn assign(&mut self, assigned: &Assigned) {
        assign_to(self.iter_mut().flat_map(|s| s.subscriptions.iter_mut()), assigned);
    }
}

impl Notifies for Vec<rid::RidSubscriber> {
    fn assign(&mut self, assigned: &Assigned) {
        assign_to(self.iter_mut().flat_map(|s| s.subscriptions.iter_mut()), assigned);
    }
}

impl Notifies for intent::IntentChange {
    fn assign(&mut self, assigned: &Assigned) {
        self.subscribers.assign(assigned);
    }
}

impl Notifies for constraint::ConstraintChange {
    fn assign(&mut self, assigned: &Assigned) {
        self.subscribers.assign(assigned);
    }
}

impl Notifies for rid::isa::IsaChange {
    fn assign(&mut self, assigned: &Assigned) {
        self.subscribers.assign(assigned);
    }
}

// Writes that notify nobody.
impl Notifies for subscription::SubscriptionPut {}
impl Notifies for SubscriptionView {}
impl Notifies for rid::subscription::RidSubscriptionPut {}
impl Notifies for crate::model::RidSubscription {}
impl Notifies for crate::model::AvailabilityRecord {}
impl Notifies for crate::model::Report {}
impl Notifies for evict::Evicted {}

/// A reference as a given caller may see it: the OVN only goes to the manager.
#[derive(Clone, Debug)]
pub struct IntentView {
    pub intent: Arc<OperationalIntent>,
    pub availability: Availability,
    pub ovn_visible: bool,
}

#[derive(Clone, Debug)]
pub struct ConstraintView {
    pub constraint: Arc<Constraint>,
    pub availability: Availability,
    pub ovn_visible: bool,
}

#[derive(Clone, Debug)]
pub struct SubscriptionView {
    pub subscription: Subscription,
    pub dependent_operational_intents: Vec<EntityId>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubscriptionState {
    pub subscription_id: EntityId,
    pub notification_index: i32,
}

/// The subscriptions of one USS that a change must be reported to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subscriber {
    pub uss_base_url: String,
    pub subscriptions: Vec<SubscriptionState>,
}

impl Airspace {
    pub(crate) fn view_intent(&self, o: &Arc<OperationalIntent>, caller: &str) -> IntentView {
        IntentView {
            intent: o.clone(),
            availability: self.availability_of(&o.manager),
            ovn_visible: o.manager == caller,
        }
    }

    pub(crate) fn view_constraint(&self, c: &Arc<Constraint>, caller: &str) -> ConstraintView {
        ConstraintView {
            constraint: c.clone(),
            availability: self.availability_of(&c.manager),
            ovn_visible: c.manager == caller,
        }
    }

    pub(crate) fn view_subscription(&self, s: &Subscription) -> SubscriptionView {
        SubscriptionView {
            subscription: s.clone(),
            dependent_operational_intents: self.dependents_of(s.id).collect(),
        }
    }
}

#[cfg(test)]
mod tests;
