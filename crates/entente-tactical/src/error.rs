//! The crate's error type: every rejection names the field (and for CSV input the line) and the rule it broke.

use std::fmt;

/// A field of an aircraft state, named as the replay CSV's column is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    Id,
    Lat,
    Lon,
    AltM,
    GsMps,
    TrkDeg,
    VsMps,
    T,
}

impl Field {
    /// Every field in the replay CSV's canonical column order.
    pub const ALL: [Field; 8] =
        [Field::Id, Field::Lat, Field::Lon, Field::AltM, Field::GsMps, Field::TrkDeg, Field::VsMps, Field::T];

    pub fn column(self) -> &'static str {
        match self {
            Field::Id => "id",
            Field::Lat => "lat",
            Field::Lon => "lon",
            Field::AltM => "alt_m",
            Field::GsMps => "gs_mps",
            Field::TrkDeg => "trk_deg",
            Field::VsMps => "vs_mps",
            Field::T => "t",
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.column())
    }
}

#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum TacticalError {
    #[error("{field}: {value} {rule}")]
    InvalidState { field: Field, value: f64, rule: &'static str },
    #[error("aircraft id must not be empty")]
    EmptyId,
    #[error("detector {field}: {value} {rule}")]
    InvalidConfig { field: &'static str, value: f64, rule: &'static str },
    #[error("line {line}: missing column {column} in the header")]
    MissingColumn { line: usize, column: &'static str },
    #[error("line {line}: column {column} appears twice in the header")]
    DuplicateColumn { line: usize, column: String },
    #[error("line {line}: expected {expected} fields, found {found}")]
    FieldCount { line: usize, expected: usize, found: usize },
    #[error("line {line}, field {field}: {text:?} is not a number")]
    NotANumber { line: usize, field: Field, text: String },
    #[error("line {line}, {source}")]
    InvalidRow {
        line: usize,
        #[source]
        source: Box<TacticalError>,
    },
    #[error("the replay has no samples")]
    EmptyReplay,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_line_the_field_and_the_rule() {
        let e = TacticalError::InvalidRow {
            line: 7,
            source: Box::new(TacticalError::InvalidState {
                field: Field::Lat,
                value: 95.0,
                rule: "is outside [-90, 90]",
            }),
        };
        assert_eq!(e.to_string(), "line 7, lat: 95 is outside [-90, 90]");
        let e = TacticalError::NotANumber { line: 3, field: Field::GsMps, text: "fast".into() };
        assert_eq!(e.to_string(), "line 3, field gs_mps: \"fast\" is not a number");
    }
}
