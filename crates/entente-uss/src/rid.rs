//! Network Remote ID rules (ASTM F3411-22a) a USS applies as service provider (SP) and display provider (DP):
//! the view a display asks for and its limits, which recent positions a view may show, clusters for views too
//! large for individual flights, the merge of positions polled from SPs, the area an SP declares as its ISA,
//! and the DSS's per-area subscription limit.

use chrono::Duration;
use entente_geo::{EARTH_RADIUS_M, Interval, LatLng, LatLngRect, Outline, Polygon, distance_m};

use crate::{Timestamp, UssError, Volume};

/// How large a view may be, and up to which size it shows individual flights, in one F3411 version.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ViewLimits {
    /// NetMaxDisplayAreaDiagonal: no view may be larger.
    pub max_diagonal_m: f64,
    /// NetDetailsMaxDisplayAreaDiagonal: above this a display shows clusters, not individual flights.
    pub details_max_diagonal_m: f64,
}

/// F3411-22a's view limits.
pub const V22A_VIEWS: ViewLimits = ViewLimits { max_diagonal_m: 7_000.0, details_max_diagonal_m: 2_000.0 };
/// F3411-19's view limits.
pub const V19_VIEWS: ViewLimits = ViewLimits { max_diagonal_m: 3_600.0, details_max_diagonal_m: 1_000.0 };
/// NetMinClusterSizePercent: a cluster covers at least this share of the view's area.
pub const MIN_CLUSTER_SIZE_PERCENT: f64 = 15.0;
/// NetMinObfuscationDistance: a cluster reaches at least this far from its centre along each axis.
pub const MIN_OBFUSCATION_DISTANCE_M: f64 = 300.0;
/// NetMaxNearRealTimeDataPeriod (seconds): how far back recent positions reach, and how long a DP keeps them.
pub const NEAR_REAL_TIME_S: i64 = 60;
/// NetDSSMaxSubscriptionPerArea: live subscriptions one owner may have over any point.
pub const MAX_SUBSCRIPTIONS_PER_AREA: usize = 10;

/// NET0040: a UAS reports at NetMinUasLocRefreshFrequency (1 Hz) for at least NetMinUasLocRefreshPercentage
/// (20%) of the time; the rate is judged per second over the last 3 s, the share over 10 s windows.
pub const MIN_REFRESH_HZ: f64 = 1.0;
pub const MIN_REFRESH_PERCENT: f64 = 20.0;
const RATE_WINDOW_S: i64 = 3;
const REFRESH_WINDOW_S: i64 = 10;

/// When reports at `times` (sorted) first fell below NET0040's rate: the end of the first 10 s window in which
/// fewer than 20% of the seconds saw 1 Hz over their last 3 s. `None` while the UAS kept the rate.
pub fn slow_updates(times: &[Timestamp]) -> Option<Timestamp> {
    let (first, last) = (*times.first()?, *times.last()?);
    let span = (last - first).num_seconds();
    let rate_ok: Vec<bool> = (RATE_WINDOW_S - 1..=span)
        .map(|s| {
            let end = first + Duration::seconds(s);
            let start = end - Duration::seconds(RATE_WINDOW_S);
            let reports = times.iter().filter(|t| **t > start && **t <= end).count();
            reports as f64 / RATE_WINDOW_S as f64 >= MIN_REFRESH_HZ
        })
        .collect();
    let needed = MIN_REFRESH_PERCENT / 100.0 * REFRESH_WINDOW_S as f64;
    let window = REFRESH_WINDOW_S as usize;
    (window..=rate_ok.len()).find_map(|end| {
        let ok = rate_ok[end - window..end].iter().filter(|ok| **ok).count();
        ((ok as f64) < needed).then(|| first + Duration::seconds(RATE_WINDOW_S - 1 + end as i64))
    })
}

/// The rectangle a display looks at: the smallest lat/lng box bounded by two corners.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct View {
    rect: LatLngRect,
}

/// What a view may show.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scale {
    /// Individual flights with their tracks.
    Flights,
    /// Only clusters: counts over areas large enough to hide where each aircraft is.
    Clusters,
}

impl View {
    pub fn new(a: LatLng, b: LatLng) -> Result<View, UssError> {
        for p in [a, b] {
            if !((-90.0..=90.0).contains(&p.lat) && (-180.0..=180.0).contains(&p.lng)) {
                return Err(UssError::View(format!(
                    "corner {},{} is outside [-90, 90] x [-180, 180]",
                    p.lat, p.lng
                )));
            }
        }
        Ok(View {
            rect: LatLngRect {
                lat_lo: a.lat.min(b.lat),
                lat_hi: a.lat.max(b.lat),
                lng_lo: a.lng.min(b.lng),
                lng_hi: a.lng.max(b.lng),
            },
        })
    }

    /// Reads `lat1,lng1,lat2,lng2`.
    pub fn parse(text: &str) -> Result<View, UssError> {
        let numbers: Vec<f64> = text
            .split(',')
            .map(|n| n.trim().parse::<f64>())
            .collect::<Result<_, _>>()
            .map_err(|_| UssError::View(format!("{text:?} is not lat1,lng1,lat2,lng2")))?;
        let [lat1, lng1, lat2, lng2] = numbers[..] else {
            return Err(UssError::View(format!(
                "{text:?} must hold exactly four numbers: lat1,lng1,lat2,lng2"
            )));
        };
        View::new(LatLng::new(lat1, lng1), LatLng::new(lat2, lng2))
    }

    /// As the query parameter `view` is written.
    pub fn to_param(&self) -> String {
        let r = self.rect;
        format!("{},{},{},{}", r.lat_lo, r.lng_lo, r.lat_hi, r.lng_hi)
    }

    pub fn rect(&self) -> LatLngRect {
        self.rect
    }

    pub fn diagonal_m(&self) -> f64 {
        let r = self.rect;
        distance_m(LatLng::new(r.lat_lo, r.lng_lo), LatLng::new(r.lat_hi, r.lng_hi))
    }

    pub fn contains(&self, p: LatLng) -> bool {
        self.rect.contains(p)
    }

    /// Whether all of `other` lies within this view.
    pub fn covers(&self, other: &View) -> bool {
        let (a, b) = (self.rect, other.rect);
        a.lat_lo <= b.lat_lo && b.lat_hi <= a.lat_hi && a.lng_lo <= b.lng_lo && b.lng_hi <= a.lng_hi
    }

    /// The view grown by `margin_m` on every side (clamped to the globe).
    pub fn widened(&self, margin_m: f64) -> Result<View, UssError> {
        let r = self.rect;
        let pad_lat = (margin_m / EARTH_RADIUS_M).to_degrees();
        let widest = r.lat_lo.abs().max(r.lat_hi.abs()).min(89.0);
        let pad_lng = pad_lat / widest.to_radians().cos();
        View::new(
            LatLng::new((r.lat_lo - pad_lat).max(-90.0), (r.lng_lo - pad_lng).max(-180.0)),
            LatLng::new((r.lat_hi + pad_lat).min(90.0), (r.lng_hi + pad_lng).min(180.0)),
        )
    }

    /// Individual flights up to NetDetailsMaxDisplayAreaDiagonal, clusters up to NetMaxDisplayAreaDiagonal, and
    /// a refusal beyond.
    pub fn scale(&self, limits: &ViewLimits) -> Result<Scale, UssError> {
        let diagonal_m = self.diagonal_m();
        if diagonal_m > limits.max_diagonal_m {
            return Err(UssError::ViewTooLarge { diagonal_m, max_m: limits.max_diagonal_m });
        }
        Ok(if diagonal_m > limits.details_max_diagonal_m { Scale::Clusters } else { Scale::Flights })
    }

    /// The same view as a polygon over all altitudes and times, as a DSS subscription's extent.
    pub fn volume(&self, time: Interval<Timestamp>) -> Result<Volume, UssError> {
        Ok(Volume { outline: rect_outline(self.rect)?, altitude: Interval { lo: None, hi: None }, time })
    }
}

fn rect_outline(r: LatLngRect) -> Result<Outline, UssError> {
    let corners = vec![
        LatLng::new(r.lat_lo, r.lng_lo),
        LatLng::new(r.lat_lo, r.lng_hi),
        LatLng::new(r.lat_hi, r.lng_hi),
        LatLng::new(r.lat_hi, r.lng_lo),
    ];
    Polygon::new(corners).map(Outline::Polygon).map_err(|e| UssError::View(e.to_string()))
}

/// One reported position of an aircraft, with what it carries beside it: Remote ID's [`Motion`] unless a rule's
/// test gives something simpler.
#[derive(Clone, Debug, PartialEq)]
pub struct Fix<P = Motion> {
    pub time: Timestamp,
    pub at: LatLng,
    pub data: P,
}

/// What Remote ID carries beside a position: altitude, accuracies and velocity, and what an SP may report beyond
/// them; each unknown as `None`. Accuracies and status keep F3411's names for their classes (`HA3m`, `Airborne`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Motion {
    /// Geodetic altitude (WGS84), metres.
    pub alt_m: Option<f64>,
    pub accuracy_h: Option<String>,
    pub accuracy_v: Option<String>,
    pub speed_mps: Option<f64>,
    /// Degrees clockwise from true north.
    pub track_deg: Option<f64>,
    pub vertical_speed_mps: Option<f64>,
    pub timestamp_accuracy_s: Option<f64>,
    pub operational_status: Option<String>,
    pub speed_accuracy: Option<String>,
    pub height: Option<Height>,
}

/// A height above a reference other than the ellipsoid, as an SP may report it beside the altitude.
#[derive(Clone, Debug, PartialEq)]
pub struct Height {
    pub distance_m: f64,
    /// What it is measured from, in F3411's terms (`TakeoffLocation`, `GroundLevel`).
    pub reference: String,
}

/// Whether a flight belongs in a view: any of its positions of the last NEAR_REAL_TIME_S seconds lies inside.
pub fn seen_in<P>(track: &[Fix<P>], view: &View, now: Timestamp) -> bool {
    let since = now - Duration::seconds(NEAR_REAL_TIME_S);
    track.iter().any(|f| f.time >= since && f.time <= now && view.contains(f.at))
}

/// The recent positions a view may show of a track sorted by time: those of the last `duration` inside the view,
/// plus the one just before entering and just after leaving it, so a display sees where the aircraft crossed
/// the edge but nothing more of its path outside.
pub fn recent_in_view<'a, P>(
    track: &'a [Fix<P>],
    view: &View,
    now: Timestamp,
    duration: Duration,
) -> Vec<&'a Fix<P>> {
    let since = now - duration.min(Duration::seconds(NEAR_REAL_TIME_S));
    let recent: Vec<&Fix<P>> = track.iter().filter(|f| f.time >= since && f.time <= now).collect();
    let inside: Vec<bool> = recent.iter().map(|f| view.contains(f.at)).collect();
    recent
        .iter()
        .enumerate()
        .filter(|&(i, _)| {
            inside[i] || (i > 0 && inside[i - 1]) || inside.get(i + 1).copied().unwrap_or(false)
        })
        .map(|(_, f)| *f)
        .collect()
}

/// Adds what an SP reported to a DP's copy of a track: positions never go back in time (an older report of a
/// moment already held is ignored), each instant is kept once, and only the last `keep` before `now` remain.
pub fn merge_fixes<P>(track: &mut Vec<Fix<P>>, incoming: Vec<Fix<P>>, now: Timestamp, keep: Duration) {
    for fix in incoming {
        if let Err(at) = track.binary_search_by(|f| f.time.cmp(&fix.time)) {
            track.insert(at, fix);
        }
    }
    let since = now - keep;
    track.retain(|f| f.time >= since);
}

/// A cluster a display shows instead of individual flights.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Cluster {
    pub rect: LatLngRect,
    pub flights: usize,
}

/// The clusters of a view too large for individual flights: the view's four quadrants, each with the aircraft
/// inside it, widened where needed to reach MIN_OBFUSCATION_DISTANCE_M from the centre. A quadrant covers 25% of
/// the view (more than MIN_CLUSTER_SIZE_PERCENT) and its centre does not depend on where aircraft are, so a
/// cluster reveals only which quarter of the view holds how many.
pub fn clusters(view: &View, positions: &[LatLng]) -> Vec<Cluster> {
    let r = view.rect;
    let (lat_mid, lng_mid) = ((r.lat_lo + r.lat_hi) / 2.0, (r.lng_lo + r.lng_hi) / 2.0);
    let quadrants = [
        (r.lat_lo, lat_mid, r.lng_lo, lng_mid),
        (r.lat_lo, lat_mid, lng_mid, r.lng_hi),
        (lat_mid, r.lat_hi, r.lng_lo, lng_mid),
        (lat_mid, r.lat_hi, lng_mid, r.lng_hi),
    ];
    let mut counts = [0usize; 4];
    for p in positions.iter().filter(|p| view.contains(**p)) {
        let q = usize::from(p.lat > lat_mid) * 2 + usize::from(p.lng > lng_mid);
        counts[q] += 1;
    }
    let half_lat = (MIN_OBFUSCATION_DISTANCE_M / EARTH_RADIUS_M).to_degrees();
    quadrants
        .iter()
        .zip(counts)
        .filter(|(_, n)| *n > 0)
        .map(|(&(lat_lo, lat_hi, lng_lo, lng_hi), flights)| {
            let (clat, clng) = ((lat_lo + lat_hi) / 2.0, (lng_lo + lng_hi) / 2.0);
            let half_lng = half_lat / clat.to_radians().cos().max(1e-6);
            Cluster {
                rect: LatLngRect {
                    lat_lo: lat_lo.min(clat - half_lat).max(-90.0),
                    lat_hi: lat_hi.max(clat + half_lat).min(90.0),
                    lng_lo: lng_lo.min(clng - half_lng).max(-180.0),
                    lng_hi: lng_hi.max(clng + half_lng).min(180.0),
                },
                flights,
            }
        })
        .collect()
}

/// The share of a DSS's area limit clusters keep within: their boxes are measured with lat/lng edges, the DSS
/// measures the same corners joined by great circles, and the two differ by well under this much at that size.
const ISA_AREA_SAFETY: f64 = 0.95;

/// One ISA an SP declares: where and until when, and which of the areas it was built from it covers.
#[derive(Clone, Debug, PartialEq)]
pub struct IsaCluster {
    pub extent: Volume,
    /// Indices into the areas given, ascending.
    pub members: Vec<usize>,
}

/// The ISAs an SP declares for its flights: the areas (each widened by `margin_m`, so an ISA does not trace a
/// flight's path) gathered into clusters of nearby ones, each a rectangle within `max_area_m2`, over its areas'
/// altitudes, from `now` until the last of them ends plus `retention`. Areas whose widened rectangles meet share a
/// cluster as long as the cluster's rectangle stays within the limit; an area too large for one ISA alone is
/// split into tiles, each its own cluster. An area without an end counts as ending now; areas ended longer
/// than `retention` ago are left out, and nothing left gives no cluster. The result depends only on the
/// areas and their order, so an SP passing them in a stable order keeps stable clusters.
pub fn isa_clusters(
    areas: &[Volume],
    now: Timestamp,
    retention: Duration,
    margin_m: f64,
    max_area_m2: f64,
) -> Vec<IsaCluster> {
    let limit = max_area_m2 * ISA_AREA_SAFETY;
    let end = |v: &Volume| v.time.hi.unwrap_or(now) + retention;
    let mut parts: Vec<(LatLngRect, Vec<usize>)> = Vec::new();
    for (i, v) in areas.iter().enumerate().filter(|(_, v)| end(v) > now) {
        for r in v.outline.bounding_rects() {
            parts.extend(tiles(widened_rect(r, margin_m), limit).into_iter().map(|t| (t, vec![i])));
        }
    }
    // Merges meeting parts until no two meet within the limit; a grown part is compared again with the rest.
    let mut i = 0;
    while i < parts.len() {
        let mut j = i + 1;
        let mut grown = false;
        while j < parts.len() {
            let union = rect_union(&parts[i].0, &parts[j].0);
            if parts[i].0.intersects(&parts[j].0) && rect_area_m2(&union) <= limit {
                let (_, members) = parts.remove(j);
                parts[i].0 = union;
                parts[i].1.extend(members);
                grown = true;
                j = i + 1;
            } else {
                j += 1;
            }
        }
        // A part that grew may now meet an earlier one: start over from the first.
        i = if grown { 0 } else { i + 1 };
    }
    parts
        .into_iter()
        .filter_map(|(rect, mut members)| {
            members.sort_unstable();
            members.dedup();
            let altitude = members.iter().map(|&m| areas[m].altitude).reduce(|a, b| a.hull(&b))?;
            let until = members.iter().map(|&m| end(&areas[m])).max()?;
            let extent = Volume {
                outline: rect_outline(rect).ok()?,
                altitude,
                time: Interval { lo: Some(now), hi: Some(until) },
            };
            Some(IsaCluster { extent, members })
        })
        .collect()
}

/// `r` grown by `margin_m` on every side, clamped to the globe.
fn widened_rect(r: LatLngRect, margin_m: f64) -> LatLngRect {
    let pad_lat = (margin_m / EARTH_RADIUS_M).to_degrees();
    let (lat_lo, lat_hi) = ((r.lat_lo - pad_lat).max(-90.0), (r.lat_hi + pad_lat).min(90.0));
    let widest = lat_lo.abs().max(lat_hi.abs()).min(89.0);
    let pad_lng = pad_lat / widest.to_radians().cos();
    LatLngRect {
        lat_lo,
        lat_hi,
        lng_lo: (r.lng_lo - pad_lng).max(-180.0),
        lng_hi: (r.lng_hi + pad_lng).min(180.0),
    }
}

fn rect_union(a: &LatLngRect, b: &LatLngRect) -> LatLngRect {
    LatLngRect {
        lat_lo: a.lat_lo.min(b.lat_lo),
        lat_hi: a.lat_hi.max(b.lat_hi),
        lng_lo: a.lng_lo.min(b.lng_lo),
        lng_hi: a.lng_hi.max(b.lng_hi),
    }
}

/// The area of a lat/lng rectangle on the sphere.
fn rect_area_m2(r: &LatLngRect) -> f64 {
    let band = r.lat_hi.to_radians().sin() - r.lat_lo.to_radians().sin();
    EARTH_RADIUS_M * EARTH_RADIUS_M * (r.lng_hi - r.lng_lo).to_radians() * band
}

/// `r` cut into the fewest n × n equal tiles each within `limit` (itself when it fits).
fn tiles(r: LatLngRect, limit: f64) -> Vec<LatLngRect> {
    let mut n = (rect_area_m2(&r) / limit).sqrt().ceil().max(1.0) as usize;
    loop {
        let (dlat, dlng) = ((r.lat_hi - r.lat_lo) / n as f64, (r.lng_hi - r.lng_lo) / n as f64);
        let cut: Vec<LatLngRect> = (0..n)
            .flat_map(|a| {
                (0..n).map(move |b| LatLngRect {
                    lat_lo: r.lat_lo + dlat * a as f64,
                    lat_hi: if a + 1 == n { r.lat_hi } else { r.lat_lo + dlat * (a + 1) as f64 },
                    lng_lo: r.lng_lo + dlng * b as f64,
                    lng_hi: if b + 1 == n { r.lng_hi } else { r.lng_lo + dlng * (b + 1) as f64 },
                })
            })
            .collect();
        if cut.iter().all(|t| rect_area_m2(t) <= limit) {
            return cut;
        }
        n += 1;
    }
}

/// Whether one more subscription over `new` keeps every point under MAX_SUBSCRIPTIONS_PER_AREA of `existing`.
/// Counting every existing subscription that meets `new` over-estimates the worst point, so the answer errs on
/// the side the DSS would refuse.
pub fn subscription_fits(existing: &[LatLngRect], new: &LatLngRect) -> bool {
    existing.iter().filter(|r| r.intersects(new)).count() < MAX_SUBSCRIPTIONS_PER_AREA
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use chrono::Utc;

    use super::*;

    /// The largest outline of an ISA InterUSS's DSS (and this one, by default) accepts, in m².
    const MAX_ISA_AREA_M2: f64 = 2_500e6;

    #[test]
    fn a_widened_view_covers_the_view_by_the_margin() -> Result<(), UssError> {
        let view = View::parse("46.50,7.00,46.51,7.01")?;
        let wide = view.widened(1000.0)?;
        assert!(wide.covers(&view) && !view.covers(&wide));
        let r = wide.rect();
        let south = distance_m(LatLng::new(r.lat_lo, 7.005), LatLng::new(46.50, 7.005));
        let west = distance_m(LatLng::new(46.51, r.lng_lo), LatLng::new(46.51, 7.00));
        assert!((south - 1000.0).abs() < 1.0, "{south}");
        assert!((999.0..1010.0).contains(&west), "{west}");
        Ok(())
    }

    #[test]
    fn half_rate_reports_are_slow_full_rate_ones_with_a_gap_are_not() {
        let every = |step: i64, n: i64| -> Vec<Timestamp> {
            (0..n).map(|i| now() + Duration::seconds(i * step)).collect()
        };
        assert_eq!(slow_updates(&every(1, 61)), None);
        let slow = slow_updates(&every(2, 31)).unwrap_or_else(|| panic!("0.5 Hz not flagged"));
        assert!(slow > now() && slow <= now() + Duration::seconds(15), "{slow}");
        let mut gap = every(1, 61);
        gap.retain(|t| (*t - now()).num_seconds() % 20 != 10);
        assert_eq!(slow_updates(&gap), None, "a missing report now and then keeps the rate");
        assert_eq!(slow_updates(&[]), None);
    }

    fn now() -> Timestamp {
        Utc.with_ymd_and_hms(2030, 1, 1, 12, 0, 0).single().unwrap()
    }

    fn fix(seconds_ago: i64, lat: f64) -> Fix<u32> {
        Fix { time: now() - Duration::seconds(seconds_ago), at: LatLng::new(lat, 7.0), data: 0 }
    }

    #[test]
    fn views_parse_and_scale_by_diagonal() -> Result<(), UssError> {
        let small = View::parse("46.50,7.00,46.51,7.01")?;
        assert_eq!(small.scale(&V22A_VIEWS)?, Scale::Flights);
        assert_eq!(View::parse(&small.to_param())?, small);
        // About 3.3 km across: clusters only in F3411-22a, too large in F3411-19.
        let middle = View::parse("46.51,7.02,46.49,6.99")?;
        assert_eq!(middle.scale(&V22A_VIEWS)?, Scale::Clusters);
        assert_eq!(middle.scale(&V19_VIEWS)?, Scale::Clusters);
        assert!(View::parse("46.52,7.03,46.49,6.99")?.scale(&V19_VIEWS).is_err());
        // About 1.35 km across: flights in F3411-22a, clusters in F3411-19.
        assert_eq!(small.scale(&V19_VIEWS)?, Scale::Clusters);
        let err = View::parse("46.5,7.0,46.6,7.1")?.scale(&V22A_VIEWS).unwrap_err();
        assert!(matches!(err, UssError::ViewTooLarge { .. }), "{err}");
        for bad in ["", "46.5,7.0,46.6", "a,b,c,d", "91,7,46,7", "46.5,7,46.6,7,1,1"] {
            assert!(View::parse(bad).is_err(), "{bad:?} should be refused");
        }
        Ok(())
    }

    #[test]
    fn recent_positions_stay_in_the_view_but_for_the_crossings() -> Result<(), UssError> {
        let view = View::parse("46.49,6.99,46.51,7.01")?;
        // Flying north through the view: 46.48 (out), 46.495, 46.505 (in), 46.52, 46.53 (out).
        let track = vec![
            fix(70, 46.47),
            fix(40, 46.48),
            fix(30, 46.495),
            fix(20, 46.505),
            fix(10, 46.52),
            fix(5, 46.53),
        ];
        let shown: Vec<f64> =
            recent_in_view(&track, &view, now(), Duration::seconds(60)).iter().map(|f| f.at.lat).collect();
        assert_eq!(shown, [46.48, 46.495, 46.505, 46.52], "the 70 s old and the second outside are left out");
        let shown = recent_in_view(&track, &view, now(), Duration::seconds(25));
        assert_eq!(shown.len(), 2, "only the last 25 s");
        assert!(seen_in(&track, &view, now()));
        assert!(!seen_in(&track[..2], &view, now()));
        Ok(())
    }

    #[test]
    fn merged_tracks_keep_each_instant_once_in_order_and_forget_the_old() {
        let mut track = vec![fix(50, 1.0), fix(20, 2.0)];
        merge_fixes(
            &mut track,
            vec![fix(20, 9.0), fix(30, 3.0), fix(90, 4.0), fix(10, 5.0)],
            now(),
            Duration::seconds(60),
        );
        let lats: Vec<f64> = track.iter().map(|f| f.at.lat).collect();
        assert_eq!(lats, [1.0, 3.0, 2.0, 5.0]);
    }

    #[test]
    fn clusters_hide_positions_in_quadrants_large_enough() -> Result<(), UssError> {
        let view = View::parse("46.49,6.99,46.51,7.02")?;
        let at = [
            LatLng::new(46.495, 6.995),
            LatLng::new(46.496, 6.996),
            LatLng::new(46.505, 7.015),
            LatLng::new(47.0, 7.0),
        ];
        let found = clusters(&view, &at);
        assert_eq!(
            found.iter().map(|c| c.flights).sum::<usize>(),
            3,
            "the one outside the view is not counted"
        );
        let area = |r: LatLngRect| (r.lat_hi - r.lat_lo) * (r.lng_hi - r.lng_lo);
        for c in &found {
            assert!(area(c.rect) >= area(view.rect()) * MIN_CLUSTER_SIZE_PERCENT / 100.0);
            let height = distance_m(LatLng::new(c.rect.lat_lo, 7.0), LatLng::new(c.rect.lat_hi, 7.0));
            assert!(height >= 2.0 * MIN_OBFUSCATION_DISTANCE_M - 1e-6, "{height}");
            for p in &at[..3] {
                let centre =
                    LatLng::new((c.rect.lat_lo + c.rect.lat_hi) / 2.0, (c.rect.lng_lo + c.rect.lng_hi) / 2.0);
                assert!(distance_m(*p, centre) > 1.0);
            }
        }
        Ok(())
    }

    fn circle_area(lat: f64, lng: f64, radius_m: f64, end_min: i64, alt: (f64, f64)) -> Volume {
        Volume {
            outline: Outline::Circle(entente_geo::Circle::new(LatLng::new(lat, lng), radius_m).unwrap()),
            altitude: Interval { lo: Some(alt.0), hi: Some(alt.1) },
            time: Interval { lo: Some(now()), hi: Some(now() + Duration::minutes(end_min)) },
        }
    }

    #[test]
    fn nearby_areas_share_an_isa_with_a_margin_until_the_retention_ends() -> Result<(), entente_geo::GeoError>
    {
        let areas = [
            circle_area(46.5, 7.0, 100.0, 10, (0.0, 50.0)),
            circle_area(46.51, 7.0, 100.0, 20, (30.0, 120.0)),
        ];
        let isas = isa_clusters(&areas, now(), Duration::seconds(60), 500.0, MAX_ISA_AREA_M2);
        assert_eq!(isas.len(), 1, "{isas:?}");
        let isa = &isas[0];
        assert_eq!(isa.members, [0, 1]);
        assert_eq!(isa.extent.altitude, Interval { lo: Some(0.0), hi: Some(120.0) });
        assert_eq!(isa.extent.time.hi, Some(now() + Duration::minutes(20) + Duration::seconds(60)));
        assert_eq!(isa.extent.time.lo, Some(now()));
        for a in &areas {
            assert!(isa.extent.outline.contains_outline(&a.outline));
        }
        let widened = Outline::Circle(entente_geo::Circle::new(LatLng::new(46.5, 7.0), 550.0)?);
        assert!(isa.extent.outline.contains_outline(&widened), "the margin hides the flight's edge");
        let later = isa_clusters(
            &areas,
            now() + Duration::minutes(15),
            Duration::seconds(60),
            500.0,
            MAX_ISA_AREA_M2,
        );
        assert_eq!(later.iter().map(|c| c.members.clone()).collect::<Vec<_>>(), [vec![1]], "the first ended");
        assert!(
            isa_clusters(
                &areas,
                now() + Duration::minutes(30),
                Duration::seconds(60),
                500.0,
                MAX_ISA_AREA_M2
            )
            .is_empty()
        );
        assert!(isa_clusters(&[], now(), Duration::seconds(60), 500.0, MAX_ISA_AREA_M2).is_empty());
        Ok(())
    }

    #[test]
    fn areas_130_km_apart_get_an_isa_each_within_the_limit() {
        // One box around both would cover about 2600 km².
        let areas = [
            circle_area(46.5, 6.6, 300.0, 30, (0.0, 120.0)),
            circle_area(47.67, 6.6, 300.0, 30, (0.0, 120.0)),
        ];
        let isas = isa_clusters(&areas, now(), Duration::seconds(60), 500.0, MAX_ISA_AREA_M2);
        assert_eq!(isas.iter().map(|c| c.members.clone()).collect::<Vec<_>>(), [vec![0], vec![1]]);
        for (isa, area) in isas.iter().zip(&areas) {
            assert!(isa.extent.outline.contains_outline(&area.outline));
            assert!(isa.extent.outline.area_m2() < 10e6, "{}", isa.extent.outline.area_m2());
        }
    }

    #[test]
    fn an_area_larger_than_an_isa_is_tiled() {
        // A 40 km circle covers about 5000 km².
        let huge = [circle_area(46.5, 6.6, 40_000.0, 30, (0.0, 120.0))];
        let isas = isa_clusters(&huge, now(), Duration::seconds(60), 500.0, MAX_ISA_AREA_M2);
        assert!(isas.len() >= 4, "{}", isas.len());
        for isa in &isas {
            assert_eq!(isa.members, [0]);
            assert!(isa.extent.outline.area_m2() <= MAX_ISA_AREA_M2);
        }
        assert!(isas.iter().any(|c| c.extent.outline.contains(LatLng::new(46.5, 6.6))));
    }

    proptest::proptest! {
        #[test]
        fn isas_stay_within_the_limit_and_cover_every_live_area(
            spots in proptest::collection::vec(
                (-0.8f64..0.8, -0.8f64..0.8, 50.0f64..30_000.0, -5i64..60), 1..25),
            lat in -70.0f64..70.0,
            lng in -170.0f64..170.0,
        ) {
            let areas: Vec<Volume> = spots
                .iter()
                .map(|&(dlat, dlng, radius, end)| circle_area(lat + dlat, lng + dlng, radius, end, (0.0, 100.0)))
                .collect();
            let retention = Duration::seconds(60);
            let isas = isa_clusters(&areas, now(), retention, 500.0, MAX_ISA_AREA_M2);
            for isa in &isas {
                let area = isa.extent.outline.area_m2();
                proptest::prop_assert!(area <= MAX_ISA_AREA_M2, "an ISA of {area} m²");
                let until = isa.members.iter().filter_map(|&m| areas[m].time.hi).max().map(|t| t + retention);
                proptest::prop_assert_eq!(isa.extent.time.hi, until);
            }
            for (i, a) in areas.iter().enumerate() {
                let live = a.time.hi.is_some_and(|t| t + retention > now());
                let holding: Vec<&IsaCluster> = isas.iter().filter(|c| c.members.contains(&i)).collect();
                proptest::prop_assert_eq!(live, !holding.is_empty(), "area {} live {}", i, live);
                let whole = holding.iter().any(|c| c.extent.outline.contains_outline(&a.outline));
                let Outline::Circle(c) = &a.outline else { unreachable!() };
                // An area small enough for one ISA lies whole in one; a larger one is tiled, its centre in a tile.
                if live && c.area_m2() * 2.0 < MAX_ISA_AREA_M2 {
                    proptest::prop_assert!(whole, "area {} is not inside one of its ISAs", i);
                }
                if live {
                    proptest::prop_assert!(holding.iter().any(|h| h.extent.outline.contains(c.center())));
                }
            }
        }
    }

    #[test]
    fn subscriptions_stop_at_the_per_area_limit() {
        let r = |lat: f64| LatLngRect { lat_lo: lat, lat_hi: lat + 0.01, lng_lo: 7.0, lng_hi: 7.01 };
        let mut existing: Vec<LatLngRect> = (0..9).map(|_| r(46.5)).collect();
        assert!(subscription_fits(&existing, &r(46.505)));
        existing.push(r(46.5));
        assert!(!subscription_fits(&existing, &r(46.505)));
        assert!(subscription_fits(&existing, &r(46.6)), "far away it fits");
    }
}
