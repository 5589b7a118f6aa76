//! The storage conformance suite: what every `Store` backend must do, written once against the trait and
//! instantiated here for `RedbStore`, for `EtcdStore`, and for `EtcdStore` written through
//! `SharedStore::commit_if` as a pool of DSS instances writes.

use std::sync::Arc;
use std::thread;

use anyhow::{Context, Result, bail, ensure};
use chrono::{DateTime, Duration, TimeZone, Utc};
use entente_dss::{
    Availability, AvailabilityRecord, Change, Constraint, EntityId, OirState, OperationalIntent, Report,
    RidApi, RidSubscription, RidUrl, Snapshot, Store, StoreError, Subscription, Timestamp, Volume,
};
use entente_geo::{Circle, Interval, LatLng, Outline, Polygon};
use entente_store::RedbStore;

/// Opens the backend's one storage location under test. Calling it again after the previous store was dropped
/// reopens the same location, which is how the suite checks durability.
type Open<'a> = &'a dyn Fn() -> Result<Box<dyn Store>>;

/// Submits one group and waits until it is durable.
fn commit(store: &dyn Store, changes: Vec<Change>) -> Result<()> {
    store.submit(changes).blocking_recv().context("the store dropped the ticket")??;
    Ok(())
}

/// Everything the store holds, each list sorted so that backends may load in any order.
fn load_sorted(store: &dyn Store) -> Result<Snapshot> {
    let mut s = store.load()?;
    s.operational_intents.sort_by_key(|o| o.id);
    s.constraints.sort_by_key(|c| c.id);
    s.subscriptions.sort_by_key(|s| s.id);
    s.availability.sort_by(|a, b| a.uss.cmp(&b.uss));
    Ok(s)
}

fn t(secs: i64, nanos: u32) -> Timestamp {
    Utc.timestamp_opt(secs, nanos).single().expect("a valid time")
}

fn polygon(points: &[(f64, f64)]) -> Outline {
    let vertices = points.iter().map(|&(lat, lng)| LatLng::new(lat, lng)).collect();
    Outline::Polygon(Polygon::new(vertices).expect("a valid test polygon"))
}

fn circle(lat: f64, lng: f64, radius_m: f64) -> Outline {
    Outline::Circle(Circle::new(LatLng::new(lat, lng), radius_m).expect("a valid test circle"))
}

fn bounded(outline: Outline) -> Volume {
    Volume {
        outline,
        altitude: Interval { lo: Some(-12.25), hi: Some(1234.5678) },
        time: Interval { lo: Some(t(1_893_456_000, 123_456_789)), hi: Some(t(1_893_459_600, 987_654_321)) },
    }
}

/// Volumes covering both outline kinds, odd coordinates, missing bounds and times before 1970.
fn volumes() -> Vec<Volume> {
    let triangle = polygon(&[(47.123_456_789_012_34, 8.1), (47.2, 8.300_000_000_000_01), (-0.0, 8.25)]);
    let antimeridian = polygon(&[(10.0, 179.9), (10.0, -179.9), (10.1, -179.9), (10.1, 179.9)]);
    vec![
        bounded(triangle),
        Volume {
            outline: antimeridian,
            altitude: Interval { lo: None, hi: None },
            time: Interval { lo: None, hi: None },
        },
        Volume {
            outline: circle(-33.865, 151.209_444, 0.5),
            altitude: Interval { lo: None, hi: Some(100.0) },
            time: Interval { lo: Some(t(-14_182_940, 1)), hi: None },
        },
        bounded(circle(89.999, -180.0, 2_500.25)),
    ]
}

fn intent(n: u32, manager: &str) -> OperationalIntent {
    let states = [OirState::Accepted, OirState::Activated, OirState::Nonconforming, OirState::Contingent];
    OperationalIntent {
        id: EntityId::random(),
        manager: manager.into(),
        version: if n == 0 { i32::MAX } else { i32::try_from(n).expect("small") },
        state: states[n as usize % states.len()],
        ovn: format!("{}_{n:04}", EntityId::random()),
        extents: volumes().into_iter().cycle().skip(n as usize).take(1 + n as usize % 4).collect(),
        uss_base_url: format!("https://uss{n}.example/utm/v1"),
        subscription_id: n.is_multiple_of(2).then(EntityId::random),
        updated_at: t(1_893_456_000 + i64::from(n), n * 7),
    }
}

fn constraint(n: u32, manager: &str) -> Constraint {
    Constraint {
        id: EntityId::random(),
        manager: manager.into(),
        version: i32::try_from(n).expect("small") + 1,
        ovn: format!("constraint-ovn-{n:08}"),
        extents: volumes().into_iter().skip(n as usize % 4).collect(),
        uss_base_url: "https://authority.example".into(),
        updated_at: t(1_893_456_000, 999_999_999),
    }
}

fn subscription(n: u32, manager: &str) -> Subscription {
    Subscription {
        id: EntityId::random(),
        manager: manager.into(),
        version: format!("v{n}"),
        notification_index: [i32::MAX, 0, 1, 2_000_000_000][n as usize % 4],
        extents: volumes().into_iter().take(1 + n as usize % 4).collect(),
        uss_base_url: format!("https://subscriber{n}.example/notify"),
        notify_for_operational_intents: n.is_multiple_of(2),
        notify_for_constraints: n.is_multiple_of(3),
        implicit: n % 2 == 1,
        updated_at: t(0, 0),
    }
}

fn availability(uss: &str, availability: Availability, version: &str) -> AvailabilityRecord {
    AvailabilityRecord { uss: uss.into(), availability, version: version.into() }
}

const UNICODE_MANAGER: &str = "Ünïcødé USS — 管制 🚁 \u{0}\u{10FFFF}";

/// Every kind of entity comes back exactly as it was put, from the same store and after reopening it.
fn roundtrip(open: Open<'_>) -> Result<()> {
    let managers = ["uss1", UNICODE_MANAGER, ""];
    let mut expected = Snapshot::default();
    for n in 0..8 {
        let manager = managers[n as usize % managers.len()];
        expected.operational_intents.push(intent(n, manager));
        expected.constraints.push(constraint(n, manager));
        expected.subscriptions.push(subscription(n, manager));
    }
    expected.availability = vec![
        availability("uss1", Availability::Unknown, ""),
        availability("uss2", Availability::Normal, "0123456789abcdef"),
        availability(UNICODE_MANAGER, Availability::Down, "版本"),
    ];
    let report = Report {
        id: EntityId::random().to_string(),
        reporter: UNICODE_MANAGER.into(),
        received_at: t(1_893_456_000, 5),
        body: "{\"exchange\":{\"url\":\"https://x.example\"}}".into(),
    };

    let mut changes: Vec<Change> = Vec::new();
    changes
        .extend(expected.operational_intents.iter().cloned().map(Arc::new).map(Change::PutOperationalIntent));
    changes.extend(expected.constraints.iter().cloned().map(Arc::new).map(Change::PutConstraint));
    changes.extend(expected.subscriptions.iter().cloned().map(Change::PutSubscription));
    changes.extend(expected.availability.iter().cloned().map(Change::PutAvailability));
    changes.push(Change::PutReport(report));
    expected.operational_intents.sort_by_key(|o| o.id);
    expected.constraints.sort_by_key(|c| c.id);
    expected.subscriptions.sort_by_key(|s| s.id);
    expected.availability.sort_by(|a, b| a.uss.cmp(&b.uss));

    {
        let store = open()?;
        let empty = store.load()?;
        ensure!(
            empty.operational_intents.is_empty()
                && empty.constraints.is_empty()
                && empty.subscriptions.is_empty()
                && empty.availability.is_empty(),
            "a new store is empty, got {empty:?}"
        );
        commit(&*store, changes)?;
        assert_snapshot_eq(&load_sorted(&*store)?, &expected).context("before reopening")?;
    }
    let store = open()?;
    assert_snapshot_eq(&load_sorted(&*store)?, &expected).context("after reopening")?;
    Ok(())
}

fn assert_snapshot_eq(got: &Snapshot, expected: &Snapshot) -> Result<()> {
    ensure!(got.operational_intents == expected.operational_intents, "intents differ:\n{got:#?}");
    ensure!(got.constraints == expected.constraints, "constraints differ:\n{got:#?}");
    ensure!(got.subscriptions == expected.subscriptions, "subscriptions differ:\n{got:#?}");
    ensure!(got.availability == expected.availability, "availability differs:\n{got:#?}");
    Ok(())
}

/// Deletes remove exactly their entity, deleting an absent id is no error, and a later put replaces.
fn delete(open: Open<'_>) -> Result<()> {
    let (o1, o2) = (intent(1, "uss1"), intent(2, "uss1"));
    let (c1, c2) = (constraint(1, "uss1"), constraint(2, "uss1"));
    let (s1, s2) = (subscription(1, "uss1"), subscription(2, "uss1"));
    {
        let store = open()?;
        commit(
            &*store,
            vec![
                Change::PutOperationalIntent(Arc::new(o1.clone())),
                Change::PutOperationalIntent(Arc::new(o2.clone())),
                Change::PutConstraint(Arc::new(c1.clone())),
                Change::PutConstraint(Arc::new(c2.clone())),
                Change::PutSubscription(s1.clone()),
                Change::PutSubscription(s2.clone()),
            ],
        )?;
        commit(
            &*store,
            vec![
                Change::DeleteOperationalIntent(o1.id),
                Change::DeleteConstraint(c2.id),
                Change::DeleteSubscription(s1.id),
                Change::DeleteOperationalIntent(EntityId::random()),
                Change::DeleteConstraint(EntityId::random()),
                Change::DeleteSubscription(EntityId::random()),
            ],
        )?;
        let s2_bumped = Subscription { notification_index: 7, ..s2.clone() };
        commit(&*store, vec![Change::PutSubscription(s2_bumped.clone())])?;
        let got = store.load()?;
        ensure!(got.operational_intents == vec![o2.clone()], "{:?}", got.operational_intents);
        ensure!(got.constraints == vec![c1.clone()], "{:?}", got.constraints);
        ensure!(got.subscriptions == vec![s2_bumped], "{:?}", got.subscriptions);
    }
    let got = open()?.load()?;
    ensure!(got.operational_intents == vec![o2], "after reopening: {:?}", got.operational_intents);
    ensure!(got.constraints == vec![c1], "after reopening: {:?}", got.constraints);
    ensure!(
        got.subscriptions.iter().map(|s| (s.id, s.notification_index)).collect::<Vec<_>>()
            == vec![(s2.id, 7)],
        "after reopening: {:?}",
        got.subscriptions
    );
    Ok(())
}

/// Each notification counts one, as the decision expects (a shared store counts them itself, so the suite
/// notifies in order): the count survives reopening, a full put of the subscription carries the count as it
/// stands, a delete removes both, and a subscription made again under the same id starts from 0.
fn notification_indices(open: Open<'_>) -> Result<()> {
    let (s1, s2) = (subscription(1, "uss1"), subscription(2, "uss1"));
    let index = |snapshot: &Snapshot, id: EntityId| {
        snapshot.subscriptions.iter().find(|s| s.id == id).map(|s| s.notification_index)
    };
    {
        let store = open()?;
        commit(&*store, vec![Change::PutSubscription(s1.clone()), Change::PutSubscription(s2.clone())])?;
        commit(&*store, vec![Change::SetNotificationIndex { id: s1.id, notification_index: 1 }])?;
        commit(&*store, vec![Change::SetNotificationIndex { id: s1.id, notification_index: 2 }])?;
        commit(&*store, vec![Change::SetNotificationIndex { id: s2.id, notification_index: 1 }])?;
    }
    let store = open()?;
    let got = store.load()?;
    ensure!(index(&got, s1.id) == Some(2) && index(&got, s2.id) == Some(1), "{:?}", got.subscriptions);
    let s1_rewritten = Subscription { notification_index: 2, version: "v2".into(), ..s1.clone() };
    commit(&*store, vec![Change::PutSubscription(s1_rewritten.clone()), Change::DeleteSubscription(s2.id)])?;
    drop(store);
    let store = open()?;
    let got = store.load()?;
    ensure!(
        got.subscriptions == vec![s1_rewritten.clone()],
        "after rewrite and delete: {:?}",
        got.subscriptions
    );
    commit(&*store, vec![Change::PutSubscription(Subscription { notification_index: 0, ..s2.clone() })])?;
    commit(&*store, vec![Change::SetNotificationIndex { id: s1.id, notification_index: 3 }])?;
    drop(store);
    let got = open()?.load()?;
    ensure!(
        index(&got, s1.id) == Some(3) && index(&got, s2.id) == Some(0),
        "after another notification and a subscription made again: {:?}",
        got.subscriptions
    );

    // The same counter serves F3411 subscriptions.
    let rid = RidSubscription {
        id: EntityId::random(),
        owner: "dp1".into(),
        version: "0123456789abcdef".into(),
        notification_index: 0,
        extents: bounded(polygon(&[(46.0, 7.0), (46.0, 7.01), (46.01, 7.01)])),
        url: RidUrl { api: RidApi::V22a, url: "https://dp1.example".into() },
        updated_at: t(1_893_456_000, 0),
    };
    {
        let store = open()?;
        commit(&*store, vec![Change::PutRidSubscription(rid.clone())])?;
        commit(&*store, vec![Change::SetNotificationIndex { id: rid.id, notification_index: 1 }])?;
    }
    let store = open()?;
    let got = store.load()?;
    ensure!(
        got.rid_subscriptions == vec![RidSubscription { notification_index: 1, ..rid.clone() }],
        "{:?}",
        got.rid_subscriptions
    );
    commit(&*store, vec![Change::DeleteRidSubscription(rid.id)])?;
    drop(store);
    ensure!(open()?.load()?.rid_subscriptions.is_empty(), "a deleted RID subscription stays deleted");
    Ok(())
}

/// Groups commit in submission order even when submitted back to back without waiting, and the changes
/// inside one group apply in order.
fn order_and_atomicity(open: Open<'_>) -> Result<()> {
    let gone = intent(1, "uss1");
    let present = intent(2, "uss1");
    let last_wins = intent(3, "uss1");
    let last_wins_v2 =
        OperationalIntent { version: 2, ovn: "second-ovn-0123456789".into(), ..last_wins.clone() };
    let inside = subscription(4, "uss1");
    {
        let store = open()?;
        let tickets = vec![
            store.submit(vec![Change::PutOperationalIntent(Arc::new(gone.clone()))]),
            store.submit(vec![Change::DeleteOperationalIntent(gone.id)]),
            store.submit(vec![Change::DeleteOperationalIntent(present.id)]),
            store.submit(vec![Change::PutOperationalIntent(Arc::new(present.clone()))]),
            store.submit(vec![
                Change::PutOperationalIntent(Arc::new(last_wins.clone())),
                Change::PutOperationalIntent(Arc::new(last_wins_v2.clone())),
                Change::PutSubscription(inside.clone()),
                Change::DeleteSubscription(inside.id),
            ]),
            store.submit(vec![
                Change::PutAvailability(availability("uss1", Availability::Down, "1")),
                Change::PutAvailability(availability("uss1", Availability::Normal, "2")),
            ]),
        ];
        for (n, ticket) in tickets.into_iter().enumerate() {
            ticket.blocking_recv().with_context(|| format!("ticket {n} dropped"))??;
        }
    }
    let store = open()?;
    let got = load_sorted(&*store)?;
    let mut expected = vec![present, last_wins_v2];
    expected.sort_by_key(|o| o.id);
    ensure!(got.operational_intents == expected, "{:#?}", got.operational_intents);
    ensure!(got.subscriptions.is_empty(), "{:?}", got.subscriptions);
    ensure!(
        got.availability == vec![availability("uss1", Availability::Normal, "2")],
        "{:?}",
        got.availability
    );
    Ok(())
}

/// Many groups from many threads all resolve Ok and all survive a reopen; each thread's own groups keep
/// their order.
fn concurrent_submits(open: Open<'_>) -> Result<()> {
    const THREADS: u32 = 8;
    const PER_THREAD: u32 = 250;
    let mut expected: Vec<Subscription> = Vec::new();
    {
        let store = open()?;
        let store = &*store;
        let written: Vec<Vec<Subscription>> = thread::scope(|scope| {
            let workers: Vec<_> =
                (0..THREADS)
                    .map(|w| {
                        scope.spawn(move || -> Result<Vec<Subscription>> {
                            let uss = format!("worker-{w}");
                            let mut mine = Vec::new();
                            let mut tickets = Vec::new();
                            for i in 0..PER_THREAD {
                                let mut s = subscription(i, &uss);
                                s.notification_index = i32::try_from(w * PER_THREAD + i)?;
                                s.extents.truncate(1);
                                mine.push(s.clone());
                                let record = availability(&uss, Availability::Normal, &i.to_string());
                                tickets.push(store.submit(vec![
                                    Change::PutSubscription(s),
                                    Change::PutAvailability(record),
                                ]));
                                if i.is_multiple_of(50) {
                                    // Mix waiting with piling up, so commits see both single groups and batches.
                                    if let Some(t) = tickets.pop() {
                                        t.blocking_recv()??;
                                    }
                                }
                            }
                            for t in tickets {
                                t.blocking_recv()??;
                            }
                            Ok(mine)
                        })
                    })
                    .collect();
            workers.into_iter().map(|w| w.join().expect("worker panicked")).collect::<Result<Vec<_>>>()
        })?;
        for mine in written {
            expected.extend(mine);
        }
    }
    expected.sort_by_key(|s| s.id);
    let store = open()?;
    let got = load_sorted(&*store)?;
    ensure!(
        got.subscriptions.len() == expected.len(),
        "{} of {} subscriptions",
        got.subscriptions.len(),
        expected.len()
    );
    ensure!(got.subscriptions == expected, "subscriptions differ after reopening");
    let last = (PER_THREAD - 1).to_string();
    let expected_availability: Vec<AvailabilityRecord> =
        (0..THREADS).map(|w| availability(&format!("worker-{w}"), Availability::Normal, &last)).collect();
    ensure!(got.availability == expected_availability, "{:?}", got.availability);
    Ok(())
}

/// A store that was opened, written, and closed several times keeps accumulating.
fn reopen_many_times(open: Open<'_>) -> Result<()> {
    let mut expected = Vec::new();
    for round in 0..5 {
        let store = open().with_context(|| format!("opening for round {round}"))?;
        let got = load_sorted(&*store)?;
        ensure!(got.operational_intents == expected, "round {round}: {:?}", got.operational_intents);
        let o = intent(round, "uss1");
        commit(&*store, vec![Change::PutOperationalIntent(Arc::new(o.clone()))])?;
        expected.push(o);
        expected.sort_by_key(|o| o.id);
    }
    Ok(())
}

/// A backend under test. Each location is a fresh, empty place to store into (a temporary directory, a key
/// prefix on a cluster) that lives as long as the value.
trait Backend {
    type Location;
    fn fresh() -> Result<Self::Location>;
    fn open(location: &Self::Location) -> Result<Box<dyn Store>>;
}

/// Runs one conformance case on a fresh location of backend `B`.
fn run<B: Backend>(case: fn(Open<'_>) -> Result<()>) -> Result<()> {
    let location = B::fresh()?;
    case(&|| B::open(&location))
}

/// Instantiates every conformance case as a `#[test]` for one backend.
macro_rules! conformance_suite {
    ($backend:ty) => {
        #[test]
        fn roundtrip() -> Result<()> {
            crate::run::<$backend>(crate::roundtrip)
        }

        #[test]
        fn delete() -> Result<()> {
            crate::run::<$backend>(crate::delete)
        }

        #[test]
        fn order_and_atomicity() -> Result<()> {
            crate::run::<$backend>(crate::order_and_atomicity)
        }

        #[test]
        fn concurrent_submits() -> Result<()> {
            crate::run::<$backend>(crate::concurrent_submits)
        }

        #[test]
        fn notification_indices() -> Result<()> {
            crate::run::<$backend>(crate::notification_indices)
        }

        #[test]
        fn reopen_many_times() -> Result<()> {
            crate::run::<$backend>(crate::reopen_many_times)
        }
    };
}

mod redb {
    use super::*;

    struct Redb;

    impl Backend for Redb {
        type Location = tempfile::TempDir;

        fn fresh() -> Result<tempfile::TempDir> {
            Ok(tempfile::tempdir()?)
        }

        fn open(dir: &tempfile::TempDir) -> Result<Box<dyn Store>> {
            Ok(Box::new(RedbStore::open(dir.path())?))
        }
    }

    conformance_suite!(Redb);

    #[test]
    fn the_data_lives_in_the_given_directory() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let nested = dir.path().join("a").join("b");
        let store = RedbStore::open(&nested)?;
        commit(&store, vec![Change::PutAvailability(availability("uss1", Availability::Normal, "1"))])?;
        ensure!(nested.join("entente.redb").is_file(), "entente.redb missing in {}", nested.display());
        Ok(())
    }

    #[test]
    fn a_file_where_the_directory_should_be_is_a_clear_error() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let file = dir.path().join("not-a-dir");
        std::fs::write(&file, b"hello")?;
        match RedbStore::open(&file) {
            Err(StoreError::Io(message)) => {
                let prefix = format!("cannot create {}", file.display());
                ensure!(message.starts_with(&prefix), "message {message:?} does not start with {prefix:?}");
            }
            Err(other) => bail!("expected StoreError::Io, got {other:?}"),
            Ok(_) => bail!("opened a file as a data directory"),
        }
        ensure!(std::fs::read(&file)? == b"hello", "the file was modified");
        Ok(())
    }

    #[test]
    fn a_corrupt_database_file_is_an_error() -> Result<()> {
        let dir = tempfile::tempdir()?;
        std::fs::write(dir.path().join("entente.redb"), vec![0x5a; 4096])?;
        match RedbStore::open(dir.path()) {
            Err(StoreError::Io(message)) => {
                ensure!(message.contains("entente.redb"), "the message names the file: {message:?}");
            }
            Err(other) => bail!("expected StoreError::Io, got {other:?}"),
            Ok(_) => bail!("opened garbage as a database"),
        }
        Ok(())
    }

    /// Not part of the generic suite: timestamps are stored as nanoseconds.
    #[test]
    fn nanosecond_timestamps_survive() -> Result<()> {
        let dir = Redb::fresh()?;
        let open = || Redb::open(&dir);
        let mut s = subscription(1, "uss1");
        s.updated_at = DateTime::from_timestamp_nanos(i64::MIN + 1);
        s.extents[0].time.lo = Some(t(1_893_456_000, 1) + Duration::nanoseconds(1));
        commit(&*open()?, vec![Change::PutSubscription(s.clone())])?;
        ensure!(open()?.load()?.subscriptions == vec![s], "nanoseconds lost");
        Ok(())
    }
}

mod etcd {
    use super::*;
    use entente_store::{EtcdConfig, EtcdStore, LocalEtcd, LocalReads};

    /// A one-member cluster of its own (the pool tests run three), on a runtime the stores' tasks live on.
    struct Location {
        runtime: tokio::runtime::Runtime,
        cluster: LocalEtcd,
        prefix: String,
        _dir: tempfile::TempDir,
    }

    struct Etcd;

    impl Backend for Etcd {
        type Location = Location;

        fn fresh() -> Result<Location> {
            let dir = tempfile::tempdir()?;
            let cluster = LocalEtcd::start(dir.path(), 1)?;
            let runtime =
                tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
            Ok(Location { runtime, cluster, prefix: format!("/test/{}", EntityId::random()), _dir: dir })
        }

        fn open(location: &Location) -> Result<Box<dyn Store>> {
            Ok(Box::new(Etcd::open_etcd(location)?))
        }
    }

    impl Etcd {
        /// A new instance on the location's cluster and prefix, its tasks on the location's runtime.
        fn open_etcd(location: &Location) -> Result<EtcdStore> {
            let _entered = location.runtime.enter();
            Ok(EtcdStore::connect(&Etcd::config(location))?)
        }

        /// An instance's configuration on the location's cluster and prefix, with reads answered locally.
        fn config(location: &Location) -> EtcdConfig {
            EtcdConfig {
                endpoints: location.cluster.endpoints(),
                prefix: location.prefix.clone(),
                abandoned_after: entente_store::ABANDONED_AFTER,
                local_reads: Some(LocalReads::default()),
            }
        }
    }

    conformance_suite!(Etcd);

    /// The same cases through the pool's write path: every group is committed by [`SharedStore::commit_if`]
    /// (batched with other instances' and threads' decisions, compared against the footprint) on a
    /// three-member cluster, as a pooled DSS commits, instead of the single-instance queue behind
    /// `Store::submit`.
    mod commit_if {
        use std::collections::HashMap;
        use std::sync::Mutex;
        use std::thread::ThreadId;

        use entente_dss::{Airspace, Committed, SharedStore};
        use tokio::sync::{mpsc, oneshot};

        use super::*;

        type Job = (Vec<Change>, oneshot::Sender<Result<(), StoreError>>);

        /// A `Store` whose submissions go through `commit_if`. Each submitting thread gets its own writer task,
        /// which commits that thread's groups one after the other, as the `Store` contract orders them, while
        /// different threads' groups are in flight together and may share a batch.
        struct ViaCommitIf {
            store: Arc<EtcdStore>,
            handle: tokio::runtime::Handle,
            writers: Mutex<HashMap<ThreadId, mpsc::UnboundedSender<Job>>>,
        }

        impl ViaCommitIf {
            /// Commits one group as a pooled instance does: decided at the newest revision, with the footprint
            /// of its changes, and decided again on a newer revision when another write made it stale.
            async fn commit(store: &EtcdStore, changes: Vec<Change>) -> Result<(), StoreError> {
                let footprint = Airspace::default().footprint(&changes);
                let mut read_at = store.latest().await?;
                loop {
                    match store.commit_if(changes.clone(), footprint.clone(), read_at).await? {
                        Committed::At(..) => return Ok(()),
                        Committed::Stale(newer) => read_at = newer,
                    }
                }
            }
        }

        impl Store for ViaCommitIf {
            fn load(&self) -> Result<Snapshot, StoreError> {
                self.store.load()
            }

            fn submit(&self, changes: Vec<Change>) -> entente_dss::CommitTicket {
                let (done, ticket) = oneshot::channel();
                let mut writers = self.writers.lock().unwrap_or_else(|p| p.into_inner());
                let writer = writers.entry(thread::current().id()).or_insert_with(|| {
                    let (tx, mut rx) = mpsc::unbounded_channel::<Job>();
                    let store = self.store.clone();
                    self.handle.spawn(async move {
                        while let Some((changes, done)) = rx.recv().await {
                            let _ = done.send(ViaCommitIf::commit(&store, changes).await);
                        }
                    });
                    tx
                });
                if let Err(mpsc::error::SendError((_, done))) = writer.send((changes, done)) {
                    let _ = done.send(Err(StoreError::Io("the writer stopped".into())));
                }
                ticket
            }
        }

        struct EtcdCommitIf;

        impl Backend for EtcdCommitIf {
            type Location = Location;

            fn fresh() -> Result<Location> {
                let dir = tempfile::tempdir()?;
                let cluster = LocalEtcd::start(dir.path(), 3)?;
                let runtime =
                    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
                Ok(Location { runtime, cluster, prefix: format!("/test/{}", EntityId::random()), _dir: dir })
            }

            fn open(location: &Location) -> Result<Box<dyn Store>> {
                let store = Arc::new(Etcd::open_etcd(location)?);
                let handle = location.runtime.handle().clone();
                Ok(Box::new(ViaCommitIf { store, handle, writers: Mutex::default() }))
            }
        }

        conformance_suite!(EtcdCommitIf);
    }

    /// Keys under `prefix` on the cluster, through etcd's JSON gateway.
    async fn count_keys(endpoint: &str, prefix: &str) -> Result<i64> {
        use base64::Engine;
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        let end =
            format!("{}{}", &prefix[..prefix.len() - 1], (prefix.as_bytes()[prefix.len() - 1] + 1) as char);
        let range: serde_json::Value = reqwest::Client::new()
            .post(format!("{endpoint}/v3/kv/range"))
            .json(&serde_json::json!({"key": b64(prefix), "range_end": b64(&end), "count_only": true}))
            .send()
            .await?
            .json()
            .await?;
        Ok(range["count"].as_str().unwrap_or("0").parse()?)
    }

    /// Two instances notifying the same subscriptions at once each get distinct indices, counted by etcd, also
    /// for a write notifying more subscriptions than one transaction may count; a record a stopped instance
    /// left is counted by another.
    #[test]
    fn notifications_are_counted_distinctly_across_instances_and_transactions() -> Result<()> {
        use entente_dss::SharedStore;

        let location = Etcd::fresh()?;
        let config = |abandoned_after| EtcdConfig {
            endpoints: location.cluster.endpoints(),
            prefix: location.prefix.clone(),
            abandoned_after,
            local_reads: Some(LocalReads::default()),
        };
        location.runtime.block_on(async {
            let a = Arc::new(EtcdStore::connect(&config(entente_store::ABANDONED_AFTER))?);
            let b = Arc::new(EtcdStore::connect(&config(std::time::Duration::from_millis(300)))?);
            // Past the 56 counters one transaction takes.
            let subs: Vec<Subscription> =
                (0..150).map(|n| Subscription { notification_index: 0, ..subscription(n, "uss1") }).collect();
            for chunk in subs.chunks(40) {
                a.submit(chunk.iter().cloned().map(Change::PutSubscription).collect()).await??;
            }
            let notify: Vec<Change> = subs
                .iter()
                .map(|s| Change::SetNotificationIndex { id: s.id, notification_index: 1 })
                .collect();
            let writes = (0..6).map(|k| {
                let store = if k % 2 == 0 { a.clone() } else { b.clone() };
                let notify = notify.clone();
                tokio::spawn(async move {
                    let read_at = store.latest().await?;
                    store.commit_if(notify, entente_dss::Footprint::default(), read_at).await
                })
            });
            let mut got: std::collections::HashMap<EntityId, Vec<i32>> = std::collections::HashMap::new();
            for write in writes.collect::<Vec<_>>() {
                match write.await?? {
                    entente_dss::Committed::At(_, assigned) => {
                        ensure!(
                            assigned.len() == subs.len(),
                            "{} indices for {} subscriptions",
                            assigned.len(),
                            subs.len()
                        );
                        for (id, index) in assigned {
                            got.entry(id).or_default().push(index);
                        }
                    }
                    stale => bail!("notifications alone never go stale: {stale:?}"),
                }
            }
            for s in &subs {
                let mut indices = got.remove(&s.id).context("every subscription was counted")?;
                indices.sort();
                ensure!(indices == vec![1, 2, 3, 4, 5, 6], "{}: {indices:?}", s.id);
            }
            let (snapshot, _) = a.snapshot().await?;
            ensure!(snapshot.subscriptions.iter().all(|s| s.notification_index == 6));
            let endpoint = &config(entente_store::ABANDONED_AFTER).endpoints[0];
            ensure!(count_keys(endpoint, &format!("{}/p/", location.prefix)).await? == 0, "records left");

            // A record as an instance leaves it when it stops after committing: another instance counts it.
            use base64::Engine;
            let ids: Vec<u128> = subs.iter().take(3).map(|s| s.id.as_uuid().as_u128()).collect();
            let value = postcard::to_allocvec(&ids)?;
            let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
            reqwest::Client::new()
                .post(format!("{endpoint}/v3/kv/put"))
                .json(&serde_json::json!({
                    "key": b64(format!("{}/p/stopped", location.prefix).as_bytes()),
                    "value": b64(&value),
                }))
                .send()
                .await?
                .error_for_status()?;
            let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
            while count_keys(endpoint, &format!("{}/p/", location.prefix)).await? > 0 {
                ensure!(tokio::time::Instant::now() < deadline, "the abandoned record was never counted");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            let (snapshot, _) = a.snapshot().await?;
            let mut counts: Vec<i32> = snapshot.subscriptions.iter().map(|s| s.notification_index).collect();
            counts.sort();
            ensure!(counts[..147].iter().all(|n| *n == 6) && counts[147..] == [7, 7, 7], "{counts:?}");
            Ok(())
        })
    }

    /// An instance of a pool as `entente dss` runs one: its replica loaded, then fed, and a member of the pool.
    async fn pooled(config: &EtcdConfig) -> Result<(Arc<EtcdStore>, Arc<entente_dss::Dss>)> {
        use entente_dss::{Dss, Limits, SystemClock};

        let store = Arc::new(EtcdStore::connect(config)?);
        let (snapshot, at) = store.snapshot().await?;
        let dss =
            Arc::new(Dss::pooled(store.clone(), snapshot, at, Arc::new(SystemClock), Limits::default()));
        // Detached: it follows for as long as the location's runtime runs.
        drop(store.follow(dss.clone()));
        Ok((store, dss))
    }

    async fn until(what: &str, done: impl Fn() -> bool) -> Result<()> {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
        while !done() {
            ensure!(tokio::time::Instant::now() < deadline, "never: {what}");
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        Ok(())
    }

    /// A TCP proxy in front of `upstream` (`http://host:port`) that delays what it carries by `delay` each way, as
    /// for an instance far from etcd; answers its URL.
    async fn delaying_proxy(upstream: &str, delay: std::time::Duration) -> Result<String> {
        let upstream = upstream.trim_start_matches("http://").to_owned();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = tokio::net::TcpStream::connect(&upstream).await else { continue };
                let (client_read, client_write) = client.into_split();
                let (server_read, server_write) = server.into_split();
                tokio::spawn(delayed(client_read, server_write, delay));
                tokio::spawn(delayed(server_read, client_write, delay));
            }
        });
        Ok(url)
    }

    async fn delayed(
        mut from: tokio::net::tcp::OwnedReadHalf,
        mut to: tokio::net::tcp::OwnedWriteHalf,
        delay: std::time::Duration,
    ) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (chunks, mut delayed) = tokio::sync::mpsc::unbounded_channel::<(tokio::time::Instant, Vec<u8>)>();
        let writer = tokio::spawn(async move {
            while let Some((read, bytes)) = delayed.recv().await {
                tokio::time::sleep_until(read + delay).await;
                if to.write_all(&bytes).await.is_err() {
                    return;
                }
            }
        });
        let mut buffer = vec![0; 64 * 1024];
        while let Ok(n @ 1..) = from.read(&mut buffer).await {
            if chunks.send((tokio::time::Instant::now(), buffer[..n].to_vec())).is_err() {
                break;
            }
        }
        drop(chunks);
        let _ = writer.await;
    }

    /// Keys under `[key, end)` as etcd's JSON gateway answers them: (key, value, create_revision, mod_revision).
    async fn keys_in(endpoint: &str, key: &str, end: &str) -> Result<Vec<(String, String, i64, i64)>> {
        use base64::Engine;
        let engine = base64::engine::general_purpose::STANDARD;
        let range: serde_json::Value = reqwest::Client::new()
            .post(format!("{endpoint}/v3/kv/range"))
            .json(&serde_json::json!({"key": engine.encode(key), "range_end": engine.encode(end)}))
            .send()
            .await?
            .json()
            .await?;
        let text = |v: &serde_json::Value| -> Result<String> {
            Ok(String::from_utf8(engine.decode(v.as_str().unwrap_or_default())?)?)
        };
        let number = |v: &serde_json::Value| v.as_str().and_then(|n| n.parse().ok()).unwrap_or(0);
        let kvs = range["kvs"].as_array().cloned().unwrap_or_default();
        kvs.iter()
            .map(|kv| {
                Ok((
                    text(&kv["key"])?,
                    text(&kv["value"])?,
                    number(&kv["create_revision"]),
                    number(&kv["mod_revision"]),
                ))
            })
            .collect()
    }

    /// Writes through instance A of a two-instance pool with local reads, while B reaches etcd through a proxy that
    /// delays everything by `DISTANT` each way, so that B's put of its member key commits at least two delays after
    /// the write. A's listener for the members' messages is advertised at a port where nothing listens when
    /// `blocked`. Answers, for each write, how long it took to be acknowledged, its revision, and the revision B's
    /// member key said right after.
    fn write_past_a_distant_member(blocked: bool) -> Result<Vec<(std::time::Duration, i64, i64)>> {
        let location = Etcd::fresh()?;
        let endpoint = location.cluster.endpoints()[0].clone();
        let config = |endpoints, peer_advertise| EtcdConfig {
            endpoints,
            prefix: location.prefix.clone(),
            abandoned_after: entente_store::ABANDONED_AFTER,
            local_reads: Some(LocalReads { peer_advertise, ..LocalReads::default() }),
        };
        location.runtime.block_on(async {
            let advertised = blocked.then(|| "127.0.0.1:1".to_owned());
            let (a, writer) = pooled(&config(vec![endpoint.clone()], advertised)).await?;
            until("A answers reads locally", || a.reads_locally()).await?;
            let proxy = delaying_proxy(&endpoint, DISTANT).await?;
            let (b, _) = pooled(&config(vec![proxy], None)).await?;
            until("both answer reads locally", || a.reads_locally() && b.reads_locally()).await?;
            // B connects to A as soon as it joined; a moment for the connection.
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
            let prefix = &location.prefix;
            let (members, members_end) = (format!("{prefix}/m/"), format!("{prefix}/m0"));
            let head = (format!("{prefix}/head"), format!("{prefix}/head\0"));
            let mut written = writer.get_availability("uss1").await?;
            let mut writes = Vec::new();
            for n in 0..5 {
                let state = if n % 2 == 0 { Availability::Down } else { Availability::Normal };
                let started = std::time::Instant::now();
                let write = writer.set_availability("uss1", &written.version, state);
                written = tokio::time::timeout(std::time::Duration::from_secs(20), write)
                    .await
                    .context("not acknowledged within 20 s")??;
                let took = started.elapsed();
                // B joined after A: its key is the newest.
                let mut keys = keys_in(&endpoint, &members, &members_end).await?;
                keys.sort_by_key(|(_, _, created, _)| *created);
                let said =
                    keys.last().context("B's member key")?.1.split(' ').next().unwrap_or("0").parse()?;
                let at = keys_in(&endpoint, &head.0, &head.1).await?.first().context("head")?.3;
                writes.push((took, at, said));
            }
            Ok(writes)
        })
    }

    /// How far, each way, the distant member of [`write_past_a_distant_member`] is from etcd.
    const DISTANT: std::time::Duration = std::time::Duration::from_millis(250);

    /// A member that says directly that its feed received a write lets the writer acknowledge it before the
    /// member's key says so in etcd: no second raft commit on the write's path.
    #[test]
    fn a_pooled_write_is_acknowledged_once_the_members_say_so_directly() -> Result<()> {
        for (took, at, said) in write_past_a_distant_member(false)? {
            println!("acknowledged in {took:?} at {at}; B's key then said {said}");
            ensure!(said < at, "acknowledged at {at} only once B's key said {said}, after {took:?}");
        }
        Ok(())
    }

    /// With the direct channel blocked (a refused connection), writes are still acknowledged, once the member's
    /// key in etcd says it received them: later, since that put commits two delays after the write.
    #[test]
    fn a_pooled_write_is_acknowledged_through_the_member_keys_when_the_direct_channel_is_blocked()
    -> Result<()> {
        for (took, at, said) in write_past_a_distant_member(true)? {
            println!("acknowledged in {took:?} at {at}; B's key then said {said}");
            ensure!(said >= at, "acknowledged at {at} while B's key said {said}");
            ensure!(took >= 2 * DISTANT, "acknowledged in {took:?}, before B's key could say so");
        }
        Ok(())
    }

    /// Reads answered from one instance's replica see every write acknowledged through another before they began:
    /// the writer waited until every member applied it.
    #[test]
    fn a_read_answered_locally_sees_a_write_acknowledged_through_another_instance() -> Result<()> {
        let location = Etcd::fresh()?;
        let config = Etcd::config(&location);
        location.runtime.block_on(async {
            let instances = [pooled(&config).await?, pooled(&config).await?];
            until("both instances answer reads locally", || instances.iter().all(|(s, _)| s.reads_locally()))
                .await?;
            for n in 0..40 {
                let ((_, writer), (reader_store, reader)) = (&instances[n % 2], &instances[(n + 1) % 2]);
                let before = writer.get_availability("uss1").await?;
                let state = if n % 2 == 0 { Availability::Down } else { Availability::Normal };
                let written = writer.set_availability("uss1", &before.version, state).await?;
                ensure!(reader_store.reads_locally(), "round {n}: the reader no longer answers locally");
                let read = reader.get_availability("uss1").await?;
                ensure!(read == written, "round {n}: read {read:?} after {written:?} was acknowledged");
            }
            Ok(())
        })
    }

    /// An instance that starts behind the pool (its replica loaded before writes that were then acknowledged)
    /// answers every read with them: before it joins through a quorum read, after it joined only once its
    /// replica applied its joining revision.
    #[test]
    fn an_instance_joining_behind_the_pool_answers_reads_only_once_it_caught_up() -> Result<()> {
        use entente_dss::{Dss, Limits, SystemClock};

        let location = Etcd::fresh()?;
        let config = Etcd::config(&location);
        location.runtime.block_on(async {
            let (writer_store, writer) = pooled(&config).await?;
            until("the writer answers reads locally", || writer_store.reads_locally()).await?;
            let late = Arc::new(EtcdStore::connect(&config)?);
            let (snapshot, at) = late.snapshot().await?;
            let reader =
                Arc::new(Dss::pooled(late.clone(), snapshot, at, Arc::new(SystemClock), Limits::default()));
            let mut written = writer.get_availability("uss1").await?;
            for n in 0..50 {
                let state = if n % 2 == 0 { Availability::Down } else { Availability::Normal };
                written = writer.set_availability("uss1", &written.version, state).await?;
            }
            drop(late.follow(reader.clone()));
            let mut local = 0;
            while local < 20 {
                let read = reader.get_availability("uss1").await?;
                ensure!(read == written, "read {read:?} after {written:?} was acknowledged");
                local += usize::from(late.reads_locally());
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
            Ok(())
        })
    }

    /// An instance whose watch fell behind a compaction reloads the pool's state instead of staying stale.
    #[test]
    fn a_follower_behind_a_compaction_reloads() -> Result<()> {
        use entente_dss::{Caller, Dss, Limits, SystemClock};

        let location = Etcd::fresh()?;
        let config = Etcd::config(&location);
        location.runtime.block_on(async {
            let behind = Arc::new(EtcdStore::connect(&config)?);
            let (snapshot, at) = behind.snapshot().await?;
            let dss =
                Arc::new(Dss::pooled(behind.clone(), snapshot, at, Arc::new(SystemClock), Limits::default()));
            behind.follow(dss.clone()).abort();

            let writer = EtcdStore::connect(&config)?;
            let o = intent(1, "uss1");
            writer.submit(vec![Change::PutOperationalIntent(Arc::new(o.clone()))]).await??;
            // A second commit, so that compacting at the newest revision removes the first one's.
            writer
                .submit(vec![Change::PutAvailability(availability("uss1", Availability::Down, "2"))])
                .await??;
            let http = reqwest::Client::new();
            let endpoint = &config.endpoints[0];
            let range: serde_json::Value = http
                .post(format!("{endpoint}/v3/kv/range"))
                .json(&serde_json::json!({"key": "AA=="}))
                .send()
                .await?
                .json()
                .await?;
            let revision = range["header"]["revision"].as_str().context("etcd's revision")?.to_owned();
            http.post(format!("{endpoint}/v3/kv/compaction"))
                .json(&serde_json::json!({"revision": revision, "physical": true}))
                .send()
                .await?
                .error_for_status()?;

            let _following = behind.follow(dss.clone());
            let seen = dss.get_intent(&Caller::new("uss1", []), o.id).await?;
            ensure!(seen.intent.ovn == o.ovn, "the reloaded instance serves the intent it missed");
            Ok(())
        })
    }

    /// Writes of one instance refused together at commit decide again one at a time, each on the state the
    /// previous one committed: concurrent writes that all conflict (availability reaches everywhere) cost
    /// about one refusal each, not one for every write that committed before them while they all decided again
    /// on the same state.
    #[test]
    fn writes_refused_together_decide_again_one_at_a_time() -> Result<()> {
        const WRITES: u64 = 20;
        let location = Etcd::fresh()?;
        let config = Etcd::config(&location);
        location.runtime.block_on(async {
            let (store, dss) = pooled(&config).await?;
            until("the instance answers reads locally", || store.reads_locally()).await?;
            let mut before = Vec::new();
            for n in 0..WRITES {
                let uss = format!("uss{n}");
                let version = dss.get_availability(&uss).await?.version;
                before.push((uss, version));
            }
            let writes: Vec<_> = before
                .into_iter()
                .map(|(uss, version)| {
                    let dss = dss.clone();
                    tokio::spawn(
                        async move { dss.set_availability(&uss, &version, Availability::Down).await },
                    )
                })
                .collect();
            for write in writes {
                write.await??;
            }
            let stats = dss.pool_stats().context("a pooled instance")?;
            println!("{stats:?}");
            ensure!(stats.commits == WRITES, "{stats:?}");
            ensure!(stats.stale < 2 * WRITES, "{WRITES} writes were refused {} times", stats.stale);
            Ok(())
        })
    }
}
