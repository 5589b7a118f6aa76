//! Outgoing calls to the DSS and to peer USSs: a token for the called host, a deadline, a cap on the calls in
//! flight to one peer, and an audit record of every exchange, answered or not.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use entente_dss::{Clock, Scope};
use entente_uss::{Direction, Exchange, sha256_hex};
use parking_lot::Mutex;
use reqwest::Method;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::Semaphore;

use super::audit_log::AuditLog;
use super::tokens::TokenSource;
use crate::error::ApiError;
use crate::metrics::{Callee, UssMetrics};

pub(crate) struct Client {
    http: reqwest::Client,
    tokens: TokenSource,
    audit: Arc<AuditLog>,
    clock: Arc<dyn Clock>,
    /// Where each call's outcome and latency are counted, the DSS's apart from peers'.
    metrics: Arc<UssMetrics>,
    /// This USS's DSS, without a trailing `/`: calls under it are counted as the DSS's.
    dss_url: String,
    /// Per peer (host and port), the calls that may be in flight to it at once.
    peer_permits: Mutex<HashMap<String, Arc<Semaphore>>>,
}

/// The most calls this USS has in flight to one peer at once, whatever the number of operators planning: a plan
/// over a busy area asks a peer for the details of every intent it has there, and sixteen such plans at once
/// would otherwise send hundreds of requests together, past the 128 a peer running Entente takes from one client
/// before it answers 429 (which fails the plan). Calls past the cap wait their turn within their deadline. The
/// DSS is not capped here: its answers are what every plan waits on first.
const PEER_CONCURRENCY: usize = 32;

/// An answer of any status; the caller decides which ones it can use.
pub(crate) struct Reply {
    pub status: u16,
    pub body: Bytes,
    pub url: String,
}

impl Reply {
    pub(crate) fn json<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        serde_json::from_slice(&self.body).map_err(|e| {
            ApiError::Upstream(format!("{} answered {} with an unusable body: {e}", self.url, self.status))
        })
    }

    pub(crate) fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The error to pass on when the status is not one the caller expected.
    pub(crate) fn unexpected(&self) -> ApiError {
        let text = String::from_utf8_lossy(&self.body);
        let text: String = text.chars().take(300).collect();
        ApiError::Upstream(format!("{} answered {}: {text}", self.url, self.status))
    }
}

impl Client {
    pub(crate) fn new(
        tokens: TokenSource,
        audit: Arc<AuditLog>,
        clock: Arc<dyn Clock>,
        metrics: Arc<UssMetrics>,
        dss_url: &str,
    ) -> Client {
        Client {
            http: reqwest::Client::new(),
            tokens,
            audit,
            clock,
            metrics,
            dss_url: dss_url.to_owned(),
            peer_permits: Mutex::new(HashMap::new()),
        }
    }

    /// Sends one request with a token for the URL's host holding `scopes`, and records the exchange.
    pub(crate) async fn send(
        &self,
        method: Method,
        url: &str,
        scopes: &[Scope],
        body: Option<&impl Serialize>,
        timeout: Duration,
    ) -> Result<Reply, ApiError> {
        let scope: Vec<&str> = scopes.iter().map(|s| s.name()).collect();
        self.send_scoped(method, url, &scope.join(" "), body, timeout).await
    }

    /// [`Client::send`] with the scope named as the token carries it, for APIs outside F3548 (Remote ID).
    pub(crate) async fn send_scoped(
        &self,
        method: Method,
        url: &str,
        scope: &str,
        body: Option<&impl Serialize>,
        timeout: Duration,
    ) -> Result<Reply, ApiError> {
        let parsed =
            reqwest::Url::parse(url).map_err(|e| ApiError::Upstream(format!("{url}: not a URL: {e}")))?;
        let host = parsed.host_str().unwrap_or_default().to_owned();
        let peer = parsed.port_or_known_default().map_or_else(|| host.clone(), |p| format!("{host}:{p}"));
        let callee = if url.starts_with(&format!("{}/", self.dss_url)) { Callee::Dss } else { Callee::Peer };
        let deadline = Instant::now() + timeout;
        let _permit = match callee {
            Callee::Dss => None,
            Callee::Peer => {
                let permits =
                    self.peer_permits.lock().entry(peer.clone()).or_insert_with(peer_semaphore).clone();
                let permit = tokio::time::timeout(timeout, permits.acquire_owned()).await.map_err(|_| {
                    ApiError::Upstream(format!(
                        "{method} {url}: {PEER_CONCURRENCY} calls to {peer} were in flight for the whole deadline"
                    ))
                })?;
                // The semaphore is never closed.
                permit.ok()
            }
        };
        let timeout = deadline.saturating_duration_since(Instant::now());
        let token = self.tokens.token(&host, scope).await?;
        let payload = match body {
            Some(b) => {
                serde_json::to_vec(b).map_err(|e| ApiError::Upstream(format!("{url}: encoding: {e}")))?
            }
            None => Vec::new(),
        };
        let mut request = self.http.request(method.clone(), parsed).bearer_auth(token).timeout(timeout);
        if body.is_some() {
            request = request.header(reqwest::header::CONTENT_TYPE, "application/json").body(payload.clone());
        }
        let time = self.clock.now();
        let started = Instant::now();
        let outcome = match request.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                response.bytes().await.map(|body| (status, body))
            }
            Err(e) => Err(e),
        };
        let (status, response_body) = match &outcome {
            Ok((status, body)) => (Some(*status), body.clone()),
            Err(_) => (None, Bytes::new()),
        };
        self.metrics.call(callee, status, started.elapsed());
        self.audit.record(Exchange {
            time,
            direction: Direction::Outgoing,
            peer,
            method: method.to_string(),
            url: url.to_owned(),
            status,
            request_sha256: sha256_hex(&payload),
            response_sha256: sha256_hex(&response_body),
        });
        let (status, body) = outcome.map_err(|e| ApiError::Upstream(format!("{method} {url}: {e}")))?;
        tracing::debug!(%method, url, status, "outgoing call");
        Ok(Reply { status, body, url: url.to_owned() })
    }
}

fn peer_semaphore() -> Arc<Semaphore> {
    Arc::new(Semaphore::new(PEER_CONCURRENCY))
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use axum::routing::get;
    use entente_dss::SystemClock;

    use super::*;
    use crate::auth::TokenIssuer;

    /// A peer that takes 20 ms per request and remembers the most it had in flight at once.
    async fn slow_peer() -> (String, Arc<AtomicUsize>) {
        let (now, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let app = axum::Router::new().route(
            "/uss/v1/operational_intents/{id}",
            get({
                let (now, most) = (now.clone(), most.clone());
                move || async move {
                    most.fetch_max(now.fetch_add(1, Ordering::SeqCst) + 1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    now.fetch_sub(1, Ordering::SeqCst);
                    "{}"
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        (base, most)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn calls_to_one_peer_wait_their_turn_past_the_cap_and_all_arrive() {
        let dir = tempfile::tempdir().unwrap();
        let audit = Arc::new(AuditLog::open(&dir.path().join("audit.jsonl")).unwrap());
        let tokens = TokenSource::dev(TokenIssuer::generate_es256().unwrap(), "uss-a");
        let client = Arc::new(Client::new(
            tokens,
            audit,
            Arc::new(SystemClock),
            Arc::new(UssMetrics::default()),
            "http://dss.invalid",
        ));
        let (base, most) = slow_peer().await;
        let calls: Vec<_> = (0..3 * PEER_CONCURRENCY)
            .map(|i| {
                let (client, url) = (client.clone(), format!("{base}/uss/v1/operational_intents/{i}"));
                tokio::spawn(async move {
                    client.send(Method::GET, &url, &[], None::<&()>, Duration::from_secs(10)).await
                })
            })
            .collect();
        for call in calls {
            assert_eq!(call.await.unwrap().unwrap().status, 200);
        }
        let most = most.load(Ordering::SeqCst);
        assert!(most <= PEER_CONCURRENCY, "{most} calls in flight at once");
        assert!(most > 1, "the calls did not overlap at all");
    }
}
