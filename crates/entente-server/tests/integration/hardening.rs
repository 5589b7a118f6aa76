//! Hardened edges over real sockets: costly input from many clients at once does not slow a well-behaved one.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::Value;

use crate::harness::*;

/// The middle and the 99th percentile of some latencies.
pub(crate) fn percentiles(mut latencies: Vec<Duration>) -> (Duration, Duration) {
    latencies.sort();
    let at = |q: f64| latencies.get(((latencies.len() as f64 - 1.0) * q).round() as usize).copied();
    (at(0.5).unwrap_or_default(), at(0.99).unwrap_or_default())
}

/// A ring of `n` random vertices within about 2 km of the test location: its edges cross everywhere.
fn scribble(n: usize) -> Value {
    let mut s = 1u64;
    let mut next = move || {
        s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (s >> 11) as f64 / (1u64 << 53) as f64
    };
    let vertices: Vec<(f64, f64)> = (0..n).map(|_| (LAT + next() * 0.02, LNG + next() * 0.03)).collect();
    polygon(&vertices)
}

/// The server runs on a runtime of its own with two workers, as `entente dss` does on a two-core machine, so the
/// clients' work is not counted as the server's.
fn server_runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?)
}

/// Eight clients send 10 000-vertex self-crossing polygons as fast as they are refused while a ninth queries a
/// small area. The querier's p99 is printed; it is asserted under 250 ms, a margin of 25 times the 10 ms aimed at,
/// because other builds on a shared two-core machine can stall any process for tens of milliseconds, while before
/// the sweep the query's median alone was 174 ms and its p99 was over a second.
#[test]
fn self_crossing_polygons_from_eight_clients_leave_a_query_fast() -> anyhow::Result<()> {
    let server = server_runtime()?;
    let dss = server.block_on(Dss::start())?;
    let clients = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let (refusals, queries) = clients.block_on(async {
        let costly = Arc::new(serde_json::to_vec(&query(&volume4d(&scribble(10_000), 0.0, 120.0, 10, 70)))?);
        let stop = Arc::new(AtomicBool::new(false));
        let mut senders = Vec::new();
        for k in 0..8 {
            let (client, body, stop) =
                (dss.client(&format!("costly{k}"), &[SC]), costly.clone(), stop.clone());
            senders.push(tokio::spawn(async move {
                let mut took = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let started = Instant::now();
                    let answer = client.send_raw(Method::POST, OIR_QUERY, body.to_vec()).await?;
                    took.push(started.elapsed());
                    assert_error(answer, 400, "area_of_interest.volume.outline_polygon")?;
                }
                anyhow::Ok(took)
            }));
        }
        let querier = dss.client("querier", &[SC]);
        let small = query(&here());
        // Let the costly clients get going before measuring.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let mut queries = Vec::new();
        let until = Instant::now() + Duration::from_secs(3);
        while Instant::now() < until {
            let started = Instant::now();
            querier.post(OIR_QUERY, &small).await.want(200)?;
            queries.push(started.elapsed());
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        stop.store(true, Ordering::Relaxed);
        let mut refusals = Vec::new();
        for sender in senders {
            refusals.extend(sender.await??);
        }
        anyhow::Ok((refusals, queries))
    })?;
    let (count, (refused_p50, refused_p99)) = (refusals.len(), percentiles(refusals));
    let (queried, (p50, p99)) = (queries.len(), percentiles(queries));
    eprintln!(
        "{count} costly polygons refused (p50 {refused_p50:?}, p99 {refused_p99:?}); \
         {queried} small queries beside them: p50 {p50:?}, p99 {p99:?}"
    );
    assert!(count >= 8, "every costly client was answered");
    assert!(p99 < Duration::from_millis(250), "query p99 {p99:?} beside costly polygons");
    drop(dss);
    server.shutdown_timeout(Duration::from_secs(5));
    Ok(())
}

/// Opens a connection that sends a request's head as `sub` and holds back its body, so the request stays in flight
/// until the connection is dropped.
async fn held_request(dss: &Dss, sub: &str) -> anyhow::Result<tokio::net::TcpStream> {
    use tokio::io::AsyncWriteExt;
    let address = dss.base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address).await?;
    let head = format!(
        "POST {OIR_QUERY} HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{",
        token(sub, &[SC])
    );
    stream.write_all(head.as_bytes()).await?;
    Ok(stream)
}

/// A client past its cap of requests in flight is answered 429 with Retry-After and a message saying why; others
/// are not affected, and it is served again once a request of its own ends.
#[tokio::test]
async fn a_client_past_its_requests_in_flight_is_asked_to_retry() -> anyhow::Result<()> {
    let dss = Dss::start_configured(|state| state.with_client_concurrency(2)).await?;
    let held = [held_request(&dss, "greedy").await?, held_request(&dss, "greedy").await?];
    let greedy = dss.client("greedy", &[SC]);
    let small = query(&here());
    // The held requests reach the server asynchronously: wait until both count.
    let until = Instant::now() + Duration::from_secs(10);
    let refused = loop {
        let (status, body) = greedy.post(OIR_QUERY, &small).await?;
        if status == 429 || Instant::now() > until {
            break (status, body);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let body = refused.want(429)?;
    let msg = message(&body)?;
    assert!(
        msg.contains("\"greedy\" already has 2 requests in flight") && msg.contains("retry after 1 s"),
        "{msg}"
    );
    let raw = reqwest::Client::new()
        .post(format!("{}{OIR_QUERY}", dss.base))
        .bearer_auth(token("greedy", &[SC]))
        .json(&small)
        .send()
        .await?;
    assert_eq!(raw.status(), 429);
    assert_eq!(raw.headers().get("retry-after").and_then(|v| v.to_str().ok()), Some("1"));
    dss.client("modest", &[SC]).post(OIR_QUERY, &small).await.want(200)?;
    assert!(dss.anonymous().get("/healthy").await?.0.is_success(), "untokened requests are not counted");

    drop(held);
    let until = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, _) = greedy.post(OIR_QUERY, &small).await?;
        if status == 200 {
            break;
        }
        anyhow::ensure!(Instant::now() < until, "still {status} after the held requests ended");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

/// A store whose every commit fails the way a lost etcd connection does, so the answer's body can be checked for
/// what it lets out.
struct FailingStore;

const TRANSPORT_ERROR: &str =
    "tonic::transport::Error(Transport, ConnectError(\"tcp connect error\", 10.0.0.7:2379))";

impl entente_dss::Store for FailingStore {
    fn load(&self) -> Result<entente_dss::Snapshot, entente_dss::StoreError> {
        Ok(entente_dss::Snapshot::default())
    }

    fn submit(&self, _changes: Vec<entente_dss::Change>) -> entente_dss::CommitTicket {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let _ = tx.send(Err(entente_dss::StoreError::Io(TRANSPORT_ERROR.to_owned())));
        rx
    }
}

/// A storage failure is a 503 whose body says what failed in the client's terms and carries the request id, also
/// in the `x-request-id` header; the store's own error stays in the log. Every answer, 2xx and 4xx too, has an id.
#[tokio::test]
async fn a_storage_failure_answers_a_request_id_and_no_internals() -> anyhow::Result<()> {
    use axum::body::Body;
    use axum::http::{Request, header};
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    let dss = entente_dss::Dss::open(
        Arc::new(FailingStore),
        Arc::new(entente_dss::SystemClock),
        entente_dss::Limits { allow_http_base_urls: true, ..entente_dss::Limits::default() },
    )?;
    let auth =
        entente_server::auth::Authenticator::from_pem_strings(&[RSA_PUBLIC], vec![AUDIENCE.to_owned()])?;
    let app = entente_server::app(Arc::new(entente_server::AppState::new(
        Arc::new(dss),
        Arc::new(auth),
        BODY_LIMIT,
    )));
    let uss = Client::offline("uss-a");
    let put = Request::put(oir_path(&id()))
        .header(header::AUTHORIZATION, format!("Bearer {}", token("uss-a", &[SC])))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(serde_json::to_vec(&oir(&uss, &[here()], "Accepted", &[]))?))?;
    let response = app.clone().oneshot(put).await?;
    assert_eq!(response.status(), 503);
    let header_id = response.headers().get("x-request-id").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let body: Value = serde_json::from_slice(&response.into_body().collect().await?.to_bytes())?;
    assert_eq!(body["message"], "the server's storage failed; the request was not applied", "{body}");
    assert!(!body.to_string().contains("tonic") && !body.to_string().contains("10.0.0.7"), "{body}");
    let request_id = str_of(&body["request_id"])?;
    assert_eq!(Some(request_id), header_id.as_deref(), "the body and the header carry one id");
    assert!(uuid::Uuid::parse_str(request_id).is_ok(), "{request_id}");

    for request in [
        Request::get("/healthy").body(Body::empty())?,
        Request::get(oir_path("not-a-uuid")).body(Body::empty())?,
    ] {
        let response = app.clone().oneshot(request).await?;
        assert!(response.headers().contains_key("x-request-id"), "{}", response.status());
        if !response.status().is_success() {
            let body: Value = serde_json::from_slice(&response.into_body().collect().await?.to_bytes())?;
            assert!(body.get("request_id").is_none(), "the caller's mistakes need no id: {body}");
        }
    }
    Ok(())
}

/// Path parameters (here a USS's identity, stored by the availability endpoints) are refused with a 400 naming the
/// parameter when longer than 256 characters or holding a control or bidirectional-formatting character, and
/// nothing is stored.
#[tokio::test]
async fn identifiers_in_paths_are_checked_before_anything_is_stored() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let arbiter = dss.client("arbiter", &[AA]);
    let body = availability_params(Some(""), "Down");
    for (uss_id, rule) in [
        ("a".repeat(7000), "7000 characters, more than the limit of 256"),
        ("uss%00one".to_owned(), "U+0000"),
        ("uss%E2%80%AEeno".to_owned(), "U+202E"),
        ("uss%E2%81%A6x".to_owned(), "U+2066"),
    ] {
        let refused = arbiter.put(&availability_path(&uss_id), &body).await?.want(400)?;
        let msg = message(&refused)?;
        assert!(msg.starts_with("uss_id: ") && msg.contains(rule), "{msg}");
        let (status, read) = arbiter.get(&availability_path(&uss_id)).await?;
        assert_eq!(status, 400, "the same rule on reading: {read}");
    }
    // Printable text of any script is an identity like any other.
    arbiter.set_availability("uss-ünïcode", "", "Down").await?;
    arbiter.put(&availability_path(&"b".repeat(256)), &body).await?.want(200)?;
    Ok(())
}

/// How a raw connection of the slow-client wave behaves.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Slow {
    /// Connects and sends nothing.
    Idle,
    /// Sends its request head a byte at a time, 4 bytes a second.
    TrickledHead,
    /// Sends a whole head announcing a 100 kB body, then the body at 2 bytes a second.
    TrickledBody,
}

/// Runs one slow connection until the server closes it (or 20 s pass), answering what it read and when it ended.
async fn slow_connection(address: String, kind: Slow) -> anyhow::Result<(Duration, String)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let started = Instant::now();
    let mut stream = tokio::net::TcpStream::connect(&address).await?;
    let head = format!(
        "POST {OIR_QUERY} HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n",
        token("slow", &[SC])
    );
    let (mut reader, mut writer) = stream.split();
    let mut answer = Vec::new();
    let read = reader.read_to_end(&mut answer);
    let write = async {
        match kind {
            Slow::Idle => {}
            Slow::TrickledHead => {
                for byte in head.as_bytes() {
                    writer.write_all(&[*byte]).await?;
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
            }
            Slow::TrickledBody => {
                writer.write_all(head.as_bytes()).await?;
                loop {
                    writer.write_all(b" ").await?;
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        }
        std::future::pending::<anyhow::Result<()>>().await
    };
    let outcome = tokio::time::timeout(Duration::from_secs(20), async {
        tokio::select! {
            read = read => read.map(|_| ()).map_err(anyhow::Error::from),
            written = write => written,
        }
    })
    .await;
    let text = String::from_utf8_lossy(&answer).lines().next().unwrap_or("").to_owned();
    match outcome {
        Ok(_) => Ok((started.elapsed(), text)),
        Err(_) => anyhow::bail!("{kind:?}: still open after 20 s, having read {text:?}"),
    }
}

fn slow_client_limits() -> entente_server::ListenerLimits {
    entente_server::ListenerLimits {
        max_connections: 40,
        head_timeout: Duration::from_secs(1),
        min_body_rate: 1024,
        body_grace: Duration::from_secs(1),
    }
}

/// Slow and idle connections beyond the cap: those past it are answered 503 with Retry-After at once, the others
/// are closed within the configured times (a head within 1 s, a body at 1 kB/s after 1 s), and a client that was
/// already connected keeps being served. Its p99 is printed and asserted under 250 ms, 25 times the 10 ms aimed at,
/// for the reason the costly-polygon test gives.
#[test]
fn slow_and_idle_connections_are_shed_or_closed_while_a_client_is_served() -> anyhow::Result<()> {
    let server = server_runtime()?;
    let limits = slow_client_limits();
    let dss =
        server.block_on(Dss::start_configured(|state| state.with_listener_limits(slow_client_limits())))?;
    let clients = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let (ended, queries) = clients.block_on(async {
        let querier = dss.client("querier", &[SC]);
        let small = query(&here());
        querier.post(OIR_QUERY, &small).await.want(200)?;
        let address = dss.base.trim_start_matches("http://").to_owned();
        let wave: Vec<_> = (0..60)
            .map(|k| {
                let kind = [Slow::Idle, Slow::TrickledHead, Slow::TrickledBody][k % 3];
                let address = address.clone();
                tokio::spawn(async move { slow_connection(address, kind).await.map(|ended| (kind, ended)) })
            })
            .collect();
        let mut queries = Vec::new();
        let until = Instant::now() + Duration::from_secs(3);
        while Instant::now() < until {
            let started = Instant::now();
            querier.post(OIR_QUERY, &small).await.want(200)?;
            queries.push(started.elapsed());
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let mut ended = Vec::new();
        for connection in wave {
            ended.push(connection.await??);
        }
        anyhow::Ok((ended, queries))
    })?;
    let shed: Vec<_> = ended.iter().filter(|(_, (_, answer))| answer.starts_with("HTTP/1.1 503")).collect();
    let (queried, (p50, p99)) = (queries.len(), percentiles(queries));
    eprintln!(
        "{} of {} slow connections shed with 503; the rest closed after {:?} at most; \
         {queried} queries beside them: p50 {p50:?}, p99 {p99:?}",
        shed.len(),
        ended.len(),
        ended.iter().map(|(_, (took, _))| *took).max().unwrap_or_default()
    );
    // How many find the cap full depends on how fast the others are accepted and closed; some always do.
    assert!(!shed.is_empty(), "60 connections against a cap of 40: some are shed");
    assert!(shed.iter().all(|(_, (took, _))| *took < Duration::from_secs(1)), "shedding is immediate");
    for (kind, (took, answer)) in &ended {
        let limit = match kind {
            Slow::Idle | Slow::TrickledHead => limits.head_timeout,
            // The grace, then the body is 1 kB/s behind within a second more.
            Slow::TrickledBody => limits.body_grace + Duration::from_secs(2),
        };
        assert!(
            answer.starts_with("HTTP/1.1 503") || *took < limit + Duration::from_secs(3),
            "{kind:?} closed after {took:?} with {answer:?}"
        );
        // The 408 may be lost to the reset of a socket closed with unread bytes; if it arrives, it is a 408.
        if *kind == Slow::TrickledBody && !answer.is_empty() && !answer.starts_with("HTTP/1.1 503") {
            assert!(answer.starts_with("HTTP/1.1 408"), "a body too slow is answered 408: {answer:?}");
        }
    }
    assert!(p99 < Duration::from_millis(250), "query p99 {p99:?} beside slow connections");
    drop(dss);
    server.shutdown_timeout(Duration::from_secs(5));
    Ok(())
}
