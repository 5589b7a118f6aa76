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
    /// A domain value this wire form cannot express (a circle in F3411-19, which has polygons only).
    #[error("{0}")]
    Inexpressible(String),
}

impl WireError {
    pub fn field(path: impl Into<String>, rule: impl Into<String>) -> WireError {
        WireError::Field { path: path.into(), rule: rule.into() }
    }

    pub fn value(path: impl Into<String>, rule: impl Into<String>) -> WireError {
        WireError::Value { path: path.into(), rule: rule.into() }
    }

    /// The JSON path of the field at fault, empty for a value going out.
    pub fn path(&self) -> &str {
        match self {
            WireError::Field { path, .. } | WireError::Value { path, .. } => path,
            WireError::Inexpressible(_) => "",
        }
    }

    /// The rule the field breaks.
    pub fn rule(&self) -> &str {
        match self {
            WireError::Field { rule, .. }
            | WireError::Value { rule, .. }
            | WireError::Inexpressible(rule) => rule,
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
