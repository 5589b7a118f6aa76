//! InterUSS's versioning interface and its DSS extensions: a system's version, and the pool a DSS belongs to.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct SystemVersion {
    pub system_identity: String,
    pub system_version: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct Version {
    pub version: String,
}

/// The pool this DSS belongs to. InterUSS reports the id of its shared datastore here; an Entente pool
/// shares an etcd prefix, not a registered datastore, so no id is claimed.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct Pool {}
