//! The USS core: one [`Uss`] object that plans, activates, monitors and ends its operators' flights, hears of
//! peers' changes, manages the constraints it publishes (an authority's restricted zones, its zone data sets'),
//! holds network Remote ID and tactical detection (its part [`Uss::rid`], from [`rid`]) and runs every background
//! round that is due ([`Uss::tick`]), over the DSS, peers, the Remote ID DSS and SPs and its records as traits
//! ([`ports`], [`rid`]'s ports), with time from an injected clock and its own error. It knows no HTTP, no wire format
//! and no storage engine; the server's handlers and its background loop call it.

mod flights;
mod lifecycle;
mod planning;
pub mod ports;
pub mod rid;
#[cfg(test)]
mod tests;
mod zones;

use std::collections::HashMap;
use std::sync::Arc;

use entente_dss::{Clock, EntityId};
use entente_tactical::TacticalError;
use futures_util::future::join;
use parking_lot::Mutex;

pub use flights::{FlightGuard, Flights, OwnFlight, Telemetry, Velocity, saved_by};
pub use planning::{CONSTRAINT_PRIORITY, Proposal, Refusal};
pub use ports::{
    Attempt, BoxFuture, CallError, Dss, FlightRecords, IntentRef, IntentWrite, Journal, OwnZone, Peers,
    Published, PutOutcome, UserNotice, ZoneDetails, ZoneRecords, ZoneRef, ZoneWritten,
};
pub use zones::{ImportOutcome, Reconciled, ZoneChange, check_volumes};

use crate::geoawareness::ZoneSets;
use crate::{ContingencyRules, PriorityPolicy, Timestamp, UssError};
use rid::{IsaRecords, RidDp, RidDss, RidPeers, RidRounds, RidRules, RidSp, SpRules};
use zones::OwnZones;

/// How long [`Uss::tick`] lets pass between two zone rounds: windows close and days turn far slower than aircraft
/// move, and each round writes to the DSS for every published set.
pub const ZONE_ROUND_EVERY: chrono::Duration = chrono::Duration::minutes(10);

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

/// The rules this USS plans by.
#[derive(Clone, Debug, Default)]
pub struct Rules {
    /// The `sub` of this USS's tokens: the DSS records it as the manager of what this USS writes.
    pub identity: String,
    pub policy: PriorityPolicy,
    pub alternatives: AlternativeSearch,
    pub contingency: ContingencyRules,
    /// The limits of the DSS this USS writes to, by which the constraints it publishes are checked before any write.
    pub dss_limits: entente_dss::Limits,
    /// How network Remote ID and tactical detection run.
    pub rid: RidRules,
}

/// What the core is given to work with: the DSS, peers, its records and journal, and its clock; for Remote ID, the
/// DSS's F3411 API, the peer SPs and the records of its ISA ids.
pub struct Ports {
    pub dss: Arc<dyn Dss>,
    pub peers: Arc<dyn Peers>,
    pub records: Arc<dyn FlightRecords>,
    pub zones: Arc<dyn ZoneRecords>,
    pub journal: Arc<dyn Journal>,
    pub clock: Arc<dyn Clock>,
    pub rid_dss: Arc<dyn RidDss>,
    pub rid_peers: Arc<dyn RidPeers>,
    pub isas: Arc<dyn IsaRecords>,
}

/// What a USS saved in an earlier run, to start from.
#[derive(Default)]
pub struct Saved {
    pub flights: HashMap<EntityId, OwnFlight>,
    pub zones: ZoneSets,
    pub own_zones: HashMap<EntityId, OwnZone>,
    /// The ISAs it declared and may have left at the DSS, deleted by the first Remote ID round.
    pub isas: Vec<String>,
}

/// What one [`Uss::tick`] did.
#[derive(Debug)]
pub struct Tick {
    /// The Remote ID round's outcome: its first failure to bring the ISAs in line with what flies.
    pub rid: Result<(), CallError>,
    /// Each published zone set's republication, by name; `None` when the zone round was not due.
    pub zone_sets: Option<Vec<(String, Result<Reconciled, UssError>)>>,
}

/// One USS's strategic coordination: its flights and what its operators were told.
pub struct Uss {
    rules: Rules,
    ports: Ports,
    /// This USS's own flights.
    pub flights: Flights,
    /// The geographical zone data sets imported into this USS: their prohibited zones are published as
    /// constraints (which the planner meets at the DSS like any other), the rest advise the flights entering them.
    pub zones: ZoneSets,
    /// The constraints this USS manages: restricted zones declared for an authority and its data sets' prohibited
    /// zones.
    own_zones: OwnZones,
    /// The conflicts operators were told of (SCD0090 and SCD0095), oldest first; memory only, like a test run.
    notices: Mutex<Vec<UserNotice>>,
    /// Network Remote ID as SP and DP, the peers' aircraft its polls merged, and tactical detection.
    pub rid: RidRounds,
    /// When the last zone round ran, by this USS's clock.
    last_zone_round: Mutex<Option<Timestamp>>,
}

impl Uss {
    /// The core over `ports`, holding what a previous run saved: `flights`, the zone data sets `zones`, the
    /// constraints it manages, `own_zones`, and the ISAs it declared, `isas`. Refused only when the tactical
    /// detection rules are.
    pub fn new(rules: Rules, ports: Ports, saved: Saved) -> Result<Uss, TacticalError> {
        let flights = Flights::new(saved.flights, ports.records.clone());
        let identity = &rules.identity;
        let clock = &ports.clock;
        let sp_rules = SpRules {
            identity: identity.clone(),
            retention: rules.rid.retention,
            isa_margin_m: rules.rid.isa_margin_m,
            max_area_m2: rules.dss_limits.max_area_m2,
        };
        let sp = RidSp::new(sp_rules, ports.rid_dss.clone(), ports.isas.clone(), clock.clone(), saved.isas);
        let dp = RidDp::new(identity.clone(), rules.rid.views, ports.rid_dss.clone(), clock.clone());
        let rid = RidRounds::new(
            identity.clone(),
            sp,
            dp,
            ports.rid_peers.clone(),
            rules.rid.tactical,
            ports.journal.clone(),
            clock.clone(),
        )?;
        Ok(Uss {
            rules,
            ports,
            flights,
            zones: saved.zones,
            own_zones: OwnZones::new(saved.own_zones),
            notices: Mutex::new(Vec::new()),
            rid,
            last_zone_round: Mutex::new(None),
        })
    }

    /// Runs every background round due now, by this USS's clock, the edge calling it on Remote ID's interval (a
    /// second): the Remote ID round ([`RidRounds::tick`] over this USS's flights) at every call, and, beside it, the
    /// zone round (every published set's constraints brought up to date) at the first call and then at the first
    /// call at least [`ZONE_ROUND_EVERY`] after the last one ran. A failure is reported here and tried again at the
    /// next round.
    pub async fn tick(&self) -> Tick {
        let zones_due = {
            let now = self.now();
            let mut last = self.last_zone_round.lock();
            let due = last.is_none_or(|l| now - l >= ZONE_ROUND_EVERY);
            if due {
                *last = Some(now);
            }
            due
        };
        let zones = async { if zones_due { Some(self.republish_zones().await) } else { None } };
        let (rid, zone_sets) = join(self.rid.tick(&self.flights), zones).await;
        Tick { rid, zone_sets }
    }

    pub fn rules(&self) -> &Rules {
        &self.rules
    }

    /// The time now, by this USS's clock.
    pub fn now(&self) -> Timestamp {
        self.ports.clock.now()
    }

    /// Every conflict operators were told of, oldest first.
    pub fn notices(&self) -> Vec<UserNotice> {
        self.notices.lock().clone()
    }

    /// Tells operators of a conflict: kept for the test interface, and sealed into the journal.
    fn notify_operators(&self, requirement: &'static str, conflicting: Vec<String>, message: String) {
        let notice = UserNotice { observed_at: self.now(), requirement, conflicting, message };
        self.ports.journal.operator_notified(&notice);
        self.notices.lock().push(notice);
    }
}
