//! The InterUSS flight planning automated-testing interface (interuss/automated_testing_interfaces,
//! flight_planning v1, API v0.6.0), so conformance tooling can plan, update and close flights here as a user
//! would. It drives the same planner as the operator API.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::routing::{get, post, put};
use chrono::{DateTime, Utc};
use entente_dss::EntityId;
use entente_uss::{FlightState, volumes_intersect};
use serde::{Deserialize, Serialize};

use super::operator::{check_plan_window, flight_volumes, priority};
use super::planner::{self, Proposal};
use super::{MAX_VERTICES, OwnFlight, UssState};
use crate::error::ApiError;
use crate::extract::{Auth, Body, entity_id};
use crate::wire::{Time, Volume4D, time_out, volume_in};

const PLAN: &str = "interuss.flight_planning.plan";
const DIRECT: &str = "interuss.flight_planning.direct_automated_test";

type AppRef = State<Arc<UssState>>;

pub(crate) fn routes() -> Router<Arc<UssState>> {
    Router::new()
        .route("/flight_planning/v1/status", get(status))
        .route("/flight_planning/v1/flight_plans/{flight_plan_id}", put(upsert).delete(delete))
        .route("/flight_planning/v1/clear_area_requests", post(clear_area))
        .route("/flight_planning/v1/user_notifications", get(user_notifications))
}

#[derive(Deserialize)]
struct UpsertFlightPlanRequest {
    flight_plan: FlightPlan,
    execution_style: String,
}

#[derive(Deserialize)]
struct FlightPlan {
    basic_information: BasicFlightPlanInformation,
    #[serde(default)]
    astm_f3548_21: Option<OpIntentInformation>,
}

#[derive(Deserialize)]
struct BasicFlightPlanInformation {
    usage_state: String,
    uas_state: String,
    #[serde(default)]
    area: Vec<Volume4D>,
}

#[derive(Deserialize)]
struct OpIntentInformation {
    #[serde(default)]
    priority: i32,
}

#[derive(Serialize)]
struct PlanningResponse {
    planning_result: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    notes: Option<String>,
    flight_plan_status: &'static str,
    includes_advisories: &'static str,
}

#[derive(Deserialize)]
struct ClearAreaRequest {
    extent: Volume4D,
}

#[derive(Serialize)]
struct ClearAreaOutcome {
    success: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<String>,
}

#[derive(Serialize)]
struct ClearAreaResponse {
    outcome: ClearAreaOutcome,
}

#[derive(Serialize)]
struct UserNotification {
    observed_at: Time,
    conflicts: &'static str,
}

#[derive(Serialize)]
struct QueryUserNotificationsResponse {
    user_notifications: Vec<UserNotification>,
}

#[derive(Serialize)]
struct StatusResponse {
    status: &'static str,
    api_name: &'static str,
    api_version: &'static str,
}

fn plan_status(state: Option<FlightState>) -> &'static str {
    match state {
        None => "NotPlanned",
        Some(FlightState::Accepted) => "Planned",
        Some(FlightState::Activated) => "OkToFly",
        Some(FlightState::Nonconforming | FlightState::Contingent) => "OffNominal",
        Some(FlightState::Ended) => "Closed",
    }
}

fn answer(result: &'static str, notes: Option<String>, state: Option<FlightState>) -> Json<PlanningResponse> {
    Json(PlanningResponse {
        planning_result: result,
        notes,
        flight_plan_status: plan_status(state),
        includes_advisories: "Unknown",
    })
}

async fn status(auth: Auth) -> Result<Json<StatusResponse>, ApiError> {
    auth.require(DIRECT)?;
    Ok(Json(StatusResponse {
        status: "Ready",
        api_name: "Flight Planning Automated Testing Interface",
        api_version: "v0.6.0",
    }))
}

fn live(st: &UssState, id: EntityId) -> Option<OwnFlight> {
    st.flights.lock().get(&id).filter(|f| f.state != FlightState::Ended).cloned()
}

/// Refusals by the rules are `Rejected`, failures of the DSS or peers `Failed`; either way the flight plan keeps
/// the status it had.
async fn upsert(
    State(st): AppRef,
    auth: Auth,
    Path(id): Path<String>,
    body: Body,
) -> Result<Json<PlanningResponse>, ApiError> {
    auth.require(PLAN)?;
    let id = entity_id(&id, "flight_plan_id")?;
    let req: UpsertFlightPlanRequest = body.json()?;
    let _guard = st.lock_flight(id).await;
    let info = &req.flight_plan.basic_information;
    let existing = live(&st, id);
    let before = existing.as_ref().map(|f| f.state);
    if info.usage_state == "Closed" {
        if existing.is_some()
            && let Err(e) = planner::end(&st, id).await
        {
            return Ok(answer("Failed", Some(e.to_string()), before));
        }
        return Ok(answer("Completed", None, Some(FlightState::Ended)));
    }
    let target = match info.usage_state.as_str() {
        "Planned" => FlightState::Accepted,
        "InUse" => FlightState::Activated,
        other => {
            return Err(ApiError::bad(format!(
                "flight_plan.basic_information.usage_state {other:?} is not one of Planned, InUse, Closed"
            )));
        }
    };
    if req.execution_style == "Hypothetical" {
        return Ok(answer("NotSupported", Some("hypothetical planning is not supported".into()), before));
    }
    if info.uas_state != "Nominal" {
        let notes = format!(
            "flight plans with uas_state {} are not supported through this interface",
            info.uas_state
        );
        return Ok(answer("NotSupported", Some(notes), before));
    }
    let volumes = match flight_volumes(&info.area, "flight_plan.basic_information.area") {
        Ok(v) => v,
        Err(e) => return Ok(answer("Rejected", Some(e.to_string()), before)),
    };
    if let Err(e) = check_plan_window(&volumes, Utc::now()) {
        return Ok(answer("Rejected", Some(e.to_string()), before));
    }
    if let Some(from) = before
        && let Err(e) = from.transition(target)
    {
        return Ok(answer("Rejected", Some(e.to_string()), before));
    }
    let priority = match priority(
        req.flight_plan.astm_f3548_21.as_ref().map_or(0, |a| a.priority),
        "flight_plan.astm_f3548_21.priority",
    ) {
        Ok(p) => p,
        Err(e) => return Ok(answer("NotSupported", Some(e.to_string()), before)),
    };
    // F3548 creates every intent Accepted; a flight first planned in use is activated right after.
    let steps: &[FlightState] = if before.is_none() && target == FlightState::Activated {
        &[FlightState::Accepted, FlightState::Activated]
    } else {
        &[target]
    };
    for &state in steps {
        let proposal = Proposal { volumes: volumes.clone(), off_nominal: Vec::new(), priority, state };
        match planner::plan(&st, id, proposal).await {
            Ok(_) => {}
            Err(e @ ApiError::Upstream(_)) => {
                return Ok(answer("Failed", Some(e.to_string()), live(&st, id).map(|f| f.state)));
            }
            Err(e) => return Ok(answer("Rejected", Some(e.to_string()), live(&st, id).map(|f| f.state))),
        }
    }
    Ok(answer("Completed", None, Some(target)))
}

async fn delete(
    State(st): AppRef,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Json<PlanningResponse>, ApiError> {
    // The interface's schema asks for the direct-test scope, while InterUSS's own client and mock_uss delete with
    // the planning one, as a user ending a flight would.
    auth.require_any(&[PLAN, DIRECT])?;
    let id = entity_id(&id, "flight_plan_id")?;
    let _guard = st.lock_flight(id).await;
    let Some(flight) = live(&st, id) else {
        return Err(ApiError::NotFound(format!("flight plan {id}: not found")));
    };
    match planner::end(&st, id).await {
        Ok(()) => Ok(answer("Completed", None, Some(FlightState::Ended))),
        Err(e) => Ok(answer("Failed", Some(e.to_string()), Some(flight.state))),
    }
}

/// Ends every flight of this USS that meets the extent.
async fn clear_area(State(st): AppRef, auth: Auth, body: Body) -> Result<Json<ClearAreaResponse>, ApiError> {
    auth.require(DIRECT)?;
    let req: ClearAreaRequest = body.json()?;
    let extent = [volume_in(&req.extent, "extent", MAX_VERTICES)?];
    let inside: Vec<EntityId> = st
        .flights
        .lock()
        .iter()
        .filter(|(_, f)| f.state != FlightState::Ended)
        .filter(|(_, f)| volumes_intersect(&extent, &f.volumes) || volumes_intersect(&extent, &f.off_nominal))
        .map(|(id, _)| *id)
        .collect();
    let mut failures = Vec::new();
    for id in inside {
        let _guard = st.lock_flight(id).await;
        // Ended by someone else while this request waited.
        if live(&st, id).is_none() {
            continue;
        }
        if let Err(e) = planner::end(&st, id).await {
            failures.push(format!("{id}: {e}"));
        }
    }
    let success = failures.is_empty();
    Ok(Json(ClearAreaResponse {
        outcome: ClearAreaOutcome { success, message: (!success).then(|| failures.join("; ")) },
    }))
}

fn instant(params: &HashMap<String, String>, name: &str) -> Result<Option<DateTime<Utc>>, ApiError> {
    params
        .get(name)
        .map(|t| {
            DateTime::parse_from_rfc3339(t)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|e| ApiError::bad(format!("{name} must be an RFC 3339 date-time: {e}")))
        })
        .transpose()
}

/// The alerts this USS's operators were given between `after` and `before` (default now), each about one intent
/// or constraint meeting their flight.
async fn user_notifications(
    State(st): AppRef,
    auth: Auth,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<QueryUserNotificationsResponse>, ApiError> {
    auth.require(PLAN)?;
    let after =
        instant(&params, "after")?.ok_or_else(|| ApiError::bad("the after query parameter is required"))?;
    let before = instant(&params, "before")?;
    if before.is_some_and(|b| b < after) {
        return Err(ApiError::bad("before must not be earlier than after"));
    }
    let before = before.unwrap_or_else(Utc::now);
    let user_notifications = st
        .alerted_at
        .lock()
        .iter()
        .filter(|t| (after..=before).contains(*t))
        .map(|t| UserNotification { observed_at: time_out(*t), conflicts: "Single" })
        .collect();
    Ok(Json(QueryUserNotificationsResponse { user_notifications }))
}
