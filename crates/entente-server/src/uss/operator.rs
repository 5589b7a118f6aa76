//! The operator API: submit a flight, list the operator's flights, read one's status (with the history of its
//! states), activate it, report its telemetry, end it.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use entente_dss::{EntityId, WriteKind};
use entente_geo::Interval;
use entente_geo::LatLng;
use entente_uss::authorisation::FlightAuthorisation;
use entente_uss::geoawareness::ZoneSets;
use entente_uss::service::{CONSTRAINT_PRIORITY, OwnFlight, Proposal, Published};
use entente_uss::{
    EventKind, FlightState, OperatorLimits, Priority, Reason, Route, Timestamp, UssError, Volume,
    route_volumes,
};
use entente_wire::interuss::flight_planning::FlightAuthorisationData;
use entente_wire::operator::{
    FlightList, FlightRequest, FlightStateChange, FlightStatus, PlanConflictResponse, PlanLimits,
    PlannedInstead, RouteRequest,
};
use entente_wire::uss::VehicleTelemetry;
use entente_wire::uss_core::{authorisation_in, plan_conflict_out, telemetry_in, telemetry_out, zone_out};
use entente_wire::{altitude_in, parse_rfc3339, time_in, time_out, volume_out};
use serde::Deserialize;

use super::UssState;
use super::input::{self, flight_volumes};
use super::log_sets::PositionNote;
use crate::error::ApiError;
use crate::extract::{Auth, Body, entity_id};
use crate::metrics::PlanOutcome;
use crate::routes::Routes;

/// The scope an operator's token must carry; peers' F3548 scopes do not open this API.
pub(crate) const OPERATOR_SCOPE: &str = "entente.operator";

type AppRef = State<Arc<UssState>>;
type Status = Result<Json<FlightStatus>, ApiError>;

pub(crate) fn routes() -> Routes<Arc<UssState>> {
    Routes::new()
        .post("/operator/v1/flights", submit)
        .get("/operator/v1/flights", list)
        .get("/operator/v1/flights/{id}", status)
        .post("/operator/v1/flights/{id}/activate", activate)
        .post("/operator/v1/flights/{id}/telemetry", telemetry)
        .post("/operator/v1/flights/{id}/end", end)
}

/// F3548's OiMaxPlanHorizon: no operational intent may start further ahead than this (OPIN0030).
pub(super) const OI_MAX_PLAN_HORIZON: chrono::TimeDelta = chrono::TimeDelta::days(30);

/// Refuses a flight the DSS must not be asked to hold: one that starts beyond OiMaxPlanHorizon (OPIN0030), or
/// that has already ended, so that a wrong clock or a stale request is refused here rather than flown.
pub(super) fn check_plan_window(volumes: &[Volume], now: DateTime<Utc>) -> Result<(), ApiError> {
    let start = volumes.iter().filter_map(|v| v.time.lo).min();
    let end = volumes.iter().filter_map(|v| v.time.hi).max();
    if let Some(start) = start
        && start > now + OI_MAX_PLAN_HORIZON
    {
        return Err(ApiError::bad(format!(
            "the flight starts at {start}, more than {} days ahead (F3548 OiMaxPlanHorizon)",
            OI_MAX_PLAN_HORIZON.num_days()
        )));
    }
    if let Some(end) = end
        && end <= now
    {
        return Err(ApiError::bad(format!("the flight ended at {end}, before now ({now})")));
    }
    Ok(())
}

/// An operator's priority; the highest value is kept for constraints, which nothing may conflict with.
pub(super) fn priority(value: i32, path: &str) -> Result<Priority, ApiError> {
    if Priority(value) >= CONSTRAINT_PRIORITY {
        return Err(ApiError::bad(format!(
            "{path} must be below {}, which marks constraints",
            CONSTRAINT_PRIORITY.0
        )));
    }
    Ok(Priority(value))
}

fn route_in(r: &RouteRequest) -> Result<Route, ApiError> {
    let route = Route {
        waypoints: r.waypoints.iter().map(|p| LatLng::new(p.lat, p.lng)).collect(),
        buffer_m: r.buffer_m,
        altitude: Interval {
            lo: Some(altitude_in(&r.altitude_lower, "route.altitude_lower")?),
            hi: Some(altitude_in(&r.altitude_upper, "route.altitude_upper")?),
        },
        time: Interval {
            lo: Some(time_in(&r.time_start, "route.time_start")?),
            hi: Some(time_in(&r.time_end, "route.time_end")?),
        },
    };
    if route.altitude.lo > route.altitude.hi || route.time.lo >= route.time.hi {
        return Err(ApiError::bad(
            "route: altitude_lower must not exceed altitude_upper, and time_start must precede time_end",
        ));
    }
    Ok(route)
}

/// Where flight `id` stands, with the advice of the zones in `zones` it enters.
fn status_of(id: EntityId, f: &OwnFlight, zones: &ZoneSets) -> FlightStatus {
    let reference = f.published.as_ref().map(|i| &i.reference);
    FlightStatus {
        id: id.to_string(),
        state: f.state.name().to_owned(),
        priority: f.priority.0,
        volumes: f.volumes.iter().map(volume_out).collect(),
        off_nominal_volumes: f.off_nominal.iter().map(volume_out).collect(),
        ovn: reference.and_then(|r| r.ovn.clone()),
        version: reference.map(|r| r.version),
        alerts: f.alerts.clone(),
        state_reason: f.history.last().map(|c| c.reason.clone()),
        history: f
            .history
            .iter()
            .map(|c| FlightStateChange {
                time: time_out(c.time),
                state: c.state.name().to_owned(),
                reason: c.reason.clone(),
            })
            .collect(),
        planned_instead: None,
        advisories: zones.advice(&f.volumes).iter().map(zone_out).collect(),
    }
}

/// The time window of a list's `time_start` and `time_end` filters, each optional (RFC 3339).
pub(super) fn window(
    time_start: Option<&str>,
    time_end: Option<&str>,
) -> Result<Interval<Timestamp>, ApiError> {
    let lo = time_start.map(|t| parse_rfc3339(t, "time_start")).transpose()?;
    let hi = time_end.map(|t| parse_rfc3339(t, "time_end")).transpose()?;
    if let (Some(lo), Some(hi)) = (lo, hi)
        && hi < lo
    {
        return Err(ApiError::bad(format!("time_end ({hi}) must not precede time_start ({lo})")));
    }
    Ok(Interval { lo, hi })
}

/// Whether any of the volumes is in force at some moment of `window`, and when the first starts (for sorting).
pub(super) fn in_window(volumes: &[Volume], window: &Interval<Timestamp>) -> Option<Option<Timestamp>> {
    volumes.iter().any(|v| v.time.overlaps(window)).then(|| volumes.iter().filter_map(|v| v.time.lo).min())
}

/// A list's filters, or a 400 in this API's error format (axum's own rejection is plain text).
pub(super) fn filters<T>(query: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    query.map(|Query(q)| q).map_err(|e| ApiError::bad(format!("query string: {}", e.body_text())))
}

/// The filters of `GET /operator/v1/flights`, each optional.
#[derive(Deserialize)]
pub(crate) struct FlightQuery {
    state: Option<String>,
    time_start: Option<String>,
    time_end: Option<String>,
}

/// The id of a flight this USS holds: an unknown one answers 404 before its request is read or counted. The core's
/// operation then takes the flight's lock itself.
fn flight(st: &UssState, id: &str) -> Result<EntityId, ApiError> {
    let id = entity_id(id, "id")?;
    st.core.flights.get(id).ok_or(UssError::NoSuchFlight(id))?;
    Ok(id)
}

fn current(st: &UssState, id: EntityId) -> Status {
    let f = st.core.flights.get(id).ok_or(UssError::NoSuchFlight(id))?;
    Ok(Json(status_of(id, &f, &st.core.zones)))
}

/// Counts a plan's outcome in the USS's metrics.
pub(super) fn counted(st: &UssState, planned: Result<Published, UssError>) -> Result<(), UssError> {
    let planned = planned.map(|_| ());
    st.metrics.plan(PlanOutcome::of(&planned));
    planned
}

/// Plans a new flight in Accepted. A conflict answers 409 with the alternatives, each a request to submit as is.
#[utoipa::path(post, path = "/operator/v1/flights", tag = "Operator", request_body = FlightRequest,
    responses((status = 201, description = "Planned and Accepted", body = FlightStatus), crate::responses::BadRequest, crate::responses::Unauthorized, (status = 403, description = "The token lacks the entente.operator scope, or the priority is not granted to this operator by the USS's priority policy (the message names the levels it may use)", body = entente_wire::ErrorResponse), (status = 409, description = "The flight conflicts (with alternatives), or is in a state that does not allow this", body = PlanConflictResponse), (status = 413, description = "The DSS refused the area as too large", body = entente_wire::ErrorResponse), (status = 502, description = "The DSS or a peer could not be reached or failed", body = entente_wire::ErrorResponse)))]
pub(crate) async fn submit(
    State(st): AppRef,
    auth: Auth,
    body: Body,
) -> Result<(StatusCode, Json<FlightStatus>), ApiError> {
    auth.require(OPERATOR_SCOPE)?;
    let req: FlightRequest = body.json()?;
    // A plan refused for its own input is counted like one the planner refused for it.
    let proposal =
        proposal_of(&st, &auth, &req).inspect_err(|_| st.metrics.plan(PlanOutcome::RefusedBadInput))?;
    let id = entity_id(&uuid::Uuid::new_v4().to_string(), "id")?;
    let planned_instead = match counted(&st, st.core.plan(id, proposal).await) {
        Ok(()) => None,
        // Plan the best it can: the cheapest alternative, which goes through the DSS's key like any plan, so a
        // change in between is a fresh 409 with fresh alternatives.
        Err(UssError::Conflict(refused)) if req.best_effort && !refused.alternatives.is_empty() => {
            let PlanConflictResponse { alternatives, conflicting_intents, .. } = plan_conflict_out(&refused);
            let alternative = alternatives.into_iter().next().expect("an alternative");
            let proposal = proposal_of(&st, &auth, &alternative.request)?;
            counted(&st, st.core.plan(id, proposal).await)?;
            Some(PlannedInstead { alternative, conflicting_intents })
        }
        Err(e) => return Err(e.into()),
    };
    let Json(mut status) = current(&st, id)?;
    status.planned_instead = planned_instead;
    Ok((StatusCode::CREATED, Json(status)))
}

/// The flight's U-space authorisation request found at `path`, checked (a 400 naming its field and rule); there
/// must be one when this USS serves U-space airspace.
pub(super) fn authorisation_of(
    st: &UssState,
    given: Option<&FlightAuthorisationData>,
    path: &str,
) -> Result<Option<FlightAuthorisation>, ApiError> {
    match given {
        Some(a) => Ok(Some(authorisation_in(a, path)?)),
        None if st.config.require_flight_authorisation => Err(ApiError::bad(format!(
            "{path} is required: this USS serves U-space airspace, where every flight needs a flight authorisation \
             (Regulation (EU) 2021/664, Article 10)"
        ))),
        None => Ok(None),
    }
}

/// The proposal an operator's request makes, or the 400 naming what in it breaks which rule.
fn proposal_of(st: &UssState, auth: &Auth, req: &FlightRequest) -> Result<Proposal, ApiError> {
    let (volumes, route) = match &req.route {
        None => (flight_volumes(&req.volumes, "volumes", &st.config.dss_limits)?, None),
        Some(_) if !req.volumes.is_empty() => return Err(ApiError::bad("give volumes or a route, not both")),
        Some(route) => {
            let route = route_in(route)?;
            let volumes = input::checked(
                route_volumes(&route)?,
                "route.segments",
                WriteKind::OperationalIntent,
                &st.config.dss_limits,
            )?;
            (volumes, Some(route))
        }
    };
    let now = st.now();
    check_plan_window(&volumes, now)?;
    let priority = priority(req.priority, "priority")?;
    let authorisation = authorisation_of(st, req.authorisation.as_ref(), "authorisation")?;
    if let Some(grants) = &st.config.priority_grants {
        grants.check(&auth.0.sub, &auth.0.scopes, priority)?;
    }
    Ok(Proposal {
        volumes,
        off_nominal: Vec::new(),
        priority,
        state: FlightState::Accepted,
        reason: Reason::Planned,
        now,
        operator: Some(auth.0.sub.clone()),
        route,
        limits: req.limits.as_ref().map(limits_in).transpose()?.unwrap_or_default(),
        authorisation,
    })
}

/// The farthest sideways an operator may let an alternative stray: the USS then learns what lies that far around,
/// in one query per volume within the DSS's area limit.
const MAX_LATERAL_M: f64 = 5_000.0;

/// An operator's limits on alternatives, or the 400 naming the bound that breaks which rule.
fn limits_in(l: &PlanLimits) -> Result<OperatorLimits, ApiError> {
    let finite = |v: Option<f64>, path: &str| match v {
        Some(x) if !x.is_finite() => Err(ApiError::bad(format!("{path} must be a finite number, got {x}"))),
        _ => Ok(v),
    };
    let limits = OperatorLimits {
        altitude_floor_m: finite(l.altitude_floor_m, "limits.altitude_floor_m")?,
        altitude_ceiling_m: finite(l.altitude_ceiling_m, "limits.altitude_ceiling_m")?,
        earliest_start: l.earliest_start.as_ref().map(|t| time_in(t, "limits.earliest_start")).transpose()?,
        latest_end: l.latest_end.as_ref().map(|t| time_in(t, "limits.latest_end")).transpose()?,
        max_lateral_m: finite(l.max_lateral_m, "limits.max_lateral_m")?,
        shape_may_change: l.shape_may_change,
    };
    if let (Some(lo), Some(hi)) = (limits.altitude_floor_m, limits.altitude_ceiling_m)
        && lo > hi
    {
        return Err(ApiError::bad("limits.altitude_floor_m must not exceed limits.altitude_ceiling_m"));
    }
    if let (Some(start), Some(end)) = (limits.earliest_start, limits.latest_end)
        && start >= end
    {
        return Err(ApiError::bad("limits.earliest_start must precede limits.latest_end"));
    }
    if let Some(reach) = limits.max_lateral_m
        && !(0.0..=MAX_LATERAL_M).contains(&reach)
    {
        return Err(ApiError::bad(format!(
            "limits.max_lateral_m must be between 0 and {MAX_LATERAL_M} metres, got {reach}"
        )));
    }
    Ok(limits)
}

#[utoipa::path(get, path = "/operator/v1/flights/{id}", tag = "Operator", params(("id" = String, Path, description = "UUIDv4 of the flight")),
    responses((status = 200, description = "The flight", body = FlightStatus), crate::responses::Unauthorized, crate::responses::NotOperator, crate::responses::NoSuchFlight))]
pub(crate) async fn status(State(st): AppRef, auth: Auth, Path(id): Path<String>) -> Status {
    auth.require(OPERATOR_SCOPE)?;
    // A read waits for no operation: it sees the flight as the last finished change left it.
    current(&st, entity_id(&id, "id")?)
}

/// The caller's flights (and those whose planner is not recorded), by start, optionally only those in `state` or
/// in force at some moment between `time_start` and `time_end`.
#[utoipa::path(get, path = "/operator/v1/flights", tag = "Operator",
    params(("state" = Option<String>, Query, description = "Only flights in this state: Accepted, Activated, Nonconforming, Contingent or Ended"),
        ("time_start" = Option<String>, Query, description = "Only flights in force at or after this instant (RFC 3339)"),
        ("time_end" = Option<String>, Query, description = "Only flights in force at or before this instant (RFC 3339)")),
    responses((status = 200, description = "The caller's flights", body = FlightList), (status = 400, description = "Invalid filter; the message names it and the rule", body = entente_wire::ErrorResponse), crate::responses::Unauthorized, crate::responses::NotOperator))]
pub(crate) async fn list(
    State(st): AppRef,
    auth: Auth,
    query: Result<Query<FlightQuery>, QueryRejection>,
) -> Result<Json<FlightList>, ApiError> {
    auth.require(OPERATOR_SCOPE)?;
    let q = filters(query)?;
    let state = q
        .state
        .as_deref()
        .map(|s| {
            FlightState::from_name(s).ok_or_else(|| {
                let names: Vec<&str> = FlightState::ALL.iter().map(|s| s.name()).collect();
                ApiError::bad(format!("state {s:?} is not one of {}", names.join(", ")))
            })
        })
        .transpose()?;
    let window = window(q.time_start.as_deref(), q.time_end.as_deref())?;
    let caller = &auth.0.sub;
    let mut found: Vec<(Option<Timestamp>, FlightStatus)> = st.core.flights.read(|flights| {
        flights
            .iter()
            .filter(|(_, f)| f.operator.as_ref().is_none_or(|o| o == caller))
            .filter(|(_, f)| state.is_none_or(|s| f.state == s))
            .filter_map(|(id, f)| {
                let volumes: Vec<Volume> = f.all_volumes().cloned().collect();
                in_window(&volumes, &window).map(|start| (start, status_of(*id, f, &st.core.zones)))
            })
            .collect()
    });
    found.sort_by(|a, b| (a.0, &a.1.id).cmp(&(b.0, &b.1.id)));
    Ok(Json(FlightList { flights: found.into_iter().map(|(_, f)| f).collect() }))
}

/// Activation needs the full key like acceptance did, so it plans again against the airspace as it now is. A
/// flight activated before its start starts now (at the DSS too), so that it conforms from its first position; one
/// whose volumes have all ended is refused (409).
#[utoipa::path(post, path = "/operator/v1/flights/{id}/activate", tag = "Operator", params(("id" = String, Path, description = "UUIDv4 of the flight")),
    responses((status = 200, description = "Activated", body = FlightStatus), crate::responses::Unauthorized, crate::responses::NotOperator, crate::responses::NoSuchFlight, (status = 409, description = "The flight conflicts (with alternatives), or is in a state that does not allow this", body = PlanConflictResponse), crate::responses::DssOrPeerFailed))]
pub(crate) async fn activate(State(st): AppRef, auth: Auth, Path(id): Path<String>) -> Status {
    auth.require(OPERATOR_SCOPE)?;
    let id = flight(&st, &id)?;
    let activated = st.core.activate(id).await.map(|_| ());
    st.metrics.plan(PlanOutcome::of(&activated));
    activated?;
    current(&st, id)
}

/// Judges the fix against the intent; a change of state is written to the DSS and announced to subscribers,
/// with an off-nominal volume around the aircraft.
#[utoipa::path(post, path = "/operator/v1/flights/{id}/telemetry", tag = "Operator", params(("id" = String, Path, description = "UUIDv4 of the flight")), request_body = VehicleTelemetry,
    responses((status = 200, description = "The flight after judging the fix", body = FlightStatus), crate::responses::BadRequest, crate::responses::Unauthorized, crate::responses::NotOperator, crate::responses::NoSuchFlight, (status = 409, description = "The flight conflicts (with alternatives), or is in a state that does not allow this", body = PlanConflictResponse), crate::responses::DssOrPeerFailed))]
pub(crate) async fn telemetry(State(st): AppRef, auth: Auth, Path(id): Path<String>, body: Body) -> Status {
    auth.require(OPERATOR_SCOPE)?;
    let id = flight(&st, &id)?;
    let report: VehicleTelemetry = body.json()?;
    let report = telemetry_in(&report)?;
    let taken = |now: Timestamp, t: &entente_uss::service::Telemetry| {
        let note = PositionNote {
            operational_intent_id: id.to_string(),
            time_received: time_out(now),
            telemetry: telemetry_out(t),
        };
        st.audit.note(now, EventKind::Position, &note);
        super::rid::reported(&st, &id.to_string(), super::rid::operator_fix(t));
    };
    st.core.telemetry(id, report, taken).await?;
    current(&st, id)
}

#[utoipa::path(post, path = "/operator/v1/flights/{id}/end", tag = "Operator", params(("id" = String, Path, description = "UUIDv4 of the flight")),
    responses((status = 200, description = "Ended", body = FlightStatus), crate::responses::Unauthorized, crate::responses::NotOperator, crate::responses::NoSuchFlight, (status = 409, description = "The flight conflicts (with alternatives), or is in a state that does not allow this", body = PlanConflictResponse), crate::responses::DssOrPeerFailed))]
pub(crate) async fn end(State(st): AppRef, auth: Auth, Path(id): Path<String>) -> Status {
    auth.require(OPERATOR_SCOPE)?;
    let id = flight(&st, &id)?;
    st.core.end(id).await?;
    current(&st, id)
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, TimeDelta, TimeZone, Utc};
    use entente_geo::{Circle, Interval, LatLng, Outline};
    use entente_uss::Volume;

    use super::{OI_MAX_PLAN_HORIZON, check_plan_window};

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2030, 1, 1, 12, 0, 0).single().unwrap()
    }

    fn volume(start: TimeDelta, end: TimeDelta) -> Volume {
        Volume {
            outline: Outline::Circle(Circle::new(LatLng::new(46.5, 7.5), 200.0).unwrap()),
            altitude: Interval { lo: Some(0.0), hi: Some(100.0) },
            time: Interval { lo: Some(now() + start), hi: Some(now() + end) },
        }
    }

    #[test]
    fn flights_beyond_the_plan_horizon_are_refused() {
        let far = OI_MAX_PLAN_HORIZON + TimeDelta::days(2);
        let err = check_plan_window(&[volume(far, far + TimeDelta::hours(1))], now()).unwrap_err();
        assert!(err.to_string().contains("OiMaxPlanHorizon"), "{err}");
        // The horizon bounds the flight's start: a near volume makes the whole flight near.
        let near = volume(TimeDelta::minutes(5), TimeDelta::hours(1));
        check_plan_window(&[volume(far, far + TimeDelta::hours(1)), near.clone()], now()).unwrap();
        let edge = OI_MAX_PLAN_HORIZON;
        check_plan_window(&[volume(edge, edge + TimeDelta::hours(1))], now()).unwrap();
        check_plan_window(&[near], now()).unwrap();
    }

    #[test]
    fn flights_already_ended_are_refused() {
        let ended = volume(-TimeDelta::minutes(10), -TimeDelta::seconds(6));
        let err = check_plan_window(std::slice::from_ref(&ended), now()).unwrap_err();
        assert!(err.to_string().contains("ended"), "{err}");
        // A flight under way keeps its past volumes.
        check_plan_window(&[ended, volume(-TimeDelta::seconds(6), TimeDelta::minutes(10))], now()).unwrap();
    }
}
