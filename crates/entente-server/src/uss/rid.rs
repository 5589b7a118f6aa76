//! Network Remote ID (ASTM F3411-22a, or F3411-19) and tactical conflict detection at the USS's edge.
//!
//! The state and rounds are the core's (`Uss::rid`, an `entente_uss::service::rid::RidRounds`: the SP's ISAs over
//! what this USS flies, the DP's watches, the polls of peer SPs merged into one picture, tactical detection of every
//! position either role sees, run by `Uss::tick`); this module gives it its rules and ports, keeps what only the
//! edge needs (the F3411 version, injected tests, notices to operators) and serves it over HTTP: as service provider
//! (`sp.rs`, with replayed traffic from `replay.rs`) the flights and details peers ask for, as display provider
//! (`dp.rs`) the operator's watches, the ISA notifications and the merged display, and the alerts (`tactical.rs`).
//! Both roles speak the configured F3411 version through the `RidProtocol` trait (`protocol.rs`: the core's
//! `RidDss` and `RidPeers` ports over it), implemented once per version (`v22a.rs`, `v19.rs`).

pub(crate) mod dp;
mod protocol;
pub(crate) mod replay;
pub(crate) mod sp;
pub(crate) mod tactical;
pub(crate) mod testing;
pub(crate) mod v19;
mod v22a;

use std::sync::Arc;
use std::time::Duration;

use entente_uss::UssError;
use entente_uss::rid::{Fix, Height, Motion};
use entente_uss::service::rid::{RidDss, RidPeers, RidRules, TacticalRules};
use entente_wire::rid::v22a::{RidAircraftPosition, RidAircraftState, RidHeight};
use entente_wire::{Time, parse_rfc3339, time_out};
use parking_lot::Mutex;

use super::{Links, UssState};
use crate::error::ApiError;
use crate::routes::Routes;

/// Which F3411 version the USS speaks to the DSS and to peers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RidVersion {
    /// F3411-22a (`/rid/v2/dss`, `/uss/...`).
    #[default]
    V22a,
    /// F3411-19 (`/v1/dss`, `/v1/uss/...`).
    V19,
}

/// How the USS runs Remote ID and tactical detection.
#[derive(Clone, Debug)]
pub struct RidConfig {
    pub version: RidVersion,
    /// How long an ISA and a flight's positions outlive the flight (F3411 asks SPs to keep serving recent
    /// positions for NetMaxNearRealTimeDataPeriod, 60 s).
    pub retention: chrono::Duration,
    /// How far an ISA reaches beyond the flights' areas, so it does not trace their edges.
    pub isa_margin_m: f64,
    /// How often the ISAs are brought up to date and each SP is polled; never below a second, the fastest F3411
    /// lets a DP poll one SP.
    pub tick: Duration,
    /// Protected zone and look-ahead of tactical conflict detection.
    pub tactical: entente_tactical::Config,
    /// Tracks not reported for this long are dropped from tactical detection.
    pub track_max_age_s: f64,
}

impl Default for RidConfig {
    fn default() -> Self {
        let core = RidRules::default();
        RidConfig {
            version: RidVersion::default(),
            retention: core.retention,
            isa_margin_m: core.isa_margin_m,
            tick: Duration::from_secs(1),
            tactical: core.tactical.detection,
            track_max_age_s: core.tactical.track_max_age_s,
        }
    }
}

impl RidConfig {
    /// The rules the core's Remote ID part runs by.
    pub(crate) fn rules(&self) -> RidRules {
        RidRules {
            retention: self.retention,
            isa_margin_m: self.isa_margin_m,
            views: protocol::for_version(self.version).views(),
            tactical: TacticalRules { detection: self.tactical, track_max_age_s: self.track_max_age_s },
        }
    }
}

/// What the edge keeps of Remote ID beside the core's part (`Uss::rid`): the F3411 version it speaks, the tests
/// injected through InterUSS's interface and what this SP told its operators.
pub(crate) struct RidState {
    /// The F3411 version this USS speaks to the DSS and peers, as `RidConfig::version` chose it.
    protocol: &'static dyn protocol::RidProtocol,
    /// Tests injected through InterUSS's testing interface, by test id.
    tests: Mutex<testing::Tests>,
    /// What this SP told its operators about their UAS's reports (missing fields, a slow rate), oldest first.
    notifications: Mutex<Vec<testing::Notice>>,
}

impl RidState {
    pub(crate) fn new(config: &RidConfig) -> RidState {
        RidState {
            protocol: protocol::for_version(config.version),
            tests: Mutex::new(testing::Tests::default()),
            notifications: Mutex::new(Vec::new()),
        }
    }

    /// The core's Remote ID ports over `links` in this version: the DSS's F3411 API and the peer SPs.
    pub(crate) fn ports(&self, links: &Arc<Links>) -> (Arc<dyn RidDss>, Arc<dyn RidPeers>) {
        let protocol = self.protocol;
        (
            Arc::new(protocol::HttpRidDss { links: links.clone(), protocol }),
            Arc::new(protocol::HttpRidPeers { links: links.clone(), protocol }),
        )
    }
}

/// The F3411-22a endpoints peers call, audited like the rest of the USS-USS API.
pub(crate) fn peer_routes() -> Routes<Arc<UssState>> {
    Routes::new()
        .get("/uss/flights", sp::flights)
        .get("/uss/flights/{id}/details", sp::flight_details)
        .get("/uss/identification_service_areas/{id}", sp::isa_details)
        .post("/uss/identification_service_areas/{id}", dp::notified_isa)
        .get(v19::FLIGHTS_PATH, v19::flights)
        .get("/v1/uss/flights/{id}/details", v19::flight_details)
        .post("/v1/uss/identification_service_areas/{id}", v19::notified_isa)
}

/// The operator's Remote ID and tactical endpoints.
pub(crate) fn operator_routes() -> Routes<Arc<UssState>> {
    Routes::new()
        .post("/operator/v1/rid/watches", dp::start_watch)
        .get("/operator/v1/rid/watches", dp::list_watches)
        .delete("/operator/v1/rid/watches/{id}", dp::end_watch)
        .get("/operator/v1/rid/flights", dp::display)
        .post("/operator/v1/rid/replay", replay::start_replay)
        .get("/operator/v1/alerts", tactical::alerts)
}

/// Brings this USS's ISAs in line with its flights now rather than at the next round, so a caller that just
/// activated flights (`entente serve --seed`) knows the DSS holds it.
pub async fn declare_flights(st: &Arc<UssState>) -> Result<(), ApiError> {
    st.core.rid.declare(&st.core.flights).await.map_err(|e| ApiError::Uss(UssError::Call(e)))
}

/// Starts replaying `csv` through this USS's SP, as `--replay` asks at startup.
pub fn replay_csv(st: &Arc<UssState>, csv: &str) -> Result<(), String> {
    replay::start(st, csv).map(|_| ()).map_err(|e| e.to_string())
}

/// Called with every position report of an operator's flight.
pub(crate) fn reported(st: &UssState, id: &str, fix: Fix) {
    st.core.rid.reported(&st.core.flights, id, fix, false);
}

/// An operator's telemetry report as Remote ID carries it. F3548 telemetry has no vertical speed, so it is unknown.
pub(crate) fn operator_fix(report: &entente_uss::service::Telemetry) -> Fix {
    let fix = report.fix;
    let velocity = report.velocity.as_ref().filter(|v| v.units == "MetersPerSecond");
    Fix {
        time: fix.time,
        at: fix.at,
        data: Motion {
            alt_m: Some(fix.altitude_m),
            accuracy_h: report.accuracy_h.clone(),
            accuracy_v: report.accuracy_v.clone(),
            speed_mps: velocity.map(|v| f64::from(v.speed)),
            // F3548's 360 means an unknown track.
            track_deg: velocity.and_then(|v| v.track).filter(|t| *t < 360.0).map(f64::from),
            vertical_speed_mps: None,
            ..Motion::default()
        },
    }
}

/// A height as F3411-22a carries it, in metres.
fn height_in(h: &RidHeight) -> Height {
    Height { distance_m: h.distance, reference: h.reference.clone() }
}

fn height_out(h: &Height) -> RidHeight {
    RidHeight { distance: h.distance_m, reference: h.reference.clone() }
}

/// A fix as F3411-22a's aircraft position, with its sentinels for unknown values.
fn position_out(fix: &Fix) -> RidAircraftPosition {
    RidAircraftPosition {
        lat: fix.at.lat,
        lng: fix.at.lng,
        alt: fix.data.alt_m.unwrap_or(-1000.0),
        // F3411-22a wants both accuracies in the current state; unknown has its own value.
        accuracy_h: Some(fix.data.accuracy_h.clone().unwrap_or_else(|| "HAUnknown".to_owned())),
        accuracy_v: Some(fix.data.accuracy_v.clone().unwrap_or_else(|| "VAUnknown".to_owned())),
        extrapolated: false,
        height: fix.data.height.as_ref().map(height_out),
    }
}

fn state_out(fix: &Fix) -> RidAircraftState {
    let m = &fix.data;
    RidAircraftState {
        timestamp: time_out(fix.time),
        timestamp_accuracy: m.timestamp_accuracy_s.unwrap_or(0.0),
        operational_status: Some(m.operational_status.clone().unwrap_or_else(|| "Airborne".to_owned())),
        position: position_out(fix),
        track: m.track_deg.map_or(361.0, |t| t.rem_euclid(360.0)),
        speed: m.speed_mps.map_or(255.0, |s| s.min(254.25)),
        speed_accuracy: m.speed_accuracy.clone().unwrap_or_else(|| "SAUnknown".to_owned()),
        vertical_speed: m.vertical_speed_mps.map_or(63.0, |v| v.clamp(-62.0, 62.0)),
    }
}

/// A position an SP reported, with its sentinels read as unknown; invalid coordinates are refused.
fn fix_in(time: &Time, p: &RidAircraftPosition, state: Option<&RidAircraftState>) -> Result<Fix, ApiError> {
    if !((-90.0..=90.0).contains(&p.lat) && (-180.0..=180.0).contains(&p.lng)) {
        return Err(ApiError::Upstream(format!("position {},{} is off the globe", p.lat, p.lng)));
    }
    let known = |v: f64, unknown: f64| (v.is_finite() && v != unknown).then_some(v);
    Ok(Fix {
        time: parse_rfc3339(&time.value, "time").map_err(|e| ApiError::Upstream(e.to_string()))?,
        at: entente_geo::LatLng::new(p.lat, p.lng),
        data: Motion {
            alt_m: known(p.alt, -1000.0),
            accuracy_h: p.accuracy_h.clone().filter(|a| a != "HAUnknown"),
            accuracy_v: p.accuracy_v.clone().filter(|a| a != "VAUnknown"),
            speed_mps: state.and_then(|s| known(s.speed, 255.0)),
            track_deg: state.and_then(|s| known(s.track, 361.0)),
            vertical_speed_mps: state.and_then(|s| known(s.vertical_speed, 63.0)),
            timestamp_accuracy_s: state.map(|s| s.timestamp_accuracy),
            operational_status: state.and_then(|s| s.operational_status.clone()),
            speed_accuracy: state.map(|s| s.speed_accuracy.clone()).filter(|a| a != "SAUnknown"),
            height: p.height.as_ref().map(height_in),
        },
    })
}
