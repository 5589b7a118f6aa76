//! Unit tests of the F3548 rules, driven through [`Dss`] with a store that records every group it is asked
//! to commit and a clock the tests move by hand, so time-dependent rules are checked to the second.

mod coverage;
mod key_rule;
mod picture;

use std::fmt::Debug;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, Result, bail, ensure};
use chrono::{Duration, TimeZone, Utc};
use entente_geo::{Circle, Interval, LatLng, Outline, Polygon};
use parking_lot::Mutex;
use tokio::sync::oneshot;
use uuid::Uuid;

use crate::{
    Availability, Caller, Change, CommitTicket, Dss, DssError, EntityId, Evicted, Limits, ManualClock,
    NewSubscription, OirState, OperationalIntent, PutConstraint, PutOperationalIntent, PutSubscription,
    Scope, Snapshot, Store, StoreError, Subscriber, Subscription, SubscriptionState, Timestamp, Volume,
};

/// The tests' "now" until they move the clock: 2030-01-01T00:00:00Z.
fn t0() -> Timestamp {
    Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).single().expect("a valid date")
}

/// `minutes` after [`t0`].
fn at(minutes: i64) -> Timestamp {
    t0() + Duration::minutes(minutes)
}

/// Records each submitted group and resolves its ticket at once; `fail_next` makes the next commit fail.
#[derive(Default)]
struct RecordingStore {
    groups: Mutex<Vec<Vec<Change>>>,
    fail_next: AtomicBool,
}

impl Store for RecordingStore {
    fn load(&self) -> Result<Snapshot, StoreError> {
        Ok(Snapshot::default())
    }

    fn submit(&self, changes: Vec<Change>) -> CommitTicket {
        let (done, ticket) = oneshot::channel();
        let outcome = if self.fail_next.swap(false, Ordering::SeqCst) {
            Err(StoreError::Io("disk full".into()))
        } else {
            self.groups.lock().push(changes);
            Ok(())
        };
        let _ = done.send(outcome);
        ticket
    }
}

struct Harness {
    dss: Dss,
    store: Arc<RecordingStore>,
    clock: Arc<ManualClock>,
}

impl Harness {
    fn new() -> Result<Harness> {
        let store = Arc::new(RecordingStore::default());
        let clock = Arc::new(ManualClock::new(t0()));
        let dss = Dss::open(store.clone(), clock.clone(), Limits::default())?;
        Ok(Harness { dss, store, clock })
    }

    fn set_now(&self, t: Timestamp) {
        self.clock.set(t);
    }

    /// Every group submitted so far, oldest first.
    fn submitted(&self) -> Vec<Vec<Change>> {
        self.store.groups.lock().clone()
    }

    /// The groups submitted since the previous call.
    fn take(&self) -> Vec<Vec<Change>> {
        std::mem::take(&mut *self.store.groups.lock())
    }
}

const LAT: f64 = 47.0;
const LNG: f64 = 8.0;
const OIR_URL: &str = "https://uss.example/utm";

fn polygon(points: &[(f64, f64)]) -> Outline {
    let vertices = points.iter().map(|&(lat, lng)| LatLng::new(lat, lng)).collect();
    Outline::Polygon(Polygon::new(vertices).expect("a valid test polygon"))
}

/// An axis-aligned square of half-width `half` degrees around (`lat`, `lng`).
fn square(lat: f64, lng: f64, half: f64) -> Outline {
    polygon(&[
        (lat - half, lng - half),
        (lat - half, lng + half),
        (lat + half, lng + half),
        (lat + half, lng - half),
    ])
}

fn circle(lat: f64, lng: f64, radius_m: f64) -> Outline {
    Outline::Circle(Circle::new(LatLng::new(lat, lng), radius_m).expect("a valid test circle"))
}

fn vol(outline: Outline, alt: (f64, f64), time: (Timestamp, Timestamp)) -> Volume {
    Volume {
        outline,
        altitude: Interval { lo: Some(alt.0), hi: Some(alt.1) },
        time: Interval { lo: Some(time.0), hi: Some(time.1) },
    }
}

/// The intents' usual volume: a ~2 km square, 0–100 m, during the first hour.
fn here(time: (Timestamp, Timestamp)) -> Volume {
    vol(square(LAT, LNG, 0.01), (0.0, 100.0), time)
}

/// A subscription volume around the usual place, open in altitude.
fn sub_area(half: f64, start: Option<Timestamp>, end: Option<Timestamp>) -> Volume {
    Volume {
        outline: square(LAT, LNG, half),
        altitude: Interval { lo: None, hi: None },
        time: Interval { lo: start, hi: end },
    }
}

fn sc(manager: &str) -> Caller {
    Caller::new(manager, [Scope::StrategicCoordination])
}

fn sc_cp(manager: &str) -> Caller {
    Caller::new(manager, [Scope::StrategicCoordination, Scope::ConstraintProcessing])
}

fn sc_cmsa(manager: &str) -> Caller {
    Caller::new(manager, [Scope::StrategicCoordination, Scope::ConformanceMonitoringSa])
}

fn accepted(extents: Vec<Volume>, key: &[&str]) -> PutOperationalIntent {
    PutOperationalIntent {
        extents,
        key: key.iter().map(|k| k.to_string()).collect(),
        state: OirState::Accepted,
        uss_base_url: OIR_URL.into(),
        subscription_id: None,
        new_subscription: None,
        requested_ovn_suffix: None,
    }
}

fn with_new_subscription(
    mut req: PutOperationalIntent,
    url: &str,
    constraints: bool,
) -> PutOperationalIntent {
    req.new_subscription =
        Some(NewSubscription { uss_base_url: url.into(), notify_for_constraints: constraints });
    req
}

fn sub_req(extents: Volume, url: &str, intents: bool, constraints: bool) -> PutSubscription {
    PutSubscription {
        extents,
        uss_base_url: url.into(),
        notify_for_operational_intents: intents,
        notify_for_constraints: constraints,
    }
}

fn bad_request<T: Debug>(outcome: Result<T, DssError>) -> Result<String> {
    match outcome {
        Err(DssError::BadRequest(message)) => Ok(message),
        other => bail!("expected BadRequest, got {other:?}"),
    }
}

/// The ids a 409 lists as missing: (intents, constraints), each sorted.
fn missing<T: Debug>(outcome: Result<T, DssError>) -> Result<(Vec<EntityId>, Vec<EntityId>)> {
    match outcome {
        Err(DssError::AirspaceConflict(c)) => {
            let mut intents: Vec<EntityId> =
                c.missing_operational_intents.iter().map(|v| v.intent.id).collect();
            let mut constraints: Vec<EntityId> =
                c.missing_constraints.iter().map(|v| v.constraint.id).collect();
            intents.sort();
            constraints.sort();
            Ok((intents, constraints))
        }
        other => bail!("expected AirspaceConflict, got {other:?}"),
    }
}

/// What [`missing`] returns when only intents are missing.
fn intents_only(ids: Vec<EntityId>) -> (Vec<EntityId>, Vec<EntityId>) {
    (sorted(ids), Vec::new())
}

fn sorted(mut ids: Vec<EntityId>) -> Vec<EntityId> {
    ids.sort();
    ids
}

/// A UUIDv7 built by hand: 48 bits of Unix milliseconds, version 7, fixed random bits, RFC 4122 variant.
fn uuid_v7(minted: Timestamp) -> Uuid {
    let millis = u128::try_from(minted.timestamp_millis()).expect("a time after 1970");
    let rand_a: u128 = 0xabc;
    let rand_b: u128 = 0x1234_5678_9abc_def0 & ((1 << 62) - 1);
    Uuid::from_u128((millis << 80) | (0x7 << 76) | (rand_a << 64) | (0b10 << 62) | rand_b)
}

#[test]
fn hand_built_uuid_v7_carries_its_timestamp() {
    let minted = at(3) + Duration::milliseconds(456);
    let uuid = uuid_v7(minted);
    assert_eq!(uuid.get_version_num(), 7);
    assert_eq!(uuid.get_variant(), uuid::Variant::RFC4122);
    let (secs, nanos) = uuid.get_timestamp().expect("v7 has a timestamp").to_unix();
    assert_eq!((secs, nanos), (at(3).timestamp() as u64, 456_000_000));
}

#[tokio::test]
async fn creating_an_intent_submits_exactly_that_intent() -> Result<()> {
    let h = Harness::new()?;
    let id = EntityId::random();
    let extents =
        vec![here((at(0), at(60))), vol(circle(LAT, LNG + 0.05, 300.0), (50.0, 120.0), (at(30), at(90)))];
    let change = h.dss.put_intent(&sc("uss1"), id, None, accepted(extents.clone(), &[])).await?;
    let o = &change.intent.intent;
    assert!((16..=128).contains(&o.ovn.len()), "OVN length {}", o.ovn.len());
    let expected = OperationalIntent {
        id,
        manager: "uss1".into(),
        version: 1,
        state: OirState::Accepted,
        ovn: o.ovn.clone(),
        extents,
        uss_base_url: OIR_URL.into(),
        subscription_id: None,
        updated_at: t0(),
    };
    assert_eq!(**o, expected);
    assert!(change.intent.ovn_visible);
    assert_eq!(change.intent.availability, Availability::Unknown);
    assert!(change.subscribers.is_empty());
    assert_eq!(h.submitted(), vec![vec![Change::PutOperationalIntent(Arc::new(expected))]]);

    let seen = h.dss.get_intent(&sc("uss2"), id).await?;
    assert!(!seen.ovn_visible, "another USS must not see the OVN");
    assert_eq!(h.dss.counts(), (1, 0, 0));
    Ok(())
}

#[tokio::test]
async fn new_subscription_submits_the_implicit_subscription_then_the_intent() -> Result<()> {
    let h = Harness::new()?;
    let id = EntityId::random();
    // 30 hours: the 24 h cap of explicit subscriptions does not apply to implicit ones.
    let extents = vec![here((at(0), at(30 * 60)))];
    let url = "https://uss1.example/notify";
    let req = with_new_subscription(accepted(extents.clone(), &[]), url, false);
    let change = h.dss.put_intent(&sc("uss1"), id, None, req).await?;
    let o = &change.intent.intent;
    let sid = o.subscription_id.context("the intent names its implicit subscription")?;

    let groups = h.submitted();
    ensure!(groups.len() == 1, "one atomic group, got {groups:?}");
    // The notification is its own change even though the subscription is put in the same write: a shared
    // store counts notifications from these.
    let [
        Change::PutSubscription(s),
        Change::SetNotificationIndex { id: notified, notification_index: 1 },
        Change::PutOperationalIntent(put),
    ] = groups[0].as_slice()
    else {
        bail!("expected PutSubscription, its notification, then PutOperationalIntent, got {:?}", groups[0]);
    };
    assert_eq!(*notified, sid);
    let expected = Subscription {
        id: sid,
        manager: "uss1".into(),
        version: s.version.clone(),
        // The new subscription is told of the intent it was made for.
        notification_index: 1,
        extents,
        uss_base_url: url.into(),
        notify_for_operational_intents: true,
        notify_for_constraints: false,
        implicit: true,
        updated_at: t0(),
    };
    assert_eq!(s, &expected);
    assert_eq!(put, o);
    assert_eq!(
        change.subscribers,
        vec![Subscriber {
            uss_base_url: url.into(),
            subscriptions: vec![SubscriptionState { subscription_id: sid, notification_index: 1 }],
        }]
    );
    let view = h.dss.get_subscription(&sc("uss1"), sid).await?;
    assert_eq!(view.dependent_operational_intents, vec![id]);
    assert_eq!(view.subscription, expected);
    Ok(())
}

#[tokio::test]
async fn new_subscription_for_constraints_needs_constraint_processing() -> Result<()> {
    let h = Harness::new()?;
    let req =
        with_new_subscription(accepted(vec![here((at(0), at(60)))], &[]), "https://uss1.example/n", true);
    let outcome = h.dss.put_intent(&sc("uss1"), EntityId::random(), None, req.clone()).await;
    assert!(matches!(outcome, Err(DssError::Forbidden(_))), "{outcome:?}");
    assert_eq!(h.submitted(), Vec::<Vec<Change>>::new());
    let change = h.dss.put_intent(&sc_cp("uss1"), EntityId::random(), None, req).await?;
    let sid = change.intent.intent.subscription_id.context("implicit subscription")?;
    assert!(h.dss.get_subscription(&sc("uss1"), sid).await?.subscription.notify_for_constraints);
    Ok(())
}

#[tokio::test]
async fn notification_bumps_submit_the_next_index_alone() -> Result<()> {
    let h = Harness::new()?;
    let sid = EntityId::random();
    let url2 = "https://uss2.example/notify";
    let created = h
        .dss
        .put_subscription(
            &sc("uss2"),
            sid,
            None,
            sub_req(sub_area(0.05, None, Some(at(120))), url2, true, false),
        )
        .await?;
    let s0 = created.subscription.subscription.clone();
    assert_eq!((s0.notification_index, s0.implicit), (0, false));
    assert_eq!(created.operational_intents.map(|v| v.len()), Some(0));
    assert!(created.constraints.is_none());
    assert_eq!(h.take(), vec![vec![Change::PutSubscription(s0.clone())]]);

    let bumped = |index: i32| Subscription { notification_index: index, ..s0.clone() };
    // A notification stores the counter alone, not the whole subscription again.
    let bump = |index: i32| Change::SetNotificationIndex { id: sid, notification_index: index };
    let told = |index: i32| {
        vec![Subscriber {
            uss_base_url: url2.into(),
            subscriptions: vec![SubscriptionState { subscription_id: sid, notification_index: index }],
        }]
    };

    let id = EntityId::random();
    let c = h.dss.put_intent(&sc("uss1"), id, None, accepted(vec![here((at(0), at(60)))], &[])).await?;
    assert_eq!(c.subscribers, told(1));
    let o1 = c.intent.intent;
    assert_eq!(h.take(), vec![vec![bump(1), Change::PutOperationalIntent(o1.clone())]]);

    h.set_now(at(1));
    let u =
        h.dss.put_intent(&sc("uss1"), id, Some(&o1.ovn), accepted(vec![here((at(0), at(90)))], &[])).await?;
    let o2 = u.intent.intent;
    assert_eq!((o2.version, o2.updated_at), (2, at(1)));
    assert_ne!(o2.ovn, o1.ovn, "an update issues a new OVN");
    assert_eq!(u.subscribers, told(2));
    assert_eq!(h.take(), vec![vec![bump(2), Change::PutOperationalIntent(o2.clone())]]);

    let d = h.dss.delete_intent(&sc("uss1"), id, &o2.ovn).await?;
    assert_eq!(d.intent.intent, o2, "a delete answers with the reference as it was");
    assert_eq!(d.subscribers, told(3));
    assert_eq!(h.take(), vec![vec![bump(3), Change::DeleteOperationalIntent(id)]]);
    assert!(matches!(h.dss.get_intent(&sc("uss1"), id).await, Err(DssError::NotFound(_))));

    // Bumps leave the version alone; a client update changes it and keeps the index.
    let current = h.dss.get_subscription(&sc("uss2"), sid).await?.subscription;
    assert_eq!(current, bumped(3));
    let updated = h
        .dss
        .put_subscription(
            &sc("uss2"),
            sid,
            Some(&s0.version),
            sub_req(sub_area(0.06, None, None), url2, true, false),
        )
        .await?
        .subscription
        .subscription;
    assert_ne!(updated.version, s0.version);
    assert_eq!(updated.notification_index, 3);
    assert_eq!(updated.extents[0].time, Interval { lo: Some(t0()), hi: Some(at(120)) }, "old times kept");
    Ok(())
}

#[tokio::test]
async fn only_subscriptions_meeting_the_change_in_time_and_space_are_notified() -> Result<()> {
    let h = Harness::new()?;
    let uss2 = "https://uss2.example/notify";
    let uss3 = "https://uss3.example/notify";
    let subscribe = |area: Volume, url: &'static str, intents: bool, constraints: bool| {
        let id = EntityId::random();
        let caller = Caller::new("subscriber", [Scope::StrategicCoordination, Scope::ConstraintProcessing]);
        let dss = &h.dss;
        async move {
            dss.put_subscription(&caller, id, None, sub_req(area, url, intents, constraints)).await?;
            anyhow::Ok(id)
        }
    };
    let ends_before = subscribe(sub_area(0.05, Some(at(0)), Some(at(30))), uss2, true, false).await?;
    let touches_end = subscribe(sub_area(0.05, Some(at(60)), Some(at(90))), uss2, true, false).await?;
    let covers = subscribe(sub_area(0.05, Some(at(0)), Some(at(120))), uss2, true, false).await?;
    let other_uss = subscribe(sub_area(0.05, Some(at(40)), Some(at(50))), uss3, true, false).await?;
    let starts_after = subscribe(sub_area(0.05, Some(at(61)), Some(at(120))), uss3, true, false).await?;
    let constraints_only = subscribe(sub_area(0.05, Some(at(0)), Some(at(120))), uss3, false, true).await?;
    let far_away = {
        let mut area = sub_area(0.01, Some(at(0)), Some(at(120)));
        area.outline = square(LAT, LNG + 0.5, 0.01);
        subscribe(area, uss3, true, false).await?
    };
    h.take();

    let c = h
        .dss
        .put_intent(&sc("uss1"), EntityId::random(), None, accepted(vec![here((at(31), at(60)))], &[]))
        .await?;
    let mut on_uss2 = [touches_end, covers];
    on_uss2.sort();
    let expected = vec![
        Subscriber {
            uss_base_url: uss2.into(),
            subscriptions: on_uss2
                .iter()
                .map(|&subscription_id| SubscriptionState { subscription_id, notification_index: 1 })
                .collect(),
        },
        Subscriber {
            uss_base_url: uss3.into(),
            subscriptions: vec![SubscriptionState { subscription_id: other_uss, notification_index: 1 }],
        },
    ];
    assert_eq!(c.subscribers, expected);
    for quiet in [ends_before, starts_after, constraints_only, far_away] {
        assert_eq!(
            h.dss
                .get_subscription(&Caller::new("subscriber", []), quiet)
                .await?
                .subscription
                .notification_index,
            0
        );
    }
    let groups = h.take();
    ensure!(groups.len() == 1);
    let mut put_subscriptions: Vec<EntityId> = groups[0]
        .iter()
        .filter_map(|c| match c {
            Change::SetNotificationIndex { id, notification_index: 1 } => Some(*id),
            _ => None,
        })
        .collect();
    put_subscriptions.sort();
    assert_eq!(put_subscriptions, sorted(vec![touches_end, covers, other_uss]));
    Ok(())
}

/// An L-shaped intent and a small one in its notch, apart but inside its convex hull: each is relevant to the
/// other, so queries report it and changes notify its subscription, while neither needs the other's OVN.
#[tokio::test]
async fn relevant_neighbours_are_reported_and_notified_but_never_required_in_keys() -> Result<()> {
    let h = Harness::new()?;
    let hour = (at(0), at(60));
    let l_shape = polygon(&[
        (LAT, LNG),
        (LAT, LNG + 0.02),
        (LAT + 0.01, LNG + 0.02),
        (LAT + 0.01, LNG + 0.01),
        (LAT + 0.02, LNG + 0.01),
        (LAT + 0.02, LNG),
    ]);
    let notch = square(LAT + 0.0125, LNG + 0.0125, 0.001);
    let uss2 = "https://uss2.example/notify";
    let around = h
        .dss
        .put_intent(
            &sc("uss2"),
            EntityId::random(),
            None,
            with_new_subscription(accepted(vec![vol(l_shape, (0.0, 100.0), hour)], &[]), uss2, false),
        )
        .await?;
    let (around_id, around_sub) =
        (around.intent.intent.id, around.intent.intent.subscription_id.context("implicit subscription")?);

    let inside = vec![vol(notch.clone(), (50.0, 100.0), hour)];
    assert!(!crate::any_intersect(&around.intent.intent.extents, &inside), "the test needs them apart");
    let reported: Vec<EntityId> =
        h.dss.query_intents(&sc("uss1"), &inside[0]).await?.into_iter().map(|v| v.intent.id).collect();
    assert_eq!(reported, vec![around_id], "the query reports the relevant neighbour");

    let planned =
        h.dss.put_intent(&sc("uss1"), EntityId::random(), None, accepted(inside.clone(), &[])).await?;
    assert_eq!(
        planned.subscribers,
        vec![Subscriber {
            uss_base_url: uss2.into(),
            subscriptions: vec![SubscriptionState { subscription_id: around_sub, notification_index: 2 }],
        }],
        "an empty key is enough, and the neighbour's subscription hears of the new intent"
    );
    let found = h.dss.query_subscriptions(&sc("uss2"), &inside[0]).await?;
    assert_eq!(found.iter().map(|v| v.subscription.id).collect::<Vec<_>>(), vec![around_sub]);

    let watched = h
        .dss
        .put_subscription(
            &sc("uss3"),
            EntityId::random(),
            None,
            sub_req(inside[0].clone(), uss2, true, false),
        )
        .await?;
    let mut told: Vec<EntityId> =
        watched.operational_intents.context("intents")?.iter().map(|v| v.intent.id).collect();
    told.sort();
    assert_eq!(told, sorted(vec![around_id, planned.intent.intent.id]));

    // Outside the hull, or above the L-shape in the notch: not relevant, so neither reported nor notified.
    let outside = vol(square(LAT + 0.0185, LNG + 0.0185, 0.001), (0.0, 100.0), hour);
    let above = vol(notch, (101.0, 150.0), hour);
    for area in [outside, above] {
        let reported = h.dss.query_intents(&sc("uss3"), &area).await?;
        assert!(reported.iter().all(|v| v.intent.id != around_id), "{area:?}");
        let change =
            h.dss.put_intent(&sc("uss3"), EntityId::random(), None, accepted(vec![area], &[])).await?;
        assert!(
            change.subscribers.iter().flat_map(|s| &s.subscriptions).all(|s| s.subscription_id != around_sub)
        );
    }
    Ok(())
}

#[tokio::test]
async fn expired_subscriptions_are_not_notified_nor_listed() -> Result<()> {
    let h = Harness::new()?;
    let sid = EntityId::random();
    let url = "https://uss2.example/notify";
    h.dss
        .put_subscription(
            &sc("uss2"),
            sid,
            None,
            sub_req(sub_area(0.05, None, Some(at(60))), url, true, false),
        )
        .await?;
    let extents = vec![here((at(0), at(180)))];
    let a = h.dss.put_intent(&sc("uss1"), EntityId::random(), None, accepted(extents.clone(), &[])).await?;
    assert_eq!(a.subscribers.len(), 1);
    let a_ovn = a.intent.intent.ovn.clone();

    // At its very end the subscription is still live.
    h.set_now(at(60));
    let b =
        h.dss.put_intent(&sc("uss1"), EntityId::random(), None, accepted(extents.clone(), &[&a_ovn])).await?;
    assert_eq!(
        b.subscribers,
        vec![Subscriber {
            uss_base_url: url.into(),
            subscriptions: vec![SubscriptionState { subscription_id: sid, notification_index: 2 }],
        }]
    );
    assert_eq!(h.dss.query_subscriptions(&sc("uss2"), &sub_area(0.05, None, None)).await?.len(), 1);

    // One second later it has expired.
    h.set_now(at(60) + Duration::seconds(1));
    h.take();
    let b_ovn = b.intent.intent.ovn.clone();
    let c =
        h.dss.put_intent(&sc("uss1"), EntityId::random(), None, accepted(extents, &[&a_ovn, &b_ovn])).await?;
    assert!(c.subscribers.is_empty());
    assert_eq!(h.take(), vec![vec![Change::PutOperationalIntent(c.intent.intent)]]);
    assert_eq!(h.dss.query_subscriptions(&sc("uss2"), &sub_area(0.05, None, None)).await?.len(), 0);
    Ok(())
}

#[tokio::test]
async fn an_ended_intent_is_neither_returned_nor_required_in_keys() -> Result<()> {
    let h = Harness::new()?;
    let a = h
        .dss
        .put_intent(&sc("uss1"), EntityId::random(), None, accepted(vec![here((at(0), at(60)))], &[]))
        .await?;
    let a_id = a.intent.intent.id;
    let b_req = || accepted(vec![here((at(30), at(120)))], &[]);
    let everywhere = sub_area(0.05, None, None);
    let queried = async |h: &Harness| -> Result<Vec<EntityId>> {
        Ok(h.dss.query_intents(&sc("uss2"), &everywhere).await?.into_iter().map(|v| v.intent.id).collect())
    };

    assert_eq!(
        missing(h.dss.put_intent(&sc("uss2"), EntityId::random(), None, b_req()).await)?,
        intents_only(vec![a_id])
    );
    // Its last instant still counts.
    h.set_now(at(60));
    assert_eq!(queried(&h).await?, vec![a_id]);
    assert_eq!(
        missing(h.dss.put_intent(&sc("uss2"), EntityId::random(), None, b_req()).await)?,
        intents_only(vec![a_id])
    );

    h.set_now(at(60) + Duration::seconds(1));
    assert!(queried(&h).await?.is_empty());
    let before = h.submitted().len();
    let b = h.dss.put_intent(&sc("uss2"), EntityId::random(), None, b_req()).await?;
    assert_eq!(queried(&h).await?, vec![b.intent.intent.id]);
    assert_eq!(h.submitted().len(), before + 1);
    Ok(())
}

#[tokio::test]
async fn the_key_needs_every_intersecting_ovn_touching_included() -> Result<()> {
    let h = Harness::new()?;
    let put = |manager: &str, extents: Vec<Volume>, key: Vec<String>| {
        let caller = sc(manager);
        let dss = &h.dss;
        async move {
            let key: Vec<&str> = key.iter().map(String::as_str).collect();
            dss.put_intent(&caller, EntityId::random(), None, accepted(extents, &key)).await
        }
    };
    let a = put("uss1", vec![here((at(0), at(60)))], vec![]).await?.intent.intent;
    // B touches A's ceiling.
    let b_extents = vec![vol(square(LAT + 0.005, LNG, 0.01), (100.0, 200.0), (at(0), at(60)))];
    assert_eq!(missing(put("uss2", b_extents.clone(), vec![]).await)?, intents_only(vec![a.id]));
    let b = put("uss2", b_extents, vec![a.ovn.clone()]).await?.intent.intent;
    // C starts the instant A and B end, and omits B.
    let c_extents = vec![here((at(60), at(120)))];
    assert_eq!(missing(put("uss3", c_extents.clone(), vec![a.ovn.clone()]).await)?, intents_only(vec![b.id]));
    // Extra and unknown OVNs in the key are ignored.
    let key = vec!["unknown-ovn-0123456789".into(), a.ovn.clone(), b.ovn.clone(), a.ovn.clone()];
    let c = put("uss3", c_extents, key).await?.intent.intent;
    // Apart in altitude, in time or in space: no key needed.
    put("uss4", vec![vol(square(LAT, LNG, 0.01), (200.5, 300.0), (at(0), at(120)))], vec![]).await?;
    put("uss4", vec![here((at(121), at(180)))], vec![]).await?;
    put("uss4", vec![vol(square(LAT, LNG + 0.5, 0.01), (0.0, 300.0), (at(0), at(120)))], vec![]).await?;
    // D shares A's eastern edge (and only overlaps A in altitude and time).
    let d_extents = vec![vol(
        polygon(&[
            (LAT - 0.01, LNG + 0.01),
            (LAT - 0.01, LNG + 0.03),
            (LAT + 0.01, LNG + 0.03),
            (LAT + 0.01, LNG + 0.01),
        ]),
        (0.0, 50.0),
        (at(0), at(30)),
    )];
    assert_eq!(missing(put("uss5", d_extents.clone(), vec![]).await)?, intents_only(vec![a.id]));
    let d = put("uss5", d_extents, vec![a.ovn.clone()]).await?.intent.intent;

    // A's own OVN is never needed in its own key; all the others are, and one missing is named.
    let uss1 = sc("uss1");
    let update = |key: &[&str]| {
        h.dss.put_intent(&uss1, a.id, Some(&a.ovn), accepted(vec![here((at(0), at(60)))], key))
    };
    assert_eq!(missing(update(&[&b.ovn, &c.ovn]).await)?, intents_only(vec![d.id]));
    let a2 = update(&[&b.ovn, &c.ovn, &d.ovn]).await?.intent.intent;
    assert_eq!(a2.version, 2);
    // The old OVN is now stale, for updates and deletes alike.
    let stale =
        h.dss.put_intent(&sc("uss1"), a.id, Some(&a.ovn), accepted(vec![here((at(0), at(60)))], &[])).await;
    assert!(matches!(stale, Err(DssError::Conflict(_))), "{stale:?}");
    let stale = h.dss.delete_intent(&sc("uss1"), a.id, &a.ovn).await;
    assert!(matches!(stale, Err(DssError::Conflict(_))), "{stale:?}");
    Ok(())
}

#[tokio::test]
async fn rejected_requests_submit_nothing_and_change_nothing() -> Result<()> {
    let h = Harness::new()?;
    let a = h
        .dss
        .put_intent(&sc("uss1"), EntityId::random(), None, accepted(vec![here((at(0), at(60)))], &[]))
        .await?;
    let a = a.intent.intent;
    let groups = h.submitted();
    let counts = h.dss.counts();
    let new = EntityId::random();

    missing(h.dss.put_intent(&sc("uss2"), new, None, accepted(vec![here((at(0), at(60)))], &[])).await)?;
    // Ends in the past.
    h.set_now(at(61));
    bad_request(h.dss.put_intent(&sc("uss2"), new, None, accepted(vec![here((at(0), at(60)))], &[])).await)?;
    h.set_now(t0());
    // Created directly in Activated, or off-nominal without the CMSA scope.
    let mut activated =
        with_new_subscription(accepted(vec![here((at(0), at(60)))], &[&a.ovn]), OIR_URL, false);
    activated.state = OirState::Activated;
    bad_request(h.dss.put_intent(&sc("uss2"), new, None, activated).await)?;
    let mut nonconforming = accepted(vec![here((at(0), at(60)))], &[&a.ovn]);
    nonconforming.state = OirState::Nonconforming;
    let outcome = h.dss.put_intent(&sc("uss2"), new, None, nonconforming).await;
    assert!(matches!(outcome, Err(DssError::Forbidden(_))), "{outcome:?}");
    // Update by a USS other than the manager.
    let outcome =
        h.dss.put_intent(&sc("uss2"), a.id, Some(&a.ovn), accepted(vec![here((at(0), at(60)))], &[])).await;
    assert!(matches!(outcome, Err(DssError::Forbidden(_))), "{outcome:?}");
    let outcome = h.dss.delete_intent(&sc("uss2"), a.id, &a.ovn).await;
    assert!(matches!(outcome, Err(DssError::Forbidden(_))), "{outcome:?}");
    // Activated without any subscription.
    let mut activated = accepted(vec![here((at(0), at(60)))], &[]);
    activated.state = OirState::Activated;
    bad_request(h.dss.put_intent(&sc("uss1"), a.id, Some(&a.ovn), activated).await)?;
    // Both subscription fields at once.
    let mut both = with_new_subscription(accepted(vec![here((at(0), at(60)))], &[&a.ovn]), OIR_URL, false);
    both.subscription_id = Some(EntityId::random());
    bad_request(h.dss.put_intent(&sc("uss2"), new, None, both).await)?;
    // Create over an existing id.
    let outcome = h.dss.put_intent(&sc("uss1"), a.id, None, accepted(vec![here((at(0), at(60)))], &[])).await;
    assert!(matches!(outcome, Err(DssError::Conflict(_))), "{outcome:?}");

    assert_eq!(h.submitted(), groups);
    assert_eq!(h.dss.counts(), counts);
    assert!(matches!(h.dss.get_intent(&sc("uss2"), new).await, Err(DssError::NotFound(_))));
    assert_eq!(h.dss.get_intent(&sc("uss1"), a.id).await?.intent, a);
    Ok(())
}

#[tokio::test]
async fn requested_ovn_suffix_must_be_a_recent_uuid_v7() -> Result<()> {
    let h = Harness::new()?;
    h.set_now(at(30));
    let put = |suffix: String, place: u32| {
        let spot = circle(LAT, LNG + 0.01 * f64::from(place), 50.0);
        let mut req = accepted(vec![vol(spot, (0.0, 10.0), (at(30), at(31)))], &[]);
        req.requested_ovn_suffix = Some(suffix);
        let id = EntityId::random();
        let dss = &h.dss;
        async move { (id, dss.put_intent(&sc("uss1"), id, None, req).await) }
    };

    for (place, minted) in (0..).zip([at(26), at(34), at(25), at(35)]) {
        let suffix = uuid_v7(minted).hyphenated().to_string();
        let (id, outcome) = put(suffix.clone(), place).await;
        let o = outcome.with_context(|| format!("suffix minted at {minted}"))?.intent.intent;
        assert_eq!(o.ovn, format!("{id}_{suffix}"));
        assert_eq!(h.take(), vec![vec![Change::PutOperationalIntent(o)]]);
    }

    let old = at(25) - Duration::milliseconds(1);
    let new = at(35) + Duration::milliseconds(1);
    let rejected = [
        uuid_v7(old).to_string(),
        uuid_v7(new).to_string(),
        Uuid::from_u128(0x2f83_43be_6482_4d1b_a474_1684_7e01_af1e).to_string(),
        "not-a-uuid".to_string(),
        String::new(),
    ];
    for suffix in rejected {
        let message =
            bad_request(put(suffix.clone(), 9).await.1).with_context(|| format!("suffix {suffix:?}"))?;
        assert!(message.contains("requested_ovn_suffix"), "{message}");
    }
    assert_eq!(h.take(), Vec::<Vec<Change>>::new());

    // Every update needs a new OVN, so a suffix cannot be reused.
    let suffix = uuid_v7(at(30)).hyphenated().to_string();
    let (id, outcome) = put(suffix.clone(), 20).await;
    let first = outcome?.intent.intent;
    let mut again = accepted(first.extents.clone(), &[]);
    again.requested_ovn_suffix = Some(suffix);
    let message = bad_request(h.dss.put_intent(&sc("uss1"), id, Some(&first.ovn), again).await)?;
    assert!(message.contains("new OVN"), "{message}");
    Ok(())
}

#[tokio::test]
async fn subscription_start_and_duration_limits() -> Result<()> {
    let h = Harness::new()?;
    let url = "https://uss1.example/notify";
    let put = |start: Option<Timestamp>, end: Option<Timestamp>| {
        let id = EntityId::random();
        let dss = &h.dss;
        async move {
            dss.put_subscription(&sc("uss1"), id, None, sub_req(sub_area(0.05, start, end), url, true, false))
                .await
        }
    };
    let time_of = |put: crate::SubscriptionPut| put.subscription.subscription.extents[0].time;

    let too_old = t0() - Duration::minutes(5) - Duration::seconds(1);
    assert!(bad_request(put(Some(too_old), None).await)?.contains("time_start"));
    let oldest = t0() - Duration::minutes(5);
    assert_eq!(
        time_of(put(Some(oldest), None).await?),
        Interval { lo: Some(oldest), hi: Some(oldest + Duration::hours(24)) }
    );
    assert_eq!(time_of(put(None, None).await?), Interval { lo: Some(t0()), hi: Some(at(24 * 60)) });
    assert_eq!(time_of(put(Some(at(60)), None).await?), Interval { lo: Some(at(60)), hi: Some(at(25 * 60)) });
    assert_eq!(
        time_of(put(None, Some(at(24 * 60))).await?),
        Interval { lo: Some(t0()), hi: Some(at(24 * 60)) }
    );
    let over = at(24 * 60) + Duration::seconds(1);
    assert!(bad_request(put(None, Some(over)).await)?.contains("24 hours"));
    assert!(bad_request(put(Some(at(-4)), Some(at(-1))).await)?.contains("past"));
    bad_request(put(Some(at(30)), Some(at(20))).await)?;
    let accepted_so_far = h.submitted().len();
    assert_eq!(accepted_so_far, 4);

    // Updates: the old start and end are kept when left out, and the cap still applies.
    let id = EntityId::random();
    let s = h
        .dss
        .put_subscription(&sc("uss1"), id, None, sub_req(sub_area(0.05, None, None), url, true, false))
        .await?;
    let version = s.subscription.subscription.version;
    h.set_now(at(10));
    let extend = sub_req(sub_area(0.05, None, Some(over)), url, true, false);
    assert!(
        bad_request(h.dss.put_subscription(&sc("uss1"), id, Some(&version), extend).await)?
            .contains("24 hours")
    );
    // The unchanged start is now 10 minutes old, which is fine; moving it to 6 minutes ago is not.
    let same_start = sub_req(sub_area(0.05, Some(t0()), Some(at(60))), url, true, false);
    let s = h.dss.put_subscription(&sc("uss1"), id, Some(&version), same_start).await?;
    assert_eq!(time_of(s.clone()), Interval { lo: Some(t0()), hi: Some(at(60)) });
    let version = s.subscription.subscription.version;
    let moved = sub_req(sub_area(0.05, Some(at(4)), None), url, true, false);
    bad_request(h.dss.put_subscription(&sc("uss1"), id, Some(&version), moved).await)?;
    let kept = h
        .dss
        .put_subscription(
            &sc("uss1"),
            id,
            Some(&version),
            sub_req(sub_area(0.05, None, None), url, true, false),
        )
        .await?;
    assert_eq!(time_of(kept), Interval { lo: Some(t0()), hi: Some(at(60)) });
    assert_eq!(h.submitted().len(), accepted_so_far + 3);
    Ok(())
}

#[tokio::test]
async fn a_subscription_with_dependents_cannot_be_deleted_or_shrunk() -> Result<()> {
    let h = Harness::new()?;
    let sid = EntityId::random();
    let url = "https://uss1.example/notify";
    let s = h
        .dss
        .put_subscription(
            &sc("uss1"),
            sid,
            None,
            sub_req(sub_area(0.02, None, Some(at(120))), url, true, false),
        )
        .await?;
    let version = s.subscription.subscription.version;
    let mut req = accepted(vec![here((at(0), at(60)))], &[]);
    req.subscription_id = Some(sid);
    let o = h.dss.put_intent(&sc("uss1"), EntityId::random(), None, req).await?.intent.intent;
    assert_eq!(h.dss.get_subscription(&sc("uss1"), sid).await?.dependent_operational_intents, vec![o.id]);
    // An explicit subscription is not grown to fit.
    let mut outside = accepted(vec![vol(square(LAT, LNG + 0.1, 0.01), (0.0, 100.0), (at(0), at(60)))], &[]);
    outside.subscription_id = Some(sid);
    bad_request(h.dss.put_intent(&sc("uss1"), EntityId::random(), None, outside).await)?;
    let groups = h.submitted();

    bad_request(h.dss.delete_subscription(&sc("uss1"), sid, &version).await)?;
    let shrink = sub_req(sub_area(0.005, None, None), url, true, false);
    bad_request(h.dss.put_subscription(&sc("uss1"), sid, Some(&version), shrink).await)?;
    let too_short = sub_req(sub_area(0.02, None, Some(at(59))), url, true, false);
    bad_request(h.dss.put_subscription(&sc("uss1"), sid, Some(&version), too_short).await)?;
    // Its intents rely on it for their notifications.
    let constraints_only = sub_req(sub_area(0.02, None, Some(at(120))), url, false, true);
    let message =
        bad_request(h.dss.put_subscription(&sc_cp("uss1"), sid, Some(&version), constraints_only).await)?;
    assert!(message.contains("notify_for_operational_intents"), "{message}");
    assert_eq!(h.submitted(), groups);

    h.dss.delete_intent(&sc("uss1"), o.id, &o.ovn).await?;
    let version = h.dss.get_subscription(&sc("uss1"), sid).await?.subscription.version;
    h.dss.delete_subscription(&sc("uss1"), sid, &version).await?;
    assert_eq!(h.submitted().last(), Some(&vec![Change::DeleteSubscription(sid)]));
    Ok(())
}

#[tokio::test]
async fn an_implicit_subscription_grows_and_goes_with_its_last_intent() -> Result<()> {
    let h = Harness::new()?;
    let url = "https://uss1.example/notify";
    let a_req = with_new_subscription(accepted(vec![here((at(0), at(60)))], &[]), url, false);
    let a = h.dss.put_intent(&sc("uss1"), EntityId::random(), None, a_req).await?.intent.intent;
    let sid = a.subscription_id.context("implicit subscription")?;
    // B, elsewhere and later, names it: the implicit subscription grows to cover B.
    let b_extents = vec![vol(square(LAT, LNG + 0.1, 0.01), (0.0, 100.0), (at(60), at(300)))];
    let mut b_req = accepted(b_extents.clone(), &[]);
    b_req.subscription_id = Some(sid);
    let b = h.dss.put_intent(&sc("uss1"), EntityId::random(), None, b_req).await?;
    let s = h.dss.get_subscription(&sc("uss1"), sid).await?;
    assert_eq!(s.subscription.extents, vec![here((at(0), at(60))), b_extents[0].clone()]);
    assert_eq!(s.subscription.notification_index, 2);
    assert_eq!(s.dependent_operational_intents, sorted(vec![a.id, b.intent.intent.id]));
    let b = b.intent.intent;
    h.take();

    h.dss.delete_intent(&sc("uss1"), a.id, &a.ovn).await?;
    let kept = Change::SetNotificationIndex { id: sid, notification_index: 3 };
    assert_eq!(h.take(), vec![vec![kept, Change::DeleteOperationalIntent(a.id)]]);

    let d = h.dss.delete_intent(&sc("uss1"), b.id, &b.ovn).await?;
    assert!(d.subscribers.is_empty(), "the deleted subscription is not notified");
    assert_eq!(h.take(), vec![vec![Change::DeleteSubscription(sid), Change::DeleteOperationalIntent(b.id)]]);
    assert!(matches!(h.dss.get_subscription(&sc("uss1"), sid).await, Err(DssError::NotFound(_))));
    assert_eq!(h.dss.counts(), (0, 0, 0));
    Ok(())
}

#[tokio::test]
async fn switching_subscription_releases_the_old_implicit_one() -> Result<()> {
    let h = Harness::new()?;
    let url = "https://uss1.example/notify";
    let extents = vec![here((at(0), at(60)))];
    let a = h
        .dss
        .put_intent(
            &sc("uss1"),
            EntityId::random(),
            None,
            with_new_subscription(accepted(extents.clone(), &[]), url, false),
        )
        .await?;
    let a = a.intent.intent;
    let old = a.subscription_id.context("implicit subscription")?;
    h.take();
    let u = h.dss.put_intent(&sc("uss1"), a.id, Some(&a.ovn), accepted(extents, &[])).await?.intent.intent;
    assert_eq!(u.subscription_id, None);
    assert_eq!(h.take(), vec![vec![Change::DeleteSubscription(old), Change::PutOperationalIntent(u)]]);
    Ok(())
}

#[tokio::test]
async fn constraints_notify_their_subscribers_and_enter_keys_of_constraint_processors() -> Result<()> {
    let h = Harness::new()?;
    let for_constraints = EntityId::random();
    let for_intents = EntityId::random();
    let url = "https://uss2.example/notify";
    let s = h
        .dss
        .put_subscription(
            &sc_cp("uss2"),
            for_constraints,
            None,
            sub_req(sub_area(0.05, None, None), url, false, true),
        )
        .await?;
    assert_eq!(s.subscription.subscription.notification_index, 0);
    h.dss
        .put_subscription(
            &sc("uss2"),
            for_intents,
            None,
            sub_req(sub_area(0.05, None, None), url, true, false),
        )
        .await?;
    h.take();

    let cid = EntityId::random();
    let cm = Caller::new("authority", [Scope::ConstraintManagement]);
    let req = PutConstraint {
        extents: vec![here((at(0), at(60)))],
        uss_base_url: "https://authority.example/c".into(),
    };
    let c = h.dss.put_constraint(&cm, cid, None, req).await?;
    assert_eq!(
        c.subscribers,
        vec![Subscriber {
            uss_base_url: url.into(),
            subscriptions: vec![SubscriptionState {
                subscription_id: for_constraints,
                notification_index: 1
            }],
        }]
    );
    let constraint = c.constraint.constraint;
    assert_eq!(constraint.version, 1);
    assert_eq!(
        h.take(),
        vec![vec![
            Change::SetNotificationIndex { id: for_constraints, notification_index: 1 },
            Change::PutConstraint(constraint.clone())
        ]]
    );

    // Without constraint processing the constraint is not part of the key.
    let plain = accepted(vec![here((at(0), at(60)))], &[]);
    let plain = h.dss.put_intent(&sc("uss1"), EntityId::random(), None, plain).await?.intent.intent;
    // With it, the constraint's OVN is required, next to that of the intent it touches at minute 60.
    let processing = with_new_subscription(accepted(vec![here((at(60), at(65)))], &[]), url, true);
    let id = EntityId::random();
    let outcome = h.dss.put_intent(&sc_cp("uss3"), id, None, processing.clone()).await;
    assert_eq!(missing(outcome)?, (vec![plain.id], vec![cid]));
    let mut with_key = processing;
    with_key.key = vec![plain.ovn.clone(), constraint.ovn.clone()];
    h.dss.put_intent(&sc_cp("uss3"), id, None, with_key).await?;
    Ok(())
}

#[tokio::test]
async fn a_down_uss_may_not_plan_and_its_accepted_intents_need_no_key() -> Result<()> {
    let h = Harness::new()?;
    let uss2 = sc_cmsa("uss2");
    let a = h
        .dss
        .put_intent(&uss2, EntityId::random(), None, accepted(vec![here((at(0), at(60)))], &[]))
        .await?
        .intent
        .intent;
    let b = h
        .dss
        .put_intent(&uss2, EntityId::random(), None, accepted(vec![here((at(0), at(60)))], &[&a.ovn]))
        .await?
        .intent
        .intent;
    let mut activate =
        with_new_subscription(accepted(vec![here((at(0), at(60)))], &[&a.ovn]), OIR_URL, false);
    activate.state = OirState::Activated;
    let b = h.dss.put_intent(&uss2, b.id, Some(&b.ovn), activate).await?.intent.intent;
    let record = h.dss.set_availability("uss2", "", Availability::Down).await?;
    assert_eq!(record.availability, Availability::Down);
    assert_eq!(h.dss.get_intent(&sc("uss1"), a.id).await?.availability, Availability::Down);
    let groups = h.submitted();

    let outcome = h
        .dss
        .put_intent(&uss2, EntityId::random(), None, accepted(vec![here((at(0), at(60)))], &[&a.ovn, &b.ovn]))
        .await;
    assert!(matches!(outcome, Err(DssError::UssDown(_))), "{outcome:?}");
    let outcome = h.dss.delete_intent(&uss2, a.id, &a.ovn).await;
    assert!(matches!(outcome, Err(DssError::UssDown(_))), "{outcome:?}");
    assert_eq!(h.submitted(), groups);

    // Another USS may plan over A (Accepted) without its OVN, but not over B (Activated).
    let c_req = |key: &[&str]| accepted(vec![here((at(0), at(60)))], key);
    let c = EntityId::random();
    assert_eq!(missing(h.dss.put_intent(&sc("uss1"), c, None, c_req(&[])).await)?, intents_only(vec![b.id]));
    h.dss.put_intent(&sc("uss1"), c, None, c_req(&[&b.ovn])).await?;

    // The Down USS may still report B Nonconforming.
    let mut nonconforming = accepted(vec![here((at(0), at(60)))], &[]);
    nonconforming.state = OirState::Nonconforming;
    nonconforming.subscription_id = b.subscription_id;
    let n = h.dss.put_intent(&uss2, b.id, Some(&b.ovn), nonconforming).await?.intent.intent;
    assert_eq!((n.state, n.version), (OirState::Nonconforming, 3));
    Ok(())
}

#[tokio::test]
async fn a_failed_commit_poisons_every_later_write() -> Result<()> {
    let h = Harness::new()?;
    h.store.fail_next.store(true, Ordering::SeqCst);
    let outcome = h
        .dss
        .put_intent(&sc("uss1"), EntityId::random(), None, accepted(vec![here((at(0), at(60)))], &[]))
        .await;
    assert!(matches!(&outcome, Err(DssError::Store(StoreError::Io(m))) if m == "disk full"), "{outcome:?}");

    let poisoned = |outcome: Result<(), DssError>| -> Result<()> {
        match outcome {
            Err(DssError::Store(StoreError::Poisoned)) => Ok(()),
            other => bail!("expected StoreError::Poisoned, got {other:?}"),
        }
    };
    let far = vec![vol(square(LAT, LNG + 1.0, 0.01), (0.0, 100.0), (at(0), at(60)))];
    poisoned(h.dss.put_intent(&sc("uss1"), EntityId::random(), None, accepted(far, &[])).await.map(drop))?;
    let sub = sub_req(sub_area(0.05, None, None), "https://uss1.example/n", true, false);
    poisoned(h.dss.put_subscription(&sc("uss1"), EntityId::random(), None, sub).await.map(drop))?;
    let cm = Caller::new("authority", [Scope::ConstraintManagement]);
    let req = PutConstraint {
        extents: vec![here((at(0), at(60)))],
        uss_base_url: "https://authority.example/c".into(),
    };
    poisoned(h.dss.put_constraint(&cm, EntityId::random(), None, req).await.map(drop))?;
    poisoned(h.dss.set_availability("uss1", "", Availability::Normal).await.map(drop))?;
    poisoned(h.dss.submit_report(&sc("uss1"), "{}".into()).await.map(drop))?;
    assert_eq!(h.submitted(), Vec::<Vec<Change>>::new(), "nothing reaches the store after the failure");
    Ok(())
}

#[tokio::test]
async fn eviction_removes_what_ended_before_the_retention_and_keeps_dependents_consistent() -> Result<()> {
    let h = Harness::new()?;
    let uss = sc("uss1");
    let sid = EntityId::random();
    let url = "https://uss1.example/notify";
    h.dss
        .put_subscription(&uss, sid, None, sub_req(sub_area(0.02, None, Some(at(120))), url, true, false))
        .await?;
    let mut a = accepted(vec![here((at(0), at(60)))], &[]);
    a.subscription_id = Some(sid);
    let a = h.dss.put_intent(&uss, EntityId::random(), None, a).await?.intent.intent;
    let elsewhere = vol(square(LAT + 0.1, LNG, 0.01), (0.0, 100.0), (at(0), at(90)));
    let b = with_new_subscription(accepted(vec![elsewhere], &[]), url, false);
    let b = h.dss.put_intent(&uss, EntityId::random(), None, b).await?.intent.intent;
    let implicit = b.subscription_id.context("implicit subscription")?;
    let cm = Caller::new("authority", [Scope::ConstraintManagement]);
    let cid = EntityId::random();
    let constraint = PutConstraint {
        extents: vec![here((at(0), at(30)))],
        uss_base_url: "https://authority.example".into(),
    };
    h.dss.put_constraint(&cm, cid, None, constraint).await?;
    h.take();

    // At 95 min with 30 min retention only what ended before 65 min goes: A and the constraint.
    h.set_now(at(95));
    let evicted = h.dss.evict_expired(Duration::minutes(30)).await?;
    assert_eq!(evicted, Evicted { operational_intents: 1, constraints: 1, ..Evicted::default() });
    assert_eq!(h.take(), vec![vec![Change::DeleteOperationalIntent(a.id), Change::DeleteConstraint(cid)]]);
    assert!(matches!(h.dss.get_intent(&uss, a.id).await, Err(DssError::NotFound(_))));
    assert!(h.dss.get_intent(&uss, b.id).await.is_ok(), "B ended at 90 min, inside the retention");
    assert_eq!(
        h.dss.get_subscription(&uss, sid).await?.dependent_operational_intents,
        Vec::<EntityId>::new()
    );

    // Without retention B goes, and its implicit subscription with it; S still runs until 120 min.
    let evicted = h.dss.evict_expired(Duration::zero()).await?;
    assert_eq!(evicted, Evicted { operational_intents: 1, subscriptions: 1, ..Evicted::default() });
    assert_eq!(
        h.take(),
        vec![vec![Change::DeleteOperationalIntent(b.id), Change::DeleteSubscription(implicit)]]
    );
    assert!(h.dss.get_subscription(&uss, sid).await.is_ok());

    h.set_now(at(121));
    assert_eq!(h.dss.evict_expired(Duration::zero()).await?.subscriptions, 1);
    assert!(matches!(h.dss.get_subscription(&uss, sid).await, Err(DssError::NotFound(_))));
    // Nothing left: nothing is submitted.
    h.take();
    assert_eq!(h.dss.evict_expired(Duration::zero()).await?.total(), 0);
    assert_eq!(h.take(), Vec::<Vec<Change>>::new());
    Ok(())
}
