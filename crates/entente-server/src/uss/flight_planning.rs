//! The InterUSS flight planning automated-testing interface (interuss/automated_testing_interfaces,
//! flight_planning v1, API v0.6.0), so conformance tooling can plan, update and close flights here as a user
//! would. It drives the same planner as the operator API.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use chrono::{DateTime, Utc};
use entente_dss::EntityId;
use entente_uss::service::{CallError, FlightGuard, OwnFlight, Proposal};
use entente_uss::{FlightState, Reason, UssError, volumes_intersect};
use entente_wire::interuss::flight_planning::{
    BasicFlightPlanInformation, ClearAreaOutcome, ClearAreaRequest, ClearAreaResponse, FlightPlan,
    PlanningResponse, QueryUserNotificationsResponse, StatusResponse, UpsertFlightPlanRequest,
    UserNotification,
};
use entente_wire::{parse_rfc3339, time_out, volume_in};

use super::input::flight_volumes;
use super::operator::{self, authorisation_of, check_plan_window, priority};
use super::{MAX_VERTICES, UssState};
use crate::error::ApiError;
use crate::extract::{Auth, Body, entity_id};
use crate::metrics::PlanOutcome;
use crate::routes::Routes;

const PLAN: &str = "interuss.flight_planning.plan";
const DIRECT: &str = "interuss.flight_planning.direct_automated_test";

type AppRef = State<Arc<UssState>>;

pub(crate) fn routes() -> Routes<Arc<UssState>> {
    Routes::new()
        .get("/flight_planning/v1/status", status)
        .put("/flight_planning/v1/flight_plans/{flight_plan_id}", upsert)
        .delete("/flight_planning/v1/flight_plans/{flight_plan_id}", delete)
        .post("/flight_planning/v1/clear_area_requests", clear_area)
        .get("/flight_planning/v1/user_notifications", user_notifications)
}

/// The interface's execution styles. `InReality` reports what the user is doing: off-nominal states are written as
/// reported, while a nominal plan must still be allowed, since a USS may not share a disallowed conflict.
#[derive(Clone, Copy, PartialEq)]
enum Execution {
    Hypothetical,
    IfAllowed,
    InReality,
}

fn execution(style: &str) -> Result<Execution, ApiError> {
    match style {
        "Hypothetical" => Ok(Execution::Hypothetical),
        "IfAllowed" => Ok(Execution::IfAllowed),
        "InReality" => Ok(Execution::InReality),
        other => Err(ApiError::bad(format!(
            "execution_style {other:?} is not one of Hypothetical, IfAllowed, InReality"
        ))),
    }
}

/// Upserts answered lately, by request_id, so that a repeat gets the first answer instead of planning twice (the
/// interface asks for that, or an error). The oldest are forgotten past a bound; a repeat of one of those plans
/// again, which the interface allows.
#[derive(Default)]
pub(crate) struct AnsweredRequests {
    by_id: HashMap<String, (EntityId, PlanningResponse)>,
    order: VecDeque<String>,
}

/// How many upsert answers are remembered for repeats.
const REMEMBERED_REQUESTS: usize = 10_000;

impl AnsweredRequests {
    fn remember(&mut self, request_id: String, flight: EntityId, response: PlanningResponse) {
        if self.by_id.insert(request_id.clone(), (flight, response)).is_none() {
            self.order.push_back(request_id);
        }
        while self.order.len() > REMEMBERED_REQUESTS {
            if let Some(oldest) = self.order.pop_front() {
                self.by_id.remove(&oldest);
            }
        }
    }
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

fn answer(result: &'static str, notes: Option<String>, state: Option<FlightState>) -> PlanningResponse {
    PlanningResponse {
        planning_result: result.to_owned(),
        notes,
        flight_plan_status: plan_status(state).to_owned(),
        includes_advisories: "Unknown".to_owned(),
    }
}

#[utoipa::path(get, path = "/flight_planning/v1/status", tag = "InterUSS flight planning",
    responses((status = 200, description = "Ready", body = StatusResponse), crate::responses::Unauthorized, (status = 403, description = "The token lacks interuss.flight_planning.direct_automated_test", body = entente_wire::ErrorResponse)))]
pub(crate) async fn status(auth: Auth) -> Result<Json<StatusResponse>, ApiError> {
    auth.require(DIRECT)?;
    Ok(Json(StatusResponse {
        status: "Ready".to_owned(),
        api_name: "Flight Planning Automated Testing Interface".to_owned(),
        api_version: "v0.6.0".to_owned(),
    }))
}

fn live(st: &UssState, id: EntityId) -> Option<OwnFlight> {
    st.core.flights.get(id).filter(|f| f.state != FlightState::Ended)
}

/// Refusals by the rules are `Rejected`, failures of the DSS or peers `Failed`; either way the flight plan keeps
/// the status it had. A repeated request_id gets the answer the first one got.
#[utoipa::path(put, path = "/flight_planning/v1/flight_plans/{flight_plan_id}", tag = "InterUSS flight planning",
    params(("flight_plan_id" = String, Path, description = "UUIDv4 of the flight plan")), request_body = UpsertFlightPlanRequest,
    responses((status = 200, description = "The outcome: Completed, Rejected, Failed or NotSupported, and the plan's status", body = PlanningResponse),
        crate::responses::BadRequest, crate::responses::Unauthorized, (status = 403, description = "The token lacks interuss.flight_planning.plan", body = entente_wire::ErrorResponse),
        (status = 409, description = "The request_id was used for another flight plan", body = entente_wire::ErrorResponse)))]
pub(crate) async fn upsert(
    State(st): AppRef,
    auth: Auth,
    Path(id): Path<String>,
    body: Body,
) -> Result<Json<PlanningResponse>, ApiError> {
    auth.require(PLAN)?;
    let id = entity_id(&id, "flight_plan_id")?;
    let req: UpsertFlightPlanRequest = body.json()?;
    if req.request_id.is_empty() {
        return Err(ApiError::bad("request_id must not be empty"));
    }
    // Kept to answer repeats and echoed in refusals: an identifier's rules.
    crate::path_params::check_identifier("request_id", &req.request_id)?;
    let style = execution(&req.execution_style)?;
    // One guard across the repeat check and every planning step: a repeated request waits for the first to be
    // answered and gets its answer, and a plan in two steps (Accepted then Activated) is one operation on the flight.
    let held = st.core.flights.lock(id).await;
    if let Some((flight, answer)) = st.planning_requests.lock().by_id.get(&req.request_id) {
        if *flight != id {
            return Err(ApiError::Conflict(format!(
                "request_id {} was already used for flight plan {flight}",
                req.request_id
            )));
        }
        return Ok(Json(answer.clone()));
    }
    let answer = plan_upsert(&st, &held, &req.flight_plan, style).await?;
    st.planning_requests.lock().remember(req.request_id, id, answer.clone());
    Ok(Json(answer))
}

/// The F3548 state a flight plan asks for: nominal while the UAS is, Nonconforming or Contingent once in use and
/// reported so. A UAS not yet flying has no off-nominal state in F3548.
fn requested_state(info: &BasicFlightPlanInformation) -> Result<Result<FlightState, String>, ApiError> {
    let off = |state| match info.usage_state.as_str() {
        "InUse" => Ok(state),
        _ => Err(format!(
            "uas_state {} is only possible in use; F3548 has no off-nominal state for a planned flight",
            info.uas_state
        )),
    };
    let usage = match info.usage_state.as_str() {
        "Planned" => FlightState::Accepted,
        "InUse" => FlightState::Activated,
        other => {
            return Err(ApiError::bad(format!(
                "flight_plan.basic_information.usage_state {other:?} is not one of Planned, InUse, Closed"
            )));
        }
    };
    Ok(match info.uas_state.as_str() {
        "Nominal" => Ok(usage),
        "OffNominal" => off(FlightState::Nonconforming),
        "Contingent" => off(FlightState::Contingent),
        other => {
            return Err(ApiError::bad(format!(
                "flight_plan.basic_information.uas_state {other:?} is not one of Nominal, OffNominal, Contingent"
            )));
        }
    })
}

async fn plan_upsert(
    st: &Arc<UssState>,
    held: &FlightGuard,
    plan: &FlightPlan,
    style: Execution,
) -> Result<PlanningResponse, ApiError> {
    let id = held.id();
    let info = &plan.basic_information;
    let existing = live(st, id);
    let before = existing.as_ref().map(|f| f.state);
    if info.usage_state == "Closed" {
        if style == Execution::Hypothetical {
            return Ok(answer("Completed", None, Some(FlightState::Ended)));
        }
        if existing.is_some()
            && let Err(e) = st.core.end_held(held).await
        {
            return Ok(answer("Failed", Some(e.to_string()), before));
        }
        return Ok(answer("Completed", None, Some(FlightState::Ended)));
    }
    let target = match requested_state(info)? {
        Ok(target) => target,
        Err(notes) => return Ok(answer("Rejected", Some(notes), before)),
    };
    // A plan refused before reaching the planner is counted like one the planner refused.
    let bad_input = |e: ApiError| {
        st.metrics.plan(PlanOutcome::RefusedBadInput);
        answer("Rejected", Some(e.to_string()), before)
    };
    // Invalid authorisation data is the user's to correct, as the interface expects of it: a refusal, not a failure.
    let path = "flight_plan.uspace_flight_authorisation";
    let authorisation = match authorisation_of(st, plan.uspace_flight_authorisation.as_ref(), path) {
        Ok(a) => a,
        Err(e) => return Ok(bad_input(e)),
    };
    let area = match flight_volumes(&info.area, "flight_plan.basic_information.area", &st.config.dss_limits) {
        Ok(v) => v,
        Err(e) => return Ok(bad_input(e)),
    };
    let now = st.now();
    if let Err(e) = check_plan_window(&area, now) {
        return Ok(bad_input(e));
    }
    // F3548 creates every intent Accepted; a flight first planned in use is activated right after. An off-nominal
    // state is reached only from a flight already planned: this USS monitors conformance (CMSA), so an Accepted
    // flight whose UA is reported off nominal becomes Nonconforming, and Contingent by way of Nonconforming.
    let steps: Vec<FlightState> = match before {
        None if target == FlightState::Activated => vec![FlightState::Accepted, FlightState::Activated],
        None if target.is_off_nominal() => {
            let notes = format!("a new flight plan cannot start {}; plan it first", target.name());
            return Ok(answer("Rejected", Some(notes), None));
        }
        Some(FlightState::Accepted) if target == FlightState::Contingent => {
            vec![FlightState::Nonconforming, FlightState::Contingent]
        }
        _ => vec![target],
    };
    let mut from = before;
    for &step in &steps {
        if let Some(state) = from
            && let Err(e) = state.transition_monitored(step)
        {
            // Off nominal is reported, not planned: a state F3548 does not reach from here is a case this USS
            // does not handle, which the interface tells apart from a refusal by the rules.
            let result = if target.is_off_nominal() { "NotSupported" } else { "Rejected" };
            return Ok(answer(result, Some(e.to_string()), before));
        }
        from = Some(step);
    }
    let priority = match priority(
        plan.astm_f3548_21.as_ref().map_or(0, |a| a.priority),
        "flight_plan.astm_f3548_21.priority",
    ) {
        Ok(p) => p,
        Err(e) => return Ok(answer("NotSupported", Some(e.to_string()), before)),
    };
    // Off nominal, the area is where the UAS may now be: a Nonconforming flight keeps the volumes it had, a
    // Contingent one has only off-nominal volumes (F3548).
    let kept = existing.map(|f| f.volumes).unwrap_or_default();
    for state in steps {
        let (volumes, off_nominal) = match state {
            FlightState::Nonconforming => (kept.clone(), area.clone()),
            FlightState::Contingent => (Vec::new(), area.clone()),
            _ => (area.clone(), Vec::new()),
        };
        // The interface plans for a test driver, not an operator: no operator's list is kept from its flights.
        let proposal = Proposal {
            volumes,
            off_nominal,
            priority,
            state,
            reason: Reason::Injected,
            now,
            operator: None,
            route: None,
            limits: Default::default(),
            authorisation: authorisation.clone(),
        };
        let outcome = match style {
            Execution::Hypothetical => st.core.check(id, &proposal).await,
            Execution::IfAllowed | Execution::InReality => {
                operator::counted(st, st.core.plan_held(held, proposal).await)
            }
        };
        match outcome {
            Ok(()) => {}
            Err(e @ (UssError::Call(CallError::Failed(_)) | UssError::Store(_))) => {
                return Ok(answer("Failed", Some(e.to_string()), live(st, id).map(|f| f.state)));
            }
            Err(e) => return Ok(answer("Rejected", Some(e.to_string()), live(st, id).map(|f| f.state))),
        }
    }
    // A hypothetical answer describes the plan it was asked about, not the flight plan as it stays. Its advisories
    // are those the operator API would show: the zones of the imported data sets the area enters.
    let mut done = answer("Completed", None, Some(target));
    done.includes_advisories = if st.core.zones.advice(&area).is_empty() {
        "NoAdvisoriesOrConditions"
    } else {
        "AtLeastOneAdvisoryOrCondition"
    }
    .to_owned();
    Ok(done)
}

#[utoipa::path(delete, path = "/flight_planning/v1/flight_plans/{flight_plan_id}", tag = "InterUSS flight planning",
    params(("flight_plan_id" = String, Path, description = "UUIDv4 of the flight plan")),
    responses((status = 200, description = "Closed, or Failed with the plan's status", body = PlanningResponse),
        crate::responses::BadRequest, crate::responses::Unauthorized, (status = 403, description = "The token lacks interuss.flight_planning.plan or interuss.flight_planning.direct_automated_test", body = entente_wire::ErrorResponse),
        (status = 404, description = "No such live flight plan", body = entente_wire::ErrorResponse)))]
pub(crate) async fn delete(
    State(st): AppRef,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Json<PlanningResponse>, ApiError> {
    // The interface's schema asks for the direct-test scope, while InterUSS's own client and mock_uss delete with
    // the planning one, as a user ending a flight would.
    auth.require_any(&[PLAN, DIRECT])?;
    let id = entity_id(&id, "flight_plan_id")?;
    // Held from the check to the end, so a flight ended meanwhile is not found rather than failing to end.
    let held = st.core.flights.lock(id).await;
    let Some(flight) = live(&st, id) else {
        return Err(ApiError::NotFound(format!("flight plan {id}: not found")));
    };
    match st.core.end_held(&held).await {
        Ok(()) => Ok(Json(answer("Completed", None, Some(FlightState::Ended)))),
        Err(e) => Ok(Json(answer("Failed", Some(e.to_string()), Some(flight.state)))),
    }
}

/// Ends every flight of this USS that meets the extent.
#[utoipa::path(post, path = "/flight_planning/v1/clear_area_requests", tag = "InterUSS flight planning",
    request_body = ClearAreaRequest,
    responses((status = 200, description = "Whether every flight there ended", body = ClearAreaResponse),
        crate::responses::BadRequest, crate::responses::Unauthorized, (status = 403, description = "The token lacks interuss.flight_planning.direct_automated_test", body = entente_wire::ErrorResponse)))]
pub(crate) async fn clear_area(
    State(st): AppRef,
    auth: Auth,
    body: Body,
) -> Result<Json<ClearAreaResponse>, ApiError> {
    auth.require(DIRECT)?;
    let req: ClearAreaRequest = body.json()?;
    let extent = [volume_in(&req.extent, "extent", MAX_VERTICES)?];
    let inside: Vec<EntityId> = st.core.flights.read(|flights| {
        flights
            .iter()
            .filter(|(_, f)| f.state != FlightState::Ended)
            .filter(|(_, f)| {
                volumes_intersect(&extent, &f.volumes) || volumes_intersect(&extent, &f.off_nominal)
            })
            .map(|(id, _)| *id)
            .collect()
    });
    let mut failures = Vec::new();
    for id in inside {
        let held = st.core.flights.lock(id).await;
        // Ended by someone else while this request waited.
        if live(&st, id).is_none() {
            continue;
        }
        if let Err(e) = st.core.end_held(&held).await {
            failures.push(format!("{id}: {e}"));
        }
    }
    let success = failures.is_empty();
    Ok(Json(ClearAreaResponse {
        outcome: ClearAreaOutcome { success, message: (!success).then(|| failures.join("; ")) },
    }))
}

fn instant(params: &HashMap<String, String>, name: &str) -> Result<Option<DateTime<Utc>>, ApiError> {
    Ok(params.get(name).map(|t| parse_rfc3339(t, name)).transpose()?)
}

/// The conflicts this USS's operators were told of between `after` and `before` (default now; never later, so
/// nothing is reported from the future): those their flights caused (SCD0090) and those that reached their
/// flights (SCD0095), each with the number of conflicting intents.
#[utoipa::path(get, path = "/flight_planning/v1/user_notifications", tag = "InterUSS flight planning",
    params(("after" = String, Query, description = "RFC 3339: notifications observed from then on"),
        ("before" = Option<String>, Query, description = "RFC 3339: observed until then (default and latest: now)")),
    responses((status = 200, description = "The notifications observed in the window", body = QueryUserNotificationsResponse),
        crate::responses::BadRequest, crate::responses::Unauthorized, (status = 403, description = "The token lacks interuss.flight_planning.plan", body = entente_wire::ErrorResponse)))]
pub(crate) async fn user_notifications(
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
    let now = st.now();
    let before = before.map_or(now, |b| b.min(now));
    let user_notifications = st
        .core
        .notices()
        .iter()
        .filter(|n| (after..=before).contains(&n.observed_at))
        .map(|n| UserNotification {
            observed_at: time_out(n.observed_at),
            conflicts: match n.conflicting.len() {
                0 => "None",
                1 => "Single",
                _ => "Multiple",
            }
            .to_owned(),
            message: n.message.clone(),
        })
        .collect();
    Ok(Json(QueryUserNotificationsResponse { user_notifications }))
}
