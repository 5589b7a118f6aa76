//! The constraints this USS manages: restricted zones an authority declares one by one, and the prohibited zones of
//! the geographical zone data sets imported into it, published window by window over a rolling horizon. Every
//! constraint is written at the DSS, recorded, served to peers and told to subscribers the same way; a data set's
//! import writes what changed and withdraws what went, nothing else, and undoes what it wrote should a write fail,
//! so an error means nothing changed. [`Uss::tick`] brings the published windows up to date by the clock.

use std::collections::HashMap;

use entente_dss::{EntityId, Limits, WriteKind, check_write_volumes};
use entente_geozones::DataSet;
use parking_lot::Mutex;

use super::Uss;
use super::flights::saved_by;
use super::ports::OwnZone;
use crate::geoawareness::{ZoneConstraint, ZoneSet, constraint_ids, horizon, prohibited};
use crate::{Timestamp, UssError, Volume};

/// The constraint type of a prohibited zone's constraint.
const ZONE_CONSTRAINT_TYPE: &str = "prohibited";

/// Most features a data set may have: each prohibited one is a write to the DSS.
const MAX_ZONES: usize = 2_000;

/// The volumes of a write checked as the DSS will (its rules and `limits`) and as a USS adds: no empty time window,
/// since there is nothing to fly or restrict in it. The message names `path` and the rule.
pub fn check_volumes(volumes: &[Volume], path: &str, kind: WriteKind, limits: &Limits) -> Result<(), String> {
    check_write_volumes(volumes, path, kind, limits).map_err(|e| e.to_string())?;
    if let Some(i) = volumes.iter().position(|v| v.time.lo.is_some() && v.time.lo == v.time.hi) {
        return Err(format!(
            "{path}[{i}]: time_start must be before time_end; an empty time window holds nothing"
        ));
    }
    Ok(())
}

/// The constraints this USS manages, by id, and the lock that keeps data set writes one at a time.
pub(super) struct OwnZones {
    map: Mutex<HashMap<EntityId, OwnZone>>,
    /// Held by a data set's import, withdrawal or republication, so none sees another's constraints half written.
    sets: tokio::sync::Mutex<()>,
}

impl OwnZones {
    pub(super) fn new(zones: HashMap<EntityId, OwnZone>) -> OwnZones {
        OwnZones { map: Mutex::new(zones), sets: tokio::sync::Mutex::new(()) }
    }
}

/// A zone and the constraint published for it.
#[derive(Clone, Debug, PartialEq)]
pub struct ZoneChange {
    pub zone: String,
    pub id: EntityId,
}

/// What bringing a set's constraints in line changed, by zone.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Reconciled {
    pub created: Vec<ZoneChange>,
    pub updated: Vec<ZoneChange>,
    pub withdrawn: Vec<ZoneChange>,
    pub unchanged: Vec<ZoneChange>,
}

impl Reconciled {
    /// How many writes to the DSS it took.
    pub fn writes(&self) -> usize {
        self.created.len() + self.updated.len() + self.withdrawn.len()
    }
}

/// What an import did.
#[derive(Clone, Debug, PartialEq)]
pub struct ImportOutcome {
    pub changes: Reconciled,
    /// The zones with an AGL limit taken at its widest, for want of terrain data.
    pub ground_unknown: Vec<String>,
    /// Until when the constraints published hold the zones' windows.
    pub horizon_end: Timestamp,
}

/// One change to the DSS, kept to be undone should a later one fail.
enum Done {
    Created { id: EntityId, ovn: String },
    Updated { id: EntityId, ovn: String, before: OwnZone },
    Withdrawn { id: EntityId, before: OwnZone },
}

impl Uss {
    /// Constraint `id` as this USS manages it.
    pub fn own_zone(&self, id: EntityId) -> Option<OwnZone> {
        self.own_zones.map.lock().get(&id).cloned()
    }

    /// Every constraint this USS manages, by id.
    pub fn own_zones(&self) -> HashMap<EntityId, OwnZone> {
        self.own_zones.map.lock().clone()
    }

    /// Declares constraint `id` over `volumes` for an authority (or changes it, when this USS already manages it):
    /// written at the DSS, served to peers, told to subscribers.
    pub async fn publish_constraint(
        &self,
        id: EntityId,
        volumes: Vec<Volume>,
        kind: Option<String>,
    ) -> Result<OwnZone, UssError> {
        let ovn = self.own_zone(id).and_then(|z| z.reference.ovn);
        self.write_zone(id, ovn, volumes, kind).await
    }

    /// Lifts constraint `id`: deleted at the DSS, no longer served, subscribers told. The constraint as it was.
    pub async fn withdraw_constraint(&self, id: EntityId) -> Result<OwnZone, UssError> {
        let zone = self.own_zone(id).ok_or(UssError::NoSuchZone(id))?;
        self.delete_zone(id, zone.reference.ovn.clone().unwrap_or_default()).await?;
        Ok(zone)
    }

    /// Imports (or re-imports) data set `name`: its prohibited zones published as constraints when `set.publish`
    /// says so (what an earlier import published and the set no longer asks for withdrawn), the others kept to
    /// advise the flights entering them. An error means nothing changed: what was written is undone.
    pub async fn import_zone_set(&self, name: &str, set: ZoneSet) -> Result<ImportOutcome, UssError> {
        if set.data.zones.len() > MAX_ZONES {
            return Err(UssError::ZoneSet(format!(
                "features: {} zones, more than the {MAX_ZONES} one data set may have",
                set.data.zones.len()
            )));
        }
        let wanted = if set.publish { self.wanted_now(name, &set.data)? } else { Vec::new() };
        let ground_unknown = wanted.iter().filter(|c| c.ground_unknown).map(|c| c.key.clone()).collect();
        let _one_at_a_time = self.own_zones.sets.lock().await;
        self.check_zone_set_origin(name, set.origin.as_deref())?;
        let old = self.zones.get(name);
        let changes = self.reconcile(name, old.as_ref().map(|o| &o.data), &wanted).await?;
        if let Err(e) = saved_by(self.ports.zones.save_set(name, Some(&set))).await {
            // Back to what the previous version of the set (or no set) published.
            let before = match &old {
                Some(old) if old.publish => self.wanted_now(name, &old.data).unwrap_or_default(),
                _ => Vec::new(),
            };
            if let Err(e) = self.reconcile(name, Some(&set.data), &before).await {
                tracing::error!(set = name, error = %e, "undoing a zone import whose save failed did not complete");
            }
            return Err(UssError::Store(e));
        }
        self.zones.replace(name, Some(set));
        Ok(ImportOutcome { changes, ground_unknown, horizon_end: horizon(self.now()).1 })
    }

    /// Whether a set downloaded from `origin` may take name `name`: a download replaces only a set downloaded
    /// from the same URL (or no set), so two sources never share a name unnoticed. `None` (an authority handing
    /// over its text) may replace any set, as the authority's word on its own data.
    pub fn check_zone_set_origin(&self, name: &str, origin: Option<&str>) -> Result<(), UssError> {
        let (Some(asked), Some(old)) = (origin, self.zones.get(name)) else { return Ok(()) };
        match old.origin {
            Some(held) if held == asked => Ok(()),
            held => Err(UssError::ZoneSetSource {
                set: name.to_owned(),
                held: held.unwrap_or_else(|| "an authority's upload".to_owned()),
                asked: asked.to_owned(),
            }),
        }
    }

    /// Withdraws data set `name`: its constraints deleted, its advisories gone. The set as it was.
    pub async fn delete_zone_set(&self, name: &str) -> Result<ZoneSet, UssError> {
        let _one_at_a_time = self.own_zones.sets.lock().await;
        let old = self.zones.get(name).ok_or_else(|| UssError::NoSuchZoneSet(name.to_owned()))?;
        self.reconcile(name, Some(&old.data), &[]).await?;
        saved_by(self.ports.zones.save_set(name, None)).await?;
        self.zones.replace(name, None);
        Ok(old)
    }

    /// The zone round of [`Uss::tick`], by this USS's clock: every published set's constraints brought up to date (a
    /// window that closed dropped, the horizon moved on with the day), each set's outcome by name. A failure is
    /// logged and tried again next round.
    pub(super) async fn republish_zones(&self) -> Vec<(String, Result<Reconciled, UssError>)> {
        let _one_at_a_time = self.own_zones.sets.lock().await;
        let mut republished = Vec::new();
        for (name, set) in self.zones.all().into_iter().filter(|(_, s)| s.publish) {
            let result = match self.wanted_now(&name, &set.data) {
                Ok(wanted) => self.reconcile(&name, Some(&set.data), &wanted).await,
                Err(e) => Err(e),
            };
            match &result {
                Ok(c) if c.writes() > 0 => tracing::info!(
                    set = name,
                    created = c.created.len(),
                    updated = c.updated.len(),
                    withdrawn = c.withdrawn.len(),
                    "zone constraints republished"
                ),
                Ok(_) => {}
                Err(e) => tracing::warn!(set = name, error = %e, "republishing zone constraints failed"),
            }
            republished.push((name, result));
        }
        republished
    }

    /// The constraints the prohibited zones of `data` ask for now, the windows that closed dropped, each checked
    /// against the DSS's limits so that a zone the DSS would refuse is refused, naming it, before anything is
    /// written.
    fn wanted_now(&self, set: &str, data: &DataSet) -> Result<Vec<ZoneConstraint>, UssError> {
        let now = self.now();
        let (from, to) = horizon(now);
        let wanted = prohibited(&self.rules.identity, set, data, (from, to), self.zones.terrain())
            .map_err(|e| UssError::ZoneSet(e.to_string()))?;
        wanted
            .into_iter()
            .map(|mut c| {
                c.volumes.retain(|v| v.time.hi.is_none_or(|end| end > now));
                if !c.volumes.is_empty() {
                    let path = format!("zone {}: volumes", c.key);
                    check_volumes(&c.volumes, &path, WriteKind::Constraint, &self.rules.dss_limits)
                        .map_err(UssError::ZoneSet)?;
                }
                Ok(c)
            })
            .collect()
    }

    /// Brings the constraints of set `set` from what `old` published to what `wanted` asks for (`wanted` empty and
    /// `old` given: the set is withdrawn). On a failure, what was written is undone (as far as the DSS lets it) and
    /// the failure answered.
    async fn reconcile(
        &self,
        set: &str,
        old: Option<&DataSet>,
        wanted: &[ZoneConstraint],
    ) -> Result<Reconciled, UssError> {
        let change = |zone: &str, id: EntityId| ZoneChange { zone: zone.to_owned(), id };
        let mut steps: Vec<(String, EntityId, &[Volume])> =
            wanted.iter().map(|c| (c.key.clone(), c.id, &c.volumes[..])).collect();
        if let Some(old) = old {
            let keep: Vec<EntityId> = wanted.iter().map(|c| c.id).collect();
            let gone = constraint_ids(&self.rules.identity, set, old)
                .into_iter()
                .filter(|(_, id)| !keep.contains(id));
            steps.extend(gone.map(|(key, id)| (key, id, &[][..])));
        }
        let mut changes = Reconciled::default();
        let mut done: Vec<Done> = Vec::new();
        let kind = || Some(ZONE_CONSTRAINT_TYPE.to_owned());
        for (key, id, volumes) in steps {
            let outcome = match (self.own_zone(id), volumes.is_empty()) {
                (None, true) => continue,
                (None, false) => self.write_zone(id, None, volumes.to_vec(), kind()).await.map(|z| {
                    changes.created.push(change(&key, id));
                    done.push(Done::Created { id, ovn: z.reference.ovn.unwrap_or_default() });
                }),
                (Some(before), true) => {
                    let ovn = before.reference.ovn.clone().unwrap_or_default();
                    self.delete_zone(id, ovn).await.map(|()| {
                        changes.withdrawn.push(change(&key, id));
                        done.push(Done::Withdrawn { id, before });
                    })
                }
                (Some(before), false) if before.volumes == volumes => {
                    changes.unchanged.push(change(&key, id));
                    continue;
                }
                (Some(before), false) => {
                    let ovn = before.reference.ovn.clone();
                    self.write_zone(id, ovn, volumes.to_vec(), kind()).await.map(|z| {
                        changes.updated.push(change(&key, id));
                        done.push(Done::Updated { id, ovn: z.reference.ovn.unwrap_or_default(), before });
                    })
                }
            };
            if let Err(e) = outcome {
                self.undo(done).await;
                return Err(e);
            }
        }
        Ok(changes)
    }

    /// Undoes `done`, newest first; what cannot be undone is logged (the DSS then holds the newer version, which a
    /// later import or republication brings in line).
    async fn undo(&self, done: Vec<Done>) {
        for step in done.into_iter().rev() {
            let (id, undone) = match step {
                Done::Created { id, ovn } => (id, self.delete_zone(id, ovn).await),
                Done::Updated { id, ovn, before } => {
                    (id, self.write_zone(id, Some(ovn), before.volumes, before.kind).await.map(drop))
                }
                Done::Withdrawn { id, before } => {
                    (id, self.write_zone(id, None, before.volumes, before.kind).await.map(drop))
                }
            };
            if let Err(e) = undone {
                tracing::error!(constraint = %id, error = %e, "undoing a zone import's change failed");
            }
        }
    }

    /// Writes constraint `id` at the DSS (`ovn`: the version it replaces; `None` creates it), records it, and tells
    /// the subscribers: the one way a constraint of this USS comes to be or changes.
    async fn write_zone(
        &self,
        id: EntityId,
        ovn: Option<String>,
        volumes: Vec<Volume>,
        kind: Option<String>,
    ) -> Result<OwnZone, UssError> {
        let written = self.ports.dss.put_zone(id, ovn, volumes.clone()).await?;
        let zone = OwnZone { reference: written.reference, volumes, kind };
        self.record_zone(id, Some(zone.clone())).await;
        self.ports.peers.notify_zone(written.subscribers, id, Some(zone.clone())).await;
        Ok(zone)
    }

    /// Deletes constraint `id` (at version `ovn`) at the DSS, stops serving it and tells the subscribers.
    async fn delete_zone(&self, id: EntityId, ovn: String) -> Result<(), UssError> {
        let subscribers = self.ports.dss.delete_zone(id, ovn).await?;
        self.record_zone(id, None).await;
        self.ports.peers.notify_zone(subscribers, id, None).await;
        Ok(())
    }

    /// Records constraint `id` as the DSS now holds it (`None`: gone), in memory and, queued under the same lock so
    /// saves commit in the order of the changes, on disk. The DSS's change stands whether or not the save does.
    async fn record_zone(&self, id: EntityId, zone: Option<OwnZone>) {
        let saved = {
            let mut map = self.own_zones.map.lock();
            let saved = self.ports.zones.save_zone(id, zone.as_ref());
            match zone {
                Some(z) => map.insert(id, z),
                None => map.remove(&id),
            };
            saved
        };
        if let Err(e) = saved_by(saved).await {
            tracing::error!(constraint = %id, error = %e, "saving this USS's constraints failed");
        }
    }
}
