//! The constraints the core manages, over the in-memory DSS: a data set's prohibited zones published window by
//! window, re-imports writing only what changed, a failed import undone, the windows following the clock, and an
//! authority's restricted zones.

use chrono::{FixedOffset, NaiveTime, Weekday};
use entente_geozones::{DailyPeriod, DataSet, Restriction, TimeOfDay, TimePeriod, Zone};

use super::*;
use crate::geoawareness::tests::zone;
use crate::geoawareness::{HORIZON_DAYS, ZoneSet, horizon};

/// A prohibited zone at latitude `lat` that applies every day from 14:00 to 16:00 UTC.
fn afternoons(identifier: &str, lat: f64) -> Zone {
    let utc = FixedOffset::east_opt(0).unwrap();
    let time = |h: u32| TimeOfDay { time: NaiveTime::from_hms_opt(h, 0, 0).unwrap(), offset: utc };
    use Weekday::*;
    Zone {
        applicability: vec![TimePeriod {
            start: None,
            end: None,
            schedule: vec![DailyPeriod {
                days: vec![Mon, Tue, Wed, Thu, Fri, Sat, Sun],
                start: time(14),
                end: time(16),
            }],
        }],
        ..zone(identifier, Restriction::Prohibited, lat)
    }
}

/// A prohibited zone at latitude `lat` that applies until `end` only.
fn until(identifier: &str, lat: f64, end: crate::Timestamp) -> Zone {
    Zone {
        applicability: vec![TimePeriod { start: None, end: Some(end), schedule: Vec::new() }],
        ..zone(identifier, Restriction::Prohibited, lat)
    }
}

fn published(zones: Vec<Zone>) -> ZoneSet {
    ZoneSet { data: DataSet { zones }, publish: true, source: String::new(), origin: None }
}

/// The constraint ids the DSS holds, sorted.
fn held(w: &World) -> Vec<EntityId> {
    let mut ids: Vec<EntityId> = w.dss.zones.lock().keys().copied().collect();
    ids.sort();
    ids
}

fn ids(changes: &[ZoneChange]) -> Vec<&str> {
    changes.iter().map(|c| c.zone.as_str()).collect()
}

#[tokio::test]
async fn an_import_publishes_one_constraint_per_prohibited_zone_with_a_volume_per_window() {
    let w = world();
    let set = published(vec![
        zone("ALWAYS", Restriction::Prohibited, 46.5),
        afternoons("AFTERNOONS", 46.6),
        zone("ASK", Restriction::ReqAuthorisation, 46.7),
    ]);
    let done = w.uss.import_zone_set("che", set).await.unwrap();
    assert_eq!(ids(&done.changes.created), ["ALWAYS", "AFTERNOONS"]);
    assert!(done.changes.updated.is_empty() && done.changes.withdrawn.is_empty());
    assert_eq!(done.horizon_end, horizon(at(0)).1);
    let constraint = |c: &ZoneChange| w.dss.zones.lock()[&c.id].1.clone();
    // A permanent zone holds through the horizon; the afternoons are one window a day, the first today's.
    assert_eq!(constraint(&done.changes.created[0]).len(), 1);
    let windows = constraint(&done.changes.created[1]);
    assert_eq!(windows.len(), HORIZON_DAYS as usize);
    assert_eq!(windows[0].time.lo, Some(at(120)));
    assert_eq!(windows[0].time.hi, Some(at(240)));
    // Each constraint is recorded, served, and told to subscribers; the set is saved.
    assert_eq!(held(&w).len(), 2);
    assert_eq!(w.uss.own_zones().len(), 2);
    assert_eq!(w.recorded.zone_saves.lock().len(), 2);
    assert_eq!(w.peers.zones_notified.lock().len(), 2);
    assert_eq!(*w.recorded.set_saves.lock(), [("che".to_owned(), true)]);
    assert!(w.uss.zones.get("che").is_some());
}

#[tokio::test]
async fn a_reimport_writes_only_what_changed() {
    let w = world();
    let zones = vec![zone("ONE", Restriction::Prohibited, 46.5), afternoons("TWO", 46.6)];
    w.uss.import_zone_set("che", published(zones.clone())).await.unwrap();
    let writes = |w: &World| w.dss.zone_calls.lock().len();
    assert_eq!(writes(&w), 2);

    let again = w.uss.import_zone_set("che", published(zones.clone())).await.unwrap();
    assert_eq!(ids(&again.changes.unchanged), ["ONE", "TWO"]);
    assert_eq!(again.changes.writes(), 0);
    assert_eq!(writes(&w), 2, "nothing written for an unchanged set");

    let mut moved = zones.clone();
    moved[1] = afternoons("TWO", 46.8);
    let changed = w.uss.import_zone_set("che", published(moved.clone())).await.unwrap();
    assert_eq!((ids(&changed.changes.updated), ids(&changed.changes.unchanged)), (vec!["TWO"], vec!["ONE"]));
    assert_eq!(writes(&w), 3);
    assert_eq!(w.dss.zones.lock()[&changed.changes.updated[0].id].0.version, 2);

    let fewer = w.uss.import_zone_set("che", published(vec![moved[1].clone()])).await.unwrap();
    assert_eq!((ids(&fewer.changes.withdrawn), ids(&fewer.changes.unchanged)), (vec!["ONE"], vec!["TWO"]));
    assert_eq!(held(&w), [fewer.changes.unchanged[0].id]);

    // Kept only to advise: what the set published is withdrawn.
    let kept = ZoneSet { publish: false, ..published(vec![moved[1].clone()]) };
    let kept = w.uss.import_zone_set("che", kept).await.unwrap();
    assert_eq!(ids(&kept.changes.withdrawn), ["TWO"]);
    assert!(held(&w).is_empty() && w.uss.own_zones().is_empty());
}

#[tokio::test]
async fn a_dss_failure_on_the_second_write_undoes_the_first_and_keeps_nothing() {
    let w = world();
    w.dss.failing_zone_puts.lock().push(2);
    let set = published(vec![
        zone("ONE", Restriction::Prohibited, 46.5),
        zone("TWO", Restriction::Prohibited, 46.6),
    ]);
    let err = w.uss.import_zone_set("che", set).await.unwrap_err();
    assert!(matches!(err, UssError::Call(CallError::Failed(_))), "{err:?}");
    let calls = w.dss.zone_calls.lock().clone();
    assert_eq!(calls.len(), 3, "{calls:?}");
    let first = calls[0].strip_prefix("PUT ").unwrap();
    assert_eq!(calls[2], format!("DELETE {first} ovn-{first}-1"));
    assert!(held(&w).is_empty());
    assert!(w.uss.own_zones().is_empty());
    assert!(w.uss.zones.get("che").is_none());
    assert!(w.recorded.set_saves.lock().is_empty(), "the set is not saved");
}

#[tokio::test]
async fn a_tick_a_day_later_publishes_the_next_days_window_and_withdraws_closed_ones() {
    let w = world();
    // Until tomorrow 10:00.
    let set = published(vec![afternoons("AFTERNOONS", 46.5), until("UNTIL_TOMORROW", 46.6, at(22 * 60))]);
    let imported = w.uss.import_zone_set("che", set).await.unwrap();
    let (afternoons_id, tomorrow_id) = (imported.changes.created[0].id, imported.changes.created[1].id);
    // Nothing to bring up to date the same day.
    let tick = w.uss.tick().await;
    let zone_sets = tick.zone_sets.expect("the first tick runs the zone round");
    assert_eq!(zone_sets.len(), 1);
    assert_eq!(zone_sets[0].1.as_ref().unwrap().writes(), 0);

    // Tomorrow at 17:00: that day's afternoon window closed too, and so did the other zone's.
    w.clock.set(at(29 * 60));
    let zone_sets = w.uss.tick().await.zone_sets.expect("a day later the zone round is due");
    let changes = zone_sets[0].1.as_ref().unwrap();
    assert_eq!(
        (ids(&changes.updated), ids(&changes.withdrawn)),
        (vec!["AFTERNOONS"], vec!["UNTIL_TOMORROW"])
    );
    assert_eq!(held(&w), [afternoons_id]);
    assert!(w.uss.own_zone(tomorrow_id).is_none());
    let windows = w.dss.zones.lock()[&afternoons_id].1.clone();
    assert_eq!(windows.len(), HORIZON_DAYS as usize - 1);
    // Yesterday's and today's windows are gone, and the horizon's new last day is published.
    assert_eq!(windows[0].time.lo, Some(at(120) + Duration::days(2)));
    assert_eq!(windows.last().unwrap().time.lo, Some(at(120) + Duration::days(HORIZON_DAYS)));
    assert_eq!(w.uss.own_zone(afternoons_id).unwrap().volumes, windows);
}

#[tokio::test]
async fn deleting_a_set_withdraws_all_its_constraints() {
    let w = world();
    let set = published(vec![zone("ONE", Restriction::Prohibited, 46.5), afternoons("TWO", 46.6)]);
    w.uss.import_zone_set("che", set.clone()).await.unwrap();
    let old = w.uss.delete_zone_set("che").await.unwrap();
    assert_eq!(old, set);
    assert!(held(&w).is_empty() && w.uss.own_zones().is_empty());
    assert!(w.uss.zones.get("che").is_none());
    assert_eq!(w.recorded.set_saves.lock().last(), Some(&("che".to_owned(), false)));
    assert!(matches!(w.uss.delete_zone_set("che").await, Err(UssError::NoSuchZoneSet(_))));
}

#[tokio::test]
async fn an_authoritys_constraint_is_published_kept_out_of_plans_and_withdrawn() {
    let w = world();
    let area = cylinder(7.5, (0.0, 500.0), (0, 60));
    let declared = w.uss.publish_constraint(id(9), vec![area], Some("restricted".into())).await.unwrap();
    assert_eq!((declared.reference.version, declared.kind.as_deref()), (1, Some("restricted")));
    assert_eq!(w.uss.own_zone(id(9)), Some(declared.clone()));

    // A plan through it is refused: its details come from this USS's own records (the fake peers hold none).
    let refused = w.uss.plan(id(1), proposal(vec![cylinder(7.5, (0.0, 120.0), (10, 20))], 0, at(0))).await;
    let Err(UssError::Conflict(refusal)) = refused else { panic!("{refused:?}") };
    assert_eq!(refusal.blocking, [id(9).to_string()]);

    assert_eq!(w.uss.withdraw_constraint(id(9)).await.unwrap(), declared);
    assert!(held(&w).is_empty());
    assert_eq!(*w.peers.zones_notified.lock(), [(id(9), true), (id(9), false)]);
    assert!(matches!(w.uss.withdraw_constraint(id(9)).await, Err(UssError::NoSuchZone(_))));
}

#[tokio::test]
async fn a_downloaded_set_is_replaced_only_by_a_download_from_the_same_url() {
    let w = world();
    let from = |url: Option<&str>| ZoneSet {
        origin: url.map(str::to_owned),
        ..published(vec![zone("ONE", Restriction::Prohibited, 46.5)])
    };
    w.uss.import_zone_set("src", from(Some("https://a.example/set.json"))).await.unwrap();
    w.uss.import_zone_set("src", from(Some("https://a.example/set.json"))).await.unwrap();
    let other = w.uss.import_zone_set("src", from(Some("https://b.example/set.json"))).await;
    assert!(
        matches!(&other, Err(UssError::ZoneSetSource { held, .. }) if held == "https://a.example/set.json"),
        "{other:?}"
    );
    assert_eq!(w.uss.zones.get("src").unwrap().origin.as_deref(), Some("https://a.example/set.json"));

    // An authority's own upload replaces it; a download then may not take the authority's set.
    w.uss.import_zone_set("src", from(None)).await.unwrap();
    let over = w.uss.import_zone_set("src", from(Some("https://a.example/set.json"))).await;
    assert!(matches!(over, Err(UssError::ZoneSetSource { .. })), "{over:?}");
    assert_eq!(w.uss.check_zone_set_origin("new", Some("https://b.example/set.json")), Ok(()));
}

/// Ground 600 m above mean sea level north of 46.55°N, no data south of it.
#[derive(Debug)]
struct NorthernPlateau;

impl entente_geozones::Terrain for NorthernPlateau {
    fn ground_amsl(&self, outline: &Outline) -> Option<(f64, f64)> {
        outline.bounding_rects().iter().all(|r| r.lat_lo > 46.55).then_some((600.0, 600.0))
    }
}

#[tokio::test]
async fn agl_limits_stand_on_the_terrain_where_it_has_data_and_are_widest_where_not() {
    let w = world_on(Arc::new(NorthernPlateau));
    let agl = |identifier: &str, lat: f64| {
        let mut z = zone(identifier, Restriction::Prohibited, lat);
        let level = |value| {
            Some(entente_geozones::Level { value, reference: entente_geozones::VerticalReference::Agl })
        };
        z.volumes[0].lower = level(0.0);
        z.volumes[0].upper = level(150.0);
        z
    };
    let done = w
        .uss
        .import_zone_set("che", published(vec![agl("PLATEAU", 46.6), agl("UNKNOWN", 46.5)]))
        .await
        .unwrap();
    assert_eq!(done.ground_unknown, ["UNKNOWN"]);
    let altitude = |c: &ZoneChange| w.dss.zones.lock()[&c.id].1[0].altitude;
    // Around Lausanne the geoid lies about 50 m above the ellipsoid.
    let n = entente_geozones::undulation(LatLng::new(46.6, 6.6));
    let plateau = altitude(&done.changes.created[0]);
    let (lo, hi) = (plateau.lo.unwrap(), plateau.hi.unwrap());
    assert!(lo <= 600.0 + n && 600.0 + n - lo < 1.5, "{lo}");
    assert!(hi >= 750.0 + n && hi - (750.0 + n) < 1.5, "{hi}");
    let unknown = altitude(&done.changes.created[1]);
    assert!(unknown.lo.unwrap() < entente_geozones::LOWEST_GROUND_AMSL_M + n + 1.0, "{unknown:?}");
    assert!(unknown.hi.unwrap() > entente_geozones::HIGHEST_GROUND_AMSL_M + 150.0, "{unknown:?}");
    // What the map shows says the same.
    let shown = w.uss.zones.in_force(at(0), at(60)).unwrap();
    let flags: Vec<(&str, bool)> =
        shown.iter().map(|z| (z.zone.identifier.as_str(), z.ground_unknown)).collect();
    assert_eq!(flags, [("PLATEAU", false), ("UNKNOWN", true)]);
}
