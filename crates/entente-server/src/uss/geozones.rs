//! Geographical zone data sets (ED-269, ED-318) an authority imports into this USS, read here and handed to the
//! core, which publishes their prohibited zones as constraints window by window over a rolling horizon (a
//! re-import writing what changed and withdrawing what went, a failure undoing what it wrote) and keeps the others
//! to advise the flights entering them; and the zones in force listed for operators' maps.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use entente_geozones::{Format, Restriction};
use entente_uss::geoawareness::ZoneSet;
use entente_uss::service::ZoneChange;
use entente_wire::authority::{ZoneConstraintRef, ZoneSetImport, ZoneSetList, ZoneSetSummary};
use entente_wire::operator::ZoneList;
use entente_wire::time_out;
use entente_wire::uss_core::zone_shown_out;

use super::UssState;
use super::authority::AUTHORITY_SCOPE;
use super::operator::OPERATOR_SCOPE;
use crate::error::ApiError;
use crate::extract::{Auth, Body};
use crate::routes::Routes;

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
    let imported = ZoneSet { data, publish, source: text, origin: None };
    let ZoneSetSummary { zones, prohibited, advisories, .. } = summary(&set, &imported);
    let outcome = st.core.import_zone_set(&set, imported).await?;
    let changed = |changes: Vec<ZoneChange>| {
        changes
            .into_iter()
            .map(|c| ZoneConstraintRef { zone: c.zone, constraint_id: c.id.to_string() })
            .collect()
    };
    let changes = outcome.changes;
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
        horizon_end: time_out(outcome.horizon_end).value,
        created: changed(changes.created),
        updated: changed(changes.updated),
        withdrawn: changed(changes.withdrawn),
        unchanged: changed(changes.unchanged),
        ground_unknown: outcome.ground_unknown,
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
    let old = st.core.delete_zone_set(&set).await?;
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
