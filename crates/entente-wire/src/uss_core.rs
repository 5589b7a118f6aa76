//! Conversions between the USS core's domain values (`entente_uss::service`) and the F3548 shapes that carry
//! them: references, intents with details, subscribers, telemetry, and a refused plan's alternatives.

use entente_dss::{EntityId, Subscriber};
use entente_geo::Interval;
use entente_uss::authorisation::{AuthorisationRequest, FlightAuthorisation};
use entente_uss::service::{IntentRef, OwnZone, Published, Refusal, Telemetry, Velocity, ZoneRef};
use entente_uss::{FlightState, Lateral, OperatorLimits, Position, Priority, Timestamp};

use crate::interuss::flight_planning::FlightAuthorisationData;
use crate::operator::{AlternativePlan, FlightRequest, PlanConflictResponse, PlanLimits, RouteRequest};
use crate::scd::{
    ConstraintReference, NULL_SUBSCRIPTION, OperationalIntentReference, OperationalIntentState,
    SubscriberToNotify, UssAvailabilityState,
};
use crate::uss::{
    Constraint, ConstraintDetails, OperationalIntent, OperationalIntentDetails, VehicleTelemetry,
};
use crate::{Altitude, LatLngPoint, WireError, time_in, time_out, volume_out, volumes_in};

/// The DSS state of a flight in `state`; `None` for `Ended`, which the DSS does not hold.
pub fn state_out(state: FlightState) -> Option<OperationalIntentState> {
    match state {
        FlightState::Accepted => Some(OperationalIntentState::Accepted),
        FlightState::Activated => Some(OperationalIntentState::Activated),
        FlightState::Nonconforming => Some(OperationalIntentState::Nonconforming),
        FlightState::Contingent => Some(OperationalIntentState::Contingent),
        FlightState::Ended => None,
    }
}

pub fn state_in(state: OperationalIntentState) -> FlightState {
    match state {
        OperationalIntentState::Accepted => FlightState::Accepted,
        OperationalIntentState::Activated => FlightState::Activated,
        OperationalIntentState::Nonconforming => FlightState::Nonconforming,
        OperationalIntentState::Contingent => FlightState::Contingent,
    }
}

pub fn intent_ref_in(r: &OperationalIntentReference, path: &str) -> Result<IntentRef, WireError> {
    Ok(IntentRef {
        id: r.id.clone(),
        manager: r.manager.clone(),
        version: r.version,
        state: state_in(r.state),
        ovn: r.ovn.clone(),
        time: Interval {
            lo: Some(time_in(&r.time_start, &format!("{path}.time_start"))?),
            hi: Some(time_in(&r.time_end, &format!("{path}.time_end"))?),
        },
        uss_base_url: r.uss_base_url.clone(),
        subscription_id: Some(r.subscription_id.clone()).filter(|s| s != NULL_SUBSCRIPTION),
        availability: r.uss_availability.into(),
    })
}

/// The reference as F3548 shows it. A reference always spans a start and an end (the DSS gives both); an unbounded
/// side, which no reference has, would be shown as the other.
pub fn intent_ref_out(r: &IntentRef) -> OperationalIntentReference {
    let at = |t: Option<Timestamp>, or: Option<Timestamp>| time_out(t.or(or).unwrap_or_default());
    OperationalIntentReference {
        id: r.id.clone(),
        manager: r.manager.clone(),
        uss_availability: UssAvailabilityState::from(r.availability),
        version: r.version,
        state: state_out(r.state).unwrap_or(OperationalIntentState::Accepted),
        ovn: r.ovn.clone(),
        time_start: at(r.time.lo, r.time.hi),
        time_end: at(r.time.hi, r.time.lo),
        uss_base_url: r.uss_base_url.clone(),
        subscription_id: r.subscription_id.clone().unwrap_or_else(|| NULL_SUBSCRIPTION.to_owned()),
    }
}

pub fn zone_ref_in(r: &ConstraintReference) -> ZoneRef {
    ZoneRef {
        id: r.id.clone(),
        manager: r.manager.clone(),
        ovn: r.ovn.clone(),
        version: r.version,
        uss_base_url: r.uss_base_url.clone(),
        availability: r.uss_availability.into(),
    }
}

/// A constraint this USS manages as F3548 serves it: its reference spans its volumes, as the DSS's does.
pub fn own_zone_out(z: &OwnZone) -> Constraint {
    let (start, end) = entente_dss::time_span(&z.volumes);
    let r = &z.reference;
    Constraint {
        reference: ConstraintReference {
            id: r.id.clone(),
            manager: r.manager.clone(),
            uss_availability: UssAvailabilityState::from(r.availability),
            version: r.version,
            ovn: r.ovn.clone(),
            time_start: time_out(start.or(end).unwrap_or_default()),
            time_end: time_out(end.or(start).unwrap_or_default()),
            uss_base_url: r.uss_base_url.clone(),
        },
        details: ConstraintDetails {
            volumes: z.volumes.iter().map(volume_out).collect(),
            kind: z.kind.clone(),
        },
    }
}

/// A constraint this USS manages as a record holds it, each volume within `max_vertices`.
pub fn own_zone_in(c: &Constraint, path: &str, max_vertices: usize) -> Result<OwnZone, WireError> {
    Ok(OwnZone {
        reference: zone_ref_in(&c.reference),
        volumes: volumes_in(&c.details.volumes, &format!("{path}.details.volumes"), max_vertices)?,
        kind: c.details.kind.clone(),
    })
}

/// An intent with details as a peer or a record holds it, each volume within `max_vertices`.
pub fn published_in(i: &OperationalIntent, path: &str, max_vertices: usize) -> Result<Published, WireError> {
    Ok(Published {
        reference: intent_ref_in(&i.reference, &format!("{path}.reference"))?,
        volumes: volumes_in(&i.details.volumes, &format!("{path}.details.volumes"), max_vertices)?,
        off_nominal: volumes_in(
            &i.details.off_nominal_volumes,
            &format!("{path}.details.off_nominal_volumes"),
            max_vertices,
        )?,
        priority: Priority(i.details.priority),
    })
}

pub fn published_out(p: &Published) -> OperationalIntent {
    OperationalIntent {
        reference: intent_ref_out(&p.reference),
        details: OperationalIntentDetails {
            volumes: p.volumes.iter().map(volume_out).collect(),
            off_nominal_volumes: p.off_nominal.iter().map(volume_out).collect(),
            priority: p.priority.0,
        },
    }
}

/// Whom a DSS says to notify; a subscription id that is not a UUID is the DSS's fault, named by its path.
pub fn subscribers_in(subscribers: &[SubscriberToNotify], path: &str) -> Result<Vec<Subscriber>, WireError> {
    subscribers
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let subscriptions = s
                .subscriptions
                .iter()
                .enumerate()
                .map(|(j, st)| {
                    let id = EntityId::parse(&st.subscription_id).ok_or_else(|| {
                        WireError::field(
                            format!("{path}[{i}].subscriptions[{j}].subscription_id"),
                            "must be a UUID",
                        )
                    })?;
                    Ok(entente_dss::SubscriptionState {
                        subscription_id: id,
                        notification_index: st.notification_index,
                    })
                })
                .collect::<Result<_, WireError>>()?;
            Ok(Subscriber { uss_base_url: s.uss_base_url.clone(), subscriptions })
        })
        .collect()
}

/// An operator's telemetry: a position with its altitude in metres above the WGS84 ellipsoid is required.
pub fn telemetry_in(t: &VehicleTelemetry) -> Result<Telemetry, WireError> {
    let position = t
        .position
        .as_ref()
        .ok_or_else(|| WireError::field("position", "is required in operator telemetry"))?;
    let altitude = position
        .altitude
        .as_ref()
        .ok_or_else(|| WireError::field("position.altitude", "is required in operator telemetry"))?;
    if altitude.reference != "W84" || altitude.units != "M" {
        return Err(WireError::field(
            "position.altitude",
            "must be in metres (\"M\") above the WGS84 ellipsoid (\"W84\")",
        ));
    }
    Ok(Telemetry {
        fix: Position {
            at: entente_geo::LatLng::new(position.latitude, position.longitude),
            altitude_m: altitude.value,
            time: time_in(&t.time_measured, "time_measured")?,
        },
        accuracy_h: position.accuracy_h.clone(),
        accuracy_v: position.accuracy_v.clone(),
        extrapolated: position.extrapolated,
        velocity: t.velocity.as_ref().map(|v| Velocity {
            speed: v.speed,
            units: v.units_speed.clone(),
            track: v.track,
        }),
    })
}

/// A U-space flight authorisation request found at `path`, checked by the rules of its fields; a fault is named by
/// its path (`flight_plan.uspace_flight_authorisation.operator_id`).
pub fn authorisation_in(a: &FlightAuthorisationData, path: &str) -> Result<FlightAuthorisation, WireError> {
    FlightAuthorisation::validate(&AuthorisationRequest {
        uas_serial_number: &a.uas_serial_number,
        operation_mode: &a.operation_mode,
        operation_category: &a.operation_category,
        uas_class: &a.uas_class,
        uas_type_certificate: a.uas_type_certificate.as_deref(),
        identification_technologies: &a.identification_technologies,
        connectivity_methods: &a.connectivity_methods,
        endurance_minutes: a.endurance_minutes,
        emergency_procedure_url: &a.emergency_procedure_url,
        operator_id: &a.operator_id,
        uas_id: a.uas_id.as_deref(),
    })
    .map_err(|e| WireError::field(format!("{path}.{}", e.field), e.rule))
}

/// A checked authorisation request as the APIs write it, for an alternative to carry the flight's.
pub fn authorisation_out(a: &FlightAuthorisation) -> FlightAuthorisationData {
    FlightAuthorisationData {
        uas_serial_number: a.uas_serial_number.as_str().to_owned(),
        operation_mode: a.operation_mode.name().to_owned(),
        operation_category: a.operation_category.name().to_owned(),
        uas_class: a.uas_class.name().to_owned(),
        identification_technologies: a.identification_technologies.clone(),
        uas_type_certificate: a.uas_type_certificate.clone(),
        connectivity_methods: a.connectivity_methods.clone(),
        endurance_minutes: f64::from(a.endurance_minutes),
        emergency_procedure_url: a.emergency_procedure_url.clone(),
        operator_id: a.operator_id.as_str().to_owned(),
        uas_id: a.uas_id.clone(),
    }
}

pub fn telemetry_out(t: &Telemetry) -> VehicleTelemetry {
    VehicleTelemetry {
        time_measured: time_out(t.fix.time),
        position: Some(crate::uss::Position {
            longitude: t.fix.at.lng,
            latitude: t.fix.at.lat,
            accuracy_h: t.accuracy_h.clone(),
            accuracy_v: t.accuracy_v.clone(),
            extrapolated: t.extrapolated,
            altitude: Some(metres(t.fix.altitude_m)),
        }),
        velocity: t.velocity.as_ref().map(|v| crate::uss::Velocity {
            speed: v.speed,
            units_speed: v.units.clone(),
            track: v.track,
        }),
    }
}

fn metres(value: f64) -> Altitude {
    Altitude { value, reference: "W84".into(), units: "M".into() }
}

/// The 409 of a refused plan: each alternative as the request the operator submits to take it, a detour as the
/// route it flies (shifted like the volumes), any other as its volumes.
pub fn plan_conflict_out(r: &Refusal) -> PlanConflictResponse {
    PlanConflictResponse {
        message: r.message(),
        conflicting_intents: r.blocking.clone(),
        alternatives: r.alternatives.iter().map(|a| alternative_out(a, r)).collect(),
    }
}

fn alternative_out(a: &entente_uss::Alternative, r: &Refusal) -> AlternativePlan {
    let route = match (&a.lateral, &r.route) {
        (Lateral::Detour { waypoints }, Some(route)) => {
            let at = |t: Option<Timestamp>| t.map(|t| time_out(t + a.time_shift));
            let height = |h: Option<f64>| h.map(|h| metres(h + a.altitude_shift_m));
            match (at(route.time.lo), at(route.time.hi), height(route.altitude.lo), height(route.altitude.hi))
            {
                (Some(time_start), Some(time_end), Some(altitude_lower), Some(altitude_upper)) => {
                    Some(RouteRequest {
                        waypoints: waypoints.iter().map(|w| LatLngPoint { lat: w.lat, lng: w.lng }).collect(),
                        buffer_m: route.buffer_m,
                        altitude_lower,
                        altitude_upper,
                        time_start,
                        time_end,
                    })
                }
                _ => None,
            }
        }
        _ => None,
    };
    let volumes = if route.is_some() { Vec::new() } else { a.volumes.iter().map(volume_out).collect() };
    let limits = &r.limits;
    let limits = (*limits != OperatorLimits::default()).then(|| PlanLimits {
        altitude_floor_m: limits.altitude_floor_m,
        altitude_ceiling_m: limits.altitude_ceiling_m,
        earliest_start: limits.earliest_start.map(time_out),
        latest_end: limits.latest_end.map(time_out),
        max_lateral_m: limits.max_lateral_m,
        shape_may_change: limits.shape_may_change,
    });
    AlternativePlan {
        time_shift_seconds: a.time_shift.num_seconds(),
        altitude_shift_m: a.altitude_shift_m,
        lateral_m: a.lateral_m,
        cost: a.cost,
        request: FlightRequest {
            volumes,
            route,
            priority: r.priority.0,
            limits,
            best_effort: false,
            authorisation: r.authorisation.as_ref().map(authorisation_out),
        },
    }
}

/// A zone and its terms, as the operator API shows them.
pub fn zone_out(shown: &entente_uss::geoawareness::ZoneInForce) -> crate::operator::ZoneAdvisory {
    use entente_geozones::{Purpose, Restriction, Text};
    let z = &shown.zone;
    let first = |texts: &[Text]| texts.first().map(|t| t.text.clone());
    crate::operator::ZoneAdvisory {
        set: shown.set.clone(),
        zone: z.identifier.clone(),
        name: first(&z.name).unwrap_or_else(|| z.identifier.clone()),
        restriction: match z.restriction {
            Restriction::Prohibited => "PROHIBITED",
            Restriction::ReqAuthorisation => "REQ_AUTHORISATION",
            Restriction::Conditional => "CONDITIONAL",
            Restriction::NoRestriction => "NO_RESTRICTION",
            Restriction::USpace => "U_SPACE",
        }
        .to_owned(),
        message: z.message.iter().map(|t| t.text.clone()).collect(),
        conditions: z.restriction_conditions.clone(),
        contacts: z
            .authorities
            .iter()
            .map(|c| crate::operator::ZoneContact {
                name: first(&c.name).or_else(|| first(&c.contact_name)).unwrap_or_default(),
                purpose: c.purpose.map(|p| {
                    match p {
                        Purpose::Authorization => "AUTHORIZATION",
                        Purpose::Notification => "NOTIFICATION",
                        Purpose::Information => "INFORMATION",
                    }
                    .to_owned()
                }),
                phone: c.phone.clone(),
                email: c.email.clone(),
                site_url: c.site_url.clone(),
            })
            .collect(),
        ground_unknown: shown.ground_unknown,
    }
}

/// A zone with its volumes in the window asked about, as the operator API lists them for a map.
pub fn zone_shown_out(shown: &entente_uss::geoawareness::ZoneInForce) -> crate::operator::ZoneShown {
    crate::operator::ZoneShown {
        terms: zone_out(shown),
        volumes: shown.volumes.iter().map(volume_out).collect(),
    }
}
