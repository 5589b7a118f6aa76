//! The Remote ID rounds over fakes: a DSS holding ISAs by owner and version, records that keep what the SP saved,
//! and a clock the tests move.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::Duration;
use entente_dss::ManualClock;
use entente_geo::{EARTH_RADIUS_M, LatLngRect};
use parking_lot::Mutex;

use super::*;
use crate::conflict::tests::{at, cylinder};
use crate::rid::{V22A_VIEWS, View};
use crate::service::{BoxFuture, CallError};
use crate::store::StoreError;

pub(crate) mod rounds;

const ME: &str = "uss1";
const OTHER: &str = "uss2";
const MAX_AREA_M2: f64 = 2_500e6;

/// What the fake DSS holds of one ISA: whose it is and its version.
#[derive(Clone, Debug)]
struct Stored {
    owner: String,
    version: u32,
}

/// A DSS holding ISAs: a change naming a version must name the one held, and an ISA it fails for is refused.
#[derive(Default)]
pub(crate) struct FakeRidDss {
    isas: Mutex<HashMap<String, Stored>>,
    /// Every change asked for, in order: the ISA's id and whether it was a deletion.
    pub(crate) changes: Mutex<Vec<(String, bool)>>,
    /// ISAs whose changes fail, as a DSS that cannot be reached would.
    failing: Mutex<Vec<String>>,
    /// How many subscribers were told of changes.
    notified: Arc<Mutex<usize>>,
    /// The subscriptions held, by id, with their version.
    subscriptions: Mutex<HashMap<String, String>>,
    /// The ISAs a new subscription's answer names.
    present: Mutex<Vec<IsaSummary>>,
}

impl FakeRidDss {
    fn hold(&self, id: &str, owner: &str) {
        self.isas.lock().insert(id.to_owned(), Stored { owner: owner.to_owned(), version: 1 });
    }

    /// How many ISAs of this USS the DSS holds.
    pub(crate) fn mine(&self) -> usize {
        self.isas.lock().values().filter(|s| s.owner == ME).count()
    }
}

impl RidDss for FakeRidDss {
    fn isa(&self, id: &str) -> BoxFuture<'_, Result<Option<IsaRef>, CallError>> {
        let found = self
            .isas
            .lock()
            .get(id)
            .map(|s| IsaRef { owner: s.owner.clone(), version: s.version.to_string() });
        Box::pin(async move { Ok(found) })
    }

    fn change_isa<'a>(
        &'a self,
        id: &'a str,
        version: Option<&'a str>,
        extent: Option<&'a Volume>,
    ) -> BoxFuture<'a, Result<IsaChange, CallError>> {
        self.changes.lock().push((id.to_owned(), extent.is_none()));
        let outcome = (|| {
            if self.failing.lock().iter().any(|f| f == id) {
                return Err(CallError::Failed(format!("ISA {id}: the DSS timed out")));
            }
            let mut isas = self.isas.lock();
            let held = isas.get(id).map(|s| s.version.to_string());
            match (version, held) {
                (Some(_), None) => return Ok(IsaChange::Missing),
                (Some(v), Some(h)) if v != h => {
                    return Ok(IsaChange::Superseded(CallError::Failed(format!("ISA {id} is at {h}"))));
                }
                (None, Some(_)) => return Err(CallError::Failed(format!("ISA {id} exists"))),
                _ => {}
            }
            let version = match extent {
                Some(_) => {
                    let stored =
                        isas.entry(id.to_owned()).or_insert(Stored { owner: ME.to_owned(), version: 0 });
                    stored.version += 1;
                    stored.version
                }
                None => isas.remove(id).map_or(0, |s| s.version + 1),
            };
            let notified = self.notified.clone();
            Ok(IsaChange::Changed(IsaChanged {
                version: version.to_string(),
                subscribers: 1,
                notify: Box::pin(async move { *notified.lock() += 1 }),
            }))
        })();
        Box::pin(async move { outcome })
    }

    fn put_subscription<'a>(
        &'a self,
        id: &'a str,
        _extents: &'a Volume,
    ) -> BoxFuture<'a, Result<Subscription, CallError>> {
        self.subscriptions.lock().insert(id.to_owned(), "1".to_owned());
        let present = self.present.lock().clone();
        Box::pin(async move {
            Ok(Subscription::Made(Subscribed { version: "1".to_owned(), notification_index: 0, present }))
        })
    }

    fn delete_subscription<'a>(
        &'a self,
        id: &'a str,
        version: &'a str,
    ) -> BoxFuture<'a, Result<(), CallError>> {
        let mut subscriptions = self.subscriptions.lock();
        if subscriptions.get(id).is_some_and(|v| v == version) {
            subscriptions.remove(id);
        }
        Box::pin(async { Ok(()) })
    }
}

/// The records of the ISA ids, in the order saved: each id with whether it was declared (`false`: gone).
#[derive(Default)]
pub(crate) struct Saved(Mutex<Vec<(String, bool)>>);

impl IsaRecords for Saved {
    fn save_isa(&self, id: &str, declared: Option<crate::Timestamp>) -> crate::store::Ticket {
        self.0.lock().push((id.to_owned(), declared.is_some()));
        let (done, ticket) = tokio::sync::oneshot::channel();
        let _ = done.send(Ok::<(), StoreError>(()));
        ticket
    }
}

struct Sp {
    sp: RidSp,
    dss: Arc<FakeRidDss>,
    saved: Arc<Saved>,
    clock: Arc<ManualClock>,
}

fn sp(earlier: &[&str]) -> Sp {
    let dss = Arc::new(FakeRidDss::default());
    let saved = Arc::new(Saved::default());
    let clock = Arc::new(ManualClock::new(at(0)));
    let rules = SpRules {
        identity: ME.to_owned(),
        retention: Duration::seconds(60),
        isa_margin_m: 500.0,
        max_area_m2: MAX_AREA_M2,
    };
    let earlier = earlier.iter().map(|e| (*e).to_owned()).collect();
    Sp { sp: RidSp::new(rules, dss.clone(), saved.clone(), clock.clone(), earlier), dss, saved, clock }
}

fn flying(flights: &[(&str, Volume)]) -> HashMap<String, Vec<Volume>> {
    flights.iter().map(|(id, v)| ((*id).to_owned(), vec![v.clone()])).collect()
}

/// The area of a lat/lng rectangle on the sphere, as the DSS measures it within a fraction of a per cent.
fn area_m2(r: &LatLngRect) -> f64 {
    let band = r.lat_hi.to_radians().sin() - r.lat_lo.to_radians().sin();
    EARTH_RADIUS_M * EARTH_RADIUS_M * (r.lng_hi - r.lng_lo).to_radians() * band
}

fn held(sp: &RidSp) -> Vec<HeldIsa> {
    sp.read(|_, isas| isas.to_vec())
}

#[tokio::test]
async fn flights_130_km_apart_get_an_isa_each_within_the_area_limit() {
    let s = sp(&[]);
    // 1.7° of longitude at 46.5°N is about 130 km.
    let (west, east) = (cylinder(7.0, (0.0, 100.0), (0, 30)), cylinder(8.7, (0.0, 100.0), (0, 30)));
    s.sp.tick(&flying(&[("west", west.clone()), ("east", east.clone())]))
        .await
        .expect("a round at a DSS that takes every ISA");
    let isas = held(&s.sp);
    assert_eq!(isas.len(), 2, "one ISA per flight: {isas:?}");
    for (flight, volume) in [("west", &west), ("east", &east)] {
        let isa = isas.iter().find(|i| i.members.contains(flight)).expect("an ISA for each flight");
        assert_eq!(isa.members.len(), 1);
        let rects = isa.extent.outline.bounding_rects();
        assert!(
            rects.iter().all(|r| area_m2(r) <= MAX_AREA_M2),
            "{flight}'s ISA stays within the DSS's limit"
        );
        let centre = volume.outline.bounding_rects()[0];
        assert!(rects.iter().any(|r| r.intersects(&centre)), "{flight}'s ISA covers it");
    }
    assert_eq!(s.dss.mine(), 2, "the DSS holds both");
    // Flights 1 km apart share one ISA.
    let s = sp(&[]);
    s.sp.tick(&flying(&[("a", west.clone()), ("b", cylinder(7.013, (0.0, 100.0), (0, 30)))]))
        .await
        .expect("a round");
    let isas = held(&s.sp);
    assert_eq!(isas.len(), 1);
    assert_eq!(isas[0].members.iter().map(String::as_str).collect::<Vec<_>>(), ["a", "b"]);
}

#[tokio::test]
async fn an_isa_a_previous_run_left_is_deleted_at_start_and_another_owners_is_left_alone() {
    let s = sp(&["left-by-me", "taken-by-other", "already-gone"]);
    s.dss.hold("left-by-me", ME);
    s.dss.hold("taken-by-other", OTHER);
    s.sp.tick(&HashMap::new()).await.expect("a round with nothing flying");
    let isas = s.dss.isas.lock().keys().cloned().collect::<Vec<_>>();
    assert_eq!(isas, ["taken-by-other"], "this USS's ISA is deleted, the other's is not");
    assert_eq!(*s.dss.changes.lock(), [("left-by-me".to_owned(), true)]);
    assert_eq!(*s.dss.notified.lock(), 1, "the deleted ISA's subscribers are told");
    let mut forgotten = s.saved.0.lock().clone();
    forgotten.sort();
    let expected: Vec<(String, bool)> =
        ["already-gone", "left-by-me", "taken-by-other"].iter().map(|id| ((*id).to_owned(), false)).collect();
    assert_eq!(forgotten, expected, "each is forgotten once the DSS holds none of this USS's");
    // Cleaned once: the next round asks the DSS nothing.
    s.sp.tick(&HashMap::new()).await.expect("another round");
    assert_eq!(s.dss.changes.lock().len(), 1);
}

#[tokio::test]
async fn an_earlier_isa_the_dss_fails_to_delete_is_tried_again_without_holding_up_the_flights() {
    let s = sp(&["left-by-me"]);
    s.dss.hold("left-by-me", ME);
    s.dss.failing.lock().push("left-by-me".to_owned());
    let flights = flying(&[("f", cylinder(7.0, (0.0, 100.0), (0, 30)))]);
    let failed = s.sp.tick(&flights).await;
    assert!(matches!(failed, Err(CallError::Failed(_))), "the failure is reported: {failed:?}");
    assert_eq!(s.dss.mine(), 2, "the flight's ISA is declared all the same");
    s.dss.failing.lock().clear();
    s.sp.tick(&flights).await.expect("the next round cleans it");
    assert!(!s.dss.isas.lock().contains_key("left-by-me"));
}

#[tokio::test]
async fn an_isa_is_saved_before_the_dss_hears_of_it_and_deleted_once_its_flight_ended_longer_than_the_retention()
 {
    let s = sp(&[]);
    let flights = flying(&[("f", cylinder(7.0, (0.0, 100.0), (0, 30)))]);
    s.sp.tick(&flights).await.expect("a round");
    let id = held(&s.sp)[0].id.clone();
    assert_eq!(*s.saved.0.lock(), [(id.clone(), true)]);
    assert_eq!(*s.dss.changes.lock(), [(id.clone(), false)]);
    // The flight ends: its ISA stays for the retention, then goes.
    s.clock.advance(Duration::minutes(1));
    s.sp.tick(&HashMap::new()).await.expect("a round after the end");
    assert_eq!(held(&s.sp).len(), 1, "kept while positions may still be served");
    s.clock.advance(Duration::seconds(61));
    s.sp.tick(&HashMap::new()).await.expect("a round after the retention");
    assert!(held(&s.sp).is_empty() && s.dss.mine() == 0);
    assert_eq!(s.saved.0.lock().last(), Some(&(id, false)), "forgotten in the records too");
    assert!(s.sp.read(|aircraft, _| aircraft.is_empty()), "the aircraft is forgotten");
}

#[tokio::test]
async fn an_isa_the_dss_lost_is_declared_anew_and_an_unchanged_one_is_not_written_again() {
    let s = sp(&[]);
    let flights = flying(&[("f", cylinder(7.0, (0.0, 100.0), (0, 30)))]);
    s.sp.tick(&flights).await.expect("a round");
    s.sp.tick(&flights).await.expect("a round with nothing changed");
    assert_eq!(s.dss.changes.lock().len(), 1, "an ISA as it should be is left as it is");
    let lost = held(&s.sp)[0].id.clone();
    s.dss.isas.lock().clear();
    // The flight grows, so the ISA is written with the version held: the DSS no longer has it.
    s.sp.tick(&flying(&[("f", cylinder(7.0, (0.0, 100.0), (0, 40)))]))
        .await
        .expect("a round the DSS lost the ISA in");
    assert!(held(&s.sp).is_empty(), "forgotten, not an error");
    assert_eq!(s.saved.0.lock().last(), Some(&(lost.clone(), false)));
    s.sp.tick(&flights).await.expect("the next round");
    let again = held(&s.sp);
    assert_eq!(again.len(), 1);
    assert_ne!(again[0].id, lost, "declared anew under a new id");
}

#[tokio::test]
async fn replayed_traffic_keeps_its_isa_until_it_ends() {
    let s = sp(&[]);
    s.sp.with_aircraft(|aircraft| {
        let mut replayed = SpAircraft::new(true);
        replayed.area = vec![cylinder(7.0, (0.0, 100.0), (0, 1))];
        aircraft.insert("replayed".to_owned(), replayed);
    });
    s.sp.tick(&HashMap::new()).await.expect("a round");
    s.clock.advance(Duration::minutes(10));
    s.sp.tick(&HashMap::new()).await.expect("a round long after its area's end");
    assert_eq!(held(&s.sp).len(), 1, "no operator's flight ends it");
    s.sp.end("replayed");
    s.clock.advance(Duration::seconds(61));
    s.sp.tick(&HashMap::new()).await.expect("a round after it ended");
    assert!(held(&s.sp).is_empty());
}

fn dp(dss: &Arc<FakeRidDss>, clock: &Arc<ManualClock>) -> RidDp {
    RidDp::new(ME.to_owned(), V22A_VIEWS, dss.clone(), clock.clone())
}

/// The subscriptions of watches of `kind` the DP holds.
fn watched(dp: &RidDp, kind: WatchKind) -> Vec<String> {
    dp.watches().into_iter().filter(|(_, w)| w.kind == kind).map(|(_, w)| w.subscription_id).collect()
}

fn other_isa(version: &str) -> IsaSummary {
    IsaSummary {
        id: "isa-1".to_owned(),
        owner: OTHER.to_owned(),
        flights_url: "https://uss2.example/uss/flights".to_owned(),
        version: version.to_owned(),
        end: at(60),
    }
}

fn told(subscription: &str, index: i32) -> Vec<(String, i32)> {
    vec![(subscription.to_owned(), index)]
}

#[tokio::test]
async fn a_notification_not_newer_for_its_subscription_is_ignored_and_the_same_index_for_another_is_taken() {
    let (dss, clock) = (Arc::new(FakeRidDss::default()), Arc::new(ManualClock::new(at(0))));
    let dp = dp(&dss, &clock);
    let view = View::parse("46.49,6.99,46.51,7.01").expect("a view");
    for _ in 0..2 {
        dp.subscribe(view, Duration::minutes(30), WatchKind::Operator).await.expect("a watch");
    }
    let subs = watched(&dp, WatchKind::Operator);
    let (s1, s2) = (&subs[0], &subs[1]);
    let url = other_isa("1").flights_url;
    let notify = |area: Option<IsaSummary>, told: Vec<(String, i32)>| {
        dp.notified(OTHER, "isa-1", area, None, &told).expect("a notification from the ISA's owner")
    };
    notify(Some(other_isa("1")), told(s1, 5));
    assert!(dp.serving().contains(&url), "the ISA is learnt");
    // The ISA is deleted, told by s1 with an index it told already, then an older one: neither is news.
    for index in [5, 4] {
        notify(None, told(s1, index));
        assert!(dp.serving().contains(&url), "index {index} of s1 is not news");
    }
    // The same index through s2, which never told of the ISA, is.
    assert!(notify(None, told(s2, 5)), "the ISA is withdrawn");
    assert!(dp.serving().is_empty());
    // A notification for a subscription this USS does not hold changes nothing.
    notify(Some(other_isa("2")), told("not-mine", 9));
    assert!(dp.serving().is_empty());
}

#[tokio::test]
async fn an_activated_flight_is_watched_around_with_no_operator_watching_and_unwatched_once_it_ends() {
    let s = sp(&[]);
    let dp = dp(&s.dss, &s.clock);
    let flights = flying(&[("f", cylinder(7.0, (0.0, 100.0), (0, 30)))]);
    s.sp.tick(&flights).await.expect("a round of the SP");
    let flying_at = s.sp.flying_at();
    assert_eq!(flying_at.len(), 1, "the flight is where its area is before its first position");
    dp.tick(&flying_at).await;
    let around = watched(&dp, WatchKind::Flying);
    assert_eq!(around.len(), 1, "one watch around the flight");
    assert_eq!(s.dss.subscriptions.lock().keys().collect::<Vec<_>>(), [&around[0]], "subscribed at the DSS");
    let watch = dp.watches().remove(0).1;
    assert!(watch.view.contains(flying_at[0]));
    // Another round with the flight still there keeps the watch as it is.
    dp.tick(&flying_at).await;
    assert_eq!(watched(&dp, WatchKind::Flying), around);
    // The flight ends: the watch around it goes, at the DSS too.
    s.sp.tick(&HashMap::new()).await.expect("a round after the end");
    let flying_at = s.sp.flying_at();
    assert!(flying_at.is_empty());
    dp.tick(&flying_at).await;
    assert!(dp.watches().is_empty() && s.dss.subscriptions.lock().is_empty(), "unwatched once it ended");
}

#[tokio::test]
async fn at_the_subscription_limit_an_observed_view_replaces_the_watch_a_display_made_not_an_operators() {
    let (dss, clock) = (Arc::new(FakeRidDss::default()), Arc::new(ManualClock::new(at(0))));
    let dp = dp(&dss, &clock);
    let here = View::parse("46.49,6.99,46.51,7.01").expect("a view");
    for _ in 1..crate::rid::MAX_SUBSCRIPTIONS_PER_AREA {
        dp.subscribe(here, Duration::minutes(30), WatchKind::Operator).await.expect("an operator's watch");
    }
    let made = |minutes| dp.subscribe(here, Duration::minutes(minutes), WatchKind::Display);
    let (on_demand, _) = made(10).await.expect("a display's watch");
    let full = made(20).await;
    assert!(matches!(full, Err(WatchError::TooMany(_))), "the area holds the most: {:?}", full.err());
    // A view next to it, meeting it but not covered by it, is observed.
    let observed = View::parse("46.50,7.00,46.52,7.02").expect("a view");
    dp.ensure_watch(observed, Duration::minutes(5), WatchKind::Display)
        .await
        .expect("the observed view watched");
    let watches = dp.watches();
    assert!(!watches.iter().any(|(id, _)| *id == on_demand), "the on-demand watch gave way");
    assert_eq!(watches.iter().filter(|(_, w)| w.kind == WatchKind::Operator).count(), 9, "operators' stay");
    assert!(watches.iter().any(|(_, w)| w.kind == WatchKind::Display && w.view.covers(&observed)));
    assert_eq!(dss.subscriptions.lock().len(), crate::rid::MAX_SUBSCRIPTIONS_PER_AREA);
    // With no display's watch left to give way, the operators' watches are kept and the view is refused.
    let (id, _) = watches
        .iter()
        .find(|(_, w)| w.kind == WatchKind::Display)
        .expect("the observed view's watch")
        .clone();
    dp.unsubscribe(&id).await.expect("ended");
    dp.subscribe(here, Duration::minutes(30), WatchKind::Operator).await.expect("a tenth operator's watch");
    let refused = dp.ensure_watch(observed, Duration::minutes(5), WatchKind::Display).await;
    assert!(matches!(refused, Err(WatchError::TooMany(_))), "{:?}", refused.err());
    assert_eq!(dss.subscriptions.lock().len(), crate::rid::MAX_SUBSCRIPTIONS_PER_AREA);
}
