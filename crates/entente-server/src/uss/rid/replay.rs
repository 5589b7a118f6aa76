//! Recorded traffic (entente-tactical's replay CSV) played through this USS's SP as if aircraft reported it now,
//! so Remote ID and tactical detection can be tried without drones.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{Duration, Utc};
use entente_geo::{Circle, Interval, LatLng, Outline, distance_m};
use entente_tactical::Replay;
use entente_uss::Volume;
use entente_uss::rid::Fix;

use super::types::ReplayStarted;
use super::{Motion, sp, tactical};
use crate::error::ApiError;
use crate::extract::{Auth, Body};
use crate::uss::UssState;
use crate::uss::operator::OPERATOR_SCOPE;

/// How far around its samples a replayed aircraft is declared to fly.
const AREA_MARGIN_M: f64 = 50.0;

/// F3411-22a RIDFlightID: 1 to 255 characters, none of `\0 \t \r \n # % / : ? @ [ \ ]`.
fn check_flight_id(id: &str) -> Result<(), ApiError> {
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
    let t0 = Utc::now();
    let at = move |t: f64| t0 + Duration::microseconds(((t - first) * 1e6) as i64);
    let mut tracks: BTreeMap<String, Vec<&entente_tactical::State>> = BTreeMap::new();
    for s in replay.samples() {
        tracks.entry(s.id().to_string()).or_default().push(s);
    }
    for id in tracks.keys() {
        check_flight_id(id)?;
    }
    for (id, samples) in &tracks {
        let centre = LatLng::new(samples[0].position().lat, samples[0].position().lon);
        let reach = samples
            .iter()
            .map(|s| distance_m(centre, LatLng::new(s.position().lat, s.position().lon)))
            .fold(0.0, f64::max);
        let circle =
            Circle::new(centre, reach + AREA_MARGIN_M).map_err(|e| ApiError::bad(format!("replay: {e}")))?;
        let alts = samples.iter().map(|s| s.position().alt_m);
        let area = Volume {
            outline: Outline::Circle(circle),
            altitude: Interval { lo: alts.clone().reduce(f64::min), hi: alts.reduce(f64::max) },
            time: Interval { lo: Some(at(samples[0].t())), hi: samples.last().map(|s| at(s.t())) },
        };
        sp::add_replayed(st, id, area);
    }
    let ends: BTreeMap<String, f64> =
        tracks.iter().filter_map(|(id, s)| Some((id.clone(), s.last()?.t()))).collect();
    let started = ReplayStarted { aircraft: tracks.keys().cloned().collect(), duration_s: last - first };
    tracing::info!(aircraft = started.aircraft.len(), duration_s = started.duration_s, "replay started");
    let st = st.clone();
    let samples = replay.samples().to_vec();
    tokio::spawn(async move {
        for s in samples {
            let due = at(s.t());
            if let Ok(wait) = (due - Utc::now()).to_std() {
                tokio::time::sleep(wait).await;
            }
            let (p, v) = (s.position(), s.velocity());
            let fix = Fix {
                time: due,
                at: LatLng::new(p.lat, p.lon),
                data: Motion {
                    alt_m: Some(p.alt_m),
                    accuracy_h: Some("HA1m".to_owned()),
                    accuracy_v: Some("VA1m".to_owned()),
                    speed_mps: Some(v.gs_mps),
                    track_deg: Some(v.trk_deg),
                    vertical_speed_mps: Some(v.vs_mps),
                },
            };
            let id = s.id().to_string();
            sp::record(&st, &id, fix.clone(), true);
            tactical::observe(&st, &id, &fix);
            if ends.get(&id) == Some(&s.t()) {
                sp::end_replayed(&st, &id);
            }
        }
        tracing::info!("replay finished");
    });
    Ok(started)
}

/// Plays replay CSV (`id,lat,lon,alt_m,gs_mps,trk_deg,vs_mps,t`, the body) through this USS's SP from now on,
/// as simulated flights.
#[utoipa::path(post, path = "/operator/v1/rid/replay", tag = "Operator", request_body(content = String, content_type = "text/csv"),
    responses((status = 202, description = "Replay started", body = ReplayStarted), (status = 400, description = "The CSV is invalid; the message names the line and the field", body = crate::wire::ErrorResponse), (status = 401, description = "Missing or invalid access token", body = crate::wire::ErrorResponse), (status = 403, description = "The token lacks the entente.operator scope", body = crate::wire::ErrorResponse)))]
pub(crate) async fn start_replay(
    State(st): State<Arc<UssState>>,
    auth: Auth,
    body: Body,
) -> Result<(StatusCode, Json<ReplayStarted>), ApiError> {
    auth.require(OPERATOR_SCOPE)?;
    Ok((StatusCode::ACCEPTED, Json(start(&st, &body.text())?)))
}
