//! The `entente` binary as an operator runs it: real process, real socket, kill -9 and SIGTERM; a pool of
//! instances on a real etcd cluster; `entente serve` and its web map in headless Chromium.

// Request bodies built with entente-wire's shapes.
#[path = "integration/bodies.rs"]
mod bodies;
// `entente demo`: the founding story replayed and checked step by step.
#[path = "integration/demo.rs"]
mod demo;
// `entente geozones check` on data sets of our own, valid and malformed.
#[path = "integration/geozones.rs"]
mod geozones;
#[path = "integration/pool.rs"]
mod pool;
// `entente serve`: dev keys, --seed, restarts, and the web map in headless Chromium.
#[path = "integration/serve.rs"]
mod serve;

use entente_dss::Clock;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use entente_server::auth::TokenIssuer;
use entente_wire::scd::{OperationalIntentState, PutOperationalIntentReferenceParameters};
use entente_wire::{LatLngPoint, Polygon, Volume3D, Volume4D};
use serde_json::{Value, json};

// Remote ID between two USSs (SP and DP) through a DSS, and tactical alerts from replayed traffic.
#[path = "integration/rid.rs"]
mod rid;
// Two USSs and a DSS as separate processes: deconfliction, notifications, conformance, a peer down, audit.
#[path = "integration/uss.rs"]
mod uss;

const PRIVATE_KEY: &str = include_str!("../../entente-server/testdata/keys/rsa-private.pem");
const PUBLIC_KEY: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/../entente-server/testdata/keys/rsa-public.pem");

struct Server {
    child: Child,
    base: String,
}

/// A test that fails half-way must not leave a server running.
impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn start(data_dir: &Path) -> anyhow::Result<Server> {
    start_with(&["--data-dir".as_ref(), data_dir.as_os_str()])
}

/// Starts `entente dss` on a free port with the test key, plus `store_args`, and waits until it answers.
fn start_with(store_args: &[&std::ffi::OsStr]) -> anyhow::Result<Server> {
    let port = free_port()?;
    let child = Command::new(env!("CARGO_BIN_EXE_entente"))
        .args([
            "dss",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--audience",
            "localhost",
            "--public-key",
            PUBLIC_KEY,
        ])
        .args(store_args)
        .arg("--allow-http-base-urls")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("spawning entente dss")?;
    let base = format!("http://localhost:{port}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if reqwest::blocking::get(format!("{base}/healthy")).is_ok_and(|r| r.status().is_success()) {
            return Ok(Server { child, base });
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    bail!("entente dss did not become healthy on port {port}")
}

fn token() -> anyhow::Result<String> {
    token_for("uss1", "utm.strategic_coordination")
}

fn token_for(sub: &str, scope: &str) -> anyhow::Result<String> {
    let issuer = TokenIssuer::from_pem(PRIVATE_KEY, None)?;
    Ok(issuer.issue(sub, &[scope], "localhost", Duration::from_secs(600))?)
}

fn intent_body(lat: f64) -> Value {
    intent_at(lat, 7.0, 0.001)
}

/// An intent over a triangle of `size` degrees at (lat, lng), 0-100 m, for the next hour.
fn intent_at(lat: f64, lng: f64, size: f64) -> Value {
    bodies::wire(intent_params(lat, lng, size))
}

/// [`intent_at`] as the shape, for a test to change within it.
fn intent_params(lat: f64, lng: f64, size: f64) -> PutOperationalIntentReferenceParameters {
    let now = entente_dss::SystemClock.now();
    let t = |m: i64| bodies::time(now + chrono::Duration::minutes(m), chrono::SecondsFormat::Secs);
    let vertices = [(lat, lng), (lat, lng + size), (lat + size, lng + size)];
    let extent = Volume4D {
        volume: Volume3D {
            outline_circle: None,
            outline_polygon: Some(Polygon {
                vertices: vertices.iter().map(|&(lat, lng)| LatLngPoint { lat, lng }).collect(),
            }),
            altitude_lower: Some(bodies::altitude(0.0)),
            altitude_upper: Some(bodies::altitude(100.0)),
        },
        time_start: Some(t(1)),
        time_end: Some(t(60)),
    };
    PutOperationalIntentReferenceParameters {
        extents: vec![extent],
        key: Some(Vec::new()),
        state: OperationalIntentState::Accepted,
        uss_base_url: "http://uss1.example".to_owned(),
        subscription_id: None,
        new_subscription: None,
        requested_ovn_suffix: None,
    }
}

#[test]
fn acknowledged_writes_survive_kill_9() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let token = token()?;
    let client = reqwest::blocking::Client::new();
    let mut server = start(dir.path())?;
    let mut acknowledged = Vec::new();
    for i in 0..40 {
        let id = uuid::Uuid::new_v4();
        // Far-apart triangles so no key is needed.
        let resp = client
            .put(format!("{}/dss/v1/operational_intent_references/{id}", server.base))
            .bearer_auth(&token)
            .json(&intent_body(10.0 + f64::from(i) * 0.01))
            .send()?;
        assert_eq!(resp.status(), 201, "create {i}");
        let body: Value = resp.json()?;
        acknowledged
            .push((id, body["operational_intent_reference"]["ovn"].as_str().unwrap_or("").to_owned()));
    }
    // SIGKILL: no chance to flush anything that was not already durable.
    server.child.kill()?;
    server.child.wait()?;

    let mut server = start(dir.path())?;
    for (id, ovn) in &acknowledged {
        let resp = client
            .get(format!("{}/dss/v1/operational_intent_references/{id}", server.base))
            .bearer_auth(&token)
            .send()?;
        assert_eq!(resp.status(), 200, "intent {id} lost after kill -9");
        let body: Value = resp.json()?;
        assert_eq!(body["operational_intent_reference"]["ovn"], json!(ovn));
        assert_eq!(body["operational_intent_reference"]["version"], json!(1));
    }
    server.child.kill()?;
    server.child.wait()?;
    Ok(())
}

/// The server's resident memory, in MB, as the kernel counts it.
fn resident_mb(pid: u32) -> anyhow::Result<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kb: f64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmRSS in /proc status")?;
    Ok(kb / 1024.0)
}

/// A wave of slow and idle clients (2 000 sockets: a third silent, a third with half a request head, a third with
/// a head announcing a 1 MB body of which 8 KiB arrive) grows the server; once its limits have closed them all,
/// what they cost goes back to the system rather than staying with the allocator, in every wave. (With the
/// system's allocator the first wave left 16 MB behind for good.)
#[test]
fn memory_goes_back_after_a_wave_of_slow_clients() -> anyhow::Result<()> {
    use std::io::Write;
    let dir = tempfile::tempdir()?;
    let secs = |s: &str| [std::ffi::OsString::from(s), "1".into()];
    let args: Vec<std::ffi::OsString> = ["--data-dir".into(), dir.path().as_os_str().to_owned()]
        .into_iter()
        .chain(secs("--head-timeout-secs"))
        .chain(secs("--body-grace-secs"))
        .collect();
    let args: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_os_str()).collect();
    let server = start_with(&args)?;
    let pid = server.child.id();
    let address = server.base.trim_start_matches("http://").replace("localhost", "127.0.0.1");
    let token = token()?;
    let head =
        "GET /healthy HTTP/1.1\r\nHost: localhost\r\n".to_owned() + &"X-Filler: aaaaaaaa\r\n".repeat(20);
    let body_head = format!(
        "POST /dss/v1/operational_intent_references/query HTTP/1.1\r\nHost: localhost\r\n\
         Authorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n{}",
        " ".repeat(8192)
    );
    let baseline = resident_mb(pid)?;
    for wave in 1..=2 {
        let mut sockets = Vec::new();
        for i in 0..2000 {
            let mut socket = std::net::TcpStream::connect(&address)?;
            match i % 3 {
                0 => {}
                1 => socket.write_all(&head.as_bytes()[..head.len() / 2])?,
                _ => socket.write_all(body_head.as_bytes())?,
            }
            sockets.push(socket);
        }
        std::thread::sleep(Duration::from_millis(500));
        let peak = resident_mb(pid)?;
        assert!(peak > baseline + 8.0, "wave {wave} hardly grew the server ({baseline:.1} → {peak:.1} MB)");
        // The head and body limits (1 s) close every socket; then the allocator has some seconds to give back.
        std::thread::sleep(Duration::from_secs(3));
        drop(sockets);
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut now = resident_mb(pid)?;
        while now > baseline + 6.0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(500));
            now = resident_mb(pid)?;
        }
        eprintln!("wave {wave}: {baseline:.1} MB before, {peak:.1} MB during, {now:.1} MB after");
        assert!(
            now <= baseline + 6.0,
            "wave {wave}: {baseline:.1} MB before, {peak:.1} MB during, still {now:.1} MB 30 s after"
        );
    }
    Ok(())
}

/// The README's way to get a token: `entente token` signs one the DSS accepts, with the scopes asked for.
#[test]
fn entente_token_prints_a_token_the_dss_accepts() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let mut server = start(dir.path())?;
    let private_key = concat!(env!("CARGO_MANIFEST_DIR"), "/../entente-server/testdata/keys/rsa-private.pem");
    let mint = |scope: &str| -> anyhow::Result<String> {
        let out = Command::new(env!("CARGO_BIN_EXE_entente"))
            .args(["token", "--private-key", private_key, "--sub", "uss7", "--scope", scope])
            .output()?;
        anyhow::ensure!(
            out.status.success(),
            "entente token failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(String::from_utf8(out.stdout)?.trim().to_owned())
    };
    let client = reqwest::blocking::Client::new();
    let id = uuid::Uuid::new_v4();
    let url = format!("{}/dss/v1/operational_intent_references/{id}", server.base);
    let created =
        client.put(&url).bearer_auth(mint("utm.strategic_coordination")?).json(&intent_body(30.0)).send()?;
    assert_eq!(created.status(), 201);
    let body: Value = created.json()?;
    assert_eq!(body["operational_intent_reference"]["manager"], json!("uss7"));
    // Signed all the same, but without the scope this endpoint needs.
    let denied = client.get(&url).bearer_auth(mint("utm.availability_arbitration")?).send()?;
    assert_eq!(denied.status(), 403);
    server.child.kill()?;
    server.child.wait()?;
    Ok(())
}

#[test]
fn sigterm_stops_cleanly() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let mut server = start(dir.path())?;
    let status = Command::new("kill").args(["-TERM", &server.child.id().to_string()]).status()?;
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(exit) = server.child.try_wait()? {
            assert!(exit.success(), "entente dss exited with {exit} on SIGTERM");
            return Ok(());
        }
        if Instant::now() > deadline {
            server.child.kill()?;
            bail!("entente dss did not stop within 10 s of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn entente_dss_serves_the_map_only_with_the_flag() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let plain = start(dir.path())?;
    let status = reqwest::blocking::get(format!("{}/map/", plain.base))?.status();
    assert_eq!(status, 404, "no map without --map");
    drop(plain);
    let other = tempfile::tempdir()?;
    let with_map = start_with(&["--data-dir".as_ref(), other.path().as_os_str(), "--map".as_ref()])?;
    let status = reqwest::blocking::get(format!("{}/map/", with_map.base))?.status();
    assert_eq!(status, 200, "--map serves the page");
    Ok(())
}

#[test]
fn refuses_to_start_without_keys() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let out = Command::new(env!("CARGO_BIN_EXE_entente"))
        .args(["dss", "--listen", "127.0.0.1:0", "--audience", "localhost"])
        .arg("--data-dir")
        .arg(dir.path())
        .output()?;
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--public-key"), "unexpected error: {stderr}");
    Ok(())
}

/// Style rule: every source file of the workspace opens with a `//!` line saying what it is for.
#[test]
fn every_source_file_opens_with_a_module_doc_line() -> anyhow::Result<()> {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut pending = vec![crates];
    let mut missing = Vec::new();
    let mut seen = 0;
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            if path.is_dir() {
                if path.file_name().is_some_and(|n| n != "target" && n != "snapshots") {
                    pending.push(path);
                }
            } else if path.extension().is_some_and(|e| e == "rs") {
                seen += 1;
                let text = std::fs::read_to_string(&path)?;
                if !text.starts_with("//!") {
                    missing.push(path.display().to_string());
                }
            }
        }
    }
    assert!(seen > 20, "found only {seen} source files: is the walk rooted right?");
    assert!(missing.is_empty(), "files without a leading //! line: {missing:?}");
    Ok(())
}

/// `entente bench tactical` without BlueSky: the scan (past its parallel threshold) and the monitor, whose
/// conflicts the bench checks against a full scan, failing otherwise.
#[test]
fn tactical_bench_runs_without_bluesky() -> anyhow::Result<()> {
    let out = Command::new(env!("CARGO_BIN_EXE_entente"))
        .args(["bench", "tactical", "--no-bluesky", "--aircraft", "300,2500", "--scans", "3"])
        .stdin(Stdio::null())
        .output()?;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout)?;
    let scan_rows = text.lines().filter(|l| l.starts_with("|") && l.contains("not run")).count();
    let monitor_rows = text.lines().filter(|l| l.trim_end().ends_with("yes |")).count();
    assert_eq!((scan_rows, monitor_rows), (2, 2), "{text}");
    Ok(())
}

/// `entente bench uss` at tiny sizes: a DSS and two USSs as processes; the bench itself fails unless every plan is
/// accepted, every zone declared and every conflicting plan and route refused with a 409.
#[test]
fn uss_bench_runs_end_to_end() -> anyhow::Result<()> {
    let out = Command::new(env!("CARGO_BIN_EXE_entente"))
        .args(["bench", "uss", "--intents", "60", "--plans", "20", "--conflicts", "5"])
        .args(["--area-km", "1", "--concurrency", "4", "--constraints", "10", "--routes", "20"])
        .stdin(Stdio::null())
        .output()?;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout)?;
    let rows: Vec<&str> =
        text.lines().filter(|l| l.starts_with("| ") && !l.starts_with("| operation")).collect();
    assert_eq!(rows.len(), 7, "{text}");
    // Routes across a square crowded with intents and zones are offered ways around them when they may go sideways.
    let detours: f64 = text
        .split(" of them detours")
        .next()
        .and_then(|head| head.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .context("the detours per route")?;
    assert!(detours > 0.0, "{text}");
    assert!(rows.iter().all(|r| r.trim_end().ends_with("|      0 |")), "{text}");
    // On a 1 km square the plans meet USS B's intents, so USS A must have asked B for details.
    let details: f64 = text
        .split(" detail requests to USS B")
        .next()
        .and_then(|head| head.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .context("the detail requests per plan")?;
    assert!(details > 0.0, "{text}");
    Ok(())
}
