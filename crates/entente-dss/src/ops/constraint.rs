//! Constraint references: no key check, but the same OVN rules and fan-out as intents.

use super::txn::{Interest, Txn};
use super::validate::{self, Required};
use super::{ConstraintView, Plan, Subscriber};
use crate::airspace::Airspace;
use crate::caller::Caller;
use crate::error::DssError;
use crate::limits::Limits;
use crate::model::{Constraint, EntityId, Timestamp, Volume, new_token, time_span};
use crate::store::Change;

#[derive(Clone, Debug)]
pub struct PutConstraint {
    pub extents: Vec<Volume>,
    pub uss_base_url: String,
}

#[derive(Clone, Debug)]
pub struct ConstraintChange {
    pub constraint: ConstraintView,
    pub subscribers: Vec<Subscriber>,
}

const TIME_BOUNDS: Required = Required { time: true, altitude: false };

pub(crate) fn put(
    space: &Airspace,
    caller: &Caller,
    id: EntityId,
    path_ovn: Option<&str>,
    req: PutConstraint,
    now: Timestamp,
    limits: &Limits,
) -> Result<Plan<ConstraintChange>, DssError> {
    validate::extents(&req.extents, TIME_BOUNDS, limits)?;
    validate::not_ended(time_span(&req.extents).1, now, "constraint")?;
    validate::base_url(&req.uss_base_url, "uss_base_url", limits)?;
    let existing = space.constraints.get(&id);
    if let Some(e) = existing
        && e.manager != caller.manager
    {
        return Err(DssError::Forbidden(format!("constraint {id} is managed by another USS")));
    }
    match (path_ovn, existing) {
        (None, Some(_)) => {
            return Err(DssError::Conflict(format!(
                "constraint {id} already exists; update it with its OVN in the path"
            )));
        }
        (Some(_), None) => {
            return Err(DssError::Conflict(format!(
                "constraint {id} does not exist, so it cannot be updated"
            )));
        }
        (Some(ovn), Some(e)) if e.ovn != ovn => {
            return Err(DssError::Conflict(format!(
                "the OVN in the path is not the current OVN of constraint {id}"
            )));
        }
        _ => {}
    }

    let mut txn = Txn::new(space);
    let mut notify_area = req.extents.clone();
    if let Some(e) = existing {
        notify_area.extend(e.extents.iter().cloned());
    }
    let subscribers = txn.notify(&notify_area, Interest::Constraints, now);
    let constraint = Constraint {
        id,
        manager: caller.manager.clone(),
        version: existing.map_or(1, |e| e.version.saturating_add(1)),
        ovn: new_token(),
        extents: req.extents,
        uss_base_url: req.uss_base_url,
        updated_at: now,
    };
    let view = space.view_constraint(&constraint, &caller.manager);
    txn.push(Change::PutConstraint(constraint));
    Ok(Plan { changes: txn.into_changes(), output: ConstraintChange { constraint: view, subscribers } })
}

pub(crate) fn delete(
    space: &Airspace,
    caller: &Caller,
    id: EntityId,
    ovn: &str,
    now: Timestamp,
) -> Result<Plan<ConstraintChange>, DssError> {
    let Some(existing) = space.constraints.get(&id) else {
        return Err(DssError::NotFound(format!("constraint {id} does not exist")));
    };
    if existing.manager != caller.manager {
        return Err(DssError::Forbidden(format!("constraint {id} is managed by another USS")));
    }
    if existing.ovn != ovn {
        return Err(DssError::Conflict(format!(
            "the OVN in the path is not the current OVN of constraint {id}"
        )));
    }
    let mut txn = Txn::new(space);
    let subscribers = txn.notify(&existing.extents, Interest::Constraints, now);
    txn.push(Change::DeleteConstraint(id));
    Ok(Plan {
        changes: txn.into_changes(),
        output: ConstraintChange {
            constraint: space.view_constraint(existing, &caller.manager),
            subscribers,
        },
    })
}
