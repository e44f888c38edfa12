//! What can go wrong: building the role ([`AuthenticateError`]) and serving a request
//! ([`Failure`], turned into a response in one place: `rescue.rs`).

use portcullis_databroker::StorageError;
use portcullis_grpc::SignedUrlError;

use crate::idp::IdpError;
use crate::login_state::StateError;

/// The authenticate role cannot be built from this configuration.
#[derive(Debug, thiserror::Error)]
pub enum AuthenticateError {
    /// `idp_provider_url`, `idp_client_id` and `idp_client_secret` are required.
    #[error(
        "the authenticate role needs an identity provider (idp_provider_url, idp_client_id, idp_client_secret)"
    )]
    MissingIdp,
    /// `authenticate_service_url` is required: it is the OAuth callback's origin.
    #[error("the authenticate role needs authenticate_service_url")]
    MissingAuthenticateUrl,
    /// `authenticate_service_url` cannot take the callback path (not a base URL).
    #[error("authenticate_service_url {0:?} cannot be a base for /oauth2/callback")]
    InvalidAuthenticateUrl(String),
    /// The HTTP client for the IdP could not be built (TLS roots unreadable, say).
    #[error("cannot build the HTTP client for the identity provider: {0}")]
    HttpClient(String),
}

/// Why a request to the authenticate host failed. Each maps to a status and a short page;
/// the detail goes to the log only.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Failure {
    /// The sign-in (or sign-out) URL is not signed by this cluster, or has expired.
    #[error("the signed URL does not verify: {0}")]
    BadSignature(#[from] SignedUrlError),
    /// A required query parameter is missing or malformed.
    #[error("missing or malformed parameter `{0}`")]
    BadParameter(&'static str),
    /// `redirect_uri` is not on a configured route host (nor, for programmatic logins, a
    /// loopback URL): no open redirects.
    #[error("redirect_uri {0:?} is not allowed")]
    ForeignRedirect(String),
    /// The IdP redirected back with an OAuth error.
    #[error("the identity provider returned error {0:?}")]
    IdpRefusedLogin(String),
    /// The `state` parameter or its CSRF cookie did not check out.
    #[error("the login state does not verify: {0}")]
    State(#[from] StateError),
    /// The token endpoint refused the code (already used, expired, PKCE mismatch).
    #[error("the token endpoint refused the authorization code: {0}")]
    CodeRejected(String),
    /// The ID token did not verify (nonce, issuer, audience, expiry, signature).
    #[error("the ID token was rejected: {0}")]
    IdToken(String),
    /// The IdP is unreachable or misbehaving.
    #[error("the identity provider failed: {0}")]
    Idp(IdpError),
    /// The databroker is unreachable.
    #[error("the databroker failed: {0}")]
    Storage(#[from] StorageError),
    /// A sign-out form without a valid CSRF token.
    #[error("the sign-out form's token does not verify")]
    SignOutToken,
    /// A request body over the limit (the sign-out form is tiny).
    #[error("the request body is too large")]
    TooLarge,
}

// === impl Failure ===

impl From<IdpError> for Failure {
    fn from(error: IdpError) -> Failure {
        match error {
            IdpError::Refused { code } => Failure::CodeRejected(code),
            IdpError::NoIdToken => Failure::IdToken(error.to_string()),
            IdpError::IdToken(detail) => Failure::IdToken(detail),
            other => Failure::Idp(other),
        }
    }
}
