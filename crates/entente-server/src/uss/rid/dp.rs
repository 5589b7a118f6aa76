//! The Remote ID display provider at the edge: the operator's watches and the ISA notifications SPs send, turned
//! into calls of the core's DP (`entente_uss::service::rid::RidDp`: what is watched and why, the subscriptions,
//! the other SPs' ISAs and the order of their notifications), the polls of SPs a round asks for, the positions
//! merged from their answers, and the display operators read.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::Duration;
use entente_dss::DssError;
use entente_geo::EARTH_RADIUS_M;
use entente_uss::rid::{Fix, NEAR_REAL_TIME_S, Scale, View, clusters, merge_fixes, recent_in_view, seen_in};
use entente_uss::service::rid::{IsaSummary, NotificationRefused, Poll, WatchError, WatchHeld, WatchKind};
use entente_uss::{Timestamp, UssError, Volume};
use entente_wire::operator::{
    DisplayCluster, DisplayFlight, DisplayPosition, DisplayResponse, Watch, WatchList, WatchRequest,
};
use entente_wire::rid::v22a::{GetFlightDetailsResponse, PutIdentificationServiceAreaNotificationParameters};
use entente_wire::{LatLngPoint, time_out, volume_in};
use reqwest::Method;
use tokio::task::JoinSet;

use super::{Motion, fix_in, sp, tactical, v22a};
use crate::error::ApiError;
use crate::extract::{Auth, Body, entity_id};
use crate::rid::v22a::SP;
use crate::rid::{Params, params};
use crate::uss::MAX_VERTICES;
use crate::uss::UssState;
use crate::uss::operator::OPERATOR_SCOPE;

/// How long a watch lasts when the operator does not say.
const DEFAULT_WATCH_S: i64 = 3600;
/// The longest a DSS lets a RID subscription live (NetDSSMaxSubscriptionDuration).
const MAX_WATCH_S: i64 = 86_400;

struct PeerTrack {
    provider: String,
    simulated: bool,
    aircraft_type: String,
    fixes: Vec<Fix<Motion>>,
}

/// The peers' aircraft the polls reported, by where their SP serves flights and their id.
#[derive(Default)]
pub(crate) struct Display {
    tracks: HashMap<(String, String), PeerTrack>,
}

impl Display {
    /// Drops positions older than a minute, and the flights of an SP that no longer declares any live ISA
    /// (`serving`: where those that do serve flights).
    fn prune(&mut self, serving: &HashSet<String>, now: Timestamp) {
        for track in self.tracks.values_mut() {
            merge_fixes(&mut track.fixes, Vec::new(), now, Duration::seconds(NEAR_REAL_TIME_S));
        }
        self.tracks.retain(|(base, _), t| serving.contains(base) && !t.fixes.is_empty());
    }
}

fn watch_out(id: &str, w: &WatchHeld) -> Watch {
    Watch {
        id: id.to_owned(),
        view: w.view.to_param(),
        subscription_id: w.subscription_id.clone(),
        time_end: time_out(w.end),
    }
}

/// The answer to a watch the core's DP could not make or end.
pub(super) fn watch_error(e: WatchError) -> ApiError {
    match e {
        WatchError::TooMany(message) => ApiError::Dss(DssError::TooManySubscriptions(message)),
        WatchError::NotFound(message) => ApiError::NotFound(message),
        WatchError::View(e) => ApiError::Uss(e),
        WatchError::Call(e) => ApiError::Uss(UssError::Call(e)),
    }
}

/// Starts watching an area: a RID subscription at the DSS over it, whose answer names the ISAs already there.
#[utoipa::path(post, path = "/operator/v1/rid/watches", tag = "Operator", request_body = WatchRequest,
    responses((status = 201, description = "Watching", body = Watch), crate::responses::BadRequest, crate::responses::Unauthorized, crate::responses::NotOperator, crate::responses::ViewTooLarge, (status = 429, description = "This USS already holds the most subscriptions allowed over part of the view", body = entente_wire::ErrorResponse), crate::responses::DssFailed))]
pub(crate) async fn start_watch(
    State(st): State<Arc<UssState>>,
    auth: Auth,
    body: Body,
) -> Result<(StatusCode, Json<Watch>), ApiError> {
    auth.require(OPERATOR_SCOPE)?;
    let req: WatchRequest = body.json()?;
    let view = View::parse(&req.view)?;
    view.scale(&st.rid.dp.limits())?;
    let seconds = req.duration_s.unwrap_or(DEFAULT_WATCH_S);
    if !(1..=MAX_WATCH_S).contains(&seconds) {
        return Err(ApiError::bad(format!("duration_s must be from 1 to {MAX_WATCH_S} seconds")));
    }
    let (id, held) = st
        .rid
        .dp
        .subscribe(view, Duration::seconds(seconds), WatchKind::Operator)
        .await
        .map_err(watch_error)?;
    Ok((StatusCode::CREATED, Json(watch_out(&id, &held))))
}

/// Keeps every aircraft this USS flies (its operators' flights and replayed or injected traffic) watched, as the
/// core's DP round does, then polls the SPs it asks for. Peers' aircraft near them are then polled and reach
/// tactical detection with no operator watching.
pub(super) async fn tick(st: &Arc<UssState>) {
    let flying = st.rid.sp.flying_at(sp::last_position);
    let polls = st.rid.dp.tick(&flying).await;
    poll(st, polls).await;
}

/// Polls now every SP whose live ISA meets `view`, for a minute of recent positions there.
pub(super) async fn poll_view(st: &Arc<UssState>, view: View) {
    let bases = st.rid.dp.serving_in(&view);
    let mut tasks = JoinSet::new();
    for base in bases {
        tasks.spawn(poll_one(st.clone(), base, view, true));
    }
    while tasks.join_next().await.is_some() {}
}

#[utoipa::path(get, path = "/operator/v1/rid/watches", tag = "Operator",
    responses((status = 200, description = "The areas watched", body = WatchList), crate::responses::Unauthorized, crate::responses::NotOperator))]
pub(crate) async fn list_watches(
    State(st): State<Arc<UssState>>,
    auth: Auth,
) -> Result<Json<WatchList>, ApiError> {
    auth.require(OPERATOR_SCOPE)?;
    // The watches around this USS's own aircraft are its own business, kept in line with what it flies.
    let watches = st.rid.dp.watches();
    let listed = watches.iter().filter(|(_, w)| w.kind != WatchKind::Flying);
    Ok(Json(WatchList { watches: listed.map(|(id, w)| watch_out(id, w)).collect() }))
}

/// Stops watching: the subscription is deleted at the DSS (already gone there is fine).
#[utoipa::path(delete, path = "/operator/v1/rid/watches/{id}", tag = "Operator", params(("id" = String, Path, description = "Id of the watch")),
    responses((status = 200, description = "No longer watched", body = Watch), crate::responses::Unauthorized, crate::responses::NotOperator, (status = 404, description = "No such watch", body = entente_wire::ErrorResponse), crate::responses::DssFailed))]
pub(crate) async fn end_watch(
    State(st): State<Arc<UssState>>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Json<Watch>, ApiError> {
    auth.require(OPERATOR_SCOPE)?;
    let flying = st.rid.dp.watch(&id).is_some_and(|w| w.kind == WatchKind::Flying);
    if flying {
        return Err(ApiError::NotFound(format!("watch {id}: not found")));
    }
    let held = st.rid.dp.unsubscribe(&id).await.map_err(watch_error)?;
    Ok(Json(watch_out(&id, &held)))
}

/// F3411-22a `POST /uss/identification_service_areas/{id}`: an SP tells of its ISA. Only the ISA's owner may, a
/// notification older than one already taken changes nothing, and one version cannot mean two contents.
#[utoipa::path(post, path = "/uss/identification_service_areas/{id}", tag = "Remote ID (F3411-22a)",
    params(("id" = String, Path, description = "UUIDv4 of the ISA")), request_body = PutIdentificationServiceAreaNotificationParameters,
    responses((status = 204, description = "Taken"), crate::responses::BadRequest, crate::responses::Unauthorized, (status = 403, description = "The token lacks rid.service_provider, or the sender does not own the ISA", body = entente_wire::ErrorResponse), (status = 409, description = "This version arrived before with other content", body = entente_wire::ErrorResponse)))]
pub(crate) async fn notified_isa(
    State(st): State<Arc<UssState>>,
    auth: Auth,
    Path(id): Path<String>,
    body: Body,
) -> Result<StatusCode, ApiError> {
    let caller = auth.rid(&[SP])?;
    let id = entity_id(&id, "id")?.to_string();
    let n: PutIdentificationServiceAreaNotificationParameters = body.json()?;
    let area = n.service_area.as_ref().map(v22a::summary).transpose()?;
    let extents = n.extents.as_ref().map(|e| volume_in(e, "extents", MAX_VERTICES)).transpose()?;
    let told: Vec<(String, i32)> =
        n.subscriptions.iter().map(|s| (s.subscription_id.clone(), s.notification_index)).collect();
    take_notification(&st, &caller.manager, &id, area, extents, &told)
}

/// An ISA notification in either version, from `sender` (the token's subject) about ISA `id`, taken by the core's
/// DP; when it withdrew an ISA, the flights its SP no longer backs are dropped.
pub(super) fn take_notification(
    st: &UssState,
    sender: &str,
    id: &str,
    area: Option<IsaSummary>,
    extents: Option<Volume>,
    told: &[(String, i32)],
) -> Result<StatusCode, ApiError> {
    let withdrew = st.rid.dp.notified(sender, id, area, extents, told).map_err(|e| match e {
        NotificationRefused::Invalid(message) => ApiError::bad(message),
        NotificationRefused::NotOwner(message) => ApiError::Forbidden(message),
        NotificationRefused::Contradicts(message) => ApiError::Conflict(message),
    })?;
    if withdrew {
        st.rid.display.lock().prune(&st.rid.dp.serving(), st.now());
    }
    Ok(StatusCode::NO_CONTENT)
}

/// The polls a round of the core's DP asks for, one per SP, at once.
async fn poll(st: &Arc<UssState>, polls: Vec<Poll>) {
    st.rid.display.lock().prune(&st.rid.dp.serving(), st.now());
    let mut tasks = JoinSet::new();
    for Poll { flights_url, view, first } in polls {
        tasks.spawn(poll_one(st.clone(), flights_url, view, first));
    }
    while tasks.join_next().await.is_some() {}
}

async fn poll_one(st: Arc<UssState>, base: String, view: View, first: bool) {
    let rid = st.rid.protocol;
    let url = format!("{base}?view={}&{}", view.to_param(), rid.flights_query(first));
    let reply =
        st.client.send_scoped(Method::GET, &url, rid.dp_scope(), None::<&()>, st.config.peer_timeout).await;
    let answer = reply.and_then(|r| rid.flights(&r, st.now()));
    let answer = match answer {
        Ok(answer) => answer,
        Err(e) => {
            if st.rid.dp.poll_failed(&base) {
                tracing::warn!(sp = base, error = %e, "polling a Remote ID service provider failed; retrying less often");
            } else {
                tracing::debug!(sp = base, error = %e, "polling a Remote ID service provider failed again");
            }
            return;
        }
    };
    if st.rid.dp.poll_answered(&base) {
        tracing::info!(sp = base, "a Remote ID service provider answers again");
    }
    let now = st.now();
    let mut fresh = Vec::new();
    {
        let provider = st.rid.dp.provider(&base);
        let mut dp = st.rid.display.lock();
        let reported: HashSet<&str> = answer.flights.iter().map(|f| f.id.as_str()).collect();
        // A flight last seen in this view that the SP no longer reports there has left it or ended.
        dp.tracks.retain(|(b, id), t| {
            *b != base
                || reported.contains(id.as_str())
                || t.fixes.last().is_none_or(|f| !view.contains(f.at))
        });
        for flight in &answer.flights {
            // The current state first: at an instant also listed as a recent position, it carries the velocity.
            let current = flight.current_state.iter().map(|s| fix_in(&s.timestamp, &s.position, Some(s)));
            let recent = flight.recent_positions.iter().map(|r| fix_in(&r.time, &r.position, None));
            let incoming: Vec<Fix<Motion>> = current.chain(recent).filter_map(Result::ok).collect();
            let track = dp.tracks.entry((base.clone(), flight.id.clone())).or_insert_with(|| PeerTrack {
                provider: provider.clone(),
                simulated: flight.simulated,
                aircraft_type: flight.aircraft_type.clone(),
                fixes: Vec::new(),
            });
            let before = track.fixes.last().map(|f| f.time);
            merge_fixes(&mut track.fixes, incoming, now, Duration::seconds(NEAR_REAL_TIME_S));
            if let Some(last) = track.fixes.last()
                && Some(last.time) != before
            {
                fresh.push((flight.id.clone(), last.clone()));
            }
        }
    }
    for (id, fix) in fresh {
        tactical::observe(&st, &id, &fix);
    }
}

fn position_out(fix: &Fix<Motion>, now: Timestamp) -> DisplayPosition {
    DisplayPosition {
        time: time_out(fix.time),
        lat: fix.at.lat,
        lng: fix.at.lng,
        alt_m: fix.data.alt_m,
        age_s: (now - fix.time).num_milliseconds() as f64 / 1000.0,
        accuracy_h: fix.data.accuracy_h.clone(),
        accuracy_v: fix.data.accuracy_v.clone(),
    }
}

fn cluster_out(c: &entente_uss::rid::Cluster) -> DisplayCluster {
    let r = c.rect;
    let height_m = (r.lat_hi - r.lat_lo).to_radians() * EARTH_RADIUS_M;
    let width_m = (r.lng_hi - r.lng_lo).to_radians()
        * EARTH_RADIUS_M
        * ((r.lat_lo + r.lat_hi) / 2.0).to_radians().cos();
    DisplayCluster {
        corners: [LatLngPoint { lat: r.lat_lo, lng: r.lng_lo }, LatLngPoint { lat: r.lat_hi, lng: r.lng_hi }],
        area_sqm: height_m * width_m,
        number_of_flights: c.flights,
    }
}

/// What this USS sees in a view: its own flights and peers' merged from their SPs, each with its newest position,
/// how old it is and its trail; in views over 2 km across only clusters.
#[utoipa::path(get, path = "/operator/v1/rid/flights", tag = "Operator",
    params(("view" = String, Query, description = "lat1,lng1,lat2,lng2; diagonal at most 7 km, flights up to 2 km")),
    responses((status = 200, description = "Flights or clusters in the view", body = DisplayResponse), crate::responses::BadRequest, crate::responses::Unauthorized, crate::responses::NotOperator, crate::responses::ViewTooLarge))]
pub(crate) async fn display(
    State(st): State<Arc<UssState>>,
    auth: Auth,
    query: Params,
) -> Result<Json<DisplayResponse>, ApiError> {
    auth.require(OPERATOR_SCOPE)?;
    let p = params(query)?;
    let view =
        View::parse(p.get("view").ok_or_else(|| ApiError::bad("view is required: lat1,lng1,lat2,lng2"))?)?;
    let scale = view.scale(&st.rid.dp.limits())?;
    let now = st.now();
    let seen = seen(&st, &view, now);
    let (flights, clusters) = match scale {
        Scale::Flights => {
            let flights = seen
                .into_iter()
                .filter_map(|Seen { id, provider, simulated, fixes, .. }| {
                    let last = fixes.last()?;
                    let trail = recent_in_view(&fixes, &view, now, Duration::seconds(NEAR_REAL_TIME_S));
                    Some(DisplayFlight {
                        id,
                        provider,
                        simulated,
                        position: position_out(last, now),
                        speed_mps: last.data.speed_mps,
                        track_deg: last.data.track_deg,
                        vertical_speed_mps: last.data.vertical_speed_mps,
                        recent_positions: trail
                            .iter()
                            .filter(|f| f.time < last.time)
                            .map(|f| position_out(f, now))
                            .collect(),
                    })
                })
                .collect();
            (flights, Vec::new())
        }
        Scale::Clusters => (Vec::new(), clusters_in(&view, &seen)),
    };
    Ok(Json(DisplayResponse { timestamp: time_out(now), flights, clusters }))
}

/// An aircraft a display shows: this SP's own or one a peer SP reported.
pub(super) struct Seen {
    pub id: String,
    pub provider: String,
    pub simulated: bool,
    pub aircraft_type: String,
    pub fixes: Vec<Fix<Motion>>,
}

/// Every aircraft, this SP's and peers', with a position in `view` in the last minute.
pub(super) fn seen(st: &UssState, view: &View, now: Timestamp) -> Vec<Seen> {
    let mut seen = sp::tracks(st);
    for s in &mut seen {
        s.provider.clone_from(&st.config.identity);
    }
    seen.extend(st.rid.display.lock().tracks.iter().map(|((_, id), t)| Seen {
        id: id.clone(),
        provider: t.provider.clone(),
        simulated: t.simulated,
        aircraft_type: t.aircraft_type.clone(),
        fixes: t.fixes.clone(),
    }));
    seen.retain(|s| seen_in(&s.fixes, view, now));
    seen
}

/// The clusters a view too large for detail shows of `seen`.
pub(super) fn clusters_in(view: &View, seen: &[Seen]) -> Vec<DisplayCluster> {
    let latest: Vec<_> = seen.iter().filter_map(|s| s.fixes.last().map(|f| f.at)).collect();
    clusters(view, &latest).iter().map(cluster_out).collect()
}

/// Where the SP that reported peer flight `id` serves its details, if a peer reported it.
pub(super) fn details_url(st: &UssState, id: &str) -> Option<String> {
    let display = st.rid.display.lock();
    display.tracks.keys().find(|(_, flight)| flight == id).map(|(base, _)| format!("{base}/{id}/details"))
}

/// Fetches a peer flight's details from `url`, as a display provider.
pub(super) async fn peer_details(st: &UssState, url: &str) -> Result<GetFlightDetailsResponse, ApiError> {
    let scope = st.rid.protocol.dp_scope();
    let reply = st.client.send_scoped(Method::GET, url, scope, None::<&()>, st.config.peer_timeout).await?;
    if !reply.is_success() {
        return Err(reply.unexpected());
    }
    reply.json()
}
