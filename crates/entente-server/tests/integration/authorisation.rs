//! U-space flight authorisation data (Regulation (EU) 2021/664, Annex IV) through the flight planning test interface
//! and the operator API: invalid data refused naming the field and rule, valid data planned, and the data required
//! only of a USS serving U-space.

use serde_json::{Value, json};

use crate::harness::*;
use crate::uss::{FP_PLAN, Uss, flight, upsert};

/// A complete, valid request: the serial number and operator registration of InterUSS's U-space test data.
fn authorisation() -> Value {
    json!({
        "uas_serial_number": "1AF49UL5CC5J6K",
        "operation_mode": "Vlos",
        "operation_category": "Open",
        "uas_class": "C0",
        "identification_technologies": ["ASTMNetRID"],
        "connectivity_methods": ["cellular"],
        "endurance_minutes": 30,
        "emergency_procedure_url": "https://uss.example.com/emergency",
        "operator_id": "CHEo5kut30e0mt01-qwe",
        "uas_id": ""
    })
}

/// `authorisation()` with `field` set to `value`.
fn with(field: &str, value: Value) -> Value {
    let mut a = authorisation();
    a[field] = value;
    a
}

fn planned_with(area: &Value, authorisation: Option<Value>) -> Value {
    let mut body = upsert("Planned", area.clone(), 0);
    if let Some(a) = authorisation {
        body["flight_plan"]["uspace_flight_authorisation"] = a;
    }
    body
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
        (Some(with("uas_serial_number", json!("My serial number"))), "uas_serial_number"),
        (Some(with("uas_serial_number", json!("1AF48UL5CC5J6K"))), "announces 8"),
        (Some(with("operator_id", json!("CHEo5kut30e0mt02-qwe"))), "check character"),
        (Some(with("operation_category", json!("Unknown"))), "operation_category"),
        (Some(with("uas_class", json!("Other"))), "uas_type_certificate"),
        (Some(with("endurance_minutes", json!(0))), "endurance_minutes"),
        (Some(with("connectivity_methods", json!([]))), "connectivity_methods"),
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
    let bad = with("uas_serial_number", json!("1AF49UL5CC5J6O"));
    let refused = planner.put(&path(&id()), &planned_with(&elsewhere, Some(bad))).await.want(200)?;
    assert_eq!(refused["planning_result"], "Rejected", "{refused}");

    let operator = uss.operator();
    operator.post("/operator/v1/flights", &flight(LAT + 0.2, (0.0, 120.0), (10, 40), 0)).await.want(201)?;
    let mut request = flight(LAT + 0.3, (0.0, 120.0), (10, 40), 0);
    request["authorisation"] = with("operator_id", json!("CHEo5kut30e0mt01-qwf"));
    assert_error(operator.post("/operator/v1/flights", &request).await?, 400, "authorisation.operator_id")?;
    Ok(())
}

#[tokio::test]
async fn the_operator_api_refuses_invalid_or_missing_authorisation_with_a_400_naming_the_field()
-> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let uss = Uss::start_configured(&dss, "uss1", u_space).await?;
    let operator = uss.operator();
    let request = |authorisation: Option<Value>| {
        let mut r = flight(LAT, (0.0, 120.0), (10, 40), 0);
        if let Some(a) = authorisation {
            r["authorisation"] = a;
        }
        r
    };
    for (authorisation, field) in [
        (Some(with("uas_serial_number", json!("My serial number"))), "authorisation.uas_serial_number"),
        (Some(with("operator_id", json!("CHEo5kut30e0mt01-qwf"))), "authorisation.operator_id"),
        (Some(with("operation_mode", json!("Undeclared"))), "authorisation.operation_mode"),
        (
            Some(with("emergency_procedure_url", json!("call the pilot"))),
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
    for field in ["uas_serial_number", "operator_id", "operation_category", "emergency_procedure_url"] {
        assert_eq!(alternative["authorisation"][field], authorisation()[field], "{refused}");
    }
    operator.post("/operator/v1/flights", alternative).await.want(201)?;
    Ok(())
}
