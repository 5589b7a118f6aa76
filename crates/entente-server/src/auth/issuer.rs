//! Development token issuer: signs access tokens with a local private key, for tests and for running the DSS without an external OAuth server.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{AlgorithmParameters, Jwk, PublicKeyUse};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use super::{AuthError, der, unix_now};

/// `iss` of tokens from a [`TokenIssuer`] unless [`TokenIssuer::with_issuer`] changes it.
pub const DEV_ISSUER: &str = "entente-dev-issuer";

/// Signs access tokens with RS256 (RSA key) or ES256 (P-256 key).
pub struct TokenIssuer {
    key: EncodingKey,
    alg: Algorithm,
    issuer: String,
    kid: Option<String>,
    /// Public half, computed (and thereby validated) once at construction.
    public_jwk: Jwk,
    public_jwks: Value,
}

impl std::fmt::Debug for TokenIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenIssuer")
            .field("alg", &self.alg)
            .field("issuer", &self.issuer)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

/// Order of the P-256 group, big-endian.
const P256_ORDER: [u8; 32] = [
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xbc,
    0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
];

/// 32 bytes from the OS CSPRNG, taken from v4 UUIDs (which `uuid` fills from `getrandom`) so
/// no extra RNG crate is needed. Bytes 6 and 8 of a v4 UUID carry fixed version and variant
/// bits and are skipped; the other 14 are uniformly random.
fn random_bytes_32() -> [u8; 32] {
    let mut out = [0u8; 32];
    let random = std::iter::repeat_with(uuid::Uuid::new_v4).flat_map(|u| {
        let bytes = *u.as_bytes();
        bytes.into_iter().enumerate().filter(|(i, _)| *i != 6 && *i != 8).map(|(_, b)| b)
    });
    for (slot, byte) in out.iter_mut().zip(random) {
        *slot = byte;
    }
    out
}

fn signing_key_error(reason: impl Into<String>) -> AuthError {
    AuthError::InvalidSigningKey(reason.into())
}

impl TokenIssuer {
    /// Accepts an RSA private key (PKCS#8 `PRIVATE KEY` or PKCS#1 `RSA PRIVATE KEY`) or a P-256
    /// private key (PKCS#8 `PRIVATE KEY`).
    pub fn from_pem(private_key_pem: &str, kid: Option<String>) -> Result<TokenIssuer, AuthError> {
        let bytes = private_key_pem.as_bytes();
        let label = der::pem_label(private_key_pem).ok_or_else(|| signing_key_error("no PEM block found"))?;
        let (key, alg) = match label {
            "RSA PRIVATE KEY" => (
                EncodingKey::from_rsa_pem(bytes)
                    .map_err(|_| signing_key_error("not a valid PKCS#1 RSA private key"))?,
                Algorithm::RS256,
            ),
            "PRIVATE KEY" => match EncodingKey::from_rsa_pem(bytes) {
                Ok(key) => (key, Algorithm::RS256),
                Err(_) => (
                    EncodingKey::from_ec_pem(bytes).map_err(|_| {
                        signing_key_error("PKCS#8 key is neither an RSA nor an EC private key")
                    })?,
                    Algorithm::ES256,
                ),
            },
            "EC PRIVATE KEY" => {
                return Err(signing_key_error(
                    "SEC1 `EC PRIVATE KEY` files are not supported; convert with `openssl pkcs8 -topk8 -nocrypt`",
                ));
            }
            "ENCRYPTED PRIVATE KEY" => {
                return Err(signing_key_error("encrypted private keys are not supported"));
            }
            "PUBLIC KEY" | "RSA PUBLIC KEY" | "CERTIFICATE" => {
                return Err(signing_key_error(
                    "this is a public key or certificate; a private key is required to sign tokens",
                ));
            }
            other => {
                return Err(signing_key_error(format!(
                    "unsupported PEM type `{other}`; expected PRIVATE KEY or RSA PRIVATE KEY"
                )));
            }
        };

        // Deriving the public half parses the private key fully, so a corrupt key or an EC key
        // on a curve other than P-256 is refused here rather than at the first `issue`.
        let mut public_jwk = Jwk::from_encoding_key(&key, alg)
            .map_err(|_| signing_key_error("private key is malformed or uses an unsupported curve"))?;
        if let AlgorithmParameters::RSA(rsa) = &public_jwk.algorithm {
            let n = URL_SAFE_NO_PAD.decode(&rsa.n).unwrap_or_default();
            let bytes = n.iter().skip_while(|b| **b == 0).count();
            if bytes < 256 {
                return Err(signing_key_error("RSA keys must be at least 2048 bits"));
            }
        }
        public_jwk.common.key_id = kid.clone();
        public_jwk.common.public_key_use = Some(PublicKeyUse::Signature);
        let jwk_json = serde_json::to_value(&public_jwk)
            .map_err(|e| signing_key_error(format!("cannot encode the public key as a JWK: {e}")))?;

        Ok(TokenIssuer {
            key,
            alg,
            issuer: DEV_ISSUER.to_owned(),
            kid,
            public_jwk,
            public_jwks: Value::Object(serde_json::Map::from_iter([(
                "keys".to_owned(),
                Value::Array(vec![jwk_json]),
            )])),
        })
    }

    /// A fresh ES256 issuer with a random P-256 key that lives only in memory, for benchmarks
    /// and throw-away dev servers; publish its key with [`TokenIssuer::public_pem`] or
    /// [`TokenIssuer::public_jwks`].
    pub fn generate_es256() -> Result<TokenIssuer, AuthError> {
        TokenIssuer::from_pem(&TokenIssuer::generate_es256_pem()?, None)
    }

    /// A random P-256 private key as a PKCS#8 PEM, for a dev server that keeps its key across runs.
    pub fn generate_es256_pem() -> Result<String, AuthError> {
        // Rejection sampling keeps the scalar uniform in [1, n-1]; a 256-bit draw falls outside
        // with probability about 2^-32, so the loop bound is never reached in practice.
        for _ in 0..8 {
            let d = random_bytes_32();
            if d != [0; 32] && d < P256_ORDER {
                return Ok(der::pem("PRIVATE KEY", &der::ec_p256_pkcs8(&d)));
            }
        }
        Err(signing_key_error("could not draw a valid P-256 private key"))
    }

    /// Overrides the `iss` claim of issued tokens.
    pub fn with_issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = issuer.into();
        self
    }

    /// `"RS256"` or `"ES256"`.
    pub fn algorithm(&self) -> &'static str {
        match self.alg {
            Algorithm::ES256 => "ES256",
            _ => "RS256",
        }
    }

    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// Issues a token for `sub` with the given scopes, valid for `ttl` from now.
    pub fn issue(
        &self,
        sub: &str,
        scopes: &[&str],
        audience: &str,
        ttl: Duration,
    ) -> Result<String, AuthError> {
        let now = unix_now();
        let exp = i64::try_from(ttl.as_secs())
            .ok()
            .and_then(|ttl| now.checked_add(ttl))
            .ok_or_else(|| AuthError::Issue("token lifetime is too large".into()))?;
        self.sign_claims(&json!({
            "iss": self.issuer,
            "sub": sub,
            "aud": audience,
            "scope": scopes.join(" "),
            "iat": now,
            "exp": exp,
            "jti": uuid::Uuid::new_v4().to_string(),
        }))
    }

    /// Signs an arbitrary claims object as-is (the header carries this issuer's algorithm and
    /// kid). Meant for tests that need unusual or invalid claims.
    pub fn sign_claims(&self, claims: &Value) -> Result<String, AuthError> {
        let mut header = Header::new(self.alg);
        header.kid = self.kid.clone();
        jsonwebtoken::encode(&header, claims, &self.key)
            .map_err(|e| AuthError::Issue(format!("signing failed: {e}")))
    }

    /// The public half as a JWKS document (`{"keys": [ ... ]}`), suitable for publishing at a
    /// JWKS URL.
    pub fn public_jwks(&self) -> Value {
        self.public_jwks.clone()
    }

    /// The public half as an X.509 `SubjectPublicKeyInfo` PEM (`-----BEGIN PUBLIC KEY-----`).
    pub fn public_pem(&self) -> Result<String, AuthError> {
        let decode = |s: &str| {
            URL_SAFE_NO_PAD
                .decode(s)
                .map_err(|_| AuthError::Issue("public key components are not base64url".into()))
        };
        let der = match &self.public_jwk.algorithm {
            AlgorithmParameters::RSA(rsa) => der::rsa_spki(&decode(&rsa.n)?, &decode(&rsa.e)?),
            AlgorithmParameters::EllipticCurve(ec) => {
                let mut point = vec![0x04];
                point.extend(decode(&ec.x)?);
                point.extend(decode(&ec.y)?);
                der::ec_p256_spki(&point)
            }
            _ => return Err(AuthError::Issue("unsupported public key type".into())),
        };
        Ok(der::pem("PUBLIC KEY", &der))
    }
}
