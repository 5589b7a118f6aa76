//! This USS's own flights on disk, as lines of its journal (`journal.rs`), so that a restarted USS still
//! serves its intents to peers and can update or end them.

use std::collections::HashMap;
use std::path::PathBuf;

use chrono::{DateTime, SecondsFormat, Utc};
use entente_dss::EntityId;
use entente_uss::{FlightState, Priority, StateChange};
use entente_wire::uss::{OperationalIntent, VehicleTelemetry};
use entente_wire::{Volume4D, volume_out, volumes_in};
use serde::{Deserialize, Serialize};

use super::journal::{Journal, Pending, PendingSync};
use super::{MAX_VERTICES, OwnFlight};

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
    /// Absent from lines written before flights kept a history or their planner.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    history: Vec<StoredChange>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    operator: Option<String>,
}

/// One entry of a flight's history, its time in RFC 3339.
#[derive(Serialize, Deserialize)]
struct StoredChange {
    time: String,
    state: String,
    reason: String,
}

fn parse_time(t: &str) -> Result<DateTime<Utc>, chrono::ParseError> {
    DateTime::parse_from_rfc3339(t).map(|t| t.with_timezone(&Utc))
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
        history: f
            .history
            .iter()
            .map(|c| StoredChange {
                time: c.time.to_rfc3339_opts(SecondsFormat::Nanos, true),
                state: c.state.name().to_owned(),
                reason: c.reason.clone(),
            })
            .collect(),
        operator: f.operator.clone(),
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
            let bad = |e: entente_wire::WireError| invalid(&path, format!("flight {id}: {e}"));
            let nonconforming_since = s
                .nonconforming_since
                .map(|t| parse_time(&t))
                .transpose()
                .map_err(|e| invalid(&path, format!("flight {id}: {e}")))?;
            let history = s
                .history
                .into_iter()
                .map(|c| {
                    Ok(StateChange {
                        time: parse_time(&c.time).map_err(|e| invalid(&path, format!("flight {id}: {e}")))?,
                        state: FlightState::from_name(&c.state)
                            .ok_or_else(|| invalid(&path, format!("flight {id}: state {:?}", c.state)))?,
                        reason: c.reason,
                    })
                })
                .collect::<std::io::Result<Vec<_>>>()?;
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
                history,
                operator: s.operator,
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

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};
    use entente_dss::EntityId;
    use entente_uss::{FlightState, Reason, record_change};

    use super::FlightsFile;

    /// A line as a USS wrote it before flights kept a history or their planner.
    const OLD_LINE: &str = r#"{"id":"6f1e6c7c-3b1a-4c39-9a43-2d6a1b0f7a11","record":{"priority":3,"state":"Accepted","volumes":[{"volume":{"outline_circle":{"center":{"lat":46.5,"lng":6.6},"radius":{"value":300.0,"units":"M"}},"altitude_lower":{"value":0.0,"reference":"W84","units":"M"},"altitude_upper":{"value":120.0,"reference":"W84","units":"M"}},"time_start":{"value":"2030-01-01T12:00:00Z","format":"RFC3339"},"time_end":{"value":"2030-01-01T13:00:00Z","format":"RFC3339"}}],"off_nominal_volumes":[],"published":null,"nonconforming_since":null,"telemetry":null}}"#;

    #[test]
    fn old_lines_load_and_histories_survive_a_reopening() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("flights.jsonl");
        std::fs::write(&path, format!("{OLD_LINE}\n"))?;
        let (mut file, mut flights) = FlightsFile::open(Some(path.clone()))?;
        let id = EntityId::parse("6f1e6c7c-3b1a-4c39-9a43-2d6a1b0f7a11").ok_or("id")?;
        let flight = flights.get_mut(&id).ok_or("the old flight")?;
        assert_eq!((flight.state, flight.priority.0), (FlightState::Accepted, 3));
        assert!(flight.history.is_empty() && flight.operator.is_none());

        let at: DateTime<Utc> = "2030-01-01T11:00:00.5Z".parse()?;
        record_change(&mut flight.history, at, FlightState::Accepted, &Reason::Planned);
        flight.operator = Some("pilot".to_owned());
        let encoded = file.encode(&flights, &[id]);
        super::super::journal::finish(file.write(encoded))?;
        drop(file);
        let (_, again) = FlightsFile::open(Some(path))?;
        let flight = again.get(&id).ok_or("the flight again")?;
        assert_eq!(flight.history, flights[&id].history);
        assert_eq!(flight.operator.as_deref(), Some("pilot"));
        Ok(())
    }
}
