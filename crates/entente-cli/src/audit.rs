//! `entente audit verify FILE`: checks a USS audit log's hash chain, so a dispute can rest on it.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use entente_server::uss::verify_audit_log;

#[derive(Args)]
pub(crate) struct AuditArgs {
    #[command(subcommand)]
    command: AuditCommand,
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Verify that no record was altered, removed or reordered; exits non-zero if one was.
    Verify {
        /// The JSON-lines log written by `entente uss --audit-log`.
        file: PathBuf,
    },
}

pub(crate) fn run(args: AuditArgs) -> anyhow::Result<()> {
    match args.command {
        AuditCommand::Verify { file } => {
            let records = verify_audit_log(&file)?;
            println!("{}: {records} records, hash chain intact", file.display());
            Ok(())
        }
    }
}
