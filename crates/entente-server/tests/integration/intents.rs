//! Operational intent references: create, read, update, delete and the state rules (checklist 12-21).

use entente_wire::scd::{ImplicitSubscriptionParameters, PutOperationalIntentReferenceParameters};
use serde_json::{Value, json};

use crate::harness::*;

/// Checklist 12 and 21: a create in empty airspace answers 201 with version 1, the state echoed,
/// the manager, an OVN, the placeholder subscription, and the span of the extents.
#[tokio::test]
async fn create_in_empty_airspace() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let a = dss.client("uss-a", &[SC]);
    let oid = id();
    let extents = [
        volume4d(&square(LAT, LNG, 800.0), 0.0, 60.0, 20, 50),
        volume4d(&circle(LAT, LNG + 0.005, 300.0), 30.0, 90.0, 15, 40),
        volume4d(&square(LAT, LNG + 0.01, 800.0), 10.0, 120.0, 45, 80),
    ];
    let body = a.put(&oir_path(&oid), &oir(&a, &extents, "Accepted", &[])).await?.want(201)?;
    assert_eq!(body["subscribers"], json!([]));
    let r = &body["operational_intent_reference"];
    assert_eq!(r["id"], oid.as_str());
    assert_eq!(r["manager"], "uss-a");
    assert_eq!(r["version"], 1);
    assert_eq!(r["state"], "Accepted");
    assert_eq!(r["uss_availability"], "Unknown");
    assert_eq!(r["uss_base_url"], a.url());
    assert_eq!(r["subscription_id"], NULL_SUBSCRIPTION);
    let ovn = str_of(&r["ovn"])?;
    assert!((16..=128).contains(&ovn.len()), "OVN of {} characters: {ovn}", ovn.len());
    assert_eq!(parse_time(&r["time_start"])?, at(15));
    assert_eq!(parse_time(&r["time_end"])?, at(80));
    // GET by the manager returns the same reference.
    assert_eq!(&a.get_oir(&oid).await?, r);
    Ok(())
}

#[tokio::test]
async fn create_response_snapshot() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let a = dss.client("uss-a", &[SC]);
    let body =
        a.put(&oir_path(&id()), &oir_new_sub(&a, &[here()], "Accepted", &[], false)).await?.want(201)?;
    insta::assert_json_snapshot!(body, {
        ".operational_intent_reference.id" => "[id]",
        ".operational_intent_reference.ovn" => "[ovn]",
        ".operational_intent_reference.subscription_id" => "[subscription_id]",
        ".operational_intent_reference.time_start.value" => "[time]",
        ".operational_intent_reference.time_end.value" => "[time]",
        ".subscribers[].subscriptions[].subscription_id" => "[subscription_id]",
    });
    Ok(())
}

/// Checklist 13: creation must be in Accepted; off-nominal states without CMSA are 403.
#[tokio::test]
async fn create_must_be_accepted() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let sc = dss.client("uss-a", &[SC]);
    let cmsa = dss.client("uss-a", &[SC, CMSA]);
    let oid = id();
    let resp = sc.put(&oir_path(&oid), &oir_new_sub(&sc, &[here()], "Activated", &[], false)).await?;
    assert_error(resp, 400, "state")?;
    for state in ["Nonconforming", "Contingent"] {
        let resp = sc.put(&oir_path(&oid), &oir_new_sub(&sc, &[here()], state, &[], false)).await?;
        assert_error(resp, 403, CMSA)?;
        let resp = cmsa.put(&oir_path(&oid), &oir_new_sub(&cmsa, &[here()], state, &[], false)).await?;
        assert_error(resp, 400, "state")?;
    }
    sc.get(&oir_path(&oid)).await?.want(404)?;
    // Nothing was created, not even an implicit subscription.
    let subs = sc.post(SUB_QUERY, &query(&sub_here())).await?.want(200)?;
    assert_eq!(subs["subscriptions"], json!([]));
    Ok(())
}

/// Checklist 14: Activated (and the off-nominal states) need a subscription; naming both is 400.
#[tokio::test]
async fn activation_needs_exactly_one_subscription_source() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let a = dss.client("uss-a", &[SC, CMSA]);
    let oid = id();
    let r = a.create_oir(&oid, &oir(&a, &[here()], "Accepted", &[])).await?;
    let ovn = str_of(&r["ovn"])?;
    for state in ["Activated", "Nonconforming", "Contingent"] {
        let resp = a.put(&oir_path_ovn(&oid, ovn), &oir(&a, &[here()], state, &[])).await?;
        assert_error(resp, 400, "subscription")?;
    }
    let sid = id();
    a.create_sub(&sid, &subscription(&a, &sub_here(), true, false)).await?;
    // A subscription named and a new one asked for at once.
    let both = |extents: Value, state: &str| {
        let mut body: PutOperationalIntentReferenceParameters =
            from_wire(&oir_with_sub(&a, &[extents], state, &[], &sid));
        body.new_subscription =
            Some(ImplicitSubscriptionParameters { uss_base_url: a.url(), notify_for_constraints: None });
        wire(body)
    };
    assert_error(a.put(&oir_path_ovn(&oid, ovn), &both(here(), "Activated")).await?, 400, "subscription")?;
    let both_on_create = both(far(), "Accepted");
    assert_error(a.put(&oir_path(&id()), &both_on_create).await?, 400, "subscription")?;
    // Still version 1 with the same OVN.
    let now = a.get_oir(&oid).await?;
    assert_eq!(now, r);
    // With the subscription it activates.
    let r2 = a.update_oir(&oid, ovn, &oir_with_sub(&a, &[here()], "Activated", &[], &sid)).await?;
    assert_eq!(r2["state"], "Activated");
    assert_eq!(r2["subscription_id"], sid.as_str());
    Ok(())
}

/// Checklist 17: an update is 200 with version + 1 and a new OVN; the old OVN no longer works
/// (checklist 15).
#[tokio::test]
async fn update_bumps_version_and_ovn_and_stale_ovn_is_409() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let a = dss.client("uss-a", &[SC]);
    let oid = id();
    let r1 = a.create_oir(&oid, &oir_new_sub(&a, &[here()], "Accepted", &[], false)).await?;
    let ovn1 = str_of(&r1["ovn"])?.to_owned();
    let sid = str_of(&r1["subscription_id"])?.to_owned();
    let body = a
        .put(&oir_path_ovn(&oid, &ovn1), &oir_with_sub(&a, &[here()], "Activated", &[], &sid))
        .await?
        .want(200)?;
    let r2 = &body["operational_intent_reference"];
    assert_eq!(r2["version"], 2);
    assert_eq!(r2["state"], "Activated");
    let ovn2 = str_of(&r2["ovn"])?.to_owned();
    assert_ne!(ovn1, ovn2);
    // Same content again: still a new version and OVN.
    let r3 = a.update_oir(&oid, &ovn2, &oir_with_sub(&a, &[here()], "Activated", &[], &sid)).await?;
    assert_eq!(r3["version"], 3);
    let ovn3 = str_of(&r3["ovn"])?.to_owned();
    assert_ne!(ovn3, ovn2);
    // Stale OVNs: update and delete are 409 and change nothing.
    let resp =
        a.put(&oir_path_ovn(&oid, &ovn1), &oir_with_sub(&a, &[here()], "Activated", &[], &sid)).await?;
    assert_eq!(resp.0.as_u16(), 409, "{}", resp.1);
    message(&resp.1)?;
    let resp = a.delete(&oir_path_ovn(&oid, &ovn2)).await?;
    assert_eq!(resp.0.as_u16(), 409, "{}", resp.1);
    let now = a.get_oir(&oid).await?;
    assert_eq!(now, r3);
    Ok(())
}

/// Checklist 16: another USS can neither update nor delete, and the reference is unchanged.
#[tokio::test]
async fn non_manager_update_and_delete_are_403() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let a = dss.client("uss-a", &[SC]);
    let b = dss.client("uss-b", &[SC, CMSA]);
    let oid = id();
    let r = a.create_oir(&oid, &oir(&a, &[here()], "Accepted", &[])).await?;
    let ovn = str_of(&r["ovn"])?;
    let resp = b.put(&oir_path_ovn(&oid, ovn), &oir(&b, &[here()], "Accepted", &[ovn])).await?;
    assert_eq!(resp.0.as_u16(), 403, "{}", resp.1);
    message(&resp.1)?;
    let resp = b.delete(&oir_path_ovn(&oid, ovn)).await?;
    assert_eq!(resp.0.as_u16(), 403, "{}", resp.1);
    let now = a.get_oir(&oid).await?;
    assert_eq!(now["version"], 1);
    assert_eq!(now["ovn"], r["ovn"]);
    assert_eq!(now["manager"], "uss-a");
    assert_eq!(now, r);
    Ok(())
}

/// Create with an id that exists: 409 for the same manager, 403 for another.
#[tokio::test]
async fn create_with_existing_id() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let a = dss.client("uss-a", &[SC]);
    let b = dss.client("uss-b", &[SC]);
    let oid = id();
    let r = a.create_oir(&oid, &oir(&a, &[here()], "Accepted", &[])).await?;
    let ovn = str_of(&r["ovn"])?;
    let resp = a.put(&oir_path(&oid), &oir(&a, &[here()], "Accepted", &[ovn])).await?;
    assert_eq!(resp.0.as_u16(), 409, "{}", resp.1);
    message(&resp.1)?;
    let resp = b.put(&oir_path(&oid), &oir(&b, &[far()], "Accepted", &[ovn])).await?;
    assert_eq!(resp.0.as_u16(), 403, "{}", resp.1);
    assert_eq!(a.get_oir(&oid).await?, r);
    Ok(())
}

/// Update of an unknown id is 400; GET and DELETE of an unknown id are 404.
#[tokio::test]
async fn unknown_ids() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let a = dss.client("uss-a", &[SC]);
    let oid = id();
    let resp =
        a.put(&oir_path_ovn(&oid, "aaaaaaaaaaaaaaaaaaaa"), &oir(&a, &[here()], "Accepted", &[])).await?;
    assert_eq!(resp.0.as_u16(), 400, "{}", resp.1);
    message(&resp.1)?;
    a.get(&oir_path(&oid)).await?.want(404)?;
    let body = a.delete(&oir_path_ovn(&oid, "aaaaaaaaaaaaaaaaaaaa")).await?.want(404)?;
    message(&body)?;
    Ok(())
}

/// Checklist 18: GET, query and conflict answers never show another USS's OVN; the field is absent.
#[tokio::test]
async fn ovn_only_for_the_manager() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let a = dss.client("uss-a", &[SC]);
    let b = dss.client("uss-b", &[SC]);
    let cmsa = dss.client("monitor", &[CMSA]);
    let oid = id();
    let r = a.create_oir(&oid, &oir(&a, &[here()], "Accepted", &[])).await?;
    let ovn = str_of(&r["ovn"])?.to_owned();

    let seen = b.get_oir(&oid).await?;
    assert!(seen.get("ovn").is_none(), "GET by another USS shows an ovn: {seen}");
    assert_eq!(seen["version"], 1);
    assert_eq!(seen["manager"], "uss-a");
    let seen = cmsa.get_oir(&oid).await?;
    assert!(seen.get("ovn").is_none(), "GET by a monitor shows an ovn: {seen}");

    let found = b.post(OIR_QUERY, &query(&here())).await?.want(200)?;
    let refs = found["operational_intent_references"].as_array().cloned().unwrap_or_default();
    assert_eq!(refs.len(), 1, "{found}");
    assert!(refs[0].get("ovn").is_none(), "query by another USS shows an ovn: {found}");
    assert!(!found.to_string().contains(&ovn), "the OVN leaks somewhere in {found}");

    // The manager's own query shows it.
    let mine = a.post(OIR_QUERY, &query(&here())).await?.want(200)?;
    assert_eq!(mine["operational_intent_references"][0]["ovn"], ovn.as_str());
    Ok(())
}

/// Checklist 19: delete answers 200 with the reference as it was, then GET is 404.
#[tokio::test]
async fn delete_returns_the_prior_reference() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let a = dss.client("uss-a", &[SC]);
    let oid = id();
    let r = a.create_oir(&oid, &oir(&a, &[here()], "Accepted", &[])).await?;
    let ovn = str_of(&r["ovn"])?;
    let body = a.delete(&oir_path_ovn(&oid, ovn)).await?.want(200)?;
    assert_eq!(body["operational_intent_reference"], r);
    assert_eq!(body["subscribers"], json!([]));
    a.get(&oir_path(&oid)).await?.want(404)?;
    let found = a.post(OIR_QUERY, &query(&here())).await?.want(200)?;
    assert_eq!(found["operational_intent_references"], json!([]));
    // A second delete is 404.
    a.delete(&oir_path_ovn(&oid, ovn)).await?.want(404)?;
    Ok(())
}

/// Checklist 20: Nonconforming needs CMSA (403 with SC only); with CMSA it needs no key even over
/// a conflict. [Q] also expects Accepted to Activated and Activated to Ended with SC.
#[tokio::test]
async fn off_nominal_states_need_cmsa_and_no_key() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let a = dss.client("uss-a", &[SC]);
    let a_cmsa = dss.client("uss-a", &[CMSA]);
    let b = dss.client("uss-b", &[SC]);
    let oid = id();
    let r = a.create_oir(&oid, &oir_new_sub(&a, &[here()], "Accepted", &[], false)).await?;
    let sid = str_of(&r["subscription_id"])?.to_owned();
    let r =
        a.update_oir(&oid, str_of(&r["ovn"])?, &oir_with_sub(&a, &[here()], "Activated", &[], &sid)).await?;
    let ovn = str_of(&r["ovn"])?.to_owned();
    // B plans over A with A's OVN (obtained from A's USS), so A now has a conflict.
    let b_id = id();
    b.create_oir(&b_id, &oir(&b, &[here()], "Accepted", &[&ovn])).await?;

    for state in ["Nonconforming", "Contingent"] {
        let resp = a.put(&oir_path_ovn(&oid, &ovn), &oir_with_sub(&a, &[here()], state, &[], &sid)).await?;
        assert_error(resp, 403, CMSA)?;
    }
    assert_eq!(a.get_oir(&oid).await?["version"], 2);

    let nc = a_cmsa.update_oir(&oid, &ovn, &oir_with_sub(&a, &[here()], "Nonconforming", &[], &sid)).await?;
    assert_eq!(nc["state"], "Nonconforming");
    assert_eq!(nc["version"], 3);
    // Back to Activated with SC needs the key again.
    let nc_ovn = str_of(&nc["ovn"])?.to_owned();
    let resp =
        a.put(&oir_path_ovn(&oid, &nc_ovn), &oir_with_sub(&a, &[here()], "Activated", &[], &sid)).await?;
    let conflict = resp.want(409)?;
    assert_eq!(ids(&conflict["missing_operational_intents"]), vec![b_id.clone()]);
    let b_ovn = {
        // B's own view carries its OVN.
        let seen = b.get_oir(&b_id).await?;
        str_of(&seen["ovn"])?.to_owned()
    };
    let act = a.update_oir(&oid, &nc_ovn, &oir_with_sub(&a, &[here()], "Activated", &[&b_ovn], &sid)).await?;
    assert_eq!(act["state"], "Activated");
    // Activated to Ended is a DELETE with SC.
    a.delete(&oir_path_ovn(&oid, str_of(&act["ovn"])?)).await?.want(200)?;
    Ok(())
}

/// A Contingent intent can only be deleted: any update to another state is 400.
#[tokio::test]
async fn contingent_can_only_end() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let a = dss.client("uss-a", &[SC, CMSA]);
    let oid = id();
    let r = a.create_oir(&oid, &oir_new_sub(&a, &[here()], "Accepted", &[], false)).await?;
    let sid = str_of(&r["subscription_id"])?.to_owned();
    let r =
        a.update_oir(&oid, str_of(&r["ovn"])?, &oir_with_sub(&a, &[here()], "Activated", &[], &sid)).await?;
    let r =
        a.update_oir(&oid, str_of(&r["ovn"])?, &oir_with_sub(&a, &[here()], "Contingent", &[], &sid)).await?;
    assert_eq!(r["state"], "Contingent");
    let ovn = str_of(&r["ovn"])?.to_owned();
    for state in ["Accepted", "Activated", "Nonconforming"] {
        let resp = a.put(&oir_path_ovn(&oid, &ovn), &oir_with_sub(&a, &[here()], state, &[], &sid)).await?;
        assert_error(resp, 400, "Contingent")?;
    }
    assert_eq!(a.get_oir(&oid).await?, r);
    let body = a.delete(&oir_path_ovn(&oid, &ovn)).await?.want(200)?;
    assert_eq!(body["operational_intent_reference"]["state"], "Contingent");
    Ok(())
}

/// The SC + CP scope set and the CMSA-only set may both write intents; CMSA alone may read.
#[tokio::test]
async fn scope_sets_for_intents() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let sc_cp = dss.client("uss-a", &[SC, CP]);
    let cmsa = dss.client("uss-b", &[CMSA]);
    let cp = dss.client("uss-c", &[CP]);
    let a_id = id();
    sc_cp.create_oir(&a_id, &oir(&sc_cp, &[here()], "Accepted", &[])).await?;
    let b_id = id();
    cmsa.create_oir(&b_id, &oir(&cmsa, &[far()], "Accepted", &[])).await?;
    cmsa.get_oir(&a_id).await?;
    // CP alone is not enough to write an intent.
    let resp = cp.put(&oir_path(&id()), &oir(&cp, &[far()], "Accepted", &[])).await?;
    assert_error(resp, 403, "scope")?;
    Ok(())
}

/// An intent that ended is gone from queries; one far away is not found.
#[tokio::test]
async fn query_finds_only_intersecting_intents() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let a = dss.client("uss-a", &[SC]);
    let near = id();
    let away = id();
    a.create_oir(&near, &oir(&a, &[here()], "Accepted", &[])).await?;
    a.create_oir(&away, &oir(&a, &[far()], "Accepted", &[])).await?;
    let found = a.post(OIR_QUERY, &query(&here())).await?.want(200)?;
    assert_eq!(ids(&found["operational_intent_references"]), vec![near.clone()]);
    // A query volume with no altitudes or times is unbounded in those dimensions.
    let open = volume4d_at(&square(LAT + 0.05, LNG, 15000.0), None, None, None, None);
    let found = a.post(OIR_QUERY, &query(&open)).await?.want(200)?;
    assert_eq!(ids(&found["operational_intent_references"]), sorted(&[&near, &away]));
    // A query later in time than both finds nothing.
    let later = volume4d(&square(LAT, LNG, 1000.0), 0.0, 120.0, 100, 200);
    let found = a.post(OIR_QUERY, &query(&later)).await?.want(200)?;
    assert_eq!(found["operational_intent_references"], json!([]));
    Ok(())
}
