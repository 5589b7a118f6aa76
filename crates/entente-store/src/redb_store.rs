//! The embedded store: one redb file, written by a committer thread that batches groups into one fsync.

use std::path::Path;
use std::sync::Arc;

use entente_dss::{Change, CommitTicket, Snapshot, Store, StoreError};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition, WriteTransaction};

use crate::codec;
use crate::committer::Committer;

const INTENTS: TableDefinition<u128, &[u8]> = TableDefinition::new("operational_intents");
const CONSTRAINTS: TableDefinition<u128, &[u8]> = TableDefinition::new("constraints");
const SUBSCRIPTIONS: TableDefinition<u128, &[u8]> = TableDefinition::new("subscriptions");
/// Notification indices newer than the one in the subscription's record, for both kinds of subscription
/// (ids are UUIDs, so the kinds cannot collide).
const NOTIFICATION_INDICES: TableDefinition<u128, i32> = TableDefinition::new("notification_indices");
const AVAILABILITY: TableDefinition<&str, &[u8]> = TableDefinition::new("uss_availability");
const REPORTS: TableDefinition<&str, &[u8]> = TableDefinition::new("reports");
const ISAS: TableDefinition<u128, &[u8]> = TableDefinition::new("identification_service_areas");
const RID_SUBSCRIPTIONS: TableDefinition<u128, &[u8]> = TableDefinition::new("rid_subscriptions");

const CACHE_BYTES: usize = 4 << 20;

pub struct RedbStore {
    db: Arc<Database>,
    committer: Committer<Change, StoreError>,
}

fn io(e: impl std::fmt::Display) -> StoreError {
    StoreError::Io(e.to_string())
}

fn io_str(e: &str) -> StoreError {
    io(e)
}

impl RedbStore {
    /// Opens or creates `dir/entente.redb`.
    pub fn open(dir: &Path) -> Result<RedbStore, StoreError> {
        std::fs::create_dir_all(dir).map_err(|e| io(format!("cannot create {}: {e}", dir.display())))?;
        let path = dir.join("entente.redb");
        // Everything is read once at start-up and then served from memory, so a large page cache would only
        // duplicate the airspace; writes need just the pages along the paths they change.
        let db = Database::builder()
            .set_cache_size(CACHE_BYTES)
            .create(&path)
            .map_err(|e| io(format!("cannot open {}: {e}", path.display())))?;
        let db = Arc::new(db);
        let txn = db.begin_write().map_err(io)?;
        {
            txn.open_table(INTENTS).map_err(io)?;
            txn.open_table(CONSTRAINTS).map_err(io)?;
            txn.open_table(SUBSCRIPTIONS).map_err(io)?;
            txn.open_table(NOTIFICATION_INDICES).map_err(io)?;
            txn.open_table(AVAILABILITY).map_err(io)?;
            txn.open_table(REPORTS).map_err(io)?;
            txn.open_table(ISAS).map_err(io)?;
            txn.open_table(RID_SUBSCRIPTIONS).map_err(io)?;
        }
        txn.commit().map_err(io)?;
        let committer = Committer::start("redb-committer", db.clone(), apply, io_str).map_err(io)?;
        Ok(RedbStore { db, committer })
    }
}

fn apply(txn: &WriteTransaction, changes: &mut dyn Iterator<Item = &Change>) -> Result<(), StoreError> {
    let mut intents = txn.open_table(INTENTS).map_err(io)?;
    let mut constraints = txn.open_table(CONSTRAINTS).map_err(io)?;
    let mut subscriptions = txn.open_table(SUBSCRIPTIONS).map_err(io)?;
    let mut indices = txn.open_table(NOTIFICATION_INDICES).map_err(io)?;
    let mut availability = txn.open_table(AVAILABILITY).map_err(io)?;
    let mut reports = txn.open_table(REPORTS).map_err(io)?;
    let mut isas = txn.open_table(ISAS).map_err(io)?;
    let mut rid_subscriptions = txn.open_table(RID_SUBSCRIPTIONS).map_err(io)?;
    for change in changes {
        match change {
            Change::PutOperationalIntent(o) => {
                intents.insert(codec::id_key(o.id), codec::encode_intent(o).as_slice()).map_err(io)?;
            }
            Change::DeleteOperationalIntent(id) => {
                intents.remove(codec::id_key(*id)).map_err(io)?;
            }
            Change::PutConstraint(c) => {
                constraints
                    .insert(codec::id_key(c.id), codec::encode_constraint(c).as_slice())
                    .map_err(io)?;
            }
            Change::DeleteConstraint(id) => {
                constraints.remove(codec::id_key(*id)).map_err(io)?;
            }
            Change::PutSubscription(s) => {
                subscriptions
                    .insert(codec::id_key(s.id), codec::encode_subscription(s).as_slice())
                    .map_err(io)?;
                indices.remove(codec::id_key(s.id)).map_err(io)?;
            }
            Change::SetNotificationIndex { id, notification_index } => {
                indices.insert(codec::id_key(*id), *notification_index).map_err(io)?;
            }
            Change::DeleteSubscription(id) => {
                subscriptions.remove(codec::id_key(*id)).map_err(io)?;
                indices.remove(codec::id_key(*id)).map_err(io)?;
            }
            Change::PutAvailability(a) => {
                availability.insert(a.uss.as_str(), codec::encode_availability(a).as_slice()).map_err(io)?;
            }
            Change::PutReport(r) => {
                reports.insert(r.id.as_str(), codec::encode_report(r).as_slice()).map_err(io)?;
            }
            Change::PutIsa(i) => {
                isas.insert(codec::id_key(i.id), codec::encode_isa(i).as_slice()).map_err(io)?;
            }
            Change::DeleteIsa(id) => {
                isas.remove(codec::id_key(*id)).map_err(io)?;
            }
            Change::PutRidSubscription(s) => {
                rid_subscriptions
                    .insert(codec::id_key(s.id), codec::encode_rid_subscription(s).as_slice())
                    .map_err(io)?;
                indices.remove(codec::id_key(s.id)).map_err(io)?;
            }
            Change::DeleteRidSubscription(id) => {
                rid_subscriptions.remove(codec::id_key(*id)).map_err(io)?;
                indices.remove(codec::id_key(*id)).map_err(io)?;
            }
        }
    }
    Ok(())
}

impl Store for RedbStore {
    fn load(&self) -> Result<Snapshot, StoreError> {
        let txn = self.db.begin_read().map_err(io)?;
        let mut snapshot = Snapshot::default();
        for row in txn.open_table(INTENTS).map_err(io)?.iter().map_err(io)? {
            let (_, v) = row.map_err(io)?;
            snapshot.operational_intents.push(codec::decode_intent(v.value())?);
        }
        for row in txn.open_table(CONSTRAINTS).map_err(io)?.iter().map_err(io)? {
            let (_, v) = row.map_err(io)?;
            snapshot.constraints.push(codec::decode_constraint(v.value())?);
        }
        let indices = txn.open_table(NOTIFICATION_INDICES).map_err(io)?;
        for row in txn.open_table(SUBSCRIPTIONS).map_err(io)?.iter().map_err(io)? {
            let (k, v) = row.map_err(io)?;
            let mut s = codec::decode_subscription(v.value())?;
            if let Some(index) = indices.get(k.value()).map_err(io)? {
                s.notification_index = index.value();
            }
            snapshot.subscriptions.push(s);
        }
        for row in txn.open_table(AVAILABILITY).map_err(io)?.iter().map_err(io)? {
            let (_, v) = row.map_err(io)?;
            snapshot.availability.push(codec::decode_availability(v.value())?);
        }
        for row in txn.open_table(ISAS).map_err(io)?.iter().map_err(io)? {
            let (_, v) = row.map_err(io)?;
            snapshot.isas.push(codec::decode_isa(v.value())?);
        }
        for row in txn.open_table(RID_SUBSCRIPTIONS).map_err(io)?.iter().map_err(io)? {
            let (k, v) = row.map_err(io)?;
            let mut s = codec::decode_rid_subscription(v.value())?;
            if let Some(index) = indices.get(k.value()).map_err(io)? {
                s.notification_index = index.value();
            }
            snapshot.rid_subscriptions.push(s);
        }
        Ok(snapshot)
    }

    fn submit(&self, changes: Vec<Change>) -> CommitTicket {
        self.committer.submit(changes)
    }
}
