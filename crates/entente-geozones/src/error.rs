//! The crate's error type: a rejected data set names the feature (its index, and its identifier when it has
//! one), the JSON path of the field and the rule it broke, so the authority can fix its file from the message.

use std::fmt;

/// The feature an error is about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FeatureRef {
    /// Position in the data set's `features` array.
    pub index: usize,
    /// Its `identifier`, when it has a readable one.
    pub identifier: Option<String>,
}

impl fmt::Display for FeatureRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.identifier {
            Some(id) => write!(f, "feature {} ({id:?})", self.index),
            None => write!(f, "feature {}", self.index),
        }
    }
}

#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum GeozoneError {
    /// The text is not JSON at all.
    #[error("not JSON: {0}")]
    Syntax(String),
    /// A field breaks a rule of the format or of the model.
    #[error("{}{path}: {rule}", feature.as_ref().map(|f| format!("{f}: ")).unwrap_or_default())]
    Invalid {
        /// `None` for the data set's own fields (outside any feature).
        feature: Option<FeatureRef>,
        /// JSON path from the document's root, e.g. `$.features[2].geometry[0].upperLimit`.
        path: String,
        rule: String,
    },
    /// A zone cannot be written in the target format (say, an identifier ED-318 finds too long).
    #[error("{feature}: cannot export {field}: {rule}")]
    Export { feature: FeatureRef, field: &'static str, rule: String },
    /// A question about time asked over an interval that is empty.
    #[error("interval from {start} to {end} is empty")]
    EmptyInterval { start: String, end: String },
    /// A question about time asked over an interval longer than `max_days`, whose windows would take too long
    /// to list.
    #[error("interval from {start} to {end} is longer than {max_days} days")]
    IntervalTooLong { start: String, end: String, max_days: i64 },
}

impl GeozoneError {
    /// The rule broken, for tests and callers that show it apart from its place.
    pub fn rule(&self) -> Option<&str> {
        match self {
            GeozoneError::Invalid { rule, .. } | GeozoneError::Export { rule, .. } => Some(rule),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_names_feature_path_and_rule() {
        let e = GeozoneError::Invalid {
            feature: Some(FeatureRef { index: 2, identifier: Some("LSGL".into()) }),
            path: "$.features[2].geometry[0].upperLimit".into(),
            rule: "must be a number".into(),
        };
        assert_eq!(
            e.to_string(),
            "feature 2 (\"LSGL\"): $.features[2].geometry[0].upperLimit: must be a number"
        );
        let e =
            GeozoneError::Invalid { feature: None, path: "$.features".into(), rule: "is required".into() };
        assert_eq!(e.to_string(), "$.features: is required");
    }
}
