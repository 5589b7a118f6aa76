//! The demo's cast on loopback: a DSS with its web map, the two operators' USSs and the authority's, each
//! with its own generated key, and the issuer of the people's tokens (pilots, the authority, the observer).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use entente_dss::{Dss, Limits, SystemClock};
use entente_server::AppState;
use entente_server::auth::{Authenticator, TokenIssuer};
use entente_server::uss::{AuditLog, TokenSource, UssConfig, UssState, serve_uss};
use entente_store::RedbStore;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::dss::{serve_until_signal, shutdown_signal};

/// The host every token names as its `aud`, since everyone is reached as `localhost`.
const AUDIENCE: &str = "localhost";
/// How long the tokens of the people in the story live; the DSS accepts at most an hour.
const TOKEN_TTL: Duration = Duration::from_secs(3600);

/// One USS of the story: who it is at the DSS, where it serves, and where it keeps its audit log.
pub(super) struct Uss {
    pub(super) id: &'static str,
    pub(super) base: String,
    pub(super) audit_log: PathBuf,
}

pub(super) struct Cast {
    pub(super) dss: String,
    pub(super) north: Uss,
    pub(super) south: Uss,
    pub(super) authority: Uss,
    /// Signs the tokens of the people: pilots, the authority's officers and the demo's observer.
    people: TokenIssuer,
    servers: Vec<JoinHandle<anyhow::Result<()>>>,
}

impl Cast {
    /// Generates a key for each (kept in memory only: they serve this one story) and starts every server on
    /// an ephemeral loopback port, with its data in `dir`.
    pub(super) async fn start(dir: &Path, equal_priority_may_conflict: bool) -> anyhow::Result<Cast> {
        let mut issuers = Vec::new();
        for name in ["people", "uss-north", "uss-south", "uss-authority"] {
            issuers.push((name, TokenIssuer::generate_es256_pem()?));
        }
        let publics = issuers
            .iter()
            .map(|(_, pem)| TokenIssuer::from_pem(pem, None)?.public_pem())
            .collect::<Result<Vec<_>, _>>()?;
        let publics: Vec<&str> = publics.iter().map(String::as_str).collect();
        let trust = || Authenticator::from_pem_strings(&publics, vec![AUDIENCE.to_owned()]).map(Arc::new);

        let mut servers = Vec::new();
        let store = RedbStore::open(&dir.join("dss"))
            .with_context(|| format!("opening the store in {}", dir.join("dss").display()))?;
        let limits = Limits { allow_http_base_urls: true, ..Limits::default() };
        let dss = Arc::new(Dss::open(Arc::new(store), Arc::new(SystemClock), limits)?);
        let state = Arc::new(AppState::new(dss, trust()?, 1 << 20).with_map());
        let (listener, dss_url) = bind().await?;
        servers.push(tokio::spawn(serve_until_signal(
            listener,
            state.clone(),
            entente_server::app(state),
            chrono::Duration::minutes(30),
            Duration::from_secs(60),
        )));

        let mut usss = Vec::new();
        for (id, pem) in issuers.iter().skip(1) {
            let (listener, base) = bind().await?;
            let folder = dir.join(id);
            std::fs::create_dir_all(&folder).with_context(|| format!("creating {}", folder.display()))?;
            let audit_log = folder.join("audit.jsonl");
            let mut config = UssConfig::new(*id, &base, &dss_url);
            config.policy.equal_priority_may_conflict = equal_priority_may_conflict;
            // Generous, so a loaded machine cannot turn a slow peer into a silent one.
            config.peer_timeout = Duration::from_secs(5);
            config.data_dir = Some(folder.clone());
            let tokens = TokenSource::dev(TokenIssuer::from_pem(pem, None)?, *id);
            let audit = Arc::new(AuditLog::open(&audit_log)?);
            let state = Arc::new(UssState::open(config, trust()?, tokens, audit)?);
            servers.push(tokio::spawn(async move {
                serve_uss(listener, state, shutdown_signal()).await.map_err(anyhow::Error::from)
            }));
            usss.push(Uss { id, base, audit_log });
        }
        let [north, south, authority] =
            <[Uss; 3]>::try_from(usss).map_err(|_| anyhow::anyhow!("three USSs"))?;
        let people = TokenIssuer::from_pem(&issuers[0].1, None)?;
        Ok(Cast { dss: dss_url, north, south, authority, people, servers })
    }

    pub(super) fn map_url(&self) -> String {
        format!("{}/map/", self.dss)
    }

    /// A token for one of the people in the story.
    pub(super) fn token(&self, sub: &str, scopes: &[&str]) -> anyhow::Result<String> {
        Ok(self.people.issue(sub, scopes, AUDIENCE, TOKEN_TTL)?)
    }

    /// Waits for every server to finish its graceful stop (they all stop on the same Ctrl-C).
    pub(super) async fn stop(self) {
        for server in self.servers {
            match server.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::warn!(error = %e, "a demo server failed"),
                Err(e) => tracing::warn!(error = %e, "a demo server task failed"),
            }
        }
    }
}

/// An ephemeral loopback port and the base URL it is reached at.
async fn bind() -> anyhow::Result<(TcpListener, String)> {
    let listener = TcpListener::bind("127.0.0.1:0").await.context("listening on loopback")?;
    let base = format!("http://{AUDIENCE}:{}", listener.local_addr()?.port());
    Ok((listener, base))
}
