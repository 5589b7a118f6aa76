//! Reads answered from the local replica, still linearizable: each following instance is a member of the pool,
//! holding an etcd lease and a member key that says which revision its feed received; a commit is shown to reads,
//! and a write acknowledged, only once every member that existed then received it or lost its key, and a member
//! answers reads locally only while its lease is certainly alive by its own monotonic clock. A member key etcd
//! deletes is still waited for until that member's lease has certainly run out by its clock: etcd may revoke a
//! lease its member has just renewed. A member also tells the others directly what its key says (`peers`), so that
//! a writer need not wait for the key's next put to commit. The argument is in `docs/design/etcd-pool.md`.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use entente_dss::Revision;
use tokio::sync::{Notify, watch};

use super::Inner;
use super::grpc::{Compare, Event, KeyValue, Op, RangeRequest, TxnRequest};
use super::layout::Layout;
use super::peers::{self, Secret};

/// How a pooled instance may answer reads from its replica.
#[derive(Clone, Debug)]
pub struct LocalReads {
    /// TTL of the instance's etcd lease (whole seconds; etcd raises it to its minimum, about 2 s by default). A
    /// stopped instance holds every write of the pool back for at most this long, once.
    pub lease_ttl: Duration,
    /// Bound on how much faster or slower this host's monotonic clock may run than the etcd leader's (0.01: 1 %).
    pub clock_drift: f64,
    /// Taken off the lease on top of the drift: the time between reading the clock and the read's snapshot,
    /// and etcd's own scheduling of expiries.
    pub margin: Duration,
    /// Writes wait for every member to receive them before they are acknowledged, and commits are shown to reads
    /// only once every member received them. Off only in a deliberately broken instance, to show that `entente
    /// check-pool` catches reads that miss acknowledged writes.
    pub wait_for_members: bool,
    /// Where to listen for the other members telling this instance directly which revision their feed received
    /// (`127.0.0.1:0` by default: any free loopback port, for a pool on one machine); `None`: writers here wait
    /// for the members' keys only.
    pub peer_listen: Option<String>,
    /// The address the other members reach that listener at, put in this instance's member key; by default the
    /// address it is bound to.
    pub peer_advertise: Option<String>,
}

impl Default for LocalReads {
    fn default() -> LocalReads {
        LocalReads {
            lease_ttl: Duration::from_secs(3),
            clock_drift: 0.01,
            margin: Duration::from_millis(100),
            wait_for_members: true,
            peer_listen: Some("127.0.0.1:0".to_owned()),
            peer_advertise: None,
        }
    }
}

impl LocalReads {
    /// How long after sending a renewal that etcd answered the lease is certainly still alive: etcd expires it
    /// no earlier than `ttl` after the leader renewed it, hence after the renewal was sent, as the leader's clock
    /// counts; this host's clock may count that time as little as `ttl (1 - drift)`.
    fn certain(&self, ttl: Duration) -> Duration {
        ttl.mul_f64((1.0 - self.clock_drift).max(0.0)).saturating_sub(self.margin)
    }

    /// How long after this host's feed last received a put of a member key with lease TTL `ttl` that member may
    /// still answer reads locally. It stops `ttl (1 - drift) - margin` by its own clock after it sent the newest
    /// renewal that counted, and a renewal counts once a put sent after its answer committed: under
    /// `ttl (1 + drift)` by this host's clock after the feed received that put, or any later one.
    fn lingering(&self, ttl: Duration) -> Duration {
        ttl.mul_f64(1.0 + self.clock_drift.max(0.0)) + self.margin
    }
}

/// A member as the feed last showed it.
#[derive(Clone, Debug, PartialEq)]
struct Member {
    /// The revision that created its key.
    created: Revision,
    /// The newest revision it said its feed received.
    published: Revision,
    /// When this feed received the newest put of its key (or loaded it): the member sent every renewal that counts
    /// so far before then.
    seen: Instant,
    /// Where it listens for the other members' messages, if it does.
    peer: Option<String>,
}

impl Member {
    fn of(kv: &KeyValue, seen: Instant) -> Member {
        let (published, peer) = parse_value(&kv.value);
        Member { created: kv.create_revision, published, seen, peer }
    }
}

/// What this instance's feed received, and the members as of that revision.
#[derive(Debug, Default)]
pub(super) struct View {
    /// A feed keeps this view current; without one, writes read the member keys from etcd instead.
    following: bool,
    received: Revision,
    /// The newest received revision that holds more than member keys: what this instance publishes, so that
    /// publications do not acknowledge each other without end.
    content: Revision,
    members: HashMap<Vec<u8>, Member>,
    /// Member keys etcd deleted whose member may still answer reads locally, and until when. etcd revokes a
    /// lease early when a leader that was stopped comes back and, before it learns it was replaced, revokes what
    /// expired by its stale clock (etcd issues 12528, 15247): the member renewed its lease with the new leader and
    /// reads locally until its next renewal tells it otherwise.
    lingering: HashMap<Vec<u8>, (Member, Instant)>,
    /// Until when deletions this feed never received may hide such a member: those before its first revision,
    /// or skipped when it reloaded past what it had received.
    unseen_until: Option<Instant>,
    /// The newest revision each member key's member said directly that its feed received (`peers`): the fact
    /// its key's value carries, by another way. It counts only for a key in `members` or `lingering`, with the
    /// revision that created it, so it never makes a member count that did not exist at a revision; a fact may
    /// come before the feed shows its key, and is kept for then.
    heard: HashMap<Vec<u8>, Revision>,
}

impl View {
    /// Whether a commit at `at` may be shown or acknowledged: this feed received it, and every member whose key
    /// existed at `at` (created at or before it) published `at` or later, or was deleted long enough ago that it
    /// answers no read locally any more. A key created after `at` is not waited for, nor this instance's own
    /// (`mine`), which received what this feed received.
    fn covers(&self, at: Revision, mine: &HashSet<Vec<u8>>) -> bool {
        let lingering = self.lingering.iter().map(|(key, (m, _))| (key, m));
        self.received >= at
            && self.unseen_until.is_none()
            && self
                .members
                .iter()
                .chain(lingering)
                .all(|(key, m)| m.created > at || self.said(key, m) >= at || mine.contains(key))
    }

    /// The newest revision a member said its feed received, through its key or directly.
    fn said(&self, key: &[u8], member: &Member) -> Revision {
        member.published.max(self.heard.get(key).copied().unwrap_or(0))
    }

    /// The newest revision with content this feed received.
    pub(super) fn content(&self) -> Revision {
        self.content
    }

    /// Forgets the deleted keys whose member answers no read locally any more at `now`, and deletions unseen long
    /// enough ago; answers whether anything went.
    fn sweep(&mut self, now: Instant) -> bool {
        let before = (self.lingering.len(), self.unseen_until);
        self.lingering.retain(|_, (_, until)| *until > now);
        self.unseen_until = self.unseen_until.filter(|until| *until > now);
        let (members, lingering) = (&self.members, &self.lingering);
        self.heard.retain(|key, _| members.contains_key(key) || lingering.contains_key(key));
        (self.lingering.len(), self.unseen_until) != before
    }

    /// When the next deleted member key, or the deletions unseen, stop being waited for.
    fn next_sweep(&self) -> Option<Instant> {
        self.lingering.values().map(|&(_, until)| until).chain(self.unseen_until).min()
    }
}

/// What a member key's value says: the revision the member's feed received (0 if the value names none), then, after
/// a space, where it listens for the other members' messages, if it does.
fn parse_value(value: &[u8]) -> (Revision, Option<String>) {
    let mut words = std::str::from_utf8(value).unwrap_or_default().split_whitespace();
    let published = words.next().and_then(|v| v.parse().ok()).unwrap_or(0);
    (published, words.next().map(str::to_owned))
}

fn published(value: &[u8]) -> Revision {
    parse_value(value).0
}

/// This instance's membership while it holds one.
#[derive(Debug)]
struct Joined {
    key: Vec<u8>,
    lease: i64,
    /// The revision that created the member key: a read answered locally waits until the replica applied it,
    /// so a member that joins serves locally only once it caught up with every write acknowledged before.
    created: Revision,
    ttl: Duration,
    /// When the newest renewal etcd answered was sent.
    renewed: Instant,
}

/// The pool's membership as this instance sees it, and its own.
pub(super) struct Membership {
    config: Option<LocalReads>,
    view: watch::Sender<View>,
    joined: Mutex<Option<Joined>>,
    /// Every member key this instance created: when one is deleted, nothing waits for it, since this instance's
    /// feed is what it stood for.
    mine: Mutex<HashSet<Vec<u8>>>,
    /// Where the other members reach this instance's listener (`peers`), once it listens.
    advertised: OnceLock<String>,
    /// Told when a member's direct message may let the feed show commits it holds back.
    news: Notify,
    /// The revision with content of the newest snapshot loaded into the airspace, and the newest such revision
    /// found shown to every member: reads wait until the two agree.
    loaded: AtomicI64,
    cleared: AtomicI64,
}

impl Membership {
    pub(super) fn new(config: Option<LocalReads>) -> Membership {
        Membership {
            config,
            view: watch::Sender::new(View::default()),
            joined: Mutex::default(),
            mine: Mutex::default(),
            advertised: OnceLock::new(),
            news: Notify::new(),
            loaded: AtomicI64::new(0),
            cleared: AtomicI64::new(0),
        }
    }

    /// Where the other members reach this instance's listener from now on: its member key will say so.
    pub(super) fn advertise(&self, address: String) {
        let _ = self.advertised.set(address);
    }

    /// The value of this instance's member key, saying its feed received `content` and where it listens.
    fn value(&self, content: Revision) -> Vec<u8> {
        match self.advertised.get() {
            Some(address) => format!("{content} {address}").into_bytes(),
            None => content.to_string().into_bytes(),
        }
    }

    /// The view, to wait for what this instance's feed received.
    pub(super) fn subscribe(&self) -> watch::Receiver<View> {
        self.view.subscribe()
    }

    /// Where the other members listen, as their keys say.
    pub(super) fn peers(&self) -> HashSet<String> {
        // `mine` before the view, as where the feed updates the view.
        let mine = self.mine();
        let view = self.view.borrow();
        view.members
            .iter()
            .filter(|(key, _)| !mine.contains(*key))
            .filter_map(|(_, m)| m.peer.clone())
            .collect()
    }

    /// The member holding `key` said directly that its feed received `revision`.
    pub(super) fn heard(&self, key: Vec<u8>, revision: Revision) {
        let newer = self.view.send_if_modified(|view| {
            let said = view.heard.entry(key).or_default();
            let newer = revision > *said;
            *said = (*said).max(revision);
            newer
        });
        if newer {
            self.news.notify_one();
        }
    }

    /// Waits until a member says directly that its feed received something newer.
    pub(super) async fn news(&self) {
        self.news.notified().await;
    }

    /// The airspace is about to hold a snapshot whose newest content is at `content`: reads wait until every member
    /// received it ([`snapshot_shown`]).
    pub(super) fn loading(&self, content: Revision) {
        self.loaded.fetch_max(content, Ordering::AcqRel);
    }

    fn joined(&self) -> std::sync::MutexGuard<'_, Option<Joined>> {
        self.joined.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn mine(&self) -> std::sync::MutexGuard<'_, HashSet<Vec<u8>>> {
        self.mine.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// How long after the last put of a member key the feed received that member may still answer reads locally,
    /// hence its key be waited for once deleted. The pool's instances share `--pool-lease-secs`, so the
    /// others' leases have this instance's TTL, rounded up to whole seconds as etcd grants it, or the longer
    /// TTL etcd gave this instance.
    fn lingering(&self) -> Duration {
        let config = self.config.clone().unwrap_or_default();
        let asked = Duration::from_secs_f64(config.lease_ttl.as_secs_f64().ceil().max(1.0));
        let granted = self.joined().as_ref().map_or(asked, |j| j.ttl.max(asked));
        config.lingering(granted)
    }

    /// When the next deleted member key stops being waited for, if any is.
    pub(super) fn next_sweep(&self) -> Option<Instant> {
        self.view.borrow().next_sweep()
    }

    /// Stops waiting for the deleted member keys whose member answers no read locally any more.
    pub(super) fn sweep(&self) {
        self.view.send_if_modified(|view| view.sweep(Instant::now()));
    }

    /// The revision a read must have shown to answer from the replica, while this instance is a member whose
    /// lease is certainly alive: its joining revision, and every commit its feed received so far; `None` when the
    /// read must ask etcd for the pool's newest revision instead.
    pub(super) fn local_read(&self) -> Option<Revision> {
        let config = self.config.as_ref()?;
        let joined = self.joined();
        let joined = joined.as_ref()?;
        let received = self.view.borrow().content;
        (joined.renewed.elapsed() < config.certain(joined.ttl)).then_some(joined.created.max(received))
    }

    fn wait_for_members(&self) -> bool {
        self.config.as_ref().is_none_or(|c| c.wait_for_members)
    }

    /// Whether a commit whose feed had received content up to `content` may be shown to reads: every member whose
    /// key existed at `content` received it too, or is gone. A read that saw it, and any read that starts after,
    /// on any member, then sees it.
    pub(super) fn shown(&self, content: Revision) -> bool {
        if !self.wait_for_members() {
            return true;
        }
        // `mine` before the view, as where the feed updates the view.
        let mine = self.mine();
        self.view.borrow().covers(content, &mine)
    }

    /// Whether the feed, about to watch from `shown + 1`, must first read the member keys as of `shown`.
    pub(super) fn needs_load(&self, shown: Revision) -> bool {
        let view = self.view.borrow();
        !view.following || view.received != shown
    }

    /// The member keys as of revision `at`, where the feed starts, and the newest revision with content up to `at`.
    /// That, not `at`, is what this feed received with content: `at` may hold only a member key, which no member
    /// ever publishes, so waiting for the members to publish it would hold every commit back until the next write.
    pub(super) fn load(&self, layout: &Layout, at: Revision, content: Revision, kvs: &[KeyValue]) {
        // Loaded after every put up to `at` committed: as good as seen now.
        let now = Instant::now();
        let members: HashMap<Vec<u8>, Member> = kvs
            .iter()
            .filter(|kv| layout.is_member(&kv.key))
            .map(|kv| (kv.key.clone(), Member::of(kv, now)))
            .collect();
        // Deletions before `at` that this feed never received may be recent: with local reads on (every instance
        // of a pool runs with the same settings), they are waited for as if received now.
        let unseen = self.config.as_ref().map(|_| now + self.lingering());
        // What the feed received before stays received, and published: reads here keep waiting for it. Deleted
        // keys are still waited for, unless they existed again at `at` (the feed will deliver their deletion anew).
        self.view.send_modify(|view| {
            let mut lingering = std::mem::take(&mut view.lingering);
            lingering.retain(|key, _| !members.contains_key(key));
            let unseen_until = if !view.following || at > view.received { unseen } else { view.unseen_until };
            *view = View {
                following: true,
                received: at,
                content: view.content.max(content),
                members,
                lingering,
                unseen_until,
                heard: std::mem::take(&mut view.heard),
            };
        });
    }

    /// One commit the feed received, as its events; answers the newest revision with content received so far.
    pub(super) fn received(&self, layout: &Layout, at: Revision, events: &[Event]) -> Revision {
        let (now, lingering) = (Instant::now(), self.lingering());
        let mine = self.mine();
        self.view.send_modify(|view| {
            let mut content = false;
            for event in events {
                let kv = &event.kv;
                if !layout.is_member(&kv.key) {
                    content = true;
                } else if event.is_delete() {
                    match view.members.remove(&kv.key) {
                        Some(member) if !mine.contains(&kv.key) => {
                            let until = member.seen + lingering;
                            view.lingering.insert(kv.key.clone(), (member, until));
                        }
                        _ => {
                            view.heard.remove(&kv.key);
                        }
                    }
                } else {
                    view.members.insert(kv.key.clone(), Member::of(kv, now));
                }
            }
            view.received = at;
            if content {
                view.content = view.content.max(at);
            }
        });
        self.view.borrow().content
    }

    /// The feed stopped: this instance no longer answers reads locally, and its writes read the member keys from
    /// etcd. Its lease is revoked, so that no write waits for it to expire.
    fn stopped(&self, inner: &Arc<Inner>) {
        self.view.send_modify(|view| view.following = false);
        leave(inner);
    }
}

/// Stops answering reads locally, then revokes the lease (in the background, best effort: it expires anyway).
fn leave(inner: &Arc<Inner>) {
    let Some(joined) = inner.members.joined().take() else { return };
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        let inner = inner.clone();
        runtime.spawn(async move {
            if let Err(e) = inner.etcd.revoke(joined.lease).await {
                tracing::debug!(error = %e, "revoking this instance's lease failed; it expires");
            }
        });
    }
}

/// Pause between attempts to reach etcd for the membership.
const RETRY: Duration = Duration::from_millis(200);

/// How often a write without a feed reads the member keys while it waits for the members.
const POLL: Duration = Duration::from_millis(5);

/// Waits until a write committed at `at` may be acknowledged ([`View::covers`]). The write is durable, so it
/// never ends in an error: while etcd or the feed is away, it waits.
pub(super) async fn acknowledged(inner: &Inner, at: Revision) {
    if !inner.members.wait_for_members() {
        return;
    }
    let mine = inner.members.mine().clone();
    let mut view = inner.members.view.subscribe();
    if view.borrow().following {
        let covered = view.wait_for(|v| !v.following || v.covers(at, &mine)).await;
        if covered.is_ok_and(|v| v.following) {
            return;
        }
    }
    // No feed: the member keys that existed at `at`, then as etcd holds them now. One still here must have
    // published `at`; one gone since is waited for until its member answers no read locally any more, counted
    // from when this poll first missed it, which is after its deletion.
    let (key, range_end) = inner.layout.members();
    let then = RangeRequest {
        key: key.clone(),
        range_end: range_end.clone(),
        revision: at,
        ..RangeRequest::default()
    };
    let existed: HashSet<Vec<u8>> = loop {
        match inner.etcd.range(&then).await {
            Ok(members) => break members.kvs.into_iter().map(|kv| kv.key).collect(),
            // Compacted: which keys existed is lost, so whatever is gone by now is waited for as if just deleted.
            Err(e) if super::grpc::compacted(&e) => {
                tokio::time::sleep(inner.members.lingering()).await;
                break HashSet::new();
            }
            Err(_) => tokio::time::sleep(POLL).await,
        }
    };
    let now = RangeRequest { key, range_end, ..RangeRequest::default() };
    let mut missed: HashMap<Vec<u8>, Instant> = HashMap::new();
    loop {
        if let Ok(members) = inner.etcd.range(&now).await
            && members.kvs.iter().all(|kv| kv.create_revision > at || published(&kv.value) >= at)
        {
            let here: HashSet<&[u8]> = members.kvs.iter().map(|kv| kv.key.as_slice()).collect();
            let lingering = inner.members.lingering();
            let gone = existed.iter().filter(|key| !here.contains(key.as_slice()));
            if gone.fold(true, |done, key| {
                let since = *missed.entry(key.clone()).or_insert_with(Instant::now);
                done && since.elapsed() >= lingering
            }) {
                return;
            }
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Waits until the newest snapshot loaded into the airspace may be shown to reads, with local reads on: every member
/// key that existed at its newest content says it received it, or is gone for good, as for a write acknowledged
/// ([`acknowledged`]). The airspace shows a snapshot whole the moment it is loaded, without the feed's check, and a
/// member that had not received its newest commits could answer a later read without them.
pub(super) async fn snapshot_shown(inner: &Inner) {
    let members = &inner.members;
    let loaded = members.loaded.load(Ordering::Acquire);
    if members.config.is_none() || members.cleared.load(Ordering::Acquire) >= loaded {
        return;
    }
    acknowledged(inner, loaded).await;
    members.cleared.fetch_max(loaded, Ordering::AcqRel);
}

/// Ends the membership when dropped with the feed: a member that no longer applies commits must neither answer
/// reads locally nor hold writes back.
pub(super) struct Following {
    inner: Arc<Inner>,
    task: tokio::task::JoinHandle<()>,
}

impl Following {
    /// Takes part in the pool's membership for as long as the returned value lives.
    pub(super) fn start(inner: &Arc<Inner>) -> Following {
        Following { inner: inner.clone(), task: tokio::spawn(take_part(inner.clone())) }
    }
}

impl Drop for Following {
    fn drop(&mut self) {
        self.task.abort();
        self.inner.members.stopped(&self.inner);
    }
}

/// Joins the pool, keeps the lease alive and publishes what the feed received; joins again with a new lease
/// whenever the membership ends.
async fn take_part(inner: Arc<Inner>) {
    let Some(config) = inner.members.config.clone() else { return };
    let mut view = inner.members.view.subscribe();
    let mut behind = 0;
    // The pool's secret and the listener for the other members' messages, once this instance has them.
    let mut direct: Option<(Secret, AbortOnDrop)> = None;
    loop {
        // A member that left because its feed fell behind joins again once it caught up, or it would only hold
        // writes back again.
        if view.wait_for(|v| v.following && v.received >= behind).await.is_err() {
            return;
        }
        if direct.is_none() {
            direct = peers::start(&inner, &config).await;
        }
        match join(&inner, &config).await {
            Ok(()) => behind = keep(&inner, direct.as_ref().map(|(secret, _)| secret.clone())).await,
            Err(e) => {
                tracing::warn!(error = %e, "joining the pool's members failed; reads ask etcd meanwhile");
                tokio::time::sleep(RETRY).await;
            }
        }
        leave(&inner);
    }
}

/// Takes a lease and puts this instance's member key on it.
async fn join(inner: &Arc<Inner>, config: &LocalReads) -> Result<(), entente_dss::StoreError> {
    let sent = Instant::now();
    let (lease, ttl) = inner.etcd.grant(config.lease_ttl.as_secs_f64().ceil().max(1.0) as i64).await?;
    let key = inner.layout.member(lease);
    inner.members.mine().insert(key.clone());
    let content = inner.members.view.borrow().content;
    let txn = TxnRequest {
        success: vec![Op::put_leased(&key, &inner.members.value(content), lease)],
        ..TxnRequest::default()
    };
    let created = match inner.etcd.txn(&txn).await {
        Ok(response) => response.revision(),
        Err(failure) => {
            // The key may have been put: revoking the lease deletes it.
            let _ = inner.etcd.revoke(lease).await;
            return Err(failure.error);
        }
    };
    let ttl = Duration::from_secs(u64::try_from(ttl).unwrap_or(0));
    tracing::info!(lease = %format!("{lease:x}"), revision = created, "joined the pool's members");
    // Granted no earlier than it was sent, so the lease lives at least `ttl` from `sent`.
    *inner.members.joined() = Some(Joined { key, lease, created, ttl, renewed: sent });
    Ok(())
}

/// Renews the lease every third of its TTL, and publishes what the feed received meanwhile (in etcd, and to the
/// other members directly with the pool's `secret`), until the lease is lost or the feed fell behind etcd by half a
/// TTL (a member whose feed stalls would hold every write back); answers the revision the feed must reach before
/// joining again.
async fn keep(inner: &Arc<Inner>, secret: Option<Secret>) -> Revision {
    let Some((key, lease, ttl)) = inner.members.joined().as_ref().map(|j| (j.key.clone(), j.lease, j.ttl))
    else {
        return 0;
    };
    let publisher = tokio::spawn(publish(inner.clone(), key.clone(), lease));
    let _publisher = AbortOnDrop(publisher);
    let _pusher = secret.map(|secret| AbortOnDrop(tokio::spawn(peers::push(inner.clone(), lease, secret))));
    let period = ttl / 3;
    let mut pause = period;
    // A revision etcd had when a renewal was answered and the feed had not received, and since when.
    let mut behind: Option<(Revision, Instant)> = None;
    loop {
        tokio::time::sleep(pause).await;
        let received = inner.members.view.borrow().received;
        match behind {
            Some((at, _)) if received >= at => behind = None,
            Some((at, since)) if since.elapsed() >= ttl / 2 => {
                tracing::warn!(received, etcd = at, "this instance's feed fell behind; leaving the members");
                return at;
            }
            _ => {}
        }
        let sent = Instant::now();
        let renewed = match inner.etcd.keep_alive(lease, period).await {
            Ok((remaining, _)) if remaining <= 0 => {
                tracing::warn!(lease = %format!("{lease:x}"), "this instance's lease expired; joining again");
                return 0;
            }
            Ok((_, answered)) => {
                if behind.is_none() && received < answered.revision {
                    behind = Some((answered.revision, sent));
                }
                confirmed(inner, &key, lease, answered.raft_term).await
            }
            Err(e) => Err(e),
        };
        match renewed {
            Ok(true) => {
                if let Some(joined) = inner.members.joined().as_mut() {
                    joined.renewed = joined.renewed.max(sent);
                }
                pause = period;
            }
            Ok(false) => {
                tracing::warn!(lease = %format!("{lease:x}"), "this instance's member key is gone; joining again");
                return 0;
            }
            Err(e) => {
                tracing::debug!(error = %e, "renewing the lease failed; trying again");
                pause = RETRY;
            }
        }
    }
}

/// Publications in flight at once. A writer waits for the other members' publications, so one that had to wait
/// for the previous put to commit before it could start would add up to two commits to a write's answer.
const PUBLICATIONS_IN_FLIGHT: usize = 3;

/// Whether a renewal answered in raft term `term` counts: the member key, put again after its answer, is still
/// there, in the same term. Every feed receives that put, so once the key is deleted, however early, they know
/// how long this instance may still answer reads locally ([`LocalReads::lingering`]). etcd 3.4 lets a leader cut
/// off from its quorum answer renewals until it steps down, and those bind no later leader, so its lease may run
/// out early: the term check spares it leaving the members for that. `Ok(false)` when the key is gone; an error
/// when the term moved on meanwhile (the next renewal will tell).
async fn confirmed(
    inner: &Inner,
    key: &[u8],
    lease: i64,
    term: u64,
) -> Result<bool, entente_dss::StoreError> {
    let content = inner.members.view.borrow().content;
    let txn = TxnRequest {
        compare: vec![Compare::exists(key)],
        success: vec![Op::put_leased(key, &inner.members.value(content), lease)],
        ..TxnRequest::default()
    };
    let put = inner.etcd.txn(&txn).await.map_err(|failure| failure.error)?;
    if put.header.as_ref().map(|h| h.raft_term) != Some(term) {
        return Err(entente_dss::StoreError::Io(format!(
            "the renewal was answered in raft term {term}, not now"
        )));
    }
    Ok(put.succeeded)
}

/// Puts the newest revision with content the feed received into the member key, a few puts in flight at a time,
/// each tried again until it commits. They may commit out of order, so the key may briefly name an older revision
/// than before: still one the instance received, which only makes a writer wait for the next.
async fn publish(inner: Arc<Inner>, key: Vec<u8>, lease: i64) {
    let in_flight = Arc::new(tokio::sync::Semaphore::new(PUBLICATIONS_IN_FLIGHT));
    // Dropped, hence aborted, with this task when the membership ends.
    let mut puts = tokio::task::JoinSet::new();
    let mut view = inner.members.view.subscribe();
    let mut sent = view.borrow().content;
    loop {
        let Ok(permit) = in_flight.clone().acquire_owned().await else { return };
        sent = match view.wait_for(|v| v.content > sent).await {
            Ok(view) => view.content,
            Err(_) => return,
        };
        let txn = TxnRequest {
            success: vec![Op::put_leased(&key, &inner.members.value(sent), lease)],
            ..TxnRequest::default()
        };
        let inner = inner.clone();
        puts.spawn(async move {
            while let Err(failure) = inner.etcd.txn(&txn).await {
                tracing::debug!(error = %failure.error, "publishing the received revision failed; trying again");
                tokio::time::sleep(RETRY).await;
            }
            drop(permit);
        });
        while puts.try_join_next().is_some() {}
    }
}

/// A task that ends with the value holding it.
pub(super) struct AbortOnDrop(pub(super) tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
mod tests {
    use entente_dss::{Availability, AvailabilityRecord, Dss, EntityId, Limits, SystemClock};

    use super::super::{ABANDONED_AFTER, EtcdConfig, EtcdStore, LocalEtcd, lossy};
    use super::*;

    fn view(received: Revision, members: &[(&str, Revision, Revision)]) -> View {
        let members = members
            .iter()
            .map(|&(key, created, published)| {
                (key.as_bytes().to_vec(), Member { created, published, seen: Instant::now(), peer: None })
            })
            .collect();
        View { following: true, received, content: received, members, ..View::default() }
    }

    fn mine(keys: &[&str]) -> HashSet<Vec<u8>> {
        keys.iter().map(|key| key.as_bytes().to_vec()).collect()
    }

    #[test]
    fn a_write_waits_for_every_member_whose_key_existed_when_it_committed() {
        // `b` existed at 10 and has published only 9; `c` joined after the write.
        let members = view(12, &[("a", 3, 12), ("b", 5, 9), ("c", 11, 11)]);
        assert!(!members.covers(10, &mine(&[])), "b has not received 10");
        assert!(members.covers(10, &mine(&["b"])), "this instance received what its feed received");
        assert!(members.covers(9, &mine(&[])), "everyone received 9");
        let without_b = view(12, &[("a", 3, 12), ("c", 11, 11)]);
        assert!(without_b.covers(10, &mine(&[])), "b's key is gone: its lease expired");
        assert!(!without_b.covers(13, &mine(&[])), "this feed has not received 13");
    }

    #[test]
    fn a_member_that_says_directly_it_received_a_write_counts_as_if_its_key_said_so() {
        // `b` existed at 10 and its key says 9; `c` joined at 11.
        let mut members = view(12, &[("a", 3, 12), ("b", 5, 9), ("c", 11, 11)]);
        members.heard.insert(b"b".to_vec(), 10);
        assert!(members.covers(10, &mine(&[])), "b said directly that it received 10");
        assert!(!members.covers(11, &mine(&[])), "b said nothing of 11");

        // A fact about a key created after the write, or about a key the feed does not show, counts for no
        // other member: b must still say it received 11 itself.
        members.heard.insert(b"c".to_vec(), 11);
        members.heard.insert(b"d".to_vec(), 11);
        assert!(!members.covers(11, &mine(&[])), "only b can say b received 11");
        // Nor does a fact kept for a key not shown yet make that key count once it shows: d, created at 12,
        // did not exist at 11.
        members
            .members
            .insert(b"d".to_vec(), Member { created: 12, published: 0, seen: Instant::now(), peer: None });
        members.heard.insert(b"b".to_vec(), 11);
        assert!(members.covers(11, &mine(&[])));

        // The same holds of a deleted key that still lingers: its member may still answer reads locally, and
        // it said it received 10, not 11.
        let mut lingering = view(12, &[]);
        let b = Member { created: 5, published: 9, seen: Instant::now(), peer: None };
        lingering.lingering.insert(b"b".to_vec(), (b, Instant::now() + Duration::from_secs(3)));
        lingering.heard.insert(b"b".to_vec(), 10);
        assert!(lingering.covers(10, &mine(&[])));
        assert!(!lingering.covers(11, &mine(&[])));
    }

    #[tokio::test]
    async fn only_a_message_sealed_with_the_pools_secret_counts() {
        use tokio::io::AsyncWriteExt;

        let layout = Layout::new("/t");
        let members = Membership::new(Some(LocalReads::default()));
        let (b, c) = (layout.member(0xb), layout.member(0xc));
        members.view.send_replace(view(12, &[]));
        members.view.send_modify(|view| {
            for key in [&b, &c] {
                let member = Member { created: 5, published: 9, seen: Instant::now(), peer: None };
                view.members.insert(key.clone(), member);
            }
        });
        let (secret, forger) = (Secret::new(&[1; 32]), Secret::new(&[2; 32]));

        let (mut sender, receiver) = tokio::io::duplex(1024);
        sender.write_all(&secret.seal(0xb, 10)).await.expect("a message sent");
        drop(sender);
        peers::receive(&members, &layout, receiver, &secret).await.expect("an authentic connection");
        assert!(!members.shown(10), "c has not said it received 10");
        tokio::time::timeout(Duration::from_secs(1), members.news()).await.expect("the feed is told");

        // Sealed under another secret, or a sealed message with its revision raised: refused, connection and all.
        for forged in [forger.seal(0xc, 10), {
            let mut f = secret.seal(0xc, 9);
            f[15] = 10;
            f
        }] {
            let (mut sender, receiver) = tokio::io::duplex(1024);
            sender.write_all(&forged).await.expect("a message sent");
            sender.write_all(&secret.seal(0xc, 10)).await.expect("a message sent");
            drop(sender);
            let refused = peers::receive(&members, &layout, receiver, &secret).await;
            assert!(refused.is_err(), "a forged message was taken");
            assert!(!members.shown(10), "a forged message, or what followed it, counted");
        }

        let (mut sender, receiver) = tokio::io::duplex(1024);
        sender.write_all(&secret.seal(0xc, 10)).await.expect("a message sent");
        drop(sender);
        peers::receive(&members, &layout, receiver, &secret).await.expect("an authentic connection");
        assert!(members.shown(10), "b and c said directly that they received 10");
    }

    #[test]
    fn a_commit_is_shown_to_reads_only_once_every_member_received_it() {
        let members = Membership::new(Some(LocalReads::default()));
        members.view.send_replace(view(12, &[("a", 3, 12), ("b", 5, 9)]));
        assert!(
            !members.shown(10),
            "b has not received 10: a read here could see what a read at b then misses"
        );
        assert!(members.shown(9));
        let broken = Membership::new(Some(LocalReads { wait_for_members: false, ..LocalReads::default() }));
        broken.view.send_replace(view(12, &[("b", 5, 9)]));
        assert!(broken.shown(10), "the deliberately broken instance shows what it received");
    }

    #[test]
    fn a_deleted_member_key_is_waited_for_until_its_member_reads_locally_no_more() {
        let layout = Layout::new("/t");
        let (b, mine) = (layout.member(0xb), layout.member(0xa));
        let members = Membership::new(Some(LocalReads::default()));
        members.mine().insert(mine.clone());
        members.view.send_replace(view(11, &[]));
        // Both confirm a renewal by putting their keys again, saying they received 9.
        let put = Instant::now();
        members.received(&layout, 12, &[Event::put(&b, 5, 12, b"9"), Event::put(&mine, 6, 12, b"9")]);

        // etcd deletes b's key at 13, as a leader that was stopped does when it comes back: b renewed its lease
        // with the next leader a moment ago, so it still answers reads locally, without 10.
        members.received(&layout, 13, &[Event::deleted(&b, 13)]);
        assert!(!members.shown(10), "b may still answer reads locally: a read there would miss 10");
        let until = members.next_sweep().expect("b's key is waited for");
        assert!(until >= put + Duration::from_millis(3130), "a lease of 3 s, 1 % of drift, 100 ms");
        members.sweep();
        assert!(!members.shown(10), "b's lease has not certainly run out by its clock");

        members.view.send_modify(|view| assert!(view.sweep(until)));
        assert!(members.shown(10), "b reads locally no more");
        assert_eq!(members.next_sweep(), None);

        // This instance's own key, once deleted, holds nothing back: its feed is what it stood for.
        members.received(&layout, 14, &[Event::deleted(&mine, 14)]);
        assert_eq!(members.next_sweep(), None);
        assert!(members.shown(14));
    }

    #[test]
    fn a_key_deleted_long_after_its_last_put_holds_nothing_back() {
        // A member killed: etcd expires its lease a TTL after its last renewal, when it reads locally no more.
        let layout = Layout::new("/t");
        let c = layout.member(0xc);
        let members = Membership::new(Some(LocalReads::default()));
        let long_ago = Instant::now().checked_sub(Duration::from_millis(3500)).expect("a monotonic clock");
        let killed = Member { created: 5, published: 9, seen: long_ago, peer: None };
        members.view.send_replace(View { members: HashMap::from([(c.clone(), killed)]), ..view(12, &[]) });
        assert!(!members.shown(10));
        members.received(&layout, 13, &[Event::deleted(&c, 13)]);
        members.sweep();
        assert!(members.shown(10), "c's lease certainly ran out by its clock before its key went");
    }

    #[test]
    fn a_feed_waits_out_the_deletions_it_never_received() {
        let layout = Layout::new("/t");
        let members = Membership::new(Some(LocalReads::default()));
        // A start at 12: a member's key deleted just before may hide a member that still reads locally.
        let started = Instant::now();
        members.load(&layout, 12, 12, &[]);
        assert!(!members.shown(10), "a deletion before 12 may be a moment old");
        let until = members.next_sweep().expect("the deletions unseen are waited for");
        assert!(until >= started + Duration::from_millis(3130));
        members.view.send_modify(|view| assert!(view.sweep(until)));
        assert!(members.shown(10));

        // Watching again from what it received skips nothing; reloading past it does.
        members.load(&layout, 12, 12, &[]);
        assert!(members.shown(10), "nothing unseen");
        members.load(&layout, 20, 20, &[]);
        assert!(!members.shown(10), "deletions from 13 to 20 unseen");

        let quorum_reads = Membership::new(None);
        quorum_reads.load(&layout, 12, 12, &[]);
        assert!(quorum_reads.shown(10), "a pool without local reads has no member to wait out");
    }

    #[test]
    fn a_feed_that_starts_at_a_member_key_waits_only_for_the_content_before_it() {
        let layout = Layout::new("/t");
        let members = Membership::new(None);
        // `a` joined at 2 and published 1, the newest content it received; the feed starts at 2.
        let a = KeyValue {
            key: layout.member(0xa),
            create_revision: 2,
            value: b"1".to_vec(),
            ..KeyValue::default()
        };
        members.load(&layout, 2, 1, &[a]);
        let joined = Event::put(&layout.member(0xb), 3, 3, b"1");
        let content = members.received(&layout, 3, &[joined]);
        assert_eq!(content, 1, "2 and 3 hold member keys only");
        assert!(members.shown(content), "b's join is shown without waiting for a write");
    }

    #[test]
    fn the_lease_counts_as_alive_for_its_ttl_less_the_drift_and_the_margin() {
        let config = LocalReads::default();
        let ttl = Duration::from_secs(3);
        assert_eq!(config.certain(ttl), Duration::from_millis(2870));
        let members = Membership::new(Some(config));
        assert_eq!(members.local_read(), None, "not a member");
        let joined = |renewed| Joined { key: b"k".to_vec(), lease: 1, created: 7, ttl, renewed };
        *members.joined() = Some(joined(Instant::now()));
        assert_eq!(members.local_read(), Some(7), "a fresh lease: wait for the joining revision only");
        let long_ago = Instant::now().checked_sub(Duration::from_millis(2900)).expect("a monotonic clock");
        *members.joined() = Some(joined(long_ago));
        assert_eq!(members.local_read(), None, "the lease may have expired");
    }

    fn config(endpoints: Vec<String>, prefix: &str) -> EtcdConfig {
        EtcdConfig {
            endpoints,
            prefix: prefix.to_owned(),
            abandoned_after: ABANDONED_AFTER,
            local_reads: Some(LocalReads::default()),
        }
    }

    /// A pooled instance following the pool.
    async fn instance(endpoints: Vec<String>, prefix: &str) -> (Arc<EtcdStore>, Arc<Dss>) {
        let store = Arc::new(EtcdStore::connect(&config(endpoints, prefix)).expect("a store"));
        let (snapshot, at) = store.snapshot().await.expect("a snapshot");
        let dss =
            Arc::new(Dss::pooled(store.clone(), snapshot, at, Arc::new(SystemClock), Limits::default()));
        // The follower lives as long as the runtime of the test.
        let _follower = store.follow(dss.clone());
        (store, dss)
    }

    /// Two members of one pool on a one-member cluster, both answering reads locally, B reaching etcd through a
    /// proxy the test controls; `before` is `uss1`'s availability as B read it then.
    struct TwoMembers {
        _dir: tempfile::TempDir,
        cluster: LocalEtcd,
        proxy: lossy::Proxy,
        prefix: String,
        a: Arc<EtcdStore>,
        writer: Arc<Dss>,
        b: Arc<EtcdStore>,
        reader: Arc<Dss>,
        before: AvailabilityRecord,
    }

    async fn two_members() -> TwoMembers {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let cluster = LocalEtcd::start(dir.path(), 1).expect("a local cluster");
        let proxy = lossy::Proxy::start(&cluster.endpoints()[0]).await.expect("a proxy");
        let prefix = format!("/t/{}", EntityId::random());
        let (a, writer) = instance(cluster.endpoints(), &prefix).await;
        let (b, reader) = instance(vec![proxy.url()], &prefix).await;
        until("both answer reads locally", || a.reads_locally() && b.reads_locally()).await;
        let before = reader.get_availability("uss1").await.expect("a read");
        TwoMembers { _dir: dir, cluster, proxy, prefix, a, writer, b, reader, before }
    }

    /// `uss1`'s availability as `reader` answers once its connections, just cut, are made again: reads may fail
    /// meanwhile, for up to 20 s.
    async fn read_once_back(reader: &Dss) -> AvailabilityRecord {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            match reader.get_availability("uss1").await {
                Ok(after) => return after,
                Err(e) => assert!(Instant::now() < deadline, "no read once B is back: {e}"),
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn until(what: &str, done: impl Fn() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !done() {
            assert!(Instant::now() < deadline, "never: {what}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_member_silent_past_its_lease_stops_answering_reads_locally() {
        let TwoMembers { _dir, cluster: _cluster, proxy, prefix: _prefix, a: _a, writer, b, reader, before } =
            two_members().await;

        // B stops as a SIGSTOPped process would: nothing it sends arrives, nothing sent to it arrives.
        proxy.set(lossy::Mode::Silent);
        // Acknowledged only once etcd expired B's lease, since B can no longer say it applied the write.
        let written =
            writer.set_availability("uss1", &before.version, Availability::Down).await.expect("a write");
        assert!(!b.reads_locally(), "B's lease may have expired by its own clock");
        let read = tokio::time::timeout(Duration::from_secs(1), reader.get_availability("uss1")).await;
        assert!(
            !matches!(&read, Ok(Ok(r)) if r.version == before.version),
            "B answered from its replica, which misses an acknowledged write: {read:?}"
        );

        // Reads right after the connections were cut may fail while they are made again; none may be stale.
        proxy.cut();
        let after = read_once_back(&reader).await;
        assert_eq!(after.version, written.version);
        until("B joins again", || b.reads_locally()).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_write_waits_out_a_member_whose_lease_etcd_revoked_while_it_still_reads_locally() {
        let TwoMembers { _dir, cluster: _cluster, proxy, prefix: _prefix, a, writer, b, reader, before } =
            two_members().await;

        // B's feed stalls, and etcd revokes B's lease although B renewed it, as a leader that was stopped does when
        // it comes back: B still counts its lease as alive and answers reads from its replica.
        proxy.set(lossy::Mode::Silent);
        let lease = b.inner.members.joined().as_ref().map(|j| j.lease).expect("B is a member");
        a.inner.etcd.revoke(lease).await.expect("a revocation");
        let written =
            writer.set_availability("uss1", &before.version, Availability::Down).await.expect("a write");
        assert!(!b.reads_locally(), "acknowledged while B may still answer reads from its replica");
        let read = tokio::time::timeout(Duration::from_secs(1), reader.get_availability("uss1")).await;
        assert!(
            !matches!(&read, Ok(Ok(r)) if r.version == before.version),
            "B answered from its replica, which misses an acknowledged write: {read:?}"
        );

        proxy.cut();
        let after = read_once_back(&reader).await;
        assert_eq!(after.version, written.version);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_starting_instance_shows_its_snapshot_only_once_every_member_received_it() {
        let TwoMembers { _dir, cluster, proxy, prefix, a, writer, b: _b, reader, before } =
            two_members().await;
        let head = RangeRequest { key: a.inner.layout.head(), ..RangeRequest::default() };
        let head_at = async || {
            a.inner.etcd.range(&head).await.expect("head").kvs.first().map_or(0, |kv| kv.mod_revision)
        };
        let committed_before = head_at().await;

        // B's feed stalls; B still answers reads from its replica, which misses the write below, until its lease
        // may have run out by its own clock. The write is acknowledged only after that.
        proxy.set(lossy::Mode::Silent);
        let version = before.version.clone();
        let write =
            tokio::spawn(async move { writer.set_availability("uss1", &version, Availability::Down).await });
        while head_at().await == committed_before {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }

        // C starts from a snapshot that holds the write, which B has not received.
        let (_c, starting) = instance(cluster.endpoints(), &prefix).await;
        let seen = tokio::time::timeout(Duration::from_secs(1), starting.get_availability("uss1")).await;
        let then = tokio::time::timeout(Duration::from_secs(1), reader.get_availability("uss1")).await;
        let new = matches!(&seen, Ok(Ok(r)) if r.version != before.version);
        let old = matches!(&then, Ok(Ok(r)) if r.version == before.version);
        assert!(
            !(new && old),
            "C showed the write, then B answered a later read without it: {seen:?}, {then:?}"
        );

        proxy.cut();
        let written = write.await.expect("the write's task").expect("a write");
        assert_eq!(read_once_back(&reader).await.version, written.version);
        assert_eq!(read_once_back(&starting).await.version, written.version);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_member_that_joins_behind_answers_reads_only_once_it_caught_up() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let cluster = LocalEtcd::start(dir.path(), 1).expect("a local cluster");
        let prefix = format!("/t/{}", EntityId::random());
        let (a, writer) = instance(cluster.endpoints(), &prefix).await;
        until("A answers reads locally", || a.reads_locally()).await;
        // B's replica is loaded before the write and nothing feeds it yet.
        let b = Arc::new(EtcdStore::connect(&config(cluster.endpoints(), &prefix)).expect("a store"));
        let (snapshot, at) = b.snapshot().await.expect("a snapshot");
        let reader = Arc::new(Dss::pooled(b.clone(), snapshot, at, Arc::new(SystemClock), Limits::default()));
        let before = writer.get_availability("uss1").await.expect("a read");
        let written =
            writer.set_availability("uss1", &before.version, Availability::Down).await.expect("a write");

        // B joins while its replica is still behind, as right after a start whose feed has not caught up.
        b.inner.members.load(&b.inner.layout, at, at, &[]);
        let joining = Following::start(&b.inner);
        until("B joins", || b.reads_locally()).await;
        let read = tokio::time::timeout(Duration::from_secs(1), reader.get_availability("uss1")).await;
        assert!(read.is_err(), "B answered before its replica applied its joining revision: {read:?}");

        drop(joining);
        let _follower = b.follow(reader.clone());
        until("B joins with its feed", || b.reads_locally()).await;
        let read = reader.get_availability("uss1").await.expect("a read");
        assert_eq!(read.version, written.version);
    }
}
