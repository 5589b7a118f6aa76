//! USS availability: the arbiter's read-modify-write record per USS (checklist 48-50).

use entente_wire::scd::{UssAvailabilityState, UssAvailabilityStatus, UssAvailabilityStatusResponse};
use serde_json::{Value, json};

use crate::harness::*;

/// The availability record of `uss` at `version`.
fn record(version: &str, uss: &str, availability: UssAvailabilityState) -> Value {
    wire(UssAvailabilityStatusResponse {
        version: version.to_owned(),
        status: UssAvailabilityStatus { uss: uss.to_owned(), availability },
    })
}

/// Checklist 48: a USS never set is Unknown with an empty version, for every reading scope.
#[tokio::test]
async fn never_set_is_unknown() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    for scope in [AA, SC, CMSA] {
        let c = dss.client("reader", &[scope]);
        let body = c.get(&availability_path("uss-never")).await?.want(200)?;
        assert_eq!(body, record("", "uss-never", UssAvailabilityState::Unknown), "{scope}");
    }
    Ok(())
}

/// Checklist 49: set with AA → 200 and a new version each time; a stale or invented old_version
/// is 409 and changes nothing.
#[tokio::test]
async fn set_with_old_version() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let aa = dss.client("arbiter", &[AA]);
    let sc = dss.client("uss-a", &[SC]);
    // A record that does not exist yet cannot be updated from an invented version.
    let resp = aa.put(&availability_path("uss-a"), &availability_params(Some("made-up"), "Down")).await?;
    assert_eq!(resp.0.as_u16(), 409, "{}", resp.1);
    message(&resp.1)?;

    let body =
        aa.put(&availability_path("uss-a"), &availability_params(Some(""), "Down")).await?.want(200)?;
    let v1 = str_of(&body["version"])?.to_owned();
    assert!(!v1.is_empty());
    assert_eq!(body, record(&v1, "uss-a", UssAvailabilityState::Down));
    let seen = sc.get(&availability_path("uss-a")).await?.want(200)?;
    assert_eq!(seen, body);

    // Omitting old_version means "" and is now stale.
    let resp = aa.put(&availability_path("uss-a"), &availability_params(None, "Normal")).await?;
    assert_eq!(resp.0.as_u16(), 409, "{}", resp.1);
    let v2 = aa.set_availability("uss-a", &v1, "Normal").await?;
    assert_ne!(v1, v2);
    let resp = aa.put(&availability_path("uss-a"), &availability_params(Some(&v1), "Down")).await?;
    assert_eq!(resp.0.as_u16(), 409, "{}", resp.1);
    let seen = sc.get(&availability_path("uss-a")).await?.want(200)?;
    assert_eq!(seen, record(&v2, "uss-a", UssAvailabilityState::Normal));
    // An availability outside the enum is 400; the shape cannot say it, so it is set by hand.
    let mut sleeping = availability_params(Some(&v2), "Down");
    sleeping["availability"] = json!("Sleeping");
    let resp = aa.put(&availability_path("uss-a"), &sleeping).await?;
    assert_error(resp, 400, "availability")?;
    Ok(())
}

/// Checklist 50: only AA may set it.
#[tokio::test]
async fn only_the_arbiter_sets_it() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    for scope in [SC, CMSA, CM, CP] {
        let c = dss.client("uss-a", &[scope]);
        let resp = c.put(&availability_path("uss-a"), &availability_params(Some(""), "Normal")).await?;
        assert_error(resp, 403, "scope")?;
    }
    let aa = dss.client("arbiter", &[AA]);
    let body = aa.get(&availability_path("uss-a")).await?.want(200)?;
    assert_eq!(body["version"], "");
    Ok(())
}

#[tokio::test]
async fn availability_snapshot() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let aa = dss.client("arbiter", &[AA]);
    let body =
        aa.put(&availability_path("uss-a"), &availability_params(Some(""), "Down")).await?.want(200)?;
    insta::assert_json_snapshot!(body, {".version" => "[version]"});
    Ok(())
}

/// References carry their manager's current availability.
#[tokio::test]
async fn references_carry_the_managers_availability() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let aa = dss.client("arbiter", &[AA]);
    let a = dss.client("uss-a", &[SC]);
    let b = dss.client("uss-b", &[SC]);
    let oid = id();
    assert_eq!(
        a.create_oir(&oid, &oir(&a, &[here()], "Accepted", &[])).await?["uss_availability"],
        "Unknown"
    );
    let v = aa.set_availability("uss-a", "", "Normal").await?;
    assert_eq!(b.get_oir(&oid).await?["uss_availability"], "Normal");
    aa.set_availability("uss-a", &v, "Down").await?;
    let found = b.post(OIR_QUERY, &query(&here())).await?.want(200)?;
    assert_eq!(found["operational_intent_references"][0]["uss_availability"], "Down");
    Ok(())
}
