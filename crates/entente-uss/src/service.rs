//! The USS core: one [`Uss`] object that plans, activates, monitors and ends its operators' flights, hears of
//! peers' changes, manages the constraints it publishes (an authority's restricted zones, its zone data sets') and
//! runs its background round ([`Uss::tick`]), over the DSS, peers and its records as traits ([`ports`]), with time
//! from an injected clock and its own error. It knows no HTTP, no wire format and no storage engine; the server's
//! handlers and its background loop call it. Network Remote ID and tactical detection are its part [`rid`], whose
//! own round ([`rid::RidRounds::tick`]) the background loop runs every second beside [`Uss::tick`].

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
use parking_lot::Mutex;

pub use flights::{FlightGuard, Flights, OwnFlight, Telemetry, Velocity, saved_by};
pub use planning::{CONSTRAINT_PRIORITY, Proposal, Refusal};
pub use ports::{
    Attempt, BoxFuture, CallError, Dss, FlightRecords, IntentRef, IntentWrite, Journal, OwnZone, Peers,
    Published, PutOutcome, UserNotice, ZoneDetails, ZoneRecords, ZoneRef, ZoneWritten,
};
pub use zones::{ImportOutcome, Reconciled, Tick, ZoneChange, check_volumes};

use crate::geoawareness::ZoneSets;
use crate::{ContingencyRules, PriorityPolicy, Timestamp};
use zones::OwnZones;

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
}

/// What the core is given to work with: the DSS, peers, its records and journal, and its clock.
pub struct Ports {
    pub dss: Arc<dyn Dss>,
    pub peers: Arc<dyn Peers>,
    pub records: Arc<dyn FlightRecords>,
    pub zones: Arc<dyn ZoneRecords>,
    pub journal: Arc<dyn Journal>,
    pub clock: Arc<dyn Clock>,
}

/// What a USS saved in an earlier run, to start from.
#[derive(Default)]
pub struct Saved {
    pub flights: HashMap<EntityId, OwnFlight>,
    pub zones: ZoneSets,
    pub own_zones: HashMap<EntityId, OwnZone>,
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
}

impl Uss {
    /// The core over `ports`, holding what a previous run saved: `flights`, the zone data sets `zones` and the
    /// constraints it manages, `own_zones`.
    pub fn new(rules: Rules, ports: Ports, saved: Saved) -> Uss {
        let flights = Flights::new(saved.flights, ports.records.clone());
        Uss {
            rules,
            ports,
            flights,
            zones: saved.zones,
            own_zones: OwnZones::new(saved.own_zones),
            notices: Mutex::new(Vec::new()),
        }
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
