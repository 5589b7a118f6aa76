//! Access tokens for this USS's outgoing calls: signed locally in development, or obtained by OAuth 2 client
//! credentials from a token endpoint, and reused until shortly before they expire.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use serde::Deserialize;

use crate::auth::TokenIssuer;
use crate::error::ApiError;

/// How long a development token lives; peers accept at most an hour.
const DEV_TOKEN_TTL: Duration = Duration::from_secs(600);
/// A token is replaced this long before it expires, so none expires in flight.
const RENEW_MARGIN: Duration = Duration::from_secs(60);

enum Kind {
    Dev { issuer: Box<TokenIssuer>, sub: String },
    ClientCredentials { endpoint: String, client_id: String, client_secret: String, http: reqwest::Client },
}

/// Where this USS's access tokens come from; one token per audience and scope is kept.
pub struct TokenSource {
    kind: Kind,
    cache: Mutex<HashMap<(String, String), (String, Instant)>>,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
}

impl TokenSource {
    /// Development mode: tokens for `sub` signed with this USS's own private key.
    pub fn dev(issuer: TokenIssuer, sub: impl Into<String>) -> TokenSource {
        TokenSource::with(Kind::Dev { issuer: Box::new(issuer), sub: sub.into() })
    }

    /// Production: OAuth 2 client credentials (RFC 6749 section 4.4) against `endpoint`, asking for the scope
    /// and, as the InterUSS and ASTM practice is, for the called host as `audience`.
    pub fn client_credentials(
        endpoint: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
    ) -> TokenSource {
        TokenSource::with(Kind::ClientCredentials {
            endpoint: endpoint.into(),
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            http: reqwest::Client::new(),
        })
    }

    fn with(kind: Kind) -> TokenSource {
        TokenSource { kind, cache: Mutex::new(HashMap::new()) }
    }

    pub(crate) async fn token(&self, audience: &str, scope: &str) -> Result<String, ApiError> {
        let key = (audience.to_owned(), scope.to_owned());
        if let Some((token, renew_at)) = self.cache.lock().get(&key)
            && Instant::now() < *renew_at
        {
            return Ok(token.clone());
        }
        let (token, ttl) = match &self.kind {
            Kind::Dev { issuer, sub } => {
                let token = issuer.issue(sub, &[scope], audience, DEV_TOKEN_TTL)?;
                (token, DEV_TOKEN_TTL)
            }
            Kind::ClientCredentials { endpoint, client_id, client_secret, http } => {
                let form = format!(
                    "grant_type=client_credentials&scope={}&audience={}",
                    form_encode(scope),
                    form_encode(audience)
                );
                let reply = http
                    .post(endpoint)
                    .basic_auth(client_id, Some(client_secret))
                    .header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                    .body(form)
                    .send()
                    .await
                    .map_err(|e| ApiError::Upstream(format!("token endpoint {endpoint}: {e}")))?;
                let status = reply.status();
                if !status.is_success() {
                    return Err(ApiError::Upstream(format!("token endpoint {endpoint} answered {status}")));
                }
                let body: TokenResponse = reply
                    .json()
                    .await
                    .map_err(|e| ApiError::Upstream(format!("token endpoint {endpoint}: {e}")))?;
                (body.access_token, Duration::from_secs(body.expires_in.unwrap_or(300)))
            }
        };
        let renew_at = Instant::now() + ttl.saturating_sub(RENEW_MARGIN);
        self.cache.lock().insert(key, (token.clone(), renew_at));
        Ok(token)
    }
}

/// `application/x-www-form-urlencoded` escaping of one value.
fn form_encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => (b as char).to_string(),
            b' ' => "+".to_owned(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::form_encode;

    #[test]
    fn form_values_are_escaped() {
        assert_eq!(form_encode("utm.strategic_coordination"), "utm.strategic_coordination");
        assert_eq!(form_encode("a b&c=d/é"), "a+b%26c%3Dd%2F%C3%A9");
    }
}
