//! Token endpoint client authentication: `client_secret_basic` (RFC 6749 §2.3.1: id and secret
//! form-urlencoded, then Base64) or `client_secret_post`, never both; secrets compared in
//! constant time.

use axum::http::{HeaderMap, header};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::oauth::{Params, TokenError};
use super::{DevClient, DevIdp};

/// The registered client that authenticated this request.
pub(super) fn authenticate<'a>(
    idp: &'a DevIdp,
    headers: &HeaderMap,
    params: &Params,
) -> Result<&'a DevClient, TokenError> {
    let basic = basic_credentials(headers);
    let fail = TokenError::Client {
        basic: basic.is_some(),
    };
    let (id, secret) = match (basic, params.get("client_secret")) {
        (Some(_), Some(_)) => {
            return Err(TokenError::Request(
                "use one client authentication method, not two".into(),
            ));
        }
        (Some(Some((id, secret))), None) => {
            if params.get("client_id").is_some_and(|body| body != id) {
                return Err(fail);
            }
            (id, secret)
        }
        (Some(None), None) => return Err(fail),
        (None, Some(secret)) => match params.get("client_id") {
            Some(id) => (id.to_owned(), secret.to_owned()),
            None => return Err(fail),
        },
        (None, None) => return Err(fail),
    };
    let client = idp.client(&id);
    let expected = client.map_or(&[][..], |c| c.secret.as_bytes());
    // Compare even for an unknown client, so the answer takes as long either way.
    let matches = idp.secrets.eq(expected, secret.as_bytes());
    match client {
        Some(client) if matches && !client.secret.is_empty() => Ok(client),
        _ => Err(fail),
    }
}

/// `None`: no Basic credentials; `Some(None)`: malformed ones; else (id, secret), decoded.
fn basic_credentials(headers: &HeaderMap) -> Option<Option<(String, String)>> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, credentials) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = STANDARD.decode(credentials.trim()).ok();
    let text = decoded.and_then(|bytes| String::from_utf8(bytes).ok());
    Some(text.and_then(|text| {
        let (id, secret) = text.split_once(':')?;
        Some((form_decode(id)?, form_decode(secret)?))
    }))
}

/// `application/x-www-form-urlencoded` decoding of one value (`+` is a space).
fn form_decode(text: &str) -> Option<String> {
    let mut out = Vec::with_capacity(text.len());
    let mut bytes = text.bytes();
    while let Some(b) = bytes.next() {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = [bytes.next()?, bytes.next()?];
                let hex = std::str::from_utf8(&hex).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
            }
            b => out.push(b),
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;
    use url::Url;

    use super::*;

    fn idp() -> DevIdp {
        let client = DevClient {
            id: "my app".into(),
            secret: "s3cr%t+".into(),
            redirect_uris: vec![],
            post_logout_redirect_uris: vec![],
        };
        DevIdp::new(Url::parse("http://idp").unwrap(), vec![client])
    }

    fn basic(id_secret: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        let value = format!("Basic {}", STANDARD.encode(id_secret));
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(&value).unwrap(),
        );
        headers
    }

    #[test]
    fn basic_credentials_are_form_decoded() {
        let idp = idp();
        let none = Params::parse(b"");
        let ok = authenticate(&idp, &basic("my+app:s3cr%25t%2B"), &none).unwrap();
        assert_eq!(ok.id, "my app");
        let wrong = authenticate(&idp, &basic("my+app:s3cr%25t"), &none);
        assert_eq!(wrong.err(), Some(TokenError::Client { basic: true }));
        let garbage = authenticate(&idp, &basic("no-colon"), &none);
        assert_eq!(garbage.err(), Some(TokenError::Client { basic: true }));
    }

    #[test]
    fn post_credentials_work_but_not_together_with_basic() {
        let idp = idp();
        let post = Params::parse(b"client_id=my+app&client_secret=s3cr%25t%2B");
        assert!(authenticate(&idp, &HeaderMap::new(), &post).is_ok());
        let both = authenticate(&idp, &basic("my+app:s3cr%25t%2B"), &post);
        assert!(matches!(both, Err(TokenError::Request(_))));
        let unknown = Params::parse(b"client_id=other&client_secret=s3cr%25t%2B");
        assert!(authenticate(&idp, &HeaderMap::new(), &unknown).is_err());
        let none = authenticate(&idp, &HeaderMap::new(), &Params::parse(b"client_id=my+app"));
        assert_eq!(none.err(), Some(TokenError::Client { basic: false }));
    }

    #[test]
    fn form_decoding_refuses_broken_escapes() {
        assert_eq!(form_decode("a+b%2F").as_deref(), Some("a b/"));
        assert_eq!(form_decode("%zz"), None);
        assert_eq!(form_decode("%2"), None);
    }
}
