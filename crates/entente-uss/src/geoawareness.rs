//! Geo-awareness: the geographical zone data sets an authority imported into this USS, what each prohibits (the
//! constraints this USS publishes for it, window by window over a rolling horizon) and what each tells the
//! operators of the flights that enter it (advisories with the zone's message, conditions and contacts).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono::{Duration, NaiveTime};
use entente_dss::EntityId;
use entente_geo::Interval;
use entente_geozones::{
    DataSet, Directive, GeozoneError, MAX_INTERVAL_DAYS, NoTerrain, Restriction, Terrain, Zone, ZoneVolume,
    directive, w84_band,
};
use parking_lot::RwLock;
use sha2::{Digest, Sha256};

use crate::{Timestamp, Volume};

/// How many days of a prohibited zone's windows its constraint holds, from the start of the current UTC day: the
/// constraint is published again (with the horizon moved on) when the day changes.
pub const HORIZON_DAYS: i64 = 7;

/// The interval a prohibited zone's constraint covers at `now`: the current UTC day and the following ones, so
/// that two imports the same day publish the same volumes (and an unchanged zone is not written again).
pub fn horizon(now: Timestamp) -> (Timestamp, Timestamp) {
    let start = now.date_naive().and_time(NaiveTime::MIN).and_utc();
    (start, start + Duration::days(HORIZON_DAYS))
}

/// A prohibited zone as this USS publishes it.
#[derive(Clone, Debug, PartialEq)]
pub struct ZoneConstraint {
    /// Stable across imports of the set: the zone's identifier and which of the set's features with that
    /// identifier it is (data sets reuse identifiers).
    pub key: String,
    /// The constraint's id at the DSS, derived from this USS, the set and the key.
    pub id: EntityId,
    /// Each volume in each window in which the zone applies within the horizon; empty when it never does.
    pub volumes: Vec<Volume>,
    /// Some AGL limit was taken at its widest for want of terrain data.
    pub ground_unknown: bool,
}

/// A zone as it applies over an interval: what an operator is shown, or the advice a flight entering it gets.
#[derive(Clone, Debug, PartialEq)]
pub struct ZoneInForce {
    pub set: String,
    pub zone: Zone,
    /// Each volume in each window in which it applies (W84; AGL limits over the terrain's ground, at their widest
    /// where it has no data).
    pub volumes: Vec<Volume>,
    pub ground_unknown: bool,
}

/// The key of each of the set's features (`identifier`, then `#n` for the n-th repeat of an identifier).
fn keyed(data: &DataSet) -> impl Iterator<Item = (String, &Zone)> {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    data.zones.iter().map(move |zone| {
        let n = seen.entry(zone.identifier.as_str()).or_default();
        let key = if *n == 0 { zone.identifier.clone() } else { format!("{}#{n}", zone.identifier) };
        *n += 1;
        (key, zone)
    })
}

/// The id of the constraint `identity` publishes for zone `key` of set `set`: a UUIDv4-shaped digest, so a
/// re-import finds the constraint an earlier import (or run) published without keeping a table of them.
pub fn constraint_id(identity: &str, set: &str, key: &str) -> EntityId {
    let digest = Sha256::digest(format!("{identity}\n{set}\n{key}"));
    let mut b: [u8; 16] = digest[..16].try_into().expect("a SHA-256 digest has 32 bytes");
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    let text = format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..]);
    EntityId::parse(&text).expect("version and variant bits are set")
}

/// The key and constraint id of each of the set's prohibited zones (whether or not it applies now).
pub fn constraint_ids(identity: &str, set: &str, data: &DataSet) -> Vec<(String, EntityId)> {
    keyed(data)
        .filter(|(_, z)| z.restriction == Restriction::Prohibited)
        .map(|(key, _)| {
            let id = constraint_id(identity, set, &key);
            (key, id)
        })
        .collect()
}

/// The set's prohibited zones as constraints over `[from, to)`, AGL limits over `terrain`'s ground.
pub fn prohibited(
    identity: &str,
    set: &str,
    data: &DataSet,
    (from, to): (Timestamp, Timestamp),
    terrain: &dyn Terrain,
) -> Result<Vec<ZoneConstraint>, GeozoneError> {
    keyed(data)
        .filter(|(_, z)| z.restriction == Restriction::Prohibited)
        .map(|(key, zone)| {
            let Directive::Constraint(c) = directive(zone, from, to, terrain)? else {
                unreachable!("a prohibited zone is a constraint")
            };
            let id = constraint_id(identity, set, &key);
            Ok(ZoneConstraint { key, id, volumes: c.volumes, ground_unknown: c.ground_unknown })
        })
        .collect()
}

/// A data set as imported into this USS.
#[derive(Clone, Debug, PartialEq)]
pub struct ZoneSet {
    pub data: DataSet,
    /// The data set as the authority gave it (ED-269 or ED-318 text), which its record keeps, so a reload reads
    /// everything the file said, including what the model does not use.
    pub source: String,
    /// Whether this USS publishes the set's prohibited zones as constraints (the authority's USS does); a USS
    /// that keeps a set only to advise its operators and show them the zones leaves that to the authority's.
    pub publish: bool,
    /// The URL the set was downloaded from, when this USS fetched it itself (a test director's data source);
    /// `None` when an authority handed over its text.
    pub origin: Option<String>,
}

/// The data sets imported into this USS, by name, and the terrain their AGL limits stand on.
pub struct ZoneSets {
    sets: RwLock<BTreeMap<String, ZoneSet>>,
    terrain: Arc<dyn Terrain>,
}

/// No sets, and no terrain model.
impl Default for ZoneSets {
    fn default() -> ZoneSets {
        ZoneSets::new(BTreeMap::new(), Arc::new(NoTerrain))
    }
}

impl ZoneSets {
    /// `sets`, their AGL limits taken over `terrain`'s ground (at their widest, and said so, where it has none).
    pub fn new(sets: BTreeMap<String, ZoneSet>, terrain: Arc<dyn Terrain>) -> ZoneSets {
        ZoneSets { sets: RwLock::new(sets), terrain }
    }

    pub fn terrain(&self) -> &dyn Terrain {
        &*self.terrain
    }

    pub fn get(&self, set: &str) -> Option<ZoneSet> {
        self.sets.read().get(set).cloned()
    }

    /// Every set, by name.
    pub fn all(&self) -> BTreeMap<String, ZoneSet> {
        self.sets.read().clone()
    }

    /// Sets `set` to `data` (`None`: removes it).
    pub fn replace(&self, set: &str, data: Option<ZoneSet>) {
        let mut sets = self.sets.write();
        match data {
            Some(d) => sets.insert(set.to_owned(), d),
            None => sets.remove(set),
        };
    }

    /// Every zone of every set that applies at some time in `[from, to)`, with its volumes in those windows.
    pub fn in_force(&self, from: Timestamp, to: Timestamp) -> Result<Vec<ZoneInForce>, GeozoneError> {
        let sets = self.sets.read();
        let mut found = Vec::new();
        for (set, imported) in sets.iter() {
            for zone in &imported.data.zones {
                let d = directive(zone, from, to, self.terrain())?;
                let ground_unknown = match &d {
                    Directive::Constraint(c) => c.ground_unknown,
                    Directive::Advisory(a) => a.ground_unknown,
                };
                if !d.volumes().is_empty() {
                    let volumes = d.volumes().to_vec();
                    found.push(ZoneInForce { set: set.clone(), zone: zone.clone(), volumes, ground_unknown });
                }
            }
        }
        Ok(found)
    }

    /// The zones other than prohibited ones that apply where and when any of `volumes` flies, each with the
    /// volumes of it the flight enters. An AGL limit counts over the terrain's ground under the zone, at its
    /// widest where the terrain has no data, so a flight is told of every zone it might enter.
    pub fn advice(&self, volumes: &[Volume]) -> Vec<ZoneInForce> {
        let (Some(start), Some(end)) =
            (volumes.iter().filter_map(|v| v.time.lo).min(), volumes.iter().filter_map(|v| v.time.hi).max())
        else {
            return Vec::new();
        };
        if start >= end {
            return Vec::new();
        }
        let sets = self.sets.read();
        let mut found = Vec::new();
        for (set, imported) in sets.iter() {
            for zone in imported.data.zones.iter().filter(|z| z.restriction != Restriction::Prohibited) {
                // The flight's span is bounded by the operator API's own limits, so the windows are few.
                let Ok(Some(Directive::Advisory(advisory))) =
                    entered(zone, start, end, Some(volumes), self.terrain())
                else {
                    continue;
                };
                found.push(ZoneInForce {
                    set: set.clone(),
                    zone: zone.clone(),
                    volumes: advisory.volumes,
                    ground_unknown: advisory.ground_unknown,
                });
            }
        }
        found
    }

    /// Whether any zone `filter` selects applies where and when any of its volumes is (anywhere in its time span
    /// when it has none): the geospatial map a user of this USS would consult, as InterUSS's test interface asks.
    pub fn selects(&self, filter: &MapFilter, now: Timestamp) -> Result<bool, GeozoneError> {
        let sets = self.sets.read();
        let zones: Vec<&Zone> = sets
            .iter()
            .filter(|(set, _)| filter.source.as_ref().is_none_or(|s| s == *set))
            .flat_map(|(_, imported)| imported.data.zones.iter())
            .filter(|z| filter.takes(z))
            .collect();
        if zones.is_empty() {
            return Ok(false);
        }
        let spans: Vec<(Option<Volume>, Timestamp, Timestamp)> = match &filter.volumes {
            None => {
                let (start, end) = filter.span(Interval { lo: None, hi: None }, now);
                vec![(None, start, end)]
            }
            Some(volumes) => volumes
                .iter()
                .map(|v| {
                    let (start, end) = filter.span(v.time, now);
                    let band = w84_band(&v.space, self.terrain());
                    let volume = Volume {
                        outline: v.space.outline.clone(),
                        altitude: band.altitude,
                        time: Interval { lo: Some(start), hi: Some(end) },
                    };
                    (Some(volume), start, end)
                })
                .collect(),
        };
        for (volume, start, end) in spans {
            // Nothing applies in an empty span (a volume wholly outside `after`..`before`).
            if start >= end {
                continue;
            }
            for zone in &zones {
                let volumes = volume.as_ref().map(std::slice::from_ref);
                if entered(zone, start, end, volumes, self.terrain())?.is_some() {
                    return Ok(true);
                }
            }
        }
        Ok(false)
    }
}

/// The zone over `[start, end)` with only those of its volumes that meet one of `volumes` (every one when
/// `volumes` is `None`); `None` when none is left. An AGL limit counts over `terrain`'s ground, at its widest
/// where it has no data.
fn entered(
    zone: &Zone,
    start: Timestamp,
    end: Timestamp,
    volumes: Option<&[Volume]>,
    terrain: &dyn Terrain,
) -> Result<Option<Directive>, GeozoneError> {
    let mut found = directive(zone, start, end, terrain)?;
    let meets = |z: &Volume| volumes.is_none_or(|vs| vs.iter().any(|v| v.intersects(z)));
    let left = match &mut found {
        Directive::Constraint(c) => &mut c.volumes,
        Directive::Advisory(a) => &mut a.volumes,
    };
    left.retain(meets);
    Ok((!left.is_empty()).then_some(found))
}

/// What a zone would do to a flight planned through it here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Impact {
    /// Refused: prohibited zones, published as constraints.
    Block,
    /// Planned, with the zone's terms told to the operator: every other zone.
    Advise,
    BlockOrAdvise,
}

impl Impact {
    fn of(restriction: Restriction) -> Impact {
        if restriction == Restriction::Prohibited { Impact::Block } else { Impact::Advise }
    }
}

/// A volume a map query asks about, its limits as the user gave them (above ground, AMSL or W84).
#[derive(Clone, Debug, PartialEq)]
pub struct MapVolume {
    /// `unit` is metres.
    pub space: ZoneVolume,
    /// An open start is the filter's `after`, or now; an open end its `before`, or as far as zone schedules
    /// are listed ([`MAX_INTERVAL_DAYS`]).
    pub time: Interval<Timestamp>,
}

/// One filter set of a map query: the zones that pass every criterion given.
#[derive(Clone, Debug, PartialEq)]
pub struct MapFilter {
    /// `None`: anywhere.
    pub volumes: Option<Vec<MapVolume>>,
    /// Only the times at or after `after` and before `before` are looked at.
    pub after: Option<Timestamp>,
    pub before: Option<Timestamp>,
    /// The data set's name.
    pub source: Option<String>,
    /// `None`: any impact.
    pub impact: Option<Impact>,
    /// Empty: any restriction.
    pub restrictions: Vec<Restriction>,
    pub uspace_class: Option<String>,
}

impl MapFilter {
    fn takes(&self, zone: &Zone) -> bool {
        let impact = match self.impact {
            None | Some(Impact::BlockOrAdvise) => true,
            Some(i) => i == Impact::of(zone.restriction),
        };
        impact
            && (self.restrictions.is_empty() || self.restrictions.contains(&zone.restriction))
            && self.uspace_class.as_ref().is_none_or(|c| zone.uspace_class.contains(c))
    }

    /// The span looked at for a volume with times `time`: within `after`..`before`, an open start taken as
    /// `now` and an open end as far as schedules are listed.
    fn span(&self, time: Interval<Timestamp>, now: Timestamp) -> (Timestamp, Timestamp) {
        let start = time.lo.or(self.after).unwrap_or(now);
        let start = self.after.map_or(start, |after| start.max(after));
        let furthest = start + Duration::days(MAX_INTERVAL_DAYS);
        let end = time.hi.or(self.before).unwrap_or(furthest);
        let end = self.before.map_or(end, |before| end.min(before)).min(furthest);
        (start, end)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};
    use entente_geo::{Circle, Interval, LatLng, Outline};
    use entente_geozones::{
        DailyPeriod, Level, Text, TimeOfDay, TimePeriod, Unit, Variant, VerticalReference, ZoneVolume,
    };

    pub(crate) fn zone(identifier: &str, restriction: Restriction, lat: f64) -> Zone {
        let level = |m: f64| Level { value: m, reference: VerticalReference::Amsl };
        Zone {
            identifier: identifier.into(),
            country: "CHE".into(),
            name: vec![Text { text: format!("zone {identifier}"), lang: None }],
            restriction,
            variant: Variant::Common,
            restriction_conditions: None,
            region: None,
            reasons: Vec::new(),
            other_reason_info: Vec::new(),
            regulation_exemption: None,
            uspace_class: Vec::new(),
            message: vec![Text { text: "ask the tower".into(), lang: None }],
            authorities: Vec::new(),
            applicability: Vec::new(),
            volumes: vec![ZoneVolume {
                outline: Outline::Circle(Circle::new(LatLng::new(lat, 6.6), 1000.0).unwrap()),
                lower: Some(level(0.0)),
                upper: Some(level(1000.0)),
                unit: Unit::Metres,
            }],
        }
    }

    fn at(h: u32) -> Timestamp {
        Utc.with_ymd_and_hms(2026, 12, 4, h, 0, 0).unwrap()
    }

    fn flight(lat: f64) -> Vec<Volume> {
        vec![Volume {
            outline: Outline::Circle(Circle::new(LatLng::new(lat, 6.6), 100.0).unwrap()),
            altitude: Interval { lo: Some(400.0), hi: Some(500.0) },
            time: Interval { lo: Some(at(10)), hi: Some(at(11)) },
        }]
    }

    #[test]
    fn repeated_identifiers_get_their_own_keys_and_ids() {
        let data = DataSet {
            zones: vec![
                zone("LSGL", Restriction::Prohibited, 46.5),
                zone("LSGL", Restriction::Prohibited, 46.6),
                zone("OTHER", Restriction::Conditional, 46.7),
            ],
        };
        let (from, to) = horizon(at(10));
        let found = prohibited("uss1", "che", &data, (from, to), &NoTerrain).unwrap();
        assert_eq!(found.iter().map(|c| c.key.as_str()).collect::<Vec<_>>(), ["LSGL", "LSGL#1"]);
        assert_ne!(found[0].id, found[1].id);
        assert_eq!(
            constraint_ids("uss1", "che", &data),
            vec![("LSGL".to_owned(), found[0].id), ("LSGL#1".to_owned(), found[1].id)]
        );
        // Another USS or another set publishes its own constraint for the same zone.
        assert_ne!(constraint_id("uss2", "che", "LSGL"), found[0].id);
        assert_ne!(constraint_id("uss1", "other", "LSGL"), found[0].id);
        // A permanent zone holds through the whole horizon, one volume per zone volume.
        assert_eq!(found[0].volumes.len(), 1);
        assert_eq!(found[0].volumes[0].time, Interval { lo: Some(from), hi: Some(to) });
    }

    #[test]
    fn the_horizon_is_the_same_all_day() {
        assert_eq!(horizon(at(0)), horizon(at(23)));
        assert_eq!(horizon(at(0)).0, at(0));
        assert_eq!(horizon(at(5)).1 - horizon(at(5)).0, Duration::days(HORIZON_DAYS));
    }

    #[test]
    fn a_flight_is_advised_of_the_zones_it_enters_only() {
        let sets = ZoneSets::default();
        let zones = vec![
            zone("PROHIB", Restriction::Prohibited, 46.5),
            zone("COND", Restriction::Conditional, 46.5),
            zone("FAR", Restriction::ReqAuthorisation, 47.5),
        ];
        sets.replace(
            "che",
            Some(ZoneSet { data: DataSet { zones }, publish: true, source: String::new(), origin: None }),
        );
        let advice = sets.advice(&flight(46.5));
        assert_eq!(advice.len(), 1, "{advice:?}");
        assert_eq!(advice[0].zone.identifier, "COND");
        assert_eq!(advice[0].zone.message[0].text, "ask the tower");
        assert_eq!(advice[0].volumes.len(), 1);
        assert!(sets.advice(&flight(45.0)).is_empty());
        let shown = sets.in_force(at(10), at(11)).unwrap();
        assert_eq!(
            shown.iter().map(|z| z.zone.identifier.as_str()).collect::<Vec<_>>(),
            ["PROHIB", "COND", "FAR"]
        );
        assert_eq!(shown[0].volumes[0].time, Interval { lo: Some(at(10)), hi: Some(at(11)) });
        sets.replace("che", None);
        assert!(sets.advice(&flight(46.5)).is_empty());
    }

    fn query(lat: f64, altitude: (f64, f64), hours: (u32, u32), impact: Impact) -> MapFilter {
        let level = |m: f64| Level { value: m, reference: VerticalReference::W84 };
        MapFilter {
            volumes: Some(vec![MapVolume {
                space: ZoneVolume {
                    outline: Outline::Circle(Circle::new(LatLng::new(lat, 6.6), 100.0).unwrap()),
                    lower: Some(level(altitude.0)),
                    upper: Some(level(altitude.1)),
                    unit: Unit::Metres,
                },
                time: Interval { lo: Some(at(hours.0)), hi: Some(at(hours.1)) },
            }]),
            after: None,
            before: None,
            source: None,
            impact: Some(impact),
            restrictions: Vec::new(),
            uspace_class: None,
        }
    }

    #[test]
    fn a_map_query_selects_zones_by_impact_in_four_dimensions() {
        let mut evenings = zone("EVENING", Restriction::Prohibited, 46.5);
        evenings.applicability = vec![TimePeriod {
            start: None,
            end: None,
            schedule: vec![DailyPeriod {
                days: vec![chrono::Weekday::Fri],
                start: TimeOfDay {
                    time: NaiveTime::from_hms_opt(18, 0, 0).unwrap(),
                    offset: chrono::FixedOffset::east_opt(0).unwrap(),
                },
                end: TimeOfDay {
                    time: NaiveTime::from_hms_opt(22, 0, 0).unwrap(),
                    offset: chrono::FixedOffset::east_opt(0).unwrap(),
                },
            }],
        }];
        let sets = ZoneSets::default();
        sets.replace(
            "che",
            Some(ZoneSet {
                data: DataSet { zones: vec![evenings, zone("COND", Restriction::Conditional, 47.0)] },
                publish: true,
                source: String::new(),
                origin: None,
            }),
        );
        let now = at(0);
        let selects = |f: &MapFilter| sets.selects(f, now).unwrap();
        // 4 December 2026 is a Friday: the prohibited zone applies from 18:00 to 22:00 only.
        assert!(selects(&query(46.5, (400.0, 500.0), (19, 20), Impact::Block)));
        assert!(selects(&query(46.5, (400.0, 500.0), (17, 19), Impact::BlockOrAdvise)));
        assert!(!selects(&query(46.5, (400.0, 500.0), (10, 17), Impact::Block)));
        // Not advised there, and nothing above the zone's 1 000 m ceiling, nor beside it.
        assert!(!selects(&query(46.5, (400.0, 500.0), (19, 20), Impact::Advise)));
        assert!(!selects(&query(46.5, (1100.0, 1200.0), (19, 20), Impact::Block)));
        assert!(!selects(&query(46.6, (400.0, 500.0), (19, 20), Impact::BlockOrAdvise)));
        // The conditional zone advises, at any time.
        assert!(selects(&query(47.0, (400.0, 500.0), (1, 2), Impact::Advise)));
        assert!(!selects(&query(47.0, (400.0, 500.0), (1, 2), Impact::Block)));

        // The other criteria narrow the selection.
        let mut f = query(46.5, (400.0, 500.0), (17, 20), Impact::Block);
        f.before = Some(at(18));
        assert!(!selects(&f), "only the hour before the zone applies is looked at");
        f.before = None;
        f.source = Some("other".into());
        assert!(!selects(&f));
        f.source = Some("che".into());
        f.restrictions = vec![Restriction::Conditional];
        assert!(!selects(&f));
        f.restrictions = vec![Restriction::Prohibited];
        assert!(selects(&f));
        f.uspace_class = Some("EUROCONTROL".into());
        assert!(!selects(&f));

        // No volumes: anywhere, from now on.
        let anywhere = MapFilter { volumes: None, ..query(0.0, (0.0, 0.0), (0, 0), Impact::Block) };
        assert!(selects(&anywhere));
        let earlier = MapFilter { before: Some(at(17)), ..anywhere };
        assert!(!selects(&earlier));
    }

    #[test]
    fn heights_above_the_surface_count_at_their_widest() {
        let sets = ZoneSets::default();
        let zones = vec![zone("HIGH", Restriction::Prohibited, 46.5)];
        sets.replace(
            "che",
            Some(ZoneSet { data: DataSet { zones }, publish: true, source: String::new(), origin: None }),
        );
        // The zone's ceiling is 1 000 m AMSL: 1 400 m on the ellipsoid is above it, while 1 400 m above
        // ground may be above the lowest ground on earth, below the ceiling.
        let mut f = query(46.5, (1400.0, 1500.0), (10, 11), Impact::Block);
        assert!(!sets.selects(&f, at(0)).unwrap());
        let space = &mut f.volumes.as_mut().unwrap()[0].space;
        space.lower = Some(Level { value: 1400.0, reference: VerticalReference::Agl });
        space.upper = Some(Level { value: 1500.0, reference: VerticalReference::Agl });
        assert!(sets.selects(&f, at(0)).unwrap());
    }
}
