//! Network Remote ID (ASTM F3411) in the USS core: the service provider's aircraft and the ISAs it keeps at the DSS
//! over them ([`RidSp`]), the display provider's watched areas, their subscriptions and the other SPs' ISAs they
//! tell of ([`RidDp`]), the peers' aircraft its polls merged and tactical detection over every position seen, run
//! together by [`RidRounds`]. The DSS, the peer SPs and the store are ports in domain terms ([`RidDss`],
//! [`RidPeers`], [`IsaRecords`]), so each F3411 version is one implementation at the edge and the rounds run the
//! same over HTTP or against a test's fakes. The rules they apply (clusters, views, merging positions) are
//! `crate::rid`'s.

mod display;
mod dp;
mod rounds;
mod sp;
mod tactical;
#[cfg(test)]
pub(crate) mod tests;

pub use display::{PeerFlight, RidPeers, Seen};
pub use dp::{NotificationRefused, Poll, RidDp, WatchError, WatchHeld, WatchKind};
pub use rounds::{RidRounds, clusters_of};
pub use sp::{HeldIsa, RidSp, SpAircraft, SpRules, flying_areas};
pub use tactical::{Alert, TacticalRules};

use chrono::Duration;

use crate::Timestamp;
use crate::Volume;
use crate::rid::{NEAR_REAL_TIME_S, V22A_VIEWS, ViewLimits};
use crate::service::{BoxFuture, CallError};
use crate::store::Ticket;

/// How a USS runs network Remote ID and tactical detection.
#[derive(Clone, Copy, Debug)]
pub struct RidRules {
    /// How long an ISA and a flight's positions outlive the flight (F3411 asks SPs to keep serving recent positions
    /// for NetMaxNearRealTimeDataPeriod).
    pub retention: Duration,
    /// How far an ISA reaches beyond the flights' areas, so it does not trace their edges.
    pub isa_margin_m: f64,
    /// The view limits of the F3411 version spoken.
    pub views: ViewLimits,
    pub tactical: TacticalRules,
}

impl Default for RidRules {
    fn default() -> Self {
        RidRules {
            retention: Duration::seconds(NEAR_REAL_TIME_S),
            isa_margin_m: 500.0,
            views: V22A_VIEWS,
            tactical: TacticalRules {
                detection: entente_tactical::Config {
                    horizontal_m: 50.0,
                    vertical_m: 25.0,
                    lookahead_s: 60.0,
                },
                track_max_age_s: 10.0,
            },
        }
    }
}

/// An ISA as the DSS holds it, as far as its SP needs to know.
#[derive(Clone, Debug, PartialEq)]
pub struct IsaRef {
    /// The identity of the USS that declared it.
    pub owner: String,
    pub version: String,
}

/// The DSS's successful answer to a change of an ISA.
pub struct IsaChanged {
    /// The ISA's version now.
    pub version: String,
    /// How many subscribers the DSS named.
    pub subscribers: usize,
    /// Tells each of them of the ISA as it now is, when awaited; a failure is the implementation's to log, since
    /// the change stands either way.
    pub notify: BoxFuture<'static, ()>,
}

/// What became of a change of an ISA at the DSS.
pub enum IsaChange {
    Changed(IsaChanged),
    /// The DSS no longer holds the version given (a restart of the DSS, an expiry): nothing was changed.
    Missing,
    /// The DSS holds another version than the one given (another writer moved past it).
    Superseded(CallError),
}

/// An ISA of another SP as either F3411 version describes it, reduced to what a DP needs.
#[derive(Clone, Debug, PartialEq)]
pub struct IsaSummary {
    pub id: String,
    pub owner: String,
    /// Where its SP serves flights: `{base}/uss/flights` in F3411-22a, the ISA's `flights_url` in F3411-19.
    pub flights_url: String,
    pub version: String,
    pub end: Timestamp,
}

/// What the DSS answered to a subscription's creation.
#[derive(Clone, Debug, PartialEq)]
pub struct Subscribed {
    pub version: String,
    pub notification_index: i32,
    /// The ISAs already in its area.
    pub present: Vec<IsaSummary>,
}

/// What became of a subscription asked of the DSS.
#[derive(Clone, Debug, PartialEq)]
pub enum Subscription {
    Made(Subscribed),
    /// The DSS holds the most subscriptions of this USS over part of the area.
    TooMany,
}

/// The DSS's F3411 API, as an SP and a DP use it; one implementation per F3411 version.
pub trait RidDss: Send + Sync + 'static {
    /// The ISA `id` as the DSS holds it; `None` when it holds none.
    fn isa(&self, id: &str) -> BoxFuture<'_, Result<Option<IsaRef>, CallError>>;
    /// Declares ISA `id` over `extent` (`None`: deletes it), replacing `version` (`None`: creating it). The DSS
    /// answers `Missing` or `Superseded` only to a change naming a version.
    fn change_isa<'a>(
        &'a self,
        id: &'a str,
        version: Option<&'a str>,
        extent: Option<&'a Volume>,
    ) -> BoxFuture<'a, Result<IsaChange, CallError>>;
    /// Creates subscription `id` over `extents`, whose notifications this USS takes.
    fn put_subscription<'a>(
        &'a self,
        id: &'a str,
        extents: &'a Volume,
    ) -> BoxFuture<'a, Result<Subscription, CallError>>;
    /// Deletes version `version` of subscription `id`; one the DSS no longer holds is gone already, not an error.
    fn delete_subscription<'a>(
        &'a self,
        id: &'a str,
        version: &'a str,
    ) -> BoxFuture<'a, Result<(), CallError>>;
}

/// Where an SP keeps the ids of the ISAs it declared, so that a run killed at any point leaves its successor every
/// ISA to clean.
pub trait IsaRecords: Send + Sync + 'static {
    /// Queues the record that ISA `id` was declared at `declared` (`None`: it is gone from the DSS); it is on disk
    /// once the ticket resolves.
    fn save_isa(&self, id: &str, declared: Option<Timestamp>) -> Ticket;
}
