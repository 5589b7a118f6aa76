//! The authority roles a USS can serve: restricted zones (F3548 constraints with their time windows) managed
//! for an authority, and arbitration of USS availability at the DSS.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use entente_dss::EntityId;
use entente_uss::Volume;
use entente_wire::authority::{AvailabilityRequest, ConstraintList, ConstraintRequest};
use entente_wire::scd::{PutConstraintReferenceParameters, UssAvailabilityStatusResponse};
use entente_wire::uss::{Constraint, ConstraintDetails};
use entente_wire::{volume_out, volumes_in};

use super::operator::{filters, in_window, window};
use super::{Links, MAX_VERTICES, UssState, dss_client, input, peers};
use crate::error::ApiError;
use crate::extract::{Auth, Body, entity_id};
use crate::routes::Routes;

/// The scope of an authority's token; operators' and peers' scopes do not open this API.
pub(crate) const AUTHORITY_SCOPE: &str = "entente.authority";

type AppRef = State<Arc<UssState>>;

pub(crate) fn routes() -> Routes<Arc<UssState>> {
    Routes::new()
        .post("/authority/v1/constraints", create_constraint)
        .get("/authority/v1/constraints", list_constraints)
        .delete("/authority/v1/constraints/{id}", delete_constraint)
        .put("/authority/v1/uss_availability/{uss_id}", set_availability)
}

/// Declares a restricted zone at the DSS, serves its details to peers and tells the subscribers.
#[utoipa::path(post, path = "/authority/v1/constraints", tag = "Authority", request_body = ConstraintRequest,
    responses((status = 201, description = "Declared", body = Constraint),
        crate::responses::BadRequest,
        crate::responses::Unauthorized,
        crate::responses::NotAuthority,
        (status = 413, description = "The DSS refused the area as too large", body = entente_wire::ErrorResponse),
        (status = 502, description = "The DSS could not be reached or failed", body = entente_wire::ErrorResponse)))]
pub(crate) async fn create_constraint(
    State(st): AppRef,
    auth: Auth,
    body: Body,
) -> Result<(StatusCode, Json<Constraint>), ApiError> {
    auth.require(AUTHORITY_SCOPE)?;
    let req: ConstraintRequest = body.json()?;
    let volumes = input::constraint_volumes(&req.volumes, "volumes", &st.config.dss_limits)?;
    input::constraint_type(req.kind.as_deref(), "type")?;
    let id = entity_id(&uuid::Uuid::new_v4().to_string(), "id")?;
    let constraint = publish(&st.links, id, None, &volumes, req.kind).await?;
    Ok((StatusCode::CREATED, Json(constraint)))
}

/// Writes constraint `id` at the DSS (`ovn`: the version it replaces; `None` creates it), serves its details to
/// peers and tells the subscribers: the one way a constraint of this USS comes to be or changes.
pub(super) async fn publish(
    st: &Arc<Links>,
    id: EntityId,
    ovn: Option<&str>,
    volumes: &[Volume],
    kind: Option<String>,
) -> Result<Constraint, ApiError> {
    let extents: Vec<_> = volumes.iter().map(volume_out).collect();
    let params = PutConstraintReferenceParameters {
        extents: extents.clone(),
        uss_base_url: st.config.base_url.clone(),
    };
    let change = dss_client::put_constraint(st, &id.to_string(), ovn, &params).await?;
    let constraint = Constraint {
        reference: change.constraint_reference,
        details: ConstraintDetails { volumes: extents, kind },
    };
    st.change_constraint(id, Some(constraint.clone())).await;
    peers::notify_constraint(st, change.subscribers, &id.to_string(), Some(constraint.clone())).await;
    Ok(constraint)
}

/// Deletes constraint `id` (at version `ovn`) at the DSS, stops serving it and tells the subscribers.
pub(super) async fn withdraw(st: &Arc<Links>, id: EntityId, ovn: &str) -> Result<(), ApiError> {
    let change = dss_client::delete_constraint(st, &id.to_string(), ovn).await?;
    st.change_constraint(id, None).await;
    peers::notify_constraint(st, change.subscribers, &id.to_string(), None).await;
    Ok(())
}

/// The filters of `GET /authority/v1/constraints`, each optional.
#[derive(serde::Deserialize)]
pub(crate) struct ConstraintQuery {
    time_start: Option<String>,
    time_end: Option<String>,
}

/// The restricted zones this USS manages, by start, optionally only those in force at some moment between
/// `time_start` and `time_end`.
#[utoipa::path(get, path = "/authority/v1/constraints", tag = "Authority",
    params(("time_start" = Option<String>, Query, description = "Only zones in force at or after this instant (RFC 3339)"),
        ("time_end" = Option<String>, Query, description = "Only zones in force at or before this instant (RFC 3339)")),
    responses((status = 200, description = "The zones", body = ConstraintList),
        (status = 400, description = "Invalid filter; the message names it and the rule", body = entente_wire::ErrorResponse),
        crate::responses::Unauthorized,
        crate::responses::NotAuthority))]
pub(crate) async fn list_constraints(
    State(st): AppRef,
    auth: Auth,
    query: Result<Query<ConstraintQuery>, QueryRejection>,
) -> Result<Json<ConstraintList>, ApiError> {
    auth.require(AUTHORITY_SCOPE)?;
    let q = filters(query)?;
    let window = window(q.time_start.as_deref(), q.time_end.as_deref())?;
    let all: Vec<Constraint> = st.constraints.lock().values().cloned().collect();
    let mut found = Vec::new();
    for c in all {
        // Validated when declared, so parsing them again cannot fail on the caller's account.
        let volumes = volumes_in(&c.details.volumes, "details.volumes", MAX_VERTICES)?;
        if let Some(start) = in_window(&volumes, &window) {
            found.push((start, c));
        }
    }
    found.sort_by(|a, b| (a.0, &a.1.reference.id).cmp(&(b.0, &b.1.reference.id)));
    Ok(Json(ConstraintList { constraints: found.into_iter().map(|(_, c)| c).collect() }))
}

/// Lifts a restricted zone: deleted at the DSS, no longer served, subscribers told.
#[utoipa::path(delete, path = "/authority/v1/constraints/{id}", tag = "Authority",
    params(("id" = String, Path, description = "UUIDv4 of the constraint")),
    responses((status = 200, description = "Lifted; the constraint as it was", body = Constraint),
        crate::responses::Unauthorized,
        crate::responses::NotAuthority,
        (status = 404, description = "No such constraint", body = entente_wire::ErrorResponse),
        crate::responses::DssFailed))]
pub(crate) async fn delete_constraint(
    State(st): AppRef,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Json<Constraint>, ApiError> {
    auth.require(AUTHORITY_SCOPE)?;
    let id: EntityId = entity_id(&id, "id")?;
    let constraint = st
        .constraints
        .lock()
        .get(&id)
        .cloned()
        .ok_or_else(|| ApiError::NotFound(format!("constraint {id}: not found")))?;
    withdraw(&st.links, id, constraint.reference.ovn.as_deref().unwrap_or_default()).await?;
    Ok(Json(constraint))
}

/// Sets a USS's availability at the DSS, as the arbiter does once a USS stopped answering (or recovered).
#[utoipa::path(put, path = "/authority/v1/uss_availability/{uss_id}", tag = "Authority",
    params(("uss_id" = String, Path, description = "The USS's client id")), request_body = AvailabilityRequest,
    responses((status = 200, description = "Set", body = UssAvailabilityStatusResponse),
        crate::responses::Unauthorized,
        crate::responses::NotAuthority,
        crate::responses::DssFailed))]
pub(crate) async fn set_availability(
    State(st): AppRef,
    auth: Auth,
    Path(uss_id): Path<String>,
    body: Body,
) -> Result<Json<UssAvailabilityStatusResponse>, ApiError> {
    auth.require(AUTHORITY_SCOPE)?;
    let req: AvailabilityRequest = body.json()?;
    tracing::info!(uss = uss_id, availability = ?req.availability, "arbitrating availability");
    Ok(Json(dss_client::set_availability(&st, &uss_id, req.availability).await?))
}
