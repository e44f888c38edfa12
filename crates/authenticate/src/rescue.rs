//! The one place where failures become responses: a status, a short page that says what
//! happened in words a user can act on, and the full cause in the log (never in the page).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::error::Failure;
use crate::pages;

// === impl Failure ===

impl Failure {
    /// The status and the message the client sees.
    fn public(&self) -> (StatusCode, &'static str) {
        use Failure::*;
        match self {
            BadSignature(_) => (
                StatusCode::BAD_REQUEST,
                "This sign-in link is invalid or has expired. Go back to the application and try again.",
            ),
            BadParameter(_) => (
                StatusCode::BAD_REQUEST,
                "The request is missing a parameter.",
            ),
            ForeignRedirect(_) => (
                StatusCode::BAD_REQUEST,
                "The address to return to after sign-in is not an application of this cluster.",
            ),
            IdpRefusedLogin(_) => (
                StatusCode::BAD_REQUEST,
                "The identity provider did not complete the sign-in.",
            ),
            State(_) => (
                StatusCode::BAD_REQUEST,
                "This sign-in attempt is invalid or has expired (or was started in another browser). Start again from the application.",
            ),
            CodeRejected(_) => (
                StatusCode::BAD_REQUEST,
                "The identity provider rejected the sign-in code (it was already used or has expired). Start again from the application.",
            ),
            IdToken(_) => (
                StatusCode::BAD_REQUEST,
                "The identity provider's answer did not verify. Start again from the application.",
            ),
            Idp(_) => (
                StatusCode::BAD_GATEWAY,
                "The identity provider cannot be reached. Try again in a moment.",
            ),
            Storage(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "Sessions cannot be stored right now. Try again in a moment.",
            ),
            SignOutToken => (
                StatusCode::BAD_REQUEST,
                "This sign-out form has expired. Reload the page and try again.",
            ),
            TooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "The request is too large."),
        }
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let (status, message) = self.public();
        if status.is_server_error() {
            tracing::error!(status = status.as_u16(), error = %self, "authenticate request failed");
        } else {
            tracing::warn!(status = status.as_u16(), error = %self, "authenticate request rejected");
        }
        let mut extra = String::new();
        if let Failure::IdpRefusedLogin(code) = &self {
            extra = format!("Error code: {code}");
        }
        (status, pages::message(status, message, &extra)).into_response()
    }
}
