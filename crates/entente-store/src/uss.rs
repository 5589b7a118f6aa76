//! A USS's store: one redb file (`uss.redb` in its data folder), a table per kind of record (flights, zones,
//! reports, Remote ID ISAs), each record its format version (two bytes, big-endian) and its bytes. Writes commit
//! through the same group committer as the DSS's store. The JSONL journals a USS kept before are migrated on
//! first start (`uss/journals.rs`).

mod journals;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use entente_uss::store::{Record, StoreError, Table, Ticket, UssStore, Write};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition, TableHandle, WriteTransaction};

use crate::committer::Committer;

/// The file of a USS's store in its data folder.
pub const USS_STORE_FILE: &str = "uss.redb";

const CACHE_BYTES: usize = 1 << 20;

fn definition(table: Table) -> TableDefinition<'static, &'static str, &'static [u8]> {
    TableDefinition::new(table.name())
}

fn io(e: impl std::fmt::Display) -> StoreError {
    StoreError::Io(e.to_string())
}

fn io_str(e: &str) -> StoreError {
    io(e)
}

fn encode(record: &Record) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(2 + record.bytes.len());
    bytes.extend_from_slice(&record.format.to_be_bytes());
    bytes.extend_from_slice(&record.bytes);
    bytes
}

fn decode(table: Table, id: &str, bytes: &[u8]) -> Result<Record, StoreError> {
    match bytes {
        [hi, lo, rest @ ..] => Ok(Record { format: u16::from_be_bytes([*hi, *lo]), bytes: rest.to_vec() }),
        _ => Err(StoreError::Io(format!(
            "{} record {id:?}: {} bytes, too short for a record",
            table.name(),
            bytes.len()
        ))),
    }
}

pub struct UssRedbStore {
    db: Arc<Database>,
    committer: Committer<Write, StoreError>,
}

impl UssRedbStore {
    /// Opens or creates `dir/uss.redb`. A table the file lacks is created, filled from the journal a USS kept
    /// it in before (`flights.jsonl`, `constraints.jsonl`, `reports.jsonl`, `rid-isas.jsonl` in `dir`) when
    /// there is one, all in one transaction; each journal migrated is then renamed `<name>.migrated`.
    pub fn open(dir: &Path) -> Result<UssRedbStore, StoreError> {
        std::fs::create_dir_all(dir).map_err(|e| io(format!("cannot create {}: {e}", dir.display())))?;
        let path = dir.join(USS_STORE_FILE);
        let db = Database::builder()
            .set_cache_size(CACHE_BYTES)
            .create(&path)
            .map_err(|e| io(format!("cannot open {}: {e}", path.display())))?;
        let existing: Vec<String> = {
            let txn = db.begin_read().map_err(io)?;
            txn.list_tables().map_err(io)?.map(|t| t.name().to_owned()).collect()
        };
        let missing: Vec<Table> =
            Table::ALL.into_iter().filter(|t| !existing.iter().any(|name| name == t.name())).collect();
        let mut migrated: Vec<PathBuf> = Vec::new();
        let mut txn = db.begin_write().map_err(io)?;
        txn.set_durability(redb::Durability::Immediate).map_err(io)?;
        for table in Table::ALL {
            let mut open = txn.open_table(definition(table)).map_err(io)?;
            if !missing.contains(&table) {
                journals::warn_if_left(dir, table);
                continue;
            }
            let Some(journal) = journals::read(dir, table)? else { continue };
            for (id, record) in &journal.records {
                open.insert(id.as_str(), encode(record).as_slice()).map_err(io)?;
            }
            tracing::info!(
                journal = %journal.path.display(),
                records = journal.records.len(),
                table = table.name(),
                "journal migrated"
            );
            migrated.push(journal.path);
        }
        txn.commit().map_err(io)?;
        for journal in migrated {
            journals::set_aside(&journal)?;
        }
        let db = Arc::new(db);
        let committer = Committer::start("uss-redb-committer", db.clone(), apply, io_str).map_err(io)?;
        Ok(UssRedbStore { db, committer })
    }
}

fn apply(txn: &WriteTransaction, writes: &mut dyn Iterator<Item = &Write>) -> Result<(), StoreError> {
    for w in writes {
        let mut table = txn.open_table(definition(w.table)).map_err(io)?;
        match &w.record {
            Some(record) => table.insert(w.id.as_str(), encode(record).as_slice()).map_err(io)?,
            None => table.remove(w.id.as_str()).map_err(io)?,
        };
    }
    Ok(())
}

impl UssStore for UssRedbStore {
    fn load(&self, table: Table) -> Result<Vec<(String, Record)>, StoreError> {
        let txn = self.db.begin_read().map_err(io)?;
        let mut records = Vec::new();
        for row in txn.open_table(definition(table)).map_err(io)?.iter().map_err(io)? {
            let (k, v) = row.map_err(io)?;
            let id = k.value().to_owned();
            let record = decode(table, &id, v.value())?;
            records.push((id, record));
        }
        Ok(records)
    }

    fn submit(&self, writes: Vec<Write>) -> Ticket {
        self.committer.submit(writes)
    }
}

#[cfg(test)]
mod tests;
