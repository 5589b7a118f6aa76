//! EUROCAE ED-269 data sets (JSON): `{title?, description?, features: [UASZoneVersion]}`, each feature with its
//! own `geometry` array of airspace volumes and `applicability` periods.

use crate::common::{self, VARIANTS, YES_NO};
use crate::error::FeatureRef;
use crate::json::{self, Node, Result, texts};
use crate::model::{Restriction, Zone, ZoneVolume};

const RESTRICTIONS: &[(&str, Restriction)] = &[
    ("PROHIBITED", Restriction::Prohibited),
    ("REQ_AUTHORISATION", Restriction::ReqAuthorisation),
    ("CONDITIONAL", Restriction::Conditional),
    ("NO_RESTRICTION", Restriction::NoRestriction),
];

pub(crate) fn features(root: &Node<'_>) -> Result<Vec<Zone>> {
    root.object()?;
    // ED-269's zones come under `features` in the JSON schema of its annex, under `UASZoneList` in the
    // exchange format of its data model (with `formatVersion` and `createdAt` beside it); both are read.
    let list = root.get("UASZoneList");
    let features = if list.is_present() { list.array()? } else { root.get("features").array()? };
    features
        .iter()
        .enumerate()
        .map(|(index, node)| {
            let identifier = node.get("identifier").opt_str().ok().flatten().map(str::to_owned);
            let feature = FeatureRef { index, identifier };
            zone(node).map_err(|e| json::in_feature(e, &feature))
        })
        .collect()
}

fn zone(node: &Node<'_>) -> Result<Zone> {
    node.object()?;
    let geometry = node.get("geometry");
    let volumes = geometry.array()?.iter().map(volume).collect::<Result<Vec<_>>>()?;
    if volumes.is_empty() {
        return Err(geometry.err("must hold at least one airspace volume"));
    }
    let conditions = node.get("restrictionConditions");
    let restriction_conditions = if conditions.is_present() {
        match conditions.opt_str() {
            Ok(one) => one.map(str::to_owned),
            Err(_) => {
                let lines = conditions
                    .array()?
                    .iter()
                    .map(|c| c.str().map(str::to_owned))
                    .collect::<Result<Vec<_>>>()?;
                Some(lines.join("\n"))
            }
        }
    } else {
        None
    };
    let class = node.get("uSpaceClass");
    let uspace_class = match class.opt_str() {
        Ok(one) => one.map(|c| vec![c.to_owned()]).unwrap_or_default(),
        Err(_) => class.array()?.iter().map(|c| c.str().map(str::to_owned)).collect::<Result<_>>()?,
    };
    let applicability = node
        .get("applicability")
        .opt_array()?
        .iter()
        .map(|p| {
            let permanent = p.get("permanent").opt_one_of(YES_NO)?.unwrap_or(false);
            common::time_period(p, permanent)
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Zone {
        identifier: node.get("identifier").str()?.to_owned(),
        country: node.get("country").str()?.to_owned(),
        name: texts(&node.get("name"))?,
        restriction: node.get("restriction").one_of(RESTRICTIONS)?,
        variant: node.get("type").one_of(VARIANTS)?,
        restriction_conditions,
        region: node.get("region").opt_i64()?,
        reasons: common::reasons(&node.get("reason"))?,
        other_reason_info: texts(&node.get("otherReasonInfo"))?,
        regulation_exemption: node.get("regulationExemption").opt_one_of(YES_NO)?,
        uspace_class,
        message: texts(&node.get("message"))?,
        authorities: node
            .get("zoneAuthority")
            .opt_array()?
            .iter()
            .map(common::authority)
            .collect::<Result<_>>()?,
        applicability,
        volumes,
    })
}

fn volume(node: &Node<'_>) -> Result<ZoneVolume> {
    node.object()?;
    let unit = common::unit_from(&node.get("uomDimensions"), "M", "FT")?;
    let lower = common::level(node, "lowerLimit", "lowerVerticalReference")?;
    let upper = common::level(node, "upperLimit", "upperVerticalReference")?;
    common::check_limits(node, lower, upper, "lowerLimit")?;
    let projection = node.get("horizontalProjection");
    projection.object()?;
    let outline = match projection.get("type").one_of(&[("Circle", true), ("Polygon", false)])? {
        true => common::circle(&projection.get("center"), &projection.get("radius"))?,
        false => common::polygon(&projection.get("coordinates"))?,
    };
    Ok(ZoneVolume { outline, lower, upper, unit })
}
