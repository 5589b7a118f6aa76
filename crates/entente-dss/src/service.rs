//! The DSS of one instance: serialises writes, applies them in memory, and answers once they are durable.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::RwLock;

use crate::airspace::Airspace;
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
use crate::ops::{self, ConstraintView, IntentView, Plan, SubscriptionView};
use crate::store::{Change, Store};

pub struct Dss {
    space: RwLock<Airspace>,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    limits: Limits,
    /// Set when a commit failed after its changes were applied in memory: memory is then ahead of disk.
    poisoned: AtomicBool,
}

const OPEN_AREA: Required = Required { time: false, altitude: false };

impl Dss {
    pub fn open(store: Arc<dyn Store>, clock: Arc<dyn Clock>, limits: Limits) -> Result<Dss, DssError> {
        let snapshot = store.load()?;
        Ok(Dss {
            space: RwLock::new(Airspace::from_snapshot(snapshot)),
            store,
            clock,
            limits,
            poisoned: AtomicBool::new(false),
        })
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

    /// Decides and applies under the write lock, so the key check and the write are one step;
    /// the durable commit is awaited after the lock is released, letting the store batch commits.
    async fn write<T>(
        &self,
        decide: impl FnOnce(&Airspace, Timestamp) -> Result<Plan<T>, DssError>,
    ) -> Result<T, DssError> {
        if self.poisoned.load(Ordering::Acquire) {
            return Err(StoreError::Poisoned.into());
        }
        let (ticket, output) = {
            let mut space = self.space.write();
            let plan = decide(&space, self.clock.now())?;
            for change in &plan.changes {
                space.apply(change);
            }
            (self.store.submit(plan.changes), plan.output)
        };
        let outcome = ticket.await.unwrap_or_else(|_| Err(StoreError::Io("the committer stopped".into())));
        if let Err(e) = outcome {
            self.poisoned.store(true, Ordering::Release);
            tracing::error!(error = %e, "commit failed; refusing further writes");
            return Err(e.into());
        }
        Ok(output)
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

    pub fn query_intents(&self, caller: &Caller, area: &Volume) -> Result<Vec<IntentView>, DssError> {
        self.query_area(area)?;
        let now = self.clock.now();
        let space = self.space.read();
        let found = space.intents_in(std::slice::from_ref(area), now);
        self.capped(found)
            .map(|found| found.into_iter().map(|o| space.view_intent(o, &caller.manager)).collect())
    }

    pub fn get_intent(&self, caller: &Caller, id: EntityId) -> Result<IntentView, DssError> {
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
        self.write(|space, now| ops::intent::put(space, caller, id, ovn, req, now, &self.limits)).await
    }

    pub async fn delete_intent(
        &self,
        caller: &Caller,
        id: EntityId,
        ovn: &str,
    ) -> Result<IntentChange, DssError> {
        self.write(|space, now| ops::intent::delete(space, caller, id, ovn, now)).await
    }

    pub fn query_constraints(&self, caller: &Caller, area: &Volume) -> Result<Vec<ConstraintView>, DssError> {
        self.query_area(area)?;
        let now = self.clock.now();
        let space = self.space.read();
        let found = space.constraints_in(std::slice::from_ref(area), now);
        self.capped(found)
            .map(|found| found.into_iter().map(|c| space.view_constraint(c, &caller.manager)).collect())
    }

    pub fn get_constraint(&self, caller: &Caller, id: EntityId) -> Result<ConstraintView, DssError> {
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
        self.write(|space, now| ops::constraint::put(space, caller, id, ovn, req, now, &self.limits)).await
    }

    pub async fn delete_constraint(
        &self,
        caller: &Caller,
        id: EntityId,
        ovn: &str,
    ) -> Result<ConstraintChange, DssError> {
        self.write(|space, now| ops::constraint::delete(space, caller, id, ovn, now)).await
    }

    pub fn query_subscriptions(
        &self,
        caller: &Caller,
        area: &Volume,
    ) -> Result<Vec<SubscriptionView>, DssError> {
        self.query_area(area)?;
        let now = self.clock.now();
        let found = ops::subscription::query(&self.space.read(), caller, area, now);
        self.capped(found)
    }

    pub fn get_subscription(&self, caller: &Caller, id: EntityId) -> Result<SubscriptionView, DssError> {
        ops::subscription::get(&self.space.read(), caller, id)
    }

    pub async fn put_subscription(
        &self,
        caller: &Caller,
        id: EntityId,
        version: Option<&str>,
        req: PutSubscription,
    ) -> Result<SubscriptionPut, DssError> {
        self.write(|space, now| ops::subscription::put(space, caller, id, version, req, now, &self.limits))
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

    pub fn get_availability(&self, uss: &str) -> AvailabilityRecord {
        ops::availability::get(&self.space.read(), uss)
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
        self.write(|_, now| {
            let report = Report {
                id: EntityId::random().to_string(),
                reporter: caller.manager.clone(),
                received_at: now,
                body,
            };
            Ok(Plan { changes: vec![Change::PutReport(report.clone())], output: report })
        })
        .await
    }

    // F3411 network Remote ID: one model for both API versions.

    /// Live ISAs meeting the search area and time filters (the area limit answers 413).
    pub fn search_isas(&self, search: &IsaSearch) -> Result<Vec<IdentificationServiceArea>, DssError> {
        validate::area(&search.area, "area", Oversize::TooLarge, &self.limits)?;
        let found = ops::rid::search_isas(&self.space.read(), search, self.clock.now());
        self.capped(found)
    }

    pub fn get_isa(&self, id: EntityId) -> Result<IdentificationServiceArea, DssError> {
        ops::rid::isa::get(&self.space.read(), id)
    }

    pub async fn put_isa(
        &self,
        caller: &Caller,
        id: EntityId,
        version: Option<&str>,
        req: PutIsa,
    ) -> Result<IsaChange, DssError> {
        self.write(|space, now| ops::rid::isa::put(space, caller, id, version, req, now, &self.limits)).await
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
    pub fn search_rid_subscriptions(
        &self,
        caller: &Caller,
        area: &Volume,
    ) -> Result<Vec<RidSubscription>, DssError> {
        validate::area(area, "area", Oversize::TooLarge, &self.limits)?;
        let found =
            ops::rid::search_subscriptions(&self.space.read(), &caller.manager, area, self.clock.now());
        self.capped(found)
    }

    pub fn get_rid_subscription(&self, caller: &Caller, id: EntityId) -> Result<RidSubscription, DssError> {
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
            ops::rid::subscription::put(space, caller, id, version, req, now, &self.limits)
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
        if ops::evict::plan(&self.space.read(), cutoff).changes.is_empty() {
            return Ok(Evicted::default());
        }
        self.write(|space, _| Ok(ops::evict::plan(space, cutoff))).await
    }
}
