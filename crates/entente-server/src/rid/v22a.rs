//! F3411-22a (API 2.1) at the DSS edge, under `/rid/v2/dss`: its wire types and their conversion.

use entente_dss::{
    IdentificationServiceArea as Isa, PutIsa, PutRidSubscription, RidApi, RidSubscription, RidUrl,
};
use entente_wire::{Time, Volume4D, time_out, volume_in};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{FLIGHTS_SUFFIX, ISA_CALLBACK_SUFFIX, IsaChange, RidWire, SubscriptionPut, stored_time, url_for};
use crate::error::ApiError;

pub(crate) const SP: &str = "rid.service_provider";
pub(crate) const DP: &str = "rid.display_provider";
const API: RidApi = RidApi::V22a;

/// F3411-22a's DSS edge.
pub(crate) struct V22a;

impl RidWire for V22a {
    const API: RidApi = API;
    const PREFIX: &'static str = "/rid/v2/dss";
    const NAME: &'static str = "F3411-22a";
    const SEARCH_ISAS: &'static [&'static str] = &[DP];
    const GET_ISA: &'static [&'static str] = &[DP, SP];
    const WRITE_ISA: &'static [&'static str] = &[SP];
    const SEARCH_SUBSCRIPTIONS: &'static [&'static str] = &[DP];
    const GET_SUBSCRIPTION: &'static [&'static str] = &[DP, SP];
    const WRITE_SUBSCRIPTION: &'static [&'static str] = &[DP];

    type Isa = IdentificationServiceArea;
    type Subscription = Subscription;
    type IsaParameters = PutParameters;
    type SubscriptionParameters = PutParameters;

    fn isa_out(isa: &Isa) -> IdentificationServiceArea {
        IdentificationServiceArea::from_domain(isa)
    }

    fn subscription_out(subscription: &RidSubscription) -> Subscription {
        Subscription::from_domain(subscription)
    }

    fn isa_in(p: PutParameters, max_vertices: usize) -> Result<PutIsa, ApiError> {
        let (extents, url) = p.into_domain(max_vertices)?;
        Ok(PutIsa { extents, url })
    }

    fn subscription_in(p: PutParameters, max_vertices: usize) -> Result<PutRidSubscription, ApiError> {
        let (extents, url) = p.into_domain(max_vertices)?;
        Ok(PutRidSubscription { extents, url })
    }
}

/// The answer to PUT and DELETE of an ISA, as a service provider reads it.
pub(crate) type ChangeIdentificationServiceAreaResponse = IsaChange<IdentificationServiceArea>;
/// The answer to PUT of a subscription, as a display provider reads it.
pub(crate) type PutSubscriptionResponse = SubscriptionPut<Subscription, IdentificationServiceArea>;

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[schema(as = rid_v22a::IdentificationServiceArea)]
pub(crate) struct IdentificationServiceArea {
    pub id: String,
    pub owner: String,
    pub uss_base_url: String,
    pub time_start: Time,
    pub time_end: Time,
    pub version: String,
}

impl IdentificationServiceArea {
    fn from_domain(i: &Isa) -> Self {
        IdentificationServiceArea {
            id: i.id.to_string(),
            owner: i.owner.clone(),
            uss_base_url: url_for(&i.url, API, FLIGHTS_SUFFIX),
            time_start: time_out(stored_time(i.extents.time.lo)),
            time_end: time_out(stored_time(i.extents.time.hi)),
            version: i.version.clone(),
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[schema(as = rid_v22a::Subscription)]
pub(crate) struct Subscription {
    pub id: String,
    pub owner: String,
    pub uss_base_url: String,
    pub notification_index: i32,
    pub time_start: Time,
    pub time_end: Time,
    pub version: String,
}

impl Subscription {
    fn from_domain(s: &RidSubscription) -> Self {
        Subscription {
            id: s.id.to_string(),
            owner: s.owner.clone(),
            uss_base_url: url_for(&s.url, API, ISA_CALLBACK_SUFFIX),
            notification_index: s.notification_index,
            time_start: time_out(stored_time(s.extents.time.lo)),
            time_end: time_out(stored_time(s.extents.time.hi)),
            version: s.version.clone(),
        }
    }
}

/// Create and update bodies of both ISAs and subscriptions.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[schema(as = rid_v22a::PutParameters)]
pub(crate) struct PutParameters {
    pub extents: Volume4D,
    pub uss_base_url: String,
}

impl PutParameters {
    fn into_domain(self, max_vertices: usize) -> Result<(entente_dss::Volume, RidUrl), ApiError> {
        let extents = volume_in(&self.extents, "extents", max_vertices)?;
        Ok((extents, RidUrl { api: API, url: self.uss_base_url }))
    }
}
