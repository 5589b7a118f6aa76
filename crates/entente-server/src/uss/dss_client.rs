//! This USS's calls to the DSS's F3548 API, reusing the DSS's own wire types.

use reqwest::Method;

use super::UssState;
use crate::error::{AirspaceConflictResponse, ApiError};
use crate::scd::types::{
    ChangeOperationalIntentReferenceResponse, OperationalIntentReference,
    PutOperationalIntentReferenceParameters, QueryOperationalIntentReferenceResponse, QueryRequest,
};
use crate::wire::Volume4D;

pub(crate) const SC: &str = "utm.strategic_coordination";
pub(crate) const CMSA: &str = "utm.conformance_monitoring_sa";

/// The DSS's answer to a write: done, or refused for a key that misses these intents.
pub(crate) enum PutOutcome {
    Done(Box<ChangeOperationalIntentReferenceResponse>),
    MissingIntents(Vec<OperationalIntentReference>),
}

pub(crate) async fn query_intents(
    st: &UssState,
    area: Volume4D,
) -> Result<Vec<OperationalIntentReference>, ApiError> {
    let url = format!("{}/dss/v1/operational_intent_references/query", st.config.dss_url);
    let body = QueryRequest { area_of_interest: Some(area) };
    let reply = st.client.send(Method::POST, &url, SC, Some(&body), st.config.dss_timeout).await?;
    if reply.status != 200 {
        return Err(reply.unexpected());
    }
    Ok(reply.json::<QueryOperationalIntentReferenceResponse>()?.operational_intent_references)
}

pub(crate) async fn put_intent(
    st: &UssState,
    id: &str,
    ovn: Option<&str>,
    params: &PutOperationalIntentReferenceParameters,
    scope: &str,
) -> Result<PutOutcome, ApiError> {
    let base = format!("{}/dss/v1/operational_intent_references/{id}", st.config.dss_url);
    let url = ovn.map_or_else(|| base.clone(), |ovn| format!("{base}/{ovn}"));
    let reply = st.client.send(Method::PUT, &url, scope, Some(params), st.config.dss_timeout).await?;
    match reply.status {
        200 | 201 => Ok(PutOutcome::Done(Box::new(reply.json()?))),
        409 => {
            // A stale OVN is a 409 too, with no missing intents: nothing to fetch, so it is passed on.
            let conflict: AirspaceConflictResponse = reply.json()?;
            if conflict.missing_operational_intents.is_empty() {
                Err(reply.unexpected())
            } else {
                Ok(PutOutcome::MissingIntents(conflict.missing_operational_intents))
            }
        }
        _ => Err(reply.unexpected()),
    }
}

pub(crate) async fn delete_intent(
    st: &UssState,
    id: &str,
    ovn: &str,
) -> Result<ChangeOperationalIntentReferenceResponse, ApiError> {
    let url = format!("{}/dss/v1/operational_intent_references/{id}/{ovn}", st.config.dss_url);
    let reply = st.client.send(Method::DELETE, &url, SC, None::<&()>, st.config.dss_timeout).await?;
    if reply.status != 200 {
        return Err(reply.unexpected());
    }
    reply.json()
}
