//! Network Remote ID as one part of the core: the SP and DP, the peers' aircraft the DP's polls merged, and tactical
//! detection over every position either role sees. [`RidRounds::tick`] is the one-second round (the SP's ISAs, the
//! DP's watches and the polls it asks for, merged and pruned, fresh positions to tactical detection), which
//! `Uss::tick` runs at every call; the edge converts what the display and alert readers return to its wire.

use std::sync::Arc;

use chrono::Duration;
use entente_dss::{Clock, EntityId};
use entente_tactical::TacticalError;
use futures_util::future::join_all;
use parking_lot::Mutex;

use super::display::Display;
use super::tactical::Tactical;
use super::{
    Alert, IsaSummary, NotificationRefused, PeerFlight, Poll, RidDp, RidPeers, RidSp, Seen, SpAircraft,
    TacticalRules, flying_areas,
};
use crate::Volume;
use crate::rid::{Cluster, Fix, NEAR_REAL_TIME_S, View, clusters, merge_fixes, seen_in};
use crate::service::{CallError, Flights, Journal};

/// The Remote ID part of one USS.
pub struct RidRounds {
    /// This USS's identity: the provider of the aircraft its SP reports.
    identity: String,
    /// The aircraft this USS reports and the ISAs over them.
    pub sp: RidSp,
    /// The areas watched, their subscriptions and the other SPs' ISAs they tell of.
    pub dp: RidDp,
    peers: Arc<dyn RidPeers>,
    journal: Arc<dyn Journal>,
    clock: Arc<dyn Clock>,
    /// The peers' aircraft the polls reported.
    display: Mutex<Display>,
    tactical: Mutex<Tactical>,
}

impl RidRounds {
    /// The rounds of a USS known to the DSS as `identity`, over its SP and DP, polling `peers`, telling `journal`
    /// of the flights tactical detection alerted.
    pub fn new(
        identity: String,
        sp: RidSp,
        dp: RidDp,
        peers: Arc<dyn RidPeers>,
        tactical: TacticalRules,
        journal: Arc<dyn Journal>,
        clock: Arc<dyn Clock>,
    ) -> Result<RidRounds, TacticalError> {
        Ok(RidRounds {
            identity,
            sp,
            dp,
            peers,
            journal,
            clock,
            display: Mutex::new(Display::default()),
            tactical: Mutex::new(Tactical::new(tactical)?),
        })
    }

    /// One round, by the core's clock: the SP's ISAs brought in line with what flies (this USS's `flights` that
    /// fly, replayed and injected traffic), the DP's watches kept around every aircraft this SP reports, then each
    /// SP the DP's round names polled at once, its answer merged and the peers' fresh positions handed to tactical
    /// detection. Peers' aircraft near this USS's are thus polled and checked with no operator watching. The SP's
    /// failure is returned once the DP's part ran too.
    pub async fn tick(&self, flights: &Flights) -> Result<(), CallError> {
        let declared = self.declare(flights).await;
        let flying = self.sp.flying_at();
        let polls = self.dp.tick(&flying).await;
        self.prune();
        self.poll_all(flights, polls).await;
        declared
    }

    /// The SP's part of a round alone: its ISAs brought in line with what flies now.
    pub async fn declare(&self, flights: &Flights) -> Result<(), CallError> {
        self.sp.tick(&flying_areas(flights)).await
    }

    /// Polls now every SP whose live ISA meets `view`, for a minute of recent positions there, as a display that
    /// cannot wait for the next round asks.
    pub async fn poll_view(&self, flights: &Flights, view: View) {
        let polls = self
            .dp
            .serving_in(&view)
            .into_iter()
            .map(|flights_url| Poll { flights_url, view, first: true })
            .collect();
        self.poll_all(flights, polls).await;
    }

    async fn poll_all(&self, flights: &Flights, polls: Vec<Poll>) {
        let answers =
            join_all(polls.iter().map(|p| self.peers.flights(&p.flights_url, &p.view, p.first))).await;
        for (poll, answer) in polls.iter().zip(answers) {
            self.polled(flights, poll, answer);
        }
    }

    /// Takes an SP's answer to `poll`: a failure makes the DP poll it less often, an answer is merged.
    fn polled(&self, flights: &Flights, poll: &Poll, answer: Result<Vec<PeerFlight>, CallError>) {
        let base = &poll.flights_url;
        let answer = match answer {
            Ok(answer) => answer,
            Err(e) => {
                if self.dp.poll_failed(base) {
                    tracing::warn!(sp = base, error = %e, "polling a Remote ID service provider failed; retrying less often");
                } else {
                    tracing::debug!(sp = base, error = %e, "polling a Remote ID service provider failed again");
                }
                return;
            }
        };
        if self.dp.poll_answered(base) {
            tracing::info!(sp = base, "a Remote ID service provider answers again");
        }
        let provider = self.dp.provider(base);
        let now = self.clock.now();
        let fresh = self.display.lock().merge(base, &provider, &poll.view, answer, now);
        for (id, fix) in fresh {
            self.observe(flights, &id, &fix);
        }
    }

    /// Drops the peers' positions older than a minute and the flights of SPs no longer declaring a live ISA.
    fn prune(&self) {
        let serving = self.dp.serving();
        self.display.lock().prune(&serving, self.clock.now());
    }

    /// Takes an ISA notification as the DP's [`RidDp::notified`] does; when it withdrew an ISA, the flights its SP
    /// no longer backs are dropped.
    pub fn notified(
        &self,
        sender: &str,
        id: &str,
        area: Option<IsaSummary>,
        extents: Option<Volume>,
        told: &[(String, i32)],
    ) -> Result<(), NotificationRefused> {
        if self.dp.notified(sender, id, area, extents, told)? {
            self.prune();
        }
        Ok(())
    }

    /// A position of aircraft `id` this SP reports (an operator's flight, or replayed or injected traffic when
    /// `simulated`): kept for display providers (its last minute) and fed to tactical detection.
    pub fn reported(&self, flights: &Flights, id: &str, fix: Fix, simulated: bool) {
        let now = self.clock.now();
        self.sp.with_aircraft(|aircraft| {
            let a = aircraft.entry(id.to_owned()).or_insert_with(|| SpAircraft::new(simulated));
            merge_fixes(&mut a.fixes, vec![fix.clone()], now, Duration::seconds(NEAR_REAL_TIME_S));
        });
        self.observe(flights, id, &fix);
    }

    /// Feeds one position to tactical detection; a newly predicted loss of separation involving one of this USS's
    /// flights is added to that flight's alerts.
    fn observe(&self, flights: &Flights, id: &str, fix: &Fix) {
        let raised = self.tactical.lock().observe(id, fix, self.clock.now());
        for c in raised {
            tracing::info!(a = %c.a, b = %c.b, in_s = c.t_in - c.at, cpa_m = c.d_cpa_m, "tactical conflict predicted");
            for (own, other) in [(&c.a, &c.b), (&c.b, &c.a)] {
                let Some(flight) = EntityId::parse(own) else { continue };
                let message = format!(
                    "tactical: predicted loss of separation with {other} in {:.0} s (closest {:.0} m)",
                    (c.t_in - c.at).max(0.0),
                    c.d_cpa_m
                );
                // Not waited for: positions arrive on paths that cannot wait for the disk. The save is queued in
                // order with every other change to the flights, and a failure is logged by the store.
                let (alerted, _saving) = flights.apply(&[flight], |flights| {
                    flights.get_mut(&flight).map(|f| f.alerts.push(message)).is_some()
                });
                if alerted {
                    self.journal.tactical_alert(flight);
                }
            }
        }
    }

    /// Every aircraft, this SP's and peers', with a position in `view` in the last minute.
    pub fn seen(&self, view: &View) -> Vec<Seen> {
        let now = self.clock.now();
        let mut seen: Vec<Seen> = self.sp.read(|aircraft, _| {
            aircraft
                .iter()
                .map(|(id, a)| Seen {
                    id: id.clone(),
                    provider: self.identity.clone(),
                    simulated: a.simulated,
                    aircraft_type: a.declared_type(),
                    fixes: a.fixes.clone(),
                })
                .collect()
        });
        seen.extend(self.display.lock().seen());
        seen.retain(|s| seen_in(&s.fixes, view, now));
        seen
    }

    /// Where the SP that reported peer flight `id` serves flights, if a peer reported it.
    pub fn peer_flights_url(&self, id: &str) -> Option<String> {
        self.display.lock().flights_url_of(id)
    }

    /// The predicted losses of separation between aircraft this USS sees, as of their latest positions.
    pub fn alerts(&self) -> Vec<Alert> {
        self.tactical.lock().alerts(self.clock.now())
    }
}

/// The clusters a view too large for detail shows of `seen`: where each was last.
pub fn clusters_of(view: &View, seen: &[Seen]) -> Vec<Cluster> {
    let latest: Vec<_> = seen.iter().filter_map(|s| s.fixes.last().map(|f| f.at)).collect();
    clusters(view, &latest)
}
