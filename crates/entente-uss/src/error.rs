//! What the USS rules refuse.

use crate::flight::FlightState;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UssError {
    #[error("a flight in state {from:?} cannot become {to:?}")]
    Transition { from: FlightState, to: FlightState },
    #[error("route: {0}")]
    Route(String),
    #[error("telemetry position: {0}")]
    Position(String),
    #[error("audit log record {seq}: {reason}")]
    AuditBroken { seq: u64, reason: String },
}
