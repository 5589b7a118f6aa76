//! This USS's own flights: the state part the planner changes, saved through [`FlightRecords`] in the order of
//! the changes, with one lock per flight so two operations on it never interleave: the core's operations take it
//! themselves, and the parts of them that need it are reached only through a [`FlightGuard`].

use std::collections::HashMap;
use std::sync::Arc;

use entente_dss::EntityId;
use parking_lot::Mutex;

use super::ports::{FlightRecords, Published};
use crate::store::{StoreError, Ticket};
use crate::{FlightState, Position, Priority, StateChange, Timestamp, Volume};

/// An operator's position report as this USS keeps it and shares it with peers while the flight is off-nominal.
#[derive(Clone, Debug, PartialEq)]
pub struct Telemetry {
    pub fix: Position,
    /// F3548's horizontal and vertical accuracy codes, as reported.
    pub accuracy_h: Option<String>,
    pub accuracy_v: Option<String>,
    pub extrapolated: bool,
    pub velocity: Option<Velocity>,
}

/// A reported velocity, in the units it was reported in.
#[derive(Clone, Debug, PartialEq)]
pub struct Velocity {
    pub speed: f32,
    pub units: String,
    /// Degrees clockwise from true north; F3548's 360 means unknown.
    pub track: Option<f32>,
}

/// One of this USS's own flights.
#[derive(Clone, Debug, PartialEq)]
pub struct OwnFlight {
    pub priority: Priority,
    pub state: FlightState,
    pub volumes: Vec<Volume>,
    pub off_nominal: Vec<Volume>,
    /// The intent as the DSS last accepted it: what peers are served. `None` until the DSS confirmed it.
    pub published: Option<Published>,
    pub nonconforming_since: Option<Timestamp>,
    pub telemetry: Option<Telemetry>,
    /// What the operator must hear of: peers' intents that came to intersect this flight after it was planned.
    pub alerts: Vec<String>,
    /// The states the flight went through, oldest first, each with its time and reason.
    pub history: Vec<StateChange>,
    /// The `sub` of the operator's token that planned the flight, whose lists show it; `None` for flights planned
    /// through the test interface or before planners were recorded, which every operator's list shows.
    pub operator: Option<String>,
}

impl OwnFlight {
    /// Every volume the flight holds, nominal and off-nominal.
    pub fn all_volumes(&self) -> impl Iterator<Item = &Volume> {
        self.volumes.iter().chain(&self.off_nominal)
    }
}

/// Flight `id` held by one operation until dropped. The core's operations that read, decide and write a flight
/// either take its lock themselves or take this guard, which only [`Flights::lock`] makes: no caller can reach a
/// flight's read-decide-write without holding it, and one that must keep it across several operations (answer a
/// repeated request, then plan in two steps) holds one guard for all of them.
pub struct FlightGuard {
    id: EntityId,
    _held: tokio::sync::OwnedMutexGuard<()>,
}

impl FlightGuard {
    /// The flight held.
    pub fn id(&self) -> EntityId {
        self.id
    }
}

/// The flights, and what is being written of them.
pub struct Flights {
    /// Changed only together with a save queued under this lock, so saves commit in the order of the changes.
    map: Mutex<HashMap<EntityId, OwnFlight>>,
    /// The flights being written to the DSS, with the priority and volumes proposed: the DSS may show them to
    /// another planning of this USS before they are recorded in `map`.
    writing: Mutex<HashMap<EntityId, (Priority, Vec<Volume>)>>,
    /// One lock per flight, held across a whole operation on it (read, decide, write to the DSS, notify).
    locks: Mutex<HashMap<EntityId, Arc<tokio::sync::Mutex<()>>>>,
    records: Arc<dyn FlightRecords>,
}

impl Flights {
    pub(super) fn new(map: HashMap<EntityId, OwnFlight>, records: Arc<dyn FlightRecords>) -> Flights {
        Flights {
            map: Mutex::new(map),
            writing: Mutex::new(HashMap::new()),
            locks: Mutex::new(HashMap::new()),
            records,
        }
    }

    /// Flight `id` as the last finished change left it.
    pub fn get(&self, id: EntityId) -> Option<OwnFlight> {
        self.map.lock().get(&id).cloned()
    }

    /// Reads the flights under their lock: keep `read` short, it holds off every change.
    pub fn read<R>(&self, read: impl FnOnce(&HashMap<EntityId, OwnFlight>) -> R) -> R {
        read(&self.map.lock())
    }

    /// Waits until no other operation works on flight `id`, then holds it off until the guard is dropped.
    pub async fn lock(&self, id: EntityId) -> FlightGuard {
        let lock = self.locks.lock().entry(id).or_default().clone();
        FlightGuard { id, _held: lock.lock_owned().await }
    }

    /// Applies `change` and queues the save of the flights named in `ids`; they are on disk once the ticket
    /// resolves. Dropping the ticket does not cancel the save.
    pub fn apply<R>(
        &self,
        ids: &[EntityId],
        change: impl FnOnce(&mut HashMap<EntityId, OwnFlight>) -> R,
    ) -> (R, Ticket) {
        let mut map = self.map.lock();
        let result = change(&mut map);
        let named: Vec<(EntityId, Option<&OwnFlight>)> = ids.iter().map(|id| (*id, map.get(id))).collect();
        // Queued under the lock, so concurrent changes commit in the order they were applied; waited for outside
        // it, so readers do not wait for the disk and concurrent changes share commits.
        let ticket = self.records.save(&named);
        (result, ticket)
    }

    /// Applies `change` (saving the flights named in `ids`) and returns once it is on disk. A failed save is
    /// logged: the DSS and peers already know the change, so memory must keep it too.
    pub async fn change<R>(
        &self,
        ids: &[EntityId],
        change: impl FnOnce(&mut HashMap<EntityId, OwnFlight>) -> R,
    ) -> R {
        let (result, saved) = self.apply(ids, change);
        if let Err(e) = saved_by(saved).await {
            tracing::error!(error = %e, "saving this USS's flights failed");
        }
        result
    }

    /// What this USS holds of its own intent `id`: the proposal being written, else the recorded flight's priority
    /// and volumes.
    pub(super) fn known(&self, id: EntityId) -> Option<(Priority, Vec<Volume>)> {
        if let Some(writing) = self.writing.lock().get(&id) {
            return Some(writing.clone());
        }
        let map = self.map.lock();
        let flight = map.get(&id)?;
        Some((flight.priority, flight.all_volumes().cloned().collect()))
    }

    pub(super) fn start_writing(&self, id: EntityId, priority: Priority, volumes: Vec<Volume>) {
        self.writing.lock().insert(id, (priority, volumes));
    }

    pub(super) fn done_writing(&self, id: EntityId) {
        self.writing.lock().remove(&id);
    }
}

/// Waits for a store's ticket: `Ok` once the writes are on disk.
pub async fn saved_by(ticket: Ticket) -> Result<(), StoreError> {
    ticket.await.unwrap_or_else(|_| Err(StoreError::Io("the store stopped before committing".into())))
}
