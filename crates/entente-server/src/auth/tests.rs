//! Tests for access-token verification, the JWKS paths and the development issuer.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use super::*;

const RSA_PRIVATE: &str = include_str!("../../testdata/keys/rsa-private.pem");
const RSA_PRIVATE_PKCS1: &str = include_str!("../../testdata/keys/rsa-private-pkcs1.pem");
const RSA_PUBLIC: &str = include_str!("../../testdata/keys/rsa-public.pem");
const RSA_PUBLIC_PKCS1: &str = include_str!("../../testdata/keys/rsa-public-pkcs1.pem");
const RSA_CERT: &str = include_str!("../../testdata/keys/rsa-cert.pem");
const EC_PRIVATE: &str = include_str!("../../testdata/keys/ec-private.pem");
const EC_PUBLIC: &str = include_str!("../../testdata/keys/ec-public.pem");
const OTHER_RSA_PRIVATE: &str = include_str!("../../testdata/keys/other-rsa-private.pem");
const OTHER_RSA_PUBLIC: &str = include_str!("../../testdata/keys/other-rsa-public.pem");

const NOW: i64 = 1_700_000_000;
const AUD: &str = "dss.example.com";
const SCOPE_SC: &str = "utm.strategic_coordination";
const SCOPE_CM: &str = "utm.constraint_management";

fn audiences() -> Vec<String> {
    vec![AUD.to_owned(), "dss-alt.example.com".to_owned()]
}

/// Trusts the RSA and EC test keys, with the clock frozen at `NOW`.
fn authenticator() -> Authenticator {
    Authenticator::from_pem_strings(&[RSA_PUBLIC, EC_PUBLIC], audiences())
        .expect("test keys load")
        .with_clock(|| NOW)
}

fn claims() -> Value {
    json!({
        "iss": "https://auth.example.com",
        "sub": "uss1",
        "aud": AUD,
        "scope": format!("{SCOPE_SC} {SCOPE_CM}"),
        "iat": NOW,
        "exp": NOW + 600,
    })
}

fn claims_with(key: &str, value: Value) -> Value {
    let mut c = claims();
    c[key] = value;
    c
}

fn claims_without(key: &str) -> Value {
    let mut c = claims();
    c.as_object_mut().expect("object").remove(key);
    c
}

fn b64_json(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).expect("serialisable"))
}

fn encoding_key(private_pem: &str, alg: Algorithm) -> EncodingKey {
    match alg {
        Algorithm::ES256 => EncodingKey::from_ec_pem(private_pem.as_bytes()),
        Algorithm::HS256 => Ok(EncodingKey::from_secret(private_pem.as_bytes())),
        _ => EncodingKey::from_rsa_pem(private_pem.as_bytes()),
    }
    .expect("test key loads")
}

/// Signs `header.payload` with `alg`, whatever `header` claims: lets tests build tokens whose
/// header lies about the algorithm.
fn sign_parts(header: &Value, payload_b64: &str, private_pem: &str, alg: Algorithm) -> String {
    let message = format!("{}.{payload_b64}", b64_json(header));
    let signature = jsonwebtoken::crypto::sign(message.as_bytes(), &encoding_key(private_pem, alg), alg)
        .expect("signing works");
    format!("{message}.{signature}")
}

fn signed(alg: Algorithm, kid: Option<&str>, private_pem: &str, claims: &Value) -> String {
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, claims, &encoding_key(private_pem, alg)).expect("signing works")
}

fn rs256(claims: &Value) -> String {
    signed(Algorithm::RS256, None, RSA_PRIVATE, claims)
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

fn verify(auth: &Authenticator, token: &str) -> Result<Claims, AuthError> {
    auth.verify(Some(&bearer(token)))
}

// ---------------------------------------------------------------------------------------------
// Accepted tokens

#[test]
fn valid_rs256_token_is_accepted() {
    let got = verify(&authenticator(), &rs256(&claims())).expect("valid token");
    assert_eq!(got.sub, "uss1");
    assert_eq!(got.iss, "https://auth.example.com");
    assert_eq!(got.exp, NOW + 600);
    assert_eq!(got.scopes, vec![SCOPE_SC, SCOPE_CM]);
    assert!(got.has_scope(SCOPE_CM));
    assert!(!got.has_scope("utm.conformance_monitoring_sa"));
}

#[test]
fn valid_es256_token_is_accepted() {
    let token = signed(Algorithm::ES256, None, EC_PRIVATE, &claims());
    let got = verify(&authenticator(), &token).expect("valid token");
    assert_eq!(got.sub, "uss1");
    assert_eq!(got.scopes, vec![SCOPE_SC, SCOPE_CM]);
}

#[test]
fn other_rsa_algorithms_are_accepted_for_rsa_keys() {
    let auth = authenticator();
    for alg in [Algorithm::RS384, Algorithm::RS512, Algorithm::PS256] {
        let token = signed(alg, None, RSA_PRIVATE, &claims());
        assert!(verify(&auth, &token).is_ok(), "{alg:?} should be accepted");
    }
}

#[test]
fn pkcs1_public_key_and_certificate_are_accepted() {
    for pem in [RSA_PUBLIC_PKCS1, RSA_CERT] {
        let auth =
            Authenticator::from_pem_strings(&[pem], audiences()).expect("key loads").with_clock(|| NOW);
        assert!(verify(&auth, &rs256(&claims())).is_ok());
        let forged = signed(Algorithm::RS256, None, OTHER_RSA_PRIVATE, &claims());
        assert_eq!(verify(&auth, &forged), Err(AuthError::InvalidSignature));
    }
}

#[test]
fn scheme_is_case_insensitive_and_extra_spaces_are_tolerated() {
    let auth = authenticator();
    let token = rs256(&claims());
    for header in [
        format!("bearer {token}"),
        format!("BEARER {token}"),
        format!("Bearer   {token}  "),
        format!("Bearer\t{token}"),
    ] {
        assert!(auth.verify(Some(&header)).is_ok(), "{header:?}");
    }
}

#[test]
fn scope_array_and_missing_scope_are_accepted() {
    let auth = authenticator();
    let got = verify(&auth, &rs256(&claims_with("scope", json!([SCOPE_SC, SCOPE_CM])))).expect("array scope");
    assert_eq!(got.scopes, vec![SCOPE_SC, SCOPE_CM]);

    let got = verify(&auth, &rs256(&claims_without("scope"))).expect("no scope");
    assert!(got.scopes.is_empty());

    let got = verify(&auth, &rs256(&claims_with("scope", json!("  a   b ")))).expect("spaces");
    assert_eq!(got.scopes, vec!["a", "b"]);
}

#[test]
fn audience_array_with_one_match_is_accepted() {
    let auth = authenticator();
    let token = rs256(&claims_with("aud", json!(["someone-else", "dss-alt.example.com"])));
    assert!(verify(&auth, &token).is_ok());
}

#[test]
fn fractional_exp_is_accepted() {
    let got = verify(&authenticator(), &rs256(&claims_with("exp", json!(NOW as f64 + 100.5))))
        .expect("fractional NumericDate");
    assert_eq!(got.exp, NOW + 100);
}

#[test]
fn leeway_is_applied_to_both_expiry_bounds() {
    let auth = authenticator();
    let ok = |exp: i64| verify(&auth, &rs256(&claims_with("exp", json!(exp))));
    assert!(ok(NOW - CLOCK_LEEWAY_SECS).is_ok());
    assert_eq!(ok(NOW - CLOCK_LEEWAY_SECS - 1), Err(AuthError::Expired));
    assert!(ok(NOW + MAX_TOKEN_LIFETIME_SECS + CLOCK_LEEWAY_SECS).is_ok());
    assert_eq!(ok(NOW + MAX_TOKEN_LIFETIME_SECS + CLOCK_LEEWAY_SECS + 1), Err(AuthError::LifetimeTooLong));
}

// ---------------------------------------------------------------------------------------------
// Rejected requests

#[test]
fn missing_header_is_rejected() {
    let auth = authenticator();
    assert_eq!(auth.verify(None), Err(AuthError::MissingCredentials));
    assert_eq!(auth.verify(Some("")), Err(AuthError::MissingCredentials));
    assert_eq!(auth.verify(Some("   ")), Err(AuthError::MissingCredentials));
}

#[test]
fn wrong_scheme_is_rejected() {
    let auth = authenticator();
    let token = rs256(&claims());
    for header in [
        "Basic dXNlcjpwYXNzd29yZA==".to_owned(),
        format!("Token {token}"),
        format!("Bearer{token}"),
        token.clone(),
    ] {
        assert_eq!(auth.verify(Some(&header)), Err(AuthError::InvalidScheme), "{header:?}");
    }
}

#[test]
fn garbage_tokens_are_rejected() {
    let auth = authenticator();
    let valid = rs256(&claims());
    for header in [
        "Bearer".to_owned(),
        "Bearer    ".to_owned(),
        "Bearer abc".to_owned(),
        "Bearer a.b".to_owned(),
        "Bearer a.b.c".to_owned(),
        "Bearer a.b.c.d".to_owned(),
        "Bearer ..".to_owned(),
        "Bearer !!!.???.***".to_owned(),
        "Bearer a b".to_owned(),
        format!("Bearer {valid}.extra"),
        format!("Bearer {}", "A".repeat(MAX_TOKEN_LEN + 1)),
        format!("Bearer {}.{}.sig", b64_json(&json!(["not", "an", "object"])), b64_json(&claims())),
    ] {
        assert!(
            matches!(auth.verify(Some(&header)), Err(AuthError::MalformedToken(_))),
            "{header:?} gave {:?}",
            auth.verify(Some(&header))
        );
    }
}

#[test]
fn non_json_or_duplicated_payload_is_rejected_after_signature_check() {
    let auth = authenticator();
    let header = json!({"alg": "RS256", "typ": "JWT"});
    let not_json = sign_parts(&header, &URL_SAFE_NO_PAD.encode("not json"), RSA_PRIVATE, Algorithm::RS256);
    assert!(matches!(verify(&auth, &not_json), Err(AuthError::MalformedToken(_))));

    let duplicated = format!(r#"{{"iss":"i","sub":"uss1","sub":"admin","aud":"{AUD}","exp":{}}}"#, NOW + 60);
    let token = sign_parts(&header, &URL_SAFE_NO_PAD.encode(duplicated), RSA_PRIVATE, Algorithm::RS256);
    assert!(matches!(verify(&auth, &token), Err(AuthError::MalformedToken(_))));
}

#[test]
fn bad_signature_is_rejected() {
    let auth = authenticator();
    let token = signed(Algorithm::RS256, None, OTHER_RSA_PRIVATE, &claims());
    assert_eq!(verify(&auth, &token), Err(AuthError::InvalidSignature));

    // A genuine signature with a tampered payload.
    let genuine = rs256(&claims());
    let mut parts: Vec<&str> = genuine.split('.').collect();
    let elevated = b64_json(&claims_with("sub", json!("admin")));
    parts[1] = &elevated;
    assert_eq!(verify(&auth, &parts.join(".")), Err(AuthError::InvalidSignature));

    // Signature stripped.
    let stripped = format!("{}.{}.", parts[0], parts[1]);
    assert_eq!(verify(&auth, &stripped), Err(AuthError::InvalidSignature));
}

#[test]
fn expired_token_is_rejected() {
    let token = rs256(&claims_with("exp", json!(NOW - 3600)));
    assert_eq!(verify(&authenticator(), &token), Err(AuthError::Expired));
}

#[test]
fn missing_or_malformed_exp_is_rejected() {
    let auth = authenticator();
    assert_eq!(verify(&auth, &rs256(&claims_without("exp"))), Err(AuthError::MissingClaim("exp")));
    for bad in [json!("1700000600"), json!(null), json!([NOW])] {
        let got = verify(&auth, &rs256(&claims_with("exp", bad.clone())));
        assert!(
            matches!(
                got,
                Err(AuthError::InvalidClaim { claim: "exp", .. }) | Err(AuthError::MissingClaim("exp"))
            ),
            "{bad} gave {got:?}"
        );
    }
}

#[test]
fn exp_more_than_an_hour_ahead_is_rejected() {
    let auth = authenticator();
    for exp in [json!(NOW + 2 * 3600), json!(u64::MAX), json!(1e300)] {
        let token = rs256(&claims_with("exp", exp));
        assert_eq!(verify(&auth, &token), Err(AuthError::LifetimeTooLong));
    }
}

#[test]
fn future_nbf_is_rejected() {
    let auth = authenticator();
    let token = rs256(&claims_with("nbf", json!(NOW + 300)));
    assert_eq!(verify(&auth, &token), Err(AuthError::NotYetValid));
    let token = rs256(&claims_with("nbf", json!(NOW - 10)));
    assert!(verify(&auth, &token).is_ok());
}

#[test]
fn wrong_or_missing_audience_is_rejected() {
    let auth = authenticator();
    let wrong = rs256(&claims_with("aud", json!("attacker.example.com")));
    assert_eq!(verify(&auth, &wrong), Err(AuthError::InvalidAudience));
    let no_match = rs256(&claims_with("aud", json!(["a.example.com", "b.example.com"])));
    assert_eq!(verify(&auth, &no_match), Err(AuthError::InvalidAudience));
    let empty = rs256(&claims_with("aud", json!([])));
    assert_eq!(verify(&auth, &empty), Err(AuthError::InvalidAudience));
    assert_eq!(verify(&auth, &rs256(&claims_without("aud"))), Err(AuthError::MissingClaim("aud")));
    let bad_type = rs256(&claims_with("aud", json!([AUD, 7])));
    assert!(matches!(verify(&auth, &bad_type), Err(AuthError::InvalidClaim { claim: "aud", .. })));
}

#[test]
fn empty_or_missing_subject_is_rejected() {
    let auth = authenticator();
    for sub in [json!(""), json!("   "), json!(42)] {
        let got = verify(&auth, &rs256(&claims_with("sub", sub)));
        assert!(matches!(got, Err(AuthError::InvalidClaim { claim: "sub", .. })), "{got:?}");
    }
    assert_eq!(verify(&auth, &rs256(&claims_without("sub"))), Err(AuthError::MissingClaim("sub")));
}

#[test]
fn missing_issuer_is_rejected() {
    let auth = authenticator();
    assert_eq!(verify(&auth, &rs256(&claims_without("iss"))), Err(AuthError::MissingClaim("iss")));
    let got = verify(&auth, &rs256(&claims_with("iss", json!(["a"]))));
    assert!(matches!(got, Err(AuthError::InvalidClaim { claim: "iss", .. })));
}

#[test]
fn malformed_scope_is_rejected() {
    let auth = authenticator();
    for scope in [json!(7), json!({"a": 1}), json!(["ok", 1])] {
        let got = verify(&auth, &rs256(&claims_with("scope", scope)));
        assert!(matches!(got, Err(AuthError::InvalidClaim { claim: "scope", .. })), "{got:?}");
    }
}

#[test]
fn critical_header_extensions_are_rejected() {
    let header = json!({"alg": "RS256", "crit": ["b64"], "b64": false});
    let token = sign_parts(&header, &b64_json(&claims()), RSA_PRIVATE, Algorithm::RS256);
    assert!(matches!(verify(&authenticator(), &token), Err(AuthError::MalformedToken(_))));
}

// ---------------------------------------------------------------------------------------------
// Algorithm attacks

#[test]
fn alg_none_is_rejected() {
    let auth = authenticator();
    for alg in ["none", "None", "NONE", "nOnE"] {
        let header = b64_json(&json!({"alg": alg, "typ": "JWT"}));
        let payload = b64_json(&claims());
        for token in [format!("{header}.{payload}."), format!("{header}.{payload}.c2ln")] {
            assert_eq!(verify(&auth, &token), Err(AuthError::UnsupportedAlgorithm), "{alg}");
        }
    }
    let missing_alg = format!("{}.{}.c2ln", b64_json(&json!({"typ": "JWT"})), b64_json(&claims()));
    assert!(matches!(verify(&auth, &missing_alg), Err(AuthError::MalformedToken(_))));
}

#[test]
fn hs256_signed_with_public_key_is_rejected() {
    // The classic RS/HS confusion: an HMAC "signed" with the server's own public key bytes.
    let auth = authenticator();
    for secret in [RSA_PUBLIC, RSA_PUBLIC.trim(), EC_PUBLIC] {
        for alg in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512] {
            let mut header = Header::new(alg);
            header.kid = Some("rsa".to_owned());
            let token =
                jsonwebtoken::encode(&header, &claims(), &EncodingKey::from_secret(secret.as_bytes()))
                    .expect("hmac signing works");
            assert_eq!(verify(&auth, &token), Err(AuthError::UnsupportedAlgorithm));
        }
    }
    // Same with the key published in a JWKS alongside a symmetric key the attacker knows.
    let jwks = json!({"keys": [
        {"kty": "oct", "kid": "shared", "k": URL_SAFE_NO_PAD.encode("attacker-known-secret")},
        issuer_jwk(RSA_PRIVATE, "rsa"),
    ]});
    let auth = Authenticator::from_jwks_json(&jwks, audiences()).expect("jwks").with_clock(|| NOW);
    assert_eq!(auth.key_count(), 1, "symmetric keys are never trusted");
    let token = signed(Algorithm::HS256, Some("shared"), "attacker-known-secret", &claims());
    assert_eq!(verify(&auth, &token), Err(AuthError::UnsupportedAlgorithm));
}

#[test]
fn algorithm_not_matching_key_type_is_rejected() {
    let auth = authenticator();
    let payload = b64_json(&claims());
    // Header says RS256 but the signature is ECDSA by the trusted EC key.
    let token = sign_parts(&json!({"alg": "RS256"}), &payload, EC_PRIVATE, Algorithm::ES256);
    assert_eq!(verify(&auth, &token), Err(AuthError::InvalidSignature));
    // Header says ES256 but the signature is RSA by the trusted RSA key.
    let token = sign_parts(&json!({"alg": "ES256"}), &payload, RSA_PRIVATE, Algorithm::RS256);
    assert_eq!(verify(&auth, &token), Err(AuthError::InvalidSignature));
    // Header says PS256 over an RS256 signature.
    let token = sign_parts(&json!({"alg": "PS256"}), &payload, RSA_PRIVATE, Algorithm::RS256);
    assert_eq!(verify(&auth, &token), Err(AuthError::InvalidSignature));
    // Algorithms outside the accepted set, even if the key could do them.
    for alg in [Algorithm::PS384, Algorithm::PS512] {
        let token = signed(alg, None, RSA_PRIVATE, &claims());
        assert_eq!(verify(&auth, &token), Err(AuthError::UnsupportedAlgorithm));
    }
    // ES256 token when only RSA keys are trusted.
    let rsa_only =
        Authenticator::from_pem_strings(&[RSA_PUBLIC], audiences()).expect("key").with_clock(|| NOW);
    let token = signed(Algorithm::ES256, None, EC_PRIVATE, &claims());
    assert_eq!(verify(&rsa_only, &token), Err(AuthError::InvalidSignature));
}

// ---------------------------------------------------------------------------------------------
// Cache

#[test]
fn cached_token_is_rejected_once_expired() {
    let clock = Arc::new(AtomicI64::new(NOW));
    let auth = {
        let clock = Arc::clone(&clock);
        authenticator().with_clock(move || clock.load(Ordering::SeqCst))
    };
    let token = rs256(&claims_with("exp", json!(NOW + 2)));
    assert!(verify(&auth, &token).is_ok());
    assert_eq!(auth.cache.len(), 1, "verified token is cached");
    assert!(verify(&auth, &token).is_ok(), "cache hit while valid");

    clock.store(NOW + 2 + CLOCK_LEEWAY_SECS + 1, Ordering::SeqCst);
    assert_eq!(verify(&auth, &token), Err(AuthError::Expired));
}

#[test]
fn failed_verifications_are_not_cached() {
    let auth = authenticator();
    let forged = signed(Algorithm::RS256, None, OTHER_RSA_PRIVATE, &claims());
    for _ in 0..2 {
        assert_eq!(verify(&auth, &forged), Err(AuthError::InvalidSignature));
    }
    assert_eq!(auth.cache.len(), 0);
}

#[test]
fn cache_is_bounded() {
    let auth = authenticator().with_cache_capacity(3);
    for i in 0..10 {
        let token = rs256(&claims_with("sub", json!(format!("uss{i}"))));
        assert_eq!(verify(&auth, &token).map(|c| c.sub), Ok(format!("uss{i}")));
        assert!(auth.cache.len() <= 3);
    }
    let uncached = authenticator().with_cache_capacity(0);
    assert!(verify(&uncached, &rs256(&claims())).is_ok());
    assert_eq!(uncached.cache.len(), 0);
}

#[test]
fn key_rotation_invalidates_cached_tokens() {
    let jwks = json!({"keys": [issuer_jwk(RSA_PRIVATE, "k1")]});
    let auth = Authenticator::from_jwks_json(&jwks, audiences()).expect("jwks").with_clock(|| NOW);
    let token = signed(Algorithm::RS256, Some("k1"), RSA_PRIVATE, &claims());
    assert!(verify(&auth, &token).is_ok());
    assert_eq!(auth.cache.len(), 1);

    let rotated =
        keys::parse_jwks(&json!({"keys": [issuer_jwk(OTHER_RSA_PRIVATE, "k2")]}), "test").expect("jwks");
    auth.shared.replace_jwks_keys(rotated);
    assert_eq!(verify(&auth, &token), Err(AuthError::InvalidSignature));
}

// ---------------------------------------------------------------------------------------------
// JWKS

fn issuer_jwk(private_pem: &str, kid: &str) -> Value {
    TokenIssuer::from_pem(private_pem, Some(kid.to_owned())).expect("issuer").public_jwks()["keys"][0].clone()
}

#[test]
fn jwks_keys_are_selected_by_kid() {
    let jwks = json!({"keys": [issuer_jwk(RSA_PRIVATE, "a"), issuer_jwk(OTHER_RSA_PRIVATE, "b"), issuer_jwk(EC_PRIVATE, "c")]});
    let auth = Authenticator::from_jwks_json(&jwks, audiences()).expect("jwks").with_clock(|| NOW);
    assert_eq!(auth.key_count(), 3);

    let ok = |alg, kid: Option<&str>, pem| verify(&auth, &signed(alg, kid, pem, &claims())).is_ok();
    assert!(ok(Algorithm::RS256, Some("b"), OTHER_RSA_PRIVATE));
    assert!(ok(Algorithm::RS256, Some("a"), RSA_PRIVATE));
    assert!(ok(Algorithm::ES256, Some("c"), EC_PRIVATE));
    // Unknown kid or no kid: every key of the right type is tried.
    assert!(ok(Algorithm::RS256, Some("unknown"), RSA_PRIVATE));
    assert!(ok(Algorithm::RS256, None, OTHER_RSA_PRIVATE));
    // A kid that names a trusted key restricts verification to that key.
    assert!(!ok(Algorithm::RS256, Some("a"), OTHER_RSA_PRIVATE));
}

#[test]
fn jwks_algorithm_pinning_is_enforced() {
    let mut jwk = issuer_jwk(RSA_PRIVATE, "pinned");
    jwk["alg"] = json!("RS256");
    let auth =
        Authenticator::from_jwks_json(&json!({"keys": [jwk]}), audiences()).expect("jwks").with_clock(|| NOW);
    assert!(verify(&auth, &signed(Algorithm::RS256, Some("pinned"), RSA_PRIVATE, &claims())).is_ok());
    let ps256 = signed(Algorithm::PS256, Some("pinned"), RSA_PRIVATE, &claims());
    assert_eq!(verify(&auth, &ps256), Err(AuthError::InvalidSignature));

    let mut mismatched = issuer_jwk(RSA_PRIVATE, "x");
    mismatched["alg"] = json!("ES256");
    assert!(Authenticator::from_jwks_json(&json!({"keys": [mismatched]}), audiences()).is_err());
}

#[test]
fn unusable_jwks_are_rejected() {
    let rsa = issuer_jwk(RSA_PRIVATE, "rsa");
    let mut enc = rsa.clone();
    enc["use"] = json!("enc");
    let mut p384 = issuer_jwk(EC_PRIVATE, "p384");
    p384["crv"] = json!("P-384");
    let mut off_curve = issuer_jwk(EC_PRIVATE, "bad");
    off_curve["x"] = json!(URL_SAFE_NO_PAD.encode([1u8; 32]));
    let weak_rsa =
        json!({"kty": "RSA", "kid": "weak", "n": URL_SAFE_NO_PAD.encode([0xc3u8; 128]), "e": "AQAB"});
    let ed25519 = json!({"kty": "OKP", "crv": "Ed25519", "x": URL_SAFE_NO_PAD.encode([9u8; 32])});
    for doc in [
        json!({}),
        json!([rsa]),
        json!({"keys": "nope"}),
        json!({"keys": []}),
        json!({"keys": [enc]}),
        json!({"keys": [p384]}),
        json!({"keys": [off_curve]}),
        json!({"keys": [weak_rsa]}),
        json!({"keys": [ed25519]}),
        json!({"keys": [{"kty": "RSA", "n": "!!", "e": "AQAB"}]}),
        json!({"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}),
    ] {
        let got = Authenticator::from_jwks_json(&doc, audiences());
        assert!(matches!(got, Err(AuthError::Jwks { .. })), "{doc} gave {got:?}");
    }
    // Unusable entries next to a good key are skipped, not fatal.
    let mixed = json!({"keys": [{"kty": "oct", "k": "c2VjcmV0"}, {"kty": "weird"}, rsa]});
    let auth = Authenticator::from_jwks_json(&mixed, audiences()).expect("one good key");
    assert_eq!(auth.key_count(), 1);
}

/// A one-endpoint HTTP server answering every request with the current `(status, body)`.
struct JwksServer {
    url: String,
    response: Arc<parking_lot::Mutex<(u16, String)>>,
    hits: Arc<AtomicUsize>,
}

impl JwksServer {
    async fn start(status: u16, body: String) -> JwksServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}/.well-known/jwks.json", listener.local_addr().expect("addr"));
        let response = Arc::new(parking_lot::Mutex::new((status, body)));
        let hits = Arc::new(AtomicUsize::new(0));
        let (task_response, task_hits) = (Arc::clone(&response), Arc::clone(&hits));
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (status, body) = task_response.lock().clone();
                task_hits.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(answer(stream, status, body));
            }
        });
        JwksServer { url, response, hits }
    }

    fn set(&self, status: u16, body: String) {
        *self.response.lock() = (status, body);
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

async fn answer(stream: tokio::net::TcpStream, status: u16, body: String) {
    let mut request = Vec::new();
    let mut buf = [0u8; 2048];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
        if stream.readable().await.is_err() {
            return;
        }
        match stream.try_read(&mut buf) {
            Ok(0) => return,
            Ok(n) => request.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(_) => return,
        }
    }
    let reply = format!(
        "HTTP/1.1 {status} Test\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut rest = reply.as_bytes();
    while !rest.is_empty() {
        if stream.writable().await.is_err() {
            return;
        }
        match stream.try_write(rest) {
            Ok(n) => rest = &rest[n..],
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(_) => return,
        }
    }
}

async fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    for _ in 0..250 {
        if condition() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("timed out waiting for: {what}");
}

fn jwks_config(url: &str, refresh: Duration) -> AuthConfig {
    AuthConfig {
        jwks_urls: vec![url.to_owned()],
        audiences: audiences(),
        jwks_refresh: refresh,
        ..AuthConfig::default()
    }
}

#[tokio::test]
async fn jwks_is_fetched_refreshed_and_kept_on_failure() {
    let first = TokenIssuer::from_pem(RSA_PRIVATE, Some("k1".into())).expect("issuer");
    let second = TokenIssuer::from_pem(EC_PRIVATE, Some("k2".into())).expect("issuer");
    let server = JwksServer::start(200, first.public_jwks().to_string()).await;

    let auth = Authenticator::new(jwks_config(&server.url, Duration::from_millis(50)))
        .await
        .expect("JWKS fetched at start-up");
    let old_token = first.issue("uss1", &[SCOPE_SC], AUD, Duration::from_secs(300)).expect("token");
    let got = auth.verify(Some(&bearer(&old_token))).expect("verifies with fetched key");
    assert_eq!((got.sub.as_str(), got.iss.as_str()), ("uss1", DEV_ISSUER));

    // Rotation: the new key is picked up and the removed one stops working, cache or not.
    server.set(200, second.public_jwks().to_string());
    let new_token = second.issue("uss2", &[SCOPE_CM], AUD, Duration::from_secs(300)).expect("token");
    eventually("rotated JWKS is used", || auth.verify(Some(&bearer(&new_token))).is_ok()).await;
    assert_eq!(auth.verify(Some(&bearer(&old_token))), Err(AuthError::InvalidSignature));

    // Outage: failed refreshes keep the last good keys.
    server.set(500, "{}".into());
    let before = server.hits();
    eventually("several failed refreshes", || server.hits() >= before + 3).await;
    assert!(auth.verify(Some(&bearer(&new_token))).is_ok());
    server.set(200, "this is not json".into());
    let before = server.hits();
    eventually("several unparsable refreshes", || server.hits() >= before + 3).await;
    assert!(auth.verify(Some(&bearer(&new_token))).is_ok());

    // Dropping the authenticator stops the refresh task.
    drop(auth);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let after_drop = server.hits();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(server.hits(), after_drop);
}

#[tokio::test]
async fn unreachable_or_invalid_jwks_fails_start_up() {
    let issuer = TokenIssuer::from_pem(RSA_PRIVATE, Some("k1".into())).expect("issuer");
    let server = JwksServer::start(404, "{}".into()).await;
    for (status, body) in [
        (404, "{}".to_owned()),
        (500, issuer.public_jwks().to_string()),
        (200, "<html>".to_owned()),
        (200, r#"{"keys":[]}"#.to_owned()),
    ] {
        server.set(status, body);
        let got = Authenticator::new(jwks_config(&server.url, Duration::from_secs(60))).await;
        assert!(matches!(got, Err(AuthError::Jwks { .. })), "{status}: {got:?}");
    }

    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}/jwks", closed.local_addr().expect("addr"));
    drop(closed);
    let got = Authenticator::new(jwks_config(&url, Duration::from_secs(60))).await;
    assert!(matches!(got, Err(AuthError::Jwks { .. })), "{got:?}");
}

// ---------------------------------------------------------------------------------------------
// Configuration

fn temp_pem(name: &str, contents: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("entente-auth-{}-{name}.pem", std::process::id()));
    std::fs::write(&path, contents).expect("write temp pem");
    path
}

#[tokio::test]
async fn new_loads_pem_files() {
    let rsa = temp_pem("rsa", RSA_PUBLIC);
    let ec = temp_pem("ec", EC_PUBLIC);
    let config = AuthConfig {
        public_key_pems: vec![rsa.clone(), ec.clone()],
        audiences: audiences(),
        ..AuthConfig::default()
    };
    let auth = Authenticator::new(config.clone()).await.expect("loads").with_clock(|| NOW);
    assert_eq!(auth.key_count(), 2);
    assert!(verify(&auth, &rs256(&claims())).is_ok());
    assert!(verify(&auth, &signed(Algorithm::ES256, None, EC_PRIVATE, &claims())).is_ok());

    let missing = AuthConfig {
        public_key_pems: vec![std::env::temp_dir().join("entente-auth-does-not-exist.pem")],
        ..config.clone()
    };
    assert!(matches!(Authenticator::new(missing).await, Err(AuthError::InvalidPublicKey { .. })));

    let private = temp_pem("private", RSA_PRIVATE);
    let err = Authenticator::new(AuthConfig { public_key_pems: vec![private.clone()], ..config.clone() })
        .await
        .expect_err("private key refused");
    let message = err.to_string();
    assert!(message.contains("private key"), "{message}");
    let key_line = RSA_PRIVATE.lines().nth(1).expect("key body");
    assert!(!message.contains(key_line), "error must not echo key material");

    for path in [rsa, ec, private] {
        let _ = std::fs::remove_file(path);
    }
}

#[tokio::test]
async fn invalid_configuration_is_rejected() {
    let no_keys = AuthConfig { audiences: audiences(), ..AuthConfig::default() };
    assert!(matches!(Authenticator::new(no_keys).await, Err(AuthError::Config(_))));

    let no_audience = AuthConfig { jwks_urls: vec!["http://127.0.0.1:1/".into()], ..AuthConfig::default() };
    assert!(matches!(Authenticator::new(no_audience).await, Err(AuthError::Config(_))));

    let zero_refresh = jwks_config("http://127.0.0.1:1/", Duration::ZERO);
    assert!(matches!(Authenticator::new(zero_refresh).await, Err(AuthError::Config(_))));

    assert!(matches!(Authenticator::from_pem_strings(&[], audiences()), Err(AuthError::Config(_))));
    assert!(matches!(
        Authenticator::from_pem_strings(&[RSA_PUBLIC], vec![" ".into()]),
        Err(AuthError::Config(_))
    ));
}

#[test]
fn unsupported_pem_inputs_are_rejected() {
    for pem in [
        "",
        "not a pem",
        RSA_PRIVATE,
        RSA_PRIVATE_PKCS1,
        EC_PRIVATE,
        "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
        "-----BEGIN RSA PUBLIC KEY-----\nMAA=\n-----END RSA PUBLIC KEY-----\n",
        "-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n",
    ] {
        let got = Authenticator::from_pem_strings(&[pem], audiences());
        assert!(matches!(got, Err(AuthError::InvalidPublicKey { .. })), "{pem:?} gave {got:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// Development issuer

#[test]
fn issuer_tokens_verify_against_its_published_keys() {
    for (pem, alg) in [(RSA_PRIVATE, "RS256"), (RSA_PRIVATE_PKCS1, "RS256"), (EC_PRIVATE, "ES256")] {
        let issuer = TokenIssuer::from_pem(pem, Some("dev-1".into()))
            .expect("issuer")
            .with_issuer("https://dev.example.com");
        assert_eq!(issuer.algorithm(), alg);
        assert_eq!(issuer.kid(), Some("dev-1"));
        let jwks = issuer.public_jwks();
        assert_eq!(jwks["keys"][0]["kid"], "dev-1");
        assert_eq!(jwks["keys"][0]["use"], "sig");

        let token =
            issuer.issue("uss1", &[SCOPE_SC, SCOPE_CM], AUD, Duration::from_secs(600)).expect("token");
        let header = jsonwebtoken::decode_header(&token).expect("header");
        assert_eq!(header.kid.as_deref(), Some("dev-1"));

        for auth in [
            Authenticator::from_jwks_json(&jwks, audiences()).expect("jwks"),
            Authenticator::from_pem_strings(&[&issuer.public_pem().expect("pem")], audiences()).expect("pem"),
        ] {
            let got = auth.verify(Some(&bearer(&token))).expect("verifies");
            assert_eq!(got.sub, "uss1");
            assert_eq!(got.iss, "https://dev.example.com");
            assert_eq!(got.scopes, vec![SCOPE_SC, SCOPE_CM]);
            let lifetime = got.exp - unix_now();
            assert!((590..=600).contains(&lifetime), "{lifetime}");
        }

        let payload: Value = serde_json::from_slice(
            &URL_SAFE_NO_PAD.decode(token.split('.').nth(1).expect("payload")).expect("b64"),
        )
        .expect("json");
        assert!(payload["jti"].as_str().is_some_and(|j| !j.is_empty()));
        assert!(payload["iat"].is_i64());
    }
}

#[test]
fn issuer_defaults_to_dev_issuer_and_unique_jti() {
    let issuer = TokenIssuer::from_pem(RSA_PRIVATE, None).expect("issuer");
    let jti = |t: &str| -> Value {
        let payload: Value = serde_json::from_slice(
            &URL_SAFE_NO_PAD.decode(t.split('.').nth(1).expect("payload")).expect("b64"),
        )
        .expect("json");
        assert_eq!(payload["iss"], DEV_ISSUER);
        payload["jti"].clone()
    };
    let a = issuer.issue("u", &[], AUD, Duration::from_secs(60)).expect("token");
    let b = issuer.issue("u", &[], AUD, Duration::from_secs(60)).expect("token");
    assert_ne!(jti(&a), jti(&b));
    assert!(issuer.public_jwks()["keys"][0].get("kid").is_none());
    assert!(matches!(issuer.issue("u", &[], AUD, Duration::MAX), Err(AuthError::Issue(_))));
}

#[test]
fn generated_es256_issuers_have_distinct_working_keys() {
    let a = TokenIssuer::generate_es256().expect("generated");
    let b = TokenIssuer::generate_es256().expect("generated");
    assert_eq!(a.algorithm(), "ES256");
    let (pem_a, pem_b) = (a.public_pem().expect("pem"), b.public_pem().expect("pem"));
    assert_ne!(pem_a, pem_b);

    let auth = Authenticator::from_pem_strings(&[&pem_a], audiences()).expect("public pem loads");
    let token = a.issue("bench", &[SCOPE_SC], AUD, Duration::from_secs(3600)).expect("token");
    assert_eq!(auth.verify(Some(&bearer(&token))).map(|c| c.sub), Ok("bench".to_owned()));
    let foreign = b.issue("bench", &[SCOPE_SC], AUD, Duration::from_secs(3600)).expect("token");
    assert_eq!(auth.verify(Some(&bearer(&foreign))), Err(AuthError::InvalidSignature));
}

#[test]
fn issuer_public_pem_matches_openssl() {
    for (private, public) in
        [(RSA_PRIVATE, RSA_PUBLIC), (EC_PRIVATE, EC_PUBLIC), (OTHER_RSA_PRIVATE, OTHER_RSA_PUBLIC)]
    {
        let issuer = TokenIssuer::from_pem(private, None).expect("issuer");
        assert_eq!(issuer.public_pem().expect("pem").trim(), public.trim());
    }
}

#[test]
fn issuer_rejects_unusable_keys() {
    for pem in [
        "",
        RSA_PUBLIC,
        RSA_PUBLIC_PKCS1,
        EC_PUBLIC,
        RSA_CERT,
        "-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n",
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    ] {
        let got = TokenIssuer::from_pem(pem, None);
        assert!(matches!(got, Err(AuthError::InvalidSigningKey(_))), "{pem:?} gave {got:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// Error contract

#[test]
fn error_messages_are_lowercase_and_classified() {
    let request_errors = [
        AuthError::MissingCredentials,
        AuthError::InvalidScheme,
        AuthError::MalformedToken("x"),
        AuthError::UnsupportedAlgorithm,
        AuthError::InvalidSignature,
        AuthError::MissingClaim("exp"),
        AuthError::InvalidClaim { claim: "sub", reason: "r" },
        AuthError::Expired,
        AuthError::NotYetValid,
        AuthError::LifetimeTooLong,
        AuthError::InvalidAudience,
    ];
    let setup_errors = [
        AuthError::Config("x".into()),
        AuthError::InvalidPublicKey { origin: "o".into(), reason: "r".into() },
        AuthError::Jwks { url: "u".into(), reason: "r".into() },
        AuthError::InvalidSigningKey("x".into()),
        AuthError::Issue("x".into()),
    ];
    for e in request_errors.iter().chain(&setup_errors) {
        let message = e.to_string();
        assert!(message.starts_with(|c: char| c.is_ascii_lowercase()), "{message}");
    }
    assert!(request_errors.iter().all(AuthError::is_unauthorized));
    assert!(!setup_errors.iter().any(AuthError::is_unauthorized));
}

#[test]
fn shared_types_are_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Authenticator>();
    assert_send_sync::<TokenIssuer>();
    assert_send_sync::<AuthError>();
}
