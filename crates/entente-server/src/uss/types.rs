//! JSON bodies of the USS-USS API (F3548-21 section B) and of Entente's operator API.

use entente_wire::scd::{
    ConstraintReference, OperationalIntentReference, SubscriptionState, UssAvailabilityState,
};
use entente_wire::{Altitude, LatLngPoint, Time, Volume4D};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub(crate) struct OperationalIntentDetails {
    #[serde(default)]
    pub volumes: Vec<Volume4D>,
    #[serde(default)]
    pub off_nominal_volumes: Vec<Volume4D>,
    #[serde(default)]
    pub priority: i32,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub(crate) struct OperationalIntent {
    pub reference: OperationalIntentReference,
    pub details: OperationalIntentDetails,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub(crate) struct GetOperationalIntentDetailsResponse {
    pub operational_intent: OperationalIntent,
}

/// A notification: the intent as it now is, or none when it was deleted.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub(crate) struct PutOperationalIntentDetailsParameters {
    pub operational_intent_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operational_intent: Option<OperationalIntent>,
    pub subscriptions: Vec<SubscriptionState>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub(crate) struct ConstraintDetails {
    pub volumes: Vec<Volume4D>,
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub(crate) struct Constraint {
    pub reference: ConstraintReference,
    pub details: ConstraintDetails,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub(crate) struct GetConstraintDetailsResponse {
    pub constraint: Constraint,
}

/// A constraint notification: the constraint as it now is, or none when it was deleted.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub(crate) struct PutConstraintDetailsParameters {
    pub constraint_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub constraint: Option<Constraint>,
    pub subscriptions: Vec<SubscriptionState>,
}

/// What an authority asks for: a restricted zone, its volumes carrying the time windows.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub(crate) struct ConstraintRequest {
    pub volumes: Vec<Volume4D>,
    /// One of `restricted`, `prohibited`, `event`, `emergency`, or a reverse domain name for a kind defined
    /// elsewhere (`com.example.non_utm_aircraft_operations`).
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

/// An arbiter's verdict on a USS's availability.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub(crate) struct AvailabilityRequest {
    pub availability: UssAvailabilityState,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub(crate) struct Position {
    pub longitude: f64,
    pub latitude: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accuracy_h: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accuracy_v: Option<String>,
    #[serde(default)]
    pub extrapolated: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub altitude: Option<Altitude>,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub(crate) struct Velocity {
    pub speed: f32,
    pub units_speed: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub track: Option<f32>,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub(crate) struct VehicleTelemetry {
    pub time_measured: Time,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<Position>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub velocity: Option<Velocity>,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub(crate) struct GetOperationalIntentTelemetryResponse {
    pub operational_intent_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub telemetry: Option<VehicleTelemetry>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_telemetry_opportunity: Option<Time>,
}

/// What an operator asks for, at a priority: the volumes to fly, or a route with a buffer.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub(crate) struct FlightRequest {
    #[serde(default)]
    pub volumes: Vec<Volume4D>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route: Option<RouteRequest>,
    #[serde(default)]
    pub priority: i32,
}

/// Waypoints joined by great-circle segments; the aircraft stays within `buffer_m` of them, between the
/// altitudes, during the time window.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub(crate) struct RouteRequest {
    pub waypoints: Vec<LatLngPoint>,
    pub buffer_m: f64,
    pub altitude_lower: Altitude,
    pub altitude_upper: Altitude,
    pub time_start: Time,
    pub time_end: Time,
}

/// Where a flight stands. `state` is one of the DSS states or `Ended`.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub(crate) struct FlightStatus {
    pub id: String,
    pub state: String,
    pub priority: i32,
    pub volumes: Vec<Volume4D>,
    pub off_nominal_volumes: Vec<Volume4D>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ovn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<i32>,
    /// Peers' intents that came to intersect this flight after it was planned, as the operator must be told.
    #[serde(default)]
    pub alerts: Vec<String>,
    /// Why the flight is in its state: the reason of the last entry of `history`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_reason: Option<String>,
    /// Every state the flight entered, oldest first.
    #[serde(default)]
    pub history: Vec<FlightStateChange>,
}

/// A flight entering a state: when, and why.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub(crate) struct FlightStateChange {
    pub time: Time,
    pub state: String,
    pub reason: String,
}

/// An operator's flights, by start.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub(crate) struct FlightList {
    pub flights: Vec<FlightStatus>,
}

/// The restricted zones this USS manages, by start.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub(crate) struct ConstraintList {
    pub constraints: Vec<Constraint>,
}

/// A conflict-free variant of a refused flight; submitting `request` as it is plans it.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub(crate) struct AlternativePlan {
    pub time_shift_seconds: i64,
    pub altitude_shift_m: f64,
    pub request: FlightRequest,
}

/// The 409 of a flight submission: which intents stand in the way and the nearest plans that avoid them.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct PlanConflictResponse {
    pub(crate) message: String,
    pub(crate) conflicting_intents: Vec<String>,
    pub(crate) alternatives: Vec<AlternativePlan>,
}
