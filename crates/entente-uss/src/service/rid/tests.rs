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
use crate::service::{BoxFuture, CallError};
use crate::store::StoreError;

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
struct FakeRidDss {
    isas: Mutex<HashMap<String, Stored>>,
    /// Every change asked for, in order: the ISA's id and whether it was a deletion.
    changes: Mutex<Vec<(String, bool)>>,
    /// ISAs whose changes fail, as a DSS that cannot be reached would.
    failing: Mutex<Vec<String>>,
    /// How many subscribers were told of changes.
    notified: Arc<Mutex<usize>>,
}

impl FakeRidDss {
    fn hold(&self, id: &str, owner: &str) {
        self.isas.lock().insert(id.to_owned(), Stored { owner: owner.to_owned(), version: 1 });
    }

    /// How many ISAs of this USS the DSS holds.
    fn mine(&self) -> usize {
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
}

/// The records of the ISA ids, in the order saved: each id with whether it was declared (`false`: gone).
#[derive(Default)]
struct Saved(Mutex<Vec<(String, bool)>>);

impl IsaRecords for Saved {
    fn save_isa(&self, id: &str, declared: Option<crate::Timestamp>) -> crate::store::Ticket {
        self.0.lock().push((id.to_owned(), declared.is_some()));
        let (done, ticket) = tokio::sync::oneshot::channel();
        let _ = done.send(Ok::<(), StoreError>(()));
        ticket
    }
}

struct Sp {
    sp: RidSp<()>,
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

fn held(sp: &RidSp<()>) -> Vec<HeldIsa> {
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
        let mut replayed = SpAircraft::<()>::new(true);
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
