//! Constraint references: no key check, but the same OVN rules and fan-out as intents.

use std::sync::Arc;

use super::txn::{Interest, Txn};
use super::validate::{self, WriteKind};
use super::version::{self, Rules};
use super::{ConstraintView, Plan, Subscriber};
use crate::airspace::Airspace;
use crate::caller::Caller;
use crate::error::DssError;
use crate::limits::Limits;
use crate::model::{Constraint, EntityId, Timestamp, Volume, new_token};
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

const RULES: Rules = Rules {
    kind: "constraint",
    token: "OVN",
    taken_by_other: DssError::Forbidden,
    update_missing: DssError::Conflict,
};

pub(crate) fn put(
    space: &Airspace,
    caller: &Caller,
    id: EntityId,
    path_ovn: Option<&str>,
    req: PutConstraint,
    now: Timestamp,
    limits: &Limits,
) -> Result<Plan<ConstraintChange>, DssError> {
    validate::entity_write(
        &req.extents,
        WriteKind::Constraint,
        &req.uss_base_url,
        "constraint",
        now,
        limits,
    )?;
    let existing = space.constraints.get(&id);
    version::check_put(&RULES, id, caller, path_ovn, existing.map(|e| (e.manager.as_str(), e.ovn.as_str())))?;

    let mut txn = Txn::new(space);
    let mut notify_area = req.extents.clone();
    if let Some(e) = existing {
        notify_area.extend(e.extents.iter().cloned());
    }
    let subscribers = txn.notify(&notify_area, Interest::Constraints, now);
    let constraint = Arc::new(Constraint {
        id,
        manager: caller.manager.clone(),
        version: existing.map_or(1, |e| e.version.saturating_add(1)),
        ovn: new_token(),
        extents: req.extents,
        uss_base_url: req.uss_base_url,
        updated_at: now,
    });
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
    let existing =
        version::check_delete(&RULES, id, caller, ovn, space.constraints.get(&id), |e| (&e.manager, &e.ovn))?;
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
