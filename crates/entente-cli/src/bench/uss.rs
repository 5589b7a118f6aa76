//! `entente bench uss`: one real `entente dss` and two real `entente uss` (A and B, each its own identity and
//! key). B plans the preloaded intents; then the same plans are timed written straight to the DSS (the baseline)
//! and planned end to end through A's operator API, which must fetch B's details, write with the full key and
//! notify B; then plans that conflict with B's intents are timed until their 409 with alternatives; last, with
//! restricted zones declared through B's authority API, 10 km routes through B's intents are timed until their 409,
//! once with alternatives in time and altitude only and once with sideways ones (detours, areas moved aside) too.

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use entente_server::auth::TokenIssuer;
use entente_wire::authority::ConstraintRequest;
use entente_wire::operator::{FlightRequest, FlightStatus, PlanConflictResponse, PlanLimits, RouteRequest};
use entente_wire::scd::{
    AirspaceConflictResponse, ChangeOperationalIntentReferenceResponse, OperationalIntentReference,
    QueryOperationalIntentReferenceResponse, QueryRequest,
};
use entente_wire::{LatLngPoint, Volume4D};
use parking_lot::Mutex;
use rand::{SeedableRng, rngs::StdRng};

use super::{
    Client, Geometry, METRES_PER_DEG_LAT, Stats, Target, free_port, intent_body, intent_volume, measure,
    rss_mib, spawn, spawn_dss, volume, wait_healthy,
};

#[derive(Args)]
pub(crate) struct UssBenchArgs {
    /// Operational intents USS B plans (through its operator API) before measuring.
    #[arg(long, default_value_t = 10_000)]
    intents: usize,
    /// Side of the square area the intents and plans are spread over, in km.
    #[arg(long, default_value_t = 10.0)]
    area_km: f64,
    /// Plans measured through USS A, and the same plans written straight to the DSS as the baseline.
    #[arg(long, default_value_t = 1_000)]
    plans: usize,
    /// Plans, each over one of B's intents at a lower priority, timed until refused with alternatives.
    #[arg(long, default_value_t = 200)]
    conflicts: usize,
    /// Concurrent operators (and baseline clients).
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Restricted zones USS B declares for an authority before the routes are measured.
    #[arg(long, default_value_t = 50)]
    constraints: usize,
    /// Routes, each through one of B's intents at a lower priority, timed until refused with alternatives: once
    /// searching in time and altitude only, once sideways too.
    #[arg(long, default_value_t = 100)]
    routes: usize,
    /// Length of each route, in km.
    #[arg(long, default_value_t = 10.0)]
    route_km: f64,
}

const OPERATOR_SCOPE: &str = "entente.operator";
const AUTHORITY_SCOPE: &str = "entente.authority";
const USS_A: &str = "bench-uss-a";
const USS_B: &str = "bench-uss-b";
/// The baseline's identity at the DSS: a client writing intents without a USS.
const DIRECT: &str = "bench-direct";

/// A key pair on disk: the private half for a USS to sign with, the public half for everyone to trust.
struct Key {
    private: std::path::PathBuf,
    public: std::path::PathBuf,
}

fn key(dir: &Path, name: &str) -> anyhow::Result<(Key, TokenIssuer)> {
    let pem = TokenIssuer::generate_es256_pem()?;
    let issuer = TokenIssuer::from_pem(&pem, None)?;
    let key = Key { private: dir.join(format!("{name}.pem")), public: dir.join(format!("{name}.pub.pem")) };
    std::fs::write(&key.private, &pem)?;
    std::fs::write(&key.public, issuer.public_pem()?)?;
    Ok((key, issuer))
}

fn spawn_uss(dir: &Path, dss: &str, id: &str, key: &Key, trusted: &[&Path]) -> anyhow::Result<Target> {
    let port = free_port()?;
    let mut args: Vec<OsString> = ["uss", "--dss", dss, "--client-id", id, "--audience", "localhost"]
        .into_iter()
        .map(OsString::from)
        .collect();
    args.extend(["--base-url".into(), format!("http://localhost:{port}").into()]);
    args.extend(["--private-key".into(), key.private.clone().into_os_string()]);
    for public in trusted {
        args.extend(["--public-key".into(), public.as_os_str().to_owned()]);
    }
    args.extend(["--audit-log".into(), dir.join(format!("{id}-audit.jsonl")).into_os_string()]);
    args.extend(["--data-dir".into(), dir.join(id).into_os_string()]);
    // Plans of equal priority may overlap, so every plan is accepted and each one does the whole exchange; the
    // refusals are measured apart, with a lower priority.
    args.push("--equal-priority-may-conflict".into());
    spawn(port, &args, None)
}

/// Per-plan exchanges of USS A, from its audit log.
#[derive(Default)]
struct Exchanges {
    dss_queries: usize,
    dss_writes: usize,
    details: usize,
    notifications: usize,
}

fn count_exchanges(audit: &Path, dss: &str, uss_b: &str) -> anyhow::Result<Exchanges> {
    let mut n = Exchanges::default();
    for r in entente_server::uss::read_audit_log(audit)? {
        let Some(e) = r.exchange() else { continue };
        if e.direction.as_str() != "outgoing" {
            continue;
        }
        let to_dss = e.url.starts_with(dss);
        let to_b = e.url.starts_with(uss_b);
        match e.method.as_str() {
            "POST" if to_dss && e.url.ends_with("/query") => n.dss_queries += 1,
            "PUT" if to_dss => n.dss_writes += 1,
            "GET" if to_b => n.details += 1,
            "POST" if to_b => n.notifications += 1,
            _ => {}
        }
    }
    Ok(n)
}

/// One of B's intents, as planned: id, OVN at the DSS, and its volume.
type Loaded = Mutex<Option<(String, String, Volume4D)>>;
/// One of the baseline's intents: id and OVN, to delete it.
type Written = Mutex<Option<(String, String)>>;

pub(crate) async fn run(args: UssBenchArgs) -> anyhow::Result<()> {
    let scratch = tempfile::tempdir()?;
    let dir = scratch.path();
    let (bench_key, bench) = key(dir, "bench")?;
    let (a_key, _) = key(dir, "uss-a")?;
    let (b_key, _) = key(dir, "uss-b")?;
    let trusted = [bench_key.public.as_path(), a_key.public.as_path(), b_key.public.as_path()];
    let dss = spawn_dss(&[OsString::from("--data-dir"), dir.join("dss").into_os_string()], &trusted, None)?;
    let b = spawn_uss(dir, &dss.base, USS_B, &b_key, &trusted)?;
    let a = spawn_uss(dir, &dss.base, USS_A, &a_key, &trusted)?;
    let http = reqwest::Client::builder().pool_max_idle_per_host(args.concurrency * 2).build()?;
    for target in [&dss, &b, &a] {
        wait_healthy(&http, &target.base).await?;
    }
    let token = |sub: &str, scope: &str| bench.issue(sub, &[scope], "localhost", Duration::from_secs(3600));
    let client = |base: &str, token: String| {
        Arc::new(Client {
            http: http.clone(),
            bases: vec![base.to_owned()],
            next: AtomicUsize::new(0),
            token,
        })
    };
    let operator_b = client(&b.base, token("pilot-b", OPERATOR_SCOPE)?);
    let operator_a = client(&a.base, token("pilot-a", OPERATOR_SCOPE)?);
    let direct = client(&dss.base, token(DIRECT, "utm.strategic_coordination")?);
    println!(
        "entente bench uss: USS B holds {} intents over {} km x {} km; {} plans through USS A and straight to the \
         DSS, {} conflicting plans; {} operators",
        args.intents, args.area_km, args.area_km, args.plans, args.conflicts, args.concurrency
    );
    let geo = Arc::new(Geometry { area_km: args.area_km });

    let loaded: Arc<Vec<Loaded>> = Arc::new((0..args.intents).map(|_| Mutex::new(None)).collect());
    let load = {
        let (operator, geo, loaded) = (operator_b.clone(), geo.clone(), loaded.clone());
        measure("load: plan through USS B", args.intents, args.concurrency, move |i| {
            let (operator, geo, loaded) = (operator.clone(), geo.clone(), loaded.clone());
            async move {
                let extents = intent_volume(&geo, &mut StdRng::seed_from_u64(i as u64));
                let body = flight(&extents, 0);
                let (status, resp) =
                    operator.send(reqwest::Method::POST, "/operator/v1/flights", Some(&body)).await?;
                if status != 201 {
                    bail!("USS B answered {status}: {resp}");
                }
                let planned: FlightStatus = serde_json::from_value(resp)?;
                *loaded[i].lock() = Some((planned.id, planned.ovn.unwrap_or_default(), extents));
                Ok(())
            }
        })
        .await
    };
    if load.errors > 0 {
        bail!("{} of USS B's {} plans failed", load.errors, args.intents);
    }
    let ovns: Arc<Mutex<HashMap<String, String>>> = Arc::new(Mutex::new(
        loaded
            .iter()
            .filter_map(|l| l.lock().as_ref().map(|(id, ovn, _)| (id.clone(), ovn.clone())))
            .collect(),
    ));
    let rss_b = rss_mib(b.child.id());

    // The plans, built once so that baseline and USS write the very same volumes.
    let plans: Arc<Vec<Volume4D>> = Arc::new(
        (0..args.plans)
            .map(|i| intent_volume(&geo, &mut StdRng::seed_from_u64(7_000_000 + i as u64)))
            .collect(),
    );
    let found = Arc::new(AtomicUsize::new(0));
    let subscribers = Arc::new(AtomicUsize::new(0));
    let written: Arc<Vec<Written>> = Arc::new((0..args.plans).map(|_| Mutex::new(None)).collect());
    let baseline = {
        let (direct, plans, ovns, found, subscribers, written) = (
            direct.clone(),
            plans.clone(),
            ovns.clone(),
            found.clone(),
            subscribers.clone(),
            written.clone(),
        );
        measure("DSS only: query + write (no USS)", args.plans, args.concurrency, move |i| {
            let (direct, plans, ovns, found, subscribers, written) = (
                direct.clone(),
                plans.clone(),
                ovns.clone(),
                found.clone(),
                subscribers.clone(),
                written.clone(),
            );
            async move {
                let id = uuid::Uuid::new_v4().to_string();
                let (ovn, refs, subs) = write_direct(&direct, &id, &plans[i], &ovns).await?;
                found.fetch_add(refs, Ordering::Relaxed);
                subscribers.fetch_add(subs, Ordering::Relaxed);
                ovns.lock().insert(id.clone(), ovn.clone());
                *written[i].lock() = Some((id, ovn));
                Ok(())
            }
        })
        .await
    };
    // The baseline's intents go before the USS plans the same volumes, so both meet the same airspace.
    let cleanup = {
        let (direct, written) = (direct.clone(), written.clone());
        measure("cleanup: delete the baseline's intents", args.plans, args.concurrency, move |i| {
            let (direct, written) = (direct.clone(), written.clone());
            async move {
                let Some((id, ovn)) = written[i].lock().clone() else { return Ok(()) };
                let path = format!("/dss/v1/operational_intent_references/{id}/{ovn}");
                let (status, resp) = direct.send(reqwest::Method::DELETE, &path, None::<&()>).await?;
                if status != 200 {
                    bail!("delete answered {status}: {resp}");
                }
                Ok(())
            }
        })
        .await
    };
    let through_uss = {
        let (operator, plans) = (operator_a.clone(), plans.clone());
        measure("plan through USS A (end to end)", args.plans, args.concurrency, move |i| {
            let (operator, plans) = (operator.clone(), plans.clone());
            async move {
                let body = flight(&plans[i], 0);
                let (status, resp) =
                    operator.send(reqwest::Method::POST, "/operator/v1/flights", Some(&body)).await?;
                if status != 201 {
                    bail!("USS A answered {status}: {resp}");
                }
                Ok(())
            }
        })
        .await
    };
    let planned_exchanges = count_exchanges(&dir.join(format!("{USS_A}-audit.jsonl")), &dss.base, &b.base)?;
    let alternatives = Arc::new(AtomicUsize::new(0));
    let refused = {
        let (operator, loaded, alternatives) = (operator_a.clone(), loaded.clone(), alternatives.clone());
        measure("refused plan, with alternatives", args.conflicts, args.concurrency, move |i| {
            let (operator, loaded, alternatives) = (operator.clone(), loaded.clone(), alternatives.clone());
            async move {
                // Exactly one of B's intents, at a priority below B's: a conflict by construction.
                let Some((_, _, extents)) = loaded[(i * 7919) % loaded.len()].lock().clone() else {
                    bail!("no intent to conflict with")
                };
                let body = flight(&extents, -1);
                let (status, resp) =
                    operator.send(reqwest::Method::POST, "/operator/v1/flights", Some(&body)).await?;
                if status != 409 {
                    bail!("a conflicting plan was answered {status}: {resp}");
                }
                let refused: PlanConflictResponse = serde_json::from_value(resp)?;
                alternatives.fetch_add(refused.alternatives.len(), Ordering::Relaxed);
                Ok(())
            }
        })
        .await
    };
    let zones = {
        let (authority, geo) = (client(&b.base, token("bench-authority", AUTHORITY_SCOPE)?), geo.clone());
        measure("load: zones through USS B", args.constraints, args.concurrency, move |i| {
            let (authority, geo) = (authority.clone(), geo.clone());
            async move {
                // A 300 m square restricted over every altitude the intents use and the whole day they span.
                let mut rng = StdRng::seed_from_u64(9_000_000 + i as u64);
                let extents =
                    volume(geo.square(&mut rng, 300.0), (0.0, 150.0), Duration::from_secs(300), DAY);
                let body = ConstraintRequest { volumes: vec![extents], kind: Some("restricted".into()) };
                let (status, resp) =
                    authority.send(reqwest::Method::POST, "/authority/v1/constraints", Some(&body)).await?;
                if status != 201 {
                    bail!("USS B refused a zone: {status}: {resp}");
                }
                Ok(())
            }
        })
        .await
    };
    let routes = |name: &'static str, max_lateral_m: Option<f64>, found: Arc<(AtomicUsize, AtomicUsize)>| {
        let (operator, loaded, route_km) = (operator_a.clone(), loaded.clone(), args.route_km);
        measure(name, args.routes, args.concurrency, move |i| {
            let (operator, loaded, found) = (operator.clone(), loaded.clone(), found.clone());
            async move {
                let Some((_, _, extents)) = loaded[(i * 104_729) % loaded.len()].lock().clone() else {
                    bail!("no intent to route through")
                };
                let limits =
                    max_lateral_m.map(|m| PlanLimits { max_lateral_m: Some(m), ..PlanLimits::default() });
                let body = FlightRequest {
                    volumes: Vec::new(),
                    route: Some(route_through(&extents, route_km)?),
                    priority: -1,
                    limits,
                    best_effort: false,
                    authorisation: None,
                };
                let (status, resp) =
                    operator.send(reqwest::Method::POST, "/operator/v1/flights", Some(&body)).await?;
                if status != 409 {
                    bail!("a route through an intent was answered {status}: {resp}");
                }
                let refused: PlanConflictResponse = serde_json::from_value(resp)?;
                found.0.fetch_add(refused.alternatives.len(), Ordering::Relaxed);
                let detours =
                    refused.alternatives.iter().filter(|a| a.request.route.is_some() && a.lateral_m > 0.0);
                found.1.fetch_add(detours.count(), Ordering::Relaxed);
                Ok(())
            }
        })
    };
    let in_place = Arc::new((AtomicUsize::new(0), AtomicUsize::new(0)));
    let routes_in_place = routes("refused route: time, altitude", Some(0.0), in_place.clone()).await;
    let sideways = Arc::new((AtomicUsize::new(0), AtomicUsize::new(0)));
    let routes_sideways = routes("refused route: and sideways", None, sideways.clone()).await;
    let rss_a = rss_mib(a.child.id());

    let per = |n: usize, d: usize| n as f64 / d.max(1) as f64;
    println!();
    println!(
        "| operation                          | requests | per second |  p50 (ms) |  p99 (ms) | errors |"
    );
    println!(
        "|------------------------------------|---------:|-----------:|----------:|----------:|-------:|"
    );
    for s in [&load, &baseline, &through_uss, &refused, &zones, &routes_in_place, &routes_sideways] {
        println!("{}", s.line());
    }
    let ratio = |f: fn(&Stats) -> f64| f(&through_uss) / f(&baseline).max(f64::MIN_POSITIVE);
    println!();
    println!(
        "USS overhead over the DSS alone: p50 x{:.1}, p99 x{:.1}, throughput x{:.2}",
        ratio(|s| s.percentile(0.50).as_secs_f64()),
        ratio(|s| s.percentile(0.99).as_secs_f64()),
        ratio(|s| s.latencies.len() as f64 / s.wall.as_secs_f64())
    );
    println!(
        "per plan, DSS only: {:.2} intents in the DSS's answer to the plan's own volume (its key), {:.2} subscribers \
         to notify",
        per(found.load(Ordering::Relaxed), args.plans),
        per(subscribers.load(Ordering::Relaxed), args.plans)
    );
    let x = &planned_exchanges;
    println!(
        "per plan, USS A (audit log): {:.2} DSS queries (intents and constraints, +-2 h, all altitudes), {:.2} DSS \
         writes, {:.2} detail requests to USS B, {:.2} notifications to USS B",
        per(x.dss_queries, args.plans),
        per(x.dss_writes, args.plans),
        per(x.details, args.plans),
        per(x.notifications, args.plans)
    );
    println!(
        "alternatives per refused plan: {:.2}",
        per(alternatives.load(Ordering::Relaxed), args.conflicts)
    );
    println!(
        "per refused {} km route ({} zones declared): {:.2} alternatives in time and altitude only; {:.2} with \
         sideways ones, {:.2} of them detours",
        args.route_km,
        args.constraints,
        per(in_place.0.load(Ordering::Relaxed), args.routes),
        per(sideways.0.load(Ordering::Relaxed), args.routes),
        per(sideways.1.load(Ordering::Relaxed), args.routes)
    );
    let fmt = |m: Option<f64>| m.map_or("unknown".to_owned(), |m| format!("{m:.0} MiB"));
    println!(
        "resident memory: USS B {} after loading its {} flights, USS A {} at the end, DSS {}",
        fmt(rss_b),
        args.intents,
        fmt(rss_a),
        fmt(rss_mib(dss.child.id()))
    );
    let total = [&baseline, &cleanup, &through_uss, &refused, &zones, &routes_in_place, &routes_sideways]
        .iter()
        .map(|s| s.errors)
        .sum::<usize>();
    if total > 0 {
        bail!("{total} requests failed");
    }
    Ok(())
}

/// The DSS's share of a plan, done without a USS: query the plan's volume, then write with the OVN of every
/// intent found (known to the bench, which saw each one planned), adding any the DSS still names. Returns the
/// OVN, the intents found and the subscribers a USS would have had to notify.
async fn write_direct(
    direct: &Client,
    id: &str,
    extents: &Volume4D,
    ovns: &Mutex<HashMap<String, String>>,
) -> anyhow::Result<(String, usize, usize)> {
    let (status, resp) = direct
        .send(
            reqwest::Method::POST,
            "/dss/v1/operational_intent_references/query",
            Some(&QueryRequest { area_of_interest: Some(extents.clone()) }),
        )
        .await?;
    if status != 200 {
        bail!("query answered {status}: {resp}");
    }
    let ovn_of = |r: &OperationalIntentReference| ovns.lock().get(&r.id).cloned();
    let refs = serde_json::from_value::<QueryOperationalIntentReferenceResponse>(resp)?
        .operational_intent_references;
    let mut key: Vec<String> = refs.iter().filter_map(ovn_of).collect();
    for _ in 0..5 {
        let body = intent_body(extents, key.clone());
        let path = format!("/dss/v1/operational_intent_references/{id}");
        let (status, resp) = direct.send(reqwest::Method::PUT, &path, Some(&body)).await?;
        match status {
            201 => {
                let change: ChangeOperationalIntentReferenceResponse = serde_json::from_value(resp)?;
                let ovn = change.operational_intent_reference.ovn.context("no OVN")?;
                return Ok((ovn, refs.len(), change.subscribers.len()));
            }
            409 => {
                let conflict: AirspaceConflictResponse = serde_json::from_value(resp)?;
                key.extend(conflict.missing_operational_intents.iter().filter_map(ovn_of));
            }
            other => bail!("write answered {other}: {resp}"),
        }
    }
    bail!("the DSS kept naming intents the bench does not know")
}

/// How long after the bench's start the zones stay in force: past every intent (which start within 20 h 10 min and
/// last 30 minutes).
const DAY: Duration = Duration::from_secs(21 * 3600);

/// A route of `km` from west to east through the centre of `extents` (one of B's intents), 25 m either side, at its
/// altitudes and times: it meets that intent by construction, and whatever else lies on its way.
fn route_through(extents: &Volume4D, km: f64) -> anyhow::Result<RouteRequest> {
    let vertices = &extents.volume.outline_polygon.as_ref().context("the intent is not a polygon")?.vertices;
    let n = vertices.len() as f64;
    let (lat, lng) = vertices.iter().fold((0.0, 0.0), |(a, b), p| (a + p.lat / n, b + p.lng / n));
    let half_deg_lng = km * 500.0 / (METRES_PER_DEG_LAT * lat.to_radians().cos());
    let v = &extents.volume;
    Ok(RouteRequest {
        waypoints: vec![
            LatLngPoint { lat, lng: lng - half_deg_lng },
            LatLngPoint { lat, lng: lng + half_deg_lng },
        ],
        buffer_m: 25.0,
        altitude_lower: v.altitude_lower.clone().context("no lower altitude")?,
        altitude_upper: v.altitude_upper.clone().context("no upper altitude")?,
        time_start: extents.time_start.clone().context("no start")?,
        time_end: extents.time_end.clone().context("no end")?,
    })
}

/// An operator's plan of one volume at `priority`.
fn flight(extents: &Volume4D, priority: i32) -> FlightRequest {
    FlightRequest {
        volumes: vec![extents.clone()],
        route: None,
        priority,
        limits: None,
        best_effort: false,
        authorisation: None,
    }
}
