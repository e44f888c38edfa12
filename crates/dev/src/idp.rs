//! The development OpenID provider: one [`DevIdp`] per process, served by [`DevIdp::router`].

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::routing::{get, post};
use url::Url;

use crate::random::SecretComparer;

mod authorize;
mod client_auth;
mod discovery;
mod end_session;
mod id_token;
mod identity;
mod keys;
mod oauth;
mod pages;
mod store;
mod token;
mod userinfo;

use keys::IdpKey;
use store::{Lifetimes, Store};

const DEFAULT_ACCESS_TTL: Duration = Duration::from_secs(60 * 60);
const DEFAULT_REFRESH_TTL: Duration = Duration::from_secs(24 * 60 * 60);

/// A client (relying party) registered with the [`DevIdp`]. `Debug` hides the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct DevClient {
    /// `client_id`.
    pub id: String,
    /// `client_secret`, for `client_secret_basic` or `client_secret_post`. An empty secret
    /// never authenticates (public clients are not supported).
    pub secret: String,
    /// The only URIs a code is ever sent to; `redirect_uri` must equal one exactly.
    pub redirect_uris: Vec<String>,
    /// Where end-session may send the browser back to; exact match, as above.
    pub post_logout_redirect_uris: Vec<String>,
}

/// A minimal OpenID provider for development: authorization code flow with PKCE S256, an HTML
/// form that signs in *anyone* with *any* email (and the groups they type), ES256 ID tokens,
/// userinfo, refresh tokens (with `offline_access`) and end-session.
///
/// Its endpoints live under the issuer URL: `/.well-known/openid-configuration`, `/authorize`,
/// `/token`, `/userinfo`, `/jwks`, `/end_session`. All state (pending logins, codes, tokens)
/// is in memory and lost on restart, as is the signing key, which is made fresh per process.
/// `Debug` prints no secrets, and neither do its logs.
///
/// Wiring it to portcullis: serve [`DevIdp::router`] at the issuer's host and port, and
/// configure authenticate with `idp_provider_url` = [`DevIdp::issuer`] and the id and secret
/// of a [`DevClient`] whose `redirect_uris` hold `<authenticate_service_url>/oauth2/callback`
/// (and whose `post_logout_redirect_uris` hold wherever sign-out returns to).
///
/// The login form (for browser tests): `input[name=email]`, `input[name=groups]`, and the
/// submit buttons `button[value=sign_in]` and `button[value=cancel]`.
pub struct DevIdp {
    /// The issuer as it appears in discovery and tokens: the URL without a trailing `/`.
    issuer: String,
    /// The issuer URL's path, without a trailing `/`, where the routes live.
    prefix: String,
    clients: Vec<DevClient>,
    key: IdpKey,
    store: Store,
    secrets: SecretComparer,
}

impl std::fmt::Debug for DevClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevClient")
            .field("id", &self.id)
            .field("secret", &"[redacted]")
            .field("redirect_uris", &self.redirect_uris)
            .field("post_logout_redirect_uris", &self.post_logout_redirect_uris)
            .finish()
    }
}

impl std::fmt::Debug for DevIdp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevIdp")
            .field("issuer", &self.issuer)
            .field("clients", &self.clients)
            .field("kid", &self.key.kid())
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

// === impl DevIdp ===

impl DevIdp {
    /// A provider reachable at `issuer` (e.g. `http://127.0.0.1:PORT` or
    /// `http://idp.localhost:PORT`) that knows `clients`, with a fresh ES256 (P-256) signing
    /// key. The issuer's query and fragment are dropped; a path made of other than
    /// unreserved characters is dropped too (with a warning), since routes are served there.
    /// Of two clients with the same id, the first wins.
    pub fn new(issuer: Url, clients: Vec<DevClient>) -> DevIdp {
        let (issuer, prefix) = normalize(issuer);
        tracing::warn!(
            %issuer,
            "the development identity provider is running: it signs in anyone with any email \
             address; never use it for anything but development"
        );
        DevIdp {
            issuer,
            prefix,
            clients,
            key: IdpKey::generate(),
            store: Store::new(Lifetimes {
                access: DEFAULT_ACCESS_TTL,
                refresh: DEFAULT_REFRESH_TTL,
            }),
            secrets: SecretComparer::new(),
        }
    }

    /// Access and ID tokens live `ttl` (default one hour): short lifetimes let tests reach
    /// the refresh path quickly.
    pub fn with_access_token_ttl(mut self, ttl: Duration) -> DevIdp {
        let refresh = self.store.lifetimes().refresh;
        self.store = Store::new(Lifetimes {
            access: ttl,
            refresh,
        });
        self
    }

    /// Refresh tokens live `ttl` (default 24 hours).
    pub fn with_refresh_token_ttl(mut self, ttl: Duration) -> DevIdp {
        let access = self.store.lifetimes().access;
        self.store = Store::new(Lifetimes {
            access,
            refresh: ttl,
        });
        self
    }

    /// The issuer exactly as discovery and ID tokens state it (no trailing `/`): what a
    /// client's `idp_provider_url` should be.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The provider's endpoints under the issuer's path, sharing this provider's state.
    pub fn router(self: &Arc<Self>) -> Router {
        let at = |path: &str| format!("{}{path}", self.prefix);
        Router::new()
            .route(
                &at("/.well-known/openid-configuration"),
                get(discovery::configuration),
            )
            .route(&at("/jwks"), get(discovery::jwks))
            .route(
                &at("/authorize"),
                get(authorize::show).post(authorize::submit),
            )
            .route(&at("/token"), post(token::token))
            .route(
                &at("/userinfo"),
                get(userinfo::userinfo).post(userinfo::userinfo),
            )
            .route(
                &at("/end_session"),
                get(end_session::get).post(end_session::post),
            )
            .with_state(Arc::clone(self))
    }

    /// The absolute URL of the endpoint at `path` (which starts with `/`).
    fn endpoint(&self, path: &str) -> String {
        format!("{}{path}", self.issuer)
    }

    fn client(&self, id: &str) -> Option<&DevClient> {
        self.clients.iter().find(|c| c.id == id)
    }
}

/// Seconds since the Unix epoch, as JWT claims count time.
fn unix_time(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// (issuer without a trailing `/`, route prefix).
fn normalize(mut issuer: Url) -> (String, String) {
    issuer.set_query(None);
    issuer.set_fragment(None);
    let mut prefix = issuer.path().trim_end_matches('/').to_owned();
    let safe = prefix
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-._~/".contains(&b))
        && !prefix.contains("//");
    if !safe {
        tracing::warn!(path = %prefix, "dev IdP: the issuer's path cannot hold routes; using /");
        issuer.set_path("/");
        prefix.clear();
    }
    let text = issuer.as_str().trim_end_matches('/').to_owned();
    (text, prefix)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuers_lose_their_trailing_slash_and_keep_a_safe_path() {
        let n = |s: &str| normalize(Url::parse(s).unwrap());
        assert_eq!(
            n("http://127.0.0.1:5556/"),
            ("http://127.0.0.1:5556".into(), "".into())
        );
        assert_eq!(
            n("http://idp.localhost:8080/dev/?x=1#f"),
            ("http://idp.localhost:8080/dev".into(), "/dev".into())
        );
        assert_eq!(n("http://h/{x}"), ("http://h".into(), "".into()));
        assert_eq!(n("http://h/:x"), ("http://h".into(), "".into()));
    }

    #[test]
    fn debug_hides_client_secrets() {
        let client = DevClient {
            id: "app".into(),
            secret: "hunter2-secret".into(),
            redirect_uris: vec!["http://app/cb".into()],
            post_logout_redirect_uris: vec![],
        };
        let idp = DevIdp::new(Url::parse("http://h").unwrap(), vec![client]);
        let text = format!("{idp:?}");
        assert!(
            text.contains("app") && text.contains("[redacted]"),
            "{text}"
        );
        assert!(!text.contains("hunter2"), "{text}");
    }
}
