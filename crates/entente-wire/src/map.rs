//! The web map's API: the airspace as the page draws it (never an OVN), the USSs it plans for, and the query
//! strings of its reads.

use entente_dss::{Picture, Shown, Timestamp, Volume};
use entente_geo::Outline;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::scd::OperationalIntentState;

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AirspaceQuery {
    /// RFC 3339 instant: only the volumes in force then are shown.
    pub at: Option<String>,
}

/// What the page draws; ids are UUIDs, times RFC 3339, altitudes metres WGS84, positions `[lng, lat]`
/// as in GeoJSON.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AirspaceView {
    pub taken_at: Timestamp,
    pub at: Option<Timestamp>,
    pub operational_intents: Vec<IntentOut>,
    pub constraints: Vec<ConstraintOut>,
    pub subscriptions: Vec<SubscriptionOut>,
    pub identification_service_areas: Vec<IsaOut>,
    /// Pairs of intents meeting in 4D, the lower id first.
    pub conflicts: Vec<[Uuid; 2]>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct IntentOut {
    pub id: Uuid,
    pub manager: String,
    pub state: OperationalIntentState,
    pub version: i32,
    pub uss_base_url: String,
    pub subscription_id: Option<Uuid>,
    /// The other intents this one meets in 4D, so the page can flag it without searching the pairs.
    pub conflicts_with: Vec<Uuid>,
    pub volumes: Vec<VolumeOut>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ConstraintOut {
    pub id: Uuid,
    pub manager: String,
    pub version: i32,
    pub uss_base_url: String,
    pub volumes: Vec<VolumeOut>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SubscriptionOut {
    pub id: Uuid,
    pub manager: String,
    pub implicit: bool,
    pub notify_for_operational_intents: bool,
    pub notify_for_constraints: bool,
    pub notification_index: i32,
    pub uss_base_url: String,
    pub volumes: Vec<VolumeOut>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct IsaOut {
    pub id: Uuid,
    pub owner: String,
    pub url: String,
    pub volumes: Vec<VolumeOut>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct VolumeOut {
    pub outline: OutlineOut,
    pub altitude_lower_m: Option<f64>,
    pub altitude_upper_m: Option<f64>,
    pub time_start: Option<Timestamp>,
    pub time_end: Option<Timestamp>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum OutlineOut {
    Polygon { coordinates: Vec<[f64; 2]> },
    Circle { center: [f64; 2], radius_m: f64 },
}

impl AirspaceView {
    /// The page's view of a picture of the airspace.
    pub fn from_picture(picture: &Picture) -> AirspaceView {
        let conflicts: Vec<[Uuid; 2]> =
            picture.conflicts.iter().map(|(a, b)| [a.as_uuid(), b.as_uuid()]).collect();
        let partners = |id: Uuid| -> Vec<Uuid> {
            conflicts
                .iter()
                .filter_map(|&[a, b]| {
                    if a == id {
                        Some(b)
                    } else if b == id {
                        Some(a)
                    } else {
                        None
                    }
                })
                .collect()
        };
        AirspaceView {
            taken_at: picture.taken_at,
            at: picture.at,
            operational_intents: picture
                .operational_intents
                .iter()
                .map(|Shown { entity: o, volumes }| IntentOut {
                    id: o.id.as_uuid(),
                    manager: o.manager.clone(),
                    state: o.state.into(),
                    version: o.version,
                    uss_base_url: o.uss_base_url.clone(),
                    subscription_id: o.subscription_id.map(|s| s.as_uuid()),
                    conflicts_with: partners(o.id.as_uuid()),
                    volumes: volumes_out(volumes),
                })
                .collect(),
            constraints: picture
                .constraints
                .iter()
                .map(|Shown { entity: c, volumes }| ConstraintOut {
                    id: c.id.as_uuid(),
                    manager: c.manager.clone(),
                    version: c.version,
                    uss_base_url: c.uss_base_url.clone(),
                    volumes: volumes_out(volumes),
                })
                .collect(),
            subscriptions: picture
                .subscriptions
                .iter()
                .map(|Shown { entity: s, volumes }| SubscriptionOut {
                    id: s.id.as_uuid(),
                    manager: s.manager.clone(),
                    implicit: s.implicit,
                    notify_for_operational_intents: s.notify_for_operational_intents,
                    notify_for_constraints: s.notify_for_constraints,
                    notification_index: s.notification_index,
                    uss_base_url: s.uss_base_url.clone(),
                    volumes: volumes_out(volumes),
                })
                .collect(),
            identification_service_areas: picture
                .isas
                .iter()
                .map(|Shown { entity: i, volumes }| IsaOut {
                    id: i.id.as_uuid(),
                    owner: i.owner.clone(),
                    url: i.url.url.clone(),
                    volumes: volumes_out(volumes),
                })
                .collect(),
            conflicts,
        }
    }
}

fn volumes_out(volumes: &[Volume]) -> Vec<VolumeOut> {
    volumes
        .iter()
        .map(|v| VolumeOut {
            outline: match &v.outline {
                Outline::Polygon(p) => {
                    OutlineOut::Polygon { coordinates: p.vertices().iter().map(|p| [p.lng, p.lat]).collect() }
                }
                Outline::Circle(c) => {
                    OutlineOut::Circle { center: [c.center().lng, c.center().lat], radius_m: c.radius_m() }
                }
            },
            altitude_lower_m: v.altitude.lo,
            altitude_upper_m: v.altitude.hi,
            time_start: v.time.lo,
            time_end: v.time.hi,
        })
        .collect()
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct OperatorsView {
    pub operators: Vec<OperatorOut>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct OperatorOut {
    pub name: String,
    pub uss_base_url: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ViewQuery {
    pub view: Option<String>,
}

/// The filters of an operator's flight list, passed on to its USS as given (the USS checks them).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct FlightsQuery {
    pub state: Option<String>,
    pub time_start: Option<String>,
    pub time_end: Option<String>,
}

#[cfg(test)]
mod tests;
