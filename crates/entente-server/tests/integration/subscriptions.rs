//! Subscriptions, notification fan-out and implicit subscriptions (checklist 30-47).

use chrono::Duration;
use entente_dss::{Clock, SystemClock};
use entente_wire::scd::PutSubscriptionParameters;
use serde_json::json;

use crate::harness::*;

/// Checklist 30: create is 200 with index 0, the flags echoed, not implicit, and a version.
#[tokio::test]
async fn create_subscription() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let a = dss.client("uss-a", &[SC, CP]);
    let sid = id();
    let body = a.put(&sub_path(&sid), &subscription(&a, &sub_here(), true, true)).await?.want(200)?;
    let s = &body["subscription"];
    assert_eq!(s["id"], sid.as_str());
    assert_eq!(s["notification_index"], 0);
    assert_eq!(s["notify_for_operational_intents"], true);
    assert_eq!(s["notify_for_constraints"], true);
    assert_eq!(s["implicit_subscription"], false);
    assert_eq!(s["uss_base_url"], a.url());
    assert_eq!(s["dependent_operational_intents"], json!([]));
    assert!(!str_of(&s["version"])?.is_empty());
    assert_eq!(parse_time(&s["time_start"])?, at(0));
    assert_eq!(parse_time(&s["time_end"])?, at(240));
    assert_eq!(body["operational_intent_references"], json!([]));
    assert_eq!(body["constraint_references"], json!([]));
    assert_eq!(&a.get_sub(&sid).await?, s);
    Ok(())
}

#[tokio::test]
async fn subscription_put_snapshot() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let a = dss.client("uss-a", &[SC]);
    let b = dss.client("uss-b", &[SC]);
    b.create_oir(&id(), &oir(&b, &[here()], "Accepted", &[])).await?;
    let body = a.put(&sub_path(&id()), &subscription(&a, &sub_here(), true, false)).await?.want(200)?;
    insta::assert_json_snapshot!(body, {
        ".subscription.id" => "[id]",
        ".subscription.version" => "[version]",
        ".subscription.time_start.value" => "[time]",
        ".subscription.time_end.value" => "[time]",
        ".operational_intent_references[].id" => "[id]",
        ".operational_intent_references[].time_start.value" => "[time]",
        ".operational_intent_references[].time_end.value" => "[time]",
    });
    Ok(())
}

/// Checklist 31: at least one notify flag.
#[tokio::test]
async fn both_flags_false_is_400() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let a = dss.client("uss-a", &[SC, CP]);
    let sid = id();
    assert_error(
        a.put(&sub_path(&sid), &subscription(&a, &sub_here(), false, false)).await?,
        400,
        "notify_for",
    )?;
    // Omitted flags default to false.
    let bare = wire(PutSubscriptionParameters {
        extents: from_wire(&sub_here()),
        uss_base_url: a.url(),
        notify_for_operational_intents: None,
        notify_for_constraints: None,
    });
    assert_error(a.put(&sub_path(&sid), &bare).await?, 400, "notify_for")?;
    a.get(&sub_path(&sid)).await?.want(404)?;
    Ok(())
}

/// Each notify flag needs its scope: intents SC, constraints CP.
#[tokio::test]
async fn notify_flags_need_their_scopes() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let sc = dss.client("uss-a", &[SC]);
    let cp = dss.client("uss-a", &[CP]);
    assert_error(cp.put(&sub_path(&id()), &subscription(&cp, &sub_here(), true, false)).await?, 403, SC)?;
    assert_error(sc.put(&sub_path(&id()), &subscription(&sc, &sub_here(), false, true)).await?, 403, CP)?;
    assert_error(sc.put(&sub_path(&id()), &subscription(&sc, &sub_here(), true, true)).await?, 403, CP)?;
    let found = sc.post(SUB_QUERY, &query(&sub_here())).await?.want(200)?;
    assert_eq!(found["subscriptions"], json!([]));
    sc.create_sub(&id(), &subscription(&sc, &sub_here(), true, false)).await?;
    cp.create_sub(&id(), &subscription(&cp, &sub_here(), false, true)).await?;
    // An implicit subscription that notifies for constraints needs CP as well.
    let resp = sc.put(&oir_path(&id()), &oir_new_sub(&sc, &[here()], "Accepted", &[], true)).await?;
    assert_error(resp, 403, CP)?;
    Ok(())
}

/// Checklist 32 and 33: at most 24 h, start at most 5 min in the past, end defaulted to start + 24 h.
#[tokio::test]
async fn subscription_time_limits() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let a = dss.client("uss-a", &[SC]);
    let area = square(LAT, LNG, 3000.0);
    let too_long = volume4d(&area, 0.0, 3000.0, 10, 10 + 24 * 60 + 1);
    assert_error(a.put(&sub_path(&id()), &subscription(&a, &too_long, true, false)).await?, 400, "extents")?;
    let too_old = volume4d(&area, 0.0, 3000.0, -10, 60);
    assert_error(
        a.put(&sub_path(&id()), &subscription(&a, &too_old, true, false)).await?,
        400,
        "time_start",
    )?;
    let reversed = volume4d(&area, 0.0, 3000.0, 60, 10);
    assert_error(
        a.put(&sub_path(&id()), &subscription(&a, &reversed, true, false)).await?,
        400,
        "time_start",
    )?;
    let ended = volume4d_at(
        &area,
        None,
        None,
        Some(SystemClock.now() - Duration::minutes(3)),
        Some(SystemClock.now() - Duration::minutes(1)),
    );
    assert_error(a.put(&sub_path(&id()), &subscription(&a, &ended, true, false)).await?, 400, "time_end")?;

    // Exactly 24 h is fine.
    a.create_sub(&id(), &subscription(&a, &volume4d(&area, 0.0, 3000.0, 10, 10 + 24 * 60), true, false))
        .await?;
    // No end: start + 24 h.
    let sid = id();
    let open_end = volume4d_at(&area, None, None, Some(at(30)), None);
    let s = a.create_sub(&sid, &subscription(&a, &open_end, true, false)).await?;
    assert_eq!(parse_time(&s["time_start"])?, at(30));
    assert_eq!(parse_time(&s["time_end"])?, at(30 + 24 * 60));
    // No times at all: from about now for 24 h.
    let before = SystemClock.now() - Duration::seconds(1);
    let s = a
        .create_sub(&id(), &subscription(&a, &volume4d_at(&area, None, None, None, None), true, false))
        .await?;
    let start = parse_time(&s["time_start"])?;
    assert!(start >= before && start <= SystemClock.now() + Duration::seconds(1), "start {start}");
    assert_eq!(parse_time(&s["time_end"])? - start, Duration::hours(24));

    // Extending an existing subscription past 24 h is 400 too, and changes nothing.
    let version = str_of(&s["version"])?.to_owned();
    let sid2 = str_of(&s["id"])?.to_owned();
    let longer = volume4d_at(&area, None, None, None, Some(start + Duration::hours(25)));
    assert_error(
        a.put(&sub_path_version(&sid2, &version), &subscription(&a, &longer, true, false)).await?,
        400,
        "extents",
    )?;
    assert_eq!(a.get_sub(&sid2).await?, s);
    Ok(())
}

/// Checklist 34: existing ids, stale versions, other owners, unknown ids.
#[tokio::test]
async fn subscription_versions_and_owners() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let a = dss.client("uss-a", &[SC]);
    let b = dss.client("uss-b", &[SC]);
    let sid = id();
    let s1 = a.create_sub(&sid, &subscription(&a, &sub_here(), true, false)).await?;
    let v1 = str_of(&s1["version"])?.to_owned();
    a.put(&sub_path(&sid), &subscription(&a, &sub_here(), true, false)).await?.want(409)?;
    b.put(&sub_path(&sid), &subscription(&b, &sub_here(), true, false)).await?.want(409)?;

    let s2 =
        a.put(&sub_path_version(&sid, &v1), &subscription(&a, &sub_here(), true, false)).await?.want(200)?;
    let v2 = str_of(&s2["subscription"]["version"])?.to_owned();
    assert_ne!(v1, v2, "an update must change the version");
    a.put(&sub_path_version(&sid, &v1), &subscription(&a, &sub_here(), true, false)).await?.want(409)?;
    a.delete(&sub_path_version(&sid, &v1)).await?.want(409)?;

    // Another USS can neither read, update nor delete it.
    assert_error(b.get(&sub_path(&sid)).await?, 403, &sid)?;
    b.put(&sub_path_version(&sid, &v2), &subscription(&b, &far(), true, false)).await?.want(403)?;
    b.delete(&sub_path_version(&sid, &v2)).await?.want(403)?;
    assert_eq!(a.get_sub(&sid).await?, s2["subscription"]);

    // Unknown: update 400, GET and DELETE 404.
    let unknown = id();
    a.put(&sub_path_version(&unknown, &v2), &subscription(&a, &sub_here(), true, false)).await?.want(400)?;
    a.get(&sub_path(&unknown)).await?.want(404)?;
    a.delete(&sub_path_version(&unknown, &v2)).await?.want(404)?;

    let deleted = a.delete(&sub_path_version(&sid, &v2)).await?.want(200)?;
    assert_eq!(deleted["subscription"]["id"], sid.as_str());
    a.get(&sub_path(&sid)).await?.want(404)?;
    Ok(())
}

/// Checklist 35: the version changes on an update but not when a notification bumps the index.
#[tokio::test]
async fn version_ignores_notification_index_bumps() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let a = dss.client("uss-a", &[SC]);
    let b = dss.client("uss-b", &[SC]);
    let sid = id();
    let s = a.create_sub(&sid, &subscription(&a, &sub_here(), true, false)).await?;
    let v1 = str_of(&s["version"])?.to_owned();
    b.create_oir(&id(), &oir(&b, &[here()], "Accepted", &[])).await?;
    let s = a.get_sub(&sid).await?;
    assert_eq!(s["notification_index"], 1);
    assert_eq!(s["version"], v1.as_str());
    let s =
        a.put(&sub_path_version(&sid, &v1), &subscription(&a, &sub_here(), true, false)).await?.want(200)?;
    assert_ne!(s["subscription"]["version"], v1.as_str());
    assert_eq!(s["subscription"]["notification_index"], 1, "an update keeps the index");
    Ok(())
}

/// Checklist 36: the PUT response lists intersecting intents (notify_for_operational_intents)
/// and constraints (notify_for_constraints), with other USSs' OVNs hidden.
#[tokio::test]
async fn put_response_lists_current_entities() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let a = dss.client("uss-a", &[SC, CP]);
    let b = dss.client("uss-b", &[SC]);
    let cm = dss.client("authority", &[CM]);
    let mine = id();
    let rm = a
        .create_oir(
            &mine,
            &oir(&a, &[volume4d(&square(LAT, LNG, 500.0), 0.0, 120.0, 100, 130)], "Accepted", &[]),
        )
        .await?;
    let theirs = id();
    b.create_oir(&theirs, &oir(&b, &[here()], "Accepted", &[])).await?;
    b.create_oir(&id(), &oir(&b, &[far()], "Accepted", &[])).await?;
    let cid = id();
    cm.create_constraint(&cid, &constraint(&cm, &[here()])).await?;
    cm.create_constraint(&id(), &constraint(&cm, &[far()])).await?;

    let body = a.put(&sub_path(&id()), &subscription(&a, &sub_here(), true, true)).await?.want(200)?;
    let refs = &body["operational_intent_references"];
    assert_eq!(ids(refs), sorted(&[&mine, &theirs]));
    for r in refs.as_array().into_iter().flatten() {
        if r["id"] == theirs.as_str() {
            assert!(r.get("ovn").is_none(), "B's OVN shown to A: {r}");
        } else {
            assert_eq!(r["ovn"], rm["ovn"]);
        }
    }
    assert_eq!(ids(&body["constraint_references"]), vec![cid.clone()]);
    assert!(body["constraint_references"][0].get("ovn").is_none(), "{body}");

    // Only intents asked for: constraints are not listed.
    let body = a.put(&sub_path(&id()), &subscription(&a, &sub_here(), true, false)).await?.want(200)?;
    assert_eq!(ids(&body["operational_intent_references"]), sorted(&[&mine, &theirs]));
    assert!(ids(&body["constraint_references"]).is_empty(), "{body}");
    // Only constraints asked for: intents are not listed.
    let body = a.put(&sub_path(&id()), &subscription(&a, &sub_here(), false, true)).await?.want(200)?;
    assert_eq!(ids(&body["constraint_references"]), vec![cid]);
    assert!(ids(&body["operational_intent_references"]).is_empty(), "{body}");
    Ok(())
}

/// Checklist 37: intent create, update and delete notify every intersecting subscription for
/// intents, the caller's own included, grouped by base URL, index + 1 each time.
#[tokio::test]
async fn intent_changes_notify_subscribers() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let a = dss.client("uss-a", &[SC]);
    let b = dss.client("uss-b", &[SC, CP]);
    let b1 = id();
    b.create_sub(&b1, &subscription(&b, &sub_here(), true, false)).await?;
    let b2 = id();
    b.create_sub(&b2, &subscription(&b, &sub_here(), true, true)).await?;
    let b_constraints_only = id();
    b.create_sub(&b_constraints_only, &subscription(&b, &sub_here(), false, true)).await?;
    let b_far = id();
    b.create_sub(
        &b_far,
        &subscription(&b, &volume4d(&square(LAT + 0.1, LNG, 3000.0), 0.0, 3000.0, 0, 240), true, false),
    )
    .await?;
    let a_own = id();
    a.create_sub(&a_own, &subscription(&a, &sub_here(), true, false)).await?;

    let oid = id();
    let body =
        a.put(&oir_path(&oid), &oir_with_sub(&a, &[here()], "Accepted", &[], &a_own)).await?.want(201)?;
    let mut expected = vec![(a.url(), a_own.clone(), 1), (b.url(), b1.clone(), 1), (b.url(), b2.clone(), 1)];
    expected.sort();
    assert_eq!(notified(&body), expected);
    // Grouped: one entry per base URL.
    let subscribers = body["subscribers"].as_array().cloned().unwrap_or_default();
    assert_eq!(subscribers.len(), 2, "{body}");
    let b_entry =
        subscribers.iter().find(|s| s["uss_base_url"] == b.url().as_str()).cloned().unwrap_or_default();
    assert_eq!(b_entry["subscriptions"].as_array().map(Vec::len), Some(2), "{body}");

    let ovn = str_of(&body["operational_intent_reference"]["ovn"])?.to_owned();
    let body = a
        .put(&oir_path_ovn(&oid, &ovn), &oir_with_sub(&a, &[here()], "Activated", &[], &a_own))
        .await?
        .want(200)?;
    let expected: Vec<_> = expected.into_iter().map(|(u, s, _)| (u, s, 2)).collect();
    assert_eq!(notified(&body), expected);

    let ovn = str_of(&body["operational_intent_reference"]["ovn"])?.to_owned();
    let body = a.delete(&oir_path_ovn(&oid, &ovn)).await?.want(200)?;
    let expected: Vec<_> = expected.into_iter().map(|(u, s, _)| (u, s, 3)).collect();
    assert_eq!(notified(&body), expected);

    assert_eq!(b.get_sub(&b1).await?["notification_index"], 3);
    assert_eq!(b.get_sub(&b_constraints_only).await?["notification_index"], 0);
    assert_eq!(b.get_sub(&b_far).await?["notification_index"], 0);
    Ok(())
}

/// An intent update notifies subscribers of the old area as well as the new one.
#[tokio::test]
async fn intent_update_notifies_old_and_new_areas() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let a = dss.client("uss-a", &[SC]);
    let b = dss.client("uss-b", &[SC]);
    let old_area = id();
    b.create_sub(&old_area, &subscription(&b, &sub_here(), true, false)).await?;
    let new_area = id();
    b.create_sub(
        &new_area,
        &subscription(&b, &volume4d(&square(LAT + 0.1, LNG, 3000.0), 0.0, 3000.0, 0, 240), true, false),
    )
    .await?;
    let both_areas = id();
    b.create_sub(
        &both_areas,
        &subscription(&b, &volume4d(&square(LAT + 0.05, LNG, 20_000.0), 0.0, 3000.0, 0, 240), true, false),
    )
    .await?;
    let oid = id();
    let r = a.create_oir(&oid, &oir(&a, &[here()], "Accepted", &[])).await?;
    let body = a
        .put(&oir_path_ovn(&oid, str_of(&r["ovn"])?), &oir(&a, &[far()], "Accepted", &[]))
        .await?
        .want(200)?;
    assert_eq!(index_for(&body, &old_area), Some(2));
    assert_eq!(index_for(&body, &new_area), Some(1));
    // One change is one notification, even for a subscription meeting both areas.
    assert_eq!(index_for(&body, &both_areas), Some(2));
    let ovn = str_of(&body["operational_intent_reference"]["ovn"])?.to_owned();
    // The delete only concerns the current area.
    let body = a.delete(&oir_path_ovn(&oid, &ovn)).await?.want(200)?;
    assert_eq!(index_for(&body, &old_area), None);
    assert_eq!(index_for(&body, &new_area), Some(2));
    assert_eq!(index_for(&body, &both_areas), Some(3));
    Ok(())
}

/// Checklist 39: a subscription whose time window (or altitude band) misses the change gets nothing.
#[tokio::test]
async fn subscriptions_outside_the_change_in_time_or_altitude_get_nothing() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let a = dss.client("uss-a", &[SC]);
    let b = dss.client("uss-b", &[SC]);
    let area = square(LAT, LNG, 3000.0);
    let later = id();
    b.create_sub(&later, &subscription(&b, &volume4d(&area, 0.0, 3000.0, 71, 200), true, false)).await?;
    let touching = id();
    b.create_sub(&touching, &subscription(&b, &volume4d(&area, 0.0, 3000.0, 70, 200), true, false)).await?;
    let above = id();
    b.create_sub(&above, &subscription(&b, &volume4d(&area, 500.0, 3000.0, 0, 200), true, false)).await?;
    let body = a.put(&oir_path(&id()), &oir(&a, &[here()], "Accepted", &[])).await?.want(201)?;
    assert_eq!(notified(&body), vec![(b.url(), touching, 1)]);
    assert_eq!(b.get_sub(&later).await?["notification_index"], 0);
    assert_eq!(b.get_sub(&above).await?["notification_index"], 0);
    Ok(())
}

/// Checklist 40 and 41: deleted and expired subscriptions are neither notified nor queried;
/// queries return only the caller's subscriptions.
#[tokio::test]
async fn deleted_expired_and_foreign_subscriptions() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let a = dss.client("uss-a", &[SC]);
    let b = dss.client("uss-b", &[SC]);
    let area = square(LAT, LNG, 3000.0);
    let now = SystemClock.now();
    let expiring = id();
    let short = volume4d_at(&area, None, None, Some(now), Some(now + Duration::seconds(4)));
    b.create_sub(&expiring, &subscription(&b, &short, true, false)).await?;
    let deleted = id();
    let s = b.create_sub(&deleted, &subscription(&b, &sub_here(), true, false)).await?;
    b.delete(&sub_path_version(&deleted, str_of(&s["version"])?)).await?.want(200)?;
    let live = id();
    b.create_sub(&live, &subscription(&b, &sub_here(), true, false)).await?;
    let a_sub = id();
    a.create_sub(&a_sub, &subscription(&a, &sub_here(), true, false)).await?;

    let found = b.post(SUB_QUERY, &query(&sub_here())).await?.want(200)?;
    assert_eq!(ids(&found["subscriptions"]), sorted(&[&expiring, &live]));
    let found = a.post(SUB_QUERY, &query(&sub_here())).await?.want(200)?;
    assert_eq!(ids(&found["subscriptions"]), vec![a_sub.clone()]);

    // Wait until just past the short subscription's end.
    let left = (now + Duration::milliseconds(4300) - SystemClock.now()).to_std().unwrap_or_default();
    tokio::time::sleep(left).await;
    let open = volume4d_at(&area, None, None, None, None);
    let found = b.post(SUB_QUERY, &query(&open)).await?.want(200)?;
    assert_eq!(ids(&found["subscriptions"]), vec![live.clone()]);

    // An intent spanning now: only live subscriptions hear of it.
    let spanning = volume4d_at(
        &square(LAT, LNG, 1000.0),
        Some(0.0),
        Some(120.0),
        Some(now - Duration::minutes(1)),
        Some(at(70)),
    );
    let body = a.put(&oir_path(&id()), &oir(&a, &[spanning], "Accepted", &[])).await?.want(201)?;
    assert_eq!(
        notified(&body),
        sorted_notified(vec![(b.url(), live.clone(), 1), (a.url(), a_sub.clone(), 1)])
    );
    Ok(())
}

fn sorted_notified(mut v: Vec<(String, String, i64)>) -> Vec<(String, String, i64)> {
    v.sort();
    v
}

/// Checklist 42 and 47: `new_subscription` makes an implicit subscription covering the intent,
/// listed in its `subscription_id`, with the intent as a dependent.
#[tokio::test]
async fn new_subscription_is_implicit() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let a = dss.client("uss-a", &[SC, CP]);
    let oid = id();
    let body = a.put(&oir_path(&oid), &oir_new_sub(&a, &[here()], "Accepted", &[], true)).await?.want(201)?;
    let sid = str_of(&body["operational_intent_reference"]["subscription_id"])?.to_owned();
    assert_ne!(sid, NULL_SUBSCRIPTION);
    // The caller's own new subscription is among the subscribers.
    assert_eq!(notified(&body), vec![(a.url(), sid.clone(), 1)]);
    let s = a.get_sub(&sid).await?;
    assert_eq!(s["implicit_subscription"], true);
    assert_eq!(s["notify_for_operational_intents"], true);
    assert_eq!(s["notify_for_constraints"], true);
    assert_eq!(s["uss_base_url"], a.url());
    assert_eq!(s["dependent_operational_intents"], json!([oid]));
    assert!(parse_time(&s["time_start"])? <= at(10));
    assert!(parse_time(&s["time_end"])? >= at(70));
    // It covers the intent: another USS's intent there notifies it.
    let b = dss.client("uss-b", &[SC]);
    let key = str_of(&body["operational_intent_reference"]["ovn"])?.to_owned();
    let body = b.put(&oir_path(&id()), &oir(&b, &[here()], "Accepted", &[&key])).await?.want(201)?;
    assert_eq!(index_for(&body, &sid), Some(2));
    // The query shows it as the caller's.
    let found = a.post(SUB_QUERY, &query(&sub_here())).await?.want(200)?;
    assert_eq!(ids(&found["subscriptions"]), vec![sid]);
    Ok(())
}

/// Checklist 43: the implicit subscription lives while an intent depends on it and goes with the last.
#[tokio::test]
async fn implicit_subscription_goes_with_its_last_intent() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let a = dss.client("uss-a", &[SC]);
    let first = id();
    let r1 = a.create_oir(&first, &oir_new_sub(&a, &[here()], "Accepted", &[], false)).await?;
    let sid = str_of(&r1["subscription_id"])?.to_owned();
    let second = id();
    let r2 = a.create_oir(&second, &oir_with_sub(&a, &[far()], "Accepted", &[], &sid)).await?;
    assert_eq!(r2["subscription_id"], sid.as_str());
    let s = a.get_sub(&sid).await?;
    assert_eq!(ids_of_strings(&s["dependent_operational_intents"]), sorted(&[&first, &second]));

    a.delete(&oir_path_ovn(&first, str_of(&r1["ovn"])?)).await?.want(200)?;
    let s = a.get_sub(&sid).await?;
    assert_eq!(s["dependent_operational_intents"], json!([second]));
    a.delete(&oir_path_ovn(&second, str_of(&r2["ovn"])?)).await?.want(200)?;
    a.get(&sub_path(&sid)).await?.want(404)?;
    Ok(())
}

fn ids_of_strings(v: &serde_json::Value) -> Vec<String> {
    let mut out: Vec<String> =
        v.as_array().into_iter().flatten().filter_map(|s| s.as_str().map(str::to_owned)).collect();
    out.sort();
    out
}

/// Checklist 44: moving an intent to another subscription, or to none, removes its old implicit one.
#[tokio::test]
async fn switching_away_removes_the_implicit_subscription() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let a = dss.client("uss-a", &[SC]);
    let explicit = id();
    a.create_sub(&explicit, &subscription(&a, &sub_here(), true, false)).await?;

    // To another subscription.
    let oid = id();
    let r = a.create_oir(&oid, &oir_new_sub(&a, &[here()], "Accepted", &[], false)).await?;
    let implicit = str_of(&r["subscription_id"])?.to_owned();
    let r = a
        .update_oir(&oid, str_of(&r["ovn"])?, &oir_with_sub(&a, &[here()], "Accepted", &[], &explicit))
        .await?;
    assert_eq!(r["subscription_id"], explicit.as_str());
    a.get(&sub_path(&implicit)).await?.want(404)?;
    assert_eq!(a.get_sub(&explicit).await?["dependent_operational_intents"], json!([oid]));

    // Away from an implicit subscription that another intent still uses: it stays.
    let shared = id();
    let r1 =
        a.create_oir(&shared, &oir_new_sub(&a, &[here()], "Accepted", &[str_of(&r["ovn"])?], false)).await?;
    let kept = str_of(&r1["subscription_id"])?.to_owned();
    let user = id();
    let key = [str_of(&r["ovn"])?, str_of(&r1["ovn"])?];
    let ru = a.create_oir(&user, &oir_with_sub(&a, &[here()], "Accepted", &key, &kept)).await?;
    let key = [str_of(&r["ovn"])?, str_of(&ru["ovn"])?];
    let moved = a.update_oir(&shared, str_of(&r1["ovn"])?, &oir(&a, &[here()], "Accepted", &key)).await?;
    assert_eq!(moved["subscription_id"], NULL_SUBSCRIPTION);
    assert_eq!(a.get_sub(&kept).await?["dependent_operational_intents"], json!([user]));

    // To none.
    let other = id();
    let r = a.create_oir(&other, &oir_new_sub(&a, &[far()], "Accepted", &[], false)).await?;
    let implicit = str_of(&r["subscription_id"])?.to_owned();
    let r = a.update_oir(&other, str_of(&r["ovn"])?, &oir(&a, &[far()], "Accepted", &[])).await?;
    assert_eq!(r["subscription_id"], NULL_SUBSCRIPTION);
    a.get(&sub_path(&implicit)).await?.want(404)?;

    // To a fresh implicit one: the old implicit one goes, the new one differs.
    let third = id();
    let far2 = volume4d(&square(LAT - 0.1, LNG, 1000.0), 0.0, 120.0, 10, 70);
    let r =
        a.create_oir(&third, &oir_new_sub(&a, std::slice::from_ref(&far2), "Accepted", &[], false)).await?;
    let old = str_of(&r["subscription_id"])?.to_owned();
    let r =
        a.update_oir(&third, str_of(&r["ovn"])?, &oir_new_sub(&a, &[far2], "Accepted", &[], false)).await?;
    let new = str_of(&r["subscription_id"])?.to_owned();
    assert_ne!(old, new);
    a.get(&sub_path(&old)).await?.want(404)?;
    assert_eq!(a.get_sub(&new).await?["implicit_subscription"], true);
    Ok(())
}

/// Checklist 45: naming an implicit subscription for a larger intent grows it; naming an explicit
/// one that does not cover is 400.
#[tokio::test]
async fn implicit_grows_explicit_must_cover() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let a = dss.client("uss-a", &[SC]);
    let b = dss.client("uss-b", &[SC]);
    let first = id();
    let r = a.create_oir(&first, &oir_new_sub(&a, &[here()], "Accepted", &[], false)).await?;
    let implicit = str_of(&r["subscription_id"])?.to_owned();
    let ovn1 = str_of(&r["ovn"])?.to_owned();
    let bigger = volume4d(&square(LAT, LNG, 5000.0), 0.0, 400.0, 5, 300);
    let second = id();
    a.create_oir(&second, &oir_with_sub(&a, std::slice::from_ref(&bigger), "Accepted", &[&ovn1], &implicit))
        .await?;
    let s = a.get_sub(&implicit).await?;
    assert!(parse_time(&s["time_start"])? <= at(5), "{s}");
    assert!(parse_time(&s["time_end"])? >= at(300), "{s}");
    // It now covers the larger area: a change there, outside the first intent, notifies it.
    let edge = volume4d(&square(LAT + 0.018, LNG, 500.0), 0.0, 120.0, 200, 250);
    let body = b.put(&oir_path(&id()), &oir(&b, &[edge], "Accepted", &[])).await;
    let body = body?.want(409)?; // it meets the second intent
    assert_eq!(ids(&body["missing_operational_intents"]), vec![second.clone()]);
    let key_second = a.get_oir(&second).await?["ovn"].as_str().map(str::to_owned).unwrap_or_default();
    let edge = volume4d(&square(LAT + 0.018, LNG, 500.0), 0.0, 120.0, 200, 250);
    let body = b.put(&oir_path(&id()), &oir(&b, &[edge], "Accepted", &[&key_second])).await?.want(201)?;
    assert!(index_for(&body, &implicit).is_some(), "the grown subscription was not notified: {body}");

    // An explicit subscription that does not cover: 400, in area (reaching 2.5 km past it, beyond any
    // level-13 cell it meets) or time. Altitude is not part of coverage (F3548 asks for area and time).
    let small = id();
    a.create_sub(
        &small,
        &subscription(&a, &volume4d(&square(LAT - 0.1, LNG, 1000.0), 0.0, 3000.0, 0, 240), true, false),
    )
    .await?;
    let cases = [
        ("area", volume4d(&square(LAT - 0.1, LNG, 6000.0), 0.0, 120.0, 10, 70)),
        ("time", volume4d(&square(LAT - 0.1, LNG, 500.0), 0.0, 120.0, 10, 300)),
    ];
    for (what, extent) in cases {
        let resp = a.put(&oir_path(&id()), &oir_with_sub(&a, &[extent], "Accepted", &[], &small)).await?;
        assert_eq!(resp.0.as_u16(), 400, "{what}: {}", resp.1);
        assert!(message(&resp.1)?.contains("subscription_id"), "{what}: {}", resp.1);
    }
    let above = volume4d(&square(LAT - 0.1, LNG, 500.0), 0.0, 4000.0, 10, 70);
    a.put(&oir_path(&id()), &oir_with_sub(&a, &[above], "Accepted", &[], &small)).await?.want(201)?;
    let s = a.get_sub(&small).await?;
    assert_eq!(parse_time(&s["time_end"])?, at(240), "an explicit subscription must not grow");
    // Unknown, foreign, and intents-blind subscriptions cannot be named either.
    let ok_extent = volume4d(&square(LAT - 0.1, LNG, 500.0), 0.0, 120.0, 10, 70);
    let resp = a
        .put(&oir_path(&id()), &oir_with_sub(&a, std::slice::from_ref(&ok_extent), "Accepted", &[], &id()))
        .await?;
    assert_error(resp, 400, "subscription_id")?;
    let foreign = id();
    b.create_sub(
        &foreign,
        &subscription(&b, &volume4d(&square(LAT - 0.1, LNG, 3000.0), 0.0, 3000.0, 0, 240), true, false),
    )
    .await?;
    let resp = a
        .put(&oir_path(&id()), &oir_with_sub(&a, std::slice::from_ref(&ok_extent), "Accepted", &[], &foreign))
        .await?;
    assert_eq!(resp.0.as_u16(), 403, "{}", resp.1);
    let blind = id();
    let cp = dss.client("uss-a", &[SC, CP]);
    cp.create_sub(
        &blind,
        &subscription(&cp, &volume4d(&square(LAT - 0.1, LNG, 3000.0), 0.0, 3000.0, 0, 240), false, true),
    )
    .await?;
    let resp = a.put(&oir_path(&id()), &oir_with_sub(&a, &[ok_extent], "Accepted", &[], &blind)).await?;
    assert_error(resp, 400, "subscription_id")?;
    Ok(())
}

/// Checklist 46: a subscription with dependents cannot be deleted, nor shrunk so that it stops
/// covering them.
#[tokio::test]
async fn dependents_pin_a_subscription() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let a = dss.client("uss-a", &[SC]);
    let sid = id();
    let s = a.create_sub(&sid, &subscription(&a, &sub_here(), true, false)).await?;
    let version = str_of(&s["version"])?.to_owned();
    let oid = id();
    let r = a.create_oir(&oid, &oir_with_sub(&a, &[here()], "Accepted", &[], &sid)).await?;
    assert_eq!(a.get_sub(&sid).await?["dependent_operational_intents"], json!([oid]));

    assert_error(a.delete(&sub_path_version(&sid, &version)).await?, 400, "dependent")?;
    let shrunk = [
        ("area", volume4d(&square(LAT + 0.1, LNG, 3000.0), 0.0, 3000.0, 0, 240)),
        ("time", volume4d(&square(LAT, LNG, 3000.0), 0.0, 3000.0, 0, 60)),
    ];
    for (what, extent) in shrunk {
        let resp = a.put(&sub_path_version(&sid, &version), &subscription(&a, &extent, true, false)).await?;
        assert_eq!(resp.0.as_u16(), 400, "{what}: {}", resp.1);
        assert!(message(&resp.1)?.contains("dependent"), "{what}: {}", resp.1);
    }
    assert_eq!(a.get_sub(&sid).await?["version"], version.as_str());
    // Coverage is in area and time only: leaving the intent's altitudes is fine.
    let above = volume4d(&square(LAT, LNG, 3000.0), 500.0, 3000.0, 0, 240);
    let s =
        a.put(&sub_path_version(&sid, &version), &subscription(&a, &above, true, false)).await?.want(200)?;
    let version = str_of(&s["subscription"]["version"])?.to_owned();
    // Growing is fine.
    let grown = volume4d(&square(LAT, LNG, 4000.0), 0.0, 3000.0, 0, 300);
    let s =
        a.put(&sub_path_version(&sid, &version), &subscription(&a, &grown, true, false)).await?.want(200)?;
    let version = str_of(&s["subscription"]["version"])?.to_owned();
    // Once the intent is gone, the subscription can be deleted.
    a.delete(&oir_path_ovn(&oid, str_of(&r["ovn"])?)).await?.want(200)?;
    assert_eq!(a.get_sub(&sid).await?["dependent_operational_intents"], json!([]));
    a.delete(&sub_path_version(&sid, &version)).await?.want(200)?;
    Ok(())
}

/// The 24 h limit is for explicit subscriptions only: an implicit one follows its intent.
#[tokio::test]
async fn implicit_subscription_has_no_24h_cap() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let a = dss.client("uss-a", &[SC]);
    let long = volume4d(&square(LAT, LNG, 1000.0), 0.0, 120.0, 10, 10 + 30 * 60);
    let r = a.create_oir(&id(), &oir_new_sub(&a, &[long], "Accepted", &[], false)).await?;
    let s = a.get_sub(str_of(&r["subscription_id"])?).await?;
    assert_eq!(parse_time(&s["time_end"])?, at(10 + 30 * 60));
    assert_eq!(s["implicit_subscription"], true);
    Ok(())
}

/// InterUSS's load tool (one subscription of 2 m in a single S2 cell, 0-3000 m) files intents 0.5 m wider
/// than the subscription on every side, climbing above its altitude band: each is 201, and a change by another
/// USS next to the part outside the subscription, above its band, notifies the subscription.
#[tokio::test]
async fn the_load_tools_intents_sticking_out_of_their_subscription_are_admitted() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let a = dss.client("uss-a", &[SC]);
    let b = dss.client("uss-b", &[SC]);
    let (lat, lng) = (34.0, -118.0);
    let sid = id();
    a.create_sub(
        &sid,
        &subscription(&a, &volume4d(&square(lat, lng, 2.0), 0.0, 3000.0, 0, 23 * 60), true, false),
    )
    .await?;
    let intent = volume4d(&square(lat, lng, 3.0), 2990.0, 3020.0, 10, 11);
    let body = a.put(&oir_path(&id()), &oir_with_sub(&a, &[intent], "Accepted", &[], &sid)).await?;
    let r = body.want(201)?;
    let ovn = str_of(&r["operational_intent_reference"]["ovn"])?.to_owned();
    // 1.25 m north of the centre: outside the 2 m subscription, inside the 3 m intent, and above 3000 m.
    let strip = volume4d(&square(lat + 1.25 / 111_320.0, lng, 0.2), 3005.0, 3015.0, 10, 11);
    let body = b.put(&oir_path(&id()), &oir(&b, &[strip], "Accepted", &[&ovn])).await?.want(201)?;
    assert!(index_for(&body, &sid).is_some(), "the load tool's subscription was not notified: {body}");
    Ok(())
}
