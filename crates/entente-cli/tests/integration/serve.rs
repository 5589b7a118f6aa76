//! `entente serve` as a new operator runs it: dev keys made once and reused, `--seed`, data kept across a
//! SIGTERM, and the web map rendered by a real headless Chromium, with a screenshot kept as an artifact.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use entente_server::auth::TokenIssuer;
use serde_json::{Value, json};

use super::free_port;

/// A running `entente serve` and what it printed before it was ready.
struct Serve {
    child: Child,
    base: String,
    banner: String,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Serve {
    /// Starts `entente serve` on a free port and waits for its banner, which it prints once it serves.
    fn start(data_dir: &Path, seed: bool) -> anyhow::Result<Serve> {
        let port = free_port()?;
        let mut command = Command::new(env!("CARGO_BIN_EXE_entente"));
        command.args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--data-dir"]).arg(data_dir);
        if seed {
            command.arg("--seed");
        }
        let mut child =
            command.stdout(Stdio::piped()).stderr(Stdio::null()).spawn().context("spawning entente serve")?;
        let stdout = child.stdout.take().context("entente serve's stdout")?;
        // The banner is read on a thread so a server that never prints cannot hang the test.
        let (lines, banner) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let done = line.starts_with("Ctrl-C");
                let _ = lines.send(line);
                if done {
                    break;
                }
            }
        });
        let mut server = Serve { child, base: format!("http://127.0.0.1:{port}"), banner: String::new() };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match banner.recv_timeout(left) {
                Ok(line) => {
                    server.banner.push_str(&line);
                    server.banner.push('\n');
                    if line.starts_with("Ctrl-C") {
                        return Ok(server);
                    }
                }
                Err(_) => bail!("entente serve printed no complete banner within 30 s: {}", server.banner),
            }
        }
    }

    fn airspace(&self) -> anyhow::Result<Value> {
        let response = reqwest::blocking::get(format!("{}/map/api/airspace", self.base))?;
        ensure!(response.status() == 200, "GET /map/api/airspace: {}", response.status());
        Ok(response.json()?)
    }

    fn terminate(mut self) -> anyhow::Result<()> {
        let status = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status()?;
        ensure!(status.success(), "kill -TERM failed");
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Some(exit) = self.child.try_wait()? {
                ensure!(exit.success(), "entente serve exited with {exit} on SIGTERM");
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        bail!("entente serve did not stop within 10 s of SIGTERM")
    }
}

fn ids(list: &Value) -> Vec<String> {
    list.as_array().into_iter().flatten().filter_map(|e| e["id"].as_str().map(str::to_owned)).collect()
}

#[test]
fn serve_keeps_its_keys_and_data_across_runs() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let server = Serve::start(dir.path(), true)?;
    let private = dir.path().join("dev-keys/private.pem");
    ensure!(
        server.banner.contains(&format!("{}/map/", server.base)),
        "the banner gives the map URL: {}",
        server.banner
    );
    ensure!(
        server.banner.contains(&format!("entente token --private-key {}", private.display())),
        "the banner says how to get a token: {}",
        server.banner
    );
    let key = std::fs::read_to_string(&private).context("the dev key is created on the first run")?;

    // A token signed with the printed key is accepted by the API.
    let token = TokenIssuer::from_pem(&key, None)?.issue(
        "uss9",
        &["utm.strategic_coordination"],
        "localhost",
        Duration::from_secs(300),
    )?;
    let query = json!({"area_of_interest": {"volume": {"outline_circle": {
        "center": {"lat": 46.52, "lng": 6.63}, "radius": {"value": 3000, "units": "M"}}}}});
    let found: Value = reqwest::blocking::Client::new()
        .post(format!("{}/dss/v1/operational_intent_references/query", server.base))
        .bearer_auth(&token)
        .json(&query)
        .send()?
        .error_for_status()?
        .json()?;
    let seeded = server.airspace()?;
    let intents = ids(&seeded["operational_intents"]);
    ensure!(intents.len() == 3, "--seed adds 3 intents: {intents:?}");
    ensure!(
        seeded["conflicts"].as_array().is_some_and(|c| c.len() == 1),
        "one seeded conflict: {}",
        seeded["conflicts"]
    );
    // The activated intent brings its implicit subscription besides the explicit one.
    for (kind, count) in [("constraints", 1), ("subscriptions", 2), ("identification_service_areas", 1)] {
        ensure!(ids(&seeded[kind]).len() == count, "--seed adds {count} of {kind}: {}", seeded[kind]);
    }
    let near = ids(&found["operational_intent_references"]);
    ensure!(
        !near.is_empty() && near.iter().all(|id| intents.contains(id)),
        "the query finds seeded intents: {near:?}"
    );
    server.terminate()?;

    let again = Serve::start(dir.path(), true)?;
    ensure!(std::fs::read_to_string(&private)? == key, "the dev key is reused, not replaced");
    let kept = again.airspace()?;
    ensure!(ids(&kept["operational_intents"]) == intents, "the data is kept and not seeded twice");
    again.terminate()
}

/// Where the screenshots go: under `target/`, kept after the test as CI artifacts.
fn artifacts() -> anyhow::Result<PathBuf> {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("map");
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

fn chromium() -> anyhow::Result<PathBuf> {
    for name in ["chromium", "chromium-browser"] {
        if let Ok(out) = Command::new("which").arg(name).output()
            && out.status.success()
        {
            return Ok(PathBuf::from(String::from_utf8(out.stdout)?.trim()));
        }
    }
    bail!("Chromium is missing: install Debian's `chromium` package (scripts/test does it when run as root)")
}

/// Runs headless Chromium on `url` with `extra` arguments; its own profile and no network but loopback.
fn run_chromium(url: &str, profile: &Path, extra: &[String]) -> anyhow::Result<String> {
    let out = Command::new(chromium()?)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--hide-scrollbars",
            "--window-size=1280,800",
            // Lets the page's fetches and rendering finish in virtual time before the dump or screenshot.
            "--virtual-time-budget=15000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(url)
        .stdin(Stdio::null())
        .output()
        .context("running chromium")?;
    ensure!(out.status.success(), "chromium failed: {}", String::from_utf8_lossy(&out.stderr));
    Ok(String::from_utf8(out.stdout)?)
}

#[test]
fn headless_chromium_renders_the_seeded_airspace() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let server = Serve::start(&dir.path().join("data"), true)?;
    let seeded = server.airspace()?;
    let url = format!("{}/map/", server.base);

    let dom = run_chromium(&url, &dir.path().join("profile-dom"), &["--dump-dom".to_owned()])?;
    ensure!(dom.contains(r#"id="summary" data-state="ready""#), "the page loaded the airspace:\n{dom}");
    ensure!(dom.contains(r#"class="land""#), "the basemap is drawn");
    for kind in ["operational_intents", "constraints", "subscriptions", "identification_service_areas"] {
        for id in ids(&seeded[kind]) {
            ensure!(dom.contains(&format!(r#"data-id="{id}""#)), "{kind} {id} is not on the map");
        }
    }
    let conflicts: Vec<&str> = seeded["conflicts"][0]
        .as_array()
        .context("a seeded conflict")?
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for id in &conflicts {
        let marked = dom.contains(&format!(r#" conflict" data-id="{id}""#));
        ensure!(marked, "intent {id} is in conflict but not highlighted");
    }
    let flagged = dom.matches(" conflict\"").count();
    ensure!(flagged == conflicts.len(), "{flagged} intents highlighted for {} in conflict", conflicts.len());

    let screenshot = artifacts()?.join("seeded.png");
    let _ = std::fs::remove_file(&screenshot);
    run_chromium(&url, &dir.path().join("profile-png"), &[format!("--screenshot={}", screenshot.display())])?;
    let size = std::fs::metadata(&screenshot)
        .with_context(|| format!("no screenshot at {}", screenshot.display()))?
        .len();
    ensure!(size > 10_000, "the screenshot is suspiciously small ({size} bytes)");
    server.terminate()
}
