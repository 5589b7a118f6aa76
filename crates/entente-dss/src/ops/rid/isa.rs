//! Identification service areas: creation, update and deletion, each telling which RID subscribers to notify.

use entente_geo::Interval;

use super::{RidSubscriber, notify, version_shape};
use crate::airspace::Airspace;
use crate::caller::Caller;
use crate::error::{DssError, bad};
use crate::limits::Limits;
use crate::model::{EntityId, IdentificationServiceArea, RidUrl, Timestamp, Volume, new_token};
use crate::ops::Plan;
use crate::ops::validate::{self, Oversize, Required};
use crate::ops::version::{self, Rules};
use crate::store::Change;

#[derive(Clone, Debug)]
pub struct PutIsa {
    /// The end is required; an open start means now (create) or unchanged (update).
    pub extents: Volume,
    pub url: RidUrl,
}

#[derive(Clone, Debug)]
pub struct IsaChange {
    pub isa: IdentificationServiceArea,
    pub subscribers: Vec<RidSubscriber>,
}

const RULES: Rules = Rules {
    kind: "identification service area",
    token: "version",
    taken_by_other: DssError::Conflict,
    update_missing: DssError::BadRequest,
};

pub(crate) fn put(
    space: &Airspace,
    caller: &Caller,
    id: EntityId,
    path_version: Option<&str>,
    req: PutIsa,
    now: Timestamp,
    limits: &Limits,
) -> Result<Plan<IsaChange>, DssError> {
    // The request must make sense on its own before it is compared with what exists.
    if req.extents.time.hi.is_none() {
        return Err(bad("extents.time_end is required"));
    }
    validate::volume(
        &req.extents,
        "extents",
        Required { time: false, altitude: false },
        Oversize::BadRequest,
        limits,
    )?;
    validate::base_url(&req.url.url, "the URL of the identification service area", limits)?;
    if let Some(v) = path_version {
        version_shape(v, "an identification service area")?;
    }
    let existing = space.isas.get(&id);
    version::check_put(
        &RULES,
        id,
        caller,
        path_version,
        existing.map(|e| (e.owner.as_str(), e.version.as_str())),
    )?;
    let old_start = existing.and_then(|e| e.extents.time.lo);
    let start = match req.extents.time.lo {
        Some(start) => {
            if old_start != Some(start) {
                validate::start_not_too_old(start, now, "extents.time_start", limits)?;
            }
            start
        }
        None => old_start.unwrap_or(now),
    };
    let end = req.extents.time.hi.unwrap_or(start);
    if end <= start {
        return Err(bad("extents: time_start must be before time_end"));
    }
    if end < now {
        return Err(bad("extents.time_end must not be in the past"));
    }
    let isa = IdentificationServiceArea {
        id,
        owner: caller.manager.clone(),
        version: new_token(),
        extents: Volume { time: Interval { lo: Some(start), hi: Some(end) }, ..req.extents },
        url: req.url,
        updated_at: now,
    };
    let mut areas = vec![&isa.extents];
    if let Some(e) = existing {
        areas.push(&e.extents);
    }
    let (mut changes, subscribers) = notify(space, &areas, now);
    changes.push(Change::PutIsa(isa.clone()));
    Ok(Plan { changes, output: IsaChange { isa, subscribers } })
}

pub(crate) fn delete(
    space: &Airspace,
    caller: &Caller,
    id: EntityId,
    version: &str,
    now: Timestamp,
) -> Result<Plan<IsaChange>, DssError> {
    version_shape(version, "an identification service area")?;
    let isa =
        version::check_delete(&RULES, id, caller, version, space.isas.get(&id), |e| (&e.owner, &e.version))?;
    let (mut changes, subscribers) = notify(space, &[&isa.extents], now);
    changes.push(Change::DeleteIsa(id));
    Ok(Plan { changes, output: IsaChange { isa: isa.clone(), subscribers } })
}

/// Expired ISAs too: only searches hide them.
pub(crate) fn get(space: &Airspace, id: EntityId) -> Result<IdentificationServiceArea, DssError> {
    space
        .isas
        .get(&id)
        .cloned()
        .ok_or_else(|| DssError::NotFound(format!("identification service area {id} does not exist")))
}
