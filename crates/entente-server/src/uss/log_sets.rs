//! F3548's log set (`GET /uss/v1/log_sets/{log_set_id}`): the exchanges, planning attempts, operator
//! notifications and positions this USS's audit chain proves, served only after the chain verifies. Log set ids
//! are `all` or a time range `START..END` (RFC 3339).

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use chrono::{DateTime, Utc};
use entente_dss::{DssError, StoreError};
use entente_uss::{AuditRecord, Direction, Entry, EventKind, Exchange};
use entente_wire::scd::ExchangeRecord;
use entente_wire::uss::{OperationalIntentPositions, PositionRecord, UssLogSet, VehicleTelemetry};
use entente_wire::{Time, parse_rfc3339, time_out};
use serde::{Deserialize, Serialize};

use super::UssState;
use super::authority::AUTHORITY_SCOPE;
use crate::error::ApiError;
use crate::extract::Auth;
use crate::routes::Routes;

pub(crate) fn routes() -> Routes<Arc<UssState>> {
    Routes::new().get("/uss/v1/log_sets/{log_set_id}", log_set)
}

/// One position as recorded: the flight's operational intent and F3548's PositionRecord.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct PositionNote {
    pub operational_intent_id: String,
    pub time_received: Time,
    pub telemetry: VehicleTelemetry,
}

/// Which records a log set id names: all of them, or those whose exchange began within a closed time range.
#[derive(Debug, PartialEq)]
enum Selection {
    All,
    Between(DateTime<Utc>, DateTime<Utc>),
}

fn selection(id: &str) -> Result<Selection, ApiError> {
    if id == "all" {
        return Ok(Selection::All);
    }
    let Some((start, end)) = id.split_once("..") else {
        return Err(ApiError::NotFound(format!(
            "log set {id:?}: no such log set; ids are \"all\" or \"START..END\" with RFC 3339 times"
        )));
    };
    let time = |t: &str, which: &str| parse_rfc3339(t, &format!("log_set_id: the {which} of the range"));
    let (start, end) = (time(start, "start")?, time(end, "end")?);
    if start > end {
        return Err(ApiError::bad("log_set_id: the start of the range must not be after its end"));
    }
    Ok(Selection::Between(start, end))
}

/// `identity` is this USS's, the source of the requests it made; a peer's call came from that peer.
fn message(e: &Exchange, identity: &str) -> ExchangeRecord {
    ExchangeRecord {
        url: e.url.clone(),
        method: e.method.clone(),
        headers: None,
        recorder_role: match e.direction {
            Direction::Outgoing => "Client",
            Direction::Incoming => "Server",
        }
        .to_owned(),
        request_time: time_out(e.time),
        request_body: None,
        response_time: None,
        response_body: None,
        response_code: e.status.map(i32::from),
        problem: e.status.is_none().then(|| "no response was received".to_owned()),
        request_source: Some(match e.direction {
            Direction::Outgoing => identity.to_owned(),
            Direction::Incoming => e.peer.clone(),
        }),
    }
}

/// The exchanges of the log set, as the verified audit chain records them: URL, method, this USS's role, when
/// the request began and the status answered (or that none came). Bodies and headers are not kept (the chain
/// holds their hashes), so they are left out.
#[utoipa::path(get, path = "/uss/v1/log_sets/{log_set_id}", tag = "F3548 USS-USS",
    params(("log_set_id" = String, Path, description = "\"all\", or \"START..END\" with RFC 3339 times")),
    responses((status = 200, description = "The log set", body = UssLogSet),
        (status = 400, description = "A time range that does not parse", body = entente_wire::ErrorResponse),
        crate::responses::Unauthorized,
        crate::responses::NotAuthority,
        (status = 404, description = "No such log set", body = entente_wire::ErrorResponse),
        (status = 503, description = "The audit log cannot be read or does not verify", body = entente_wire::ErrorResponse)))]
pub(crate) async fn log_set(
    State(st): State<Arc<UssState>>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Json<UssLogSet>, ApiError> {
    auth.require(AUTHORITY_SCOPE)?;
    let selection = selection(&id)?;
    let audit = st.audit.clone();
    let records = tokio::task::spawn_blocking(move || audit.verified_records())
        .await
        .map_err(|e| ApiError::Dss(DssError::Store(StoreError::Io(e.to_string()))))?
        .map_err(|e| ApiError::Dss(DssError::Store(StoreError::Corrupt(format!("audit log: {e:#}")))))?;
    let selected = records.iter().filter(|r| match selection {
        Selection::All => true,
        Selection::Between(start, end) => (start..=end).contains(&r.entry.time()),
    });
    let mut set = UssLogSet {
        messages: Vec::new(),
        operator_notifications: Vec::new(),
        operator_inputs: Vec::new(),
        operator_associations: Vec::new(),
        planning_attempts: Vec::new(),
        operational_intent_positions: Vec::new(),
        constraint_provider_associations: Vec::new(),
    };
    for record in selected {
        add(&mut set, record, &st.config.identity)?;
    }
    Ok(Json(set))
}

/// Adds one verified record to the set it belongs in. A payload that does not parse was written by this USS and
/// verified since, so it can only come from a different version of it: that is reported, never skipped.
fn add(set: &mut UssLogSet, record: &AuditRecord, identity: &str) -> Result<(), ApiError> {
    let event = match &record.entry {
        Entry::Exchange(e) => {
            set.messages.push(message(e, identity));
            return Ok(());
        }
        Entry::Event(event) => event,
    };
    let unreadable = |e: serde_json::Error| {
        ApiError::Dss(DssError::Store(StoreError::Corrupt(format!(
            "audit log record {}: its {} does not read: {e}",
            record.seq,
            event.kind.as_str()
        ))))
    };
    match event.kind {
        EventKind::PlanningAttempt => {
            set.planning_attempts.push(serde_json::from_str(&event.payload).map_err(unreadable)?);
        }
        EventKind::OperatorNotification => {
            set.operator_notifications.push(serde_json::from_str(&event.payload).map_err(unreadable)?);
        }
        EventKind::Position => {
            let note: PositionNote = serde_json::from_str(&event.payload).map_err(unreadable)?;
            let position = PositionRecord { time_received: note.time_received, telemetry: note.telemetry };
            match set
                .operational_intent_positions
                .iter_mut()
                .find(|p| p.operational_intent_id == note.operational_intent_id)
            {
                Some(positions) => positions.positions.push(position),
                None => set.operational_intent_positions.push(OperationalIntentPositions {
                    operational_intent_id: note.operational_intent_id,
                    positions: vec![position],
                }),
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::{Selection, selection};
    use crate::error::ApiError;

    #[test]
    fn log_set_ids_name_everything_or_a_time_range() {
        assert_eq!(selection("all").unwrap(), Selection::All);
        let t = |h| Utc.with_ymd_and_hms(2026, 1, 7, h, 0, 0).single().unwrap();
        assert_eq!(
            selection("2026-01-07T10:00:00Z..2026-01-07T11:00:00+00:00").unwrap(),
            Selection::Between(t(10), t(11))
        );
        assert!(matches!(selection("com.example.incident.20200107.v4"), Err(ApiError::NotFound(_))));
        let bad = selection("2026-01-07T10:00:00Z..noon").unwrap_err();
        assert!(matches!(&bad, ApiError::Wire(e) if e.path().contains("end")), "{bad}");
        let reversed = selection("2026-01-07T11:00:00Z..2026-01-07T10:00:00Z").unwrap_err();
        assert!(matches!(reversed, ApiError::BadRequest(_)));
    }
}
