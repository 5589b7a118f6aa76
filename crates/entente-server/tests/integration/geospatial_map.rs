//! InterUSS's geospatial map test interface on a USS with an imported zone data set: a flight's volumes inside a
//! prohibited zone are blocked, inside an authorisation-required zone advised, elsewhere (or above) neither; bad
//! input is refused naming the field, and each endpoint takes only its own scope.

use entente_wire::interuss::geospatial_map::{
    Ed269Filters, FeatureFilterSet, MapCheck, MapQueryRequest, Position,
};
use entente_wire::{Altitude, LatLngPoint, Volume4D};
use serde_json::{Value, json};

use crate::geozones::{EDGE, SOUTH, data_set, disc, feature};
use crate::harness::*;
use crate::uss::Uss;

const QUERY: &str = "interuss.geospatial_map.query";
const DIRECT: &str = "interuss.geospatial_map.direct_automated_test";
const QUERIES: &str = "/geospatial_map/v1/map/queries";

/// A filter set selecting what meets `volume`.
fn filters(volume: Volume4D) -> FeatureFilterSet {
    FeatureFilterSet { volumes4d: Some(vec![volume]), ..FeatureFilterSet::default() }
}

/// A filter set selecting what meets `volume` with the given impact.
fn impact_filters(volume: Volume4D, impact: &str) -> FeatureFilterSet {
    FeatureFilterSet { resulting_operational_impact: Some(impact.to_owned()), ..filters(volume) }
}

/// One check with one filter set: `volume` with the given impact.
pub(crate) fn check(volume: Volume4D, impact: &str) -> MapCheck {
    MapCheck { filter_sets: vec![impact_filters(volume, impact)] }
}

/// A map query of `checks`.
pub(crate) fn queries(checks: Vec<MapCheck>) -> Value {
    wire(MapQueryRequest { checks })
}

fn outcomes(reply: &Value) -> Vec<&str> {
    reply["results"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["features_selection_outcome"].as_str())
        .collect()
}

#[tokio::test]
async fn the_map_blocks_in_prohibited_zones_advises_in_others_and_says_nothing_elsewhere()
-> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let uss = Uss::start(&dss, "authority").await?;
    let authority = client_at(&uss.base, "city", &["entente.authority"]);
    let set = data_set(vec![
        feature("NOFLY", "PROHIBITED", disc(LAT, 1000.0), json!({})),
        feature("ASK", "REQ_AUTHORIZATION", disc(SOUTH, 800.0), json!({})),
    ]);
    authority.put("/authority/v1/geozones/test", &set).await.want(200)?;
    let tester = client_at(&uss.base, "qualifier", &[QUERY]);

    let edge = volume4(&circle(EDGE, LNG, 300.0), 0.0, 100.0, 10, 20);
    let south = volume4(&circle(SOUTH, LNG, 300.0), 0.0, 100.0, 10, 20);
    // Over the prohibited zone (its ceiling is 500 m W84), and far from either zone.
    let above = volume4(&circle(EDGE, LNG, 300.0), 600.0, 700.0, 10, 20);
    let far = volume4(&circle(LAT + 0.2, LNG, 300.0), 0.0, 100.0, 10, 20);
    // Up to 300 ft above the surface: without terrain it may reach the zone, so it counts.
    let mut low = edge.clone();
    let surface =
        |value: f64, units: &str| Altitude { value, reference: "SFC".to_owned(), units: units.to_owned() };
    low.volume.altitude_lower = Some(surface(0.0, "M"));
    low.volume.altitude_upper = Some(surface(300.0, "FT"));
    let one = |filter: FeatureFilterSet| MapCheck { filter_sets: vec![filter] };
    let checks = queries(vec![
        check(edge.clone(), "Block"),
        check(edge.clone(), "Advise"),
        check(south.clone(), "Advise"),
        check(south.clone(), "Block"),
        check(above, "BlockOrAdvise"),
        check(far.clone(), "BlockOrAdvise"),
        check(low, "Block"),
        // Any of the filter sets: the second selects the prohibited zone.
        MapCheck { filter_sets: vec![impact_filters(far, "Block"), impact_filters(edge.clone(), "Block")] },
        // A source is a data set's name.
        one(FeatureFilterSet { restriction_source: Some("test".to_owned()), ..filters(edge.clone()) }),
        one(FeatureFilterSet { restriction_source: Some("other".to_owned()), ..filters(edge.clone()) }),
        one(FeatureFilterSet {
            ed269: Some(Ed269Filters {
                acceptable_restrictions: Some(vec!["CONDITIONAL".to_owned()]),
                ..Ed269Filters::default()
            }),
            ..filters(south.clone())
        }),
        // Only the times before the query's `before` are looked at, and the flight starts later.
        one(FeatureFilterSet { before: Some(time(at(5)).value), ..filters(edge.clone()) }),
        one(FeatureFilterSet {
            position: Some(Position { altitude: None, location: LatLngPoint { lat: LAT, lng: LNG } }),
            ..FeatureFilterSet::default()
        }),
        MapCheck { filter_sets: Vec::new() },
    ]);
    let reply = tester.post(QUERIES, &checks).await.want(200)?;
    assert_eq!(
        outcomes(&reply),
        [
            "Present",
            "Absent",
            "Present",
            "Absent",
            "Absent",
            "Absent",
            "Present",
            "Present",
            "Present",
            "Absent",
            "Absent",
            "Absent",
            "UnsupportedFilter",
            "Absent"
        ],
        "{reply}"
    );
    assert!(str_of(&reply["results"][12]["message"])?.contains("position"), "{reply}");

    // Malformed filters are refused whole, naming the field and the rule.
    let mut bad = edge.clone();
    bad.volume.altitude_upper = Some(Altitude { units: "YD".to_owned(), ..altitude_m(100.0) });
    let field = "checks[1].filter_sets[0].volumes4d[0].volume.altitude_upper.units";
    assert_error(
        tester.post(QUERIES, &queries(vec![check(edge.clone(), "Block"), check(bad, "Block")])).await?,
        400,
        field,
    )?;
    let field = "checks[0].filter_sets[0].resulting_operational_impact must be one of";
    assert_error(tester.post(QUERIES, &queries(vec![check(edge.clone(), "Maybe")])).await?, 400, field)?;
    let backwards = Volume4D { time_end: Some(time(at(5))), ..edge.clone() };
    let field = "checks[0].filter_sets[0].volumes4d[0].time_end must be after time_start";
    assert_error(tester.post(QUERIES, &queries(vec![check(backwards, "Block")])).await?, 400, field)?;

    // Each endpoint takes its own scope.
    assert_error(tester.get("/geospatial_map/v1/status").await?, 403, DIRECT)?;
    let director = client_at(&uss.base, "qualifier", &[DIRECT]);
    let status = director.get("/geospatial_map/v1/status").await.want(200)?;
    assert_eq!(status["status"], "Ready");
    assert_error(director.post(QUERIES, &queries(vec![check(edge, "Block")])).await?, 403, QUERY)?;
    Ok(())
}
