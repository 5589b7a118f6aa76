//! The life of an operator's flight: its states and the transitions F3548-21 allows between them.

use chrono::Duration;

use crate::error::UssError;
use crate::{Timestamp, Volume};

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

/// Why a flight entered a state, as its operator is told (the `Display` text).
#[derive(Clone, Debug, PartialEq)]
pub enum Reason {
    /// Planned, or planned again, at its operator's request.
    Planned,
    /// Activated at its operator's request; `moved_start` is the planned start when it lay after the activation,
    /// which then became the flight's start.
    Activated { moved_start: Option<Timestamp> },
    /// A position measured at `at` lay outside every volume of the flight.
    LeftVolumes { at: Timestamp },
    /// A position measured at `at` lay inside the flight's volumes again.
    BackInside { at: Timestamp },
    /// Nonconforming since `since`, for longer than `limit` (F3548 MaxRecoverableTimeInNonconformingState).
    NonconformingTooLong { since: Timestamp, limit: Duration },
    /// A position measured at `at` lay farther than `limit_m` from every volume.
    TooFar { at: Timestamp, limit_m: f64 },
    /// A contingent flight stays so until it ends, wherever the aircraft is.
    StillContingent,
    /// Set through the InterUSS flight planning test interface, which injects states as a test driver wants them.
    Injected,
    /// Ended at its operator's request.
    Ended,
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reason::Planned => write!(f, "planned by its operator"),
            Reason::Activated { moved_start: None } => write!(f, "activated by its operator"),
            Reason::Activated { moved_start: Some(start) } => write!(
                f,
                "activated by its operator before its planned start ({start}): the flight's start moved to its activation"
            ),
            Reason::LeftVolumes { at } => write!(f, "position at {at} outside every volume of the flight"),
            Reason::BackInside { at } => write!(f, "position at {at} back inside the flight's volumes"),
            Reason::NonconformingTooLong { since, limit } => write!(
                f,
                "nonconforming since {since}, longer than the {} s a flight may take to recover",
                limit.num_seconds()
            ),
            Reason::TooFar { at, limit_m } => {
                write!(f, "position at {at} more than {limit_m:.0} m from every volume of the flight")
            }
            Reason::StillContingent => write!(f, "contingent until ended"),
            Reason::Injected => write!(f, "set through the flight planning test interface"),
            Reason::Ended => write!(f, "ended by its operator"),
        }
    }
}

/// One entry of a flight's history: the state it entered, when, and why.
#[derive(Clone, Debug, PartialEq)]
pub struct StateChange {
    pub time: Timestamp,
    pub state: FlightState,
    pub reason: String,
}

/// Appends the entry into `state` to `history` unless the flight is already in it: the history holds changes of
/// state, not the updates a flight gets in place (a new off-nominal volume, a re-plan).
pub fn record_change(history: &mut Vec<StateChange>, time: Timestamp, state: FlightState, reason: &Reason) {
    if history.last().is_none_or(|last| last.state != state) {
        history.push(StateChange { time, state, reason: reason.to_string() });
    }
}

/// The volumes a flight flies once activated at `now`, and its planned start when that moved. A flight activated
/// before its start starts now: its earliest volumes begin at `now` (later ones keep their times), so the aircraft
/// conforms from its first position rather than turning contingent for flying before its intent. A flight whose
/// volumes have all ended cannot be activated.
pub fn activation_volumes(
    volumes: &[Volume],
    now: Timestamp,
) -> Result<(Vec<Volume>, Option<Timestamp>), UssError> {
    if let Some(end) = volumes.iter().filter_map(|v| v.time.hi).max()
        && end <= now
    {
        return Err(UssError::ActivatedAfterEnd { end, now });
    }
    let start = volumes.iter().filter_map(|v| v.time.lo).min();
    let Some(start) = start.filter(|s| *s > now) else {
        return Ok((volumes.to_vec(), None));
    };
    let moved = volumes
        .iter()
        .map(|v| {
            let mut v = v.clone();
            if v.time.lo == Some(start) {
                v.time.lo = Some(now);
            }
            v
        })
        .collect();
    Ok((moved, Some(start)))
}

#[cfg(test)]
mod tests {
    use super::FlightState::*;
    use super::*;
    use crate::conflict::tests::{at, cylinder};
    use proptest::prelude::*;

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

    #[test]
    fn activation_before_the_start_moves_the_start_to_now() {
        let volumes = [cylinder(6.6, (0.0, 100.0), (5, 20)), cylinder(6.6, (0.0, 100.0), (20, 30))];
        let (moved, start) = activation_volumes(&volumes, at(0)).unwrap();
        assert_eq!(start, Some(at(5)));
        assert_eq!(moved[0].time.lo, Some(at(0)));
        assert_eq!(moved[0].time.hi, Some(at(20)));
        assert_eq!(moved[1], volumes[1], "a later volume keeps its times");
        // Under way, nothing moves.
        assert_eq!(activation_volumes(&volumes, at(6)).unwrap(), (volumes.to_vec(), None));
        assert_eq!(
            activation_volumes(&volumes, at(30)),
            Err(UssError::ActivatedAfterEnd { end: at(30), now: at(30) })
        );
    }

    #[test]
    fn the_history_records_changes_of_state_only() {
        let mut history = Vec::new();
        record_change(&mut history, at(0), Accepted, &Reason::Planned);
        record_change(&mut history, at(1), Accepted, &Reason::Planned);
        record_change(&mut history, at(2), Activated, &Reason::Activated { moved_start: Some(at(5)) });
        record_change(&mut history, at(3), Nonconforming, &Reason::LeftVolumes { at: at(3) });
        record_change(&mut history, at(4), Activated, &Reason::BackInside { at: at(4) });
        let states: Vec<FlightState> = history.iter().map(|c| c.state).collect();
        assert_eq!(states, [Accepted, Activated, Nonconforming, Activated]);
        assert!(history[1].reason.contains("before its planned start"), "{}", history[1].reason);
        assert!(history[3].reason.contains("back inside"), "{}", history[3].reason);
    }

    proptest! {
        /// Activation never shortens a flight nor moves its end: every volume still holds what it held, and the
        /// flight spans from `now` (when it started later) to the same end.
        #[test]
        fn activation_only_brings_the_start_forward(
            spans in proptest::collection::vec((-30i64..60, 1i64..60), 1..5),
            now in -40i64..40,
        ) {
            let volumes: Vec<Volume> =
                spans.iter().map(|&(s, d)| cylinder(6.6, (0.0, 100.0), (s, s + d))).collect();
            let end = volumes.iter().filter_map(|v| v.time.hi).max().unwrap();
            let start = volumes.iter().filter_map(|v| v.time.lo).min().unwrap();
            match activation_volumes(&volumes, at(now)) {
                Err(_) => prop_assert!(end <= at(now)),
                Ok((moved, moved_start)) => {
                    prop_assert!(end > at(now));
                    prop_assert_eq!(moved_start, (start > at(now)).then_some(start));
                    let new_start = moved.iter().filter_map(|v| v.time.lo).min().unwrap();
                    prop_assert_eq!(new_start, start.min(at(now)));
                    prop_assert_eq!(moved.iter().filter_map(|v| v.time.hi).max().unwrap(), end);
                    for (old, new) in volumes.iter().zip(&moved) {
                        prop_assert!(new.time.lo <= old.time.lo && new.time.hi == old.time.hi);
                        prop_assert!(new.time.lo <= new.time.hi);
                    }
                }
            }
        }
    }
}
