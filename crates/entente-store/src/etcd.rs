//! The pool's shared store on etcd: entity keys, optimistic commits guarded by cell markers, and a watch that
//! feeds every commit to every instance in revision order.

mod grpc;
mod layout;
mod local;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use entente_dss::{
    Airspace, Assigned, BoxFuture, Change, CommitTicket, Committed, Dss, EntityId, Footprint, Revision,
    SharedStore, Snapshot, Store, StoreError,
};
use tokio::sync::{Notify, mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::codec;
pub use grpc::Etcd;
use grpc::{Compare, Event, KeyValue, Op, RangeRequest, TxnRequest, TxnResponse};
use layout::{Kind, Layout};
pub use local::LocalEtcd;

/// etcd's default `--max-txn-ops`: compares, and operations of a branch, each at most this many.
const MAX_TXN_OPS: usize = 128;

// One decision's entities, its counters and its cell markers, plus `head` and a record of notifications still to
// count, fit in one transaction by construction.
const _: () = assert!(
    entente_dss::POOLED_EVICTION_BATCH + layout::COUNTER_BUDGET + layout::CELL_BUDGET + 2 < MAX_TXN_OPS
);

/// Keys one snapshot range request returns at most.
const SNAPSHOT_PAGE: i64 = 1000;

/// How to reach the pool's etcd cluster.
#[derive(Clone, Debug)]
pub struct EtcdConfig {
    /// Client URLs of the members, e.g. `http://127.0.0.1:2379`.
    pub endpoints: Vec<String>,
    /// Key prefix of this pool; several pools may share one cluster under different prefixes.
    pub prefix: String,
    /// How long a record of notifications still to count must stand unchanged before this instance counts
    /// them for the instance that wrote it, which then has surely stopped; [`ABANDONED_AFTER`] by default.
    pub abandoned_after: Duration,
}

type Waiters = Mutex<Vec<oneshot::Sender<Result<Revision, StoreError>>>>;

/// One group of the plain [`Store`] interface and where to say it committed.
type Job = (Vec<Change>, oneshot::Sender<Result<(), StoreError>>);

struct Inner {
    etcd: Etcd,
    layout: Layout,
}

pub struct EtcdStore {
    inner: Arc<Inner>,
    handle: tokio::runtime::Handle,
    /// Readers waiting for the pool's newest revision; one quorum read answers all who asked before it began.
    waiters: Arc<Waiters>,
    wake: Arc<Notify>,
    /// Unconditional commits of the plain [`Store`] interface, kept in submission order.
    queue: mpsc::UnboundedSender<Job>,
    /// A pooled instance's decisions, batched into shared transactions.
    batches: mpsc::UnboundedSender<Pending>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for EtcdStore {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(what.to_string())
}

fn encode_ids(ids: &[EntityId]) -> Vec<u8> {
    postcard::to_allocvec(&ids.iter().map(|id| id.as_uuid().as_u128()).collect::<Vec<_>>())
        .unwrap_or_default()
}

fn decode_ids(bytes: &[u8]) -> Result<Vec<EntityId>, StoreError> {
    let ids: Vec<u128> = postcard::from_bytes(bytes).map_err(corrupt)?;
    Ok(ids.into_iter().map(|id| EntityId::from_uuid(uuid::Uuid::from_u128(id))).collect())
}

impl EtcdStore {
    /// Connects (lazily: the first request reaches a member) from inside a tokio runtime.
    pub fn connect(config: &EtcdConfig) -> Result<EtcdStore, StoreError> {
        let inner = Arc::new(Inner {
            etcd: Etcd::new(config.endpoints.clone())?,
            layout: Layout::new(&config.prefix),
        });
        let handle = tokio::runtime::Handle::try_current()
            .map_err(|_| StoreError::Io("the etcd store needs a tokio runtime".into()))?;
        let waiters: Arc<Waiters> = Arc::default();
        let wake = Arc::new(Notify::new());
        let (queue, jobs) = mpsc::unbounded_channel();
        let reader = handle.spawn(read_heads(inner.clone(), waiters.clone(), wake.clone()));
        let committer = handle.spawn(commit_in_order(inner.clone(), jobs));
        let (batches, pending) = mpsc::unbounded_channel();
        let batcher = handle.spawn(batch_commits(inner.clone(), pending));
        let finisher = handle.spawn(finish_abandoned(inner.clone(), config.abandoned_after));
        Ok(EtcdStore {
            inner,
            handle,
            waiters,
            wake,
            queue,
            batches,
            tasks: vec![reader, committer, batcher, finisher],
        })
    }

    /// Everything the pool holds, and the revision it was read at.
    pub async fn snapshot(&self) -> Result<(Snapshot, Revision), StoreError> {
        snapshot(&self.inner).await
    }

    /// Feeds every commit after the instance's applied revision into `dss`, reconnecting to another member
    /// when one fails and reloading the snapshot when etcd compacted the history it still needed.
    pub fn follow(&self, dss: Arc<Dss>) -> JoinHandle<()> {
        let inner = self.inner.clone();
        self.handle.spawn(async move {
            loop {
                match follow_once(&inner, &dss).await {
                    Ok(()) => tracing::debug!("etcd closed the watch; watching again"),
                    Err(FollowEnd::Compacted) => match snapshot(&inner).await {
                        Ok((snapshot, at)) => {
                            tracing::warn!(revision = at, "etcd compacted past this instance; reloaded");
                            dss.reset(snapshot, at);
                        }
                        Err(e) => tracing::warn!(error = %e, "reloading from etcd failed"),
                    },
                    Err(FollowEnd::Failed(e)) => tracing::warn!(error = %e, "watching etcd failed; retrying"),
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    }
}

/// Loads everything at one revision.
async fn snapshot(inner: &Inner) -> Result<(Snapshot, Revision), StoreError> {
    let (etcd, layout) = (&inner.etcd, &inner.layout);
    let (start, end) = layout.replicated();
    let mut snapshot = Snapshot::default();
    let mut counters: HashMap<EntityId, i32> = HashMap::new();
    let mut key = start;
    let mut revision = 0;
    loop {
        let response = etcd
            .range(&RangeRequest { key: key.clone(), range_end: end.clone(), limit: SNAPSHOT_PAGE, revision })
            .await?;
        if revision == 0 {
            revision = response.header.as_ref().map_or(0, |h| h.revision);
        }
        for kv in &response.kvs {
            if let Some(id) = layout.counter_id(&kv.key) {
                counters.insert(id, index_of(kv.version));
            } else if let Some((kind, _)) = layout.parse_entity(&kv.key) {
                load_entity(&mut snapshot, kind, &kv.value)?;
            }
        }
        match response.kvs.last() {
            Some(last) if response.more => {
                key = last.key.clone();
                key.push(0);
            }
            _ => break,
        }
    }
    // A subscription without a counter was never notified since it was created: its own record says 0.
    for s in &mut snapshot.subscriptions {
        if let Some(&n) = counters.get(&s.id) {
            s.notification_index = n;
        }
    }
    for s in &mut snapshot.rid_subscriptions {
        if let Some(&n) = counters.get(&s.id) {
            s.notification_index = n;
        }
    }
    Ok((snapshot, revision))
}

/// A counter's version as a notification index (F3548 and F3411 carry it as a 32-bit integer).
fn index_of(version: i64) -> i32 {
    i32::try_from(version).unwrap_or(i32::MAX)
}

fn load_entity(snapshot: &mut Snapshot, kind: Kind, value: &[u8]) -> Result<(), StoreError> {
    match kind {
        Kind::Intent => snapshot.operational_intents.push(codec::decode_intent(value)?),
        Kind::Constraint => snapshot.constraints.push(codec::decode_constraint(value)?),
        Kind::Subscription => snapshot.subscriptions.push(codec::decode_subscription(value)?),
        Kind::Availability => snapshot.availability.push(codec::decode_availability(value)?),
        Kind::Isa => snapshot.isas.push(codec::decode_isa(value)?),
        Kind::RidSubscription => snapshot.rid_subscriptions.push(codec::decode_rid_subscription(value)?),
        // Reports are archived for operators, not replicated.
        Kind::Report => {}
    }
    Ok(())
}

enum FollowEnd {
    Compacted,
    Failed(StoreError),
}

impl From<StoreError> for FollowEnd {
    fn from(e: StoreError) -> FollowEnd {
        FollowEnd::Failed(e)
    }
}

async fn follow_once(inner: &Inner, dss: &Dss) -> Result<(), FollowEnd> {
    let (etcd, layout) = (&inner.etcd, &inner.layout);
    let (start, end) = layout.replicated();
    let from = dss.applied().unwrap_or_default() + 1;
    let mut watch = etcd.watch(&start, &end, from).await?;
    while let Some(result) = watch.next().await? {
        if result.compact_revision > 0 {
            return Err(FollowEnd::Compacted);
        }
        if result.canceled {
            tracing::debug!(reason = %result.cancel_reason, "etcd canceled the watch");
            return Ok(());
        }
        // etcd never splits one revision's events across messages, so each group here is one whole commit.
        for group in result.events.chunk_by(|a, b| a.kv.mod_revision == b.kv.mod_revision) {
            dss.replicate(group[0].kv.mod_revision, &changes_of(layout, group)?);
        }
    }
    Ok(())
}

/// What one commit's events stand for (markers and `head` stand for none). Events come in the order of the
/// transaction's operations, where counters follow the entities, so a subscription put and notified in one
/// commit ends with the count.
fn changes_of(layout: &Layout, events: &[Event]) -> Result<Vec<Change>, StoreError> {
    let mut changes = Vec::new();
    for event in events {
        let KeyValue { key, value, version, .. } = &event.kv;
        if let Some(id) = layout.counter_id(key) {
            // A counter goes with its subscription, whose own delete event says so.
            if !event.is_delete() {
                changes.push(Change::SetNotificationIndex { id, notification_index: index_of(*version) });
            }
            continue;
        }
        let Some((kind, name)) = layout.parse_entity(key) else { continue };
        if !event.is_delete() {
            changes.push(match kind {
                Kind::Intent => Change::PutOperationalIntent(Arc::new(codec::decode_intent(value)?)),
                Kind::Constraint => Change::PutConstraint(Arc::new(codec::decode_constraint(value)?)),
                Kind::Subscription => Change::PutSubscription(codec::decode_subscription(value)?),
                Kind::Availability => Change::PutAvailability(codec::decode_availability(value)?),
                Kind::Isa => Change::PutIsa(codec::decode_isa(value)?),
                Kind::RidSubscription => Change::PutRidSubscription(codec::decode_rid_subscription(value)?),
                Kind::Report => continue,
            });
            continue;
        }
        let id = EntityId::parse(name).ok_or_else(|| corrupt(format!("bad entity key {name}")))?;
        changes.push(match kind {
            Kind::Intent => Change::DeleteOperationalIntent(id),
            Kind::Constraint => Change::DeleteConstraint(id),
            Kind::Subscription => Change::DeleteSubscription(id),
            Kind::Isa => Change::DeleteIsa(id),
            Kind::RidSubscription => Change::DeleteRidSubscription(id),
            Kind::Availability | Kind::Report => continue,
        });
    }
    Ok(changes)
}

/// Quorum reads of `head` in flight at once: a reader joins the next read to start after it asked, so reads
/// overlap instead of queueing behind one round trip.
const HEAD_READS_IN_FLIGHT: usize = 4;

/// Answers every reader who asked for the newest revision before one quorum read of `head` began.
async fn read_heads(inner: Arc<Inner>, waiters: Arc<Waiters>, wake: Arc<Notify>) {
    let head = Arc::new(inner.layout.head());
    let slots = Arc::new(tokio::sync::Semaphore::new(HEAD_READS_IN_FLIGHT));
    loop {
        let Ok(slot) = slots.clone().acquire_owned().await else { return };
        let batch = std::mem::take(&mut *waiters.lock().unwrap_or_else(|p| p.into_inner()));
        if batch.is_empty() {
            drop(slot);
            wake.notified().await;
            continue;
        }
        let (inner, head) = (inner.clone(), head.clone());
        tokio::spawn(async move {
            let request = RangeRequest { key: head.to_vec(), ..RangeRequest::default() };
            let latest = inner
                .etcd
                .range_at_leader(&request)
                .await
                .map(|r| r.kvs.first().map_or(0, |kv| kv.mod_revision));
            for waiter in batch {
                let _ = waiter.send(latest.clone());
            }
            drop(slot);
        });
    }
}

async fn commit_in_order(inner: Arc<Inner>, mut jobs: mpsc::UnboundedReceiver<Job>) {
    while let Some((changes, done)) = jobs.recv().await {
        // Without an airspace the footprint is the new extents: nobody decided on older state.
        let footprint = Airspace::default().footprint(&changes);
        let outcome = async {
            let (prepared, later) = prepare(&inner, changes, &footprint, None)?;
            let committed = send_alone(&inner, prepared).await?;
            finish(&inner, committed, later).await.map(|_| ())
        };
        let _ = done.send(outcome.await);
    }
}

/// One decision's transaction, before it is sent alone or nested in a batch.
struct Prepared {
    /// Its compares, the writes that are its own (entities, counters, its cells' `x` markers), and on failure
    /// a read of `head`.
    txn: TxnRequest,
    /// Ancestors' `ix` markers, which a batch writes once for all its members.
    shared: Vec<Vec<u8>>,
    own_writes: HashSet<Vec<u8>>,
    compared: HashSet<Vec<u8>>,
    bytes: usize,
    /// Where in `txn.success` each notified subscription's counter is put.
    counted: Vec<(usize, EntityId)>,
}

impl Prepared {
    /// Whether the two may share one etcd transaction: nested compares are all evaluated before any nested
    /// write, so two decisions that could invalidate each other must not be batched; nor may two that put one
    /// key, which etcd refuses within one transaction.
    fn independent_of(&self, other: &Prepared) -> bool {
        let writes_into =
            |a: &Prepared, b: &Prepared| a.own_writes.iter().chain(&a.shared).any(|k| b.compared.contains(k));
        !writes_into(self, other)
            && !writes_into(other, self)
            && self.own_writes.is_disjoint(&other.own_writes)
    }

    /// The indices a committed transaction's answer gave the counters.
    fn assigned(&self, response: &TxnResponse) -> Assigned {
        self.counted
            .iter()
            .filter_map(|&(at, id)| {
                response.responses.get(at).and_then(|r| r.counted()).map(|v| (id, index_of(v)))
            })
            .collect()
    }
}

/// Notifications a write could not count in its own transaction: the record listing them, committed with it.
struct Later {
    key: Vec<u8>,
    ids: Vec<EntityId>,
}

/// One decision's transaction: the changes, their subscriptions' counters and the cell markers of their
/// footprint; with `read_at`, guarded by compares that fail if an entity it writes or anything its footprint
/// covers changed after it. Counters are not compared: each put adds one, whoever commits first.
fn prepare(
    inner: &Inner,
    changes: Vec<Change>,
    footprint: &Footprint,
    read_at: Option<Revision>,
) -> Result<(Prepared, Option<Later>), StoreError> {
    let layout = &inner.layout;
    let mut own_writes = HashSet::new();
    let mut bytes = 0;
    let before = read_at.map(|r| r + 1);
    let mut txn = TxnRequest::default();
    // Per subscription, whether this write counts a notification (true) or deletes the counter (false).
    let mut counters: BTreeMap<EntityId, bool> = BTreeMap::new();
    // etcd refuses a transaction that writes one key twice; the last change to a key is its final state.
    let mut writes: Vec<(Vec<u8>, Option<Vec<u8>>)> = Vec::new();
    for change in &changes {
        let (key, value) = match change {
            Change::PutOperationalIntent(o) => (layout.id(Kind::Intent, o.id), Some(codec::encode_intent(o))),
            Change::DeleteOperationalIntent(id) => (layout.id(Kind::Intent, *id), None),
            Change::PutConstraint(c) => {
                (layout.id(Kind::Constraint, c.id), Some(codec::encode_constraint(c)))
            }
            Change::DeleteConstraint(id) => (layout.id(Kind::Constraint, *id), None),
            Change::PutSubscription(s) => {
                fresh_counter(&mut counters, s.id, s.notification_index);
                (layout.id(Kind::Subscription, s.id), Some(codec::encode_subscription(s)))
            }
            Change::DeleteSubscription(id) => {
                counters.insert(*id, false);
                (layout.id(Kind::Subscription, *id), None)
            }
            Change::DeleteRidSubscription(id) => {
                counters.insert(*id, false);
                (layout.id(Kind::RidSubscription, *id), None)
            }
            Change::SetNotificationIndex { id, .. } => {
                counters.insert(*id, true);
                continue;
            }
            Change::PutAvailability(a) => {
                (layout.entity(Kind::Availability, &a.uss), Some(codec::encode_availability(a)))
            }
            Change::PutReport(r) => (layout.entity(Kind::Report, &r.id), Some(codec::encode_report(r))),
            Change::PutIsa(i) => (layout.id(Kind::Isa, i.id), Some(codec::encode_isa(i))),
            Change::DeleteIsa(id) => (layout.id(Kind::Isa, *id), None),
            Change::PutRidSubscription(s) => {
                fresh_counter(&mut counters, s.id, s.notification_index);
                (layout.id(Kind::RidSubscription, s.id), Some(codec::encode_rid_subscription(s)))
            }
        };
        writes.retain(|(k, _)| *k != key);
        writes.push((key, value));
    }
    for (key, value) in writes {
        if let Some(before) = before {
            txn.compare.push(Compare::modified_before(&key, before));
        }
        bytes += key.len() + value.as_ref().map_or(0, Vec::len);
        txn.success.push(match value {
            Some(value) => Op::put(&key, &value),
            None => Op::delete(&key),
        });
        own_writes.insert(key);
    }
    let (mut counted_ids, deleted): (Vec<_>, Vec<_>) = counters.into_iter().partition(|(_, count)| *count);
    for (id, _) in &deleted {
        let key = layout.counter(*id);
        txn.success.push(Op::delete(&key));
        own_writes.insert(key);
    }
    let rest =
        counted_ids.split_off(counted_ids.len().min(layout::COUNTER_BUDGET.saturating_sub(deleted.len())));
    let mut counted = Vec::new();
    for (id, _) in counted_ids {
        let key = layout.counter(id);
        counted.push((txn.success.len(), id));
        txn.success.push(Op::count(&key));
        bytes += key.len();
        own_writes.insert(key);
    }
    let later = (!rest.is_empty()).then(|| {
        let ids: Vec<EntityId> = rest.into_iter().map(|(id, _)| id).collect();
        let key = layout.later(&EntityId::random().to_string());
        let value = encode_ids(&ids);
        bytes += key.len() + value.len();
        txn.success.push(Op::put(&key, &value));
        own_writes.insert(key.clone());
        Later { key, ids }
    });
    let markers = layout.markers(footprint);
    let mut compared: HashSet<Vec<u8>> = own_writes.clone();
    if let Some(before) = before {
        txn.compare.extend(markers.compare.iter().map(|k| Compare::modified_before(k, before)));
        compared.extend(markers.compare.iter().cloned());
    }
    txn.success.extend(markers.bump.iter().map(|k| Op::put(k, &[])));
    own_writes.extend(markers.bump.iter().cloned());
    txn.failure.push(Op::get(&layout.head()));
    // Alone, the transaction also carries the shared markers and `head`.
    let alone = txn.success.len() + markers.shared.len() + 1;
    if txn.compare.len() > MAX_TXN_OPS || alone > MAX_TXN_OPS {
        return Err(StoreError::Io(format!(
            "a commit of {} changes needs {} compares and {alone} operations, over etcd's limit of {MAX_TXN_OPS}",
            changes.len(),
            txn.compare.len(),
        )));
    }
    Ok((Prepared { txn, shared: markers.shared, own_writes, compared, bytes, counted }, later))
}

/// A subscription put with index 0 was never notified, so it has no counter; deleting the key makes sure,
/// should a late follow-up have counted a deleted subscription of the same id. A notification later in the
/// same write overrides this.
fn fresh_counter(counters: &mut BTreeMap<EntityId, bool>, id: EntityId, notification_index: i32) {
    if notification_index == 0 {
        counters.entry(id).or_insert(false);
    }
}

/// Counts, after a write committed, the notifications its own transaction had no room for, a budget at a time,
/// and deletes their record. Each step requires the record as the previous step left it, so that a write is
/// counted once even when [`finish_abandoned`] takes over an instance that stopped half way.
async fn count_later(inner: &Inner, later: Later, committed_at: Revision) -> Result<Assigned, StoreError> {
    let Later { key, ids } = later;
    let mut assigned = Assigned::new();
    let mut at = committed_at;
    for (step, chunk) in ids.chunks(layout::COUNTER_BUDGET).enumerate() {
        let rest = &ids[((step + 1) * layout::COUNTER_BUDGET).min(ids.len())..];
        let mut txn = TxnRequest { compare: vec![Compare::modified_at(&key, at)], ..TxnRequest::default() };
        txn.success.extend(chunk.iter().map(|id| Op::count(&inner.layout.counter(*id))));
        txn.success.push(if rest.is_empty() { Op::delete(&key) } else { Op::put(&key, &encode_ids(rest)) });
        txn.success.push(Op::put(&inner.layout.head(), &[]));
        let response = inner.etcd.txn(&txn).await?;
        if !response.succeeded {
            return Err(StoreError::Io(
                "another instance finished counting this write's notifications; it is committed".into(),
            ));
        }
        at = response.revision();
        assigned.extend(
            chunk
                .iter()
                .zip(&response.responses)
                .filter_map(|(id, r)| r.counted().map(|v| (*id, index_of(v)))),
        );
    }
    Ok(assigned)
}

/// Completes a commit: counts what it had to count later, and answers with every index it got.
async fn finish(inner: &Inner, committed: Committed, later: Option<Later>) -> Result<Committed, StoreError> {
    match (committed, later) {
        (Committed::At(revision, mut assigned), Some(later)) => {
            assigned.extend(count_later(inner, later, revision).await?);
            Ok(Committed::At(revision, assigned))
        }
        (committed, _) => Ok(committed),
    }
}

/// Far longer than an instance needs to count a write's notifications, unless it stopped.
pub const ABANDONED_AFTER: Duration = Duration::from_secs(30);

/// Counts the notifications of writes whose instance stopped before it could: records unchanged across two
/// looks `after` apart.
async fn finish_abandoned(inner: Arc<Inner>, after: Duration) {
    let mut seen: HashMap<Vec<u8>, Revision> = HashMap::new();
    loop {
        tokio::time::sleep(after).await;
        let (start, end) = inner.layout.laters();
        let Ok(response) =
            inner.etcd.range(&RangeRequest { key: start, range_end: end, ..RangeRequest::default() }).await
        else {
            continue;
        };
        let now: HashMap<Vec<u8>, Revision> =
            response.kvs.iter().map(|kv| (kv.key.clone(), kv.mod_revision)).collect();
        for kv in &response.kvs {
            if seen.get(&kv.key) != Some(&kv.mod_revision) {
                continue;
            }
            let outcome = match decode_ids(&kv.value) {
                Ok(ids) => {
                    count_later(&inner, Later { key: kv.key.clone(), ids }, kv.mod_revision).await.map(|_| ())
                }
                Err(e) => Err(e),
            };
            match outcome {
                Ok(()) => {
                    tracing::info!(key = %String::from_utf8_lossy(&kv.key), "counted an abandoned write's notifications")
                }
                Err(e) => tracing::warn!(error = %e, "counting an abandoned write's notifications failed"),
            }
        }
        seen = now;
    }
}

/// The revision to wait for after a refused (nested) transaction: `head` as its failure branch read it.
fn stale_head(response: &TxnResponse, fallback: Revision) -> Revision {
    response
        .responses
        .first()
        .and_then(|r| r.range())
        .and_then(|r| r.kvs.first())
        .map_or(fallback, |kv| kv.mod_revision)
}

/// Sends one decision alone: its compares guard the whole transaction.
async fn send_alone(inner: &Inner, mut prepared: Prepared) -> Result<Committed, StoreError> {
    let shared = std::mem::take(&mut prepared.shared);
    let mut txn = std::mem::take(&mut prepared.txn);
    txn.success.extend(shared.iter().map(|k| Op::put(k, &[])));
    txn.success.push(Op::put(&inner.layout.head(), &[]));
    let response = inner.etcd.txn(&txn).await?;
    if response.succeeded {
        return Ok(Committed::At(response.revision(), prepared.assigned(&response)));
    }
    Ok(Committed::Stale(stale_head(&response, response.revision())))
}

/// Sends independent decisions as nested transactions of one etcd transaction (one raft entry, one fsync),
/// each guarded by its own compares; the shared markers and `head` are written once.
async fn send_batch(inner: &Inner, batch: Vec<Prepared>) -> Result<Vec<Committed>, StoreError> {
    if batch.len() == 1 {
        let prepared = batch.into_iter().next().map(|p| send_alone(inner, p));
        return Ok(vec![prepared.ok_or_else(|| StoreError::Io("empty batch".into()))?.await?]);
    }
    let shared: BTreeSet<Vec<u8>> = batch.iter().flat_map(|p| p.shared.iter().cloned()).collect();
    let mut outer = TxnRequest::default();
    let mut batch = batch;
    outer.success.extend(batch.iter_mut().map(|p| Op::txn(std::mem::take(&mut p.txn))));
    outer.success.extend(shared.iter().map(|k| Op::put(k, &[])));
    outer.success.push(Op::put(&inner.layout.head(), &[]));
    let response = inner.etcd.txn(&outer).await?;
    let revision = response.revision();
    Ok(response
        .responses
        .iter()
        .zip(&batch)
        .map(|(r, p)| match r.txn() {
            Some(nested) if nested.succeeded => Committed::At(revision, p.assigned(nested)),
            Some(nested) => Committed::Stale(stale_head(nested, revision)),
            None => Committed::Stale(revision),
        })
        .collect())
}

/// Decisions waiting to be sent, each with what it counts after committing and where to say how it ended.
type Pending = (Prepared, Option<Later>, oneshot::Sender<Result<Committed, StoreError>>);

/// Commits sent at once; more commits waiting meanwhile make bigger batches.
const BATCHES_IN_FLIGHT: usize = 4;

/// Largest batch body: etcd refuses requests over 1.5 MiB by default.
const BATCH_BYTES: usize = 512 * 1024;

/// Groups waiting decisions into batches of independent ones that fit etcd's limits, and sends them.
async fn batch_commits(inner: Arc<Inner>, mut queue: mpsc::UnboundedReceiver<Pending>) {
    let slots = Arc::new(tokio::sync::Semaphore::new(BATCHES_IN_FLIGHT));
    let mut waiting: Vec<Pending> = Vec::new();
    loop {
        if waiting.is_empty() {
            match queue.recv().await {
                Some(p) => waiting.push(p),
                None => return,
            }
        }
        let Ok(slot) = slots.clone().acquire_owned().await else { return };
        while let Ok(p) = queue.try_recv() {
            waiting.push(p);
        }
        let batch = take_batch(&mut waiting);
        let inner = inner.clone();
        tokio::spawn(async move {
            let mut prepared = Vec::new();
            let mut answers = Vec::new();
            for (p, later, answer) in batch {
                prepared.push(p);
                answers.push((later, answer));
            }
            let outcomes = send_batch(&inner, prepared).await;
            drop(slot);
            match outcomes {
                Ok(outcomes) => {
                    for ((later, answer), outcome) in answers.into_iter().zip(outcomes) {
                        let Some(later) = later else {
                            let _ = answer.send(Ok(outcome));
                            continue;
                        };
                        let inner = inner.clone();
                        tokio::spawn(async move {
                            let _ = answer.send(finish(&inner, outcome, Some(later)).await);
                        });
                    }
                }
                Err(e) => {
                    for (_, answer) in answers {
                        let _ = answer.send(Err(e.clone()));
                    }
                }
            }
        });
    }
}

/// The oldest waiting decision and every later one independent of those taken, within etcd's limits; the
/// rest keep waiting in order.
fn take_batch(waiting: &mut Vec<Pending>) -> Vec<Pending> {
    let mut taken: Vec<Pending> = Vec::new();
    let mut shared: BTreeSet<Vec<u8>> = BTreeSet::new();
    let mut bytes = 0;
    let mut widest = 0;
    let mut rest = Vec::new();
    for p in waiting.drain(..) {
        let fits = || {
            if taken.is_empty() {
                return true;
            }
            let more: BTreeSet<&Vec<u8>> = p.0.shared.iter().filter(|k| !shared.contains(*k)).collect();
            // etcd gives each nested transaction what the outer one leaves of the limit.
            let outer = taken.len() + 1 + shared.len() + more.len() + 1;
            outer + widest.max(p.0.txn.width()) <= MAX_TXN_OPS
                && bytes + p.0.bytes <= BATCH_BYTES
                && taken.iter().all(|q| q.0.independent_of(&p.0))
        };
        if fits() {
            shared.extend(p.0.shared.iter().cloned());
            bytes += p.0.bytes;
            widest = widest.max(p.0.txn.width());
            taken.push(p);
        } else {
            rest.push(p);
        }
    }
    *waiting = rest;
    taken
}

impl SharedStore for EtcdStore {
    fn latest(&self) -> BoxFuture<'_, Result<Revision, StoreError>> {
        Box::pin(async move {
            let (tx, rx) = oneshot::channel();
            self.waiters.lock().unwrap_or_else(|p| p.into_inner()).push(tx);
            self.wake.notify_one();
            rx.await.unwrap_or_else(|_| Err(StoreError::Io("the etcd reader stopped".into())))
        })
    }

    fn commit_if(
        &self,
        changes: Vec<Change>,
        footprint: Footprint,
        read_at: Revision,
    ) -> BoxFuture<'_, Result<Committed, StoreError>> {
        Box::pin(async move {
            let (prepared, later) = prepare(&self.inner, changes, &footprint, Some(read_at))?;
            let (answer, outcome) = oneshot::channel();
            self.batches
                .send((prepared, later, answer))
                .map_err(|_| StoreError::Io("the etcd batcher stopped".into()))?;
            outcome.await.unwrap_or_else(|_| Err(StoreError::Io("the etcd batcher stopped".into())))
        })
    }
}

impl Store for EtcdStore {
    fn load(&self) -> Result<Snapshot, StoreError> {
        // A helper thread may block on the runtime even when the caller runs on one of its workers.
        std::thread::scope(|s| s.spawn(|| self.handle.block_on(self.snapshot())).join())
            .map_err(|_| StoreError::Io("loading from etcd panicked".into()))?
            .map(|(snapshot, _)| snapshot)
    }

    fn submit(&self, changes: Vec<Change>) -> CommitTicket {
        let (done, ticket) = oneshot::channel();
        if let Err(mpsc::error::SendError((_, done))) = self.queue.send((changes, done)) {
            let _ = done.send(Err(StoreError::Io("the etcd committer stopped".into())));
        }
        ticket
    }
}

#[cfg(test)]
mod tests {
    use entente_dss::Report;
    use entente_geo::LatLngRect;

    use super::*;

    fn inner() -> Inner {
        Inner {
            etcd: Etcd::new(vec!["http://127.0.0.1:9".into()]).expect("a client"),
            layout: Layout::new("/t"),
        }
    }

    /// A decision writing one report over `rect`.
    fn decision(inner: &Inner, name: &str, rect: (f64, f64, f64, f64)) -> Prepared {
        let (lat_lo, lat_hi, lng_lo, lng_hi) = rect;
        let footprint =
            Footprint { rects: vec![LatLngRect { lat_lo, lat_hi, lng_lo, lng_hi }], everywhere: false };
        let report = Report {
            id: name.into(),
            reporter: "uss1".into(),
            received_at: chrono::DateTime::from_timestamp_nanos(0),
            body: String::new(),
        };
        prepare(inner, vec![Change::PutReport(report)], &footprint, Some(10)).expect("a report fits").0
    }

    #[tokio::test]
    async fn decisions_that_could_invalidate_each_other_are_never_batched() {
        let inner = inner();
        let small = decision(&inner, "a", (47.2, 47.202, 8.3, 8.302));
        let large = decision(&inner, "b", (46.9, 47.5, 7.9, 8.6));
        let neighbour = decision(&inner, "c", (47.201, 47.203, 8.301, 8.303));
        let far = decision(&inner, "d", (-33.9, -33.898, 151.2, 151.202));
        assert!(!small.independent_of(&large) && !large.independent_of(&small));
        assert!(!small.independent_of(&neighbour));
        assert!(small.independent_of(&far) && far.independent_of(&small));

        let mut waiting: Vec<Pending> =
            [small, large, far].into_iter().map(|p| (p, None, oneshot::channel().0)).collect();
        let batch = take_batch(&mut waiting);
        assert_eq!(batch.len(), 2, "the small and the far decision go together");
        assert_eq!(waiting.len(), 1, "the large one waits for the next batch");
    }
}
