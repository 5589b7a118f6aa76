//! The optimistic-concurrency rules every mutable entity shares: who may write it, and with which token.

use crate::caller::Caller;
use crate::error::DssError;
use crate::model::EntityId;

/// One kind of entity, and how its API answers the cases the standards leave open (InterUSS's answers).
pub(crate) struct Rules {
    pub(crate) kind: &'static str,
    /// "OVN" or "version": what the path carries to prove the writer saw the current state.
    pub(crate) token: &'static str,
    /// The answer to a create whose id another USS already uses.
    pub(crate) taken_by_other: fn(String) -> DssError,
    /// The answer to an update of an id that does not exist.
    pub(crate) update_missing: fn(String) -> DssError,
}

/// `existing` is the current (manager, token) of the entity, if there is one.
pub(crate) fn check_put(
    rules: &Rules,
    id: EntityId,
    caller: &Caller,
    path_token: Option<&str>,
    existing: Option<(&str, &str)>,
) -> Result<(), DssError> {
    let Rules { kind, token, .. } = rules;
    match (path_token, existing) {
        (None, Some((manager, _))) if manager != caller.manager => {
            Err((rules.taken_by_other)(format!("{kind} {id} already exists and belongs to another USS")))
        }
        (None, Some(_)) => Err(DssError::Conflict(format!(
            "{kind} {id} already exists; update it with its {token} in the path"
        ))),
        (Some(_), None) => {
            Err((rules.update_missing)(format!("{kind} {id} does not exist, so it cannot be updated")))
        }
        (Some(given), Some((manager, current))) => {
            check_owner_and_token(rules, id, caller, given, manager, current)
        }
        (None, None) => Ok(()),
    }
}

/// Returns the entity to delete once the caller manages it and named its current token.
pub(crate) fn check_delete<'a, T>(
    rules: &Rules,
    id: EntityId,
    caller: &Caller,
    path_token: &str,
    existing: Option<&'a T>,
    owner_and_token: impl Fn(&T) -> (&str, &str),
) -> Result<&'a T, DssError> {
    let Some(entity) = existing else {
        return Err(DssError::NotFound(format!("{} {id} does not exist", rules.kind)));
    };
    let (manager, current) = owner_and_token(entity);
    check_owner_and_token(rules, id, caller, path_token, manager, current)?;
    Ok(entity)
}

fn check_owner_and_token(
    rules: &Rules,
    id: EntityId,
    caller: &Caller,
    given: &str,
    manager: &str,
    current: &str,
) -> Result<(), DssError> {
    let Rules { kind, token, .. } = rules;
    if manager != caller.manager {
        return Err(DssError::Forbidden(format!("{kind} {id} is managed by another USS")));
    }
    if given != current {
        return Err(DssError::Conflict(format!(
            "the {token} in the path is not the current {token} of {kind} {id}"
        )));
    }
    Ok(())
}
