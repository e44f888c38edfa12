//! The identity provider: discovery at `idp_provider_url`, done lazily (the first login, not
//! start-up, needs the IdP) and cached; a failed discovery is retried at the next use, and a
//! stale cached one keeps serving while the IdP is away.
//!
//! Every request to the IdP goes through one `reqwest::Client` that follows no redirects
//! (an IdP redirect must never lead the token exchange elsewhere), verifies TLS with rustls
//! (ring) against the system's roots, and times out.

use std::sync::Arc;
use std::time::Duration;

use openidconnect::{
    ClientId, ClientSecret, DiscoveryError, IssuerUrl, ProviderMetadataWithLogout, RedirectUrl,
};
use portcullis_config::IdpOptions;
use tokio::sync::Mutex;
use tokio::time::Instant;
use url::Url;

use crate::error::AuthenticateError;

mod flows;
pub(crate) mod types;

pub(crate) use flows::{Login, Tokens};
use types::OidcClient;

/// A cached discovery is refreshed (keys rotate) after this long.
const MAX_AGE: Duration = Duration::from_secs(60 * 60);
/// How long one request to the IdP may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// The IdP as configured, and what discovery found.
pub(crate) struct Idp {
    http: reqwest::Client,
    issuer: Url,
    client_id: ClientId,
    client_secret: ClientSecret,
    redirect: RedirectUrl,
    scopes: Vec<String>,
    cache: Mutex<Option<(Instant, Arc<Discovered>)>>,
}

/// What discovery found: the client bound to the IdP's endpoints and keys.
pub(crate) struct Discovered {
    pub(crate) client: OidcClient,
    /// `end_session_endpoint` (RP-initiated logout), when the IdP has one.
    pub(crate) end_session: Option<Url>,
}

/// A request to the IdP failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum IdpError {
    /// Discovery failed (the IdP is away, or its document is unusable).
    #[error("OIDC discovery failed: {0}")]
    Discovery(String),
    /// The token endpoint answered with an OAuth error (`invalid_grant`, ...).
    #[error("the token endpoint refused: {code}")]
    Refused {
        /// The OAuth `error` code.
        code: String,
    },
    /// The IdP could not be reached or answered nonsense.
    #[error("the identity provider failed: {0}")]
    Unreachable(String),
    /// The token response had no ID token.
    #[error("the token response has no ID token")]
    NoIdToken,
    /// The ID token did not verify (issuer, audience, nonce, expiry, signature, at_hash).
    #[error("the ID token does not verify: {0}")]
    IdToken(String),
    /// The userinfo request failed.
    #[error("the userinfo request failed: {0}")]
    UserInfo(String),
}

impl std::fmt::Debug for Idp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Idp")
            .field("issuer", &self.issuer.as_str())
            .field("client_id", &self.client_id.as_str())
            .field("client_secret", &"[redacted]")
            .field("redirect", &self.redirect.as_str())
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Discovered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Discovered")
            .field("end_session", &self.end_session.as_ref().map(Url::as_str))
            .finish_non_exhaustive()
    }
}

// === impl Idp ===

impl Idp {
    /// The IdP of `options`, with the callback `redirect`. Does no I/O.
    pub(crate) fn new(options: &IdpOptions, redirect: &Url) -> Result<Idp, AuthenticateError> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(REQUEST_TIMEOUT / 2)
            .build()
            .map_err(|e| AuthenticateError::HttpClient(e.to_string()))?;
        Ok(Idp {
            http,
            issuer: options.provider_url.clone(),
            client_id: ClientId::new(options.client_id.clone()),
            client_secret: ClientSecret::new(options.client_secret.expose().clone()),
            redirect: RedirectUrl::from_url(redirect.clone()),
            scopes: options
                .scopes
                .iter()
                .filter(|s| *s != "openid") // openidconnect always asks for it
                .cloned()
                .collect(),
            cache: Mutex::new(None),
        })
    }

    /// The discovered IdP, from the cache when fresh.
    pub(crate) async fn discovered(&self) -> Result<Arc<Discovered>, IdpError> {
        self.get(false).await
    }

    /// Discovers again now (the IdP may have rotated its keys); the cached one if that fails.
    pub(crate) async fn rediscover(&self) -> Result<Arc<Discovered>, IdpError> {
        self.get(true).await
    }

    async fn get(&self, force: bool) -> Result<Arc<Discovered>, IdpError> {
        // One discovery at a time; callers arriving meanwhile wait for its result.
        let mut cache = self.cache.lock().await;
        if let Some((at, found)) = cache.as_ref()
            && !force
            && at.elapsed() < MAX_AGE
        {
            return Ok(Arc::clone(found));
        }
        match self.discover().await {
            Ok(found) => {
                let found = Arc::new(found);
                *cache = Some((Instant::now(), Arc::clone(&found)));
                Ok(found)
            }
            Err(error) => match cache.as_ref() {
                Some((_, stale)) => {
                    tracing::warn!(%error, "OIDC discovery failed; using the previous result");
                    Ok(Arc::clone(stale))
                }
                None => Err(error),
            },
        }
    }

    async fn discover(&self) -> Result<Discovered, IdpError> {
        // `Url` always writes a bare host with a trailing `/`; issuers differ on whether they
        // have one (`https://idp.example` vs `https://tenant.auth0.com/`). Try both.
        let text = self.issuer.as_str();
        let mut candidates = vec![text.to_owned()];
        if self.issuer.path() == "/" {
            candidates.insert(0, text.trim_end_matches('/').to_owned());
        }
        let mut last = None;
        for candidate in candidates {
            let issuer =
                IssuerUrl::new(candidate).map_err(|e| IdpError::Discovery(e.to_string()))?;
            match ProviderMetadataWithLogout::discover_async(issuer, &self.http).await {
                Ok(metadata) => {
                    let end_session = metadata
                        .additional_metadata()
                        .end_session_endpoint
                        .as_ref()
                        .map(|u| u.url().clone());
                    let client = OidcClient::from_provider_metadata(
                        metadata,
                        self.client_id.clone(),
                        Some(self.client_secret.clone()),
                    )
                    .set_redirect_uri(self.redirect.clone());
                    tracing::info!(issuer = %self.issuer, "OIDC discovery done");
                    return Ok(Discovered {
                        client,
                        end_session,
                    });
                }
                Err(DiscoveryError::Validation(detail)) => {
                    last = Some(IdpError::Discovery(detail));
                }
                Err(error) => return Err(IdpError::Discovery(error_chain(&error))),
            }
        }
        Err(last.unwrap_or_else(|| IdpError::Discovery("no issuer to try".into())))
    }

    /// The HTTP client every IdP request uses.
    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// `idp_client_id`.
    pub(crate) fn client_id(&self) -> &str {
        self.client_id.as_str()
    }

    /// The scopes to ask for, without `openid`.
    pub(crate) fn scopes(&self) -> &[String] {
        &self.scopes
    }
}

/// `error: cause: cause ...`, so logs show why a request failed.
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
