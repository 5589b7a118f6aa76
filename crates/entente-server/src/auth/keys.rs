//! Trusted verification keys: loading them from PEM and JWKS, fetching and refreshing JWKS, and checking token signatures.

use std::sync::Weak;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, KeyOperations, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::Value;

use super::{AuthError, Shared, der};

/// RSA moduli below this are refused; 1024-bit keys are factorable by well-funded attackers.
const MIN_RSA_BITS: usize = 2048;
/// A JWKS is a few KiB; anything much larger is a misconfigured URL.
const MAX_JWKS_BYTES: usize = 1024 * 1024;
const JWKS_TIMEOUT: Duration = Duration::from_secs(10);
const JWKS_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum KeyKind {
    Rsa,
    EcP256,
}

/// The token `alg` values we accept. Everything else (notably `none` and the HS* family) is
/// refused before any key is looked at.
pub(super) fn accepted_algorithm(alg: &str) -> Option<Algorithm> {
    match alg {
        "RS256" => Some(Algorithm::RS256),
        "RS384" => Some(Algorithm::RS384),
        "RS512" => Some(Algorithm::RS512),
        "PS256" => Some(Algorithm::PS256),
        "ES256" => Some(Algorithm::ES256),
        _ => None,
    }
}

fn kind_of(alg: Algorithm) -> Option<KeyKind> {
    match alg {
        Algorithm::RS256 | Algorithm::RS384 | Algorithm::RS512 | Algorithm::PS256 => Some(KeyKind::Rsa),
        Algorithm::ES256 => Some(KeyKind::EcP256),
        _ => None,
    }
}

#[derive(Clone)]
pub(super) struct VerifyKey {
    kid: Option<String>,
    kind: KeyKind,
    /// Set when a JWK pins its algorithm (`alg`); the token must then use exactly that one.
    pinned_alg: Option<Algorithm>,
    key: DecodingKey,
    /// Key id plus public components, used to tell whether a refreshed JWKS changed anything.
    fingerprint: String,
}

impl VerifyKey {
    fn accepts(&self, alg: Algorithm) -> bool {
        kind_of(alg) == Some(self.kind) && self.pinned_alg.is_none_or(|pinned| pinned == alg)
    }
}

/// Tries the key(s) named by `kid` if any trusted key carries it, otherwise every key that
/// suits `alg`. Key type and algorithm are always matched, so an RSA key is never used for an
/// HMAC or ECDSA check.
pub(super) fn verify_signature<'a>(
    keys: impl Iterator<Item = &'a VerifyKey> + Clone,
    alg: Algorithm,
    kid: Option<&str>,
    message: &str,
    signature: &str,
) -> bool {
    let mut suitable = keys.filter(|k| k.accepts(alg));
    let check = |k: &VerifyKey| {
        jsonwebtoken::crypto::verify(signature, message.as_bytes(), &k.key, alg).unwrap_or(false)
    };
    if let Some(kid) = kid {
        let mut named = suitable.clone().filter(|k| k.kid.as_deref() == Some(kid)).peekable();
        if named.peek().is_some() {
            return named.any(check);
        }
    }
    suitable.any(check)
}

fn key_error(origin: &str, reason: impl Into<String>) -> AuthError {
    AuthError::InvalidPublicKey { origin: origin.to_owned(), reason: reason.into() }
}

/// Parses a PEM public key (RSA SPKI / PKCS#1, P-256 SPKI) or X.509 certificate.
pub(super) fn parse_public_pem(pem: &str, origin: &str) -> Result<VerifyKey, AuthError> {
    let label = der::pem_label(pem).ok_or_else(|| key_error(origin, "no PEM block found"))?;
    let key = match label {
        "RSA PUBLIC KEY" => DecodingKey::from_rsa_pem(pem.as_bytes())
            .map_err(|_| key_error(origin, "not a valid PKCS#1 RSA public key"))?,
        "PUBLIC KEY" | "CERTIFICATE" => DecodingKey::from_rsa_pem(pem.as_bytes())
            .or_else(|_| DecodingKey::from_ec_pem(pem.as_bytes()))
            .map_err(|_| {
                key_error(
                    origin,
                    format!("{} does not hold a readable RSA or EC public key", label.to_lowercase()),
                )
            })?,
        "PRIVATE KEY" | "RSA PRIVATE KEY" | "EC PRIVATE KEY" | "ENCRYPTED PRIVATE KEY" => {
            return Err(key_error(
                origin,
                "this is a private key; configure the matching public key instead",
            ));
        }
        other => {
            return Err(key_error(
                origin,
                format!("unsupported PEM type `{other}`; expected PUBLIC KEY, RSA PUBLIC KEY or CERTIFICATE"),
            ));
        }
    };
    finish_key(key, None, None, origin)
}

/// Validates decoded key material now, so a bad key fails at start-up rather than on every
/// request, and records its public components.
fn finish_key(
    key: DecodingKey,
    kid: Option<String>,
    pinned_alg: Option<Algorithm>,
    origin: &str,
) -> Result<VerifyKey, AuthError> {
    let jwk =
        Jwk::from_decoding_key(&key, None).map_err(|e| key_error(origin, format!("unusable key: {e}")))?;
    let (kind, components) = match &jwk.algorithm {
        AlgorithmParameters::RSA(rsa) => {
            let bits = URL_SAFE_NO_PAD.decode(&rsa.n).map(|n| significant_bits(&n)).unwrap_or(0);
            if bits < MIN_RSA_BITS {
                return Err(key_error(
                    origin,
                    format!("RSA key is {bits} bits; at least {MIN_RSA_BITS} are required"),
                ));
            }
            (KeyKind::Rsa, format!("{}.{}", rsa.n, rsa.e))
        }
        AlgorithmParameters::EllipticCurve(ec) => {
            if ec.curve != EllipticCurve::P256 {
                return Err(key_error(origin, "only P-256 EC keys are supported"));
            }
            // Constructing the verifier checks that the point lies on the curve; the dummy
            // signature itself is expected not to verify.
            if jsonwebtoken::crypto::verify("AA", b"", &key, Algorithm::ES256).is_err() {
                return Err(key_error(origin, "EC public key is not a valid P-256 point"));
            }
            (KeyKind::EcP256, format!("{}.{}", ec.x, ec.y))
        }
        _ => {
            return Err(key_error(origin, "unsupported key type; expected an RSA or EC P-256 public key"));
        }
    };
    if pinned_alg.is_some_and(|alg| kind_of(alg) != Some(kind)) {
        return Err(key_error(origin, "key `alg` does not match its key type"));
    }
    Ok(VerifyKey {
        fingerprint: format!("{}|{components}", kid.as_deref().unwrap_or("")),
        kid,
        kind,
        pinned_alg,
        key,
    })
}

fn significant_bits(magnitude: &[u8]) -> usize {
    let skip = magnitude.iter().take_while(|b| **b == 0).count();
    match magnitude.get(skip) {
        Some(first) => (magnitude.len() - skip) * 8 - first.leading_zeros() as usize,
        None => 0,
    }
}

/// Extracts the usable signature-verification keys of a JWKS document. Keys for other uses,
/// symmetric keys and unsupported algorithms are skipped; a set left with no usable key is an
/// error, as it could never authenticate anything.
pub(super) fn parse_jwks(doc: &Value, origin: &str) -> Result<Vec<VerifyKey>, AuthError> {
    let jwks_error = |reason: &str| AuthError::Jwks { url: origin.to_owned(), reason: reason.to_owned() };
    let entries = doc
        .get("keys")
        .and_then(Value::as_array)
        .ok_or_else(|| jwks_error("not a JWKS document (no `keys` array)"))?;

    let mut keys = Vec::new();
    for (index, entry) in entries.iter().enumerate() {
        let kid = entry.get("kid").and_then(Value::as_str).unwrap_or("");
        match parse_jwk(entry, origin) {
            Ok(Some(key)) => keys.push(key),
            Ok(None) => {
                tracing::debug!(%origin, index, kid, "skipping JWKS key not meant for RS256/ES256 signatures")
            }
            Err(e) => tracing::warn!(%origin, index, kid, error = %e, "skipping invalid JWKS key"),
        }
    }
    if keys.is_empty() {
        return Err(jwks_error(
            "no usable signing key (RSA of at least 2048 bits or EC P-256) in the key set",
        ));
    }
    Ok(keys)
}

/// `Ok(None)` means the key is well-formed but not one we verify with.
fn parse_jwk(entry: &Value, origin: &str) -> Result<Option<VerifyKey>, AuthError> {
    let Ok(jwk) = serde_json::from_value::<Jwk>(entry.clone()) else {
        return Err(key_error(origin, "not a valid JWK"));
    };
    let common = &jwk.common;
    if common.public_key_use.as_ref().is_some_and(|u| *u != PublicKeyUse::Signature) {
        return Ok(None);
    }
    if common.key_operations.as_ref().is_some_and(|ops| !ops.contains(&KeyOperations::Verify)) {
        return Ok(None);
    }
    let pinned_alg = match common.key_algorithm {
        None => None,
        Some(KeyAlgorithm::RS256) => Some(Algorithm::RS256),
        Some(KeyAlgorithm::RS384) => Some(Algorithm::RS384),
        Some(KeyAlgorithm::RS512) => Some(Algorithm::RS512),
        Some(KeyAlgorithm::PS256) => Some(Algorithm::PS256),
        Some(KeyAlgorithm::ES256) => Some(Algorithm::ES256),
        Some(_) => return Ok(None),
    };
    let key = match &jwk.algorithm {
        AlgorithmParameters::RSA(rsa) => {
            let n = URL_SAFE_NO_PAD
                .decode(&rsa.n)
                .map_err(|_| key_error(origin, "RSA modulus `n` is not base64url"))?;
            let e = URL_SAFE_NO_PAD
                .decode(&rsa.e)
                .map_err(|_| key_error(origin, "RSA exponent `e` is not base64url"))?;
            // Going through DER lets `finish_key` validate JWK and PEM keys identically.
            DecodingKey::from_rsa_der(&der::rsa_public_key_pkcs1(&n, &e))
        }
        AlgorithmParameters::EllipticCurve(ec) => {
            if ec.curve != EllipticCurve::P256 {
                return Ok(None);
            }
            let x =
                URL_SAFE_NO_PAD.decode(&ec.x).map_err(|_| key_error(origin, "EC `x` is not base64url"))?;
            let y =
                URL_SAFE_NO_PAD.decode(&ec.y).map_err(|_| key_error(origin, "EC `y` is not base64url"))?;
            if x.len() != 32 || y.len() != 32 {
                return Err(key_error(origin, "P-256 coordinates must be 32 bytes each"));
            }
            let mut point = Vec::with_capacity(65);
            point.push(0x04);
            point.extend_from_slice(&x);
            point.extend_from_slice(&y);
            DecodingKey::from_ec_der(&point)
        }
        _ => return Ok(None),
    };
    finish_key(key, common.key_id.clone(), pinned_alg, origin).map(Some)
}

pub(super) fn http_client() -> Result<reqwest::Client, AuthError> {
    reqwest::Client::builder()
        .timeout(JWKS_TIMEOUT)
        .connect_timeout(JWKS_CONNECT_TIMEOUT)
        .build()
        .map_err(|e| AuthError::Config(format!("cannot create the JWKS HTTP client: {e}")))
}

pub(super) async fn fetch_jwks(client: &reqwest::Client, url: &str) -> Result<Vec<VerifyKey>, AuthError> {
    let fail = |reason: String| AuthError::Jwks { url: url.to_owned(), reason };
    let mut response = client
        .get(url)
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|e| fail(format!("request failed: {e}")))?;
    let status = response.status();
    if !status.is_success() {
        return Err(fail(format!("server answered HTTP {status}")));
    }
    let mut body = Vec::new();
    while let Some(chunk) =
        response.chunk().await.map_err(|e| fail(format!("reading the response failed: {e}")))?
    {
        if body.len() + chunk.len() > MAX_JWKS_BYTES {
            return Err(fail(format!("response is larger than {MAX_JWKS_BYTES} bytes")));
        }
        body.extend_from_slice(&chunk);
    }
    let doc: Value = serde_json::from_slice(&body).map_err(|e| fail(format!("response is not JSON: {e}")))?;
    parse_jwks(&doc, url)
}

fn same_keys(a: &[VerifyKey], b: &[VerifyKey]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.fingerprint == y.fingerprint)
}

/// Re-fetches every JWKS each `period`. A failed fetch keeps that URL's previous keys: an
/// identity provider's brief outage must not lock every client out.
pub(super) fn spawn_refresh(
    shared: Weak<Shared>,
    client: reqwest::Client,
    urls: Vec<String>,
    mut per_url: Vec<Vec<VerifyKey>>,
    period: Duration,
) -> tokio::task::AbortHandle {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(period).await;
            if shared.strong_count() == 0 {
                return;
            }
            let mut changed = false;
            for (url, current) in urls.iter().zip(per_url.iter_mut()) {
                match fetch_jwks(&client, url).await {
                    Ok(keys) => {
                        if !same_keys(current, &keys) {
                            tracing::info!(%url, keys = keys.len(), "JWKS changed; using the new keys");
                            *current = keys;
                            changed = true;
                        }
                    }
                    Err(e) => {
                        tracing::warn!(%url, error = %e, "JWKS refresh failed; keeping the previously loaded keys");
                    }
                }
            }
            if changed {
                let Some(shared) = shared.upgrade() else {
                    return;
                };
                shared.replace_jwks_keys(per_url.iter().flatten().cloned().collect());
            }
        }
    })
    .abort_handle()
}
