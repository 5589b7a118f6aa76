//! `entente geozones check`: a valid data set summarised zone by zone, a malformed one refused naming the
//! feature, the field and the rule, with a non-zero exit.

use std::path::PathBuf;
use std::process::Command;

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
