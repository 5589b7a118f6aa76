//! The ways a DSS request can fail, each meaning one answer to the client.

use crate::ops::{ConstraintView, IntentView};

#[derive(Debug, thiserror::Error)]
pub enum DssError {
    /// Input breaks a rule; the message names the field and the rule.
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    /// Stale version or OVN, or an entity that already exists.
    #[error("{0}")]
    Conflict(String),
    /// The key misses the OVNs of intersecting entities.
    #[error("{}", .0.message)]
    AirspaceConflict(Box<AirspaceConflict>),
    #[error("{0}")]
    AreaTooLarge(String),
    /// The caller's USS is Down and the change needs it to be available.
    #[error("{0}")]
    UssDown(String),
    #[error("{0}")]
    TooManySubscriptions(String),
    /// In a pool, other instances' writes kept invalidating this one's decision.
    #[error("{0}")]
    Contended(String),
    #[error("storage failed: {0}")]
    Store(#[from] StoreError),
}

#[derive(Debug)]
pub struct AirspaceConflict {
    pub message: String,
    pub missing_operational_intents: Vec<IntentView>,
    pub missing_constraints: Vec<ConstraintView>,
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    #[error("{0}")]
    Io(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// An earlier commit failed, so memory and disk may differ: writes are refused until restart.
    #[error("a previous commit failed; restart the instance to reload the store")]
    Poisoned,
}

pub(crate) fn bad(message: impl Into<String>) -> DssError {
    DssError::BadRequest(message.into())
}
