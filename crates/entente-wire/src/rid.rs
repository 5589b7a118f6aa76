//! F3411 network Remote ID shapes, F3411-22a (`v22a`) and F3411-19 (`v19`), and what the two versions have in
//! common: the answers' envelopes, the subscriber list, the `area` query string and callback URLs across versions.

pub mod v19;
pub mod v22a;

use entente_dss::{RidApi, RidSubscriber, RidUrl, Timestamp, Volume};
use entente_geo::{Interval, LatLng, Outline, Polygon};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::WireError;
use crate::scd::SubscriptionState;

/// The answer to an ISA search.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ServiceAreas<I> {
    pub service_areas: Vec<I>,
}

/// The answer to GET of an ISA.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ServiceArea<I> {
    pub service_area: I,
}

/// The answer to PUT and DELETE of an ISA (`subscribers` is required in F3411-19, and always sent).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct IsaChange<I> {
    pub service_area: I,
    pub subscribers: Vec<RidSubscriberToNotify>,
}

/// The answer to a subscription search.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Subscriptions<S> {
    pub subscriptions: Vec<S>,
}

/// The answer to GET and DELETE of a subscription.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct OneSubscription<S> {
    pub subscription: S,
}

/// The answer to PUT of a subscription: it and the ISAs it already covers.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SubscriptionPut<S, I> {
    pub subscription: S,
    pub service_areas: Vec<I>,
}

/// The time of a stored RID entity: both ends are always set on write.
fn stored_time(t: Option<Timestamp>) -> Timestamp {
    t.unwrap_or_default()
}

/// A `GeoPolygonString` (`lat1,lng1,lat2,lng2,...`, at least three points) as a search area: the polygon
/// over every altitude and time.
pub fn area_in(text: Option<&str>, max_vertices: usize) -> Result<Volume, WireError> {
    let text = text.map(str::trim).unwrap_or_default();
    if text.is_empty() {
        return Err(WireError::field("area", "is required: lat1,lng1,lat2,lng2,lat3,lng3,..."));
    }
    let numbers =
        text.split(',').map(|n| n.trim().parse::<f64>()).collect::<Result<Vec<f64>, _>>().map_err(|_| {
            WireError::field("area", format!("{text:?} is not a comma-separated list of numbers"))
        })?;
    if numbers.len() % 2 != 0 {
        return Err(WireError::field(
            "area",
            "must list latitude,longitude pairs; it has an odd count of numbers",
        ));
    }
    if numbers.len() / 2 > max_vertices {
        return Err(WireError::field(
            "area",
            format!("has {} points, more than the limit of {max_vertices}", numbers.len() / 2),
        ));
    }
    let vertices = numbers.chunks_exact(2).map(|p| LatLng { lat: p[0], lng: p[1] }).collect();
    let polygon = Polygon::new(vertices).map_err(|e| WireError::value("area", e.to_string()))?;
    Ok(Volume {
        outline: Outline::Polygon(polygon),
        altitude: Interval { lo: None, hi: None },
        time: Interval { lo: None, hi: None },
    })
}

/// An RID URL as `api` would present it. v19 URLs are full endpoints (`suffix` appended to a base URL);
/// v22a URLs are base URLs. A URL written through the other version is converted by adding or removing
/// `suffix`, so both APIs describe the same entity.
pub fn url_for(url: &RidUrl, api: RidApi, suffix: &str) -> String {
    match (url.api, api) {
        (RidApi::V19, RidApi::V19) | (RidApi::V22a, RidApi::V22a) => url.url.clone(),
        (RidApi::V22a, RidApi::V19) => format!("{}{suffix}", url.url.trim_end_matches('/')),
        (RidApi::V19, RidApi::V22a) => url.url.strip_suffix(suffix).unwrap_or(&url.url).to_owned(),
    }
}

/// Where an ISA's subscribers take their notifications: `/uss/identification_service_areas` in both versions.
pub const ISA_CALLBACK_SUFFIX: &str = "/uss/identification_service_areas";
/// Where an ISA's flights are: `/uss/flights` in both versions.
pub const FLIGHTS_SUFFIX: &str = "/uss/flights";

/// One subscriber to notify of an ISA change: the same shape in both versions (the URL differs in meaning).
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct RidSubscriberToNotify {
    pub subscriptions: Vec<SubscriptionState>,
    pub url: String,
}

pub fn subscribers_out(subscribers: &[RidSubscriber], api: RidApi) -> Vec<RidSubscriberToNotify> {
    subscribers
        .iter()
        .map(|s| RidSubscriberToNotify {
            url: url_for(&s.url, api, ISA_CALLBACK_SUFFIX),
            subscriptions: s.subscriptions.iter().map(SubscriptionState::from).collect(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn area_strings() {
        assert!(area_in(Some("46.5,6.6,46.6,6.6,46.6,6.7"), 100).is_ok());
        for bad in [
            "",
            "46.5,6.6,46.6,6.6",
            "46.5,6.6,46.6,6.6,46.6",
            "a,b,c,d,e,f",
            "46.5,6.6,46.6,6.6,46.6,6.7,46.5,6.6",
        ] {
            let refused = area_in(Some(bad), 100);
            assert!(
                refused.as_ref().is_err_and(|e| e.path() == "area"),
                "{bad:?} should be refused: {refused:?}"
            );
        }
        assert!(area_in(None, 100).is_err());
        assert!(area_in(Some("46.5,6.6,46.6,6.6,46.6,6.7"), 2).is_err());
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
