//! The session token of a request, from the same three places authorize reads it (design
//! §4): `X-Portcullis-Authorization: [Bearer ][Portcullis-]<token>`, `Authorization: Bearer
//! Portcullis-<token>`, or the `cookie_name` cookie.

use http::HeaderMap;
use http::header::{AUTHORIZATION, COOKIE};

/// The session token `headers` carry, if any.
pub(crate) fn token<'a>(headers: &'a HeaderMap, cookie_name: &str) -> Option<&'a str> {
    if let Some(value) = headers
        .get("x-portcullis-authorization")
        .and_then(|v| v.to_str().ok())
    {
        let value = value.trim();
        let value = value.strip_prefix("Bearer ").unwrap_or(value).trim_start();
        let value = value.strip_prefix("Portcullis-").unwrap_or(value);
        if !value.is_empty() {
            return Some(value);
        }
    }
    if let Some(token) = headers
        .get_all(AUTHORIZATION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.trim().strip_prefix("Bearer Portcullis-"))
    {
        return Some(token.trim());
    }
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            (name.trim() == cookie_name).then(|| value.trim().trim_matches('"'))
        })
        .filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn tokens_come_from_the_three_places_in_order() {
        let mut h = HeaderMap::new();
        h.append(COOKIE, HeaderValue::from_static("a=1; _portcullis=C"));
        assert_eq!(token(&h, "_portcullis"), Some("C"));
        h.append(
            AUTHORIZATION,
            HeaderValue::from_static("Bearer Portcullis-B"),
        );
        assert_eq!(token(&h, "_portcullis"), Some("B"));
        h.append(
            "x-portcullis-authorization",
            HeaderValue::from_static("Bearer Portcullis-X"),
        );
        assert_eq!(token(&h, "_portcullis"), Some("X"));
        assert_eq!(token(&HeaderMap::new(), "_portcullis"), None);
    }
}
