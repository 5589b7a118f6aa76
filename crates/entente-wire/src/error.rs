//! What is wrong with wire input: the field, by its JSON path, and the rule it breaks.

/// Wire input that makes no valid domain value. Its text is the message a caller reads (the server answers it
/// as a 400), so it starts with the field's path as the caller wrote it (`extents[0].time_start.value`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// A rule of the field itself: `extents[0].time_start.format must be "RFC3339", got "ISO"`.
    #[error("{path} {rule}")]
    Field { path: String, rule: String },
    /// What is wrong with the value found at `path`: `area_of_interest.volume: exactly one of … is required`.
    #[error("{path}: {rule}")]
    Value { path: String, rule: String },
}

impl WireError {
    pub fn field(path: impl Into<String>, rule: impl Into<String>) -> WireError {
        WireError::Field { path: path.into(), rule: rule.into() }
    }

    pub fn value(path: impl Into<String>, rule: impl Into<String>) -> WireError {
        WireError::Value { path: path.into(), rule: rule.into() }
    }

    /// The JSON path of the field at fault.
    pub fn path(&self) -> &str {
        match self {
            WireError::Field { path, .. } | WireError::Value { path, .. } => path,
        }
    }

    /// The rule the field breaks.
    pub fn rule(&self) -> &str {
        match self {
            WireError::Field { rule, .. } | WireError::Value { rule, .. } => rule,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_starts_with_the_path() {
        let e = WireError::field("extents[0].time_start.format", "must be \"RFC3339\"");
        assert_eq!(e.to_string(), "extents[0].time_start.format must be \"RFC3339\"");
        assert_eq!(e.path(), "extents[0].time_start.format");
        let e = WireError::value("area_of_interest.volume", "exactly one outline is required");
        assert_eq!(e.to_string(), "area_of_interest.volume: exactly one outline is required");
        assert_eq!(e.rule(), "exactly one outline is required");
    }
}
