//! Validated aircraft states: where an aircraft is, how it moves, and when that was true.

use std::sync::Arc;

use entente_geo::EARTH_RADIUS_M;

use crate::error::{Field, TacticalError};

/// An aircraft's identity as its operator or Remote ID reports it; cheap to clone into every alert.
pub type AircraftId = Arc<str>;

/// Position in degrees (WGS84 latitude and longitude) and metres of altitude.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Position {
    pub lat: f64,
    pub lon: f64,
    pub alt_m: f64,
}

/// Ground speed (m/s), track over ground (degrees clockwise from true north) and vertical speed (m/s, up positive).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Velocity {
    pub gs_mps: f64,
    pub trk_deg: f64,
    pub vs_mps: f64,
}

impl Velocity {
    /// East and north components in m/s.
    pub(crate) fn east_north(self) -> (f64, f64) {
        let (sin, cos) = self.trk_deg.to_radians().sin_cos();
        (self.gs_mps * sin, self.gs_mps * cos)
    }
}

/// One aircraft at one instant. Only [`State::new`] makes one, so every state the detector sees is finite and on
/// the globe.
#[derive(Clone, Debug, PartialEq)]
pub struct State {
    id: AircraftId,
    position: Position,
    velocity: Velocity,
    t: f64,
}

fn check(field: Field, value: f64, ok: bool, rule: &'static str) -> Result<(), TacticalError> {
    if !value.is_finite() {
        return Err(TacticalError::InvalidState { field, value, rule: "is not a finite number" });
    }
    if !ok {
        return Err(TacticalError::InvalidState { field, value, rule });
    }
    Ok(())
}

impl State {
    /// `t` is in seconds on any clock, as long as every state given to one detector uses the same one.
    pub fn new(
        id: impl Into<AircraftId>,
        position: Position,
        velocity: Velocity,
        t: f64,
    ) -> Result<State, TacticalError> {
        let id = id.into();
        if id.is_empty() {
            return Err(TacticalError::EmptyId);
        }
        let Position { lat, lon, alt_m } = position;
        let Velocity { gs_mps, trk_deg, vs_mps } = velocity;
        check(Field::Lat, lat, (-90.0..=90.0).contains(&lat), "is outside [-90, 90]")?;
        check(Field::Lon, lon, (-180.0..=180.0).contains(&lon), "is outside [-180, 180]")?;
        check(Field::AltM, alt_m, true, "")?;
        check(Field::GsMps, gs_mps, gs_mps >= 0.0, "is negative")?;
        check(Field::TrkDeg, trk_deg, true, "")?;
        check(Field::VsMps, vs_mps, true, "")?;
        check(Field::T, t, true, "")?;
        Ok(State { id, position, velocity, t })
    }

    pub fn id(&self) -> &AircraftId {
        &self.id
    }

    pub fn position(&self) -> Position {
        self.position
    }

    pub fn velocity(&self) -> Velocity {
        self.velocity
    }

    pub fn t(&self) -> f64 {
        self.t
    }

    /// The state `dt` seconds later at constant velocity, moved on the local flat earth (the same flat earth the
    /// detector reasons in). Latitude stops at the poles; longitude wraps around the antimeridian.
    pub fn dead_reckoned(&self, dt: f64) -> State {
        let (east, north) = self.velocity.east_north();
        let lat = self.position.lat + (north * dt / EARTH_RADIUS_M).to_degrees();
        let cos_lat = self.position.lat.to_radians().cos().max(f64::EPSILON);
        let lon = self.position.lon + (east * dt / (EARTH_RADIUS_M * cos_lat)).to_degrees();
        let position = Position {
            lat: lat.clamp(-90.0, 90.0),
            lon: (lon + 180.0).rem_euclid(360.0) - 180.0,
            alt_m: self.position.alt_m + self.velocity.vs_mps * dt,
        };
        State { id: self.id.clone(), position, velocity: self.velocity, t: self.t + dt }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(lat: f64, lon: f64, gs: f64, trk: f64) -> Result<State, TacticalError> {
        State::new(
            "a",
            Position { lat, lon, alt_m: 60.0 },
            Velocity { gs_mps: gs, trk_deg: trk, vs_mps: 1.0 },
            0.0,
        )
    }

    #[test]
    fn rejections_name_the_field_and_the_rule() {
        let e = state(91.0, 0.0, 10.0, 0.0).unwrap_err();
        assert_eq!(e.to_string(), "lat: 91 is outside [-90, 90]");
        let e = state(0.0, f64::NAN, 10.0, 0.0).unwrap_err();
        assert_eq!(e.to_string(), "lon: NaN is not a finite number");
        let e = state(0.0, 0.0, -1.0, 0.0).unwrap_err();
        assert_eq!(e.to_string(), "gs_mps: -1 is negative");
        assert_eq!(
            State::new(
                "",
                Position { lat: 0.0, lon: 0.0, alt_m: 0.0 },
                Velocity { gs_mps: 0.0, trk_deg: 0.0, vs_mps: 0.0 },
                0.0
            ),
            Err(TacticalError::EmptyId)
        );
    }

    #[test]
    fn dead_reckoning_moves_along_the_track() -> Result<(), TacticalError> {
        let north = state(47.0, 8.0, 10.0, 0.0)?.dead_reckoned(100.0);
        let moved_m = (north.position().lat - 47.0).to_radians() * EARTH_RADIUS_M;
        assert!((moved_m - 1000.0).abs() < 1e-6, "moved {moved_m} m north");
        assert!((north.position().alt_m - 160.0).abs() < 1e-9);
        assert_eq!(north.t(), 100.0);
        let east = state(60.0, 8.0, 10.0, 90.0)?.dead_reckoned(100.0);
        let moved_m = (east.position().lon - 8.0).to_radians() * EARTH_RADIUS_M * 0.5;
        assert!((moved_m - 1000.0).abs() < 1e-6, "moved {moved_m} m east");
        Ok(())
    }

    #[test]
    fn dead_reckoning_wraps_the_antimeridian() -> Result<(), TacticalError> {
        let s = state(0.0, 179.999, 20.0, 90.0)?.dead_reckoned(100.0);
        assert!(s.position().lon < -179.0, "lon {}", s.position().lon);
        Ok(())
    }
}
