//! What the operator, authority and flight planning APIs check of their caller's input before any call to the
//! DSS: the DSS's own rules and limits on a write's volumes, and what a USS adds (no empty time window, a known
//! constraint type), so that a caller's mistake is answered 400 naming the field and the rule, not handed to
//! the DSS and passed back as its failure.

use entente_dss::{Limits, WriteKind};
use entente_uss::Volume;
use entente_uss::service::check_volumes;
use entente_wire::{Volume4D, volumes_in};

use super::MAX_VERTICES;
use crate::error::ApiError;

/// F3548 CstrMaxVertices: an authority's zone has fewer vertices than a flight may.
const CSTR_MAX_VERTICES: usize = 1_000;

/// The kinds of restricted zone Entente declares; every one blocks every plan, whatever its priority.
pub(crate) const CONSTRAINT_TYPES: [&str; 4] = ["restricted", "prohibited", "event", "emergency"];

/// The volumes of a flight as an operator gives them: bounded in altitude and time as every intent volume must be
/// (F3548), within the DSS's limits, each lasting some time.
pub(super) fn flight_volumes(
    volumes: &[Volume4D],
    path: &str,
    limits: &Limits,
) -> Result<Vec<Volume>, ApiError> {
    checked(volumes_in(volumes, path, MAX_VERTICES)?, path, WriteKind::OperationalIntent, limits)
}

/// The volumes of a restricted zone: bounded in time, within the DSS's limits, each lasting some time.
pub(super) fn constraint_volumes(
    volumes: &[Volume4D],
    path: &str,
    limits: &Limits,
) -> Result<Vec<Volume>, ApiError> {
    checked(volumes_in(volumes, path, CSTR_MAX_VERTICES)?, path, WriteKind::Constraint, limits)
}

/// Volumes already in domain form (a route's, say) put through the same rules: the DSS's, and no empty time
/// window (the core's `check_volumes`, which a zone data set's constraints also go through).
pub(super) fn checked(
    volumes: Vec<Volume>,
    path: &str,
    kind: WriteKind,
    limits: &Limits,
) -> Result<Vec<Volume>, ApiError> {
    check_volumes(&volumes, path, kind, limits).map_err(ApiError::BadRequest)?;
    Ok(volumes)
}

/// A constraint's `type`, which F3548 leaves as a string naming the kind of airspace feature: one of Entente's
/// kinds, or a reverse domain name for a kind defined elsewhere (F3548's example:
/// `com.example.non_utm_aircraft_operations`).
pub(super) fn constraint_type(kind: Option<&str>, path: &str) -> Result<(), ApiError> {
    let Some(kind) = kind else { return Ok(()) };
    if CONSTRAINT_TYPES.contains(&kind) || is_reverse_domain_name(kind) {
        return Ok(());
    }
    Err(ApiError::bad(format!(
        "{path} {kind:?} is not a known kind of constraint: give one of {} or a reverse domain name such as \
         com.example.non_utm_aircraft_operations",
        CONSTRAINT_TYPES.join(", ")
    )))
}

/// Two or more dot-separated labels of lowercase letters, digits, `_` and `-`, at most 256 characters.
fn is_reverse_domain_name(name: &str) -> bool {
    let label = |l: &str| {
        !l.is_empty()
            && l.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
    };
    name.len() <= 256 && name.contains('.') && name.split('.').all(label)
}

#[cfg(test)]
mod tests {
    use super::constraint_type;

    #[test]
    fn constraint_types_are_entente_kinds_or_reverse_domain_names() {
        for good in [None, Some("restricted"), Some("event"), Some("com.example.non_utm_aircraft_operations")]
        {
            constraint_type(good, "type").unwrap();
        }
        for bad in ["banana", "", "Restricted", "com.", ".com", "com..example", "com.example/zone", "a b.c"] {
            let err = constraint_type(Some(bad), "type").unwrap_err();
            assert!(err.to_string().starts_with("type "), "{bad:?}: {err}");
        }
    }
}
