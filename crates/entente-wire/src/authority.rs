//! Entente's authority API: restricted zones declared and listed, and an arbiter's verdict on a USS's availability.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::Volume4D;
use crate::scd::UssAvailabilityState;
use crate::uss::Constraint;

/// What an authority asks for: a restricted zone, its volumes carrying the time windows.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct ConstraintRequest {
    pub volumes: Vec<Volume4D>,
    /// One of `restricted`, `prohibited`, `event`, `emergency`, or a reverse domain name for a kind defined
    /// elsewhere (`com.example.non_utm_aircraft_operations`).
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

/// An arbiter's verdict on a USS's availability.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct AvailabilityRequest {
    pub availability: UssAvailabilityState,
}

/// The restricted zones this USS manages, by start.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct ConstraintList {
    pub constraints: Vec<Constraint>,
}
