//! `entente serve`: everything one operator needs on one machine, in one process: the DSS on the embedded
//! store, a USS for each demo operator (mounted on the same listener), the web map that plans for them, and
//! development tokens signed by a key created on the first run and kept with the data.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use entente_dss::{Dss, Limits, SystemClock};
use entente_server::auth::{Authenticator, TokenIssuer};
use entente_server::uss::{
    AuditLog, TokenSource, UssConfig, UssState, declare_flights, render_metrics, rounds, uss_app,
};
use entente_server::{AppState, BasemapUrl, MapOperator};
use entente_store::RedbStore;

use crate::dss::serve_until_signal;
use crate::listener::ListenerArgs;
use crate::seed;
use crate::terrain::TerrainArgs;

/// The `aud` of development tokens, and so the audience this DSS accepts.
const AUDIENCE: &str = "localhost";

/// The operators that plan flights on the map, each a USS of its own identity.
pub(crate) const FLIGHT_OPERATORS: [&str; 2] = ["north-uss", "south-uss"];
/// The USS that declares restricted zones (its authority API) for the airspace authority.
pub(crate) const AUTHORITY: &str = "authority";

#[derive(Args)]
pub(crate) struct ServeArgs {
    /// Address to listen on; the map needs no token, so keep it on loopback unless everyone who can reach
    /// it may see the airspace.
    #[arg(long, env = "ENTENTE_LISTEN", default_value = "127.0.0.1:8082")]
    listen: SocketAddr,
    /// Folder of the embedded store and of the development keys (`dev-keys/`); created if missing.
    #[arg(long, env = "ENTENTE_DATA_DIR", default_value = "./entente-data")]
    data_dir: PathBuf,
    /// Fill an empty airspace with sample operational intents (two of them in conflict, one flying, so its USS
    /// declares an ISA), a constraint, a subscription, an ISA and 4 minutes of Remote ID traffic (two aircraft
    /// on a collision course), so the map has something to show.
    #[arg(long)]
    seed: bool,
    /// Draw the map over this basemap instead of the embedded ones: a raster or vector tile server's URL
    /// template with `{z}`, `{x}` and `{y}`, or a PMTiles archive's URL (served with byte ranges). The page
    /// may then reach that server, and only it beside this one.
    #[arg(long, env = "ENTENTE_BASEMAP_URL")]
    basemap_url: Option<BasemapUrl>,
    /// How long an ended entity stays readable by id before it is evicted, in minutes.
    #[arg(long, env = "ENTENTE_RETENTION_MINUTES", default_value_t = 30)]
    retention_minutes: i64,
    /// Let the USSs download geospatial data sources over plain http (testing and local development only); the
    /// DSS takes plain-http base URLs always, its USSs being on this process's own http listener.
    #[arg(long, env = "ENTENTE_ALLOW_HTTP_BASE_URLS")]
    allow_http_base_urls: bool,
    #[command(flatten)]
    terrain: TerrainArgs,
    #[command(flatten)]
    listener: ListenerArgs,
}

pub(crate) async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let store = RedbStore::open(&args.data_dir)
        .with_context(|| format!("opening the store in {}", args.data_dir.display()))?;
    let limits = Limits { allow_http_base_urls: true, ..Limits::default() };
    let dss =
        Arc::new(Dss::open(Arc::new(store), Arc::new(SystemClock), limits).context("loading the store")?);
    let (pem, private_key) = dev_key(&args.data_dir)?;
    let issuer = TokenIssuer::from_pem(&pem, None)?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
    let address = listener.local_addr()?;
    if !address.ip().is_loopback() {
        tracing::warn!(%address, "the map needs no token and plans as the demo operators: anyone reaching this address can read the airspace and file flights");
    }
    let base = internal_base(address);
    let auth = dev_authenticator(&issuer, &base)?;
    let usses =
        UssSetup { terrain: args.terrain.open()?, allow_http_data_sources: args.allow_http_base_urls };
    let operators = Operators::open(auth.clone(), &base, &args.data_dir, &pem, &usses)?;
    let state = AppState::new(dss, auth, 1 << 20)
        .with_map()
        .with_map_basemap(args.basemap_url)
        .with_listener_limits(args.listener.limits());
    let state = Arc::new(operators.announce(state, &base, &pem)?);
    let router = operators.mount(entente_server::app(state.clone()));
    let rounds = operators.spawn_rounds();
    let server = tokio::spawn(serve_until_signal(
        listener,
        state.clone(),
        router,
        chrono::Duration::minutes(args.retention_minutes),
        Duration::from_secs(60),
    ));
    let result = async {
        if args.seed {
            seed(&base, &issuer, &state, &operators).await.context("seeding the airspace")?;
        }
        print_welcome(&base, &args.data_dir, &private_key);
        server.await.context("the server task failed")?
    }
    .await;
    for round in rounds {
        round.abort();
    }
    result?;
    tracing::info!("entente serve stopped");
    Ok(())
}

/// Seeds the airspace, then has each USS declare the ISA over its activated flights at once, so what the map
/// shows when the banner appears does not depend on the Remote ID round's timing.
async fn seed(
    base: &str,
    issuer: &TokenIssuer,
    state: &AppState,
    operators: &Operators,
) -> anyhow::Result<()> {
    seed::run(base, issuer, AUDIENCE, &state.dss).await?;
    for (name, uss) in &operators.0 {
        declare_flights(uss).await.with_context(|| format!("declaring the ISA of {name}"))?;
    }
    Ok(())
}

/// How the DSS and the USSs in this process call each other: the listening address, or loopback when it
/// listens on every interface.
pub(crate) fn internal_base(address: SocketAddr) -> String {
    let ip = match address.ip() {
        ip if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        ip => ip,
    };
    format!("http://{}", SocketAddr::new(ip, address.port()))
}

/// What the DSS and every USS of this process accept: the development key's tokens for `localhost` and for
/// the host of `base` (which the USSs, naming the host they call, put in `aud`).
pub(crate) fn dev_authenticator(issuer: &TokenIssuer, base: &str) -> anyhow::Result<Arc<Authenticator>> {
    let host = reqwest::Url::parse(base)?.host_str().context("a host in the base URL")?.to_owned();
    Ok(Arc::new(Authenticator::from_pem_strings(&[&issuer.public_pem()?], vec![AUDIENCE.to_owned(), host])?))
}

/// What every USS of `entente serve` shares from its flags.
pub(crate) struct UssSetup {
    pub(crate) terrain: Arc<dyn entente_geozones::Terrain>,
    pub(crate) allow_http_data_sources: bool,
}

/// The USSs `entente serve` runs beside its DSS, by name: one per demo flight operator and the authority's. The
/// DSS knows nothing of them; this process mounts their routers beside its own and runs their rounds.
pub(crate) struct Operators(Vec<(&'static str, Arc<UssState>)>);

impl Operators {
    /// Opens a USS for every demo operator and the authority, to be mounted under `{base}/uss/{name}` and to sign
    /// with the development key `pem`. Each USS keeps its flights and its audit log in `<data>/{name}/`, so a
    /// second run finds them again.
    pub(crate) fn open(
        auth: Arc<Authenticator>,
        base: &str,
        data_dir: &Path,
        pem: &str,
        setup: &UssSetup,
    ) -> anyhow::Result<Operators> {
        let mut usses = Vec::new();
        for name in FLIGHT_OPERATORS.into_iter().chain([AUTHORITY]) {
            let dir = data_dir.join(name);
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            let mut config = UssConfig::new(name, &uss_url(base, name), base);
            config.priority_grants = Some(crate::priority_policy::serve_policy());
            config.data_dir = Some(dir.clone());
            config.terrain = setup.terrain.clone();
            config.allow_http_data_sources = setup.allow_http_data_sources;
            let audit = AuditLog::open(&dir.join("audit.jsonl"))
                .with_context(|| format!("opening {}", dir.join("audit.jsonl").display()))?;
            let uss = UssState::open(config, auth.clone(), signer(pem, name)?, Arc::new(audit))
                .with_context(|| format!("loading the flights of {name}"))?;
            usses.push((name, Arc::new(uss)));
        }
        Ok(Operators(usses))
    }

    /// Lets the map plan for the flight operators, and adds every USS's series to the DSS's `/metrics`, so one
    /// scrape shows the whole process.
    fn announce(&self, mut state: AppState, base: &str, pem: &str) -> anyhow::Result<AppState> {
        for name in FLIGHT_OPERATORS {
            state = state.with_map_operator(MapOperator::new(name, &uss_url(base, name), signer(pem, name)?));
        }
        let usses: Vec<Arc<UssState>> = self.0.iter().map(|(_, uss)| uss.clone()).collect();
        Ok(state.with_metrics(move || render_metrics(&usses.iter().map(|u| &**u).collect::<Vec<_>>())))
    }

    /// `router` with each USS's own router nested under `/uss/{name}`: after the DSS's layers, so each keeps its
    /// own fallback, panic guard and audit.
    fn mount(&self, router: axum::Router) -> axum::Router {
        self.0
            .iter()
            .fold(router, |router, (name, uss)| router.nest(&format!("/uss/{name}"), uss_app(uss.clone())))
    }

    /// Starts each USS's background rounds (Remote ID: its ISAs, polling SPs), as `entente uss` runs them.
    fn spawn_rounds(&self) -> Vec<tokio::task::JoinHandle<()>> {
        self.0.iter().map(|(_, uss)| tokio::spawn(rounds(uss.clone()))).collect()
    }
}

/// Where operator `name`'s USS is mounted.
pub(crate) fn uss_url(base: &str, name: &str) -> String {
    format!("{base}/uss/{name}")
}

/// Tokens for `name` signed with the development key (a [`TokenSource`] owns its issuer).
fn signer(pem: &str, name: &str) -> anyhow::Result<TokenSource> {
    Ok(TokenSource::dev(TokenIssuer::from_pem(pem, None)?, name))
}

/// The key pair in `<data>/dev-keys/`: made on the first run, reused after, so tokens and the keys other
/// tools were given stay valid across restarts. The public half is written too, for `entente dss
/// --public-key` or a USS that checks tokens itself. Returns the private key's PEM and its path.
pub(crate) fn dev_key(data_dir: &Path) -> anyhow::Result<(String, PathBuf)> {
    let dir = data_dir.join("dev-keys");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let private = dir.join("private.pem");
    let pem = match std::fs::read_to_string(&private) {
        Ok(pem) => pem,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let pem = TokenIssuer::generate_es256_pem()?;
            write_private(&private, &pem)?;
            tracing::info!(path = %private.display(), "created a development signing key");
            pem
        }
        Err(e) => return Err(e).with_context(|| format!("reading {}", private.display())),
    };
    let issuer =
        TokenIssuer::from_pem(&pem, None).with_context(|| format!("loading {}", private.display()))?;
    let public = dir.join("public.pem");
    std::fs::write(&public, issuer.public_pem()?).with_context(|| format!("writing {}", public.display()))?;
    Ok((pem, private))
}

/// Only the owner may read the key: whoever holds it can write to this DSS.
fn write_private(path: &Path, pem: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).with_context(|| format!("creating {}", path.display()))?;
    file.write_all(pem.as_bytes()).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// Printed, not logged: it is the answer to "what do I do now", whatever the log filter.
fn print_welcome(base: &str, data_dir: &Path, private_key: &Path) {
    println!(
        "entente serve: DSS, operators' USSs, map and development token issuer, data in {}",
        data_dir.display()
    );
    println!("  map           {base}/map/");
    println!("  F3548 DSS     {base}/dss/v1/");
    println!("  F3411 DSS     {base}/rid/v2/dss/ (F3411-22a), {base}/v1/dss/ (F3411-19)");
    for name in FLIGHT_OPERATORS {
        println!(
            "  USS {name:<9} {}/ (operator API: operator/v1/flights; data in {})",
            uss_url(base, name),
            data_dir.join(name).display()
        );
    }
    println!(
        "  authority     {}/ (authority API: authority/v1/constraints; data in {})",
        uss_url(base, AUTHORITY),
        data_dir.join(AUTHORITY).display()
    );
    println!("  health        {base}/healthy, metrics {base}/metrics");
    let key = private_key.display();
    println!(
        "  a token       entente token --private-key {key} --sub uss1 --scope utm.strategic_coordination"
    );
    println!("  as operator   entente token --private-key {key} --sub north-uss --scope entente.operator");
    println!("  as authority  entente token --private-key {key} --sub authority --scope entente.authority");
    println!("Ctrl-C stops it; the data stays for the next run.");
}
