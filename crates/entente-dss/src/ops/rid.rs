//! F3411 network Remote ID rules shared by both API versions: version tokens, the subscriber fan-out on ISA
//! changes, and the searches.

pub(crate) mod isa;
pub(crate) mod subscription;

use std::collections::BTreeMap;

use super::SubscriptionState;
use crate::airspace::Airspace;
use crate::error::{DssError, bad};
use crate::model::{
    IdentificationServiceArea, RidSubscription, RidUrl, Timestamp, Volume, is_token_shaped, volume_ended,
};
use crate::store::Change;

/// The RID subscriptions of one display provider endpoint that an ISA change must be reported to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RidSubscriber {
    /// The callback as the subscription's API gave it; the HTTP edge turns it into the notification URL.
    pub url: RidUrl,
    pub subscriptions: Vec<SubscriptionState>,
}

/// An ISA search: an area (open altitude and time), and the optional time filters of the query.
#[derive(Clone, Debug)]
pub struct IsaSearch {
    pub area: Volume,
    /// ISAs ending before this are not wanted; clamped to now, so expired ISAs never come back.
    pub earliest: Option<Timestamp>,
    /// ISAs starting after this are not wanted.
    pub latest: Option<Timestamp>,
}

/// A version in a path must look like one we issue: 400 otherwise, before anything is compared with it.
pub(crate) fn version_shape(version: &str, what: &str) -> Result<(), DssError> {
    if is_token_shaped(version) {
        Ok(())
    } else {
        Err(bad(format!("version {version:?} of {what} is not a version this DSS issues")))
    }
}

/// The outlines meet; altitude and time play no part in who hears about an ISA (as in InterUSS, whose cells
/// carry neither).
fn outlines_meet(a: &Volume, b: &Volume) -> bool {
    a.outline.intersects(&b.outline)
}

/// Bumps the notification index of every live RID subscription whose area meets one of `areas`, and returns
/// the changes and the subscribers grouped by callback.
pub(crate) fn notify(
    space: &Airspace,
    areas: &[&Volume],
    now: Timestamp,
) -> (Vec<Change>, Vec<RidSubscriber>) {
    let mut ids: Vec<_> = areas.iter().flat_map(|a| space.rid_subscription_candidates(a)).collect();
    ids.sort_unstable();
    ids.dedup();
    let mut changes = Vec::new();
    let mut by_url: BTreeMap<RidUrl, Vec<SubscriptionState>> = BTreeMap::new();
    for id in ids {
        let Some(s) = space.rid_subscriptions.get(&id) else { continue };
        if volume_ended(&s.extents, now) || !areas.iter().any(|a| outlines_meet(&s.extents, a)) {
            continue;
        }
        let mut s = s.clone();
        s.notification_index = s.notification_index.saturating_add(1);
        by_url
            .entry(s.url.clone())
            .or_default()
            .push(SubscriptionState { subscription_id: s.id, notification_index: s.notification_index });
        changes.push(Change::PutRidSubscription(s));
    }
    let subscribers =
        by_url.into_iter().map(|(url, subscriptions)| RidSubscriber { url, subscriptions }).collect();
    (changes, subscribers)
}

/// ISAs meeting `area` in space whose time range meets [`earliest`, `latest`] (either end open).
pub(crate) fn isas_in<'a>(
    space: &'a Airspace,
    area: &Volume,
    earliest: Timestamp,
    latest: Option<Timestamp>,
) -> Vec<&'a IdentificationServiceArea> {
    let mut found: Vec<&IdentificationServiceArea> = space
        .isa_candidates(area)
        .into_iter()
        .filter_map(|id| space.isas.get(&id))
        .filter(|i| {
            !volume_ended(&i.extents, earliest)
                && latest.is_none_or(|latest| i.extents.time.lo.is_none_or(|start| start <= latest))
                && outlines_meet(&i.extents, area)
        })
        .collect();
    found.sort_by_key(|i| i.id);
    found
}

pub(crate) fn search_isas(
    space: &Airspace,
    search: &IsaSearch,
    now: Timestamp,
) -> Vec<IdentificationServiceArea> {
    let earliest = search.earliest.map_or(now, |e| e.max(now));
    isas_in(space, &search.area, earliest, search.latest).into_iter().cloned().collect()
}

/// The caller's live RID subscriptions meeting `area`.
pub(crate) fn search_subscriptions(
    space: &Airspace,
    owner: &str,
    area: &Volume,
    now: Timestamp,
) -> Vec<RidSubscription> {
    let mut found: Vec<&RidSubscription> = space
        .rid_subscription_candidates(area)
        .into_iter()
        .filter_map(|id| space.rid_subscriptions.get(&id))
        .filter(|s| s.owner == owner && !volume_ended(&s.extents, now) && outlines_meet(&s.extents, area))
        .collect();
    found.sort_by_key(|s| s.id);
    found.into_iter().cloned().collect()
}
