//! The key check: which intersecting entities' OVNs a plan must prove it knows (checklist 22-29).

use serde_json::json;

use crate::harness::*;

/// Checklist 22 and 23: planning over another intent without its OVN is 409 naming it (its OVN
/// hidden); with the OVN the same request is 201.
#[tokio::test]
async fn conflict_without_the_ovn_then_success_with_it() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let a = dss.client("uss-a", &[SC]);
    let b = dss.client("uss-b", &[SC]);
    let a_id = id();
    let ra = a.create_oir(&a_id, &oir(&a, &[here()], "Accepted", &[])).await?;
    let a_ovn = str_of(&ra["ovn"])?.to_owned();

    let b_id = id();
    let body = b.put(&oir_path(&b_id), &oir(&b, &[here()], "Accepted", &[])).await?.want(409)?;
    message(&body)?;
    let missing = &body["missing_operational_intents"];
    assert_eq!(ids(missing), vec![a_id.clone()]);
    assert!(missing[0].get("ovn").is_none(), "the conflict shows A's OVN to B: {body}");
    assert_eq!(missing[0]["manager"], "uss-a");
    assert_eq!(missing[0]["uss_base_url"], a.url());
    assert_eq!(missing[0]["version"], 1);
    assert_eq!(body["missing_constraints"], json!([]));
    b.get(&oir_path(&b_id)).await?.want(404)?;

    b.create_oir(&b_id, &oir(&b, &[here()], "Accepted", &[&a_ovn])).await?;
    Ok(())
}

#[tokio::test]
async fn airspace_conflict_snapshot() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let a = dss.client("uss-a", &[SC]);
    let b = dss.client("uss-b", &[SC]);
    a.create_oir(&id(), &oir(&a, &[here()], "Accepted", &[])).await?;
    let body = b.put(&oir_path(&id()), &oir(&b, &[here()], "Accepted", &[])).await?.want(409)?;
    insta::assert_json_snapshot!(body, {
        ".missing_operational_intents[].id" => "[id]",
        ".missing_operational_intents[].time_start.value" => "[time]",
        ".missing_operational_intents[].time_end.value" => "[time]",
    });
    Ok(())
}

/// Checklist 24: overlap in only some dimensions needs no key.
#[tokio::test]
async fn no_key_needed_without_4d_overlap() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let a = dss.client("uss-a", &[SC]);
    let b = dss.client("uss-b", &[SC]);
    a.create_oir(
        &id(),
        &oir(&a, &[volume4d(&square(LAT, LNG, 1000.0), 0.0, 120.0, 10, 70)], "Accepted", &[]),
    )
    .await?;
    let cases = [
        ("later in time", volume4d(&square(LAT, LNG, 1000.0), 0.0, 120.0, 71, 130)),
        ("earlier in time", volume4d(&square(LAT, LNG, 1000.0), 0.0, 120.0, 1, 9)),
        ("higher", volume4d(&square(LAT, LNG, 1000.0), 121.0, 300.0, 10, 70)),
        ("elsewhere", far()),
        ("next door", volume4d(&square(LAT, LNG + 0.02, 1000.0), 0.0, 120.0, 10, 70)),
    ];
    for (what, extent) in cases {
        let resp = b.put(&oir_path(&id()), &oir(&b, &[extent], "Accepted", &[])).await?;
        assert_eq!(resp.0.as_u16(), 201, "{what}: {}", resp.1);
    }
    Ok(())
}

/// Bounds are inclusive: touching in time or altitude is an intersection.
#[tokio::test]
async fn touching_bounds_intersect() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let a = dss.client("uss-a", &[SC]);
    let b = dss.client("uss-b", &[SC]);
    let a_id = id();
    a.create_oir(
        &a_id,
        &oir(&a, &[volume4d(&square(LAT, LNG, 1000.0), 0.0, 120.0, 10, 70)], "Accepted", &[]),
    )
    .await?;
    let cases = [
        ("starting when A ends", volume4d(&square(LAT, LNG, 1000.0), 0.0, 120.0, 70, 100)),
        ("ending when A starts", volume4d(&square(LAT, LNG, 1000.0), 0.0, 120.0, 5, 10)),
        ("floor at A's ceiling", volume4d(&square(LAT, LNG, 1000.0), 120.0, 200.0, 10, 70)),
    ];
    for (what, extent) in cases {
        let resp = b.put(&oir_path(&id()), &oir(&b, &[extent], "Accepted", &[])).await?;
        assert_eq!(resp.0.as_u16(), 409, "{what}: {}", resp.1);
        assert_eq!(ids(&resp.1["missing_operational_intents"]), vec![a_id.clone()], "{what}");
    }
    Ok(())
}

/// Checklist 25: an update overlapping two intents while naming only one OVN lists exactly the other.
#[tokio::test]
async fn update_lists_exactly_the_missing_one() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let a = dss.client("uss-a", &[SC]);
    let b = dss.client("uss-b", &[SC]);
    let c = dss.client("uss-c", &[SC]);
    let west = volume4d(&square(LAT, LNG - 0.01, 1000.0), 0.0, 120.0, 10, 70);
    let east = volume4d(&square(LAT, LNG + 0.01, 1000.0), 0.0, 120.0, 10, 70);
    let a_id = id();
    let ra = a.create_oir(&a_id, &oir(&a, std::slice::from_ref(&west), "Accepted", &[])).await?;
    let b_id = id();
    b.create_oir(&b_id, &oir(&b, std::slice::from_ref(&east), "Accepted", &[])).await?;
    // C starts far away, then moves over both A and B knowing only A's OVN.
    let c_id = id();
    let rc = c.create_oir(&c_id, &oir(&c, &[far()], "Accepted", &[])).await?;
    let a_ovn = str_of(&ra["ovn"])?;
    let resp = c
        .put(
            &oir_path_ovn(&c_id, str_of(&rc["ovn"])?),
            &oir(&c, &[west.clone(), east.clone()], "Accepted", &[a_ovn]),
        )
        .await?;
    let body = resp.want(409)?;
    assert_eq!(ids(&body["missing_operational_intents"]), vec![b_id.clone()]);
    // Without any key, both are listed.
    let resp =
        c.put(&oir_path_ovn(&c_id, str_of(&rc["ovn"])?), &oir(&c, &[west, east], "Accepted", &[])).await?;
    let body = resp.want(409)?;
    assert_eq!(ids(&body["missing_operational_intents"]), sorted(&[&a_id, &b_id]));
    // The failed updates changed nothing.
    assert_eq!(c.get_oir(&c_id).await?, rc);
    Ok(())
}

/// Checklist 26: an intent's own OVN is never needed; the same manager's other intents are.
#[tokio::test]
async fn own_ovn_not_needed_but_own_other_intents_are() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let a = dss.client("uss-a", &[SC]);
    let first = id();
    let r1 = a.create_oir(&first, &oir(&a, &[here()], "Accepted", &[])).await?;
    // Updating itself in place with an empty key.
    let r1 = a.update_oir(&first, str_of(&r1["ovn"])?, &oir(&a, &[here()], "Accepted", &[])).await?;
    assert_eq!(r1["version"], 2);
    // A second intent of the same USS over the first needs the first's OVN, which it may see.
    let second = id();
    let body = a.put(&oir_path(&second), &oir(&a, &[here()], "Accepted", &[])).await?.want(409)?;
    assert_eq!(ids(&body["missing_operational_intents"]), vec![first.clone()]);
    assert_eq!(body["missing_operational_intents"][0]["ovn"], r1["ovn"]);
    a.create_oir(&second, &oir(&a, &[here()], "Accepted", &[str_of(&r1["ovn"])?])).await?;
    Ok(())
}

/// A stale OVN in the key counts as missing; extra unrelated OVNs are ignored.
#[tokio::test]
async fn stale_key_entries_are_missing_and_extra_ones_ignored() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let a = dss.client("uss-a", &[SC]);
    let b = dss.client("uss-b", &[SC]);
    let a_id = id();
    let r1 = a.create_oir(&a_id, &oir(&a, &[here()], "Accepted", &[])).await?;
    let old = str_of(&r1["ovn"])?.to_owned();
    let r2 = a.update_oir(&a_id, &old, &oir(&a, &[here()], "Accepted", &[])).await?;
    let current = str_of(&r2["ovn"])?.to_owned();
    let body = b.put(&oir_path(&id()), &oir(&b, &[here()], "Accepted", &[&old])).await?.want(409)?;
    assert_eq!(ids(&body["missing_operational_intents"]), vec![a_id.clone()]);
    let extra = "zzzzzzzzzzzzzzzzzzzzzzzz";
    b.create_oir(&id(), &oir(&b, &[here()], "Accepted", &[extra, &current, &old])).await?;
    // Extra OVNs in empty airspace are harmless too.
    b.create_oir(&id(), &oir(&b, &[far()], "Accepted", &[extra])).await?;
    Ok(())
}

/// Checklist 27: a constraint's OVN is required only when the intent's subscription notifies
/// for constraints.
#[tokio::test]
async fn constraints_in_the_key_only_with_constraint_processing() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let authority = dss.client("authority", &[CM]);
    let a = dss.client("uss-a", &[SC, CP]);
    authority.create_constraint(&id(), &constraint(&authority, &[here()])).await?;

    // No subscription, or one without notify_for_constraints: the constraint is not checked.
    a.create_oir(&id(), &oir(&a, &[here()], "Accepted", &[])).await?;
    // (Each intent below is in its own time slot so the intents do not conflict with each other.)
    let slot = |k: i64| volume4d(&square(LAT, LNG, 1000.0), 0.0, 120.0, 100 + 30 * k, 120 + 30 * k);
    let long_constraint = volume4d(&square(LAT, LNG, 1000.0), 0.0, 120.0, 90, 300);
    let c2_id = id();
    let rc2 = authority.create_constraint(&c2_id, &constraint(&authority, &[long_constraint])).await?;
    let c2_ovn = str_of(&rc2["ovn"])?.to_owned();
    a.create_oir(&id(), &oir_new_sub(&a, &[slot(0)], "Accepted", &[], false)).await?;

    // With notify_for_constraints, the constraint's OVN is needed.
    let oid = id();
    let body =
        a.put(&oir_path(&oid), &oir_new_sub(&a, &[slot(1)], "Accepted", &[], true)).await?.want(409)?;
    assert_eq!(body["missing_operational_intents"], json!([]));
    let missing = &body["missing_constraints"];
    assert_eq!(ids(missing), vec![c2_id.clone()]);
    assert!(missing[0].get("ovn").is_none(), "the conflict shows the constraint's OVN: {body}");
    assert_eq!(missing[0]["manager"], "authority");
    a.create_oir(&oid, &oir_new_sub(&a, &[slot(1)], "Accepted", &[&c2_ovn], true)).await?;

    // The same through an explicit subscription with notify_for_constraints.
    let sid = id();
    let sub_extent = volume4d(&square(LAT, LNG, 3000.0), 0.0, 3000.0, 0, 600);
    a.create_sub(&sid, &subscription(&a, &sub_extent, true, true)).await?;
    let body =
        a.put(&oir_path(&id()), &oir_with_sub(&a, &[slot(2)], "Accepted", &[], &sid)).await?.want(409)?;
    assert_eq!(ids(&body["missing_constraints"]), vec![c2_id.clone()]);
    a.create_oir(&id(), &oir_with_sub(&a, &[slot(2)], "Accepted", &[&c2_ovn], &sid)).await?;
    Ok(())
}

/// Checklist 28: an Accepted intent of a Down USS needs no key entry; an Activated one still does.
#[tokio::test]
async fn down_uss_accepted_intents_are_exempt_activated_ones_are_not() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let arbiter = dss.client("arbiter", &[AA]);
    let b = dss.client("uss-b", &[SC]);
    let c = dss.client("uss-c", &[SC]);
    let d = dss.client("uss-d", &[SC]);
    let early = volume4d(&square(LAT, LNG, 1000.0), 0.0, 120.0, 10, 40);
    let late = volume4d(&square(LAT, LNG, 1000.0), 0.0, 120.0, 50, 80);
    let accepted = id();
    b.create_oir(&accepted, &oir(&b, std::slice::from_ref(&early), "Accepted", &[])).await?;
    let activated = id();
    let r = b
        .create_oir(&activated, &oir_new_sub(&b, std::slice::from_ref(&late), "Accepted", &[], false))
        .await?;
    let sid = str_of(&r["subscription_id"])?.to_owned();
    b.update_oir(
        &activated,
        str_of(&r["ovn"])?,
        &oir_with_sub(&b, std::slice::from_ref(&late), "Activated", &[], &sid),
    )
    .await?;

    arbiter.set_availability("uss-b", "", "Down").await?;
    assert_eq!(c.get_oir(&accepted).await?["uss_availability"], "Down");

    // Over the Accepted one only: no key needed.
    c.create_oir(&id(), &oir(&c, std::slice::from_ref(&early), "Accepted", &[])).await?;
    // Over the Activated one: still needed, and only that one is listed.
    let both = volume4d(&square(LAT, LNG, 1000.0), 0.0, 120.0, 10, 80);
    let body = d.put(&oir_path(&id()), &oir(&d, &[both], "Accepted", &[])).await?.want(409)?;
    let missing = ids(&body["missing_operational_intents"]);
    assert!(missing.contains(&activated), "{body}");
    assert!(!missing.contains(&accepted), "{body}");
    let listed = body["missing_operational_intents"]
        .as_array()
        .and_then(|l| l.iter().find(|r| r["id"] == activated.as_str()))
        .cloned()
        .unwrap_or_default();
    assert_eq!(listed["uss_availability"], "Down", "{body}");
    assert_eq!(listed["state"], "Activated", "{body}");
    Ok(())
}

/// While B is not Down (Unknown or Normal), its Accepted intents are required as usual.
#[tokio::test]
async fn normal_uss_accepted_intents_are_required() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let arbiter = dss.client("arbiter", &[AA]);
    let b = dss.client("uss-b", &[SC]);
    let c = dss.client("uss-c", &[SC]);
    let b_id = id();
    b.create_oir(&b_id, &oir(&b, &[here()], "Accepted", &[])).await?;
    let v = arbiter.set_availability("uss-b", "", "Down").await?;
    arbiter.set_availability("uss-b", &v, "Normal").await?;
    let body = c.put(&oir_path(&id()), &oir(&c, &[here()], "Accepted", &[])).await?.want(409)?;
    assert_eq!(ids(&body["missing_operational_intents"]), vec![b_id]);
    assert_eq!(body["missing_operational_intents"][0]["uss_availability"], "Normal");
    Ok(())
}

/// Checklist 29: a Down USS gets 412 for Accepted/Activated writes and deletes, but may still
/// move an intent to Nonconforming with CMSA.
#[tokio::test]
async fn down_uss_is_412_except_off_nominal() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let arbiter = dss.client("arbiter", &[AA]);
    let a = dss.client("uss-a", &[SC]);
    let a_cmsa = dss.client("uss-a", &[SC, CMSA]);
    let oid = id();
    let r = a.create_oir(&oid, &oir_new_sub(&a, &[here()], "Accepted", &[], false)).await?;
    let sid = str_of(&r["subscription_id"])?.to_owned();
    let ovn = str_of(&r["ovn"])?.to_owned();
    arbiter.set_availability("uss-a", "", "Down").await?;

    let resp = a.put(&oir_path(&id()), &oir(&a, &[far()], "Accepted", &[])).await?;
    assert_eq!(resp.0.as_u16(), 412, "create while Down: {}", resp.1);
    message(&resp.1)?;
    let resp = a.put(&oir_path_ovn(&oid, &ovn), &oir_with_sub(&a, &[here()], "Activated", &[], &sid)).await?;
    assert_eq!(resp.0.as_u16(), 412, "activate while Down: {}", resp.1);
    let resp = a.put(&oir_path_ovn(&oid, &ovn), &oir_with_sub(&a, &[here()], "Accepted", &[], &sid)).await?;
    assert_eq!(resp.0.as_u16(), 412, "stay Accepted while Down: {}", resp.1);
    let resp = a.delete(&oir_path_ovn(&oid, &ovn)).await?;
    assert_eq!(resp.0.as_u16(), 412, "delete while Down: {}", resp.1);
    assert_eq!(a.get_oir(&oid).await?["version"], 1);

    let nc = a_cmsa.update_oir(&oid, &ovn, &oir_with_sub(&a, &[here()], "Nonconforming", &[], &sid)).await?;
    assert_eq!(nc["state"], "Nonconforming");
    assert_eq!(nc["uss_availability"], "Down");
    Ok(())
}

/// Eight USSs racing to plan the same empty airspace: exactly one wins.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_conflicting_creates_admit_exactly_one() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..8 {
        let c = dss.client(&format!("uss-{i}"), &[SC]);
        // Mutually intersecting: the same centre, different sizes.
        let extent = volume4d(&square(LAT, LNG, 500.0 + 100.0 * f64::from(i)), 0.0, 120.0, 10, 70);
        tasks.spawn(async move {
            let oid = id();
            let resp = c.put(&oir_path(&oid), &oir(&c, &[extent], "Accepted", &[])).await;
            (oid, resp)
        });
    }
    let mut created = Vec::new();
    let mut conflicts = 0;
    while let Some(joined) = tasks.join_next().await {
        let (oid, resp) = joined?;
        let (status, body) = resp?;
        match status.as_u16() {
            201 => created.push(oid),
            409 => {
                assert_eq!(body["missing_operational_intents"].as_array().map(Vec::len), Some(1), "{body}");
                conflicts += 1;
            }
            other => anyhow::bail!("unexpected {other}: {body}"),
        }
    }
    assert_eq!(created.len(), 1, "created: {created:?}");
    assert_eq!(conflicts, 7);
    let reader = dss.client("reader", &[SC]);
    let found = reader.post(OIR_QUERY, &query(&here())).await?.want(200)?;
    assert_eq!(ids(&found["operational_intent_references"]), created);
    Ok(())
}

/// Circles and polygons are compared exactly, not by bounding boxes.
#[tokio::test]
async fn circles_and_polygons_intersect_exactly() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let a = dss.client("uss-a", &[SC]);
    let b = dss.client("uss-b", &[SC]);
    let a_id = id();
    a.create_oir(&a_id, &oir(&a, &[volume4d(&circle(LAT, LNG, 500.0), 0.0, 120.0, 10, 70)], "Accepted", &[]))
        .await?;
    // A square overlapping the circle's edge conflicts.
    let overlapping = volume4d(&square(LAT, LNG + 0.008, 600.0), 0.0, 120.0, 10, 70);
    let body = b.put(&oir_path(&id()), &oir(&b, &[overlapping], "Accepted", &[])).await?.want(409)?;
    assert_eq!(ids(&body["missing_operational_intents"]), vec![a_id.clone()]);
    // A square in the corner of the circle's bounding box, outside the circle, does not.
    let d = 460.0 / 111_320.0;
    let corner = volume4d(&square(LAT + d, LNG + d / LAT.to_radians().cos(), 100.0), 0.0, 120.0, 10, 70);
    b.create_oir(&id(), &oir(&b, &[corner], "Accepted", &[])).await?;
    Ok(())
}
