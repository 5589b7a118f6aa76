//! The Remote ID display provider at the edge: the operator's watches and the ISA notifications SPs send, turned
//! into calls of the core (`entente_uss::service::rid`: what is watched and why, the subscriptions, the other
//! SPs' ISAs and the order of their notifications, the peers' aircraft its polls merged), and the display
//! operators read, converted from what the core says a view shows.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::Duration;
use entente_dss::DssError;
use entente_geo::EARTH_RADIUS_M;
use entente_uss::rid::{Fix, NEAR_REAL_TIME_S, Scale, View, recent_in_view};
use entente_uss::service::rid::{
    IsaSummary, NotificationRefused, Seen, WatchError, WatchHeld, WatchKind, clusters_of,
};
use entente_uss::{Timestamp, UssError, Volume};
use entente_wire::operator::{
    DisplayCluster, DisplayFlight, DisplayPosition, DisplayResponse, Watch, WatchList, WatchRequest,
};
use entente_wire::rid::v22a::{GetFlightDetailsResponse, PutIdentificationServiceAreaNotificationParameters};
use entente_wire::{LatLngPoint, time_out, volume_in};
use reqwest::Method;

use super::v22a;
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
    view.scale(&st.core.rid.dp.limits())?;
    let seconds = req.duration_s.unwrap_or(DEFAULT_WATCH_S);
    if !(1..=MAX_WATCH_S).contains(&seconds) {
        return Err(ApiError::bad(format!("duration_s must be from 1 to {MAX_WATCH_S} seconds")));
    }
    let (id, held) = st
        .core
        .rid
        .dp
        .subscribe(view, Duration::seconds(seconds), WatchKind::Operator)
        .await
        .map_err(watch_error)?;
    Ok((StatusCode::CREATED, Json(watch_out(&id, &held))))
}

#[utoipa::path(get, path = "/operator/v1/rid/watches", tag = "Operator",
    responses((status = 200, description = "The areas watched", body = WatchList), crate::responses::Unauthorized, crate::responses::NotOperator))]
pub(crate) async fn list_watches(
    State(st): State<Arc<UssState>>,
    auth: Auth,
) -> Result<Json<WatchList>, ApiError> {
    auth.require(OPERATOR_SCOPE)?;
    // The watches around this USS's own aircraft are its own business, kept in line with what it flies.
    let watches = st.core.rid.dp.watches();
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
    let flying = st.core.rid.dp.watch(&id).is_some_and(|w| w.kind == WatchKind::Flying);
    if flying {
        return Err(ApiError::NotFound(format!("watch {id}: not found")));
    }
    let held = st.core.rid.dp.unsubscribe(&id).await.map_err(watch_error)?;
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

/// An ISA notification in either version, from `sender` (the token's subject) about ISA `id`, taken by the core
/// (which drops the flights an SP no longer backs once it withdrew its ISA).
pub(super) fn take_notification(
    st: &UssState,
    sender: &str,
    id: &str,
    area: Option<IsaSummary>,
    extents: Option<Volume>,
    told: &[(String, i32)],
) -> Result<StatusCode, ApiError> {
    st.core.rid.notified(sender, id, area, extents, told).map_err(|e| match e {
        NotificationRefused::Invalid(message) => ApiError::bad(message),
        NotificationRefused::NotOwner(message) => ApiError::Forbidden(message),
        NotificationRefused::Contradicts(message) => ApiError::Conflict(message),
    })?;
    Ok(StatusCode::NO_CONTENT)
}

fn position_out(fix: &Fix, now: Timestamp) -> DisplayPosition {
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

/// A cluster as the displays show it, with its area on the sphere.
pub(super) fn cluster_out(c: &entente_uss::rid::Cluster) -> DisplayCluster {
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
    let scale = view.scale(&st.core.rid.dp.limits())?;
    let now = st.now();
    let seen = st.core.rid.seen(&view);
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
        Scale::Clusters => (Vec::new(), clusters_of(&view, &seen).iter().map(cluster_out).collect()),
    };
    Ok(Json(DisplayResponse { timestamp: time_out(now), flights, clusters }))
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
