//! JSON shapes shared by the F3548 and F3411 APIs (geometry, time, errors) and their conversion.

use chrono::{DateTime, SecondsFormat, Utc};
use entente_dss::{Timestamp, Volume};
use entente_geo::{Circle as GeoCircle, Interval, LatLng, Outline, Polygon as GeoPolygon};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::WireError;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ErrorResponse {
    pub message: String,
    /// Present when the failure was the server's own: the id under which its log holds the details (also in the
    /// `x-request-id` header of every answer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LatLngPoint {
    pub lat: f64,
    pub lng: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Polygon {
    pub vertices: Vec<LatLngPoint>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Radius {
    pub value: f64,
    pub units: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Circle {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub center: Option<LatLngPoint>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub radius: Option<Radius>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Altitude {
    pub value: f64,
    pub reference: String,
    pub units: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Time {
    pub value: String,
    pub format: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Volume3D {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outline_circle: Option<Circle>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outline_polygon: Option<Polygon>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub altitude_lower: Option<Altitude>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub altitude_upper: Option<Altitude>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Volume4D {
    pub volume: Volume3D,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_start: Option<Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_end: Option<Time>,
}

/// Altitudes outside this range are not on any aircraft's path (F3548 `Altitude.value`).
const ALTITUDE_RANGE: (f64, f64) = (-8000.0, 100_000.0);

pub fn time_out(t: Timestamp) -> Time {
    Time { value: rfc3339(t), format: "RFC3339".to_owned() }
}

pub fn rfc3339(t: Timestamp) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// The one parser of every time this server reads (F3548 and F3411 bodies, query strings, peers' answers): RFC 3339
/// with any offset, as InterUSS's DSS accepts (Python clients write `+00:00`), converted to UTC; answers always
/// carry `Z` (`rfc3339`).
pub fn parse_rfc3339(value: &str, path: &str) -> Result<Timestamp, WireError> {
    let t = DateTime::parse_from_rfc3339(value).map(|t| t.with_timezone(&Utc)).map_err(|e| {
        // A `+` sent unencoded in a query string arrives as a space.
        let hint = if value.contains(' ') { " (in a query string, send a + offset as %2B)" } else { "" };
        WireError::value(path, format!("time {value:?} is not RFC 3339{hint}: {e}"))
    })?;
    // Stored instants are nanoseconds since 1970 in an i64; refuse what cannot round-trip instead of clamping.
    if t.timestamp_nanos_opt().is_none_or(|n| n < 0) {
        return Err(WireError::value(
            path,
            format!("time {value:?} is outside the supported range 1970 to 2262"),
        ));
    }
    Ok(t)
}

pub fn time_in(t: &Time, path: &str) -> Result<Timestamp, WireError> {
    if t.format != "RFC3339" {
        return Err(WireError::field(
            format!("{path}.format"),
            format!("must be \"RFC3339\", got {:?}", t.format),
        ));
    }
    parse_rfc3339(&t.value, &format!("{path}.value"))
}

pub fn altitude_in(a: &Altitude, path: &str) -> Result<f64, WireError> {
    if a.reference != "W84" {
        return Err(WireError::field(
            format!("{path}.reference"),
            format!("must be \"W84\", got {:?}", a.reference),
        ));
    }
    if a.units != "M" {
        return Err(WireError::field(format!("{path}.units"), format!("must be \"M\", got {:?}", a.units)));
    }
    if !a.value.is_finite() || a.value < ALTITUDE_RANGE.0 || a.value > ALTITUDE_RANGE.1 {
        return Err(WireError::field(
            format!("{path}.value"),
            format!("{} is outside [{}, {}] metres", a.value, ALTITUDE_RANGE.0, ALTITUDE_RANGE.1),
        ));
    }
    Ok(a.value)
}

pub fn polygon_in(p: &Polygon, path: &str, max_vertices: usize) -> Result<Outline, WireError> {
    if p.vertices.len() > max_vertices {
        return Err(WireError::field(
            format!("{path}.vertices"),
            format!("has {} vertices, more than the limit of {max_vertices}", p.vertices.len()),
        ));
    }
    let vertices = p.vertices.iter().map(|v| LatLng { lat: v.lat, lng: v.lng }).collect();
    GeoPolygon::new(vertices).map(Outline::Polygon).map_err(|e| WireError::value(path, e.to_string()))
}

pub(crate) fn outline_in(v: &Volume3D, path: &str, max_vertices: usize) -> Result<Outline, WireError> {
    match (&v.outline_circle, &v.outline_polygon) {
        (Some(_), Some(_)) | (None, None) => {
            Err(WireError::value(path, "exactly one of outline_circle and outline_polygon is required"))
        }
        (None, Some(p)) => polygon_in(p, &format!("{path}.outline_polygon"), max_vertices),
        (Some(c), None) => {
            let path = format!("{path}.outline_circle");
            let center = c.center.ok_or_else(|| WireError::field(format!("{path}.center"), "is required"))?;
            let radius =
                c.radius.as_ref().ok_or_else(|| WireError::field(format!("{path}.radius"), "is required"))?;
            if radius.units != "M" {
                return Err(WireError::field(
                    format!("{path}.radius.units"),
                    format!("must be \"M\", got {:?}", radius.units),
                ));
            }
            GeoCircle::new(LatLng { lat: center.lat, lng: center.lng }, radius.value)
                .map(Outline::Circle)
                .map_err(|e| WireError::value(path, e.to_string()))
        }
    }
}

pub fn volume_in(v: &Volume4D, path: &str, max_vertices: usize) -> Result<Volume, WireError> {
    let outline = outline_in(&v.volume, &format!("{path}.volume"), max_vertices)?;
    let lo =
        v.volume.altitude_lower.as_ref().map(|a| altitude_in(a, &format!("{path}.volume.altitude_lower")));
    let hi =
        v.volume.altitude_upper.as_ref().map(|a| altitude_in(a, &format!("{path}.volume.altitude_upper")));
    let start = v.time_start.as_ref().map(|t| time_in(t, &format!("{path}.time_start")));
    let end = v.time_end.as_ref().map(|t| time_in(t, &format!("{path}.time_end")));
    Ok(Volume {
        outline,
        altitude: Interval { lo: lo.transpose()?, hi: hi.transpose()? },
        time: Interval { lo: start.transpose()?, hi: end.transpose()? },
    })
}

/// The wire form of a domain volume; `volume_in` of it gives the same volume back.
pub fn volume_out(v: &Volume) -> Volume4D {
    let point = |p: LatLng| LatLngPoint { lat: p.lat, lng: p.lng };
    let (outline_circle, outline_polygon) = match &v.outline {
        Outline::Circle(c) => (
            Some(Circle {
                center: Some(point(c.center())),
                radius: Some(Radius { value: c.radius_m(), units: "M".to_owned() }),
            }),
            None,
        ),
        Outline::Polygon(p) => {
            (None, Some(Polygon { vertices: p.vertices().iter().copied().map(point).collect() }))
        }
    };
    let altitude = |value: f64| Altitude { value, reference: "W84".to_owned(), units: "M".to_owned() };
    Volume4D {
        volume: Volume3D {
            outline_circle,
            outline_polygon,
            altitude_lower: v.altitude.lo.map(altitude),
            altitude_upper: v.altitude.hi.map(altitude),
        },
        time_start: v.time.lo.map(time_out),
        time_end: v.time.hi.map(time_out),
    }
}

pub fn volumes_in(vs: &[Volume4D], path: &str, max_vertices: usize) -> Result<Vec<Volume>, WireError> {
    vs.iter().enumerate().map(|(i, v)| volume_in(v, &format!("{path}[{i}]"), max_vertices)).collect()
}
