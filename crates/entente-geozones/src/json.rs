//! A cursor over a parsed JSON document that knows its path, so every rule broken names the field it is about.
//! Both formats are read through it: they differ in shape, not in what a good error message needs.

use chrono::{DateTime, FixedOffset, NaiveTime, Utc};
use serde_json::Value;

use crate::error::{FeatureRef, GeozoneError};
use crate::model::TimeOfDay;

pub(crate) type Result<T> = std::result::Result<T, GeozoneError>;

/// A place in the document: the value there (`None` if absent or `null`) and its JSON path.
#[derive(Clone)]
pub(crate) struct Node<'a> {
    value: Option<&'a Value>,
    pub(crate) path: String,
}

impl<'a> Node<'a> {
    pub(crate) fn root(value: &'a Value) -> Node<'a> {
        Node { value: Some(value), path: "$".into() }
    }

    pub(crate) fn get(&self, key: &str) -> Node<'a> {
        let value = self.value.and_then(|v| v.get(key)).filter(|v| !v.is_null());
        Node { value, path: format!("{}.{key}", self.path) }
    }

    pub(crate) fn is_present(&self) -> bool {
        self.value.is_some()
    }

    pub(crate) fn err(&self, rule: impl Into<String>) -> GeozoneError {
        GeozoneError::Invalid { feature: None, path: self.path.clone(), rule: rule.into() }
    }

    fn required(&self) -> Result<&'a Value> {
        self.value.ok_or_else(|| self.err("is required"))
    }

    pub(crate) fn object(&self) -> Result<()> {
        match self.required()? {
            Value::Object(_) => Ok(()),
            _ => Err(self.err("must be an object")),
        }
    }

    pub(crate) fn str(&self) -> Result<&'a str> {
        self.required()?.as_str().ok_or_else(|| self.err("must be a string"))
    }

    pub(crate) fn opt_str(&self) -> Result<Option<&'a str>> {
        self.value.map(|_| self.str()).transpose()
    }

    /// A finite number.
    pub(crate) fn f64(&self) -> Result<f64> {
        self.required()?.as_f64().filter(|v| v.is_finite()).ok_or_else(|| self.err("must be a number"))
    }

    pub(crate) fn opt_f64(&self) -> Result<Option<f64>> {
        self.value.map(|_| self.f64()).transpose()
    }

    /// A finite number, or a string holding one.
    pub(crate) fn opt_f64_or_numeric_str(&self) -> Result<Option<f64>> {
        match self.value.and_then(Value::as_str) {
            Some(text) => text
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .map(Some)
                .ok_or_else(|| self.err(format!("{text:?} is not a number"))),
            None => self.opt_f64(),
        }
    }

    pub(crate) fn opt_i64(&self) -> Result<Option<i64>> {
        self.value.map(|v| v.as_i64().ok_or_else(|| self.err("must be an integer"))).transpose()
    }

    /// The elements of a required array, each with its path.
    pub(crate) fn array(&self) -> Result<Vec<Node<'a>>> {
        match self.required()? {
            Value::Array(items) => Ok(items
                .iter()
                .enumerate()
                .map(|(i, v)| Node {
                    value: Some(v).filter(|v| !v.is_null()),
                    path: format!("{}[{i}]", self.path),
                })
                .collect()),
            _ => Err(self.err("must be an array")),
        }
    }

    /// An optional array; absent or `null` is empty.
    pub(crate) fn opt_array(&self) -> Result<Vec<Node<'a>>> {
        if self.is_present() { self.array() } else { Ok(Vec::new()) }
    }

    /// A string from a closed list, mapped to its value.
    pub(crate) fn one_of<T: Copy>(&self, table: &[(&str, T)]) -> Result<T> {
        let s = self.str()?;
        table.iter().find(|(name, _)| *name == s).map(|(_, v)| *v).ok_or_else(|| {
            let names: Vec<&str> = table.iter().map(|(n, _)| *n).collect();
            self.err(format!("{s:?} is not one of {}", names.join(", ")))
        })
    }

    pub(crate) fn opt_one_of<T: Copy>(&self, table: &[(&str, T)]) -> Result<Option<T>> {
        self.value.map(|_| self.one_of(table)).transpose()
    }

    /// An RFC 3339 date and time with any offset, in UTC.
    pub(crate) fn opt_datetime(&self) -> Result<Option<DateTime<Utc>>> {
        let Some(s) = self.opt_str()? else { return Ok(None) };
        DateTime::parse_from_rfc3339(s)
            .map(|t| Some(t.with_timezone(&Utc)))
            .map_err(|e| self.err(format!("{s:?} is not an RFC 3339 date and time ({e})")))
    }

    /// A time of day, `hh:mm`, `hh:mm:ss` or `hh:mm:ss.fff`, then `Z`, `+hh:mm` or `-hh:mm` (none: UTC).
    pub(crate) fn time_of_day(&self) -> Result<TimeOfDay> {
        let s = self.str()?;
        parse_time_of_day(s).ok_or_else(|| {
            self.err(format!("{s:?} is not a time of day (hh:mm[:ss[.fff]] then Z or +hh:mm)"))
        })
    }
}

fn parse_time_of_day(s: &str) -> Option<TimeOfDay> {
    let (clock, offset) = if let Some(clock) = s.strip_suffix('Z').or_else(|| s.strip_suffix('z')) {
        (clock, FixedOffset::east_opt(0)?)
    } else if let Some(at) = s.rfind(['+', '-']) {
        let (clock, zone) = s.split_at(at);
        let sign = if zone.starts_with('-') { -1 } else { 1 };
        let (h, m) = zone[1..].split_once(':')?;
        let two_digits = |v: &str| v.len() == 2 && v.bytes().all(|b| b.is_ascii_digit());
        if !two_digits(h) || !two_digits(m) {
            return None;
        }
        let (h, m): (i32, i32) = (h.parse().ok()?, m.parse().ok()?);
        if m >= 60 {
            return None;
        }
        (clock, FixedOffset::east_opt(sign * (h * 3600 + m * 60))?)
    } else {
        (s, FixedOffset::east_opt(0)?)
    };
    let time = ["%H:%M:%S%.f", "%H:%M"].iter().find_map(|f| NaiveTime::parse_from_str(clock, f).ok())?;
    Some(TimeOfDay { time, offset })
}

/// Attributes an error raised inside a feature to that feature.
pub(crate) fn in_feature(e: GeozoneError, feature: &FeatureRef) -> GeozoneError {
    match e {
        GeozoneError::Invalid { feature: None, path, rule } => {
            GeozoneError::Invalid { feature: Some(feature.clone()), path, rule }
        }
        other => other,
    }
}

/// A text field that ED-269 writes as a string and ED-318 as an array of `{text, lang}`; either is read.
pub(crate) fn texts(node: &Node<'_>) -> Result<Vec<crate::model::Text>> {
    use crate::model::Text;
    if !node.is_present() {
        return Ok(Vec::new());
    }
    if let Ok(s) = node.str() {
        return Ok(vec![Text { text: s.to_owned(), lang: None }]);
    }
    node.array()
        .map_err(|_| node.err("must be a string or an array of {text, lang}"))?
        .iter()
        .map(|item| {
            item.object()?;
            let lang = item.get("lang").opt_str()?.filter(|l| *l != UNDETERMINED_LANG);
            Ok(Text {
                text: item.get("text").opt_str()?.unwrap_or_default().to_owned(),
                lang: lang.map(str::to_owned),
            })
        })
        .collect()
}

/// BCP 47's tag for an undetermined language: what ED-318 gets for a text that came without one.
pub(crate) const UNDETERMINED_LANG: &str = "und";

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn times_of_day_in_the_forms_data_sets_use() {
        let t = |s: &str| parse_time_of_day(s).map(|t| (t.time.format("%H:%M:%S%.3f").to_string(), t.offset));
        let utc = FixedOffset::east_opt(0).unwrap();
        assert_eq!(t("17:00:00.00Z"), Some(("17:00:00.000".into(), utc)));
        assert_eq!(t("16:00:00Z"), Some(("16:00:00.000".into(), utc)));
        assert_eq!(t("07:30"), Some(("07:30:00.000".into(), utc)));
        assert_eq!(t("07:30+01:00"), Some(("07:30:00.000".into(), FixedOffset::east_opt(3600).unwrap())));
        assert_eq!(t("23:00:00-05:30"), Some(("23:00:00.000".into(), FixedOffset::west_opt(19800).unwrap())));
        for bad in ["", "25:00Z", "7h30", "12:00+1", "12:00+01:61", "12:00+-1:00", "12:00+001:00", "noon"] {
            assert_eq!(t(bad), None, "{bad}");
        }
    }

    #[test]
    fn paths_follow_the_walk() {
        let doc = json!({"features": [{"geometry": [{"upperLimit": "high"}]}]});
        let root = Node::root(&doc);
        let features = root.get("features").array().unwrap();
        let volumes = features[0].get("geometry").array().unwrap();
        let e = volumes[0].get("upperLimit").f64().unwrap_err();
        assert_eq!(e.to_string(), "$.features[0].geometry[0].upperLimit: must be a number");
        let e = volumes[0].get("lowerVerticalReference").one_of(&[("AGL", 1)]).unwrap_err();
        assert_eq!(e.to_string(), "$.features[0].geometry[0].lowerVerticalReference: is required");
    }
}
