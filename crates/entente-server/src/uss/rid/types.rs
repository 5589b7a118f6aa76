//! JSON bodies of the F3411-22a USS-side Remote ID API (an SP's flights, an ISA notification) and of Entente's
//! operator API for watching areas, displaying what the DP merged, replaying traffic and reading tactical alerts.

use entente_wire::scd::SubscriptionState;
use entente_wire::{LatLngPoint, Time, Volume4D};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::rid::v22a::IdentificationServiceArea;

/// F3411-22a RIDAircraftPosition; -1000 m is the spec's "unknown" altitude.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub(crate) struct RidAircraftPosition {
    pub lat: f64,
    pub lng: f64,
    #[serde(default = "unknown_altitude")]
    pub alt: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accuracy_h: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accuracy_v: Option<String>,
    #[serde(default)]
    pub extrapolated: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<RidHeight>,
}

/// F3411-22a RIDHeight: metres above the takeoff location or the ground.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub(crate) struct RidHeight {
    pub distance: f64,
    pub reference: String,
}

fn unknown_altitude() -> f64 {
    -1000.0
}

/// F3411-22a RIDAircraftState; 361° track, 255 m/s speed and 63 m/s vertical speed mean unknown.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub(crate) struct RidAircraftState {
    pub timestamp: Time,
    #[serde(default)]
    pub timestamp_accuracy: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operational_status: Option<String>,
    pub position: RidAircraftPosition,
    #[serde(default = "unknown_track")]
    pub track: f64,
    #[serde(default = "unknown_speed")]
    pub speed: f64,
    #[serde(default = "unknown_speed_accuracy")]
    pub speed_accuracy: String,
    #[serde(default = "unknown_vertical_speed")]
    pub vertical_speed: f64,
}

fn unknown_track() -> f64 {
    361.0
}
fn unknown_speed() -> f64 {
    255.0
}
fn unknown_speed_accuracy() -> String {
    "SAUnknown".to_owned()
}
fn unknown_vertical_speed() -> f64 {
    63.0
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub(crate) struct RidRecentAircraftPosition {
    pub time: Time,
    pub position: RidAircraftPosition,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub(crate) struct RidFlight {
    pub id: String,
    pub aircraft_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_state: Option<RidAircraftState>,
    #[serde(default)]
    pub simulated: bool,
    #[serde(default)]
    pub recent_positions: Vec<RidRecentAircraftPosition>,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub(crate) struct GetFlightsResponse {
    pub timestamp: Time,
    #[serde(default)]
    pub flights: Vec<RidFlight>,
    #[serde(default)]
    pub no_isas_present: bool,
}

/// F3411-22a RIDFlightDetails; the identifiers and classification are passed on as the operator gave them.
#[derive(Clone, Debug, Default, Serialize, Deserialize, ToSchema)]
pub(crate) struct RidFlightDetails {
    pub id: String,
    #[serde(default)]
    pub operation_description: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator_location: Option<OperatorLocation>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub uas_id: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub auth_data: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub eu_classification: Option<serde_json::Value>,
}

/// F3411-22a OperatorLocation.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub(crate) struct OperatorLocation {
    pub position: LatLngPoint,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub altitude: Option<Altitude>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub altitude_type: Option<String>,
}

/// An altitude in metres above the WGS84 ellipsoid, as F3411-22a writes it.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub(crate) struct Altitude {
    pub value: f64,
    #[serde(default = "w84")]
    pub reference: String,
    #[serde(default = "metres")]
    pub units: String,
}

fn w84() -> String {
    "W84".to_owned()
}
fn metres() -> String {
    "M".to_owned()
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub(crate) struct GetFlightDetailsResponse {
    pub details: RidFlightDetails,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub(crate) struct GetIdentificationServiceAreaDetailsResponse {
    pub extents: Volume4D,
}

/// What an SP posts to each subscriber when its ISA changed; no `service_area` means it was deleted.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub(crate) struct PutIdentificationServiceAreaNotificationParameters {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_area: Option<IdentificationServiceArea>,
    pub subscriptions: Vec<SubscriptionState>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extents: Option<Volume4D>,
}

/// An area this USS's users want to see Remote ID traffic in.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub(crate) struct WatchRequest {
    /// `lat1,lng1,lat2,lng2`: the rectangle bounded by two corners, its diagonal at most 7 km.
    pub view: String,
    /// How long to watch, in seconds (at most a day, the DSS's limit on subscriptions); an hour by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_s: Option<i64>,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub(crate) struct Watch {
    pub id: String,
    pub view: String,
    /// The RID subscription this USS holds at the DSS for the watch.
    pub subscription_id: String,
    pub time_end: Time,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub(crate) struct WatchList {
    pub watches: Vec<Watch>,
}

/// One position of a displayed flight.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub(crate) struct DisplayPosition {
    pub time: Time,
    pub lat: f64,
    pub lng: f64,
    /// Metres above the WGS84 ellipsoid; absent when the SP did not know it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alt_m: Option<f64>,
    /// Seconds between this position's time and the answer's.
    pub age_s: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accuracy_h: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accuracy_v: Option<String>,
}

/// One aircraft as this USS sees it: its own flights and peers' flights merged from their SPs.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub(crate) struct DisplayFlight {
    /// The SP's Remote ID flight id.
    pub id: String,
    /// The USS that provides the flight's Remote ID (this USS for its own flights).
    pub provider: String,
    pub simulated: bool,
    /// The newest position.
    pub position: DisplayPosition,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speed_mps: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub track_deg: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vertical_speed_mps: Option<f64>,
    /// Earlier positions of the last minute, oldest first, for a trail.
    pub recent_positions: Vec<DisplayPosition>,
}

/// A number of aircraft somewhere in a rectangle, shown instead of flights in views too large for detail.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub(crate) struct DisplayCluster {
    pub corners: [LatLngPoint; 2],
    pub area_sqm: f64,
    pub number_of_flights: usize,
}

/// What a display shows of a view: flights up to a 2 km diagonal, only clusters up to 7 km.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub(crate) struct DisplayResponse {
    pub timestamp: Time,
    pub flights: Vec<DisplayFlight>,
    pub clusters: Vec<DisplayCluster>,
}

/// A predicted loss of separation between two aircraft this USS sees.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub(crate) struct TacticalAlert {
    pub aircraft: [String; 2],
    /// When separation will be lost (in the past: it is lost).
    pub loss_start: Time,
    pub loss_end: Option<Time>,
    /// Closest point of approach: when, and how far apart horizontally.
    pub cpa_time: Time,
    pub cpa_distance_m: f64,
    /// When the alert was raised.
    pub raised: Time,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub(crate) struct AlertList {
    pub alerts: Vec<TacticalAlert>,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub(crate) struct ReplayStarted {
    pub aircraft: Vec<String>,
    pub duration_s: f64,
}

/// InterUSS rid/v1 injection: the flights of one test, kept as sent so they can be echoed.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub(crate) struct CreateTestParameters {
    #[schema(value_type = Vec<Object>)]
    pub requested_flights: Vec<serde_json::Value>,
}

/// InterUSS rid/v1 TestFlight, the parts this SP plays.
#[derive(Clone, Debug, Deserialize)]
pub(crate) struct TestFlight {
    pub injection_id: String,
    #[serde(default)]
    pub aircraft_type: Option<String>,
    pub telemetry: Vec<InjectedState>,
    pub details_responses: Vec<TestFlightDetails>,
}

/// An injected RIDAircraftState. Every field may be missing, as a UAS may fail to send it: the SP then tells its
/// operator, and a state without its time or position cannot be served.
#[derive(Clone, Debug, Deserialize)]
pub(crate) struct InjectedState {
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

#[derive(Clone, Debug, Deserialize)]
pub(crate) struct InjectedPosition {
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

#[derive(Clone, Debug, Deserialize)]
pub(crate) struct TestFlightDetails {
    pub effective_after: String,
    pub details: InjectedDetails,
}

/// The injection interface's RIDFlightDetails (F3411-19 style identifiers beside F3411-22a's).
#[derive(Clone, Debug, Deserialize)]
pub(crate) struct InjectedDetails {
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
pub(crate) struct OperatorAltitude {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub altitude: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub altitude_type: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub(crate) struct ChangeTestResponse {
    #[schema(value_type = Vec<Object>)]
    pub injected_flights: Vec<serde_json::Value>,
    pub version: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub(crate) struct DeleteTestResponse {
    #[schema(value_type = Vec<Object>)]
    pub injected_flights: Vec<serde_json::Value>,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub(crate) struct UserNotification {
    pub observed_at: Time,
    pub message: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub(crate) struct QueryUserNotificationsResponse {
    pub user_notifications: Vec<UserNotification>,
}

/// InterUSS rid/v1 observation: what a display shows of a view.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub(crate) struct GetDisplayDataResponse {
    pub flights: Vec<ObservedFlight>,
    pub clusters: Vec<DisplayCluster>,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub(crate) struct ObservedFlight {
    pub id: String,
    pub aircraft_type: String,
    pub current_state: ObservedState,
    pub most_recent_position: ObservedPosition,
    pub recent_paths: Vec<ObservedPath>,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub(crate) struct ObservedState {
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
pub(crate) struct ObservedPosition {
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
pub(crate) struct ObservedPath {
    pub positions: Vec<ObservedPosition>,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub(crate) struct GetDetailsResponse {
    pub operator: ObservedOperator,
    pub uas: ObservedUas,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub(crate) struct ObservedOperator {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<LatLngPoint>,
    pub altitude: OperatorAltitude,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub(crate) struct ObservedUas {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub eu_classification: Option<serde_json::Value>,
}
