//! RID subscriptions: display providers asking to hear about ISA changes in an area, with their limits.

use entente_geo::Interval;

use super::{isas_in, outlines_meet, version_shape};
use crate::airspace::Airspace;
use crate::caller::Caller;
use crate::error::{DssError, bad};
use crate::limits::Limits;
use crate::model::{
    EntityId, IdentificationServiceArea, RidSubscription, RidUrl, Timestamp, Volume, new_token, volume_ended,
};
use crate::ops::Plan;
use crate::ops::validate::{self, Oversize, Required};
use crate::ops::version::{self, Rules};
use crate::store::Change;

#[derive(Clone, Debug)]
pub struct PutRidSubscription {
    /// Times may be left open: the start defaults to now (or is unchanged), the end to start + 24 h.
    pub extents: Volume,
    pub url: RidUrl,
}

#[derive(Clone, Debug)]
pub struct RidSubscriptionPut {
    pub subscription: RidSubscription,
    /// The live ISAs in the subscription's area and time, which the subscriber has not been told about yet.
    pub service_areas: Vec<IdentificationServiceArea>,
}

fn not_found(id: EntityId) -> DssError {
    DssError::NotFound(format!("subscription {id} does not exist"))
}

const RULES: Rules = Rules {
    kind: "subscription",
    token: "version",
    taken_by_other: DssError::Conflict,
    update_missing: DssError::BadRequest,
};

/// Only the owner may see or change a subscription.
pub(crate) fn get(space: &Airspace, caller: &Caller, id: EntityId) -> Result<RidSubscription, DssError> {
    let s = space.rid_subscriptions.get(&id).ok_or_else(|| not_found(id))?;
    if s.owner != caller.manager {
        return Err(DssError::Forbidden(format!("subscription {id} belongs to another USS")));
    }
    Ok(s.clone())
}

/// The start and end a put asks for, with defaults filled in and the time rules applied.
fn times(
    req: &Volume,
    existing: Option<&RidSubscription>,
    now: Timestamp,
    limits: &Limits,
) -> Result<(Timestamp, Timestamp), DssError> {
    let old_start = existing.and_then(|e| e.extents.time.lo);
    let start = match req.time.lo {
        Some(start) => {
            if old_start != Some(start) {
                validate::start_not_too_old(start, now, "extents.time_start", limits)?;
            }
            start
        }
        None => old_start.unwrap_or(now),
    };
    let end = req.time.hi.unwrap_or(start + limits.max_subscription_duration);
    if end < start {
        return Err(bad("extents: time_start must not be after time_end"));
    }
    if end < now {
        return Err(bad("extents.time_end must not be in the past"));
    }
    if end - start > limits.max_subscription_duration {
        return Err(bad(format!(
            "extents: a subscription may last at most {} hours",
            limits.max_subscription_duration.num_hours()
        )));
    }
    Ok((start, end))
}

/// F3411 NetDSSMaxSubscriptionPerArea, exactly enough for the rule's intent: no point of the new area may be
/// covered by more than the limit of the owner's live subscriptions. Counting the owner's other live
/// subscriptions that meet the new area over-approximates the deepest overlap, never under-approximates it.
fn check_per_area_limit(
    space: &Airspace,
    owner: &str,
    subscription: &RidSubscription,
    now: Timestamp,
    limits: &Limits,
) -> Result<(), DssError> {
    let others = space
        .rid_subscription_candidates(&subscription.extents)
        .into_iter()
        .filter(|id| *id != subscription.id)
        .filter_map(|id| space.rid_subscriptions.get(&id))
        .filter(|s| {
            s.owner == owner
                && !volume_ended(&s.extents, now)
                && outlines_meet(&s.extents, &subscription.extents)
        })
        .count();
    if others >= limits.max_rid_subscriptions_per_area {
        return Err(DssError::TooManySubscriptions(format!(
            "the owner already has {others} live subscriptions in this area, the most allowed is {}; \
             search GET /dss/subscriptions to find them",
            limits.max_rid_subscriptions_per_area
        )));
    }
    Ok(())
}

pub(crate) fn put(
    space: &Airspace,
    caller: &Caller,
    id: EntityId,
    path_version: Option<&str>,
    req: PutRidSubscription,
    now: Timestamp,
    limits: &Limits,
) -> Result<Plan<RidSubscriptionPut>, DssError> {
    validate::volume(
        &req.extents,
        "extents",
        Required { time: false, altitude: false },
        Oversize::BadRequest,
        limits,
    )?;
    validate::base_url(&req.url.url, "the callback URL of the subscription", limits)?;
    if let Some(v) = path_version {
        version_shape(v, "a subscription")?;
    }
    let existing = space.rid_subscriptions.get(&id);
    let (start, end) = times(&req.extents, path_version.and(existing), now, limits)?;
    version::check_put(
        &RULES,
        id,
        caller,
        path_version,
        existing.map(|e| (e.owner.as_str(), e.version.as_str())),
    )?;
    let subscription = RidSubscription {
        id,
        owner: caller.manager.clone(),
        version: new_token(),
        notification_index: existing.map_or(0, |e| e.notification_index),
        extents: Volume { time: Interval { lo: Some(start), hi: Some(end) }, ..req.extents },
        url: req.url,
        updated_at: now,
    };
    check_per_area_limit(space, &caller.manager, &subscription, now, limits)?;
    let service_areas =
        isas_in(space, &subscription.extents, start.max(now), Some(end)).into_iter().cloned().collect();
    Ok(Plan {
        changes: vec![Change::PutRidSubscription(subscription.clone())],
        output: RidSubscriptionPut { subscription, service_areas },
    })
}

pub(crate) fn delete(
    space: &Airspace,
    caller: &Caller,
    id: EntityId,
    version: &str,
) -> Result<Plan<RidSubscription>, DssError> {
    version_shape(version, "a subscription")?;
    let s = version::check_delete(&RULES, id, caller, version, space.rid_subscriptions.get(&id), |e| {
        (&e.owner, &e.version)
    })?;
    Ok(Plan { changes: vec![Change::DeleteRidSubscription(id)], output: s.clone() })
}
