//! Whether an explicit subscription covers an intent: in area and time as F3548 asks, not in altitude, the area
//! to within the level-13 S2 cells InterUSS's DSS decides it by; and the fan-out reaching every part of an
//! intent its subscription admitted, also the parts outside the subscription.

use anyhow::{Context, Result, ensure};
use entente_geo::{LatLng, Outline, cover_cell_at};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

use super::{Harness, accepted, at, bad_request, sc, square, sub_req, vol};
use crate::{EntityId, IntentView, Subscriber};

/// Where InterUSS's load tool flies: its subscription is a 2 m square there.
const BENCH_LAT: f64 = 34.0;
const BENCH_LNG: f64 = -118.0;
/// Half the side of that subscription, in degrees.
const BENCH_HALF: f64 = 0.00001;
/// About one metre, in degrees of latitude.
const METRE: f64 = 1.0 / 111_195.0;
const NOTIFY_URL: &str = "https://uss1.example/notify";

/// An explicit subscription of uss1 over `outline`, 0–100 m, for the first 23 hours.
async fn subscribe(h: &Harness, outline: Outline) -> Result<EntityId> {
    let id = EntityId::random();
    let extents = vol(outline, (0.0, 100.0), (at(0), at(23 * 60)));
    h.dss.put_subscription(&sc("uss1"), id, None, sub_req(extents, NOTIFY_URL, true, false)).await?;
    Ok(id)
}

/// uss1 plans `outline`, reaching above its subscription's altitude band, on subscription `sid`.
async fn plan_on(h: &Harness, sid: EntityId, outline: Outline) -> Result<IntentView, crate::DssError> {
    let mut req = accepted(vec![vol(outline, (50.0, 150.0), (at(1), at(2)))], &[]);
    req.subscription_id = Some(sid);
    Ok(h.dss.put_intent(&sc("uss1"), EntityId::random(), None, req).await?.intent)
}

/// uss2 plans a small square around (`lat`, `lng`) above 100 m, knowing `a`; the subscriptions it notified.
async fn neighbour(h: &Harness, lat: f64, lng: f64, half: f64, a: &IntentView) -> Result<Vec<Subscriber>> {
    let extents = vec![vol(square(lat, lng, half), (120.0, 140.0), (at(1), at(2)))];
    let req = accepted(extents, &[a.intent.ovn.as_str()]);
    Ok(h.dss.put_intent(&sc("uss2"), EntityId::random(), None, req).await?.subscribers)
}

fn notifies(subscribers: &[Subscriber], sid: EntityId) -> bool {
    subscribers.iter().flat_map(|s| &s.subscriptions).any(|s| s.subscription_id == sid)
}

/// InterUSS's load tool: an intent 0.5 m wider on every side than its 2 m subscription, and climbing above
/// the subscription's altitude band, is admitted; a change by another USS next to the part outside the
/// subscription, above its band, still notifies it.
#[tokio::test]
async fn an_intent_sticking_out_of_its_subscription_and_above_it_is_admitted_and_notified() -> Result<()> {
    let h = Harness::new()?;
    let sid = subscribe(&h, square(BENCH_LAT, BENCH_LNG, BENCH_HALF)).await?;
    let wider = square(BENCH_LAT, BENCH_LNG, BENCH_HALF + 0.5 * METRE);
    let a = plan_on(&h, sid, wider).await.context("the load tool's intent")?;
    assert_eq!(a.intent.subscription_id, Some(sid));
    let strip = BENCH_LAT + BENCH_HALF + 0.25 * METRE;
    let subscribers = neighbour(&h, strip, BENCH_LNG, 0.1 * METRE, &a).await?;
    assert!(notifies(&subscribers, sid), "the subscription was not notified: {subscribers:?}");
    Ok(())
}

/// Beyond the cells the subscription reaches, or past its end, an intent is refused, naming the field.
#[tokio::test]
async fn beyond_its_cells_or_past_its_end_an_intent_is_refused() -> Result<()> {
    let h = Harness::new()?;
    let sid = subscribe(&h, square(BENCH_LAT, BENCH_LNG, BENCH_HALF)).await?;
    for far in [square(BENCH_LAT + 0.03, BENCH_LNG, BENCH_HALF), square(BENCH_LAT, BENCH_LNG, 0.02)] {
        let message = bad_request(plan_on(&h, sid, far).await)?;
        assert!(message.contains("subscription_id") && message.contains("does not cover"), "{message}");
    }
    let mut late =
        accepted(vec![vol(square(BENCH_LAT, BENCH_LNG, BENCH_HALF), (0.0, 50.0), (at(1), at(24 * 60)))], &[]);
    late.subscription_id = Some(sid);
    let message = bad_request(h.dss.put_intent(&sc("uss1"), EntityId::random(), None, late).await)?;
    assert!(message.contains("does not cover"), "{message}");
    Ok(())
}

/// How far a generated intent reaches out of its 2 m subscription.
#[derive(Clone, Debug)]
enum Reach {
    /// Well inside the subscription's cell: must be admitted.
    InsideTheCell(f64),
    /// Anywhere up to about a kilometre: admitted or not, as the cells decide.
    Around(f64),
    /// Past two kilometres, more than any level-13 cell is wide: must be refused.
    Beyond(f64),
}

fn reach() -> impl Strategy<Value = Reach> {
    prop_oneof![
        (0.00002..0.003f64).prop_map(Reach::InsideTheCell),
        (0.00002..0.01f64).prop_map(Reach::Around),
        (0.02..0.04f64).prop_map(Reach::Beyond),
    ]
}

/// A 2 m subscription at the centre of the level-13 cell holding (`lat`, `lng`), and a square intent of half
/// side `k` degrees around it, above the subscription's altitude band: admitted when inside the cell, refused
/// when it reaches past any cell the subscription meets, and whenever admitted, a change next to its corner,
/// outside the subscription and above it, notifies the subscription.
async fn check(lat: f64, lng: f64, reach: Reach) -> Result<()> {
    let Some(Outline::Polygon(cell)) = cover_cell_at(LatLng::new(lat, lng)) else {
        anyhow::bail!("no cell at ({lat}, {lng})")
    };
    let n = cell.vertices().len() as f64;
    let lat = cell.vertices().iter().map(|v| v.lat).sum::<f64>() / n;
    let lng = cell.vertices().iter().map(|v| v.lng).sum::<f64>() / n;
    let cell = Outline::Polygon(cell);
    let k = match reach {
        Reach::InsideTheCell(k) | Reach::Around(k) | Reach::Beyond(k) => k,
    };
    // Two metres of clearance from the cell's border keep the intent off the neighbouring cells.
    let inside = cell.contains_outline(&square(lat, lng, k + 2.0 * METRE));
    let h = Harness::new()?;
    let sid = subscribe(&h, square(lat, lng, BENCH_HALF)).await?;
    let planned = plan_on(&h, sid, square(lat, lng, k)).await;
    match (&reach, &planned) {
        (Reach::InsideTheCell(_), Err(e)) if inside => anyhow::bail!("inside the cell, refused: {e}"),
        (Reach::Beyond(_), Ok(_)) => anyhow::bail!("{k} degrees out, admitted"),
        _ => {}
    }
    if let Ok(a) = planned {
        let subscribers = neighbour(&h, lat + 0.9 * k, lng + 0.9 * k, 0.05 * k, &a).await?;
        ensure!(notifies(&subscribers, sid), "a change at the corner did not notify: {subscribers:?}");
    }
    Ok(())
}

fn config() -> ProptestConfig {
    // No regression files in the source tree: a failure prints its minimal case instead.
    ProptestConfig { cases: 96, failure_persistence: None, ..ProptestConfig::default() }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn intents_within_the_cells_are_admitted_and_notified_and_beyond_them_refused(
        lat in -60.0..60.0f64,
        lng in -179.0..179.0f64,
        reach in reach(),
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().build()?;
        runtime.block_on(check(lat, lng, reach)).map_err(|e| TestCaseError::fail(format!("{e:#}")))?;
    }
}
