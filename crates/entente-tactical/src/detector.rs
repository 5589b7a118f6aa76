//! The detector: configuration, the conflict it reports, and the full scan over a snapshot of traffic.

use std::num::NonZeroUsize;
use std::ops::Range;

use crate::cpa::{Encounter, Kin, encounter};
use crate::error::TacticalError;
use crate::grid::{Plan, Sweep, sort_by_cell};
use crate::state::{AircraftId, State};

/// Protected zone and look-ahead. A pair is in conflict when, flying straight at constant speed, both come within
/// `horizontal_m` horizontally and `vertical_m` vertically at the same time, before `lookahead_s` from now.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Config {
    pub horizontal_m: f64,
    pub vertical_m: f64,
    pub lookahead_s: f64,
}

/// A predicted (or current) loss of separation between `a` and `b`, `a < b`. Times are seconds on the states'
/// clock; the loss window `[t_in, t_out]` is infinite on a side where the pair does not close at all (flying in
/// formation inside the zone), and `t_in < at` means separation is already lost.
#[derive(Clone, Debug, PartialEq)]
pub struct Conflict {
    pub a: AircraftId,
    pub b: AircraftId,
    /// The instant both states were dead-reckoned to.
    pub at: f64,
    /// Time of the horizontal closest point of approach.
    pub t_cpa: f64,
    /// Horizontal distance at the closest point of approach.
    pub d_cpa_m: f64,
    pub t_in: f64,
    pub t_out: f64,
}

impl Conflict {
    pub(crate) fn new(a: &State, b: &State, at: f64, e: Encounter) -> Conflict {
        let (a, b) = if a.id() <= b.id() { (a, b) } else { (b, a) };
        Conflict {
            a: a.id().clone(),
            b: b.id().clone(),
            at,
            t_cpa: at + e.t_cpa,
            d_cpa_m: e.d_cpa_m,
            t_in: at + e.t_in,
            t_out: at + e.t_out,
        }
    }
}

/// Below this many aircraft a scan stays on one thread: spawning costs more than it saves.
const PARALLEL_FROM: usize = 2_000;

/// Checks snapshots of traffic for conflicts under one [`Config`].
#[derive(Clone, Debug)]
pub struct Detector {
    config: Config,
    threads: usize,
}

impl Detector {
    pub fn new(config: Config) -> Result<Detector, TacticalError> {
        let positive = |field, value: f64| {
            if value.is_finite() && value > 0.0 {
                Ok(())
            } else {
                Err(TacticalError::InvalidConfig { field, value, rule: "must be a positive finite number" })
            }
        };
        positive("horizontal_m", config.horizontal_m)?;
        positive("vertical_m", config.vertical_m)?;
        positive("lookahead_s", config.lookahead_s)?;
        let threads = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
        Ok(Detector { config, threads })
    }

    /// Caps the threads a scan may use (at least one).
    pub fn with_threads(self, threads: usize) -> Detector {
        Detector { threads: threads.max(1), ..self }
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The conflict between two aircraft, both dead-reckoned to `at`.
    pub fn pair(&self, a: &State, b: &State, at: f64) -> Option<Conflict> {
        encounter(&Kin::of(a), &Kin::of(b), at, &self.config).map(|e| Conflict::new(a, b, at, e))
    }

    /// Every conflict in a snapshot, with all states dead-reckoned to the newest one's time. Each pair appears
    /// once, ordered by the pair's positions in `states`. Ids are expected to be unique.
    pub fn scan(&self, states: &[State]) -> Vec<Conflict> {
        let Some(at) = states.iter().map(State::t).reduce(f64::max) else { return Vec::new() };
        let oldest = states.iter().map(State::t).fold(at, f64::min);
        let fastest = states.iter().map(|s| s.velocity().gs_mps).fold(0.0, f64::max);
        let mean_lat = states.iter().map(|s| s.position().lat).sum::<f64>() / states.len() as f64;
        let plan = Plan::new(&self.config, fastest, at - oldest + self.config.lookahead_s, mean_lat);
        let threads = if states.len() >= PARALLEL_FROM { self.threads } else { 1 };
        let ranges = even_ranges(states.len(), threads);
        let prepared = on_threads(&ranges, |range| {
            let mut kins = Vec::with_capacity(range.len());
            let mut sweeps = Vec::with_capacity(range.len());
            let mut entries = Vec::with_capacity(range.len() * 4);
            for (i, s) in range.clone().zip(&states[range.clone()]) {
                let k = Kin::of(s);
                let sweep = Sweep::of(&k, at - k.t + self.config.lookahead_s, plan.reach_m, &self.config);
                plan.cells.keys(&sweep, |key| entries.push((key, i as u32)));
                kins.push(k);
                sweeps.push(sweep);
            }
            (kins, sweeps, entries)
        });
        let mut kins = Vec::with_capacity(states.len());
        let mut sweeps = Vec::with_capacity(states.len());
        let mut entries = Vec::new();
        for (k, s, e) in prepared {
            kins.extend(k);
            sweeps.extend(s);
            entries.extend(e);
        }
        sort_by_cell(&mut entries);
        let chunks = split_at_cells(&entries, threads);
        let mut found: Vec<_> =
            on_threads(&chunks, |chunk| self.pairs_in_cells(&entries[chunk.clone()], &kins, &sweeps, at))
                .into_iter()
                .flatten()
                .collect();
        // A pair whose boxes share several cells was evaluated once per cell.
        found.sort_unstable_by_key(|&(i, j, _)| (i, j));
        found.dedup_by_key(|&mut (i, j, _)| (i, j));
        found
            .into_iter()
            .map(|(i, j, e)| Conflict::new(&states[i as usize], &states[j as usize], at, e))
            .collect()
    }

    /// The narrow phase over every pair sharing a cell; `entries` is sorted by cell.
    fn pairs_in_cells(
        &self,
        entries: &[(i64, u32)],
        kins: &[Kin],
        sweeps: &[Sweep],
        at: f64,
    ) -> Vec<(u32, u32, Encounter)> {
        let mut found = Vec::new();
        for cell in entries.chunk_by(|x, y| x.0 == y.0) {
            for (n, &(_, i)) in cell.iter().enumerate() {
                for &(_, j) in &cell[n + 1..] {
                    let (i, j) = (i.min(j), i.max(j));
                    if !sweeps[i as usize].meets(&sweeps[j as usize]) {
                        continue;
                    }
                    if let Some(e) = encounter(&kins[i as usize], &kins[j as usize], at, &self.config) {
                        found.push((i, j, e));
                    }
                }
            }
        }
        found
    }
}

/// `0..len` cut into `n` ranges of nearly equal length.
fn even_ranges(len: usize, n: usize) -> Vec<Range<usize>> {
    (0..n).map(|k| len * k / n..len * (k + 1) / n).collect()
}

/// Cuts the sorted entries into about `n` ranges of similar size without splitting a cell.
fn split_at_cells(entries: &[(i64, u32)], n: usize) -> Vec<Range<usize>> {
    let mut cuts = vec![0];
    for k in 1..n {
        let mut cut = (entries.len() * k / n).max(cuts[cuts.len() - 1]);
        while cut > 0 && cut < entries.len() && entries[cut].0 == entries[cut - 1].0 {
            cut += 1;
        }
        cuts.push(cut);
    }
    cuts.push(entries.len());
    cuts.windows(2).map(|w| w[0]..w[1]).collect()
}

/// Runs `f` on every range, one scoped thread each beyond the first, which runs on the caller's thread.
fn on_threads<T: Send>(ranges: &[Range<usize>], f: impl Fn(&Range<usize>) -> T + Sync) -> Vec<T> {
    let Some((first, rest)) = ranges.split_first() else { return Vec::new() };
    std::thread::scope(|scope| {
        let workers: Vec<_> = rest.iter().map(|r| scope.spawn(|| f(r))).collect();
        let mut out = vec![f(first)];
        out.extend(workers.into_iter().map(|w| w.join().unwrap_or_else(|p| std::panic::resume_unwind(p))));
        out
    })
}

#[cfg(test)]
mod tests;
