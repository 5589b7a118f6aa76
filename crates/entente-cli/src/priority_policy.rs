//! The priority policy file of `entente uss --priority-policy`, and the policy `entente serve` gives its operators.
//!
//! ```json
//! {"levels": {"standard": 0, "high": 10}, "everyone": ["standard"], "operators": {"medic-ops": ["high"]}}
//! ```
//! A token with the scope `entente.priority.<level>` is granted that level too.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::Context;
use entente_uss::PriorityGrants;
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    levels: BTreeMap<String, i32>,
    #[serde(default)]
    everyone: BTreeSet<String>,
    #[serde(default)]
    operators: BTreeMap<String, BTreeSet<String>>,
}

/// Reads and checks the policy in `path`.
pub(crate) fn load(path: &Path) -> anyhow::Result<PriorityGrants> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    parse(&text).with_context(|| format!("in {}", path.display()))
}

fn parse(text: &str) -> anyhow::Result<PriorityGrants> {
    let file: PolicyFile = serde_json::from_str(text)?;
    let grants = PriorityGrants { levels: file.levels, everyone: file.everyone, operators: file.operators };
    grants.validate()?;
    Ok(grants)
}

/// `entente serve`'s policy, after the US UTM implementation's two levels: every operator flies at standard
/// priority (0); high priority (10), which may plan over standard flights, is granted to `north-uss`, whose seeded
/// flight uses it, and to any token with the scope `entente.priority.high`.
pub(crate) fn serve_policy() -> PriorityGrants {
    PriorityGrants {
        levels: [("standard".to_owned(), 0), ("high".to_owned(), 10)].into(),
        everyone: ["standard".to_owned()].into(),
        operators: [("north-uss".to_owned(), ["high".to_owned()].into())].into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_read_and_checked() {
        let grants = parse(r#"{"levels": {"standard": 0, "high": 10}, "everyone": ["standard"], "operators": {"medic": ["high"]}}"#).unwrap();
        assert!(grants.check("medic", &[], entente_uss::Priority(10)).is_ok());
        let typo = parse(r#"{"levels": {"standard": 0}, "everyone": ["standrad"]}"#).unwrap_err();
        assert!(format!("{typo:#}").contains("everyone: no level named \"standrad\""), "{typo:#}");
        let unknown = parse(r#"{"levels": {"standard": 0}, "evryone": ["standard"]}"#).unwrap_err();
        assert!(format!("{unknown:#}").contains("unknown field `evryone`"), "{unknown:#}");
        assert!(serve_policy().validate().is_ok());
    }
}
