//! The entities a DSS keeps: operational intents, constraints, subscriptions, availability, reports, and the
//! F3411 network Remote ID identification service areas and RID subscriptions.

use std::fmt;

use chrono::{DateTime, Utc};
use entente_geo::Volume4;
use uuid::Uuid;

/// Every instant in the model is UTC.
pub type Timestamp = DateTime<Utc>;

/// A validated 4D volume (outline, altitude in metres WGS84, time).
pub type Volume = Volume4<Timestamp>;

/// An entity or subscription identifier: a UUIDv4, as F3548 and F3411 require.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EntityId(Uuid);

impl EntityId {
    /// Accepts only the RFC 4122 variant, version 4, hyphenated form of 36 characters.
    pub fn parse(text: &str) -> Option<EntityId> {
        if text.len() != 36 {
            return None;
        }
        let uuid = Uuid::try_parse(text).ok()?;
        let canonical = uuid.hyphenated().to_string();
        if uuid.get_version_num() != 4
            || uuid.get_variant() != uuid::Variant::RFC4122
            || !canonical.eq_ignore_ascii_case(text)
        {
            return None;
        }
        Some(EntityId(uuid))
    }

    pub fn random() -> EntityId {
        EntityId(Uuid::new_v4())
    }

    pub fn from_uuid(uuid: Uuid) -> EntityId {
        EntityId(uuid)
    }

    pub fn as_uuid(&self) -> Uuid {
        self.0
    }
}

impl fmt::Display for EntityId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

/// Opaque version tokens: OVNs of intents and constraints, versions of subscriptions and availability.
///
/// They are unguessable so that only the manager (who receives them) can prove knowledge of an entity.
pub fn new_token() -> String {
    format!("{}", Uuid::new_v4().simple())
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OirState {
    Accepted,
    Activated,
    Nonconforming,
    Contingent,
}

impl OirState {
    /// States in which the intent has been deconflicted and must appear in others' keys.
    pub fn is_nominal(self) -> bool {
        matches!(self, OirState::Accepted | OirState::Activated)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Availability {
    #[default]
    Unknown,
    Normal,
    Down,
}

#[derive(Clone, Debug, PartialEq)]
pub struct OperationalIntent {
    pub id: EntityId,
    pub manager: String,
    pub version: i32,
    pub state: OirState,
    pub ovn: String,
    pub extents: Vec<Volume>,
    pub uss_base_url: String,
    pub subscription_id: Option<EntityId>,
    pub updated_at: Timestamp,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Constraint {
    pub id: EntityId,
    pub manager: String,
    pub version: i32,
    pub ovn: String,
    pub extents: Vec<Volume>,
    pub uss_base_url: String,
    pub updated_at: Timestamp,
}

/// Both F3548 and F3411 subscriptions; `kind` says which API owns it.
#[derive(Clone, Debug, PartialEq)]
pub struct Subscription {
    pub id: EntityId,
    pub manager: String,
    pub version: String,
    pub notification_index: i32,
    /// One volume for explicit subscriptions; implicit ones grow by the extents of the intents they serve.
    pub extents: Vec<Volume>,
    pub uss_base_url: String,
    pub notify_for_operational_intents: bool,
    pub notify_for_constraints: bool,
    pub implicit: bool,
    pub updated_at: Timestamp,
}

#[derive(Clone, Debug, PartialEq)]
pub struct AvailabilityRecord {
    pub uss: String,
    pub availability: Availability,
    pub version: String,
}

/// An archived problem report; its body is kept as the reporter sent it.
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    pub id: String,
    pub reporter: String,
    pub received_at: Timestamp,
    pub body: String,
}

/// The F3411 API through which an RID entity was last written; it decides what its URL means.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RidApi {
    /// F3411-19 (`/v1/dss`): the URL is a full endpoint (`flights_url`, `identification_service_area_url`).
    V19,
    /// F3411-22a (`/rid/v2/dss`): the URL is the USS base URL the API paths are appended to.
    V22a,
}

/// A URL as one F3411 version gave it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RidUrl {
    pub api: RidApi,
    pub url: String,
}

/// An F3411 identification service area: where an RID service provider has flights to tell about.
#[derive(Clone, Debug, PartialEq)]
pub struct IdentificationServiceArea {
    pub id: EntityId,
    pub owner: String,
    /// Opaque token, new on every change (never on reads).
    pub version: String,
    /// One volume whose start and end are always set.
    pub extents: Volume,
    /// v22a `uss_base_url` or v19 `flights_url`.
    pub url: RidUrl,
    pub updated_at: Timestamp,
}

/// An F3411 subscription of a display provider to the ISAs of an area; distinct from F3548 subscriptions.
#[derive(Clone, Debug, PartialEq)]
pub struct RidSubscription {
    pub id: EntityId,
    pub owner: String,
    pub version: String,
    pub notification_index: i32,
    /// One volume whose start and end are always set.
    pub extents: Volume,
    /// v22a `uss_base_url` or v19 `callbacks.identification_service_area_url`.
    pub url: RidUrl,
    pub updated_at: Timestamp,
}

/// Whether `text` could be a token this DSS issued (lowercase hex, at most 64 characters). Anything else in a
/// path is a malformed request rather than a stale version.
pub fn is_token_shaped(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 64
        && text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// True when a single volume ended before `now`.
pub(crate) fn volume_ended(v: &Volume, now: Timestamp) -> bool {
    v.time.hi.is_some_and(|end| end < now)
}

/// Span of several volumes, each with start and end, as references report it.
pub fn time_span(extents: &[Volume]) -> (Option<Timestamp>, Option<Timestamp>) {
    let start = extents.iter().filter_map(|v| v.time.lo).min();
    let end = extents.iter().filter_map(|v| v.time.hi).max();
    (start, end)
}

/// True when every volume has ended before `now`; such entities are logically gone.
pub(crate) fn ended_before(extents: &[Volume], now: Timestamp) -> bool {
    match time_span(extents).1 {
        Some(end) => end < now,
        None => false,
    }
}

/// The 4D test between two sets of volumes: any pair intersecting.
pub fn any_intersect(a: &[Volume], b: &[Volume]) -> bool {
    a.iter().any(|va| b.iter().any(|vb| va.intersects(vb)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entity_id_accepts_only_uuid_v4() {
        assert!(EntityId::parse("2f8343be-6482-4d1b-a474-16847e01af1e").is_some());
        assert!(EntityId::parse("2F8343BE-6482-4D1B-A474-16847E01AF1E").is_some());
        // Version 1.
        assert!(EntityId::parse("2f8343be-6482-1d1b-a474-16847e01af1e").is_none());
        // Wrong variant.
        assert!(EntityId::parse("2f8343be-6482-4d1b-c474-16847e01af1e").is_none());
        // No hyphens, braces, too short.
        assert!(EntityId::parse("2f8343be64824d1ba47416847e01af1e").is_none());
        assert!(EntityId::parse("{2f8343be-6482-4d1b-a474-16847e01af1}").is_none());
        assert!(EntityId::parse("not-a-uuid").is_none());
    }

    #[test]
    fn tokens_are_long_lowercase_alphanumeric_and_unique() {
        let a = new_token();
        assert!(a.len() >= 16);
        assert!(a.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()));
        assert_ne!(a, new_token());
        assert!(is_token_shaped(&a));
    }

    #[test]
    fn token_shape_rejects_what_we_never_issue() {
        assert!(is_token_shaped("0123456789abcdef"));
        assert!(!is_token_shaped(""));
        assert!(!is_token_shaped("notacorrectversion"));
        assert!(!is_token_shaped("ABCDEF"));
        assert!(!is_token_shaped(&"a".repeat(65)));
    }
}
