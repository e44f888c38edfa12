//! The login in flight, between the redirect to the IdP and its callback.
//!
//! Everything the callback needs (nonce, PKCE verifier, where to return) travels *inside* the
//! OIDC `state` parameter, sealed (AES-256-GCM, key from `cookie_secret`, label `oidc-state`)
//! and valid for [`STATE_VALID_FOR`]. The state also names a random CSRF value that must
//! equal the browser's [`CSRF_COOKIE`], so a state (and code) captured from one browser is
//! worthless in another (login CSRF). A browser that already holds a CSRF cookie keeps it, so
//! two tabs signing in at once both succeed.

use std::time::{Duration, SystemTime};

use portcullis_config::{CookieOptions, SameSite};
use portcullis_grpc::{SealedError, Sealer, SessionCookie};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::random::random_token;

/// The CSRF cookie bound to the login `state`.
pub const CSRF_COOKIE: &str = "_portcullis_csrf";
/// How long a login may take between sign-in and callback.
pub const STATE_VALID_FOR: Duration = Duration::from_secs(10 * 60);

/// What the callback needs, sealed into `state`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct LoginState {
    /// Equals the CSRF cookie's value.
    pub(crate) csrf: String,
    /// The ID token's expected `nonce`.
    pub(crate) nonce: String,
    /// The PKCE code verifier.
    pub(crate) pkce_verifier: String,
    /// Where the browser (or the programmatic client) returns.
    pub(crate) redirect_uri: Url,
    /// A programmatic login: the token goes to a loopback `redirect_uri`.
    pub(crate) programmatic: bool,
}

/// The state or its CSRF cookie did not check out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum StateError {
    /// No `state` parameter.
    #[error("no state parameter")]
    Missing,
    /// The state was changed, or sealed under another secret.
    #[error("the state does not verify")]
    Invalid,
    /// The state is older than its validity.
    #[error("the state has expired")]
    Expired,
    /// The browser sent no CSRF cookie (another browser, or cookies blocked).
    #[error("no CSRF cookie")]
    NoCsrfCookie,
    /// The CSRF cookie belongs to another login.
    #[error("the CSRF cookie does not match the state")]
    CsrfMismatch,
}

/// Seals and opens login states; writes the CSRF cookie.
#[derive(Debug)]
pub(crate) struct StateCodec {
    sealer: Sealer,
    cookie: SessionCookie,
}

impl std::fmt::Debug for LoginState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginState")
            .field("redirect_uri", &self.redirect_uri.as_str())
            .field("programmatic", &self.programmatic)
            .finish_non_exhaustive()
    }
}

// === impl LoginState ===

impl LoginState {
    /// A new login returning to `redirect_uri`, bound to the CSRF value `csrf`.
    pub(crate) fn new(csrf: String, redirect_uri: Url, programmatic: bool) -> LoginState {
        LoginState {
            csrf,
            nonce: random_token(),
            // 43 base64url characters: within PKCE's 43..=128 unreserved characters.
            pkce_verifier: random_token(),
            redirect_uri,
            programmatic,
        }
    }
}

// === impl StateCodec ===

impl StateCodec {
    /// A codec keyed by `cookie_secret`, writing the CSRF cookie with `options`' `Secure` and
    /// `HttpOnly`. The cookie is host-only and `SameSite=Lax` whatever `cookie_same_site`
    /// says: it must come back on the IdP's cross-site redirect.
    pub(crate) fn new(options: &CookieOptions) -> StateCodec {
        let mut csrf = options.clone();
        csrf.domain = None;
        csrf.same_site = SameSite::Lax;
        csrf.http_only = true;
        StateCodec {
            sealer: Sealer::new(options.secret.expose(), "oidc-state"),
            cookie: SessionCookie::named(CSRF_COOKIE, &csrf),
        }
    }

    /// The CSRF value to bind a new login to: the browser's current one when it has a
    /// well-formed one, else a fresh one.
    pub(crate) fn csrf_value<'a>(&self, cookies: impl IntoIterator<Item = &'a str>) -> String {
        self.cookie
            .find(cookies)
            .filter(|v| v.len() == 43 && v.bytes().all(is_base64url))
            .map_or_else(random_token, str::to_owned)
    }

    /// `Set-Cookie` for the CSRF value, living as long as a state.
    pub(crate) fn set_cookie(&self, csrf: &str) -> String {
        self.cookie.set_for(csrf, STATE_VALID_FOR)
    }

    /// `Set-Cookie` that deletes the CSRF cookie.
    pub(crate) fn clear_cookie(&self) -> String {
        self.cookie.clear()
    }

    /// The sealed `state` parameter.
    pub(crate) fn seal(&self, state: &LoginState, now: SystemTime) -> String {
        let plain = serde_json::to_vec(state).expect("a login state serializes");
        self.sealer.seal_until(&plain, now, STATE_VALID_FOR)
    }

    /// Opens `state` and checks it against the request's CSRF cookie.
    pub(crate) fn open<'a>(
        &self,
        state: Option<&str>,
        cookies: impl IntoIterator<Item = &'a str>,
        now: SystemTime,
    ) -> Result<LoginState, StateError> {
        let state = state.filter(|s| !s.is_empty()).ok_or(StateError::Missing)?;
        let plain = self.sealer.open_at(state, now).map_err(|e| match e {
            SealedError::Expired => StateError::Expired,
            SealedError::Malformed | SealedError::Invalid => StateError::Invalid,
        })?;
        let login: LoginState = serde_json::from_slice(&plain).map_err(|_| StateError::Invalid)?;
        let cookie = self.cookie.find(cookies).ok_or(StateError::NoCsrfCookie)?;
        if !same(cookie.as_bytes(), login.csrf.as_bytes()) {
            return Err(StateError::CsrfMismatch);
        }
        Ok(login)
    }
}

fn is_base64url(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

/// Compares digests, so the time taken says nothing about the expected value.
fn same(a: &[u8], b: &[u8]) -> bool {
    let digest = |v: &[u8]| ring::digest::digest(&ring::digest::SHA256, v);
    digest(a).as_ref() == digest(b).as_ref()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> CookieOptions {
        CookieOptions {
            name: "_portcullis".into(),
            secret: portcullis_config::Secret::new([7; 32]),
            secret_generated: false,
            expire: Duration::from_secs(3600),
            domain: Some("example.com".into()),
            same_site: SameSite::Strict,
            http_only: true,
            secure: true,
        }
    }

    #[test]
    fn a_state_opens_only_with_its_csrf_cookie_and_in_time() {
        let codec = StateCodec::new(&options());
        let now = SystemTime::now();
        let csrf = codec.csrf_value([]);
        let login = LoginState::new(
            csrf.clone(),
            Url::parse("https://app.example.com/x").unwrap(),
            false,
        );
        let sealed = codec.seal(&login, now);
        let cookie = format!("{CSRF_COOKIE}={csrf}");
        assert_eq!(codec.open(Some(&sealed), [cookie.as_str()], now), Ok(login));
        assert_eq!(
            codec.open(Some(&sealed), [], now),
            Err(StateError::NoCsrfCookie)
        );
        let other = format!("{CSRF_COOKIE}={}", random_token());
        assert_eq!(
            codec.open(Some(&sealed), [other.as_str()], now),
            Err(StateError::CsrfMismatch)
        );
        assert_eq!(
            codec.open(Some(&sealed), [cookie.as_str()], now + STATE_VALID_FOR * 2),
            Err(StateError::Expired)
        );
        let mut tampered = sealed.into_bytes();
        tampered[20] = if tampered[20] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).unwrap();
        assert_eq!(
            codec.open(Some(&tampered), [cookie.as_str()], now),
            Err(StateError::Invalid)
        );
        assert_eq!(
            codec.open(None, [cookie.as_str()], now),
            Err(StateError::Missing)
        );
        // An existing CSRF cookie is kept (two tabs); garbage is replaced.
        assert_eq!(codec.csrf_value([cookie.as_str()]), csrf);
        let bad = format!("{CSRF_COOKIE}=x");
        assert_ne!(codec.csrf_value([bad.as_str()]), "x");
    }

    #[test]
    fn the_csrf_cookie_is_lax_host_only_and_short_lived() {
        let codec = StateCodec::new(&options());
        let set = codec.set_cookie("v");
        assert!(set.starts_with("_portcullis_csrf=v; Path=/"), "{set}");
        assert!(
            set.contains("; Secure") && set.contains("; HttpOnly"),
            "{set}"
        );
        assert!(
            set.contains("SameSite=Lax") && !set.contains("Domain"),
            "{set}"
        );
        assert!(
            set.contains(&format!("Max-Age={}", STATE_VALID_FOR.as_secs())),
            "{set}"
        );
    }
}
