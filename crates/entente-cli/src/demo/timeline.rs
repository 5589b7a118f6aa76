//! What the demo shows: a progress bar over the story's steps and a timeline of its events (time, actor, what
//! happened, outcome ✓/✗), printed as they happen or, with `--json`, as one document at the end.

use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Value, json};

use super::story::Step;

/// A check that did not hold; it is already on the timeline, so whoever stops on it has nothing to add.
#[derive(Debug)]
pub(super) struct CheckFailed;

impl std::fmt::Display for CheckFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a check failed")
    }
}

impl std::error::Error for CheckFailed {}

struct Event {
    at: Duration,
    step: &'static str,
    actor: &'static str,
    what: String,
    outcome: String,
    ok: bool,
}

struct StepOutcome {
    step: &'static Step,
    ok: bool,
}

pub(super) struct Timeline {
    start: Instant,
    bar: ProgressBar,
    json: bool,
    steps: Vec<StepOutcome>,
    events: Vec<Event>,
}

impl Timeline {
    pub(super) fn new(steps: usize, json: bool) -> Timeline {
        let bar = if json {
            ProgressBar::hidden()
        } else {
            ProgressBar::new(steps as u64).with_style(
                ProgressStyle::with_template("{spinner} [{bar:20}] {pos}/{len} {wide_msg}")
                    .unwrap_or(ProgressStyle::default_bar()),
            )
        };
        bar.enable_steady_tick(Duration::from_millis(120));
        Timeline { start: Instant::now(), bar, json, steps: Vec::new(), events: Vec::new() }
    }

    pub(super) fn begin(&mut self, step: &'static Step) {
        self.steps.push(StepOutcome { step, ok: true });
        self.bar.set_message(step.title);
        let n = self.steps.len();
        self.print(|| format!("\n{n}. {}", step.title));
    }

    /// Puts one event on the timeline; one that did not go as the story says fails its step.
    pub(super) fn record(
        &mut self,
        actor: &'static str,
        what: impl Into<String>,
        outcome: impl Into<String>,
        ok: bool,
    ) {
        let Some(current) = self.steps.last_mut() else { return };
        current.ok &= ok;
        let event = Event {
            at: self.start.elapsed(),
            step: current.step.id,
            actor,
            what: what.into(),
            outcome: outcome.into(),
            ok,
        };
        self.print(|| {
            let mark = if event.ok { "✓" } else { "✗" };
            format!(
                "  +{:>6.2}s  {:<9}  {}  →  {}  {mark}",
                event.at.as_secs_f64(),
                event.actor,
                event.what,
                event.outcome
            )
        });
        self.events.push(event);
    }

    /// Records an outcome the story depends on: when it does not hold, the step stops here.
    pub(super) fn check(
        &mut self,
        actor: &'static str,
        what: impl Into<String>,
        outcome: impl Into<String>,
        ok: bool,
    ) -> Result<(), CheckFailed> {
        self.record(actor, what, outcome, ok);
        if ok { Ok(()) } else { Err(CheckFailed) }
    }

    pub(super) fn end_step(&mut self) {
        self.bar.inc(1);
    }

    /// A step that could not be played, because the one it builds on failed.
    pub(super) fn skip(&mut self, step: &'static Step) {
        self.begin(step);
        self.record("demo", "not played", "the story stopped earlier", false);
        self.end_step();
    }

    /// Ends the bar and prints the verdict (or the whole JSON document); true when every check held.
    pub(super) fn finish(self, map_url: &str) -> bool {
        self.bar.finish_and_clear();
        let ok = self.steps.iter().all(|s| s.ok);
        if self.json {
            println!("{}", self.document(map_url, ok));
        } else {
            let held = self.events.iter().filter(|e| e.ok).count();
            let verdict = if ok { "the story held" } else { "the story did NOT hold" };
            println!(
                "\n{verdict}: {held}/{} events as expected, {:.1} s",
                self.events.len(),
                self.start.elapsed().as_secs_f64()
            );
        }
        ok
    }

    fn document(&self, map_url: &str, ok: bool) -> Value {
        let steps: Vec<Value> =
            self.steps.iter().map(|s| json!({"id": s.step.id, "title": s.step.title, "ok": s.ok})).collect();
        let events: Vec<Value> = self
            .events
            .iter()
            .map(|e| {
                json!({"t_s": e.at.as_secs_f64(), "step": e.step, "actor": e.actor, "what": e.what,
                    "outcome": e.outcome, "ok": e.ok})
            })
            .collect();
        json!({"ok": ok, "map_url": map_url, "steps": steps, "events": events})
    }

    /// Prints above the bar, and also when there is no bar (not a terminal); nothing in JSON mode.
    fn print(&self, line: impl FnOnce() -> String) {
        if !self.json {
            self.bar.suspend(|| println!("{}", line()));
        }
    }
}
