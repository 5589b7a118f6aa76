//! Request extractors that fail with our JSON errors: the bearer token and a size-capped JSON body.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use entente_dss::{Caller, EntityId, Scope};
use serde::de::DeserializeOwned;

use crate::auth::{Authenticator, Claims};
use crate::error::ApiError;
use crate::listener::TooSlow;

/// What the extractors need from a server's state; the DSS and the USS each implement it.
pub(crate) trait Edge: Send + Sync + 'static {
    fn authenticator(&self) -> &Authenticator;
    fn body_limit(&self) -> usize;
}

/// The verified token of the request; a failure is a 401 before anything else is looked at.
pub(crate) struct Auth(pub Claims);

impl<S: Edge> FromRequestParts<Arc<S>> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<S>) -> Result<Auth, ApiError> {
        let header = parts.headers.get(AUTHORIZATION).and_then(|h| h.to_str().ok());
        Ok(Auth(state.authenticator().verify(header)?))
    }
}

impl Auth {
    /// The F3548 caller, if the token holds every scope of at least one of `allowed`.
    pub(crate) fn scd(&self, allowed: &[&[Scope]]) -> Result<Caller, ApiError> {
        let scopes: Vec<Scope> = self.0.scopes.iter().filter_map(|s| Scope::from_name(s)).collect();
        if !allowed.iter().any(|set| set.iter().all(|s| scopes.contains(s))) {
            let names: Vec<String> = allowed
                .iter()
                .map(|set| set.iter().map(|s| s.name()).collect::<Vec<_>>().join(" + "))
                .collect();
            return Err(ApiError::Forbidden(format!(
                "the access token lacks the scope this operation needs: one of {}",
                names.join(", ")
            )));
        }
        Ok(Caller::new(self.0.sub.clone(), scopes))
    }

    /// Passes if the token holds `scope`, one outside F3548 (an operator's or an authority's, say).
    pub(crate) fn require(&self, scope: &str) -> Result<(), ApiError> {
        if self.0.has_scope(scope) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!("the access token lacks the scope {scope}")))
        }
    }

    /// Passes if the token holds at least one of `scopes`, for operations a specification and the tools that
    /// test against it guard with different scopes.
    pub(crate) fn require_any(&self, scopes: &[&str]) -> Result<(), ApiError> {
        if scopes.iter().any(|s| self.0.has_scope(s)) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!(
                "the access token lacks the scope: one of {}",
                scopes.join(", ")
            )))
        }
    }

    /// The F3411 caller, if the token holds at least one of `allowed` (each an RID scope name). RID rules look
    /// only at the owner, so the caller carries no F3548 scopes.
    pub(crate) fn rid(&self, allowed: &[&str]) -> Result<Caller, ApiError> {
        if !allowed.iter().any(|scope| self.0.has_scope(scope)) {
            return Err(ApiError::Forbidden(format!(
                "the access token lacks the scope this operation needs: one of {}",
                allowed.join(", ")
            )));
        }
        Ok(Caller::new(self.0.sub.clone(), []))
    }
}

/// The raw body, read up to the configured limit; parsing waits until the scopes were checked.
pub(crate) struct Body(Bytes);

impl<S: Edge> FromRequest<Arc<S>> for Body {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &Arc<S>) -> Result<Body, ApiError> {
        let limit = state.body_limit();
        axum::body::to_bytes(req.into_body(), limit).await.map(Body).map_err(|e| body_error(&e, limit))
    }
}

/// Why a request body of at most `limit` bytes could not be read: it arrived too slowly (408), else it was too
/// large (413).
pub(crate) fn body_error(e: &axum::Error, limit: usize) -> ApiError {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(error) = cause {
        if let Some(slow) = error.downcast_ref::<TooSlow>() {
            return ApiError::RequestTimeout(slow.to_string());
        }
        cause = error.source();
    }
    ApiError::PayloadTooLarge(format!("request body exceeds the limit of {limit} bytes"))
}

impl Body {
    /// Parses JSON, naming the path of the offending field on failure; unknown fields are ignored.
    pub(crate) fn json<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        // Tracking the path costs on every field, so it is paid only to explain a failure.
        if let Ok(parsed) = serde_json::from_slice(&self.0) {
            return Ok(parsed);
        }
        let mut de = serde_json::Deserializer::from_slice(&self.0);
        let parsed = serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            if path == "." || path.is_empty() {
                ApiError::bad(format!("request body is not valid JSON for this operation: {inner}"))
            } else {
                ApiError::bad(format!("{path}: {inner}"))
            }
        })?;
        de.end().map_err(|e| ApiError::bad(format!("request body has data after the JSON value: {e}")))?;
        Ok(parsed)
    }

    /// The body as it came, for a handler that passes it on unread.
    pub(crate) fn into_bytes(self) -> Bytes {
        self.0
    }

    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.0).into_owned()
    }
}

pub(crate) fn entity_id(text: &str, what: &str) -> Result<EntityId, ApiError> {
    EntityId::parse(text).ok_or_else(|| ApiError::bad(format!("{what} {text:?} is not a UUIDv4")))
}
