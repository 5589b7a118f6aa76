//! Network Remote ID end to end over real sockets: one `entente dss`, two `entente uss` with different identities.
//! USS A serves its flights as SP; USS B watches the area as DP and displays them; replayed traffic on a collision
//! course raises a tactical alert at both before separation is lost, and a pair passing clear raises none.

use entente_dss::{Clock, SystemClock};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use chrono::{DateTime, SecondsFormat, Utc};
use entente_wire::LatLngPoint;
use entente_wire::interuss::rid::{
    CreateTestParameters, InjectedDetails, InjectedPosition, InjectedState, OperatorAltitude, TestFlight,
    TestFlightDetails,
};
use entente_wire::rid::v22a::{
    IdentificationServiceArea, PutIdentificationServiceAreaNotificationParameters,
};
use entente_wire::scd::SubscriptionState;
use entente_wire::uss::{VehicleTelemetry, Velocity};
use reqwest::blocking::Client;
use serde_json::{Value, json};

use super::bodies::{fix, flight_body, time, volume, watch, wire};
use super::uss::{EC_PRIVATE, Operator, Process, RSA_PRIVATE, start_dss, start_uss_with, token};

/// The USSs keep an ended flight's ISA for one second only, so its end shows quickly.
const FLAGS: &[&str] = &["--rid-retention-secs", "1"];

/// The operator API's Remote ID and alert calls, beside the flight calls of the USS tests.
impl Operator<'_> {
    fn get(&self, path: &str) -> anyhow::Result<(u16, Value)> {
        let r = self.http.get(format!("{}{path}", self.base)).bearer_auth(&self.token).send()?;
        let status = r.status().as_u16();
        Ok((status, r.json().unwrap_or(Value::Null)))
    }

    fn watch(&self, view: &str) -> anyhow::Result<Value> {
        let (status, watch) = self.post("/operator/v1/rid/watches", &watch(view))?;
        ensure!(status == 201, "watching {view}: {status} {watch}");
        Ok(watch)
    }

    fn display(&self, view: &str) -> anyhow::Result<Value> {
        let (status, shown) = self.get(&format!("/operator/v1/rid/flights?view={view}"))?;
        ensure!(status == 200, "display of {view}: {status} {shown}");
        Ok(shown)
    }

    fn replay(&self, csv: String) -> anyhow::Result<Value> {
        let r = self
            .http
            .post(format!("{}/operator/v1/rid/replay", self.base))
            .bearer_auth(&self.token)
            .header("content-type", "text/csv")
            .body(csv)
            .send()?;
        let status = r.status().as_u16();
        let body: Value = r.json().unwrap_or(Value::Null);
        ensure!(status == 202, "replay: {status} {body}");
        Ok(body)
    }
}

/// Waits up to `seconds` for `check` to give a value.
pub(super) fn eventually<T>(
    seconds: u64,
    what: &str,
    mut check: impl FnMut() -> anyhow::Result<Option<T>>,
) -> anyhow::Result<T> {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    loop {
        if let Some(found) = check()? {
            return Ok(found);
        }
        if Instant::now() > deadline {
            bail!("{what}: not within {seconds} s");
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// The same telemetry report, measured now.
fn fix_now(report: &VehicleTelemetry) -> Value {
    wire(VehicleTelemetry { time_measured: time(SystemClock.now(), SecondsFormat::Millis), ..report.clone() })
}

/// `report` with its position's horizontal accuracy.
fn accurate_to(mut report: VehicleTelemetry, accuracy_h: &str) -> VehicleTelemetry {
    if let Some(position) = &mut report.position {
        position.accuracy_h = Some(accuracy_h.to_owned());
    }
    report
}

fn flight<'a>(shown: &'a Value, id: &str) -> Option<&'a Value> {
    shown["flights"].as_array()?.iter().find(|f| f["id"] == id)
}

fn operators<'a>(http: &'a Client, a: &Process, b: &Process) -> anyhow::Result<(Operator<'a>, Operator<'a>)> {
    Ok((
        Operator { http, base: a.base.clone(), token: token(RSA_PRIVATE, "pilot-a", "entente.operator")? },
        Operator { http, base: b.base.clone(), token: token(RSA_PRIVATE, "pilot-b", "entente.operator")? },
    ))
}

#[test]
fn an_activated_flight_of_one_uss_is_displayed_by_the_other_until_it_ends() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let dss = start_dss(dir.path())?;
    let (uss_a, _) = start_uss_with(dir.path(), &dss.base, "uss-a", "rsa-private.pem", FLAGS)?;
    let (uss_b, audit_b) = start_uss_with(dir.path(), &dss.base, "uss-b", "ec-private.pem", FLAGS)?;
    let http = Client::new();
    let (a, b) = operators(&http, &uss_a, &uss_b)?;
    // About 1.3 km across: individual flights.
    let view = "46.495,6.595,46.505,6.605";
    b.watch(view)?;

    let (status, planned) =
        a.post("/operator/v1/flights", &flight_body(vec![volume(46.5, (0.0, 120.0), (-1, 30))], 0))?;
    ensure!(status == 201, "plan: {status} {planned}");
    let id = planned["id"].as_str().context("id")?.to_owned();
    let (status, active) = a.post(&format!("/operator/v1/flights/{id}/activate"), &json!({}))?;
    ensure!(status == 200, "activate: {status} {active}");
    let velocity = Velocity { speed: 5.0, units_speed: "MetersPerSecond".to_owned(), track: Some(90.0) };
    let fix =
        VehicleTelemetry { velocity: Some(velocity), ..accurate_to(fix(46.5001, 6.6002, 60.0), "HA3m") };
    let now = fix.time_measured.value.clone();
    let (status, reported) = a.post(&format!("/operator/v1/flights/{id}/telemetry"), &wire(&fix))?;
    ensure!(status == 200, "telemetry: {status} {reported}");
    assert_eq!(reported["state"], "Activated");

    let seen = eventually(20, "A's flight in B's display", || Ok(flight(&b.display(view)?, &id).cloned()))?;
    assert_eq!(seen["provider"], "uss-a");
    assert_eq!(seen["position"]["lat"], json!(46.5001));
    assert_eq!(seen["position"]["lng"], json!(6.6002));
    assert_eq!(seen["position"]["alt_m"], json!(60.0));
    assert_eq!(seen["position"]["accuracy_h"], "HA3m");
    assert_eq!(seen["position"]["time"]["value"], json!(now));
    assert_eq!(seen["speed_mps"], json!(5.0));
    assert_eq!(seen["track_deg"], json!(90.0));
    assert!(seen["position"]["age_s"].as_f64().is_some_and(|age| (0.0..30.0).contains(&age)), "{seen}");
    // A views of 2 to 7 km shows only clusters; beyond, nothing.
    let wide = b.display("46.49,6.59,46.51,6.61")?;
    assert_eq!(wide["flights"], json!([]), "{wide}");
    let counted: u64 = wide["clusters"]
        .as_array()
        .context("clusters")?
        .iter()
        .filter_map(|c| c["number_of_flights"].as_u64())
        .sum();
    assert_eq!(counted, 1, "{wide}");
    assert_eq!(b.get("/operator/v1/rid/flights?view=46.4,6.5,46.6,6.7")?.0, 413);

    // A's SP as any DP sees it.
    let dp = token(EC_PRIVATE, "uss-b", "rid.display_provider")?;
    let sp = |query: &str, token: &str| -> anyhow::Result<(u16, Value)> {
        let r = http.get(format!("{}/uss/flights?{query}", uss_a.base)).bearer_auth(token).send()?;
        Ok((r.status().as_u16(), r.json().unwrap_or(Value::Null)))
    };
    let (status, served) = sp(&format!("view={view}&recent_positions_duration=60"), &dp)?;
    ensure!(status == 200, "{status} {served}");
    assert_eq!(served["no_isas_present"], json!(false));
    assert_eq!(served["flights"][0]["id"], json!(id));
    assert_eq!(served["flights"][0]["current_state"]["position"]["alt"], json!(60.0));
    assert_eq!(served["flights"][0]["recent_positions"].as_array().map(Vec::len), Some(1));
    let (_, elsewhere) = sp("view=40.0,6.0,40.01,6.01", &dp)?;
    assert_eq!(
        (elsewhere["no_isas_present"].clone(), elsewhere["flights"].clone()),
        (json!(true), json!([]))
    );
    assert_eq!(sp("view=46.4,6.5,46.6,6.7", &dp)?.0, 413);
    assert_eq!(sp("view=46.4,6.5", &dp)?.0, 400);
    assert_eq!(sp(&format!("view={view}&recent_positions_duration=61"), &dp)?.0, 400);
    assert_eq!(sp(&format!("view={view}"), &token(EC_PRIVATE, "uss-b", "rid.service_provider")?)?.0, 403);

    // An aircraft B replays 300 m west of A's flight, closing at 10 m/s: A's operator is alerted in the status.
    a.watch(view)?;
    let header = REPLAY_HEADER;
    b.replay(format!("{header}{}", straight("x1", (46.5001, 6.5963), 90.0, 15.0, 40)))?;
    let (status, _) = a.post(&format!("/operator/v1/flights/{id}/telemetry"), &fix_now(&fix))?;
    ensure!(status == 200, "second telemetry: {status}");
    let alerted = eventually(20, "the tactical alert in A's flight status", || {
        let (_, status) = a.get(&format!("/operator/v1/flights/{id}"))?;
        let alerts = status["alerts"].as_array().cloned().unwrap_or_default();
        Ok(alerts
            .into_iter()
            .find(|m| m.as_str().is_some_and(|m| m.starts_with("tactical") && m.contains("x1"))))
    })?;
    assert!(alerted.as_str().is_some_and(|m| m.contains("predicted loss of separation")), "{alerted}");

    // B takes ISA notifications only from the ISA's owner, only going forward, and one content per version.
    let isas = isas_near_lausanne(&http, &dss.base, &dp)?;
    let isa = isas["service_areas"]
        .as_array()
        .and_then(|all| all.iter().find(|i| i["owner"] == "uss-a"))
        .cloned()
        .with_context(|| format!("A's ISA at the DSS: {isas}"))?;
    let notified = std::fs::read_to_string(&audit_b)?
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .any(|r| {
            r["direction"] == "incoming"
                && r["peer"] == "uss-a"
                && r["status"] == 204
                && r["url"].as_str().is_some_and(|u| {
                    u.ends_with(&format!(
                        "/uss/identification_service_areas/{}",
                        isa["id"].as_str().unwrap_or("-")
                    ))
                })
        });
    assert!(notified, "B's audit log holds A's ISA notification");
    let notify = |sub: &str, body: &Value| -> anyhow::Result<u16> {
        let url =
            format!("{}/uss/identification_service_areas/{}", uss_b.base, isa["id"].as_str().unwrap_or(""));
        let sp_token = token(EC_PRIVATE, sub, "rid.service_provider")?;
        Ok(http.post(url).bearer_auth(sp_token).json(body).send()?.status().as_u16())
    };
    let subscriptions = |index: i32| {
        let subscription_id = "00000000-0000-4000-8000-000000000000".to_owned();
        vec![SubscriptionState { subscription_id, notification_index: index }]
    };
    let service_area: IdentificationServiceArea = serde_json::from_value(isa.clone())?;
    let notification = |service_area: Option<&IdentificationServiceArea>, subscriptions, extents| {
        wire(PutIdentificationServiceAreaNotificationParameters {
            service_area: service_area.cloned(),
            subscriptions,
            extents,
        })
    };
    let moved =
        notification(Some(&service_area), subscriptions(1000), Some(volume(10.0, (0.0, 1.0), (0, 5))));
    assert_eq!(notify("uss-c", &moved)?, 403, "not the owner");
    assert_eq!(notify("uss-a", &notification(Some(&service_area), Vec::new(), None))?, 400);
    assert_eq!(notify("uss-a", &moved)?, 409, "the same version with other extents");
    assert_eq!(notify("uss-a", &notification(None, subscriptions(0), None))?, 204);
    assert!(flight(&b.display(view)?, &id).is_some(), "a deletion older than what B knows changed nothing");

    let (status, ended) = a.post(&format!("/operator/v1/flights/{id}/end"), &json!({}))?;
    ensure!(status == 200, "end: {status} {ended}");
    eventually(20, "the ended flight leaving B's display", || {
        Ok(flight(&b.display(view)?, &id).is_none().then_some(()))
    })?;
    Ok(())
}

/// Replay CSV of one aircraft flying straight at 15 m/s for 40 s, a sample a second.
/// The columns of replay CSV, as `straight` fills them.
pub(super) const REPLAY_HEADER: &str = "id,lat,lon,alt_m,gs_mps,trk_deg,vs_mps,t\n";

/// Replay CSV of aircraft `id` flying straight and level at 60 m from (lat, lon) on `track_deg` at `speed` m/s,
/// one sample a second for `seconds`.
pub(super) fn straight(id: &str, (lat, lon): (f64, f64), track_deg: f64, speed: f64, seconds: u32) -> String {
    let (sin, cos) = track_deg.to_radians().sin_cos();
    let m_per_deg = 6_371_008.8_f64.to_radians();
    (0..=seconds)
        .map(|t| {
            let t = f64::from(t);
            let lat_t = lat + speed * cos * t / m_per_deg;
            let lon_t = lon + speed * sin * t / (m_per_deg * lat.to_radians().cos());
            format!("{id},{lat_t},{lon_t},60,{speed},{track_deg},0,{t}\n")
        })
        .collect()
}

fn pairs(alerts: &Value) -> Vec<(String, String, DateTime<Utc>)> {
    alerts["alerts"]
        .as_array()
        .map(|list| {
            list.iter()
                .filter_map(|a| {
                    let start = DateTime::parse_from_rfc3339(a["loss_start"]["value"].as_str()?).ok()?;
                    Some((
                        a["aircraft"][0].as_str()?.to_owned(),
                        a["aircraft"][1].as_str()?.to_owned(),
                        start.to_utc(),
                    ))
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn replayed_aircraft_converging_alert_both_usss_before_separation_is_lost() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let dss = start_dss(dir.path())?;
    let (uss_a, _) = start_uss_with(dir.path(), &dss.base, "uss-a", "rsa-private.pem", FLAGS)?;
    let (uss_b, _) = start_uss_with(dir.path(), &dss.base, "uss-b", "ec-private.pem", FLAGS)?;
    let http = Client::new();
    let (a, b) = operators(&http, &uss_a, &uss_b)?;
    let area = "46.99,7.98,47.02,8.02";
    a.watch(area)?;
    b.watch(area)?;

    // a1 (A) and b1 (B) fly head-on, 1.5 km apart at 30 m/s closing: 50 m apart after about 49 s. c1 (A) and c2
    // (B) fly head-on too, but 300 m apart sideways: they pass clear.
    let header = REPLAY_HEADER;
    let a_csv = format!(
        "{header}{}{}",
        straight("a1", (47.0, 7.99), 90.0, 15.0, 40),
        straight("c1", (47.006, 7.995), 90.0, 15.0, 40)
    );
    let b_csv = format!(
        "{header}{}{}",
        straight("b1", (47.0, 8.01), 270.0, 15.0, 40),
        straight("c2", (47.0087, 8.005), 270.0, 15.0, 40)
    );
    let started = a.replay(a_csv)?;
    assert_eq!(started["aircraft"], json!(["a1", "c1"]));
    b.replay(b_csv)?;

    for (name, op) in [("A", &a), ("B", &b)] {
        let (start, seen_at) = eventually(25, &format!("the a1-b1 alert at {name}"), || {
            let (status, alerts) = op.get("/operator/v1/alerts")?;
            ensure!(status == 200, "{status} {alerts}");
            Ok(pairs(&alerts)
                .into_iter()
                .find(|(x, y, _)| (x, y) == (&"a1".to_owned(), &"b1".to_owned()))
                .map(|(_, _, start)| (start, SystemClock.now())))
        })?;
        assert!(start > seen_at, "{name} was alerted at {seen_at}, after the loss of separation at {start}");
    }
    // Each USS sees the peer's aircraft of the clear pair (so the pair was judged), and no alert for it.
    let view = "47.003,7.99,47.012,8.01";
    for (op, peer) in [(&a, "c2"), (&b, "c1")] {
        eventually(15, &format!("{peer} displayed"), || Ok(flight(&op.display(view)?, peer).map(|_| ())))?;
    }
    for op in [&a, &b] {
        let (_, alerts) = op.get("/operator/v1/alerts")?;
        let found = pairs(&alerts);
        assert!(found.iter().all(|(x, _, _)| x != "c1"), "the clear pair raised an alert: {alerts}");
        assert!(found.iter().any(|(x, y, _)| x == "a1" && y == "b1"), "{alerts}");
    }
    Ok(())
}

/// The same exchange in F3411-19 (`--rid-version 19`): ISAs and subscriptions at `/v1/dss`, flights at
/// `/v1/uss/flights` in that version's shapes, notifications to the subscription's callback.
#[test]
fn in_f3411_19_a_flight_is_displayed_by_the_other_uss_until_it_ends() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let dss = start_dss(dir.path())?;
    let flags = [FLAGS, &["--rid-version", "19"]].concat();
    let (uss_a, _) = start_uss_with(dir.path(), &dss.base, "uss-a", "rsa-private.pem", &flags)?;
    let (uss_b, _) = start_uss_with(dir.path(), &dss.base, "uss-b", "ec-private.pem", &flags)?;
    let http = Client::new();
    let (a, b) = operators(&http, &uss_a, &uss_b)?;
    // About 540 m across: under F3411-19's 1 km for individual flights.
    let view = "46.4995,6.5995,46.5035,6.6035";
    b.watch(view)?;
    let (status, planned) =
        a.post("/operator/v1/flights", &flight_body(vec![volume(46.5, (0.0, 120.0), (-1, 30))], 0))?;
    ensure!(status == 201, "plan: {status} {planned}");
    let id = planned["id"].as_str().context("id")?.to_owned();
    let (status, active) = a.post(&format!("/operator/v1/flights/{id}/activate"), &json!({}))?;
    ensure!(status == 200, "activate: {status} {active}");
    let fix = wire(accurate_to(fix(46.5012, 6.6011, 75.0), "HA10m"));
    let (status, reported) = a.post(&format!("/operator/v1/flights/{id}/telemetry"), &fix)?;
    ensure!(status == 200, "telemetry: {status} {reported}");

    let seen = eventually(20, "A's flight in B's display", || Ok(flight(&b.display(view)?, &id).cloned()))?;
    assert_eq!(seen["provider"], "uss-a");
    assert_eq!(
        (seen["position"]["lat"].clone(), seen["position"]["lng"].clone()),
        (json!(46.5012), json!(6.6011))
    );
    assert_eq!(seen["position"]["alt_m"], json!(75.0));
    assert_eq!(seen["position"]["accuracy_h"], "HA10m");

    let read = token(EC_PRIVATE, "uss-b", "dss.read.identification_service_areas")?;
    let sp = |query: &str| -> anyhow::Result<(u16, Value)> {
        let r = http.get(format!("{}/v1/uss/flights?{query}", uss_a.base)).bearer_auth(&read).send()?;
        Ok((r.status().as_u16(), r.json().unwrap_or(Value::Null)))
    };
    let (status, served) = sp(&format!("view={view}&include_recent_positions=true"))?;
    ensure!(status == 200, "{status} {served}");
    assert!(served["timestamp"].is_string(), "{served}");
    let state = &served["flights"][0]["current_state"];
    assert!(state["timestamp"].is_string(), "{served}");
    assert_eq!(state["accuracy_h"], "HA10m");
    assert!(served["flights"][0]["recent_positions"][0]["time"].is_string(), "{served}");
    assert_eq!(sp("view=40.0,6.0,40.01,6.01")?.0, 404, "outside every ISA");
    assert_eq!(sp("view=46.48,6.58,46.52,6.62")?.0, 413, "over 3.6 km");

    let (status, ended) = a.post(&format!("/operator/v1/flights/{id}/end"), &json!({}))?;
    ensure!(status == 200, "end: {status} {ended}");
    eventually(20, "the ended flight leaving B's display", || {
        Ok(flight(&b.display(view)?, &id).is_none().then_some(()))
    })?;
    Ok(())
}

/// InterUSS's testing interfaces: a test injected into USS A's SP (`/ridsp/injection`) shows in USS B's display
/// as uss_qualifier observes it (`/riddp/observation`), B subscribing on demand; it vanishes when deleted.
#[test]
fn an_injected_test_flight_is_observed_through_the_other_display_until_deleted() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let dss = start_dss(dir.path())?;
    let (uss_a, _) = start_uss_with(dir.path(), &dss.base, "uss-a", "rsa-private.pem", FLAGS)?;
    let (uss_b, _) = start_uss_with(dir.path(), &dss.base, "uss-b", "ec-private.pem", FLAGS)?;
    let http = Client::new();
    let inject = token(RSA_PRIVATE, "qualifier", "rid.inject_test_data")?;
    let observe = token(RSA_PRIVATE, "qualifier", "dss.read.identification_service_areas")?;
    let at = |s: i64| {
        (SystemClock.now() + chrono::Duration::seconds(s)).to_rfc3339_opts(SecondsFormat::Millis, true)
    };
    // A minute of telemetry northwards, one state a second, from a few seconds ago. The injection shapes write
    // what is left out as null, which the SP reads as missing, as it reads a field not sent.
    let mut telemetry: Vec<InjectedState> = (-3..60)
        .map(|s| InjectedState {
            timestamp: Some(at(s)),
            timestamp_accuracy: Some(0.5),
            operational_status: Some("Airborne".to_owned()),
            position: Some(InjectedPosition {
                lat: Some(46.5 + 0.00001 * (s + 3) as f64),
                lng: Some(6.6),
                alt: Some(80.0),
                accuracy_h: Some("HA3m".to_owned()),
                accuracy_v: Some("VA10m".to_owned()),
                height: None,
            }),
            track: Some(0.0),
            speed: Some(1.1),
            speed_accuracy: Some("SA1mps".to_owned()),
            vertical_speed: Some(0.0),
            height: None,
        })
        .collect();
    // The first report lacks a field F3411-22a requires: the SP plays it all the same and tells the operator.
    telemetry[0].speed_accuracy = None;
    let details = InjectedDetails {
        id: "uss-a.flight-1".to_owned(),
        operator_id: Some("OP-42".to_owned()),
        operator_location: Some(LatLngPoint { lat: 46.4999, lng: 6.5999 }),
        operation_description: Some("survey".to_owned()),
        auth_data: None,
        serial_number: Some("INTCJ123-4567-890".to_owned()),
        registration_number: None,
        uas_id: None,
        operator_altitude: Some(OperatorAltitude { altitude: Some(75.0), altitude_type: None }),
        eu_classification: None,
    };
    let requested = TestFlight {
        injection_id: uuid::Uuid::new_v4().to_string(),
        aircraft_type: Some("Helicopter".to_owned()),
        telemetry,
        details_responses: vec![TestFlightDetails { effective_after: at(-10), details }],
    };
    let test = wire(CreateTestParameters { requested_flights: vec![wire(&requested)] });
    let test_id = uuid::Uuid::new_v4().to_string();
    let put = |body: &Value, token: &str| -> anyhow::Result<(u16, Value)> {
        let r = http
            .put(format!("{}/ridsp/injection/tests/{test_id}", uss_a.base))
            .bearer_auth(token)
            .json(body)
            .send()?;
        Ok((r.status().as_u16(), r.json().unwrap_or(Value::Null)))
    };
    let get = |base: &str, path: &str, token: &str| -> anyhow::Result<(u16, Value)> {
        let r = http.get(format!("{base}{path}")).bearer_auth(token).send()?;
        Ok((r.status().as_u16(), r.json().unwrap_or(Value::Null)))
    };

    assert_eq!(put(&test, &observe)?.0, 403, "injection needs rid.inject_test_data");
    let mut nowhere = requested.clone();
    for state in &mut nowhere.telemetry {
        state.position = Some(InjectedPosition {
            lat: Some(46.5),
            lng: None,
            alt: None,
            accuracy_h: None,
            accuracy_v: None,
            height: None,
        });
    }
    let nowhere = wire(CreateTestParameters { requested_flights: vec![wire(nowhere)] });
    let (status, refused) = put(&nowhere, &inject)?;
    assert_eq!(status, 400, "{refused}");
    assert!(
        refused["message"].as_str().is_some_and(|m| m.contains("requested_flights[0].telemetry")),
        "{refused}"
    );
    let (status, injected) = put(&test, &inject)?;
    ensure!(status == 200, "inject: {status} {injected}");
    assert_eq!(injected["injected_flights"], test["requested_flights"]);
    let version = injected["version"].as_str().context("version")?.to_owned();
    assert_eq!(put(&test, &inject)?.0, 409, "a test is injected once");

    // B watches nothing yet: observing subscribes, learns A's ISA and polls A.
    let view = "46.498,6.598,46.503,6.603";
    let observed = eventually(20, "the injected flight in B's observation", || {
        let (status, shown) =
            get(&uss_b.base, &format!("/riddp/observation/display_data?view={view}"), &observe)?;
        ensure!(status == 200, "display_data: {status} {shown}");
        Ok(flight(&shown, "uss-a.flight-1").cloned())
    })?;
    assert_eq!(observed["aircraft_type"], "Helicopter");
    assert_eq!(observed["most_recent_position"]["lng"], json!(6.6));
    assert_eq!(observed["most_recent_position"]["alt"], json!(80.0));
    assert_eq!(observed["most_recent_position"]["accuracy_h"], "HA3m");
    assert_eq!(observed["current_state"]["speed"], json!(1.1));
    assert_eq!(observed["current_state"]["speed_accuracy"], "SA1mps");
    assert_eq!(observed["current_state"]["timestamp_accuracy"], json!(0.5));
    let lat = observed["most_recent_position"]["lat"].as_f64().context("lat")?;
    assert!((46.5..46.5006).contains(&lat), "only telemetry already due is served: {lat}");
    assert!(observed["recent_paths"][0]["positions"].as_array().is_some_and(|p| !p.is_empty()), "{observed}");

    let (status, shown) = get(&uss_b.base, "/riddp/observation/display_data/uss-a.flight-1", &observe)?;
    ensure!(status == 200, "details: {status} {shown}");
    assert_eq!(shown["operator"]["id"], "OP-42");
    assert_eq!(shown["operator"]["location"], json!({"lat": 46.4999, "lng": 6.5999}));
    assert_eq!(shown["operator"]["altitude"]["altitude"], json!(75.0));
    assert_eq!(shown["uas"]["id"], "INTCJ123-4567-890");
    assert_eq!(get(&uss_b.base, "/riddp/observation/display_data/nobody", &observe)?.0, 404);
    // A 5 km view shows a cluster, not the flight.
    let (status, wide) =
        get(&uss_b.base, "/riddp/observation/display_data?view=46.48,6.58,46.52,6.62", &observe)?;
    ensure!(status == 200, "wide display_data: {status} {wide}");
    assert_eq!(wide["flights"], json!([]));
    assert_eq!(wide["clusters"][0]["number_of_flights"], json!(1), "{wide}");
    // Both views share the one subscription made for the first, widened as far as SPs answer.
    let operator = token(RSA_PRIVATE, "pilot-b", "entente.operator")?;
    let (status, watches) = get(&uss_b.base, "/operator/v1/rid/watches", &operator)?;
    assert_eq!(status, 200, "{watches}");
    assert_eq!(watches["watches"].as_array().map(Vec::len), Some(1), "{watches}");

    let after = (SystemClock.now() - chrono::Duration::seconds(60)).to_rfc3339();
    let (status, notes) = get(
        &uss_a.base,
        &format!("/ridsp/injection/user_notifications?after={}", after.replace('+', "%2B")),
        &inject,
    )?;
    assert_eq!(status, 200, "{notes}");
    let messages: Vec<&str> = notes["user_notifications"]
        .as_array()
        .context("list")?
        .iter()
        .filter_map(|n| n["message"].as_str())
        .collect();
    assert_eq!(messages, ["flight uss-a.flight-1: telemetry #0 lacks speed_accuracy"]);
    assert_eq!(get(&uss_a.base, "/ridsp/injection/user_notifications", &inject)?.0, 400, "after is required");

    let delete = |version: &str| -> anyhow::Result<(u16, Value)> {
        let r = http
            .delete(format!("{}/ridsp/injection/tests/{test_id}/{version}", uss_a.base))
            .bearer_auth(&inject)
            .send()?;
        Ok((r.status().as_u16(), r.json().unwrap_or(Value::Null)))
    };
    assert_eq!(delete("not-the-version")?.0, 404);
    let (status, deleted) = delete(&version)?;
    ensure!(status == 200, "delete: {status} {deleted}");
    assert_eq!(deleted["injected_flights"], test["requested_flights"]);
    eventually(20, "the deleted flight gone from B's observation", || {
        let (_, shown) = get(&uss_b.base, &format!("/riddp/observation/display_data?view={view}"), &observe)?;
        Ok(flight(&shown, "uss-a.flight-1").is_none().then_some(()))
    })?;
    Ok(())
}

/// At F3411's limit of subscriptions over one area, an observed view no watch covers takes the place of the
/// subscription made on demand for an earlier view, never of an operator's watch.
#[test]
fn at_the_subscription_limit_an_observed_view_replaces_an_on_demand_watch() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let dss = start_dss(dir.path())?;
    let (uss, _) = start_uss_with(dir.path(), &dss.base, "uss-b", "ec-private.pem", FLAGS)?;
    let http = Client::new();
    let operator = Operator {
        http: &http,
        base: uss.base.clone(),
        token: token(RSA_PRIVATE, "pilot-b", "entente.operator")?,
    };
    let observe = token(RSA_PRIVATE, "qualifier", "dss.read.identification_service_areas")?;
    for _ in 0..9 {
        operator.watch("46.4995,6.5995,46.5005,6.6005")?;
    }
    let observe_view = |view: &str| -> anyhow::Result<u16> {
        let r = http
            .get(format!("{}/riddp/observation/display_data?view={view}", uss.base))
            .bearer_auth(&observe)
            .send()?;
        Ok(r.status().as_u16())
    };
    assert_eq!(observe_view("46.499,6.599,46.501,6.601")?, 200);
    // Meets all ten, and reaches beyond the first observed view's widened subscription.
    assert_eq!(observe_view("46.499,6.599,46.501,6.66")?, 200);
    let (status, watches) = operator.get("/operator/v1/rid/watches")?;
    assert_eq!(status, 200, "{watches}");
    let views: Vec<&str> =
        watches["watches"].as_array().context("watches")?.iter().filter_map(|w| w["view"].as_str()).collect();
    assert_eq!(views.len(), 10, "{views:?}");
    assert_eq!(views.iter().filter(|v| **v == "46.4995,6.5995,46.5005,6.6005").count(), 9, "{views:?}");
    Ok(())
}

/// A USS killed and started again over its data folder deletes the ISAs its earlier runs declared: however often
/// it restarts, the DSS holds only the ISA of what it flies now.
#[test]
fn a_restarted_uss_leaves_only_its_live_isa_at_the_dss() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let dss = start_dss(dir.path())?;
    let http = Client::new();
    let dp = token(EC_PRIVATE, "observer", "rid.display_provider")?;
    let owned = || -> anyhow::Result<Vec<String>> {
        let found = isas_near_lausanne(&http, &dss.base, &dp)?;
        Ok(found["service_areas"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|i| i["owner"] == "uss-a")
            .filter_map(|i| i["id"].as_str().map(str::to_owned))
            .collect())
    };
    let (uss, _) = start_uss_with(dir.path(), &dss.base, "uss-a", "rsa-private.pem", FLAGS)?;
    let pilot = Operator {
        http: &http,
        base: uss.base.clone(),
        token: token(RSA_PRIVATE, "pilot-a", "entente.operator")?,
    };
    let (status, planned) =
        pilot.post("/operator/v1/flights", &flight_body(vec![volume(46.5, (0.0, 120.0), (-1, 30))], 0))?;
    ensure!(status == 201, "plan: {status} {planned}");
    let id = planned["id"].as_str().context("id")?.to_owned();
    let (status, active) = pilot.post(&format!("/operator/v1/flights/{id}/activate"), &json!({}))?;
    ensure!(status == 200, "activate: {status} {active}");
    let mut uss = Some(uss);
    let mut declared = Vec::new();
    for run in 0..4 {
        let isa = eventually(20, &format!("run {run}'s ISA"), || {
            Ok(owned()?.into_iter().find(|i| !declared.contains(i)))
        })?;
        declared.push(isa);
        // Killed (no chance to clean up) and started again over the same data.
        drop(uss.take());
        uss = Some(start_uss_with(dir.path(), &dss.base, "uss-a", "rsa-private.pem", FLAGS)?.0);
    }
    let mut last = Vec::new();
    let found = eventually(20, "only the live ISA at the DSS", || {
        last = owned()?;
        Ok((last.len() == 1 && !declared.contains(&last[0])).then(|| last.clone()))
    });
    ensure!(found.is_ok(), "after 4 restarts uss-a holds {} ISAs at the DSS: {last:?}", last.len());
    Ok(())
}

/// The DSS's answer to an ISA search over the area the tests fly in, as display provider `dp`.
fn isas_near_lausanne(http: &Client, dss: &str, dp: &str) -> anyhow::Result<Value> {
    let url = format!("{dss}/rid/v2/dss/identification_service_areas?area=46.49,6.59,46.51,6.59,46.51,6.61");
    Ok(http.get(url).bearer_auth(dp).send()?.json()?)
}
