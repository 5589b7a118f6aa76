//! The storage boundary: what the DSS asks of any durable store, embedded or distributed.

use std::sync::Arc;

use tokio::sync::oneshot;

use crate::error::StoreError;
use crate::model::{
    AvailabilityRecord, Constraint, EntityId, IdentificationServiceArea, OperationalIntent, Report,
    RidSubscription, Subscription,
};

/// One durable change; a write request commits a list of them atomically.
#[derive(Clone, Debug, PartialEq)]
pub enum Change {
    /// Shared with the in-memory airspace and the answers, so a write copies no geometry.
    PutOperationalIntent(Arc<OperationalIntent>),
    DeleteOperationalIntent(EntityId),
    PutConstraint(Arc<Constraint>),
    DeleteConstraint(EntityId),
    PutSubscription(Subscription),
    /// A notification: only the counter of the subscription (F3548 or F3411) changes.
    SetNotificationIndex {
        id: EntityId,
        notification_index: i32,
    },
    DeleteSubscription(EntityId),
    PutAvailability(AvailabilityRecord),
    PutReport(Report),
    PutIsa(IdentificationServiceArea),
    DeleteIsa(EntityId),
    PutRidSubscription(RidSubscription),
    DeleteRidSubscription(EntityId),
}

/// Everything a store holds, as loaded at start-up.
#[derive(Debug, Default)]
pub struct Snapshot {
    pub operational_intents: Vec<OperationalIntent>,
    pub constraints: Vec<Constraint>,
    pub subscriptions: Vec<Subscription>,
    pub availability: Vec<AvailabilityRecord>,
    pub isas: Vec<IdentificationServiceArea>,
    pub rid_subscriptions: Vec<RidSubscription>,
}

/// Resolves once the submitted changes are durable (or failed to be).
pub type CommitTicket = oneshot::Receiver<Result<(), StoreError>>;

pub trait Store: Send + Sync + 'static {
    fn load(&self) -> Result<Snapshot, StoreError>;

    /// Queues one atomic group of changes. Groups commit in submission order; each is all or nothing.
    fn submit(&self, changes: Vec<Change>) -> CommitTicket;
}
