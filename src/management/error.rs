//! `ApiError`: every error the HTTP API answers with, as RabbitMQ's management plugin
//! shapes it: a status code and a JSON body `{"error": ..., "reason": ...}`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// The realm RabbitMQ names in `WWW-Authenticate`.
pub const REALM: &str = "Basic realm=\"RabbitMQ Management\"";

/// An error answered to an HTTP request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// 401 with an empty body and the Basic challenge: a request without an
    /// `Authorization` header, as RabbitMQ 3.10 answers it. Clients that send credentials
    /// only when challenged (Perl's LWP, Python's `HTTPBasicAuthHandler`, .NET's
    /// `NetworkCredential`, Java's `Authenticator`) depend on the challenge.
    #[error("no credentials")]
    NoCredentials,
    /// 400 with an empty body: an `Authorization: Basic` header whose value does not decode
    /// to `user:password` (RabbitMQ's HTTP server refuses it before authenticating).
    #[error("malformed Basic credentials")]
    MalformedCredentials,
    /// 401 `not_authorized` with `WWW-Authenticate`: malformed or wrong credentials.
    #[error("not_authorised: {0}")]
    Unauthorised(String),
    /// 401 without the challenge: authenticated but not allowed (RabbitMQ never uses 403).
    #[error("not_authorised: {0}")]
    NotAuthorised(String),
    /// 404 `Object Not Found` / `Not Found`.
    #[error("not found")]
    NotFound,
    /// 400 with RabbitMQ's `bad_request` and a reason.
    #[error("bad_request: {0}")]
    BadRequest(String),
    /// 400 `invalid_pagination_parameters`: a page number or size out of range.
    #[error("invalid_pagination_parameters: {0}")]
    InvalidPagination(String),
    /// 405: the path exists but not with this method.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// 413: the request body is larger than the API accepts.
    #[error("request body too large")]
    TooLarge,
    /// 415: a body that is not JSON where JSON is required.
    #[error("unsupported media type")]
    UnsupportedMediaType,
    /// 500: something went wrong inside the broker (logged).
    #[error("internal error: {0}")]
    Internal(String),
    /// 503 `service_unavailable`: cluster mode, and no leader can answer (none known, none
    /// reachable, or this node is still taking over).
    #[error("service_unavailable: {0}")]
    Unavailable(String),
    /// 409 `conflict`: the cluster refused a membership change in its current state.
    #[error("conflict: {0}")]
    Conflict(String),
}

impl ApiError {
    /// 400 `{"error":"bad_request","reason":"not_json"}`, RabbitMQ's answer to a body that
    /// does not parse.
    pub fn not_json() -> ApiError {
        ApiError::BadRequest("not_json".to_string())
    }

    /// The status code.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::NoCredentials | ApiError::Unauthorised(_) | ApiError::NotAuthorised(_) => {
                StatusCode::UNAUTHORIZED
            }
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::BadRequest(_)
            | ApiError::InvalidPagination(_)
            | ApiError::MalformedCredentials => StatusCode::BAD_REQUEST,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
        }
    }

    /// The JSON body.
    pub fn body(&self) -> serde_json::Value {
        let (error, reason) = match self {
            ApiError::NoCredentials | ApiError::MalformedCredentials => {
                return serde_json::Value::Null;
            }
            // RabbitMQ spells this one with a z, the refusals below with an s.
            ApiError::Unauthorised(r) => ("not_authorized", r.as_str()),
            ApiError::NotAuthorised(r) => ("not_authorised", r.as_str()),
            ApiError::NotFound => ("Object Not Found", "Not Found"),
            ApiError::BadRequest(r) => ("bad_request", r.as_str()),
            ApiError::InvalidPagination(r) => ("invalid_pagination_parameters", r.as_str()),
            ApiError::MethodNotAllowed => ("Method Not Allowed", "Method Not Allowed"),
            ApiError::TooLarge => ("bad_request", "request body too large"),
            ApiError::UnsupportedMediaType => ("Unsupported Media Type", "not_json"),
            ApiError::Internal(r) => ("internal_error", r.as_str()),
            ApiError::Unavailable(r) => ("service_unavailable", r.as_str()),
            ApiError::Conflict(r) => ("conflict", r.as_str()),
        };
        json!({ "error": error, "reason": reason })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(reason) = &self {
            tracing::error!(%reason, "management API internal error");
        }
        // RabbitMQ answers these with an empty body.
        let mut response = if matches!(
            self,
            ApiError::NoCredentials | ApiError::MalformedCredentials | ApiError::MethodNotAllowed
        ) {
            self.status().into_response()
        } else {
            (self.status(), axum::Json(self.body())).into_response()
        };
        if matches!(self, ApiError::NoCredentials | ApiError::Unauthorised(_)) {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(REALM));
        }
        response
    }
}

/// The result type of every handler.
pub type ApiResult<T> = Result<T, ApiError>;

impl From<crate::error::AmqpError> for ApiError {
    /// How RabbitMQ's API reports a failed AMQP operation: 404 for a missing object, 401
    /// "Access refused." for a refusal, otherwise 400 with the bare reply text
    /// (`"inequivalent arg 'durable' for queue ..."`).
    fn from(e: crate::error::AmqpError) -> ApiError {
        use crate::protocol::ReplyCode;
        match e.code {
            ReplyCode::NotFound => ApiError::NotFound,
            ReplyCode::AccessRefused => ApiError::NotAuthorised("Access refused.".to_string()),
            // RabbitMQ's reason is the bare text, without the code and its name.
            code if e.text.is_empty() => ApiError::BadRequest(code.name().to_string()),
            _ => ApiError::BadRequest(e.text),
        }
    }
}
