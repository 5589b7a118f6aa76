//! `entente demo` as a newcomer runs it: the founding story to completion with every step checked through the
//! APIs, its audit logs verifiable afterwards, and a story whose deconfliction was switched off failing where
//! plans overlap.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use serde_json::Value;

/// Runs `entente demo --json` with `extra`; whether it exited 0, and its summary.
fn demo(extra: &[&std::ffi::OsStr]) -> anyhow::Result<(bool, Value)> {
    let out = Command::new(env!("CARGO_BIN_EXE_entente")).args(["demo", "--json"]).args(extra).output()?;
    let summary = serde_json::from_slice(&out.stdout).with_context(|| {
        format!(
            "the summary is not JSON\nstdout: {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })?;
    Ok((out.status.success(), summary))
}

/// Whether step `id` held, by the summary.
fn step_ok(summary: &Value, id: &str) -> Option<bool> {
    summary["steps"].as_array()?.iter().find(|s| s["id"] == id)?["ok"].as_bool()
}

/// The outcomes of step `id`'s events.
fn outcomes(summary: &Value, step: &str) -> Vec<String> {
    summary["events"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["step"] == step)
        .filter_map(|e| e["outcome"].as_str().map(str::to_owned))
        .collect()
}

#[test]
fn the_founding_story_holds_step_by_step_and_leaves_verifiable_logs() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let (ok, summary) = demo(&["--data".as_ref(), dir.path().as_os_str()])?;
    ensure!(ok, "the demo failed: {summary:#}");
    assert_eq!(summary["ok"], true);
    let ids: Vec<&str> =
        summary["steps"].as_array().context("steps")?.iter().filter_map(|s| s["id"].as_str()).collect();
    assert_eq!(
        ids,
        ["memorandum", "deconfliction", "ceasefire", "zones", "suspension", "incident", "review"]
    );
    for id in &ids {
        assert_eq!(step_ok(&summary, id), Some(true), "{id}: {summary:#}");
    }
    let events = summary["events"].as_array().context("events")?;
    assert!(events.iter().all(|e| e["ok"] == true), "{summary:#}");
    assert!(
        summary["map_url"]
            .as_str()
            .is_some_and(|u| u.starts_with("http://localhost:") && u.ends_with("/map/"))
    );

    // Each step shows the outcome it is about, not only that calls returned.
    let has = |step: &str, text: &str| outcomes(&summary, step).iter().any(|o| o.contains(text));
    assert!(has("memorandum", "201 Accepted") && has("memorandum", "meets no other"), "{summary:#}");
    assert!(has("deconfliction", "409 refused: meets S1"), "{summary:#}");
    // Held to its height and time, the route across the lake is offered a way around S1 and takes it.
    let detoured = summary["events"].as_array().into_iter().flatten().any(|e| {
        e["step"] == "deconfliction"
            && e["what"].as_str().is_some_and(|w| w.contains("a detour") && w.contains("N5'"))
            && e["ok"] == true
    });
    assert!(detoured, "{summary:#}");
    assert!(has("ceasefire", "alert") && has("ceasefire", "0 intents"), "{summary:#}");
    assert!(
        has("zones", "published as constraints") && has("zones", "409 refused: meets the aerodrome zone"),
        "{summary:#}"
    );
    assert!(has("zones", "told Ouchy waterfront: Visual line of sight only"), "{summary:#}");
    assert!(has("suspension", "Down") && has("suspension", "412"), "{summary:#}");
    assert!(has("incident", "Nonconforming") && has("incident", "N1 Nonconforming"), "{summary:#}");
    assert_eq!(outcomes(&summary, "review").iter().filter(|o| o.contains("hash chain intact")).count(), 3);

    // The logs the story leaves in --data verify on their own.
    for uss in ["uss-north", "uss-south", "uss-authority"] {
        let log = dir.path().join(uss).join("audit.jsonl");
        let out =
            Command::new(env!("CARGO_BIN_EXE_entente")).arg("audit").arg("verify").arg(&log).output()?;
        ensure!(out.status.success(), "{}: {}", log.display(), String::from_utf8_lossy(&out.stderr));
    }
    // A used folder is refused: an earlier story's flights would stand in the way.
    let again =
        Command::new(env!("CARGO_BIN_EXE_entente")).args(["demo", "--data"]).arg(dir.path()).output()?;
    assert!(!again.status.success(), "a used --data folder was accepted");
    assert!(String::from_utf8_lossy(&again.stderr).contains("new or empty"), "{again:?}");
    Ok(())
}

#[test]
fn with_equal_priorities_allowed_to_conflict_the_story_fails_where_plans_overlap() -> anyhow::Result<()> {
    let (ok, summary) = demo(&["--equal-priority-may-conflict".as_ref()])?;
    assert!(!ok, "the demo passed although plans may overlap: {summary:#}");
    assert_eq!(summary["ok"], false);
    assert_eq!(step_ok(&summary, "memorandum"), Some(true), "{summary:#}");
    assert_eq!(step_ok(&summary, "deconfliction"), Some(false), "{summary:#}");
    assert_eq!(step_ok(&summary, "suspension"), Some(false), "{summary:#}");
    assert!(outcomes(&summary, "deconfliction").iter().any(|o| o.starts_with("201")), "{summary:#}");
    Ok(())
}

/// The process killed if the test fails before it stops it.
struct Running(std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn open_leaves_the_map_up_after_the_story_until_sigterm() -> anyhow::Result<()> {
    let mut child = Running(
        Command::new(env!("CARGO_BIN_EXE_entente"))
            .args(["demo", "--open"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?,
    );
    let stdout = child.0.stdout.take().context("stdout")?;
    // Kept open to the end: a closed pipe would make the demo's next line fail.
    let mut lines = BufReader::new(stdout).lines();
    let mut map = None;
    for line in lines.by_ref() {
        let line = line?;
        if let Some(url) = line.strip_prefix("The airspace stays open: map ") {
            map = Some(url.to_owned());
            break;
        }
    }
    let map = map.context("the demo never said the airspace stays open")?;
    let page = reqwest::blocking::get(&map)?;
    assert_eq!(page.status(), 200, "{map}");
    assert!(page.text()?.contains("<html"), "{map} is not the map page");

    let status = Command::new("kill").args(["-TERM", &child.0.id().to_string()]).status()?;
    ensure!(status.success(), "kill -TERM failed");
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Some(exit) = child.0.try_wait()? {
            ensure!(exit.success(), "entente demo --open exited with {exit} on SIGTERM");
            drop(lines);
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    bail!("entente demo --open did not stop within 10 s of SIGTERM")
}
