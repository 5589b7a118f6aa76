//! Calls to peer USSs: details of their intents and constraints, fetched in parallel under a deadline, and
//! notifications of this USS's changes, sent in parallel with retries.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use entente_dss::Scope;
use reqwest::Method;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::task::JoinSet;

use super::UssState;
use super::types::{
    Constraint, GetConstraintDetailsResponse, GetOperationalIntentDetailsResponse, OperationalIntent,
    PutConstraintDetailsParameters, PutOperationalIntentDetailsParameters,
};
use crate::error::ApiError;
use crate::scd::types::{
    ConstraintReference, OperationalIntentReference, SubscriberToNotify, SubscriptionState,
};
use crate::scd::{CM, CP, SC};

/// Runs `call` on every item at once; each item keeps its own outcome, so one peer being down does not hide
/// what the others said.
async fn in_parallel<I, T, Fut>(
    st: &Arc<UssState>,
    items: Vec<I>,
    call: impl Fn(Arc<UssState>, I) -> Fut,
) -> Vec<(I, Result<T, ApiError>)>
where
    Fut: Future<Output = (I, Result<T, ApiError>)> + Send + 'static,
    I: Send + 'static,
    T: Send + 'static,
{
    let mut tasks = JoinSet::new();
    for item in items {
        tasks.spawn(call(st.clone(), item));
    }
    let mut out = Vec::new();
    while let Some(done) = tasks.join_next().await {
        if let Ok(pair) = done {
            out.push(pair);
        }
    }
    out
}

async fn get<T: DeserializeOwned>(st: &UssState, url: &str, scope: Scope) -> Result<T, ApiError> {
    let reply = st.client.send(Method::GET, url, scope, None::<&()>, st.config.peer_timeout).await?;
    if reply.status != 200 {
        return Err(reply.unexpected());
    }
    reply.json()
}

/// The details of every intent reference, from the cache when it holds that version, else from its manager.
pub(crate) async fn details(
    st: &Arc<UssState>,
    refs: Vec<OperationalIntentReference>,
) -> Vec<(OperationalIntentReference, Result<OperationalIntent, ApiError>)> {
    in_parallel(st, refs, |st, r| async move {
        let cached = st.peers.lock().get(&r.id).filter(|c| c.reference.version == r.version).cloned();
        if let Some(intent) = cached {
            return (r, Ok(intent));
        }
        let url = details_url(&r);
        let fetched = get::<GetOperationalIntentDetailsResponse>(&st, &url, SC).await.and_then(|d| {
            let intent = d.operational_intent;
            if intent.reference.id != r.id || intent.reference.ovn.is_none() {
                return Err(ApiError::Upstream(format!(
                    "{url}: the details name another intent or carry no OVN"
                )));
            }
            st.peers.lock().insert(r.id.clone(), intent.clone());
            Ok(intent)
        });
        (r, fetched)
    })
    .await
}

/// Where the manager of `r` serves its details.
pub(crate) fn details_url(r: &OperationalIntentReference) -> String {
    format!("{}/uss/v1/operational_intents/{}", r.uss_base_url.trim_end_matches('/'), r.id)
}

/// The details of every constraint reference, from its manager.
pub(crate) async fn constraint_details(
    st: &Arc<UssState>,
    refs: Vec<ConstraintReference>,
) -> Vec<(ConstraintReference, Result<Constraint, ApiError>)> {
    in_parallel(st, refs, |st, r| async move {
        let url = format!("{}/uss/v1/constraints/{}", r.uss_base_url.trim_end_matches('/'), r.id);
        let fetched = get::<GetConstraintDetailsResponse>(&st, &url, CP).await.map(|d| d.constraint);
        (r, fetched)
    })
    .await
}

/// Tells every subscriber but this USS itself about the intent `id` (`None`: it was deleted).
pub(crate) async fn notify(
    st: &Arc<UssState>,
    subscribers: Vec<SubscriberToNotify>,
    id: &str,
    intent: Option<OperationalIntent>,
) {
    let body = |subscriptions| PutOperationalIntentDetailsParameters {
        operational_intent_id: id.to_owned(),
        operational_intent: intent.clone(),
        subscriptions,
    };
    fan_out(st, subscribers, "/uss/v1/operational_intents", SC, body).await;
}

/// Tells every subscriber about the constraint `id` (`None`: it was deleted).
pub(crate) async fn notify_constraint(
    st: &Arc<UssState>,
    subscribers: Vec<SubscriberToNotify>,
    id: &str,
    constraint: Option<Constraint>,
) {
    let body = |subscriptions| PutConstraintDetailsParameters {
        constraint_id: id.to_owned(),
        constraint: constraint.clone(),
        subscriptions,
    };
    fan_out(st, subscribers, "/uss/v1/constraints", CM, body).await;
}

/// Posts `body` (built from each subscriber's subscriptions) to every subscriber but this USS, retrying transport
/// errors, 429 and 5xx. Waits until every subscriber answered or ran out of attempts; failures are logged, since
/// the change stands either way.
async fn fan_out<B: Serialize + Send + Sync + 'static>(
    st: &Arc<UssState>,
    subscribers: Vec<SubscriberToNotify>,
    path: &'static str,
    scope: Scope,
    body: impl Fn(Vec<SubscriptionState>) -> B,
) {
    let mut tasks = JoinSet::new();
    for s in subscribers.into_iter().filter(|s| s.uss_base_url.trim_end_matches('/') != st.config.base_url) {
        let st = st.clone();
        let url = format!("{}{path}", s.uss_base_url.trim_end_matches('/'));
        let body = body(s.subscriptions);
        tasks.spawn(async move {
            let mut delay = Duration::from_millis(100);
            for attempt in 1..=st.config.notify_attempts.max(1) {
                match st.client.send(Method::POST, &url, scope, Some(&body), st.config.peer_timeout).await {
                    Ok(reply) if reply.is_success() => return,
                    // A refusal (4xx other than rate limiting) will not change on a retry.
                    Ok(reply) if reply.status != 429 && reply.status < 500 => {
                        tracing::warn!(url, status = reply.status, "subscriber refused a notification");
                        return;
                    }
                    outcome => {
                        let status = outcome.as_ref().map(|r| r.status).ok();
                        tracing::debug!(url, attempt, ?status, "notification failed, retrying");
                    }
                }
                tokio::time::sleep(delay).await;
                delay *= 2;
            }
            tracing::warn!(url, "subscriber not reached; notification given up");
        });
    }
    while tasks.join_next().await.is_some() {}
}
