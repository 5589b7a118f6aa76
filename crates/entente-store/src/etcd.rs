//! The pool's shared store on etcd: entity keys, optimistic commits guarded by cell markers, and a watch that
//! feeds every commit to every instance in revision order.

mod grpc;
mod layout;
mod local;
#[cfg(test)]
mod lossy;
mod members;
mod peers;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
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
use grpc::{Compare, Event, Failure, KeyValue, Op, RangeRequest, TxnRequest, TxnResponse};
use layout::{Kind, Layout};
pub use local::LocalEtcd;
pub use members::LocalReads;

/// etcd's default `--max-txn-ops`: compares, and operations of a branch, each at most this many.
const MAX_TXN_OPS: usize = 128;

// One decision's entities, its counters and its cell markers, plus `head`, a record of notifications still to
// count and its slot (alone) or mark (in a batch), fit in one transaction by construction.
const _: () = assert!(
    entente_dss::POOLED_EVICTION_BATCH + layout::COUNTER_BUDGET + layout::CELL_BUDGET + 3 < MAX_TXN_OPS
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
    /// How this instance answers reads while it follows the pool: from its replica while its lease is certainly
    /// alive ([`LocalReads::default`]), or, with `None`, always after a quorum read of the pool's newest
    /// revision. Either way its writes wait for the members that answer reads locally.
    pub local_reads: Option<LocalReads>,
}

type Waiters = Mutex<Vec<oneshot::Sender<Result<Revision, StoreError>>>>;

/// One group of the plain [`Store`] interface and where to say it committed.
type Job = (Vec<Change>, oneshot::Sender<Result<(), StoreError>>);

struct Inner {
    etcd: Etcd,
    layout: Layout,
    slots: Slots,
    members: members::Membership,
}

/// A key only this instance writes, one per transaction it has in flight. Each transaction requires the key as
/// this instance last left it and writes a number of its own into it, so after a transaction whose answer was
/// lost one more transaction on the key, a fence, either finds that number (it applied) or changes the key, after
/// which the lost transaction can no longer apply (see [`fence`]).
struct Slot {
    key: Vec<u8>,
    /// The revision of the key's last write; 0 before the first.
    last: Revision,
}

/// This instance's slots not in use, and the numbers its transactions write into them.
struct Slots {
    /// Unique to this instance (a random id), so no other instance ever writes its slots.
    instance: String,
    free: Mutex<Vec<Slot>>,
    made: AtomicUsize,
    sequence: AtomicU64,
}

impl Slots {
    fn new() -> Slots {
        Slots {
            instance: EntityId::random().to_string(),
            free: Mutex::default(),
            made: AtomicUsize::new(0),
            sequence: AtomicU64::new(0),
        }
    }

    fn take(&self, layout: &Layout) -> Slot {
        let free = self.free.lock().unwrap_or_else(|p| p.into_inner()).pop();
        free.unwrap_or_else(|| Slot {
            key: layout.slot(&self.instance, self.made.fetch_add(1, Ordering::Relaxed)),
            last: 0,
        })
    }

    /// Returns a slot whose state is known; one whose last transaction's outcome stayed unknown is never
    /// used again.
    fn give_back(&self, slot: Slot) {
        self.free.lock().unwrap_or_else(|p| p.into_inner()).push(slot);
    }

    /// A number no other transaction of this instance writes; never empty, which a fence writes.
    fn next(&self) -> Vec<u8> {
        (self.sequence.fetch_add(1, Ordering::Relaxed) + 1).to_be_bytes().to_vec()
    }
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
            slots: Slots::new(),
            members: members::Membership::new(config.local_reads.clone()),
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

    /// Whether this instance answers reads from its replica now, as a member of the pool whose lease is certainly
    /// alive.
    pub fn reads_locally(&self) -> bool {
        self.inner.members.local_read().is_some()
    }

    /// Feeds every commit after the instance's applied revision into `dss`, reconnecting to another member
    /// when one fails and reloading the snapshot when etcd compacted the history it still needed. Meanwhile the
    /// instance is one of the pool's members (with [`EtcdConfig::local_reads`]), until the returned task ends.
    pub fn follow(&self, dss: Arc<Dss>) -> JoinHandle<()> {
        let inner = self.inner.clone();
        self.handle.spawn(async move {
            let _member = members::Following::start(&inner);
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
    // `head` names the newest commit with content: member keys alone never bump it.
    let head = layout.head();
    let mut content = 0;
    loop {
        let response = etcd
            .range(&RangeRequest { key: key.clone(), range_end: end.clone(), limit: SNAPSHOT_PAGE, revision })
            .await?;
        if revision == 0 {
            revision = response.header.as_ref().map_or(0, |h| h.revision);
        }
        for kv in &response.kvs {
            if kv.key == head {
                content = kv.mod_revision;
            } else if let Some(id) = layout.counter_id(&kv.key) {
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
    inner.members.loading(content);
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
    let applied = dss.applied().unwrap_or_default();
    if inner.members.needs_load(applied) {
        let (key, range_end) = layout.members();
        let members = RangeRequest { key, range_end, revision: applied, ..RangeRequest::default() };
        // `head` as of `applied` names the newest commit with content: member keys alone never bump it.
        let head = RangeRequest { key: layout.head(), revision: applied, ..RangeRequest::default() };
        let loaded = match etcd.range(&members).await {
            Ok(members) => etcd.range(&head).await.map(|head| (members, head)),
            Err(e) => Err(e),
        };
        match loaded {
            Ok((members, head)) => {
                let content = head.kvs.first().map_or(0, |kv| kv.mod_revision);
                inner.members.load(layout, applied, content, &members.kvs);
            }
            Err(e) if grpc::compacted(&e) => return Err(FollowEnd::Compacted),
            Err(e) => return Err(e.into()),
        }
    }
    let from = applied + 1;
    let mut watch = etcd.watch(&start, &end, from).await?;
    // Commits received but not yet shown to reads, with the newest content received as of each.
    let mut received: VecDeque<(Revision, Vec<Change>, Revision)> = VecDeque::new();
    loop {
        // A deleted member key stops holding commits back after a while, without a message: wake up then; and when
        // a member says directly that it received more.
        let sweep = inner.members.next_sweep();
        let message = tokio::select! {
            message = watch.next() => message?,
            () = async {
                match sweep {
                    Some(until) => tokio::time::sleep_until(until.into()).await,
                    None => std::future::pending().await,
                }
            } => {
                inner.members.sweep();
                show(inner, dss, &mut received);
                continue;
            }
            () = inner.members.news() => {
                show(inner, dss, &mut received);
                continue;
            }
        };
        let Some(result) = message else { break };
        if result.compact_revision > 0 {
            return Err(FollowEnd::Compacted);
        }
        if result.canceled {
            tracing::debug!(reason = %result.cancel_reason, "etcd canceled the watch");
            return Ok(());
        }
        // etcd never splits one revision's events across messages, so each group here is one whole commit.
        for group in result.events.chunk_by(|a, b| a.kv.mod_revision == b.kv.mod_revision) {
            let at = group[0].kv.mod_revision;
            let changes = changes_of(layout, group)?;
            received.push_back((at, changes, inner.members.received(layout, at, group)));
        }
        show(inner, dss, &mut received);
    }
    Ok(())
}

/// Shows the commits received that every member received too, in order: a read that saw one then finishes before
/// any read that could miss it starts (see `members`). Only a message of the feed, a deleted member key that is
/// no longer waited for, or a member saying directly that it received more, can change which.
fn show(inner: &Inner, dss: &Dss, received: &mut VecDeque<(Revision, Vec<Change>, Revision)>) {
    while let Some((at, changes, _)) = received.pop_front_if(|(_, _, content)| inner.members.shown(*content))
    {
        dss.replicate(at, &changes);
    }
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
        let _ = done.send(commit_unconditionally(&inner, changes).await);
    }
}

/// Commits one group of the plain [`Store`] interface, which compares nothing.
async fn commit_unconditionally(inner: &Inner, changes: Vec<Change>) -> Result<(), StoreError> {
    // Without an airspace the footprint is the new extents: nobody decided on older state.
    let footprint = Airspace::default().footprint(&changes);
    loop {
        let (prepared, later) = prepare(inner, changes.clone(), &footprint, None)?;
        match send_alone(inner, prepared).await? {
            // Only a fence refuses it, after its answer was lost: it never applied, so it is sent again.
            Committed::Stale(_) => continue,
            committed => return finish(inner, committed, later).await.map(|_| ()),
        }
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

    /// What the decision counts against etcd's limit nested in a batch, with its mark.
    fn nested_width(&self) -> usize {
        self.txn.width().max(self.txn.success.len() + 1)
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
    // Alone, the transaction also carries the shared markers, `head` and its slot (compared and written).
    let alone = txn.success.len() + markers.shared.len() + 2;
    if txn.compare.len() + 1 > MAX_TXN_OPS || alone > MAX_TXN_OPS {
        return Err(StoreError::Io(format!(
            "a commit of {} changes needs {} compares and {alone} operations, over etcd's limit of {MAX_TXN_OPS}",
            changes.len(),
            txn.compare.len() + 1,
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
/// and deletes their record; answers the indices and the revision of the last step. Each step requires the record
/// as the previous step left it, so that a write is counted once even when [`finish_abandoned`] takes over an
/// instance that stopped half way. A step whose answer was lost is settled on its slot like any transaction: read
/// back if it applied, sent again if fenced.
async fn count_later(
    inner: &Inner,
    later: Later,
    committed_at: Revision,
) -> Result<(Assigned, Revision), StoreError> {
    let Later { key, ids } = later;
    let mut assigned = Assigned::new();
    let mut at = committed_at;
    for (step, chunk) in ids.chunks(layout::COUNTER_BUDGET).enumerate() {
        let rest = &ids[((step + 1) * layout::COUNTER_BUDGET).min(ids.len())..];
        let mut txn = TxnRequest { compare: vec![Compare::modified_at(&key, at)], ..TxnRequest::default() };
        txn.success.extend(chunk.iter().map(|id| Op::count(&inner.layout.counter(*id))));
        txn.success.push(if rest.is_empty() { Op::delete(&key) } else { Op::put(&key, &encode_ids(rest)) });
        txn.success.push(Op::put(&inner.layout.head(), &[]));
        loop {
            match send_on_slot(inner, |_| txn.clone()).await?.0 {
                Sent::Answered(response) if response.succeeded => {
                    at = response.revision();
                    assigned.extend(
                        chunk
                            .iter()
                            .zip(&response.responses)
                            .filter_map(|(id, r)| r.counted().map(|v| (*id, index_of(v)))),
                    );
                }
                Sent::Answered(_) => {
                    return Err(StoreError::Io(
                        "another instance finished counting this write's notifications; it is committed"
                            .into(),
                    ));
                }
                Sent::Applied(applied) => {
                    at = applied;
                    assigned.extend(counters_at(inner, chunk, applied).await?);
                }
                Sent::Fenced(_) => continue,
            }
            break;
        }
    }
    Ok((assigned, at))
}

/// Completes a commit: counts what it had to count later, waits until the members that answer reads locally
/// applied all of it ([`members::acknowledged`]), and answers with every index it got. The write is committed
/// whatever happens here, so a failure to count is not an error answer: the record stays, another instance
/// finishes it ([`finish_abandoned`]), and the answer gives the decision's own view of those indices.
async fn finish(inner: &Inner, committed: Committed, later: Option<Later>) -> Result<Committed, StoreError> {
    let Committed::At(revision, mut assigned) = committed else { return Ok(committed) };
    let mut last = revision;
    if let Some(later) = later {
        match count_later(inner, later, revision).await {
            Ok((counted, at)) => {
                assigned.extend(counted);
                last = at;
            }
            Err(e) => {
                tracing::warn!(error = %e, "counting a committed write's later notifications failed")
            }
        }
    }
    members::acknowledged(inner, last).await;
    Ok(Committed::At(revision, assigned))
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

/// How a transaction sent on a slot ended.
enum Sent {
    /// etcd answered.
    Answered(TxnResponse),
    /// The answer was lost, and the transaction applied at this revision.
    Applied(Revision),
    /// The answer was lost, and a fence committed at this revision makes sure the transaction never applies.
    Fenced(Revision),
}

/// How long an instance keeps trying to learn how a transaction whose answer was lost ended; far more than an
/// etcd leader election takes.
const FENCE_DEADLINE: Duration = Duration::from_secs(60);

/// Pause between attempts to reach etcd while learning an outcome.
const FENCE_RETRY: Duration = Duration::from_millis(200);

/// Sends the transaction `build` makes for a slot of this instance, guarded by that slot too. When the
/// transaction may have reached etcd but no answer came, learns how it ended before returning, so a failure
/// returned here always means that nothing was applied.
async fn send_on_slot(
    inner: &Inner,
    build: impl FnOnce(&Slot) -> TxnRequest,
) -> Result<(Sent, Vec<u8>), StoreError> {
    let mut slot = inner.slots.take(&inner.layout);
    let number = inner.slots.next();
    let mut txn = build(&slot);
    txn.compare.push(Compare::modified_at(&slot.key, slot.last));
    txn.success.push(Op::put(&slot.key, &number));
    let sent = match inner.etcd.txn(&txn).await {
        Ok(response) => {
            if response.succeeded {
                slot.last = response.revision();
            }
            Sent::Answered(response)
        }
        Err(Failure { error, maybe_applied: false }) => {
            inner.slots.give_back(slot);
            return Err(error);
        }
        Err(Failure { error, maybe_applied: true }) => {
            tracing::warn!(error = %error, "an etcd transaction got no answer; learning whether it applied");
            // On failure the slot is dropped: its last transaction may still apply, so it is never used again.
            fence(inner, &mut slot, &number).await?
        }
    };
    let key = slot.key.clone();
    inner.slots.give_back(slot);
    Ok((sent, key))
}

/// Learns how the last transaction on `slot`, which wrote `number` if it applied, ended: a transaction that
/// requires the slot unchanged since that transaction was sent and changes it (the fence) either commits, and
/// then the lost transaction, which requires the same, can never apply; or finds the slot changed, and its value
/// says by which. etcd orders the two, so exactly one of them applies. The fence also bumps `head`, so every
/// instance's feed reaches its revision. Gives up after [`FENCE_DEADLINE`] without etcd, with an error saying the
/// outcome is unknown.
async fn fence(inner: &Inner, slot: &mut Slot, number: &[u8]) -> Result<Sent, StoreError> {
    let deadline = tokio::time::Instant::now() + FENCE_DEADLINE;
    let txn = TxnRequest {
        compare: vec![Compare::modified_at(&slot.key, slot.last)],
        success: vec![Op::put(&slot.key, &[]), Op::put(&inner.layout.head(), &[])],
        failure: vec![Op::get(&slot.key)],
    };
    loop {
        let failure = match inner.etcd.txn(&txn).await {
            Ok(response) if response.succeeded => {
                slot.last = response.revision();
                return Ok(Sent::Fenced(slot.last));
            }
            Ok(response) => {
                let kv = response.responses.first().and_then(|r| r.range()).and_then(|r| r.kvs.first());
                return match kv {
                    Some(kv) if kv.value == number => {
                        slot.last = kv.mod_revision;
                        Ok(Sent::Applied(slot.last))
                    }
                    // An earlier attempt of this fence committed; its answer was lost too.
                    Some(kv) if kv.value.is_empty() => {
                        slot.last = kv.mod_revision;
                        Ok(Sent::Fenced(slot.last))
                    }
                    _ => Err(corrupt("an instance's slot was changed by someone else")),
                };
            }
            Err(failure) => failure,
        };
        if tokio::time::Instant::now() >= deadline {
            return Err(StoreError::Io(format!(
                "etcd did not answer for {} s: whether the write was applied is unknown; read it before \
                 retrying ({})",
                FENCE_DEADLINE.as_secs(),
                failure.error
            )));
        }
        tokio::time::sleep(FENCE_RETRY).await;
    }
}

/// A range read, retried until [`FENCE_DEADLINE`]: a commit whose answer was lost is known to have applied, and
/// what it did must be read back rather than the write reported failed.
async fn read_back(inner: &Inner, request: &RangeRequest) -> Result<grpc::RangeResponse, StoreError> {
    let deadline = tokio::time::Instant::now() + FENCE_DEADLINE;
    loop {
        match inner.etcd.range(request).await {
            Ok(response) => return Ok(response),
            Err(e) if tokio::time::Instant::now() >= deadline => return Err(e),
            Err(_) => tokio::time::sleep(FENCE_RETRY).await,
        }
    }
}

/// The indices a decision committed at revision `at` gave its counters, read back at that revision, for a
/// commit whose answer was lost.
async fn counted_at(inner: &Inner, prepared: &Prepared, at: Revision) -> Result<Assigned, StoreError> {
    let ids: Vec<EntityId> = prepared.counted.iter().map(|&(_, id)| id).collect();
    counters_at(inner, &ids, at).await
}

/// The counters of `ids` as of revision `at`: each one's version there is the index its put at `at` gave.
async fn counters_at(inner: &Inner, ids: &[EntityId], at: Revision) -> Result<Assigned, StoreError> {
    let mut assigned = Assigned::new();
    for &id in ids {
        let request = RangeRequest { key: inner.layout.counter(id), revision: at, ..RangeRequest::default() };
        if let Some(kv) = read_back(inner, &request).await?.kvs.first() {
            assigned.push((id, index_of(kv.version)));
        }
    }
    Ok(assigned)
}

/// Sends one decision alone: its compares guard the whole transaction.
async fn send_alone(inner: &Inner, mut prepared: Prepared) -> Result<Committed, StoreError> {
    let shared = std::mem::take(&mut prepared.shared);
    let mut txn = std::mem::take(&mut prepared.txn);
    txn.success.extend(shared.iter().map(|k| Op::put(k, &[])));
    txn.success.push(Op::put(&inner.layout.head(), &[]));
    let (sent, _) = send_on_slot(inner, |_| txn).await?;
    Ok(match sent {
        // The slot's compare holds (only a fence changes it, after the answer was lost): a decision's failed.
        Sent::Answered(response) if response.succeeded => {
            Committed::At(response.revision(), prepared.assigned(&response))
        }
        Sent::Answered(response) => Committed::Stale(stale_head(&response, response.revision())),
        Sent::Applied(at) => Committed::At(at, counted_at(inner, &prepared, at).await?),
        Sent::Fenced(at) => Committed::Stale(at),
    })
}

/// Sends independent decisions as nested transactions of one etcd transaction (one raft entry, one fsync),
/// each guarded by its own compares; the shared markers and `head` are written once. Each nested transaction
/// also puts a mark of its own under the slot, so that when the answer is lost the marks written at the
/// batch's revision tell which decisions committed.
async fn send_batch(inner: &Inner, batch: Vec<Prepared>) -> Result<Vec<Committed>, StoreError> {
    if batch.len() == 1 {
        let prepared = batch.into_iter().next().map(|p| send_alone(inner, p));
        return Ok(vec![prepared.ok_or_else(|| StoreError::Io("empty batch".into()))?.await?]);
    }
    let shared: BTreeSet<Vec<u8>> = batch.iter().flat_map(|p| p.shared.iter().cloned()).collect();
    let mut batch = batch;
    let mut nested: Vec<TxnRequest> = batch.iter_mut().map(|p| std::mem::take(&mut p.txn)).collect();
    let (sent, slot) = send_on_slot(inner, |slot| {
        let mut outer = TxnRequest::default();
        for (k, mut txn) in nested.drain(..).enumerate() {
            txn.success.push(Op::put(&inner.layout.mark(&slot.key, k), &[]));
            outer.success.push(Op::txn(txn));
        }
        outer.success.extend(shared.iter().map(|k| Op::put(k, &[])));
        outer.success.push(Op::put(&inner.layout.head(), &[]));
        outer
    })
    .await?;
    let response = match sent {
        Sent::Answered(response) if response.succeeded => response,
        // Only a fence refuses the outer transaction, and none came before this answer.
        Sent::Answered(response) => return Ok(vec![Committed::Stale(response.revision()); batch.len()]),
        Sent::Fenced(at) => return Ok(vec![Committed::Stale(at); batch.len()]),
        Sent::Applied(at) => {
            let (start, end) = inner.layout.marks(&slot);
            let marks =
                read_back(inner, &RangeRequest { key: start, range_end: end, revision: at, limit: 0 })
                    .await?;
            let mut outcomes = Vec::with_capacity(batch.len());
            for (k, p) in batch.iter().enumerate() {
                let marked =
                    marks.kvs.iter().any(|kv| kv.mod_revision == at && kv.key == inner.layout.mark(&slot, k));
                outcomes.push(if marked {
                    Committed::At(at, counted_at(inner, p, at).await?)
                } else {
                    Committed::Stale(at)
                });
            }
            return Ok(outcomes);
        }
    };
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
                        let inner = inner.clone();
                        tokio::spawn(async move {
                            let _ = answer.send(finish(&inner, outcome, later).await);
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
            let outer = taken.len() + 1 + shared.len() + more.len() + 2;
            outer + widest.max(p.0.nested_width()) <= MAX_TXN_OPS
                && bytes + p.0.bytes <= BATCH_BYTES
                && taken.iter().all(|q| q.0.independent_of(&p.0))
        };
        if fits() {
            shared.extend(p.0.shared.iter().cloned());
            bytes += p.0.bytes;
            widest = widest.max(p.0.nested_width());
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
            // A snapshot just loaded shows commits that members may not have received yet.
            members::snapshot_shown(&self.inner).await;
            // A member whose lease is certainly alive has applied every acknowledged write once it applied its own
            // joining: the writers waited for it.
            if let Some(joined) = self.inner.members.local_read() {
                return Ok(joined);
            }
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
            slots: Slots::new(),
            members: members::Membership::new(None),
        }
    }

    fn footprint(rect: (f64, f64, f64, f64)) -> Footprint {
        let (lat_lo, lat_hi, lng_lo, lng_hi) = rect;
        Footprint { rects: vec![LatLngRect { lat_lo, lat_hi, lng_lo, lng_hi }], everywhere: false }
    }

    fn report(name: &str) -> Change {
        Change::PutReport(Report {
            id: name.into(),
            reporter: "uss1".into(),
            received_at: chrono::DateTime::from_timestamp_nanos(0),
            body: String::new(),
        })
    }

    /// A decision writing one report over `rect`.
    fn decision(inner: &Inner, name: &str, rect: (f64, f64, f64, f64)) -> Prepared {
        prepare(inner, vec![report(name)], &footprint(rect), Some(10)).expect("a report fits").0
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

    /// A one-member cluster, a store's internals reaching it through a proxy that can lose requests and
    /// answers, and others reaching it directly to see what etcd holds.
    struct Lossy {
        _dir: tempfile::TempDir,
        _cluster: LocalEtcd,
        proxy: lossy::Proxy,
        lossy: Arc<Inner>,
        direct: Inner,
    }

    impl Lossy {
        async fn start() -> Lossy {
            let dir = tempfile::tempdir().expect("a temporary folder");
            let cluster = LocalEtcd::start(dir.path(), 1).expect("a local cluster");
            let proxy = lossy::Proxy::start(&cluster.endpoints()[0]).await.expect("a proxy");
            let prefix = format!("/t/{}", EntityId::random());
            let lossy = Arc::new(Inner {
                etcd: Etcd::new(vec![proxy.url()]).expect("a client"),
                layout: Layout::new(&prefix),
                slots: Slots::new(),
                members: members::Membership::new(None),
            });
            let direct = Inner {
                etcd: Etcd::new(cluster.endpoints()).expect("a client"),
                layout: Layout::new(&prefix),
                slots: Slots::new(),
                members: members::Membership::new(None),
            };
            // Connected, and the leader known, before anything is lost.
            let head = RangeRequest { key: lossy.layout.head(), ..RangeRequest::default() };
            lossy.etcd.range_at_leader(&head).await.expect("etcd answers");
            Lossy { _dir: dir, _cluster: cluster, proxy, lossy, direct }
        }

        /// The pool's newest revision.
        async fn now(&self) -> Revision {
            let head = RangeRequest { key: self.direct.layout.head(), ..RangeRequest::default() };
            let response = self.direct.etcd.range(&head).await.expect("etcd answers");
            response.header.map_or(0, |h| h.revision)
        }

        /// A report's key as etcd holds it now.
        async fn report(&self, name: &str) -> Option<KeyValue> {
            let key = self.direct.layout.entity(Kind::Report, name);
            let response = self.direct.etcd.range(&RangeRequest { key, ..RangeRequest::default() }).await;
            response.expect("etcd answers").kvs.into_iter().next()
        }

        /// Waits until report `name` is in etcd, and gives the revision that wrote it.
        async fn committed(&self, name: &str) -> Revision {
            for _ in 0..500 {
                if let Some(kv) = self.report(name).await {
                    return kv.mod_revision;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            panic!("report {name} never reached etcd");
        }
    }

    /// A decision at `read_at` writing report `name` over `rect` and notifying `notified`.
    fn decided(
        inner: &Inner,
        name: &str,
        rect: (f64, f64, f64, f64),
        read_at: Revision,
        notified: Option<EntityId>,
    ) -> Prepared {
        let mut changes = vec![report(name)];
        if let Some(id) = notified {
            changes.push(Change::SetNotificationIndex { id, notification_index: 1 });
        }
        prepare(inner, changes, &footprint(rect), Some(read_at)).expect("a decision fits").0
    }

    const HERE: (f64, f64, f64, f64) = (47.2, 47.202, 8.3, 8.302);
    const FAR: (f64, f64, f64, f64) = (-33.9, -33.898, 151.2, 151.202);

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_commit_whose_answer_was_lost_is_reported_committed_with_its_indices() {
        let etcd = Lossy::start().await;
        let subscription = EntityId::random();
        let prepared = decided(&etcd.lossy, "a", HERE, etcd.now().await, Some(subscription));
        etcd.proxy.set(lossy::Mode::DropAnswers);
        let lossy = etcd.lossy.clone();
        let sent = tokio::spawn(async move { send_alone(&lossy, prepared).await });
        let at = etcd.committed("a").await;
        etcd.proxy.cut();
        let outcome = sent.await.expect("the sender ran");
        let outcome = outcome.expect("the outcome is known");
        assert_eq!(outcome, Committed::At(at, vec![(subscription, 1)]));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_batch_whose_answer_was_lost_reports_each_decision_as_it_ended() {
        let etcd = Lossy::start().await;
        let read_at = etcd.now().await;
        // "b" changes after the decision that writes it was made, so that decision must be refused.
        send_alone(&etcd.direct, decided(&etcd.direct, "b", FAR, read_at, None)).await.expect("a commit");
        let subscription = EntityId::random();
        let fresh = decided(&etcd.lossy, "a", HERE, read_at, Some(subscription));
        let stale = decided(&etcd.lossy, "b", FAR, read_at, None);
        assert!(fresh.independent_of(&stale));
        etcd.proxy.set(lossy::Mode::DropAnswers);
        let lossy = etcd.lossy.clone();
        let sent = tokio::spawn(async move { send_batch(&lossy, vec![fresh, stale]).await });
        let at = etcd.committed("a").await;
        etcd.proxy.cut();
        let outcome = sent.await.expect("the sender ran");
        let outcome = outcome.expect("the outcomes are known");
        assert_eq!(outcome, vec![Committed::At(at, vec![(subscription, 1)]), Committed::Stale(at)]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn notifications_counted_after_the_commit_whose_answer_was_lost_are_read_back() {
        let etcd = Lossy::start().await;
        let notified: Vec<EntityId> = (0..layout::COUNTER_BUDGET + 4).map(|_| EntityId::random()).collect();
        let mut changes = vec![report("a")];
        changes.extend(notified.iter().map(|&id| Change::SetNotificationIndex { id, notification_index: 1 }));
        let (prepared, later) =
            prepare(&etcd.lossy, changes, &footprint(HERE), Some(etcd.now().await)).expect("a decision fits");
        let later = later.expect("more notifications than one transaction counts");
        let record = later.key.clone();
        let committed = send_alone(&etcd.lossy, prepared).await.expect("a commit");
        etcd.proxy.set(lossy::Mode::DropAnswers);
        let lossy = etcd.lossy.clone();
        let finished = tokio::spawn(async move { finish(&lossy, committed, Some(later)).await });
        // The follow-up deletes the record when it commits.
        let key = RangeRequest { key: record, ..RangeRequest::default() };
        for _ in 0..500 {
            if etcd.direct.etcd.range(&key).await.expect("etcd answers").kvs.is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        etcd.proxy.cut();
        let Committed::At(_, assigned) = finished.await.expect("the finisher ran").expect("committed") else {
            panic!("the write committed")
        };
        let mut expected: Vec<(EntityId, i32)> = notified.iter().map(|&id| (id, 1)).collect();
        let mut assigned = assigned;
        expected.sort();
        assigned.sort();
        assert_eq!(assigned, expected, "every subscription's index, the ones counted later included");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_unconditional_commit_that_was_fenced_is_sent_again() {
        let etcd = Lossy::start().await;
        etcd.proxy.set(lossy::Mode::DropRequests);
        let lossy = etcd.lossy.clone();
        let committed = tokio::spawn(async move { commit_unconditionally(&lossy, vec![report("a")]).await });
        tokio::time::sleep(Duration::from_millis(300)).await;
        etcd.proxy.cut();
        committed.await.expect("the committer ran").expect("committed");
        assert!(etcd.report("a").await.is_some(), "acknowledged, so in etcd");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_read_whose_connection_broke_is_sent_again() {
        // A pool instance loading its snapshot while a member fails must not give up on the first broken
        // connection.
        let etcd = Lossy::start().await;
        etcd.proxy.set(lossy::Mode::DropAnswers);
        let lossy = etcd.lossy.clone();
        let head = RangeRequest { key: lossy.layout.head(), ..RangeRequest::default() };
        let read = tokio::spawn(async move { lossy.etcd.range(&head).await });
        tokio::time::sleep(Duration::from_millis(300)).await;
        etcd.proxy.cut();
        let read = read.await.expect("the reader ran");
        assert!(read.is_ok(), "{read:?}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_transaction_that_may_not_have_arrived_is_fenced_and_never_applies() {
        let etcd = Lossy::start().await;
        let before = etcd.now().await;
        let prepared = decided(&etcd.lossy, "a", HERE, before, None);
        let txn = prepared.txn.clone();
        etcd.proxy.set(lossy::Mode::DropRequests);
        let lossy = etcd.lossy.clone();
        let sent = tokio::spawn(async move { send_alone(&lossy, prepared).await });
        tokio::time::sleep(Duration::from_millis(300)).await;
        etcd.proxy.cut();
        let outcome = sent.await.expect("the sender ran");
        let Ok(Committed::Stale(fenced)) = outcome else { panic!("not fenced: {outcome:?}") };
        assert!(fenced > before, "the fence committed after the decision was made");
        assert_eq!(etcd.report("a").await, None);
        // Had the lost request arrived late, on the slot it was sent on, the fence refuses it.
        let mut late = txn;
        let slot = etcd.lossy.slots.take(&etcd.lossy.layout);
        late.compare.push(Compare::modified_at(&slot.key, 0));
        late.success.push(Op::put(&slot.key, &[1]));
        let response = etcd.direct.etcd.txn(&late).await.expect("etcd answers");
        assert!(!response.succeeded, "the fence changed the slot");
        assert_eq!(etcd.report("a").await, None);
    }
}
