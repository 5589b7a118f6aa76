//! The only crate that speaks HTTP and JSON: the DSS APIs (F3548-21 and both F3411 network Remote ID versions)
//! over axum, auth, metrics and OpenAPI, and the USS side of F3548-21 (`uss`).

mod app;
pub mod auth;
mod client_limit;
mod error;
mod extract;
mod interuss;
mod lane;
mod listener;
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

use std::future::Future;
use std::sync::Arc;

pub use app::{AppState, app};
pub use client_limit::DEFAULT_CLIENT_CONCURRENCY;
pub use error::ApiError;
pub use listener::{ListenerLimits, serve_with_limits};
pub use map::{BasemapUrl, MapOperator};

/// Serves the DSS of `state` until `shutdown` resolves, then ends event streams and lets in-flight requests finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<AppState>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_router(listener, app(state.clone()), &state, shutdown).await
}

/// Serves `router`, built on [`app`]`(state)` with more routers nested in it, until `shutdown` resolves, then ends
/// `state`'s event streams and lets in-flight requests finish.
pub async fn serve_router(
    listener: tokio::net::TcpListener,
    router: axum::Router,
    state: &AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let closing = state.closing.clone();
    let shutdown = async move {
        shutdown.await;
        closing.send_replace(true);
    };
    serve_with_limits(listener, router, state.listener_limits, shutdown).await
}
