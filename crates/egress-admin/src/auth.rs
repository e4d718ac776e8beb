//! Bearer tokens: who is calling (verified against the store, briefly cached) and whether its
//! scope lets it reach the route.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::extract::rejection::RawPathParamsRejection;
use axum::extract::{MatchedPath, RawPathParams, Request, State};
use axum::http::{header, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use egress_store::TokenInfo;
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::state::AppState;

/// How long a verified secret is trusted without asking the store again; a revoked token keeps
/// working at most this long.
pub(crate) const TOKEN_CACHE_TTL: Duration = Duration::from_secs(5);

/// Entries kept at most; past it expired ones are dropped, then all.
const TOKEN_CACHE_MAX: usize = 1024;

/// The verified caller of a request, put in the request's extensions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Caller {
    /// The token's name: the author of the revisions it writes.
    pub(crate) name: String,
    /// The one account it may reach; `None` = operator-wide.
    pub(crate) account: Option<String>,
    /// Whether it may write.
    pub(crate) write: bool,
}

impl Caller {
    fn from_token(token: &TokenInfo) -> Caller {
        Caller {
            name: token.name.clone(),
            account: token.scope.account.as_ref().map(|a| a.0.clone()),
            write: token.scope.write,
        }
    }

    /// For views an account token may use: its account, refusing any other asked for.
    pub(crate) fn account_filter(&self, asked: Option<String>) -> Result<Option<String>, ApiError> {
        match (&self.account, asked) {
            (None, asked) => Ok(asked),
            (Some(own), None) => Ok(Some(own.clone())),
            (Some(own), Some(asked)) if *own == asked => Ok(Some(asked)),
            (Some(own), Some(asked)) => Err(ApiError::Forbidden {
                message: format!(
                    "token `{}` is scoped to account `{own}` and cannot see account `{asked}`",
                    self.name
                ),
            }),
        }
    }
}

/// Verified secrets, keyed by their SHA-256 (never by the secret itself).
#[derive(Debug)]
pub(crate) struct TokenCache {
    ttl: Duration,
    entries: Mutex<HashMap<[u8; 32], (TokenInfo, Instant)>>,
}

impl TokenCache {
    pub(crate) fn new(ttl: Duration) -> TokenCache {
        TokenCache {
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn get(&self, digest: &[u8; 32], now: Instant) -> Option<TokenInfo> {
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries
            .get(digest)
            .filter(|(_, at)| now.duration_since(*at) < self.ttl)
            .map(|(token, _)| token.clone())
    }

    fn put(&self, digest: [u8; 32], token: TokenInfo, now: Instant) {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if entries.len() >= TOKEN_CACHE_MAX {
            entries.retain(|_, (_, at)| now.duration_since(*at) < self.ttl);
            if entries.len() >= TOKEN_CACHE_MAX {
                entries.clear();
            }
        }
        entries.insert(digest, (token, now));
    }
}

/// Middleware of every route but `/healthz`, `/readyz` and `/v1/openapi.json`: verifies the
/// bearer token, checks its scope against the route and hands the [`Caller`] to the handler.
pub(crate) async fn require_token(
    State(state): State<AppState>,
    matched: MatchedPath,
    params: Result<RawPathParams, RawPathParamsRejection>,
    mut request: Request,
    next: Next,
) -> Response {
    let params = match params {
        Ok(params) => params,
        Err(e) => return ApiError::bad_request(e.body_text()).into_response(),
    };
    let authorization = request.headers().get(header::AUTHORIZATION).cloned();
    let caller = match verify(&state, authorization.as_ref()).await {
        Ok(caller) => caller,
        Err(e) => return e.into_response(),
    };
    let account_param = params
        .iter()
        .find(|(name, _)| *name == "id")
        .map(|(_, value)| value.to_string());
    if let Err(e) = authorize(
        &caller,
        request.method(),
        matched.as_str(),
        account_param.as_deref(),
    ) {
        return e.into_response();
    }
    request.extensions_mut().insert(caller);
    next.run(request).await
}

async fn verify(state: &AppState, authorization: Option<&HeaderValue>) -> Result<Caller, ApiError> {
    let secret = bearer_secret(authorization)?;
    let digest: [u8; 32] = Sha256::digest(secret.as_bytes()).into();
    let now = Instant::now();
    if let Some(token) = state.tokens.get(&digest, now) {
        return Ok(Caller::from_token(&token));
    }
    let secret = secret.to_string();
    let token = state
        .blocking(move |s| s.verify_token(&secret))
        .await?
        .ok_or_else(|| ApiError::Unauthorized {
            message: "the bearer token is unknown or revoked".into(),
        })?;
    let caller = Caller::from_token(&token);
    state.tokens.put(digest, token, now);
    Ok(caller)
}

fn bearer_secret(authorization: Option<&HeaderValue>) -> Result<&str, ApiError> {
    let unauthorized = |message: &str| ApiError::Unauthorized {
        message: message.into(),
    };
    let value = authorization
        .ok_or_else(|| {
            unauthorized(
                "an admin token is required: send `Authorization: Bearer <secret>` \
                 (create one with `egressd token create`)",
            )
        })?
        .to_str()
        .map_err(|_| unauthorized("the Authorization header is not text"))?;
    let (scheme, secret) = value
        .split_once(' ')
        .ok_or_else(|| unauthorized("the Authorization header is not `Bearer <secret>`"))?;
    let secret = secret.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || secret.is_empty() {
        return Err(unauthorized(
            "the Authorization header is not `Bearer <secret>`",
        ));
    }
    Ok(secret)
}

/// `POST` routes that change no configuration: explain, the dry-run validation of a policy,
/// and nodes' health reports (kept in memory, read back as the fleet's view).
const READING_POSTS: [&str; 3] = [
    "/v1/explain",
    "/v1/accounts/{id}/policy-validation",
    "/v1/fleet/health-reports",
];

/// Whether the request changes configuration (explain and validation only read).
pub(crate) fn is_write(method: &Method, route: &str) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
        && !READING_POSTS.contains(&route)
}

/// Whether `caller` may use `method` on the route template `route`, whose `{id}` parameter (an
/// account id) is `account`.
pub(crate) fn authorize(
    caller: &Caller,
    method: &Method,
    route: &str,
    account: Option<&str>,
) -> Result<(), ApiError> {
    let write = is_write(method, route);
    if write && !caller.write {
        return Err(ApiError::Forbidden {
            message: format!("token `{}` is read-only", caller.name),
        });
    }
    let Some(own) = &caller.account else {
        return Ok(());
    };
    let outside = || ApiError::Forbidden {
        message: format!(
            "token `{}` is scoped to account `{own}`: it reaches only /v1/accounts/{own}/…, \
             and explain, connections and logs of that account",
            caller.name
        ),
    };
    match route {
        // Metrics carry every account's labels: operator tokens only.
        "/v1/explain" | "/v1/connections" | "/v1/logs" => Ok(()),
        "/v1/accounts" if *method == Method::GET => Ok(()),
        _ if route.starts_with("/v1/accounts/{id}") => {
            if account != Some(own.as_str()) {
                return Err(outside());
            }
            if write && operator_only(route) {
                return Err(ApiError::Forbidden {
                    message: format!(
                        "token `{}` is scoped to account `{own}`: replacing or deleting the \
                         account and changing its address space (dedicated IPs, BYOIP prefixes) \
                         need an operator token",
                        caller.name
                    ),
                });
            }
            Ok(())
        }
        _ => Err(outside()),
    }
}

/// Account routes whose writes are the operator's: the account itself and its address space.
fn operator_only(route: &str) -> bool {
    route == "/v1/accounts/{id}"
        || route.starts_with("/v1/accounts/{id}/dedicated-ips")
        || route.starts_with("/v1/accounts/{id}/byoip-prefixes")
}

#[cfg(test)]
mod tests {
    use super::*;
    use egress_model::AccountId;
    use egress_store::{Timestamp, TokenId, TokenScope};

    fn caller(account: Option<&str>, write: bool) -> Caller {
        Caller {
            name: "t".into(),
            account: account.map(str::to_string),
            write,
        }
    }

    #[test]
    fn operator_tokens_reach_everything_their_access_allows() {
        let w = caller(None, true);
        let r = caller(None, false);
        assert!(authorize(&w, &Method::PUT, "/v1/config", None).is_ok());
        assert!(authorize(&r, &Method::GET, "/v1/config", None).is_ok());
        assert!(authorize(&r, &Method::PUT, "/v1/config", None).is_err());
        assert!(authorize(&r, &Method::POST, "/v1/explain", None).is_ok());
    }

    #[test]
    fn account_tokens_stay_inside_their_account() {
        let acme = caller(Some("acme"), true);
        let policies = "/v1/accounts/{id}/policies/{policy_id}";
        assert!(authorize(&acme, &Method::PUT, policies, Some("acme")).is_ok());
        assert!(authorize(&acme, &Method::GET, policies, Some("globex")).is_err());
        assert!(authorize(&acme, &Method::GET, "/v1/accounts", None).is_ok());
        assert!(authorize(&acme, &Method::POST, "/v1/accounts", None).is_err());
        assert!(authorize(&acme, &Method::GET, "/v1/config", None).is_err());
        assert!(authorize(&acme, &Method::GET, "/v1/port-usage", None).is_err());
        assert!(authorize(&acme, &Method::GET, "/v1/logs", None).is_ok());
        assert!(authorize(&acme, &Method::GET, "/metrics", None).is_err());
        assert!(authorize(&acme, &Method::GET, "/v1/accounts/{id}", Some("acme")).is_ok());
        assert!(authorize(&acme, &Method::DELETE, "/v1/accounts/{id}", Some("acme")).is_err());
        let ips = "/v1/accounts/{id}/dedicated-ips";
        assert!(authorize(&acme, &Method::GET, ips, Some("acme")).is_ok());
        assert!(authorize(&acme, &Method::POST, ips, Some("acme")).is_err());
    }

    #[test]
    fn account_filter_defaults_to_and_insists_on_the_own_account() {
        let acme = caller(Some("acme"), false);
        assert_eq!(acme.account_filter(None), Ok(Some("acme".into())));
        assert_eq!(
            acme.account_filter(Some("acme".into())),
            Ok(Some("acme".into()))
        );
        assert!(acme.account_filter(Some("globex".into())).is_err());
        assert_eq!(caller(None, false).account_filter(None), Ok(None));
    }

    #[test]
    fn the_cache_forgets_after_its_ttl() {
        let cache = TokenCache::new(Duration::from_secs(5));
        let token = TokenInfo {
            id: TokenId(1),
            name: "ops".into(),
            scope: TokenScope {
                account: Some(AccountId("acme".into())),
                write: false,
            },
            created_at: Timestamp::now(),
            revoked_at: None,
        };
        let digest: [u8; 32] = Sha256::digest(b"egt_secret").into();
        let t0 = Instant::now();
        cache.put(digest, token.clone(), t0);
        assert_eq!(cache.get(&digest, t0 + Duration::from_secs(4)), Some(token));
        assert_eq!(cache.get(&digest, t0 + Duration::from_secs(5)), None);
        let other: [u8; 32] = Sha256::digest(b"egt_other").into();
        assert_eq!(cache.get(&other, t0), None);
    }
}
