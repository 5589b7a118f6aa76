//! The Remote ID service provider: the ISA over this USS's active flights and replayed traffic, kept at the DSS
//! and announced to its subscribers, and the positions served to display providers.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use chrono::{Duration, Utc};
use entente_uss::rid::{Fix, NEAR_REAL_TIME_S, View, isa_extent, merge_fixes, recent_in_view, seen_in};
use entente_uss::{FlightState, Timestamp, Volume};
use reqwest::Method;

use super::types::{
    GetFlightDetailsResponse, GetFlightsResponse, GetIdentificationServiceAreaDetailsResponse,
    PutIdentificationServiceAreaNotificationParameters, RidFlight, RidFlightDetails,
    RidRecentAircraftPosition,
};
use super::{Motion, position_out, state_out};
use crate::error::ApiError;
use crate::extract::{Auth, entity_id};
use crate::rid::v22a::{ChangeIdentificationServiceAreaResponse, DP, PutParameters, SP};
use crate::rid::{Params, RidSubscriberToNotify, params};
use crate::scd::types::SubscriberToNotify;
use crate::uss::{UssState, peers};
use crate::wire::{time_out, volume_out};

/// One aircraft this SP reports: an operator's flight, or replayed traffic (`simulated`).
pub(crate) struct SpTrack {
    fixes: Vec<Fix<Motion>>,
    simulated: bool,
    /// Where and until when it flies, for the ISA.
    area: Vec<Volume>,
    /// When it stopped flying; the ISA and its positions stay for the retention after.
    ended: Option<Timestamp>,
}

impl SpTrack {
    fn new(simulated: bool) -> SpTrack {
        SpTrack { fixes: Vec::new(), simulated, area: Vec::new(), ended: None }
    }
}

#[derive(Clone)]
struct HeldIsa {
    id: String,
    version: String,
    extent: Volume,
}

#[derive(Default)]
pub(crate) struct Provider {
    tracks: HashMap<String, SpTrack>,
    isa: Option<HeldIsa>,
}

/// Keeps a position of aircraft `id` (its last minute is what display providers may be served).
pub(super) fn record(st: &UssState, id: &str, fix: Fix<Motion>, simulated: bool) {
    let mut sp = st.rid.sp.lock();
    let track = sp.tracks.entry(id.to_owned()).or_insert_with(|| SpTrack::new(simulated));
    merge_fixes(&mut track.fixes, vec![fix], Utc::now(), Duration::seconds(NEAR_REAL_TIME_S));
}

/// Announces replayed aircraft `id` flying within `area`, so the ISA covers it before its first position.
pub(super) fn add_replayed(st: &UssState, id: &str, area: Volume) {
    let mut sp = st.rid.sp.lock();
    let track = sp.tracks.entry(id.to_owned()).or_insert_with(|| SpTrack::new(true));
    track.area = vec![area];
    track.ended = None;
}

/// Replayed aircraft `id` has played its last sample.
pub(super) fn end_replayed(st: &UssState, id: &str) {
    if let Some(track) = st.rid.sp.lock().tracks.get_mut(id) {
        track.ended = Some(Utc::now());
    }
}

/// The flights that make this USS an SP: its operators' flights while they fly.
fn flying(state: FlightState) -> bool {
    matches!(state, FlightState::Activated | FlightState::Nonconforming | FlightState::Contingent)
}

/// Brings the ISA in line with what flies: created when the first flight activates, widened or narrowed as flights
/// change, deleted once the last one ended and the retention passed. Subscribers hear of each change.
pub(crate) async fn sync_isa(st: &Arc<UssState>) -> Result<(), ApiError> {
    let _guard = st.rid.isa_sync.lock().await;
    let now = Utc::now();
    let retention = st.config.rid.retention;
    let active: HashMap<String, Vec<Volume>> = st
        .flights
        .lock()
        .iter()
        .filter(|(_, f)| flying(f.state))
        .map(|(id, f)| (id.to_string(), f.volumes.iter().chain(&f.off_nominal).cloned().collect()))
        .collect();
    let (desired, held) = {
        let mut sp = st.rid.sp.lock();
        for (id, area) in &active {
            let track = sp.tracks.entry(id.clone()).or_insert_with(|| SpTrack::new(false));
            track.area.clone_from(area);
            track.ended = None;
        }
        for (id, track) in &mut sp.tracks {
            if !track.simulated && track.ended.is_none() && !active.contains_key(id) {
                track.ended = Some(now);
            }
        }
        sp.tracks.retain(|_, t| t.ended.is_none_or(|end| end + retention > now));
        let areas: Vec<Volume> = sp
            .tracks
            .values()
            .flat_map(|t| {
                t.area.iter().map(|v| {
                    let mut v = v.clone();
                    // An ended flight is declared until it ended; one flying late, at least until now.
                    v.time.hi = t.ended.or_else(|| v.time.hi.map(|hi| hi.max(now)));
                    v
                })
            })
            .collect();
        (isa_extent(&areas, now, retention, st.config.rid.isa_margin_m), sp.isa.clone())
    };
    match (desired, held) {
        (None, None) => Ok(()),
        (None, Some(held)) => delete_isa(st, held).await,
        (Some(mut desired), held) => {
            if let Some(h) = &held {
                // The start stays as first declared: the DSS refuses a start moved into the past.
                desired.time.lo = h.extent.time.lo;
                if volume_out(&desired) == volume_out(&h.extent) {
                    return Ok(());
                }
            }
            put_isa(st, held, desired).await
        }
    }
}

fn isa_url(st: &UssState, id: &str, version: Option<&str>) -> String {
    let base = format!("{}/rid/v2/dss/identification_service_areas/{id}", st.config.dss_url);
    version.map_or_else(|| base.clone(), |v| format!("{base}/{v}"))
}

async fn put_isa(st: &Arc<UssState>, held: Option<HeldIsa>, extent: Volume) -> Result<(), ApiError> {
    let id = held.as_ref().map_or_else(|| uuid::Uuid::new_v4().to_string(), |h| h.id.clone());
    let url = isa_url(st, &id, held.as_ref().map(|h| h.version.as_str()));
    let params = PutParameters { extents: volume_out(&extent), uss_base_url: st.config.base_url.clone() };
    let reply = st.client.send_scoped(Method::PUT, &url, SP, Some(&params), st.config.dss_timeout).await?;
    if matches!(reply.status, 404 | 409) && held.is_some() {
        // The DSS lost or moved past the ISA held (a restart, another writer): the next round declares anew.
        st.rid.sp.lock().isa = None;
    }
    if !reply.is_success() {
        return Err(reply.unexpected());
    }
    let change: ChangeIdentificationServiceAreaResponse = reply.json()?;
    let version = change.service_area.version.clone();
    st.rid.sp.lock().isa = Some(HeldIsa { id: id.clone(), version, extent: extent.clone() });
    tracing::info!(isa = id, subscribers = change.subscribers.len(), "identification service area declared");
    notify(st, &id, change, Some(volume_out(&extent))).await;
    Ok(())
}

async fn delete_isa(st: &Arc<UssState>, held: HeldIsa) -> Result<(), ApiError> {
    let url = isa_url(st, &held.id, Some(&held.version));
    let reply = st.client.send_scoped(Method::DELETE, &url, SP, None::<&()>, st.config.dss_timeout).await?;
    if reply.status != 404 && !reply.is_success() {
        return Err(reply.unexpected());
    }
    st.rid.sp.lock().isa = None;
    tracing::info!(isa = held.id, "identification service area deleted");
    if reply.status != 404 {
        let change: ChangeIdentificationServiceAreaResponse = reply.json()?;
        notify(st, &held.id, change, None).await;
    }
    Ok(())
}

/// Posts the ISA as it now is (no extents: deleted) to every subscriber the DSS named.
async fn notify(
    st: &Arc<UssState>,
    id: &str,
    change: ChangeIdentificationServiceAreaResponse,
    extents: Option<crate::wire::Volume4D>,
) {
    let subscribers = change
        .subscribers
        .into_iter()
        .map(|s: RidSubscriberToNotify| SubscriberToNotify {
            uss_base_url: s.url,
            subscriptions: s.subscriptions,
        })
        .collect();
    let service_area = extents.is_some().then_some(change.service_area);
    let path = format!("/uss/identification_service_areas/{id}");
    peers::fan_out(st, subscribers, &path, SP, |subscriptions| {
        PutIdentificationServiceAreaNotificationParameters {
            service_area: service_area.clone(),
            subscriptions,
            extents: extents.clone(),
        }
    })
    .await;
}

/// The view and recent-positions window of a flights query.
fn flights_query(query: Params) -> Result<(View, Duration), ApiError> {
    let p = params(query)?;
    let view =
        View::parse(p.get("view").ok_or_else(|| ApiError::bad("view is required: lat1,lng1,lat2,lng2"))?)?;
    view.scale()?;
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
    responses((status = 200, description = "Flights in the view", body = GetFlightsResponse), (status = 400, description = "Invalid input; the message names the field and the rule", body = crate::wire::ErrorResponse), (status = 401, description = "Missing or invalid access token", body = crate::wire::ErrorResponse), (status = 403, description = "The token lacks rid.display_provider", body = crate::wire::ErrorResponse), (status = 413, description = "The view's diagonal exceeds 7 km", body = crate::wire::ErrorResponse)))]
pub(crate) async fn flights(
    State(st): State<Arc<UssState>>,
    auth: Auth,
    query: Params,
) -> Result<Json<GetFlightsResponse>, ApiError> {
    auth.rid(&[DP])?;
    let (view, duration) = flights_query(query)?;
    let sp = st.rid.sp.lock();
    Ok(Json(flights_out(&sp, &view, Utc::now(), duration)))
}

/// The answer to a flights query at `now`: every aircraft with a position of the last minute in the view, its
/// current state, and its recent positions within `duration`.
fn flights_out(sp: &Provider, view: &View, now: Timestamp, duration: Duration) -> GetFlightsResponse {
    let no_isas_present = sp
        .isa
        .as_ref()
        .is_none_or(|h| !h.extent.outline.bounding_rects().iter().any(|r| r.intersects(&view.rect())));
    let mut flights: Vec<RidFlight> = sp
        .tracks
        .iter()
        .filter(|(_, t)| seen_in(&t.fixes, view, now))
        .filter_map(|(id, t)| {
            let last = t.fixes.last()?;
            let recent = if duration > Duration::zero() {
                recent_in_view(&t.fixes, view, now, duration)
                    .into_iter()
                    .map(|f| RidRecentAircraftPosition { time: time_out(f.time), position: position_out(f) })
                    .collect()
            } else {
                Vec::new()
            };
            Some(RidFlight {
                id: id.clone(),
                aircraft_type: "NotDeclared".to_owned(),
                current_state: Some(state_out(last)),
                simulated: t.simulated,
                recent_positions: recent,
            })
        })
        .collect();
    flights.sort_by(|a, b| a.id.cmp(&b.id));
    GetFlightsResponse { timestamp: time_out(now), flights, no_isas_present }
}

/// This SP's own flights and replayed aircraft: id, whether simulated, and their last minute of positions.
pub(super) fn tracks(st: &UssState) -> Vec<(String, bool, Vec<Fix<Motion>>)> {
    st.rid.sp.lock().tracks.iter().map(|(id, t)| (id.clone(), t.simulated, t.fixes.clone())).collect()
}

#[utoipa::path(get, path = "/uss/flights/{id}/details", tag = "Remote ID (F3411-22a)",
    params(("id" = String, Path, description = "Remote ID flight id")),
    responses((status = 200, description = "The flight's details", body = GetFlightDetailsResponse), (status = 401, description = "Missing or invalid access token", body = crate::wire::ErrorResponse), (status = 403, description = "The token lacks rid.display_provider", body = crate::wire::ErrorResponse), (status = 404, description = "No such flight", body = crate::wire::ErrorResponse)))]
pub(crate) async fn flight_details(
    State(st): State<Arc<UssState>>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Json<GetFlightDetailsResponse>, ApiError> {
    auth.rid(&[DP])?;
    let sp = st.rid.sp.lock();
    let track = sp.tracks.get(&id).ok_or_else(|| ApiError::NotFound(format!("flight {id}: not found")))?;
    let description = if track.simulated { "replayed traffic" } else { "" };
    Ok(Json(GetFlightDetailsResponse {
        details: RidFlightDetails { id, operation_description: description.to_owned() },
    }))
}

#[utoipa::path(get, path = "/uss/identification_service_areas/{id}", tag = "Remote ID (F3411-22a)",
    params(("id" = String, Path, description = "UUIDv4 of the ISA")),
    responses((status = 200, description = "The ISA's extents", body = GetIdentificationServiceAreaDetailsResponse), (status = 401, description = "Missing or invalid access token", body = crate::wire::ErrorResponse), (status = 403, description = "The token lacks rid.display_provider", body = crate::wire::ErrorResponse), (status = 404, description = "This SP holds no such ISA", body = crate::wire::ErrorResponse)))]
pub(crate) async fn isa_details(
    State(st): State<Arc<UssState>>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Json<GetIdentificationServiceAreaDetailsResponse>, ApiError> {
    auth.rid(&[DP])?;
    let id = entity_id(&id, "id")?.to_string();
    let sp = st.rid.sp.lock();
    match &sp.isa {
        Some(held) if held.id == id => {
            Ok(Json(GetIdentificationServiceAreaDetailsResponse { extents: volume_out(&held.extent) }))
        }
        _ => Err(ApiError::NotFound(format!("identification service area {id}: not held by this USS"))),
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use entente_geo::LatLng;

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
        };
        let mut sp = Provider::default();
        let mut operated = SpTrack::new(false);
        operated.fixes =
            vec![fix(70, 46.5, Motion::default()), fix(20, 46.5, Motion::default()), fix(2, 46.501, moving)];
        sp.tracks.insert("flight-1".to_owned(), operated);
        let mut replayed = SpTrack::new(true);
        replayed.fixes = vec![fix(1, 46.502, Motion::default())];
        sp.tracks.insert("replayed-1".to_owned(), replayed);
        let mut elsewhere = SpTrack::new(false);
        elsewhere.fixes = vec![fix(1, 47.5, Motion::default())];
        sp.tracks.insert("elsewhere".to_owned(), elsewhere);
        let view = View::parse("46.49,6.99,46.51,7.01")?;
        let answer = flights_out(&sp, &view, now, Duration::seconds(30));
        // No ISA is held, unknown values are the spec's sentinels, and speed and track are brought into range.
        insta::assert_json_snapshot!(answer);
        Ok(())
    }
}
