//! The core's ports as this server gives them: the DSS and peers over HTTP with F3548's wire shapes, flights,
//! constraints and zone data sets saved in this USS's store, and the journal as the audit chain and the USS's
//! metrics.

use std::collections::HashMap;
use std::sync::Arc;

use entente_dss::{EntityId, Subscriber};
use entente_uss::EventKind;
use entente_uss::geoawareness::ZoneSet;
use entente_uss::service::{
    Attempt, BoxFuture, CallError, Dss, FlightRecords, IntentRef, IntentWrite, Journal, OwnFlight, OwnZone,
    Peers, Published, PutOutcome, UserNotice, ZoneDetails, ZoneRecords, ZoneRef, ZoneWritten,
};
use entente_uss::store::{Table, Ticket};
use entente_uss::{Timestamp, Volume};
use entente_wire::scd::{
    ExchangeRecord, ImplicitSubscriptionParameters, PutConstraintReferenceParameters,
    PutOperationalIntentReferenceParameters, subscribers_out,
};
use entente_wire::uss::{PlanningRecord, UserNotificationRecord};
use entente_wire::uss_core::{
    intent_ref_in, intent_ref_out, own_zone_out, published_in, published_out, state_out, subscribers_in,
    zone_ref_in,
};
use entente_wire::{WireError, time_out, volume_out, volumes_in};

use super::dss_client::{self, PutOutcome as WirePut};
use super::records::{self, StoredZoneSet};
use super::{Links, MAX_VERTICES, peers};
use crate::error::ApiError;
use crate::scd::{CMSA, CP, SC};

/// A failed call as the core sees it: the DSS refusing the caller's own request, refusing this USS, or failing.
pub(super) fn call_error(e: ApiError) -> CallError {
    match e {
        ApiError::BadRequest(m) => CallError::Invalid(m),
        ApiError::Wire(w) => CallError::Failed(format!("an answer could not be read: {w}")),
        ApiError::PayloadTooLarge(m) => CallError::TooLarge(m),
        ApiError::PreconditionFailed(m) => CallError::Refused(m),
        other => CallError::Failed(other.to_string()),
    }
}

fn unreadable(what: &str, e: WireError) -> CallError {
    CallError::Failed(format!("{what} could not be read: {e}"))
}

/// The DSS's F3548 API over HTTP.
pub(crate) struct HttpDss(pub Arc<Links>);

impl Dss for HttpDss {
    fn query_intents(&self, area: Volume) -> BoxFuture<'_, Result<Vec<IntentRef>, CallError>> {
        Box::pin(async move {
            let found = dss_client::query_intents(&self.0, volume_out(&area)).await.map_err(call_error)?;
            found
                .iter()
                .enumerate()
                .map(|(i, r)| intent_ref_in(r, &format!("operational_intent_references[{i}]")))
                .collect::<Result<_, _>>()
                .map_err(|e| unreadable("the DSS's query answer", e))
        })
    }

    fn query_zones(&self, area: Volume) -> BoxFuture<'_, Result<Vec<ZoneRef>, CallError>> {
        Box::pin(async move {
            let found =
                dss_client::query_constraints(&self.0, volume_out(&area)).await.map_err(call_error)?;
            Ok(found.iter().map(zone_ref_in).collect())
        })
    }

    fn put_intent(&self, write: IntentWrite) -> BoxFuture<'_, Result<PutOutcome, CallError>> {
        Box::pin(async move {
            let links = &self.0;
            let state = state_out(write.state)
                .ok_or_else(|| CallError::Invalid("an Ended flight is deleted, not written".into()))?;
            let new_subscription = write.subscription_id.is_none().then(|| ImplicitSubscriptionParameters {
                uss_base_url: links.config.base_url.clone(),
                notify_for_constraints: Some(true),
            });
            let params = PutOperationalIntentReferenceParameters {
                extents: write.extents.iter().map(volume_out).collect(),
                key: Some(write.key),
                state,
                uss_base_url: links.config.base_url.clone(),
                subscription_id: write.subscription_id,
                new_subscription,
                requested_ovn_suffix: None,
            };
            // Constraint processing (CP) is what lets the implicit subscription hear of constraints; off-nominal
            // states are written under conformance monitoring (CMSA), without a key.
            let scopes = if write.state.is_off_nominal() { &[CMSA][..] } else { &[SC, CP][..] };
            let id = write.id.to_string();
            let outcome = dss_client::put_intent(links, &id, write.ovn.as_deref(), &params, scopes)
                .await
                .map_err(call_error)?;
            match outcome {
                WirePut::Done(change) => Ok(PutOutcome::Done {
                    reference: intent_ref_in(
                        &change.operational_intent_reference,
                        "operational_intent_reference",
                    )
                    .map_err(|e| unreadable("the DSS's answer", e))?,
                    subscribers: subscribers_in(&change.subscribers, "subscribers")
                        .map_err(|e| unreadable("the DSS's answer", e))?,
                }),
                WirePut::Missing { intents, constraints } => Ok(PutOutcome::Missing {
                    intents: intents
                        .iter()
                        .enumerate()
                        .map(|(i, r)| intent_ref_in(r, &format!("missing_operational_intents[{i}]")))
                        .collect::<Result<_, _>>()
                        .map_err(|e| unreadable("the DSS's conflict answer", e))?,
                    zones: constraints.iter().map(zone_ref_in).collect(),
                }),
            }
        })
    }

    fn delete_intent(
        &self,
        id: EntityId,
        ovn: String,
    ) -> BoxFuture<'_, Result<Option<Vec<Subscriber>>, CallError>> {
        Box::pin(async move {
            let deleted =
                dss_client::delete_intent(&self.0, &id.to_string(), &ovn).await.map_err(call_error)?;
            deleted
                .map(|c| subscribers_in(&c.subscribers, "subscribers"))
                .transpose()
                .map_err(|e| unreadable("the DSS's answer", e))
        })
    }

    fn put_zone(
        &self,
        id: EntityId,
        ovn: Option<String>,
        volumes: Vec<Volume>,
    ) -> BoxFuture<'_, Result<ZoneWritten, CallError>> {
        Box::pin(async move {
            let links = &self.0;
            let params = PutConstraintReferenceParameters {
                extents: volumes.iter().map(volume_out).collect(),
                uss_base_url: links.config.base_url.clone(),
            };
            let change = dss_client::put_constraint(links, &id.to_string(), ovn.as_deref(), &params)
                .await
                .map_err(call_error)?;
            Ok(ZoneWritten {
                reference: zone_ref_in(&change.constraint_reference),
                subscribers: subscribers_in(&change.subscribers, "subscribers")
                    .map_err(|e| unreadable("the DSS's answer", e))?,
            })
        })
    }

    fn delete_zone(&self, id: EntityId, ovn: String) -> BoxFuture<'_, Result<Vec<Subscriber>, CallError>> {
        Box::pin(async move {
            let change =
                dss_client::delete_constraint(&self.0, &id.to_string(), &ovn).await.map_err(call_error)?;
            subscribers_in(&change.subscribers, "subscribers").map_err(|e| unreadable("the DSS's answer", e))
        })
    }

    fn report_unreachable(&self, intent: IntentRef, problem: String) -> BoxFuture<'_, Result<(), CallError>> {
        Box::pin(async move {
            let links = &self.0;
            let exchange = ExchangeRecord {
                url: intent.details_url(),
                method: "GET".to_owned(),
                headers: None,
                recorder_role: "Client".to_owned(),
                request_time: time_out(links.now()),
                request_body: None,
                response_time: None,
                response_body: None,
                response_code: None,
                problem: Some(problem),
                request_source: Some(links.config.identity.clone()),
            };
            dss_client::report(links, exchange).await.map(|_| ()).map_err(call_error)
        })
    }
}

/// Peer USSs over HTTP, with the cache of the intents they shared and the zones this USS manages itself.
pub(crate) struct HttpPeers(pub Arc<Links>);

impl Peers for HttpPeers {
    fn intent_details(
        &self,
        refs: Vec<IntentRef>,
    ) -> BoxFuture<'_, Vec<(IntentRef, Result<Published, CallError>)>> {
        Box::pin(async move {
            let wire: Vec<_> = refs.iter().map(intent_ref_out).collect();
            let mut fetched: HashMap<String, _> =
                peers::details(&self.0, wire).await.into_iter().map(|(w, o)| (w.id, o)).collect();
            refs.into_iter()
                .map(|r| {
                    let outcome = fetched.remove(&r.id).unwrap_or_else(|| {
                        Err(ApiError::Upstream(format!("{}: no answer", r.details_url())))
                    });
                    let details = outcome.map_err(call_error).and_then(|i| {
                        published_in(&i, "operational_intent", MAX_VERTICES)
                            .map_err(|e| unreadable(&format!("the details at {}", r.details_url()), e))
                    });
                    (r, details)
                })
                .collect()
        })
    }

    fn zone_details(
        &self,
        refs: Vec<ZoneRef>,
    ) -> BoxFuture<'_, Vec<(ZoneRef, Result<ZoneDetails, CallError>)>> {
        Box::pin(async move {
            peers::constraint_details(&self.0, refs)
                .await
                .into_iter()
                .map(|(r, c)| {
                    let details = c.map_err(call_error).and_then(|c| {
                        let volumes =
                            volumes_in(&c.details.volumes, "constraint.details.volumes", MAX_VERTICES)
                                .map_err(|e| unreadable(&format!("constraint {}", r.id), e))?;
                        Ok(ZoneDetails { volumes, ovn: c.reference.ovn })
                    });
                    (r, details)
                })
                .collect()
        })
    }

    fn notify(
        &self,
        subscribers: Vec<Subscriber>,
        id: EntityId,
        intent: Option<Published>,
    ) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let intent = intent.as_ref().map(published_out);
            peers::notify(&self.0, subscribers_out(&subscribers), &id.to_string(), intent).await;
        })
    }

    fn notify_zone(
        &self,
        subscribers: Vec<Subscriber>,
        id: EntityId,
        zone: Option<OwnZone>,
    ) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let zone = zone.as_ref().map(own_zone_out);
            peers::notify_constraint(&self.0, subscribers_out(&subscribers), &id.to_string(), zone).await;
        })
    }
}

impl FlightRecords for Links {
    fn save(&self, flights: &[(EntityId, Option<&OwnFlight>)]) -> Ticket {
        let writes = flights.iter().map(|(id, f)| records::flight_write(*id, *f)).collect();
        Links::save(self, writes)
    }
}

impl ZoneRecords for Links {
    fn save_zone(&self, id: EntityId, zone: Option<&OwnZone>) -> Ticket {
        let write = records::write(Table::Zones, id.to_string(), zone.map(own_zone_out).as_ref());
        Links::save(self, write.map(|w| vec![w]))
    }

    fn save_set(&self, name: &str, set: Option<&ZoneSet>) -> Ticket {
        let stored = set.map(|s| StoredZoneSet {
            text: s.source.clone(),
            publish: s.publish,
            origin: s.origin.clone(),
        });
        Links::save(self, records::write(Table::Geozones, name.to_owned(), stored.as_ref()).map(|w| vec![w]))
    }
}

impl Journal for Links {
    fn planning_attempt(&self, time: Timestamp, a: &Attempt) {
        let record = PlanningRecord {
            time: time_out(time),
            ovns: a.key.clone(),
            missing_operational_intents: a.missing_intents.clone(),
            missing_constraints: a.missing_zones.clone(),
            operational_intent_id: a.intent.to_string(),
            problem: a.problem.clone(),
        };
        self.audit.note(time, EventKind::PlanningAttempt, &record);
    }

    fn operator_notified(&self, n: &UserNotice) {
        let record = UserNotificationRecord {
            triggering_event_time: time_out(n.observed_at),
            notification_time: time_out(n.observed_at),
            notification_details: n.message.clone(),
            notification_triggering_event: n.requirement.to_owned(),
        };
        self.audit.note(n.observed_at, EventKind::OperatorNotification, &record);
        self.metrics.operator_notification(n.requirement);
    }

    fn tactical_alert(&self, _flight: EntityId) {
        self.metrics.operator_notification("tactical");
    }
}
