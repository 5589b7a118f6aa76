//! `entente uss`: one USS serving the USS-USS and operator APIs, planning against a DSS.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use entente_server::DEFAULT_CLIENT_CONCURRENCY;
use entente_server::auth::{AuthConfig, Authenticator, TokenIssuer};
use entente_server::uss::{
    AlternativeSearch, AuditLog, RidVersion, TokenSource, UssConfig, UssState, replay_csv, serve_uss,
};

use crate::dss::shutdown_signal;
use crate::listener::ListenerArgs;
use crate::terrain::TerrainArgs;

#[derive(Args)]
pub(crate) struct UssArgs {
    /// Base URL of the DSS (e.g. https://dss.example.com).
    #[arg(long, env = "ENTENTE_DSS_URL")]
    dss: String,
    /// Address to listen on.
    #[arg(long, env = "ENTENTE_LISTEN", default_value = "127.0.0.1:8083")]
    listen: SocketAddr,
    /// Base URL under which peers reach this USS's USS-USS API, as registered with the DSS.
    #[arg(long, env = "ENTENTE_BASE_URL")]
    base_url: String,
    /// This USS's client id: the `sub` of its tokens, which the DSS records as the manager of its intents.
    #[arg(long, env = "ENTENTE_CLIENT_ID")]
    client_id: String,
    /// Development mode: sign this USS's own tokens with this PEM private key (RSA or P-256).
    #[arg(long, env = "ENTENTE_PRIVATE_KEY", conflicts_with = "token_endpoint")]
    private_key: Option<PathBuf>,
    /// Production: OAuth 2 token endpoint for client credentials.
    #[arg(long, env = "ENTENTE_TOKEN_ENDPOINT", requires = "client_secret")]
    token_endpoint: Option<String>,
    /// Client secret for the token endpoint.
    #[arg(long, env = "ENTENTE_CLIENT_SECRET", hide_env_values = true)]
    client_secret: Option<String>,
    /// PEM file of a public key trusted to sign incoming tokens (peers, operators); repeatable.
    #[arg(long = "public-key", env = "ENTENTE_PUBLIC_KEYS", value_delimiter = ',')]
    public_keys: Vec<PathBuf>,
    /// JWKS URL of a trusted token issuer; repeatable.
    #[arg(long = "jwks-url", env = "ENTENTE_JWKS_URLS", value_delimiter = ',')]
    jwks_urls: Vec<String>,
    /// Accepted audiences of incoming tokens (the host names peers use to reach this USS).
    #[arg(long, env = "ENTENTE_AUDIENCE", value_delimiter = ',', required = true)]
    audience: Vec<String>,
    /// Folder of this USS's store (`uss.redb`: its flights, the zones it manages, the reports filed with it and its
    /// Remote ID ISA ids) kept across restarts; created if missing. Journals an older release kept here are
    /// migrated into it on first start.
    #[arg(long, env = "ENTENTE_DATA_DIR", default_value = "./entente-uss-data")]
    data_dir: PathBuf,
    /// The append-only, hash-chained record of every exchange with the DSS and peers.
    #[arg(long, env = "ENTENTE_AUDIT_LOG", default_value = "./entente-uss-audit.jsonl")]
    audit_log: PathBuf,
    /// Let intents of equal priority conflict (a regulator's choice; off by default).
    #[arg(long, env = "ENTENTE_EQUAL_PRIORITY_MAY_CONFLICT")]
    equal_priority_may_conflict: bool,
    /// Which priorities each operator may file, as a JSON file (levels by name, those every operator may use,
    /// those granted to particular operators; see docs). Without it every priority is permitted.
    #[arg(long, env = "ENTENTE_PRIORITY_POLICY")]
    priority_policy: Option<PathBuf>,
    /// This USS serves U-space airspace: every flight planned through the operator API or the flight planning test
    /// interface must come with its flight authorisation request (Regulation (EU) 2021/664, Article 10). Data given
    /// is checked either way.
    #[arg(long, env = "ENTENTE_REQUIRE_FLIGHT_AUTHORISATION")]
    require_flight_authorisation: bool,
    /// The highest altitude (metres, W84) an alternative to a refused flight may reach, unless the operator's own
    /// limits are lower (most drones may not fly above 120 m above ground).
    #[arg(long, env = "ENTENTE_ALTERNATIVES_CEILING_M", default_value_t = 3000.0)]
    alternatives_ceiling_m: f64,
    /// How far, in minutes, an alternative may move a flight later or earlier.
    #[arg(long, env = "ENTENTE_ALTERNATIVES_MAX_SHIFT_MINUTES", default_value_t = 120)]
    alternatives_max_shift_minutes: i64,
    /// How far sideways, in metres, an alternative may move an area or lead a route, unless the operator says
    /// otherwise (0 offers shifts in time and altitude only).
    #[arg(long, env = "ENTENTE_ALTERNATIVES_MAX_LATERAL_M", default_value_t = 500.0)]
    alternatives_max_lateral_m: f64,
    /// Deadline of each call to a peer, in milliseconds.
    #[arg(long, default_value_t = 1000)]
    peer_timeout_ms: u64,
    /// Largest request body, in bytes.
    #[arg(long, default_value_t = 1 << 20)]
    max_body_bytes: usize,
    /// Most requests one client (access token subject: an operator, a peer) may have in flight at once; past it,
    /// 429 with Retry-After.
    #[arg(long, env = "ENTENTE_CLIENT_CONCURRENCY", default_value_t = DEFAULT_CLIENT_CONCURRENCY)]
    client_concurrency: usize,
    #[command(flatten)]
    listener: ListenerArgs,
    /// How often JWKS keys are fetched again, in seconds.
    #[arg(long, default_value_t = 300)]
    jwks_refresh_secs: u64,
    /// The ASTM F3411 version of network Remote ID this USS speaks to the DSS and its peers: 22a or 19.
    #[arg(long, env = "ENTENTE_RID_VERSION", default_value = "22a", value_parser = ["22a", "19"])]
    rid_version: String,
    /// How long, in seconds, the Remote ID ISA and a flight's positions outlive the flight.
    #[arg(long, env = "ENTENTE_RID_RETENTION_SECS", default_value_t = 60)]
    rid_retention_secs: i64,
    /// Tactical conflict detection: horizontal radius of the protected zone, in metres.
    #[arg(long, env = "ENTENTE_TACTICAL_HORIZONTAL_M", default_value_t = 50.0)]
    tactical_horizontal_m: f64,
    /// Tactical conflict detection: vertical half-height of the protected zone, in metres.
    #[arg(long, env = "ENTENTE_TACTICAL_VERTICAL_M", default_value_t = 25.0)]
    tactical_vertical_m: f64,
    /// Tactical conflict detection: how far ahead losses of separation are predicted, in seconds.
    #[arg(long, env = "ENTENTE_TACTICAL_LOOKAHEAD_S", default_value_t = 60.0)]
    tactical_lookahead_s: f64,
    /// Replay CSV (id,lat,lon,alt_m,gs_mps,trk_deg,vs_mps,t) to play through this USS's Remote ID service
    /// provider from startup, as simulated flights.
    #[arg(long, env = "ENTENTE_REPLAY")]
    replay: Option<PathBuf>,
    /// Accept plain-http URLs where https is the rule: the geospatial data sources this USS is asked to download
    /// (testing and local development only).
    #[arg(long, env = "ENTENTE_ALLOW_HTTP_BASE_URLS")]
    allow_http_base_urls: bool,
    #[command(flatten)]
    terrain: TerrainArgs,
}

/// The USS's own bounds on the alternatives it offers, from the flags.
fn alternative_search(args: &UssArgs) -> anyhow::Result<AlternativeSearch> {
    let defaults = AlternativeSearch::default();
    anyhow::ensure!(
        args.alternatives_ceiling_m.is_finite() && args.alternatives_ceiling_m > defaults.altitude_floor_m,
        "--alternatives-ceiling-m must be above {} m, got {}",
        defaults.altitude_floor_m,
        args.alternatives_ceiling_m
    );
    anyhow::ensure!(
        (0..=24 * 60).contains(&args.alternatives_max_shift_minutes),
        "--alternatives-max-shift-minutes must be between 0 and 1440, got {}",
        args.alternatives_max_shift_minutes
    );
    anyhow::ensure!(
        (0.0..=5000.0).contains(&args.alternatives_max_lateral_m),
        "--alternatives-max-lateral-m must be between 0 and 5000, got {}",
        args.alternatives_max_lateral_m
    );
    Ok(AlternativeSearch {
        altitude_ceiling_m: args.alternatives_ceiling_m,
        max_time_shift: chrono::Duration::minutes(args.alternatives_max_shift_minutes),
        max_lateral_m: args.alternatives_max_lateral_m,
        ..defaults
    })
}

pub(crate) async fn run(args: UssArgs) -> anyhow::Result<()> {
    let alternatives = alternative_search(&args)?;
    if args.public_keys.is_empty() && args.jwks_urls.is_empty() {
        anyhow::bail!(
            "give at least one --public-key or --jwks-url to verify the tokens of peers and operators"
        );
    }
    let tokens = match (&args.private_key, &args.token_endpoint, &args.client_secret) {
        (Some(path), _, _) => {
            let pem = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
            TokenSource::dev(TokenIssuer::from_pem(&pem, None)?, &args.client_id)
        }
        (None, Some(endpoint), Some(secret)) => {
            TokenSource::client_credentials(endpoint, &args.client_id, secret)
        }
        _ => anyhow::bail!("give --private-key (development) or --token-endpoint with --client-secret"),
    };
    let auth = Authenticator::new(AuthConfig {
        public_key_pems: args.public_keys,
        jwks_urls: args.jwks_urls,
        audiences: args.audience,
        jwks_refresh: Duration::from_secs(args.jwks_refresh_secs),
    })
    .await
    .context("loading token keys")?;
    let audit = AuditLog::open(&args.audit_log).context("opening the audit log")?;
    let mut config = UssConfig::new(&args.client_id, &args.base_url, &args.dss);
    config.policy.equal_priority_may_conflict = args.equal_priority_may_conflict;
    config.peer_timeout = Duration::from_millis(args.peer_timeout_ms);
    config.body_limit = args.max_body_bytes;
    config.client_concurrency = args.client_concurrency;
    config.listener_limits = args.listener.limits();
    config.priority_grants = args.priority_policy.as_deref().map(crate::priority_policy::load).transpose()?;
    config.alternatives = alternatives;
    config.require_flight_authorisation = args.require_flight_authorisation;
    config.allow_http_data_sources = args.allow_http_base_urls;
    config.terrain = args.terrain.open()?;
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("creating {}", args.data_dir.display()))?;
    config.data_dir = Some(args.data_dir.clone());
    config.rid.version = if args.rid_version == "19" { RidVersion::V19 } else { RidVersion::V22a };
    config.rid.retention = chrono::Duration::seconds(args.rid_retention_secs.max(0));
    config.rid.tactical = entente_tactical::Config {
        horizontal_m: args.tactical_horizontal_m,
        vertical_m: args.tactical_vertical_m,
        lookahead_s: args.tactical_lookahead_s,
    };
    entente_tactical::Detector::new(config.rid.tactical).context("the --tactical-* flags")?;
    let replay = args
        .replay
        .as_ref()
        .map(|path| std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display())))
        .transpose()?;
    let state = Arc::new(
        UssState::open(config, Arc::new(auth), tokens, Arc::new(audit))
            .context("loading this USS's flights")?,
    );
    if let Some(csv) = replay {
        replay_csv(&state, &csv).map_err(|e| anyhow::anyhow!("--replay: {e}"))?;
    }
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
    tracing::info!(
        address = %listener.local_addr()?,
        client_id = args.client_id,
        base_url = args.base_url,
        dss = args.dss,
        audit_log = %args.audit_log.display(),
        "entente uss listening"
    );
    serve_uss(listener, state, shutdown_signal()).await?;
    tracing::info!("entente uss stopped");
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Uss {
        #[command(flatten)]
        args: UssArgs,
    }

    fn parse(extra: &[&str]) -> UssArgs {
        let base =
            ["uss", "--dss", "http://localhost:1", "--base-url", "http://localhost:2", "--client-id", "u"];
        Uss::try_parse_from(base.iter().chain(["--audience", "a"].iter()).chain(extra)).unwrap().args
    }

    #[test]
    fn the_alternatives_flags_bound_the_search() {
        let search = alternative_search(&parse(&[
            "--alternatives-ceiling-m",
            "120",
            "--alternatives-max-shift-minutes",
            "30",
            "--alternatives-max-lateral-m",
            "0",
        ]))
        .unwrap();
        assert_eq!(search.altitude_ceiling_m, 120.0);
        assert_eq!(search.max_time_shift, chrono::Duration::minutes(30));
        assert_eq!(search.max_lateral_m, 0.0);
        let defaults = alternative_search(&parse(&[])).unwrap();
        assert_eq!(defaults.max_lateral_m, AlternativeSearch::default().max_lateral_m);
        let refused = alternative_search(&parse(&["--alternatives-max-lateral-m", "9000"])).unwrap_err();
        assert!(refused.to_string().contains("--alternatives-max-lateral-m"), "{refused}");
        assert!(alternative_search(&parse(&["--alternatives-ceiling-m=-5"])).is_err());
    }
}
