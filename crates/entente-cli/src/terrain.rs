//! The flag of the commands that convert heights above ground: the operator's terrain, a directory of elevation
//! tiles, opened here (the binary is what reads files) and handed on as a `Terrain`.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use entente_geozones::{DEFAULT_CACHED_TILES, HgtTerrain, NoTerrain, Terrain};

#[derive(Args, Clone, Debug)]
pub(crate) struct TerrainArgs {
    /// Directory of SRTM/DTED-style .hgt elevation tiles (N46E006.hgt ...: 1°x1°, big-endian 16-bit metres above
    /// mean sea level), for zone limits given above ground. Where no tile covers a zone (or a post is void), and
    /// without this flag, such limits are taken at their widest and flagged as without terrain.
    #[arg(long, env = "ENTENTE_TERRAIN")]
    terrain: Option<PathBuf>,
}

impl TerrainArgs {
    /// The terrain the flag names (every tile's name and size checked now), or none.
    pub(crate) fn open(&self) -> anyhow::Result<Arc<dyn Terrain>> {
        let Some(dir) = &self.terrain else { return Ok(Arc::new(NoTerrain)) };
        let terrain = HgtTerrain::open(dir, DEFAULT_CACHED_TILES).context("--terrain")?;
        tracing::debug!(dir = %dir.display(), tiles = terrain.tiles(), "terrain opened");
        Ok(Arc::new(terrain))
    }
}
