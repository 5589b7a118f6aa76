//! The operator's web map: the page and its assets (embedded in the binary, nothing fetched from the
//! internet), a JSON view of the live airspace, and a server-sent event stream announcing every change.
//!
//! Mounted only when [`AppState::with_map`] enabled it. It needs no token: an `EventSource` cannot send
//! one, and the view holds only what any USS may query (never an OVN). `entente serve` enables it on a
//! loopback address for local operators; `entente dss --map` exposes it wherever the DSS listens.
//! Planning from the map (`operators`) forwards to the USSs the server was given, never to others.

pub(crate) mod operators;

use std::convert::Infallible;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Redirect, Response};
use entente_dss::{Picture, Shown, Timestamp, Volume};
use entente_geo::Outline;
use entente_wire::scd::OperationalIntentState;
use futures_util::Stream;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::app::AppState;
use crate::error::ApiError;
use crate::routes::Routes;

pub use operators::MapOperator;

/// The page forbids every origin but this server, so a page that works here works offline.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; img-src 'self' data:";

pub(crate) fn routes() -> Routes<Arc<AppState>> {
    Routes::new()
        .get("/map", to_page)
        .get("/map/", page)
        .get("/map/map.js", script)
        .get("/map/map.css", style)
        .get("/map/basemap.json", basemap)
        .get("/map/api/airspace", airspace)
        .get("/map/api/events", events)
        .merge(operators::routes())
}

#[utoipa::path(get, path = "/map", tag = "Web map", responses((status = 308, description = "To /map/")))]
pub(crate) async fn to_page() -> Redirect {
    Redirect::permanent("/map/")
}

#[utoipa::path(get, path = "/map/", tag = "Web map", responses((status = 200, description = "The page (HTML)")))]
pub(crate) async fn page() -> Response {
    asset("text/html; charset=utf-8", include_str!("../assets/map/index.html"))
}

#[utoipa::path(get, path = "/map/map.js", tag = "Web map", responses((status = 200, description = "Its script")))]
pub(crate) async fn script() -> Response {
    asset("text/javascript", include_str!("../assets/map/map.js"))
}

#[utoipa::path(get, path = "/map/map.css", tag = "Web map", responses((status = 200, description = "Its style")))]
pub(crate) async fn style() -> Response {
    asset("text/css", include_str!("../assets/map/map.css"))
}

#[utoipa::path(get, path = "/map/basemap.json", tag = "Web map",
    responses((status = 200, description = "Land and borders (Natural Earth 1:50m)")))]
pub(crate) async fn basemap() -> Response {
    asset("application/json", include_str!("../assets/map/basemap.json"))
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type), (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY)], body)
        .into_response()
}

#[derive(Deserialize)]
pub(crate) struct AirspaceQuery {
    /// RFC 3339 instant: only the volumes in force then are shown.
    at: Option<String>,
}

#[utoipa::path(get, path = "/map/api/airspace", tag = "Web map",
    params(("at" = Option<String>, Query, description = "RFC 3339 instant: only the volumes in force then")),
    responses((status = 200, description = "Every live entity with its volumes and the pairs of intents that meet, never an OVN"),
        (status = 400, description = "`at` is not an RFC 3339 instant", body = entente_wire::ErrorResponse)))]
pub(crate) async fn airspace(
    State(state): State<Arc<AppState>>,
    Query(query): Query<AirspaceQuery>,
) -> Result<Json<AirspaceView>, ApiError> {
    let at = match query.at.as_deref() {
        None | Some("") => None,
        Some(text) => Some(entente_wire::parse_rfc3339(text, "at")?),
    };
    Ok(Json(view(&state.dss.picture(at).await?)))
}

/// One `airspace` event at once (so a page knows it is connected and loads), then one after each change;
/// changes that arrive together are announced once. The stream ends when the server shuts down, so open
/// pages do not hold up a graceful stop.
#[utoipa::path(get, path = "/map/api/events", tag = "Web map",
    responses((status = 200, description = "Server-sent events: one `airspace` event now and after each change")))]
pub(crate) async fn events(
    State(state): State<Arc<AppState>>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let changes = state.dss.changes();
    let closing = state.closing.subscribe();
    let stream = futures_util::stream::unfold(
        (changes, closing, true),
        |(mut changes, mut closing, first)| async move {
            if !first {
                tokio::select! {
                    changed = changes.changed() => changed.ok()?,
                    _ = closing.wait_for(|closing| *closing) => return None,
                }
            }
            let counter = *changes.borrow_and_update();
            let event = Event::default().event("airspace").data(counter.to_string());
            Some((Ok(event), (changes, closing, false)))
        },
    );
    Sse::new(stream).keep_alive(KeepAlive::default())
}

/// What the page draws; ids are UUIDs, times RFC 3339, altitudes metres WGS84, positions `[lng, lat]`
/// as in GeoJSON.
#[derive(Serialize)]
pub(crate) struct AirspaceView {
    taken_at: Timestamp,
    at: Option<Timestamp>,
    operational_intents: Vec<IntentOut>,
    constraints: Vec<ConstraintOut>,
    subscriptions: Vec<SubscriptionOut>,
    identification_service_areas: Vec<IsaOut>,
    /// Pairs of intents meeting in 4D, the lower id first.
    conflicts: Vec<[Uuid; 2]>,
}

#[derive(Serialize)]
struct IntentOut {
    id: Uuid,
    manager: String,
    state: OperationalIntentState,
    version: i32,
    uss_base_url: String,
    subscription_id: Option<Uuid>,
    /// The other intents this one meets in 4D, so the page can flag it without searching the pairs.
    conflicts_with: Vec<Uuid>,
    volumes: Vec<VolumeOut>,
}

#[derive(Serialize)]
struct ConstraintOut {
    id: Uuid,
    manager: String,
    version: i32,
    uss_base_url: String,
    volumes: Vec<VolumeOut>,
}

#[derive(Serialize)]
struct SubscriptionOut {
    id: Uuid,
    manager: String,
    implicit: bool,
    notify_for_operational_intents: bool,
    notify_for_constraints: bool,
    notification_index: i32,
    uss_base_url: String,
    volumes: Vec<VolumeOut>,
}

#[derive(Serialize)]
struct IsaOut {
    id: Uuid,
    owner: String,
    url: String,
    volumes: Vec<VolumeOut>,
}

#[derive(Serialize)]
struct VolumeOut {
    outline: OutlineOut,
    altitude_lower_m: Option<f64>,
    altitude_upper_m: Option<f64>,
    time_start: Option<Timestamp>,
    time_end: Option<Timestamp>,
}

#[derive(Serialize)]
#[serde(tag = "type")]
enum OutlineOut {
    Polygon { coordinates: Vec<[f64; 2]> },
    Circle { center: [f64; 2], radius_m: f64 },
}

pub(crate) fn view(picture: &Picture) -> AirspaceView {
    let conflicts: Vec<[Uuid; 2]> =
        picture.conflicts.iter().map(|(a, b)| [a.as_uuid(), b.as_uuid()]).collect();
    let partners = |id: Uuid| -> Vec<Uuid> {
        conflicts
            .iter()
            .filter_map(|&[a, b]| {
                if a == id {
                    Some(b)
                } else if b == id {
                    Some(a)
                } else {
                    None
                }
            })
            .collect()
    };
    AirspaceView {
        taken_at: picture.taken_at,
        at: picture.at,
        operational_intents: picture
            .operational_intents
            .iter()
            .map(|Shown { entity: o, volumes }| IntentOut {
                id: o.id.as_uuid(),
                manager: o.manager.clone(),
                state: o.state.into(),
                version: o.version,
                uss_base_url: o.uss_base_url.clone(),
                subscription_id: o.subscription_id.map(|s| s.as_uuid()),
                conflicts_with: partners(o.id.as_uuid()),
                volumes: volumes_out(volumes),
            })
            .collect(),
        constraints: picture
            .constraints
            .iter()
            .map(|Shown { entity: c, volumes }| ConstraintOut {
                id: c.id.as_uuid(),
                manager: c.manager.clone(),
                version: c.version,
                uss_base_url: c.uss_base_url.clone(),
                volumes: volumes_out(volumes),
            })
            .collect(),
        subscriptions: picture
            .subscriptions
            .iter()
            .map(|Shown { entity: s, volumes }| SubscriptionOut {
                id: s.id.as_uuid(),
                manager: s.manager.clone(),
                implicit: s.implicit,
                notify_for_operational_intents: s.notify_for_operational_intents,
                notify_for_constraints: s.notify_for_constraints,
                notification_index: s.notification_index,
                uss_base_url: s.uss_base_url.clone(),
                volumes: volumes_out(volumes),
            })
            .collect(),
        identification_service_areas: picture
            .isas
            .iter()
            .map(|Shown { entity: i, volumes }| IsaOut {
                id: i.id.as_uuid(),
                owner: i.owner.clone(),
                url: i.url.url.clone(),
                volumes: volumes_out(volumes),
            })
            .collect(),
        conflicts,
    }
}

fn volumes_out(volumes: &[Volume]) -> Vec<VolumeOut> {
    volumes
        .iter()
        .map(|v| VolumeOut {
            outline: match &v.outline {
                Outline::Polygon(p) => {
                    OutlineOut::Polygon { coordinates: p.vertices().iter().map(|p| [p.lng, p.lat]).collect() }
                }
                Outline::Circle(c) => {
                    OutlineOut::Circle { center: [c.center().lng, c.center().lat], radius_m: c.radius_m() }
                }
            },
            altitude_lower_m: v.altitude.lo,
            altitude_upper_m: v.altitude.hi,
            time_start: v.time.lo,
            time_end: v.time.hi,
        })
        .collect()
}

#[cfg(test)]
mod tests;
