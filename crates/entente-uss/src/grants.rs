//! Which priorities an operator may file: named levels of F3548 priority, granted to every operator, to particular
//! operators by identity, or by a scope their token carries. Modelled on the US UTM implementation's policy (a
//! standard level for routine operations, a high level reserved for approved life-safety missions, equal-priority
//! conflicts never permitted), but with any number of levels.

use std::collections::{BTreeMap, BTreeSet};

use crate::error::UssError;
use crate::flight::Priority;

/// The scope that grants level `name` to whoever's token carries it: `entente.priority.<name>`.
pub const GRANT_SCOPE_PREFIX: &str = "entente.priority.";

/// A priority policy that cannot be applied as written, found when the USS starts.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("priority policy: {0}")]
pub struct PolicyError(String);

/// A USS's priority policy. Levels are F3548 priority numbers under names operators and authorities use.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PriorityGrants {
    /// Every level the policy knows, by name.
    pub levels: BTreeMap<String, i32>,
    /// The levels every operator may use.
    pub everyone: BTreeSet<String>,
    /// The levels particular operators may use besides, by identity (their token's `sub`).
    pub operators: BTreeMap<String, BTreeSet<String>>,
}

impl PriorityGrants {
    /// Checks that the policy names only levels it defines, so a typing error cannot silently grant nothing.
    pub fn validate(&self) -> Result<(), PolicyError> {
        let unknown = self
            .everyone
            .iter()
            .map(|l| ("everyone".to_owned(), l))
            .chain(
                self.operators
                    .iter()
                    .flat_map(|(op, ls)| ls.iter().map(move |l| (format!("operators.{op}"), l))),
            )
            .find(|(_, l)| !self.levels.contains_key(*l));
        match unknown {
            Some((at, level)) => Err(PolicyError(format!("{at}: no level named {level:?} in levels"))),
            None if self.levels.is_empty() => Err(PolicyError("levels: at least one level is needed".into())),
            None => Ok(()),
        }
    }

    /// The levels `operator`, whose token carries `scopes`, may use, lowest priority first.
    pub fn granted(&self, operator: &str, scopes: &[String]) -> Vec<(&str, i32)> {
        let by_scope = scopes.iter().filter_map(|s| s.strip_prefix(GRANT_SCOPE_PREFIX));
        let names: BTreeSet<&str> = self
            .everyone
            .iter()
            .map(String::as_str)
            .chain(self.operators.get(operator).into_iter().flatten().map(String::as_str))
            .chain(by_scope)
            .collect();
        let mut out: Vec<(&str, i32)> = self
            .levels
            .iter()
            .filter(|(n, _)| names.contains(n.as_str()))
            .map(|(n, p)| (n.as_str(), *p))
            .collect();
        out.sort_by_key(|(n, p)| (*p, *n));
        out
    }

    /// Whether `operator`, whose token carries `scopes`, may file a flight at `priority`; the refusal names the
    /// levels it may use.
    pub fn check(&self, operator: &str, scopes: &[String], priority: Priority) -> Result<(), UssError> {
        let granted = self.granted(operator, scopes);
        if granted.iter().any(|(_, p)| *p == priority.0) {
            return Ok(());
        }
        let allowed = if granted.is_empty() {
            "none".to_owned()
        } else {
            granted.iter().map(|(n, p)| format!("{n} ({p})")).collect::<Vec<_>>().join(", ")
        };
        Err(UssError::PriorityNotGranted { priority: priority.0, operator: operator.to_owned(), allowed })
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn us_like() -> PriorityGrants {
        PriorityGrants {
            levels: [("standard".to_owned(), 0), ("high".to_owned(), 100)].into(),
            everyone: ["standard".to_owned()].into(),
            operators: [("medic".to_owned(), ["high".to_owned()].into())].into(),
        }
    }

    #[test]
    fn standard_for_everyone_high_by_identity_or_scope() {
        let p = us_like();
        assert!(p.check("courier", &[], Priority(0)).is_ok());
        let refused = p.check("courier", &[], Priority(100)).unwrap_err();
        assert_eq!(
            refused.to_string(),
            "priority 100 is not granted to operator courier; it may use standard (0)"
        );
        assert!(p.check("medic", &[], Priority(100)).is_ok());
        assert!(p.check("courier", &["entente.priority.high".to_owned()], Priority(100)).is_ok());
        // A priority no level names is refused to everyone.
        assert!(p.check("medic", &[], Priority(1000)).is_err());
        assert_eq!(p.granted("medic", &[]), [("standard", 0), ("high", 100)]);
    }

    #[test]
    fn a_policy_naming_an_unknown_level_is_refused() {
        let mut p = us_like();
        p.operators.insert("typo".into(), ["hihg".to_owned()].into());
        assert_eq!(
            p.validate().unwrap_err().to_string(),
            "priority policy: operators.typo: no level named \"hihg\" in levels"
        );
        assert!(us_like().validate().is_ok());
        assert!(PriorityGrants::default().validate().is_err());
    }

    proptest! {
        /// Exactly the priorities of the levels granted pass, whoever asks.
        #[test]
        fn only_granted_levels_pass(
            levels in proptest::collection::btree_map("[a-d]", -5i32..5, 1..4),
            everyone in proptest::collection::btree_set("[a-d]", 0..3),
            mine in proptest::collection::btree_set("[a-d]", 0..3),
            asked in -6i32..6,
        ) {
            let everyone: BTreeSet<String> = everyone.into_iter().filter(|l| levels.contains_key(l)).collect();
            let mine: BTreeSet<String> = mine.into_iter().filter(|l| levels.contains_key(l)).collect();
            let p = PriorityGrants { levels: levels.clone(), everyone: everyone.clone(), operators: [("op".to_owned(), mine.clone())].into() };
            prop_assert!(p.validate().is_ok());
            let expected = levels.iter().any(|(n, v)| *v == asked && (everyone.contains(n) || mine.contains(n)));
            prop_assert_eq!(p.check("op", &[], Priority(asked)).is_ok(), expected);
            let others = levels.iter().any(|(n, v)| *v == asked && everyone.contains(n));
            prop_assert_eq!(p.check("other", &[], Priority(asked)).is_ok(), others);
        }
    }
}
