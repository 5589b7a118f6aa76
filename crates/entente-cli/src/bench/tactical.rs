//! `entente bench tactical`: times the tactical conflict scan on drone-scale traffic and, on the same traffic,
//! BlueSky's own state-based detection, then checks that both flag the same pairs.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use entente_tactical::{Config, Conflict, Detector, Monitor, Position, State, Velocity, to_csv};
use indicatif::{ProgressBar, ProgressStyle};
use rand::{Rng, SeedableRng, rngs::StdRng};
use serde_json::Value;

use super::{METRES_PER_DEG_LAT, ORIGIN};

#[derive(Args)]
pub(crate) struct TacticalArgs {
    /// Fleet sizes, one run each.
    #[arg(long, value_delimiter = ',', default_value = "1000,4000,10000")]
    aircraft: Vec<usize>,
    /// Side of the square area the fleet is spread over, in km.
    #[arg(long, default_value_t = 100.0)]
    area_km: f64,
    /// Full scans timed per fleet size.
    #[arg(long, default_value_t = 500)]
    scans: usize,
    /// Threads our scan may use.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// BlueSky detection calls timed per fleet size.
    #[arg(long, default_value_t = 3)]
    bluesky_runs: usize,
    /// Python interpreter that creates BlueSky's virtual environment.
    #[arg(long, default_value = "python3")]
    python: String,
    /// Where BlueSky's virtual environment lives (created when missing).
    #[arg(long, default_value = "target/bench-venv")]
    venv: PathBuf,
    /// Measure our scan only.
    #[arg(long)]
    no_bluesky: bool,
    /// Seed of the generated traffic.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

/// The drone-scale encounter model: 50 m / 15 m protected zone, 60 s look-ahead.
const CONFIG: Config = Config { horizontal_m: 50.0, vertical_m: 15.0, lookahead_s: 60.0 };
/// Pairs whose closest approach is this close (relative) to the protected radius may fall either way in two
/// implementations; anything else must match.
const BORDERLINE: f64 = 0.01;
/// BlueSky's detection holds about 28 float matrices of N x N: 3.6 GB at 4k aircraft.
const BLUESKY_BYTES_PER_PAIR: f64 = 225.0;
/// The release the comparison was written against; pinned so that reruns measure the same code.
const BLUESKY_PACKAGE: &str = "bluesky-simulator==1.1.1";
const SCRIPT: &str = include_str!("bluesky_cd.py");

/// `n` drones uniformly over the area at 30-120 m, 5-25 m/s on any track, climbing or descending at up to 2 m/s.
fn traffic(n: usize, area_km: f64, seed: u64) -> anyhow::Result<Vec<State>> {
    let mut rng = StdRng::seed_from_u64(seed ^ n as u64);
    let span_m = area_km * 1000.0;
    (0..n)
        .map(|i| {
            let lat = ORIGIN.0 + rng.random::<f64>() * span_m / METRES_PER_DEG_LAT;
            let lon = ORIGIN.1 + rng.random::<f64>() * span_m / (METRES_PER_DEG_LAT * lat.to_radians().cos());
            let position = Position { lat, lon, alt_m: rng.random_range(30.0..120.0) };
            let velocity = Velocity {
                gs_mps: rng.random_range(5.0..25.0),
                trk_deg: rng.random_range(0.0..360.0),
                vs_mps: rng.random_range(-2.0..2.0),
            };
            Ok(State::new(i.to_string(), position, velocity, 0.0)?)
        })
        .collect()
}

struct Ours {
    latencies: Vec<Duration>,
    /// Processor time per scan over all threads, which unlike the latencies does not count time spent waiting
    /// for a core that other work holds.
    cpu_per_scan: Option<Duration>,
    conflicts: Vec<Conflict>,
}

impl Ours {
    fn percentile_ms(&self, p: f64) -> f64 {
        let i = ((self.latencies.len() as f64 - 1.0) * p).round() as usize;
        self.latencies.get(i).map_or(f64::NAN, |d| d.as_secs_f64() * 1e3)
    }
}

fn time_ours(detector: &Detector, states: &[State], scans: usize) -> Ours {
    let bar = ProgressBar::new(scans as u64).with_style(
        ProgressStyle::with_template("{prefix:>24} [{bar:30}] {pos}/{len} {per_sec}")
            .unwrap_or(ProgressStyle::default_bar()),
    );
    bar.set_prefix(format!("entente scan, {} aircraft", states.len()));
    let mut conflicts = detector.scan(states);
    let mut latencies = Vec::with_capacity(scans);
    let cpu_before = process_cpu();
    for _ in 0..scans {
        let started = Instant::now();
        conflicts = detector.scan(states);
        latencies.push(started.elapsed());
        bar.inc(1);
    }
    let cpu_per_scan = process_cpu()
        .zip(cpu_before)
        .map(|(after, before)| after.saturating_sub(before) / scans.max(1) as u32);
    bar.finish_and_clear();
    latencies.sort_unstable();
    Ours { latencies, cpu_per_scan, conflicts }
}

/// Processor time (user and system) this process has used, from /proc.
fn process_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name is in parentheses and may hold spaces: count fields after it (state is field 3).
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // Linux reports these in USER_HZ, which its ABI fixes at 100.
    Some(Duration::from_millis(ticks * 10))
}

/// Reports one second after the snapshot, fed one by one to a [`Monitor`] holding the snapshot.
struct Live {
    latencies: Vec<Duration>,
    wall: Duration,
    conflicts: usize,
    /// Whether the monitor ends with exactly the conflicts a full scan of the new reports finds.
    same_as_scan: bool,
}

fn time_monitor(detector: &Detector, states: &[State]) -> anyhow::Result<Live> {
    let mut monitor = Monitor::new(detector.clone(), 10.0)?;
    for s in states {
        monitor.update(s.clone());
    }
    let next: Vec<State> = states.iter().map(|s| s.dead_reckoned(1.0)).collect();
    let mut latencies = Vec::with_capacity(next.len());
    let started = Instant::now();
    for s in &next {
        let t = Instant::now();
        monitor.update(s.clone());
        latencies.push(t.elapsed());
    }
    let wall = started.elapsed();
    latencies.sort_unstable();
    let key = |c: &Conflict| (c.a.clone(), c.b.clone());
    let mut live: Vec<Conflict> = monitor.conflicts().cloned().collect();
    let mut scanned = detector.scan(&next);
    live.sort_by_key(key);
    scanned.sort_by_key(key);
    Ok(Live { latencies, wall, conflicts: live.len(), same_as_scan: live == scanned })
}

fn percentile_us(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i).map_or(f64::NAN, |d| d.as_secs_f64() * 1e6)
}

/// What both sides say of a conflict pair: closest approach (m) and start of the loss window (s from now).
#[derive(Clone, Copy)]
struct Approach {
    d_cpa_m: f64,
    t_in: f64,
}

struct Theirs {
    seconds: Vec<f64>,
    peak_rss_mib: f64,
    /// Unordered pair of fleet indices to BlueSky's view of it.
    pairs: HashMap<(usize, usize), Approach>,
    version: String,
}

impl Theirs {
    fn median_ms(&self) -> f64 {
        let mut s = self.seconds.clone();
        s.sort_by(f64::total_cmp);
        s.get(s.len() / 2).map_or(f64::NAN, |v| v * 1e3)
    }
}

fn spinner(message: String) -> ProgressBar {
    let bar = ProgressBar::new_spinner().with_message(message);
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// Creates the virtual environment with BlueSky unless it is already there; returns its interpreter.
fn bluesky_python(python: &str, venv: &Path) -> anyhow::Result<PathBuf> {
    let venv_python = venv.join("bin").join("python");
    let has_bluesky = |py: &Path| {
        Command::new(py)
            .args(["-c", "import importlib.metadata as m; m.version('bluesky-simulator')"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if venv_python.exists() && has_bluesky(&venv_python) {
        return Ok(venv_python);
    }
    let bar = spinner(format!("setting up BlueSky in {}", venv.display()));
    if !venv_python.exists() {
        let out =
            Command::new(python).args(["-m", "venv"]).arg(venv).output().context("running python -m venv")?;
        if !out.status.success() {
            bail!("python -m venv failed: {}", String::from_utf8_lossy(&out.stderr));
        }
    }
    let out = Command::new(&venv_python)
        .args(["-m", "pip", "install", "--quiet", BLUESKY_PACKAGE])
        .output()
        .context("running pip install")?;
    bar.finish_and_clear();
    if !out.status.success() {
        bail!("pip install {BLUESKY_PACKAGE} failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(venv_python)
}

/// The 1, 5 and 15 minute load averages: the benchmark shares two cores with whatever else runs.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

/// Memory the kernel could still give, from /proc/meminfo.
fn available_bytes() -> Option<f64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let kb: f64 =
        info.lines().find(|l| l.starts_with("MemAvailable:"))?.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024.0)
}

fn run_bluesky(python: &Path, scratch: &Path, states: &[State], runs: usize) -> anyhow::Result<Theirs> {
    let script = scratch.join("bluesky_cd.py");
    std::fs::write(&script, SCRIPT)?;
    let traffic = scratch.join(format!("traffic-{}.csv", states.len()));
    std::fs::write(&traffic, to_csv(states))?;
    let out_json = scratch.join(format!("bluesky-{}.json", states.len()));
    let bar = spinner(format!("BlueSky StateBased.detect, {} aircraft, {runs} runs", states.len()));
    let out = Command::new(python)
        .arg(&script)
        .arg(&traffic)
        .arg(&out_json)
        .arg(runs.to_string())
        .arg(CONFIG.horizontal_m.to_string())
        .arg(CONFIG.vertical_m.to_string())
        .arg(CONFIG.lookahead_s.to_string())
        // Set on this machine for older OpenBLAS builds; they only slow a current numpy down.
        .env_remove("OPENBLAS_CORETYPE")
        .env_remove("OPENBLAS_L2_SIZE")
        .output()
        .context("running the BlueSky script")?;
    bar.finish_and_clear();
    if !out.status.success() {
        bail!("the BlueSky script failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let json: Value = serde_json::from_slice(&std::fs::read(&out_json)?)?;
    let mut pairs = HashMap::new();
    for p in json["pairs"].as_array().context("no pairs in BlueSky's output")? {
        let index = |k: usize| -> anyhow::Result<usize> {
            Ok(p[k].as_str().context("pair id is not a string")?.parse()?)
        };
        let (a, b) = (index(0)?, index(1)?);
        let number = |k: usize| p[k].as_f64().unwrap_or(f64::NAN);
        pairs.insert((a.min(b), a.max(b)), Approach { d_cpa_m: number(2), t_in: number(4) });
    }
    Ok(Theirs {
        seconds: json["seconds"].as_array().into_iter().flatten().filter_map(Value::as_f64).collect(),
        peak_rss_mib: json["peak_rss_mib"].as_f64().unwrap_or(f64::NAN),
        pairs,
        version: format!("bluesky-simulator {}, numpy {}", json["bluesky"], json["numpy"]).replace('"', ""),
    })
}

/// Pairs flagged by one side only, split into borderline ones (closest approach within 1% of the protected
/// radius, by the side that flagged it) and real disagreements.
#[derive(Default)]
struct Comparison {
    borderline: usize,
    mismatches: Vec<String>,
    /// Largest difference of the closest approach (m) over the pairs both flagged.
    max_dcpa_diff_m: f64,
    /// Largest difference of the loss window's start (s) over the pairs both flagged, where ours is finite
    /// (BlueSky stands in huge finite times for a pair that does not close at all).
    max_tin_diff_s: f64,
}

fn compare(ours: &[Conflict], theirs: &HashMap<(usize, usize), Approach>) -> anyhow::Result<Comparison> {
    let mut mine = HashMap::new();
    for c in ours {
        let (a, b): (usize, usize) = (c.a.parse()?, c.b.parse()?);
        mine.insert((a.min(b), a.max(b)), Approach { d_cpa_m: c.d_cpa_m, t_in: c.t_in - c.at });
    }
    let borderline = |d: f64| (d - CONFIG.horizontal_m).abs() <= BORDERLINE * CONFIG.horizontal_m;
    let mut cmp = Comparison::default();
    for (pair, m) in &mine {
        match theirs.get(pair) {
            Some(t) => {
                cmp.max_dcpa_diff_m = cmp.max_dcpa_diff_m.max((m.d_cpa_m - t.d_cpa_m).abs());
                if m.t_in.is_finite() {
                    cmp.max_tin_diff_s = cmp.max_tin_diff_s.max((m.t_in - t.t_in).abs());
                }
            }
            None if borderline(m.d_cpa_m) => cmp.borderline += 1,
            None => cmp.mismatches.push(format!("{pair:?} only ours, d_cpa {:.3} m", m.d_cpa_m)),
        }
    }
    for (pair, t) in theirs {
        if !mine.contains_key(pair) {
            if borderline(t.d_cpa_m) {
                cmp.borderline += 1;
            } else {
                cmp.mismatches.push(format!("{pair:?} only BlueSky's, d_cpa {:.3} m", t.d_cpa_m));
            }
        }
    }
    Ok(cmp)
}

pub(crate) fn run(args: TacticalArgs) -> anyhow::Result<()> {
    let detector = Detector::new(CONFIG)?.with_threads(args.threads);
    let scratch = tempfile::tempdir()?;
    let python = if args.no_bluesky { None } else { Some(bluesky_python(&args.python, &args.venv)?) };
    println!(
        "entente bench tactical: {} km x {} km, 30-120 m, 5-25 m/s, protected zone {} m / {} m, look-ahead {} s; \
         {} scans per size on {} threads, {}",
        args.area_km,
        args.area_km,
        CONFIG.horizontal_m,
        CONFIG.vertical_m,
        CONFIG.lookahead_s,
        args.scans,
        args.threads,
        if python.is_some() {
            format!("{} BlueSky runs", args.bluesky_runs)
        } else {
            "without BlueSky".into()
        }
    );
    println!("load average at the start: {}", load_average());
    let mut rows = Vec::new();
    let mut live_rows = Vec::new();
    let mut failures = Vec::new();
    let mut version = None;
    for &n in &args.aircraft {
        let states = traffic(n, args.area_km, args.seed)?;
        let ours = time_ours(&detector, &states, args.scans);
        let live = time_monitor(&detector, &states)?;
        live_rows.push(format!(
            "| {n:>8} | {:>9.0} | {:>8.1} | {:>8.1} | {:>9} | {:>12} |",
            n as f64 / live.wall.as_secs_f64(),
            percentile_us(&live.latencies, 0.5),
            percentile_us(&live.latencies, 0.99),
            live.conflicts,
            if live.same_as_scan { "yes" } else { "NO" }
        ));
        if !live.same_as_scan {
            failures.push(format!("{n} aircraft: the monitor's conflicts differ from a full scan"));
        }
        let needed = BLUESKY_BYTES_PER_PAIR * (n as f64).powi(2);
        let fits = available_bytes().is_some_and(|avail| needed < 0.8 * avail);
        let theirs = match &python {
            Some(py) if fits => Some(run_bluesky(py, scratch.path(), &states, args.bluesky_runs)?),
            _ => None,
        };
        let p50 = ours.percentile_ms(0.5);
        let mut row = format!(
            "| {n:>8} | {p50:>13.3} | {:>13.3} | {:>18.3} | {:>7.0} |",
            ours.percentile_ms(0.99),
            ours.cpu_per_scan.map_or(f64::NAN, |d| d.as_secs_f64() * 1e3),
            1e3 / p50
        );
        match theirs {
            Some(theirs) => {
                let cmp = compare(&ours.conflicts, &theirs.pairs)?;
                let bs = theirs.median_ms();
                row += &format!(
                    " {bs:>12.1} | {:>17.0} | {:>6.0}x | {:>9} / {:<8} | {:>10} | {:>10} | {:>14.1e} | {:>13.1e} |",
                    theirs.peak_rss_mib,
                    bs / p50,
                    ours.conflicts.len(),
                    theirs.pairs.len(),
                    cmp.mismatches.len(),
                    cmp.borderline,
                    cmp.max_dcpa_diff_m,
                    cmp.max_tin_diff_s
                );
                failures.extend(cmp.mismatches.into_iter().map(|m| format!("{n} aircraft: {m}")));
                version = Some(theirs.version);
            }
            None => {
                let why = if python.is_none() { "not run" } else { "no memory" };
                row += &format!(
                    " {why:>12} | {:>16.0}* | {:>7} | {:>9} / {:<8} | {:>10} | {:>10} | {:>14} | {:>13} |",
                    needed / (1 << 20) as f64,
                    "",
                    ours.conflicts.len(),
                    "",
                    "",
                    "",
                    "",
                    ""
                );
            }
        }
        rows.push(row);
    }
    println!();
    println!(
        "| aircraft | ours p50 (ms) | ours p99 (ms) | ours CPU (ms/scan) | scans/s | BlueSky (ms) | BlueSky RSS (MiB) | speedup | pairs ours / BlueSky | mismatches | borderline | max Δd_cpa (m) | max Δt_in (s) |"
    );
    println!(
        "|---------:|--------------:|--------------:|-------------------:|--------:|-------------:|------------------:|--------:|---------------------:|-----------:|-----------:|---------------:|--------------:|"
    );
    for row in &rows {
        println!("{row}");
    }
    println!();
    println!(
        "Incremental: every aircraft reports again 1 s later, one report at a time, into a monitor holding the fleet"
    );
    println!("| aircraft | reports/s | p50 (µs) | p99 (µs) | conflicts | = full scan |");
    println!("|---------:|----------:|---------:|---------:|----------:|------------:|");
    for row in &live_rows {
        println!("{row}");
    }
    if let Some(version) = version {
        println!("\nBlueSky: {version}, StateBased.detect (numpy), median of {} runs", args.bluesky_runs);
    }
    println!("load average at the end: {}", load_average());
    println!(
        "BlueSky RSS: peak resident memory of its process; * the estimate ({BLUESKY_BYTES_PER_PAIR} bytes x N²) where it was not run"
    );
    if !failures.is_empty() {
        bail!("{} pairs differ beyond the 1% borderline:\n{}", failures.len(), failures.join("\n"));
    }
    Ok(())
}
