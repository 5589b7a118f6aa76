//! Operational intent references: creation, update and deletion with the key check and fan-out.

use std::sync::Arc;

use chrono::Duration;

use super::txn::{Interest, Txn};
use super::validate::{self, WriteKind};
use super::version::{self, Rules};
use super::{IntentView, Plan, Subscriber};
use crate::airspace::{Airspace, Meets};
use crate::caller::{Caller, Scope};
use crate::error::{AirspaceConflict, DssError, bad};
use crate::limits::Limits;
use crate::model::{
    Availability, EntityId, OirState, OperationalIntent, Subscription, Timestamp, Volume, new_token,
};
use crate::store::Change;

#[derive(Clone, Debug)]
pub struct PutOperationalIntent {
    pub extents: Vec<Volume>,
    pub key: Vec<String>,
    pub state: OirState,
    pub uss_base_url: String,
    pub subscription_id: Option<EntityId>,
    pub new_subscription: Option<NewSubscription>,
    /// InterUSS extension: the client picks the OVN's suffix (a UUIDv7 close to now).
    pub requested_ovn_suffix: Option<String>,
}

#[derive(Clone, Debug)]
pub struct NewSubscription {
    pub uss_base_url: String,
    pub notify_for_constraints: bool,
}

#[derive(Clone, Debug)]
pub struct IntentChange {
    pub intent: IntentView,
    pub subscribers: Vec<Subscriber>,
}

const RULES: Rules = Rules {
    kind: "operational intent",
    token: "OVN",
    taken_by_other: DssError::Forbidden,
    update_missing: DssError::BadRequest,
};

pub(crate) fn put(
    space: &Airspace,
    caller: &Caller,
    id: EntityId,
    path_ovn: Option<&str>,
    req: PutOperationalIntent,
    now: Timestamp,
    limits: &Limits,
) -> Result<Plan<IntentChange>, DssError> {
    // The request must make sense on its own before it is compared with what exists.
    validate::entity_write(
        &req.extents,
        WriteKind::OperationalIntent,
        &req.uss_base_url,
        "operational intent",
        now,
        limits,
    )?;
    if req.subscription_id.is_some() && req.new_subscription.is_some() {
        return Err(bad("subscription_id and new_subscription are mutually exclusive"));
    }
    let ovn = match &req.requested_ovn_suffix {
        Some(suffix) => ovn_with_suffix(id, suffix, now)?,
        None => new_token(),
    };
    let existing = space.intents.get(&id);
    version::check_put(&RULES, id, caller, path_ovn, existing.map(|e| (e.manager.as_str(), e.ovn.as_str())))?;
    if existing.is_some_and(|e| e.ovn == ovn) {
        return Err(bad("requested_ovn_suffix: an update must produce a new OVN; request a fresh suffix"));
    }
    let off_nominal = !req.state.is_nominal();
    if off_nominal && !caller.has(Scope::ConformanceMonitoringSa) {
        return Err(DssError::Forbidden(format!(
            "state {:?} needs the {} scope",
            req.state,
            Scope::ConformanceMonitoringSa.name()
        )));
    }
    match existing {
        None if req.state != OirState::Accepted => {
            return Err(bad(format!(
                "state: an operational intent must be created in Accepted, not {:?}",
                req.state
            )));
        }
        Some(e) if e.state == OirState::Contingent && req.state != OirState::Contingent => {
            return Err(bad(format!(
                "state: a Contingent operational intent can only end (be deleted), not become {:?}",
                req.state
            )));
        }
        _ => {}
    }
    if req.subscription_id.is_none() && req.new_subscription.is_none() && req.state != OirState::Accepted {
        return Err(bad(format!(
            "state {:?} needs a subscription: give subscription_id or new_subscription",
            req.state
        )));
    }
    if req.state.is_nominal() && space.availability_of(&caller.manager) == Availability::Down {
        return Err(DssError::UssDown(format!(
            "USS {} is Down and may not plan or activate operational intents",
            caller.manager
        )));
    }
    let mut txn = Txn::new(space);
    let subscription = attach_subscription(&mut txn, caller, &req, now, limits)?;
    if let Some(old) = existing.and_then(|e| e.subscription_id)
        && Some(old) != subscription.as_ref().map(|s| s.id)
    {
        release_implicit(&mut txn, old, id);
    }

    if req.state.is_nominal() {
        check_key(space, caller, id, &req, subscription.as_ref(), now)?;
    }

    let mut notify_area = req.extents.clone();
    if let Some(e) = existing {
        notify_area.extend(e.extents.iter().cloned());
    }
    let subscribers = txn.notify(&notify_area, Interest::Intents, now);
    let intent = Arc::new(OperationalIntent {
        id,
        manager: caller.manager.clone(),
        version: existing.map_or(1, |e| e.version.saturating_add(1)),
        state: req.state,
        ovn,
        extents: req.extents,
        uss_base_url: req.uss_base_url,
        subscription_id: subscription.map(|s| s.id),
        updated_at: now,
    });
    let view = space.view_intent(&intent, &caller.manager);
    txn.push(Change::PutOperationalIntent(intent));
    Ok(Plan { changes: txn.into_changes(), output: IntentChange { intent: view, subscribers } })
}

pub(crate) fn delete(
    space: &Airspace,
    caller: &Caller,
    id: EntityId,
    ovn: &str,
    now: Timestamp,
) -> Result<Plan<IntentChange>, DssError> {
    let existing =
        version::check_delete(&RULES, id, caller, ovn, space.intents.get(&id), |e| (&e.manager, &e.ovn))?;
    if space.availability_of(&caller.manager) == Availability::Down {
        return Err(DssError::UssDown(format!(
            "USS {} is Down and may not delete operational intents",
            caller.manager
        )));
    }
    let mut txn = Txn::new(space);
    if let Some(sid) = existing.subscription_id {
        release_implicit(&mut txn, sid, id);
    }
    let subscribers = txn.notify(&existing.extents, Interest::Intents, now);
    txn.push(Change::DeleteOperationalIntent(id));
    Ok(Plan {
        changes: txn.into_changes(),
        output: IntentChange { intent: space.view_intent(existing, &caller.manager), subscribers },
    })
}

/// Resolves the subscription the intent will depend on, creating or growing an implicit one.
fn attach_subscription(
    txn: &mut Txn<'_>,
    caller: &Caller,
    req: &PutOperationalIntent,
    now: Timestamp,
    limits: &Limits,
) -> Result<Option<Subscription>, DssError> {
    if let Some(sid) = req.subscription_id {
        let Some(s) = txn.subscription(sid) else {
            return Err(bad(format!("subscription_id: subscription {sid} does not exist")));
        };
        if s.manager != caller.manager {
            return Err(DssError::Forbidden(format!(
                "subscription_id: subscription {sid} belongs to another USS"
            )));
        }
        if !s.notify_for_operational_intents {
            return Err(bad(format!(
                "subscription_id: subscription {sid} does not notify for operational intents"
            )));
        }
        let mut s = s.clone();
        if !validate::covers(&s.extents, &req.extents, limits.max_start_in_past) {
            if !s.implicit {
                return Err(bad(format!(
                    "subscription_id: subscription {sid} does not cover the operational intent's extents"
                )));
            }
            s.extents.extend(req.extents.iter().cloned());
            s.updated_at = now;
            txn.put_subscription(s.clone());
        }
        return Ok(Some(s));
    }
    let Some(ns) = &req.new_subscription else { return Ok(None) };
    if ns.notify_for_constraints && !caller.has(Scope::ConstraintProcessing) {
        return Err(DssError::Forbidden(format!(
            "new_subscription.notify_for_constraints needs the {} scope",
            Scope::ConstraintProcessing.name()
        )));
    }
    validate::base_url(&ns.uss_base_url, "new_subscription.uss_base_url", limits)?;
    let s = Subscription {
        id: EntityId::random(),
        manager: caller.manager.clone(),
        version: new_token(),
        notification_index: 0,
        extents: req.extents.clone(),
        uss_base_url: ns.uss_base_url.clone(),
        notify_for_operational_intents: true,
        notify_for_constraints: ns.notify_for_constraints,
        implicit: true,
        updated_at: now,
    };
    txn.put_subscription(s.clone());
    Ok(Some(s))
}

/// Deletes an implicit subscription once `intent` was the last intent depending on it.
fn release_implicit(txn: &mut Txn<'_>, subscription: EntityId, intent: EntityId) {
    let implicit = txn.subscription(subscription).is_some_and(|s| s.implicit);
    if implicit && txn.space.dependents_of(subscription).all(|d| d == intent) {
        txn.delete_subscription(subscription);
    }
}

fn check_key(
    space: &Airspace,
    caller: &Caller,
    id: EntityId,
    req: &PutOperationalIntent,
    subscription: Option<&Subscription>,
    now: Timestamp,
) -> Result<(), DssError> {
    let known = |ovn: &str| req.key.iter().any(|k| k == ovn);
    let missing_operational_intents: Vec<IntentView> = space
        .intents_in(&req.extents, now, Meets::Intersecting)
        .into_iter()
        .filter(|o| o.id != id && !known(&o.ovn))
        // Planning over a Down USS's Accepted intents is allowed without their OVN (F3548 SCD0035).
        .filter(|o| {
            !(o.state == OirState::Accepted && space.availability_of(&o.manager) == Availability::Down)
        })
        .map(|o| space.view_intent(o, &caller.manager))
        .collect();
    let missing_constraints = if subscription.is_some_and(|s| s.notify_for_constraints) {
        space
            .constraints_in(&req.extents, now, Meets::Intersecting)
            .into_iter()
            .filter(|c| !known(&c.ovn))
            .map(|c| space.view_constraint(c, &caller.manager))
            .collect()
    } else {
        Vec::new()
    };
    if missing_operational_intents.is_empty() && missing_constraints.is_empty() {
        return Ok(());
    }
    Err(DssError::AirspaceConflict(Box::new(AirspaceConflict {
        message: format!(
            "key is missing the OVNs of {} operational intent(s) and {} constraint(s) that intersect",
            missing_operational_intents.len(),
            missing_constraints.len()
        ),
        missing_operational_intents,
        missing_constraints,
    })))
}

/// The OVN `{id}_{suffix}` where the suffix must be a UUIDv7 minted within the clock-skew window.
fn ovn_with_suffix(id: EntityId, suffix: &str, now: Timestamp) -> Result<String, DssError> {
    let field = "requested_ovn_suffix";
    let uuid =
        uuid::Uuid::try_parse(suffix).map_err(|_| bad(format!("{field}: {suffix:?} is not a UUID")))?;
    if uuid.get_version_num() != 7 {
        return Err(bad(format!("{field}: must be a UUIDv7")));
    }
    let Some((secs, nanos)) = uuid.get_timestamp().map(|t| t.to_unix()) else {
        return Err(bad(format!("{field}: has no timestamp")));
    };
    let minted = chrono::DateTime::from_timestamp(secs as i64, nanos)
        .ok_or_else(|| bad(format!("{field}: timestamp out of range")))?;
    if (minted - now).abs() > Duration::minutes(5) {
        return Err(bad(format!("{field}: its timestamp must be within 5 minutes of now")));
    }
    Ok(format!("{id}_{suffix}"))
}
