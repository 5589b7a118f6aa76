//! InterUSS's DSS extensions that its tooling reads (the system version and the pool status), each behind its
//! own scope.

use crate::harness::*;

#[tokio::test]
async fn the_version_and_pool_status_answer_only_their_own_scopes() -> anyhow::Result<()> {
    let dss = Dss::start().await?;
    let versions = dss.client("qualifier", &["interuss.versioning.read_system_versions"]);
    let body = versions.get("/versions/dss").await?.want(200)?;
    assert_eq!(body["system_identity"], "dss");
    assert!(str_of(&body["system_version"])?.starts_with("entente-"), "{body}");
    assert_error(versions.get("/versions/uss").await?, 404, "system_identity")?;
    assert!(str_of(&versions.get("/aux/v1/version").await?.want(200)?["version"])?.starts_with("entente-"));
    versions.get("/aux/v1/pool").await?.want(403)?;

    let pool = dss.client("qualifier", &["interuss.pool_status.read"]);
    assert_eq!(pool.get("/aux/v1/pool").await?.want(200)?, serde_json::json!({}));
    pool.get("/versions/dss").await?.want(403)?;

    for path in ["/versions/dss", "/aux/v1/version", "/aux/v1/pool"] {
        dss.anonymous().get(path).await?.want(401)?;
    }
    Ok(())
}
