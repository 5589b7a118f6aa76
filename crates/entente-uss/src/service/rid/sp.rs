//! The Remote ID service provider: the aircraft this USS reports (its operators' flights while they fly, replayed
//! and injected traffic), the ISAs it keeps at the DSS over them (one per cluster of nearby aircraft, each within
//! the DSS's area limit) and the cleaning, at start, of the ISAs an earlier run left.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use chrono::Duration;
use entente_dss::{Clock, EntityId};
use entente_geo::LatLng;
use parking_lot::Mutex;

use super::{IsaChange, IsaChanged, IsaRecords, RidDss};
use crate::rid::{Fix, isa_clusters};
use crate::service::{CallError, Flights, saved_by};
use crate::{FlightState, Timestamp, Volume};

/// What an SP's rounds go by.
#[derive(Clone, Debug)]
pub struct SpRules {
    /// This USS's identity at the DSS: an ISA an earlier run left is this USS's only if the DSS names it owner.
    pub identity: String,
    /// How long an ISA and an aircraft's positions outlive its flight (F3411's NetMaxNearRealTimeDataPeriod).
    pub retention: Duration,
    /// How far an ISA reaches beyond the aircraft's areas, so it does not trace their edges.
    pub isa_margin_m: f64,
    /// The largest area the DSS takes for one ISA.
    pub max_area_m2: f64,
}

/// One aircraft this SP reports.
pub struct SpAircraft {
    /// Replayed or injected traffic, not an operator's flight: it ends only when told, not with a flight.
    pub simulated: bool,
    /// Where and until when it flies, for the ISA.
    pub area: Vec<Volume>,
    /// When it stopped flying; its ISA and positions stay for the retention after.
    pub ended: Option<Timestamp>,
    /// Its last minute of positions.
    pub fixes: Vec<Fix>,
    /// The aircraft type it declares, in F3411's terms (`Helicopter`); `None`: not declared.
    pub aircraft_type: Option<String>,
    /// The injected test it belongs to, if any: the edge keeps that test's declarations beside it, by aircraft id.
    pub test: Option<String>,
}

impl SpAircraft {
    pub fn new(simulated: bool) -> SpAircraft {
        SpAircraft {
            simulated,
            area: Vec::new(),
            ended: None,
            fixes: Vec::new(),
            aircraft_type: None,
            test: None,
        }
    }

    /// The aircraft type it declares, F3411's `NotDeclared` when it declares none.
    pub fn declared_type(&self) -> String {
        self.aircraft_type.clone().unwrap_or_else(|| "NotDeclared".to_owned())
    }
}

/// An ISA this SP holds at the DSS.
#[derive(Clone, Debug, PartialEq)]
pub struct HeldIsa {
    pub id: String,
    pub version: String,
    pub extent: Volume,
    /// The aircraft it was declared for: as clusters change, each keeps the ISA that shares most of its aircraft.
    pub members: BTreeSet<String>,
}

struct State {
    aircraft: HashMap<String, SpAircraft>,
    isas: Vec<HeldIsa>,
    /// ISAs an earlier run of this USS declared and may have left at the DSS: deleted before this run declares.
    earlier: Vec<String>,
}

/// The SP of one USS: its aircraft and ISAs, brought in line with each other by [`RidSp::tick`].
pub struct RidSp {
    rules: SpRules,
    dss: Arc<dyn RidDss>,
    records: Arc<dyn IsaRecords>,
    clock: Arc<dyn Clock>,
    state: Mutex<State>,
    /// Held across one round, so two never race at the DSS.
    round: tokio::sync::Mutex<()>,
}

/// The flights that make this USS an SP, each with its volumes: its operators' flights while they fly.
pub fn flying_areas(flights: &Flights) -> HashMap<String, Vec<Volume>> {
    flights.read(|flights| {
        flights
            .iter()
            .filter(|(_, f)| {
                matches!(
                    f.state,
                    FlightState::Activated | FlightState::Nonconforming | FlightState::Contingent
                )
            })
            .map(|(id, f)| (id.to_string(), f.all_volumes().cloned().collect()))
            .collect()
    })
}

impl RidSp {
    /// The SP of a USS whose earlier runs declared the ISAs `earlier` (as its records kept them).
    pub fn new(
        rules: SpRules,
        dss: Arc<dyn RidDss>,
        records: Arc<dyn IsaRecords>,
        clock: Arc<dyn Clock>,
        earlier: Vec<String>,
    ) -> RidSp {
        RidSp {
            rules,
            dss,
            records,
            clock,
            state: Mutex::new(State { aircraft: HashMap::new(), isas: Vec::new(), earlier }),
            round: tokio::sync::Mutex::new(()),
        }
    }

    /// Changes the aircraft this SP reports (to record a position, declare or end replayed traffic, forget a
    /// test's flights); the ISAs follow at the next round.
    pub fn with_aircraft<R>(&self, change: impl FnOnce(&mut HashMap<String, SpAircraft>) -> R) -> R {
        change(&mut self.state.lock().aircraft)
    }

    /// Reads the aircraft and the ISAs held over them at once.
    pub fn read<R>(&self, read: impl FnOnce(&HashMap<String, SpAircraft>, &[HeldIsa]) -> R) -> R {
        let state = self.state.lock();
        read(&state.aircraft, &state.isas)
    }

    /// Where each aircraft that still flies is: its last position, or before its first the centre of where it is
    /// declared to fly.
    pub fn flying_at(&self) -> Vec<LatLng> {
        self.state
            .lock()
            .aircraft
            .values()
            .filter(|a| a.ended.is_none())
            .filter_map(|a| {
                a.fixes.last().map(|f| f.at).or_else(|| {
                    let r = a.area.first()?.outline.bounding_rects().into_iter().next()?;
                    Some(LatLng::new((r.lat_lo + r.lat_hi) / 2.0, (r.lng_lo + r.lng_hi) / 2.0))
                })
            })
            .collect()
    }

    /// Aircraft `id` stopped flying now (replayed traffic that played its last sample).
    pub fn end(&self, id: &str) {
        let now = self.clock.now();
        if let Some(aircraft) = self.state.lock().aircraft.get_mut(id) {
            aircraft.ended = Some(now);
        }
    }

    /// One round: the ISAs an earlier run left are deleted first; then the aircraft follow `flying` (this USS's
    /// flights that fly, by id, with their volumes: they start and go on flying, the others end), those ended
    /// longer than the retention are forgotten, and one ISA is held per cluster of nearby aircraft
    /// (`crate::rid::isa_clusters`), created when a cluster appears, updated as it changes, deleted once its
    /// last aircraft ended and the retention passed. Subscribers hear of each change. An ISA the DSS refuses does
    /// not hold up the others; the first failure is returned once all were tried.
    pub async fn tick(&self, flying: &HashMap<String, Vec<Volume>>) -> Result<(), CallError> {
        let _round = self.round.lock().await;
        let cleaned = self.clean_earlier().await;
        let now = self.clock.now();
        let (desired, held) = {
            let mut state = self.state.lock();
            state.follow(flying, now, self.rules.retention);
            (state.desired(now, &self.rules), state.isas.clone())
        };
        let (changes, gone) = assign(desired, held);
        let mut first_error = cleaned.err();
        for (held, mut extent, members) in changes {
            let outcome = match held {
                Some(h) => {
                    // The start stays as first declared: the DSS refuses a start moved into the past.
                    extent.time.lo = h.extent.time.lo;
                    if extent == h.extent {
                        if let Some(kept) = self.state.lock().isas.iter_mut().find(|i| i.id == h.id) {
                            kept.members = members;
                        }
                        continue;
                    }
                    self.put_isa(Some(h), extent, members, now).await
                }
                None => self.put_isa(None, extent, members, now).await,
            };
            if let Err(e) = outcome {
                first_error.get_or_insert(e);
            }
        }
        for held in gone {
            if let Err(e) = self.delete_isa(held).await {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// Deletes at the DSS every ISA an earlier run of this USS declared (already gone is fine) and tells their
    /// subscribers; each one is forgotten once the DSS no longer holds it, and the others are tried again next
    /// round.
    async fn clean_earlier(&self) -> Result<(), CallError> {
        let earlier = self.state.lock().earlier.clone();
        let mut first_error = None;
        for id in earlier {
            match self.delete_earlier(&id).await {
                Ok(()) => {
                    self.state.lock().earlier.retain(|e| *e != id);
                    self.remember(&id, None).await;
                }
                Err(e) => {
                    tracing::warn!(isa = id, error = %e, "deleting an ISA an earlier run declared failed");
                    first_error.get_or_insert(e);
                }
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    async fn delete_earlier(&self, id: &str) -> Result<(), CallError> {
        let Some(found) = self.dss.isa(id).await? else {
            return Ok(());
        };
        if found.owner != self.rules.identity {
            // Not this USS's (its id was taken by another writer): nothing of ours to clean.
            return Ok(());
        }
        if let Some(changed) = self.change(id, Some(&found.version), None).await? {
            tracing::info!(isa = id, "identification service area of an earlier run deleted");
            changed.notify.await;
        }
        Ok(())
    }

    /// Changes ISA `id` at the DSS; `None`: the DSS no longer holds the version given, and this SP forgets the
    /// ISA so the next round declares anew (as it does when the DSS moved past it, which is an error).
    async fn change(
        &self,
        id: &str,
        version: Option<&str>,
        extent: Option<&Volume>,
    ) -> Result<Option<IsaChanged>, CallError> {
        match self.dss.change_isa(id, version, extent).await? {
            IsaChange::Changed(changed) => Ok(Some(changed)),
            IsaChange::Missing => {
                self.state.lock().isas.retain(|h| h.id != id);
                Ok(None)
            }
            IsaChange::Superseded(e) => {
                self.state.lock().isas.retain(|h| h.id != id);
                Err(e)
            }
        }
    }

    async fn put_isa(
        &self,
        held: Option<HeldIsa>,
        extent: Volume,
        members: BTreeSet<String>,
        now: Timestamp,
    ) -> Result<(), CallError> {
        let id = held.as_ref().map_or_else(|| EntityId::random().to_string(), |h| h.id.clone());
        if held.is_none() {
            // On disk before the DSS hears of it, so no run can leave it behind unknown to the next.
            self.remember(&id, Some(now)).await;
        }
        let Some(changed) =
            self.change(&id, held.as_ref().map(|h| h.version.as_str()), Some(&extent)).await?
        else {
            self.remember(&id, None).await;
            return Ok(());
        };
        {
            let mut state = self.state.lock();
            state.isas.retain(|h| h.id != id);
            state.isas.push(HeldIsa { id: id.clone(), version: changed.version.clone(), extent, members });
        }
        tracing::info!(isa = id, subscribers = changed.subscribers, "identification service area declared");
        changed.notify.await;
        Ok(())
    }

    async fn delete_isa(&self, held: HeldIsa) -> Result<(), CallError> {
        let changed = self.change(&held.id, Some(&held.version), None).await?;
        self.state.lock().isas.retain(|h| h.id != held.id);
        self.remember(&held.id, None).await;
        tracing::info!(isa = held.id, "identification service area deleted");
        if let Some(changed) = changed {
            changed.notify.await;
        }
        Ok(())
    }

    /// Records that ISA `id` was declared at `declared` (`None`: it is gone from the DSS), on disk before
    /// returning. Every ISA declared and not yet known deleted is kept.
    async fn remember(&self, id: &str, declared: Option<Timestamp>) {
        if let Err(e) = saved_by(self.records.save_isa(id, declared)).await {
            tracing::error!(isa = id, error = %e, "saving this USS's ISA ids failed");
        }
    }
}

impl State {
    /// The operators' flights in `flying` fly (from their volumes); the others end now; aircraft ended longer than
    /// `retention` ago are forgotten.
    fn follow(&mut self, flying: &HashMap<String, Vec<Volume>>, now: Timestamp, retention: Duration) {
        for (id, area) in flying {
            let aircraft = self.aircraft.entry(id.clone()).or_insert_with(|| SpAircraft::new(false));
            aircraft.area.clone_from(area);
            aircraft.ended = None;
        }
        for (id, aircraft) in &mut self.aircraft {
            if !aircraft.simulated && aircraft.ended.is_none() && !flying.contains_key(id) {
                aircraft.ended = Some(now);
            }
        }
        self.aircraft.retain(|_, a| a.ended.is_none_or(|end| end + retention > now));
    }

    /// The ISAs the aircraft need now: each cluster's extent and aircraft.
    fn desired(&self, now: Timestamp, rules: &SpRules) -> Vec<(Volume, BTreeSet<String>)> {
        // In the order of the aircraft's ids, so the clusters stay the same from one round to the next.
        let ordered: BTreeMap<&String, &SpAircraft> = self.aircraft.iter().collect();
        let (owners, areas): (Vec<&String>, Vec<Volume>) = ordered
            .into_iter()
            .flat_map(|(id, a)| {
                a.area.iter().map(move |v| {
                    let mut v = v.clone();
                    // An ended flight is declared until it ended; one flying late, at least until now.
                    v.time.hi = a.ended.or_else(|| v.time.hi.map(|hi| hi.max(now)));
                    (id, v)
                })
            })
            .unzip();
        isa_clusters(&areas, now, rules.retention, rules.isa_margin_m, rules.max_area_m2)
            .into_iter()
            .map(|c| (c.extent, c.members.iter().map(|&m| owners[m].clone()).collect()))
            .collect()
    }
}

/// Pairs each desired cluster (extent and aircraft) with the held ISA sharing most of its aircraft, each ISA
/// used once; a cluster sharing none gets a new ISA (`None`), and the held ISAs left over are to be deleted.
#[allow(clippy::type_complexity)]
fn assign(
    desired: Vec<(Volume, BTreeSet<String>)>,
    mut held: Vec<HeldIsa>,
) -> (Vec<(Option<HeldIsa>, Volume, BTreeSet<String>)>, Vec<HeldIsa>) {
    let mut changes = Vec::with_capacity(desired.len());
    for (extent, members) in desired {
        let best = held
            .iter()
            .enumerate()
            .map(|(i, h)| (h.members.intersection(&members).count(), i))
            .filter(|(shared, _)| *shared > 0)
            .max_by_key(|&(shared, i)| (shared, std::cmp::Reverse(i)))
            .map(|(_, i)| held.remove(i));
        changes.push((best, extent, members));
    }
    (changes, held)
}
