//! The `entente` binary: parses the command line and starts the requested role.

mod audit;
mod bench;
mod check;
mod demo;
mod dss;
mod geozones;
mod listener;
mod priority_policy;
mod seed;
mod serve;
mod terrain;
mod token;
mod uss;

use std::io::IsTerminal;

use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

/// jemalloc, whose background thread hands memory back to the system some seconds after it is freed. With the
/// system's allocator, what a wave of slow clients cost stayed with the process once the wave was over (a DSS of
/// 24 MB kept 41 MB), and jemalloc also serves the DSS's benchmark faster (docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[derive(Parser)]
#[command(name = "entente", version, about = "UTM strategic coordination: DSS and USS in one binary")]
struct Cli {
    /// Log filter (tracing syntax); quiet unless asked [default: warn,entente=info; for demo: warn].
    #[arg(long, global = true, env = "ENTENTE_LOG")]
    log: Option<String>,
    /// Emit logs as JSON lines.
    #[arg(long, global = true, env = "ENTENTE_LOG_JSON")]
    log_json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the DSS, the web map and a development token issuer on ./entente-data: the way to try Entente.
    Serve(serve::ServeArgs),
    /// Serve the F3548-21 DSS API on an embedded store.
    Dss(dss::DssArgs),
    /// Measure a real `entente dss` over HTTP with a loaded airspace.
    Bench(bench::BenchArgs),
    /// Check that a pool on a local etcd cluster stays linearizable while instances and etcd members fail:
    /// concurrent clients' histories checked by the Wing-Gong algorithm.
    CheckPool(check::CheckPoolArgs),
    /// Print a development access token signed with a private key.
    Token(token::TokenArgs),
    /// Serve a USS: the F3548-21 USS-USS API and the operator API, planning against a DSS.
    Uss(uss::UssArgs),
    /// Work with USS audit logs.
    Audit(audit::AuditArgs),
    /// Replay Entente's founding story with drones: a DSS with its map, two operators' USSs and an authority on
    /// loopback, every outcome checked.
    Demo(demo::DemoArgs),
    /// Work with UAS geographical zone data sets (ED-269, ED-318).
    Geozones(geozones::GeozonesArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // The demo speaks through its timeline; its servers' routine logs would bury it.
    let default_log = if matches!(cli.command, Command::Demo(_)) { "warn" } else { "warn,entente=info" };
    let filter = EnvFilter::try_new(cli.log.as_deref().unwrap_or(default_log))?;
    if cli.log_json {
        tracing_subscriber::fmt().with_env_filter(filter).json().init();
    } else {
        // Colour codes only where a person reads them, not in files and collectors.
        let ansi = std::io::stdout().is_terminal();
        tracing_subscriber::fmt().with_env_filter(filter).with_ansi(ansi).compact().init();
    }
    // Off by default in jemalloc; without it freed memory is returned only as allocations go on, so an idle
    // server would keep what a burst cost. Failing to start it costs memory, never correctness.
    if let Err(e) = tikv_jemalloc_ctl::background_thread::write(true) {
        tracing::warn!(error = %e, "no allocator background thread: freed memory goes back to the system later");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    match cli.command {
        Command::Serve(args) => runtime.block_on(serve::run(args)),
        Command::Dss(args) => runtime.block_on(dss::run(args)),
        Command::Bench(bench::BenchArgs { command: Some(bench::BenchCommand::Tactical(args)), .. }) => {
            bench::tactical::run(args)
        }
        Command::Bench(bench::BenchArgs { command: Some(bench::BenchCommand::Uss(args)), .. }) => {
            runtime.block_on(bench::uss::run(args))
        }
        Command::Bench(args) => runtime.block_on(bench::run(args)),
        Command::CheckPool(args) => runtime.block_on(check::run(args)),
        Command::Token(args) => token::run(args),
        Command::Uss(args) => runtime.block_on(uss::run(args)),
        Command::Audit(args) => audit::run(args),
        Command::Demo(args) => runtime.block_on(demo::run(args)),
        Command::Geozones(args) => runtime.block_on(geozones::run(args)),
    }
}
