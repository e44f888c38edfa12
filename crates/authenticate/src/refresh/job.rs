//! Refreshing one session: the refresh-token grant, then the session and user records.

use std::time::{Duration, SystemTime};

use crate::Authenticate;
use crate::idp::IdpError;
use crate::idp::error_chain;
use crate::records;

use super::schedule::due;

/// OAuth errors after which a refresh token will never work again.
const PERMANENT: &[&str] = &["invalid_grant", "unauthorized_client", "invalid_scope"];
/// Retry delays after transient failures (IdP or databroker away).
const RETRY_MIN: Duration = Duration::from_secs(2);
const RETRY_MAX: Duration = Duration::from_secs(5 * 60);

/// What the manager does next with the session.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Outcome {
    /// Written or deleted (or gone): the watch brings its next state.
    Done,
    /// Not due after all: look again then.
    At(SystemTime),
    /// A transient failure: try again after a backoff.
    Retry,
}

/// Refreshes (or, once expired, deletes) the session `id`.
pub(super) async fn refresh(auth: &Authenticate, id: &str) -> Outcome {
    match attempt(auth, id).await {
        Ok(outcome) => outcome,
        Err(error) => {
            portcullis_telemetry::metrics().session_refresh("failure");
            tracing::warn!(session = %short(id), %error, "session refresh failed; will retry");
            Outcome::Retry
        }
    }
}

/// The backoff before retry number `attempt` (1-based).
pub(super) fn retry_delay(attempt: u32) -> Duration {
    RETRY_MIN
        .saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1)))
        .min(RETRY_MAX)
}

async fn attempt(auth: &Authenticate, id: &str) -> Result<Outcome, String> {
    let storage = &*auth.storage;
    let now = SystemTime::now();
    let Some((session, version)) = records::read_session(storage, id)
        .await
        .map_err(|e| error_chain(&e))?
    else {
        return Ok(Outcome::Done);
    };
    if session.is_expired(now) {
        records::delete_session(storage, id)
            .await
            .map_err(|e| error_chain(&e))?;
        tracing::info!(session = %short(id), user = %session.user_id, "expired session deleted");
        return Ok(Outcome::Done);
    }
    let at = due(&session);
    if at > now {
        return Ok(Outcome::At(at));
    }
    let Some(refresh_token) = session
        .oauth_token
        .as_ref()
        .map(|t| t.refresh_token.expose().to_owned())
        .filter(|t| !t.is_empty())
    else {
        return Ok(Outcome::At(session.expires_at));
    };

    let login = match auth
        .idp
        .refresh(&refresh_token, &session.user_id, now)
        .await
    {
        Ok(login) => login,
        Err(IdpError::Refused { code }) if PERMANENT.contains(&code.as_str()) => {
            records::delete_session(storage, id)
                .await
                .map_err(|e| error_chain(&e))?;
            portcullis_telemetry::metrics().session_refresh("revoked");
            tracing::info!(session = %short(id), user = %session.user_id, %code, "refresh refused for good; session deleted");
            return Ok(Outcome::Done);
        }
        Err(error) => return Err(error.to_string()),
    };

    // Do not bring back a session signed out (or rewritten) while the IdP answered. The
    // databroker has no conditional put, so a sign-out in the instant between this read and
    // the write below would be undone; the window is one round trip.
    match records::read_session(storage, id)
        .await
        .map_err(|e| error_chain(&e))?
    {
        Some((_, current)) if current == version => {}
        _ => return Ok(Outcome::Done),
    }
    let user_id = session.user_id.clone();
    let (session, user) = records::refreshed(session, &login, now);
    records::write(storage, &session, &user)
        .await
        .map_err(|e| error_chain(&e))?;
    portcullis_telemetry::metrics().session_refresh("success");
    tracing::info!(session = %short(id), user = %user_id, "session refreshed");
    Ok(Outcome::Done)
}

/// A session id prefix for logs (enough to correlate, not to use).
fn short(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_to_a_ceiling() {
        assert_eq!(retry_delay(1), Duration::from_secs(2));
        assert_eq!(retry_delay(2), Duration::from_secs(4));
        assert_eq!(retry_delay(40), RETRY_MAX);
    }
}
