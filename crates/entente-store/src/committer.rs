//! Group commit on a redb file: a thread takes every group of writes queued meanwhile, commits them in one
//! transaction (`Durability::Immediate`, so one fsync) and answers each group's ticket. Concurrent writers then
//! share fsyncs instead of queueing for one each. The DSS's store and a USS's store both commit through it.

use std::sync::Arc;
use std::sync::mpsc;
use std::thread;

use redb::{Database, Durability, WriteTransaction};
use tokio::sync::oneshot;

/// Most groups folded into one transaction; bounds the latency a large backlog adds to its first group.
const MAX_BATCH: usize = 512;

/// Applies a batch of groups to a transaction (the committer commits it).
pub(crate) type Apply<W, E> = fn(&WriteTransaction, &mut dyn Iterator<Item = &W>) -> Result<(), E>;

type Job<W, E> = (Vec<W>, oneshot::Sender<Result<(), E>>);

pub(crate) struct Committer<W, E> {
    /// `None` only while dropping: closing the queue is what stops the thread.
    jobs: Option<mpsc::Sender<Job<W, E>>>,
    thread: Option<thread::JoinHandle<()>>,
    /// Makes the error of a failed commit, or of a group queued when the thread is gone.
    io: fn(&str) -> E,
}

impl<W: Send + 'static, E: Clone + std::fmt::Display + Send + 'static> Committer<W, E> {
    pub(crate) fn start(
        name: &str,
        db: Arc<Database>,
        apply: Apply<W, E>,
        io: fn(&str) -> E,
    ) -> std::io::Result<Committer<W, E>> {
        let (jobs, queue) = mpsc::channel::<Job<W, E>>();
        let thread = thread::Builder::new().name(name.to_owned()).spawn(move || {
            commit_loop(&db, &queue, apply, io);
        })?;
        Ok(Committer { jobs: Some(jobs), thread: Some(thread), io })
    }

    /// Queues one group; the ticket resolves once it committed (or failed to).
    pub(crate) fn submit(&self, writes: Vec<W>) -> oneshot::Receiver<Result<(), E>> {
        let (done, ticket) = oneshot::channel();
        let Some(jobs) = &self.jobs else {
            let _ = done.send(Err((self.io)("the store is closing")));
            return ticket;
        };
        if let Err(mpsc::SendError((_, done))) = jobs.send((writes, done)) {
            let _ = done.send(Err((self.io)("the committer thread stopped")));
        }
        ticket
    }
}

fn commit_loop<W, E: Clone + std::fmt::Display>(
    db: &Database,
    queue: &mpsc::Receiver<Job<W, E>>,
    apply: Apply<W, E>,
    io: fn(&str) -> E,
) {
    while let Ok(first) = queue.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let outcome = commit(db, &mut batch.iter().flat_map(|(writes, _)| writes), apply, io);
        if let Err(e) = &outcome {
            tracing::error!(error = %e, groups = batch.len(), "redb commit failed");
        }
        for (_, done) in batch {
            // A dropped receiver means the caller stopped waiting; the commit stands regardless.
            let _ = done.send(outcome.clone());
        }
    }
}

fn commit<W, E>(
    db: &Database,
    writes: &mut dyn Iterator<Item = &W>,
    apply: Apply<W, E>,
    io: fn(&str) -> E,
) -> Result<(), E> {
    let mut txn = db.begin_write().map_err(|e| io(&e.to_string()))?;
    txn.set_durability(Durability::Immediate).map_err(|e| io(&e.to_string()))?;
    apply(&txn, writes)?;
    txn.commit().map_err(|e| io(&e.to_string()))
}

/// Closes the queue and waits for the thread, which commits what was queued and drops its handle on the
/// database first, so the same file can be opened again at once (a restart in the same process).
impl<W, E> Drop for Committer<W, E> {
    fn drop(&mut self) {
        self.jobs = None;
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            tracing::error!("a redb committer thread panicked");
        }
    }
}
