//! Tactical conflict detection over every position this USS sees (its own flights and replayed traffic as SP,
//! peers' flights as DP): an `entente_tactical::Monitor`, the alerts operators read, and the flights they concern.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use entente_dss::EntityId;
use entente_tactical::{AircraftId, Detector, Monitor, Position, State as Aircraft, TacticalError, Velocity};
use entente_uss::rid::Fix;
use entente_wire::operator::{AlertList, TacticalAlert};
use entente_wire::{LatLngPoint, time_out};

use super::{Motion, RidConfig, instant, seconds};
use crate::error::ApiError;
use crate::extract::Auth;
use crate::uss::UssState;
use crate::uss::operator::OPERATOR_SCOPE;

pub(crate) struct Tactical {
    monitor: Monitor,
    /// When each current conflict was first raised.
    raised: HashMap<(AircraftId, AircraftId), DateTime<Utc>>,
    max_age_s: f64,
}

impl Tactical {
    pub(super) fn new(config: &RidConfig) -> Result<Tactical, TacticalError> {
        Ok(Tactical {
            monitor: Monitor::new(Detector::new(config.tactical)?, config.track_max_age_s)?,
            raised: HashMap::new(),
            max_age_s: config.track_max_age_s,
        })
    }
}

/// Feeds one position of aircraft `id` to the monitor; a newly predicted loss of separation involving one of this
/// USS's flights is added to that flight's alerts. Unknown velocity counts as hovering, unknown altitude as 0 m.
pub(super) fn observe(st: &UssState, id: &str, fix: &Fix<Motion>) {
    let m = &fix.data;
    let position = Position { lat: fix.at.lat, lon: fix.at.lng, alt_m: m.alt_m.unwrap_or(0.0) };
    let velocity = Velocity {
        gs_mps: m.speed_mps.unwrap_or(0.0),
        trk_deg: m.track_deg.unwrap_or(0.0),
        vs_mps: m.vertical_speed_mps.unwrap_or(0.0),
    };
    let state = match Aircraft::new(id, position, velocity, seconds(fix.time)) {
        Ok(state) => state,
        Err(e) => {
            tracing::debug!(aircraft = id, error = %e, "a position tactical detection cannot use");
            return;
        }
    };
    let update = {
        let mut t = st.rid.tactical.lock();
        let update = t.monitor.update(state);
        for pair in &update.cleared {
            t.raised.remove(pair);
        }
        for c in &update.raised {
            t.raised.insert((c.a.clone(), c.b.clone()), st.now());
        }
        update
    };
    for c in update.raised {
        tracing::info!(a = %c.a, b = %c.b, in_s = c.t_in - c.at, cpa_m = c.d_cpa_m, "tactical conflict predicted");
        for (own, other) in [(&c.a, &c.b), (&c.b, &c.a)] {
            let Some(flight) = EntityId::parse(own) else { continue };
            let message = format!(
                "tactical: predicted loss of separation with {other} in {:.0} s (closest {:.0} m)",
                (c.t_in - c.at).max(0.0),
                c.d_cpa_m
            );
            // Not waited for: positions arrive on paths that cannot wait for the disk. The save is queued in order
            // with every other change to the flights, and a failure is logged by the store.
            let (alerted, _saving) = st.core.flights.apply(&[flight], |flights| {
                flights.get_mut(&flight).map(|f| f.alerts.push(message)).is_some()
            });
            if alerted {
                st.metrics.operator_notification("tactical");
            }
        }
    }
}

/// The predicted losses of separation between aircraft this USS sees, as of their latest positions.
#[utoipa::path(get, path = "/operator/v1/alerts", tag = "Operator",
    responses((status = 200, description = "Current tactical alerts", body = AlertList), crate::responses::Unauthorized, crate::responses::NotOperator))]
pub(crate) async fn alerts(State(st): State<Arc<UssState>>, auth: Auth) -> Result<Json<AlertList>, ApiError> {
    auth.require(OPERATOR_SCOPE)?;
    let now = seconds(st.now());
    let t = st.rid.tactical.lock();
    let alerts = t
        .monitor
        .conflicts()
        // The monitor only ages tracks when reports arrive; with none coming, old conflicts are stale.
        .filter(|c| now - c.at <= t.max_age_s)
        // A conflict's aircraft are tracks the monitor holds; one it no longer knew of would have no place.
        .filter_map(|c| {
            let position = |id: &str| {
                let p = t.monitor.latest(id)?.position();
                Some(LatLngPoint { lat: p.lat, lng: p.lon })
            };
            let positions = [position(&c.a)?, position(&c.b)?];
            let at = instant(c.at).unwrap_or_else(|| st.now());
            Some(TacticalAlert {
                aircraft: [c.a.to_string(), c.b.to_string()],
                loss_start: time_out(instant(c.t_in).unwrap_or(at)),
                loss_end: instant(c.t_out).map(time_out),
                cpa_time: time_out(instant(c.t_cpa).unwrap_or(at)),
                cpa_distance_m: c.d_cpa_m,
                raised: time_out(t.raised.get(&(c.a.clone(), c.b.clone())).copied().unwrap_or(at)),
                positions,
            })
        })
        .collect();
    Ok(Json(AlertList { alerts }))
}
