//! The role: what it is built from, and the router of its public endpoints.

use std::future::Future;
use std::sync::Arc;

use arc_swap::ArcSwap;
use std::time::Duration;

use portcullis_config::Config;
use portcullis_databroker::Storage;
use portcullis_grpc::{HandoffCodec, Sealer, SessionCookie, SessionHandleCodec, UrlSigner};
use url::Url;

use crate::error::AuthenticateError;
use crate::idp::Idp;
use crate::login_state::StateCodec;
use crate::redirect::RedirectPolicy;

/// The IdP redirects back here (register `<authenticate_service_url>/oauth2/callback`).
pub const CALLBACK_PATH: &str = "/oauth2/callback";

/// The authenticate role: OIDC login, sign-out and token refresh for one configuration.
///
/// Holds no state of its own (sessions live in the databroker), so any number of replicas
/// can serve behind one `authenticate_service_url`. `Debug` prints no secret.
#[derive(Debug)]
pub struct Authenticate {
    pub(crate) idp: Idp,
    pub(crate) storage: Arc<dyn Storage>,
    /// Verifies sign-in and sign-out URLs signed by the proxy and authorize.
    pub(crate) signer: UrlSigner,
    pub(crate) handoff: HandoffCodec,
    pub(crate) handles: SessionHandleCodec,
    pub(crate) state: StateCodec,
    /// Sign-out form tokens (label `sign-out-form`) and post-logout returns (`sign-out-return`).
    pub(crate) sign_out_form: Sealer,
    pub(crate) sign_out_return: Sealer,
    pub(crate) session_cookie: SessionCookie,
    /// Where logins may return: the route hosts (swapped by [`Authenticate::reload`]).
    pub(crate) redirects: ArcSwap<RedirectPolicy>,
    /// `authenticate_service_url`.
    pub(crate) base: Url,
    pub(crate) cookie_expire: Duration,
    pub(crate) signout_redirect_url: Option<Url>,
}

// === impl Authenticate ===

impl Authenticate {
    /// Takes up a reloaded configuration's routes (the hosts logins may return to). The IdP,
    /// secrets and URLs need a restart.
    pub fn reload(&self, config: &Config) {
        self.redirects
            .store(Arc::new(RedirectPolicy::new(&config.routes)));
    }

    /// Builds the role from a validated configuration and the databroker (the in-process
    /// store or a gRPC [`portcullis_databroker::Client`]).
    ///
    /// Does no I/O: OIDC discovery happens at the first login, is cached, and is retried
    /// while it fails, so the role starts while the IdP is away. Fails when the
    /// configuration lacks an IdP or `authenticate_service_url`, or when the IdP HTTP client
    /// cannot be built.
    pub fn new(
        config: &Config,
        databroker: Arc<dyn Storage>,
    ) -> Result<Authenticate, AuthenticateError> {
        let idp = config.idp.as_ref().ok_or(AuthenticateError::MissingIdp)?;
        let base = config
            .authenticate_service_url
            .clone()
            .ok_or(AuthenticateError::MissingAuthenticateUrl)?;
        let callback = base
            .join(CALLBACK_PATH)
            .map_err(|_| AuthenticateError::InvalidAuthenticateUrl(base.to_string()))?;
        let shared = config.shared_secret.expose();
        let cookie_secret = config.cookie.secret.expose();
        Ok(Authenticate {
            idp: Idp::new(idp, &callback)?,
            storage: databroker,
            signer: UrlSigner::new(shared),
            handoff: HandoffCodec::new(shared),
            handles: SessionHandleCodec::new(cookie_secret),
            state: StateCodec::new(&config.cookie),
            sign_out_form: Sealer::new(cookie_secret, "sign-out-form"),
            sign_out_return: Sealer::new(cookie_secret, "sign-out-return"),
            session_cookie: SessionCookie::new(&config.cookie),
            redirects: ArcSwap::from_pointee(RedirectPolicy::new(&config.routes)),
            base,
            cookie_expire: config.cookie.expire,
            signout_redirect_url: config.signout_redirect_url.clone(),
        })
    }

    /// Every endpoint of the authenticate host: `/.portcullis/sign_in`, `/oauth2/callback`,
    /// `/.portcullis/sign_out` (GET confirm page, POST form, GET signed by a route host),
    /// `/.portcullis/signed_out`, the user page `/.portcullis/`, `/ping` and `/healthz`.
    pub fn router(self: &Arc<Self>) -> axum::Router {
        crate::handlers::router(Arc::clone(self))
    }

    /// The refresh manager: while this replica holds the databroker lease
    /// [`crate::REFRESH_LEASE`] (one active instance cluster-wide), refreshes OIDC tokens
    /// shortly before they expire and deletes sessions whose refresh fails for good or
    /// that have expired. Returns once `shutdown` resolves.
    pub async fn run_refresh(self: Arc<Self>, shutdown: impl Future<Output = ()> + Send) {
        crate::refresh::run(self, shutdown).await;
    }
}
