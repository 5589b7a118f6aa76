//! InterUSS's automated testing interfaces for Remote ID (rid/v1): test flights injected into this USS's SP and
//! played like replayed traffic (injection), and what this USS's display shows of a view (observation), so
//! uss_qualifier can drive the USS as SP and as DP.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use chrono::Duration;
use entente_geo::LatLng;
use entente_uss::Timestamp;
use entente_uss::rid::{
    Fix, MIN_REFRESH_HZ, Motion, NEAR_REAL_TIME_S, Scale, View, recent_in_view, slow_updates,
};
use entente_uss::service::rid::{Seen, WatchKind, clusters_of};
use entente_wire::interuss::rid::{
    ChangeTestResponse, CreateTestParameters, DeleteTestResponse, GetDetailsResponse, GetDisplayDataResponse,
    InjectedDetails, InjectedState, ObservedFlight, ObservedOperator, ObservedPath, ObservedPosition,
    ObservedState, ObservedUas, OperatorAltitude, QueryUserNotificationsResponse, TestFlight,
    UserNotification,
};
use entente_wire::rid::v22a::{
    Altitude, GetFlightDetailsResponse, OperatorLocation, RidFlightDetails, UasId,
};
use entente_wire::{parse_rfc3339, time_out};

use super::dp::{self, cluster_out};
use super::{declare_flights, height_in, height_out, replay, sp, state_out};
use crate::error::ApiError;
use crate::extract::{Auth, Body};
use crate::rid::{Params, params};
use crate::routes::Routes;
use crate::uss::UssState;

/// The scope of the injection interface.
pub(crate) const INJECT: &str = "rid.inject_test_data";
/// The scope of the observation interface.
pub(crate) const OBSERVE: &str = "dss.read.identification_service_areas";

/// How long the subscription made for an observed view no watch covers lasts.
const OBSERVATION_SUBSCRIPTION_S: i64 = 60;

/// An injected test: its version (the key to delete it), the flights as sent, the task playing them, and the
/// details each of its flights answers, by Remote ID id.
pub(crate) struct Test {
    version: String,
    flights: Vec<serde_json::Value>,
    player: tokio::task::AbortHandle,
    pub(super) details: HashMap<String, sp::InjectedDetails>,
}

pub(crate) type Tests = HashMap<String, Test>;

pub(crate) fn routes() -> Routes<Arc<UssState>> {
    Routes::new()
        .put("/ridsp/injection/tests/{test_id}", create_test)
        .delete("/ridsp/injection/tests/{test_id}/{version}", delete_test)
        .get("/ridsp/injection/user_notifications", user_notifications)
        .get("/riddp/observation/display_data", display_data)
        .get("/riddp/observation/display_data/{id}", display_details)
}

/// A flight as this SP plays it: its Remote ID id, its positions, the type and details it declares, and what its
/// operator is told.
struct Prepared {
    id: String,
    fixes: Vec<Fix>,
    aircraft_type: Option<String>,
    details: sp::InjectedDetails,
    notices: Vec<Notice>,
}

/// A notification this SP showed its operator.
#[derive(Clone, Debug)]
pub(crate) struct Notice {
    observed_at: Timestamp,
    message: String,
}

/// The fields F3411-22a's NET0030 needs in every report, by name, and whether this state carries each.
fn missing_fields(s: &InjectedState) -> Vec<&'static str> {
    let p = s.position.as_ref();
    [
        ("timestamp", s.timestamp.is_some()),
        ("timestamp_accuracy", s.timestamp_accuracy.is_some()),
        ("position", p.is_some()),
        ("position.lat", p.is_none_or(|p| p.lat.is_some())),
        ("position.lng", p.is_none_or(|p| p.lng.is_some())),
        ("position.alt", p.is_none_or(|p| p.alt.is_some())),
        ("track", s.track.is_some()),
        ("speed", s.speed.is_some()),
        ("speed_accuracy", s.speed_accuracy.is_some()),
        ("vertical_speed", s.vertical_speed.is_some()),
    ]
    .into_iter()
    .filter_map(|(name, present)| (!present).then_some(name))
    .collect()
}

/// Reads one test flight. A state missing a field NET0030 requires makes a notice to the operator (at its time,
/// or the previous state's); one without a time or a full position cannot be served and is left out. Reports
/// slower than NET0040's rate make a notice when the rate is first missed.
fn prepare(index: usize, flight: TestFlight, now: Timestamp) -> Result<Prepared, ApiError> {
    let field = |name: &str| format!("requested_flights[{index}].{name}");
    let id = flight.details_responses.first().map_or(flight.injection_id.clone(), |d| d.details.id.clone());
    replay::check_flight_id(&id)?;
    let mut fixes = Vec::with_capacity(flight.telemetry.len());
    let mut notices = Vec::new();
    let mut last_time = now;
    for (i, s) in flight.telemetry.into_iter().enumerate() {
        let at = field(&format!("telemetry[{i}]"));
        let time =
            s.timestamp.as_deref().map(|t| parse_rfc3339(t, &format!("{at}.timestamp"))).transpose()?;
        last_time = time.unwrap_or(last_time);
        for missing in missing_fields(&s) {
            notices.push(Notice {
                observed_at: last_time,
                message: format!("flight {id}: telemetry #{i} lacks {missing}"),
            });
        }
        let position = s.position.as_ref().and_then(|p| Some((p.lat?, p.lng?, p.alt?, p)));
        let (Some(time), Some((lat, lng, alt, p))) = (time, position) else {
            continue;
        };
        if !((-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lng)) {
            return Err(ApiError::bad(format!("{at}.position: {lat},{lng} is off the globe")));
        }
        fixes.push(Fix {
            time,
            at: LatLng::new(lat, lng),
            data: Motion {
                alt_m: Some(alt),
                accuracy_h: p.accuracy_h.clone(),
                accuracy_v: p.accuracy_v.clone(),
                speed_mps: s.speed.filter(|v| *v < 255.0),
                track_deg: s.track.filter(|t| *t < 361.0),
                vertical_speed_mps: s.vertical_speed.filter(|v| *v < 63.0),
                timestamp_accuracy_s: s.timestamp_accuracy,
                operational_status: s.operational_status.clone(),
                speed_accuracy: s.speed_accuracy.clone(),
                height: p.height.as_ref().or(s.height.as_ref()).map(height_in),
            },
        });
    }
    if fixes.is_empty() {
        return Err(ApiError::bad(format!(
            "{} must hold at least one state with a timestamp and a position (lat, lng, alt)",
            field("telemetry")
        )));
    }
    fixes.sort_by_key(|f| f.time);
    let times: Vec<Timestamp> = fixes.iter().map(|f| f.time).collect();
    if let Some(observed_at) = slow_updates(&times) {
        notices.push(Notice {
            observed_at,
            message: format!("flight {id}: position reports slower than {MIN_REFRESH_HZ} Hz"),
        });
    }
    let mut details = Vec::with_capacity(flight.details_responses.len());
    for (i, d) in flight.details_responses.into_iter().enumerate() {
        let from =
            parse_rfc3339(&d.effective_after, &field(&format!("details_responses[{i}].effective_after")))?;
        details.push((from, details_out(d.details)));
    }
    Ok(Prepared { id, fixes, aircraft_type: flight.aircraft_type, details, notices })
}

/// The injection's details in F3411-22a's shape: the operator's altitude joins their location, and a UAS id is
/// made of the serial or registration number when none is given (as F3411-22a wants one).
fn details_out(d: InjectedDetails) -> RidFlightDetails {
    let uas_id = d.uas_id.or_else(|| {
        serde_json::to_value(UasId {
            serial_number: d.serial_number.clone().unwrap_or_default(),
            registration_id: d.registration_number.clone().unwrap_or_default(),
            utm_id: d.id.clone(),
        })
        .ok()
    });
    let altitude = d.operator_altitude.unwrap_or_default();
    RidFlightDetails {
        operator_location: d.operator_location.map(|position| OperatorLocation {
            position,
            altitude: altitude.altitude.map(|value| Altitude {
                value,
                reference: "W84".into(),
                units: "M".into(),
            }),
            altitude_type: altitude.altitude_type,
        }),
        id: d.id,
        operation_description: d.operation_description.unwrap_or_default(),
        operator_id: d.operator_id,
        uas_id,
        auth_data: d.auth_data,
        eu_classification: d.eu_classification,
    }
}

/// `PUT /tests/{test_id}`: plays the test's flights through this SP at their telemetry's times; the ISA over them
/// is at the DSS when this answers.
#[utoipa::path(put, path = "/ridsp/injection/tests/{test_id}", tag = "InterUSS automated testing",
    params(("test_id" = String, Path, description = "Id of the test")), request_body = CreateTestParameters,
    responses((status = 200, description = "Injected", body = ChangeTestResponse), crate::responses::BadRequest, crate::responses::Unauthorized, crate::responses::NotInjector, (status = 409, description = "The test exists", body = entente_wire::ErrorResponse), (status = 502, description = "The DSS refused the ISA", body = entente_wire::ErrorResponse)))]
pub(crate) async fn create_test(
    State(st): State<Arc<UssState>>,
    auth: Auth,
    Path(test_id): Path<String>,
    body: Body,
) -> Result<Json<ChangeTestResponse>, ApiError> {
    auth.require(INJECT)?;
    let req: CreateTestParameters = body.json()?;
    if st.rid.tests.lock().contains_key(&test_id) {
        return Err(ApiError::Conflict(format!("test {test_id} exists")));
    }
    let mut prepared = Vec::with_capacity(req.requested_flights.len());
    for (i, raw) in req.requested_flights.iter().enumerate() {
        let flight: TestFlight = serde_json::from_value(raw.clone())
            .map_err(|e| ApiError::bad(format!("requested_flights[{i}]: {e}")))?;
        prepared.push(prepare(i, flight, st.now())?);
    }
    let mut fixes = Vec::new();
    let mut details = HashMap::new();
    for flight in prepared {
        st.rid.notifications.lock().extend(flight.notices);
        let points: Vec<(LatLng, f64)> =
            flight.fixes.iter().map(|f| (f.at, f.data.alt_m.unwrap_or_default())).collect();
        let first = flight.fixes.iter().map(|f| f.time).min().unwrap_or_else(|| st.now());
        let last = flight.fixes.iter().map(|f| f.time).max().unwrap_or(first);
        let area = replay::area_around(&points, (first, last))
            .map_err(|e| ApiError::bad(format!("telemetry: {e}")))?;
        sp::add_injected(&st, &flight.id, area, &test_id, flight.aircraft_type);
        details.insert(flight.id.clone(), flight.details);
        fixes.extend(flight.fixes.into_iter().map(|f| (flight.id.clone(), f)));
    }
    let player = replay::play(&st, fixes, true);
    let version = uuid::Uuid::new_v4().to_string();
    st.rid.tests.lock().insert(
        test_id.clone(),
        Test { version: version.clone(), flights: req.requested_flights.clone(), player, details },
    );
    if let Err(e) = declare_flights(&st).await {
        forget(&st, &test_id);
        return Err(e);
    }
    tracing::info!(test = test_id, flights = req.requested_flights.len(), "test flights injected");
    Ok(Json(ChangeTestResponse { injected_flights: req.requested_flights, version }))
}

fn forget(st: &UssState, test_id: &str) -> Option<Test> {
    let test = st.rid.tests.lock().remove(test_id)?;
    test.player.abort();
    sp::remove_test(st, test_id);
    Some(test)
}

/// `DELETE /tests/{test_id}/{version}`: the test's flights vanish, and the ISA with them if nothing else flies.
#[utoipa::path(delete, path = "/ridsp/injection/tests/{test_id}/{version}", tag = "InterUSS automated testing",
    params(("test_id" = String, Path, description = "Id of the test"), ("version" = String, Path, description = "Version the injection answered")),
    responses((status = 200, description = "Deleted", body = DeleteTestResponse), crate::responses::Unauthorized, crate::responses::NotInjector, (status = 404, description = "No such test at that version", body = entente_wire::ErrorResponse)))]
pub(crate) async fn delete_test(
    State(st): State<Arc<UssState>>,
    auth: Auth,
    Path((test_id, version)): Path<(String, String)>,
) -> Result<Json<DeleteTestResponse>, ApiError> {
    auth.require(INJECT)?;
    let held = st.rid.tests.lock().get(&test_id).map(|t| t.version.clone());
    match held {
        None => return Err(ApiError::NotFound(format!("test {test_id}: not found"))),
        Some(v) if v != version => {
            return Err(ApiError::NotFound(format!("test {test_id} has version {v}, not {version}")));
        }
        Some(_) => {}
    }
    let test =
        forget(&st, &test_id).ok_or_else(|| ApiError::NotFound(format!("test {test_id}: not found")))?;
    if let Err(e) = declare_flights(&st).await {
        tracing::warn!(error = %e, "withdrawing the ISA of a deleted test failed; the next round retries");
    }
    Ok(Json(DeleteTestResponse { injected_flights: test.flights }))
}

/// `GET /user_notifications`: what this SP showed its operators from `after` to `before` (or now): missing
/// fields and a slow reporting rate of injected flights, each once its state is due.
#[utoipa::path(get, path = "/ridsp/injection/user_notifications", tag = "InterUSS automated testing",
    params(("after" = String, Query, description = "RFC 3339 time"), ("before" = Option<String>, Query, description = "RFC 3339 time after `after`; now by default")),
    responses((status = 200, description = "The notifications", body = QueryUserNotificationsResponse), crate::responses::BadRequest, crate::responses::Unauthorized, crate::responses::NotInjector))]
pub(crate) async fn user_notifications(
    State(st): State<Arc<UssState>>,
    auth: Auth,
    query: Params,
) -> Result<Json<QueryUserNotificationsResponse>, ApiError> {
    auth.require(INJECT)?;
    let p = params(query)?;
    let after = parse_rfc3339(p.get("after").ok_or_else(|| ApiError::bad("after is required"))?, "after")?;
    let before = p.get("before").map(|b| parse_rfc3339(b, "before")).transpose()?;
    if before.is_some_and(|b| b < after) {
        return Err(ApiError::bad("before must not be earlier than after"));
    }
    // A notice of a state not yet due has not been shown yet.
    let now = st.now();
    let until = before.map_or(now, |b| b.min(now));
    let user_notifications = st
        .rid
        .notifications
        .lock()
        .iter()
        .filter(|n| n.observed_at >= after && n.observed_at <= until)
        .map(|n| UserNotification { observed_at: time_out(n.observed_at), message: n.message.clone() })
        .collect();
    Ok(Json(QueryUserNotificationsResponse { user_notifications }))
}

fn observed_position(fix: &Fix) -> ObservedPosition {
    ObservedPosition {
        lat: fix.at.lat,
        lng: fix.at.lng,
        alt: fix.data.alt_m,
        accuracy_h: fix.data.accuracy_h.clone(),
        accuracy_v: fix.data.accuracy_v.clone(),
        height: fix.data.height.as_ref().map(height_out),
    }
}

fn observed_flight(seen: Seen, view: &View, now: Timestamp) -> Option<ObservedFlight> {
    let last = seen.fixes.last()?;
    let state = state_out(last);
    let trail = recent_in_view(&seen.fixes, view, now, Duration::seconds(NEAR_REAL_TIME_S));
    Some(ObservedFlight {
        id: seen.id,
        aircraft_type: seen.aircraft_type,
        current_state: ObservedState {
            timestamp: state.timestamp.value,
            timestamp_accuracy: state.timestamp_accuracy,
            operational_status: state.operational_status,
            track: state.track,
            speed: state.speed,
            speed_accuracy: state.speed_accuracy,
            vertical_speed: state.vertical_speed,
        },
        most_recent_position: observed_position(last),
        recent_paths: vec![ObservedPath { positions: trail.into_iter().map(observed_position).collect() }],
    })
}

/// `GET /display_data?view=`: what a user of this display sees in the view now. A view no watch covers gets a
/// subscription of its own first, and the SPs with ISAs there are polled before answering.
#[utoipa::path(get, path = "/riddp/observation/display_data", tag = "InterUSS automated testing",
    params(("view" = String, Query, description = "lat1,lng1,lat2,lng2")),
    responses((status = 200, description = "Flights or clusters in the view", body = GetDisplayDataResponse), crate::responses::BadRequest, crate::responses::Unauthorized, crate::responses::NotRidReaderV19, (status = 413, description = "The view's diagonal exceeds the version's limit", body = entente_wire::ErrorResponse), (status = 502, description = "The DSS refused the subscription", body = entente_wire::ErrorResponse)))]
pub(crate) async fn display_data(
    State(st): State<Arc<UssState>>,
    auth: Auth,
    query: Params,
) -> Result<Json<GetDisplayDataResponse>, ApiError> {
    auth.require(OBSERVE)?;
    let p = params(query)?;
    let view =
        View::parse(p.get("view").ok_or_else(|| ApiError::bad("view is required: lat1,lng1,lat2,lng2"))?)?;
    let scale = view.scale(&st.rid.protocol.views())?;
    st.core
        .rid
        .dp
        .ensure_watch(view, Duration::seconds(OBSERVATION_SUBSCRIPTION_S), WatchKind::Display)
        .await
        .map_err(dp::watch_error)?;
    st.core.rid.poll_view(&st.core.flights, view).await;
    let now = st.now();
    let seen = st.core.rid.seen(&view);
    Ok(Json(match scale {
        Scale::Flights => GetDisplayDataResponse {
            flights: seen.into_iter().filter_map(|s| observed_flight(s, &view, now)).collect(),
            clusters: Vec::new(),
        },
        Scale::Clusters => {
            let clusters = clusters_of(&view, &seen).iter().map(cluster_out).collect();
            GetDisplayDataResponse { flights: Vec::new(), clusters }
        }
    }))
}

/// `GET /display_data/{id}`: a displayed flight's details, from this SP or fetched from the peer SP reporting it.
#[utoipa::path(get, path = "/riddp/observation/display_data/{id}", tag = "InterUSS automated testing",
    params(("id" = String, Path, description = "A flight id from display_data")),
    responses((status = 200, description = "The flight's details", body = GetDetailsResponse), crate::responses::Unauthorized, crate::responses::NotRidReaderV19, (status = 404, description = "No flight of that id is displayed", body = entente_wire::ErrorResponse), (status = 502, description = "The peer SP could not be reached or refused", body = entente_wire::ErrorResponse)))]
pub(crate) async fn display_details(
    State(st): State<Arc<UssState>>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Json<GetDetailsResponse>, ApiError> {
    auth.require(OBSERVE)?;
    let answer: GetFlightDetailsResponse = match sp::details(&st, id.clone()) {
        Ok(own) => own,
        Err(ApiError::NotFound(_)) => match st.core.rid.peer_flights_url(&id) {
            Some(base) => dp::peer_details(&st, &format!("{base}/{id}/details")).await?,
            None => return Err(ApiError::NotFound(format!("flight {id}: not displayed"))),
        },
        Err(e) => return Err(e),
    };
    Ok(Json(details_observed(answer.details)))
}

/// F3411-22a details as the observation interface shows them; the UAS is named by the first identifier given.
fn details_observed(d: RidFlightDetails) -> GetDetailsResponse {
    let uas_id = d.uas_id.as_ref().and_then(|u| {
        ["serial_number", "registration_id", "utm_id", "specific_session_id"]
            .iter()
            .filter_map(|k| u.get(k).and_then(|v| v.as_str()))
            .find(|v| !v.is_empty())
            .map(str::to_owned)
    });
    let location = d.operator_location.as_ref();
    GetDetailsResponse {
        operator: ObservedOperator {
            id: d.operator_id,
            location: location.map(|l| l.position),
            altitude: OperatorAltitude {
                altitude: location.and_then(|l| l.altitude.as_ref()).map(|a| a.value),
                altitude_type: location.and_then(|l| l.altitude_type.clone()),
            },
        },
        uas: ObservedUas { id: uas_id, eu_classification: d.eu_classification },
    }
}
