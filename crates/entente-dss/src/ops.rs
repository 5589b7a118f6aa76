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
use crate::store::Change;

/// What a write decided: the changes to commit, and the answer once they are durable.
pub(crate) struct Plan<T> {
    pub(crate) changes: Vec<Change>,
    pub(crate) output: T,
}

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
