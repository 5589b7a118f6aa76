//! The story, step by step: each step makes the calls its people would make and checks, through the APIs of
//! the USSs and the DSS, that the airspace ended up as the memorandum says.

use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};
use entente_dss::{Clock, SystemClock};
use reqwest::Method;
use serde::Serialize;
use serde_json::{Value, json};

use entente_wire::authority::{AvailabilityRequest, ConstraintRequest};
use entente_wire::operator::{FlightRequest, PlanLimits, RouteRequest};
use entente_wire::scd::{QueryRequest, UssAvailabilityState};
use entente_wire::uss::{Position, VehicleTelemetry};
use entente_wire::{Altitude, Circle, LatLngPoint, Radius, Volume3D, Volume4D, time_out};

use super::cast::{Cast, Uss};
use super::timeline::{CheckFailed, Timeline};
use crate::seed::SAMPLE_ZONES_ED318;

pub(super) struct Step {
    pub(super) id: &'static str,
    pub(super) title: &'static str,
}

pub(super) const STEPS: [Step; 7] = [
    Step { id: "memorandum", title: "Both operators plan over the lake; flights kept apart are accepted" },
    Step {
        id: "deconfliction",
        title: "A plan that meets the other's is refused with alternatives; one is taken, a detour around it too",
    },
    Step {
        id: "ceasefire",
        title: "The authority closes the lake for a time window; the plans in it move out",
    },
    Step {
        id: "zones",
        title: "The authority publishes its geographical zones: a plan into the aerodrome's goes around it, one on the waterfront is told its conditions",
    },
    Step {
        id: "suspension",
        title: "South suspends cooperation (Down); north still plans around its flights",
    },
    Step { id: "incident", title: "A north drone leaves its volume; south is told it is Nonconforming" },
    Step { id: "review", title: "Each USS's audit log is verified" },
];

/// The lake both operators fly over.
const LAKE: (f64, f64) = (46.5, 6.6);
/// Where south would have flown after suspending cooperation, away from the lake (and the aerodrome's zone).
const SHORE: (f64, f64) = (46.525, 6.57);

/// Plays every step in order. The first one plans the flights the others build on, so the story stops if it
/// fails; any other failure fails its step and the story goes on.
pub(super) async fn play(cast: &Cast, timeline: &mut Timeline, pause: Duration) {
    let mut story = match Story::new(cast) {
        Ok(story) => story,
        Err(e) => {
            timeline.begin(&STEPS[0]);
            timeline.record("demo", "signing the people's tokens", format!("{e:#}"), false);
            timeline.end_step();
            return;
        }
    };
    for (i, step) in STEPS.iter().enumerate() {
        timeline.begin(step);
        let played = match i {
            0 => story.memorandum(timeline).await,
            1 => story.deconfliction(timeline).await,
            2 => story.ceasefire(timeline).await,
            3 => story.zones(timeline).await,
            4 => story.suspension(timeline).await,
            5 => story.incident(timeline).await,
            _ => story.review(timeline),
        };
        if let Err(e) = &played
            && !e.is::<CheckFailed>()
        {
            timeline.record("demo", "the step could not go on", format!("{e:#}"), false);
        }
        timeline.end_step();
        if i == 0 && played.is_err() {
            STEPS.iter().skip(1).for_each(|s| timeline.skip(s));
            return;
        }
        if i + 1 < STEPS.len() {
            tokio::time::sleep(pause).await;
        }
    }
}

/// One of the two operators: its pilots' token and its USS.
struct Operator<'a> {
    actor: &'static str,
    uss: &'a Uss,
    token: String,
}

/// A flight an operator planned: its short name in the story, its id and the volumes it was accepted with.
#[derive(Clone)]
struct Flight {
    name: String,
    id: String,
    volumes: Vec<Volume4D>,
    north: bool,
}

struct Story<'a> {
    cast: &'a Cast,
    http: reqwest::Client,
    /// Every volume is placed relative to this instant.
    t0: DateTime<Utc>,
    north: Operator<'a>,
    south: Operator<'a>,
    /// The authority's officer, on the authority's USS.
    authority: String,
    /// South's own command, which may declare its USS's availability.
    south_command: String,
    /// The demo looking at the DSS as any USS may, to check what the story claims.
    observer: String,
    /// Flights still planned, in the order they were accepted.
    flights: Vec<Flight>,
    /// The story's names of the entities it created, by id, so the timeline speaks of "S1" and "the zone".
    labels: Vec<(String, String)>,
}

impl<'a> Story<'a> {
    fn new(cast: &'a Cast) -> anyhow::Result<Story<'a>> {
        let operator = |actor: &'static str, uss: &'a Uss, sub: &str| -> anyhow::Result<Operator<'a>> {
            Ok(Operator { actor, uss, token: cast.token(sub, &["entente.operator"])? })
        };
        Ok(Story {
            cast,
            http: reqwest::Client::new(),
            t0: SystemClock.now(),
            north: operator("north", &cast.north, "pilot-north")?,
            south: operator("south", &cast.south, "pilot-south")?,
            authority: cast.token("ceasefire-commission", &["entente.authority"])?,
            south_command: cast.token("south-command", &["entente.authority"])?,
            observer: cast
                .token("observer", &["utm.strategic_coordination", "utm.availability_arbitration"])?,
            flights: Vec::new(),
            labels: Vec::new(),
        })
    }

    async fn memorandum(&mut self, tl: &mut Timeline) -> anyhow::Result<()> {
        let n1 = self
            .plan(
                tl,
                true,
                "N1",
                "over the lake, 0-60 m, now to +30 min",
                self.cylinder(LAKE, 300.0, (0.0, 60.0), (-1, 30)),
            )
            .await?;
        let s1 = self
            .plan(
                tl,
                false,
                "S1",
                "over the lake, 90-150 m, now to +30 min",
                self.cylinder(LAKE, 300.0, (90.0, 150.0), (-1, 30)),
            )
            .await?;
        for (flight, manager) in [(&n1, self.cast.north.id), (&s1, self.cast.south.id)] {
            let r = self.dss_reference(&flight.id).await?;
            let seen =
                format!("{} of {}", r["state"].as_str().unwrap_or("?"), r["manager"].as_str().unwrap_or("?"));
            tl.check(
                "dss",
                format!("holds {}'s reference", flight.name),
                seen,
                r["state"] == "Accepted" && r["manager"] == manager,
            )?;
        }
        self.kept_apart(tl, &n1).await?;
        self.kept_apart(tl, &s1).await
    }

    async fn deconfliction(&mut self, tl: &mut Timeline) -> anyhow::Result<()> {
        let s1 = self.flight("S1")?;
        let volumes = self.cylinder(LAKE, 300.0, (100.0, 140.0), (5, 25));
        let refused = self
            .refused(tl, true, "plans N2 over the lake, 100-140 m, +5 to +25 min", vec![volumes], &s1.id)
            .await?;
        let n2 = self.take_alternative(tl, true, "N2'", &refused).await?;
        self.kept_apart(tl, &n2).await?;
        // Held to its altitudes and its time, a route across the lake can only go around what flies there.
        let minutes = |m: i64| time_out(self.t0 + chrono::Duration::minutes(m));
        let across = |dlng: f64| LatLngPoint { lat: LAKE.0, lng: LAKE.1 + dlng };
        let request = FlightRequest {
            volumes: Vec::new(),
            route: Some(RouteRequest {
                waypoints: vec![across(-0.02), across(0.02)],
                buffer_m: 30.0,
                altitude_lower: metres(100.0),
                altitude_upper: metres(140.0),
                time_start: minutes(5),
                time_end: minutes(25),
            }),
            priority: 0,
            limits: Some(PlanLimits {
                altitude_floor_m: Some(100.0),
                altitude_ceiling_m: Some(140.0),
                earliest_start: Some(minutes(5)),
                latest_end: Some(minutes(25)),
                max_lateral_m: Some(1000.0),
                shape_may_change: None,
            }),
            best_effort: false,
            authorisation: None,
        };
        let refused = self
            .refused_request(
                tl,
                true,
                "routes N5 straight across the lake at 100-140 m, +5 to +25 min, no other height or time",
                &request,
                &s1.id,
            )
            .await?;
        let n5 = self.take_alternative(tl, true, "N5'", &refused).await?;
        self.kept_apart(tl, &n5).await
    }

    async fn ceasefire(&mut self, tl: &mut Timeline) -> anyhow::Result<()> {
        self.plan(
            tl,
            true,
            "N3",
            "over the lake, 0-60 m, +45 to +60 min",
            self.cylinder(LAKE, 300.0, (0.0, 60.0), (45, 60)),
        )
        .await?;
        self.plan(
            tl,
            false,
            "S3",
            "over the lake, 90-150 m, +45 to +60 min",
            self.cylinder(LAKE, 300.0, (90.0, 150.0), (45, 60)),
        )
        .await?;
        let zone = self.cylinder(LAKE, 1500.0, (0.0, 500.0), (40, 70));
        let body = ConstraintRequest { volumes: vec![zone.clone()], kind: Some("restricted".to_owned()) };
        let url = format!("{}/authority/v1/constraints", self.cast.authority.base);
        let (status, declared) = self.call(Method::POST, &url, &self.authority, Some(&body)).await?;
        let zone_id = declared["reference"]["id"].as_str().unwrap_or_default().to_owned();
        self.labels.push((zone_id.clone(), "the zone".to_owned()));
        tl.check(
            "authority",
            "closes the lake, 0-500 m, +40 to +70 min",
            if status == 201 { "201 declared".to_owned() } else { answer(status, &declared) },
            status == 201,
        )?;

        // Each USS heard of the zone from the authority's and alerted the pilots whose flights it meets.
        let mut affected = Vec::new();
        for flight in self.flights.clone() {
            let status = self.status(&flight).await?;
            let alerted = status["alerts"]
                .as_array()
                .is_some_and(|a| a.iter().any(|m| m.as_str().is_some_and(|m| m.contains(&zone_id))));
            if alerted {
                tl.record(
                    self.operator(&flight).actor,
                    format!("is alerted: the zone meets {}", flight.name),
                    "alert",
                    true,
                );
                affected.push(flight);
            }
        }
        let mut in_zone = self.dss_intents_in(&zone).await?;
        let mut alerted: Vec<String> = affected.iter().map(|f| f.id.clone()).collect();
        in_zone.sort();
        alerted.sort();
        tl.check(
            "dss",
            "finds in the zone exactly the flights whose pilots were alerted",
            format!("{} in the zone, {} alerted", in_zone.len(), alerted.len()),
            !in_zone.is_empty() && in_zone == alerted,
        )?;

        // Each pilot withdraws the flight and files it again; the USS offers plans clear of the zone.
        for flight in affected {
            let url = format!("{}/operator/v1/flights/{}/end", self.operator(&flight).uss.base, flight.id);
            let (status, ended) =
                self.call(Method::POST, &url, &self.operator(&flight).token, Some(&json!({}))).await?;
            self.flights.retain(|f| f.id != flight.id);
            let actor = self.operator(&flight).actor;
            tl.check(
                actor,
                format!("withdraws {}", flight.name),
                answer(status, &ended),
                status == 200 && ended["state"] == "Ended",
            )?;
            let what = format!("files {} again as it was", flight.name);
            let refused = self.refused(tl, flight.north, &what, flight.volumes.clone(), &zone_id).await?;
            let moved =
                self.take_alternative(tl, flight.north, &format!("{}'", flight.name), &refused).await?;
            self.kept_apart(tl, &moved).await?;
        }
        let left = self.dss_intents_in(&zone).await?;
        tl.check(
            "dss",
            "finds no flight left in the zone",
            format!("{} intents", left.len()),
            left.is_empty(),
        )?;
        Ok(())
    }

    async fn zones(&mut self, tl: &mut Timeline) -> anyhow::Result<()> {
        // The authority's USS publishes the prohibited zones as constraints; the operators' USSs keep the set to
        // advise their pilots.
        let set: Value = serde_json::from_str(SAMPLE_ZONES_ED318).context("the sample zone set")?;
        let mut aerodrome = String::new();
        for (uss, publish) in
            [(&self.cast.authority, true), (&self.cast.north, false), (&self.cast.south, false)]
        {
            let url = format!("{}/authority/v1/geozones/lausanne?publish={publish}", uss.base);
            let (status, imported) = self.call(Method::PUT, &url, &self.authority, Some(&set)).await?;
            let created: Vec<&str> = imported["created"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|c| c["zone"].as_str())
                .collect();
            let (what, ok) = if publish {
                aerodrome = imported["created"][0]["constraint_id"].as_str().unwrap_or_default().to_owned();
                ("publishes the Lausanne zones (ED-318) through its USS", created == ["LSGL"])
            } else {
                ("gives the same zones to an operator's USS, to advise its pilots", created.is_empty())
            };
            let outcome = if status == 200 {
                format!(
                    "{} zones, {} published as constraints",
                    imported["zones"],
                    if created.is_empty() { "none".to_owned() } else { created.join(", ") }
                )
            } else {
                answer(status, &imported)
            };
            tl.check("authority", format!("{what} ({})", uss.id), outcome, status == 200 && ok)?;
        }
        self.labels.push((aerodrome.clone(), "the aerodrome zone".to_owned()));

        // Past the aerodrome's zone, which is prohibited all the time: refused, and led around it.
        let edge = (46.5453 + 2200.0 / 111_195.0, 6.6169);
        let n6 = self.cylinder(edge, 300.0, (0.0, 60.0), (80, 95));
        let refused = self.refused(tl, true, "files N6 past the aerodrome", vec![n6], &aerodrome).await?;
        let moved = self.take_alternative(tl, true, "N6'", &refused).await?;
        self.kept_apart(tl, &moved).await?;

        // On the waterfront, a conditional zone: accepted, with the zone's conditions for the pilot.
        let s4 = flight_request(vec![self.cylinder((46.506, 6.627), 150.0, (0.0, 60.0), (80, 95))]);
        let (status, planned) = self.submit(&self.south, &s4).await?;
        let told =
            planned["advisories"].as_array().into_iter().flatten().find(|a| a["zone"] == "OUCHY").map(|a| {
                format!(
                    "{}: {}",
                    a["name"].as_str().unwrap_or_default(),
                    a["conditions"].as_str().unwrap_or_default().replace('\n', "; ")
                )
            });
        tl.check(
            "south",
            "plans S4 on the Ouchy waterfront",
            match &told {
                Some(t) if status == 201 => format!("201 Accepted; told {t}"),
                _ => answer(status, &planned),
            },
            status == 201 && told.is_some(),
        )?;
        self.accepted("S4", false, &planned)?;
        Ok(())
    }

    async fn suspension(&mut self, tl: &mut Timeline) -> anyhow::Result<()> {
        let south_id = self.cast.south.id;
        let url = format!("{}/authority/v1/uss_availability/{south_id}", self.cast.south.base);
        let (status, set) = self
            .call(
                Method::PUT,
                &url,
                &self.south_command,
                Some(&AvailabilityRequest { availability: UssAvailabilityState::Down }),
            )
            .await?;
        tl.check(
            "south",
            format!("suspends cooperation: declares {south_id} Down"),
            answer(status, &set),
            status == 200,
        )?;
        let url = format!("{}/dss/v1/uss_availability/{south_id}", self.cast.dss);
        let (_, availability) = self.get(&url, &self.observer).await?;
        let seen = availability["status"]["availability"].as_str().unwrap_or("?").to_owned();
        tl.check("dss", format!("records {south_id} as"), seen.clone(), seen == "Down")?;

        let s1 = self.flight("S1")?;
        let r = self.dss_reference(&s1.id).await?;
        let seen = format!(
            "{}, manager {}",
            r["state"].as_str().unwrap_or("?"),
            r["uss_availability"].as_str().unwrap_or("?")
        );
        tl.check(
            "dss",
            "keeps S1, its manager marked Down",
            seen,
            r["state"] == "Accepted" && r["uss_availability"] == "Down",
        )?;

        let volumes = self.cylinder(SHORE, 300.0, (0.0, 60.0), (10, 20));
        let (status, answered) = self.submit(&self.south, &flight_request(vec![volumes])).await?;
        let refused_as_down =
            status == 412 && answered["message"].as_str().is_some_and(|m| m.contains("is Down"));
        let outcome = if refused_as_down {
            "412 refused: a Down USS may not plan".to_owned()
        } else {
            answer(status, &answered)
        };
        tl.check("south", "tries to plan S5 by the shore, +10 to +20 min", outcome, refused_as_down)?;

        // F3548 would let north plan over S1 without its OVN; north's USS still reads S1 from south and keeps
        // clear of it.
        let volumes = self.cylinder(LAKE, 300.0, (90.0, 150.0), (5, 20));
        let refused = self
            .refused(tl, true, "plans N4 over the lake, 90-150 m, +5 to +20 min", vec![volumes], &s1.id)
            .await?;
        let n4 = self.take_alternative(tl, true, "N4'", &refused).await?;
        self.kept_apart(tl, &n4).await
    }

    async fn incident(&mut self, tl: &mut Timeline) -> anyhow::Result<()> {
        let n1 = self.flight("N1")?;
        let base = format!("{}/operator/v1/flights/{}", self.north.uss.base, n1.id);
        let (status, active) =
            self.call(Method::POST, &format!("{base}/activate"), &self.north.token, Some(&json!({}))).await?;
        tl.check(
            "north",
            "launches N1",
            answer(status, &active),
            status == 200 && active["state"] == "Activated",
        )?;
        for (altitude, expected, what) in [
            (30.0, "Activated", "reports N1 at 30 m, inside its volume"),
            (120.0, "Nonconforming", "reports N1 at 120 m, above its 60 m ceiling"),
        ] {
            let fix = VehicleTelemetry {
                time_measured: time_out(SystemClock.now()),
                position: Some(Position {
                    longitude: LAKE.1,
                    latitude: LAKE.0,
                    accuracy_h: None,
                    accuracy_v: None,
                    extrapolated: false,
                    altitude: Some(metres(altitude)),
                }),
                velocity: None,
            };
            let (status, judged) =
                self.call(Method::POST, &format!("{base}/telemetry"), &self.north.token, Some(&fix)).await?;
            tl.check("north", what, answer(status, &judged), status == 200 && judged["state"] == expected)?;
        }
        let r = self.dss_reference(&n1.id).await?;
        let seen = r["state"].as_str().unwrap_or("?").to_owned();
        tl.check("dss", "holds N1 as", seen.clone(), seen == "Nonconforming")?;
        let s1 = self.flight("S1")?;
        let status = self.status(&s1).await?;
        let alert = status["alerts"].as_array().and_then(|alerts| {
            alerts
                .iter()
                .filter_map(Value::as_str)
                .find(|a| a.contains(&n1.id) && a.contains("Nonconforming"))
        });
        tl.check(
            "south",
            "is alerted on S1: N1 strays into its layer",
            alert.map_or_else(|| "no alert".to_owned(), |_| "N1 Nonconforming".to_owned()),
            alert.is_some(),
        )?;
        Ok(())
    }

    fn review(&self, tl: &mut Timeline) -> anyhow::Result<()> {
        let mut held = true;
        for uss in [&self.cast.north, &self.cast.south, &self.cast.authority] {
            let (outcome, ok) = match entente_server::uss::verify_audit_log(&uss.audit_log) {
                Ok(records) => (format!("{records} records, hash chain intact"), records > 0),
                Err(e) => (e.to_string(), false),
            };
            held &= ok;
            tl.record("audit", format!("verifies {}'s log", uss.id), outcome, ok);
        }
        if held { Ok(()) } else { Err(CheckFailed.into()) }
    }

    /// Plans a flight that nothing stands in the way of; it must be Accepted.
    async fn plan(
        &mut self,
        tl: &mut Timeline,
        north: bool,
        name: &str,
        what: &str,
        volume: Volume4D,
    ) -> anyhow::Result<Flight> {
        let op = if north { &self.north } else { &self.south };
        let (status, planned) = self.submit(op, &flight_request(vec![volume])).await?;
        tl.check(
            op.actor,
            format!("plans {name} {what}"),
            answer(status, &planned),
            status == 201 && planned["state"] == "Accepted",
        )?;
        self.accepted(name, north, &planned)
    }

    /// Files a flight over `volumes` that meets `blocker`: it must be refused, naming it, with alternatives.
    async fn refused(
        &self,
        tl: &mut Timeline,
        north: bool,
        what: &str,
        volumes: Vec<Volume4D>,
        blocker: &str,
    ) -> anyhow::Result<Value> {
        self.refused_request(tl, north, what, &flight_request(volumes), blocker).await
    }

    /// Files `request` that meets `blocker`: it must be refused, naming it, with alternatives.
    async fn refused_request(
        &self,
        tl: &mut Timeline,
        north: bool,
        what: &str,
        request: &FlightRequest,
        blocker: &str,
    ) -> anyhow::Result<Value> {
        let op = if north { &self.north } else { &self.south };
        let (status, refused) = self.submit(op, request).await?;
        let names_blocker =
            refused["conflicting_intents"].as_array().is_some_and(|c| c.iter().any(|i| i == blocker));
        let alternatives = refused["alternatives"].as_array().map_or(0, Vec::len);
        let outcome = if status == 409 {
            format!(
                "409 refused: meets {}; {alternatives} alternatives",
                self.names(&refused["conflicting_intents"])
            )
        } else {
            answer(status, &refused)
        };
        tl.check(op.actor, what, outcome, status == 409 && names_blocker && alternatives > 0)?;
        Ok(refused)
    }

    /// Submits the first alternative of a refusal as it is; it must be Accepted.
    async fn take_alternative(
        &mut self,
        tl: &mut Timeline,
        north: bool,
        name: &str,
        refused: &Value,
    ) -> anyhow::Result<Flight> {
        let op = if north { &self.north } else { &self.south };
        let alternative = &refused["alternatives"][0];
        let shift = describe_shift(alternative);
        let (status, planned) = self.submit(op, &alternative["request"]).await?;
        tl.check(
            op.actor,
            format!("takes the nearest alternative ({shift}) as {name}"),
            answer(status, &planned),
            status == 201 && planned["state"] == "Accepted",
        )?;
        self.accepted(name, north, &planned)
    }

    /// Asks the DSS which intents meet the flight in 4D: none but itself, or the story was not kept apart.
    async fn kept_apart(&self, tl: &mut Timeline, flight: &Flight) -> anyhow::Result<()> {
        let mut met = Vec::new();
        for volume in &flight.volumes {
            met.extend(self.dss_intents_in(volume).await?.into_iter().filter(|id| *id != flight.id));
        }
        let clear = met.is_empty();
        let outcome = if clear {
            "meets no other".to_owned()
        } else {
            format!("meets {}", self.names(&Value::from(met)))
        };
        tl.check("dss", format!("checks {} against every intent in 4D", flight.name), outcome, clear)?;
        Ok(())
    }

    fn accepted(&mut self, name: &str, north: bool, planned: &Value) -> anyhow::Result<Flight> {
        let flight = Flight {
            name: name.to_owned(),
            id: planned["id"].as_str().unwrap_or_default().to_owned(),
            volumes: serde_json::from_value(planned["volumes"].clone())
                .with_context(|| format!("the volumes {name} was accepted with"))?,
            north,
        };
        self.flights.push(flight.clone());
        self.labels.push((flight.id.clone(), flight.name.clone()));
        Ok(flight)
    }

    fn flight(&self, name: &str) -> anyhow::Result<Flight> {
        self.flights
            .iter()
            .find(|f| f.name == name)
            .cloned()
            .with_context(|| format!("flight {name} is not planned"))
    }

    fn operator(&self, flight: &Flight) -> &Operator<'a> {
        if flight.north { &self.north } else { &self.south }
    }

    /// The story's names of the ids in a JSON array; an id it did not create shows as its first block.
    fn names(&self, ids: &Value) -> String {
        let names: Vec<String> = ids
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(|id| {
                self.labels
                    .iter()
                    .find(|(known, _)| known == id)
                    .map_or_else(|| short(id), |(_, name)| name.clone())
            })
            .collect();
        names.join(", ")
    }

    async fn submit(&self, op: &Operator<'_>, request: &impl Serialize) -> anyhow::Result<(u16, Value)> {
        self.call(Method::POST, &format!("{}/operator/v1/flights", op.uss.base), &op.token, Some(request))
            .await
    }

    async fn status(&self, flight: &Flight) -> anyhow::Result<Value> {
        let op = self.operator(flight);
        let url = format!("{}/operator/v1/flights/{}", op.uss.base, flight.id);
        let (status, body) = self.get(&url, &op.token).await?;
        anyhow::ensure!(status == 200, "reading {}: {}", flight.name, answer(status, &body));
        Ok(body)
    }

    async fn dss_reference(&self, id: &str) -> anyhow::Result<Value> {
        let url = format!("{}/dss/v1/operational_intent_references/{id}", self.cast.dss);
        let (status, body) = self.get(&url, &self.observer).await?;
        anyhow::ensure!(status == 200, "the DSS on {id}: {}", answer(status, &body));
        Ok(body["operational_intent_reference"].clone())
    }

    /// The ids of the intents the DSS finds meeting `volume` in 4D.
    async fn dss_intents_in(&self, volume: &Volume4D) -> anyhow::Result<Vec<String>> {
        let url = format!("{}/dss/v1/operational_intent_references/query", self.cast.dss);
        let body = QueryRequest { area_of_interest: Some(volume.clone()) };
        let (status, found) = self.call(Method::POST, &url, &self.observer, Some(&body)).await?;
        anyhow::ensure!(status == 200, "the DSS query: {}", answer(status, &found));
        Ok(found["operational_intent_references"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| r["id"].as_str().map(str::to_owned))
            .collect())
    }

    async fn get(&self, url: &str, token: &str) -> anyhow::Result<(u16, Value)> {
        self.call::<()>(Method::GET, url, token, None).await
    }

    async fn call<B: Serialize + ?Sized>(
        &self,
        method: Method,
        url: &str,
        token: &str,
        body: Option<&B>,
    ) -> anyhow::Result<(u16, Value)> {
        let mut request = self.http.request(method.clone(), url).bearer_auth(token);
        if let Some(body) = body {
            request = request.json(body);
        }
        let reply = request.send().await.with_context(|| format!("{method} {url}"))?;
        let status = reply.status().as_u16();
        let text = reply.text().await.with_context(|| format!("{method} {url}: reading the answer"))?;
        Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
    }

    /// A cylinder of `radius_m` around `at`, between the altitudes (metres above the WGS84 ellipsoid), over
    /// the minutes from the story's start.
    fn cylinder(&self, at: (f64, f64), radius_m: f64, altitude: (f64, f64), minutes: (i64, i64)) -> Volume4D {
        let t = |m: i64| time_out(self.t0 + chrono::Duration::minutes(m));
        Volume4D {
            volume: Volume3D {
                outline_circle: Some(Circle {
                    center: Some(LatLngPoint { lat: at.0, lng: at.1 }),
                    radius: Some(Radius { value: radius_m, units: "M".to_owned() }),
                }),
                outline_polygon: None,
                altitude_lower: Some(metres(altitude.0)),
                altitude_upper: Some(metres(altitude.1)),
            },
            time_start: Some(t(minutes.0)),
            time_end: Some(t(minutes.1)),
        }
    }
}

/// An altitude in metres above the WGS 84 ellipsoid.
fn metres(value: f64) -> Altitude {
    Altitude { value, reference: "W84".to_owned(), units: "M".to_owned() }
}

/// An operator's plan of `volumes` at the lowest priority, with no limits on its alternatives.
fn flight_request(volumes: Vec<Volume4D>) -> FlightRequest {
    FlightRequest { volumes, route: None, priority: 0, limits: None, best_effort: false, authorisation: None }
}

/// The HTTP status and what the body says: a flight's state, or the error's message.
fn answer(status: u16, body: &Value) -> String {
    let said = body["state"].as_str().or_else(|| body["message"].as_str()).unwrap_or("");
    let said: String = said.chars().take(120).collect();
    format!("{status} {said}").trim_end().to_owned()
}

/// How an alternative differs from the refused plan, in words.
fn describe_shift(alternative: &Value) -> String {
    let minutes = alternative["time_shift_seconds"].as_i64().unwrap_or(0) / 60;
    let metres = alternative["altitude_shift_m"].as_f64().unwrap_or(0.0);
    let sideways = alternative["lateral_m"].as_f64().unwrap_or(0.0);
    if sideways > 0.0 && alternative["request"]["route"].is_object() {
        format!("a detour {sideways:.0} m longer")
    } else if sideways > 0.0 {
        format!("moved {sideways:.0} m aside")
    } else if minutes == 0 {
        format!("{metres:+} m")
    } else if metres == 0.0 {
        format!("{minutes:+} min")
    } else {
        format!("{minutes:+} min, {metres:+} m")
    }
}

/// The first block of a UUID, enough to tell entities apart on one timeline.
fn short(id: &str) -> String {
    id.split('-').next().unwrap_or(id).to_owned()
}
