//! What ED-269 and ED-318 share: code lists, authorities, time periods, and GeoJSON-ordered coordinates turned
//! into validated outlines.

use chrono::Weekday;
use entente_geo::{Circle, LatLng, Outline, Polygon};

use crate::json::{Node, Result, texts};
use crate::model::{
    Authority, DailyPeriod, Level, Purpose, Reason, TimePeriod, Unit, Variant, VerticalReference,
};

pub(crate) const VARIANTS: &[(&str, Variant)] =
    &[("COMMON", Variant::Common), ("CUSTOMIZED", Variant::Customized)];

pub(crate) const REASONS: &[(&str, Reason)] = &[
    ("AIR_TRAFFIC", Reason::AirTraffic),
    ("SENSITIVE", Reason::Sensitive),
    ("PRIVACY", Reason::Privacy),
    ("POPULATION", Reason::Population),
    ("NATURE", Reason::Nature),
    ("NOISE", Reason::Noise),
    ("FOREIGN_TERRITORY", Reason::ForeignTerritory),
    ("EMERGENCY", Reason::Emergency),
    ("DAR", Reason::Dar),
    ("OTHER", Reason::Other),
];

pub(crate) const PURPOSES: &[(&str, Purpose)] = &[
    ("AUTHORIZATION", Purpose::Authorization),
    ("NOTIFICATION", Purpose::Notification),
    ("INFORMATION", Purpose::Information),
];

pub(crate) const YES_NO: &[(&str, bool)] = &[("YES", true), ("NO", false)];

/// ED-269 writes `W84`, ED-318 `WGS84`; both are read in either format.
pub(crate) const REFERENCES: &[(&str, VerticalReference)] = &[
    ("AGL", VerticalReference::Agl),
    ("AMSL", VerticalReference::Amsl),
    ("WGS84", VerticalReference::W84),
    ("W84", VerticalReference::W84),
];

const DAYS: &[(&str, Option<Weekday>)] = &[
    ("MON", Some(Weekday::Mon)),
    ("TUE", Some(Weekday::Tue)),
    ("WED", Some(Weekday::Wed)),
    ("THU", Some(Weekday::Thu)),
    ("FRI", Some(Weekday::Fri)),
    ("SAT", Some(Weekday::Sat)),
    ("SUN", Some(Weekday::Sun)),
    ("ANY", None),
];

/// The code ED formats give a day.
pub(crate) fn day_code(day: Weekday) -> &'static str {
    DAYS.iter().find(|(_, d)| *d == Some(day)).map(|(code, _)| *code).unwrap_or("ANY")
}

pub(crate) fn unit_from(node: &Node<'_>, metres: &str, feet: &str) -> Result<Unit> {
    node.one_of(&[(metres, Unit::Metres), (feet, Unit::Feet)])
}

pub(crate) fn reasons(node: &Node<'_>) -> Result<Vec<Reason>> {
    let items = node.opt_array()?;
    if items.len() > 9 {
        return Err(node.err(format!("has {} reasons, at most 9 are allowed", items.len())));
    }
    items.iter().map(|item| item.one_of(REASONS)).collect()
}

pub(crate) fn authority(node: &Node<'_>) -> Result<Authority> {
    node.object()?;
    Ok(Authority {
        name: texts(&node.get("name"))?,
        service: texts(&node.get("service"))?,
        contact_name: texts(&node.get("contactName"))?,
        site_url: node.get("siteURL").opt_str()?.map(str::to_owned),
        email: node.get("email").opt_str()?.map(str::to_owned),
        phone: node.get("phone").opt_str()?.map(str::to_owned),
        purpose: node.get("purpose").opt_one_of(PURPOSES)?,
        interval_before: node.get("intervalBefore").opt_str()?.map(str::to_owned),
    })
}

/// A time period (ED-269 `applicability[i]`, ED-318 `limitedApplicability[i]`). `permanent` is ED-269's flag:
/// a permanent period may give no bounds and no schedule, which would contradict it.
pub(crate) fn time_period(node: &Node<'_>, permanent: bool) -> Result<TimePeriod> {
    node.object()?;
    let (schedule_node, schedule) = schedule(node)?;
    if permanent {
        for field in ["startDateTime", "endDateTime"] {
            let f = node.get(field);
            if f.is_present() {
                return Err(f.err("a permanent period (permanent: YES) has no bounds or schedule"));
            }
        }
        if !schedule.is_empty() {
            return Err(schedule_node.err("a permanent period (permanent: YES) has no bounds or schedule"));
        }
        return Ok(TimePeriod::default());
    }
    let start = node.get("startDateTime").opt_datetime()?;
    let end = node.get("endDateTime").opt_datetime()?;
    if let (Some(s), Some(e)) = (start, end)
        && e <= s
    {
        return Err(node.get("endDateTime").err("must be after startDateTime"));
    }
    if schedule_node.is_present() && schedule_node.opt_array()?.is_empty() {
        return Err(schedule_node.err("must hold at least one daily period when given"));
    }
    Ok(TimePeriod { start, end, schedule })
}

/// A period's daily periods: `schedule` (ED-318, and ED-269's JSON schema) or `dailyPeriod` (ED-269's exchange
/// format, whose samples give `{"day": [], "startTime": null, "endTime": null}` for "no daily restriction":
/// an entry naming no day and no time restricts nothing and is skipped).
fn schedule<'a>(node: &Node<'a>) -> Result<(Node<'a>, Vec<DailyPeriod>)> {
    let daily = node.get("dailyPeriod");
    let field =
        if node.get("schedule").is_present() || !daily.is_present() { node.get("schedule") } else { daily };
    let mut periods = Vec::new();
    for entry in field.opt_array()? {
        let unrestricted = entry.get("day").opt_array()?.is_empty()
            && ["startTime", "endTime", "startEvent", "endEvent"].iter().all(|f| !entry.get(f).is_present());
        if !unrestricted {
            periods.push(daily_period(&entry)?);
        }
    }
    Ok((field, periods))
}

fn daily_period(node: &Node<'_>) -> Result<DailyPeriod> {
    node.object()?;
    for event in ["startEvent", "endEvent"] {
        let f = node.get(event);
        if f.is_present() {
            return Err(
                f.err("daylight events (sunrise, sunset, civil twilight) are not supported; give a time")
            );
        }
    }
    let day_node = node.get("day");
    let codes = day_node.array()?;
    if codes.is_empty() {
        return Err(day_node.err("must name at least one day"));
    }
    let mut days = Vec::new();
    for code in &codes {
        match code.one_of(DAYS)? {
            Some(day) => days.push(day),
            None => days.extend([
                Weekday::Mon,
                Weekday::Tue,
                Weekday::Wed,
                Weekday::Thu,
                Weekday::Fri,
                Weekday::Sat,
                Weekday::Sun,
            ]),
        }
    }
    days.sort_by_key(|d| d.num_days_from_monday());
    days.dedup();
    Ok(DailyPeriod {
        days,
        start: node.get("startTime").time_of_day()?,
        end: node.get("endTime").time_of_day()?,
    })
}

/// A GeoJSON position, `[longitude, latitude, ...]`.
pub(crate) fn position(node: &Node<'_>) -> Result<LatLng> {
    let items = node.array()?;
    if items.len() < 2 {
        return Err(node.err("a position needs longitude and latitude"));
    }
    let (lng, lat) = (items[0].f64()?, items[1].f64()?);
    if !(-90.0..=90.0).contains(&lat) {
        return Err(items[1].err(format!("latitude {lat} is outside [-90, 90]")));
    }
    if !(-180.0..=180.0).contains(&lng) {
        return Err(items[0].err(format!("longitude {lng} is outside [-180, 180]")));
    }
    Ok(LatLng::new(lat, lng))
}

/// A GeoJSON polygon's rings: one exterior ring, no holes. Repeated consecutive positions (data sets have
/// them, InterUSS's Swiss sample among them) and the closing position are dropped before validation.
pub(crate) fn polygon(node: &Node<'_>) -> Result<Outline> {
    let rings = node.array()?;
    match rings.len() {
        0 => return Err(node.err("a polygon needs an exterior ring")),
        1 => {}
        _ => return Err(rings[1].err("polygons with holes (interior rings) are not supported")),
    }
    let mut vertices: Vec<LatLng> = Vec::new();
    for p in rings[0].array()? {
        let p = position(&p)?;
        if vertices.last() != Some(&p) {
            vertices.push(p);
        }
    }
    if vertices.len() > 1 && vertices.first() == vertices.last() {
        vertices.pop();
    }
    Polygon::new(vertices).map(Outline::Polygon).map_err(|e| rings[0].err(e.to_string()))
}

/// A circle; its radius is in metres whatever unit the volume's limits use.
pub(crate) fn circle(center: &Node<'_>, radius: &Node<'_>) -> Result<Outline> {
    let c = position(center)?;
    Circle::new(c, radius.f64()?).map(Outline::Circle).map_err(|e| radius.err(e.to_string()))
}

/// The largest vertical limit taken, in metres or feet: far above any airspace (FL660 is 66 000 ft), so a
/// value beyond it is a mistake; no upper limit is written by leaving the limit out.
pub(crate) const MAX_LIMIT: f64 = 100_000.0;

/// A vertical limit: its value and, required when the value is given, its reference.
pub(crate) fn level(node: &Node<'_>, value_field: &str, reference: &str) -> Result<Option<Level>> {
    let field = node.get(value_field);
    // ED-269's exchange samples write limits as numeric strings ("lowerLimit": "0").
    let Some(value) = field.opt_f64_or_numeric_str()? else { return Ok(None) };
    if value.abs() > MAX_LIMIT {
        return Err(field.err(format!("{value} is beyond ±{MAX_LIMIT}")));
    }
    Ok(Some(Level { value, reference: node.get(reference).one_of(REFERENCES)? }))
}

/// Limits on the same reference must not be upside down (those on different references are compared only once
/// converted, where the place is known).
pub(crate) fn check_limits(
    node: &Node<'_>,
    lower: Option<Level>,
    upper: Option<Level>,
    lower_field: &str,
) -> Result<()> {
    if let (Some(lo), Some(hi)) = (lower, upper)
        && lo.reference == hi.reference
        && lo.value > hi.value
    {
        return Err(node
            .get(lower_field)
            .err(format!("lower limit {} is above upper limit {}", lo.value, hi.value)));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rings_lose_repeats_and_closing_vertex() {
        let doc = json!([[[6.59, 46.53], [6.59, 46.53], [6.63, 46.55], [6.59, 46.55], [6.59, 46.53]]]);
        let Outline::Polygon(p) = polygon(&Node::root(&doc)).unwrap() else { panic!("not a polygon") };
        assert_eq!(p.vertices().len(), 3);
        let doc = json!([
            [[6.59, 46.53], [6.63, 46.55], [6.59, 46.55]],
            [[6.6, 46.54], [6.61, 46.54], [6.6, 46.545]]
        ]);
        let e = polygon(&Node::root(&doc)).unwrap_err();
        assert_eq!(e.to_string(), "$[1]: polygons with holes (interior rings) are not supported");
        let doc = json!([[[6.59, 46.53], [6.63, 46.55], [6.59, 46.55], [6.63, 46.53]]]);
        assert_eq!(polygon(&Node::root(&doc)).unwrap_err().to_string(), "$[0]: edges 0 and 2 cross");
    }

    #[test]
    fn limits_are_within_any_airspace() {
        let doc = json!({"upper": 1.0406413807578301e18, "upperReference": "AGL"});
        let e = level(&Node::root(&doc), "upper", "upperReference").unwrap_err();
        assert_eq!(e.to_string(), "$.upper: 1040641380757830100 is beyond ±100000");
        let doc = json!({"upper": -100000, "upperReference": "AMSL"});
        assert!(level(&Node::root(&doc), "upper", "upperReference").unwrap().is_some());
    }

    #[test]
    fn numeric_strings_are_limits_and_other_strings_are_named() {
        let doc = json!({"upper": " 120 ", "upperReference": "AGL"});
        assert_eq!(
            level(&Node::root(&doc), "upper", "upperReference").unwrap().map(|l| l.value),
            Some(120.0)
        );
        let doc = json!({"upper": "high", "upperReference": "AGL"});
        let e = level(&Node::root(&doc), "upper", "upperReference").unwrap_err();
        assert_eq!(e.to_string(), "$.upper: \"high\" is not a number");
        let doc = json!({"upper": "inf", "upperReference": "AGL"});
        assert!(level(&Node::root(&doc), "upper", "upperReference").is_err());
    }

    #[test]
    fn an_empty_daily_period_restricts_nothing_and_a_partial_one_is_refused() {
        let doc =
            json!({"permanent": "YES", "dailyPeriod": [{"day": [], "startTime": null, "endTime": null}]});
        assert_eq!(time_period(&Node::root(&doc), true).unwrap(), TimePeriod::default());
        let doc = json!({"dailyPeriod": [{"day": [], "startTime": "08:00Z", "endTime": "09:00Z"}]});
        let e = time_period(&Node::root(&doc), false).unwrap_err();
        assert_eq!(e.to_string(), "$.dailyPeriod[0].day: must name at least one day");
        let doc = json!({"permanent": "YES", "schedule": [{"day": ["MON"], "startTime": "08:00Z", "endTime": "09:00Z"}]});
        assert!(time_period(&Node::root(&doc), true).is_err());
    }

    #[test]
    fn any_means_every_day_once() {
        let doc = json!({"day": ["SUN", "ANY", "MON"], "startTime": "08:00Z", "endTime": "09:00Z"});
        assert_eq!(daily_period(&Node::root(&doc)).unwrap().days.len(), 7);
        let doc = json!({"day": ["SUN"], "startEvent": "SR", "endTime": "09:00Z"});
        assert!(
            daily_period(&Node::root(&doc)).unwrap_err().to_string().starts_with("$.startEvent: daylight")
        );
    }
}
