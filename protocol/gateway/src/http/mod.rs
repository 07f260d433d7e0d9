//! HTTP plumbing shared by the hub and the UI servers: uniform errors, bounded JSON bodies,
//! security headers, credentials and CSRF ([`credentials`]), and a small client ([`client`]).
//!
//! **Uniform errors.** Every refusal is one of [`ApiError`]'s fixed bodies,
//! `{"error":"CODE"}`: no account names, addresses, paths, parser messages or stack details.
//! A failed login says `login-failed` whether the account exists or not; reading a workflow
//! one may not read says `not-found`, exactly as for a workflow that does not exist.

pub mod audited;
pub mod client;
pub mod credentials;
pub mod serve;

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

/// The largest request body accepted.
pub const MAX_BODY: usize = 16 * 1024;

/// How long a client may take to send a request body (a body sent a byte at a time would
/// otherwise hold its connection busy, and so safe from eviction, for hours).
pub const BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// A refusal, with its fixed status and body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum ApiError {
    /// The request is malformed (bad JSON, bad field, bad name).
    #[error("bad-request")]
    BadRequest,
    /// A credential was put in the URL (refused, never logged).
    #[error("token-in-url")]
    TokenInUrl,
    /// Both a session cookie and a bearer token were presented.
    #[error("ambiguous-credentials")]
    AmbiguousCredentials,
    /// The user name or password is wrong (the same for an unknown account).
    #[error("login-failed")]
    LoginFailed,
    /// No valid session.
    #[error("unauthenticated")]
    Unauthenticated,
    /// The CSRF defence refused the request.
    #[error("csrf")]
    Csrf,
    /// The policy refuses.
    #[error("forbidden")]
    Forbidden,
    /// The source is blocked by an operator or the defender.
    #[error("blocked")]
    Blocked,
    /// Nothing there, or nothing the person may see.
    #[error("not-found")]
    NotFound,
    /// The method is not allowed here.
    #[error("method-not-allowed")]
    MethodNotAllowed,
    /// The body is too large.
    #[error("too-large")]
    TooLarge,
    /// The body did not arrive within [`BODY_TIMEOUT`].
    #[error("request-timeout")]
    RequestTimeout,
    /// Too many requests from this source.
    #[error("rate-limited")]
    RateLimited {
        /// Seconds until a request would pass.
        retry_after_secs: u64,
    },
    /// The scheduler refused the command (its rejection code).
    #[error("rejected")]
    Rejected {
        /// The scheduler's rejection, e.g. `invalid-transition`.
        code: &'static str,
    },
    /// The cap on live jobs refused a launch.
    #[error("too-many-live-jobs")]
    TooManyLiveJobs,
    /// A component behind this one is not available (a UI server, a scheduler).
    #[error("unavailable")]
    Unavailable,
    /// Every password worker is busy, or too many commands wait for the scheduler: try again
    /// shortly (`Retry-After: 1`).
    #[error("busy")]
    Busy,
    /// The command was sent but its effect is not confirmed yet.
    #[error("unconfirmed")]
    Unconfirmed,
    /// Something failed inside (details go to the operator's log only).
    #[error("internal")]
    Internal,
}

impl ApiError {
    /// The status code.
    #[must_use]
    pub const fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest | Self::TokenInUrl | Self::AmbiguousCredentials => StatusCode::BAD_REQUEST,
            Self::LoginFailed | Self::Unauthenticated => StatusCode::UNAUTHORIZED,
            Self::Csrf | Self::Forbidden | Self::Blocked => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            Self::RateLimited { .. } | Self::TooManyLiveJobs => StatusCode::TOO_MANY_REQUESTS,
            Self::Rejected { .. } => StatusCode::CONFLICT,
            Self::Unavailable | Self::Busy => StatusCode::SERVICE_UNAVAILABLE,
            Self::Unconfirmed => StatusCode::GATEWAY_TIMEOUT,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The body.
    #[must_use]
    pub fn body(&self) -> String {
        match self {
            Self::Rejected { code } => format!("{{\"error\":\"rejected\",\"code\":\"{code}\"}}"),
            other => format!("{{\"error\":\"{other}\"}}"),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut r = json_response(self.status(), self.body());
        // The guard reads which refusal this was (for its audit record), not the body.
        r.extensions_mut().insert(self);
        let retry_after = match self {
            Self::RateLimited { retry_after_secs } => Some(retry_after_secs),
            Self::Busy => Some(1),
            _ => None,
        };
        if let Some(secs) = retry_after
            && let Ok(v) = HeaderValue::from_str(&secs.to_string())
        {
            r.headers_mut().insert(header::RETRY_AFTER, v);
        }
        r
    }
}

/// A JSON response with the security headers.
#[must_use]
pub fn json_response(status: StatusCode, body: String) -> Response {
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    secure_headers(h);
    r
}

/// A JSON response from a serialisable value.
#[must_use]
pub fn json<T: serde::Serialize>(status: StatusCode, value: &T) -> Response {
    match serde_json::to_string(value) {
        Ok(body) => json_response(status, body),
        Err(_) => ApiError::Internal.into_response(),
    }
}

/// Headers every response carries: nothing cached, nothing sniffed, no referrer, no framing.
pub fn secure_headers(h: &mut axum::http::HeaderMap) {
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
    );
}

/// Reads a body of at most [`MAX_BODY`] bytes within [`BODY_TIMEOUT`].
///
/// # Errors
/// [`ApiError::TooLarge`], [`ApiError::RequestTimeout`] or [`ApiError::BadRequest`].
pub async fn read_body(body: Body) -> Result<axum::body::Bytes, ApiError> {
    let read = tokio::time::timeout(BODY_TIMEOUT, axum::body::to_bytes(body, MAX_BODY))
        .await
        .map_err(|_| ApiError::RequestTimeout)?;
    read.map_err(|e| {
        // `to_bytes` reports an oversize body as a length-limit error somewhere in its chain.
        let mut source: Option<&dyn std::error::Error> = Some(&e);
        while let Some(s) = source {
            if s.is::<http_body_util::LengthLimitError>() {
                return ApiError::TooLarge;
            }
            source = s.source();
        }
        ApiError::BadRequest
    })
}

/// Parses a JSON body strictly (unknown fields refused by the type's serde attributes).
///
/// # Errors
/// [`ApiError::BadRequest`], whatever the parser's complaint.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|_| ApiError::BadRequest)
}

/// The fallback for unknown routes.
pub async fn not_found() -> ApiError {
    ApiError::NotFound
}

/// The fallback for a known route with the wrong method.
pub async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_are_fixed_and_say_nothing_else() {
        assert_eq!(ApiError::LoginFailed.body(), "{\"error\":\"login-failed\"}");
        assert_eq!(ApiError::LoginFailed.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(ApiError::NotFound.body(), "{\"error\":\"not-found\"}");
        assert_eq!(
            ApiError::Rejected {
                code: "invalid-transition"
            }
            .body(),
            "{\"error\":\"rejected\",\"code\":\"invalid-transition\"}"
        );
        let r = ApiError::RateLimited { retry_after_secs: 3 }.into_response();
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(
            r.headers().get(header::RETRY_AFTER).map(|v| v.as_bytes()),
            Some(&b"3"[..])
        );
        assert_eq!(
            r.headers().get(header::CACHE_CONTROL).map(|v| v.as_bytes()),
            Some(&b"no-store"[..])
        );
    }

    #[tokio::test]
    async fn bodies_are_bounded_and_parsed_strictly() {
        let big = Body::from(vec![b'x'; MAX_BODY + 1]);
        assert_eq!(read_body(big).await, Err(ApiError::TooLarge));
        let ok = read_body(Body::from("{\"a\":1}")).await.expect("small");
        #[derive(serde::Deserialize, Debug)]
        #[serde(deny_unknown_fields)]
        struct A {
            #[allow(dead_code)]
            a: u8,
        }
        assert!(parse_json::<A>(&ok).is_ok());
        assert_eq!(
            parse_json::<A>(b"{\"a\":1,\"b\":2}").map(|_| ()),
            Err(ApiError::BadRequest)
        );
    }
}
