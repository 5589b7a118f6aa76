//! Recorded traffic (entente-tactical's replay CSV) played through this USS's SP as if aircraft reported it now,
//! so Remote ID and tactical detection can be tried without drones.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::Duration;
use entente_geo::{Circle, Interval, LatLng, Outline, distance_m};
use entente_tactical::Replay;
use entente_uss::rid::{Fix, Motion};
use entente_uss::{Timestamp, Volume};
use entente_wire::operator::ReplayStarted;

use super::sp;
use crate::error::ApiError;
use crate::extract::{Auth, Body};
use crate::uss::UssState;
use crate::uss::operator::OPERATOR_SCOPE;

/// How far around its samples a replayed aircraft is declared to fly.
const AREA_MARGIN_M: f64 = 50.0;

/// F3411-22a RIDFlightID: 1 to 255 characters, none of `\0 \t \r \n # % / : ? @ [ \ ]`.
pub(super) fn check_flight_id(id: &str) -> Result<(), ApiError> {
    let forbidden = ['\0', '\t', '\r', '\n', '#', '%', '/', ':', '?', '@', '[', '\\', ']'];
    if id.len() > 255 || id.contains(forbidden) {
        return Err(ApiError::bad(format!(
            "replay: aircraft id {id:?} is not a Remote ID flight id (at most 255 characters, none of \\0 \\t \\r \\n # % / : ? @ [ \\ ])"
        )));
    }
    Ok(())
}

/// Parses `csv` and plays it from now on: each sample is reported at its time offset from the first, then the
/// aircraft ends with its last sample.
pub(super) fn start(st: &Arc<UssState>, csv: &str) -> Result<ReplayStarted, ApiError> {
    let replay = Replay::parse(csv).map_err(|e| ApiError::bad(format!("replay: {e}")))?;
    let (first, last) = replay.span();
    let t0 = st.now();
    let at = move |t: f64| t0 + Duration::microseconds(((t - first) * 1e6) as i64);
    let mut tracks: BTreeMap<String, Vec<&entente_tactical::State>> = BTreeMap::new();
    for s in replay.samples() {
        tracks.entry(s.id().to_string()).or_default().push(s);
    }
    for id in tracks.keys() {
        check_flight_id(id)?;
    }
    for (id, samples) in &tracks {
        let points: Vec<(LatLng, f64)> = samples
            .iter()
            .map(|s| (LatLng::new(s.position().lat, s.position().lon), s.position().alt_m))
            .collect();
        let span = (at(samples[0].t()), samples.last().map_or(t0, |s| at(s.t())));
        sp::add_replayed(
            st,
            id,
            area_around(&points, span).map_err(|e| ApiError::bad(format!("replay: {e}")))?,
        );
    }
    let started = ReplayStarted { aircraft: tracks.keys().cloned().collect(), duration_s: last - first };
    tracing::info!(aircraft = started.aircraft.len(), duration_s = started.duration_s, "replay started");
    let fixes = replay
        .samples()
        .iter()
        .map(|s| {
            let (p, v) = (s.position(), s.velocity());
            let fix = Fix {
                time: at(s.t()),
                at: LatLng::new(p.lat, p.lon),
                data: Motion {
                    alt_m: Some(p.alt_m),
                    accuracy_h: Some("HA1m".to_owned()),
                    accuracy_v: Some("VA1m".to_owned()),
                    speed_mps: Some(v.gs_mps),
                    track_deg: Some(v.trk_deg),
                    vertical_speed_mps: Some(v.vs_mps),
                    ..Motion::default()
                },
            };
            (s.id().to_string(), fix)
        })
        .collect();
    play(st, fixes, true);
    Ok(started)
}

/// Where an aircraft reporting `points` (position, altitude) from `span.0` to `span.1` is declared to fly: a
/// circle around them all.
pub(super) fn area_around(
    points: &[(LatLng, f64)],
    span: (Timestamp, Timestamp),
) -> Result<Volume, entente_geo::GeoError> {
    let centre = points.first().map_or(LatLng::new(0.0, 0.0), |p| p.0);
    let reach = points.iter().map(|p| distance_m(centre, p.0)).fold(0.0, f64::max);
    let alts = points.iter().map(|p| p.1);
    Ok(Volume {
        outline: Outline::Circle(Circle::new(centre, reach + AREA_MARGIN_M)?),
        altitude: Interval { lo: alts.clone().reduce(f64::min), hi: alts.reduce(f64::max) },
        time: Interval { lo: Some(span.0), hi: Some(span.1) },
    })
}

/// Plays positions through this USS's SP at their times (those already past at once), each also watched for
/// conflicts; an aircraft ends with its last position. The task's handle lets an injected test stop it.
pub(super) fn play(
    st: &Arc<UssState>,
    mut fixes: Vec<(String, Fix)>,
    simulated: bool,
) -> tokio::task::AbortHandle {
    fixes.sort_by_key(|(_, f)| f.time);
    let mut ends: HashMap<String, Timestamp> = HashMap::new();
    for (id, f) in &fixes {
        ends.insert(id.clone(), f.time);
    }
    let st = st.clone();
    tokio::spawn(async move {
        for (id, fix) in fixes {
            if let Ok(wait) = (fix.time - st.now()).to_std() {
                tokio::time::sleep(wait).await;
            }
            let time = fix.time;
            st.core.rid.reported(&st.core.flights, &id, fix, simulated);
            if ends.get(&id) == Some(&time) {
                st.core.rid.sp.end(&id);
            }
        }
    })
    .abort_handle()
}

/// Plays replay CSV (`id,lat,lon,alt_m,gs_mps,trk_deg,vs_mps,t`, the body) through this USS's SP from now on,
/// as simulated flights.
#[utoipa::path(post, path = "/operator/v1/rid/replay", tag = "Operator", request_body(content = String, content_type = "text/csv"),
    responses((status = 202, description = "Replay started", body = ReplayStarted), (status = 400, description = "The CSV is invalid; the message names the line and the field", body = entente_wire::ErrorResponse), crate::responses::Unauthorized, crate::responses::NotOperator))]
pub(crate) async fn start_replay(
    State(st): State<Arc<UssState>>,
    auth: Auth,
    body: Body,
) -> Result<(StatusCode, Json<ReplayStarted>), ApiError> {
    auth.require(OPERATOR_SCOPE)?;
    Ok((StatusCode::ACCEPTED, Json(start(&st, &body.text())?)))
}
