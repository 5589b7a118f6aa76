//! The router: every API, health, metrics and the OpenAPI document, behind metrics and JSON fallbacks.

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use entente_dss::Dss;
use tokio::sync::watch;
use tower_http::catch_panic::CatchPanicLayer;

use crate::auth::Authenticator;
use crate::client_limit::{ClientLimit, DEFAULT_CLIENT_CONCURRENCY, Limited, per_client};
use crate::error::ApiError;
use crate::extract::Edge;
use crate::listener::ListenerLimits;
use crate::map::{BasemapUrl, MapOperator};
use crate::metrics::Metrics;
use crate::path_params::check_path_params;
use crate::request_id::{Internal, request_id};
use crate::routes::Routes;
use crate::{interuss, lane, map, openapi, rid, scd};

pub struct AppState {
    pub dss: Arc<Dss>,
    pub auth: Arc<Authenticator>,
    pub metrics: Metrics,
    pub body_limit: usize,
    /// Whether the web map and its API (`/map/`) are served.
    pub map: bool,
    /// More Prometheus series appended to `/metrics`, such as those of the USSs `entente serve` mounts beside the
    /// DSS: whoever composes the server decides what one scrape shows.
    pub extra_metrics: Vec<Box<dyn Fn() -> String + Send + Sync>>,
    /// The USSs the map plans for (see [`crate::map`]); none unless given.
    pub map_operators: Vec<MapOperator>,
    /// The operator's own basemap, drawn instead of the embedded ones; none unless given.
    pub map_basemap: Option<BasemapUrl>,
    /// Set when the server begins to shut down, so that endless responses (the map's event stream) end.
    pub closing: watch::Sender<bool>,
    /// The requests each client (token subject) may have in flight at once.
    pub(crate) client_limit: Arc<ClientLimit>,
    /// How the listener treats connections (see [`crate::serve_router`]).
    pub listener_limits: ListenerLimits,
}

impl AppState {
    pub fn new(dss: Arc<Dss>, auth: Arc<Authenticator>, body_limit: usize) -> AppState {
        AppState {
            dss,
            auth,
            metrics: Metrics::default(),
            body_limit,
            map: false,
            extra_metrics: Vec::new(),
            map_operators: Vec::new(),
            map_basemap: None,
            closing: watch::Sender::new(false),
            client_limit: Arc::new(ClientLimit::new(DEFAULT_CLIENT_CONCURRENCY)),
            listener_limits: ListenerLimits::default(),
        }
    }

    /// Serves within `limits` (connections, request heads, body rate) rather than the defaults.
    pub fn with_listener_limits(mut self, limits: ListenerLimits) -> AppState {
        self.listener_limits = limits;
        self
    }

    /// Lets each client (token subject) have at most `max` requests in flight; past it, 429.
    pub fn with_client_concurrency(mut self, max: usize) -> AppState {
        self.client_limit = Arc::new(ClientLimit::new(max));
        self
    }

    /// Also serves the web map; see [`crate::map`] for who may read it.
    pub fn with_map(mut self) -> AppState {
        self.map = true;
        self
    }

    /// Has the map draw the operator's basemap instead of the embedded ones (only when the map is served).
    pub fn with_map_basemap(mut self, basemap: Option<BasemapUrl>) -> AppState {
        self.map_basemap = basemap;
        self
    }

    /// Appends the series `render` returns to every `/metrics` answer.
    pub fn with_metrics(mut self, render: impl Fn() -> String + Send + Sync + 'static) -> AppState {
        self.extra_metrics.push(Box::new(render));
        self
    }

    /// Lets the map plan for `operator` (only when the map is served).
    pub fn with_map_operator(mut self, operator: MapOperator) -> AppState {
        self.map_operators.push(operator);
        self
    }
}

impl Edge for AppState {
    fn authenticator(&self) -> &Authenticator {
        &self.auth
    }

    fn body_limit(&self) -> usize {
        self.body_limit
    }
}

impl Limited for AppState {
    fn client_limit(&self) -> &Arc<ClientLimit> {
        &self.client_limit
    }
}

/// The DSS's routes, and the map's when it is served: what the router serves and the OpenAPI document describes.
pub(crate) fn routes(map: bool) -> Routes<Arc<AppState>> {
    let routes = Routes::new().merge(scd::routes()).merge(rid::routes()).merge(interuss::routes());
    let routes = if map { routes.merge(map::routes()) } else { routes };
    routes.get("/healthy", healthy).get("/metrics", metrics).get("/openapi.json", openapi_document)
}

/// The DSS's router (and the map's, when served). Whoever composes a process may nest more routers in it, such as
/// USSs under `/uss/{name}` (`entente serve`): they keep their own fallbacks, panic guards and audit.
pub fn app(state: Arc<AppState>) -> Router {
    routes(state.map)
        .into_router()
        .fallback(unknown_route)
        .method_not_allowed_fallback(|| async {
            ApiError::MethodNotAllowed("this endpoint does not accept that method".into())
        })
        // Inside out: heavy requests leave for their lane only once their parameters passed and their client was
        // admitted, the metrics count refusals, and every answer gets its request id.
        .layer(middleware::from_fn(lane::heavy_lane))
        .layer(middleware::from_fn_with_state(state.clone(), per_client::<AppState>))
        .layer(middleware::from_fn(check_path_params))
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(middleware::from_fn(request_id))
        .with_state(state.clone())
}

async fn observe(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    let route = req.extensions().get::<MatchedPath>().map_or("unmatched", |p| p.as_str()).to_owned();
    let response = next.run(req).await;
    let elapsed = started.elapsed();
    let status = response.status();
    state.metrics.record(method.as_str(), &route, status.as_u16(), elapsed);
    tracing::debug!(%method, route, status = status.as_u16(), micros = elapsed.as_micros() as u64, "request");
    response
}

/// A path with an empty segment is an endpoint whose id, OVN or version was left out: a bad request, not a
/// missing resource.
async fn unknown_route(uri: Uri) -> ApiError {
    let path = uri.path();
    let api = path.starts_with("/dss/") || path.starts_with("/rid/v2/dss/") || path.starts_with("/v1/dss/");
    if api && (path.ends_with('/') || path.contains("//")) {
        return ApiError::bad(format!("{path}: a path parameter (id, OVN or version) is empty"));
    }
    ApiError::NotFound(format!("{path}: no such endpoint"))
}

/// A bug must not drop the connection without an answer: the client gets a JSON 500 with the request id, the log
/// the details under that id.
pub(crate) fn panic_response(details: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let message = details
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| details.downcast_ref::<&str>().copied())
        .unwrap_or("unknown panic");
    Internal::response(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal error; the request may not have been applied",
        format!("request handler panicked: {message}"),
    )
}

/// Answers while the server runs; load balancers and orchestrators poll it.
#[utoipa::path(get, path = "/healthy", tag = "Operations", security(()),
    responses((status = 200, description = "`ok`", content_type = "text/plain", body = String)))]
pub(crate) async fn healthy() -> &'static str {
    "ok"
}

#[utoipa::path(get, path = "/openapi.json", tag = "Operations", security(()),
    responses((status = 200, description = "This document")))]
pub(crate) async fn openapi_document() -> axum::Json<utoipa::openapi::OpenApi> {
    axum::Json(openapi::document())
}

/// Request counts and latencies per route, entity counts, a pool's write outcomes, and the series the process
/// added (`entente serve`: those of the USSs it mounts, labelled by identity).
#[utoipa::path(get, path = "/metrics", tag = "Operations", security(()),
    responses((status = 200, description = "Prometheus text exposition", content_type = "text/plain", body = String)))]
pub(crate) async fn metrics(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    let (intents, constraints, subscriptions) = state.dss.counts();
    let (isas, rid_subscriptions) = state.dss.rid_counts();
    let mut gauges = vec![
        ("entente_entities", "kind=\"operational_intents\"", intents as f64),
        ("entente_entities", "kind=\"constraints\"", constraints as f64),
        ("entente_entities", "kind=\"subscriptions\"", subscriptions as f64),
        ("entente_entities", "kind=\"identification_service_areas\"", isas as f64),
        ("entente_entities", "kind=\"rid_subscriptions\"", rid_subscriptions as f64),
    ];
    if let Some(pool) = state.dss.pool_stats() {
        gauges.push(("entente_pool_writes", "outcome=\"committed\"", pool.commits as f64));
        gauges.push(("entente_pool_writes", "outcome=\"stale\"", pool.stale as f64));
        gauges.push(("entente_pool_applied_revision", "", state.dss.applied().unwrap_or_default() as f64));
    }
    let mut text = state.metrics.render(&gauges);
    for render in &state.extra_metrics {
        text.push_str(&render());
    }
    (StatusCode::OK, [(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text)
}
