//! Network Remote ID between USSs in process over real sockets: a display that watches again still hears of a
//! peer's ISA, tactical alerts need no watch, and flights far apart are each discoverable within the DSS's limits.

use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use entente_dss::Clock;
use entente_wire::operator::WatchRequest;
use reqwest::Method;
use serde_json::{Value, json};

use crate::harness::*;
use crate::uss::{Uss, fix_at_point, flight_of};

const DP: &str = "rid.display_provider";

/// The operator API's body asking to watch `view` (min lat, min lng, max lat, max lng) for the default time.
fn watching(view: &str) -> Value {
    wire(WatchRequest { view: view.to_owned(), duration_s: None })
}

/// Replay CSV of aircraft `id` flying straight and level at 60 m from (lat, lng) on `track_deg` at `speed` m/s,
/// one sample a second for `seconds`.
fn straight(id: &str, (lat, lng): (f64, f64), track_deg: f64, speed: f64, seconds: u32) -> String {
    let (sin, cos) = track_deg.to_radians().sin_cos();
    let m_per_deg = 6_371_008.8_f64.to_radians();
    (0..=seconds)
        .map(|t| {
            let t = f64::from(t);
            let lat_t = lat + speed * cos * t / m_per_deg;
            let lng_t = lng + speed * sin * t / (m_per_deg * lat.to_radians().cos());
            format!("{id},{lat_t},{lng_t},60,{speed},{track_deg},0,{t}\n")
        })
        .collect()
}

/// Plays `rows` (replay CSV without its header) through `uss`'s SP.
async fn replay(uss: &Uss, rows: &str) -> anyhow::Result<Value> {
    let csv = format!("id,lat,lon,alt_m,gs_mps,trk_deg,vs_mps,t\n{rows}");
    uss.operator().send_raw(Method::POST, "/operator/v1/rid/replay", csv.into_bytes()).await.want(202)
}

/// Waits up to `seconds` for `check` to give a value; `last` describes what was seen when it gives up.
async fn eventually<T, F, Fut>(seconds: u64, what: &str, mut check: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<Result<T, String>>>,
{
    let deadline = Instant::now() + Duration::from_secs(seconds);
    loop {
        let last = match check().await? {
            Ok(found) => return Ok(found),
            Err(last) => last,
        };
        if Instant::now() > deadline {
            bail!("{what}: not within {seconds} s; last seen: {last}");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The ids of the flights a display of `view` shows to `uss`'s operator.
async fn displayed(uss: &Uss, view: &str) -> anyhow::Result<Vec<String>> {
    let shown = uss.operator().get(&format!("/operator/v1/rid/flights?view={view}")).await.want(200)?;
    Ok(shown["flights"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| f["id"].as_str().map(str::to_owned))
        .collect())
}

/// The tactical alerts `uss`'s operators see, as pairs of aircraft.
async fn alerted(uss: &Uss) -> anyhow::Result<Vec<(String, String)>> {
    let alerts = uss.operator().get("/operator/v1/alerts").await.want(200)?;
    Ok(alerts["alerts"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| Some((a["aircraft"][0].as_str()?.to_owned(), a["aircraft"][1].as_str()?.to_owned())))
        .collect())
}

/// The ISAs of `owner` the DSS finds over the triangle around (lat, lng).
async fn isas_of(dss: &Dss, owner: &str, lat: f64, lng: f64) -> anyhow::Result<Vec<Value>> {
    let area =
        format!("{},{},{},{},{},{}", lat - 0.01, lng - 0.01, lat + 0.01, lng - 0.01, lat + 0.01, lng + 0.01);
    let found = dss
        .client("observer", &[DP])
        .get(&format!("/rid/v2/dss/identification_service_areas?area={area}"))
        .await
        .want(200)?;
    Ok(found["service_areas"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|i| i["owner"] == owner)
        .cloned()
        .collect())
}

#[tokio::test]
async fn a_display_that_watches_again_still_sees_the_peer_it_saw_before() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let a = Uss::start(&dss, "uss-a").await?;
    let b = Uss::start(&dss, "uss-b").await?;
    // Two views about 1.3 km across (individual flights), 600 m apart: A's aircraft in each are near enough to
    // share one ISA, and the second view lies beyond what that ISA covered while only the first had traffic.
    let first = "46.495,6.595,46.505,6.605";
    let second = "46.511,6.595,46.521,6.605";
    let watch = b.operator().post("/operator/v1/rid/watches", &watching(first)).await.want(201)?;
    replay(&a, &straight("x1", (46.4995, 6.598), 90.0, 5.0, 120)).await?;
    eventually(20, "x1 in B's first view", || async {
        let shown = displayed(&b, first).await?;
        Ok(if shown.contains(&"x1".to_owned()) { Ok(()) } else { Err(format!("{shown:?}")) })
    })
    .await?;
    b.operator().delete(&format!("/operator/v1/rid/watches/{}", str_of(&watch["id"])?)).await.want(200)?;

    // Both watch the second area; A's aircraft there widens its ISA, and B hears of it on its new subscription.
    a.operator().post("/operator/v1/rid/watches", &watching(second)).await.want(201)?;
    b.operator().post("/operator/v1/rid/watches", &watching(second)).await.want(201)?;
    replay(&a, &straight("y1", (46.516, 6.598), 90.0, 5.0, 120)).await?;
    eventually(20, "y1 in B's second view", || async {
        let shown = displayed(&b, second).await?;
        Ok(if shown.contains(&"y1".to_owned()) { Ok(()) } else { Err(format!("{shown:?}")) })
    })
    .await?;
    Ok(())
}

#[tokio::test]
async fn converging_aircraft_of_two_usss_raise_alerts_with_no_watch_opened() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let a = Uss::start(&dss, "uss-a").await?;
    let b = Uss::start(&dss, "uss-b").await?;
    // Head-on, 1.5 km apart and closing at 30 m/s: 50 m apart after about 48 s. Nobody watches anything.
    replay(&a, &straight("a1", (47.0, 7.99), 90.0, 15.0, 60)).await?;
    replay(&b, &straight("b1", (47.0, 8.01), 270.0, 15.0, 60)).await?;
    for (name, uss) in [("A", &a), ("B", &b)] {
        eventually(30, &format!("the a1-b1 alert at {name}"), || async {
            let pairs = alerted(uss).await?;
            let found = pairs.iter().any(|(x, y)| (x.as_str(), y.as_str()) == ("a1", "b1"));
            Ok(if found { Ok(()) } else { Err(format!("{pairs:?}")) })
        })
        .await?;
        // Each alert says where its aircraft are: on their tracks, a1 west of b1, closing.
        let alerts = uss.operator().get("/operator/v1/alerts").await.want(200)?;
        let alert = &alerts["alerts"][0];
        let (a1, b1) = (&alert["positions"][0], &alert["positions"][1]);
        let coordinate = |p: &Value, key: &str| p[key].as_f64().context("a coordinate");
        ensure!(
            (coordinate(a1, "lat")? - 47.0).abs() < 1e-4 && (coordinate(b1, "lat")? - 47.0).abs() < 1e-4,
            "the alert's positions are off the tracks: {alert}"
        );
        ensure!(
            (7.99..coordinate(b1, "lng")?).contains(&coordinate(a1, "lng")?)
                && coordinate(b1, "lng")? <= 8.01,
            "the alert's positions are not where a1 and b1 fly: {alert}"
        );
    }
    Ok(())
}

#[tokio::test]
async fn flights_130_km_apart_are_each_discoverable() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let a = Uss::start(&dss, "uss-a").await?;
    // About 130 km apart, north-east: one box around both would cover some 8000 km², over the DSS's 2500.
    let (north, south) = ((LAT + 0.83, LNG + 1.2), (LAT, LNG));
    let now = entente_dss::SystemClock.now();
    let mut ids = Vec::new();
    for (lat, lng) in [south, north] {
        let volume = volume4_at(
            &circle(lat, lng, 300.0),
            Some(0.0),
            Some(120.0),
            Some(now - chrono::Duration::minutes(1)),
            Some(now + chrono::Duration::minutes(30)),
        );
        let planned =
            a.operator().post("/operator/v1/flights", &wire(flight_of(vec![volume], 0))).await.want(201)?;
        let id = str_of(&planned["id"])?.to_owned();
        a.operator().post(&format!("/operator/v1/flights/{id}/activate"), &json!({})).await.want(200)?;
        let fix = fix_at_point(entente_dss::SystemClock.now(), (lat, lng), 60.0);
        a.operator().post(&format!("/operator/v1/flights/{id}/telemetry"), &fix).await.want(200)?;
        ids.push(id);
    }
    for (id, (lat, lng)) in ids.iter().zip([south, north]) {
        let isa = eventually(20, &format!("an ISA of A over flight {id}"), || async {
            let found = isas_of(&dss, "uss-a", lat, lng).await?;
            Ok(found.first().cloned().ok_or_else(|| "none".to_owned()))
        })
        .await?;
        // Its SP serves the flight to any display provider that found the ISA.
        let base = str_of(&isa["uss_base_url"])?;
        let view = format!("{},{},{},{}", lat - 0.003, lng - 0.003, lat + 0.003, lng + 0.003);
        let served =
            client_at(base, "uss-b", &[DP]).get(&format!("/uss/flights?view={view}")).await.want(200)?;
        assert_eq!(served["no_isas_present"], json!(false), "{served}");
        let flights: Vec<&str> =
            served["flights"].as_array().into_iter().flatten().filter_map(|f| f["id"].as_str()).collect();
        assert_eq!(flights, [id.as_str()], "{served}");
    }
    Ok(())
}
