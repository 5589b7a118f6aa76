//! The audit log file: one JSON object per line, each a record of `entente_uss`'s hash chain, appended as
//! exchanges complete and events happen, and synced before the request that made them is answered.

use std::cell::Cell;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, SecondsFormat, Utc};
use entente_uss::{
    AuditChain, AuditRecord, Direction, Entry, Event, EventKind, Exchange, Timestamp, UssError, verify_chain,
};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use super::group_sync::GroupSync;

/// Why an audit log could not be read, or does not verify.
#[derive(Debug, thiserror::Error)]
pub enum AuditFileError {
    #[error("cannot read or write {path}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path} line {line}: {reason}")]
    Line { path: PathBuf, line: usize, reason: String },
    /// The cause says which record broke the chain and how.
    #[error("{path} does not verify")]
    Broken { path: PathBuf, source: UssError },
}

/// One line. An exchange has `direction` and the fields after it; an event has `event` and `payload` (its JSON,
/// kept as the very string that was hashed). Lines written before events existed read as exchanges.
#[derive(Serialize, Deserialize)]
struct Line {
    seq: u64,
    time: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    event: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    payload: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    direction: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    peer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    method: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    url: Option<String>,
    #[serde(default)]
    status: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    request_sha256: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    response_sha256: Option<String>,
    prev_hash: String,
    hash: String,
}

impl From<&AuditRecord> for Line {
    fn from(r: &AuditRecord) -> Line {
        // Nanoseconds, so that reading the line back gives the instant that was hashed.
        let time = r.entry.time().to_rfc3339_opts(SecondsFormat::Nanos, true);
        let mut line = Line {
            seq: r.seq,
            time,
            event: None,
            payload: None,
            direction: None,
            peer: None,
            method: None,
            url: None,
            status: None,
            request_sha256: None,
            response_sha256: None,
            prev_hash: r.prev_hash.clone(),
            hash: r.hash.clone(),
        };
        match &r.entry {
            Entry::Exchange(e) => {
                line.direction = Some(e.direction.as_str().to_owned());
                line.peer = Some(e.peer.clone());
                line.method = Some(e.method.clone());
                line.url = Some(e.url.clone());
                line.status = e.status;
                line.request_sha256 = Some(e.request_sha256.clone());
                line.response_sha256 = Some(e.response_sha256.clone());
            }
            Entry::Event(e) => {
                line.event = Some(e.kind.as_str().to_owned());
                line.payload = Some(e.payload.clone());
            }
        }
        line
    }
}

impl Line {
    fn record(self) -> Result<AuditRecord, String> {
        let time = DateTime::parse_from_rfc3339(&self.time)
            .map_err(|e| format!("time {:?}: {e}", self.time))?
            .with_timezone(&Utc);
        let entry = match (self.event, self.payload) {
            (Some(kind), Some(payload)) => Entry::Event(Event {
                time,
                kind: EventKind::parse(&kind).ok_or_else(|| format!("unknown event {kind:?}"))?,
                payload,
            }),
            (Some(_), None) => return Err("an event without its payload".into()),
            (None, _) => {
                let field =
                    |v: Option<String>, name: &str| v.ok_or_else(|| format!("an exchange without {name}"));
                let direction = field(self.direction, "direction")?;
                Entry::Exchange(Exchange {
                    time,
                    direction: Direction::parse(&direction)
                        .ok_or_else(|| format!("unknown direction {direction:?}"))?,
                    peer: field(self.peer, "peer")?,
                    method: field(self.method, "method")?,
                    url: field(self.url, "url")?,
                    status: self.status,
                    request_sha256: field(self.request_sha256, "request_sha256")?,
                    response_sha256: field(self.response_sha256, "response_sha256")?,
                })
            }
        };
        Ok(AuditRecord { seq: self.seq, entry, prev_hash: self.prev_hash, hash: self.hash })
    }
}

/// Reads every record of the log at `path`, without verifying the chain.
pub fn read_audit_log(path: &Path) -> Result<Vec<AuditRecord>, AuditFileError> {
    let io = |source| AuditFileError::Io { path: path.to_owned(), source };
    let file = File::open(path).map_err(io)?;
    let mut records = Vec::new();
    for (i, line) in BufReader::new(file).lines().enumerate() {
        let line = line.map_err(io)?;
        if line.trim().is_empty() {
            continue;
        }
        let bad = |reason: String| AuditFileError::Line { path: path.to_owned(), line: i + 1, reason };
        let parsed: Line = serde_json::from_str(&line).map_err(|e| bad(e.to_string()))?;
        records.push(parsed.record().map_err(bad)?);
    }
    Ok(records)
}

/// Reads and verifies the log at `path`; returns how many records it holds.
pub fn verify_audit_log(path: &Path) -> Result<u64, AuditFileError> {
    read_verified(path).map(|(_, count)| count)
}

fn read_verified(path: &Path) -> Result<(Vec<AuditRecord>, u64), AuditFileError> {
    let records = read_audit_log(path)?;
    let count =
        verify_chain(&records).map_err(|source| AuditFileError::Broken { path: path.to_owned(), source })?;
    Ok((records, count))
}

tokio::task_local! {
    /// Within a request being served (see [`AuditLog::synced_before_answer`]): the ticket of the last line it
    /// appended, synced once before it is answered rather than after every exchange.
    static DEFERRED: Cell<u64>;
}

/// The open log this USS appends to.
pub struct AuditLog {
    path: PathBuf,
    /// Lines are appended in chain order under this lock, and synced after it by `sync`.
    inner: Mutex<(AuditChain, File)>,
    sync: GroupSync,
}

impl AuditLog {
    /// Opens (or creates) the log, verifying what is already there so the chain continues from a sound tip.
    pub fn open(path: &Path) -> Result<AuditLog, AuditFileError> {
        let chain = if path.exists() {
            let records = read_audit_log(path)?;
            AuditChain::resume(&records)
                .map_err(|source| AuditFileError::Broken { path: path.to_owned(), source })?
        } else {
            AuditChain::default()
        };
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|source| AuditFileError::Io { path: path.to_owned(), source })?;
        let sync = GroupSync::new(&file, path.to_owned())
            .map_err(|source| AuditFileError::Io { path: path.to_owned(), source })?;
        Ok(AuditLog { path: path.to_owned(), inner: Mutex::new((chain, file)), sync })
    }

    /// Every record so far, verified; read while appends wait, so no line is read half-written.
    pub(crate) fn verified_records(&self) -> Result<Vec<AuditRecord>, AuditFileError> {
        let _appends = self.inner.lock();
        read_verified(&self.path).map(|(records, _)| records)
    }

    /// Seals and appends one exchange. A failed write is logged, not returned: the exchange already happened,
    /// and refusing to go on would not undo it. Returns once the line is synced, or, within a request being served,
    /// once it is written, the sync being left to the end of the request.
    pub(crate) fn record(&self, exchange: Exchange) {
        self.append(Entry::Exchange(exchange));
    }

    /// Seals and appends one event of a log set's kind that happened at `time`, `payload` being its JSON record.
    pub(crate) fn note(&self, time: Timestamp, kind: EventKind, payload: &impl Serialize) {
        let payload = serde_json::to_string(payload).unwrap_or_default();
        self.append(Entry::Event(Event { time, kind, payload }));
    }

    fn append(&self, entry: Entry) {
        let ticket = {
            let mut guard = self.inner.lock();
            let (chain, file) = &mut *guard;
            let record = chain.seal(entry);
            let mut line = serde_json::to_vec(&Line::from(&record)).unwrap_or_default();
            line.push(b'\n');
            if let Err(e) = file.write_all(&line) {
                tracing::error!(path = %self.path.display(), seq = record.seq, error = %e, "audit log write failed");
            }
            self.sync.appended()
        };
        if DEFERRED.try_with(|last| last.set(last.get().max(ticket))).is_err() {
            self.sync.sync(ticket);
        }
    }

    /// Runs `serve` (a request's handling), then syncs every line it appended, with one sync, before returning
    /// its answer. A request makes its exchanges in rounds (queries, then details, then writes); a sync after each
    /// one made the answer wait for the disk once per round. Lines are still written as their exchanges complete,
    /// so a killed process loses none; only a machine that fails before the answer leaves can lose the lines of
    /// the request it was serving. Lines appended by tasks the request spawns are synced as they are appended.
    pub(crate) async fn synced_before_answer<T>(&self, serve: impl Future<Output = T>) -> T {
        let (answer, last) = DEFERRED
            .scope(Cell::new(0), async {
                let answer = serve.await;
                (answer, DEFERRED.with(Cell::get))
            })
            .await;
        if last > 0 {
            self.sync.synced(last).await;
        }
        answer
    }
}

#[cfg(test)]
mod tests {
    use entente_uss::sha256_hex;

    use super::*;

    fn exchange(n: u16) -> Exchange {
        Exchange {
            time: "2030-01-01T00:00:00Z".parse().expect("a valid time"),
            direction: Direction::Outgoing,
            peer: "localhost:8082".into(),
            method: "PUT".into(),
            url: format!("http://localhost:8082/dss/v1/operational_intent_references/{n}"),
            status: Some(201),
            request_sha256: sha256_hex(b"{}"),
            response_sha256: sha256_hex(&n.to_be_bytes()),
        }
    }

    #[test]
    fn concurrent_records_share_syncs_and_keep_one_chain() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let log = std::sync::Arc::new(AuditLog::open(&path).unwrap());
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let log = log.clone();
                std::thread::spawn(move || (0..50).for_each(|i| log.record(exchange(t * 100 + i))))
            })
            .collect();
        threads.into_iter().for_each(|t| t.join().unwrap());
        assert_eq!(verify_audit_log(&path).unwrap(), 400);
        assert_eq!(log.sync.synced_upto(), 400);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_request_s_lines_are_synced_once_before_its_answer_and_others_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog::open(&dir.path().join("audit.jsonl")).unwrap();
        let answer = log
            .synced_before_answer(async {
                (0..10).for_each(|i| log.record(exchange(i)));
                // Written, not yet synced: the request is not answered yet.
                assert_eq!(log.sync.synced_upto(), 0);
                "answer"
            })
            .await;
        assert_eq!(answer, "answer");
        assert_eq!((log.sync.synced_upto(), log.sync.syncs()), (10, 1));
        // Outside a request (a background round), a line is synced before `record` returns.
        log.record(exchange(10));
        assert_eq!((log.sync.synced_upto(), log.sync.syncs()), (11, 2));
        assert_eq!(verify_audit_log(&dir.path().join("audit.jsonl")).unwrap(), 11);
    }

    #[test]
    fn reopening_continues_the_chain_and_edits_are_found() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        AuditLog::open(&path).unwrap().record(exchange(0));
        let log = AuditLog::open(&path).unwrap();
        log.record(exchange(1));
        log.record(exchange(2));
        assert_eq!(verify_audit_log(&path).unwrap(), 3);

        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, text.replacen("\"status\":201", "\"status\":409", 1)).unwrap();
        assert!(matches!(verify_audit_log(&path), Err(AuditFileError::Broken { .. })));
        assert!(matches!(AuditLog::open(&path), Err(AuditFileError::Broken { .. })));

        std::fs::write(&path, "{not json}\n").unwrap();
        assert!(matches!(verify_audit_log(&path), Err(AuditFileError::Line { line: 1, .. })));
    }
}
