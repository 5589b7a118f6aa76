//! The on-disk encoding of domain entities: serde records, so the domain types stay free of formats.

use chrono::DateTime;
use entente_dss::{
    Availability, AvailabilityRecord, Constraint, EntityId, IdentificationServiceArea, OirState,
    OperationalIntent, Report, RidApi, RidSubscription, RidUrl, StoreError, Subscription, Timestamp, Volume,
};
use entente_geo::{Circle, Interval, LatLng, Outline, Polygon};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Serialize, Deserialize)]
enum OutlineRec {
    Polygon(Vec<(f64, f64)>),
    Circle { lat: f64, lng: f64, radius_m: f64 },
}

#[derive(Serialize, Deserialize)]
struct VolumeRec {
    outline: OutlineRec,
    alt_lo: Option<f64>,
    alt_hi: Option<f64>,
    t_lo: Option<i64>,
    t_hi: Option<i64>,
}

#[derive(Serialize, Deserialize)]
struct IntentRec {
    id: u128,
    manager: String,
    version: i32,
    state: u8,
    ovn: String,
    extents: Vec<VolumeRec>,
    uss_base_url: String,
    subscription_id: Option<u128>,
    updated_at: i64,
}

#[derive(Serialize, Deserialize)]
struct ConstraintRec {
    id: u128,
    manager: String,
    version: i32,
    ovn: String,
    extents: Vec<VolumeRec>,
    uss_base_url: String,
    updated_at: i64,
}

#[derive(Serialize, Deserialize)]
struct SubscriptionRec {
    id: u128,
    manager: String,
    version: String,
    notification_index: i32,
    extents: Vec<VolumeRec>,
    uss_base_url: String,
    notify_for_operational_intents: bool,
    notify_for_constraints: bool,
    implicit: bool,
    updated_at: i64,
}

#[derive(Serialize, Deserialize)]
struct AvailabilityRec {
    uss: String,
    availability: u8,
    version: String,
}

#[derive(Serialize, Deserialize)]
struct ReportRec {
    id: String,
    reporter: String,
    received_at: i64,
    body: String,
}

#[derive(Serialize, Deserialize)]
struct RidUrlRec {
    /// 0 = F3411-19, 1 = F3411-22a.
    api: u8,
    url: String,
}

#[derive(Serialize, Deserialize)]
struct IsaRec {
    id: u128,
    owner: String,
    version: String,
    extents: VolumeRec,
    url: RidUrlRec,
    updated_at: i64,
}

#[derive(Serialize, Deserialize)]
struct RidSubscriptionRec {
    id: u128,
    owner: String,
    version: String,
    notification_index: i32,
    extents: VolumeRec,
    url: RidUrlRec,
    updated_at: i64,
}

fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(what.to_string())
}

/// Nanoseconds since the epoch; chrono's range beyond year 2262 is refused at the API edge.
fn time_to(t: Timestamp) -> i64 {
    t.timestamp_nanos_opt().unwrap_or(i64::MAX)
}

fn time_from(n: i64) -> Timestamp {
    DateTime::from_timestamp_nanos(n)
}

fn volume_to(v: &Volume) -> VolumeRec {
    let outline = match &v.outline {
        Outline::Polygon(p) => OutlineRec::Polygon(p.vertices().iter().map(|p| (p.lat, p.lng)).collect()),
        Outline::Circle(c) => {
            OutlineRec::Circle { lat: c.center().lat, lng: c.center().lng, radius_m: c.radius_m() }
        }
    };
    VolumeRec {
        outline,
        alt_lo: v.altitude.lo,
        alt_hi: v.altitude.hi,
        t_lo: v.time.lo.map(time_to),
        t_hi: v.time.hi.map(time_to),
    }
}

fn volume_from(r: VolumeRec) -> Result<Volume, StoreError> {
    let outline = match r.outline {
        OutlineRec::Polygon(vs) => Outline::Polygon(
            Polygon::new(vs.into_iter().map(|(lat, lng)| LatLng { lat, lng }).collect()).map_err(corrupt)?,
        ),
        OutlineRec::Circle { lat, lng, radius_m } => {
            Outline::Circle(Circle::new(LatLng { lat, lng }, radius_m).map_err(corrupt)?)
        }
    };
    Ok(Volume {
        outline,
        altitude: Interval { lo: r.alt_lo, hi: r.alt_hi },
        time: Interval { lo: r.t_lo.map(time_from), hi: r.t_hi.map(time_from) },
    })
}

fn volumes_from(rs: Vec<VolumeRec>) -> Result<Vec<Volume>, StoreError> {
    rs.into_iter().map(volume_from).collect()
}

fn state_to(s: OirState) -> u8 {
    match s {
        OirState::Accepted => 0,
        OirState::Activated => 1,
        OirState::Nonconforming => 2,
        OirState::Contingent => 3,
    }
}

fn state_from(b: u8) -> Result<OirState, StoreError> {
    Ok(match b {
        0 => OirState::Accepted,
        1 => OirState::Activated,
        2 => OirState::Nonconforming,
        3 => OirState::Contingent,
        other => return Err(corrupt(format!("unknown intent state {other}"))),
    })
}

fn availability_to(a: Availability) -> u8 {
    match a {
        Availability::Unknown => 0,
        Availability::Normal => 1,
        Availability::Down => 2,
    }
}

fn availability_from(b: u8) -> Result<Availability, StoreError> {
    Ok(match b {
        0 => Availability::Unknown,
        1 => Availability::Normal,
        2 => Availability::Down,
        other => return Err(corrupt(format!("unknown availability {other}"))),
    })
}

pub(crate) fn id_key(id: EntityId) -> u128 {
    id.as_uuid().as_u128()
}

fn id_from(k: u128) -> EntityId {
    EntityId::from_uuid(Uuid::from_u128(k))
}

fn encode<T: Serialize>(rec: &T) -> Vec<u8> {
    // Encoding into a Vec cannot fail for these plain records.
    postcard::to_allocvec(rec).unwrap_or_default()
}

fn decode<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Result<T, StoreError> {
    postcard::from_bytes(bytes).map_err(corrupt)
}

pub(crate) fn encode_intent(o: &OperationalIntent) -> Vec<u8> {
    encode(&IntentRec {
        id: id_key(o.id),
        manager: o.manager.clone(),
        version: o.version,
        state: state_to(o.state),
        ovn: o.ovn.clone(),
        extents: o.extents.iter().map(volume_to).collect(),
        uss_base_url: o.uss_base_url.clone(),
        subscription_id: o.subscription_id.map(id_key),
        updated_at: time_to(o.updated_at),
    })
}

pub(crate) fn decode_intent(bytes: &[u8]) -> Result<OperationalIntent, StoreError> {
    let r: IntentRec = decode(bytes)?;
    Ok(OperationalIntent {
        id: id_from(r.id),
        manager: r.manager,
        version: r.version,
        state: state_from(r.state)?,
        ovn: r.ovn,
        extents: volumes_from(r.extents)?,
        uss_base_url: r.uss_base_url,
        subscription_id: r.subscription_id.map(id_from),
        updated_at: time_from(r.updated_at),
    })
}

pub(crate) fn encode_constraint(c: &Constraint) -> Vec<u8> {
    encode(&ConstraintRec {
        id: id_key(c.id),
        manager: c.manager.clone(),
        version: c.version,
        ovn: c.ovn.clone(),
        extents: c.extents.iter().map(volume_to).collect(),
        uss_base_url: c.uss_base_url.clone(),
        updated_at: time_to(c.updated_at),
    })
}

pub(crate) fn decode_constraint(bytes: &[u8]) -> Result<Constraint, StoreError> {
    let r: ConstraintRec = decode(bytes)?;
    Ok(Constraint {
        id: id_from(r.id),
        manager: r.manager,
        version: r.version,
        ovn: r.ovn,
        extents: volumes_from(r.extents)?,
        uss_base_url: r.uss_base_url,
        updated_at: time_from(r.updated_at),
    })
}

pub(crate) fn encode_subscription(s: &Subscription) -> Vec<u8> {
    encode(&SubscriptionRec {
        id: id_key(s.id),
        manager: s.manager.clone(),
        version: s.version.clone(),
        notification_index: s.notification_index,
        extents: s.extents.iter().map(volume_to).collect(),
        uss_base_url: s.uss_base_url.clone(),
        notify_for_operational_intents: s.notify_for_operational_intents,
        notify_for_constraints: s.notify_for_constraints,
        implicit: s.implicit,
        updated_at: time_to(s.updated_at),
    })
}

pub(crate) fn decode_subscription(bytes: &[u8]) -> Result<Subscription, StoreError> {
    let r: SubscriptionRec = decode(bytes)?;
    Ok(Subscription {
        id: id_from(r.id),
        manager: r.manager,
        version: r.version,
        notification_index: r.notification_index,
        extents: volumes_from(r.extents)?,
        uss_base_url: r.uss_base_url,
        notify_for_operational_intents: r.notify_for_operational_intents,
        notify_for_constraints: r.notify_for_constraints,
        implicit: r.implicit,
        updated_at: time_from(r.updated_at),
    })
}

pub(crate) fn encode_availability(a: &AvailabilityRecord) -> Vec<u8> {
    encode(&AvailabilityRec {
        uss: a.uss.clone(),
        availability: availability_to(a.availability),
        version: a.version.clone(),
    })
}

pub(crate) fn decode_availability(bytes: &[u8]) -> Result<AvailabilityRecord, StoreError> {
    let r: AvailabilityRec = decode(bytes)?;
    Ok(AvailabilityRecord {
        uss: r.uss,
        availability: availability_from(r.availability)?,
        version: r.version,
    })
}

pub(crate) fn encode_report(r: &Report) -> Vec<u8> {
    encode(&ReportRec {
        id: r.id.clone(),
        reporter: r.reporter.clone(),
        received_at: time_to(r.received_at),
        body: r.body.clone(),
    })
}

fn rid_url_to(u: &RidUrl) -> RidUrlRec {
    let api = match u.api {
        RidApi::V19 => 0,
        RidApi::V22a => 1,
    };
    RidUrlRec { api, url: u.url.clone() }
}

fn rid_url_from(r: RidUrlRec) -> Result<RidUrl, StoreError> {
    let api = match r.api {
        0 => RidApi::V19,
        1 => RidApi::V22a,
        other => return Err(corrupt(format!("unknown F3411 API version {other}"))),
    };
    Ok(RidUrl { api, url: r.url })
}

pub(crate) fn encode_isa(i: &IdentificationServiceArea) -> Vec<u8> {
    encode(&IsaRec {
        id: id_key(i.id),
        owner: i.owner.clone(),
        version: i.version.clone(),
        extents: volume_to(&i.extents),
        url: rid_url_to(&i.url),
        updated_at: time_to(i.updated_at),
    })
}

pub(crate) fn decode_isa(bytes: &[u8]) -> Result<IdentificationServiceArea, StoreError> {
    let r: IsaRec = decode(bytes)?;
    Ok(IdentificationServiceArea {
        id: id_from(r.id),
        owner: r.owner,
        version: r.version,
        extents: volume_from(r.extents)?,
        url: rid_url_from(r.url)?,
        updated_at: time_from(r.updated_at),
    })
}

pub(crate) fn encode_rid_subscription(s: &RidSubscription) -> Vec<u8> {
    encode(&RidSubscriptionRec {
        id: id_key(s.id),
        owner: s.owner.clone(),
        version: s.version.clone(),
        notification_index: s.notification_index,
        extents: volume_to(&s.extents),
        url: rid_url_to(&s.url),
        updated_at: time_to(s.updated_at),
    })
}

pub(crate) fn decode_rid_subscription(bytes: &[u8]) -> Result<RidSubscription, StoreError> {
    let r: RidSubscriptionRec = decode(bytes)?;
    Ok(RidSubscription {
        id: id_from(r.id),
        owner: r.owner,
        version: r.version,
        notification_index: r.notification_index,
        extents: volume_from(r.extents)?,
        url: rid_url_from(r.url)?,
        updated_at: time_from(r.updated_at),
    })
}
