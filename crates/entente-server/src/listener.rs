//! How every listener (the DSS's, a USS's, `entente serve`'s) accepts and keeps connections: a cap on open
//! connections past which a newcomer is answered 503 with `Retry-After` and closed rather than left waiting, a time
//! within which each request's head must arrive (idle keep-alive included), and a rate below which a request body
//! may not arrive; so slow or silent clients cost a bounded number of sockets for a bounded time.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::Request;
use http_body::{Frame, SizeHint};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::time::{Instant, Sleep};
use tower::ServiceExt;

/// The limits of one listener; see the module's documentation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ListenerLimits {
    /// Most connections open at once; past it, 503 and close.
    pub max_connections: usize,
    /// Time for a request's head to arrive, counted from when the connection is ready for it (so also the longest
    /// a kept-alive connection may stay idle).
    pub head_timeout: Duration,
    /// A body may arrive no slower than this many bytes per second, after `body_grace`.
    pub min_body_rate: u64,
    /// Time a body may take before `min_body_rate` applies.
    pub body_grace: Duration,
}

impl Default for ListenerLimits {
    /// Generous for any USS or test tool (a 1 MiB body at the minimum rate takes over a minute), tight enough that
    /// a client holding sockets open without using them gives them up within half a minute.
    fn default() -> ListenerLimits {
        ListenerLimits {
            max_connections: 4096,
            head_timeout: Duration::from_secs(30),
            min_body_rate: 16 * 1024,
            body_grace: Duration::from_secs(10),
        }
    }
}

/// What a connection past the cap is told before it is closed.
const SHED: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Type: application/json\r\n\
Connection: close\r\nContent-Length: 77\r\n\r\n{\"message\":\"the server has too many connections open; retry after 1 second\"}";

/// Serves `router` on `listener` within `limits` until `shutdown` resolves, then stops accepting and lets the
/// requests in flight finish.
pub async fn serve_with_limits(
    listener: TcpListener,
    router: Router,
    limits: ListenerLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    // HTTP/1.1 only: every client of a DSS or USS speaks it over plain TCP, and a protocol sniffer (as axum::serve
    // has) would wait for a silent client's first byte with no time limit.
    let mut builder = http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(limits.head_timeout);
    tokio::pin!(shutdown);
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                // Out of file descriptors, say: wait a little rather than spin, as axum::serve does.
                Err(e) => {
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            tokio::spawn(shed(stream));
            continue;
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let service = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
            let req = req.map(|body| Body::new(MinRate::new(body, limits.min_body_rate, limits.body_grace)));
            router.clone().oneshot(Request::from(req))
        });
        let connection = builder.serve_connection(TokioIo::new(stream), service);
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
            drop(slot);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// Answers a connection past the cap and closes it, giving up after a second so that shedding cannot itself hang.
async fn shed(mut stream: TcpStream) {
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        stream.write_all(SHED).await?;
        stream.shutdown().await
    })
    .await;
}

/// The error of a body that arrived too slowly; [`crate::extract`] answers it 408.
#[derive(Debug, thiserror::Error)]
#[error("the request body arrived slower than {rate} bytes per second")]
pub(crate) struct TooSlow {
    pub(crate) rate: u64,
}

pin_project_lite::pin_project! {
    /// A request body that fails with [`TooSlow`] once fewer than `rate` bytes per second arrived since `grace` after
    /// it was first read.
    struct MinRate<B> {
        #[pin]
        inner: B,
        rate: u64,
        grace: Duration,
        started: Option<Instant>,
        received: u64,
        #[pin]
        deadline: Sleep,
    }
}

impl<B> MinRate<B> {
    fn new(inner: B, rate: u64, grace: Duration) -> MinRate<B> {
        MinRate {
            inner,
            rate: rate.max(1),
            grace,
            started: None,
            received: 0,
            deadline: tokio::time::sleep(grace),
        }
    }
}

impl<B> http_body::Body for MinRate<B>
where
    B: http_body::Body<Data = Bytes>,
    B::Error: Into<axum::BoxError>,
{
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let mut this = self.project();
        let started = *this.started.get_or_insert_with(|| {
            let now = Instant::now();
            this.deadline.as_mut().reset(now + *this.grace);
            now
        });
        match this.inner.poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    *this.received += data.len() as u64;
                    // The next byte is due once the bytes so far are used up at the minimum rate.
                    let due = started
                        + *this.grace
                        + Duration::from_secs_f64(*this.received as f64 / *this.rate as f64);
                    this.deadline.as_mut().reset(due);
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e.into()))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => match this.deadline.poll(cx) {
                Poll::Ready(()) => Poll::Ready(Some(Err(Box::new(TooSlow { rate: *this.rate })))),
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
