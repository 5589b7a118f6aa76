//! A zone as the planner takes it over an interval: a prohibited zone becomes F3548-style constraint volumes
//! (outline, W84 altitudes, one per time window), any other an advisory carrying the same volumes with the
//! zone's message, conditions and contacts for the operator.

use chrono::{DateTime, Utc};
use entente_geo::{Interval, Volume4};

use crate::altitude::{Terrain, w84_band};
use crate::error::GeozoneError;
use crate::model::{Authority, Restriction, Text, Zone};
use crate::schedule::windows;

/// What a zone means to flights planned within an interval.
#[derive(Clone, Debug, PartialEq)]
pub enum Directive {
    /// No flight may enter these volumes.
    Constraint(Constraint),
    /// Flights may enter, and their operators are told the zone's terms.
    Advisory(Advisory),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Constraint {
    /// The zone's identifier.
    pub zone: String,
    /// Each volume of the zone in each window in which it applies (none if it does not apply in the interval).
    pub volumes: Vec<Volume4<DateTime<Utc>>>,
    /// Some AGL limit was taken at its widest for want of terrain data.
    pub ground_unknown: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Advisory {
    pub zone: String,
    /// Never `Prohibited`.
    pub restriction: Restriction,
    pub volumes: Vec<Volume4<DateTime<Utc>>>,
    pub message: Vec<Text>,
    pub conditions: Option<String>,
    /// Whom to ask (for an authorisation, say) or tell.
    pub contacts: Vec<Authority>,
    pub ground_unknown: bool,
}

impl Directive {
    pub fn volumes(&self) -> &[Volume4<DateTime<Utc>>] {
        match self {
            Directive::Constraint(c) => &c.volumes,
            Directive::Advisory(a) => &a.volumes,
        }
    }
}

/// The zone over `[start, end)`: its volumes in W84 (AGL at its widest where `terrain` has no data) in each
/// window in which it applies.
pub fn directive(
    zone: &Zone,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    terrain: &dyn Terrain,
) -> Result<Directive, GeozoneError> {
    let windows = windows(&zone.applicability, start, end)?;
    let mut ground_unknown = false;
    let mut volumes = Vec::with_capacity(zone.volumes.len() * windows.len());
    for v in &zone.volumes {
        let band = w84_band(v, terrain);
        ground_unknown |= band.ground_unknown;
        volumes.extend(windows.iter().map(|w| Volume4 {
            outline: v.outline.clone(),
            altitude: band.altitude,
            time: Interval { lo: Some(w.start), hi: Some(w.end) },
        }));
    }
    let zone_id = zone.identifier.clone();
    Ok(match zone.restriction {
        Restriction::Prohibited => {
            Directive::Constraint(Constraint { zone: zone_id, volumes, ground_unknown })
        }
        restriction => Directive::Advisory(Advisory {
            zone: zone_id,
            restriction,
            volumes,
            message: zone.message.clone(),
            conditions: zone.restriction_conditions.clone(),
            contacts: zone.authorities.clone(),
            ground_unknown,
        }),
    })
}
