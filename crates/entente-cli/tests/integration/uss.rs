//! End to end over real sockets: one `entente dss` and two `entente uss` with different identities and keys.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use entente_server::auth::TokenIssuer;
use entente_wire::Volume4D;
use reqwest::blocking::Client;
use serde_json::{Value, json};

use super::bodies::{down, fix, flight_body, volume, wire};
use super::free_port;

const KEYS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../entente-server/testdata/keys");
pub(super) const RSA_PRIVATE: &str = include_str!("../../../entente-server/testdata/keys/rsa-private.pem");
pub(super) const EC_PRIVATE: &str = include_str!("../../../entente-server/testdata/keys/ec-private.pem");

/// A child process killed when the test is done with it, pass or fail.
pub(super) struct Process {
    child: Child,
    pub(super) base: String,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn(args: &[String], log: &Path) -> anyhow::Result<Process> {
    let port = args
        .iter()
        .skip_while(|a| *a != "--listen")
        .nth(1)
        .and_then(|a| a.rsplit(':').next())
        .context("no --listen")?
        .to_owned();
    let child = Command::new(env!("CARGO_BIN_EXE_entente"))
        .args(args)
        .env("ENTENTE_LOG", "warn,entente_server=info,entente_cli=info")
        .stdout(File::create(log)?)
        .stderr(File::create(log.with_extension("err"))?)
        .spawn()
        .with_context(|| format!("spawning entente {}", args[0]))?;
    let process = Process { child, base: format!("http://localhost:{port}") };
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if reqwest::blocking::get(format!("{}/healthy", process.base)).is_ok_and(|r| r.status().is_success())
        {
            return Ok(process);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    bail!("entente {} did not become healthy on port {port}", args[0])
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|a| (*a).to_owned()).collect()
}

pub(super) fn start_dss(dir: &Path) -> anyhow::Result<Process> {
    let port = free_port()?;
    let mut args = strings(&["dss", "--listen", &format!("127.0.0.1:{port}"), "--audience", "localhost"]);
    args.extend(strings(&["--public-key", &format!("{KEYS}/rsa-public.pem,{KEYS}/ec-public.pem")]));
    args.extend(strings(&["--allow-http-base-urls", "--data-dir", &dir.join("dss").display().to_string()]));
    spawn(&args, &dir.join("dss.log"))
}

/// A USS named `id` signing its tokens with `key` (a file in the test key folder).
fn start_uss(dir: &Path, dss: &str, id: &str, key: &str) -> anyhow::Result<(Process, PathBuf)> {
    start_uss_with(dir, dss, id, key, &[])
}

/// [`start_uss`] with more flags.
pub(super) fn start_uss_with(
    dir: &Path,
    dss: &str,
    id: &str,
    key: &str,
    extra: &[&str],
) -> anyhow::Result<(Process, PathBuf)> {
    let port = free_port()?;
    let audit = dir.join(format!("{id}-audit.jsonl"));
    let mut args = strings(&["uss", "--dss", dss, "--listen", &format!("127.0.0.1:{port}")]);
    args.extend(strings(&["--base-url", &format!("http://localhost:{port}"), "--client-id", id]));
    args.extend(strings(&["--private-key", &format!("{KEYS}/{key}"), "--audience", "localhost"]));
    args.extend(strings(&["--public-key", &format!("{KEYS}/rsa-public.pem,{KEYS}/ec-public.pem")]));
    args.extend(strings(&["--audit-log", &audit.display().to_string()]));
    args.extend(strings(&["--data-dir", &dir.join(id).display().to_string()]));
    // Generous, so a loaded test machine cannot turn a slow peer into a down one.
    args.extend(strings(&["--peer-timeout-ms", "5000"]));
    args.extend(strings(extra));
    Ok((spawn(&args, &dir.join(format!("{id}.log")))?, audit))
}

pub(super) fn token(key: &str, sub: &str, scope: &str) -> anyhow::Result<String> {
    let issuer = TokenIssuer::from_pem(key, None)?;
    Ok(issuer.issue(sub, &[scope], "localhost", Duration::from_secs(600))?)
}

pub(super) struct Operator<'a> {
    pub(super) http: &'a Client,
    pub(super) base: String,
    pub(super) token: String,
}

impl Operator<'_> {
    pub(super) fn post(&self, path: &str, body: &Value) -> anyhow::Result<(u16, Value)> {
        let r = self.http.post(format!("{}{path}", self.base)).bearer_auth(&self.token).json(body).send()?;
        let status = r.status().as_u16();
        Ok((status, r.json().unwrap_or(Value::Null)))
    }

    fn submit(&self, volumes: Vec<Volume4D>) -> anyhow::Result<(u16, Value)> {
        self.post("/operator/v1/flights", &flight_body(volumes, 0))
    }
}

fn audit_lines(path: &Path) -> anyhow::Result<Vec<Value>> {
    std::fs::read_to_string(path)?.lines().map(|l| Ok(serde_json::from_str(l)?)).collect()
}

/// Incoming notifications a USS's audit log shows from `sender`, answered with `status`.
fn notifications_from(path: &Path, sender: &str, status: u64) -> anyhow::Result<usize> {
    Ok(audit_lines(path)?
        .iter()
        .filter(|r| {
            r["direction"] == "incoming"
                && r["peer"] == sender
                && r["method"] == "POST"
                && r["url"].as_str().is_some_and(|u| u.ends_with("/uss/v1/operational_intents"))
                && r["status"] == status
        })
        .count())
}

fn audit_verify(path: &Path) -> anyhow::Result<Output> {
    Ok(Command::new(env!("CARGO_BIN_EXE_entente")).arg("audit").arg("verify").arg(path).output()?)
}

#[test]
fn two_usss_deconflict_notify_monitor_and_keep_a_verifiable_record() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let dss = start_dss(dir.path())?;
    let (uss_a, audit_a) = start_uss(dir.path(), &dss.base, "uss-a", "rsa-private.pem")?;
    let (uss_b, audit_b) = start_uss(dir.path(), &dss.base, "uss-b", "ec-private.pem")?;
    let http = Client::new();
    let a = Operator {
        http: &http,
        base: uss_a.base.clone(),
        token: token(RSA_PRIVATE, "pilot-a", "entente.operator")?,
    };
    let b = Operator {
        http: &http,
        base: uss_b.base.clone(),
        token: token(RSA_PRIVATE, "pilot-b", "entente.operator")?,
    };

    // B plans first; A's overlapping plan of equal priority is refused, with alternatives.
    let (status, b1) = b.submit(vec![volume(46.5, (0.0, 120.0), (10, 40))])?;
    ensure!(status == 201, "B's flight: {status} {b1}");
    assert_eq!(b1["state"], "Accepted");
    let (status, refused) = a.submit(vec![volume(46.5, (50.0, 100.0), (20, 30))])?;
    assert_eq!(status, 409, "{refused}");
    assert_eq!(refused["conflicting_intents"], json!([b1["id"]]));
    let alternatives = refused["alternatives"].as_array().context("alternatives")?;
    assert!(!alternatives.is_empty(), "{refused}");
    // Nearest first: 3 steps of 30 m clear B's 120 m ceiling (closed intervals), before 6 steps of 5 minutes.
    assert_eq!(alternatives[0]["altitude_shift_m"], json!(90.0));
    assert_eq!(alternatives[0]["time_shift_seconds"], json!(0));

    // Taking the first alternative is one call.
    let (status, taken) = a.post("/operator/v1/flights", &alternatives[0]["request"])?;
    ensure!(status == 201, "accepting the alternative: {status} {taken}");
    assert_eq!(taken["state"], "Accepted");
    assert_eq!(taken["volumes"][0]["volume"]["altitude_lower"]["value"], json!(140.0));

    // A higher priority may conflict with a lower one; B's subscription hears of it. This one flies now.
    let (status, a1) =
        a.post("/operator/v1/flights", &flight_body(vec![volume(46.5, (50.0, 100.0), (-1, 30))], 1))?;
    ensure!(status == 201, "priority flight: {status} {a1}");
    assert_eq!(notifications_from(&audit_b, "uss-a", 204)?, 1);

    // A peer reads A's details with its own token.
    let a1_id = a1["id"].as_str().context("id")?;
    let peer_sc = token(EC_PRIVATE, "uss-b", "utm.strategic_coordination")?;
    let details: Value = http
        .get(format!("{}/uss/v1/operational_intents/{a1_id}", uss_a.base))
        .bearer_auth(&peer_sc)
        .send()?
        .json()?;
    assert_eq!(details["operational_intent"]["reference"]["manager"], "uss-a");
    assert_eq!(details["operational_intent"]["details"]["priority"], json!(1));
    assert!(details["operational_intent"]["reference"]["ovn"].is_string());

    // Activated, then flown 150 m above its volume: Nonconforming, announced, telemetry served to peers.
    let (status, active) = a.post(&format!("/operator/v1/flights/{a1_id}/activate"), &json!({}))?;
    ensure!(status == 200, "activate: {status} {active}");
    assert_eq!(active["state"], "Activated");
    assert_eq!(notifications_from(&audit_b, "uss-a", 204)?, 2, "the activation reached B");
    let fix_at = |alt: f64| wire(fix(46.5, 6.6, alt));
    let peer_cmsa = token(EC_PRIVATE, "uss-b", "utm.conformance_monitoring_sa")?;
    let telemetry_url = format!("{}/uss/v1/operational_intents/{a1_id}/telemetry", uss_a.base);
    assert_eq!(
        http.get(&telemetry_url).bearer_auth(&peer_cmsa).send()?.status(),
        409,
        "nominal: no telemetry"
    );
    let (status, off) = a.post(&format!("/operator/v1/flights/{a1_id}/telemetry"), &fix_at(250.0))?;
    ensure!(status == 200, "telemetry: {status} {off}");
    assert_eq!(off["state"], "Nonconforming");
    assert_eq!(off["off_nominal_volumes"].as_array().map(Vec::len), Some(1));
    let served: Value = http.get(&telemetry_url).bearer_auth(&peer_cmsa).send()?.json()?;
    assert_eq!(served["telemetry"]["position"]["altitude"]["value"], json!(250.0));
    assert_eq!(notifications_from(&audit_b, "uss-a", 204)?, 3, "the Nonconforming change reached B");
    let (_, back) = a.post(&format!("/operator/v1/flights/{a1_id}/telemetry"), &fix_at(70.0))?;
    assert_eq!(back["state"], "Activated");

    // B plans elsewhere, then goes down: A cannot deconflict until the arbiter declares B Down.
    let (status, b2) = b.submit(vec![volume(46.6, (0.0, 120.0), (10, 40))])?;
    ensure!(status == 201, "B's second flight: {status} {b2}");
    drop(uss_b);
    let over_b2 = vec![volume(46.6, (0.0, 120.0), (15, 35))];
    let (status, blocked) = a.submit(over_b2.clone())?;
    assert_eq!(status, 502, "{blocked}");
    assert!(blocked["message"].as_str().is_some_and(|m| m.contains("Down")), "{blocked}");
    let reported = audit_lines(&audit_a)?.iter().any(|r| {
        r["direction"] == "outgoing"
            && r["method"] == "POST"
            && r["url"].as_str().is_some_and(|u| u.ends_with("/dss/v1/reports"))
            && r["status"] == 201
    });
    assert!(reported, "A reported the failed exchange to the DSS");
    let arbiter = token(RSA_PRIVATE, "arbiter", "utm.availability_arbitration")?;
    let set = http
        .put(format!("{}/dss/v1/uss_availability/uss-b", dss.base))
        .bearer_auth(arbiter)
        .json(&down())
        .send()?;
    assert_eq!(set.status(), 200);
    let (status, around) = a.submit(over_b2)?;
    ensure!(status == 201, "planning over a Down USS's Accepted intent: {status} {around}");

    let (status, ended) = a.post(&format!("/operator/v1/flights/{a1_id}/end"), &json!({}))?;
    ensure!(status == 200, "end: {status} {ended}");
    assert_eq!(ended["state"], "Ended");
    let gone = http
        .get(format!("{}/uss/v1/operational_intents/{a1_id}", uss_a.base))
        .bearer_auth(&peer_sc)
        .send()?;
    assert_eq!(gone.status(), 404);

    // Both logs verify; one altered status in a copy of A's does not.
    for log in [&audit_a, &audit_b] {
        let out = audit_verify(log)?;
        ensure!(out.status.success(), "{}: {}", log.display(), String::from_utf8_lossy(&out.stderr));
        assert!(String::from_utf8_lossy(&out.stdout).contains("hash chain intact"));
    }
    let outgoing_puts = audit_lines(&audit_a)?
        .iter()
        .filter(|r| r["direction"] == "outgoing" && r["method"] == "PUT" && r["status"] == 201)
        .count();
    assert_eq!(outgoing_puts, 3, "A created three intents at the DSS");
    let text = std::fs::read_to_string(&audit_a)?;
    let tampered = dir.path().join("tampered.jsonl");
    std::fs::write(&tampered, text.replacen("\"status\":409", "\"status\":201", 1))?;
    let out = audit_verify(&tampered)?;
    assert!(!out.status.success(), "a tampered log verified");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("altered"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}

/// kill -9 and a restart on the same folder: the USS still serves and ends its flight, and its audit log goes on.
#[test]
fn a_killed_uss_restarts_with_its_flights_and_its_audit_chain() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let dss = start_dss(dir.path())?;
    let (mut uss, audit) = start_uss(dir.path(), &dss.base, "uss-a", "rsa-private.pem")?;
    let http = Client::new();
    let pilot = token(RSA_PRIVATE, "pilot-a", "entente.operator")?;
    let op = Operator { http: &http, base: uss.base.clone(), token: pilot.clone() };
    let (status, planned) = op.submit(vec![volume(46.7, (0.0, 120.0), (10, 40))])?;
    ensure!(status == 201, "plan: {status} {planned}");
    let id = planned["id"].as_str().context("id")?.to_owned();
    uss.child.kill()?;
    uss.child.wait()?;
    let before = audit_lines(&audit)?.len();

    let (uss, _) = start_uss(dir.path(), &dss.base, "uss-a", "rsa-private.pem")?;
    let peer = token(EC_PRIVATE, "uss-b", "utm.strategic_coordination")?;
    let details: Value = http
        .get(format!("{}/uss/v1/operational_intents/{id}", uss.base))
        .bearer_auth(&peer)
        .send()?
        .json()?;
    assert_eq!(details["operational_intent"]["reference"]["ovn"], planned["ovn"]);
    let op = Operator { http: &http, base: uss.base.clone(), token: pilot };
    let (status, ended) = op.post(&format!("/operator/v1/flights/{id}/end"), &json!({}))?;
    ensure!(status == 200, "end after restart: {status} {ended}");
    assert!(audit_lines(&audit)?.len() > before + 1);
    let out = audit_verify(&audit)?;
    ensure!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    Ok(())
}

/// An `entente uss` started on a folder holding the journals an earlier release kept there (fixtures of a real
/// run) serves their flights, with their history, and sets the journals aside.
#[test]
fn a_uss_started_over_an_older_releases_journals_serves_their_flights() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let dss = start_dss(dir.path())?;
    let data = dir.path().join("north-uss");
    std::fs::create_dir_all(&data)?;
    let fixtures =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../entente-store/tests/fixtures/uss-journals-v1");
    let journals = ["flights.jsonl", "constraints.jsonl", "reports.jsonl", "rid-isas.jsonl"];
    for name in journals {
        std::fs::copy(fixtures.join(name), data.join(name))?;
    }
    let (uss, _) = start_uss(dir.path(), &dss.base, "north-uss", "rsa-private.pem")?;
    let http = Client::new();
    let pilot = token(RSA_PRIVATE, "north-uss", "entente.operator")?;
    let list: Value = http
        .get(format!("{}/operator/v1/flights", uss.base))
        .bearer_auth(&pilot)
        .send()?
        .error_for_status()?
        .json()?;
    let mut flights: Vec<(&str, &str)> = list["flights"]
        .as_array()
        .context("flights")?
        .iter()
        .filter_map(|f| Some((f["id"].as_str()?, f["state"].as_str()?)))
        .collect();
    flights.sort();
    assert_eq!(
        flights,
        [
            ("6b03c87a-d6e4-4c00-946b-e476ea030587", "Activated"),
            ("8009d063-21e8-4f79-8a15-e60681bad8e0", "Ended"),
            ("eede0701-72b1-4d0f-9c07-ae558bba7da5", "Accepted")
        ]
    );
    let ended: Value = http
        .get(format!("{}/operator/v1/flights/8009d063-21e8-4f79-8a15-e60681bad8e0", uss.base))
        .bearer_auth(&pilot)
        .send()?
        .json()?;
    assert_eq!(ended["history"].as_array().map(Vec::len), Some(4), "{ended}");
    for name in journals {
        assert!(!data.join(name).exists() && data.join(format!("{name}.migrated")).exists(), "{name}");
    }
    assert!(data.join("uss.redb").exists());
    Ok(())
}
