//! The one integration-test binary of entente-server: black-box F3548-21 and F3411 DSS conformance tests.
//!
//! Each test starts its own DSS (temporary redb store, real socket on port 0) through
//! [`harness::Dss::start`] and talks to it over HTTP, as a USS would. The module names follow the
//! checklist sections of the DSS digest (`/work/shared/spec/dss-digest.md`, section F).

// Authentication and scopes (checklist 1-4).
#[path = "integration/auth.rs"]
mod auth;
// U-space flight authorisation data through the flight planning test interface and the operator API.
#[path = "integration/authorisation.rs"]
mod authorisation;
// USS availability (48-50, and the availability side of 28-29).
#[path = "integration/availability.rs"]
mod availability;
// Constraint references (8, 38, and the constraint side of 12-19).
#[path = "integration/constraints.rs"]
mod constraints;
// Geographical zone data sets imported by an authority: constraints published, advisories given, re-imports.
#[path = "integration/geozones.rs"]
mod geozones;
// InterUSS's geospatial map test interface: which imported zones would block or advise a flight.
#[path = "integration/geospatial_map.rs"]
mod geospatial_map;
// Its data sources: data sets downloaded from a URL, rejected, failed or deactivated.
#[path = "integration/geospatial_sources.rs"]
mod geospatial_sources;
// Hardened edges: costly input, slow clients and per-client limits over real sockets.
#[path = "integration/hardening.rs"]
mod hardening;
// Shared server, client, token and geometry helpers.
#[path = "integration/harness.rs"]
mod harness;
// InterUSS's DSS extensions: system version and pool status.
#[path = "integration/interuss.rs"]
mod interuss;
// The web map: its page and assets, the airspace view, and the change stream.
#[path = "integration/map.rs"]
mod map;
// Operational intent reference lifecycle and state machine (12-21).
#[path = "integration/intents.rs"]
mod intents;
// The key check, airspace conflicts, Down USSs and concurrent planning (22-29).
#[path = "integration/keys.rs"]
mod keys;
// Health, metrics, OpenAPI, persistence across restarts, and the in-process router.
#[path = "integration/operations.rs"]
mod operations;
// Error reports (51).
#[path = "integration/reports.rs"]
mod reports;
// F3411-19 network Remote ID, and the model it shares with F3411-22a (52-59).
#[path = "integration/rid_v19.rs"]
mod rid_v19;
// F3411-22a network Remote ID: ISAs, RID subscriptions, limits, concurrency (52-59).
#[path = "integration/rid_v22a.rs"]
mod rid_v22a;
// Subscriptions, notifications and implicit subscriptions (30-47).
#[path = "integration/subscriptions.rs"]
mod subscriptions;
// The USS side: USS-USS API status codes, planning against the DSS and peers, outgoing tokens.
#[path = "integration/uss.rs"]
mod uss;
// The USS's callers' mistakes (operator, authority, flight planning): 4xx naming the field, before the DSS.
#[path = "integration/uss_input.rs"]
mod uss_input;
// Network Remote ID between in-process USSs: watching again, alerts without watches, ISAs within the limits.
#[path = "integration/uss_rid.rs"]
mod uss_rid;
// Geometry and input validation (5-11).
#[path = "integration/validation.rs"]
mod validation;
