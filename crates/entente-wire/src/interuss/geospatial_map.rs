//! InterUSS's geospatial map automated testing interface (interuss/automated_testing_interfaces, geospatial_map
//! v1, API v0.2.x): checks of whether the features on a USS's map would block or advise a flight in given
//! volumes and times, and their conversion to the USS's map filters.

use chrono::Duration;
use entente_geozones::{Level, MAX_INTERVAL_DAYS, Restriction, Unit, VerticalReference, ZoneVolume};
use entente_uss::geoawareness::{Impact, MapFilter, MapVolume};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::common::outline_in;
use crate::{Altitude, LatLngPoint, Volume4D, WireError, parse_rfc3339, time_in};

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct StatusResponse {
    pub status: String,
    pub api_name: String,
    pub api_version: String,
}

/// A request to load a geospatial data source: where to download it from.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct DataSourceRequest {
    /// Required here: the only kind of source there is.
    pub https_source: Option<HttpsSource>,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct HttpsSource {
    /// Where the data set is downloaded from.
    pub url: String,
    /// `ED-269` (the default); this USS also reads ED-318, which it tells from the data set's root.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
}

/// Where a data source is in its handling by the USS.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub enum DataSourceState {
    Activating,
    Ready,
    Deactivating,
    Deactivated,
    Unsupported,
    Rejected,
    Error,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct DataSourceStatus {
    pub id: String,
    pub status: DataSourceState,
    /// Why, for `Unsupported`, `Rejected` and `Error`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct DataSourceResponse {
    pub data_source: DataSourceStatus,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct DataSourceList {
    pub data_sources: Vec<DataSourceStatus>,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct MapQueryRequest {
    pub checks: Vec<MapCheck>,
}

/// Selects the features that pass any of its filter sets.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct MapCheck {
    pub filter_sets: Vec<FeatureFilterSet>,
}

/// Selects the features that pass every filter given.
#[derive(Clone, Debug, Default, Serialize, Deserialize, ToSchema)]
pub struct FeatureFilterSet {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<Position>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volumes4d: Option<Vec<Volume4D>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<String>,
    /// Here, the name under which the authority imported the data set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restriction_source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation_rule_set: Option<String>,
    /// `Block`, `Advise` or `BlockOrAdvise`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resulting_operational_impact: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ed269: Option<Ed269Filters>,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct Position {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub altitude: Option<Altitude>,
    pub location: LatLngPoint,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, ToSchema)]
pub struct Ed269Filters {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub u_space_class: Option<String>,
    /// ED-269 restrictions: `PROHIBITED`, `REQ_AUTHORISATION`, `CONDITIONAL`, `NO_RESTRICTION`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acceptable_restrictions: Option<Vec<String>>,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct MapQueryReply {
    pub results: Vec<MapCheckResult>,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct MapCheckResult {
    /// `Present`, `Absent`, `UnsupportedFilter` or `Error`.
    pub features_selection_outcome: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// A filter set as the USS's map takes it, or why the map cannot take it.
#[derive(Clone, Debug, PartialEq)]
pub enum FilterIn {
    Filter(MapFilter),
    /// A criterion this USS cannot judge: the `UnsupportedFilter` outcome's message.
    Unsupported(String),
}

/// Altitudes outside this range, in the units given, are on no flight's path (the interface's `Altitude.value`).
const ALTITUDE_RANGE: (f64, f64) = (-8000.0, 100_000.0);

/// The filter set at `path`; malformed values are errors naming the field and the rule.
pub fn filter_in(f: &FeatureFilterSet, path: &str, max_vertices: usize) -> Result<FilterIn, WireError> {
    let volumes = f
        .volumes4d
        .as_ref()
        .map(|vs| {
            vs.iter()
                .enumerate()
                .map(|(i, v)| map_volume_in(v, &format!("{path}.volumes4d[{i}]"), max_vertices))
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()?;
    let after = f.after.as_deref().map(|t| parse_rfc3339(t, &format!("{path}.after"))).transpose()?;
    let before = f.before.as_deref().map(|t| parse_rfc3339(t, &format!("{path}.before"))).transpose()?;
    if let (Some(a), Some(b)) = (after, before)
        && a > b
    {
        return Err(WireError::field(format!("{path}.before"), "must not be earlier than after"));
    }
    let impact = f
        .resulting_operational_impact
        .as_deref()
        .map(|i| match i {
            "Block" => Ok(Impact::Block),
            "Advise" => Ok(Impact::Advise),
            "BlockOrAdvise" => Ok(Impact::BlockOrAdvise),
            other => Err(WireError::field(
                format!("{path}.resulting_operational_impact"),
                format!("must be one of Block, Advise, BlockOrAdvise, got {other:?}"),
            )),
        })
        .transpose()?;
    let ed269 = f.ed269.clone().unwrap_or_default();
    let restrictions = ed269
        .acceptable_restrictions
        .unwrap_or_default()
        .iter()
        .enumerate()
        .map(|(i, r)| restriction_in(r, &format!("{path}.ed269.acceptable_restrictions[{i}]")))
        .collect::<Result<Vec<_>, _>>()?;
    // Checked after the rest so that a malformed query is refused whatever else it asks.
    if f.position.is_some() {
        return Ok(FilterIn::Unsupported(format!(
            "{path}.position: selection by position is not supported; give volumes4d"
        )));
    }
    if let Some(rules) = &f.operation_rule_set {
        // Every flight here is planned under the same rules, so no named rule set can be told apart from them.
        return Ok(FilterIn::Unsupported(format!(
            "{path}.operation_rule_set: this USS plans every flight under one rule set and cannot select \
             features by rule set {rules:?}"
        )));
    }
    Ok(FilterIn::Filter(MapFilter {
        volumes,
        after,
        before,
        source: f.restriction_source.clone(),
        impact,
        restrictions,
        uspace_class: ed269.u_space_class,
    }))
}

fn restriction_in(r: &str, path: &str) -> Result<Restriction, WireError> {
    match r {
        "PROHIBITED" => Ok(Restriction::Prohibited),
        "REQ_AUTHORISATION" => Ok(Restriction::ReqAuthorisation),
        "CONDITIONAL" => Ok(Restriction::Conditional),
        "NO_RESTRICTION" => Ok(Restriction::NoRestriction),
        other => Err(WireError::field(
            path,
            format!(
                "must be one of PROHIBITED, REQ_AUTHORISATION, CONDITIONAL, NO_RESTRICTION, got {other:?}"
            ),
        )),
    }
}

fn map_volume_in(v: &Volume4D, path: &str, max_vertices: usize) -> Result<MapVolume, WireError> {
    let outline = outline_in(&v.volume, &format!("{path}.volume"), max_vertices)?;
    let lower =
        v.volume.altitude_lower.as_ref().map(|a| level_in(a, &format!("{path}.volume.altitude_lower")));
    let upper =
        v.volume.altitude_upper.as_ref().map(|a| level_in(a, &format!("{path}.volume.altitude_upper")));
    let (lower, upper) = (lower.transpose()?, upper.transpose()?);
    if let (Some(lo), Some(hi)) = (lower, upper)
        && lo.reference == hi.reference
        && lo.value > hi.value
    {
        return Err(WireError::field(
            format!("{path}.volume.altitude_upper"),
            "must not be below altitude_lower".to_owned(),
        ));
    }
    let start = v.time_start.as_ref().map(|t| time_in(t, &format!("{path}.time_start"))).transpose()?;
    let end = v.time_end.as_ref().map(|t| time_in(t, &format!("{path}.time_end"))).transpose()?;
    if let (Some(s), Some(e)) = (start, end) {
        if s >= e {
            return Err(WireError::field(format!("{path}.time_end"), "must be after time_start"));
        }
        // Zone schedules are listed that far at most.
        if e - s > Duration::days(MAX_INTERVAL_DAYS) {
            return Err(WireError::field(
                format!("{path}.time_end"),
                format!("must be at most {MAX_INTERVAL_DAYS} days after time_start"),
            ));
        }
    }
    Ok(MapVolume {
        space: ZoneVolume { outline, lower, upper, unit: Unit::Metres },
        time: entente_geo::Interval { lo: start, hi: end },
    })
}

/// An altitude in metres above its reference: `W84` (the ellipsoid) or `SFC` (the surface).
fn level_in(a: &Altitude, path: &str) -> Result<Level, WireError> {
    let reference = match a.reference.as_str() {
        "W84" => VerticalReference::W84,
        "SFC" => VerticalReference::Agl,
        other => {
            return Err(WireError::field(
                format!("{path}.reference"),
                format!("must be \"W84\" or \"SFC\", got {other:?}"),
            ));
        }
    };
    let unit = match a.units.as_str() {
        "M" => Unit::Metres,
        "FT" => Unit::Feet,
        other => {
            return Err(WireError::field(
                format!("{path}.units"),
                format!("must be \"M\" or \"FT\", got {other:?}"),
            ));
        }
    };
    if !a.value.is_finite() || a.value < ALTITUDE_RANGE.0 || a.value > ALTITUDE_RANGE.1 {
        return Err(WireError::field(
            format!("{path}.value"),
            format!("{} is outside [{}, {}]", a.value, ALTITUDE_RANGE.0, ALTITUDE_RANGE.1),
        ));
    }
    Ok(Level { value: a.value * unit.metres(), reference })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn filter(value: serde_json::Value) -> Result<FilterIn, WireError> {
        let f: FeatureFilterSet = serde_json::from_value(value).unwrap();
        filter_in(&f, "f", 100)
    }

    fn volume(lower: serde_json::Value, upper: serde_json::Value) -> serde_json::Value {
        json!({
            "volume": {
                "outline_circle": {"center": {"lat": 46.5, "lng": 6.6}, "radius": {"value": 100, "units": "M"}},
                "altitude_lower": lower, "altitude_upper": upper
            },
            "time_start": {"value": "2026-12-04T10:00:00Z", "format": "RFC3339"},
            "time_end": {"value": "2026-12-04T12:00:00+01:00", "format": "RFC3339"}
        })
    }

    #[test]
    fn altitudes_keep_their_reference_in_metres() {
        let lower = json!({"value": 0, "reference": "SFC", "units": "M"});
        let upper = json!({"value": 400, "reference": "W84", "units": "FT"});
        let FilterIn::Filter(f) =
            filter(json!({"volumes4d": [volume(lower, upper)], "resulting_operational_impact": "Advise"}))
                .unwrap()
        else {
            panic!("supported")
        };
        let space = &f.volumes.unwrap()[0].space;
        assert_eq!(space.lower, Some(Level { value: 0.0, reference: VerticalReference::Agl }));
        assert_eq!(space.upper, Some(Level { value: 400.0 * 0.3048, reference: VerticalReference::W84 }));
        assert_eq!(f.impact, Some(Impact::Advise));
    }

    #[test]
    fn malformed_filters_name_the_field_and_unsupported_ones_say_why() {
        let w84 = |m: f64| json!({"value": m, "reference": "W84", "units": "M"});
        let e = filter(
            json!({"volumes4d": [volume(w84(0.0), json!({"value": 1, "reference": "AMSL", "units": "M"}))]}),
        );
        assert_eq!(e.unwrap_err().path(), "f.volumes4d[0].volume.altitude_upper.reference");
        let e = filter(json!({"volumes4d": [volume(w84(200.0), w84(100.0))]})).unwrap_err();
        assert_eq!(e.to_string(), "f.volumes4d[0].volume.altitude_upper must not be below altitude_lower");
        let mut backwards = volume(w84(0.0), w84(100.0));
        // 11:00+01:00 is 10:00Z, the start.
        backwards["time_end"]["value"] = json!("2026-12-04T11:00:00+01:00");
        let e = filter(json!({"volumes4d": [backwards]})).unwrap_err();
        assert_eq!(e.to_string(), "f.volumes4d[0].time_end must be after time_start");
        let e =
            filter(json!({"after": "2026-12-05T00:00:00Z", "before": "2026-12-04T00:00:00Z"})).unwrap_err();
        assert_eq!(e.path(), "f.before");
        let e = filter(json!({"ed269": {"acceptable_restrictions": ["REQ_AUTHORIZATION"]}})).unwrap_err();
        assert_eq!(e.path(), "f.ed269.acceptable_restrictions[0]");
        // A malformed value is an error even beside an unsupported criterion.
        let e = filter(json!({"operation_rule_set": "Part107", "resulting_operational_impact": "block"}));
        assert_eq!(e.unwrap_err().path(), "f.resulting_operational_impact");
        let Ok(FilterIn::Unsupported(why)) = filter(json!({"operation_rule_set": "Part107"})) else {
            panic!("a rule set is not supported")
        };
        assert!(why.starts_with("f.operation_rule_set"), "{why}");
    }
}
