//! This USS's own flights on disk, as lines of its journal (`journal.rs`), so that a restarted USS still
//! serves its intents to peers and can update or end them.

use std::collections::HashMap;
use std::path::PathBuf;

use chrono::{DateTime, SecondsFormat, Utc};
use entente_dss::EntityId;
use entente_uss::{FlightState, Priority};
use serde::{Deserialize, Serialize};

use super::journal::{Journal, Pending, PendingSync};
use super::types::{OperationalIntent, VehicleTelemetry};
use super::{MAX_VERTICES, OwnFlight};
use crate::wire::{Volume4D, volume_out, volumes_in};

#[derive(Serialize, Deserialize)]
pub(crate) struct StoredFlight {
    priority: i32,
    state: String,
    volumes: Vec<Volume4D>,
    off_nominal_volumes: Vec<Volume4D>,
    published: Option<OperationalIntent>,
    nonconforming_since: Option<String>,
    telemetry: Option<VehicleTelemetry>,
    #[serde(default)]
    alerts: Vec<String>,
}

fn invalid(path: &Option<PathBuf>, what: String) -> std::io::Error {
    let path = path.as_ref().map_or_else(String::new, |p| p.display().to_string());
    std::io::Error::new(std::io::ErrorKind::InvalidData, format!("{path}: {what}"))
}

fn stored(f: &OwnFlight) -> StoredFlight {
    StoredFlight {
        priority: f.priority.0,
        state: f.state.name().to_owned(),
        volumes: f.volumes.iter().map(volume_out).collect(),
        off_nominal_volumes: f.off_nominal.iter().map(volume_out).collect(),
        published: f.published.clone(),
        nonconforming_since: f.nonconforming_since.map(|t| t.to_rfc3339_opts(SecondsFormat::Nanos, true)),
        telemetry: f.telemetry.clone(),
        alerts: f.alerts.clone(),
    }
}

/// Where the flights live; without a path they are kept in memory only.
pub(crate) struct FlightsFile {
    journal: Journal<StoredFlight>,
}

impl FlightsFile {
    /// The flights saved last, and the file to save changes in.
    pub(crate) fn open(
        path: Option<PathBuf>,
    ) -> std::io::Result<(FlightsFile, HashMap<EntityId, OwnFlight>)> {
        let (journal, records) = Journal::<StoredFlight>::open(path.clone())?;
        let mut flights = HashMap::new();
        for (id, s) in records {
            let id = EntityId::parse(&id).ok_or_else(|| invalid(&path, format!("flight id {id:?}")))?;
            let bad = |e: crate::error::ApiError| invalid(&path, format!("flight {id}: {e}"));
            let nonconforming_since = s
                .nonconforming_since
                .map(|t| DateTime::parse_from_rfc3339(&t).map(|t| t.with_timezone(&Utc)))
                .transpose()
                .map_err(|e| invalid(&path, format!("flight {id}: {e}")))?;
            let flight = OwnFlight {
                priority: Priority(s.priority),
                state: FlightState::from_name(&s.state)
                    .ok_or_else(|| invalid(&path, format!("flight {id}: state {:?}", s.state)))?,
                volumes: volumes_in(&s.volumes, "volumes", MAX_VERTICES).map_err(bad)?,
                off_nominal: volumes_in(&s.off_nominal_volumes, "off_nominal_volumes", MAX_VERTICES)
                    .map_err(bad)?,
                published: s.published,
                nonconforming_since,
                telemetry: s.telemetry,
                alerts: s.alerts,
            };
            flights.insert(id, flight);
        }
        Ok((FlightsFile { journal }, flights))
    }

    /// What saves the flights `changed`, taken while the flights are locked; `None` when nothing is kept on
    /// disk.
    pub(crate) fn encode(
        &mut self,
        flights: &HashMap<EntityId, OwnFlight>,
        changed: &[EntityId],
    ) -> Option<std::io::Result<Pending>> {
        let changed = changed.iter().map(|id| (id.to_string(), flights.get(id).map(stored)));
        self.journal.encode(changed, || flights.iter().map(|(id, f)| (id.to_string(), stored(f))).collect())
    }

    /// Puts what [`FlightsFile::encode`] returned in the file; on disk once `journal::finish` returns for it.
    pub(crate) fn write(
        &mut self,
        encoded: Option<std::io::Result<Pending>>,
    ) -> std::io::Result<Option<PendingSync>> {
        self.journal.write_encoded(encoded)
    }
}
