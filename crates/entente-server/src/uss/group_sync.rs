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

    /// Returns once the line of `ticket` is on disk. On a worker of a multi-threaded runtime the wait (for the
    /// disk, or for the lock while another caller syncs) first hands the worker's other tasks to another thread:
    /// with one worker per core, two exchanges waiting for the disk would otherwise stop every request of the
    /// process for as long as a sync takes. The caller still waits for its line to be on disk.
    pub(crate) fn sync(&self, ticket: u64) -> std::io::Result<()> {
        let multi_threaded = tokio::runtime::Handle::try_current()
            .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
        if multi_threaded {
            tokio::task::block_in_place(|| self.sync_now(ticket))
        } else {
            self.sync_now(ticket)
        }
    }

    fn sync_now(&self, ticket: u64) -> std::io::Result<()> {
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::AtomicBool;
    use std::time::Duration;

    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn a_wait_for_the_disk_leaves_the_worker_to_other_tasks() {
        let dir = tempfile::tempdir().unwrap();
        let file = File::create(dir.path().join("log")).unwrap();
        let sync = Arc::new(GroupSync::new(&file).unwrap());
        let ticket = sync.appended();
        // Another thread holds the sync for half a second, as a slow disk would, and says when it let go.
        let released = Arc::new(AtomicBool::new(false));
        let (held, holding) = std::sync::mpsc::channel();
        let holder = {
            let (sync, released) = (sync.clone(), released.clone());
            std::thread::spawn(move || {
                let _synced = sync.synced.lock();
                held.send(()).unwrap();
                std::thread::sleep(Duration::from_millis(500));
                released.store(true, Ordering::SeqCst);
            })
        };
        holding.recv().unwrap();
        // The runtime's only worker runs a task that waits for the sync; another task must still run meanwhile.
        let (started, starting) = std::sync::mpsc::channel();
        let waiting = tokio::spawn({
            let sync = sync.clone();
            async move {
                started.send(()).unwrap();
                sync.sync(ticket)
            }
        });
        starting.recv().unwrap();
        let ran_while_held = tokio::spawn({
            let released = released.clone();
            async move { !released.load(Ordering::SeqCst) }
        });
        assert!(ran_while_held.await.unwrap(), "the other task ran only once the sync was done");
        waiting.await.unwrap().unwrap();
        holder.join().unwrap();
        assert_eq!(sync.synced(), ticket);
    }
}
