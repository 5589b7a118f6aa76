//! The core over fakes: an in-memory DSS that enforces the key, peers that serve their intents, and a clock the
//! tests move, so every time-dependent rule is checked at the instant it matters.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::Duration;
use entente_dss::{Availability, EntityId, ManualClock, Subscriber};
use entente_geo::{Circle, Interval, LatLng, Outline};
use parking_lot::Mutex;

use super::rid::tests::rounds::FakePeers as FakeRidPeers;
use super::rid::tests::{FakeRidDss, Saved as IsaSaved};
use super::*;
use crate::conflict::tests::{at, cylinder};
use crate::store::{StoreError, Ticket};
use crate::{FlightState, Position, Priority, Reason, UssError, Volume, volumes_intersect};

mod zones;

const ME: &str = "uss1";
const PEER: &str = "uss2";

/// A DSS holding references with their extents: queries intersect them, and a write is refused unless its key
/// holds the OVN of every other intent it intersects (F3548's key check).
#[derive(Default)]
struct FakeDss {
    intents: Mutex<HashMap<String, (IntentRef, Vec<Volume>)>>,
    /// Constraints by id, with their extents; a write must name the version it replaces.
    zones: Mutex<HashMap<EntityId, (ZoneRef, Vec<Volume>)>>,
    /// Every constraint write and deletion, in order (`PUT id`, `DELETE id ovn`).
    zone_calls: Mutex<Vec<String>>,
    /// The constraint writes (counted from 1, as `zone_calls` has them) that fail as a DSS that is down does.
    failing_zone_puts: Mutex<Vec<usize>>,
    /// References the query leaves out (a DSS whose answer raced a new intent): only the key check finds them.
    hidden: Mutex<Vec<String>>,
    /// Answers every query with every intent it holds, wherever the area: a USS then knows the whole airspace.
    everything: Mutex<bool>,
    puts: Mutex<u32>,
    reports: Mutex<Vec<String>>,
    /// Holds back the next intent write, as a slow DSS does, until the test opens it.
    gate: Mutex<Option<Arc<Gate>>>,
    /// Queries asked and not yet answered, and the most there ever were at once.
    queries: Mutex<(u32, u32)>,
}

/// A write held at the DSS: `reached` once it arrived, carried out once `open`.
#[derive(Default)]
struct Gate {
    reached: tokio::sync::Notify,
    open: tokio::sync::Notify,
}

impl FakeDss {
    /// Counts a query asked; the future it returns counts it answered once polled to its end.
    fn query_asked<T: Send + 'static>(&self, found: T) -> BoxFuture<'_, Result<T, CallError>> {
        {
            let mut q = self.queries.lock();
            q.0 += 1;
            q.1 = q.1.max(q.0);
        }
        Box::pin(async move {
            self.queries.lock().0 -= 1;
            Ok(found)
        })
    }

    fn hold(&self, r: IntentRef, extents: Vec<Volume>) {
        self.intents.lock().insert(r.id.clone(), (r, extents));
    }

    /// Carries out an intent write: refused unless its key holds every other intersecting intent's OVN.
    fn write_intent(&self, w: IntentWrite) -> PutOutcome {
        *self.puts.lock() += 1;
        let mut intents = self.intents.lock();
        let id = w.id.to_string();
        let missing: Vec<IntentRef> = intents
            .values()
            .filter(|(r, v)| r.id != id && volumes_intersect(v, &w.extents))
            .filter(|(r, _)| !w.key.iter().any(|k| Some(k) == r.ovn.as_ref()))
            .map(|(r, _)| IntentRef { ovn: None, ..r.clone() })
            .collect();
        if !missing.is_empty() && !w.state.is_off_nominal() {
            return PutOutcome::Missing { intents: missing, zones: Vec::new() };
        }
        let version = intents.get(&id).map_or(1, |(r, _)| r.version + 1);
        let r = reference(&id, ME, w.state, &w.extents, version);
        intents.insert(id, (r.clone(), w.extents));
        PutOutcome::Done { reference: r, subscribers: Vec::<Subscriber>::new() }
    }
}

fn reference(id: &str, manager: &str, state: FlightState, extents: &[Volume], version: i32) -> IntentRef {
    IntentRef {
        id: id.to_owned(),
        manager: manager.to_owned(),
        version,
        state,
        ovn: Some(format!("ovn-{id}-{version}")),
        time: Interval {
            lo: extents.iter().filter_map(|v| v.time.lo).min(),
            hi: extents.iter().filter_map(|v| v.time.hi).max(),
        },
        uss_base_url: format!("https://{manager}.example"),
        subscription_id: None,
        availability: Availability::Normal,
    }
}

impl Dss for FakeDss {
    fn query_intents(&self, area: Volume) -> BoxFuture<'_, Result<Vec<IntentRef>, CallError>> {
        let hidden = self.hidden.lock().clone();
        let everything = *self.everything.lock();
        let found = self
            .intents
            .lock()
            .values()
            .filter(|(r, v)| {
                !hidden.contains(&r.id) && (everything || volumes_intersect(v, std::slice::from_ref(&area)))
            })
            .map(|(r, _)| IntentRef { ovn: None, ..r.clone() })
            .collect::<Vec<_>>();
        self.query_asked(found)
    }

    fn query_zones(&self, area: Volume) -> BoxFuture<'_, Result<Vec<ZoneRef>, CallError>> {
        let found = self
            .zones
            .lock()
            .values()
            .filter(|(_, v)| volumes_intersect(v, std::slice::from_ref(&area)))
            .map(|(r, _)| ZoneRef { ovn: None, ..r.clone() })
            .collect::<Vec<_>>();
        self.query_asked(found)
    }

    fn put_zone(
        &self,
        id: EntityId,
        ovn: Option<String>,
        volumes: Vec<Volume>,
    ) -> BoxFuture<'_, Result<ZoneWritten, CallError>> {
        let outcome = (|| {
            let mut calls = self.zone_calls.lock();
            calls.push(format!("PUT {id}"));
            let puts = calls.iter().filter(|c| c.starts_with("PUT")).count();
            if self.failing_zone_puts.lock().contains(&puts) {
                return Err(CallError::Failed("the DSS answered 500".into()));
            }
            let mut zones = self.zones.lock();
            let held = zones.get(&id).map(|(r, _)| r.clone());
            if held.as_ref().and_then(|r| r.ovn.clone()) != ovn {
                return Err(CallError::Failed(format!(
                    "constraint {id}: OVN {ovn:?} is not the current one"
                )));
            }
            let version = held.map_or(1, |r| r.version + 1);
            let reference = ZoneRef {
                id: id.to_string(),
                manager: ME.to_owned(),
                ovn: Some(format!("ovn-{id}-{version}")),
                version,
                uss_base_url: format!("https://{ME}.example"),
                availability: Availability::Normal,
            };
            zones.insert(id, (reference.clone(), volumes));
            Ok(ZoneWritten { reference, subscribers: Vec::new() })
        })();
        Box::pin(async move { outcome })
    }

    fn delete_zone(&self, id: EntityId, ovn: String) -> BoxFuture<'_, Result<Vec<Subscriber>, CallError>> {
        self.zone_calls.lock().push(format!("DELETE {id} {ovn}"));
        let mut zones = self.zones.lock();
        let outcome = match zones.get(&id) {
            Some((r, _)) if r.ovn.as_ref() == Some(&ovn) => {
                zones.remove(&id);
                Ok(Vec::new())
            }
            _ => Err(CallError::Failed(format!("constraint {id} at {ovn}: not found"))),
        };
        Box::pin(async move { outcome })
    }

    fn put_intent(&self, w: IntentWrite) -> BoxFuture<'_, Result<PutOutcome, CallError>> {
        let gate = self.gate.lock().take();
        Box::pin(async move {
            if let Some(gate) = gate {
                gate.reached.notify_one();
                gate.open.notified().await;
            }
            Ok(self.write_intent(w))
        })
    }

    fn delete_intent(
        &self,
        id: EntityId,
        _ovn: String,
    ) -> BoxFuture<'_, Result<Option<Vec<Subscriber>>, CallError>> {
        let gone = self.intents.lock().remove(&id.to_string()).map(|_| Vec::new());
        Box::pin(async move { Ok(gone) })
    }

    fn report_unreachable(
        &self,
        intent: IntentRef,
        _problem: String,
    ) -> BoxFuture<'_, Result<(), CallError>> {
        self.reports.lock().push(intent.id);
        Box::pin(async { Ok(()) })
    }
}

/// Peers that serve what the DSS holds of them (with its OVN), except those that are down.
struct FakePeers {
    dss: Arc<FakeDss>,
    priorities: Mutex<HashMap<String, Priority>>,
    down: Mutex<Vec<String>>,
    /// Every intent whose details were asked for, in order.
    asked: Mutex<Vec<String>>,
    notified: Mutex<Vec<(EntityId, bool)>>,
    /// The constraints subscribers were told of (`false`: deleted).
    zones_notified: Mutex<Vec<(EntityId, bool)>>,
}

impl Peers for FakePeers {
    fn intent_details(
        &self,
        refs: Vec<IntentRef>,
    ) -> BoxFuture<'_, Vec<(IntentRef, Result<Published, CallError>)>> {
        let held = self.dss.intents.lock();
        self.asked.lock().extend(refs.iter().map(|r| r.id.clone()));
        let out = refs
            .into_iter()
            .map(|r| {
                let details = if self.down.lock().contains(&r.id) {
                    Err(CallError::Failed(format!("{}: timed out", r.details_url())))
                } else {
                    let (reference, volumes) = held[&r.id].clone();
                    let priority = self.priorities.lock().get(&r.id).copied().unwrap_or_default();
                    Ok(Published { reference, volumes, off_nominal: Vec::new(), priority })
                };
                (r, details)
            })
            .collect();
        Box::pin(async move { out })
    }

    fn zone_details(
        &self,
        refs: Vec<ZoneRef>,
    ) -> BoxFuture<'_, Vec<(ZoneRef, Result<ZoneDetails, CallError>)>> {
        assert!(refs.is_empty(), "the fake DSS holds no zones");
        Box::pin(async { Vec::new() })
    }

    fn notify(
        &self,
        _subscribers: Vec<Subscriber>,
        id: EntityId,
        intent: Option<Published>,
    ) -> BoxFuture<'_, ()> {
        self.notified.lock().push((id, intent.is_some()));
        Box::pin(async {})
    }

    fn notify_zone(
        &self,
        _subscribers: Vec<Subscriber>,
        id: EntityId,
        zone: Option<OwnZone>,
    ) -> BoxFuture<'_, ()> {
        self.zones_notified.lock().push((id, zone.is_some()));
        Box::pin(async {})
    }
}

#[derive(Default)]
struct Recorded {
    saves: Mutex<Vec<EntityId>>,
    /// The constraints saved (`false`: removed).
    zone_saves: Mutex<Vec<(EntityId, bool)>>,
    /// The data sets saved (`false`: removed).
    set_saves: Mutex<Vec<(String, bool)>>,
    attempts: Mutex<Vec<Attempt>>,
    notices: Mutex<Vec<UserNotice>>,
}

impl FlightRecords for Recorded {
    fn save(&self, flights: &[(EntityId, Option<&OwnFlight>)]) -> Ticket {
        self.saves.lock().extend(flights.iter().map(|(id, _)| *id));
        saved()
    }
}

fn saved() -> Ticket {
    let (done, ticket) = tokio::sync::oneshot::channel();
    let _ = done.send(Ok::<(), StoreError>(()));
    ticket
}

impl ZoneRecords for Recorded {
    fn save_zone(&self, id: EntityId, zone: Option<&OwnZone>) -> Ticket {
        self.zone_saves.lock().push((id, zone.is_some()));
        saved()
    }

    fn save_set(&self, name: &str, set: Option<&crate::geoawareness::ZoneSet>) -> Ticket {
        self.set_saves.lock().push((name.to_owned(), set.is_some()));
        saved()
    }
}

impl Journal for Recorded {
    fn planning_attempt(&self, _time: crate::Timestamp, attempt: &Attempt) {
        self.attempts.lock().push(attempt.clone());
    }

    fn operator_notified(&self, notice: &UserNotice) {
        self.notices.lock().push(notice.clone());
    }

    /// Tactical detection is not part of these tests (the Remote ID rounds' tests count its alerts).
    fn tactical_alert(&self, _flight: EntityId) {}
}

struct World {
    uss: Uss,
    dss: Arc<FakeDss>,
    peers: Arc<FakePeers>,
    recorded: Arc<Recorded>,
    clock: Arc<ManualClock>,
    rid_dss: Arc<FakeRidDss>,
}

fn world() -> World {
    world_on(Arc::new(entente_geozones::NoTerrain))
}

/// A world whose zones' AGL limits stand on `terrain`.
fn world_on(terrain: Arc<dyn entente_geozones::Terrain>) -> World {
    let dss = Arc::new(FakeDss::default());
    let peers = Arc::new(FakePeers {
        dss: dss.clone(),
        priorities: Mutex::new(HashMap::new()),
        down: Mutex::new(Vec::new()),
        asked: Mutex::new(Vec::new()),
        notified: Mutex::new(Vec::new()),
        zones_notified: Mutex::new(Vec::new()),
    });
    let recorded = Arc::new(Recorded::default());
    let clock = Arc::new(ManualClock::new(at(0)));
    let rid_dss = Arc::new(FakeRidDss::default());
    let rules = Rules { identity: ME.to_owned(), ..Rules::default() };
    let ports = Ports {
        dss: dss.clone(),
        peers: peers.clone(),
        records: recorded.clone(),
        zones: recorded.clone(),
        journal: recorded.clone(),
        clock: clock.clone(),
        rid_dss: rid_dss.clone(),
        rid_peers: Arc::new(FakeRidPeers::default()),
        isas: Arc::new(IsaSaved::default()),
    };
    let saved = Saved { zones: ZoneSets::new(Default::default(), terrain), ..Saved::default() };
    let uss = Uss::new(rules, ports, saved).expect("valid tactical rules");
    World { uss, dss, peers, recorded, clock, rid_dss }
}

fn proposal(volumes: Vec<Volume>, priority: i32, now: crate::Timestamp) -> Proposal {
    Proposal {
        volumes,
        off_nominal: Vec::new(),
        priority: Priority(priority),
        state: FlightState::Accepted,
        reason: Reason::Planned,
        now,
        operator: Some("pilot".into()),
        route: None,
        limits: Default::default(),
        authorisation: None,
    }
}

fn id(n: u8) -> EntityId {
    EntityId::parse(&format!("00000000-0000-4000-8000-0000000000{n:02}")).unwrap()
}

/// A fix at longitude `lng` (the cylinders of these tests are 200 m around 46.5°N), 50 m up, at `time`.
fn telemetry(lng: f64, time: crate::Timestamp) -> Telemetry {
    Telemetry {
        fix: Position { at: LatLng::new(46.5, lng), altitude_m: 50.0, time },
        accuracy_h: None,
        accuracy_v: None,
        extrapolated: false,
        velocity: None,
    }
}

fn peer_intent(w: &World, name: &str, priority: i32, volume: Volume) {
    w.dss.hold(reference(name, PEER, FlightState::Accepted, std::slice::from_ref(&volume), 1), vec![volume]);
    w.peers.priorities.lock().insert(name.to_owned(), Priority(priority));
}

#[tokio::test]
async fn activating_before_the_start_starts_the_flight_now_and_a_fix_inside_keeps_it_activated() {
    let w = world();
    let flight = id(1);
    w.uss.plan(flight, proposal(vec![cylinder(7.5, (0.0, 120.0), (5, 30))], 0, at(0))).await.unwrap();
    let published = w.uss.activate(flight).await.unwrap();
    // The DSS holds the intent from now, not from its planned start five minutes ahead.
    assert_eq!(published.volumes[0].time.lo, Some(at(0)));
    let f = w.uss.flights.get(flight).unwrap();
    assert_eq!(
        f.history.last().map(|c| &c.reason),
        Some(&Reason::Activated { moved_start: Some(at(5)) }.to_string())
    );

    w.clock.advance(Duration::seconds(10));
    w.uss.telemetry(flight, telemetry(7.5, at(0) + Duration::seconds(10)), |_, _| {}).await.unwrap();
    assert_eq!(w.uss.flights.get(flight).unwrap().state, FlightState::Activated);
}

#[tokio::test]
async fn a_fix_from_the_future_is_refused_before_anything_is_recorded() {
    let w = world();
    let flight = id(1);
    w.uss.plan(flight, proposal(vec![cylinder(7.5, (0.0, 120.0), (0, 30))], 0, at(0))).await.unwrap();
    w.uss.activate(flight).await.unwrap();
    let before = w.uss.flights.get(flight).unwrap();
    let mut taken = false;
    let err = w.uss.telemetry(flight, telemetry(7.5, at(60)), |_, _| taken = true).await.unwrap_err();
    assert!(matches!(err, UssError::FixFromTheFuture { .. }), "{err}");
    assert!(!taken, "a refused fix reached the audit record");
    assert_eq!(w.uss.flights.get(flight).unwrap(), before);
}

#[tokio::test]
async fn a_flight_whose_volumes_ended_is_not_activated_and_the_dss_is_not_asked() {
    let w = world();
    let flight = id(1);
    w.uss.plan(flight, proposal(vec![cylinder(7.5, (0.0, 120.0), (5, 30))], 0, at(0))).await.unwrap();
    let puts = *w.dss.puts.lock();
    w.clock.set(at(31));
    let err = w.uss.activate(flight).await.unwrap_err();
    assert!(matches!(err, UssError::ActivatedAfterEnd { .. }), "{err}");
    assert_eq!(*w.dss.puts.lock(), puts);
    assert_eq!(w.uss.flights.get(flight).unwrap().state, FlightState::Accepted);
}

#[tokio::test]
async fn nonconforming_returns_to_activated_once_the_aircraft_is_back_inside() {
    let w = world();
    let flight = id(1);
    w.uss.plan(flight, proposal(vec![cylinder(7.5, (0.0, 120.0), (0, 30))], 0, at(0))).await.unwrap();
    w.uss.activate(flight).await.unwrap();
    w.clock.advance(Duration::seconds(5));
    // About 380 m east of the centre: outside the 200 m cylinder, well within the deviation allowed.
    w.uss.telemetry(flight, telemetry(7.505, w.clock.now()), |_, _| {}).await.unwrap();
    let f = w.uss.flights.get(flight).unwrap();
    assert_eq!(f.state, FlightState::Nonconforming);
    assert_eq!(f.off_nominal.len(), 1);
    w.clock.advance(Duration::seconds(5));
    w.uss.telemetry(flight, telemetry(7.5, w.clock.now()), |_, _| {}).await.unwrap();
    let f = w.uss.flights.get(flight).unwrap();
    assert_eq!(f.state, FlightState::Activated);
    assert!(f.off_nominal.is_empty());
    let states: Vec<FlightState> = f.history.iter().map(|c| c.state).collect();
    use FlightState::*;
    assert_eq!(states, [Accepted, Activated, Nonconforming, Activated]);
}

#[tokio::test]
async fn an_intent_the_query_missed_is_learned_from_the_key_check_and_refuses_the_plan() {
    let w = world();
    peer_intent(&w, "peer-high", 10, cylinder(7.5, (0.0, 120.0), (0, 30)));
    w.dss.hidden.lock().push("peer-high".into());
    let err =
        w.uss.plan(id(1), proposal(vec![cylinder(7.5, (0.0, 120.0), (5, 20))], 0, at(0))).await.unwrap_err();
    let UssError::Conflict(refusal) = err else { panic!("not a conflict: {err}") };
    assert_eq!(refusal.blocking, ["peer-high"]);
    assert!(!refusal.alternatives.is_empty(), "no alternative around a single intent");
    // The first write went out without the intent's OVN and came back naming it.
    let attempts = w.recorded.attempts.lock();
    assert_eq!(attempts[0].missing_intents, ["peer-high"]);
    assert!(w.uss.flights.get(id(1)).is_none());
}

#[tokio::test]
async fn the_queries_of_a_plan_are_all_asked_before_any_answer_is_awaited() {
    let w = world();
    let volumes = vec![cylinder(7.5, (0.0, 120.0), (5, 30)), cylinder(7.51, (0.0, 120.0), (30, 60))];
    w.uss.plan(id(1), proposal(volumes, 0, at(0))).await.unwrap();
    // Intents and constraints over each of the two volumes: four queries, waited for together rather than one
    // after the other, so a plan waits for the slowest answer instead of their sum.
    assert_eq!(*w.dss.queries.lock(), (0, 4));
}

#[tokio::test]
async fn a_plan_over_a_lower_priority_intent_tells_its_operator_scd0090() {
    let w = world();
    peer_intent(&w, "peer-low", 0, cylinder(7.5, (0.0, 120.0), (0, 30)));
    w.uss.plan(id(1), proposal(vec![cylinder(7.5, (0.0, 120.0), (5, 20))], 5, at(0))).await.unwrap();
    let notices = w.uss.notices();
    assert_eq!(notices.len(), 1);
    assert_eq!(
        (notices[0].requirement, notices[0].conflicting.as_slice()),
        ("SCD0090", &["peer-low".to_owned()][..])
    );
    assert_eq!(*w.recorded.notices.lock(), notices, "the journal seals what operators are told");
    assert_eq!(w.uss.flights.get(id(1)).unwrap().alerts.len(), 1);
}

#[tokio::test]
async fn an_unreachable_peer_stops_the_plan_and_is_reported_unless_the_arbiter_declared_it_down() {
    let w = world();
    peer_intent(&w, "peer-silent", 0, cylinder(7.5, (0.0, 120.0), (0, 30)));
    w.peers.down.lock().push("peer-silent".into());
    let err =
        w.uss.plan(id(1), proposal(vec![cylinder(7.5, (0.0, 120.0), (5, 20))], 0, at(0))).await.unwrap_err();
    assert!(matches!(err, UssError::Call(CallError::Failed(_))), "{err}");
    assert_eq!(*w.dss.reports.lock(), ["peer-silent"]);

    // Declared Down with its intent Accepted: F3548 lets others plan over it without its OVN.
    w.dss.intents.lock().get_mut("peer-silent").unwrap().0.availability = Availability::Down;
    let mut p = proposal(vec![cylinder(7.5, (0.0, 120.0), (5, 20))], 0, at(0));
    p.volumes[0].outline = Outline::Circle(Circle::new(LatLng::new(46.5, 7.51), 100.0).unwrap());
    w.uss.plan(id(2), p).await.unwrap();
}

#[tokio::test]
async fn an_operation_on_a_flight_waits_for_the_one_under_way_and_sees_its_result() {
    let w = world();
    let flight = id(1);
    w.uss.plan(flight, proposal(vec![cylinder(7.5, (0.0, 120.0), (0, 30))], 0, at(0))).await.unwrap();
    let gate = Arc::new(Gate::default());
    *w.dss.gate.lock() = Some(gate.clone());
    // The activation's write is held at the DSS; the end starts meanwhile and runs as far as it can before the
    // write goes through.
    let activating = w.uss.activate(flight);
    let ending = async {
        gate.reached.notified().await;
        let (ended, ()) = tokio::join!(w.uss.end(flight), async {
            for _ in 0..20 {
                tokio::task::yield_now().await;
            }
            gate.open.notify_one();
        });
        ended
    };
    let (activated, ended) = tokio::join!(activating, ending);
    activated.unwrap();
    ended.unwrap();
    // The end ended the flight the activation left: had it read the flight while the write was held, it would have
    // deleted the Accepted intent, and the activation would then have written it back and recorded it Activated.
    let f = w.uss.flights.get(flight).unwrap();
    let states: Vec<FlightState> = f.history.iter().map(|c| c.state).collect();
    use FlightState::*;
    assert_eq!(states, [Accepted, Activated, Ended]);
    assert!(w.dss.intents.lock().is_empty(), "the DSS still holds the intent the end deleted");
}

#[tokio::test]
async fn ending_deletes_the_reference_and_tells_the_subscribers() {
    let w = world();
    let flight = id(1);
    w.uss.plan(flight, proposal(vec![cylinder(7.5, (0.0, 120.0), (5, 30))], 0, at(0))).await.unwrap();
    w.uss.end(flight).await.unwrap();
    assert!(w.dss.intents.lock().is_empty());
    let f = w.uss.flights.get(flight).unwrap();
    assert_eq!((f.state, f.published.is_none()), (FlightState::Ended, true));
    assert_eq!(*w.peers.notified.lock(), [(flight, true), (flight, false)]);
    let err = w.uss.end(flight).await.unwrap_err();
    assert!(matches!(err, UssError::Transition { .. }), "{err}");
    assert!(matches!(w.uss.end(id(9)).await.unwrap_err(), UssError::NoSuchFlight(_)));
}

#[tokio::test]
async fn a_peer_intent_that_comes_over_a_flight_alerts_its_operator_scd0095() {
    let w = world();
    let flight = id(1);
    w.uss.plan(flight, proposal(vec![cylinder(7.5, (0.0, 120.0), (5, 30))], 0, at(0))).await.unwrap();
    let volume = cylinder(7.5, (50.0, 80.0), (10, 12));
    let reference = reference("peer-new", PEER, FlightState::Accepted, std::slice::from_ref(&volume), 1);
    let intent =
        Published { reference, volumes: vec![volume], off_nominal: Vec::new(), priority: Priority(10) };
    w.uss.on_peer_intent(&intent).await;
    let notices = w.uss.notices();
    assert_eq!(notices.last().map(|n| n.requirement), Some("SCD0095"));
    assert!(w.uss.flights.get(flight).unwrap().alerts[0].contains("peer-new"));
    // Saved with the alert, so a restart keeps what the operator must hear of.
    assert!(w.recorded.saves.lock().iter().filter(|s| **s == flight).count() >= 2);
}

/// A disc `north_m` metres north (negative: south) of 46.5°N at longitude `lng`, held from the ground to 150 m over
/// the first hour.
fn disc_north(north_m: f64, lng: f64, radius_m: f64) -> Volume {
    let lat = 46.5 + north_m / entente_geo::EARTH_RADIUS_M.to_radians();
    Volume {
        outline: Outline::Circle(Circle::new(LatLng::new(lat, lng), radius_m).unwrap()),
        altitude: Interval { lo: Some(0.0), hi: Some(150.0) },
        time: Interval { lo: Some(at(0)), hi: Some(at(60)) },
    }
}

/// A route refused over a peer's intent, in a world where a second peer intent lies where the detour around the
/// first would go and a third lies 1 km to the side: everything the sideways search may need, and more.
async fn refused_route(everything: bool) -> (World, crate::service::Refusal) {
    let w = world();
    *w.dss.everything.lock() = everything;
    // About 2 km east along 46.5°N, 20 m either side; the blocker clips its north side half-way.
    let route = crate::Route {
        waypoints: vec![LatLng::new(46.5, 7.5), LatLng::new(46.5, 7.526)],
        buffer_m: 20.0,
        altitude: Interval { lo: Some(0.0), hi: Some(100.0) },
        time: Interval { lo: Some(at(10)), hi: Some(at(40)) },
    };
    peer_intent(&w, "peer-on", 10, disc_north(60.0, 7.513, 100.0));
    // From 80 m to 200 m south of the route: clear of it, but in the way of the nearest detour south (which keeps
    // the route's buffer and a margin from the blocker, so its volumes reach about 90 m south).
    peer_intent(&w, "peer-aside", 10, disc_north(-140.0, 7.513, 60.0));
    // 1 km to 1.2 km north: inside a circle of the reach around the route, far outside any detour's reach.
    peer_intent(&w, "peer-far", 10, disc_north(1100.0, 7.513, 100.0));
    let mut p = proposal(crate::route_volumes(&route).unwrap(), 0, at(0));
    p.route = Some(route);
    let err = w.uss.plan(id(1), p).await.unwrap_err();
    let UssError::Conflict(refusal) = err else { panic!("not a conflict: {err}") };
    (w, *refusal)
}

#[tokio::test]
async fn a_refused_route_learns_only_what_a_detour_can_reach_and_finds_what_knowing_everything_finds() {
    let (w, refusal) = refused_route(false).await;
    assert_eq!(refusal.blocking, ["peer-on"]);
    let asked = w.peers.asked.lock().clone();
    assert!(
        asked.contains(&"peer-aside".to_owned()),
        "the intent beside the route was not learned: {asked:?}"
    );
    assert!(!asked.contains(&"peer-far".to_owned()), "an intent beyond any detour's reach was fetched");
    assert!(
        refusal.alternatives.iter().any(|a| matches!(a.lateral, crate::Lateral::Detour { .. })),
        "no detour: {:?}",
        refusal.alternatives
    );
    // The same airspace known whole: the same alternatives, in the same order.
    let (_, all) = refused_route(true).await;
    assert_eq!(refusal.alternatives, all.alternatives);
}

/// Announces replayed aircraft `id` over `area` to the SP, as the edge's replay does.
fn replayed(w: &World, id: &str, area: Volume) {
    w.uss.rid.sp.with_aircraft(|aircraft| {
        let mut a = rid::SpAircraft::new(true);
        a.area = vec![area];
        aircraft.insert(id.to_owned(), a);
    });
}

#[tokio::test]
async fn tick_runs_the_remote_id_round_at_every_call_and_the_zone_round_once_ten_minutes_passed() {
    let w = world();
    let isa_changes = || w.rid_dss.changes.lock().len();
    let first = w.uss.tick().await;
    assert!(first.rid.is_ok());
    assert_eq!(first.zone_sets.map(|z| z.len()), Some(0), "the first call runs the zone round");
    assert_eq!(isa_changes(), 0, "nothing flies yet");

    // A second later: an aircraft appeared, and the Remote ID round declares its ISA; the zone round is not due.
    replayed(&w, "a", cylinder(7.0, (0.0, 100.0), (0, 60)));
    w.clock.set(at(0) + Duration::seconds(1));
    let tick = w.uss.tick().await;
    assert!(tick.rid.is_ok());
    assert_eq!(isa_changes(), 1, "the Remote ID round ran");
    assert!(tick.zone_sets.is_none(), "a second after the last zone round");

    // Just short of ten minutes: the Remote ID round runs again for a new aircraft far away; still no zone round.
    replayed(&w, "b", cylinder(12.0, (0.0, 100.0), (0, 60)));
    w.clock.set(at(10) - Duration::seconds(1));
    let tick = w.uss.tick().await;
    assert!(isa_changes() > 1, "the Remote ID round ran again");
    assert!(tick.zone_sets.is_none(), "ten minutes have not passed since the last zone round");

    // Ten minutes after the first: the zone round runs, and the next one is ten minutes from now.
    w.clock.set(at(10));
    assert!(w.uss.tick().await.zone_sets.is_some(), "ten minutes passed");
    w.clock.set(at(19) + Duration::seconds(30));
    assert!(w.uss.tick().await.zone_sets.is_none(), "counted from the last zone round, not the first");
    w.clock.set(at(20));
    assert!(w.uss.tick().await.zone_sets.is_some());
}
