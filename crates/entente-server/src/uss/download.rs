//! A zone data set fetched from a URL, for a test director's data source and for `entente geozones import URL`:
//! `https` only (plain `http` where loopback tests allow it, redirects included), within a total time and a size
//! cap, so a slow or endless source costs at most that.

use std::error::Error as _;
use std::time::Duration;

/// What a download may take.
#[derive(Clone, Copy, Debug)]
pub struct DownloadLimits {
    /// The largest data set, in bytes: the size an upload of the same set may have.
    pub max_bytes: usize,
    /// The whole download, connecting and redirects included.
    pub timeout: Duration,
    /// Plain `http` is fetched too (tests on loopback); otherwise `https` only.
    pub allow_http: bool,
}

/// Redirects followed at most.
const MAX_REDIRECTS: usize = 5;

#[derive(Debug, thiserror::Error)]
pub enum DownloadError {
    /// Not a URL this fetches: the caller's mistake, found before anything is sent.
    #[error("{0}")]
    Url(String),
    /// The source answered more than a data set may hold.
    #[error("{url}: the data set exceeds the limit of {max_bytes} bytes")]
    TooLarge { url: String, max_bytes: usize },
    /// The source could not be reached, refused, or did not finish in time.
    #[error("downloading {url}: {why}")]
    Failed { url: String, why: String },
}

/// The text at `url`, within `limits`.
pub async fn download_text(url: &str, limits: DownloadLimits) -> Result<String, DownloadError> {
    let parsed =
        reqwest::Url::parse(url).map_err(|e| DownloadError::Url(format!("{url:?} is not a URL: {e}")))?;
    let allowed =
        move |u: &reqwest::Url| u.scheme() == "https" || (limits.allow_http && u.scheme() == "http");
    if !allowed(&parsed) {
        let schemes = if limits.allow_http { "http or https" } else { "https" };
        return Err(DownloadError::Url(format!("{url}: only {schemes} URLs are fetched")));
    }
    let failed = |why: String| DownloadError::Failed { url: url.to_owned(), why };
    let policy = reqwest::redirect::Policy::custom(move |attempt| {
        if attempt.previous().len() > MAX_REDIRECTS {
            attempt.error(format!("more than {MAX_REDIRECTS} redirects"))
        } else if allowed(attempt.url()) {
            attempt.follow()
        } else {
            attempt.error("a redirect to a URL of a scheme not fetched")
        }
    });
    let client = reqwest::Client::builder().redirect(policy).build().map_err(|e| failed(causes(&e)))?;
    let fetch = async {
        let mut response = client.get(parsed).send().await.map_err(|e| failed(causes(&e)))?;
        if !response.status().is_success() {
            return Err(failed(format!("the source answered {}", response.status())));
        }
        let too_large = || DownloadError::TooLarge { url: url.to_owned(), max_bytes: limits.max_bytes };
        if response.content_length().is_some_and(|n| n > limits.max_bytes as u64) {
            return Err(too_large());
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| failed(causes(&e)))? {
            if body.len() + chunk.len() > limits.max_bytes {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        String::from_utf8(body).map_err(|_| failed("the data set is not UTF-8 text".to_owned()))
    };
    tokio::time::timeout(limits.timeout, fetch)
        .await
        .map_err(|_| failed(format!("no complete answer within {} ms", limits.timeout.as_millis())))?
}

/// An error and its causes, which say what `reqwest`'s own message leaves out (refused, no such host, ...).
fn causes(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(allow_http: bool) -> DownloadLimits {
        DownloadLimits { max_bytes: 16, timeout: Duration::from_secs(2), allow_http }
    }

    #[tokio::test]
    async fn only_https_is_fetched_unless_http_is_allowed() {
        let plain = download_text("http://127.0.0.1:1/set.json", limits(false)).await;
        assert!(matches!(&plain, Err(DownloadError::Url(m)) if m.contains("only https")), "{plain:?}");
        let other = download_text("ftp://example.org/set.json", limits(true)).await;
        assert!(
            matches!(&other, Err(DownloadError::Url(m)) if m.contains("only http or https")),
            "{other:?}"
        );
        let garbled = download_text("not a url", limits(true)).await;
        assert!(matches!(garbled, Err(DownloadError::Url(_))), "{garbled:?}");
    }

    #[tokio::test]
    async fn a_source_that_is_down_is_a_failure_naming_the_url() {
        // Port 1 on loopback: nothing listens there.
        let down = download_text("http://127.0.0.1:1/set.json", limits(true)).await;
        assert!(
            matches!(&down, Err(e @ DownloadError::Failed { .. }) if e.to_string().contains("127.0.0.1:1")),
            "{down:?}"
        );
    }
}
