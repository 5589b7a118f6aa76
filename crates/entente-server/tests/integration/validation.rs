//! Geometry and input validation: 400 naming the field, 413 for oversized areas and bodies
//! (checklist 5-11).

use anyhow::Context;
use entente_wire::rid::v22a::PutParameters;
use entente_wire::scd::{PutOperationalIntentReferenceParameters, QueryRequest};
use entente_wire::{Altitude, Time, Volume3D, Volume4D};
use reqwest::Method;
use serde_json::{Value, json};

use crate::harness::*;

/// `extent` changed by `change`: within what the shape can say, as the rule a test checks needs.
fn changed(extent: Value, change: impl FnOnce(&mut Volume4D)) -> Value {
    let mut extent = from_wire(&extent);
    change(&mut extent);
    wire(extent)
}

/// PUTs an intent with one extent and expects 400 naming `field`; nothing is created.
async fn rejects(c: &Client, extent: Value, field: &str) -> anyhow::Result<()> {
    let oid = id();
    let resp = c.put(&oir_path(&oid), &oir(c, &[extent], "Accepted", &[])).await?;
    assert_error(resp, 400, field)?;
    c.get(&oir_path(&oid)).await?.want(404)?;
    Ok(())
}

/// Checklist 5: exactly one outline.
#[tokio::test]
async fn exactly_one_outline() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let a = dss.client("uss-a", &[SC]);
    let both = changed(here(), |v| {
        v.volume.outline_circle = from_wire::<Volume3D>(&circle(LAT, LNG, 200.0)).outline_circle;
    });
    rejects(&a, both, "extents[0].volume").await?;
    let neither = changed(here(), |v| v.volume.outline_polygon = None);
    rejects(&a, neither.clone(), "extents[0].volume").await?;
    // Explicit nulls mean absent; a shape leaves out what it lacks, so the null is set by hand.
    let mut null_circle = here();
    null_circle["volume"]["outline_circle"] = Value::Null;
    a.create_oir(&id(), &oir(&a, &[null_circle], "Accepted", &[])).await?;
    // The same rule in a query area.
    assert_error(a.post(OIR_QUERY, &query(&neither)).await?, 400, "area_of_interest")?;
    // A circle alone is fine; a circle without radius or with radius 0 is not.
    a.create_oir(
        &id(),
        &oir(&a, &[volume4d(&circle(LAT + 0.1, LNG, 300.0), 0.0, 120.0, 10, 70)], "Accepted", &[]),
    )
    .await?;
    rejects(
        &a,
        volume4d(&circle(LAT - 0.1, LNG, 0.0), 0.0, 120.0, 10, 70),
        "extents[0].volume.outline_circle",
    )
    .await?;
    let radius = |change: fn(&mut Option<entente_wire::Radius>)| {
        changed(volume4d(&circle(LAT - 0.1, LNG, 100.0), 0.0, 120.0, 10, 70), |v| {
            if let Some(circle) = &mut v.volume.outline_circle {
                change(&mut circle.radius);
            }
        })
    };
    let no_radius = radius(|r| *r = None);
    rejects(&a, no_radius, "radius").await?;
    let feet = radius(|r| {
        if let Some(r) = r {
            r.units = "FT".to_owned();
        }
    });
    rejects(&a, feet, "radius.units").await?;
    Ok(())
}

/// Checklist 6: fewer than 3 vertices, crossing edges, coordinates out of range.
#[tokio::test]
async fn polygon_rules() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let a = dss.client("uss-a", &[SC]);
    let d = 0.005;
    let field = "extents[0].volume.outline_polygon";
    let two = polygon(&[(LAT, LNG), (LAT + d, LNG)]);
    rejects(&a, volume4d(&two, 0.0, 120.0, 10, 70), field).await?;
    let none = polygon(&[]);
    rejects(&a, volume4d(&none, 0.0, 120.0, 10, 70), field).await?;
    let bow_tie = polygon(&[(LAT, LNG), (LAT + d, LNG + d), (LAT, LNG + d), (LAT + d, LNG)]);
    rejects(&a, volume4d(&bow_tie, 0.0, 120.0, 10, 70), field).await?;
    let lat_91 = polygon(&[(91.0, LNG), (89.0, LNG + d), (89.0, LNG - d)]);
    rejects(&a, volume4d(&lat_91, 0.0, 120.0, 10, 70), field).await?;
    let lng_181 = polygon(&[(LAT, 181.0), (LAT + d, 179.5), (LAT - d, 179.5)]);
    rejects(&a, volume4d(&lng_181, 0.0, 120.0, 10, 70), field).await?;
    let closed = polygon(&[(LAT, LNG), (LAT, LNG + d), (LAT + d, LNG + d), (LAT, LNG)]);
    rejects(&a, volume4d(&closed, 0.0, 120.0, 10, 70), field).await?;
    // More vertices than the limit (10 000).
    let many: Vec<(f64, f64)> = (0..10_001)
        .map(|i| {
            let angle = f64::from(i) * std::f64::consts::TAU / 10_001.0;
            (LAT + 0.01 * angle.sin(), LNG + 0.01 * angle.cos())
        })
        .collect();
    rejects(&a, volume4d(&polygon(&many), 0.0, 120.0, 10, 70), "vertices").await?;
    // Either winding of a valid square is accepted.
    let cw = polygon(&[(LAT, LNG), (LAT + d, LNG), (LAT + d, LNG + d), (LAT, LNG + d)]);
    let ccw = polygon(&[(LAT, LNG), (LAT, LNG + d), (LAT + d, LNG + d), (LAT + d, LNG)]);
    a.create_oir(&id(), &oir(&a, &[volume4d(&cw, 0.0, 120.0, 10, 20)], "Accepted", &[])).await?;
    a.create_oir(&id(), &oir(&a, &[volume4d(&ccw, 0.0, 120.0, 30, 40)], "Accepted", &[])).await?;
    Ok(())
}

/// Checklist 7: W84 metres only; lower not above upper.
#[tokio::test]
async fn altitude_rules() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let a = dss.client("uss-a", &[SC]);
    let egm = changed(here(), |v| {
        v.volume.altitude_lower = Some(Altitude { reference: "EGM96".to_owned(), ..altitude_m(0.0) })
    });
    rejects(&a, egm, "extents[0].volume.altitude_lower.reference").await?;
    let feet = changed(here(), |v| {
        v.volume.altitude_upper = Some(Altitude { units: "FT".to_owned(), ..altitude_m(120.0) })
    });
    rejects(&a, feet, "extents[0].volume.altitude_upper.units").await?;
    rejects(&a, volume4d(&square(LAT, LNG, 1000.0), 200.0, 100.0, 10, 70), "altitude_lower").await?;
    rejects(
        &a,
        volume4d(&square(LAT, LNG, 1000.0), 0.0, 200_000.0, 10, 70),
        "extents[0].volume.altitude_upper",
    )
    .await?;
    Ok(())
}

/// Checklist 8: start not after end; an intent's end not in the past (its start may be).
#[tokio::test]
async fn time_rules() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let a = dss.client("uss-a", &[SC]);
    rejects(&a, volume4d(&square(LAT, LNG, 1000.0), 0.0, 120.0, 70, 10), "time_start").await?;
    rejects(&a, volume4d(&square(LAT, LNG, 1000.0), 0.0, 120.0, -120, -60), "extents").await?;
    // A start in the past is fine while the end is ahead.
    let started = volume4d(&square(LAT, LNG, 1000.0), 0.0, 120.0, -60, 70);
    a.create_oir(&id(), &oir(&a, &[started], "Accepted", &[])).await?;
    // Not RFC 3339, wrong format tag (any offset is fine: see `times_with_any_offset_are_taken_in_utc`).
    let ending = |value: &str, format: &str| {
        changed(volume4d(&square(LAT + 0.1, LNG, 1000.0), 0.0, 120.0, 10, 70), |v| {
            v.time_end = Some(Time { value: value.to_owned(), format: format.to_owned() });
        })
    };
    let garbage = ending("tomorrow at noon", "RFC3339");
    rejects(&a, garbage, "extents[0].time_end").await?;
    let format = ending(&time(at(70)).value, "ISO8601");
    rejects(&a, format, "extents[0].time_end").await?;
    // Instants the store cannot hold exactly are refused rather than clamped.
    let far = ending("3000-01-01T00:00:00Z", "RFC3339");
    rejects(&a, far, "extents[0].time_end").await?;
    Ok(())
}

/// RFC 3339 allows any offset and InterUSS's DSS takes it (Python clients write `+00:00`): every time read in
/// F3548 and F3411-22a bodies and query strings is taken with its offset, converted to UTC and answered in `Z`.
#[tokio::test]
async fn times_with_any_offset_are_taken_in_utc() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let a = dss.client("uss-a", &[SC]);
    let offset = |t: chrono::DateTime<chrono::Utc>, hours: i32| -> anyhow::Result<Time> {
        let zone = chrono::FixedOffset::east_opt(hours * 3600).context("an offset")?;
        let value = t.with_timezone(&zone).format("%Y-%m-%dT%H:%M:%S%.6f%:z").to_string();
        Ok(Time { value, format: "RFC3339".to_owned() })
    };
    let mut extent: Volume4D = from_wire(&here());
    (extent.time_start, extent.time_end) = (Some(offset(at(10), 0)?), Some(offset(at(70), -5)?));
    let extent = wire(extent);
    let oid = id();
    let reference = a.create_oir(&oid, &oir(&a, &[extent], "Accepted", &[])).await?;
    assert_eq!(parse_time(&reference["time_start"])?, at(10), "{reference}");
    assert_eq!(parse_time(&reference["time_end"])?, at(70), "{reference}");
    let mut area: Volume4D = from_wire(&here());
    (area.time_start, area.time_end) = (Some(offset(at(20), 2)?), Some(offset(at(30), 2)?));
    let area = wire(area);
    let found = a.post(OIR_QUERY, &query(&area)).await.want(200)?;
    assert_eq!(ids(&found["operational_intent_references"]), vec![oid]);

    // F3411-22a: an ISA's times in its body and a search's in the query string (`+` sent as %2B).
    let sp = dss.client("sp", &[crate::rid_v22a::SP]);
    let mut extents = volume4_at(&square(LAT, LNG, 1000.0), Some(0.0), Some(120.0), None, None);
    (extents.time_start, extents.time_end) = (Some(offset(at(0), 0)?), Some(offset(at(60), 1)?));
    let isa = wire(PutParameters { extents, uss_base_url: sp.url() });
    let isa_id = id();
    let put = sp.put(&format!("/rid/v2/dss/identification_service_areas/{isa_id}"), &isa).await.want(200)?;
    assert_eq!(parse_time(&put["service_area"]["time_end"])?, at(60), "{put}");
    let earliest = offset(at(30), 0)?.value.replace('+', "%2B");
    let area = crate::rid_v22a::area_string(LAT, LNG, 1000.0);
    let search = format!("/rid/v2/dss/identification_service_areas?area={area}&earliest_time={earliest}");
    let dp = dss.client("dp", &[crate::rid_v22a::DP]);
    let found = dp.get(&search).await.want(200)?;
    assert_eq!(found["service_areas"][0]["id"], json!(isa_id), "{found}");
    // Sent unencoded, the `+` arrives as a space: the 400 says how to send it.
    let unencoded = offset(at(30), 0)?.value;
    let search = format!("/rid/v2/dss/identification_service_areas?area={area}&earliest_time={unencoded}");
    assert_error(dp.get(&search).await?, 400, "%2B")?;
    Ok(())
}

/// Checklist 9: an intent needs start, end, lower and upper altitude.
#[tokio::test]
async fn intent_bounds_are_required() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let a = dss.client("uss-a", &[SC]);
    let s = square(LAT, LNG, 1000.0);
    rejects(&a, volume4d_at(&s, Some(0.0), Some(120.0), None, Some(at(70))), "time_start").await?;
    rejects(&a, volume4d_at(&s, Some(0.0), Some(120.0), Some(at(10)), None), "time_end").await?;
    rejects(&a, volume4d_at(&s, None, Some(120.0), Some(at(10)), Some(at(70))), "altitude_lower").await?;
    rejects(&a, volume4d_at(&s, Some(0.0), None, Some(at(10)), Some(at(70))), "altitude_upper").await?;
    // No extents at all; then required fields left out, which no shape can say, removed by hand.
    let resp = a.put(&oir_path(&id()), &oir(&a, &[], "Accepted", &[])).await?;
    assert_error(resp, 400, "extents")?;
    let mut no_extents = oir(&a, &[], "Accepted", &[]);
    remove(&mut no_extents, "extents");
    assert_error(a.put(&oir_path(&id()), &no_extents).await?, 400, "extents")?;
    let mut no_state = oir(&a, &[here()], "Accepted", &[]);
    remove(&mut no_state, "state");
    assert_error(a.put(&oir_path(&id()), &no_state).await?, 400, "state")?;
    // Ended is no state an intent may be written in: the wire's shape cannot say it, so it is set by hand.
    let mut ended_state = oir(&a, &[here()], "Accepted", &[]);
    ended_state["state"] = json!("Ended");
    assert_error(a.put(&oir_path(&id()), &ended_state).await?, 400, "state")?;
    let mut no_url = oir(&a, &[here()], "Accepted", &[]);
    remove(&mut no_url, "uss_base_url");
    assert_error(a.put(&oir_path(&id()), &no_url).await?, 400, "uss_base_url")?;
    let mut bad_url: PutOperationalIntentReferenceParameters =
        from_wire(&oir(&a, &[here()], "Accepted", &[]));
    bad_url.uss_base_url = "not a url".to_owned();
    let bad_url = wire(bad_url);
    assert_error(a.put(&oir_path(&id()), &bad_url).await?, 400, "uss_base_url")?;
    Ok(())
}

/// Checklist 10: path ids must be UUIDv4.
#[tokio::test]
async fn path_ids_must_be_uuid_v4() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let a = dss.client("uss-a", &[SC]);
    let cm = dss.client("authority", &[CM]);
    let bad_ids = [
        "not-a-uuid",
        "2f8343be-6482-1d1b-a474-16847e01af1e",
        "2f8343be-6482-4d1b-c474-16847e01af1e",
        "2f8343be64824d1ba47416847e01af1e",
    ];
    for bad in bad_ids {
        assert_error(a.get(&oir_path(bad)).await?, 400, "entityid")?;
        assert_error(a.put(&oir_path(bad), &oir(&a, &[here()], "Accepted", &[])).await?, 400, "entityid")?;
        assert_error(a.delete(&oir_path_ovn(bad, "aaaaaaaaaaaaaaaaaaaa")).await?, 400, "entityid")?;
        assert_error(cm.get(&constraint_path(bad)).await?, 400, "entityid")?;
        assert_error(cm.put(&constraint_path(bad), &constraint(&cm, &[here()])).await?, 400, "entityid")?;
        assert_error(a.get(&sub_path(bad)).await?, 400, "subscriptionid")?;
        assert_error(
            a.put(&sub_path(bad), &subscription(&a, &sub_here(), true, false)).await?,
            400,
            "subscriptionid",
        )?;
    }
    let found = a.post(OIR_QUERY, &query(&here())).await?.want(200)?;
    assert_eq!(found["operational_intent_references"], json!([]));
    // A body subscription_id must be a UUIDv4 too.
    let body = oir_with_sub(&a, &[here()], "Accepted", &[], "not-a-uuid");
    assert_error(a.put(&oir_path(&id()), &body).await?, 400, "subscription_id")?;
    Ok(())
}

/// Checklist 11: a query area over 2500 km² is 413; a write over it is 400.
#[tokio::test]
async fn area_limits() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let a = dss.client("uss-a", &[SC, CP]);
    let huge = volume4d(&square(LAT, LNG, 60_000.0), 0.0, 120.0, 10, 70);
    let ok = volume4d(&square(LAT, LNG, 45_000.0), 0.0, 120.0, 10, 70);
    for path in [OIR_QUERY, CONSTRAINT_QUERY, SUB_QUERY] {
        let body = a.post(path, &query(&huge)).await?.want(413)?;
        assert!(message(&body)?.contains("area_of_interest"), "{path}: {body}");
        a.post(path, &query(&ok)).await?.want(200)?;
    }
    rejects(&a, huge.clone(), "extents[0].volume").await?;
    let cm = dss.client("authority", &[CM]);
    assert_error(
        cm.put(&constraint_path(&id()), &constraint(&cm, &[huge])).await?,
        400,
        "extents[0].volume",
    )?;
    let huge_sub = volume4d(&square(LAT, LNG, 60_000.0), 0.0, 120.0, 0, 60);
    assert_error(a.put(&sub_path(&id()), &subscription(&a, &huge_sub, true, false)).await?, 400, "extents")?;
    // A query without an area is 400.
    let nowhere = wire(QueryRequest { area_of_interest: None });
    assert_error(a.post(OIR_QUERY, &nowhere).await?, 400, "area_of_interest")?;
    Ok(())
}

/// Malformed JSON and wrong JSON types are 400; the message names the offending path.
#[tokio::test]
async fn malformed_json() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let a = dss.client("uss-a", &[SC]);
    let path = oir_path(&id());
    let body = a.send_raw(Method::PUT, &path, b"{\"extents\": [".to_vec()).await?.want(400)?;
    assert!(!message(&body)?.is_empty());
    let body = a.send_raw(Method::PUT, &path, Vec::new()).await?.want(400)?;
    message(&body)?;
    // Wrong JSON types, which no shape can say: set by hand in valid bodies.
    let mut wrong_type = oir(&a, &[here()], "Accepted", &[]);
    wrong_type["extents"][0]["volume"]["altitude_lower"]["value"] = json!("high");
    let resp = a.put(&path, &wrong_type).await?;
    assert_error(resp, 400, "extents[0].volume.altitude_lower.value")?;
    let mut not_a_list = oir(&a, &[here()], "Accepted", &[]);
    not_a_list["key"] = json!("one-ovn");
    assert_error(a.put(&path, &not_a_list).await?, 400, "key")?;
    let mut lat_string = oir(&a, &[here()], "Accepted", &[]);
    lat_string["extents"][0]["volume"]["outline_polygon"]["vertices"][2]["lat"] = json!("north");
    assert_error(a.put(&path, &lat_string).await?, 400, "extents[0].volume.outline_polygon.vertices[2].lat")?;
    let body = a.post(SUB_QUERY, &json!([1, 2, 3])).await?.want(400)?;
    message(&body)?;
    a.get(&path).await?.want(404)?;
    Ok(())
}

/// Unknown fields are ignored and optional fields may be null.
#[tokio::test]
async fn unknown_fields_are_ignored_and_nulls_are_absent() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let a = dss.client("uss-a", &[SC]);
    // Fields the shapes lack and nulls they would leave out: set by hand in valid bodies.
    let mut body = oir(&a, &[here()], "Accepted", &[]);
    body["flight_plan_colour"] = json!("blue");
    body["extents"][0]["volume"]["shape_hint"] = json!({"nested": true});
    body["subscription_id"] = Value::Null;
    body["new_subscription"] = Value::Null;
    body["key"] = Value::Null;
    a.create_oir(&id(), &body).await?;
    let mut sub = subscription(&a, &sub_here(), true, false);
    sub["priority"] = json!(7);
    sub["notify_for_constraints"] = Value::Null;
    a.create_sub(&id(), &sub).await?;
    let mut q = query(&here());
    q["page_token"] = json!("x");
    a.post(OIR_QUERY, &q).await?.want(200)?;
    Ok(())
}

/// A body over the limit is 413 with a JSON message, before anything is parsed.
#[tokio::test]
async fn oversized_body_is_413() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let a = dss.client("uss-a", &[SC]);
    let mut body = oir(&a, &[here()], "Accepted", &[]).to_string().into_bytes();
    // Valid JSON padded with whitespace just past the limit.
    body.truncate(body.len() - 1);
    body.extend(std::iter::repeat_n(b' ', BODY_LIMIT));
    body.push(b'}');
    let oid = id();
    let resp = a.send_raw(Method::PUT, &oir_path(&oid), body).await?;
    assert_error(resp, 413, "limit")?;
    a.get(&oir_path(&oid)).await?.want(404)?;
    Ok(())
}

/// Unknown routes and methods answer JSON errors.
#[tokio::test]
async fn unknown_routes_are_json_404() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let a = dss.client("uss-a", &[SC]);
    let body = a.get("/dss/v1/flights").await?.want(404)?;
    message(&body)?;
    let body = a.get("/nothing/here").await?.want(404)?;
    message(&body)?;
    let resp = a.post(&oir_path(&id()), &json!({})).await?;
    assert_eq!(resp.0.as_u16(), 405, "{}", resp.1);
    message(&resp.1)?;
    Ok(())
}

#[tokio::test]
async fn error_response_snapshot() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let a = dss.client("uss-a", &[SC]);
    let body = a.get(&oir_path("2f8343be-6482-4d1b-a474-16847e01af1e")).await?.want(404)?;
    insta::assert_json_snapshot!(body);
    Ok(())
}
