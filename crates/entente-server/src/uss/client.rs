//! Outgoing calls to the DSS and to peer USSs: a token for the called host, a deadline, and an audit record of
//! every exchange, answered or not.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use entente_dss::{Clock, Scope};
use entente_uss::{Direction, Exchange, sha256_hex};
use reqwest::Method;
use serde::Serialize;
use serde::de::DeserializeOwned;

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
}

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
        Client { http: reqwest::Client::new(), tokens, audit, clock, metrics, dss_url: dss_url.to_owned() }
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
        let callee = if url.starts_with(&format!("{}/", self.dss_url)) { Callee::Dss } else { Callee::Peer };
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
