//! The records roles share through the databroker: sessions and users.
//!
//! # Naming in the databroker
//! A record's `type` is the protobuf full name of its message and its data is that message
//! packed in a `google.protobuf.Any` whose type URL is `type.googleapis.com/<full name>`:
//!
//! | record | `type` | id | data type URL |
//! |---|---|---|---|
//! | [`Session`] | [`Session::TYPE`] | the session id | [`Session::TYPE_URL`] |
//! | [`User`] | [`User::TYPE`] | the user id (IdP `sub`) | [`User::TYPE_URL`] |
//!
//! The databroker indexes sessions by `user_id` (see `portcullis_databroker::index`), so
//! "every session of a user" is one lookup.
//!
//! These types know nothing of prost: [`Session::encode`], [`Session::decode`] and the
//! [`User`] twins convert in one private module.

use std::fmt;
use std::time::SystemTime;

use serde_json::{Map, Value};

/// A signed-in session (`portcullis.session.v1.Session`).
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    /// Random and unguessable; the record id.
    pub id: String,
    /// The [`User`] record id.
    pub user_id: String,
    /// When the session was created.
    pub issued_at: SystemTime,
    /// After this instant the session is invalid, whatever the cookie says.
    pub expires_at: SystemTime,
    /// When the OAuth tokens were last refreshed.
    pub refreshed_at: Option<SystemTime>,
    /// The IdP's ID-token claims.
    pub claims: Map<String, Value>,
    /// The IdP's OAuth tokens (authenticate's refresh manager uses them).
    pub oauth_token: Option<OAuthToken>,
    /// The raw ID token.
    pub id_token: SecretString,
}

/// OAuth tokens from the IdP. `Debug` prints no token.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OAuthToken {
    /// The access token.
    pub access_token: SecretString,
    /// The refresh token.
    pub refresh_token: SecretString,
    /// Usually `Bearer`.
    pub token_type: String,
    /// When the access token expires.
    pub expires_at: Option<SystemTime>,
}

/// A user (`portcullis.user.v1.User`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct User {
    /// The IdP's `sub`; the record id.
    pub id: String,
    /// The email address (empty when unknown).
    pub email: String,
    /// The display name (empty when unknown).
    pub name: String,
    /// Group ids or names.
    pub groups: Vec<String>,
    /// Userinfo / ID-token claims.
    pub claims: Map<String, Value>,
}

/// A string that must never reach a log: `Debug` prints `[redacted]` (or `""` when empty).
#[derive(Clone, PartialEq, Eq, Default)]
pub struct SecretString(String);

/// A record's data is not the message its type says.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordDecodeError {
    /// The data's type URL is not the expected one.
    #[error("expected data of type {expected}, got {actual:?}")]
    WrongType {
        /// The type URL wanted.
        expected: &'static str,
        /// The type URL found.
        actual: String,
    },
    /// The bytes are not a valid message.
    #[error("undecodable {0} data: {1}")]
    Invalid(&'static str, prost::DecodeError),
}

// === impl Session ===

impl Session {
    /// The databroker record type of sessions.
    pub const TYPE: &'static str = "portcullis.session.v1.Session";
    /// The type URL of session record data.
    pub const TYPE_URL: &'static str = "type.googleapis.com/portcullis.session.v1.Session";
    /// The indexed field that finds a user's sessions.
    pub const USER_ID_FIELD: &'static str = "user_id";

    /// True once `now` has reached `expires_at`.
    pub fn is_expired(&self, now: SystemTime) -> bool {
        now >= self.expires_at
    }
}

// === impl User ===

impl User {
    /// The databroker record type of users.
    pub const TYPE: &'static str = "portcullis.user.v1.User";
    /// The type URL of user record data.
    pub const TYPE_URL: &'static str = "type.googleapis.com/portcullis.user.v1.User";
}

// === impl SecretString ===

impl SecretString {
    /// Wraps a secret.
    pub fn new(value: impl Into<String>) -> SecretString {
        SecretString(value.into())
    }

    /// The secret itself. Callers must not log it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            f.write_str("\"\"")
        } else {
            f.write_str("[redacted]")
        }
    }
}

pub use crate::convert::session_user_id;
