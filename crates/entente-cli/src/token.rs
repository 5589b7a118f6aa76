//! `entente token`: signs a development access token with a private key, for trying the API by hand.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use entente_server::auth::TokenIssuer;

#[derive(Args)]
pub(crate) struct TokenArgs {
    /// PEM private key (RSA or P-256) whose public half the DSS trusts.
    #[arg(long)]
    private_key: PathBuf,
    /// The client id: becomes the manager of what the token's holder writes.
    #[arg(long)]
    sub: String,
    /// Scopes, space- or comma-separated (e.g. utm.strategic_coordination).
    #[arg(long, value_delimiter = ',', required = true)]
    scope: Vec<String>,
    /// Host name of the DSS the token is for (its `aud`).
    #[arg(long, default_value = "localhost")]
    audience: String,
    /// Lifetime in seconds; a DSS accepts at most one hour.
    #[arg(long, default_value_t = 3600)]
    ttl_secs: u64,
}

pub(crate) fn run(args: TokenArgs) -> anyhow::Result<()> {
    let pem = std::fs::read_to_string(&args.private_key)
        .with_context(|| format!("reading {}", args.private_key.display()))?;
    let issuer = TokenIssuer::from_pem(&pem, None)?;
    let scopes: Vec<&str> = args.scope.iter().flat_map(|s| s.split_whitespace()).collect();
    let token = issuer.issue(&args.sub, &scopes, &args.audience, Duration::from_secs(args.ttl_secs))?;
    println!("{token}");
    Ok(())
}
