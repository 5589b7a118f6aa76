//! `entente demo`: replays the story Entente was born from (two air forces that flew apart under a safety
//! memorandum) with two drone operators, an authority and a DSS on loopback, checking every outcome through
//! the APIs.

mod cast;
mod story;
mod timeline;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Args;

use self::cast::Cast;
use self::timeline::Timeline;
use crate::dss::shutdown_signal;

/// The longest pause between steps: five of them must fit in the first flights' half hour.
const MAX_PAUSE_SECS: f64 = 60.0;

#[derive(Args)]
pub(crate) struct DemoArgs {
    /// Keep the DSS store and the USSs' flights and audit logs in this folder (new or empty) instead of a
    /// temporary one, to look at after the story.
    #[arg(long, env = "ENTENTE_DEMO_DATA")]
    data: Option<PathBuf>,
    /// Leave the DSS with its web map and the USSs running after the story, until Ctrl-C.
    #[arg(long)]
    open: bool,
    /// Wait this long between steps, in seconds (at most 60), to follow the story on the map as it happens.
    #[arg(long, default_value_t = 0.0)]
    pause: f64,
    /// Print the outcome as one JSON document instead of the timeline.
    #[arg(long)]
    json: bool,
    /// Let intents of equal priority conflict, as `entente uss` can: the operators' plans then overlap and
    /// the story's deconfliction checks fail, which shows they check.
    #[arg(long)]
    equal_priority_may_conflict: bool,
}

pub(crate) async fn run(args: DemoArgs) -> anyhow::Result<()> {
    // The story's flights are placed from its start; longer pauses would let the first ones end mid-story.
    anyhow::ensure!(
        args.pause.is_finite() && (0.0..=MAX_PAUSE_SECS).contains(&args.pause),
        "--pause must be between 0 and {MAX_PAUSE_SECS} seconds"
    );
    let temp;
    let dir = match &args.data {
        Some(dir) => {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            let empty = std::fs::read_dir(dir)
                .with_context(|| format!("reading {}", dir.display()))?
                .next()
                .is_none();
            // A previous story's flights would stand in this one's way.
            anyhow::ensure!(empty, "--data {}: the folder must be new or empty", dir.display());
            dir.clone()
        }
        None => {
            temp = tempfile::tempdir().context("creating a temporary folder")?;
            temp.path().to_owned()
        }
    };
    let cast = Cast::start(&dir, args.equal_priority_may_conflict).await?;
    if !args.json {
        println!("entente demo: DSS with its map at {}", cast.map_url());
        println!(
            "  USS north {}, USS south {}, authority {}",
            cast.north.base, cast.south.base, cast.authority.base
        );
    }
    let mut timeline = Timeline::new(story::STEPS.len(), args.json);
    // The servers stop on Ctrl-C, so the story must too rather than fail against them.
    tokio::select! {
        () = story::play(&cast, &mut timeline, Duration::from_secs_f64(args.pause)) => {}
        () = shutdown_signal() => anyhow::bail!("interrupted"),
    }
    let ok = timeline.finish(&cast.map_url());
    if args.open {
        println!("The airspace stays open: map {}", cast.map_url());
        println!("  store, flights and audit logs in {}", dir.display());
        println!("Ctrl-C stops it.");
        shutdown_signal().await;
        cast.stop().await;
    }
    anyhow::ensure!(ok, "the story did not hold: see the events marked ✗");
    Ok(())
}
