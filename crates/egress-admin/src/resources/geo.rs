//! Geolocation: the public RFC 8805 geofeed, an account's egress manifest for its partners, and
//! the check of the node's geolocation databases against the configuration.

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use egress_geo::{EgressManifest, GeoCheckReport, GEOFEED_MEDIA_TYPE};

use crate::error::ApiError;
use crate::extract::Params;
use crate::state::AppState;
use crate::write::{etag, Tagged};

/// The geofeed (RFC 8805) of every egress prefix: public data, no token needed.
#[utoipa::path(get, path = "/geofeed.csv", tag = "geolocation",
    responses(
        (status = 200, description = "One `prefix,country,region,city,postal` row per \
            aggregated egress prefix", body = String, content_type = "application/geofeed+csv"),
        (status = 304, description = "Unchanged since the `If-None-Match` ETag")))]
pub(crate) async fn geofeed_csv(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let current = match state.current().await {
        Ok(current) => current,
        Err(e) => return e.into_response(),
    };
    if unchanged(&headers, current.revision) {
        return not_modified(current.revision);
    }
    let text = egress_geo::geofeed(&current.config.config).to_csv();
    let mut response = text.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(GEOFEED_MEDIA_TYPE),
    );
    headers.insert(header::ETAG, etag(current.revision));
    response
}

/// An account's egress manifest: its dedicated IPv4s and IPv6 ranges with their locations and
/// status, for partners' allowlists. Versioned by `version`; `If-None-Match` gives 304.
#[utoipa::path(get, path = "/v1/accounts/{id}/egress-manifest", tag = "geolocation",
    params(("id" = String, Path, description = "Account id")),
    responses(
        (status = 200, description = "The manifest", body = EgressManifest),
        (status = 304, description = "Unchanged since the `If-None-Match` ETag")))]
pub(crate) async fn egress_manifest(
    State(state): State<AppState>,
    headers: HeaderMap,
    Params(id): Params<String>,
) -> Result<Response, ApiError> {
    let current = state.current().await?;
    let manifest = egress_geo::manifest(&current.config.config, &id, current.revision).map_err(
        |e| match e {
            egress_geo::GeoError::UnknownAccount { account } => ApiError::NotFound {
                what: format!("account {account:?}"),
            },
            other => ApiError::internal(other.to_string()),
        },
    )?;
    if unchanged(&headers, current.revision) {
        return Ok(not_modified(current.revision));
    }
    Ok(Tagged::ok(current.revision, manifest).into_response())
}

/// Looks up every egress address in the databases the node was started with
/// (`egressd serve --geo-mmdb FILE`) and reports where each places it.
#[utoipa::path(get, path = "/v1/geo/check", tag = "geolocation",
    responses(
        (status = 200, description = "Per address: expected location, each database's answer \
            and whether it matches", body = GeoCheckReport),
        (status = 404, description = "The node has no geolocation database",
            body = crate::error::ErrorBody)))]
pub(crate) async fn geo_check(
    State(state): State<AppState>,
) -> Result<Tagged<GeoCheckReport>, ApiError> {
    let current = state.current().await?;
    let databases = state.node.geo_databases();
    if databases.is_empty() {
        return Err(ApiError::NotFound {
            what: "a geolocation database on this node (start `egressd serve` with \
                   `--geo-mmdb FILE`)"
                .into(),
        });
    }
    let report = egress_geo::check(&current.config.config, databases);
    state.node.record_geo_check(&report);
    Ok(Tagged::ok(current.revision, report))
}

/// Whether `If-None-Match` names the revision (or is `*`).
fn unchanged(headers: &HeaderMap, revision: u64) -> bool {
    let Some(value) = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let current = format!("\"{revision}\"");
    value
        .split(',')
        .map(str::trim)
        .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == current)
}

fn not_modified(revision: u64) -> Response {
    let mut response = StatusCode::NOT_MODIFIED.into_response();
    response.headers_mut().insert(header::ETAG, etag(revision));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            header::IF_NONE_MATCH,
            HeaderValue::from_str(value).expect("header"),
        );
        h
    }

    #[test]
    fn if_none_match_names_the_revision_among_others() {
        assert!(unchanged(&with("\"4\""), 4));
        assert!(unchanged(&with("\"3\", W/\"4\""), 4));
        assert!(unchanged(&with("*"), 4));
        assert!(!unchanged(&with("\"3\""), 4));
        assert!(!unchanged(&HeaderMap::new(), 4));
    }
}
