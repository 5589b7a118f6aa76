//! InterUSS's own DSS extensions, outside F3548, that its test tooling reads: the system version
//! (`/versions/{system_identity}` and `/aux/v1/version`) and the pool status (`/aux/v1/pool`); the USS serves
//! the same versioning answer under `/versioning`.

use std::sync::Arc;

use axum::Json;
use axum::extract::Path;
use entente_wire::interuss::versioning::{Pool, SystemVersion, Version};

use crate::app::AppState;
use crate::error::ApiError;
use crate::extract::Auth;
use crate::routes::Routes;

const READ_SYSTEM_VERSIONS: &str = "interuss.versioning.read_system_versions";
const POOL_STATUS_READ: &str = "interuss.pool_status.read";

/// The one system this server versions: the DSS.
const SYSTEM_IDENTITY: &str = "dss";
const VERSION: &str = concat!("entente-", env!("CARGO_PKG_VERSION"));

pub(crate) fn routes() -> Routes<Arc<AppState>> {
    Routes::new()
        .get("/versions/{system_identity}", system_version)
        .get("/aux/v1/version", version)
        .get("/aux/v1/pool", pool)
}

#[utoipa::path(get, path = "/versions/{system_identity}", tag = "InterUSS extensions",
    params(("system_identity" = String, Path, description = "The system whose version is asked: `dss`")),
    responses((status = 200, description = "The version of this DSS", body = SystemVersion), crate::responses::Unauthorized, (status = 403, description = "The token lacks interuss.versioning.read_system_versions", body = entente_wire::ErrorResponse), (status = 404, description = "No such system here", body = entente_wire::ErrorResponse)))]
pub(crate) async fn system_version(
    auth: Auth,
    Path(system_identity): Path<String>,
) -> Result<Json<SystemVersion>, ApiError> {
    versioned(&auth, system_identity, SYSTEM_IDENTITY)
}

/// InterUSS's versioning answer for the one system `served` a server runs (the DSS, or a USS's F3548 role).
pub(crate) fn versioned(
    auth: &Auth,
    system_identity: String,
    served: &str,
) -> Result<Json<SystemVersion>, ApiError> {
    auth.require(READ_SYSTEM_VERSIONS)?;
    if system_identity != served {
        return Err(ApiError::NotFound(format!(
            "system_identity {system_identity:?} is not versioned here; this server versions {served:?}"
        )));
    }
    Ok(Json(SystemVersion { system_identity, system_version: VERSION.to_owned() }))
}

#[utoipa::path(get, path = "/aux/v1/version", tag = "InterUSS extensions",
    responses((status = 200, description = "The version of this DSS", body = Version), crate::responses::Unauthorized))]
pub(crate) async fn version(_auth: Auth) -> Json<Version> {
    Json(Version { version: VERSION.to_owned() })
}

#[utoipa::path(get, path = "/aux/v1/pool", tag = "InterUSS extensions",
    responses((status = 200, description = "The pool status", body = Pool), crate::responses::Unauthorized, (status = 403, description = "The token lacks interuss.pool_status.read", body = entente_wire::ErrorResponse)))]
pub(crate) async fn pool(auth: Auth) -> Result<Json<Pool>, ApiError> {
    auth.require(POOL_STATUS_READ)?;
    Ok(Json(Pool {}))
}
