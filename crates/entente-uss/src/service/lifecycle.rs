//! A flight after it was planned: activation, conformance to its telemetry, and what peers' changes tell its
//! operator. Activation and telemetry take the flight's lock (`Flights::lock`) for everything they do to it, the
//! new plan included; alerts only add to a flight's list, in one change, so they wait for no operation.

use entente_dss::EntityId;

use super::planning::intent_alert;
use super::{Proposal, Published, Telemetry, Uss};
use crate::{
    FlightState, Reason, UssError, Verdict, Volume, activation_volumes, assess, check_fix_time, covers,
    volumes_intersect,
};

impl Uss {
    /// Activation needs the full key like acceptance did, so it plans again against the airspace as it now is. A
    /// flight activated before its start starts now (at the DSS too), so that it conforms from its first position;
    /// one whose volumes have all ended is refused.
    pub async fn activate(&self, id: EntityId) -> Result<Published, UssError> {
        let held = self.flights.lock(id).await;
        let f = self.flights.get(id).ok_or(UssError::NoSuchFlight(id))?;
        f.state.transition(FlightState::Activated)?;
        let now = self.now();
        let (volumes, moved_start) = activation_volumes(&f.volumes, now)?;
        let proposal = Proposal {
            volumes,
            off_nominal: Vec::new(),
            priority: f.priority,
            state: FlightState::Activated,
            reason: Reason::Activated { moved_start },
            now,
            operator: None,
            route: None,
            limits: Default::default(),
            authorisation: None,
        };
        self.plan_held(&held, proposal).await
    }

    /// Judges an operator's position report against the flight's intent; a change of state is written to the DSS
    /// and announced to subscribers, with an off-nominal volume around the aircraft. A report stamped ahead of
    /// this USS's clock by more than the skew tolerated is refused before anything is recorded; a report taken is
    /// handed to `taken` (the audit record, Remote ID) before it is judged.
    pub async fn telemetry(
        &self,
        id: EntityId,
        report: Telemetry,
        taken: impl FnOnce(crate::Timestamp, &Telemetry),
    ) -> Result<(), UssError> {
        let held = self.flights.lock(id).await;
        let f = self.flights.get(id).ok_or(UssError::NoSuchFlight(id))?;
        if !matches!(f.state, FlightState::Activated | FlightState::Nonconforming | FlightState::Contingent) {
            return Err(UssError::NotFlying { id, state: f.state.name() });
        }
        let fix = report.fix;
        let now = self.now();
        check_fix_time(fix.time, now)?;
        taken(now, &report);
        let end = f.volumes.iter().filter_map(|v| v.time.hi).max().unwrap_or(fix.time);
        let verdict = assess(&f.volumes, f.state, f.nonconforming_since, fix, end, self.rules.contingency)?;
        let next = f.state.transition(verdict.state())?;
        let reason = verdict.reason(fix.time);
        self.flights
            .change(&[id], |flights| {
                if let Some(flight) = flights.get_mut(&id) {
                    flight.telemetry = Some(report);
                    flight.nonconforming_since = match &verdict {
                        Verdict::Nonconforming { since, .. } => Some(*since),
                        Verdict::Conforming | Verdict::Contingent { .. } => None,
                    };
                }
            })
            .await;
        // An off-nominal flight that left the volume it announced announces a new one around where it now is.
        let strayed = next.is_off_nominal() && !covers(&f.off_nominal, fix);
        if next == f.state && !strayed {
            return Ok(());
        }
        tracing::info!(flight = %id, from = ?f.state, to = ?next, "announcing the flight's conformance");
        let (volumes, off_nominal) = match verdict {
            Verdict::Conforming => (f.volumes, Vec::new()),
            Verdict::Nonconforming { off_nominal, .. } => (f.volumes, vec![off_nominal]),
            // F3548: a contingent intent has off-nominal volumes only.
            Verdict::Contingent { off_nominal, .. } => (Vec::new(), vec![off_nominal]),
        };
        let proposal = Proposal {
            volumes,
            off_nominal,
            priority: f.priority,
            state: next,
            reason,
            now,
            operator: None,
            route: None,
            limits: Default::default(),
            authorisation: None,
        };
        self.plan_held(&held, proposal).await.map(|_| ())
    }

    /// A peer's intent changed: the operators of the flights it now meets are told (SCD0095).
    pub async fn on_peer_intent(&self, intent: &Published) {
        let volumes: Vec<Volume> = intent.volumes.iter().chain(&intent.off_nominal).cloned().collect();
        self.alert_operators(intent_alert(intent), intent.reference.id.clone(), &volumes).await;
    }

    /// A constraint (`kind`, e.g. a restricted zone) of `manager` changed: the operators of the flights it now
    /// meets are told.
    pub async fn on_zone(&self, id: &str, manager: &str, kind: &str, volumes: &[Volume]) {
        let text = format!("constraint {id} ({kind}) of {manager} intersects this flight");
        self.alert_operators(text, id.to_owned(), volumes).await;
    }

    /// F3548 wants the operator told when another intent or a constraint (`conflicting`) comes to intersect a
    /// flight; the alert stays on the flight's status.
    async fn alert_operators(&self, alert: String, conflicting: String, volumes: &[Volume]) {
        let hit: Vec<EntityId> = self.flights.read(|flights| {
            flights
                .iter()
                .filter(|(_, f)| f.state != FlightState::Ended)
                .filter(|(_, f)| {
                    volumes_intersect(&f.volumes, volumes) || volumes_intersect(&f.off_nominal, volumes)
                })
                .map(|(id, _)| *id)
                .collect()
        });
        self.alert_flights(&hit, alert, conflicting).await;
    }

    /// Tells the operators of flights `hit` that `conflicting` now meets them (SCD0095); the alert stays on each
    /// flight's status.
    pub(super) async fn alert_flights(&self, hit: &[EntityId], alert: String, conflicting: String) {
        if hit.is_empty() {
            return;
        }
        tracing::info!(flights = hit.len(), alert, "operators alerted");
        let details = format!(
            "{alert} (flights {})",
            hit.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
        );
        self.notify_operators("SCD0095", vec![conflicting], details);
        self.flights
            .change(hit, |flights| {
                for id in hit {
                    if let Some(flight) = flights.get_mut(id) {
                        flight.alerts.push(alert.clone());
                    }
                }
            })
            .await;
    }
}
