//! Tactical conflict detection over every position this USS sees (its own flights and replayed traffic as SP,
//! peers' flights as DP): an `entente_tactical::Monitor`, when each current conflict was raised, and the alerts as
//! of the aircraft's latest positions.

use std::collections::HashMap;

use chrono::{DateTime, TimeZone, Utc};
use entente_geo::LatLng;
use entente_tactical::{AircraftId, Conflict, Detector, Monitor, Position, State, TacticalError, Velocity};

use crate::Timestamp;
use crate::rid::Fix;

/// How tactical detection runs.
#[derive(Clone, Copy, Debug)]
pub struct TacticalRules {
    /// Protected zone and look-ahead.
    pub detection: entente_tactical::Config,
    /// Tracks not reported for this long are dropped, and conflicts this old are stale.
    pub track_max_age_s: f64,
}

/// A predicted loss of separation between two aircraft this USS sees, as of their latest positions.
#[derive(Clone, Debug, PartialEq)]
pub struct Alert {
    pub aircraft: [String; 2],
    /// Where each was last reported.
    pub positions: [LatLng; 2],
    pub loss_start: Timestamp,
    pub loss_end: Option<Timestamp>,
    pub cpa_time: Timestamp,
    pub cpa_distance_m: f64,
    /// When this USS first predicted it.
    pub raised: Timestamp,
}

pub(super) struct Tactical {
    monitor: Monitor,
    /// When each current conflict was first raised.
    raised: HashMap<(AircraftId, AircraftId), Timestamp>,
    max_age_s: f64,
}

impl Tactical {
    pub(super) fn new(rules: TacticalRules) -> Result<Tactical, TacticalError> {
        Ok(Tactical {
            monitor: Monitor::new(Detector::new(rules.detection)?, rules.track_max_age_s)?,
            raised: HashMap::new(),
            max_age_s: rules.track_max_age_s,
        })
    }

    /// Feeds one position of aircraft `id`, at `now`; returns the conflicts it newly raised. Unknown velocity counts
    /// as hovering, unknown altitude as 0 m; a position the monitor cannot use is skipped.
    pub(super) fn observe(&mut self, id: &str, fix: &Fix, now: Timestamp) -> Vec<Conflict> {
        let m = &fix.data;
        let position = Position { lat: fix.at.lat, lon: fix.at.lng, alt_m: m.alt_m.unwrap_or(0.0) };
        let velocity = Velocity {
            gs_mps: m.speed_mps.unwrap_or(0.0),
            trk_deg: m.track_deg.unwrap_or(0.0),
            vs_mps: m.vertical_speed_mps.unwrap_or(0.0),
        };
        let state = match State::new(id, position, velocity, seconds(fix.time)) {
            Ok(state) => state,
            Err(e) => {
                tracing::debug!(aircraft = id, error = %e, "a position tactical detection cannot use");
                return Vec::new();
            }
        };
        let update = self.monitor.update(state);
        for pair in &update.cleared {
            self.raised.remove(pair);
        }
        for c in &update.raised {
            self.raised.insert((c.a.clone(), c.b.clone()), now);
        }
        update.raised
    }

    /// The current conflicts at `now`, each with where its aircraft were last reported.
    pub(super) fn alerts(&self, now: Timestamp) -> Vec<Alert> {
        let now_s = seconds(now);
        self.monitor
            .conflicts()
            // The monitor only ages tracks when reports arrive; with none coming, old conflicts are stale.
            .filter(|c| now_s - c.at <= self.max_age_s)
            // A conflict's aircraft are tracks the monitor holds; one it no longer knew of would have no place.
            .filter_map(|c| {
                let position = |id: &str| {
                    let p = self.monitor.latest(id)?.position();
                    Some(LatLng::new(p.lat, p.lon))
                };
                let positions = [position(&c.a)?, position(&c.b)?];
                let at = instant(c.at).unwrap_or(now);
                Some(Alert {
                    aircraft: [c.a.to_string(), c.b.to_string()],
                    positions,
                    loss_start: instant(c.t_in).unwrap_or(at),
                    loss_end: instant(c.t_out),
                    cpa_time: instant(c.t_cpa).unwrap_or(at),
                    cpa_distance_m: c.d_cpa_m,
                    raised: self.raised.get(&(c.a.clone(), c.b.clone())).copied().unwrap_or(at),
                })
            })
            .collect()
    }
}

/// Seconds since the Unix epoch: the clock tactical detection runs on.
fn seconds(t: Timestamp) -> f64 {
    t.timestamp_micros() as f64 / 1e6
}

fn instant(seconds: f64) -> Option<DateTime<Utc>> {
    seconds.is_finite().then(|| Utc.timestamp_micros((seconds * 1e6) as i64).single()).flatten()
}
