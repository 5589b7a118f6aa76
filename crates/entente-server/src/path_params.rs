//! Every path parameter (an id, an OVN, a version, a USS's identity), and every identifier a caller chooses in a body
//! that the server keeps (a flight planning request id), is checked before any handler uses it: at most
//! 256 characters, none of them a control or bidirectional-formatting character, so that nothing stored, logged or
//! echoed back can be a 7 000-character name, carry a NUL, or read right to left.

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

/// Longest path parameter, in characters: F3548's OVNs, the longest identifiers it names, have at most 128.
pub(crate) const MAX_PATH_PARAM_CHARS: usize = 256;

/// Middleware: 400 naming the parameter and the rule when one breaks it.
pub(crate) async fn check_path_params(req: Request, next: Next) -> Response {
    if let Some(template) = req.extensions().get::<MatchedPath>()
        && let Err(e) = check(template.as_str(), req.uri().path())
    {
        return e.into_response();
    }
    next.run(req).await
}

/// Pairs the route's template (`/dss/v1/uss_availability/{uss_id}`) with the path segment by segment.
fn check(template: &str, path: &str) -> Result<(), ApiError> {
    for (segment, raw) in template.split('/').zip(path.split('/')) {
        let Some(name) = segment.strip_prefix('{').and_then(|n| n.strip_suffix('}')) else { continue };
        let value = percent_decoded(raw)
            .ok_or_else(|| ApiError::bad(format!("{name}: not valid UTF-8 once percent-decoded")))?;
        check_identifier(name, &value)?;
    }
    Ok(())
}

/// An identifier a caller chose (a path parameter, a request id in a body) that this server keeps or echoes: at most
/// [`MAX_PATH_PARAM_CHARS`] characters, none a control or bidirectional-formatting character.
pub(crate) fn check_identifier(name: &str, value: &str) -> Result<(), ApiError> {
    let count = value.chars().count();
    if count > MAX_PATH_PARAM_CHARS {
        return Err(ApiError::bad(format!(
            "{name}: {count} characters, more than the limit of {MAX_PATH_PARAM_CHARS}"
        )));
    }
    if let Some(c) = value.chars().find(|&c| c.is_control() || is_bidi_formatting(c)) {
        return Err(ApiError::bad(format!(
            "{name}: contains U+{:04X}; control and bidirectional-formatting characters are not allowed",
            u32::from(c)
        )));
    }
    Ok(())
}

/// The marks and embeddings that make text display in another order than it is stored.
fn is_bidi_formatting(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// `%XX` escapes decoded (as the path extractor decodes them); `None` if the bytes are not UTF-8.
fn percent_decoded(raw: &str) -> Option<String> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| bytes.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok());
        match escaped {
            Some(byte) => {
                out.push(byte);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEMPLATE: &str = "/dss/v1/uss_availability/{uss_id}";

    fn refusal(path: &str) -> String {
        check(TEMPLATE, path).unwrap_err().to_string()
    }

    #[test]
    fn parameters_are_named_with_the_rule_they_break() {
        assert!(check(TEMPLATE, "/dss/v1/uss_availability/uss1").is_ok());
        assert!(check(TEMPLATE, "/dss/v1/uss_availability/caf%C3%A9%20uss").is_ok(), "any printable text");
        assert!(check(TEMPLATE, &format!("/dss/v1/uss_availability/{}", "a".repeat(256))).is_ok());
        assert_eq!(
            refusal(&format!("/dss/v1/uss_availability/{}", "a".repeat(7000))),
            "uss_id: 7000 characters, more than the limit of 256"
        );
        assert_eq!(
            refusal("/dss/v1/uss_availability/uss%00"),
            "uss_id: contains U+0000; control and bidirectional-formatting characters are not allowed"
        );
        assert!(refusal("/dss/v1/uss_availability/uss%E2%80%AEevil").contains("U+202E"));
        assert!(refusal("/dss/v1/uss_availability/%FF").contains("not valid UTF-8"));
    }

    #[test]
    fn percent_escapes_decode_and_stray_percents_stay() {
        assert_eq!(percent_decoded("a%20b%2f%"), Some("a b/%".to_owned()));
        assert_eq!(percent_decoded("%zz%4"), Some("%zz%4".to_owned()));
    }
}
