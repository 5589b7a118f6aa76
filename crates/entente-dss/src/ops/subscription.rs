//! F3548 subscriptions: explicit ones managed by clients, with their limits and dependent intents.

use entente_geo::Interval;

use super::validate::{self, Oversize, Required};
use super::version::{self, Rules};
use super::{ConstraintView, IntentView, Plan, SubscriptionView};
use crate::airspace::{Airspace, Meets};
use crate::caller::{Caller, Scope};
use crate::error::{DssError, bad};
use crate::limits::Limits;
use crate::model::{EntityId, Subscription, Timestamp, Volume, new_token};
use crate::store::Change;

const RULES: Rules = Rules {
    kind: "subscription",
    token: "version",
    taken_by_other: DssError::Conflict,
    update_missing: DssError::BadRequest,
};

#[derive(Clone, Debug)]
pub struct PutSubscription {
    /// Times may be left open: the start defaults to now, the end to start + the longest duration.
    pub extents: Volume,
    pub uss_base_url: String,
    pub notify_for_operational_intents: bool,
    pub notify_for_constraints: bool,
}

#[derive(Clone, Debug)]
pub struct SubscriptionPut {
    pub subscription: SubscriptionView,
    /// Present when the subscription notifies for intents.
    pub operational_intents: Option<Vec<IntentView>>,
    pub constraints: Option<Vec<ConstraintView>>,
}

fn owned<'a>(space: &'a Airspace, caller: &Caller, id: EntityId) -> Result<&'a Subscription, DssError> {
    let s = space
        .subscriptions
        .get(&id)
        .ok_or_else(|| DssError::NotFound(format!("subscription {id} does not exist")))?;
    if s.manager != caller.manager {
        return Err(DssError::Forbidden(format!("subscription {id} belongs to another USS")));
    }
    Ok(s)
}

pub(crate) fn get(space: &Airspace, caller: &Caller, id: EntityId) -> Result<SubscriptionView, DssError> {
    owned(space, caller, id).map(|s| space.view_subscription(s))
}

pub(crate) fn put(
    space: &Airspace,
    caller: &Caller,
    id: EntityId,
    path_version: Option<&str>,
    req: PutSubscription,
    now: Timestamp,
    limits: &Limits,
) -> Result<Plan<SubscriptionPut>, DssError> {
    if !req.notify_for_operational_intents && !req.notify_for_constraints {
        return Err(bad("notify_for_operational_intents or notify_for_constraints must be true"));
    }
    if req.notify_for_operational_intents && !caller.has(Scope::StrategicCoordination) {
        return Err(DssError::Forbidden(format!(
            "notify_for_operational_intents needs the {} scope",
            Scope::StrategicCoordination.name()
        )));
    }
    if req.notify_for_constraints && !caller.has(Scope::ConstraintProcessing) {
        return Err(DssError::Forbidden(format!(
            "notify_for_constraints needs the {} scope",
            Scope::ConstraintProcessing.name()
        )));
    }
    validate::base_url(&req.uss_base_url, "uss_base_url", limits)?;
    let existing = space.subscriptions.get(&id);
    version::check_put(
        &RULES,
        id,
        caller,
        path_version,
        existing.map(|e| (e.manager.as_str(), e.version.as_str())),
    )?;
    let old_time = existing.and_then(|e| e.extents.first()).map(|v| v.time);
    let start = match (req.extents.time.lo, old_time.and_then(|t| t.lo)) {
        (Some(start), old) => {
            if old != Some(start) {
                validate::start_not_too_old(start, now, "extents.time_start", limits)?;
            }
            start
        }
        (None, Some(old)) => old,
        (None, None) => now,
    };
    let end = req
        .extents
        .time
        .hi
        .or(old_time.and_then(|t| t.hi))
        .unwrap_or(start + limits.max_subscription_duration);
    if end < now {
        return Err(bad("extents.time_end must not be in the past"));
    }
    if end < start {
        return Err(bad("extents: time_start must not be after time_end"));
    }
    let implicit = existing.is_some_and(|e| e.implicit);
    if !implicit && end - start > limits.max_subscription_duration {
        return Err(bad(format!(
            "extents: a subscription may last at most {} hours",
            limits.max_subscription_duration.num_hours()
        )));
    }
    let volume = Volume { time: Interval { lo: Some(start), hi: Some(end) }, ..req.extents };
    validate::volume(
        &volume,
        "extents",
        Required { time: true, altitude: false },
        Oversize::BadRequest,
        limits,
    )?;
    let extents = vec![volume];
    if !req.notify_for_operational_intents && space.dependents_of(id).next().is_some() {
        return Err(bad(
            "notify_for_operational_intents: operational intents depend on this subscription, so it must stay true",
        ));
    }
    for dependent in space.dependents_of(id) {
        let covered = space
            .intents
            .get(&dependent)
            .is_none_or(|o| validate::covers(&extents, &o.extents, limits.max_start_in_past));
        if !covered {
            return Err(bad(format!(
                "extents: the subscription would no longer cover its dependent operational intent {dependent}"
            )));
        }
    }
    let subscription = Subscription {
        id,
        manager: caller.manager.clone(),
        version: new_token(),
        notification_index: existing.map_or(0, |e| e.notification_index),
        extents,
        uss_base_url: req.uss_base_url,
        notify_for_operational_intents: req.notify_for_operational_intents,
        notify_for_constraints: req.notify_for_constraints,
        implicit,
        updated_at: now,
    };
    let operational_intents = subscription.notify_for_operational_intents.then(|| {
        space
            .intents_in(&subscription.extents, now, Meets::Relevant)
            .into_iter()
            .map(|o| space.view_intent(o, &caller.manager))
            .collect()
    });
    let constraints = subscription.notify_for_constraints.then(|| {
        space
            .constraints_in(&subscription.extents, now, Meets::Relevant)
            .into_iter()
            .map(|c| space.view_constraint(c, &caller.manager))
            .collect()
    });
    let output = SubscriptionPut {
        subscription: space.view_subscription(&subscription),
        operational_intents,
        constraints,
    };
    Ok(Plan { changes: vec![Change::PutSubscription(subscription)], output })
}

pub(crate) fn delete(
    space: &Airspace,
    caller: &Caller,
    id: EntityId,
    version: &str,
) -> Result<Plan<SubscriptionView>, DssError> {
    let s = version::check_delete(&RULES, id, caller, version, space.subscriptions.get(&id), |e| {
        (&e.manager, &e.version)
    })?;
    let view = space.view_subscription(s);
    if !view.dependent_operational_intents.is_empty() {
        return Err(bad(format!(
            "subscription {id} still has {} dependent operational intent(s)",
            view.dependent_operational_intents.len()
        )));
    }
    Ok(Plan { changes: vec![Change::DeleteSubscription(id)], output: view })
}

/// The caller's live subscriptions relevant to `area`.
pub(crate) fn query(
    space: &Airspace,
    caller: &Caller,
    area: &Volume,
    now: Timestamp,
) -> Vec<SubscriptionView> {
    let area = std::slice::from_ref(area);
    let mut found: Vec<&Subscription> = space
        .subscription_candidates(area)
        .into_iter()
        .filter_map(|id| space.subscriptions.get(&id))
        .filter(|s| {
            s.manager == caller.manager
                && !crate::model::ended_before(&s.extents, now)
                && entente_geo::any_relevant(&s.extents, area)
        })
        .collect();
    found.sort_by_key(|s| s.id);
    found.into_iter().map(|s| space.view_subscription(s)).collect()
}
