//! Tactical conflict detection for drones: predicted losses of separation between every aircraft a USS sees.
//!
//! Each aircraft flies straight at constant velocity from its last reported state; a pair is in conflict when
//! it will be inside the protected zone (a horizontal radius and a vertical half-height) within the look-ahead.
//! The geometry is BlueSky's state-based detection, so results can be checked against it, but the cost is not
//! quadratic: a grid of swept boxes finds the few pairs that can meet before the exact closest-point-of-approach
//! test runs.
//!
//! - [`Detector::scan`] checks a whole snapshot at once;
//! - [`Monitor`] keeps the conflicts current as position reports arrive one by one;
//! - [`Replay`] reads recorded traffic from CSV and plays it back, dead-reckoning between samples.
//!
//! This crate knows nothing of HTTP, Remote ID or storage.

mod cpa;
mod detector;
mod error;
mod grid;
mod monitor;
mod replay;
mod state;

pub use detector::{Config, Conflict, Detector};
pub use error::{Field, TacticalError};
pub use monitor::{Monitor, Update};
pub use replay::{Replay, to_csv};
pub use state::{AircraftId, Position, State, Velocity};
