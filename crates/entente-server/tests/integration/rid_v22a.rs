//! F3411-22a network Remote ID under `/rid/v2/dss` (checklist 52-59): ISAs, RID subscriptions, their
//! notifications and limits, and concurrent ISA create/search/delete.

use entente_dss::{Clock, SystemClock};
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use entente_wire::Volume3D;
use entente_wire::rid::v22a::PutParameters;
use serde_json::{Value, json};

use crate::harness::*;

pub(crate) const SP: &str = "rid.service_provider";
pub(crate) const DP: &str = "rid.display_provider";

fn isa_path(id: &str) -> String {
    format!("/rid/v2/dss/identification_service_areas/{id}")
}

fn isa_path_version(id: &str, version: &str) -> String {
    format!("/rid/v2/dss/identification_service_areas/{id}/{version}")
}

fn sub_path(id: &str) -> String {
    format!("/rid/v2/dss/subscriptions/{id}")
}

fn sub_path_version(id: &str, version: &str) -> String {
    format!("/rid/v2/dss/subscriptions/{id}/{version}")
}

/// `lat,lng,...` of the square of side `size_m` around (`lat`, `lng`), as the `area` query parameter.
pub(crate) fn area_string(lat: f64, lng: f64, size_m: f64) -> String {
    let points =
        square(lat, lng, size_m)["outline_polygon"]["vertices"].as_array().cloned().unwrap_or_default();
    points.iter().map(|p| format!("{},{}", p["lat"], p["lng"])).collect::<Vec<_>>().join(",")
}

fn search_path(area: &str, earliest: Option<DateTime<Utc>>, latest: Option<DateTime<Utc>>) -> String {
    let mut path = format!("/rid/v2/dss/identification_service_areas?area={area}");
    if let Some(t) = earliest {
        path.push_str(&format!("&earliest_time={}", t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)));
    }
    if let Some(t) = latest {
        path.push_str(&format!("&latest_time={}", t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)));
    }
    path
}

/// An ISA or subscription body over a square of `size_m` at (`lat`, `lng`) between two instants.
fn body_at(
    c: &Client,
    lat: f64,
    size_m: f64,
    start: Option<DateTime<Utc>>,
    end: Option<DateTime<Utc>>,
) -> Value {
    wire(PutParameters {
        extents: volume4_at(&square(lat, LNG, size_m), Some(0.0), Some(120.0), start, end),
        uss_base_url: c.url(),
    })
}

/// The usual ISA: a 1 km square at the base location from now to +60 min.
fn isa_here(c: &Client) -> Value {
    body_at(c, LAT, 1000.0, Some(SystemClock.now()), Some(at(60)))
}

/// The usual subscription: a 3 km square around the ISA from now to +2 h.
fn sub_here(c: &Client) -> Value {
    body_at(c, LAT, 3000.0, Some(SystemClock.now()), Some(at(120)))
}

fn version_of(v: &Value) -> String {
    v["version"].as_str().unwrap_or_default().to_owned()
}

/// Every (url, subscription_id, notification_index) in a `subscribers` list.
fn rid_notified(body: &Value) -> Vec<(String, String, i64)> {
    let mut out = Vec::new();
    for s in body["subscribers"].as_array().into_iter().flatten() {
        let url = s["url"].as_str().unwrap_or_default().to_owned();
        for st in s["subscriptions"].as_array().into_iter().flatten() {
            let id = st["subscription_id"].as_str().unwrap_or_default().to_owned();
            out.push((url.clone(), id, st["notification_index"].as_i64().unwrap_or(-1)));
        }
    }
    out.sort();
    out
}

fn assert_version_shape(version: &str) {
    assert!(
        version.len() >= 10 && version.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()),
        "versions are lowercase alphanumeric of at least 10 characters: {version:?}"
    );
}

/// Checklist 52: an ISA needs an end, may not start more than 5 minutes ago, and must start before it ends.
#[tokio::test]
async fn isa_time_rules() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let sp = dss.client("sp", &[SP]);
    let iid = id();
    let no_end = body_at(&sp, LAT, 1000.0, Some(SystemClock.now()), None);
    assert_error(sp.put(&isa_path(&iid), &no_end).await?, 400, "time_end")?;
    let old = SystemClock.now() - Duration::minutes(10);
    let too_old = body_at(&sp, LAT, 1000.0, Some(old), Some(old + Duration::hours(1)));
    assert_error(sp.put(&isa_path(&iid), &too_old).await?, 400, "time_start")?;
    let backwards = body_at(&sp, LAT, 1000.0, Some(at(60)), Some(at(10)));
    sp.put(&isa_path(&iid), &backwards).await?.want(400)?;
    let empty = body_at(&sp, LAT, 1000.0, Some(at(10)), Some(at(10)));
    sp.put(&isa_path(&iid), &empty).await?.want(400)?;
    sp.get(&isa_path(&iid)).await?.want(404)?;
    // A start slightly in the past is kept as given; an omitted start is now.
    let recent = SystemClock.now() - Duration::minutes(2);
    let body =
        sp.put(&isa_path(&iid), &body_at(&sp, LAT, 1000.0, Some(recent), Some(at(60)))).await?.want(200)?;
    let kept = parse_time(&body["service_area"]["time_start"])?;
    assert!((kept - recent).num_milliseconds().abs() <= 1, "{kept} is the start as sent, {recent}");
    let before = SystemClock.now();
    let body = sp.put(&isa_path(&id()), &body_at(&sp, LAT, 1000.0, None, Some(at(60)))).await?.want(200)?;
    assert!(parse_time(&body["service_area"]["time_start"])? >= before - Duration::seconds(1));
    Ok(())
}

/// Create, get, update, delete; the response shapes and the version rules (checklist 54, 58).
#[tokio::test]
async fn isa_lifecycle() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let sp = dss.client("sp", &[SP]);
    let dp = dss.client("dp", &[DP]);
    let iid = id();
    let body = sp.put(&isa_path(&iid), &isa_here(&sp)).await?.want(200)?;
    let isa = &body["service_area"];
    assert_eq!(isa["id"], iid.as_str());
    assert_eq!(isa["owner"], "sp");
    assert_eq!(isa["uss_base_url"], sp.url());
    assert_eq!(parse_time(&isa["time_end"])?, at(60));
    assert_eq!(body["subscribers"], json!([]));
    let v1 = version_of(isa);
    assert_version_shape(&v1);
    // Reads by either role, and the version is stable while nothing changes.
    assert_eq!(&dp.get(&isa_path(&iid)).await?.want(200)?["service_area"], isa);
    assert_eq!(&sp.get(&isa_path(&iid)).await?.want(200)?["service_area"], isa);
    // Creating again is a conflict.
    sp.put(&isa_path(&iid), &isa_here(&sp)).await?.want(409)?;
    // Update: stale version 409, malformed version 400, another owner 403, unknown id 400.
    let later = body_at(&sp, LAT, 1000.0, None, Some(at(90)));
    sp.put(&isa_path_version(&iid, &v1[1..v1.len() - 1]), &later).await?.want(409)?;
    sp.put(&isa_path_version(&iid, "notacorrectversion"), &later).await?.want(400)?;
    dss.client("other-sp", &[SP]).put(&isa_path_version(&iid, &v1), &later).await?.want(403)?;
    sp.put(&isa_path_version(&id(), &v1), &later).await?.want(400)?;
    let body = sp.put(&isa_path_version(&iid, &v1), &later).await?.want(200)?;
    let v2 = version_of(&body["service_area"]);
    assert_ne!(v1, v2);
    assert_version_shape(&v2);
    // The omitted start stayed what it was.
    assert_eq!(body["service_area"]["time_start"], isa["time_start"]);
    assert_eq!(parse_time(&body["service_area"]["time_end"])?, at(90));
    // Delete: stale 409, empty 400, another owner 403, unknown 404, then 200 with the ISA as it was.
    sp.delete(&isa_path_version(&iid, &v1)).await?.want(409)?;
    sp.delete(&format!("{}/", isa_path(&iid))).await?.want(400)?;
    dss.client("other-sp", &[SP]).delete(&isa_path_version(&iid, &v2)).await?.want(403)?;
    sp.delete(&isa_path_version(&id(), &v2)).await?.want(404)?;
    let body = sp.delete(&isa_path_version(&iid, &v2)).await?.want(200)?;
    assert_eq!(version_of(&body["service_area"]), v2);
    assert_eq!(body["subscribers"], json!([]));
    dp.get(&isa_path(&iid)).await?.want(404)?;
    Ok(())
}

/// Checklist 59: each role only where the API allows it.
#[tokio::test]
async fn scopes_are_enforced() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let sp = dss.client("sp", &[SP]);
    let dp = dss.client("dp", &[DP]);
    let v19 = dss
        .client("sp", &["dss.write.identification_service_areas", "dss.read.identification_service_areas"]);
    let iid = id();
    assert_error(dp.put(&isa_path(&iid), &isa_here(&dp)).await?, 403, SP)?;
    assert_error(v19.put(&isa_path(&iid), &isa_here(&v19)).await?, 403, SP)?;
    let isa = sp.put(&isa_path(&iid), &isa_here(&sp)).await?.want(200)?;
    let v = version_of(&isa["service_area"]);
    dp.delete(&isa_path_version(&iid, &v)).await?.want(403)?;
    let area = area_string(LAT, LNG, 2000.0);
    sp.get(&search_path(&area, None, None)).await?.want(403)?;
    dp.get(&search_path(&area, None, None)).await?.want(200)?;
    sp.put(&sub_path(&id()), &sub_here(&sp)).await?.want(403)?;
    sp.get(&format!("/rid/v2/dss/subscriptions?area={area}")).await?.want(403)?;
    dss.anonymous().get(&isa_path(&iid)).await?.want(401)?;
    dss.anonymous().put(&isa_path(&id()), &isa_here(&sp)).await?.want(401)?;
    Ok(())
}

/// Checklist 53: ISA create, update (old and new area) and delete name every live subscription meeting the
/// ISA, each with its index one higher.
#[tokio::test]
async fn isa_changes_notify_subscribers() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let sp = dss.client("sp", &[SP]);
    let dp = dss.client("dp", &[DP]);
    let dp2 = dss.client("dp2", &[DP]);
    let (here_sub, north_sub, far_sub) = (id(), id(), id());
    dp.put(&sub_path(&here_sub), &sub_here(&dp)).await?.want(200)?;
    dp2.put(&sub_path(&north_sub), &body_at(&dp2, LAT + 0.05, 1000.0, None, Some(at(120))))
        .await?
        .want(200)?;
    dp.put(&sub_path(&far_sub), &body_at(&dp, LAT + 0.5, 1000.0, None, Some(at(120)))).await?.want(200)?;

    let iid = id();
    let created = sp.put(&isa_path(&iid), &isa_here(&sp)).await?.want(200)?;
    assert_eq!(rid_notified(&created), vec![(dp.url(), here_sub.clone(), 1)]);
    // Moving the ISA north notifies the old area's subscriber and the new one's.
    let v = version_of(&created["service_area"]);
    let moved = sp
        .put(&isa_path_version(&iid, &v), &body_at(&sp, LAT + 0.05, 1000.0, None, Some(at(60))))
        .await?
        .want(200)?;
    assert_eq!(
        rid_notified(&moved),
        sorted_notified(vec![(dp.url(), here_sub.clone(), 2), (dp2.url(), north_sub.clone(), 1)])
    );
    let v = version_of(&moved["service_area"]);
    let deleted = sp.delete(&isa_path_version(&iid, &v)).await?.want(200)?;
    assert_eq!(rid_notified(&deleted), vec![(dp2.url(), north_sub.clone(), 2)]);
    // The indexes are stored: GET shows them, and the far subscription was never bumped.
    assert_eq!(dp.get(&sub_path(&here_sub)).await?.want(200)?["subscription"]["notification_index"], 2);
    assert_eq!(dp2.get(&sub_path(&north_sub)).await?.want(200)?["subscription"]["notification_index"], 2);
    assert_eq!(dp.get(&sub_path(&far_sub)).await?.want(200)?["subscription"]["notification_index"], 0);
    Ok(())
}

fn sorted_notified(mut v: Vec<(String, String, i64)>) -> Vec<(String, String, i64)> {
    v.sort();
    v
}

/// Expired and deleted subscriptions are not notified.
#[tokio::test]
async fn expired_subscriptions_are_not_notified() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let sp = dss.client("sp", &[SP]);
    let dp = dss.client("dp", &[DP]);
    let short = id();
    let now = SystemClock.now();
    dp.put(&sub_path(&short), &body_at(&dp, LAT, 3000.0, Some(now), Some(now + Duration::seconds(1))))
        .await?
        .want(200)?;
    tokio::time::sleep(StdDuration::from_millis(1500)).await;
    let created = sp.put(&isa_path(&id()), &isa_here(&sp)).await?.want(200)?;
    assert_eq!(created["subscribers"], json!([]));
    // Not found by the owner's search either, though GET by id still answers.
    let found = dp
        .get(&format!("/rid/v2/dss/subscriptions?area={}", area_string(LAT, LNG, 2000.0)))
        .await?
        .want(200)?;
    assert_eq!(found["subscriptions"], json!([]));
    dp.get(&sub_path(&short)).await?.want(200)?;
    Ok(())
}

/// Checklist 56: the 24 h limit, defaults, the current ISAs in the response, and the lifecycle.
#[tokio::test]
async fn subscription_lifecycle() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let sp = dss.client("sp", &[SP]);
    let dp = dss.client("dp", &[DP]);
    let (inside, outside) = (id(), id());
    sp.put(&isa_path(&inside), &isa_here(&sp)).await?.want(200)?;
    sp.put(&isa_path(&outside), &body_at(&sp, LAT + 0.5, 1000.0, None, Some(at(60)))).await?.want(200)?;

    let sid = id();
    let now = SystemClock.now();
    let too_long =
        body_at(&dp, LAT, 3000.0, Some(now), Some(now + Duration::hours(24) + Duration::minutes(10)));
    assert_error(dp.put(&sub_path(&sid), &too_long).await?, 400, "24 hours")?;
    let old = now - Duration::minutes(10);
    dp.put(&sub_path(&sid), &body_at(&dp, LAT, 3000.0, Some(old), Some(at(60)))).await?.want(400)?;
    // A square `size_m` wide, at any altitude and with no times.
    let unbounded = |size_m: f64| {
        wire(PutParameters {
            extents: volume4_at(&square(LAT, LNG, size_m), None, None, None, None),
            uss_base_url: dp.url(),
        })
    };
    let huge = unbounded(60_000.0);
    dp.put(&sub_path(&sid), &huge).await?.want(400)?;

    // No times: now to now + 24 h; the ISA inside is listed.
    let body = dp.put(&sub_path(&sid), &unbounded(3000.0)).await?.want(200)?;
    let s = &body["subscription"];
    assert_eq!(s["id"], sid.as_str());
    assert_eq!(s["owner"], "dp");
    assert_eq!(s["uss_base_url"], dp.url());
    assert_eq!(s["notification_index"], 0);
    let (start, end) = (parse_time(&s["time_start"])?, parse_time(&s["time_end"])?);
    assert_eq!(end - start, Duration::hours(24));
    assert!((start - now).num_seconds().abs() < 5);
    assert_eq!(ids(&body["service_areas"]), vec![inside.clone()]);
    let v1 = version_of(s);
    assert_version_shape(&v1);
    assert_eq!(&dp.get(&sub_path(&sid)).await?.want(200)?["subscription"], s);
    dp.put(&sub_path(&sid), &sub_here(&dp)).await?.want(409)?;

    // Others can neither see nor change it.
    let other = dss.client("other-dp", &[DP]);
    other.get(&sub_path(&sid)).await?.want(403)?;
    other.put(&sub_path_version(&sid, &v1), &sub_here(&other)).await?.want(403)?;
    other.delete(&sub_path_version(&sid, &v1)).await?.want(403)?;

    // Update: extending past 24 h is refused; a fine update changes the version and keeps the index.
    let start_kept = body_at(&dp, LAT, 3000.0, Some(start), Some(start + Duration::hours(25)));
    dp.put(&sub_path_version(&sid, &v1), &start_kept).await?.want(400)?;
    dp.put(&sub_path_version(&sid, "notacorrectversion"), &sub_here(&dp)).await?.want(400)?;
    dp.put(&sub_path_version(&sid, &v1[2..]), &sub_here(&dp)).await?.want(409)?;
    let moved = dp
        .put(&sub_path_version(&sid, &v1), &body_at(&dp, LAT + 0.5, 3000.0, None, Some(at(60))))
        .await?
        .want(200)?;
    let v2 = version_of(&moved["subscription"]);
    assert_ne!(v1, v2);
    assert_eq!(moved["subscription"]["time_start"], s["time_start"]);
    assert_eq!(ids(&moved["service_areas"]), vec![outside.clone()]);

    // Delete: malformed version 400, stale 409, unknown 404, then gone.
    dp.delete(&sub_path_version(&sid, "notacorrectversion")).await?.want(400)?;
    dp.delete(&format!("{}/", sub_path(&sid))).await?.want(400)?;
    dp.delete(&sub_path_version(&sid, &v1)).await?.want(409)?;
    dp.delete(&sub_path_version(&id(), &v2)).await?.want(404)?;
    let deleted = dp.delete(&sub_path_version(&sid, &v2)).await?.want(200)?;
    assert_eq!(version_of(&deleted["subscription"]), v2);
    dp.get(&sub_path(&sid)).await?.want(404)?;
    Ok(())
}

/// Checklist 55: the 11th live subscription of one owner over the same area is 429, on update too; other
/// owners and other areas are not affected.
#[tokio::test]
async fn at_most_ten_subscriptions_per_owner_and_area() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let dp = dss.client("dp", &[DP]);
    for _ in 0..10 {
        dp.put(&sub_path(&id()), &sub_here(&dp)).await?.want(200)?;
    }
    let extra = id();
    assert_error(dp.put(&sub_path(&extra), &sub_here(&dp)).await?, 429, "subscriptions")?;
    // Another owner, or elsewhere: fine.
    let other = dss.client("other-dp", &[DP]);
    other.put(&sub_path(&id()), &sub_here(&other)).await?.want(200)?;
    let away =
        dp.put(&sub_path(&extra), &body_at(&dp, LAT + 0.5, 1000.0, None, Some(at(60)))).await?.want(200)?;
    // Moving it into the crowded area is refused as well.
    let v = version_of(&away["subscription"]);
    dp.put(&sub_path_version(&extra, &v), &sub_here(&dp)).await?.want(429)?;
    // The owner can find them all to clean up.
    let found = dp
        .get(&format!("/rid/v2/dss/subscriptions?area={}", area_string(LAT, LNG, 2000.0)))
        .await?
        .want(200)?;
    assert_eq!(found["subscriptions"].as_array().map(Vec::len), Some(10));
    Ok(())
}

/// Checklist 57 and the search filters: area, earliest and latest time, size and shape of the area.
#[tokio::test]
async fn isa_search() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let sp = dss.client("sp", &[SP]);
    let dp = dss.client("dp", &[DP]);
    let (iid, far_iid) = (id(), id());
    sp.put(&isa_path(&iid), &body_at(&sp, LAT, 1000.0, Some(at(10)), Some(at(60)))).await?.want(200)?;
    sp.put(&isa_path(&far_iid), &body_at(&sp, LAT + 0.5, 1000.0, None, Some(at(60)))).await?.want(200)?;
    let area = area_string(LAT, LNG, 2000.0);
    let search = |earliest, latest| search_path(&area, earliest, latest);
    assert_eq!(ids(&dp.get(&search(None, None)).await?.want(200)?["service_areas"]), vec![iid.clone()]);
    assert_eq!(
        ids(&dp.get(&search(Some(at(59)), None)).await?.want(200)?["service_areas"]),
        vec![iid.clone()]
    );
    assert_eq!(dp.get(&search(Some(at(61)), None)).await?.want(200)?["service_areas"], json!([]));
    assert_eq!(
        ids(&dp.get(&search(None, Some(at(11)))).await?.want(200)?["service_areas"]),
        vec![iid.clone()]
    );
    assert_eq!(dp.get(&search(None, Some(at(9)))).await?.want(200)?["service_areas"], json!([]));
    // Bad areas.
    dp.get("/rid/v2/dss/identification_service_areas").await?.want(400)?;
    dp.get("/rid/v2/dss/identification_service_areas?area=").await?.want(400)?;
    dp.get("/rid/v2/dss/identification_service_areas?area=46.5,6.6,46.6").await?.want(400)?;
    let looped = format!("{area},{}", area.split(',').take(2).collect::<Vec<_>>().join(","));
    dp.get(&format!("/rid/v2/dss/identification_service_areas?area={looped}")).await?.want(400)?;
    let huge = area_string(LAT, LNG, 60_000.0);
    dp.get(&format!("/rid/v2/dss/identification_service_areas?area={huge}")).await?.want(413)?;
    dp.get(&format!("/rid/v2/dss/subscriptions?area={huge}")).await?.want(413)?;
    dp.get(&format!("{}&earliest_time=yesterday", search(None, None))).await?.want(400)?;
    Ok(())
}

/// Checklist 57: an expired ISA drops out of searches at once but GET by id still returns it.
#[tokio::test]
async fn expired_isas_leave_searches_not_gets() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let sp = dss.client("sp", &[SP]);
    let dp = dss.client("dp", &[DP]);
    let iid = id();
    let now = SystemClock.now();
    sp.put(&isa_path(&iid), &body_at(&sp, LAT, 1000.0, Some(now), Some(now + Duration::seconds(1))))
        .await?
        .want(200)?;
    let area = area_string(LAT, LNG, 2000.0);
    assert_eq!(
        ids(&dp.get(&search_path(&area, None, None)).await?.want(200)?["service_areas"]),
        vec![iid.clone()]
    );
    tokio::time::sleep(StdDuration::from_millis(1500)).await;
    assert_eq!(dp.get(&search_path(&area, None, None)).await?.want(200)?["service_areas"], json!([]));
    // Even when asking explicitly for the past.
    let past = search_path(&area, Some(now - Duration::minutes(1)), None);
    assert_eq!(dp.get(&past).await?.want(200)?["service_areas"], json!([]));
    dp.get(&isa_path(&iid)).await?.want(200)?;
    // A subscription made now does not list it either.
    let body = dp.put(&sub_path(&id()), &sub_here(&dp)).await?.want(200)?;
    assert_eq!(body["service_areas"], json!([]));
    Ok(())
}

/// ISA validation: outlines, altitudes, missing parts, huge areas, bad URLs.
#[tokio::test]
async fn isa_validation() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let sp = dss.client("sp", &[SP]);
    let path = isa_path(&id());
    let isa: PutParameters = from_wire(&isa_here(&sp));
    let with_volume = |volume: Volume3D| {
        let mut isa = isa.clone();
        isa.extents.volume = volume;
        wire(isa)
    };
    sp.put(&path, &with_volume(from_wire(&polygon(&[])))).await?.want(400)?;
    let crossing = polygon(&[(130.0, -23.0), (130.0, -24.0), (132.0, -24.0), (132.0, -23.0)]);
    sp.put(&path, &with_volume(from_wire(&crossing))).await?.want(400)?;
    assert_error(sp.put(&path, &with_volume(from_wire(&square(LAT, LNG, 60_000.0)))).await?, 400, "area")?;
    let mut body = with_volume(Volume3D { altitude_lower: Some(altitude_m(0.0)), ..no_outline() });
    sp.put(&path, &body).await?.want(400)?;
    // Required parts left out, which no shape can say: removed by hand.
    remove(&mut body["extents"], "volume");
    sp.put(&path, &body).await?.want(400)?;
    remove(&mut body, "extents");
    sp.put(&path, &body).await?.want(400)?;
    let ftp = PutParameters { uss_base_url: "ftp://sp.example.com".to_owned(), ..isa };
    sp.put(&path, &wire(ftp)).await?.want(400)?;
    sp.put("/rid/v2/dss/identification_service_areas/not-a-uuid", &isa_here(&sp)).await?.want(400)?;
    sp.get(&path).await?.want(404)?;
    Ok(())
}

/// Many service providers creating, searching and deleting ISAs at once: every write succeeds, every
/// search sees a consistent set, and a subscriber's index counts every change exactly once.
#[tokio::test]
async fn concurrent_isa_create_search_delete() -> anyhow::Result<()> {
    const N: usize = 40;
    let dss = Dss::start().await?;
    let dp = dss.client("dp", &[DP]);
    let sid = id();
    dp.put(&sub_path(&sid), &sub_here(&dp)).await?.want(200)?;
    let area = area_string(LAT, LNG, 2000.0);
    let ids_: Vec<String> = (0..N).map(|_| id()).collect();

    let mut tasks = tokio::task::JoinSet::new();
    for (i, iid) in ids_.iter().enumerate() {
        let sp = dss.client(&format!("sp-{}", i % 4), &[SP]);
        let reader = dss.client("dp", &[DP]);
        let (iid, area) = (iid.clone(), area.clone());
        tasks.spawn(async move {
            let body = sp.put(&isa_path(&iid), &isa_here(&sp)).await?.want(200)?;
            let found = reader.get(&search_path(&area, None, None)).await?.want(200)?;
            anyhow::ensure!(
                ids(&found["service_areas"]).contains(&iid),
                "a created ISA is searchable at once"
            );
            anyhow::Ok((iid, sp, version_of(&body["service_area"])))
        });
    }
    let mut created = Vec::new();
    while let Some(done) = tasks.join_next().await {
        created.push(done??);
    }
    let found = dp.get(&search_path(&area, None, None)).await?.want(200)?;
    assert_eq!(ids(&found["service_areas"]), sorted(&ids_));
    assert_eq!(dp.get(&sub_path(&sid)).await?.want(200)?["subscription"]["notification_index"], N as i64);

    let mut tasks = tokio::task::JoinSet::new();
    for (iid, sp, version) in created {
        let reader = dss.client("dp", &[DP]);
        let area = area.clone();
        tasks.spawn(async move {
            let body = sp.delete(&isa_path_version(&iid, &version)).await?.want(200)?;
            anyhow::ensure!(rid_notified(&body).len() == 1, "the subscriber hears of every deletion");
            let found = reader.get(&search_path(&area, None, None)).await?.want(200)?;
            anyhow::ensure!(!ids(&found["service_areas"]).contains(&iid), "a deleted ISA is gone at once");
            reader.get(&isa_path(&iid)).await?.want(404)?;
            anyhow::Ok(())
        });
    }
    while let Some(done) = tasks.join_next().await {
        done??;
    }
    assert_eq!(dp.get(&search_path(&area, None, None)).await?.want(200)?["service_areas"], json!([]));
    assert_eq!(dp.get(&sub_path(&sid)).await?.want(200)?["subscription"]["notification_index"], 2 * N as i64);
    Ok(())
}

/// ISAs and RID subscriptions are durable: a restart serves them with the same versions and indexes.
#[tokio::test]
async fn rid_state_survives_a_restart() -> anyhow::Result<()> {
    let mut dss = Dss::start().await?;
    let (iid, sid) = (id(), id());
    let (isa, sub) = {
        let sp = dss.client("sp", &[SP]);
        let dp = dss.client("dp", &[DP]);
        dp.put(&sub_path(&sid), &sub_here(&dp)).await?.want(200)?;
        sp.put(&isa_path(&iid), &isa_here(&sp)).await?.want(200)?;
        (
            dp.get(&isa_path(&iid)).await?.want(200)?["service_area"].clone(),
            dp.get(&sub_path(&sid)).await?.want(200)?["subscription"].clone(),
        )
    };
    assert_eq!(sub["notification_index"], 1);
    dss.restart().await?;
    let dp = dss.client("dp", &[DP]);
    assert_eq!(dp.get(&isa_path(&iid)).await?.want(200)?["service_area"], isa);
    assert_eq!(dp.get(&sub_path(&sid)).await?.want(200)?["subscription"], sub);
    let found = dp.get(&search_path(&area_string(LAT, LNG, 2000.0), None, None)).await?.want(200)?;
    assert_eq!(ids(&found["service_areas"]), vec![iid]);
    Ok(())
}
