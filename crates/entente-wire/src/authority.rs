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

/// What importing a geographical zone data set (ED-269 or ED-318) did: the set's zones by kind, and the
/// constraints published for its prohibited zones, each named by zone (`identifier`, `identifier#n` for the n-th
/// repeat of an identifier in the set) and constraint id.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct ZoneSetImport {
    pub set: String,
    /// Whether this USS publishes the set's prohibited zones as constraints.
    pub publish: bool,
    /// `ED-269` or `ED-318`.
    pub format: String,
    pub zones: usize,
    /// Zones published as constraints while they apply.
    pub prohibited: usize,
    /// Zones whose terms flights entering them are told of.
    pub advisories: usize,
    /// The constraints hold the prohibited zones' windows until then; they are published again as the day
    /// changes.
    pub horizon_end: String,
    pub created: Vec<ZoneConstraintRef>,
    pub updated: Vec<ZoneConstraintRef>,
    pub withdrawn: Vec<ZoneConstraintRef>,
    pub unchanged: Vec<ZoneConstraintRef>,
    /// Zones with a limit above ground, taken at its widest for want of a terrain model.
    pub ground_unknown: Vec<String>,
}

/// A prohibited zone of a set and the constraint published for it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ZoneConstraintRef {
    pub zone: String,
    pub constraint_id: String,
}

/// The data sets imported into this USS, by name.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct ZoneSetList {
    pub sets: Vec<ZoneSetSummary>,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct ZoneSetSummary {
    pub set: String,
    pub publish: bool,
    pub zones: usize,
    pub prohibited: usize,
    pub advisories: usize,
}
