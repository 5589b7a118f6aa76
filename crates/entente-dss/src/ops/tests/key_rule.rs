//! A property test of the key rule: random small intents, planned one by one, are checked against a
//! brute-force 4D intersection over every pair, so neither the index nor the key check can let a conflict by.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Context, Result, bail, ensure};
use chrono::Duration;
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

use super::{Harness, LAT, LNG, accepted, at, circle, polygon, sc, sub_area, vol};
use crate::{DssError, EntityId, PutOperationalIntent, Volume, any_intersect};

/// Grid step in degrees (~220 m north–south): shapes on the grid share edges and corners exactly.
const STEP: f64 = 0.002;

#[derive(Clone, Debug)]
enum Shape {
    /// Cells `(i, j)` to `(i + w, j + h)`.
    Rect { i: u8, j: u8, w: u8, h: u8 },
    /// A right triangle on the grid with legs `w` and `h`.
    Triangle { i: u8, j: u8, w: u8, h: u8 },
    /// Centred on a grid point.
    Circle { i: u8, j: u8, radius_m: u16 },
}

#[derive(Clone, Debug)]
struct Spec {
    shape: Shape,
    /// Lower altitude and height, in steps of 50 m.
    alt: (u8, u8),
    /// Start and duration, in steps of 10 minutes.
    time: (u8, u8),
    /// Which of two USSs plans it.
    second_uss: bool,
    /// Bit `k` puts the OVN of the `k`-th earlier intent into the first attempt's key.
    key_mask: u16,
}

fn grid(i: u8, j: u8) -> (f64, f64) {
    (LAT + STEP * f64::from(i), LNG + STEP * f64::from(j))
}

impl Spec {
    fn volume(&self) -> Volume {
        let outline = match self.shape {
            Shape::Rect { i, j, w, h } => {
                polygon(&[grid(i, j), grid(i, j + h), grid(i + w, j + h), grid(i + w, j)])
            }
            Shape::Triangle { i, j, w, h } => polygon(&[grid(i, j), grid(i, j + h), grid(i + w, j)]),
            Shape::Circle { i, j, radius_m } => {
                let (lat, lng) = grid(i, j);
                circle(lat, lng, f64::from(radius_m))
            }
        };
        let lo = 50.0 * f64::from(self.alt.0);
        let start = at(10 * i64::from(self.time.0));
        vol(
            outline,
            (lo, lo + 50.0 * f64::from(self.alt.1)),
            (start, start + Duration::minutes(10 * i64::from(self.time.1))),
        )
    }
}

fn shape() -> impl Strategy<Value = Shape> {
    prop_oneof![
        (0..5u8, 0..5u8, 1..=3u8, 1..=3u8).prop_map(|(i, j, w, h)| Shape::Rect { i, j, w, h }),
        (0..5u8, 0..5u8, 1..=3u8, 1..=3u8).prop_map(|(i, j, w, h)| Shape::Triangle { i, j, w, h }),
        (0..6u8, 0..6u8, prop::sample::select(vec![60u16, 150, 300]))
            .prop_map(|(i, j, radius_m)| Shape::Circle { i, j, radius_m }),
    ]
}

fn spec() -> impl Strategy<Value = Spec> {
    (shape(), (0..4u8, 1..=2u8), (0..5u8, 1..=3u8), any::<bool>(), any::<u16>())
        .prop_map(|(shape, alt, time, second_uss, key_mask)| Spec { shape, alt, time, second_uss, key_mask })
}

/// One accepted intent and the key its successful PUT carried.
struct Planned {
    id: EntityId,
    ovn: String,
    extents: Vec<Volume>,
    key: BTreeSet<String>,
}

async fn plan_all(specs: &[Spec]) -> Result<()> {
    let h = Harness::new()?;
    let mut planned: Vec<Planned> = Vec::new();
    for (n, spec) in specs.iter().enumerate() {
        let id = EntityId::random();
        let extents = vec![spec.volume()];
        let caller = sc(if spec.second_uss { "uss2" } else { "uss1" });
        let first_key: Vec<String> = planned
            .iter()
            .enumerate()
            .filter(|(k, _)| spec.key_mask >> k & 1 == 1)
            .map(|(_, p)| p.ovn.clone())
            .collect();
        // Brute force: every earlier intent meeting this one in 4D whose OVN the key lacks.
        let omitted: BTreeSet<EntityId> = planned
            .iter()
            .filter(|p| any_intersect(&p.extents, &extents) && !first_key.contains(&p.ovn))
            .map(|p| p.id)
            .collect();
        let ovn_of: BTreeMap<EntityId, &str> = planned.iter().map(|p| (p.id, p.ovn.as_str())).collect();

        let groups_before = h.submitted().len();
        let req = accepted(extents.clone(), &[]);
        let first = h
            .dss
            .put_intent(&caller, id, None, PutOperationalIntent { key: first_key.clone(), ..req.clone() })
            .await;
        let (change, key) = match first {
            Ok(change) => {
                ensure!(omitted.is_empty(), "intent {n} was accepted although its key omitted {omitted:?}");
                (change, first_key)
            }
            Err(DssError::AirspaceConflict(conflict)) => {
                let reported: BTreeSet<EntityId> =
                    conflict.missing_operational_intents.iter().map(|v| v.intent.id).collect();
                ensure!(
                    reported == omitted,
                    "intent {n}: the 409 lists {reported:?}, brute force finds {omitted:?} omitted"
                );
                ensure!(conflict.missing_constraints.is_empty(), "no constraints exist");
                ensure!(h.submitted().len() == groups_before, "a rejected PUT submitted changes");
                let mut key = first_key;
                for missing in &conflict.missing_operational_intents {
                    let ovn = ovn_of.get(&missing.intent.id).context("the 409 names an unknown intent")?;
                    key.push((*ovn).to_owned());
                }
                let retry = PutOperationalIntent { key: key.clone(), ..req };
                let change = h
                    .dss
                    .put_intent(&caller, id, None, retry)
                    .await
                    .with_context(|| format!("intent {n}: retry with the missing OVNs"))?;
                (change, key)
            }
            Err(e) => bail!("intent {n}: unexpected {e:?}"),
        };
        ensure!(h.submitted().len() == groups_before + 1, "an accepted PUT submits one group");
        planned.push(Planned {
            id,
            ovn: change.intent.intent.ovn.clone(),
            extents,
            key: key.into_iter().collect(),
        });
    }

    // No intersecting pair was ever accepted without the earlier one's OVN in the later one's key.
    for (j, later) in planned.iter().enumerate() {
        for earlier in &planned[..j] {
            if any_intersect(&earlier.extents, &later.extents) {
                ensure!(
                    later.key.contains(&earlier.ovn),
                    "{} was accepted over {} without its OVN",
                    later.id,
                    earlier.id
                );
            }
        }
    }
    // Every intent is stored as planned, and queries find exactly the brute-force set.
    let viewer = sc("uss3");
    for p in &planned {
        let stored = h.dss.get_intent(&viewer, p.id).await?.intent;
        ensure!(stored.ovn == p.ovn && stored.extents == p.extents, "intent {} changed", p.id);
        let mut found: Vec<EntityId> =
            h.dss.query_intents(&viewer, &p.extents[0]).await?.into_iter().map(|v| v.intent.id).collect();
        found.sort();
        let expected: Vec<EntityId> = planned
            .iter()
            .filter(|q| any_intersect(&q.extents, &p.extents))
            .map(|q| q.id)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        ensure!(found == expected, "query around {}: found {found:?}, expected {expected:?}", p.id);
    }
    let everywhere = h.dss.query_intents(&viewer, &sub_area(0.05, None, None)).await?;
    ensure!(everywhere.len() == planned.len(), "{} of {} intents found", everywhere.len(), planned.len());
    Ok(())
}

fn config() -> ProptestConfig {
    // No regression files in the source tree: a failure prints its minimal case instead.
    ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn no_intersecting_pair_is_accepted_without_the_key(specs in vec(spec(), 1..=12)) {
        let runtime = tokio::runtime::Builder::new_current_thread().build()?;
        runtime.block_on(plan_all(&specs)).map_err(|e| TestCaseError::fail(format!("{e:#}")))?;
    }
}

#[test]
fn shapes_on_the_grid_that_share_an_edge_or_a_corner_intersect() {
    let base = Spec {
        shape: Shape::Rect { i: 0, j: 0, w: 2, h: 2 },
        alt: (0, 1),
        time: (0, 1),
        second_uss: false,
        key_mask: 0,
    };
    let with = |shape: Shape| Spec { shape, ..base.clone() };
    let a = [base.volume()];
    assert!(any_intersect(&a, &[with(Shape::Rect { i: 2, j: 0, w: 1, h: 1 }).volume()]), "shared edge");
    assert!(any_intersect(&a, &[with(Shape::Rect { i: 2, j: 2, w: 1, h: 1 }).volume()]), "shared corner");
    assert!(!any_intersect(&a, &[with(Shape::Rect { i: 3, j: 0, w: 1, h: 1 }).volume()]), "a cell apart");
    let above = Spec { alt: (1, 1), ..base.clone() };
    assert!(any_intersect(&a, &[above.volume()]), "touching altitudes");
    let later = Spec { time: (1, 1), ..base.clone() };
    assert!(any_intersect(&a, &[later.volume()]), "touching times");
    let much_later = Spec { time: (2, 1), ..base };
    assert!(!any_intersect(&a, &[much_later.volume()]), "apart in time");
}
