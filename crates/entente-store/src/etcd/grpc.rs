//! etcd's gRPC API (KV `Range` and `Txn`, `Watch`, `Lease`, Maintenance `Status`) with failover between members. The messages are the
//! subset of etcd 3.4's `rpc.proto` and `kv.proto` this store uses, declared with prost's derive and the
//! upstream field numbers, so the build needs neither protoc nor generated code.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use entente_dss::{Revision, StoreError};
use futures_util::StreamExt;
use tonic::client::Grpc;
use tonic::codegen::http::uri::PathAndQuery;
use tonic::transport::{Channel, Endpoint};
use tonic_prost::ProstCodec;

/// A request that gets no answer within this time counts as failed; its outcome is then unknown.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a request waits before trying every member a second time.
const SECOND_ROUND_PAUSE: Duration = Duration::from_millis(100);

/// A snapshot page or a watch message can carry many large polygons; etcd itself caps requests at 1.5 MiB
/// but answers may hold many of them.
const MAX_MESSAGE: usize = 256 << 20;

const RANGE: &str = "/etcdserverpb.KV/Range";
const TXN: &str = "/etcdserverpb.KV/Txn";
const WATCH: &str = "/etcdserverpb.Watch/Watch";
const STATUS: &str = "/etcdserverpb.Maintenance/Status";
const LEASE_GRANT: &str = "/etcdserverpb.Lease/LeaseGrant";
const LEASE_REVOKE: &str = "/etcdserverpb.Lease/LeaseRevoke";
const LEASE_KEEP_ALIVE: &str = "/etcdserverpb.Lease/LeaseKeepAlive";

/// How etcd words a read of a revision it compacted away (`ErrCompacted`).
const COMPACTED: &str = "required revision has been compacted";

/// How often transactions look for the leader again (a follower still forwards them meanwhile).
const LEADER_RECHECK: Duration = Duration::from_secs(10);

/// `NOT_KNOWN` as the leader's index: transactions go to the current member.
const NOT_KNOWN: usize = usize::MAX;

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Header {
    #[prost(uint64, tag = "2")]
    member_id: u64,
    #[prost(int64, tag = "3")]
    pub(crate) revision: Revision,
    #[prost(uint64, tag = "4")]
    pub(crate) raft_term: u64,
}

#[derive(Clone, PartialEq, prost::Message)]
struct StatusRequest {}

#[derive(Clone, PartialEq, prost::Message)]
struct StatusResponse {
    #[prost(message, optional, tag = "1")]
    header: Option<Header>,
    #[prost(uint64, tag = "4")]
    leader: u64,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct KeyValue {
    #[prost(bytes = "vec", tag = "1")]
    pub(crate) key: Vec<u8>,
    #[prost(int64, tag = "2")]
    pub(crate) create_revision: Revision,
    #[prost(int64, tag = "3")]
    pub(crate) mod_revision: Revision,
    /// Puts since the key was (re)created: 1 after its first put.
    #[prost(int64, tag = "4")]
    pub(crate) version: i64,
    #[prost(bytes = "vec", tag = "5")]
    pub(crate) value: Vec<u8>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct RangeRequest {
    #[prost(bytes = "vec", tag = "1")]
    pub(crate) key: Vec<u8>,
    #[prost(bytes = "vec", tag = "2")]
    pub(crate) range_end: Vec<u8>,
    #[prost(int64, tag = "3")]
    pub(crate) limit: i64,
    #[prost(int64, tag = "4")]
    pub(crate) revision: Revision,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct RangeResponse {
    #[prost(message, optional, tag = "1")]
    pub(crate) header: Option<Header>,
    #[prost(message, repeated, tag = "2")]
    pub(crate) kvs: Vec<KeyValue>,
    #[prost(bool, tag = "3")]
    pub(crate) more: bool,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct PutRequest {
    #[prost(bytes = "vec", tag = "1")]
    key: Vec<u8>,
    #[prost(bytes = "vec", tag = "2")]
    value: Vec<u8>,
    /// The lease the key is attached to (0: none); etcd deletes the key when the lease expires.
    #[prost(int64, tag = "3")]
    lease: i64,
    #[prost(bool, tag = "4")]
    prev_kv: bool,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct PutResponse {
    #[prost(message, optional, tag = "2")]
    pub(crate) prev_kv: Option<KeyValue>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct DeleteRangeRequest {
    #[prost(bytes = "vec", tag = "1")]
    key: Vec<u8>,
}

/// `Compare.CompareResult.EQUAL`, `GREATER` and `LESS`, and `Compare.CompareTarget.MOD`.
const EQUAL: i32 = 0;
const GREATER: i32 = 1;
const LESS: i32 = 2;
const MOD: i32 = 2;

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Compare {
    #[prost(int32, tag = "1")]
    result: i32,
    #[prost(int32, tag = "2")]
    target: i32,
    #[prost(bytes = "vec", tag = "3")]
    key: Vec<u8>,
    #[prost(oneof = "CompareTo", tags = "6")]
    against: Option<CompareTo>,
}

#[derive(Clone, PartialEq, prost::Oneof)]
pub(crate) enum CompareTo {
    #[prost(int64, tag = "6")]
    ModRevision(Revision),
}

impl Compare {
    /// True while the key was last changed before `revision` (or never exists).
    pub(crate) fn modified_before(key: &[u8], revision: Revision) -> Compare {
        Compare {
            result: LESS,
            target: MOD,
            key: key.to_vec(),
            against: Some(CompareTo::ModRevision(revision)),
        }
    }

    /// True while the key exists.
    pub(crate) fn exists(key: &[u8]) -> Compare {
        Compare { result: GREATER, target: MOD, key: key.to_vec(), against: Some(CompareTo::ModRevision(0)) }
    }

    /// True while the key was last changed exactly at `revision`.
    pub(crate) fn modified_at(key: &[u8], revision: Revision) -> Compare {
        Compare {
            result: EQUAL,
            target: MOD,
            key: key.to_vec(),
            against: Some(CompareTo::ModRevision(revision)),
        }
    }
}

/// One operation of a transaction branch (`RequestOp`).
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Op {
    #[prost(oneof = "Request", tags = "1, 2, 3, 4")]
    request: Option<Request>,
}

#[derive(Clone, PartialEq, prost::Oneof)]
pub(crate) enum Request {
    #[prost(message, tag = "1")]
    Range(RangeRequest),
    #[prost(message, tag = "2")]
    Put(PutRequest),
    #[prost(message, tag = "3")]
    Delete(DeleteRangeRequest),
    /// A nested transaction (etcd ≥ 3.3): its compares decide its own branch only.
    #[prost(message, tag = "4")]
    Txn(TxnRequest),
}

impl Op {
    pub(crate) fn put(key: &[u8], value: &[u8]) -> Op {
        Op {
            request: Some(Request::Put(PutRequest {
                key: key.to_vec(),
                value: value.to_vec(),
                lease: 0,
                prev_kv: false,
            })),
        }
    }

    /// A put attached to `lease`: it fails once the lease is gone, so it never brings back a key etcd deleted.
    pub(crate) fn put_leased(key: &[u8], value: &[u8], lease: i64) -> Op {
        Op {
            request: Some(Request::Put(PutRequest {
                key: key.to_vec(),
                value: value.to_vec(),
                lease,
                prev_kv: false,
            })),
        }
    }

    /// A put whose answer carries the key as it was before, so its version can be read.
    pub(crate) fn count(key: &[u8]) -> Op {
        Op {
            request: Some(Request::Put(PutRequest {
                key: key.to_vec(),
                value: Vec::new(),
                lease: 0,
                prev_kv: true,
            })),
        }
    }

    pub(crate) fn delete(key: &[u8]) -> Op {
        Op { request: Some(Request::Delete(DeleteRangeRequest { key: key.to_vec() })) }
    }

    pub(crate) fn get(key: &[u8]) -> Op {
        Op { request: Some(Request::Range(RangeRequest { key: key.to_vec(), ..RangeRequest::default() })) }
    }

    pub(crate) fn txn(txn: TxnRequest) -> Op {
        Op { request: Some(Request::Txn(txn)) }
    }
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct TxnRequest {
    #[prost(message, repeated, tag = "1")]
    pub(crate) compare: Vec<Compare>,
    #[prost(message, repeated, tag = "2")]
    pub(crate) success: Vec<Op>,
    #[prost(message, repeated, tag = "3")]
    pub(crate) failure: Vec<Op>,
}

impl TxnRequest {
    /// What etcd counts against `--max-txn-ops`: the longest of its three lists.
    pub(crate) fn width(&self) -> usize {
        self.compare.len().max(self.success.len()).max(self.failure.len())
    }
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct TxnResponse {
    #[prost(message, optional, tag = "1")]
    pub(crate) header: Option<Header>,
    #[prost(bool, tag = "2")]
    pub(crate) succeeded: bool,
    #[prost(message, repeated, tag = "3")]
    pub(crate) responses: Vec<OpResponse>,
}

impl TxnResponse {
    pub(crate) fn revision(&self) -> Revision {
        self.header.as_ref().map_or(0, |h| h.revision)
    }
}

/// One operation's answer (`ResponseOp`); deletes answer nothing this store reads.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct OpResponse {
    #[prost(oneof = "Response", tags = "1, 2, 4")]
    response: Option<Response>,
}

#[derive(Clone, PartialEq, prost::Oneof)]
pub(crate) enum Response {
    #[prost(message, tag = "1")]
    Range(RangeResponse),
    #[prost(message, tag = "2")]
    Put(PutResponse),
    #[prost(message, tag = "4")]
    Txn(TxnResponse),
}

impl OpResponse {
    pub(crate) fn range(&self) -> Option<&RangeResponse> {
        match &self.response {
            Some(Response::Range(r)) => Some(r),
            _ => None,
        }
    }

    pub(crate) fn txn(&self) -> Option<&TxnResponse> {
        match &self.response {
            Some(Response::Txn(t)) => Some(t),
            _ => None,
        }
    }

    /// The version a counted put gave its key: one more than before (1 for a new key).
    pub(crate) fn counted(&self) -> Option<i64> {
        match &self.response {
            Some(Response::Put(p)) => Some(p.prev_kv.as_ref().map_or(0, |kv| kv.version) + 1),
            _ => None,
        }
    }
}

#[derive(Clone, PartialEq, prost::Message)]
struct LeaseGrantRequest {
    #[prost(int64, tag = "1")]
    ttl: i64,
    #[prost(int64, tag = "2")]
    id: i64,
}

#[derive(Clone, PartialEq, prost::Message)]
struct LeaseGrantResponse {
    #[prost(int64, tag = "2")]
    id: i64,
    #[prost(int64, tag = "3")]
    ttl: i64,
    #[prost(string, tag = "4")]
    error: String,
}

#[derive(Clone, PartialEq, prost::Message)]
struct LeaseRevokeRequest {
    #[prost(int64, tag = "1")]
    id: i64,
}

#[derive(Clone, PartialEq, prost::Message)]
struct LeaseRevokeResponse {}

#[derive(Clone, PartialEq, prost::Message)]
struct LeaseKeepAliveRequest {
    #[prost(int64, tag = "1")]
    id: i64,
}

#[derive(Clone, PartialEq, prost::Message)]
struct LeaseKeepAliveResponse {
    #[prost(message, optional, tag = "1")]
    header: Option<Header>,
    #[prost(int64, tag = "3")]
    ttl: i64,
}

#[derive(Clone, PartialEq, prost::Message)]
struct WatchRequest {
    #[prost(oneof = "WatchRequestKind", tags = "1")]
    request: Option<WatchRequestKind>,
}

#[derive(Clone, PartialEq, prost::Oneof)]
enum WatchRequestKind {
    #[prost(message, tag = "1")]
    Create(WatchCreateRequest),
}

#[derive(Clone, PartialEq, prost::Message)]
struct WatchCreateRequest {
    #[prost(bytes = "vec", tag = "1")]
    key: Vec<u8>,
    #[prost(bytes = "vec", tag = "2")]
    range_end: Vec<u8>,
    #[prost(int64, tag = "3")]
    start_revision: Revision,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct WatchResponse {
    #[prost(bool, tag = "4")]
    pub(crate) canceled: bool,
    #[prost(int64, tag = "5")]
    pub(crate) compact_revision: Revision,
    #[prost(string, tag = "6")]
    pub(crate) cancel_reason: String,
    #[prost(message, repeated, tag = "11")]
    pub(crate) events: Vec<Event>,
}

/// `mvccpb.Event.EventType.DELETE`.
const DELETE: i32 = 1;

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Event {
    #[prost(int32, tag = "1")]
    kind: i32,
    #[prost(message, required, tag = "2")]
    pub(crate) kv: KeyValue,
}

impl Event {
    pub(crate) fn is_delete(&self) -> bool {
        self.kind == DELETE
    }

    /// The deletion of `key` at `at`, as a watch delivers it.
    #[cfg(test)]
    pub(crate) fn deleted(key: &[u8], at: Revision) -> Event {
        Event { kind: DELETE, kv: KeyValue { key: key.to_vec(), mod_revision: at, ..KeyValue::default() } }
    }

    /// A put of `key`, created at `created`, with `value` at `at`, as a watch delivers it.
    #[cfg(test)]
    pub(crate) fn put(key: &[u8], created: Revision, at: Revision, value: &[u8]) -> Event {
        let kv = KeyValue {
            key: key.to_vec(),
            create_revision: created,
            mod_revision: at,
            version: 1,
            value: value.to_vec(),
        };
        // `mvccpb.Event.EventType.PUT`.
        Event { kind: 0, kv }
    }
}

/// The members' client URLs; requests go to the last one that answered, and move on when it cannot be
/// reached. Transactions go to the leader when it is known: a follower would forward each one to it, an
/// extra round trip on every write.
pub struct Etcd {
    members: Vec<(String, Channel)>,
    current: AtomicUsize,
    leader: AtomicUsize,
    leader_checked: std::sync::Mutex<Option<Instant>>,
    checking: AtomicBool,
}

fn io(e: impl std::fmt::Display) -> StoreError {
    StoreError::Io(e.to_string())
}

/// How a request failed: whether it may have reached etcd and been applied.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) error: StoreError,
    /// Sent and unanswered, or answered with an error etcd also gives for a proposal it may still commit
    /// (a timeout, a leader change, a lost connection): the outcome is unknown.
    pub(crate) maybe_applied: bool,
}

impl From<Failure> for StoreError {
    fn from(failure: Failure) -> StoreError {
        failure.error
    }
}

/// Whether a request answered `status` may still have been applied. etcd refuses a request it will not
/// propose with a definite code (a bad argument, too many operations, no such revision); timeouts, leader
/// changes and transport failures come after the request may have been proposed.
fn maybe_applied(status: &tonic::Status) -> bool {
    use tonic::Code;
    !matches!(
        status.code(),
        Code::InvalidArgument
            | Code::FailedPrecondition
            | Code::OutOfRange
            | Code::PermissionDenied
            | Code::Unauthenticated
            | Code::ResourceExhausted
            | Code::NotFound
            | Code::AlreadyExists
            | Code::Unimplemented
    )
}

/// Whether the request failed before reaching the member (no connection could be made), so sending it elsewhere
/// cannot apply it twice. A connection lost after sending ("connection reset") does not count: its outcome is
/// unknown.
fn never_sent(status: &tonic::Status) -> bool {
    if status.message().starts_with(NOT_CONNECTED) {
        return true;
    }
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(status);
    while let Some(e) = source {
        let refused = e
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::ConnectionRefused);
        if refused || e.to_string().starts_with("tcp connect error") {
            return true;
        }
        source = e.source();
    }
    false
}

/// Whether a read failed because etcd compacted the revision it asked for.
pub(crate) fn compacted(error: &StoreError) -> bool {
    matches!(error, StoreError::Io(message) if message.contains(COMPACTED))
}

/// Marks a look for the leader in progress while alive.
struct Checking<'a>(&'a AtomicBool);

impl Drop for Checking<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

/// How a call that could not get a ready connection is reported.
const NOT_CONNECTED: &str = "cannot connect";

impl Etcd {
    /// Connects lazily: the first request reaches a member.
    pub fn new(endpoints: Vec<String>) -> Result<Etcd, StoreError> {
        if endpoints.is_empty() {
            return Err(io("no etcd endpoint given"));
        }
        let members = endpoints
            .into_iter()
            .map(|url| {
                let url = url.trim_end_matches('/').to_owned();
                let channel = Endpoint::from_shared(url.clone())
                    .map_err(|e| io(format!("etcd endpoint {url}: {e}")))?
                    .connect_timeout(Duration::from_secs(1))
                    .tcp_nodelay(true)
                    .connect_lazy();
                Ok((url, channel))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        // Instances start on different members, so the members share the work of answering them.
        let first = std::process::id() as usize % members.len();
        Ok(Etcd {
            members,
            current: AtomicUsize::new(first),
            leader: AtomicUsize::new(NOT_KNOWN),
            leader_checked: std::sync::Mutex::new(None),
            checking: AtomicBool::new(false),
        })
    }

    /// The member each member says leads, found by asking each its status; one caller looks at a time, at most
    /// every [`LEADER_RECHECK`].
    async fn find_leader(&self) {
        let due = self
            .leader_checked
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_none_or(|at| at.elapsed() >= LEADER_RECHECK);
        if !due || self.checking.swap(true, Ordering::Acquire) {
            return;
        }
        // Released however this ends, a dropped future included, or the leader would never be looked for again.
        let _checking = Checking(&self.checking);
        let mut ids = Vec::with_capacity(self.members.len());
        let mut leader = None;
        for i in 0..self.members.len() {
            let mut client = self.client(i);
            let mut call = tonic::Request::new(StatusRequest {});
            call.set_timeout(Duration::from_secs(1));
            let answer = match client.ready().await {
                Ok(()) => client
                    .unary::<_, StatusResponse, _>(
                        call,
                        PathAndQuery::from_static(STATUS),
                        ProstCodec::default(),
                    )
                    .await
                    .ok()
                    .map(tonic::Response::into_inner),
                Err(_) => None,
            };
            ids.push(answer.as_ref().and_then(|a| a.header.as_ref()).map(|h| h.member_id));
            leader = leader.or(answer.map(|a| a.leader).filter(|id| *id != 0));
        }
        let index = leader.and_then(|l| ids.iter().position(|id| *id == Some(l))).unwrap_or(NOT_KNOWN);
        self.leader.store(index, Ordering::Relaxed);
        *self.leader_checked.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
    }

    fn client(&self, i: usize) -> Grpc<Channel> {
        Grpc::new(self.members[i].1.clone()).max_decoding_message_size(MAX_MESSAGE)
    }

    /// Moves to the next member unless another request already did.
    fn move_on_from(&self, i: usize) {
        let next = (i + 1) % self.members.len();
        let _ = self.current.compare_exchange(i, next, Ordering::Relaxed, Ordering::Relaxed);
    }

    /// Stops preferring member `i` as the leader, and looks for the leader again at the next transaction.
    fn forget_leader(&self, i: usize) {
        if self.leader.compare_exchange(i, NOT_KNOWN, Ordering::Relaxed, Ordering::Relaxed).is_ok() {
            *self.leader_checked.lock().unwrap_or_else(|p| p.into_inner()) = None;
        }
    }

    /// Sends `request` to the current member (to the leader first when `to_leader` and it is known); moves on
    /// to the next one when it was not reached, or, when `idempotent`, on any failure but a definite refusal
    /// (a broken connection or a timeout as much as a member without a leader).
    async fn unary<Req, Resp>(
        &self,
        path: &'static str,
        request: &Req,
        idempotent: bool,
        to_leader: bool,
    ) -> Result<Resp, Failure>
    where
        Req: prost::Message + Clone + Send + Sync + 'static,
        Resp: prost::Message + Default + Send + Sync + 'static,
    {
        let mut last = None;
        let mut leader = if to_leader { self.leader.load(Ordering::Relaxed) } else { NOT_KNOWN };
        for attempt in 0..self.members.len() * 2 {
            // The second round over the members waits a little first: a connection that just broke is made
            // again, and a member that just lost its leader has a moment to find the new one.
            if attempt == self.members.len() {
                tokio::time::sleep(SECOND_ROUND_PAUSE).await;
            }
            let i = if leader < self.members.len() { leader } else { self.current.load(Ordering::Relaxed) };
            let mut client = self.client(i);
            let mut call = tonic::Request::new(request.clone());
            call.set_timeout(REQUEST_TIMEOUT);
            let outcome = match client.ready().await {
                Ok(()) => client.unary(call, PathAndQuery::from_static(path), ProstCodec::default()).await,
                Err(e) => Err(tonic::Status::unavailable(format!("{NOT_CONNECTED}: {e}"))),
            };
            match outcome {
                Ok(response) => return Ok(response.into_inner()),
                Err(status) if never_sent(&status) || (idempotent && maybe_applied(&status)) => {
                    tracing::debug!(endpoint = %self.members[i].0, error = %status, "etcd member unreachable");
                    if leader == i {
                        leader = NOT_KNOWN;
                        self.forget_leader(i);
                    } else {
                        self.move_on_from(i);
                    }
                    last = Some(status);
                }
                Err(status) => {
                    if leader == i {
                        self.forget_leader(i);
                    }
                    return Err(Failure {
                        maybe_applied: !idempotent && maybe_applied(&status),
                        error: io(format!("etcd at {}: {status}", self.members[i].0)),
                    });
                }
            }
        }
        let urls: Vec<&str> = self.members.iter().map(|(url, _)| url.as_str()).collect();
        // Every attempt failed before reaching a member, or was idempotent: nothing was applied.
        let error = io(format!(
            "no etcd member of {} answered: {}",
            urls.join(","),
            last.map(|s| s.to_string()).unwrap_or_default()
        ));
        Err(Failure { error, maybe_applied: false })
    }

    pub(crate) async fn range(&self, request: &RangeRequest) -> Result<RangeResponse, StoreError> {
        Ok(self.unary(RANGE, request, true, false).await?)
    }

    /// A linearizable read sent to the leader when it is known, which confirms it with one heartbeat round
    /// where a follower would first ask the leader.
    pub(crate) async fn range_at_leader(&self, request: &RangeRequest) -> Result<RangeResponse, StoreError> {
        self.find_leader().await;
        Ok(self.unary(RANGE, request, true, true).await?)
    }

    /// Sends a transaction once (to another member only when the first could not be reached); a failure says
    /// whether it may have been applied.
    pub(crate) async fn txn(&self, request: &TxnRequest) -> Result<TxnResponse, Failure> {
        self.find_leader().await;
        self.unary(TXN, request, false, true).await
    }

    /// Grants a lease of `ttl` seconds; answers its id and the TTL etcd gave it, which is never less than etcd's
    /// minimum. A lease granted twice (an answer lost, the request sent again) expires unused.
    pub(crate) async fn grant(&self, ttl: i64) -> Result<(i64, i64), StoreError> {
        self.find_leader().await;
        let granted: LeaseGrantResponse =
            self.unary(LEASE_GRANT, &LeaseGrantRequest { ttl, id: 0 }, true, true).await?;
        if !granted.error.is_empty() {
            return Err(io(format!("etcd granted no lease: {}", granted.error)));
        }
        Ok((granted.id, granted.ttl))
    }

    /// Revokes a lease, deleting the keys attached to it.
    pub(crate) async fn revoke(&self, id: i64) -> Result<(), StoreError> {
        let _: LeaseRevokeResponse = self.unary(LEASE_REVOKE, &LeaseRevokeRequest { id }, true, true).await?;
        Ok(())
    }

    /// Renews lease `id` once, through the leader when it is known (a follower forwards it there); answers the
    /// TTL the lease has from now on (0 once it expired), etcd's revision and the raft term of the member that
    /// answered. Gives up after `within`, so that a stopped member does not hold renewals back longer than the
    /// lease lasts.
    pub(crate) async fn keep_alive(&self, id: i64, within: Duration) -> Result<(i64, Header), StoreError> {
        self.find_leader().await;
        let leader = self.leader.load(Ordering::Relaxed);
        let i = if leader < self.members.len() { leader } else { self.current.load(Ordering::Relaxed) };
        let mut client = self.client(i);
        let renewal = async {
            client.ready().await.map_err(|e| tonic::Status::unavailable(format!("{NOT_CONNECTED}: {e}")))?;
            // The request stream stays open until the answer came: etcd ends a stream whose client stopped.
            let requests = futures_util::stream::once(std::future::ready(LeaseKeepAliveRequest { id }))
                .chain(futures_util::stream::pending());
            let mut answers = client
                .streaming(
                    tonic::Request::new(requests),
                    PathAndQuery::from_static(LEASE_KEEP_ALIVE),
                    ProstCodec::<LeaseKeepAliveRequest, LeaseKeepAliveResponse>::default(),
                )
                .await?
                .into_inner();
            answers.message().await?.ok_or_else(|| tonic::Status::unavailable("etcd closed the keep-alive"))
        };
        let failed = match tokio::time::timeout(within, renewal).await {
            Ok(Ok(answer)) => return Ok((answer.ttl, answer.header.unwrap_or_default())),
            Ok(Err(status)) => status.to_string(),
            Err(_) => format!("no answer within {} ms", within.as_millis()),
        };
        if leader == i {
            self.forget_leader(i);
        } else {
            self.move_on_from(i);
        }
        Err(io(format!("renewing lease {id:x} at {}: {failed}", self.members[i].0)))
    }

    /// Commits a transaction of one put, as the simplest write etcd can do (a benchmark's ceiling).
    pub async fn put(&self, key: &[u8], value: &[u8]) -> Result<Revision, StoreError> {
        let txn = TxnRequest { success: vec![Op::put(key, value)], ..TxnRequest::default() };
        Ok(self.txn(&txn).await?.revision())
    }

    /// Opens a watch on `[key, range_end)` from `start` on the current member (moving on when it cannot be
    /// reached); read it with [`Watch::next`].
    pub(crate) async fn watch(
        &self,
        key: &[u8],
        range_end: &[u8],
        start: Revision,
    ) -> Result<Watch, StoreError> {
        let create = WatchRequest {
            request: Some(WatchRequestKind::Create(WatchCreateRequest {
                key: key.to_vec(),
                range_end: range_end.to_vec(),
                start_revision: start,
            })),
        };
        let mut last = None;
        for _ in 0..self.members.len() {
            let i = self.current.load(Ordering::Relaxed);
            let mut client = self.client(i);
            // The request stream stays open: etcd ends a watch stream whose client stopped sending.
            let requests = futures_util::stream::once(std::future::ready(create.clone()))
                .chain(futures_util::stream::pending());
            let opened = match client.ready().await {
                Ok(()) => {
                    client
                        .streaming(
                            tonic::Request::new(requests),
                            PathAndQuery::from_static(WATCH),
                            ProstCodec::<WatchRequest, WatchResponse>::default(),
                        )
                        .await
                }
                Err(e) => Err(tonic::Status::unavailable(format!("{NOT_CONNECTED}: {e}"))),
            };
            match opened {
                Ok(response) => return Ok(Watch { stream: response.into_inner() }),
                Err(status) => last = Some(format!("{}: {status}", self.members[i].0)),
            }
            self.move_on_from(i);
        }
        Err(io(format!("cannot watch etcd: {}", last.unwrap_or_default())))
    }
}

/// A watch stream: one message per revision (or several revisions), never one revision split in two.
pub(crate) struct Watch {
    stream: tonic::Streaming<WatchResponse>,
}

impl Watch {
    /// The next message, or `None` when the member closed the stream.
    pub(crate) async fn next(&mut self) -> Result<Option<WatchResponse>, StoreError> {
        self.stream.message().await.map_err(|s| io(format!("etcd watch: {s}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Asks member `i` for its status.
    async fn status(etcd: &Etcd, i: usize) -> StatusResponse {
        let mut client = etcd.client(i);
        client.ready().await.expect("a running member");
        client
            .unary::<_, StatusResponse, _>(
                tonic::Request::new(StatusRequest {}),
                PathAndQuery::from_static(STATUS),
                ProstCodec::default(),
            )
            .await
            .expect("a status")
            .into_inner()
    }

    #[tokio::test]
    async fn transactions_find_the_leader_and_move_on_when_it_is_lost() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let mut cluster = super::super::LocalEtcd::start(dir.path(), 3).expect("a local cluster");
        let etcd = Etcd::new(cluster.endpoints()).expect("a client");
        etcd.put(b"/t/a", b"1").await.expect("a put");
        let leader = etcd.leader.load(Ordering::Relaxed);
        assert!(leader < 3, "the leader was found");
        let told = status(&etcd, leader).await;
        assert_eq!(told.header.map(|h| h.member_id), Some(told.leader), "member {leader} leads");

        cluster.kill(leader);
        // A put on the lost leader's connection may fail with an unknown outcome, and a put during the election
        // may time out; one soon succeeds elsewhere.
        let mut attempts = 0;
        while let Err(e) = etcd.put(b"/t/a", b"2").await {
            attempts += 1;
            assert!(attempts < 10, "no put succeeded once the leader was gone: {e}");
        }
        assert_ne!(etcd.leader.load(Ordering::Relaxed), leader, "the lost leader is no longer preferred");
    }

    #[tokio::test]
    async fn a_refused_connection_counts_as_never_sent_and_a_reset_does_not() {
        // Nothing listens on a port just released.
        let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port());
        let Ok(port) = port else { panic!("no free port") };
        let etcd = Etcd::new(vec![format!("http://127.0.0.1:{port}")]).expect("a client");
        let mut client = etcd.client(0);
        let outcome = match client.ready().await {
            Ok(()) => {
                let call = tonic::Request::new(RangeRequest::default());
                client
                    .unary::<_, RangeResponse, _>(
                        call,
                        PathAndQuery::from_static(RANGE),
                        ProstCodec::default(),
                    )
                    .await
            }
            Err(e) => Err(tonic::Status::unavailable(format!("{NOT_CONNECTED}: {e}"))),
        };
        let status = outcome.expect_err("nothing listens there");
        assert!(never_sent(&status), "{status:?}");
        let reset =
            tonic::Status::from_error(Box::new(std::io::Error::from(std::io::ErrorKind::ConnectionReset)));
        assert!(!never_sent(&reset), "{reset:?}");
    }
}
