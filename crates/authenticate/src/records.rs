//! Session and user records: built from what a login or refresh learned, written to and read
//! from the databroker.

use std::time::{Duration, SystemTime};

use portcullis_databroker::{Data, Record, RecordWrite, Storage, StorageError};
use portcullis_proto::{OAuthToken, SecretString, Session, User};
use serde_json::{Map, Value};

use crate::idp::{Login, Tokens};
use crate::random::random_token;

/// ID-token claims about the token itself, not the user: kept on the session, left off the
/// user record.
const PROTOCOL_CLAIMS: &[&str] = &[
    "iss",
    "aud",
    "exp",
    "iat",
    "nbf",
    "nonce",
    "at_hash",
    "c_hash",
    "s_hash",
    "auth_time",
    "azp",
    "sid",
    "jti",
    "acr",
    "amr",
];

/// The session and user records of a fresh login, the session valid for `lifetime`.
pub(crate) fn from_login(login: &Login, now: SystemTime, lifetime: Duration) -> (Session, User) {
    let session = Session {
        id: random_token(),
        user_id: login.subject.clone(),
        issued_at: now,
        expires_at: now + lifetime,
        refreshed_at: None,
        claims: login.id_claims.clone(),
        oauth_token: Some(oauth_token(&login.tokens, None)),
        id_token: SecretString::new(login.id_token.clone().unwrap_or_default()),
    };
    (session, user(login))
}

/// `session` after a refresh: new tokens (the old refresh token when the IdP sent none),
/// `refreshed_at`, and the new ID token and its claims when there is one.
pub(crate) fn refreshed(mut session: Session, login: &Login, now: SystemTime) -> (Session, User) {
    let old = session.oauth_token.take();
    session.oauth_token = Some(oauth_token(&login.tokens, old.as_ref()));
    session.refreshed_at = Some(now);
    if let Some(id_token) = &login.id_token {
        session.id_token = SecretString::new(id_token.clone());
        session.claims = login.id_claims.clone();
    }
    (session, user(login))
}

fn oauth_token(tokens: &Tokens, old: Option<&OAuthToken>) -> OAuthToken {
    let refresh_token = match &tokens.refresh_token {
        Some(t) => SecretString::new(t.clone()),
        None => old.map(|o| o.refresh_token.clone()).unwrap_or_default(),
    };
    OAuthToken {
        access_token: SecretString::new(tokens.access_token.clone()),
        refresh_token,
        token_type: tokens.token_type.clone(),
        expires_at: tokens.expires_at,
    }
}

/// The user: ID-token claims about the user, overlaid with userinfo.
fn user(login: &Login) -> User {
    let mut claims: Map<String, Value> = login
        .id_claims
        .iter()
        .filter(|(k, _)| !PROTOCOL_CLAIMS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if let Some(info) = &login.userinfo {
        claims.extend(info.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    let text = |name: &str| {
        claims
            .get(name)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let groups = match claims.get("groups") {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|g| match g {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            })
            .collect(),
        Some(Value::String(s)) => vec![s.clone()],
        _ => Vec::new(),
    };
    User {
        id: login.subject.clone(),
        email: text("email"),
        name: text("name"),
        groups,
        claims,
    }
}

/// Writes both records in one batch; returns the session record's version.
pub(crate) async fn write(
    storage: &dyn Storage,
    session: &Session,
    user: &User,
) -> Result<u64, StorageError> {
    let written = storage
        .put(vec![
            RecordWrite::put(User::TYPE, &user.id, data(User::TYPE_URL, user.encode())),
            RecordWrite::put(
                Session::TYPE,
                &session.id,
                data(Session::TYPE_URL, session.encode()),
            ),
        ])
        .await?;
    Ok(written
        .iter()
        .find(|r| r.kind == Session::TYPE)
        .map_or(0, |r| r.version))
}

/// Deletes the session record (no-op when it is gone already).
pub(crate) async fn delete_session(storage: &dyn Storage, id: &str) -> Result<(), StorageError> {
    storage
        .put(vec![RecordWrite::delete(Session::TYPE, id)])
        .await
        .map(drop)
}

/// The live session `id` and its record version; `None` when absent or unreadable.
pub(crate) async fn read_session(
    storage: &dyn Storage,
    id: &str,
) -> Result<Option<(Session, u64)>, StorageError> {
    Ok(storage
        .get(Session::TYPE, id)
        .await?
        .and_then(|r| decode_session(&r).map(|s| (s, r.version))))
}

/// The user record `id`, if readable.
pub(crate) async fn read_user(
    storage: &dyn Storage,
    id: &str,
) -> Result<Option<User>, StorageError> {
    Ok(storage.get(User::TYPE, id).await?.and_then(|r| {
        User::decode(&r.data.type_url, &r.data.value)
            .inspect_err(|error| tracing::warn!(%error, user_id = id, "unreadable user record"))
            .ok()
    }))
}

/// Decodes a session record, logging (not failing) when it is not one.
pub(crate) fn decode_session(record: &Record) -> Option<Session> {
    Session::decode(&record.data.type_url, &record.data.value)
        .inspect_err(|error| {
            tracing::warn!(%error, session_id = %record.id, "unreadable session record");
        })
        .ok()
}

fn data(type_url: &str, value: Vec<u8>) -> Data {
    Data {
        type_url: type_url.to_owned(),
        value,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn login() -> Login {
        let claims = |v: Value| v.as_object().unwrap().clone();
        Login {
            subject: "alice".into(),
            id_token: Some("header.payload.sig".into()),
            id_claims: claims(
                json!({"sub": "alice", "iss": "https://idp", "nonce": "n", "email": "old@example.com"}),
            ),
            userinfo: Some(claims(
                json!({"sub": "alice", "email": "alice@example.com", "name": "Alice", "groups": ["admins", 7]}),
            )),
            tokens: Tokens {
                access_token: "at".into(),
                refresh_token: Some("rt".into()),
                token_type: "Bearer".into(),
                expires_at: None,
            },
        }
    }

    #[test]
    fn a_login_makes_a_session_and_a_user() {
        let now = SystemTime::now();
        let (session, user) = from_login(&login(), now, Duration::from_secs(60));
        assert!(session.id.len() >= 43);
        assert_eq!(session.user_id, "alice");
        assert_eq!(session.expires_at, now + Duration::from_secs(60));
        assert_eq!(session.claims["nonce"], "n");
        assert_eq!(
            session.oauth_token.as_ref().unwrap().refresh_token.expose(),
            "rt"
        );
        assert_eq!(user.email, "alice@example.com");
        assert_eq!(user.name, "Alice");
        assert_eq!(user.groups, ["admins", "7"]);
        assert!(!user.claims.contains_key("iss") && !user.claims.contains_key("nonce"));
    }

    #[test]
    fn a_refresh_keeps_the_refresh_token_when_none_comes_back() {
        let now = SystemTime::now();
        let (session, _) = from_login(&login(), now, Duration::from_secs(60));
        let mut again = login();
        again.tokens.access_token = "at2".into();
        again.tokens.refresh_token = None;
        again.id_token = None;
        let (session, _) = refreshed(session, &again, now);
        let token = session.oauth_token.unwrap();
        assert_eq!(token.access_token.expose(), "at2");
        assert_eq!(token.refresh_token.expose(), "rt");
        assert_eq!(session.refreshed_at, Some(now));
        assert_eq!(session.id_token.expose(), "header.payload.sig");
    }
}
