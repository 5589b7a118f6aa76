//! The InterUSS geospatial map automated-testing interface (interuss/automated_testing_interfaces,
//! geospatial_map v1), so conformance tooling can ask, as a user looking at this USS's map would, whether the
//! zone data sets imported here would block or advise a flight in given volumes and times, and so it can load
//! data sets from a URL (its data sources), each imported as the set named by the source's id. A source whose
//! download or import failed keeps that answer (in memory) until it is put again or deleted.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use entente_uss::UssError;
use entente_uss::geoawareness::ZoneSet;
use entente_wire::interuss::geospatial_map::{
    DataSourceList, DataSourceRequest, DataSourceResponse, DataSourceState, DataSourceStatus, FilterIn,
    HttpsSource, MapCheckResult, MapQueryReply, MapQueryRequest, StatusResponse, filter_in,
};
use parking_lot::Mutex;

use super::download::{DownloadError, DownloadLimits, download_text};
use super::{MAX_VERTICES, UssState};
use crate::error::ApiError;
use crate::extract::{Auth, Body, entity_id};
use crate::routes::Routes;

const DIRECT: &str = "interuss.geospatial_map.direct_automated_test";
const QUERY: &str = "interuss.geospatial_map.query";

/// Most checks one query may hold: each is a pass over every zone imported.
const MAX_CHECKS: usize = 100;

/// The longest a data source's download may take, connecting included: the request waits for it.
const DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(5);

/// The one format a data source may name; ED-318 is read as well, told from the data set's root.
const ED269: &str = "ED-269";

type AppRef = State<Arc<UssState>>;

pub(crate) fn routes() -> Routes<Arc<UssState>> {
    Routes::new()
        .get("/geospatial_map/v1/status", status)
        .post("/geospatial_map/v1/map/queries", query)
        .get("/geospatial_map/v1/geospatial_data_sources", list_sources)
        .put("/geospatial_map/v1/geospatial_data_sources/{id}", put_source)
        .get("/geospatial_map/v1/geospatial_data_sources/{id}", get_source)
        .delete("/geospatial_map/v1/geospatial_data_sources/{id}", delete_source)
}

#[utoipa::path(get, path = "/geospatial_map/v1/status", tag = "InterUSS geospatial map",
    responses((status = 200, description = "Ready", body = StatusResponse), crate::responses::Unauthorized, (status = 403, description = "The token lacks interuss.geospatial_map.direct_automated_test", body = entente_wire::ErrorResponse)))]
pub(crate) async fn status(auth: Auth) -> Result<Json<StatusResponse>, ApiError> {
    auth.require(DIRECT)?;
    Ok(Json(StatusResponse {
        status: "Ready".to_owned(),
        api_name: "Geospatial Map Provider Automated Testing Interface".to_owned(),
        api_version: "v0.2.2".to_owned(),
    }))
}

/// Each check is `Present` when any of its filter sets selects a zone: `Block` selects prohibited zones (the
/// constraints this USS publishes), `Advise` the others (the advisories a flight entering them gets). Zones are
/// taken over each volume's time span, window by window, and met in four dimensions; an altitude above the
/// surface counts over the USS's terrain, at its widest where the terrain has no data. A filter set naming a position or a rule set is
/// `UnsupportedFilter`, unless another filter set of the check selects a zone.
#[utoipa::path(post, path = "/geospatial_map/v1/map/queries", tag = "InterUSS geospatial map",
    request_body = MapQueryRequest,
    responses((status = 200, description = "One result per check", body = MapQueryReply),
        crate::responses::BadRequest, crate::responses::Unauthorized, (status = 403, description = "The token lacks interuss.geospatial_map.query", body = entente_wire::ErrorResponse)))]
pub(crate) async fn query(
    State(st): AppRef,
    auth: Auth,
    body: Body,
) -> Result<Json<MapQueryReply>, ApiError> {
    auth.require(QUERY)?;
    let req: MapQueryRequest = body.json()?;
    if req.checks.len() > MAX_CHECKS {
        return Err(ApiError::bad(format!(
            "checks has {} entries, more than {MAX_CHECKS}",
            req.checks.len()
        )));
    }
    // Every filter set is read before any is answered, so that a malformed one anywhere is the query's 400.
    let checks = req
        .checks
        .iter()
        .enumerate()
        .map(|(i, c)| {
            c.filter_sets
                .iter()
                .enumerate()
                .map(|(j, f)| filter_in(f, &format!("checks[{i}].filter_sets[{j}]"), MAX_VERTICES))
                .collect::<Result<Vec<_>, _>>()
        })
        .collect::<Result<Vec<_>, _>>()?;
    let now = st.now();
    let mut results = Vec::with_capacity(checks.len());
    for (i, filters) in checks.iter().enumerate() {
        let mut present = false;
        let mut unsupported = Vec::new();
        for (j, f) in filters.iter().enumerate() {
            match f {
                FilterIn::Filter(filter) => {
                    present = st
                        .core
                        .zones
                        .selects(filter, now)
                        .map_err(|e| ApiError::bad(format!("checks[{i}].filter_sets[{j}]: {e}")))?;
                }
                FilterIn::Unsupported(why) => unsupported.push(why.clone()),
            }
            if present {
                break;
            }
        }
        results.push(match (present, unsupported.is_empty()) {
            (true, _) => outcome("Present", None),
            (false, true) => outcome("Absent", None),
            (false, false) => outcome("UnsupportedFilter", Some(unsupported.join("; "))),
        });
    }
    Ok(Json(MapQueryReply { results }))
}

fn outcome(outcome: &str, message: Option<String>) -> MapCheckResult {
    MapCheckResult { features_selection_outcome: outcome.to_owned(), message }
}

fn source_status(id: &str, status: DataSourceState, message: Option<String>) -> Json<DataSourceResponse> {
    Json(DataSourceResponse { data_source: DataSourceStatus { id: id.to_owned(), status, message } })
}

/// The data sources whose last PUT answered `Unsupported`, `Rejected` or `Error`, by set, with that answer: so a
/// GET or the list says what went wrong rather than that there is no such source. Memory only, like a test run;
/// a PUT that succeeds or a DELETE clears one.
#[derive(Default)]
pub(crate) struct FailedSources(Mutex<BTreeMap<String, (DataSourceState, Option<String>)>>);

impl FailedSources {
    fn get(&self, set: &str) -> Option<(DataSourceState, Option<String>)> {
        self.0.lock().get(set).cloned()
    }

    /// Records what a PUT of `set` answered: a failure is kept, success clears the one before.
    fn record(&self, set: &str, status: DataSourceState, message: Option<String>) {
        let mut failed = self.0.lock();
        match status {
            DataSourceState::Ready => failed.remove(set),
            _ => failed.insert(set.to_owned(), (status, message)),
        };
    }

    fn remove(&self, set: &str) -> bool {
        self.0.lock().remove(set).is_some()
    }

    fn all(&self) -> BTreeMap<String, (DataSourceState, Option<String>)> {
        self.0.lock().clone()
    }
}

/// The set a data source's id names: the id as a UUID in its canonical form.
fn source_set(id: &str) -> Result<String, ApiError> {
    Ok(entity_id(id, "geospatial_data_source_id")?.to_string())
}

/// Downloads the data set at the source's URL and imports it as the set named by `id`, kept to advise this USS's
/// operators and answer map queries; its prohibited zones are not published as constraints, which is the
/// authority's USS's part (and several USSs under test may load the same source). The answer is 200 with the
/// outcome: `Ready`, `Rejected` (the data set is invalid: the message names the feature, the field and the rule),
/// `Unsupported` (a format other than ED-269) or `Error` (the download failed); a failure is kept, so GET and the
/// list answer it until the source is put again or deleted. The same id and URL again is `Ready` at once; the
/// same id with another URL, 409.
#[utoipa::path(put, path = "/geospatial_map/v1/geospatial_data_sources/{id}", tag = "InterUSS geospatial map",
    params(("id" = String, Path, description = "The data source's id (a UUID); the imported set's name")),
    request_body = DataSourceRequest,
    responses((status = 200, description = "Handled; the data source's status", body = DataSourceResponse),
        crate::responses::BadRequest, crate::responses::Unauthorized,
        (status = 403, description = "The token lacks interuss.geospatial_map.direct_automated_test", body = entente_wire::ErrorResponse),
        (status = 409, description = "This id was used for a different source", body = entente_wire::ErrorResponse)))]
pub(crate) async fn put_source(
    State(st): AppRef,
    auth: Auth,
    Path(id): Path<String>,
    body: Body,
) -> Result<Json<DataSourceResponse>, ApiError> {
    auth.require(DIRECT)?;
    let set = source_set(&id)?;
    let req: DataSourceRequest = body.json()?;
    let source = req
        .https_source
        .ok_or_else(|| ApiError::bad("https_source: required; it is the only kind of source"))?;
    let (status, message) = load_source(&st, &set, source).await?;
    st.failed_sources.record(&set, status, message.clone());
    Ok(source_status(&set, status, message))
}

/// What loading `source` as set `set` comes to: `Ready`, or the failure and why; an error for what is no outcome
/// of the source's (a malformed URL, another source's id, the store failing).
async fn load_source(
    st: &UssState,
    set: &str,
    source: HttpsSource,
) -> Result<(DataSourceState, Option<String>), ApiError> {
    let answer = |status, message| Ok((status, message));
    if let Some(format) = source.format.as_deref().filter(|f| *f != ED269) {
        let why = format!("https_source.format {format:?}: this USS reads {ED269} (and ED-318)");
        return answer(DataSourceState::Unsupported, Some(why));
    }
    st.core.check_zone_set_origin(set, Some(&source.url))?;
    if st.core.zones.get(set).is_some() {
        return answer(DataSourceState::Ready, None);
    }
    let limits = DownloadLimits {
        max_bytes: st.config.body_limit,
        timeout: DOWNLOAD_TIMEOUT,
        allow_http: st.config.allow_http_data_sources,
    };
    let text = match download_text(&source.url, limits).await {
        Ok(text) => text,
        Err(DownloadError::Url(why)) => return Err(ApiError::bad(format!("https_source.url: {why}"))),
        Err(e @ DownloadError::TooLarge { .. }) => {
            return answer(DataSourceState::Rejected, Some(e.to_string()));
        }
        Err(e @ DownloadError::Failed { .. }) => return answer(DataSourceState::Error, Some(e.to_string())),
    };
    let data = match entente_geozones::parse(&text) {
        Ok((_, data)) => data,
        Err(e) => return answer(DataSourceState::Rejected, Some(format!("{}: {e}", source.url))),
    };
    let imported = ZoneSet { data, publish: false, source: text, origin: Some(source.url) };
    match st.core.import_zone_set(set, imported).await {
        Ok(_) => answer(DataSourceState::Ready, None),
        Err(UssError::ZoneSet(why)) => answer(DataSourceState::Rejected, Some(why)),
        Err(e) => Err(e.into()),
    }
}

/// A data source loaded through this interface: `Ready` once imported, or what its last PUT failed with; 404
/// for any other id.
#[utoipa::path(get, path = "/geospatial_map/v1/geospatial_data_sources/{id}", tag = "InterUSS geospatial map",
    params(("id" = String, Path, description = "The data source's id (a UUID)")),
    responses((status = 200, description = "The data source's status", body = DataSourceResponse),
        crate::responses::BadRequest, crate::responses::Unauthorized,
        (status = 403, description = "The token lacks interuss.geospatial_map.direct_automated_test", body = entente_wire::ErrorResponse),
        (status = 404, description = "No such data source (or it was deactivated)", body = entente_wire::ErrorResponse)))]
pub(crate) async fn get_source(
    State(st): AppRef,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Json<DataSourceResponse>, ApiError> {
    auth.require(DIRECT)?;
    let set = source_set(&id)?;
    if let Some((status, message)) = st.failed_sources.get(&set) {
        return Ok(source_status(&set, status, message));
    }
    downloaded(&st, &set)?;
    Ok(source_status(&set, DataSourceState::Ready, None))
}

/// Set `set` when it was loaded as a data source (an authority's upload of the same name is not one).
fn downloaded(st: &UssState, set: &str) -> Result<ZoneSet, ApiError> {
    st.core
        .zones
        .get(set)
        .filter(|s| s.origin.is_some())
        .ok_or_else(|| ApiError::NotFound(format!("geospatial data source {set}: not found")))
}

/// Deactivates a data source: its set withdrawn, so map queries no longer see its zones, and a failure kept for it
/// forgotten.
#[utoipa::path(delete, path = "/geospatial_map/v1/geospatial_data_sources/{id}", tag = "InterUSS geospatial map",
    params(("id" = String, Path, description = "The data source's id (a UUID)")),
    responses((status = 200, description = "Deactivated", body = DataSourceResponse),
        crate::responses::BadRequest, crate::responses::Unauthorized,
        (status = 403, description = "The token lacks interuss.geospatial_map.direct_automated_test", body = entente_wire::ErrorResponse),
        (status = 404, description = "No such data source", body = entente_wire::ErrorResponse)))]
pub(crate) async fn delete_source(
    State(st): AppRef,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Json<DataSourceResponse>, ApiError> {
    auth.require(DIRECT)?;
    let set = source_set(&id)?;
    let failed = st.failed_sources.remove(&set);
    match downloaded(&st, &set) {
        Ok(_) => {
            st.core.delete_zone_set(&set).await?;
        }
        Err(_) if failed => {}
        Err(e) => return Err(e),
    }
    Ok(source_status(&set, DataSourceState::Deactivated, None))
}

/// The data sources loaded through this interface, each `Ready` or what its last PUT failed with.
#[utoipa::path(get, path = "/geospatial_map/v1/geospatial_data_sources", tag = "InterUSS geospatial map",
    responses((status = 200, description = "The data sources", body = DataSourceList),
        crate::responses::Unauthorized,
        (status = 403, description = "The token lacks interuss.geospatial_map.direct_automated_test", body = entente_wire::ErrorResponse)))]
pub(crate) async fn list_sources(State(st): AppRef, auth: Auth) -> Result<Json<DataSourceList>, ApiError> {
    auth.require(DIRECT)?;
    let mut sources: BTreeMap<String, (DataSourceState, Option<String>)> = st
        .core
        .zones
        .all()
        .into_iter()
        .filter(|(_, s)| s.origin.is_some())
        .map(|(id, _)| (id, (DataSourceState::Ready, None)))
        .collect();
    sources.extend(st.failed_sources.all());
    let data_sources =
        sources.into_iter().map(|(id, (status, message))| DataSourceStatus { id, status, message }).collect();
    Ok(Json(DataSourceList { data_sources }))
}
