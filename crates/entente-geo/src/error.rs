//! The crate's error type: every rejection names the offending element and the rule it broke, so that a client
//! can fix its request from the message alone.

use std::fmt;

/// The part of a shape a coordinate error refers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Element {
    /// Index into the vertex list exactly as the caller supplied it.
    Vertex(usize),
    CircleCenter,
}

impl fmt::Display for Element {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Element::Vertex(i) => write!(f, "vertex {i}"),
            Element::CircleCenter => f.write_str("circle center"),
        }
    }
}

/// Why a shape was rejected. Vertex and edge indices refer to the caller's vertex order; edge `i` runs from vertex
/// `i` to vertex `i + 1` (the last edge closes the ring back to vertex 0).
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum GeoError {
    #[error("{element}: latitude {value} is not a finite number")]
    NonFiniteLatitude { element: Element, value: f64 },
    #[error("{element}: longitude {value} is not a finite number")]
    NonFiniteLongitude { element: Element, value: f64 },
    #[error("{element}: latitude {value} is outside [-90, 90]")]
    LatitudeOutOfRange { element: Element, value: f64 },
    #[error("{element}: longitude {value} is outside [-180, 180]")]
    LongitudeOutOfRange { element: Element, value: f64 },
    #[error("polygon needs at least 3 vertices, got {count}")]
    TooFewVertices { count: usize },
    #[error("vertices {first} and {second} are the same point")]
    DuplicateVertices { first: usize, second: usize },
    #[error("polygon spans more than a hemisphere")]
    SpansHemisphere,
    #[error("edges {first} and {second} overlap (the ring doubles back on itself)")]
    EdgesOverlap { first: usize, second: usize },
    #[error("edges {first} and {second} cross")]
    EdgesCross { first: usize, second: usize },
    #[error("edges {first} and {second} touch")]
    EdgesTouch { first: usize, second: usize },
    #[error(
        "polygon is degenerate: area {area_m2} m2 is ~0 for a perimeter of {perimeter_m} m \
         (all vertices are nearly on one great circle)"
    )]
    Degenerate { area_m2: f64, perimeter_m: f64 },
    #[error("circle radius {radius_m} m is not a finite number")]
    NonFiniteRadius { radius_m: f64 },
    #[error("circle radius {radius_m} m must be greater than 0")]
    NonPositiveRadius { radius_m: f64 },
    #[error(
        "circle radius {radius_m} m must be less than a quarter of the earth's circumference ({max_m} m)"
    )]
    RadiusTooLarge { radius_m: f64, max_m: f64 },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_element_and_the_rule() {
        let e = GeoError::LatitudeOutOfRange { element: Element::Vertex(3), value: 91.0 };
        assert_eq!(e.to_string(), "vertex 3: latitude 91 is outside [-90, 90]");
        let e = GeoError::NonFiniteLongitude { element: Element::CircleCenter, value: f64::INFINITY };
        assert_eq!(e.to_string(), "circle center: longitude inf is not a finite number");
        assert_eq!(GeoError::EdgesCross { first: 0, second: 2 }.to_string(), "edges 0 and 2 cross");
    }
}
