//! `entente bench`: loads a realistic airspace into a real `entente dss` process and measures it over HTTP;
//! with `--pool`, the same workload then runs through a pool of instances on a local 3-member etcd cluster.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use chrono::SubsecRound;
use clap::{Args, Subcommand};
use entente_dss::{Clock, SystemClock};
use entente_server::auth::TokenIssuer;
use entente_wire::rid::ServiceAreas;
use entente_wire::rid::v22a::{IdentificationServiceArea, PutParameters};
use entente_wire::scd::{
    AirspaceConflictResponse, ChangeOperationalIntentReferenceResponse, OperationalIntentState,
    PutOperationalIntentReferenceParameters, PutSubscriptionParameters, QueryRequest,
};
use entente_wire::{Altitude, LatLngPoint, Polygon, Time, Volume3D, Volume4D, time_out};
use indicatif::{ProgressBar, ProgressStyle};
use parking_lot::Mutex;
use rand::{Rng, SeedableRng, rngs::StdRng};
use serde::Serialize;
use serde_json::Value;

pub(crate) mod tactical;
pub(crate) mod uss;

#[derive(Args)]
#[command(args_conflicts_with_subcommands = true)]
pub(crate) struct BenchArgs {
    #[command(subcommand)]
    pub(crate) command: Option<BenchCommand>,
    /// Active operational intents loaded before measuring.
    #[arg(long, default_value_t = 100_000)]
    intents: usize,
    /// Subscriptions loaded before measuring.
    #[arg(long, default_value_t = 10_000)]
    subscriptions: usize,
    /// Live F3411 identification service areas loaded before measuring.
    #[arg(long, default_value_t = 100_000)]
    isas: usize,
    /// Side of the square area the entities are spread over, in km.
    #[arg(long, default_value_t = 100.0)]
    area_km: f64,
    /// Requests measured per operation.
    #[arg(long, default_value_t = 20_000)]
    requests: usize,
    /// Concurrent HTTP clients for loading and for writes.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Client counts at which the reads are measured, one run each.
    #[arg(long, value_delimiter = ',', default_value = "8,32")]
    read_concurrency: Vec<usize>,
    /// Run the DSS on these CPUs only (a `taskset` list such as "0"); run the bench itself under
    /// `taskset -c 1` so that server and load generator do not preempt each other.
    #[arg(long)]
    server_cpus: Option<String>,
    /// Where the benchmarked DSS keeps its store (a fresh temporary folder by default).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// After the embedded store, run the same workload through this many instances sharing a local
    /// 3-member etcd cluster, requests spread over them in turn, and print both side by side.
    #[arg(long)]
    pool: Option<usize>,
}

#[derive(Subcommand)]
pub(crate) enum BenchCommand {
    /// Time tactical conflict detection against BlueSky's on the same drone traffic.
    Tactical(tactical::TacticalArgs),
    /// Time plans end to end through a real USS (a DSS and two USSs as processes) against the DSS alone.
    Uss(uss::UssBenchArgs),
}

const SUB: &str = "bench-uss";
const ORIGIN: (f64, f64) = (47.0, 8.0);
const METRES_PER_DEG_LAT: f64 = 111_195.0;

pub(crate) struct Target {
    pub(crate) child: Child,
    base: String,
}

impl Drop for Target {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Starts `entente` with `args` (which must make it listen on `port`), on `server_cpus` when given.
pub(crate) fn spawn(port: u16, args: &[OsString], server_cpus: Option<&str>) -> anyhow::Result<Target> {
    let exe = std::env::current_exe()?;
    let mut command = match server_cpus {
        Some(cpus) => {
            let mut c = Command::new("taskset");
            c.args(["-c", cpus]).arg(exe);
            c
        }
        None => Command::new(exe),
    };
    let child = command
        .args(args)
        .args(["--listen", &format!("127.0.0.1:{port}"), "--log", "error"])
        .stdout(Stdio::null())
        .spawn()
        .with_context(|| {
            format!("starting entente {}", args.first().map_or("", |a| a.to_str().unwrap_or("")))
        })?;
    Ok(Target { child, base: format!("http://localhost:{port}") })
}

fn spawn_dss(
    store_args: &[OsString],
    public_keys: &[&Path],
    server_cpus: Option<&str>,
) -> anyhow::Result<Target> {
    let mut args: Vec<OsString> = ["dss", "--audience", "localhost", "--allow-http-base-urls"]
        .into_iter()
        .map(OsString::from)
        .collect();
    for key in public_keys {
        args.extend([OsString::from("--public-key"), key.as_os_str().to_owned()]);
    }
    args.extend_from_slice(store_args);
    spawn(free_port()?, &args, server_cpus)
}

/// Resident memory of a process in MiB, from /proc.
fn rss_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: f64 =
        status.lines().find(|l| l.starts_with("VmRSS:"))?.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

struct Geometry {
    area_km: f64,
}

impl Geometry {
    /// A square of `side_m` at a uniformly random place in the benchmark area.
    fn square(&self, rng: &mut StdRng, side_m: f64) -> Polygon {
        let span_deg_lat = self.area_km * 1000.0 / METRES_PER_DEG_LAT;
        let lat = ORIGIN.0 + rng.random::<f64>() * span_deg_lat;
        let deg_lng_per_m = 1.0 / (METRES_PER_DEG_LAT * lat.to_radians().cos());
        let lng = ORIGIN.1 + rng.random::<f64>() * self.area_km * 1000.0 * deg_lng_per_m;
        let dlat = side_m / METRES_PER_DEG_LAT;
        let dlng = side_m * deg_lng_per_m;
        let point = |lat: f64, lng: f64| LatLngPoint { lat, lng };
        Polygon {
            vertices: vec![
                point(lat, lng),
                point(lat, lng + dlng),
                point(lat + dlat, lng + dlng),
                point(lat + dlat, lng),
            ],
        }
    }
}

fn time(offset: Duration) -> Time {
    time_out((SystemClock.now() + chrono::Duration::from_std(offset).unwrap_or_default()).trunc_subsecs(0))
}

fn volume(outline: Polygon, alt: (f64, f64), start: Duration, end: Duration) -> Volume4D {
    let altitude = |value: f64| Altitude { value, reference: "W84".to_owned(), units: "M".to_owned() };
    Volume4D {
        volume: Volume3D {
            outline_circle: None,
            outline_polygon: Some(outline),
            altitude_lower: Some(altitude(alt.0)),
            altitude_upper: Some(altitude(alt.1)),
        },
        time_start: Some(time(start)),
        time_end: Some(time(end)),
    }
}

/// The body of an intent's create or update by the bench, which manages every intent as Accepted.
fn intent_body(extents: &Volume4D, key: Vec<String>) -> PutOperationalIntentReferenceParameters {
    PutOperationalIntentReferenceParameters {
        extents: vec![extents.clone()],
        key: Some(key),
        state: OperationalIntentState::Accepted,
        uss_base_url: "http://bench.example".to_owned(),
        subscription_id: None,
        new_subscription: None,
        requested_ovn_suffix: None,
    }
}

/// The OVN of a written intent, from the DSS's answer.
fn written_ovn(resp: Value) -> anyhow::Result<String> {
    let change: ChangeOperationalIntentReferenceResponse = serde_json::from_value(resp)?;
    Ok(change.operational_intent_reference.ovn.unwrap_or_default())
}

/// The OVNs a 409 says the key missed.
fn missing_ovns(resp: Value) -> anyhow::Result<Vec<String>> {
    let conflict: AirspaceConflictResponse = serde_json::from_value(resp)?;
    Ok(conflict.missing_operational_intents.into_iter().filter_map(|m| m.ovn).collect())
}

/// An intent of 30 minutes within the next 20 hours, a 200 m square, in one of four altitude bands.
fn intent_volume(geo: &Geometry, rng: &mut StdRng) -> Volume4D {
    let start = Duration::from_secs(600 + rng.random_range(0..20 * 3600));
    let band = f64::from(rng.random_range(0..4u8)) * 30.0;
    volume(geo.square(rng, 200.0), (band, band + 30.0), start, start + Duration::from_secs(1800))
}

struct Client {
    http: reqwest::Client,
    bases: Vec<String>,
    next: AtomicUsize,
    token: String,
}

impl Client {
    /// The instances in turn, so a pool shares the load evenly.
    fn base(&self) -> &str {
        &self.bases[self.next.fetch_add(1, Ordering::Relaxed) % self.bases.len()]
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&impl Serialize>,
    ) -> anyhow::Result<(u16, Value)> {
        let mut req = self.http.request(method, format!("{}{path}", self.base())).bearer_auth(&self.token);
        if let Some(body) = body {
            req = req.json(body);
        }
        let resp = req.send().await?;
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await?;
        Ok((status, serde_json::from_slice(&bytes).unwrap_or(Value::Null)))
    }

    /// Creates an intent, adding the OVNs the DSS says are missing (the bench manages every intent, so it sees them).
    async fn create_intent(&self, id: &str, extents: &Volume4D) -> anyhow::Result<(String, usize)> {
        let mut key: Vec<String> = Vec::new();
        for attempt in 0..5 {
            let body = intent_body(extents, key.clone());
            let (status, resp) = self
                .send(
                    reqwest::Method::PUT,
                    &format!("/dss/v1/operational_intent_references/{id}"),
                    Some(&body),
                )
                .await?;
            match status {
                201 => return Ok((written_ovn(resp)?, attempt)),
                409 => key.extend(missing_ovns(resp)?),
                other => bail!("create intent answered {other}: {resp}"),
            }
        }
        bail!("create intent {id} kept conflicting")
    }
}

/// An intent the bench created: id, current OVN, extents.
type Created = Mutex<Option<(String, String, Volume4D)>>;

struct Stats {
    name: String,
    latencies: Vec<Duration>,
    wall: Duration,
    errors: usize,
}

impl Stats {
    fn percentile(&self, p: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        let i = ((self.latencies.len() as f64 - 1.0) * p).round() as usize;
        self.latencies[i.min(self.latencies.len() - 1)]
    }

    fn line(&self) -> String {
        format!(
            "| {:<34} | {:>8} | {:>10.0} | {:>9.3} | {:>9.3} | {:>6} |",
            self.name,
            self.latencies.len(),
            self.latencies.len() as f64 / self.wall.as_secs_f64(),
            self.percentile(0.50).as_secs_f64() * 1e3,
            self.percentile(0.99).as_secs_f64() * 1e3,
            self.errors
        )
    }
}

/// Runs `n` operations over `concurrency` workers; operation `i` is `op(i)`.
async fn measure<F, Fut>(name: impl Into<String>, n: usize, concurrency: usize, op: F) -> Stats
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send,
{
    let op = Arc::new(op);
    let next = Arc::new(AtomicUsize::new(0));
    let errors = Arc::new(AtomicUsize::new(0));
    let latencies = Arc::new(Mutex::new(Vec::with_capacity(n)));
    let bar = ProgressBar::new(n as u64).with_style(
        ProgressStyle::with_template("{prefix:>34} [{bar:30}] {pos}/{len} {per_sec}")
            .unwrap_or(ProgressStyle::default_bar()),
    );
    let name = name.into();
    bar.set_prefix(name.clone());
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let (op, next, errors, latencies, bar) =
            (op.clone(), next.clone(), errors.clone(), latencies.clone(), bar.clone());
        workers.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    break;
                }
                let t = Instant::now();
                if let Err(e) = op(i).await
                    && errors.fetch_add(1, Ordering::Relaxed) == 0
                {
                    // The first failure, so that a failed run says why.
                    bar.println(format!("{}: first error: {e:#}", bar.prefix()));
                }
                mine.push(t.elapsed());
                bar.inc(1);
            }
            latencies.lock().extend(mine);
        }));
    }
    for w in workers {
        let _ = w.await;
    }
    let wall = started.elapsed();
    bar.finish_and_clear();
    let mut latencies = std::mem::take(&mut *latencies.lock());
    latencies.sort_unstable();
    Stats { name, latencies, wall, errors: errors.load(Ordering::Relaxed) }
}

/// What one run of the workload measured.
struct Report {
    stats: Vec<Stats>,
    conflicts: usize,
    isas_per_search: f64,
    rss_loaded: Option<f64>,
    rss_end: Option<f64>,
    /// Summed over a pool's instances: writes committed, and decisions retried because another instance's
    /// write landed first.
    pool_writes: Option<(f64, f64)>,
}

pub(crate) async fn run(args: BenchArgs) -> anyhow::Result<()> {
    let scratch = tempfile::tempdir()?;
    let dir = args.data_dir.clone().unwrap_or_else(|| scratch.path().to_path_buf());
    let issuer = TokenIssuer::generate_es256()?;
    let public_key = scratch.path().join("bench-public.pem");
    std::fs::write(&public_key, issuer.public_pem()?)?;
    println!(
        "entente bench: {} intents, {} subscriptions and {} ISAs over {} km x {} km; {} requests per operation, {} clients",
        args.intents,
        args.subscriptions,
        args.isas,
        args.area_km,
        args.area_km,
        args.requests,
        args.concurrency
    );
    let store = dir.join("store");
    let target = spawn_dss(
        &["--data-dir".into(), store.into_os_string()],
        &[public_key.as_path()],
        args.server_cpus.as_deref(),
    )?;
    println!("== embedded store (redb), one instance");
    let embedded = workload(&args, &[target], &issuer).await?;
    print_report(&embedded, None);
    let Some(instances) = args.pool else { return errors(&[&embedded]) };
    println!(
        "== pool: {instances} instances on a 3-member etcd cluster (loopback), requests spread over them"
    );
    let etcd = entente_store::LocalEtcd::start(&scratch.path().join("etcd"), 3).context("starting etcd")?;
    let endpoints = etcd.endpoints().join(",");
    let targets = (0..instances)
        .map(|_| {
            spawn_dss(
                &["--store".into(), "etcd".into(), "--etcd-endpoints".into(), endpoints.clone().into()],
                &[public_key.as_path()],
                args.server_cpus.as_deref(),
            )
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let pool = workload(&args, &targets, &issuer).await?;
    drop(targets);
    // The cluster's own ceiling in the same conditions: the simplest transaction etcd can commit.
    let ceiling = etcd_ceiling(etcd.endpoints(), args.requests, args.concurrency).await?;
    drop(etcd);
    print_report(&pool, Some(&embedded));
    println!();
    println!("etcd alone, same cluster and clients, through the same gRPC client:");
    println!("{}", ceiling.line());
    errors(&[&embedded, &pool])
}

/// Transactions of one put each, straight to the etcd members in turn, over the same gRPC client as the pool.
async fn etcd_ceiling(endpoints: Vec<String>, requests: usize, concurrency: usize) -> anyhow::Result<Stats> {
    let members =
        endpoints.into_iter().map(|e| entente_store::Etcd::new(vec![e])).collect::<Result<Vec<_>, _>>()?;
    let members = Arc::new(members);
    Ok(measure("etcd txn of 1 put (no DSS)", requests, concurrency, move |i| {
        let members = members.clone();
        async move {
            members[i % members.len()].put(format!("/ceiling/{i}").as_bytes(), b"").await?;
            Ok(())
        }
    })
    .await)
}

fn errors(reports: &[&Report]) -> anyhow::Result<()> {
    let total: usize = reports.iter().flat_map(|r| &r.stats).map(|s| s.errors).sum();
    if total > 0 {
        bail!("{total} requests failed");
    }
    Ok(())
}

/// The table of one run; with `baseline`, each row also shows the baseline's figures for the same operation.
fn print_report(report: &Report, baseline: Option<&Report>) {
    println!();
    match baseline {
        None => {
            println!(
                "| operation                          | requests | per second |  p50 (ms) |  p99 (ms) | errors |"
            );
            println!(
                "|------------------------------------|---------:|-----------:|----------:|----------:|-------:|"
            );
            for s in &report.stats {
                println!("{}", s.line());
            }
        }
        Some(baseline) => {
            println!(
                "| operation                          | requests | per second |  p50 (ms) |  p99 (ms) | errors | embedded /s | emb. p50 | emb. p99 |"
            );
            println!(
                "|------------------------------------|---------:|-----------:|----------:|----------:|-------:|------------:|---------:|---------:|"
            );
            for (s, b) in report.stats.iter().zip(&baseline.stats) {
                println!(
                    "{} {:>11.0} | {:>8.3} | {:>8.3} |",
                    s.line(),
                    b.latencies.len() as f64 / b.wall.as_secs_f64(),
                    b.percentile(0.50).as_secs_f64() * 1e3,
                    b.percentile(0.99).as_secs_f64() * 1e3
                );
            }
        }
    }
    println!();
    println!("key-check conflicts resolved by retry during 'create intent': {}", report.conflicts);
    println!("ISAs per search answer (F3411-22a, /rid/v2): {:.1} on average", report.isas_per_search);
    let fmt = |m: Option<f64>| m.map_or("unknown".to_owned(), |m| format!("{m:.0} MiB"));
    println!(
        "resident memory of the DSS process(es): {} after loading, {} at the end",
        fmt(report.rss_loaded),
        fmt(report.rss_end)
    );
    if let Some((committed, stale)) = report.pool_writes {
        println!(
            "pool writes committed: {committed:.0}; decisions refused by a newer commit and made again: {stale:.0}"
        );
    }
}

/// A pool's write outcomes, summed from every instance's `/metrics`.
async fn pool_writes(client: &Client) -> Option<(f64, f64)> {
    let mut sums = (0.0, 0.0);
    for base in &client.bases {
        let text = client.http.get(format!("{base}/metrics")).send().await.ok()?.text().await.ok()?;
        for line in text.lines() {
            let value = |prefix: &str| line.strip_prefix(prefix).and_then(|v| v.trim().parse::<f64>().ok());
            if let Some(v) = value("entente_pool_writes{outcome=\"committed\"}") {
                sums.0 += v;
            }
            if let Some(v) = value("entente_pool_writes{outcome=\"stale\"}") {
                sums.1 += v;
            }
        }
    }
    Some(sums)
}

/// Summed resident memory of the instances.
fn rss_of(targets: &[Target]) -> Option<f64> {
    targets.iter().map(|t| rss_mib(t.child.id())).sum()
}

async fn workload(args: &BenchArgs, targets: &[Target], issuer: &TokenIssuer) -> anyhow::Result<Report> {
    let http = reqwest::Client::builder().pool_max_idle_per_host(args.concurrency * 2).build()?;
    let token = issuer.issue(
        SUB,
        &[
            "utm.strategic_coordination",
            "utm.constraint_processing",
            "rid.service_provider",
            "rid.display_provider",
        ],
        "localhost",
        Duration::from_secs(3600),
    )?;
    let bases = targets.iter().map(|t| t.base.clone()).collect();
    let client = Arc::new(Client { http, bases, next: AtomicUsize::new(0), token });
    for target in targets {
        wait_healthy(&client.http, &target.base).await?;
    }
    let geo = Arc::new(Geometry { area_km: args.area_km });
    let load_subs = {
        let (client, geo) = (client.clone(), geo.clone());
        measure("load: create subscription", args.subscriptions, args.concurrency, move |i| {
            let (client, geo) = (client.clone(), geo.clone());
            async move {
                let mut rng = StdRng::seed_from_u64(1_000_000 + i as u64);
                let body = PutSubscriptionParameters {
                    extents: volume(
                        geo.square(&mut rng, 2000.0),
                        (0.0, 120.0),
                        Duration::from_secs(60),
                        Duration::from_secs(23 * 3600),
                    ),
                    uss_base_url: "http://bench.example".to_owned(),
                    notify_for_operational_intents: Some(true),
                    notify_for_constraints: None,
                };
                let (status, resp) = client
                    .send(
                        reqwest::Method::PUT,
                        &format!("/dss/v1/subscriptions/{}", uuid::Uuid::new_v4()),
                        Some(&body),
                    )
                    .await?;
                if status != 200 {
                    bail!("subscription answered {status}: {resp}");
                }
                Ok(())
            }
        })
        .await
    };
    let load = {
        let (client, geo) = (client.clone(), geo.clone());
        measure("load: create intent", args.intents, args.concurrency, move |i| {
            let (client, geo) = (client.clone(), geo.clone());
            async move {
                let mut rng = StdRng::seed_from_u64(i as u64);
                client
                    .create_intent(&uuid::Uuid::new_v4().to_string(), &intent_volume(&geo, &mut rng))
                    .await
                    .map(|_| ())
            }
        })
        .await
    };
    let load_isas = {
        let (client, geo) = (client.clone(), geo.clone());
        measure("load: create ISA", args.isas, args.concurrency, move |i| {
            let (client, geo) = (client.clone(), geo.clone());
            async move {
                let mut rng = StdRng::seed_from_u64(4_000_000 + i as u64);
                let body = PutParameters {
                    extents: volume(
                        geo.square(&mut rng, 1000.0),
                        (0.0, 120.0),
                        Duration::ZERO,
                        Duration::from_secs(23 * 3600),
                    ),
                    uss_base_url: "http://bench.example".to_owned(),
                };
                let (status, resp) = client
                    .send(
                        reqwest::Method::PUT,
                        &format!("/rid/v2/dss/identification_service_areas/{}", uuid::Uuid::new_v4()),
                        Some(&body),
                    )
                    .await?;
                if status != 200 {
                    bail!("ISA answered {status}: {resp}");
                }
                Ok(())
            }
        })
        .await
    };
    let rss_loaded = rss_of(targets);

    // Reads at several client counts: throughput and latency trade against each other, so one point says little.
    // Bodies are built before timing, so the load generator spends its share of the two cores on HTTP only.
    let query_bodies: Arc<Vec<Vec<u8>>> = Arc::new(
        (0..args.requests)
            .map(|i| {
                let mut rng = StdRng::seed_from_u64(2_000_000 + i as u64);
                let start = Duration::from_secs(rng.random_range(0..20 * 3600));
                let area = volume(
                    geo.square(&mut rng, 1000.0),
                    (0.0, 120.0),
                    start,
                    start + Duration::from_secs(3600),
                );
                serde_json::to_vec(&QueryRequest { area_of_interest: Some(area) }).unwrap_or_default()
            })
            .collect(),
    );
    let mut reads = Vec::new();
    for &concurrency in &args.read_concurrency {
        let c = client.clone();
        reads.push(
            measure(
                format!("no-op GET /healthy, {concurrency} clients"),
                args.requests,
                concurrency,
                move |_| {
                    let c = c.clone();
                    async move {
                        let resp = c.http.get(format!("{}/healthy", c.base())).send().await?;
                        resp.bytes().await?;
                        Ok(())
                    }
                },
            )
            .await,
        );
        let (c, bodies) = (client.clone(), query_bodies.clone());
        reads.push(
            measure(
                format!("query 1 km² 1 h, {concurrency} clients"),
                args.requests,
                concurrency,
                move |i| {
                    let (c, bodies) = (c.clone(), bodies.clone());
                    async move {
                        let resp = c
                            .http
                            .post(format!("{}/dss/v1/operational_intent_references/query", c.base()))
                            .bearer_auth(&c.token)
                            .header(reqwest::header::CONTENT_TYPE, "application/json")
                            .body(bodies[i].clone())
                            .send()
                            .await?;
                        let status = resp.status();
                        resp.bytes().await?;
                        if status != 200 {
                            bail!("query answered {status}");
                        }
                        Ok(())
                    }
                },
            )
            .await,
        );
    }
    let isas_found = Arc::new(AtomicUsize::new(0));
    let search_isas = {
        let (client, geo, found) = (client.clone(), geo.clone(), isas_found.clone());
        measure("search ISAs (1 km²)", args.requests, args.concurrency, move |i| {
            let (client, geo, found) = (client.clone(), geo.clone(), found.clone());
            async move {
                let mut rng = StdRng::seed_from_u64(5_000_000 + i as u64);
                let square = geo.square(&mut rng, 1000.0);
                let area: Vec<String> =
                    square.vertices.iter().map(|v| format!("{},{}", v.lat, v.lng)).collect();
                let path = format!("/rid/v2/dss/identification_service_areas?area={}", area.join(","));
                let (status, resp) = client.send(reqwest::Method::GET, &path, None::<&()>).await?;
                if status != 200 {
                    bail!("ISA search answered {status}: {resp}");
                }
                let isas: ServiceAreas<IdentificationServiceArea> = serde_json::from_value(resp)?;
                found.fetch_add(isas.service_areas.len(), Ordering::Relaxed);
                Ok(())
            }
        })
        .await
    };
    // Writes: each worker slot creates, then updates, then deletes its own intents.
    let created: Arc<Vec<Created>> = Arc::new((0..args.requests).map(|_| Mutex::new(None)).collect());
    let conflicts = Arc::new(AtomicUsize::new(0));
    let create = {
        let (client, geo, created, conflicts) =
            (client.clone(), geo.clone(), created.clone(), conflicts.clone());
        measure("create intent (key check)", args.requests, args.concurrency, move |i| {
            let (client, geo, created, conflicts) =
                (client.clone(), geo.clone(), created.clone(), conflicts.clone());
            async move {
                let mut rng = StdRng::seed_from_u64(3_000_000 + i as u64);
                let id = uuid::Uuid::new_v4().to_string();
                let extents = intent_volume(&geo, &mut rng);
                let (ovn, retries) = client.create_intent(&id, &extents).await?;
                conflicts.fetch_add(retries, Ordering::Relaxed);
                *created[i].lock() = Some((id, ovn, extents));
                Ok(())
            }
        })
        .await
    };
    let update = {
        let (client, created) = (client.clone(), created.clone());
        measure("update intent", args.requests, args.concurrency, move |i| {
            let (client, created) = (client.clone(), created.clone());
            async move {
                let Some((id, ovn, extents)) = created[i].lock().clone() else {
                    bail!("intent {i} was not created")
                };
                let mut key = Vec::new();
                for _ in 0..5 {
                    let body = intent_body(&extents, key.clone());
                    let (status, resp) = client
                        .send(
                            reqwest::Method::PUT,
                            &format!("/dss/v1/operational_intent_references/{id}/{ovn}"),
                            Some(&body),
                        )
                        .await?;
                    match status {
                        200 => {
                            *created[i].lock() = Some((id, written_ovn(resp)?, extents));
                            return Ok(());
                        }
                        409 => key.extend(missing_ovns(resp)?),
                        other => bail!("update answered {other}: {resp}"),
                    }
                }
                bail!("update kept conflicting")
            }
        })
        .await
    };
    let delete = {
        let (client, created) = (client.clone(), created.clone());
        measure("delete intent", args.requests, args.concurrency, move |i| {
            let (client, created) = (client.clone(), created.clone());
            async move {
                let Some((id, ovn, _)) = created[i].lock().clone() else {
                    bail!("intent {i} was not created")
                };
                let (status, resp) = client
                    .send(
                        reqwest::Method::DELETE,
                        &format!("/dss/v1/operational_intent_references/{id}/{ovn}"),
                        None::<&()>,
                    )
                    .await?;
                if status != 200 {
                    bail!("delete answered {status}: {resp}");
                }
                Ok(())
            }
        })
        .await
    };
    let rss_end = rss_of(targets);
    let stats = [load_subs, load, load_isas]
        .into_iter()
        .chain(reads)
        .chain([search_isas, create, update, delete])
        .collect();
    Ok(Report {
        stats,
        conflicts: conflicts.load(Ordering::Relaxed),
        isas_per_search: isas_found.load(Ordering::Relaxed) as f64 / args.requests.max(1) as f64,
        rss_loaded,
        rss_end,
        pool_writes: if targets.len() > 1 { pool_writes(&client).await } else { None },
    })
}

pub(crate) async fn wait_healthy(http: &reqwest::Client, base: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if http.get(format!("{base}/healthy")).send().await.is_ok_and(|r| r.status().is_success()) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!("the benchmarked process at {base} did not start")
}
