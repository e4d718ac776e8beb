//! Every way a request can fail, mapped once to a status and a JSON body
//! `{"error": code, "message": text, …}`.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use egress_model::ValidationError;
use egress_store::StoreError;
use serde::Serialize;
use utoipa::ToSchema;

/// Why a request failed.
#[derive(Debug, Clone, PartialEq)]
pub enum ApiError {
    /// The request (body, path, query or a header) does not parse. 400.
    BadRequest {
        /// What is wrong with it.
        message: String,
    },
    /// No bearer token, or one that does not verify. 401.
    Unauthorized {
        /// Why.
        message: String,
    },
    /// The token may not do this. 403.
    Forbidden {
        /// Why.
        message: String,
    },
    /// The item, the account holding it, or the route does not exist. 404.
    NotFound {
        /// What was looked for, such as `policy "bank" in account "acme"`.
        what: String,
    },
    /// A create names a key that is taken. 409.
    AlreadyExists {
        /// The item, such as `location "lax"`.
        what: String,
    },
    /// The change was based on a revision that is no longer the latest. 409.
    Conflict {
        /// The revision the client based its change on (0 = an empty store).
        expected: u64,
        /// The latest revision (0 = an empty store).
        current: u64,
    },
    /// The node runs from a TOML file; the API does not change it. 409.
    FileMode,
    /// The node follows control planes; writes go to a control plane. 409.
    Subscribed,
    /// The resulting configuration breaks validation rules; nothing was stored. 422.
    Invalid(Vec<Problem>),
    /// The configuration does not survive the store's TOML round trip; nothing was stored. 422.
    NotRepresentable {
        /// How it differs.
        message: String,
    },
    /// The request body is larger than the API accepts. 413.
    TooLarge {
        /// What the body reader said.
        message: String,
    },
    /// The revision was stored but the node could not apply it; the node runs the one before. 500.
    ApplyFailed {
        /// The stored revision.
        revision: u64,
        /// What the node said.
        message: String,
    },
    /// The node does not serve traffic yet. 503.
    NotReady,
    /// The store or the server failed. 500.
    Internal {
        /// What failed.
        message: String,
    },
}

/// One broken validation rule, as the validator reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Problem {
    /// Path of the item, such as `accounts["acme"].policies["bank"].method.ipv4_fallback`.
    pub path: String,
    /// Stable rule code, such as `fallback_required`.
    pub rule: String,
    /// What is wrong and what would be right.
    pub message: String,
}

impl From<&ValidationError> for Problem {
    fn from(e: &ValidationError) -> Problem {
        Problem {
            path: e.path.clone(),
            rule: e.rule.code().to_string(),
            message: e.message.clone(),
        }
    }
}

/// The stable error codes of the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// 400.
    BadRequest,
    /// 401.
    Unauthorized,
    /// 403.
    Forbidden,
    /// 404.
    NotFound,
    /// 409 on create.
    AlreadyExists,
    /// 409 on a stale `If-Match` or a concurrent write.
    Conflict,
    /// 409: writes are refused in file mode.
    FileMode,
    /// 409: writes are refused on a node that follows control planes.
    Subscribed,
    /// 422.
    Invalid,
    /// 422.
    NotRepresentable,
    /// 413.
    TooLarge,
    /// 500 after the revision was stored.
    ApplyFailed,
    /// 503.
    NotReady,
    /// 500.
    Internal,
}

/// The body of every error response.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ErrorBody {
    /// Stable code.
    pub error: ErrorCode,
    /// A sentence for people.
    pub message: String,
    /// `conflict`: the revision the change was based on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected: Option<u64>,
    /// `conflict`: the latest revision.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current: Option<u64>,
    /// `apply_failed`: the revision that was stored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revision: Option<u64>,
    /// `invalid`: every broken rule.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problems: Option<Vec<Problem>>,
}

impl ApiError {
    /// 400 with a message.
    pub(crate) fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::BadRequest {
            message: message.into(),
        }
    }

    /// 500 with a message.
    pub(crate) fn internal(message: impl Into<String>) -> ApiError {
        ApiError::Internal {
            message: message.into(),
        }
    }

    /// 422 from the validator's report.
    pub(crate) fn invalid(errors: &[ValidationError]) -> ApiError {
        ApiError::Invalid(errors.iter().map(Problem::from).collect())
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden { .. } => StatusCode::FORBIDDEN,
            ApiError::NotFound { .. } => StatusCode::NOT_FOUND,
            ApiError::AlreadyExists { .. }
            | ApiError::Conflict { .. }
            | ApiError::FileMode
            | ApiError::Subscribed => StatusCode::CONFLICT,
            ApiError::Invalid(_) | ApiError::NotRepresentable { .. } => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            ApiError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::ApplyFailed { .. } | ApiError::Internal { .. } => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
            ApiError::NotReady => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The stable code.
    pub fn code(&self) -> ErrorCode {
        match self {
            ApiError::BadRequest { .. } => ErrorCode::BadRequest,
            ApiError::Unauthorized { .. } => ErrorCode::Unauthorized,
            ApiError::Forbidden { .. } => ErrorCode::Forbidden,
            ApiError::NotFound { .. } => ErrorCode::NotFound,
            ApiError::AlreadyExists { .. } => ErrorCode::AlreadyExists,
            ApiError::Conflict { .. } => ErrorCode::Conflict,
            ApiError::FileMode => ErrorCode::FileMode,
            ApiError::Subscribed => ErrorCode::Subscribed,
            ApiError::Invalid(_) => ErrorCode::Invalid,
            ApiError::NotRepresentable { .. } => ErrorCode::NotRepresentable,
            ApiError::TooLarge { .. } => ErrorCode::TooLarge,
            ApiError::ApplyFailed { .. } => ErrorCode::ApplyFailed,
            ApiError::NotReady => ErrorCode::NotReady,
            ApiError::Internal { .. } => ErrorCode::Internal,
        }
    }

    /// The response body.
    pub fn body(&self) -> ErrorBody {
        let mut body = ErrorBody {
            error: self.code(),
            message: self.message(),
            expected: None,
            current: None,
            revision: None,
            problems: None,
        };
        match self {
            ApiError::Conflict { expected, current } => {
                body.expected = Some(*expected);
                body.current = Some(*current);
            }
            ApiError::ApplyFailed { revision, .. } => body.revision = Some(*revision),
            ApiError::Invalid(problems) => body.problems = Some(problems.clone()),
            _ => {}
        }
        body
    }

    fn message(&self) -> String {
        match self {
            ApiError::BadRequest { message }
            | ApiError::Unauthorized { message }
            | ApiError::Forbidden { message }
            | ApiError::NotRepresentable { message }
            | ApiError::TooLarge { message }
            | ApiError::Internal { message } => message.clone(),
            ApiError::NotFound { what } => format!("{what} does not exist"),
            ApiError::AlreadyExists { what } => format!("{what} already exists"),
            ApiError::Conflict { expected, current } => format!(
                "the change is based on revision {expected} but the latest is {current}; \
                 read the latest revision and apply the change again"
            ),
            ApiError::Subscribed => "this node follows control planes (serve --control-plane): \
                                     write on a control plane, whose revisions reach every node"
                .to_string(),
            ApiError::FileMode => "this node runs from its configuration file: the TOML file \
                                   is the source of truth; use `egressd config import` to switch \
                                   to store mode"
                .to_string(),
            ApiError::Invalid(problems) => format!(
                "the resulting configuration breaks {} rule(s); nothing was stored",
                problems.len()
            ),
            ApiError::ApplyFailed { revision, message } => format!(
                "revision {revision} was stored but the node could not apply it and runs the \
                 revision before: {message}"
            ),
            ApiError::NotReady => {
                "the node does not serve traffic yet (no revision applied or listeners down)"
                    .to_string()
            }
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        match e {
            StoreError::Conflict { expected, current } => ApiError::Conflict {
                expected: expected.unwrap_or(0),
                current: current.unwrap_or(0),
            },
            StoreError::Invalid(errors) => ApiError::invalid(&errors),
            StoreError::NotRepresentable { detail } => {
                ApiError::NotRepresentable { message: detail }
            }
            other => ApiError::internal(other.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let mut response = (status, axum::Json(self.body())).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use egress_model::Rule;

    fn every_variant() -> Vec<ApiError> {
        vec![
            ApiError::bad_request("b"),
            ApiError::Unauthorized {
                message: "u".into(),
            },
            ApiError::Forbidden {
                message: "f".into(),
            },
            ApiError::NotFound {
                what: "location \"x\"".into(),
            },
            ApiError::AlreadyExists {
                what: "location \"x\"".into(),
            },
            ApiError::Conflict {
                expected: 3,
                current: 5,
            },
            ApiError::FileMode,
            ApiError::Invalid(Vec::new()),
            ApiError::NotRepresentable {
                message: "n".into(),
            },
            ApiError::TooLarge {
                message: "t".into(),
            },
            ApiError::ApplyFailed {
                revision: 7,
                message: "boom".into(),
            },
            ApiError::NotReady,
            ApiError::internal("i"),
        ]
    }

    #[test]
    fn every_error_has_its_status_and_code() {
        let got: Vec<(u16, String)> = every_variant()
            .iter()
            .map(|e| {
                let code = serde_json::to_value(e.code()).expect("serialises");
                (e.status().as_u16(), code.as_str().unwrap_or("").to_string())
            })
            .collect();
        let want = [
            (400, "bad_request"),
            (401, "unauthorized"),
            (403, "forbidden"),
            (404, "not_found"),
            (409, "already_exists"),
            (409, "conflict"),
            (409, "file_mode"),
            (422, "invalid"),
            (422, "not_representable"),
            (413, "too_large"),
            (500, "apply_failed"),
            (503, "not_ready"),
            (500, "internal"),
        ];
        let want: Vec<(u16, String)> = want.iter().map(|(s, c)| (*s, c.to_string())).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn conflict_and_apply_failure_carry_their_revisions() {
        let conflict = serde_json::to_value(
            ApiError::Conflict {
                expected: 3,
                current: 5,
            }
            .body(),
        )
        .expect("serialises");
        assert_eq!(conflict["expected"], 3);
        assert_eq!(conflict["current"], 5);
        assert!(conflict.get("problems").is_none());
        let failed = serde_json::to_value(
            ApiError::ApplyFailed {
                revision: 7,
                message: "boom".into(),
            }
            .body(),
        )
        .expect("serialises");
        assert_eq!(failed["revision"], 7);
        assert!(failed["message"].as_str().unwrap_or("").contains("boom"));
    }

    #[test]
    fn store_errors_map_to_conflict_invalid_and_internal() {
        let conflict = ApiError::from(StoreError::Conflict {
            expected: None,
            current: Some(2),
        });
        assert_eq!(
            conflict,
            ApiError::Conflict {
                expected: 0,
                current: 2
            }
        );
        let invalid = ApiError::from(StoreError::Invalid(vec![ValidationError {
            origin: "api".into(),
            path: "deployment.max_connections_per_destination".into(),
            rule: Rule::BadSetting,
            message: "must be at least 1".into(),
        }]));
        let body = serde_json::to_value(invalid.body()).expect("serialises");
        assert_eq!(body["error"], "invalid");
        assert_eq!(
            body["problems"][0]["path"],
            "deployment.max_connections_per_destination"
        );
        assert_eq!(body["problems"][0]["rule"], "bad_setting");
        let unrepresentable = ApiError::from(StoreError::NotRepresentable {
            detail: "differs".into(),
        });
        assert_eq!(unrepresentable.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let internal = ApiError::from(StoreError::UnknownToken {
            id: egress_store::TokenId(9),
        });
        assert_eq!(internal.code(), ErrorCode::Internal);
    }

    #[test]
    fn unauthorized_asks_for_a_bearer_token() {
        let response = ApiError::Unauthorized {
            message: "no token".into(),
        }
        .into_response();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            response.headers().get(header::WWW_AUTHENTICATE),
            Some(&HeaderValue::from_static("Bearer"))
        );
        let forbidden = ApiError::Forbidden {
            message: "f".into(),
        }
        .into_response();
        assert!(forbidden.headers().get(header::WWW_AUTHENTICATE).is_none());
    }
}
