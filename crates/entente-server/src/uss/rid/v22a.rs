//! F3411-22a as the USS speaks it to the DSS and to peers (`entente_wire::rid::v22a`'s shapes), the version a USS
//! runs by default. Its endpoints peers call are the SP's and DP's own (`sp.rs`, `dp.rs`).

use std::sync::Arc;

use entente_uss::rid::{NEAR_REAL_TIME_S, V22A_VIEWS, ViewLimits};
use entente_uss::service::BoxFuture;
use entente_uss::service::rid::{IsaChanged, IsaSummary, Subscribed};
use entente_uss::{Timestamp, Volume};
use entente_wire::rid::ServiceArea;
use entente_wire::rid::v22a::{
    ChangeIdentificationServiceAreaResponse, GetFlightsResponse, IdentificationServiceArea,
    PutIdentificationServiceAreaNotificationParameters, PutParameters, PutSubscriptionResponse,
};
use entente_wire::volume_out;
use reqwest::Method;

use super::protocol::{RidProtocol, isa_changed, present};
use crate::error::ApiError;
use crate::rid::RidWire;
use crate::rid::v22a::{DP, SP, V22a};
use crate::uss::Links;
use crate::uss::client::Reply;

/// The ISA as the DP keeps it, from F3411-22a's form: its SP serves flights at `/uss/flights` of its base URL.
pub(super) fn summary(isa: &IdentificationServiceArea) -> Result<IsaSummary, ApiError> {
    Ok(IsaSummary {
        id: isa.id.clone(),
        owner: isa.owner.clone(),
        flights_url: format!("{}/uss/flights", isa.uss_base_url.trim_end_matches('/')),
        version: isa.version.clone(),
        end: entente_wire::time_in(&isa.time_end, "service_area.time_end")?,
    })
}

impl RidProtocol for V22a {
    fn views(&self) -> ViewLimits {
        V22A_VIEWS
    }

    fn dss_prefix(&self) -> &'static str {
        Self::PREFIX
    }

    fn isa_read_scope(&self) -> &'static str {
        SP
    }

    fn isa_write_scope(&self) -> &'static str {
        SP
    }

    fn dp_scope(&self) -> &'static str {
        DP
    }

    fn put_isa<'a>(
        &'a self,
        links: &'a Links,
        url: &'a str,
        extent: &'a Volume,
    ) -> BoxFuture<'a, Result<Reply, ApiError>> {
        Box::pin(async move {
            let params =
                PutParameters { extents: volume_out(extent), uss_base_url: links.config.base_url.clone() };
            links.client.send_scoped(Method::PUT, url, SP, Some(&params), links.config.dss_timeout).await
        })
    }

    fn isa_owner(&self, reply: &Reply) -> Result<(String, String), ApiError> {
        let got: ServiceArea<IdentificationServiceArea> = reply.json()?;
        Ok((got.service_area.owner, got.service_area.version))
    }

    fn isa_changed(
        &self,
        links: &Arc<Links>,
        id: &str,
        reply: &Reply,
        extent: Option<&Volume>,
    ) -> Result<IsaChanged, ApiError> {
        let change: ChangeIdentificationServiceAreaResponse = reply.json()?;
        let version = change.service_area.version.clone();
        let service_area = extent.is_some().then_some(change.service_area);
        let extents = extent.map(volume_out);
        let path = format!("/uss/identification_service_areas/{id}");
        Ok(isa_changed(links, version, change.subscribers, path, SP, move |subscriptions| {
            PutIdentificationServiceAreaNotificationParameters {
                service_area: service_area.clone(),
                subscriptions,
                extents: extents.clone(),
            }
        }))
    }

    fn put_subscription<'a>(
        &'a self,
        links: &'a Links,
        url: &'a str,
        extents: &'a Volume,
    ) -> BoxFuture<'a, Result<Reply, ApiError>> {
        Box::pin(async move {
            let params =
                PutParameters { extents: volume_out(extents), uss_base_url: links.config.base_url.clone() };
            links.client.send_scoped(Method::PUT, url, DP, Some(&params), links.config.dss_timeout).await
        })
    }

    fn subscribed(&self, reply: &Reply) -> Result<Subscribed, ApiError> {
        let answer: PutSubscriptionResponse = reply.json()?;
        Ok(Subscribed {
            present: present(&answer.service_areas, summary)?,
            version: answer.subscription.version,
            notification_index: answer.subscription.notification_index,
        })
    }

    fn flights_query(&self, first: bool) -> String {
        // The first poll of a view asks for the whole minute of recent positions, later ones for what is new.
        let seconds = if first { NEAR_REAL_TIME_S } else { 5 };
        format!("recent_positions_duration={seconds}")
    }

    fn flights(&self, reply: &Reply, _now: Timestamp) -> Result<GetFlightsResponse, ApiError> {
        match reply.status {
            200 => reply.json(),
            _ => Err(reply.unexpected()),
        }
    }
}
