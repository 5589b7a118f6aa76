//! The operator's web map: the page and its assets (embedded in the binary, nothing fetched from the
//! internet), a JSON view of the live airspace, and a server-sent event stream announcing every change.
//!
//! Mounted only when [`AppState::with_map`] enabled it. It needs no token: an `EventSource` cannot send
//! one, and the view holds only what any USS may query (never an OVN). `entente serve` enables it on a
//! loopback address for local operators; `entente dss --map` exposes it wherever the DSS listens.
//! Planning from the map (`operators`) forwards to the USSs the server was given, never to others.

pub(crate) mod operators;

use std::convert::Infallible;
use std::str::FromStr;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Redirect, Response};
use entente_wire::map::{AirspaceQuery, AirspaceView};
use futures_util::Stream;

use crate::app::AppState;
use crate::error::ApiError;
use crate::routes::Routes;

pub use operators::MapOperator;

/// The page forbids every origin but this server (and the operator's basemap server, when one was given:
/// [`content_security_policy`]), so a page that works here works offline. MapLibre needs nothing more: it
/// starts its worker as a module script of this origin (`vendor/maplibre-gl-worker.mjs`, allowed by
/// `default-src 'self'`), and its stylesheet's control icons are `data:` images.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; img-src 'self' data:";

/// The regional basemap: Natural Earth 1:10m water and borders around Lake Geneva as vector tiles in one
/// PMTiles archive, built by `assets/map/region/build.py` (see its README).
const REGION: &[u8] = include_bytes!("../assets/map/region.pmtiles");

/// The map library, built from its npm package into `assets/map/vendor` (`assets/map/build`, see its
/// README) and embedded: (file name, content type, text).
const VENDORED: [(&str, &str, &str); 6] = [
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
    ("pmtiles.js", "text/javascript", include_str!("../assets/map/vendor/pmtiles.js")),
    (
        "pmtiles.LICENSE.txt",
        "text/plain; charset=utf-8",
        include_str!("../assets/map/vendor/pmtiles.LICENSE.txt"),
    ),
];

pub(crate) fn routes() -> Routes<Arc<AppState>> {
    Routes::new()
        .get("/map", to_page)
        .get("/map/", page)
        .get("/map/map.js", script)
        .get("/map/map.css", style)
        .get("/map/basemap.json", basemap)
        .get("/map/region.pmtiles", region)
        .get("/map/places.json", places)
        .get("/map/api/basemap", basemap_url)
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
pub(crate) async fn page(State(state): State<Arc<AppState>>) -> Response {
    asset(&state, "text/html; charset=utf-8", include_str!("../assets/map/index.html"))
}

#[utoipa::path(get, path = "/map/map.js", tag = "Web map", responses((status = 200, description = "Its script")))]
pub(crate) async fn script(State(state): State<Arc<AppState>>) -> Response {
    asset(&state, "text/javascript", include_str!("../assets/map/map.js"))
}

#[utoipa::path(get, path = "/map/map.css", tag = "Web map", responses((status = 200, description = "Its style")))]
pub(crate) async fn style(State(state): State<Arc<AppState>>) -> Response {
    asset(&state, "text/css", include_str!("../assets/map/map.css"))
}

#[utoipa::path(get, path = "/map/basemap.json", tag = "Web map",
    responses((status = 200, description = "Land and borders (Natural Earth 1:50m)")))]
pub(crate) async fn basemap(State(state): State<Arc<AppState>>) -> Response {
    asset(&state, "application/json", include_str!("../assets/map/basemap.json"))
}

#[utoipa::path(get, path = "/map/places.json", tag = "Web map",
    responses((status = 200, description = "The regional basemap's named places (GeoNames, 1000 inhabitants or more, with their other names): GeoJSON points the page draws and searches")))]
pub(crate) async fn places(State(state): State<Arc<AppState>>) -> Response {
    asset(&state, "application/json", include_str!("../assets/map/places.json"))
}

/// The archive whole, or the one byte range a PMTiles reader asks for (it reads the header, then
/// directories and tiles, each by its range).
#[utoipa::path(get, path = "/map/region.pmtiles", tag = "Web map",
    params(("Range" = Option<String>, Header, description = "`bytes=first-last` (or `bytes=first-`): only those bytes, answered 206")),
    responses((status = 200, description = "The regional basemap: Natural Earth 1:10m water and borders around Lake Geneva, vector tiles in a PMTiles archive"),
        (status = 206, description = "The bytes asked for"),
        (status = 416, description = "A range that is not one range within the archive")))]
pub(crate) async fn region(headers: HeaderMap) -> Response {
    let range = headers
        .get(header::RANGE)
        .map(|value| value.to_str().ok().and_then(|text| byte_range(text, REGION.len())));
    let kind = [(header::CONTENT_TYPE, "application/vnd.pmtiles"), (header::ACCEPT_RANGES, "bytes")];
    match range {
        None => (kind, REGION).into_response(),
        Some(Some((first, last))) => {
            let content_range = format!("bytes {first}-{last}/{}", REGION.len());
            (
                StatusCode::PARTIAL_CONTENT,
                kind,
                [(header::CONTENT_RANGE, content_range)],
                &REGION[first..=last],
            )
                .into_response()
        }
        Some(None) => (
            StatusCode::RANGE_NOT_SATISFIABLE,
            [(header::CONTENT_RANGE, format!("bytes */{}", REGION.len()))],
        )
            .into_response(),
    }
}

/// `bytes=first-last` or `bytes=first-` as the inclusive bounds within `len` bytes (a last past the end is
/// cut to it, as RFC 9110 says); `None` for anything else, several ranges included, which a PMTiles reader
/// never asks for.
fn byte_range(text: &str, len: usize) -> Option<(usize, usize)> {
    let (first, last) = text.strip_prefix("bytes=")?.trim().split_once('-')?;
    let first: usize = first.parse().ok()?;
    let last = if last.is_empty() {
        len.checked_sub(1)?
    } else {
        last.parse::<usize>().ok()?.min(len.checked_sub(1)?)
    };
    (first <= last).then_some((first, last))
}

/// Where the operator's own basemap is, when `--basemap-url` gave one: the page draws it instead of the
/// embedded ones.
#[utoipa::path(get, path = "/map/api/basemap", tag = "Web map",
    responses((status = 200, description = "`{\"url\": null}`, or the URL of the operator's tile server (a `{z}/{x}/{y}` template) or PMTiles archive")))]
pub(crate) async fn basemap_url(State(state): State<Arc<AppState>>) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "url": state.map_basemap.as_ref().map(|basemap| basemap.url.as_str()) }))
}

#[utoipa::path(get, path = "/map/vendor/{file}", tag = "Web map",
    params(("file" = String, Path, description = "`maplibre-gl.mjs`, `maplibre-gl-worker.mjs`, `maplibre-gl.css` or `maplibre-gl.LICENSE.txt`")),
    responses((status = 200, description = "The map library (MapLibre GL JS) and its licence"), crate::responses::NotFound))]
pub(crate) async fn vendored(
    State(state): State<Arc<AppState>>,
    Path(file): Path<String>,
) -> Result<Response, ApiError> {
    let (_, content_type, body) = VENDORED
        .iter()
        .find(|(name, _, _)| *name == file)
        .ok_or_else(|| ApiError::NotFound(format!("{file}: the map has no such file")))?;
    Ok(asset(&state, content_type, body))
}

/// Every page resource carries the policy, since MapLibre's worker, a module script, fetches tiles under
/// its own response's policy rather than the page's.
fn asset(state: &AppState, content_type: &'static str, body: &'static str) -> Response {
    let policy = content_security_policy(state.map_basemap.as_ref());
    ([(header::CONTENT_TYPE, content_type)], [(header::CONTENT_SECURITY_POLICY, policy)], body)
        .into_response()
}

/// The policy with the operator's basemap server, when there is one, allowed to be fetched from and to
/// serve images (raster tiles), and nothing else added.
fn content_security_policy(basemap: Option<&BasemapUrl>) -> String {
    match basemap {
        None => CONTENT_SECURITY_POLICY.to_owned(),
        Some(basemap) => {
            let origin = &basemap.origin;
            format!("default-src 'self'; img-src 'self' data: blob: {origin}; connect-src 'self' {origin}")
        }
    }
}

/// The operator's basemap (`--basemap-url`): a raster or vector tile server's `{z}/{x}/{y}` URL template, or
/// a PMTiles archive's URL, and the origin the page's policy must let it reach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BasemapUrl {
    url: String,
    origin: String,
}

impl FromStr for BasemapUrl {
    type Err = String;

    /// An absolute `http` or `https` URL; its origin (scheme, host, port) is what the policy names, so a
    /// URL carrying a character a policy cannot hold (space, `;`, `,`, quote) is refused.
    fn from_str(text: &str) -> Result<BasemapUrl, String> {
        let rest = text
            .strip_prefix("https://")
            .or_else(|| text.strip_prefix("http://"))
            .ok_or_else(|| format!("{text}: a basemap URL starts with http:// or https://"))?;
        if let Some(bad) =
            text.chars().find(|c| c.is_whitespace() || c.is_control() || matches!(c, ';' | ',' | '\'' | '"'))
        {
            return Err(format!("{text}: a basemap URL may not hold {bad:?}"));
        }
        let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
        if host.is_empty() || host.contains('@') {
            return Err(format!("{text}: a basemap URL names a host (and no user)"));
        }
        let scheme_len = text.len() - rest.len();
        Ok(BasemapUrl { url: text.to_owned(), origin: text[..scheme_len + host.len()].to_owned() })
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_byte_range_is_one_range_within_the_archive() {
        assert_eq!(byte_range("bytes=0-16383", 1000), Some((0, 999)));
        assert_eq!(byte_range("bytes=10-19", 1000), Some((10, 19)));
        assert_eq!(byte_range("bytes=990-", 1000), Some((990, 999)));
        for refused in
            ["bytes=1000-1001", "bytes=20-10", "bytes=-10", "bytes=0-1,5-6", "items=0-1", "bytes=x-1"]
        {
            assert_eq!(byte_range(refused, 1000), None, "{refused}");
        }
        assert_eq!(byte_range("bytes=0-", 0), None);
    }

    #[test]
    fn a_basemap_url_names_the_origin_the_page_may_reach() {
        let basemap: BasemapUrl = "https://tiles.example.net:8443/{z}/{x}/{y}.png?key=1".parse().unwrap();
        assert_eq!(basemap.origin, "https://tiles.example.net:8443");
        let policy = content_security_policy(Some(&basemap));
        assert!(policy.contains("connect-src 'self' https://tiles.example.net:8443"), "{policy}");
        assert!(policy.contains("img-src 'self' data: blob: https://tiles.example.net:8443"), "{policy}");
        assert_eq!(content_security_policy(None), CONTENT_SECURITY_POLICY);
        let archive: BasemapUrl = "http://127.0.0.1:8080/swiss.pmtiles".parse().unwrap();
        assert_eq!(archive.origin, "http://127.0.0.1:8080");
        for refused in [
            "ftp://x/a.pmtiles",
            "/local.pmtiles",
            "https:///a",
            "https://u@host/a",
            "https://a b/c",
            "https://a/;x",
        ] {
            assert!(refused.parse::<BasemapUrl>().is_err(), "{refused}");
        }
    }
}
