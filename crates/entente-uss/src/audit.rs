//! The audit record of every exchange with the DSS and peers, and of the other events F3548's log sets list
//! (planning attempts, operator notifications, positions): a hash chain in which any edit, deletion or
//! reordering of a record breaks verification.
//!
//! Each record's hash covers its content and the previous record's hash, over a canonical byte encoding defined
//! here (length-prefixed fields), so the file format (JSON lines, written by the server) can change field order
//! or spacing without changing any hash.

use chrono::SecondsFormat;
use sha2::{Digest, Sha256};

use crate::Timestamp;
use crate::error::UssError;

/// `prev_hash` of the first record.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Who started the exchange: this USS (`Outgoing`, to the DSS or a peer) or a peer (`Incoming`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    Outgoing,
    Incoming,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Outgoing => "outgoing",
            Direction::Incoming => "incoming",
        }
    }

    pub fn parse(s: &str) -> Option<Direction> {
        match s {
            "outgoing" => Some(Direction::Outgoing),
            "incoming" => Some(Direction::Incoming),
            _ => None,
        }
    }
}

/// One request and its answer. Bodies are kept as SHA-256 digests: a party holding a body can prove it is the
/// one exchanged. `status` is `None` when no answer came (timeout, refused connection).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exchange {
    pub time: Timestamp,
    pub direction: Direction,
    /// The other party: the token subject of an incoming call, the host called by an outgoing one.
    pub peer: String,
    pub method: String,
    pub url: String,
    pub status: Option<u16>,
    pub request_sha256: String,
    pub response_sha256: String,
}

/// The kinds of event a USS records beside its exchanges, named as F3548's log set names its lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    /// An attempt, successful or not, to create or change an operational intent (`PlanningRecord`).
    PlanningAttempt,
    /// An operator told of something a requirement says they must hear (`UserNotificationRecord`).
    OperatorNotification,
    /// Telemetry received for a flight (`PositionRecord`, with its operational intent).
    Position,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::PlanningAttempt => "planning_attempt",
            EventKind::OperatorNotification => "operator_notification",
            EventKind::Position => "position",
        }
    }

    pub fn parse(s: &str) -> Option<EventKind> {
        [EventKind::PlanningAttempt, EventKind::OperatorNotification, EventKind::Position]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// An event as the server describes it: `payload` is its JSON, hashed byte for byte, so this crate needs no
/// knowledge of the format.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub time: Timestamp,
    pub kind: EventKind,
    pub payload: String,
}

/// What one record holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Entry {
    Exchange(Exchange),
    Event(Event),
}

impl Entry {
    pub fn time(&self) -> Timestamp {
        match self {
            Entry::Exchange(e) => e.time,
            Entry::Event(e) => e.time,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditRecord {
    pub seq: u64,
    pub entry: Entry,
    pub prev_hash: String,
    pub hash: String,
}

impl AuditRecord {
    pub fn exchange(&self) -> Option<&Exchange> {
        match &self.entry {
            Entry::Exchange(e) => Some(e),
            Entry::Event(_) => None,
        }
    }

    pub fn event(&self) -> Option<&Event> {
        match &self.entry {
            Entry::Event(e) => Some(e),
            Entry::Exchange(_) => None,
        }
    }

    /// The hash this record must carry given its content and `prev_hash`. An exchange's fields start with its
    /// time and an event's with the word "event", so the two kinds of record never hash alike.
    pub fn expected_hash(&self) -> String {
        let time = |t: &Timestamp| t.to_rfc3339_opts(SecondsFormat::Nanos, true);
        let content: Vec<String> = match &self.entry {
            Entry::Exchange(e) => vec![
                time(&e.time),
                e.direction.as_str().to_owned(),
                e.peer.clone(),
                e.method.clone(),
                e.url.clone(),
                e.status.map_or_else(String::new, |s| s.to_string()),
                e.request_sha256.clone(),
                e.response_sha256.clone(),
            ],
            Entry::Event(e) => {
                vec!["event".to_owned(), e.kind.as_str().to_owned(), time(&e.time), e.payload.clone()]
            }
        };
        let fields = std::iter::once(self.seq.to_string())
            .chain(content)
            .chain(std::iter::once(self.prev_hash.clone()));
        let mut h = Sha256::new();
        for f in fields {
            // Length prefixes keep ("ab", "c") and ("a", "bc") apart.
            h.update((f.len() as u64).to_be_bytes());
            h.update(f.as_bytes());
        }
        hex(&h.finalize())
    }
}

/// The tip of a chain: what the next record continues from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditChain {
    next_seq: u64,
    last_hash: String,
}

impl Default for AuditChain {
    fn default() -> Self {
        AuditChain { next_seq: 0, last_hash: GENESIS_HASH.to_owned() }
    }
}

impl AuditChain {
    /// Continues an existing log, after verifying it whole.
    pub fn resume(records: &[AuditRecord]) -> Result<AuditChain, UssError> {
        verify_chain(records)?;
        Ok(records.last().map_or_else(AuditChain::default, |r| AuditChain {
            next_seq: r.seq + 1,
            last_hash: r.hash.clone(),
        }))
    }

    /// Appends an entry: the record to write, in order, before sealing the next one.
    pub fn seal(&mut self, entry: Entry) -> AuditRecord {
        let mut record =
            AuditRecord { seq: self.next_seq, entry, prev_hash: self.last_hash.clone(), hash: String::new() };
        record.hash = record.expected_hash();
        self.next_seq += 1;
        self.last_hash.clone_from(&record.hash);
        record
    }
}

/// Checks that sequence numbers run 0, 1, 2…, each `prev_hash` is the hash before it and each hash matches its
/// record. Returns the number of records. A log cut short after its last record is indistinguishable from a
/// shorter log; anchoring the tip elsewhere (in a report to the DSS, say) is what detects that.
pub fn verify_chain<'a>(records: impl IntoIterator<Item = &'a AuditRecord>) -> Result<u64, UssError> {
    let mut chain = AuditChain::default();
    for r in records {
        let broken = |reason: String| UssError::AuditBroken { seq: r.seq, reason };
        if r.seq != chain.next_seq {
            return Err(broken(format!(
                "expected sequence number {}: a record is missing or moved",
                chain.next_seq
            )));
        }
        if r.prev_hash != chain.last_hash {
            return Err(broken("prev_hash is not the hash of the record before it".into()));
        }
        if r.hash != r.expected_hash() {
            return Err(broken("hash does not match the record's content: the record was altered".into()));
        }
        chain.next_seq += 1;
        chain.last_hash.clone_from(&r.hash);
    }
    Ok(chain.next_seq)
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;

    fn exchange(i: u16) -> Exchange {
        Exchange {
            time: Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).single().unwrap()
                + chrono::Duration::nanoseconds(i.into()),
            direction: if i.is_multiple_of(2) { Direction::Outgoing } else { Direction::Incoming },
            peer: format!("uss{i}"),
            method: "GET".into(),
            url: format!("http://uss{i}.example/uss/v1/operational_intents/{i}"),
            status: Some(200 + i),
            request_sha256: sha256_hex(b""),
            response_sha256: sha256_hex(&i.to_be_bytes()),
        }
    }

    fn event(i: u16) -> Event {
        Event {
            time: Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).single().unwrap()
                + chrono::Duration::nanoseconds(i.into()),
            kind: EventKind::PlanningAttempt,
            payload: format!("{{\"time\":\"{i}\",\"ovns\":[]}}"),
        }
    }

    fn log(n: u16) -> Vec<AuditRecord> {
        let mut chain = AuditChain::default();
        (0..n)
            .map(|i| {
                if i % 3 == 1 {
                    chain.seal(Entry::Event(event(i)))
                } else {
                    chain.seal(Entry::Exchange(exchange(i)))
                }
            })
            .collect()
    }

    #[test]
    fn an_untouched_log_verifies_and_resumes() {
        let records = log(5);
        assert_eq!(verify_chain(&records), Ok(5));
        assert_eq!(records[0].prev_hash, GENESIS_HASH);
        let mut chain = AuditChain::resume(&records).unwrap();
        let mut longer = records.clone();
        longer.push(chain.seal(Entry::Exchange(exchange(5))));
        assert_eq!(verify_chain(&longer), Ok(6));
        assert_eq!(verify_chain(&[]), Ok(0));
    }

    #[test]
    fn any_edit_deletion_or_reordering_is_detected() {
        let records = log(5);
        let seq_of = |r: Result<u64, UssError>| match r {
            Err(UssError::AuditBroken { seq, .. }) => seq,
            other => panic!("tampering not detected: {other:?}"),
        };
        let mut edited = records.clone();
        if let Entry::Exchange(e) = &mut edited[2].entry {
            e.status = Some(500);
        }
        assert_eq!(seq_of(verify_chain(&edited)), 2);

        let mut event_edited = records.clone();
        if let Entry::Event(e) = &mut event_edited[1].entry {
            e.payload = e.payload.replace("\"ovns\":[]", "\"ovns\":[\"x\"]");
        }
        assert_eq!(seq_of(verify_chain(&event_edited)), 1, "an edited event payload is detected");

        let mut rehashed = records.clone();
        if let Entry::Exchange(e) = &mut rehashed[2].entry {
            e.peer = "someone-else".into();
        }
        rehashed[2].hash = rehashed[2].expected_hash();
        assert_eq!(seq_of(verify_chain(&rehashed)), 3, "re-hashing one record breaks the link to the next");

        let mut deleted = records.clone();
        deleted.remove(1);
        assert_eq!(seq_of(verify_chain(&deleted)), 2);

        let mut swapped = records.clone();
        swapped.swap(3, 4);
        assert_eq!(seq_of(verify_chain(&swapped)), 4);

        let mut renumbered = records;
        renumbered.remove(1);
        for (i, r) in renumbered.iter_mut().enumerate() {
            r.seq = i as u64;
        }
        assert_eq!(seq_of(verify_chain(&renumbered)), 1);
    }

    /// Logs written before events existed still verify: an exchange hashes its fields as it always did.
    #[test]
    fn an_exchange_hashes_as_before_events_existed() {
        let e = exchange(7);
        let record = AuditChain::default().seal(Entry::Exchange(e.clone()));
        let mut h = Sha256::new();
        for f in [
            "0".to_owned(),
            e.time.to_rfc3339_opts(SecondsFormat::Nanos, true),
            "incoming".to_owned(),
            e.peer.clone(),
            e.method.clone(),
            e.url.clone(),
            "207".to_owned(),
            e.request_sha256.clone(),
            e.response_sha256.clone(),
            GENESIS_HASH.to_owned(),
        ] {
            h.update((f.len() as u64).to_be_bytes());
            h.update(f.as_bytes());
        }
        assert_eq!(record.hash, hex(&h.finalize()));
    }

    #[test]
    fn event_kinds_round_trip() {
        for k in [EventKind::PlanningAttempt, EventKind::OperatorNotification, EventKind::Position] {
            assert_eq!(EventKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(EventKind::parse("exchange"), None);
    }

    #[test]
    fn directions_round_trip() {
        for d in [Direction::Outgoing, Direction::Incoming] {
            assert_eq!(Direction::parse(d.as_str()), Some(d));
        }
        assert_eq!(Direction::parse("sideways"), None);
    }
}
