//! Data sets of our own around Lausanne, in both formats and malformed, read from files as an authority would
//! hand them over; the planner's view of them; and ED-318 export read back (fixtures and arbitrary zones).

use std::path::Path;

use chrono::{DateTime, NaiveTime, Utc, Weekday};
use entente_geo::{Circle, LatLng, Outline, Polygon};
use entente_geozones::{
    Authority, DailyPeriod, DataSet, Directive, Format, Level, NoTerrain, Purpose, Reason, Restriction, Text,
    TimeOfDay, TimePeriod, Unit, Variant, VerticalReference, Zone, ZoneVolume, directive, export_ed318,
    parse,
};
use proptest::prelude::*;

fn fixture(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn load(name: &str) -> (Format, DataSet) {
    parse(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// ED-269 texts have no language, ED-318's have one: compare zones without it.
fn without_langs(mut zones: Vec<Zone>) -> Vec<Zone> {
    let strip = |texts: &mut Vec<Text>| texts.iter_mut().for_each(|t| t.lang = None);
    for z in &mut zones {
        strip(&mut z.name);
        strip(&mut z.message);
        strip(&mut z.other_reason_info);
        for a in &mut z.authorities {
            strip(&mut a.name);
            strip(&mut a.service);
            strip(&mut a.contact_name);
        }
    }
    zones
}

#[test]
fn both_formats_of_one_data_set_give_the_same_zones() {
    let (f269, ed269) = load("lausanne-ed269.json");
    let (f318, ed318) = load("lausanne-ed318.json");
    assert_eq!((f269, f318), (Format::Ed269, Format::Ed318));
    assert_eq!(ed269.zones.len(), 4);
    assert_eq!(without_langs(ed318.zones.clone()), ed269.zones);

    let [lsgl, chuv, vidy, ouchy] = &ed269.zones[..] else { panic!("four zones") };
    assert_eq!((lsgl.identifier.as_str(), lsgl.restriction), ("LSGL", Restriction::Prohibited));
    assert_eq!(lsgl.applicability, vec![TimePeriod::default()], "permanent");
    assert!(matches!(&lsgl.volumes[0].outline, Outline::Circle(c) if c.radius_m() == 2000.0));
    assert_eq!(chuv.restriction, Restriction::ReqAuthorisation);
    assert_eq!(chuv.volumes[0].unit, Unit::Feet);
    assert_eq!(chuv.volumes[0].upper, Some(Level { value: 2500.0, reference: VerticalReference::Amsl }));
    assert_eq!(chuv.applicability[0].schedule[0].days.len(), 5);
    assert_eq!(chuv.authorities[0].interval_before.as_deref(), Some("PT2H"));
    assert_eq!(
        vidy.restriction_conditions.as_deref(),
        Some("Visual line of sight only\nNo flight over bathers")
    );
    assert_eq!(vidy.uspace_class, ["OPEN", "SPECIFIC"]);
    assert_eq!(vidy.volumes.len(), 2);
    assert_eq!(vidy.volumes[1].lower, None, "from the surface");
    assert_eq!(
        (ouchy.restriction, ouchy.applicability.clone()),
        (Restriction::Conditional, vec![TimePeriod::default()])
    );
}

/// ED-269's exchange format: zones under `UASZoneList` beside `formatVersion` and `createdAt`, limits as numeric
/// strings, "no daily restriction" as an empty `dailyPeriod` entry, and every limit's reference given even when
/// the limit is not. The same zones as the schema format's file (the lakeside one on AMSL, ED-269 having no W84).
#[test]
fn the_exchange_format_of_ed269_gives_the_same_zones() {
    let (_, schema) = load("lausanne-ed269.json");
    let (format, exchange) = load("lausanne-ed269-exchange.json");
    assert_eq!(format, Format::Ed269);
    assert_eq!(exchange.zones[..2], schema.zones[..2]);
    let vidy = &exchange.zones[2];
    assert_eq!(vidy.identifier, "VIDY");
    assert_eq!(vidy.volumes[0].upper.map(|l| l.reference), Some(VerticalReference::Amsl));
    assert_eq!(vidy.volumes[1].lower, None);
}

/// Each malformed file is refused with the feature, the field's JSON path and the rule.
#[test]
fn malformed_data_sets_name_the_feature_the_field_and_the_rule() {
    let cases = [
        (
            "bad-radius-ed269.json",
            "feature 0 (\"LSGL\"): $.features[0].geometry[0].horizontalProjection.radius: \
             circle radius -2000 m must be greater than 0",
        ),
        (
            "bad-reference-ed269.json",
            "feature 2 (\"VIDY\"): $.features[2].geometry[1].upperVerticalReference: is required",
        ),
        (
            "bad-type-ed318.json",
            "feature 1 (\"CHUV\"): $.features[1].properties.type: \"REQ_AUTHORISATION\" is not one of \
             PROHIBITED, REQ_AUTHORIZATION, CONDITIONAL, NO_RESTRICTION, USPACE",
        ),
        (
            "bad-polygon-ed318.json",
            "feature 2 (\"VIDY\"): $.features[2].geometry.geometries[0].coordinates[0]: edges 1 and 3 cross",
        ),
    ];
    for (name, expected) in cases {
        let e = parse(&fixture(name)).expect_err(name);
        assert_eq!(e.to_string(), expected, "{name}");
    }
    let e = parse(&fixture("bad-metadata-ed318.json")).unwrap_err();
    assert_eq!(
        e.to_string(),
        "$.metadata.validFrom: \"tomorrow\" is not an RFC 3339 date and time (premature end of input)"
    );
    let e = parse(&fixture("truncated.json")).unwrap_err();
    assert!(e.to_string().starts_with("not JSON: EOF while parsing"), "{e}");
}

/// The planner's view over a week in July 2026: the aerodrome a constraint at its widest (no terrain model),
/// the helipad an advisory on weekdays only with its contact, the lakeside a condition for the whole week.
#[test]
fn zones_as_the_planner_takes_them() {
    let (_, data) = load("lausanne-ed269.json");
    let (monday, next_monday) = (at("2026-07-06T00:00:00Z"), at("2026-07-13T00:00:00Z"));
    let d: Vec<Directive> =
        data.zones.iter().map(|z| directive(z, monday, next_monday, &NoTerrain).unwrap()).collect();

    let Directive::Constraint(lsgl) = &d[0] else { panic!("a prohibited zone is a constraint: {:?}", d[0]) };
    assert!(lsgl.ground_unknown);
    assert_eq!(lsgl.volumes.len(), 1);
    let v = &lsgl.volumes[0];
    assert_eq!((v.time.lo, v.time.hi), (Some(monday), Some(next_monday)));
    let (lo, hi) = (v.altitude.lo.unwrap(), v.altitude.hi.unwrap());
    // The geoid lies about 50 m above the ellipsoid at Lausanne.
    assert!((-385.0..-375.0).contains(&lo) && (8_995.0..9_055.0).contains(&hi), "{lo}..{hi}");

    let Directive::Advisory(chuv) = &d[1] else { panic!("an authorisation zone is an advisory") };
    assert_eq!(chuv.restriction, Restriction::ReqAuthorisation);
    assert!(!chuv.ground_unknown);
    let days: Vec<_> = chuv.volumes.iter().map(|v| (v.time.lo.unwrap(), v.time.hi.unwrap())).collect();
    assert_eq!(days.len(), 5, "weekdays only");
    assert_eq!(days[0], (at("2026-07-06T07:00:00Z"), at("2026-07-06T19:00:00Z")));
    let (lo, hi) = (chuv.volumes[0].altitude.lo.unwrap(), chuv.volumes[0].altitude.hi.unwrap());
    assert!(
        (365.76 + 49.0..365.76 + 52.0).contains(&lo) && (762.0 + 49.0..762.0 + 52.0).contains(&hi),
        "{lo}..{hi}"
    );
    assert_eq!(chuv.message[0].text, "Rescue helicopters land here on weekdays: ask the hospital first");
    assert_eq!(chuv.contacts[0].email.as_deref(), Some("helipad@example.org"));

    let Directive::Advisory(vidy) = &d[2] else { panic!("a conditional zone is an advisory") };
    assert_eq!(vidy.conditions.as_deref(), Some("Visual line of sight only\nNo flight over bathers"));
    assert_eq!(vidy.volumes.len(), 2);
    assert_eq!(vidy.volumes[1].altitude.lo, None);
    assert_eq!(vidy.volumes[1].altitude.hi, Some(400.0));

    // Out of season, the lakeside zone has no volume; nothing applies before the helipad's period either.
    let winter =
        directive(&data.zones[2], at("2026-12-01T00:00:00Z"), at("2026-12-02T00:00:00Z"), &NoTerrain);
    assert!(winter.unwrap().volumes().is_empty());
}

#[test]
fn export_of_the_sample_reads_back_the_same() {
    let (_, data) = load("lausanne-ed269.json");
    let exported = export_ed318(&data.zones).unwrap();
    insta::assert_json_snapshot!("lausanne_ed318_export", exported);
    let (format, back) = parse(&exported.to_string()).unwrap();
    assert_eq!(format, Format::Ed318);
    assert_eq!(back, data);
}

#[test]
fn export_refuses_what_ed318_cannot_hold() {
    let (_, mut data) = load("lausanne-ed269.json");
    data.zones[1].identifier = "Lausanne hospital".into();
    let e = export_ed318(&data.zones).unwrap_err();
    assert_eq!(
        e.to_string(),
        "feature 1 (\"Lausanne hospital\"): cannot export identifier: \"Lausanne hospital\" is longer than 7 characters"
    );
    let (_, mut data) = load("lausanne-ed269.json");
    data.zones[2].authorities[0].purpose = None;
    assert_eq!(
        export_ed318(&data.zones).unwrap_err().rule(),
        Some("ED-318 requires each authority's purpose")
    );
}

// Arbitrary zones for the round trip. Coordinates are on a 1e-7 degree grid (about 1 cm, finer than data
// sets publish) and altitudes on centimetres, so their decimal text reads back as the same numbers.

fn grid(range: std::ops::Range<i64>, scale: f64) -> impl Strategy<Value = f64> {
    range.prop_map(move |i| i as f64 / scale)
}

fn arb_text() -> impl Strategy<Value = Text> {
    ("[a-zA-Z0-9 ,.'-]{0,40}", prop::option::of(prop::sample::select(vec!["en", "fr-CH", "de"])))
        .prop_map(|(text, lang)| Text { text, lang: lang.map(str::to_owned) })
}

fn arb_texts() -> impl Strategy<Value = Vec<Text>> {
    prop::collection::vec(arb_text(), 0..3)
}

fn arb_outline() -> impl Strategy<Value = Outline> {
    let center = || (grid(-800_000_000..800_000_000, 1e7), grid(-1_790_000_000..1_790_000_000, 1e7));
    prop_oneof![
        (center(), grid(100..10_000_000, 100.0))
            .prop_map(|((lat, lng), r)| Outline::Circle(Circle::new(LatLng::new(lat, lng), r).unwrap())),
        // A star-shaped ring: sorted angles, radii up to about 5 km.
        (center(), prop::collection::btree_set(0u32..360, 3..9), prop::collection::vec(100i64..50_000, 9))
            .prop_filter_map("a valid polygon", |((lat, lng), angles, radii)| {
                let vertices = angles
                    .iter()
                    .zip(&radii)
                    .map(|(a, r)| {
                        let (s, c) = (*a as f64).to_radians().sin_cos();
                        let round = |v: f64| (v * 1e7).round() / 1e7;
                        LatLng::new(round(lat + s * *r as f64 / 1e7), round(lng + c * *r as f64 / 1e7))
                    })
                    .collect();
                Polygon::new(vertices).ok().map(Outline::Polygon)
            }),
    ]
}

fn arb_level() -> impl Strategy<Value = Option<Level>> {
    let reference =
        prop::sample::select(vec![VerticalReference::Agl, VerticalReference::Amsl, VerticalReference::W84]);
    prop::option::of(
        (grid(-50_000..1_000_000, 100.0), reference)
            .prop_map(|(value, reference)| Level { value, reference }),
    )
}

fn arb_volume() -> impl Strategy<Value = ZoneVolume> {
    (arb_outline(), arb_level(), arb_level(), prop::sample::select(vec![Unit::Metres, Unit::Feet])).prop_map(
        |(outline, a, b, unit)| {
            // Limits on one reference are not upside down, as the import demands.
            let (lower, upper) = match (a, b) {
                (Some(x), Some(y)) if x.reference == y.reference && x.value > y.value => (b, a),
                _ => (a, b),
            };
            ZoneVolume { outline, lower, upper, unit }
        },
    )
}

fn arb_time_of_day() -> impl Strategy<Value = TimeOfDay> {
    (0u32..86_400, prop::sample::select(vec![0u32, 500_000_000]), -48i32..=56).prop_map(|(s, nanos, q)| {
        TimeOfDay {
            time: NaiveTime::from_num_seconds_from_midnight_opt(s, nanos).unwrap(),
            offset: chrono::FixedOffset::east_opt(q * 900).unwrap(),
        }
    })
}

fn arb_period() -> impl Strategy<Value = TimePeriod> {
    let instant = (1_700_000_000i64..1_900_000_000).prop_map(|s| DateTime::from_timestamp(s, 0).unwrap());
    let daily = (prop::collection::btree_set(0u8..7, 1..=7), arb_time_of_day(), arb_time_of_day()).prop_map(
        |(days, start, end)| DailyPeriod {
            days: days.into_iter().map(|d| Weekday::try_from(d).unwrap()).collect(),
            start,
            end,
        },
    );
    (prop::option::of(instant.clone()), prop::option::of(instant), prop::collection::vec(daily, 0..3))
        .prop_filter("end after start", |(s, e, _)| !matches!((s, e), (Some(s), Some(e)) if e <= s))
        .prop_map(|(start, end, schedule)| TimePeriod { start, end, schedule })
}

fn arb_authority() -> impl Strategy<Value = Authority> {
    let purpose =
        prop::sample::select(vec![Purpose::Authorization, Purpose::Notification, Purpose::Information]);
    let opt = || prop::option::of("[a-z0-9@.:/+ -]{1,30}");
    (
        arb_texts(),
        arb_texts(),
        arb_texts(),
        opt(),
        opt(),
        opt(),
        purpose,
        prop::option::of(Just("PT1H".to_owned())),
    )
        .prop_map(|(name, service, contact_name, site_url, email, phone, purpose, interval_before)| {
            Authority {
                name,
                service,
                contact_name,
                site_url,
                email,
                phone,
                purpose: Some(purpose),
                interval_before,
            }
        })
}

fn arb_zone() -> impl Strategy<Value = Zone> {
    let restriction = prop::sample::select(vec![
        Restriction::Prohibited,
        Restriction::ReqAuthorisation,
        Restriction::Conditional,
        Restriction::NoRestriction,
        Restriction::USpace,
    ]);
    let reasons = prop::collection::vec(
        prop::sample::select(vec![
            Reason::AirTraffic,
            Reason::Nature,
            Reason::ForeignTerritory,
            Reason::Dar,
            Reason::Other,
        ]),
        0..4,
    );
    (
        (
            "[A-Z0-9]{1,7}",
            "[A-Z]{3}",
            arb_texts(),
            restriction,
            prop::sample::select(vec![Variant::Common, Variant::Customized]),
        ),
        (
            prop::option::of("[a-z \n]{1,40}"),
            prop::option::of(-5i64..100),
            reasons,
            arb_texts(),
            prop::option::of(any::<bool>()),
        ),
        (
            prop::collection::vec("[A-Z]{4,9}", 0..3),
            arb_texts(),
            prop::collection::vec(arb_authority(), 0..3),
        ),
        (prop::collection::vec(arb_period(), 0..3), prop::collection::vec(arb_volume(), 1..4)),
    )
        .prop_map(
            |(
                (identifier, country, name, restriction, variant),
                (restriction_conditions, region, reasons, other_reason_info, regulation_exemption),
                (uspace_class, message, authorities),
                (applicability, volumes),
            )| Zone {
                identifier,
                country,
                name,
                restriction,
                variant,
                restriction_conditions,
                region,
                reasons,
                other_reason_info,
                regulation_exemption,
                uspace_class,
                message,
                authorities,
                applicability,
                volumes,
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]
    /// Export then import gives the same zones.
    #[test]
    fn ed318_export_reads_back_the_same_zones(zones in prop::collection::vec(arb_zone(), 0..4)) {
        let text = export_ed318(&zones).unwrap().to_string();
        let (format, back) = parse(&text).unwrap();
        prop_assert_eq!(format, Format::Ed318);
        prop_assert_eq!(back.zones, zones);
    }
}

/// Every JSON pointer into a document, root excluded.
fn pointers(value: &serde_json::Value, at: String, out: &mut Vec<String>) {
    let children: Vec<(String, &serde_json::Value)> = match value {
        serde_json::Value::Object(m) => m.iter().map(|(k, v)| (format!("{at}/{k}"), v)).collect(),
        serde_json::Value::Array(a) => a.iter().enumerate().map(|(i, v)| (format!("{at}/{i}"), v)).collect(),
        _ => Vec::new(),
    };
    for (p, v) in children {
        out.push(p.clone());
        pointers(v, p, out);
    }
}

fn arb_json_leaf() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::json;
    prop_oneof![
        Just(json!(null)),
        Just(json!([])),
        Just(json!({})),
        any::<bool>().prop_map(|b| json!(b)),
        any::<i64>().prop_map(|i| json!(i)),
        // On a centi grid, so that decimal text reads back as the same number (see the round trip above).
        (-1_000_000_000i64..1_000_000_000).prop_map(|i| json!(i as f64 / 100.0)),
        Just(json!(1e308)),
        Just(json!("ANY")),
        Just(json!("24:00Z")),
        Just(json!("9999-12-31T23:59:59Z")),
        "[A-Z_]{0,12}".prop_map(|s| json!(s)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    /// Any one field of a sample data set replaced by any JSON value: the import answers (a zone set or an
    /// error) without panicking, and a set it accepts exports (when ED-318 can hold it) and reads back the same.
    #[test]
    fn a_damaged_data_set_is_answered_not_a_crash(
        name in prop::sample::select(vec!["lausanne-ed269.json", "lausanne-ed318.json"]),
        which in any::<prop::sample::Index>(),
        replacement in arb_json_leaf(),
    ) {
        let mut doc: serde_json::Value = serde_json::from_str(&fixture(name)).unwrap();
        let mut all = Vec::new();
        pointers(&doc, String::new(), &mut all);
        let target = which.get(&all).clone();
        *doc.pointer_mut(&target).unwrap() = replacement;
        if let Ok((_, data)) = parse(&doc.to_string())
            && let Ok(exported) = export_ed318(&data.zones)
        {
            let (_, back) = parse(&exported.to_string()).unwrap();
            prop_assert_eq!(back, data);
        }
    }
}
