//! Conformance monitoring: where the aircraft is, against where its intent said it would be.

use chrono::Duration;
use entente_geo::{Circle, Interval, LatLng, Outline};

use crate::error::UssError;
use crate::flight::{FlightState, Reason};
use crate::{Timestamp, Volume};

/// One telemetry fix.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Position {
    pub at: LatLng,
    pub altitude_m: f64,
    pub time: Timestamp,
}

/// When a nonconforming flight becomes contingent (F3548 MaxRecoverableTimeInNonconformingState is 60 s), and
/// how large the off-nominal volume announced around the aircraft is.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ContingencyRules {
    pub max_nonconforming: Duration,
    pub max_deviation_m: f64,
    pub off_nominal_radius_m: f64,
}

impl Default for ContingencyRules {
    fn default() -> Self {
        ContingencyRules {
            max_nonconforming: Duration::seconds(60),
            max_deviation_m: 500.0,
            off_nominal_radius_m: 200.0,
        }
    }
}

/// How far ahead of the USS's clock a fix may be stamped. An aircraft's clock and the USS's disagree by a little
/// (and the fix travels); beyond this, the fix is refused: judged, it would decide the flight's state from a moment
/// that has not come (a fix an hour ahead lies past a short flight's end, so it would turn the flight contingent).
pub const MAX_FIX_AHEAD: Duration = Duration::seconds(5);

/// Refuses a fix stamped further ahead of `now` than [`MAX_FIX_AHEAD`].
pub fn check_fix_time(time: Timestamp, now: Timestamp) -> Result<(), UssError> {
    if time > now + MAX_FIX_AHEAD {
        return Err(UssError::FixFromTheFuture { time, now, tolerance_s: MAX_FIX_AHEAD.num_seconds() });
    }
    Ok(())
}

/// The state a fix calls for; off-nominal verdicts carry the volume to announce around the aircraft, and a
/// contingent one why the flight cannot recover.
#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
    Conforming,
    Nonconforming { since: Timestamp, off_nominal: Volume },
    Contingent { off_nominal: Volume, reason: Reason },
}

impl Verdict {
    pub fn state(&self) -> FlightState {
        match self {
            Verdict::Conforming => FlightState::Activated,
            Verdict::Nonconforming { .. } => FlightState::Nonconforming,
            Verdict::Contingent { .. } => FlightState::Contingent,
        }
    }

    /// Why the flight is in the state this verdict calls for, judged from a fix measured at `fix_time`.
    pub fn reason(&self, fix_time: Timestamp) -> Reason {
        match self {
            Verdict::Conforming => Reason::BackInside { at: fix_time },
            Verdict::Nonconforming { since, .. } => Reason::LeftVolumes { at: *since },
            Verdict::Contingent { reason, .. } => reason.clone(),
        }
    }
}

/// Judges one fix of an activated or off-nominal flight; a fix with invalid coordinates is refused. A fix inside
/// any nominal volume restores conformance unless the flight is already contingent (which only ends). Outside, the flight is nonconforming; it is
/// contingent once it has been so for longer than the rules allow or has strayed farther than
/// `max_deviation_m` from every volume (horizontally or vertically, allowing `max_nonconforming` of lateness).
pub fn assess(
    volumes: &[Volume],
    state: FlightState,
    nonconforming_since: Option<Timestamp>,
    fix: Position,
    flight_end: Timestamp,
    rules: ContingencyRules,
) -> Result<Verdict, UssError> {
    // Announced at least as long as the flight may take to recover, so it never ends before the DSS reads it.
    let off_nominal =
        around(fix, rules.off_nominal_radius_m, flight_end.max(fix.time + rules.max_nonconforming))?;
    if state == FlightState::Contingent {
        return Ok(Verdict::Contingent { off_nominal, reason: Reason::StillContingent });
    }
    if covers(volumes, fix) {
        return Ok(Verdict::Conforming);
    }
    let since = nonconforming_since.unwrap_or(fix.time);
    let lost = fix.time - since > rules.max_nonconforming;
    // A flight running late by less than the recoverable time is still near its volumes.
    let mut reach = around(fix, rules.max_deviation_m, fix.time)?;
    reach.time.lo = Some(fix.time - rules.max_nonconforming);
    if lost {
        let reason = Reason::NonconformingTooLong { since, limit: rules.max_nonconforming };
        return Ok(Verdict::Contingent { off_nominal, reason });
    }
    if !volumes.iter().any(|v| v.intersects(&reach)) {
        let reason = Reason::TooFar { at: fix.time, limit_m: rules.max_deviation_m };
        return Ok(Verdict::Contingent { off_nominal, reason });
    }
    Ok(Verdict::Nonconforming { since, off_nominal })
}

/// Whether the fix lies in any of the volumes, in space and time.
pub fn covers(volumes: &[Volume], fix: Position) -> bool {
    volumes.iter().any(|v| inside(v, fix))
}

fn inside(v: &Volume, fix: Position) -> bool {
    let alt = Interval { lo: Some(fix.altitude_m), hi: Some(fix.altitude_m) };
    let time = Interval { lo: Some(fix.time), hi: Some(fix.time) };
    v.time.overlaps(&time) && v.altitude.overlaps(&alt) && v.outline.contains(fix.at)
}

/// A cylinder of `radius_m` around the fix, as tall as it is wide, from the fix until `until` (at least the
/// fix's own instant).
fn around(fix: Position, radius_m: f64, until: Timestamp) -> Result<Volume, UssError> {
    let circle = Circle::new(fix.at, radius_m).map_err(|e| UssError::Position(e.to_string()))?;
    Ok(Volume {
        outline: Outline::Circle(circle),
        altitude: Interval { lo: Some(fix.altitude_m - radius_m), hi: Some(fix.altitude_m + radius_m) },
        time: Interval { lo: Some(fix.time), hi: Some(until.max(fix.time)) },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conflict::tests::{at, cylinder};

    fn fix(lng: f64, alt: f64, minute: i64) -> Position {
        Position { at: LatLng::new(46.5, lng), altitude_m: alt, time: at(minute) }
    }

    fn judge(state: FlightState, since: Option<i64>, f: Position) -> FlightState {
        let volumes = [cylinder(6.6, (0.0, 100.0), (0, 30))];
        assess(&volumes, state, since.map(at), f, at(30), ContingencyRules::default()).unwrap().state()
    }

    #[test]
    fn inside_conforms_outside_does_not() {
        assert_eq!(judge(FlightState::Activated, None, fix(6.6, 50.0, 10)), FlightState::Activated);
        // 150 m above the top: near enough to recover.
        assert_eq!(judge(FlightState::Activated, None, fix(6.6, 250.0, 10)), FlightState::Nonconforming);
        // After the intent's end, even in place.
        assert_eq!(judge(FlightState::Activated, None, fix(6.6, 50.0, 31)), FlightState::Nonconforming);
        assert_eq!(judge(FlightState::Activated, None, fix(6.6, 50.0, 32)), FlightState::Contingent);
        assert_eq!(judge(FlightState::Nonconforming, Some(9), fix(6.6, 50.0, 10)), FlightState::Activated);
    }

    #[test]
    fn too_long_or_too_far_is_contingent() {
        assert_eq!(judge(FlightState::Nonconforming, Some(8), fix(6.6, 250.0, 10)), FlightState::Contingent);
        // About 7.6 km east of the 200 m circle.
        assert_eq!(judge(FlightState::Activated, None, fix(6.7, 50.0, 10)), FlightState::Contingent);
        assert_eq!(judge(FlightState::Activated, None, fix(6.6, 700.0, 10)), FlightState::Contingent);
        assert_eq!(judge(FlightState::Contingent, None, fix(6.6, 50.0, 10)), FlightState::Contingent);
    }

    #[test]
    fn the_off_nominal_volume_holds_the_fix_until_the_end() {
        let volumes = [cylinder(6.6, (0.0, 100.0), (0, 30))];
        let f = fix(6.6, 250.0, 10);
        let Verdict::Nonconforming { since, off_nominal } =
            assess(&volumes, FlightState::Activated, None, f, at(30), ContingencyRules::default()).unwrap()
        else {
            panic!("expected nonconforming");
        };
        assert_eq!(since, at(10));
        assert!(inside(&off_nominal, f));
        assert_eq!(off_nominal.time.hi, Some(at(30)));
        // Late, the announced volume still outlives the fix by the recoverable time.
        let late = fix(6.6, 50.0, 31);
        let Verdict::Nonconforming { off_nominal, .. } =
            assess(&volumes, FlightState::Activated, None, late, at(30), ContingencyRules::default())
                .unwrap()
        else {
            panic!("expected nonconforming");
        };
        assert_eq!(off_nominal.time.hi, Some(at(32)));
        assert!(covers(&[off_nominal], late));
    }

    #[test]
    fn verdicts_say_why() {
        let volumes = [cylinder(6.6, (0.0, 100.0), (0, 30))];
        let reason = |state, since: Option<i64>, f: Position| {
            assess(&volumes, state, since.map(at), f, at(30), ContingencyRules::default())
                .unwrap()
                .reason(f.time)
        };
        assert_eq!(
            reason(FlightState::Nonconforming, Some(9), fix(6.6, 50.0, 10)),
            Reason::BackInside { at: at(10) }
        );
        assert_eq!(
            reason(FlightState::Activated, None, fix(6.6, 250.0, 10)),
            Reason::LeftVolumes { at: at(10) }
        );
        assert_eq!(
            reason(FlightState::Nonconforming, Some(8), fix(6.6, 250.0, 10)),
            Reason::NonconformingTooLong { since: at(8), limit: Duration::seconds(60) }
        );
        assert_eq!(
            reason(FlightState::Activated, None, fix(6.7, 50.0, 10)),
            Reason::TooFar { at: at(10), limit_m: 500.0 }
        );
    }

    #[test]
    fn fixes_ahead_of_the_clock_are_refused_beyond_the_skew() {
        check_fix_time(at(10), at(10)).unwrap();
        check_fix_time(at(9), at(10)).unwrap();
        check_fix_time(at(10) + MAX_FIX_AHEAD, at(10)).unwrap();
        let err = check_fix_time(at(70), at(10)).unwrap_err();
        assert!(err.to_string().contains("time_measured"), "{err}");
        assert!(check_fix_time(at(10) + MAX_FIX_AHEAD + Duration::milliseconds(1), at(10)).is_err());
    }
}
