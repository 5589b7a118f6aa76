//! Error reports: archived, answered 201 with a DSS-assigned `report_id` (checklist 51).

use serde_json::{Value, json};

use crate::harness::*;

fn report() -> Value {
    json!({
        "report_id": "chosen-by-the-client",
        "exchange": {
            "url": "https://uss-b.example.com/uss/v1/operational_intents/2f8343be-6482-4d1b-a474-16847e01af1e",
            "method": "GET",
            "headers": ["Accept: application/json"],
            "recorder_role": "Client",
            "request_time": time_of(at(0)),
            "response_time": time_of(at(1)),
            "response_code": 500,
            "response_body": "eyJtZXNzYWdlIjoib29wcyJ9",
            "problem": "the peer USS answered 500",
            "request_source": "uss-a's planner"
        }
    })
}

/// Checklist 51: 201 with a non-empty report_id of at most 128 characters, not the client's.
#[tokio::test]
async fn report_is_201_with_an_id() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let mut seen = Vec::new();
    for scope in [SC, CM, CP, CMSA, AA] {
        let c = dss.client("uss-a", &[scope]);
        let body = c.post(REPORTS, &report()).await?.want(201)?;
        let rid = str_of(&body["report_id"])?.to_owned();
        assert!(!rid.is_empty() && rid.len() <= 128, "{scope}: report_id {rid:?}");
        assert_ne!(rid, "chosen-by-the-client");
        assert_eq!(body["exchange"]["problem"], "the peer USS answered 500");
        assert_eq!(body["exchange"]["response_code"], 500);
        assert_eq!(body["exchange"]["recorder_role"], "Client");
        assert_eq!(body["exchange"]["request_source"], "uss-a's planner", "taken as given");
        seen.push(rid);
    }
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 5, "report ids must be unique");
    Ok(())
}

/// F3548's schema requires `request_source` in the answer without defining it: left out, it is answered as the
/// reporting USS's identity, so the answer is complete.
#[tokio::test]
async fn a_report_without_a_request_source_is_answered_with_one() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let mut r = report();
    remove(&mut r["exchange"], "request_source");
    let body = dss.client("uss-a", &[SC]).post(REPORTS, &r).await?.want(201)?;
    assert_eq!(body["exchange"]["request_source"], "uss-a");
    for field in ["url", "method", "recorder_role", "request_time", "request_source"] {
        assert!(body["exchange"].get(field).is_some(), "{field} is required in {body}");
    }
    Ok(())
}

/// A report without its required exchange fields is 400 naming the field.
#[tokio::test]
async fn malformed_reports_are_400() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let c = dss.client("uss-a", &[SC]);
    assert_error(c.post(REPORTS, &json!({})).await?, 400, "exchange")?;
    let mut r = report();
    remove(&mut r["exchange"], "url");
    assert_error(c.post(REPORTS, &r).await?, 400, "url")?;
    let mut r = report();
    r["exchange"]["request_time"] = json!({"value": "yesterday", "format": "RFC3339"});
    assert_error(c.post(REPORTS, &r).await?, 400, "request_time")?;
    Ok(())
}
