//! When each session needs the refresh manager next: a refresh shortly before its access
//! token expires, or deletion once the session itself has expired.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, SystemTime};

use portcullis_proto::Session;

/// Refresh at most this long before the access token expires…
const REFRESH_MARGIN: Duration = Duration::from_secs(60);
// …and at the latest halfway through its lifetime, so short-lived tokens refresh in time.

/// Sessions by the time they need attention.
#[derive(Debug, Default)]
pub(super) struct Schedule {
    by_time: BTreeSet<(SystemTime, String)>,
    by_id: HashMap<String, SystemTime>,
}

/// When `session` needs attention: the earlier of its refresh time (when it has a refresh
/// token and an expiring access token) and its own expiry.
pub(super) fn due(session: &Session) -> SystemTime {
    let refresh = session
        .oauth_token
        .as_ref()
        .filter(|t| !t.refresh_token.is_empty())
        .and_then(|t| t.expires_at)
        .map(|expires| {
            let since = session.refreshed_at.unwrap_or(session.issued_at);
            let lifetime = expires.duration_since(since).unwrap_or_default();
            expires - REFRESH_MARGIN.min(lifetime / 2)
        });
    refresh.map_or(session.expires_at, |r| r.min(session.expires_at))
}

// === impl Schedule ===

impl Schedule {
    /// Schedules (or reschedules) `id` at `at`.
    pub(super) fn set(&mut self, id: &str, at: SystemTime) {
        self.remove(id);
        self.by_time.insert((at, id.to_owned()));
        self.by_id.insert(id.to_owned(), at);
    }

    /// Forgets `id`.
    pub(super) fn remove(&mut self, id: &str) {
        if let Some(at) = self.by_id.remove(id) {
            self.by_time.remove(&(at, id.to_owned()));
        }
    }

    /// Forgets everything (the watch restarts from a snapshot).
    pub(super) fn clear(&mut self) {
        self.by_time.clear();
        self.by_id.clear();
    }

    /// The earliest time anything is due.
    pub(super) fn next(&self) -> Option<SystemTime> {
        self.by_time.first().map(|(at, _)| *at)
    }

    /// Removes and returns every id due at `now`.
    pub(super) fn take_due(&mut self, now: SystemTime) -> Vec<String> {
        let mut due = Vec::new();
        while let Some((at, _)) = self.by_time.first() {
            if *at > now {
                break;
            }
            let (_, id) = self.by_time.pop_first().expect("checked above");
            self.by_id.remove(&id);
            due.push(id);
        }
        due
    }

    /// How many sessions are scheduled.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.by_id.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use portcullis_proto::{OAuthToken, SecretString};

    fn session(lifetime: u64, refresh_token: &str) -> Session {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        Session {
            id: "s".into(),
            user_id: "u".into(),
            issued_at: now,
            expires_at: now + Duration::from_secs(3600 * 14),
            refreshed_at: None,
            claims: Default::default(),
            oauth_token: Some(OAuthToken {
                access_token: SecretString::new("a"),
                refresh_token: SecretString::new(refresh_token),
                token_type: "Bearer".into(),
                expires_at: Some(now + Duration::from_secs(lifetime)),
            }),
            id_token: SecretString::default(),
        }
    }

    #[test]
    fn refresh_a_minute_early_or_halfway_for_short_tokens() {
        let s = session(3600, "r");
        assert_eq!(due(&s), s.issued_at + Duration::from_secs(3540));
        let s = session(10, "r");
        assert_eq!(due(&s), s.issued_at + Duration::from_secs(5));
        let s = session(10, "");
        assert_eq!(due(&s), s.expires_at, "no refresh token: only expiry");
    }

    #[test]
    fn due_ids_come_out_in_time_order_once() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(100);
        let mut schedule = Schedule::default();
        schedule.set("b", t + Duration::from_secs(2));
        schedule.set("a", t + Duration::from_secs(1));
        schedule.set("c", t + Duration::from_secs(9));
        schedule.set("c", t + Duration::from_secs(3));
        assert_eq!(schedule.next(), Some(t + Duration::from_secs(1)));
        assert_eq!(
            schedule.take_due(t + Duration::from_secs(3)),
            ["a", "b", "c"]
        );
        assert_eq!(schedule.len(), 0);
        assert!(schedule.take_due(t + Duration::from_secs(10)).is_empty());
    }
}
