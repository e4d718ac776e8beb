//! The one way configuration changes: under the write lock, on a clone of the latest revision,
//! checked against `If-Match`, validated whole, committed, then applied to the node.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use egress_model::Config;
use serde::Serialize;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::node::Mode;
use crate::state::AppState;

/// Validation errors name this origin (the API, not a file).
const ORIGIN: &str = "api";

/// Who writes, on which revision, and what the revision's comment says.
#[derive(Debug, Clone)]
pub(crate) struct Change {
    author: String,
    /// The revision named by `If-Match`; `None` = whatever is latest.
    if_match: Option<u64>,
    comment: String,
}

impl<S: Send + Sync> FromRequestParts<S> for Change {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Change, ApiError> {
        let caller = parts
            .extensions
            .get::<Caller>()
            .ok_or_else(|| ApiError::internal("a write route runs without token verification"))?;
        let if_match = match parts.headers.get(header::IF_MATCH) {
            None => None,
            Some(value) => parse_if_match(value)?,
        };
        Ok(Change {
            author: caller.name.clone(),
            if_match,
            comment: format!("{} {}", parts.method, parts.uri.path()),
        })
    }
}

/// `"N"` (or weak `W/"N"`) names revision N; `*` means any.
fn parse_if_match(value: &HeaderValue) -> Result<Option<u64>, ApiError> {
    let bad = || {
        ApiError::bad_request(
            "If-Match must be one ETag of this API, a revision number in quotes such as \"12\"",
        )
    };
    let text = value.to_str().map_err(|_| bad())?.trim();
    if text == "*" {
        return Ok(None);
    }
    let text = text.strip_prefix("W/").unwrap_or(text);
    let number = text
        .strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .ok_or_else(bad)?;
    number.parse().map(Some).map_err(|_| bad())
}

/// The `ETag` of a revision.
pub(crate) fn etag(revision: u64) -> HeaderValue {
    HeaderValue::from_str(&format!("\"{revision}\"")).expect("digits and quotes are a header value")
}

/// A response that carries the `ETag` of the revision it read or wrote.
#[derive(Debug)]
pub(crate) struct Tagged<T> {
    revision: u64,
    status: StatusCode,
    body: Option<T>,
}

impl<T: Serialize> Tagged<T> {
    /// 200 with a body.
    pub(crate) fn ok(revision: u64, body: T) -> Tagged<T> {
        Tagged {
            revision,
            status: StatusCode::OK,
            body: Some(body),
        }
    }

    /// 201 with the created item.
    pub(crate) fn created(revision: u64, body: T) -> Tagged<T> {
        Tagged {
            revision,
            status: StatusCode::CREATED,
            body: Some(body),
        }
    }
}

impl Tagged<()> {
    /// 204 after a delete.
    pub(crate) fn deleted(revision: u64) -> Tagged<()> {
        Tagged {
            revision,
            status: StatusCode::NO_CONTENT,
            body: None,
        }
    }
}

impl<T: Serialize> IntoResponse for Tagged<T> {
    fn into_response(self) -> Response {
        let mut response = match self.body {
            Some(body) => (self.status, axum::Json(body)).into_response(),
            None => self.status.into_response(),
        };
        response
            .headers_mut()
            .insert(header::ETAG, etag(self.revision));
        response
    }
}

/// Applies `edit` to the latest configuration and makes the result the next revision.
///
/// Returns the new revision number and what `edit` returned. Nothing is stored when `edit`,
/// the `If-Match` check or validation refuses; the node gets the revision only once it is stored.
pub(crate) async fn write<T, F>(
    state: &AppState,
    change: Change,
    edit: F,
) -> Result<(u64, T), ApiError>
where
    F: FnOnce(&mut Config) -> Result<T, ApiError>,
{
    match state.node.status().mode {
        Mode::File { .. } => return Err(ApiError::FileMode),
        Mode::Subscribed { .. } => return Err(ApiError::Subscribed),
        Mode::Store { .. } => {}
    }
    let _serialised = state.writes.lock().await;
    let current = state.current().await?;
    if let Some(expected) = change.if_match {
        if expected != current.revision {
            return Err(ApiError::Conflict {
                expected,
                current: current.revision,
            });
        }
    }
    let mut config = current.config.config.clone();
    let output = edit(&mut config)?;
    if config == current.config.config {
        // Nothing changed (enabling an enabled policy, writing back what was read): no new
        // revision, no reload.
        return Ok((current.revision, output));
    }
    let problems = config.validate(ORIGIN);
    if !problems.is_empty() {
        return Err(ApiError::invalid(&problems));
    }
    let expected = (current.revision > 0).then_some(current.revision);
    let store = Arc::clone(&state.store);
    let node = Arc::clone(&state.node);
    let (revision, applied) = tokio::task::spawn_blocking(move || {
        let revision = store.commit(expected, &config, &change.author, &change.comment)?;
        let applied = node.apply(revision.number, &revision.config);
        Ok::<_, egress_store::StoreError>((revision, applied))
    })
    .await
    .map_err(|e| ApiError::internal(format!("write task failed: {e}")))??;
    let number = revision.number;
    state.remember(Arc::new(revision));
    applied.map_err(|message| ApiError::ApplyFailed {
        revision: number,
        message,
    })?;
    Ok((number, output))
}

/// Applies `edit` to a clone of the latest configuration and validates the result whole, as
/// [`write`] would, but stores and applies nothing. Returns the revision it was checked against.
pub(crate) async fn validate<F>(state: &AppState, edit: F) -> Result<u64, ApiError>
where
    F: FnOnce(&mut Config) -> Result<(), ApiError>,
{
    let current = state.current().await?;
    let mut config = current.config.config.clone();
    edit(&mut config)?;
    let problems = config.validate(ORIGIN);
    if !problems.is_empty() {
        return Err(ApiError::invalid(&problems));
    }
    Ok(current.revision)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Option<u64>, ApiError> {
        parse_if_match(&HeaderValue::from_str(text).expect("header text"))
    }

    #[test]
    fn if_match_takes_quoted_revisions_and_a_star() {
        assert_eq!(parse("\"12\""), Ok(Some(12)));
        assert_eq!(parse("W/\"3\""), Ok(Some(3)));
        assert_eq!(parse("*"), Ok(None));
        for bad in ["12", "\"x\"", "\"1\", \"2\"", ""] {
            assert_eq!(
                parse(bad).map_err(|e| e.status()),
                Err(StatusCode::BAD_REQUEST),
                "{bad}"
            );
        }
    }
}
