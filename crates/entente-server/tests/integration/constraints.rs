//! Constraint references: lifecycle, OVN rules, visibility and notifications (checklist 8, 38).

use serde_json::json;

use crate::harness::*;

/// Create is 201 with version 1 and an OVN; update is 200 with version + 1 and a new OVN;
/// delete is 200 with the prior reference, then GET is 404.
#[tokio::test]
async fn constraint_lifecycle() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let cm = dss.client("authority", &[CM]);
    let cid = id();
    let extents = [
        volume4d(&square(LAT, LNG, 1000.0), 0.0, 120.0, 20, 60),
        volume4d(&square(LAT, LNG + 0.01, 1000.0), 0.0, 120.0, 30, 90),
    ];
    let body = cm.put(&constraint_path(&cid), &constraint(&cm, &extents)).await?.want(201)?;
    assert_eq!(body["subscribers"], json!([]));
    let r1 = body["constraint_reference"].clone();
    assert_eq!(r1["id"], cid.as_str());
    assert_eq!(r1["manager"], "authority");
    assert_eq!(r1["version"], 1);
    assert_eq!(r1["uss_base_url"], cm.url());
    assert_eq!(r1["uss_availability"], "Unknown");
    assert!(r1.get("state").is_none() && r1.get("subscription_id").is_none(), "{r1}");
    assert_eq!(parse_time(&r1["time_start"])?, at(20));
    assert_eq!(parse_time(&r1["time_end"])?, at(90));
    let ovn1 = str_of(&r1["ovn"])?.to_owned();
    assert!((16..=128).contains(&ovn1.len()));
    let got = cm.get(&constraint_path(&cid)).await?.want(200)?;
    assert_eq!(got["constraint_reference"], r1);

    let body = cm.put(&constraint_path_ovn(&cid, &ovn1), &constraint(&cm, &[here()])).await?.want(200)?;
    let r2 = body["constraint_reference"].clone();
    assert_eq!(r2["version"], 2);
    let ovn2 = str_of(&r2["ovn"])?.to_owned();
    assert_ne!(ovn1, ovn2);

    // Stale OVN: update and delete are 409.
    cm.put(&constraint_path_ovn(&cid, &ovn1), &constraint(&cm, &[here()])).await?.want(409)?;
    cm.delete(&constraint_path_ovn(&cid, &ovn1)).await?.want(409)?;

    let body = cm.delete(&constraint_path_ovn(&cid, &ovn2)).await?.want(200)?;
    assert_eq!(body["constraint_reference"], r2);
    cm.get(&constraint_path(&cid)).await?.want(404)?;
    cm.delete(&constraint_path_ovn(&cid, &ovn2)).await?.want(404)?;
    Ok(())
}

/// Existing ids, unknown ids and other managers.
#[tokio::test]
async fn constraint_ownership_and_unknown_ids() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let cm = dss.client("authority", &[CM]);
    let other = dss.client("other-authority", &[CM]);
    let cid = id();
    let r = cm.create_constraint(&cid, &constraint(&cm, &[here()])).await?;
    let ovn = str_of(&r["ovn"])?;
    // Create again: 409 for the manager, 403 for another.
    cm.put(&constraint_path(&cid), &constraint(&cm, &[here()])).await?.want(409)?;
    other.put(&constraint_path(&cid), &constraint(&other, &[here()])).await?.want(403)?;
    // Another manager can neither update nor delete.
    assert_error(
        other.put(&constraint_path_ovn(&cid, ovn), &constraint(&other, &[far()])).await?,
        403,
        &cid,
    )?;
    other.delete(&constraint_path_ovn(&cid, ovn)).await?.want(403)?;
    let now = cm.get(&constraint_path(&cid)).await?.want(200)?;
    assert_eq!(now["constraint_reference"], r);
    // Unknown: update is 409, GET and DELETE 404.
    let unknown = id();
    cm.put(&constraint_path_ovn(&unknown, "aaaaaaaaaaaaaaaaaaaa"), &constraint(&cm, &[here()]))
        .await?
        .want(409)?;
    cm.get(&constraint_path(&unknown)).await?.want(404)?;
    cm.delete(&constraint_path_ovn(&unknown, "aaaaaaaaaaaaaaaaaaaa")).await?.want(404)?;
    Ok(())
}

/// CP may read and query but not write; others see no OVN.
#[tokio::test]
async fn constraint_visibility() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let cm = dss.client("authority", &[CM]);
    let cp = dss.client("uss-a", &[CP]);
    let cid = id();
    let r = cm.create_constraint(&cid, &constraint(&cm, &[here()])).await?;
    cm.create_constraint(&id(), &constraint(&cm, &[far()])).await?;
    let seen = cp.get(&constraint_path(&cid)).await?.want(200)?;
    assert!(seen["constraint_reference"].get("ovn").is_none(), "{seen}");
    assert_eq!(seen["constraint_reference"]["version"], 1);
    let found = cp.post(CONSTRAINT_QUERY, &query(&here())).await?.want(200)?;
    assert_eq!(ids(&found["constraint_references"]), vec![cid.clone()]);
    assert!(found["constraint_references"][0].get("ovn").is_none(), "{found}");
    let mine = cm.post(CONSTRAINT_QUERY, &query(&here())).await?.want(200)?;
    assert_eq!(mine["constraint_references"][0]["ovn"], r["ovn"]);
    assert_error(cp.put(&constraint_path(&id()), &constraint(&cp, &[here()])).await?, 403, "scope")?;
    Ok(())
}

/// Checklist 8 for constraints: the end may not be in the past; start must not follow end;
/// times are required.
#[tokio::test]
async fn constraint_time_rules() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let cm = dss.client("authority", &[CM]);
    let past = volume4d(&square(LAT, LNG, 1000.0), 0.0, 120.0, -120, -60);
    assert_error(cm.put(&constraint_path(&id()), &constraint(&cm, &[past])).await?, 400, "extents")?;
    let reversed = volume4d(&square(LAT, LNG, 1000.0), 0.0, 120.0, 60, 20);
    assert_error(cm.put(&constraint_path(&id()), &constraint(&cm, &[reversed])).await?, 400, "time_start")?;
    let no_end = volume4d_at(&square(LAT, LNG, 1000.0), None, None, Some(at(10)), None);
    assert_error(
        cm.put(&constraint_path(&id()), &constraint(&cm, &[no_end])).await?,
        400,
        "extents[0].time_end",
    )?;
    // Altitudes are optional for constraints.
    let open = volume4d_at(&square(LAT, LNG, 1000.0), None, None, Some(at(10)), Some(at(60)));
    cm.create_constraint(&id(), &constraint(&cm, &[open])).await?;
    let empty = constraint(&cm, &[]);
    assert_error(cm.put(&constraint_path(&id()), &empty).await?, 400, "extents")?;
    Ok(())
}

/// Checklist 38: constraint create, update and delete notify subscriptions with
/// notify_for_constraints (index + 1 each time), and not those only for intents.
#[tokio::test]
async fn constraint_changes_notify_constraint_subscribers() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let cm = dss.client("authority", &[CM]);
    let a = dss.client("uss-a", &[SC, CP]);
    let for_constraints = id();
    a.create_sub(&for_constraints, &subscription(&a, &sub_here(), false, true)).await?;
    let for_intents = id();
    a.create_sub(&for_intents, &subscription(&a, &sub_here(), true, false)).await?;
    let elsewhere = id();
    a.create_sub(
        &elsewhere,
        &subscription(&a, &volume4d(&square(LAT + 0.1, LNG, 3000.0), 0.0, 3000.0, 0, 240), false, true),
    )
    .await?;

    let cid = id();
    let body = cm.put(&constraint_path(&cid), &constraint(&cm, &[here()])).await?.want(201)?;
    assert_eq!(notified(&body), vec![(a.url(), for_constraints.clone(), 1)]);
    let ovn = str_of(&body["constraint_reference"]["ovn"])?.to_owned();
    let body = cm.put(&constraint_path_ovn(&cid, &ovn), &constraint(&cm, &[here()])).await?.want(200)?;
    assert_eq!(notified(&body), vec![(a.url(), for_constraints.clone(), 2)]);
    let ovn = str_of(&body["constraint_reference"]["ovn"])?.to_owned();
    let body = cm.delete(&constraint_path_ovn(&cid, &ovn)).await?.want(200)?;
    assert_eq!(notified(&body), vec![(a.url(), for_constraints.clone(), 3)]);

    assert_eq!(a.get_sub(&for_constraints).await?["notification_index"], 3);
    assert_eq!(a.get_sub(&for_intents).await?["notification_index"], 0);
    assert_eq!(a.get_sub(&elsewhere).await?["notification_index"], 0);
    Ok(())
}

/// A constraint update that moves away still notifies the subscribers of the old area.
#[tokio::test]
async fn constraint_update_notifies_old_and_new_areas() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let cm = dss.client("authority", &[CM]);
    let a = dss.client("uss-a", &[CP]);
    let old_area = id();
    a.create_sub(&old_area, &subscription(&a, &sub_here(), false, true)).await?;
    let new_area = id();
    a.create_sub(
        &new_area,
        &subscription(&a, &volume4d(&square(LAT + 0.1, LNG, 3000.0), 0.0, 3000.0, 0, 240), false, true),
    )
    .await?;
    let cid = id();
    let r = cm.create_constraint(&cid, &constraint(&cm, &[here()])).await?;
    let body = cm
        .put(&constraint_path_ovn(&cid, str_of(&r["ovn"])?), &constraint(&cm, &[far()]))
        .await?
        .want(200)?;
    assert_eq!(index_for(&body, &old_area), Some(2));
    assert_eq!(index_for(&body, &new_area), Some(1));
    Ok(())
}
