//! A pool of `entente dss` processes sharing a real 3-member etcd cluster on loopback: one truth, read
//! anywhere right after a write, and never two intersecting intents accepted at once.

use entente_dss::Clock;
use std::sync::{Arc, Barrier};
use std::thread;

use anyhow::{Context, ensure};
use entente_store::LocalEtcd;
use entente_wire::scd::{
    ImplicitSubscriptionParameters, OperationalIntentState, PutConstraintReferenceParameters,
    PutSubscriptionParameters,
};
use entente_wire::{Circle, LatLngPoint, Radius, Time, Volume3D, Volume4D};
use reqwest::blocking::Client;
use serde_json::{Value, json};

use super::bodies::{down, time, wire};
use super::{Server, intent_at, intent_params, start_with, token, token_for};

struct Pool {
    instances: Vec<Server>,
    etcd: LocalEtcd,
    prefix: String,
    /// More `entente dss` arguments for every instance.
    extra: Vec<&'static str>,
    _dir: tempfile::TempDir,
}

impl Pool {
    fn start(instances: usize) -> anyhow::Result<Pool> {
        Pool::start_with(instances, &[])
    }

    fn start_with(instances: usize, extra: &[&'static str]) -> anyhow::Result<Pool> {
        let dir = tempfile::tempdir()?;
        let etcd = LocalEtcd::start(dir.path(), 3).context("starting etcd (scripts/test installs it)")?;
        let prefix = format!("/pool-{}", uuid::Uuid::new_v4());
        let mut pool = Pool { instances: Vec::new(), etcd, prefix, extra: extra.to_vec(), _dir: dir };
        for _ in 0..instances {
            let instance = pool.instance()?;
            pool.instances.push(instance);
        }
        Ok(pool)
    }

    fn instance(&self) -> anyhow::Result<Server> {
        let endpoints = self.etcd.endpoints().join(",");
        let mut args: Vec<&std::ffi::OsStr> = vec![
            "--store".as_ref(),
            "etcd".as_ref(),
            "--etcd-endpoints".as_ref(),
            endpoints.as_ref(),
            "--etcd-prefix".as_ref(),
            self.prefix.as_ref(),
        ];
        args.extend(self.extra.iter().map(std::ffi::OsStr::new));
        start_with(&args)
    }

    fn base(&self, n: usize) -> &str {
        &self.instances[n % self.instances.len()].base
    }
}

fn oir_url(base: &str, id: &str) -> String {
    format!("{base}/dss/v1/operational_intent_references/{id}")
}

/// The F3548 `Time` of `t`, to the second.
fn to_second(t: chrono::DateTime<chrono::Utc>) -> Time {
    time(t, chrono::SecondsFormat::Secs)
}

fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Every kind of F3548 write made through one instance is answered identically by every other instance
/// right after the write's response.
#[test]
fn every_write_is_visible_on_every_instance_at_once() -> anyhow::Result<()> {
    let pool = Pool::start(3)?;
    let client = Client::new();
    let token = token()?;
    let get = |n: usize, path: &str| -> anyhow::Result<Value> {
        let resp = client.get(format!("{}{path}", pool.base(n))).bearer_auth(&token).send()?;
        ensure!(resp.status() == 200, "GET {path} on instance {n}: {}", resp.status());
        Ok(resp.json()?)
    };
    for round in 0..12 {
        let writer = round % 3;
        let id = new_id();
        let path = format!("/dss/v1/operational_intent_references/{id}");
        let mut params = intent_params(20.0 + round as f64 * 0.1, 20.0, 0.01);
        params.new_subscription = Some(ImplicitSubscriptionParameters {
            uss_base_url: "http://uss1.example".to_owned(),
            notify_for_constraints: Some(false),
        });
        let body = wire(&params);
        let created: Value = client
            .put(oir_url(pool.base(writer), &id))
            .bearer_auth(&token)
            .json(&body)
            .send()?
            .error_for_status()?
            .json()?;
        let ovn = created["operational_intent_reference"]["ovn"].as_str().unwrap_or_default().to_owned();
        let sub_id = created["operational_intent_reference"]["subscription_id"].clone();
        for reader in 0..3 {
            let seen = get(reader, &path)?;
            ensure!(
                seen["operational_intent_reference"]["ovn"] == json!(ovn),
                "round {round} reader {reader}"
            );
            ensure!(seen["operational_intent_reference"]["version"] == json!(1));
        }
        // Update through the next instance, read through all.
        params.state = OperationalIntentState::Activated;
        params.key = Some(vec![ovn.clone()]);
        params.new_subscription = None;
        params.subscription_id = sub_id.as_str().map(str::to_owned);
        let body = wire(&params);
        let updated: Value = client
            .put(format!("{}/{ovn}", oir_url(pool.base(writer + 1), &id)))
            .bearer_auth(&token)
            .json(&body)
            .send()?
            .error_for_status()?
            .json()?;
        let ovn2 = updated["operational_intent_reference"]["ovn"].clone();
        for reader in 0..3 {
            let seen = get(reader, &path)?;
            ensure!(
                seen["operational_intent_reference"]["ovn"] == ovn2,
                "update, round {round} reader {reader}"
            );
            ensure!(seen["operational_intent_reference"]["version"] == json!(2));
            ensure!(seen["operational_intent_reference"]["state"] == json!("Activated"));
            let sub = get(reader, &format!("/dss/v1/subscriptions/{}", sub_id.as_str().unwrap_or_default()))?;
            ensure!(sub["subscription"]["id"] == sub_id, "the implicit subscription on reader {reader}");
        }
        // Delete through the third instance: gone everywhere.
        client
            .delete(format!("{}/{}", oir_url(pool.base(writer + 2), &id), ovn2.as_str().unwrap_or_default()))
            .bearer_auth(&token)
            .send()?
            .error_for_status()?;
        for reader in 0..3 {
            let resp = client.get(format!("{}{path}", pool.base(reader))).bearer_auth(&token).send()?;
            ensure!(resp.status() == 404, "deleted, round {round} reader {reader}: {}", resp.status());
        }
    }
    // Availability and constraints take the same path.
    let availability = token_for("uss1", "utm.availability_arbitration")?;
    let set: Value = client
        .put(format!("{}/dss/v1/uss_availability/uss9", pool.base(0)))
        .bearer_auth(&availability)
        .json(&down())
        .send()?
        .error_for_status()?
        .json()?;
    for reader in 0..3 {
        let seen: Value = client
            .get(format!("{}/dss/v1/uss_availability/uss9", pool.base(reader)))
            .bearer_auth(&availability)
            .send()?
            .json()?;
        ensure!(seen == set, "availability on reader {reader}: {seen}");
    }
    let constraints = token_for("uss1", "utm.constraint_management")?;
    let cid = new_id();
    let intent = intent_params(25.0, 20.0, 0.01);
    let body =
        wire(PutConstraintReferenceParameters { extents: intent.extents, uss_base_url: intent.uss_base_url });
    let created: Value = client
        .put(format!("{}/dss/v1/constraint_references/{cid}", pool.base(1)))
        .bearer_auth(&constraints)
        .json(&body)
        .send()?
        .error_for_status()?
        .json()?;
    for reader in 0..3 {
        let seen: Value = client
            .get(format!("{}/dss/v1/constraint_references/{cid}", pool.base(reader)))
            .bearer_auth(&constraints)
            .send()?
            .json()?;
        ensure!(seen["constraint_reference"]["ovn"] == created["constraint_reference"]["ovn"]);
    }
    Ok(())
}

/// 40 rounds of 8 mutually intersecting creates sent at once through every instance: exactly one per round
/// is accepted, every other one is told which intent it missed.
#[test]
fn exactly_one_of_concurrent_intersecting_creates_is_accepted() -> anyhow::Result<()> {
    let pool = Arc::new(Pool::start(3)?);
    let client = Client::new();
    for round in 0..40 {
        let start = Arc::new(Barrier::new(8));
        let lat = -30.0 + f64::from(round) * 0.05;
        let workers: Vec<_> = (0..8usize)
            .map(|w| {
                let (pool, client, start) = (pool.clone(), client.clone(), start.clone());
                thread::spawn(move || -> anyhow::Result<u16> {
                    let token = token_for(&format!("uss{w}"), "utm.strategic_coordination")?;
                    // Each a different triangle, all overlapping the same spot.
                    let size = 0.01 + 0.001 * w as f64;
                    let body = intent_at(lat - size / 2.0, 40.0 - size / 2.0, size);
                    start.wait();
                    let resp =
                        client.put(oir_url(pool.base(w), &new_id())).bearer_auth(token).json(&body).send()?;
                    Ok(resp.status().as_u16())
                })
            })
            .collect();
        let mut statuses = Vec::new();
        for w in workers {
            statuses.push(w.join().map_err(|_| anyhow::anyhow!("worker panicked"))??);
        }
        statuses.sort_unstable();
        ensure!(statuses == [201, 409, 409, 409, 409, 409, 409, 409], "round {round}: {statuses:?}");
    }
    Ok(())
}

/// 50 concurrent writes through different instances, each meeting one subscription, raise its notification
/// index by exactly 50 and each write reports a different index.
#[test]
fn concurrent_notifications_each_get_their_own_index() -> anyhow::Result<()> {
    let pool = Arc::new(Pool::start(3)?);
    let client = Client::new();
    let watcher = token_for("watcher", "utm.strategic_coordination")?;
    let sub_id = new_id();
    let now = entente_dss::SystemClock.now();
    let created: Value = client
        .put(format!("{}/dss/v1/subscriptions/{sub_id}", pool.base(0)))
        .bearer_auth(&watcher)
        .json(&wire(PutSubscriptionParameters {
            extents: Volume4D {
                volume: Volume3D {
                    outline_circle: Some(Circle {
                        center: Some(LatLngPoint { lat: 50.0, lng: 10.0 }),
                        radius: Some(Radius { value: 20_000.0, units: "M".to_owned() }),
                    }),
                    outline_polygon: None,
                    altitude_lower: None,
                    altitude_upper: None,
                },
                time_start: Some(to_second(now)),
                time_end: Some(to_second(now + chrono::Duration::hours(2))),
            },
            uss_base_url: "http://watcher.example".to_owned(),
            notify_for_operational_intents: Some(true),
            notify_for_constraints: None,
        }))
        .send()?
        .error_for_status()?
        .json()?;
    let before = created["subscription"]["notification_index"].as_i64().unwrap_or(-1);
    let start = Arc::new(Barrier::new(50));
    let workers: Vec<_> = (0..50usize)
        .map(|w| {
            let (pool, client, start, sub_id) = (pool.clone(), client.clone(), start.clone(), sub_id.clone());
            thread::spawn(move || -> anyhow::Result<i64> {
                let token = token_for(&format!("uss{w}"), "utm.strategic_coordination")?;
                // Disjoint intents spread over the subscription's area.
                let body = intent_at(49.9 + (w / 10) as f64 * 0.04, 9.9 + (w % 10) as f64 * 0.02, 0.005);
                start.wait();
                let resp: Value = client
                    .put(oir_url(pool.base(w), &new_id()))
                    .bearer_auth(token)
                    .json(&body)
                    .send()?
                    .error_for_status()?
                    .json()?;
                let index = resp["subscribers"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .flat_map(|s| s["subscriptions"].as_array().into_iter().flatten())
                    .find(|s| s["subscription_id"] == json!(sub_id))
                    .and_then(|s| s["notification_index"].as_i64());
                index.context("the write did not notify the subscription")
            })
        })
        .collect();
    let mut indices = Vec::new();
    for w in workers {
        indices.push(w.join().map_err(|_| anyhow::anyhow!("worker panicked"))??);
    }
    indices.sort_unstable();
    let expected: Vec<i64> = (before + 1..=before + 50).collect();
    ensure!(indices == expected, "indices {indices:?}");
    for reader in 0..3 {
        let seen: Value = client
            .get(format!("{}/dss/v1/subscriptions/{sub_id}", pool.base(reader)))
            .bearer_auth(&watcher)
            .send()?
            .json()?;
        ensure!(seen["subscription"]["notification_index"] == json!(before + 50), "reader {reader}: {seen}");
    }
    Ok(())
}

/// Under concurrent load, one etcd member and one instance are killed with SIGKILL: every acknowledged write
/// is still there, the pool keeps accepting writes, and both come back and catch up.
#[test]
fn losing_an_etcd_member_and_an_instance_loses_no_acknowledged_write() -> anyhow::Result<()> {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

    let pool = Arc::new(Mutex::new(Pool::start(2)?));
    let bases: Vec<String> = {
        let p = pool.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
        (0..2).map(|n| p.base(n).to_owned()).collect()
    };
    let token = token()?;
    let stop = Arc::new(AtomicBool::new(false));
    let killed = Arc::new(AtomicBool::new(false));
    let next = Arc::new(AtomicU32::new(0));
    let acknowledged: Arc<Mutex<Vec<(String, Value)>>> = Arc::default();
    let after_kill = Arc::new(AtomicU32::new(0));
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let (bases, token, stop, killed, next, acknowledged, after_kill) = (
                bases.clone(),
                token.clone(),
                stop.clone(),
                killed.clone(),
                next.clone(),
                acknowledged.clone(),
                after_kill.clone(),
            );
            thread::spawn(move || {
                let client = Client::builder().timeout(std::time::Duration::from_secs(30)).build()?;
                while !stop.load(Ordering::Relaxed) {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let id = new_id();
                    let body =
                        intent_at(-60.0 + f64::from(i % 2000) * 0.01, -70.0 + f64::from(w) * 0.1, 0.005);
                    let url = oir_url(&bases[i as usize % bases.len()], &id);
                    let Ok(resp) = client.put(url).bearer_auth(&token).json(&body).send() else { continue };
                    if resp.status() == 201 {
                        let body: Value = resp.json()?;
                        let ovn = body["operational_intent_reference"]["ovn"].clone();
                        acknowledged.lock().map_err(|_| anyhow::anyhow!("poisoned"))?.push((id, ovn));
                        if killed.load(Ordering::Relaxed) {
                            after_kill.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
                anyhow::Ok(())
            })
        })
        .collect();
    thread::sleep(std::time::Duration::from_secs(2));
    {
        let mut p = pool.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
        p.etcd.kill(0);
        drop(p.instances.remove(0));
        killed.store(true, Ordering::Relaxed);
    }
    // Long enough for the surviving members to elect a leader if the killed one led (about a second, up to
    // etcd's request timeout for proposals caught in the election).
    thread::sleep(std::time::Duration::from_secs(10));
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.join().map_err(|_| anyhow::anyhow!("writer panicked"))??;
    }
    let after = after_kill.load(Ordering::Relaxed);
    ensure!(after >= 100, "the pool keeps accepting writes without a member and an instance: {after} after");
    let mut p = pool.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
    p.etcd.restart(0)?;
    let rejoined = p.instance()?;
    p.instances.push(rejoined);
    let client = Client::new();
    let acknowledged = acknowledged.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
    for n in 0..p.instances.len() {
        for (id, ovn) in acknowledged.iter() {
            let seen: Value =
                client.get(oir_url(p.base(n), id)).bearer_auth(&token).send()?.error_for_status()?.json()?;
            ensure!(seen["operational_intent_reference"]["ovn"] == *ovn, "intent {id} on instance {n}");
        }
    }
    Ok(())
}

/// Ended intents are evicted from etcd by the pool, more of them than one eviction transaction takes, and
/// an instance started afterwards does not load them.
#[test]
fn the_pool_evicts_ended_intents_from_etcd() -> anyhow::Result<()> {
    let mut pool = Pool::start_with(2, &["--retention-minutes", "0", "--eviction-interval-secs", "1"])?;
    let client = Client::new();
    let token = token()?;
    let now = entente_dss::SystemClock.now();
    let mut ids = Vec::new();
    for i in 0..40u32 {
        let id = new_id();
        let mut params = intent_params(-40.0 + f64::from(i) * 0.02, 100.0, 0.005);
        params.extents[0].time_start = Some(to_second(now));
        params.extents[0].time_end = Some(to_second(now + chrono::Duration::seconds(3)));
        let body = wire(params);
        client
            .put(oir_url(pool.base(i as usize), &id))
            .bearer_auth(&token)
            .json(&body)
            .send()?
            .error_for_status()?;
        ids.push(id);
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let remaining = |pool: &Pool| -> anyhow::Result<usize> {
        let mut n = 0;
        for id in &ids {
            for i in 0..pool.instances.len() {
                if client.get(oir_url(pool.base(i), id)).bearer_auth(&token).send()?.status() != 404 {
                    n += 1;
                }
            }
        }
        Ok(n)
    };
    while remaining(&pool)? > 0 {
        ensure!(std::time::Instant::now() < deadline, "ended intents still readable after 30 s");
        thread::sleep(std::time::Duration::from_millis(500));
    }
    let late = pool.instance()?;
    pool.instances = vec![late];
    ensure!(remaining(&pool)? == 0, "an instance started after eviction loaded evicted intents");
    Ok(())
}

/// The short version of `entente check-pool`: concurrent clients through both instances while an instance is
/// killed and stopped and an etcd member (the leader included) is killed and stopped longer than a request's
/// timeout; every history is linearizable, counting every error answer as a write that did not happen.
#[test]
fn histories_under_faults_are_linearizable() -> anyhow::Result<()> {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_entente"))
        .args(["check-pool", "--operations", "300", "--fault-every-secs", "0.5", "--stop-secs", "6"])
        .args(["--faults", "instance-kill,instance-stop,etcd-kill,etcd-leader-stop"])
        .output()?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    ensure!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    ensure!(stdout.matches("linearizable: 0 violations").count() == 4, "{stdout}");
    ensure!(!stdout.contains(" 0 faults injected"), "every kind of fault was injected: {stdout}");
    Ok(())
}

/// The same check finds the violation in a deliberately broken pool whose instances answer reads from their
/// replica while writes do not wait for the other instance to apply them: a query right after a write
/// acknowledged by the other instance misses it.
#[test]
fn local_reads_without_the_write_side_wait_are_caught_by_the_check() -> anyhow::Result<()> {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_entente"))
        .args(["check-pool", "--operations", "2000", "--faults", "none", "--unsafe-local-reads"])
        .output()?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    ensure!(!out.status.success(), "the broken pool passed: {stdout}");
    ensure!(stdout.contains("NOT linearizable"), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    Ok(())
}
