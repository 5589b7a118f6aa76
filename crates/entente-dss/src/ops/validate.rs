//! Input rules shared by every entity: volumes, areas, times and base URLs.

use chrono::Duration;
use entente_geo::{Outline, cells_cover};

use crate::error::{DssError, bad};
use crate::limits::Limits;
use crate::model::{Timestamp, Volume};

/// Which bounds a kind of entity must state.
#[derive(Clone, Copy)]
pub(crate) struct Required {
    pub(crate) time: bool,
    pub(crate) altitude: bool,
}

/// How an oversized area is answered: 400 for writes, 413 for queries.
#[derive(Clone, Copy)]
pub(crate) enum Oversize {
    BadRequest,
    TooLarge,
}

pub(crate) fn volume(
    v: &Volume,
    path: &str,
    required: Required,
    oversize: Oversize,
    limits: &Limits,
) -> Result<(), DssError> {
    if required.time {
        if v.time.lo.is_none() {
            return Err(bad(format!("{path}.time_start is required")));
        }
        if v.time.hi.is_none() {
            return Err(bad(format!("{path}.time_end is required")));
        }
    }
    if required.altitude {
        if v.altitude.lo.is_none() {
            return Err(bad(format!("{path}.volume.altitude_lower is required")));
        }
        if v.altitude.hi.is_none() {
            return Err(bad(format!("{path}.volume.altitude_upper is required")));
        }
    }
    if let (Some(lo), Some(hi)) = (v.altitude.lo, v.altitude.hi)
        && lo > hi
    {
        return Err(bad(format!(
            "{path}.volume: altitude_lower ({lo} m) must not be above altitude_upper ({hi} m)"
        )));
    }
    if let (Some(lo), Some(hi)) = (v.time.lo, v.time.hi)
        && lo > hi
    {
        return Err(bad(format!("{path}: time_start must not be after time_end")));
    }
    area(v, path, oversize, limits)
}

pub(crate) fn area(v: &Volume, path: &str, oversize: Oversize, limits: &Limits) -> Result<(), DssError> {
    let area = v.outline.area_m2();
    if area > limits.max_area_m2 {
        let message = format!(
            "{path}.volume: area of {:.1} km² exceeds the limit of {:.1} km²",
            area / 1e6,
            limits.max_area_m2 / 1e6
        );
        return Err(match oversize {
            Oversize::BadRequest => DssError::BadRequest(message),
            Oversize::TooLarge => DssError::AreaTooLarge(message),
        });
    }
    Ok(())
}

/// What a write's volumes are for, and so which bounds each must state: an operational intent all four (F3548),
/// a constraint its times.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteKind {
    OperationalIntent,
    Constraint,
}

impl WriteKind {
    fn required(self) -> Required {
        match self {
            WriteKind::OperationalIntent => Required { time: true, altitude: true },
            WriteKind::Constraint => Required { time: true, altitude: false },
        }
    }
}

/// The checks a write's volumes pass here, each error naming `path` and the rule: at least one and at most the
/// limit, required bounds, lower altitude not above upper, start not after end, area within the limit. Public so
/// that a USS refuses its caller's mistakes by the DSS's own rules before calling it.
pub fn check_write_volumes(
    volumes: &[Volume],
    path: &str,
    kind: WriteKind,
    limits: &Limits,
) -> Result<(), DssError> {
    if volumes.is_empty() {
        return Err(bad(format!("{path} must contain at least one volume")));
    }
    if volumes.len() > limits.max_extents {
        return Err(bad(format!(
            "{path} has {} volumes, more than the limit of {}",
            volumes.len(),
            limits.max_extents
        )));
    }
    for (i, v) in volumes.iter().enumerate() {
        volume(v, &format!("{path}[{i}]"), kind.required(), Oversize::BadRequest, limits)?;
    }
    Ok(())
}

/// The checks every intent or constraint write makes on its own input: volumes, not already over, base URL.
pub(crate) fn entity_write(
    extents: &[Volume],
    kind: WriteKind,
    uss_base_url: &str,
    what: &str,
    now: Timestamp,
    limits: &Limits,
) -> Result<(), DssError> {
    check_write_volumes(extents, "extents", kind, limits)?;
    not_ended(crate::model::time_span(extents).1, now, what)?;
    base_url(uss_base_url, "uss_base_url", limits)
}

fn not_ended(end: Option<Timestamp>, now: Timestamp, what: &str) -> Result<(), DssError> {
    match end {
        Some(end) if end < now => Err(bad(format!("extents: the {what} must not end in the past"))),
        _ => Ok(()),
    }
}

pub(crate) fn start_not_too_old(
    start: Timestamp,
    now: Timestamp,
    path: &str,
    limits: &Limits,
) -> Result<(), DssError> {
    if start < now - limits.max_start_in_past {
        return Err(bad(format!(
            "{path}: must not be more than {} minutes in the past",
            limits.max_start_in_past.num_minutes()
        )));
    }
    Ok(())
}

pub(crate) fn base_url(url: &str, field: &str, limits: &Limits) -> Result<(), DssError> {
    let rest = if let Some(rest) = url.strip_prefix("https://") {
        rest
    } else if let Some(rest) = url.strip_prefix("http://") {
        if !limits.allow_http_base_urls {
            return Err(bad(format!("{field} must use https")));
        }
        rest
    } else {
        return Err(bad(format!("{field} must be an absolute https URL")));
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if host.is_empty() || url.chars().any(|c| c.is_whitespace() || c.is_control()) || url.len() > 2048 {
        return Err(bad(format!("{field} is not a valid URL")));
    }
    Ok(())
}

/// Whether the subscription `outer` covers the intent `inner` as F3548 asks, in area and time (not altitude),
/// allowing the subscription to start up to `slack` after the intent (clock skew between USS and DSS).
/// Time: the subscription's span holds the intent's. Area: each intent outline lies within one subscription
/// outline, or every level-13 S2 cell it meets also meets a subscription outline, as InterUSS's DSS decides
/// ([`entente_geo::cells_cover`]); an intent may thus stick out of its subscription by up to a cell's width. That
/// cell walk is bounded ([`entente_geo::COVER_WORK_BUDGET`]): an intent too complex to decide cell by cell within
/// it must lie inside its subscription.
/// The fan-out makes up for the looseness: a subscription hears of every change relevant to an intent that
/// depends on it ([`super::txn::Txn::notify`]).
pub(crate) fn covers(outer: &[Volume], inner: &[Volume], slack: Duration) -> bool {
    let (outer_start, outer_end) = bounds(outer);
    let (inner_start, inner_end) = bounds(inner);
    let starts_in_time = match (outer_start, inner_start) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some(o), Some(i)) => o <= i + slack,
    };
    let ends_in_time = match (outer_end, inner_end) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some(o), Some(i)) => o >= i,
    };
    let outlines: Vec<&Outline> = outer.iter().map(|o| &o.outline).collect();
    starts_in_time
        && ends_in_time
        && inner.iter().all(|i| {
            outlines.iter().any(|o| o.contains_outline(&i.outline)) || cells_cover(&outlines, &i.outline)
        })
}

/// The earliest start and latest end of `extents`, each `None` when some volume is unbounded that way.
fn bounds(extents: &[Volume]) -> (Option<Timestamp>, Option<Timestamp>) {
    let start =
        extents.iter().map(|v| v.time.lo).collect::<Option<Vec<_>>>().and_then(|t| t.into_iter().min());
    let end = extents.iter().map(|v| v.time.hi).collect::<Option<Vec<_>>>().and_then(|t| t.into_iter().max());
    (start, end)
}
