//! Request ids: a random per-process prefix and a counter — unique, cheap, and never taken
//! from the client (a client-sent `X-Request-Id` is replaced upstream).

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

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
    #[test]
    fn ids_are_unique_and_fixed_width() {
        let (a, b) = (super::next(), super::next());
        assert_ne!(a, b);
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
    }
}
