//! The InterUSS geospatial map automated-testing interface (interuss/automated_testing_interfaces,
//! geospatial_map v1), so conformance tooling can ask, as a user looking at this USS's map would, whether the
//! zone data sets imported here would block or advise a flight in given volumes and times. Data sets are loaded
//! through the authority API, not through this interface's data source endpoints, which are not served.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use entente_wire::interuss::geospatial_map::{
    FilterIn, MapCheckResult, MapQueryReply, MapQueryRequest, StatusResponse, filter_in,
};

use super::{MAX_VERTICES, UssState};
use crate::error::ApiError;
use crate::extract::{Auth, Body};
use crate::routes::Routes;

const DIRECT: &str = "interuss.geospatial_map.direct_automated_test";
const QUERY: &str = "interuss.geospatial_map.query";

/// Most checks one query may hold: each is a pass over every zone imported.
const MAX_CHECKS: usize = 100;

type AppRef = State<Arc<UssState>>;

pub(crate) fn routes() -> Routes<Arc<UssState>> {
    Routes::new().get("/geospatial_map/v1/status", status).post("/geospatial_map/v1/map/queries", query)
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
/// surface counts at its widest, there being no terrain model. A filter set naming a position or a rule set is
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
