//! The Remote ID display provider: the areas this USS watches (one DSS subscription each: asked for by operators,
//! made for a display's view, or kept around the aircraft this USS flies), the other SPs' ISAs as their
//! notifications tell of them (taken in order per subscription), and which SP to poll for which watch in a round,
//! polling one that stopped answering ever less often.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use chrono::Duration;
use entente_dss::{Clock, EntityId};
use entente_geo::{Interval, LatLng, LatLngRect};
use parking_lot::Mutex;

use super::{IsaSummary, RidDss, Subscription};
use crate::rid::{MAX_SUBSCRIPTIONS_PER_AREA, View, ViewLimits, subscription_fits};
use crate::service::CallError;
use crate::{Timestamp, UssError, Volume};

/// Why a watch is held.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WatchKind {
    /// Asked for by an operator.
    Operator,
    /// Made for a display's view no watch covered: it may give way to another.
    Display,
    /// Around aircraft this USS flies, so tactical detection sees the peers' aircraft nearby with no one watching.
    Flying,
}

/// An area watched through a subscription at the DSS.
#[derive(Clone, Debug, PartialEq)]
pub struct WatchHeld {
    pub kind: WatchKind,
    pub view: View,
    pub subscription_id: String,
    pub version: String,
    pub end: Timestamp,
}

/// Why a watch could not be made or ended.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    /// This USS holds the most subscriptions F3411 allows over part of the view.
    #[error("{0}")]
    TooMany(String),
    #[error("{0}")]
    NotFound(String),
    #[error(transparent)]
    View(#[from] UssError),
    #[error(transparent)]
    Call(#[from] CallError),
}

/// Why an ISA notification was refused.
#[derive(Debug, PartialEq, thiserror::Error)]
pub enum NotificationRefused {
    /// It is not a notification (it names no subscription, or another ISA than its path).
    #[error("{0}")]
    Invalid(String),
    /// Its sender does not own the ISA.
    #[error("{0}")]
    NotOwner(String),
    /// A version told before with other extents.
    #[error("{0}")]
    Contradicts(String),
}

/// One poll a round asks for: the SP serving flights at `flights_url`, over `view`; `first`, the first poll of
/// that view there.
#[derive(Clone, Debug, PartialEq)]
pub struct Poll {
    pub flights_url: String,
    pub view: View,
    pub first: bool,
}

/// An ISA of another SP, as its notifications (or a subscription's answer) described it.
struct KnownIsa {
    owner: String,
    flights_url: String,
    version: String,
    extents: Option<Volume>,
    /// Where it is; empty when only the DSS's summary (no geometry) is known, so every watch may meet it.
    rects: Vec<LatLngRect>,
    end: Timestamp,
    /// For each of this USS's subscriptions that told of it, the highest notification index it told: older news
    /// is ignored. Each subscription counts on its own, so a new one (whose indices start again) is heard.
    indices: HashMap<String, i32>,
    /// False once deleted: kept so a late notification of an older version cannot bring it back.
    live: bool,
}

#[derive(Default)]
struct PollState {
    next: usize,
    /// Watches already polled at this SP: later polls ask only for a few seconds of recent positions.
    seen: HashSet<String>,
    /// Polls that failed in a row, and when the SP may be polled again: an SP that does not answer is polled
    /// ever less often (up to once a minute) and reported once per outage, not once a second.
    failures: u32,
    retry_at: Option<Timestamp>,
}

/// The longest wait between two polls of an SP that keeps failing.
const MAX_POLL_BACKOFF_S: i64 = 60;

impl PollState {
    fn ready(&self, now: Timestamp) -> bool {
        self.retry_at.is_none_or(|at| now >= at)
    }

    /// Counts a failed poll; true for the first failure of an outage, the one worth a warning.
    fn failed(&mut self, now: Timestamp) -> bool {
        self.failures = self.failures.saturating_add(1);
        let wait =
            1_i64.checked_shl(self.failures.min(6)).unwrap_or(MAX_POLL_BACKOFF_S).min(MAX_POLL_BACKOFF_S);
        self.retry_at = Some(now + Duration::seconds(wait));
        self.failures == 1
    }

    /// Counts a poll answered; true when it ends an outage.
    fn answered(&mut self) -> bool {
        let was_failing = self.failures > 0;
        self.failures = 0;
        self.retry_at = None;
        was_failing
    }
}

#[derive(Default)]
struct State {
    watches: BTreeMap<String, WatchHeld>,
    isas: HashMap<String, KnownIsa>,
    polled: HashMap<String, PollState>,
}

impl State {
    /// Takes `isa` as now described (`extents` `None`: unknown), as told through `told` (subscription, index).
    fn learn(&mut self, isa: IsaSummary, extents: Option<Volume>, told: &[(String, i32)]) {
        let rects = extents.as_ref().map(|v| v.outline.bounding_rects()).unwrap_or_default();
        let mut indices = self.isas.remove(&isa.id).map(|known| known.indices).unwrap_or_default();
        note(&mut indices, told);
        self.isas.insert(
            isa.id,
            KnownIsa {
                owner: isa.owner,
                flights_url: isa.flights_url,
                version: isa.version,
                extents,
                rects,
                end: isa.end,
                indices,
                live: true,
            },
        );
    }

    /// Drops what ended: watches, ISAs, and the poll states of SPs that no longer declare any live ISA.
    fn prune(&mut self, now: Timestamp) {
        self.watches.retain(|_, w| w.end > now);
        self.isas.retain(|_, i| i.end > now);
        let serving = self.serving();
        self.polled.retain(|base, _| serving.contains(base));
    }

    /// Where the SPs with a live ISA serve their flights.
    fn serving(&self) -> HashSet<String> {
        self.isas.values().filter(|i| i.live).map(|i| i.flights_url.clone()).collect()
    }
}

/// Records the indices `told` (subscription, index), keeping each subscription's highest.
fn note(indices: &mut HashMap<String, i32>, told: &[(String, i32)]) {
    for (subscription, index) in told {
        let known = indices.entry(subscription.clone()).or_insert(*index);
        *known = (*known).max(*index);
    }
}

/// Whether a notification naming `told` (subscription, index) is news: some subscription tells of the ISA for
/// the first time, or with a higher index than it told before.
fn is_news(indices: &HashMap<String, i32>, told: &[(String, i32)]) -> bool {
    told.iter().any(|(subscription, index)| indices.get(subscription).is_none_or(|known| index > known))
}

/// How long a watch around flying aircraft lasts before a new one replaces it: short, since one a killed run
/// left stays at the DSS until it ends and counts towards the per-area limit.
const FLYING_WATCH_S: i64 = 600;

/// The DP of one USS.
pub struct RidDp {
    /// This USS's identity: its own ISAs are not learnt as another SP's.
    identity: String,
    /// The views of the F3411 version this USS speaks.
    limits: ViewLimits,
    dss: Arc<dyn RidDss>,
    clock: Arc<dyn Clock>,
    state: Mutex<State>,
}

impl RidDp {
    pub fn new(identity: String, limits: ViewLimits, dss: Arc<dyn RidDss>, clock: Arc<dyn Clock>) -> RidDp {
        RidDp { identity, limits, dss, clock, state: Mutex::new(State::default()) }
    }

    /// The largest view this DP may ask an SP about, and the largest in which it shows flights.
    pub fn limits(&self) -> ViewLimits {
        self.limits
    }

    /// Every watch held, by id.
    pub fn watches(&self) -> Vec<(String, WatchHeld)> {
        self.state.lock().watches.iter().map(|(id, w)| (id.clone(), w.clone())).collect()
    }

    /// Watch `id`, if held.
    pub fn watch(&self, id: &str) -> Option<WatchHeld> {
        self.state.lock().watches.get(id).cloned()
    }

    /// Subscribes at the DSS over `view` for `duration` and learns the ISAs already there: the watch's id and what
    /// it holds.
    pub async fn subscribe(
        &self,
        view: View,
        duration: Duration,
        kind: WatchKind,
    ) -> Result<(String, WatchHeld), WatchError> {
        let now = self.clock.now();
        {
            let state = self.state.lock();
            let held: Vec<LatLngRect> = state.watches.values().map(|w| w.view.rect()).collect();
            if !subscription_fits(&held, &view.rect()) {
                return Err(WatchError::TooMany(format!(
                    "this USS already watches {MAX_SUBSCRIPTIONS_PER_AREA} areas meeting this view, the most F3411 allows over one area"
                )));
            }
        }
        let end = now + duration;
        let subscription_id = EntityId::random().to_string();
        let extents = view.volume(Interval { lo: Some(now), hi: Some(end) })?;
        let subscribed = match self.dss.put_subscription(&subscription_id, &extents).await? {
            Subscription::Made(subscribed) => subscribed,
            Subscription::TooMany => {
                return Err(WatchError::TooMany(
                    "the DSS holds the most subscriptions of this USS over part of the view".into(),
                ));
            }
        };
        let id = EntityId::random().to_string();
        let told = [(subscription_id.clone(), subscribed.notification_index)];
        let held = WatchHeld { kind, view, subscription_id, version: subscribed.version, end };
        let mut state = self.state.lock();
        for isa in subscribed.present.into_iter().filter(|i| i.owner != self.identity) {
            match state.isas.get_mut(&isa.id) {
                // Known as it is: only this subscription's index is new.
                Some(known) if known.version == isa.version && known.live => note(&mut known.indices, &told),
                // Unknown, or changed since last heard of (its extents unknown until a notification tells them).
                _ => state.learn(isa, None, &told),
            }
        }
        state.watches.insert(id.clone(), held.clone());
        Ok((id, held))
    }

    /// A watch covering `view` for at least another second: one already held, or a new one of `kind` for
    /// `duration`, as a display asked for an area it did not watch, or an aircraft this USS flies needs watched
    /// around it. The new one is as wide as the SPs still answer a poll for, so the views a display moves through
    /// nearby (or the aircraft flying near each other) share it instead of piling up subscriptions.
    pub async fn ensure_watch(
        &self,
        view: View,
        duration: Duration,
        kind: WatchKind,
    ) -> Result<(), WatchError> {
        let soon = self.clock.now() + Duration::seconds(1);
        let held = self.state.lock().watches.values().any(|w| w.end > soon && w.view.covers(&view));
        if held {
            return Ok(());
        }
        let limits = self.limits;
        // Widening every side by m grows the diagonal by at most 2√2·m; 2% is left for SPs measuring on the
        // ellipsoid rather than the sphere.
        let margin =
            (limits.max_diagonal_m * 0.98 - view.diagonal_m()).max(0.0) / (2.0 * std::f64::consts::SQRT_2);
        let wide = view.widened(margin)?;
        let view = if wide.scale(&limits).is_ok() { wide } else { view };
        // At the per-area limit, the display's watch there that would end first gives way.
        let evict = {
            let state = self.state.lock();
            let held: Vec<LatLngRect> = state.watches.values().map(|w| w.view.rect()).collect();
            if subscription_fits(&held, &view.rect()) {
                None
            } else {
                state
                    .watches
                    .iter()
                    .filter(|(_, w)| w.kind == WatchKind::Display && w.view.rect().intersects(&view.rect()))
                    .min_by_key(|(_, w)| w.end)
                    .map(|(id, _)| id.clone())
            }
        };
        if let Some(id) = evict {
            self.unsubscribe(&id).await?;
        }
        self.subscribe(view, duration, kind).await.map(|_| ())
    }

    /// Ends watch `id`: its subscription is deleted at the DSS (already gone there is fine).
    pub async fn unsubscribe(&self, id: &str) -> Result<WatchHeld, WatchError> {
        let watch = self.watch(id).ok_or_else(|| WatchError::NotFound(format!("watch {id}: not found")))?;
        self.dss.delete_subscription(&watch.subscription_id, &watch.version).await?;
        self.state.lock().watches.remove(id);
        Ok(watch)
    }

    /// One round: keeps the aircraft this USS flies (`flying`, where each is) watched, then prunes what ended and
    /// says which SP to poll for which watch. An aircraft gets a watch covering it and a quarter of the widest view
    /// on each side when none does (as wide as SPs answer, so aircraft flying near each other share it), and a
    /// watch around aircraft holding none of them any more is ended; peers' aircraft near them are then polled
    /// with no operator watching. Each SP is polled once a round, for the next watch (in turn) meeting one of its
    /// ISAs, unless it is waiting out failures.
    pub async fn tick(&self, flying: &[LatLng]) -> Vec<Poll> {
        self.follow_flying(flying).await;
        self.polls()
    }

    async fn follow_flying(&self, positions: &[LatLng]) {
        // Half of what `ensure_watch` widens a point to, so an aircraft gets a new watch before it nears an edge.
        let reach_m = self.limits.max_diagonal_m * 0.98 / (2.0 * std::f64::consts::SQRT_2) / 2.0;
        for at in positions {
            let near = match View::new(*at, *at).and_then(|v| v.widened(reach_m)) {
                Ok(near) => near,
                Err(e) => {
                    tracing::debug!(error = %e, "no watch around an aircraft off the globe");
                    continue;
                }
            };
            if let Err(e) =
                self.ensure_watch(near, Duration::seconds(FLYING_WATCH_S), WatchKind::Flying).await
            {
                tracing::warn!(error = %e, "watching around an aircraft this USS flies failed");
            }
        }
        let idle: Vec<String> = self
            .state
            .lock()
            .watches
            .iter()
            .filter(|(_, w)| w.kind == WatchKind::Flying && !positions.iter().any(|p| w.view.contains(*p)))
            .map(|(id, _)| id.clone())
            .collect();
        for id in idle {
            if let Err(e) = self.unsubscribe(&id).await {
                tracing::warn!(error = %e, "ending a watch around aircraft no longer flying failed");
            }
        }
    }

    fn polls(&self) -> Vec<Poll> {
        let now = self.clock.now();
        let mut state = self.state.lock();
        state.prune(now);
        let mut by_base: BTreeMap<String, Vec<LatLngRect>> = BTreeMap::new();
        let mut anywhere: HashSet<String> = HashSet::new();
        for isa in state.isas.values().filter(|i| i.live) {
            if isa.rects.is_empty() {
                anywhere.insert(isa.flights_url.clone());
            }
            by_base.entry(isa.flights_url.clone()).or_default().extend(isa.rects.iter().copied());
        }
        let State { watches, polled, .. } = &mut *state;
        by_base
            .into_iter()
            .filter_map(|(base, rects)| {
                let meeting: Vec<(&String, &WatchHeld)> = watches
                    .iter()
                    .filter(|(_, w)| {
                        anywhere.contains(&base) || rects.iter().any(|r| r.intersects(&w.view.rect()))
                    })
                    .collect();
                if meeting.is_empty() {
                    return None;
                }
                let poll = polled.entry(base.clone()).or_default();
                if !poll.ready(now) {
                    return None;
                }
                let (watch_id, watch) = meeting[poll.next % meeting.len()];
                poll.next = poll.next.wrapping_add(1);
                let first = poll.seen.insert(watch_id.clone());
                Some(Poll { flights_url: base, view: watch.view, first })
            })
            .collect()
    }

    /// Where the SPs whose live ISA meets `view` serve their flights.
    pub fn serving_in(&self, view: &View) -> BTreeSet<String> {
        self.state
            .lock()
            .isas
            .values()
            .filter(|i| i.live && (i.rects.is_empty() || i.rects.iter().any(|r| r.intersects(&view.rect()))))
            .map(|i| i.flights_url.clone())
            .collect()
    }

    /// Where the SPs with a live ISA serve their flights: the flights of others are no longer backed.
    pub fn serving(&self) -> HashSet<String> {
        self.state.lock().serving()
    }

    /// The owner of the ISAs whose SP serves flights at `flights_url` (empty when none is known).
    pub fn provider(&self, flights_url: &str) -> String {
        let state = self.state.lock();
        state
            .isas
            .values()
            .find(|i| i.flights_url == flights_url)
            .map(|i| i.owner.clone())
            .unwrap_or_default()
    }

    /// Counts a failed poll of the SP at `flights_url`; true for the first failure of an outage.
    pub fn poll_failed(&self, flights_url: &str) -> bool {
        let now = self.clock.now();
        self.state.lock().polled.get_mut(flights_url).is_some_and(|p| p.failed(now))
    }

    /// Counts a poll of the SP at `flights_url` answered; true when it ends an outage.
    pub fn poll_answered(&self, flights_url: &str) -> bool {
        self.state.lock().polled.get_mut(flights_url).is_some_and(PollState::answered)
    }

    /// Takes an ISA notification from `sender` (the token's subject) about ISA `id`, as `area` (`None`: deleted)
    /// over `extents`; `told` names the subscriptions it is for, each with its notification index (none named is
    /// refused). It is news when one of them is a subscription this USS holds and tells of this ISA with an index
    /// higher than that subscription told before; one for subscriptions this USS does not hold (ended, or never
    /// its) changes nothing. True when it withdrew an ISA (the flights of its SP may no longer be backed).
    pub fn notified(
        &self,
        sender: &str,
        id: &str,
        area: Option<IsaSummary>,
        extents: Option<Volume>,
        told: &[(String, i32)],
    ) -> Result<bool, NotificationRefused> {
        if told.is_empty() {
            return Err(NotificationRefused::Invalid(
                "subscriptions must name at least one subscription".into(),
            ));
        }
        if let Some(area) = &area {
            if area.id != id {
                return Err(NotificationRefused::Invalid(format!(
                    "service_area.id {} differs from the path's {id}",
                    area.id
                )));
            }
            if area.owner != sender {
                return Err(NotificationRefused::NotOwner(format!(
                    "service_area.owner is {}, but the notification comes from {sender}",
                    area.owner
                )));
            }
        }
        let now = self.clock.now();
        let mut state = self.state.lock();
        if let Some(known) = state.isas.get(id) {
            if known.owner != sender {
                return Err(NotificationRefused::NotOwner(format!(
                    "identification service area {id} belongs to {}, not {sender}",
                    known.owner
                )));
            }
            if let Some(area) = &area
                && area.version == known.version
                && extents != known.extents
            {
                return Err(NotificationRefused::Contradicts(format!(
                    "version {} of identification service area {id} arrived before with other extents",
                    area.version
                )));
            }
        }
        let held: HashSet<&str> = state.watches.values().map(|w| w.subscription_id.as_str()).collect();
        let told: Vec<(String, i32)> =
            told.iter().filter(|(s, _)| held.contains(s.as_str())).cloned().collect();
        if told.is_empty() || state.isas.get(id).is_some_and(|known| !is_news(&known.indices, &told)) {
            tracing::debug!(isa = id, ?told, "an older notification of an ISA ignored");
            return Ok(false);
        }
        match area {
            Some(area) if area.owner != self.identity => state.learn(area, extents, &told),
            Some(_) => {}
            None => {
                if let Some(known) = state.isas.get_mut(id) {
                    known.live = false;
                    note(&mut known.indices, &told);
                }
                state.prune(now);
                return Ok(true);
            }
        }
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn told(subscription: &str, index: i32) -> Vec<(String, i32)> {
        vec![(subscription.to_owned(), index)]
    }

    #[test]
    fn notification_order_is_judged_per_subscription() {
        let mut indices = HashMap::new();
        note(&mut indices, &told("s1", 5));
        assert!(!is_news(&indices, &told("s1", 5)) && !is_news(&indices, &told("s1", 3)));
        assert!(is_news(&indices, &told("s1", 6)));
        // A new subscription counts from its own start: its first notification is news whatever s1 told.
        assert!(is_news(&indices, &told("s2", 1)));
        note(&mut indices, &[("s2".to_owned(), 1), ("s1".to_owned(), 2)]);
        assert_eq!((indices.get("s1"), indices.get("s2")), (Some(&5), Some(&1)), "each keeps its highest");
        assert!(!is_news(&indices, &told("s2", 1)));
    }

    #[test]
    fn an_sp_that_does_not_answer_is_polled_ever_less_often_and_reported_once() {
        let t0: Timestamp = "2030-01-01T00:00:00Z".parse().expect("a valid time");
        let mut sp = PollState::default();
        assert!(sp.ready(t0));
        let mut waits = Vec::new();
        let mut warnings = 0;
        let mut now = t0;
        for _ in 0..10 {
            warnings += usize::from(sp.failed(now));
            let retry = sp.retry_at.expect("a retry time after a failure");
            assert!(!sp.ready(retry - Duration::milliseconds(1)) && sp.ready(retry));
            waits.push((retry - now).num_seconds());
            now = retry;
        }
        assert_eq!(waits, [2, 4, 8, 16, 32, 60, 60, 60, 60, 60]);
        assert_eq!(warnings, 1, "one warning per outage");
        assert!(sp.answered(), "an answer ends the outage");
        assert!(sp.ready(now) && !sp.answered());
        assert!(sp.failed(now), "the next outage is reported again");
    }
}
