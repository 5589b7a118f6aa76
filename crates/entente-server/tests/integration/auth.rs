//! Authentication and authorization: 401 for any bad token, 403 for a missing scope (checklist 1-4).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use entente_dss::Clock;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::*;

/// Claims as an F3548 authority issues them, `exp_in` seconds from now.
fn claims(sub: &str, scope: &str, aud: &str, exp_in: i64) -> Value {
    let now = entente_dss::SystemClock.now().timestamp();
    json!({
        "iss": "https://auth.example.com/token",
        "sub": sub,
        "aud": aud,
        "scope": scope,
        "iat": now,
        "nbf": now - 10,
        "exp": now + exp_in,
        "jti": id(),
    })
}

fn rs256(pem: &str, claims: &Value) -> anyhow::Result<String> {
    let key = EncodingKey::from_rsa_pem(pem.as_bytes())?;
    Ok(jsonwebtoken::encode(&Header::new(Algorithm::RS256), claims, &key)?)
}

fn es256(pem: &str, claims: &Value) -> anyhow::Result<String> {
    let key = EncodingKey::from_ec_pem(pem.as_bytes())?;
    Ok(jsonwebtoken::encode(&Header::new(Algorithm::ES256), claims, &key)?)
}

/// An unsigned token (`alg: none`) carrying otherwise valid claims.
fn unsigned(claims: &Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    format!("{header}.{payload}.")
}

/// Every DSS endpoint, with a body where it takes one. Tokens and scopes are checked before a body is read, so
/// the writes send an empty object, which no shape of theirs would send.
fn endpoints() -> Vec<(reqwest::Method, String, Option<Value>)> {
    use reqwest::Method;
    let some = "2f8343be-6482-4d1b-a474-16847e01af1e";
    let area = query(&here());
    vec![
        (Method::POST, OIR_QUERY.to_owned(), Some(area.clone())),
        (Method::GET, oir_path(some), None),
        (Method::PUT, oir_path(some), Some(json!({}))),
        (Method::PUT, oir_path_ovn(some, "ovn-ovn-ovn-ovn-ovn"), Some(json!({}))),
        (Method::DELETE, oir_path_ovn(some, "ovn-ovn-ovn-ovn-ovn"), None),
        (Method::POST, CONSTRAINT_QUERY.to_owned(), Some(area.clone())),
        (Method::GET, constraint_path(some), None),
        (Method::PUT, constraint_path(some), Some(json!({}))),
        (Method::PUT, constraint_path_ovn(some, "ovn-ovn-ovn-ovn-ovn"), Some(json!({}))),
        (Method::DELETE, constraint_path_ovn(some, "ovn-ovn-ovn-ovn-ovn"), None),
        (Method::POST, SUB_QUERY.to_owned(), Some(area)),
        (Method::GET, sub_path(some), None),
        (Method::PUT, sub_path(some), Some(json!({}))),
        (Method::PUT, sub_path_version(some, "v1"), Some(json!({}))),
        (Method::DELETE, sub_path_version(some, "v1"), None),
        (Method::POST, REPORTS.to_owned(), Some(json!({}))),
        (Method::GET, availability_path("uss-a"), None),
        (Method::PUT, availability_path("uss-a"), Some(availability_params(None, "Down"))),
    ]
}

async fn call(
    c: &Client,
    method: reqwest::Method,
    path: &str,
    body: Option<&Value>,
) -> anyhow::Result<(StatusCode, Value)> {
    match body {
        Some(b) => c.send_raw(method, path, serde_json::to_vec(b)?).await,
        None => c.send_raw(method, path, Vec::new()).await,
    }
}

/// Checklist 1: no `Authorization` header on any DSS endpoint is a 401 with an ErrorResponse.
#[tokio::test]
async fn every_endpoint_without_a_token_is_401_with_a_message() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let anon = dss.anonymous();
    for (method, path, body) in endpoints() {
        let (status, body) = call(&anon, method.clone(), &path, body.as_ref()).await?;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path}: {body}");
        assert!(!message(&body)?.is_empty(), "{method} {path}: empty message");
    }
    Ok(())
}

/// Checklist 2: each kind of invalid token is a 401 with an ErrorResponse, on a read and a write.
#[tokio::test]
async fn invalid_tokens_are_401() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let good = claims("uss-a", SC, AUDIENCE, 600);
    let cases: Vec<(&str, String)> = vec![
        ("signed by an untrusted key", format!("Bearer {}", rs256(OTHER_RSA_PRIVATE, &good)?)),
        ("expired", format!("Bearer {}", rs256(RSA_PRIVATE, &claims("uss-a", SC, AUDIENCE, -600))?)),
        (
            "exp more than 1 h ahead",
            format!("Bearer {}", rs256(RSA_PRIVATE, &claims("uss-a", SC, AUDIENCE, 2 * 3600))?),
        ),
        (
            "wrong audience",
            format!("Bearer {}", rs256(RSA_PRIVATE, &claims("uss-a", SC, "dss.elsewhere.example", 600))?),
        ),
        ("alg none", format!("Bearer {}", unsigned(&good))),
        ("not a JWT", "Bearer not.a.jwt".to_owned()),
        ("not a bearer scheme", format!("Basic {}", URL_SAFE_NO_PAD.encode("uss-a:secret"))),
        ("tampered payload", {
            let t = rs256(RSA_PRIVATE, &good)?;
            let parts: Vec<&str> = t.split('.').collect();
            let forged =
                URL_SAFE_NO_PAD.encode(claims("uss-a", &format!("{SC} {AA}"), AUDIENCE, 600).to_string());
            format!("Bearer {}.{forged}.{}", parts[0], parts[2])
        }),
    ];
    for (what, header) in cases {
        let c = dss.with_authorization(&header);
        let (status, body) = c.post(OIR_QUERY, &query(&here())).await?;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{what}: {body}");
        assert!(!message(&body)?.is_empty(), "{what}: empty message");
        let (status, body) = c.put(&oir_path(&id()), &oir(&c, &[here()], "Accepted", &[])).await?;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{what} on a write: {body}");
    }
    // Nothing was written by any of them.
    let reader = dss.client("uss-z", &[SC]);
    let found = reader.post(OIR_QUERY, &query(&here())).await?.want(200)?;
    assert_eq!(found["operational_intent_references"], json!([]));
    Ok(())
}

/// The same claims, correctly signed with the trusted RSA or EC key, are accepted.
#[tokio::test]
async fn tokens_from_trusted_rsa_and_ec_keys_are_accepted() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let good = claims("uss-a", SC, AUDIENCE, 600);
    for (what, token) in [("RS256", rs256(RSA_PRIVATE, &good)?), ("ES256", es256(EC_PRIVATE, &good)?)] {
        let c = dss.with_authorization(&format!("Bearer {token}"));
        let (status, body) = c.post(OIR_QUERY, &query(&here())).await?;
        assert_eq!(status, StatusCode::OK, "{what}: {body}");
    }
    Ok(())
}

/// Checklist 3: a valid token without an allowed scope is a 403 and nothing is mutated.
#[tokio::test]
async fn wrong_scope_is_403_and_mutates_nothing() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let cm = dss.client("uss-a", &[CM]);
    let sc = dss.client("uss-a", &[SC]);
    let cp = dss.client("uss-a", &[CP]);
    let aa = dss.client("arbiter", &[AA]);

    // CM on an OIR create.
    let oid = id();
    let resp = cm.put(&oir_path(&oid), &oir(&cm, &[here()], "Accepted", &[])).await?;
    assert_error(resp, 403, "scope")?;
    sc.get(&oir_path(&oid)).await?.want(404)?;

    // SC or CP on a constraint create.
    let cid = id();
    for c in [&sc, &cp] {
        let resp = c.put(&constraint_path(&cid), &constraint(c, &[here()])).await?;
        assert_error(resp, 403, "scope")?;
    }
    cp.get(&constraint_path(&cid)).await?.want(404)?;

    // CM on a subscription create.
    let sid = id();
    let resp = cm.put(&sub_path(&sid), &subscription(&cm, &sub_here(), true, false)).await?;
    assert_error(resp, 403, "scope")?;
    sc.get(&sub_path(&sid)).await?.want(404)?;

    // SC setting availability (also checklist 50).
    let resp = sc.put(&availability_path("uss-a"), &availability_params(Some(""), "Down")).await?;
    assert_error(resp, 403, "scope")?;
    let status = aa.get(&availability_path("uss-a")).await?.want(200)?;
    assert_eq!(status["status"]["availability"], "Unknown");
    assert_eq!(status["version"], "");

    // Reads need a scope too: CM cannot read OIRs, SC cannot read constraints, CM cannot read
    // subscriptions, CM cannot read availability.
    cm.post(OIR_QUERY, &query(&here())).await?.want(403)?;
    sc.post(CONSTRAINT_QUERY, &query(&here())).await?.want(403)?;
    cm.post(SUB_QUERY, &query(&here())).await?.want(403)?;
    cm.get(&availability_path("uss-a")).await?.want(403)?;
    // A token with no F3548 scope at all can neither read nor report.
    let rid = dss.client("uss-a", &["rid.display_provider"]);
    rid.get(&oir_path(&oid)).await?.want(403)?;
    rid.post(REPORTS, &json!({})).await?.want(403)?;
    Ok(())
}

/// An update or delete by a token without the scope leaves the existing entity untouched.
#[tokio::test]
async fn wrong_scope_on_update_and_delete_leaves_the_oir_unchanged() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let sc = dss.client("uss-a", &[SC]);
    let cm = dss.client("uss-a", &[CM]);
    let oid = id();
    let created = sc.create_oir(&oid, &oir(&sc, &[here()], "Accepted", &[])).await?;
    let ovn = str_of(&created["ovn"])?;
    let resp = cm.put(&oir_path_ovn(&oid, ovn), &oir(&cm, &[far()], "Accepted", &[])).await?;
    assert_error(resp, 403, "scope")?;
    assert_error(cm.delete(&oir_path_ovn(&oid, ovn)).await?, 403, "scope")?;
    let now = sc.get_oir(&oid).await?;
    assert_eq!(now, created);
    Ok(())
}

/// Checklist 4: `manager` is the token's `sub`, whatever the body says.
#[tokio::test]
async fn manager_is_the_token_subject() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let a = dss.client("uss-alpha", &[SC]);
    let cm = dss.client("uss-beta", &[CM]);
    // `manager` is no field of the shapes written: it is set by hand, in both bodies.
    let mut body = oir(&a, &[here()], "Accepted", &[]);
    body["manager"] = json!("someone-else");
    let oid = id();
    let r = a.create_oir(&oid, &body).await?;
    assert_eq!(r["manager"], "uss-alpha");
    let mut body = constraint(&cm, &[here()]);
    body["manager"] = json!("someone-else");
    let c = cm.create_constraint(&id(), &body).await?;
    assert_eq!(c["manager"], "uss-beta");
    Ok(())
}
