//! What a USS keeps across restarts, behind a trait as the DSS keeps its airspace: its flights, the zones it
//! manages, the reports peers filed with it, the ids of its Remote ID ISAs and the geographical zone data sets
//! imported into it, each a table of records by id.
//! The storage engine (redb, in `entente-store`) sees records as a format version and bytes; what the bytes
//! mean is the business of whoever wrote them.

use std::collections::BTreeMap;
use std::sync::Mutex;

use tokio::sync::oneshot;

/// The tables of a USS's store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Table {
    /// This USS's own flights, by id.
    Flights,
    /// The constraints (restricted zones) this USS manages for an authority, by id.
    Zones,
    /// The reports peers filed with this USS (F3548 makeUssReport), by report id.
    Reports,
    /// The Remote ID ISAs this USS declared and has not seen deleted, by id.
    Isas,
    /// The geographical zone data sets an authority imported into this USS, by the name it gave each.
    Geozones,
}

impl Table {
    pub const ALL: [Table; 5] = [Table::Flights, Table::Zones, Table::Reports, Table::Isas, Table::Geozones];

    /// The table's name on disk.
    pub fn name(self) -> &'static str {
        match self {
            Table::Flights => "flights",
            Table::Zones => "zones",
            Table::Reports => "reports",
            Table::Isas => "rid_isas",
            Table::Geozones => "geozones",
        }
    }
}

/// The format of records that are the JSON a USS journal line held as its `record` (the JSONL journals kept
/// before the store), so a journal migrated into a store keeps its records as they were written.
pub const JOURNAL_FORMAT: u16 = 1;

/// One stored record: the version of its encoding, and its bytes in that encoding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub format: u16,
    pub bytes: Vec<u8>,
}

/// One change to a table: record `id` as it now is, or removed (`None`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Write {
    pub table: Table,
    pub id: String,
    pub record: Option<Record>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error("{0}")]
    Io(String),
    /// A file of the journals the store replaced could not be read (the path and line are in the message).
    #[error("{0}")]
    Journal(String),
}

/// Resolves once the submitted writes are durable (or failed to be).
pub type Ticket = oneshot::Receiver<Result<(), StoreError>>;

/// Where a USS keeps what must survive a restart.
pub trait UssStore: Send + Sync + 'static {
    /// Every record of `table`, by id.
    fn load(&self, table: Table) -> Result<Vec<(String, Record)>, StoreError>;

    /// Queues `writes`, one all-or-nothing group. Groups commit in submission order, so a caller that submits
    /// under the lock that orders its changes gets them on disk in that order.
    fn submit(&self, writes: Vec<Write>) -> Ticket;
}

/// A store in memory: what a USS run without a data folder keeps, gone with the process.
#[derive(Default)]
pub struct MemoryStore {
    records: Mutex<BTreeMap<(Table, String), Record>>,
}

impl UssStore for MemoryStore {
    fn load(&self, table: Table) -> Result<Vec<(String, Record)>, StoreError> {
        let records =
            self.records.lock().map_err(|_| StoreError::Io("the memory store is poisoned".into()))?;
        Ok(records
            .iter()
            .filter(|((t, _), _)| *t == table)
            .map(|((_, id), r)| (id.clone(), r.clone()))
            .collect())
    }

    fn submit(&self, writes: Vec<Write>) -> Ticket {
        let (done, ticket) = oneshot::channel();
        let outcome = self.records.lock().map(|mut records| {
            for w in writes {
                match w.record {
                    Some(r) => records.insert((w.table, w.id), r),
                    None => records.remove(&(w.table, w.id)),
                };
            }
        });
        let _ = done.send(outcome.map_err(|_| StoreError::Io("the memory store is poisoned".into())));
        ticket
    }
}

#[cfg(test)]
mod tests {
    use super::{MemoryStore, Record, Table, UssStore, Write};

    fn put(table: Table, id: &str, byte: u8) -> Write {
        Write { table, id: id.to_owned(), record: Some(Record { format: 1, bytes: vec![byte] }) }
    }

    #[test]
    fn tables_keep_their_own_records_and_removals_remove() {
        let store = MemoryStore::default();
        let mut ticket = store.submit(vec![put(Table::Flights, "a", 1), put(Table::Zones, "a", 2)]);
        assert_eq!(ticket.try_recv(), Ok(Ok(())));
        store.submit(vec![Write { table: Table::Flights, id: "a".into(), record: None }]);
        assert_eq!(store.load(Table::Flights), Ok(vec![]));
        assert_eq!(
            store.load(Table::Zones),
            Ok(vec![("a".to_owned(), Record { format: 1, bytes: vec![2] })])
        );
    }
}
