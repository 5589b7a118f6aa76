//! InterUSS's interfaces outside the standards, which its test tooling drives: flight planning, Remote ID
//! injection and observation, and versioning.

pub mod flight_planning;
pub mod rid;
pub mod versioning;
