//! The F3548 planning loop: query the DSS, learn every intersecting intent's details, decide locally, write with
//! the complete key (again, with what was missing, after the DSS named it), publish and notify.

use std::collections::HashSet;

use entente_dss::{Availability, EntityId};
use entente_geo::{Circle, Interval, LatLng, Outline, distance_m};
use futures_util::future::{join, join_all};

use super::ports::{Attempt, CallError, IntentRef, IntentWrite, Published, PutOutcome, ZoneRef};
use super::{FlightGuard, Uss};
use crate::authorisation::FlightAuthorisation;
use crate::lateral::detour_reach;
use crate::{
    Alternative, CostWeights, FlightState, Intent, OperatorLimits, Priority, Reason, Route, SearchSpace,
    Timestamp, UssError, Volume, alternatives, blocking_intents, record_change, volumes_intersect,
};

/// Rounds of "the DSS named intents we did not know, fetch them and write again" before giving up.
const MAX_WRITE_ATTEMPTS: usize = 3;

/// Constraints outrank every operational intent: no priority may conflict with a restricted zone.
pub const CONSTRAINT_PRIORITY: Priority = Priority(i32::MAX);

/// What a flight should become at the DSS, and why.
#[derive(Clone, Debug)]
pub struct Proposal {
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
    /// The U-space flight authorisation request a new flight came with, checked: an alternative is the same flight
    /// and carries it.
    pub authorisation: Option<FlightAuthorisation>,
}

/// A refused proposal: what it meets, the alternatives found, and what of the request they keep.
#[derive(Clone, Debug, PartialEq)]
pub struct Refusal {
    pub blocking: Vec<String>,
    pub alternatives: Vec<Alternative>,
    pub route: Option<Route>,
    pub priority: Priority,
    pub limits: OperatorLimits,
    pub authorisation: Option<FlightAuthorisation>,
}

impl Refusal {
    pub fn message(&self) -> String {
        format!(
            "the flight intersects {} operational intent(s) or constraint(s) it may not conflict with; {} alternative(s) found",
            self.blocking.len(),
            self.alternatives.len()
        )
    }
}

/// An intent or constraint known with its details and the OVN that proves it to the DSS. This USS's subscriptions
/// hear of constraints, so the DSS asks for constraint OVNs in the key too.
struct Known {
    intent: Intent,
    ovn: Option<String>,
}

/// What a refused proposal meets, and every intent it was decided against.
struct Refused {
    blocking: Vec<String>,
    others: Vec<Intent>,
}

/// Marks flight `id` as being written to the DSS until dropped (the flight is then recorded, or the write failed
/// and the DSS does not hold it).
struct Writing<'a> {
    uss: &'a Uss,
    id: EntityId,
}

impl Drop for Writing<'_> {
    fn drop(&mut self) {
        self.uss.flights.done_writing(self.id);
    }
}

impl Uss {
    /// Creates or updates flight `id` at the DSS under its lock; returns the intent as the DSS accepted it, now
    /// served to peers. Nominal states are deconflicted first (a conflict is [`UssError::Conflict`] with
    /// alternatives); off-nominal ones are written as flown, without a key, as F3548 allows.
    pub async fn plan(&self, id: EntityId, p: Proposal) -> Result<Published, UssError> {
        self.plan_held(&self.flights.lock(id).await, p).await
    }

    /// [`Uss::plan`] for a caller already holding the flight.
    pub async fn plan_held(&self, flight: &FlightGuard, p: Proposal) -> Result<Published, UssError> {
        let id = flight.id();
        let previous = self.flights.get(id).and_then(|f| f.published.map(|i| i.reference));
        let (mut known, flown) = match self.decide(id, &p).await {
            Ok(decided) => decided,
            Err(e) => {
                self.attempted(id, Vec::new(), (Vec::new(), Vec::new()), Some(e.to_string()));
                return Err(e);
            }
        };
        self.flights.start_writing(id, p.priority, p.volumes.iter().chain(&p.off_nominal).cloned().collect());
        let _writing = Writing { uss: self, id };
        let subscription_id = previous.as_ref().and_then(|r| r.subscription_id.clone());
        let ovn = previous.as_ref().and_then(|r| r.ovn.clone());
        for _ in 0..MAX_WRITE_ATTEMPTS {
            let key: Vec<String> = known.iter().filter_map(|k| k.ovn.clone()).collect();
            let write = IntentWrite {
                id,
                ovn: ovn.clone(),
                extents: p.volumes.iter().chain(&p.off_nominal).cloned().collect(),
                key: key.clone(),
                state: p.state,
                subscription_id: subscription_id.clone(),
            };
            match self.ports.dss.put_intent(write).await {
                Err(e) => {
                    self.attempted(id, key, (Vec::new(), Vec::new()), Some(e.to_string()));
                    return Err(e.into());
                }
                Ok(PutOutcome::Done { reference, subscribers }) => {
                    self.attempted(id, key, (Vec::new(), Vec::new()), None);
                    let intent = self.record_planned(id, &p, &known, reference).await;
                    self.ports.peers.notify(subscribers, id, Some(intent.clone())).await;
                    return Ok(intent);
                }
                Ok(PutOutcome::Missing { intents, zones }) => {
                    let missing = (
                        intents.iter().map(|r| r.id.clone()).collect(),
                        zones.iter().map(|c| c.id.clone()).collect(),
                    );
                    let problem = "the DSS refused the key: entities were missing";
                    self.attempted(id, key, missing, Some(problem.into()));
                    // An entity already known is named again when it changed since: its OVN went stale, so it is
                    // learnt afresh like the ones the query missed.
                    let own = id.to_string();
                    let intents: Vec<_> = intents.into_iter().filter(|r| r.id != own).collect();
                    known.retain(|k| {
                        !intents.iter().any(|r| r.id == k.intent.id)
                            && !zones.iter().any(|c| c.id == k.intent.id)
                    });
                    known.extend(self.learn_all(intents, zones, &p.volumes).await?);
                    if let Some(refused) = self.conflicts(&p, &known, flown.as_deref()) {
                        return Err(self.refuse(id, &p, &known, refused).await);
                    }
                }
            }
        }
        Err(CallError::Failed(format!(
            "the DSS kept refusing the key for {id} after {MAX_WRITE_ATTEMPTS} attempts; airspace is changing fast"
        ))
        .into())
    }

    /// Records what the DSS accepted, tells this USS's operators of the conflicts it causes (SCD0090) and alerts
    /// those of its own flights it reaches (SCD0095); returns the intent as peers are now served it.
    async fn record_planned(
        &self,
        id: EntityId,
        p: &Proposal,
        known: &[Known],
        reference: IntentRef,
    ) -> Published {
        // SCD0090: a flight planned over intents it may conflict with (lower priority, or equal where the policy
        // permits) tells its own operator of the conflicts; a higher priority one it meets can only be a conflict
        // it already had (SCD0030), not one it causes.
        let own = id.to_string();
        let caused: Vec<String> = known
            .iter()
            .map(|k| &k.intent)
            .filter(|i| i.id != own && i.priority <= p.priority)
            .filter(|i| volumes_intersect(&i.volumes, &p.volumes))
            .map(|i| i.id.clone())
            .collect();
        // Those that are this USS's own flights have their operators here: they hear of it (SCD0095) as they would
        // from a peer's notification, which this USS does not send itself.
        let own_hit: Vec<EntityId> = self.flights.read(|flights| {
            caused
                .iter()
                .filter_map(|c| EntityId::parse(c))
                .filter(|c| flights.get(c).is_some_and(|f| f.state != FlightState::Ended))
                .collect()
        });
        let alert = (!caused.is_empty()).then(|| {
            let alert = format!(
                "this flight conflicts with operational intent(s) {} of lower or equal priority",
                caused.join(", ")
            );
            self.notify_operators("SCD0090", caused.clone(), alert.clone());
            alert
        });
        let intent = Published {
            reference,
            volumes: p.volumes.clone(),
            off_nominal: p.off_nominal.clone(),
            priority: p.priority,
        };
        self.flights
            .change(&[id], |flights| {
                let flight = flights.entry(id).or_insert_with(|| super::OwnFlight {
                    priority: p.priority,
                    state: p.state,
                    volumes: Vec::new(),
                    off_nominal: Vec::new(),
                    published: None,
                    nonconforming_since: None,
                    telemetry: None,
                    alerts: Vec::new(),
                    history: Vec::new(),
                    operator: p.operator.clone(),
                });
                record_change(&mut flight.history, p.now, p.state, &p.reason);
                flight.priority = p.priority;
                flight.state = p.state;
                flight.volumes = p.volumes.clone();
                flight.off_nominal = p.off_nominal.clone();
                flight.published = Some(intent.clone());
                flight.alerts.extend(alert);
            })
            .await;
        self.alert_flights(&own_hit, intent_alert(&intent), own).await;
        intent
    }

    /// Whether `p` could be planned now: everything `plan` does before writing to the DSS, for a user asking what
    /// would happen. Nothing is written and nobody is notified, so it takes no lock: like any read, it sees the
    /// flight as the last finished change left it.
    pub async fn check(&self, id: EntityId, p: &Proposal) -> Result<(), UssError> {
        self.decide(id, p).await.map(|_| ())
    }

    /// Ends flight `id` under its lock: deletes its reference (when the DSS has one) and tells the subscribers.
    pub async fn end(&self, id: EntityId) -> Result<(), UssError> {
        self.end_held(&self.flights.lock(id).await).await
    }

    /// [`Uss::end`] for a caller already holding the flight.
    pub async fn end_held(&self, flight: &FlightGuard) -> Result<(), UssError> {
        let id = flight.id();
        let flight = self.flights.get(id).ok_or(UssError::NoSuchFlight(id))?;
        flight.state.transition(FlightState::Ended)?;
        let ovn = flight.published.and_then(|i| i.reference.ovn);
        let subscribers = match ovn {
            Some(ovn) => self.ports.dss.delete_intent(id, ovn).await?.unwrap_or_default(),
            None => Vec::new(),
        };
        let now = self.now();
        self.flights
            .change(&[id], |flights| {
                if let Some(flight) = flights.get_mut(&id) {
                    flight.state = FlightState::Ended;
                    flight.published = None;
                    record_change(&mut flight.history, now, FlightState::Ended, &Reason::Ended);
                }
            })
            .await;
        self.ports.peers.notify(subscribers, id, None).await;
        Ok(())
    }

    /// Records one planning attempt in the journal, for the log set.
    fn attempted(
        &self,
        id: EntityId,
        key: Vec<String>,
        missing: (Vec<String>, Vec<String>),
        problem: Option<String>,
    ) {
        let attempt =
            Attempt { intent: id, key, missing_intents: missing.0, missing_zones: missing.1, problem };
        self.ports.journal.planning_attempt(self.now(), &attempt);
    }

    /// Learns every intent and constraint a nominal proposal must be deconflicted with and refuses it if it
    /// conflicts; returns them, and the volumes an Activated flight flew before this change. Off-nominal proposals
    /// are written as flown, so they learn nothing.
    async fn decide(
        &self,
        id: EntityId,
        p: &Proposal,
    ) -> Result<(Vec<Known>, Option<Vec<Volume>>), UssError> {
        // SCD0030: an Activated flight may be changed while conflicts it already had persist, so its operator can
        // share a way out of a higher priority flight that came over it; so may a Nonconforming one back in its
        // volumes, which flies them again.
        let flown: Option<Vec<Volume>> = self
            .flights
            .get(id)
            .filter(|f| {
                matches!(f.state, FlightState::Activated | FlightState::Nonconforming)
                    && p.state == FlightState::Activated
            })
            .map(|f| f.volumes);
        if p.state.is_off_nominal() {
            return Ok((Vec::new(), flown));
        }
        let (refs, zones) = self.query(&p.volumes, &id.to_string()).await?;
        let known = self.learn_all(refs, zones, &p.volumes).await?;
        if let Some(refused) = self.conflicts(p, &known, flown.as_deref()) {
            return Err(self.refuse(id, p, &known, refused).await);
        }
        Ok((known, flown))
    }

    /// Every intent and constraint reference around the volumes, over the whole range alternatives may be shifted
    /// to, so one query serves both the decision and the search. This flight's own reference is left out. The
    /// queries (intents and constraints over each volume) are independent, so they are sent at once: an answer
    /// then waits for the slowest of them rather than for their sum. Their answers are merged in the order they
    /// would have been made one by one, so the references, and what is decided from them, do not depend on which
    /// came back first; the first query to fail, in that order, is the error.
    async fn query(
        &self,
        volumes: &[Volume],
        own_id: &str,
    ) -> Result<(Vec<IntentRef>, Vec<ZoneRef>), UssError> {
        let reach = self.rules.alternatives.max_time_shift;
        let areas: Vec<Volume> = volumes
            .iter()
            .map(|v| {
                let mut area = v.clone();
                area.time.lo = v.time.lo.map(|t| t - reach);
                area.time.hi = v.time.hi.map(|t| t + reach);
                area.altitude = Interval { lo: None, hi: None };
                area
            })
            .collect();
        let dss = &self.ports.dss;
        let answers =
            join_all(areas.into_iter().map(|a| join(dss.query_intents(a.clone()), dss.query_zones(a)))).await;
        let mut seen = HashSet::new();
        let (mut refs, mut zones) = (Vec::new(), Vec::new());
        for (found_intents, found_zones) in answers {
            for r in found_intents? {
                if r.id != own_id && seen.insert(r.id.clone()) {
                    refs.push(r);
                }
            }
            for c in found_zones? {
                if seen.insert(c.id.clone()) {
                    zones.push(c);
                }
            }
        }
        Ok((refs, zones))
    }

    /// The intents' and the constraints' details at once (they come from different places and wait on different
    /// peers), the intents first; the intents' failure is the error when both fail, as when they were learned one
    /// after the other.
    async fn learn_all(
        &self,
        refs: Vec<IntentRef>,
        zones: Vec<ZoneRef>,
        volumes: &[Volume],
    ) -> Result<Vec<Known>, UssError> {
        let (intents, zones) = join(self.learn(refs, volumes), self.learn_zones(zones)).await;
        let mut known = intents?;
        known.extend(zones?);
        Ok(known)
    }

    /// Every intent and constraint within `reach` metres sideways of the proposal that `known` lacks, with its
    /// details: where a sideways alternative may lead. A route leaves only by a detour, which keeps near it, so
    /// only a corridor along it is learned; a circle around each of its segments would hold several times as many
    /// intents to fetch and convert.
    async fn learn_around(
        &self,
        id: EntityId,
        p: &Proposal,
        known: &[Known],
        reach: f64,
    ) -> Result<Vec<Known>, UssError> {
        let wide: Vec<Volume> = match &p.route {
            Some(route) => detour_reach(route, reach)?,
            None => p.volumes.iter().map(|v| widened(v, reach)).collect::<Result<_, _>>()?,
        };
        let (refs, zones) = self.query(&wide, &id.to_string()).await?;
        let have: HashSet<&str> = known.iter().map(|k| k.intent.id.as_str()).collect();
        let refs = refs.into_iter().filter(|r| !have.contains(r.id.as_str())).collect();
        let zones = zones.into_iter().filter(|c| !have.contains(c.id.as_str())).collect();
        self.learn_all(refs, zones, &wide).await
    }

    /// The volumes of every constraint: this USS's own from memory, others' from their managers. A constraint whose
    /// details cannot be had stops the planning, like an intent's.
    async fn learn_zones(&self, refs: Vec<ZoneRef>) -> Result<Vec<Known>, UssError> {
        let mut known = Vec::new();
        let mut others = Vec::new();
        for r in refs {
            let own = EntityId::parse(&r.id)
                .filter(|_| r.manager == self.rules.identity)
                .and_then(|id| self.own_zone(id));
            match own {
                Some(zone) => known.push(Known {
                    intent: Intent { id: r.id, priority: CONSTRAINT_PRIORITY, volumes: zone.volumes },
                    ovn: zone.reference.ovn,
                }),
                None => others.push(r),
            }
        }
        for (r, outcome) in self.ports.peers.zone_details(others).await {
            let details = outcome.map_err(|e| {
                CallError::Failed(format!(
                    "cannot learn the details of constraint {} of {}: {e}",
                    r.id, r.manager
                ))
            })?;
            known.push(Known {
                intent: Intent { id: r.id, priority: CONSTRAINT_PRIORITY, volumes: details.volumes },
                ovn: details.ovn,
            });
        }
        Ok(known)
    }

    /// The details and OVN of every reference: this USS's other flights from memory (or from their proposal while
    /// they are being written), peers' from their managers. A reference under this USS's identity that this USS
    /// does not hold (another instance sharing its credentials wrote it, or a test driver acting under them) is
    /// asked of the base URL it names, like a peer's. An Accepted intent of a USS the arbiter declared Down is left
    /// out (F3548 lets others plan over it without its OVN); a Down USS's intent in any other state is ranked above
    /// every priority over its whole time span (SCD0010), which `volumes`, the flight being planned, stands for in
    /// space; any other intent whose details cannot be had stops the planning, since it cannot be deconflicted.
    async fn learn(&self, refs: Vec<IntentRef>, volumes: &[Volume]) -> Result<Vec<Known>, UssError> {
        let mine = |r: &IntentRef| -> Option<(Priority, Vec<Volume>)> {
            if r.manager != self.rules.identity {
                return None;
            }
            self.flights.known(EntityId::parse(&r.id)?)
        };
        let mut known = Vec::new();
        let mut others = Vec::new();
        for r in refs {
            match (mine(&r), r.ovn.clone()) {
                (Some((priority, volumes)), Some(ovn)) => {
                    known.push(Known { intent: Intent { id: r.id, priority, volumes }, ovn: Some(ovn) });
                }
                (Some(_), None) => {
                    return Err(CallError::Failed(format!(
                        "the DSS holds intent {} under this USS's identity without showing it its OVN",
                        r.id
                    ))
                    .into());
                }
                (None, _) => others.push(r),
            }
        }
        for (r, outcome) in self.ports.peers.intent_details(others).await {
            match outcome {
                Ok(intent) => {
                    let volumes = intent.volumes.into_iter().chain(intent.off_nominal).collect();
                    known.push(Known {
                        intent: Intent { id: r.id, priority: intent.priority, volumes },
                        ovn: intent.reference.ovn,
                    });
                }
                Err(e) if r.availability == Availability::Down && r.state == FlightState::Accepted => {
                    tracing::info!(intent = r.id, manager = r.manager, error = %e, "planning over an Accepted intent of a Down USS");
                }
                Err(e) if r.availability == Availability::Down => {
                    tracing::info!(intent = r.id, manager = r.manager, error = %e, "a Down USS's intent outranks this flight");
                    let volumes = volumes
                        .iter()
                        .map(|v| Volume {
                            outline: v.outline.clone(),
                            altitude: Interval { lo: None, hi: None },
                            time: r.time,
                        })
                        .collect();
                    known.push(Known {
                        intent: Intent { id: r.id, priority: CONSTRAINT_PRIORITY, volumes },
                        ovn: r.ovn,
                    });
                }
                Err(e) => {
                    let problem =
                        format!("{} did not serve the details of its intent {}: {e}", r.manager, r.id);
                    let failed = CallError::Failed(format!(
                        "cannot deconflict with intent {} of {}: {e}; the availability arbiter can declare that USS Down",
                        r.id, r.manager
                    ));
                    // The plan fails either way; a report that cannot be filed is only logged.
                    if let Err(report) = self.ports.dss.report_unreachable(r.clone(), problem).await {
                        tracing::warn!(error = %report, manager = r.manager, "reporting an unreachable USS to the DSS failed");
                    }
                    return Err(failed.into());
                }
            }
        }
        Ok(known)
    }

    /// Whether the proposal meets an intent it may not conflict with. Conflicts the flight already had while
    /// `flown` (the volumes of an Activated flight being changed) are kept.
    fn conflicts(&self, p: &Proposal, known: &[Known], flown: Option<&[Volume]>) -> Option<Refused> {
        let policy = self.rules.policy;
        let mut intents: Vec<Intent> = known.iter().map(|k| k.intent.clone()).collect();
        if let Some(flown) = flown {
            let pre_existing: HashSet<String> = blocking_intents(flown, p.priority, &intents, policy)
                .into_iter()
                .map(|i| i.id.clone())
                .collect();
            intents.retain(|i| !pre_existing.contains(&i.id));
        }
        let blocking: Vec<String> = blocking_intents(&p.volumes, p.priority, &intents, policy)
            .into_iter()
            .map(|i| i.id.clone())
            .collect();
        (!blocking.is_empty()).then_some(Refused { blocking, others: intents })
    }

    /// The conflict of a refused proposal, with the alternatives found: in time and altitude among what the
    /// decision knew, and sideways too (within the search's lateral reach) once what lies around was learned.
    /// Should that fail (a peer there does not answer), only shifts in place are offered.
    async fn refuse(&self, id: EntityId, p: &Proposal, known: &[Known], refused: Refused) -> UssError {
        let Refused { blocking, mut others } = refused;
        let search = &self.rules.alternatives;
        let mut max_lateral_m = p.limits.max_lateral_m.unwrap_or(search.max_lateral_m);
        if max_lateral_m > 0.0 {
            match self.learn_around(id, p, known, max_lateral_m).await {
                Ok(more) => others.extend(more.into_iter().map(|k| k.intent)),
                Err(e) => {
                    tracing::info!(error = %e, "no sideways alternatives: what lies around the flight is not known");
                    max_lateral_m = 0.0;
                }
            }
        }
        let space = SearchSpace {
            time_step: search.time_step,
            max_time_shift: search.max_time_shift,
            altitude_step_m: search.altitude_step_m,
            max_altitude_shift_m: search.max_altitude_shift_m,
            altitude_floor_m: search.altitude_floor_m,
            altitude_ceiling_m: search.altitude_ceiling_m,
            not_before: self.now(),
            not_after: None,
            max_lateral_m,
            lateral_step_m: 0.0,
            shape_may_change: true,
            weights: CostWeights::default(),
            max_results: search.max_results,
        }
        .limited(&OperatorLimits { max_lateral_m: Some(max_lateral_m), ..p.limits.clone() });
        let found =
            alternatives(&p.volumes, p.route.as_ref(), p.priority, &others, self.rules.policy, &space);
        UssError::Conflict(Box::new(Refusal {
            blocking,
            alternatives: found,
            route: p.route.clone(),
            priority: p.priority,
            limits: p.limits.clone(),
            authorisation: p.authorisation.clone(),
        }))
    }
}

/// A circle holding `v`'s outline and everything within `reach` metres of it, over the same altitudes and times.
fn widened(v: &Volume, reach: f64) -> Result<Volume, UssError> {
    let (centre, radius) = match &v.outline {
        Outline::Circle(c) => (c.center(), c.radius_m()),
        Outline::Polygon(p) => {
            let n = p.vertices().len() as f64;
            let (lat, lng) = p.vertices().iter().fold((0.0, 0.0), |(a, b), q| (a + q.lat / n, b + q.lng / n));
            let centre = LatLng::new(lat, lng);
            (centre, p.vertices().iter().map(|q| distance_m(centre, *q)).fold(0.0, f64::max))
        }
    };
    let outline = Circle::new(centre, radius + reach).map_err(|e| UssError::Area(e.to_string()))?;
    Ok(Volume { outline: Outline::Circle(outline), altitude: v.altitude, time: v.time })
}

/// What an operator is told of `intent` meeting their flight.
pub(super) fn intent_alert(intent: &Published) -> String {
    let r = &intent.reference;
    format!(
        "operational intent {} of {} (priority {}, {}, version {}) intersects this flight",
        r.id,
        r.manager,
        intent.priority.0,
        r.state.name(),
        r.version
    )
}
