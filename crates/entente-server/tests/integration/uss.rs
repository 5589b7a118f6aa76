//! The USS side in process over real sockets: the USS-USS API's status codes, planning against the harness DSS
//! and a peer USS, cached details, and tokens from an OAuth 2 client-credentials endpoint.

use entente_dss::Clock;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::routing::post;
use entente_server::auth::{Authenticator, TokenIssuer};
use entente_server::uss::{AuditLog, TokenSource, UssConfig, UssState, read_audit_log, serve_uss};
use entente_uss::store::{Table, UssStore};
use entente_wire::authority::{AvailabilityRequest, ConstraintRequest};
use entente_wire::interuss::flight_planning::{
    BasicFlightPlanInformation, ClearAreaRequest, FlightPlan, OpIntentInformation, UpsertFlightPlanRequest,
};
use entente_wire::operator::{FlightRequest, PlanLimits, RouteRequest};
use entente_wire::scd::{
    ErrorReport, ExchangeRecord, OperationalIntentReference, OperationalIntentState,
    PutOperationalIntentReferenceParameters, QueryOperationalIntentReferenceResponse, SubscriptionState,
    UssAvailabilityState,
};
use entente_wire::uss::{
    OperationalIntent, OperationalIntentDetails, Position, PutOperationalIntentDetailsParameters,
    VehicleTelemetry,
};
use entente_wire::{LatLngPoint, Volume4D};
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::sync::oneshot;

use crate::harness::*;

const OPERATOR: &str = "entente.operator";

/// A USS served in process, its audit log and flights in a temporary folder.
pub(crate) struct Uss {
    pub(crate) base: String,
    audit: std::path::PathBuf,
    dir: Arc<TempDir>,
    shutdown: Option<oneshot::Sender<()>>,
}

impl Drop for Uss {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// The harness DSS as a USS must address it: by the host name its tokens are for.
fn dss_url(dss: &Dss) -> String {
    dss.base.replace("127.0.0.1", "localhost")
}

/// The store in `dir`, once a USS stopped just before over it released it (when its last task ended).
async fn store_of_stopped_uss(dir: &std::path::Path) -> anyhow::Result<entente_store::UssRedbStore> {
    let mut attempts = 0;
    loop {
        match entente_store::UssRedbStore::open(dir) {
            Ok(store) => return Ok(store),
            Err(_) if attempts < 100 => {
                attempts += 1;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => anyhow::bail!("the store of a stopped USS is still open: {e}"),
        }
    }
}

impl Uss {
    pub(crate) async fn start(dss: &Dss, identity: &str) -> anyhow::Result<Uss> {
        let tokens = TokenSource::dev(TokenIssuer::from_pem(RSA_PRIVATE, None)?, identity);
        Uss::start_with(dss, identity, tokens).await
    }

    async fn start_with(dss: &Dss, identity: &str, tokens: TokenSource) -> anyhow::Result<Uss> {
        Uss::start_in(dss, identity, tokens, Arc::new(tempfile::tempdir()?)).await
    }

    /// A USS over the audit log and flights left in `dir` by an earlier one.
    async fn start_in(
        dss: &Dss,
        identity: &str,
        tokens: TokenSource,
        dir: Arc<TempDir>,
    ) -> anyhow::Result<Uss> {
        Uss::start_for(&dss_url(dss), identity, tokens, dir, |_| {}).await
    }

    /// A USS writing to the DSS at `dss_url`, which may be a stand-in answering as a test needs.
    pub(crate) async fn start_against(dss_url: &str, identity: &str) -> anyhow::Result<Uss> {
        let tokens = TokenSource::dev(TokenIssuer::from_pem(RSA_PRIVATE, None)?, identity);
        Uss::start_for(dss_url, identity, tokens, Arc::new(tempfile::tempdir()?), |_| {}).await
    }

    /// A USS configured by `configure` beyond what every test USS has.
    pub(crate) async fn start_configured(
        dss: &Dss,
        identity: &str,
        configure: fn(&mut UssConfig),
    ) -> anyhow::Result<Uss> {
        let tokens = TokenSource::dev(TokenIssuer::from_pem(RSA_PRIVATE, None)?, identity);
        Uss::start_for(&dss_url(dss), identity, tokens, Arc::new(tempfile::tempdir()?), configure).await
    }

    async fn start_for(
        dss_url: &str,
        identity: &str,
        tokens: TokenSource,
        dir: Arc<TempDir>,
        configure: fn(&mut UssConfig),
    ) -> anyhow::Result<Uss> {
        let audit = dir.path().join("audit.jsonl");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base = format!("http://localhost:{}", listener.local_addr()?.port());
        let auth = Authenticator::from_pem_strings(&[RSA_PUBLIC, EC_PUBLIC], vec![AUDIENCE.to_owned()])?;
        let mut config = UssConfig::new(identity, &base, dss_url);
        config.data_dir = Some(dir.path().to_path_buf());
        // Generous, so a loaded test machine cannot turn a slow peer into a down one.
        config.peer_timeout = Duration::from_secs(5);
        configure(&mut config);
        drop(store_of_stopped_uss(dir.path()).await?);
        let state =
            Arc::new(UssState::open(config, Arc::new(auth), tokens, Arc::new(AuditLog::open(&audit)?))?);
        let (tx, rx) = oneshot::channel();
        tokio::spawn(serve_uss(listener, state, async {
            let _ = rx.await;
        }));
        Ok(Uss { base, audit, dir, shutdown: Some(tx) })
    }

    pub(crate) fn operator(&self) -> Client {
        client_at(&self.base, "pilot", &[OPERATOR])
    }

    /// This USS stopped and started again over what it kept, as `identity`.
    pub(crate) async fn restart(self, dss: &Dss, identity: &str) -> anyhow::Result<Uss> {
        self.restart_configured(dss, identity, |_| {}).await
    }

    /// This USS stopped and started again over what it kept, as `identity`, configured by `configure`.
    pub(crate) async fn restart_configured(
        self,
        dss: &Dss,
        identity: &str,
        configure: fn(&mut UssConfig),
    ) -> anyhow::Result<Uss> {
        let dir = self.dir.clone();
        drop(self);
        let tokens = TokenSource::dev(TokenIssuer::from_pem(RSA_PRIVATE, None)?, identity);
        Uss::start_for(&dss_url(dss), identity, tokens, dir, configure).await
    }

    fn peer(&self, sub: &str, scope: &str) -> Client {
        client_at(&self.base, sub, &[scope])
    }

    /// How many outgoing calls of `method` to URLs containing `part` the audit log holds.
    pub(crate) fn outgoing(&self, method: &str, part: &str) -> anyhow::Result<usize> {
        Ok(read_audit_log(&self.audit)?
            .iter()
            .filter_map(|r| r.exchange())
            .filter(|e| e.method == method && e.url.contains(part))
            .filter(|e| e.direction == entente_uss::Direction::Outgoing)
            .count())
    }
}

/// An operator's flight: a 300 m circle at `lat` over `alt` metres from `minutes.0` to `minutes.1`.
pub(crate) fn flight(lat: f64, alt: (f64, f64), minutes: (i64, i64), priority: i32) -> Value {
    wire(flight_request(lat, alt, minutes, priority))
}

/// [`flight`] as the shape, for a test to change within it.
pub(crate) fn flight_request(lat: f64, alt: (f64, f64), minutes: (i64, i64), priority: i32) -> FlightRequest {
    flight_of(vec![volume4(&circle(lat, LNG, 300.0), alt.0, alt.1, minutes.0, minutes.1)], priority)
}

/// An operator's flight through `volumes`.
pub(crate) fn flight_of(volumes: Vec<Volume4D>, priority: i32) -> FlightRequest {
    FlightRequest { volumes, route: None, priority, limits: None, best_effort: false, authorisation: None }
}

/// An operator's flight along `waypoints` (lat, lng) within `buffer_m` metres, 0 to `alt_hi` metres, from +10 to
/// `end_min` minutes.
pub(crate) fn route_flight(
    waypoints: &[(f64, f64)],
    buffer_m: f64,
    alt_hi: f64,
    end_min: i64,
) -> FlightRequest {
    let route = RouteRequest {
        waypoints: waypoints.iter().map(|&(lat, lng)| LatLngPoint { lat, lng }).collect(),
        buffer_m,
        altitude_lower: altitude_m(0.0),
        altitude_upper: altitude_m(alt_hi),
        time_start: time(at(10)),
        time_end: time(at(end_min)),
    };
    FlightRequest { route: Some(route), ..flight_of(Vec::new(), 0) }
}

/// The subscription a notification is for, at `index`.
fn subscription_state(index: i32) -> SubscriptionState {
    SubscriptionState { subscription_id: id(), notification_index: index }
}

/// A notification as a peer managing `id` would send it, at `version`.
fn notification(intent: &str, manager: &str, version: i32, alt_hi: f64) -> Value {
    wire(notification_of(intent, manager, version, alt_hi))
}

/// [`notification`] as the shape, for a test to change within it.
fn notification_of(
    intent: &str,
    manager: &str,
    version: i32,
    alt_hi: f64,
) -> PutOperationalIntentDetailsParameters {
    let reference = OperationalIntentReference {
        id: intent.to_owned(),
        manager: manager.to_owned(),
        uss_availability: UssAvailabilityState::Normal,
        version,
        state: OperationalIntentState::Accepted,
        ovn: Some(format!("ovn-of-{intent}-v{version}")),
        time_start: time(at(10)),
        time_end: time(at(70)),
        uss_base_url: format!("https://{manager}.example.com"),
        subscription_id: NULL_SUBSCRIPTION.to_owned(),
    };
    let details = OperationalIntentDetails {
        volumes: vec![volume4(&circle(LAT, LNG, 300.0), 0.0, alt_hi, 10, 70)],
        off_nominal_volumes: Vec::new(),
        priority: 0,
    };
    PutOperationalIntentDetailsParameters {
        operational_intent_id: intent.to_owned(),
        operational_intent: Some(OperationalIntent { reference, details }),
        subscriptions: vec![subscription_state(version)],
    }
}

#[tokio::test]
async fn notifications_come_from_the_manager_and_only_move_forward() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let uss = Uss::start(&dss, "uss1").await?;
    let peer = uss.peer("uss2", SC);
    let intent = id();
    let path = "/uss/v1/operational_intents";
    peer.post(path, &notification(&intent, "uss2", 2, 120.0)).await.want(204)?;
    // The same version again, unchanged, is a repeat; changed, or older, it is refused.
    peer.post(path, &notification(&intent, "uss2", 2, 120.0)).await.want(204)?;
    assert_error(peer.post(path, &notification(&intent, "uss2", 2, 150.0)).await?, 409, "version")?;
    assert_error(peer.post(path, &notification(&intent, "uss2", 1, 120.0)).await?, 409, "version")?;
    peer.post(path, &notification(&intent, "uss2", 3, 150.0)).await.want(204)?;
    // Someone else cannot speak for uss2, neither to change nor to delete.
    let other = uss.peer("uss3", SC);
    assert_error(other.post(path, &notification(&intent, "uss2", 4, 150.0)).await?, 403, "uss2")?;
    let deletion = wire(PutOperationalIntentDetailsParameters {
        operational_intent_id: intent.clone(),
        operational_intent: None,
        subscriptions: vec![subscription_state(5)],
    });
    assert_error(other.post(path, &deletion).await?, 403, "uss2")?;
    peer.post(path, &deletion).await.want(204)?;
    // Malformed notifications and tokens without the scope.
    let empty = wire(PutOperationalIntentDetailsParameters {
        subscriptions: Vec::new(),
        ..notification_of(&id(), "uss2", 1, 120.0)
    });
    assert_error(peer.post(path, &empty).await?, 400, "subscriptions")?;
    // An OVN sent as null, which the shape would leave out instead: set by hand.
    let mut nameless = notification(&id(), "uss2", 1, 120.0);
    nameless["operational_intent"]["reference"]["ovn"] = Value::Null;
    assert_error(peer.post(path, &nameless).await?, 400, "ovn")?;
    assert_error(
        uss.peer("uss2", CMSA).post(path, &notification(&id(), "uss2", 1, 120.0)).await?,
        403,
        "scope",
    )?;
    assert_eq!(uss.peer("uss2", SC).get("/uss/v1/operational_intents/not-a-uuid").await?.0, 400);
    Ok(())
}

#[tokio::test]
async fn details_are_served_only_once_the_dss_accepted_them() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let uss = Uss::start(&dss, "uss1").await?;
    let peer = uss.peer("uss2", SC);
    assert_error(peer.get(&format!("/uss/v1/operational_intents/{}", id())).await?, 404, "not found")?;
    let planned = uss
        .operator()
        .post("/operator/v1/flights", &flight(LAT, (0.0, 120.0), (10, 70), 0))
        .await
        .want(201)?;
    let flight_id = str_of(&planned["id"])?;
    let details = peer.get(&format!("/uss/v1/operational_intents/{flight_id}")).await.want(200)?;
    let reference = &details["operational_intent"]["reference"];
    assert_eq!(reference["manager"], "uss1");
    assert_eq!(reference["state"], "Accepted");
    assert_eq!(reference["ovn"], planned["ovn"]);
    // The DSS holds the same reference, with the implicit subscription the USS asked for.
    let at_dss = dss.client("uss1", &[SC]).get_oir(flight_id).await?;
    assert_eq!(at_dss["ovn"], planned["ovn"]);
    assert_ne!(at_dss["subscription_id"], NULL_SUBSCRIPTION);
    // Telemetry only off-nominal; details only with the strategic coordination scope.
    let telemetry = format!("/uss/v1/operational_intents/{flight_id}/telemetry");
    assert_error(uss.peer("uss2", CMSA).get(&telemetry).await?, 409, "Nonconforming")?;
    assert_error(
        uss.peer("uss2", CMSA).get(&format!("/uss/v1/operational_intents/{flight_id}")).await?,
        403,
        "scope",
    )?;
    // Operators need their own scope.
    assert_error(
        uss.peer("uss2", SC).get(&format!("/operator/v1/flights/{flight_id}")).await?,
        403,
        OPERATOR,
    )?;
    Ok(())
}

#[tokio::test]
async fn conflicts_answer_alternatives_and_peer_details_are_fetched_once_per_version() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let uss1 = Uss::start(&dss, "uss1").await?;
    let uss2 = Uss::start(&dss, "uss2").await?;
    uss2.operator().post("/operator/v1/flights", &flight(LAT, (0.0, 120.0), (10, 40), 1)).await.want(201)?;

    let refused = uss1
        .operator()
        .post("/operator/v1/flights", &flight(LAT, (100.0, 150.0), (20, 30), 1))
        .await
        .want(409)?;
    insta::assert_json_snapshot!("plan_conflict", refused, {
        ".conflicting_intents[]" => "[id]",
        ".alternatives[].request.volumes[].time_start.value" => "[time]",
        ".alternatives[].request.volumes[].time_end.value" => "[time]",
    });
    assert_eq!(uss1.outgoing("GET", "/uss/v1/operational_intents/")?, 1);
    // A lower priority is refused just the same; the peer's details are not fetched again.
    uss1.operator()
        .post("/operator/v1/flights", &flight(LAT, (100.0, 150.0), (20, 30), 0))
        .await
        .want(409)?;
    assert_eq!(uss1.outgoing("GET", "/uss/v1/operational_intents/")?, 1);
    // The first alternative is taken as it is.
    let first = &refused["alternatives"][0]["request"];
    uss1.operator().post("/operator/v1/flights", first).await.want(201)?;
    // A higher priority may conflict with both the peer's flight and the one just accepted.
    uss1.operator()
        .post("/operator/v1/flights", &flight(LAT, (100.0, 150.0), (20, 30), 2))
        .await
        .want(201)?;
    Ok(())
}

/// Great-circle length of a route's waypoints as the operator API gives them, in metres.
fn route_length(waypoints: &Value) -> f64 {
    let points: Vec<(f64, f64)> = waypoints
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|w| Some((w["lat"].as_f64()?.to_radians(), w["lng"].as_f64()?.to_radians())))
        .collect();
    points
        .windows(2)
        .map(|w| {
            let ((p1, l1), (p2, l2)) = (w[0], w[1]);
            let h = ((p2 - p1) / 2.0).sin().powi(2) + p1.cos() * p2.cos() * ((l2 - l1) / 2.0).sin().powi(2);
            2.0 * 6_371_008.8 * h.sqrt().asin()
        })
        .sum()
}

#[tokio::test]
async fn a_route_clipping_a_peers_flight_is_offered_a_short_detour_first_and_it_plans() -> anyhow::Result<()>
{
    let dss = Dss::start().await?;
    let uss1 = Uss::start(&dss, "uss1").await?;
    let uss2 = Uss::start(&dss, "uss2").await?;
    // uss2's flight: a 100 m disc whose south edge reaches 10 m past the route's centre line, from the ground to
    // 150 m, for hours: climbing over it costs 180 m, waiting for it more than the search's two hours.
    let north = LAT + 90.0 / 111_195.0;
    let peer = wire(flight_of(vec![volume4(&circle(north, LNG + 0.013, 100.0), 0.0, 150.0, 0, 300)], 0));
    uss2.operator().post("/operator/v1/flights", &peer).await.want(201)?;
    let asked = route_flight(&[(LAT, LNG), (LAT, LNG + 0.026)], 20.0, 100.0, 40);
    let route = wire(&asked);
    let refused = uss1.operator().post("/operator/v1/flights", &route).await.want(409)?;
    let first = &refused["alternatives"][0];
    let waypoints = &first["request"]["route"]["waypoints"];
    let (before, after) = (route_length(&route["route"]["waypoints"]), route_length(waypoints));
    assert!(after > before && after < before * 1.1, "the first alternative is a short detour: {first}");
    assert_eq!(
        (first["time_shift_seconds"].as_i64(), first["altitude_shift_m"].as_f64()),
        (Some(0), Some(0.0))
    );
    assert_eq!(first["request"]["volumes"], json!([]), "a detour is submitted as its route");
    assert!(
        first["lateral_m"].as_f64().is_some_and(|m| m > 0.0) && first["cost"].as_f64().is_some(),
        "{first}"
    );
    // The operator's limits: no climb above 120 m, no other path, done by minute 90. Nothing is left to offer.
    let limits = |limits: PlanLimits| wire(FlightRequest { limits: Some(limits), ..asked.clone() });
    let no_limits = PlanLimits {
        altitude_floor_m: None,
        altitude_ceiling_m: None,
        earliest_start: None,
        latest_end: None,
        max_lateral_m: None,
        shape_may_change: None,
    };
    let bounded = limits(PlanLimits {
        altitude_ceiling_m: Some(120.0),
        shape_may_change: Some(false),
        latest_end: Some(time(at(90))),
        ..no_limits.clone()
    });
    let none = uss1.operator().post("/operator/v1/flights", &bounded).await.want(409)?;
    assert_eq!(none["alternatives"], json!([]), "{none}");
    // A limit that makes no sense is the caller's mistake, named.
    let senseless = limits(PlanLimits { max_lateral_m: Some(-5.0), ..no_limits });
    assert_error(
        uss1.operator().post("/operator/v1/flights", &senseless).await?,
        400,
        "limits.max_lateral_m",
    )?;
    // "Plan the best you can": the same route, asked for again, is planned as its cheapest alternative at once, and
    // the answer says which and what the route as asked met.
    let best = wire(FlightRequest { best_effort: true, ..asked });
    let planned = uss1.operator().post("/operator/v1/flights", &best).await.want(201)?;
    assert_eq!(planned["state"], "Accepted");
    let instead = &planned["planned_instead"];
    assert_eq!(instead["alternative"], *first, "{planned}");
    assert_eq!(instead["conflicting_intents"], refused["conflicting_intents"]);
    // Without it, the plain request still answers 409, and the USS's own flight now stands in the detour's way.
    uss1.operator().post("/operator/v1/flights", &first["request"]).await.want(409)?;
    Ok(())
}

#[tokio::test]
async fn client_credentials_tokens_come_from_the_token_endpoint() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    // A token endpoint that checks the client's credentials and grant, and signs with the key the DSS trusts.
    let app = axum::Router::new().route(
        "/token",
        post(|headers: axum::http::HeaderMap, body: String| async move {
            let basic =
                headers.get("authorization").and_then(|h| h.to_str().ok()).unwrap_or_default().to_owned();
            // "uss9:s3cret" in base64.
            if basic != "Basic dXNzOTpzM2NyZXQ=" || !body.contains("grant_type=client_credentials") {
                return (
                    axum::http::StatusCode::UNAUTHORIZED,
                    axum::Json(json!({"error": "invalid_client"})),
                );
            }
            let scope = body
                .split('&')
                .find_map(|kv| kv.strip_prefix("scope="))
                .unwrap_or_default()
                .replace('+', " ");
            let issuer = TokenIssuer::from_pem(RSA_PRIVATE, None).expect("the test key loads");
            let token =
                issuer.issue("uss9", &[scope.as_str()], AUDIENCE, Duration::from_secs(300)).expect("signed");
            (axum::http::StatusCode::OK, axum::Json(json!({"access_token": token, "expires_in": 300})))
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let endpoint = format!("http://{}/token", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });

    let uss =
        Uss::start_with(&dss, "uss9", TokenSource::client_credentials(&endpoint, "uss9", "s3cret")).await?;
    let planned = uss
        .operator()
        .post("/operator/v1/flights", &flight(LAT, (0.0, 120.0), (10, 40), 0))
        .await
        .want(201)?;
    let at_dss = dss.client("uss1", &[SC]).get_oir(str_of(&planned["id"])?).await?;
    assert_eq!(at_dss["manager"], "uss9");

    let wrong =
        Uss::start_with(&dss, "uss9", TokenSource::client_credentials(&endpoint, "uss9", "guess")).await?;
    let refused =
        wrong.operator().post("/operator/v1/flights", &flight(LAT, (0.0, 120.0), (50, 60), 0)).await?;
    assert_error(refused, 502, "token endpoint").context("a refused client gets no token")?;
    Ok(())
}

#[tokio::test]
async fn a_restarted_uss_still_serves_and_ends_its_flights() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let uss = Uss::start(&dss, "uss1").await?;
    let planned = uss
        .operator()
        .post("/operator/v1/flights", &flight(LAT, (0.0, 120.0), (10, 70), 3))
        .await
        .want(201)?;
    let flight_id = str_of(&planned["id"])?.to_owned();
    let dir = uss.dir.clone();
    drop(uss);

    let tokens = TokenSource::dev(TokenIssuer::from_pem(RSA_PRIVATE, None)?, "uss1");
    let again = Uss::start_in(&dss, "uss1", tokens, dir).await?;
    let status = again.operator().get(&format!("/operator/v1/flights/{flight_id}")).await.want(200)?;
    assert_eq!(status["ovn"], planned["ovn"]);
    assert_eq!(status["priority"], json!(3));
    // Its history outlived the restart too.
    assert_eq!(history_states(&status)?, ["Accepted"]);
    let details =
        again.peer("uss2", SC).get(&format!("/uss/v1/operational_intents/{flight_id}")).await.want(200)?;
    assert_eq!(details["operational_intent"]["reference"]["ovn"], planned["ovn"]);
    // Planning next to it still works: the DSS's reference under this identity is known, with its OVN.
    again.operator().post("/operator/v1/flights", &flight(LAT, (0.0, 120.0), (10, 70), 4)).await.want(201)?;
    let ended = again
        .operator()
        .post(&format!("/operator/v1/flights/{flight_id}/end"), &json!({}))
        .await
        .want(200)?;
    assert_eq!(ended["state"], "Ended");
    assert_eq!(dss.client("uss1", &[SC]).get(&oir_path(&flight_id)).await?.0, 404);
    // The audit chain continued across the restart.
    assert!(entente_server::uss::verify_audit_log(&again.audit)? > 4);
    Ok(())
}

pub(crate) const FP_PLAN: &str = "interuss.flight_planning.plan";
const FP_DIRECT: &str = "interuss.flight_planning.direct_automated_test";

/// A flight plan upserted through the flight planning test interface: a nominal UAS in `area`, if allowed.
pub(crate) fn upsert(usage: &str, area: Value, priority: i32) -> Value {
    wire(upsert_plan(usage, area, priority))
}

/// [`upsert`] as the shape, for a test to change within it.
pub(crate) fn upsert_plan(usage: &str, area: Value, priority: i32) -> UpsertFlightPlanRequest {
    UpsertFlightPlanRequest {
        request_id: id(),
        execution_style: "IfAllowed".to_owned(),
        flight_plan: FlightPlan {
            basic_information: BasicFlightPlanInformation {
                usage_state: usage.to_owned(),
                uas_state: "Nominal".to_owned(),
                area: vec![from_wire(&area)],
            },
            astm_f3548_21: Some(OpIntentInformation { priority }),
            uspace_flight_authorisation: None,
        },
    }
}

#[tokio::test]
async fn the_flight_planning_test_interface_plans_like_an_operator() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let uss1 = Uss::start(&dss, "uss1").await?;
    let uss2 = Uss::start(&dss, "uss2").await?;
    let director = |u: &Uss| client_at(&u.base, "uss_qualifier", &[FP_DIRECT]);
    let planner = |u: &Uss| client_at(&u.base, "uss_qualifier", &[FP_PLAN]);
    let status = director(&uss1).get("/flight_planning/v1/status").await.want(200)?;
    assert_eq!(status["status"], "Ready");
    assert_error(planner(&uss1).get("/flight_planning/v1/status").await?, 403, FP_DIRECT)?;

    let area = volume4d(&circle(LAT, LNG, 300.0), 0.0, 120.0, 10, 40);
    let first = id();
    let path = |plan: &str| format!("/flight_planning/v1/flight_plans/{plan}");
    let planned = planner(&uss1).put(&path(&first), &upsert("Planned", area.clone(), 0)).await.want(200)?;
    assert_eq!(
        (&planned["planning_result"], &planned["flight_plan_status"]),
        (&json!("Completed"), &json!("Planned"))
    );
    // A request id is kept to answer repeats: it must be an identifier a log or an answer can carry.
    for (request_id, rule) in [("x".repeat(300), "300 characters"), ("a\u{0}b".to_owned(), "U+0000")] {
        let bad = wire(UpsertFlightPlanRequest { request_id, ..upsert_plan("Planned", area.clone(), 0) });
        assert_error(planner(&uss1).put(&path(&id()), &bad).await?, 400, rule)?;
    }
    let in_use = planner(&uss1).put(&path(&first), &upsert("InUse", area.clone(), 0)).await.want(200)?;
    assert_eq!(in_use["flight_plan_status"], "OkToFly");
    assert_eq!(dss.client("uss1", &[SC]).get_oir(&first).await?["state"], "Activated");

    // The other USS may not plan over it at equal priority; the refusal leaves nothing planned.
    let second = id();
    let rejected = planner(&uss2).put(&path(&second), &upsert("InUse", area.clone(), 0)).await.want(200)?;
    assert_eq!(
        (&rejected["planning_result"], &rejected["flight_plan_status"]),
        (&json!("Rejected"), &json!("NotPlanned"))
    );
    assert!(str_of(&rejected["notes"])?.contains("intersects"), "{rejected}");
    assert_eq!(dss.client("uss2", &[SC]).get(&oir_path(&second)).await?.0, 404);

    // Planned straight into use elsewhere: created Accepted, then activated.
    let elsewhere = volume4d(&circle(LAT + 0.1, LNG, 300.0), 0.0, 120.0, 10, 40);
    let third = id();
    let flying = planner(&uss2).put(&path(&third), &upsert("InUse", elsewhere.clone(), 0)).await.want(200)?;
    assert_eq!(flying["flight_plan_status"], "OkToFly", "{flying}");

    let closed = director(&uss1).delete(&path(&first)).await.want(200)?;
    assert_eq!(closed["flight_plan_status"], "Closed");
    assert_error(director(&uss1).delete(&path(&first)).await?, 404, "not found")?;
    // uss_qualifier deletes with the planning scope, as a user would.
    let closed = planner(&uss2).delete(&path(&third)).await.want(200)?;
    assert_eq!(closed["flight_plan_status"], "Closed");
    assert_eq!(dss.client("uss2", &[SC]).get(&oir_path(&third)).await?.0, 404);
    let in_use = planner(&uss2).put(&path(&third), &upsert("InUse", elsewhere.clone(), 0)).await.want(200)?;
    assert_eq!(in_use["flight_plan_status"], "OkToFly", "{in_use}");
    let nobody = client_at(&uss2.base, "uss_qualifier", &[OPERATOR]);
    assert_error(nobody.delete(&path(&third)).await?, 403, FP_PLAN)?;
    let clear =
        wire(ClearAreaRequest { extent: volume4(&circle(LAT + 0.1, LNG, 1000.0), 0.0, 3000.0, 0, 600) });
    let cleared = director(&uss2).post("/flight_planning/v1/clear_area_requests", &clear).await.want(200)?;
    assert_eq!(cleared["outcome"]["success"], json!(true));
    assert_eq!(dss.client("uss2", &[SC]).get(&oir_path(&third)).await?.0, 404);
    Ok(())
}

#[tokio::test]
async fn flight_planning_answers_hypotheses_off_nominal_states_and_repeated_requests() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let uss1 = Uss::start(&dss, "uss1").await?;
    let uss2 = Uss::start(&dss, "uss2").await?;
    let planner = |u: &Uss| client_at(&u.base, "uss_qualifier", &[FP_PLAN]);
    let path = |plan: &str| format!("/flight_planning/v1/flight_plans/{plan}");
    let result = |v: &Value| (v["planning_result"].clone(), v["flight_plan_status"].clone());
    let area = volume4d(&circle(LAT, LNG, 300.0), 0.0, 120.0, 10, 40);
    let styled = |usage: &str, uas: &str, style: &str| {
        let mut plan = upsert_plan(usage, area.clone(), 0);
        plan.execution_style = style.to_owned();
        plan.flight_plan.basic_information.uas_state = uas.to_owned();
        wire(plan)
    };

    // A hypothesis says what would happen and changes nothing.
    let first = id();
    let would =
        planner(&uss1).put(&path(&first), &styled("Planned", "Nominal", "Hypothetical")).await.want(200)?;
    assert_eq!(result(&would), (json!("Completed"), json!("Planned")), "{would}");
    assert_eq!(dss.client("uss1", &[SC]).get(&oir_path(&first)).await?.0, 404);
    let planned = styled("Planned", "Nominal", "IfAllowed");
    let done = planner(&uss1).put(&path(&first), &planned).await.want(200)?;
    assert_eq!(result(&done), (json!("Completed"), json!("Planned")));
    let version = dss.client("uss1", &[SC]).get_oir(&first).await?["version"].clone();
    let blocked =
        planner(&uss2).put(&path(&id()), &styled("Planned", "Nominal", "Hypothetical")).await.want(200)?;
    assert_eq!(result(&blocked), (json!("Rejected"), json!("NotPlanned")), "{blocked}");

    // The same request again gets the first answer and plans nothing more; its id on another plan is a conflict.
    let again = planner(&uss1).put(&path(&first), &planned).await.want(200)?;
    assert_eq!(again, done);
    assert_eq!(dss.client("uss1", &[SC]).get_oir(&first).await?["version"], version);
    assert_error(planner(&uss1).put(&path(&id()), &planned).await?, 409, "request_id")?;
    let nameless = wire(UpsertFlightPlanRequest {
        request_id: String::new(),
        ..upsert_plan("Planned", area.clone(), 0)
    });
    assert_error(planner(&uss1).put(&path(&id()), &nameless).await?, 400, "request_id")?;
    assert_error(
        planner(&uss1).put(&path(&id()), &styled("Planned", "Nominal", "Eventually")).await?,
        400,
        "execution_style",
    )?;
    assert_error(
        planner(&uss1).put(&path(&id()), &styled("Planned", "Lost", "IfAllowed")).await?,
        400,
        "uas_state",
    )?;

    // Off nominal only in use: planned, or new, it is refused; in use, it is shared as Nonconforming, then Contingent.
    let refused =
        planner(&uss1).put(&path(&first), &styled("Planned", "OffNominal", "IfAllowed")).await.want(200)?;
    assert_eq!(result(&refused), (json!("Rejected"), json!("Planned")), "{refused}");
    let fresh =
        planner(&uss1).put(&path(&id()), &styled("InUse", "Contingent", "InReality")).await.want(200)?;
    assert_eq!(result(&fresh), (json!("Rejected"), json!("NotPlanned")), "{fresh}");
    // Off nominal before activation: this USS monitors conformance, so F3548 lets it write Nonconforming.
    let early =
        planner(&uss1).put(&path(&first), &styled("InUse", "OffNominal", "InReality")).await.want(200)?;
    assert_eq!(result(&early), (json!("Completed"), json!("OffNominal")), "{early}");
    assert_eq!(dss.client("uss1", &[SC]).get_oir(&first).await?["state"], "Nonconforming");
    planner(&uss1).put(&path(&first), &styled("InUse", "Nominal", "IfAllowed")).await.want(200)?;
    let off =
        planner(&uss1).put(&path(&first), &styled("InUse", "OffNominal", "InReality")).await.want(200)?;
    assert_eq!(result(&off), (json!("Completed"), json!("OffNominal")), "{off}");
    assert_eq!(dss.client("uss1", &[SC]).get_oir(&first).await?["state"], "Nonconforming");
    let details =
        uss1.peer("uss2", SC).get(&format!("/uss/v1/operational_intents/{first}")).await.want(200)?;
    assert_eq!(
        details["operational_intent"]["details"]["off_nominal_volumes"].as_array().map(Vec::len),
        Some(1)
    );
    let contingent =
        planner(&uss1).put(&path(&first), &styled("InUse", "Contingent", "InReality")).await.want(200)?;
    assert_eq!(result(&contingent), (json!("Completed"), json!("OffNominal")), "{contingent}");
    let details =
        uss1.peer("uss2", SC).get(&format!("/uss/v1/operational_intents/{first}")).await.want(200)?;
    assert_eq!(details["operational_intent"]["reference"]["state"], "Contingent");
    assert_eq!(details["operational_intent"]["details"]["volumes"], json!([]));
    // Contingent is final short of ending: back to nominal is refused.
    let back = planner(&uss1).put(&path(&first), &styled("InUse", "Nominal", "IfAllowed")).await.want(200)?;
    assert_eq!(result(&back), (json!("Rejected"), json!("OffNominal")), "{back}");
    Ok(())
}

#[tokio::test]
async fn the_uss_publishes_its_openapi_document() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let uss = Uss::start(&dss, "uss1").await?;
    let doc = uss.peer("anyone", SC).get("/openapi.json").await.want(200)?;
    let paths: Vec<&String> = doc["paths"].as_object().context("paths")?.keys().collect();
    for expected in [
        "/operator/v1/flights",
        "/operator/v1/flights/{id}/telemetry",
        "/uss/v1/operational_intents",
        "/uss/v1/operational_intents/{entityid}/telemetry",
        "/uss/v1/reports",
        "/uss/flights",
        "/uss/flights/{id}/details",
        "/uss/identification_service_areas/{id}",
        "/operator/v1/rid/watches",
        "/operator/v1/rid/flights",
        "/operator/v1/rid/replay",
        "/operator/v1/alerts",
        "/uss/v1/log_sets/{log_set_id}",
        "/ridsp/injection/tests/{test_id}",
        "/ridsp/injection/tests/{test_id}/{version}",
        "/ridsp/injection/user_notifications",
        "/riddp/observation/display_data",
        "/riddp/observation/display_data/{id}",
        "/flight_planning/v1/status",
        "/flight_planning/v1/flight_plans/{flight_plan_id}",
        "/flight_planning/v1/clear_area_requests",
        "/flight_planning/v1/user_notifications",
        "/metrics",
    ] {
        assert!(paths.iter().any(|p| *p == expected), "{expected} missing from {paths:?}");
    }
    // Listing: an operator's flights and an authority's zones.
    assert!(doc["paths"]["/operator/v1/flights"]["get"].is_object(), "GET /operator/v1/flights undocumented");
    assert!(
        doc["paths"]["/authority/v1/constraints"]["get"].is_object(),
        "GET /authority/v1/constraints undocumented"
    );
    assert!(doc["components"]["schemas"]["PlanConflictResponse"].is_object());
    assert!(doc["components"]["schemas"]["DisplayResponse"].is_object());
    assert!(doc["components"]["schemas"]["GetDisplayDataResponse"].is_object());
    Ok(())
}

/// A DSS in front of the harness DSS whose queries find nothing, so the only way a USS learns of the intents
/// in its way is the DSS's 409 naming them.
async fn forgetful_dss(real: &Dss) -> anyhow::Result<String> {
    let forgetful = axum::Router::new().route(
        "/dss/v1/operational_intent_references/query",
        post(|| async {
            axum::Json(QueryOperationalIntentReferenceResponse { operational_intent_references: Vec::new() })
        }),
    );
    dss_proxy(real, forgetful, Duration::ZERO).await
}

/// The harness DSS behind `routes`, everything else forwarded; answers to writes (PUT) come `write_delay` after
/// the DSS gave them, as from a DSS far away.
async fn dss_proxy(real: &Dss, routes: axum::Router, write_delay: Duration) -> anyhow::Result<String> {
    let target = dss_url(real);
    let http = reqwest::Client::new();
    let app = routes.fallback(move |req: axum::extract::Request| {
        let (http, target) = (http.clone(), target.clone());
        async move {
            let (parts, body) = req.into_parts();
            let write = parts.method == axum::http::Method::PUT;
            let body = axum::body::to_bytes(body, usize::MAX).await.unwrap_or_default();
            let mut forwarded = http.request(parts.method, format!("{target}{}", parts.uri)).body(body);
            if let Some(auth) = parts.headers.get("authorization") {
                forwarded = forwarded.header("authorization", auth);
            }
            forwarded = forwarded.header("content-type", "application/json");
            let answer = forwarded.send().await.expect("the harness DSS answers");
            let status = answer.status();
            let bytes = answer.bytes().await.unwrap_or_default();
            if write {
                tokio::time::sleep(write_delay).await;
            }
            (status, bytes)
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://localhost:{}", listener.local_addr()?.port());
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(url)
}

/// While one flight's write is on its way back from the DSS, another flight of the same USS nearby is planned:
/// the DSS already shows the first, which this USS has not recorded yet, so it must know it from what it proposed
/// (asking itself would get a 404 and fail the second plan).
#[tokio::test]
async fn a_flight_still_being_written_is_known_to_the_next_plan() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let proxy = dss_proxy(&dss, axum::Router::new(), Duration::from_millis(800)).await?;
    let dir = tempfile::tempdir()?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://localhost:{}", listener.local_addr()?.port());
    let auth = Authenticator::from_pem_strings(&[RSA_PUBLIC, EC_PUBLIC], vec![AUDIENCE.to_owned()])?;
    let tokens = TokenSource::dev(TokenIssuer::from_pem(RSA_PRIVATE, None)?, "uss1");
    let audit = Arc::new(AuditLog::open(&dir.path().join("audit.jsonl"))?);
    let state = UssState::open(UssConfig::new("uss1", &base, &proxy), Arc::new(auth), tokens, audit)?;
    tokio::spawn(serve_uss(listener, Arc::new(state), std::future::pending()));
    let operator = Arc::new(client_at(&base, "pilot", &[OPERATOR]));

    let first = {
        let operator = operator.clone();
        tokio::spawn(async move {
            operator.post("/operator/v1/flights", &flight(LAT, (0.0, 50.0), (10, 40), 0)).await
        })
    };
    // Long enough for the first write to reach the DSS, well within the delay of its answer.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let second =
        operator.post("/operator/v1/flights", &flight(LAT, (60.0, 110.0), (10, 40), 0)).await.want(201)?;
    let first = first.await??.want(201)?;
    assert_ne!(first["ovn"], second["ovn"]);
    Ok(())
}

#[tokio::test]
async fn intents_the_dss_names_in_a_409_are_fetched_and_decided_on() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let peer = Uss::start(&dss, "uss2").await?;
    let low = peer
        .operator()
        .post("/operator/v1/flights", &flight(LAT, (0.0, 120.0), (10, 40), 0))
        .await
        .want(201)?;

    let dir = Arc::new(tempfile::tempdir()?);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://localhost:{}", listener.local_addr()?.port());
    let mut config = UssConfig::new("uss1", &base, &forgetful_dss(&dss).await?);
    config.data_dir = Some(dir.path().to_path_buf());
    let audit = dir.path().join("audit.jsonl");
    let auth = Authenticator::from_pem_strings(&[RSA_PUBLIC, EC_PUBLIC], vec![AUDIENCE.to_owned()])?;
    let tokens = TokenSource::dev(TokenIssuer::from_pem(RSA_PRIVATE, None)?, "uss1");
    let state = UssState::open(config, Arc::new(auth), tokens, Arc::new(AuditLog::open(&audit)?))?;
    tokio::spawn(serve_uss(listener, Arc::new(state), std::future::pending()));
    let operator = client_at(&base, "pilot", &[OPERATOR]);

    // Higher priority: the key is completed from the 409 and the second write succeeds.
    let high =
        operator.post("/operator/v1/flights", &flight(LAT, (50.0, 100.0), (20, 30), 1)).await.want(201)?;
    let puts = |status: u16| -> anyhow::Result<usize> {
        Ok(read_audit_log(&audit)?
            .iter()
            .filter_map(|r| r.exchange())
            .filter(|e| e.method == "PUT" && e.status == Some(status))
            .count())
    };
    assert_eq!((puts(409)?, puts(201)?), (1, 1));
    assert!(high["ovn"].is_string());
    // Equal priority: what the 409 revealed is a conflict, answered with alternatives, and nothing is written.
    let refused =
        operator.post("/operator/v1/flights", &flight(LAT, (0.0, 40.0), (15, 25), 0)).await.want(409)?;
    assert_eq!(refused["conflicting_intents"], json!([low["id"]]));
    assert_eq!((puts(409)?, puts(201)?), (2, 1));
    Ok(())
}

#[tokio::test]
async fn restricted_zones_keep_flights_out_during_their_time_window() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let authority_uss = Uss::start(&dss, "authority").await?;
    let uss1 = Uss::start(&dss, "uss1").await?;
    let authority = client_at(&authority_uss.base, "city", &["entente.authority"]);
    // Closed from +10 to +40 minutes, at every altitude up to 500 m.
    let zone = event_zone();
    assert_error(uss1.operator().post("/authority/v1/constraints", &zone).await?, 403, "entente.authority")?;

    // A flight planned before the zone is declared: its operator is alerted when the zone comes.
    let early = uss1
        .operator()
        .post("/operator/v1/flights", &flight(LAT, (0.0, 100.0), (35, 38), 0))
        .await
        .want(201)?;
    let created = authority.post("/authority/v1/constraints", &zone).await.want(201)?;
    let constraint_id = str_of(&created["reference"]["id"])?.to_owned();
    let status =
        uss1.operator().get(&format!("/operator/v1/flights/{}", str_of(&early["id"])?)).await.want(200)?;
    let alerts = status["alerts"].as_array().context("alerts")?;
    assert!(alerts.len() == 1 && str_of(&alerts[0])?.contains(&constraint_id), "{status}");
    uss1.operator()
        .post(&format!("/operator/v1/flights/{}/end", str_of(&early["id"])?), &json!({}))
        .await
        .want(200)?;
    assert_eq!(created["reference"]["manager"], "authority");
    let served = authority_uss
        .peer("uss1", "utm.constraint_processing")
        .get(&format!("/uss/v1/constraints/{constraint_id}"))
        .await
        .want(200)?;
    assert_eq!(served["constraint"]["details"]["type"], "event");

    // No priority gets in; the nearest alternative waits for the window to close.
    let refused = uss1
        .operator()
        .post("/operator/v1/flights", &flight(LAT, (0.0, 100.0), (20, 30), 100))
        .await
        .want(409)?;
    assert_eq!(refused["conflicting_intents"], json!([constraint_id]));
    let first = &refused["alternatives"][0];
    assert_eq!(first["time_shift_seconds"], json!(25 * 60), "{refused}");
    uss1.operator().post("/operator/v1/flights", &first["request"]).await.want(201)?;
    assert_error(
        uss1.operator().post("/operator/v1/flights", &flight(LAT, (0.0, 100.0), (20, 30), i32::MAX)).await?,
        400,
        "priority",
    )?;

    // Lifted, the zone no longer keeps anyone out.
    authority.delete(&format!("/authority/v1/constraints/{constraint_id}")).await.want(200)?;
    uss1.operator().post("/operator/v1/flights", &flight(LAT, (0.0, 100.0), (20, 30), 0)).await.want(201)?;
    assert_error(
        authority.delete(&format!("/authority/v1/constraints/{constraint_id}")).await?,
        404,
        "not found",
    )?;

    // The arbiter role: declaring a USS Down at the DSS.
    let set = authority
        .put("/authority/v1/uss_availability/uss9", &availability(UssAvailabilityState::Down))
        .await
        .want(200)?;
    assert_eq!(set["status"]["availability"], "Down");
    let again = authority
        .put("/authority/v1/uss_availability/uss9", &availability(UssAvailabilityState::Normal))
        .await
        .want(200)?;
    assert_eq!(again["status"]["availability"], "Normal");
    Ok(())
}

/// An authority's event zone over the base location, 1 km wide, up to 500 m, from +10 to +40 minutes.
fn event_zone() -> Value {
    wire(ConstraintRequest {
        volumes: vec![volume4(&circle(LAT, LNG, 1000.0), 0.0, 500.0, 10, 40)],
        kind: Some("event".to_owned()),
    })
}

/// The authority API's body declaring a USS's `availability`.
fn availability(availability: UssAvailabilityState) -> Value {
    wire(AvailabilityRequest { availability })
}

#[tokio::test]
async fn restricted_zones_outlive_a_restart_of_their_uss() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let authority_uss = Uss::start(&dss, "authority").await?;
    let zone = event_zone();
    let city = |uss: &Uss| client_at(&uss.base, "city", &["entente.authority"]);
    let created = city(&authority_uss).post("/authority/v1/constraints", &zone).await.want(201)?;
    let constraint_id = str_of(&created["reference"]["id"])?.to_owned();
    let dir = authority_uss.dir.clone();
    drop(authority_uss);

    let tokens = TokenSource::dev(TokenIssuer::from_pem(RSA_PRIVATE, None)?, "authority");
    let again = Uss::start_in(&dss, "authority", tokens, dir).await?;
    // Still served to peers, so their plans still meet it.
    let served = again
        .peer("uss1", "utm.constraint_processing")
        .get(&format!("/uss/v1/constraints/{constraint_id}"))
        .await
        .want(200)?;
    assert_eq!(served["constraint"]["reference"]["ovn"], created["reference"]["ovn"]);
    // Its own plans still meet it (the restarted USS's port is new, so the DSS's base URL is the old one's: only
    // the USS itself, which holds the zone, can show that it came back).
    let refused = again
        .operator()
        .post("/operator/v1/flights", &flight(LAT, (0.0, 100.0), (20, 30), 100))
        .await
        .want(409)?;
    assert_eq!(refused["conflicting_intents"], json!([constraint_id]));
    // And still managed: it can be lifted with the OVN kept on disk, and stays lifted after another restart.
    city(&again).delete(&format!("/authority/v1/constraints/{constraint_id}")).await.want(200)?;
    assert_eq!(
        dss.client("uss1", &["utm.constraint_processing"])
            .get(&format!("/dss/v1/constraint_references/{constraint_id}"))
            .await?
            .0,
        404
    );
    let dir = again.dir.clone();
    drop(again);
    let tokens = TokenSource::dev(TokenIssuer::from_pem(RSA_PRIVATE, None)?, "authority");
    let third = Uss::start_in(&dss, "authority", tokens, dir).await?;
    assert_error(
        third
            .peer("uss1", "utm.constraint_processing")
            .get(&format!("/uss/v1/constraints/{constraint_id}"))
            .await?,
        404,
        "not found",
    )?;
    Ok(())
}

/// InterUSS's versioning interface, which its test suites read from each participant.
#[tokio::test]
async fn the_uss_tells_its_f3548_version_to_those_allowed_to_ask() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let uss = Uss::start(&dss, "uss1").await?;
    let reader = client_at(&uss.base, "uss_qualifier", &["interuss.versioning.read_system_versions"]);
    let v = reader.get("/versioning/versions/astm.f3548.v21").await.want(200)?;
    assert_eq!(v["system_identity"], "astm.f3548.v21");
    assert!(str_of(&v["system_version"])?.starts_with("entente-"));
    assert_error(reader.get("/versioning/versions/dss").await?, 404, "astm.f3548.v21")?;
    let other = uss.peer("uss2", SC).get("/versioning/versions/astm.f3548.v21").await?;
    assert_error(other, 403, "interuss.versioning.read_system_versions")?;
    Ok(())
}

#[tokio::test]
async fn log_sets_serve_the_exchanges_the_audit_chain_proves() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let uss = Uss::start(&dss, "uss1").await?;
    let before = entente_dss::SystemClock.now();
    let planned = uss
        .operator()
        .post("/operator/v1/flights", &flight(LAT, (0.0, 120.0), (10, 70), 0))
        .await
        .want(201)?;
    let details = format!("/uss/v1/operational_intents/{}", str_of(&planned["id"])?);
    uss.peer("uss2", SC).get(&details).await.want(200)?;
    // A peer's report is archived before it is acknowledged, and its exchange is in the log set too.
    let exchange = ExchangeRecord {
        url: format!("{}{details}", uss.base),
        method: "GET".to_owned(),
        headers: None,
        recorder_role: "Client".to_owned(),
        request_time: time(at(0)),
        request_body: None,
        response_time: None,
        response_body: None,
        response_code: None,
        problem: Some("no answer within 1 s".to_owned()),
        request_source: None,
    };
    let report = wire(ErrorReport { report_id: None, exchange });
    let filed = uss.peer("uss2", SC).post("/uss/v1/reports", &report).await.want(201)?;
    let report_id = str_of(&filed["report_id"])?.to_owned();
    let auditor = client_at(&uss.base, "regulator", &["entente.authority"]);

    let all = auditor.get("/uss/v1/log_sets/all").await.want(200)?;
    let messages = all["messages"].as_array().context("messages")?;
    let write = messages
        .iter()
        .find(|m| {
            m["method"] == "PUT"
                && str_of(&m["url"]).is_ok_and(|u| u.contains("/dss/v1/operational_intent_references/"))
        })
        .context("the write to the DSS")?;
    assert_eq!((&write["recorder_role"], &write["response_code"]), (&json!("Client"), &json!(201)));
    let served = messages
        .iter()
        .find(|m| m["method"] == "GET" && str_of(&m["url"]).is_ok_and(|u| u.ends_with(&details)))
        .context("the peer's request")?;
    assert_eq!((&served["recorder_role"], &served["response_code"]), (&json!("Server"), &json!(200)));
    assert!(messages.iter().any(|m| m["method"] == "POST"
        && str_of(&m["url"]).is_ok_and(|u| u.ends_with("/uss/v1/reports"))
        && m["response_code"] == 201));
    let records = entente_server::uss::read_audit_log(&uss.audit)?;
    assert_eq!(messages.len(), records.iter().filter(|r| r.exchange().is_some()).count());

    // Planning attempts, successful or refused, operator notifications and positions are in the chain too.
    let planned_id = str_of(&planned["id"])?.to_owned();
    let refused = uss
        .operator()
        .post("/operator/v1/flights", &flight(LAT, (0.0, 120.0), (10, 70), 0))
        .await
        .want(409)?;
    assert!(refused["alternatives"].is_array());
    let over = uss
        .operator()
        .post("/operator/v1/flights", &flight(LAT, (0.0, 120.0), (10, 70), 5))
        .await
        .want(201)?;
    let flying = uss
        .operator()
        .post("/operator/v1/flights", &flight(LAT + 0.2, (0.0, 120.0), (-1, 30), 0))
        .await
        .want(201)?;
    let flying_id = str_of(&flying["id"])?.to_owned();
    uss.operator().post(&format!("/operator/v1/flights/{flying_id}/activate"), &json!({})).await.want(200)?;
    let fix = fix_at(entente_dss::SystemClock.now(), LAT + 0.2, 60.0);
    uss.operator().post(&format!("/operator/v1/flights/{flying_id}/telemetry"), &fix).await.want(200)?;

    let all = auditor.get("/uss/v1/log_sets/all").await.want(200)?;
    let attempts = all["planning_attempts"].as_array().context("planning_attempts")?;
    let of = |id: &str| attempts.iter().filter(|a| a["operational_intent_id"] == id).collect::<Vec<_>>();
    let first = of(&planned_id);
    assert_eq!(first.len(), 1, "{attempts:?}");
    assert_eq!((&first[0]["ovns"], first[0].get("problem")), (&json!([]), None));
    let refusals: Vec<&Value> =
        attempts.iter().filter(|a| str_of(&a["problem"]).is_ok_and(|p| p.contains("intersects"))).collect();
    assert_eq!(refusals.len(), 1, "the refused plan is an attempt with its problem: {attempts:?}");
    let over_attempt = of(str_of(&over["id"])?);
    assert_eq!(over_attempt.len(), 1);
    assert_eq!(over_attempt[0]["ovns"].as_array().map(Vec::len), Some(1), "the key held the flight below");
    let notices = all["operator_notifications"].as_array().context("operator_notifications")?;
    // The flight planned over tells its operator of the conflict it causes (SCD0090), and the flight below, of
    // this same USS, its own operator of the conflict that reached it (SCD0095).
    assert_eq!(notices.len(), 2, "{notices:?}");
    assert_eq!(notices[0]["notification_triggering_event"], "SCD0090");
    assert!(str_of(&notices[0]["notification_details"])?.contains(&planned_id));
    assert_eq!(notices[1]["notification_triggering_event"], "SCD0095");
    assert!(str_of(&notices[1]["notification_details"])?.contains(str_of(&over["id"])?));
    let over_status =
        uss.operator().get(&format!("/operator/v1/flights/{}", str_of(&over["id"])?)).await.want(200)?;
    assert!(
        over_status["alerts"].as_array().is_some_and(|a| a.len() == 1),
        "the operator is told: {over_status}"
    );
    let positions = all["operational_intent_positions"].as_array().context("positions")?;
    assert_eq!(positions.len(), 1);
    assert_eq!(positions[0]["operational_intent_id"], json!(flying_id));
    assert_eq!(positions[0]["positions"][0]["telemetry"]["position"]["latitude"], json!(LAT + 0.2));
    let messages = all["messages"].as_array().context("messages")?;
    let events = attempts.len() + notices.len() + 1;
    assert_eq!((messages.len() + events) as u64, entente_server::uss::verify_audit_log(&uss.audit)?);
    // A time range selects the exchanges that began within it.
    let range = |from: chrono::DateTime<chrono::Utc>, to: chrono::DateTime<chrono::Utc>| {
        format!("/uss/v1/log_sets/{}..{}", from.to_rfc3339(), to.to_rfc3339())
    };
    let earlier = auditor
        .get(&range(before - chrono::Duration::hours(2), before - chrono::Duration::hours(1)))
        .await
        .want(200)?;
    assert_eq!(earlier["messages"], json!([]));
    let now = auditor.get(&range(before, entente_dss::SystemClock.now())).await.want(200)?;
    assert_eq!(now["messages"].as_array().map(Vec::len), Some(messages.len()));

    assert_error(auditor.get("/uss/v1/log_sets/incident-7").await?, 404, "no such log set")?;
    assert_error(auditor.get("/uss/v1/log_sets/2026-01-01T00:00:00Z..later").await?, 400, "log_set_id")?;
    assert_error(uss.peer("uss2", SC).get("/uss/v1/log_sets/all").await?, 403, "entente.authority")?;
    // A log that does not verify proves nothing: it is not served.
    let text = std::fs::read_to_string(&uss.audit)?;
    std::fs::write(&uss.audit, text.replacen("\"status\":201", "\"status\":409", 1))?;
    // Which record broke is the server's business: the log has it under the request id the body carries.
    let refused = auditor.get("/uss/v1/log_sets/all").await.want(503)?;
    assert_eq!(message(&refused)?, "data the server stores does not read back intact");
    assert!(refused["request_id"].is_string(), "{refused}");

    // The report is in the USS's store, as it was filed.
    let dir = uss.dir.clone();
    drop(uss);
    let reports = store_of_stopped_uss(dir.path()).await?.load(Table::Reports)?;
    let [(id, record)] = reports.as_slice() else { anyhow::bail!("one archived report: {reports:?}") };
    let archived: Value = serde_json::from_slice(&record.bytes)?;
    assert_eq!((id, &archived["from"]), (&report_id, &json!("uss2")));
    assert_eq!(archived["report"]["exchange"]["problem"], "no answer within 1 s");
    Ok(())
}

#[tokio::test]
async fn a_route_with_a_buffer_is_planned_as_one_volume_per_segment() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let uss = Uss::start(&dss, "uss1").await?;
    let route = route_flight(&[(LAT, LNG), (LAT, LNG + 0.02), (LAT + 0.02, LNG + 0.02)], 50.0, 120.0, 40);
    let planned = uss.operator().post("/operator/v1/flights", &wire(&route)).await.want(201)?;
    assert_eq!(planned["volumes"].as_array().map(Vec::len), Some(2));
    // A flight crossing the first leg 40 m off its line is in the way; 200 m off it is not.
    // A 10 m disc halfway along the first leg, `dlat` degrees north of it.
    let crossing = |dlat: f64| {
        wire(flight_of(vec![volume4(&circle(LAT + dlat, LNG + 0.01, 10.0), 0.0, 120.0, 10, 40)], 0))
    };
    let metres = |m: f64| m / 111_200.0;
    let near = crossing(metres(40.0 + 10.0));
    assert_error(uss.operator().post("/operator/v1/flights", &near).await?, 409, "intersects")?;
    let clear = crossing(metres(200.0 + 10.0));
    uss.operator().post("/operator/v1/flights", &clear).await.want(201)?;
    let both =
        wire(FlightRequest { volumes: vec![volume4(&circle(LAT, LNG, 10.0), 0.0, 1.0, 10, 20)], ..route });
    assert_error(uss.operator().post("/operator/v1/flights", &both).await?, 400, "not both")?;
    Ok(())
}

#[tokio::test]
async fn a_flight_far_off_its_volumes_turns_contingent_and_shares_telemetry() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let uss = Uss::start(&dss, "uss1").await?;
    let planned = uss
        .operator()
        .post("/operator/v1/flights", &flight(LAT, (0.0, 120.0), (-1, 30), 0))
        .await
        .want(201)?;
    let flight_id = str_of(&planned["id"])?.to_owned();
    let op = |action: &str| format!("/operator/v1/flights/{flight_id}/{action}");
    let fix = |lat: f64| fix_at(entente_dss::SystemClock.now(), lat, 60.0);
    let telemetry = format!("/uss/v1/operational_intents/{flight_id}/telemetry");
    assert_error(uss.operator().post(&op("telemetry"), &fix(LAT)).await?, 409, "activated")?;
    uss.operator().post(&op("activate"), &json!({})).await.want(200)?;
    assert_error(uss.peer("uss2", CMSA).get(&telemetry).await?, 409, "Nonconforming")?;
    // About 5.5 km north of a 300 m circle: beyond any recovery.
    let gone = uss.operator().post(&op("telemetry"), &fix(LAT + 0.05)).await.want(200)?;
    assert_eq!(gone["state"], "Contingent");
    assert_eq!(gone["volumes"], json!([]), "a contingent intent has off-nominal volumes only");
    assert_eq!(dss.client("uss1", &[SC]).get_oir(&flight_id).await?["state"], "Contingent");
    let served = uss.peer("uss2", CMSA).get(&telemetry).await.want(200)?;
    assert_eq!(served["telemetry"]["position"]["latitude"], json!(LAT + 0.05));
    // Flown out of the announced volume, a new one is announced; within it, nothing is written.
    let version = dss.client("uss1", &[SC]).get_oir(&flight_id).await?["version"].clone();
    uss.operator().post(&op("telemetry"), &fix(LAT + 0.05)).await.want(200)?;
    assert_eq!(dss.client("uss1", &[SC]).get_oir(&flight_id).await?["version"], version);
    let moved = uss.operator().post(&op("telemetry"), &fix(LAT + 0.06)).await.want(200)?;
    assert_eq!(
        moved["off_nominal_volumes"][0]["volume"]["outline_circle"]["center"]["lat"],
        json!(LAT + 0.06)
    );
    assert_ne!(dss.client("uss1", &[SC]).get_oir(&flight_id).await?["version"], version);
    // Contingent only ends; back inside it stays so.
    let still = uss.operator().post(&op("telemetry"), &fix(LAT)).await.want(200)?;
    assert_eq!(still["state"], "Contingent");
    assert_error(uss.operator().post(&op("activate"), &json!({})).await?, 409, "Contingent")?;
    uss.operator().post(&op("end"), &json!({})).await.want(200)?;
    Ok(())
}

#[tokio::test]
async fn operations_on_one_flight_do_not_interleave() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let uss = Uss::start(&dss, "uss1").await?;
    let planned = uss
        .operator()
        .post("/operator/v1/flights", &flight(LAT, (0.0, 120.0), (10, 40), 0))
        .await
        .want(201)?;
    let end = format!("/operator/v1/flights/{}/end", str_of(&planned["id"])?);
    let (a, b, empty) = (uss.operator(), uss.operator(), json!({}));
    let (first, second) = tokio::join!(a.post(&end, &empty), b.post(&end, &empty));
    let mut statuses = [first?.0.as_u16(), second?.0.as_u16()];
    statuses.sort_unstable();
    // One ends it; the other then finds it ended, instead of racing it to the DSS.
    assert_eq!(statuses, [200, 409]);
    assert_eq!(uss.outgoing("DELETE", "/dss/v1/operational_intent_references/")?, 1);
    Ok(())
}

#[tokio::test]
async fn operators_hear_of_peer_intents_that_come_to_intersect_their_flights() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let uss1 = Uss::start(&dss, "uss1").await?;
    let uss2 = Uss::start(&dss, "uss2").await?;
    let mine = uss1
        .operator()
        .post("/operator/v1/flights", &flight(LAT, (0.0, 120.0), (10, 40), 0))
        .await
        .want(201)?;
    let elsewhere = uss1
        .operator()
        .post("/operator/v1/flights", &flight(LAT + 0.1, (0.0, 120.0), (10, 40), 0))
        .await
        .want(201)?;
    assert_eq!(mine["alerts"], json!([]));
    // A higher priority flight over it: uss2 notifies uss1's subscription, and uss1 tells its operator.
    let theirs = uss2
        .operator()
        .post("/operator/v1/flights", &flight(LAT, (50.0, 150.0), (20, 30), 5))
        .await
        .want(201)?;
    let status =
        uss1.operator().get(&format!("/operator/v1/flights/{}", str_of(&mine["id"])?)).await.want(200)?;
    let alerts = status["alerts"].as_array().context("alerts")?;
    assert_eq!(alerts.len(), 1, "{status}");
    assert!(str_of(&alerts[0])?.contains(str_of(&theirs["id"])?) && str_of(&alerts[0])?.contains("uss2"));
    let untouched = uss1
        .operator()
        .get(&format!("/operator/v1/flights/{}", str_of(&elsewhere["id"])?))
        .await
        .want(200)?;
    assert_eq!(untouched["alerts"], json!([]));

    // The flight planning test interface reports the alert as a user notification observed since `after`.
    let tester = client_at(&uss1.base, "uss_qualifier", &[FP_PLAN]);
    let since = |t: chrono::DateTime<chrono::Utc>| {
        let t =
            t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true).replace(':', "%3A").replace('+', "%2B");
        format!("/flight_planning/v1/user_notifications?after={t}")
    };
    let seen =
        tester.get(&since(entente_dss::SystemClock.now() - chrono::Duration::minutes(5))).await.want(200)?;
    let notifications = seen["user_notifications"].as_array().context("user_notifications")?;
    assert_eq!(notifications.len(), 1, "{seen}");
    assert_eq!(notifications[0]["conflicts"], "Single");
    parse_time(&notifications[0]["observed_at"])?;
    let later =
        tester.get(&since(entente_dss::SystemClock.now() + chrono::Duration::seconds(1))).await.want(200)?;
    assert_eq!(later["user_notifications"], json!([]));
    assert_error(tester.get("/flight_planning/v1/user_notifications").await?, 400, "after")?;
    assert_error(uss1.operator().get(&since(entente_dss::SystemClock.now())).await?, 403, FP_PLAN)?;
    Ok(())
}

/// A USS that serves nothing: every call to it is refused at once.
const DEAD_URL: &str = "http://127.0.0.1:9";

#[tokio::test]
async fn intents_of_a_down_uss_and_of_others_under_this_identity() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let uss1 = Uss::start(&dss, "uss1").await?;
    let area = |lat: f64| vec![volume4d(&circle(lat, LNG, 300.0), 0.0, 120.0, 10, 40)];
    let dead = |extents: &[Value], state: &str| {
        let mut body: PutOperationalIntentReferenceParameters =
            from_wire(&oir_new_sub(&Client::offline("uss9"), extents, state, &[], false));
        body.uss_base_url = DEAD_URL.to_owned();
        if let Some(subscription) = &mut body.new_subscription {
            subscription.uss_base_url = DEAD_URL.to_owned();
        }
        wire(body)
    };

    // A USS that stopped answering holds an Accepted intent at LAT and an Activated one further north.
    let down = dss.client("uss9", &[SC]);
    let accepted = id();
    down.create_oir(&accepted, &dead(&area(LAT), "Accepted")).await?;
    let activated = id();
    let created = down.create_oir(&activated, &dead(&area(LAT + 0.1), "Accepted")).await?;
    down.update_oir(&activated, str_of(&created["ovn"])?, &dead(&area(LAT + 0.1), "Activated")).await?;
    dss.client("arbiter", &[AA]).set_availability("uss9", "", "Down").await?;

    // Over its Accepted intent a flight may be planned; its Activated one outranks every priority (SCD0010).
    uss1.operator().post("/operator/v1/flights", &flight(LAT, (0.0, 120.0), (10, 40), 0)).await.want(201)?;
    let refused = uss1
        .operator()
        .post("/operator/v1/flights", &flight(LAT + 0.1, (0.0, 120.0), (10, 40), 100))
        .await
        .want(409)?;
    assert_eq!(refused["conflicting_intents"], json!([activated]), "{refused}");
    let planner = client_at(&uss1.base, "uss_qualifier", &[FP_PLAN]);
    let path = |plan: &str| format!("/flight_planning/v1/flight_plans/{plan}");
    let rejected =
        planner.put(&path(&id()), &upsert("Planned", area(LAT + 0.1)[0].clone(), 0)).await.want(200)?;
    assert_eq!(
        (&rejected["planning_result"], &rejected["flight_plan_status"]),
        (&json!("Rejected"), &json!("NotPlanned")),
        "{rejected}"
    );

    // An intent written under this USS's identity by someone else (here a test driver) is asked of the base URL
    // it names, like a peer's: this one cannot be reached, so nothing is planned over it.
    let driver = dss.client("uss1", &[SC]);
    let foreign = id();
    let mut body: PutOperationalIntentReferenceParameters =
        from_wire(&oir(&driver, &area(LAT + 0.2), "Accepted", &[]));
    body.uss_base_url = DEAD_URL.to_owned();
    driver.create_oir(&foreign, &wire(body)).await?;
    let failed =
        uss1.operator().post("/operator/v1/flights", &flight(LAT + 0.2, (0.0, 120.0), (10, 40), 0)).await;
    let failed = failed.want(502)?;
    assert!(
        str_of(&failed["message"])?.contains(&format!("cannot deconflict with intent {foreign}")),
        "{failed}"
    );
    assert_eq!(uss1.outgoing("GET", &format!("{DEAD_URL}/uss/v1/operational_intents/{foreign}"))?, 1);

    // A flight whose reference the driver removed ends without the DSS.
    let mine = id();
    let planned =
        planner.put(&path(&mine), &upsert("Planned", area(LAT + 0.3)[0].clone(), 0)).await.want(200)?;
    assert_eq!(planned["flight_plan_status"], "Planned", "{planned}");
    let ovn = str_of(&driver.get_oir(&mine).await?["ovn"])?.to_owned();
    driver.delete(&oir_path_ovn(&mine, &ovn)).await.want(200)?;
    let closed = planner.delete(&path(&mine)).await.want(200)?;
    assert_eq!(
        (&closed["planning_result"], &closed["flight_plan_status"]),
        (&json!("Completed"), &json!("Closed"))
    );

    // Declared Down itself, this USS is refused by the DSS: a refusal to pass on, not a failure.
    dss.client("arbiter", &[AA]).set_availability("uss1", "", "Down").await?;
    let refused =
        uss1.operator().post("/operator/v1/flights", &flight(LAT + 0.4, (0.0, 120.0), (10, 40), 0)).await;
    assert!(str_of(&refused.want(412)?["message"])?.contains("Down"));
    let rejected =
        planner.put(&path(&id()), &upsert("Planned", area(LAT + 0.4)[0].clone(), 0)).await.want(200)?;
    assert_eq!(
        (&rejected["planning_result"], &rejected["flight_plan_status"]),
        (&json!("Rejected"), &json!("NotPlanned")),
        "{rejected}"
    );
    Ok(())
}

#[tokio::test]
async fn an_activated_flight_may_change_while_a_conflict_it_had_persists() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let uss1 = Uss::start(&dss, "uss1").await?;
    let uss2 = Uss::start(&dss, "uss2").await?;
    let planner = |u: &Uss| client_at(&u.base, "uss_qualifier", &[FP_PLAN]);
    let path = |plan: &str| format!("/flight_planning/v1/flight_plans/{plan}");
    let area = |lat: f64, alt_hi: f64| volume4d(&circle(lat, LNG, 300.0), 0.0, alt_hi, 10, 40);
    let outcome = |v: &Value| (v["planning_result"].clone(), v["flight_plan_status"].clone());

    let first = id();
    let flying = planner(&uss1).put(&path(&first), &upsert("InUse", area(LAT, 120.0), 0)).await.want(200)?;
    assert_eq!(outcome(&flying), (json!("Completed"), json!("OkToFly")));
    // A higher priority flight comes over it.
    let over = planner(&uss2).put(&path(&id()), &upsert("InUse", area(LAT, 120.0), 10)).await.want(200)?;
    assert_eq!(outcome(&over), (json!("Completed"), json!("OkToFly")));
    // Its operator lowers the flight: still in conflict, but no new one, so it is shared (SCD0030).
    let lowered = planner(&uss1).put(&path(&first), &upsert("InUse", area(LAT, 60.0), 0)).await.want(200)?;
    assert_eq!(outcome(&lowered), (json!("Completed"), json!("OkToFly")), "{lowered}");
    assert_eq!(dss.client("uss1", &[SC]).get_oir(&first).await?["version"], 3);

    // Another activated flight may not move into that higher priority flight: the conflict would be new.
    let second = id();
    let elsewhere =
        planner(&uss1).put(&path(&second), &upsert("InUse", area(LAT + 0.1, 60.0), 0)).await.want(200)?;
    assert_eq!(outcome(&elsewhere), (json!("Completed"), json!("OkToFly")));
    let moved = planner(&uss1).put(&path(&second), &upsert("InUse", area(LAT, 60.0), 0)).await.want(200)?;
    assert_eq!(outcome(&moved), (json!("Rejected"), json!("OkToFly")), "{moved}");
    Ok(())
}

/// `/flight_planning/v1/user_notifications` of `uss` observed from `after` on (and up to `before` when given).
async fn user_notifications(
    uss: &Uss,
    after: chrono::DateTime<chrono::Utc>,
    before: Option<chrono::DateTime<chrono::Utc>>,
) -> anyhow::Result<Vec<Value>> {
    let q = |t: chrono::DateTime<chrono::Utc>| {
        t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true).replace(':', "%3A").replace('+', "%2B")
    };
    let mut path = format!("/flight_planning/v1/user_notifications?after={}", q(after));
    if let Some(before) = before {
        path.push_str(&format!("&before={}", q(before)));
    }
    let seen = client_at(&uss.base, "uss_qualifier", &[FP_PLAN]).get(&path).await.want(200)?;
    Ok(seen["user_notifications"].as_array().context("user_notifications")?.clone())
}

#[tokio::test]
async fn user_notifications_report_conflicts_a_flight_causes_and_those_that_reach_a_flight()
-> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let uss1 = Uss::start(&dss, "uss1").await?;
    let uss2 = Uss::start(&dss, "uss2").await?;
    let planner = |u: &Uss| client_at(&u.base, "uss_qualifier", &[FP_PLAN]);
    let path = |plan: &str| format!("/flight_planning/v1/flight_plans/{plan}");
    let area = |lat: f64| volume4d(&circle(lat, LNG, 300.0), 0.0, 120.0, 10, 40);
    let outcome = |v: &Value| (v["planning_result"].clone(), v["flight_plan_status"].clone());
    let start = entente_dss::SystemClock.now() - chrono::Duration::seconds(1);

    let low = id();
    let planned = planner(&uss1).put(&path(&low), &upsert("Planned", area(LAT), 0)).await.want(200)?;
    assert_eq!(outcome(&planned), (json!("Completed"), json!("Planned")));
    assert_eq!(user_notifications(&uss1, start, None).await?, Vec::<Value>::new());
    // uss2 plans over it at a higher priority: its user is told of the conflict its flight causes (SCD0090), and
    // uss1's user of the conflict that reached theirs (SCD0095), each naming the other flight.
    let high = id();
    let over = planner(&uss2).put(&path(&high), &upsert("Planned", area(LAT), 5)).await.want(200)?;
    assert_eq!(outcome(&over), (json!("Completed"), json!("Planned")), "{over}");
    let caused = user_notifications(&uss2, start, None).await?;
    assert_eq!(caused.len(), 1, "{caused:?}");
    assert_eq!(caused[0]["conflicts"], "Single");
    assert!(str_of(&caused[0]["message"])?.contains(&low), "{caused:?}");
    let observed = parse_time(&caused[0]["observed_at"])?;
    assert!(observed >= start && observed <= entente_dss::SystemClock.now(), "{observed}");
    let reached = user_notifications(&uss1, start, None).await?;
    assert_eq!(reached.len(), 1, "{reached:?}");
    assert_eq!(reached[0]["conflicts"], "Single");
    assert!(str_of(&reached[0]["message"])?.contains(&high), "{reached:?}");
    // Only the requested window is reported.
    assert_eq!(
        user_notifications(&uss2, start - chrono::Duration::minutes(5), Some(start)).await?,
        Vec::<Value>::new()
    );
    let later = user_notifications(&uss2, observed + chrono::Duration::milliseconds(1), None).await?;
    assert_eq!(later, Vec::<Value>::new());

    // A flight of uss1 over both its own flight and uss2's: one notification of several conflicts to its user, and
    // the user of its own flight below is told as a peer's would be.
    let top = id();
    let topped = planner(&uss1).put(&path(&top), &upsert("Planned", area(LAT), 9)).await.want(200)?;
    assert_eq!(outcome(&topped), (json!("Completed"), json!("Planned")), "{topped}");
    let since = parse_time(&reached[0]["observed_at"])? + chrono::Duration::milliseconds(1);
    let mine = user_notifications(&uss1, since, None).await?;
    assert_eq!(mine.len(), 2, "{mine:?}");
    let multiple = mine.iter().find(|n| n["conflicts"] == "Multiple").context("the SCD0090 notification")?;
    let text = str_of(&multiple["message"])?;
    assert!(text.contains(&low) && text.contains(&high), "{text}");
    let below = mine.iter().find(|n| n["conflicts"] == "Single").context("the SCD0095 notification")?;
    assert!(str_of(&below["message"])?.contains(&top), "{below}");
    Ok(())
}

#[tokio::test]
async fn a_planned_flight_reported_off_nominal_becomes_nonconforming_or_contingent() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let uss1 = Uss::start(&dss, "uss1").await?;
    let planner = client_at(&uss1.base, "uss_qualifier", &[FP_PLAN]);
    let path = |plan: &str| format!("/flight_planning/v1/flight_plans/{plan}");
    let outcome = |v: &Value| (v["planning_result"].clone(), v["flight_plan_status"].clone());
    let reported = |lat: f64, uas: &str| {
        let mut plan = upsert_plan("InUse", volume4d(&circle(lat, LNG, 500.0), 0.0, 200.0, 5, 40), 0);
        plan.execution_style = "InReality".to_owned();
        plan.flight_plan.basic_information.uas_state = uas.to_owned();
        wire(plan)
    };

    // Accepted -> Nonconforming: F3548 lets a USS that monitors conformance write it, with the planned volumes
    // kept and the reported area as the off-nominal volume.
    let first = id();
    let area = volume4d(&circle(LAT, LNG, 300.0), 0.0, 120.0, 10, 40);
    planner.put(&path(&first), &upsert("Planned", area, 0)).await.want(200)?;
    let off = planner.put(&path(&first), &reported(LAT, "OffNominal")).await.want(200)?;
    assert_eq!(outcome(&off), (json!("Completed"), json!("OffNominal")), "{off}");
    assert_eq!(dss.client("uss1", &[SC]).get_oir(&first).await?["state"], "Nonconforming");
    let details =
        uss1.peer("uss2", SC).get(&format!("/uss/v1/operational_intents/{first}")).await.want(200)?;
    let d = &details["operational_intent"]["details"];
    assert_eq!(
        (d["volumes"].as_array().map(Vec::len), d["off_nominal_volumes"].as_array().map(Vec::len)),
        (Some(1), Some(1))
    );

    // Accepted -> Contingent goes by way of Nonconforming, each a state F3548 allows.
    let second = id();
    let area = volume4d(&circle(LAT + 0.1, LNG, 300.0), 0.0, 120.0, 10, 40);
    planner.put(&path(&second), &upsert("Planned", area, 0)).await.want(200)?;
    let contingent = planner.put(&path(&second), &reported(LAT + 0.1, "Contingent")).await.want(200)?;
    assert_eq!(outcome(&contingent), (json!("Completed"), json!("OffNominal")), "{contingent}");
    let oir = dss.client("uss1", &[SC]).get_oir(&second).await?;
    assert_eq!((&oir["state"], &oir["version"]), (&json!("Contingent"), &json!(3)), "{oir}");
    Ok(())
}

/// The value of the series `line` (name and labels as rendered) in `text`, 0 when absent.
fn series(text: &str, line: &str) -> f64 {
    text.lines().find_map(|l| l.strip_prefix(line).and_then(|rest| rest.trim().parse().ok())).unwrap_or(0.0)
}

#[tokio::test]
async fn the_uss_metrics_count_plans_notifications_and_calls() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let uss1 = Uss::start(&dss, "uss1").await?;
    let uss2 = Uss::start(&dss, "uss2").await?;
    let metrics = |u: &Uss| {
        let client = client_at(&u.base, "prometheus", &[]);
        async move {
            let (status, text) = client.get_text("/metrics").await?;
            anyhow::ensure!(status == 200, "/metrics answered {status}: {text}");
            Ok::<String, anyhow::Error>(text)
        }
    };
    let planner = |u: &Uss| client_at(&u.base, "uss_qualifier", &[FP_PLAN]);
    let path = |plan: &str| format!("/flight_planning/v1/flight_plans/{plan}");
    let area = volume4d(&circle(LAT, LNG, 300.0), 0.0, 120.0, 10, 40);

    let low = uss1
        .operator()
        .post("/operator/v1/flights", &flight(LAT, (0.0, 120.0), (10, 40), 0))
        .await
        .want(201)?;
    assert!(low["id"].is_string());
    uss2.operator().post("/operator/v1/flights", &flight(LAT, (0.0, 120.0), (10, 40), 0)).await.want(409)?;
    let mut bad = upsert_plan("Planned", area.clone(), 0);
    bad.flight_plan.basic_information.area.clear();
    let bad = wire(bad);
    let rejected = planner(&uss2).put(&path(&id()), &bad).await.want(200)?;
    assert_eq!(rejected["planning_result"], "Rejected");
    // The operator API's refusals of bad input count too.
    uss2.operator().post("/operator/v1/flights", &flight(LAT, (120.0, 0.0), (10, 40), 0)).await.want(400)?;
    uss2.operator().post("/operator/v1/flights", &flight(LAT, (0.0, 120.0), (10, 40), 5)).await.want(201)?;

    let text = metrics(&uss2).await?;
    let of = |line: &str| series(&text, line);
    assert_eq!(of("entente_uss_plans_total{uss=\"uss2\",outcome=\"accepted\"}"), 1.0, "{text}");
    assert_eq!(of("entente_uss_plans_total{uss=\"uss2\",outcome=\"refused_conflict\"}"), 1.0, "{text}");
    assert_eq!(of("entente_uss_plans_total{uss=\"uss2\",outcome=\"refused_bad_input\"}"), 2.0, "{text}");
    assert_eq!(of("entente_uss_operator_notifications_total{uss=\"uss2\",requirement=\"SCD0090\"}"), 1.0);
    assert_eq!(
        of("entente_uss_subscriber_notifications_total{uss=\"uss2\",outcome=\"sent\"}"),
        1.0,
        "{text}"
    );
    // Queries and writes to the DSS, and the details of uss1's flight from uss1.
    assert!(of("entente_uss_calls_total{uss=\"uss2\",callee=\"dss\",status=\"2xx\"}") >= 3.0, "{text}");
    assert!(of("entente_uss_calls_total{uss=\"uss2\",callee=\"peer\",status=\"2xx\"}") >= 2.0, "{text}");
    let calls = of("entente_uss_calls_total{uss=\"uss2\",callee=\"dss\",status=\"2xx\"}");
    assert_eq!(of("entente_uss_call_duration_seconds_count{uss=\"uss2\",callee=\"dss\"}"), calls, "{text}");
    let text1 = metrics(&uss1).await?;
    assert_eq!(
        series(&text1, "entente_uss_operator_notifications_total{uss=\"uss1\",requirement=\"SCD0095\"}"),
        1.0,
        "{text1}"
    );
    Ok(())
}

/// A flight over the base location from `start` to `end` minutes after now (not after the process's base instant,
/// so that "before its start" stays true however long the suite has run).
fn flight_from_now(alt: (f64, f64), minutes: (i64, i64)) -> Value {
    let now = entente_dss::SystemClock.now();
    let (start, end) =
        (now + chrono::Duration::minutes(minutes.0), now + chrono::Duration::minutes(minutes.1));
    wire(flight_of(
        vec![volume4_at(&circle(LAT, LNG, 300.0), Some(alt.0), Some(alt.1), Some(start), Some(end))],
        0,
    ))
}

/// A telemetry report at `time`, at `lat` over the base longitude at `alt` metres.
fn fix_at(at: chrono::DateTime<chrono::Utc>, lat: f64, alt: f64) -> Value {
    fix_at_point(at, (lat, LNG), alt)
}

/// A telemetry report at `time`, over (`lat`, `lng`) at `alt` metres.
pub(crate) fn fix_at_point(at: chrono::DateTime<chrono::Utc>, (lat, lng): (f64, f64), alt: f64) -> Value {
    let position = Position {
        longitude: lng,
        latitude: lat,
        accuracy_h: None,
        accuracy_v: None,
        extrapolated: false,
        altitude: Some(altitude_m(alt)),
    };
    wire(VehicleTelemetry { time_measured: time(at), position: Some(position), velocity: None })
}

/// The states of a flight's history, oldest first, each checked to carry a time and a reason.
fn history_states(status: &Value) -> anyhow::Result<Vec<String>> {
    let history = status["history"].as_array().with_context(|| format!("history in {status}"))?;
    history
        .iter()
        .map(|h| {
            parse_time(&h["time"])?;
            anyhow::ensure!(!str_of(&h["reason"])?.is_empty(), "a change without a reason: {h}");
            Ok(str_of(&h["state"])?.to_owned())
        })
        .collect()
}

#[tokio::test]
async fn a_flight_activated_before_its_start_starts_now_and_conforms() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let uss = Uss::start(&dss, "uss1").await?;
    let planned = uss
        .operator()
        .post("/operator/v1/flights", &flight_from_now((0.0, 120.0), (5, 30)))
        .await
        .want(201)?;
    let flight_id = str_of(&planned["id"])?.to_owned();
    let op = |action: &str| format!("/operator/v1/flights/{flight_id}/{action}");
    let planned_start = parse_time(&planned["volumes"][0]["time_start"])?;
    let activated = uss.operator().post(&op("activate"), &json!({})).await.want(200)?;
    assert_eq!(activated["state"], "Activated");
    // The start moved to now, at the DSS too (with the key, since the flight was planned again).
    let start = parse_time(&activated["volumes"][0]["time_start"])?;
    assert!(start < planned_start - chrono::Duration::minutes(4), "{activated}");
    let reference = dss.client("uss1", &[SC]).get_oir(&flight_id).await?;
    let at_dss = parse_time(&reference["time_start"])?;
    assert!((at_dss - start).abs() < chrono::Duration::seconds(1), "{reference}");
    assert!(str_of(&activated["state_reason"])?.contains("start"), "{activated}");
    // A position inside the volume, now: the flight conforms.
    let judged = uss
        .operator()
        .post(&op("telemetry"), &fix_at(entente_dss::SystemClock.now(), LAT, 60.0))
        .await
        .want(200)?;
    assert_eq!(judged["state"], "Activated", "{judged}");
    assert_eq!(history_states(&judged)?, ["Accepted", "Activated"]);
    Ok(())
}

#[tokio::test]
async fn telemetry_from_the_future_is_refused_and_nonconforming_flights_recover() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let uss = Uss::start(&dss, "uss1").await?;
    let planned = uss
        .operator()
        .post("/operator/v1/flights", &flight_from_now((0.0, 120.0), (-1, 30)))
        .await
        .want(201)?;
    let flight_id = str_of(&planned["id"])?.to_owned();
    let op = |action: &str| format!("/operator/v1/flights/{flight_id}/{action}");
    uss.operator().post(&op("activate"), &json!({})).await.want(200)?;
    let hour_ahead = entente_dss::SystemClock.now() + chrono::Duration::hours(1);
    assert_error(
        uss.operator().post(&op("telemetry"), &fix_at(hour_ahead, LAT, 60.0)).await?,
        400,
        "time_measured",
    )?;
    let status = uss.operator().get(&format!("/operator/v1/flights/{flight_id}")).await.want(200)?;
    assert_eq!(status["state"], "Activated", "a refused fix changes nothing: {status}");
    assert!(str_of(&planned["state_reason"])?.contains("planned"), "{planned}");
    // 150 m above the volume: nonconforming, and told why.
    let above = uss
        .operator()
        .post(&op("telemetry"), &fix_at(entente_dss::SystemClock.now(), LAT, 270.0))
        .await
        .want(200)?;
    assert_eq!(above["state"], "Nonconforming", "{above}");
    assert!(str_of(&above["state_reason"])?.contains("outside"), "{above}");
    assert_eq!(dss.client("uss1", &[SC]).get_oir(&flight_id).await?["state"], "Nonconforming");
    // Back inside: Activated again (F3548 allows Nonconforming -> Activated), without its off-nominal volume.
    let back = uss
        .operator()
        .post(&op("telemetry"), &fix_at(entente_dss::SystemClock.now(), LAT, 60.0))
        .await
        .want(200)?;
    assert_eq!(back["state"], "Activated", "{back}");
    assert_eq!(back["off_nominal_volumes"], json!([]));
    assert!(str_of(&back["state_reason"])?.contains("inside"), "{back}");
    assert_eq!(dss.client("uss1", &[SC]).get_oir(&flight_id).await?["state"], "Activated");
    assert_eq!(history_states(&back)?, ["Accepted", "Activated", "Nonconforming", "Activated"]);
    let ended = uss.operator().post(&op("end"), &json!({})).await.want(200)?;
    assert_eq!(history_states(&ended)?, ["Accepted", "Activated", "Nonconforming", "Activated", "Ended"]);
    Ok(())
}

#[tokio::test]
async fn operators_list_their_flights_and_authorities_their_zones() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let uss = Uss::start(&dss, "uss1").await?;
    let pilot = uss.operator();
    let other = client_at(&uss.base, "other-pilot", &[OPERATOR]);
    let early = plan(&pilot, LAT, (-1, 20)).await?;
    let late = plan(&pilot, LAT + 0.1, (60, 90)).await?;
    let theirs = plan(&other, LAT + 0.2, (-1, 20)).await?;
    pilot.post(&format!("/operator/v1/flights/{early}/activate"), &json!({})).await.want(200)?;
    let listed = |body: Value| -> anyhow::Result<Vec<String>> {
        let flights = body["flights"].as_array().with_context(|| format!("flights in {body}"))?;
        Ok(sorted(
            &flights
                .iter()
                .map(|f| str_of(&f["id"]).map(str::to_owned))
                .collect::<anyhow::Result<Vec<_>>>()?,
        ))
    };
    // Only the caller's own flights.
    assert_eq!(listed(pilot.get("/operator/v1/flights").await.want(200)?)?, sorted(&[&early, &late]));
    assert_eq!(listed(other.get("/operator/v1/flights").await.want(200)?)?, vec![theirs]);
    assert_eq!(
        listed(pilot.get("/operator/v1/flights?state=Activated").await.want(200)?)?,
        vec![early.clone()]
    );
    assert_eq!(
        listed(pilot.get("/operator/v1/flights?state=Accepted").await.want(200)?)?,
        vec![late.clone()]
    );
    let window = |from: i64, to: i64| {
        let iso = |m: i64| at(m).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        format!("/operator/v1/flights?time_start={}&time_end={}", iso(from), iso(to))
    };
    assert_eq!(listed(pilot.get(&window(50, 70)).await.want(200)?)?, vec![late.clone()]);
    assert_eq!(listed(pilot.get(&window(0, 10)).await.want(200)?)?, vec![early.clone()]);
    assert_eq!(listed(pilot.get(&window(30, 40)).await.want(200)?)?, Vec::<String>::new());
    assert_error(pilot.get("/operator/v1/flights?state=Flying").await?, 400, "state")?;
    assert_error(pilot.get("/operator/v1/flights?time_start=yesterday").await?, 400, "time_start")?;
    assert_error(pilot.get(&window(40, 30)).await?, 400, "time_end")?;
    assert_error(pilot.get("/operator/v1/flights?state=Accepted&state=Ended").await?, 400, "state")?;
    pilot.post(&format!("/operator/v1/flights/{early}/end"), &json!({})).await.want(200)?;
    assert_eq!(listed(pilot.get("/operator/v1/flights?state=Ended").await.want(200)?)?, vec![early]);

    let authority = client_at(&uss.base, "city", &["entente.authority"]);
    let zone = |minutes: (i64, i64)| {
        let volumes = vec![volume4(&circle(LAT + 0.5, LNG, 500.0), 0.0, 500.0, minutes.0, minutes.1)];
        wire(ConstraintRequest { volumes, kind: None })
    };
    let morning = str_of(
        &authority.post("/authority/v1/constraints", &zone((10, 40))).await.want(201)?["reference"]["id"],
    )?
    .to_owned();
    let evening = str_of(
        &authority.post("/authority/v1/constraints", &zone((100, 140))).await.want(201)?["reference"]["id"],
    )?
    .to_owned();
    let zones = |body: Value| -> anyhow::Result<Vec<String>> {
        let list = body["constraints"].as_array().with_context(|| format!("constraints in {body}"))?;
        Ok(sorted(
            &list
                .iter()
                .map(|c| str_of(&c["reference"]["id"]).map(str::to_owned))
                .collect::<anyhow::Result<Vec<_>>>()?,
        ))
    };
    assert_eq!(
        zones(authority.get("/authority/v1/constraints").await.want(200)?)?,
        sorted(&[&morning, &evening])
    );
    let iso = |m: i64| at(m).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let path = format!("/authority/v1/constraints?time_start={}", iso(50));
    assert_eq!(zones(authority.get(&path).await.want(200)?)?, vec![evening]);
    assert_error(pilot.get("/authority/v1/constraints").await?, 403, "entente.authority")?;
    Ok(())
}

/// Plans a flight for `c` over `lat`, in `minutes` from the base instant; returns its id.
async fn plan(c: &Client, lat: f64, minutes: (i64, i64)) -> anyhow::Result<String> {
    let planned = c.post("/operator/v1/flights", &flight(lat, (0.0, 120.0), minutes, 0)).await.want(201)?;
    Ok(str_of(&planned["id"])?.to_owned())
}

/// An operator past the USS's cap of requests in flight is answered 429 with Retry-After, as at the DSS; another
/// operator is served meanwhile, and the first again once one of its requests ends.
#[tokio::test]
async fn an_operator_past_its_requests_in_flight_is_asked_to_retry() -> anyhow::Result<()> {
    use tokio::io::AsyncWriteExt;
    let dss = Dss::start().await?;
    let uss = Uss::start_configured(&dss, "uss1", |config| config.client_concurrency = 2).await?;
    let address = uss.base.trim_start_matches("http://").to_owned();
    // Each holds a plan's head with its body withheld, so the request stays in flight.
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut stream = tokio::net::TcpStream::connect(&address).await?;
        let head = format!(
            "POST /operator/v1/flights HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {}\r\n\
             Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{",
            token("greedy", &[OPERATOR])
        );
        stream.write_all(head.as_bytes()).await?;
        held.push(stream);
    }
    let greedy = client_at(&uss.base, "greedy", &[OPERATOR]);
    let until = std::time::Instant::now() + Duration::from_secs(10);
    let refused = loop {
        let (status, body) = greedy.get("/operator/v1/flights").await?;
        if status == 429 || std::time::Instant::now() > until {
            break (status, body);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let body = refused.want(429)?;
    assert!(message(&body)?.contains("\"greedy\" already has 2 requests in flight"), "{body}");
    uss.operator().get("/operator/v1/flights").await.want(200)?;
    drop(held);
    let until = std::time::Instant::now() + Duration::from_secs(10);
    while greedy.get("/operator/v1/flights").await?.0 != 200 {
        assert!(std::time::Instant::now() < until, "the greedy operator was not served again");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

/// A peer's call whose body stalls is answered 408 once the listener's body grace has passed, through the audit of
/// the USS-USS API as anywhere else (that audit read bodies itself and answered every failure 413).
#[tokio::test]
async fn a_peer_call_whose_body_stalls_is_answered_408() -> anyhow::Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dss = Dss::start().await?;
    let uss = Uss::start_configured(&dss, "uss1", |config| {
        config.listener_limits.body_grace = Duration::from_millis(500);
        config.listener_limits.min_body_rate = 1000;
    })
    .await?;
    let address = uss.base.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&address).await?;
    let head = format!(
        "POST /uss/v1/operational_intents HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: 200\r\n\r\n{{\"operational_intent_id\":",
        token("uss2", &["utm.strategic_coordination"])
    );
    stream.write_all(head.as_bytes()).await?;
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer)).await??;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    Ok(())
}
