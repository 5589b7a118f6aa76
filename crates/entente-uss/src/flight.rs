//! The life of an operator's flight: its states and the transitions F3548-21 allows between them.

use crate::error::UssError;

/// F3548 priority of an operational intent: a higher value wins.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Priority(pub i32);

/// The DSS states plus `Ended`, which the DSS does not hold (ending is deleting the reference).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FlightState {
    Accepted,
    Activated,
    Nonconforming,
    Contingent,
    Ended,
}

impl FlightState {
    pub const ALL: [FlightState; 5] = [
        FlightState::Accepted,
        FlightState::Activated,
        FlightState::Nonconforming,
        FlightState::Contingent,
        FlightState::Ended,
    ];

    /// The F3548 name of the state (`Ended` for the one F3548 leaves to the USS).
    pub fn name(self) -> &'static str {
        match self {
            FlightState::Accepted => "Accepted",
            FlightState::Activated => "Activated",
            FlightState::Nonconforming => "Nonconforming",
            FlightState::Contingent => "Contingent",
            FlightState::Ended => "Ended",
        }
    }

    pub fn from_name(name: &str) -> Option<FlightState> {
        FlightState::ALL.into_iter().find(|s| s.name() == name)
    }

    /// The nominal graph of F3548-21 (A.5). Staying in a live state is allowed, since re-planning or a new
    /// off-nominal volume is an update in place.
    pub fn transition(self, to: FlightState) -> Result<FlightState, UssError> {
        use FlightState::*;
        let allowed = match (self, to) {
            (Ended, _) => false,
            (a, b) if a == b => true,
            (Accepted, Activated | Ended) => true,
            (Activated, Nonconforming | Contingent | Ended) => true,
            (Nonconforming, Activated | Contingent | Ended) => true,
            (Contingent, Ended) => true,
            _ => false,
        };
        if allowed { Ok(to) } else { Err(UssError::Transition { from: self, to }) }
    }

    /// The graph of a USS in F3548's conformance monitoring role (CMSA), which may also write Nonconforming over an
    /// Accepted intent: its UA was found flying off nominal before the flight was activated.
    pub fn transition_monitored(self, to: FlightState) -> Result<FlightState, UssError> {
        match (self, to) {
            (FlightState::Accepted, FlightState::Nonconforming) => Ok(to),
            _ => self.transition(to),
        }
    }

    /// Off-nominal states are the ones in which peers may poll telemetry.
    pub fn is_off_nominal(self) -> bool {
        matches!(self, FlightState::Nonconforming | FlightState::Contingent)
    }
}

#[cfg(test)]
mod tests {
    use super::FlightState::*;
    use super::*;

    #[test]
    fn nominal_graph() {
        let all = FlightState::ALL;
        let allowed: Vec<(FlightState, FlightState)> = all
            .iter()
            .flat_map(|&a| all.iter().map(move |&b| (a, b)))
            .filter(|&(a, b)| a != b && a.transition(b).is_ok())
            .collect();
        assert_eq!(
            allowed,
            vec![
                (Accepted, Activated),
                (Accepted, Ended),
                (Activated, Nonconforming),
                (Activated, Contingent),
                (Activated, Ended),
                (Nonconforming, Activated),
                (Nonconforming, Contingent),
                (Nonconforming, Ended),
                (Contingent, Ended),
            ]
        );
    }

    #[test]
    fn conformance_monitoring_adds_accepted_to_nonconforming_only() {
        let all = FlightState::ALL;
        let added: Vec<(FlightState, FlightState)> = all
            .iter()
            .flat_map(|&a| all.iter().map(move |&b| (a, b)))
            .filter(|&(a, b)| a.transition_monitored(b).is_ok() != a.transition(b).is_ok())
            .collect();
        assert_eq!(added, vec![(Accepted, Nonconforming)]);
    }

    #[test]
    fn names_round_trip() {
        for s in FlightState::ALL {
            assert_eq!(FlightState::from_name(s.name()), Some(s));
        }
        assert_eq!(FlightState::from_name("Closed"), None);
    }

    #[test]
    fn ended_is_final_and_live_states_update_in_place() {
        assert_eq!(Ended.transition(Ended), Err(UssError::Transition { from: Ended, to: Ended }));
        assert_eq!(Contingent.transition(Contingent), Ok(Contingent));
        assert_eq!(
            Activated.transition(Accepted),
            Err(UssError::Transition { from: Activated, to: Accepted })
        );
    }
}
