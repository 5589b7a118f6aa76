//! The USS-USS API of F3548-21 (section B) that peers call under this USS's base URL.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use entente_uss::UssError;
use entente_uss::store::Table;
use entente_wire::scd::ErrorReport;
use entente_wire::uss::{
    GetConstraintDetailsResponse, GetOperationalIntentDetailsResponse, GetOperationalIntentTelemetryResponse,
    PutConstraintDetailsParameters, PutOperationalIntentDetailsParameters,
};
use entente_wire::uss_core::{own_zone_out, published_in, published_out, telemetry_out};
use entente_wire::{time_out, volumes_in};
use serde::{Deserialize, Serialize};

use super::peers::{self, remember};
use super::{MAX_VERTICES, UssState};
use crate::error::ApiError;
use crate::extract::{Auth, Body, entity_id};
use crate::routes::Routes;
use crate::scd::{AA, CM, CMSA, CP, SC};

type AppRef = State<Arc<UssState>>;

pub(crate) fn routes() -> Routes<Arc<UssState>> {
    Routes::new()
        .post("/uss/v1/operational_intents", notified_intent)
        .get("/uss/v1/operational_intents/{entityid}", intent_details)
        .get("/uss/v1/operational_intents/{entityid}/telemetry", intent_telemetry)
        .post("/uss/v1/constraints", notified_constraint)
        .get("/uss/v1/constraints/{entityid}", constraint_details)
        .post("/uss/v1/reports", report)
}

/// 404 until the DSS confirmed the intent; afterwards the version the DSS last accepted, even while a change
/// is being written.
#[utoipa::path(get, path = "/uss/v1/operational_intents/{entityid}", tag = "F3548 USS-USS", params(("entityid" = String, Path, description = "UUIDv4 of the entity")),
    responses((status = 200, description = "The intent as the DSS last accepted it", body = GetOperationalIntentDetailsResponse), crate::responses::BadRequest, crate::responses::Unauthorized, crate::responses::NotManager, (status = 404, description = "Unknown, or not yet confirmed by the DSS", body = entente_wire::ErrorResponse)))]
pub(crate) async fn intent_details(
    State(st): AppRef,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Json<GetOperationalIntentDetailsResponse>, ApiError> {
    auth.scd(&[&[SC]])?;
    let id = entity_id(&id, "entityid")?;
    let published = st.core.flights.get(id).and_then(|f| f.published);
    let intent =
        published.ok_or_else(|| ApiError::NotFound(format!("operational intent {id}: not found")))?;
    Ok(Json(GetOperationalIntentDetailsResponse { operational_intent: published_out(&intent) }))
}

/// Telemetry is shared only while the flight is off-nominal (409 otherwise), and only once some was reported
/// (412 before).
#[utoipa::path(get, path = "/uss/v1/operational_intents/{entityid}/telemetry", tag = "F3548 USS-USS", params(("entityid" = String, Path, description = "UUIDv4 of the entity")),
    responses((status = 200, description = "The latest telemetry", body = GetOperationalIntentTelemetryResponse), crate::responses::BadRequest, crate::responses::Unauthorized, crate::responses::NotManager, (status = 404, description = "Unknown, or not yet confirmed by the DSS", body = entente_wire::ErrorResponse), (status = 409, description = "Not Nonconforming or Contingent", body = entente_wire::ErrorResponse), (status = 412, description = "No telemetry yet", body = entente_wire::ErrorResponse)))]
pub(crate) async fn intent_telemetry(
    State(st): AppRef,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Json<GetOperationalIntentTelemetryResponse>, ApiError> {
    auth.scd(&[&[CMSA]])?;
    let id = entity_id(&id, "entityid")?;
    let flight = st
        .core
        .flights
        .get(id)
        .filter(|f| f.published.is_some())
        .ok_or_else(|| ApiError::NotFound(format!("operational intent {id}: not found")))?;
    if !flight.state.is_off_nominal() {
        return Err(ApiError::Conflict(format!(
            "operational intent {id} is {}; telemetry is shared only while Nonconforming or Contingent",
            flight.state.name()
        )));
    }
    let telemetry = flight
        .telemetry
        .ok_or_else(|| ApiError::PreconditionFailed(format!("operational intent {id}: no telemetry yet")))?;
    Ok(Json(GetOperationalIntentTelemetryResponse {
        operational_intent_id: id.to_string(),
        telemetry: Some(telemetry_out(&telemetry)),
        next_telemetry_opportunity: None,
    }))
}

/// A peer's intent changed. Only its manager may say so (403), and versions only move forward (409): an older
/// version, or the same one with other content, is refused.
#[utoipa::path(post, path = "/uss/v1/operational_intents", tag = "F3548 USS-USS", request_body = PutOperationalIntentDetailsParameters,
    responses((status = 204, description = "Received"), crate::responses::BadRequest, crate::responses::Unauthorized, crate::responses::NotManager, (status = 409, description = "The version goes backwards", body = entente_wire::ErrorResponse)))]
pub(crate) async fn notified_intent(
    State(st): AppRef,
    auth: Auth,
    body: Body,
) -> Result<StatusCode, ApiError> {
    let caller = auth.scd(&[&[SC]])?;
    let n: PutOperationalIntentDetailsParameters = body.json()?;
    entity_id(&n.operational_intent_id, "operational_intent_id")?;
    if n.subscriptions.is_empty() {
        return Err(ApiError::bad("subscriptions must list at least one subscription"));
    }
    // The alert is decided under the cache's lock and given after it, since saving it waits for the disk.
    let alert = {
        let mut peers = st.peers.lock();
        let cached = peers.get(&n.operational_intent_id);
        match n.operational_intent {
            Some(intent) => {
                let r = &intent.reference;
                if r.id != n.operational_intent_id {
                    return Err(ApiError::bad(
                        "operational_intent.reference.id must equal operational_intent_id",
                    ));
                }
                if r.ovn.is_none() {
                    return Err(ApiError::bad(
                        "operational_intent.reference.ovn is required in a notification",
                    ));
                }
                if r.manager != caller.manager {
                    return Err(ApiError::Forbidden(format!(
                        "operational intent {} is managed by {}, not by the sender {}",
                        r.id, r.manager, caller.manager
                    )));
                }
                if let Some(old) = cached {
                    let same = old.reference.ovn == r.ovn && old.details == intent.details;
                    if r.version < old.reference.version || (r.version == old.reference.version && !same) {
                        return Err(ApiError::Conflict(format!(
                            "operational intent {}: version {} is older than, or differs from, the version {} already received",
                            r.id, r.version, old.reference.version
                        )));
                    }
                }
                tracing::debug!(intent = r.id, version = r.version, "peer intent updated");
                // An intent whose volumes cannot be read cannot be checked against anything.
                let alert = published_in(&intent, "operational_intent", MAX_VERTICES).ok();
                remember(&mut peers, intent, st.now());
                alert
            }
            None => {
                if let Some(old) = cached
                    && old.reference.manager != caller.manager
                {
                    return Err(ApiError::Forbidden(format!(
                        "operational intent {} is managed by {}, not by the sender {}",
                        n.operational_intent_id, old.reference.manager, caller.manager
                    )));
                }
                peers.remove(&n.operational_intent_id);
                None
            }
        }
    };
    if let Some(intent) = alert {
        st.core.on_peer_intent(&intent).await;
    }
    Ok(StatusCode::NO_CONTENT)
}

/// The F3548 role this USS plays, as InterUSS's versioning interface names it.
const SYSTEM_IDENTITY: &str = "astm.f3548.v21";

/// InterUSS's versioning interface: the version of this USS's F3548 implementation.
#[utoipa::path(get, path = "/versioning/versions/{system_identity}", tag = "InterUSS extensions",
    params(("system_identity" = String, Path, description = "The system whose version is asked: `astm.f3548.v21`")),
    responses((status = 200, description = "The version of this USS", body = entente_wire::interuss::versioning::SystemVersion), crate::responses::Unauthorized, (status = 403, description = "The token lacks interuss.versioning.read_system_versions", body = entente_wire::ErrorResponse), (status = 404, description = "No such system here", body = entente_wire::ErrorResponse)))]
pub(crate) async fn system_version(
    auth: Auth,
    Path(system_identity): Path<String>,
) -> Result<Json<entente_wire::interuss::versioning::SystemVersion>, ApiError> {
    crate::interuss::versioned(&auth, system_identity, SYSTEM_IDENTITY)
}

/// A constraint changed. Only its manager may say so (403). Operators whose flights it meets are alerted; the
/// constraint itself is not kept, since planning reads constraints afresh from the DSS and their managers.
#[utoipa::path(post, path = "/uss/v1/constraints", tag = "F3548 USS-USS", request_body = PutConstraintDetailsParameters,
    responses((status = 204, description = "Received"),
        crate::responses::BadRequest,
        crate::responses::Unauthorized,
        crate::responses::NotManager))]
pub(crate) async fn notified_constraint(
    State(st): AppRef,
    auth: Auth,
    body: Body,
) -> Result<StatusCode, ApiError> {
    let caller = auth.scd(&[&[CM]])?;
    let n: PutConstraintDetailsParameters = body.json()?;
    entity_id(&n.constraint_id, "constraint_id")?;
    if n.subscriptions.is_empty() {
        return Err(ApiError::bad("subscriptions must list at least one subscription"));
    }
    if let Some(c) = &n.constraint
        && c.reference.manager != caller.manager
    {
        return Err(ApiError::Forbidden(format!(
            "constraint {} is managed by {}, not by the sender {}",
            c.reference.id, c.reference.manager, caller.manager
        )));
    }
    // What the manager tells replaces what this USS knew of the constraint; a deletion forgets it.
    match &n.constraint {
        Some(c) => peers::remember_zone(&mut st.peer_zones.lock(), c.clone(), st.now()),
        None => drop(st.peer_zones.lock().remove(&n.constraint_id)),
    }
    if let Some(c) = &n.constraint
        && let Ok(volumes) = volumes_in(&c.details.volumes, "constraint.details.volumes", MAX_VERTICES)
    {
        let kind = c.details.kind.as_deref().unwrap_or("restricted zone");
        st.core.on_zone(&c.reference.id, &c.reference.manager, kind, &volumes).await;
    }
    Ok(StatusCode::NO_CONTENT)
}

/// The details of a constraint this USS manages for an authority.
#[utoipa::path(get, path = "/uss/v1/constraints/{entityid}", tag = "F3548 USS-USS",
    params(("entityid" = String, Path, description = "UUIDv4 of the entity")),
    responses((status = 200, description = "The constraint", body = GetConstraintDetailsResponse),
        crate::responses::BadRequest,
        crate::responses::Unauthorized,
        (status = 403, description = "The token lacks the scope", body = entente_wire::ErrorResponse),
        (status = 404, description = "Not a constraint this USS manages", body = entente_wire::ErrorResponse)))]
pub(crate) async fn constraint_details(
    State(st): AppRef,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Json<GetConstraintDetailsResponse>, ApiError> {
    auth.scd(&[&[CP]])?;
    let id = entity_id(&id, "entityid")?;
    let zone = st.core.own_zone(id).ok_or(UssError::NoSuchZone(id))?;
    Ok(Json(GetConstraintDetailsResponse { constraint: own_zone_out(&zone) }))
}

/// A report as this USS archived it: who filed it, when, and what it said.
#[derive(Serialize, Deserialize)]
pub(crate) struct ArchivedReport {
    pub received_at: entente_wire::Time,
    pub from: String,
    pub report: ErrorReport,
}

/// Reports are archived (the exchange itself is also in the audit log) before they are acknowledged with an id.
#[utoipa::path(post, path = "/uss/v1/reports", tag = "F3548 USS-USS", request_body = ErrorReport,
    responses((status = 201, description = "Archived, with its id", body = ErrorReport), crate::responses::BadRequest, crate::responses::Unauthorized, crate::responses::NotManager, (status = 503, description = "The report could not be archived", body = entente_wire::ErrorResponse)))]
pub(crate) async fn report(
    State(st): AppRef,
    auth: Auth,
    body: Body,
) -> Result<(StatusCode, Json<ErrorReport>), ApiError> {
    let caller = auth.scd(&[&[SC], &[CM], &[CP], &[CMSA], &[AA]])?;
    let mut report: ErrorReport = body.json()?;
    let report_id = uuid::Uuid::new_v4().to_string();
    report.report_id = Some(report_id.clone());
    tracing::info!(from = caller.manager, report_id, url = report.exchange.url, "report received");
    let archived =
        ArchivedReport { received_at: time_out(st.now()), from: caller.manager, report: report.clone() };
    let write = super::records::write(Table::Reports, report_id, Some(&archived));
    super::saved_by(st.save(write.map(|w| vec![w]))).await.map_err(UssError::Store)?;
    Ok((StatusCode::CREATED, Json(report)))
}
