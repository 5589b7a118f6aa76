//! F3411-19 network Remote ID under `/v1/dss` (checklist 52-59), and the model it shares with F3411-22a:
//! entities written through one version are read, notified and limited through the other.

use entente_dss::{Clock, SystemClock};
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use entente_wire::Polygon;
use entente_wire::rid::v19::{
    IdentificationServiceAreaParameters, SubscriptionCallbacks, SubscriptionParameters, Volume3D, Volume4D,
};
use entente_wire::rid::v22a::PutParameters;
use serde_json::{Value, json};

use crate::harness::*;
use crate::rid_v22a::{DP, SP, area_string};

const WRITE: &str = "dss.write.identification_service_areas";
const READ: &str = "dss.read.identification_service_areas";

fn isa_path(id: &str) -> String {
    format!("/v1/dss/identification_service_areas/{id}")
}

fn isa_path_version(id: &str, version: &str) -> String {
    format!("/v1/dss/identification_service_areas/{id}/{version}")
}

fn sub_path(id: &str) -> String {
    format!("/v1/dss/subscriptions/{id}")
}

fn sub_path_version(id: &str, version: &str) -> String {
    format!("/v1/dss/subscriptions/{id}/{version}")
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

fn parse(v: &Value) -> anyhow::Result<DateTime<Utc>> {
    Ok(DateTime::parse_from_rfc3339(str_of(v)?)?.with_timezone(&Utc))
}

/// A v19 `Volume4D`: a square footprint, plain-number altitudes, plain-string times.
fn extents(lat: f64, size_m: f64, start: Option<DateTime<Utc>>, end: Option<DateTime<Utc>>) -> Volume4D {
    let footprint: Polygon = from_wire(&square(lat, LNG, size_m)["outline_polygon"]);
    Volume4D {
        spatial_volume: Volume3D { footprint, altitude_lo: Some(0.0), altitude_hi: Some(120.0) },
        time_start: start.map(rfc3339),
        time_end: end.map(rfc3339),
    }
}

fn flights_url(c: &Client) -> String {
    format!("{}/v1/uss/flights", c.url())
}

fn callback_url(c: &Client) -> String {
    format!("{}/v1/uss/identification_service_areas", c.url())
}

fn isa_body(c: &Client, lat: f64, start: Option<DateTime<Utc>>, end: Option<DateTime<Utc>>) -> Value {
    wire(IdentificationServiceAreaParameters {
        extents: extents(lat, 1000.0, start, end),
        flights_url: flights_url(c),
    })
}

fn isa_here(c: &Client) -> Value {
    isa_body(c, LAT, Some(SystemClock.now()), Some(at(60)))
}

fn sub_body(c: &Client, lat: f64, start: Option<DateTime<Utc>>, end: Option<DateTime<Utc>>) -> Value {
    wire(SubscriptionParameters {
        extents: extents(lat, 3000.0, start, end),
        callbacks: SubscriptionCallbacks { identification_service_area_url: Some(callback_url(c)) },
    })
}

fn sub_here(c: &Client) -> Value {
    sub_body(c, LAT, Some(SystemClock.now()), Some(at(120)))
}

fn search_path(area: &str) -> String {
    format!("/v1/dss/identification_service_areas?area={area}")
}

fn version_of(v: &Value) -> String {
    v["version"].as_str().unwrap_or_default().to_owned()
}

/// (url, subscription_id, notification_index) of every subscriber.
fn notified(body: &Value) -> Vec<(String, String, i64)> {
    let mut out = Vec::new();
    for s in body["subscribers"].as_array().into_iter().flatten() {
        for st in s["subscriptions"].as_array().into_iter().flatten() {
            out.push((
                s["url"].as_str().unwrap_or_default().to_owned(),
                st["subscription_id"].as_str().unwrap_or_default().to_owned(),
                st["notification_index"].as_i64().unwrap_or(-1),
            ));
        }
    }
    out.sort();
    out
}

/// Checklist 52: end required, start at most 5 minutes ago, start before end.
#[tokio::test]
async fn isa_time_rules() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let sp = dss.client("sp", &[WRITE]);
    let iid = id();
    assert_error(
        sp.put(&isa_path(&iid), &isa_body(&sp, LAT, Some(SystemClock.now()), None)).await?,
        400,
        "time_end",
    )?;
    let old = SystemClock.now() - Duration::minutes(10);
    sp.put(&isa_path(&iid), &isa_body(&sp, LAT, Some(old), Some(old + Duration::hours(1))))
        .await?
        .want(400)?;
    sp.put(&isa_path(&iid), &isa_body(&sp, LAT, Some(at(60)), Some(at(10)))).await?.want(400)?;
    // Required fields left out, which no shape can say: removed by hand.
    let mut no_url = isa_body(&sp, LAT, None, Some(at(60)));
    remove(&mut no_url, "flights_url");
    sp.put(&isa_path(&iid), &no_url).await?.want(400)?;
    let mut no_footprint = isa_here(&sp);
    remove(&mut no_footprint["extents"]["spatial_volume"], "footprint");
    sp.put(&isa_path(&iid), &no_footprint).await?.want(400)?;
    let mut no_extents = isa_here(&sp);
    remove(&mut no_extents, "extents");
    sp.put(&isa_path(&iid), &no_extents).await?.want(400)?;
    let huge = wire(IdentificationServiceAreaParameters {
        extents: extents(LAT, 60_000.0, Some(SystemClock.now()), Some(at(60))),
        flights_url: flights_url(&sp),
    });
    sp.put(&isa_path(&iid), &huge).await?.want(400)?;
    dss.client("dp", &[READ]).get(&isa_path(&iid)).await?.want(404)?;
    Ok(())
}

/// The ISA lifecycle with v19 shapes, versions and notifications (checklist 53, 54, 58).
#[tokio::test]
async fn isa_lifecycle_and_notifications() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let sp = dss.client("sp", &[WRITE]);
    let dp = dss.client("dp", &[READ]);
    let sid = id();
    dp.put(&sub_path(&sid), &sub_here(&dp)).await?.want(200)?;
    let iid = id();
    let start = SystemClock.now();
    let body = sp.put(&isa_path(&iid), &isa_body(&sp, LAT, Some(start), Some(at(60)))).await?.want(200)?;
    let isa = &body["service_area"];
    assert_eq!(isa["flights_url"], flights_url(&sp));
    assert_eq!(isa["owner"], "sp");
    assert_eq!(parse(&isa["time_end"])?, at(60));
    assert!((parse(&isa["time_start"])? - start).num_microseconds().unwrap_or(i64::MAX).abs() <= 1);
    assert_eq!(notified(&body), vec![(callback_url(&dp), sid.clone(), 1)]);
    let v1 = version_of(isa);
    assert!(v1.len() >= 10 && v1.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()));
    assert_eq!(&dp.get(&isa_path(&iid)).await?.want(200)?["service_area"], isa);

    sp.put(&isa_path(&iid), &isa_here(&sp)).await?.want(409)?;
    dss.client("other", &[WRITE]).put(&isa_path_version(&iid, &v1), &isa_here(&sp)).await?.want(403)?;
    sp.put(&isa_path_version(&iid, &v1[1..v1.len() - 1]), &isa_here(&sp)).await?.want(409)?;
    let updated =
        sp.put(&isa_path_version(&iid, &v1), &isa_body(&sp, LAT, None, Some(at(90)))).await?.want(200)?;
    let v2 = version_of(&updated["service_area"]);
    assert_ne!(v1, v2);
    assert_eq!(updated["service_area"]["time_start"], isa["time_start"]);
    assert_eq!(notified(&updated), vec![(callback_url(&dp), sid.clone(), 2)]);

    sp.delete(&isa_path_version(&iid, "notacorrectversion")).await?.want(400)?;
    sp.delete(&isa_path_version(&iid, &v1)).await?.want(409)?;
    sp.delete(&isa_path_version(&id(), &v2)).await?.want(404)?;
    let deleted = sp.delete(&isa_path_version(&iid, &v2)).await?.want(200)?;
    assert_eq!(version_of(&deleted["service_area"]), v2);
    assert_eq!(notified(&deleted), vec![(callback_url(&dp), sid.clone(), 3)]);
    let s = dp.get(&sub_path(&sid)).await?.want(200)?;
    assert_eq!(s["subscription"]["notification_index"], 3);
    Ok(())
}

/// Checklist 59: v19 scopes on the v19 API only.
#[tokio::test]
async fn scopes_are_enforced() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let sp = dss.client("sp", &[WRITE]);
    let dp = dss.client("dp", &[READ]);
    let v22 = dss.client("sp", &[SP, DP]);
    assert_error(dp.put(&isa_path(&id()), &isa_here(&dp)).await?, 403, WRITE)?;
    v22.put(&isa_path(&id()), &isa_here(&v22)).await?.want(403)?;
    let iid = id();
    sp.put(&isa_path(&iid), &isa_here(&sp)).await?.want(200)?;
    sp.get(&search_path(&area_string(LAT, LNG, 2000.0))).await?.want(403)?;
    dp.get(&search_path(&area_string(LAT, LNG, 2000.0))).await?.want(200)?;
    dp.get(&isa_path(&iid)).await?.want(200)?;
    assert_error(sp.put(&sub_path(&id()), &sub_here(&sp)).await?, 403, READ)?;
    // GET of a subscription accepts read or write.
    let both = dss.client("dp", &[WRITE]);
    let sid = id();
    dp.put(&sub_path(&sid), &sub_here(&dp)).await?.want(200)?;
    both.get(&sub_path(&sid)).await?.want(200)?;
    dss.anonymous().get(&sub_path(&sid)).await?.want(401)?;
    Ok(())
}

/// Checklists 55-56 on v19: 24 h, the ISAs in the response, 10 per owner and area, own-only search.
#[tokio::test]
async fn subscriptions() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let sp = dss.client("sp", &[WRITE]);
    let dp = dss.client("dp", &[READ]);
    let iid = id();
    sp.put(&isa_path(&iid), &isa_here(&sp)).await?.want(200)?;
    let now = SystemClock.now();
    let too_long = sub_body(&dp, LAT, Some(now), Some(now + Duration::hours(24) + Duration::minutes(10)));
    dp.put(&sub_path(&id()), &too_long).await?.want(400)?;
    let no_callback = SubscriptionParameters {
        extents: extents(LAT, 3000.0, None, None),
        callbacks: SubscriptionCallbacks { identification_service_area_url: None },
    };
    dp.put(&sub_path(&id()), &wire(no_callback)).await?.want(400)?;

    let sid = id();
    let body = dp.put(&sub_path(&sid), &sub_here(&dp)).await?.want(200)?;
    let s = &body["subscription"];
    assert_eq!(s["callbacks"]["identification_service_area_url"], callback_url(&dp));
    assert_eq!(s["notification_index"], 0);
    assert_eq!(s["owner"], "dp");
    assert_eq!(ids(&body["service_areas"]), vec![iid.clone()]);
    assert_eq!(body["service_areas"][0]["flights_url"], flights_url(&sp));
    for _ in 0..9 {
        dp.put(&sub_path(&id()), &sub_here(&dp)).await?.want(200)?;
    }
    dp.put(&sub_path(&id()), &sub_here(&dp)).await?.want(429)?;
    let found = dss
        .client("dp", &[READ])
        .get(&format!("/v1/dss/subscriptions?area={}", area_string(LAT, LNG, 2000.0)))
        .await?
        .want(200)?;
    assert_eq!(found["subscriptions"].as_array().map(Vec::len), Some(10));
    let none = dss
        .client("other", &[READ])
        .get(&format!("/v1/dss/subscriptions?area={}", area_string(LAT, LNG, 2000.0)))
        .await?
        .want(200)?;
    assert_eq!(none["subscriptions"], json!([]));

    let v = version_of(s);
    dp.delete(&sub_path_version(&sid, "notacorrectversion")).await?.want(400)?;
    dp.delete(&format!("{}/", sub_path(&sid))).await?.want(400)?;
    let deleted = dp.delete(&sub_path_version(&sid, &v)).await?.want(200)?;
    assert_eq!(deleted["subscription"]["id"], sid.as_str());
    dp.get(&sub_path(&sid)).await?.want(404)?;
    Ok(())
}

/// Checklist 57 on v19.
#[tokio::test]
async fn expired_isas_leave_searches_not_gets() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let sp = dss.client("sp", &[WRITE]);
    let dp = dss.client("dp", &[READ]);
    let iid = id();
    let now = SystemClock.now();
    sp.put(&isa_path(&iid), &isa_body(&sp, LAT, Some(now), Some(now + Duration::seconds(1))))
        .await?
        .want(200)?;
    tokio::time::sleep(StdDuration::from_millis(1500)).await;
    let area = area_string(LAT, LNG, 2000.0);
    assert_eq!(dp.get(&search_path(&area)).await?.want(200)?["service_areas"], json!([]));
    dp.get(&isa_path(&iid)).await?.want(200)?;
    Ok(())
}

/// One model behind both versions: an ISA written through v19 is found, notified and deleted through
/// v22a, with URLs converted between the two conventions, and the per-area limit counts both.
#[tokio::test]
async fn both_versions_share_one_model() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let sp19 = dss.client("sp", &[WRITE]);
    let sp22 = dss.client("sp", &[SP]);
    let dp19 = dss.client("dp", &[READ]);
    let dp22 = dss.client("dp", &[DP]);
    let (sid19, sid22) = (id(), id());
    dp19.put(&sub_path(&sid19), &sub_here(&dp19)).await?.want(200)?;
    let body22 = wire(PutParameters {
        extents: volume4_at(&square(LAT, LNG, 3000.0), None, None, None, Some(at(120))),
        uss_base_url: dp22.url(),
    });
    dp22.put(&format!("/rid/v2/dss/subscriptions/{sid22}"), &body22).await?.want(200)?;

    let iid = id();
    let created = sp19.put(&isa_path(&iid), &isa_here(&sp19)).await?.want(200)?;
    // The v19 answer names both subscribers by their v19 callback URL.
    assert_eq!(
        notified(&created),
        sorted_pairs(vec![
            (callback_url(&dp19), sid19.clone(), 1),
            (format!("{}/uss/identification_service_areas", dp22.url()), sid22.clone(), 1)
        ])
    );
    // v22a sees the same ISA, its base URL derived from the v19 flights URL.
    let seen = dp22.get(&format!("/rid/v2/dss/identification_service_areas/{iid}")).await?.want(200)?;
    assert_eq!(seen["service_area"]["uss_base_url"], format!("{}/v1", sp19.url()));
    let v = version_of(&seen["service_area"]);
    assert_eq!(v, version_of(&created["service_area"]));
    let deleted =
        sp22.delete(&format!("/rid/v2/dss/identification_service_areas/{iid}/{v}")).await?.want(200)?;
    let urls: Vec<String> = notified(&deleted).into_iter().map(|(url, _, _)| url).collect();
    assert_eq!(urls, sorted(&[format!("{}/v1", dp19.url()), dp22.url()]));
    // The v19 subscription seen through v22a, and the limit counting subscriptions of both versions.
    let s = dp22.get(&format!("/rid/v2/dss/subscriptions/{sid19}")).await?.want(200)?;
    assert_eq!(s["subscription"]["uss_base_url"], format!("{}/v1", dp19.url()));
    assert_eq!(s["subscription"]["notification_index"], 2);
    for _ in 0..8 {
        dp19.put(&sub_path(&id()), &sub_here(&dp19)).await?.want(200)?;
    }
    dp22.put(&format!("/rid/v2/dss/subscriptions/{}", id()), &body22).await?.want(429)?;
    Ok(())
}

fn sorted_pairs(mut v: Vec<(String, String, i64)>) -> Vec<(String, String, i64)> {
    v.sort();
    v
}
