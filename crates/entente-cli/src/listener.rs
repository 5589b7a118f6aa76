//! The flags every listening command shares: how its listener treats connections.

use std::time::Duration;

use clap::Args;
use entente_server::ListenerLimits;

#[derive(Args, Clone, Debug)]
pub(crate) struct ListenerArgs {
    /// Most connections open at once; a connection past it is answered 503 with Retry-After and closed.
    #[arg(long, env = "ENTENTE_MAX_CONNECTIONS", default_value_t = ListenerLimits::default().max_connections)]
    max_connections: usize,
    /// Seconds within which a request's head must arrive, counted from when the connection is ready for it (so
    /// also the longest an idle kept-alive connection is kept).
    #[arg(long, env = "ENTENTE_HEAD_TIMEOUT_SECS", default_value_t = ListenerLimits::default().head_timeout.as_secs())]
    head_timeout_secs: u64,
    /// Slowest a request body may arrive, in bytes per second, after --body-grace-secs.
    #[arg(long, env = "ENTENTE_MIN_BODY_RATE", default_value_t = ListenerLimits::default().min_body_rate)]
    min_body_rate: u64,
    /// Seconds a request body may take before --min-body-rate applies.
    #[arg(long, env = "ENTENTE_BODY_GRACE_SECS", default_value_t = ListenerLimits::default().body_grace.as_secs())]
    body_grace_secs: u64,
}

impl ListenerArgs {
    pub(crate) fn limits(&self) -> ListenerLimits {
        ListenerLimits {
            max_connections: self.max_connections,
            head_timeout: Duration::from_secs(self.head_timeout_secs.max(1)),
            min_body_rate: self.min_body_rate,
            body_grace: Duration::from_secs(self.body_grace_secs),
        }
    }
}
