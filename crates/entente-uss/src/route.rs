//! Flights given as a route: waypoints joined by great-circle segments, each widened by a buffer into a
//! polygon that contains every point within the buffer of the segment.

use entente_geo::{Circle, EARTH_RADIUS_M, Interval, LatLng, Outline, Polygon, distance_m};

use crate::error::UssError;
use crate::{Timestamp, Volume};

/// A route as an operator gives it: the aircraft stays within `buffer_m` of the path, between the altitudes,
/// during the whole time window.
#[derive(Clone, Debug, PartialEq)]
pub struct Route {
    pub waypoints: Vec<LatLng>,
    pub buffer_m: f64,
    pub altitude: Interval<f64>,
    pub time: Interval<Timestamp>,
}

/// Segment corners are pushed out this much further than the buffer, because a polygon's edges are great
/// circles, which bend towards the segment between the corners; the sag is below a millimetre for segments of
/// tens of kilometres, so one metre plus a thousandth of the buffer covers it with room to spare.
pub(crate) fn padded(buffer_m: f64) -> f64 {
    buffer_m * 1.001 + 1.0
}

/// One volume per segment (a circle for a route of one waypoint or a segment of no length), each over the
/// route's whole altitude range and time window, so that the union contains the buffered route.
pub fn route_volumes(route: &Route) -> Result<Vec<Volume>, UssError> {
    let invalid = |why: String| UssError::Route(why);
    if route.waypoints.is_empty() {
        return Err(invalid("a route needs at least one waypoint".into()));
    }
    if !(route.buffer_m.is_finite() && route.buffer_m > 0.0) {
        return Err(invalid(format!(
            "the buffer must be a positive number of metres, got {}",
            route.buffer_m
        )));
    }
    let volume = |outline: Outline| Volume { outline, altitude: route.altitude, time: route.time };
    let circle = |at: LatLng| {
        Circle::new(at, padded(route.buffer_m)).map(Outline::Circle).map_err(|e| invalid(e.to_string()))
    };
    if route.waypoints.len() == 1 {
        return Ok(vec![volume(circle(route.waypoints[0])?)]);
    }
    route
        .waypoints
        .windows(2)
        .map(|pair| {
            let (a, b) = (pair[0], pair[1]);
            if distance_m(a, b) < 0.01 {
                return Ok(volume(circle(a)?));
            }
            let r = padded(route.buffer_m);
            let forward = bearing(a, b);
            let back = bearing(b, a);
            // Out past each end by the buffer, then sideways by it: a rectangle around the capsule.
            let a_out = destination(a, back, r);
            let b_out = destination(b, forward, r);
            let corners = vec![
                destination(a_out, forward - 90.0, r),
                destination(b_out, back + 90.0, r),
                destination(b_out, back - 90.0, r),
                destination(a_out, forward + 90.0, r),
            ];
            Polygon::new(corners).map(|p| volume(Outline::Polygon(p))).map_err(|e| invalid(e.to_string()))
        })
        .collect()
}

/// Initial great-circle bearing from `a` to `b`, degrees clockwise from north.
fn bearing(a: LatLng, b: LatLng) -> f64 {
    let (p1, p2) = (a.lat.to_radians(), b.lat.to_radians());
    let dl = (b.lng - a.lng).to_radians();
    let y = dl.sin() * p2.cos();
    let x = p1.cos() * p2.sin() - p1.sin() * p2.cos() * dl.cos();
    y.atan2(x).to_degrees()
}

/// The point `distance_m` from `from` along the great circle leaving it at `bearing_deg`.
pub(crate) fn destination(from: LatLng, bearing_deg: f64, distance_m: f64) -> LatLng {
    let d = distance_m / EARTH_RADIUS_M;
    let th = bearing_deg.to_radians();
    let p1 = from.lat.to_radians();
    let l1 = from.lng.to_radians();
    let p2 = (p1.sin() * d.cos() + p1.cos() * d.sin() * th.cos()).asin();
    let l2 = l1 + (th.sin() * d.sin() * p1.cos()).atan2(d.cos() - p1.sin() * p2.sin());
    let lng = (l2.to_degrees() + 540.0).rem_euclid(360.0) - 180.0;
    LatLng::new(p2.to_degrees(), lng)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::conflict::tests::at;

    fn route(points: &[(f64, f64)], buffer_m: f64) -> Route {
        Route {
            waypoints: points.iter().map(|&(lat, lng)| LatLng::new(lat, lng)).collect(),
            buffer_m,
            altitude: Interval { lo: Some(0.0), hi: Some(120.0) },
            time: Interval { lo: Some(at(0)), hi: Some(at(30)) },
        }
    }

    fn covered(volumes: &[Volume], p: LatLng) -> bool {
        volumes.iter().any(|v| v.outline.contains(p))
    }

    #[test]
    fn a_segment_becomes_a_rectangle_around_it() {
        let volumes = route_volumes(&route(&[(46.5, 6.6), (46.5, 6.7)], 50.0)).unwrap();
        assert_eq!(volumes.len(), 1);
        let mid = LatLng::new(46.5, 6.65);
        assert!(covered(&volumes, mid));
        assert!(covered(&volumes, destination(mid, 0.0, 50.0)));
        assert!(!covered(&volumes, destination(mid, 0.0, 60.0)), "wider than the buffer plus its padding");
        assert!(covered(&volumes, destination(LatLng::new(46.5, 6.7), 90.0, 50.0)), "past the end");
        assert_eq!(volumes[0].time, Interval { lo: Some(at(0)), hi: Some(at(30)) });
    }

    #[test]
    fn single_points_and_bad_input() {
        assert!(matches!(
            route_volumes(&route(&[(46.5, 6.6)], 30.0)).unwrap()[0].outline,
            Outline::Circle(_)
        ));
        assert!(matches!(
            route_volumes(&route(&[(46.5, 6.6), (46.5, 6.6)], 30.0)).unwrap()[0].outline,
            Outline::Circle(_)
        ));
        assert!(matches!(route_volumes(&route(&[], 30.0)), Err(UssError::Route(_))));
        assert!(matches!(route_volumes(&route(&[(46.5, 6.6)], 0.0)), Err(UssError::Route(_))));
        assert!(matches!(route_volumes(&route(&[(95.0, 6.6)], 10.0)), Err(UssError::Route(_))));
    }

    proptest! {
        #[test]
        fn every_point_within_the_buffer_of_the_path_is_covered(
            legs in proptest::collection::vec((-0.2f64..0.2, -0.2f64..0.2), 1..5),
            buffer in 5.0f64..2000.0,
            leg in 0usize..4,
            t in 0.0f64..=1.0,
            side in 0.0f64..360.0,
            reach in 0.0f64..=1.0,
        ) {
            let mut points = vec![(46.5, 6.6)];
            for (dlat, dlng) in &legs {
                let (lat, lng) = *points.last().unwrap();
                points.push((lat + dlat, lng + dlng));
            }
            let r = route(&points, buffer);
            let volumes = route_volumes(&r).unwrap();
            let i = leg % (r.waypoints.len() - 1);
            let (a, b) = (r.waypoints[i], r.waypoints[i + 1]);
            // A point on the segment, then up to the buffer away from it in any direction.
            let on_path = destination(a, bearing(a, b), distance_m(a, b) * t);
            let p = destination(on_path, side, buffer * reach);
            prop_assert!(covered(&volumes, p), "{p:?} is within {buffer} m of the route but not covered");
        }
    }
}
