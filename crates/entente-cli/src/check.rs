//! `entente check-pool`: drives concurrent clients through every instance of a pool on a local etcd cluster
//! while injecting faults, records every call and answer with its real-time bounds, and checks that the history
//! is linearizable (`check/wgl.rs`) against a model of intents in contended areas (`check/model.rs`).

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use chrono::SecondsFormat;
use clap::{Args, ValueEnum};
use entente_dss::{Clock, SystemClock};
use entente_server::auth::TokenIssuer;
use entente_store::LocalEtcd;
use entente_wire::scd::{OperationalIntentState, PutOperationalIntentReferenceParameters, QueryRequest};
use entente_wire::{Altitude, Circle, LatLngPoint, Polygon, Radius, Time, Volume3D, Volume4D};
use parking_lot::Mutex;
use rand::{Rng, SeedableRng, rngs::StdRng};
use serde::Serialize;
use serde_json::Value;

use crate::bench::{Target, free_port, spawn, wait_healthy};

mod model;
mod wgl;

use model::{Intents, Op, Outcome};

/// A fault injected again and again while the clients run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum Fault {
    /// None: the pool as it runs normally.
    None,
    /// `kill -9` of an instance, restarted a second later on the same port.
    InstanceKill,
    /// SIGSTOP of an instance for `--stop-secs`, then SIGCONT.
    InstanceStop,
    /// `kill -9` of an etcd member, the leader every other time, restarted two seconds later.
    EtcdKill,
    /// SIGSTOP of the etcd leader for `--stop-secs`, then SIGCONT: longer than a request's timeout, so answers
    /// of transactions it committed are lost.
    EtcdLeaderStop,
}

#[derive(Args)]
pub(crate) struct CheckPoolArgs {
    /// Operations (queries, creates, updates, deletes) recorded and checked, per fault kind.
    #[arg(long, default_value_t = 10_000)]
    operations: usize,
    /// The faults to inject, one run each (comma-separated).
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "instance-kill,instance-stop,etcd-kill,etcd-leader-stop"
    )]
    faults: Vec<Fault>,
    /// Instances in the pool.
    #[arg(long, default_value_t = 2)]
    instances: usize,
    /// Concurrent clients, each sending its requests to instances chosen at random.
    #[arg(long, default_value_t = 8)]
    clients: usize,
    /// Contended areas: every intent in one area intersects every other there, and none elsewhere.
    #[arg(long, default_value_t = 4)]
    areas: usize,
    /// Seconds between the end of one fault and the start of the next.
    #[arg(long, default_value_t = 4.0)]
    fault_every_secs: f64,
    /// How long a SIGSTOP lasts, in seconds.
    #[arg(long, default_value_t = 10.0)]
    stop_secs: f64,
    /// Run the instances with reads answered from their replica (`entente dss --pool-local-reads`).
    #[arg(long)]
    local_reads: bool,
    /// Run deliberately broken instances, which answer reads from their replica while writes do not wait for
    /// the other instances to apply them, to see the check fail.
    #[arg(long)]
    unsafe_local_reads: bool,
}

/// How long after a request got no answer it may still take effect: an instance killed or stopped mid-request
/// may have handed etcd a transaction that commits a little later. Far longer than etcd's request timeout.
const UNKNOWN_WINDOW: Duration = Duration::from_secs(30);

/// A client gives up on an answer after this long (an instance stopped longer than this counts as no answer).
const CLIENT_TIMEOUT: Duration = Duration::from_secs(40);

/// Runs one history per fault kind and fails if any is not linearizable.
pub(crate) async fn run(args: CheckPoolArgs) -> anyhow::Result<()> {
    let mut failed = Vec::new();
    for &fault in &args.faults {
        let report = run_one(&args, fault).await?;
        println!("{report}");
        if !report.violations.is_empty() {
            failed.push(fault);
        }
    }
    if !failed.is_empty() {
        bail!("histories that are not linearizable under {failed:?}");
    }
    Ok(())
}

struct Report {
    fault: Fault,
    faults_injected: usize,
    counts: BTreeMap<&'static str, usize>,
    operations: usize,
    wall: Duration,
    check_time: Duration,
    violations: Vec<String>,
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "== {:?}: {} operations in {:.1} s, {} faults injected; checked in {:.2} s",
            self.fault,
            self.operations,
            self.wall.as_secs_f64(),
            self.faults_injected,
            self.check_time.as_secs_f64()
        )?;
        let counts: Vec<String> = self.counts.iter().map(|(k, v)| format!("{k} {v}")).collect();
        writeln!(f, "   answers: {}", counts.join(", "))?;
        if self.violations.is_empty() {
            write!(f, "   linearizable: 0 violations")
        } else {
            write!(f, "   NOT linearizable: {}", self.violations.join("; "))
        }
    }
}

/// The pool under test: its etcd cluster and instances, each on a port of its own that survives restarts.
struct Pool {
    etcd: LocalEtcd,
    args: Vec<OsString>,
    ports: Vec<u16>,
    instances: Vec<Option<Target>>,
}

impl Pool {
    /// Starts instance `n` and waits until it listens; starts it again if it stopped first (it may start
    /// while etcd is failing over).
    fn start_instance(&mut self, n: usize) -> anyhow::Result<()> {
        for _ in 0..5 {
            let mut target = spawn(self.ports[n], &self.args, None)?;
            let deadline = Instant::now() + Duration::from_secs(30);
            while Instant::now() < deadline && target.child.try_wait()?.is_none() {
                if std::net::TcpStream::connect(("127.0.0.1", self.ports[n])).is_ok() {
                    self.instances[n] = Some(target);
                    return Ok(());
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        bail!("instance {n} did not start")
    }

    fn signal(&self, n: usize, signal: &str) -> anyhow::Result<()> {
        let Some(target) = &self.instances[n] else { return Ok(()) };
        let status =
            std::process::Command::new("kill").arg(signal).arg(target.child.id().to_string()).status()?;
        anyhow::ensure!(status.success(), "kill {signal} of instance {n} failed");
        Ok(())
    }
}

async fn run_one(args: &CheckPoolArgs, fault: Fault) -> anyhow::Result<Report> {
    let scratch = tempfile::tempdir()?;
    let issuer = TokenIssuer::generate_es256()?;
    let public_key = scratch.path().join("public.pem");
    std::fs::write(&public_key, issuer.public_pem()?)?;
    let etcd =
        LocalEtcd::start(&scratch.path().join("etcd"), 3).context("starting etcd (install etcd-server)")?;
    let mut pool = Pool {
        args: dss_args(&etcd, &public_key, args.local_reads, args.unsafe_local_reads),
        etcd,
        ports: (0..args.instances).map(|_| free_port()).collect::<anyhow::Result<_>>()?,
        instances: (0..args.instances).map(|_| None).collect(),
    };
    for n in 0..args.instances {
        pool.start_instance(n)?;
    }
    let bases: Vec<String> = pool.ports.iter().map(|p| format!("http://localhost:{p}")).collect();
    let http = reqwest::Client::builder().timeout(CLIENT_TIMEOUT).build()?;
    for base in &bases {
        wait_healthy(&http, base).await?;
    }
    let token =
        issuer.issue("checker", &["utm.strategic_coordination"], "localhost", Duration::from_secs(3600))?;
    let world = Arc::new(World {
        http,
        bases,
        token,
        areas: args.areas,
        started: Instant::now(),
        window: window(),
        history: Mutex::new(Vec::new()),
        counts: Mutex::new(BTreeMap::new()),
        wanted: args.operations,
        // With no fault to wait for, the clients stop once they recorded enough.
        healed: AtomicUsize::new(usize::from(fault == Fault::None)),
        recorded: AtomicUsize::new(0),
    });
    let pool = Arc::new(Mutex::new(pool));
    let stop = Arc::new(AtomicBool::new(false));
    let injector = {
        let (pool, stop) = (pool.clone(), stop.clone());
        let (every, stop_for) =
            (Duration::from_secs_f64(args.fault_every_secs), Duration::from_secs_f64(args.stop_secs));
        let world = world.clone();
        tokio::task::spawn_blocking(move || {
            let injected = inject(&pool, fault, every, stop_for, &stop, &world.healed);
            // Clients waiting for a first fault wait no longer, whatever happened.
            world.healed.fetch_add(1, Ordering::Relaxed);
            injected
        })
    };
    let clients: Vec<_> = (0..args.clients)
        .map(|c| {
            let world = world.clone();
            tokio::spawn(async move { world.client(c as u64).await })
        })
        .collect();
    for client in clients {
        client.await??;
    }
    let wall = world.started.elapsed();
    stop.store(true, Ordering::Relaxed);
    let faults_injected = injector.await??;
    drop(pool);
    let history = std::mem::take(&mut *world.history.lock());
    let operations = history.len();
    let checked = Instant::now();
    let mut violations = Vec::new();
    for area in 0..args.areas {
        let events: Vec<wgl::Event<Op>> =
            history.iter().filter(|(a, _)| *a == area).map(|(_, e)| e.clone()).collect();
        if let Err(v) = wgl::check(&Intents, &events) {
            violations.push(format!(
                "area {area}: no order of its {} operations fits (at most {} placed; stuck at {:?})",
                events.len(),
                v.longest,
                events[v.stuck_at]
            ));
        }
    }
    let counts = std::mem::take(&mut *world.counts.lock());
    Ok(Report { fault, faults_injected, counts, operations, wall, check_time: checked.elapsed(), violations })
}

fn dss_args(
    etcd: &LocalEtcd,
    public_key: &Path,
    local_reads: bool,
    unsafe_local_reads: bool,
) -> Vec<OsString> {
    let mut args: Vec<OsString> = ["dss", "--audience", "localhost", "--store", "etcd", "--etcd-endpoints"]
        .into_iter()
        .map(OsString::from)
        .collect();
    args.push(etcd.endpoints().join(",").into());
    args.extend(["--public-key".into(), public_key.as_os_str().to_owned()]);
    if local_reads {
        args.push("--pool-local-reads".into());
    }
    if unsafe_local_reads {
        args.push("--unsafe-local-reads".into());
    }
    args
}

/// Injects `fault` every `every` until told to stop; returns how many it injected.
fn inject(
    pool: &Mutex<Pool>,
    fault: Fault,
    every: Duration,
    stop_for: Duration,
    stop: &AtomicBool,
    healed: &AtomicUsize,
) -> anyhow::Result<usize> {
    let mut injected = 0;
    let sleep = |d: Duration| {
        let until = Instant::now() + d;
        while Instant::now() < until && !stop.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    while !stop.load(Ordering::Relaxed) {
        sleep(every);
        if stop.load(Ordering::Relaxed) || fault == Fault::None {
            continue;
        }
        let n = injected;
        injected += 1;
        match fault {
            Fault::None => {}
            Fault::InstanceKill => {
                let victim = n % pool.lock().instances.len();
                pool.lock().instances[victim] = None;
                std::thread::sleep(Duration::from_secs(1));
                pool.lock().start_instance(victim)?;
            }
            Fault::InstanceStop => {
                let victim = n % pool.lock().instances.len();
                pool.lock().signal(victim, "-STOP")?;
                std::thread::sleep(stop_for);
                pool.lock().signal(victim, "-CONT")?;
            }
            Fault::EtcdKill => {
                let victim = if n % 2 == 0 { pool.lock().etcd.leader().unwrap_or(0) } else { n % 3 };
                pool.lock().etcd.kill(victim);
                std::thread::sleep(Duration::from_secs(2));
                pool.lock().etcd.restart(victim)?;
            }
            Fault::EtcdLeaderStop => {
                let leader = pool.lock().etcd.leader().unwrap_or(0);
                pool.lock().etcd.pause(leader)?;
                std::thread::sleep(stop_for);
                pool.lock().etcd.resume(leader)?;
            }
        }
        healed.fetch_add(1, Ordering::Relaxed);
    }
    Ok(injected)
}

/// Every intent lives in the same window, far enough ahead to stay in force through a long run.
fn window() -> (String, String) {
    let now = SystemClock.now();
    let t = |m: i64| (now + chrono::Duration::minutes(m)).to_rfc3339_opts(SecondsFormat::Secs, true);
    (t(10), t(6 * 60))
}

/// What the clients share: where to send, and what they recorded.
struct World {
    http: reqwest::Client,
    bases: Vec<String>,
    token: String,
    areas: usize,
    started: Instant,
    window: (String, String),
    history: Mutex<Vec<(usize, wgl::Event<Op>)>>,
    counts: Mutex<BTreeMap<&'static str, usize>>,
    /// Operations to record; requests that leave nothing to check (refused connections, failed queries and
    /// error answers) do not count.
    wanted: usize,
    recorded: AtomicUsize,
    /// Faults injected and healed so far: the clients go on until at least one was, so that every run has
    /// operations during and after a fault however fast they are.
    healed: AtomicUsize,
}

/// How one request ended.
enum Answer {
    Status(u16, Value),
    /// Refused before it was sent (no connection): it did nothing.
    NotSent,
    /// Sent, no answer: it may have taken effect.
    Lost,
}

impl World {
    fn now(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    fn count(&self, what: &'static str) {
        *self.counts.lock().entry(what).or_default() += 1;
    }

    /// Sends one request to a random instance.
    async fn send(
        &self,
        rng: &mut StdRng,
        method: reqwest::Method,
        path: &str,
        body: Option<&impl Serialize>,
    ) -> Answer {
        let base = &self.bases[rng.random_range(0..self.bases.len())];
        let mut request = self.http.request(method, format!("{base}{path}")).bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(body);
        }
        match request.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                Answer::Status(status, response.json().await.unwrap_or(Value::Null))
            }
            Err(e) if e.is_connect() => Answer::NotSent,
            Err(_) => Answer::Lost,
        }
    }

    /// Records `op` called at `call` as it was answered.
    fn record(&self, area: usize, op: Op, call: u64, answer: &Answer) {
        let now = self.now();
        let answered = match answer {
            Answer::Status(s, _) if (200..300).contains(s) => Some((Outcome::Done, Some(now))),
            Answer::Status(404 | 409, _) => Some((Outcome::Refused, Some(now))),
            // F3548 answers an update of an intent that does not exist with 400.
            Answer::Status(400, _) if matches!(op, Op::Update { .. }) => Some((Outcome::Refused, Some(now))),
            // An error answer means nothing happened: the operation is left out, so that any sign of it having
            // taken effect is a violation.
            Answer::Status(_, _) | Answer::NotSent => None,
            Answer::Lost => {
                let window = u64::try_from(UNKNOWN_WINDOW.as_nanos()).unwrap_or(u64::MAX);
                Some((Outcome::Unknown, Some(now.saturating_add(window))))
            }
        };
        self.count(match (answer, &answered) {
            (Answer::Status(..), Some((Outcome::Done, _))) => "done",
            (Answer::Status(..), Some(_)) => "refused (404/409, 400 to an update)",
            (Answer::Status(s, _), None) if *s >= 500 => "error 5xx",
            (Answer::Status(..), None) => "error 4xx",
            (Answer::NotSent, _) => "not sent (no connection)",
            (Answer::Lost, _) => "no answer",
        });
        if let Some((outcome, answer)) = answered {
            let op = op.with_outcome(outcome);
            self.history.lock().push((area, wgl::Event { op, call, answer }));
            self.recorded.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn centre(&self, area: usize) -> (f64, f64) {
        (-20.0 + area as f64 * 0.5, 30.0)
    }

    /// An intent's body in `area`: a square of its own size, all around the area's centre, so every two meet.
    fn intent(
        &self,
        area: usize,
        rng: &mut StdRng,
        key: &[String],
        ovn_suffix: &str,
    ) -> PutOperationalIntentReferenceParameters {
        let (lat, lng) = self.centre(area);
        let half = 0.002 + rng.random::<f64>() * 0.003;
        let corner = |dlat: f64, dlng: f64| LatLngPoint { lat: lat + dlat, lng: lng + dlng };
        let square = Polygon {
            vertices: vec![
                corner(-half, -half),
                corner(-half, half),
                corner(half, half),
                corner(half, -half),
            ],
        };
        PutOperationalIntentReferenceParameters {
            extents: vec![self.volume(None, Some(square))],
            key: Some(key.to_vec()),
            state: OperationalIntentState::Accepted,
            uss_base_url: "https://checker.example".to_owned(),
            subscription_id: None,
            new_subscription: None,
            requested_ovn_suffix: Some(ovn_suffix.to_owned()),
        }
    }

    /// An outline from the ground to 100 m over the run's window.
    fn volume(&self, outline_circle: Option<Circle>, outline_polygon: Option<Polygon>) -> Volume4D {
        let altitude = |value| Some(Altitude { value, reference: "W84".to_owned(), units: "M".to_owned() });
        let time = |value: &String| Some(Time { value: value.clone(), format: "RFC3339".to_owned() });
        Volume4D {
            volume: Volume3D {
                outline_circle,
                outline_polygon,
                altitude_lower: altitude(0.0),
                altitude_upper: altitude(100.0),
            },
            time_start: time(&self.window.0),
            time_end: time(&self.window.1),
        }
    }

    /// One client: queries an area, then creates, updates or deletes there from what it saw, until the
    /// operations run out.
    async fn client(&self, seed: u64) -> anyhow::Result<()> {
        let mut rng = StdRng::seed_from_u64(seed);
        while self.recorded.load(Ordering::Relaxed) < self.wanted || self.healed.load(Ordering::Relaxed) == 0
        {
            let area = rng.random_range(0..self.areas);
            let (lat, lng) = self.centre(area);
            let circle = Circle {
                center: Some(LatLngPoint { lat, lng }),
                radius: Some(Radius { value: 2000.0, units: "M".to_owned() }),
            };
            let query = QueryRequest { area_of_interest: Some(self.volume(Some(circle), None)) };
            let call = self.now();
            let answer = self
                .send(
                    &mut rng,
                    reqwest::Method::POST,
                    "/dss/v1/operational_intent_references/query",
                    Some(&query),
                )
                .await;
            let seen: BTreeMap<String, String> = match &answer {
                Answer::Status(200, body) => body["operational_intent_references"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|o| {
                        (
                            o["id"].as_str().unwrap_or("").to_owned(),
                            o["ovn"].as_str().unwrap_or("").to_owned(),
                        )
                    })
                    .collect(),
                _ => {
                    // A failed read has no effect to check.
                    self.count("query failed");
                    continue;
                }
            };
            self.record(area, Op::Query { seen: seen.clone() }, call, &answer);
            let key: Vec<String> = seen.values().cloned().collect();
            let suffix = ovn_suffix(&mut rng);
            let call = self.now();
            if seen.len() < 2 || rng.random_bool(0.3) {
                let id = uuid::Uuid::new_v4().to_string();
                let ovn = format!("{id}_{suffix}");
                let body = self.intent(area, &mut rng, &key, &suffix);
                let path = format!("/dss/v1/operational_intent_references/{id}");
                let answer = self.send(&mut rng, reqwest::Method::PUT, &path, Some(&body)).await;
                self.record(area, Op::create(id, ovn, key), call, &answer);
                continue;
            }
            let Some((id, ovn)) = seen.iter().nth(rng.random_range(0..seen.len())) else { continue };
            let path = format!("/dss/v1/operational_intent_references/{id}/{ovn}");
            if rng.random_bool(0.5) {
                let body = self.intent(area, &mut rng, &key, &suffix);
                let answer = self.send(&mut rng, reqwest::Method::PUT, &path, Some(&body)).await;
                let to = format!("{id}_{suffix}");
                self.record(area, Op::update(id.clone(), ovn.clone(), to, key), call, &answer);
            } else {
                let answer = self.send(&mut rng, reqwest::Method::DELETE, &path, None::<&()>).await;
                self.record(area, Op::delete(id.clone(), ovn.clone()), call, &answer);
            }
        }
        Ok(())
    }
}

/// A UUIDv7 minted now, as F3548 asks of a requested OVN suffix: the OVN of a write is then known before its
/// answer, also when none comes.
fn ovn_suffix(rng: &mut StdRng) -> String {
    let millis = SystemClock.now().timestamp_millis().max(0) as u64;
    let mut bytes: [u8; 16] = rng.random();
    bytes[..6].copy_from_slice(&millis.to_be_bytes()[2..]);
    bytes[6] = 0x70 | (bytes[6] & 0x0f);
    bytes[8] = 0x80 | (bytes[8] & 0x3f);
    uuid::Uuid::from_bytes(bytes).to_string()
}
