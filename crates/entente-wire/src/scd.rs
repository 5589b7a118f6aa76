//! F3548-21 request and response bodies, and their conversion from domain views.

use entente_dss::{
    AirspaceConflict, Availability, ConstraintView, EntityId, IntentView, OirState, Subscriber,
    SubscriptionView, time_span,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{Time, Volume4D, time_out};

/// F3548 requires `subscription_id` on every reference; this stands for "none" as InterUSS does.
pub const NULL_SUBSCRIPTION: &str = "00000000-0000-4000-8000-000000000000";

#[derive(Clone, Copy, Debug, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub enum UssAvailabilityState {
    Unknown,
    Normal,
    Down,
}

impl From<Availability> for UssAvailabilityState {
    fn from(a: Availability) -> Self {
        match a {
            Availability::Unknown => UssAvailabilityState::Unknown,
            Availability::Normal => UssAvailabilityState::Normal,
            Availability::Down => UssAvailabilityState::Down,
        }
    }
}

impl From<UssAvailabilityState> for Availability {
    fn from(a: UssAvailabilityState) -> Self {
        match a {
            UssAvailabilityState::Unknown => Availability::Unknown,
            UssAvailabilityState::Normal => Availability::Normal,
            UssAvailabilityState::Down => Availability::Down,
        }
    }
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub enum OperationalIntentState {
    Accepted,
    Activated,
    Nonconforming,
    Contingent,
}

impl From<OperationalIntentState> for OirState {
    fn from(s: OperationalIntentState) -> Self {
        match s {
            OperationalIntentState::Accepted => OirState::Accepted,
            OperationalIntentState::Activated => OirState::Activated,
            OperationalIntentState::Nonconforming => OirState::Nonconforming,
            OperationalIntentState::Contingent => OirState::Contingent,
        }
    }
}

impl From<OirState> for OperationalIntentState {
    fn from(s: OirState) -> Self {
        match s {
            OirState::Accepted => OperationalIntentState::Accepted,
            OirState::Activated => OperationalIntentState::Activated,
            OirState::Nonconforming => OperationalIntentState::Nonconforming,
            OirState::Contingent => OperationalIntentState::Contingent,
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct OperationalIntentReference {
    pub id: String,
    pub manager: String,
    pub uss_availability: UssAvailabilityState,
    pub version: i32,
    pub state: OperationalIntentState,
    /// Only the manager sees the OVN.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ovn: Option<String>,
    pub time_start: Time,
    pub time_end: Time,
    pub uss_base_url: String,
    pub subscription_id: String,
}

fn span(extents: &[entente_dss::Volume]) -> (Time, Time) {
    // Stored references always carry start and end on every extent (checked on write).
    let (start, end) = time_span(extents);
    let or_epoch = |t: Option<entente_dss::Timestamp>| time_out(t.unwrap_or_default());
    (or_epoch(start), or_epoch(end))
}

impl OperationalIntentReference {
    pub fn from_view(v: &IntentView) -> Self {
        let o = &v.intent;
        let (time_start, time_end) = span(&o.extents);
        OperationalIntentReference {
            id: o.id.to_string(),
            manager: o.manager.clone(),
            uss_availability: v.availability.into(),
            version: o.version,
            state: o.state.into(),
            ovn: v.ovn_visible.then(|| o.ovn.clone()),
            time_start,
            time_end,
            uss_base_url: o.uss_base_url.clone(),
            subscription_id: o
                .subscription_id
                .map_or_else(|| NULL_SUBSCRIPTION.to_owned(), |s| s.to_string()),
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct ConstraintReference {
    pub id: String,
    pub manager: String,
    pub uss_availability: UssAvailabilityState,
    pub version: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ovn: Option<String>,
    pub time_start: Time,
    pub time_end: Time,
    pub uss_base_url: String,
}

impl ConstraintReference {
    pub fn from_view(v: &ConstraintView) -> Self {
        let c = &v.constraint;
        let (time_start, time_end) = span(&c.extents);
        ConstraintReference {
            id: c.id.to_string(),
            manager: c.manager.clone(),
            uss_availability: v.availability.into(),
            version: c.version,
            ovn: v.ovn_visible.then(|| c.ovn.clone()),
            time_start,
            time_end,
            uss_base_url: c.uss_base_url.clone(),
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct Subscription {
    pub id: String,
    pub version: String,
    pub notification_index: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_start: Option<Time>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_end: Option<Time>,
    pub uss_base_url: String,
    pub notify_for_operational_intents: bool,
    pub notify_for_constraints: bool,
    pub implicit_subscription: bool,
    pub dependent_operational_intents: Vec<String>,
}

impl Subscription {
    pub fn from_view(v: &SubscriptionView) -> Self {
        let s = &v.subscription;
        let (start, end) = time_span(&s.extents);
        Subscription {
            id: s.id.to_string(),
            version: s.version.clone(),
            notification_index: s.notification_index,
            time_start: start.map(time_out),
            time_end: end.map(time_out),
            uss_base_url: s.uss_base_url.clone(),
            notify_for_operational_intents: s.notify_for_operational_intents,
            notify_for_constraints: s.notify_for_constraints,
            implicit_subscription: s.implicit,
            dependent_operational_intents: v
                .dependent_operational_intents
                .iter()
                .map(EntityId::to_string)
                .collect(),
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct SubscriptionState {
    pub subscription_id: String,
    pub notification_index: i32,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct SubscriberToNotify {
    pub subscriptions: Vec<SubscriptionState>,
    pub uss_base_url: String,
}

/// The same wire shape tells F3548 and F3411 subscribers which counter a notification carries.
impl From<&entente_dss::SubscriptionState> for SubscriptionState {
    fn from(st: &entente_dss::SubscriptionState) -> Self {
        SubscriptionState {
            subscription_id: st.subscription_id.to_string(),
            notification_index: st.notification_index,
        }
    }
}

pub fn subscribers_out(subscribers: &[Subscriber]) -> Vec<SubscriberToNotify> {
    subscribers
        .iter()
        .map(|s| SubscriberToNotify {
            uss_base_url: s.uss_base_url.clone(),
            subscriptions: s.subscriptions.iter().map(SubscriptionState::from).collect(),
        })
        .collect()
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct QueryRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub area_of_interest: Option<Volume4D>,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct QueryOperationalIntentReferenceResponse {
    pub operational_intent_references: Vec<OperationalIntentReference>,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct GetOperationalIntentReferenceResponse {
    pub operational_intent_reference: OperationalIntentReference,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct ImplicitSubscriptionParameters {
    pub uss_base_url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify_for_constraints: Option<bool>,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct PutOperationalIntentReferenceParameters {
    pub extents: Vec<Volume4D>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<Vec<String>>,
    pub state: OperationalIntentState,
    pub uss_base_url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscription_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_subscription: Option<ImplicitSubscriptionParameters>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_ovn_suffix: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct ChangeOperationalIntentReferenceResponse {
    pub subscribers: Vec<SubscriberToNotify>,
    pub operational_intent_reference: OperationalIntentReference,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct QueryConstraintReferencesResponse {
    pub constraint_references: Vec<ConstraintReference>,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct GetConstraintReferenceResponse {
    pub constraint_reference: ConstraintReference,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct PutConstraintReferenceParameters {
    pub extents: Vec<Volume4D>,
    pub uss_base_url: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct ChangeConstraintReferenceResponse {
    pub subscribers: Vec<SubscriberToNotify>,
    pub constraint_reference: ConstraintReference,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct QuerySubscriptionsResponse {
    pub subscriptions: Vec<Subscription>,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct GetSubscriptionResponse {
    pub subscription: Subscription,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct PutSubscriptionParameters {
    pub extents: Volume4D,
    pub uss_base_url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify_for_operational_intents: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify_for_constraints: Option<bool>,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct PutSubscriptionResponse {
    pub subscription: Subscription,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operational_intent_references: Option<Vec<OperationalIntentReference>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub constraint_references: Option<Vec<ConstraintReference>>,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct DeleteSubscriptionResponse {
    pub subscription: Subscription,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct SetUssAvailabilityStatusParameters {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old_version: Option<String>,
    pub availability: UssAvailabilityState,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct UssAvailabilityStatus {
    pub uss: String,
    pub availability: UssAvailabilityState,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct UssAvailabilityStatusResponse {
    pub version: String,
    pub status: UssAvailabilityStatus,
}

/// F3548's 409 to an intent write: the entities the key missed (none for a stale OVN, which only has a message).
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct AirspaceConflictResponse {
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub missing_operational_intents: Vec<OperationalIntentReference>,
    #[serde(default)]
    pub missing_constraints: Vec<ConstraintReference>,
}

impl AirspaceConflictResponse {
    pub fn from_domain(conflict: &AirspaceConflict) -> Self {
        AirspaceConflictResponse {
            message: conflict.message.clone(),
            missing_operational_intents: conflict
                .missing_operational_intents
                .iter()
                .map(OperationalIntentReference::from_view)
                .collect(),
            missing_constraints: conflict
                .missing_constraints
                .iter()
                .map(ConstraintReference::from_view)
                .collect(),
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct ExchangeRecord {
    pub url: String,
    pub method: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers: Option<Vec<String>>,
    pub recorder_role: String,
    pub request_time: Time,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_body: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_time: Option<Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_body: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_code: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
    /// Listed as required by F3548's schema, which never defines it; taken as given, and answered as the reporting
    /// USS's identity (its token's subject) when left out, so that every answer carries it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_source: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct ErrorReport {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report_id: Option<String>,
    pub exchange: ExchangeRecord,
}
