//! Group commit for the USS's append-only audit log: lines are appended in order under the writer's own lock,
//! then synced here, where one sync covers every line appended before it began. Concurrent exchanges then share
//! syncs instead of queueing for one each (a sync costs milliseconds on most disks).

use std::fs::File;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;

pub(crate) struct GroupSync {
    /// A handle on the file lines are appended to, and how many appended lines are known synced.
    synced: Mutex<(File, u64)>,
    appended: AtomicU64,
}

impl GroupSync {
    pub(crate) fn new(file: &File) -> std::io::Result<GroupSync> {
        Ok(GroupSync { synced: Mutex::new((file.try_clone()?, 0)), appended: AtomicU64::new(0) })
    }

    /// Counts a line just appended; call under the lock that orders appends. Returns the ticket to sync.
    pub(crate) fn appended(&self) -> u64 {
        self.appended.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// Returns once the line of `ticket` is on disk.
    pub(crate) fn sync(&self, ticket: u64) -> std::io::Result<()> {
        let mut synced = self.synced.lock();
        if synced.1 >= ticket {
            return Ok(());
        }
        // Every line counted by now was written before this sync starts, so the sync covers it.
        let upto = self.appended.load(Ordering::SeqCst);
        synced.0.sync_data()?;
        synced.1 = upto;
        Ok(())
    }

    #[cfg(test)]
    pub(crate) fn synced(&self) -> u64 {
        self.synced.lock().1
    }
}
