//! This USS's calls to the DSS's F3548 API, reusing the DSS's own wire types.

use entente_dss::Scope;
use entente_wire::scd::{
    AirspaceConflictResponse, ChangeConstraintReferenceResponse, ChangeOperationalIntentReferenceResponse,
    ConstraintReference, ErrorReport, ExchangeRecord, OperationalIntentReference,
    PutConstraintReferenceParameters, PutOperationalIntentReferenceParameters,
    QueryConstraintReferencesResponse, QueryOperationalIntentReferenceResponse, QueryRequest,
    SetUssAvailabilityStatusParameters, UssAvailabilityState, UssAvailabilityStatusResponse,
};
use entente_wire::{ErrorResponse, Volume4D};
use reqwest::Method;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::Links;
use super::client::Reply;
use crate::error::ApiError;
use crate::scd::{AA, CM, CP, SC};

/// The DSS's answer to a write: done, or refused for a key that misses these intents and constraints.
pub(crate) enum PutOutcome {
    Done(Box<ChangeOperationalIntentReferenceResponse>),
    Missing { intents: Vec<OperationalIntentReference>, constraints: Vec<ConstraintReference> },
}

pub(crate) async fn query_intents(
    st: &Links,
    area: Volume4D,
) -> Result<Vec<OperationalIntentReference>, ApiError> {
    let body = QueryRequest { area_of_interest: Some(area) };
    let found: QueryOperationalIntentReferenceResponse =
        call(st, Method::POST, "/dss/v1/operational_intent_references/query", &[SC], Some(&body)).await?;
    Ok(found.operational_intent_references)
}

pub(crate) async fn put_intent(
    st: &Links,
    id: &str,
    ovn: Option<&str>,
    params: &PutOperationalIntentReferenceParameters,
    scopes: &[Scope],
) -> Result<PutOutcome, ApiError> {
    let base = format!("{}/dss/v1/operational_intent_references/{id}", st.config.dss_url);
    let url = ovn.map_or_else(|| base.clone(), |ovn| format!("{base}/{ovn}"));
    let reply = st.client.send(Method::PUT, &url, scopes, Some(params), st.config.dss_timeout).await?;
    match reply.status {
        200 | 201 => Ok(PutOutcome::Done(Box::new(reply.json()?))),
        409 => {
            // A stale OVN is a 409 too, with nothing missing: nothing to fetch, so it is passed on.
            let conflict: AirspaceConflictResponse = reply.json()?;
            if conflict.missing_operational_intents.is_empty() && conflict.missing_constraints.is_empty() {
                Err(reply.unexpected())
            } else {
                Ok(PutOutcome::Missing {
                    intents: conflict.missing_operational_intents,
                    constraints: conflict.missing_constraints,
                })
            }
        }
        // The arbiter declared this USS Down: the DSS refuses its nominal intents, a decision and not a fault.
        412 => Err(ApiError::PreconditionFailed(format!(
            "the DSS refuses to plan for this USS: {}",
            String::from_utf8_lossy(&reply.body).chars().take(300).collect::<String>()
        ))),
        _ => Err(refusal(&reply)),
    }
}

/// The error for a DSS answer that is not a success. A 400 or 413 refuses what the caller of this USS asked for
/// (the volumes are checked here first with the default limits, but a DSS may be stricter), so the caller gets the
/// same status naming the DSS's reason; anything else is the DSS failing this USS (502).
fn refusal(reply: &Reply) -> ApiError {
    let reason = || {
        serde_json::from_slice::<ErrorResponse>(&reply.body)
            .map(|e| e.message)
            .unwrap_or_else(|_| String::from_utf8_lossy(&reply.body).chars().take(300).collect())
    };
    match reply.status {
        400 => ApiError::BadRequest(format!("the DSS refused the request: {}", reason())),
        413 => ApiError::PayloadTooLarge(format!("the DSS refused the request as too large: {}", reason())),
        _ => reply.unexpected(),
    }
}

/// Sends one call and reads a 200 or 201 answer; anything else is passed on as the DSS's refusal.
async fn call<T: DeserializeOwned>(
    st: &Links,
    method: Method,
    path: &str,
    scopes: &[Scope],
    body: Option<&impl Serialize>,
) -> Result<T, ApiError> {
    let url = format!("{}{path}", st.config.dss_url);
    let reply = st.client.send(method, &url, scopes, body, st.config.dss_timeout).await?;
    if !matches!(reply.status, 200 | 201) {
        return Err(refusal(&reply));
    }
    reply.json()
}

pub(crate) async fn query_constraints(
    st: &Links,
    area: Volume4D,
) -> Result<Vec<ConstraintReference>, ApiError> {
    let body = QueryRequest { area_of_interest: Some(area) };
    let found: QueryConstraintReferencesResponse =
        call(st, Method::POST, "/dss/v1/constraint_references/query", &[CP], Some(&body)).await?;
    Ok(found.constraint_references)
}

/// Creates constraint `id` (`ovn` `None`) or replaces its version `ovn`.
pub(crate) async fn put_constraint(
    st: &Links,
    id: &str,
    ovn: Option<&str>,
    params: &PutConstraintReferenceParameters,
) -> Result<ChangeConstraintReferenceResponse, ApiError> {
    let path = match ovn {
        None => format!("/dss/v1/constraint_references/{id}"),
        Some(ovn) => format!("/dss/v1/constraint_references/{id}/{ovn}"),
    };
    call(st, Method::PUT, &path, &[CM], Some(params)).await
}

pub(crate) async fn delete_constraint(
    st: &Links,
    id: &str,
    ovn: &str,
) -> Result<ChangeConstraintReferenceResponse, ApiError> {
    call(st, Method::DELETE, &format!("/dss/v1/constraint_references/{id}/{ovn}"), &[CM], None::<&()>).await
}

/// Files a report of a failed exchange with the DSS, as F3548 asks of a USS that could not reach a peer.
pub(crate) async fn report(st: &Links, exchange: ExchangeRecord) -> Result<ErrorReport, ApiError> {
    let body = ErrorReport { report_id: None, exchange };
    call(st, Method::POST, "/dss/v1/reports", &[SC], Some(&body)).await
}

/// Read-modify-write of a USS's availability, as F3548 asks of an arbiter.
pub(crate) async fn set_availability(
    st: &Links,
    uss: &str,
    availability: UssAvailabilityState,
) -> Result<UssAvailabilityStatusResponse, ApiError> {
    let path = format!("/dss/v1/uss_availability/{uss}");
    let current: UssAvailabilityStatusResponse = call(st, Method::GET, &path, &[AA], None::<&()>).await?;
    let params = SetUssAvailabilityStatusParameters { old_version: Some(current.version), availability };
    call(st, Method::PUT, &path, &[AA], Some(&params)).await
}

/// Deletes an intent's reference; `None` when the DSS no longer holds it (removed by whoever else holds this
/// USS's credentials, or lost with a DSS's state), which leaves nothing to delete and nobody to notify.
pub(crate) async fn delete_intent(
    st: &Links,
    id: &str,
    ovn: &str,
) -> Result<Option<ChangeOperationalIntentReferenceResponse>, ApiError> {
    let url = format!("{}/dss/v1/operational_intent_references/{id}/{ovn}", st.config.dss_url);
    let reply = st.client.send(Method::DELETE, &url, &[SC], None::<&()>, st.config.dss_timeout).await?;
    match reply.status {
        200 => Ok(Some(reply.json()?)),
        404 => Ok(None),
        _ => Err(reply.unexpected()),
    }
}
