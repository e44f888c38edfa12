//! The cluster's shared secret.

use std::fmt;

/// The secret every role of one cluster shares (`shared_secret`, 32 bytes).
///
/// It signs the JWTs that authenticate calls between roles. `Debug` prints
/// `[redacted]`, so the value cannot leak into logs through a derived `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct SharedSecret(Vec<u8>);

// === impl SharedSecret ===

impl SharedSecret {
    /// Wraps raw secret bytes. Any length is accepted; the configuration
    /// requires 32.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        Self(bytes.into())
    }

    /// The raw bytes, for key derivation and signing.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl From<[u8; 32]> for SharedSecret {
    fn from(bytes: [u8; 32]) -> Self {
        Self(bytes.to_vec())
    }
}

impl fmt::Debug for SharedSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted() {
        let secret = SharedSecret::from([7u8; 32]);
        assert_eq!(format!("{secret:?}"), "[redacted]");
        assert_eq!(secret.expose(), &[7u8; 32]);
    }
}
