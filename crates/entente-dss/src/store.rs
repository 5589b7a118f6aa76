//! The storage boundary: what the DSS asks of any durable store, embedded or distributed.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use entente_geo::LatLngRect;
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
    /// A notification of subscription `id` (F3548 or F3411), which then counts `notification_index` of them.
    /// Every notified subscription gets one, also when the same write puts it, so that a shared store can
    /// count notifications itself rather than trust the decision's view of the counter.
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

/// A position in a shared store's history; every committed group gets a larger one.
pub type Revision = i64;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Where a group of changes acts on the map (old and new extents of every entity it puts or deletes), so a
/// shared store can tell whether another instance's write could have changed the decision behind it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Footprint {
    pub rects: Vec<LatLngRect>,
    /// Set by changes every decision may read, wherever it is (a USS's availability).
    pub everywhere: bool,
}

/// The notification index a shared store gave each subscription a commit notified.
pub type Assigned = Vec<(EntityId, i32)>;

/// How a conditional commit ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Committed {
    /// Durable at this revision, with the notification indices the store counted: several instances may
    /// notify one subscription at once, so the decision's own view of the counter may be behind.
    At(Revision, Assigned),
    /// Refused: a write that could have changed the decision landed after it was made; this revision has it.
    Stale(Revision),
}

/// A store shared by a pool of DSS instances. Each instance decides on its own replica of the airspace and
/// commits optimistically; the store refuses a commit that another instance's write may have invalidated,
/// and feeds every committed group back to every instance in revision order ([`crate::Dss::replicate`]).
pub trait SharedStore: Send + Sync + 'static {
    /// A revision such that a read answered after this instance applied it sees every write acknowledged before
    /// the read began: the newest revision any instance committed (a quorum read), or, where the store makes
    /// writes wait until this instance applied them, one this instance applied or is about to.
    fn latest(&self) -> BoxFuture<'_, Result<Revision, StoreError>>;

    /// Commits `changes` atomically unless a write touching `footprint`, or any entity they change, landed
    /// after `read_at`. Notifications are counted by the store, not compared: each
    /// [`Change::SetNotificationIndex`] adds one to its subscription's counter, and the answer says where
    /// each counter stands.
    fn commit_if(
        &self,
        changes: Vec<Change>,
        footprint: Footprint,
        read_at: Revision,
    ) -> BoxFuture<'_, Result<Committed, StoreError>>;
}
