//! Exact spherical geometry for deciding whether 4D airspace volumes (outline x altitude x time) intersect.
//!
//! The earth is a sphere of radius [`EARTH_RADIUS_M`] and polygon edges are great-circle arcs (ASTM F3548-21:
//! "an edge is the shortest path"). Two shapes intersect iff their distance is at most [`EPSILON_M`]: touching
//! and near-touching shapes intersect, and since rounding error is ~1 nm, far below EPSILON, no conflict can be
//! missed through floating point. All geometry is done on unit vectors, so the poles and the antimeridian are not
//! special cases; only the lat/lng [`LatLngRect`] bounds have to deal with them.
//!
//! This crate knows nothing of HTTP, serialisation or storage.

mod arc;
mod cells;
mod circle;
mod error;
mod grid;
mod interval;
mod latlng;
mod outline;
mod polygon;
mod vec3;
mod volume;

pub use cells::{COVER_CELL_LEVEL, COVER_WORK_BUDGET, cells_cover, cover_cell_at};
pub use circle::Circle;
pub use error::{Element, GeoError};
pub use interval::Interval;
pub use latlng::{LatLng, LatLngRect, distance_m};
pub use outline::Outline;
pub use polygon::Polygon;
pub use volume::{Volume4, any_relevant};

/// Mean earth radius (IUGG).
pub const EARTH_RADIUS_M: f64 = 6_371_008.8;

/// Shapes closer than this intersect.
pub const EPSILON_M: f64 = 0.01;

/// [`EPSILON_M`] as an angle on the unit sphere, the unit all internal geometry uses.
const EPSILON_RAD: f64 = EPSILON_M / EARTH_RADIUS_M;

/// Margin (radians, ~6 micrometres) added to cheap rejection tests so that rounding can never turn a near-miss
/// prefilter into a false negative.
const ROUNDING_SLACK_RAD: f64 = 1e-12;
