//! `entente dss`: one DSS instance, alone on the embedded redb store or one of a pool sharing etcd.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, ValueEnum};
use entente_dss::{Dss, Limits, SystemClock};
use entente_server::auth::{AuthConfig, Authenticator};
use entente_server::{AppState, BasemapUrl, DEFAULT_CLIENT_CONCURRENCY};
use entente_store::{ABANDONED_AFTER, EtcdConfig, EtcdStore, LocalReads, RedbStore};

use crate::listener::ListenerArgs;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum StoreKind {
    /// The embedded redb file in --data-dir: one instance.
    Embedded,
    /// An etcd cluster shared by a pool of instances.
    Etcd,
}

#[derive(Args)]
pub(crate) struct DssArgs {
    /// Address to listen on.
    #[arg(long, env = "ENTENTE_LISTEN", default_value = "127.0.0.1:8082")]
    listen: SocketAddr,
    /// Where entities are stored.
    #[arg(long, env = "ENTENTE_STORE", value_enum, default_value_t = StoreKind::Embedded)]
    store: StoreKind,
    /// Folder of the embedded store; created if missing.
    #[arg(long, env = "ENTENTE_DATA_DIR", default_value = "./entente-data")]
    data_dir: PathBuf,
    /// Client URLs of the etcd members (with --store etcd).
    #[arg(long, env = "ENTENTE_ETCD_ENDPOINTS", value_delimiter = ',')]
    etcd_endpoints: Vec<String>,
    /// Key prefix of this pool in etcd; every instance of one pool uses the same.
    #[arg(long, env = "ENTENTE_ETCD_PREFIX", default_value = "/entente")]
    etcd_prefix: String,
    /// PEM file of a public key (RSA or P-256) trusted to sign access tokens; repeatable.
    #[arg(long = "public-key", env = "ENTENTE_PUBLIC_KEYS", value_delimiter = ',')]
    public_keys: Vec<PathBuf>,
    /// JWKS URL of a trusted token issuer; repeatable.
    #[arg(long = "jwks-url", env = "ENTENTE_JWKS_URLS", value_delimiter = ',')]
    jwks_urls: Vec<String>,
    /// Accepted token audiences (the host names clients use to reach this DSS).
    #[arg(long, env = "ENTENTE_AUDIENCE", value_delimiter = ',', required = true)]
    audience: Vec<String>,
    /// Accept plain-http uss_base_url values (testing and local development only).
    #[arg(long, env = "ENTENTE_ALLOW_HTTP_BASE_URLS")]
    allow_http_base_urls: bool,
    /// Largest area of an entity or query, in km².
    #[arg(long, default_value_t = 2500.0)]
    max_area_km2: f64,
    /// Longest explicit subscription, in hours.
    #[arg(long, default_value_t = 24)]
    max_subscription_hours: i64,
    /// Most vertices in one polygon.
    #[arg(long, default_value_t = 10_000)]
    max_vertices: usize,
    /// Most volumes in one entity's extents.
    #[arg(long, default_value_t = 1_000)]
    max_extents: usize,
    /// Most references one query may return.
    #[arg(long, default_value_t = 10_000)]
    max_results: usize,
    /// Largest request body, in bytes.
    #[arg(long, default_value_t = 1 << 20)]
    max_body_bytes: usize,
    /// Most requests one client (access token subject) may have in flight at once; past it, 429 with
    /// Retry-After.
    #[arg(long, env = "ENTENTE_CLIENT_CONCURRENCY", default_value_t = DEFAULT_CLIENT_CONCURRENCY)]
    client_concurrency: usize,
    #[command(flatten)]
    listener: ListenerArgs,
    /// How long an ended entity (intent, constraint, subscription, ISA) stays readable by id before it is
    /// evicted, in minutes.
    #[arg(long, env = "ENTENTE_RETENTION_MINUTES", default_value_t = 30)]
    retention_minutes: i64,
    /// How often ended entities are evicted, in seconds.
    #[arg(long, default_value_t = 60)]
    eviction_interval_secs: u64,
    /// How often JWKS keys are fetched again, in seconds.
    #[arg(long, default_value_t = 300)]
    jwks_refresh_secs: u64,
    /// Also serve the web map under /map/, readable without a token by anyone who reaches this address.
    #[arg(long, env = "ENTENTE_MAP")]
    map: bool,
    /// With --map: draw the map over this basemap instead of the embedded ones, a raster or vector tile
    /// server's URL template with `{z}`, `{x}` and `{y}`, or a PMTiles archive's URL (served with byte ranges).
    #[arg(long, env = "ENTENTE_BASEMAP_URL", requires = "map")]
    basemap_url: Option<BasemapUrl>,
    /// With --store etcd, answer reads from this instance's replica while its etcd lease is certainly alive, as a
    /// member of the pool, instead of after a quorum read of the pool's newest revision (linearizable either
    /// way: docs/design/etcd-pool.md). Off by default: a member that stops or is cut off holds the pool's
    /// writes back until its lease expires, and a starting instance answers no read for about a lease's TTL.
    #[arg(long, env = "ENTENTE_POOL_LOCAL_READS")]
    pool_local_reads: bool,
    /// TTL of this instance's etcd lease, in seconds: as a pool member it answers reads from its replica while
    /// the lease is certainly alive, and a member that stopped holds the pool's writes back for at most this long.
    #[arg(long, env = "ENTENTE_POOL_LEASE_SECS", default_value_t = LocalReads::default().lease_ttl.as_secs())]
    pool_lease_secs: u64,
    /// Bound on how much this host's monotonic clock may run faster or slower than the etcd leader's, as a
    /// fraction (0.01: 1 %); the lease counts as alive for its TTL less this share.
    #[arg(long, env = "ENTENTE_POOL_CLOCK_DRIFT", default_value_t = LocalReads::default().clock_drift)]
    pool_clock_drift: f64,
    /// With --pool-local-reads, where to listen for the other members telling this instance directly which
    /// revision they received, so that its writes need not wait for their next put in etcd (`none`: never).
    /// The default, any free loopback port, suits a pool on one machine.
    #[arg(long, env = "ENTENTE_POOL_PEER_LISTEN", default_value = "127.0.0.1:0")]
    pool_peer_listen: String,
    /// The address the other members reach that listener at (host:port); by default the one it is bound to.
    #[arg(long, env = "ENTENTE_POOL_PEER_ADVERTISE")]
    pool_peer_advertise: Option<String>,
    /// Deliberately broken pool: reads answered from this instance's replica while writes do not wait for the
    /// members to receive them, nor commits for the members before reads see them. Only for showing that
    /// `entente check-pool --unsafe-local-reads` catches the violation.
    #[arg(long, hide = true)]
    unsafe_local_reads: bool,
}

pub(crate) async fn run(args: DssArgs) -> anyhow::Result<()> {
    if args.public_keys.is_empty() && args.jwks_urls.is_empty() {
        anyhow::bail!(
            "give at least one --public-key or --jwks-url: without a trusted key no request can be authenticated"
        );
    }
    let limits = Limits {
        max_area_m2: args.max_area_km2 * 1e6,
        max_subscription_duration: chrono::Duration::hours(args.max_subscription_hours),
        max_vertices: args.max_vertices,
        max_extents: args.max_extents,
        max_results: args.max_results,
        allow_http_base_urls: args.allow_http_base_urls,
        ..Limits::default()
    };
    let (dss, follower) = match args.store {
        StoreKind::Embedded => {
            let store = RedbStore::open(&args.data_dir)
                .with_context(|| format!("opening the store in {}", args.data_dir.display()))?;
            (
                Arc::new(
                    Dss::open(Arc::new(store), Arc::new(SystemClock), limits).context("loading the store")?,
                ),
                None,
            )
        }
        StoreKind::Etcd => {
            if args.etcd_endpoints.is_empty() {
                anyhow::bail!("--store etcd needs --etcd-endpoints URL[,URL...]");
            }
            if !(0.0..1.0).contains(&args.pool_clock_drift) || args.pool_lease_secs == 0 {
                anyhow::bail!("--pool-clock-drift must be in [0, 1) and --pool-lease-secs at least 1");
            }
            let local_reads = LocalReads {
                lease_ttl: Duration::from_secs(args.pool_lease_secs),
                clock_drift: args.pool_clock_drift,
                wait_for_members: !args.unsafe_local_reads,
                peer_listen: (args.pool_peer_listen != "none").then(|| args.pool_peer_listen.clone()),
                peer_advertise: args.pool_peer_advertise.clone(),
                ..LocalReads::default()
            };
            let config = EtcdConfig {
                endpoints: args.etcd_endpoints.clone(),
                prefix: args.etcd_prefix.clone(),
                abandoned_after: ABANDONED_AFTER,
                local_reads: (args.pool_local_reads || args.unsafe_local_reads).then_some(local_reads),
            };
            let store = Arc::new(EtcdStore::connect(&config)?);
            let (snapshot, at) = store.snapshot().await.with_context(|| {
                format!("loading the pool from etcd at {}", args.etcd_endpoints.join(","))
            })?;
            let dss = Arc::new(Dss::pooled(store.clone(), snapshot, at, Arc::new(SystemClock), limits));
            let follower = store.follow(dss.clone());
            (dss, Some(follower))
        }
    };
    let auth = Authenticator::new(AuthConfig {
        public_key_pems: args.public_keys,
        jwks_urls: args.jwks_urls,
        audiences: args.audience,
        jwks_refresh: Duration::from_secs(args.jwks_refresh_secs),
    })
    .await
    .context("loading token keys")?;
    let state = AppState::new(dss, Arc::new(auth), args.max_body_bytes)
        .with_client_concurrency(args.client_concurrency)
        .with_listener_limits(args.listener.limits());
    let state = Arc::new(if args.map { state.with_map().with_map_basemap(args.basemap_url) } else { state });
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
    let (intents, constraints, subscriptions) = state.dss.counts();
    tracing::info!(
        address = %listener.local_addr()?,
        store = ?args.store,
        pool_revision = state.dss.applied(),
        intents, constraints, subscriptions,
        "entente dss listening"
    );
    serve_until_signal(
        listener,
        state.clone(),
        entente_server::app(state),
        chrono::Duration::minutes(args.retention_minutes),
        Duration::from_secs(args.eviction_interval_secs),
    )
    .await?;
    if let Some(follower) = follower {
        follower.abort();
    }
    tracing::info!("entente dss stopped");
    Ok(())
}

/// Serves `router` (the DSS of `state`, with whatever the process nests in it) until SIGTERM or Ctrl-C, evicting
/// entities that ended more than `retention` ago.
pub(crate) async fn serve_until_signal(
    listener: tokio::net::TcpListener,
    state: Arc<AppState>,
    router: axum::Router,
    retention: chrono::Duration,
    eviction_interval: Duration,
) -> anyhow::Result<()> {
    let evictor = tokio::spawn(evict_expired(
        state.dss.clone(),
        retention,
        eviction_interval.max(Duration::from_secs(1)),
    ));
    let served = entente_server::serve_router(listener, router, &state, shutdown_signal()).await;
    evictor.abort();
    Ok(served?)
}

/// Periodically deletes every entity that ended more than `retention` ago.
async fn evict_expired(dss: Arc<Dss>, retention: chrono::Duration, every: Duration) {
    let mut ticks = tokio::time::interval(every);
    loop {
        ticks.tick().await;
        match dss.evict_expired(retention).await {
            Ok(evicted) if evicted.total() == 0 => {}
            Ok(evicted) => tracing::debug!(
                intents = evicted.operational_intents,
                constraints = evicted.constraints,
                subscriptions = evicted.subscriptions,
                isas = evicted.isas,
                rid_subscriptions = evicted.rid_subscriptions,
                "evicted ended entities"
            ),
            Err(e) => tracing::warn!(error = %e, "evicting ended entities failed"),
        }
    }
}

/// Resolves on SIGTERM or Ctrl-C, so in-flight requests can finish before exit.
pub(crate) async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
