//! InterUSS's flight planning automated testing interface (interuss/automated_testing_interfaces, flight_planning
//! v1, API v0.6.0): flight plans upserted and closed, areas cleared, user notifications read.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{Time, Volume4D};

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct UpsertFlightPlanRequest {
    pub flight_plan: FlightPlan,
    pub execution_style: String,
    pub request_id: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct FlightPlan {
    pub basic_information: BasicFlightPlanInformation,
    #[serde(default)]
    pub astm_f3548_21: Option<OpIntentInformation>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uspace_flight_authorisation: Option<FlightAuthorisationData>,
}

/// The data of a U-space flight authorisation request (Regulation (EU) 2021/664, Annex IV) as the user gave it: a
/// UAS serial number (ANSI/CTA-2063-A), the operation's mode (`Vlos`, `Bvlos`) and category (`Open`, `Specific`,
/// `Certified`), the UAS class (`C0` to `C6`, or `Other` with a type certificate), identification technologies,
/// connectivity methods, endurance, where the emergency procedure is, the operator's registration number
/// (EN 4709-002) and the aircraft's registration mark when it has one. The operator API takes the same object.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct FlightAuthorisationData {
    pub uas_serial_number: String,
    pub operation_mode: String,
    pub operation_category: String,
    pub uas_class: String,
    pub identification_technologies: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uas_type_certificate: Option<String>,
    pub connectivity_methods: Vec<String>,
    pub endurance_minutes: f64,
    pub emergency_procedure_url: String,
    pub operator_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uas_id: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct BasicFlightPlanInformation {
    pub usage_state: String,
    pub uas_state: String,
    #[serde(default)]
    pub area: Vec<Volume4D>,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct OpIntentInformation {
    #[serde(default)]
    pub priority: i32,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct PlanningResponse {
    pub planning_result: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    pub flight_plan_status: String,
    pub includes_advisories: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct ClearAreaRequest {
    pub extent: Volume4D,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct ClearAreaOutcome {
    pub success: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct ClearAreaResponse {
    pub outcome: ClearAreaOutcome,
}

/// One notification a user observed. `message` (a field of the interface since v0.7.0, ignored by older
/// clients) names the requirement and the conflicting intents, for test reports.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct UserNotification {
    pub observed_at: Time,
    pub conflicts: String,
    pub message: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct QueryUserNotificationsResponse {
    pub user_notifications: Vec<UserNotification>,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct StatusResponse {
    pub status: String,
    pub api_name: String,
    pub api_version: String,
}
