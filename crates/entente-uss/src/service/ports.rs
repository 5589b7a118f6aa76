//! What the USS core asks of the world around it: the DSS, peer USSs, its store and its audit record, each behind a
//! trait in domain terms, so the planning rules run the same over HTTP, in process, or against a test's fakes.

use std::future::Future;
use std::pin::Pin;

use entente_dss::{Availability, EntityId, Subscriber};
use entente_geo::Interval;

use crate::store::Ticket;
use crate::{FlightState, Priority, Timestamp, Volume};

/// A boxed future, so the ports can be used as trait objects.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Why a call to the DSS or a peer did not give what was asked.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CallError {
    /// The DSS refused what this USS's caller asked for (its own mistake: a volume the DSS will not take).
    #[error("{0}")]
    Invalid(String),
    /// The DSS refused the area or the body as too large.
    #[error("{0}")]
    TooLarge(String),
    /// The DSS refuses to plan for this USS (the arbiter declared it Down): a decision, not a fault.
    #[error("{0}")]
    Refused(String),
    /// The DSS or the peer could not be reached, failed, or answered what it should not.
    #[error("{0}")]
    Failed(String),
}

/// An operational intent's reference as the DSS holds it.
#[derive(Clone, Debug, PartialEq)]
pub struct IntentRef {
    pub id: String,
    pub manager: String,
    pub version: i32,
    pub state: FlightState,
    /// Shown only to the intent's manager and in details; `None` elsewhere.
    pub ovn: Option<String>,
    pub time: Interval<Timestamp>,
    pub uss_base_url: String,
    /// `None` for F3548's null subscription (an intent with no subscription of its own).
    pub subscription_id: Option<String>,
    pub availability: Availability,
}

impl IntentRef {
    /// Where the manager serves this intent's details.
    pub fn details_url(&self) -> String {
        format!("{}/uss/v1/operational_intents/{}", self.uss_base_url.trim_end_matches('/'), self.id)
    }
}

/// A constraint's reference as the DSS holds it.
#[derive(Clone, Debug, PartialEq)]
pub struct ZoneRef {
    pub id: String,
    pub manager: String,
    pub ovn: Option<String>,
    /// Changes with every change of the constraint, so a peer's details known at this version need not be asked
    /// for again.
    pub version: i32,
    pub uss_base_url: String,
    pub availability: Availability,
}

/// A constraint this USS manages, as the DSS last accepted it: what it serves to peers and tells subscribers.
#[derive(Clone, Debug, PartialEq)]
pub struct OwnZone {
    pub reference: ZoneRef,
    pub volumes: Vec<Volume>,
    /// F3548's constraint type (a restricted zone's kind, `prohibited` for a zone data set's).
    pub kind: Option<String>,
}

/// The DSS's answer to a constraint written.
#[derive(Clone, Debug)]
pub struct ZoneWritten {
    pub reference: ZoneRef,
    pub subscribers: Vec<Subscriber>,
}

/// An operational intent with its details: what a manager serves to peers.
#[derive(Clone, Debug, PartialEq)]
pub struct Published {
    pub reference: IntentRef,
    pub volumes: Vec<Volume>,
    pub off_nominal: Vec<Volume>,
    pub priority: Priority,
}

/// A constraint's volumes and the OVN that proves them to the DSS.
#[derive(Clone, Debug, PartialEq)]
pub struct ZoneDetails {
    pub volumes: Vec<Volume>,
    pub ovn: Option<String>,
}

/// A write of one of this USS's intents to the DSS.
#[derive(Clone, Debug)]
pub struct IntentWrite {
    pub id: EntityId,
    /// The OVN of the version being replaced; `None` creates the intent.
    pub ovn: Option<String>,
    pub extents: Vec<Volume>,
    /// The OVNs of every intent and constraint the decision was made against.
    pub key: Vec<String>,
    pub state: FlightState,
    /// The subscription the intent keeps; `None` asks the DSS for an implicit one.
    pub subscription_id: Option<String>,
}

/// The DSS's answer to a write.
#[derive(Clone, Debug)]
pub enum PutOutcome {
    /// Written: the reference as the DSS now holds it, and whom to tell.
    Done { reference: IntentRef, subscribers: Vec<Subscriber> },
    /// Refused for a key that misses these intents and constraints (or holds stale OVNs of them).
    Missing { intents: Vec<IntentRef>, zones: Vec<ZoneRef> },
}

/// The DSS's F3548 API, as this USS uses it.
pub trait Dss: Send + Sync + 'static {
    fn query_intents(&self, area: Volume) -> BoxFuture<'_, Result<Vec<IntentRef>, CallError>>;
    fn query_zones(&self, area: Volume) -> BoxFuture<'_, Result<Vec<ZoneRef>, CallError>>;
    fn put_intent(&self, write: IntentWrite) -> BoxFuture<'_, Result<PutOutcome, CallError>>;
    /// Deletes a reference; `None` when the DSS no longer holds it (nothing to delete, nobody to tell).
    fn delete_intent(
        &self,
        id: EntityId,
        ovn: String,
    ) -> BoxFuture<'_, Result<Option<Vec<Subscriber>>, CallError>>;
    /// Creates constraint `id` (`ovn` `None`) or replaces its version `ovn`, over `volumes`.
    fn put_zone(
        &self,
        id: EntityId,
        ovn: Option<String>,
        volumes: Vec<Volume>,
    ) -> BoxFuture<'_, Result<ZoneWritten, CallError>>;
    /// Deletes constraint `id` at version `ovn`; whom to tell.
    fn delete_zone(&self, id: EntityId, ovn: String) -> BoxFuture<'_, Result<Vec<Subscriber>, CallError>>;
    /// Files a report of a peer that did not serve the details of `intent`, for the availability arbiter.
    fn report_unreachable(&self, intent: IntentRef, problem: String) -> BoxFuture<'_, Result<(), CallError>>;
}

/// Peer USSs, as this USS uses them.
pub trait Peers: Send + Sync + 'static {
    /// The details of every reference, each with its own outcome (one peer being down hides nothing of the
    /// others). A details answer naming another intent, or carrying no OVN, is a failure.
    fn intent_details(
        &self,
        refs: Vec<IntentRef>,
    ) -> BoxFuture<'_, Vec<(IntentRef, Result<Published, CallError>)>>;
    /// The details of every constraint, from its manager.
    fn zone_details(
        &self,
        refs: Vec<ZoneRef>,
    ) -> BoxFuture<'_, Vec<(ZoneRef, Result<ZoneDetails, CallError>)>>;
    /// Tells every subscriber but this USS of intent `id` (`None`: deleted); waits until each answered or its
    /// attempts ran out. Failures are the implementation's to log: the change stands either way.
    fn notify(
        &self,
        subscribers: Vec<Subscriber>,
        id: EntityId,
        intent: Option<Published>,
    ) -> BoxFuture<'_, ()>;
    /// Tells every subscriber but this USS of constraint `id` (`None`: deleted), as `notify` does of an intent.
    fn notify_zone(
        &self,
        subscribers: Vec<Subscriber>,
        id: EntityId,
        zone: Option<OwnZone>,
    ) -> BoxFuture<'_, ()>;
}

/// Where this USS keeps its flights across restarts.
pub trait FlightRecords: Send + Sync + 'static {
    /// Queues the save of the flights named (`None`: removed); they are on disk once the ticket resolves. Saves
    /// are queued in call order and committed in that order.
    fn save(&self, flights: &[(EntityId, Option<&crate::service::OwnFlight>)]) -> Ticket;
}

/// Where this USS keeps the constraints it manages and the zone data sets imported into it, across restarts.
pub trait ZoneRecords: Send + Sync + 'static {
    /// Queues the save of constraint `id` (`None`: removed), as [`FlightRecords::save`] does of flights.
    fn save_zone(&self, id: EntityId, zone: Option<&OwnZone>) -> Ticket;
    /// Queues the save of data set `name` (`None`: removed).
    fn save_set(&self, name: &str, set: Option<&crate::geoawareness::ZoneSet>) -> Ticket;
}

/// One planning attempt, for the log set (F3548's planning records).
#[derive(Clone, Debug, PartialEq)]
pub struct Attempt {
    pub intent: EntityId,
    pub key: Vec<String>,
    pub missing_intents: Vec<String>,
    pub missing_zones: Vec<String>,
    pub problem: Option<String>,
}

/// A conflict an operator was told of.
#[derive(Clone, Debug, PartialEq)]
pub struct UserNotice {
    pub observed_at: Timestamp,
    /// `SCD0090` (the operator's flight causes it) or `SCD0095` (another's reaches it).
    pub requirement: &'static str,
    /// The intents or constraints in conflict with the operator's flight, by id.
    pub conflicting: Vec<String>,
    pub message: String,
}

/// The hash-chained record of what this USS decided and told, and its counters.
pub trait Journal: Send + Sync + 'static {
    fn planning_attempt(&self, time: Timestamp, attempt: &Attempt);
    fn operator_notified(&self, notice: &UserNotice);
    /// Tactical detection added a predicted loss of separation to flight `flight`'s alerts.
    fn tactical_alert(&self, flight: EntityId);
}
