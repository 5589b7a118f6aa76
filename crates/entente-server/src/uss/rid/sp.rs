//! The Remote ID service provider: the ISAs over this USS's active flights and replayed traffic (one per cluster of
//! nearby aircraft, each within the DSS's area limit), kept at the DSS and announced to their subscribers, the
//! cleaning of ISAs an earlier run left, and the positions served to display providers.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use chrono::Duration;
use entente_uss::rid::{
    Fix, NEAR_REAL_TIME_S, V22A_VIEWS, View, isa_clusters, merge_fixes, recent_in_view, seen_in,
};
use entente_uss::store::{Table, UssStore};
use entente_uss::{FlightState, Timestamp, Volume};
use entente_wire::rid::v22a::{
    GetFlightDetailsResponse, GetFlightsResponse, GetIdentificationServiceAreaDetailsResponse, RidFlight,
    RidFlightDetails, RidRecentAircraftPosition,
};
use entente_wire::{time_out, volume_out};
use reqwest::Method;
use serde::{Deserialize, Serialize};

use super::protocol::IsaChanged;
use super::{Motion, position_out, state_out};
use crate::error::ApiError;
use crate::extract::{Auth, entity_id};
use crate::rid::v22a::DP;
use crate::rid::{Params, params};
use crate::uss::{UssState, records, saved_by};

/// One aircraft this SP reports: an operator's flight, or replayed traffic (`simulated`).
pub(crate) struct SpTrack {
    fixes: Vec<Fix<Motion>>,
    simulated: bool,
    /// Where and until when it flies, for the ISA.
    area: Vec<Volume>,
    /// When it stopped flying; the ISA and its positions stay for the retention after.
    ended: Option<Timestamp>,
    /// An injected test flight's: the test, its declared aircraft type and its details from each time on.
    injected: Option<Injected>,
}

pub(super) struct Injected {
    pub test: String,
    pub aircraft_type: Option<String>,
    pub details: Vec<(Timestamp, RidFlightDetails)>,
}

impl SpTrack {
    fn new(simulated: bool) -> SpTrack {
        SpTrack { fixes: Vec::new(), simulated, area: Vec::new(), ended: None, injected: None }
    }

    fn aircraft_type(&self) -> String {
        self.injected
            .as_ref()
            .and_then(|i| i.aircraft_type.clone())
            .unwrap_or_else(|| "NotDeclared".to_owned())
    }
}

#[derive(Clone)]
struct HeldIsa {
    id: String,
    version: String,
    extent: Volume,
    /// The aircraft it was declared for: as clusters change, each keeps the ISA that shares most of its aircraft.
    members: BTreeSet<String>,
}

/// An ISA this USS declared, as its store keeps it across restarts until the DSS no longer holds it.
#[derive(Serialize, Deserialize)]
pub(crate) struct DeclaredIsa {
    declared: Timestamp,
}

pub(crate) struct Provider {
    tracks: HashMap<String, SpTrack>,
    isas: Vec<HeldIsa>,
    /// ISAs an earlier run of this USS declared and may have left at the DSS: deleted before this run declares.
    earlier: Vec<String>,
}

impl Provider {
    /// The provider of a USS that keeps its ISAs' ids in `store`; the ISAs found there are an earlier run's.
    pub(crate) fn open(store: &dyn UssStore) -> std::io::Result<Provider> {
        let saved = records::load::<DeclaredIsa>(store, Table::Isas)?;
        Ok(Provider {
            tracks: HashMap::new(),
            isas: Vec::new(),
            earlier: saved.into_iter().map(|(id, _)| id).collect(),
        })
    }
}

/// Records in the store that ISA `id` was declared at `declared` (`None`: it is gone from the DSS), on disk before
/// returning. Every ISA declared and not yet known deleted is kept: written before the DSS hears of it, so a run
/// killed at any point leaves its successor every ISA to clean.
async fn remember(st: &UssState, id: &str, declared: Option<Timestamp>) {
    let record = declared.map(|declared| DeclaredIsa { declared });
    let write = records::write(Table::Isas, id.to_owned(), record.as_ref());
    if let Err(e) = saved_by(st.save(write.map(|w| vec![w]))).await {
        tracing::error!(isa = id, error = %e, "saving this USS's ISA ids failed");
    }
}

/// Keeps a position of aircraft `id` (its last minute is what display providers may be served).
pub(super) fn record(st: &UssState, id: &str, fix: Fix<Motion>, simulated: bool) {
    let mut sp = st.rid.sp.lock();
    let track = sp.tracks.entry(id.to_owned()).or_insert_with(|| SpTrack::new(simulated));
    merge_fixes(&mut track.fixes, vec![fix], st.now(), Duration::seconds(NEAR_REAL_TIME_S));
}

/// Announces replayed aircraft `id` flying within `area`, so the ISA covers it before its first position.
pub(super) fn add_replayed(st: &UssState, id: &str, area: Volume) {
    let mut sp = st.rid.sp.lock();
    let track = sp.tracks.entry(id.to_owned()).or_insert_with(|| SpTrack::new(true));
    track.area = vec![area];
    track.ended = None;
}

/// Announces injected test flight `id` flying within `area`.
pub(super) fn add_injected(st: &UssState, id: &str, area: Volume, injected: Injected) {
    let mut sp = st.rid.sp.lock();
    let mut track = SpTrack::new(true);
    track.area = vec![area];
    track.injected = Some(injected);
    sp.tracks.insert(id.to_owned(), track);
}

/// Forgets every flight of injected test `test` at once, as its deletion asks.
pub(super) fn remove_test(st: &UssState, test: &str) {
    st.rid.sp.lock().tracks.retain(|_, t| t.injected.as_ref().is_none_or(|i| i.test != test));
}

/// Replayed aircraft `id` has played its last sample.
pub(super) fn end_replayed(st: &UssState, id: &str) {
    if let Some(track) = st.rid.sp.lock().tracks.get_mut(id) {
        track.ended = Some(st.now());
    }
}

/// The flights that make this USS an SP: its operators' flights while they fly.
fn flying(state: FlightState) -> bool {
    matches!(state, FlightState::Activated | FlightState::Nonconforming | FlightState::Contingent)
}

/// Brings the ISAs in line with what flies: the ISAs an earlier run left are deleted first; then one ISA per
/// cluster of nearby aircraft (`entente_uss::rid::isa_clusters`), created when a cluster appears, updated as it
/// changes, deleted once its last aircraft ended and the retention passed. Subscribers hear of each change. An ISA
/// the DSS refuses does not hold up the others; the first failure is returned once all were tried.
pub(crate) async fn sync_isa(st: &Arc<UssState>) -> Result<(), ApiError> {
    let _guard = st.rid.isa_sync.lock().await;
    let cleaned = clean_earlier(st).await;
    let now = st.now();
    let retention = st.config.rid.retention;
    let active: HashMap<String, Vec<Volume>> = st.core.flights.read(|flights| {
        flights
            .iter()
            .filter(|(_, f)| flying(f.state))
            .map(|(id, f)| (id.to_string(), f.all_volumes().cloned().collect()))
            .collect()
    });
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
        // In the order of the aircraft's ids, so the clusters stay the same from one round to the next.
        let ordered: BTreeMap<&String, &SpTrack> = sp.tracks.iter().collect();
        let (owners, areas): (Vec<&String>, Vec<Volume>) = ordered
            .into_iter()
            .flat_map(|(id, t)| {
                t.area.iter().map(move |v| {
                    let mut v = v.clone();
                    // An ended flight is declared until it ended; one flying late, at least until now.
                    v.time.hi = t.ended.or_else(|| v.time.hi.map(|hi| hi.max(now)));
                    (id, v)
                })
            })
            .unzip();
        let desired: Vec<(Volume, BTreeSet<String>)> = isa_clusters(
            &areas,
            now,
            retention,
            st.config.rid.isa_margin_m,
            st.config.dss_limits.max_area_m2,
        )
        .into_iter()
        .map(|c| (c.extent, c.members.iter().map(|&m| owners[m].clone()).collect()))
        .collect();
        (desired, sp.isas.clone())
    };
    let (changes, gone) = assign(desired, held);
    let mut first_error = cleaned.err();
    for (held, mut extent, members) in changes {
        let outcome = match held {
            Some(h) => {
                // The start stays as first declared: the DSS refuses a start moved into the past.
                extent.time.lo = h.extent.time.lo;
                if volume_out(&extent) == volume_out(&h.extent) {
                    if let Some(kept) = st.rid.sp.lock().isas.iter_mut().find(|i| i.id == h.id) {
                        kept.members = members;
                    }
                    continue;
                }
                put_isa(st, Some(h), extent, members, now).await
            }
            None => put_isa(st, None, extent, members, now).await,
        };
        if let Err(e) = outcome {
            first_error.get_or_insert(e);
        }
    }
    for held in gone {
        if let Err(e) = delete_isa(st, held).await {
            first_error.get_or_insert(e);
        }
    }
    first_error.map_or(Ok(()), Err)
}

/// Pairs each desired cluster (extent and aircraft) with the held ISA sharing most of its aircraft, each ISA
/// used once; a cluster sharing none gets a new ISA (`None`), and the held ISAs left over are to be deleted.
#[allow(clippy::type_complexity)]
fn assign(
    desired: Vec<(Volume, BTreeSet<String>)>,
    mut held: Vec<HeldIsa>,
) -> (Vec<(Option<HeldIsa>, Volume, BTreeSet<String>)>, Vec<HeldIsa>) {
    let mut changes = Vec::with_capacity(desired.len());
    for (extent, members) in desired {
        let best = held
            .iter()
            .enumerate()
            .map(|(i, h)| (h.members.intersection(&members).count(), i))
            .filter(|(shared, _)| *shared > 0)
            .max_by_key(|&(shared, i)| (shared, std::cmp::Reverse(i)))
            .map(|(_, i)| held.remove(i));
        changes.push((best, extent, members));
    }
    (changes, held)
}

/// Deletes at the DSS every ISA an earlier run of this USS declared (already gone is fine) and tells their
/// subscribers; each one is forgotten once the DSS no longer holds it, and the others are tried again next round.
async fn clean_earlier(st: &Arc<UssState>) -> Result<(), ApiError> {
    let earlier = st.rid.sp.lock().earlier.clone();
    let mut first_error = None;
    for id in earlier {
        match delete_earlier(st, &id).await {
            Ok(()) => {
                st.rid.sp.lock().earlier.retain(|e| *e != id);
                remember(st, &id, None).await;
            }
            Err(e) => {
                tracing::warn!(isa = id, error = %e, "deleting an ISA an earlier run declared failed");
                first_error.get_or_insert(e);
            }
        }
    }
    first_error.map_or(Ok(()), Err)
}

async fn delete_earlier(st: &Arc<UssState>, id: &str) -> Result<(), ApiError> {
    let rid = st.rid.protocol;
    let url = format!("{}{}/identification_service_areas/{id}", st.config.dss_url, rid.dss_prefix());
    let (scope, timeout) = (rid.isa_read_scope(), st.config.dss_timeout);
    let reply = st.client.send_scoped(Method::GET, &url, scope, None::<&()>, timeout).await?;
    if reply.status == 404 {
        return Ok(());
    }
    if !reply.is_success() {
        return Err(reply.unexpected());
    }
    let (owner, version) = rid.isa_owner(&reply)?;
    if owner != st.config.identity {
        // Not this USS's (its id was taken by another writer): nothing of ours to clean.
        return Ok(());
    }
    if let Some(changed) = change_isa(st, id, Some(&version), None).await? {
        tracing::info!(isa = id, "identification service area of an earlier run deleted");
        changed.notify.await;
    }
    Ok(())
}

/// PUTs (with `extent`) or DELETEs the ISA `id` at the DSS in the configured F3411 version. `None`: the DSS no
/// longer holds the version given, and this USS forgets the ISA so the next round declares anew.
async fn change_isa(
    st: &UssState,
    id: &str,
    version: Option<&str>,
    extent: Option<&Volume>,
) -> Result<Option<IsaChanged>, ApiError> {
    let rid = st.rid.protocol;
    let mut url = format!("{}{}/identification_service_areas/{id}", st.config.dss_url, rid.dss_prefix());
    if let Some(version) = version {
        url = format!("{url}/{version}");
    }
    let reply = match extent {
        Some(extent) => rid.put_isa(st, &url, extent).await?,
        None => {
            let (scope, timeout) = (rid.isa_write_scope(), st.config.dss_timeout);
            st.client.send_scoped(Method::DELETE, &url, scope, None::<&()>, timeout).await?
        }
    };
    if version.is_some() && matches!(reply.status, 404 | 409) {
        // The DSS lost or moved past the ISA held (a restart, another writer).
        st.rid.sp.lock().isas.retain(|h| h.id != id);
        return if reply.status == 404 { Ok(None) } else { Err(reply.unexpected()) };
    }
    if !reply.is_success() {
        return Err(reply.unexpected());
    }
    rid.isa_changed(&st.links, id, &reply, extent).map(Some)
}

async fn put_isa(
    st: &Arc<UssState>,
    held: Option<HeldIsa>,
    extent: Volume,
    members: BTreeSet<String>,
    now: Timestamp,
) -> Result<(), ApiError> {
    let id = held.as_ref().map_or_else(|| uuid::Uuid::new_v4().to_string(), |h| h.id.clone());
    if held.is_none() {
        // On disk before the DSS hears of it, so no run can leave it behind unknown to the next.
        remember(st, &id, Some(now)).await;
    }
    let Some(changed) = change_isa(st, &id, held.as_ref().map(|h| h.version.as_str()), Some(&extent)).await?
    else {
        remember(st, &id, None).await;
        return Ok(());
    };
    {
        let mut sp = st.rid.sp.lock();
        sp.isas.retain(|h| h.id != id);
        sp.isas.push(HeldIsa {
            id: id.clone(),
            version: changed.version.clone(),
            extent: extent.clone(),
            members,
        });
    }
    tracing::info!(isa = id, subscribers = changed.subscribers, "identification service area declared");
    changed.notify.await;
    Ok(())
}

async fn delete_isa(st: &Arc<UssState>, held: HeldIsa) -> Result<(), ApiError> {
    let changed = change_isa(st, &held.id, Some(&held.version), None).await?;
    st.rid.sp.lock().isas.retain(|h| h.id != held.id);
    remember(st, &held.id, None).await;
    tracing::info!(isa = held.id, "identification service area deleted");
    if let Some(changed) = changed {
        changed.notify.await;
    }
    Ok(())
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
    flights_out(&st.rid.sp.lock(), view, st.now(), duration)
}

/// The answer to a flights query at `now`: every aircraft with a position of the last minute in the view, its
/// current state, and its recent positions within `duration`.
fn flights_out(sp: &Provider, view: &View, now: Timestamp, duration: Duration) -> GetFlightsResponse {
    let no_isas_present =
        !sp.isas.iter().any(|h| h.extent.outline.bounding_rects().iter().any(|r| r.intersects(&view.rect())));
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
                aircraft_type: t.aircraft_type(),
                current_state: Some(state_out(last)),
                simulated: t.simulated,
                recent_positions: recent,
            })
        })
        .collect();
    flights.sort_by(|a, b| a.id.cmp(&b.id));
    GetFlightsResponse { timestamp: time_out(now), flights, no_isas_present }
}

/// Where each aircraft this SP reports and that still flies is: its last position, or before its first the centre
/// of where it is declared to fly.
pub(super) fn flying_positions(st: &UssState) -> Vec<entente_geo::LatLng> {
    let sp = st.rid.sp.lock();
    sp.tracks
        .values()
        .filter(|t| t.ended.is_none())
        .filter_map(|t| {
            t.fixes.last().map(|f| f.at).or_else(|| {
                let r = t.area.first()?.outline.bounding_rects().into_iter().next()?;
                Some(entente_geo::LatLng::new((r.lat_lo + r.lat_hi) / 2.0, (r.lng_lo + r.lng_hi) / 2.0))
            })
        })
        .collect()
}

/// This SP's own flights, replayed and injected aircraft with their last minute of positions (no provider set).
pub(super) fn tracks(st: &UssState) -> Vec<super::dp::Seen> {
    st.rid
        .sp
        .lock()
        .tracks
        .iter()
        .map(|(id, t)| super::dp::Seen {
            id: id.clone(),
            provider: String::new(),
            simulated: t.simulated,
            aircraft_type: t.aircraft_type(),
            fixes: t.fixes.clone(),
        })
        .collect()
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

/// What this SP tells of flight `id` beyond its positions.
pub(super) fn details(st: &UssState, id: String) -> Result<GetFlightDetailsResponse, ApiError> {
    let sp = st.rid.sp.lock();
    let track = sp.tracks.get(&id).ok_or_else(|| ApiError::NotFound(format!("flight {id}: not found")))?;
    // An injected flight answers with the details effective last; before the first, with the first.
    let now = st.now();
    if let Some(injected) = &track.injected {
        let current = injected.details.iter().filter(|(from, _)| *from <= now).max_by_key(|(from, _)| *from);
        if let Some((_, details)) = current.or(injected.details.first()) {
            return Ok(GetFlightDetailsResponse { details: RidFlightDetails { id, ..details.clone() } });
        }
    }
    let description = if track.simulated { "replayed traffic" } else { "" };
    Ok(GetFlightDetailsResponse {
        details: RidFlightDetails { id, operation_description: description.to_owned(), ..Default::default() },
    })
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
    let sp = st.rid.sp.lock();
    match sp.isas.iter().find(|h| h.id == id) {
        Some(held) => {
            Ok(Json(GetIdentificationServiceAreaDetailsResponse { extents: volume_out(&held.extent) }))
        }
        None => Err(ApiError::NotFound(format!("identification service area {id}: not held by this USS"))),
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
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
            ..Motion::default()
        };
        let mut sp = Provider::open(&entente_uss::store::MemoryStore::default())
            .expect("a provider kept in memory opens");
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
