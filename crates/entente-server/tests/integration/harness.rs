//! Test harness: a real DSS on a real socket, token-carrying HTTP clients, and JSON builders.

use std::path::Path;
use std::sync::{Arc, LazyLock};
use std::time::Duration as StdDuration;

use anyhow::{Context, bail};
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use entente_dss::{Clock, Limits, SystemClock};
use entente_server::AppState;
use entente_server::auth::{Authenticator, TokenIssuer};
use entente_store::RedbStore;
use entente_wire::scd::{
    ImplicitSubscriptionParameters, PutConstraintReferenceParameters,
    PutOperationalIntentReferenceParameters, PutSubscriptionParameters, QueryRequest,
    SetUssAvailabilityStatusParameters,
};
use entente_wire::{Altitude, Circle, LatLngPoint, Polygon, Radius, Time, Volume3D, Volume4D};
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tempfile::TempDir;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub(crate) const SC: &str = "utm.strategic_coordination";
pub(crate) const CM: &str = "utm.constraint_management";
pub(crate) const CP: &str = "utm.constraint_processing";
pub(crate) const CMSA: &str = "utm.conformance_monitoring_sa";
pub(crate) const AA: &str = "utm.availability_arbitration";

/// The token audience every test server accepts.
pub(crate) const AUDIENCE: &str = "localhost";
/// F3548 placeholder for "no subscription" on an operational intent reference.
pub(crate) const NULL_SUBSCRIPTION: &str = "00000000-0000-4000-8000-000000000000";

/// Where the test airspace is (Lausanne); tests place volumes relative to it.
pub(crate) const LAT: f64 = 46.5;
pub(crate) const LNG: f64 = 6.6;

pub(crate) const RSA_PRIVATE: &str = include_str!("../../testdata/keys/rsa-private.pem");
pub(crate) const RSA_PUBLIC: &str = include_str!("../../testdata/keys/rsa-public.pem");
pub(crate) const EC_PRIVATE: &str = include_str!("../../testdata/keys/ec-private.pem");
pub(crate) const EC_PUBLIC: &str = include_str!("../../testdata/keys/ec-public.pem");
pub(crate) const OTHER_RSA_PRIVATE: &str = include_str!("../../testdata/keys/other-rsa-private.pem");

/// Largest request body the test servers accept.
pub(crate) const BODY_LIMIT: usize = 1 << 20;

/// One instant per test process, to whole seconds, so volumes built by different calls line up
/// exactly; tests express times as minutes from it.
static BASE: LazyLock<DateTime<Utc>> = LazyLock::new(|| {
    let now = SystemClock.now();
    DateTime::from_timestamp(now.timestamp(), 0).unwrap_or(now)
});

static ISSUER: LazyLock<TokenIssuer> =
    LazyLock::new(|| TokenIssuer::from_pem(RSA_PRIVATE, None).expect("the test RSA key loads"));

/// A running DSS: its data folder, its address, and the handle to stop it.
pub(crate) struct Dss {
    dir: TempDir,
    pub(crate) base: String,
    /// Whether it also serves the web map (`/map/`).
    map: bool,
    /// Settings beyond the defaults, applied again on a restart.
    configure: fn(AppState) -> AppState,
    state: Option<Arc<AppState>>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

/// Everything `serve` needs, over the store in `dir`, with the web map when `map` is set.
pub(crate) fn build_state(dir: &Path, map: bool) -> anyhow::Result<Arc<AppState>> {
    build_configured_state(dir, map, |state| state)
}

fn build_configured_state(
    dir: &Path,
    map: bool,
    configure: fn(AppState) -> AppState,
) -> anyhow::Result<Arc<AppState>> {
    let store = RedbStore::open(dir).context("opening the redb store")?;
    let limits = Limits { allow_http_base_urls: true, ..Limits::default() };
    let dss =
        entente_dss::Dss::open(Arc::new(store), Arc::new(SystemClock), limits).context("opening the DSS")?;
    let auth = Authenticator::from_pem_strings(&[RSA_PUBLIC, EC_PUBLIC], vec![AUDIENCE.to_owned()])
        .context("building the authenticator")?;
    let state = configure(AppState::new(Arc::new(dss), Arc::new(auth), BODY_LIMIT));
    Ok(Arc::new(if map { state.with_map() } else { state }))
}

impl Dss {
    pub(crate) async fn start() -> anyhow::Result<Dss> {
        Dss::start_serving(false, |state| state).await
    }

    /// A DSS that also serves the web map and its API.
    pub(crate) async fn start_with_map() -> anyhow::Result<Dss> {
        Dss::start_serving(true, |state| state).await
    }

    /// A DSS with settings beyond the defaults (`configure` receives the default state).
    pub(crate) async fn start_configured(configure: fn(AppState) -> AppState) -> anyhow::Result<Dss> {
        Dss::start_serving(false, configure).await
    }

    async fn start_serving(map: bool, configure: fn(AppState) -> AppState) -> anyhow::Result<Dss> {
        let dir = tempfile::tempdir()?;
        let state = build_configured_state(dir.path(), map, configure)?;
        let mut dss =
            Dss { dir, base: String::new(), map, configure, state: None, shutdown: None, task: None };
        dss.serve(state).await?;
        Ok(dss)
    }

    async fn serve(&mut self, state: Arc<AppState>) -> anyhow::Result<()> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        self.base = format!("http://{}", listener.local_addr()?);
        let (tx, rx) = oneshot::channel::<()>();
        let shutdown = async move {
            let _ = rx.await;
        };
        self.task = Some(tokio::spawn(entente_server::serve(listener, state.clone(), shutdown)));
        self.state = Some(state);
        self.shutdown = Some(tx);
        Ok(())
    }

    /// Stops the server, drops every handle on the store, and serves the same data folder again
    /// on a new port. Clients made before must be made again (the address changes).
    pub(crate) async fn restart(&mut self) -> anyhow::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            tokio::time::timeout(StdDuration::from_secs(10), task)
                .await
                .context("the server did not stop within 10 s")???;
        }
        drop(self.state.take());
        // The committer thread releases the database file asynchronously after the store is dropped.
        let mut attempts = 0;
        let state = loop {
            match build_configured_state(self.dir.path(), self.map, self.configure) {
                Ok(state) => break state,
                Err(_) if attempts < 100 => {
                    attempts += 1;
                    tokio::time::sleep(StdDuration::from_millis(50)).await;
                }
                Err(e) => return Err(e.context("reopening the store after the restart")),
            }
        };
        self.serve(state).await
    }

    /// A client acting as USS `sub` with a one-hour token holding `scopes`.
    pub(crate) fn client(&self, sub: &str, scopes: &[&str]) -> Client {
        Client::new(&self.base, Some(token(sub, scopes)), sub)
    }

    /// A client sending no `Authorization` header.
    pub(crate) fn anonymous(&self) -> Client {
        Client::new(&self.base, None, "anonymous")
    }

    /// A client sending `header` verbatim as its `Authorization` header.
    pub(crate) fn with_authorization(&self, header: &str) -> Client {
        let mut c = Client::new(&self.base, None, "raw");
        c.authorization = Some(header.to_owned());
        c
    }
}

impl Drop for Dss {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// A client acting as `sub` towards any server at `base` (a USS, say).
pub(crate) fn client_at(base: &str, sub: &str, scopes: &[&str]) -> Client {
    Client::new(base, Some(token(sub, scopes)), sub)
}

/// A client sending no `Authorization` header to any server at `base`.
pub(crate) fn anonymous_at(base: &str) -> Client {
    Client::new(base, None, "anonymous")
}

/// A valid access token for `sub` from the trusted test issuer.
pub(crate) fn token(sub: &str, scopes: &[&str]) -> String {
    ISSUER.issue(sub, scopes, AUDIENCE, StdDuration::from_secs(3600)).expect("the test issuer signs tokens")
}

/// One USS talking to the DSS: every call returns the status and the JSON body (`Null` when
/// empty, a JSON string when the body is not JSON).
pub(crate) struct Client {
    http: reqwest::Client,
    base: String,
    authorization: Option<String>,
    pub(crate) sub: String,
}

impl Client {
    fn new(base: &str, token: Option<String>, sub: &str) -> Client {
        Client {
            http: reqwest::Client::builder()
                .timeout(StdDuration::from_secs(20))
                .build()
                .expect("a plain-http reqwest client builds"),
            base: base.to_owned(),
            authorization: token.map(|t| format!("Bearer {t}")),
            sub: sub.to_owned(),
        }
    }

    /// A client for building bodies only (the in-process tests send requests themselves).
    pub(crate) fn offline(sub: &str) -> Client {
        Client::new("http://unused.invalid", None, sub)
    }

    /// The `uss_base_url` this USS announces.
    pub(crate) fn url(&self) -> String {
        format!("https://{}.example.com", self.sub)
    }

    pub(crate) async fn get(&self, path: &str) -> anyhow::Result<(StatusCode, Value)> {
        self.send(Method::GET, path, None).await
    }

    pub(crate) async fn delete(&self, path: &str) -> anyhow::Result<(StatusCode, Value)> {
        self.send(Method::DELETE, path, None).await
    }

    pub(crate) async fn put(&self, path: &str, body: &Value) -> anyhow::Result<(StatusCode, Value)> {
        self.send(Method::PUT, path, Some(serde_json::to_vec(body)?)).await
    }

    pub(crate) async fn post(&self, path: &str, body: &Value) -> anyhow::Result<(StatusCode, Value)> {
        self.send(Method::POST, path, Some(serde_json::to_vec(body)?)).await
    }

    /// Sends `body` bytes as they are (malformed JSON, oversized bodies).
    pub(crate) async fn send_raw(
        &self,
        method: Method,
        path: &str,
        body: Vec<u8>,
    ) -> anyhow::Result<(StatusCode, Value)> {
        self.send(method, path, Some(body)).await
    }

    /// The body as text, for non-JSON endpoints such as `/metrics`.
    pub(crate) async fn get_text(&self, path: &str) -> anyhow::Result<(StatusCode, String)> {
        let resp = self.request(Method::GET, path, None).send().await?;
        Ok((resp.status(), resp.text().await?))
    }

    fn request(&self, method: Method, path: &str, body: Option<Vec<u8>>) -> reqwest::RequestBuilder {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(auth) = &self.authorization {
            req = req.header(reqwest::header::AUTHORIZATION, auth);
        }
        if let Some(body) = body {
            req = req.header(reqwest::header::CONTENT_TYPE, "application/json").body(body);
        }
        req
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> anyhow::Result<(StatusCode, Value)> {
        let what = format!("{method} {path}");
        let resp = self.request(method, path, body).send().await.with_context(|| what.clone())?;
        let status = resp.status();
        let bytes = resp.bytes().await.with_context(|| what.clone())?;
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        Ok((status, body))
    }

    // Shortcuts for the common successful steps of a scenario.

    /// Creates an operational intent reference and returns the reference (asserts 201).
    pub(crate) async fn create_oir(&self, id: &str, body: &Value) -> anyhow::Result<Value> {
        let body = self.put(&oir_path(id), body).await?.want(201)?;
        Ok(body["operational_intent_reference"].clone())
    }

    /// Updates an operational intent reference and returns the reference (asserts 200).
    pub(crate) async fn update_oir(&self, id: &str, ovn: &str, body: &Value) -> anyhow::Result<Value> {
        let body = self.put(&oir_path_ovn(id, ovn), body).await?.want(200)?;
        Ok(body["operational_intent_reference"].clone())
    }

    /// Gets an operational intent reference (asserts 200).
    pub(crate) async fn get_oir(&self, id: &str) -> anyhow::Result<Value> {
        let body = self.get(&oir_path(id)).await?.want(200)?;
        Ok(body["operational_intent_reference"].clone())
    }

    /// Creates a subscription and returns it (asserts 200).
    pub(crate) async fn create_sub(&self, id: &str, body: &Value) -> anyhow::Result<Value> {
        let body = self.put(&sub_path(id), body).await?.want(200)?;
        Ok(body["subscription"].clone())
    }

    /// Gets a subscription (asserts 200).
    pub(crate) async fn get_sub(&self, id: &str) -> anyhow::Result<Value> {
        let body = self.get(&sub_path(id)).await?.want(200)?;
        Ok(body["subscription"].clone())
    }

    /// Creates a constraint reference and returns the reference (asserts 201).
    pub(crate) async fn create_constraint(&self, id: &str, body: &Value) -> anyhow::Result<Value> {
        let body = self.put(&constraint_path(id), body).await?.want(201)?;
        Ok(body["constraint_reference"].clone())
    }

    /// Sets this USS's (or another's) availability through the arbiter, returning the new version.
    pub(crate) async fn set_availability(
        &self,
        uss: &str,
        old_version: &str,
        availability: &str,
    ) -> anyhow::Result<String> {
        let body = self
            .put(&availability_path(uss), &availability_params(Some(old_version), availability))
            .await?
            .want(200)?;
        Ok(str_of(&body["version"])?.to_owned())
    }
}

/// Checks the status of a response and hands back its body, naming both on a mismatch.
pub(crate) trait Want {
    fn want(self, status: u16) -> anyhow::Result<Value>;
}

impl Want for (StatusCode, Value) {
    fn want(self, status: u16) -> anyhow::Result<Value> {
        let (got, body) = self;
        if got.as_u16() != status {
            bail!("expected HTTP {status}, got {got} with body {body}");
        }
        Ok(body)
    }
}

impl Want for anyhow::Result<(StatusCode, Value)> {
    fn want(self, status: u16) -> anyhow::Result<Value> {
        self?.want(status)
    }
}

/// The string at a JSON position, or an error naming what was there.
pub(crate) fn str_of(v: &Value) -> anyhow::Result<&str> {
    v.as_str().with_context(|| format!("expected a JSON string, got {v}"))
}

/// The `message` of an error body, which every error must carry.
pub(crate) fn message(body: &Value) -> anyhow::Result<&str> {
    body["message"].as_str().with_context(|| format!("error body without a string message: {body}"))
}

/// Asserts an error answer: exact status and a message naming `field`.
pub(crate) fn assert_error(resp: (StatusCode, Value), status: u16, field: &str) -> anyhow::Result<()> {
    let body = resp.want(status)?;
    let msg = message(&body)?;
    if !msg.contains(field) {
        bail!("the error message should name {field:?}: {msg:?}");
    }
    Ok(())
}

pub(crate) fn id() -> String {
    uuid::Uuid::new_v4().to_string()
}

pub(crate) fn oir_path(id: &str) -> String {
    format!("/dss/v1/operational_intent_references/{id}")
}

pub(crate) fn oir_path_ovn(id: &str, ovn: &str) -> String {
    format!("/dss/v1/operational_intent_references/{id}/{ovn}")
}

pub(crate) fn constraint_path(id: &str) -> String {
    format!("/dss/v1/constraint_references/{id}")
}

pub(crate) fn constraint_path_ovn(id: &str, ovn: &str) -> String {
    format!("/dss/v1/constraint_references/{id}/{ovn}")
}

pub(crate) fn sub_path(id: &str) -> String {
    format!("/dss/v1/subscriptions/{id}")
}

pub(crate) fn sub_path_version(id: &str, version: &str) -> String {
    format!("/dss/v1/subscriptions/{id}/{version}")
}

pub(crate) fn availability_path(uss: &str) -> String {
    format!("/dss/v1/uss_availability/{uss}")
}

pub(crate) const OIR_QUERY: &str = "/dss/v1/operational_intent_references/query";
pub(crate) const CONSTRAINT_QUERY: &str = "/dss/v1/constraint_references/query";
pub(crate) const SUB_QUERY: &str = "/dss/v1/subscriptions/query";
pub(crate) const REPORTS: &str = "/dss/v1/reports";

// Time.

/// The instant `minutes` after the process's base instant.
pub(crate) fn at(minutes: i64) -> DateTime<Utc> {
    *BASE + Duration::minutes(minutes)
}

/// The F3548 `Time` of an instant, written with milliseconds.
pub(crate) fn time(t: DateTime<Utc>) -> Time {
    Time { value: t.to_rfc3339_opts(SecondsFormat::Millis, true), format: "RFC3339".to_owned() }
}

/// The instant in a `Time` object.
pub(crate) fn parse_time(t: &Value) -> anyhow::Result<DateTime<Utc>> {
    assert_eq!(t["format"], "RFC3339", "Time.format in {t}");
    let value = str_of(&t["value"])?;
    anyhow::ensure!(value.ends_with('Z'), "times must be in UTC with a Z: {value}");
    Ok(DateTime::parse_from_rfc3339(value)?.with_timezone(&Utc))
}

// Bodies, built with the wire's shapes. Helpers hand them back as JSON values, which a test may then break on
// purpose; what they take as JSON (a volume a test may have broken) is read back into the shape it stands for.

/// A shape as the JSON it is sent as.
pub(crate) fn wire(shape: impl Serialize) -> Value {
    serde_json::to_value(shape).expect("a wire shape serialises")
}

/// The shape a JSON value built by these helpers (or changed by a test within the shape's schema) stands for.
pub(crate) fn from_wire<T: DeserializeOwned>(value: &Value) -> T {
    T::deserialize(value).unwrap_or_else(|e| panic!("{value} is not the shape asked for: {e}"))
}

/// The enum variant named `name` (an F3548 state or availability).
pub(crate) fn from_name<T: DeserializeOwned>(name: &str) -> T {
    from_wire(&Value::from(name))
}

// Geometry.

const METRES_PER_DEGREE: f64 = 111_320.0;

/// An `outline_polygon`: a square of side `size_m` centred on (`lat`, `lng`).
pub(crate) fn square(lat: f64, lng: f64, size_m: f64) -> Value {
    let dlat = size_m / 2.0 / METRES_PER_DEGREE;
    let dlng = size_m / 2.0 / (METRES_PER_DEGREE * lat.to_radians().cos());
    polygon(&[
        (lat - dlat, lng - dlng),
        (lat - dlat, lng + dlng),
        (lat + dlat, lng + dlng),
        (lat + dlat, lng - dlng),
    ])
}

/// An `outline_polygon` through the given (lat, lng) vertices.
pub(crate) fn polygon(vertices: &[(f64, f64)]) -> Value {
    let vertices = vertices.iter().map(|&(lat, lng)| LatLngPoint { lat, lng }).collect();
    wire(Volume3D { outline_polygon: Some(Polygon { vertices }), ..no_outline() })
}

/// An `outline_circle` of `radius_m` metres around (`lat`, `lng`).
pub(crate) fn circle(lat: f64, lng: f64, radius_m: f64) -> Value {
    let circle = Circle {
        center: Some(LatLngPoint { lat, lng }),
        radius: Some(Radius { value: radius_m, units: "M".to_owned() }),
    };
    wire(Volume3D { outline_circle: Some(circle), ..no_outline() })
}

/// A `Volume3D` with nothing set, to set its outline or altitudes in.
pub(crate) fn no_outline() -> Volume3D {
    Volume3D { outline_circle: None, outline_polygon: None, altitude_lower: None, altitude_upper: None }
}

/// An F3548 `Altitude` of `value` metres above the WGS 84 ellipsoid.
pub(crate) fn altitude_m(value: f64) -> Altitude {
    Altitude { value, reference: "W84".to_owned(), units: "M".to_owned() }
}

/// A full `Volume4D`: outline, altitudes in metres, times in minutes from the base instant.
pub(crate) fn volume4d(outline: &Value, alt_lo: f64, alt_hi: f64, start_min: i64, end_min: i64) -> Value {
    wire(volume4(outline, alt_lo, alt_hi, start_min, end_min))
}

/// [`volume4d`] as the shape, to put in a typed body.
pub(crate) fn volume4(outline: &Value, alt_lo: f64, alt_hi: f64, start_min: i64, end_min: i64) -> Volume4D {
    volume4_at(outline, Some(alt_lo), Some(alt_hi), Some(at(start_min)), Some(at(end_min)))
}

/// A `Volume4D` with any bound left out, and times as instants.
pub(crate) fn volume4d_at(
    outline: &Value,
    alt_lo: Option<f64>,
    alt_hi: Option<f64>,
    start: Option<DateTime<Utc>>,
    end: Option<DateTime<Utc>>,
) -> Value {
    wire(volume4_at(outline, alt_lo, alt_hi, start, end))
}

/// [`volume4d_at`] as the shape, to put in a typed body.
pub(crate) fn volume4_at(
    outline: &Value,
    alt_lo: Option<f64>,
    alt_hi: Option<f64>,
    start: Option<DateTime<Utc>>,
    end: Option<DateTime<Utc>>,
) -> Volume4D {
    let outline: Volume3D = from_wire(outline);
    Volume4D {
        volume: Volume3D {
            altitude_lower: alt_lo.map(altitude_m),
            altitude_upper: alt_hi.map(altitude_m),
            ..outline
        },
        time_start: start.map(time),
        time_end: end.map(time),
    }
}

/// The usual extent of a test: a 1 km square at the base location, 0-120 m, from +10 to +70 min.
pub(crate) fn here() -> Value {
    volume4d(&square(LAT, LNG, 1000.0), 0.0, 120.0, 10, 70)
}

/// Far enough from [`here`] (about 11 km north) never to meet it.
pub(crate) fn far() -> Value {
    volume4d(&square(LAT + 0.1, LNG, 1000.0), 0.0, 120.0, 10, 70)
}

// Request bodies.

/// `PutOperationalIntentReferenceParameters` with no subscription.
pub(crate) fn oir(c: &Client, extents: &[Value], state: &str, key: &[&str]) -> Value {
    wire(oir_params(c, extents, state, key))
}

fn oir_params(
    c: &Client,
    extents: &[Value],
    state: &str,
    key: &[&str],
) -> PutOperationalIntentReferenceParameters {
    PutOperationalIntentReferenceParameters {
        extents: extents.iter().map(from_wire).collect(),
        key: Some(key.iter().map(|k| (*k).to_owned()).collect()),
        state: from_name(state),
        uss_base_url: c.url(),
        subscription_id: None,
        new_subscription: None,
        requested_ovn_suffix: None,
    }
}

/// Like [`oir`], asking for an implicit subscription.
pub(crate) fn oir_new_sub(
    c: &Client,
    extents: &[Value],
    state: &str,
    key: &[&str],
    notify_for_constraints: bool,
) -> Value {
    let new_subscription = ImplicitSubscriptionParameters {
        uss_base_url: c.url(),
        notify_for_constraints: Some(notify_for_constraints),
    };
    wire(PutOperationalIntentReferenceParameters {
        new_subscription: Some(new_subscription),
        ..oir_params(c, extents, state, key)
    })
}

/// Like [`oir`], attached to an existing subscription.
pub(crate) fn oir_with_sub(
    c: &Client,
    extents: &[Value],
    state: &str,
    key: &[&str],
    subscription_id: &str,
) -> Value {
    wire(PutOperationalIntentReferenceParameters {
        subscription_id: Some(subscription_id.to_owned()),
        ..oir_params(c, extents, state, key)
    })
}

/// `PutSubscriptionParameters`.
pub(crate) fn subscription(c: &Client, extents: &Value, for_intents: bool, for_constraints: bool) -> Value {
    wire(PutSubscriptionParameters {
        extents: from_wire(extents),
        uss_base_url: c.url(),
        notify_for_operational_intents: Some(for_intents),
        notify_for_constraints: Some(for_constraints),
    })
}

/// A subscription extent around [`here`]: a 3 km square, 0-3000 m, from now to +4 h.
pub(crate) fn sub_here() -> Value {
    volume4d(&square(LAT, LNG, 3000.0), 0.0, 3000.0, 0, 240)
}

/// `PutConstraintReferenceParameters`.
pub(crate) fn constraint(c: &Client, extents: &[Value]) -> Value {
    wire(PutConstraintReferenceParameters {
        extents: extents.iter().map(from_wire).collect(),
        uss_base_url: c.url(),
    })
}

/// `SetUssAvailabilityStatusParameters`, with `old_version` left out when `None`.
pub(crate) fn availability_params(old_version: Option<&str>, availability: &str) -> Value {
    wire(SetUssAvailabilityStatusParameters {
        old_version: old_version.map(str::to_owned),
        availability: from_name(availability),
    })
}

/// `{area_of_interest}` for the query endpoints.
pub(crate) fn query(area: &Value) -> Value {
    wire(QueryRequest { area_of_interest: Some(from_wire(area)) })
}

// Notifications.

/// Every (uss_base_url, subscription_id, notification_index) in a `subscribers` list.
pub(crate) fn notified(body: &Value) -> Vec<(String, String, i64)> {
    let mut out = Vec::new();
    for s in body["subscribers"].as_array().into_iter().flatten() {
        let url = s["uss_base_url"].as_str().unwrap_or_default().to_owned();
        for st in s["subscriptions"].as_array().into_iter().flatten() {
            let id = st["subscription_id"].as_str().unwrap_or_default().to_owned();
            out.push((url.clone(), id, st["notification_index"].as_i64().unwrap_or(-1)));
        }
    }
    out.sort();
    out
}

/// The notification index a change gave `subscription_id`, if it was notified.
pub(crate) fn index_for(body: &Value, subscription_id: &str) -> Option<i64> {
    notified(body).into_iter().find(|(_, id, _)| id == subscription_id).map(|(_, _, i)| i)
}

/// The ids in a list of references or subscriptions.
pub(crate) fn ids(list: &Value) -> Vec<String> {
    let mut ids: Vec<String> =
        list.as_array().into_iter().flatten().filter_map(|r| r["id"].as_str().map(str::to_owned)).collect();
    ids.sort();
    ids
}

/// Sorted copy, for comparing id lists.
pub(crate) fn sorted<S: AsRef<str>>(ids: &[S]) -> Vec<String> {
    let mut v: Vec<String> = ids.iter().map(|s| s.as_ref().to_owned()).collect();
    v.sort();
    v
}

/// Removes `key` from a JSON object (no-op on anything else).
pub(crate) fn remove(v: &mut Value, key: &str) {
    if let Some(o) = v.as_object_mut() {
        o.remove(key);
    }
}
