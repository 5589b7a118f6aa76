//! This USS's own flights on disk: one JSON document, replaced atomically (write, sync, rename) after every
//! change, so that a restarted USS still serves its intents to peers and can update or end them.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, SecondsFormat, Utc};
use entente_dss::EntityId;
use entente_uss::{FlightState, Priority};
use serde::{Deserialize, Serialize};

use super::types::{OperationalIntent, VehicleTelemetry};
use super::{MAX_VERTICES, OwnFlight};
use crate::wire::{Volume4D, volume_out, volumes_in};

#[derive(Serialize, Deserialize)]
struct StoredFlight {
    id: String,
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

fn invalid(path: &Path, what: String) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, format!("{}: {what}", path.display()))
}

/// Where the flights live; `None` keeps them in memory only.
pub(crate) struct FlightsFile {
    path: Option<PathBuf>,
}

impl FlightsFile {
    pub(crate) fn new(path: Option<PathBuf>) -> FlightsFile {
        FlightsFile { path }
    }

    /// The flights saved last, or none when there is no file yet.
    pub(crate) fn load(&self) -> std::io::Result<HashMap<EntityId, OwnFlight>> {
        let Some(path) = &self.path else { return Ok(HashMap::new()) };
        if !path.exists() {
            return Ok(HashMap::new());
        }
        let stored: Vec<StoredFlight> =
            serde_json::from_slice(&std::fs::read(path)?).map_err(|e| invalid(path, e.to_string()))?;
        let mut flights = HashMap::new();
        for s in stored {
            let id = EntityId::parse(&s.id).ok_or_else(|| invalid(path, format!("flight id {:?}", s.id)))?;
            let bad = |e: crate::error::ApiError| invalid(path, format!("flight {id}: {e}"));
            let nonconforming_since = s
                .nonconforming_since
                .map(|t| DateTime::parse_from_rfc3339(&t).map(|t| t.with_timezone(&Utc)))
                .transpose()
                .map_err(|e| invalid(path, format!("flight {id}: {e}")))?;
            let flight = OwnFlight {
                priority: Priority(s.priority),
                state: FlightState::from_name(&s.state)
                    .ok_or_else(|| invalid(path, format!("flight {id}: state {:?}", s.state)))?,
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
        Ok(flights)
    }

    /// The document to save, taken while the flights are locked; `None` when nothing is kept on disk.
    pub(crate) fn encode(&self, flights: &HashMap<EntityId, OwnFlight>) -> Option<std::io::Result<Vec<u8>>> {
        let path = self.path.as_ref()?;
        let mut stored: Vec<StoredFlight> = flights
            .iter()
            .map(|(id, f)| StoredFlight {
                id: id.to_string(),
                priority: f.priority.0,
                state: f.state.name().to_owned(),
                volumes: f.volumes.iter().map(volume_out).collect(),
                off_nominal_volumes: f.off_nominal.iter().map(volume_out).collect(),
                published: f.published.clone(),
                nonconforming_since: f
                    .nonconforming_since
                    .map(|t| t.to_rfc3339_opts(SecondsFormat::Nanos, true)),
                telemetry: f.telemetry.clone(),
                alerts: f.alerts.clone(),
            })
            .collect();
        stored.sort_by(|a, b| a.id.cmp(&b.id));
        Some(serde_json::to_vec_pretty(&stored).map_err(|e| invalid(path, e.to_string())))
    }

    /// Replaces the file with `json` from [`FlightsFile::encode`].
    pub(crate) fn write(&self, json: &[u8]) -> std::io::Result<()> {
        let Some(path) = &self.path else { return Ok(()) };
        let tmp = path.with_extension("tmp");
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(json)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    }
}
