//! `entente geozones check`: a valid data set summarised zone by zone, a malformed one refused naming the
//! feature, the field and the rule, with a non-zero exit; `entente geozones import URL`: a data set downloaded and
//! imported into a USS of `entente serve`.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::Command;

use super::serve::Serve;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../entente-geozones/tests/fixtures").join(name)
}

fn check(name: &str) -> anyhow::Result<(bool, String, String)> {
    let out = Command::new(env!("CARGO_BIN_EXE_entente"))
        .args(["geozones", "check"])
        .arg(fixture(name))
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
        assert!(stdout.contains("(no terrain model: AGL taken at its widest)"), "{stdout}");
        assert!(stdout.contains("CHUV (feature 1): authorisation required"), "{stdout}");
        assert!(stdout.contains("[Mon,Tue,Wed,Thu,Fri 07:00:00+00:00 to 19:00:00+00:00]"), "{stdout}");
        assert!(stdout.contains("conditions: Visual line of sight only; No flight over bathers"), "{stdout}");
        assert!(stdout.trim_end().ends_with(&format!("{name}: {format}, 4 zones, valid")), "{stdout}");
    }
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
    let server = Serve::start(dir.path(), false)?;
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
