//! The DSS rules: F3548-21 entities, the key check, subscriptions and notifications, availability; and F3411
//! network Remote ID identification service areas and RID subscriptions (one model for F3411-19 and -22a).
//!
//! It knows no HTTP and no storage engine: requests arrive as domain values, durable writes leave
//! through the [`Store`] trait, and answers are domain values the HTTP edge turns into JSON.

mod airspace;
mod caller;
mod error;
mod index;
mod limits;
mod model;
mod ops;
mod service;
mod store;

pub use airspace::{Airspace, Picture, Shown};
pub use caller::{Caller, Scope};
pub use error::{AirspaceConflict, DssError, StoreError};
pub use limits::{Clock, Limits, ManualClock, SystemClock};
pub use model::{
    Availability, AvailabilityRecord, Constraint, EntityId, IdentificationServiceArea, OirState,
    OperationalIntent, Report, RidApi, RidSubscription, RidUrl, Subscription, Timestamp, Volume,
    any_intersect, is_token_shaped, new_token, time_span,
};
pub use ops::constraint::{ConstraintChange, PutConstraint};
pub use ops::evict::Evicted;
pub use ops::intent::{IntentChange, NewSubscription, PutOperationalIntent};
pub use ops::rid::isa::{IsaChange, PutIsa};
pub use ops::rid::subscription::{PutRidSubscription, RidSubscriptionPut};
pub use ops::rid::{IsaSearch, RidSubscriber};
pub use ops::subscription::{PutSubscription, SubscriptionPut};
pub use ops::validate::{WriteKind, check_write_volumes};
pub use ops::{ConstraintView, IntentView, Subscriber, SubscriptionState, SubscriptionView};
pub use service::{Dss, POOLED_EVICTION_BATCH, PoolStats};
pub use store::{
    Assigned, BoxFuture, Change, CommitTicket, Committed, Footprint, Revision, SharedStore, Snapshot, Store,
};
