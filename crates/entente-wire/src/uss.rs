//! F3548-21's USS-USS API (its section B): an intent's and a constraint's details, notifications of their changes,
//! telemetry, and the log set a USS serves from its audit chain.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::scd::{ConstraintReference, ExchangeRecord, OperationalIntentReference, SubscriptionState};
use crate::{Altitude, Time, Volume4D};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct OperationalIntentDetails {
    #[serde(default)]
    pub volumes: Vec<Volume4D>,
    #[serde(default)]
    pub off_nominal_volumes: Vec<Volume4D>,
    #[serde(default)]
    pub priority: i32,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct OperationalIntent {
    pub reference: OperationalIntentReference,
    pub details: OperationalIntentDetails,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct GetOperationalIntentDetailsResponse {
    pub operational_intent: OperationalIntent,
}

/// A notification: the intent as it now is, or none when it was deleted.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct PutOperationalIntentDetailsParameters {
    pub operational_intent_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operational_intent: Option<OperationalIntent>,
    pub subscriptions: Vec<SubscriptionState>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ConstraintDetails {
    pub volumes: Vec<Volume4D>,
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct Constraint {
    pub reference: ConstraintReference,
    pub details: ConstraintDetails,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct GetConstraintDetailsResponse {
    pub constraint: Constraint,
}

/// A constraint notification: the constraint as it now is, or none when it was deleted.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct PutConstraintDetailsParameters {
    pub constraint_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub constraint: Option<Constraint>,
    pub subscriptions: Vec<SubscriptionState>,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct Position {
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
pub struct Velocity {
    pub speed: f32,
    pub units_speed: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub track: Option<f32>,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct VehicleTelemetry {
    pub time_measured: Time,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<Position>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub velocity: Option<Velocity>,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct GetOperationalIntentTelemetryResponse {
    pub operational_intent_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub telemetry: Option<VehicleTelemetry>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_telemetry_opportunity: Option<Time>,
}

/// F3548's USSLogSet. Messages, operator notifications, planning attempts and positions come from the audit
/// chain. Operator inputs and associations, and constraint provider associations, are not recorded by this USS,
/// so they are served empty rather than made up.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct UssLogSet {
    pub messages: Vec<ExchangeRecord>,
    pub operator_notifications: Vec<UserNotificationRecord>,
    #[schema(value_type = Vec<Object>)]
    pub operator_inputs: Vec<serde_json::Value>,
    #[schema(value_type = Vec<Object>)]
    pub operator_associations: Vec<serde_json::Value>,
    pub planning_attempts: Vec<PlanningRecord>,
    pub operational_intent_positions: Vec<OperationalIntentPositions>,
    #[schema(value_type = Vec<Object>)]
    pub constraint_provider_associations: Vec<serde_json::Value>,
}

/// F3548's PlanningRecord: one attempt, successful or not, to create or change an operational intent.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PlanningRecord {
    pub time: Time,
    /// The OVNs this USS held when it planned (the key it sent, when it reached the DSS).
    pub ovns: Vec<String>,
    pub missing_operational_intents: Vec<String>,
    pub missing_constraints: Vec<String>,
    pub operational_intent_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// F3548's UserNotificationRecord: an operator told of something a requirement says they must hear.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct UserNotificationRecord {
    pub triggering_event_time: Time,
    pub notification_time: Time,
    pub notification_details: String,
    /// The requirement, e.g. SCD0090 (a flight changed by another's conflicting intent).
    pub notification_triggering_event: String,
}

/// F3548's PositionRecord.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct PositionRecord {
    pub time_received: Time,
    pub telemetry: VehicleTelemetry,
}

/// F3548's OperationalIntentPositions: the positions received for one operational intent.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct OperationalIntentPositions {
    pub operational_intent_id: String,
    pub positions: Vec<PositionRecord>,
}
