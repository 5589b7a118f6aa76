//! Geographical zone data sets (ED-269, ED-318) an authority imports into this USS: prohibited zones published
//! as constraints window by window over a rolling horizon, the others kept to advise the flights entering them;
//! and the zones in force listed for operators' maps.
//! A re-import writes what changed and withdraws what went, nothing else; a failure undoes what it wrote.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use entente_dss::{EntityId, WriteKind};
use entente_geozones::{DataSet, Format, Restriction};
use entente_uss::Volume;
use entente_uss::geoawareness::{ZoneConstraint, ZoneSet, constraint_ids, horizon, prohibited};
use entente_uss::service::saved_by;
use entente_uss::store::Table;
use entente_wire::authority::{ZoneConstraintRef, ZoneSetImport, ZoneSetList, ZoneSetSummary};
use entente_wire::operator::ZoneList;
use entente_wire::uss::Constraint;
use entente_wire::uss_core::zone_shown_out;
use entente_wire::{time_out, volume_out};

use super::authority::{AUTHORITY_SCOPE, publish, withdraw};
use super::operator::OPERATOR_SCOPE;
use super::records::{self, StoredZoneSet};
use super::{Links, UssState, input};
use crate::error::ApiError;
use crate::extract::{Auth, Body};
use crate::routes::Routes;

/// The constraint type of a prohibited zone's constraint.
const ZONE_CONSTRAINT_TYPE: &str = "prohibited";

/// Most features a data set may have: each prohibited one is a write to the DSS.
pub(crate) const MAX_ZONES: usize = 2_000;

/// How often the published windows are brought up to date (a window closed, the horizon moved on).
const REPUBLISH_EVERY: Duration = Duration::from_secs(600);

type AppRef = State<Arc<UssState>>;

pub(crate) fn routes() -> Routes<Arc<UssState>> {
    Routes::new()
        .get("/operator/v1/geozones", zones_in_force)
        .get("/authority/v1/geozones", list_sets)
        .put("/authority/v1/geozones/{set}", import_set)
        .get("/authority/v1/geozones/{set}", export_set)
        .delete("/authority/v1/geozones/{set}", delete_set)
}

/// The options of an import, each optional.
#[derive(serde::Deserialize)]
pub(crate) struct ImportQuery {
    /// `false`: keep the set to advise this USS's operators and show them the zones, leaving the constraints of its
    /// prohibited zones to the authority's USS (default `true`).
    publish: Option<bool>,
}

/// A set's name: 1 to 64 letters, digits, `-`, `_` or `.`, as it appears in URLs and logs.
fn set_name(name: &str) -> Result<(), ApiError> {
    let ok = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.');
    if (1..=64).contains(&name.len()) && name.bytes().all(ok) {
        return Ok(());
    }
    Err(ApiError::bad(format!("set {name:?}: a data set's name is 1 to 64 letters, digits, '-', '_' or '.'")))
}

/// One change to the DSS, kept to be undone should a later one fail.
enum Done {
    Created { id: EntityId, ovn: String },
    Updated { id: EntityId, ovn: String, before: Constraint },
    Withdrawn { id: EntityId, before: Constraint },
}

/// What a reconciliation changed, by zone.
#[derive(Default)]
struct Changes {
    created: Vec<ZoneConstraintRef>,
    updated: Vec<ZoneConstraintRef>,
    withdrawn: Vec<ZoneConstraintRef>,
    unchanged: Vec<ZoneConstraintRef>,
}

/// The constraints `wanted` with the windows that closed before `now` dropped, checked against the DSS's limits
/// so that a zone the DSS would refuse is the authority's 400, naming the zone, before anything is written.
fn checked(wanted: Vec<ZoneConstraint>, st: &Links) -> Result<Vec<ZoneConstraint>, ApiError> {
    let now = st.now();
    wanted
        .into_iter()
        .map(|mut c| {
            c.volumes.retain(|v| v.time.hi.is_none_or(|end| end > now));
            if !c.volumes.is_empty() {
                let path = format!("zone {}: volumes", c.key);
                c.volumes = input::checked(c.volumes, &path, WriteKind::Constraint, &st.config.dss_limits)?;
            }
            Ok(c)
        })
        .collect()
}

/// The constraints the prohibited zones of `data` ask for now, or the 400 naming the zone the DSS would refuse.
fn wanted_now(st: &Links, set: &str, data: &DataSet) -> Result<Vec<ZoneConstraint>, ApiError> {
    let (from, to) = horizon(st.now());
    let wanted =
        prohibited(&st.config.identity, set, data, from, to).map_err(|e| ApiError::bad(e.to_string()))?;
    checked(wanted, st)
}

/// Brings the constraints of set `set` from what `old` published to what `wanted` asks for (`wanted` empty and
/// `old` given: the set is withdrawn). On a failure, what was written is undone (as far as the DSS lets it) and
/// the failure answered: an error means nothing changed.
async fn reconcile(
    st: &Arc<Links>,
    set: &str,
    old: Option<&DataSet>,
    wanted: &[ZoneConstraint],
) -> Result<Changes, ApiError> {
    let held = |id: &EntityId| st.constraints.lock().get(id).cloned();
    let reference =
        |key: &str, id: EntityId| ZoneConstraintRef { zone: key.to_owned(), constraint_id: id.to_string() };
    let mut changes = Changes::default();
    let mut done: Vec<Done> = Vec::new();
    let mut steps: Vec<(String, EntityId, Option<Constraint>, &[Volume])> = Vec::new();
    for c in wanted {
        steps.push((c.key.clone(), c.id, held(&c.id), &c.volumes));
    }
    let identity = &st.config.identity;
    if let Some(old) = old {
        let keep: Vec<EntityId> = wanted.iter().map(|c| c.id).collect();
        for (key, id) in constraint_ids(identity, set, old).into_iter().filter(|(_, id)| !keep.contains(id)) {
            steps.push((key, id, held(&id), &[]));
        }
    }
    for (key, id, before, volumes) in steps {
        let outcome = match (before, volumes.is_empty()) {
            (None, true) => continue,
            (None, false) => {
                publish(st, id, None, volumes, Some(ZONE_CONSTRAINT_TYPE.into())).await.map(|c| {
                    changes.created.push(reference(&key, id));
                    done.push(Done::Created { id, ovn: c.reference.ovn.unwrap_or_default() });
                })
            }
            (Some(before), true) => {
                let ovn = before.reference.ovn.clone().unwrap_or_default();
                withdraw(st, id, &ovn).await.map(|()| {
                    changes.withdrawn.push(reference(&key, id));
                    done.push(Done::Withdrawn { id, before });
                })
            }
            (Some(before), false) => {
                let extents: Vec<_> = volumes.iter().map(volume_out).collect();
                if extents == before.details.volumes {
                    changes.unchanged.push(reference(&key, id));
                    continue;
                }
                let ovn = before.reference.ovn.clone();
                publish(st, id, ovn.as_deref(), volumes, Some(ZONE_CONSTRAINT_TYPE.into())).await.map(|c| {
                    changes.updated.push(reference(&key, id));
                    done.push(Done::Updated { id, ovn: c.reference.ovn.unwrap_or_default(), before });
                })
            }
        };
        if let Err(e) = outcome {
            undo(st, done).await;
            return Err(e);
        }
    }
    Ok(changes)
}

/// Undoes `done`, newest first; what cannot be undone is logged (the DSS then holds the newer version, which a
/// later import or republication brings in line).
async fn undo(st: &Arc<Links>, done: Vec<Done>) {
    for step in done.into_iter().rev() {
        let volumes_of = |c: &Constraint| {
            entente_wire::volumes_in(&c.details.volumes, "details.volumes", super::MAX_VERTICES)
                .unwrap_or_default()
        };
        let (id, undone) = match step {
            Done::Created { id, ovn } => (id, withdraw(st, id, &ovn).await),
            Done::Updated { id, ovn, before } => {
                let kind = before.details.kind.clone();
                (id, publish(st, id, Some(&ovn), &volumes_of(&before), kind).await.map(drop))
            }
            Done::Withdrawn { id, before } => {
                let kind = before.details.kind.clone();
                (id, publish(st, id, None, &volumes_of(&before), kind).await.map(drop))
            }
        };
        if let Err(e) = undone {
            tracing::error!(constraint = %id, error = %e, "undoing a zone import's change failed");
        }
    }
}

fn summary(set: &str, imported: &ZoneSet) -> ZoneSetSummary {
    let data = &imported.data;
    let prohibited = data.zones.iter().filter(|z| z.restriction == Restriction::Prohibited).count();
    ZoneSetSummary {
        set: set.to_owned(),
        publish: imported.publish,
        zones: data.zones.len(),
        prohibited,
        advisories: data.zones.len() - prohibited,
    }
}

/// Imports (or re-imports) data set `set`, in ED-269 or ED-318 as its root tells: its prohibited zones are
/// published as constraints, the others advise the flights that enter them.
#[utoipa::path(put, path = "/authority/v1/geozones/{set}", tag = "Authority",
    params(("set" = String, Path, description = "The data set's name: 1 to 64 letters, digits, '-', '_' or '.'"),
        ("publish" = Option<bool>, Query, description = "false: keep the set only to advise this USS's operators and show them the zones; the authority's USS publishes the constraints (default true)")),
    request_body(content = String, description = "An ED-269 or ED-318 data set (JSON)", content_type = "application/json"),
    responses((status = 200, description = "Imported; what it published, updated and withdrew", body = ZoneSetImport),
        (status = 400, description = "The data set is invalid: the message names the feature, the field and the rule", body = entente_wire::ErrorResponse),
        crate::responses::Unauthorized,
        crate::responses::NotAuthority,
        crate::responses::DssFailed))]
pub(crate) async fn import_set(
    State(st): AppRef,
    auth: Auth,
    Path(set): Path<String>,
    query: Result<Query<ImportQuery>, QueryRejection>,
    body: Body,
) -> Result<Json<ZoneSetImport>, ApiError> {
    auth.require(AUTHORITY_SCOPE)?;
    set_name(&set)?;
    let publish = super::operator::filters(query)?.publish.unwrap_or(true);
    let text = body.text();
    let (format, data) = entente_geozones::parse(&text).map_err(|e| ApiError::bad(e.to_string()))?;
    if data.zones.len() > MAX_ZONES {
        return Err(ApiError::bad(format!(
            "features: {} zones, more than the {MAX_ZONES} one data set may have",
            data.zones.len()
        )));
    }
    let wanted = if publish { wanted_now(&st.links, &set, &data)? } else { Vec::new() };
    let ground_unknown = wanted.iter().filter(|c| c.ground_unknown).map(|c| c.key.clone()).collect();
    let _one_at_a_time = st.zone_imports.lock().await;
    let old = st.core.zones.get(&set);
    let changes = reconcile(&st.links, &set, old.as_ref().map(|o| &o.data), &wanted).await?;
    let write = records::write(Table::Geozones, set.clone(), Some(&StoredZoneSet { text, publish }));
    if let Err(e) = saved_by(st.save(write.map(|w| vec![w]))).await {
        // Back to what the previous version of the set (or no set) published.
        let before = match &old {
            Some(old) if old.publish => wanted_now(&st.links, &set, &old.data).unwrap_or_default(),
            _ => Vec::new(),
        };
        if let Err(e) = reconcile(&st.links, &set, Some(&data), &before).await {
            tracing::error!(set, error = %e, "undoing a zone import whose save failed did not complete");
        }
        return Err(entente_uss::UssError::Store(e).into());
    }
    let imported = ZoneSet { data, publish };
    let ZoneSetSummary { zones, prohibited, advisories, .. } = summary(&set, &imported);
    st.core.zones.replace(&set, Some(imported));
    Ok(Json(ZoneSetImport {
        set,
        publish,
        format: match format {
            Format::Ed269 => "ED-269",
            Format::Ed318 => "ED-318",
        }
        .to_owned(),
        zones,
        prohibited,
        advisories,
        horizon_end: time_out(horizon(st.now()).1).value,
        created: changes.created,
        updated: changes.updated,
        withdrawn: changes.withdrawn,
        unchanged: changes.unchanged,
        ground_unknown,
    }))
}

/// The data sets imported into this USS.
#[utoipa::path(get, path = "/authority/v1/geozones", tag = "Authority",
    responses((status = 200, description = "The sets, by name", body = ZoneSetList),
        crate::responses::Unauthorized,
        crate::responses::NotAuthority))]
pub(crate) async fn list_sets(State(st): AppRef, auth: Auth) -> Result<Json<ZoneSetList>, ApiError> {
    auth.require(AUTHORITY_SCOPE)?;
    let sets = st.core.zones.all().iter().map(|(name, data)| summary(name, data)).collect();
    Ok(Json(ZoneSetList { sets }))
}

/// Data set `set` as an ED-318 data set, whatever format it was imported in.
#[utoipa::path(get, path = "/authority/v1/geozones/{set}", tag = "Authority",
    params(("set" = String, Path, description = "The data set's name")),
    responses((status = 200, description = "The set in ED-318 (GeoJSON)", body = serde_json::Value),
        crate::responses::Unauthorized,
        crate::responses::NotAuthority,
        (status = 404, description = "No such set", body = entente_wire::ErrorResponse),
        (status = 409, description = "A zone cannot be written in ED-318 (the message names it and why)", body = entente_wire::ErrorResponse)))]
pub(crate) async fn export_set(
    State(st): AppRef,
    auth: Auth,
    Path(set): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    auth.require(AUTHORITY_SCOPE)?;
    set_name(&set)?;
    let data = st.core.zones.get(&set).ok_or_else(|| ApiError::NotFound(format!("set {set}: not found")))?;
    let exported =
        entente_geozones::export_ed318(&data.data.zones).map_err(|e| ApiError::Conflict(e.to_string()))?;
    Ok(Json(exported))
}

/// Withdraws data set `set`: its constraints deleted, its advisories gone.
#[utoipa::path(delete, path = "/authority/v1/geozones/{set}", tag = "Authority",
    params(("set" = String, Path, description = "The data set's name")),
    responses((status = 200, description = "Withdrawn; the set as it was", body = ZoneSetSummary),
        crate::responses::Unauthorized,
        crate::responses::NotAuthority,
        (status = 404, description = "No such set", body = entente_wire::ErrorResponse),
        crate::responses::DssFailed))]
pub(crate) async fn delete_set(
    State(st): AppRef,
    auth: Auth,
    Path(set): Path<String>,
) -> Result<Json<ZoneSetSummary>, ApiError> {
    auth.require(AUTHORITY_SCOPE)?;
    set_name(&set)?;
    let _one_at_a_time = st.zone_imports.lock().await;
    let old = st.core.zones.get(&set).ok_or_else(|| ApiError::NotFound(format!("set {set}: not found")))?;
    reconcile(&st.links, &set, Some(&old.data), &[]).await?;
    let write = records::write::<StoredZoneSet>(Table::Geozones, set.clone(), None);
    saved_by(st.save(write.map(|w| vec![w]))).await.map_err(entente_uss::UssError::Store)?;
    st.core.zones.replace(&set, None);
    Ok(Json(summary(&set, &old)))
}

/// The longest window `GET /operator/v1/geozones` lists zones over.
const MAX_SHOWN_DAYS: i64 = 7;

/// The window of `GET /operator/v1/geozones`, each end optional.
#[derive(serde::Deserialize)]
pub(crate) struct ShownQuery {
    time_start: Option<String>,
    time_end: Option<String>,
}

/// The zones of the sets imported into this USS that apply at some time in the window (from now, for a day, by
/// default), each with its terms and its volumes in each window in which it applies: what an operator's map
/// draws.
#[utoipa::path(get, path = "/operator/v1/geozones", tag = "Operator",
    params(("time_start" = Option<String>, Query, description = "From this instant (RFC 3339; default now)"),
        ("time_end" = Option<String>, Query, description = "Until this instant (RFC 3339; default a day after time_start; at most 7 days after it)")),
    responses((status = 200, description = "The zones", body = ZoneList),
        (status = 400, description = "Invalid window; the message names the field and the rule", body = entente_wire::ErrorResponse),
        crate::responses::Unauthorized,
        crate::responses::NotOperator))]
pub(crate) async fn zones_in_force(
    State(st): AppRef,
    auth: Auth,
    query: Result<Query<ShownQuery>, QueryRejection>,
) -> Result<Json<ZoneList>, ApiError> {
    auth.require(OPERATOR_SCOPE)?;
    let q = super::operator::filters(query)?;
    let window = super::operator::window(q.time_start.as_deref(), q.time_end.as_deref())?;
    let from = window.lo.unwrap_or_else(|| st.now());
    let to = window.hi.unwrap_or(from + chrono::Duration::days(1));
    if to <= from || to - from > chrono::Duration::days(MAX_SHOWN_DAYS) {
        return Err(ApiError::bad(format!(
            "time_end must be after time_start and at most {MAX_SHOWN_DAYS} days after it"
        )));
    }
    let shown = st.core.zones.in_force(from, to).map_err(|e| ApiError::bad(e.to_string()))?;
    Ok(Json(ZoneList { zones: shown.iter().map(zone_shown_out).collect() }))
}

/// Keeps every set's constraints current while the USS is served: a window that closed is dropped, the horizon
/// moves on with the day. A failure is logged and tried again next time.
pub(crate) async fn republish(st: Arc<UssState>) {
    let mut every = tokio::time::interval(REPUBLISH_EVERY);
    loop {
        every.tick().await;
        let _one_at_a_time = st.zone_imports.lock().await;
        for (set, imported) in st.core.zones.all().into_iter().filter(|(_, s)| s.publish) {
            let result = match wanted_now(&st.links, &set, &imported.data) {
                Ok(wanted) => reconcile(&st.links, &set, Some(&imported.data), &wanted).await,
                Err(e) => Err(e),
            };
            match result {
                Ok(c) if c.created.len() + c.updated.len() + c.withdrawn.len() > 0 => tracing::info!(
                    set,
                    created = c.created.len(),
                    updated = c.updated.len(),
                    withdrawn = c.withdrawn.len(),
                    "zone constraints republished"
                ),
                Ok(_) => {}
                Err(e) => tracing::warn!(set, error = %e, "republishing zone constraints failed"),
            }
        }
    }
}
