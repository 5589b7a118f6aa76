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

fn owned<'a>(
    space: &'a Airspace,
    caller: &Caller,
    id: EntityId,
) -> Result<Option<&'a IdentificationServiceArea>, DssError> {
    match space.isas.get(&id) {
        Some(i) if i.owner != caller.manager => {
            Err(DssError::Forbidden(format!("identification service area {id} belongs to another USS")))
        }
        found => Ok(found),
    }
}

fn stale(id: EntityId) -> DssError {
    DssError::Conflict(format!(
        "the version in the path is not the current version of identification service area {id}"
    ))
}

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
    match (path_version, existing) {
        (None, Some(e)) if e.owner != caller.manager => {
            return Err(DssError::Conflict(format!(
                "identification service area {id} already exists and belongs to another USS"
            )));
        }
        (None, Some(_)) => {
            return Err(DssError::Conflict(format!(
                "identification service area {id} already exists; update it with its version in the path"
            )));
        }
        (Some(_), None) => {
            return Err(bad(format!(
                "identification service area {id} does not exist, so it cannot be updated"
            )));
        }
        (Some(_), Some(e)) if e.owner != caller.manager => {
            return Err(DssError::Forbidden(format!(
                "identification service area {id} belongs to another USS"
            )));
        }
        (Some(v), Some(e)) if e.version != v => return Err(stale(id)),
        _ => {}
    }
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
    let isa = owned(space, caller, id)?
        .ok_or_else(|| DssError::NotFound(format!("identification service area {id} does not exist")))?;
    if isa.version != version {
        return Err(stale(id));
    }
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
