//! The authorize role seen from another process: an [`Authorizer`] that asks a remote
//! authorize over Envoy's `envoy.service.auth.v3.Authorization/Check`.
//!
//! The proxy holds it behind the same trait as the in-process engine. A call that fails
//! (authorize unreachable, timed out, rejected) becomes a `503` decision: never an allow.
//! `Check` is idempotent: one that fails before an answer because its replica went away is
//! retried once on another (see [`crate::retry`]).

use std::time::Duration;

use envoy_types::pb::envoy::service::auth::v3::authorization_client::AuthorizationClient;
use portcullis_proto::{AuthorizeDecision, AuthorizeRequest, Authorizer, envoy};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

use crate::{
    BalancedChannel, ChannelError, ClientAuth, DnsOptions, Failover, PeerOptions, SharedSecret,
};

/// The method path the metrics label `Check` calls with.
const CHECK_METHOD: &str = "/envoy.service.auth.v3.Authorization/Check";

/// How long one `Check` may take before the request gets a `503`.
const CHECK_TIMEOUT: Duration = Duration::from_secs(10);

/// A remote authorize. Cheap to clone; clones share the channel.
#[derive(Debug, Clone)]
pub struct AuthorizeClient {
    grpc: AuthorizationClient<InterceptedService<Channel, ClientAuth>>,
    failover: Failover,
}

// === impl AuthorizeClient ===

impl AuthorizeClient {
    /// A client on `channel` whose calls carry the service token of `auth`.
    pub fn new(channel: Channel, auth: ClientAuth) -> AuthorizeClient {
        AuthorizeClient {
            grpc: AuthorizationClient::with_interceptor(channel, auth),
            failover: Failover::none(),
        }
    }

    /// A client on a DNS-balanced `channel`: failed `Check`s eject dead replicas and are
    /// retried on another.
    pub fn balanced(channel: BalancedChannel, auth: ClientAuth) -> AuthorizeClient {
        let (channel, failover) = channel.into_parts();
        AuthorizeClient {
            grpc: AuthorizationClient::with_interceptor(channel, auth),
            failover,
        }
    }

    /// A client of the authorize at `url` (e.g. `http://authorize:5443`), connecting lazily.
    pub fn connect(url: &str, secret: &SharedSecret) -> Result<AuthorizeClient, ChannelError> {
        let channel = crate::connect_lazy(url)?;
        Ok(AuthorizeClient::new(channel, ClientAuth::new(secret)))
    }

    /// A client of every replica DNS returns for the host of `url`, balanced and re-resolved
    /// per `dns` (see [`crate::connect_balanced`]). Must be called inside a tokio runtime.
    pub fn connect_with(
        url: &str,
        secret: &SharedSecret,
        dns: &DnsOptions,
    ) -> Result<AuthorizeClient, ChannelError> {
        let channel = crate::connect_balanced(url, dns)?;
        Ok(AuthorizeClient::balanced(channel, ClientAuth::new(secret)))
    }

    /// A client of every replica of every URL in `urls` (`authorize_service_urls`), balanced,
    /// health-checked and re-resolved per `options` (see [`crate::connect_peers`]). Must be
    /// called inside a tokio runtime.
    pub fn connect_peers<U: AsRef<str>>(
        urls: &[U],
        secret: &SharedSecret,
        options: &PeerOptions,
    ) -> Result<AuthorizeClient, ChannelError> {
        let channel = crate::connect_peers(urls, options)?;
        Ok(AuthorizeClient::balanced(channel, ClientAuth::new(secret)))
    }
}

#[async_trait::async_trait]
impl Authorizer for AuthorizeClient {
    async fn authorize(&self, request: &AuthorizeRequest) -> AuthorizeDecision {
        let check = envoy::check_request(request);
        let started = std::time::Instant::now();
        let request_id = tonic::metadata::MetadataValue::try_from(request.request_id.as_str()).ok();
        let result = crate::retry_idempotent(&self.failover, || {
            let mut call = tonic::Request::new(check.clone());
            call.set_timeout(CHECK_TIMEOUT);
            if let Some(id) = &request_id {
                call.metadata_mut().insert("x-request-id", id.clone());
            }
            let mut grpc = self.grpc.clone();
            async move { grpc.check(call).await }
        })
        .await;
        let code = result
            .as_ref()
            .map_or_else(tonic::Status::code, |_| tonic::Code::Ok);
        crate::metrics::record_client_call(CHECK_METHOD, code, started.elapsed());
        match result {
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
