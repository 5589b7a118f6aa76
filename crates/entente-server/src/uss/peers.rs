//! Calls to peer USSs: details of their intents and constraints, fetched in parallel under a deadline (those the
//! cache holds at the version asked for answered from it), and notifications of this USS's changes, sent in
//! parallel with retries.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use entente_dss::Scope;
use entente_uss::service::ZoneRef;
use entente_wire::parse_rfc3339;
use entente_wire::scd::{OperationalIntentReference, SubscriberToNotify, SubscriptionState};
use entente_wire::uss::{
    Constraint, GetConstraintDetailsResponse, GetOperationalIntentDetailsResponse, OperationalIntent,
    PutConstraintDetailsParameters, PutOperationalIntentDetailsParameters,
};
use futures_util::future::join_all;
use reqwest::Method;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::task::JoinSet;

use super::Links;
use crate::error::ApiError;
use crate::scd::{CM, CP, SC};
use entente_uss::Timestamp;

/// Runs `call` on every item at once (the client lets at most 32 calls be in flight to one peer, the rest
/// waiting their turn); each item keeps its own outcome, so one peer being down does not hide what the others
/// said. The calls stay in the caller's task rather than a task each: they mostly wait on peers,
/// and so the audit lines of their exchanges are synced with the rest of the request's, once, before it is
/// answered.
async fn in_parallel<I, T, Fut>(
    st: &Arc<Links>,
    items: Vec<I>,
    call: impl Fn(Arc<Links>, I) -> Fut,
) -> Vec<(I, Result<T, ApiError>)>
where
    Fut: Future<Output = (I, Result<T, ApiError>)>,
{
    join_all(items.into_iter().map(|item| call(st.clone(), item))).await
}

async fn get<T: DeserializeOwned>(st: &Links, url: &str, scope: &[Scope]) -> Result<T, ApiError> {
    let reply = st.client.send(Method::GET, url, scope, None::<&()>, st.config.peer_timeout).await?;
    if reply.status != 200 {
        return Err(reply.unexpected());
    }
    reply.json()
}

/// What this USS keeps of its peers' intents or constraints, by id: each as its manager last shared it, with the
/// time it ends, read once when it is kept, so that forgetting the ended ones reads no time again.
pub(crate) struct PeerCache<T> {
    kept: HashMap<String, (T, Option<Timestamp>)>,
}

impl<T: Clone> PeerCache<T> {
    pub(crate) fn new() -> PeerCache<T> {
        PeerCache { kept: HashMap::new() }
    }

    pub(crate) fn get(&self, id: &str) -> Option<&T> {
        self.kept.get(id).map(|(t, _)| t)
    }

    pub(crate) fn remove(&mut self, id: &str) -> Option<T> {
        self.kept.remove(id).map(|(t, _)| t)
    }

    /// Keeps `value` as `id`, ending at `end` (`None`: its end could not be read), and forgets those that have
    /// ended, or whose end could not be read: they can conflict with nothing any more.
    fn keep(&mut self, id: String, value: T, end: Option<Timestamp>, now: Timestamp) {
        self.kept.retain(|_, (_, end)| end.is_some_and(|end| end >= now));
        self.kept.insert(id, (value, end));
    }
}

/// Answers each of `refs` that `cached` answers here, without a task each, and fetches only the others, in
/// parallel.
async fn cached_else_fetched<R, T, Fut>(
    st: &Arc<Links>,
    refs: Vec<R>,
    cached: impl Fn(&Links, &R) -> Option<T>,
    fetch: impl Fn(Arc<Links>, R) -> Fut,
) -> Vec<(R, Result<T, ApiError>)>
where
    Fut: Future<Output = (R, Result<T, ApiError>)> + Send + 'static,
    R: Send + 'static,
    T: Send + 'static,
{
    let (found, missing) = partition(refs, |r| cached(st, r));
    let mut out: Vec<_> = found.into_iter().map(|(r, t)| (r, Ok(t))).collect();
    out.extend(in_parallel(st, missing, fetch).await);
    out
}

/// Splits `refs` into those `cached` answers, with its answer, and the others.
fn partition<R, T>(refs: Vec<R>, cached: impl Fn(&R) -> Option<T>) -> (Vec<(R, T)>, Vec<R>) {
    let (mut found, mut missing) = (Vec::new(), Vec::new());
    for r in refs {
        match cached(&r) {
            Some(t) => found.push((r, t)),
            None => missing.push(r),
        }
    }
    (found, missing)
}

/// The details of every intent reference, from the cache when it holds that version, else from its manager. Only
/// those the cache lacks are fetched, in parallel; the others are answered here, without a task each.
pub(crate) async fn details(
    st: &Arc<Links>,
    refs: Vec<OperationalIntentReference>,
) -> Vec<(OperationalIntentReference, Result<OperationalIntent, ApiError>)> {
    let cached = |st: &Links, r: &OperationalIntentReference| {
        st.peers.lock().get(&r.id).filter(|c| c.reference.version == r.version).cloned()
    };
    cached_else_fetched(st, refs, cached, |st, r| async move {
        let url = details_url(&r);
        let fetched = get::<GetOperationalIntentDetailsResponse>(&st, &url, &[SC]).await.and_then(|d| {
            let intent = d.operational_intent;
            if intent.reference.id != r.id || intent.reference.ovn.is_none() {
                return Err(ApiError::Upstream(format!(
                    "{url}: the details name another intent or carry no OVN"
                )));
            }
            remember(&mut st.peers.lock(), intent.clone(), st.now());
            Ok(intent)
        });
        (r, fetched)
    })
    .await
}

/// Keeps a peer's intent, and forgets those that have ended: they can conflict with nothing any more.
pub(crate) fn remember(cache: &mut PeerCache<OperationalIntent>, intent: OperationalIntent, now: Timestamp) {
    let end = parse_rfc3339(&intent.reference.time_end.value, "time_end").ok();
    cache.keep(intent.reference.id.clone(), intent, end, now);
}

/// Where the manager of `r` serves its details.
pub(crate) fn details_url(r: &OperationalIntentReference) -> String {
    format!("{}/uss/v1/operational_intents/{}", r.uss_base_url.trim_end_matches('/'), r.id)
}

/// The details of every constraint reference, from the cache when it holds that version, else from its manager
/// (only those fetched, in parallel).
pub(crate) async fn constraint_details(
    st: &Arc<Links>,
    refs: Vec<ZoneRef>,
) -> Vec<(ZoneRef, Result<Constraint, ApiError>)> {
    let cached = |st: &Links, r: &ZoneRef| {
        st.peer_zones.lock().get(&r.id).filter(|c| c.reference.version == r.version).cloned()
    };
    cached_else_fetched(st, refs, cached, |st, r| async move {
        let url = format!("{}/uss/v1/constraints/{}", r.uss_base_url.trim_end_matches('/'), r.id);
        let fetched = get::<GetConstraintDetailsResponse>(&st, &url, &[CP]).await.and_then(|d| {
            let constraint = d.constraint;
            if constraint.reference.id != r.id {
                return Err(ApiError::Upstream(format!("{url}: the details name another constraint")));
            }
            remember_zone(&mut st.peer_zones.lock(), constraint.clone(), st.now());
            Ok(constraint)
        });
        (r, fetched)
    })
    .await
}

/// Keeps a peer's constraint (`version` tells when it changed), and forgets those that have ended.
pub(crate) fn remember_zone(cache: &mut PeerCache<Constraint>, constraint: Constraint, now: Timestamp) {
    let end = parse_rfc3339(&constraint.reference.time_end.value, "time_end").ok();
    cache.keep(constraint.reference.id.clone(), constraint, end, now);
}

/// Tells every subscriber but this USS itself about the intent `id` (`None`: it was deleted).
pub(crate) async fn notify(
    st: &Arc<Links>,
    subscribers: Vec<SubscriberToNotify>,
    id: &str,
    intent: Option<OperationalIntent>,
) {
    let body = |subscriptions| PutOperationalIntentDetailsParameters {
        operational_intent_id: id.to_owned(),
        operational_intent: intent.clone(),
        subscriptions,
    };
    fan_out(st, subscribers, "/uss/v1/operational_intents", SC.name(), body).await;
}

/// Tells every subscriber about the constraint `id` (`None`: it was deleted).
pub(crate) async fn notify_constraint(
    st: &Arc<Links>,
    subscribers: Vec<SubscriberToNotify>,
    id: &str,
    constraint: Option<Constraint>,
) {
    let body = |subscriptions| PutConstraintDetailsParameters {
        constraint_id: id.to_owned(),
        constraint: constraint.clone(),
        subscriptions,
    };
    fan_out(st, subscribers, "/uss/v1/constraints", CM.name(), body).await;
}

/// Posts `body` (built from each subscriber's subscriptions) to `path` under every subscriber's base URL, every
/// subscriber but this USS, retrying transport errors, 429 and 5xx. Waits until every subscriber answered or ran
/// out of attempts; failures are logged, since the change stands either way.
pub(crate) async fn fan_out<B: Serialize + Send + Sync + 'static>(
    st: &Arc<Links>,
    subscribers: Vec<SubscriberToNotify>,
    path: &str,
    scope: &'static str,
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
                match st
                    .client
                    .send_scoped(Method::POST, &url, scope, Some(&body), st.config.peer_timeout)
                    .await
                {
                    Ok(reply) if reply.is_success() => {
                        st.metrics.subscriber_notification(true);
                        return;
                    }
                    // A refusal (4xx other than rate limiting) will not change on a retry.
                    Ok(reply) if reply.status != 429 && reply.status < 500 => {
                        tracing::warn!(url, status = reply.status, "subscriber refused a notification");
                        st.metrics.subscriber_notification(false);
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
            st.metrics.subscriber_notification(false);
        });
    }
    while tasks.join_next().await.is_some() {}
}

#[cfg(test)]
mod tests {
    use chrono::Duration;
    use entente_wire::scd::{NULL_SUBSCRIPTION, OperationalIntentState, UssAvailabilityState};
    use entente_wire::time_out;
    use entente_wire::uss::OperationalIntentDetails;

    use super::*;

    fn intent(id: &str, ends_in_minutes: i64) -> OperationalIntent {
        let t = |m: i64| time_out(now() + Duration::minutes(m));
        OperationalIntent {
            reference: OperationalIntentReference {
                id: id.to_owned(),
                manager: "uss2".to_owned(),
                uss_availability: UssAvailabilityState::Normal,
                version: 1,
                state: OperationalIntentState::Accepted,
                ovn: Some("an-ovn-of-sixteen-chars".to_owned()),
                time_start: t(-60),
                time_end: t(ends_in_minutes),
                uss_base_url: "https://uss2.example".to_owned(),
                subscription_id: NULL_SUBSCRIPTION.to_owned(),
            },
            details: OperationalIntentDetails {
                volumes: Vec::new(),
                off_nominal_volumes: Vec::new(),
                priority: 0,
            },
        }
    }

    fn now() -> Timestamp {
        "2030-01-01T00:00:00Z".parse().expect("a valid time")
    }

    #[test]
    fn ended_intents_are_forgotten_when_another_is_remembered() {
        let mut cache = PeerCache::new();
        remember(&mut cache, intent("ended", -5), now());
        remember(&mut cache, intent("live", 30), now());
        remember(&mut cache, intent("new", 30), now());
        let mut ids: Vec<&str> = cache.kept.keys().map(String::as_str).collect();
        ids.sort_unstable();
        assert_eq!(ids, ["live", "new"]);
    }

    #[test]
    fn an_intent_whose_end_cannot_be_read_is_kept_until_another_is_remembered() {
        let mut cache = PeerCache::new();
        let mut unreadable = intent("unreadable", 30);
        unreadable.reference.time_end.value = "not a time".to_owned();
        remember(&mut cache, unreadable, now());
        assert!(cache.get("unreadable").is_some());
        remember(&mut cache, intent("live", 30), now());
        assert!(cache.get("unreadable").is_none() && cache.get("live").is_some());
    }

    #[test]
    fn references_the_cache_answers_are_split_from_those_to_fetch_in_their_order() {
        let (found, missing) = partition(vec![1, 2, 3, 4], |n| (n % 2 == 0).then_some(n * 10));
        assert_eq!((found, missing), (vec![(2, 20), (4, 40)], vec![1, 3]));
    }
}
