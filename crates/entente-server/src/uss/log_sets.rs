//! F3548's log set (`GET /uss/v1/log_sets/{log_set_id}`): the exchanges this USS's audit chain proves, served
//! only after the chain verifies. Log set ids are `all` or a time range `START..END` (RFC 3339).

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::routing::get;
use chrono::{DateTime, Utc};
use entente_dss::{DssError, StoreError};
use entente_uss::{AuditRecord, Direction};
use serde::Serialize;
use utoipa::ToSchema;

use super::UssState;
use super::authority::AUTHORITY_SCOPE;
use crate::error::ApiError;
use crate::extract::Auth;
use crate::scd::types::ExchangeRecord;
use crate::wire::time_out;

pub(crate) fn routes() -> Router<Arc<UssState>> {
    Router::new().route("/uss/v1/log_sets/{log_set_id}", get(log_set))
}

/// F3548's USSLogSet. Only `messages` comes from the audit chain; the other kinds of record are not kept by
/// this USS, so they are served empty rather than made up.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct UssLogSet {
    pub messages: Vec<ExchangeRecord>,
    #[schema(value_type = Vec<Object>)]
    pub operator_notifications: Vec<serde_json::Value>,
    #[schema(value_type = Vec<Object>)]
    pub operator_inputs: Vec<serde_json::Value>,
    #[schema(value_type = Vec<Object>)]
    pub operator_associations: Vec<serde_json::Value>,
    #[schema(value_type = Vec<Object>)]
    pub planning_attempts: Vec<serde_json::Value>,
    #[schema(value_type = Vec<Object>)]
    pub operational_intent_positions: Vec<serde_json::Value>,
    #[schema(value_type = Vec<Object>)]
    pub constraint_provider_associations: Vec<serde_json::Value>,
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
    let time = |t: &str, which: &str| {
        DateTime::parse_from_rfc3339(t).map(|t| t.with_timezone(&Utc)).map_err(|e| {
            ApiError::bad(format!(
                "log_set_id: the {which} of the range, {t:?}, is not an RFC 3339 time: {e}"
            ))
        })
    };
    let (start, end) = (time(start, "start")?, time(end, "end")?);
    if start > end {
        return Err(ApiError::bad("log_set_id: the start of the range must not be after its end"));
    }
    Ok(Selection::Between(start, end))
}

fn message(r: &AuditRecord) -> ExchangeRecord {
    let e = &r.exchange;
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
    }
}

/// The exchanges of the log set, as the verified audit chain records them: URL, method, this USS's role, when
/// the request began and the status answered (or that none came). Bodies and headers are not kept (the chain
/// holds their hashes), so they are left out.
#[utoipa::path(get, path = "/uss/v1/log_sets/{log_set_id}", tag = "F3548 USS-USS",
    params(("log_set_id" = String, Path, description = "\"all\", or \"START..END\" with RFC 3339 times")),
    responses((status = 200, description = "The log set", body = UssLogSet),
        (status = 400, description = "A time range that does not parse", body = crate::wire::ErrorResponse),
        (status = 401, description = "Missing or invalid access token", body = crate::wire::ErrorResponse),
        (status = 403, description = "The token lacks the entente.authority scope", body = crate::wire::ErrorResponse),
        (status = 404, description = "No such log set", body = crate::wire::ErrorResponse),
        (status = 503, description = "The audit log cannot be read or does not verify", body = crate::wire::ErrorResponse)))]
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
    let messages = records
        .iter()
        .filter(|r| match selection {
            Selection::All => true,
            Selection::Between(start, end) => (start..=end).contains(&r.exchange.time),
        })
        .map(message)
        .collect();
    Ok(Json(UssLogSet {
        messages,
        operator_notifications: Vec::new(),
        operator_inputs: Vec::new(),
        operator_associations: Vec::new(),
        planning_attempts: Vec::new(),
        operational_intent_positions: Vec::new(),
        constraint_provider_associations: Vec::new(),
    }))
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
        assert!(matches!(&bad, ApiError::BadRequest(m) if m.contains("end")), "{bad}");
        let reversed = selection("2026-01-07T11:00:00Z..2026-01-07T10:00:00Z").unwrap_err();
        assert!(matches!(reversed, ApiError::BadRequest(_)));
    }
}
