//! etcd's JSON gateway (`/v3/kv/range`, `/v3/kv/txn`, `/v3/watch`) over HTTP, with failover between members;
//! it keeps protoc and gRPC code generation out of the build.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use entente_dss::{Revision, StoreError};
use serde::{Deserialize, Deserializer, Serialize};

/// A request that gets no answer within this time counts as failed; its outcome is then unknown.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

pub(crate) fn b64(bytes: &[u8]) -> String {
    B64.encode(bytes)
}

/// The gateway writes 64-bit integers as strings (proto3 JSON) and omits zero values.
fn int64<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Int {
        Text(String),
        Number(i64),
    }
    match Int::deserialize(d)? {
        Int::Number(n) => Ok(n),
        Int::Text(t) => t.parse().map_err(serde::de::Error::custom),
    }
}

fn bytes<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
    let text = String::deserialize(d)?;
    B64.decode(text).map_err(serde::de::Error::custom)
}

#[derive(Clone, Debug, Default, Deserialize)]
pub(crate) struct Header {
    #[serde(default, deserialize_with = "int64")]
    pub(crate) revision: Revision,
}

#[derive(Clone, Debug, Deserialize)]
pub(crate) struct KeyValue {
    #[serde(deserialize_with = "bytes")]
    pub(crate) key: Vec<u8>,
    #[serde(default, deserialize_with = "bytes")]
    pub(crate) value: Vec<u8>,
    #[serde(default, deserialize_with = "int64")]
    pub(crate) mod_revision: Revision,
}

#[derive(Debug, Default, Serialize)]
pub(crate) struct RangeRequest {
    pub(crate) key: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(crate) range_end: String,
    #[serde(skip_serializing_if = "is_zero")]
    pub(crate) limit: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub(crate) revision: Revision,
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct RangeResponse {
    #[serde(default)]
    pub(crate) header: Header,
    #[serde(default)]
    pub(crate) kvs: Vec<KeyValue>,
    #[serde(default)]
    pub(crate) more: bool,
}

#[derive(Debug, Serialize)]
pub(crate) struct Compare {
    pub(crate) key: String,
    pub(crate) target: &'static str,
    pub(crate) result: &'static str,
    pub(crate) mod_revision: String,
}

impl Compare {
    /// True while the key was last changed before `revision` (or never exists).
    pub(crate) fn modified_before(key: &[u8], revision: Revision) -> Compare {
        Compare { key: b64(key), target: "MOD", result: "LESS", mod_revision: revision.to_string() }
    }
}

#[derive(Debug, Serialize)]
pub(crate) enum Op {
    #[serde(rename = "request_put")]
    Put { key: String, value: String },
    #[serde(rename = "request_delete_range")]
    Delete { key: String },
    #[serde(rename = "request_range")]
    Range(RangeRequest),
    /// A nested transaction (etcd ≥ 3.3): its compares decide its own branch only.
    #[serde(rename = "request_txn")]
    Txn(TxnRequest),
}

impl Op {
    pub(crate) fn put(key: &[u8], value: &[u8]) -> Op {
        Op::Put { key: b64(key), value: b64(value) }
    }

    pub(crate) fn delete(key: &[u8]) -> Op {
        Op::Delete { key: b64(key) }
    }

    pub(crate) fn get(key: &[u8]) -> Op {
        Op::Range(RangeRequest { key: b64(key), ..RangeRequest::default() })
    }
}

#[derive(Debug, Default, Serialize)]
pub(crate) struct TxnRequest {
    pub(crate) compare: Vec<Compare>,
    pub(crate) success: Vec<Op>,
    pub(crate) failure: Vec<Op>,
}

impl TxnRequest {
    /// What etcd counts against `--max-txn-ops`: the longest of its three lists.
    pub(crate) fn width(&self) -> usize {
        self.compare.len().max(self.success.len()).max(self.failure.len())
    }
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct TxnResponse {
    #[serde(default)]
    pub(crate) header: Header,
    #[serde(default)]
    pub(crate) succeeded: bool,
    #[serde(default)]
    pub(crate) responses: Vec<OpResponse>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct OpResponse {
    #[serde(default)]
    pub(crate) response_range: Option<RangeResponse>,
    #[serde(default)]
    pub(crate) response_txn: Option<Box<TxnResponse>>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct WatchMessage {
    #[serde(default)]
    pub(crate) result: Option<WatchResult>,
    #[serde(default)]
    pub(crate) error: Option<serde_json::Value>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct WatchResult {
    #[serde(default, deserialize_with = "int64")]
    pub(crate) compact_revision: Revision,
    #[serde(default)]
    pub(crate) canceled: bool,
    #[serde(default)]
    pub(crate) events: Vec<Event>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Event {
    /// Absent for a put (proto3 leaves out the zero value).
    #[serde(default, rename = "type")]
    pub(crate) kind: Option<String>,
    pub(crate) kv: KeyValue,
}

impl Event {
    pub(crate) fn is_delete(&self) -> bool {
        self.kind.as_deref() == Some("DELETE")
    }
}

/// The members' client URLs; requests go to the last one that answered, and move on when it cannot be
/// reached.
pub(crate) struct Gateway {
    http: reqwest::Client,
    endpoints: Vec<String>,
    current: AtomicUsize,
}

fn io(e: impl std::fmt::Display) -> StoreError {
    StoreError::Io(e.to_string())
}

impl Gateway {
    pub(crate) fn new(endpoints: Vec<String>) -> Result<Gateway, StoreError> {
        if endpoints.is_empty() {
            return Err(io("no etcd endpoint given"));
        }
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(1))
            .pool_idle_timeout(Duration::from_secs(30))
            .build()
            .map_err(io)?;
        let endpoints: Vec<String> =
            endpoints.into_iter().map(|e| e.trim_end_matches('/').to_owned()).collect();
        // Instances start on different members, so the members share the work of the JSON gateway.
        let first = std::process::id() as usize % endpoints.len();
        Ok(Gateway { http, endpoints, current: AtomicUsize::new(first) })
    }

    /// Sends `body` to the current member, moving to the next one only when a member cannot be reached
    /// (the request was then not sent, so retrying it elsewhere cannot apply it twice).
    async fn post<Req: Serialize, Resp: for<'de> Deserialize<'de>>(
        &self,
        path: &str,
        body: &Req,
    ) -> Result<Resp, StoreError> {
        let mut last = None;
        for _ in 0..self.endpoints.len() * 2 {
            let i = self.current.load(Ordering::Relaxed);
            let url = format!("{}{path}", self.endpoints[i]);
            match self.http.post(&url).timeout(REQUEST_TIMEOUT).json(body).send().await {
                Ok(response) if response.status().is_success() => {
                    return response.json().await.map_err(|e| io(format!("etcd at {url}: {e}")));
                }
                Ok(response) => {
                    let status = response.status();
                    let text = response.text().await.unwrap_or_default();
                    return Err(io(format!("etcd at {url} answered {status}: {text}")));
                }
                Err(e) if e.is_connect() => {
                    tracing::debug!(endpoint = %self.endpoints[i], error = %e, "etcd member unreachable");
                    self.move_on_from(i);
                    last = Some(e);
                }
                Err(e) => return Err(io(format!("etcd at {url}: {e}"))),
            }
        }
        Err(io(format!(
            "no etcd member of {} answered: {}",
            self.endpoints.join(","),
            last.map(|e| e.to_string()).unwrap_or_default()
        )))
    }

    /// Moves to the next member unless another request already did.
    fn move_on_from(&self, i: usize) {
        let next = (i + 1) % self.endpoints.len();
        let _ = self.current.compare_exchange(i, next, Ordering::Relaxed, Ordering::Relaxed);
    }

    pub(crate) async fn range(&self, request: &RangeRequest) -> Result<RangeResponse, StoreError> {
        self.post("/v3/kv/range", request).await
    }

    pub(crate) async fn txn(&self, request: &TxnRequest) -> Result<TxnResponse, StoreError> {
        self.post("/v3/kv/txn", request).await
    }

    /// Opens a watch on `[key, range_end)` from `start` on the current member (moving on when it cannot be
    /// reached); read it with [`Watch::next`].
    pub(crate) async fn watch(
        &self,
        key: &[u8],
        range_end: &[u8],
        start: Revision,
    ) -> Result<Watch, StoreError> {
        let body = serde_json::json!({
            "create_request": { "key": b64(key), "range_end": b64(range_end), "start_revision": start.to_string() }
        });
        let mut last = None;
        for _ in 0..self.endpoints.len() {
            let i = self.current.load(Ordering::Relaxed);
            let url = format!("{}/v3/watch", self.endpoints[i]);
            match self.http.post(&url).json(&body).send().await {
                Ok(response) if response.status().is_success() => {
                    return Ok(Watch { response, buffer: Vec::new() });
                }
                Ok(response) => last = Some(format!("{url} answered {}", response.status())),
                Err(e) => last = Some(format!("{url}: {e}")),
            }
            self.move_on_from(i);
        }
        Err(io(format!("cannot watch etcd: {}", last.unwrap_or_default())))
    }
}

/// A watch stream: the gateway sends one JSON message per line.
pub(crate) struct Watch {
    response: reqwest::Response,
    buffer: Vec<u8>,
}

impl Watch {
    /// The next message, or `None` when the member closed the stream.
    pub(crate) async fn next(&mut self) -> Result<Option<WatchMessage>, StoreError> {
        loop {
            if let Some(end) = self.buffer.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.buffer.drain(..=end).collect();
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                return serde_json::from_slice(&line).map(Some).map_err(io);
            }
            match self.response.chunk().await.map_err(io)? {
                Some(chunk) => self.buffer.extend_from_slice(&chunk),
                None if self.buffer.iter().all(u8::is_ascii_whitespace) => return Ok(None),
                None => {
                    let line = std::mem::take(&mut self.buffer);
                    return serde_json::from_slice(&line).map(Some).map_err(io);
                }
            }
        }
    }
}
