//! The authorize role seen from another process: an [`Authorizer`] that asks a remote
//! authorize over Envoy's `envoy.service.auth.v3.Authorization/Check`.
//!
//! The proxy holds it behind the same trait as the in-process engine. A call that fails
//! (authorize unreachable, timed out, rejected) becomes a `503` decision: never an allow.

use std::time::Duration;

use envoy_types::pb::envoy::service::auth::v3::authorization_client::AuthorizationClient;
use portcullis_proto::{AuthorizeDecision, AuthorizeRequest, Authorizer, envoy};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

use crate::{ChannelError, ClientAuth, SharedSecret};

/// How long one `Check` may take before the request gets a `503`.
const CHECK_TIMEOUT: Duration = Duration::from_secs(10);

/// A remote authorize. Cheap to clone; clones share the channel.
#[derive(Debug, Clone)]
pub struct AuthorizeClient {
    grpc: AuthorizationClient<InterceptedService<Channel, ClientAuth>>,
}

// === impl AuthorizeClient ===

impl AuthorizeClient {
    /// A client on `channel` whose calls carry the service token of `auth`.
    pub fn new(channel: Channel, auth: ClientAuth) -> AuthorizeClient {
        AuthorizeClient {
            grpc: AuthorizationClient::with_interceptor(channel, auth),
        }
    }

    /// A client of the authorize at `url` (e.g. `http://authorize:5443`), connecting lazily.
    pub fn connect(url: &str, secret: &SharedSecret) -> Result<AuthorizeClient, ChannelError> {
        let channel = crate::connect_lazy(url)?;
        Ok(AuthorizeClient::new(channel, ClientAuth::new(secret)))
    }
}

#[async_trait::async_trait]
impl Authorizer for AuthorizeClient {
    async fn authorize(&self, request: &AuthorizeRequest) -> AuthorizeDecision {
        let mut call = tonic::Request::new(envoy::check_request(request));
        call.set_timeout(CHECK_TIMEOUT);
        match self.grpc.clone().check(call).await {
            Ok(response) => envoy::authorize_decision(response.into_inner()),
            Err(status) => {
                tracing::warn!(
                    request_id = %request.request_id,
                    code = ?status.code(),
                    message = status.message(),
                    "authorize Check failed; answering 503"
                );
                AuthorizeDecision::unavailable()
            }
        }
    }
}
