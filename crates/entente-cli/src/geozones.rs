//! `entente geozones check FILE`: reads an ED-269 or ED-318 data set of UAS geographical zones, validates it and
//! prints what each zone means, with its limits on the WGS 84 ellipsoid as the planner will take them (over the
//! terrain `--terrain` names, as a USS given the same flag does).
//! `entente geozones import FILE|URL`: hands it (downloaded first, from a URL) to a USS's authority API, which
//! publishes and advises by it.

use std::fmt::Write as _;
use std::path::PathBuf;

use std::time::Duration;

use anyhow::Context;
use clap::{Args, Subcommand};
use entente_geo::Outline;
use entente_geozones::{
    Authority, Format, Level, Restriction, Terrain, Text, TimePeriod, VerticalReference, Zone, ZoneVolume,
    w84_band,
};
use entente_server::auth::TokenIssuer;
use entente_server::uss::{DEFAULT_BODY_LIMIT, DownloadLimits, download_text};
use entente_wire::authority::ZoneSetImport;

use crate::terrain::TerrainArgs;

#[derive(Args)]
pub(crate) struct GeozonesArgs {
    #[command(subcommand)]
    command: GeozonesCommand,
}

#[derive(Subcommand)]
enum GeozonesCommand {
    /// Read and validate a data set (ED-269 JSON or ED-318 GeoJSON) and print a summary of each zone; exits
    /// non-zero naming the feature, the field and the rule at the first error.
    Check {
        /// The data set file.
        file: PathBuf,
        #[command(flatten)]
        terrain: TerrainArgs,
    },
    /// Import a data set into a USS as an authority: its prohibited zones are published as constraints, the
    /// others advise the flights entering them; importing a set of the same name again changes only what
    /// changed. Checked locally first, so a mistake is named before anything is sent. Above-ground limits are
    /// converted by the USS, over its own terrain (`entente uss --terrain`, `entente serve --terrain`).
    Import(ImportArgs),
}

#[derive(Args)]
struct ImportArgs {
    /// The data set: a file, or an http(s):// URL to download it from.
    file: String,
    /// Base URL of the USS (with `entente serve`: http://localhost:8080/uss/authority).
    #[arg(long)]
    uss: String,
    /// The set's name at the USS (letters, digits, '-', '_', '.'); by default the file's name (the URL's last
    /// segment) without extension.
    #[arg(long)]
    set: Option<String>,
    /// PEM private key that signs the authority's token (with `entente serve`: <data-dir>/dev-keys/private.pem).
    #[arg(long)]
    private_key: PathBuf,
    /// The authority's client id.
    #[arg(long, default_value = "authority")]
    sub: String,
}

pub(crate) async fn run(args: GeozonesArgs) -> anyhow::Result<()> {
    match args.command {
        GeozonesCommand::Import(args) => import(args).await,
        GeozonesCommand::Check { file, terrain } => {
            let terrain = terrain.open()?;
            let text =
                std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
            let (format, data) = entente_geozones::parse(&text)
                .with_context(|| format!("{} is not a valid data set", file.display()))?;
            for (index, zone) in data.zones.iter().enumerate() {
                print!("{}", summary(index, zone, &*terrain));
            }
            let format = match format {
                Format::Ed269 => "ED-269",
                Format::Ed318 => "ED-318",
            };
            println!("{}: {format}, {} zones, valid", file.display(), data.zones.len());
            Ok(())
        }
    }
}

/// The longest a data set's download may take.
const DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(30);

/// The text of the data set at `source` (a file, or a URL to download it from) and its name without extension.
async fn read_source(source: &str) -> anyhow::Result<(String, Option<String>)> {
    if source.starts_with("http://") || source.starts_with("https://") {
        // The user names the source, so plain http is theirs to choose; the size is what a USS would take.
        let limits =
            DownloadLimits { max_bytes: DEFAULT_BODY_LIMIT, timeout: DOWNLOAD_TIMEOUT, allow_http: true };
        let text = download_text(source, limits).await?;
        let url = reqwest::Url::parse(source)?;
        let last = url.path_segments().and_then(|mut s| s.next_back()).unwrap_or_default();
        let stem = PathBuf::from(last).file_stem().and_then(|s| s.to_str()).map(str::to_owned);
        return Ok((text, stem.filter(|s| !s.is_empty())));
    }
    let path = PathBuf::from(source);
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {source}"))?;
    Ok((text, path.file_stem().and_then(|s| s.to_str()).map(str::to_owned)))
}

async fn import(args: ImportArgs) -> anyhow::Result<()> {
    let (text, stem) = read_source(&args.file).await?;
    entente_geozones::parse(&text).with_context(|| format!("{} is not a valid data set", args.file))?;
    let set = match args.set.or(stem) {
        Some(set) => set,
        None => anyhow::bail!("give the set's name with --set"),
    };
    let pem = std::fs::read_to_string(&args.private_key)
        .with_context(|| format!("reading {}", args.private_key.display()))?;
    let base = reqwest::Url::parse(&args.uss).with_context(|| format!("--uss {}", args.uss))?;
    let audience = base.host_str().context("--uss has no host")?.to_owned();
    let token = TokenIssuer::from_pem(&pem, None)?.issue(
        &args.sub,
        &["entente.authority"],
        &audience,
        Duration::from_secs(300),
    )?;
    let url = format!("{}/authority/v1/geozones/{set}", args.uss.trim_end_matches('/'));
    let response = reqwest::Client::new()
        .put(&url)
        .bearer_auth(token)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(text)
        .send()
        .await
        .with_context(|| format!("PUT {url}"))?;
    let status = response.status();
    let body = response.text().await.with_context(|| format!("PUT {url}: the answer"))?;
    if !status.is_success() {
        anyhow::bail!("PUT {url}: {status}: {body}");
    }
    let report: ZoneSetImport =
        serde_json::from_str(&body).with_context(|| format!("PUT {url}: the answer"))?;
    println!(
        "{set}: {} zones ({}), {} prohibited, {} advisories; constraints until {}",
        report.zones, report.format, report.prohibited, report.advisories, report.horizon_end
    );
    for (what, refs) in [
        ("created", &report.created),
        ("updated", &report.updated),
        ("withdrawn", &report.withdrawn),
        ("unchanged", &report.unchanged),
    ] {
        for r in refs {
            println!("  {what}: zone {} as constraint {}", r.zone, r.constraint_id);
        }
    }
    if !report.ground_unknown.is_empty() {
        println!(
            "  no terrain data: above-ground limits taken at their widest for {}",
            report.ground_unknown.join(", ")
        );
    }
    Ok(())
}

fn summary(index: usize, zone: &Zone, terrain: &dyn Terrain) -> String {
    let restriction = match zone.restriction {
        Restriction::Prohibited => "prohibited",
        Restriction::ReqAuthorisation => "authorisation required",
        Restriction::Conditional => "conditional",
        Restriction::NoRestriction => "no restriction",
        Restriction::USpace => "U-space airspace",
    };
    let mut out = format!("{} (feature {index}): {restriction}", zone.identifier);
    if let Some(name) = first(&zone.name) {
        let _ = write!(out, ", {name:?}");
    }
    out.push('\n');
    for (i, v) in zone.volumes.iter().enumerate() {
        let _ = writeln!(out, "  volume {i}: {}; {}", outline(&v.outline), limits(v, terrain));
    }
    let _ = writeln!(out, "  applies: {}", applicability(&zone.applicability));
    if let Some(conditions) = &zone.restriction_conditions {
        let _ = writeln!(out, "  conditions: {}", conditions.replace('\n', "; "));
    }
    if let Some(message) = first(&zone.message) {
        let _ = writeln!(out, "  message: {message}");
    }
    for a in &zone.authorities {
        let _ = writeln!(out, "  contact: {}", contact(a));
    }
    out
}

fn first(texts: &[Text]) -> Option<&str> {
    texts.first().map(|t| t.text.as_str())
}

fn outline(o: &Outline) -> String {
    match o {
        Outline::Circle(c) => {
            format!("circle of {} m around {}, {}", c.radius_m(), c.center().lat, c.center().lng)
        }
        Outline::Polygon(p) => format!("polygon of {} vertices", p.vertices().len()),
    }
}

fn limits(v: &ZoneVolume, terrain: &dyn Terrain) -> String {
    let unit = match v.unit {
        entente_geozones::Unit::Metres => "m",
        entente_geozones::Unit::Feet => "ft",
    };
    let level = |l: Option<Level>, none: &str| match l {
        None => none.to_owned(),
        Some(Level { value, reference }) => {
            let reference = match reference {
                VerticalReference::Agl => "AGL",
                VerticalReference::Amsl => "AMSL",
                VerticalReference::W84 => "W84",
            };
            format!("{value} {unit} {reference}")
        }
    };
    let band = w84_band(v, terrain);
    let w84 = |h: Option<f64>, none: &str| h.map_or(none.to_owned(), |h| format!("{h:.1} m"));
    let mut out = format!(
        "{} to {}; on WGS 84: {} to {}",
        level(v.lower, "surface"),
        level(v.upper, "unlimited"),
        w84(band.altitude.lo, "no lower limit"),
        w84(band.altitude.hi, "unlimited"),
    );
    if band.ground_unknown {
        out.push_str(" (no terrain data: AGL taken at its widest)");
    }
    out
}

fn applicability(periods: &[TimePeriod]) -> String {
    if periods.is_empty() || periods.iter().any(TimePeriod::is_permanent) {
        return "always".into();
    }
    let parts: Vec<String> = periods
        .iter()
        .map(|p| {
            let mut s = String::new();
            if let Some(start) = p.start {
                let _ = write!(s, "from {} ", start.to_rfc3339());
            }
            if let Some(end) = p.end {
                let _ = write!(s, "until {} ", end.to_rfc3339());
            }
            for d in &p.schedule {
                let days: Vec<String> = d.days.iter().map(|d| d.to_string()).collect();
                let _ = write!(
                    s,
                    "[{} {}{} to {}{}] ",
                    days.join(","),
                    d.start.time,
                    d.start.offset,
                    d.end.time,
                    d.end.offset
                );
            }
            s.trim_end().to_owned()
        })
        .collect();
    parts.join("; or ")
}

fn contact(a: &Authority) -> String {
    let mut parts: Vec<String> = Vec::new();
    parts.extend(first(&a.name).map(str::to_owned));
    parts.extend(first(&a.contact_name).map(str::to_owned));
    parts.extend([&a.email, &a.phone, &a.site_url].into_iter().flatten().cloned());
    if let Some(p) = a.purpose {
        parts.push(format!("for {p:?}").to_lowercase());
    }
    parts.join(", ")
}
