//! The authority roles a USS can serve: restricted zones (F3548 constraints with their time windows) managed
//! for an authority, which the core writes, serves and lifts, and arbitration of USS availability at the DSS.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use entente_wire::authority::{AvailabilityRequest, ConstraintList, ConstraintRequest};
use entente_wire::scd::UssAvailabilityStatusResponse;
use entente_wire::uss::Constraint;
use entente_wire::uss_core::own_zone_out;

use super::operator::{filters, in_window, window};
use super::{UssState, dss_client, input};
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
    let zone = st.core.publish_constraint(id, volumes, req.kind).await?;
    Ok((StatusCode::CREATED, Json(own_zone_out(&zone))))
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
    let mut found: Vec<_> = st
        .core
        .own_zones()
        .into_values()
        .filter_map(|z| in_window(&z.volumes, &window).map(|start| (start, z)))
        .collect();
    found.sort_by(|a, b| (a.0, &a.1.reference.id).cmp(&(b.0, &b.1.reference.id)));
    Ok(Json(ConstraintList { constraints: found.iter().map(|(_, z)| own_zone_out(z)).collect() }))
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
    let id = entity_id(&id, "id")?;
    Ok(Json(own_zone_out(&st.core.withdraw_constraint(id).await?)))
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
