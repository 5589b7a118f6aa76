//! The only crate that speaks HTTP and JSON: the DSS APIs (F3548-21 and both F3411 network Remote ID versions)
//! over axum, auth, metrics and OpenAPI, and the USS side of F3548-21 (`uss`).

mod app;
pub mod auth;
mod client_limit;
mod error;
mod extract;
mod interuss;
mod lane;
mod map;
mod metrics;
mod openapi;
mod path_params;
mod request_id;
mod responses;
mod rid;
mod routes;
mod scd;
pub mod uss;
mod wire;

use std::future::Future;
use std::sync::Arc;

pub use app::{AppState, app};
pub use client_limit::DEFAULT_CLIENT_CONCURRENCY;
pub use error::ApiError;
pub use map::MapOperator;

/// Serves until `shutdown` resolves, then ends event streams and lets in-flight requests finish. The Remote ID
/// rounds of the USSs served alongside (their ISA, polling SPs) run beside it until then, as `serve_uss` runs them.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<AppState>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let rounds: Vec<_> =
        state.uss.iter().map(|(_, uss)| tokio::spawn(uss::rid::background(uss.clone()))).collect();
    let closing = state.clone();
    let shutdown = async move {
        shutdown.await;
        closing.closing.send_replace(true);
    };
    let served = axum::serve(listener, app(state)).with_graceful_shutdown(shutdown).await;
    for round in rounds {
        round.abort();
    }
    served
}
