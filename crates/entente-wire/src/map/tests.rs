//! The map's JSON view: its shape as a snapshot, and the conflict flags it derives from the picture's pairs.

use std::sync::Arc;

use chrono::{Duration, TimeZone, Utc};
use entente_dss::{
    Constraint, EntityId, IdentificationServiceArea, OirState, OperationalIntent, Picture, RidApi, RidUrl,
    Shown, Subscription, Timestamp, Volume,
};
use entente_geo::{Circle, Interval, LatLng, Outline, Polygon};
use serde_json::Value;

use super::AirspaceView;

fn t0() -> Timestamp {
    Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).single().expect("a valid date")
}

fn id(n: u8) -> EntityId {
    EntityId::parse(&format!("00000000-0000-4000-8000-0000000000{n:02x}")).expect("a UUIDv4")
}

fn volume(outline: Outline, minutes: (i64, i64)) -> Volume {
    Volume {
        outline,
        altitude: Interval { lo: Some(0.0), hi: Some(120.0) },
        time: Interval {
            lo: Some(t0() + Duration::minutes(minutes.0)),
            hi: Some(t0() + Duration::minutes(minutes.1)),
        },
    }
}

fn triangle() -> Outline {
    let vertices = vec![LatLng::new(46.5, 6.6), LatLng::new(46.5, 6.61), LatLng::new(46.51, 6.61)];
    Outline::Polygon(Polygon::new(vertices).expect("a valid triangle"))
}

fn circle(radius_m: f64) -> Outline {
    Outline::Circle(Circle::new(LatLng::new(46.505, 6.605), radius_m).expect("a valid circle"))
}

fn intent(n: u8, state: OirState, outline: Outline) -> Shown<Arc<OperationalIntent>> {
    let extents = vec![volume(outline, (0, 60))];
    Shown {
        entity: Arc::new(OperationalIntent {
            id: id(n),
            manager: format!("uss{n}"),
            version: 1,
            state,
            ovn: "secret-ovn-never-shown".into(),
            extents: extents.clone(),
            uss_base_url: format!("https://uss{n}.example"),
            subscription_id: None,
            updated_at: t0(),
        }),
        volumes: extents,
    }
}

/// Three intents, the first two in conflict, and one entity of every other kind.
fn picture() -> Picture {
    let constraint = Constraint {
        id: id(10),
        manager: "authority".into(),
        version: 2,
        ovn: "another-secret".into(),
        extents: vec![volume(circle(200.0), (0, 30))],
        uss_base_url: "https://authority.example".into(),
        updated_at: t0(),
    };
    let subscription = Subscription {
        id: id(20),
        manager: "uss2".into(),
        version: "v1".into(),
        notification_index: 3,
        extents: vec![volume(circle(900.0), (0, 120))],
        uss_base_url: "https://uss2.example".into(),
        notify_for_operational_intents: true,
        notify_for_constraints: false,
        implicit: false,
        updated_at: t0(),
    };
    let isa = IdentificationServiceArea {
        id: id(30),
        owner: "rid-sp".into(),
        version: "v1".into(),
        extents: volume(triangle(), (0, 45)),
        url: RidUrl { api: RidApi::V22a, url: "https://rid-sp.example".into() },
        updated_at: t0(),
    };
    Picture {
        taken_at: t0(),
        at: None,
        operational_intents: vec![
            intent(1, OirState::Accepted, triangle()),
            intent(2, OirState::Activated, circle(300.0)),
            intent(3, OirState::Nonconforming, circle(50.0)),
        ],
        constraints: vec![Shown { volumes: constraint.extents.clone(), entity: Arc::new(constraint) }],
        subscriptions: vec![Shown { volumes: subscription.extents.clone(), entity: subscription }],
        isas: vec![Shown { volumes: vec![isa.extents.clone()], entity: isa }],
        conflicts: vec![(id(1), id(2)), (id(2), id(3))],
    }
}

#[test]
fn the_view_has_every_kind_of_entity_and_no_ovn() {
    let json = serde_json::to_value(AirspaceView::from_picture(&picture())).expect("the view serialises");
    insta::assert_json_snapshot!(json);
    assert!(!json.to_string().contains("secret"), "an OVN leaked into the map view");
}

#[test]
fn each_intent_lists_the_intents_it_conflicts_with() {
    let json = serde_json::to_value(AirspaceView::from_picture(&picture())).expect("the view serialises");
    let partners = |n: usize| -> Vec<String> {
        json["operational_intents"][n]["conflicts_with"]
            .as_array()
            .expect("conflicts_with is a list")
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect()
    };
    let name = |n: u8| id(n).to_string();
    assert_eq!(partners(0), vec![name(2)]);
    assert_eq!(partners(1), vec![name(1), name(3)]);
    assert_eq!(partners(2), vec![name(2)]);
}
