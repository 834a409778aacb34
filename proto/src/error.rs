//! One error vocabulary for REST and gRPC.
//!
//! Every domain error in Outpost says which [`ErrorCode`] it is; the front doors turn
//! that into an HTTP status with SOAR's `{"failed": true, "message": ...}` body, or into
//! a `tonic::Status` with the matching code. Messages are lowercase, concise, and name
//! the culprit.

use std::fmt;

/// What kind of failure an error is, independent of the protocol that reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// The request is malformed or fails validation.
    InvalidArgument,
    /// No credentials, or credentials that do not check out.
    Unauthenticated,
    /// Authenticated, but the role does not allow this.
    PermissionDenied,
    /// The addressed object does not exist.
    NotFound,
    /// The object exists already (a unique name, for example).
    AlreadyExists,
    /// The object is in a state that does not allow this (cancelling a finished run).
    FailedPrecondition,
    /// The request body or an uploaded bundle is larger than allowed.
    PayloadTooLarge,
    /// Too many attempts; try again later.
    ResourceExhausted,
    /// A dependency (store, bus) is unreachable right now.
    Unavailable,
    /// The operation is not offered by Outpost.
    Unimplemented,
    /// A bug or an unexpected failure.
    Internal,
}

impl ErrorCode {
    /// The HTTP status a REST response carries for this code.
    pub fn http_status(self) -> http::StatusCode {
        use http::StatusCode as S;
        match self {
            ErrorCode::InvalidArgument => S::BAD_REQUEST,
            ErrorCode::Unauthenticated => S::UNAUTHORIZED,
            ErrorCode::PermissionDenied => S::FORBIDDEN,
            ErrorCode::NotFound => S::NOT_FOUND,
            ErrorCode::AlreadyExists => S::CONFLICT,
            ErrorCode::FailedPrecondition => S::BAD_REQUEST,
            ErrorCode::PayloadTooLarge => S::PAYLOAD_TOO_LARGE,
            ErrorCode::ResourceExhausted => S::TOO_MANY_REQUESTS,
            ErrorCode::Unavailable => S::SERVICE_UNAVAILABLE,
            ErrorCode::Unimplemented => S::NOT_IMPLEMENTED,
            ErrorCode::Internal => S::INTERNAL_SERVER_ERROR,
        }
    }

    /// The gRPC status code for this code.
    pub fn grpc_code(self) -> tonic::Code {
        use tonic::Code as C;
        match self {
            ErrorCode::InvalidArgument => C::InvalidArgument,
            ErrorCode::Unauthenticated => C::Unauthenticated,
            ErrorCode::PermissionDenied => C::PermissionDenied,
            ErrorCode::NotFound => C::NotFound,
            ErrorCode::AlreadyExists => C::AlreadyExists,
            ErrorCode::FailedPrecondition => C::FailedPrecondition,
            // What gRPC itself answers for a message over the size limit.
            ErrorCode::PayloadTooLarge => C::ResourceExhausted,
            ErrorCode::ResourceExhausted => C::ResourceExhausted,
            ErrorCode::Unavailable => C::Unavailable,
            ErrorCode::Unimplemented => C::Unimplemented,
            ErrorCode::Internal => C::Internal,
        }
    }
}

/// An error with its code and an operator-readable message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct OutpostError {
    /// Decides the HTTP status and gRPC code.
    pub code: ErrorCode,
    /// Shown to the client as is: lowercase, no trailing period, names the culprit.
    pub message: String,
}

impl fmt::Display for OutpostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl OutpostError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        OutpostError { code, message: message.into() }
    }
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidArgument, message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::NotFound, message)
    }
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Internal, message)
    }
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unavailable, message)
    }
    pub fn precondition(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::FailedPrecondition, message)
    }
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::AlreadyExists, message)
    }
    pub fn unauthenticated(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unauthenticated, message)
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::PermissionDenied, message)
    }

    /// SOAR's error body: `{"failed": true, "message": ...}`.
    pub fn soar_body(&self) -> serde_json::Value {
        serde_json::json!({ "failed": true, "message": self.message })
    }
}

impl From<OutpostError> for tonic::Status {
    fn from(err: OutpostError) -> Self {
        tonic::Status::new(err.code.grpc_code(), err.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_maps_to_an_error_status_on_both_protocols() {
        let all = [
            ErrorCode::InvalidArgument,
            ErrorCode::Unauthenticated,
            ErrorCode::PermissionDenied,
            ErrorCode::NotFound,
            ErrorCode::AlreadyExists,
            ErrorCode::FailedPrecondition,
            ErrorCode::PayloadTooLarge,
            ErrorCode::ResourceExhausted,
            ErrorCode::Unavailable,
            ErrorCode::Unimplemented,
            ErrorCode::Internal,
        ];
        for code in all {
            assert!(code.http_status().is_client_error() || code.http_status().is_server_error());
            assert_ne!(code.grpc_code(), tonic::Code::Ok);
        }
        assert_eq!(ErrorCode::Unauthenticated.http_status(), 401);
        assert_eq!(ErrorCode::PermissionDenied.grpc_code(), tonic::Code::PermissionDenied);
    }

    #[test]
    fn soar_body_is_failed_with_message() {
        let err = OutpostError::not_found("action run 7 not found");
        assert_eq!(err.soar_body(), serde_json::json!({"failed": true, "message": "action run 7 not found"}));
        let status: tonic::Status = err.into();
        assert_eq!(status.code(), tonic::Code::NotFound);
    }
}
