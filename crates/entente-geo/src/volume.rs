//! Four-dimensional volumes: an outline extruded over an altitude range and a time range.

use std::borrow::Cow;
use std::cell::OnceCell;

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

    /// Relevance, the test for awareness rather than conflict: closed overlaps in time and altitude, and convex
    /// hulls that intersect. Every intersecting pair is relevant, and so are shapes that interleave without
    /// touching, the neighbours a USS should hear of (InterUSS's test designs call these "relevant").
    pub fn relevant_to(&self, other: &Volume4<T>) -> bool {
        any_relevant(std::slice::from_ref(self), std::slice::from_ref(other))
    }
}

/// Whether any volume of `a` is relevant to any of `b` ([`Volume4::relevant_to`]). Each hull is computed at
/// most once, and only for volumes that overlap some other in time and altitude: a concave polygon's hull is a
/// new polygon to build.
pub fn any_relevant<T: PartialOrd + Copy>(a: &[Volume4<T>], b: &[Volume4<T>]) -> bool {
    let hulls_b: Vec<OnceCell<Cow<'_, Outline>>> = b.iter().map(|_| OnceCell::new()).collect();
    a.iter().any(|va| {
        let hull_a = OnceCell::new();
        b.iter().zip(&hulls_b).any(|(vb, hull_b)| {
            va.time.overlaps(&vb.time)
                && va.altitude.overlaps(&vb.altitude)
                && hull_a
                    .get_or_init(|| va.outline.convex_hull())
                    .intersects(hull_b.get_or_init(|| vb.outline.convex_hull()))
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Circle, LatLng, Polygon};
    use chrono::{DateTime, TimeZone, Utc};

    fn at_hour(hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 5, 1, hour, 0, 0).single().unwrap()
    }

    fn volume(lng: f64, alt: (f64, f64), hours: (u32, u32)) -> Volume4<DateTime<Utc>> {
        Volume4 {
            outline: Outline::Circle(Circle::new(LatLng::new(47.0, lng), 500.0).unwrap()),
            altitude: Interval { lo: Some(alt.0), hi: Some(alt.1) },
            time: Interval { lo: Some(at_hour(hours.0)), hi: Some(at_hour(hours.1)) },
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

    /// Two flights that interleave 12 m apart without touching (InterUSS's "non-conflicting" pair near Bern).
    #[test]
    fn interleaved_flights_are_relevant_without_intersecting() {
        let at = |points: &[(f64, f64)]| {
            let vertices =
                points.iter().map(|&(lat, lng)| LatLng::new(46.9748 + lat, 7.4774 + lng)).collect();
            Outline::Polygon(Polygon::new(vertices).unwrap())
        };
        let first = at(&[(0.0, 0.0), (0.00717, -0.00835), (0.00939, -0.00364), (0.00821, -0.00101)]);
        let second = at(&[
            (0.0077, -0.00065),
            (0.00596, 0.00316),
            (-0.00431, 0.00059),
            (0.00753, -0.01035),
            (-0.00025, 0.00013),
        ]);
        let volume = |outline: &Outline, alt: (f64, f64), hours: (u32, u32)| Volume4 {
            outline: outline.clone(),
            altitude: Interval { lo: Some(alt.0), hi: Some(alt.1) },
            time: Interval { lo: Some(at_hour(hours.0)), hi: Some(at_hour(hours.1)) },
        };
        let (a, b) = (volume(&first, (596.0, 681.0), (10, 11)), volume(&second, (605.0, 663.0), (10, 11)));
        assert!(!a.intersects(&b) && !b.intersects(&a));
        assert!(a.relevant_to(&b) && b.relevant_to(&a));
        assert!(
            matches!(second.convex_hull(), std::borrow::Cow::Owned(_)),
            "the second flight is not convex"
        );
        assert!(!a.relevant_to(&volume(&second, (700.0, 800.0), (10, 11))), "apart in altitude");
        assert!(!a.relevant_to(&volume(&second, (605.0, 663.0), (12, 13))), "apart in time");
        let far = at(&[(0.1, 0.1), (0.1, 0.11), (0.11, 0.105)]);
        assert!(!a.relevant_to(&volume(&far, (605.0, 663.0), (10, 11))), "hulls apart");
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
