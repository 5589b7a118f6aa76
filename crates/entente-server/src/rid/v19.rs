//! F3411-19 (API 1.0) at the DSS edge, under `/v1/dss`: its wire types (polygon footprints, plain numbers and
//! strings) and their conversion.

use entente_dss::{
    IdentificationServiceArea as Isa, PutIsa, PutRidSubscription, RidApi, RidSubscription, RidUrl, Volume,
};
use entente_geo::Interval;
use entente_wire::{Polygon, parse_rfc3339, polygon_in, rfc3339};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{FLIGHTS_SUFFIX, ISA_CALLBACK_SUFFIX, IsaChange, RidWire, SubscriptionPut, stored_time, url_for};
use crate::error::ApiError;

pub(crate) const WRITE: &str = "dss.write.identification_service_areas";
pub(crate) const READ: &str = "dss.read.identification_service_areas";
const API: RidApi = RidApi::V19;

/// Altitudes outside this range are not on any aircraft's path (as in the later versions).
const ALTITUDE_RANGE: (f64, f64) = (-8000.0, 100_000.0);

/// F3411-19's DSS edge.
pub(crate) struct V19;

impl RidWire for V19 {
    const API: RidApi = API;
    const PREFIX: &'static str = "/v1/dss";
    const NAME: &'static str = "F3411-19";
    const SEARCH_ISAS: &'static [&'static str] = &[READ];
    const GET_ISA: &'static [&'static str] = &[READ];
    const WRITE_ISA: &'static [&'static str] = &[WRITE];
    const SEARCH_SUBSCRIPTIONS: &'static [&'static str] = &[READ];
    const GET_SUBSCRIPTION: &'static [&'static str] = &[READ, WRITE];
    const WRITE_SUBSCRIPTION: &'static [&'static str] = &[READ];

    type Isa = IdentificationServiceArea;
    type Subscription = Subscription;
    type IsaParameters = IdentificationServiceAreaParameters;
    type SubscriptionParameters = SubscriptionParameters;

    fn isa_out(isa: &Isa) -> IdentificationServiceArea {
        IdentificationServiceArea::from_domain(isa)
    }

    fn subscription_out(subscription: &RidSubscription) -> Subscription {
        Subscription::from_domain(subscription)
    }

    fn isa_in(p: IdentificationServiceAreaParameters, max_vertices: usize) -> Result<PutIsa, ApiError> {
        let extents = volume_in(&p.extents, "extents", max_vertices)?;
        Ok(PutIsa { extents, url: RidUrl { api: API, url: p.flights_url } })
    }

    fn subscription_in(
        p: SubscriptionParameters,
        max_vertices: usize,
    ) -> Result<PutRidSubscription, ApiError> {
        let extents = volume_in(&p.extents, "extents", max_vertices)?;
        let url = p
            .callbacks
            .identification_service_area_url
            .ok_or_else(|| ApiError::bad("callbacks.identification_service_area_url is required"))?;
        Ok(PutRidSubscription { extents, url: RidUrl { api: API, url } })
    }
}

/// The answer to PUT and DELETE of an ISA, as a service provider reads it.
pub(crate) type ChangeIdentificationServiceAreaResponse = IsaChange<IdentificationServiceArea>;
/// The answer to PUT of a subscription, as a display provider reads it.
pub(crate) type PutSubscriptionResponse = SubscriptionPut<Subscription, IdentificationServiceArea>;

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[schema(as = rid_v19::Volume3D)]
pub(crate) struct Volume3D {
    pub footprint: Polygon,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub altitude_lo: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub altitude_hi: Option<f64>,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[schema(as = rid_v19::Volume4D)]
pub(crate) struct Volume4D {
    pub spatial_volume: Volume3D,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_start: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_end: Option<String>,
}

fn altitude_in(value: Option<f64>, path: &str) -> Result<Option<f64>, ApiError> {
    match value {
        Some(a) if !a.is_finite() || a < ALTITUDE_RANGE.0 || a > ALTITUDE_RANGE.1 => Err(ApiError::bad(
            format!("{path} {a} is outside [{}, {}] metres", ALTITUDE_RANGE.0, ALTITUDE_RANGE.1),
        )),
        other => Ok(other),
    }
}

pub(crate) fn volume_in(v: &Volume4D, path: &str, max_vertices: usize) -> Result<Volume, ApiError> {
    let s = &v.spatial_volume;
    let outline = polygon_in(&s.footprint, &format!("{path}.spatial_volume.footprint"), max_vertices)?;
    let start =
        v.time_start.as_deref().map(|t| parse_rfc3339(t, &format!("{path}.time_start"))).transpose()?;
    let end = v.time_end.as_deref().map(|t| parse_rfc3339(t, &format!("{path}.time_end"))).transpose()?;
    Ok(Volume {
        outline,
        altitude: Interval {
            lo: altitude_in(s.altitude_lo, &format!("{path}.spatial_volume.altitude_lo"))?,
            hi: altitude_in(s.altitude_hi, &format!("{path}.spatial_volume.altitude_hi"))?,
        },
        time: Interval { lo: start, hi: end },
    })
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[schema(as = rid_v19::IdentificationServiceArea)]
pub(crate) struct IdentificationServiceArea {
    pub id: String,
    pub owner: String,
    pub flights_url: String,
    pub time_start: String,
    pub time_end: String,
    pub version: String,
}

impl IdentificationServiceArea {
    fn from_domain(i: &Isa) -> Self {
        IdentificationServiceArea {
            id: i.id.to_string(),
            owner: i.owner.clone(),
            flights_url: url_for(&i.url, API, FLIGHTS_SUFFIX),
            time_start: rfc3339(stored_time(i.extents.time.lo)),
            time_end: rfc3339(stored_time(i.extents.time.hi)),
            version: i.version.clone(),
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[schema(as = rid_v19::SubscriptionCallbacks)]
pub(crate) struct SubscriptionCallbacks {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identification_service_area_url: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[schema(as = rid_v19::Subscription)]
pub(crate) struct Subscription {
    pub id: String,
    pub owner: String,
    pub callbacks: SubscriptionCallbacks,
    pub notification_index: i32,
    pub time_start: String,
    pub time_end: String,
    pub version: String,
}

impl Subscription {
    fn from_domain(s: &RidSubscription) -> Self {
        Subscription {
            id: s.id.to_string(),
            owner: s.owner.clone(),
            callbacks: SubscriptionCallbacks {
                identification_service_area_url: Some(url_for(&s.url, API, ISA_CALLBACK_SUFFIX)),
            },
            notification_index: s.notification_index,
            time_start: rfc3339(stored_time(s.extents.time.lo)),
            time_end: rfc3339(stored_time(s.extents.time.hi)),
            version: s.version.clone(),
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[schema(as = rid_v19::IdentificationServiceAreaParameters)]
pub(crate) struct IdentificationServiceAreaParameters {
    pub extents: Volume4D,
    pub flights_url: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[schema(as = rid_v19::SubscriptionParameters)]
pub(crate) struct SubscriptionParameters {
    pub extents: Volume4D,
    pub callbacks: SubscriptionCallbacks,
}
