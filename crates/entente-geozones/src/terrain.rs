//! A terrain model an operator supplies: a directory of SRTM/DTED-style `.hgt` tiles (big-endian 16-bit metres
//! above mean sea level, a square grid of N x N posts over one degree by one degree, named after the south-west
//! corner like `N46E006.hgt`, rows from north to south, -32768 where the post is void). Tiles are indexed when the
//! directory is opened, so a damaged one is refused at start-up, and read on first use into a cache of a bounded
//! number of tiles. This is the crate's one reader of files; the binary opens it and the rest of the system sees
//! only the [`Terrain`] trait.

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use entente_geo::{EARTH_RADIUS_M, LatLng, Outline};

use crate::altitude::Terrain;

/// How many tiles stay in memory unless the operator says otherwise: a one-arc-second tile (3601 x 3601 posts)
/// takes 26 MB.
pub const DEFAULT_CACHED_TILES: usize = 8;

/// The value of a void post (no data).
const VOID: i16 = i16::MIN;

/// Boundary samples per post interval: the outline's edges are walked in steps of a quarter of the post spacing,
/// and every grid cell under the rectangle of each step gives its four posts. Between posts the ground is bilinear,
/// so it stays within its cell's posts; a step's rectangle holds the whole chord between two samples, and at a
/// quarter of a cell (under 8 m in a one-arc-second tile) the great-circle edge strays from that chord by far less
/// than a micrometre. So every cell the boundary crosses is taken whole: the range is never narrower than the ground
/// along the boundary, and at most one cell's relief wider.
const SAMPLES_PER_POST: f64 = 4.0;

/// At most this many samples along the whole boundary; past it, the spacing grows.
const MAX_BOUNDARY_SAMPLES: usize = 200_000;

/// At most this many posts under an outline's bounding rectangles are looked at (about 4 000 km² of
/// one-arc-second tiles): a larger zone is answered as one without data, so its AGL limits are taken at their
/// widest rather than a request waiting for seconds.
const MAX_POSTS: usize = 4_000_000;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TerrainError {
    #[error("terrain directory {path}: {message}")]
    Directory { path: String, message: String },
    #[error(
        "terrain tile {path}: not named after its south-west corner like N46E006.hgt (latitude N or S and two digits, longitude E or W and three)"
    )]
    Name { path: String },
    #[error(
        "terrain tile {path}: {bytes} bytes is not a square grid of 16-bit posts (2 x N x N bytes with N >= 2, as 3601 x 3601 or 1201 x 1201)"
    )]
    Size { path: String, bytes: u64 },
    #[error("terrain tile {path}: {message}")]
    Read { path: String, message: String },
}

/// One tile's posts, row by row from north to south.
#[derive(Debug)]
struct Tile {
    /// Posts per side.
    n: usize,
    posts: Vec<i16>,
}

impl Tile {
    /// Posts per side of a tile of `bytes` bytes, when it is a square grid of at least 2 x 2.
    fn side(bytes: u64) -> Option<usize> {
        if !bytes.is_multiple_of(2) {
            return None;
        }
        let count = bytes / 2;
        let n = (count as f64).sqrt().round() as u64;
        (n >= 2 && n * n == count).then_some(n as usize)
    }

    fn from_bytes(path: &Path, bytes: &[u8]) -> Result<Tile, TerrainError> {
        let n = Tile::side(bytes.len() as u64).ok_or_else(|| TerrainError::Size {
            path: path.display().to_string(),
            bytes: bytes.len() as u64,
        })?;
        let posts = bytes.chunks_exact(2).map(|b| i16::from_be_bytes([b[0], b[1]])).collect();
        Ok(Tile { n, posts })
    }

    /// The post at row `i` (from the north) and column `j` (from the west), `None` when void.
    fn post(&self, i: usize, j: usize) -> Option<f64> {
        let h = self.posts[i * self.n + j];
        (h != VOID).then_some(f64::from(h))
    }

    /// The ground at fractional row `y` and column `x`, bilinear between the four posts around it; `None` when
    /// any of them is void.
    fn bilinear(&self, y: f64, x: f64) -> Option<f64> {
        let last = (self.n - 2) as f64;
        let (i, j) = (y.floor().clamp(0.0, last), x.floor().clamp(0.0, last));
        let (fy, fx) = (y - i, x - j);
        let (i, j) = (i as usize, j as usize);
        let (nw, ne) = (self.post(i, j)?, self.post(i, j + 1)?);
        let (sw, se) = (self.post(i + 1, j)?, self.post(i + 1, j + 1)?);
        Some((nw * (1.0 - fx) + ne * fx) * (1.0 - fy) + (sw * (1.0 - fx) + se * fx) * fy)
    }
}

/// A tile's south-west corner, degrees: latitude -90..=89, longitude -180..=179.
type Corner = (i32, i32);

/// The tile holding `p`: the one whose south-west corner is the degree below and west of it (the last tile of
/// each row and column takes the northern and eastern edges of the world).
fn corner_of(p: LatLng) -> Corner {
    (p.lat.floor().clamp(-90.0, 89.0) as i32, p.lng.floor().clamp(-180.0, 179.0) as i32)
}

/// The corner a tile's file name gives: `N46E006.hgt`, `s01w072.HGT`.
fn parse_name(name: &str) -> Option<Corner> {
    let name = name.to_ascii_uppercase();
    let stem = name.strip_suffix(".HGT")?;
    let (lat, lng) = (stem.get(..3)?, stem.get(3..)?);
    if lng.len() != 4 {
        return None;
    }
    let number = |s: &str| s.bytes().all(|b| b.is_ascii_digit()).then(|| s.parse::<i32>().ok()).flatten();
    let lat = match lat.as_bytes()[0] {
        b'N' => number(&lat[1..])?,
        b'S' => -number(&lat[1..])?,
        _ => return None,
    };
    let lng = match lng.as_bytes()[0] {
        b'E' => number(&lng[1..])?,
        b'W' => -number(&lng[1..])?,
        _ => return None,
    };
    ((-90..=89).contains(&lat) && (-180..=179).contains(&lng)).then_some((lat, lng))
}

/// The tiles read so far, the least recently used first.
#[derive(Default)]
struct Cache {
    tiles: HashMap<Corner, Option<Arc<Tile>>>,
    order: VecDeque<Corner>,
}

/// Ground elevations from a directory of `.hgt` tiles.
pub struct HgtTerrain {
    dir: PathBuf,
    /// Each tile's file and its posts per side, by corner, as found when the directory was opened.
    index: HashMap<Corner, (PathBuf, usize)>,
    cache: Mutex<Cache>,
    cached_tiles: usize,
    /// The ground ranges worked out so far, by outline: a zone's range is asked for on every plan and map query
    /// that meets it, and over a large outline of a one-arc-second tile it looks at millions of posts (a 20 km
    /// circle: about 150 ms in a release build).
    ranges: Mutex<HashMap<Vec<u64>, GroundRange>>,
}

/// The lowest and highest ground under an outline, metres AMSL, if the tiles cover it.
type GroundRange = Option<(f64, f64)>;

/// Most ground ranges remembered; past it they are forgotten all at once (zone data sets hold far fewer).
const MAX_REMEMBERED_RANGES: usize = 4096;

/// An outline as exact bits, for remembering its ground range.
fn outline_key(outline: &Outline) -> Vec<u64> {
    match outline {
        Outline::Polygon(p) => std::iter::once(0)
            .chain(p.vertices().iter().flat_map(|v| [v.lat.to_bits(), v.lng.to_bits()]))
            .collect(),
        Outline::Circle(c) => {
            vec![1, c.center().lat.to_bits(), c.center().lng.to_bits(), c.radius_m().to_bits()]
        }
    }
}

impl std::fmt::Debug for HgtTerrain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HgtTerrain").field("dir", &self.dir).field("tiles", &self.index.len()).finish()
    }
}

impl HgtTerrain {
    /// Indexes the `.hgt` tiles of `dir` (other files are ignored), keeping at most `cached_tiles` of them in
    /// memory once read. A tile misnamed or of a size no square grid has is refused here, naming the file.
    pub fn open(dir: &Path, cached_tiles: usize) -> Result<HgtTerrain, TerrainError> {
        let directory_error = |e: std::io::Error| TerrainError::Directory {
            path: dir.display().to_string(),
            message: e.to_string(),
        };
        let mut index = HashMap::new();
        for entry in std::fs::read_dir(dir).map_err(directory_error)? {
            let entry = entry.map_err(directory_error)?;
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if !name.to_ascii_lowercase().ends_with(".hgt") {
                continue;
            }
            let corner =
                parse_name(&name).ok_or_else(|| TerrainError::Name { path: path.display().to_string() })?;
            let bytes = entry
                .metadata()
                .map_err(|e| TerrainError::Read { path: path.display().to_string(), message: e.to_string() })?
                .len();
            let n = Tile::side(bytes)
                .ok_or_else(|| TerrainError::Size { path: path.display().to_string(), bytes })?;
            index.insert(corner, (path, n));
        }
        Ok(HgtTerrain {
            dir: dir.to_owned(),
            index,
            cache: Mutex::new(Cache::default()),
            cached_tiles: cached_tiles.max(1),
            ranges: Mutex::new(HashMap::new()),
        })
    }

    /// How many tiles the directory holds.
    pub fn tiles(&self) -> usize {
        self.index.len()
    }

    /// The tile with south-west corner `corner`, read on first use; `None` when there is none, or it can no longer
    /// be read as it was indexed (a file changed since: no data rather than wrong data).
    fn tile(&self, corner: Corner) -> Option<Arc<Tile>> {
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(tile) = cache.tiles.get(&corner).cloned() {
            cache.order.retain(|c| *c != corner);
            cache.order.push_back(corner);
            return tile;
        }
        let tile = self.index.get(&corner).and_then(|(path, n)| {
            let bytes = std::fs::read(path).ok()?;
            Tile::from_bytes(path, &bytes).ok().filter(|t| t.n == *n).map(Arc::new)
        });
        if cache.order.len() >= self.cached_tiles
            && let Some(oldest) = cache.order.pop_front()
        {
            cache.tiles.remove(&oldest);
        }
        cache.tiles.insert(corner, tile.clone());
        cache.order.push_back(corner);
        tile
    }

    /// The ground at `p`, bilinear between the posts around it; `None` on a missing tile or next to a void post.
    pub fn ground_at(&self, p: LatLng) -> Option<f64> {
        let corner = corner_of(p);
        let tile = self.tile(corner)?;
        let spacing = (tile.n - 1) as f64;
        let y = (f64::from(corner.0) + 1.0 - p.lat) * spacing;
        let x = (p.lng - f64::from(corner.1)) * spacing;
        tile.bilinear(y, x)
    }

    /// The lowest and highest ground over `outline`, never narrower than the truth: every post inside it and the
    /// posts of every grid cell its boundary crosses (between posts the ground is bilinear, which has no extremum
    /// inside a grid cell, so its extremes over the outline lie at posts or on the boundary, and along the
    /// boundary within its cells' posts). `None` when any part of it lies on a missing tile or next to a void post.
    pub fn ground_range(&self, outline: &Outline) -> Option<(f64, f64)> {
        // Every tile under the bounding rectangles, with the part of the rectangle it holds; none read yet.
        let mut parts = Vec::new();
        let mut posts = 0.0;
        let mut finest = 2;
        for rect in outline.bounding_rects() {
            let (lat_lo, lat_hi) = (rect.lat_lo.max(-90.0), rect.lat_hi.min(90.0));
            let (lng_lo, lng_hi) = (rect.lng_lo.max(-180.0), rect.lng_hi.min(180.0));
            let (c_lo, c_hi) =
                (corner_of(LatLng::new(lat_lo, lng_lo)), corner_of(LatLng::new(lat_hi, lng_hi)));
            for lat0 in c_lo.0..=c_hi.0 {
                for lng0 in c_lo.1..=c_hi.1 {
                    let (_, n) = self.index.get(&(lat0, lng0))?;
                    let lats = (lat_hi.min(f64::from(lat0 + 1)) - lat_lo.max(f64::from(lat0))).max(0.0);
                    let lngs = (lng_hi.min(f64::from(lng0 + 1)) - lng_lo.max(f64::from(lng0))).max(0.0);
                    posts += (lats * (n - 1) as f64 + 1.0) * (lngs * (n - 1) as f64 + 1.0);
                    finest = finest.max(*n);
                    parts.push(((lat0, lng0), (lat_lo, lat_hi), (lng_lo, lng_hi)));
                }
            }
        }
        if posts > MAX_POSTS as f64 {
            return None;
        }
        let mut range = (f64::INFINITY, f64::NEG_INFINITY);
        let mut take = |h: f64| range = (range.0.min(h), range.1.max(h));
        for (corner, lats, lngs) in parts {
            let tile = self.tile(corner)?;
            for h in posts_inside(&tile, corner, outline, lats, lngs) {
                take(h?);
            }
        }
        let step_m = EARTH_RADIUS_M.to_radians() / (finest - 1) as f64 / SAMPLES_PER_POST;
        let samples = boundary(outline, step_m);
        for (k, &p) in samples.iter().enumerate() {
            let (lo, hi) = self.cells_under(p, samples[(k + 1) % samples.len()])?;
            take(lo);
            take(hi);
        }
        (range.0 <= range.1).then_some(range)
    }

    /// The lowest and highest post of every grid cell meeting the rectangle with corners `p` and `q` (a step along
    /// the boundary), on whichever tiles it covers; `None` when one is missing or a post is void.
    fn cells_under(&self, p: LatLng, q: LatLng) -> Option<(f64, f64)> {
        if (p.lng - q.lng).abs() > 180.0 {
            // A step over the antimeridian: no tile index spans it, so the ground there stays unknown.
            return None;
        }
        let (lat_lo, lat_hi) = (p.lat.min(q.lat), p.lat.max(q.lat));
        let (lng_lo, lng_hi) = (p.lng.min(q.lng), p.lng.max(q.lng));
        let (c_lo, c_hi) = (corner_of(LatLng::new(lat_lo, lng_lo)), corner_of(LatLng::new(lat_hi, lng_hi)));
        let mut range = (f64::INFINITY, f64::NEG_INFINITY);
        for lat0 in c_lo.0..=c_hi.0 {
            for lng0 in c_lo.1..=c_hi.1 {
                let tile = self.tile((lat0, lng0))?;
                let spacing = (tile.n - 1) as f64;
                let last = (tile.n - 1) as f64;
                let north = f64::from(lat0) + 1.0;
                let west = f64::from(lng0);
                // Rows count from the north. Floor and ceiling take every cell the rectangle's part on this tile
                // meets, and only the row or column of posts when it lies on one.
                let rows = |lat: f64| ((north - lat) * spacing).clamp(0.0, last);
                let cols = |lng: f64| ((lng - west) * spacing).clamp(0.0, last);
                let (i_lo, i_hi) = (rows(lat_hi.min(north)).floor(), rows(lat_lo.max(north - 1.0)).ceil());
                let (j_lo, j_hi) = (cols(lng_lo.max(west)).floor(), cols(lng_hi.min(west + 1.0)).ceil());
                for i in i_lo as usize..=i_hi as usize {
                    for j in j_lo as usize..=j_hi as usize {
                        let h = tile.post(i, j)?;
                        range = (range.0.min(h), range.1.max(h));
                    }
                }
            }
        }
        Some(range)
    }
}

/// The posts of `tile` (south-west corner `corner`) within the latitudes and longitudes given that lie inside
/// `outline`: each its height, or `None` when void.
fn posts_inside<'a>(
    tile: &'a Tile,
    corner: Corner,
    outline: &'a Outline,
    (lat_lo, lat_hi): (f64, f64),
    (lng_lo, lng_hi): (f64, f64),
) -> impl Iterator<Item = Option<f64>> + 'a {
    let spacing = (tile.n - 1) as f64;
    let north = f64::from(corner.0) + 1.0;
    let west = f64::from(corner.1);
    let last = tile.n - 1;
    let index = |v: f64| v.clamp(0.0, last as f64) as usize;
    // Rows count from the north: the northern limit gives the first row.
    let (i_lo, i_hi) =
        (index(((north - lat_hi) * spacing).ceil()), index(((north - lat_lo) * spacing).floor()));
    let (j_lo, j_hi) =
        (index(((lng_lo - west) * spacing).ceil()), index(((lng_hi - west) * spacing).floor()));
    (i_lo..=i_hi).flat_map(move |i| {
        (j_lo..=j_hi).filter_map(move |j| {
            let p = LatLng::new(north - i as f64 / spacing, west + j as f64 / spacing);
            (p.lat >= lat_lo && p.lat <= lat_hi && p.lng >= lng_lo && p.lng <= lng_hi && outline.contains(p))
                .then(|| tile.post(i, j))
        })
    })
}

/// Points along the outline's boundary at most about `step_m` apart: a polygon's vertices and points along its
/// great-circle edges, a circle's circumference.
fn boundary(outline: &Outline, step_m: f64) -> Vec<LatLng> {
    let perimeter = match outline {
        Outline::Polygon(p) => {
            let v = p.vertices();
            (0..v.len()).map(|k| entente_geo::distance_m(v[k], v[(k + 1) % v.len()])).sum()
        }
        Outline::Circle(c) => std::f64::consts::TAU * c.radius_m(),
    };
    let step_m = step_m.max(perimeter / MAX_BOUNDARY_SAMPLES as f64);
    let mut points = Vec::new();
    match outline {
        Outline::Polygon(p) => {
            let v = p.vertices();
            for k in 0..v.len() {
                let (a, b) = (v[k], v[(k + 1) % v.len()]);
                let n = (entente_geo::distance_m(a, b) / step_m).ceil().max(1.0) as usize;
                points.extend((0..n).map(|s| along(a, b, s as f64 / n as f64)));
            }
        }
        Outline::Circle(c) => {
            let n = (perimeter / step_m).ceil().max(8.0) as usize;
            let angle = c.radius_m() / EARTH_RADIUS_M;
            points.extend(
                (0..n).map(|s| destination(c.center(), std::f64::consts::TAU * s as f64 / n as f64, angle)),
            );
        }
    }
    points
}

fn unit(p: LatLng) -> [f64; 3] {
    let (lat, lng) = (p.lat.to_radians(), p.lng.to_radians());
    [lat.cos() * lng.cos(), lat.cos() * lng.sin(), lat.sin()]
}

fn from_unit([x, y, z]: [f64; 3]) -> LatLng {
    LatLng::new(z.atan2(x.hypot(y)).to_degrees(), y.atan2(x).to_degrees())
}

/// The point a fraction `t` of the way along the great-circle arc from `a` to `b`.
fn along(a: LatLng, b: LatLng, t: f64) -> LatLng {
    let (u, v) = (unit(a), unit(b));
    let omega = (u[0] * v[0] + u[1] * v[1] + u[2] * v[2]).clamp(-1.0, 1.0).acos();
    if omega < 1e-12 {
        return a;
    }
    let (wa, wb) = (((1.0 - t) * omega).sin() / omega.sin(), (t * omega).sin() / omega.sin());
    from_unit([wa * u[0] + wb * v[0], wa * u[1] + wb * v[1], wa * u[2] + wb * v[2]])
}

/// The point `angle` radians of arc from `from` along initial bearing `bearing` (radians clockwise from north).
fn destination(from: LatLng, bearing: f64, angle: f64) -> LatLng {
    let (lat, lng) = (from.lat.to_radians(), from.lng.to_radians());
    let lat2 = (lat.sin() * angle.cos() + lat.cos() * angle.sin() * bearing.cos()).asin();
    let lng2 = lng + (bearing.sin() * angle.sin() * lat.cos()).atan2(angle.cos() - lat.sin() * lat2.sin());
    let lng2 = (lng2.to_degrees() + 540.0).rem_euclid(360.0) - 180.0;
    LatLng::new(lat2.to_degrees(), lng2)
}

/// Each outline's range is worked out once (the tiles do not change while the directory is open).
impl Terrain for HgtTerrain {
    fn ground_amsl(&self, outline: &Outline) -> Option<(f64, f64)> {
        let key = outline_key(outline);
        if let Some(range) = self.ranges.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
            return *range;
        }
        let range = self.ground_range(outline);
        let mut ranges = self.ranges.lock().unwrap_or_else(|e| e.into_inner());
        if ranges.len() >= MAX_REMEMBERED_RANGES {
            ranges.clear();
        }
        ranges.insert(key, range);
        range
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::altitude::{HIGHEST_GROUND_AMSL_M, LOWEST_GROUND_AMSL_M, undulation, w84_band};
    use crate::model::{Level, Unit, VerticalReference, ZoneVolume};
    use entente_geo::{Circle, Polygon};
    use proptest::prelude::*;

    /// `tests/fixtures/terrain/N46E006.hgt`: 5 x 5 posts a quarter of a degree apart, row `i` from the north
    /// (47°N) and column `j` from the west (6°E) at `1000 - 100 i + 10 j + 7 i j` metres (a bilinear field, which
    /// interpolation reproduces exactly), except a 2 000 m peak at row 1, column 3 (46.75°N 6.75°E) and a void
    /// post at row 0, column 0 (47°N 6°E). No other tile is there.
    fn fixture() -> HgtTerrain {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/terrain");
        HgtTerrain::open(&dir, 2).unwrap()
    }

    /// The fixture's field away from the peak and the void, at fractional row `y` and column `x`.
    fn field(y: f64, x: f64) -> f64 {
        1000.0 - 100.0 * y + 10.0 * x + 7.0 * x * y
    }

    fn circle(lat: f64, lng: f64, r: f64) -> Outline {
        Outline::Circle(Circle::new(LatLng::new(lat, lng), r).unwrap())
    }

    fn polygon(ring: &[(f64, f64)]) -> Outline {
        Outline::Polygon(
            Polygon::new(ring.iter().map(|&(lat, lng)| LatLng::new(lat, lng)).collect()).unwrap(),
        )
    }

    #[test]
    fn names_give_the_south_west_corner() {
        assert_eq!(parse_name("N46E006.hgt"), Some((46, 6)));
        assert_eq!(parse_name("s01w072.HGT"), Some((-1, -72)));
        assert_eq!(parse_name("N90E000.hgt"), None);
        assert_eq!(parse_name("N46E06.hgt"), None);
        assert_eq!(parse_name("X46E006.hgt"), None);
        assert_eq!(corner_of(LatLng::new(46.5, 6.5)), (46, 6));
        assert_eq!(corner_of(LatLng::new(-0.5, -179.5)), (-1, -180));
        assert_eq!(corner_of(LatLng::new(90.0, 180.0)), (89, 179));
    }

    #[test]
    fn ground_is_bilinear_between_posts() {
        let t = fixture();
        assert_eq!(t.tiles(), 1);
        // On a post (row 3, column 1), and between four (rows 3 and 4, columns 0 and 1).
        assert_eq!(t.ground_at(LatLng::new(46.25, 6.25)), Some(731.0));
        let h = t.ground_at(LatLng::new(46.15, 6.075)).unwrap();
        assert!((h - field(3.4, 0.3)).abs() < 1e-9, "{h}");
        // Halfway between the peak and its southern neighbour (row 2, column 3: 1 072 m).
        let h = t.ground_at(LatLng::new(46.625, 6.75)).unwrap();
        assert!((h - (2000.0 + field(2.0, 3.0)) / 2.0).abs() < 1e-9, "{h}");
        // Beside the void post, and off the tile.
        assert_eq!(t.ground_at(LatLng::new(46.9, 6.1)), None);
        assert_eq!(t.ground_at(LatLng::new(46.5, 7.1)), None);
    }

    #[test]
    fn ground_range_takes_posts_inside_and_the_cells_the_boundary_crosses() {
        let t = fixture();
        // Rows 1.8 to 3.2, columns 0.8 to 1.8: the boundary crosses the cells of rows 1 to 4 and columns 0 to 2.
        // The field falls southward and rises eastward, so the range runs from the south-west post of those cells
        // to the north-east one (the peak, at column 3, is outside them).
        let square = polygon(&[(46.2, 6.2), (46.2, 6.45), (46.55, 6.45), (46.55, 6.2)]);
        assert_eq!(t.ground_range(&square), Some((field(4.0, 0.0), field(1.0, 2.0))));
        // Vertices on posts (rows 2 and 3, columns 1 and 2): the edges run along rows and columns of posts but
        // stray a little from the parallels between vertices (great circles), so the cells beside them count.
        let on_posts = polygon(&[(46.25, 6.25), (46.25, 6.5), (46.5, 6.5), (46.5, 6.25)]);
        let (lo, hi) = t.ground_range(&on_posts).unwrap();
        assert!(lo <= field(3.0, 1.0) && hi >= field(2.0, 2.0), "{lo}..{hi}");
        // The peak is a post inside the circle: the highest ground, though no boundary point comes near it.
        let (lo, hi) = t.ground_range(&circle(46.75, 6.75, 2000.0)).unwrap();
        assert_eq!(hi, 2000.0);
        assert!(lo < 1900.0, "{lo}");
        // A circle within one grid cell (rows 2 and 3, columns 1 and 2) holds no post: that cell's posts bound it.
        assert_eq!(t.ground_range(&circle(46.3, 6.3, 500.0)), Some((field(3.0, 1.0), field(2.0, 2.0))));
    }

    /// Points along `outline`'s boundary at fractions `ts` of its edges (a polygon) or of its turn (a circle).
    fn on_boundary(outline: &Outline, ts: &[f64]) -> Vec<LatLng> {
        match outline {
            Outline::Polygon(p) => {
                let v = p.vertices();
                ts.iter().enumerate().map(|(k, &t)| along(v[k % v.len()], v[(k + 1) % v.len()], t)).collect()
            }
            Outline::Circle(c) => {
                let angle = c.radius_m() / EARTH_RADIUS_M;
                ts.iter().map(|&t| destination(c.center(), std::f64::consts::TAU * t, angle)).collect()
            }
        }
    }

    #[test]
    fn a_void_post_or_a_missing_tile_gives_no_answer() {
        let t = fixture();
        // Next to the void post, and holding it.
        assert_eq!(t.ground_range(&circle(46.9, 6.1, 1000.0)), None);
        assert_eq!(t.ground_range(&polygon(&[(46.9, 6.0), (46.9, 6.1), (47.0, 6.1), (47.0, 6.0)])), None);
        // Across the tile's eastern and southern edges, where no tile is.
        assert_eq!(t.ground_range(&circle(46.5, 7.0, 2000.0)), None);
        assert_eq!(t.ground_range(&circle(46.0, 6.5, 2000.0)), None);
        // So the band is the widest and says so.
        let v = agl_volume(circle(46.5, 7.0, 2000.0), 0.0, 150.0);
        let band = w84_band(&v, &t);
        assert!(band.ground_unknown);
        assert!(band.altitude.hi.unwrap() > HIGHEST_GROUND_AMSL_M);
        assert!(band.altitude.lo.unwrap() < LOWEST_GROUND_AMSL_M + 100.0);
    }

    #[test]
    fn a_tile_of_the_wrong_size_or_name_is_refused_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("N46E006.hgt"), [0u8; 49]).unwrap();
        let e = HgtTerrain::open(dir.path(), 2).unwrap_err();
        assert!(matches!(e, TerrainError::Size { bytes: 49, .. }), "{e:?}");
        assert!(e.to_string().contains("N46E006.hgt: 49 bytes is not a square grid"), "{e}");
        std::fs::write(dir.path().join("N46E006.hgt"), [0u8; 48]).unwrap();
        assert!(matches!(HgtTerrain::open(dir.path(), 2), Err(TerrainError::Size { bytes: 48, .. })));
        std::fs::write(dir.path().join("N46E006.hgt"), [0u8; 50]).unwrap();
        assert_eq!(HgtTerrain::open(dir.path(), 2).unwrap().tiles(), 1);
        std::fs::write(dir.path().join("lausanne.hgt"), [0u8; 8]).unwrap();
        let e = HgtTerrain::open(dir.path(), 2).unwrap_err();
        assert!(e.to_string().contains("lausanne.hgt: not named after its south-west corner"), "{e}");
        let e = HgtTerrain::open(&dir.path().join("absent"), 2).unwrap_err();
        assert!(matches!(e, TerrainError::Directory { .. }), "{e:?}");
    }

    #[test]
    fn the_cache_keeps_at_most_the_tiles_asked_for() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["N46E006.hgt", "N46E007.hgt", "N47E006.hgt"] {
            std::fs::write(dir.path().join(name), [0u8; 8]).unwrap();
        }
        let t = HgtTerrain::open(dir.path(), 2).unwrap();
        for p in [(46.5, 6.5), (46.5, 7.5), (47.5, 6.5), (46.5, 6.5)] {
            assert_eq!(t.ground_at(LatLng::new(p.0, p.1)), Some(0.0));
            assert!(t.cache.lock().unwrap().tiles.len() <= 2);
        }
    }

    #[test]
    fn each_outline_s_range_is_worked_out_once() {
        let t = fixture();
        let (a, b) = (circle(46.3, 6.3, 500.0), circle(46.3, 6.3, 600.0));
        assert_eq!(t.ground_amsl(&a), t.ground_range(&a));
        assert_eq!(t.ground_amsl(&a), t.ground_range(&a));
        assert_eq!(t.ranges.lock().unwrap().len(), 1);
        assert_eq!(t.ground_amsl(&b), t.ground_range(&b));
        assert_eq!(t.ranges.lock().unwrap().len(), 2);
        // An outline off the tiles is remembered as having no ground.
        assert_eq!(t.ground_amsl(&circle(46.5, 7.0, 2000.0)), None);
        assert_eq!(t.ranges.lock().unwrap().len(), 3);
    }

    fn agl_volume(outline: Outline, lower: f64, upper: f64) -> ZoneVolume {
        let level = |value| Some(Level { value, reference: VerticalReference::Agl });
        ZoneVolume { outline, lower: level(lower), upper: level(upper), unit: Unit::Metres }
    }

    /// Outlines inside the fixture tile, south of the void post's cell: circles, and polygons whose vertices
    /// go round a centre.
    fn outlines() -> impl Strategy<Value = Outline> {
        let centre = (46.1..46.62f64, 6.12..6.88f64);
        let circles = (centre.clone(), 50.0..8000.0f64).prop_map(|((lat, lng), r)| circle(lat, lng, r));
        let polygons = (centre, prop::collection::vec((0.0..1.0f64, 0.005..0.07f64), 3..8)).prop_filter_map(
            "a simple polygon",
            |((lat, lng), spokes)| {
                let n = spokes.len() as f64;
                let ring = spokes.iter().enumerate().map(|(k, (jitter, r))| {
                    let a = std::f64::consts::TAU * (k as f64 + 0.8 * jitter) / n;
                    LatLng::new(lat + r * a.cos(), lng + r * a.sin())
                });
                Polygon::new(ring.collect()).ok().map(Outline::Polygon)
            },
        );
        prop_oneof![circles, polygons]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        /// The band of an AGL volume holds every post inside the outline and the ground anywhere in it (probed on
        /// a grid over its bounding rectangle), each plus the limits, on the ellipsoid.
        #[test]
        fn an_agl_band_holds_the_ground_anywhere_in_the_outline(
            outline in outlines(),
            lower in 0.0..100.0f64,
            height in 0.0..300.0f64,
        ) {
            let t = fixture();
            let rect = outline.bounding_rects()[0];
            let mut heights = Vec::new();
            for i in 0..=4 {
                for j in 0..=4 {
                    let lat = 47.0 - i as f64 / 4.0;
                    let lng = 6.0 + j as f64 / 4.0;
                    if outline.contains(LatLng::new(lat, lng)) {
                        heights.push(if (i, j) == (1, 3) { 2000.0 } else { field(i as f64, j as f64) });
                    }
                }
            }
            for a in 0..=8 {
                for b in 0..=8 {
                    let p = LatLng::new(
                        rect.lat_lo + (rect.lat_hi - rect.lat_lo) * a as f64 / 8.0,
                        rect.lng_lo + (rect.lng_hi - rect.lng_lo) * b as f64 / 8.0,
                    );
                    if outline.contains(p) {
                        heights.push(t.ground_at(p).unwrap());
                    }
                }
            }
            let band = w84_band(&agl_volume(outline.clone(), lower, lower + height), &t);
            prop_assert!(!band.ground_unknown);
            let (lo, hi) = (band.altitude.lo.unwrap(), band.altitude.hi.unwrap());
            let lowest = heights.iter().copied().fold(f64::INFINITY, f64::min);
            let highest = heights.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            // The geoid's lowest over the outline is at most its value at any point of it, its highest at least.
            let rect_centre = LatLng::new((rect.lat_lo + rect.lat_hi) / 2.0, (rect.lng_lo + rect.lng_hi) / 2.0);
            let n = undulation(if outline.contains(rect_centre) { rect_centre } else { first_vertex(&outline) });
            if !heights.is_empty() {
                prop_assert!(lo <= lowest + lower + n, "lower {lo} above {lowest} + {lower} + {n}");
                prop_assert!(hi >= highest + lower + height + n, "upper {hi} below {highest} + {height} + {n}");
            }
            // And it is the ground's band, not the widest.
            prop_assert!(hi - lo < 2000.0 + height + 10.0, "{lo}..{hi}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// The ground range holds the ground at any point of the boundary, between the samples of its walk too.
        #[test]
        fn the_ground_range_holds_the_ground_anywhere_on_the_boundary(
            outline in outlines(),
            ts in prop::collection::vec(0.0..1.0f64, 1..40),
        ) {
            let t = fixture();
            let (lo, hi) = t.ground_range(&outline).unwrap();
            for p in on_boundary(&outline, &ts) {
                let h = t.ground_at(p).unwrap();
                prop_assert!(lo <= h && h <= hi, "{h} at {p:?} outside {lo}..{hi}");
            }
        }
    }

    /// An edge whose highest ground lies between the points of its walk: the range still holds it.
    #[test]
    fn ground_between_the_boundary_samples_is_in_the_range() {
        let t = fixture();
        // Half a post south of the peak's row (row 1.5), from column 2.84 to 3.2: the edge is shorter than a step
        // of the walk, which sees its ends only (about 1 349 m and 1 335 m); in between, below the peak's column,
        // the ground reaches 1 436 m.
        let triangle = polygon(&[(46.625, 6.71), (46.625, 6.80), (46.62, 6.80)]);
        let (_, hi) = t.ground_range(&triangle).unwrap();
        let top = t.ground_at(LatLng::new(46.625, 6.75)).unwrap();
        assert!((top - 1436.0).abs() < 1.0, "{top}");
        assert!(hi >= top, "{hi} below {top}");
    }

    fn first_vertex(outline: &Outline) -> LatLng {
        match outline {
            Outline::Polygon(p) => p.vertices()[0],
            Outline::Circle(c) => c.center(),
        }
    }
}
