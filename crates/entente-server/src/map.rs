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
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Redirect, Response};
use entente_wire::map::{AirspaceQuery, AirspaceView};
use futures_util::Stream;

use crate::app::AppState;
use crate::error::ApiError;
use crate::routes::Routes;

pub use operators::MapOperator;

/// The page forbids every origin but this server, so a page that works here works offline. MapLibre needs
/// nothing more: it starts its worker as a module script of this origin (`vendor/maplibre-gl-worker.mjs`,
/// allowed by `default-src 'self'`), and its stylesheet's control icons are `data:` images.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; img-src 'self' data:";

/// The map library, built from its npm package into `assets/map/vendor` (`assets/map/build`, see its
/// README) and embedded: (file name, content type, text).
const VENDORED: [(&str, &str, &str); 4] = [
    ("maplibre-gl.mjs", "text/javascript", include_str!("../assets/map/vendor/maplibre-gl.mjs")),
    (
        "maplibre-gl-worker.mjs",
        "text/javascript",
        include_str!("../assets/map/vendor/maplibre-gl-worker.mjs"),
    ),
    ("maplibre-gl.css", "text/css", include_str!("../assets/map/vendor/maplibre-gl.css")),
    (
        "maplibre-gl.LICENSE.txt",
        "text/plain; charset=utf-8",
        include_str!("../assets/map/vendor/maplibre-gl.LICENSE.txt"),
    ),
];

pub(crate) fn routes() -> Routes<Arc<AppState>> {
    Routes::new()
        .get("/map", to_page)
        .get("/map/", page)
        .get("/map/map.js", script)
        .get("/map/map.css", style)
        .get("/map/basemap.json", basemap)
        .get("/map/vendor/{file}", vendored)
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

#[utoipa::path(get, path = "/map/vendor/{file}", tag = "Web map",
    params(("file" = String, Path, description = "`maplibre-gl.mjs`, `maplibre-gl-worker.mjs`, `maplibre-gl.css` or `maplibre-gl.LICENSE.txt`")),
    responses((status = 200, description = "The map library (MapLibre GL JS) and its licence"), crate::responses::NotFound))]
pub(crate) async fn vendored(Path(file): Path<String>) -> Result<Response, ApiError> {
    let (_, content_type, body) = VENDORED
        .iter()
        .find(|(name, _, _)| *name == file)
        .ok_or_else(|| ApiError::NotFound(format!("{file}: the map has no such file")))?;
    Ok(asset(content_type, body))
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type), (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY)], body)
        .into_response()
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
    Ok(Json(AirspaceView::from_picture(&state.dss.picture(at).await?)))
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
