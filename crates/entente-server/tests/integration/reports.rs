//! Error reports: archived, answered 201 with a DSS-assigned `report_id` (checklist 51).

use entente_wire::Time;
use entente_wire::scd::{ErrorReport, ExchangeRecord};
use serde_json::{Value, json};

use crate::harness::*;

fn report() -> Value {
    wire(report_of())
}

/// [`report`] as the shape, for a test to change within it.
fn report_of() -> ErrorReport {
    let exchange = ExchangeRecord {
        url: "https://uss-b.example.com/uss/v1/operational_intents/2f8343be-6482-4d1b-a474-16847e01af1e"
            .to_owned(),
        method: "GET".to_owned(),
        headers: Some(vec!["Accept: application/json".to_owned()]),
        recorder_role: "Client".to_owned(),
        request_time: time(at(0)),
        request_body: None,
        response_time: Some(time(at(1))),
        response_body: Some("eyJtZXNzYWdlIjoib29wcyJ9".to_owned()),
        response_code: Some(500),
        problem: Some("the peer USS answered 500".to_owned()),
        request_source: Some("uss-a's planner".to_owned()),
    };
    ErrorReport { report_id: Some("chosen-by-the-client".to_owned()), exchange }
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
    let mut r = report_of();
    r.exchange.request_source = None;
    let r = wire(r);
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
    // Required fields left out, which no shape can say: removed by hand.
    assert_error(c.post(REPORTS, &json!({})).await?, 400, "exchange")?;
    let mut r = report();
    remove(&mut r["exchange"], "url");
    assert_error(c.post(REPORTS, &r).await?, 400, "url")?;
    let mut r = report_of();
    r.exchange.request_time = Time { value: "yesterday".to_owned(), format: "RFC3339".to_owned() };
    let r = wire(r);
    assert_error(c.post(REPORTS, &r).await?, 400, "request_time")?;
    Ok(())
}
