//! The F3411 network Remote ID DSS endpoints: F3411-22a under `/rid/v2/dss` and F3411-19 under `/v1/dss`.
//!
//! Both versions share one model, one store and one set of handlers (`endpoints.rs`), generic over
//! [`RidWire`]: what differs between the versions (where they are served, scopes, wire shapes and their
//! conversion) is implemented once per version, in `v22a` and `v19`. This module also holds what their edges
//! have in common (the `area` query string, callback URLs across versions, the subscriber list, the answers'
//! envelopes).

mod endpoints;
pub(crate) mod v19;
pub(crate) mod v22a;

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::Query;
use axum::extract::rejection::QueryRejection;
use entente_dss::{
    IdentificationServiceArea, PutIsa, PutRidSubscription, RidApi, RidSubscriber, RidSubscription, RidUrl,
    Timestamp, Volume,
};
use entente_geo::{Interval, LatLng, Outline, Polygon};
use entente_wire::scd::SubscriptionState;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
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
    fn isa_in(p: Self::IsaParameters, max_vertices: usize) -> Result<PutIsa, ApiError>;
    fn subscription_in(
        p: Self::SubscriptionParameters,
        max_vertices: usize,
    ) -> Result<PutRidSubscription, ApiError>;
}

/// The answer to an ISA search.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct ServiceAreas<I> {
    pub service_areas: Vec<I>,
}

/// The answer to GET of an ISA.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct ServiceArea<I> {
    pub service_area: I,
}

/// The answer to PUT and DELETE of an ISA (`subscribers` is required in F3411-19, and always sent).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct IsaChange<I> {
    pub service_area: I,
    pub subscribers: Vec<RidSubscriberToNotify>,
}

/// The answer to a subscription search.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Subscriptions<S> {
    pub subscriptions: Vec<S>,
}

/// The answer to GET and DELETE of a subscription.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct OneSubscription<S> {
    pub subscription: S,
}

/// The answer to PUT of a subscription: it and the ISAs it already covers.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct SubscriptionPut<S, I> {
    pub subscription: S,
    pub service_areas: Vec<I>,
}

/// The time of a stored RID entity: both ends are always set on write.
pub(crate) fn stored_time(t: Option<Timestamp>) -> Timestamp {
    t.unwrap_or_default()
}

/// The query parameters of a search, or a 400 when the query string is not form-encoded.
pub(crate) type Params = Result<Query<HashMap<String, String>>, QueryRejection>;

pub(crate) fn params(query: Params) -> Result<HashMap<String, String>, ApiError> {
    query.map(|Query(p)| p).map_err(|e| ApiError::bad(format!("the query string is malformed: {e}")))
}

/// A `GeoPolygonString` (`lat1,lng1,lat2,lng2,...`, at least three points) as a search area: the polygon
/// over every altitude and time.
pub(crate) fn area_in(text: Option<&String>, max_vertices: usize) -> Result<Volume, ApiError> {
    let text = text.map(|t| t.trim()).unwrap_or_default();
    if text.is_empty() {
        return Err(ApiError::bad("area is required: lat1,lng1,lat2,lng2,lat3,lng3,..."));
    }
    let numbers = text
        .split(',')
        .map(|n| n.trim().parse::<f64>())
        .collect::<Result<Vec<f64>, _>>()
        .map_err(|_| ApiError::bad(format!("area {text:?} is not a comma-separated list of numbers")))?;
    if numbers.len() % 2 != 0 {
        return Err(ApiError::bad("area must list latitude,longitude pairs; it has an odd count of numbers"));
    }
    if numbers.len() / 2 > max_vertices {
        return Err(ApiError::bad(format!(
            "area has {} points, more than the limit of {max_vertices}",
            numbers.len() / 2
        )));
    }
    let vertices = numbers.chunks_exact(2).map(|p| LatLng { lat: p[0], lng: p[1] }).collect();
    let polygon = Polygon::new(vertices).map_err(|e| ApiError::bad(format!("area: {e}")))?;
    Ok(Volume {
        outline: Outline::Polygon(polygon),
        altitude: Interval { lo: None, hi: None },
        time: Interval { lo: None, hi: None },
    })
}

/// An RID URL as `api` would present it. v19 URLs are full endpoints (`suffix` appended to a base URL);
/// v22a URLs are base URLs. A URL written through the other version is converted by adding or removing
/// `suffix`, so both APIs describe the same entity.
pub(crate) fn url_for(url: &RidUrl, api: RidApi, suffix: &str) -> String {
    match (url.api, api) {
        (RidApi::V19, RidApi::V19) | (RidApi::V22a, RidApi::V22a) => url.url.clone(),
        (RidApi::V22a, RidApi::V19) => format!("{}{suffix}", url.url.trim_end_matches('/')),
        (RidApi::V19, RidApi::V22a) => url.url.strip_suffix(suffix).unwrap_or(&url.url).to_owned(),
    }
}

/// Where an ISA's subscribers take their notifications: `/uss/identification_service_areas` in both versions.
pub(crate) const ISA_CALLBACK_SUFFIX: &str = "/uss/identification_service_areas";
/// Where an ISA's flights are: `/uss/flights` in both versions.
pub(crate) const FLIGHTS_SUFFIX: &str = "/uss/flights";

/// One subscriber to notify of an ISA change: the same shape in both versions (the URL differs in meaning).
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub(crate) struct RidSubscriberToNotify {
    pub subscriptions: Vec<SubscriptionState>,
    pub url: String,
}

pub(crate) fn subscribers_out(subscribers: &[RidSubscriber], api: RidApi) -> Vec<RidSubscriberToNotify> {
    subscribers
        .iter()
        .map(|s| RidSubscriberToNotify {
            url: url_for(&s.url, api, ISA_CALLBACK_SUFFIX),
            subscriptions: s.subscriptions.iter().map(SubscriptionState::from).collect(),
        })
        .collect()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn area_strings() {
        let ok = area_in(Some(&"46.5,6.6,46.6,6.6,46.6,6.7".to_owned()), 100);
        assert!(ok.is_ok());
        for bad in [
            "",
            "46.5,6.6,46.6,6.6",
            "46.5,6.6,46.6,6.6,46.6",
            "a,b,c,d,e,f",
            "46.5,6.6,46.6,6.6,46.6,6.7,46.5,6.6",
        ] {
            assert!(area_in(Some(&bad.to_owned()), 100).is_err(), "{bad:?} should be refused");
        }
        assert!(area_in(None, 100).is_err());
        assert!(area_in(Some(&"46.5,6.6,46.6,6.6,46.6,6.7".to_owned()), 2).is_err());
    }

    #[test]
    fn urls_convert_between_versions() {
        let v22 = RidUrl { api: RidApi::V22a, url: "https://sp.example/rid".to_owned() };
        assert_eq!(url_for(&v22, RidApi::V22a, FLIGHTS_SUFFIX), "https://sp.example/rid");
        assert_eq!(url_for(&v22, RidApi::V19, FLIGHTS_SUFFIX), "https://sp.example/rid/uss/flights");
        let v19 = RidUrl {
            api: RidApi::V19,
            url: "https://dp.example/v1/uss/identification_service_areas".to_owned(),
        };
        assert_eq!(url_for(&v19, RidApi::V19, ISA_CALLBACK_SUFFIX), v19.url);
        assert_eq!(url_for(&v19, RidApi::V22a, ISA_CALLBACK_SUFFIX), "https://dp.example/v1");
    }
}
