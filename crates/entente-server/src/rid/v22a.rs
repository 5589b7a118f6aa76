//! F3411-22a (API 2.1) DSS endpoints under `/rid/v2/dss`: wire types, their conversion, and the handlers.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use entente_dss::{
    IdentificationServiceArea as Isa, IsaSearch, PutIsa, PutRidSubscription, RidApi, RidSubscription, RidUrl,
    Timestamp,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{
    FLIGHTS_SUFFIX, ISA_CALLBACK_SUFFIX, Params, RidSubscriberToNotify, area_in, params, subscribers_out,
    time_param, url_for,
};
use crate::app::AppState;
use crate::error::ApiError;
use crate::extract::{Auth, Body, entity_id};
use crate::routes::Routes;
use crate::wire::{Time, Volume4D, time_out, volume_in};

pub(crate) const SP: &str = "rid.service_provider";
pub(crate) const DP: &str = "rid.display_provider";
const API: RidApi = RidApi::V22a;

type Api<T> = Result<Json<T>, ApiError>;
type AppRef = State<Arc<AppState>>;

pub(crate) fn routes() -> Routes<Arc<AppState>> {
    Routes::new()
        .get("/rid/v2/dss/identification_service_areas", search_isas)
        .get("/rid/v2/dss/identification_service_areas/{id}", get_isa)
        .put("/rid/v2/dss/identification_service_areas/{id}", create_isa)
        .put("/rid/v2/dss/identification_service_areas/{id}/{version}", update_isa)
        .delete("/rid/v2/dss/identification_service_areas/{id}/{version}", delete_isa)
        .get("/rid/v2/dss/subscriptions", search_subscriptions)
        .get("/rid/v2/dss/subscriptions/{id}", get_subscription)
        .put("/rid/v2/dss/subscriptions/{id}", create_subscription)
        .put("/rid/v2/dss/subscriptions/{id}/{version}", update_subscription)
        .delete("/rid/v2/dss/subscriptions/{id}/{version}", delete_subscription)
}

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

fn time_or_epoch(t: Option<Timestamp>) -> Time {
    // Stored RID entities always carry both ends (set on write).
    time_out(t.unwrap_or_default())
}

impl IdentificationServiceArea {
    fn from_domain(i: &Isa) -> Self {
        IdentificationServiceArea {
            id: i.id.to_string(),
            owner: i.owner.clone(),
            uss_base_url: url_for(&i.url, API, FLIGHTS_SUFFIX),
            time_start: time_or_epoch(i.extents.time.lo),
            time_end: time_or_epoch(i.extents.time.hi),
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
            time_start: time_or_epoch(s.extents.time.lo),
            time_end: time_or_epoch(s.extents.time.hi),
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

#[derive(Clone, Debug, Serialize, ToSchema)]
#[schema(as = rid_v22a::SearchIdentificationServiceAreasResponse)]
pub(crate) struct SearchIdentificationServiceAreasResponse {
    pub service_areas: Vec<IdentificationServiceArea>,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
#[schema(as = rid_v22a::GetIdentificationServiceAreaResponse)]
pub(crate) struct GetIdentificationServiceAreaResponse {
    pub service_area: IdentificationServiceArea,
}

/// The answer to PUT and DELETE of an ISA.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[schema(as = rid_v22a::ChangeIdentificationServiceAreaResponse)]
pub(crate) struct ChangeIdentificationServiceAreaResponse {
    pub service_area: IdentificationServiceArea,
    pub subscribers: Vec<RidSubscriberToNotify>,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
#[schema(as = rid_v22a::SearchSubscriptionsResponse)]
pub(crate) struct SearchSubscriptionsResponse {
    pub subscriptions: Vec<Subscription>,
}

/// The answer to GET and DELETE of a subscription.
#[derive(Clone, Debug, Serialize, ToSchema)]
#[schema(as = rid_v22a::SubscriptionResponse)]
pub(crate) struct SubscriptionResponse {
    pub subscription: Subscription,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[schema(as = rid_v22a::PutSubscriptionResponse)]
pub(crate) struct PutSubscriptionResponse {
    pub subscription: Subscription,
    pub service_areas: Vec<IdentificationServiceArea>,
}

fn put_params(app: &AppState, body: &Body) -> Result<(entente_dss::Volume, RidUrl), ApiError> {
    let p: PutParameters = body.json()?;
    let extents = volume_in(&p.extents, "extents", app.dss.limits().max_vertices)?;
    Ok((extents, RidUrl { api: API, url: p.uss_base_url }))
}

#[utoipa::path(get, path = "/rid/v2/dss/identification_service_areas", tag = "F3411-22a identification service areas",
    params(("area" = String, Query, description = "lat1,lng1,lat2,lng2,lat3,lng3,..."),
        ("earliest_time" = Option<String>, Query), ("latest_time" = Option<String>, Query)),
    responses((status = 200, description = "Success", body = SearchIdentificationServiceAreasResponse), (status = 400, description = "Invalid input; the message names the field and the rule", body = crate::wire::ErrorResponse), (status = 401, description = "Missing or invalid access token", body = crate::wire::ErrorResponse), (status = 403, description = "The token lacks a required scope, or the caller does not own the entity", body = crate::wire::ErrorResponse), (status = 413, description = "Area or body too large", body = crate::wire::ErrorResponse)))]
pub(crate) async fn search_isas(
    State(app): AppRef,
    auth: Auth,
    query: Params,
) -> Api<SearchIdentificationServiceAreasResponse> {
    auth.rid(&[DP])?;
    let p = params(query)?;
    let search = IsaSearch {
        area: area_in(p.get("area"), app.dss.limits().max_vertices)?,
        earliest: time_param(&p, "earliest_time")?,
        latest: time_param(&p, "latest_time")?,
    };
    let found = app.dss.search_isas(&search).await?;
    Ok(Json(SearchIdentificationServiceAreasResponse {
        service_areas: found.iter().map(IdentificationServiceArea::from_domain).collect(),
    }))
}

#[utoipa::path(get, path = "/rid/v2/dss/identification_service_areas/{id}", tag = "F3411-22a identification service areas",
    params(("id" = String, Path, description = "UUIDv4 of the entity")),
    responses((status = 200, description = "Success", body = GetIdentificationServiceAreaResponse), (status = 400, description = "Invalid input; the message names the field and the rule", body = crate::wire::ErrorResponse), (status = 401, description = "Missing or invalid access token", body = crate::wire::ErrorResponse), (status = 403, description = "The token lacks a required scope, or the caller does not own the entity", body = crate::wire::ErrorResponse), (status = 404, description = "No such entity", body = crate::wire::ErrorResponse)))]
pub(crate) async fn get_isa(
    State(app): AppRef,
    auth: Auth,
    Path(id): Path<String>,
) -> Api<GetIdentificationServiceAreaResponse> {
    auth.rid(&[DP, SP])?;
    let id = entity_id(&id, "id")?;
    let isa = app.dss.get_isa(id).await?;
    Ok(Json(GetIdentificationServiceAreaResponse {
        service_area: IdentificationServiceArea::from_domain(&isa),
    }))
}

async fn put_isa(
    app: &AppState,
    auth: &Auth,
    id: &str,
    version: Option<&str>,
    body: &Body,
) -> Api<ChangeIdentificationServiceAreaResponse> {
    let caller = auth.rid(&[SP])?;
    let id = entity_id(id, "id")?;
    let (extents, url) = put_params(app, body)?;
    let change = app.dss.put_isa(&caller, id, version, PutIsa { extents, url }).await?;
    Ok(Json(ChangeIdentificationServiceAreaResponse {
        service_area: IdentificationServiceArea::from_domain(&change.isa),
        subscribers: subscribers_out(&change.subscribers, API),
    }))
}

#[utoipa::path(put, path = "/rid/v2/dss/identification_service_areas/{id}", tag = "F3411-22a identification service areas",
    params(("id" = String, Path, description = "UUIDv4 of the entity")),
    request_body = PutParameters,
    responses((status = 200, description = "Success", body = ChangeIdentificationServiceAreaResponse), (status = 400, description = "Invalid input; the message names the field and the rule", body = crate::wire::ErrorResponse), (status = 401, description = "Missing or invalid access token", body = crate::wire::ErrorResponse), (status = 403, description = "The token lacks a required scope, or the caller does not own the entity", body = crate::wire::ErrorResponse), (status = 409, description = "Stale version, or the entity already exists", body = crate::wire::ErrorResponse)))]
pub(crate) async fn create_isa(
    State(app): AppRef,
    auth: Auth,
    Path(id): Path<String>,
    body: Body,
) -> Api<ChangeIdentificationServiceAreaResponse> {
    put_isa(&app, &auth, &id, None, &body).await
}

#[utoipa::path(put, path = "/rid/v2/dss/identification_service_areas/{id}/{version}", tag = "F3411-22a identification service areas",
    params(("id" = String, Path, description = "UUIDv4 of the entity"), ("version" = String, Path, description = "Current version")),
    request_body = PutParameters,
    responses((status = 200, description = "Success", body = ChangeIdentificationServiceAreaResponse), (status = 400, description = "Invalid input; the message names the field and the rule", body = crate::wire::ErrorResponse), (status = 401, description = "Missing or invalid access token", body = crate::wire::ErrorResponse), (status = 403, description = "The token lacks a required scope, or the caller does not own the entity", body = crate::wire::ErrorResponse), (status = 409, description = "Stale version, or the entity already exists", body = crate::wire::ErrorResponse)))]
pub(crate) async fn update_isa(
    State(app): AppRef,
    auth: Auth,
    Path((id, version)): Path<(String, String)>,
    body: Body,
) -> Api<ChangeIdentificationServiceAreaResponse> {
    put_isa(&app, &auth, &id, Some(&version), &body).await
}

#[utoipa::path(delete, path = "/rid/v2/dss/identification_service_areas/{id}/{version}", tag = "F3411-22a identification service areas",
    params(("id" = String, Path, description = "UUIDv4 of the entity"), ("version" = String, Path, description = "Current version")),
    responses((status = 200, description = "Success", body = ChangeIdentificationServiceAreaResponse), (status = 400, description = "Invalid input; the message names the field and the rule", body = crate::wire::ErrorResponse), (status = 401, description = "Missing or invalid access token", body = crate::wire::ErrorResponse), (status = 403, description = "The token lacks a required scope, or the caller does not own the entity", body = crate::wire::ErrorResponse), (status = 404, description = "No such entity", body = crate::wire::ErrorResponse), (status = 409, description = "Stale version, or the entity already exists", body = crate::wire::ErrorResponse)))]
pub(crate) async fn delete_isa(
    State(app): AppRef,
    auth: Auth,
    Path((id, version)): Path<(String, String)>,
) -> Api<ChangeIdentificationServiceAreaResponse> {
    let caller = auth.rid(&[SP])?;
    let id = entity_id(&id, "id")?;
    let change = app.dss.delete_isa(&caller, id, &version).await?;
    Ok(Json(ChangeIdentificationServiceAreaResponse {
        service_area: IdentificationServiceArea::from_domain(&change.isa),
        subscribers: subscribers_out(&change.subscribers, API),
    }))
}

#[utoipa::path(get, path = "/rid/v2/dss/subscriptions", tag = "F3411-22a subscriptions",
    params(("area" = String, Query, description = "lat1,lng1,lat2,lng2,lat3,lng3,...")),
    responses((status = 200, description = "Success", body = SearchSubscriptionsResponse), (status = 400, description = "Invalid input; the message names the field and the rule", body = crate::wire::ErrorResponse), (status = 401, description = "Missing or invalid access token", body = crate::wire::ErrorResponse), (status = 403, description = "The token lacks a required scope, or the caller does not own the entity", body = crate::wire::ErrorResponse), (status = 413, description = "Area or body too large", body = crate::wire::ErrorResponse)))]
pub(crate) async fn search_subscriptions(
    State(app): AppRef,
    auth: Auth,
    query: Params,
) -> Api<SearchSubscriptionsResponse> {
    let caller = auth.rid(&[DP])?;
    let p = params(query)?;
    let area = area_in(p.get("area"), app.dss.limits().max_vertices)?;
    let found = app.dss.search_rid_subscriptions(&caller, &area).await?;
    Ok(Json(SearchSubscriptionsResponse {
        subscriptions: found.iter().map(Subscription::from_domain).collect(),
    }))
}

#[utoipa::path(get, path = "/rid/v2/dss/subscriptions/{id}", tag = "F3411-22a subscriptions",
    params(("id" = String, Path, description = "UUIDv4 of the entity")),
    responses((status = 200, description = "Success", body = SubscriptionResponse), (status = 400, description = "Invalid input; the message names the field and the rule", body = crate::wire::ErrorResponse), (status = 401, description = "Missing or invalid access token", body = crate::wire::ErrorResponse), (status = 403, description = "The token lacks a required scope, or the caller does not own the entity", body = crate::wire::ErrorResponse), (status = 404, description = "No such entity", body = crate::wire::ErrorResponse)))]
pub(crate) async fn get_subscription(
    State(app): AppRef,
    auth: Auth,
    Path(id): Path<String>,
) -> Api<SubscriptionResponse> {
    let caller = auth.rid(&[DP, SP])?;
    let id = entity_id(&id, "id")?;
    let s = app.dss.get_rid_subscription(&caller, id).await?;
    Ok(Json(SubscriptionResponse { subscription: Subscription::from_domain(&s) }))
}

async fn put_subscription(
    app: &AppState,
    auth: &Auth,
    id: &str,
    version: Option<&str>,
    body: &Body,
) -> Api<PutSubscriptionResponse> {
    let caller = auth.rid(&[DP])?;
    let id = entity_id(id, "id")?;
    let (extents, url) = put_params(app, body)?;
    let put = app.dss.put_rid_subscription(&caller, id, version, PutRidSubscription { extents, url }).await?;
    Ok(Json(PutSubscriptionResponse {
        subscription: Subscription::from_domain(&put.subscription),
        service_areas: put.service_areas.iter().map(IdentificationServiceArea::from_domain).collect(),
    }))
}

#[utoipa::path(put, path = "/rid/v2/dss/subscriptions/{id}", tag = "F3411-22a subscriptions",
    params(("id" = String, Path, description = "UUIDv4 of the entity")),
    request_body = PutParameters,
    responses((status = 200, description = "Success", body = PutSubscriptionResponse), (status = 400, description = "Invalid input; the message names the field and the rule", body = crate::wire::ErrorResponse), (status = 401, description = "Missing or invalid access token", body = crate::wire::ErrorResponse), (status = 403, description = "The token lacks a required scope, or the caller does not own the entity", body = crate::wire::ErrorResponse), (status = 409, description = "Stale version, or the entity already exists", body = crate::wire::ErrorResponse), (status = 429, description = "Too many subscriptions of this owner in the area", body = crate::wire::ErrorResponse)))]
pub(crate) async fn create_subscription(
    State(app): AppRef,
    auth: Auth,
    Path(id): Path<String>,
    body: Body,
) -> Api<PutSubscriptionResponse> {
    put_subscription(&app, &auth, &id, None, &body).await
}

#[utoipa::path(put, path = "/rid/v2/dss/subscriptions/{id}/{version}", tag = "F3411-22a subscriptions",
    params(("id" = String, Path, description = "UUIDv4 of the entity"), ("version" = String, Path, description = "Current version")),
    request_body = PutParameters,
    responses((status = 200, description = "Success", body = PutSubscriptionResponse), (status = 400, description = "Invalid input; the message names the field and the rule", body = crate::wire::ErrorResponse), (status = 401, description = "Missing or invalid access token", body = crate::wire::ErrorResponse), (status = 403, description = "The token lacks a required scope, or the caller does not own the entity", body = crate::wire::ErrorResponse), (status = 409, description = "Stale version, or the entity already exists", body = crate::wire::ErrorResponse), (status = 429, description = "Too many subscriptions of this owner in the area", body = crate::wire::ErrorResponse)))]
pub(crate) async fn update_subscription(
    State(app): AppRef,
    auth: Auth,
    Path((id, version)): Path<(String, String)>,
    body: Body,
) -> Api<PutSubscriptionResponse> {
    put_subscription(&app, &auth, &id, Some(&version), &body).await
}

#[utoipa::path(delete, path = "/rid/v2/dss/subscriptions/{id}/{version}", tag = "F3411-22a subscriptions",
    params(("id" = String, Path, description = "UUIDv4 of the entity"), ("version" = String, Path, description = "Current version")),
    responses((status = 200, description = "Success", body = SubscriptionResponse), (status = 400, description = "Invalid input; the message names the field and the rule", body = crate::wire::ErrorResponse), (status = 401, description = "Missing or invalid access token", body = crate::wire::ErrorResponse), (status = 403, description = "The token lacks a required scope, or the caller does not own the entity", body = crate::wire::ErrorResponse), (status = 404, description = "No such entity", body = crate::wire::ErrorResponse), (status = 409, description = "Stale version, or the entity already exists", body = crate::wire::ErrorResponse)))]
pub(crate) async fn delete_subscription(
    State(app): AppRef,
    auth: Auth,
    Path((id, version)): Path<(String, String)>,
) -> Api<SubscriptionResponse> {
    let caller = auth.rid(&[DP])?;
    let id = entity_id(&id, "id")?;
    let s = app.dss.delete_rid_subscription(&caller, id, &version).await?;
    Ok(Json(SubscriptionResponse { subscription: Subscription::from_domain(&s) }))
}
