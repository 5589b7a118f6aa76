//! InterUSS's rid/v1 automated testing interfaces: injection of test flights into an SP, and observation of what a
//! DP displays.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::operator::DisplayCluster;
use crate::rid::v22a::RidHeight;
use crate::{LatLngPoint, Time};

/// InterUSS rid/v1 injection: the flights of one test, kept as sent so they can be echoed.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct CreateTestParameters {
    #[schema(value_type = Vec<Object>)]
    pub requested_flights: Vec<serde_json::Value>,
}

/// InterUSS rid/v1 TestFlight, the parts this SP plays.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TestFlight {
    pub injection_id: String,
    #[serde(default)]
    pub aircraft_type: Option<String>,
    pub telemetry: Vec<InjectedState>,
    pub details_responses: Vec<TestFlightDetails>,
}

/// An injected RIDAircraftState. Every field may be missing, as a UAS may fail to send it: the SP then tells its
/// operator, and a state without its time or position cannot be served.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct InjectedState {
    #[serde(default)]
    pub timestamp: Option<String>,
    #[serde(default)]
    pub timestamp_accuracy: Option<f64>,
    #[serde(default)]
    pub operational_status: Option<String>,
    #[serde(default)]
    pub position: Option<InjectedPosition>,
    #[serde(default)]
    pub track: Option<f64>,
    #[serde(default)]
    pub speed: Option<f64>,
    #[serde(default)]
    pub speed_accuracy: Option<String>,
    #[serde(default)]
    pub vertical_speed: Option<f64>,
    #[serde(default)]
    pub height: Option<RidHeight>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct InjectedPosition {
    #[serde(default)]
    pub lat: Option<f64>,
    #[serde(default)]
    pub lng: Option<f64>,
    #[serde(default)]
    pub alt: Option<f64>,
    #[serde(default)]
    pub accuracy_h: Option<String>,
    #[serde(default)]
    pub accuracy_v: Option<String>,
    #[serde(default)]
    pub height: Option<RidHeight>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TestFlightDetails {
    pub effective_after: String,
    pub details: InjectedDetails,
}

/// The injection interface's RIDFlightDetails (F3411-19 style identifiers beside F3411-22a's).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct InjectedDetails {
    pub id: String,
    #[serde(default)]
    pub operator_id: Option<String>,
    #[serde(default)]
    pub operator_location: Option<LatLngPoint>,
    #[serde(default)]
    pub operation_description: Option<String>,
    #[serde(default)]
    pub auth_data: Option<serde_json::Value>,
    #[serde(default)]
    pub serial_number: Option<String>,
    #[serde(default)]
    pub registration_number: Option<String>,
    #[serde(default)]
    pub uas_id: Option<serde_json::Value>,
    #[serde(default)]
    pub operator_altitude: Option<OperatorAltitude>,
    #[serde(default)]
    pub eu_classification: Option<serde_json::Value>,
}

/// The altitude of the operator, as the testing interfaces write it.
#[derive(Clone, Debug, Default, Serialize, Deserialize, ToSchema)]
pub struct OperatorAltitude {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub altitude: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub altitude_type: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct ChangeTestResponse {
    #[schema(value_type = Vec<Object>)]
    pub injected_flights: Vec<serde_json::Value>,
    pub version: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct DeleteTestResponse {
    #[schema(value_type = Vec<Object>)]
    pub injected_flights: Vec<serde_json::Value>,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct UserNotification {
    pub observed_at: Time,
    pub message: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct QueryUserNotificationsResponse {
    pub user_notifications: Vec<UserNotification>,
}

/// InterUSS rid/v1 observation: what a display shows of a view.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct GetDisplayDataResponse {
    pub flights: Vec<ObservedFlight>,
    pub clusters: Vec<DisplayCluster>,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct ObservedFlight {
    pub id: String,
    pub aircraft_type: String,
    pub current_state: ObservedState,
    pub most_recent_position: ObservedPosition,
    pub recent_paths: Vec<ObservedPath>,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct ObservedState {
    pub timestamp: String,
    pub timestamp_accuracy: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operational_status: Option<String>,
    pub track: f64,
    pub speed: f64,
    pub speed_accuracy: String,
    pub vertical_speed: f64,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct ObservedPosition {
    pub lat: f64,
    pub lng: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alt: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accuracy_h: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accuracy_v: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<RidHeight>,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct ObservedPath {
    pub positions: Vec<ObservedPosition>,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct GetDetailsResponse {
    pub operator: ObservedOperator,
    pub uas: ObservedUas,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct ObservedOperator {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<LatLngPoint>,
    pub altitude: OperatorAltitude,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct ObservedUas {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub eu_classification: Option<serde_json::Value>,
}
