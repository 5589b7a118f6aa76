//! F3411-22a (API 2.1): the DSS's shapes (ISAs, subscriptions and their bodies) and their conversion, and the
//! USS side's (an SP's flights and their details, an ISA notification to a DP).

use entente_dss::{
    IdentificationServiceArea as Isa, PutIsa, PutRidSubscription, RidApi, RidSubscription, RidUrl,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{FLIGHTS_SUFFIX, ISA_CALLBACK_SUFFIX, IsaChange, SubscriptionPut, stored_time, url_for};
use crate::scd::SubscriptionState;
use crate::{LatLngPoint, Time, Volume4D, WireError, time_out, volume_in};

const API: RidApi = RidApi::V22a;

/// The answer to PUT and DELETE of an ISA, as a service provider reads it.
pub type ChangeIdentificationServiceAreaResponse = IsaChange<IdentificationServiceArea>;
/// The answer to PUT of a subscription, as a display provider reads it.
pub type PutSubscriptionResponse = SubscriptionPut<Subscription, IdentificationServiceArea>;

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[schema(as = rid_v22a::IdentificationServiceArea)]
pub struct IdentificationServiceArea {
    pub id: String,
    pub owner: String,
    pub uss_base_url: String,
    pub time_start: Time,
    pub time_end: Time,
    pub version: String,
}

impl IdentificationServiceArea {
    pub fn from_domain(i: &Isa) -> Self {
        IdentificationServiceArea {
            id: i.id.to_string(),
            owner: i.owner.clone(),
            uss_base_url: url_for(&i.url, API, FLIGHTS_SUFFIX),
            time_start: time_out(stored_time(i.extents.time.lo)),
            time_end: time_out(stored_time(i.extents.time.hi)),
            version: i.version.clone(),
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[schema(as = rid_v22a::Subscription)]
pub struct Subscription {
    pub id: String,
    pub owner: String,
    pub uss_base_url: String,
    pub notification_index: i32,
    pub time_start: Time,
    pub time_end: Time,
    pub version: String,
}

impl Subscription {
    pub fn from_domain(s: &RidSubscription) -> Self {
        Subscription {
            id: s.id.to_string(),
            owner: s.owner.clone(),
            uss_base_url: url_for(&s.url, API, ISA_CALLBACK_SUFFIX),
            notification_index: s.notification_index,
            time_start: time_out(stored_time(s.extents.time.lo)),
            time_end: time_out(stored_time(s.extents.time.hi)),
            version: s.version.clone(),
        }
    }
}

/// Create and update bodies of both ISAs and subscriptions.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[schema(as = rid_v22a::PutParameters)]
pub struct PutParameters {
    pub extents: Volume4D,
    pub uss_base_url: String,
}

impl PutParameters {
    fn into_domain(self, max_vertices: usize) -> Result<(entente_dss::Volume, RidUrl), WireError> {
        let extents = volume_in(&self.extents, "extents", max_vertices)?;
        Ok((extents, RidUrl { api: API, url: self.uss_base_url }))
    }

    /// The body as an ISA's create or update.
    pub fn into_isa(self, max_vertices: usize) -> Result<PutIsa, WireError> {
        let (extents, url) = self.into_domain(max_vertices)?;
        Ok(PutIsa { extents, url })
    }

    /// The body as a subscription's create or update.
    pub fn into_subscription(self, max_vertices: usize) -> Result<PutRidSubscription, WireError> {
        let (extents, url) = self.into_domain(max_vertices)?;
        Ok(PutRidSubscription { extents, url })
    }
}

/// F3411-22a RIDAircraftPosition; -1000 m is the spec's "unknown" altitude.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RidAircraftPosition {
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
pub struct RidHeight {
    pub distance: f64,
    pub reference: String,
}

fn unknown_altitude() -> f64 {
    -1000.0
}

/// F3411-22a RIDAircraftState; 361° track, 255 m/s speed and 63 m/s vertical speed mean unknown.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct RidAircraftState {
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
pub struct RidRecentAircraftPosition {
    pub time: Time,
    pub position: RidAircraftPosition,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct RidFlight {
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
pub struct GetFlightsResponse {
    pub timestamp: Time,
    #[serde(default)]
    pub flights: Vec<RidFlight>,
    #[serde(default)]
    pub no_isas_present: bool,
}

/// F3411-22a RIDFlightDetails; the identifiers and classification are passed on as the operator gave them.
#[derive(Clone, Debug, Default, Serialize, Deserialize, ToSchema)]
pub struct RidFlightDetails {
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
pub struct OperatorLocation {
    pub position: LatLngPoint,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub altitude: Option<Altitude>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub altitude_type: Option<String>,
}

/// An altitude in metres above the WGS84 ellipsoid, as F3411-22a writes it.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct Altitude {
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
pub struct GetFlightDetailsResponse {
    pub details: RidFlightDetails,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct GetIdentificationServiceAreaDetailsResponse {
    pub extents: Volume4D,
}

/// What an SP posts to each subscriber when its ISA changed; no `service_area` means it was deleted.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct PutIdentificationServiceAreaNotificationParameters {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_area: Option<IdentificationServiceArea>,
    pub subscriptions: Vec<SubscriptionState>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extents: Option<Volume4D>,
}
