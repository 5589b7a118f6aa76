//! Closed intervals with optionally unbounded ends, for altitudes and times.

/// The closed interval `[lo, hi]`; `None` leaves that end unbounded. Callers keep `lo <= hi`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Interval<T> {
    pub lo: Option<T>,
    pub hi: Option<T>,
}

impl<T: PartialOrd + Copy> Interval<T> {
    /// Inclusive: `[1, 2]` and `[2, 3]` overlap. Values that do not compare (NaN) count as overlapping, because a
    /// missed conflict is worse than a spurious one.
    pub fn overlaps(&self, other: &Interval<T>) -> bool {
        !starts_after_end(self.lo, other.hi) && !starts_after_end(other.lo, self.hi)
    }

    /// The smallest interval containing both; an unbounded end on either side stays unbounded.
    pub fn hull(&self, other: &Interval<T>) -> Interval<T> {
        let lo = match (self.lo, other.lo) {
            (Some(a), Some(b)) => Some(if b < a { b } else { a }),
            _ => None,
        };
        let hi = match (self.hi, other.hi) {
            (Some(a), Some(b)) => Some(if b > a { b } else { a }),
            _ => None,
        };
        Interval { lo, hi }
    }

    /// Whether every point of `other` is in `self`.
    pub fn contains_interval(&self, other: &Interval<T>) -> bool {
        let lo_ok = match (self.lo, other.lo) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(a), Some(b)) => a <= b,
        };
        let hi_ok = match (self.hi, other.hi) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(a), Some(b)) => a >= b,
        };
        lo_ok && hi_ok
    }
}

fn starts_after_end<T: PartialOrd>(lo: Option<T>, hi: Option<T>) -> bool {
    match (lo, hi) {
        (Some(lo), Some(hi)) => lo > hi,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iv(lo: Option<i32>, hi: Option<i32>) -> Interval<i32> {
        Interval { lo, hi }
    }

    #[test]
    fn overlap_is_inclusive() {
        assert!(iv(Some(1), Some(2)).overlaps(&iv(Some(2), Some(3))));
        assert!(iv(Some(2), Some(3)).overlaps(&iv(Some(1), Some(2))));
        assert!(!iv(Some(1), Some(2)).overlaps(&iv(Some(3), Some(4))));
        assert!(!iv(Some(3), Some(4)).overlaps(&iv(Some(1), Some(2))));
        assert!(iv(Some(5), Some(5)).overlaps(&iv(Some(5), Some(5))));
    }

    #[test]
    fn none_is_unbounded() {
        assert!(iv(None, Some(0)).overlaps(&iv(Some(-1000), Some(-999))));
        assert!(!iv(None, Some(0)).overlaps(&iv(Some(1), None)));
        assert!(iv(Some(7), None).overlaps(&iv(None, Some(7))));
        assert!(iv(None, None).overlaps(&iv(Some(1), Some(1))));
        assert!(iv(None, None).overlaps(&iv(None, None)));
    }

    #[test]
    fn nan_never_hides_an_overlap() {
        let a = Interval { lo: Some(0.0), hi: Some(f64::NAN) };
        assert!(a.overlaps(&Interval { lo: Some(5.0), hi: Some(6.0) }));
        assert!(Interval { lo: Some(5.0), hi: Some(6.0) }.overlaps(&a));
    }

    #[test]
    fn hull_keeps_unbounded_ends() {
        assert_eq!(iv(Some(1), Some(2)).hull(&iv(Some(5), Some(6))), iv(Some(1), Some(6)));
        assert_eq!(iv(Some(5), Some(6)).hull(&iv(Some(1), Some(2))), iv(Some(1), Some(6)));
        assert_eq!(iv(None, Some(2)).hull(&iv(Some(5), Some(6))), iv(None, Some(6)));
        assert_eq!(iv(Some(1), Some(2)).hull(&iv(Some(5), None)), iv(Some(1), None));
    }

    #[test]
    fn containment() {
        let outer = iv(Some(0), Some(10));
        assert!(outer.contains_interval(&iv(Some(0), Some(10))));
        assert!(outer.contains_interval(&iv(Some(3), Some(4))));
        assert!(!outer.contains_interval(&iv(Some(-1), Some(4))));
        assert!(!outer.contains_interval(&iv(Some(3), Some(11))));
        assert!(!outer.contains_interval(&iv(None, Some(4))));
        assert!(!outer.contains_interval(&iv(Some(3), None)));
        assert!(iv(None, None).contains_interval(&iv(None, Some(4))));
        assert!(iv(Some(0), None).contains_interval(&iv(Some(3), None)));
        assert!(iv(None, Some(9)).contains_interval(&iv(None, Some(4))));
    }
}
