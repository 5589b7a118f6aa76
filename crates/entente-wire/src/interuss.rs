//! InterUSS's interfaces outside the standards, which its test tooling drives: flight planning, geospatial map
//! queries, Remote ID injection and observation, and versioning.

pub mod flight_planning;
pub mod geospatial_map;
pub mod rid;
pub mod versioning;
