//! U-space flight authorisation data (Regulation (EU) 2021/664, Annex IV) through the flight planning test interface
//! and the operator API: invalid data refused naming the field and rule, valid data planned, and the data required
//! only of a USS serving U-space.

use entente_wire::interuss::flight_planning::FlightAuthorisationData;
use entente_wire::operator::FlightRequest;
use serde_json::{Value, json};

use crate::harness::*;
use crate::uss::{FP_PLAN, Uss, flight, flight_request, upsert_plan};

/// A complete, valid request: the serial number and operator registration of InterUSS's U-space test data.
fn authorisation() -> FlightAuthorisationData {
    FlightAuthorisationData {
        uas_serial_number: "1AF49UL5CC5J6K".to_owned(),
        operation_mode: "Vlos".to_owned(),
        operation_category: "Open".to_owned(),
        uas_class: "C0".to_owned(),
        identification_technologies: vec!["ASTMNetRID".to_owned()],
        uas_type_certificate: None,
        connectivity_methods: vec!["cellular".to_owned()],
        endurance_minutes: 30.0,
        emergency_procedure_url: "https://uss.example.com/emergency".to_owned(),
        operator_id: "CHEo5kut30e0mt01-qwe".to_owned(),
        uas_id: Some(String::new()),
    }
}

/// `authorisation()` changed by `change`.
fn with(change: impl FnOnce(&mut FlightAuthorisationData)) -> FlightAuthorisationData {
    let mut a = authorisation();
    change(&mut a);
    a
}

fn planned_with(area: &Value, authorisation: Option<FlightAuthorisationData>) -> Value {
    let mut plan = upsert_plan("Planned", area.clone(), 0);
    plan.flight_plan.uspace_flight_authorisation = authorisation;
    wire(plan)
}

fn u_space(config: &mut entente_server::uss::UssConfig) {
    config.require_flight_authorisation = true;
}

#[tokio::test]
async fn flight_planning_rejects_invalid_authorisation_data_naming_the_field() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let uss = Uss::start_configured(&dss, "uss1", u_space).await?;
    let planner = client_at(&uss.base, "uss_qualifier", &[FP_PLAN]);
    let path = |plan: &str| format!("/flight_planning/v1/flight_plans/{plan}");
    let area = volume4d(&circle(LAT, LNG, 300.0), 0.0, 120.0, 10, 40);
    let result = |v: &Value| (v["planning_result"].clone(), v["flight_plan_status"].clone());

    // Each one rule broken: the user's to correct, so Rejected (not Failed), nothing planned, the notes naming it.
    for (authorisation, rule) in [
        (Some(with(|a| a.uas_serial_number = "My serial number".to_owned())), "uas_serial_number"),
        (Some(with(|a| a.uas_serial_number = "1AF48UL5CC5J6K".to_owned())), "announces 8"),
        (Some(with(|a| a.operator_id = "CHEo5kut30e0mt02-qwe".to_owned())), "check character"),
        (Some(with(|a| a.operation_category = "Unknown".to_owned())), "operation_category"),
        (Some(with(|a| a.uas_class = "Other".to_owned())), "uas_type_certificate"),
        (Some(with(|a| a.endurance_minutes = 0.0)), "endurance_minutes"),
        (Some(with(|a| a.connectivity_methods.clear())), "connectivity_methods"),
        (None, "flight_plan.uspace_flight_authorisation is required"),
    ] {
        let plan = id();
        let answer = planner.put(&path(&plan), &planned_with(&area, authorisation)).await.want(200)?;
        assert_eq!(result(&answer), (json!("Rejected"), json!("NotPlanned")), "{answer}");
        assert!(str_of(&answer["notes"])?.contains(rule), "{rule}: {answer}");
        assert_eq!(dss.client("uss1", &[SC]).get(&oir_path(&plan)).await?.0, 404);
    }

    let plan = id();
    let answer = planner.put(&path(&plan), &planned_with(&area, Some(authorisation()))).await.want(200)?;
    assert_eq!(result(&answer), (json!("Completed"), json!("Planned")), "{answer}");
    assert_eq!(dss.client("uss1", &[SC]).get_oir(&plan).await?["state"], "Accepted");
    Ok(())
}

#[tokio::test]
async fn outside_u_space_the_data_is_optional_but_checked_when_given() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let uss = Uss::start(&dss, "uss1").await?;
    let planner = client_at(&uss.base, "uss_qualifier", &[FP_PLAN]);
    let path = |plan: &str| format!("/flight_planning/v1/flight_plans/{plan}");
    let area = volume4d(&circle(LAT, LNG, 300.0), 0.0, 120.0, 10, 40);
    let none = planner.put(&path(&id()), &planned_with(&area, None)).await.want(200)?;
    assert_eq!(none["planning_result"], "Completed", "{none}");
    let elsewhere = volume4d(&circle(LAT + 0.1, LNG, 300.0), 0.0, 120.0, 10, 40);
    let bad = with(|a| a.uas_serial_number = "1AF49UL5CC5J6O".to_owned());
    let refused = planner.put(&path(&id()), &planned_with(&elsewhere, Some(bad))).await.want(200)?;
    assert_eq!(refused["planning_result"], "Rejected", "{refused}");

    let operator = uss.operator();
    operator.post("/operator/v1/flights", &flight(LAT + 0.2, (0.0, 120.0), (10, 40), 0)).await.want(201)?;
    let request = wire(FlightRequest {
        authorisation: Some(with(|a| a.operator_id = "CHEo5kut30e0mt01-qwf".to_owned())),
        ..flight_request(LAT + 0.3, (0.0, 120.0), (10, 40), 0)
    });
    assert_error(operator.post("/operator/v1/flights", &request).await?, 400, "authorisation.operator_id")?;
    Ok(())
}

#[tokio::test]
async fn the_operator_api_refuses_invalid_or_missing_authorisation_with_a_400_naming_the_field()
-> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let uss = Uss::start_configured(&dss, "uss1", u_space).await?;
    let operator = uss.operator();
    let request = |authorisation: Option<FlightAuthorisationData>| {
        wire(FlightRequest { authorisation, ..flight_request(LAT, (0.0, 120.0), (10, 40), 0) })
    };
    for (authorisation, field) in [
        (
            Some(with(|a| a.uas_serial_number = "My serial number".to_owned())),
            "authorisation.uas_serial_number",
        ),
        (Some(with(|a| a.operator_id = "CHEo5kut30e0mt01-qwf".to_owned())), "authorisation.operator_id"),
        (Some(with(|a| a.operation_mode = "Undeclared".to_owned())), "authorisation.operation_mode"),
        (
            Some(with(|a| a.emergency_procedure_url = "call the pilot".to_owned())),
            "authorisation.emergency_procedure_url",
        ),
        (None, "authorisation is required"),
    ] {
        assert_error(operator.post("/operator/v1/flights", &request(authorisation)).await?, 400, field)?;
    }
    let planned = operator.post("/operator/v1/flights", &request(Some(authorisation()))).await.want(201)?;
    assert_eq!(planned["state"], "Accepted", "{planned}");

    // An alternative to a conflicting flight is the same flight: its request carries the authorisation, so that
    // submitting it as it is plans it here too.
    let refused = operator.post("/operator/v1/flights", &request(Some(authorisation()))).await.want(409)?;
    let alternative = &refused["alternatives"][0]["request"];
    let asked = wire(authorisation());
    for field in ["uas_serial_number", "operator_id", "operation_category", "emergency_procedure_url"] {
        assert_eq!(alternative["authorisation"][field], asked[field], "{refused}");
    }
    operator.post("/operator/v1/flights", alternative).await.want(201)?;
    Ok(())
}
