//! F3411-19 (API 1.0) at the DSS edge, under `/v1/dss`: its scopes, and its shapes and their conversion
//! (`entente_wire::rid::v19`) bound to the handlers.

use entente_dss::{IdentificationServiceArea as Isa, PutIsa, PutRidSubscription, RidApi, RidSubscription};
use entente_wire::WireError;
use entente_wire::rid::v19::{
    IdentificationServiceArea, IdentificationServiceAreaParameters, Subscription, SubscriptionParameters,
};

use super::RidWire;

pub(crate) const WRITE: &str = "dss.write.identification_service_areas";
pub(crate) const READ: &str = "dss.read.identification_service_areas";

/// F3411-19: its DSS edge here, and how a USS speaks it (`uss/rid/v19.rs`).
pub(crate) struct V19;

impl RidWire for V19 {
    const API: RidApi = RidApi::V19;
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

    fn isa_in(p: IdentificationServiceAreaParameters, max_vertices: usize) -> Result<PutIsa, WireError> {
        p.into_isa(max_vertices)
    }

    fn subscription_in(
        p: SubscriptionParameters,
        max_vertices: usize,
    ) -> Result<PutRidSubscription, WireError> {
        p.into_subscription(max_vertices)
    }
}
