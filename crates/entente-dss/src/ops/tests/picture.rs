//! The operator's picture: which intents it shows at an instant and which pairs it flags as conflicts, and the
//! change counter displays wait on.

use anyhow::{Result, ensure};

use super::{Harness, LAT, LNG, accepted, at, circle, here, sc, square, vol};
use crate::{EntityId, PutOperationalIntent, Volume};

async fn plan(h: &Harness, manager: &str, extents: Vec<Volume>, key: &[&str]) -> Result<(EntityId, String)> {
    let id = EntityId::random();
    let req: PutOperationalIntent = accepted(extents, key);
    let change = h.dss.put_intent(&sc(manager), id, None, req).await?;
    Ok((id, change.intent.intent.ovn.clone()))
}

fn ordered(a: EntityId, b: EntityId) -> (EntityId, EntityId) {
    (a.min(b), a.max(b))
}

#[tokio::test]
async fn only_intents_meeting_in_4d_are_flagged() -> Result<()> {
    let h = Harness::new()?;
    let (first, ovn) = plan(&h, "uss1", vec![here((at(0), at(60)))], &[]).await?;
    // Overlaps the first in space and during minutes 30-60.
    let (second, _) =
        plan(&h, "uss2", vec![vol(circle(LAT, LNG + 0.01, 500.0), (50.0, 150.0), (at(30), at(90)))], &[&ovn])
            .await?;
    // Same place and time as the first but higher up: no conflict.
    let (above, _) =
        plan(&h, "uss3", vec![vol(square(LAT, LNG, 0.01), (200.0, 300.0), (at(0), at(60)))], &[]).await?;

    let all = h.dss.picture(None).await?;
    let shown: Vec<EntityId> = all.operational_intents.iter().map(|s| s.entity.id).collect();
    let mut expected = vec![first, second, above];
    expected.sort();
    ensure!(shown == expected, "every live intent is shown, sorted: {shown:?}");
    ensure!(all.conflicts == vec![ordered(first, second)], "conflicts {:?}", all.conflicts);

    // At minute 75 the first intent is no longer in force, so nothing conflicts.
    let later = h.dss.picture(Some(at(75))).await?;
    let shown: Vec<EntityId> = later.operational_intents.iter().map(|s| s.entity.id).collect();
    ensure!(shown == vec![second], "only the second is in force at minute 75: {shown:?}");
    ensure!(later.conflicts.is_empty(), "conflicts at minute 75 {:?}", later.conflicts);

    // At minute 10 they are both in force but the second has not started yet.
    let early = h.dss.picture(Some(at(10))).await?;
    ensure!(early.conflicts.is_empty(), "conflicts at minute 10 {:?}", early.conflicts);
    ensure!(early.operational_intents.len() == 2, "the first and the one above are in force at minute 10");
    Ok(())
}

#[tokio::test]
async fn ended_intents_leave_the_picture() -> Result<()> {
    let h = Harness::new()?;
    plan(&h, "uss1", vec![here((at(0), at(60)))], &[]).await?;
    h.set_now(at(61));
    let picture = h.dss.picture(None).await?;
    ensure!(picture.operational_intents.is_empty(), "an intent that ended is not live");
    ensure!(picture.taken_at == at(61), "the picture is taken at the DSS clock");
    Ok(())
}

#[tokio::test]
async fn the_change_counter_grows_on_writes_only() -> Result<()> {
    let h = Harness::new()?;
    let changes = h.dss.changes();
    let before = *changes.borrow();
    let (_, ovn) = plan(&h, "uss1", vec![here((at(0), at(60)))], &[]).await?;
    let after_write = *changes.borrow();
    ensure!(after_write > before, "a write bumps the counter");
    // Refused: it does not know the first intent's OVN.
    ensure!(plan(&h, "uss2", vec![here((at(0), at(60)))], &[]).await.is_err(), "the key check refuses");
    ensure!(*changes.borrow() == after_write, "a refusal changes nothing");
    plan(&h, "uss2", vec![here((at(0), at(60)))], &[&ovn]).await?;
    ensure!(*changes.borrow() > after_write, "the second write bumps it again");
    Ok(())
}
