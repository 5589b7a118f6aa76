//! Operating the server: health, metrics, the OpenAPI document, persistence across restarts, and
//! the same router driven in-process without a socket.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use entente_wire::scd::{OperationalIntentReference, UssAvailabilityState};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::harness::*;

#[tokio::test]
async fn healthy() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let (status, _) = dss.anonymous().get_text("/healthy").await?;
    assert_eq!(status, StatusCode::OK);
    Ok(())
}

/// After some requests, /metrics counts them per route template and has a latency histogram.
#[tokio::test]
async fn metrics_count_requests_by_route() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let a = dss.client("uss-a", &[SC]);
    let oid = id();
    a.create_oir(&oid, &oir(&a, &[here()], "Accepted", &[])).await?;
    a.get_oir(&oid).await?;
    a.get(&oir_path(&id())).await?.want(404)?;
    let (status, text) = dss.anonymous().get_text("/metrics").await?;
    assert_eq!(status, StatusCode::OK);
    let route = "route=\"/dss/v1/operational_intent_references/{entityid}\"";
    let counted = |status: &str| {
        text.lines().any(|l| {
            l.starts_with("entente_http_requests_total{")
                && l.contains(route)
                && l.contains(&format!("status=\"{status}\""))
        })
    };
    assert!(counted("201") && counted("200") && counted("404"), "{text}");
    // Route templates, not raw paths: the id never appears.
    assert!(!text.contains(&oid), "{text}");
    assert!(text.contains("# TYPE entente_http_request_duration_seconds histogram"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("entente_http_request_duration_seconds_bucket{") && l.contains(route)),
        "{text}"
    );
    Ok(())
}

#[tokio::test]
async fn openapi_document_lists_the_dss_paths() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let body = dss.anonymous().get("/openapi.json").await?.want(200)?;
    let paths = body["paths"].as_object().cloned().unwrap_or_default();
    for p in [
        "/dss/v1/operational_intent_references/{entityid}",
        "/dss/v1/operational_intent_references/{entityid}/{ovn}",
        "/dss/v1/operational_intent_references/query",
        "/dss/v1/constraint_references/{entityid}",
        "/dss/v1/subscriptions/{subscriptionid}",
        "/dss/v1/uss_availability/{uss_id}",
        "/dss/v1/reports",
        "/rid/v2/dss/identification_service_areas",
        "/rid/v2/dss/identification_service_areas/{id}/{version}",
        "/rid/v2/dss/subscriptions/{id}",
        "/v1/dss/identification_service_areas/{id}",
        "/v1/dss/subscriptions",
        "/v1/dss/subscriptions/{id}/{version}",
        "/versions/{system_identity}",
        "/aux/v1/version",
        "/aux/v1/pool",
    ] {
        assert!(paths.contains_key(p), "{p} missing from {:?}", paths.keys().collect::<Vec<_>>());
    }
    // Structural rules a client generator relies on: every response described, every path parameter declared.
    let mut operations = 0;
    for (path, item) in &paths {
        for (method, op) in item.as_object().into_iter().flatten() {
            // Entente's own routes (health, metrics, this document, the map) are documented too; the standards'
            // operations are counted.
            let standard = ["/dss/v1/", "/rid/v2/dss/", "/v1/dss/", "/versions/", "/aux/v1/"];
            operations += usize::from(standard.iter().any(|prefix| path.starts_with(prefix)));
            for (status, response) in op["responses"].as_object().into_iter().flatten() {
                assert!(response["description"].is_string(), "{method} {path} {status} has no description");
            }
            let declared: Vec<&str> = op["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|p| p["name"].as_str())
                .collect();
            for name in
                path.split('/').filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            {
                assert!(declared.contains(&name), "{method} {path} does not declare parameter {name}");
            }
        }
    }
    assert_eq!(operations, 41, "18 F3548 operations, 10 for each F3411 version and 3 InterUSS extensions");
    assert!(body["components"]["securitySchemes"]["bearer"].is_object());
    Ok(())
}

/// Writes survive a restart on the same data folder: same versions, OVNs, indexes and records.
#[tokio::test]
async fn state_survives_a_restart() -> anyhow::Result<()> {
    let mut dss = Dss::start().await?;
    let (oid, reference, sid, sub, cid, cref, availability) = {
        let a = dss.client("uss-a", &[SC, CP]);
        let b = dss.client("uss-b", &[SC]);
        let cm = dss.client("authority", &[CM]);
        let aa = dss.client("arbiter", &[AA]);
        let sid = id();
        a.create_sub(&sid, &subscription(&a, &sub_here(), true, true)).await?;
        let oid = id();
        let r = b.create_oir(&oid, &oir_new_sub(&b, &[here()], "Accepted", &[], false)).await?;
        let r = b
            .update_oir(
                &oid,
                str_of(&r["ovn"])?,
                &oir_with_sub(&b, &[here()], "Activated", &[], str_of(&r["subscription_id"])?),
            )
            .await?;
        let cid = id();
        let cref = cm.create_constraint(&cid, &constraint(&cm, &[here()])).await?;
        let version = aa.set_availability("uss-b", "", "Normal").await?;
        let sub = a.get_sub(&sid).await?;
        assert_eq!(sub["notification_index"], 3);
        (oid, r, sid, sub, cid, cref, version)
    };

    dss.restart().await?;

    let a = dss.client("uss-a", &[SC, CP]);
    let b = dss.client("uss-b", &[SC]);
    let cm = dss.client("authority", &[CM]);
    let aa = dss.client("arbiter", &[AA]);
    let mut expected: OperationalIntentReference = from_wire(&reference);
    expected.uss_availability = UssAvailabilityState::Normal;
    assert_eq!(b.get_oir(&oid).await?, wire(expected));
    assert_eq!(a.get_sub(&sid).await?, sub);
    let got = cm.get(&constraint_path(&cid)).await?.want(200)?;
    assert_eq!(got["constraint_reference"], cref);
    let av = aa.get(&availability_path("uss-b")).await?.want(200)?;
    assert_eq!(av["version"], availability.as_str());
    // The implicit subscription and the indexes came back too: the OVN still works, the key
    // check still sees the intent, and notifications still reach the subscription.
    let implicit = str_of(&reference["subscription_id"])?.to_owned();
    assert_eq!(b.get_sub(&implicit).await?["dependent_operational_intents"], json!([oid]));
    let conflict = a.put(&oir_path(&id()), &oir(&a, &[here()], "Accepted", &[])).await?.want(409)?;
    assert_eq!(ids(&conflict["missing_operational_intents"]), vec![oid.clone()]);
    let body = b.delete(&oir_path_ovn(&oid, str_of(&reference["ovn"])?)).await?.want(200)?;
    assert_eq!(index_for(&body, &sid), Some(4));
    b.get(&sub_path(&implicit)).await?.want(404)?;
    Ok(())
}

async fn oneshot(app: axum::Router, req: Request<Body>) -> anyhow::Result<(StatusCode, Value)> {
    let resp = app.oneshot(req).await?;
    let status = resp.status();
    let bytes = resp.into_body().collect().await?.to_bytes();
    let body = if bytes.is_empty() { Value::Null } else { serde_json::from_slice(&bytes)? };
    Ok((status, body))
}

/// The router answers the same without a socket: create, read back, and an auth failure.
#[tokio::test]
async fn in_process_router() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let state = build_state(dir.path(), false)?;
    let app = entente_server::app(state);
    let oid = id();
    let uss = Client::offline("uss-a");
    let put = Request::put(oir_path(&oid))
        .header(header::AUTHORIZATION, format!("Bearer {}", token("uss-a", &[SC])))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(serde_json::to_vec(&oir(&uss, &[here()], "Accepted", &[]))?))?;
    let (status, body) = oneshot(app.clone(), put).await?;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let ovn = str_of(&body["operational_intent_reference"]["ovn"])?.to_owned();

    let get = Request::get(oir_path(&oid))
        .header(header::AUTHORIZATION, format!("Bearer {}", token("uss-b", &[SC])))
        .body(Body::empty())?;
    let (status, body) = oneshot(app.clone(), get).await?;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["operational_intent_reference"]["manager"], "uss-a");
    assert!(body["operational_intent_reference"].get("ovn").is_none());

    let anonymous = Request::delete(oir_path_ovn(&oid, &ovn)).body(Body::empty())?;
    let (status, body) = oneshot(app.clone(), anonymous).await?;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    message(&body)?;

    let (status, body) = oneshot(app, Request::get("/no/such/route").body(Body::empty())?).await?;
    assert_eq!(status, StatusCode::NOT_FOUND);
    message(&body)?;
    Ok(())
}
