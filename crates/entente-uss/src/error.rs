//! What the USS rules refuse.

use crate::flight::FlightState;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum UssError {
    #[error("a flight in state {from:?} cannot become {to:?}")]
    Transition { from: FlightState, to: FlightState },
    #[error("route: {0}")]
    Route(String),
    #[error("telemetry position: {0}")]
    Position(String),
    #[error("view: {0}")]
    View(String),
    #[error("the view's diagonal is {diagonal_m:.0} m, more than the {max_m:.0} m a view may have")]
    ViewTooLarge { diagonal_m: f64, max_m: f64 },
    #[error("audit log record {seq}: {reason}")]
    AuditBroken { seq: u64, reason: String },
}
