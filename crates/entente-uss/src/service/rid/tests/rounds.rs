//! The Remote ID rounds as one operation: an SP's flights polled and merged, dropped as they leave the view or
//! their SP withdraws its ISA, a failing SP polled less often, and tactical detection raising an alert from a
//! round alone, over the fake DSS, fake peer SPs, this USS's flights and a `ManualClock`.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::Duration;
use entente_dss::{EntityId, ManualClock};
use entente_geo::LatLng;
use parking_lot::Mutex;

use super::*;
use crate::rid::{Fix, Motion, V22A_VIEWS, View};
use crate::service::{Attempt, BoxFuture, CallError, FlightRecords, Flights, Journal, OwnFlight, UserNotice};
use crate::store::{StoreError, Ticket};
use crate::{FlightState, Priority};

/// Peer SPs by where they serve flights: each answers the flights it is given, one given none cannot be reached;
/// every poll is recorded with whether it was the first of its view.
#[derive(Default)]
pub(crate) struct FakePeers {
    answers: Mutex<HashMap<String, Vec<PeerFlight>>>,
    polls: Mutex<Vec<(String, bool)>>,
}

impl FakePeers {
    fn answer(&self, flights_url: &str, flights: Vec<PeerFlight>) {
        self.answers.lock().insert(flights_url.to_owned(), flights);
    }

    fn polls(&self) -> usize {
        self.polls.lock().len()
    }
}

impl RidPeers for FakePeers {
    fn flights<'a>(
        &'a self,
        flights_url: &'a str,
        _view: &'a View,
        first: bool,
    ) -> BoxFuture<'a, Result<Vec<PeerFlight>, CallError>> {
        self.polls.lock().push((flights_url.to_owned(), first));
        let answer = match self.answers.lock().get(flights_url) {
            Some(flights) => Ok(flights.clone()),
            None => Err(CallError::Failed(format!("{flights_url}: connection refused"))),
        };
        Box::pin(async move { answer })
    }
}

/// The flights' records and the journal: which flights tactical detection alerted.
#[derive(Default)]
struct Alerted(Mutex<Vec<EntityId>>);

impl FlightRecords for Alerted {
    fn save(&self, _flights: &[(EntityId, Option<&OwnFlight>)]) -> Ticket {
        let (done, ticket) = tokio::sync::oneshot::channel();
        let _ = done.send(Ok::<(), StoreError>(()));
        ticket
    }
}

impl Journal for Alerted {
    fn planning_attempt(&self, _time: crate::Timestamp, _attempt: &Attempt) {}

    fn operator_notified(&self, _notice: &UserNotice) {}

    fn tactical_alert(&self, flight: EntityId) {
        self.0.lock().push(flight);
    }
}

struct World {
    rounds: RidRounds,
    flights: Flights,
    dss: Arc<FakeRidDss>,
    peers: Arc<FakePeers>,
    alerted: Arc<Alerted>,
    clock: Arc<ManualClock>,
}

/// Where the other SP serves flights, as its ISA (`other_isa`) says.
const PEER: &str = "https://uss2.example/uss/flights";

/// A USS whose DSS names the other SP's ISA in every new subscription's answer, flying `flights`.
fn world(flights: HashMap<EntityId, OwnFlight>) -> World {
    let dss = Arc::new(FakeRidDss::default());
    dss.present.lock().push(other_isa("1"));
    let clock = Arc::new(ManualClock::new(at(0)));
    let peers = Arc::new(FakePeers::default());
    let alerted = Arc::new(Alerted::default());
    let rules = SpRules {
        identity: ME.to_owned(),
        retention: Duration::seconds(60),
        isa_margin_m: 500.0,
        max_area_m2: MAX_AREA_M2,
    };
    let sp = RidSp::new(rules, dss.clone(), Arc::new(Saved::default()), clock.clone(), Vec::new());
    let dp = RidDp::new(ME.to_owned(), V22A_VIEWS, dss.clone(), clock.clone());
    let tactical = TacticalRules {
        detection: entente_tactical::Config { horizontal_m: 50.0, vertical_m: 25.0, lookahead_s: 60.0 },
        track_max_age_s: 10.0,
    };
    let rounds =
        RidRounds::new(ME.to_owned(), sp, dp, peers.clone(), tactical, alerted.clone(), clock.clone())
            .expect("valid tactical rules");
    let flights = Flights::new(flights, alerted.clone());
    World { rounds, flights, dss, peers, alerted, clock }
}

/// A position at `lng` on 46.5°N, 50 m up, `seconds` after the start, flying along `track_deg` at 10 m/s.
fn fix(lng: f64, seconds: i64, track_deg: f64) -> Fix {
    Fix {
        time: at(0) + Duration::seconds(seconds),
        at: LatLng::new(46.5, lng),
        data: Motion {
            alt_m: Some(50.0),
            speed_mps: Some(10.0),
            track_deg: Some(track_deg),
            ..Motion::default()
        },
    }
}

fn peer_flight(id: &str, fixes: Vec<Fix>) -> PeerFlight {
    PeerFlight { id: id.to_owned(), simulated: false, aircraft_type: "Aeroplane".to_owned(), fixes }
}

fn seen_ids(w: &World, view: &View) -> Vec<(String, String)> {
    let mut seen: Vec<_> = w.rounds.seen(view).into_iter().map(|s| (s.id, s.provider)).collect();
    seen.sort();
    seen
}

/// An operator's watch over the view around the peer's flight, which learns the peer's ISA from the DSS's answer.
async fn watching(w: &World) -> (View, String) {
    let view = View::parse("46.49,6.99,46.51,7.01").expect("a view");
    let (_, held) =
        w.rounds.dp.subscribe(view, Duration::minutes(30), WatchKind::Operator).await.expect("a watch");
    (view, held.subscription_id)
}

#[tokio::test]
async fn a_poll_merges_a_peers_positions_and_a_flight_it_no_longer_reports_leaves_the_view() {
    let w = world(HashMap::new());
    let (view, _) = watching(&w).await;
    w.peers.answer(PEER, vec![peer_flight("p1", vec![fix(7.0, -2, 90.0), fix(7.0001, 0, 90.0)])]);
    w.rounds.tick(&w.flights).await.expect("a round");
    assert_eq!(*w.peers.polls.lock(), [(PEER.to_owned(), true)], "the SP polled for a minute of positions");
    let seen = w.rounds.seen(&view);
    assert_eq!(seen.len(), 1);
    assert_eq!(
        (seen[0].id.as_str(), seen[0].provider.as_str()),
        ("p1", OTHER),
        "provided by the ISA's owner"
    );
    assert_eq!(seen[0].fixes.len(), 2, "both positions merged");
    // A second later the SP reports one more position: merged into the same track.
    w.clock.advance(Duration::seconds(1));
    w.peers.answer(PEER, vec![peer_flight("p1", vec![fix(7.0002, 1, 90.0)])]);
    w.rounds.tick(&w.flights).await.expect("a round");
    assert_eq!(
        w.peers.polls.lock().last(),
        Some(&(PEER.to_owned(), false)),
        "later polls ask for a few seconds"
    );
    assert_eq!(w.rounds.seen(&view)[0].fixes.len(), 3);
    // Then the SP no longer reports it in the view: it left or ended, though its last position is recent.
    w.clock.advance(Duration::seconds(1));
    w.peers.answer(PEER, Vec::new());
    w.rounds.tick(&w.flights).await.expect("a round");
    assert!(seen_ids(&w, &view).is_empty(), "gone from the display");
}

#[tokio::test]
async fn an_sp_whose_isa_is_withdrawn_has_its_flights_dropped_and_is_polled_no_more() {
    let w = world(HashMap::new());
    let (view, subscription) = watching(&w).await;
    w.peers.answer(PEER, vec![peer_flight("p1", vec![fix(7.0, 0, 90.0)])]);
    w.rounds.tick(&w.flights).await.expect("a round");
    assert_eq!(seen_ids(&w, &view), [("p1".to_owned(), OTHER.to_owned())]);
    // The SP deletes its ISA and tells this USS's subscription (a higher index than its answer's).
    w.rounds.notified(OTHER, "isa-1", None, None, &told(&subscription, 1)).expect("the owner's notification");
    assert!(seen_ids(&w, &view).is_empty(), "its flights are no longer backed by an ISA");
    w.clock.advance(Duration::seconds(1));
    w.rounds.tick(&w.flights).await.expect("a round");
    assert_eq!(w.peers.polls(), 1, "an SP with no live ISA is not polled");
    assert!(seen_ids(&w, &view).is_empty());
}

#[tokio::test]
async fn a_failing_sp_is_polled_less_often_and_as_before_once_it_answers() {
    let w = world(HashMap::new());
    watching(&w).await;
    let mut polled_at = Vec::new();
    for second in 0..8 {
        if second == 6 {
            w.peers.answer(PEER, Vec::new());
        }
        let before = w.peers.polls();
        w.rounds.tick(&w.flights).await.expect("a round");
        if w.peers.polls() > before {
            polled_at.push(second);
        }
        w.clock.advance(Duration::seconds(1));
    }
    // Failing at 0 waits 2 s, at 2 waits 4 s; answering at 6 brings it back to every round.
    assert_eq!(polled_at, [0, 2, 6, 7]);
}

#[tokio::test]
async fn converging_own_and_peer_aircraft_raise_a_tactical_alert_from_a_round_with_no_operator_watching() {
    let flight = EntityId::random();
    let own = OwnFlight {
        priority: Priority(0),
        state: FlightState::Activated,
        volumes: vec![cylinder(7.0, (0.0, 100.0), (0, 30))],
        off_nominal: Vec::new(),
        published: None,
        nonconforming_since: None,
        telemetry: None,
        alerts: Vec::new(),
        history: Vec::new(),
        operator: None,
    };
    let w = world(HashMap::from([(flight, own)]));
    // The operator reports the flight heading east; alone, it conflicts with nothing.
    w.rounds.reported(&w.flights, &flight.to_string(), fix(7.0, 0, 90.0), false);
    assert!(w.rounds.alerts().is_empty());
    // A peer's aircraft 300 m east flies west at the same altitude: only a poll can tell of it.
    w.peers.answer(PEER, vec![peer_flight("p1", vec![fix(7.0039, 0, 270.0)])]);
    w.rounds.tick(&w.flights).await.expect("a round");
    let watches = w.rounds.dp.watches();
    assert!(
        !watches.is_empty() && watches.iter().all(|(_, held)| held.kind == WatchKind::Flying),
        "only the watch around the flight: {watches:?}"
    );
    assert_eq!(w.dss.subscriptions.lock().len(), watches.len(), "held at the DSS");
    let alerts = w.rounds.alerts();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    let mut pair = alerts[0].aircraft.clone();
    pair.sort();
    let mut expected = [flight.to_string(), "p1".to_owned()];
    expected.sort();
    assert_eq!(pair, expected);
    assert!(alerts[0].loss_start > at(0) && alerts[0].cpa_distance_m < 50.0, "{:?}", alerts[0]);
    let told = w.flights.get(flight).expect("the flight").alerts;
    assert!(told.len() == 1 && told[0].contains("p1"), "the operator is told: {told:?}");
    assert_eq!(*w.alerted.0.lock(), [flight], "counted once");
}
