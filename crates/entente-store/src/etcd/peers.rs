//! The direct channel between a pool's members. Each member tells every other one, over TCP, exactly what its
//! member key says, "the member holding lease L: my feed received revision R", so that a writer counts it as soon
//! as it says so instead of after its next put of the key committed in etcd: a second raft commit on every write's
//! path. The member key stays the channel of record; a message lost, late or refused only leaves the writer
//! waiting for the key. Every message carries an HMAC-SHA256 under a secret the pool keeps in etcd, the trust
//! root: whoever can write etcd can already do anything, and nobody else can make a message count.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use entente_dss::{Revision, StoreError};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::Inner;
use super::grpc::{Compare, Op, TxnRequest};
use super::layout::Layout;
use super::members::{AbortOnDrop, LocalReads, Membership};

/// Bytes of one message: the lease and the revision (big-endian), then the HMAC over them.
pub(super) const FRAME: usize = 8 + 8 + 32;

/// Bytes of a fresh pool secret.
const SECRET: usize = 32;

/// First pause before connecting to a member again; it doubles up to [`BACKOFF_MAX`] while connecting fails.
const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(5);

/// A member that does not accept within this long is tried again later: meanwhile writers use its member key.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

type Tag = Hmac<Sha256>;

/// The pool's secret, shared by its members through etcd.
#[derive(Clone)]
pub(super) struct Secret(Arc<[u8]>);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

impl Secret {
    pub(super) fn new(bytes: &[u8]) -> Secret {
        Secret(bytes.into())
    }

    fn tag(&self, lease: i64, revision: Revision) -> Tag {
        // HMAC takes a key of any length: this never fails.
        let mut tag = Tag::new_from_slice(&self.0).unwrap_or_else(|_| unreachable!("HMAC takes any key"));
        tag.update(&lease.to_be_bytes());
        tag.update(&revision.to_be_bytes());
        tag
    }

    /// The message saying that the member holding `lease` received `revision`.
    pub(super) fn seal(&self, lease: i64, revision: Revision) -> [u8; FRAME] {
        let mut frame = [0; FRAME];
        frame[..8].copy_from_slice(&lease.to_be_bytes());
        frame[8..16].copy_from_slice(&revision.to_be_bytes());
        frame[16..].copy_from_slice(&self.tag(lease, revision).finalize().into_bytes());
        frame
    }

    /// The lease and revision a message names, if it was sealed under this secret.
    pub(super) fn open(&self, frame: &[u8; FRAME]) -> Option<(i64, Revision)> {
        let (lease, rest) = frame.split_at(8);
        let (revision, tag) = rest.split_at(8);
        let lease = i64::from_be_bytes(lease.try_into().ok()?);
        let revision = Revision::from_be_bytes(revision.try_into().ok()?);
        self.tag(lease, revision).verify_slice(tag).ok()?;
        Some((lease, revision))
    }
}

/// The pool's secret: made by whichever instance asks first, in one transaction that keeps one already there.
async fn secret(inner: &Inner) -> Result<Secret, StoreError> {
    let key = inner.layout.secret();
    let fresh: [u8; SECRET] = rand::random();
    let txn = TxnRequest {
        compare: vec![Compare::exists(&key)],
        success: vec![Op::get(&key)],
        failure: vec![Op::put(&key, &fresh), Op::get(&key)],
    };
    let response = inner.etcd.txn(&txn).await.map_err(|failure| failure.error)?;
    match response.responses.last().and_then(|r| r.range()).and_then(|r| r.kvs.first()) {
        Some(kv) if kv.value.len() >= SECRET => Ok(Secret::new(&kv.value)),
        _ => Err(StoreError::Io("the pool's secret in etcd is missing or too short".into())),
    }
}

/// Takes the pool's secret and listens for the other members' messages, when `config` asks for a direct channel;
/// the address to advertise is then in [`Membership::value`]. Answers the secret, for this instance's own
/// messages, and the listener, which stops when dropped. Without either, writers wait for member keys only.
pub(super) async fn start(inner: &Arc<Inner>, config: &LocalReads) -> Option<(Secret, AbortOnDrop)> {
    let listen = config.peer_listen.as_deref()?;
    let secret = match secret(inner).await {
        Ok(secret) => secret,
        Err(e) => {
            tracing::warn!(error = %e, "reading the pool's secret failed; members tell writers through etcd only");
            return None;
        }
    };
    let listener = match TcpListener::bind(listen).await {
        Ok(listener) => listener,
        Err(e) => {
            tracing::warn!(error = %e, listen, "listening for the pool's members failed; they tell writers through etcd only");
            return None;
        }
    };
    let advertised = match (&config.peer_advertise, listener.local_addr()) {
        (Some(address), _) => address.clone(),
        (None, Ok(address)) => address.to_string(),
        (None, Err(e)) => {
            tracing::warn!(error = %e, "the address listening for the pool's members is unknown");
            return None;
        }
    };
    tracing::info!(address = %advertised, "listening for the pool's members");
    inner.members.advertise(advertised);
    let task = tokio::spawn(listen_to_members(inner.clone(), listener, secret.clone()));
    Some((secret, AbortOnDrop(task)))
}

/// Accepts the other members' connections, each read by its own task until it ends or sends a message that is
/// not authentic.
async fn listen_to_members(inner: Arc<Inner>, listener: TcpListener, secret: Secret) {
    let mut connections = tokio::task::JoinSet::new();
    loop {
        match listener.accept().await {
            Ok((stream, from)) => {
                let (inner, secret) = (inner.clone(), secret.clone());
                connections.spawn(async move {
                    if let Err(e) = receive(&inner.members, &inner.layout, stream, &secret).await {
                        tracing::warn!(error = %e, %from, "closed a connection from the pool's members");
                    }
                });
            }
            Err(e) => {
                tracing::debug!(error = %e, "accepting a connection from the pool's members failed");
                tokio::time::sleep(BACKOFF_MIN).await;
            }
        }
        while connections.try_join_next().is_some() {}
    }
}

/// Hands every authentic message of one connection to the view, until the connection ends (`Ok`) or a message is
/// not authentic (an error: the rest of the connection is not read).
pub(super) async fn receive(
    members: &Membership,
    layout: &Layout,
    mut stream: impl AsyncRead + Unpin,
    secret: &Secret,
) -> std::io::Result<()> {
    let mut frame = [0; FRAME];
    loop {
        match stream.read_exact(&mut frame).await {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(e),
        }
        let Some((lease, revision)) = secret.open(&frame) else {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "a message not sealed with the pool's secret",
            ));
        };
        members.heard(layout.member(lease), revision);
    }
}

/// Tells every other member the newest revision with content this instance's feed received, as its member key
/// under `lease` does, over one connection each; runs for as long as the membership (aborted with it).
pub(super) async fn push(inner: Arc<Inner>, lease: i64, secret: Secret) {
    let mut view = inner.members.subscribe();
    let mut pushers: HashMap<String, AbortOnDrop> = HashMap::new();
    loop {
        let addresses: HashSet<String> = inner.members.peers();
        pushers.retain(|address, _| addresses.contains(address));
        for address in addresses {
            pushers.entry(address).or_insert_with_key(|address| {
                AbortOnDrop(tokio::spawn(push_to(inner.clone(), address.clone(), lease, secret.clone())))
            });
        }
        if view.changed().await.is_err() {
            return;
        }
    }
}

/// Sends one member each newest revision with content the feed received, coalesced: whatever is newest when the
/// connection is ready. Connects again with a growing pause whenever the connection fails.
async fn push_to(inner: Arc<Inner>, address: String, lease: i64, secret: Secret) {
    let mut view = inner.members.subscribe();
    let mut pause = BACKOFF_MIN;
    loop {
        if let Ok(Ok(mut stream)) = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(&address)).await
        {
            // One small message per revision: sent at once, not held back to fill a segment.
            let _ = stream.set_nodelay(true);
            pause = BACKOFF_MIN;
            let mut sent = 0;
            loop {
                let content = match view.wait_for(|v| v.content() > sent).await {
                    Ok(v) => v.content(),
                    Err(_) => return,
                };
                if let Err(e) = stream.write_all(&secret.seal(lease, content)).await {
                    tracing::debug!(error = %e, %address, "telling a member what this feed received failed");
                    break;
                }
                sent = content;
            }
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(BACKOFF_MAX);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_opens_only_under_the_secret_it_was_sealed_with() {
        let (pool, other) = (Secret::new(&[7; 32]), Secret::new(&[8; 32]));
        let frame = pool.seal(0xb, 42);
        assert_eq!(pool.open(&frame), Some((0xb, 42)));
        assert_eq!(other.open(&frame), None, "sealed under another pool's secret");
        let mut raised = frame;
        raised[15] = 43;
        assert_eq!(pool.open(&raised), None, "a revision changed after sealing");
        let mut moved = frame;
        moved[7] = 0xc;
        assert_eq!(pool.open(&moved), None, "a fact moved to another lease");
    }
}
