//! How this USS writes its records in its store (`entente_uss::store`): as JSON in the shapes below and the
//! wire's, format 1 ([`JOURNAL_FORMAT`]) being what its JSONL journals held, so journals migrated into the store
//! load as they were written. Fields added later (a flight's history and planner) are optional, so older records
//! still load; a record of another format is refused by name rather than misread.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, SecondsFormat, Utc};
use entente_dss::EntityId;
use entente_uss::store::{JOURNAL_FORMAT, Record, StoreError, Table, UssStore, Write};
use entente_uss::{FlightState, Priority, StateChange};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use entente_uss::geoawareness::ZoneSet;
use entente_uss::service::{OwnFlight, OwnZone};
use entente_wire::uss::{Constraint, OperationalIntent, VehicleTelemetry};
use entente_wire::uss_core::{own_zone_in, published_in, published_out, telemetry_in, telemetry_out};
use entente_wire::{Volume4D, volume_out, volumes_in};

use super::MAX_VERTICES;

/// The format this USS writes.
const FORMAT: u16 = JOURNAL_FORMAT;

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

fn invalid(table: Table, id: &str, what: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, format!("{} record {id}: {what}", table.name()))
}

/// `value` as a record of this USS's format.
pub(crate) fn encode<T: Serialize>(value: &T) -> Result<Record, StoreError> {
    let bytes = serde_json::to_vec(value).map_err(|e| StoreError::Io(format!("encoding a record: {e}")))?;
    Ok(Record { format: FORMAT, bytes })
}

/// The write that saves record `id` of `table` as `value` (`None`: removed).
pub(crate) fn write<T: Serialize>(table: Table, id: String, value: Option<&T>) -> Result<Write, StoreError> {
    Ok(Write { table, id, record: value.map(encode).transpose()? })
}

fn decode<T: DeserializeOwned>(table: Table, id: &str, record: &Record) -> std::io::Result<T> {
    if record.format != FORMAT {
        return Err(invalid(
            table,
            id,
            format_args!("format {} (this USS reads format {FORMAT})", record.format),
        ));
    }
    serde_json::from_slice(&record.bytes).map_err(|e| invalid(table, id, e))
}

/// Every record of `table` in `store`, decoded, by id.
pub(crate) fn load<T: DeserializeOwned>(
    store: &dyn UssStore,
    table: Table,
) -> std::io::Result<Vec<(String, T)>> {
    let records = store.load(table).map_err(std::io::Error::other)?;
    records.into_iter().map(|(id, r)| decode(table, &id, &r).map(|value| (id, value))).collect()
}

fn entity_id(table: Table, id: &str) -> std::io::Result<EntityId> {
    EntityId::parse(id).ok_or_else(|| invalid(table, id, "not a UUID"))
}

fn stored(f: &OwnFlight) -> StoredFlight {
    StoredFlight {
        priority: f.priority.0,
        state: f.state.name().to_owned(),
        volumes: f.volumes.iter().map(volume_out).collect(),
        off_nominal_volumes: f.off_nominal.iter().map(volume_out).collect(),
        published: f.published.as_ref().map(published_out),
        nonconforming_since: f.nonconforming_since.map(|t| t.to_rfc3339_opts(SecondsFormat::Nanos, true)),
        telemetry: f.telemetry.as_ref().map(telemetry_out),
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

fn restore(id: &str, s: StoredFlight) -> std::io::Result<OwnFlight> {
    let bad = |e: &dyn std::fmt::Display| invalid(Table::Flights, id, e);
    let state = |name: &str| FlightState::from_name(name).ok_or_else(|| bad(&format_args!("state {name:?}")));
    let history = s
        .history
        .into_iter()
        .map(|c| {
            Ok(StateChange {
                time: parse_time(&c.time).map_err(|e| bad(&e))?,
                state: state(&c.state)?,
                reason: c.reason,
            })
        })
        .collect::<std::io::Result<Vec<_>>>()?;
    Ok(OwnFlight {
        priority: Priority(s.priority),
        state: state(&s.state)?,
        volumes: volumes_in(&s.volumes, "volumes", MAX_VERTICES).map_err(|e| bad(&e))?,
        off_nominal: volumes_in(&s.off_nominal_volumes, "off_nominal_volumes", MAX_VERTICES)
            .map_err(|e| bad(&e))?,
        published: s
            .published
            .as_ref()
            .map(|p| published_in(p, "published", MAX_VERTICES))
            .transpose()
            .map_err(|e| bad(&e))?,
        nonconforming_since: s
            .nonconforming_since
            .map(|t| parse_time(&t))
            .transpose()
            .map_err(|e| bad(&e))?,
        telemetry: s.telemetry.as_ref().map(telemetry_in).transpose().map_err(|e| bad(&e))?,
        alerts: s.alerts,
        history,
        operator: s.operator,
    })
}

/// The write that saves flight `id` as `flight` is (`None`: forgotten).
pub(crate) fn flight_write(id: EntityId, flight: Option<&OwnFlight>) -> Result<Write, StoreError> {
    write(Table::Flights, id.to_string(), flight.map(stored).as_ref())
}

/// This USS's flights as `store` holds them.
pub(crate) fn load_flights(store: &dyn UssStore) -> std::io::Result<HashMap<EntityId, OwnFlight>> {
    load::<StoredFlight>(store, Table::Flights)?
        .into_iter()
        .map(|(id, s)| Ok((entity_id(Table::Flights, &id)?, restore(&id, s)?)))
        .collect()
}

/// The zones this USS manages as `store` holds them.
pub(crate) fn load_zones(store: &dyn UssStore) -> std::io::Result<HashMap<EntityId, OwnZone>> {
    load::<Constraint>(store, Table::Zones)?
        .into_iter()
        .map(|(id, c)| {
            let zone =
                own_zone_in(&c, "constraint", MAX_VERTICES).map_err(|e| invalid(Table::Zones, &id, e))?;
            Ok((entity_id(Table::Zones, &id)?, zone))
        })
        .collect()
}

/// An imported geographical zone data set as stored: the text the authority gave, which is read again on load,
/// so the record keeps everything the file said (including what the model does not use).
#[derive(Serialize, Deserialize)]
pub(crate) struct StoredZoneSet {
    pub(crate) text: String,
    /// Whether this USS publishes the set's prohibited zones as constraints.
    pub(crate) publish: bool,
    /// The URL this USS downloaded the set from; absent from an authority's upload and from records written
    /// before sets could be downloaded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) origin: Option<String>,
}

/// The geographical zone data sets imported into this USS as `store` holds them, by name.
pub(crate) fn load_zone_sets(store: &dyn UssStore) -> std::io::Result<BTreeMap<String, ZoneSet>> {
    load::<StoredZoneSet>(store, Table::Geozones)?
        .into_iter()
        .map(|(name, s)| {
            let (_, data) =
                entente_geozones::parse(&s.text).map_err(|e| invalid(Table::Geozones, &name, e))?;
            Ok((name, ZoneSet { data, publish: s.publish, source: s.text, origin: s.origin }))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use chrono::{DateTime, Utc};
    use entente_dss::EntityId;
    use entente_uss::geoawareness::prohibited;
    use entente_uss::service::{OwnZone, ZoneRef};
    use entente_uss::store::{MemoryStore, Record, Table, UssStore, Write};
    use entente_uss::{FlightState, Reason, record_change};
    use entente_wire::uss_core::own_zone_out;

    use super::{StoredZoneSet, flight_write, load_flights, load_zone_sets, load_zones};

    /// A flight as a USS wrote it before flights kept a history or their planner.
    const OLD_FLIGHT: &str = r#"{"priority":3,"state":"Accepted","volumes":[{"volume":{"outline_circle":{"center":{"lat":46.5,"lng":6.6},"radius":{"value":300.0,"units":"M"}},"altitude_lower":{"value":0.0,"reference":"W84","units":"M"},"altitude_upper":{"value":120.0,"reference":"W84","units":"M"}},"time_start":{"value":"2030-01-01T12:00:00Z","format":"RFC3339"},"time_end":{"value":"2030-01-01T13:00:00Z","format":"RFC3339"}}],"off_nominal_volumes":[],"published":null,"nonconforming_since":null,"telemetry":null}"#;
    const OLD_ID: &str = "6f1e6c7c-3b1a-4c39-9a43-2d6a1b0f7a11";

    fn store_with(id: &str, record: Record) -> Result<MemoryStore, Box<dyn std::error::Error>> {
        let store = MemoryStore::default();
        let write =
            entente_uss::store::Write { table: Table::Flights, id: id.to_owned(), record: Some(record) };
        store.submit(vec![write]).try_recv()??;
        Ok(store)
    }

    #[test]
    fn old_flights_load_and_histories_survive_a_reload() -> Result<(), Box<dyn std::error::Error>> {
        let store = store_with(OLD_ID, Record { format: 1, bytes: OLD_FLIGHT.as_bytes().to_vec() })?;
        let mut flights = load_flights(&store)?;
        let id = EntityId::parse(OLD_ID).ok_or("id")?;
        let flight = flights.get_mut(&id).ok_or("the old flight")?;
        assert_eq!((flight.state, flight.priority.0), (FlightState::Accepted, 3));
        assert!(flight.history.is_empty() && flight.operator.is_none());

        let at: DateTime<Utc> = "2030-01-01T11:00:00.5Z".parse()?;
        record_change(&mut flight.history, at, FlightState::Accepted, &Reason::Planned);
        flight.operator = Some("pilot".to_owned());
        store.submit(vec![flight_write(id, Some(flight))?]).try_recv()??;
        let again = load_flights(&store)?;
        let flight = again.get(&id).ok_or("the flight again")?;
        assert_eq!(flight.history, flights[&id].history);
        assert_eq!(flight.operator.as_deref(), Some("pilot"));
        Ok(())
    }

    #[test]
    fn a_record_of_another_format_is_refused_by_name() -> Result<(), Box<dyn std::error::Error>> {
        let store = store_with(OLD_ID, Record { format: 2, bytes: OLD_FLIGHT.as_bytes().to_vec() })?;
        let err = load_flights(&store).err().ok_or("a format-2 flight loaded")?;
        assert_eq!(err.to_string(), format!("flights record {OLD_ID}: format 2 (this USS reads format 1)"));
        Ok(())
    }

    /// A data set's constraint as this USS saves it reads back as the same domain value, so a re-import after a
    /// restart finds its zones unchanged rather than writing them again.
    #[test]
    fn a_zone_constraint_reads_back_as_it_was_saved() -> Result<(), Box<dyn std::error::Error>> {
        let text = r#"{"type": "FeatureCollection", "features": [{"type": "Feature",
            "geometry": {"type": "Polygon", "coordinates": [[[6.61, 46.51], [6.63, 46.512], [6.62, 46.53], [6.61, 46.51]]],
                "layer": {"upper": 123.4, "upperReference": "AMSL", "lower": 0, "lowerReference": "AMSL", "uom": "m"}},
            "properties": {"identifier": "P", "country": "CHE", "type": "PROHIBITED", "variant": "COMMON",
                "name": [{"text": "P", "lang": "en"}], "reason": ["AIR_TRAFFIC"],
                "message": [{"text": "no", "lang": "en"}], "limitedApplicability": [{}]}}]}"#;
        let (_, data) = entente_geozones::parse(text)?;
        let from: DateTime<Utc> = "2030-01-01T00:00:00Z".parse()?;
        let wanted = prohibited(
            "uss1",
            "che",
            &data,
            (from, from + chrono::Duration::days(7)),
            &entente_geozones::NoTerrain,
        )?;
        let reference = ZoneRef {
            id: wanted[0].id.to_string(),
            manager: "uss1".into(),
            ovn: Some("ovn".into()),
            version: 1,
            uss_base_url: "http://uss1".into(),
            availability: entente_dss::Availability::Normal,
        };
        let zone = OwnZone { reference, volumes: wanted[0].volumes.clone(), kind: Some("prohibited".into()) };
        let store = MemoryStore::default();
        let write = super::write(Table::Zones, zone.reference.id.clone(), Some(&own_zone_out(&zone)))?;
        store.submit(vec![write]).try_recv()??;
        assert_eq!(load_zones(&store)?.get(&wanted[0].id), Some(&zone));
        Ok(())
    }

    /// A data set's record as written before sets could be downloaded (its text and `publish` only) loads with no
    /// origin; one downloaded keeps its URL across a reload, so a repeated request from the same source is known.
    #[test]
    fn zone_set_records_old_and_downloaded_load() -> Result<(), Box<dyn std::error::Error>> {
        let text = r#"{"type": "FeatureCollection", "features": []}"#;
        let old = serde_json::json!({"text": text, "publish": true}).to_string();
        let store = MemoryStore::default();
        let record = Record { format: 1, bytes: old.into_bytes() };
        let write = Write { table: Table::Geozones, id: "che".to_owned(), record: Some(record) };
        store.submit(vec![write]).try_recv()??;
        let url = "https://caa.example/zones.json";
        let stored = StoredZoneSet { text: text.to_owned(), publish: true, origin: Some(url.to_owned()) };
        store.submit(vec![super::write(Table::Geozones, "dl".to_owned(), Some(&stored))?]).try_recv()??;
        let sets = load_zone_sets(&store)?;
        assert_eq!((sets["che"].origin.as_deref(), sets["che"].publish), (None, true));
        assert_eq!(sets["dl"].origin.as_deref(), Some(url));
        Ok(())
    }

    /// The journals of a real run (the fixtures of the store that migrates them), migrated and read back as this
    /// USS's flights and zones.
    #[test]
    fn migrated_journals_load_as_flights_with_their_history_and_zones()
    -> Result<(), Box<dyn std::error::Error>> {
        let fixtures =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../entente-store/tests/fixtures/uss-journals-v1");
        let dir = tempfile::tempdir()?;
        for name in ["flights.jsonl", "constraints.jsonl"] {
            std::fs::copy(fixtures.join(name), dir.path().join(name))?;
        }
        let store = entente_store::UssRedbStore::open(dir.path())?;
        let flights = load_flights(&store)?;
        let ended = &flights[&EntityId::parse("8009d063-21e8-4f79-8a15-e60681bad8e0").ok_or("id")?];
        assert_eq!(ended.state, FlightState::Ended);
        let states: Vec<FlightState> = ended.history.iter().map(|c| c.state).collect();
        use FlightState::*;
        assert_eq!(states, [Accepted, Activated, Contingent, Ended]);
        assert!(ended.history[1].reason.contains("before its planned start"), "{:?}", ended.history[1]);
        assert_eq!(ended.operator.as_deref(), Some("north-uss"));
        let flying = &flights[&EntityId::parse("6b03c87a-d6e4-4c00-946b-e476ea030587").ok_or("id")?];
        assert_eq!((flying.state, flying.priority.0, flying.volumes.len()), (Activated, 10, 1));
        assert!(flying.published.is_some());
        assert_eq!(flights.len(), 3);
        let zones = load_zones(&store)?;
        assert_eq!(zones.len(), 2);
        Ok(())
    }
}
