//! The F3411 DSS handlers, written once over [`RidWire`], and the one table of endpoints that both the router
//! and the OpenAPI document are made from, so a version cannot serve a route it does not document.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use entente_dss::IsaSearch;
use utoipa::openapi::path::{HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Ref, Schema, Type};
use utoipa::openapi::{Content, OpenApi, RefOr, Required, Response, ResponseBuilder};
use utoipa::{IntoResponses, ToSchema};

use entente_wire::rid::{
    IsaChange, OneSubscription, ServiceArea, ServiceAreas, SubscriptionPut, Subscriptions, area_in,
    subscribers_out,
};

use super::{Params, RidWire, params, time_param};
use crate::app::AppState;
use crate::error::ApiError;
use crate::extract::{Auth, Body, entity_id};
use crate::responses;
use crate::routes::Routes;

type Api<T> = Result<Json<T>, ApiError>;
type AppRef = State<Arc<AppState>>;

/// One F3411 DSS operation; [`ENDPOINTS`] says where each is served and what it answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    SearchIsas,
    GetIsa,
    CreateIsa,
    UpdateIsa,
    DeleteIsa,
    SearchSubscriptions,
    GetSubscription,
    CreateSubscription,
    UpdateSubscription,
    DeleteSubscription,
}

/// Which entity an operation is about, for its tag and its answer's shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Entity {
    Isa,
    Subscription,
}

/// Where an operation is served, and what it may answer.
struct Endpoint {
    op: Op,
    method: HttpMethod,
    /// After the version's prefix.
    path: &'static str,
    /// The errors it may answer besides 401 and 403, which every one may.
    errors: &'static [Answers],
}

/// The responses of one of the error types in `responses.rs`.
type Answers = fn() -> BTreeMap<String, RefOr<Response>>;

const BAD: Answers = responses::BadRequest::responses;
const TOO_LARGE: Answers = responses::TooLarge::responses;
const NOT_FOUND: Answers = responses::NotFound::responses;
const STALE: Answers = responses::StaleVersion::responses;
const TOO_MANY: Answers = responses::TooManySubscriptions::responses;

const ISAS: &str = "/identification_service_areas";
const ISA: &str = "/identification_service_areas/{id}";
const ISA_VERSION: &str = "/identification_service_areas/{id}/{version}";
const SUBSCRIPTIONS: &str = "/subscriptions";
const SUBSCRIPTION: &str = "/subscriptions/{id}";
const SUBSCRIPTION_VERSION: &str = "/subscriptions/{id}/{version}";

const ENDPOINTS: [Endpoint; 10] = [
    Endpoint { op: Op::SearchIsas, method: HttpMethod::Get, path: ISAS, errors: &[BAD, TOO_LARGE] },
    Endpoint { op: Op::GetIsa, method: HttpMethod::Get, path: ISA, errors: &[BAD, NOT_FOUND] },
    Endpoint { op: Op::CreateIsa, method: HttpMethod::Put, path: ISA, errors: &[BAD, STALE] },
    Endpoint { op: Op::UpdateIsa, method: HttpMethod::Put, path: ISA_VERSION, errors: &[BAD, STALE] },
    Endpoint {
        op: Op::DeleteIsa,
        method: HttpMethod::Delete,
        path: ISA_VERSION,
        errors: &[BAD, NOT_FOUND, STALE],
    },
    Endpoint {
        op: Op::SearchSubscriptions,
        method: HttpMethod::Get,
        path: SUBSCRIPTIONS,
        errors: &[BAD, TOO_LARGE],
    },
    Endpoint {
        op: Op::GetSubscription,
        method: HttpMethod::Get,
        path: SUBSCRIPTION,
        errors: &[BAD, NOT_FOUND],
    },
    Endpoint {
        op: Op::CreateSubscription,
        method: HttpMethod::Put,
        path: SUBSCRIPTION,
        errors: &[BAD, STALE, TOO_MANY],
    },
    Endpoint {
        op: Op::UpdateSubscription,
        method: HttpMethod::Put,
        path: SUBSCRIPTION_VERSION,
        errors: &[BAD, STALE, TOO_MANY],
    },
    Endpoint {
        op: Op::DeleteSubscription,
        method: HttpMethod::Delete,
        path: SUBSCRIPTION_VERSION,
        errors: &[BAD, NOT_FOUND, STALE],
    },
];

impl Op {
    fn entity(self) -> Entity {
        match self {
            Op::SearchIsas | Op::GetIsa | Op::CreateIsa | Op::UpdateIsa | Op::DeleteIsa => Entity::Isa,
            _ => Entity::Subscription,
        }
    }

    /// Adds this operation's route in version `V` to `routes`.
    fn route<V: RidWire>(self, routes: Routes<Arc<AppState>>, path: String) -> Routes<Arc<AppState>> {
        match self {
            Op::SearchIsas => routes.get(path, search_isas::<V>),
            Op::GetIsa => routes.get(path, get_isa::<V>),
            Op::CreateIsa => routes.put(path, create_isa::<V>),
            Op::UpdateIsa => routes.put(path, update_isa::<V>),
            Op::DeleteIsa => routes.delete(path, delete_isa::<V>),
            Op::SearchSubscriptions => routes.get(path, search_subscriptions::<V>),
            Op::GetSubscription => routes.get(path, get_subscription::<V>),
            Op::CreateSubscription => routes.put(path, create_subscription::<V>),
            Op::UpdateSubscription => routes.put(path, update_subscription::<V>),
            Op::DeleteSubscription => routes.delete(path, delete_subscription::<V>),
        }
    }
}

/// Version `V`'s routes, from [`ENDPOINTS`].
pub(super) fn routes<V: RidWire>() -> Routes<Arc<AppState>> {
    ENDPOINTS
        .iter()
        .fold(Routes::new(), |routes, e| e.op.route::<V>(routes, format!("{}{}", V::PREFIX, e.path)))
}

async fn search_isas<V: RidWire>(State(app): AppRef, auth: Auth, query: Params) -> Api<ServiceAreas<V::Isa>> {
    auth.rid(V::SEARCH_ISAS)?;
    let p = params(query)?;
    let search = IsaSearch {
        area: area_in(p.get("area").map(String::as_str), app.dss.limits().max_vertices)?,
        earliest: time_param(&p, "earliest_time")?,
        latest: time_param(&p, "latest_time")?,
    };
    let found = app.dss.search_isas(&search).await?;
    Ok(Json(ServiceAreas { service_areas: found.iter().map(V::isa_out).collect() }))
}

async fn get_isa<V: RidWire>(
    State(app): AppRef,
    auth: Auth,
    Path(id): Path<String>,
) -> Api<ServiceArea<V::Isa>> {
    auth.rid(V::GET_ISA)?;
    let isa = app.dss.get_isa(entity_id(&id, "id")?).await?;
    Ok(Json(ServiceArea { service_area: V::isa_out(&isa) }))
}

async fn put_isa<V: RidWire>(
    app: &AppState,
    auth: &Auth,
    id: &str,
    version: Option<&str>,
    body: &Body,
) -> Api<IsaChange<V::Isa>> {
    let caller = auth.rid(V::WRITE_ISA)?;
    let id = entity_id(id, "id")?;
    let put = V::isa_in(body.json()?, app.dss.limits().max_vertices)?;
    let change = app.dss.put_isa(&caller, id, version, put).await?;
    Ok(Json(IsaChange {
        service_area: V::isa_out(&change.isa),
        subscribers: subscribers_out(&change.subscribers, V::API),
    }))
}

async fn create_isa<V: RidWire>(
    State(app): AppRef,
    auth: Auth,
    Path(id): Path<String>,
    body: Body,
) -> Api<IsaChange<V::Isa>> {
    put_isa::<V>(&app, &auth, &id, None, &body).await
}

async fn update_isa<V: RidWire>(
    State(app): AppRef,
    auth: Auth,
    Path((id, version)): Path<(String, String)>,
    body: Body,
) -> Api<IsaChange<V::Isa>> {
    put_isa::<V>(&app, &auth, &id, Some(&version), &body).await
}

async fn delete_isa<V: RidWire>(
    State(app): AppRef,
    auth: Auth,
    Path((id, version)): Path<(String, String)>,
) -> Api<IsaChange<V::Isa>> {
    let caller = auth.rid(V::WRITE_ISA)?;
    let change = app.dss.delete_isa(&caller, entity_id(&id, "id")?, &version).await?;
    Ok(Json(IsaChange {
        service_area: V::isa_out(&change.isa),
        subscribers: subscribers_out(&change.subscribers, V::API),
    }))
}

async fn search_subscriptions<V: RidWire>(
    State(app): AppRef,
    auth: Auth,
    query: Params,
) -> Api<Subscriptions<V::Subscription>> {
    let caller = auth.rid(V::SEARCH_SUBSCRIPTIONS)?;
    let p = params(query)?;
    let area = area_in(p.get("area").map(String::as_str), app.dss.limits().max_vertices)?;
    let found = app.dss.search_rid_subscriptions(&caller, &area).await?;
    Ok(Json(Subscriptions { subscriptions: found.iter().map(V::subscription_out).collect() }))
}

async fn get_subscription<V: RidWire>(
    State(app): AppRef,
    auth: Auth,
    Path(id): Path<String>,
) -> Api<OneSubscription<V::Subscription>> {
    let caller = auth.rid(V::GET_SUBSCRIPTION)?;
    let s = app.dss.get_rid_subscription(&caller, entity_id(&id, "id")?).await?;
    Ok(Json(OneSubscription { subscription: V::subscription_out(&s) }))
}

async fn put_subscription<V: RidWire>(
    app: &AppState,
    auth: &Auth,
    id: &str,
    version: Option<&str>,
    body: &Body,
) -> Api<SubscriptionPut<V::Subscription, V::Isa>> {
    let caller = auth.rid(V::WRITE_SUBSCRIPTION)?;
    let id = entity_id(id, "id")?;
    let req = V::subscription_in(body.json()?, app.dss.limits().max_vertices)?;
    let put = app.dss.put_rid_subscription(&caller, id, version, req).await?;
    Ok(Json(SubscriptionPut {
        subscription: V::subscription_out(&put.subscription),
        service_areas: put.service_areas.iter().map(V::isa_out).collect(),
    }))
}

async fn create_subscription<V: RidWire>(
    State(app): AppRef,
    auth: Auth,
    Path(id): Path<String>,
    body: Body,
) -> Api<SubscriptionPut<V::Subscription, V::Isa>> {
    put_subscription::<V>(&app, &auth, &id, None, &body).await
}

async fn update_subscription<V: RidWire>(
    State(app): AppRef,
    auth: Auth,
    Path((id, version)): Path<(String, String)>,
    body: Body,
) -> Api<SubscriptionPut<V::Subscription, V::Isa>> {
    put_subscription::<V>(&app, &auth, &id, Some(&version), &body).await
}

async fn delete_subscription<V: RidWire>(
    State(app): AppRef,
    auth: Auth,
    Path((id, version)): Path<(String, String)>,
) -> Api<OneSubscription<V::Subscription>> {
    let caller = auth.rid(V::WRITE_SUBSCRIPTION)?;
    let s = app.dss.delete_rid_subscription(&caller, entity_id(&id, "id")?, &version).await?;
    Ok(Json(OneSubscription { subscription: V::subscription_out(&s) }))
}

/// Adds version `V`'s operations and the schemas they name to `doc`, from [`ENDPOINTS`].
pub(crate) fn document<V: RidWire>(doc: &mut OpenApi) {
    let components = doc.components.get_or_insert_with(Default::default);
    let mut schemas = Vec::new();
    add_schema::<V::Isa>(&mut schemas);
    add_schema::<V::Subscription>(&mut schemas);
    add_schema::<V::IsaParameters>(&mut schemas);
    add_schema::<V::SubscriptionParameters>(&mut schemas);
    add_schema::<entente_wire::rid::RidSubscriberToNotify>(&mut schemas);
    components.schemas.extend(schemas);
    let isa = || Ref::from_schema_name(V::Isa::name());
    let subscription = || Ref::from_schema_name(V::Subscription::name());
    for e in &ENDPOINTS {
        let (tag, parameters) = match e.op.entity() {
            Entity::Isa => (format!("{} identification service areas", V::NAME), V::IsaParameters::name()),
            Entity::Subscription => (format!("{} subscriptions", V::NAME), V::SubscriptionParameters::name()),
        };
        let answer: Schema = match e.op {
            Op::SearchIsas => envelope([("service_areas", array(isa()))]),
            Op::GetIsa => envelope([("service_area", isa().into())]),
            Op::CreateIsa | Op::UpdateIsa | Op::DeleteIsa => envelope([
                ("service_area", isa().into()),
                (
                    "subscribers",
                    array(Ref::from_schema_name(entente_wire::rid::RidSubscriberToNotify::name())),
                ),
            ]),
            Op::SearchSubscriptions => envelope([("subscriptions", array(subscription()))]),
            Op::GetSubscription | Op::DeleteSubscription => {
                envelope([("subscription", subscription().into())])
            }
            Op::CreateSubscription | Op::UpdateSubscription => {
                envelope([("subscription", subscription().into()), ("service_areas", array(isa()))])
            }
        };
        let mut op = OperationBuilder::new().tag(tag).response(
            "200",
            ResponseBuilder::new()
                .description("Success")
                .content("application/json", Content::new(Some(answer))),
        );
        let common: [Answers; 2] = [responses::Unauthorized::responses, responses::Forbidden::responses];
        for (status, response) in common.iter().chain(e.errors).flat_map(|answers| answers()) {
            op = op.response(status, response);
        }
        for name in ["id", "version"].into_iter().filter(|n| e.path.contains(&format!("{{{n}}}"))) {
            let description = if name == "id" { "UUIDv4 of the entity" } else { "Current version" };
            op = op.parameter(
                ParameterBuilder::new()
                    .name(name)
                    .parameter_in(ParameterIn::Path)
                    .required(Required::True)
                    .description(Some(description))
                    .schema(Some(ObjectBuilder::new().schema_type(Type::String))),
            );
        }
        if matches!(e.op, Op::SearchIsas | Op::SearchSubscriptions) {
            let mut queries = vec![("area", Required::True, Some("lat1,lng1,lat2,lng2,lat3,lng3,..."))];
            if e.op == Op::SearchIsas {
                queries.extend([
                    ("earliest_time", Required::False, None),
                    ("latest_time", Required::False, None),
                ]);
            }
            for (name, required, description) in queries {
                op = op.parameter(
                    ParameterBuilder::new()
                        .name(name)
                        .parameter_in(ParameterIn::Query)
                        .required(required)
                        .description(description)
                        .schema(Some(ObjectBuilder::new().schema_type(Type::String))),
                );
            }
        }
        if e.method == HttpMethod::Put {
            op = op.request_body(Some(
                RequestBodyBuilder::new()
                    .content("application/json", Content::new(Some(Ref::from_schema_name(parameters))))
                    .required(Some(Required::True))
                    .build(),
            ));
        }
        doc.paths.add_path_operation(format!("{}{}", V::PREFIX, e.path), vec![e.method.clone()], op.build());
    }
}

fn add_schema<T: ToSchema>(schemas: &mut Vec<(String, RefOr<Schema>)>) {
    schemas.push((T::name().into_owned(), T::schema()));
    T::schemas(schemas);
}

fn envelope<const N: usize>(properties: [(&str, RefOr<Schema>); N]) -> Schema {
    let mut object = ObjectBuilder::new();
    for (name, schema) in properties {
        object = object.property(name, schema).required(name);
    }
    object.into()
}

fn array(items: Ref) -> RefOr<Schema> {
    ArrayBuilder::new().items(items).into()
}
