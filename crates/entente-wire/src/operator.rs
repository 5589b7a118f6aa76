//! Entente's operator API: flights asked for (volumes or a route), their status and history, the 409 of a
//! conflicting plan with its alternatives, and Remote ID as an operator sees it (watches, the merged display,
//! replayed traffic, tactical alerts).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::interuss::flight_planning::FlightAuthorisationData;
use crate::{Altitude, LatLngPoint, Time, Volume4D};

/// What an operator asks for, at a priority: the volumes to fly, or a route with a buffer.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct FlightRequest {
    #[serde(default)]
    pub volumes: Vec<Volume4D>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route: Option<RouteRequest>,
    #[serde(default)]
    pub priority: i32,
    /// What the operator will accept of an alternative should the flight conflict; the USS's own bounds apply
    /// where it says nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<PlanLimits>,
    /// Plan the best you can: should the flight as asked conflict, plan its cheapest alternative within the limits
    /// instead, and say so in the answer's `planned_instead`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub best_effort: bool,
    /// The U-space flight authorisation request (Regulation (EU) 2021/664, Annex IV) for the flight. Checked
    /// whenever given (400 naming the field and the rule); required by a USS serving U-space airspace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorisation: Option<FlightAuthorisationData>,
}

/// Bounds every alternative offered must keep: altitudes (metres, W84), the earliest start and latest end, how
/// far sideways it may stray (metres, at most 5 000), and whether a route may take another path.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PlanLimits {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub altitude_floor_m: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub altitude_ceiling_m: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub earliest_start: Option<Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latest_end: Option<Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_lateral_m: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shape_may_change: Option<bool>,
}

/// Waypoints joined by great-circle segments; the aircraft stays within `buffer_m` of them, between the
/// altitudes, during the time window.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct RouteRequest {
    pub waypoints: Vec<LatLngPoint>,
    pub buffer_m: f64,
    pub altitude_lower: Altitude,
    pub altitude_upper: Altitude,
    pub time_start: Time,
    pub time_end: Time,
}

/// Where a flight stands. `state` is one of the DSS states or `Ended`.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct FlightStatus {
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
    /// In the answer to a `best_effort` plan that conflicted as asked: the alternative planned instead, and what
    /// the flight as asked met.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub planned_instead: Option<PlannedInstead>,
    /// The geographical zones the flight enters that do not prohibit it but set terms for it (an authorisation
    /// to ask for, conditions, whom to tell), as the data sets imported into this USS say now.
    #[serde(default)]
    pub advisories: Vec<ZoneAdvisory>,
}

/// A geographical zone a flight enters, and its terms.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ZoneAdvisory {
    /// The data set it came in.
    pub set: String,
    /// Its identifier in the set.
    pub zone: String,
    pub name: String,
    /// `PROHIBITED` (only in a list of zones: a flight is never advised of one, it is refused),
    /// `REQ_AUTHORISATION`, `CONDITIONAL`, `NO_RESTRICTION` or `U_SPACE`.
    pub restriction: String,
    pub message: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conditions: Option<String>,
    pub contacts: Vec<ZoneContact>,
    /// Some limit of the zone is above ground and was taken at its widest for want of a terrain model: the flight
    /// may in fact pass above or below it.
    pub ground_unknown: bool,
}

/// The geographical zones a USS knows that apply within a time window, for an operator's map.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct ZoneList {
    pub zones: Vec<ZoneShown>,
}

/// A zone, its terms, and its volumes in each window in which it applies (W84; a limit above ground taken at its
/// widest when `ground_unknown`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ZoneShown {
    #[serde(flatten)]
    pub terms: ZoneAdvisory,
    pub volumes: Vec<Volume4D>,
}

/// Whom a zone's terms send the operator to.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ZoneContact {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site_url: Option<String>,
}

/// What a best-effort plan changed: the alternative taken (its shifts, metres sideways and cost) and the intents or
/// constraints the flight as asked met.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct PlannedInstead {
    pub alternative: AlternativePlan,
    pub conflicting_intents: Vec<String>,
}

/// A flight entering a state: when, and why.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct FlightStateChange {
    pub time: Time,
    pub state: String,
    pub reason: String,
}

/// An operator's flights, by start.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct FlightList {
    pub flights: Vec<FlightStatus>,
}

/// A conflict-free variant of a refused flight; submitting `request` as it is plans it.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct AlternativePlan {
    pub time_shift_seconds: i64,
    pub altitude_shift_m: f64,
    /// Metres sideways: how far the area moved, or how much longer the route's detour is.
    #[serde(default)]
    pub lateral_m: f64,
    /// What the alternative costs, by which alternatives are ranked: a minute late weighs 1, a metre of climb
    /// or descent 1/6, a metre sideways 1/100.
    #[serde(default)]
    pub cost: f64,
    pub request: FlightRequest,
}

/// The 409 of a flight submission: which intents stand in the way and the nearest plans that avoid them.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct PlanConflictResponse {
    pub message: String,
    pub conflicting_intents: Vec<String>,
    pub alternatives: Vec<AlternativePlan>,
}

/// An area this USS's users want to see Remote ID traffic in.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct WatchRequest {
    /// `lat1,lng1,lat2,lng2`: the rectangle bounded by two corners, its diagonal at most 7 km.
    pub view: String,
    /// How long to watch, in seconds (at most a day, the DSS's limit on subscriptions); an hour by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_s: Option<i64>,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct Watch {
    pub id: String,
    pub view: String,
    /// The RID subscription this USS holds at the DSS for the watch.
    pub subscription_id: String,
    pub time_end: Time,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct WatchList {
    pub watches: Vec<Watch>,
}

/// One position of a displayed flight.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct DisplayPosition {
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
pub struct DisplayFlight {
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
pub struct DisplayCluster {
    pub corners: [LatLngPoint; 2],
    pub area_sqm: f64,
    pub number_of_flights: usize,
}

/// What a display shows of a view: flights up to a 2 km diagonal, only clusters up to 7 km.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct DisplayResponse {
    pub timestamp: Time,
    pub flights: Vec<DisplayFlight>,
    pub clusters: Vec<DisplayCluster>,
}

/// A predicted loss of separation between two aircraft this USS sees.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct TacticalAlert {
    pub aircraft: [String; 2],
    /// When separation will be lost (in the past: it is lost).
    pub loss_start: Time,
    pub loss_end: Option<Time>,
    /// Closest point of approach: when, and how far apart horizontally.
    pub cpa_time: Time,
    pub cpa_distance_m: f64,
    /// When the alert was raised.
    pub raised: Time,
    /// Where each aircraft was at its latest report, in the order of `aircraft`: a display can show the pair
    /// from any view, even one too wide for Remote ID to show aircraft.
    pub positions: [LatLngPoint; 2],
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct AlertList {
    pub alerts: Vec<TacticalAlert>,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct ReplayStarted {
    pub aircraft: Vec<String>,
    pub duration_s: f64,
}
