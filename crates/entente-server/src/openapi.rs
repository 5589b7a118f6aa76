//! Our own OpenAPI documents, derived from the handlers and wire types (not copied from the standards); a test
//! checks them against the route tables the routers are built from, so no route goes undocumented.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::rid::{self, v19::V19, v22a::V22a};
use crate::uss::{
    authority, flight_planning, geospatial_map, geozones, log_sets, operator, rid as uss_rid, uss_api,
};
use crate::{app, interuss, map, scd, uss};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Entente DSS",
        description = "ASTM F3548-21 and F3411 (-22a under /rid/v2, -19 under /v1) DSS endpoints as Entente serves them."
    ),
    modifiers(&BearerAuth, &RidDocument),
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
        interuss::system_version,
        interuss::version,
        interuss::pool,
        app::healthy,
        app::metrics,
        app::openapi_document,
        map::to_page,
        map::page,
        map::script,
        map::style,
        map::basemap,
        map::region,
        map::places,
        map::basemap_url,
        map::vendored,
        map::airspace,
        map::events,
        map::operators::list,
        map::operators::flights,
        map::operators::submit,
        map::operators::status,
        map::operators::act,
        map::operators::start_watch,
        map::operators::end_watch,
        map::operators::rid_flights,
        map::operators::alerts,
        map::operators::geozones,
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
        geozones::zones_in_force,
        geozones::import_set,
        geozones::list_sets,
        geozones::export_set,
        geozones::delete_set,
        geospatial_map::status,
        geospatial_map::query,
        geospatial_map::list_sources,
        geospatial_map::put_source,
        geospatial_map::get_source,
        geospatial_map::delete_source,
        flight_planning::status,
        flight_planning::upsert,
        flight_planning::delete,
        flight_planning::clear_area,
        flight_planning::user_notifications,
        app::healthy,
        uss::metrics,
        uss::openapi_document,
    )
)]
struct UssApiDoc;

/// The F3411 operations of both versions, documented from the table their routes are made from.
struct RidDocument;

impl Modify for RidDocument {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        rid::document::<V22a>(openapi);
        rid::document::<V19>(openapi);
    }
}

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

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::{document, uss_document};

    const METHODS: [&str; 4] = ["get", "put", "post", "delete"];

    /// What the router serves that the document does not describe, and what the document describes that the
    /// router does not serve.
    fn mismatches(doc: utoipa::openapi::OpenApi, served: &[(&str, String)]) -> (Vec<String>, Vec<String>) {
        let doc = serde_json::to_value(doc).expect("the document serialises");
        let paths = doc["paths"].as_object().cloned().unwrap_or_default();
        let undocumented = served
            .iter()
            .filter(|(method, path)| paths.get(path).and_then(|p| p.get(*method)).is_none())
            .map(|(method, path)| format!("{} {path}", method.to_uppercase()))
            .collect();
        let unserved = paths
            .iter()
            .flat_map(|(path, item)| {
                METHODS.iter().filter(|m| item.get(**m).is_some()).map(move |m| (*m, path))
            })
            .filter(|(method, path)| !served.iter().any(|(m, p)| m == method && p == *path))
            .map(|(method, path)| format!("{} {path}", method.to_uppercase()))
            .collect();
        (undocumented, unserved)
    }

    #[test]
    fn the_dss_document_describes_every_route_the_dss_serves_and_no_other() {
        // With the web map, which `entente serve` and `entente dss --map` mount.
        let routes = crate::app::routes(true);
        let (undocumented, unserved) = mismatches(document(), routes.served());
        assert_eq!(undocumented, Vec::<String>::new(), "served but not documented");
        assert_eq!(unserved, Vec::<String>::new(), "documented but not served");
    }

    #[test]
    fn the_uss_document_describes_every_route_the_uss_serves_and_no_other() {
        let routes = crate::uss::routes(None);
        let (undocumented, unserved) = mismatches(uss_document(), routes.served());
        assert_eq!(undocumented, Vec::<String>::new(), "served but not documented");
        assert_eq!(unserved, Vec::<String>::new(), "documented but not served");
    }

    #[test]
    fn an_intent_write_refused_for_its_key_documents_the_body_it_gets() {
        let doc = serde_json::to_value(document()).expect("the document serialises");
        for (path, method) in [
            ("/dss/v1/operational_intent_references/{entityid}", "put"),
            ("/dss/v1/operational_intent_references/{entityid}/{ovn}", "put"),
        ] {
            let body =
                &doc["paths"][path][method]["responses"]["409"]["content"]["application/json"]["schema"];
            assert_eq!(
                body["$ref"],
                Value::from("#/components/schemas/AirspaceConflictResponse"),
                "{method} {path}"
            );
        }
    }
}
