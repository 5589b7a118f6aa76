//! The USS side of F3548-21: the USS-USS API peers call, the operator API, and the planning that ties them to
//! the DSS. Decisions (conflicts, alternatives, conformance, the audit chain) come from `entente_uss`; this
//! module moves them over HTTP and JSON.

mod audit_log;
pub(crate) mod authority;
mod client;
mod dss_client;
pub(crate) mod flight_planning;
mod group_sync;
mod input;
pub(crate) mod log_sets;
pub(crate) mod operator;
mod peers;
mod planner;
mod records;
pub(crate) mod rid;
mod tokens;
pub(crate) mod uss_api;

use std::collections::HashMap;
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
use chrono::{DateTime, Utc};
use entente_dss::{Clock, EntityId, Limits, SystemClock};
use entente_uss::store::{MemoryStore, StoreError, Ticket, UssStore, Write};
use entente_uss::{
    ContingencyRules, Direction, EventKind, Exchange, FlightState, Priority, PriorityPolicy, StateChange,
    Volume, sha256_hex,
};
use parking_lot::Mutex;
use tower_http::catch_panic::CatchPanicLayer;

pub use audit_log::{AuditFileError, AuditLog, read_audit_log, verify_audit_log};
use entente_wire::uss::{Constraint, OperationalIntent, UserNotificationRecord, VehicleTelemetry};
pub use rid::{RidConfig, RidVersion, declare_flights, replay_csv};
pub use tokens::TokenSource;

use self::client::Client;
use crate::auth::Authenticator;
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
}

/// How far the alternatives to a refused flight may be shifted, and in which steps.
#[derive(Clone, Debug)]
pub struct AlternativeSearch {
    pub time_step: chrono::Duration,
    pub max_time_shift: chrono::Duration,
    pub altitude_step_m: f64,
    pub max_altitude_shift_m: f64,
    pub altitude_floor_m: f64,
    pub altitude_ceiling_m: f64,
    /// How far sideways an alternative may move an area or lead a route around what blocks it; zero offers shifts
    /// in time and altitude only.
    pub max_lateral_m: f64,
    pub max_results: usize,
}

impl Default for AlternativeSearch {
    fn default() -> Self {
        AlternativeSearch {
            time_step: chrono::Duration::minutes(5),
            max_time_shift: chrono::Duration::hours(2),
            altitude_step_m: 30.0,
            max_altitude_shift_m: 300.0,
            altitude_floor_m: 0.0,
            altitude_ceiling_m: 3000.0,
            max_lateral_m: 500.0,
            max_results: 5,
        }
    }
}

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
            body_limit: 1 << 20,
            data_dir: None,
            rid: RidConfig::default(),
            clock: Arc::new(SystemClock),
            dss_limits: Limits::default(),
            priority_grants: None,
        }
    }
}

/// A conflict an operator was told of, as the flight planning test interface reports it.
#[derive(Clone, Debug)]
pub(crate) struct UserNotice {
    pub observed_at: DateTime<Utc>,
    /// The intents or constraints in conflict with the operator's flight, by id.
    pub conflicting: Vec<String>,
    pub message: String,
}

/// One of this USS's own flights.
#[derive(Clone, Debug)]
pub(crate) struct OwnFlight {
    pub priority: Priority,
    pub state: FlightState,
    pub volumes: Vec<Volume>,
    pub off_nominal: Vec<Volume>,
    /// The intent as the DSS last accepted it: what peers are served. `None` until the DSS confirmed it.
    pub published: Option<OperationalIntent>,
    pub nonconforming_since: Option<entente_uss::Timestamp>,
    pub telemetry: Option<VehicleTelemetry>,
    /// What the operator must hear of: peers' intents that came to intersect this flight after it was planned.
    pub alerts: Vec<String>,
    /// The states the flight went through, oldest first, each with its time and reason.
    pub history: Vec<StateChange>,
    /// The `sub` of the operator's token that planned the flight, whose lists show it; `None` for flights planned
    /// through the test interface or before planners were recorded, which every operator's list shows.
    pub operator: Option<String>,
}

pub struct UssState {
    config: UssConfig,
    auth: Arc<Authenticator>,
    client: Client,
    audit: Arc<AuditLog>,
    /// Changed only together with a write submitted to `store` under this lock, so writes commit in the order of
    /// the changes.
    flights: Mutex<HashMap<EntityId, OwnFlight>>,
    /// The constraints this USS manages for an authority; changed like `flights`.
    constraints: Mutex<HashMap<EntityId, Constraint>>,
    /// What this USS keeps across restarts: flights, zones, archived reports, Remote ID ISA ids.
    store: Arc<dyn UssStore>,
    /// The flights being written to the DSS, with the priority and volumes proposed: the DSS may show them to
    /// another planning of this USS before they are recorded in `flights`.
    writing: Mutex<HashMap<EntityId, (Priority, Vec<Volume>)>>,
    /// One lock per flight, held across a whole operation on it (read, decide, write to the DSS, notify), so
    /// two operations on one flight never interleave.
    flight_locks: Mutex<HashMap<EntityId, Arc<tokio::sync::Mutex<()>>>>,
    /// Peers' intents as their managers last shared them, by id.
    peers: Mutex<HashMap<String, OperationalIntent>>,
    /// The conflicts operators were told of (SCD0090 and SCD0095); the flight planning test interface reports
    /// them as user notifications (memory only, like a test run).
    user_notices: Mutex<Vec<UserNotice>>,
    /// Remote ID as SP and DP, and the tactical monitor.
    rid: rid::RidState,
    /// The flight planning test interface's answers, kept for repeated request ids (memory only, like a test run).
    planning_requests: Mutex<flight_planning::AnsweredRequests>,
    /// This USS's Prometheus series (plans, operator notifications, calls, notifications to subscribers).
    pub(crate) metrics: Arc<UssMetrics>,
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
        let flights = records::load_flights(&*store)?;
        let constraints = records::load_zones(&*store)?;
        let rid = rid::RidState::new(&config.rid, &*store)?;
        let clock = config.clock.clone();
        let metrics = Arc::new(UssMetrics::default());
        Ok(UssState {
            client: Client::new(tokens, audit.clone(), clock, metrics.clone(), &config.dss_url),
            config,
            auth,
            audit,
            flights: Mutex::new(flights),
            constraints: Mutex::new(constraints),
            store,
            writing: Mutex::new(HashMap::new()),
            flight_locks: Mutex::new(HashMap::new()),
            peers: Mutex::new(HashMap::new()),
            user_notices: Mutex::new(Vec::new()),
            rid,
            planning_requests: Mutex::new(flight_planning::AnsweredRequests::default()),
            metrics,
        })
    }

    /// The time now, by this USS's clock.
    pub(crate) fn now(&self) -> entente_uss::Timestamp {
        self.config.clock.now()
    }

    /// Waits until no other operation works on flight `id`, then holds it off until the guard is dropped.
    pub(crate) async fn lock_flight(&self, id: EntityId) -> tokio::sync::OwnedMutexGuard<()> {
        let lock = self.flight_locks.lock().entry(id).or_default().clone();
        lock.lock_owned().await
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

    /// Applies `change` to this USS's flights and queues the save of those named in `ids`; the flights are on disk
    /// once the ticket resolves. Changes reach the store in the order they were made. Dropping the ticket does not
    /// cancel the save (a failure is then only logged).
    pub(crate) fn apply_flights<R>(
        &self,
        ids: &[EntityId],
        change: impl FnOnce(&mut HashMap<EntityId, OwnFlight>) -> R,
    ) -> (R, Ticket) {
        let mut flights = self.flights.lock();
        let result = change(&mut flights);
        let writes = ids.iter().map(|id| records::flight_write(*id, flights.get(id))).collect();
        // Submitted under the lock, so concurrent changes commit in the order they were applied; waited for
        // outside it, so peers reading details do not wait for the disk and concurrent changes share commits.
        (result, self.save(writes))
    }

    /// Applies `change` to this USS's flights (only those named in `ids`) and returns once the change is on disk.
    /// A failed save is logged: the DSS and peers already know the change, so memory must keep it too.
    pub(crate) async fn change_flights<R>(
        &self,
        ids: &[EntityId],
        change: impl FnOnce(&mut HashMap<EntityId, OwnFlight>) -> R,
    ) -> R {
        let (result, saved) = self.apply_flights(ids, change);
        if let Err(e) = saved_by(saved).await {
            tracing::error!(error = %e, "saving this USS's flights failed");
        }
        result
    }

    /// Tells operators of a conflict at `now`, under `requirement` (SCD0090: their flight causes it; SCD0095:
    /// another's reaches it): sealed into the audit chain for the log set, kept for the flight planning test
    /// interface, and counted.
    pub(crate) fn notify_operators(
        &self,
        requirement: &'static str,
        conflicting: Vec<String>,
        message: String,
        now: DateTime<Utc>,
    ) {
        let record = UserNotificationRecord {
            triggering_event_time: entente_wire::time_out(now),
            notification_time: entente_wire::time_out(now),
            notification_details: message.clone(),
            notification_triggering_event: requirement.to_owned(),
        };
        self.audit.note(now, EventKind::OperatorNotification, &record);
        self.user_notices.lock().push(UserNotice { observed_at: now, conflicting, message });
        self.metrics.operator_notification(requirement);
    }

    /// Records constraint `id` as it now is (`None`: lifted), in memory and on disk.
    pub(crate) async fn change_constraint(&self, id: EntityId, constraint: Option<Constraint>) {
        let saved = {
            let mut constraints = self.constraints.lock();
            let write = records::write(entente_uss::store::Table::Zones, id.to_string(), constraint.as_ref());
            match constraint {
                Some(c) => constraints.insert(id, c),
                None => constraints.remove(&id),
            };
            self.save(write.map(|w| vec![w]))
        };
        if let Err(e) = saved_by(saved).await {
            tracing::error!(error = %e, "saving this USS's constraints failed");
        }
    }
}

/// Waits for a store's ticket: `Ok` once the writes are on disk.
pub(crate) async fn saved_by(ticket: Ticket) -> Result<(), StoreError> {
    ticket.await.unwrap_or_else(|_| Err(StoreError::Io("the store stopped before committing".into())))
}

impl Edge for UssState {
    fn authenticator(&self) -> &Authenticator {
        &self.auth
    }

    fn body_limit(&self) -> usize {
        self.config.body_limit
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
        .layer(axum::middleware::from_fn(crate::lane::heavy_lane))
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
    let served = axum::serve(listener, uss_app(state)).with_graceful_shutdown(shutdown).await;
    rounds.abort();
    served
}

/// This USS's background work, for as long as it is served: the Remote ID rounds (its ISAs, polling SPs, watches
/// around its aircraft). Whoever serves the USS's router runs it beside, as `serve_uss` does.
pub async fn rounds(state: Arc<UssState>) {
    rid::background(state).await
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
    let Ok(request_body) = axum::body::to_bytes(body, state.config.body_limit).await else {
        return ApiError::PayloadTooLarge(format!("request body exceeds {} bytes", state.config.body_limit))
            .into_response();
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
