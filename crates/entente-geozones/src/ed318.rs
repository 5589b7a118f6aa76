//! EUROCAE ED-318 data sets: a GeoJSON `FeatureCollection` whose features carry the zone in `properties` and its
//! volumes as geometries extended with a vertical `layer` (and circles as a `Point` with a `Circle` extent).
//! Read, and written back (`export`).

use chrono::{SecondsFormat, Timelike};
use entente_geo::Outline;
use serde_json::{Map, Value, json};

use crate::common::{self, PURPOSES, REASONS, REFERENCES, VARIANTS, YES_NO};
use crate::error::{FeatureRef, GeozoneError};
use crate::json::{self, Node, Result, UNDETERMINED_LANG, texts};
use crate::model::{
    Authority, DailyPeriod, Level, Restriction, Text, TimeOfDay, TimePeriod, Unit, VerticalReference, Zone,
    ZoneVolume,
};

const RESTRICTIONS: &[(&str, Restriction)] = &[
    ("PROHIBITED", Restriction::Prohibited),
    ("REQ_AUTHORIZATION", Restriction::ReqAuthorisation),
    ("CONDITIONAL", Restriction::Conditional),
    ("NO_RESTRICTION", Restriction::NoRestriction),
    ("USPACE", Restriction::USpace),
];

/// Where our export keeps what ED-318 has no field for, under `extendedProperties`.
const USPACE_CLASS_KEY: &str = "uSpaceClass";

pub(crate) fn features(root: &Node<'_>) -> Result<Vec<Zone>> {
    root.object()?;
    root.get("type").one_of(&[("FeatureCollection", ())])?;
    // The collection's metadata is not part of the model, but a data set with malformed dates is refused.
    let metadata = root.get("metadata");
    if metadata.is_present() {
        metadata.object()?;
        for field in ["validFrom", "validTo", "issued"] {
            metadata.get(field).opt_datetime()?;
        }
    }
    let features = root.get("features").array()?;
    features
        .iter()
        .enumerate()
        .map(|(index, node)| {
            let identifier =
                node.get("properties").get("identifier").opt_str().ok().flatten().map(str::to_owned);
            let feature = FeatureRef { index, identifier };
            zone(node).map_err(|e| json::in_feature(e, &feature))
        })
        .collect()
}

fn zone(node: &Node<'_>) -> Result<Zone> {
    node.object()?;
    node.get("type").one_of(&[("Feature", ())])?;
    let props = node.get("properties");
    props.object()?;
    let mut volumes = Vec::new();
    geometry(&node.get("geometry"), None, &mut volumes)?;
    let extended = props.get("extendedProperties");
    let uspace_class = extended
        .get(USPACE_CLASS_KEY)
        .opt_array()?
        .iter()
        .map(|c| c.str().map(str::to_owned))
        .collect::<Result<_>>()?;
    Ok(Zone {
        identifier: props.get("identifier").str()?.to_owned(),
        country: props.get("country").str()?.to_owned(),
        name: texts(&props.get("name"))?,
        restriction: props.get("type").one_of(RESTRICTIONS)?,
        variant: props.get("variant").one_of(VARIANTS)?,
        restriction_conditions: props.get("restrictionConditions").opt_str()?.map(str::to_owned),
        region: props.get("region").opt_i64()?,
        reasons: common::reasons(&props.get("reason"))?,
        other_reason_info: texts(&props.get("otherReasonInfo"))?,
        regulation_exemption: props.get("regulationExemption").opt_one_of(YES_NO)?,
        uspace_class,
        message: texts(&props.get("message"))?,
        authorities: props
            .get("zoneAuthority")
            .opt_array()?
            .iter()
            .map(common::authority)
            .collect::<Result<_>>()?,
        applicability: props
            .get("limitedApplicability")
            .opt_array()?
            .iter()
            .map(|p| common::time_period(p, false))
            .collect::<Result<_>>()?,
        volumes,
    })
}

/// A vertical layer: limits in `uom` (metres unless given) above their references.
#[derive(Clone, Copy)]
struct Layer {
    lower: Option<Level>,
    upper: Option<Level>,
    unit: Unit,
}

fn layer(node: &Node<'_>) -> Result<Option<Layer>> {
    if !node.is_present() {
        return Ok(None);
    }
    node.object()?;
    let uom = node.get("uom");
    let unit = if uom.is_present() { common::unit_from(&uom, "m", "ft")? } else { Unit::Metres };
    let lower = common::level(node, "lower", "lowerReference")?;
    let upper = common::level(node, "upper", "upperReference")?;
    common::check_limits(node, lower, upper, "lower")?;
    Ok(Some(Layer { lower, upper, unit }))
}

/// Adds the volumes of a geometry, whose own layer wins over the one of the collection holding it. A volume
/// without any layer spans from the surface without upper limit.
fn geometry(node: &Node<'_>, inherited: Option<Layer>, out: &mut Vec<ZoneVolume>) -> Result<()> {
    node.object()?;
    let layer = layer(&node.get("layer"))?.or(inherited);
    let volume = |outline: Outline| {
        let Layer { lower, upper, unit } =
            layer.unwrap_or(Layer { lower: None, upper: None, unit: Unit::Metres });
        ZoneVolume { outline, lower, upper, unit }
    };
    let kind = node.get("type");
    match kind.str()? {
        "Polygon" => out.push(volume(common::polygon(&node.get("coordinates"))?)),
        "MultiPolygon" => {
            let polygons = node.get("coordinates").array()?;
            if polygons.is_empty() {
                return Err(node.get("coordinates").err("must hold at least one polygon"));
            }
            for p in polygons {
                out.push(volume(common::polygon(&p)?));
            }
        }
        "Point" => {
            let extent = node.get("extent");
            if !extent.is_present() {
                return Err(extent.err("a Point is an area only with a Circle extent"));
            }
            extent.get("subType").one_of(&[("Circle", ())])?;
            out.push(volume(common::circle(&node.get("coordinates"), &extent.get("radius"))?));
        }
        "GeometryCollection" => {
            let members = node.get("geometries").array()?;
            if members.is_empty() {
                return Err(node.get("geometries").err("must hold at least one geometry"));
            }
            for member in members {
                geometry(&member, layer, out)?;
            }
        }
        other => {
            return Err(kind.err(format!(
                "{other:?} is not an area: a zone is a Polygon, a MultiPolygon, a Point with a Circle extent, \
                 or a GeometryCollection of these"
            )));
        }
    }
    Ok(())
}

/// The zones as an ED-318 data set (a GeoJSON `FeatureCollection`). Importing it gives the same zones. Refused,
/// naming the zone and field, when a zone breaks a rule of ED-318's schema that the other format does not have
/// (an identifier of more than 7 characters, a country code not of 3, a text longer than 200).
pub fn export(zones: &[Zone]) -> std::result::Result<Value, GeozoneError> {
    let features = zones
        .iter()
        .enumerate()
        .map(|(index, zone)| {
            feature(zone).map_err(|(field, rule)| GeozoneError::Export {
                feature: FeatureRef { index, identifier: Some(zone.identifier.clone()) },
                field,
                rule,
            })
        })
        .collect::<std::result::Result<Vec<_>, _>>()?;
    Ok(json!({"type": "FeatureCollection", "features": features}))
}

type ExportResult<T> = std::result::Result<T, (&'static str, String)>;

fn feature(zone: &Zone) -> ExportResult<Value> {
    if zone.identifier.chars().count() > 7 {
        return Err(("identifier", format!("{:?} is longer than 7 characters", zone.identifier)));
    }
    if zone.country.chars().count() != 3 {
        return Err(("country", format!("{:?} is not a 3-letter code", zone.country)));
    }
    // What the import refuses is not written either, so that every export reads back.
    if zone.volumes.is_empty() {
        return Err(("geometry", "a zone needs at least one volume".into()));
    }
    for period in &zone.applicability {
        if let (Some(start), Some(end)) = (period.start, period.end)
            && end <= start
        {
            return Err((
                "limitedApplicability",
                format!("a period ends ({end}) before it starts ({start})"),
            ));
        }
        if period.schedule.iter().any(|d| d.days.is_empty()) {
            return Err(("limitedApplicability", "a daily period names no day".into()));
        }
    }
    let mut p = Map::new();
    p.insert("identifier".into(), json!(zone.identifier));
    p.insert("country".into(), json!(zone.country));
    put_texts(&mut p, "name", &zone.name)?;
    p.insert("type".into(), json!(code(RESTRICTIONS, zone.restriction)));
    p.insert("variant".into(), json!(code(VARIANTS, zone.variant)));
    if let Some(c) = &zone.restriction_conditions {
        p.insert("restrictionConditions".into(), json!(c));
    }
    if let Some(r) = zone.region {
        p.insert("region".into(), json!(r));
    }
    if !zone.reasons.is_empty() {
        p.insert("reason".into(), zone.reasons.iter().map(|r| json!(code(REASONS, *r))).collect());
    }
    put_texts(&mut p, "otherReasonInfo", &zone.other_reason_info)?;
    if let Some(e) = zone.regulation_exemption {
        p.insert("regulationExemption".into(), json!(code(YES_NO, e)));
    }
    put_texts(&mut p, "message", &zone.message)?;
    p.insert(
        "zoneAuthority".into(),
        zone.authorities.iter().map(authority).collect::<ExportResult<Value>>()?,
    );
    if !zone.applicability.is_empty() {
        p.insert("limitedApplicability".into(), zone.applicability.iter().map(period).collect());
    }
    if !zone.uspace_class.is_empty() {
        p.insert("extendedProperties".into(), json!({USPACE_CLASS_KEY: zone.uspace_class}));
    }
    let geometry = match zone.volumes.as_slice() {
        [one] => volume_geometry(one),
        many => {
            json!({"type": "GeometryCollection", "geometries": many.iter().map(volume_geometry).collect::<Vec<_>>()})
        }
    };
    Ok(json!({"type": "Feature", "geometry": geometry, "properties": p}))
}

fn code<T: PartialEq + Copy>(table: &[(&'static str, T)], value: T) -> &'static str {
    // Every table lists every value, so the empty fallback is never written.
    table.iter().find(|(_, v)| *v == value).map(|(c, _)| *c).unwrap_or("")
}

fn put_texts(p: &mut Map<String, Value>, field: &'static str, texts: &[Text]) -> ExportResult<()> {
    if texts.is_empty() {
        return Ok(());
    }
    let mut items = Vec::new();
    for t in texts {
        if t.text.chars().count() > 200 {
            return Err((field, "a text is longer than 200 characters".into()));
        }
        let lang = t.lang.as_deref().unwrap_or(UNDETERMINED_LANG);
        if lang.chars().count() > 5 {
            return Err((field, format!("language tag {lang:?} is longer than 5 characters")));
        }
        items.push(json!({"text": t.text, "lang": lang}));
    }
    p.insert(field.into(), Value::Array(items));
    Ok(())
}

fn authority(a: &Authority) -> ExportResult<Value> {
    let mut o = Map::new();
    put_texts(&mut o, "name", &a.name)?;
    put_texts(&mut o, "service", &a.service)?;
    put_texts(&mut o, "contactName", &a.contact_name)?;
    for (field, value) in [
        ("siteURL", &a.site_url),
        ("email", &a.email),
        ("phone", &a.phone),
        ("intervalBefore", &a.interval_before),
    ] {
        if let Some(v) = value {
            o.insert(field.into(), json!(v));
        }
    }
    // ED-269 lets an authority go without a purpose; ED-318 does not, and guessing one would misinform.
    let Some(purpose) = a.purpose else {
        return Err(("zoneAuthority", "ED-318 requires each authority's purpose".into()));
    };
    o.insert("purpose".into(), json!(code(PURPOSES, purpose)));
    Ok(Value::Object(o))
}

fn period(t: &TimePeriod) -> Value {
    let mut o = Map::new();
    if let Some(s) = t.start {
        o.insert("startDateTime".into(), json!(s.to_rfc3339_opts(SecondsFormat::AutoSi, true)));
    }
    if let Some(e) = t.end {
        o.insert("endDateTime".into(), json!(e.to_rfc3339_opts(SecondsFormat::AutoSi, true)));
    }
    if !t.schedule.is_empty() {
        o.insert("schedule".into(), t.schedule.iter().map(daily).collect());
    }
    Value::Object(o)
}

fn daily(d: &DailyPeriod) -> Value {
    let days: Vec<&str> = if d.days.len() == 7 {
        vec!["ANY"]
    } else {
        d.days.iter().map(|day| common::day_code(*day)).collect()
    };
    json!({"day": days, "startTime": time_of_day(d.start), "endTime": time_of_day(d.end)})
}

pub(crate) fn time_of_day(t: TimeOfDay) -> String {
    let clock =
        if t.time.nanosecond() == 0 { t.time.format("%H:%M:%S") } else { t.time.format("%H:%M:%S%.f") };
    let offset = t.offset.local_minus_utc();
    if offset == 0 {
        format!("{clock}Z")
    } else {
        let sign = if offset < 0 { '-' } else { '+' };
        let minutes = offset.abs() / 60;
        format!("{clock}{sign}{:02}:{:02}", minutes / 60, minutes % 60)
    }
}

fn volume_geometry(v: &ZoneVolume) -> Value {
    let mut layer = Map::new();
    let reference = |r: VerticalReference| code(REFERENCES, r);
    if let Some(u) = v.upper {
        layer.insert("upper".into(), json!(u.value));
        layer.insert("upperReference".into(), json!(reference(u.reference)));
    }
    if let Some(l) = v.lower {
        layer.insert("lower".into(), json!(l.value));
        layer.insert("lowerReference".into(), json!(reference(l.reference)));
    }
    layer.insert(
        "uom".into(),
        json!(match v.unit {
            Unit::Metres => "m",
            Unit::Feet => "ft",
        }),
    );
    match &v.outline {
        Outline::Circle(c) => json!({
            "type": "Point",
            "coordinates": [c.center().lng, c.center().lat],
            "extent": {"subType": "Circle", "radius": c.radius_m()},
            "layer": layer,
        }),
        Outline::Polygon(p) => {
            let mut ring: Vec<Value> = p.vertices().iter().map(|v| json!([v.lng, v.lat])).collect();
            ring.push(ring[0].clone());
            json!({"type": "Polygon", "coordinates": [ring], "layer": layer})
        }
    }
}
