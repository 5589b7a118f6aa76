//! UAS geographical zones as European authorities publish them, in EUROCAE ED-269 (JSON) and ED-318 (GeoJSON):
//! both read into one model and validated (every error names the feature, the field's JSON path and the rule),
//! limits put on the WGS 84 ellipsoid through the EGM96 geoid, schedules turned into time windows, zones
//! turned into what the planner needs (constraints for prohibited zones, advisories for the rest), and zones
//! written back as an ED-318 data set.
//!
//! No HTTP, no clock (callers give the interval they ask about), no storage: the USS that imports and
//! publishes zones is the caller. The one file it reads is an operator's terrain ([`HgtTerrain`]), opened by the
//! binary and seen by everyone else through the [`Terrain`] trait.

mod altitude;
mod common;
mod ed269;
mod ed318;
mod error;
mod json;
mod model;
mod planner;
mod schedule;
mod terrain;

use serde_json::Value;

pub use altitude::{
    HIGHEST_GROUND_AMSL_M, LOWEST_GROUND_AMSL_M, NoTerrain, Terrain, W84Band, amsl_to_w84, undulation,
    w84_band, w84_to_amsl,
};
pub use ed318::export as export_ed318;
pub use error::{FeatureRef, GeozoneError};
pub use model::{
    Authority, DailyPeriod, DataSet, Level, Purpose, Reason, Restriction, Text, TimeOfDay, TimePeriod, Unit,
    Variant, VerticalReference, Zone, ZoneVolume,
};
pub use planner::{Advisory, Constraint, Directive, directive};
pub use schedule::{MAX_INTERVAL_DAYS, Window, applies_at, windows};
pub use terrain::{DEFAULT_CACHED_TILES, HgtTerrain, TerrainError};

/// The two formats a data set may be in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Ed269,
    Ed318,
}

/// Reads a data set in either format: ED-318 is a GeoJSON `FeatureCollection` (`"type": "FeatureCollection"`),
/// ED-269 has no `type` at its root.
pub fn parse(text: &str) -> Result<(Format, DataSet), GeozoneError> {
    let value: Value = serde_json::from_str(text).map_err(|e| GeozoneError::Syntax(e.to_string()))?;
    let format = if value.get("type").is_some() { Format::Ed318 } else { Format::Ed269 };
    Ok((format, parse_as(format, &value)?))
}

/// Reads a data set known to be in `format`.
pub fn parse_as(format: Format, value: &Value) -> Result<DataSet, GeozoneError> {
    let root = json::Node::root(value);
    let zones = match format {
        Format::Ed269 => ed269::features(&root)?,
        Format::Ed318 => ed318::features(&root)?,
    };
    Ok(DataSet { zones })
}
