//! The wire format: the JSON shapes of every API Entente serves or calls (F3548-21's DSS and USS-USS APIs, F3411-22a
//! and F3411-19, InterUSS's test interfaces, and Entente's operator, authority and map APIs), with `serde` and
//! `utoipa` derives, and their conversion to and from domain values. Input that makes no valid domain value is a
//! [`WireError`] naming the field and the rule; which HTTP status that becomes is the server's business, so this
//! crate knows no HTTP.

pub mod authority;
mod common;
mod error;
pub mod interuss;
pub mod map;
pub mod operator;
pub mod rid;
pub mod scd;
pub mod uss;
pub mod uss_core;

pub use common::*;
pub use error::WireError;
