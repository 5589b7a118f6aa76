//! USS availability: a read-modify-write record per USS, set by the availability arbiter.

use super::Plan;
use crate::airspace::Airspace;
use crate::error::DssError;
use crate::model::{Availability, AvailabilityRecord, new_token};
use crate::store::Change;

/// A USS never set is `Unknown` with an empty version.
pub(crate) fn get(space: &Airspace, uss: &str) -> AvailabilityRecord {
    space.availability.get(uss).cloned().unwrap_or_else(|| AvailabilityRecord {
        uss: uss.to_owned(),
        availability: Availability::Unknown,
        version: String::new(),
    })
}

pub(crate) fn set(
    space: &Airspace,
    uss: &str,
    old_version: &str,
    availability: Availability,
) -> Result<Plan<AvailabilityRecord>, DssError> {
    let current = get(space, uss);
    if current.version != old_version {
        return Err(DssError::Conflict(format!(
            "old_version {old_version:?} is not the current version {:?} of the availability of {uss}",
            current.version
        )));
    }
    let record = AvailabilityRecord { uss: uss.to_owned(), availability, version: new_token() };
    Ok(Plan { changes: vec![Change::PutAvailability(record.clone())], output: record })
}
