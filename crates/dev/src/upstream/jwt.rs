//! Decoding (never verifying) the identity JWT for display.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

/// A JWT split into its parts, or why it could not be.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Decoded {
    /// The JOSE header and the claims, as sent.
    Parts {
        header: Map<String, Value>,
        claims: Map<String, Value>,
    },
    /// Not a JWS compact serialization with JSON header and claims.
    Malformed(JwtError),
}

/// Why a JWT could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(super) enum JwtError {
    #[error("a JWT has three dot-separated parts; this has {0}")]
    Parts(usize),
    #[error("the {0} is not base64url")]
    Base64(&'static str),
    #[error("the {0} is not a JSON object")]
    Json(&'static str),
}

/// The parts of `token`, unverified.
pub(super) fn decode(token: &str) -> Decoded {
    match parts(token.trim()) {
        Ok((header, claims)) => Decoded::Parts { header, claims },
        Err(error) => Decoded::Malformed(error),
    }
}

/// A JSON object of a JWT.
type Object = Map<String, Value>;

fn parts(token: &str) -> Result<(Object, Object), JwtError> {
    let pieces: Vec<&str> = token.split('.').collect();
    let [header, claims, _signature] = pieces[..] else {
        return Err(JwtError::Parts(pieces.len()));
    };
    Ok((object(header, "header")?, object(claims, "claims")?))
}

fn object(part: &str, what: &'static str) -> Result<Object, JwtError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part.trim_end_matches('='))
        .map_err(|_| JwtError::Base64(what))?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(JwtError::Json(what)),
    }
}

// === impl Decoded ===

impl Decoded {
    /// The `email` claim, when it is a string.
    pub(super) fn email(&self) -> Option<String> {
        match self {
            Decoded::Parts { claims, .. } => claims.get("email")?.as_str().map(str::to_owned),
            Decoded::Malformed(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(json: &str) -> String {
        URL_SAFE_NO_PAD.encode(json)
    }

    #[test]
    fn a_jwt_is_split_into_header_and_claims() {
        let token = format!(
            "{}.{}.sig",
            b64(r#"{"alg":"ES256"}"#),
            b64(r#"{"email":"a@b"}"#)
        );
        let decoded = decode(&token);
        assert_eq!(decoded.email().as_deref(), Some("a@b"));
        let Decoded::Parts { header, .. } = decoded else {
            panic!("decoded: {decoded:?}")
        };
        assert_eq!(header["alg"], "ES256");
    }

    #[test]
    fn malformed_tokens_say_why() {
        assert_eq!(decode("a.b"), Decoded::Malformed(JwtError::Parts(2)));
        assert_eq!(
            decode("!!.e30.x"),
            Decoded::Malformed(JwtError::Base64("header"))
        );
        let not_object = format!("{}.{}.x", b64("{}"), b64("[1]"));
        assert_eq!(
            decode(&not_object),
            Decoded::Malformed(JwtError::Json("claims"))
        );
    }
}
