//! The wire format: the JSON shapes of every API Entente serves or calls (F3548-21 so far), with `serde` and
//! `utoipa` derives, and their conversion to and from domain values. Input that makes no valid domain value is
//! a [`WireError`] naming the field and the rule; which HTTP status that becomes is the server's business, so this
//! crate knows no HTTP.

mod common;
mod error;
pub mod scd;

pub use common::*;
pub use error::WireError;
