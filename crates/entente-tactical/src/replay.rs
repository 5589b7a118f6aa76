//! Recorded traffic as CSV (`id,lat,lon,alt_m,gs_mps,trk_deg,vs_mps,t`), so detection can be tried without drones:
//! samples in time order to feed a [`crate::Monitor`] or a service provider, or snapshots at any instant with each
//! aircraft dead-reckoned from its latest sample.

use std::collections::HashMap;
use std::fmt::Write;

use crate::error::{Field, TacticalError};
use crate::state::{AircraftId, Position, State, Velocity};

#[derive(Clone, Debug)]
pub struct Replay {
    /// Every sample, by time; samples with equal times keep their order in the file.
    samples: Vec<State>,
    /// Each aircraft's samples by time, aircraft in order of first appearance.
    tracks: Vec<Vec<State>>,
}

impl Replay {
    /// Parses CSV text. The header names the columns, in any order (columns it does not know are ignored); fields
    /// are separated by commas, without quoting; blank lines are skipped. Errors name the line and the field.
    pub fn parse(text: &str) -> Result<Replay, TacticalError> {
        let mut lines =
            text.lines().enumerate().map(|(i, l)| (i + 1, l.trim())).filter(|(_, l)| !l.is_empty());
        let Some((header_line, header)) = lines.next() else { return Err(TacticalError::EmptyReplay) };
        let names: Vec<&str> = header.split(',').map(str::trim).collect();
        let mut columns = [0usize; Field::ALL.len()];
        for (slot, field) in columns.iter_mut().zip(Field::ALL) {
            let mut at = names.iter().enumerate().filter(|(_, n)| **n == field.column()).map(|(i, _)| i);
            *slot = at
                .next()
                .ok_or(TacticalError::MissingColumn { line: header_line, column: field.column() })?;
            if at.next().is_some() {
                return Err(TacticalError::DuplicateColumn {
                    line: header_line,
                    column: field.column().into(),
                });
            }
        }
        let mut samples = Vec::new();
        for (line, row) in lines {
            let cells: Vec<&str> = row.split(',').map(str::trim).collect();
            if cells.len() != names.len() {
                return Err(TacticalError::FieldCount { line, expected: names.len(), found: cells.len() });
            }
            let number = |field: Field| {
                let text = cells[columns[field as usize]];
                text.parse::<f64>().map_err(|_| TacticalError::NotANumber { line, field, text: text.into() })
            };
            let position =
                Position { lat: number(Field::Lat)?, lon: number(Field::Lon)?, alt_m: number(Field::AltM)? };
            let velocity = Velocity {
                gs_mps: number(Field::GsMps)?,
                trk_deg: number(Field::TrkDeg)?,
                vs_mps: number(Field::VsMps)?,
            };
            let state = State::new(cells[columns[Field::Id as usize]], position, velocity, number(Field::T)?)
                .map_err(|e| TacticalError::InvalidRow { line, source: Box::new(e) })?;
            samples.push(state);
        }
        if samples.is_empty() {
            return Err(TacticalError::EmptyReplay);
        }
        samples.sort_by(|a, b| a.t().total_cmp(&b.t()));
        let mut index: HashMap<AircraftId, usize> = HashMap::new();
        let mut tracks: Vec<Vec<State>> = Vec::new();
        for s in &samples {
            let i = *index.entry(s.id().clone()).or_insert_with(|| {
                tracks.push(Vec::new());
                tracks.len() - 1
            });
            tracks[i].push(s.clone());
        }
        Ok(Replay { samples, tracks })
    }

    /// Every sample in time order, as reports would arrive.
    pub fn samples(&self) -> &[State] {
        &self.samples
    }

    /// First and last sample times.
    pub fn span(&self) -> (f64, f64) {
        let first = self.samples.first().map_or(0.0, State::t);
        let last = self.samples.last().map_or(0.0, State::t);
        (first, last)
    }

    /// The traffic at `t`: every aircraft between its first and last sample, dead-reckoned from its latest sample
    /// at or before `t`.
    pub fn snapshot(&self, t: f64) -> Vec<State> {
        self.tracks
            .iter()
            .filter(|track| track.last().is_some_and(|s| s.t() >= t))
            .filter_map(|track| {
                let latest = track.partition_point(|s| s.t() <= t).checked_sub(1)?;
                let s = &track[latest];
                Some(s.dead_reckoned(t - s.t()))
            })
            .collect()
    }
}

/// Writes states as replay CSV with a header; numbers are printed so that they parse back bit for bit.
pub fn to_csv(states: &[State]) -> String {
    let header: Vec<&str> = Field::ALL.iter().map(|f| f.column()).collect();
    let mut out = header.join(",");
    out.push('\n');
    for s in states {
        let (p, v) = (s.position(), s.velocity());
        // Writing to a String cannot fail.
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{},{}",
            s.id(),
            p.lat,
            p.lon,
            p.alt_m,
            v.gs_mps,
            v.trk_deg,
            v.vs_mps,
            s.t()
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "id,lat,lon,alt_m,gs_mps,trk_deg,vs_mps,t\n";

    fn err(text: &str) -> String {
        Replay::parse(text).map(|_| ()).unwrap_err().to_string()
    }

    #[test]
    fn errors_name_the_line_and_the_field() {
        assert_eq!(
            err(&format!("{HEADER}a,47,8,60,10,0,0,0\nb,47,8,sixty,10,0,0,0\n")),
            "line 3, field alt_m: \"sixty\" is not a number"
        );
        assert_eq!(err(&format!("{HEADER}a,147,8,60,10,0,0,0\n")), "line 2, lat: 147 is outside [-90, 90]");
        assert_eq!(err(&format!("{HEADER}\n\na,47,8,60,10,0\n")), "line 4: expected 8 fields, found 6");
        assert_eq!(err("id,lat,lon,alt_m,gs_mps,trk_deg,t\n"), "line 1: missing column vs_mps in the header");
        assert_eq!(
            err("id,lat,lat,lon,alt_m,gs_mps,trk_deg,vs_mps,t\n"),
            "line 1: column lat appears twice in the header"
        );
        assert_eq!(err(&format!("{HEADER} ,47,8,60,10,0,0,0\n")), "line 2, aircraft id must not be empty");
        assert_eq!(err(HEADER), "the replay has no samples");
    }

    #[test]
    fn columns_in_any_order_and_unknown_ones_ignored() -> Result<(), TacticalError> {
        let r = Replay::parse("t,callsign,id,vs_mps,trk_deg,gs_mps,alt_m,lon,lat\n5,X1,a,1,90,10,60,8,47\n")?;
        let s = &r.samples()[0];
        assert_eq!((s.id().as_ref(), s.t()), ("a", 5.0));
        assert_eq!(s.position(), Position { lat: 47.0, lon: 8.0, alt_m: 60.0 });
        assert_eq!(s.velocity(), Velocity { gs_mps: 10.0, trk_deg: 90.0, vs_mps: 1.0 });
        Ok(())
    }

    #[test]
    fn samples_come_in_time_order() -> Result<(), TacticalError> {
        let r =
            Replay::parse(&format!("{HEADER}a,47,8,60,10,0,0,2\nb,47,8,60,10,0,0,1\na,47,8,60,10,0,0,0\n"))?;
        let order: Vec<(&str, f64)> = r.samples().iter().map(|s| (s.id().as_ref(), s.t())).collect();
        assert_eq!(order, [("a", 0.0), ("b", 1.0), ("a", 2.0)]);
        assert_eq!(r.span(), (0.0, 2.0));
        Ok(())
    }

    #[test]
    fn snapshots_dead_reckon_between_samples_only() -> Result<(), TacticalError> {
        let r = Replay::parse(&format!(
            "{HEADER}a,47,8,60,10,0,1,0\na,47.1,8,80,10,0,1,100\nb,47,9,60,0,0,0,50\n"
        ))?;
        let at = |t| r.snapshot(t).into_iter().map(|s| (s.id().to_string(), s)).collect::<Vec<_>>();
        let mid = at(40.0);
        assert_eq!(mid.len(), 1, "b has not appeared yet and has only one sample");
        assert_eq!(mid[0].1, r.samples()[0].dead_reckoned(40.0));
        assert!((mid[0].1.position().alt_m - 100.0).abs() < 1e-9);
        let both = at(50.0);
        assert_eq!(both.iter().map(|(id, _)| id.as_str()).collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(at(100.0)[0].1.position().lat, 47.1, "the second sample replaces the dead reckoning");
        assert!(at(100.5).is_empty(), "past every last sample");
        Ok(())
    }

    #[test]
    fn csv_round_trips_exactly() -> Result<(), TacticalError> {
        let states = vec![
            State::new(
                "x",
                Position { lat: 47.123456789012345, lon: -0.1, alt_m: 1e-9 },
                Velocity { gs_mps: 0.3, trk_deg: 359.9, vs_mps: -2.5 },
                1.0 / 3.0,
            )?,
            State::new(
                "y",
                Position { lat: -89.0, lon: 180.0, alt_m: 120.0 },
                Velocity { gs_mps: 25.0, trk_deg: 0.0, vs_mps: 0.0 },
                2.0,
            )?,
        ];
        assert_eq!(Replay::parse(&to_csv(&states))?.samples(), states.as_slice());
        Ok(())
    }
}
