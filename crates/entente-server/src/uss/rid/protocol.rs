//! What the F3411 versions make different on the USS's side, behind one trait: where the DSS serves Remote ID, the
//! scopes, the view limits, and the shapes of ISAs, subscriptions, ISA notifications and flights answers. The
//! core's ports are written once over [`RidProtocol`] (`HttpRidDss` for the DSS, `HttpRidPeers` for the peer SPs
//! the DP polls); `v22a.rs` and `v19.rs` implement it, on the same markers as the DSS edge's `RidWire`, and the one
//! a USS speaks is picked once, when it starts, from `RidConfig::version`.

use std::sync::Arc;

use entente_uss::rid::{View, ViewLimits};
use entente_uss::service::rid::{
    IsaChange, IsaChanged, IsaRef, IsaSummary, PeerFlight, RidDss, RidPeers, Subscribed, Subscription,
};
use entente_uss::service::{BoxFuture, CallError};
use entente_uss::{Timestamp, Volume};
use entente_wire::rid::RidSubscriberToNotify;
use entente_wire::rid::v22a::{GetFlightsResponse, RidFlight};
use entente_wire::scd::{SubscriberToNotify, SubscriptionState};
use reqwest::Method;
use serde::Serialize;

use super::{RidVersion, fix_in};
use crate::error::ApiError;
use crate::rid::{v19::V19, v22a::V22a};
use crate::uss::client::Reply;
use crate::uss::ports::call_error;
use crate::uss::{Links, peers};

/// The F3411 version a USS configured with `version` speaks: the one place that tells the versions apart.
pub(super) fn for_version(version: RidVersion) -> &'static dyn RidProtocol {
    match version {
        RidVersion::V22a => &V22a,
        RidVersion::V19 => &V19,
    }
}

/// One F3411 version as this USS speaks it: to the DSS (its ISAs as SP, its subscriptions as DP) and to peers
/// (notifying an ISA's subscribers as SP, polling SPs as DP). What is the same in both (the URLs under the
/// prefix, which statuses mean what, the state kept) stays in the SP and DP.
pub(super) trait RidProtocol: Send + Sync {
    /// The largest view a DP may ask an SP about, and the largest in which it shows flights, not clusters.
    fn views(&self) -> ViewLimits;
    /// Where the DSS serves this version, under its URL, without a trailing `/`.
    fn dss_prefix(&self) -> &'static str;
    /// The scope with which the SP reads an ISA at the DSS.
    fn isa_read_scope(&self) -> &'static str;
    /// The scope with which the SP writes and deletes its ISAs at the DSS.
    fn isa_write_scope(&self) -> &'static str;
    /// The scope with which the DP holds subscriptions at the DSS and asks SPs for flights and their details.
    fn dp_scope(&self) -> &'static str;

    /// PUTs, at the DSS's `url`, an ISA over `extent` whose flights this USS serves.
    fn put_isa<'a>(
        &'a self,
        links: &'a Links,
        url: &'a str,
        extent: &'a Volume,
    ) -> BoxFuture<'a, Result<Reply, ApiError>>;
    /// The owner and version of the ISA the DSS answered a GET with.
    fn isa_owner(&self, reply: &Reply) -> Result<(String, String), ApiError>;
    /// The DSS's successful answer to a change of ISA `id`, now over `extent` (`None`: deleted).
    fn isa_changed(
        &self,
        links: &Arc<Links>,
        id: &str,
        reply: &Reply,
        extent: Option<&Volume>,
    ) -> Result<IsaChanged, ApiError>;

    /// PUTs, at the DSS's `url`, a subscription over `extents` whose notifications this USS takes.
    fn put_subscription<'a>(
        &'a self,
        links: &'a Links,
        url: &'a str,
        extents: &'a Volume,
    ) -> BoxFuture<'a, Result<Reply, ApiError>>;
    /// The DSS's successful answer to a subscription's PUT.
    fn subscribed(&self, reply: &Reply) -> Result<Subscribed, ApiError>;

    /// The query parameters beside `view` of a poll of an SP: `first`, the first poll of that view there.
    fn flights_query(&self, first: bool) -> String;
    /// An SP's answer to a poll, of any status, in F3411-22a's form; `now` stamps an answer made up here.
    fn flights(&self, reply: &Reply, now: Timestamp) -> Result<GetFlightsResponse, ApiError>;
}

/// The change whose notification posts `body(subscriptions)` to `path` under each subscriber's URL, with `scope`.
pub(super) fn isa_changed<B: Serialize + Send + Sync + 'static>(
    links: &Arc<Links>,
    version: String,
    subscribers: Vec<RidSubscriberToNotify>,
    path: String,
    scope: &'static str,
    body: impl Fn(Vec<SubscriptionState>) -> B + Send + 'static,
) -> IsaChanged {
    let count = subscribers.len();
    let subscribers = subscribers
        .into_iter()
        .map(|s| SubscriberToNotify { uss_base_url: s.url, subscriptions: s.subscriptions })
        .collect();
    let links = links.clone();
    IsaChanged {
        version,
        subscribers: count,
        notify: Box::pin(async move { peers::fan_out(&links, subscribers, &path, scope, body).await }),
    }
}

/// The DSS's F3411 API for the core's SP, in the version this USS speaks.
pub(super) struct HttpRidDss {
    pub links: Arc<Links>,
    pub protocol: &'static dyn RidProtocol,
}

impl HttpRidDss {
    fn subscription_url(&self, id: &str) -> String {
        format!("{}{}/subscriptions/{id}", self.links.config.dss_url, self.protocol.dss_prefix())
    }

    fn isa_url(&self, id: &str) -> String {
        format!(
            "{}{}/identification_service_areas/{id}",
            self.links.config.dss_url,
            self.protocol.dss_prefix()
        )
    }
}

impl RidDss for HttpRidDss {
    fn isa(&self, id: &str) -> BoxFuture<'_, Result<Option<IsaRef>, CallError>> {
        let url = self.isa_url(id);
        Box::pin(async move {
            let (links, rid) = (&self.links, self.protocol);
            let reply = links
                .client
                .send_scoped(Method::GET, &url, rid.isa_read_scope(), None::<&()>, links.config.dss_timeout)
                .await
                .map_err(call_error)?;
            if reply.status == 404 {
                return Ok(None);
            }
            if !reply.is_success() {
                return Err(call_error(reply.unexpected()));
            }
            let (owner, version) = rid.isa_owner(&reply).map_err(call_error)?;
            Ok(Some(IsaRef { owner, version }))
        })
    }

    fn change_isa<'a>(
        &'a self,
        id: &'a str,
        version: Option<&'a str>,
        extent: Option<&'a Volume>,
    ) -> BoxFuture<'a, Result<IsaChange, CallError>> {
        Box::pin(async move {
            let (links, rid) = (&self.links, self.protocol);
            let mut url = self.isa_url(id);
            if let Some(version) = version {
                url = format!("{url}/{version}");
            }
            let reply = match extent {
                Some(extent) => rid.put_isa(links, &url, extent).await,
                None => {
                    let (scope, timeout) = (rid.isa_write_scope(), links.config.dss_timeout);
                    links.client.send_scoped(Method::DELETE, &url, scope, None::<&()>, timeout).await
                }
            }
            .map_err(call_error)?;
            // With a version: the DSS lost the ISA held (a restart), or moved past it (another writer).
            match reply.status {
                404 if version.is_some() => return Ok(IsaChange::Missing),
                409 if version.is_some() => return Ok(IsaChange::Superseded(call_error(reply.unexpected()))),
                _ if !reply.is_success() => return Err(call_error(reply.unexpected())),
                _ => {}
            }
            rid.isa_changed(links, id, &reply, extent).map(IsaChange::Changed).map_err(call_error)
        })
    }

    fn put_subscription<'a>(
        &'a self,
        id: &'a str,
        extents: &'a Volume,
    ) -> BoxFuture<'a, Result<Subscription, CallError>> {
        Box::pin(async move {
            let (links, rid) = (&self.links, self.protocol);
            let url = self.subscription_url(id);
            let reply = rid.put_subscription(links, &url, extents).await.map_err(call_error)?;
            if reply.status == 429 {
                return Ok(Subscription::TooMany);
            }
            if !reply.is_success() {
                return Err(call_error(reply.unexpected()));
            }
            rid.subscribed(&reply).map(Subscription::Made).map_err(call_error)
        })
    }

    fn delete_subscription<'a>(
        &'a self,
        id: &'a str,
        version: &'a str,
    ) -> BoxFuture<'a, Result<(), CallError>> {
        Box::pin(async move {
            let (links, rid) = (&self.links, self.protocol);
            let url = format!("{}/{version}", self.subscription_url(id));
            let reply = links
                .client
                .send_scoped(Method::DELETE, &url, rid.dp_scope(), None::<&()>, links.config.dss_timeout)
                .await
                .map_err(call_error)?;
            // Already gone at the DSS is what was asked for.
            if reply.status != 404 && !reply.is_success() {
                return Err(call_error(reply.unexpected()));
            }
            Ok(())
        })
    }
}

/// The peer SPs, as the core's DP polls them, in the version this USS speaks.
pub(super) struct HttpRidPeers {
    pub links: Arc<Links>,
    pub protocol: &'static dyn RidProtocol,
}

impl RidPeers for HttpRidPeers {
    fn flights<'a>(
        &'a self,
        flights_url: &'a str,
        view: &'a View,
        first: bool,
    ) -> BoxFuture<'a, Result<Vec<PeerFlight>, CallError>> {
        Box::pin(async move {
            let (links, rid) = (&self.links, self.protocol);
            let url = format!("{flights_url}?view={}&{}", view.to_param(), rid.flights_query(first));
            let reply = links
                .client
                .send_scoped(Method::GET, &url, rid.dp_scope(), None::<&()>, links.config.peer_timeout)
                .await;
            let answer = reply.and_then(|r| rid.flights(&r, links.now())).map_err(call_error)?;
            Ok(answer.flights.into_iter().map(flight_in).collect())
        })
    }
}

/// A flight an SP reported, with the positions that are valid: the current state first, since at an instant also
/// listed as a recent position it carries the velocity.
fn flight_in(flight: RidFlight) -> PeerFlight {
    let current = flight.current_state.iter().map(|s| fix_in(&s.timestamp, &s.position, Some(s)));
    let recent = flight.recent_positions.iter().map(|r| fix_in(&r.time, &r.position, None));
    let fixes = current.chain(recent).filter_map(Result::ok).collect();
    PeerFlight { id: flight.id, simulated: flight.simulated, aircraft_type: flight.aircraft_type, fixes }
}

/// The ISAs a subscription's answer names, as the DP keeps them. One the DSS describes wrongly is the DSS's fault,
/// not the operator's.
pub(super) fn present<I>(
    isas: &[I],
    summary: impl Fn(&I) -> Result<IsaSummary, ApiError>,
) -> Result<Vec<IsaSummary>, ApiError> {
    isas.iter()
        .map(summary)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ApiError::Upstream(format!("the DSS's answer to the subscription: {e}")))
}
