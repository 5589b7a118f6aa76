//! The Remote ID display provider: areas this USS's users watch and areas around the aircraft it flies (one DSS
//! subscription each), ISA notifications from SPs (taken in order per subscription), polling each SP at most once
//! a tick, the merged positions, and the display operators read.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::Duration;
use entente_dss::DssError;
use entente_geo::{EARTH_RADIUS_M, Interval, LatLngRect};
use entente_uss::rid::{
    Fix, NEAR_REAL_TIME_S, Scale, View, clusters, merge_fixes, recent_in_view, seen_in, subscription_fits,
};
use entente_uss::{Timestamp, Volume};
use entente_wire::operator::{
    DisplayCluster, DisplayFlight, DisplayPosition, DisplayResponse, Watch, WatchList, WatchRequest,
};
use entente_wire::rid::v22a::{GetFlightDetailsResponse, PutIdentificationServiceAreaNotificationParameters};
use entente_wire::{LatLngPoint, time_out, volume_in};
use reqwest::Method;
use tokio::task::JoinSet;

use super::protocol::Subscribed;
use super::{Motion, fix_in, sp, tactical, v22a};
use crate::error::ApiError;
use crate::extract::{Auth, Body, entity_id};
use crate::rid::v22a::SP;
use crate::rid::{Params, params};
use crate::uss::MAX_VERTICES;
use crate::uss::UssState;
use crate::uss::operator::OPERATOR_SCOPE;

/// How long a watch lasts when the operator does not say.
const DEFAULT_WATCH_S: i64 = 3600;
/// The longest a DSS lets a RID subscription live (NetDSSMaxSubscriptionDuration).
const MAX_WATCH_S: i64 = 86_400;

/// Why a watch is held.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum WatchKind {
    /// Asked for by an operator.
    Operator,
    /// Made for a display's view no watch covered: it may give way to another.
    Display,
    /// Around aircraft this USS flies, so tactical detection sees the peers' aircraft nearby with no one watching.
    Flying,
}

struct WatchHeld {
    kind: WatchKind,
    view: View,
    subscription_id: String,
    version: String,
    end: Timestamp,
}

/// An ISA of another SP, as its notifications (or a subscription's answer) described it.
struct KnownIsa {
    owner: String,
    /// Where its SP serves flights: `{base}/uss/flights` in F3411-22a, the ISA's `flights_url` in F3411-19.
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

/// An ISA as either F3411 version describes it, reduced to what the DP needs.
pub(super) struct IsaSummary {
    pub id: String,
    pub owner: String,
    pub flights_url: String,
    pub version: String,
    pub end: Timestamp,
}

struct PeerTrack {
    provider: String,
    simulated: bool,
    aircraft_type: String,
    fixes: Vec<Fix<Motion>>,
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
pub(crate) struct Display {
    watches: BTreeMap<String, WatchHeld>,
    isas: HashMap<String, KnownIsa>,
    tracks: HashMap<(String, String), PeerTrack>,
    polled: HashMap<String, PollState>,
}

impl Display {
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

    /// Drops what no live ISA backs any more: expired ISAs, positions older than a minute, and the flights of
    /// an SP that no longer declares any ISA.
    fn prune(&mut self, now: Timestamp) {
        self.watches.retain(|_, w| w.end > now);
        self.isas.retain(|_, i| i.end > now);
        let serving: HashSet<&str> =
            self.isas.values().filter(|i| i.live).map(|i| i.flights_url.as_str()).collect();
        for track in self.tracks.values_mut() {
            merge_fixes(&mut track.fixes, Vec::new(), now, Duration::seconds(NEAR_REAL_TIME_S));
        }
        self.tracks.retain(|(base, _), t| serving.contains(base.as_str()) && !t.fixes.is_empty());
        self.polled.retain(|base, _| serving.contains(base.as_str()));
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

fn watch_out(id: &str, w: &WatchHeld) -> Watch {
    Watch {
        id: id.to_owned(),
        view: w.view.to_param(),
        subscription_id: w.subscription_id.clone(),
        time_end: time_out(w.end),
    }
}

fn too_many(message: String) -> ApiError {
    ApiError::Dss(DssError::TooManySubscriptions(message))
}

/// Starts watching an area: a RID subscription at the DSS over it, whose answer names the ISAs already there.
#[utoipa::path(post, path = "/operator/v1/rid/watches", tag = "Operator", request_body = WatchRequest,
    responses((status = 201, description = "Watching", body = Watch), crate::responses::BadRequest, crate::responses::Unauthorized, crate::responses::NotOperator, crate::responses::ViewTooLarge, (status = 429, description = "This USS already holds the most subscriptions allowed over part of the view", body = entente_wire::ErrorResponse), crate::responses::DssFailed))]
pub(crate) async fn start_watch(
    State(st): State<Arc<UssState>>,
    auth: Auth,
    body: Body,
) -> Result<(StatusCode, Json<Watch>), ApiError> {
    auth.require(OPERATOR_SCOPE)?;
    let req: WatchRequest = body.json()?;
    let view = View::parse(&req.view)?;
    view.scale(&st.rid.protocol.views())?;
    let seconds = req.duration_s.unwrap_or(DEFAULT_WATCH_S);
    if !(1..=MAX_WATCH_S).contains(&seconds) {
        return Err(ApiError::bad(format!("duration_s must be from 1 to {MAX_WATCH_S} seconds")));
    }
    let (_, watch) = subscribe(&st, view, Duration::seconds(seconds), WatchKind::Operator).await?;
    Ok((StatusCode::CREATED, Json(watch)))
}

/// Subscribes at the DSS over `view` for `duration` and learns the ISAs already there; the watch's id and
/// description.
async fn subscribe(
    st: &Arc<UssState>,
    view: View,
    duration: Duration,
    kind: WatchKind,
) -> Result<(String, Watch), ApiError> {
    let now = st.now();
    {
        let dp = st.rid.dp.lock();
        let held: Vec<LatLngRect> = dp.watches.values().map(|w| w.view.rect()).collect();
        if !subscription_fits(&held, &view.rect()) {
            return Err(too_many(format!(
                "this USS already watches {} areas meeting this view, the most F3411 allows over one area",
                entente_uss::rid::MAX_SUBSCRIPTIONS_PER_AREA
            )));
        }
    }
    let end = now + duration;
    let subscription_id = uuid::Uuid::new_v4().to_string();
    let extents = view.volume(Interval { lo: Some(now), hi: Some(end) })?;
    let rid = st.rid.protocol;
    let url = format!("{}{}/subscriptions/{subscription_id}", st.config.dss_url, rid.dss_prefix());
    let reply = rid.put_subscription(st, &url, &extents).await?;
    if reply.status == 429 {
        return Err(too_many(
            "the DSS holds the most subscriptions of this USS over part of the view".into(),
        ));
    }
    if !reply.is_success() {
        return Err(reply.unexpected());
    }
    let Subscribed { version, notification_index: index, present } = rid.subscribed(&reply)?;
    let id = uuid::Uuid::new_v4().to_string();
    let told = [(subscription_id.clone(), index)];
    let held = WatchHeld { kind, view, subscription_id, version, end };
    let watch = watch_out(&id, &held);
    let mut dp = st.rid.dp.lock();
    for isa in present.into_iter().filter(|i| i.owner != st.config.identity) {
        match dp.isas.get_mut(&isa.id) {
            // Known as it is: only this subscription's index is new.
            Some(known) if known.version == isa.version && known.live => note(&mut known.indices, &told),
            // Unknown, or changed since last heard of (its extents unknown until a notification tells them).
            _ => dp.learn(isa, None, &told),
        }
    }
    dp.watches.insert(id.clone(), held);
    Ok((id, watch))
}

/// A watch covering `view` for at least another second: one already held, or a new one of `kind` for `duration`,
/// as a display asked for an area it did not watch, or an aircraft this USS flies needs watched around it. The new
/// one is as wide as the SPs still answer a poll for, so the views a display moves through nearby (or the
/// aircraft flying near each other) share it instead of piling up subscriptions.
pub(super) async fn ensure_watch(
    st: &Arc<UssState>,
    view: View,
    duration: Duration,
    kind: WatchKind,
) -> Result<(), ApiError> {
    let soon = st.now() + Duration::seconds(1);
    let held = st.rid.dp.lock().watches.values().any(|w| w.end > soon && w.view.covers(&view));
    if held {
        return Ok(());
    }
    let limits = st.rid.protocol.views();
    // Widening every side by m grows the diagonal by at most 2√2·m; 2% is left for SPs measuring on the
    // ellipsoid rather than the sphere.
    let margin =
        (limits.max_diagonal_m * 0.98 - view.diagonal_m()).max(0.0) / (2.0 * std::f64::consts::SQRT_2);
    let wide = view.widened(margin)?;
    let view = if wide.scale(&limits).is_ok() { wide } else { view };
    // At the per-area limit, the display's watch there that would end first gives way.
    let evict = {
        let dp = st.rid.dp.lock();
        let held: Vec<LatLngRect> = dp.watches.values().map(|w| w.view.rect()).collect();
        if subscription_fits(&held, &view.rect()) {
            None
        } else {
            dp.watches
                .iter()
                .filter(|(_, w)| w.kind == WatchKind::Display && w.view.rect().intersects(&view.rect()))
                .min_by_key(|(_, w)| w.end)
                .map(|(id, _)| id.clone())
        }
    };
    if let Some(id) = evict {
        unsubscribe(st, &id).await?;
    }
    subscribe(st, view, duration, kind).await.map(|_| ())
}

/// How long a watch around flying aircraft lasts before a new one replaces it: short, since one a killed run
/// left stays at the DSS until it ends and counts towards the per-area limit.
const FLYING_WATCH_S: i64 = 600;

/// Keeps every aircraft this USS flies (its operators' flights and replayed or injected traffic) watched: a watch
/// covering the aircraft and a quarter of the widest view on each side of it, made when none does (as wide as
/// SPs answer, so aircraft flying near each other share it), and ended once it holds none of them. Peers'
/// aircraft near them are then polled and reach tactical detection with no operator watching.
pub(super) async fn follow_flying(st: &Arc<UssState>) {
    let positions = sp::flying_positions(st);
    let limits = st.rid.protocol.views();
    // Half of what `ensure_watch` widens a point to, so an aircraft gets a new watch before it nears an edge.
    let reach_m = limits.max_diagonal_m * 0.98 / (2.0 * std::f64::consts::SQRT_2) / 2.0;
    for at in &positions {
        let near = match View::new(*at, *at).and_then(|v| v.widened(reach_m)) {
            Ok(near) => near,
            Err(e) => {
                tracing::debug!(error = %e, "no watch around an aircraft off the globe");
                continue;
            }
        };
        if let Err(e) = ensure_watch(st, near, Duration::seconds(FLYING_WATCH_S), WatchKind::Flying).await {
            tracing::warn!(error = %e, "watching around an aircraft this USS flies failed");
        }
    }
    let idle: Vec<String> = st
        .rid
        .dp
        .lock()
        .watches
        .iter()
        .filter(|(_, w)| w.kind == WatchKind::Flying && !positions.iter().any(|p| w.view.contains(*p)))
        .map(|(id, _)| id.clone())
        .collect();
    for id in idle {
        if let Err(e) = unsubscribe(st, &id).await {
            tracing::warn!(error = %e, "ending a watch around aircraft no longer flying failed");
        }
    }
}

/// Polls now every SP whose live ISA meets `view`, for a minute of recent positions there.
pub(super) async fn poll_view(st: &Arc<UssState>, view: View) {
    let bases: BTreeSet<String> = st
        .rid
        .dp
        .lock()
        .isas
        .values()
        .filter(|i| i.live && (i.rects.is_empty() || i.rects.iter().any(|r| r.intersects(&view.rect()))))
        .map(|i| i.flights_url.clone())
        .collect();
    let mut tasks = JoinSet::new();
    for base in bases {
        tasks.spawn(poll_one(st.clone(), base, view, true));
    }
    while tasks.join_next().await.is_some() {}
}

#[utoipa::path(get, path = "/operator/v1/rid/watches", tag = "Operator",
    responses((status = 200, description = "The areas watched", body = WatchList), crate::responses::Unauthorized, crate::responses::NotOperator))]
pub(crate) async fn list_watches(
    State(st): State<Arc<UssState>>,
    auth: Auth,
) -> Result<Json<WatchList>, ApiError> {
    auth.require(OPERATOR_SCOPE)?;
    let dp = st.rid.dp.lock();
    // The watches around this USS's own aircraft are its own business, kept in line with what it flies.
    let listed = dp.watches.iter().filter(|(_, w)| w.kind != WatchKind::Flying);
    Ok(Json(WatchList { watches: listed.map(|(id, w)| watch_out(id, w)).collect() }))
}

/// Stops watching: the subscription is deleted at the DSS (already gone there is fine).
#[utoipa::path(delete, path = "/operator/v1/rid/watches/{id}", tag = "Operator", params(("id" = String, Path, description = "Id of the watch")),
    responses((status = 200, description = "No longer watched", body = Watch), crate::responses::Unauthorized, crate::responses::NotOperator, (status = 404, description = "No such watch", body = entente_wire::ErrorResponse), crate::responses::DssFailed))]
pub(crate) async fn end_watch(
    State(st): State<Arc<UssState>>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Json<Watch>, ApiError> {
    auth.require(OPERATOR_SCOPE)?;
    let flying = st.rid.dp.lock().watches.get(&id).is_some_and(|w| w.kind == WatchKind::Flying);
    if flying {
        return Err(ApiError::NotFound(format!("watch {id}: not found")));
    }
    Ok(Json(unsubscribe(&st, &id).await?))
}

/// Ends watch `id`: its subscription is deleted at the DSS (already gone there is fine).
async fn unsubscribe(st: &UssState, id: &str) -> Result<Watch, ApiError> {
    let (url, watch) = {
        let dp = st.rid.dp.lock();
        let w = dp.watches.get(id).ok_or_else(|| ApiError::NotFound(format!("watch {id}: not found")))?;
        let url = format!(
            "{}{}/subscriptions/{}/{}",
            st.config.dss_url,
            st.rid.protocol.dss_prefix(),
            w.subscription_id,
            w.version
        );
        (url, watch_out(id, w))
    };
    let scope = st.rid.protocol.dp_scope();
    let reply =
        st.client.send_scoped(Method::DELETE, &url, scope, None::<&()>, st.config.dss_timeout).await?;
    if reply.status != 404 && !reply.is_success() {
        return Err(reply.unexpected());
    }
    st.rid.dp.lock().watches.remove(id);
    Ok(watch)
}

/// F3411-22a `POST /uss/identification_service_areas/{id}`: an SP tells of its ISA. Only the ISA's owner may, a
/// notification older than one already taken changes nothing, and one version cannot mean two contents.
#[utoipa::path(post, path = "/uss/identification_service_areas/{id}", tag = "Remote ID (F3411-22a)",
    params(("id" = String, Path, description = "UUIDv4 of the ISA")), request_body = PutIdentificationServiceAreaNotificationParameters,
    responses((status = 204, description = "Taken"), crate::responses::BadRequest, crate::responses::Unauthorized, (status = 403, description = "The token lacks rid.service_provider, or the sender does not own the ISA", body = entente_wire::ErrorResponse), (status = 409, description = "This version arrived before with other content", body = entente_wire::ErrorResponse)))]
pub(crate) async fn notified_isa(
    State(st): State<Arc<UssState>>,
    auth: Auth,
    Path(id): Path<String>,
    body: Body,
) -> Result<StatusCode, ApiError> {
    let caller = auth.rid(&[SP])?;
    let id = entity_id(&id, "id")?.to_string();
    let n: PutIdentificationServiceAreaNotificationParameters = body.json()?;
    let area = n.service_area.as_ref().map(v22a::summary).transpose()?;
    let extents = n.extents.as_ref().map(|e| volume_in(e, "extents", MAX_VERTICES)).transpose()?;
    let told: Vec<(String, i32)> =
        n.subscriptions.iter().map(|s| (s.subscription_id.clone(), s.notification_index)).collect();
    take_notification(&st, &caller.manager, &id, area, extents, &told)
}

/// The rules of an ISA notification in either version, from `sender` (the token's subject) about ISA `id`;
/// `told` names the subscriptions it is for, each with its notification index (none named is a 400). It is news
/// when one of them is a subscription this USS holds and tells of this ISA with an index higher than that
/// subscription told before; one for subscriptions this USS does not hold (ended, or never its) changes nothing.
pub(super) fn take_notification(
    st: &UssState,
    sender: &str,
    id: &str,
    area: Option<IsaSummary>,
    extents: Option<Volume>,
    told: &[(String, i32)],
) -> Result<StatusCode, ApiError> {
    if told.is_empty() {
        return Err(ApiError::bad("subscriptions must name at least one subscription"));
    }
    if let Some(area) = &area {
        if area.id != id {
            return Err(ApiError::bad(format!("service_area.id {} differs from the path's {id}", area.id)));
        }
        if area.owner != sender {
            return Err(ApiError::Forbidden(format!(
                "service_area.owner is {}, but the notification comes from {sender}",
                area.owner
            )));
        }
    }
    let mut dp = st.rid.dp.lock();
    if let Some(known) = dp.isas.get(id) {
        if known.owner != sender {
            return Err(ApiError::Forbidden(format!(
                "identification service area {id} belongs to {}, not {sender}",
                known.owner
            )));
        }
        if let Some(area) = &area
            && area.version == known.version
            && extents != known.extents
        {
            return Err(ApiError::Conflict(format!(
                "version {} of identification service area {id} arrived before with other extents",
                area.version
            )));
        }
    }
    let held: HashSet<&str> = dp.watches.values().map(|w| w.subscription_id.as_str()).collect();
    let told: Vec<(String, i32)> = told.iter().filter(|(s, _)| held.contains(s.as_str())).cloned().collect();
    if told.is_empty() || dp.isas.get(id).is_some_and(|known| !is_news(&known.indices, &told)) {
        tracing::debug!(isa = id, ?told, "an older notification of an ISA ignored");
        return Ok(StatusCode::NO_CONTENT);
    }
    match area {
        Some(area) if area.owner != st.config.identity => dp.learn(area, extents, &told),
        Some(_) => {}
        None => {
            if let Some(known) = dp.isas.get_mut(id) {
                known.live = false;
                note(&mut known.indices, &told);
            }
            dp.prune(st.now());
        }
    }
    Ok(StatusCode::NO_CONTENT)
}

/// One poll per SP: the next watch (in turn) that meets one of its ISAs.
pub(super) async fn poll(st: &Arc<UssState>) {
    let now = st.now();
    let jobs: Vec<(String, View, bool)> = {
        let mut dp = st.rid.dp.lock();
        dp.prune(now);
        let mut by_base: BTreeMap<String, Vec<LatLngRect>> = BTreeMap::new();
        let mut anywhere: HashSet<String> = HashSet::new();
        for isa in dp.isas.values().filter(|i| i.live) {
            if isa.rects.is_empty() {
                anywhere.insert(isa.flights_url.clone());
            }
            by_base.entry(isa.flights_url.clone()).or_default().extend(isa.rects.iter().copied());
        }
        let Display { watches, polled, .. } = &mut *dp;
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
                let state = polled.entry(base.clone()).or_default();
                if !state.ready(now) {
                    return None;
                }
                let (watch_id, watch) = meeting[state.next % meeting.len()];
                state.next = state.next.wrapping_add(1);
                let first = state.seen.insert(watch_id.clone());
                Some((base, watch.view, first))
            })
            .collect()
    };
    let mut tasks = JoinSet::new();
    for (base, view, first) in jobs {
        tasks.spawn(poll_one(st.clone(), base, view, first));
    }
    while tasks.join_next().await.is_some() {}
}

async fn poll_one(st: Arc<UssState>, base: String, view: View, first: bool) {
    let rid = st.rid.protocol;
    let url = format!("{base}?view={}&{}", view.to_param(), rid.flights_query(first));
    let reply =
        st.client.send_scoped(Method::GET, &url, rid.dp_scope(), None::<&()>, st.config.peer_timeout).await;
    let answer = reply.and_then(|r| rid.flights(&r, st.now()));
    let answer = match answer {
        Ok(answer) => answer,
        Err(e) => {
            let now = st.now();
            let first = st.rid.dp.lock().polled.get_mut(&base).is_some_and(|p| p.failed(now));
            if first {
                tracing::warn!(sp = base, error = %e, "polling a Remote ID service provider failed; retrying less often");
            } else {
                tracing::debug!(sp = base, error = %e, "polling a Remote ID service provider failed again");
            }
            return;
        }
    };
    if st.rid.dp.lock().polled.get_mut(&base).is_some_and(PollState::answered) {
        tracing::info!(sp = base, "a Remote ID service provider answers again");
    }
    let now = st.now();
    let mut fresh = Vec::new();
    {
        let mut dp = st.rid.dp.lock();
        let provider =
            dp.isas.values().find(|i| i.flights_url == base).map(|i| i.owner.clone()).unwrap_or_default();
        let reported: HashSet<&str> = answer.flights.iter().map(|f| f.id.as_str()).collect();
        // A flight last seen in this view that the SP no longer reports there has left it or ended.
        dp.tracks.retain(|(b, id), t| {
            *b != base
                || reported.contains(id.as_str())
                || t.fixes.last().is_none_or(|f| !view.contains(f.at))
        });
        for flight in &answer.flights {
            // The current state first: at an instant also listed as a recent position, it carries the velocity.
            let current = flight.current_state.iter().map(|s| fix_in(&s.timestamp, &s.position, Some(s)));
            let recent = flight.recent_positions.iter().map(|r| fix_in(&r.time, &r.position, None));
            let incoming: Vec<Fix<Motion>> = current.chain(recent).filter_map(Result::ok).collect();
            let track = dp.tracks.entry((base.clone(), flight.id.clone())).or_insert_with(|| PeerTrack {
                provider: provider.clone(),
                simulated: flight.simulated,
                aircraft_type: flight.aircraft_type.clone(),
                fixes: Vec::new(),
            });
            let before = track.fixes.last().map(|f| f.time);
            merge_fixes(&mut track.fixes, incoming, now, Duration::seconds(NEAR_REAL_TIME_S));
            if let Some(last) = track.fixes.last()
                && Some(last.time) != before
            {
                fresh.push((flight.id.clone(), last.clone()));
            }
        }
    }
    for (id, fix) in fresh {
        tactical::observe(&st, &id, &fix);
    }
}

fn position_out(fix: &Fix<Motion>, now: Timestamp) -> DisplayPosition {
    DisplayPosition {
        time: time_out(fix.time),
        lat: fix.at.lat,
        lng: fix.at.lng,
        alt_m: fix.data.alt_m,
        age_s: (now - fix.time).num_milliseconds() as f64 / 1000.0,
        accuracy_h: fix.data.accuracy_h.clone(),
        accuracy_v: fix.data.accuracy_v.clone(),
    }
}

fn cluster_out(c: &entente_uss::rid::Cluster) -> DisplayCluster {
    let r = c.rect;
    let height_m = (r.lat_hi - r.lat_lo).to_radians() * EARTH_RADIUS_M;
    let width_m = (r.lng_hi - r.lng_lo).to_radians()
        * EARTH_RADIUS_M
        * ((r.lat_lo + r.lat_hi) / 2.0).to_radians().cos();
    DisplayCluster {
        corners: [LatLngPoint { lat: r.lat_lo, lng: r.lng_lo }, LatLngPoint { lat: r.lat_hi, lng: r.lng_hi }],
        area_sqm: height_m * width_m,
        number_of_flights: c.flights,
    }
}

/// What this USS sees in a view: its own flights and peers' merged from their SPs, each with its newest position,
/// how old it is and its trail; in views over 2 km across only clusters.
#[utoipa::path(get, path = "/operator/v1/rid/flights", tag = "Operator",
    params(("view" = String, Query, description = "lat1,lng1,lat2,lng2; diagonal at most 7 km, flights up to 2 km")),
    responses((status = 200, description = "Flights or clusters in the view", body = DisplayResponse), crate::responses::BadRequest, crate::responses::Unauthorized, crate::responses::NotOperator, crate::responses::ViewTooLarge))]
pub(crate) async fn display(
    State(st): State<Arc<UssState>>,
    auth: Auth,
    query: Params,
) -> Result<Json<DisplayResponse>, ApiError> {
    auth.require(OPERATOR_SCOPE)?;
    let p = params(query)?;
    let view =
        View::parse(p.get("view").ok_or_else(|| ApiError::bad("view is required: lat1,lng1,lat2,lng2"))?)?;
    let scale = view.scale(&st.rid.protocol.views())?;
    let now = st.now();
    let seen = seen(&st, &view, now);
    let (flights, clusters) = match scale {
        Scale::Flights => {
            let flights = seen
                .into_iter()
                .filter_map(|Seen { id, provider, simulated, fixes, .. }| {
                    let last = fixes.last()?;
                    let trail = recent_in_view(&fixes, &view, now, Duration::seconds(NEAR_REAL_TIME_S));
                    Some(DisplayFlight {
                        id,
                        provider,
                        simulated,
                        position: position_out(last, now),
                        speed_mps: last.data.speed_mps,
                        track_deg: last.data.track_deg,
                        vertical_speed_mps: last.data.vertical_speed_mps,
                        recent_positions: trail
                            .iter()
                            .filter(|f| f.time < last.time)
                            .map(|f| position_out(f, now))
                            .collect(),
                    })
                })
                .collect();
            (flights, Vec::new())
        }
        Scale::Clusters => (Vec::new(), clusters_in(&view, &seen)),
    };
    Ok(Json(DisplayResponse { timestamp: time_out(now), flights, clusters }))
}

/// An aircraft a display shows: this SP's own or one a peer SP reported.
pub(super) struct Seen {
    pub id: String,
    pub provider: String,
    pub simulated: bool,
    pub aircraft_type: String,
    pub fixes: Vec<Fix<Motion>>,
}

/// Every aircraft, this SP's and peers', with a position in `view` in the last minute.
pub(super) fn seen(st: &UssState, view: &View, now: Timestamp) -> Vec<Seen> {
    let mut seen = sp::tracks(st);
    for s in &mut seen {
        s.provider.clone_from(&st.config.identity);
    }
    seen.extend(st.rid.dp.lock().tracks.iter().map(|((_, id), t)| Seen {
        id: id.clone(),
        provider: t.provider.clone(),
        simulated: t.simulated,
        aircraft_type: t.aircraft_type.clone(),
        fixes: t.fixes.clone(),
    }));
    seen.retain(|s| seen_in(&s.fixes, view, now));
    seen
}

/// The clusters a view too large for detail shows of `seen`.
pub(super) fn clusters_in(view: &View, seen: &[Seen]) -> Vec<DisplayCluster> {
    let latest: Vec<_> = seen.iter().filter_map(|s| s.fixes.last().map(|f| f.at)).collect();
    clusters(view, &latest).iter().map(cluster_out).collect()
}

/// Where the SP that reported peer flight `id` serves its details, if a peer reported it.
pub(super) fn details_url(st: &UssState, id: &str) -> Option<String> {
    let dp = st.rid.dp.lock();
    dp.tracks.keys().find(|(_, flight)| flight == id).map(|(base, _)| format!("{base}/{id}/details"))
}

/// Fetches a peer flight's details from `url`, as a display provider.
pub(super) async fn peer_details(st: &UssState, url: &str) -> Result<GetFlightDetailsResponse, ApiError> {
    let scope = st.rid.protocol.dp_scope();
    let reply = st.client.send_scoped(Method::GET, url, scope, None::<&()>, st.config.peer_timeout).await?;
    if !reply.is_success() {
        return Err(reply.unexpected());
    }
    reply.json()
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
