//! The rules a USS keeps for its operators' flights (ASTM F3548-21): conflicts by exact 4D intersection and
//! priority, conflict-free alternatives, conformance monitoring, the hash-chained audit record, and the U-space
//! flight authorisation data operators give with their flights.
//!
//! Decisions over plain values: no HTTP, no serialisation format, no wall clock, no storage engine. The rules are
//! pure functions (callers pass `now`); [`service::Uss`] runs them for a USS's flights over the DSS, peers, its
//! records and its journal as traits, with time from an injected clock. What a USS keeps across restarts goes
//! through the [`store::UssStore`] trait.

mod alternatives;
mod audit;
pub mod authorisation;
mod conflict;
mod conformance;
mod error;
mod flight;
pub mod geoawareness;
mod grants;
mod lateral;
pub mod rid;
mod route;
pub mod service;
pub mod store;

use chrono::{DateTime, Utc};

pub use alternatives::{
    Alternative, CostWeights, Lateral, MAX_CANDIDATES, OperatorLimits, SearchSpace, alternatives,
};
pub use audit::{
    AuditChain, AuditRecord, Direction, Entry, Event, EventKind, Exchange, GENESIS_HASH, sha256_hex,
    verify_chain,
};
pub use conflict::{Intent, PriorityPolicy, blocking_intents};
pub use conformance::{ContingencyRules, MAX_FIX_AHEAD, Position, Verdict, assess, check_fix_time, covers};
pub use error::UssError;
pub use flight::{FlightState, Priority, Reason, StateChange, activation_volumes, record_change};
pub use grants::{GRANT_SCOPE_PREFIX, PolicyError, PriorityGrants};
pub use route::{Route, route_volumes};

pub type Timestamp = DateTime<Utc>;
/// One 4D volume of an operational intent, in metres (WGS84) and UTC.
pub type Volume = entente_geo::Volume4<Timestamp>;

/// Whether any volume of `a` intersects any volume of `b` (closed in every dimension, exact geometry).
pub fn volumes_intersect(a: &[Volume], b: &[Volume]) -> bool {
    a.iter().any(|x| b.iter().any(|y| x.intersects(y)))
}
