//! F3411-19 (API 1.0): the DSS's shapes (polygon footprints, plain numbers and strings) and their conversion, and
//! the USS side's (an ISA notification; an SP's flights, which are F3411-22a's with plain time strings and the
//! accuracies on the state, converted as JSON both ways).

use entente_dss::{
    IdentificationServiceArea as Isa, PutIsa, PutRidSubscription, RidApi, RidSubscription, RidUrl, Volume,
};
use entente_geo::{Interval, Outline};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::v22a::GetFlightsResponse;
use super::{FLIGHTS_SUFFIX, ISA_CALLBACK_SUFFIX, IsaChange, SubscriptionPut, stored_time, url_for};
use crate::scd::SubscriptionState;
use crate::{LatLngPoint, Polygon, Time, WireError, parse_rfc3339, polygon_in, rfc3339};

const API: RidApi = RidApi::V19;

/// Altitudes outside this range are not on any aircraft's path (as in the later versions).
const ALTITUDE_RANGE: (f64, f64) = (-8000.0, 100_000.0);

/// The answer to PUT and DELETE of an ISA, as a service provider reads it.
pub type ChangeIdentificationServiceAreaResponse = IsaChange<IdentificationServiceArea>;
/// The answer to PUT of a subscription, as a display provider reads it.
pub type PutSubscriptionResponse = SubscriptionPut<Subscription, IdentificationServiceArea>;

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[schema(as = rid_v19::Volume3D)]
pub struct Volume3D {
    pub footprint: Polygon,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub altitude_lo: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub altitude_hi: Option<f64>,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[schema(as = rid_v19::Volume4D)]
pub struct Volume4D {
    pub spatial_volume: Volume3D,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_start: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_end: Option<String>,
}

fn altitude_in(value: Option<f64>, path: &str) -> Result<Option<f64>, WireError> {
    match value {
        Some(a) if !a.is_finite() || a < ALTITUDE_RANGE.0 || a > ALTITUDE_RANGE.1 => Err(WireError::field(
            path,
            format!("{a} is outside [{}, {}] metres", ALTITUDE_RANGE.0, ALTITUDE_RANGE.1),
        )),
        other => Ok(other),
    }
}

pub fn volume_in(v: &Volume4D, path: &str, max_vertices: usize) -> Result<Volume, WireError> {
    let s = &v.spatial_volume;
    let outline = polygon_in(&s.footprint, &format!("{path}.spatial_volume.footprint"), max_vertices)?;
    let start =
        v.time_start.as_deref().map(|t| parse_rfc3339(t, &format!("{path}.time_start"))).transpose()?;
    let end = v.time_end.as_deref().map(|t| parse_rfc3339(t, &format!("{path}.time_end"))).transpose()?;
    Ok(Volume {
        outline,
        altitude: Interval {
            lo: altitude_in(s.altitude_lo, &format!("{path}.spatial_volume.altitude_lo"))?,
            hi: altitude_in(s.altitude_hi, &format!("{path}.spatial_volume.altitude_hi"))?,
        },
        time: Interval { lo: start, hi: end },
    })
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[schema(as = rid_v19::IdentificationServiceArea)]
pub struct IdentificationServiceArea {
    pub id: String,
    pub owner: String,
    pub flights_url: String,
    pub time_start: String,
    pub time_end: String,
    pub version: String,
}

impl IdentificationServiceArea {
    pub fn from_domain(i: &Isa) -> Self {
        IdentificationServiceArea {
            id: i.id.to_string(),
            owner: i.owner.clone(),
            flights_url: url_for(&i.url, API, FLIGHTS_SUFFIX),
            time_start: rfc3339(stored_time(i.extents.time.lo)),
            time_end: rfc3339(stored_time(i.extents.time.hi)),
            version: i.version.clone(),
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[schema(as = rid_v19::SubscriptionCallbacks)]
pub struct SubscriptionCallbacks {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identification_service_area_url: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[schema(as = rid_v19::Subscription)]
pub struct Subscription {
    pub id: String,
    pub owner: String,
    pub callbacks: SubscriptionCallbacks,
    pub notification_index: i32,
    pub time_start: String,
    pub time_end: String,
    pub version: String,
}

impl Subscription {
    pub fn from_domain(s: &RidSubscription) -> Self {
        Subscription {
            id: s.id.to_string(),
            owner: s.owner.clone(),
            callbacks: SubscriptionCallbacks {
                identification_service_area_url: Some(url_for(&s.url, API, ISA_CALLBACK_SUFFIX)),
            },
            notification_index: s.notification_index,
            time_start: rfc3339(stored_time(s.extents.time.lo)),
            time_end: rfc3339(stored_time(s.extents.time.hi)),
            version: s.version.clone(),
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[schema(as = rid_v19::IdentificationServiceAreaParameters)]
pub struct IdentificationServiceAreaParameters {
    pub extents: Volume4D,
    pub flights_url: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[schema(as = rid_v19::SubscriptionParameters)]
pub struct SubscriptionParameters {
    pub extents: Volume4D,
    pub callbacks: SubscriptionCallbacks,
}

impl IdentificationServiceAreaParameters {
    /// The body as an ISA's create or update.
    pub fn into_isa(self, max_vertices: usize) -> Result<PutIsa, WireError> {
        let extents = volume_in(&self.extents, "extents", max_vertices)?;
        Ok(PutIsa { extents, url: RidUrl { api: API, url: self.flights_url } })
    }
}

impl SubscriptionParameters {
    /// The body as a subscription's create or update.
    pub fn into_subscription(self, max_vertices: usize) -> Result<PutRidSubscription, WireError> {
        let extents = volume_in(&self.extents, "extents", max_vertices)?;
        let url = self
            .callbacks
            .identification_service_area_url
            .ok_or_else(|| WireError::field("callbacks.identification_service_area_url", "is required"))?;
        Ok(PutRidSubscription { extents, url: RidUrl { api: API, url } })
    }
}

/// What an F3411-19 SP posts to each subscriber when its ISA changed; no `service_area` means it was deleted.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[schema(as = rid_v19::PutIdentificationServiceAreaNotificationParameters)]
pub struct NotificationParameters {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_area: Option<IdentificationServiceArea>,
    pub subscriptions: Vec<SubscriptionState>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extents: Option<Volume4D>,
}

/// A volume in F3411-19's form, which has polygons only.
pub fn volume_out(v: &Volume) -> Result<Volume4D, WireError> {
    let Outline::Polygon(polygon) = &v.outline else {
        return Err(WireError::Inexpressible(
            "F3411-19 volumes are polygons; a circle cannot be sent".to_owned(),
        ));
    };
    Ok(Volume4D {
        spatial_volume: Volume3D {
            footprint: Polygon {
                vertices: polygon.vertices().iter().map(|p| LatLngPoint { lat: p.lat, lng: p.lng }).collect(),
            },
            altitude_lo: v.altitude.lo,
            altitude_hi: v.altitude.hi,
        },
        time_start: v.time.lo.map(rfc3339),
        time_end: v.time.hi.map(rfc3339),
    })
}

/// Replaces each `{value, format}` time of F3411-22a by its plain string, and moves the accuracies of each
/// current state from its position to the state, as F3411-19 has them.
pub fn flights_out(answer: &GetFlightsResponse) -> Result<Value, serde_json::Error> {
    let mut value = serde_json::to_value(answer)?;
    // F3411-19 answers a view outside every ISA with 404 instead.
    if let Some(fields) = value.as_object_mut() {
        fields.remove("no_isas_present");
    }
    let plain = |v: &mut Value| {
        if let Some(text) = v.get("value").cloned() {
            *v = text;
        }
    };
    plain(&mut value["timestamp"]);
    for flight in value["flights"].as_array_mut().into_iter().flatten() {
        if let Some(state) = flight.get_mut("current_state") {
            plain(&mut state["timestamp"]);
            for key in ["accuracy_h", "accuracy_v"] {
                if let Some(accuracy) = state["position"].as_object_mut().and_then(|p| p.remove(key)) {
                    state[key] = accuracy;
                }
            }
        }
        for recent in flight["recent_positions"].as_array_mut().into_iter().flatten() {
            plain(&mut recent["time"]);
        }
    }
    Ok(value)
}

/// An F3411-19 SP's flights in F3411-22a's form: the reverse of [`flights_out`].
pub fn flights_in(mut value: Value) -> Result<GetFlightsResponse, serde_json::Error> {
    let wrap = |v: &mut Value| -> Result<(), serde_json::Error> {
        if let Value::String(text) = v {
            *v = serde_json::to_value(Time { value: std::mem::take(text), format: "RFC3339".to_owned() })?;
        }
        Ok(())
    };
    wrap(&mut value["timestamp"])?;
    for flight in value["flights"].as_array_mut().into_iter().flatten() {
        if let Some(state) = flight.get_mut("current_state").filter(|s| s.is_object()) {
            wrap(&mut state["timestamp"])?;
            for key in ["accuracy_h", "accuracy_v"] {
                if let Some(accuracy) = state.as_object_mut().and_then(|s| s.remove(key)) {
                    state["position"][key] = accuracy;
                }
            }
        }
        for recent in flight["recent_positions"].as_array_mut().into_iter().flatten() {
            wrap(&mut recent["time"])?;
        }
    }
    serde_json::from_value(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flights_convert_to_f3411_19_and_back() -> Result<(), serde_json::Error> {
        let answer: GetFlightsResponse = serde_json::from_value(serde_json::json!({
            "timestamp": {"value": "2030-01-01T12:00:00Z", "format": "RFC3339"},
            "flights": [{"id": "f1", "aircraft_type": "NotDeclared", "simulated": true,
                "current_state": {"timestamp": {"value": "2030-01-01T11:59:59Z", "format": "RFC3339"},
                    "timestamp_accuracy": 0.0, "speed": 4.0, "track": 90.0, "vertical_speed": 0.5, "speed_accuracy": "SAUnknown",
                    "position": {"lat": 46.5, "lng": 7.0, "alt": 60.0, "accuracy_h": "HA3m", "accuracy_v": "VA10m"}},
                "recent_positions": [{"time": {"value": "2030-01-01T11:59:58Z", "format": "RFC3339"},
                    "position": {"lat": 46.49, "lng": 7.0, "alt": 59.0}}]}],
            "no_isas_present": false
        }))?;
        let v19 = flights_out(&answer)?;
        assert_eq!(v19["timestamp"], "2030-01-01T12:00:00Z");
        assert_eq!(v19["flights"][0]["current_state"]["timestamp"], "2030-01-01T11:59:59Z");
        assert_eq!(v19["flights"][0]["current_state"]["accuracy_h"], "HA3m");
        assert!(v19["flights"][0]["current_state"]["position"].get("accuracy_v").is_none());
        assert_eq!(v19["flights"][0]["recent_positions"][0]["time"], "2030-01-01T11:59:58Z");
        let back = serde_json::to_value(flights_in(v19)?)?;
        assert_eq!(back, serde_json::to_value(&answer)?);
        Ok(())
    }
}
