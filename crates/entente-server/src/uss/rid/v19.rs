//! F3411-19 on the USS side, for a USS run with `--rid-version 19`: its wire forms (plain time strings, accuracies
//! on the state, polygon-only volumes), the SP's `/v1/uss/flights` and details, and the DP's notification
//! receiver. The logic is the F3411-22a one; only the shapes differ.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::Duration;
use entente_geo::Outline;
use entente_uss::Volume;
use entente_uss::rid::{NEAR_REAL_TIME_S, V19_VIEWS, View};
use entente_wire::scd::SubscriptionState;
use entente_wire::{LatLngPoint, Polygon, rfc3339};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::types::{GetFlightDetailsResponse, GetFlightsResponse};
use super::{dp, sp};
use crate::error::ApiError;
use crate::extract::{Auth, Body, entity_id};
use crate::rid::v19::{IdentificationServiceArea, READ, Volume3D, Volume4D, WRITE, volume_in};
use crate::rid::{Params, params};
use crate::uss::{MAX_VERTICES, UssState};

/// Where an F3411-19 SP serves its flights, under its base URL.
pub(crate) const FLIGHTS_PATH: &str = "/v1/uss/flights";
/// Where an F3411-19 DP takes ISA notifications, under its base URL.
pub(crate) const CALLBACK_PATH: &str = "/v1/uss/identification_service_areas";

/// What an F3411-19 SP posts to each subscriber when its ISA changed; no `service_area` means it was deleted.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[schema(as = rid_v19::PutIdentificationServiceAreaNotificationParameters)]
pub(crate) struct NotificationParameters {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_area: Option<IdentificationServiceArea>,
    pub subscriptions: Vec<SubscriptionState>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extents: Option<Volume4D>,
}

/// A volume in F3411-19's form, which has polygons only.
pub(crate) fn volume_out(v: &Volume) -> Result<Volume4D, ApiError> {
    let Outline::Polygon(polygon) = &v.outline else {
        return Err(ApiError::bad("F3411-19 volumes are polygons; a circle cannot be sent"));
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

/// The ISA as the DP keeps it, from F3411-19's form.
pub(super) fn summary(isa: &IdentificationServiceArea) -> Result<dp::IsaSummary, ApiError> {
    Ok(dp::IsaSummary {
        id: isa.id.clone(),
        owner: isa.owner.clone(),
        flights_url: isa.flights_url.trim_end_matches('/').to_owned(),
        version: isa.version.clone(),
        end: entente_wire::parse_rfc3339(&isa.time_end, "service_area.time_end")?,
    })
}

/// Replaces each `{value, format}` time of F3411-22a by its plain string, and moves the accuracies of each
/// current state from its position to the state, as F3411-19 has them.
fn flights_out(answer: &GetFlightsResponse) -> Result<Value, ApiError> {
    let mut value =
        serde_json::to_value(answer).map_err(|e| ApiError::Upstream(format!("encoding flights: {e}")))?;
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
pub(super) fn flights_in(mut value: Value) -> Result<GetFlightsResponse, ApiError> {
    let wrap = |v: &mut Value| {
        if v.is_string() {
            *v = serde_json::json!({"value": v.take(), "format": "RFC3339"});
        }
    };
    wrap(&mut value["timestamp"]);
    for flight in value["flights"].as_array_mut().into_iter().flatten() {
        if let Some(state) = flight.get_mut("current_state").filter(|s| s.is_object()) {
            wrap(&mut state["timestamp"]);
            for key in ["accuracy_h", "accuracy_v"] {
                if let Some(accuracy) = state.as_object_mut().and_then(|s| s.remove(key)) {
                    state["position"][key] = accuracy;
                }
            }
        }
        for recent in flight["recent_positions"].as_array_mut().into_iter().flatten() {
            wrap(&mut recent["time"]);
        }
    }
    serde_json::from_value(value).map_err(|e| ApiError::Upstream(format!("an F3411-19 flights answer: {e}")))
}

/// F3411-19 `GET /v1/uss/flights`: like F3411-22a's, with its view limit, `include_recent_positions`, and 404
/// for a view outside this SP's ISA.
#[utoipa::path(get, path = "/v1/uss/flights", tag = "Remote ID (F3411-19)",
    params(("view" = String, Query, description = "lat1,lng1,lat2,lng2; diagonal at most 3.6 km"),
        ("include_recent_positions" = Option<bool>, Query, description = "Include the last minute of positions")),
    responses((status = 200, description = "Flights in the view"), crate::responses::BadRequest, crate::responses::Unauthorized, crate::responses::NotRidReaderV19, (status = 404, description = "The view is outside this SP's ISA", body = entente_wire::ErrorResponse), (status = 413, description = "The view's diagonal exceeds 3.6 km", body = entente_wire::ErrorResponse)))]
pub(crate) async fn flights(
    State(st): State<Arc<UssState>>,
    auth: Auth,
    query: Params,
) -> Result<Json<Value>, ApiError> {
    auth.rid(&[READ])?;
    let p = params(query)?;
    let view =
        View::parse(p.get("view").ok_or_else(|| ApiError::bad("view is required: lat1,lng1,lat2,lng2"))?)?;
    view.scale(&V19_VIEWS)?;
    let recent = match p.get("include_recent_positions").map(String::as_str) {
        None | Some("false") => Duration::zero(),
        Some("true") => Duration::seconds(NEAR_REAL_TIME_S),
        Some(other) => {
            return Err(ApiError::bad(format!(
                "include_recent_positions must be true or false, not {other:?}"
            )));
        }
    };
    let answer = sp::flights_now(&st, &view, recent);
    if answer.no_isas_present {
        return Err(ApiError::NotFound(
            "the view is outside every identification service area of this SP".into(),
        ));
    }
    Ok(Json(flights_out(&answer)?))
}

#[utoipa::path(get, path = "/v1/uss/flights/{id}/details", tag = "Remote ID (F3411-19)",
    params(("id" = String, Path, description = "Remote ID flight id")),
    responses((status = 200, description = "The flight's details", body = GetFlightDetailsResponse), crate::responses::Unauthorized, crate::responses::NotRidReaderV19, crate::responses::NoSuchFlight))]
pub(crate) async fn flight_details(
    State(st): State<Arc<UssState>>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Json<GetFlightDetailsResponse>, ApiError> {
    auth.rid(&[READ])?;
    Ok(Json(sp::details(&st, id)?))
}

/// F3411-19 `POST /v1/uss/identification_service_areas/{id}`, taken by the same rules as F3411-22a's.
#[utoipa::path(post, path = "/v1/uss/identification_service_areas/{id}", tag = "Remote ID (F3411-19)",
    params(("id" = String, Path, description = "UUIDv4 of the ISA")), request_body = NotificationParameters,
    responses((status = 204, description = "Taken"), crate::responses::BadRequest, crate::responses::Unauthorized, (status = 403, description = "The token lacks dss.write.identification_service_areas, or the sender does not own the ISA", body = entente_wire::ErrorResponse), (status = 409, description = "This version arrived before with other content", body = entente_wire::ErrorResponse)))]
pub(crate) async fn notified_isa(
    State(st): State<Arc<UssState>>,
    auth: Auth,
    Path(id): Path<String>,
    body: Body,
) -> Result<StatusCode, ApiError> {
    let caller = auth.rid(&[WRITE])?;
    let id = entity_id(&id, "id")?.to_string();
    let n: NotificationParameters = body.json()?;
    let area = n.service_area.as_ref().map(summary).transpose()?;
    let extents = n.extents.as_ref().map(|e| volume_in(e, "extents", MAX_VERTICES)).transpose()?;
    let told: Vec<(String, i32)> =
        n.subscriptions.iter().map(|s| (s.subscription_id.clone(), s.notification_index)).collect();
    dp::take_notification(&st, &caller.manager, &id, area, extents, &told)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flights_convert_to_f3411_19_and_back() -> Result<(), ApiError> {
        let answer: GetFlightsResponse = serde_json::from_value(serde_json::json!({
            "timestamp": {"value": "2030-01-01T12:00:00Z", "format": "RFC3339"},
            "flights": [{"id": "f1", "aircraft_type": "NotDeclared", "simulated": true,
                "current_state": {"timestamp": {"value": "2030-01-01T11:59:59Z", "format": "RFC3339"},
                    "timestamp_accuracy": 0.0, "speed": 4.0, "track": 90.0, "vertical_speed": 0.5, "speed_accuracy": "SAUnknown",
                    "position": {"lat": 46.5, "lng": 7.0, "alt": 60.0, "accuracy_h": "HA3m", "accuracy_v": "VA10m"}},
                "recent_positions": [{"time": {"value": "2030-01-01T11:59:58Z", "format": "RFC3339"},
                    "position": {"lat": 46.49, "lng": 7.0, "alt": 59.0}}]}],
            "no_isas_present": false
        }))
        .map_err(|e| ApiError::bad(e.to_string()))?;
        let v19 = flights_out(&answer)?;
        assert_eq!(v19["timestamp"], "2030-01-01T12:00:00Z");
        assert_eq!(v19["flights"][0]["current_state"]["timestamp"], "2030-01-01T11:59:59Z");
        assert_eq!(v19["flights"][0]["current_state"]["accuracy_h"], "HA3m");
        assert!(v19["flights"][0]["current_state"]["position"].get("accuracy_v").is_none());
        assert_eq!(v19["flights"][0]["recent_positions"][0]["time"], "2030-01-01T11:59:58Z");
        let back = serde_json::to_value(flights_in(v19)?).map_err(|e| ApiError::bad(e.to_string()))?;
        assert_eq!(back, serde_json::to_value(&answer).map_err(|e| ApiError::bad(e.to_string()))?);
        Ok(())
    }
}
