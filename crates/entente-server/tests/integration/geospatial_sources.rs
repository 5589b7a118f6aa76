//! InterUSS's geospatial map data sources on a USS: a data set downloaded from a small server of the test's own
//! becomes the set the map queries see; an invalid one is rejected naming the feature, an unreachable one is an
//! error, and each keeps that answer for GET and the list until put again or deleted; an id keeps its source (409
//! for another, across a restart too); a deactivated one is gone.

use entente_wire::interuss::geospatial_map::{DataSourceRequest, HttpsSource};
use serde_json::{Value, json};

use crate::geospatial_map::{check, queries};
use crate::geozones::{EDGE, data_set, disc, feature};
use crate::harness::*;
use crate::uss::Uss;
use entente_server::uss::UssConfig;

const QUERY: &str = "interuss.geospatial_map.query";
const DIRECT: &str = "interuss.geospatial_map.direct_automated_test";
const QUERIES: &str = "/geospatial_map/v1/map/queries";
const SOURCES: &str = "/geospatial_map/v1/geospatial_data_sources";
const ID: &str = "6c1a2f4e-8b3d-4c5a-9e7f-0a1b2c3d4e5f";

/// A server on loopback answering `/zones.json` with a prohibited zone at the harness's position,
/// `/bad.json` with an ED-269 data set whose first feature has a negative radius, `/big.json` with more than a
/// USS takes, and 404 otherwise. Its base URL.
async fn source_server() -> anyhow::Result<String> {
    let zones = data_set(vec![feature("NOFLY", "PROHIBITED", disc(LAT, 1000.0), json!({}))]).to_string();
    let bad = include_str!("../../../entente-geozones/tests/fixtures/bad-radius-ed269.json");
    let big = " ".repeat(BODY_LIMIT + 1);
    let app = axum::Router::new()
        .route("/zones.json", axum::routing::get(move || async move { zones }))
        .route("/bad.json", axum::routing::get(move || async move { bad }))
        .route("/big.json", axum::routing::get(move || async move { big }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://127.0.0.1:{}", listener.local_addr()?.port());
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(base)
}

/// Test USSs fetch plain http from loopback, as they take http base URLs.
fn loopback_http(config: &mut UssConfig) {
    config.allow_http_data_sources = true;
}

fn https_source(url: &str) -> Value {
    https_source_in(url, "ED-269")
}

/// A data source to download from `url`, in `format`.
fn https_source_in(url: &str, format: &str) -> Value {
    let source = HttpsSource { url: url.to_owned(), format: Some(format.to_owned()) };
    wire(DataSourceRequest { https_source: Some(source) })
}

/// Whether the map blocks a flight at the prohibited zone's edge.
async fn blocked_at_edge(uss: &Uss) -> anyhow::Result<bool> {
    let tester = client_at(&uss.base, "qualifier", &[QUERY]);
    let edge = volume4(&circle(EDGE, LNG, 300.0), 0.0, 100.0, 10, 20);
    let reply = tester.post(QUERIES, &queries(vec![check(edge, "Block")])).await.want(200)?;
    Ok(reply["results"][0]["features_selection_outcome"] == "Present")
}

fn status_of(reply: &Value) -> anyhow::Result<&str> {
    str_of(&reply["data_source"]["status"])
}

#[tokio::test]
async fn a_data_source_is_downloaded_seen_by_the_map_and_deactivated() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let uss = Uss::start_configured(&dss, "geo", loopback_http).await?;
    let files = source_server().await?;
    let director = client_at(&uss.base, "qualifier", &[DIRECT]);
    let path = format!("{SOURCES}/{ID}");
    let zones = format!("{files}/zones.json");

    assert!(!blocked_at_edge(&uss).await?, "nothing loaded yet");
    director.get(&path).await.want(404)?;
    let put = director.put(&path, &https_source(&zones)).await.want(200)?;
    assert_eq!((status_of(&put)?, str_of(&put["data_source"]["id"])?), ("Ready", ID), "{put}");
    assert!(blocked_at_edge(&uss).await?, "the downloaded prohibited zone blocks");
    assert_eq!(status_of(&director.get(&path).await.want(200)?)?, "Ready");
    let list = director.get(SOURCES).await.want(200)?;
    assert_eq!(list["data_sources"], json!([{"id": ID, "status": "Ready"}]), "{list}");

    // The same id and URL again is the same source; another URL under that id is refused, after a restart too.
    assert_eq!(status_of(&director.put(&path, &https_source(&zones)).await.want(200)?)?, "Ready");
    let elsewhere = https_source(&format!("{files}/other.json"));
    assert_error(director.put(&path, &elsewhere).await?, 409, &zones)?;
    let uss = uss.restart_configured(&dss, "geo", loopback_http).await?;
    let director = client_at(&uss.base, "qualifier", &[DIRECT]);
    assert_eq!(status_of(&director.get(&path).await.want(200)?)?, "Ready");
    assert!(blocked_at_edge(&uss).await?, "the set survives a restart");
    assert_eq!(status_of(&director.put(&path, &https_source(&zones)).await.want(200)?)?, "Ready");
    assert_error(director.put(&path, &elsewhere).await?, 409, &zones)?;

    let gone = director.delete(&path).await.want(200)?;
    assert_eq!(status_of(&gone)?, "Deactivated", "{gone}");
    director.get(&path).await.want(404)?;
    director.delete(&path).await.want(404)?;
    assert!(!blocked_at_edge(&uss).await?, "a deactivated source's zones are gone");
    assert_eq!(director.get(SOURCES).await.want(200)?["data_sources"], json!([]));
    Ok(())
}

#[tokio::test]
async fn invalid_unreachable_and_unsupported_sources_are_answered_with_their_status() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let uss = Uss::start_configured(&dss, "geo", loopback_http).await?;
    let files = source_server().await?;
    let director = client_at(&uss.base, "qualifier", &[DIRECT]);
    let path = format!("{SOURCES}/{ID}");

    // Each failure is what GET and the list answer afterwards, message and all.
    let kept = |put: Value| {
        let director = &director;
        let path = &path;
        async move {
            let got = director.get(path).await.want(200)?;
            assert_eq!(got, put, "GET answers what the PUT did");
            let list = director.get(SOURCES).await.want(200)?;
            assert_eq!(list["data_sources"], json!([put["data_source"]]), "{list}");
            anyhow::Ok(put)
        }
    };
    let bad = director.put(&path, &https_source(&format!("{files}/bad.json"))).await.want(200)?;
    assert_eq!(status_of(&bad)?, "Rejected", "{bad}");
    let why = str_of(&bad["data_source"]["message"])?;
    assert!(why.contains("feature 0 (\"LSGL\")") && why.contains("radius"), "{why}");
    kept(bad).await?;
    let big = director.put(&path, &https_source(&format!("{files}/big.json"))).await.want(200)?;
    assert_eq!(status_of(&big)?, "Rejected", "{big}");
    assert!(str_of(&big["data_source"]["message"])?.contains("exceeds the limit"), "{big}");
    kept(big).await?;

    // Nothing listens on a port just released; a missing file is the source's answer.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await?.local_addr()?.port();
    let down = director.put(&path, &https_source(&format!("http://127.0.0.1:{closed}/zones.json"))).await;
    let down = down.want(200)?;
    assert_eq!(status_of(&down)?, "Error", "{down}");
    assert!(str_of(&down["data_source"]["message"])?.contains(&format!("127.0.0.1:{closed}")), "{down}");
    kept(down).await?;
    let missing = director.put(&path, &https_source(&format!("{files}/missing.json"))).await.want(200)?;
    assert_eq!(status_of(&missing)?, "Error");
    assert!(str_of(&missing["data_source"]["message"])?.contains("404"), "{missing}");
    kept(missing).await?;

    let other_format = https_source_in(&format!("{files}/zones.json"), "AIXM");
    let unsupported = director.put(&path, &other_format).await.want(200)?;
    assert_eq!(status_of(&unsupported)?, "Unsupported", "{unsupported}");
    kept(unsupported).await?;
    // None of those imported anything; deleting the source forgets its failure.
    assert!(!blocked_at_edge(&uss).await?);
    assert_eq!(status_of(&director.delete(&path).await.want(200)?)?, "Deactivated");
    director.get(&path).await.want(404)?;
    assert_eq!(director.get(SOURCES).await.want(200)?["data_sources"], json!([]));
    director.delete(&path).await.want(404)?;
    // A failure, then the source put again and loaded: Ready, the failure gone.
    kept(director.put(&path, &https_source(&format!("{files}/missing.json"))).await.want(200)?).await?;
    let ready = director.put(&path, &https_source(&format!("{files}/zones.json"))).await.want(200)?;
    assert_eq!(status_of(&ready)?, "Ready", "{ready}");
    kept(ready).await?;
    assert!(blocked_at_edge(&uss).await?);

    // Malformed requests are refused naming the field: the required source and URL left out, which no shape can
    // say (the shape would send the source as null), written by hand.
    assert_error(director.put(&path, &json!({})).await?, 400, "https_source")?;
    assert_error(director.put(&path, &json!({"https_source": {"format": "ED-269"}})).await?, 400, "url")?;
    let not_an_id = format!("{SOURCES}/not-a-uuid");
    let zones = https_source(&format!("{files}/zones.json"));
    assert_error(director.put(&not_an_id, &zones).await?, 400, "geospatial_data_source_id")?;
    // A refused request is no outcome of the source's: it stays as it was.
    assert_eq!(status_of(&director.get(&path).await.want(200)?)?, "Ready");
    Ok(())
}

#[tokio::test]
async fn data_sources_take_the_direct_test_scope_and_https_by_default() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let uss = Uss::start(&dss, "geo").await?;
    let files = source_server().await?;
    let path = format!("{SOURCES}/{ID}");
    let zones = https_source(&format!("{files}/zones.json"));

    let anonymous = anonymous_at(&uss.base);
    anonymous.put(&path, &zones).await.want(401)?;
    anonymous.get(SOURCES).await.want(401)?;
    let querier = client_at(&uss.base, "qualifier", &[QUERY]);
    assert_error(querier.put(&path, &zones).await?, 403, DIRECT)?;
    assert_error(querier.get(&path).await?, 403, DIRECT)?;
    assert_error(querier.delete(&path).await?, 403, DIRECT)?;
    assert_error(querier.get(SOURCES).await?, 403, DIRECT)?;

    // A USS that takes only https base URLs fetches only https.
    let director = client_at(&uss.base, "qualifier", &[DIRECT]);
    assert_error(director.put(&path, &zones).await?, 400, "https_source.url")?;
    Ok(())
}
