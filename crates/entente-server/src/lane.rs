//! The heavy lane: a request that carries a large body (or a long URI) is served on a thread of its own, shared by
//! every such request of the process, so that however many arrive at once, parsing and validating them keeps at
//! most one core busy and the runtime's workers stay free for everything else (a small query beside ten thousand
//! vertices being refused, say).

use std::sync::LazyLock;

use axum::extract::Request;
use axum::http::StatusCode;
use axum::http::header::{CONTENT_LENGTH, TRANSFER_ENCODING};
use axum::middleware::Next;
use axum::response::Response;
use tokio::runtime::Handle;

use crate::request_id::Internal;

/// Bodies above this take the lane: about 1 400 polygon vertices, far beyond what F3548 traffic sends (a flight's
/// volumes are some kilobytes), and below which no input costs more than about a millisecond.
pub(crate) const HEAVY_BODY_BYTES: u64 = 64 * 1024;

/// URIs above this take the lane too (an F3411 search's `area` is a polygon in the query string).
const HEAVY_URI_BYTES: usize = 8 * 1024;

/// A single-threaded runtime on a thread of its own, started on the first heavy request; `None` if the thread
/// could not be started, and then heavy requests are served where they arrive, as before.
static LANE: LazyLock<Option<Handle>> = LazyLock::new(|| {
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            tracing::error!(error = %e, "the heavy-request lane could not be built; serving in place");
            return None;
        }
    };
    let handle = runtime.handle().clone();
    let started = std::thread::Builder::new()
        .name("entente-heavy".into())
        .spawn(move || runtime.block_on(std::future::pending::<()>()));
    match started {
        Ok(_) => Some(handle),
        Err(e) => {
            tracing::error!(error = %e, "the heavy-request lane could not be started; serving in place");
            None
        }
    }
});

/// Whether the request may cost more than a millisecond or so to read and check: a large or undeclared body
/// (chunked), or a long URI.
fn is_heavy(req: &Request) -> bool {
    let headers = req.headers();
    let declared = headers.get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    let large = declared.is_some_and(|n| n > HEAVY_BODY_BYTES);
    let undeclared = declared.is_none() && headers.contains_key(TRANSFER_ENCODING);
    let long_uri = req.uri().path_and_query().is_some_and(|p| p.as_str().len() > HEAVY_URI_BYTES);
    large || undeclared || long_uri
}

/// Middleware: heavy requests are served on the lane; the rest where they arrive.
pub(crate) async fn heavy_lane(req: Request, next: Next) -> Response {
    let lane = match LANE.as_ref() {
        Some(lane) if is_heavy(&req) => lane,
        _ => return next.run(req).await,
    };
    match lane.spawn(next.run(req)).await {
        Ok(response) => response,
        // A handler that panicked, or the lane itself failing.
        Err(e) => Internal::response(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal error; the request may not have been applied",
            format!("a request on the heavy-request lane did not complete: {e}"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(headers: &[(&str, &str)], uri: &str) -> Request {
        let mut builder = Request::builder().uri(uri);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(axum::body::Body::empty()).unwrap()
    }

    #[test]
    fn large_undeclared_and_long_requests_are_heavy() {
        assert!(!is_heavy(&request(&[], "/healthy")));
        assert!(!is_heavy(&request(&[("content-length", "65536")], "/dss/v1/x")));
        assert!(is_heavy(&request(&[("content-length", "65537")], "/dss/v1/x")));
        assert!(is_heavy(&request(&[("transfer-encoding", "chunked")], "/dss/v1/x")));
        assert!(is_heavy(&request(&[], &format!("/rid/v2/dss/flights?area={}", "1,".repeat(5000)))));
    }
}
