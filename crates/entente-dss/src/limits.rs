//! Local policy: numeric limits and the clock, both injectable so tests can move them.

use chrono::{Duration, Utc};

use crate::model::Timestamp;

#[derive(Clone, Debug)]
pub struct Limits {
    /// Largest outline of any entity or query, in m² (InterUSS: 2500 km²).
    pub max_area_m2: f64,
    /// Longest explicit subscription (F3548 DSSMaxSubscriptionDuration).
    pub max_subscription_duration: Duration,
    /// How far in the past a subscription may start (clock skew).
    pub max_start_in_past: Duration,
    pub max_vertices: usize,
    pub max_extents: usize,
    /// Most references one query returns; a larger answer asks the client to narrow the area.
    pub max_results: usize,
    /// F3411 NetDSSMaxSubscriptionPerArea: live RID subscriptions one owner may have over any point.
    pub max_rid_subscriptions_per_area: usize,
    /// Whether `uss_base_url` may be plain http (tests and local development only).
    pub allow_http_base_urls: bool,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_area_m2: 2_500e6,
            max_subscription_duration: Duration::hours(24),
            max_start_in_past: Duration::minutes(5),
            max_vertices: 10_000,
            max_extents: 1_000,
            max_results: 10_000,
            max_rid_subscriptions_per_area: 10,
            allow_http_base_urls: false,
        }
    }
}

/// Where every rule that depends on time reads it: injected, so a test can stand time still or move it.
pub trait Clock: Send + Sync + std::fmt::Debug + 'static {
    fn now(&self) -> Timestamp;
}

/// The wall clock: the only place `Utc::now` may be called (`clippy.toml` forbids it elsewhere).
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)]
    fn now(&self) -> Timestamp {
        Utc::now()
    }
}

/// A clock that stands still until it is set or advanced: for tests of rules that depend on time.
#[derive(Debug)]
pub struct ManualClock(parking_lot::Mutex<Timestamp>);

impl ManualClock {
    pub fn new(at: Timestamp) -> ManualClock {
        ManualClock(parking_lot::Mutex::new(at))
    }

    pub fn set(&self, at: Timestamp) {
        *self.0.lock() = at;
    }

    pub fn advance(&self, by: Duration) {
        *self.0.lock() += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        *self.0.lock()
    }
}
