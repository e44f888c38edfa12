//! Request ids: the client's `X-Request-Id` when it is sane (1–128 characters of
//! `A-Z a-z 0-9 - _ . : +`, so it is safe in logs, headers and HTML), else a new one — a
//! random per-process prefix and a counter: unique and cheap. The id goes to the upstream,
//! to authorize (and so into the decision line), and back to the client.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use http::HeaderMap;

use crate::headers::REQUEST_ID;

/// The longest client-sent id taken as is.
const MAX_LEN: usize = 128;

/// The request's id: the client's `X-Request-Id` if sane, else [`next`].
pub(crate) fn of(headers: &HeaderMap) -> String {
    headers
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|id| is_sane(id))
        .map_or_else(next, str::to_owned)
}

/// True for an id safe to log and echo.
pub(crate) fn is_sane(id: &str) -> bool {
    (1..=MAX_LEN).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':' | b'+'))
}

/// A new request id: 32 hex digits.
pub(crate) fn next() -> String {
    static PREFIX: OnceLock<u64> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let prefix = *PREFIX.get_or_init(|| {
        use ring::rand::SecureRandom as _;
        let mut bytes = [0u8; 8];
        // Without randomness the ids are still unique within the process.
        let _ = ring::rand::SystemRandom::new().fill(&mut bytes);
        u64::from_le_bytes(bytes)
    });
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{prefix:016x}{n:016x}")
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    #[test]
    fn ids_are_unique_and_fixed_width() {
        let (a, b) = (super::next(), super::next());
        assert_ne!(a, b);
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
    }

    #[test]
    fn sane_client_ids_are_kept_and_others_replaced() {
        let mut headers = HeaderMap::new();
        headers.insert(REQUEST_ID, HeaderValue::from_static("abc-123_x.y:z+1"));
        assert_eq!(of(&headers), "abc-123_x.y:z+1");
        for bad in ["", "<script>", "a b", "x\"y", &"a".repeat(129)] {
            headers.insert(REQUEST_ID, HeaderValue::from_str(bad).unwrap());
            let id = of(&headers);
            assert_ne!(id, bad);
            assert_eq!(id.len(), 32, "replaced by a fresh id");
        }
    }
}
