//! The DSS of one instance: decides writes on its in-memory airspace and answers once they are durable,
//! alone on an embedded store or as one of a pool sharing a store.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::RwLock;
use tokio::sync::watch;

use crate::airspace::{Airspace, Meets, Picture};
use crate::caller::Caller;
use crate::error::{DssError, StoreError};
use crate::limits::{Clock, Limits};
use crate::model::{
    Availability, AvailabilityRecord, EntityId, IdentificationServiceArea, Report, RidSubscription,
    Timestamp, Volume,
};
use crate::ops::constraint::{ConstraintChange, PutConstraint};
use crate::ops::evict::Evicted;
use crate::ops::intent::{IntentChange, PutOperationalIntent};
use crate::ops::rid::IsaSearch;
use crate::ops::rid::isa::{IsaChange, PutIsa};
use crate::ops::rid::subscription::{PutRidSubscription, RidSubscriptionPut};
use crate::ops::subscription::{PutSubscription, SubscriptionPut};
use crate::ops::validate::{self, Oversize, Required};
use crate::ops::{self, ConstraintView, IntentView, Notifies, Plan, SubscriptionView};
use crate::store::{Change, Committed, Revision, SharedStore, Snapshot, Store};

pub struct Dss {
    space: RwLock<Airspace>,
    backend: Backend,
    clock: Arc<dyn Clock>,
    limits: Limits,
    /// Counts the writes applied to the airspace, so displays can follow it without polling.
    changes: watch::Sender<u64>,
}

enum Backend {
    /// The only instance: the write lock serialises decisions and the store makes them durable.
    Alone {
        store: Arc<dyn Store>,
        /// Set when a commit failed after its changes were applied in memory: memory is then ahead of disk.
        poisoned: AtomicBool,
    },
    /// One of a pool: decisions are optimistic, and the airspace changes only through the store's feed
    /// ([`Dss::replicate`]), so every instance applies every commit in the same order.
    Pooled {
        store: Arc<dyn SharedStore>,
        /// The newest revision applied to the airspace; changed only under the airspace's write lock.
        applied: watch::Sender<Revision>,
        commits: AtomicU64,
        /// Decisions refused at commit because another write (of any instance) landed first.
        stale: AtomicU64,
        /// Held by a write deciding again after a refusal, one attempt at a time: writes refused together decide
        /// again one after the other, each on the state the previous one committed, instead of all at once on
        /// the same state, where only one of them could commit and the rest would be refused again.
        retrying: tokio::sync::Mutex<()>,
    },
}

/// How this instance's writes fared in the pool.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PoolStats {
    pub commits: u64,
    pub stale: u64,
}

/// How long a pooled write keeps retrying after other writes invalidated its decision.
const CONTENTION_DEADLINE: Duration = Duration::from_secs(20);

fn contended() -> DssError {
    DssError::Contended(format!(
        "other writes kept changing this area for {} s; retry the request",
        CONTENTION_DEADLINE.as_secs()
    ))
}

/// How long a pooled instance waits for the store's feed to bring a revision it knows was committed.
const CATCH_UP_TIMEOUT: Duration = Duration::from_secs(10);

/// Most entities one pooled eviction round deletes, keeping its transaction within the store's limits; no
/// other decision changes as many.
pub const POOLED_EVICTION_BATCH: usize = 24;

const OPEN_AREA: Required = Required { time: false, altitude: false };

impl Dss {
    pub fn open(store: Arc<dyn Store>, clock: Arc<dyn Clock>, limits: Limits) -> Result<Dss, DssError> {
        let snapshot = store.load()?;
        Ok(Dss {
            space: RwLock::new(Airspace::from_snapshot(snapshot)),
            backend: Backend::Alone { store, poisoned: AtomicBool::new(false) },
            clock,
            limits,
            changes: watch::Sender::new(0),
        })
    }

    /// One instance of a pool, starting from `snapshot` as of revision `at`; the caller must then feed it
    /// every later commit through [`Dss::replicate`].
    pub fn pooled(
        store: Arc<dyn SharedStore>,
        snapshot: Snapshot,
        at: Revision,
        clock: Arc<dyn Clock>,
        limits: Limits,
    ) -> Dss {
        Dss {
            space: RwLock::new(Airspace::from_snapshot(snapshot)),
            backend: Backend::Pooled {
                store,
                applied: watch::Sender::new(at),
                commits: AtomicU64::new(0),
                stale: AtomicU64::new(0),
                retrying: tokio::sync::Mutex::new(()),
            },
            clock,
            limits,
            changes: watch::Sender::new(0),
        }
    }

    /// Applies one commit of the pool, in revision order.
    pub fn replicate(&self, at: Revision, changes: &[Change]) {
        let Backend::Pooled { applied, .. } = &self.backend else { return };
        let mut space = self.space.write();
        for change in changes {
            space.apply(change);
        }
        applied.send_replace(at);
        self.changed();
    }

    /// Replaces the airspace with a fresh snapshot (after the feed lost history it could not replay).
    pub fn reset(&self, snapshot: Snapshot, at: Revision) {
        let Backend::Pooled { applied, .. } = &self.backend else { return };
        let mut space = self.space.write();
        *space = Airspace::from_snapshot(snapshot);
        applied.send_replace(at);
        self.changed();
    }

    /// Commits and stale decisions so far (`None` when alone).
    pub fn pool_stats(&self) -> Option<PoolStats> {
        match &self.backend {
            Backend::Alone { .. } => None,
            Backend::Pooled { commits, stale, .. } => Some(PoolStats {
                commits: commits.load(Ordering::Relaxed),
                stale: stale.load(Ordering::Relaxed),
            }),
        }
    }

    /// The newest pool revision this instance applied (`None` when it is alone).
    pub fn applied(&self) -> Option<Revision> {
        match &self.backend {
            Backend::Alone { .. } => None,
            Backend::Pooled { applied, .. } => Some(*applied.borrow()),
        }
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// Counts of live intents, constraints and subscriptions.
    pub fn counts(&self) -> (usize, usize, usize) {
        self.space.read().counts()
    }

    /// Counts of stored ISAs and RID subscriptions.
    pub fn rid_counts(&self) -> (usize, usize) {
        self.space.read().rid_counts()
    }

    /// A counter that grows after every write applied to the airspace (several writes may show as one
    /// step): wait on it, then take a [`Dss::picture`].
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    fn changed(&self) {
        self.changes.send_modify(|n| *n += 1);
    }

    /// Every live entity, with only the volumes in force at `at` when given, and the intents that
    /// intersect in 4D. It shows the state as of the newest write acknowledged anywhere in a pool.
    pub async fn picture(&self, at: Option<Timestamp>) -> Result<Picture, DssError> {
        self.fresh().await?;
        Ok(self.space.read().picture(self.clock.now(), at))
    }

    async fn write<T: Notifies>(
        &self,
        decide: impl Fn(&Airspace, Timestamp) -> Result<Plan<T>, DssError>,
    ) -> Result<T, DssError> {
        match &self.backend {
            Backend::Alone { store, poisoned } => self.write_alone(store.as_ref(), poisoned, decide).await,
            Backend::Pooled { store, commits, stale, retrying, .. } => {
                self.write_pooled(store.as_ref(), commits, stale, retrying, decide).await
            }
        }
    }

    /// Decides and applies under the write lock, so the key check and the write are one step;
    /// the durable commit is awaited after the lock is released, letting the store batch commits.
    async fn write_alone<T>(
        &self,
        store: &dyn Store,
        poisoned: &AtomicBool,
        decide: impl FnOnce(&Airspace, Timestamp) -> Result<Plan<T>, DssError>,
    ) -> Result<T, DssError> {
        if poisoned.load(Ordering::Acquire) {
            return Err(StoreError::Poisoned.into());
        }
        let (ticket, output) = {
            let mut space = self.space.write();
            let plan = decide(&space, self.clock.now())?;
            for change in &plan.changes {
                space.apply(change);
            }
            if !plan.changes.is_empty() {
                self.changed();
            }
            (store.submit(plan.changes), plan.output)
        };
        let outcome = ticket.await.unwrap_or_else(|_| Err(StoreError::Io("the committer stopped".into())));
        if let Err(e) = outcome {
            poisoned.store(true, Ordering::Release);
            tracing::error!(error = %e, "commit failed; refusing further writes");
            return Err(e.into());
        }
        Ok(output)
    }

    /// Decides on the replica, then commits only if no write that could change the decision landed since;
    /// otherwise decides again once the replica has the newer state. A commit is optimistic, so the first
    /// decision uses the replica as it is; a refusal, which writes nothing and is only final if made on
    /// fresh state, is decided again after catching up with the pool. Answers once the store acknowledged the
    /// commit: every read started after that, here or elsewhere, sees it ([`SharedStore::latest`]).
    ///
    /// A write refused at commit decides again only once it holds `retrying`, for one attempt at a time (the
    /// lock is fair, so refused writes elsewhere take their turns), and an attempt that commits lets the
    /// replica apply its commit before the next one decides.
    async fn write_pooled<T: Notifies>(
        &self,
        store: &dyn SharedStore,
        commits: &AtomicU64,
        stale: &AtomicU64,
        retrying: &tokio::sync::Mutex<()>,
        decide: impl Fn(&Airspace, Timestamp) -> Result<Plan<T>, DssError>,
    ) -> Result<T, DssError> {
        let deadline = tokio::time::Instant::now() + CONTENTION_DEADLINE;
        let mut fresh = false;
        let mut turn = None;
        loop {
            let decided = {
                let space = self.space.read();
                let read_at = self.applied().unwrap_or_default();
                decide(&space, self.clock.now()).map(|plan| {
                    let footprint = space.footprint(&plan.changes);
                    (plan, footprint, read_at)
                })
            };
            // An answer that writes nothing (a refusal, or nothing to do) stands only if decided on fresh state.
            let (plan, footprint, read_at) = match decided {
                Ok(decided) if !decided.0.changes.is_empty() => decided,
                answer if fresh => return answer.map(|(plan, _, _)| plan.output),
                _ => {
                    self.fresh().await?;
                    fresh = true;
                    continue;
                }
            };
            match store.commit_if(plan.changes, footprint, read_at).await? {
                Committed::At(at, assigned) => {
                    commits.fetch_add(1, Ordering::Relaxed);
                    if turn.is_some() {
                        // The write is committed whatever this wait says; it only spares the next turn a
                        // decision on state without this commit.
                        let _ = self.caught_up(at).await;
                    }
                    let mut output = plan.output;
                    output.assign(&assigned);
                    return Ok(output);
                }
                Committed::Stale(newer) if tokio::time::Instant::now() < deadline => {
                    stale.fetch_add(1, Ordering::Relaxed);
                    // Back of the queue: a write refused again waits behind those refused meanwhile.
                    drop(turn.take());
                    let next = tokio::time::timeout_at(deadline, retrying.lock()).await;
                    turn = Some(next.map_err(|_| contended())?);
                    self.caught_up(newer).await?;
                }
                Committed::Stale(_) => return Err(contended()),
            }
        }
    }

    /// Waits until the replica applied `target` (no-op when alone).
    async fn caught_up(&self, target: Revision) -> Result<(), DssError> {
        let Backend::Pooled { applied, .. } = &self.backend else { return Ok(()) };
        let mut seen = applied.subscribe();
        match tokio::time::timeout(CATCH_UP_TIMEOUT, seen.wait_for(|r| *r >= target)).await {
            Ok(Ok(_)) => Ok(()),
            _ => Err(StoreError::Io(format!(
                "this instance has not received revision {target} of the pool within {} s",
                CATCH_UP_TIMEOUT.as_secs()
            ))
            .into()),
        }
    }

    /// Makes a read linearizable: in a pool it answers only after applying every write acknowledged anywhere
    /// before the read began.
    async fn fresh(&self) -> Result<(), DssError> {
        if let Backend::Pooled { store, .. } = &self.backend {
            let target = store.latest().await?;
            self.caught_up(target).await?;
        }
        Ok(())
    }

    fn query_area(&self, area: &Volume) -> Result<(), DssError> {
        validate::volume(area, "area_of_interest", OPEN_AREA, Oversize::TooLarge, &self.limits)
    }

    fn capped<T>(&self, found: Vec<T>) -> Result<Vec<T>, DssError> {
        if found.len() > self.limits.max_results {
            return Err(DssError::AreaTooLarge(format!(
                "area_of_interest: {} results exceed the limit of {}; query a smaller area or time window",
                found.len(),
                self.limits.max_results
            )));
        }
        Ok(found)
    }

    pub async fn query_intents(&self, caller: &Caller, area: &Volume) -> Result<Vec<IntentView>, DssError> {
        self.fresh().await?;
        self.query_area(area)?;
        let now = self.clock.now();
        let space = self.space.read();
        let found = space.intents_in(std::slice::from_ref(area), now, Meets::Relevant);
        self.capped(found)
            .map(|found| found.into_iter().map(|o| space.view_intent(o, &caller.manager)).collect())
    }

    pub async fn get_intent(&self, caller: &Caller, id: EntityId) -> Result<IntentView, DssError> {
        self.fresh().await?;
        let space = self.space.read();
        let o = space
            .intents
            .get(&id)
            .ok_or_else(|| DssError::NotFound(format!("operational intent {id} does not exist")))?;
        Ok(space.view_intent(o, &caller.manager))
    }

    pub async fn put_intent(
        &self,
        caller: &Caller,
        id: EntityId,
        ovn: Option<&str>,
        req: PutOperationalIntent,
    ) -> Result<IntentChange, DssError> {
        self.write(|space, now| ops::intent::put(space, caller, id, ovn, req.clone(), now, &self.limits))
            .await
    }

    pub async fn delete_intent(
        &self,
        caller: &Caller,
        id: EntityId,
        ovn: &str,
    ) -> Result<IntentChange, DssError> {
        self.write(|space, now| ops::intent::delete(space, caller, id, ovn, now)).await
    }

    pub async fn query_constraints(
        &self,
        caller: &Caller,
        area: &Volume,
    ) -> Result<Vec<ConstraintView>, DssError> {
        self.fresh().await?;
        self.query_area(area)?;
        let now = self.clock.now();
        let space = self.space.read();
        let found = space.constraints_in(std::slice::from_ref(area), now, Meets::Relevant);
        self.capped(found)
            .map(|found| found.into_iter().map(|c| space.view_constraint(c, &caller.manager)).collect())
    }

    pub async fn get_constraint(&self, caller: &Caller, id: EntityId) -> Result<ConstraintView, DssError> {
        self.fresh().await?;
        let space = self.space.read();
        let c = space
            .constraints
            .get(&id)
            .ok_or_else(|| DssError::NotFound(format!("constraint {id} does not exist")))?;
        Ok(space.view_constraint(c, &caller.manager))
    }

    pub async fn put_constraint(
        &self,
        caller: &Caller,
        id: EntityId,
        ovn: Option<&str>,
        req: PutConstraint,
    ) -> Result<ConstraintChange, DssError> {
        self.write(|space, now| ops::constraint::put(space, caller, id, ovn, req.clone(), now, &self.limits))
            .await
    }

    pub async fn delete_constraint(
        &self,
        caller: &Caller,
        id: EntityId,
        ovn: &str,
    ) -> Result<ConstraintChange, DssError> {
        self.write(|space, now| ops::constraint::delete(space, caller, id, ovn, now)).await
    }

    pub async fn query_subscriptions(
        &self,
        caller: &Caller,
        area: &Volume,
    ) -> Result<Vec<SubscriptionView>, DssError> {
        self.fresh().await?;
        self.query_area(area)?;
        let now = self.clock.now();
        let found = ops::subscription::query(&self.space.read(), caller, area, now);
        self.capped(found)
    }

    pub async fn get_subscription(
        &self,
        caller: &Caller,
        id: EntityId,
    ) -> Result<SubscriptionView, DssError> {
        self.fresh().await?;
        ops::subscription::get(&self.space.read(), caller, id)
    }

    pub async fn put_subscription(
        &self,
        caller: &Caller,
        id: EntityId,
        version: Option<&str>,
        req: PutSubscription,
    ) -> Result<SubscriptionPut, DssError> {
        self.write(|space, now| {
            ops::subscription::put(space, caller, id, version, req.clone(), now, &self.limits)
        })
        .await
    }

    pub async fn delete_subscription(
        &self,
        caller: &Caller,
        id: EntityId,
        version: &str,
    ) -> Result<SubscriptionView, DssError> {
        self.write(|space, _| ops::subscription::delete(space, caller, id, version)).await
    }

    pub async fn get_availability(&self, uss: &str) -> Result<AvailabilityRecord, DssError> {
        self.fresh().await?;
        Ok(ops::availability::get(&self.space.read(), uss))
    }

    pub async fn set_availability(
        &self,
        uss: &str,
        old_version: &str,
        availability: Availability,
    ) -> Result<AvailabilityRecord, DssError> {
        self.write(|space, _| ops::availability::set(space, uss, old_version, availability)).await
    }

    /// Archives a problem report as sent and returns it with the id the DSS gave it.
    pub async fn submit_report(&self, caller: &Caller, body: String) -> Result<Report, DssError> {
        let id = EntityId::random().to_string();
        self.write(|_, now| {
            let report = Report {
                id: id.clone(),
                reporter: caller.manager.clone(),
                received_at: now,
                body: body.clone(),
            };
            Ok(Plan { changes: vec![Change::PutReport(report.clone())], output: report })
        })
        .await
    }

    // F3411 network Remote ID: one model for both API versions.

    /// Live ISAs meeting the search area and time filters (the area limit answers 413).
    pub async fn search_isas(&self, search: &IsaSearch) -> Result<Vec<IdentificationServiceArea>, DssError> {
        self.fresh().await?;
        validate::area(&search.area, "area", Oversize::TooLarge, &self.limits)?;
        let found = ops::rid::search_isas(&self.space.read(), search, self.clock.now());
        self.capped(found)
    }

    pub async fn get_isa(&self, id: EntityId) -> Result<IdentificationServiceArea, DssError> {
        self.fresh().await?;
        ops::rid::isa::get(&self.space.read(), id)
    }

    pub async fn put_isa(
        &self,
        caller: &Caller,
        id: EntityId,
        version: Option<&str>,
        req: PutIsa,
    ) -> Result<IsaChange, DssError> {
        self.write(|space, now| {
            ops::rid::isa::put(space, caller, id, version, req.clone(), now, &self.limits)
        })
        .await
    }

    pub async fn delete_isa(
        &self,
        caller: &Caller,
        id: EntityId,
        version: &str,
    ) -> Result<IsaChange, DssError> {
        self.write(|space, now| ops::rid::isa::delete(space, caller, id, version, now)).await
    }

    /// The caller's live RID subscriptions meeting `area`.
    pub async fn search_rid_subscriptions(
        &self,
        caller: &Caller,
        area: &Volume,
    ) -> Result<Vec<RidSubscription>, DssError> {
        self.fresh().await?;
        validate::area(area, "area", Oversize::TooLarge, &self.limits)?;
        let found =
            ops::rid::search_subscriptions(&self.space.read(), &caller.manager, area, self.clock.now());
        self.capped(found)
    }

    pub async fn get_rid_subscription(
        &self,
        caller: &Caller,
        id: EntityId,
    ) -> Result<RidSubscription, DssError> {
        self.fresh().await?;
        ops::rid::subscription::get(&self.space.read(), caller, id)
    }

    pub async fn put_rid_subscription(
        &self,
        caller: &Caller,
        id: EntityId,
        version: Option<&str>,
        req: PutRidSubscription,
    ) -> Result<RidSubscriptionPut, DssError> {
        self.write(|space, now| {
            ops::rid::subscription::put(space, caller, id, version, req.clone(), now, &self.limits)
        })
        .await
    }

    pub async fn delete_rid_subscription(
        &self,
        caller: &Caller,
        id: EntityId,
        version: &str,
    ) -> Result<RidSubscription, DssError> {
        self.write(|space, _| ops::rid::subscription::delete(space, caller, id, version)).await
    }

    /// Deletes every entity that ended more than `retention` ago (queries, keys and fan-outs stop seeing
    /// them at their end; GET by id answers until this runs).
    pub async fn evict_expired(&self, retention: chrono::Duration) -> Result<Evicted, DssError> {
        let cutoff = self.clock.now() - retention;
        let batch = match self.backend {
            Backend::Alone { .. } => usize::MAX,
            Backend::Pooled { .. } => POOLED_EVICTION_BATCH,
        };
        let mut evicted = Evicted::default();
        loop {
            if ops::evict::plan(&self.space.read(), cutoff, batch).changes.is_empty() {
                return Ok(evicted);
            }
            let round = self.write(|space, _| Ok(ops::evict::plan(space, cutoff, batch))).await?;
            evicted += round;
            if round.total() < batch {
                return Ok(evicted);
            }
        }
    }
}
