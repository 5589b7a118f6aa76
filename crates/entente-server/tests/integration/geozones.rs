//! Geographical zone data sets imported into an authority's USS over real sockets: a prohibited zone keeps flights
//! out (with an alternative around it), an authorisation-required zone lets them in with its terms, a re-import
//! changes only what changed, and the set survives a restart.

use std::sync::{Arc, Mutex};

use anyhow::Context;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::routing::{delete, put};
use chrono::{DateTime, Utc};
use entente_dss::{Clock, SystemClock};
use entente_wire::ErrorResponse;
use entente_wire::authority::{ZoneConstraintRef, ZoneSetSummary};
use entente_wire::scd::{ChangeConstraintReferenceResponse, ConstraintReference, UssAvailabilityState};
use serde_json::{Value, json};

use crate::harness::*;
use crate::uss::{FP_PLAN, Uss, flight, upsert};

const AUTHORITY: &str = "entente.authority";

pub(crate) fn feature(identifier: &str, kind: &str, geometry: Value, extra: Value) -> Value {
    let mut properties = json!({
        "identifier": identifier,
        "country": "CHE",
        "name": [{"text": format!("Zone {identifier}"), "lang": "en"}],
        "type": kind,
        "variant": "COMMON",
        "reason": ["AIR_TRAFFIC"],
        "message": [{"text": format!("Message of {identifier}"), "lang": "en"}],
        "limitedApplicability": [{}],
        "zoneAuthority": [{"name": [{"text": "Tower", "lang": "en"}], "phone": "+41 21 000 00 00", "purpose": "AUTHORIZATION"}]
    });
    for (k, v) in extra.as_object().into_iter().flatten() {
        properties[k] = v.clone();
    }
    json!({"type": "Feature", "geometry": geometry, "properties": properties})
}

pub(crate) fn disc(lat: f64, radius_m: f64) -> Value {
    json!({
        "type": "Point",
        "coordinates": [LNG, lat],
        "extent": {"subType": "Circle", "radius": radius_m},
        "layer": {"upper": 500, "upperReference": "WGS84", "lower": 0, "lowerReference": "WGS84", "uom": "m"}
    })
}

pub(crate) fn data_set(features: Vec<Value>) -> Value {
    json!({
        "type": "FeatureCollection",
        "name": "Entente test zones",
        "metadata": {"issued": "2026-01-01T00:00:00Z", "provider": [{"text": "Entente tests", "lang": "en"}]},
        "features": features
    })
}

/// 1.2 km north of the prohibited zone's centre: a 300 m flight there overlaps its 1 km disc by 100 m.
pub(crate) const EDGE: f64 = LAT + 0.0108;
/// Where the authorisation-required zone is, 5.5 km south.
pub(crate) const SOUTH: f64 = LAT - 0.05;

#[tokio::test]
async fn imported_zones_keep_flights_out_advise_them_and_update_on_reimport() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let authority_uss = Uss::start(&dss, "authority").await?;
    let uss1 = Uss::start(&dss, "uss1").await?;
    let authority = client_at(&authority_uss.base, "city", &[AUTHORITY]);
    let prohibited = feature("NOFLY", "PROHIBITED", disc(LAT, 1000.0), json!({}));
    let ask_first = feature(
        "ASK",
        "REQ_AUTHORIZATION",
        disc(SOUTH, 800.0),
        json!({"zoneAuthority": [{"name": [{"text": "Hospital", "lang": "en"}], "email": "ops@example.org", "purpose": "AUTHORIZATION"}]}),
    );
    let set = data_set(vec![prohibited.clone(), ask_first.clone()]);

    assert_error(uss1.operator().put("/authority/v1/geozones/test", &set).await?, 403, AUTHORITY)?;
    let imported = authority.put("/authority/v1/geozones/test", &set).await.want(200)?;
    assert_eq!(imported["format"], "ED-318");
    assert_eq!((imported["zones"].as_u64(), imported["prohibited"].as_u64()), (Some(2), Some(1)));
    assert_eq!(imported["created"].as_array().map(Vec::len), Some(1), "{imported}");
    assert_eq!(imported["created"][0]["zone"], "NOFLY");
    let constraint_id = str_of(&imported["created"][0]["constraint_id"])?.to_owned();

    // Through the prohibited zone: refused, with an alternative that steps around it.
    let refused = uss1
        .operator()
        .post("/operator/v1/flights", &flight(EDGE, (0.0, 100.0), (10, 20), 0))
        .await
        .want(409)?;
    assert_eq!(refused["conflicting_intents"], json!([constraint_id]), "{refused}");
    let around = refused["alternatives"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|a| a["lateral_m"].as_f64().is_some_and(|m| m > 0.0))
        .ok_or_else(|| anyhow::anyhow!("no alternative around the zone: {refused}"))?;
    let planned = uss1.operator().post("/operator/v1/flights", &around["request"]).await.want(201)?;
    assert_eq!(planned["advisories"], json!([]));
    // The zone's details were asked of the authority's USS once: at the same version, uss1 knows them.
    let again = uss1
        .operator()
        .post("/operator/v1/flights", &flight(EDGE, (0.0, 100.0), (30, 40), 0))
        .await
        .want(409)?;
    assert_eq!(again["conflicting_intents"], json!([constraint_id]));
    assert_eq!(uss1.outgoing("GET", "/uss/v1/constraints/")?, 1);

    // In the authorisation-required zone: accepted, with the zone's terms.
    let advised = uss1
        .operator()
        .post("/operator/v1/flights", &flight(SOUTH, (0.0, 100.0), (10, 20), 0))
        .await
        .want(201)?;
    // The advice is the authority's USS's: uss1 imported nothing.
    assert_eq!(advised["advisories"], json!([]));
    let advised = authority_uss
        .operator()
        .post("/operator/v1/flights", &flight(SOUTH, (0.0, 100.0), (30, 40), 0))
        .await
        .want(201)?;
    let advice = &advised["advisories"][0];
    assert_eq!((advice["set"].as_str(), advice["zone"].as_str()), (Some("test"), Some("ASK")), "{advised}");
    assert_eq!(advice["restriction"], "REQ_AUTHORISATION");
    assert_eq!(advice["message"], json!(["Message of ASK"]));
    assert_eq!(advice["contacts"][0]["email"], "ops@example.org");
    assert_eq!(advice["ground_unknown"], false);

    // The flight planning interface says whether advisories came with a plan.
    let planner = client_at(&authority_uss.base, "uss_qualifier", &[FP_PLAN]);
    for (lat, minutes, advised) in [
        (SOUTH, (50, 60), "AtLeastOneAdvisoryOrCondition"),
        (LAT - 0.1, (50, 60), "NoAdvisoriesOrConditions"),
    ] {
        let area = volume4d(&circle(lat, LNG, 300.0), 0.0, 100.0, minutes.0, minutes.1);
        let plan = planner
            .put(&format!("/flight_planning/v1/flight_plans/{}", id()), &upsert("Planned", area, 0))
            .await
            .want(200)?;
        assert_eq!(
            (plan["planning_result"].as_str(), plan["includes_advisories"].as_str()),
            (Some("Completed"), Some(advised)),
            "{plan}"
        );
    }

    // Operators see the zones in force with their terms, for their maps.
    let shown = authority_uss.operator().get("/operator/v1/geozones").await.want(200)?;
    let kinds: Vec<_> = shown["zones"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|z| (z["zone"].clone(), z["restriction"].clone()))
        .collect();
    assert_eq!(
        kinds,
        [(json!("NOFLY"), json!("PROHIBITED")), (json!("ASK"), json!("REQ_AUTHORISATION"))],
        "{shown}"
    );
    assert_eq!(shown["zones"][0]["volumes"][0]["volume"]["outline_circle"]["radius"]["value"], json!(1000.0));
    assert_eq!(shown["zones"][1]["contacts"][0]["email"], "ops@example.org");
    assert_error(
        authority_uss
            .operator()
            .get("/operator/v1/geozones?time_start=2026-01-02T00:00:00Z&time_end=2026-01-01T00:00:00Z")
            .await?,
        400,
        "time_end",
    )?;
    assert_error(
        authority_uss
            .operator()
            .get("/operator/v1/geozones?time_start=2026-01-01T00:00:00Z&time_end=2026-03-01T00:00:00Z")
            .await?,
        400,
        "7 days",
    )?;
    assert_error(authority.get("/operator/v1/geozones").await?, 403, "entente.operator")?;

    // Another USS keeps the set only to advise its operators: it publishes nothing of its own.
    let city_at_uss1 = client_at(&uss1.base, "city", &[AUTHORITY]);
    let kept = city_at_uss1.put("/authority/v1/geozones/test?publish=false", &set).await.want(200)?;
    assert_eq!(
        (kept["publish"].as_bool(), kept["created"].as_array().map(Vec::len)),
        (Some(false), Some(0)),
        "{kept}"
    );
    assert_eq!(city_at_uss1.get("/authority/v1/constraints").await.want(200)?["constraints"], json!([]));
    let advised = uss1
        .operator()
        .post("/operator/v1/flights", &flight(SOUTH, (0.0, 100.0), (75, 85), 0))
        .await
        .want(201)?;
    assert_eq!(advised["advisories"][0]["zone"], "ASK", "{advised}");
    assert_error(city_at_uss1.put("/authority/v1/geozones/test?publish=maybe", &set).await?, 400, "publish")?;

    // The same set again writes nothing.
    let again = authority.put("/authority/v1/geozones/test", &set).await.want(200)?;
    assert_eq!(
        (again["created"].as_array().map(Vec::len), again["unchanged"].as_array().map(Vec::len)),
        (Some(0), Some(1))
    );
    assert_eq!(again["updated"], json!([]));

    // A set with a mistake is refused naming the feature, and changes nothing.
    // The data set is an authority's format, JSON here throughout.
    let mut broken = set.clone();
    broken["features"][1]["properties"]["type"] = json!("BANANA");
    broken["features"][0]["geometry"]["extent"]["radius"] = json!(3000);
    let (status, body) = authority.put("/authority/v1/geozones/test", &broken).await?;
    assert_eq!(status.as_u16(), 400, "{body}");
    assert!(message(&body)?.contains("feature 1") && message(&body)?.contains("type"), "{body}");
    let listed = authority.get("/authority/v1/constraints").await.want(200)?;
    assert_eq!(listed["constraints"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        listed["constraints"][0]["details"]["volumes"][0]["volume"]["outline_circle"]["radius"]["value"],
        json!(1000.0)
    );

    // The set survives a restart.
    let authority_uss = authority_uss.restart(&dss, "authority").await?;
    let authority = client_at(&authority_uss.base, "city", &[AUTHORITY]);
    let sets = authority.get("/authority/v1/geozones").await.want(200)?;
    assert_eq!(
        sets["sets"],
        wire([ZoneSetSummary {
            set: "test".to_owned(),
            publish: true,
            zones: 2,
            prohibited: 1,
            advisories: 1
        }])
    );
    let exported = authority.get("/authority/v1/geozones/test").await.want(200)?;
    assert_eq!(exported["type"], "FeatureCollection");
    assert_eq!(exported["features"].as_array().map(Vec::len), Some(2));
    // What it published was reloaded as it was: the same set again writes nothing.
    let again = authority.put("/authority/v1/geozones/test", &set).await.want(200)?;
    assert_eq!(
        (again["unchanged"][0]["constraint_id"].as_str(), again["updated"].clone()),
        (Some(&*constraint_id), json!([])),
        "{again}"
    );

    // Re-imported with the prohibited zone moved to the south: the old one withdrawn, the flight let in.
    let moved = feature("NOFLY2", "PROHIBITED", disc(SOUTH + 0.03, 500.0), json!({}));
    let reimported =
        authority.put("/authority/v1/geozones/test", &data_set(vec![ask_first, moved])).await.want(200)?;
    assert_eq!(
        reimported["withdrawn"],
        wire([ZoneConstraintRef { zone: "NOFLY".to_owned(), constraint_id: constraint_id.clone() }]),
        "{reimported}"
    );
    assert_eq!(reimported["created"][0]["zone"], "NOFLY2");
    // Later than the flight planned around the zone, which it would otherwise meet.
    uss1.operator().post("/operator/v1/flights", &flight(EDGE, (0.0, 100.0), (50, 60), 0)).await.want(201)?;

    // Withdrawn, the set leaves nothing behind.
    authority.delete("/authority/v1/geozones/test").await.want(200)?;
    assert_eq!(authority.get("/authority/v1/constraints").await.want(200)?["constraints"], json!([]));
    assert_error(authority.get("/authority/v1/geozones/test").await?, 404, "test")?;
    assert_error(authority.put("/authority/v1/geozones/a%20b", &set).await?, 400, "set")?;
    Ok(())
}

/// The stand-in DSS's answer to a write of constraint `id`, with its OVN when the manager is to see it.
fn written(id: String, ovn: Option<&str>) -> ChangeConstraintReferenceResponse {
    let constraint_reference = ConstraintReference {
        id,
        manager: "authority".to_owned(),
        uss_availability: UssAvailabilityState::Normal,
        version: 1,
        ovn: ovn.map(str::to_owned),
        time_start: time(at(0)),
        time_end: time(at(60)),
        uss_base_url: "http://localhost".to_owned(),
    };
    ChangeConstraintReferenceResponse { subscribers: Vec::new(), constraint_reference }
}

/// A DSS stand-in that accepts the first constraint written and fails every later write, recording the calls.
async fn failing_dss(calls: Arc<Mutex<Vec<String>>>) -> anyhow::Result<String> {
    let write = {
        let calls = calls.clone();
        move |Path(id): Path<String>| async move {
            let mut calls = calls.lock().unwrap();
            calls.push(format!("PUT {id}"));
            if calls.iter().filter(|c| c.starts_with("PUT")).count() > 1 {
                let down = ErrorResponse { message: "down".to_owned(), request_id: None };
                return (StatusCode::INTERNAL_SERVER_ERROR, axum::Json(wire(down)));
            }
            (StatusCode::CREATED, axum::Json(wire(written(id, Some("ovn-1")))))
        }
    };
    let remove = move |Path((id, ovn)): Path<(String, String)>| async move {
        calls.lock().unwrap().push(format!("DELETE {id} {ovn}"));
        axum::Json(written(id, None))
    };
    let app = axum::Router::new()
        .route("/dss/v1/constraint_references/{id}", put(write))
        .route("/dss/v1/constraint_references/{id}/{ovn}", delete(remove));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://localhost:{}", listener.local_addr()?.port());
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(url)
}

/// An import the DSS fails half way is undone: the constraint already written is deleted, the set is not kept,
/// and the authority gets the failure; an error answer means nothing changed.
#[tokio::test]
async fn an_import_the_dss_fails_half_way_leaves_nothing_behind() -> anyhow::Result<()> {
    let calls = Arc::new(Mutex::new(Vec::new()));
    let uss = Uss::start_against(&failing_dss(calls.clone()).await?, "authority").await?;
    let authority = client_at(&uss.base, "city", &[AUTHORITY]);
    let set = data_set(vec![
        feature("ONE", "PROHIBITED", disc(LAT, 500.0), json!({})),
        feature("TWO", "PROHIBITED", disc(SOUTH, 500.0), json!({})),
    ]);
    let (status, body) = authority.put("/authority/v1/geozones/test", &set).await?;
    assert_eq!(status.as_u16(), 502, "{body}");
    let calls = calls.lock().unwrap().clone();
    assert_eq!(calls.len(), 3, "{calls:?}");
    let first = calls[0].strip_prefix("PUT ").unwrap_or_default();
    assert_eq!(calls[2], format!("DELETE {first} ovn-1"), "{calls:?}");
    assert_eq!(authority.get("/authority/v1/constraints").await.want(200)?["constraints"], json!([]));
    assert_eq!(authority.get("/authority/v1/geozones").await.want(200)?["sets"], json!([]));
    Ok(())
}

/// This machine's clock a day ahead: a USS started with it lives tomorrow.
#[derive(Debug)]
struct Tomorrow;

impl Clock for Tomorrow {
    fn now(&self) -> DateTime<Utc> {
        SystemClock.now() + chrono::Duration::days(1)
    }
}

/// The constraints of a published set follow the days: a USS that finds its horizon moved on (here, restarted a
/// day later) publishes them again from the new day, as its background task does while it runs.
#[tokio::test]
async fn published_zones_are_published_again_as_the_days_pass() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let uss = Uss::start(&dss, "authority").await?;
    let city = |u: &Uss| client_at(&u.base, "city", &[AUTHORITY]);
    let set = data_set(vec![feature("NOFLY", "PROHIBITED", disc(LAT, 500.0), json!({}))]);
    let imported = city(&uss).put("/authority/v1/geozones/test", &set).await.want(200)?;
    let today = SystemClock.now().date_naive().and_hms_opt(0, 0, 0).context("midnight")?.and_utc();
    let start = |listed: &Value| parse_time(&listed["constraints"][0]["details"]["volumes"][0]["time_start"]);
    assert_eq!(start(&city(&uss).get("/authority/v1/constraints").await.want(200)?)?, today);

    let uss = uss.restart_configured(&dss, "authority", |c| c.clock = Arc::new(Tomorrow)).await?;
    let tomorrow = today + chrono::Duration::days(1);
    let mut listed = Value::Null;
    for _ in 0..100 {
        listed = city(&uss).get("/authority/v1/constraints").await.want(200)?;
        if start(&listed)? == tomorrow {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(start(&listed)?, tomorrow, "{listed}");
    assert_eq!(listed["constraints"][0]["reference"]["id"], imported["created"][0]["constraint_id"]);
    assert_eq!(listed["constraints"][0]["reference"]["version"], 2, "{listed}");
    Ok(())
}
