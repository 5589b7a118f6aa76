//! Our own OpenAPI document, derived from the handlers and wire types (not copied from the standards).

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::rid::{v19, v22a};
use crate::uss::{authority, log_sets, operator, rid as uss_rid, uss_api};
use crate::{interuss, scd};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Entente DSS",
        description = "ASTM F3548-21 and F3411 (-22a under /rid/v2, -19 under /v1) DSS endpoints as Entente serves them."
    ),
    modifiers(&BearerAuth),
    security(("bearer" = [])),
    paths(
        scd::query_intents,
        scd::get_intent,
        scd::create_intent,
        scd::update_intent,
        scd::delete_intent,
        scd::query_constraints,
        scd::get_constraint,
        scd::create_constraint,
        scd::update_constraint,
        scd::delete_constraint,
        scd::query_subscriptions,
        scd::get_subscription,
        scd::create_subscription,
        scd::update_subscription,
        scd::delete_subscription,
        scd::make_report,
        scd::get_availability,
        scd::set_availability,
        v22a::search_isas,
        v22a::get_isa,
        v22a::create_isa,
        v22a::update_isa,
        v22a::delete_isa,
        v22a::search_subscriptions,
        v22a::get_subscription,
        v22a::create_subscription,
        v22a::update_subscription,
        v22a::delete_subscription,
        v19::search_isas,
        v19::get_isa,
        v19::create_isa,
        v19::update_isa,
        v19::delete_isa,
        v19::search_subscriptions,
        v19::get_subscription,
        v19::create_subscription,
        v19::update_subscription,
        v19::delete_subscription,
        interuss::system_version,
        interuss::version,
        interuss::pool,
    )
)]
struct ApiDoc;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Entente USS",
        description = "The ASTM F3548-21 USS-USS API and Entente's operator and authority APIs, as `entente uss` serves them."
    ),
    modifiers(&BearerAuth),
    security(("bearer" = [])),
    paths(
        operator::submit,
        operator::list,
        operator::status,
        operator::activate,
        operator::telemetry,
        operator::end,
        uss_rid::dp::start_watch,
        uss_rid::dp::list_watches,
        uss_rid::dp::end_watch,
        uss_rid::dp::display,
        uss_rid::replay::start_replay,
        uss_rid::tactical::alerts,
        uss_rid::sp::flights,
        uss_rid::sp::flight_details,
        uss_rid::sp::isa_details,
        uss_rid::dp::notified_isa,
        uss_rid::v19::flights,
        uss_rid::v19::flight_details,
        uss_rid::v19::notified_isa,
        uss_rid::testing::create_test,
        uss_rid::testing::delete_test,
        uss_rid::testing::user_notifications,
        uss_rid::testing::display_data,
        uss_rid::testing::display_details,
        uss_api::intent_details,
        uss_api::intent_telemetry,
        uss_api::notified_intent,
        uss_api::notified_constraint,
        uss_api::constraint_details,
        uss_api::report,
        uss_api::system_version,
        log_sets::log_set,
        authority::create_constraint,
        authority::list_constraints,
        authority::delete_constraint,
        authority::set_availability,
    )
)]
struct UssApiDoc;

/// Every endpoint takes an OAuth 2 access token (a JWT) as a bearer token.
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build(),
            ),
        );
    }
}

pub(crate) fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

pub(crate) fn uss_document() -> utoipa::openapi::OpenApi {
    UssApiDoc::openapi()
}
