//! Bearer-token authentication: verifies the OAuth 2.0 JWT access tokens that ASTM F3548-21 / F3411 clients present, and issues development tokens.
//!
//! Trusted keys come from PEM files and JWKS endpoints (refreshed in the background). Only
//! asymmetric algorithms are accepted (RS256/RS384/RS512/PS256 for RSA keys, ES256 for P-256
//! keys); `none` and HMAC algorithms are always refused, so a token "signed" with a public key
//! as an HMAC secret can never verify. Verified tokens are cached because an RSA verification
//! costs far more than a hash-map lookup, and the cache never outlives a token's `exp` or a key
//! rotation.

mod cache;
mod der;
mod issuer;
mod keys;
#[cfg(test)]
mod tests;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use parking_lot::RwLock;
use serde::Deserialize;
use serde_json::Value;

pub use issuer::{DEV_ISSUER, TokenIssuer};

use cache::TokenCache;
use keys::VerifyKey;

/// Clock skew tolerated on `exp`, `nbf` and the maximum-lifetime check, in seconds.
pub const CLOCK_LEEWAY_SECS: i64 = 30;

/// How far in the future `exp` may lie. F3548-21 access tokens are short-lived; a token valid
/// for longer is more likely stolen-and-hoarded or mis-issued than legitimate.
pub const MAX_TOKEN_LIFETIME_SECS: i64 = 3600;

/// Default number of verified tokens remembered by an [`Authenticator`].
pub const DEFAULT_CACHE_CAPACITY: usize = 10_000;

/// Default JWKS refresh period used by [`AuthConfig::default`].
pub const DEFAULT_JWKS_REFRESH: Duration = Duration::from_secs(300);

/// Longer tokens are refused before any decoding, so oversized headers cannot make us hash or
/// parse megabytes per request. Real access tokens are well under 2 KiB.
const MAX_TOKEN_LEN: usize = 8 * 1024;

/// Why a request could not be authenticated, or why the authentication setup is unusable.
///
/// The `Display` text of the request-level variants is meant for the 401 response body: it
/// tells the client what to fix without revealing key material. See
/// [`AuthError::is_unauthorized`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("missing Authorization header; send `Authorization: Bearer <access token>`")]
    MissingCredentials,
    #[error("the Authorization header must use the Bearer scheme: `Authorization: Bearer <access token>`")]
    InvalidScheme,
    #[error("malformed access token: {0}")]
    MalformedToken(&'static str),
    #[error("access token signing algorithm is not accepted; use RS256, RS384, RS512, PS256 or ES256")]
    UnsupportedAlgorithm,
    #[error("access token signature could not be verified with any trusted key")]
    InvalidSignature,
    #[error("access token is missing the required `{0}` claim")]
    MissingClaim(&'static str),
    #[error("access token `{claim}` claim is invalid: {reason}")]
    InvalidClaim { claim: &'static str, reason: &'static str },
    #[error("access token has expired")]
    Expired,
    #[error("access token is not valid yet (`nbf` is in the future)")]
    NotYetValid,
    #[error("access token `exp` is more than 1 hour in the future; request a shorter-lived token")]
    LifetimeTooLong,
    #[error("access token audience (`aud`) does not match this service")]
    InvalidAudience,

    #[error("invalid authentication configuration: {0}")]
    Config(String),
    #[error("cannot load public key from {origin}: {reason}")]
    InvalidPublicKey { origin: String, reason: String },
    #[error("cannot load JWKS from {url}: {reason}")]
    Jwks { url: String, reason: String },
    #[error("cannot use token signing key: {0}")]
    InvalidSigningKey(String),
    #[error("cannot issue token: {0}")]
    Issue(String),
}

impl AuthError {
    /// True for errors caused by the request's credentials (answer 401); false for
    /// configuration and start-up errors, which never come out of [`Authenticator::verify`].
    pub fn is_unauthorized(&self) -> bool {
        !matches!(
            self,
            AuthError::Config(_)
                | AuthError::InvalidPublicKey { .. }
                | AuthError::Jwks { .. }
                | AuthError::InvalidSigningKey(_)
                | AuthError::Issue(_)
        )
    }
}

/// Where trusted keys come from and which audiences this service answers to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthConfig {
    /// PEM files: RSA public keys (SPKI or PKCS#1), P-256 public keys (SPKI) or X.509
    /// certificates carrying either.
    pub public_key_pems: Vec<PathBuf>,
    /// JWKS endpoints, fetched at start-up and every `jwks_refresh`.
    pub jwks_urls: Vec<String>,
    /// Accepted `aud` values (typically this DSS's host name).
    pub audiences: Vec<String>,
    pub jwks_refresh: Duration,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            public_key_pems: Vec::new(),
            jwks_urls: Vec::new(),
            audiences: Vec::new(),
            jwks_refresh: DEFAULT_JWKS_REFRESH,
        }
    }
}

/// The verified identity and permissions carried by an access token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    pub sub: String,
    pub scopes: Vec<String>,
    /// Expiry, seconds since the Unix epoch.
    pub exp: i64,
    pub iss: String,
}

impl Claims {
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }
}

type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// State shared with the JWKS refresh task.
struct Shared {
    static_keys: Vec<VerifyKey>,
    jwks_keys: RwLock<Arc<Vec<VerifyKey>>>,
    /// Bumped after every key-set change; cached verifications from an older generation are
    /// ignored, so a key removed from a JWKS stops authorising its tokens immediately.
    generation: AtomicU64,
}

impl Shared {
    fn new(static_keys: Vec<VerifyKey>, jwks_keys: Vec<VerifyKey>) -> Shared {
        Shared { static_keys, jwks_keys: RwLock::new(Arc::new(jwks_keys)), generation: AtomicU64::new(0) }
    }

    fn replace_jwks_keys(&self, keys: Vec<VerifyKey>) {
        *self.jwks_keys.write() = Arc::new(keys);
        // After the swap, so a verification that used the old keys is filed under a stale
        // generation and never served from the cache.
        self.generation.fetch_add(1, Ordering::AcqRel);
    }
}

/// Verifies `Authorization: Bearer` access tokens. Cheap to share: wrap it in an `Arc`.
pub struct Authenticator {
    shared: Arc<Shared>,
    audiences: Vec<String>,
    cache: TokenCache,
    clock: Clock,
    refresh_task: Option<tokio::task::AbortHandle>,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator")
            .field("keys", &self.key_count())
            .field("audiences", &self.audiences)
            .field("jwks_refresh", &self.refresh_task.is_some())
            .finish_non_exhaustive()
    }
}

impl Drop for Authenticator {
    fn drop(&mut self) {
        if let Some(task) = &self.refresh_task {
            task.abort();
        }
    }
}

impl Authenticator {
    /// Loads every PEM file and fetches every JWKS once; any failure aborts start-up, because a
    /// DSS silently missing a trust anchor would reject (or worse, mis-route) real traffic.
    /// Must be called inside a Tokio runtime when `jwks_urls` is non-empty: it spawns the
    /// refresh task there.
    pub async fn new(config: AuthConfig) -> Result<Authenticator, AuthError> {
        let audiences = checked_audiences(config.audiences)?;
        if config.public_key_pems.is_empty() && config.jwks_urls.is_empty() {
            return Err(AuthError::Config(
                "no trusted keys: configure at least one public key PEM file or JWKS URL".into(),
            ));
        }
        if !config.jwks_urls.is_empty() && config.jwks_refresh.is_zero() {
            return Err(AuthError::Config("the JWKS refresh interval must be greater than zero".into()));
        }

        let mut static_keys = Vec::with_capacity(config.public_key_pems.len());
        for path in &config.public_key_pems {
            let origin = path.display().to_string();
            let pem = std::fs::read_to_string(path).map_err(|e| AuthError::InvalidPublicKey {
                origin: origin.clone(),
                reason: format!("cannot read file: {e}"),
            })?;
            static_keys.push(keys::parse_public_pem(&pem, &origin)?);
        }

        let refresh = if config.jwks_urls.is_empty() {
            None
        } else {
            let client = keys::http_client()?;
            let mut per_url = Vec::with_capacity(config.jwks_urls.len());
            for url in &config.jwks_urls {
                if !url.starts_with("https://") {
                    tracing::warn!(%url, "JWKS URL does not use https; keys fetched from it can be tampered with in transit");
                }
                per_url.push(keys::fetch_jwks(&client, url).await?);
            }
            Some((client, per_url))
        };

        let jwks_keys = refresh
            .as_ref()
            .map(|(_, per_url)| per_url.iter().flatten().cloned().collect())
            .unwrap_or_default();
        let shared = Arc::new(Shared::new(static_keys, jwks_keys));
        let refresh_task = refresh.map(|(client, per_url)| {
            keys::spawn_refresh(
                Arc::downgrade(&shared),
                client,
                config.jwks_urls,
                per_url,
                config.jwks_refresh,
            )
        });

        let mut authenticator = Authenticator::from_shared(shared, audiences);
        authenticator.refresh_task = refresh_task;
        tracing::info!(keys = authenticator.key_count(), "access token verification keys loaded");
        Ok(authenticator)
    }

    /// Trusts the given PEM-encoded public keys (same forms as [`AuthConfig::public_key_pems`]).
    pub fn from_pem_strings(pems: &[&str], audiences: Vec<String>) -> Result<Authenticator, AuthError> {
        let audiences = checked_audiences(audiences)?;
        if pems.is_empty() {
            return Err(AuthError::Config("no public keys given".into()));
        }
        let keys = pems
            .iter()
            .enumerate()
            .map(|(i, pem)| keys::parse_public_pem(pem, &format!("PEM string #{i}")))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Authenticator::from_shared(Arc::new(Shared::new(keys, Vec::new())), audiences))
    }

    /// Trusts the keys of a JWKS document (`{"keys": [...]}`) without fetching anything.
    pub fn from_jwks_json(jwks: &Value, audiences: Vec<String>) -> Result<Authenticator, AuthError> {
        let audiences = checked_audiences(audiences)?;
        let keys = keys::parse_jwks(jwks, "JWKS document")?;
        Ok(Authenticator::from_shared(Arc::new(Shared::new(Vec::new(), keys)), audiences))
    }

    fn from_shared(shared: Arc<Shared>, audiences: Vec<String>) -> Authenticator {
        Authenticator {
            shared,
            audiences,
            cache: TokenCache::new(DEFAULT_CACHE_CAPACITY),
            clock: Arc::new(unix_now),
            refresh_task: None,
        }
    }

    /// Replaces the wall clock (seconds since the Unix epoch) used for `exp`/`nbf` checks.
    pub fn with_clock(mut self, clock: impl Fn() -> i64 + Send + Sync + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Sets how many verified tokens are remembered; 0 disables the cache.
    pub fn with_cache_capacity(mut self, capacity: usize) -> Self {
        self.cache = TokenCache::new(capacity);
        self
    }

    /// Number of keys currently trusted (PEM plus JWKS).
    pub fn key_count(&self) -> usize {
        self.shared.static_keys.len() + self.shared.jwks_keys.read().len()
    }

    /// Authenticates a request from its raw `Authorization` header value.
    pub fn verify(&self, authorization: Option<&str>) -> Result<Claims, AuthError> {
        let token = bearer_token(authorization)?;
        let now = (self.clock)();
        // Read before the keys are consulted; see `Shared::replace_jwks_keys`.
        let generation = self.shared.generation.load(Ordering::Acquire);
        let digest = cache::digest(token);

        if let Some(claims) = self.cache.get(&digest, generation) {
            // Everything else about a cached token is time-independent or can only improve
            // with time; expiry is the one thing that must be re-checked.
            check_not_expired(claims.exp, now)?;
            return Ok(claims);
        }

        let claims = self.verify_uncached(token, now)?;
        self.cache.insert(digest, claims.clone(), generation, now);
        Ok(claims)
    }

    fn verify_uncached(&self, token: &str, now: i64) -> Result<Claims, AuthError> {
        let (message, signature) = token.rsplit_once('.').ok_or(AuthError::MalformedToken(NOT_A_JWT))?;
        let (header_b64, payload_b64) =
            message.split_once('.').ok_or(AuthError::MalformedToken(NOT_A_JWT))?;
        if header_b64.is_empty() || payload_b64.is_empty() || payload_b64.contains('.') {
            return Err(AuthError::MalformedToken(NOT_A_JWT));
        }

        let header: JoseHeader = decode_json_part(header_b64)
            .ok_or(AuthError::MalformedToken("the JWT header is not base64url-encoded JSON"))?;
        if header.crit.is_some() {
            return Err(AuthError::MalformedToken(
                "the JWT header lists critical extensions, none of which are supported",
            ));
        }
        let alg = keys::accepted_algorithm(&header.alg).ok_or(AuthError::UnsupportedAlgorithm)?;
        if signature.is_empty() {
            return Err(AuthError::InvalidSignature);
        }

        let jwks_keys = Arc::clone(&self.shared.jwks_keys.read());
        let all_keys = self.shared.static_keys.iter().chain(jwks_keys.iter());
        if !keys::verify_signature(all_keys, alg, header.kid.as_deref(), message, signature) {
            return Err(AuthError::InvalidSignature);
        }

        let raw: RawClaims = decode_json_part(payload_b64)
            .ok_or(AuthError::MalformedToken("the JWT payload is not a base64url-encoded JSON object"))?;
        validate_claims(raw, &self.audiences, now)
    }
}

const NOT_A_JWT: &str = "expected a JWT of three dot-separated base64url parts";

fn checked_audiences(audiences: Vec<String>) -> Result<Vec<String>, AuthError> {
    if audiences.is_empty() || audiences.iter().any(|a| a.trim().is_empty()) {
        return Err(AuthError::Config("at least one non-empty token audience must be configured".into()));
    }
    Ok(audiences)
}

/// Current time in seconds since the Unix epoch; a clock set before 1970 reads as 0 rather
/// than panicking.
fn unix_now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

fn bearer_token(authorization: Option<&str>) -> Result<&str, AuthError> {
    let value =
        authorization.map(str::trim).filter(|v| !v.is_empty()).ok_or(AuthError::MissingCredentials)?;
    let (scheme, rest) = value.split_once([' ', '\t']).unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(AuthError::InvalidScheme);
    }
    let token = rest.trim_start_matches([' ', '\t']);
    if token.is_empty() {
        return Err(AuthError::MalformedToken("the bearer token is empty"));
    }
    if token.len() > MAX_TOKEN_LEN {
        return Err(AuthError::MalformedToken("the bearer token is too long"));
    }
    if token.chars().any(char::is_whitespace) {
        return Err(AuthError::MalformedToken("the bearer token must not contain whitespace"));
    }
    Ok(token)
}

fn decode_json_part<T: for<'de> Deserialize<'de>>(part: &str) -> Option<T> {
    let bytes = URL_SAFE_NO_PAD.decode(part).ok()?;
    serde_json::from_slice(&bytes).ok()
}

#[derive(Deserialize)]
struct JoseHeader {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    crit: Option<Value>,
}

/// Claims are kept as raw JSON so each can be type-checked with a precise error. Duplicate
/// member names make deserialisation fail, which avoids ambiguity about which value counts.
#[derive(Deserialize)]
struct RawClaims {
    #[serde(default)]
    sub: Option<Value>,
    #[serde(default)]
    iss: Option<Value>,
    #[serde(default)]
    aud: Option<Value>,
    #[serde(default)]
    exp: Option<Value>,
    #[serde(default)]
    nbf: Option<Value>,
    #[serde(default)]
    scope: Option<Value>,
}

fn validate_claims(raw: RawClaims, audiences: &[String], now: i64) -> Result<Claims, AuthError> {
    let exp = numeric_date(raw.exp.as_ref().ok_or(AuthError::MissingClaim("exp"))?, "exp")?;
    check_not_expired(exp, now)?;
    if exp > now.saturating_add(MAX_TOKEN_LIFETIME_SECS + CLOCK_LEEWAY_SECS) {
        return Err(AuthError::LifetimeTooLong);
    }
    if let Some(nbf) = &raw.nbf
        && numeric_date(nbf, "nbf")? > now.saturating_add(CLOCK_LEEWAY_SECS)
    {
        return Err(AuthError::NotYetValid);
    }

    check_audience(raw.aud.as_ref().ok_or(AuthError::MissingClaim("aud"))?, audiences)?;

    let iss = match raw.iss.ok_or(AuthError::MissingClaim("iss"))? {
        Value::String(s) => s,
        _ => {
            return Err(AuthError::InvalidClaim { claim: "iss", reason: "must be a string" });
        }
    };

    let sub = match raw.sub.ok_or(AuthError::MissingClaim("sub"))? {
        Value::String(s) if !s.trim().is_empty() => s,
        _ => {
            return Err(AuthError::InvalidClaim { claim: "sub", reason: "must be a non-empty string" });
        }
    };

    let scopes = parse_scopes(raw.scope)?;
    Ok(Claims { sub, scopes, exp, iss })
}

fn check_not_expired(exp: i64, now: i64) -> Result<(), AuthError> {
    if now > exp.saturating_add(CLOCK_LEEWAY_SECS) { Err(AuthError::Expired) } else { Ok(()) }
}

/// RFC 7519 NumericDate: a JSON number of seconds, possibly fractional. Out-of-range values
/// saturate, which the range checks then reject.
fn numeric_date(value: &Value, claim: &'static str) -> Result<i64, AuthError> {
    let invalid =
        AuthError::InvalidClaim { claim, reason: "must be a number of seconds since the Unix epoch" };
    let Value::Number(n) = value else {
        return Err(invalid);
    };
    if let Some(i) = n.as_i64() {
        return Ok(i);
    }
    if n.as_u64().is_some() {
        return Ok(i64::MAX);
    }
    match n.as_f64() {
        // `as` saturates for floats, which is the behaviour wanted here.
        Some(f) if f.is_finite() => Ok(f.floor() as i64),
        _ => Err(invalid),
    }
}

fn check_audience(aud: &Value, audiences: &[String]) -> Result<(), AuthError> {
    let matches = |s: &str| audiences.iter().any(|a| a == s);
    let ok = match aud {
        Value::String(s) => matches(s),
        Value::Array(items) => {
            let mut any = false;
            for item in items {
                let Value::String(s) = item else {
                    return Err(AuthError::InvalidClaim {
                        claim: "aud",
                        reason: "must be a string or an array of strings",
                    });
                };
                any |= matches(s);
            }
            any
        }
        _ => {
            return Err(AuthError::InvalidClaim {
                claim: "aud",
                reason: "must be a string or an array of strings",
            });
        }
    };
    if ok { Ok(()) } else { Err(AuthError::InvalidAudience) }
}

/// OAuth 2.0 `scope` is space-separated; the F3411-19 API description also allowed a JSON
/// array, which some USSs still send.
fn parse_scopes(scope: Option<Value>) -> Result<Vec<String>, AuthError> {
    let invalid = AuthError::InvalidClaim {
        claim: "scope",
        reason: "must be a space-separated string or an array of strings",
    };
    match scope {
        None => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(s.split_ascii_whitespace().map(str::to_owned).collect()),
        Some(Value::Array(items)) => {
            let mut scopes = Vec::with_capacity(items.len());
            for item in items {
                let Value::String(s) = item else {
                    return Err(invalid);
                };
                scopes.extend(s.split_ascii_whitespace().map(str::to_owned));
            }
            Ok(scopes)
        }
        Some(_) => Err(invalid),
    }
}
