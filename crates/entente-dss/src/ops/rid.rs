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
        let notification_index = s.notification_index.saturating_add(1);
        by_url
            .entry(s.url.clone())
            .or_default()
            .push(SubscriptionState { subscription_id: id, notification_index });
        changes.push(Change::SetNotificationIndex { id, notification_index });
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

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone, Utc};
    use entente_geo::{Interval, LatLng, Outline, Polygon};

    use super::isa::{self, PutIsa};
    use super::subscription::{self, PutRidSubscription};
    use super::*;
    use crate::caller::Caller;
    use crate::limits::Limits;
    use crate::model::{EntityId, RidApi};
    use crate::ops::{Plan, evict};

    fn now() -> Timestamp {
        Utc.with_ymd_and_hms(2030, 1, 1, 12, 0, 0).single().unwrap_or_default()
    }

    /// A square of about `size` degrees at (lat, 8.0), from `now` to `now + minutes`.
    fn volume(lat: f64, size: f64, minutes: i64) -> Volume {
        let p = |lat, lng| LatLng { lat, lng };
        let polygon = Polygon::new(vec![
            p(lat, 8.0),
            p(lat, 8.0 + size),
            p(lat + size, 8.0 + size),
            p(lat + size, 8.0),
        ]);
        Volume {
            outline: Outline::Polygon(polygon.unwrap_or_else(|e| panic!("test square: {e}"))),
            altitude: Interval { lo: Some(0.0), hi: Some(100.0) },
            time: Interval { lo: Some(now()), hi: Some(now() + Duration::minutes(minutes)) },
        }
    }

    fn url() -> RidUrl {
        RidUrl { api: RidApi::V22a, url: "https://uss.example.com".to_owned() }
    }

    fn apply<T>(space: &mut Airspace, plan: Result<Plan<T>, DssError>) -> T {
        let plan = plan.unwrap_or_else(|e| panic!("the write should pass: {e}"));
        for c in &plan.changes {
            space.apply(c);
        }
        plan.output
    }

    fn subscribe(space: &mut Airspace, owner: &str, lat: f64) -> EntityId {
        let id = EntityId::random();
        let req = PutRidSubscription { extents: volume(lat, 0.01, 60), url: url() };
        apply(
            space,
            subscription::put(space, &Caller::new(owner, []), id, None, req, now(), &Limits::default()),
        );
        id
    }

    #[test]
    fn isa_needs_an_end_and_a_recent_start() {
        let space = Airspace::default();
        let sp = Caller::new("sp", []);
        let limits = Limits::default();
        let mut open = volume(46.0, 0.01, 60);
        open.time.hi = None;
        let err = isa::put(
            &space,
            &sp,
            EntityId::random(),
            None,
            PutIsa { extents: open, url: url() },
            now(),
            &limits,
        );
        assert!(matches!(err, Err(DssError::BadRequest(m)) if m.contains("time_end")));
        let mut old = volume(46.0, 0.01, 60);
        old.time.lo = Some(now() - Duration::minutes(6));
        let err = isa::put(
            &space,
            &sp,
            EntityId::random(),
            None,
            PutIsa { extents: old, url: url() },
            now(),
            &limits,
        );
        assert!(matches!(err, Err(DssError::BadRequest(m)) if m.contains("time_start")));
    }

    #[test]
    fn isa_changes_bump_live_subscriptions_over_old_and_new_areas() {
        let mut space = Airspace::default();
        let here = subscribe(&mut space, "dp", 46.0);
        let north = subscribe(&mut space, "dp", 46.5);
        let sp = Caller::new("sp", []);
        let limits = Limits::default();
        let id = EntityId::random();
        let req = PutIsa { extents: volume(46.0, 0.02, 60), url: url() };
        let plan = isa::put(&space, &sp, id, None, req, now(), &limits);
        let created = apply(&mut space, plan);
        let bumped: Vec<_> = created.subscribers.iter().flat_map(|s| &s.subscriptions).collect();
        assert_eq!(bumped, vec![&SubscriptionState { subscription_id: here, notification_index: 1 }]);
        let version = created.isa.version.clone();
        let moved = PutIsa { extents: volume(46.5, 0.02, 60), url: url() };
        let plan = isa::put(&space, &sp, id, Some(&version), moved, now(), &limits);
        let updated = apply(&mut space, plan);
        let mut bumped: Vec<_> = updated.subscribers.iter().flat_map(|s| s.subscriptions.clone()).collect();
        bumped.sort_by_key(|s| s.subscription_id);
        let mut expected = vec![
            SubscriptionState { subscription_id: here, notification_index: 2 },
            SubscriptionState { subscription_id: north, notification_index: 1 },
        ];
        expected.sort_by_key(|s| s.subscription_id);
        assert_eq!(bumped, expected);
        // Once expired, a subscription hears nothing more.
        let later = now() + Duration::minutes(61);
        let (changes, subscribers) = notify(&space, &[&volume(46.0, 0.02, 120)], later);
        assert!(changes.is_empty() && subscribers.is_empty());
    }

    #[test]
    fn eleventh_subscription_of_an_owner_over_an_area_is_refused() {
        let mut space = Airspace::default();
        let ids: Vec<_> = (0..10).map(|_| subscribe(&mut space, "dp", 46.0)).collect();
        let limits = Limits::default();
        let dp = Caller::new("dp", []);
        let req = || PutRidSubscription { extents: volume(46.0, 0.01, 60), url: url() };
        let eleventh = subscription::put(&space, &dp, EntityId::random(), None, req(), now(), &limits);
        assert!(matches!(eleventh, Err(DssError::TooManySubscriptions(_))));
        // Another owner is not counted, and one of the ten may be updated in place.
        subscribe(&mut space, "other", 46.0);
        let version = space.rid_subscriptions[&ids[0]].version.clone();
        assert!(subscription::put(&space, &dp, ids[0], Some(&version), req(), now(), &limits).is_ok());
        // Elsewhere is fine.
        subscribe(&mut space, "dp", 47.0);
    }

    #[test]
    fn searches_never_return_expired_isas() {
        let mut space = Airspace::default();
        let sp = Caller::new("sp", []);
        let id = EntityId::random();
        let req = PutIsa { extents: volume(46.0, 0.01, 10), url: url() };
        let plan = isa::put(&space, &sp, id, None, req, now(), &Limits::default());
        apply(&mut space, plan);
        let search = |earliest| IsaSearch { area: volume(46.0, 0.02, 1), earliest, latest: None };
        assert_eq!(search_isas(&space, &search(None), now()).len(), 1);
        let later = now() + Duration::minutes(11);
        assert!(search_isas(&space, &search(Some(now())), later).is_empty());
        assert!(isa::get(&space, id).is_ok());
        // Eviction removes it once it has been over for long enough, not before.
        assert_eq!(evict::plan(&space, now(), usize::MAX).output.total(), 0);
        let plan = evict::plan(&space, later, usize::MAX);
        assert_eq!(plan.output, evict::Evicted { isas: 1, ..Default::default() });
        apply(&mut space, Ok(plan));
        assert!(isa::get(&space, id).is_err());
    }

    #[test]
    fn versions_in_paths_must_look_like_ours() {
        assert!(version_shape("0123456789abcdef0123456789abcdef", "an ISA").is_ok());
        assert!(matches!(version_shape("notacorrectversion", "an ISA"), Err(DssError::BadRequest(_))));
    }
}
