//! The F3411 network Remote ID DSS endpoints: F3411-22a under `/rid/v2/dss` and F3411-19 under `/v1/dss`.
//!
//! Both versions share one model, one store and one set of handlers (`endpoints.rs`), generic over
//! [`RidWire`]: what differs between the versions (where they are served, scopes, wire shapes and their
//! conversion, from `entente_wire::rid`) is implemented once per version, in `v22a` and `v19`. This module also
//! holds what their edges have in common (the query string).

mod endpoints;
pub(crate) mod v19;
pub(crate) mod v22a;

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::Query;
use axum::extract::rejection::QueryRejection;
use entente_dss::{
    IdentificationServiceArea, PutIsa, PutRidSubscription, RidApi, RidSubscription, Timestamp,
};
use entente_wire::WireError;
use serde::Serialize;
use serde::de::DeserializeOwned;
use utoipa::ToSchema;

use crate::app::AppState;
use crate::error::ApiError;
use crate::routes::Routes;

pub(crate) use endpoints::document;

pub(crate) fn routes() -> Routes<Arc<AppState>> {
    Routes::new().merge(endpoints::routes::<v22a::V22a>()).merge(endpoints::routes::<v19::V19>())
}

/// What one F3411 version's DSS edge is: where it is served, which scopes each operation takes, and its wire
/// shapes with their conversion to and from the one model. The handlers are written once over this trait.
pub(crate) trait RidWire: Send + Sync + 'static {
    const API: RidApi;
    /// Where the version's DSS endpoints are served, without a trailing `/`.
    const PREFIX: &'static str;
    /// The version's name in the OpenAPI document's tags.
    const NAME: &'static str;
    /// Scopes of which a caller needs one, per operation.
    const SEARCH_ISAS: &'static [&'static str];
    const GET_ISA: &'static [&'static str];
    const WRITE_ISA: &'static [&'static str];
    const SEARCH_SUBSCRIPTIONS: &'static [&'static str];
    const GET_SUBSCRIPTION: &'static [&'static str];
    const WRITE_SUBSCRIPTION: &'static [&'static str];

    type Isa: Serialize + ToSchema + Send;
    type Subscription: Serialize + ToSchema + Send;
    /// The body of an ISA's create and update.
    type IsaParameters: DeserializeOwned + ToSchema;
    /// The body of a subscription's create and update.
    type SubscriptionParameters: DeserializeOwned + ToSchema;

    fn isa_out(isa: &IdentificationServiceArea) -> Self::Isa;
    fn subscription_out(subscription: &RidSubscription) -> Self::Subscription;
    fn isa_in(p: Self::IsaParameters, max_vertices: usize) -> Result<PutIsa, WireError>;
    fn subscription_in(
        p: Self::SubscriptionParameters,
        max_vertices: usize,
    ) -> Result<PutRidSubscription, WireError>;
}

/// The query parameters of a search, or a 400 when the query string is not form-encoded.
pub(crate) type Params = Result<Query<HashMap<String, String>>, QueryRejection>;

pub(crate) fn params(query: Params) -> Result<HashMap<String, String>, ApiError> {
    query.map(|Query(p)| p).map_err(|e| ApiError::bad(format!("the query string is malformed: {e}")))
}

/// An optional RFC 3339 query parameter, any offset (both F3411 versions).
pub(crate) fn time_param(
    params: &HashMap<String, String>,
    name: &str,
) -> Result<Option<Timestamp>, ApiError> {
    Ok(params
        .get(name)
        .filter(|v| !v.is_empty())
        .map(|v| entente_wire::parse_rfc3339(v, name))
        .transpose()?)
}
