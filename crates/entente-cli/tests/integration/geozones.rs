//! `entente geozones check`: a valid data set summarised zone by zone (AGL limits over the terrain `--terrain`
//! names), a malformed one refused naming the feature, the field and the rule, with a non-zero exit, and so is a
//! damaged terrain tile; `entente geozones import URL`: a data set downloaded and imported into a USS of
//! `entente serve --terrain`, its AGL zone standing on the ground, and a plain-http geospatial data source loaded
//! by a USS of `entente serve --allow-http-base-urls`.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use entente_server::auth::TokenIssuer;

use super::serve::Serve;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../entente-geozones/tests/fixtures").join(name)
}

fn check(name: &str) -> anyhow::Result<(bool, String, String)> {
    check_over(name, &[])
}

/// The tiles of `entente-geozones`' tests: one tile, N46E006, around Lausanne.
fn terrain() -> PathBuf {
    fixture("terrain")
}

fn check_over(name: &str, flags: &[&std::ffi::OsStr]) -> anyhow::Result<(bool, String, String)> {
    let out = Command::new(env!("CARGO_BIN_EXE_entente"))
        .args(["geozones", "check"])
        .arg(fixture(name))
        .args(flags)
        .output()?;
    Ok((
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    ))
}

#[test]
fn check_summarises_each_zone_in_either_format() -> anyhow::Result<()> {
    for (name, format) in [("lausanne-ed269.json", "ED-269"), ("lausanne-ed318.json", "ED-318")] {
        let (ok, stdout, stderr) = check(name)?;
        assert!(ok, "{name}: {stderr}");
        assert!(
            stdout.contains("LSGL (feature 0): prohibited, \"Lausanne-Blecherette aerodrome\""),
            "{stdout}"
        );
        assert!(stdout.contains("0 m AGL to 150 m AGL; on WGS 84: "), "{stdout}");
        assert!(stdout.contains("(no terrain data: AGL taken at its widest)"), "{stdout}");
        assert!(stdout.contains("CHUV (feature 1): authorisation required"), "{stdout}");
        assert!(stdout.contains("[Mon,Tue,Wed,Thu,Fri 07:00:00+00:00 to 19:00:00+00:00]"), "{stdout}");
        assert!(stdout.contains("conditions: Visual line of sight only; No flight over bathers"), "{stdout}");
        assert!(stdout.trim_end().ends_with(&format!("{name}: {format}, 4 zones, valid")), "{stdout}");
    }
    Ok(())
}

/// The lower and upper W84 heights of the first volume line of zone `zone` in a summary, and whether it says the
/// terrain had no data.
fn w84_band(summary: &str, zone: &str) -> (f64, f64, bool) {
    let line = summary
        .lines()
        .skip_while(|l| !l.starts_with(zone))
        .find(|l| l.trim_start().starts_with("volume 0"))
        .unwrap_or_else(|| panic!("no volume for {zone}: {summary}"));
    let w84 = line.split("on WGS 84: ").nth(1).unwrap();
    let metres: Vec<f64> =
        w84.split(" m").filter_map(|s| s.trim_start_matches(" to ").trim().parse().ok()).collect();
    (metres[0], metres[1], line.contains("(no terrain data: AGL taken at its widest)"))
}

#[test]
fn check_takes_agl_limits_over_the_terrain_given() -> anyhow::Result<()> {
    // LSGL is 0 to 150 m above ground in a circle of 2 km around the aerodrome, which lies inside one cell of the
    // fixture's coarse grid (posts a quarter of a degree apart), between posts of 848 m (south-west) and the
    // 2 000 m peak (north-east); the ground under a boundary is bounded by its cells' posts, so the band runs from
    // 848 m to 2 150 m above mean sea level, the geoid about 50 m above the ellipsoid.
    let (ok, stdout, stderr) =
        check_over("lausanne-ed269.json", &["--terrain".as_ref(), terrain().as_os_str()])?;
    assert!(ok, "{stderr}");
    let (lo, hi, unknown) = w84_band(&stdout, "LSGL");
    assert!(!unknown, "{stdout}");
    assert!((890.0..905.0).contains(&lo) && (2190.0..2210.0).contains(&hi), "{lo}..{hi}: {stdout}");
    let (lo, hi, unknown) = w84_band(&check("lausanne-ed269.json")?.1, "LSGL");
    assert!(unknown && lo < -300.0 && hi > 8800.0, "{lo}..{hi}");

    // A damaged tile stops the check, naming the file.
    let dir = tempfile::tempdir()?;
    std::fs::write(dir.path().join("N46E006.hgt"), [0u8; 49])?;
    let (ok, _, stderr) = check_over("lausanne-ed269.json", &["--terrain".as_ref(), dir.path().as_os_str()])?;
    assert!(!ok);
    assert!(stderr.contains("N46E006.hgt: 49 bytes is not a square grid of 16-bit posts"), "{stderr}");
    Ok(())
}

#[test]
fn check_refuses_a_malformed_data_set_naming_feature_and_field() -> anyhow::Result<()> {
    let (ok, _, stderr) = check("bad-radius-ed269.json")?;
    assert!(!ok);
    assert!(
        stderr.contains(
            "feature 0 (\"LSGL\"): $.features[0].geometry[0].horizontalProjection.radius: \
             circle radius -2000 m must be greater than 0"
        ),
        "{stderr}"
    );
    Ok(())
}

/// Serves `body` to every request on loopback, from a thread, for as long as the test runs. Its base URL.
fn serve_file(body: String) -> anyhow::Result<String> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let base = format!("http://127.0.0.1:{}", listener.local_addr()?.port());
    std::thread::spawn(move || {
        for mut stream in listener.incoming().map_while(Result::ok) {
            // The request is read up to the end of its head; a GET has no body.
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).is_ok_and(|n| n == 1) {
                head.push(byte[0]);
            }
            let answer = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(answer.as_bytes());
        }
    });
    Ok(base)
}

#[test]
fn import_downloads_a_data_set_from_a_url_into_a_uss() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let tiles = terrain();
    let flags = ["--terrain".as_ref(), tiles.as_os_str(), "--allow-http-base-urls".as_ref()];
    let server = Serve::start_with(dir.path(), false, &flags)?;
    let files = serve_file(std::fs::read_to_string(fixture("lausanne-ed269.json"))?)?;
    let uss = format!("{}/uss/authority", server.base.replace("127.0.0.1", "localhost"));
    let out = Command::new(env!("CARGO_BIN_EXE_entente"))
        .args(["geozones", "import", &format!("{files}/sets/lausanne.json"), "--uss", &uss, "--private-key"])
        .arg(dir.path().join("dev-keys/private.pem"))
        .output()?;
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{stdout}{stderr}");
    // Named after the URL's last segment, read as ED-269, its prohibited zones published.
    assert!(stdout.starts_with("lausanne: 4 zones (ED-269)"), "{stdout}");
    assert!(stdout.contains("created: zone LSGL as constraint"), "{stdout}");
    // The USS stood LSGL's limits above ground on the terrain: none was taken at its widest.
    assert!(!stdout.contains("no terrain data"), "{stdout}");

    // With --allow-http-base-urls, the operators' USSs load geospatial data sources over plain http too.
    let key = std::fs::read_to_string(dir.path().join("dev-keys/private.pem"))?;
    let scope = "interuss.geospatial_map.direct_automated_test";
    let token = TokenIssuer::from_pem(&key, None)?.issue(
        "qualifier",
        &[scope],
        "localhost",
        Duration::from_secs(60),
    )?;
    let source = format!(
        "{}/uss/north-uss/geospatial_map/v1/geospatial_data_sources/{}",
        server.base,
        uuid::Uuid::new_v4()
    );
    let put = reqwest::blocking::Client::new()
        .put(&source)
        .bearer_auth(token)
        .json(&serde_json::json!({"https_source": {"url": format!("{files}/lausanne.json"), "format": "ED-269"}}))
        .send()?;
    let (status, body) = (put.status(), put.text()?);
    assert!(status == 200 && body.contains("\"Ready\""), "{status}: {body}");

    // A URL nothing answers at is named in the failure, and nothing is sent to the USS.
    let closed = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let url = format!("http://127.0.0.1:{closed}/other.json");
    let out = Command::new(env!("CARGO_BIN_EXE_entente"))
        .args(["geozones", "import", &url, "--uss", &uss, "--private-key"])
        .arg(dir.path().join("dev-keys/private.pem"))
        .output()?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains(&url), "{stderr}");
    Ok(())
}
