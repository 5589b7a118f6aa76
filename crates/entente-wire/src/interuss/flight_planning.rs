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
