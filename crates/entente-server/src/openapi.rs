//! Our own OpenAPI document, derived from the handlers and wire types (not copied from the standards).

use utoipa::OpenApi;

use crate::scd;

#[derive(OpenApi)]
#[openapi(
    info(title = "Entente DSS", description = "ASTM F3548-21 DSS endpoints as Entente serves them."),
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
    )
)]
struct ApiDoc;

pub(crate) fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}
