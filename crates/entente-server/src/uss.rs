//! The USS side of F3548-21: the USS-USS API peers call, the operator API, and the planning that ties them to
//! the DSS. Decisions and the flights' lifecycle are `entente_uss::service::Uss`'s; this module serves them over
//! HTTP and JSON and gives the core its ports (the DSS and peers over HTTP, the store, the audit chain).

mod audit_log;
pub(crate) mod authority;
mod client;
mod download;
mod dss_client;
pub(crate) mod flight_planning;
pub(crate) mod geospatial_map;
pub(crate) mod geozones;
mod group_sync;
mod input;
pub(crate) mod log_sets;
pub(crate) mod operator;
mod peers;
mod ports;
mod records;
pub(crate) mod rid;
mod tokens;
pub(crate) mod uss_api;

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body as HttpBody;
use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use entente_dss::{Clock, Limits, SystemClock};
use entente_uss::geoawareness::ZoneSets;
use entente_uss::service::{Ports, Rules, Saved, Uss, saved_by};
use entente_uss::store::{MemoryStore, StoreError, Ticket, UssStore, Write};
use entente_uss::{ContingencyRules, Direction, Exchange, PriorityPolicy, sha256_hex};
use parking_lot::Mutex;
use tower_http::catch_panic::CatchPanicLayer;

pub use audit_log::{AuditFileError, AuditLog, read_audit_log, verify_audit_log};
pub use download::{DownloadError, DownloadLimits, download_text};
use entente_wire::uss::{Constraint, OperationalIntent};
pub use rid::{RidConfig, RidVersion, declare_flights, replay_csv};
pub use tokens::TokenSource;

use self::client::Client;
use crate::auth::Authenticator;
use crate::client_limit::{ClientLimit, Limited, per_client};
use crate::error::ApiError;
use crate::extract::Edge;
use crate::metrics::UssMetrics;
use crate::routes::Routes;

/// F3548 OiMaxVertices: the most vertices an intent's polygon may have, ours or a peer's.
pub(crate) const MAX_VERTICES: usize = 10_000;

/// How this USS plans: who it is, where it and its DSS are, and the rules it applies.
#[derive(Clone, Debug)]
pub struct UssConfig {
    /// The `sub` of this USS's tokens: the DSS records it as the manager of what this USS writes.
    pub identity: String,
    /// Base URL of this USS's USS-USS API, without a trailing `/`.
    pub base_url: String,
    pub dss_url: String,
    pub policy: PriorityPolicy,
    pub alternatives: AlternativeSearch,
    pub contingency: ContingencyRules,
    /// Deadline of each call to a peer (F3548 MaxRespondToOIDetailsRequest is 1 s).
    pub peer_timeout: Duration,
    pub dss_timeout: Duration,
    /// Attempts per subscriber before a notification is given up.
    pub notify_attempts: u32,
    pub body_limit: usize,
    /// Most requests one client (the `sub` of its token: an operator, a peer, a test harness) may have in flight
    /// at once; past it, 429 with Retry-After, so one caller cannot hold the USS while the others wait.
    pub client_concurrency: usize,
    /// How `serve_uss`'s listener treats connections (a cap, the time for a request's head, the body rate).
    pub listener_limits: crate::ListenerLimits,
    /// The folder of this USS's store (`uss.redb`: its own flights, the restricted zones it manages, the reports
    /// peers filed with it and the ids of its Remote ID ISAs), kept across restarts; the journals an older
    /// release kept there are migrated into it on first start. `None` keeps all that in memory only.
    pub data_dir: Option<PathBuf>,
    /// Remote ID (service and display provider) and tactical conflict detection.
    pub rid: RidConfig,
    /// Where every rule and record of this USS reads the time.
    pub clock: Arc<dyn Clock>,
    /// The limits of the DSS this USS writes to (InterUSS's by default), by which the operator and authority
    /// APIs refuse a caller's volumes before calling it.
    pub dss_limits: Limits,
    /// Which priorities each operator may file through the operator API (403 naming the levels it may use
    /// otherwise); `None` permits every priority below the one that marks constraints. The flight planning test
    /// interface is not subject to it: its caller is a test harness that chooses the priorities of its scenarios.
    pub priority_grants: Option<entente_uss::PriorityGrants>,
    /// The USS serves U-space airspace, where every flight needs a flight authorisation (Regulation (EU) 2021/664,
    /// Article 10): a plan without its authorisation request is refused. Off, the data is checked when given.
    pub require_flight_authorisation: bool,
    /// The ground the zones' AGL limits stand on (the binary opens an operator's elevation tiles); where it has
    /// no data, and with the default `NoTerrain`, they are taken at their widest and flagged `ground_unknown`.
    pub terrain: Arc<dyn entente_geozones::Terrain>,
    /// Whether a geospatial data source may be downloaded over plain http (local testing only); https otherwise.
    pub allow_http_data_sources: bool,
}

pub use entente_uss::service::AlternativeSearch;

/// The largest request body a USS takes unless configured otherwise, and so the largest data set an authority can
/// upload or a download may bring.
pub const DEFAULT_BODY_LIMIT: usize = 1 << 20;

impl UssConfig {
    pub fn new(identity: impl Into<String>, base_url: &str, dss_url: &str) -> UssConfig {
        UssConfig {
            identity: identity.into(),
            base_url: base_url.trim_end_matches('/').to_owned(),
            dss_url: dss_url.trim_end_matches('/').to_owned(),
            policy: PriorityPolicy::default(),
            alternatives: AlternativeSearch::default(),
            contingency: ContingencyRules::default(),
            peer_timeout: Duration::from_secs(1),
            dss_timeout: Duration::from_secs(5),
            notify_attempts: 3,
            body_limit: DEFAULT_BODY_LIMIT,
            client_concurrency: crate::DEFAULT_CLIENT_CONCURRENCY,
            listener_limits: crate::ListenerLimits::default(),
            data_dir: None,
            rid: RidConfig::default(),
            clock: Arc::new(SystemClock),
            dss_limits: Limits::default(),
            priority_grants: None,
            require_flight_authorisation: false,
            terrain: Arc::new(entente_geozones::NoTerrain),
            allow_http_data_sources: false,
        }
    }
}

/// What the USS's handlers and the core's ports share: its configuration, its clients, its store, what it knows of
/// peers' intents and constraints, its audit record and its counters.
pub struct Links {
    config: UssConfig,
    client: Client,
    audit: Arc<AuditLog>,
    /// What this USS keeps across restarts: flights, zones, archived reports, Remote ID ISA ids.
    store: Arc<dyn UssStore>,
    /// Peers' intents as their managers last shared them, by id.
    peers: Mutex<peers::PeerCache<OperationalIntent>>,
    /// Peers' constraints as their managers last shared them, by id: asked again only once their version changed.
    peer_zones: Mutex<peers::PeerCache<Constraint>>,
    /// This USS's Prometheus series (plans, operator notifications, calls, notifications to subscribers).
    pub(crate) metrics: Arc<UssMetrics>,
}

pub struct UssState {
    links: Arc<Links>,
    auth: Arc<Authenticator>,
    /// Requests in flight per client, capped at `UssConfig::client_concurrency`.
    client_limit: Arc<ClientLimit>,
    /// The core: this USS's flights, planned, monitored and ended over the DSS and its peers, its constraints, and
    /// Remote ID as SP and DP with tactical detection (`Uss::rid`).
    pub(crate) core: Uss,
    /// What the edge keeps of Remote ID: the F3411 version spoken, injected tests, notices to operators.
    rid: rid::RidState,
    /// The flight planning test interface's answers, kept for repeated request ids (memory only, like a test run).
    planning_requests: Mutex<flight_planning::AnsweredRequests>,
    /// The geospatial data sources whose last PUT failed, with what it answered (memory only, like a test run).
    failed_sources: geospatial_map::FailedSources,
}

/// The handlers read the shared links as the state's own fields.
impl std::ops::Deref for UssState {
    type Target = Links;

    fn deref(&self) -> &Links {
        &self.links
    }
}

impl UssState {
    /// Opens this USS's store in `config.data_dir` (migrating the journals an older release kept there) and loads
    /// the flights, zones and Remote ID ISA ids a previous run saved.
    pub fn open(
        config: UssConfig,
        auth: Arc<Authenticator>,
        tokens: TokenSource,
        audit: Arc<AuditLog>,
    ) -> std::io::Result<UssState> {
        let store: Arc<dyn UssStore> = match &config.data_dir {
            Some(dir) => Arc::new(entente_store::UssRedbStore::open(dir).map_err(std::io::Error::other)?),
            None => Arc::new(MemoryStore::default()),
        };
        let saved = Saved {
            flights: records::load_flights(&*store)?,
            zones: ZoneSets::new(records::load_zone_sets(&*store)?, config.terrain.clone()),
            own_zones: records::load_zones(&*store)?,
            isas: rid::sp::earlier_isas(&*store)?,
        };
        let clock = config.clock.clone();
        let metrics = Arc::new(UssMetrics::default());
        let rules = Rules {
            identity: config.identity.clone(),
            policy: config.policy,
            alternatives: config.alternatives.clone(),
            contingency: config.contingency,
            dss_limits: config.dss_limits.clone(),
            rid: config.rid.rules(),
        };
        let rid = rid::RidState::new(&config.rid);
        let links = Arc::new(Links {
            client: Client::new(tokens, audit.clone(), clock.clone(), metrics.clone(), &config.dss_url),
            config,
            audit,
            store,
            peers: Mutex::new(peers::PeerCache::new()),
            peer_zones: Mutex::new(peers::PeerCache::new()),
            metrics,
        });
        let (rid_dss, rid_peers) = rid.ports(&links);
        let ports = Ports {
            dss: Arc::new(ports::HttpDss(links.clone())),
            peers: Arc::new(ports::HttpPeers(links.clone())),
            records: links.clone(),
            zones: links.clone(),
            journal: links.clone(),
            clock,
            rid_dss,
            rid_peers,
            isas: links.clone(),
        };
        let core = Uss::new(rules, ports, saved)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        Ok(UssState {
            core,
            client_limit: Arc::new(ClientLimit::new(links.config.client_concurrency)),
            links,
            auth,
            rid,
            planning_requests: Mutex::new(flight_planning::AnsweredRequests::default()),
            failed_sources: geospatial_map::FailedSources::default(),
        })
    }
}

impl Links {
    /// The time now, by this USS's clock.
    pub(crate) fn now(&self) -> entente_uss::Timestamp {
        self.config.clock.now()
    }

    /// Queues `writes` in the store (an encoding failure resolves the ticket with it at once).
    fn save(&self, writes: Result<Vec<Write>, StoreError>) -> Ticket {
        match writes {
            Ok(writes) => self.store.submit(writes),
            Err(e) => {
                let (done, ticket) = tokio::sync::oneshot::channel();
                let _ = done.send(Err(e));
                ticket
            }
        }
    }
}

impl Edge for UssState {
    fn authenticator(&self) -> &Authenticator {
        &self.auth
    }

    fn body_limit(&self) -> usize {
        self.config.body_limit
    }
}

impl Limited for UssState {
    fn client_limit(&self) -> &Arc<ClientLimit> {
        &self.client_limit
    }
}

/// Every route of the USS: what the router serves and the OpenAPI document describes. The USS-USS API goes
/// through `audit`, when given.
pub(crate) fn routes(audit: Option<Arc<UssState>>) -> Routes<Arc<UssState>> {
    let peer_api = uss_api::routes().merge(rid::peer_routes()).wrap(|router| match audit {
        Some(state) => router.layer(middleware::from_fn_with_state(state, audit_incoming)),
        None => router,
    });
    Routes::new()
        .merge(peer_api)
        .merge(operator::routes())
        .merge(flight_planning::routes())
        .merge(authority::routes())
        .merge(geozones::routes())
        .merge(geospatial_map::routes())
        .merge(rid::operator_routes())
        .merge(log_sets::routes())
        .merge(rid::testing::routes())
        .get("/versioning/versions/{system_identity}", uss_api::system_version)
        .get("/healthy", crate::app::healthy)
        .get("/metrics", metrics)
        .get("/openapi.json", openapi_document)
}

pub fn uss_app(state: Arc<UssState>) -> Router {
    routes(Some(state.clone()))
        .into_router()
        .fallback(|uri: axum::http::Uri| async move {
            ApiError::NotFound(format!("{}: no such endpoint", uri.path()))
        })
        .method_not_allowed_fallback(|| async {
            ApiError::MethodNotAllowed("this endpoint does not accept that method".into())
        })
        // Inside the lane, which serves a heavy request in a task of its own, so that the task the request's
        // exchanges are made in is the one its audit lines are synced for.
        .layer(middleware::from_fn_with_state(state.clone(), audit_synced))
        // As the DSS's: heavy requests leave for their lane once their client was admitted.
        .layer(axum::middleware::from_fn(crate::lane::heavy_lane))
        .layer(middleware::from_fn_with_state(state.clone(), per_client::<UssState>))
        .layer(axum::middleware::from_fn(crate::path_params::check_path_params))
        .layer(CatchPanicLayer::custom(crate::app::panic_response))
        .layer(axum::middleware::from_fn(crate::request_id::request_id))
        .with_state(state)
}

/// The Prometheus text of the series of `usses`, each labelled with its identity.
pub fn render_metrics(usses: &[&UssState]) -> String {
    let series: Vec<(&str, &UssMetrics)> =
        usses.iter().map(|u| (u.config.identity.as_str(), &*u.metrics)).collect();
    UssMetrics::render(&series)
}

#[utoipa::path(get, path = "/openapi.json", tag = "Operations", security(()),
    responses((status = 200, description = "This document")))]
pub(crate) async fn openapi_document() -> axum::Json<utoipa::openapi::OpenApi> {
    axum::Json(crate::openapi::uss_document())
}

/// This USS's series: plans by outcome, conflicts its operators were told of, calls to the DSS and peers (by
/// status class, with latency), notifications to subscribers; labelled by its identity.
#[utoipa::path(get, path = "/metrics", tag = "Operations", security(()),
    responses((status = 200, description = "Prometheus text exposition", content_type = "text/plain", body = String)))]
pub(crate) async fn metrics(State(st): State<Arc<UssState>>) -> impl IntoResponse {
    let text = render_metrics(&[&st]);
    ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], text)
}

/// Serves until `shutdown` resolves, then lets in-flight requests finish; Remote ID's rounds (the ISA, polling
/// SPs) run beside it until then.
pub async fn serve_uss(
    listener: tokio::net::TcpListener,
    state: Arc<UssState>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let rounds = tokio::spawn(rounds(state.clone()));
    let limits = state.config.listener_limits;
    let served = crate::serve_with_limits(listener, uss_app(state), limits, shutdown).await;
    rounds.abort();
    served
}

/// This USS's background work, for as long as it is served: the core's `Uss::tick` every `RidConfig::tick` (never
/// below a second, the fastest F3411 lets a DP poll one SP), which runs the Remote ID round at each call and the
/// zone round when its interval passed. Whoever serves the USS's router runs it beside, as `serve_uss` does.
pub async fn rounds(state: Arc<UssState>) {
    let mut ticks = tokio::time::interval(state.config.rid.tick.max(Duration::from_secs(1)));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        // The zone round logs each set's outcome itself.
        if let Err(e) = state.core.tick().await.rid {
            tracing::warn!(error = %e, "bringing this USS's ISAs up to date failed");
        }
    }
}

/// Answers a request once every audit line it appended is on disk, with one sync for all of them.
async fn audit_synced(State(state): State<Arc<UssState>>, req: Request, next: Next) -> Response {
    state.audit.synced_before_answer(next.run(req)).await
}

/// Records every call a peer makes on the USS-USS API, with the caller's token subject when it verifies.
async fn audit_incoming(State(state): State<Arc<UssState>>, req: Request, next: Next) -> Response {
    let time = state.now();
    let (parts, body) = req.into_parts();
    let peer = parts
        .headers
        .get(AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| state.auth.verify(Some(h)).ok())
        .map_or_else(|| "unauthenticated".to_owned(), |c| c.sub);
    let method = parts.method.to_string();
    let url = format!("{}{}", state.config.base_url, parts.uri.path_and_query().map_or("", |p| p.as_str()));
    let limit = state.config.body_limit;
    let request_body = match axum::body::to_bytes(body, limit).await {
        Ok(body) => body,
        Err(e) => return crate::extract::body_error(&e, limit).into_response(),
    };
    let request_sha256 = sha256_hex(&request_body);
    let response = next.run(Request::from_parts(parts, HttpBody::from(request_body))).await;
    let status = response.status().as_u16();
    let (parts, body) = response.into_parts();
    let response_body = axum::body::to_bytes(body, usize::MAX).await.unwrap_or_default();
    state.audit.record(Exchange {
        time,
        direction: Direction::Incoming,
        peer,
        method,
        url,
        status: Some(status),
        request_sha256,
        response_sha256: sha256_hex(&response_body),
    });
    Response::from_parts(parts, HttpBody::from(response_body))
}
