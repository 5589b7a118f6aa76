//! Calls to peer USSs: their intents' details, fetched in parallel under a deadline, and notifications of this
//! USS's changes, sent in parallel with retries.

use std::sync::Arc;
use std::time::Duration;

use reqwest::Method;
use tokio::task::JoinSet;

use super::UssState;
use super::dss_client::SC;
use super::types::{
    GetOperationalIntentDetailsResponse, OperationalIntent, PutOperationalIntentDetailsParameters,
};
use crate::error::ApiError;
use crate::scd::types::{OperationalIntentReference, SubscriberToNotify};

/// The details of every reference, from the cache when it holds that version, else from its manager. Each
/// reference gets its own outcome: one peer being down must not hide what the others said.
pub(crate) async fn details(
    st: &Arc<UssState>,
    refs: Vec<OperationalIntentReference>,
) -> Vec<(OperationalIntentReference, Result<OperationalIntent, ApiError>)> {
    let mut out = Vec::with_capacity(refs.len());
    let mut tasks = JoinSet::new();
    for r in refs {
        let cached = st.peers.lock().get(&r.id).filter(|c| c.reference.version == r.version).cloned();
        match cached {
            Some(intent) => out.push((r, Ok(intent))),
            None => {
                let st = st.clone();
                tasks.spawn(async move {
                    let fetched = fetch(&st, &r).await;
                    if let Ok(intent) = &fetched {
                        st.peers.lock().insert(r.id.clone(), intent.clone());
                    }
                    (r, fetched)
                });
            }
        }
    }
    while let Some(done) = tasks.join_next().await {
        if let Ok(pair) = done {
            out.push(pair);
        }
    }
    out
}

async fn fetch(st: &UssState, r: &OperationalIntentReference) -> Result<OperationalIntent, ApiError> {
    let url = format!("{}/uss/v1/operational_intents/{}", r.uss_base_url.trim_end_matches('/'), r.id);
    let reply = st.client.send(Method::GET, &url, SC, None::<&()>, st.config.peer_timeout).await?;
    if reply.status != 200 {
        return Err(reply.unexpected());
    }
    let intent = reply.json::<GetOperationalIntentDetailsResponse>()?.operational_intent;
    if intent.reference.id != r.id || intent.reference.ovn.is_none() {
        return Err(ApiError::Upstream(format!("{url}: the details name another intent or carry no OVN")));
    }
    Ok(intent)
}

/// Tells every subscriber but this USS itself about the intent `id` (`None`: it was deleted). Waits until every
/// subscriber answered or ran out of attempts; failures are logged, since the change stands either way.
pub(crate) async fn notify(
    st: &Arc<UssState>,
    subscribers: Vec<SubscriberToNotify>,
    id: &str,
    intent: Option<OperationalIntent>,
) {
    let mut tasks = JoinSet::new();
    for s in subscribers.into_iter().filter(|s| s.uss_base_url.trim_end_matches('/') != st.config.base_url) {
        let st = st.clone();
        let body = PutOperationalIntentDetailsParameters {
            operational_intent_id: id.to_owned(),
            operational_intent: intent.clone(),
            subscriptions: s.subscriptions,
        };
        let url = format!("{}/uss/v1/operational_intents", s.uss_base_url.trim_end_matches('/'));
        tasks.spawn(async move {
            let mut delay = Duration::from_millis(100);
            for attempt in 1..=st.config.notify_attempts.max(1) {
                match st.client.send(Method::POST, &url, SC, Some(&body), st.config.peer_timeout).await {
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
