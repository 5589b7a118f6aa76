//! What the USS rules refuse.

use crate::Timestamp;
use crate::flight::FlightState;
use crate::service::{CallError, Refusal};
use crate::store::StoreError;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum UssError {
    #[error("a flight in state {from:?} cannot become {to:?}")]
    Transition { from: FlightState, to: FlightState },
    #[error(
        "the flight ended at {end}, before its activation at {now}: plan a new flight instead of activating this one"
    )]
    ActivatedAfterEnd { end: Timestamp, now: Timestamp },
    #[error(
        "time_measured {time} is ahead of this USS's clock ({now}) by more than the {tolerance_s} s of clock skew tolerated"
    )]
    FixFromTheFuture { time: Timestamp, now: Timestamp, tolerance_s: i64 },
    #[error("route: {0}")]
    Route(String),
    #[error("telemetry position: {0}")]
    Position(String),
    #[error("view: {0}")]
    View(String),
    #[error("the view's diagonal is {diagonal_m:.0} m, more than the {max_m:.0} m a view may have")]
    ViewTooLarge { diagonal_m: f64, max_m: f64 },
    #[error("priority {priority} is not granted to operator {operator}; it may use {allowed}")]
    PriorityNotGranted { priority: i32, operator: String, allowed: String },
    #[error("audit log record {seq}: {reason}")]
    AuditBroken { seq: u64, reason: String },
    #[error("the area around the flight: {0}")]
    Area(String),
    #[error("flight {0}: not found")]
    NoSuchFlight(entente_dss::EntityId),
    #[error("constraint {0}: not found")]
    NoSuchZone(entente_dss::EntityId),
    #[error("set {0}: not found")]
    NoSuchZoneSet(String),
    /// A zone data set this USS cannot take: the message names the zone or feature and the rule.
    #[error("{0}")]
    ZoneSet(String),
    /// A set downloaded from one URL asked to be replaced by a download from another (or a set an authority
    /// handed over by a download): the name is taken by a different source.
    #[error("set {set}: already imported from {held}, not from {asked}")]
    ZoneSetSource { set: String, held: String, asked: String },
    #[error("flight {id} is {state}; telemetry is taken once it is activated")]
    NotFlying { id: entente_dss::EntityId, state: &'static str },
    /// The proposal conflicts: what it meets and the alternatives found.
    #[error("{}", .0.message())]
    Conflict(Box<Refusal>),
    /// A call to the DSS or a peer failed or was refused.
    #[error(transparent)]
    Call(#[from] CallError),
    /// This USS's own store failed: a fault of this USS, never of the caller or the DSS.
    #[error("this USS's store failed: {0}")]
    Store(#[from] StoreError),
}
