//! The F3548 planning loop for this USS's flights: query the DSS, learn every intersecting intent's details,
//! decide locally, write with the complete key (again, with what was missing, after a 409), publish and notify.

use std::collections::HashSet;
use std::sync::Arc;

use entente_dss::{EntityId, Scope};
use entente_geo::{Circle, Interval, LatLng, Outline, distance_m};
use entente_uss::{
    Alternative, CostWeights, EventKind, FlightState, Intent, Lateral, OperatorLimits, Priority, Reason,
    Route, SearchSpace, Timestamp, UssError, Volume, alternatives, blocking_intents, record_change,
    volumes_intersect,
};
use entente_wire::operator::{
    AlternativePlan, FlightRequest, PlanConflictResponse, PlanLimits, RouteRequest,
};
use entente_wire::scd::{
    ConstraintReference, ExchangeRecord, ImplicitSubscriptionParameters, NULL_SUBSCRIPTION,
    OperationalIntentReference, PutOperationalIntentReferenceParameters, UssAvailabilityState,
};
use entente_wire::uss::{Constraint, OperationalIntent, OperationalIntentDetails, PlanningRecord};
use entente_wire::{LatLngPoint, time_in, time_out, volume_out, volumes_in};

use super::dss_client::{self, PutOutcome};
use super::{MAX_VERTICES, OwnFlight, UssState, peers, uss_api};
use crate::error::ApiError;
use crate::metrics::PlanOutcome;
use crate::scd::{CMSA, CP, SC};

/// Records one planning attempt in the audit chain, for the log set (F3548 `PlanningRecord`).
fn attempted(
    st: &UssState,
    id: &str,
    ovns: Vec<String>,
    missing: (Vec<String>, Vec<String>),
    problem: Option<String>,
) {
    let now = st.now();
    let record = PlanningRecord {
        time: time_out(now),
        ovns,
        missing_operational_intents: missing.0,
        missing_constraints: missing.1,
        operational_intent_id: id.to_owned(),
        problem,
    };
    st.audit.note(now, EventKind::PlanningAttempt, &record);
}

/// Rounds of "the DSS named intents we did not know, fetch them and write again" before giving up.
const MAX_WRITE_ATTEMPTS: usize = 3;

/// What a flight should become at the DSS, and why.
pub(crate) struct Proposal {
    pub volumes: Vec<Volume>,
    pub off_nominal: Vec<Volume>,
    pub priority: Priority,
    pub state: FlightState,
    /// Why the flight takes `state`, recorded in its history when the state changes.
    pub reason: Reason,
    /// When the change was asked for: its time in the flight's history.
    pub now: Timestamp,
    /// Who plans a new flight (the `sub` of the operator's token); an existing flight keeps its planner.
    pub operator: Option<String>,
    /// The route `volumes` were made from, when the operator gave one: an alternative may fly it around what
    /// blocks it.
    pub route: Option<Route>,
    /// What the operator accepts of an alternative.
    pub limits: OperatorLimits,
}

/// An intent or constraint known with its details and the OVN that proves it to the DSS. This USS's
/// subscriptions hear of constraints, so the DSS asks for constraint OVNs in the key too.
struct Known {
    intent: Intent,
    ovn: Option<String>,
}

/// Constraints outrank every operational intent: no priority may conflict with a restricted zone.
pub(crate) const CONSTRAINT_PRIORITY: Priority = Priority(i32::MAX);

/// Creates or updates flight `id` at the DSS; returns the intent as the DSS accepted it, now served to peers.
/// Nominal states are deconflicted first (a conflict is a 409 carrying alternatives); off-nominal ones are
/// written as flown, without a key, as F3548 allows. Every outcome is counted in the USS's metrics.
pub(crate) async fn plan(
    st: &Arc<UssState>,
    id: EntityId,
    p: Proposal,
) -> Result<OperationalIntent, ApiError> {
    let planned = write(st, id, p).await;
    st.metrics.plan(PlanOutcome::of(&planned));
    planned
}

async fn write(st: &Arc<UssState>, id: EntityId, p: Proposal) -> Result<OperationalIntent, ApiError> {
    let previous = st.flights.lock().get(&id).and_then(|f| f.published.as_ref().map(|i| i.reference.clone()));
    let id_text = id.to_string();
    let (mut known, flown) = match decide(st, id, &p).await {
        Ok(decided) => decided,
        Err(e) => {
            attempted(st, &id_text, Vec::new(), (Vec::new(), Vec::new()), Some(e.to_string()));
            return Err(e);
        }
    };
    let _writing = Writing::new(st, id, &p);
    let extents: Vec<_> = p.volumes.iter().chain(&p.off_nominal).map(volume_out).collect();
    let subscription_id =
        previous.as_ref().map(|r| r.subscription_id.clone()).filter(|s| s != NULL_SUBSCRIPTION);
    let new_subscription = subscription_id.is_none().then(|| ImplicitSubscriptionParameters {
        uss_base_url: st.config.base_url.clone(),
        notify_for_constraints: Some(true),
    });
    // Constraint processing (CP) is what lets the implicit subscription hear of constraints.
    let scopes: &[Scope] = if p.state.is_off_nominal() { &[CMSA] } else { &[SC, CP] };
    let ovn = previous.as_ref().and_then(|r| r.ovn.clone());
    for _ in 0..MAX_WRITE_ATTEMPTS {
        let params = PutOperationalIntentReferenceParameters {
            extents: extents.clone(),
            key: Some(known.iter().filter_map(|k| k.ovn.clone()).collect()),
            state: dss_state(p.state)?,
            uss_base_url: st.config.base_url.clone(),
            subscription_id: subscription_id.clone(),
            new_subscription: new_subscription.clone(),
            requested_ovn_suffix: None,
        };
        let key = params.key.clone().unwrap_or_default();
        let outcome = dss_client::put_intent(st, &id_text, ovn.as_deref(), &params, scopes).await;
        match outcome {
            Err(e) => {
                attempted(st, &id_text, key, (Vec::new(), Vec::new()), Some(e.to_string()));
                return Err(e);
            }
            Ok(PutOutcome::Done(change)) => {
                attempted(st, &id_text, key, (Vec::new(), Vec::new()), None);
                // SCD0090: a flight planned over intents it may conflict with (lower priority, or equal where the
                // policy permits) tells its own operator of the conflicts; a higher priority one it meets can only
                // be a conflict it already had (SCD0030), not one it causes.
                let caused: Vec<&Intent> = known
                    .iter()
                    .map(|k| &k.intent)
                    .filter(|i| i.id != id_text && i.priority <= p.priority)
                    .filter(|i| volumes_intersect(&i.volumes, &p.volumes))
                    .collect();
                let caused_ids: Vec<String> = caused.iter().map(|i| i.id.clone()).collect();
                // Those that are this USS's own flights have their operators here: they hear of it (SCD0095) as
                // they would from a peer's notification, which this USS does not send itself.
                let own_hit: Vec<EntityId> = {
                    let flights = st.flights.lock();
                    caused_ids
                        .iter()
                        .filter_map(|c| EntityId::parse(c))
                        .filter(|c| flights.get(c).is_some_and(|f| f.state != FlightState::Ended))
                        .collect()
                };
                let alert = (!caused.is_empty()).then(|| {
                    let alert = format!(
                        "this flight conflicts with operational intent(s) {} of lower or equal priority",
                        caused_ids.join(", ")
                    );
                    st.notify_operators("SCD0090", caused_ids.clone(), alert.clone(), st.now());
                    alert
                });
                let intent = OperationalIntent {
                    reference: change.operational_intent_reference,
                    details: OperationalIntentDetails {
                        volumes: p.volumes.iter().map(volume_out).collect(),
                        off_nominal_volumes: p.off_nominal.iter().map(volume_out).collect(),
                        priority: p.priority.0,
                    },
                };
                st.change_flights(&[id], |flights| {
                    let flight = flights.entry(id).or_insert_with(|| OwnFlight {
                        priority: p.priority,
                        state: p.state,
                        volumes: Vec::new(),
                        off_nominal: Vec::new(),
                        published: None,
                        nonconforming_since: None,
                        telemetry: None,
                        alerts: Vec::new(),
                        history: Vec::new(),
                        operator: p.operator,
                    });
                    record_change(&mut flight.history, p.now, p.state, &p.reason);
                    flight.priority = p.priority;
                    flight.state = p.state;
                    flight.volumes = p.volumes;
                    flight.off_nominal = p.off_nominal;
                    flight.published = Some(intent.clone());
                    flight.alerts.extend(alert);
                })
                .await;
                uss_api::alert_flights(st, &own_hit, uss_api::intent_alert(&intent), id_text.clone()).await;
                peers::notify(st, change.subscribers, &id_text, Some(intent.clone())).await;
                return Ok(intent);
            }
            Ok(PutOutcome::Missing { intents, constraints }) => {
                let missing = (
                    intents.iter().map(|r| r.id.clone()).collect(),
                    constraints.iter().map(|c| c.id.clone()).collect(),
                );
                attempted(
                    st,
                    &id_text,
                    key,
                    missing,
                    Some("the DSS refused the key: entities were missing".into()),
                );
                // An entity already known is named again when it changed since: its OVN went stale, so it is
                // learnt afresh like the ones the query missed.
                let intents: Vec<_> = intents.into_iter().filter(|r| r.id != id_text).collect();
                known.retain(|k| {
                    !intents.iter().any(|r| r.id == k.intent.id)
                        && !constraints.iter().any(|c| c.id == k.intent.id)
                });
                known.extend(learn(st, intents, &p.volumes).await?);
                known.extend(learn_constraints(st, constraints).await?);
                if let Some(refused) = conflicts(st, &p, &known, flown.as_deref()) {
                    return Err(refuse(st, id, &p, &known, refused).await);
                }
            }
        }
    }
    Err(ApiError::Upstream(format!(
        "the DSS kept refusing the key for {id_text} after {MAX_WRITE_ATTEMPTS} attempts; airspace is changing fast"
    )))
}

/// Marks flight `id` as being written to the DSS with proposal `p` until dropped (the flight is then recorded, or
/// the write failed and the DSS does not hold it).
struct Writing<'a> {
    st: &'a UssState,
    id: EntityId,
}

impl<'a> Writing<'a> {
    fn new(st: &'a UssState, id: EntityId, p: &Proposal) -> Writing<'a> {
        let volumes = p.volumes.iter().chain(&p.off_nominal).cloned().collect();
        st.writing.lock().insert(id, (p.priority, volumes));
        Writing { st, id }
    }
}

impl Drop for Writing<'_> {
    fn drop(&mut self) {
        self.st.writing.lock().remove(&self.id);
    }
}

/// Whether `p` could be planned now: everything `plan` does before writing to the DSS, for a user asking what
/// would happen. Nothing is written and nobody is notified.
pub(crate) async fn check(st: &Arc<UssState>, id: EntityId, p: &Proposal) -> Result<(), ApiError> {
    decide(st, id, p).await.map(|_| ())
}

/// Learns every intent and constraint a nominal proposal must be deconflicted with and refuses it if it conflicts;
/// returns them, and the volumes an Activated flight flew before this change. Off-nominal proposals are written as
/// flown, so they learn nothing.
async fn decide(
    st: &Arc<UssState>,
    id: EntityId,
    p: &Proposal,
) -> Result<(Vec<Known>, Option<Vec<Volume>>), ApiError> {
    // SCD0030: an Activated flight may be changed while conflicts it already had persist, so its operator can
    // share a way out of a higher priority flight that came over it; so may a Nonconforming one back in its
    // volumes, which flies them again.
    let flown: Option<Vec<Volume>> = st
        .flights
        .lock()
        .get(&id)
        .filter(|f| {
            matches!(f.state, FlightState::Activated | FlightState::Nonconforming)
                && p.state == FlightState::Activated
        })
        .map(|f| f.volumes.clone());
    if p.state.is_off_nominal() {
        return Ok((Vec::new(), flown));
    }
    let (refs, constraints) = query(st, &p.volumes, &id.to_string()).await?;
    let mut known = learn(st, refs, &p.volumes).await?;
    known.extend(learn_constraints(st, constraints).await?);
    if let Some(refused) = conflicts(st, p, &known, flown.as_deref()) {
        return Err(refuse(st, id, p, &known, refused).await);
    }
    Ok((known, flown))
}

/// Every intent and constraint within `reach` metres sideways of the proposal that `known` lacks, with its
/// details: where a sideways alternative may lead.
async fn learn_around(
    st: &Arc<UssState>,
    id: EntityId,
    p: &Proposal,
    known: &[Known],
    reach: f64,
) -> Result<Vec<Known>, ApiError> {
    let wide: Vec<Volume> = p.volumes.iter().map(|v| widened(v, reach)).collect::<Result<_, _>>()?;
    let (refs, constraints) = query(st, &wide, &id.to_string()).await?;
    let have: HashSet<&str> = known.iter().map(|k| k.intent.id.as_str()).collect();
    let refs = refs.into_iter().filter(|r| !have.contains(r.id.as_str())).collect();
    let constraints = constraints.into_iter().filter(|c| !have.contains(c.id.as_str())).collect();
    let mut more = learn(st, refs, &wide).await?;
    more.extend(learn_constraints(st, constraints).await?);
    Ok(more)
}

/// A circle holding `v`'s outline and everything within `reach` metres of it, over the same altitudes and times.
fn widened(v: &Volume, reach: f64) -> Result<Volume, ApiError> {
    let (centre, radius) = match &v.outline {
        Outline::Circle(c) => (c.center(), c.radius_m()),
        Outline::Polygon(p) => {
            let n = p.vertices().len() as f64;
            let (lat, lng) = p.vertices().iter().fold((0.0, 0.0), |(a, b), q| (a + q.lat / n, b + q.lng / n));
            let centre = LatLng::new(lat, lng);
            (centre, p.vertices().iter().map(|q| distance_m(centre, *q)).fold(0.0, f64::max))
        }
    };
    let outline = Circle::new(centre, radius + reach).map_err(|e| ApiError::bad(e.to_string()))?;
    Ok(Volume { outline: Outline::Circle(outline), altitude: v.altitude, time: v.time })
}

/// Ends flight `id`: deletes its reference (when the DSS has one) and tells the subscribers.
pub(crate) async fn end(st: &Arc<UssState>, id: EntityId) -> Result<(), ApiError> {
    let (state, ovn) = {
        let flights = st.flights.lock();
        let flight = flights.get(&id).ok_or_else(|| ApiError::NotFound(format!("flight {id}: not found")))?;
        (flight.state, flight.published.as_ref().and_then(|i| i.reference.ovn.clone()))
    };
    state.transition(FlightState::Ended)?;
    let id_text = id.to_string();
    let subscribers = match ovn {
        Some(ovn) => {
            dss_client::delete_intent(st, &id_text, &ovn).await?.map_or_else(Vec::new, |c| c.subscribers)
        }
        None => Vec::new(),
    };
    st.change_flights(&[id], |flights| {
        if let Some(flight) = flights.get_mut(&id) {
            flight.state = FlightState::Ended;
            flight.published = None;
            record_change(&mut flight.history, st.now(), FlightState::Ended, &Reason::Ended);
        }
    })
    .await;
    peers::notify(st, subscribers, &id_text, None).await;
    Ok(())
}

fn dss_state(state: FlightState) -> Result<entente_wire::scd::OperationalIntentState, ApiError> {
    use entente_wire::scd::OperationalIntentState as S;
    Ok(match state {
        FlightState::Accepted => S::Accepted,
        FlightState::Activated => S::Activated,
        FlightState::Nonconforming => S::Nonconforming,
        FlightState::Contingent => S::Contingent,
        FlightState::Ended => {
            return Err(UssError::Transition { from: FlightState::Ended, to: FlightState::Ended }.into());
        }
    })
}

/// Every intent and constraint reference around the volumes, over the whole range alternatives may be shifted
/// to, so one query serves both the decision and the search. This flight's own reference is left out.
async fn query(
    st: &UssState,
    volumes: &[Volume],
    own_id: &str,
) -> Result<(Vec<OperationalIntentReference>, Vec<ConstraintReference>), ApiError> {
    let reach = st.config.alternatives.max_time_shift;
    let mut seen = HashSet::new();
    let (mut refs, mut constraints) = (Vec::new(), Vec::new());
    for v in volumes {
        let mut area = v.clone();
        area.time.lo = v.time.lo.map(|t| t - reach);
        area.time.hi = v.time.hi.map(|t| t + reach);
        area.altitude.lo = None;
        area.altitude.hi = None;
        for r in dss_client::query_intents(st, volume_out(&area)).await? {
            if r.id != own_id && seen.insert(r.id.clone()) {
                refs.push(r);
            }
        }
        for c in dss_client::query_constraints(st, volume_out(&area)).await? {
            if seen.insert(c.id.clone()) {
                constraints.push(c);
            }
        }
    }
    Ok((refs, constraints))
}

/// The volumes of every constraint: this USS's own from memory, others' from their managers. A constraint whose
/// details cannot be had stops the planning, like an intent's.
async fn learn_constraints(
    st: &Arc<UssState>,
    refs: Vec<ConstraintReference>,
) -> Result<Vec<Known>, ApiError> {
    let mut known = Vec::new();
    let mut others = Vec::new();
    for r in refs {
        let own = EntityId::parse(&r.id).and_then(|id| st.constraints.lock().get(&id).cloned());
        match own {
            Some(c) if r.manager == st.config.identity => known.push(constraint_known(c)?),
            _ => others.push(r),
        }
    }
    for (r, outcome) in peers::constraint_details(st, others).await {
        let constraint = outcome.map_err(|e| {
            ApiError::Upstream(format!(
                "cannot learn the details of constraint {} of {}: {e}",
                r.id, r.manager
            ))
        })?;
        known.push(constraint_known(constraint)?);
    }
    Ok(known)
}

fn constraint_known(c: Constraint) -> Result<Known, ApiError> {
    let volumes = volumes_in(&c.details.volumes, "constraint.details.volumes", MAX_VERTICES)?;
    let ovn = c.reference.ovn.clone();
    Ok(Known { intent: Intent { id: c.reference.id, priority: CONSTRAINT_PRIORITY, volumes }, ovn })
}

/// The details and OVN of every reference: this USS's other flights from memory (or from their proposal while
/// they are being written), peers' from their managers. A reference under this USS's identity that this USS
/// does not hold (another instance sharing its
/// credentials wrote it, or a test driver acting under them) is asked of the base URL it names, like a peer's.
/// An Accepted intent of a USS the arbiter declared Down is left out (F3548 lets others plan over it without
/// its OVN); a Down USS's intent in any other state is ranked above every priority over its whole time span
/// (SCD0010), which `volumes`, the flight being planned, stands for in space; any other intent whose details
/// cannot be had stops the planning, since it cannot be deconflicted.
async fn learn(
    st: &Arc<UssState>,
    refs: Vec<OperationalIntentReference>,
    volumes: &[Volume],
) -> Result<Vec<Known>, ApiError> {
    // A flight of this USS being written right now may already be at the DSS before it is recorded here: what
    // it proposed is what the DSS holds, so it is known from that (asking this USS for it would get a 404).
    let mine = |r: &OperationalIntentReference| -> Option<(Priority, Vec<Volume>)> {
        if r.manager != st.config.identity {
            return None;
        }
        let id = EntityId::parse(&r.id)?;
        if let Some(writing) = st.writing.lock().get(&id) {
            return Some(writing.clone());
        }
        let flights = st.flights.lock();
        let flight = flights.get(&id)?;
        Some((flight.priority, flight.volumes.iter().chain(&flight.off_nominal).cloned().collect()))
    };
    let mut known = Vec::new();
    let mut others = Vec::new();
    for r in refs {
        match (mine(&r), r.ovn.clone()) {
            (Some((priority, volumes)), Some(ovn)) => {
                known.push(Known { intent: Intent { id: r.id, priority, volumes }, ovn: Some(ovn) });
            }
            (Some(_), None) => {
                return Err(ApiError::Upstream(format!(
                    "the DSS holds intent {} under this USS's identity without showing it its OVN",
                    r.id
                )));
            }
            (None, _) => others.push(r),
        }
    }
    for (r, outcome) in peers::details(st, others).await {
        match outcome {
            Ok(intent) => {
                let d = &intent.details;
                let mut volumes = volumes_in(&d.volumes, "details.volumes", MAX_VERTICES)?;
                volumes.extend(volumes_in(
                    &d.off_nominal_volumes,
                    "details.off_nominal_volumes",
                    MAX_VERTICES,
                )?);
                let ovn = intent.reference.ovn.clone();
                known.push(Known {
                    intent: Intent { id: r.id, priority: Priority(d.priority), volumes },
                    ovn,
                });
            }
            Err(e)
                if r.uss_availability == UssAvailabilityState::Down
                    && r.state == entente_wire::scd::OperationalIntentState::Accepted =>
            {
                tracing::info!(intent = r.id, manager = r.manager, error = %e, "planning over an Accepted intent of a Down USS");
            }
            Err(e) if r.uss_availability == UssAvailabilityState::Down => {
                tracing::info!(intent = r.id, manager = r.manager, error = %e, "a Down USS's intent outranks this flight");
                let span = Interval {
                    lo: Some(time_in(&r.time_start, "time_start")?),
                    hi: Some(time_in(&r.time_end, "time_end")?),
                };
                let volumes = volumes
                    .iter()
                    .map(|v| Volume {
                        outline: v.outline.clone(),
                        altitude: Interval { lo: None, hi: None },
                        time: span,
                    })
                    .collect();
                known.push(Known {
                    intent: Intent { id: r.id, priority: CONSTRAINT_PRIORITY, volumes },
                    ovn: r.ovn,
                });
            }
            Err(e) => {
                report_unreachable(st, &r, &e).await;
                return Err(ApiError::Upstream(format!(
                    "cannot deconflict with intent {} of {}: {e}; the availability arbiter can declare that USS Down",
                    r.id, r.manager
                )));
            }
        }
    }
    Ok(known)
}

/// Tells the DSS which exchange failed, so the arbiter has the record when deciding whether that USS is Down.
/// The plan fails either way; a report that cannot be filed is only logged.
async fn report_unreachable(st: &UssState, r: &OperationalIntentReference, error: &ApiError) {
    let exchange = ExchangeRecord {
        url: peers::details_url(r),
        method: "GET".to_owned(),
        headers: None,
        recorder_role: "Client".to_owned(),
        request_time: time_out(st.now()),
        request_body: None,
        response_time: None,
        response_body: None,
        response_code: None,
        problem: Some(format!("{} did not serve the details of its intent {}: {error}", r.manager, r.id)),
        request_source: Some(st.config.identity.clone()),
    };
    if let Err(e) = dss_client::report(st, exchange).await {
        tracing::warn!(error = %e, manager = r.manager, "reporting an unreachable USS to the DSS failed");
    }
}

/// What a refused proposal meets, and every intent it was decided against.
struct Refused {
    blocking: Vec<String>,
    others: Vec<Intent>,
}

/// Whether the proposal meets an intent it may not conflict with. Conflicts the flight already had while `flown`
/// (the volumes of an Activated flight being changed) are kept.
fn conflicts(st: &UssState, p: &Proposal, known: &[Known], flown: Option<&[Volume]>) -> Option<Refused> {
    let mut intents: Vec<Intent> = known.iter().map(|k| k.intent.clone()).collect();
    if let Some(flown) = flown {
        let pre_existing: HashSet<String> = blocking_intents(flown, p.priority, &intents, st.config.policy)
            .into_iter()
            .map(|i| i.id.clone())
            .collect();
        intents.retain(|i| !pre_existing.contains(&i.id));
    }
    let blocking: Vec<String> = blocking_intents(&p.volumes, p.priority, &intents, st.config.policy)
        .into_iter()
        .map(|i| i.id.clone())
        .collect();
    (!blocking.is_empty()).then_some(Refused { blocking, others: intents })
}

/// The 409 of a refused proposal, with the alternatives found: in time and altitude among what the decision
/// knew, and sideways too (within `AlternativeSearch::max_lateral_m`) once what lies around was learned. Should
/// that fail (a peer there does not answer), only shifts in place are offered.
async fn refuse(
    st: &Arc<UssState>,
    id: EntityId,
    p: &Proposal,
    known: &[Known],
    refused: Refused,
) -> ApiError {
    let Refused { blocking, mut others } = refused;
    let mut max_lateral_m = p.limits.max_lateral_m.unwrap_or(st.config.alternatives.max_lateral_m);
    if max_lateral_m > 0.0 {
        match learn_around(st, id, p, known, max_lateral_m).await {
            Ok(more) => others.extend(more.into_iter().map(|k| k.intent)),
            Err(e) => {
                tracing::info!(error = %e, "no sideways alternatives: what lies around the flight is not known");
                max_lateral_m = 0.0;
            }
        }
    }
    let search = &st.config.alternatives;
    let space = SearchSpace {
        time_step: search.time_step,
        max_time_shift: search.max_time_shift,
        altitude_step_m: search.altitude_step_m,
        max_altitude_shift_m: search.max_altitude_shift_m,
        altitude_floor_m: search.altitude_floor_m,
        altitude_ceiling_m: search.altitude_ceiling_m,
        not_before: st.now(),
        not_after: None,
        max_lateral_m,
        lateral_step_m: 0.0,
        shape_may_change: true,
        weights: CostWeights::default(),
        max_results: search.max_results,
    }
    .limited(&OperatorLimits { max_lateral_m: Some(max_lateral_m), ..p.limits.clone() });
    let found = alternatives(&p.volumes, p.route.as_ref(), p.priority, &others, st.config.policy, &space);
    ApiError::PlanConflict(Box::new(PlanConflictResponse {
        message: format!(
            "the flight intersects {} operational intent(s) it may not conflict with; {} alternative(s) found",
            blocking.len(),
            found.len()
        ),
        conflicting_intents: blocking,
        alternatives: found.into_iter().map(|a| alternative_out(a, p)).collect(),
    }))
}

/// An alternative as the operator submits it: a detour as the route it flies (shifted like the volumes), any other
/// as its volumes.
fn alternative_out(a: Alternative, p: &Proposal) -> AlternativePlan {
    let route = match (&a.lateral, &p.route) {
        (Lateral::Detour { waypoints }, Some(r)) => {
            let at = |t: Option<Timestamp>| t.map(|t| time_out(t + a.time_shift));
            let height = |h: Option<f64>| {
                h.map(|h| entente_wire::Altitude {
                    value: h + a.altitude_shift_m,
                    reference: "W84".into(),
                    units: "M".into(),
                })
            };
            match (at(r.time.lo), at(r.time.hi), height(r.altitude.lo), height(r.altitude.hi)) {
                (Some(time_start), Some(time_end), Some(altitude_lower), Some(altitude_upper)) => {
                    Some(RouteRequest {
                        waypoints: waypoints.iter().map(|w| LatLngPoint { lat: w.lat, lng: w.lng }).collect(),
                        buffer_m: r.buffer_m,
                        altitude_lower,
                        altitude_upper,
                        time_start,
                        time_end,
                    })
                }
                _ => None,
            }
        }
        _ => None,
    };
    let volumes = if route.is_some() { Vec::new() } else { a.volumes.iter().map(volume_out).collect() };
    let limits = &p.limits;
    let limits = (*limits != OperatorLimits::default()).then(|| PlanLimits {
        altitude_floor_m: limits.altitude_floor_m,
        altitude_ceiling_m: limits.altitude_ceiling_m,
        earliest_start: limits.earliest_start.map(time_out),
        latest_end: limits.latest_end.map(time_out),
        max_lateral_m: limits.max_lateral_m,
        shape_may_change: limits.shape_may_change,
    });
    AlternativePlan {
        time_shift_seconds: a.time_shift.num_seconds(),
        altitude_shift_m: a.altitude_shift_m,
        lateral_m: a.lateral_m,
        cost: a.cost,
        request: FlightRequest { volumes, route, priority: p.priority.0, limits, best_effort: false },
    }
}
