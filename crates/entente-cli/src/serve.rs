//! `entente serve`: everything one operator needs on one machine, in one process: the DSS on the embedded
//! store, the web map, and development tokens signed by a key created on the first run and kept with the
//! data.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use entente_dss::{Dss, Limits, SystemClock};
use entente_server::AppState;
use entente_server::auth::{Authenticator, TokenIssuer};
use entente_store::RedbStore;

use crate::dss::serve_until_signal;
use crate::seed;

/// The `aud` of development tokens, and so the audience this DSS accepts.
const AUDIENCE: &str = "localhost";

#[derive(Args)]
pub(crate) struct ServeArgs {
    /// Address to listen on; the map needs no token, so keep it on loopback unless everyone who can reach
    /// it may see the airspace.
    #[arg(long, env = "ENTENTE_LISTEN", default_value = "127.0.0.1:8082")]
    listen: SocketAddr,
    /// Folder of the embedded store and of the development keys (`dev-keys/`); created if missing.
    #[arg(long, env = "ENTENTE_DATA_DIR", default_value = "./entente-data")]
    data_dir: PathBuf,
    /// Fill an empty airspace with sample operational intents (two of them in conflict), a constraint, a
    /// subscription and an ISA, so the map has something to show.
    #[arg(long)]
    seed: bool,
    /// How long an ended entity stays readable by id before it is evicted, in minutes.
    #[arg(long, env = "ENTENTE_RETENTION_MINUTES", default_value_t = 30)]
    retention_minutes: i64,
}

pub(crate) async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let store = RedbStore::open(&args.data_dir)
        .with_context(|| format!("opening the store in {}", args.data_dir.display()))?;
    let limits = Limits { allow_http_base_urls: true, ..Limits::default() };
    let dss =
        Arc::new(Dss::open(Arc::new(store), Arc::new(SystemClock), limits).context("loading the store")?);
    let (issuer, private_key) = dev_issuer(&args.data_dir)?;
    let auth = Authenticator::from_pem_strings(&[&issuer.public_pem()?], vec![AUDIENCE.to_owned()])?;
    let state = Arc::new(AppState::new(dss, Arc::new(auth), 1 << 20).with_map());
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
    let address = listener.local_addr()?;
    if !address.ip().is_loopback() {
        tracing::warn!(%address, "the map and its API need no token: anyone reaching this address sees the airspace");
    }
    let base = format!("http://{address}");
    let server = tokio::spawn(serve_until_signal(
        listener,
        state.clone(),
        chrono::Duration::minutes(args.retention_minutes),
        Duration::from_secs(60),
    ));
    if args.seed
        && let Err(e) = seed::run(&base, &issuer, AUDIENCE, &state.dss).await
    {
        server.abort();
        return Err(e.context("seeding the airspace"));
    }
    print_welcome(&base, &args.data_dir, &private_key);
    server.await.context("the server task failed")??;
    tracing::info!("entente serve stopped");
    Ok(())
}

/// The key pair in `<data>/dev-keys/`: made on the first run, reused after, so tokens and the keys other
/// tools were given stay valid across restarts. The public half is written too, for `entente dss
/// --public-key` or a USS that checks tokens itself.
fn dev_issuer(data_dir: &Path) -> anyhow::Result<(TokenIssuer, PathBuf)> {
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
    Ok((issuer, private))
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
    println!("entente serve: DSS, map and development token issuer, data in {}", data_dir.display());
    println!("  map           {base}/map/");
    println!("  F3548 DSS     {base}/dss/v1/");
    println!("  F3411 DSS     {base}/rid/v2/dss/ (F3411-22a), {base}/v1/dss/ (F3411-19)");
    println!("  health        {base}/healthy, metrics {base}/metrics");
    println!(
        "  a token       entente token --private-key {} --sub uss1 --scope utm.strategic_coordination",
        private_key.display()
    );
    println!("Ctrl-C stops it; the data stays for the next run.");
}
