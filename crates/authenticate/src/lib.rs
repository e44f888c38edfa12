//! The portcullis authenticate role (design §4): OIDC login with the identity provider,
//! sessions in the databroker, sign-out, and the token refresh manager.
//!
//! ```text
//! route host ──302 signed──▶ /.portcullis/sign_in ──302──▶ IdP authorize (code, PKCE S256,
//!                                 │ live session?            nonce, sealed state + CSRF cookie)
//!                                 └──────────────┐                 │
//! IdP ──302──▶ /oauth2/callback: state + CSRF ─▶ code exchange ─▶ ID token ─▶ userinfo
//!              ─▶ session + user records ─▶ cookie ─▶ 302 route host /.portcullis/callback
//!                                                     (sealed handoff) or, programmatic,
//!                                                     loopback ?portcullis_token=<token>
//! ```
//!
//! - [`Authenticate::new`] builds the role from a validated configuration and a
//!   [`Storage`](portcullis_databroker::Storage); discovery at `idp_provider_url` happens at
//!   the first login and is cached.
//! - [`Authenticate::router`] serves the authenticate host's endpoints (see
//!   [`SIGN_IN_PATH`], [`CALLBACK_PATH`], [`SIGN_OUT_PATH`], [`SIGNED_OUT_PATH`],
//!   [`USER_PATH`]); every failure is a 4xx/5xx page with a short message, the cause logged.
//! - [`Authenticate::run_refresh`] is the refresh manager, active on one replica at a time.
//!
//! Cookies on the authenticate host: `cookie_name` (the sealed session handle, as
//! `cookie_*` configure it) and [`CSRF_COOKIE`] (binds a login's `state` to the browser;
//! host-only, `SameSite=Lax`, 10 minutes). Tokens never reach the browser or the logs.
//!
//! Programmatic login: a client listening on a loopback port asks a route host for
//! `/.portcullis/api/v1/login?redirect_uri=http://127.0.0.1:<port>/<path>`, opens the signed
//! sign-in URL it returns (with `programmatic=true`) in a browser, and after login the browser
//! is sent to `http://127.0.0.1:<port>/<path>?portcullis_token=<token>` ([`TOKEN_PARAM`]);
//! the client then sends `Authorization: Bearer Portcullis-<token>`.

mod authenticate;
mod browser;
mod error;
mod handlers;
mod idp;
mod login_state;
mod pages;
mod random;
mod records;
mod redirect;
mod refresh;
mod rescue;

pub use authenticate::{Authenticate, CALLBACK_PATH};
pub use error::AuthenticateError;
pub use handlers::{SIGN_IN_PATH, SIGN_OUT_PATH, SIGNED_OUT_PATH, TOKEN_PARAM, USER_PATH};
pub use login_state::{CSRF_COOKIE, STATE_VALID_FOR};
pub use refresh::REFRESH_LEASE;
