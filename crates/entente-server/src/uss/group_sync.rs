//! Group commit for the USS's append-only audit log: lines are appended in order under the writer's own lock,
//! then synced here by one thread of the log's own, where one sync covers every line appended before it began.
//! Waiters share syncs instead of queueing for one each, and a request waiting for its lines awaits without
//! holding a runtime worker: on a two-core machine, workers handed over to new threads while theirs waited for
//! the disk cost more than the syncs themselves.

use std::fs::File;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;

use tokio::sync::watch;

pub(crate) struct GroupSync {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

struct Shared {
    /// A handle on the file lines are appended to, and its path for the log.
    file: File,
    path: PathBuf,
    appended: AtomicU64,
    state: Mutex<State>,
    /// Wakes the syncing thread when a ticket is wanted on disk, or when it is to stop.
    work: Condvar,
    /// Wakes blocking waiters when a sync ends.
    finished: Condvar,
    /// Wakes async waiters when a sync ends, with `State::done`.
    done: watch::Sender<u64>,
}

#[derive(Default)]
struct State {
    /// The highest ticket a waiter wants on disk.
    wanted: u64,
    /// Every ticket up to this one went through a sync (a failed sync is logged, and its waiters go on, as an
    /// exchange that already happened cannot be undone by refusing to proceed).
    done: u64,
    stop: bool,
    #[cfg(test)]
    syncs: u64,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding this lock leaves plain counters behind, still meaningful.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Asks for `ticket` on disk; `false` if it already is.
    fn want(&self, ticket: u64) -> bool {
        let mut state = self.state();
        if state.done >= ticket {
            return false;
        }
        state.wanted = state.wanted.max(ticket);
        self.work.notify_one();
        true
    }

    fn run(&self) {
        loop {
            let mut state = self.state();
            while state.wanted <= state.done && !state.stop {
                state = self.work.wait(state).unwrap_or_else(|poisoned| poisoned.into_inner());
            }
            if state.wanted <= state.done {
                return;
            }
            drop(state);
            // Every line counted by now was written before this sync starts, so the sync covers it.
            let upto = self.appended.load(Ordering::SeqCst);
            if let Err(e) = self.file.sync_data() {
                tracing::error!(path = %self.path.display(), error = %e, "audit log sync failed");
            }
            let mut state = self.state();
            state.done = state.done.max(upto);
            #[cfg(test)]
            {
                state.syncs += 1;
            }
            let done = state.done;
            drop(state);
            self.finished.notify_all();
            self.done.send_replace(done);
        }
    }
}

impl GroupSync {
    pub(crate) fn new(file: &File, path: PathBuf) -> std::io::Result<GroupSync> {
        let shared = Arc::new(Shared {
            file: file.try_clone()?,
            path,
            appended: AtomicU64::new(0),
            state: Mutex::new(State::default()),
            work: Condvar::new(),
            finished: Condvar::new(),
            done: watch::Sender::new(0),
        });
        let thread = std::thread::Builder::new().name("entente-audit-sync".into()).spawn({
            let shared = shared.clone();
            move || shared.run()
        })?;
        Ok(GroupSync { shared, thread: Some(thread) })
    }

    /// Counts a line just appended; call under the lock that orders appends. Returns the ticket to sync.
    pub(crate) fn appended(&self) -> u64 {
        self.shared.appended.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// Returns once the line of `ticket` went through a sync, awaiting it.
    pub(crate) async fn synced(&self, ticket: u64) {
        let mut done = self.shared.done.subscribe();
        if self.shared.want(ticket) {
            // The sender lives as long as `self`, so the wait ends only with the sync.
            let _ = done.wait_for(|done| *done >= ticket).await;
        }
    }

    /// Returns once the line of `ticket` went through a sync, blocking the calling thread. On a worker of a
    /// multi-threaded runtime the wait first hands the worker's other tasks to another thread, so that they do not
    /// wait with it.
    pub(crate) fn sync(&self, ticket: u64) {
        let wait = || {
            if self.shared.want(ticket) {
                let mut state = self.shared.state();
                while state.done < ticket {
                    state = self.shared.finished.wait(state).unwrap_or_else(|poisoned| poisoned.into_inner());
                }
            }
        };
        let multi_threaded = tokio::runtime::Handle::try_current()
            .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
        if multi_threaded { tokio::task::block_in_place(wait) } else { wait() }
    }

    #[cfg(test)]
    pub(crate) fn synced_upto(&self) -> u64 {
        self.shared.state().done
    }

    #[cfg(test)]
    pub(crate) fn syncs(&self) -> u64 {
        self.shared.state().syncs
    }
}

impl Drop for GroupSync {
    /// Syncs what was asked for, then stops the thread.
    fn drop(&mut self) {
        self.shared.state().stop = true;
        self.shared.work.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicBool;
    use std::time::Duration;

    use super::*;

    fn group_sync(dir: &tempfile::TempDir) -> GroupSync {
        let path = dir.path().join("log");
        GroupSync::new(&File::create(&path).unwrap(), path).unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn a_blocking_wait_leaves_the_worker_to_other_tasks() {
        let dir = tempfile::tempdir().unwrap();
        let sync = Arc::new(group_sync(&dir));
        let ticket = sync.appended();
        // Another thread holds the sync's state for half a second, so no sync can end meanwhile, as with a slow
        // disk, and says when it let go.
        let released = Arc::new(AtomicBool::new(false));
        let (held, holding) = std::sync::mpsc::channel();
        let holder = {
            let (sync, released) = (sync.clone(), released.clone());
            std::thread::spawn(move || {
                let _state = sync.shared.state();
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
        waiting.await.unwrap();
        holder.join().unwrap();
        assert!(sync.synced_upto() >= ticket);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_waiters_share_syncs_and_each_returns_after_its_line() {
        let dir = tempfile::tempdir().unwrap();
        let sync = Arc::new(group_sync(&dir));
        let waiters: Vec<_> = (0..200)
            .map(|_| {
                let sync = sync.clone();
                tokio::spawn(async move {
                    let ticket = sync.appended();
                    sync.synced(ticket).await;
                    assert!(sync.synced_upto() >= ticket);
                })
            })
            .collect();
        for w in waiters {
            w.await.unwrap();
        }
        assert_eq!(sync.synced_upto(), 200);
        assert!(sync.syncs() >= 1 && sync.syncs() <= 200, "{} syncs", sync.syncs());
        // A line already synced costs no other sync.
        let before = sync.syncs();
        sync.synced(200).await;
        sync.sync(200);
        assert_eq!(sync.syncs(), before);
    }

    #[test]
    fn dropping_stops_the_thread_after_what_was_asked() {
        let dir = tempfile::tempdir().unwrap();
        let sync = group_sync(&dir);
        let ticket = sync.appended();
        sync.sync(ticket);
        assert_eq!(sync.synced_upto(), ticket);
        drop(sync);
    }
}
