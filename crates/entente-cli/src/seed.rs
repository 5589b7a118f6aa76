//! `entente serve --seed`: sample entities written through the real HTTP APIs (flights through the operators'
//! USSs, the restricted zone through the authority's), so a new operator's map shows every kind of entity, a
//! conflict, and intents starting at different times for the time slider.

use std::time::Duration;

use anyhow::{Context, bail};
use chrono::SubsecRound;
use entente_dss::{Clock, Dss, SystemClock, Volume};
use entente_geo::{Circle, Interval, LatLng, Outline, Polygon};
use entente_server::auth::TokenIssuer;
use entente_wire::authority::{ConstraintRequest, ZoneSetImport};
use entente_wire::operator::{FlightRequest, FlightStatus, ReplayStarted};
use entente_wire::rid::v22a::{ChangeIdentificationServiceAreaResponse, PutParameters};
use entente_wire::scd::{PutSubscriptionParameters, PutSubscriptionResponse};
use entente_wire::uss::Constraint;
use entente_wire::volume_out;
use reqwest::Method;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::serve::{AUTHORITY, uss_url};

/// The name of the sample zone set the seed imports into the authority's USS.
const SAMPLE_ZONES: &str = "lausanne";
/// Zones around Lausanne written for Entente from public facts (an aerodrome, a hospital helipad, a lakeside
/// park, a waterfront), in ED-318; the same zones in ED-269 sit beside them. `entente demo` flies past them too.
pub(crate) const SAMPLE_ZONES_ED318: &str =
    include_str!("../../entente-geozones/tests/fixtures/lausanne-ed318.json");

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
    let (north, south) = ("north-uss", "south-uss");
    let flights = |name: &str| format!("{}/operator/v1/flights", uss_url("", name));

    // The sample zones around Lausanne, imported as an authority publishes them: the aerodrome's prohibited
    // zone becomes a constraint every USS plans around. The operators' USSs keep the set too, to advise their
    // operators and show them the zones, leaving the constraints to the authority's USS.
    for (uss, publish) in [(AUTHORITY, true), (north, false), (south, false)] {
        let _: ZoneSetImport = client
            .request(
                Method::PUT,
                AUTHORITY,
                "entente.authority",
                &format!("{}/authority/v1/geozones/{SAMPLE_ZONES}?publish={publish}", uss_url("", uss)),
                ("application/json", SAMPLE_ZONES_ED318.as_bytes().to_vec()),
            )
            .await?;
    }
    let _: Constraint = client
        .send(
            AUTHORITY,
            "entente.authority",
            &format!("{}/authority/v1/constraints", uss_url("", AUTHORITY)),
            &ConstraintRequest {
                volumes: vec![volume(square(LAT - 0.015, LNG + 0.03, 1200.0)?, (0.0, 400.0), (0, 180))],
                kind: Some("restricted".to_owned()),
            },
        )
        .await?;
    // Two flights meeting in 4D: south-uss's at priority 0, then north-uss's at priority 10, which may plan
    // over a lower priority, so the map flags the pair. The second is then activated.
    let op = "entente.operator";
    let _: FlightStatus = client
        .send(south, op, &flights(south), &flight(square(LAT, LNG, 800.0)?, (0.0, 120.0), (1, 60), 0))
        .await?;
    let over = flight(circle(LAT + 0.004, LNG + 0.008, 500.0)?, (60.0, 150.0), (1, 90), 10);
    let over: FlightStatus = client.send(north, op, &flights(north), &over).await?;
    let _: FlightStatus = client
        .request(
            Method::POST,
            north,
            op,
            &format!("{}/{}/activate", flights(north), over.id),
            ("application/json", Vec::new()),
        )
        .await?;
    // Later and further north (east of the aerodrome's zone): it appears only when the time slider reaches it.
    let _: FlightStatus = client
        .send(
            north,
            op,
            &flights(north),
            &flight(square(LAT + 0.035, LNG + 0.03, 600.0)?, (0.0, 90.0), (45, 150), 0),
        )
        .await?;
    // south-uss watches the lake for new restricted zones.
    let _: PutSubscriptionResponse = client
        .put(
            south,
            "utm.constraint_processing",
            &new_path("/dss/v1/subscriptions"),
            &PutSubscriptionParameters {
                extents: volume(circle(LAT, LNG, 4000.0)?, (0.0, 500.0), (0, 180)),
                uss_base_url: uss_url(base, south),
                notify_for_operational_intents: Some(false),
                notify_for_constraints: Some(true),
            },
        )
        .await?;
    let _: ChangeIdentificationServiceAreaResponse = client
        .put(
            "rid-sp1",
            "rid.service_provider",
            &new_path("/rid/v2/dss/identification_service_areas"),
            &PutParameters {
                extents: volume(square(LAT - 0.01, LNG - 0.02, 2000.0)?, (0.0, 120.0), (0, 120)),
                uss_base_url: "http://rid-sp1.localhost".to_owned(),
            },
        )
        .await?;
    // Remote ID traffic over north-uss's flying intent, so the map shows aircraft and a tactical alert.
    let _: ReplayStarted = client
        .request(
            Method::POST,
            north,
            op,
            &format!("{}/operator/v1/rid/replay", uss_url("", north)),
            ("text/csv", converging_pair(LAT + 0.004, LNG + 0.008).into_bytes()),
        )
        .await?;
    println!(
        "--seed: added 3 flights of {north} and {south} (2 in conflict), a restricted zone and the zone set {SAMPLE_ZONES:?} of {AUTHORITY}, a subscription and an ISA"
    );
    println!(
        "--seed: {north} replays two Remote ID aircraft on a collision course for {REPLAY_S} s; act as {north} on the map and zoom in to see them"
    );
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
    async fn put<A: DeserializeOwned>(
        &self,
        sub: &str,
        scope: &str,
        path: &str,
        body: &impl Serialize,
    ) -> anyhow::Result<A> {
        self.request(Method::PUT, sub, scope, path, json_body(body)?).await
    }

    /// POSTs `body` at `path` as `sub` holding `scope`; returns the answer.
    async fn send<A: DeserializeOwned>(
        &self,
        sub: &str,
        scope: &str,
        path: &str,
        body: &impl Serialize,
    ) -> anyhow::Result<A> {
        self.request(Method::POST, sub, scope, path, json_body(body)?).await
    }

    /// Sends `body` (its content type and bytes) at `path` as `sub` holding `scope`; returns the answer.
    async fn request<A: DeserializeOwned>(
        &self,
        method: Method,
        sub: &str,
        scope: &str,
        path: &str,
        (content_type, body): (&str, Vec<u8>),
    ) -> anyhow::Result<A> {
        let token = self.issuer.issue(sub, &[scope], self.audience, Duration::from_secs(300))?;
        let url = format!("{}{path}", self.base);
        let response = self
            .http
            .request(method.clone(), &url)
            .bearer_auth(token)
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(body)
            .send()
            .await
            .with_context(|| format!("{method} {url}"))?;
        let status = response.status();
        let answer = response.bytes().await.with_context(|| format!("{method} {url}: the answer"))?;
        if !status.is_success() {
            bail!("{method} {url}: {status}: {}", String::from_utf8_lossy(&answer));
        }
        serde_json::from_slice(&answer).with_context(|| format!("{method} {url}: the answer"))
    }
}

fn json_body(body: &impl Serialize) -> anyhow::Result<(&'static str, Vec<u8>)> {
    Ok(("application/json", serde_json::to_vec(body)?))
}

/// How long the seeded Remote ID aircraft fly, in seconds.
const REPLAY_S: u32 = 240;

/// Replay CSV of two aircraft at 60 m flying head-on at 5 m/s each around (lat, lng): 600 m apart and 20 m
/// aside at first, so they lose separation (50 m) after about 55 s, then fly apart.
fn converging_pair(lat: f64, lng: f64) -> String {
    let m_per_deg = 111_195.0;
    let east = |m: f64| lng + m / (m_per_deg * lat.to_radians().cos());
    let north = lat + 20.0 / m_per_deg;
    let mut csv = String::from("id,lat,lon,alt_m,gs_mps,trk_deg,vs_mps,t\n");
    for t in 0..=REPLAY_S {
        let run = 5.0 * f64::from(t);
        csv.push_str(&format!("seed-west,{lat},{},60,5,90,0,{t}\n", east(run - 300.0)));
        csv.push_str(&format!("seed-east,{north},{},60,5,270,0,{t}\n", east(300.0 - run)));
    }
    csv
}

/// Where a new entity of `collection` is created: a fresh id.
fn new_path(collection: &str) -> String {
    format!("{collection}/{}", uuid::Uuid::new_v4())
}

/// An operator's flight request: one volume, at `priority`.
fn flight(outline: Outline, altitude: (f64, f64), minutes: (i64, i64), priority: i32) -> FlightRequest {
    FlightRequest {
        volumes: vec![volume(outline, altitude, minutes)],
        route: None,
        priority,
        limits: None,
        best_effort: false,
        authorisation: None,
    }
}

/// A Volume4D of F3548 and F3411-22a between the altitudes, its times minutes from now in whole seconds (the
/// map's page reads times to the millisecond, and its time slider starts at the earliest start it read).
fn volume(outline: Outline, altitude: (f64, f64), minutes: (i64, i64)) -> entente_wire::Volume4D {
    let time = |m: i64| (SystemClock.now() + chrono::Duration::minutes(m)).trunc_subsecs(0);
    volume_out(&Volume {
        outline,
        altitude: Interval { lo: Some(altitude.0), hi: Some(altitude.1) },
        time: Interval { lo: Some(time(minutes.0)), hi: Some(time(minutes.1)) },
    })
}

/// A square of `side_m` centred on (lat, lng).
fn square(lat: f64, lng: f64, side_m: f64) -> anyhow::Result<Outline> {
    let half_lat = side_m / 2.0 / 111_195.0;
    let half_lng = half_lat / lat.to_radians().cos();
    let corner = |dlat: f64, dlng: f64| LatLng { lat: lat + dlat, lng: lng + dlng };
    let vertices = vec![
        corner(-half_lat, -half_lng),
        corner(-half_lat, half_lng),
        corner(half_lat, half_lng),
        corner(half_lat, -half_lng),
    ];
    Ok(Outline::Polygon(Polygon::new(vertices)?))
}

fn circle(lat: f64, lng: f64, radius_m: f64) -> anyhow::Result<Outline> {
    Ok(Outline::Circle(Circle::new(LatLng { lat, lng }, radius_m)?))
}
