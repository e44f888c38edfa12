//! What can go wrong, typed where it happens and mapped to responses in one place
//! (`respond.rs`).

/// Why a request is denied. [`crate::respond::Responder::deny`] maps each cause to its status
/// and a short, safe body; the decision log gets the detail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Denial {
    /// No route has the request's id (or matches its host and path): `404`.
    NoRoute,
    /// No valid session and the policy needs one: `302` to sign in for browsers, else `401`.
    Unauthenticated,
    /// Signed in (or signing in would not help) and the policy says no: `403`.
    Forbidden,
    /// The session cannot be checked: the databroker is unreachable and the replica does not
    /// know the session: `503`.
    Unavailable,
    /// The identity JWT could not be signed: `500`.
    Internal,
}

/// The engine could not be built from the configuration.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// `signing_key` is not a usable PEM key.
    #[error(transparent)]
    SigningKey(#[from] crate::SigningKeyError),
}

/// The authorize role could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum AuthorizeError {
    /// The engine could not be built.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// `databroker_service_url` is unusable.
    #[error("cannot reach the databroker: {0}")]
    Databroker(#[from] portcullis_databroker::DatabrokerError),
    /// No databroker in this process and no `databroker_service_url` to reach one.
    #[error("the authorize role needs `databroker_service_url` when the databroker runs elsewhere")]
    NoDatabroker,
    /// The gRPC server failed.
    #[error(transparent)]
    Serve(#[from] portcullis_grpc::ServeError),
}

// === impl Denial ===

impl Denial {
    /// The HTTP status of the response.
    pub(crate) fn status(self) -> u16 {
        match self {
            Denial::NoRoute => 404,
            Denial::Unauthenticated => 401,
            Denial::Forbidden => 403,
            Denial::Unavailable => 503,
            Denial::Internal => 500,
        }
    }

    /// `grpc-status` for gRPC clients.
    pub(crate) fn grpc_status(self) -> u8 {
        match self {
            Denial::NoRoute => 5,
            Denial::Unauthenticated => 16,
            Denial::Forbidden => 7,
            Denial::Unavailable => 14,
            Denial::Internal => 13,
        }
    }

    /// A few safe words for the client.
    pub(crate) fn message(self) -> &'static str {
        match self {
            Denial::NoRoute => "no route for this request",
            Denial::Unauthenticated => "sign in required",
            Denial::Forbidden => "access denied by policy",
            Denial::Unavailable => "authorization is not possible right now",
            Denial::Internal => "internal error",
        }
    }

    /// The short machine name (`error` in JSON bodies).
    pub(crate) fn name(self) -> &'static str {
        match self {
            Denial::NoRoute => "not_found",
            Denial::Unauthenticated => "unauthenticated",
            Denial::Forbidden => "forbidden",
            Denial::Unavailable => "unavailable",
            Denial::Internal => "internal",
        }
    }
}
