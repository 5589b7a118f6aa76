//! F3411-19 (API 1.0) DSS endpoints under `/v1/dss`: wire types (polygon footprints, plain numbers and
//! strings), their conversion, and the handlers.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use entente_dss::{
    IdentificationServiceArea as Isa, IsaSearch, PutIsa, PutRidSubscription, RidApi, RidSubscription, RidUrl,
    Timestamp, Volume,
};
use entente_geo::Interval;
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
use crate::wire::{Polygon, parse_rfc3339, polygon_in, rfc3339};

pub(crate) const WRITE: &str = "dss.write.identification_service_areas";
pub(crate) const READ: &str = "dss.read.identification_service_areas";
const API: RidApi = RidApi::V19;

/// Altitudes outside this range are not on any aircraft's path (as in the later versions).
const ALTITUDE_RANGE: (f64, f64) = (-8000.0, 100_000.0);

type Api<T> = Result<Json<T>, ApiError>;
type AppRef = State<Arc<AppState>>;

pub(crate) fn routes() -> Routes<Arc<AppState>> {
    Routes::new()
        .get("/v1/dss/identification_service_areas", search_isas)
        .get("/v1/dss/identification_service_areas/{id}", get_isa)
        .put("/v1/dss/identification_service_areas/{id}", create_isa)
        .put("/v1/dss/identification_service_areas/{id}/{version}", update_isa)
        .delete("/v1/dss/identification_service_areas/{id}/{version}", delete_isa)
        .get("/v1/dss/subscriptions", search_subscriptions)
        .get("/v1/dss/subscriptions/{id}", get_subscription)
        .put("/v1/dss/subscriptions/{id}", create_subscription)
        .put("/v1/dss/subscriptions/{id}/{version}", update_subscription)
        .delete("/v1/dss/subscriptions/{id}/{version}", delete_subscription)
}

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

fn time_or_epoch(t: Option<Timestamp>) -> String {
    // Stored RID entities always carry both ends (set on write).
    rfc3339(t.unwrap_or_default())
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
            time_start: time_or_epoch(i.extents.time.lo),
            time_end: time_or_epoch(i.extents.time.hi),
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
            time_start: time_or_epoch(s.extents.time.lo),
            time_end: time_or_epoch(s.extents.time.hi),
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

#[derive(Clone, Debug, Serialize, ToSchema)]
#[schema(as = rid_v19::SearchIdentificationServiceAreasResponse)]
pub(crate) struct SearchIdentificationServiceAreasResponse {
    pub service_areas: Vec<IdentificationServiceArea>,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
#[schema(as = rid_v19::GetIdentificationServiceAreaResponse)]
pub(crate) struct GetIdentificationServiceAreaResponse {
    pub service_area: IdentificationServiceArea,
}

/// The answer to PUT and DELETE of an ISA (`subscribers` is required in F3411-19).
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[schema(as = rid_v19::ChangeIdentificationServiceAreaResponse)]
pub(crate) struct ChangeIdentificationServiceAreaResponse {
    pub service_area: IdentificationServiceArea,
    pub subscribers: Vec<RidSubscriberToNotify>,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
#[schema(as = rid_v19::SearchSubscriptionsResponse)]
pub(crate) struct SearchSubscriptionsResponse {
    pub subscriptions: Vec<Subscription>,
}

/// The answer to GET and DELETE of a subscription.
#[derive(Clone, Debug, Serialize, ToSchema)]
#[schema(as = rid_v19::SubscriptionResponse)]
pub(crate) struct SubscriptionResponse {
    pub subscription: Subscription,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[schema(as = rid_v19::PutSubscriptionResponse)]
pub(crate) struct PutSubscriptionResponse {
    pub subscription: Subscription,
    pub service_areas: Vec<IdentificationServiceArea>,
}

#[utoipa::path(get, path = "/v1/dss/identification_service_areas", tag = "F3411-19 identification service areas",
    params(("area" = String, Query, description = "lat1,lng1,lat2,lng2,lat3,lng3,..."),
        ("earliest_time" = Option<String>, Query), ("latest_time" = Option<String>, Query)),
    responses((status = 200, description = "Success", body = SearchIdentificationServiceAreasResponse), (status = 400, description = "Invalid input; the message names the field and the rule", body = crate::wire::ErrorResponse), (status = 401, description = "Missing or invalid access token", body = crate::wire::ErrorResponse), (status = 403, description = "The token lacks a required scope, or the caller does not own the entity", body = crate::wire::ErrorResponse), (status = 413, description = "Area or body too large", body = crate::wire::ErrorResponse)))]
pub(crate) async fn search_isas(
    State(app): AppRef,
    auth: Auth,
    query: Params,
) -> Api<SearchIdentificationServiceAreasResponse> {
    auth.rid(&[READ])?;
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

#[utoipa::path(get, path = "/v1/dss/identification_service_areas/{id}", tag = "F3411-19 identification service areas",
    params(("id" = String, Path, description = "UUIDv4 of the entity")),
    responses((status = 200, description = "Success", body = GetIdentificationServiceAreaResponse), (status = 400, description = "Invalid input; the message names the field and the rule", body = crate::wire::ErrorResponse), (status = 401, description = "Missing or invalid access token", body = crate::wire::ErrorResponse), (status = 403, description = "The token lacks a required scope, or the caller does not own the entity", body = crate::wire::ErrorResponse), (status = 404, description = "No such entity", body = crate::wire::ErrorResponse)))]
pub(crate) async fn get_isa(
    State(app): AppRef,
    auth: Auth,
    Path(id): Path<String>,
) -> Api<GetIdentificationServiceAreaResponse> {
    auth.rid(&[READ])?;
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
    let caller = auth.rid(&[WRITE])?;
    let id = entity_id(id, "id")?;
    let p: IdentificationServiceAreaParameters = body.json()?;
    let extents = volume_in(&p.extents, "extents", app.dss.limits().max_vertices)?;
    let url = RidUrl { api: API, url: p.flights_url };
    let change = app.dss.put_isa(&caller, id, version, PutIsa { extents, url }).await?;
    Ok(Json(ChangeIdentificationServiceAreaResponse {
        service_area: IdentificationServiceArea::from_domain(&change.isa),
        subscribers: subscribers_out(&change.subscribers, API),
    }))
}

#[utoipa::path(put, path = "/v1/dss/identification_service_areas/{id}", tag = "F3411-19 identification service areas",
    params(("id" = String, Path, description = "UUIDv4 of the entity")),
    request_body = IdentificationServiceAreaParameters,
    responses((status = 200, description = "Success", body = ChangeIdentificationServiceAreaResponse), (status = 400, description = "Invalid input; the message names the field and the rule", body = crate::wire::ErrorResponse), (status = 401, description = "Missing or invalid access token", body = crate::wire::ErrorResponse), (status = 403, description = "The token lacks a required scope, or the caller does not own the entity", body = crate::wire::ErrorResponse), (status = 409, description = "Stale version, or the entity already exists", body = crate::wire::ErrorResponse)))]
pub(crate) async fn create_isa(
    State(app): AppRef,
    auth: Auth,
    Path(id): Path<String>,
    body: Body,
) -> Api<ChangeIdentificationServiceAreaResponse> {
    put_isa(&app, &auth, &id, None, &body).await
}

#[utoipa::path(put, path = "/v1/dss/identification_service_areas/{id}/{version}", tag = "F3411-19 identification service areas",
    params(("id" = String, Path, description = "UUIDv4 of the entity"), ("version" = String, Path, description = "Current version")),
    request_body = IdentificationServiceAreaParameters,
    responses((status = 200, description = "Success", body = ChangeIdentificationServiceAreaResponse), (status = 400, description = "Invalid input; the message names the field and the rule", body = crate::wire::ErrorResponse), (status = 401, description = "Missing or invalid access token", body = crate::wire::ErrorResponse), (status = 403, description = "The token lacks a required scope, or the caller does not own the entity", body = crate::wire::ErrorResponse), (status = 409, description = "Stale version, or the entity already exists", body = crate::wire::ErrorResponse)))]
pub(crate) async fn update_isa(
    State(app): AppRef,
    auth: Auth,
    Path((id, version)): Path<(String, String)>,
    body: Body,
) -> Api<ChangeIdentificationServiceAreaResponse> {
    put_isa(&app, &auth, &id, Some(&version), &body).await
}

#[utoipa::path(delete, path = "/v1/dss/identification_service_areas/{id}/{version}", tag = "F3411-19 identification service areas",
    params(("id" = String, Path, description = "UUIDv4 of the entity"), ("version" = String, Path, description = "Current version")),
    responses((status = 200, description = "Success", body = ChangeIdentificationServiceAreaResponse), (status = 400, description = "Invalid input; the message names the field and the rule", body = crate::wire::ErrorResponse), (status = 401, description = "Missing or invalid access token", body = crate::wire::ErrorResponse), (status = 403, description = "The token lacks a required scope, or the caller does not own the entity", body = crate::wire::ErrorResponse), (status = 404, description = "No such entity", body = crate::wire::ErrorResponse), (status = 409, description = "Stale version, or the entity already exists", body = crate::wire::ErrorResponse)))]
pub(crate) async fn delete_isa(
    State(app): AppRef,
    auth: Auth,
    Path((id, version)): Path<(String, String)>,
) -> Api<ChangeIdentificationServiceAreaResponse> {
    let caller = auth.rid(&[WRITE])?;
    let id = entity_id(&id, "id")?;
    let change = app.dss.delete_isa(&caller, id, &version).await?;
    Ok(Json(ChangeIdentificationServiceAreaResponse {
        service_area: IdentificationServiceArea::from_domain(&change.isa),
        subscribers: subscribers_out(&change.subscribers, API),
    }))
}

#[utoipa::path(get, path = "/v1/dss/subscriptions", tag = "F3411-19 subscriptions",
    params(("area" = String, Query, description = "lat1,lng1,lat2,lng2,lat3,lng3,...")),
    responses((status = 200, description = "Success", body = SearchSubscriptionsResponse), (status = 400, description = "Invalid input; the message names the field and the rule", body = crate::wire::ErrorResponse), (status = 401, description = "Missing or invalid access token", body = crate::wire::ErrorResponse), (status = 403, description = "The token lacks a required scope, or the caller does not own the entity", body = crate::wire::ErrorResponse), (status = 413, description = "Area or body too large", body = crate::wire::ErrorResponse)))]
pub(crate) async fn search_subscriptions(
    State(app): AppRef,
    auth: Auth,
    query: Params,
) -> Api<SearchSubscriptionsResponse> {
    let caller = auth.rid(&[READ])?;
    let p = params(query)?;
    let area = area_in(p.get("area"), app.dss.limits().max_vertices)?;
    let found = app.dss.search_rid_subscriptions(&caller, &area).await?;
    Ok(Json(SearchSubscriptionsResponse {
        subscriptions: found.iter().map(Subscription::from_domain).collect(),
    }))
}

#[utoipa::path(get, path = "/v1/dss/subscriptions/{id}", tag = "F3411-19 subscriptions",
    params(("id" = String, Path, description = "UUIDv4 of the entity")),
    responses((status = 200, description = "Success", body = SubscriptionResponse), (status = 400, description = "Invalid input; the message names the field and the rule", body = crate::wire::ErrorResponse), (status = 401, description = "Missing or invalid access token", body = crate::wire::ErrorResponse), (status = 403, description = "The token lacks a required scope, or the caller does not own the entity", body = crate::wire::ErrorResponse), (status = 404, description = "No such entity", body = crate::wire::ErrorResponse)))]
pub(crate) async fn get_subscription(
    State(app): AppRef,
    auth: Auth,
    Path(id): Path<String>,
) -> Api<SubscriptionResponse> {
    let caller = auth.rid(&[READ, WRITE])?;
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
    let caller = auth.rid(&[READ])?;
    let id = entity_id(id, "id")?;
    let p: SubscriptionParameters = body.json()?;
    let extents = volume_in(&p.extents, "extents", app.dss.limits().max_vertices)?;
    let url = p
        .callbacks
        .identification_service_area_url
        .ok_or_else(|| ApiError::bad("callbacks.identification_service_area_url is required"))?;
    let req = PutRidSubscription { extents, url: RidUrl { api: API, url } };
    let put = app.dss.put_rid_subscription(&caller, id, version, req).await?;
    Ok(Json(PutSubscriptionResponse {
        subscription: Subscription::from_domain(&put.subscription),
        service_areas: put.service_areas.iter().map(IdentificationServiceArea::from_domain).collect(),
    }))
}

#[utoipa::path(put, path = "/v1/dss/subscriptions/{id}", tag = "F3411-19 subscriptions",
    params(("id" = String, Path, description = "UUIDv4 of the entity")),
    request_body = SubscriptionParameters,
    responses((status = 200, description = "Success", body = PutSubscriptionResponse), (status = 400, description = "Invalid input; the message names the field and the rule", body = crate::wire::ErrorResponse), (status = 401, description = "Missing or invalid access token", body = crate::wire::ErrorResponse), (status = 403, description = "The token lacks a required scope, or the caller does not own the entity", body = crate::wire::ErrorResponse), (status = 409, description = "Stale version, or the entity already exists", body = crate::wire::ErrorResponse), (status = 429, description = "Too many subscriptions of this owner in the area", body = crate::wire::ErrorResponse)))]
pub(crate) async fn create_subscription(
    State(app): AppRef,
    auth: Auth,
    Path(id): Path<String>,
    body: Body,
) -> Api<PutSubscriptionResponse> {
    put_subscription(&app, &auth, &id, None, &body).await
}

#[utoipa::path(put, path = "/v1/dss/subscriptions/{id}/{version}", tag = "F3411-19 subscriptions",
    params(("id" = String, Path, description = "UUIDv4 of the entity"), ("version" = String, Path, description = "Current version")),
    request_body = SubscriptionParameters,
    responses((status = 200, description = "Success", body = PutSubscriptionResponse), (status = 400, description = "Invalid input; the message names the field and the rule", body = crate::wire::ErrorResponse), (status = 401, description = "Missing or invalid access token", body = crate::wire::ErrorResponse), (status = 403, description = "The token lacks a required scope, or the caller does not own the entity", body = crate::wire::ErrorResponse), (status = 409, description = "Stale version, or the entity already exists", body = crate::wire::ErrorResponse), (status = 429, description = "Too many subscriptions of this owner in the area", body = crate::wire::ErrorResponse)))]
pub(crate) async fn update_subscription(
    State(app): AppRef,
    auth: Auth,
    Path((id, version)): Path<(String, String)>,
    body: Body,
) -> Api<PutSubscriptionResponse> {
    put_subscription(&app, &auth, &id, Some(&version), &body).await
}

#[utoipa::path(delete, path = "/v1/dss/subscriptions/{id}/{version}", tag = "F3411-19 subscriptions",
    params(("id" = String, Path, description = "UUIDv4 of the entity"), ("version" = String, Path, description = "Current version")),
    responses((status = 200, description = "Success", body = SubscriptionResponse), (status = 400, description = "Invalid input; the message names the field and the rule", body = crate::wire::ErrorResponse), (status = 401, description = "Missing or invalid access token", body = crate::wire::ErrorResponse), (status = 403, description = "The token lacks a required scope, or the caller does not own the entity", body = crate::wire::ErrorResponse), (status = 404, description = "No such entity", body = crate::wire::ErrorResponse), (status = 409, description = "Stale version, or the entity already exists", body = crate::wire::ErrorResponse)))]
pub(crate) async fn delete_subscription(
    State(app): AppRef,
    auth: Auth,
    Path((id, version)): Path<(String, String)>,
) -> Api<SubscriptionResponse> {
    let caller = auth.rid(&[READ])?;
    let id = entity_id(&id, "id")?;
    let s = app.dss.delete_rid_subscription(&caller, id, &version).await?;
    Ok(Json(SubscriptionResponse { subscription: Subscription::from_domain(&s) }))
}
