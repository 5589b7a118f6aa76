//! Four-dimensional volumes: an outline extruded over an altitude range and a time range.

use crate::interval::Interval;
use crate::outline::Outline;

/// An outline (validated on construction of the [`Outline`]) swept over an altitude interval in metres (WGS84)
/// and a time interval.
#[derive(Clone, Debug, PartialEq)]
pub struct Volume4<T> {
    pub outline: Outline,
    pub altitude: Interval<f64>,
    pub time: Interval<T>,
}

impl<T: PartialOrd + Copy> Volume4<T> {
    /// Closed in every dimension: time and altitude ranges that merely touch overlap, and outlines within EPSILON
    /// intersect. The cheap interval tests run before the geometry.
    pub fn intersects(&self, other: &Volume4<T>) -> bool {
        self.time.overlaps(&other.time)
            && self.altitude.overlaps(&other.altitude)
            && self.outline.intersects(&other.outline)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Circle, LatLng};
    use chrono::{DateTime, TimeZone, Utc};

    fn at(hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 5, 1, hour, 0, 0).single().unwrap()
    }

    fn volume(lng: f64, alt: (f64, f64), hours: (u32, u32)) -> Volume4<DateTime<Utc>> {
        Volume4 {
            outline: Outline::Circle(Circle::new(LatLng::new(47.0, lng), 500.0).unwrap()),
            altitude: Interval { lo: Some(alt.0), hi: Some(alt.1) },
            time: Interval { lo: Some(at(hours.0)), hi: Some(at(hours.1)) },
        }
    }

    #[test]
    fn every_dimension_must_overlap() {
        let base = volume(8.0, (0.0, 100.0), (10, 12));
        assert!(base.intersects(&volume(8.001, (100.0, 200.0), (12, 13))));
        assert!(!base.intersects(&volume(8.001, (100.1, 200.0), (12, 13))), "altitude apart");
        assert!(!base.intersects(&volume(8.001, (50.0, 200.0), (13, 14))), "time apart");
        assert!(!base.intersects(&volume(8.5, (50.0, 200.0), (11, 14))), "outlines apart");
    }

    #[test]
    fn unbounded_ranges() {
        let mut a = volume(8.0, (0.0, 100.0), (10, 12));
        let b = volume(8.0, (5000.0, 6000.0), (20, 21));
        assert!(!a.intersects(&b));
        a.altitude.hi = None;
        a.time = Interval { lo: None, hi: None };
        assert!(a.intersects(&b) && b.intersects(&a));
    }

    #[test]
    fn any_ordered_time_type_works() {
        let v = |t: (i64, i64)| Volume4 {
            outline: Outline::Circle(Circle::new(LatLng::new(0.0, 0.0), 10.0).unwrap()),
            altitude: Interval { lo: None, hi: None },
            time: Interval { lo: Some(t.0), hi: Some(t.1) },
        };
        assert!(v((0, 5)).intersects(&v((5, 9))));
        assert!(!v((0, 5)).intersects(&v((6, 9))));
    }
}
