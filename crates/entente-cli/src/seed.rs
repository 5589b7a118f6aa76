//! `entente serve --seed`: sample entities written through the real HTTP API, so a new operator's map shows
//! every kind of entity, a conflict, and intents starting at different times for the time slider.

use std::time::Duration;

use anyhow::{Context, bail};
use chrono::{SecondsFormat, Utc};
use entente_dss::Dss;
use entente_server::auth::TokenIssuer;
use serde_json::{Value, json};

/// Lausanne, near the lake: the samples sit within a few kilometres of it.
const LAT: f64 = 46.52;
const LNG: f64 = 6.63;

/// Writes the samples unless the airspace already holds entities (a restart with `--seed` adds nothing).
pub(crate) async fn run(base: &str, issuer: &TokenIssuer, audience: &str, dss: &Dss) -> anyhow::Result<()> {
    if dss.counts() != (0, 0, 0) || dss.rid_counts() != (0, 0) {
        println!("--seed: the airspace already holds entities; nothing added");
        return Ok(());
    }
    let client = Seeder { http: reqwest::Client::new(), base, issuer, audience };
    let sc = "utm.strategic_coordination";

    // Two intents meeting in 4D: the second knows the first's OVN, so the DSS accepts both, and the map
    // flags the pair. The second is then activated (intents are created Accepted).
    let oirs = "/dss/v1/operational_intent_references";
    let first = intent(square(LAT, LNG, 800.0), (0.0, 120.0), (1, 60), "Accepted", &[]);
    let first = client.put("uss1", sc, &new_path(oirs), &first).await?;
    let first_ovn = ovn(&first)?;
    let second_path = new_path(oirs);
    let outline = circle(LAT + 0.004, LNG + 0.008, 500.0);
    let mut second = intent(outline.clone(), (60.0, 150.0), (1, 90), "Accepted", &[first_ovn]);
    // Only an intent with a subscription may be activated.
    second["new_subscription"] =
        json!({"uss_base_url": "http://uss2.localhost", "notify_for_constraints": false});
    let second = client.put("uss2", sc, &second_path, &second).await?;
    let mut activated = intent(outline, (60.0, 150.0), (1, 90), "Activated", &[first_ovn]);
    activated["subscription_id"] = second["operational_intent_reference"]["subscription_id"].clone();
    client.put("uss2", sc, &format!("{second_path}/{}", ovn(&second)?), &activated).await?;
    // Later and further north: it appears only when the time slider reaches it.
    client
        .put(
            "uss3",
            sc,
            &new_path(oirs),
            &intent(square(LAT + 0.03, LNG - 0.01, 600.0), (0.0, 90.0), (45, 150), "Accepted", &[]),
        )
        .await?;
    client
        .put(
            "authority",
            "utm.constraint_management",
            &new_path("/dss/v1/constraint_references"),
            &json!({
                "extents": [volume(square(LAT - 0.015, LNG + 0.03, 1200.0), (0.0, 400.0), (0, 180))],
                "uss_base_url": "http://authority.localhost",
            }),
        )
        .await?;
    client
        .put(
            "uss2",
            sc,
            &new_path("/dss/v1/subscriptions"),
            &json!({
                "extents": volume(circle(LAT, LNG, 4000.0), (0.0, 500.0), (0, 180)),
                "uss_base_url": "http://uss2.localhost",
                "notify_for_operational_intents": true,
                "notify_for_constraints": false,
            }),
        )
        .await?;
    client
        .put(
            "rid-sp1",
            "rid.service_provider",
            &new_path("/rid/v2/dss/identification_service_areas"),
            &json!({
                "extents": volume(square(LAT - 0.01, LNG - 0.02, 2000.0), (0.0, 120.0), (0, 120)),
                "uss_base_url": "http://rid-sp1.localhost",
            }),
        )
        .await?;
    println!("--seed: added 3 operational intents (2 in conflict), a constraint, 2 subscriptions and an ISA");
    Ok(())
}

struct Seeder<'a> {
    http: reqwest::Client,
    base: &'a str,
    issuer: &'a TokenIssuer,
    audience: &'a str,
}

impl Seeder<'_> {
    /// PUTs `body` at `path` as `sub` holding `scope`; returns the answer.
    async fn put(&self, sub: &str, scope: &str, path: &str, body: &Value) -> anyhow::Result<Value> {
        let token = self.issuer.issue(sub, &[scope], self.audience, Duration::from_secs(300))?;
        let url = format!("{}{path}", self.base);
        let response = self
            .http
            .put(&url)
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .with_context(|| format!("PUT {url}"))?;
        let status = response.status();
        let answer: Value = response.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            bail!("PUT {url}: {status}: {answer}");
        }
        Ok(answer)
    }
}

/// Where a new entity of `collection` is created: a fresh id.
fn new_path(collection: &str) -> String {
    format!("{collection}/{}", uuid::Uuid::new_v4())
}

fn ovn(answer: &Value) -> anyhow::Result<&str> {
    answer["operational_intent_reference"]["ovn"].as_str().context("an OVN in the answer")
}

fn intent(outline: Value, altitude: (f64, f64), minutes: (i64, i64), state: &str, key: &[&str]) -> Value {
    json!({
        "extents": [volume(outline, altitude, minutes)],
        "state": state,
        "uss_base_url": "http://uss.localhost",
        "key": key,
    })
}

/// A Volume4D of F3548 and F3411-22a: `outline` is `{"outline_polygon": …}` or `{"outline_circle": …}`,
/// times are minutes from now.
fn volume(outline: Value, altitude: (f64, f64), minutes: (i64, i64)) -> Value {
    let time = |m: i64| {
        let t = Utc::now() + chrono::Duration::minutes(m);
        json!({"value": t.to_rfc3339_opts(SecondsFormat::Secs, true), "format": "RFC3339"})
    };
    let mut volume = json!({
        "altitude_lower": {"value": altitude.0, "reference": "W84", "units": "M"},
        "altitude_upper": {"value": altitude.1, "reference": "W84", "units": "M"},
    });
    if let (Some(volume), Some(outline)) = (volume.as_object_mut(), outline.as_object()) {
        volume.extend(outline.clone());
    }
    json!({"volume": volume, "time_start": time(minutes.0), "time_end": time(minutes.1)})
}

/// A square of `side_m` centred on (lat, lng).
fn square(lat: f64, lng: f64, side_m: f64) -> Value {
    let half_lat = side_m / 2.0 / 111_195.0;
    let half_lng = half_lat / lat.to_radians().cos();
    json!({"outline_polygon": {"vertices": [
        {"lat": lat - half_lat, "lng": lng - half_lng}, {"lat": lat - half_lat, "lng": lng + half_lng},
        {"lat": lat + half_lat, "lng": lng + half_lng}, {"lat": lat + half_lat, "lng": lng - half_lng},
    ]}})
}

fn circle(lat: f64, lng: f64, radius_m: f64) -> Value {
    json!({"outline_circle": {"center": {"lat": lat, "lng": lng}, "radius": {"value": radius_m, "units": "M"}}})
}
