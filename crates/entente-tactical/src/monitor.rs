//! Incremental detection: the current conflicts of live traffic, kept up to date one position report at a time.
//!
//! A report only re-evaluates the pairs of the aircraft it is about, found through the same swept-box grid as the
//! full scan, so each report costs in proportion to that aircraft's neighbours, not to the traffic. Boxes are
//! swept over `max_age_s + lookahead_s`, because a neighbour is dead-reckoned from a report up to `max_age_s` old;
//! tracks older than that are dropped, which is what bounds the boxes.

use std::cmp::Ordering;
use std::collections::{BTreeSet, HashMap};

use crate::cpa::{Kin, encounter};
use crate::detector::{Conflict, Detector};
use crate::error::TacticalError;
use crate::grid::{Plan, Sweep};
use crate::state::{AircraftId, State};

/// What one report (or expiry) changed: pairs newly in conflict, and pairs no longer in conflict.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Update {
    pub raised: Vec<Conflict>,
    pub cleared: Vec<(AircraftId, AircraftId)>,
}

struct Track {
    state: State,
    kin: Kin,
    keys: Vec<i64>,
    partners: Vec<usize>,
}

/// A report time, ordered totally (states are finite, so this is the usual order).
#[derive(Clone, Copy, Debug, PartialEq)]
struct Time(f64);

impl Eq for Time {}

impl PartialOrd for Time {
    fn partial_cmp(&self, other: &Time) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Time {
    fn cmp(&self, other: &Time) -> Ordering {
        self.0.total_cmp(&other.0)
    }
}

/// The live conflicts of every track a USS sees (its own flights and its peers' via Remote ID): feed it each
/// position report as it arrives and forward the [`Update`]s to the operators concerned and to the map.
pub struct Monitor {
    detector: Detector,
    max_age_s: f64,
    /// The newest report time seen: the epoch pairs are evaluated at.
    now: f64,
    /// Speed (m/s) the boxes and cells are sized for; no track is faster.
    speed_bound: f64,
    plan: Option<Plan>,
    slots: Vec<Option<Track>>,
    free: Vec<usize>,
    by_id: HashMap<AircraftId, usize>,
    grid: HashMap<i64, Vec<usize>>,
    by_time: BTreeSet<(Time, usize)>,
    conflicts: HashMap<(usize, usize), Conflict>,
}

fn pair_key(x: usize, y: usize) -> (usize, usize) {
    (x.min(y), x.max(y))
}

impl Monitor {
    /// Tracks not heard of for `max_age_s` seconds (on the reports' clock) are dropped with their conflicts.
    pub fn new(detector: Detector, max_age_s: f64) -> Result<Monitor, TacticalError> {
        if !(max_age_s.is_finite() && max_age_s >= 0.0) {
            return Err(TacticalError::InvalidConfig {
                field: "max_age_s",
                value: max_age_s,
                rule: "must be a finite number, zero or more",
            });
        }
        Ok(Monitor {
            detector,
            max_age_s,
            now: f64::NEG_INFINITY,
            speed_bound: 0.0,
            plan: None,
            slots: Vec::new(),
            free: Vec::new(),
            by_id: HashMap::new(),
            grid: HashMap::new(),
            by_time: BTreeSet::new(),
            conflicts: HashMap::new(),
        })
    }

    /// Every current conflict, each pair once.
    pub fn conflicts(&self) -> impl Iterator<Item = &Conflict> {
        self.conflicts.values()
    }

    /// The latest report held of aircraft `id`, so whoever reads a conflict can tell where its aircraft are.
    pub fn latest(&self, id: &str) -> Option<&State> {
        let slot = *self.by_id.get(id)?;
        self.slots.get(slot)?.as_ref().map(|track| &track.state)
    }

    /// Tracks currently held.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// Takes a position report and re-evaluates that aircraft's pairs at the newest report time. A report older
    /// than the aircraft's current one, or older than `max_age_s` before the newest, changes nothing.
    pub fn update(&mut self, state: State) -> Update {
        let mut update = Update::default();
        let t = state.t();
        let known = self.by_id.get(state.id()).copied();
        let outdated = known.and_then(|slot| self.track(slot)).is_some_and(|old| old.state.t() > t);
        if t < self.now - self.max_age_s || outdated {
            return update;
        }
        if t > self.now {
            self.now = t;
            self.expire(&mut update);
        }
        let gs = state.velocity().gs_mps;
        if gs > self.speed_bound || self.plan.is_none() {
            // Doubling keeps re-sizing rare: every box depends on the speed bound through the reach.
            self.speed_bound = gs.max(2.0 * self.speed_bound);
            self.resize(state.position().lat);
        }
        let slot = match self.by_id.get(state.id()).copied() {
            Some(slot) => slot,
            None => {
                let slot = self.free.pop().unwrap_or_else(|| {
                    self.slots.push(None);
                    self.slots.len() - 1
                });
                self.by_id.insert(state.id().clone(), slot);
                slot
            }
        };
        let before = self.drop_conflicts(slot);
        if let Some(old) = self.slots[slot].take() {
            self.unindex(slot, &old);
        }
        let kin = Kin::of(&state);
        let mut track = Track { state, kin, keys: Vec::new(), partners: Vec::new() };
        self.index(slot, &mut track);

        let mut candidates: Vec<usize> = track
            .keys
            .iter()
            .filter_map(|k| self.grid.get(k))
            .flatten()
            .copied()
            .filter(|&s| s != slot)
            .collect();
        candidates.sort_unstable();
        candidates.dedup();
        let config = *self.detector.config();
        for other in candidates {
            let Some(o) = self.track(other) else { continue };
            let Some(e) = encounter(&track.kin, &o.kin, self.now, &config) else { continue };
            let conflict = Conflict::new(&track.state, &o.state, self.now, e);
            if !before.contains(&other) {
                update.raised.push(conflict.clone());
            }
            self.conflicts.insert(pair_key(slot, other), conflict);
            track.partners.push(other);
            if let Some(o) = self.slots[other].as_mut() {
                o.partners.push(slot);
            }
        }
        for &gone in before.iter().filter(|p| !track.partners.contains(p)) {
            if let Some(o) = self.track(gone) {
                update.cleared.push(ordered(&track.state, &o.state));
            }
        }
        self.slots[slot] = Some(track);
        update
    }

    /// Forgets an aircraft (it landed or left), clearing its conflicts.
    pub fn remove(&mut self, id: &str) -> Update {
        let mut update = Update::default();
        if let Some(slot) = self.by_id.get(id).copied() {
            self.forget(slot, &mut update);
        }
        update
    }

    fn track(&self, slot: usize) -> Option<&Track> {
        self.slots.get(slot).and_then(Option::as_ref)
    }

    fn duration(&self) -> f64 {
        self.max_age_s + self.detector.config().lookahead_s
    }

    /// Sizes the cells for the current speed bound and re-files every track under them.
    fn resize(&mut self, ref_lat: f64) {
        self.plan = Some(Plan::new(self.detector.config(), self.speed_bound, self.duration(), ref_lat));
        self.grid.clear();
        for slot in 0..self.slots.len() {
            if let Some(mut track) = self.slots[slot].take() {
                self.index(slot, &mut track);
                self.slots[slot] = Some(track);
            }
        }
    }

    /// Files `track` in the grid and the expiry order, recording its cell keys.
    fn index(&mut self, slot: usize, track: &mut Track) {
        track.keys.clear();
        if let Some(plan) = &self.plan {
            let sweep = Sweep::of(&track.kin, self.duration(), plan.reach_m, self.detector.config());
            plan.cells.keys(&sweep, |k| track.keys.push(k));
        }
        for &k in &track.keys {
            self.grid.entry(k).or_default().push(slot);
        }
        self.by_time.insert((Time(track.state.t()), slot));
    }

    fn unindex(&mut self, slot: usize, track: &Track) {
        for k in &track.keys {
            if let Some(cell) = self.grid.get_mut(k) {
                cell.retain(|&s| s != slot);
                if cell.is_empty() {
                    self.grid.remove(k);
                }
            }
        }
        self.by_time.remove(&(Time(track.state.t()), slot));
    }

    /// Removes every conflict of `slot`, returning the partners it had.
    fn drop_conflicts(&mut self, slot: usize) -> Vec<usize> {
        let partners = self.slots[slot].as_mut().map(|t| std::mem::take(&mut t.partners)).unwrap_or_default();
        for &p in &partners {
            self.conflicts.remove(&pair_key(slot, p));
            if let Some(o) = self.slots[p].as_mut() {
                o.partners.retain(|&s| s != slot);
            }
        }
        partners
    }

    fn forget(&mut self, slot: usize, update: &mut Update) {
        for p in self.drop_conflicts(slot) {
            if let (Some(a), Some(b)) = (self.track(slot), self.track(p)) {
                update.cleared.push(ordered(&a.state, &b.state));
            }
        }
        if let Some(track) = self.slots[slot].take() {
            self.unindex(slot, &track);
            self.by_id.remove(track.state.id());
            self.free.push(slot);
        }
    }

    fn expire(&mut self, update: &mut Update) {
        let horizon = Time(self.now - self.max_age_s);
        while let Some(&(t, slot)) = self.by_time.first() {
            if t >= horizon {
                break;
            }
            self.forget(slot, update);
        }
    }
}

fn ordered(a: &State, b: &State) -> (AircraftId, AircraftId) {
    if a.id() <= b.id() { (a.id().clone(), b.id().clone()) } else { (b.id().clone(), a.id().clone()) }
}

#[cfg(test)]
mod tests;
