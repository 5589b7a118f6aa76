//! Which operational intents a flight may not intersect: exact 4D intersection decided by priority.

use crate::flight::Priority;
use crate::{Volume, volumes_intersect};

/// Another operational intent as a planning USS knows it: nominal and off-nominal volumes alike occupy airspace.
#[derive(Clone, Debug, PartialEq)]
pub struct Intent {
    pub id: String,
    pub priority: Priority,
    pub volumes: Vec<Volume>,
}

/// The regulator's choice left open by F3548-21: may intents of equal priority conflict?
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PriorityPolicy {
    pub equal_priority_may_conflict: bool,
}

impl PriorityPolicy {
    /// A higher priority may conflict with a lower one, never the reverse.
    pub fn may_conflict(&self, mine: Priority, theirs: Priority) -> bool {
        mine > theirs || (mine == theirs && self.equal_priority_may_conflict)
    }
}

/// The intents that `volumes` at `priority` intersect and may not intersect; empty means the plan is clear.
pub fn blocking_intents<'a>(
    volumes: &[Volume],
    priority: Priority,
    others: &'a [Intent],
    policy: PriorityPolicy,
) -> Vec<&'a Intent> {
    others
        .iter()
        .filter(|o| !policy.may_conflict(priority, o.priority))
        .filter(|o| volumes_intersect(volumes, &o.volumes))
        .collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use chrono::{TimeZone, Utc};
    use entente_geo::{Circle, Interval, LatLng, Outline};

    use super::*;
    use crate::Timestamp;

    pub(crate) fn at(minute: i64) -> Timestamp {
        Utc.with_ymd_and_hms(2030, 1, 1, 12, 0, 0).single().unwrap() + chrono::Duration::minutes(minute)
    }

    pub(crate) fn cylinder(lng: f64, alt: (f64, f64), minutes: (i64, i64)) -> Volume {
        Volume {
            outline: Outline::Circle(Circle::new(LatLng::new(46.5, lng), 200.0).unwrap()),
            altitude: Interval { lo: Some(alt.0), hi: Some(alt.1) },
            time: Interval { lo: Some(at(minutes.0)), hi: Some(at(minutes.1)) },
        }
    }

    fn intent(id: &str, priority: i32, volume: Volume) -> Intent {
        Intent { id: id.into(), priority: Priority(priority), volumes: vec![volume] }
    }

    #[test]
    fn priority_decides_who_may_conflict() {
        let mine = [cylinder(6.6, (0.0, 100.0), (0, 30))];
        let others = vec![
            intent("low", 0, cylinder(6.6, (50.0, 150.0), (10, 20))),
            intent("equal", 5, cylinder(6.6, (50.0, 150.0), (10, 20))),
            intent("high", 9, cylinder(6.6, (50.0, 150.0), (10, 20))),
            intent("elsewhere", 9, cylinder(6.7, (50.0, 150.0), (10, 20))),
        ];
        let ids = |policy| -> Vec<&str> {
            blocking_intents(&mine, Priority(5), &others, policy).iter().map(|i| i.id.as_str()).collect()
        };
        assert_eq!(ids(PriorityPolicy::default()), ["equal", "high"]);
        assert_eq!(ids(PriorityPolicy { equal_priority_may_conflict: true }), ["high"]);
    }

    #[test]
    fn touching_volumes_conflict() {
        let mine = [cylinder(6.6, (0.0, 100.0), (0, 30))];
        let others = vec![intent("above", 0, cylinder(6.6, (100.0, 150.0), (30, 40)))];
        assert_eq!(blocking_intents(&mine, Priority(0), &others, PriorityPolicy::default()).len(), 1);
        let others = vec![intent("above", 0, cylinder(6.6, (100.5, 150.0), (30, 40)))];
        assert!(blocking_intents(&mine, Priority(0), &others, PriorityPolicy::default()).is_empty());
    }
}
