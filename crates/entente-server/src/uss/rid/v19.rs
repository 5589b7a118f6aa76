//! F3411-19 on the USS side, for a USS run with `--rid-version 19`: how it speaks to the DSS and to peers, and the
//! SP's `/v1/uss/flights` and details and the DP's notification receiver it serves. The logic is the F3411-22a
//! one; only the shapes differ (`entente_wire::rid::v19`).

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::Duration;
use entente_uss::rid::{NEAR_REAL_TIME_S, V19_VIEWS, View, ViewLimits};
use entente_uss::service::BoxFuture;
use entente_uss::service::rid::{IsaChanged, IsaSummary, Subscribed};
use entente_uss::{Timestamp, Volume};
use entente_wire::rid::ServiceArea;
use entente_wire::rid::v19::{
    ChangeIdentificationServiceAreaResponse, IdentificationServiceArea, IdentificationServiceAreaParameters,
    NotificationParameters, PutSubscriptionResponse, SubscriptionCallbacks, SubscriptionParameters,
    flights_in, flights_out, volume_in, volume_out,
};
use entente_wire::rid::v22a::{GetFlightDetailsResponse, GetFlightsResponse};
use entente_wire::time_out;
use reqwest::Method;
use serde_json::Value;

use super::protocol::{RidProtocol, isa_changed, present};
use super::{dp, sp};
use crate::error::ApiError;
use crate::extract::{Auth, Body, entity_id};
use crate::rid::RidWire;
use crate::rid::v19::{READ, V19, WRITE};
use crate::rid::{Params, params};
use crate::uss::client::Reply;
use crate::uss::{Links, MAX_VERTICES, UssState};

/// Where an F3411-19 SP serves its flights, under its base URL.
pub(crate) const FLIGHTS_PATH: &str = "/v1/uss/flights";
/// Where an F3411-19 DP takes ISA notifications, under its base URL.
const CALLBACK_PATH: &str = "/v1/uss/identification_service_areas";

impl RidProtocol for V19 {
    fn views(&self) -> ViewLimits {
        V19_VIEWS
    }

    fn dss_prefix(&self) -> &'static str {
        Self::PREFIX
    }

    fn isa_read_scope(&self) -> &'static str {
        READ
    }

    fn isa_write_scope(&self) -> &'static str {
        WRITE
    }

    fn dp_scope(&self) -> &'static str {
        READ
    }

    fn put_isa<'a>(
        &'a self,
        links: &'a Links,
        url: &'a str,
        extent: &'a Volume,
    ) -> BoxFuture<'a, Result<Reply, ApiError>> {
        Box::pin(async move {
            let params = IdentificationServiceAreaParameters {
                extents: volume_out(extent)?,
                flights_url: format!("{}{FLIGHTS_PATH}", links.config.base_url),
            };
            links.client.send_scoped(Method::PUT, url, WRITE, Some(&params), links.config.dss_timeout).await
        })
    }

    fn isa_owner(&self, reply: &Reply) -> Result<(String, String), ApiError> {
        let got: ServiceArea<IdentificationServiceArea> = reply.json()?;
        Ok((got.service_area.owner, got.service_area.version))
    }

    fn isa_changed(
        &self,
        links: &Arc<Links>,
        id: &str,
        reply: &Reply,
        extent: Option<&Volume>,
    ) -> Result<IsaChanged, ApiError> {
        let change: ChangeIdentificationServiceAreaResponse = reply.json()?;
        let version = change.service_area.version.clone();
        let service_area = extent.is_some().then_some(change.service_area);
        let extents = extent.map(volume_out).transpose()?;
        // An F3411-19 subscriber's URL is its callback collection: the ISA's id is appended.
        let path = format!("/{id}");
        Ok(isa_changed(links, version, change.subscribers, path, WRITE, move |subscriptions| {
            NotificationParameters {
                service_area: service_area.clone(),
                subscriptions,
                extents: extents.clone(),
            }
        }))
    }

    fn put_subscription<'a>(
        &'a self,
        links: &'a Links,
        url: &'a str,
        extents: &'a Volume,
    ) -> BoxFuture<'a, Result<Reply, ApiError>> {
        Box::pin(async move {
            let params = SubscriptionParameters {
                extents: volume_out(extents)?,
                callbacks: SubscriptionCallbacks {
                    identification_service_area_url: Some(format!(
                        "{}{CALLBACK_PATH}",
                        links.config.base_url
                    )),
                },
            };
            links.client.send_scoped(Method::PUT, url, READ, Some(&params), links.config.dss_timeout).await
        })
    }

    fn subscribed(&self, reply: &Reply) -> Result<Subscribed, ApiError> {
        let answer: PutSubscriptionResponse = reply.json()?;
        Ok(Subscribed {
            present: present(&answer.service_areas, summary)?,
            version: answer.subscription.version,
            notification_index: answer.subscription.notification_index,
        })
    }

    fn flights_query(&self, _first: bool) -> String {
        // F3411-19 has no duration to ask for: recent positions are the last minute or none.
        "include_recent_positions=true".to_owned()
    }

    fn flights(&self, reply: &Reply, now: Timestamp) -> Result<GetFlightsResponse, ApiError> {
        match reply.status {
            200 => flights_in(reply.json()?)
                .map_err(|e| ApiError::Upstream(format!("an F3411-19 flights answer: {e}"))),
            // F3411-19's answer for a view outside the SP's ISAs: nothing there.
            404 => Ok(GetFlightsResponse {
                timestamp: time_out(now),
                flights: Vec::new(),
                no_isas_present: true,
            }),
            _ => Err(reply.unexpected()),
        }
    }
}

/// The ISA as the DP keeps it, from F3411-19's form.
fn summary(isa: &IdentificationServiceArea) -> Result<IsaSummary, ApiError> {
    Ok(IsaSummary {
        id: isa.id.clone(),
        owner: isa.owner.clone(),
        flights_url: isa.flights_url.trim_end_matches('/').to_owned(),
        version: isa.version.clone(),
        end: entente_wire::parse_rfc3339(&isa.time_end, "service_area.time_end")?,
    })
}

/// F3411-19 `GET /v1/uss/flights`: like F3411-22a's, with its view limit, `include_recent_positions`, and 404
/// for a view outside this SP's ISA.
#[utoipa::path(get, path = "/v1/uss/flights", tag = "Remote ID (F3411-19)",
    params(("view" = String, Query, description = "lat1,lng1,lat2,lng2; diagonal at most 3.6 km"),
        ("include_recent_positions" = Option<bool>, Query, description = "Include the last minute of positions")),
    responses((status = 200, description = "Flights in the view"), crate::responses::BadRequest, crate::responses::Unauthorized, crate::responses::NotRidReaderV19, (status = 404, description = "The view is outside this SP's ISA", body = entente_wire::ErrorResponse), (status = 413, description = "The view's diagonal exceeds 3.6 km", body = entente_wire::ErrorResponse)))]
pub(crate) async fn flights(
    State(st): State<Arc<UssState>>,
    auth: Auth,
    query: Params,
) -> Result<Json<Value>, ApiError> {
    auth.rid(&[READ])?;
    let p = params(query)?;
    let view =
        View::parse(p.get("view").ok_or_else(|| ApiError::bad("view is required: lat1,lng1,lat2,lng2"))?)?;
    view.scale(&V19_VIEWS)?;
    let recent = match p.get("include_recent_positions").map(String::as_str) {
        None | Some("false") => Duration::zero(),
        Some("true") => Duration::seconds(NEAR_REAL_TIME_S),
        Some(other) => {
            return Err(ApiError::bad(format!(
                "include_recent_positions must be true or false, not {other:?}"
            )));
        }
    };
    let answer = sp::flights_now(&st, &view, recent);
    if answer.no_isas_present {
        return Err(ApiError::NotFound(
            "the view is outside every identification service area of this SP".into(),
        ));
    }
    Ok(Json(flights_out(&answer).map_err(|e| ApiError::Upstream(format!("encoding flights: {e}")))?))
}

#[utoipa::path(get, path = "/v1/uss/flights/{id}/details", tag = "Remote ID (F3411-19)",
    params(("id" = String, Path, description = "Remote ID flight id")),
    responses((status = 200, description = "The flight's details", body = GetFlightDetailsResponse), crate::responses::Unauthorized, crate::responses::NotRidReaderV19, crate::responses::NoSuchFlight))]
pub(crate) async fn flight_details(
    State(st): State<Arc<UssState>>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Json<GetFlightDetailsResponse>, ApiError> {
    auth.rid(&[READ])?;
    Ok(Json(sp::details(&st, id)?))
}

/// F3411-19 `POST /v1/uss/identification_service_areas/{id}`, taken by the same rules as F3411-22a's.
#[utoipa::path(post, path = "/v1/uss/identification_service_areas/{id}", tag = "Remote ID (F3411-19)",
    params(("id" = String, Path, description = "UUIDv4 of the ISA")), request_body = NotificationParameters,
    responses((status = 204, description = "Taken"), crate::responses::BadRequest, crate::responses::Unauthorized, (status = 403, description = "The token lacks dss.write.identification_service_areas, or the sender does not own the ISA", body = entente_wire::ErrorResponse), (status = 409, description = "This version arrived before with other content", body = entente_wire::ErrorResponse)))]
pub(crate) async fn notified_isa(
    State(st): State<Arc<UssState>>,
    auth: Auth,
    Path(id): Path<String>,
    body: Body,
) -> Result<StatusCode, ApiError> {
    let caller = auth.rid(&[WRITE])?;
    let id = entity_id(&id, "id")?.to_string();
    let n: NotificationParameters = body.json()?;
    let area = n.service_area.as_ref().map(summary).transpose()?;
    let extents = n.extents.as_ref().map(|e| volume_in(e, "extents", MAX_VERTICES)).transpose()?;
    let told: Vec<(String, i32)> =
        n.subscriptions.iter().map(|s| (s.subscription_id.clone(), s.notification_index)).collect();
    dp::take_notification(&st, &caller.manager, &id, area, extents, &told)
}
