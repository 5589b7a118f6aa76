//! The error answers the OpenAPI documents name again and again, each declared once: an endpoint lists them by
//! type in its `responses(...)`, and its own particular errors as tuples.

use entente_wire::ErrorResponse;
use utoipa::IntoResponses;

#[derive(IntoResponses)]
#[response(status = 400, description = "Invalid input; the message names the field and the rule")]
pub(crate) struct BadRequest(#[allow(dead_code)] ErrorResponse);

#[derive(IntoResponses)]
#[response(status = 401, description = "Missing or invalid access token")]
pub(crate) struct Unauthorized(#[allow(dead_code)] ErrorResponse);

#[derive(IntoResponses)]
#[response(
    status = 403,
    description = "The token lacks a required scope, or the caller does not own the entity"
)]
pub(crate) struct Forbidden(#[allow(dead_code)] ErrorResponse);

#[derive(IntoResponses)]
#[response(status = 403, description = "The token lacks the entente.operator scope")]
pub(crate) struct NotOperator(#[allow(dead_code)] ErrorResponse);

#[derive(IntoResponses)]
#[response(status = 403, description = "The token lacks the entente.authority scope")]
pub(crate) struct NotAuthority(#[allow(dead_code)] ErrorResponse);

#[derive(IntoResponses)]
#[response(status = 403, description = "The token lacks the scope, or the sender is not the manager")]
pub(crate) struct NotManager(#[allow(dead_code)] ErrorResponse);

#[derive(IntoResponses)]
#[response(status = 403, description = "The token lacks dss.read.identification_service_areas")]
pub(crate) struct NotRidReaderV19(#[allow(dead_code)] ErrorResponse);

#[derive(IntoResponses)]
#[response(status = 403, description = "The token lacks rid.display_provider")]
pub(crate) struct NotDisplayProvider(#[allow(dead_code)] ErrorResponse);

#[derive(IntoResponses)]
#[response(status = 403, description = "The token lacks rid.inject_test_data")]
pub(crate) struct NotInjector(#[allow(dead_code)] ErrorResponse);

#[derive(IntoResponses)]
#[response(status = 403, description = "Not same-origin JSON to a host given by address or as localhost")]
pub(crate) struct CrossOrigin(#[allow(dead_code)] ErrorResponse);

#[derive(IntoResponses)]
#[response(status = 404, description = "No such entity")]
pub(crate) struct NotFound(#[allow(dead_code)] ErrorResponse);

#[derive(IntoResponses)]
#[response(status = 404, description = "No such operator")]
pub(crate) struct NoSuchOperator(#[allow(dead_code)] ErrorResponse);

#[derive(IntoResponses)]
#[response(status = 404, description = "No such flight")]
pub(crate) struct NoSuchFlight(#[allow(dead_code)] ErrorResponse);

#[derive(IntoResponses)]
#[response(status = 409, description = "Stale OVN or version, or the entity already exists")]
pub(crate) struct Stale(#[allow(dead_code)] ErrorResponse);

#[derive(IntoResponses)]
#[response(status = 412, description = "The calling USS is Down")]
pub(crate) struct CallerDown(#[allow(dead_code)] ErrorResponse);

#[derive(IntoResponses)]
#[response(status = 413, description = "Area or body too large")]
pub(crate) struct TooLarge(#[allow(dead_code)] ErrorResponse);

#[derive(IntoResponses)]
#[response(status = 413, description = "The view's diagonal exceeds 7 km")]
pub(crate) struct ViewTooLarge(#[allow(dead_code)] ErrorResponse);

#[derive(IntoResponses)]
#[response(status = 502, description = "The DSS could not be reached or refused")]
pub(crate) struct DssFailed(#[allow(dead_code)] ErrorResponse);

#[derive(IntoResponses)]
#[response(status = 502, description = "The DSS or a peer could not be reached or refused")]
pub(crate) struct DssOrPeerFailed(#[allow(dead_code)] ErrorResponse);

#[derive(IntoResponses)]
#[response(status = 409, description = "Stale version, or the entity already exists")]
pub(crate) struct StaleVersion(#[allow(dead_code)] ErrorResponse);

#[derive(IntoResponses)]
#[response(status = 429, description = "Too many subscriptions of this owner in the area")]
pub(crate) struct TooManySubscriptions(#[allow(dead_code)] ErrorResponse);
