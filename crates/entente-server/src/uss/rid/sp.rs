//! The Remote ID service provider at the edge: the aircraft the core's SP (`entente_uss::service::rid::RidSp`: their
//! positions, the ISAs over them, the cleaning of an earlier run's) reports, announced as replayed or injected
//! traffic, the records of its ISA ids in this USS's store, and the flights and details served to display
//! providers (an injected flight's details from its test, `testing.rs`).

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use chrono::Duration;
use entente_uss::rid::{V22A_VIEWS, View, recent_in_view, seen_in};
use entente_uss::service::rid::{HeldIsa, IsaRecords, SpAircraft};
use entente_uss::store::{Table, Ticket, UssStore};
use entente_uss::{Timestamp, Volume};
use entente_wire::rid::v22a::{
    GetFlightDetailsResponse, GetFlightsResponse, GetIdentificationServiceAreaDetailsResponse, RidFlight,
    RidFlightDetails, RidRecentAircraftPosition,
};
use entente_wire::{time_out, volume_out};
use serde::{Deserialize, Serialize};

use super::{position_out, state_out};
use crate::error::ApiError;
use crate::extract::{Auth, entity_id};
use crate::rid::v22a::DP;
use crate::rid::{Params, params};
use crate::uss::{Links, UssState, records};

/// What an injected flight's details answer, each from the time it takes effect.
pub(super) type InjectedDetails = Vec<(Timestamp, RidFlightDetails)>;

/// An ISA this USS declared, as its store keeps it across restarts until the DSS no longer holds it.
#[derive(Serialize, Deserialize)]
pub(crate) struct DeclaredIsa {
    declared: Timestamp,
}

/// The ISAs an earlier run of this USS declared and may have left at the DSS, as the store kept them.
pub(crate) fn earlier_isas(store: &dyn UssStore) -> std::io::Result<Vec<String>> {
    let saved = records::load::<DeclaredIsa>(store, Table::Isas)?;
    Ok(saved.into_iter().map(|(id, _)| id).collect())
}

/// The ids of the ISAs this USS declared are records of its store, one per ISA, in `DeclaredIsa`'s JSON.
impl IsaRecords for Links {
    fn save_isa(&self, id: &str, declared: Option<Timestamp>) -> Ticket {
        let record = declared.map(|declared| DeclaredIsa { declared });
        let write = records::write(Table::Isas, id.to_owned(), record.as_ref());
        self.save(write.map(|w| vec![w]))
    }
}

/// Announces replayed aircraft `id` flying within `area`, so the ISA covers it before its first position.
pub(super) fn add_replayed(st: &UssState, id: &str, area: Volume) {
    st.core.rid.sp.with_aircraft(|aircraft| {
        let a = aircraft.entry(id.to_owned()).or_insert_with(|| SpAircraft::new(true));
        a.area = vec![area];
        a.ended = None;
    });
}

/// Announces flight `id` of injected test `test` flying within `area`, declaring `aircraft_type`.
pub(super) fn add_injected(st: &UssState, id: &str, area: Volume, test: &str, aircraft_type: Option<String>) {
    let mut a = SpAircraft::new(true);
    a.area = vec![area];
    a.aircraft_type = aircraft_type;
    a.test = Some(test.to_owned());
    st.core.rid.sp.with_aircraft(|aircraft| aircraft.insert(id.to_owned(), a));
}

/// Forgets every flight of injected test `test` at once, as its deletion asks.
pub(super) fn remove_test(st: &UssState, test: &str) {
    st.core.rid.sp.with_aircraft(|aircraft| {
        aircraft.retain(|_, a| a.test.as_deref() != Some(test));
    });
}

/// The view and recent-positions window of a flights query.
fn flights_query(query: Params) -> Result<(View, Duration), ApiError> {
    let p = params(query)?;
    let view =
        View::parse(p.get("view").ok_or_else(|| ApiError::bad("view is required: lat1,lng1,lat2,lng2"))?)?;
    view.scale(&V22A_VIEWS)?;
    let seconds = match p.get("recent_positions_duration") {
        None => 0.0,
        Some(text) => text.parse::<f64>().ok().filter(|s| (0.0..=60.0).contains(s)).ok_or_else(|| {
            ApiError::bad("recent_positions_duration must be a number of seconds from 0 to 60")
        })?,
    };
    Ok((view, Duration::milliseconds((seconds * 1000.0) as i64)))
}

/// F3411-22a `GET /uss/flights`: every aircraft with a position of the last minute in the view.
#[utoipa::path(get, path = "/uss/flights", tag = "Remote ID (F3411-22a)",
    params(("view" = String, Query, description = "lat1,lng1,lat2,lng2; diagonal at most 7 km"),
        ("recent_positions_duration" = Option<f64>, Query, description = "Seconds of recent positions, 0 to 60")),
    responses((status = 200, description = "Flights in the view", body = GetFlightsResponse), crate::responses::BadRequest, crate::responses::Unauthorized, crate::responses::NotDisplayProvider, crate::responses::ViewTooLarge))]
pub(crate) async fn flights(
    State(st): State<Arc<UssState>>,
    auth: Auth,
    query: Params,
) -> Result<Json<GetFlightsResponse>, ApiError> {
    auth.rid(&[DP])?;
    let (view, duration) = flights_query(query)?;
    Ok(Json(flights_now(&st, &view, duration)))
}

/// The answer to a flights query, now.
pub(super) fn flights_now(st: &UssState, view: &View, duration: Duration) -> GetFlightsResponse {
    let now = st.now();
    st.core.rid.sp.read(|aircraft, isas| flights_out(aircraft, isas, view, now, duration))
}

/// The answer to a flights query at `now`: every aircraft with a position of the last minute in the view, its
/// current state, and its recent positions within `duration`.
fn flights_out(
    aircraft: &HashMap<String, SpAircraft>,
    isas: &[HeldIsa],
    view: &View,
    now: Timestamp,
    duration: Duration,
) -> GetFlightsResponse {
    let no_isas_present =
        !isas.iter().any(|h| h.extent.outline.bounding_rects().iter().any(|r| r.intersects(&view.rect())));
    let mut flights: Vec<RidFlight> = aircraft
        .iter()
        .filter(|(_, a)| seen_in(&a.fixes, view, now))
        .filter_map(|(id, a)| {
            let last = a.fixes.last()?;
            let recent = if duration > Duration::zero() {
                recent_in_view(&a.fixes, view, now, duration)
                    .into_iter()
                    .map(|f| RidRecentAircraftPosition { time: time_out(f.time), position: position_out(f) })
                    .collect()
            } else {
                Vec::new()
            };
            Some(RidFlight {
                id: id.clone(),
                aircraft_type: a.declared_type(),
                current_state: Some(state_out(last)),
                simulated: a.simulated,
                recent_positions: recent,
            })
        })
        .collect();
    flights.sort_by(|a, b| a.id.cmp(&b.id));
    GetFlightsResponse { timestamp: time_out(now), flights, no_isas_present }
}

#[utoipa::path(get, path = "/uss/flights/{id}/details", tag = "Remote ID (F3411-22a)",
    params(("id" = String, Path, description = "Remote ID flight id")),
    responses((status = 200, description = "The flight's details", body = GetFlightDetailsResponse), crate::responses::Unauthorized, crate::responses::NotDisplayProvider, crate::responses::NoSuchFlight))]
pub(crate) async fn flight_details(
    State(st): State<Arc<UssState>>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Json<GetFlightDetailsResponse>, ApiError> {
    auth.rid(&[DP])?;
    Ok(Json(details(&st, id)?))
}

/// What this SP tells of flight `id` beyond its positions: an injected flight's declarations, kept with its test.
pub(super) fn details(st: &UssState, id: String) -> Result<GetFlightDetailsResponse, ApiError> {
    let now = st.now();
    let found = st.core.rid.sp.read(|aircraft, _| aircraft.get(&id).map(|a| (a.simulated, a.test.clone())));
    let (simulated, test) = found.ok_or_else(|| ApiError::NotFound(format!("flight {id}: not found")))?;
    let injected =
        test.and_then(|test| st.rid.tests.lock().get(&test).and_then(|t| t.details.get(&id)).cloned());
    Ok(details_of(simulated, injected.as_deref(), id, now))
}

/// The details of flight `id` at `now`: an injected one's effective last (before the first, its first); otherwise
/// what replayed traffic or an operator's flight says of itself.
fn details_of(
    simulated: bool,
    injected: Option<&[(Timestamp, RidFlightDetails)]>,
    id: String,
    now: Timestamp,
) -> GetFlightDetailsResponse {
    if let Some(injected) = injected {
        let current = injected.iter().filter(|(from, _)| *from <= now).max_by_key(|(from, _)| *from);
        if let Some((_, details)) = current.or(injected.first()) {
            return GetFlightDetailsResponse { details: RidFlightDetails { id, ..details.clone() } };
        }
    }
    let description = if simulated { "replayed traffic" } else { "" };
    GetFlightDetailsResponse {
        details: RidFlightDetails { id, operation_description: description.to_owned(), ..Default::default() },
    }
}

#[utoipa::path(get, path = "/uss/identification_service_areas/{id}", tag = "Remote ID (F3411-22a)",
    params(("id" = String, Path, description = "UUIDv4 of the ISA")),
    responses((status = 200, description = "The ISA's extents", body = GetIdentificationServiceAreaDetailsResponse), crate::responses::Unauthorized, crate::responses::NotDisplayProvider, (status = 404, description = "This SP holds no such ISA", body = entente_wire::ErrorResponse)))]
pub(crate) async fn isa_details(
    State(st): State<Arc<UssState>>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Json<GetIdentificationServiceAreaDetailsResponse>, ApiError> {
    auth.rid(&[DP])?;
    let id = entity_id(&id, "id")?.to_string();
    match st.core.rid.sp.read(|_, isas| isas.iter().find(|h| h.id == id).map(|h| volume_out(&h.extent))) {
        Some(extents) => Ok(Json(GetIdentificationServiceAreaDetailsResponse { extents })),
        None => Err(ApiError::NotFound(format!("identification service area {id}: not held by this USS"))),
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use entente_geo::LatLng;
    use entente_uss::rid::{Fix, Motion};

    use super::*;

    #[test]
    fn flights_answer_snapshot() -> Result<(), entente_uss::UssError> {
        let now = Utc.with_ymd_and_hms(2030, 1, 1, 12, 0, 0).single().unwrap_or_default();
        let fix = |seconds_ago: i64, lat: f64, motion: Motion| Fix {
            time: now - Duration::seconds(seconds_ago),
            at: LatLng::new(lat, 7.0),
            data: motion,
        };
        let moving = Motion {
            alt_m: Some(61.5),
            accuracy_h: Some("HA3m".to_owned()),
            accuracy_v: Some("VA10m".to_owned()),
            speed_mps: Some(300.0),
            track_deg: Some(-90.0),
            vertical_speed_mps: Some(-1.5),
            ..Motion::default()
        };
        let mut aircraft = HashMap::new();
        let mut operated = SpAircraft::new(false);
        operated.fixes =
            vec![fix(70, 46.5, Motion::default()), fix(20, 46.5, Motion::default()), fix(2, 46.501, moving)];
        aircraft.insert("flight-1".to_owned(), operated);
        let mut replayed = SpAircraft::new(true);
        replayed.fixes = vec![fix(1, 46.502, Motion::default())];
        aircraft.insert("replayed-1".to_owned(), replayed);
        let mut elsewhere = SpAircraft::new(false);
        elsewhere.fixes = vec![fix(1, 47.5, Motion::default())];
        aircraft.insert("elsewhere".to_owned(), elsewhere);
        let view = View::parse("46.49,6.99,46.51,7.01")?;
        let answer = flights_out(&aircraft, &[], &view, now, Duration::seconds(30));
        // No ISA is held, unknown values are the spec's sentinels, and speed and track are brought into range.
        insta::assert_json_snapshot!(answer);
        Ok(())
    }
}
