//! A cap on the requests one client (the verified `sub` of its access token) has in flight at once: past it the
//! client is answered 429 with `Retry-After`, as F3548 allows, so that no single USS can hold the DSS's capacity
//! while the others wait.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use parking_lot::Mutex;

use crate::error::ApiError;
use crate::extract::Edge;

/// The default cap: four times the 32 concurrent clients `entente bench` runs with one token, and far above the
/// handful of parallel requests uss_qualifier and InterUSS's benchmarker send under one identity.
pub const DEFAULT_CLIENT_CONCURRENCY: usize = 128;

/// How long a refused client is asked to wait, in seconds: in-flight requests take milliseconds.
const RETRY_AFTER_S: u64 = 1;

/// Requests in flight per token subject, and the most one subject may have.
pub(crate) struct ClientLimit {
    max: usize,
    in_flight: Mutex<HashMap<String, usize>>,
}

impl ClientLimit {
    pub(crate) fn new(max: usize) -> ClientLimit {
        ClientLimit { max: max.max(1), in_flight: Mutex::new(HashMap::new()) }
    }

    /// A slot for one more request of `sub`, held until dropped; `None` when `sub` has `max` already.
    fn enter(self: &Arc<ClientLimit>, sub: &str) -> Option<Slot> {
        let mut in_flight = self.in_flight.lock();
        let count = in_flight.entry(sub.to_owned()).or_default();
        if *count >= self.max {
            return None;
        }
        *count += 1;
        Some(Slot { limit: self.clone(), sub: sub.to_owned() })
    }
}

/// One request in flight; leaving frees it, and a subject with none left is forgotten, so the map holds only the
/// clients being served.
struct Slot {
    limit: Arc<ClientLimit>,
    sub: String,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut in_flight = self.limit.in_flight.lock();
        if let Some(count) = in_flight.get_mut(&self.sub) {
            *count -= 1;
            if *count == 0 {
                in_flight.remove(&self.sub);
            }
        }
    }
}

/// What the middleware needs of a server's state.
pub(crate) trait Limited: Edge {
    fn client_limit(&self) -> &Arc<ClientLimit>;
}

/// Middleware: counts a request against its token's subject when the token verifies (anything else is left to the
/// handler, which answers 401), refusing it with 429 past the cap.
pub(crate) async fn per_client<S: Limited>(
    State(state): State<Arc<S>>,
    req: Request,
    next: Next,
) -> Response {
    let header = req.headers().get(AUTHORIZATION).and_then(|h| h.to_str().ok());
    let Ok(claims) = state.authenticator().verify(header) else { return next.run(req).await };
    let limit = state.client_limit();
    let Some(_slot) = limit.enter(&claims.sub) else {
        return ApiError::TooManyRequests {
            message: format!(
                "client {:?} already has {} requests in flight, the most one client may have; retry after \
                 {RETRY_AFTER_S} s",
                claims.sub, limit.max
            ),
            retry_after_s: RETRY_AFTER_S,
        }
        .into_response();
    };
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_counted_per_subject_and_freed() {
        let limit = Arc::new(ClientLimit::new(2));
        let a1 = limit.enter("a").unwrap();
        let _a2 = limit.enter("a").unwrap();
        assert!(limit.enter("a").is_none(), "a third for the same subject is refused");
        let _b = limit.enter("b").expect("another subject has its own count");
        drop(a1);
        let _a3 = limit.enter("a").expect("a freed slot is free again");
        drop(_a3);
        drop(_a2);
        assert!(!limit.in_flight.lock().contains_key("a"), "a subject with nothing in flight is forgotten");
    }
}
