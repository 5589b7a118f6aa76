//! One model of UAS geographical zones for both formats: what ED-269 and ED-318 say of a zone, in plain values.

use chrono::{DateTime, FixedOffset, NaiveTime, Utc, Weekday};
use entente_geo::Outline;

/// A data set: its zones in the order the file lists them.
#[derive(Clone, Debug, PartialEq)]
pub struct DataSet {
    pub zones: Vec<Zone>,
}

/// One UAS geographical zone (a feature of either format).
#[derive(Clone, Debug, PartialEq)]
pub struct Zone {
    /// The authority's identifier. Not unique: data sets (InterUSS's Swiss sample among them) give one
    /// identifier to several features, so a feature is also known by its index. Both formats limit it to 7
    /// characters; the import takes longer ones (that sample has them), the ED-318 export refuses them.
    pub identifier: String,
    /// ISO 3166-1 alpha-3 country code.
    pub country: String,
    pub name: Vec<Text>,
    pub restriction: Restriction,
    pub variant: Variant,
    /// The conditions of a `Conditional` zone, as text; ED-269's list is kept one condition per line.
    pub restriction_conditions: Option<String>,
    pub region: Option<i64>,
    pub reasons: Vec<Reason>,
    pub other_reason_info: Vec<Text>,
    pub regulation_exemption: Option<bool>,
    /// ED-269's `uSpaceClass` (ED-318 has no field for it; its export keeps it in `extendedProperties`).
    pub uspace_class: Vec<String>,
    pub message: Vec<Text>,
    pub authorities: Vec<Authority>,
    /// When the zone applies. Empty means always.
    pub applicability: Vec<TimePeriod>,
    /// At least one.
    pub volumes: Vec<ZoneVolume>,
}

/// A text in a language. ED-269's texts carry no language (`lang` is `None`); ED-318 requires one, so the
/// export writes `und` (BCP 47's undetermined) for them and the import reads `und` back as `None`.
#[derive(Clone, Debug, PartialEq)]
pub struct Text {
    pub text: String,
    pub lang: Option<String>,
}

/// The restriction a zone puts on flights (ED-269 `restriction`, ED-318 `type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Restriction {
    Prohibited,
    /// ED-269 `REQ_AUTHORISATION`, ED-318 `REQ_AUTHORIZATION`.
    ReqAuthorisation,
    Conditional,
    NoRestriction,
    /// ED-318 only: a U-space airspace, where U-space services are required.
    USpace,
}

/// ED-269 `type`, ED-318 `variant`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variant {
    Common,
    Customized,
}

/// Why the zone exists. `ForeignTerritory` is ED-269's, `Dar` ED-318's; each is kept as given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    AirTraffic,
    Sensitive,
    Privacy,
    Population,
    Nature,
    Noise,
    ForeignTerritory,
    Emergency,
    Dar,
    Other,
}

/// Whom to contact about a zone, and what for.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Authority {
    pub name: Vec<Text>,
    pub service: Vec<Text>,
    pub contact_name: Vec<Text>,
    pub site_url: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub purpose: Option<Purpose>,
    /// How long before a flight the authority must hear of it (an ISO 8601 duration, kept as written).
    pub interval_before: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    Authorization,
    Notification,
    Information,
}

/// A period in which the zone applies: from `start` (unbounded if `None`) to `end` (exclusive, unbounded if
/// `None`), and within it, if `schedule` is not empty, only during its daily windows.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct TimePeriod {
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
    pub schedule: Vec<DailyPeriod>,
}

impl TimePeriod {
    /// A period with no bounds and no schedule: the zone always applies (ED-269 `permanent: YES`).
    pub fn is_permanent(&self) -> bool {
        self.start.is_none() && self.end.is_none() && self.schedule.is_empty()
    }
}

/// A daily window on some days of the week. The formats give each time with a UTC offset, not a time zone, so
/// a schedule keeps fixed offsets and has no daylight saving change to follow; the days are those of the start
/// time's offset. An end at or before the start ends on the next day (so equal times mean 24 hours).
#[derive(Clone, Debug, PartialEq)]
pub struct DailyPeriod {
    /// Days on which a window starts, in week order without repeats (ED's `ANY` is all seven).
    pub days: Vec<Weekday>,
    pub start: TimeOfDay,
    pub end: TimeOfDay,
}

/// A time of day at a fixed UTC offset (`Z` or `+hh:mm` in the formats; a time written without one is UTC).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimeOfDay {
    pub time: NaiveTime,
    pub offset: FixedOffset,
}

/// An outline between two vertical limits.
#[derive(Clone, Debug, PartialEq)]
pub struct ZoneVolume {
    pub outline: Outline,
    /// `None`: from the surface (no lower limit given).
    pub lower: Option<Level>,
    /// `None`: unlimited (no upper limit given).
    pub upper: Option<Level>,
    /// The unit of both limits, as the formats give one per volume.
    pub unit: Unit,
}

/// A vertical limit as published: a value in the volume's unit above a reference surface.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Level {
    pub value: f64,
    pub reference: VerticalReference,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VerticalReference {
    /// Above ground (or water) level.
    Agl,
    /// Above mean sea level: the EGM96 geoid, as U-space specifies.
    Amsl,
    /// Above the WGS 84 ellipsoid.
    W84,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    Metres,
    Feet,
}

impl Unit {
    /// Metres in one of this unit (the international foot is exactly 0.3048 m).
    pub fn metres(self) -> f64 {
        match self {
            Unit::Metres => 1.0,
            Unit::Feet => 0.3048,
        }
    }
}
