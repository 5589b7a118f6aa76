//! The web map over a real socket: served only when enabled, its airspace view of what USSs wrote (with
//! conflicts and no OVN), the `at` filter, the event stream announcing writes and ending at shutdown, and
//! planning forwarded to an operator's USS.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, ensure};
use entente_server::MapOperator;
use entente_server::auth::TokenIssuer;
use entente_server::uss::TokenSource;
use entente_wire::map::{OperatorOut, OperatorsView};
use entente_wire::operator::{AlertList, WatchRequest};
use serde_json::{Value, json};

use super::harness::{
    Dss, LAT, LNG, RSA_PRIVATE, SC, at, build_state, circle, far, here, id, oir, oir_new_sub, oir_with_sub,
    volume4d, wire,
};
use super::uss::{Uss, flight};

/// The page, its script and stylesheets, the map library and the basemap are all served by the DSS itself.
#[tokio::test]
async fn the_page_and_its_assets_are_embedded() -> anyhow::Result<()> {
    let dss = Dss::start_with_map().await?;
    let http = reqwest::Client::new();
    let page = http.get(format!("{}/map/", dss.base)).send().await?;
    ensure!(page.status() == 200, "GET /map/: {}", page.status());
    let policy = page.headers().get("content-security-policy").context("a CSP header")?.to_str()?.to_owned();
    ensure!(policy.contains("default-src 'self'"), "the page may load only from this server: {policy}");
    let html = page.text().await?;
    ensure!(
        html.contains("map.js") && html.contains("map.css") && html.contains("vendor/maplibre-gl.css"),
        "the page loads its script and styles"
    );
    ensure!(!html.contains("http://") && !html.contains("https://"), "the page references no other host");
    // The map library, its worker (started from this origin, as the policy allows) and its licence.
    for (asset, kind) in [
        ("map.js", "javascript"),
        ("map.css", "css"),
        ("vendor/maplibre-gl.mjs", "javascript"),
        ("vendor/maplibre-gl-worker.mjs", "javascript"),
        ("vendor/maplibre-gl.css", "css"),
        ("vendor/maplibre-gl.LICENSE.txt", "text/plain"),
        ("vendor/pmtiles.js", "javascript"),
        ("vendor/pmtiles.LICENSE.txt", "text/plain"),
    ] {
        let response = http.get(format!("{}/map/{asset}", dss.base)).send().await?;
        ensure!(response.status() == 200, "GET /map/{asset}: {}", response.status());
        let content_type = response.headers().get("content-type").context("a content type")?.to_str()?;
        ensure!(content_type.contains(kind), "{asset} is served as {content_type}");
        ensure!(!response.text().await?.is_empty(), "{asset} is empty");
    }
    let licence =
        http.get(format!("{}/map/vendor/maplibre-gl.LICENSE.txt", dss.base)).send().await?.text().await?;
    ensure!(licence.contains("BSD"), "MapLibre's licence is shipped beside it");
    let missing = http.get(format!("{}/map/vendor/other.js", dss.base)).send().await?;
    ensure!(missing.status() == 404, "GET /map/vendor/other.js: {}", missing.status());
    let basemap: Value = http.get(format!("{}/map/basemap.json", dss.base)).send().await?.json().await?;
    ensure!(basemap["type"] == "FeatureCollection", "the basemap is GeoJSON");
    let geometry = |kind: &str| {
        basemap["features"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|f| f["properties"]["kind"] == kind)
            .map(|f| &f["geometry"])
    };
    let land = geometry("land").context("the basemap's land")?;
    ensure!(
        land["type"] == "MultiPolygon" && land["coordinates"].as_array().is_some_and(|p| p.len() > 100),
        "the basemap has the world's land as polygons"
    );
    let borders = geometry("border").context("the basemap's borders")?;
    ensure!(borders["coordinates"].as_array().is_some_and(|b| !b.is_empty()), "the basemap has borders");

    // The regional basemap is a PMTiles archive read by byte ranges, as the page's reader asks for them.
    let region = format!("{}/map/region.pmtiles", dss.base);
    let whole = http.get(&region).send().await?;
    ensure!(whole.status() == 200, "GET /map/region.pmtiles: {}", whole.status());
    let whole = whole.bytes().await?;
    ensure!(whole.starts_with(b"PMTiles") && whole[7] == 3, "a PMTiles version 3 archive");
    let head = http.get(&region).header("range", "bytes=0-16383").send().await?;
    ensure!(head.status() == 206, "the header's range: {}", head.status());
    let content_range = head.headers().get("content-range").context("a content range")?.to_str()?.to_owned();
    let last = whole.len().min(16384) - 1;
    ensure!(content_range == format!("bytes 0-{last}/{}", whole.len()), "{content_range}");
    ensure!(head.bytes().await? == whole[..=last], "the range's bytes");
    let past = http.get(&region).header("range", format!("bytes={}-", whole.len())).send().await?;
    ensure!(past.status() == 416, "a range past the end: {}", past.status());
    // Its named places, which the page draws and searches.
    let places: Value = http.get(format!("{}/map/places.json", dss.base)).send().await?.json().await?;
    let lausanne = places["features"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|f| f["properties"]["name"] == "Lausanne")
        .context("Lausanne among the places")?;
    ensure!(lausanne["geometry"]["type"] == "Point", "{lausanne}");
    // No basemap of the operator's unless one was given.
    let operator: Value = http.get(format!("{}/map/api/basemap", dss.base)).send().await?.json().await?;
    ensure!(operator == json!({ "url": null }), "{operator}");
    Ok(())
}

#[tokio::test]
async fn the_map_is_served_only_when_enabled() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    for path in ["/map/", "/map/api/airspace", "/map/api/events"] {
        let status = reqwest::get(format!("{}{path}", dss.base)).await?.status();
        ensure!(status == 404, "{path} without the map: {status}");
    }
    Ok(())
}

#[tokio::test]
async fn the_view_shows_live_intents_and_their_conflicts() -> anyhow::Result<()> {
    let dss = Dss::start_with_map().await?;
    let uss1 = dss.client("uss1", &[SC]);
    let uss2 = dss.client("uss2", &[SC]);
    let first = id();
    let first_ovn = uss1.create_oir(&first, &oir(&uss1, &[here()], "Accepted", &[])).await?;
    let first_ovn = first_ovn["ovn"].as_str().context("the first OVN")?.to_owned();
    // Meets the first from minute 40 on.
    let second = id();
    let meeting = volume4d(&circle(LAT, LNG, 300.0), 50.0, 150.0, 40, 100);
    let created = uss2
        .create_oir(
            &second,
            &oir_new_sub(&uss2, std::slice::from_ref(&meeting), "Accepted", &[&first_ovn], false),
        )
        .await?;
    let second_ovn = created["ovn"].as_str().context("the second OVN")?;
    let subscription = created["subscription_id"].as_str().context("the implicit subscription")?;
    let activated = oir_with_sub(&uss2, &[meeting], "Activated", &[&first_ovn], subscription);
    uss2.update_oir(&second, second_ovn, &activated).await?;
    let apart = id();
    uss2.create_oir(&apart, &oir(&uss2, &[far()], "Accepted", &[])).await?;

    let all = airspace(&dss, None).await?;
    let text = all.to_string();
    ensure!(!text.contains(&first_ovn) && !text.contains("\"ovn\""), "the map view must not reveal OVNs");
    let intents = all["operational_intents"].as_array().context("intents")?;
    let mut expected = vec![first.clone(), second.clone(), apart.clone()];
    expected.sort();
    let shown: Vec<&str> = intents.iter().filter_map(|o| o["id"].as_str()).collect();
    ensure!(shown == expected, "all three intents, sorted by id: {shown:?}");
    let pair = if first < second { [&first, &second] } else { [&second, &first] };
    ensure!(all["conflicts"] == json!([pair]), "exactly the first two conflict: {}", all["conflicts"]);
    let second_view = intents.iter().find(|o| o["id"] == json!(second)).context("the second intent")?;
    ensure!(second_view["state"] == "Activated" && second_view["manager"] == "uss2", "{second_view}");
    ensure!(second_view["conflicts_with"] == json!([first]), "{second_view}");

    // At minute 20 the second has not started: no conflict, and only the other two are shown.
    let early = airspace(&dss, Some(&at(20).to_rfc3339())).await?;
    let shown: Vec<&str> = early["operational_intents"]
        .as_array()
        .context("intents")?
        .iter()
        .filter_map(|o| o["id"].as_str())
        .collect();
    ensure!(!shown.contains(&second.as_str()) && shown.len() == 2, "at minute 20: {shown:?}");
    ensure!(early["conflicts"] == json!([]), "no conflict at minute 20: {}", early["conflicts"]);

    let bad = reqwest::get(format!("{}/map/api/airspace?at=yesterday", dss.base)).await?;
    ensure!(bad.status() == 400, "an unparsable instant: {}", bad.status());
    Ok(())
}

#[tokio::test]
async fn the_event_stream_announces_writes_and_ends_at_shutdown() -> anyhow::Result<()> {
    let mut dss = Dss::start_with_map().await?;
    let mut events = Events::open(&dss.base).await?;
    let connected = events.next().await?.context("a first event on connecting")?;
    let uss1 = dss.client("uss1", &[SC]);
    uss1.create_oir(&id(), &oir(&uss1, &[here()], "Accepted", &[])).await?;
    let after_write = events.next().await?.context("an event after the write")?;
    ensure!(after_write > connected, "the counter grew: {connected} then {after_write}");

    // The restart waits for the server to stop, which open streams must not prevent.
    dss.restart().await?;
    ensure!(events.next().await?.is_none(), "the stream ends when the server stops");
    Ok(())
}

async fn airspace(dss: &Dss, at: Option<&str>) -> anyhow::Result<Value> {
    let mut url = reqwest::Url::parse(&format!("{}/map/api/airspace", dss.base))?;
    if let Some(at) = at {
        url.query_pairs_mut().append_pair("at", at);
    }
    let response = reqwest::get(url).await?;
    ensure!(response.status() == 200, "GET /map/api/airspace: {}", response.status());
    Ok(response.json().await?)
}

/// A reader of the map's server-sent events, returning the counter each `airspace` event carries.
struct Events {
    response: reqwest::Response,
    buffer: String,
}

impl Events {
    async fn open(base: &str) -> anyhow::Result<Events> {
        let response = reqwest::get(format!("{base}/map/api/events")).await?;
        ensure!(response.status() == 200, "GET /map/api/events: {}", response.status());
        let kind = response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default();
        ensure!(kind.starts_with("text/event-stream"), "content type {kind}");
        Ok(Events { response, buffer: String::new() })
    }

    /// The next event's counter, `None` when the stream ended; keep-alive comments are skipped.
    async fn next(&mut self) -> anyhow::Result<Option<u64>> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let event: String = self.buffer.drain(..end + 2).collect();
                if !event.lines().any(|l| l == "event: airspace") {
                    continue;
                }
                let data = event.lines().find_map(|l| l.strip_prefix("data: ")).context("event data")?;
                return Ok(Some(data.parse()?));
            }
            let chunk = tokio::time::timeout(Duration::from_secs(10), self.response.chunk())
                .await
                .context("no event within 10 s")?;
            match chunk {
                Ok(Some(bytes)) => self.buffer.push_str(std::str::from_utf8(&bytes)?),
                // The server closing the connection mid-stream also ends it.
                Ok(None) | Err(_) => return Ok(None),
            }
        }
    }
}

/// A map server (over a DSS of its own) that plans for one operator, `north`, whose USS is `uss`.
async fn map_for(uss: &Uss) -> anyhow::Result<(String, tokio::sync::oneshot::Sender<()>)> {
    let dir = tempfile::tempdir()?;
    let state = Arc::into_inner(build_state(dir.path(), true)?).context("a fresh state")?;
    let tokens = TokenSource::dev(TokenIssuer::from_pem(RSA_PRIVATE, None)?, "north");
    let state = Arc::new(state.with_map_operator(MapOperator::new("north", &uss.base, tokens)));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let _dir = dir;
        entente_server::serve(listener, state, async {
            let _ = rx.await;
        })
        .await
    });
    Ok((base, tx))
}

/// Planning from the map: listed operators only, the USS's answers passed on as they are (201, 409 with
/// alternatives, activation), and writes refused unless they are same-origin JSON to an address.
#[tokio::test]
async fn the_map_plans_through_its_operators_uss_from_its_own_origin_only() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let uss = Uss::start(&dss, "north").await?;
    let (map, _stop) = map_for(&uss).await?;
    let http = reqwest::Client::new();
    let listed: Value = http.get(format!("{map}/map/api/operators")).send().await?.json().await?;
    let north = OperatorOut { name: "north".to_owned(), uss_base_url: uss.base.clone() };
    ensure!(listed == wire(OperatorsView { operators: vec![north] }), "{listed}");

    let flights = format!("{map}/map/api/operators/north/flights");
    let post = |url: String, body: Value| http.post(url).json(&body).send();
    let planned = post(flights.clone(), flight(LAT, (0.0, 120.0), (10, 40), 0)).await?;
    ensure!(planned.status() == 201, "plan: {}", planned.status());
    let planned: Value = planned.json().await?;
    let first = planned["id"].as_str().context("a flight id")?.to_owned();
    let (status, at_uss) = uss.operator().get(&format!("/operator/v1/flights/{first}")).await?;
    ensure!(status == 200 && at_uss["state"] == "Accepted", "the USS holds the flight: {status} {at_uss}");
    let at_dss = dss.client("uss9", &[SC]).get_oir(&first).await?;
    ensure!(at_dss["manager"] == "north", "the DSS holds it: {at_dss}");

    let refused = post(flights.clone(), flight(LAT, (0.0, 120.0), (10, 40), 0)).await?;
    ensure!(refused.status() == 409, "conflict: {}", refused.status());
    let refused: Value = refused.json().await?;
    ensure!(refused["conflicting_intents"] == json!([first]), "{refused}");
    let alternative = refused["alternatives"][0]["request"].clone();
    ensure!(alternative.is_object(), "alternatives are passed on: {refused}");
    let taken = post(flights.clone(), alternative).await?;
    ensure!(taken.status() == 201, "the alternative as it is: {}", taken.status());

    let activated = post(format!("{flights}/{first}/activate"), json!({})).await?;
    ensure!(activated.status() == 200, "activate: {}", activated.status());
    let activated: Value = activated.json().await?;
    ensure!(activated["state"] == "Activated", "{activated}");
    let status: Value = http.get(format!("{flights}/{first}")).send().await?.json().await?;
    ensure!(status["state"] == "Activated", "{status}");
    // The operator's list, filters passed on and checked by the USS.
    let listed: Value = http.get(&flights).send().await?.json().await?;
    let states: Vec<&str> =
        listed["flights"].as_array().into_iter().flatten().filter_map(|f| f["state"].as_str()).collect();
    ensure!(states.len() == 2 && states.contains(&"Activated") && states.contains(&"Accepted"), "{listed}");
    let activated_only: Value =
        http.get(format!("{flights}?state=Activated&x=1")).send().await?.json().await?;
    ensure!(activated_only["flights"].as_array().map(Vec::len) == Some(1), "{activated_only}");
    ensure!(activated_only["flights"][0]["id"] == first.as_str(), "{activated_only}");
    let bad_filter = http.get(format!("{flights}?time_start=yesterday")).send().await?;
    ensure!(bad_filter.status() == 400, "a bad filter is the USS's 400: {}", bad_filter.status());

    // What a page elsewhere, or a DNS name rebound to this machine, could send; refused before the body is read, so
    // an empty object, which no shape would send, stands for any.
    let forged = [
        http.post(&flights).header("origin", "http://evil.example").json(&json!({})),
        http.post(&flights).header("content-type", "text/plain").body("{}"),
        http.post(&flights).header("host", "evil.example").json(&json!({})),
        http.post(format!("{flights}/{first}/end")).header("origin", "http://evil.example").json(&json!({})),
    ];
    for request in forged {
        let response = request.send().await?;
        ensure!(response.status() == 403, "a cross-origin write: {}", response.status());
        let body: Value = response.json().await?;
        ensure!(body["message"].as_str().is_some_and(|m| m.contains("planning from the map")), "{body}");
    }
    let other = post(format!("{map}/map/api/operators/south/flights"), json!({})).await?;
    ensure!(other.status() == 404, "an operator the map does not plan for: {}", other.status());
    let bad = http.get(format!("{flights}/not-a-uuid")).send().await?;
    ensure!(bad.status() == 400, "a bad id: {}", bad.status());
    let unknown = post(format!("{flights}/{first}/fly"), json!({})).await?;
    ensure!(unknown.status() == 404, "an unknown action: {}", unknown.status());
    let (status, _) = uss.operator().get(&format!("/operator/v1/flights/{first}")).await?;
    ensure!(status == 200, "the refused end left the flight: {status}");
    Ok(())
}

/// Remote ID from the map: a watch started and ended through the map reaches the operator's USS (writes only
/// from the map's own origin), and its display and alerts are passed on, status and body, with nothing of the
/// page's query but the view.
#[tokio::test]
async fn the_map_forwards_remote_id_of_its_operators_uss() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let uss = Uss::start(&dss, "north").await?;
    let (map, _stop) = map_for(&uss).await?;
    let http = reqwest::Client::new();
    let rid = format!("{map}/map/api/operators/north/rid");
    let view = format!("{},{},{},{}", LAT - 0.005, LNG - 0.005, LAT + 0.005, LNG + 0.005);
    let watching = |duration_s: Option<i64>| WatchRequest { view: view.clone(), duration_s };

    let started = http.post(format!("{rid}/watches")).json(&watching(Some(60))).send().await?;
    ensure!(started.status() == 201, "watch: {}", started.status());
    let watch: Value = started.json().await?;
    let watch_id = watch["id"].as_str().context("a watch id")?.to_owned();
    let (status, held) = uss.operator().get("/operator/v1/rid/watches").await?;
    ensure!(status == 200 && held["watches"][0]["id"] == watch_id.as_str(), "the USS watches: {held}");

    let shown = http.get(format!("{rid}/flights?view={view}")).send().await?;
    ensure!(shown.status() == 200, "display: {}", shown.status());
    let shown: Value = shown.json().await?;
    ensure!(shown["flights"] == json!([]) && shown["clusters"] == json!([]), "{shown}");
    let wide = http.get(format!("{rid}/flights?view=46.4,6.5,46.6,6.7")).send().await?;
    ensure!(wide.status() == 413, "a view over 7 km: {}", wide.status());
    let missing = http.get(format!("{rid}/flights")).send().await?;
    ensure!(missing.status() == 400, "no view: {}", missing.status());
    // The page's query cannot add parameters: `&...` stays inside the view, which the USS then refuses.
    let smuggled =
        http.get(format!("{rid}/flights?view={view}%26recent_positions_duration%3D60")).send().await?;
    ensure!(smuggled.status() == 400, "a smuggled parameter: {}", smuggled.status());
    let alerts: Value =
        http.get(format!("{map}/map/api/operators/north/alerts")).send().await?.json().await?;
    ensure!(alerts == wire(AlertList { alerts: Vec::new() }), "{alerts}");

    let ended = format!("{rid}/watches/{watch_id}");
    let forged = [
        http.post(format!("{rid}/watches")).header("origin", "http://evil.example").json(&watching(None)),
        http.post(format!("{rid}/watches")).header("content-type", "text/plain").body("{}"),
        http.delete(&ended),
        http.delete(&ended)
            .header("origin", "http://evil.example")
            .header("content-type", "application/json"),
    ];
    for request in forged {
        let response = request.send().await?;
        ensure!(response.status() == 403, "a cross-origin write: {}", response.status());
    }
    let (_, held) = uss.operator().get("/operator/v1/rid/watches").await?;
    ensure!(held["watches"].as_array().map(Vec::len) == Some(1), "a forged write changed nothing: {held}");
    let end = http.delete(&ended).header("content-type", "application/json").send().await?;
    ensure!(end.status() == 200, "end the watch: {}", end.status());
    let (_, held) = uss.operator().get("/operator/v1/rid/watches").await?;
    ensure!(held["watches"] == json!([]), "the watch ended at the USS: {held}");
    let other = http.get(format!("{map}/map/api/operators/south/alerts")).send().await?;
    ensure!(other.status() == 404, "an operator the map does not act for: {}", other.status());
    Ok(())
}

/// A map that plans for no one (`entente dss --map`) offers no operator.
#[tokio::test]
async fn a_map_without_operators_offers_none() -> anyhow::Result<()> {
    let dss = Dss::start_with_map().await?;
    let listed: Value = reqwest::get(format!("{}/map/api/operators", dss.base)).await?.json().await?;
    ensure!(listed == wire(OperatorsView { operators: Vec::new() }), "{listed}");
    let response = reqwest::Client::new()
        .post(format!("{}/map/api/operators/north/flights", dss.base))
        .json(&json!({}))
        .send()
        .await?;
    ensure!(response.status() == 404, "planning for no one: {}", response.status());
    Ok(())
}
