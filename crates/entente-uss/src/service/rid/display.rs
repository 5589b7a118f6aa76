//! The display provider's picture of the peers' aircraft: what peer SPs answered to the polls of a round, merged
//! into one track per flight (its last minute of positions), pruned as positions age and SPs withdraw their ISAs,
//! and the aircraft a display shows in a view, this SP's own beside the peers'.

use std::collections::{HashMap, HashSet};

use chrono::Duration;

use crate::Timestamp;
use crate::rid::{Fix, NEAR_REAL_TIME_S, View, merge_fixes};
use crate::service::{BoxFuture, CallError};

/// A flight a peer SP reported in a view, with the positions it gave (current state first, then recent ones).
#[derive(Clone, Debug, PartialEq)]
pub struct PeerFlight {
    pub id: String,
    pub simulated: bool,
    pub aircraft_type: String,
    pub fixes: Vec<Fix>,
}

/// The peer SPs, as a DP polls them; one implementation per F3411 version.
pub trait RidPeers: Send + Sync + 'static {
    /// The flights the SP serving at `flights_url` reports in `view`. `first`: the first poll of that view there,
    /// which asks for a minute of recent positions (later ones ask for a few seconds).
    fn flights<'a>(
        &'a self,
        flights_url: &'a str,
        view: &'a View,
        first: bool,
    ) -> BoxFuture<'a, Result<Vec<PeerFlight>, CallError>>;
}

/// An aircraft a display shows: this SP's own or one a peer SP reported.
#[derive(Clone, Debug, PartialEq)]
pub struct Seen {
    pub id: String,
    /// The USS reporting it: this one for its own, the owner of the peer SP's ISAs for the others.
    pub provider: String,
    pub simulated: bool,
    pub aircraft_type: String,
    pub fixes: Vec<Fix>,
}

struct PeerTrack {
    provider: String,
    simulated: bool,
    aircraft_type: String,
    fixes: Vec<Fix>,
}

/// The peers' aircraft the polls reported, by where their SP serves flights and their id.
#[derive(Default)]
pub(super) struct Display {
    tracks: HashMap<(String, String), PeerTrack>,
}

impl Display {
    /// Drops positions older than a minute, and the flights of an SP that no longer declares any live ISA
    /// (`serving`: where those that do serve flights).
    pub(super) fn prune(&mut self, serving: &HashSet<String>, now: Timestamp) {
        for track in self.tracks.values_mut() {
            merge_fixes(&mut track.fixes, Vec::new(), now, Duration::seconds(NEAR_REAL_TIME_S));
        }
        self.tracks.retain(|(base, _), t| serving.contains(base) && !t.fixes.is_empty());
    }

    /// Merges the answer of the SP serving at `base` (whose ISAs `provider` owns) to a poll of `view`: a flight
    /// last seen in the view that the SP no longer reports there has left it or ended. Returns each flight whose
    /// newest position changed, with that position, for tactical detection.
    pub(super) fn merge(
        &mut self,
        base: &str,
        provider: &str,
        view: &View,
        flights: Vec<PeerFlight>,
        now: Timestamp,
    ) -> Vec<(String, Fix)> {
        let reported: HashSet<&str> = flights.iter().map(|f| f.id.as_str()).collect();
        self.tracks.retain(|(b, id), t| {
            b != base || reported.contains(id.as_str()) || t.fixes.last().is_none_or(|f| !view.contains(f.at))
        });
        let mut fresh = Vec::new();
        for flight in flights {
            let track =
                self.tracks.entry((base.to_owned(), flight.id.clone())).or_insert_with(|| PeerTrack {
                    provider: provider.to_owned(),
                    simulated: flight.simulated,
                    aircraft_type: flight.aircraft_type,
                    fixes: Vec::new(),
                });
            let before = track.fixes.last().map(|f| f.time);
            merge_fixes(&mut track.fixes, flight.fixes, now, Duration::seconds(NEAR_REAL_TIME_S));
            if let Some(last) = track.fixes.last()
                && Some(last.time) != before
            {
                fresh.push((flight.id, last.clone()));
            }
        }
        fresh
    }

    /// Every peer aircraft held, with its last minute of positions.
    pub(super) fn seen(&self) -> impl Iterator<Item = Seen> + '_ {
        self.tracks.iter().map(|((_, id), t)| Seen {
            id: id.clone(),
            provider: t.provider.clone(),
            simulated: t.simulated,
            aircraft_type: t.aircraft_type.clone(),
            fixes: t.fixes.clone(),
        })
    }

    /// Where the SP that reported peer flight `id` serves flights, if a peer reported it.
    pub(super) fn flights_url_of(&self, id: &str) -> Option<String> {
        self.tracks.keys().find(|(_, flight)| flight == id).map(|(base, _)| base.clone())
    }
}
