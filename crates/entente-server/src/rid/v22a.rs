//! F3411-22a (API 2.1) at the DSS edge, under `/rid/v2/dss`: its scopes, and its shapes and their conversion
//! (`entente_wire::rid::v22a`) bound to the handlers.

use entente_dss::{IdentificationServiceArea as Isa, PutIsa, PutRidSubscription, RidApi, RidSubscription};
use entente_wire::WireError;
use entente_wire::rid::v22a::{IdentificationServiceArea, PutParameters, Subscription};

use super::RidWire;

pub(crate) const SP: &str = "rid.service_provider";
pub(crate) const DP: &str = "rid.display_provider";

/// F3411-22a: its DSS edge here, and how a USS speaks it (`uss/rid/v22a.rs`).
pub(crate) struct V22a;

impl RidWire for V22a {
    const API: RidApi = RidApi::V22a;
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

    fn isa_in(p: PutParameters, max_vertices: usize) -> Result<PutIsa, WireError> {
        p.into_isa(max_vertices)
    }

    fn subscription_in(p: PutParameters, max_vertices: usize) -> Result<PutRidSubscription, WireError> {
        p.into_subscription(max_vertices)
    }
}
