//! Planning and Remote ID from the map: same-origin endpoints that forward to the operator API of a USS the map
//! acts for, with a token this server signs, so the page never holds a token nor talks to another origin.
//!
//! Whoever reaches the map may plan as these USSs, so they exist only where the map does (see [`super`]) and
//! only for the USSs the server was given ([`MapOperator`], `entente serve`'s own). A web page elsewhere must
//! not drive them through the operator's browser, so writes are refused unless they are same-origin JSON
//! requests to a host named by address or as `localhost` (no DNS rebinding).

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use entente_wire::map::{FlightsQuery, OperatorOut, OperatorsView, ViewQuery};

use crate::app::AppState;
use crate::error::ApiError;
use crate::extract::{Body, entity_id};
use crate::routes::Routes;
use crate::uss::TokenSource;
use crate::uss::operator::OPERATOR_SCOPE;

/// Planning waits for the DSS, every peer holding an intent nearby and the notifications: up to seconds.
const FORWARD_TIMEOUT: Duration = Duration::from_secs(30);

/// A USS the map may plan for. `name` must be the USS's identity (the `sub` of its tokens, the manager the DSS
/// records), so the page can tell that USS's own intents on the map.
pub struct MapOperator {
    name: String,
    url: String,
    tokens: TokenSource,
    http: reqwest::Client,
}

impl MapOperator {
    /// `url` is the USS's base URL (its operator API is under `/operator/v1/`); `tokens` signs the tokens,
    /// with the `entente.operator` scope, that the USS accepts.
    pub fn new(name: impl Into<String>, url: &str, tokens: TokenSource) -> MapOperator {
        MapOperator {
            name: name.into(),
            url: url.trim_end_matches('/').to_owned(),
            tokens,
            http: reqwest::Client::new(),
        }
    }
}

pub(super) fn routes() -> Routes<Arc<AppState>> {
    Routes::new()
        .get("/map/api/operators", list)
        .get("/map/api/operators/{name}/flights", flights)
        .post("/map/api/operators/{name}/flights", submit)
        .get("/map/api/operators/{name}/flights/{id}", status)
        .post("/map/api/operators/{name}/flights/{id}/{action}", act)
        .post("/map/api/operators/{name}/rid/watches", start_watch)
        .delete("/map/api/operators/{name}/rid/watches/{id}", end_watch)
        .get("/map/api/operators/{name}/rid/flights", rid_flights)
        .get("/map/api/operators/{name}/alerts", alerts)
        .get("/map/api/operators/{name}/geozones", geozones)
}

#[utoipa::path(get, path = "/map/api/operators", tag = "Web map",
    responses((status = 200, description = "The USSs the map plans for, by name, with their base URLs")))]
pub(crate) async fn list(State(state): State<Arc<AppState>>) -> Json<OperatorsView> {
    Json(OperatorsView {
        operators: state
            .map_operators
            .iter()
            .map(|o| OperatorOut { name: o.name.clone(), uss_base_url: o.url.clone() })
            .collect(),
    })
}

/// The flights this USS planned for the map's operator, as its operator API lists them (the USS checks the
/// filters).
#[utoipa::path(get, path = "/map/api/operators/{name}/flights", tag = "Web map",
    params(("name" = String, Path, description = "The USS's identity"),
        ("state" = Option<String>, Query, description = "Only flights in this state"),
        ("time_start" = Option<String>, Query, description = "RFC 3339: only flights in force at some moment from then"),
        ("time_end" = Option<String>, Query, description = "RFC 3339: only flights in force at some moment until then")),
    responses((status = 200, description = "What the USS answered, status and JSON body alike (also 4xx, 502 as the USS gives them)"), crate::responses::NoSuchOperator))]
pub(crate) async fn flights(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
    Query(query): Query<FlightsQuery>,
) -> Result<Response, ApiError> {
    // Encoded again, so nothing of the page's query but these filters reaches the USS.
    let filters: Vec<(&str, &str)> =
        [("state", &query.state), ("time_start", &query.time_start), ("time_end", &query.time_end)]
            .into_iter()
            .filter_map(|(key, value)| value.as_deref().map(|v| (key, v)))
            .collect();
    forward(&state, &name, Method::GET, "flights", &filters, None).await
}

#[utoipa::path(post, path = "/map/api/operators/{name}/flights", tag = "Web map",
    params(("name" = String, Path, description = "The USS's identity")), request_body = entente_wire::operator::FlightRequest,
    responses((status = 200, description = "What the USS answered, status and JSON body alike (also 201, 4xx, 502 as the USS gives them)"), crate::responses::NoSuchOperator, crate::responses::CrossOrigin))]
pub(crate) async fn submit(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    same_origin_json(&headers)?;
    forward(&state, &name, Method::POST, "flights", &[], Some(body.into_bytes())).await
}

#[utoipa::path(get, path = "/map/api/operators/{name}/flights/{id}", tag = "Web map",
    params(("name" = String, Path, description = "The USS's identity"), ("id" = String, Path, description = "UUIDv4 of the flight")),
    responses((status = 200, description = "What the USS answered, status and JSON body alike (also 201, 4xx, 502 as the USS gives them)"), crate::responses::NoSuchOperator, crate::responses::BadRequest))]
pub(crate) async fn status(
    State(state): State<Arc<AppState>>,
    Path((name, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let id = entity_id(&id, "id")?;
    forward(&state, &name, Method::GET, &format!("flights/{id}"), &[], None).await
}

#[utoipa::path(post, path = "/map/api/operators/{name}/flights/{id}/{action}", tag = "Web map",
    params(("name" = String, Path, description = "The USS's identity"), ("id" = String, Path, description = "UUIDv4 of the flight"), ("action" = String, Path, description = "`activate` or `end`")),
    responses((status = 200, description = "What the USS answered, status and JSON body alike (also 201, 4xx, 502 as the USS gives them)"), crate::responses::NoSuchOperator, crate::responses::BadRequest, crate::responses::CrossOrigin))]
pub(crate) async fn act(
    State(state): State<Arc<AppState>>,
    Path((name, id, action)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    same_origin_json(&headers)?;
    let id = entity_id(&id, "id")?;
    if action != "activate" && action != "end" {
        return Err(ApiError::NotFound(format!(
            "{action}: a flight can only be `activate`d or `end`ed here"
        )));
    }
    forward(&state, &name, Method::POST, &format!("flights/{id}/{action}"), &[], None).await
}

/// Starts a Remote ID watch of the USS over the area the page shows (a DSS subscription, so the USS's display
/// provider learns of the SPs there).
#[utoipa::path(post, path = "/map/api/operators/{name}/rid/watches", tag = "Web map",
    params(("name" = String, Path, description = "The USS's identity")),
    responses((status = 200, description = "What the USS answered, status and JSON body alike (also 201, 4xx, 502 as the USS gives them)"), crate::responses::NoSuchOperator, crate::responses::CrossOrigin))]
pub(crate) async fn start_watch(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    same_origin_json(&headers)?;
    forward(&state, &name, Method::POST, "rid/watches", &[], Some(body.into_bytes())).await
}

#[utoipa::path(delete, path = "/map/api/operators/{name}/rid/watches/{id}", tag = "Web map",
    params(("name" = String, Path, description = "The USS's identity"), ("id" = String, Path, description = "UUIDv4 of the watch")),
    responses((status = 200, description = "What the USS answered, status and JSON body alike (also 201, 4xx, 502 as the USS gives them)"), crate::responses::NoSuchOperator, crate::responses::BadRequest, crate::responses::CrossOrigin))]
pub(crate) async fn end_watch(
    State(state): State<Arc<AppState>>,
    Path((name, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    same_origin_json(&headers)?;
    let id = entity_id(&id, "id")?;
    forward(&state, &name, Method::DELETE, &format!("rid/watches/{id}"), &[], None).await
}

/// What the USS's display provider shows of `view`: flights, or clusters in wider views.
#[utoipa::path(get, path = "/map/api/operators/{name}/rid/flights", tag = "Web map",
    params(("name" = String, Path, description = "The USS's identity"), ("view" = String, Query, description = "lat1,lng1,lat2,lng2")),
    responses((status = 200, description = "What the USS answered, status and JSON body alike (also 201, 4xx, 502 as the USS gives them)"), crate::responses::NoSuchOperator, crate::responses::BadRequest))]
pub(crate) async fn rid_flights(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
    Query(query): Query<ViewQuery>,
) -> Result<Response, ApiError> {
    let view = query.view.ok_or_else(|| ApiError::bad("view is required: lat1,lng1,lat2,lng2"))?;
    // Encoded again, so nothing of the page's query but the view reaches the USS.
    forward(&state, &name, Method::GET, "rid/flights", &[("view", &view)], None).await
}

#[utoipa::path(get, path = "/map/api/operators/{name}/alerts", tag = "Web map",
    params(("name" = String, Path, description = "The USS's identity")),
    responses((status = 200, description = "What the USS answered, status and JSON body alike (also 201, 4xx, 502 as the USS gives them)"), crate::responses::NoSuchOperator))]
pub(crate) async fn alerts(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    forward(&state, &name, Method::GET, "alerts", &[], None).await
}

#[utoipa::path(get, path = "/map/api/operators/{name}/geozones", tag = "Web map",
    params(("name" = String, Path, description = "The USS's identity")),
    responses((status = 200, description = "The geographical zones the USS knows in force over the next day, as it answered"), crate::responses::NoSuchOperator))]
pub(crate) async fn geozones(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    forward(&state, &name, Method::GET, "geozones", &[], None).await
}

/// Sends the request to `/operator/v1/{path}` of operator `name`, with `query`, and answers what the USS
/// answered, status and JSON body alike (a 409 carries the alternatives).
async fn forward(
    state: &AppState,
    name: &str,
    method: Method,
    path: &str,
    query: &[(&str, &str)],
    body: Option<Bytes>,
) -> Result<Response, ApiError> {
    let operator = state
        .map_operators
        .iter()
        .find(|o| o.name == name)
        .ok_or_else(|| ApiError::NotFound(format!("operator {name:?}: the map does not plan for it")))?;
    let url = format!("{}/operator/v1/{path}", operator.url);
    let mut parsed =
        reqwest::Url::parse(&url).map_err(|e| ApiError::Upstream(format!("{url}: not a URL: {e}")))?;
    if !query.is_empty() {
        parsed.query_pairs_mut().extend_pairs(query);
    }
    let token = operator.tokens.token(parsed.host_str().unwrap_or_default(), OPERATOR_SCOPE).await?;
    let mut request =
        operator.http.request(method.clone(), parsed).bearer_auth(token).timeout(FORWARD_TIMEOUT);
    if let Some(body) = body {
        request = request.header(header::CONTENT_TYPE, "application/json").body(body);
    }
    let reply = request.send().await.map_err(|e| ApiError::Upstream(format!("{method} {url}: {e}")))?;
    let status = StatusCode::from_u16(reply.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let answer = reply.bytes().await.map_err(|e| ApiError::Upstream(format!("{method} {url}: {e}")))?;
    Ok((status, [(header::CONTENT_TYPE, "application/json")], answer).into_response())
}

/// Refuses a write a page of another origin could have sent: it must be JSON (which a cross-origin page can
/// send only after a CORS preflight this server never grants), from this origin if the browser names one, to a
/// host given as an address or `localhost` (a rebound DNS name would make another site same-origin).
fn same_origin_json(headers: &HeaderMap) -> Result<(), ApiError> {
    let forbidden = |why: &str| Err(ApiError::Forbidden(format!("planning from the map: {why}")));
    let text = |name: header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok());
    let Some(host) = text(header::HOST) else {
        return forbidden("the Host header is required");
    };
    if !host_is_address(host) {
        return forbidden(&format!(
            "Host {host:?} is a name; open the map by address (127.0.0.1) or as localhost"
        ));
    }
    if let Some(origin) = text(header::ORIGIN)
        && origin != format!("http://{host}")
        && origin != format!("https://{host}")
    {
        return forbidden(&format!("Origin {origin:?} is not this server ({host})"));
    }
    let json = text(header::CONTENT_TYPE)
        .and_then(|c| c.split(';').next())
        .is_some_and(|c| c.trim().eq_ignore_ascii_case("application/json"));
    if !json {
        return forbidden("the Content-Type must be application/json");
    }
    Ok(())
}

/// `localhost`, an IPv4 address or a bracketed IPv6 address, with or without a port.
fn host_is_address(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(v6) => {
            return v6.split_once(']').is_some_and(|(ip, _)| ip.parse::<std::net::Ipv6Addr>().is_ok());
        }
        None => host.rsplit_once(':').map_or(host, |(name, _)| name),
    };
    name.eq_ignore_ascii_case("localhost") || name.parse::<std::net::Ipv4Addr>().is_ok()
}

#[cfg(test)]
mod tests {
    use axum::http::{HeaderMap, HeaderValue, header};

    use super::{host_is_address, same_origin_json};

    fn headers(pairs: &[(header::HeaderName, &'static str)]) -> HeaderMap {
        pairs.iter().map(|(k, v)| (k.clone(), HeaderValue::from_static(v))).collect()
    }

    #[test]
    fn hosts_by_address_or_localhost_only() {
        for host in ["127.0.0.1:8082", "localhost:8082", "LOCALHOST", "10.1.2.3", "[::1]:8082", "[::1]"] {
            assert!(host_is_address(host), "{host}");
        }
        for host in ["evil.example:8082", "localhost.evil.example", "[::1", "[nope]:80", "127.0.0.1.nip.io"] {
            assert!(!host_is_address(host), "{host}");
        }
    }

    #[test]
    fn writes_must_be_same_origin_json() {
        let json = (header::CONTENT_TYPE, "application/json; charset=utf-8");
        let host = (header::HOST, "127.0.0.1:8082");
        assert!(same_origin_json(&headers(&[host.clone(), json.clone()])).is_ok());
        let same = (header::ORIGIN, "http://127.0.0.1:8082");
        assert!(same_origin_json(&headers(&[host.clone(), json.clone(), same])).is_ok());
        let refused = [
            headers(&[host.clone(), json.clone(), (header::ORIGIN, "http://evil.example")]),
            headers(&[host.clone(), (header::CONTENT_TYPE, "text/plain")]),
            headers(std::slice::from_ref(&host)),
            headers(std::slice::from_ref(&json)),
            headers(&[(header::HOST, "rebound.example:8082"), json]),
        ];
        for h in refused {
            assert!(same_origin_json(&h).is_err(), "{h:?}");
        }
    }
}
