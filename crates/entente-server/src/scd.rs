//! The F3548-21 DSS endpoints under `/dss/v1`.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use entente_dss::{
    Caller, NewSubscription, PutConstraint, PutOperationalIntent, PutSubscription, Scope, Volume,
};
use entente_wire::scd::*;
use entente_wire::{Volume4D, volume_in, volumes_in};

use crate::app::AppState;
use crate::error::ApiError;
use crate::extract::{Auth, Body, entity_id};
use crate::routes::Routes;

pub(crate) const SC: Scope = Scope::StrategicCoordination;
pub(crate) const CM: Scope = Scope::ConstraintManagement;
pub(crate) const CP: Scope = Scope::ConstraintProcessing;
pub(crate) const CMSA: Scope = Scope::ConformanceMonitoringSa;
pub(crate) const AA: Scope = Scope::AvailabilityArbitration;

type Api<T> = Result<Json<T>, ApiError>;
type AppRef = State<Arc<AppState>>;

pub(crate) fn routes() -> Routes<Arc<AppState>> {
    Routes::new()
        .post("/dss/v1/operational_intent_references/query", query_intents)
        .get("/dss/v1/operational_intent_references/{entityid}", get_intent)
        .put("/dss/v1/operational_intent_references/{entityid}", create_intent)
        .put("/dss/v1/operational_intent_references/{entityid}/{ovn}", update_intent)
        .delete("/dss/v1/operational_intent_references/{entityid}/{ovn}", delete_intent)
        .post("/dss/v1/constraint_references/query", query_constraints)
        .get("/dss/v1/constraint_references/{entityid}", get_constraint)
        .put("/dss/v1/constraint_references/{entityid}", create_constraint)
        .put("/dss/v1/constraint_references/{entityid}/{ovn}", update_constraint)
        .delete("/dss/v1/constraint_references/{entityid}/{ovn}", delete_constraint)
        .post("/dss/v1/subscriptions/query", query_subscriptions)
        .get("/dss/v1/subscriptions/{subscriptionid}", get_subscription)
        .put("/dss/v1/subscriptions/{subscriptionid}", create_subscription)
        .put("/dss/v1/subscriptions/{subscriptionid}/{version}", update_subscription)
        .delete("/dss/v1/subscriptions/{subscriptionid}/{version}", delete_subscription)
        .post("/dss/v1/reports", make_report)
        .get("/dss/v1/uss_availability/{uss_id}", get_availability)
        .put("/dss/v1/uss_availability/{uss_id}", set_availability)
}

fn area_of_interest(app: &AppState, body: &Body) -> Result<Volume, ApiError> {
    let req: QueryRequest = body.json()?;
    let area: Volume4D = req.area_of_interest.ok_or_else(|| ApiError::bad("area_of_interest is required"))?;
    Ok(volume_in(&area, "area_of_interest", app.dss.limits().max_vertices)?)
}

#[utoipa::path(post, path = "/dss/v1/operational_intent_references/query", tag = "F3548 operational intents",
    request_body = QueryRequest,
    responses((status = 200, description = "Success", body = QueryOperationalIntentReferenceResponse), crate::responses::BadRequest,
        crate::responses::Unauthorized, crate::responses::Forbidden, crate::responses::TooLarge))]
pub(crate) async fn query_intents(
    State(app): AppRef,
    auth: Auth,
    body: Body,
) -> Api<QueryOperationalIntentReferenceResponse> {
    let caller = auth.scd(&[&[SC], &[CMSA]])?;
    let area = area_of_interest(&app, &body)?;
    let found = app.dss.query_intents(&caller, &area).await?;
    Ok(Json(QueryOperationalIntentReferenceResponse {
        operational_intent_references: found.iter().map(OperationalIntentReference::from_view).collect(),
    }))
}

#[utoipa::path(get, path = "/dss/v1/operational_intent_references/{entityid}", tag = "F3548 operational intents",
    params(("entityid" = String, Path, description = "UUIDv4 of the entity")),
    responses((status = 200, description = "Success", body = GetOperationalIntentReferenceResponse), crate::responses::BadRequest, crate::responses::Unauthorized, crate::responses::Forbidden, crate::responses::NotFound))]
pub(crate) async fn get_intent(
    State(app): AppRef,
    auth: Auth,
    Path(id): Path<String>,
) -> Api<GetOperationalIntentReferenceResponse> {
    let caller = auth.scd(&[&[SC], &[CMSA]])?;
    let id = entity_id(&id, "entityid")?;
    let view = app.dss.get_intent(&caller, id).await?;
    Ok(Json(GetOperationalIntentReferenceResponse {
        operational_intent_reference: OperationalIntentReference::from_view(&view),
    }))
}

fn intent_params(app: &AppState, body: &Body) -> Result<PutOperationalIntent, ApiError> {
    let p: PutOperationalIntentReferenceParameters = body.json()?;
    let subscription_id =
        p.subscription_id.as_deref().map(|s| entity_id(s, "subscription_id")).transpose()?;
    Ok(PutOperationalIntent {
        extents: volumes_in(&p.extents, "extents", app.dss.limits().max_vertices)?,
        key: p.key.unwrap_or_default(),
        state: p.state.into(),
        uss_base_url: p.uss_base_url,
        subscription_id,
        new_subscription: p.new_subscription.map(|n| NewSubscription {
            uss_base_url: n.uss_base_url,
            notify_for_constraints: n.notify_for_constraints.unwrap_or(false),
        }),
        requested_ovn_suffix: p.requested_ovn_suffix,
    })
}

async fn put_intent(
    app: &AppState,
    caller: Caller,
    id: &str,
    ovn: Option<&str>,
    body: &Body,
) -> Api<ChangeOperationalIntentReferenceResponse> {
    let id = entity_id(id, "entityid")?;
    let req = intent_params(app, body)?;
    let change = app.dss.put_intent(&caller, id, ovn, req).await?;
    Ok(Json(ChangeOperationalIntentReferenceResponse {
        subscribers: subscribers_out(&change.subscribers),
        operational_intent_reference: OperationalIntentReference::from_view(&change.intent),
    }))
}

const PUT_INTENT_SCOPES: &[&[Scope]] = &[&[SC], &[SC, CP], &[CMSA]];

#[utoipa::path(put, path = "/dss/v1/operational_intent_references/{entityid}", tag = "F3548 operational intents",
    params(("entityid" = String, Path, description = "UUIDv4 of the entity")),
    request_body = PutOperationalIntentReferenceParameters,
    responses((status = 201, description = "Created", body = ChangeOperationalIntentReferenceResponse), crate::responses::BadRequest, crate::responses::Unauthorized, crate::responses::Forbidden,
        (status = 409, description = "The key misses intersecting entities (listed), or the entity already exists", body = AirspaceConflictResponse), crate::responses::CallerDown, crate::responses::TooLarge))]
pub(crate) async fn create_intent(
    State(app): AppRef,
    auth: Auth,
    Path(id): Path<String>,
    body: Body,
) -> Result<(StatusCode, Json<ChangeOperationalIntentReferenceResponse>), ApiError> {
    let caller = auth.scd(PUT_INTENT_SCOPES)?;
    Ok((StatusCode::CREATED, put_intent(&app, caller, &id, None, &body).await?))
}

#[utoipa::path(put, path = "/dss/v1/operational_intent_references/{entityid}/{ovn}", tag = "F3548 operational intents",
    params(("entityid" = String, Path, description = "UUIDv4 of the entity"), ("ovn" = String, Path, description = "Current OVN")),
    request_body = PutOperationalIntentReferenceParameters,
    responses((status = 200, description = "Success", body = ChangeOperationalIntentReferenceResponse), crate::responses::BadRequest, crate::responses::Unauthorized, crate::responses::Forbidden,
        (status = 409, description = "The key misses intersecting entities (listed), or a stale OVN", body = AirspaceConflictResponse), crate::responses::CallerDown, crate::responses::TooLarge))]
pub(crate) async fn update_intent(
    State(app): AppRef,
    auth: Auth,
    Path((id, ovn)): Path<(String, String)>,
    body: Body,
) -> Api<ChangeOperationalIntentReferenceResponse> {
    let caller = auth.scd(PUT_INTENT_SCOPES)?;
    put_intent(&app, caller, &id, Some(&ovn), &body).await
}

#[utoipa::path(delete, path = "/dss/v1/operational_intent_references/{entityid}/{ovn}", tag = "F3548 operational intents",
    params(("entityid" = String, Path, description = "UUIDv4 of the entity"), ("ovn" = String, Path, description = "Current OVN")),
    responses((status = 200, description = "Success", body = ChangeOperationalIntentReferenceResponse), crate::responses::BadRequest, crate::responses::Unauthorized, crate::responses::Forbidden,
        crate::responses::NotFound, crate::responses::Stale, crate::responses::CallerDown))]
pub(crate) async fn delete_intent(
    State(app): AppRef,
    auth: Auth,
    Path((id, ovn)): Path<(String, String)>,
) -> Api<ChangeOperationalIntentReferenceResponse> {
    let caller = auth.scd(&[&[SC], &[CMSA]])?;
    let id = entity_id(&id, "entityid")?;
    let change = app.dss.delete_intent(&caller, id, &ovn).await?;
    Ok(Json(ChangeOperationalIntentReferenceResponse {
        subscribers: subscribers_out(&change.subscribers),
        operational_intent_reference: OperationalIntentReference::from_view(&change.intent),
    }))
}

#[utoipa::path(post, path = "/dss/v1/constraint_references/query", tag = "F3548 constraints",
    request_body = QueryRequest,
    responses((status = 200, description = "Success", body = QueryConstraintReferencesResponse), crate::responses::BadRequest, crate::responses::Unauthorized, crate::responses::Forbidden, crate::responses::TooLarge))]
pub(crate) async fn query_constraints(
    State(app): AppRef,
    auth: Auth,
    body: Body,
) -> Api<QueryConstraintReferencesResponse> {
    let caller = auth.scd(&[&[CM], &[CP]])?;
    let area = area_of_interest(&app, &body)?;
    let found = app.dss.query_constraints(&caller, &area).await?;
    Ok(Json(QueryConstraintReferencesResponse {
        constraint_references: found.iter().map(ConstraintReference::from_view).collect(),
    }))
}

#[utoipa::path(get, path = "/dss/v1/constraint_references/{entityid}", tag = "F3548 constraints",
    params(("entityid" = String, Path, description = "UUIDv4 of the entity")),
    responses((status = 200, description = "Success", body = GetConstraintReferenceResponse), crate::responses::BadRequest, crate::responses::Unauthorized, crate::responses::Forbidden, crate::responses::NotFound))]
pub(crate) async fn get_constraint(
    State(app): AppRef,
    auth: Auth,
    Path(id): Path<String>,
) -> Api<GetConstraintReferenceResponse> {
    let caller = auth.scd(&[&[CM], &[CP]])?;
    let id = entity_id(&id, "entityid")?;
    let view = app.dss.get_constraint(&caller, id).await?;
    Ok(Json(GetConstraintReferenceResponse { constraint_reference: ConstraintReference::from_view(&view) }))
}

async fn put_constraint(
    app: &AppState,
    auth: &Auth,
    id: &str,
    ovn: Option<&str>,
    body: &Body,
) -> Api<ChangeConstraintReferenceResponse> {
    let caller = auth.scd(&[&[CM]])?;
    let id = entity_id(id, "entityid")?;
    let p: PutConstraintReferenceParameters = body.json()?;
    let req = PutConstraint {
        extents: volumes_in(&p.extents, "extents", app.dss.limits().max_vertices)?,
        uss_base_url: p.uss_base_url,
    };
    let change = app.dss.put_constraint(&caller, id, ovn, req).await?;
    Ok(Json(ChangeConstraintReferenceResponse {
        subscribers: subscribers_out(&change.subscribers),
        constraint_reference: ConstraintReference::from_view(&change.constraint),
    }))
}

#[utoipa::path(put, path = "/dss/v1/constraint_references/{entityid}", tag = "F3548 constraints",
    params(("entityid" = String, Path, description = "UUIDv4 of the entity")),
    request_body = PutConstraintReferenceParameters,
    responses((status = 201, description = "Created", body = ChangeConstraintReferenceResponse), crate::responses::BadRequest, crate::responses::Unauthorized, crate::responses::Forbidden, crate::responses::Stale, crate::responses::TooLarge))]
pub(crate) async fn create_constraint(
    State(app): AppRef,
    auth: Auth,
    Path(id): Path<String>,
    body: Body,
) -> Result<(StatusCode, Json<ChangeConstraintReferenceResponse>), ApiError> {
    Ok((StatusCode::CREATED, put_constraint(&app, &auth, &id, None, &body).await?))
}

#[utoipa::path(put, path = "/dss/v1/constraint_references/{entityid}/{ovn}", tag = "F3548 constraints",
    params(("entityid" = String, Path, description = "UUIDv4 of the entity"), ("ovn" = String, Path, description = "Current OVN")),
    request_body = PutConstraintReferenceParameters,
    responses((status = 200, description = "Success", body = ChangeConstraintReferenceResponse), crate::responses::BadRequest, crate::responses::Unauthorized, crate::responses::Forbidden, crate::responses::Stale, crate::responses::TooLarge))]
pub(crate) async fn update_constraint(
    State(app): AppRef,
    auth: Auth,
    Path((id, ovn)): Path<(String, String)>,
    body: Body,
) -> Api<ChangeConstraintReferenceResponse> {
    put_constraint(&app, &auth, &id, Some(&ovn), &body).await
}

#[utoipa::path(delete, path = "/dss/v1/constraint_references/{entityid}/{ovn}", tag = "F3548 constraints",
    params(("entityid" = String, Path, description = "UUIDv4 of the entity"), ("ovn" = String, Path, description = "Current OVN")),
    responses((status = 200, description = "Success", body = ChangeConstraintReferenceResponse), crate::responses::BadRequest, crate::responses::Unauthorized, crate::responses::Forbidden, crate::responses::NotFound, crate::responses::Stale))]
pub(crate) async fn delete_constraint(
    State(app): AppRef,
    auth: Auth,
    Path((id, ovn)): Path<(String, String)>,
) -> Api<ChangeConstraintReferenceResponse> {
    let caller = auth.scd(&[&[CM]])?;
    let id = entity_id(&id, "entityid")?;
    let change = app.dss.delete_constraint(&caller, id, &ovn).await?;
    Ok(Json(ChangeConstraintReferenceResponse {
        subscribers: subscribers_out(&change.subscribers),
        constraint_reference: ConstraintReference::from_view(&change.constraint),
    }))
}

const SUBSCRIPTION_SCOPES: &[&[Scope]] = &[&[CP], &[SC]];

#[utoipa::path(post, path = "/dss/v1/subscriptions/query", tag = "F3548 subscriptions",
    request_body = QueryRequest,
    responses((status = 200, description = "Success", body = QuerySubscriptionsResponse), crate::responses::BadRequest, crate::responses::Unauthorized, crate::responses::Forbidden, crate::responses::TooLarge))]
pub(crate) async fn query_subscriptions(
    State(app): AppRef,
    auth: Auth,
    body: Body,
) -> Api<QuerySubscriptionsResponse> {
    let caller = auth.scd(SUBSCRIPTION_SCOPES)?;
    let area = area_of_interest(&app, &body)?;
    let found = app.dss.query_subscriptions(&caller, &area).await?;
    Ok(Json(QuerySubscriptionsResponse {
        subscriptions: found.iter().map(Subscription::from_view).collect(),
    }))
}

#[utoipa::path(get, path = "/dss/v1/subscriptions/{subscriptionid}", tag = "F3548 subscriptions",
    params(("subscriptionid" = String, Path, description = "UUIDv4 of the subscription")),
    responses((status = 200, description = "Success", body = GetSubscriptionResponse), crate::responses::BadRequest, crate::responses::Unauthorized, crate::responses::Forbidden, crate::responses::NotFound))]
pub(crate) async fn get_subscription(
    State(app): AppRef,
    auth: Auth,
    Path(id): Path<String>,
) -> Api<GetSubscriptionResponse> {
    let caller = auth.scd(SUBSCRIPTION_SCOPES)?;
    let id = entity_id(&id, "subscriptionid")?;
    let view = app.dss.get_subscription(&caller, id).await?;
    Ok(Json(GetSubscriptionResponse { subscription: Subscription::from_view(&view) }))
}

async fn put_subscription(
    app: &AppState,
    auth: &Auth,
    id: &str,
    version: Option<&str>,
    body: &Body,
) -> Api<PutSubscriptionResponse> {
    let caller = auth.scd(SUBSCRIPTION_SCOPES)?;
    let id = entity_id(id, "subscriptionid")?;
    let p: PutSubscriptionParameters = body.json()?;
    let req = PutSubscription {
        extents: volume_in(&p.extents, "extents", app.dss.limits().max_vertices)?,
        uss_base_url: p.uss_base_url,
        notify_for_operational_intents: p.notify_for_operational_intents.unwrap_or(false),
        notify_for_constraints: p.notify_for_constraints.unwrap_or(false),
    };
    let put = app.dss.put_subscription(&caller, id, version, req).await?;
    Ok(Json(PutSubscriptionResponse {
        subscription: Subscription::from_view(&put.subscription),
        operational_intent_references: put
            .operational_intents
            .map(|v| v.iter().map(OperationalIntentReference::from_view).collect()),
        constraint_references: put
            .constraints
            .map(|v| v.iter().map(ConstraintReference::from_view).collect()),
    }))
}

#[utoipa::path(put, path = "/dss/v1/subscriptions/{subscriptionid}", tag = "F3548 subscriptions",
    params(("subscriptionid" = String, Path, description = "UUIDv4 of the subscription")),
    request_body = PutSubscriptionParameters,
    responses((status = 200, description = "Success", body = PutSubscriptionResponse), crate::responses::BadRequest, crate::responses::Unauthorized, crate::responses::Forbidden, crate::responses::Stale))]
pub(crate) async fn create_subscription(
    State(app): AppRef,
    auth: Auth,
    Path(id): Path<String>,
    body: Body,
) -> Api<PutSubscriptionResponse> {
    put_subscription(&app, &auth, &id, None, &body).await
}

#[utoipa::path(put, path = "/dss/v1/subscriptions/{subscriptionid}/{version}", tag = "F3548 subscriptions",
    params(("subscriptionid" = String, Path, description = "UUIDv4 of the subscription"), ("version" = String, Path, description = "Current version")),
    request_body = PutSubscriptionParameters,
    responses((status = 200, description = "Success", body = PutSubscriptionResponse), crate::responses::BadRequest, crate::responses::Unauthorized, crate::responses::Forbidden, crate::responses::Stale))]
pub(crate) async fn update_subscription(
    State(app): AppRef,
    auth: Auth,
    Path((id, version)): Path<(String, String)>,
    body: Body,
) -> Api<PutSubscriptionResponse> {
    put_subscription(&app, &auth, &id, Some(&version), &body).await
}

#[utoipa::path(delete, path = "/dss/v1/subscriptions/{subscriptionid}/{version}", tag = "F3548 subscriptions",
    params(("subscriptionid" = String, Path, description = "UUIDv4 of the subscription"), ("version" = String, Path, description = "Current version")),
    responses((status = 200, description = "Success", body = DeleteSubscriptionResponse), crate::responses::BadRequest, crate::responses::Unauthorized, crate::responses::Forbidden, crate::responses::NotFound, crate::responses::Stale))]
pub(crate) async fn delete_subscription(
    State(app): AppRef,
    auth: Auth,
    Path((id, version)): Path<(String, String)>,
) -> Api<DeleteSubscriptionResponse> {
    let caller = auth.scd(SUBSCRIPTION_SCOPES)?;
    let id = entity_id(&id, "subscriptionid")?;
    let view = app.dss.delete_subscription(&caller, id, &version).await?;
    Ok(Json(DeleteSubscriptionResponse { subscription: Subscription::from_view(&view) }))
}

#[utoipa::path(post, path = "/dss/v1/reports", tag = "F3548 reports",
    request_body = ErrorReport,
    responses((status = 201, description = "Created", body = ErrorReport), crate::responses::BadRequest, crate::responses::Unauthorized, crate::responses::Forbidden))]
pub(crate) async fn make_report(
    State(app): AppRef,
    auth: Auth,
    body: Body,
) -> Result<(StatusCode, Json<ErrorReport>), ApiError> {
    let caller = auth.scd(&[&[CM], &[CP], &[SC], &[CMSA], &[AA]])?;
    let mut report: ErrorReport = body.json()?;
    entente_wire::time_in(&report.exchange.request_time, "exchange.request_time")?;
    let stored = app.dss.submit_report(&caller, body.text()).await?;
    report.report_id = Some(stored.id);
    report.exchange.request_source.get_or_insert_with(|| caller.manager.clone());
    Ok((StatusCode::CREATED, Json(report)))
}

fn availability_out(record: &entente_dss::AvailabilityRecord) -> UssAvailabilityStatusResponse {
    UssAvailabilityStatusResponse {
        version: record.version.clone(),
        status: UssAvailabilityStatus { uss: record.uss.clone(), availability: record.availability.into() },
    }
}

#[utoipa::path(get, path = "/dss/v1/uss_availability/{uss_id}", tag = "F3548 availability",
    params(("uss_id" = String, Path, description = "Client id (token sub) of the USS")),
    responses((status = 200, description = "Success", body = UssAvailabilityStatusResponse), crate::responses::BadRequest, crate::responses::Unauthorized, crate::responses::Forbidden))]
pub(crate) async fn get_availability(
    State(app): AppRef,
    auth: Auth,
    Path(uss): Path<String>,
) -> Api<UssAvailabilityStatusResponse> {
    auth.scd(&[&[AA], &[SC], &[CMSA]])?;
    Ok(Json(availability_out(&app.dss.get_availability(&uss).await?)))
}

#[utoipa::path(put, path = "/dss/v1/uss_availability/{uss_id}", tag = "F3548 availability",
    params(("uss_id" = String, Path, description = "Client id (token sub) of the USS")),
    request_body = SetUssAvailabilityStatusParameters,
    responses((status = 200, description = "Success", body = UssAvailabilityStatusResponse), crate::responses::BadRequest, crate::responses::Unauthorized, crate::responses::Forbidden, crate::responses::Stale))]
pub(crate) async fn set_availability(
    State(app): AppRef,
    auth: Auth,
    Path(uss): Path<String>,
    body: Body,
) -> Api<UssAvailabilityStatusResponse> {
    auth.scd(&[&[AA]])?;
    let p: SetUssAvailabilityStatusParameters = body.json()?;
    let record =
        app.dss.set_availability(&uss, p.old_version.as_deref().unwrap_or(""), p.availability.into()).await?;
    Ok(Json(availability_out(&record)))
}
