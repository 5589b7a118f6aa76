//! The USS's own callers over real sockets: the operator, authority and flight planning APIs refuse a caller's
//! mistakes with a 4xx naming the field and the rule before any call to the DSS, a DSS's refusal of the caller's
//! input reaches the caller as a 4xx (502 stays for a failing DSS), and times come with any RFC 3339 offset.

use axum::http::StatusCode;
use axum::routing::post;
use entente_wire::authority::ConstraintRequest;
use entente_wire::scd::{QueryConstraintReferencesResponse, QueryOperationalIntentReferenceResponse};
use entente_wire::{ErrorResponse, Time};
use serde_json::{Value, json};

use crate::harness::*;
use crate::uss::{FP_PLAN, Uss, flight, flight_of, flight_request, route_flight, upsert};

const FLIGHTS: &str = "/operator/v1/flights";
const ZONES: &str = "/authority/v1/constraints";

/// How many calls the USS made to the DSS's intent and constraint endpoints (queries and writes).
fn dss_calls(uss: &Uss) -> anyhow::Result<usize> {
    let mut n = 0;
    for (method, part) in [
        ("POST", "/dss/v1/operational_intent_references"),
        ("PUT", "/dss/v1/operational_intent_references"),
        ("POST", "/dss/v1/constraint_references"),
        ("PUT", "/dss/v1/constraint_references"),
    ] {
        n += uss.outgoing(method, part)?;
    }
    Ok(n)
}

#[tokio::test]
async fn operator_mistakes_are_400_naming_the_field_before_any_dss_call() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let uss = Uss::start(&dss, "uss1").await?;
    let op = uss.operator();

    let upside_down = op.post(FLIGHTS, &flight(LAT, (200.0, 100.0), (10, 70), 0)).await.want(400)?;
    insta::assert_json_snapshot!("operator_altitude_order", upside_down);
    assert_error(
        op.post(FLIGHTS, &flight(LAT, (0.0, 100.0), (70, 10), 0)).await?,
        400,
        "volumes[0]: time_start must not be after time_end",
    )?;
    assert_error(
        op.post(FLIGHTS, &flight(LAT, (0.0, 100.0), (10, 10), 0)).await?,
        400,
        "volumes[0]: time_start must be before time_end",
    )?;
    let continent = wire(flight_of(vec![volume4(&circle(LAT, LNG, 1_000_000.0), 0.0, 100.0, 10, 70)], 0));
    assert_error(op.post(FLIGHTS, &continent).await?, 400, "volumes[0].volume: area of")?;
    let mut open_ended = flight_request(LAT, (0.0, 100.0), (10, 70), 0);
    open_ended.volumes[0].time_end = None;
    let open_ended = wire(open_ended);
    assert_error(op.post(FLIGHTS, &open_ended).await?, 400, "volumes[0].time_end is required")?;
    // A route whose buffer makes it larger than the DSS takes.
    let wide = wire(route_flight(&[(LAT, LNG), (LAT + 0.1, LNG)], 60_000.0, 100.0, 70));
    assert_error(op.post(FLIGHTS, &wide).await?, 400, "route.segments[0].volume: area of")?;
    assert_eq!(dss_calls(&uss)?, 0, "a caller's mistake must not reach the DSS");
    // The same flight the right way up plans.
    op.post(FLIGHTS, &flight(LAT, (100.0, 200.0), (10, 70), 0)).await.want(201)?;
    Ok(())
}

#[tokio::test]
async fn authority_mistakes_and_unknown_constraint_types_are_400() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let uss = Uss::start(&dss, "authority").await?;
    let city = client_at(&uss.base, "city", &["entente.authority"]);
    let zone = |volume: Value, kind: &str| {
        wire(ConstraintRequest { volumes: vec![from_wire(&volume)], kind: Some(kind.to_owned()) })
    };
    let cylinder = |alt: (f64, f64), minutes: (i64, i64)| {
        volume4d(&circle(LAT, LNG, 1000.0), alt.0, alt.1, minutes.0, minutes.1)
    };

    assert_error(
        city.post(ZONES, &zone(cylinder((500.0, 0.0), (10, 40)), "restricted")).await?,
        400,
        "volumes[0].volume: altitude_lower (500 m) must not be above altitude_upper",
    )?;
    assert_error(
        city.post(ZONES, &zone(cylinder((0.0, 500.0), (40, 10)), "restricted")).await?,
        400,
        "volumes[0]: time_start must not be after time_end",
    )?;
    assert_error(
        city.post(ZONES, &zone(cylinder((0.0, 500.0), (40, 40)), "restricted")).await?,
        400,
        "volumes[0]: time_start must be before time_end",
    )?;
    let continent = volume4d(&circle(LAT, LNG, 1_000_000.0), 0.0, 500.0, 10, 40);
    assert_error(city.post(ZONES, &zone(continent, "restricted")).await?, 400, "volumes[0].volume: area of")?;
    let banana = city.post(ZONES, &zone(cylinder((0.0, 500.0), (10, 40)), "banana")).await.want(400)?;
    insta::assert_json_snapshot!("constraint_type", banana);
    assert_eq!(dss_calls(&uss)?, 0, "a caller's mistake must not reach the DSS");

    // A kind defined elsewhere is named by a reverse domain name, as F3548's example.
    let elsewhere = zone(cylinder((0.0, 500.0), (10, 40)), "com.example.non_utm_aircraft_operations");
    let created = city.post(ZONES, &elsewhere).await.want(201)?;
    assert_eq!(created["details"]["type"], "com.example.non_utm_aircraft_operations");
    Ok(())
}

#[tokio::test]
async fn flight_planning_rejects_areas_the_dss_would_refuse() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let uss = Uss::start(&dss, "uss1").await?;
    let planner = client_at(&uss.base, "uss_qualifier", &[FP_PLAN]);
    let path = format!("/flight_planning/v1/flight_plans/{}", id());
    for (area, rule) in [
        (volume4d(&circle(LAT, LNG, 300.0), 120.0, 0.0, 10, 40), "altitude_lower (120 m) must not be above"),
        (volume4d(&circle(LAT, LNG, 300.0), 0.0, 120.0, 40, 10), "time_start must not be after time_end"),
        (volume4d(&circle(LAT, LNG, 1_000_000.0), 0.0, 120.0, 10, 40), "area of"),
    ] {
        let answer = planner.put(&path, &upsert("Planned", area, 0)).await.want(200)?;
        assert_eq!(
            (&answer["planning_result"], &answer["flight_plan_status"]),
            (&json!("Rejected"), &json!("NotPlanned")),
            "{answer}"
        );
        let notes = str_of(&answer["notes"])?;
        assert!(notes.contains("flight_plan.basic_information.area[0]") && notes.contains(rule), "{notes}");
    }
    assert_eq!(dss_calls(&uss)?, 0, "a caller's mistake must not reach the DSS");
    Ok(())
}

/// A stand-in DSS stricter than the USS's limits: its queries find nothing, or are refused with `query`; every
/// other call (the writes) is refused with `write`.
async fn strict_dss(
    query: Option<(StatusCode, &'static str)>,
    write: (StatusCode, &'static str),
) -> anyhow::Result<String> {
    let refusal = |(status, message): (StatusCode, &'static str)| {
        (status, axum::Json(wire(ErrorResponse { message: message.to_owned(), request_id: None })))
    };
    let intents = move || async move {
        match query {
            Some(refused) => refusal(refused),
            None => {
                let none =
                    QueryOperationalIntentReferenceResponse { operational_intent_references: Vec::new() };
                (StatusCode::OK, axum::Json(wire(none)))
            }
        }
    };
    let app = axum::Router::new()
        .route("/dss/v1/operational_intent_references/query", post(intents))
        .route(
            "/dss/v1/constraint_references/query",
            post(|| async {
                axum::Json(QueryConstraintReferencesResponse { constraint_references: Vec::new() })
            }),
        )
        .fallback(move || async move { refusal(write) });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://localhost:{}", listener.local_addr()?.port());
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(url)
}

/// What the USS let through but the DSS refuses reaches the caller as the DSS's 400 or 413 with its reason, not
/// as a 502; a DSS failing otherwise is still a 502.
#[tokio::test]
async fn a_dss_refusing_the_callers_input_is_a_4xx_naming_its_reason() -> anyhow::Result<()> {
    let reason = "extents[0].volume: area of 0.3 km² exceeds the limit of 0.1 km²";
    let uss = Uss::start_against(&strict_dss(None, (StatusCode::BAD_REQUEST, reason)).await?, "uss1").await?;
    assert_error(uss.operator().post(FLIGHTS, &flight(LAT, (0.0, 100.0), (10, 70), 0)).await?, 400, reason)?;
    let city = client_at(&uss.base, "city", &["entente.authority"]);
    let zone = wire(ConstraintRequest {
        volumes: vec![volume4(&circle(LAT, LNG, 300.0), 0.0, 100.0, 10, 70)],
        kind: None,
    });
    assert_error(city.post(ZONES, &zone).await?, 400, reason)?;

    let too_large = "area_of_interest.volume: area of 0.3 km² exceeds the limit of 0.1 km²";
    let dss = strict_dss(Some((StatusCode::PAYLOAD_TOO_LARGE, too_large)), (StatusCode::BAD_REQUEST, reason))
        .await?;
    let uss = Uss::start_against(&dss, "uss2").await?;
    assert_error(
        uss.operator().post(FLIGHTS, &flight(LAT, (0.0, 100.0), (10, 70), 0)).await?,
        413,
        too_large,
    )?;

    let broken = strict_dss(None, (StatusCode::INTERNAL_SERVER_ERROR, "disk full")).await?;
    let uss = Uss::start_against(&broken, "uss3").await?;
    assert_error(
        uss.operator().post(FLIGHTS, &flight(LAT, (0.0, 100.0), (10, 70), 0)).await?,
        502,
        "disk full",
    )?;
    Ok(())
}

#[tokio::test]
async fn operator_times_with_any_offset_are_taken_and_answered_in_utc() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let uss = Uss::start(&dss, "uss1").await?;
    let plus_two = chrono::FixedOffset::east_opt(2 * 3600).ok_or_else(|| anyhow::anyhow!("an offset"))?;
    let written = |value: String| Time { value, format: "RFC3339".to_owned() };
    let mut body = flight_request(LAT, (0.0, 100.0), (10, 70), 0);
    // As Python's isoformat() writes them.
    body.volumes[0].time_start = Some(written(at(10).format("%Y-%m-%dT%H:%M:%S%.6f+00:00").to_string()));
    body.volumes[0].time_end = Some(written(at(70).with_timezone(&plus_two).to_rfc3339()));
    let body = wire(body);
    let planned = uss.operator().post(FLIGHTS, &body).await.want(201)?;
    assert_eq!(parse_time(&planned["volumes"][0]["time_start"])?, at(10));
    assert_eq!(parse_time(&planned["volumes"][0]["time_end"])?, at(70));
    Ok(())
}
