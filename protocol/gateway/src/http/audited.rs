//! Which answers are already in an audit log, so the hub's guard writes exactly one record
//! per attempt: the handler's own (a login, an operation a UI server gated, an operator's
//! action) when it made one, and otherwise the guard's refusal record.
//!
//! A handler marks an answer whose attempt it recorded with [`audited`] (or returns
//! [`ApiError::recorded`] as its error); a UI server passes the mark to the hub in the
//! [`AUDITED_HEADER`] of its answer, which the hub never relays.

use axum::response::{IntoResponse, Response};

use super::ApiError;

/// The mark on a response whose attempt is already in an audit log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Audited;

/// The header a UI server sets on an answer whose attempt it recorded.
pub const AUDITED_HEADER: &str = "x-threatcheck-audited";

/// `r`, marked as recorded.
#[must_use]
pub fn audited(mut r: Response) -> Response {
    r.extensions_mut().insert(Audited);
    r
}

/// Whether `r` is marked as recorded.
#[must_use]
pub fn is_audited(r: &Response) -> bool {
    r.extensions().get::<Audited>().is_some()
}

/// A refusal as a handler returns it: the error, and whether the attempt is already in an
/// audit log. Every [`ApiError`] converts into an unrecorded one, so `?` works as before.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Refusal {
    /// What the client is told.
    pub error: ApiError,
    /// Whether the attempt is already in an audit log.
    pub recorded: bool,
}

impl From<ApiError> for Refusal {
    fn from(error: ApiError) -> Self {
        Self { error, recorded: false }
    }
}

impl ApiError {
    /// This refusal, for an attempt already in an audit log.
    #[must_use]
    pub const fn recorded(self) -> Refusal {
        Refusal {
            error: self,
            recorded: true,
        }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let r = self.error.into_response();
        if self.recorded { audited(r) } else { r }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recorded_refusal_is_marked_and_an_error_converted_by_question_mark_is_not() {
        assert!(is_audited(&ApiError::Forbidden.recorded().into_response()));
        assert!(!is_audited(&Refusal::from(ApiError::Forbidden).into_response()));
        assert!(!is_audited(&ApiError::Forbidden.into_response()));
        let r = ApiError::NotFound.recorded().into_response();
        assert_eq!(r.extensions().get::<ApiError>(), Some(&ApiError::NotFound));
    }
}
