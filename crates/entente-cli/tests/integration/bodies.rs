//! Request bodies of the process tests, built with entente-wire's shapes and sent as the JSON they serialise to;
//! a test that sends what no shape can say breaks such a body by hand and says why.

use chrono::{DateTime, SecondsFormat, Utc};
use entente_dss::{Clock, SystemClock};
use entente_wire::operator::{FlightRequest, WatchRequest};
use entente_wire::scd::{SetUssAvailabilityStatusParameters, UssAvailabilityState};
use entente_wire::uss::{Position, VehicleTelemetry};
use entente_wire::{Altitude, Circle, LatLngPoint, Radius, Time, Volume3D, Volume4D};
use serde::Serialize;
use serde_json::Value;

/// A shape as the JSON it is sent as.
pub(super) fn wire(shape: impl Serialize) -> Value {
    serde_json::to_value(shape).expect("a wire shape serialises")
}

/// The F3548 `Time` of `t`, written to `precision`.
pub(super) fn time(t: DateTime<Utc>, precision: SecondsFormat) -> Time {
    Time { value: t.to_rfc3339_opts(precision, true), format: "RFC3339".to_owned() }
}

/// An F3548 `Altitude` of `metres` above the WGS 84 ellipsoid.
pub(super) fn altitude(metres: f64) -> Altitude {
    Altitude { value: metres, reference: "W84".to_owned(), units: "M".to_owned() }
}

/// A cylinder of 300 m radius at (`lat`, 6.6), `alt` metres, from `minutes.0` to `minutes.1` minutes from now.
pub(super) fn volume(lat: f64, alt: (f64, f64), minutes: (i64, i64)) -> Volume4D {
    let now = SystemClock.now();
    let at = |m: i64| time(now + chrono::Duration::minutes(m), SecondsFormat::Secs);
    let circle = Circle {
        center: Some(LatLngPoint { lat, lng: 6.6 }),
        radius: Some(Radius { value: 300.0, units: "M".to_owned() }),
    };
    Volume4D {
        volume: Volume3D {
            outline_circle: Some(circle),
            outline_polygon: None,
            altitude_lower: Some(altitude(alt.0)),
            altitude_upper: Some(altitude(alt.1)),
        },
        time_start: Some(at(minutes.0)),
        time_end: Some(at(minutes.1)),
    }
}

/// An operator's flight through `volumes` at `priority`.
pub(super) fn flight_body(volumes: Vec<Volume4D>, priority: i32) -> Value {
    wire(FlightRequest {
        volumes,
        route: None,
        priority,
        limits: None,
        best_effort: false,
        authorisation: None,
    })
}

/// A telemetry report measured now at (`lat`, `lng`), `alt` metres, with no accuracy or velocity.
pub(super) fn fix(lat: f64, lng: f64, alt: f64) -> VehicleTelemetry {
    let position = Position {
        longitude: lng,
        latitude: lat,
        accuracy_h: None,
        accuracy_v: None,
        extrapolated: false,
        altitude: Some(altitude(alt)),
    };
    VehicleTelemetry {
        time_measured: time(SystemClock.now(), SecondsFormat::Millis),
        position: Some(position),
        velocity: None,
    }
}

/// The operator API's body asking to watch `view` (min lat, min lng, max lat, max lng) for the default time.
pub(super) fn watch(view: &str) -> Value {
    wire(WatchRequest { view: view.to_owned(), duration_s: None })
}

/// The arbiter's body declaring a USS never set before Down.
pub(super) fn down() -> Value {
    wire(SetUssAvailabilityStatusParameters {
        old_version: Some(String::new()),
        availability: UssAvailabilityState::Down,
    })
}
