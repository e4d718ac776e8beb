//! The whole document and its history: `/v1/config`, `/v1/revisions`, `/v1/audit`.

use axum::extract::State;
use egress_model::Config;
use egress_store::{AuditEntry, Revision, RevisionMeta};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::ApiError;
use crate::extract::{bounded, Body, Params, Query};
use crate::state::AppState;
use crate::write::{write, Change, Tagged};

/// History lists return at most this many entries (a larger `limit` is refused).
const MAX_HISTORY: usize = 1000;

/// How many history entries to return.
#[derive(Debug, Clone, Copy, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct HistoryQuery {
    /// At most this many, newest first (default 100, at most 1000).
    #[param(maximum = 1000)]
    limit: Option<usize>,
}

impl HistoryQuery {
    fn limit(self) -> Result<usize, ApiError> {
        bounded("limit", self.limit, 100, MAX_HISTORY)
    }
}

/// A revision without its document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct RevisionView {
    /// 1, 2, 3, … in commit order; the ETag of what it holds.
    pub number: u64,
    /// When it was committed, RFC 3339 UTC.
    pub created_at: String,
    /// The token (or `cli`, …) that committed it.
    pub author: String,
    /// What the change was.
    pub comment: String,
}

impl From<&RevisionMeta> for RevisionView {
    fn from(meta: &RevisionMeta) -> RevisionView {
        RevisionView {
            number: meta.number,
            created_at: meta.created_at.to_string(),
            author: meta.author.clone(),
            comment: meta.comment.clone(),
        }
    }
}

/// A revision with its whole document.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct RevisionDocument {
    /// The revision number.
    pub number: u64,
    /// When it was committed, RFC 3339 UTC.
    pub created_at: String,
    /// Who committed it.
    pub author: String,
    /// What the change was.
    pub comment: String,
    /// The configuration as of this revision.
    pub config: Config,
}

impl From<&Revision> for RevisionDocument {
    fn from(r: &Revision) -> RevisionDocument {
        RevisionDocument {
            number: r.number,
            created_at: r.created_at.to_string(),
            author: r.author.clone(),
            comment: r.comment.clone(),
            config: r.config.clone(),
        }
    }
}

/// One line of the audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct AuditView {
    /// Increasing with every entry.
    pub id: u64,
    /// When, RFC 3339 UTC.
    pub time: String,
    /// Who.
    pub actor: String,
    /// `config.commit`, `config.import`, `token.create` or `token.revoke`.
    pub action: String,
    /// The revision a configuration change created.
    pub revision: Option<u64>,
    /// The comment, the import source or the token concerned.
    pub detail: String,
}

impl From<&AuditEntry> for AuditView {
    fn from(e: &AuditEntry) -> AuditView {
        AuditView {
            id: e.id,
            time: e.time.to_string(),
            actor: e.actor.clone(),
            action: e.action.code().to_string(),
            revision: e.revision,
            detail: e.detail.clone(),
        }
    }
}

/// Returns the whole configuration document of the latest revision.
#[utoipa::path(get, path = "/v1/config", tag = "config",
    responses((status = 200, description = "The latest document", body = Config)))]
pub(crate) async fn get_config(State(state): State<AppState>) -> Result<Tagged<Config>, ApiError> {
    let latest = state.latest().await?.ok_or_else(|| ApiError::NotFound {
        what: "a configuration revision".into(),
    })?;
    Ok(Tagged::ok(latest.number, latest.config.clone()))
}

/// Replaces the whole configuration document.
#[utoipa::path(put, path = "/v1/config", tag = "config", request_body = Config,
    responses((status = 200, description = "Stored and applied", body = Config)))]
pub(crate) async fn put_config(
    State(state): State<AppState>,
    change: Change,
    Body(document): Body<Config>,
) -> Result<Tagged<Config>, ApiError> {
    let (revision, document) = write(&state, change, move |config| {
        *config = document;
        Ok(config.clone())
    })
    .await?;
    Ok(Tagged::ok(revision, document))
}

/// Lists revisions without their documents, newest first.
#[utoipa::path(get, path = "/v1/revisions", tag = "config", params(HistoryQuery),
    responses((status = 200, description = "Revisions, newest first", body = Vec<RevisionView>)))]
pub(crate) async fn list_revisions(
    State(state): State<AppState>,
    Query(query): Query<HistoryQuery>,
) -> Result<axum::Json<Vec<RevisionView>>, ApiError> {
    let limit = query.limit()?;
    let metas = state.blocking(move |s| s.list(limit)).await?;
    Ok(axum::Json(metas.iter().map(RevisionView::from).collect()))
}

/// Returns one revision with its document.
#[utoipa::path(get, path = "/v1/revisions/{n}", tag = "config",
    params(("n" = u64, Path, description = "Revision number")),
    responses((status = 200, description = "The revision", body = RevisionDocument)))]
pub(crate) async fn get_revision(
    State(state): State<AppState>,
    Params(n): Params<u64>,
) -> Result<Tagged<RevisionDocument>, ApiError> {
    let revision = state
        .blocking(move |s| s.get(n))
        .await?
        .ok_or_else(|| ApiError::NotFound {
            what: format!("revision {n}"),
        })?;
    Ok(Tagged::ok(n, RevisionDocument::from(&revision)))
}

/// Lists the audit log, newest first.
#[utoipa::path(get, path = "/v1/audit", tag = "config", params(HistoryQuery),
    responses((status = 200, description = "Audit entries, newest first", body = Vec<AuditView>)))]
pub(crate) async fn list_audit(
    State(state): State<AppState>,
    Query(query): Query<HistoryQuery>,
) -> Result<axum::Json<Vec<AuditView>>, ApiError> {
    let limit = query.limit()?;
    let entries = state.blocking(move |s| s.audit(limit)).await?;
    Ok(axum::Json(entries.iter().map(AuditView::from).collect()))
}
